"""plans/services.py on the real database: plan items per year (SPEC PLAN-1), 【生成保费信息】 and
【提交确认保费】 (PLAN-2, PLAN-3, PREM-1…PREM-4, PAY-1), 【批次撤回】 both ways and its guards (BAT-6, BAT-10),
each written to the 操作日志 (BAT-7)."""
import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from enrollment.models import Batch, BatchLog
from enrollment.services import EnrollmentError
from enrollment.states import BatchKind, BatchState
from plans import premiums
from plans.catalogue import HANDBOOK_ITEMS
from plans.models import BatchPremium, PlanItem, PlanSelection, PremiumLine
from plans.services import (
    PlanError,
    WithdrawTarget,
    batch_premium_table,
    batch_people_counts,
    batch_withdraw,
    batch_withdraw_check,
    plan_item_price_locked,
    plan_items_of,
    plan_prices,
    plan_selection_codes,
    plan_selection_source,
    premium_confirm,
    premium_generate,
    premium_person_price_args,
)
from rosters.models import EnrolmentRegistry, RosterEntry
from tests.factories import SHANGHAI, CoverageYearFactory
from tests.plans.helpers import approved_batch

S = BatchState
WORKED_EXAMPLE = ["A0", "B0", "C0", "A3", "B3", "C3"]
IN_CENTRALISED_WINDOW = dt.datetime(2023, 6, 20, 10, 0, tzinfo=SHANGHAI)
AFTER_CENTRALISED_WINDOW = dt.datetime(2023, 7, 1, 0, 0, tzinfo=SHANGHAI)
IN_INSTANT_WINDOW = dt.datetime(2023, 9, 10, 15, 30, tzinfo=SHANGHAI)

pytestmark = pytest.mark.django_db


def log_rows(batch):
    return list(BatchLog.objects.filter(batch=batch).values_list("action", "from_state", "to_state", "reason", "actor"))


def register(batch) -> int:
    """The registry rows 清册提交 writes (SPEC ROS-11): one per entry of `batch`."""
    rows = [
        EnrolmentRegistry(year=batch.coverage_year.year, id_hash=id_hash, batch=batch)
        for id_hash in RosterEntry.objects.filter(batch=batch).values_list("id_hash", flat=True)
    ]
    EnrolmentRegistry.objects.bulk_create(rows)
    return len(rows)


def confirmed_batch(year, *, codes=WORKED_EXAMPLE, at=IN_CENTRALISED_WINDOW, **kwargs):
    batch = approved_batch(year=year, **kwargs)
    premium_confirm(batch=batch, codes=codes, acting_user=batch.account, at=at)
    batch.refresh_from_db()
    return batch


# --- Plan items of a year (SPEC PLAN-1) -----------------------------------------------------------------


def test_plan_items_2023_are_the_handbooks_twelve_basic_first_then_by_series(handbook_year):
    # The check boxes' order: 基本保障 A0 B0 C0, then 加强保障 in three columns A1–A3, B1–B3, C1–C3.
    items = plan_items_of(coverage_year=handbook_year)
    assert [item.code for item in items] == ["A0", "B0", "C0", "A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2", "C3"]
    assert plan_prices(coverage_year=handbook_year) == {code: price for code, price, _ in HANDBOOK_ITEMS}
    assert all((item.series, item.layer) == (item.code[0], int(item.code[1])) for item in items)
    assert [item.is_basic for item in items[:4]] == [True, True, True, False]
    # The data migration's copy of the table (plans 0002) and plans/catalogue.py say the same.
    assert {item.code: item.benefits for item in items} == {code: text for code, _, text in HANDBOOK_ITEMS}


def test_plan_items_of_a_new_year_are_copied_from_the_previous_year(handbook_year):
    PlanItem.objects.filter(coverage_year=handbook_year, code="A3").update(price=Decimal("345.00"), benefits="新待遇")
    later = CoverageYearFactory(year=2024)

    items = plan_items_of(coverage_year=later)

    assert len(items) == 12 == PlanItem.objects.filter(coverage_year=later).count()
    assert {item.code: item.price for item in items}["A3"] == Decimal("345.00")
    assert {item.code: item.benefits for item in items}["A3"] == "新待遇"
    # Asked again: the same twelve, none added.
    assert [item.pk for item in plan_items_of(coverage_year=later)] == [item.pk for item in items]
    assert PlanItem.objects.filter(coverage_year=later).count() == 12
    # The year after copies the closest earlier year (2024), not 2023.
    PlanItem.objects.filter(coverage_year=later, code="C0").update(price=Decimal("16.00"))
    assert plan_prices(coverage_year=CoverageYearFactory(year=2025))["C0"] == Decimal("16.00")


