"""Demo data of the plans app: the demo year's twelve plan items, and a batch of the
demo account in 清册校验通过, so a visitor of `make run` can try 【保障项目选择】 → 【生成保费信息】 →
【提交确认保费】 → 【保费详细】 at once.

The rosters demo already gives the demo code its centralised batch (a draft, for 清册校验), and a code
has one centralised batch per year (SPEC BAT-2). So the ready batch belongs to a second unit of the
same account, 上海演示物流有限公司 (a group whose administrator handles two codes, SPEC CODE-5/CODE-6):
16 people, 2 of them without 社保 (they get every selected item but A0, SPEC PLAN-3). It is opened by
【集中参保办理】 (enrollment.services.batch_open) and then submitted with the steps of 【清册提交】
(registry rows, coverage dates, the 操作日志 line 清册提交 → 清册校验通过, the audit event) without
running the rules: its people are not in the demo reference data, so the rules would treat it as a
new unit and send it to 职保会审核 with attachments (SPEC VAL-6), which is not what this demo shows.

Idempotent: the code, its unit and 经办人填报 are created once; the batch only when the code has none
in the year, so a second seed_demo run (or the visitor's own progress with it) is left alone.
"""
import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from enrollment.models import (
    Batch,
    BatchKind,
    EnrollmentCode,
    Industry,
)
from enrollment.selectors import coverage_year_current
from enrollment.services import (
    EnrollmentError,
    batch_open,
    batch_locked,
    batch_totals_submitted,
    batch_transition,
)
from enrollment.states import BatchState
from mutualaid.audit import acting_as
from mutualaid.pii import pii_hash
from mutualaid.validators import resident_id_check_character, uscc_check_character
from rosters.demo import DemoUnit, demo_code
from rosters.models import (
    EnrolmentRegistry,
    IdType,
    RosterEntry,
    Sex,
    SuggestedPerson,
    WorkStatus,
)
from rosters.services import roster_audit
from rosters.submission import SUBMIT_ACTION

from .services import plan_items_of

DEMO_USERNAME = "demo"  # accounts/demo.py
READY_UNIT_NAME = "上海演示物流有限公司"
READY_USCC = "91310107MA1G8DWL0" + uscc_check_character("91310107MA1G8DWL0")
READY_AREA = "310107"  # 普陀区

# name, birth date, sex, 是否有社保 (SPEC PLAN-3: the last two have none)
READY_PEOPLE = (
    ("陈志强", dt.date(1978, 4, 12), Sex.MALE, True),
    ("李秀英", dt.date(1982, 9, 3), Sex.FEMALE, True),
    ("王建国", dt.date(1975, 1, 28), Sex.MALE, True),
    ("张丽娟", dt.date(1986, 6, 17), Sex.FEMALE, True),
    ("刘伟", dt.date(1990, 11, 5), Sex.MALE, True),
    ("杨静", dt.date(1993, 2, 21), Sex.FEMALE, True),
    ("赵磊", dt.date(1988, 8, 9), Sex.MALE, True),
    ("黄敏", dt.date(1984, 12, 30), Sex.FEMALE, True),
    ("周杰", dt.date(1995, 5, 14), Sex.MALE, True),
    ("吴芳", dt.date(1979, 10, 8), Sex.FEMALE, True),
    ("徐明", dt.date(1983, 3, 25), Sex.MALE, True),
    ("孙艳", dt.date(1991, 7, 19), Sex.FEMALE, True),
    ("马超", dt.date(1987, 1, 6), Sex.MALE, True),
    ("朱婷", dt.date(1996, 9, 27), Sex.FEMALE, True),
    ("胡斌", dt.date(1999, 4, 2), Sex.MALE, False),
    ("郭晓燕", dt.date(2000, 12, 11), Sex.FEMALE, False),
)
READY_UNIT = DemoUnit(
    name=READY_UNIT_NAME, uscc=READY_USCC, address="上海市普陀区真北路200号", postcode="200333", phone="021-62000001",
    headcount=len(READY_PEOPLE), handler_name="李晓红", handler_mobile="13800138001", industry=Industry.G,
)



def seed(*, stdout):
    year = coverage_year_current()
    account = User.objects.filter(username=DEMO_USERNAME).first()
    if year is None or account is None:
        stdout.write("未找到当前保障年度或演示账号，未创建演示保障项目。")
        return
    items = plan_items_of(coverage_year=year)  # SPEC PLAN-1, YEAR-1: copied from the closest earlier year
    stdout.write(f"演示保障项目 {year.year}年度：" + "，".join(f"{item.code} {item.price}元" for item in items))
    code = demo_code(account, READY_UNIT)
    if code is None:
        stdout.write(f"“{READY_UNIT_NAME}”的参保编码已绑定其他账号，未创建待选择保障项目的演示批次。")
        return
    if Batch.objects.filter(code=code, coverage_year=year).exists():
        return  # from an earlier run, or the visitor's own: left as it is
    try:
        batch = _ready_batch(account=account, code=code, year=year)
    except EnrollmentError as error:
        stdout.write(f"未创建待选择保障项目的演示批次：{error.message}")
        return
    stdout.write(
        f"待选择保障项目的演示批次 {batch.number}（{batch.unit_name}，{batch.get_kind_display()}，"
        f"{batch.get_state_display()}，{batch.entries.count()} 人）：可直接进行【保障项目选择】"
    )


