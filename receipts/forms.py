"""The dialog of 【新增专用收据】 (SPEC RCP-1). The form checks only that the required fields were typed;
the amount's format, the lengths and the sum against the premium are receipts.services.receipt_add's
rules (STYLE.md §1), whose ReceiptError the view puts beside the field it names."""
from django import forms

from mutualaid.forms import MarksInvalidFields

from .services import REMARK_MAX, TITLE_MAX

REMARK_PLACEHOLDER = "需发票备注栏显示的内容，非必填项"  # the handbook's words


class ReceiptLineForm(MarksInvalidFields, forms.Form):
    """*专用收据抬头, *专用收据金额, 备注; `submission_token` tells the second request of a double click
    of 【确认提交】 from a new line."""

    use_required_attribute = False  # the messages are shown at the field, in Chinese

    title = forms.CharField(
        label="专用收据抬头", max_length=TITLE_MAX, strip=True,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "organization", "maxlength": TITLE_MAX}),
        error_messages={"required": "请填写专用收据抬头。", "max_length": f"专用收据抬头不能超过{TITLE_MAX}个字。"},
    )
    # Text, not DecimalField: "2,000.00" is typed as often as "2000" and money_parse reads both.
    amount = forms.CharField(
        label="专用收据金额", max_length=20, strip=True,
        widget=forms.TextInput(attrs={"class": "form-control", "inputmode": "decimal", "autocomplete": "off", "placeholder": "单位：元"}),
        error_messages={"required": "请填写专用收据金额。", "max_length": "请输入金额，例如 2000.00。"},
    )
    remark = forms.CharField(
        label="备注", required=False, max_length=REMARK_MAX, strip=True,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 2, "placeholder": REMARK_PLACEHOLDER, "maxlength": REMARK_MAX}),
        error_messages={"max_length": f"备注不能超过{REMARK_MAX}个字。"},
    )
    submission_token = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "receipt_%s")
        super().__init__(*args, **kwargs)