def test_plan_items_of_the_first_year_come_from_the_handbook(handbook_year):
    PlanItem.objects.all().delete()
    first = CoverageYearFactory(year=2030)

    items = plan_items_of(coverage_year=first)

    assert len(items) == 12
    assert {item.code: (item.price, item.benefits) for item in items} == {
        code: (price, benefits) for code, price, benefits in HANDBOOK_ITEMS
    }


# --- 【生成保费信息】 (SPEC PLAN-2, PLAN-3, PREM-3) ----------------------------------------------------------


def test_premium_generate_saves_the_selection_and_returns_the_worked_example(handbook_year):
    batch = approved_batch(year=handbook_year, social_security=4)

    codes, table = premium_generate(batch=batch, codes=["C3", "b3", "A3", "C0", "B0", "A0", "A0"], acting_user=batch.account)

    assert codes == WORKED_EXAMPLE
    assert [(line.label, line.amount) for line in table.lines] == [
        ("A0 B0 C0", Decimal("720.00")), ("A3", Decimal("1320.00")), ("B3", Decimal("1840.00")), ("C3", Decimal("900.00")),
    ]
    assert table.total == Decimal("4780.00")
    selection = PlanSelection.objects.get(batch=batch)
    assert selection.codes == "A0 B0 C0 A3 B3 C3" and selection.source is None
    assert plan_selection_codes(batch=batch) == WORKED_EXAMPLE
    # Nothing confirmed, nothing moved.
    batch.refresh_from_db()
    assert batch.state == S.ROSTER_APPROVED and not BatchPremium.objects.filter(batch=batch).exists()
    assert log_rows(batch) == []


def test_premium_generate_again_replaces_the_selection(handbook_year):
    batch = approved_batch(year=handbook_year, social_security=2, state=S.REVIEW_APPROVED)
    premium_generate(batch=batch, codes=WORKED_EXAMPLE, acting_user=batch.account)

    codes, table = premium_generate(batch=batch, codes=["B0", "C1"], acting_user=batch.account)

    assert codes == ["B0", "C1"] and table.total == Decimal("190.00")  # 2 × (55 + 40)
    assert PlanSelection.objects.get(batch=batch).codes == "B0 C1"
    assert PlanSelection.objects.filter(batch=batch).count() == 1


def test_premium_generate_counts_people_by_social_security(handbook_year):
    # SPEC PLAN-3: 3 with 社保 pay 180 + 330, 2 without pay 55 + 15 + 330.
    batch = approved_batch(year=handbook_year, social_security=3, without_social_security=2)
    assert batch_people_counts(batch=batch) == (3, 2)

    _, table = premium_generate(batch=batch, codes=["A0", "B0", "C0", "A3"], acting_user=batch.account)

    assert [(line.label, line.social_security_people, line.other_people, line.amount) for line in table.lines] == [
        ("A0 B0 C0", 3, 0, Decimal("540.00")),
        ("B0", 0, 2, Decimal("110.00")),
        ("C0", 0, 2, Decimal("30.00")),
        ("A3", 3, 2, Decimal("1650.00")),
    ]
    assert table.total == Decimal("2330.00")


@pytest.mark.parametrize(
    "codes, fragment",
    [
        ([], "基本保障项目A0、B0、C0至少选1种"),  # SPEC PLAN-2
        (["A3", "B3"], "基本保障项目A0、B0、C0至少选1种"),
        (["A0", "A1", "A2"], "当前选了A1、A2，请只保留一种"),
        (["A0", "X9"], "保障项目“X9”不存在"),
        (["A0", "A3"], "本批次有2位非社保人员不能参加A0"),  # SPEC PLAN-3 with the count
    ],
)
def test_premium_generate_refuses_a_selection_that_breaks_a_rule(handbook_year, codes, fragment):
    batch = approved_batch(year=handbook_year, social_security=3, without_social_security=2)

    with pytest.raises(PlanError) as refused:
        premium_generate(batch=batch, codes=codes, acting_user=batch.account)

    assert fragment in refused.value.message and refused.value.field == "codes"
    assert not PlanSelection.objects.filter(batch=batch).exists()