def _resident_id(birth: dt.date, sequence: int) -> str:
    first17 = f"{READY_AREA}{birth:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_check_character(first17)


def demo_people(people, *, year, first_sequence: int = 500) -> list[tuple[str, str, dt.date, str, bool]]:
    """`people` (name, birth date, sex, 是否有社保) with their resident IDs (an odd sequence for men,
    SPEC ROS-3, from `first_sequence` on), leaving out anyone the year already knows (the demo unit's
    suggested roster, another batch's roster), so the visitor's own 清册提交 of a demo batch never
    finds one of them held by this batch."""
    numbered = []
    for index, (name, birth, sex, insured) in enumerate(people):
        sequence = first_sequence + 2 * index + (1 if sex == Sex.MALE else 0)
        numbered.append((name, _resident_id(birth, sequence), birth, sex, insured))
    hashes = {pii_hash(number): number for _, number, *_ in numbered}
    known = set(SuggestedPerson.objects.filter(year=year.year, id_hash__in=hashes).values_list("id_hash", flat=True))
    known |= set(
        RosterEntry.objects.filter(batch__coverage_year=year, id_hash__in=hashes).values_list("id_hash", flat=True)
    )
    known |= set(EnrolmentRegistry.objects.filter(year=year.year, id_hash__in=hashes).values_list("id_hash", flat=True))
    return [person for person in numbered if pii_hash(person[1]) not in known]


def _ready_batch(*, account, code: EnrollmentCode, year) -> Batch:
    return demo_batch_submitted(account=account, code=code, year=year, kind=BatchKind.CENTRALISED, people=READY_PEOPLE)


def demo_batch_submitted(
    *, account, code: EnrollmentCode, year, kind: str, people, first_sequence: int = 500,
    opened_at: dt.datetime | None = None, submitted_at: dt.datetime | None = None, mobiles: dict[str, str] | None = None,
) -> Batch:
    """【集中参保办理】 / 【即时参保办理】 for `code` (at `opened_at`, so a demo can open a batch of a
    window that has closed), its roster of `people`, then the steps of 【清册提交】 at `submitted_at`
    (SPEC BAT-4, ROS-11, COV-1, COV-3) without the rules (see the module's docstring): 清册校验通过.
    Coverage: the year for a centralised batch, from the day after the submission for an instant one.
    `mobiles`: name → 手机号 (canonical) of the people who get one (SPEC ROS-7 [departure], LOOK-1).
    Raises EnrollmentError."""
    batch = batch_open(account=account, kind=kind, code=code.code, unit_name=code.unit_name, at=opened_at)
    at = submitted_at or timezone.now()
    if kind == BatchKind.CENTRALISED:
        start = year.coverage_start  # SPEC COV-1: a centralised batch covers the year
    else:
        start = timezone.localtime(at).date() + dt.timedelta(days=1)  # SPEC COV-1: the day after 清册提交
    end = year.coverage_end
    entries = [
        RosterEntry(
            batch=batch,
            id_type=IdType.RESIDENT,
            id_number=number,
            name=name,
            imported_name=name,
            birth_date=birth,
            sex=sex,
            has_social_security=insured,
            work_status=WorkStatus.ACTIVE if insured else WorkStatus.UNKNOWN,
            mobile=(mobiles or {}).get(name, ""),
            coverage_start=start,
            coverage_end=end,
        )
        for name, number, birth, sex, insured in demo_people(people, year=year, first_sequence=first_sequence)
    ]
    RosterEntry.objects.bulk_create(entries)
    roster_audit(batch=batch, acting_user=account, action="导入参保人员", added=len(entries))
    EnrolmentRegistry.objects.bulk_create(
        [EnrolmentRegistry(year=year.year, id_hash=entry.id_hash, batch=batch) for entry in entries]
    )
    batch.submitted_at, batch.coverage_start, batch.coverage_end = at, start, end
    batch.roster_version = 1
    with acting_as(account):
        batch.save(update_fields=["submitted_at", "coverage_start", "coverage_end", "roster_version", "updated_at"])
    batch_totals_submitted(
        batch=batch, people=len(entries), social_security_people=sum(entry.has_social_security for entry in entries), at=at
    )
    with transaction.atomic():
        moved = batch_transition(
            batch=batch_locked(batch), to=BatchState.ROSTER_APPROVED, acting_user=account, action=SUBMIT_ACTION
        )
    roster_audit(
        batch=moved, acting_user=account, action=SUBMIT_ACTION, registered=len(entries),
        coverage=f"{start.isoformat()}~{end.isoformat()}", state=moved.get_state_display(),
    )
    return moved
