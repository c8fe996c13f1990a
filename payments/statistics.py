"""Statistics of a coverage year for the back office (SPEC BO-3).

Every figure is summed over the per-batch figures (enrollment.BatchTotals, BatchItemTotal, written when
a batch is submitted, its premium confirmed or withdrawn), over batches and over vouchers — never over
people — so a year of 6,000,000 people (≈150,000 batches) answers in four queries, one of which
(batch_scan) joins the year's batches to their totals once and groups them every way the page needs.
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

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import UnionOrganisation
from enrollment.models import Batch, BatchItemTotal, BatchTotals, CoverageYear
from enrollment.states import HOLDING_STATES, PREMIUM_CONFIRMED_STATES, BatchKind, BatchState
from plans.models import Series
from plans.premiums import ALL_CODES, DISCOUNT_CODE, code_sort_key

from .models import Voucher, VoucherBatch

ZERO = Decimal("0.00")

# The states whose BatchTotals.people are the batch's people at 清册提交 and still mean something: the
# holding ones and 已作废 (the people it had when cancelled). A batch withdrawn to 清册待校验 keeps the
# figures of its last submission, which no longer describe its roster, so drafts show no people.
PEOPLE_KNOWN_STATES = HOLDING_STATES | {BatchState.CANCELLED}
NO_UNION = "未建会"


def _zero(value) -> Decimal:
    """A sum of yuan with its two places (SQLite's sums come back as Decimal('-120'))."""
    return _yuan_sum(value)


# --- one pass over the year's batches ----------------------------------------------------------------


@dataclass
class BatchScan:
    """The batch-level figures of a year from ONE statement (batch_scan): the year's batches joined
    once to their totals, then grouped several ways. The selectors below read it; the page runs it
    once for all of them (6,000,000 people = 150,000 batches: one join instead of six)."""

    states: dict[tuple[str, str], tuple[int, int]]  # (state, kind) → (batches, people)
    days: dict[dt.date, tuple[int, int]]  # day of 清册提交 → (batches, people) of the holding batches
    first_days: dict[dt.date, int]  # day → codes whose first holding batch was submitted that day
    level1: dict[int | None, tuple[int, int, Decimal]]  # level-1 organisation → (units, people, confirmed premium)
    level2: dict[tuple[int, int], tuple[int, int, Decimal]]  # (level 1, level 2) → the same
    confirmed: tuple[int, Decimal]  # (batches, premium) whose premium stands confirmed
    paid: tuple[int, Decimal]  # (batches, premium) completed: paid by an approved voucher (SPEC PAY-4)


def _in(values) -> tuple[str, list]:
    values = sorted(str(value) for value in values)
    return ", ".join(["%s"] * len(values)), values


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _yuan_sum(value) -> Decimal:
    """A sum of yuan with its two places (SQLite's sums come back as float or int, as for the ORM)."""
    if value is None:
        return ZERO
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(ZERO)


def batch_scan(*, coverage_year: CoverageYear) -> BatchScan:
    """One statement: the year's batches LEFT JOIN their BatchTotals as a CTE, grouped by state and
    kind, by day, by each code's first day, by union organisation (level 1, level 1 and 2) and the
    confirmed and completed premiums. Portable SQL (PostgreSQL, SQLite); on PostgreSQL with enough
    work_mem that the COUNT(DISTINCT …) sorts stay in memory."""
    holding_sql, holding = _in(HOLDING_STATES)
    confirmed_sql, confirmed = _in(PREMIUM_CONFIRMED_STATES)
    batch, totals = Batch._meta.db_table, BatchTotals._meta.db_table
    sql = f"""
        WITH year_batches AS (
            SELECT b.code_id, b.state, b.kind, t.submitted_on, t.union_level1_id AS l1, t.union_level2_id AS l2,
                   COALESCE(t.people, 0) AS people, COALESCE(t.premium, 0) AS premium,
                   CASE WHEN b.state IN ({holding_sql}) THEN 1 ELSE 0 END AS holding,
                   CASE WHEN b.state IN ({confirmed_sql}) THEN 1 ELSE 0 END AS confirmed
            FROM "{batch}" b LEFT JOIN "{totals}" t ON t.batch_id = b.id
            WHERE b.coverage_year_id = %s
        )
        -- the first branch gives the columns their types (PostgreSQL types a UNION's NULLs from it)
        SELECT 'state', state, kind, CAST(NULL AS DATE), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), COUNT(*),
               SUM(people), CAST(NULL AS NUMERIC)
            FROM year_batches GROUP BY state, kind
        UNION ALL
        SELECT 'day', NULL, NULL, submitted_on, NULL, NULL, COUNT(*), SUM(people), NULL
            FROM year_batches WHERE holding = 1 AND submitted_on IS NOT NULL GROUP BY submitted_on
        UNION ALL
        SELECT 'first', NULL, NULL, first_day, NULL, NULL, COUNT(*), NULL, NULL
            FROM (
                SELECT MIN(submitted_on) AS first_day FROM year_batches WHERE holding = 1 AND submitted_on IS NOT NULL
                GROUP BY code_id
            ) firsts
            GROUP BY first_day
        UNION ALL
        SELECT 'level1', NULL, NULL, NULL, l1, NULL, COUNT(DISTINCT code_id), SUM(people),
               SUM(CASE WHEN confirmed = 1 THEN premium ELSE 0 END)
            FROM year_batches WHERE holding = 1 GROUP BY l1
        UNION ALL
        SELECT 'level2', NULL, NULL, NULL, l1, l2, COUNT(DISTINCT code_id), SUM(people),
               SUM(CASE WHEN confirmed = 1 THEN premium ELSE 0 END)
            FROM year_batches WHERE holding = 1 AND l2 IS NOT NULL GROUP BY l1, l2
        UNION ALL
        SELECT 'confirmed', NULL, NULL, NULL, NULL, NULL, COUNT(*), NULL, SUM(premium) FROM year_batches WHERE confirmed = 1
        UNION ALL
        SELECT 'paid', NULL, NULL, NULL, NULL, NULL, COUNT(*), NULL, SUM(premium) FROM year_batches WHERE state = %s
    """
    params = [*holding, *confirmed, coverage_year.pk, BatchState.COMPLETED.value]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # 150,000 batches: the sorts of COUNT(DISTINCT) need ~10 MB; the default 4 MB spills to disk.
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    scan = BatchScan(states={}, days={}, first_days={}, level1={}, level2={}, confirmed=(0, ZERO), paid=(0, ZERO))
    for tag, state, kind, day, level1, level2, count, people, premium in rows:
        people = int(people or 0)
        if tag == "state":
            scan.states[(state, kind)] = (count, people)
        elif tag == "day":
            scan.days[_day(day)] = (count, people)
        elif tag == "first":
            scan.first_days[_day(day)] = count
        elif tag == "level1":
            scan.level1[level1] = (count, people, _yuan_sum(premium))
        elif tag == "level2":
            scan.level2[(level1, level2)] = (count, people, _yuan_sum(premium))
        elif tag == "confirmed":
            scan.confirmed = (count, _yuan_sum(premium))
        elif tag == "paid":
            scan.paid = (count, _yuan_sum(premium))
    return scan


# --- by day of the window ----------------------------------------------------------------------------


@dataclass
class DayRow:
    day: dt.date
    units: int  # units enrolled that day: codes whose first batch of the year was submitted that day
    batches: int  # batches submitted that day (a unit's later instant batch is a batch, not a unit)
    people: int
    cumulative_units: int
    cumulative_people: int


def statistics_by_day(*, coverage_year: CoverageYear, scan: BatchScan | None = None) -> list[DayRow]:
    """Units and people enrolled each day (the day of 清册提交, BatchTotals.submitted_on), with the
    running totals, from the first day of the centralised window to the last day anything was
    submitted (at least the window's last day); days without a submission are rows of zeros.
    A unit (an enrollment code) counts on the day of its first batch of the year, once."""
    scan = scan or batch_scan(coverage_year=coverage_year)
    start = min([timezone.localtime(coverage_year.centralised_opens_at).date(), *scan.days])
    last = max([coverage_year.centralised_last_day, *scan.days])
    rows, units_so_far, people_so_far = [], 0, 0
    day = start
    while day <= last:
        batches, people = scan.days.get(day, (0, 0))
        units = scan.first_days.get(day, 0)
        units_so_far += units
        people_so_far += people
        rows.append(DayRow(day, units, batches, people, units_so_far, people_so_far))
        day += dt.timedelta(days=1)
    return rows


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


def statistics_by_state(*, coverage_year: CoverageYear, scan: BatchScan | None = None) -> list[StateRow]:
    """Batches and people of every state (BatchState, in its order, zeros included), centralised and
    instant apart. People are those of 清册提交 and shown for PEOPLE_KNOWN_STATES only."""
    scan = scan or batch_scan(coverage_year=coverage_year)
    rows = []
    for state in BatchState:
        known = state in PEOPLE_KNOWN_STATES
        batches, people = {}, {}
        for kind in BatchKind:
            count, counted_people = scan.states.get((state.value, kind.value), (0, 0))
            batches[kind.value] = count
            people[kind.value] = counted_people if known else None
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


def statistics_by_union(*, coverage_year: CoverageYear, scan: BatchScan | None = None) -> list[UnionRow]:
    """Units (distinct enrollment codes), people and confirmed premium of the enrolled batches by the
    unit's level-1 union organisation at 清册提交, with its level-2 ones under it; units without a union
    last as 未建会. A unit counts once under its level 1 even with batches under two of its level 2s,
    so a level 1 is counted on its own, not as the sum of its children. The batch scan and one query
    for the organisations' names."""
    scan = scan or batch_scan(coverage_year=coverage_year)
    ids = {pk for pk in scan.level1 if pk is not None} | {pk for _, pk in scan.level2}
    names = {
        organisation.pk: organisation
        for organisation in UnionOrganisation.objects.filter(pk__in=ids).only("name", "short_name", "sort_order", "level")
    }

    def make(pk, figures) -> UnionRow:
        organisation = names.get(pk)
        units, people, premium = figures
        return UnionRow(organisation.name if organisation else NO_UNION, units, people, premium, organisation_id=pk)

    rows = {pk: make(pk, figures) for pk, figures in scan.level1.items() if pk is not None}
    for (parent_pk, pk), figures in scan.level2.items():
        parent = rows.get(parent_pk)
        if parent is not None:
            parent.children.append(make(pk, figures))

    def order(row: UnionRow):
        organisation = names.get(row.organisation_id)
        return (organisation.sort_order if organisation else 0, row.name)

    result = sorted(rows.values(), key=order)
    for row in result:
        row.children.sort(key=order)
    if None in scan.level1:
        result.append(make(None, scan.level1[None]))
    return result


# --- money ---------------------------------------------------------------------------------------------


@dataclass
class MoneyFigures:
    confirmed: Decimal  # 确认保费: the premiums of the batches whose premium stands confirmed
    confirmed_batches: int
    paid: Decimal  # 已缴保费: the premiums of the completed batches, i.e. paid by an approved voucher
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


def statistics_money(*, coverage_year: CoverageYear, scan: BatchScan | None = None) -> MoneyFigures:
    """Premiums confirmed, paid and refunded for the year (SPEC PREM-3, PAY-3, PAY-4). Paid: the premiums
    of the completed batches — a batch completes only when its voucher is approved (PAY-4), with the
    premium it confirmed (a voucher pays the premium of 保费信息, and nothing changes it after). A voucher
    counts in the year of its batches; one paying batches of two years counts its amount and refund in
    both. The batch scan and one query over the vouchers."""
    scan = scan or batch_scan(coverage_year=coverage_year)
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
        confirmed=scan.confirmed[1],
        confirmed_batches=scan.confirmed[0],
        paid=scan.paid[1],
        paid_batches=scan.paid[0],
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
    """Everything the statistics page shows for `coverage_year`: four queries (the batch scan, the
    items, the vouchers, the organisations' names), whatever the size."""
    scan = batch_scan(coverage_year=coverage_year)
    return YearStatistics(
        coverage_year=coverage_year,
        days=statistics_by_day(coverage_year=coverage_year, scan=scan),
        states=statistics_by_state(coverage_year=coverage_year, scan=scan),
        items=statistics_by_item(coverage_year=coverage_year),
        unions=statistics_by_union(coverage_year=coverage_year, scan=scan),
        money=statistics_money(coverage_year=coverage_year, scan=scan),
    )
