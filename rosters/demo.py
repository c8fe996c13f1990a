"""Demo reference data: the demo unit account `demo` (accounts/demo.py) holds an
enrollment code whose unit has about 200 people in the suggested roster of the demo year, SS unit
codes with headcounts inside the ratio band, union members for most of them and a previous-year
enrolment under the same code. The people come from rosters/synthetic.py with a fixed seed, so every
run writes the same people.

The rows go through the loaders (rosters/reference/) like any reference file, each load recorded
as one audited event (SPEC X-2). A load replaces the whole year of its kind, so a kind is loaded
only when its year holds nothing but the demo's rows: a city-scale file loaded on a demo machine is
not replaced by 200 people, and a kind already in place is not loaded again (re-running seed_demo
leaves the same rows and adds no load events).
"""
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from accounts.models import User
from enrollment.models import (
    Batch,
    BatchKind,
    EconomicType,
    EnrollmentCode,
    HandlerInfo,
    Industry,
    Unit,
    UnitNature,
    unit_name_key,
)
from enrollment.selectors import coverage_year_current
from enrollment.services import EnrollmentError, batch_open, code_generate
from mutualaid.pii import pii_hash
from mutualaid.validators import resident_id_birth_and_sex, uscc_check_character

from .importer import roster_import_previous
from .models import PreviousEnrolment, SsUnit, SuggestedPerson, UnionMember, WorkStatus
from .errors import RosterError
from .reference import reference_load_recorded
from .synthetic import CityUnit, generate_unit, unit_rows, write_units

DEMO_USERNAME = "demo"
DEMO_UNIT_NAME = "上海演示科技有限公司"
DEMO_USCC = "91310107MA1G8DEM0" + uscc_check_character("91310107MA1G8DEM0")
DEMO_PEOPLE = 200
DEMO_SS_CODES = 2  # two codes, so the ratio check (VAL-4) shows a row per code
DEMO_SEED = 2026


def seed(*, stdout):
    year = coverage_year_current()
    account = User.objects.filter(username=DEMO_USERNAME).first()
    if year is None or account is None:
        stdout.write("未找到当前保障年度或演示账号，未创建演示参考数据。")
        return
    code = demo_code(account, DEMO_UNIT)
    if code is None:
        stdout.write(f"“{DEMO_UNIT_NAME}”的参保编码已绑定其他账号，未创建演示参考数据。")
        return
    unit = generate_unit(
        code=code.code,
        name=DEMO_UNIT_NAME,
        uscc=code.uscc or DEMO_USCC,
        people=DEMO_PEOPLE,
        year=year.year,
        seed=DEMO_SEED,
        coverage_start=year.coverage_start,
        ss_code_count=DEMO_SS_CODES,
    )
    unit.member_key = "code"  # the 会员库 knows the demo unit by its code
    _load(unit, year=year.year, stdout=stdout)
    _report(unit, year=year, stdout=stdout)
    _demo_batch(account=account, code=code, year=year, stdout=stdout)


@dataclass(frozen=True)
class DemoUnit:
    """A demo unit: its name and USCC, and what its lead unit and 经办人填报 say."""

    name: str
    uscc: str
    address: str
    postcode: str
    phone: str
    headcount: int
    handler_name: str
    handler_mobile: str
    industry: str


DEMO_UNIT = DemoUnit(
    name=DEMO_UNIT_NAME, uscc=DEMO_USCC, address="上海市普陀区长寿路100号", postcode="200060", phone="021-62000000",
    headcount=DEMO_PEOPLE, handler_name="王晓明", handler_mobile="13800138000", industry=Industry.I,
)


def demo_code(account, unit: DemoUnit) -> EnrollmentCode | None:
    """A demo unit's code (approved online, bound to `account`) with its lead unit and a saved
    经办人填报 (HND-1), so its batch pages open. Created once, then left as the demo user edits it;
    None when the code is bound to another account."""
    code = EnrollmentCode.objects.filter(name_key=unit_name_key(unit.name)).first()
    if code is None:
        code = EnrollmentCode.objects.create(
            code=code_generate(),
            unit_name=unit.name,
            uscc=unit.uscc,
            account=account,
            bound_at=timezone.now(),
            source=EnrollmentCode.Source.APPROVED,
        )
    elif code.account_id is None:
        code.account, code.bound_at = account, timezone.now()
        code.save(update_fields=["account", "bound_at"])
    elif code.account_id != account.pk:
        return None
    organisation = account.union_organisation
    Unit.objects.get_or_create(
        code=code,
        is_lead=True,
        defaults={
            "name": unit.name,
            "uscc": code.uscc or unit.uscc,
            "nature": UnitNature.ENTERPRISE,
            "committee": organisation,
            "address": unit.address,
            "postcode": unit.postcode,
            "phone": unit.phone,
            "headcount": unit.headcount,
        },
    )
    level1 = organisation.parent if organisation and organisation.parent_id else organisation
    level2 = organisation if organisation and organisation.parent_id else None
    HandlerInfo.objects.get_or_create(
        code=code,
        defaults={
            "handler_name": unit.handler_name,
            "handler_mobile": unit.handler_mobile,
            "handler_email": account.email or "demo@example.com",
            "economic_type": EconomicType.PRIVATE,
            "union_level1": level1,
            "union_level2": level2,
            "address": unit.address,
            "industry": unit.industry,
            "headcount": unit.headcount,
            "saved_by": account,
        },
    )
    return code


