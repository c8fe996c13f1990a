"""Reads of 【保费详细】 (SPEC PREM-3, PLAN-3, PREM-1, PREM-2, COV-2): every person of a batch with the
items they get, what they pay and, in an instant batch, the day each item takes effect.

A person is one of two kinds (SPEC PLAN-3): with 社保 they get every selected item, without 社保 all but
A0. So the items and the amount are computed once per kind (`PremiumBasis.plans`), never per person,
and a page of 15 people or an export of 100,000 costs the same few queries: the people are read page by
page (or streamed in chunks), and only the shown IDs are decrypted (rosters.selectors.roster_masked_id).

What is priced: the confirmed 保费信息 (BatchPremium: its codes, its price snapshot, its tier), or, in
清册校验通过 / 职保会审核通过 once 【生成保费信息】 has saved a selection, that selection at the year's
current prices (a preview, 尚未确认). The sum over the people always equals the 保费信息's 总计.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from enrollment.models import Batch
from enrollment.states import SELECTING_STATES, BatchKind
from rosters.models import RosterEntry
from rosters.selectors import roster_masked_id, roster_search_q

from . import premiums
from .models import BatchPremium, PlanSelection
from .services import (
    batch_people_counts,
    plan_prices,
    plan_selection_codes,
    premium_person_price_args,
)

# 社保 filter of 保费详细 (SPEC PLAN-3's two kinds of person); empty means 全部.
WITH_SOCIAL_SECURITY = "yes"
WITHOUT_SOCIAL_SECURITY = "no"
SOCIAL_SECURITY_CHOICES = (("", "全部"), (WITH_SOCIAL_SECURITY, "社保人员"), (WITHOUT_SOCIAL_SECURITY, "非社保人员"))

# The columns a row of 保费详细 shows; nothing else is read from the roster.
DETAIL_COLUMNS = ("pk", "name", "id_type", "id_cipher", "has_social_security", "coverage_start", "coverage_end")


@dataclass(frozen=True)
class PersonPlan:
    """What one kind of person gets (SPEC PLAN-3) and pays for it (PREM-1, PREM-2)."""

    items: tuple[str, ...]
    amount: Decimal

    @property
    def label(self) -> str:
        return " ".join(self.items)


@dataclass
class PremiumBasis:
    """Everything 保费详细 prices a batch's people with, read once per request.

    `premium` is the confirmed BatchPremium, or None for a preview of the saved selection; `table` is
    what templates/plans/_premium_table.html shows (the BatchPremium itself, or a PremiumTable)."""

    batch: Batch
    codes: list[str]
    premium: BatchPremium | None
    table: object
    full_year: bool
    plans: dict[bool, PersonPlan]
    social_security_people: int
    other_people: int
    waiting_days: dict[str, int]
    _effective: dict = field(default_factory=dict, repr=False)

    @property
    def confirmed(self) -> bool:
        return self.premium is not None

    @property
    def instant(self) -> bool:
        """SPEC COV-2: only instant batches have waiting periods."""
        return self.batch.kind == BatchKind.INSTANT

    @property
    def people(self) -> int:
        return self.social_security_people + self.other_people

    @property
    def total(self) -> Decimal:
        """The sum over every person of the batch; equals the 保费信息's 总计 (SPEC PREM-3)."""
        return self.amount_of(social_security_people=self.social_security_people, other_people=self.other_people)

    def amount_of(self, *, social_security_people: int, other_people: int) -> Decimal:
        return (
            self.plans[True].amount * social_security_people + self.plans[False].amount * other_people
        ).quantize(premiums.CENT)

    @property
    def effective_series(self) -> list[tuple[str, tuple[str, ...]]]:
        """SPEC COV-2: the selected items grouped by series, whose waiting period they share
        ([("A", ("A0", "A3")), ("B", ("B0", "B3")), …]); [] in a centralised batch."""
        if not self.instant:
            return []
        return [
            (series, tuple(code for code in self.codes if code[0] == series))
            for series in premiums.SERIES
            if any(code[0] == series for code in self.codes)
        ]

    def plan_of(self, has_social_security: bool) -> PersonPlan:
        return self.plans[bool(has_social_security)]

    def effective_dates(self, *, has_social_security: bool, start: dt.date | None) -> tuple[tuple[str, dt.date], ...]:
        """SPEC COV-2: (item, 生效日期) of a person of this kind covered from `start`, in an instant
        batch; () in a centralised one (no waiting period) or before the coverage dates are set.
        Computed once per (kind, start): every person of a batch starts on the same day."""
        if not self.instant or start is None:
            return ()
        key = (bool(has_social_security), start)
        if key not in self._effective:
            dates = premiums.effective_dates(
                self.plan_of(has_social_security).items, start=start, instant=True, waiting_days=self.waiting_days
            )
            self._effective[key] = tuple(sorted(dates.items(), key=lambda pair: premiums.code_sort_key(pair[0])))
        return self._effective[key]


