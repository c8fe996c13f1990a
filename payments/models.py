"""Payment vouchers and refunds (SPEC PAY, BAT-8, BAT-11).

A voucher (缴费凭证) pays one or more batches of one account; its proofs are attachments
(mutualaid.attachments, owner = the voucher). An amount above the batches' premiums is refunded: the
refund account number is encrypted at rest like ID numbers and shown masked (ARCHITECTURE.md).
A rejected voucher stays as it was (history); the unit then submits a new one.
"""
from django.conf import settings
from django.db import models

from enrollment.models import Batch
from mutualaid.pii import pii_decrypt, pii_encrypt
from plans.premiums import yuan_text


class PaymentMethod(models.TextChoices):
    """*缴费方式 (SPEC PAY-2), the handbook's list."""

    ONLINE = "online", "贷记(网银)"
    CHEQUE = "cheque", "转账支票"
    WIRE = "wire", "电汇"
    CASH = "cash", "现金"


class AccountKind(models.TextChoices):
    """*收款帐户类别 / 退款帐户类别 (SPEC PAY-2, PAY-3): the portal knows one, 在职."""

    ACTIVE = "active", "在职"


class RefundMethod(models.TextChoices):
    """退款方式 (SPEC PAY-3)."""

    TRANSFER = "transfer", "划帐"


# 退款银行 (SPEC PAY-3: "a list"): the banks Shanghai units commonly hold their accounts with.
REFUND_BANKS = [
    "中国工商银行", "中国农业银行", "中国银行", "中国建设银行", "交通银行", "中国邮政储蓄银行", "招商银行",
    "上海浦东发展银行", "中信银行", "中国光大银行", "华夏银行", "中国民生银行", "兴业银行", "平安银行",
    "广发银行", "浙商银行", "渤海银行", "恒丰银行", "上海银行", "上海农村商业银行", "北京银行", "宁波银行",
    "南京银行", "杭州银行", "江苏银行", "其他银行",
]


class Voucher(models.Model):
    """缴费信息 (SPEC PAY-2, PAY-3, PAY-4): who paid how much for which batches, the refund if any,
    and the review. `premiums` is the selected batches' premium total when submitted."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "待审核"
        APPROVED = "approved", "审核通过"
        REJECTED = "rejected", "审核不通过"

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="平台账号", on_delete=models.PROTECT, related_name="vouchers"
    )
    batches = models.ManyToManyField(Batch, verbose_name="参保批次", through="VoucherBatch", related_name="vouchers")
    payer = models.CharField("付款单位", max_length=200)
    method = models.CharField("缴费方式", max_length=10, choices=PaymentMethod.choices)
    amount = models.DecimalField("缴费金额(凭证总金额)", max_digits=12, decimal_places=2)
    account_kind = models.CharField("收款帐户类别", max_length=10, choices=AccountKind.choices, default=AccountKind.ACTIVE)
    premiums = models.DecimalField("应缴保费合计", max_digits=12, decimal_places=2)
    refund_amount = models.DecimalField("退款金额", max_digits=12, decimal_places=2, default=0)
    refund_account_kind = models.CharField(
        "退款帐户类别", max_length=10, choices=AccountKind.choices, blank=True
    )
    refund_account_cipher = models.TextField("退款帐号（加密）", blank=True, editable=False)
    refund_account_name = models.CharField("退款帐户名称", max_length=200, blank=True)
    refund_bank = models.CharField("退款银行", max_length=40, blank=True)
    refund_method = models.CharField("退款方式", max_length=10, choices=RefundMethod.choices, blank=True)
    status = models.CharField("审核状态", max_length=10, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    submitted_at = models.DateTimeField("提交时间", db_index=True)
    reviewed_at = models.DateTimeField("审核时间", null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    reject_reason = models.TextField("审核不通过原因", blank=True)

    class Meta:
        verbose_name = "缴费凭证"
        verbose_name_plural = "缴费凭证"
        ordering = ["-submitted_at", "-pk"]
        indexes = [models.Index(fields=["account", "-submitted_at"], name="voucher_account_submitted")]

    def __str__(self):
        return f"{self.payer} {yuan_text(self.amount)}元"

    @property
    def refund_account_number(self) -> str:
        """The refund account number in clear, for the reviewer who pays the refund."""
        return pii_decrypt(self.refund_account_cipher) if self.refund_account_cipher else ""

    @refund_account_number.setter
    def refund_account_number(self, value: str) -> None:
        self.refund_account_cipher = pii_encrypt(value) if value else ""

    @property
    def refund_account_masked(self) -> str:
        """The first 4 and last 4 digits (SPEC X-1 applied to bank accounts), e.g. 6222********1234."""
        number = self.refund_account_number
        if len(number) <= 8:
            return number[:1] + "*" * max(len(number) - 1, 0)
        return number[:4] + "*" * (len(number) - 8) + number[-4:]


class VoucherBatch(models.Model):
    """A batch a voucher pays, with its premium at submission (SPEC PAY-2 选择批次)."""

    voucher = models.ForeignKey(Voucher, verbose_name="缴费凭证", on_delete=models.CASCADE, related_name="lines")
    batch = models.ForeignKey(Batch, verbose_name="参保批次", on_delete=models.PROTECT, related_name="voucher_lines")
    premium = models.DecimalField("保费", max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = "缴费批次"
        verbose_name_plural = "缴费批次"
        constraints = [models.UniqueConstraint(fields=["voucher", "batch"], name="voucher_batch_once")]

    def __str__(self):
        return f"{self.batch.number} {yuan_text(self.premium)}元"


class PaymentReminder(models.Model):
    """One row per reminder sent (SPEC PAY-5): the unique (batch, day) makes a second run of the
    schedule send nothing twice."""

    batch = models.ForeignKey(Batch, verbose_name="参保批次", on_delete=models.CASCADE, related_name="payment_reminders")
    day = models.PositiveSmallIntegerField("提醒节点（第N天）")
    sent_at = models.DateTimeField("发送时间", auto_now_add=True)

    class Meta:
        verbose_name = "缴费提醒"
        verbose_name_plural = "缴费提醒"
        constraints = [models.UniqueConstraint(fields=["batch", "day"], name="payment_reminder_once")]

    def __str__(self):
        return f"{self.batch.number} 第{self.day}天"


class OverdueBatch(Batch):
    """逾期未缴费批次 (SPEC BAT-11): a proxy of Batch, as rosters.BatchReview is, so the back-office list has
    its own permissions (view_overduebatch; change_overduebatch = the right to cancel) without a table."""

    class Meta:
        proxy = True
        verbose_name = "逾期未缴费批次"
        verbose_name_plural = "逾期未缴费批次"
