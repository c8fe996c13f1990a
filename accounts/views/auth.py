"""Login, logout, password change and the lockout page (SPEC ACC-1, ACC-3, ACC-4)."""
import time

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone

from ..forms import LoginForm, PortalPasswordChangeForm, minutes_left
from ..middleware import LOGIN_AT
from ..second_factor import second_factor_required
from ..services import account_locked_until, account_password_changed, pair_locked_until
from .second_factor import login_pending_start


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if second_factor_required(user):
            # SPEC SEC-8: not logged in until the code (or enrolment) step passes.
            return redirect(login_pending_start(self.request, user=user, next_url=self.get_success_url()))
        response = super().form_valid(form)  # logs in with a new session key
        self.request.session[LOGIN_AT] = time.time()
        user = form.get_user()
        if user.must_change_password:
            messages.warning(self.request, "您正在使用临时密码登录，请先设置新密码。")
            return redirect("accounts:password_change")
        return response


def lockout_response(request, original_response=None, credentials=None):
    """django-axes calls this when an (account, address) pair is locked: the login page again, with
    the time left, instead of a bare 429 (SPEC ACC-4)."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    ip_address = getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR", "")
    until = pair_locked_until(username=username, ip_address=ip_address) or account_locked_until(username=username)
    minutes = minutes_left(until) if until else 15
    form = LoginForm(request, initial={"username": username})
    context = {
        "form": form,
        "locked_message": f"登录失败次数过多，该账号在本机已被锁定，请于{minutes}分钟后再试，或联系上级工会（未建会单位联系职保会）解锁。",
        "locked_until": until or timezone.now(),
    }
    return render(request, "accounts/login.html", context, status=429)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    form_class = PortalPasswordChangeForm
    success_url = reverse_lazy("accounts:landing")

    def form_valid(self, form):
        response = super().form_valid(form)  # keeps this session, ends the others
        account_password_changed(account=self.request.user)
        messages.success(self.request, "密码已修改。")
        return response
