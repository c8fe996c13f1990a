"""Reads of the payments app for the unit's pages (SPEC PAY-2, PAY-3, X-4): the account's vouchers and
the live 退款金额 of 新增缴费信息, the batches a voucher may pay and the overdue ones (SPEC BAT-11). The
writes are services.py's."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from enrollment.models import Batch, CoverageYear
from enrollment.states import PAYABLE_STATES, BatchState

from mutualaid.workdays import working_deadline

from .models import Voucher, VoucherBatch
from .services import PaymentError, money_parse, voucher_refund


def payable_batches(*, account) -> QuerySet[Batch]:
    """选择批次 (SPEC PAY-2): this account's batches in 缴费凭证待上传 or 缴费凭证审核不通过 with a confirmed
    premium, oldest first, with `premium` joined."""
    return (
        Batch.objects.filter(account=account, state__in=PAYABLE_STATES, premium__isnull=False)
        .select_related("premium", "coverage_year")
        .order_by("premium__confirmed_at", "pk")
    )


def overdue_batches(*, today: dt.date | None = None) -> QuerySet[Batch]:
    """SPEC BAT-11: batches still 缴费凭证待上传 after their payment deadline, oldest deadline first."""
    today = today or timezone.localdate()
    return (
        Batch.objects.filter(state=BatchState.AWAITING_PAYMENT, premium__payment_due__lt=today)
        .select_related("premium", "code", "coverage_year")
        .order_by("premium__payment_due", "pk")
    )


def account_vouchers(
    *, account, submitted_from: dt.date | None = None, submitted_to: dt.date | None = None, payer: str = ""
) -> QuerySet[Voucher]:
    """缴费凭证管理 (SPEC PAY-2): this account's vouchers, newest first, searched by 提交时间 (Shanghai
    dates, both ends included) and 付款单位 (contains); their batches prefetched in number order."""
    vouchers = Voucher.objects.filter(account=account)
    if submitted_from:
        vouchers = vouchers.filter(submitted_at__date__gte=submitted_from)
    if submitted_to:
        vouchers = vouchers.filter(submitted_at__date__lte=submitted_to)
    if payer:
        vouchers = vouchers.filter(payer__icontains=payer)
    lines = VoucherBatch.objects.select_related("batch", "batch__coverage_year").order_by("batch__number")
    return vouchers.prefetch_related(Prefetch("lines", queryset=lines)).order_by("-submitted_at", "-pk")


@dataclass
class RefundPreview:
    """What 新增缴费信息 shows while the unit ticks batches and types the amount (SPEC PAY-3): the
    selected premiums, and either the refund (0 when equal), the shortfall, or what is missing."""

    premiums: Decimal = Decimal("0.00")
    selected: list[str] = field(default_factory=list)
    amount: Decimal | None = None
    refund: Decimal | None = None
    shortfall: Decimal | None = None
    message: str = ""

    @property
    def has_refund(self) -> bool:
        return bool(self.refund)


def voucher_refund_preview(*, account, batch_numbers: list[str], amount_text: str) -> RefundPreview:
    """SPEC PAY-3, computed as voucher_submit will: the ticked batches that this account may pay
    (anything else is ignored: the submission refuses it), their premiums summed, the amount parsed
    by money_parse and compared by voucher_refund. Nothing is written."""
    wanted = {number for number in batch_numbers if number}
    batches = [batch for batch in payable_batches(account=account) if batch.number in wanted]
    preview = RefundPreview(
        premiums=sum((batch.premium.total for batch in batches), Decimal("0.00")),
        selected=[batch.number for batch in batches],
    )
    if not batches:
        preview.message = "请在“选择批次”中勾选本次缴费的参保批次。"
        return preview
    if not (amount_text or "").strip():
        preview.message = "请填写缴费金额(凭证总金额)。"
        return preview
    try:
        preview.amount = money_parse(amount_text)
    except PaymentError as error:
        preview.message = error.message
        return preview
    try:
        preview.refund = voucher_refund(amount=preview.amount, premiums=preview.premiums)
    except PaymentError as error:
        preview.shortfall = preview.premiums - preview.amount
        preview.message = error.message
    return preview


DEFAULT_VOUCHER_REVIEW_WORKING_DAYS = CoverageYear._meta.get_field("voucher_review_working_days").default


def voucher_review_days(voucher: Voucher) -> int:
    days = getattr(voucher, "review_days", None)
    if days is None:
        days = (
            VoucherBatch.objects.filter(voucher=voucher)
            .order_by("batch__coverage_year__voucher_review_working_days")
            .values_list("batch__coverage_year__voucher_review_working_days", flat=True)
            .first()
        )
    return days or DEFAULT_VOUCHER_REVIEW_WORKING_DAYS


def voucher_review_deadline(voucher: Voucher) -> dt.datetime:
    """24:00 of the Nth working day after the day of submission (SPEC PAY-2: 审核时间为提交申请后10个
    工作日内; YEAR-3), stored as 00:00 of the next day."""
    return working_deadline(voucher.submitted_at, voucher_review_days(voucher))
