"""Forms of 缴费凭证管理 and 新增缴费信息 (SPEC PAY-2, PAY-3). They check input only; the rules (the
batches' states, the premiums, the refund fields, the proofs) are payments.services.voucher_submit's,
which refuses at the field concerned (STYLE.md §1, §2)."""
from django import forms

from mutualaid.forms import MarksInvalidFields, chinese_required

from .models import REFUND_BANKS, AccountKind, PaymentMethod, RefundMethod
from .services import PaymentError, RefundDetails, money_parse

DATE_INPUT = {"type": "date", "class": "form-control"}


class VoucherFilterForm(forms.Form):
    """The search above 缴费凭证管理 (SPEC PAY-2: 提交时间 and 付款单位); it lives in the URL (UI.md, "Lists")."""

    submitted_from = forms.DateField(
        label="提交时间（起）", required=False, widget=forms.DateInput(attrs=DATE_INPUT, format="%Y-%m-%d"),
        error_messages={"invalid": "请输入正确的日期，如 2023-06-15。"},
    )
    submitted_to = forms.DateField(
        label="提交时间（止）", required=False, widget=forms.DateInput(attrs=DATE_INPUT, format="%Y-%m-%d"),
        error_messages={"invalid": "请输入正确的日期，如 2023-06-30。"},
    )
    payer = forms.CharField(
        label="付款单位", required=False, max_length=200,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "请输入付款单位"}),
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("submitted_from"), cleaned.get("submitted_to")
        if start and end and start > end:
            self.add_error("submitted_to", "结束日期不能早于开始日期。")
        return cleaned

    def search(self) -> dict:
        """The keyword arguments of selectors.account_vouchers; an invalid search (a hand-edited URL)
        filters nothing, and the page shows why beside the field."""
        if not self.is_bound or not self.is_valid():
            return {}
        return {
            "submitted_from": self.cleaned_data["submitted_from"],
            "submitted_to": self.cleaned_data["submitted_to"],
            "payer": self.cleaned_data["payer"].strip(),
        }


class VoucherForm(MarksInvalidFields, forms.Form):
    """新增缴费信息 (SPEC PAY-2, PAY-3) as the handbook shows it: 选择批次, 凭证信息填报 and 退款信息填报.
    The refund fields are optional here: voucher_submit requires them only when the amount is
    greater than the selected premiums, and says which one is missing."""

    batches = forms.MultipleChoiceField(label="选择批次", widget=forms.CheckboxSelectMultiple)
    payer = forms.CharField(label="付款单位", max_length=200)
    method = forms.ChoiceField(label="缴费方式", choices=[("", "请选择缴费方式"), *PaymentMethod.choices])
    amount = forms.CharField(
        label="缴费金额(凭证总金额)", max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "如：2000.00"}),
    )
    account_kind = forms.ChoiceField(label="收款帐户类别", choices=AccountKind.choices, initial=AccountKind.ACTIVE)
    refund_account_kind = forms.ChoiceField(
        label="退款帐户类别", choices=AccountKind.choices, initial=AccountKind.ACTIVE, required=False
    )
    refund_account_number = forms.CharField(
        label="退款帐号", max_length=40, required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": "请输入退款银行帐号"}),
    )
    refund_account_name = forms.CharField(
        label="退款帐户名称", max_length=200, required=False,
        widget=forms.TextInput(attrs={"placeholder": "请输入退款帐户名称"}),
    )
    refund_bank = forms.ChoiceField(
        label="退款银行", required=False, choices=[("", "请选择退款银行"), *((bank, bank) for bank in REFUND_BANKS)]
    )
    refund_method = forms.ChoiceField(
        label="退款方式", choices=RefundMethod.choices, initial=RefundMethod.TRANSFER, required=False
    )

    VOUCHER_FIELDS = ("payer", "method", "amount", "account_kind")
    REFUND_FIELDS = ("refund_account_kind", "refund_account_number", "refund_account_name", "refund_bank", "refund_method")

    def __init__(self, *args, batch_numbers: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["batches"].choices = [(number, number) for number in batch_numbers]
        chinese_required(self)
        self.fields["batches"].error_messages.update(
            required="请在“选择批次”中勾选本次缴费的参保批次。",
            invalid_choice="所选批次 %(value)s 已不能缴费（可能已上传缴费凭证），请刷新页面后重新选择。",
        )
        self.fields["method"].error_messages["required"] = "请选择缴费方式。"
        self.fields["method"].error_messages["invalid_choice"] = "请从列表中选择缴费方式。"
        self.fields["account_kind"].error_messages["invalid_choice"] = "请选择收款帐户类别。"
        self.fields["refund_bank"].error_messages["invalid_choice"] = "请从列表中选择退款银行。"
        # The refund fields are required when shown (SPEC PAY-3): their label carries the red * as
        # on the handbook's screen, although the rule is checked by the service.
        for name in ("refund_account_number", "refund_account_name", "refund_bank"):
            self.fields[name].shown_required = True

    def clean_amount(self):
        value = self.cleaned_data["amount"]
        try:
            money_parse(value)
        except PaymentError as error:
            raise forms.ValidationError(error.message) from None
        return value

    def refund_details(self) -> RefundDetails:
        data = self.cleaned_data
        return RefundDetails(
            account_kind=data.get("refund_account_kind") or AccountKind.ACTIVE,
            account_number=data.get("refund_account_number", ""),
            account_name=data.get("refund_account_name", ""),
            bank=data.get("refund_bank", ""),
            method=data.get("refund_method") or RefundMethod.TRANSFER,
        )

    def voucher_fields(self):
        return [self[name] for name in self.VOUCHER_FIELDS]

    def refund_fields(self):
        return [self[name] for name in self.REFUND_FIELDS]
