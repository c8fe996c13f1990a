"""The demo batch (issue 6): `make run` opens on a draft centralised batch of about 200 people, filled by
【获取上年度参保名单】 through the import pipeline (rosters/demo.py)."""
import io

import pytest
from django.core.management import call_command

from enrollment.models import Batch, BatchKind, BatchState
from enrollment.selectors import coverage_year_current
from rosters.demo import DEMO_UNIT_NAME
from rosters.models import RosterEntry, RosterImport
from mutualaid.jobs import JobStatus

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_opens_a_draft_centralised_batch_filled_from_last_year(demo_data):
    batch = Batch.objects.get(account__username="demo", code__unit_name=DEMO_UNIT_NAME)
    assert (batch.kind, batch.state, batch.coverage_year) == (BatchKind.CENTRALISED, BatchState.DRAFT, coverage_year_current())
    people = RosterEntry.objects.filter(batch=batch)
    assert 150 <= people.count() <= 200
    assert people.filter(work_status="退休").exists()  # SPEC ROS-12: imported marked 退休, for 清册校验 to list
    assert people.filter(is_suggested=True).count() > 100
    roster_import = RosterImport.objects.get(batch=batch)
    assert (roster_import.source, roster_import.status) == (RosterImport.Source.PREVIOUS, JobStatus.DONE)
    assert roster_import.rows_imported == people.count()


def test_seed_demo_again_leaves_the_demo_batch_alone(demo_data):
    batch = Batch.objects.get(account__username="demo", code__unit_name=DEMO_UNIT_NAME)
    RosterEntry.objects.filter(batch=batch).first().delete()
    count = RosterEntry.objects.filter(batch=batch).count()
    output = _seed()
    assert "演示参保批次" not in output
    assert Batch.objects.filter(account__username="demo", code__unit_name=DEMO_UNIT_NAME).count() == 1
    assert RosterEntry.objects.filter(batch=batch).count() == count
