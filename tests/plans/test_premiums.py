"""The premium arithmetic of plans/premiums.py, pure (no database): SPEC PLAN-2, PLAN-3, PREM-1, PREM-2,
PREM-3, PREM-5, COV-2, with the handbook's worked examples and property tests (hypothesis)."""
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from plans.catalogue import HANDBOOK_ITEMS
from plans.premiums import (
    ALL_CODES,
    BASIC,
    codes_normalise,
    effective_dates,
    is_full_year,
    person_amount,
    person_items,
    person_lines,
    premium_table,
    selection_errors,
    tier_prices,
)

# SPEC PLAN-1: the handbook's 2023 full-year prices.
PRICES = {code: price for code, price, _ in HANDBOOK_ITEMS}
BUNDLE = Decimal("10")  # SPEC PREM-1: 190 → 180
HALF_YEAR_FROM = dt.date(2024, 1, 1)  # SPEC PREM-2, the 2023 year
WORKED_EXAMPLE = ["A0", "B0", "C0", "A3", "B3", "C3"]
WAITING_2023 = {"A": 30, "B": 60, "C": 0}  # SPEC COV-2


def table(codes, *, social_security=0, other=0, full_year=True, prices=PRICES, bundle=BUNDLE):
    return premium_table(
        codes, prices=prices, full_year=full_year, bundle_discount=bundle,
        social_security_people=social_security, other_people=other,
    )


def amount(codes, *, has_social_security=True, full_year=True, prices=PRICES, bundle=BUNDLE):
    return person_amount(
        codes, has_social_security=has_social_security, prices=prices, full_year=full_year, bundle_discount=bundle
    )


def rows(premium):
    """The table as tuples: (参加项目, 费用标准, 优惠金额, 社保人数, 社保实际费用, 非社保人数, 非社保实际费用, 合计费用)."""
    return [
        (
            line.label, line.standard, line.discount, line.social_security_people, line.social_security_amount,
            line.other_people, line.other_amount, line.amount,
        )
        for line in premium.lines
    ]


def test_handbook_prices_are_the_twelve_items_of_plan_1():
    # SPEC PLAN-1: the table the tests below price with is the handbook's.
    assert set(PRICES) == set(ALL_CODES) and len(ALL_CODES) == 12
    assert PRICES["A0"] + PRICES["B0"] + PRICES["C0"] == Decimal("190")


# --- SPEC PREM-3: the worked example -------------------------------------------------------------------


def test_prem_3_worked_example_four_people_with_social_security():
    # SPEC PREM-3: instant batch, 4 people with 社保, A0 B0 C0 A3 B3 C3 → 720 + 1,320 + 1,840 + 900 = 4,780.
    premium = table(WORKED_EXAMPLE, social_security=4)

    assert rows(premium) == [
        ("A0 B0 C0", Decimal("190.00"), Decimal("10.00"), 4, Decimal("720.00"), 0, Decimal("0.00"), Decimal("720.00")),
        ("A3", Decimal("330.00"), Decimal("0.00"), 4, Decimal("1320.00"), 0, Decimal("0.00"), Decimal("1320.00")),
        ("B3", Decimal("460.00"), Decimal("0.00"), 4, Decimal("1840.00"), 0, Decimal("0.00"), Decimal("1840.00")),
        ("C3", Decimal("225.00"), Decimal("0.00"), 4, Decimal("900.00"), 0, Decimal("0.00"), Decimal("900.00")),
    ]
    assert premium.total == Decimal("4780.00")
    assert str(premium.total) == "4780.00"  # SPEC PREM-5: two places, no float
    assert premium.full_year is True


def test_prem_3_the_order_of_the_check_boxes_does_not_matter():
    shuffled = ["c3", "B3", " A3 ", "C0", "b0", "A0"]
    assert rows(table(shuffled, social_security=4)) == rows(table(WORKED_EXAMPLE, social_security=4))


