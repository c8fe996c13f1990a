"""Forms of the unit workspace. They check input only; the services change state (STYLE.md §1)."""
import re

from django import forms

from accounts.models import UnionOrganisation
from mutualaid.forms import MarksInvalidFields, MobileField, chinese_required
from mutualaid.identifiers import canonical_enrollment_code
from mutualaid.validators import validate_postcode, validate_uscc

from .models import CodeApplication, UnitNature
from .services import APPLICATION_FIELDS

# --- 参保编码申请 (SPEC CODE-1, CODE-2) -----------------------------------------------------------------

ATTACHMENT_HELP = (
    "《社会保险费缴费申报表》或《单位参加城镇社会保险基本情况》或法人登记证（复印件盖公章（红章））"
    "或营业执照（复印件盖公章（红章））"
)


def committee_choices() -> list:
    """工委名称 (SPEC CODE-2): the active level-1 organisations, each as a group holding itself and
    its active level-2 ones (one query)."""
    organisations = list(UnionOrganisation.objects.filter(is_active=True).order_by("level", "sort_order", "name"))
    children: dict[int, list[UnionOrganisation]] = {}
    for organisation in organisations:
        if organisation.level == UnionOrganisation.Level.SECOND:
            children.setdefault(organisation.parent_id, []).append(organisation)
    choices: list = [("", "请选择工委名称")]
    for parent in organisations:
        if parent.level == UnionOrganisation.Level.FIRST:
            group = [(str(parent.pk), parent.name)] + [(str(c.pk), c.name) for c in children.get(parent.pk, [])]
            choices.append((parent.name, group))
    return choices


class CodeApplicationFilterForm(forms.Form):
    """The filters above 在线申请参保编码 (SPEC CODE-1); they live in the URL (UI.md, "Lists")."""

    STATUS_CHOICES = [("", "全部"), *CodeApplication.Status.choices]

    unit_name = forms.CharField(
        label="单位名称",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "请输入单位名称"}),
    )
    status = forms.ChoiceField(
        label="审批状态", required=False, choices=STATUS_CHOICES, widget=forms.Select(attrs={"class": "form-select"})
    )

    def filter(self, queryset):
        """The applications matching the filters; an invalid value (a hand-edited URL) filters nothing."""
        if not self.is_valid():
            return queryset
        unit_name = self.cleaned_data["unit_name"].strip()
        if unit_name:
            queryset = queryset.filter(unit_name__icontains=unit_name)
        if self.cleaned_data["status"]:
            queryset = queryset.filter(status=self.cleaned_data["status"])
        return queryset


