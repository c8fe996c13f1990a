from django import forms
from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    """账号 + 密码 (SPEC ACC-1); the captcha and lockout come with the accounts issue."""

    error_messages = {
        "invalid_login": "账号或密码错误，请重新输入。",
        "inactive": "该账号已停用，请联系上级工会或职保会。",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "账号"
        self.fields["password"].label = "密码"
        self.fields["username"].widget.attrs.update({"class": "form-control", "placeholder": "请输入账号"})
        self.fields["password"].widget.attrs.update({"class": "form-control", "placeholder": "请输入密码"})
