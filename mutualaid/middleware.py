"""A request id on every request: in the logs, in the X-Request-ID header and on the 500 page, so
a clerk can quote it to the hotline and we can find the traceback."""
import contextvars
import logging
import re
import uuid

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
