"""专用收据 (SPEC RCP-1, RCP-2): the lines a unit asks for, their review and the issued e-receipts.

A unit adds lines (抬头, 金额, 备注) to a batch; 【提交审核】 sends the set, whose amounts must add up
exactly to the batch's premium. The reviewer's approval issues each line through the issuer
(receipts/pdf.py, replaceable by a fiscal e-receipt platform): it gets a number and a verification
token for the QR code. A correction after issue voids the receipt and issues a new one (logged).
"""
import secrets

from django.conf import settings
from django.db import models

from enrollment.models import Batch


def verification_token() -> str:
    return secrets.token_urlsafe(18)


class Receipt(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "待提交"
        SUBMITTED = "submitted", "待审核"
        ISSUED = "issued", "已开具"
        REJECTED = "rejected", "审核不通过"
        VOIDED = "voided", "已作废"

    batch = models.ForeignKey(Batch, verbose_name="参保批次", on_delete=models.PROTECT, related_name="receipts")
    title = models.CharField("专用收据抬头", max_length=200)
    amount = models.DecimalField("专用收据金额", max_digits=12, decimal_places=2)
    remark = models.CharField("备注", max_length=200, blank=True, help_text="需发票备注栏显示的内容，非必填项")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    created_at = models.DateTimeField("添加时间", auto_now_add=True)
    submitted_at = models.DateTimeField("提交审核时间", null=True, blank=True)
    number = models.CharField("收据号码", max_length=20, unique=True, null=True, blank=True)
    verification = models.CharField(
        "验证码", max_length=32, unique=True, default=verification_token, editable=False,
        help_text="二维码验证页地址中的随机码，不含任何个人信息",
    )
    issued_at = models.DateTimeField("开具时间", null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    reject_reason = models.TextField("审核不通过原因", blank=True)
    void_reason = models.TextField("作废原因", blank=True)
    replaces = models.OneToOneField(
        "self", verbose_name="替换的收据", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )

    class Meta:
        verbose_name = "专用收据"
        verbose_name_plural = "专用收据"
        ordering = ["batch", "pk"]
        indexes = [models.Index(fields=["status", "submitted_at"], name="receipt_status_submitted")]

    def __str__(self):
        return self.number or f"{self.title} ¥{self.amount}"


class ReceiptSequence(models.Model):
    """The last receipt number given per year (`{year}{8 digits}`), bumped under a row lock."""

    year = models.PositiveSmallIntegerField(unique=True)
    last = models.PositiveIntegerField(default=0)


class ReceiptReview(Batch):
    """专用收据审核 (SPEC RCP-1): a proxy of Batch, one queue line per batch, since the unit sends its lines
    and the reviewer decides them together (view_receiptreview, change_receiptreview)."""

    class Meta:
        proxy = True
        verbose_name = "专用收据审核"
        verbose_name_plural = "专用收据审核"
