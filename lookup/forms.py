"""参保查询's forms (SPEC LOOK-1): they check the input's shape only; what is found is the services'."""
import re

from captcha.fields import CaptchaField
from django import forms

from accounts.forms import CaptchaInput
from mutualaid.forms import MarksInvalidFields, chinese_required
from mutualaid.identifiers import canonical, canonical_id_number
from mutualaid.validators import resident_id_problem
from rosters.models import IdType

OTHER_ID_PATTERN = re.compile(r"^[A-Z0-9-]{4,30}$")  # SPEC ROS-3: 非身份证


class LookupForm(MarksInvalidFields, forms.Form):
    """Step 1: 姓名, 证件类型, 证件号码 and the captcha (SPEC LOOK-1, SEC-3)."""

    name = forms.CharField(label="姓名", max_length=50, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    id_type = forms.ChoiceField(label="证件类型", choices=IdType.choices, initial=IdType.RESIDENT)
    id_number = forms.CharField(
        label="证件号码",
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "form-control text-uppercase", "spellcheck": "false"}),
    )
    captcha = CaptchaField(
        label="图形验证码",
        widget=CaptchaInput(attrs={"class": "form-control", "placeholder": "请输入图形验证码", "autocomplete": "off"}),
        error_messages={"invalid": "图形验证码错误，请重新输入。", "required": "请输入图形验证码。"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        chinese_required(self)
        self.fields["captcha"].error_messages["required"] = "请输入图形验证码。"
        self.fields["name"].error_messages["max_length"] = "姓名最多50个字符。"
        self.fields["id_number"].error_messages["max_length"] = "证件号码过长，请核对。"

    def clean_name(self):
        name = self.cleaned_data["name"]
        if not name.isprintable():
            raise forms.ValidationError("姓名含有无法识别的字符，请核对。")
        return name

    def clean(self):
        data = super().clean()
        raw = data.get("id_number")
        id_type = data.get("id_type")
        if raw is None or not id_type:
            return data
        # SPEC SEC-1: the one normaliser; a refused value is never hashed.
        number, problem = canonical_id_number(raw)
        if not problem:
            if id_type == IdType.RESIDENT:
                problem = resident_id_problem(number)
            elif not OTHER_ID_PATTERN.fullmatch(number):
                problem = "非身份证号码应为4–30位字母、数字或“-”"
        if problem:
            self.add_error("id_number", problem)
        else:
            data["id_number"] = number
        return data


class CodeForm(MarksInvalidFields, forms.Form):
    """Step 2: the SMS code (6 digits; full-width digits folded, SEC-1)."""

    code = forms.CharField(
        label="短信验证码",
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "placeholder": "6位数字"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        chinese_required(self)

    def clean_code(self):
        code, problem = canonical(self.cleaned_data["code"], column="短信验证码")
        if problem or not (len(code) == 6 and code.isdigit()):
            raise forms.ValidationError("请输入6位数字短信验证码。")
        return code
