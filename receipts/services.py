"""专用收据: the unit's lines, 提交审核, the reviewer's approval that issues them, void and reissue
(SPEC RCP-1, RCP-2).

Sums are exact Decimal (SPEC PREM-5): the lines of a batch that are not rejected or voided must add
up to its confirmed premium to the fen. Issuing goes through the issuer of receipts/pdf.py
(`receipt_issuer()`), so that a fiscal e-receipt platform can take its place.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from enrollment.models import Batch
from enrollment.services import EnrollmentError, batch_locked
from enrollment.states import RECEIPT_STATES, BatchState
from mutualaid.audit import acting_as
from payments.services import money_parse
from plans.models import BatchPremium

from .models import Receipt, ReceiptSequence

# SPEC RCP-1 [interpretation]: the unit asks for receipts once it has paid (RECEIPT_STATES: the
# handbook's step (六) follows the voucher, (五)); they are issued only when the payment is approved
# (参保已完成). The lines that count towards the premium: everything not rejected or voided.
COUNTING = (Receipt.Status.DRAFT, Receipt.Status.SUBMITTED, Receipt.Status.ISSUED)
TITLE_MAX = 200
REMARK_MAX = 200


class ReceiptError(EnrollmentError):
    """The receipts app's domain error (STYLE.md §2): `message` for the user, `field` the form field."""


def receipt_premium(*, batch: Batch) -> Decimal:
    premium = BatchPremium.objects.filter(batch=batch).first()
    if premium is None:
        raise ReceiptError("该批次尚未提交确认保费，不能开具专用收据。")
    return premium.total


def receipts_counted_total(*, batch: Batch, excluding: Receipt | None = None) -> Decimal:
    """The sum of the batch's lines that count (draft, submitted, issued)."""
    lines = Receipt.objects.filter(batch=batch, status__in=COUNTING)
    if excluding is not None:
        lines = lines.exclude(pk=excluding.pk)
    # SQLite sums decimals with a long tail of zeros (719.990000000000): back to two places.
    return (lines.aggregate(total=Sum("amount"))["total"] or Decimal("0")).quantize(Decimal("0.01"))


def _check_unit_may_edit(batch: Batch) -> None:
    if batch.state not in RECEIPT_STATES:
        raise ReceiptError(
            f"批次当前状态为“{batch.get_state_display()}”，上传缴费凭证后才能填报专用收据。"
        )


def receipt_add(*, batch: Batch, title: str, amount, remark: str = "", acting_user) -> Receipt:
    """【新增专用收据】 → 【确认提交】 (SPEC RCP-1): one line, kept as 待提交 until 【提交审核】. The title
    may differ from the unit name; the lines may not add up to more than the premium. Raises
    ReceiptError at the field."""
    title, remark = (title or "").strip(), (remark or "").strip()
    if not title:
        raise ReceiptError("请填写专用收据抬头。", field="title")
    if len(title) > TITLE_MAX:
        raise ReceiptError(f"专用收据抬头不能超过{TITLE_MAX}个字。", field="title")
    if len(remark) > REMARK_MAX:
        raise ReceiptError(f"备注不能超过{REMARK_MAX}个字。", field="remark")
    try:
        amount = money_parse(amount, field="amount")
    except EnrollmentError as error:
        raise ReceiptError(error.message, field="amount") from None
    with transaction.atomic():
        locked = batch_locked(batch, error=ReceiptError)
        _check_unit_may_edit(locked)
        premium = receipt_premium(batch=locked)
        already = receipts_counted_total(batch=locked)
        if already + amount > premium:
            raise ReceiptError(
                f"专用收据金额合计不能超过应缴保费{premium}元（已填{already}元，还可填{max(premium - already, 0)}元）。",
                field="amount",
            )
        with acting_as(acting_user):
            return Receipt.objects.create(batch=locked, title=title, amount=amount, remark=remark)


@transaction.atomic
def receipts_drafts_remove(*, batch: Batch, acting_user, receipt_ids: list[int] | None = None) -> int:
    """【取消上传】 (SPEC RCP-1): remove the batch's lines not yet submitted (all, or those listed).
    Returns how many were removed."""
    locked = batch_locked(batch, error=ReceiptError)
    _check_unit_may_edit(locked)
    drafts = Receipt.objects.filter(batch=locked, status=Receipt.Status.DRAFT)
    if receipt_ids is not None:
        drafts = drafts.filter(pk__in=receipt_ids)
    with acting_as(acting_user):
        removed, _ = drafts.delete()
    return removed


