import datetime as dt
import secrets

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from mutualaid.audit import acting_as, audit_entries_purge, years_before
from mutualaid.errors import DomainError
from mutualaid.models import Attachment
from mutualaid.pii import mask_mobile
from mutualaid.sms import SmsError, sms_code_verify

from .models import (
    Batch,
    BatchItemTotal,
    BatchLog,
    BatchSequence,
    BatchTotals,
    ChangeRequest,
    CodeApplication,
    CoverageYear,
    EnrollmentCode,
    HandlerInfo,
    Unit,
    UnitNameChange,
    unit_name_key,
)
from .selectors import coverage_year_current, handler_info_complete
from .states import ALLOWED_TRANSITIONS, BatchAction, BatchKind, BatchState


class EnrollmentError(DomainError):
    """A business rule of enrolment refused the action; `message` is shown to the user as is.
    `field` names the form field the message belongs beside ("sms_code", "attachments"), if any."""


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):  # 31 Jan + 1 month → 28/29 Feb
        try:
            return dt.date(year, month, candidate)
        except ValueError:
            continue
    raise ValueError(day)


def _last_day_of_months(start: dt.date, months: int) -> dt.date:
    """The last day of a period of `months` months starting on `start`: the day before the same date
    `months` later, or the month's last day when that date does not exist (29 Feb 2024 + 12 → 28 Feb 2025)."""
    same_date_later = add_months(start, months)
    if same_date_later.day != start.day:  # clamped to the month's end: the period ends on that day
        return same_date_later
    return same_date_later - dt.timedelta(days=1)


def _months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


@transaction.atomic
def coverage_year_copy_shifted(*, source: CoverageYear, year: int, centralised_opens_on: dt.date) -> CoverageYear:
    """Create or update `year` as a copy of `source` whose centralised window opens on the given day.

    Durations keep their shape: the window lasts as long, the instant channel and coverage start
    where the window closes, coverage and half-year pricing last as many months. Every rule and
    number is copied. Used for the demo years; idempotent for the same arguments.
    """
    tz = timezone.get_default_timezone()  # Asia/Shanghai (SPEC YEAR-2)
    opens_at = timezone.make_aware(dt.datetime.combine(centralised_opens_on, dt.time.min), tz)
    closes_at = opens_at + (source.centralised_closes_at - source.centralised_opens_at)
    instant_at = closes_at + (source.instant_opens_at - source.centralised_closes_at)
    coverage_start = timezone.localtime(closes_at, tz).date() + (
        source.coverage_start - timezone.localtime(source.centralised_closes_at, tz).date()
    )
    coverage_months = _months_between(source.coverage_start, source.coverage_end + dt.timedelta(days=1))
    half_year_months = _months_between(source.coverage_start, source.half_year_price_from)

    skip = {"id", "year", "updated_at"}
    values = {
        field.name: getattr(source, field.name)
        for field in CoverageYear._meta.concrete_fields
        if field.name not in skip
    }
    values.update(
        centralised_opens_at=opens_at,
        centralised_closes_at=closes_at,
        instant_opens_at=instant_at,
        coverage_start=coverage_start,
        coverage_end=_last_day_of_months(coverage_start, coverage_months),
        half_year_price_from=add_months(coverage_start, half_year_months),
    )
    coverage_year, _ = CoverageYear.objects.update_or_create(year=year, defaults=values)
    return coverage_year


# --- Enrollment codes and their applications (SPEC CODE) --------------------------------------------

CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # SPEC CODE-8: digits and capitals without I and O
CODE_LENGTH = 6
SMS_PURPOSE_CODE_APPLICATION = "code_application"
SMS_PURPOSE_HANDLER = "handler"


class DuplicateUnitError(EnrollmentError):
    """SPEC CODE-3: the unit name already has a code or an application in progress."""

    def __init__(self, *, contact_name: str, contact_mobile: str):
        self.contact_name = contact_name
        self.contact_mobile_masked = mask_mobile(contact_mobile) if contact_mobile else "-"
        super().__init__(
            f"提交失败!该企业已申请过参保编码。【联系人:{contact_name or '-'},手机号:{self.contact_mobile_masked}】"
        )


def code_generate() -> str:
    """A random code not in use yet (SPEC CODE-8); the unique index is the last word."""
    for _ in range(100):
        candidate = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not EnrollmentCode.objects.filter(code=candidate).exists():
            return candidate
    raise EnrollmentError("参保编码生成失败，请稍后重试。")


