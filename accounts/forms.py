import math

from captcha.fields import CaptchaField, CaptchaTextInput
from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.utils import timezone

from .services import AccountError, account_locked_until, temporary_password_check


def minutes_left(until) -> int:
    return max(1, math.ceil((until - timezone.now()).total_seconds() / 60))


class CaptchaInput(CaptchaTextInput):
    template_name = "accounts/widgets/captcha.html"


class LoginForm(AuthenticationForm):
    """账号 + 密码 + 验证码 (SPEC ACC-1).

    A wrong captcha is a form error and not a failed login (SPEC ACC-4): the password is not even
    checked, so django-axes never counts it. The account-wide lock is checked before the password.
    """

    captcha = CaptchaField(
        label="验证码",
        widget=CaptchaInput(attrs={"class": "form-control", "placeholder": "请输入验证码", "autocomplete": "off"}),
        error_messages={"invalid": "验证码错误，请重新输入。", "required": "请输入验证码。"},
    )

    error_messages = {
        "invalid_login": "账号或密码错误，请重新输入。",
        "inactive": "该账号已停用，请联系上级工会或职保会。",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "账号"
        self.fields["password"].label = "密码"
        self.fields["username"].error_messages["required"] = "请输入账号。"
        self.fields["password"].error_messages["required"] = "请输入密码。"
        self.fields["username"].widget.attrs.update({"class": "form-control", "placeholder": "请输入账号"})
        self.fields["password"].widget.attrs.update({"class": "form-control", "placeholder": "请输入密码"})

    def clean(self):
        if "captcha" in self.errors:
            return self.cleaned_data
        username = self.cleaned_data.get("username")
        if username:
            locked_until = account_locked_until(username=username)
            if locked_until:
                raise forms.ValidationError(
                    f"该账号登录失败次数过多，已被锁定，请于{minutes_left(locked_until)}分钟后再试，或联系上级工会解锁。",
                    code="account_locked",
                )
        cleaned = super().clean()
        if self.user_cache is not None:
            try:
                temporary_password_check(account=self.user_cache)
            except AccountError as error:
                raise forms.ValidationError(error.message, code="temporary_password") from error
        return cleaned


class PortalPasswordChangeForm(PasswordChangeForm):
    error_messages = {
        **PasswordChangeForm.error_messages,
        "password_incorrect": "原密码不正确，请重新输入。",
        "password_mismatch": "两次输入的新密码不一致。",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "原密码"
        self.fields["new_password1"].label = "新密码"
        self.fields["new_password2"].label = "确认新密码"
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"