def test_premium_generate_allows_only_a0_as_basic_when_everyone_has_social_security(handbook_year):
    batch = approved_batch(year=handbook_year, social_security=3)
    codes, table = premium_generate(batch=batch, codes=["A0", "A3"], acting_user=batch.account)
    assert codes == ["A0", "A3"] and table.total == Decimal("1350.00")


@pytest.mark.parametrize(
    "state",
    [S.DRAFT, S.INVALID, S.IN_REVIEW, S.REVIEW_REJECTED, S.PAYMENT_REVIEW, S.PAYMENT_REJECTED, S.COMPLETED, S.CANCELLED],
)
def test_premium_generate_refused_in_states_without_plan_selection(handbook_year, state):
    # SPEC BAT-3: the service checks the state itself, not just the button.
    batch = approved_batch(year=handbook_year, state=state)
    with pytest.raises(PlanError) as refused:
        premium_generate(batch=batch, codes=WORKED_EXAMPLE, acting_user=batch.account)
    assert refused.value.message == f"批次当前状态为“{S(state).label}”，不能进行【保障项目选择】操作。"
    assert not PlanSelection.objects.filter(batch=batch).exists()


def test_premium_generate_after_confirmation_points_to_the_withdrawal(handbook_year):
    batch = confirmed_batch(handbook_year)
    with pytest.raises(PlanError) as refused:
        premium_generate(batch=batch, codes=["B0"], acting_user=batch.account)
    assert "【批次撤回】" in refused.value.message and "重新选择保障项目" in refused.value.message
    assert PlanSelection.objects.get(batch=batch).codes == "A0 B0 C0 A3 B3 C3"


# --- 【提交确认保费】 (SPEC PREM-3, PAY-1, BAT-7) -------------------------------------------------------------


def test_premium_confirm_stores_the_table_and_moves_to_awaiting_payment(handbook_year):
    batch = approved_batch(year=handbook_year, social_security=7, without_social_security=1)
    actor = batch.account
    at = dt.datetime(2023, 6, 20, 16, 45, tzinfo=SHANGHAI)
    expected = batch_premium_table(batch=batch, codes=WORKED_EXAMPLE)

    premium = premium_confirm(batch=batch, codes=WORKED_EXAMPLE, acting_user=actor, at=at)

    assert batch.state == S.AWAITING_PAYMENT
    batch.refresh_from_db()
    assert batch.state == S.AWAITING_PAYMENT
    premium.refresh_from_db()
    assert premium.codes == "A0 B0 C0 A3 B3 C3" and premium.code_list == WORKED_EXAMPLE
    assert premium.total == expected.total == Decimal("9450.00")
    assert (premium.social_security_people, premium.other_people, premium.people) == (7, 1, 8)
    assert premium.full_year is True and premium.bundle_discount == Decimal("10.00")
    assert premium.prices == {code: f"{price}.00" for code, price, _ in HANDBOOK_ITEMS}
    assert premium.approved_state == S.ROSTER_APPROVED
    assert premium.confirmed_at == at and premium.confirmed_by == actor
    assert premium.payment_due == dt.date(2023, 7, 5)  # SPEC PAY-1: 15 days
    stored = [
        (
            line.position, line.label, line.standard, line.discount, line.social_security_people,
            line.social_security_amount, line.other_people, line.other_amount, line.amount,
        )
        for line in PremiumLine.objects.filter(premium=premium)
    ]
    assert stored == [
        (
            position, line.label, line.standard, line.discount, line.social_security_people,
            line.social_security_amount, line.other_people, line.other_amount, line.amount,
        )
        for position, line in enumerate(expected.lines, 1)
    ]
    assert sum(line[-1] for line in stored) == premium.total
    assert PlanSelection.objects.get(batch=batch).codes == premium.codes
    # SPEC BAT-7: the 操作日志 row.
    assert log_rows(batch) == [("提交确认保费", S.ROSTER_APPROVED, S.AWAITING_PAYMENT, "保费总计9450.00元", actor.pk)]


def test_premium_confirm_payment_due_counts_from_the_shanghai_date(handbook_year):
    # 2023-06-20 17:30 UTC is 06-21 01:30 in Shanghai: 15 days from 06-21.
    batch = approved_batch(year=handbook_year)
    premium = premium_confirm(
        batch=batch, codes=["A0"], acting_user=batch.account, at=dt.datetime(2023, 6, 20, 17, 30, tzinfo=dt.timezone.utc)
    )
    assert premium.payment_due == dt.date(2023, 7, 6)


