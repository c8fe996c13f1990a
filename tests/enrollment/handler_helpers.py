"""Shared helpers of the 经办人填报 tests (SPEC HND-1, HND-2): a code bound to its account with its lead
unit, the handler's mobile, 【获取验证码】 on the page, and the form's data."""
import re

from django.urls import reverse
from django.utils import timezone

from enrollment.models import EnrollmentCode
from mutualaid import sms
from tests.factories import UNIT_NAME, USCC, EnrollmentCodeFactory, UnitFactory

MOBILE = "13912345678"


def make_code(account, *, code="0072J3", unit_name=UNIT_NAME, uscc=USCC, committee=None,
              address="上海市普陀区长风路1号") -> EnrollmentCode:
    """A code bound to `account` with its lead unit, as code_application_approve leaves it."""
    enrollment_code = EnrollmentCodeFactory(code=code, unit_name=unit_name, uscc=uscc, account=account, bound_at=timezone.now())
    UnitFactory(code=enrollment_code, committee=committee, address=address, headcount=120)
    return enrollment_code


def send_code(unit_client, django_capture_on_commit_callbacks, mobile=MOBILE) -> str:
    """【获取验证码】 on the page; the code as the console SMS backend received it."""
    with django_capture_on_commit_callbacks(execute=True):
        response = unit_client.post(reverse("enrollment:handler_sms"), {"handler_mobile": mobile}, HTTP_HX_REQUEST="true")
    assert "验证码已发送至 139****5678，5分钟内有效。" in response.content.decode()
    assert sms.outbox[-1][0] == mobile
    return re.search(r"验证码为(\d{6})", sms.outbox[-1][1]).group(1)


def handler_data(level1, level2, **overrides) -> dict:
    """The 经办人填报 form's fields with the unions `level1` and `level2` (None: 无)."""
    data = {
        "handler_name": "丁一",
        "handler_mobile": MOBILE,
        "handler_email": "dingyi@example.com",
        "economic_type": "私营",
        "sms_code": "000000",
        "union_level1": "none" if level1 is None else str(level1.pk),
        "union_level2": "none" if level2 is None else str(level2.pk),
        "address": "上海市普陀区长风路2号",
        "industry": "I",
        "headcount": "85",
    }
    data.update(overrides)
    return data
