"""Demo coverage years: a copy of the handbook's 2023 year shifted so that today lies inside its
centralised window (SPEC YEAR-1), and the year before it."""
import datetime as dt

from django.utils import timezone

from .models import CoverageYear
from .services import add_months, coverage_year_copy_shifted

DAYS_SINCE_WINDOW_OPENED = 7


def seed(*, stdout):
    handbook_year = CoverageYear.objects.get(year=2023)
    opens_on = timezone.localdate() - dt.timedelta(days=DAYS_SINCE_WINDOW_OPENED)
    if opens_on.year - 1 <= handbook_year.year:
        # The handbook's own year is never overwritten by a demo copy (only with a clock before 2025).
        stdout.write("演示年度与手册年度重叠，未创建演示年度。")
        return
    for offset in (1, 0):  # the year before first, so "current" is the demo year
        year_opens_on = add_months(opens_on, -12 * offset)
        coverage_year = coverage_year_copy_shifted(
            source=handbook_year, year=opens_on.year - offset, centralised_opens_on=year_opens_on
        )
        stdout.write(f"保障年度 {coverage_year}：{coverage_year.banner}")