def test_prem_3_handbook_centralised_example_shape_people_without_social_security_pay_b0_and_c0_apart():
    # The handbook's centralised 保费信息 (7 with 社保, 1 without, A0 B0 C0 A3 B3 C3): the person without
    # 社保 has no A0 (SPEC PLAN-3), so no bundle (PREM-1): B0 55 and C0 15 are lines of their own; the
    # enhanced lines count both kinds (C3: 8 × 225 = 1,800 as printed).
    premium = table(WORKED_EXAMPLE, social_security=7, other=1)

    assert rows(premium) == [
        ("A0 B0 C0", Decimal("190.00"), Decimal("10.00"), 7, Decimal("1260.00"), 0, Decimal("0.00"), Decimal("1260.00")),
        ("B0", Decimal("55.00"), Decimal("0.00"), 0, Decimal("0.00"), 1, Decimal("55.00"), Decimal("55.00")),
        ("C0", Decimal("15.00"), Decimal("0.00"), 0, Decimal("0.00"), 1, Decimal("15.00"), Decimal("15.00")),
        ("A3", Decimal("330.00"), Decimal("0.00"), 7, Decimal("2310.00"), 1, Decimal("330.00"), Decimal("2640.00")),
        ("B3", Decimal("460.00"), Decimal("0.00"), 7, Decimal("3220.00"), 1, Decimal("460.00"), Decimal("3680.00")),
        ("C3", Decimal("225.00"), Decimal("0.00"), 7, Decimal("1575.00"), 1, Decimal("225.00"), Decimal("1800.00")),
    ]
    assert premium.total == 7 * amount(WORKED_EXAMPLE) + amount(WORKED_EXAMPLE, has_social_security=False)
    assert premium.total == Decimal("9450.00")


def test_prem_3_lines_nobody_pays_are_left_out():
    assert table(WORKED_EXAMPLE).lines == [] and table(WORKED_EXAMPLE).total == Decimal("0.00")
    # Only people without 社保 and only A0 B0 as basic: no A0 line at all.
    assert [line.label for line in table(["A0", "B0", "A1"], other=2).lines] == ["B0", "A1"]


# --- SPEC PREM-1: the bundle ---------------------------------------------------------------------------


def test_prem_1_bundle_for_a_person_with_social_security_who_gets_all_three_basic_items():
    [line] = person_lines(["A0", "B0", "C0"], has_social_security=True, prices=PRICES, full_year=True, bundle_discount=BUNDLE)
    assert (line.label, line.codes, line.standard, line.discount, line.amount) == (
        "A0 B0 C0", BASIC, Decimal("190.00"), Decimal("10.00"), Decimal("180.00")
    )


@pytest.mark.parametrize(
    "codes, expected",
    [
        (["A0", "B0"], Decimal("175.00")),  # two of the three: full prices
        (["A0", "C0"], Decimal("135.00")),
        (["B0", "C0"], Decimal("70.00")),
        (["A0"], Decimal("120.00")),
        (["A0", "B0", "A3"], Decimal("505.00")),
    ],
)
def test_prem_1_no_bundle_without_all_three_basic_items(codes, expected):
    assert amount(codes) == expected
    assert all(line.discount == 0 for line in person_lines(codes, has_social_security=True, prices=PRICES, full_year=True, bundle_discount=BUNDLE))


def test_prem_1_no_bundle_for_a_person_without_social_security():
    # SPEC PLAN-3 + PREM-1: without 社保 the person gets B0 and C0 only, at full prices.
    lines = person_lines(["A0", "B0", "C0"], has_social_security=False, prices=PRICES, full_year=True, bundle_discount=BUNDLE)
    assert [(line.label, line.amount) for line in lines] == [("B0", Decimal("55.00")), ("C0", Decimal("15.00"))]