def receipts_submit(*, batch: Batch, acting_user, at: dt.datetime | None = None) -> int:
    """【提交审核】 (SPEC RCP-1): the drafts go to review when every counting line adds up exactly to
    the premium (one fen off is refused, saying by how much). Returns how many were submitted."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = batch_locked(batch, error=ReceiptError)
        _check_unit_may_edit(locked)
        drafts = Receipt.objects.filter(batch=locked, status=Receipt.Status.DRAFT)
        if not drafts.exists():
            raise ReceiptError("没有待提交的专用收据，请先点击【新增专用收据】。")
        premium = receipt_premium(batch=locked)
        total = receipts_counted_total(batch=locked)
        if total != premium:
            difference = premium - total
            raise ReceiptError(
                f"专用收据金额合计必须等于应缴保费{premium}元，当前合计{total}元，"
                + (f"还差{difference}元。" if difference > 0 else f"多了{-difference}元。")
            )
        with acting_as(acting_user):
            return drafts.update(status=Receipt.Status.SUBMITTED, submitted_at=at)


def _receipt_number_next(*, year: int) -> str:
    ReceiptSequence.objects.get_or_create(year=year)
    sequence = ReceiptSequence.objects.select_for_update().get(year=year)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return f"{year}{sequence.last:08d}"


def _issue(receipt: Receipt, *, acting_user, at: dt.datetime) -> Receipt:
    from .pdf import receipt_issuer

    receipt.number = _receipt_number_next(year=timezone.localtime(at).year)
    receipt.status, receipt.issued_at, receipt.reviewed_by = Receipt.Status.ISSUED, at, acting_user
    receipt_issuer().issue(receipt)
    receipt.save()
    return receipt


def receipts_approve(*, batch: Batch, acting_user, at: dt.datetime | None = None) -> list[Receipt]:
    """The reviewer's 审核通过 (SPEC RCP-1, RCP-2): every submitted line of the batch is issued (a
    number, the e-receipt). Only for a paid batch (参保已完成). Idempotent: a second click finds nothing
    submitted and issues nothing. Returns the receipts issued now."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = batch_locked(batch, error=ReceiptError)
        submitted = list(Receipt.objects.select_for_update().filter(batch=locked, status=Receipt.Status.SUBMITTED))
        if not submitted:
            return []
        if locked.state != BatchState.COMPLETED:
            raise ReceiptError("该批次缴费凭证尚未审核通过，暂不能开具专用收据。")
        with acting_as(acting_user):
            return [_issue(receipt, acting_user=acting_user, at=at) for receipt in submitted]


def receipts_reject(*, batch: Batch, acting_user, reason: str, at: dt.datetime | None = None) -> int:
    """The reviewer's 审核不通过 with a reason: the submitted lines are rejected and no longer count;
    the unit adds new ones. Returns how many were rejected (0 on a second click)."""
    reason = (reason or "").strip()
    if not reason:
        raise ReceiptError("请填写审核不通过的原因。", field="reason")
    with transaction.atomic():
        locked = batch_locked(batch, error=ReceiptError)
        with acting_as(acting_user):
            return Receipt.objects.filter(batch=locked, status=Receipt.Status.SUBMITTED).update(
                status=Receipt.Status.REJECTED, reject_reason=reason, reviewed_by=acting_user
            )


def receipt_void_reissue(
    *, receipt: Receipt, acting_user, reason: str, title: str = "", remark: str | None = None,
    at: dt.datetime | None = None,
) -> Receipt:
    """A correction after issue (SPEC RCP-2: a reviewer action, logged): the receipt is voided with
    the reason and a new one issued with the corrected title / remark and the same amount (the sum
    must stay equal to the premium). Returns the new receipt."""
    at = at or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ReceiptError("请填写作废原因。", field="reason")
    with transaction.atomic():
        locked = Receipt.objects.select_for_update().get(pk=receipt.pk)
        if locked.status != Receipt.Status.ISSUED:
            raise ReceiptError(f"收据当前状态为“{locked.get_status_display()}”，只有已开具的收据可以作废重开。")
        title = (title or locked.title).strip()
        if len(title) > TITLE_MAX:
            raise ReceiptError(f"专用收据抬头不能超过{TITLE_MAX}个字。", field="title")
        with acting_as(acting_user):
            locked.status, locked.void_reason = Receipt.Status.VOIDED, reason
            locked.save(update_fields=["status", "void_reason"])
            replacement = Receipt(
                batch_id=locked.batch_id, title=title, amount=locked.amount,
                remark=locked.remark if remark is None else remark.strip(), replaces=locked, submitted_at=at,
            )
            return _issue(replacement, acting_user=acting_user, at=at)
