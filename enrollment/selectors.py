import datetime as dt

from django.db.models import Q
from django.utils import timezone

from accounts.models import Role
from mutualaid.rows import fetch_row, instances_of, joined_columns
from mutualaid.workdays import working_deadline

from .models import CoverageYear


def coverage_year_current(*, at=None) -> CoverageYear | None:
    """The coverage year a unit works in now: the latest whose centralised window has opened."""
    at = at or timezone.now()
    return CoverageYear.objects.filter(centralised_opens_at__lte=at).order_by("-year").first()


BATCH_NUMBER_LENGTH = 12  # SPEC BAT-9: 2023J000123


def batch_number_canonical(number) -> str:
    """SPEC SEC-1: a batch number from a URL in its canonical form (full-width digits folded, upper
    case), or "" when it cannot be one — anything but ASCII letters and digits, a control character,
    too long — so that it finds no batch instead of reaching the database (a NUL is a database error
    in PostgreSQL)."""
    from mutualaid.identifiers import canonical

    value, problem = canonical(number, column="批次号")
    if problem or len(value) > BATCH_NUMBER_LENGTH or not value.isalnum():
        return ""
    return value


def account_codes(*, account):
    """The enrollment codes bound to this account (SPEC CODE-5)."""
    from .models import EnrollmentCode

    return EnrollmentCode.objects.filter(account=account).order_by("code")


def batch_open_code(*, codes, kind: str, coverage_year, listed_code_ids) -> "EnrollmentCode | None":
    """SPEC BAT-2, CODE-6: the code a 办理 dialog is pre-filled with, among `codes` (the account's).
    One code: that one (a refusal then says why). Several: the unit of the page (`listed_code_ids`,
    the codes of the batches listed, when they are all one code's) if it may still open this kind of
    batch, else the only code that may (for 集中参保: the only one without its centralised batch this
    year); None when the choice is not obvious, so the clerk types the code instead of being refused
    for one never typed."""
    from .models import Batch
    from .states import BatchKind

    codes = list(codes)
    if len(codes) <= 1:
        return codes[0] if codes else None
    candidates = codes
    if kind == BatchKind.CENTRALISED and coverage_year is not None:
        taken = set(
            Batch.objects.filter(code__in=codes, coverage_year=coverage_year, kind=BatchKind.CENTRALISED).values_list(
                "code_id", flat=True
            )
        )
        candidates = [code for code in codes if code.pk not in taken]
    listed = set(listed_code_ids)
    if len(listed) == 1:
        for code in candidates:
            if code.pk in listed:
                return code
    return candidates[0] if len(candidates) == 1 else None


def account_has_code(*, account) -> bool:
    return account_codes(account=account).exists()


def _complete_handler_infos():
    from .models import HandlerInfo

    return HandlerInfo.objects.exclude(handler_email="").exclude(handler_mobile_cipher="")


def handler_info_complete(*, code) -> bool:
    """SPEC HND-1: 经办人填报 saved (or its e-mail and phone already complete) for this code."""
    return _complete_handler_infos().filter(code=code).exists()


def account_first_code(*, account):
    """The account's first code (account_codes' order) or None, with `handler_complete` (HND-1,
    handler_info_complete) read in the same query: every page of the unit workspace asks both.

    Written in SQL (SPEC OPS-3): the decorators of every unit page run it, and Django compiling the
    equivalent queryset (an Exists subquery) cost four times what PostgreSQL needs to answer it; the
    row becomes a model as the ORM makes it (mutualaid.rows). The conditions are account_codes' and
    _complete_handler_infos' (tests/enrollment/test_first_code.py compares the two on every case)."""
    from django.db import connection

    from .models import EnrollmentCode, HandlerInfo

    select, layout = joined_columns(((EnrollmentCode, "code"),), connection.vendor)
    codes, infos = EnrollmentCode._meta.db_table, HandlerInfo._meta.db_table
    row = fetch_row(
        "account_first_code",
        f"SELECT {select}, EXISTS (SELECT 1 FROM {infos} info WHERE info.code_id = code.id"
        " AND info.handler_email <> '' AND info.handler_mobile_cipher <> '')"
        f" FROM {codes} code WHERE code.account_id = %s ORDER BY code.code LIMIT 1",
        [account.pk],
        ("bigint",),
    )
    if row is None:
        return None
    (code,) = instances_of(row[:-1], layout)
    code.handler_complete = bool(row[-1])
    return code


def account_batch_of(*, account, number: str):
    """The batch `number` (canonical, batch_number_canonical) of `account` with its code and coverage
    year read in the same query, or None (SPEC X-4: another account's batch does not exist for this one).

    Written in SQL (SPEC OPS-3), as account_first_code: every batch page reads it, and Django compiling
    the equivalent select_related query cost 1–2 ms of CPU a page, twice what the reading costs. The rows
    become models as the ORM makes them (mutualaid.rows; the code and the year cached on the batch);
    tests/enrollment/test_account_batch.py compares them field by field."""
    from django.db import connection

    from .models import Batch, EnrollmentCode

    if not number:
        return None
    select, layout = joined_columns(((Batch, "b"), (EnrollmentCode, "c"), (CoverageYear, "y")), connection.vendor)
    quote = connection.ops.quote_name
    row = fetch_row(
        "account_batch",
        f"SELECT {select} FROM {quote(Batch._meta.db_table)} b"
        f" JOIN {quote(EnrollmentCode._meta.db_table)} c ON c.id = b.code_id"
        f" JOIN {quote(CoverageYear._meta.db_table)} y ON y.id = b.coverage_year_id"
        " WHERE b.number = %s AND b.account_id = %s",
        [number, account.pk],
        ("text", "bigint"),
    )
    if row is None:
        return None
    batch, code, year = instances_of(row, layout)
    Batch.code.field.set_cached_value(batch, code)
    Batch.coverage_year.field.set_cached_value(batch, year)
    return batch


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
