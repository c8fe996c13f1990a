"""The 【获取验证码】 answer shared by every form that sends an SMS code (registration, CODE-2, HND-1)."""
from django.http import HttpResponse
from django.utils.html import format_html

from .audit import client_ip
from .pii import mask_mobile
from .sms import SmsError, sms_code_send


def sms_code_send_response(*, request, form, mobile_field: str, purpose: str) -> HttpResponse:
    """Validate `form` (which holds the mobile in `mobile_field`, and a captcha on public pages), send
    the code and answer with a line for beside the field: what happened and, in data-retry-after, the
    seconds before the button may be used again (60 s, 5 an hour per number). A refusal by a limit
    (per number, per IP, the hourly budget: SPEC SEC-3) is HTTP 429 with Retry-After; static/js/sms.js
    shows its line all the same."""
    retry_after, status = 0, 200
    if not form.is_valid():
        errors = form.errors.get(mobile_field) or next(iter(form.errors.values()))
        message, ok = errors[0], False
    else:
        mobile = form.cleaned_data[mobile_field]
        try:
            retry_after = sms_code_send(mobile=mobile, purpose=purpose, ip=client_ip(request))
        except SmsError as error:
            message, ok, retry_after = error.message, False, error.retry_after or 0
            status = 429
        else:
            message, ok = f"验证码已发送至 {mask_mobile(mobile)}，5分钟内有效。", True
    response = HttpResponse(
        format_html(
            '<span class="sms-result {}" data-retry-after="{}">{}</span>',
            "text-success" if ok else "text-danger",
            retry_after,
            message,
        ),
        status=status,
    )
    if status == 429:
        response["Retry-After"] = str(retry_after)
    return response
