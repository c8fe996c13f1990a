"""The synthetic city (rosters/synthetic.py), its command and the demo reference data (issue 5 item 4).

The generator feeds the loaders' tests, the benchmark and the demo, so its promises are checked here:
valid and unique resident IDs of Shanghai districts (SPEC ROS-3), ages and shares that exercise the
roster rules (VAL-1, VAL-2, VAL-4, VAL-5, ROS-5), heavy-tailed unit sizes, valid USCCs (GB 32100).
"""
import csv
import datetime as dt
import os
import statistics
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from enrollment.models import EnrollmentCode, HandlerInfo, Unit
from enrollment.selectors import coverage_year_current
from enrollment.services import CODE_ALPHABET
from mutualaid.validators import resident_id_birth_and_sex, resident_id_problem, validate_uscc
from rosters import synthetic
from rosters.models import PreviousEnrolment, ReferenceLoad, SsUnit, SuggestedPerson, UnionMember

PEOPLE = 20_000
UNITS = 500
YEAR = 2025
START = dt.date(YEAR, 7, 1)
SHANGHAI_AREAS = {
    "310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112", "310113", "310114",
    "310115", "310116", "310117", "310118", "310120", "310151",
}


def _age(number: str, on: dt.date) -> int:
    birth, _ = resident_id_birth_and_sex(number)
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@pytest.fixture(scope="module")
def city():
    return list(synthetic.generate_city(people=PEOPLE, units=UNITS, year=YEAR, seed=7))


@pytest.fixture(scope="module")
def people(city):
    return [person for unit in city for person in unit.people]


# --- People (SPEC ROS-3, VAL-1, VAL-2, VAL-5) ---------------------------------------------------


def test_every_resident_id_is_valid_unique_and_of_a_shanghai_district(people):
    numbers = [person.id_number for person in people]
    assert len(numbers) == PEOPLE
    assert [n for n in numbers if resident_id_problem(n) is not None] == []
    assert len(set(numbers)) == PEOPLE
    assert {n[:6] for n in numbers} <= SHANGHAI_AREAS
    assert len({n[:6] for n in numbers}) == len(SHANGHAI_AREAS)  # every district appears


def test_ages_lie_within_18_to_70_on_the_coverage_start(people):
    ages = [_age(person.id_number, START) for person in people]
    assert min(ages) >= 18 and max(ages) <= 70
    assert min(ages) <= 19 and max(ages) >= 69  # the whole range is used
    assert 30 <= statistics.median(ages) <= 45


def test_sexes_are_balanced(people):
    men = sum(int(person.id_number[16]) % 2 for person in people)
    assert abs(men / PEOPLE - 0.5) < 0.02


def test_about_two_percent_are_retired_mostly_over_the_age_limit(people):
    # SPEC VAL-1, VAL-2: women under 55, men under 60.
    retired = [person for person in people if person.work_status == "退休"]
    assert 0.015 <= len(retired) / PEOPLE <= 0.025
    over_limit = [
        person for person in retired
        if _age(person.id_number, START) >= (60 if int(person.id_number[16]) % 2 else 55)
    ]
    assert len(over_limit) / len(retired) >= 0.75
    assert all(not person.medical_active for person in retired)


def test_a_few_in_service_are_over_the_age_limit(people):
    # SPEC VAL-2's 在职超龄 tab has something to show.
    over_age = [
        person for person in people
        if person.work_status == "在职" and _age(person.id_number, START) >= (60 if int(person.id_number[16]) % 2 else 55)
    ]
    assert 0.01 <= len(over_age) / PEOPLE <= 0.06


def test_about_five_percent_have_no_ss_unit_code(people):
    # SPEC VAL-5, ROS-8: 职退状态 "-", 医保享受在职待遇 否, no personal SS number.
    without = [person for person in people if person.ss_unit_code == ""]
    assert 0.04 <= len(without) / PEOPLE <= 0.06
    assert {(p.work_status, p.medical_active, p.personal_ss_number) for p in without} == {("-", False, "")}
    with_code = [person for person in people if person.ss_unit_code]
    assert {person.work_status for person in with_code} == {"在职", "退休"}
    assert all(len(p.personal_ss_number) == 10 and p.personal_ss_number.isdigit() for p in with_code)