def test_premium_confirm_keeps_the_approved_state_it_left(handbook_year):
    batch = approved_batch(year=handbook_year, state=S.REVIEW_APPROVED)
    premium = premium_confirm(batch=batch, codes=["B0"], acting_user=batch.account, at=IN_CENTRALISED_WINDOW)
    assert premium.approved_state == S.REVIEW_APPROVED
    assert log_rows(batch)[0][1:3] == (S.REVIEW_APPROVED, S.AWAITING_PAYMENT)


def test_premium_confirm_twice_is_refused_with_a_clear_message(handbook_year):
    batch = approved_batch(year=handbook_year)
    stale = Batch.objects.get(pk=batch.pk)  # the second browser's copy, still 清册校验通过
    premium_confirm(batch=batch, codes=WORKED_EXAMPLE, acting_user=batch.account, at=IN_CENTRALISED_WINDOW)

    with pytest.raises(PlanError) as refused:
        premium_confirm(batch=stale, codes=["B0"], acting_user=batch.account, at=IN_CENTRALISED_WINDOW)

    assert refused.value.message == f"批次 {batch.number} 的保费已确认，无需重复提交。"
    assert BatchPremium.objects.filter(batch=batch).count() == 1
    assert BatchPremium.objects.get(batch=batch).codes == "A0 B0 C0 A3 B3 C3"
    assert len(log_rows(batch)) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two confirmations at once need PostgreSQL's row locks")
