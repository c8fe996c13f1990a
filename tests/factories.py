"""factory-boy factories and the object helpers shared by the suite (STYLE.md §10).

- UserFactory (staff accounts enrolled in the second factor, tests/second_factor.py), CoverageYearFactory;
- EnrollmentCodeFactory, UnitFactory (a lead unit), HandlerInfoFactory (经办人填报), BatchFactory (a batch
  put straight into `state`), and make_batch, the one batch helper that builds a batch with its code;
- resident_id, RosterEntryFactory and make_entry (roster people), roster_audit_events;
- VoucherFactory (a 缴费凭证 row).
Helpers of one area live beside its tests: tests/<area>/helpers.py, tests/rosters/importfiles.py.
"""
import datetime as dt
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import factory
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role, User
from accounts.second_factor import DEVICE_NAME
from enrollment.models import Batch, EnrollmentCode, HandlerInfo, Unit
from enrollment.states import BatchKind, BatchState
from mutualaid.validators import resident_id_check_character, uscc_check_character
from payments.models import Voucher
from tests.second_factor import STAFF_TOTP_KEY
from rosters.models import IdType, RosterEntry, Sex

SHANGHAI = ZoneInfo("Asia/Shanghai")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True  # the second_factor hook saves a device, not the user

    username = factory.Sequence(lambda n: f"user{n:04d}")
    first_name = factory.Sequence(lambda n: f"经办人{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    role = Role.UNIT_ADMIN
    password = factory.django.Password("Portal#2026")

    @factory.post_generation
    def second_factor(user, create, extracted, **kwargs):
        """SPEC SEC-8: a staff account comes enrolled — a confirmed authenticator device with the
        known secret STAFF_TOTP_KEY (tests/second_factor.py). `second_factor=False` makes one that has
        not enrolled yet; `second_factor=True` gives a unit administrator one (turned on)."""
        if not create or extracted is False or not (user.is_staff or extracted):
            return
        TOTPDevice.objects.get_or_create(
            user=user, confirmed=True, defaults={"name": DEVICE_NAME, "key": STAFF_TOTP_KEY}
        )


class CoverageYearFactory(factory.django.DjangoModelFactory):
    """A coverage year shaped like the handbook's 2023 one (SPEC YEAR-1), shifted to `year`:
    the centralised window opens on 1 June, closes at 6月30日24时, coverage runs 1 July to 30 June.
    The migration already holds 2023, so the sequence starts after it."""

    class Meta:
        model = "enrollment.CoverageYear"

    year = factory.Sequence(lambda n: 2024 + n)
    centralised_opens_at = factory.LazyAttribute(lambda o: dt.datetime(o.year, 6, 1, tzinfo=SHANGHAI))
    centralised_closes_at = factory.LazyAttribute(lambda o: dt.datetime(o.year, 7, 1, tzinfo=SHANGHAI))
    instant_opens_at = factory.LazyAttribute(lambda o: dt.datetime(o.year, 7, 1, tzinfo=SHANGHAI))
    coverage_start = factory.LazyAttribute(lambda o: dt.date(o.year, 7, 1))
    coverage_end = factory.LazyAttribute(lambda o: dt.date(o.year + 1, 6, 30))
    half_year_price_from = factory.LazyAttribute(lambda o: dt.date(o.year + 1, 1, 1))
    bank_account_name = "上海市职工保障互助会"
    bank_account_number = "31602300008022150"
    bank_name = "上海银行人民广场支行"


# --- enrollment: codes, units, 经办人填报, batches (SPEC CODE-5, HND-1, BAT-3) ---------------------------

UNIT_NAME = "上海长风示范科技有限公司"
USCC = "91310107MA1G0TQ2X" + uscc_check_character("91310107MA1G0TQ2X")
IMPORT_CODE = "0072J3"  # the code of the roster import tests' batches (make_batch(code=IMPORT_CODE))
CODE_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_numbers = itertools.count(1)


def _code_text(number: int) -> str:
    text = ""
    for _ in range(6):
        number, digit = divmod(number, len(CODE_CHARACTERS))
        text = CODE_CHARACTERS[digit] + text
    return text


class EnrollmentCodeFactory(factory.django.DjangoModelFactory):
    """An approved 参保编码 of `account` (none: an imported code not yet bound)."""

    class Meta:
        model = EnrollmentCode

    code = factory.Sequence(lambda n: _code_text(n * 7919 + 100_000))
    unit_name = UNIT_NAME
    account = None
    source = "approved"


class UnitFactory(factory.django.DjangoModelFactory):
    """The lead unit of a code."""

    class Meta:
        model = Unit

    code = factory.SubFactory(EnrollmentCodeFactory)
    name = factory.LazyAttribute(lambda unit: unit.code.unit_name)
    uscc = factory.LazyAttribute(lambda unit: unit.code.uscc)
    address = "上海市普陀区长风路1号"
    headcount = 100
    is_lead = True


class HandlerInfoFactory(factory.django.DjangoModelFactory):
    """A saved 经办人填报 of a code (SPEC HND-1)."""

    class Meta:
        model = HandlerInfo

    code = factory.SubFactory(EnrollmentCodeFactory)
    handler_name = "王经办"
    handler_mobile = "13912345678"
    handler_email = "handler@example.com"
    economic_type = "私营"
    address = "上海市普陀区长风路1号"
    industry = "C"
    headcount = 100


class BatchFactory(factory.django.DjangoModelFactory):
    """A batch put straight into `state` (the services that move a batch are tested on their own).
    Numbers start at 900001 so that they never meet batch_open's from BatchSequence."""

    class Meta:
        model = Batch

    coverage_year = factory.SubFactory(CoverageYearFactory)
    code = factory.SubFactory(EnrollmentCodeFactory, account=factory.SubFactory(UserFactory))
    kind = BatchKind.CENTRALISED
    state = BatchState.DRAFT
    number = factory.LazyAttributeSequence(
        lambda batch, n: f"{batch.coverage_year.year}{'J' if batch.kind == BatchKind.CENTRALISED else 'S'}{900_001 + n:06d}"
    )
    unit_name = factory.LazyAttribute(lambda batch: batch.code.unit_name)
    account = factory.LazyAttribute(lambda batch: batch.code.account)


def make_batch(account=None, *, year, code=None, kind=BatchKind.CENTRALISED, state=BatchState.DRAFT, number=None,
               unit_name=UNIT_NAME, uscc=USCC, handler_name=None, handler_mobile="13912345678") -> Batch:
    """The one batch helper of the suite: a batch of `account` in `year` (a CoverageYear), put straight
    into `state`. Its code, by what `code` is:
    - an EnrollmentCode: used as it is (the account defaults to the code's);
    - a code's text (the import tests use IMPORT_CODE): that code, or a new one bound to `account` with
      `uscc`, its lead unit and 经办人填报 (丁一 unless `handler_name`), as code approval and 经办人填报
      leave it;
    - None: the account's first code, or a new one with its 经办人填报 (王经办 unless `handler_name`).
    The account defaults to a new unit administrator."""
    if isinstance(code, EnrollmentCode):
        enrollment_code = code
        account = account or code.account
    elif code is not None:
        account = account or UserFactory(role=Role.UNIT_ADMIN)
        enrollment_code = EnrollmentCode.objects.filter(code=code).first() or EnrollmentCodeFactory(
            code=code, unit_name=unit_name, uscc=uscc, account=account, bound_at=timezone.now()
        )
        if not enrollment_code.units.exists():
            UnitFactory(code=enrollment_code, name=unit_name, uscc=uscc, address="", headcount=100)
        if not HandlerInfo.objects.filter(code=enrollment_code).exists():
            HandlerInfoFactory(
                code=enrollment_code, handler_name=handler_name or "丁一", handler_mobile=handler_mobile,
                handler_email="hr@example.com", industry="I", saved_by=account,
            )
    else:
        account = account or UserFactory(role=Role.UNIT_ADMIN)
        enrollment_code = EnrollmentCode.objects.filter(account=account).first()
        if enrollment_code is None:
            enrollment_code = EnrollmentCodeFactory(unit_name=unit_name, account=account)
            HandlerInfoFactory(code=enrollment_code, handler_name=handler_name or "王经办", handler_mobile=handler_mobile)
    fields = {"number": number} if number else {}
    return BatchFactory(
        coverage_year=year, code=enrollment_code, unit_name=enrollment_code.unit_name, account=account, kind=kind,
        state=state, **fields,
    )


# --- rosters: people (SPEC ROS-3, ROS-5) -----------------------------------------------------------------


def resident_id(birth: dt.date, sequence: int = 101, area: str = "310101") -> str:
    """A valid GB 11643 resident ID (SPEC ROS-3); an odd sequence is a man."""
    first17 = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_check_character(first17)


class RosterEntryFactory(factory.django.DjangoModelFactory):
    """A person in a batch's roster; a resident ID is derived from birth date and sex unless given."""

    class Meta:
        model = RosterEntry

    batch = factory.SubFactory(BatchFactory)
    name = "张三"
    imported_name = factory.LazyAttribute(lambda entry: entry.name)
    birth_date = dt.date(1985, 3, 14)
    sex = Sex.MALE
    id_type = IdType.RESIDENT
    id_number = factory.LazyAttribute(
        lambda entry: resident_id(entry.birth_date, next(_numbers) % 400 * 2 + (101 if entry.sex == Sex.MALE else 100))
        if entry.id_type == IdType.RESIDENT else f"E{next(_numbers):08d}"
    )


def make_entry(batch, *, name="张三", birth_date=dt.date(1985, 3, 14), sex=Sex.MALE, id_type=IdType.RESIDENT, id_number="", **fields) -> RosterEntry:
    """A roster entry of `batch`; a resident ID is derived from birth date and sex unless given."""
    if id_number:
        fields["id_number"] = id_number
    return RosterEntryFactory(batch=batch, name=name, birth_date=birth_date, sex=sex, id_type=id_type, **fields)


def roster_audit_events(batch) -> list[dict]:
    """The 参保清册 changes written to `batch`'s audit trail, oldest first."""
    content_type = ContentType.objects.get_for_model(Batch)
    return [
        entry.changes_dict["参保清册"]
        for entry in LogEntry.objects.filter(content_type=content_type, object_pk=str(batch.pk)).order_by("pk")
        if "参保清册" in entry.changes_dict
    ]


# --- payments: a voucher row (SPEC PAY-2) ------------------------------------------------------------------


class VoucherFactory(factory.django.DjangoModelFactory):
    """A 缴费凭证 row as the lists show it, without its batches or proofs (voucher_submit has its own tests)."""

    class Meta:
        model = Voucher

    account = factory.SubFactory(UserFactory)
    payer = UNIT_NAME
    method = "online"
    amount = Decimal("720.00")
    premiums = Decimal("720.00")
    refund_amount = factory.LazyAttribute(lambda voucher: Decimal(voucher.amount) - Decimal(voucher.premiums))
    submitted_at = dt.datetime(2023, 6, 20, 9, 0, tzinfo=SHANGHAI)