def _demo_keys(unit: CityUnit, year: int) -> dict:
    """Per kind: (model, year, the filter that selects the demo's own rows)."""
    hashes = [pii_hash(person.id_number) for person in unit.people]
    return {
        "suggested": (SuggestedPerson, year, {"id_hash__in": hashes}),
        "ss_units": (SsUnit, year, {"code__in": [row.code for row in unit.ss_units]}),
        "members": (UnionMember, year, {"unit_key__in": [unit.code, unit.uscc]}),
        "previous": (PreviousEnrolment, year - 1, {"code": unit.code}),
    }


def _load(unit: CityUnit, *, year: int, stdout) -> None:
    expected = {kind: len(rows) for kind, rows in unit_rows(unit).items()}
    with tempfile.TemporaryDirectory(prefix="demo-reference-") as folder:
        files = write_units([unit], out_dir=Path(folder))
        for kind, (model, kind_year, own_rows) in _demo_keys(unit, year).items():
            if model.objects.filter(year=kind_year).exclude(**own_rows).exists():
                stdout.write(f"{model._meta.verbose_name} {kind_year}年度已有其他数据，未用演示数据覆盖。")
                continue
            if model.objects.filter(year=kind_year, **own_rows).count() == expected[kind]:
                continue  # in place from an earlier run
            reference_load_recorded(kind=kind, path=files[kind], year=kind_year)


def _report(unit: CityUnit, *, year, stdout) -> None:
    keys = _demo_keys(unit, year.year)
    counts = {
        kind: model.objects.filter(year=kind_year, **own).count() for kind, (model, kind_year, own) in keys.items()
    }
    retired = sum(person.work_status == WorkStatus.RETIRED for person in unit.people)
    no_code = sum(person.work_status == WorkStatus.UNKNOWN for person in unit.people)
    over_age = 0
    for person in unit.people:
        birth_date, sex = resident_id_birth_and_sex(person.id_number)
        limit = year.male_age_limit if sex == "男" else year.female_age_limit
        age = year.coverage_start.year - birth_date.year - (
            (year.coverage_start.month, year.coverage_start.day) < (birth_date.month, birth_date.day)
        )
        over_age += person.work_status == WorkStatus.ACTIVE and age >= limit
    headcount = sum(row.paying_headcount for row in unit.ss_units)
    stdout.write(
        f"演示建议清册 {year.year}年度（参保编码 {unit.code}）：{counts['suggested']} 人"
        f"（退休 {retired}，在职超龄 {over_age}，无单位社保编码 {no_code}）"
    )
    stdout.write(f"演示单位社保编码 {year.year}年度：{counts['ss_units']} 个，社保在职人数合计 {headcount}")
    stdout.write(f"演示会员库 {year.year}年度：{counts['members']} 人")
    stdout.write(f"演示上年度参保名单 {year.year - 1}年度：{counts['previous']} 人")


def _demo_batch(*, account, code: EnrollmentCode, year, stdout) -> None:
    """A draft centralised batch of the demo code in the current year, filled with
    【获取上年度参保名单】, so `make run` opens on a roster of about 200 people, the retired ones marked
    退休 for 清册校验 to list (SPEC ROS-12, VAL-1) and a few reported (passports of last year's leavers
    without a birth date).
    Only when the code has no batch this year: the demo user's own batches are left alone."""
    if Batch.objects.filter(code=code, coverage_year=year).exists():
        return
    try:
        batch = batch_open(account=account, kind=BatchKind.CENTRALISED, code=code.code, unit_name=code.unit_name)
        result = roster_import_previous(batch=batch, acting_user=account)
    except EnrollmentError as error:  # a RosterError too
        stdout.write(f"未创建演示参保批次：{error.message}")
        return
    stdout.write(f"演示参保批次 {batch.number}（集中参保，{batch.get_state_display()}）：{result.summary}")