def premium_waiting_days(*, batch: Batch) -> dict[str, int]:
    """SPEC COV-2: the year's waiting days per series (A incl. 附加疾病身故, B, C)."""
    year = batch.coverage_year
    return {"A": year.waiting_days_a, "B": year.waiting_days_b, "C": year.waiting_days_c}


def premium_detail_basis(*, batch: Batch) -> PremiumBasis | None:
    """What 保费详细 of `batch` prices with, or None when there is nothing to show yet.

    - In 清册校验通过 / 职保会审核通过 with a selection saved by 【生成保费信息】: a preview at the year's
      current prices, the tier from the batch's 起保日期 (SPEC PREM-2), the people counted now.
    - With a confirmed premium (缴费凭证待上传 and every later state): the BatchPremium's codes, price
      snapshot, tier and headcounts (the roster cannot change after confirmation, SPEC BAT-3).
    - Otherwise (no selection, or a batch withdrawn to 清册待校验) None."""
    year = batch.coverage_year
    premium = None
    if batch.state in SELECTING_STATES:
        if not PlanSelection.objects.filter(batch=batch).exists():
            return None
        codes = plan_selection_codes(batch=batch)
        start = batch.coverage_start or year.coverage_start
        price_args = {
            "prices": plan_prices(coverage_year=year),
            "full_year": premiums.is_full_year(start=start, half_year_from=year.half_year_price_from),
            "bundle_discount": year.bundle_discount,
        }
        social_security_people, other_people = batch_people_counts(batch=batch)
        table = premiums.premium_table(
            codes, social_security_people=social_security_people, other_people=other_people, **price_args
        )
    else:
        premium = BatchPremium.objects.filter(batch=batch).first()
        if premium is None:
            return None
        codes = premium.code_list
        price_args = premium_person_price_args(premium=premium)
        social_security_people, other_people = premium.social_security_people, premium.other_people
        table = premium
    plans = {
        has_social_security: PersonPlan(
            items=tuple(premiums.person_items(codes, has_social_security=has_social_security)),
            amount=premiums.person_amount(codes, has_social_security=has_social_security, **price_args),
        )
        for has_social_security in (True, False)
    }
    return PremiumBasis(
        batch=batch,
        codes=codes,
        premium=premium,
        table=table,
        full_year=price_args["full_year"],
        plans=plans,
        social_security_people=social_security_people,
        other_people=other_people,
        waiting_days=premium_waiting_days(batch=batch),
    )


# --- the people, page by page --------------------------------------------------------------------------


def premium_people_q(*, batch: Batch, name: str = "", id_number: str = "", social_security: str = "") -> Q:
    """The search of 保费详细 within one batch: 姓名 contains, 证件号 exact through the hash (as the
    roster's search, rosters.selectors.roster_search_q), 社保人员 / 非社保人员. Empty Q: everybody."""
    condition = roster_search_q(batch=batch, name=name, id_number=id_number)
    if social_security == WITH_SOCIAL_SECURITY:
        condition &= Q(has_social_security=True)
    elif social_security == WITHOUT_SOCIAL_SECURITY:
        condition &= Q(has_social_security=False)
    return condition


def premium_people(*, batch: Batch, **search) -> QuerySet[RosterEntry]:
    """The batch's people matching premium_people_q, in the order they were added, with only the
    columns a row shows."""
    return (
        RosterEntry.objects.filter(batch=batch)
        .filter(premium_people_q(batch=batch, **search))
        .order_by("pk")
        .only(*DETAIL_COLUMNS)
    )


