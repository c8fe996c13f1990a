import datetime as dt

from django import forms
from django.utils import timezone

from mutualaid.forms import MarksInvalidFields, chinese_required

from .services import MAX_DAYS

EXPIRY_CHOICES = [(30, "30天"), (90, "90天"), (180, "180天"), (365, "一年")]


class ApiTokenForm(MarksInvalidFields, forms.Form):
    """【新建令牌】 (SPEC API-1): 名称, 参保编码 (one of the account's), 有效期. The service checks again."""

    name = forms.CharField(label="名称", max_length=50, help_text="如：人事系统、集团HR平台（便于区分多个令牌）")
    code = forms.TypedChoiceField(label="参保编码", coerce=int)
    days = forms.TypedChoiceField(label="有效期", choices=EXPIRY_CHOICES, coerce=int, initial=365)
    expires_on = forms.DateField(
        label="或指定到期日期",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="最长一年；填写后以此日期为准（当日24时失效）",
    )

    def __init__(self, *args, codes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = [(code.pk, f"{code.code} {code.unit_name}") for code in codes]
        chinese_required(self)

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        today = timezone.localdate()
        if day <= today:
            raise forms.ValidationError("到期日期须晚于今天。")
        if day > today + dt.timedelta(days=MAX_DAYS):
            raise forms.ValidationError("有效期最长一年。")
        return day

    def expiry(self) -> dt.date:
        return self.cleaned_data.get("expires_on") or timezone.localdate() + dt.timedelta(days=self.cleaned_data["days"])
