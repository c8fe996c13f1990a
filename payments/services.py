"""缴费凭证 and refunds, their review, reminders and the cancellation of overdue batches
(SPEC PAY-1…PAY-5, BAT-8, BAT-11).

Every state change locks the batch rows first and goes through enrollment.services.batch_transition
(table check, 操作日志). Approval and rejection lock the voucher row and re-check its status, so a double click or
two reviewers at once do a thing once (STYLE.md §9).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from enrollment.models import Batch
from enrollment.services import EnrollmentError, batch_email_handler, batch_locked, batch_transition
from enrollment.states import PAYABLE_STATES, BatchState
from mutualaid.attachments import attachments_claim, attachments_of_draft
from mutualaid.audit import acting_as
from mutualaid.identifiers import canonical
from plans.models import BatchPremium
from rosters.submission import registry_release

from .models import REFUND_BANKS, AccountKind, PaymentMethod, PaymentReminder, RefundMethod, Voucher, VoucherBatch

CENT = Decimal("0.01")
# SPEC PAY-5 [interpretation]: the handler is e-mailed on these days after 提交确认保费 (deadline 15).
REMINDER_DAYS = (10, 14)
VOUCHER_ACTION = "上传缴费凭证"
APPROVE_ACTION = "缴费凭证审核通过"
REJECT_ACTION = "缴费凭证审核不通过"
CANCEL_ACTION = "批次作废"


class PaymentError(EnrollmentError):
    """The payments app's domain error (STYLE.md §2): `message` for the user, `field` the form field."""


# --- PAY-3: the amount against the premiums -----------------------------------------------------------


def money_parse(value, *, field: str = "amount") -> Decimal:
    """A yuan amount typed by a person ("2,000.00", " 2000 ") as Decimal with two places; PaymentError
    for anything else (letters, more than two decimals, not positive)."""
    text = str(value or "").replace(",", "").replace("，", "").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise PaymentError("请输入金额，例如 2000.00。", field=field) from None
    if not amount.is_finite() or amount <= 0:
        raise PaymentError("金额必须大于0。", field=field)
    if amount != amount.quantize(CENT):
        raise PaymentError("金额最多保留两位小数。", field=field)
    return amount.quantize(CENT)


def voucher_refund(*, amount: Decimal, premiums: Decimal) -> Decimal:
    """SPEC PAY-3: 退款金额 = amount − premiums when the voucher pays more; 0 when equal. A smaller
    amount is refused with the shortfall ([interpretation])."""
    if amount < premiums:
        raise PaymentError(
            f"缴费金额{amount}元少于所选批次应缴保费合计{premiums}元，还差{premiums - amount}元，请补足后再提交。",
            field="amount",
        )
    return amount - premiums


@dataclass
class RefundDetails:
    """退款信息填报 (SPEC PAY-3), required only when the voucher pays more than the premiums."""

    account_kind: str = AccountKind.ACTIVE
    account_number: str = ""
    account_name: str = ""
    bank: str = ""
    method: str = RefundMethod.TRANSFER


def _refund_checked(refund: RefundDetails | None) -> RefundDetails:
    """The refund fields, each refused at its field with what to fill in."""
    refund = refund or RefundDetails()
    number, problem = canonical(refund.account_number, column="退款帐号")  # SPEC SEC-1: encrypted as canonical
    if problem:
        raise PaymentError(problem, field="refund_account_number")
    number = number.replace("-", "")
    if not number:
        raise PaymentError("缴费金额超出应缴保费，请填写退款帐号。", field="refund_account_number")
    if not (number.isascii() and number.isdigit()) or not 8 <= len(number) <= 32:
        raise PaymentError("退款帐号应为8–32位数字，请核对。", field="refund_account_number")
    if not (refund.account_name or "").strip():
        raise PaymentError("缴费金额超出应缴保费，请填写退款帐户名称。", field="refund_account_name")
    if refund.bank not in REFUND_BANKS:
        raise PaymentError("请选择退款银行。", field="refund_bank")
    if refund.account_kind not in AccountKind.values:
        raise PaymentError("请选择退款帐户类别。", field="refund_account_kind")
    if refund.method not in RefundMethod.values:
        raise PaymentError("请选择退款方式。", field="refund_method")
    return RefundDetails(refund.account_kind, number, refund.account_name.strip(), refund.bank, refund.method)


# --- PAY-2: 新增缴费信息 ------------------------------------------------------------------------------