def test_names_are_chinese_from_common_surnames_with_a_few_dot_names(people):
    names = [person.name for person in people]
    assert all(2 <= len(name) <= 12 for name in names)
    surnames = Counter(name[0] for name in names if "·" not in name)
    assert {surname for surname, _ in surnames.most_common(5)} <= {"王", "李", "张", "刘", "陈", "杨"}
    dotted = [name for name in names if "·" in name]
    assert 1 <= len(dotted) <= PEOPLE * 0.01


# --- Units (SPEC CODE-8, REF-2, VAL-4; GB 32100) ------------------------------------------------


def test_unit_sizes_are_heavy_tailed_and_sum_to_the_people(city):
    sizes = [len(unit.people) for unit in city]
    assert len(sizes) == UNITS and sum(sizes) == PEOPLE
    assert min(sizes) >= 1 and max(sizes) <= 20_000
    assert max(sizes) >= 20 * statistics.median(sizes)


def test_unit_sizes_at_city_scale_reach_the_cap():
    import random

    sizes = synthetic.unit_sizes(people=6_000_000, units=150_000, rng=random.Random(1))
    assert sum(sizes) == 6_000_000
    assert min(sizes) == 1 and max(sizes) == 20_000
    assert statistics.median(sizes) <= 20


@pytest.mark.parametrize(("people", "units"), [(5, 10), (20_001, 1), (0, 0)])
def test_impossible_sizes_are_refused(people, units):
    import random

    with pytest.raises(ValueError):
        synthetic.unit_sizes(people=people, units=units, rng=random.Random(1))


def test_codes_usccs_and_names_are_valid_and_unique(city):
    codes = [unit.code for unit in city]
    assert len(set(codes)) == UNITS
    assert all(len(code) == 6 and set(code) <= set(CODE_ALPHABET) for code in codes)
    assert not any(set(code) & {"I", "O"} for code in codes)
    usccs = [unit.uscc for unit in city]
    assert len(set(usccs)) == UNITS
    for uscc in usccs:
        validate_uscc(uscc)  # raises on a wrong check character
        assert uscc.startswith("91310")
    names = [unit.name for unit in city]
    assert len(set(names)) == UNITS
    assert all(name.startswith("上海") and name.endswith("公司") for name in names)
    assert not set(names) & synthetic.RESERVED_UNIT_NAMES


def test_ss_unit_codes_cover_their_people(city):
    # SPEC VAL-4: the paying headcount is at least the people matched to the code.
    all_codes = [row.code for unit in city for row in unit.ss_units]
    assert len(set(all_codes)) == len(all_codes)
    assert all(len(code) == 8 and code.isdigit() for code in all_codes)
    ratios = []
    for unit in city:
        own = {row.code for row in unit.ss_units}
        assert {p.ss_unit_code for p in unit.people} - {""} <= own
        for row in unit.ss_units:
            matched = sum(person.ss_unit_code == row.code for person in unit.people)
            assert row.paying_headcount >= max(1, matched)
            ratios.append(matched / row.paying_headcount)
    assert sum(0.75 <= ratio <= 1 for ratio in ratios) / len(ratios) >= 0.75
    assert any(ratio < 0.75 for ratio in ratios)  # outside the band too
    assert any(len(unit.ss_units) > 1 for unit in city)  # large units have several codes


def test_union_members_and_name_mismatches(city):
    # SPEC REF-3, ROS-5.
    with_union = [unit for unit in city if unit.has_union]
    assert 0.5 <= len(with_union) / UNITS <= 0.7
    assert all(p.member_name is None for unit in city if not unit.has_union for p in unit.people)
    members = [p for unit in with_union for p in unit.people if p.member_name is not None]
    union_people = sum(len(unit.people) for unit in with_union)
    assert 0.85 <= len(members) / union_people <= 0.95
    differing = [p for p in members if p.member_name != p.name]
    assert 0.005 <= len(differing) / len(members) <= 0.05
    assert all(len(p.member_name) == len(p.name) for p in differing)  # slightly, not another person


