"""Shared helpers of the enrollment tests: codes with their lead unit and 经办人填报 (SPEC CODE-5, HND-1),
an uploaded image, and the legacy CSV headers (SPEC IMP)."""
from django.utils import timezone

from enrollment.models import EnrollmentCode, HandlerInfo
from tests.factories import UNIT_NAME, EnrollmentCodeFactory, HandlerInfoFactory, UnitFactory


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