def test_prem_1_no_bundle_at_half_year_prices():
    # SPEC PREM-1 [interpretation]: the bundle goes with the full-year tier only.
    lines = person_lines(["A0", "B0", "C0"], has_social_security=True, prices=PRICES, full_year=False, bundle_discount=BUNDLE)
    assert [(line.label, line.amount, line.discount) for line in lines] == [
        ("A0", Decimal("60.00"), Decimal("0.00")),
        ("B0", Decimal("27.50"), Decimal("0.00")),
        ("C0", Decimal("7.50"), Decimal("0.00")),
    ]
    assert amount(["A0", "B0", "C0"], full_year=False) == Decimal("95.00")


def test_prem_1_the_discount_is_the_years_figure_and_never_makes_a_line_negative():
    assert amount(["A0", "B0", "C0"], bundle=Decimal("15")) == Decimal("175.00")
    assert amount(["A0", "B0", "C0"], bundle=Decimal("0")) == Decimal("190.00")
    # A reviewer's typo (500 off a 190 line) gives 0, not a negative premium.
    assert amount(["A0", "B0", "C0"], bundle=Decimal("500")) == Decimal("0.00")


# --- SPEC PREM-2: the half-year tier -------------------------------------------------------------------


def test_prem_2_half_year_prices_are_exactly_half():
    # SPEC PREM-2's list: A0 60, A1 67.5, A2 115, A3 165, B0 27.5, B1 50, B2 117.5, B3 230, C0 7.5,
    # C1 20, C2 37.5, C3 112.5.
    expected = {
        "A0": "60.00", "A1": "67.50", "A2": "115.00", "A3": "165.00",
        "B0": "27.50", "B1": "50.00", "B2": "117.50", "B3": "230.00",
        "C0": "7.50", "C1": "20.00", "C2": "37.50", "C3": "112.50",
    }
    half = tier_prices(PRICES, full_year=False)
    assert {code: str(price) for code, price in half.items()} == expected
    assert all(half[code] * 2 == PRICES[code] for code in ALL_CODES)
    assert tier_prices(PRICES, full_year=True) == {code: Decimal(price).quantize(Decimal("0.01")) for code, price in PRICES.items()}


@pytest.mark.parametrize(
    "start, full_year",
    [
        (dt.date(2023, 7, 1), True),  # centralised start, and the first instant day
        (dt.date(2023, 12, 31), True),  # SPEC PREM-2: full-year up to 12-31
        (dt.date(2024, 1, 1), False),  # half-year from 01-01
        (dt.date(2024, 6, 30), False),
    ],
)
def test_prem_2_tier_by_start_date(start, full_year):
    assert is_full_year(start=start, half_year_from=HALF_YEAR_FROM) is full_year


def test_prem_2_instant_start_2024_01_01_is_half_of_2023_12_31_without_the_bundle():
    # Worked example at both tiers: full 4,780; half 4 × (60 + 27.5 + 7.5 + 165 + 230 + 112.5) = 2,410.
    full = table(WORKED_EXAMPLE, social_security=4, full_year=is_full_year(start=dt.date(2023, 12, 31), half_year_from=HALF_YEAR_FROM))
    half = table(WORKED_EXAMPLE, social_security=4, full_year=is_full_year(start=dt.date(2024, 1, 1), half_year_from=HALF_YEAR_FROM))
    assert full.total == Decimal("4780.00")
    assert half.total == Decimal("2410.00") and half.full_year is False
    assert [(line.label, line.standard, line.amount) for line in half.lines] == [
        ("A0", Decimal("60.00"), Decimal("240.00")),
        ("B0", Decimal("27.50"), Decimal("110.00")),
        ("C0", Decimal("7.50"), Decimal("30.00")),
        ("A3", Decimal("165.00"), Decimal("660.00")),
        ("B3", Decimal("230.00"), Decimal("920.00")),
        ("C3", Decimal("112.50"), Decimal("450.00")),
    ]


def test_prem_2_half_of_an_odd_cent_rounds_half_up_to_two_places():
    # SPEC PREM-5: a price a reviewer sets to 135.25 halves to 67.625 → 67.63, still two places.
    assert tier_prices({"A1": Decimal("135.25")}, full_year=False) == {"A1": Decimal("67.63")}


