"""The roster API for group HR systems (SPEC API-1 … API-3), under /api/v1/, with django-ninja.

Every operation is a thin layer over the services and selectors the pages use (STYLE.md §1): a batch
is opened by enrollment.services.batch_open, a roster imported by rosters.importer, 清册校验 started by
rosters.validation.validation_start, the premium read by plans.selectors.premium_detail_basis. Each
mutating operation asks the batch first (`batch.allows(action)`, SPEC BAT-3) and answers 409 with the
pages' own message when the state refuses, and the service checks again inside its transaction; so
the API can never do what the page would refuse (API-2).

Authentication (API-1): `Authorization: Bearer <token>` only. No session, no CSRF; the portal's
LoginRequiredMiddleware is told these views need no login (api/urls.py), so a request without a valid
token is a 401 problem, never a redirect to the login page. A token sees the batches of its account
for its one enrollment code; any other batch is a 404 (X-4).

Errors (API-3): RFC 9457 problem details (api/problems.py); the OpenAPI document lists them for every
operation (`ProblemDocumentedAPI`).
"""
import datetime as dt
import logging
import re
import time
from typing import Literal

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpResponse
from ninja import Field, NinjaAPI, Path, Query, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer

from enrollment.models import Batch
from enrollment.selectors import batch_number_canonical
from enrollment.services import EnrollmentError, batch_check_action, batch_open
from enrollment.states import BatchAction
from mutualaid.audit import client_ip
from mutualaid.jobs import JobStatus
from mutualaid.middleware import denial_audit
from mutualaid.quotas import quota_message, quota_take, window_count
from plans.selectors import premium_detail_basis
from rosters import importer
from rosters.errors import RosterError, RosterUploadTooLarge
from rosters.importer import problem_message, state_message, too_large_message
from rosters.models import RosterEntry, RosterImport
from rosters.rules import ValidationOutcome, over_age_entries, retired_entries, unmatched_entries
from rosters.selectors import (
    LIST_COLUMNS,
    roster_birth_date_display,
    roster_masked_id,
    roster_name_mismatches,
)
from rosters.validation import validation_is_current, validation_latest, validation_live_outcome, validation_start

from .problems import ApiProblem, problem_response
from .services import IDEMPOTENCY_KEY_PATTERN, IdempotencyBusy, api_idempotent, api_token_authenticate

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 500
ERRORS_PAGE_SIZE = 100  # an import's bad cells per page by default (errors_page_size ≤ MAX_PAGE_SIZE)
PEOPLE_SHOWN = 500  # people listed per finding of 清册校验; `count` says how many there are in all
MAX_ID = 2**31 - 1  # ids in paths: bigger numbers are a 422, never a database error


