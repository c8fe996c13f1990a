"""rosters.rules.roster_findings, written in SQL (SPEC OPS-3), against the ORM's lists it counts (SPEC
VAL-1, VAL-2, VAL-5, ROS-5): retired_entries, over_age_entries, unmatched_entries and the name
mismatches, on every combination of the fields they read, birth dates on and beside the age limits."""
import datetime as dt
import itertools

import pytest

from rosters.models import RosterEntry, Sex, WorkStatus
from rosters.rules import (
    NAME_MISMATCH_Q,
    over_age_entries,
    retired_entries,
    roster_findings,
    unmatched_entries,
)
from rosters.selectors import roster_over_age_born_by, roster_reference_date
from tests.factories import make_batch, make_entry

pytestmark = pytest.mark.django_db


def test_counts_match_the_lists_on_every_combination(handbook_year):
    batch = make_batch(year=handbook_year)
    other = make_batch(year=handbook_year)  # another batch's people are not counted
    on = roster_reference_date(batch=batch)
    born_by = roster_over_age_born_by(batch=batch, on=on)
    for sex in Sex:
        limit = born_by[sex]
        births = (limit - dt.timedelta(days=3650), limit, limit + dt.timedelta(days=1), dt.date(1995, 6, 1))
        for birth, status, code, ticks in itertools.product(births, WorkStatus, ("", "310000000001"), itertools.product((False, True), repeat=4)):
            has_ss, contributing, confirmed, mismatch = ticks
            make_entry(
                batch, name="测试", birth_date=birth, sex=sex, work_status=status, ss_unit_code=code,
                has_social_security=has_ss, still_contributing=contributing, unmatched_confirmed=confirmed,
                name_mismatch=mismatch,
            )
    make_entry(other, birth_date=dt.date(1940, 1, 1), work_status=WorkStatus.RETIRED)

    found = roster_findings(batch=batch, on=on)
    over_age = over_age_entries(batch, on)
    unmatched = unmatched_entries(batch)
    assert found.total == RosterEntry.objects.filter(batch=batch).count() == 2 * 4 * 3 * 2 * 16
    assert found.retired.count == retired_entries(batch).count() > 0
    assert found.over_age.total == over_age.count() > 0
    assert found.over_age.without_social_security == over_age.filter(has_social_security=False).count() > 0
    assert found.over_age.unticked == over_age.filter(has_social_security=True, still_contributing=False).count() > 0
    assert found.unmatched.total == unmatched.count() > 0
    assert found.unmatched.unconfirmed == unmatched.filter(unmatched_confirmed=False).count() > 0
    assert found.name_mismatches.count == RosterEntry.objects.filter(NAME_MISMATCH_Q, batch=batch).count() > 0


def test_another_reference_date_moves_the_age_limit(handbook_year):
    """清册提交 checks an instant batch with its real start date (`on`)."""
    batch = make_batch(year=handbook_year)
    on = roster_reference_date(batch=batch)
    born_by = roster_over_age_born_by(batch=batch, on=on)
    make_entry(batch, sex=Sex.FEMALE, birth_date=born_by[Sex.FEMALE] + dt.timedelta(days=10), work_status=WorkStatus.ACTIVE)
    assert roster_findings(batch=batch, on=on).over_age.total == 0
    later = on + dt.timedelta(days=10)
    assert roster_findings(batch=batch, on=later).over_age.total == over_age_entries(batch, later).count() == 1


def test_an_empty_roster(handbook_year):
    found = roster_findings(batch=make_batch(year=handbook_year))
    assert (found.total, found.retired.count, found.over_age.total, found.unmatched.total, found.name_mismatches.count) == (0, 0, 0, 0, 0)
