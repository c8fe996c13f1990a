"""The portal's own middleware: a request id on every request (in the logs, in the X-Request-ID
header and on the 500 page, so a clerk can quote it to the hotline and we can find the traceback);
no-store for logged-in users (SPEC SEC-4); control characters refused (SEC-5); denials audited (SEC-6)."""
import contextvars
import hashlib
import logging
import re
import uuid

from django.core.cache import cache
from django.http import HttpResponseBadRequest
from django.template import loader
from django.utils.cache import patch_cache_control

_current_request_id = contextvars.ContextVar("request_id", default="-")
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _ACCEPTED_ID.match(incoming) else uuid.uuid4().hex[:16]
        request.request_id = request_id
        token = _current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record):
        record.request_id = _current_request_id.get()
        return True


class NoStoreForUsersMiddleware:
    """SPEC SEC-4: a page shown to a logged-in user may hold personal data, so neither the browser
    nor a proxy keeps a copy. Anonymous (public) pages keep whatever caching their view chose."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response


# SPEC SEC-5: C0 controls except tab, line feed and carriage return (a textarea sends those), DEL
# and the C1 controls. NUL is among them: PostgreSQL refuses it in any text, which was a 500.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _has_control_character(data) -> bool:
    return any(
        _CONTROL_CHARACTER.search(key) or any(_CONTROL_CHARACTER.search(value) for value in values)
        for key, values in data.lists()
    )


class ControlCharacterMiddleware:
    """SPEC SEC-5: a query or form value with a control character is answered with the 400 page
    before any view sees it. Placed after CsrfViewMiddleware, which has already parsed the form."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _has_control_character(request.GET) or (request.method == "POST" and _has_control_character(request.POST)):
            return HttpResponseBadRequest(loader.render_to_string("400.html"))
        return self.get_response(request)


DENIAL_AUDIT_SECONDS = 60


class DenialAuditMiddleware:
    """SPEC SEC-6: every 403, and every 404 on an object URL (a pattern with a captured argument,
    where a 404 means someone tried an id that is not theirs or does not exist), is written to the
    audit trail with user, IP and path: an ACCESS entry on the user. At most one entry per user,
    path and minute (cache.add), so a script probing ids cannot flood the trail.

    Only logged-in users are recorded: the entry hangs on the account, and an anonymous visitor is
    sent to the login page before any object URL answers.
    Placed before auditlog's middleware, so the entry carries our address, not auditlog's own.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403 or (response.status_code == 404 and _is_object_url(request)):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                from .audit import client_ip  # settings' logging loads this module before the apps

                # The path without its query: a query may hold an ID number someone searched for.
                denial_audit(user=user, path=request.path, status=response.status_code, ip=client_ip(request))
        return response


def _is_object_url(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(match and (match.kwargs or match.args))


def denial_audit(*, user, path: str, status: int, ip: str) -> None:
    """Write the SPEC SEC-6 entry unless this user had one for this path within the last minute."""
    from .audit import audit_access, printable

    path = printable(path)  # a NUL in a URL would otherwise be a database error (SPEC SEC-5)
    path_key = hashlib.sha256(path.encode()).hexdigest()[:32]
    if not cache.add(f"denial-audit:{user.pk}:{path_key}", True, timeout=DENIAL_AUDIT_SECONDS):
        return
    audit_access(user, actor=user, ip=ip, text=f"访问被拒绝（{status}）：{path}", path=path, status=status)
