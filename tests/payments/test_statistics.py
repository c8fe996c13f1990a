"""参保统计 (SPEC BO-3, issue 10 item 2): every figure of payments.statistics equals a direct count over
people, premium lines and vouchers of a seeded year — batches in different states, of both kinds, with
different items and union organisations; withdrawn and cancelled batches do not count — and the page
answers reviewers only."""
import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Sum
from django.urls import reverse

from accounts.models import UnionOrganisation
from enrollment.models import Batch, HandlerInfo
from enrollment.services import batch_totals_submitted
from enrollment.states import HOLDING_STATES, BatchKind, BatchState
from payments import statistics
from payments.models import Voucher, VoucherBatch
from payments.services import RefundDetails, batch_cancel, voucher_approve, voucher_submit
from plans.models import PremiumLine
from plans.services import WithdrawTarget, batch_withdraw, premium_confirm
from rosters.models import RosterEntry
from tests.factories import SHANGHAI
from tests.payments.helpers import proof_draft
from tests.plans.helpers import approved_batch

pytestmark = pytest.mark.django_db

CONFIRMED_AT = dt.datetime(2023, 6, 20, 10, 0, tzinfo=SHANGHAI)
REFUND = RefundDetails(account_number="6222 0210 0112 3456 789", account_name="上海长风示范科技有限公司", bank="中国工商银行")


def submitted(batch, *, on: dt.date, level1=None, level2=None):
    """清册提交 as far as the statistics see it (enrollment.services.batch_totals_submitted, which
    rosters.submission.batch_submit calls; its own tests are tests/enrollment/test_batch_totals.py):
    the batch's people counted from its roster, the union organisations of its 经办人填报."""
    HandlerInfo.objects.filter(code_id=batch.code_id).update(union_level1=level1, union_level2=level2)
    entries = RosterEntry.objects.filter(batch=batch)
    at = dt.datetime.combine(on, dt.time(10), tzinfo=SHANGHAI)
    batch_totals_submitted(
        batch=batch, people=entries.count(), social_security_people=entries.filter(has_social_security=True).count(), at=at
    )
    return batch


def confirmed(batch, codes):
    with time_machine.travel(CONFIRMED_AT, tick=False):
        premium_confirm(batch=batch, codes=list(codes), acting_user=batch.account)
    batch.refresh_from_db()
    return batch


def paid(batch, *, extra=Decimal("0"), reviewer=None):
    voucher = voucher_submit(
        account=batch.account, batch_numbers=[batch.number], payer=batch.unit_name, method="online",
        amount=batch.premium.total + extra, draft_token=proof_draft(batch.account), refund=REFUND if extra else None,
    )
    if reviewer is not None:
        voucher_approve(voucher=voucher, acting_user=reviewer)
    batch.refresh_from_db()
    return voucher


@pytest.fixture
def seeded(handbook_year, union_organisations, reviewer):
    """Eight batches of 2023 and one of another year:
    completed (centralised, union 1/2, bundle + A3, paid with a refund), completed (instant, the same
    unit, union 1 without a level 2), payment review (union 2, A0 B0 C0), awaiting payment (no union, A0 C0),
    roster approved (union 1/2, no premium yet), withdrawn to a draft, cancelled, a draft never
    submitted."""
    level1 = list(UnionOrganisation.objects.filter(level=1).order_by("pk")[:2])
    child = UnionOrganisation.objects.filter(level=2, parent=level1[0]).first()
    if child is None:
        child = UnionOrganisation.objects.create(name="测试二级工会", level=2, parent=level1[0])
    year = handbook_year
    june = dt.date(2023, 6, 10)

    first = submitted(approved_batch(year=year, social_security=5, without_social_security=2), on=june, level1=level1[0], level2=child)
    paid(confirmed(first, ["A0", "B0", "C0", "A3"]), extra=Decimal("123.45"), reviewer=reviewer)
    # the same unit's instant batch: one unit, two batches; SPEC PREM-4 locks its items to the
    # centralised batch's (A0 B0 C0 A3)
    second = approved_batch(year=year, account=first.account, kind=BatchKind.INSTANT, social_security=3)
    submitted(second, on=dt.date(2023, 9, 1), level1=level1[0])
    paid(confirmed(second, ["A0", "B0", "C0", "A3"]), reviewer=reviewer)

    third = submitted(approved_batch(year=year, social_security=4), on=june, level1=level1[1])
    paid(confirmed(third, ["A0", "B0", "C0"]), extra=Decimal("10"))  # 缴费凭证待审核

    fourth = submitted(approved_batch(year=year, social_security=2, without_social_security=1), on=dt.date(2023, 6, 12))
    confirmed(fourth, ["A0", "C0"])

    fifth = submitted(approved_batch(year=year, social_security=6), on=dt.date(2023, 6, 12), level1=level1[0], level2=child)

    withdrawn = submitted(approved_batch(year=year, social_security=8), on=june, level1=level1[1])
    confirmed(withdrawn, ["A0", "B0", "C0"])
    with time_machine.travel(CONFIRMED_AT, tick=False):
        batch_withdraw(batch=withdrawn, target=WithdrawTarget.ROSTER, reason="补充人员", acting_user=withdrawn.account)

    cancelled = submitted(approved_batch(year=year, social_security=9), on=june, level1=level1[1])
    confirmed(cancelled, ["A0", "B0", "C0"])
    batch_cancel(batch=cancelled, acting_user=reviewer, reason="逾期未缴费", today=dt.date(2023, 12, 1))

    approved_batch(year=year, social_security=3, state=BatchState.DRAFT)
    for batch in Batch.objects.all():
        batch.refresh_from_db()
    return {"year": year, "level1": level1, "child": child}