def _duplicate_contact(name_key: str, *, excluding_application: int | None = None) -> tuple[str, str] | None:
    """(contact name, mobile) of the code or application in progress that already has this unit
    name (SPEC CODE-3), or None. Rejected applications do not count."""
    code = EnrollmentCode.objects.filter(name_key=name_key).select_related("handler_info", "account").first()
    if code is not None:
        handler = getattr(code, "handler_info", None)
        if handler is not None:
            return handler.handler_name, handler.handler_mobile
        application = code.applications.order_by("-submitted_at").first()
        if application is not None:
            return application.contact_name, application.contact_mobile
        account = code.account
        return (account.first_name, account.mobile) if account else ("", "")
    pending = CodeApplication.objects.filter(name_key=name_key, status=CodeApplication.Status.PENDING)
    if excluding_application:
        pending = pending.exclude(pk=excluding_application)
    application = pending.first()
    if application is not None:
        return application.contact_name, application.contact_mobile
    return None


APPLICATION_FIELDS = (
    "unit_name", "committee", "uscc", "nature", "contact_name", "address", "contact_mobile", "postcode",
    "contact_email", "headcount", "leader_name", "leader_mobile", "unit_phone",
)


def code_application_submit(
    *, account, fields: dict, sms_code: str, draft_token: str, application: CodeApplication | None = None
) -> CodeApplication:
    """【提交申请】 (SPEC CODE-2…4): a new application, or the corrected resubmission of a rejected one.

    `fields` holds APPLICATION_FIELDS, already checked by the form. Checks the unit name (CODE-3),
    the SMS code sent to the contact mobile, and that at least one attachment was uploaded. Raises
    DuplicateUnitError or EnrollmentError; nothing is saved then.
    """
    from mutualaid.attachments import AttachmentError, attachments_claim, attachments_of

    if application is not None:
        application = CodeApplication.objects.get(pk=application.pk)  # as it stands now, not as shown
        if application.account_id != account.pk or application.status != CodeApplication.Status.REJECTED:
            raise EnrollmentError("只有审核不通过的申请可以修改后重新提交。")
    duplicate = _duplicate_contact(
        unit_name_key(fields["unit_name"]), excluding_application=application.pk if application else None
    )
    if duplicate is not None:
        raise DuplicateUnitError(contact_name=duplicate[0], contact_mobile=duplicate[1])
    has_drafts = Attachment.objects.filter(draft_token=draft_token, uploaded_by=account).exists() if draft_token else False
    has_kept = application is not None and attachments_of(application).exists()
    if not (has_drafts or has_kept):
        raise EnrollmentError(
            "请上传附件：《社会保险费缴费申报表》、《单位参加城镇社会保险基本情况》、法人登记证或营业执照（复印件加盖公章）之一。",
            field="attachments",
        )
    try:
        sms_code_verify(mobile=fields["contact_mobile"], purpose=SMS_PURPOSE_CODE_APPLICATION, code=sms_code)
    except SmsError as error:
        raise EnrollmentError(error.message, field="sms_code") from error
    try:
        with transaction.atomic():
            if application is None:
                application = CodeApplication(account=account)
            else:
                application = CodeApplication.objects.select_for_update().get(pk=application.pk)
                # Checked again under the lock: a second resubmission must not overwrite the first,
                # now in review.
                if application.status != CodeApplication.Status.REJECTED:
                    raise EnrollmentError("该申请已重新提交，正在审核中，无需重复提交。")
            for name in APPLICATION_FIELDS:
                setattr(application, name, fields[name])
            application.status = CodeApplication.Status.PENDING
            application.reject_reason = ""
            application.submitted_at = timezone.now()
            with acting_as(account):
                application.save()
            if draft_token:
                attachments_claim(draft_token=draft_token, uploaded_by=account, owner=application)
    except AttachmentError as error:  # more than ATTACHMENTS_PER_OBJECT with the kept ones
        raise EnrollmentError(error.message, field="attachments") from error
    except IntegrityError as error:  # another application of this name arrived at the same moment
        duplicate = _duplicate_contact(unit_name_key(fields["unit_name"]), excluding_application=application.pk)
        contact = duplicate or ("", "")
        raise DuplicateUnitError(contact_name=contact[0], contact_mobile=contact[1]) from error
    return application