class CodeApplicationForm(MarksInvalidFields, forms.Form):
    """申请参保编码 (SPEC CODE-2). Checks each field's format; the unit name (CODE-3), the SMS code
    and the attachments are code_application_submit's."""

    unit_name = forms.CharField(
        label="单位名称", max_length=200, widget=forms.TextInput(attrs={"placeholder": "与营业执照上的名称一致"})
    )
    committee = forms.ChoiceField(label="工委名称")
    uscc = forms.CharField(
        label="统一信用代码",
        required=False,
        max_length=40,
        help_text="18位统一社会信用代码，见营业执照",
        widget=forms.TextInput(attrs={"class": "form-control text-uppercase", "autocomplete": "off"}),
    )
    nature = forms.ChoiceField(label="单位性质", choices=[("", "请选择单位性质"), *UnitNature.choices])
    contact_name = forms.CharField(label="联系人", max_length=50)
    address = forms.CharField(label="单位地址", max_length=200)
    contact_mobile = MobileField(label="联系人手机", help_text="验证码将发送至该手机")
    postcode = forms.CharField(
        label="邮政编码",
        max_length=6,
        validators=[validate_postcode],
        error_messages={"max_length": "请输入6位邮政编码。"},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "6位数字"}),
    )
    contact_email = forms.EmailField(
        label="联系人邮箱",
        max_length=254,
        error_messages={"invalid": "请输入有效的邮箱地址，如 name@example.com。"},
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "name@example.com"}),
    )
    headcount = forms.IntegerField(
        label="在职人数",
        min_value=1,
        max_value=9_999_999,
        error_messages={
            "invalid": "在职人数请填写整数。",
            "min_value": "在职人数须大于0。",
            "max_value": "在职人数过大，请核对。",
        },
        widget=forms.NumberInput(attrs={"min": "1", "inputmode": "numeric"}),
    )
    leader_name = forms.CharField(label="负责人", max_length=50, required=False)
    leader_mobile = MobileField(label="负责人手机", required=False)
    unit_phone = forms.CharField(
        label="单位电话", max_length=30, required=False, widget=forms.TextInput(attrs={"placeholder": "如：021-63619921"})
    )
    sms_code = forms.CharField(
        label="验证码",
        max_length=6,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "placeholder": "6位短信验证码"}
        ),
    )
    # The attachment component's drafts (mutualaid/attachments.py) and the submission's own id: a
    # repeated POST of the same form (double click, back and submit again) leads to the application
    # it created instead of creating another (UI.md, "Dialogs").
    draft_token = forms.CharField(required=False, widget=forms.HiddenInput)
    submission_token = forms.CharField(required=False, widget=forms.HiddenInput)

    # The handbook's two columns, row by row (left, right).
    ROWS = [
        ("unit_name", "committee"),
        ("uscc", "nature"),
        ("contact_name", "address"),
        ("contact_mobile", "postcode"),
        ("contact_email", "leader_name"),
        ("headcount", "leader_mobile"),
        ("sms_code", "unit_phone"),
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["committee"].choices = committee_choices()
        chinese_required(self)
        self.fields["headcount"].error_messages["required"] = "请输入在职人数。"
        self.fields["committee"].error_messages["invalid_choice"] = "所选工委不存在或已停用，请重新选择。"
        self.fields["nature"].error_messages["invalid_choice"] = "请从列表中选择单位性质。"

    @classmethod
    def initial_from(cls, application: CodeApplication) -> dict:
        """The form filled with a (rejected) application, for 【编辑】 (SPEC CODE-4)."""
        initial = {name: getattr(application, name) for name in APPLICATION_FIELDS}
        initial["committee"] = str(application.committee_id)
        return initial

    @classmethod
    def initial_from_account(cls, account) -> dict:
        """A new application filled with what 企业注册 already asked (SPEC ACC-2, CODE-2): unit name,
        USCC, contact mobile and e-mail, and the union organisation as 工委名称; the unit checks them."""
        initial = {
            "unit_name": account.unit_name,
            "uscc": account.uscc,
            "contact_mobile": account.mobile,
            "contact_email": account.email,
            "committee": str(account.union_organisation_id or ""),
        }
        return {name: value for name, value in initial.items() if value}

    def field_rows(self):
        return [(self[left], self[right]) for left, right in self.ROWS]

    def clean_unit_name(self):
        name = " ".join(self.cleaned_data["unit_name"].split())
        if not name:
            raise forms.ValidationError("请输入单位名称。")
        return name

    def clean_committee(self):
        organisation = UnionOrganisation.objects.filter(pk=self.cleaned_data["committee"], is_active=True).first()
        if organisation is None:
            raise forms.ValidationError("所选工委不存在或已停用，请重新选择。")
        return organisation

    def clean_uscc(self):
        # SPEC CODE-2: optional; when given, the GB 32100 check character (letters allowed).
        value = self.cleaned_data["uscc"]
        if not value.strip():
            return ""
        return validate_uscc(value)  # its canonical form (SPEC SEC-1)

    def clean_sms_code(self):
        code = self.cleaned_data["sms_code"].strip()
        if not re.fullmatch(r"[0-9]{6}", code):
            raise forms.ValidationError("请输入6位数字短信验证码。")
        return code

    def application_fields(self) -> dict:
        """The `fields` argument of services.code_application_submit."""
        return {name: self.cleaned_data[name] for name in APPLICATION_FIELDS}


class CodeApplicationSmsForm(MarksInvalidFields, forms.Form):
    """【获取验证码】 beside *验证码: the code goes to 联系人手机 (SPEC CODE-2)."""

    contact_mobile = MobileField(label="联系人手机")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact_mobile"].error_messages["required"] = "请先填写联系人手机。"


# --- end of 参保编码申请 ---------------------------------------------------------------------------------


# --- 经办人填报 and 参保信息变更申请 (SPEC HND-1, HND-2) ----------------------------------------------------
# (Imports of this section sit here so the two sections can be edited apart.)

from django.urls import reverse_lazy  # noqa: E402

from accounts.forms import NO_UNION_VALUE  # noqa: E402
from accounts.models import NO_UNION_LABEL  # noqa: E402

from .models import ChangeRequest, EconomicType, HandlerInfo, Industry  # noqa: E402

EMAIL_INVALID = "请输入有效的邮箱地址，如 name@example.com。"
# A fixed line as clerks write it: 021-63619921, 63619921-8001, 12351.
FIXED_PHONE_PATTERN = re.compile(r"^\d[\d-]{3,29}$")


def union_level1_choices() -> list:
    """*一级工会组织名称 (SPEC HND-1): 未建会 first, then the active level-1 organisations."""
    organisations = UnionOrganisation.objects.filter(is_active=True, level=UnionOrganisation.Level.FIRST)
    return [
        ("", "请选择一级工会组织"),
        (NO_UNION_VALUE, NO_UNION_LABEL),
        *[(str(organisation.pk), organisation.name) for organisation in organisations.order_by("sort_order", "name")],
    ]


def union_level2_choices(level1_value: str) -> list:
    """*二级工会组织名称 for the chosen level-1 value: 未建会 follows 未建会; an organisation offers its
    active level-2 ones (or says it has none); nothing chosen yet asks for the level-1 first."""
    if level1_value == NO_UNION_VALUE:
        return [(NO_UNION_VALUE, NO_UNION_LABEL)]
    if not str(level1_value or "").isdigit():
        return [("", "请先选择一级工会组织")]
    children = UnionOrganisation.objects.filter(
        is_active=True, level=UnionOrganisation.Level.SECOND, parent_id=int(level1_value)
    ).order_by("sort_order", "name")
    choices = [(str(organisation.pk), organisation.name) for organisation in children]
    if not choices:
        return [("", "（该一级工会组织下无二级工会组织）")]
    return [("", "请选择二级工会组织"), *choices]


def union_value(organisation) -> str:
    return str(organisation.pk) if organisation is not None else NO_UNION_VALUE


class EnrollmentCodeChoiceForm(forms.Form):
    """The code a unit with several codes (rare, SPEC CODE-6) works on; the first by default."""

    code = forms.ChoiceField(label="参保编码", widget=forms.Select(attrs={"class": "form-select code-switch"}))

    def __init__(self, *args, codes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = [(code.code, f"{code.code} {code.unit_name}") for code in codes]


class HandlerInfoForm(MarksInvalidFields, forms.Form):
    """【经办人填报】 (SPEC HND-1), the fields in the handbook's order. 单位名称 and 统一社会信用代码 come
    from the code and are read only (HND-3): disabled fields, so a posted value is ignored. The union
    organisations, SMS code and ownership are handler_info_save's to check again."""

    handler_name = forms.CharField(label="经办人姓名", max_length=50)
    handler_mobile = MobileField(label="经办人电话", help_text="请填写手机号码，短信验证码将发送至该手机")
    handler_email = forms.EmailField(
        label="经办人邮箱",
        max_length=254,
        error_messages={"invalid": EMAIL_INVALID},
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "name@example.com"}),
    )
    unit_name = forms.CharField(label="单位名称", required=False, disabled=True)
    uscc = forms.CharField(label="统一社会信用代码", required=False, disabled=True)
    economic_type = forms.ChoiceField(label="经济类型名称", choices=[("", "请选择经济类型"), *EconomicType.choices])
    sms_code = forms.CharField(
        label="验证码",
        max_length=6,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "placeholder": "6位短信验证码"}
        ),
    )
    union_level1 = forms.ChoiceField(label="一级工会组织名称", help_text="没有工会的单位请选择“未建会”")
    union_level2 = forms.ChoiceField(label="二级工会组织名称", required=False)
    address = forms.CharField(label="单位地址", max_length=200)
    industry = forms.ChoiceField(label="单位所属行业名称", choices=[("", "请选择行业"), *Industry.choices])
    headcount = forms.IntegerField(
        label="职工人数",
        min_value=1,
        max_value=9_999_999,
        error_messages={"invalid": "职工人数请填写整数。", "min_value": "职工人数须大于0。", "max_value": "职工人数过大，请核对。"},
        widget=forms.NumberInput(attrs={"min": "1", "inputmode": "numeric"}),
    )

    READ_ONLY = ("unit_name", "uscc")
    # Shown with the red * of the handbook although the unit cannot change them.
    MARKED_REQUIRED = {"unit_name", "uscc", "union_level2"}

    # SPEC SEC-7: read only once 经办人填报 is saved; changed through 参保信息变更申请 (HND-2).
    CONTACT_FIELDS = ("handler_name", "handler_mobile", "handler_email", "address")

    def __init__(self, *args, saved: bool = False, **kwargs):
        """`saved`: 经办人填报 was saved before (SPEC SEC-7): the contact fields become disabled (a
        posted value is ignored, the saved one kept) and no SMS code is asked, the mobile not changing."""
        super().__init__(*args, **kwargs)
        self.saved = saved
        if saved:
            del self.fields["sms_code"]
            for name in self.CONTACT_FIELDS:
                self.fields[name].disabled = True
        chinese_required(self)
        for name in self.READ_ONLY + (self.CONTACT_FIELDS if saved else ()):
            self.fields[name].widget.attrs.update({"class": "form-control read-only-value", "placeholder": "未登记"})
        self.fields["headcount"].error_messages["required"] = "请输入职工人数。"
        self.fields["economic_type"].error_messages["invalid_choice"] = "请从列表中选择经济类型。"
        self.fields["industry"].error_messages["invalid_choice"] = "请从列表中选择行业。"
        level1 = self.fields["union_level1"]
        level1.choices = union_level1_choices()
        level1.error_messages["invalid_choice"] = "所选一级工会组织不存在或已停用，请重新选择。"
        # The level-2 list follows the chosen level-1 one (htmx); the server checks the pair again. It
        # is rendered for the level-1 value already chosen; the level-1 select stays disabled until htmx
        # has bound it (static/js/portal.js), else a choice made while the scripts load leaves a stale
        # level-2 list (the page needs scripts anyway: 【获取验证码】 is htmx too).
        level1.widget.attrs.update(
            {
                "disabled": True,
                "data-bound-by-script": True,
                "data-hx-get": reverse_lazy("enrollment:handler_level2_options"),
                "data-hx-trigger": "change",
                "data-hx-target": "#id_union_level2",
                "data-hx-swap": "innerHTML",
            }
        )
        level2 = self.fields["union_level2"]
        level2.choices = union_level2_choices(self._level1_value())
        level2.error_messages["invalid_choice"] = "所选二级工会组织不属于所选一级工会组织，请重新选择。"

    def _level1_value(self) -> str:
        if self.is_bound:
            return self.data.get(self.add_prefix("union_level1"), "")
        return str(self.initial.get("union_level1") or "")

    def fields_in_order(self):
        """(bound field, shown with *) in the handbook's order."""
        return [(self[name], field.required or name in self.MARKED_REQUIRED) for name, field in self.fields.items()]

    def clean_handler_name(self):
        name = " ".join(self.cleaned_data["handler_name"].split())
        if not name:
            raise forms.ValidationError("请输入经办人姓名。")
        return name

    def clean_address(self):
        address = self.cleaned_data["address"].strip()
        if not address:
            raise forms.ValidationError("请输入单位地址。")
        return address

    def clean_sms_code(self):
        code = self.cleaned_data["sms_code"].strip()
        if not re.fullmatch(r"[0-9]{6}", code):
            raise forms.ValidationError("请输入6位数字短信验证码。")
        return code

    def clean_union_level1(self):
        value = self.cleaned_data["union_level1"]
        if value == NO_UNION_VALUE:
            return None
        return UnionOrganisation.objects.get(pk=value)  # one of the active level-1 choices

    def clean_union_level2(self):
        value = self.cleaned_data["union_level2"]
        if value == NO_UNION_VALUE:
            return None
        if not value:
            # Required unless the chosen level-1 organisation has none under it (the only choice is "").
            if any(choice for choice, _ in self.fields["union_level2"].choices):
                raise forms.ValidationError("请选择二级工会组织名称。")
            return None
        return UnionOrganisation.objects.get(pk=value)  # the choices hold only this level-1's children

    def handler_fields(self) -> dict:
        """The `fields` argument of services.handler_info_save."""
        data = self.cleaned_data
        return {
            name: data[name]
            for name in (
                "handler_name", "handler_mobile", "handler_email", "economic_type", "union_level1", "union_level2",
                "address", "industry", "headcount",
            )
        }

    @staticmethod
    def initial_from(info: HandlerInfo) -> dict:
        """The form filled with the saved 经办人填报."""
        return {
            "handler_name": info.handler_name,
            "handler_mobile": info.handler_mobile,
            "handler_email": info.handler_email,
            "economic_type": info.economic_type,
            "union_level1": union_value(info.union_level1),
            "union_level2": union_value(info.union_level2) if info.union_level1_id is None or info.union_level2_id else "",
            "address": info.address,
            "industry": info.industry,
            "headcount": info.headcount,
        }


