"""The second step of a login and the second factor's own pages (SPEC SEC-8, ACC-4).

After the password, an account that needs a second factor is not logged in yet: the login keeps it
"pending" in the session (for a few minutes) and sends it here. A staff account without a confirmed
device enrols first (QR code, the secret as text, a code to confirm), then sees its backup codes
once; every other pending account types a code from its app or a backup code. Only then is it logged
in (Django's login, which also ends the pair's failed-login count) and its session marked verified
(django-otp). A wrong code is a failed login of the (account, address) pair: django-axes counts it
and locks the pair after the fifth, as for a wrong password.
"""
import time

import django_otp
from django import forms
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_static.models import StaticDevice

from mutualaid.audit import client_ip
from mutualaid.pii import pii_decrypt, pii_encrypt

from ..middleware import LOGIN_AT
from ..models import User
from .. import second_factor as services
from ..second_factor import (
    BACKUP_CODE_COUNT,
    backup_codes_left,
    second_factor_enabled,
    totp_enrolment_confirm,
    totp_enrolment_start,
    totp_qr_data_uri,
    totp_secret_text,
)
from ..services import AccountError, account_locked_until, pair_locked_until

PENDING_SESSION_KEY = "accounts.second_factor.pending"
BACKUP_CODES_SESSION_KEY = "accounts.second_factor.backup_codes"
PENDING_VALID_SECONDS = 5 * 60


class CodeForm(forms.Form):
    code = forms.CharField(
        label="验证码",
        max_length=20,
        error_messages={"required": "请输入验证码。"},
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "aria-describedby": "id_code_helptext",
            }
        ),
    )


# The pending login ---------------------------------------------------------------------------------


def login_pending_start(request, *, user: User, next_url: str) -> str:
    """Called by the login after a right password for an account that needs a second factor: remember
    who it is, for a few minutes, and return where to go (enrolment for staff without a device)."""
    request.session[PENDING_SESSION_KEY] = {
        "user": user.pk,
        "backend": user.backend,
        "next": next_url,
        "at": time.time(),
    }
    if user.is_staff and not second_factor_enabled(user):
        return reverse("accounts:second_factor_enrol")
    return reverse("accounts:second_factor_verify")


def _pending(request) -> tuple[User | None, dict]:
    pending = request.session.get(PENDING_SESSION_KEY) or {}
    if not pending or time.time() - pending.get("at", 0) > PENDING_VALID_SECONDS:
        request.session.pop(PENDING_SESSION_KEY, None)
        return None, {}
    user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
    return user, pending


def _back_to_login(request, message: str = "请先输入账号和密码登录。"):
    request.session.pop(PENDING_SESSION_KEY, None)
    messages.info(request, message)
    return redirect("accounts:login")


def _lockout_if_locked(request, user: User):
    """The lockout page if the (account, address) pair or the account is locked (SPEC ACC-4), else None."""
    from .auth import lockout_response

    if pair_locked_until(username=user.username, ip_address=client_ip(request)) or account_locked_until(
        username=user.username
    ):
        request.session.pop(PENDING_SESSION_KEY, None)
        return lockout_response(request, credentials={"username": user.username})
    return None


def _count_failure(request, user: User):
    """A wrong code is a failed login of the account from this address (SPEC SEC-8, ACC-4): django-axes
    counts it like a wrong password. Returns the lockout page when this failure locked the pair (the
    axes middleware would draw the same page)."""
    user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)
    if getattr(request, "axes_locked_out", False):
        request.session.pop(PENDING_SESSION_KEY, None)
        return redirect("accounts:login")  # replaced by the lockout page (axes.middleware.AxesMiddleware)
    return _lockout_if_locked(request, user)


def _login_complete(request, *, user: User, device, pending: dict, then: str = ""):
    """Log `user` in with the session marked verified by `device`; then the temporary-password
    change if one is due (SPEC ACC-3), else `then` or where the login was going."""
    request.session.pop(PENDING_SESSION_KEY, None)
    auth_login(request, user, backend=pending["backend"])  # new session key; axes ends the failure count
    django_otp.login(request, device)
    request.session[LOGIN_AT] = time.time()
    if user.must_change_password:
        messages.warning(request, "您正在使用临时密码登录，请先设置新密码。")
        return redirect("accounts:password_change")
    return redirect(then or _safe_next(request, pending.get("next")))


