"""Session rules (SPEC ACC-1, ACC-3): a 12-hour absolute limit on top of the 30-minute idle one, and
a temporary password must be changed before anything else."""
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect

LOGIN_AT = "login_at"
# What an account with a temporary password may still open.
_ALLOWED_WHILE_CHANGING = {"accounts:password_change", "accounts:logout", "accounts:login"}


class SessionLimitsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response = self._enforce(request, user)
            if response is not None:
                return response
        return self.get_response(request)

    def _enforce(self, request, user):
        now = time.time()
        login_at = request.session.setdefault(LOGIN_AT, now)
        if now - login_at > settings.SESSION_ABSOLUTE_SECONDS:
            logout(request)
            messages.info(request, "登录已超过12小时，为保障账号安全，请重新登录。")
            return redirect(settings.LOGIN_URL)
        if user.must_change_password:
            # Middleware runs before URL resolution, so resolve the path here.
            if _view_name(request) not in _ALLOWED_WHILE_CHANGING and not request.path.startswith(settings.STATIC_URL):
                return redirect("accounts:password_change")
        return None


def _view_name(request) -> str:
    from django.urls import Resolver404, resolve

    try:
        match = resolve(request.path_info)
    except Resolver404:
        return ""
    return f"{match.namespace}:{match.url_name}" if match.namespace else (match.url_name or "")
