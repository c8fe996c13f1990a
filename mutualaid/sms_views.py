"""The 【获取验证码】 answer shared by every form that sends an SMS code (registration, CODE-2, HND-1)."""
from django.http import HttpResponse
from django.utils.html import format_html

from .pii import mask_mobile
from .sms import SmsError, sms_code_send


def sms_code_send_response(*, form, mobile_field: str, purpose: str) -> HttpResponse:
    """Validate `form` (which holds the mobile in `mobile_field`), send the code and answer with a
    line for beside the field: what happened and, in data-retry-after, the seconds before the
    button may be used again (60 s, 5 an hour per number)."""
    retry_after = 0
    if not form.is_valid():
        message, ok = form.errors[mobile_field][0], False
    else:
        mobile = form.cleaned_data[mobile_field]
        try:
            retry_after = sms_code_send(mobile=mobile, purpose=purpose)
        except SmsError as error:
            message, ok, retry_after = error.message, False, error.retry_after or 0
        else:
            message, ok = f"验证码已发送至 {mask_mobile(mobile)}，5分钟内有效。", True
    return HttpResponse(
        format_html(
            '<span class="sms-result {}" data-retry-after="{}">{}</span>',
            "text-success" if ok else "text-danger",
            retry_after,
            message,
        )
    )
