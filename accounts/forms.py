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

    def validate_password_for_user(self, user, password_field_name="new_password2"):
        # The same Chinese wording of the password rules as registration (Django's is partly English).
        password = self.cleaned_data.get(password_field_name)
        if password:
            try:
                password_validate(password, user=user)
            except forms.ValidationError as error:
                self.add_error(password_field_name, error)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "原密码"
        self.fields["new_password1"].label = "新密码"
        self.fields["new_password2"].label = "确认新密码"
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"


# Registration and the self-service password reset (SPEC ACC-2, ACC-3) -------------------------------

import re  # noqa: E402  (this section is appended; the imports above belong to the login forms)

from django.contrib.auth import password_validation  # noqa: E402
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm  # noqa: E402

from mutualaid.forms import MarksInvalidFields, MobileField, chinese_required  # noqa: E402
from mutualaid.validators import validate_uscc  # noqa: E402

from .models import NO_UNION_LABEL, Role, UnionOrganisation, User  # noqa: E402

ACCOUNT_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{4,30}$")
NO_UNION_VALUE = "none"
# Django's zh-Hans catalogue lacks some validator messages (the minimum length one comes out in
# English), so the portal words them itself, by the validators' error codes.
_PASSWORD_MESSAGES = {
    "password_too_short": "密码太短，至少需要{min_length}个字符。",
    "password_too_similar": "密码与账号、单位名称或邮箱过于相似，请换一个。",
    "password_too_common": "密码过于常见，容易被猜到，请换一个。",
    "password_entirely_numeric": "密码不能全是数字，请加入字母或符号。",
}


def password_validate(password: str, *, user: User) -> None:
    """settings.AUTH_PASSWORD_VALIDATORS, with every message in Chinese."""
    try:
        password_validation.validate_password(password, user=user)
    except forms.ValidationError as error:
        messages = []
        for item in error.error_list:
            template = _PASSWORD_MESSAGES.get(item.code)
            messages.append(template.format(**(item.params or {})) if template else item.messages[0])
        raise forms.ValidationError(messages) from error


def union_organisation_choices() -> list:
    """The select of 上级工会: 未建会 first, then each active level-1 organisation as a group holding
    itself and its active level-2 ones (one query)."""
    organisations = list(UnionOrganisation.objects.filter(is_active=True).order_by("level", "sort_order", "name"))
    children: dict[int, list[UnionOrganisation]] = {}
    for organisation in organisations:
        if organisation.level == UnionOrganisation.Level.SECOND:
            children.setdefault(organisation.parent_id, []).append(organisation)
    choices: list = [("", "请选择上级工会"), (NO_UNION_VALUE, f"{NO_UNION_LABEL}（本单位没有工会）")]
    for parent in organisations:
        if parent.level == UnionOrganisation.Level.FIRST:
            group = [(str(parent.pk), parent.name)] + [(str(c.pk), c.name) for c in children.get(parent.pk, [])]
            choices.append((parent.name, group))
    return choices