class HandlerSmsForm(MarksInvalidFields, forms.Form):
    """【获取验证码】 beside *验证码: the code goes to 经办人电话 (SPEC HND-1)."""

    handler_mobile = MobileField(label="经办人电话")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handler_mobile"].error_messages["required"] = "请先填写经办人电话（手机号码）。"


# 新修改信息: the form field of each item that takes a new value (重发邮件 takes none).
CHANGE_VALUE_FIELDS = {
    ChangeRequest.Item.ADDRESS: "new_address",
    ChangeRequest.Item.HANDLER_NAME: "new_handler_name",
    ChangeRequest.Item.HANDLER_PHONE: "new_handler_phone",
    ChangeRequest.Item.HANDLER_MOBILE: "new_handler_mobile",
    ChangeRequest.Item.UNIT_EMAIL: "new_unit_email",
}


class ChangeRequestForm(MarksInvalidFields, forms.Form):
    """职工互助保障参保信息变更申请表（线上） (SPEC HND-2 [departure]): the printed form's header and
    items. 单位名称, 统一信用代码 and 参保编码 are shown from the code, not posted; the stamped scan
    and the item rules are change_request_submit's to check again."""

    batch_number = forms.CharField(
        label="参保批次号",
        max_length=20,
        required=False,
        help_text="选填；重发邮件时请填写需重发通知的参保批次号",
        widget=forms.TextInput(attrs={"class": "form-control text-uppercase", "placeholder": "如：2023J000123"}),
    )
    contact_name = forms.CharField(label="单位联系人", max_length=50)
    contact_mobile = MobileField(label="联系人手机")
    items = forms.MultipleChoiceField(
        label="变更事项",
        choices=ChangeRequest.Item.choices,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input change-item"}),
        error_messages={"required": "请勾选需变更的事项。", "invalid_choice": "请从列表中勾选变更事项。"},
    )
    new_address = forms.CharField(label="新单位地址", max_length=200, required=False)
    new_handler_name = forms.CharField(label="新经办人姓名", max_length=50, required=False)
    new_handler_phone = forms.CharField(
        label="新经办人固定电话", max_length=30, required=False, widget=forms.TextInput(attrs={"placeholder": "如：021-63619921"})
    )
    new_handler_mobile = MobileField(label="新经办人手机", required=False)
    new_unit_email = forms.EmailField(
        label="新单位邮箱",
        max_length=254,
        required=False,
        error_messages={"invalid": EMAIL_INVALID},
        widget=forms.EmailInput(attrs={"placeholder": "name@example.com"}),
    )
    # The stamped scan's draft_token is posted by the attachment component (includes/attachments.html).

    def __init__(self, *args, current_values: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.current_values = current_values
        chinese_required(self)
        self.fields["items"].error_messages["required"] = "请勾选需变更的事项。"

    def clean_contact_name(self):
        name = " ".join(self.cleaned_data["contact_name"].split())
        if not name:
            raise forms.ValidationError("请输入单位联系人。")
        return name

    def clean_batch_number(self):
        return "".join(self.cleaned_data["batch_number"].split()).upper()

    def clean_new_handler_phone(self):
        phone = "".join(self.cleaned_data["new_handler_phone"].split())
        if phone and not FIXED_PHONE_PATTERN.match(phone):
            raise forms.ValidationError("请填写电话号码，只含数字和“-”，如 021-63619921。")
        return phone

    def clean(self):
        cleaned = super().clean()
        for item in cleaned.get("items") or []:
            name = CHANGE_VALUE_FIELDS.get(item)
            if name is None or name in self.errors:
                continue
            value = str(cleaned.get(name) or "").strip()
            if not value:
                self.add_error(name, f"请填写{self.fields[name].label}。")
            elif value == str(self.current_values.get(item) or ""):
                self.add_error(name, "新修改信息与原信息相同，请核对。")
        return cleaned

    def new_values(self) -> dict:
        """The `new_values` argument of services.change_request_submit."""
        return {item: self.cleaned_data[name] for item, name in CHANGE_VALUE_FIELDS.items() if item in self.cleaned_data["items"]}

    def item_rows(self):
        """One row per item of the printed form: the check box, 原信息 and the 新修改信息 field."""
        ticked = set(self["items"].value() or [])
        boxes = {box.data["value"]: box for box in self["items"]}
        rows = []
        for item in ChangeRequest.Item:
            name = CHANGE_VALUE_FIELDS.get(item)
            rows.append(
                {
                    "item": item,
                    "checkbox": boxes[item.value],
                    "ticked": item.value in ticked,
                    "original": self.current_values.get(item, ""),
                    "field": self[name] if name else None,
                }
            )
        return rows


# --- end of 经办人填报 and 参保信息变更申请 ----------------------------------------------------------------------


# --- 参保批次管理 (SPEC BAT-1, BAT-2) ---------------------------------------------------------------------


from .states import BatchKind, BatchState  # noqa: E402


class BatchFilterForm(forms.Form):
    """The filters above 参保批次管理 (SPEC BAT-1): 批次号, 单位名称, 批次状态; they live in the URL so a
    page can be bookmarked (UI.md, "Lists")."""

    STATE_CHOICES = [("", "全部"), *BatchState.choices]

    number = forms.CharField(
        label="批次号",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "请输入批次号"}),
    )
    unit_name = forms.CharField(
        label="单位名称",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "请输入单位名称"}),
    )
    state = forms.ChoiceField(
        label="批次状态", required=False, choices=STATE_CHOICES, widget=forms.Select(attrs={"class": "form-select"})
    )

    def filter(self, queryset):
        """The batches matching the filters; an invalid value (a hand-edited URL) filters nothing.
        批次号 may be typed in part and in lower case (2023j000001)."""
        if not self.is_valid():
            return queryset
        number = "".join(self.cleaned_data["number"].split()).upper()
        if number:
            queryset = queryset.filter(number__icontains=number)
        unit_name = self.cleaned_data["unit_name"].strip()
        if unit_name:
            queryset = queryset.filter(unit_name__icontains=unit_name)
        if self.cleaned_data["state"]:
            queryset = queryset.filter(state=self.cleaned_data["state"])
        return queryset