# --- SPEC PLAN-2: the selection rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    "codes",
    [
        ["A0"], ["B0"], ["C0"], ["A0", "B0", "C0"], WORKED_EXAMPLE,
        ["B0", "A1"],  # SPEC PLAN-2 [interpretation]: any basic item, not the same series'
        ["C0", "A2", "B1", "C3"],
        ["A0", "B0", "C0", "A1", "B2", "C3"],
    ],
)
def test_plan_2_allowed_selections(codes):
    assert selection_errors(codes) == []


def test_plan_2_at_least_one_basic_item():
    assert selection_errors([]) == ["基本保障项目A0、B0、C0至少选1种，请勾选基本保障项目。"]
    # SPEC PLAN-2: enhanced items only "在参保基本保障项目A0、B0或C0的基础上".
    assert selection_errors(["A3", "B3", "C3"]) == ["基本保障项目A0、B0、C0至少选1种，请勾选基本保障项目。"]


@pytest.mark.parametrize("series", ["A", "B", "C"])
def test_plan_2_at_most_one_enhanced_item_per_series(series):
    errors = selection_errors(["A0", f"{series}1", f"{series}3"])
    assert errors == [
        f"加强保障项目{series}1、{series}2、{series}3至多选1种，当前选了{series}1、{series}3，请只保留一种。"
    ]
    three = selection_errors(["B0", f"{series}1", f"{series}2", f"{series}3"])
    assert three == [
        f"加强保障项目{series}1、{series}2、{series}3至多选1种，当前选了{series}1、{series}2、{series}3，请只保留一种。"
    ]


def test_plan_2_every_broken_rule_is_reported_at_once():
    errors = selection_errors(["A1", "A2", "C1", "C2"])
    assert len(errors) == 3
    assert errors[0].startswith("基本保障项目A0、B0、C0至少选1种")
    assert "当前选了A1、A2" in errors[1] and "当前选了C1、C2" in errors[2]


@pytest.mark.parametrize("unknown", ["X9", "D0", "A4", "A", "AX", "00"])
def test_plan_2_unknown_codes_are_refused_with_a_message_not_an_exception(unknown):
    errors = selection_errors(["A0", unknown])
    assert errors == [f"保障项目“{unknown}”不存在。"]


def test_plan_2_one_share_per_item_duplicates_collapse():
    # SPEC PLAN-2 "每个保障项目只能参保一份": a code sent twice is one share, priced once.
    doubled = ["A0", "A0", "a0", "B0", "C0", "A3", "A3"]
    assert codes_normalise(doubled) == ["A0", "B0", "C0", "A3"]
    assert selection_errors(doubled) == []
    assert amount(doubled) == amount(["A0", "B0", "C0", "A3"]) == Decimal("510.00")
    assert rows(table(doubled, social_security=3)) == rows(table(["A0", "B0", "C0", "A3"], social_security=3))


def test_codes_normalise_orders_like_the_handbook_and_reads_a_stored_string():
    assert codes_normalise(["C3", "A3", "B0", "B3", "A0", "C0"]) == WORKED_EXAMPLE
    assert codes_normalise("A0 B0 C0 A3 B3 C3") == WORKED_EXAMPLE  # PlanSelection.codes as stored
    assert codes_normalise(["C1", "A2", "B0"]) == ["B0", "A2", "C1"]
    assert codes_normalise(["", "  "]) == []


# --- SPEC PLAN-3: people without 社保 -------------------------------------------------------------------


def test_plan_3_person_items_with_and_without_social_security():
    assert person_items(WORKED_EXAMPLE, has_social_security=True) == WORKED_EXAMPLE
    assert person_items(WORKED_EXAMPLE, has_social_security=False) == ["B0", "C0", "A3", "B3", "C3"]
    # A1–A3 are open to people outside 职保 (SPEC PLAN-2 [interpretation]).
    assert person_items(["A0", "A2"], has_social_security=False) == ["A2"]