def _holding(year):
    return Batch.objects.filter(coverage_year=year, state__in=HOLDING_STATES)


def test_the_seed_has_what_the_statistics_must_tell_apart(seeded):
    states = set(Batch.objects.values_list("state", flat=True))
    assert {BatchState.COMPLETED, BatchState.PAYMENT_REVIEW, BatchState.AWAITING_PAYMENT, BatchState.ROSTER_APPROVED,
            BatchState.DRAFT, BatchState.CANCELLED} <= states


def test_units_and_people_by_day_equal_the_rosters_of_the_holding_batches(seeded):
    year = seeded["year"]
    days = statistics.statistics_by_day(coverage_year=year)
    holding = _holding(year)
    people = RosterEntry.objects.filter(batch__in=holding).count()
    assert people == 5 + 2 + 3 + 4 + 3 + 6
    assert days[-1].cumulative_people == people
    assert days[-1].cumulative_units == holding.values("code").distinct().count() == 4  # first unit: two batches
    by_day = {row.day: row for row in days}
    assert by_day[dt.date(2023, 6, 10)].people == 7 + 4  # the withdrawn and cancelled ones of that day do not count
    assert (by_day[dt.date(2023, 6, 10)].units, by_day[dt.date(2023, 6, 10)].batches) == (2, 2)
    assert by_day[dt.date(2023, 6, 12)].people == 3 + 6
    # the first unit's instant batch: a batch and its people, not a new unit
    assert (by_day[dt.date(2023, 9, 1)].people, by_day[dt.date(2023, 9, 1)].batches, by_day[dt.date(2023, 9, 1)].units) == (3, 1, 0)
    assert sum(row.units for row in days) == days[-1].cumulative_units
    assert by_day[dt.date(2023, 6, 11)].people == 0  # days without a submission are rows of zeros
    assert days[0].day == dt.date(2023, 6, 1)  # SPEC YEAR-1: the centralised window opens 6月1日
    assert [row.day for row in days] == sorted(row.day for row in days)


def test_batches_and_people_by_state_and_kind(seeded):
    year = seeded["year"]
    rows = {row.state: row for row in statistics.statistics_by_state(coverage_year=year)}
    assert list(rows) == list(BatchState.values)  # every state, in the machine's order
    for state, row in rows.items():
        for kind in BatchKind.values:
            batches = Batch.objects.filter(coverage_year=year, state=state, kind=kind)
            assert row.batches[kind] == batches.count()
            if state in statistics.PEOPLE_KNOWN_STATES:
                assert row.people[kind] == RosterEntry.objects.filter(batch__in=batches).count()
            else:
                assert row.people[kind] is None
    assert rows[BatchState.COMPLETED].batches == {"centralised": 1, "instant": 1}
    assert rows[BatchState.DRAFT].total_people is None  # the withdrawn batch's old figures are not shown
    assert rows[BatchState.CANCELLED].total_people == 9


def test_people_and_premium_by_item_equal_the_confirmed_premium_lines(seeded):
    year = seeded["year"]
    items = {item.code: item for item in statistics.statistics_by_item(coverage_year=year)}
    counted_batches = Batch.objects.filter(coverage_year=year, state__in=statistics.PREMIUM_CONFIRMED_STATES)
    lines = PremiumLine.objects.filter(premium__batch__in=counted_batches)
    assert sum(item.premium for item in items.values()) == lines.aggregate(total=Sum("amount"))["total"]
    # Direct: each premium line names the items its people have; their people add up per item.
    expected_people: dict[str, int] = {}
    for line in lines:
        for code in line.label.split():
            expected_people[code] = expected_people.get(code, 0) + line.social_security_people + line.other_people
    assert {code: item.people for code, item in items.items() if not item.is_discount} == expected_people
    # SPEC PREM-1: the bundle discount for the people with all three basic items, 10 yuan each.
    discount = items["优惠"]
    assert discount.people == 5 + 3 + 4  # the people with 社保 of the two completed and the third batch
    assert discount.premium == Decimal("-120.00")
    assert list(items)[-1] == "优惠" and list(items)[:3] == ["A0", "B0", "C0"]
    assert items["A3"].label == "A3 在职住院（加强）"