def _safe_next(request, url: str | None) -> str:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return reverse("accounts:landing")


# The pages -----------------------------------------------------------------------------------------


@never_cache
@login_not_required
@sensitive_post_parameters("code")
def second_factor_verify(request):
    """【两步验证】: the code from the authenticator app, or a backup code."""
    user, pending = _pending(request)
    if user is None:
        return _back_to_login(request, "登录已超时或尚未输入密码，请重新登录。")
    if not second_factor_enabled(user):
        return redirect("accounts:second_factor_enrol")
    locked = _lockout_if_locked(request, user)
    if locked:
        return locked
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.second_factor_verify(user=user, code=form.cleaned_data["code"])
        if device is not None:
            if isinstance(device, StaticDevice):
                left = backup_codes_left(user)
                messages.warning(
                    request,
                    f"您使用了一个备用验证码，每个只能使用一次，还剩 {left} 个。"
                    + ("备用验证码已用完，如手机丢失请联系超级管理员重置两步验证。" if left == 0 else ""),
                )
            return _login_complete(request, user=user, device=device, pending=pending)
        stop = _count_failure(request, user)
        if stop is not None:
            return stop
        form.add_error("code", "验证码错误，请输入身份验证器中当前显示的6位数字，或一个未使用过的备用验证码。")
    return render(request, "accounts/second_factor/verify.html", {"form": form, "account": user})


@never_cache
@login_not_required
@sensitive_post_parameters("code")
def second_factor_enrol(request):
    """【绑定身份验证器】: at a staff member's first login (pending), or a logged-in unit administrator
    turning it on from 【两步验证】 (SPEC SEC-8)."""
    if request.user.is_authenticated:
        user, pending = request.user, {}
        if second_factor_enabled(user):
            messages.info(request, "您的账号已开启两步验证。")
            return redirect("accounts:second_factor")
    else:
        user, pending = _pending(request)
        if user is None:
            return _back_to_login(request, "登录已超时或尚未输入密码，请重新登录。")
        if second_factor_enabled(user):
            return redirect("accounts:second_factor_verify")
        locked = _lockout_if_locked(request, user)
        if locked:
            return locked
    device = totp_enrolment_start(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = totp_enrolment_confirm(user=user, code=form.cleaned_data["code"])
        except AccountError as error:
            if pending:  # during a login a wrong code is a failed login (SPEC ACC-4)
                stop = _count_failure(request, user)
                if stop is not None:
                    return stop
            form.add_error("code", error.message)
        else:
            backup_url = reverse("accounts:second_factor_backup_codes")
            if pending:
                response = _login_complete(request, user=user, device=device, pending=pending, then=backup_url)
                request.session["accounts.second_factor.next"] = _safe_next(request, pending.get("next"))
            else:
                django_otp.login(request, device)
                request.session["accounts.second_factor.next"] = reverse("accounts:second_factor")
                response = redirect(backup_url)
            request.session[BACKUP_CODES_SESSION_KEY] = pii_encrypt(" ".join(codes))
            messages.success(request, "两步验证已开启。")
            return response
    context = {
        "form": form,
        "account": user,
        "pending": bool(pending),
        "qr_data_uri": totp_qr_data_uri(device),
        "secret": totp_secret_text(device),
        "base_template": "accounts/second_factor/login_frame.html" if pending else "platform_base.html",
    }
    return render(request, "accounts/second_factor/enrol.html", context)


@never_cache
def second_factor_backup_codes(request):
    """The backup codes, shown once right after enrolment (a reload finds nothing)."""
    stored = request.session.pop(BACKUP_CODES_SESSION_KEY, None)
    codes = pii_decrypt(stored).split() if stored else []
    next_url = request.session.get("accounts.second_factor.next") or reverse("accounts:landing")
    context = {"codes": codes, "next_url": next_url, "code_count": BACKUP_CODE_COUNT}
    return render(request, "accounts/second_factor/backup_codes.html", context)


@never_cache
def second_factor_settings(request):
    """【两步验证】 beside 修改密码: whether it is on, the backup codes left, and the way to turn it on."""
    user = request.user
    enabled = second_factor_enabled(user)
    context = {"enabled": enabled, "backup_codes_left": backup_codes_left(user) if enabled else 0}
    return render(request, "accounts/second_factor/settings.html", context)
