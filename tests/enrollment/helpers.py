"""Shared helpers of the enrollment tests: codes with their lead unit and 经办人填报 (SPEC CODE-5, HND-1),
an uploaded PNG, the legacy import's CSV headers, and the handbook year's two 办理 windows as fixtures
(BAT-2; the 办理 dialog's tests and the API's)."""
import datetime as dt
import io

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from enrollment.models import EnrollmentCode, HandlerInfo
from tests.factories import SHANGHAI, UNIT_NAME, EnrollmentCodeFactory, HandlerInfoFactory, UnitFactory

IN_CENTRALISED_WINDOW = dt.datetime(2023, 6, 15, 10, 0, tzinfo=SHANGHAI)
IN_INSTANT_WINDOW = dt.datetime(2023, 8, 1, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def centralised_window():
    with time_machine.travel(IN_CENTRALISED_WINDOW, tick=True):
        yield


@pytest.fixture
def instant_window():
    with time_machine.travel(IN_INSTANT_WINDOW, tick=True):
        yield


def make_code(account=None, *, code="0072J3", unit_name=UNIT_NAME, source="approved") -> EnrollmentCode:
    """A code with its lead unit: approved for `account`, or imported and not yet bound (account None)."""
    enrollment_code = EnrollmentCodeFactory(
        code=code, unit_name=unit_name, account=account, bound_at=timezone.now() if account else None, source=source
    )
    UnitFactory(code=enrollment_code, headcount=120)
    return enrollment_code


def make_handler_info(code: EnrollmentCode, *, account=None) -> HandlerInfo:
    """The 经办人填报 of `code`, saved by `account` (default: the code's)."""
    return HandlerInfoFactory(
        code=code, handler_name="丁一", handler_email="dingyi@example.com", industry="I", headcount=120,
        saved_by=account or code.account,
    )


def png_upload(name="licence.png") -> SimpleUploadedFile:
    """A small red PNG, as a licence or a proof is uploaded."""
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


# The old platform's CSV headers (manage.py import_legacy, SPEC ACC-7, CODE-5, CODE-6).
ACCOUNT_HEADER = "账号,单位名称,统一社会信用代码,联系人手机,邮箱,上级工会"
CODE_HEADER = "参保编码,单位名称,统一社会信用代码"
UNIT_HEADER = "参保编码,单位名称,统一社会信用代码,单位性质,单位地址,邮政编码,单位电话,在职人数"