# --- Authentication and the per-token quota (SPEC API-1, SEC-3) -------------------------------------


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>`: the active ApiToken (services.api_token_authenticate, which
    records the use), then the token's request quota of the minute (API_REQUESTS_PER_MINUTE)."""

    def authenticate(self, request, token):
        api_token = api_token_authenticate(secret=token.strip(), remote_addr=client_ip(request), path=request.path)
        if api_token is None:
            return None
        now = int(time.time())
        window_start = now - now % 60
        count = window_count(f"api:requests:{api_token.pk}:{window_start}", timeout=120)
        if count > settings.API_REQUESTS_PER_MINUTE:
            retry_after = window_start + 60 - now or 1
            raise ApiProblem(429, quota_message(retry_after), headers={"Retry-After": str(retry_after)})
        request.api_token = api_token
        return api_token


class ProblemDocumentedAPI(NinjaAPI):
    """The OpenAPI document with the problem answers of every operation (SPEC API-3): 400, 401, 422,
    429 everywhere, 404 where the path names a batch, and those an operation lists in `x-problems`
    (409, 413, 415); all as `application/problem+json` with the Problem schema."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = PROBLEM_SCHEMA
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                extra = operation.pop("x-problems", [])
                statuses = [400, 401, 422, 429, *extra] + ([404] if "{number}" in path else [])
                responses = operation.setdefault("responses", {})
                for status in sorted(set(statuses)):
                    responses[str(status)] = {
                        "description": PROBLEM_DESCRIPTIONS[status],
                        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                        **({"headers": RETRY_AFTER_HEADER} if status == 429 else {}),
                        **({"headers": WWW_AUTHENTICATE_HEADER} if status == 401 else {}),
                    }
        return schema


PROBLEM_SCHEMA = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `detail` is Chinese, for the user (SPEC API-3).",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"loc": {"type": "array", "items": {}}, "type": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
PROBLEM_DESCRIPTIONS = {
    400: "请求含有不允许的字符（SPEC SEC-5）",
    401: "缺少有效的API令牌",
    404: "批次不存在或不属于本令牌的参保编码",
    409: "批次当前状态不允许此操作（SPEC BAT-3）",
    413: "上传内容过大",
    415: "不支持的内容类型",
    422: "请求内容有误",
    429: "超过配额（SPEC SEC-3），见 Retry-After",
}
RETRY_AFTER_HEADER = {"Retry-After": {"description": "秒数", "schema": {"type": "integer"}}}
WWW_AUTHENTICATE_HEADER = {"WWW-Authenticate": {"schema": {"type": "string"}}}

class ChineseJSONRenderer(JSONRenderer):
    """UTF-8 JSON (RFC 8259's only encoding) with the Chinese as it is, not \\u escapes: readable in a
    log or a terminal."""

    json_dumps_params = {"ensure_ascii": False}


api = ProblemDocumentedAPI(
    renderer=ChineseJSONRenderer(),
    title="上海职工互助保障 参保清册接口",
    version="1",
    description=(
        "供集团人事系统提交参保清册（SPEC API-1 … API-3）。在平台【API令牌】中创建令牌，"
        "以 `Authorization: Bearer <令牌>` 调用；令牌只能访问其参保编码的批次。错误按 RFC 9457 返回。"
    ),
    urls_namespace="api_v1",
    auth=BearerToken(),
    openapi_url="/openapi.json",
    docs_url="/docs",
)


# --- Errors as problem details (SPEC API-3) --------------------------------------------------------


@api.exception_handler(ApiProblem)
def _api_problem(request, exc: ApiProblem):
    if exc.status == 404:
        _denial_audit(request, 404)
    return problem_response(request, exc.status, exc.detail, headers=exc.headers, **exc.extra)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return problem_response(request, 401)


@api.exception_handler(Http404)
def _not_found(request, exc):
    _denial_audit(request, 404)
    return problem_response(request, 404, "批次不存在，或不属于本令牌的参保编码。")


def _denial_audit(request, status: int) -> None:
    """SPEC SEC-6: a token's 404 on a batch is in the audit trail like a page's (user, IP, path; at most
    one entry per account, path and minute: mutualaid.middleware.denial_audit)."""
    token = getattr(request, "api_token", None)
    if token is not None:
        path = "".join(char if char.isprintable() else "?" for char in request.path)[:500]
        denial_audit(user=token.account, path=path, status=status, ip=client_ip(request))


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return problem_response(request, exc.status_code)


# pydantic's error types → what the Chinese detail says about the field.
VALIDATION_WORDS = {
    "missing": "必填",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "json_invalid": "不是有效的JSON",
    "string_type": "须为字符串",
    "model_attributes_type": "须为JSON对象",
    "dict_type": "须为JSON对象",
}


def _field_name(loc) -> str:
    names = [str(part) for part in loc if part not in ("body", "query", "path", "payload")]
    return ".".join(names) or "请求体"


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    errors = [
        {
            "loc": [part if isinstance(part, (str, int)) else str(part) for part in error.get("loc", ())],
            "type": str(error.get("type", "")),
            "message": f"{_field_name(error.get('loc', ()))}：{VALIDATION_WORDS.get(error.get('type'), '取值无效')}",
        }
        for error in exc.errors
    ]
    detail = "；".join(error["message"] for error in errors[:5]) or "请求内容有误。"
    return problem_response(request, 422, detail, errors=errors)


@api.exception_handler(Exception)
def _unexpected(request, exc):
    logger.exception("API error on %s", request.path)
    return problem_response(request, 500)


# --- Schemas ---------------------------------------------------------------------------------------


class ActionOut(Schema):
    action: str = Field(description="BatchAction 值，如 validate")
    label: str = Field(description="页面按钮文字，如 清册校验")


class BatchOut(Schema):
    number: str = Field(description="参保批次号（SPEC BAT-9）", examples=["2025J000123"])
    kind: str = Field(description="参保类型：centralised 集中参保 / instant 即时参保")
    kind_label: str
    state: str = Field(description="状态代码（SPEC BAT-3）")
    state_label: str
    year: int = Field(description="保障年度")
    code: str = Field(description="参保编码")
    unit_name: str
    people: int = Field(description="参保清册人数")
    roster_version: int
    validated: bool = Field(description="最近一次清册校验通过且清册未变动")
    coverage_start: dt.date | None
    coverage_end: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime
    actions: list[ActionOut] = Field(description="当前状态允许的操作（与页面的操作列相同）")


class BatchOpenIn(Schema):
    kind: Literal["centralised", "instant"] = Field(description="centralised 集中参保 / instant 即时参保")


class RowErrorOut(Schema):
    row: int = Field(description="行号（文件的行号；JSON 清册为 rows 中的序号，从 1 起）")
    column: str = Field(description="列名，如 证件号码")
    value: str = Field(description="该格内容（证件号码已打码）")
    reason: str
    message: str = Field(description="页面上的文字，如 第 12 行：证件号码校验位错误（应为 X），请核对后重新导入")


class ImportCountsOut(Schema):
    read: int = Field(description="数据读取")
    imported: int = Field(description="成功导入")
    added: int = Field(description="新增加")
    updated: int = Field(description="修改")
    failed: int = Field(description="导入失败")


class ImportOut(Schema):
    id: int
    batch: str
    source: str
    source_label: str
    file_name: str
    status: str = Field(description="queued / running / done / refused / failed")
    status_label: str
    rows_total: int | None
    rows_done: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    error: str = Field(description="整个文件未导入时的原因")
    summary: str | None = Field(description="完成时页面的结果行")
    counts: ImportCountsOut | None
    errors: list[RowErrorOut] = Field(description="出错的格（完成后），按 errors_page / errors_page_size 分页")
    errors_total: int = Field(description="出错的格共有多少（完成后；未完成时为 0）")
    errors_page: int
    errors_page_size: int


class PersonOut(Schema):
    id: int
    name: str
    id_type: str
    id_number: str = Field(description="证件号码（打码，与页面相同）")


class FindingOut(Schema):
    rule: str = Field(description="规则编号，如 VAL-1")
    title: str
    count: int
    blocking: bool
    details: dict = Field(description="规则的数字（人数、比例等）")
    people: list[PersonOut] = Field(description=f"涉及的人员（最多 {PEOPLE_SHOWN} 人）")


class ValidationOut(Schema):
    id: int
    batch: str
    status: str
    status_label: str
    steps_done: int
    steps_total: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    error: str
    current: bool = Field(description="结果是否对应当前的参保清册（清册变动后须重新校验）")
    blocking: bool | None
    blocking_reasons: list[str]
    findings: list[FindingOut]


class RosterPersonOut(Schema):
    id: int
    name: str
    id_type: str
    id_number: str = Field(description="证件号码（打码，与页面相同）")
    birth_date: str = Field(description="出生日期（身份证只显示年份）")
    is_suggested: bool
    work_status: str
    has_social_security: bool
    coverage_start: dt.date | None
    coverage_end: dt.date | None


class RosterPageOut(Schema):
    page: int
    page_size: int
    total: int
    items: list[RosterPersonOut]


class PremiumLineOut(Schema):
    label: str = Field(description="参加项目")
    standard: str = Field(description="费用标准（元）")
    discount: str = Field(description="优惠金额（元）")
    social_security_people: int
    social_security_amount: str
    other_people: int
    other_amount: str
    amount: str = Field(description="合计费用（元）")


class PersonPlanOut(Schema):
    items: list[str]
    amount: str = Field(description="每人保费（元）")


class PremiumOut(Schema):
    batch: str
    confirmed: bool = Field(description="已【提交确认保费】")
    full_year: bool = Field(description="否：半年缴费标准")
    codes: list[str] = Field(description="所选保障项目")
    lines: list[PremiumLineOut]
    social_security_people: int
    other_people: int
    people: int
    total: str = Field(description="总计（元）")
    plans: dict[str, PersonPlanOut] = Field(description="social_security / other：每人的项目与保费")


# --- Helpers ---------------------------------------------------------------------------------------


def _token_batches(request):
    """The batches the token sees: its account's, of its one code (SPEC API-1, X-4)."""
    token = request.api_token
    return Batch.objects.filter(account_id=token.account_id, code_id=token.code_id)


def _batch(request, number: str) -> Batch:
    """The token's batch `number`, or 404. The number passes SEC-1's normaliser first: anything but
    ASCII letters and digits is simply no batch (never a database error)."""
    value = batch_number_canonical(number)
    if not value:
        raise Http404
    batch = _token_batches(request).select_related("coverage_year", "code").filter(number=value).first()
    if batch is None:
        raise Http404
    return batch


def _refuse_unless(batch: Batch, action: str, message: str = "") -> None:
    """SPEC BAT-3: 409 when the batch's state does not allow `action`, with `message` (the page's own
    words for it, e.g. the import page's state_message) or enrollment.services.batch_check_action's."""
    if message and not batch.allows(action):
        raise ApiProblem(409, message)
    try:
        batch_check_action(batch=batch, action=action)
    except EnrollmentError as error:
        raise ApiProblem(409, error.message) from None


def _batch_out(batch: Batch, people: int | None = None) -> dict:
    if people is None:
        people = RosterEntry.objects.filter(batch=batch).count()
    return {
        "number": batch.number,
        "kind": batch.kind,
        "kind_label": batch.get_kind_display(),
        "state": batch.state,
        "state_label": batch.get_state_display(),
        "year": batch.coverage_year.year,
        "code": batch.code.code,
        "unit_name": batch.unit_name,
        "people": people,
        "roster_version": batch.roster_version,
        "validated": batch.validated_version is not None and batch.validated_version == batch.roster_version,
        "coverage_start": batch.coverage_start,
        "coverage_end": batch.coverage_end,
        "created_at": batch.created_at,
        "updated_at": batch.updated_at,
        "actions": [{"action": action.value, "label": action.label} for action in batch.actions],
    }


def _import_location(batch: Batch, roster_import: RosterImport) -> str:
    return f"/api/v1/batches/{batch.number}/roster/imports/{roster_import.pk}/"


def _import_out(roster_import: RosterImport, batch: Batch, *, errors_page: int = 1, errors_page_size: int = ERRORS_PAGE_SIZE) -> dict:
    """The import resource; its bad cells one page at a time (a 100,000-row file may have as many)."""
    done = roster_import.status == JobStatus.DONE
    problems = (roster_import.problems or []) if done else []
    start = (errors_page - 1) * errors_page_size
    return {
        "id": roster_import.pk,
        "batch": batch.number,
        "source": roster_import.source,
        "source_label": roster_import.get_source_display(),
        "file_name": roster_import.file_name,
        "status": roster_import.status,
        "status_label": roster_import.get_status_display(),
        "rows_total": roster_import.rows_total,
        "rows_done": roster_import.rows_done,
        "created_at": roster_import.created_at,
        "finished_at": roster_import.finished_at,
        "error": roster_import.error,
        "summary": roster_import.summary if done else None,
        "counts": (
            {
                "read": roster_import.rows_read,
                "imported": roster_import.rows_imported,
                "added": roster_import.rows_added,
                "updated": roster_import.rows_updated,
                "failed": roster_import.rows_failed,
            }
            if done
            else None
        ),
        "errors": [
            {
                "row": int(problem.get("row") or 0),
                "column": str(problem.get("column", "")),
                "value": str(problem.get("value", "")),
                "reason": str(problem.get("reason", "")),
                "message": problem_message(problem),
            }
            for problem in problems[start : start + errors_page_size]
        ],
        "errors_total": len(problems),
        "errors_page": errors_page,
        "errors_page_size": errors_page_size,
    }


def _quota(request, action: str) -> None:
    """SPEC SEC-3: the page's per-account quota of the action (mutualaid.quotas)."""
    retry_after = quota_take(account_id=request.api_token.account_id, action=action)
    if retry_after:
        raise ApiProblem(429, quota_message(retry_after), headers={"Retry-After": str(retry_after)})


# --- Batches (SPEC BAT-1, BAT-2, BAT-3) ------------------------------------------------------------


@api.get("/batches/", response=list[BatchOut], summary="本参保编码的参保批次", tags=["批次"])
def batches_list(request):
    """The token's code's batches, newest first, with state, people and the actions the state allows."""
    batches = (
        _token_batches(request)
        .select_related("coverage_year", "code")
        .annotate(people=Count("entries"))
        .order_by("-updated_at", "-pk")
    )
    return [_batch_out(batch, people=batch.people) for batch in batches]


# --- Idempotency-Key (UI.md "Dialogs": a POST sent twice does nothing twice) ---------------------------

IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "可选：同一令牌在24小时内以同一键重发的请求不会重复办理，而是返回第一次的结果"
    "（应答头 Idempotent-Replayed: true）。可见ASCII字符，1–64个。",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN, "maxLength": 64},
}


def _idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if key and not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
        raise ApiProblem(422, "Idempotency-Key 须为1–64个可见ASCII字符（不含空格）。")
    return key


def _once(request, operation: str, make) -> tuple[str, bool]:
    """`make()` once per Idempotency-Key (api.services.api_idempotent); 409 while the first request of
    the key is still running."""
    try:
        return api_idempotent(token=request.api_token, key=_idempotency_key(request), operation=operation, make=make)
    except IdempotencyBusy:
        raise ApiProblem(409, "使用同一 Idempotency-Key 的请求仍在处理中，请稍后重试。") from None


@api.post(
    "/batches/",
    response={201: BatchOut},
    summary="【集中参保办理】/【即时参保办理】",
    tags=["批次"],
    openapi_extra={"x-problems": [409], "parameters": [IDEMPOTENCY_PARAMETER]},
)
def batches_open(request, payload: BatchOpenIn, response: HttpResponse):
    """Opens a batch of the token's code (SPEC BAT-2) through enrollment.services.batch_open, exactly
    as the page's dialog: outside the window, a second centralised batch of the year or 经办人填报 not
    saved answer 409 with the page's message."""
    token = request.api_token

    def make() -> str:
        batch = batch_open(account=token.account, kind=payload.kind, code=token.code.code, unit_name=token.code.unit_name)
        return f"{payload.kind}:{batch.number}"

    try:
        made, replayed = _once(request, "batches_open", make)
    except EnrollmentError as error:
        raise ApiProblem(409, error.message) from None
    kind, number = made.split(":", 1)
    if kind != payload.kind:
        raise ApiProblem(422, "该 Idempotency-Key 已用于另一种批次的办理请求，请换一个键。")
    batch = _token_batches(request).select_related("coverage_year", "code").get(number=number)
    response["Location"] = f"/api/v1/batches/{batch.number}/"
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(201, _batch_out(batch))


@api.get("/batches/{number}/", response=BatchOut, summary="一个参保批次", tags=["批次"])
def batches_detail(request, number: str = Path(..., max_length=64)):
    return _batch_out(_batch(request, number))


# --- Roster imports (SPEC ROS-1, ROS-9, ROS-10) -----------------------------------------------------

def _import_body() -> dict:
    """The request body of an import in the document: the template file or JSON rows (the importer's
    row source rosters.importer.roster_import_start_rows). The body is described here, not declared as a
    parameter, so ninja never reads it (a JSON roster of 50,000 rows is larger than
    DATA_UPLOAD_MAX_MEMORY_SIZE): the operation hands the stream to the importer."""
    content = {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "description": "参保名单导入模板（.xlsx）"}},
                "additionalProperties": False,
            }
        },
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["rows"],
                "properties": {
                    "rows": {
                        "type": "array",
                        "description": "每行一人，键为模板的列名（姓名、证件类型、证件号码 …）；错误的行号为在 rows 中的序号（从 1 起）",
                        "items": {"type": "object", "additionalProperties": {"type": ["string", "number", "null"]}},
                    }
                },
            },
            "example": {
                "rows": [{"姓名": "张三", "证件类型": "身份证", "证件号码": "310101199001011234", "手机号": "13900000000", "是否有社保": "是"}]
            },
        },
    }
    return {
        "requestBody": {"required": True, "content": content},
        "parameters": [IDEMPOTENCY_PARAMETER],
        "x-problems": [409, 413, 415],
    }


def _json_rows_import(request, batch: Batch) -> RosterImport:
    """JSON rows (SPEC API-2): handed to the importer's row source as a stream of chunks, never read
    whole here (50,000 rows are more than DATA_UPLOAD_MAX_MEMORY_SIZE); the importer parses, limits
    (ROSTER_API_MAX_BYTES) and checks them like a file."""
    length = request.META.get("CONTENT_LENGTH") or None
    try:
        content_length = int(length) if length is not None else None
    except ValueError:
        content_length = None
    return importer.roster_import_start_rows(
        batch=batch,
        chunks=iter(lambda: request.read(64 * 1024), b""),
        acting_user=request.api_token.account,
        remote_addr=client_ip(request),
        content_length=content_length,
    )


def _file_import(request, batch: Batch) -> RosterImport:
    """The template xlsx, as the page's 【上传本地参保名单文件】 (rosters.importer.roster_import_start). A body
    declared too large never gets here (api.problems.ApiProblemMiddleware answers 413 first)."""
    upload = request.FILES.get("file")
    if upload is None:
        raise ApiProblem(422, "请以 multipart/form-data 上传文件，字段名为 file。")
    if upload.size > settings.ROSTER_UPLOAD_MAX_BYTES:
        raise ApiProblem(413, too_large_message())
    return importer.roster_import_start(
        batch=batch, upload=upload, acting_user=request.api_token.account, remote_addr=client_ip(request)
    )


@api.post(
    "/batches/{number}/roster/imports/",
    response={202: ImportOut},
    summary="导入参保清册（模板文件或JSON行）",
    tags=["参保清册"],
    openapi_extra=_import_body(),
)
def roster_imports_start(request, response: HttpResponse, number: str = Path(..., max_length=64)):
    """导入人员名单 (SPEC ROS-1, API-2): the template xlsx as `multipart/form-data` (field `file`) or
    JSON rows (`application/json`, `{"rows": [...]}`), an asynchronous import answered 202 with its
    resource and Location. The same per-account quota as the page (QUOTA_ROSTER_IMPORTS_PER_HOUR) and
    the same state rule (参保清册 editable: SPEC BAT-3)."""
    batch = _batch(request, number)
    _refuse_unless(batch, BatchAction.EDIT_ROSTER, state_message(batch))
    _quota(request, "roster_import")
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()

    def make() -> str:
        if content_type == "multipart/form-data":
            return str(_file_import(request, batch).pk)
        if content_type == "application/json":
            return str(_json_rows_import(request, batch).pk)
        raise ApiProblem(415, "请以 multipart/form-data（字段 file，参保名单导入模板）或 application/json（rows）提交。")

    try:
        import_id, replayed = _once(request, f"roster_import:{batch.pk}", make)
    except RosterUploadTooLarge as error:  # the JSON rows over ROSTER_API_MAX_BYTES
        raise ApiProblem(413, error.message) from None
    except RosterError as error:
        batch.refresh_from_db(fields=["state"])
        raise ApiProblem(409 if not batch.allows(BatchAction.EDIT_ROSTER) else 422, error.message) from None
    roster_import = RosterImport.objects.get(pk=int(import_id), batch=batch)
    response["Location"] = _import_location(batch, roster_import)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(202, _import_out(roster_import, batch))


@api.get(
    "/batches/{number}/roster/imports/{import_id}/",
    response=ImportOut,
    summary="导入进度与结果",
    tags=["参保清册"],
)
def roster_imports_detail(
    request,
    number: str = Path(..., max_length=64),
    import_id: int = Path(..., ge=1, le=MAX_ID),
    errors_page: int = Query(1, ge=1, le=MAX_ID),
    errors_page_size: int = Query(ERRORS_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
):
    """Progress (rows_done / rows_total) while it runs; when done the page's counts and the bad cells
    (row, column, masked value, reason and the page's sentence), a page of them at a time
    (`errors_total` says how many there are)."""
    batch = _batch(request, number)
    roster_import = RosterImport.objects.filter(pk=import_id, batch=batch).first()
    if roster_import is None:
        raise ApiProblem(404, "该导入记录不存在。")
    return _import_out(roster_import, batch, errors_page=errors_page, errors_page_size=errors_page_size)


# --- 清册校验 (SPEC BAT-4, VAL) ------------------------------------------------------------------------


def _people(queryset) -> list[dict]:
    entries = queryset.only("pk", "name", "id_type", "id_cipher")[:PEOPLE_SHOWN]
    return [
        {"id": entry.pk, "name": entry.name, "id_type": entry.id_type, "id_number": roster_masked_id(entry)}
        for entry in entries
    ]


def _findings(batch: Batch, outcome: ValidationOutcome) -> list[dict]:
    """The outcome by rule id (SPEC VAL-1 … VAL-6, ROS-5), with the people the page lists under each,
    read live as the result page does (removed people disappear, ticks show at once). The figures of
    VAL-3, VAL-4 and VAL-6 are the outcome's own JSON form (ValidationOutcome.as_json)."""
    on = outcome.reference_date
    figures = outcome.as_json()
    findings = [
        {
            "rule": "VAL-1",
            "title": "退休人员（不能参保，请移除）",
            "count": outcome.retired.count,
            "blocking": bool(outcome.retired.count),
            "details": {},
            "people": _people(retired_entries(batch)) if outcome.retired.count else [],
        },
        {
            "rule": "VAL-2",
            "title": "在职超龄人员",
            "count": outcome.over_age.total,
            "blocking": bool(outcome.over_age.without_social_security or outcome.over_age.unticked),
            "details": {
                "without_social_security": outcome.over_age.without_social_security,
                "unticked": outcome.over_age.unticked,
                "reference_date": on.isoformat(),
            },
            "people": _people(over_age_entries(batch, on)) if outcome.over_age.total else [],
        },
        {
            "rule": "VAL-3",
            "title": "参保人数校验",
            "count": outcome.headcount.this,
            "blocking": False,
            "details": figures["headcount"],
            "people": [],
        },
        {
            "rule": "VAL-4",
            "title": "单位社保比例校验",
            "count": outcome.ratio.people,
            "blocking": False,
            "details": figures["ratio"],
            "people": [],
        },
        {
            "rule": "VAL-5",
            "title": "无单位社保编码人员",
            "count": outcome.unmatched.total,
            "blocking": bool(outcome.unmatched.unconfirmed),
            "details": {"unconfirmed": outcome.unmatched.unconfirmed},
            "people": _people(unmatched_entries(batch)) if outcome.unmatched.total else [],
        },
        {
            "rule": "ROS-5",
            "title": "姓名匹配异常",
            "count": outcome.name_mismatches.count,
            "blocking": bool(outcome.name_mismatches.count),
            "details": {},
            "people": _people(roster_name_mismatches(batch=batch)) if outcome.name_mismatches.count else [],
        },
        {
            "rule": "VAL-6",
            "title": "附件",
            "count": len(outcome.attachments.missing),
            "blocking": bool(outcome.attachments.missing),
            "details": figures["attachments"],
            "people": [],
        },
    ]
    for extra in outcome.extra:
        findings.append(
            {
                "rule": extra.rule,
                "title": extra.title,
                "count": extra.count,
                "blocking": bool(extra.blocking_reason),
                "details": {"blocking_reason": extra.blocking_reason},
                "people": [],
            }
        )
    return findings


@api.post(
    "/batches/{number}/validation/",
    response={202: ValidationOut},
    summary="【清册校验】",
    tags=["清册校验"],
    openapi_extra={"x-problems": [409]},
)
def validation_begin(request, response: HttpResponse, number: str = Path(..., max_length=64)):
    """【清册校验】 (SPEC BAT-4) through rosters.validation.validation_start: 202 with the run; poll
    GET …/validation/ until `status` is done."""
    batch = _batch(request, number)
    _refuse_unless(batch, BatchAction.VALIDATE)
    try:
        validation_start(batch=batch, acting_user=request.api_token.account)
    except EnrollmentError as error:
        raise ApiProblem(409, error.message) from None
    batch = _batch(request, number)
    response["Location"] = f"/api/v1/batches/{batch.number}/validation/"
    return Status(202, _validation_out(batch))


def _validation_out(batch: Batch) -> dict:
    run = validation_latest(batch=batch)
    if run is None:
        raise ApiProblem(404, "该批次尚未进行清册校验。")
    out = {
        "id": run.pk,
        "batch": batch.number,
        "status": run.status,
        "status_label": run.get_status_display(),
        "steps_done": run.steps_done,
        "steps_total": run.steps_total,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "current": False,
        "blocking": None,
        "blocking_reasons": [],
        "findings": [],
    }
    if run.status == JobStatus.DONE and run.findings:
        outcome = ValidationOutcome.from_json(run.findings)
        live = validation_live_outcome(batch=batch, outcome=outcome)
        out.update(
            current=validation_is_current(run=run, batch=batch),
            blocking=live.blocking,
            blocking_reasons=list(live.blocking_reasons),
            findings=_findings(batch, live),
        )
    return out


@api.get("/batches/{number}/validation/", response=ValidationOut, summary="清册校验结果", tags=["清册校验"])
def validation_result(request, number: str = Path(..., max_length=64)):
    """The latest run: progress while it runs; then its findings by rule id with the people concerned
    (IDs masked), and whether the result still matches the roster (`current`)."""
    return _validation_out(_batch(request, number))


# --- The roster and the premium ------------------------------------------------------------------------


@api.get(
    "/batches/{number}/roster/",
    response=RosterPageOut,
    summary="参保清册（分页）",
    tags=["参保清册"],
    openapi_extra={"x-problems": [409]},
)
def roster_list(
    request,
    number: str = Path(..., max_length=64),
    page: int = Query(1, ge=1, le=MAX_ID),
    page_size: int = Query(100, ge=1, le=MAX_PAGE_SIZE),
):
    """参保批次人员管理 (SPEC ROS-6): the batch's people in the page's order, IDs masked as the page
    masks them (SPEC X-1)."""
    batch = _batch(request, number)
    _refuse_unless(batch, BatchAction.ROSTER)
    people = RosterEntry.objects.filter(batch=batch)
    total = people.count()
    start = (page - 1) * page_size
    entries = people.order_by("pk").only(*LIST_COLUMNS, "birth_date")[start : start + page_size] if start < total else []
    return {
        "page": page,
        "page_size": page_size,
        "total": total,
        "items": [
            {
                "id": entry.pk,
                "name": entry.name,
                "id_type": entry.id_type,
                "id_number": roster_masked_id(entry),
                "birth_date": roster_birth_date_display(entry),
                "is_suggested": entry.is_suggested,
                "work_status": entry.work_status,
                "has_social_security": entry.has_social_security,
                "coverage_start": entry.coverage_start,
                "coverage_end": entry.coverage_end,
            }
            for entry in entries
        ],
    }


def _money(value) -> str:
    from plans.premiums import money

    return f"{money(value):.2f}"


@api.get(
    "/batches/{number}/premium/",
    response=PremiumOut,
    summary="保费信息",
    tags=["保费"],
    openapi_extra={"x-problems": [409]},
)
def premium(request, number: str = Path(..., max_length=64)):
    """保费信息 (SPEC PREM-3) from plans.selectors.premium_detail_basis, the selector of 【保费详细】: a
    preview of the saved selection while the plans may change, the confirmed premium after 【提交确认保费】.
    409 while the batch has none."""
    batch = _batch(request, number)
    basis = premium_detail_basis(batch=batch)
    if basis is None:
        if batch.allows(BatchAction.SELECT_PLANS):
            raise ApiProblem(409, "尚未生成保费信息，请先在【保障项目选择】中勾选保障项目并点击【生成保费信息】。")
        raise ApiProblem(409, f"批次当前状态为“{batch.get_state_display()}”，尚无保费信息。")
    table = basis.table
    lines = table.lines.all() if hasattr(table.lines, "all") else table.lines
    return {
        "batch": batch.number,
        "confirmed": basis.confirmed,
        "full_year": basis.full_year,
        "codes": list(basis.codes),
        "lines": [
            {
                "label": line.label,
                "standard": _money(line.standard),
                "discount": _money(line.discount),
                "social_security_people": line.social_security_people,
                "social_security_amount": _money(line.social_security_amount),
                "other_people": line.other_people,
                "other_amount": _money(line.other_amount),
                "amount": _money(line.amount),
            }
            for line in lines
        ],
        "social_security_people": basis.social_security_people,
        "other_people": basis.other_people,
        "people": basis.people,
        "total": _money(basis.total),
        "plans": {
            "social_security": {"items": list(basis.plans[True].items), "amount": _money(basis.plans[True].amount)},
            "other": {"items": list(basis.plans[False].items), "amount": _money(basis.plans[False].amount)},
        },
    }