def test_previous_year_enrolment_with_leavers(city):
    # SPEC REF-4, VAL-3.
    enrolled = [unit for unit in city if unit.enrolled_last_year]
    assert 0.85 <= len(enrolled) / UNITS <= 0.95
    stayed = [p for unit in enrolled for p in unit.people if p.previous_name is not None]
    assert 0.8 <= len(stayed) / sum(len(unit.people) for unit in enrolled) <= 0.9
    this_year = {p.id_number for unit in city for p in unit.people}
    leavers = [leaver for unit in enrolled for leaver in unit.leavers]
    assert leavers and not {leaver.id_number for leaver in leavers} & this_year
    resident = [leaver for leaver in leavers if leaver.id_type == "身份证"]
    assert all(resident_id_problem(leaver.id_number) is None for leaver in resident)
    assert len({leaver.id_number for leaver in leavers}) == len(leavers)


# --- Determinism and the fast ID generator ------------------------------------------------------


def test_the_same_seed_gives_the_same_files(tmp_path):
    first = synthetic.write_city_files(people=3_000, units=60, year=YEAR, out_dir=tmp_path / "a", seed=5)
    second = synthetic.write_city_files(people=3_000, units=60, year=YEAR, out_dir=tmp_path / "b", seed=5)
    other = synthetic.write_city_files(people=3_000, units=60, year=YEAR, out_dir=tmp_path / "c", seed=6)
    for kind in synthetic.FILE_HEADERS:
        assert first[kind].read_bytes() == second[kind].read_bytes(), kind
    assert first["suggested"].read_bytes() != other["suggested"].read_bytes()
    assert first.rows["suggested"] == 3_000 and first.rows["units"] == 60


def test_resident_ids_are_unique_valid_and_deterministic():
    numbers = synthetic.resident_ids(100_000, seed=3)
    assert len(set(numbers)) == 100_000
    assert all(resident_id_problem(n) is None for n in numbers[::97])
    assert synthetic.resident_ids(1000, seed=3) == synthetic.resident_ids(1000, seed=3)
    assert synthetic.resident_ids(1000, seed=3) != synthetic.resident_ids(1000, seed=4)


def test_a_single_unit_takes_everyone():
    (unit,) = synthetic.generate_city(people=200, units=1, year=YEAR, seed=1)
    assert len(unit.people) == 200


def test_generate_unit_shares_are_exact_for_a_small_unit():
    unit = synthetic.generate_unit(code="ABC123", name="上海测试有限公司", uscc="", people=200, year=YEAR, ss_code_count=2)
    statuses = Counter(person.work_status for person in unit.people)
    assert statuses["退休"] == 4 and statuses["-"] == 10
    assert len(unit.ss_units) == 2
    matched = sum(1 for p in unit.people if p.ss_unit_code)
    assert 0.75 <= matched / sum(row.paying_headcount for row in unit.ss_units) <= 1


# --- The command ---------------------------------------------------------------------------------


