"""Forms of the roster page (SPEC ROS-6, ROS-7): they read and check input; services change state."""
import datetime as dt

from django import forms
from django.core.exceptions import ValidationError

from mutualaid.identifiers import canonical_mobile
from mutualaid.validators import validate_mobile

from .models import Sex, WorkStatus
from .selectors import OVER_AGE, UNDER_AGE

ALL = ("", "全部")


class RosterFilterForm(forms.Form):
    """参保批次人员管理's search fields and filters (SPEC ROS-6), read from the URL (GET) so a filtered
    page can be bookmarked and the row actions return to it (UI.md "Lists")."""

    name = forms.CharField(label="姓名", required=False, max_length=50)
    id_number = forms.CharField(label="证件号", required=False, max_length=40)
    ss_unit_code = forms.CharField(label="单位社保号", required=False, max_length=20)
    work_status = forms.ChoiceField(label="职退状态", required=False, choices=[ALL, *WorkStatus.choices])
    over_age = forms.ChoiceField(
        label="是否超龄", required=False, choices=[ALL, (OVER_AGE, "超龄"), (UNDER_AGE, "未超龄")]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("name", "id_number", "ss_unit_code"):
            self.fields[name].widget.attrs.update({"class": "form-control form-control-sm", "autocomplete": "off"})
        for name in ("work_status", "over_age"):
            self.fields[name].widget.attrs.update({"class": "form-select form-select-sm"})

    def clean_name(self):
        return " ".join(self.cleaned_data["name"].split())

    def clean_ss_unit_code(self):
        return "".join(self.cleaned_data["ss_unit_code"].split()).upper()

    def search_arguments(self) -> dict:
        """The keyword arguments of rosters.selectors.roster_search; an invalid value (a hand-edited
        URL) counts as 全部 rather than an error page."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {key: data.get(key) or "" for key in self.fields}


YES_NO = [(True, "是"), (False, "否")]


class RosterEntryMobileForm(forms.Form):
    """【修改手机号】 of a 身份证 entry (the 【编辑】 view; SPEC ROS-7 keeps 【编辑】 for 非身份证
    entries): its 手机号 only ([departure], for 参保查询 LOOK-1; name, birth date and sex come from the
    number). The mobile goes through SEC-1's normaliser and must be 11 digits
    starting with 1, as at import (ROS-3). It is not sent back to the browser (X-1): left empty, the
    entry keeps the mobile it has (an empty mobile is allowed)."""

    mobile = forms.CharField(label="手机号", required=False, max_length=20, error_messages={"max_length": "请输入11位手机号码。"})

    def __init__(self, *args, current_mobile_masked: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mobile"].widget.attrs.update({"class": "form-control", "inputmode": "numeric", "autocomplete": "off"})
        if current_mobile_masked:
            self.fields["mobile"].widget.attrs["placeholder"] = current_mobile_masked
            self.fields["mobile"].help_text = f"当前：{current_mobile_masked}。不修改请留空。"
        else:
            self.fields["mobile"].help_text = "选填，11位手机号码；未登记手机号的人员无法通过【参保查询】查看本人参保情况。"

    def clean_mobile(self):
        mobile, problem = canonical_mobile(self.cleaned_data["mobile"])  # SPEC SEC-1
        if problem:
            raise ValidationError(problem)
        if mobile:
            validate_mobile(mobile)
        return mobile

    def changed_fields(self) -> dict:
        """The values for rosters.services.roster_entry_update: an empty mobile means "unchanged"."""
        fields = dict(self.cleaned_data)
        if not fields.get("mobile"):
            fields.pop("mobile", None)
        return fields


class RosterEntryForm(RosterEntryMobileForm):
    """【编辑】 of a 非身份证 entry (SPEC ROS-7), checked like an imported row (ROS-3): 姓名 1–50 characters,
    出生日期 a real past date, 性别, 手机号 11 digits or empty (as RosterEntryMobileForm), 是否有社保. The
    number and 证件类型 are shown, never posted."""

    field_order = ["name", "birth_date", "sex", "mobile", "has_social_security"]

    name = forms.CharField(label="姓名", max_length=50, error_messages={"required": "请填写姓名。", "max_length": "姓名不能超过50个字符。"})
    birth_date = forms.DateField(
        label="出生日期",
        input_formats=["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "请填写出生日期。", "invalid": "请按 1990-01-01 的格式填写出生日期。"},
    )
    sex = forms.ChoiceField(
        label="性别",
        choices=Sex.choices,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={"required": "请选择性别。"},
    )
    has_social_security = forms.TypedChoiceField(
        label="是否有社保",
        choices=YES_NO,
        coerce=lambda value: value in (True, "True"),
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={"required": "请选择是否有社保。"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update({"class": "form-control", "autocomplete": "off"})
        self.fields["birth_date"].widget.attrs.update({"class": "form-control"})

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError("请填写姓名。")
        return name

    def clean_birth_date(self):
        birth_date = self.cleaned_data["birth_date"]
        if birth_date > dt.date.today() or birth_date.year < 1900:
            raise ValidationError("出生日期不正确，请核对。")
        return birth_date
