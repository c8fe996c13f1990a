"""Forms of 保障项目选择 and 批次撤回 (SPEC PLAN-2, PREM-3, BAT-6). They check what was posted; the rules
of the selection and of the withdrawal are plans.services' (STYLE.md §1), whose PlanError the views
put beside the field it names."""
from django import forms

from . import premiums
from .services import WithdrawTarget

OP_GENERATE = "generate"  # 【生成保费信息】
OP_CONFIRM = "confirm"  # 【提交确认保费】

REGENERATE_MESSAGE = "勾选的保障项目与已生成的保费信息不一致，请先点击【生成保费信息】重新生成，核对后再提交确认保费。"


class PlanSelectionForm(forms.Form):
    """The check boxes `codes` and the button pressed (`op`). With 【提交确认保费】 the form also carries
    what the 保费信息 on screen was generated for (`generated`, `generated_total`), so the confirmation
    prices exactly what the unit saw (SPEC PREM-3): changed ticks since then are refused here; the view
    compares the total with the current calculation."""

    use_required_attribute = False

    op = forms.ChoiceField(choices=[(OP_GENERATE, "生成保费信息"), (OP_CONFIRM, "提交确认保费")])
    # The rules (at least one basic item, …) are the service's, with its messages: none required here.
    codes = forms.MultipleChoiceField(
        label="选择保障项目", required=False, choices=[(code, code) for code in premiums.ALL_CODES],
        error_messages={"invalid_choice": "保障项目“%(value)s”不存在。"},
    )
    generated = forms.CharField(required=False, widget=forms.HiddenInput)
    generated_total = forms.DecimalField(required=False, max_digits=14, decimal_places=2, widget=forms.HiddenInput)

    def __init__(self, *args, locked_codes: list[str] | None = None, **kwargs):
        """`locked_codes`: the PREM-4 selection (the check boxes are read only and post nothing)."""
        super().__init__(*args, **kwargs)
        self.locked_codes = locked_codes

    def clean_codes(self) -> list[str]:
        if self.locked_codes is not None:
            return list(self.locked_codes)
        return premiums.codes_normalise(self.cleaned_data["codes"])

    def clean_generated(self) -> list[str]:
        return premiums.codes_normalise(self.cleaned_data["generated"] or "")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("op") == OP_CONFIRM and "codes" in cleaned:
            generated = cleaned.get("generated") or []
            if not generated or generated != cleaned["codes"] or cleaned.get("generated_total") is None:
                self.add_error("codes", REGENERATE_MESSAGE)
        return cleaned


class WithdrawForm(forms.Form):
    """【批次撤回】's dialog (SPEC BAT-6): 重新整理清册 / 重新选择保障项目, "简单写明原因", and `confirmed`, the
    second confirmation (【确定】): posted without it, the page asks for it (a plain form post works
    without the modal)."""

    use_required_attribute = False  # the reason's message is shown at the field, also after the modal

    target = forms.ChoiceField(
        label="撤回方式", choices=WithdrawTarget.CHOICES, widget=forms.RadioSelect,
        error_messages={"required": "请选择撤回方式：重新整理清册或重新选择保障项目。",
                        "invalid_choice": "请选择撤回方式：重新整理清册或重新选择保障项目。"},
    )
    reason = forms.CharField(
        label="撤回原因", max_length=200, strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "简单写明原因", "maxlength": 200}),
        error_messages={"required": "请简单写明撤回原因。", "max_length": "撤回原因请不要超过%(limit_value)d个字。"},
    )
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    # The batch's state when the dialog was shown: a post for a state the batch has left (the second
    # click of a double click) is recognised by the view and changes nothing.
    state = forms.CharField(required=False, widget=forms.HiddenInput)
