"""The coverage year record, its 2023 seed, the shifted demo copies and "the current year" (SPEC YEAR)."""
import datetime as dt
import importlib
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, User
from enrollment.models import CoverageYear
from enrollment.selectors import coverage_year_current
from enrollment.services import add_months, coverage_year_copy_shifted
from tests.factories import CoverageYearFactory

pytestmark = pytest.mark.usefixtures("db")

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc
D = dt.date

# The fields coverage_year_copy_shifted moves; every other field is copied as is.
SHIFTED_FIELDS = {
    "centralised_opens_at",
    "centralised_closes_at",
    "instant_opens_at",
    "coverage_start",
    "coverage_end",
    "half_year_price_from",
}


def _shanghai(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def _handbook_year() -> CoverageYear:
    return CoverageYear.objects.get(year=2023)


def _copied_field_names():
    return [
        field.name
        for field in CoverageYear._meta.concrete_fields
        if field.name not in SHIFTED_FIELDS | {"id", "year", "updated_at"}
    ]


# --- the 2023 year from the data migration (SPEC YEAR-1) ----------------------------------------


def test_the_2023_year_exists_after_migrations():
    # SPEC YEAR-1
    assert CoverageYear.objects.filter(year=2023).count() == 1


def test_the_2023_windows_are_the_handbooks():
    # SPEC YEAR-1, YEAR-2: 2023-06-01 00:00 – 2023-06-30 24:00; instant from 2023-07-01 00:00.
    year = _handbook_year()
    assert year.centralised_opens_at == _shanghai(2023, 6, 1)
    assert year.centralised_closes_at == _shanghai(2023, 7, 1)
    assert year.instant_opens_at == _shanghai(2023, 7, 1)
    # In UTC the window opens on the evening of 31 May: the stored instant is Shanghai midnight.
    assert year.centralised_opens_at == dt.datetime(2023, 5, 31, 16, 0, tzinfo=UTC)


def test_the_2023_coverage_is_the_handbooks():
    # SPEC YEAR-1
    year = _handbook_year()
    assert year.coverage_start == D(2023, 7, 1)
    assert year.coverage_end == D(2024, 6, 30)
    assert year.half_year_price_from == D(2024, 1, 1)


def test_the_2023_roster_rules_are_the_handbooks():
    # SPEC YEAR-1
    year = _handbook_year()
    assert (year.female_age_limit, year.male_age_limit) == (55, 60)
    assert year.headcount_change_percent == Decimal("10")
    assert (year.ss_ratio_min_percent, year.ss_ratio_max_percent) == (Decimal("75"), Decimal("100"))
    assert year.small_unit_threshold == 10


def test_the_2023_deadlines_are_the_handbooks():
    # SPEC YEAR-1
    year = _handbook_year()
    assert year.payment_deadline_days == 15
    assert year.code_review_working_days == 1
    assert year.batch_review_working_days == 2
    assert year.voucher_review_working_days == 10
    assert year.account_reset_working_days == 3


def test_the_2023_bank_account_is_the_handbooks():
    # SPEC YEAR-1, PAY-1
    year = _handbook_year()
    assert year.bank_account_name == "上海市职工保障互助会"
    assert year.bank_account_number == "31602300008022150"
    assert year.bank_name == "上海银行人民广场支行"


def test_the_2023_year_passes_its_own_validation():
    assert _clean_errors(_handbook_year(), full=True) == {}


def test_rerunning_the_data_migration_keeps_a_reviewers_edit():
    # SPEC YEAR-1: the year is editable by reviewers; the seed only fills a missing year.
    migration = importlib.import_module("enrollment.migrations.0002_coverage_year_2023")
    CoverageYear.objects.filter(year=2023).update(payment_deadline_days=20)
    migration.create_2023(django_apps, None)
    assert CoverageYear.objects.filter(year=2023).count() == 1
    assert _handbook_year().payment_deadline_days == 20


def test_the_data_migration_recreates_a_missing_2023_year():
    migration = importlib.import_module("enrollment.migrations.0002_coverage_year_2023")
    CoverageYear.objects.filter(year=2023).delete()
    migration.create_2023(django_apps, None)
    year = _handbook_year()
    assert year.coverage_start == D(2023, 7, 1)
    assert year.bank_account_number == "31602300008022150"


# --- banner and str (SPEC BAT-1) ----------------------------------------------------------------


def test_banner_of_2023_is_the_handbooks_sentence():
    # SPEC BAT-1
    assert _handbook_year().banner == "参保年度为2023年7月1日至2024年6月30日。"


def test_banner_has_no_leading_zeros():
    # SPEC BAT-1
    year = CoverageYearFactory.build(coverage_start=D(2028, 2, 9), coverage_end=D(2029, 2, 8))
    assert year.banner == "参保年度为2028年2月9日至2029年2月8日。"


def test_str_names_the_year():
    assert str(_handbook_year()) == "2023年度"


# --- windows (SPEC YEAR-1, YEAR-2) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (_shanghai(2023, 5, 31, 23, 59, 59), False),
        (_shanghai(2023, 6, 1, 0, 0, 0), True),
        (_shanghai(2023, 6, 15, 12, 0), True),
        (_shanghai(2023, 6, 30, 23, 59, 59), True),
        (_shanghai(2023, 6, 30, 23, 59, 59, 999999), True),
        (_shanghai(2023, 7, 1, 0, 0, 0), False),
        (dt.datetime(2023, 6, 30, 15, 59, 59, tzinfo=UTC), True),  # 23:59:59 in Shanghai
        (dt.datetime(2023, 6, 30, 16, 0, 0, tzinfo=UTC), False),  # 24:00 in Shanghai
        (dt.datetime(2023, 5, 31, 16, 0, 0, tzinfo=UTC), True),  # 1 June 00:00 in Shanghai
    ],
)
def test_centralised_window_is_open_until_24_00_on_30_june(at, is_open):
    # SPEC YEAR-1, YEAR-2: "6月30日24时" is 7月1日 00:00, the first instant it is closed.
    assert _handbook_year().centralised_window_open(at) is is_open


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (_shanghai(2023, 6, 30, 23, 59, 59), False),
        (_shanghai(2023, 7, 1, 0, 0, 0), True),
        (_shanghai(2024, 1, 1, 0, 0), True),
        (_shanghai(2024, 6, 30, 23, 59, 59), True),
        (_shanghai(2024, 7, 1, 0, 0, 0), False),
        (dt.datetime(2024, 6, 30, 16, 0, 0, tzinfo=UTC), False),  # 2024-07-01 00:00 in Shanghai
    ],
)
def test_instant_window_is_open_from_1_july_to_the_end_of_coverage(at, is_open):
    # SPEC YEAR-1, YEAR-2: instant from 2023-07-01 00:00 until coverage ends at 2024-06-30 24:00.
    assert _handbook_year().instant_window_open(at) is is_open