@transaction.atomic
def code_application_approve(*, application: CodeApplication, acting_user) -> EnrollmentCode:
    """审核通过 (SPEC CODE-4): a new code bound to the applying account (CODE-5), with the unit.
    Raises EnrollmentError if the application is no longer in progress (a second click)."""
    application = CodeApplication.objects.select_for_update().get(pk=application.pk)
    if application.status != CodeApplication.Status.PENDING:
        raise EnrollmentError(f"该申请已{application.get_status_display()}，无需重复审核。")
    if EnrollmentCode.objects.filter(name_key=application.name_key).exists():
        raise EnrollmentError("该单位名称已有参保编码，请审核不通过并说明原因。")
    now = timezone.now()
    with acting_as(acting_user):
        code = EnrollmentCode.objects.create(
            code=code_generate(),
            unit_name=application.unit_name,
            uscc=application.uscc,
            account=application.account,
            bound_at=now,
            source=EnrollmentCode.Source.APPROVED,
        )
        Unit.objects.create(
            code=code,
            name=application.unit_name,
            uscc=application.uscc,
            nature=application.nature,
            committee=application.committee,
            address=application.address,
            postcode=application.postcode,
            phone=application.unit_phone,
            headcount=application.headcount,
            is_lead=True,
        )
        application.status = CodeApplication.Status.APPROVED
        application.code = code
        application.reviewed_at = now
        application.reviewed_by = acting_user
        application.save()
    _email_on_commit(
        to=application.contact_email,
        subject="【上海市职工保障互助会】参保编码申请审核通过",
        template="enrollment/email/code_approved.txt",
        context={"application": application, "code": code},
    )
    return code


@transaction.atomic
def code_application_reject(*, application: CodeApplication, acting_user, reason: str) -> CodeApplication:
    """审核不通过 with the reason the unit sees under 【编辑】 (SPEC CODE-4)."""
    reason = (reason or "").strip()
    if not reason:
        raise EnrollmentError("请填写审核不通过的原因。")
    application = CodeApplication.objects.select_for_update().get(pk=application.pk)
    if application.status != CodeApplication.Status.PENDING:
        raise EnrollmentError(f"该申请已{application.get_status_display()}，无需重复审核。")
    application.status = CodeApplication.Status.REJECTED
    application.reject_reason = reason
    application.reviewed_at = timezone.now()
    application.reviewed_by = acting_user
    with acting_as(acting_user):
        application.save()
    _email_on_commit(
        to=application.contact_email,
        subject="【上海市职工保障互助会】参保编码申请审核不通过",
        template="enrollment/email/code_rejected.txt",
        context={"application": application},
    )
    return application


@transaction.atomic
def code_bind(*, code: str, unit_name: str, account) -> EnrollmentCode:
    """Use a code in this account (SPEC CODE-5): a code already bound to it, or an imported code not
    yet bound whose registered unit name matches. Raises EnrollmentError with the handbook's message."""
    found = EnrollmentCode.objects.select_for_update().filter(code=(code or "").strip().upper()).first()
    if found is None:
        raise EnrollmentError("参保编码不存在，请核对。忘记参保编码可查看上一年度保障单或拨打12351热线查询。", field="code")
    if found.account_id is not None and found.account_id != account.pk:
        raise EnrollmentError("该参保编码已在其他平台账号中使用", field="code")
    if found.name_key != unit_name_key(unit_name):
        raise EnrollmentError(
            "参保单位名称与参保编码登记的单位名称不一致。若单位名称有误，请至职保中心五楼营业大厅“信息修改”窗口办理更新！",
            field="unit_name",
        )
    if found.account_id is None:
        found.account = account
        found.bound_at = timezone.now()
        with acting_as(account):
            found.save(update_fields=["account", "bound_at"])
    return found


@transaction.atomic
def code_release(*, code: EnrollmentCode, acting_user) -> None:
    """Undo the binding of an imported code (SPEC CODE-5: deleting the batch that bound it, the
    handbook's remedy for 用错参保编码). Codes approved for an account stay with it.

    The 经办人填报 this account saved for the code goes too: the next account to bind the code
    must not see this handler's name, mobile and e-mail (personal data, SPEC X-1, X-4)."""
    code = EnrollmentCode.objects.select_for_update().get(pk=code.pk)
    if code.source != EnrollmentCode.Source.IMPORTED:
        return
    code.account = None
    code.bound_at = None
    with acting_as(acting_user):
        code.save(update_fields=["account", "bound_at"])
        HandlerInfo.objects.filter(code=code, saved_by=acting_user).delete()


# --- Handler information and change requests (SPEC HND) --------------------------------------------

HANDLER_FIELDS = (
    "handler_name", "handler_mobile", "handler_email", "economic_type", "union_level1", "union_level2",
    "address", "industry", "headcount",
)


def _check_union_levels(level1, level2) -> None:
    """SPEC HND-1: 未建会 is no organisation in both fields; otherwise a level-1 organisation and a
    level-2 one under it (None only when the level-1 one has no active level-2 organisations)."""
    if level1 is None:
        if level2 is not None:
            raise EnrollmentError("一级工会组织选择“未建会”时，二级工会组织也须为“未建会”。", field="union_level2")
        return
    if level1.level != level1.Level.FIRST:
        raise EnrollmentError("请选择一级工会组织。", field="union_level1")
    if level2 is None:
        if level1.children.filter(is_active=True).exists():
            raise EnrollmentError("请选择二级工会组织。", field="union_level2")
        return
    if level2.parent_id != level1.pk:
        raise EnrollmentError("所选二级工会组织不属于所选一级工会组织，请重新选择。", field="union_level2")


