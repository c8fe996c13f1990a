import datetime as dt

from django.db import transaction
from django.utils import timezone

from .models import CoverageYear


class EnrollmentError(Exception):
    """A business rule of enrolment refused the action; `message` is shown to the user as is."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):  # 31 Jan + 1 month → 28/29 Feb
        try:
            return dt.date(year, month, candidate)
        except ValueError:
            continue
    raise ValueError(day)


def _last_day_of_months(start: dt.date, months: int) -> dt.date:
    """The last day of a period of `months` months starting on `start`: the day before the same date
    `months` later, or the month's last day when that date does not exist (29 Feb 2024 + 12 → 28 Feb 2025)."""
    same_date_later = add_months(start, months)
    if same_date_later.day != start.day:  # clamped to the month's end: the period ends on that day
        return same_date_later
    return same_date_later - dt.timedelta(days=1)


def _months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


@transaction.atomic
def coverage_year_copy_shifted(*, source: CoverageYear, year: int, centralised_opens_on: dt.date) -> CoverageYear:
    """Create or update `year` as a copy of `source` whose centralised window opens on the given day.

    Durations keep their shape: the window lasts as long, the instant channel and coverage start
    where the window closes, coverage and half-year pricing last as many months. Every rule and
    number is copied. Used for the demo years; idempotent for the same arguments.
    """
    tz = timezone.get_default_timezone()  # Asia/Shanghai (SPEC YEAR-2)
    opens_at = timezone.make_aware(dt.datetime.combine(centralised_opens_on, dt.time.min), tz)
    closes_at = opens_at + (source.centralised_closes_at - source.centralised_opens_at)
    instant_at = closes_at + (source.instant_opens_at - source.centralised_closes_at)
    coverage_start = timezone.localtime(closes_at, tz).date() + (
        source.coverage_start - timezone.localtime(source.centralised_closes_at, tz).date()
    )
    coverage_months = _months_between(source.coverage_start, source.coverage_end + dt.timedelta(days=1))
    half_year_months = _months_between(source.coverage_start, source.half_year_price_from)

    skip = {"id", "year", "updated_at"}
    values = {
        field.name: getattr(source, field.name)
        for field in CoverageYear._meta.concrete_fields
        if field.name not in skip
    }
    values.update(
        centralised_opens_at=opens_at,
        centralised_closes_at=closes_at,
        instant_opens_at=instant_at,
        coverage_start=coverage_start,
        coverage_end=_last_day_of_months(coverage_start, coverage_months),
        half_year_price_from=add_months(coverage_start, half_year_months),
    )
    coverage_year, _ = CoverageYear.objects.update_or_create(year=year, defaults=values)
    return coverage_year
