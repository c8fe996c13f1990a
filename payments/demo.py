"""Demo of instant enrolment (即时参保) without changing the clock: the account `demo-instant`
(accounts/demo.py) holds 上海演示医药连锁有限公司 in the coverage year whose 即时参保 window is open today
(the year before the demo year, whose coverage is still running; enrollment/demo.py).

- Its centralised batch of that year is 参保已完成 with A0 B0 C0 A1: opened in the year's centralised
  window, submitted, its premium confirmed and its voucher approved, each step through its service.
- Its instant batch is 清册校验通过, submitted some weeks ago in the second half of the year, so
  【保障项目选择】 shows the centralised selection read only (SPEC PREM-4), 【生成保费信息】 prices it at
  half-year prices without the bundle (PREM-2) and 【保费详细】 shows each item's 生效日期 after its waiting
  period (COV-2). One of its people has no 社保: every item but A0 (PLAN-3).
- Three people of the completed centralised batch have a known 手机号 (LOOKUP_MOBILES), printed with
  their masked IDs, so 【参保查询】 (SPEC LOOK-1) can be tried up to its SMS step (the demo's SMS back end
  prints the code). A database seeded before they had mobiles gets them on the next run.

The instant batch is submitted with the steps of 【清册提交】 without the rules, as plans/demo.py does:
its people are not in the demo reference data. Created once: when the code has a batch in that year
(an earlier run, or the visitor's own progress), nothing is touched.
"""
import datetime as dt
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from accounts.models import Role, User
from enrollment.models import Batch, BatchKind, CoverageYear, Industry
from enrollment.states import BatchState
from enrollment.selectors import coverage_year_current
from enrollment.services import EnrollmentError
from mutualaid.attachments import AttachmentError, attachment_draft_token, attachment_store
from mutualaid.pii import ID_TYPE_RESIDENT, mask_id_number
from mutualaid.validators import uscc_check_character
from plans.demo import demo_batch_submitted
from plans.services import plan_items_of, premium_confirm
from rosters.demo import DemoUnit, demo_code
from rosters.models import IdType, Sex

from .models import PaymentMethod
from .services import voucher_approve, voucher_submit

INSTANT_USERNAME = "demo-instant"
INSTANT_UNIT_NAME = "上海演示医药连锁有限公司"
INSTANT_USCC = "91310107MA1G8DYY0" + uscc_check_character("91310107MA1G8DYY0")
CENTRALISED_CODES = ["A0", "B0", "C0", "A1"]
# 清册提交 of the instant batch this many days ago (so every waiting period ends within the year),
# but not before the half-year prices start (SPEC PREM-2).
DAYS_SINCE_INSTANT_SUBMISSION = 45

# name, birth date, sex, 是否有社保
CENTRALISED_PEOPLE = (
    ("高建华", dt.date(1976, 5, 20), Sex.MALE, True),
    ("林晓梅", dt.date(1981, 8, 14), Sex.FEMALE, True),
    ("何志刚", dt.date(1984, 2, 9), Sex.MALE, True),
    ("罗丽", dt.date(1989, 11, 23), Sex.FEMALE, True),
    ("郑浩", dt.date(1992, 6, 2), Sex.MALE, True),
    ("梁雪", dt.date(1994, 3, 17), Sex.FEMALE, True),
    ("宋涛", dt.date(1986, 12, 1), Sex.MALE, True),
    ("谢婷婷", dt.date(1997, 7, 28), Sex.FEMALE, True),
)
INSTANT_PEOPLE = (  # joined the unit after the centralised enrolment
    ("韩磊", dt.date(1995, 4, 11), Sex.MALE, True),
    ("唐悦", dt.date(1998, 10, 6), Sex.FEMALE, True),
    ("冯凯", dt.date(2001, 1, 30), Sex.MALE, False),
)
# SPEC ROS-7 [departure], LOOK-1: people of the completed centralised batch with a 手机号 on their
# roster entry, to try 【参保查询】 with (README "Demo accounts"). Fictitious numbers of the demo.
LOOKUP_MOBILES = {"高建华": "13900139001", "林晓梅": "13900139002", "何志刚": "13900139003"}

INSTANT_UNIT = DemoUnit(
    name=INSTANT_UNIT_NAME, uscc=INSTANT_USCC, address="上海市普陀区武宁路300号", postcode="200063",
    phone="021-62000002", headcount=len(CENTRALISED_PEOPLE) + len(INSTANT_PEOPLE), handler_name="赵晓兰",
    handler_mobile="13800138002", industry=Industry.F,
)


def instant_year(*, at=None) -> CoverageYear | None:
    """The latest coverage year whose 即时参保 window is open at `at` (SPEC BAT-2)."""
    at = at or timezone.now()
    return next((year for year in CoverageYear.objects.order_by("-year") if year.instant_window_open(at)), None)