# SPEC SEC-7: after the first save these change only through 参保信息变更申请 (HND-2) or the back office.
HANDLER_CONTACT_FIELDS = ("handler_name", "handler_mobile", "handler_email", "address")
# SPEC SEC-7: what the unit itself may still change after the first save (audited like any save).
HANDLER_EDITABLE_FIELDS = tuple(name for name in HANDLER_FIELDS if name not in HANDLER_CONTACT_FIELDS)


def handler_info_save(*, code: EnrollmentCode, account, fields: dict, sms_code: str = "") -> HandlerInfo:
    """【保存】 of 经办人填报 (SPEC HND-1, SEC-7). The first save takes every field and needs the SMS
    code sent to 经办人电话; a later one changes only HANDLER_EDITABLE_FIELDS (the contact fields in
    `fields` are ignored) and needs no code, the mobile being the saved one. Checks that the level-2
    union organisation belongs to the level-1 one (or both are 未建会, None). Raises EnrollmentError
    (its `field` says where the message belongs); nothing is saved then."""
    if code.account_id != account.pk:
        raise EnrollmentError("该参保编码不属于本账号。")
    _check_union_levels(fields.get("union_level1"), fields.get("union_level2"))
    if not HandlerInfo.objects.filter(code=code).exists():
        try:
            sms_code_verify(mobile=fields["handler_mobile"], purpose=SMS_PURPOSE_HANDLER, code=sms_code)
        except SmsError as error:
            raise EnrollmentError(error.message, field="sms_code") from error
    with transaction.atomic(), acting_as(account):
        info = HandlerInfo.objects.select_for_update().filter(code=code).first()
        # Decided under the lock: a save that lost a race with the first one changes no contact.
        names = HANDLER_EDITABLE_FIELDS if info is not None else HANDLER_FIELDS
        info = info or HandlerInfo(code=code)
        for name in names:
            setattr(info, name, fields.get(name))
        info.saved_by = account
        info.save()
    return info


def change_request_current_values(*, code: EnrollmentCode, account) -> dict:
    """原信息 of each change item, as the unit's records stand now (SPEC HND-2)."""
    handler = getattr(code, "handler_info", None)
    lead = code.units.filter(is_lead=True).first()
    return {
        ChangeRequest.Item.ADDRESS: (handler.address if handler else "") or (lead.address if lead else ""),
        ChangeRequest.Item.HANDLER_NAME: handler.handler_name if handler else "",
        ChangeRequest.Item.HANDLER_PHONE: handler.handler_phone if handler else "",
        ChangeRequest.Item.HANDLER_MOBILE: handler.handler_mobile if handler else "",
        ChangeRequest.Item.UNIT_EMAIL: (handler.handler_email if handler else "") or account.email,
        # Where change_request_approve re-sends the notices: the unit e-mail above, not the account's.
        ChangeRequest.Item.RESEND_EMAIL: (handler.handler_email if handler else "") or account.email,
    }


# Items whose new value lives in HandlerInfo: without a saved 经办人填报 there is nothing to change,
# and change_request_approve could not apply them (the unit fills 经办人填报 itself instead).
HANDLER_CHANGE_ITEMS = (ChangeRequest.Item.HANDLER_NAME, ChangeRequest.Item.HANDLER_PHONE, ChangeRequest.Item.HANDLER_MOBILE)


