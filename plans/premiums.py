"""Premium arithmetic as pure functions (SPEC PLAN-2, PLAN-3, PREM-1, PREM-2, PREM-3, PREM-5, COV-2).

No database here: the callers pass the selected codes, the year's full-year prices and the people
counts. Money is Decimal with two places, never float (SPEC PREM-5).

A person is one of two kinds (SPEC PLAN-3): with 社保 they get every selected item; without 社保 every
selected item except A0. So a batch's 保费信息 is the lines of one person of each kind times the number
of such people, and the total is always the sum of the person lines.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SERIES = ("A", "B", "C")
BASIC = ("A0", "B0", "C0")
ALL_CODES = tuple(f"{series}{layer}" for layer in range(4) for series in SERIES)
# SPEC PLAN-3: the one item a person without 社保 cannot have.
SOCIAL_SECURITY_ONLY = "A0"


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def yuan_text(amount) -> str:
    """An amount of yuan written as the portal writes it: 4780 → "4,780.00" (two places, the
    handbook's thousands comma; the locale zh-hans groups nothing)."""
    return f"{amount:,.2f}"


def code_sort_key(code: str) -> tuple:
    """Basic items first, then the enhanced ones by series (the handbook's tables: A0 B0 C0, A3, B3, C3).
    A code that is not one of the twelve sorts after them, by its text, so that a form sending "X9"
    gets selection_errors' message instead of an exception."""
    if code not in ALL_CODES:
        return (2, 0, 0, code)
    layer = int(code[1])
    return (int(layer > 0), SERIES.index(code[0]), layer, code)


def codes_normalise(codes) -> list[str]:
    """The selected codes, upper-cased, without repeats (SPEC PLAN-2: one share per item), in the
    handbook's order. Takes a list of codes or a stored string such as "A0 B0 C0 A3"."""
    if isinstance(codes, str):
        codes = codes.replace(",", " ").split()
    return sorted({str(code).strip().upper() for code in codes if str(code).strip()}, key=code_sort_key)


# --- PLAN-2 / PLAN-3: what may be selected -----------------------------------------------------------


def selection_errors(codes, *, other_people: int = 0) -> list[str]:
    """Why this selection is refused, one Chinese sentence each saying what to change; [] if allowed.

    SPEC PLAN-2: at least one of A0/B0/C0; at most one of A1–A3, of B1–B3, of C1–C3 (one share per
    item is given by the check boxes). SPEC PLAN-3 [interpretation]: with only A0 as basic item, the
    `other_people` without 社保 would have no basic item at all."""
    codes = codes_normalise(codes)
    errors = [f"保障项目“{code}”不存在。" for code in codes if code not in ALL_CODES]
    codes = [code for code in codes if code in ALL_CODES]
    if not any(code in BASIC for code in codes):
        errors.append("基本保障项目A0、B0、C0至少选1种，请勾选基本保障项目。")
    for series in SERIES:
        enhanced = [code for code in codes if code[0] == series and code[1] != "0"]
        if len(enhanced) > 1:
            errors.append(
                f"加强保障项目{series}1、{series}2、{series}3至多选1种，当前选了{'、'.join(enhanced)}，请只保留一种。"
            )
    basic = [code for code in codes if code in BASIC]
    if basic == [SOCIAL_SECURITY_ONLY] and other_people:
        errors.append(people_without_basic_message(other_people))
    return errors


def people_without_basic_message(count: int) -> str:
    """SPEC PLAN-3 [interpretation]: the message naming how many people and suggesting B0 or C0."""
    return (
        f"本批次有{count}位非社保人员不能参加A0，只选A0作为基本保障项目时他们没有任何基本保障，"
        "请加选B0或C0。"
    )


def person_items(codes, *, has_social_security: bool) -> list[str]:
    """SPEC PLAN-3: the items one person gets: all selected with 社保, all but A0 without."""
    codes = codes_normalise(codes)
    if has_social_security:
        return codes
    return [code for code in codes if code != SOCIAL_SECURITY_ONLY]


# --- PREM-1 / PREM-2: prices --------------------------------------------------------------------------


def is_full_year(*, start: dt.date, half_year_from: dt.date) -> bool:
    """SPEC PREM-2: full-year prices for a start before the year's half-year date (centralised batches
    start on 07-01, so always), half-year prices from it on."""
    return start < half_year_from


def tier_prices(prices: dict[str, Decimal], *, full_year: bool) -> dict[str, Decimal]:
    """The prices that apply: the full-year ones, or exactly half of each (SPEC PREM-2: A1 67.5, C0 7.5)."""
    if full_year:
        return {code: money(price) for code, price in prices.items()}
    return {code: money(Decimal(price) / 2) for code, price in prices.items()}


@dataclass(frozen=True)
class PersonLine:
    """One 参加项目 of one person: the label ("A0 B0 C0" for the bundle), 费用标准, 优惠金额, 实际费用."""

    label: str
    codes: tuple[str, ...]
    standard: Decimal
    discount: Decimal

    @property
    def amount(self) -> Decimal:
        return self.standard - self.discount


def person_lines(
    codes, *, has_social_security: bool, prices: dict[str, Decimal], full_year: bool, bundle_discount: Decimal
) -> list[PersonLine]:
    """SPEC PREM-1, PREM-3: the lines one person pays. A person who gets A0, B0 and C0 at full-year
    prices has them as one line "A0 B0 C0" with `bundle_discount` off (190 − 10); otherwise one line a
    item. `prices` are the year's full-year prices; the tier is applied here."""
    applied = tier_prices(prices, full_year=full_year)
    items = person_items(codes, has_social_security=has_social_security)
    lines = []
    if full_year and all(code in items for code in BASIC):
        standard = sum((applied[code] for code in BASIC), ZERO)
        # A discount larger than the three prices (a reviewer's typo) must not make the line negative.
        lines.append(PersonLine("A0 B0 C0", BASIC, standard, min(money(bundle_discount), standard)))
        items = [code for code in items if code not in BASIC]
    lines += [PersonLine(code, (code,), applied[code], ZERO) for code in items]
    return lines


def person_amount(codes, *, has_social_security: bool, prices, full_year: bool, bundle_discount) -> Decimal:
    """What one person pays for the batch's selection (SPEC PREM-1, PREM-2, PLAN-3)."""
    lines = person_lines(
        codes, has_social_security=has_social_security, prices=prices, full_year=full_year,
        bundle_discount=bundle_discount,
    )
    return sum((line.amount for line in lines), ZERO)


# --- PREM-3: the 保费信息 table ------------------------------------------------------------------------


@dataclass
class TableLine:
    """A line of 保费信息: 参加项目, 费用标准, 优惠金额, 社保人员 人数 / 实际费用, 非社保人员 人数 / 实际费用, 合计费用."""

    label: str
    standard: Decimal
    discount: Decimal
    social_security_people: int = 0
    social_security_amount: Decimal = ZERO
    other_people: int = 0
    other_amount: Decimal = ZERO

    @property
    def amount(self) -> Decimal:
        return self.social_security_amount + self.other_amount


@dataclass
class PremiumTable:
    lines: list[TableLine] = field(default_factory=list)
    full_year: bool = True
    social_security_people: int = 0
    other_people: int = 0

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def premium_table(
    codes, *, prices: dict[str, Decimal], full_year: bool, bundle_discount: Decimal,
    social_security_people: int, other_people: int,
) -> PremiumTable:
    """SPEC PREM-3: the 保费信息 of a batch with this many people of each kind. Lines nobody pays are
    left out (the handbook's table shows B0 and C0 apart only when people without 社保 get them)."""
    table: dict[str, TableLine] = {}
    for has_social_security, people in ((True, social_security_people), (False, other_people)):
        if not people:
            continue
        for person_line in person_lines(
            codes, has_social_security=has_social_security, prices=prices, full_year=full_year,
            bundle_discount=bundle_discount,
        ):
            line = table.setdefault(
                person_line.label, TableLine(person_line.label, person_line.standard, person_line.discount)
            )
            if has_social_security:
                line.social_security_people += people
                line.social_security_amount += person_line.amount * people
            else:
                line.other_people += people
                line.other_amount += person_line.amount * people
    ordered = sorted(table.values(), key=lambda line: code_sort_key(line.label.split()[0]))
    return PremiumTable(
        lines=ordered, full_year=full_year, social_security_people=social_security_people, other_people=other_people
    )


DISCOUNT_CODE = "优惠"


def item_totals(table: PremiumTable, *, prices: dict[str, Decimal]) -> dict[str, tuple[int, Decimal]]:
    """The people and premium of each item in a 保费信息 table, for the statistics (SPEC BO-3): an item's
    premium is its people times its price in the table's tier; the bundle's discount (PREM-1) is its
    own entry DISCOUNT_CODE with a negative premium, so the entries add up to the table's total."""
    applied = tier_prices(prices, full_year=table.full_year)
    totals: dict[str, tuple[int, Decimal]] = {}
    for line in table.lines:
        people = line.social_security_people + line.other_people
        for code in line.label.split():
            counted, amount = totals.get(code, (0, ZERO))
            totals[code] = (counted + people, amount + applied[code] * people)
        if line.discount:
            counted, amount = totals.get(DISCOUNT_CODE, (0, ZERO))
            totals[DISCOUNT_CODE] = (counted + people, amount - line.discount * people)
    return totals


# --- COV-2: waiting periods ----------------------------------------------------------------------------


def effective_dates(
    codes, *, start: dt.date, instant: bool, waiting_days: dict[str, int]
) -> dict[str, dt.date]:
    """SPEC COV-2: the day each item takes effect. Centralised batches have no waiting period; instant
    ones wait `waiting_days[series]` days after 起保日期 (A 30, B 60, C 0 in 2023): the item covers
    from 起保日期 + N days (A1–A3's waiting period does not apply to a hospital stay caused by an
    accident, which the claim handling decides, not the enrolment)."""
    return {
        code: start + dt.timedelta(days=waiting_days.get(code[0], 0) if instant else 0)
        for code in codes_normalise(codes)
    }
