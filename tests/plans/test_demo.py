"""The plans demo (issue 8 item 5, plans/demo.py): `make run` gives the demo year its twelve plan items
and the demo account a batch in 清册校验通过 ready for 【保障项目选择】; seed_demo run twice changes nothing."""
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from enrollment.models import Batch, BatchLog, EnrollmentCode, HandlerInfo
from enrollment.selectors import coverage_year_current
from enrollment.states import BatchKind, BatchState
from plans.demo import READY_PEOPLE, READY_UNIT_NAME
from plans.models import PlanItem
from plans.services import premium_confirm, premium_generate
from rosters.models import EnrolmentRegistry, RosterEntry

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def ready_batch() -> Batch:
    return Batch.objects.get(account__username="demo", code__unit_name=READY_UNIT_NAME)


def test_seed_demo_gives_the_demo_year_its_plan_items(demo_data):
    year = coverage_year_current()
    items = {item.code: item.price for item in PlanItem.objects.filter(coverage_year=year)}
    # SPEC PLAN-1: copied from the closest earlier year, the handbook's prices
    assert items == {
        "A0": Decimal("120.00"), "A1": Decimal("135.00"), "A2": Decimal("230.00"), "A3": Decimal("330.00"),
        "B0": Decimal("55.00"), "B1": Decimal("100.00"), "B2": Decimal("235.00"), "B3": Decimal("460.00"),
        "C0": Decimal("15.00"), "C1": Decimal("40.00"), "C2": Decimal("75.00"), "C3": Decimal("225.00"),
    }


def test_seed_demo_gives_the_demo_account_a_batch_ready_for_plan_selection(demo_data):
    year = coverage_year_current()
    batch = ready_batch()

    assert (batch.kind, batch.state, batch.coverage_year) == (BatchKind.CENTRALISED, BatchState.ROSTER_APPROVED, year)
    assert batch.allows("select_plans")
    # the steps of 清册提交 (SPEC BAT-4, ROS-11, COV-1, COV-3)
    people = RosterEntry.objects.filter(batch=batch)
    assert people.count() == len(READY_PEOPLE) == 16
    assert people.filter(has_social_security=False).count() == 2  # SPEC PLAN-3: they never get A0
    assert set(people.values_list("coverage_start", "coverage_end")) == {(year.coverage_start, year.coverage_end)}
    assert (batch.coverage_start, batch.coverage_end) == (year.coverage_start, year.coverage_end)
    assert batch.submitted_at is not None
    assert EnrolmentRegistry.objects.filter(batch=batch).count() == 16
    assert list(BatchLog.objects.filter(batch=batch).values_list("action", "to_state")) == [
        ("集中参保办理", BatchState.DRAFT), ("清册提交", BatchState.ROSTER_APPROVED),
    ]
    code = EnrollmentCode.objects.get(unit_name=READY_UNIT_NAME)
    assert code.account.username == "demo"
    assert HandlerInfo.objects.filter(code=code).exists()
    # nobody in it is in the demo code's own draft batch (its 清册提交 must not find them held)
    other = RosterEntry.objects.filter(batch__account__username="demo").exclude(batch=batch)
    assert not other.filter(id_hash__in=people.values("id_hash")).exists()


def test_the_ready_batch_goes_through_selection_confirmation_and_detail(demo_data, client):
    batch = ready_batch()
    account = User.objects.get(username="demo")

    codes, table = premium_generate(batch=batch, codes=["A0", "B0", "C0", "A3"], acting_user=account)
    premium = premium_confirm(batch=batch, codes=codes, acting_user=account)

    # 14 with 社保 × (180 + 330), 2 without × (55 + 15 + 330)
    assert premium.total == table.total == Decimal("14") * 510 + 2 * 400
    client.force_login(account)
    response = client.get(reverse("plans:premium_detail", kwargs={"number": batch.number}))
    assert response.status_code == 200
    assert "7,940.00" in response.content.decode()


def test_seed_demo_twice_changes_nothing(demo_data):
    batch = ready_batch()
    before = (
        Batch.objects.filter(account__username="demo").count(),
        RosterEntry.objects.filter(batch=batch).count(),
        PlanItem.objects.count(),
        EnrollmentCode.objects.filter(unit_name=READY_UNIT_NAME).count(),
        EnrolmentRegistry.objects.count(),
    )

    output = _seed()

    after = (
        Batch.objects.filter(account__username="demo").count(),
        RosterEntry.objects.filter(batch=batch).count(),
        PlanItem.objects.count(),
        EnrollmentCode.objects.filter(unit_name=READY_UNIT_NAME).count(),
        EnrolmentRegistry.objects.count(),
    )
    assert after == before
    assert before[0] == 2 and before[3] == 1
    assert "待选择保障项目的演示批次" not in output  # printed only when created
    assert "演示保障项目" in output


def test_seed_demo_leaves_the_visitors_progress_alone(demo_data):
    batch = ready_batch()
    account = User.objects.get(username="demo")
    premium_confirm(batch=batch, codes=["A0", "B0", "C0"], acting_user=account)

    _seed()

    batch.refresh_from_db()
    assert batch.state == BatchState.AWAITING_PAYMENT
    assert Batch.objects.filter(code__unit_name=READY_UNIT_NAME).count() == 1


def test_first_run_reports_the_ready_batch(handbook_year, union_organisations):
    output = _seed()

    batch = ready_batch()
    assert f"待选择保障项目的演示批次 {batch.number}（{READY_UNIT_NAME}，集中参保，清册校验通过，16 人）" in output