@transaction.atomic
def change_request_submit(
    *, account, code: EnrollmentCode, items: list[str], new_values: dict, contact_name: str, contact_mobile: str,
    batch_number: str, draft_token: str,
) -> ChangeRequest:
    """Submit the online change form with its stamped scan (SPEC HND-2 [departure]).

    `items` are ChangeRequest.Item values; every item but 重发邮件 needs its value in `new_values`
    (already checked by the form: mobile, e-mail). The 原信息 are taken now. Raises EnrollmentError
    (`field` "items", "attachments" or the item) and saves nothing then."""
    from mutualaid.attachments import AttachmentError, attachments_claim, attachments_of_draft

    if code.account_id != account.pk:
        raise EnrollmentError("该参保编码不属于本账号。")
    ticked = set(items)
    items = [item for item in ChangeRequest.Item.values if item in ticked]  # known items, the form's order, once each
    if not items:
        raise EnrollmentError("请勾选需变更的事项。", field="items")
    for item in items:
        if item != ChangeRequest.Item.RESEND_EMAIL and not str(new_values.get(item) or "").strip():
            raise EnrollmentError(f"请填写“{ChangeRequest.Item(item).label}”的新修改信息。", field=item)
    if any(item in HANDLER_CHANGE_ITEMS for item in items) and not HandlerInfo.objects.filter(code=code).exists():
        raise EnrollmentError("尚未完成【经办人填报】：经办人姓名、电话请直接在【经办人填报】中填写并保存。", field="items")
    if not attachments_of_draft(draft_token=draft_token, uploaded_by=account).exists():
        raise EnrollmentError("请上传加盖参保单位公章的申请单扫描件或照片。", field="attachments")
    current = change_request_current_values(code=code, account=account)
    request = ChangeRequest(
        account=account,
        code=code,
        batch_number=batch_number,
        items=list(items),
        # SPEC SEC-4: the handler's mobile goes in as a cipher (ChangeRequest.ENCRYPTED_ITEMS).
        original_values=ChangeRequest.stored_values({item: current.get(item, "") for item in items}),
        new_values=ChangeRequest.stored_values(
            {item: str(new_values[item]).strip() for item in items if item != ChangeRequest.Item.RESEND_EMAIL}
        ),
        contact_name=contact_name,
        contact_mobile=contact_mobile,
    )
    with acting_as(account):
        request.save()
    try:
        claimed = attachments_claim(draft_token=draft_token, uploaded_by=account, owner=request)
    except AttachmentError as error:  # more files than ATTACHMENTS_PER_OBJECT
        raise EnrollmentError(error.message, field="attachments") from error
    if not claimed:  # a second submission of the same form took them meanwhile (double click)
        raise EnrollmentError("请上传加盖参保单位公章的申请单扫描件或照片。", field="attachments")
    return request


@transaction.atomic
def change_request_approve(*, change_request: ChangeRequest, acting_user) -> ChangeRequest:
    """Apply the requested changes (SPEC HND-2). Raises EnrollmentError on a second click."""
    change = ChangeRequest.objects.select_for_update().select_related("code", "account").get(pk=change_request.pk)
    if change.status != ChangeRequest.Status.PENDING:
        raise EnrollmentError(f"该申请已{change.get_status_display()}，无需重复审核。")
    code = change.code
    handler = getattr(code, "handler_info", None)
    Item = ChangeRequest.Item
    handler_only = {Item.HANDLER_NAME, Item.HANDLER_PHONE, Item.HANDLER_MOBILE}
    if handler is None and handler_only & set(change.items):
        # Approving would say 审核通过 and change nothing: there is no handler record to change yet.
        raise EnrollmentError("该参保编码尚未完成【经办人填报】，无法变更经办人信息，请审核不通过并说明原因。")
    with acting_as(acting_user):
        if handler is not None:
            handler_updates = {
                Item.ADDRESS: "address",
                Item.HANDLER_NAME: "handler_name",
                Item.HANDLER_PHONE: "handler_phone",
                Item.HANDLER_MOBILE: "handler_mobile",
                Item.UNIT_EMAIL: "handler_email",
            }
            changed = False
            for item, field in handler_updates.items():
                value = change.new_value(item) if item in change.items else ""
                if value:
                    setattr(handler, field, value)
                    changed = True
            if changed:  # 重发邮件 alone changes nothing: no empty audit entry
                handler.save()
        if Item.ADDRESS in change.items and change.new_value(Item.ADDRESS):
            # One save per unit (not .update()) so the audit trail records the change (SPEC X-2).
            for unit in code.units.filter(is_lead=True):
                unit.address = change.new_value(Item.ADDRESS)
                unit.save()
        if Item.UNIT_EMAIL in change.items and change.new_value(Item.UNIT_EMAIL) and code.account_id:
            account = code.account
            account.email = change.new_value(Item.UNIT_EMAIL)
            # The association checked the stamped form: the address counts as confirmed.
            account.email_confirmed_at = timezone.now()
            account.save(update_fields=["email", "email_confirmed_at"])
        change.status = ChangeRequest.Status.APPROVED
        change.reviewed_at = timezone.now()
        change.reviewed_by = acting_user
        change.save()
    # The unit e-mail as it stands now: `change.account` was loaded before the change, `code.account`
    # is the instance just updated (a 变更单位邮箱 without handler information went to the old address).
    recipient = (
        (handler.handler_email if handler is not None else "")
        or (code.account.email if code.account_id else "")
        or change.account.email
    )
    if Item.RESEND_EMAIL in change.items:
        # The association's notification of this code (later: the chosen batch's notices too).
        _email_on_commit(
            to=recipient,
            subject="【上海市职工保障互助会】参保编码通知（重发）",
            template="enrollment/email/code_notice.txt",
            context={"code": code},
        )
    _email_on_commit(
        to=recipient,
        subject="【上海市职工保障互助会】参保信息变更申请审核通过",
        template="enrollment/email/change_approved.txt",
        context={"change": change},
    )
    return change


