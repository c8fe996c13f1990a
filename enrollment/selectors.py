from django.utils import timezone

from .models import CoverageYear


def coverage_year_current(*, at=None) -> CoverageYear | None:
    """The coverage year a unit works in now: the latest whose centralised window has opened."""
    at = at or timezone.now()
    return CoverageYear.objects.filter(centralised_opens_at__lte=at).order_by("-year").first()


def account_codes(*, account):
    """The enrollment codes bound to this account (SPEC CODE-5)."""
    from .models import EnrollmentCode

    return EnrollmentCode.objects.filter(account=account).order_by("code")


def account_has_code(*, account) -> bool:
    return account_codes(account=account).exists()


def handler_info_complete(*, code) -> bool:
    """SPEC HND-1: 经办人填报 saved (or its e-mail and phone already complete) for this code."""
    from .models import HandlerInfo

    return HandlerInfo.objects.filter(code=code).exclude(handler_email="").exclude(handler_mobile_cipher="").exists()
