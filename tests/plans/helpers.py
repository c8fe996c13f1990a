"""Shared helpers of the plans tests: a batch that has passed 清册提交 (SPEC BAT-4), ready for
【保障项目选择】, with people with and without 社保 (SPEC PLAN-3)."""
import datetime as dt

from enrollment.states import BatchKind, BatchState
from rosters.models import Sex, WorkStatus
from tests.factories import make_batch, make_entry


def approved_batch(
    *, year, account=None, kind=BatchKind.CENTRALISED, social_security=4, without_social_security=0,
    start: dt.date | None = None, state=BatchState.ROSTER_APPROVED,
):
    """A batch in 清册校验通过 (or `state`) with `social_security` people with 社保 and
    `without_social_security` without, its coverage dates set as 清册提交 sets them (COV-1): a
    centralised batch covers the year; an instant one starts on `start` (default: the year's start)."""
    batch = make_batch(year=year, account=account, kind=kind, state=state)
    start = year.coverage_start if kind == BatchKind.CENTRALISED else (start or year.coverage_start)
    batch.coverage_start, batch.coverage_end = start, year.coverage_end
    batch.save(update_fields=["coverage_start", "coverage_end"])
    for number in range(social_security):
        make_entry(
            batch, name=f"社保{number}", sex=Sex.MALE if number % 2 else Sex.FEMALE,
            work_status=WorkStatus.ACTIVE, has_social_security=True,
            coverage_start=start, coverage_end=year.coverage_end,
        )
    for number in range(without_social_security):
        make_entry(
            batch, name=f"非社保{number}", work_status=WorkStatus.ACTIVE, has_social_security=False,
            coverage_start=start, coverage_end=year.coverage_end,
        )
    return batch