@transaction.atomic
def change_request_reject(*, change_request: ChangeRequest, acting_user, reason: str) -> ChangeRequest:
    reason = (reason or "").strip()
    if not reason:
        raise EnrollmentError("请填写审核不通过的原因。")
    change = ChangeRequest.objects.select_for_update().get(pk=change_request.pk)
    if change.status != ChangeRequest.Status.PENDING:
        raise EnrollmentError(f"该申请已{change.get_status_display()}，无需重复审核。")
    change.status = ChangeRequest.Status.REJECTED
    change.reject_reason = reason
    change.reviewed_at = timezone.now()
    change.reviewed_by = acting_user
    with acting_as(acting_user):
        change.save()
    _email_on_commit(
        to=change.account.email,
        subject="【上海市职工保障互助会】参保信息变更申请审核不通过",
        template="enrollment/email/change_rejected.txt",
        context={"change": change},
    )
    return change


@transaction.atomic
def unit_name_change(*, code: EnrollmentCode, new_name: str, note: str, acting_user) -> UnitNameChange:
    """单位名称变更 at the counter (SPEC HND-3): the code's registered name and its lead unit."""
    new_name = (new_name or "").strip()
    if not new_name:
        raise EnrollmentError("请填写新单位名称。")
    code = EnrollmentCode.objects.select_for_update().get(pk=code.pk)
    if unit_name_key(new_name) == code.name_key:
        raise EnrollmentError("新单位名称与原名称相同。")
    if EnrollmentCode.objects.filter(name_key=unit_name_key(new_name)).exclude(pk=code.pk).exists():
        raise EnrollmentError("该单位名称已有其他参保编码，请核对。")
    with acting_as(acting_user):
        change = UnitNameChange.objects.create(
            code=code, old_name=code.unit_name, new_name=new_name, note=note, changed_by=acting_user
        )
        code.unit_name = new_name
        code.save()
        for unit in code.units.filter(is_lead=True):
            unit.name = new_name
            unit.save()
        if code.account_id:
            account = code.account
            account.unit_name = new_name
            account.save(update_fields=["unit_name"])
    return change


def _email_on_commit(*, to: str, subject: str, template: str, context: dict) -> None:
    if not to:
        return
    body = render_to_string(template, context)
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to]))


# --- Batches (SPEC BAT) -------------------------------------------------------------------------------

BATCH_NUMBER_LETTERS = {BatchKind.CENTRALISED: "J", BatchKind.INSTANT: "S"}


def batch_number_next(*, year: int, kind: str) -> str:
    """SPEC BAT-9: `{year}{J|S}{6-digit sequence}`, e.g. 2023J000123. Call inside a transaction:
    the sequence row stays locked until it commits, so two batches never get one number."""
    BatchSequence.objects.get_or_create(year=year, kind=kind)
    sequence = BatchSequence.objects.select_for_update().get(year=year, kind=kind)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return f"{year}{BATCH_NUMBER_LETTERS[kind]}{sequence.last:06d}"


def batch_locked(batch: Batch, *, action: str = "", error: type[Exception] = EnrollmentError) -> Batch:
    """The batch row locked and read again, with its year and code (call inside a transaction; the
    lock holds until it commits), so a double click or two browsers see one state at a time.

    Raises `error` (an app's domain error, EnrollmentError by default) when the batch was deleted
    meanwhile (【批次删除】 in another browser), and when `action` is given and its state does not
    allow it (SPEC BAT-3: every service checks the state itself, not just the buttons)."""
    locked = (
        Batch.objects.select_for_update(of=("self",))
        .select_related("coverage_year", "code")
        .filter(pk=batch.pk)
        .first()
    )
    if locked is None:
        raise error(f"批次 {batch.number} 已删除。")
    if action and not locked.allows(action):
        raise error(_action_refused(locked, action))
    return locked


def batch_transition(*, batch: Batch, to: str, acting_user, action: str, reason: str = "") -> Batch:
    """Move `batch` to state `to` (SPEC BAT-3) and write its 操作日志 row (SPEC BAT-7).

    `batch` is the row batch_locked returned in the caller's transaction, so its state is the one
    in the database until that transaction ends. Raises EnrollmentError when the table does not
    allow the move. Returns `batch`, updated."""
    if to not in ALLOWED_TRANSITIONS[batch.state]:
        raise EnrollmentError(f"批次当前状态为“{batch.get_state_display()}”，不能{action or '执行此操作'}。")
    from_state = batch.state
    with transaction.atomic():
        batch.state = to
        with acting_as(acting_user):
            batch.save(update_fields=["state", "updated_at"])
            BatchLog.objects.create(
                batch=batch, actor=acting_user, action=action, from_state=from_state, to_state=to, reason=reason
            )
    return batch


