"""参保批次管理 (SPEC BAT-1, BAT-2, BAT-3, BAT-5, BAT-7, CODE-5, CODE-6, HND-1, HND-3): the account's
batches, the dialogs of 【集中参保办理】 and 【即时参保办理】, 查看详情 with its 操作日志, 【批次删除】 and
【参保流程】. Unit accounts only (back-office accounts get 403); another account's batch answers 404
(SPEC X-4). The rules are enrollment.services'; these views only show and ask."""

from html import escape

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Count, Window
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mutualaid.errors import form_error_add
from mutualaid.reversing import url_filler
from mutualaid.submissions import (
    session_value,
    submission_made,
    submission_once,
    submission_token,
    submission_token_new,
)

from ..forms import BatchFilterForm, BatchOpenForm
from ..models import Batch, CoverageYear
from ..selectors import account_codes, batch_open_code, coverage_year_current, handler_info_complete
from ..services import (
    HANDLER_INFO_MISSING,
    EnrollmentError,
    HandlerInfoMissing,
    batch_delete,
    batch_open,
    batch_window_check,
)
from ..states import (
    ACTION_ORDER,
    STATE_ACTIONS,
    STATE_BADGES,
    BatchAction,
    BatchKind,
    BatchState,
)
from .access import account_batch, unit_admin_required

PER_PAGE = 15  # UI.md, "Lists"
HND3_NOTE = "若单位名称有误，请至职保中心五楼营业大厅“信息修改”窗口办理更新！"
OPEN_BUTTONS = {BatchKind.CENTRALISED: "集中参保办理", BatchKind.INSTANT: "即时参保办理"}

# The 操作 column (SPEC BAT-3): the page of each action, by URL name with the batch number as
# `number`. 【批次删除】 is a dialog here.
ACTION_URL_NAMES = {
    BatchAction.DETAIL: "enrollment:batches_detail",
    BatchAction.ROSTER: "rosters:roster",
    BatchAction.VALIDATE: "rosters:validate",
    BatchAction.SUBMIT: "rosters:submit",
    BatchAction.SELECT_PLANS: "plans:selection",
    BatchAction.WITHDRAW: "plans:withdraw",
    BatchAction.RECEIPTS: "receipts:batch_receipts",
    BatchAction.CERTIFICATE: "receipts:certificate_pdf",
}

# submission token of a dialog → the batch number it created, newest last (a double click, or the
# form posted again with the back button, must not open a second batch: UI.md "Dialogs").
SUBMISSIONS_KEY = "batch_open_submissions"
# Batch numbers this session deleted: the second click of 【批次删除】 says so instead of 404.
DELETED_KEY = "batches_deleted"
DELETED_KEPT = 20


def _batch_url(url_name: str, number: str) -> str:
    return reverse(url_name, kwargs={"number": number})


class _BatchUrls:
    """_batch_url for a list of batches: each URL name reversed once (mutualaid.reversing.url_filler),
    then each batch's number put in its place."""

    def __init__(self):
        self.fillers: dict = {}

    def __call__(self, url_name: str, number: str) -> str:
        if url_name not in self.fillers:
            self.fillers[url_name] = url_filler(url_name, "number")
        return self.fillers[url_name](number)


def batch_action_links(batch: Batch, *, url=_batch_url) -> list[dict]:
    """The links of the actions `batch` allows now, in the page's order (SPEC BAT-3; UI.md: only what
    the state allows). 【批次删除】 is not among them: it is a confirmation dialog. `url(name,
    number)` makes each address (a list passes a _BatchUrls)."""
    links = []
    for action in batch.actions:
        if action == BatchAction.DELETE:
            continue
        links.append({"action": action.value, "label": action.label, "url": url(ACTION_URL_NAMES[action], batch.number)})
    if batch.state == BatchState.VALIDATING:
        # 清册校验中 shows progress only (SPEC BAT-3): the way back to it from the list.
        progress_url = url("rosters:validation_progress", batch.number)
        links.append({"action": "progress", "label": "查看校验进度", "url": progress_url})
    return links


def _batch_home(batch: Batch) -> str:
    """Where a new batch goes (the handbook: 【确定操作】 → 进入参保名单编辑页面): its roster."""
    return reverse("rosters:roster", kwargs={"number": batch.number})


def _own_batches(request):
    return Batch.objects.filter(account=request.user)


# The list and its dialogs ---------------------------------------------------------------------------


