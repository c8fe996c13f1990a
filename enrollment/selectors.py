import datetime as dt

from django.db.models import Q
from django.utils import timezone

from accounts.models import Role
from mutualaid.workdays import working_deadline

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


def union_units_in_scope(*, acting_user):
    """The 经办人填报 rows (with code and account) under `acting_user`'s organisation (本组织参保单位,
    SPEC BO-2): union staff their organisation and, for a level-1 one, its level-2 ones; superusers
    every code with a union; anyone else none."""
    from .models import HandlerInfo

    rows = HandlerInfo.objects.select_related("code__account", "union_level1", "union_level2")
    if acting_user.is_superuser:
        return rows.filter(union_level1__isnull=False)
    if acting_user.role == Role.UNION_STAFF and acting_user.union_organisation_id:
        scope = acting_user.union_organisation.scope_ids()
        return rows.filter(Q(union_level1_id__in=scope) | Q(union_level2_id__in=scope))
    return rows.none()


# SPEC CODE-4 and YEAR-1: the handbook's 1 working day, when no coverage year has started yet.
DEFAULT_CODE_REVIEW_WORKING_DAYS = 1


def code_review_working_days() -> int:
    """SPEC CODE-4, YEAR-1: the current coverage year's review time for code applications."""
    year = coverage_year_current()
    return year.code_review_working_days if year else DEFAULT_CODE_REVIEW_WORKING_DAYS


def code_review_deadline(submitted_at: dt.datetime, working_days: int | None = None) -> dt.datetime:
    """24:00 of the Nth working day after the day of submission (SPEC YEAR-3)."""
    return working_deadline(submitted_at, working_days or code_review_working_days())