def premium_people_summary(*, basis: PremiumBasis, people: QuerySet[RosterEntry]) -> tuple[int, Decimal]:
    """(人数, 费用合计) of a filtered list, in one query: people counted by kind, times each kind's amount."""
    counts = people.order_by().aggregate(
        with_ss=Count("pk", filter=Q(has_social_security=True)),
        without_ss=Count("pk", filter=Q(has_social_security=False)),
    )
    return (
        counts["with_ss"] + counts["without_ss"],
        basis.amount_of(social_security_people=counts["with_ss"], other_people=counts["without_ss"]),
    )


@dataclass(frozen=True)
class PersonRow:
    """One line of 保费详细: the person, the masked ID (SPEC X-1), their items, amount and, in an
    instant batch, each item's 生效日期 (COV-2)."""

    entry: RosterEntry
    masked_id: str
    items: tuple[str, ...]
    amount: Decimal
    effective: tuple[tuple[str, dt.date], ...]
    series_effective: tuple[dt.date | None, ...] = ()

    @property
    def label(self) -> str:
        return " ".join(self.items)


def premium_person_row(*, basis: PremiumBasis, entry: RosterEntry) -> PersonRow:
    plan = basis.plan_of(entry.has_social_security)
    effective = basis.effective_dates(
        has_social_security=entry.has_social_security, start=entry.coverage_start or basis.batch.coverage_start
    )
    by_series = {code[0]: day for code, day in effective}
    return PersonRow(
        entry=entry,
        masked_id=roster_masked_id(entry),
        items=plan.items,
        amount=plan.amount,
        effective=effective,
        # one date per series of basis.effective_series; None when the person has none of its items
        series_effective=tuple(by_series.get(series) for series, _ in basis.effective_series),
    )


def premium_person_rows(*, basis: PremiumBasis, entries) -> list[PersonRow]:
    """The rows of a page of people: no query per person (the two kinds were priced once)."""
    return [premium_person_row(basis=basis, entry=entry) for entry in entries]


# --- the export ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportColumn:
    header: str
    width: int


EXPORT_COLUMNS = (
    ExportColumn("姓名", 14),
    ExportColumn("证件号码", 22),
    ExportColumn("证件类型", 10),
    ExportColumn("是否有社保", 10),
    ExportColumn("参加项目", 26),
    ExportColumn("费用（元）", 12),
    ExportColumn("起保日期", 12),
    ExportColumn("终保日期", 12),
)
AMOUNT_COLUMN = 5  # the index of 费用（元）: written as a number with two places


def premium_export_columns(*, basis: PremiumBasis) -> list[ExportColumn]:
    """EXPORT_COLUMNS, then for an instant batch one 生效日期 column per selected item (SPEC COV-2)."""
    columns = list(EXPORT_COLUMNS)
    if basis.instant:
        columns += [ExportColumn(f"{code}生效日期", 13) for code in basis.codes]
    return columns


_EXPORT_FIELDS = ("pk", "name", "id_type", "id_cipher", "has_social_security", "coverage_start", "coverage_end")


def _effective_cell(day: dt.date | None, end: dt.date | None) -> str:
    """生效日期 in the export as on the page: the date, "-" for an item the person does not get, 不生效
    when the waiting period ends after 终保日期 (SPEC COV-2, a late instant start)."""
    if day is None:
        return "-"
    if end is not None and day > end:
        return "不生效"
    return day.isoformat()


def premium_export_rows(*, basis: PremiumBasis, chunk_size: int = 5000) -> Iterator[tuple]:
    """Every person of the batch as a row of premium_export_columns, IDs masked (SPEC X-1), streamed
    from the database in chunks. An item a person does not get (A0 without 社保) has "-" as 生效日期."""
    entries = RosterEntry.objects.filter(batch=basis.batch).order_by("pk").only(*_EXPORT_FIELDS)
    for entry in entries.iterator(chunk_size=chunk_size):
        row = premium_person_row(basis=basis, entry=entry)
        cells = [
            entry.name,
            row.masked_id,
            entry.id_type,
            "是" if entry.has_social_security else "否",
            row.label,
            row.amount,
            entry.coverage_start.isoformat() if entry.coverage_start else "-",
            entry.coverage_end.isoformat() if entry.coverage_end else "-",
        ]
        if basis.instant:
            dates = dict(row.effective)
            cells += [_effective_cell(dates.get(code), entry.coverage_end) for code in basis.codes]
        yield tuple(cells)