def test_windows_default_to_now():
    year = _handbook_year()
    with time_machine.travel(_shanghai(2023, 6, 30, 23, 59, 59), tick=False):
        assert year.centralised_window_open() is True
        assert year.instant_window_open() is False
    with time_machine.travel(_shanghai(2023, 7, 1, 0, 0, 0), tick=False):
        assert year.centralised_window_open() is False
        assert year.instant_window_open() is True


# --- clean() ------------------------------------------------------------------------------------


def _clean_errors(year: CoverageYear, *, full: bool = False) -> dict:
    """What clean() (or full_clean()) reports for `year`: {} when it is valid."""
    try:
        year.full_clean() if full else year.clean()
    except ValidationError as error:
        return error.message_dict
    return {}


def _errors(year: CoverageYear) -> dict:
    with pytest.raises(ValidationError) as excinfo:
        year.clean()
    return excinfo.value.message_dict


def test_a_valid_year_cleans_without_error():
    assert _clean_errors(CoverageYearFactory.build(year=2031)) == {}


@pytest.mark.parametrize("closes_at", [_shanghai(2031, 6, 1), _shanghai(2031, 5, 1)])
def test_window_must_close_after_it_opens(closes_at):
    errors = _errors(CoverageYearFactory.build(year=2031, centralised_closes_at=closes_at))
    assert errors == {"centralised_closes_at": ["集中参保通道关闭时间须晚于开始时间"]}


@pytest.mark.parametrize("coverage_end", [D(2031, 7, 1), D(2031, 6, 30)])
def test_coverage_must_end_after_it_starts(coverage_end):
    year = CoverageYearFactory.build(year=2031, coverage_end=coverage_end, half_year_price_from=D(2031, 7, 1))
    errors = _errors(year)
    assert errors["coverage_end"] == ["保障终止日须晚于起始日"]