def test_by_union_organisation_units_people_and_premium(seeded):
    year = seeded["year"]
    level1, child = seeded["level1"], seeded["child"]
    rows = {row.name: row for row in statistics.statistics_by_union(coverage_year=year)}
    holding = _holding(year)

    def direct(batches):
        confirmed = batches.filter(state__in=statistics.PREMIUM_CONFIRMED_STATES)
        premium = PremiumLine.objects.filter(premium__batch__in=confirmed).aggregate(total=Sum("amount"))["total"] or 0
        return (batches.values("code").distinct().count(), RosterEntry.objects.filter(batch__in=batches).count(), premium)

    first = rows[level1[0].name]
    assert (first.units, first.people, first.premium) == direct(holding.filter(totals__union_level1=level1[0]))
    assert (first.units, first.people) == (2, 7 + 3 + 6)  # the first unit (two batches) and the fifth
    [grandchild] = first.children
    assert grandchild.name == child.name
    assert (grandchild.units, grandchild.people, grandchild.premium) == direct(holding.filter(totals__union_level2=child))
    second = rows[level1[1].name]
    assert (second.units, second.people, second.premium) == direct(holding.filter(totals__union_level1=level1[1]))
    assert second.people == 4  # withdrawn and cancelled batches of that union do not count
    none = rows[statistics.NO_UNION]
    assert (none.units, none.people, none.premium) == direct(holding.filter(totals__union_level1__isnull=True))
    assert list(rows)[-1] == statistics.NO_UNION


def test_premiums_confirmed_paid_and_refunded(seeded):
    year = seeded["year"]
    money = statistics.statistics_money(coverage_year=year)
    confirmed = Batch.objects.filter(coverage_year=year, state__in=statistics.PREMIUM_CONFIRMED_STATES)
    assert money.confirmed == PremiumLine.objects.filter(premium__batch__in=confirmed).aggregate(t=Sum("amount"))["t"]
    assert money.confirmed_batches == confirmed.count() == 4
    approved = Voucher.objects.filter(status=Voucher.Status.APPROVED)
    assert money.paid == VoucherBatch.objects.filter(voucher__in=approved).aggregate(t=Sum("premium"))["t"]
    assert money.paid_batches == 2
    assert money.received == approved.aggregate(t=Sum("amount"))["t"]
    assert money.refunded == Decimal("123.45") and money.refund_vouchers == 1
    assert (money.pending_vouchers, money.pending_refund) == (1, Decimal("10.00"))
    assert money.unpaid == money.confirmed - money.paid
    assert sum(item.premium for item in statistics.statistics_by_item(coverage_year=year)) == money.confirmed


def test_another_year_is_not_counted(seeded, reviewer):
    from tests.factories import CoverageYearFactory

    other = CoverageYearFactory(year=2031)
    figures = statistics.statistics_of_year(coverage_year=other)
    assert (figures.units, figures.people, figures.items, figures.unions) == (0, 0, [], [])
    assert figures.money.confirmed == 0 and all(row.total_batches == 0 for row in figures.states)


def test_the_whole_page_is_a_handful_of_queries(seeded, django_assert_max_num_queries):
    # the batch scan (+ SET LOCAL work_mem on PostgreSQL, in a savepoint here), the items, the vouchers,
    # the organisations
    with django_assert_max_num_queries(7):
        statistics.statistics_of_year(coverage_year=seeded["year"])


# --- the page ------------------------------------------------------------------------------------------


def test_reviewer_sees_the_page_with_figures_and_charts(seeded, client, reviewer):
    client.force_login(reviewer)
    response = client.get(reverse("admin:statistics"), {"year": 2023})
    assert response.status_code == 200
    page = response.content.decode()
    assert "参保统计（2023年度）" in page
    for heading in ("按日参保", "按批次状态", "按保障项目", "按工会组织", "保费与缴费", "未建会", "A0 B0 C0 同时参保优惠"):
        assert heading in page
    assert page.count('<svg class="chart"') == 5 and "<script" not in page.split('id="content-main"')[1]
    assert "参保已完成" in page and "已作废" in page
    assert response.context["statistics"].people == 23
    assert "<td class=\"num\">123.45 元</td>" in page or "123.45" in page


def test_the_index_links_to_the_statistics(client, reviewer, union_staff):
    client.force_login(reviewer)
    assert reverse("admin:statistics") in client.get(reverse("admin:index")).content.decode()
    client.force_login(union_staff)
    assert reverse("admin:statistics") not in client.get(reverse("admin:index")).content.decode()


def test_union_staff_are_refused(client, union_staff, handbook_year):
    client.force_login(union_staff)
    assert client.get(reverse("admin:statistics")).status_code == 403


def test_unit_admin_and_anonymous_go_to_the_login(client, unit_admin, handbook_year):
    response = client.get(reverse("admin:statistics"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(unit_admin)
    response = client.get(reverse("admin:statistics"))
    assert response.status_code == 302 and "/login/" in response["Location"]