def batch_email_handler(*, batch: Batch, subject: str, template: str, context: dict) -> None:
    """E-mail the batch's handler (经办人邮箱 of 经办人填报) once the transaction commits: reviews,
    payment reminders and cancellations tell the unit this way."""
    handler = HandlerInfo.objects.filter(code_id=batch.code_id).only("handler_email", "handler_name").first()
    to = handler.handler_email if handler else ""
    if not to:
        return
    body = render_to_string(template, {"batch": batch, "handler": handler, **context})
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to]))


def batch_check_action(*, batch: Batch, action: str) -> None:
    """Every service that acts on a batch checks the state itself, not just the buttons (SPEC BAT-3):
    raises EnrollmentError naming the state when `action` is not allowed in it."""
    if not batch.allows(action):
        raise EnrollmentError(_action_refused(batch, action))


def _action_refused(batch: Batch, action: str) -> str:
    return f"批次当前状态为“{batch.get_state_display()}”，不能进行【{BatchAction(action).label}】操作。"


WINDOW_NOT_OPEN, WINDOW_CLOSED = "not_open", "closed"


def centralised_window_refusal(*, coverage_year: CoverageYear, kind: str, at: dt.datetime) -> str:
    """SPEC BAT-10, the one check of the centralised window: "" for an instant batch or inside the
    window, WINDOW_NOT_OPEN before it opens, WINDOW_CLOSED once it closed. Each caller says what
    that means for its action (open a batch, submit a roster, withdraw)."""
    if kind != BatchKind.CENTRALISED or coverage_year.centralised_window_open(at):
        return ""
    return WINDOW_NOT_OPEN if at < coverage_year.centralised_opens_at else WINDOW_CLOSED


def batch_window_check(*, coverage_year: CoverageYear, kind: str, at=None) -> None:
    """SPEC BAT-2, BAT-10: 集中参保 only inside the centralised window, 即时参保 from the instant start
    to the end of the coverage year. Raises EnrollmentError saying which window and when."""
    at = at or timezone.now()
    if kind not in BatchKind.values:
        raise EnrollmentError("请选择参保类型：集中参保或即时参保。")
    refusal = centralised_window_refusal(coverage_year=coverage_year, kind=kind, at=at)
    if refusal:
        if refusal == WINDOW_NOT_OPEN:
            opens = timezone.localtime(coverage_year.centralised_opens_at)
            raise EnrollmentError(f"{coverage_year.year}年度集中参保通道将于{opens:%Y年%-m月%-d日}开启，请届时办理。")
        raise EnrollmentError(
            f"{coverage_year.year}年度集中参保通道已关闭（截止{coverage_year.centralised_last_day:%Y年%-m月%-d日}24时），"
            "请通过【即时参保办理】参保。"
        )
    if kind == BatchKind.INSTANT and not coverage_year.instant_window_open(at):
        if at < coverage_year.instant_opens_at:
            opens = timezone.localtime(coverage_year.instant_opens_at)
            raise EnrollmentError(f"即时参保通道将于{opens:%Y年%-m月%-d日}开启，请届时办理。")
        # After the coverage year's last day: nothing is left to cover until the next year opens.
        raise EnrollmentError(
            f"{coverage_year.year}年度保障期已于{coverage_year.coverage_end:%Y年%-m月%-d日}结束，"
            "请在下一保障年度的参保通道开启后办理。"
        )


class HandlerInfoMissing(EnrollmentError):
    """The code is this account's, but 经办人填报 is not saved yet (SPEC HND-1)."""


# SPEC HND-1, the handbook's words: "点击【保存】后，才可以进行后续操作" (the same as the pages' gate,
# enrollment.views.access.handler_info_required).
HANDLER_INFO_MISSING = "请先完成【经办人填报】并保存，才可以进行后续操作。"