def test_plan_3_a_person_without_social_security_never_pays_a0():
    assert amount(["A0"], has_social_security=False) == Decimal("0.00")
    assert amount(["A0", "B0", "C0"], has_social_security=False) == Decimal("70.00")
    half = person_lines(["A0", "B0"], has_social_security=False, prices=PRICES, full_year=False, bundle_discount=BUNDLE)
    assert [line.label for line in half] == ["B0"]


@pytest.mark.parametrize("codes", [["A0"], ["A0", "A3"], ["A0", "A1", "B2", "C3"]])
def test_plan_3_only_a0_as_basic_with_people_without_social_security_is_refused_with_the_count(codes):
    # SPEC PLAN-3 [interpretation]: they would have no basic item at all; the message counts them and
    # suggests B0 or C0.
    errors = selection_errors(codes, other_people=3)
    assert errors == ["本批次有3位非社保人员不能参加A0，只选A0作为基本保障项目时他们没有任何基本保障，请加选B0或C0。"]


def test_plan_3_only_a0_as_basic_without_such_people_is_allowed():
    assert selection_errors(["A0", "A3"], other_people=0) == []
    assert selection_errors(["A0", "A3"]) == []


@pytest.mark.parametrize("codes", [["A0", "B0"], ["A0", "C0"], ["A0", "B0", "C0", "A3"], ["B0"]])
def test_plan_3_any_other_basic_item_lets_people_without_social_security_in(codes):
    assert selection_errors(codes, other_people=5) == []


# --- SPEC COV-2: effective dates -----------------------------------------------------------------------


def test_cov_2_instant_batches_wait_30_days_for_a_60_for_b_and_none_for_c():
    start = dt.date(2023, 9, 11)
    dates = effective_dates(WORKED_EXAMPLE, start=start, instant=True, waiting_days=WAITING_2023)
    assert dates == {
        "A0": dt.date(2023, 10, 11), "A3": dt.date(2023, 10, 11),
        "B0": dt.date(2023, 11, 10), "B3": dt.date(2023, 11, 10),
        "C0": start, "C3": start,
    }
    assert list(dates) == WORKED_EXAMPLE  # the handbook's order, for the 查看 page


def test_cov_2_centralised_batches_have_no_waiting_period():
    dates = effective_dates(WORKED_EXAMPLE, start=dt.date(2023, 7, 1), instant=False, waiting_days=WAITING_2023)
    assert set(dates.values()) == {dt.date(2023, 7, 1)}


def test_cov_2_waiting_days_are_the_years_figures_and_cross_the_new_year():
    dates = effective_dates(["A1", "B0"], start=dt.date(2023, 12, 15), instant=True, waiting_days={"A": 30, "B": 60})
    assert dates == {"A1": dt.date(2024, 1, 14), "B0": dt.date(2024, 2, 13)}


# --- Properties (hypothesis): SPEC PREM-3, PREM-5, PLAN-3 ----------------------------------------------


@st.composite
def selections(draw):
    """Selections that pass PLAN-2: a non-empty set of basic items, at most one enhanced per series,
    sometimes with a code repeated (the check boxes cannot, a crafted POST can)."""
    basic = draw(st.sets(st.sampled_from(BASIC), min_size=1))
    enhanced = [f"{series}{layer}" for series in "ABC" if (layer := draw(st.integers(0, 3)))]
    codes = list(basic) + enhanced
    return draw(st.permutations(codes + draw(st.lists(st.sampled_from(codes), max_size=2))))


prices_strategy = st.one_of(
    st.just(PRICES),
    st.fixed_dictionaries(
        {code: st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2) for code in ALL_CODES}
    ),
)
discounts = st.one_of(st.just(BUNDLE), st.decimals(min_value=Decimal("0"), max_value=Decimal("500"), places=2))


def valid_case(codes, other):
    return selection_errors(codes, other_people=other) == []


def assert_money(value):
    assert isinstance(value, Decimal)  # SPEC PREM-5: never float
    assert value.as_tuple().exponent == -2, value
    assert value >= 0, value