def _window_problems(coverage_year: CoverageYear | None) -> dict[str, str]:
    """Why each 办理 button is unavailable now (SPEC BAT-2, BAT-10), "" when it is available; the
    service's own message, shown as the disabled button's tooltip (UI.md)."""
    problems = {}
    for kind in OPEN_BUTTONS:
        if coverage_year is None:
            problems[kind] = "当前没有开放的保障年度，请关注职保会通知。"
            continue
        try:
            batch_window_check(coverage_year=coverage_year, kind=kind)
        except EnrollmentError as error:
            problems[kind] = error.message
        else:
            problems[kind] = ""
    return problems


def _open_form(kind: str, *, data=None, initial=None) -> BatchOpenForm:
    # Two dialogs on one page: each gets its own element ids.
    return BatchOpenForm(data, initial=initial, auto_id=f"id_{kind}_%s")


def _open_dialogs(*, codes, listed_code_ids, coverage_year, posted: BatchOpenForm | None = None) -> list[dict]:
    """Both dialogs, each prefilled with the code the clerk is working with and its registered unit
    name (SPEC CODE-6; selectors.batch_open_code); the posted one, if any, as it was sent, with its
    errors, to open on load. A prefilled code without 经办人填报 leads there instead (HND-1)."""
    problems = _window_problems(coverage_year)
    dialogs = []
    complete = {}  # code id → handler_info_complete: both dialogs usually prefill the same code
    for kind, label in OPEN_BUTTONS.items():
        code = batch_open_code(codes=codes, kind=kind, coverage_year=coverage_year, listed_code_ids=listed_code_ids)
        if code is not None and code.pk not in complete:
            complete[code.pk] = handler_info_complete(code=code)
        handler_missing = code is not None and not complete[code.pk]
        if posted is not None and posted.auto_id == f"id_{kind}_%s":
            form, show = posted, True
        else:
            initial = {"code": code.code, "unit_name": code.unit_name} if code is not None else {}
            form = _open_form(kind, initial={**initial, "kind": kind, "submission_token": submission_token_new()})
            show = False
        dialogs.append(
            {
                "kind": kind,
                "label": label,
                "form": form,
                "show": show,
                "unavailable": problems[kind],
                "id": f"batch-open-{kind}",
                "handler_missing_code": code if handler_missing and not show else None,
                # Several codes and none prefilled: the dialog lists them so the clerk can copy one.
                "codes": codes if code is None and len(codes) > 1 else [],
            }
        )
    return dialogs


def _batch_page(batches, page_number) -> Page:
    """Paginator(batches, PER_PAGE).get_page(page_number), in one query instead of two: the page's
    rows come with the count of the whole list (COUNT(*) OVER ()). A page past the end, or an empty
    list, goes the usual way (get_page answers the last page)."""
    try:
        number = 1 if page_number is None else int(page_number)
    except (TypeError, ValueError):
        number = 1  # as get_page: not a number → the first page
    if 1 <= number <= 1000:  # beyond, an OFFSET could overflow: get_page validates the number first
        start = (number - 1) * PER_PAGE
        rows = list(batches.annotate(listed_total=Window(Count("pk")))[start : start + PER_PAGE])
        if rows:
            paginator = Paginator(batches, PER_PAGE)
            paginator.count = rows[0].listed_total  # Paginator.count is a cached property
            return Page(rows, number, paginator)
    return Paginator(batches, PER_PAGE).get_page(page_number)


def _list_page(request, *, posted: BatchOpenForm | None = None):
    filters = BatchFilterForm(request.GET or None)
    batches = filters.filter(_own_batches(request).select_related("coverage_year", "code")).order_by("-updated_at", "-pk")
    page = _batch_page(batches, request.GET.get("page"))
    urls = _BatchUrls()
    for batch in page:
        batch.action_links = batch_action_links(batch, url=urls)
        batch.delete_url = urls("enrollment:batches_delete", batch.number) if batch.allows(BatchAction.DELETE) else ""
    query = request.GET.copy()
    query.pop("page", None)
    coverage_year = coverage_year_current()
    codes = list(account_codes(account=request.user))
    if codes:  # the account's first code, as code_required gives it: the top bar reads no other (context_processors.portal)
        request.enrollment_code = codes[0]
    # The unit of the page: the code of the batches listed, when they are all one code's (CODE-6).
    if len(codes) <= 1:
        listed_code_ids = []
    elif page.number == 1 and not page.has_next():  # the whole list is on the page
        listed_code_ids = list({batch.code_id for batch in page})
    else:
        listed_code_ids = list(batches.order_by().values_list("code_id", flat=True).distinct()[:2])
    return render(
        request,
        "enrollment/batches/list.html",
        {
            "filters": filters,
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "query": query.urlencode(),
            "coverage_year": coverage_year,
            "dialogs": _open_dialogs(
                codes=codes, listed_code_ids=listed_code_ids, coverage_year=coverage_year, posted=posted
            ),
            "handler_missing_message": HANDLER_INFO_MISSING,
            "hnd3_note": HND3_NOTE,
        },
    )