def test_two_confirmations_at_once_confirm_once(handbook_year):
    """STYLE.md §9: a double click or two browsers: both run at the same moment in two threads; one
    premium, one 操作日志 row, the other gets the message."""
    batch = approved_batch(year=handbook_year, social_security=4)
    barrier = threading.Barrier(2)
    outcomes = []

    def confirm(codes):
        copy = Batch.objects.get(pk=batch.pk)
        barrier.wait()
        try:
            premium_confirm(batch=copy, codes=codes, acting_user=batch.account, at=IN_CENTRALISED_WINDOW)
            outcomes.append("confirmed")
        except PlanError as error:
            outcomes.append(error.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(codes,)) for codes in (WORKED_EXAMPLE, ["B0"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == sorted(["confirmed", f"批次 {batch.number} 的保费已确认，无需重复提交。"])
    assert BatchPremium.objects.filter(batch=batch).count() == 1
    assert PremiumLine.objects.filter(premium__batch=batch).count() == len(BatchPremium.objects.get(batch=batch).lines.all())
    assert [row[0] for row in log_rows(batch)] == ["提交确认保费"]


@pytest.mark.parametrize("state", [S.DRAFT, S.IN_REVIEW, S.PAYMENT_REVIEW, S.COMPLETED])
def test_premium_confirm_refused_in_wrong_states(handbook_year, state):
    batch = approved_batch(year=handbook_year, state=state)
    with pytest.raises(PlanError, match="不能进行【保障项目选择】操作"):
        premium_confirm(batch=batch, codes=WORKED_EXAMPLE, acting_user=batch.account)
    assert not BatchPremium.objects.filter(batch=batch).exists() and log_rows(batch) == []


def test_premium_confirm_refuses_a_broken_selection_and_an_empty_roster(handbook_year):
    batch = approved_batch(year=handbook_year, social_security=1, without_social_security=1)
    with pytest.raises(PlanError, match="本批次有1位非社保人员不能参加A0"):
        premium_confirm(batch=batch, codes=["A0", "A3"], acting_user=batch.account)
    empty = approved_batch(year=handbook_year, social_security=0)
    with pytest.raises(PlanError, match="参保清册中没有人员"):
        premium_confirm(batch=empty, codes=["A0"], acting_user=empty.account)
    assert not BatchPremium.objects.exists()
    batch.refresh_from_db()
    assert batch.state == S.ROSTER_APPROVED


def test_premium_person_price_args_price_a_person_as_the_confirmed_table_did(handbook_year):
    batch = confirmed_batch(handbook_year, social_security=4)
    premium = batch.premium
    PlanItem.objects.filter(coverage_year=handbook_year, code="A3").update(price=Decimal("999"))  # later edits
    args = premium_person_price_args(premium=premium)
    per_person = premiums.person_amount(premium.code_list, has_social_security=True, **args)
    assert per_person == Decimal("1195.00") and 4 * per_person == premium.total


# --- SPEC PREM-2: the half-year tier of an instant batch ------------------------------------------------


@pytest.mark.parametrize(
    "start, full_year, total",
    [(dt.date(2023, 12, 31), True, Decimal("4780.00")), (dt.date(2024, 1, 1), False, Decimal("2410.00"))],
)
def test_instant_batch_tier_from_its_start_date(handbook_year, start, full_year, total):
    batch = approved_batch(year=handbook_year, kind=BatchKind.INSTANT, start=start, social_security=4)

    premium = premium_confirm(batch=batch, codes=WORKED_EXAMPLE, acting_user=batch.account, at=IN_INSTANT_WINDOW)

    assert premium.full_year is full_year and premium.total == total
    labels = list(premium.lines.values_list("label", flat=True))
    assert labels == (["A0 B0 C0", "A3", "B3", "C3"] if full_year else ["A0", "B0", "C0", "A3", "B3", "C3"])
    # The snapshot keeps the full-year prices; the tier says how they applied.
    assert premium.prices["A3"] == "330.00"


# --- SPEC PREM-4: the locked selection of instant batches ------------------------------------------------


def test_instant_batch_of_a_code_whose_centralised_batch_confirmed_uses_that_selection(handbook_year):
    centralised = confirmed_batch(handbook_year, codes=["A0", "B0", "C0", "A3"], social_security=3)
    instant = approved_batch(year=handbook_year, account=centralised.account, kind=BatchKind.INSTANT, social_security=2)
    assert instant.code_id == centralised.code_id
    assert plan_selection_source(batch=instant) == centralised
    assert plan_selection_codes(batch=instant) == ["A0", "B0", "C0", "A3"]

    codes, table = premium_generate(batch=instant, codes=["C0", "X9"], acting_user=instant.account)  # ignored

    assert codes == ["A0", "B0", "C0", "A3"] and table.total == Decimal("1020.00")  # 2 × (180 + 330)
    selection = PlanSelection.objects.get(batch=instant)
    assert selection.codes == "A0 B0 C0 A3" and selection.source == centralised

    premium = premium_confirm(batch=instant, codes=["B0"], acting_user=instant.account, at=IN_INSTANT_WINDOW)
    assert premium.codes == "A0 B0 C0 A3" and premium.total == Decimal("1020.00")


def test_no_lock_before_the_centralised_batch_confirms_or_for_another_code(handbook_year):
    centralised = approved_batch(year=handbook_year, social_security=3)
    instant = approved_batch(year=handbook_year, account=centralised.account, kind=BatchKind.INSTANT)
    assert plan_selection_source(batch=instant) is None
    assert plan_selection_source(batch=centralised) is None  # a centralised batch is never locked

    other = confirmed_batch(handbook_year, codes=["A0"])  # another unit's code
    assert plan_selection_source(batch=instant) is None
    codes, _ = premium_generate(batch=instant, codes=["B0", "C2"], acting_user=instant.account)
    assert codes == ["B0", "C2"] and other.code_id != instant.code_id


def test_no_lock_from_a_cancelled_centralised_batch(handbook_year):
    centralised = confirmed_batch(handbook_year, codes=["A0", "A3"])
    Batch.objects.filter(pk=centralised.pk).update(state=S.CANCELLED)  # SPEC BAT-11, by a reviewer
    instant = approved_batch(year=handbook_year, account=centralised.account, kind=BatchKind.INSTANT)
    assert plan_selection_source(batch=instant) is None


@pytest.mark.parametrize("state", [S.PAYMENT_REVIEW, S.PAYMENT_REJECTED, S.COMPLETED])
def test_lock_holds_through_the_payment_states(handbook_year, state):
    centralised = confirmed_batch(handbook_year, codes=["B0", "B3"])
    Batch.objects.filter(pk=centralised.pk).update(state=state)
    instant = approved_batch(year=handbook_year, account=centralised.account, kind=BatchKind.INSTANT)
    assert plan_selection_codes(batch=instant) == ["B0", "B3"]


def test_locked_selection_with_only_a0_refuses_people_without_social_security_confirmed_after_submission(handbook_year):
    # SPEC PLAN-3 under PREM-4: 清册提交 blocks them (test_plan3_rule.py), but the centralised batch may
    # confirm only after the instant batch was submitted; pricing must not give them nothing.
    centralised = approved_batch(year=handbook_year, social_security=3)
    instant = approved_batch(
        year=handbook_year, account=centralised.account, kind=BatchKind.INSTANT, social_security=2,
        without_social_security=2,
    )
    premium_confirm(batch=centralised, codes=["A0", "A3"], acting_user=centralised.account, at=AFTER_CENTRALISED_WINDOW)

    with pytest.raises(PlanError) as refused:
        premium_generate(batch=instant, codes=["A0", "B0"], acting_user=instant.account)
    assert "2位非社保人员" in refused.value.message and "【批次撤回】" in refused.value.message
    with pytest.raises(PlanError):
        premium_confirm(batch=instant, codes=["A0", "B0"], acting_user=instant.account, at=IN_INSTANT_WINDOW)
    assert not BatchPremium.objects.filter(batch=instant).exists()


def test_plan_item_price_locked_once_a_batch_of_the_year_confirmed(handbook_year):
    later = CoverageYearFactory(year=2024)
    assert plan_item_price_locked(coverage_year=handbook_year) is False
    generated = approved_batch(year=handbook_year)
    premium_generate(batch=generated, codes=["A0"], acting_user=generated.account)  # generating alone does not lock
    assert plan_item_price_locked(coverage_year=handbook_year) is False

    confirmed_batch(handbook_year)

    assert plan_item_price_locked(coverage_year=handbook_year) is True
    assert plan_item_price_locked(coverage_year=later) is False


# --- 【批次撤回】 (SPEC BAT-6, BAT-10, BAT-7) ------------------------------------------------------------------


def test_withdraw_to_the_roster_releases_the_registry_clears_dates_and_drops_the_premium(handbook_year):
    batch = confirmed_batch(handbook_year, social_security=3, without_social_security=1, codes=["A0", "B0", "C0"])
    actor = batch.account
    assert register(batch) == 4
    neighbour = approved_batch(year=handbook_year, social_security=2)
    register(neighbour)
    premium_pk = batch.premium.pk

    withdrawn = batch_withdraw(
        batch=batch, target=WithdrawTarget.ROSTER, reason="  漏报两名新入职职工  ", acting_user=actor, at=IN_CENTRALISED_WINDOW
    )

    assert withdrawn.state == batch.state == S.DRAFT
    batch.refresh_from_db()
    assert batch.state == S.DRAFT and batch.coverage_start is None and batch.coverage_end is None
    assert not EnrolmentRegistry.objects.filter(batch=batch).exists()  # SPEC ROS-11: released
    assert EnrolmentRegistry.objects.filter(batch=neighbour).count() == 2  # nobody else's
    assert not RosterEntry.objects.filter(batch=batch, coverage_start__isnull=False).exists()
    assert not RosterEntry.objects.filter(batch=batch, coverage_end__isnull=False).exists()
    assert RosterEntry.objects.filter(batch=batch).count() == 4  # the roster itself stays, editable
    assert batch.roster_editable
    assert not BatchPremium.objects.filter(pk=premium_pk).exists()
    assert not PremiumLine.objects.filter(premium_id=premium_pk).exists()
    assert log_rows(batch)[-1] == ("批次撤回（重新整理清册）", S.AWAITING_PAYMENT, S.DRAFT, "漏报两名新入职职工", actor.pk)


@pytest.mark.parametrize("state", [S.ROSTER_APPROVED, S.REVIEW_APPROVED])
def test_withdraw_to_the_roster_before_confirmation(handbook_year, state):
    batch = approved_batch(year=handbook_year, state=state)
    register(batch)
    premium_generate(batch=batch, codes=["A0"], acting_user=batch.account)

    batch_withdraw(batch=batch, target=WithdrawTarget.ROSTER, reason="人员有误", acting_user=batch.account, at=IN_CENTRALISED_WINDOW)

    batch.refresh_from_db()
    assert batch.state == S.DRAFT and not EnrolmentRegistry.objects.filter(batch=batch).exists()
    assert log_rows(batch)[-1][:4] == ("批次撤回（重新整理清册）", state, S.DRAFT, "人员有误")


@pytest.mark.parametrize("approved", [S.ROSTER_APPROVED, S.REVIEW_APPROVED])
def test_withdraw_to_reselect_plans_goes_back_to_the_approved_state_it_left(handbook_year, approved):
    batch = confirmed_batch(handbook_year, state=approved, social_security=2)
    register(batch)
    start, end = batch.coverage_start, batch.coverage_end
    premium_pk = batch.premium.pk

    batch_withdraw(batch=batch, target=WithdrawTarget.PLANS, reason="少选了C3", acting_user=batch.account, at=IN_CENTRALISED_WINDOW)

    batch.refresh_from_db()
    assert batch.state == approved
    assert not BatchPremium.objects.filter(pk=premium_pk).exists()
    assert not PremiumLine.objects.filter(premium_id=premium_pk).exists()
    # The roster stays submitted: registry rows and coverage dates kept; the selection is the starting point.
    assert EnrolmentRegistry.objects.filter(batch=batch).count() == 2
    assert (batch.coverage_start, batch.coverage_end) == (start, end)
    assert not RosterEntry.objects.filter(batch=batch, coverage_start__isnull=True).exists()
    assert plan_selection_codes(batch=batch) == WORKED_EXAMPLE
    assert log_rows(batch)[-1][:4] == ("批次撤回（重新选择保障项目）", S.AWAITING_PAYMENT, approved, "少选了C3")
    # And the unit can choose again and confirm.
    premium = premium_confirm(batch=batch, codes=WORKED_EXAMPLE[:3] + ["C3"], acting_user=batch.account, at=IN_CENTRALISED_WINDOW)
    assert premium.total == Decimal("810.00")  # 2 × (180 + 225)


def test_withdraw_to_reselect_plans_without_a_stored_premium_reads_the_log(handbook_year):
    batch = confirmed_batch(handbook_year, state=S.REVIEW_APPROVED)
    BatchPremium.objects.filter(batch=batch).delete()  # repaired by hand in the back office
    batch_withdraw(batch=batch, target=WithdrawTarget.PLANS, reason="重选", acting_user=batch.account, at=IN_CENTRALISED_WINDOW)
    batch.refresh_from_db()
    assert batch.state == S.REVIEW_APPROVED


@pytest.mark.parametrize(
    "target, reason, message, field",
    [
        ("", "原因", "请选择撤回方式：重新整理清册或重新选择保障项目。", "target"),
        ("everything", "原因", "请选择撤回方式：重新整理清册或重新选择保障项目。", "target"),
        (WithdrawTarget.ROSTER, "", "请简单写明撤回原因。", "reason"),
        (WithdrawTarget.PLANS, "   ", "请简单写明撤回原因。", "reason"),
        (WithdrawTarget.PLANS, None, "请简单写明撤回原因。", "reason"),
    ],
)
def test_withdraw_needs_a_target_and_a_reason(handbook_year, target, reason, message, field):
    batch = confirmed_batch(handbook_year)
    register(batch)
    with pytest.raises(PlanError) as refused:
        batch_withdraw(batch=batch, target=target, reason=reason, acting_user=batch.account, at=IN_CENTRALISED_WINDOW)
    assert (refused.value.message, refused.value.field) == (message, field)
    assert_untouched(batch, S.AWAITING_PAYMENT)


def assert_untouched(batch, state):
    batch.refresh_from_db()
    assert batch.state == state
    assert [row[0] for row in log_rows(batch)] == (["提交确认保费"] if state == S.AWAITING_PAYMENT else [])
    if state == S.AWAITING_PAYMENT:
        assert BatchPremium.objects.filter(batch=batch).exists()


@pytest.mark.parametrize("approved", [S.ROSTER_APPROVED, S.REVIEW_APPROVED])
def test_withdraw_to_reselect_plans_only_from_awaiting_payment(handbook_year, approved):
    batch = approved_batch(year=handbook_year, state=approved)
    with pytest.raises(PlanError) as refused:
        batch_withdraw(batch=batch, target=WithdrawTarget.PLANS, reason="重选", acting_user=batch.account, at=IN_CENTRALISED_WINDOW)
    assert refused.value.message == "尚未提交确认保费，可直接点击【保障项目选择】重新选择，无需撤回。"
    assert_untouched(batch, approved)


@pytest.mark.parametrize(
    "state",
    [S.DRAFT, S.INVALID, S.IN_REVIEW, S.REVIEW_REJECTED, S.PAYMENT_REVIEW, S.PAYMENT_REJECTED, S.COMPLETED, S.CANCELLED],
)
@pytest.mark.parametrize("target", [WithdrawTarget.ROSTER, WithdrawTarget.PLANS])
def test_withdraw_refused_in_other_states(handbook_year, state, target):
    # SPEC BAT-6: e.g. 缴费凭证待审核, once a voucher is uploaded (BAT-8).
    batch = approved_batch(year=handbook_year, state=state)
    register(batch)
    with pytest.raises(PlanError) as refused:
        batch_withdraw(batch=batch, target=target, reason="原因", acting_user=batch.account, at=IN_CENTRALISED_WINDOW)
    assert refused.value.message == f"批次当前状态为“{S(state).label}”，不能进行【批次撤回】操作。"
    with pytest.raises(PlanError):
        batch_withdraw_check(batch=batch, at=IN_CENTRALISED_WINDOW)
    assert_untouched(batch, state)
    assert EnrolmentRegistry.objects.filter(batch=batch).count() == 4


@pytest.mark.parametrize("target", [WithdrawTarget.ROSTER, WithdrawTarget.PLANS])
def test_centralised_batch_cannot_be_withdrawn_after_the_window_closes(handbook_year, target):
    # SPEC BAT-10: the centralised procedure cannot be redone; confirmation still worked after the close.
    batch = confirmed_batch(handbook_year, at=AFTER_CENTRALISED_WINDOW)
    register(batch)
    with pytest.raises(PlanError) as refused:
        batch_withdraw(batch=batch, target=target, reason="原因", acting_user=batch.account, at=AFTER_CENTRALISED_WINDOW)
    assert "集中参保通道已关闭" in refused.value.message and "即时参保" in refused.value.message
    assert_untouched(batch, S.AWAITING_PAYMENT)
    assert EnrolmentRegistry.objects.filter(batch=batch).count() == 4
    # The last moment of the window (6月30日 23:59) still works.
    batch_withdraw_check(batch=batch, target=target, at=AFTER_CENTRALISED_WINDOW - dt.timedelta(minutes=1))


def test_centralised_withdrawal_uses_now_when_no_moment_is_given(handbook_year):
    batch = confirmed_batch(handbook_year)
    with time_machine.travel(dt.datetime(2023, 7, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        with pytest.raises(PlanError, match="集中参保通道已关闭"):
            batch_withdraw(batch=batch, target=WithdrawTarget.PLANS, reason="原因", acting_user=batch.account)
    with time_machine.travel(IN_CENTRALISED_WINDOW, tick=False):
        batch_withdraw(batch=batch, target=WithdrawTarget.PLANS, reason="原因", acting_user=batch.account)
    batch.refresh_from_db()
    assert batch.state == S.ROSTER_APPROVED


@pytest.mark.parametrize("target, to", [(WithdrawTarget.ROSTER, S.DRAFT), (WithdrawTarget.PLANS, S.ROSTER_APPROVED)])
def test_instant_batch_can_be_withdrawn_later_in_the_year(handbook_year, target, to):
    batch = confirmed_batch(handbook_year, kind=BatchKind.INSTANT, start=dt.date(2023, 9, 11), at=IN_INSTANT_WINDOW)
    register(batch)
    later = dt.datetime(2024, 3, 1, 10, 0, tzinfo=SHANGHAI)
    assert batch_withdraw_check(batch=batch, target=target, at=later) is None

    batch_withdraw(batch=batch, target=target, reason="调整", acting_user=batch.account, at=later)

    batch.refresh_from_db()
    assert batch.state == to
    assert EnrolmentRegistry.objects.filter(batch=batch).exists() is (to != S.DRAFT)
    assert log_rows(batch)[-1][2] == to


def test_withdraw_of_a_stale_copy_is_checked_against_the_current_state(handbook_year):
    batch = confirmed_batch(handbook_year)
    stale = Batch.objects.get(pk=batch.pk)
    batch_withdraw(batch=batch, target=WithdrawTarget.ROSTER, reason="第一次", acting_user=batch.account, at=IN_CENTRALISED_WINDOW)
    with pytest.raises(EnrollmentError, match="不能进行【批次撤回】操作"):
        batch_withdraw(batch=stale, target=WithdrawTarget.PLANS, reason="第二次", acting_user=batch.account, at=IN_CENTRALISED_WINDOW)
    assert [row[0] for row in log_rows(batch)] == ["提交确认保费", "批次撤回（重新整理清册）"]