class RegistrationForm(MarksInvalidFields, forms.Form):
    """【企业注册】 (SPEC ACC-2). Checks each field's format; the SMS code and the account name's
    last check are account_register's. Changes nothing itself."""

    username = forms.CharField(
        label="账号",
        max_length=30,
        error_messages={"max_length": "账号应为4至30位字母、数字或 _ - .（不能含空格或中文）。"},
        help_text="4至30位字母、数字或 _ - .，登录时使用，区分大小写",
        widget=forms.TextInput(attrs={"autocomplete": "username", "placeholder": "如：pt-company01"}),
    )
    password1 = forms.CharField(
        label="密码",
        strip=False,
        help_text="至少8位，不能全是数字，不要与账号相似",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="确认密码", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    unit_name = forms.CharField(
        label="单位名称", max_length=200, widget=forms.TextInput(attrs={"placeholder": "与营业执照上的名称一致"})
    )
    uscc = forms.CharField(
        label="统一社会信用代码",
        max_length=40,
        help_text="18位，见营业执照或事业单位法人证书",
        widget=forms.TextInput(attrs={"class": "form-control text-uppercase", "autocomplete": "off"}),
    )
    union_organisation = forms.ChoiceField(label="上级工会", help_text="没有工会的单位请选择“未建会”")
    mobile = MobileField(label="联系人手机")
    sms_code = forms.CharField(
        label="验证码",
        max_length=6,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "placeholder": "6位短信验证码"}
        ),
    )
    email = forms.EmailField(
        label="联系人邮箱",
        max_length=254,
        help_text="注册后请点击确认邮件中的链接；忘记密码时可通过该邮箱自行重置",
        error_messages={"invalid": "请输入有效的邮箱地址，如 name@example.com。"},
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "name@example.com"}),
    )

    # How the page groups the fields; a field named in WIDE takes the whole row on a wide screen.
    SECTIONS = [
        ("账号信息", ["username", "password1", "password2"]),
        ("单位信息", ["unit_name", "uscc", "union_organisation"]),
        ("联系人信息", ["mobile", "sms_code", "email"]),
    ]
    WIDE = {"username", "unit_name", "email"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["union_organisation"].choices = union_organisation_choices()
        chinese_required(self)
        self.fields["union_organisation"].error_messages["invalid_choice"] = "所选上级工会不存在或已停用，请重新选择。"

    def sections(self):
        return [
            {"title": title, "fields": [(self[name], name in self.WIDE) for name in names]}
            for title, names in self.SECTIONS
        ]

    def clean_username(self):
        username = self.cleaned_data["username"]
        if not ACCOUNT_NAME_PATTERN.match(username):
            raise forms.ValidationError("账号应为4至30位字母、数字或 _ - .（不能含空格或中文）。")
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("该账号名已被使用，请换一个。")
        return username

    def clean_uscc(self):
        return validate_uscc(self.cleaned_data["uscc"])  # its canonical form (SPEC SEC-1)

    def clean_sms_code(self):
        code = self.cleaned_data["sms_code"]
        if not re.fullmatch(r"[0-9]{6}", code):
            raise forms.ValidationError("请输入6位数字短信验证码。")
        return code

    def clean_union_organisation(self):
        value = self.cleaned_data["union_organisation"]
        if value == NO_UNION_VALUE:
            return None
        organisation = UnionOrganisation.objects.filter(pk=value, is_active=True).first()
        if organisation is None:
            raise forms.ValidationError("所选上级工会不存在或已停用，请重新选择。")
        return organisation

    def clean_password2(self):
        password1 = self.cleaned_data.get("password1")
        password2 = self.cleaned_data["password2"]
        if password1 and password1 != password2:
            raise forms.ValidationError("两次输入的密码不一致，请重新输入。")
        return password2

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password1")
        if password:
            candidate = User(
                username=cleaned.get("username", ""), email=cleaned.get("email", ""), first_name=cleaned.get("unit_name", "")[:150]
            )
            try:
                password_validate(password, user=candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned

    def account_arguments(self) -> dict:
        """The keyword arguments of services.account_register."""
        data = self.cleaned_data
        return {
            "username": data["username"],
            "password": data["password1"],
            "unit_name": data["unit_name"],
            "uscc": data["uscc"],
            "mobile": data["mobile"],
            "sms_code": data["sms_code"],
            "email": data["email"],
            "union_organisation": data["union_organisation"],
        }


class SmsCodeRequestForm(MarksInvalidFields, forms.Form):
    """【获取验证码】 beside 联系人手机 (SPEC ACC-2). Anyone may ask (no login), so a captcha comes
    first, the login's own (SPEC SEC-3); a right answer is spent, the page then draws a new one."""

    mobile = MobileField(label="联系人手机")
    captcha = CaptchaField(
        label="图形验证码",
        widget=CaptchaInput(attrs={"class": "form-control", "placeholder": "请输入图形验证码", "autocomplete": "off"}),
        error_messages={"invalid": "图形验证码错误，请重新输入。", "required": "请先输入图形验证码。"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        chinese_required(self)
        self.fields["captcha"].error_messages["required"] = "请先输入图形验证码。"


class PortalPasswordResetForm(MarksInvalidFields, PasswordResetForm):
    """Self-service reset (SPEC ACC-3 [departure]): only active unit accounts whose e-mail has been
    confirmed get a link. The page says the same whatever the address, so nobody learns which
    addresses have accounts."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["email"]
        field.label = "联系人邮箱"
        field.error_messages["invalid"] = "请输入有效的邮箱地址，如 name@example.com。"
        field.widget.attrs.update({"placeholder": "注册时填写并已确认的邮箱"})
        chinese_required(self)

    def get_users(self, email):
        # Active unit accounts with this confirmed address, whether or not they have a usable
        # password: accounts imported from the old platform have none until they set one (ACC-7).
        return User.objects.filter(
            email__iexact=email, is_active=True, role=Role.UNIT_ADMIN, is_superuser=False, email_confirmed_at__isnull=False
        ).iterator()


class PortalSetPasswordForm(MarksInvalidFields, SetPasswordForm):
    """The new password of a self-service reset, with Chinese messages."""

    error_messages = {"password_mismatch": "两次输入的密码不一致，请重新输入。"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = "新密码"
        self.fields["new_password1"].help_text = "至少8位，不能全是数字，不要与账号相似"
        self.fields["new_password2"].label = "确认新密码"
        self.fields["new_password2"].help_text = ""
        chinese_required(self)

    def validate_password_for_user(self, user, password_field_name="new_password2"):
        # Django's SetPasswordForm puts its messages at the confirmation; ours are Chinese and sit
        # at 新密码, like the registration form's.
        password = self.cleaned_data.get("new_password1")
        if password and "new_password2" not in self.errors:
            try:
                password_validate(password, user=user)
            except forms.ValidationError as error:
                self.add_error("new_password1", error)