@pytest.mark.parametrize("half_year_from", [D(2031, 7, 1), D(2031, 6, 30), D(2032, 7, 1)])
def test_half_year_pricing_must_start_inside_coverage_after_its_first_day(half_year_from):
    errors = _errors(CoverageYearFactory.build(year=2031, half_year_price_from=half_year_from))
    assert errors == {"half_year_price_from": ["半年保费起始日须在保障期内"]}


@pytest.mark.parametrize("half_year_from", [D(2031, 7, 2), D(2032, 1, 1), D(2032, 6, 30)])
def test_half_year_pricing_may_start_on_any_later_day_of_coverage(half_year_from):
    assert _clean_errors(CoverageYearFactory.build(year=2031, half_year_price_from=half_year_from)) == {}


def test_ss_ratio_band_must_not_be_inverted():
    year = CoverageYearFactory.build(year=2031, ss_ratio_min_percent=Decimal("90"), ss_ratio_max_percent=Decimal("80"))
    assert _errors(year) == {"ss_ratio_min_percent": ["社保比例下限不能高于上限"]}


def test_an_equal_ss_ratio_band_is_allowed():
    year = CoverageYearFactory.build(year=2031, ss_ratio_min_percent=Decimal("100"), ss_ratio_max_percent=Decimal("100"))
    assert _clean_errors(year) == {}


def test_clean_reports_every_error_at_once():
    year = CoverageYearFactory.build(
        year=2031,
        centralised_closes_at=_shanghai(2031, 5, 1),
        coverage_end=D(2031, 6, 1),
        ss_ratio_min_percent=Decimal("100"),
        ss_ratio_max_percent=Decimal("75"),
    )
    assert set(_errors(year)) == {
        "centralised_closes_at",
        "coverage_end",
        "half_year_price_from",
        "ss_ratio_min_percent",
    }


@pytest.mark.parametrize("field", ["headcount_change_percent", "ss_ratio_min_percent", "ss_ratio_max_percent"])
def test_percentages_stay_between_0_and_100(field):
    year = CoverageYearFactory.build(year=2031, **{field: Decimal("100.01")})
    with pytest.raises(ValidationError) as excinfo:
        year.full_clean()
    assert field in excinfo.value.message_dict


def test_the_database_refuses_an_inverted_window():
    with pytest.raises(IntegrityError), transaction.atomic():
        CoverageYearFactory(year=2031, centralised_closes_at=_shanghai(2031, 5, 1))


def test_the_database_refuses_an_inverted_coverage():
    with pytest.raises(IntegrityError), transaction.atomic():
        CoverageYearFactory(year=2031, coverage_end=D(2031, 7, 1))


def test_the_database_refuses_two_records_of_one_year():
    with pytest.raises(IntegrityError), transaction.atomic():
        CoverageYearFactory(year=2023)