def voucher_submit(
    *, account, batch_numbers: list[str], payer: str, method: str, amount, draft_token: str,
    refund: RefundDetails | None = None, account_kind: str = AccountKind.ACTIVE, at: dt.datetime | None = None,
) -> Voucher:
    """【新增缴费信息】 submitted (SPEC PAY-2, PAY-3, BAT-8): in one transaction the voucher with its
    batches and proofs (the attachments uploaded under `draft_token`), the refund if it pays more,
    and every batch moved to 缴费凭证待审核 — after which its roster cannot change (BAT-8: the state
    table allows no roster action there, and every roster service checks the state). The batch rows
    are locked in number order, so two vouchers for one batch cannot both pass. Raises PaymentError."""
    at = at or timezone.now()
    payer = (payer or "").strip()
    if not batch_numbers:
        raise PaymentError("请在“选择批次”中勾选本次缴费的参保批次。", field="batches")
    if not payer:
        raise PaymentError("请填写付款单位。", field="payer")
    if method not in PaymentMethod.values:
        raise PaymentError("请选择缴费方式。", field="method")
    if account_kind not in AccountKind.values:
        raise PaymentError("请选择收款帐户类别。", field="account_kind")
    amount = money_parse(amount)
    with transaction.atomic():
        batches = list(
            Batch.objects.select_for_update()
            .filter(account=account, number__in=set(batch_numbers))
            .order_by("number")
        )
        if len(batches) != len(set(batch_numbers)):
            raise PaymentError("所选批次不存在，请刷新页面后重新选择。", field="batches")
        for batch in batches:
            if batch.state not in PAYABLE_STATES:
                raise PaymentError(
                    f"批次 {batch.number} 当前状态为“{batch.get_state_display()}”，不能上传缴费凭证。", field="batches"
                )
        premiums = {premium.batch_id: premium.total for premium in BatchPremium.objects.filter(batch__in=batches)}
        missing = [batch.number for batch in batches if batch.pk not in premiums]
        if missing:
            raise PaymentError(f"批次 {'、'.join(missing)} 尚未提交确认保费。", field="batches")
        total = sum(premiums.values(), Decimal("0.00"))
        refund_amount = voucher_refund(amount=amount, premiums=total)
        refund_details = _refund_checked(refund) if refund_amount else RefundDetails(account_kind="", method="")
        if not attachments_of_draft(draft_token=draft_token, uploaded_by=account).exists():
            raise PaymentError("请点击【缴费凭证上传】上传缴费凭证（图片或PDF，可多张）。", field="attachments")
        with acting_as(account):
            voucher = Voucher(
                account=account, payer=payer, method=method, amount=amount, account_kind=account_kind,
                premiums=total, refund_amount=refund_amount, refund_account_kind=refund_details.account_kind,
                refund_account_name=refund_details.account_name, refund_bank=refund_details.bank,
                refund_method=refund_details.method, submitted_at=at,
            )
            voucher.refund_account_number = refund_details.account_number
            voucher.save()
            VoucherBatch.objects.bulk_create(
                [VoucherBatch(voucher=voucher, batch=batch, premium=premiums[batch.pk]) for batch in batches]
            )
            attachments_claim(draft_token=draft_token, uploaded_by=account, owner=voucher)
        for batch in batches:
            batch_transition(
                batch=batch, to=BatchState.PAYMENT_REVIEW, acting_user=account, action=VOUCHER_ACTION,
                reason=f"缴费金额{amount}元",
            )
    return voucher


# --- PAY-4: the review ---------------------------------------------------------------------------------


def _lock_submitted(voucher: Voucher, *, wanted: str) -> Voucher | None:
    """The voucher locked; None when it already has the `wanted` status (the second click of a double
    click, or a second reviewer: nothing happens twice); PaymentError when it was decided otherwise."""
    locked = Voucher.objects.select_for_update().get(pk=voucher.pk)
    if locked.status == wanted:
        return None
    if locked.status != Voucher.Status.SUBMITTED:
        raise PaymentError(f"该缴费凭证已{locked.get_status_display()}，不能再更改。")
    return locked


def _voucher_batches(voucher: Voucher) -> list[Batch]:
    return list(
        Batch.objects.select_for_update().filter(voucher_lines__voucher=voucher).select_related("code").order_by("number")
    )


@transaction.atomic
def voucher_approve(*, voucher: Voucher, acting_user, at: dt.datetime | None = None) -> Voucher:
    """审核通过 (SPEC PAY-4): the voucher approved and its batches 参保已完成, each in the 操作日志, the
    handler e-mailed. Idempotent: approving an approved voucher changes nothing."""
    locked = _lock_submitted(voucher, wanted=Voucher.Status.APPROVED)
    if locked is None:
        return Voucher.objects.get(pk=voucher.pk)
    with acting_as(acting_user):
        locked.status, locked.reviewed_by, locked.reviewed_at = Voucher.Status.APPROVED, acting_user, at or timezone.now()
        locked.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    for batch in _voucher_batches(locked):
        moved = batch_transition(batch=batch, to=BatchState.COMPLETED, acting_user=acting_user, action=APPROVE_ACTION)
        batch_email_handler(
            batch=moved, subject=f"【上海市职工保障互助会】参保批次{moved.number}缴费凭证审核通过",
            template="payments/email/voucher_approved.txt", context={"voucher": locked},
        )
    return locked