def test_command_writes_the_files_with_their_headers(tmp_path):
    out = StringIO()
    call_command(
        "generate_city_data", "--people", "2000", "--units", "40", "--year", "2025", "--out", str(tmp_path), stdout=out
    )
    expected = {
        "suggested.csv": ["证件号码", "社保姓名", "单位社保编码", "个人社保登记号", "职退状态", "医保享受在职待遇"],
        "ss_units.csv": ["单位社保编码", "单位名称", "社保在职人数"],
        "members.csv": ["参保编码", "统一社会信用代码", "姓名", "证件号码"],
        "previous.csv": ["参保编码", "姓名", "证件号码", "证件类型"],
        "units.csv": ["参保编码", "单位名称", "统一社会信用代码"],
    }
    for name, header in expected.items():
        with open(tmp_path / name, encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == header, name
        assert len(rows) > 1 and all(len(row) == len(header) for row in rows), name
    with open(tmp_path / "suggested.csv", encoding="utf-8", newline="") as handle:
        assert sum(1 for _ in handle) == 2001
    text = out.getvalue()
    assert "建议清册（2025年度）：2,000 行" in text
    assert "上年度参保名单（2024年度）" in text
    assert "完成：2,000 人，40 个单位" in text


def test_command_refuses_more_units_than_people(tmp_path):
    with pytest.raises(CommandError, match="人数须不少于单位数"):
        call_command("generate_city_data", "--people", "5", "--units", "10", "--year", "2025", "--out", str(tmp_path))


# --- seed_demo ------------------------------------------------------------------------------------


def _demo_counts():
    year = coverage_year_current().year
    code = EnrollmentCode.objects.get(account__username="demo", unit_name="上海演示科技有限公司")
    ss_units = SsUnit.objects.filter(year=year, unit_name__startswith=code.unit_name)
    ss_codes = list(ss_units.values_list("code", flat=True))
    return {
        "ss_codes": len(ss_codes),
        "suggested": SuggestedPerson.objects.filter(year=year, ss_unit_code__in=ss_codes).count(),
        "suggested_all": SuggestedPerson.objects.filter(year=year).count(),
        "members": UnionMember.objects.filter(year=year, unit_key__in=[code.code, code.uscc]).count(),
        "previous": PreviousEnrolment.objects.filter(year=year - 1, code=code.code).count(),
    }


@pytest.mark.django_db
def test_seed_demo_gives_the_demo_code_about_200_people_twice_alike(demo_data):
    code = EnrollmentCode.objects.get(account__username="demo", unit_name="上海演示科技有限公司")
    assert code.unit_name == "上海演示科技有限公司" and code.source == EnrollmentCode.Source.APPROVED
    assert Unit.objects.filter(code=code, is_lead=True, name=code.unit_name).count() == 1
    handler = HandlerInfo.objects.get(code=code)
    assert handler.handler_email and handler.handler_mobile
    first = _demo_counts()
    assert first["ss_codes"] == 2
    assert first["suggested_all"] == 200
    assert 180 <= first["suggested"] <= 200  # those without an SS unit code are not matched to one
    assert 150 <= first["members"] <= 200
    assert 150 <= first["previous"] <= 220
    year = coverage_year_current()
    statuses = Counter(SuggestedPerson.objects.filter(year=year.year).values_list("work_status", flat=True))
    assert statuses["退休"] >= 1 and statuses["-"] >= 5
    person = SuggestedPerson.objects.filter(year=year.year).first()
    assert resident_id_problem(person.id_number) is None  # stored as cipher and hash, read back whole

    call_command("seed_demo", stdout=open(os.devnull, "w"))
    assert _demo_counts() == first
    assert EnrollmentCode.objects.filter(unit_name="上海演示科技有限公司").count() == 1


@pytest.mark.django_db
def test_seed_demo_loads_through_the_loaders_once(demo_data):
    # SPEC X-2: each kind is one recorded load with its counts; a re-run finds them in place.
    loads = ReferenceLoad.objects.order_by("kind")
    year = coverage_year_current().year
    assert [(load.kind, load.year, load.status, load.rows_rejected) for load in loads] == [
        ("members", year, "done", 0),
        ("previous", year - 1, "done", 0),
        ("ss_units", year, "done", 0),
        ("suggested", year, "done", 0),
    ]
    assert loads.get(kind="suggested").rows_loaded == 200
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    assert ReferenceLoad.objects.count() == 4


@pytest.mark.django_db
def test_seed_demo_leaves_a_year_loaded_with_other_data_alone(handbook_year, union_organisations):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # the demo year exists from here on
    year = coverage_year_current().year
    SuggestedPerson.objects.all().delete()
    (number,) = synthetic.resident_ids(1, seed=99)
    birth_date, sex = resident_id_birth_and_sex(number)
    SuggestedPerson.objects.create(
        year=year, id_number=number, ss_name="张三", work_status="在职", birth_date=birth_date, sex=sex
    )
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert list(SuggestedPerson.objects.values_list("ss_name", flat=True)) == ["张三"]
    assert "已有其他数据，未用演示数据覆盖" in out.getvalue()


@pytest.mark.django_db
def test_seed_demo_prints_a_line_per_kind(demo_data):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    for label in ("演示建议清册", "演示单位社保编码", "演示会员库", "演示上年度参保名单"):
        assert label in text