def seed(*, stdout):
    account = User.objects.filter(username=INSTANT_USERNAME).first()
    year = instant_year()
    if account is None or year is None:
        stdout.write("未找到即时参保通道开启的保障年度或即时参保演示账号，未创建即时参保演示数据。")
        return
    plan_items_of(coverage_year=year)  # SPEC PLAN-1: the year's prices, copied from the closest earlier year
    code = demo_code(account, INSTANT_UNIT)
    if code is None:
        stdout.write(f"“{INSTANT_UNIT_NAME}”的参保编码已绑定其他账号，未创建即时参保演示数据。")
        return
    if Batch.objects.filter(code=code, coverage_year=year).exists():
        _lookup_people(code=code, year=year, stdout=stdout)
        return  # from an earlier run, or the visitor's own: left as it is
    try:
        with transaction.atomic():
            centralised = _centralised_completed(account=account, code=code, year=year)
            instant = _instant_submitted(account=account, code=code, year=year)
    except (EnrollmentError, AttachmentError) as error:  # PlanError and PaymentError are EnrollmentErrors
        stdout.write(f"未创建即时参保演示数据：{error.message}")
        return
    stdout.write(
        f"即时参保演示（账号 {INSTANT_USERNAME}，{INSTANT_UNIT_NAME}，{year.year}年度，即时参保通道开启中）："
        f"集中参保批次 {centralised.number}（{centralised.get_state_display()}，{' '.join(CENTRALISED_CODES)}），"
        f"即时参保批次 {instant.number}（{instant.get_state_display()}，{instant.entries.count()} 人，"
        f"起保日期 {instant.coverage_start:%Y-%m-%d}）：可直接进行【保障项目选择】"
    )
    _lookup_people(code=code, year=year, stdout=stdout)


def _lookup_people(*, code, year, stdout) -> None:
    """Print the LOOKUP_MOBILES people of the code's completed centralised batch (name, masked ID,
    mobile: SPEC LOOK-1 can be tried with them). A batch seeded before they had mobiles gets them here:
    demo data only, written directly (a completed roster is otherwise never changed, BAT-8); an entry
    that has a mobile already, or a visitor's own batch without these people, is left alone."""
    batch = Batch.objects.filter(code=code, coverage_year=year, kind=BatchKind.CENTRALISED, state=BatchState.COMPLETED).first()
    if batch is None:
        return
    entries = list(batch.entries.filter(name__in=LOOKUP_MOBILES, id_type=IdType.RESIDENT).order_by("pk"))
    for entry in entries:
        if not entry.mobile_cipher:
            entry.mobile = LOOKUP_MOBILES[entry.name]
            entry.save(update_fields=["mobile_cipher", "updated_at"])
    people = [f"{entry.name} {mask_id_number(entry.id_number, ID_TYPE_RESIDENT)} 手机号 {entry.mobile}" for entry in entries]
    if people:
        stdout.write(f"参保查询演示（{INSTANT_UNIT_NAME} 集中参保批次 {batch.number}，参保已完成）：" + "；".join(people))


def _shanghai_moment(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)), timezone.get_default_timezone())


def _centralised_completed(*, account, code, year) -> Batch:
    """The year's centralised batch, 参保已完成 with CENTRALISED_CODES: opened on the window's second day,
    premium confirmed the day after, paid and approved (SPEC BAT-2, PREM-3, PAY-2, PAY-4)."""
    opened_at = timezone.localtime(year.centralised_opens_at) + dt.timedelta(days=1, hours=10)
    batch = demo_batch_submitted(
        account=account, code=code, year=year, kind=BatchKind.CENTRALISED, people=CENTRALISED_PEOPLE,
        first_sequence=600, opened_at=opened_at, submitted_at=opened_at, mobiles=LOOKUP_MOBILES,
    )
    premium = premium_confirm(batch=batch, codes=CENTRALISED_CODES, acting_user=account, at=opened_at + dt.timedelta(days=1))
    token = attachment_draft_token()
    attachment_store(upload=_transfer_slip(), uploaded_by=account, draft_token=token)
    voucher = voucher_submit(
        account=account, batch_numbers=[batch.number], payer=INSTANT_UNIT_NAME, method=PaymentMethod.ONLINE,
        amount=str(premium.total), draft_token=token, at=opened_at + dt.timedelta(days=2),
    )
    reviewer = User.objects.filter(role=Role.REVIEWER, is_active=True).order_by("pk").first()
    if reviewer is not None:
        voucher_approve(voucher=voucher, acting_user=reviewer, at=opened_at + dt.timedelta(days=5))
    batch.refresh_from_db()
    return batch


def _instant_submitted(*, account, code, year) -> Batch:
    """An instant batch 清册校验通过, submitted DAYS_SINCE_INSTANT_SUBMISSION days ago (not before the
    half-year prices start, nor before the instant window opened), opened an hour before."""
    today = timezone.localdate()
    earliest = max(year.half_year_price_from - dt.timedelta(days=1), timezone.localtime(year.instant_opens_at).date())
    submitted_on = min(today, max(today - dt.timedelta(days=DAYS_SINCE_INSTANT_SUBMISSION), earliest))
    submitted_at = min(_shanghai_moment(submitted_on, 10), timezone.now())
    opened_at = submitted_at - dt.timedelta(hours=1)
    if coverage_year_current(at=opened_at) != year:  # a later year's centralised window had opened by then
        raise EnrollmentError(f"{year.year}年度的即时参保批次无法在演示时钟下办理。")
    return demo_batch_submitted(
        account=account, code=code, year=year, kind=BatchKind.INSTANT, people=INSTANT_PEOPLE,
        first_sequence=700, opened_at=opened_at, submitted_at=submitted_at,
    )


def _transfer_slip() -> SimpleUploadedFile:
    """A small picture standing for the bank's transfer slip (缴费凭证)."""
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (250, 251, 253)).save(buffer, "PNG")
    return SimpleUploadedFile("转账回单.png", buffer.getvalue(), content_type="image/png")