class BatchOpenForm(MarksInvalidFields, forms.Form):
    """The dialog of 【集中参保办理】 / 【即时参保办理】 (SPEC BAT-2): *参保编码, *参保单位. The code's
    binding, its unit name and the windows are enrollment.services.batch_open's to check."""

    kind = forms.ChoiceField(choices=BatchKind.choices, widget=forms.HiddenInput)
    code = forms.CharField(
        label="参保编码",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "6位参保编码，如 0072J3"}),
    )
    unit_name = forms.CharField(
        label="参保单位", max_length=200, widget=forms.TextInput(attrs={"placeholder": "参保编码登记的单位名称"})
    )
    submission_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        chinese_required(self)
        self.fields["kind"].error_messages["invalid_choice"] = "请选择参保类型：集中参保或即时参保。"

    def clean_code(self):
        # Typed as seen on last year's 保障单: spaces, full-width characters and lower case are common.
        code, problem = canonical_enrollment_code(self.cleaned_data["code"])  # SPEC SEC-1
        if problem:
            raise forms.ValidationError(problem)
        if len(code) != 6 or not code.isalnum():
            raise forms.ValidationError("参保编码为6位数字或字母，请核对。忘记参保编码可查看上一年度保障单或拨打12351热线查询。")
        return code

    def clean_unit_name(self):
        return self.cleaned_data["unit_name"].strip()


# --- end of 参保批次管理 ------------------------------------------------------------------------------------