def batch_open(*, account, kind: str, code: str, unit_name: str, at=None) -> Batch:
    """【集中参保办理】 / 【即时参保办理】 (SPEC BAT-2): a new batch 清册待校验 for `code` in the current year.

    The code must be this account's or bindable with the matching unit name (CODE-5; binding is kept
    even if the batch is then refused, so the unit can go on to 经办人填报), 经办人填报 must be saved
    (HND-1, HandlerInfoMissing), the year's window open (BAT-10) and, for 集中参保, the code must not
    have a centralised batch this year (BAT-2, also a database constraint). Raises EnrollmentError.
    The binding commits on its own: a caller that wraps this in a transaction (to serialise a
    double click) must let that transaction commit when this raises, or the binding is lost.
    """
    at = at or timezone.now()
    coverage_year = coverage_year_current(at=at)
    if coverage_year is None:
        raise EnrollmentError("当前没有开放的保障年度，请关注职保会通知。")
    batch_window_check(coverage_year=coverage_year, kind=kind, at=at)
    with transaction.atomic():
        bound = code_bind(code=code, unit_name=unit_name, account=account)
    if not handler_info_complete(code=bound):
        raise HandlerInfoMissing(HANDLER_INFO_MISSING)
    duplicate = "该参保编码本年度已办理过集中参保，请在原批次中继续操作；遗漏的人员可在即时参保通道开启后办理。"
    try:
        with transaction.atomic():
            if kind == BatchKind.CENTRALISED and Batch.objects.filter(
                code=bound, coverage_year=coverage_year, kind=kind
            ).exists():
                raise EnrollmentError(duplicate)
            batch = Batch.objects.create(
                number=batch_number_next(year=coverage_year.year, kind=kind),
                coverage_year=coverage_year,
                code=bound,
                unit_name=bound.unit_name,
                account=account,
                kind=kind,
            )
            with acting_as(account):
                BatchLog.objects.create(
                    batch=batch, actor=account, action=BatchKind(kind).label + "办理", to_state=BatchState.DRAFT
                )
    except IntegrityError:  # two browsers at once: the constraint decides (STYLE.md §9)
        raise EnrollmentError(duplicate) from None
    return batch


@transaction.atomic
def batch_delete(*, batch: Batch, acting_user) -> None:
    """【批次删除】 (SPEC BAT-5): only in 清册待校验 or 清册校验不通过; deletes the batch and its roster.
    Deleting the batch that bound an imported code, with no other batch left, releases the binding
    (SPEC CODE-5, the handbook's remedy for 用错参保编码). SPEC SEC-9: the batch's 操作日志 stays, with
    a last row that says who deleted it. Raises EnrollmentError."""
    locked = batch_locked(batch, action=BatchAction.DELETE)
    code = locked.code
    with acting_as(acting_user):
        BatchLog.objects.create(
            batch=locked, actor=acting_user, action=BatchAction.DELETE.label, from_state=locked.state, to_state=""
        )
        locked.delete()
    if not Batch.objects.filter(code=code).exists():
        code_release(code=code, acting_user=acting_user)


# --- SPEC SEC-9: the audit trail's retention sweep -----------------------------------------------------


def batch_log_purge(*, record_years: int) -> int:
    """Delete the 操作日志 rows older than `record_years` (SPEC SEC-9: 30 years, accounting archives).
    On PostgreSQL through `batch_log_purge` (enrollment 0012), the one deletion the append-only trigger
    allows, which refuses a shorter period; on SQLite (the demo, no triggers) directly. Returns how many
    rows went."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT batch_log_purge(%s)", [record_years])
            return cursor.fetchone()[0]
    return BatchLog.objects.filter(at__lt=years_before(timezone.now(), record_years)).delete()[0]


def audit_trail_sweep() -> dict[str, int]:
    """SPEC SEC-9: the retention sweep (beat, daily): every audit row past its kind's period
    (settings.AUDIT_RETENTION_YEARS) goes, nothing younger. Safe to run twice."""
    years = settings.AUDIT_RETENTION_YEARS
    return {
        "entries": audit_entries_purge(access_years=years["access"], record_years=years["record"]),
        "batch_log": batch_log_purge(record_years=years["record"]),
    }


# --- Per-batch figures for the statistics (SPEC BO-3) --------------------------------------------------


def batch_totals_submitted(*, batch: Batch, people: int, social_security_people: int, at=None) -> None:
    """清册提交 (rosters) records the batch's people, the day and the unit's union organisations as
    经办人填报 holds them then; a later submission (after 批次撤回) overwrites them."""
    handler = HandlerInfo.objects.filter(code_id=batch.code_id).only("union_level1", "union_level2").first()
    BatchTotals.objects.update_or_create(
        batch=batch,
        defaults={
            "people": people,
            "social_security_people": social_security_people,
            "submitted_on": timezone.localtime(at or timezone.now()).date(),
            "union_level1_id": handler.union_level1_id if handler else None,
            "union_level2_id": handler.union_level2_id if handler else None,
        },
    )


def batch_totals_premium(*, batch: Batch, premium, items: dict[str, tuple[int, object]], at=None) -> None:
    """提交确认保费 (plans) records the premium and each item's (people, premium); 批次撤回 calls it with
    premium 0 and no items."""
    BatchTotals.objects.update_or_create(
        batch=batch,
        defaults={
            "premium": premium,
            "premium_confirmed_on": timezone.localtime(at).date() if at and items else None,
        },
    )
    BatchItemTotal.objects.filter(batch=batch).delete()
    BatchItemTotal.objects.bulk_create(
        [BatchItemTotal(batch=batch, code=code, people=people, premium=amount) for code, (people, amount) in items.items()]
    )
