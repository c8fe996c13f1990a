"""【企业注册】, e-mail confirmation and the self-service password reset (SPEC ACC-2, ACC-3).

Everything here but the resend of the confirmation mail is public (login_not_required): the people
using it have no account yet, or cannot log in.
"""
import time

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mutualaid.sms_views import sms_code_send_response

from ..forms import (
    PortalPasswordResetForm,
    PortalSetPasswordForm,
    RegistrationForm,
    SmsCodeRequestForm,
)
from ..middleware import LOGIN_AT
from ..models import User
from ..services import (
    SMS_PURPOSE_REGISTER,
    AccountError,
    account_password_reset_by_email,
    account_register,
    email_confirm,
    email_confirmation_resend,
)

# The one backend that logs a password user in (django-axes' LockoutBackend only refuses).
_LOGIN_BACKEND = "accounts.roles.RolePermissionBackend"
SUPPORT_HOTLINE = "12351"


@login_not_required
@require_http_methods(["GET", "POST"])
def register(request):
    """SPEC ACC-2: the account is active at once; the unit lands on the platform, logged in."""
    if request.user.is_authenticated:
        return redirect("accounts:landing")
    form = RegistrationForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            user = account_register(**form.account_arguments(), request=request)
        except (AccountError, IntegrityError) as error:
            # The form checked the name already; if it is taken now, another registration won the
            # race (IntegrityError when both passed the check). Otherwise the SMS code was refused.
            username = form.cleaned_data["username"]
            if User.objects.filter(username__iexact=username).exists():
                form.add_error("username", "该账号名已被使用，请换一个。")
            else:
                form.add_error("sms_code", getattr(error, "message", "注册未成功，请重试。"))
        else:
            login(request, user, backend=_LOGIN_BACKEND)
            request.session[LOGIN_AT] = time.time()
            messages.success(
                request,
                f"注册成功。确认邮件已发送至 {user.email}，请在3天内点击邮件中的链接确认邮箱"
                "（确认后，忘记密码时可通过邮箱自行重置）。",
            )
            return redirect("accounts:landing")
    # The captcha of 【获取验证码】 (SPEC SEC-3), posted with the mobile by register_sms.
    return render(request, "accounts/register.html", {"form": form, "sms_form": SmsCodeRequestForm()})


@login_not_required
@require_POST
def register_sms(request):
    """【获取验证码】 (htmx): the result as a line of text for beside the field, with the seconds
    before the button may be used again (SPEC ACC-2; mutualaid.sms: 60 s, 5 an hour). Public, so
    behind the captcha and the per-IP and hourly limits (SPEC SEC-3)."""
    return sms_code_send_response(request=request, form=SmsCodeRequestForm(request.POST), mobile_field="mobile", purpose=SMS_PURPOSE_REGISTER)


@login_not_required
@require_GET
def email_confirm_link(request, token):
    """The link of the confirmation mail (SPEC ACC-2): a page saying it worked, or why not."""
    try:
        user = email_confirm(token=token)
    except AccountError as error:
        return render(request, "accounts/email_confirm.html", {"error": error.message})
    return render(request, "accounts/email_confirm.html", {"confirmed_email": user.email})


@require_POST
def email_confirm_resend(request):
    """【重新发送确认邮件】 from the landing page, for the logged-in unit."""
    if not request.user.is_unit_admin:
        return redirect("admin:index")
    try:
        email_confirmation_resend(user=request.user, request=request)
    except AccountError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"确认邮件已重新发送至 {request.user.email}，请在3天内点击邮件中的链接。")
    return redirect("accounts:landing")


# Self-service reset by an e-mailed link (SPEC ACC-3 [departure]). Django's views, which are
# login_not_required already; the link is valid settings.PASSWORD_RESET_TIMEOUT (30 minutes) and
# spent once the password changes (the token covers the password hash).


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PortalPasswordResetForm
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")
    extra_email_context = {"hotline": SUPPORT_HOTLINE}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = PortalSetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    @transaction.atomic
    def form_valid(self, form):
        response = super().form_valid(form)  # saves the password; other sessions end with it
        account_password_reset_by_email(account=form.user)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
