"""Session rules (SPEC ACC-1, ACC-3): a 12-hour absolute limit on top of the 30-minute idle one, and
a temporary password must be changed before anything else."""
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
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


class ResolvedUserMiddleware:
    """request.user as the account itself (or AnonymousUser), not behind two lazy proxies (SPEC OPS-3).

    AuthenticationMiddleware puts the account behind a SimpleLazyObject and django-otp's middleware
    wraps that in another one. Every request reads the account anyway (the session limits, no-store,
    the audit trail's actor), and through the two proxies each attribute read was a failed lookup, an
    exception and a forwarded one: about a hundred a page. Placed right after OTPMiddleware: reading
    the proxy once runs both loaders (django-otp sets `otp_device` and `is_verified` on the account),
    then the request keeps the account that AuthenticationMiddleware's loader cached."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None:
            user.is_authenticated  # noqa: B018 — resolves django-otp's proxy and, through it, the session's
            request.user = getattr(request, "_cached_user", user)
        return self.get_response(request)


# What an account that still owes its second factor may open (SPEC SEC-8): the steps themselves.
_SECOND_FACTOR_STEPS = {
    "accounts:second_factor_verify",
    "accounts:second_factor_enrol",
    "accounts:logout",
    "accounts:login",
}


class SecondFactorMiddleware:
    """No page for a logged-in staff account (SPEC SEC-8) unless this session passed the second factor
    (django-otp's `is_verified`). The login asks for the code before it logs anyone in; this catches
    the rest — a session from before the account's device was reset, or one logged in some other way —
    by logging it out and sending it to the login, so a back-office URL opened directly gets nothing.

    A unit administrator who turned the second factor on is asked for it by the login alone: checking
    its devices here would cost every portal request a query (the pages' query budgets are tight), and
    its sessions opened without a code predate the switch."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and not user.is_verified()
            and not request.path.startswith(settings.STATIC_URL)
            and _view_name(request) not in _SECOND_FACTOR_STEPS
        ):
            logout(request)
            messages.warning(request, "为保障账号安全，请重新登录并完成两步验证。")
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)