@require_GET
@login_required
@unit_admin_required
def batches(request):
    """【参保批次管理】 (SPEC BAT-1): this account's batches, filtered, 15 a page, with the year's banner
    and the two 办理 dialogs. Open to an account without a code: the dialog binds one (CODE-5)."""
    return _list_page(request)


@require_http_methods(["GET", "POST"])
@login_required
@unit_admin_required
def batches_open(request):
    """【确定操作】 of a 办理 dialog (SPEC BAT-2): enrollment.services.batch_open, then the new batch's
    roster with a message naming its number. Refusals come back in the open dialog, beside the
    field they concern; a missing 经办人填报 leads there (HND-1). A GET (a page link of the list shown
    after a refusal) goes back to the list."""
    if request.method == "GET":
        query = request.GET.urlencode()
        return redirect(reverse("enrollment:batches") + (f"?{query}" if query else ""))
    kind = request.POST.get("kind", "")
    form = _open_form(kind if kind in BatchKind.values else BatchKind.CENTRALISED, data=request.POST)
    token = submission_token(request.POST.get("submission_token", ""))
    done = _submitted_batch(request, token)
    if done is not None:
        messages.info(request, f"参保批次 {done.number} 已创建，无需重复提交。")
        return redirect(_batch_home(done))
    if form.is_valid():
        try:
            batch, repeated = _open(request, form, token=token)
        except HandlerInfoMissing as error:
            messages.warning(request, error.message)
            return redirect("enrollment:handler")
        except EnrollmentError as error:
            form_error_add(form, error)
        else:
            if repeated:
                messages.info(request, f"参保批次 {batch.number} 已创建，无需重复提交。")
            else:
                messages.success(request, f"参保批次 {batch.number} 已创建，请添加参保人员。")
            return redirect(_batch_home(batch))
    # A new token for the corrected dialog: the refused one created nothing.
    form.data = form.data.copy()
    form.data["submission_token"] = submission_token_new()
    return _list_page(request, posted=form)


def _open(request, form: BatchOpenForm, *, token: str) -> tuple[Batch, bool]:
    """(the batch, whether this dialog had opened it already), once per token with the account's row
    locked (mutualaid.submissions.submission_once; the centralised batch's unique constraint stays
    the last word). A refusal is raised only after the transaction commits: a code bound before the
    refusal stays bound (batch_open)."""
    data = form.cleaned_data
    return submission_once(
        request,
        SUBMISSIONS_KEY,
        token,
        make=lambda: batch_open(
            account=request.user, kind=data["kind"], code=data["code"], unit_name=data["unit_name"]
        ),
        find=lambda number: _own_batches(request).filter(number=number).first(),
        remember=lambda batch: batch.number,
        refusals_commit=EnrollmentError,
    )


def _submitted_batch(request, token: str) -> Batch | None:
    number = submission_made(request, SUBMISSIONS_KEY, token)
    return _own_batches(request).filter(number=number).first() if number else None


# 查看详情, 【批次删除】, 【参保流程】 ---------------------------------------------------------------------------


def _actor_label(log, account, actors: dict) -> str:
    """操作人 as the unit knows them: its own account by name, the association's staff as 市职保会
    (their personal accounts are not the unit's business), background work as 系统. `actors` holds
    the other accounts that acted, by id (_log_actors)."""
    if log.actor_id is None:
        return "系统"
    if log.actor_id == account.pk:
        return account.get_username()
    actor = actors[log.actor_id]
    if actor.is_unit_admin:
        return actor.get_username()
    return "市职保会"


def _log_actors(log, account) -> dict:
    """The accounts other than `account` that acted in `log`, by id: none to read for a batch only the
    unit and the system touched (most of them), one query otherwise (a join on every page cost more)."""
    others = {row.actor_id for row in log if row.actor_id is not None and row.actor_id != account.pk}
    return get_user_model().objects.in_bulk(others) if others else {}


