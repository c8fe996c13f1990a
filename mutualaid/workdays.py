"""Working-day arithmetic (SPEC YEAR-3).

A deadline of N working days ends at 24:00 of the Nth working day after the day of submission.
Days come from, in order: a CalendarDay row entered by reviewers; `chinese-calendar` for the years it
knows; otherwise Monday–Friday.
"""
import datetime as dt

import chinese_calendar
from django.utils import timezone

from .models import CalendarDay

_MAX_SCAN_DAYS = 3660


def _package_says_working(day: dt.date) -> bool | None:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year the package release does not cover
        return None


class WorkingCalendar:
    """Answers is-this-a-working-day for a span of dates with one query for the overrides."""

    def __init__(self, start: dt.date, end: dt.date):
        self.overrides = dict(
            CalendarDay.objects.filter(date__range=(start, end)).values_list("date", "is_working_day")
        )

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        known = _package_says_working(day)
        if known is not None:
            return known
        return day.weekday() < 5


def is_working_day(day: dt.date) -> bool:
    return WorkingCalendar(day, day).is_working_day(day)


def add_working_days(day: dt.date, count: int) -> dt.date:
    """The `count`th working day after `day` (count ≥ 1); `day` itself does not count."""
    if count < 1:
        raise ValueError("count must be at least 1")
    found, window_start = 0, day
    while (window_start - day).days < _MAX_SCAN_DAYS:
        window_end = window_start + dt.timedelta(days=count * 3 + 30)
        calendar = WorkingCalendar(window_start, window_end)
        current = window_start
        while current < window_end:
            current += dt.timedelta(days=1)
            if calendar.is_working_day(current):
                found += 1
                if found == count:
                    return current
        window_start = window_end
    raise ValueError("no working day found within ten years")


def working_deadline(submitted_at: dt.datetime, count: int) -> dt.datetime:
    """24:00 (00:00 of the next day, Asia/Shanghai) of the `count`th working day after submission."""
    shanghai = timezone.get_default_timezone()  # SPEC YEAR-2: whatever zone a request activated
    local_day = timezone.localtime(submitted_at, shanghai).date()
    last_day = add_working_days(local_day, count)
    return timezone.make_aware(dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min), shanghai)


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (0 when end ≤ start)."""
    if end <= start:
        return 0
    calendar = WorkingCalendar(start, end)
    return sum(
        calendar.is_working_day(start + dt.timedelta(days=offset)) for offset in range(1, (end - start).days + 1)
    )