@settings(max_examples=300, deadline=None)
@given(
    codes=selections(),
    social_security=st.integers(0, 2000),
    other=st.integers(0, 2000),
    full_year=st.booleans(),
    prices=prices_strategy,
    bundle=discounts,
)
def test_property_total_is_the_sum_over_people_nothing_negative_two_places(codes, social_security, other, full_year, prices, bundle):
    assume(valid_case(codes, other))  # only A0 as basic with people without 社保: refused before any pricing
    premium = table(codes, social_security=social_security, other=other, full_year=full_year, prices=prices, bundle=bundle)
    with_ss = amount(codes, has_social_security=True, full_year=full_year, prices=prices, bundle=bundle)
    without_ss = amount(codes, has_social_security=False, full_year=full_year, prices=prices, bundle=bundle)

    assert premium.total == social_security * with_ss + other * without_ss
    assert premium.total == sum((line.amount for line in premium.lines), Decimal("0"))
    assert_money(premium.total)
    assert_money(with_ss)
    assert_money(without_ss)
    for line in premium.lines:
        for value in (line.standard, line.discount, line.social_security_amount, line.other_amount, line.amount):
            assert_money(value)
        assert line.social_security_people in (0, social_security) and line.other_people in (0, other)
        assert line.social_security_people + line.other_people > 0  # lines nobody pays are left out
    # SPEC PLAN-3: the people without 社保 never appear on a line with A0.
    assert all(line.other_people == 0 for line in premium.lines if "A0" in line.label.split())


@settings(max_examples=300, deadline=None)
@given(
    codes=selections(),
    social_security=st.integers(0, 500),
    other=st.integers(0, 500),
    full_year=st.booleans(),
    prices=prices_strategy,
    bundle=discounts,
)
def test_property_removing_a_person_never_raises_the_total(codes, social_security, other, full_year, prices, bundle):
    assume(valid_case(codes, other))
    total = table(codes, social_security=social_security, other=other, full_year=full_year, prices=prices, bundle=bundle).total
    if social_security:
        fewer = table(codes, social_security=social_security - 1, other=other, full_year=full_year, prices=prices, bundle=bundle)
        assert fewer.total <= total
    if other:
        fewer = table(codes, social_security=social_security, other=other - 1, full_year=full_year, prices=prices, bundle=bundle)
        assert fewer.total <= total


@settings(max_examples=200, deadline=None)
@given(codes=selections(), prices=prices_strategy, bundle=discounts)
def test_property_a_person_without_social_security_never_pays_more_than_one_with_it(codes, prices, bundle):
    # Dropping A0 takes the A0 price off and, at most, the bundle's discount back: 190 − 10 vs 70.
    for full_year in (True, False):
        with_ss = amount(codes, has_social_security=True, full_year=full_year, prices=prices, bundle=bundle)
        without_ss = amount(codes, has_social_security=False, full_year=full_year, prices=prices, bundle=bundle)
        assert "A0" not in person_items(codes, has_social_security=False)
        if "A0" not in codes:
            assert with_ss == without_ss
        elif full_year and set(BASIC) <= set(codes):
            bundle_price = sum((Decimal(prices[code]) for code in BASIC), Decimal("0"))
            assert with_ss - without_ss == prices["A0"] - min(bundle, bundle_price)
        else:
            assert with_ss - without_ss == tier_prices(prices, full_year=full_year)["A0"]


@settings(max_examples=200, deadline=None)
@given(codes=selections())
def test_property_half_year_never_costs_more_than_full_year_at_the_handbooks_prices(codes):
    # SPEC PREM-2: half of every price, the bundle lost (95 instead of 180 for A0 B0 C0): still cheaper.
    for has_social_security in (True, False):
        full = amount(codes, has_social_security=has_social_security, full_year=True)
        half = amount(codes, has_social_security=has_social_security, full_year=False)
        assert half < full or full == half == 0  # A0 only, without 社保: nothing either way
