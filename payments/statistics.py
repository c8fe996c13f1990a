"""Statistics of a coverage year for the back office (SPEC BO-3; issue 10 item 2).

Every figure is summed over the per-batch figures (enrollment.BatchTotals, BatchItemTotal, written when
a batch is submitted, its premium confirmed or withdrawn), over batches and over vouchers — never over
people — so a year of 6,000,000 people (≈150,000 batches) answers in a handful of small queries.
Which batches count is decided by their state when reading:

- enrolled (units, people, union organisations, by day): the batches holding their people in the year's
  registry (enrollment.states.HOLDING_STATES: submitted, neither withdrawn to a draft nor cancelled);
- premiums by item and confirmed premiums: the batches whose premium stands confirmed
  (PREMIUM_CONFIRMED_STATES: 缴费凭证待上传, 待审核, 审核不通过, 参保已完成);
- payments: approved vouchers (审核通过) and what they pay for the year's batches.

This lives in payments because payments is the first app that sees every table the figures need
(ARCHITECTURE.md: the app order).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from accounts.models import UnionOrganisation
from enrollment.models import Batch, BatchItemTotal, BatchTotals, CoverageYear
from enrollment.states import HOLDING_STATES, BatchKind, BatchState
from plans.models import Series
from plans.premiums import ALL_CODES, DISCOUNT_CODE, code_sort_key

from .models import Voucher, VoucherBatch

ZERO = Decimal("0.00")

# The states in which a batch's premium stands confirmed (SPEC PREM-3 提交确认保费 and after; a withdrawal
# (BAT-6) clears the figures, a cancellation (BAT-11) leaves them but the batch no longer counts).
PREMIUM_CONFIRMED_STATES = frozenset(
    {BatchState.AWAITING_PAYMENT, BatchState.PAYMENT_REVIEW, BatchState.PAYMENT_REJECTED, BatchState.COMPLETED}
)
# The states whose BatchTotals.people are the batch's people at 清册提交 and still mean something: the
# holding ones and 已作废 (the people it had when cancelled). A batch withdrawn to 清册待校验 keeps the
# figures of its last submission, which no longer describe its roster, so drafts show no people.
PEOPLE_KNOWN_STATES = HOLDING_STATES | {BatchState.CANCELLED}
NO_UNION = "未建会"


def _zero(value) -> Decimal:
    """A sum of yuan with its two places (SQLite's sums come back as Decimal('-120'))."""
    return ZERO if value is None else Decimal(value).quantize(ZERO)


# --- by day of the window ----------------------------------------------------------------------------


@dataclass
class DayRow:
    day: dt.date
    units: int  # distinct enrollment codes submitting a batch that day
    people: int
    new_units: int  # codes whose first batch of the year was submitted that day
    cumulative_units: int
    cumulative_people: int


def statistics_by_day(*, coverage_year: CoverageYear) -> list[DayRow]:
    """Units and people enrolled each day (the day of 清册提交, BatchTotals.submitted_on), with the
    running totals, from the first day of the centralised window to the last day anything was
    submitted (at least the window's last day); days without a submission are rows of zeros.
    A unit (an enrollment code) that submits a second batch is counted once in the running total.
    Two queries."""
    holding = BatchTotals.objects.filter(
        batch__coverage_year=coverage_year, batch__state__in=HOLDING_STATES, submitted_on__isnull=False
    )
    per_day = {
        row["submitted_on"]: row
        for row in holding.values("submitted_on").annotate(units=Count("batch__code", distinct=True), people=Sum("people"))
    }
    first_days = _first_days(holding)
    start = timezone.localtime(coverage_year.centralised_opens_at).date()
    start = min([start, *per_day.keys()])
    last = max([coverage_year.centralised_last_day, *per_day.keys()])
    rows, units_so_far, people_so_far = [], 0, 0
    day = start
    while day <= last:
        row = per_day.get(day)
        people = (row["people"] or 0) if row else 0
        new_units = first_days.get(day, 0)
        units_so_far += new_units
        people_so_far += people
        rows.append(DayRow(day, row["units"] if row else 0, people, new_units, units_so_far, people_so_far))
        day += dt.timedelta(days=1)
    return rows


def _first_days(holding) -> dict[dt.date, int]:
    """Day → how many codes submitted their first batch of the year that day: a GROUP BY over the
    per-code first days, which the ORM cannot nest, so the inner query is the ORM's and the outer one
    plain SQL (the same on PostgreSQL and SQLite)."""
    inner = holding.values("batch__code").annotate(first=Min("submitted_on")).values("first")
    sql, params = inner.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT firsts.first, COUNT(*) FROM ({sql}) firsts GROUP BY firsts.first", params)
        rows = cursor.fetchall()
    return {day if isinstance(day, dt.date) else dt.date.fromisoformat(day): count for day, count in rows}


# --- by state and kind ---------------------------------------------------------------------------------


@dataclass
class StateRow:
    state: str
    label: str
    batches: dict[str, int]  # kind → batches
    people: dict[str, int | None]  # kind → people (None where the state does not know them)

    @property
    def total_batches(self) -> int:
        return sum(self.batches.values())

    @property
    def total_people(self) -> int | None:
        if self.state not in PEOPLE_KNOWN_STATES:
            return None
        return sum(value or 0 for value in self.people.values())


def statistics_by_state(*, coverage_year: CoverageYear) -> list[StateRow]:
    """Batches and people of every state (BatchState, in its order, zeros included), centralised and
    instant apart. People are those of 清册提交 and shown for PEOPLE_KNOWN_STATES only. One query."""
    counts = (
        Batch.objects.filter(coverage_year=coverage_year)
        .values("state", "kind")
        .annotate(batches=Count("pk"), people=Sum("totals__people"))
    )
    found = {(row["state"], row["kind"]): row for row in counts}
    rows = []
    for state in BatchState:
        known = state in PEOPLE_KNOWN_STATES
        batches, people = {}, {}
        for kind in BatchKind:
            row = found.get((state.value, kind.value))
            batches[kind.value] = row["batches"] if row else 0
            people[kind.value] = ((row["people"] or 0) if row else 0) if known else None
        rows.append(StateRow(state.value, state.label, batches, people))
    return rows


# --- by plan item --------------------------------------------------------------------------------------


@dataclass
class ItemRow:
    code: str
    label: str
    people: int
    premium: Decimal

    @property
    def is_discount(self) -> bool:
        return self.code == DISCOUNT_CODE


def item_label(code: str) -> str:
    """"A0 在职住院（基本）", "B3 特种重病（加强）"; the bundle's row is "A0 B0 C0 同时参保优惠" (SPEC PREM-1)."""
    if code == DISCOUNT_CODE:
        return "A0 B0 C0 同时参保优惠"
    if code in ALL_CODES:
        return f"{code} {Series(code[0]).label}（{'基本' if code[1] == '0' else '加强'}）"
    return code


def statistics_by_item(*, coverage_year: CoverageYear) -> list[ItemRow]:
    """People and premium of each plan item over the batches whose premium stands confirmed, in the
    handbook's order, the bundle's discount (negative) last; the premiums add up to the confirmed
    premiums of statistics_money. Items nobody took are left out. One query."""
    rows = (
        BatchItemTotal.objects.filter(batch__coverage_year=coverage_year, batch__state__in=PREMIUM_CONFIRMED_STATES)
        .values("code")
        .annotate(people=Sum("people"), premium=Sum("premium"))
    )
    items = [ItemRow(row["code"], item_label(row["code"]), row["people"] or 0, _zero(row["premium"])) for row in rows]
    return sorted(items, key=lambda item: (item.is_discount, code_sort_key(item.code)))


# --- by union organisation -----------------------------------------------------------------------------


@dataclass
class UnionRow:
    name: str
    units: int
    people: int
    premium: Decimal
    children: list["UnionRow"] = field(default_factory=list)
    organisation_id: int | None = None


def statistics_by_union(*, coverage_year: CoverageYear) -> list[UnionRow]:
    """Units (distinct enrollment codes), people and confirmed premium of the enrolled batches by the
    unit's level-1 union organisation at 清册提交, with its level-2 ones under it; units without a union
    last as 未建会. A unit counts once under its level 1 even with batches under two of its level 2s,
    so a level 1 is counted on its own, not as the sum of its children. Three queries."""
    holding = BatchTotals.objects.filter(batch__coverage_year=coverage_year, batch__state__in=HOLDING_STATES)
    confirmed = Q(batch__state__in=PREMIUM_CONFIRMED_STATES)
    figures = {
        "units": Count("batch__code", distinct=True),
        "people": Sum("people"),
        "premium": Sum("premium", filter=confirmed),
    }
    level1 = {row["union_level1"]: row for row in holding.values("union_level1").annotate(**figures)}
    level2 = list(holding.filter(union_level2__isnull=False).values("union_level1", "union_level2").annotate(**figures))
    ids = set(level1) | {row["union_level2"] for row in level2}
    names = {
        organisation.pk: organisation
        for organisation in UnionOrganisation.objects.filter(pk__in=[pk for pk in ids if pk is not None]).only(
            "name", "short_name", "sort_order", "level"
        )
    }

    def make(pk, row) -> UnionRow:
        organisation = names.get(pk)
        name = organisation.name if organisation else NO_UNION
        return UnionRow(name, row["units"], row["people"] or 0, _zero(row["premium"]), organisation_id=pk)

    rows = {pk: make(pk, row) for pk, row in level1.items() if pk is not None}
    for row in level2:
        parent = rows.get(row["union_level1"])
        if parent is not None:
            parent.children.append(make(row["union_level2"], row))

    def order(row: UnionRow):
        organisation = names.get(row.organisation_id)
        return (organisation.sort_order if organisation else 0, row.name)

    result = sorted(rows.values(), key=order)
    for row in result:
        row.children.sort(key=order)
    if None in level1:
        result.append(make(None, level1[None]))
    return result


# --- money ---------------------------------------------------------------------------------------------


@dataclass
class MoneyFigures:
    confirmed: Decimal  # 确认保费: the premiums of the batches whose premium stands confirmed
    confirmed_batches: int
    paid: Decimal  # 已缴保费: what approved vouchers pay for the year's batches (VoucherBatch.premium)
    paid_batches: int
    received: Decimal  # 缴费金额: the approved vouchers' amounts
    refunded: Decimal  # 退款金额: the approved vouchers' refunds (to make: see refunds_note)
    refund_vouchers: int
    pending_amount: Decimal  # vouchers 待审核: their amounts …
    pending_refund: Decimal  # … and the refunds they ask for
    pending_vouchers: int

    @property
    def unpaid(self) -> Decimal:
        """Confirmed premiums not yet paid by an approved voucher (待缴)."""
        return self.confirmed - self.paid


# What the model can tell about refunds: an approved voucher's refund_amount is owed to the unit; the
# portal records no payout of refunds (no field, no state), so it cannot tell which of them the
# association has already paid: every approved refund is "to make" until such a record exists.
REFUNDS_NOTE = "退款金额为审核通过的缴费凭证多缴部分，系统未记录退款是否已划出，均列为应退。"


def statistics_money(*, coverage_year: CoverageYear) -> MoneyFigures:
    """Premiums confirmed, paid and refunded for the year (SPEC PREM-3, PAY-3, PAY-4). A voucher counts in
    the year of its batches; one paying batches of two years counts its amount and refund in both (the
    premiums, per batch, never twice). Three queries."""
    confirmed = BatchTotals.objects.filter(
        batch__coverage_year=coverage_year, batch__state__in=PREMIUM_CONFIRMED_STATES
    ).aggregate(total=Sum("premium"), batches=Count("pk"))
    paid = VoucherBatch.objects.filter(
        batch__coverage_year=coverage_year, voucher__status=Voucher.Status.APPROVED
    ).aggregate(total=Sum("premium"), batches=Count("batch", distinct=True))
    of_year = VoucherBatch.objects.filter(batch__coverage_year=coverage_year).values("voucher_id")
    vouchers = Voucher.objects.filter(pk__in=of_year).aggregate(
        received=Sum("amount", filter=Q(status=Voucher.Status.APPROVED)),
        refunded=Sum("refund_amount", filter=Q(status=Voucher.Status.APPROVED)),
        refund_vouchers=Count("pk", filter=Q(status=Voucher.Status.APPROVED, refund_amount__gt=0)),
        pending_amount=Sum("amount", filter=Q(status=Voucher.Status.SUBMITTED)),
        pending_refund=Sum("refund_amount", filter=Q(status=Voucher.Status.SUBMITTED)),
        pending_vouchers=Count("pk", filter=Q(status=Voucher.Status.SUBMITTED)),
    )
    return MoneyFigures(
        confirmed=_zero(confirmed["total"]),
        confirmed_batches=confirmed["batches"],
        paid=_zero(paid["total"]),
        paid_batches=paid["batches"],
        received=_zero(vouchers["received"]),
        refunded=_zero(vouchers["refunded"]),
        refund_vouchers=vouchers["refund_vouchers"],
        pending_amount=_zero(vouchers["pending_amount"]),
        pending_refund=_zero(vouchers["pending_refund"]),
        pending_vouchers=vouchers["pending_vouchers"],
    )


# --- the page ------------------------------------------------------------------------------------------


@dataclass
class YearStatistics:
    coverage_year: CoverageYear
    days: list[DayRow]
    states: list[StateRow]
    items: list[ItemRow]
    unions: list[UnionRow]
    money: MoneyFigures

    @property
    def units(self) -> int:
        return self.days[-1].cumulative_units if self.days else 0

    @property
    def people(self) -> int:
        return self.days[-1].cumulative_people if self.days else 0

    @property
    def kinds(self) -> list[tuple[str, str, int, int]]:
        """(kind, label, batches, people) of the enrolled (holding) batches, centralised and instant."""
        result = []
        for kind in BatchKind:
            batches = sum(row.batches[kind.value] for row in self.states if row.state in HOLDING_STATES)
            people = sum(row.people[kind.value] or 0 for row in self.states if row.state in HOLDING_STATES)
            result.append((kind.value, kind.label, batches, people))
        return result


def statistics_of_year(*, coverage_year: CoverageYear) -> YearStatistics:
    """Everything the statistics page shows for `coverage_year` (about ten queries, whatever the size)."""
    return YearStatistics(
        coverage_year=coverage_year,
        days=statistics_by_day(coverage_year=coverage_year),
        states=statistics_by_state(coverage_year=coverage_year),
        items=statistics_by_item(coverage_year=coverage_year),
        unions=statistics_by_union(coverage_year=coverage_year),
        money=statistics_money(coverage_year=coverage_year),
    )