def _log_rows(log, account) -> list[str]:
    """The 操作日志 table's rows (SPEC BAT-7) as HTML, one string per row, made here rather than in
    the template: a batch's log grows with every import and validation, and each row's date, state
    names and reason cost more as template filters than the rest of the page. Every value is escaped
    as the template would (html.escape, which django.utils.html.escape calls); the time in the
    current time zone as Y-m-d H:i:s; a missing 原状态 or 原因 as "-", the reason's line breaks as <br>."""
    actors = _log_actors(log, account)
    rows = []
    for row in log:
        reason = linebreaksbr(row.reason or "-")  # escapes, then <br> for each line break
        rows.append(
            mark_safe(  # every value below is escaped
                "\n          <tr>\n"
                f'            <td class="text-nowrap">{timezone.localtime(row.at).strftime("%Y-%m-%d %H:%M:%S")}</td>\n'
                f"            <td>{escape(_actor_label(row, account, actors))}</td>\n"
                f"            <td>{escape(row.action)}</td>\n"
                f'            <td>{escape(str(row.get_from_state_display() or "-"))}</td>\n'
                f"            <td>{escape(str(row.get_to_state_display()))}</td>\n"
                f'            <td class="cell-reason">{reason}</td>\n'
                "          </tr>\n"
                "          "
            )
        )
    return rows


@require_GET
@login_required
@unit_admin_required
def batches_detail(request, number: str):
    """查看详情 (SPEC BAT-7): the batch's fields, its head count, the actions its state allows, and
    the 操作日志 (who, when, from, to, why), newest last."""
    batch = account_batch(request, number)
    return render(
        request,
        "enrollment/batches/detail.html",
        {
            "batch": batch,
            "headcount": batch.entries.count(),
            # 查看详情 is this page: the other actions only.
            "action_links": [link for link in batch_action_links(batch) if link["action"] != BatchAction.DETAIL],
            "log": _log_rows(list(batch.log.order_by("at", "pk")), request.user),
        },
    )


@require_POST
@login_required
@unit_admin_required
def batches_delete(request, number: str):
    """【批次删除】 after its confirmation (SPEC BAT-5, CODE-5): enrollment.services.batch_delete. Other
    states are refused with the service's message. The second click of a double click finds the
    batch gone and says it was deleted; another account's batch is 404 (X-4)."""
    batch = _own_batches(request).filter(number=number).first()
    if batch is None:
        if number in (session_value(request, DELETED_KEY, fresh=True) or []):
            messages.info(request, f"批次 {number} 已删除")
            return redirect("enrollment:batches")
        raise Http404
    try:
        batch_delete(batch=batch, acting_user=request.user)
    except EnrollmentError as error:
        messages.error(request, error.message)
        return redirect("enrollment:batches")
    deleted = [*(session_value(request, DELETED_KEY) or []), number][-DELETED_KEPT:]
    request.session[DELETED_KEY] = deleted
    messages.success(request, f"批次 {number} 已删除")
    return redirect("enrollment:batches")


# The picture's states in the handbook's order, with what each allows (SPEC BAT-3): the table under
# the picture is built from the state machine's data, so it cannot disagree with it.
FLOW_ORDER = [
    BatchState.DRAFT, BatchState.VALIDATING, BatchState.INVALID, BatchState.IN_REVIEW, BatchState.REVIEW_REJECTED,
    BatchState.ROSTER_APPROVED, BatchState.REVIEW_APPROVED, BatchState.AWAITING_PAYMENT, BatchState.PAYMENT_REVIEW,
    BatchState.PAYMENT_REJECTED, BatchState.COMPLETED, BatchState.CANCELLED,
]


@require_GET
@login_required
@unit_admin_required
def batches_flow(request):
    """【参保流程】 (SPEC BAT-1, BAT-3): the handbook's 参保状态说明 as a picture, and each state with
    the actions it offers."""
    rows = []
    for state in FLOW_ORDER:
        allowed = STATE_ACTIONS[state]
        actions = [
            (f"{action.label}（{'可编辑' if BatchAction.EDIT_ROSTER in allowed else '只读'}）" if action == BatchAction.ROSTER else action.label)
            for action in ACTION_ORDER
            if action in allowed
        ]
        rows.append({"state": state, "badge_class": STATE_BADGES[state], "actions": actions})
    return render(request, "enrollment/batches/flow.html", {"rows": rows})