# --- add_months ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2023, 7, 1), 12, D(2024, 7, 1)),
        (D(2023, 7, 1), 6, D(2024, 1, 1)),
        (D(2023, 12, 15), 1, D(2024, 1, 15)),
        (D(2024, 1, 15), -1, D(2023, 12, 15)),
        (D(2026, 3, 8), -12, D(2025, 3, 8)),
        (D(2026, 1, 31), 1, D(2026, 2, 28)),  # no 31 February: the month's last day
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # leap year
        (D(2026, 3, 31), 1, D(2026, 4, 30)),
        (D(2026, 3, 31), -1, D(2026, 2, 28)),
        (D(2028, 2, 29), 12, D(2029, 2, 28)),
        (D(2028, 2, 29), 48, D(2032, 2, 29)),
        (D(2026, 5, 17), 0, D(2026, 5, 17)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


# --- coverage_year_copy_shifted -----------------------------------------------------------------


def test_copy_shifted_moves_the_window_to_the_given_day():
    # SPEC YEAR-1: the handbook's 30-day window, instant channel and coverage from its close.
    copy = coverage_year_copy_shifted(source=_handbook_year(), year=2026, centralised_opens_on=D(2026, 3, 10))
    assert copy.year == 2026
    assert copy.centralised_opens_at == _shanghai(2026, 3, 10)
    assert copy.centralised_closes_at == _shanghai(2026, 4, 9)
    assert copy.instant_opens_at == _shanghai(2026, 4, 9)
    assert copy.coverage_start == D(2026, 4, 9)
    assert copy.coverage_end == D(2027, 4, 8)
    assert copy.half_year_price_from == D(2026, 10, 9)
    assert copy.banner == "参保年度为2026年4月9日至2027年4月8日。"


def test_copy_shifted_keeps_every_duration_of_the_source():
    source = _handbook_year()
    copy = coverage_year_copy_shifted(source=source, year=2027, centralised_opens_on=D(2026, 11, 17))
    assert copy.centralised_closes_at - copy.centralised_opens_at == dt.timedelta(days=30)
    assert (
        copy.centralised_closes_at - copy.centralised_opens_at
        == source.centralised_closes_at - source.centralised_opens_at
    )
    assert copy.instant_opens_at == copy.centralised_closes_at
    assert copy.coverage_start == timezone.localtime(copy.centralised_closes_at).date()
    assert add_months(copy.coverage_start, 12) == copy.coverage_end + dt.timedelta(days=1)
    assert add_months(copy.coverage_start, 6) == copy.half_year_price_from


def test_copy_shifted_is_stored_at_shanghai_midnight():
    # SPEC YEAR-2
    copy = coverage_year_copy_shifted(source=_handbook_year(), year=2026, centralised_opens_on=D(2026, 3, 10))
    copy.refresh_from_db()
    opens = timezone.localtime(copy.centralised_opens_at)
    assert (opens.date(), opens.hour, opens.minute) == (D(2026, 3, 10), 0, 0)
    assert opens.utcoffset() == dt.timedelta(hours=8)


def test_copy_shifted_copies_every_rule_and_number():
    # SPEC YEAR-1
    source = CoverageYearFactory(
        year=2031,
        female_age_limit=50,
        male_age_limit=65,
        headcount_change_percent=Decimal("12.50"),
        ss_ratio_min_percent=Decimal("70"),
        ss_ratio_max_percent=Decimal("95"),
        small_unit_threshold=8,
        waiting_days_a=20,
        waiting_days_b=45,
        waiting_days_c=5,
        payment_deadline_days=20,
        code_review_working_days=2,
        batch_review_working_days=3,
        voucher_review_working_days=7,
        account_reset_working_days=4,
        bank_account_name="某某互助会",
        bank_account_number="1234567890",
        bank_name="某银行某支行",
    )
    copy = coverage_year_copy_shifted(source=source, year=2040, centralised_opens_on=D(2040, 2, 3))
    copy.refresh_from_db()
    for name in _copied_field_names():
        assert getattr(copy, name) == getattr(source, name), name
    assert copy.pk != source.pk


def test_copy_shifted_keeps_a_different_shape():
    # A source whose window lasts 14 days, instant opens a day after it closes, coverage starts two
    # days after the close and lasts 24 months with half-year pricing after 3.
    source = CoverageYearFactory(
        year=2031,
        centralised_opens_at=_shanghai(2031, 6, 1),
        centralised_closes_at=_shanghai(2031, 6, 15),
        instant_opens_at=_shanghai(2031, 6, 16),
        coverage_start=D(2031, 6, 17),
        coverage_end=D(2033, 6, 16),
        half_year_price_from=D(2031, 9, 17),
    )
    copy = coverage_year_copy_shifted(source=source, year=2035, centralised_opens_on=D(2035, 1, 20))
    assert copy.centralised_opens_at == _shanghai(2035, 1, 20)
    assert copy.centralised_closes_at == _shanghai(2035, 2, 3)
    assert copy.instant_opens_at == _shanghai(2035, 2, 4)
    assert copy.coverage_start == D(2035, 2, 5)
    assert copy.coverage_end == D(2037, 2, 4)
    assert copy.half_year_price_from == D(2035, 5, 5)


def test_copy_shifted_with_coverage_from_31_january():
    # Window 1–30 January 2027 → coverage from 31 January; 12 months end on 30 January,
    # half-year pricing from 31 July.
    copy = coverage_year_copy_shifted(source=_handbook_year(), year=2027, centralised_opens_on=D(2027, 1, 1))
    assert copy.coverage_start == D(2027, 1, 31)
    assert copy.coverage_end == D(2028, 1, 30)
    assert copy.half_year_price_from == D(2027, 7, 31)
    copy.full_clean()


def test_copy_shifted_with_coverage_from_29_february():
    # Window 30 January – 28 February 2028 → coverage from 29 February 2028. 29 February 2029 does not
    # exist, so the 12 months end with February: on 28 February 2029, not a day earlier.
    copy = coverage_year_copy_shifted(source=_handbook_year(), year=2028, centralised_opens_on=D(2028, 1, 30))
    assert copy.centralised_closes_at == _shanghai(2028, 2, 29)
    assert copy.coverage_start == D(2028, 2, 29)
    assert copy.coverage_end == D(2029, 2, 28)
    assert copy.half_year_price_from == D(2028, 8, 29)
    assert copy.banner == "参保年度为2028年2月29日至2029年2月28日。"


def test_copy_shifted_with_coverage_from_1_march_before_a_leap_day():
    # Coverage from 1 March 2027 runs to the day before 1 March 2028: 29 February 2028.
    copy = coverage_year_copy_shifted(source=_handbook_year(), year=2027, centralised_opens_on=D(2027, 1, 30))
    assert copy.coverage_start == D(2027, 3, 1)
    assert copy.coverage_end == D(2028, 2, 29)


def test_copy_shifted_is_idempotent():
    source = _handbook_year()
    first = coverage_year_copy_shifted(source=source, year=2026, centralised_opens_on=D(2026, 3, 10))
    count = CoverageYear.objects.count()
    second = coverage_year_copy_shifted(source=source, year=2026, centralised_opens_on=D(2026, 3, 10))
    assert CoverageYear.objects.count() == count
    assert second.pk == first.pk
    second.refresh_from_db()
    for name in SHIFTED_FIELDS:
        assert getattr(second, name) == getattr(first, name), name


def test_copy_shifted_updates_an_existing_year():
    source = _handbook_year()
    coverage_year_copy_shifted(source=source, year=2026, centralised_opens_on=D(2026, 3, 10))
    moved = coverage_year_copy_shifted(source=source, year=2026, centralised_opens_on=D(2026, 5, 1))
    assert CoverageYear.objects.filter(year=2026).count() == 1
    stored = CoverageYear.objects.get(year=2026)
    assert stored.pk == moved.pk
    assert stored.centralised_opens_at == _shanghai(2026, 5, 1)


def test_copy_shifted_leaves_the_source_alone():
    source = _handbook_year()
    coverage_year_copy_shifted(source=source, year=2026, centralised_opens_on=D(2026, 3, 10))
    source.refresh_from_db()
    assert source.year == 2023
    assert source.centralised_opens_at == _shanghai(2023, 6, 1)
    assert source.coverage_end == D(2024, 6, 30)


# --- coverage_year_current ----------------------------------------------------------------------


def test_current_year_is_none_before_any_window_opened():
    assert coverage_year_current(at=_shanghai(2023, 5, 31, 23, 59, 59)) is None


def test_current_year_is_the_latest_whose_window_has_opened():
    # SPEC YEAR-1: 2023 (migration) and 2024, 2025 shaped like it.
    CoverageYearFactory(year=2024)
    CoverageYearFactory(year=2025)
    assert coverage_year_current(at=_shanghai(2023, 6, 1)).year == 2023
    assert coverage_year_current(at=_shanghai(2024, 5, 31, 23, 59, 59)).year == 2023
    assert coverage_year_current(at=_shanghai(2024, 6, 1)).year == 2024
    assert coverage_year_current(at=_shanghai(2025, 5, 31, 23, 59, 59)).year == 2024
    assert coverage_year_current(at=_shanghai(2025, 6, 1)).year == 2025
    assert coverage_year_current(at=_shanghai(2030, 1, 1)).year == 2025


def test_current_year_compares_instants_not_local_dates():
    CoverageYearFactory(year=2024)
    assert coverage_year_current(at=dt.datetime(2024, 5, 31, 15, 59, 59, tzinfo=UTC)).year == 2023
    assert coverage_year_current(at=dt.datetime(2024, 5, 31, 16, 0, 0, tzinfo=UTC)).year == 2024


def test_current_year_defaults_to_now():
    CoverageYearFactory(year=2024)
    with time_machine.travel(_shanghai(2024, 6, 1, 0, 0, 1), tick=False):
        assert coverage_year_current().year == 2024
    with time_machine.travel(_shanghai(2024, 5, 31, 23, 59), tick=False):
        assert coverage_year_current().year == 2023


# --- seed_demo ----------------------------------------------------------------------------------


def _seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


FIXED_NOW = _shanghai(2026, 3, 15, 10, 0)


def test_seed_demo_makes_a_year_whose_centralised_window_contains_now():
    # SPEC YEAR-1: the demo year is the handbook's, shifted so today is inside its window.
    with time_machine.travel(FIXED_NOW, tick=False):
        _seed_demo()
        demo = CoverageYear.objects.get(year=2026)
        assert demo.centralised_window_open() is True
        assert demo.centralised_opens_at == _shanghai(2026, 3, 8)
        assert demo.centralised_closes_at == _shanghai(2026, 4, 7)
        assert demo.coverage_start == D(2026, 4, 7)
        assert demo.coverage_end == D(2027, 4, 6)
        assert coverage_year_current().pk == demo.pk


def test_seed_demo_makes_the_year_before_it():
    with time_machine.travel(FIXED_NOW, tick=False):
        _seed_demo()
        before = CoverageYear.objects.get(year=2025)
        assert before.centralised_opens_at == _shanghai(2025, 3, 8)
        assert before.centralised_window_open() is False
        assert before.coverage_start == D(2025, 4, 7)
        assert before.coverage_end == D(2026, 4, 6)
        assert before.instant_window_open() is True  # its coverage is still running


def test_seed_demo_copies_the_handbook_rules():
    # SPEC YEAR-1
    with time_machine.travel(FIXED_NOW, tick=False):
        _seed_demo()
    handbook = _handbook_year()
    for year in CoverageYear.objects.filter(year__in=[2025, 2026]):
        for name in _copied_field_names():
            assert getattr(year, name) == getattr(handbook, name), (year.year, name)


def test_seed_demo_keeps_the_handbook_year():
    with time_machine.travel(FIXED_NOW, tick=False):
        _seed_demo()
    handbook = _handbook_year()
    assert handbook.centralised_opens_at == _shanghai(2023, 6, 1)
    assert handbook.coverage_start == D(2023, 7, 1)


def test_seed_demo_with_the_real_clock():
    # Whatever today is, the demo opens in a window that is open now.
    _seed_demo()
    current = coverage_year_current()
    assert current is not None
    assert current.year != 2023
    assert current.centralised_window_open() is True
    assert CoverageYear.objects.filter(year=current.year - 1).exists()


def test_seed_demo_twice_changes_nothing():
    with time_machine.travel(FIXED_NOW, tick=False):
        _seed_demo()
        snapshot = {
            year.year: {name: getattr(year, name) for name in SHIFTED_FIELDS | {"id"}}
            for year in CoverageYear.objects.all()
        }
        users = dict(User.objects.values_list("username", "id"))
        _seed_demo()
        assert {
            year.year: {name: getattr(year, name) for name in SHIFTED_FIELDS | {"id"}}
            for year in CoverageYear.objects.all()
        } == snapshot
        assert dict(User.objects.values_list("username", "id")) == users
    assert set(snapshot) == {2023, 2025, 2026}


@pytest.mark.parametrize(
    ("username", "password", "role"),
    [
        ("demo", "Demo#2026", Role.UNIT_ADMIN),
        ("reviewer", "Review#2026", Role.REVIEWER),
        ("union", "Union#2026", Role.UNION_STAFF),
    ],
)
def test_seed_demo_creates_the_demo_accounts(username, password, role):
    _seed_demo()
    _seed_demo()
    user = User.objects.get(username=username)
    assert user.role == role
    assert user.is_active
    assert user.check_password(password)
    assert not user.check_password("Portal#2026")


def test_seed_demo_resets_a_changed_demo_account():
    # Re-running the demo restores the documented passwords and roles.
    _seed_demo()
    user = User.objects.get(username="reviewer")
    user.set_password("changed")
    user.role = Role.UNIT_ADMIN
    user.is_active = False
    user.save()
    _seed_demo()
    user.refresh_from_db()
    assert user.check_password("Review#2026")
    assert user.role == Role.REVIEWER
    assert user.is_active
    assert user.is_staff  # back-office role


def test_seed_demo_prints_the_banner_and_accounts():
    with time_machine.travel(FIXED_NOW, tick=False):
        output = _seed_demo()
    assert "参保年度为2026年4月7日至2027年4月6日。" in output
    assert "demo / Demo#2026" in output
