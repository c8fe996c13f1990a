"""RFC 9457 problem details for every error of the API (SPEC API-3): `application/problem+json` with
type, title, status, a Chinese `detail` and the request path as `instance` (+ `errors` for a 422).

`ApiProblem` is raised by the operations; `problem_response` builds the answer; `ApiProblemMiddleware`
turns what answers an /api/v1/ path outside the operations (an unknown path, a wrong method, the
portal's 400 for a control character in the query, SEC-5) into the same form, so a client never gets
an HTML page from the API.
"""
import json
import logging

from django.http import HttpResponse

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

# status → (type slug, title): the title is the short Chinese name of the kind of problem.
TITLES = {
    400: ("bad-request", "请求无效"),
    401: ("unauthorized", "未认证"),
    403: ("forbidden", "无权访问"),
    404: ("not-found", "资源不存在"),
    405: ("method-not-allowed", "不支持的请求方法"),
    409: ("conflict", "当前状态不允许此操作"),
    413: ("too-large", "上传内容过大"),
    415: ("unsupported-media-type", "不支持的内容类型"),
    422: ("invalid-input", "请求内容有误"),
    429: ("too-many-requests", "请求过于频繁"),
    500: ("server-error", "服务器内部错误"),
}
DEFAULT_DETAILS = {
    400: "请求无法处理：含有不允许的字符（如控制字符），或请求体格式错误（如不是有效的JSON），请检查后重试。",
    401: "缺少有效的API令牌：请在请求头中提供 Authorization: Bearer <令牌>。",
    403: "无权访问。",
    404: "请求的资源不存在。",
    405: "该地址不支持此请求方法。",
    500: "系统处理时出错，请稍后重试；如仍失败，请联系技术支持。",
}


class ApiProblem(Exception):
    """An error answer of the API: `status`, the Chinese `detail`, optional extra headers."""

    def __init__(self, status: int, detail: str, *, headers: dict | None = None, **extra):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(request, status: int, detail: str = "", *, headers: dict | None = None, **extra) -> HttpResponse:
    slug, title = TITLES.get(status, ("error", "请求失败"))
    body = {
        "type": f"/api/v1/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail or DEFAULT_DETAILS.get(status, title),
        "instance": request.path,
        **extra,
    }
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=f"{PROBLEM_CONTENT_TYPE}; charset=utf-8"
    )
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="mutualaid-api"'
    for name, value in (headers or {}).items():
        response[name] = value
    response["Cache-Control"] = "no-store, private"  # SPEC SEC-4: answers hold personal data
    return response


UPLOAD_OVERHEAD = 64 * 1024  # a multipart body's boundaries and headers around the file


def _multipart_too_large(request) -> HttpResponse | None:
    """SPEC API-3: 413 for a file upload whose declared length is over ROSTER_UPLOAD_MAX_BYTES, before
    anything below reads the body (ControlCharacterMiddleware reads request.POST, which would receive the
    whole upload into a temporary file first). JSON rows are not read by any middleware: the importer
    streams them and applies its own limit."""
    from django.conf import settings

    if not request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/"):
        return None
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > settings.ROSTER_UPLOAD_MAX_BYTES + UPLOAD_OVERHEAD:
        from rosters.importer import too_large_message

        return problem_response(request, 413, too_large_message())
    return None


class ApiProblemMiddleware:
    """Under /api/v1/ (SPEC API-1, API-3):

    - a multipart upload declared larger than the roster file limit is a 413 before its body is read;
    - the request's cookies are dropped before the session middleware sees them: the API authenticates
      by token only, so a portal session (and what the session middleware does with it: the second
      factor's logout, the forced password change, their redirects) never reaches an API request;
    - an error answer that is not a problem document yet (Django's 404 page, ninja's 405,
      ControlCharacterMiddleware's 400 page, the 500 page) becomes one with the same status, keeping
      the documented headers (Allow, Retry-After);
    - every answer gets `Cache-Control: no-store` (SPEC SEC-4: they hold personal data).

    Placed outermost but for the request id, so it sees what the middleware below answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        request.META.pop("HTTP_COOKIE", None)
        too_large = _multipart_too_large(request)
        response = too_large or self.get_response(request)
        content_type = response.get("Content-Type", "")
        if response.status_code >= 400 and not content_type.startswith(PROBLEM_CONTENT_TYPE):
            kept = {name: response[name] for name in ("Allow", "Retry-After") if response.has_header(name)}
            response = problem_response(request, response.status_code, headers=kept)
        response["Cache-Control"] = "no-store, private"
        return response