@transaction.atomic
def voucher_reject(*, voucher: Voucher, acting_user, reason: str, at: dt.datetime | None = None) -> Voucher:
    """审核不通过 with a reason (SPEC PAY-4): the batches go to 缴费凭证审核不通过 and the unit submits a
    new voucher; the reason is in the 操作日志 and the e-mail. Idempotent like voucher_approve."""
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError("请填写审核不通过的原因。", field="reason")
    locked = _lock_submitted(voucher, wanted=Voucher.Status.REJECTED)
    if locked is None:
        return Voucher.objects.get(pk=voucher.pk)
    with acting_as(acting_user):
        locked.status, locked.reviewed_by, locked.reviewed_at = Voucher.Status.REJECTED, acting_user, at or timezone.now()
        locked.reject_reason = reason
        locked.save(update_fields=["status", "reviewed_by", "reviewed_at", "reject_reason"])
    for batch in _voucher_batches(locked):
        moved = batch_transition(
            batch=batch, to=BatchState.PAYMENT_REJECTED, acting_user=acting_user, action=REJECT_ACTION,
            reason=reason,
        )
        batch_email_handler(
            batch=moved, subject=f"【上海市职工保障互助会】参保批次{moved.number}缴费凭证审核不通过",
            template="payments/email/voucher_rejected.txt", context={"voucher": locked, "reason": reason},
        )
    return locked


# --- PAY-5, BAT-11: reminders and overdue batches -------------------------------------------------------


def payment_days_left(*, premium: BatchPremium, today: dt.date | None = None) -> int:
    """Days left until the payment deadline (PAY-1); negative when overdue."""
    today = today or timezone.localdate()
    return (premium.payment_due - today).days


def payment_reminders_send(*, today: dt.date | None = None) -> int:
    """SPEC PAY-5: e-mail the handler of each batch in 缴费凭证待上传 on day 10 and day 14 after
    提交确认保费 (or later, if the schedule missed that day, but never twice: a PaymentReminder row per
    batch and day, unique). Returns how many reminders were sent."""
    today = today or timezone.localdate()
    sent = 0
    waiting = Batch.objects.filter(state=BatchState.AWAITING_PAYMENT, premium__isnull=False).select_related(
        "premium", "code"
    )
    for day in sorted(REMINDER_DAYS, reverse=True):  # a batch the schedule missed gets the latest one only
        confirmed_on_or_before = today - dt.timedelta(days=day)
        due = waiting.filter(premium__confirmed_at__date__lte=confirmed_on_or_before, premium__payment_due__gte=today)
        for batch in due.exclude(payment_reminders__day__gte=day):
            try:
                with transaction.atomic():
                    PaymentReminder.objects.create(batch=batch, day=day)
                    batch_email_handler(
                        batch=batch,
                        subject=f"【上海市职工保障互助会】参保批次{batch.number}请于{batch.premium.payment_due:%Y-%m-%d}前缴费",
                        template="payments/email/payment_reminder.txt",
                        context={"premium": batch.premium, "days_left": payment_days_left(premium=batch.premium, today=today)},
                    )
            except IntegrityError:  # another run of the schedule sent it meanwhile
                continue
            sent += 1
    return sent


@transaction.atomic
def batch_cancel(*, batch: Batch, acting_user, reason: str, today: dt.date | None = None) -> Batch:
    """作废 (SPEC BAT-11 [interpretation]): a reviewer cancels a batch left unpaid past its deadline;
    its people are released from the year's registry (ROS-11), the reason is in the 操作日志 and the
    handler is told. Raises PaymentError."""
    today = today or timezone.localdate()
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError("请填写作废原因。", field="reason")
    locked = batch_locked(batch, error=PaymentError)
    if locked.state == BatchState.CANCELLED:
        return locked
    premium = BatchPremium.objects.filter(batch=locked).first()
    if locked.state != BatchState.AWAITING_PAYMENT or premium is None or premium.payment_due >= today:
        raise PaymentError(f"批次 {locked.number} 未逾期未缴费（当前状态：{locked.get_state_display()}），不能作废。")
    registry_release(batch=locked)
    moved = batch_transition(
        batch=locked, to=BatchState.CANCELLED, acting_user=acting_user, action=CANCEL_ACTION, reason=reason
    )
    batch_email_handler(
        batch=moved, subject=f"【上海市职工保障互助会】参保批次{moved.number}已作废",
        template="payments/email/batch_cancelled.txt", context={"reason": reason, "premium": premium},
    )
    return moved
