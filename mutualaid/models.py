import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from .jobs import Job, job_status_field, job_sweep_index
from .sealed import sealed_storage


class CalendarDay(models.Model):
    """A day whose working status reviewers set by hand (SPEC YEAR-3).

    `chinese-calendar` knows the statutory holidays only for the years its release covers. For
    later years, working days fall back to Monday–Friday, corrected by these rows: a holiday on a
    weekday (is_working_day False) or a make-up working day on a weekend (True). A row also
    overrides the package for a year it knows, should the State Council change a schedule.
    """

    date = models.DateField("日期", unique=True)
    is_working_day = models.BooleanField("是否工作日", help_text="勾选：调休上班日；不勾选：法定节假日")
    note = models.CharField("说明", max_length=50, blank=True, help_text="例如：春节、国庆节调休")

    class Meta:
        verbose_name = "节假日与调休"
        verbose_name_plural = "节假日与调休"
        ordering = ["date"]

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {'上班' if self.is_working_day else '放假'} {self.note}".strip()


class SmsCode(models.Model):
    """A verification code sent by SMS (registration, CODE-2, HND-1). Only its keyed hash is kept."""

    mobile = models.CharField("手机号", max_length=11, db_index=True)
    purpose = models.CharField("用途", max_length=30)
    code_hash = models.CharField(max_length=72)  # SPEC SEC-10: the hash key id in front (mutualaid.pii)
    created_at = models.DateTimeField("发送时间", default=timezone.now, db_index=True)
    expires_at = models.DateTimeField("失效时间")
    used_at = models.DateTimeField("使用时间", null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField("错误次数", default=0)

    class Meta:
        verbose_name = "短信验证码"
        verbose_name_plural = "短信验证码"
        indexes = [models.Index(fields=["mobile", "purpose", "-created_at"])]

    def __str__(self):
        return f"{self.purpose} {self.created_at:%Y-%m-%d %H:%M}"


class AttachmentType(models.TextChoices):
    """The only files an attachment may hold, decided from the bytes (mutualaid/attachments.py)."""

    JPEG = "image/jpeg", "JPG 图片"
    PNG = "image/png", "PNG 图片"
    PDF = "application/pdf", "PDF 文件"


ATTACHMENT_EXTENSIONS = {AttachmentType.JPEG: "jpg", AttachmentType.PNG: "png", AttachmentType.PDF: "pdf"}


def attachment_upload_to(instance: "Attachment", filename: str) -> str:
    """private/attachments/YYYY/MM/<random>.<ext>: neither the uploaded name nor the uploader shows.

    `filename` is ignored on purpose; MEDIA_URL is served by no URL, the owner's view serves the bytes.
    """
    month = timezone.localdate()
    return f"private/attachments/{month:%Y/%m}/{uuid.uuid4().hex}.{ATTACHMENT_EXTENSIONS[instance.content_type]}"


class Attachment(models.Model):
    """An uploaded image or PDF belonging to any object (a code application, a change request, a
    batch, a payment voucher), or, while that object is still being filled in, to a draft token.

    Stored and checked by mutualaid/attachments.py; who may see it is decided by the owner's view.
    """

    owner_type = models.ForeignKey(
        ContentType, verbose_name="所属对象类型", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    owner_id = models.PositiveBigIntegerField("所属对象编号", null=True, blank=True)
    owner = GenericForeignKey("owner_type", "owner_id")
    kind = models.CharField("附件类型", max_length=100, blank=True, help_text="如：营业执照、情况说明")
    # SPEC SEC-4: sealed on disk (情况说明 with 人员明细, 退工单 … hold personal data).
    file = models.FileField("文件", upload_to=attachment_upload_to, storage=sealed_storage, max_length=200)
    original_name = models.CharField("原文件名", max_length=120)
    content_type = models.CharField("文件格式", max_length=40, choices=AttachmentType.choices)
    size = models.PositiveIntegerField("大小（字节）")
    sha256 = models.CharField("SHA-256", max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="上传人", on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField("上传时间", default=timezone.now, db_index=True)
    # Set while the owner does not exist yet (a form being filled in); cleared when it is claimed.
    draft_token = models.CharField("草稿标识", max_length=32, blank=True, db_index=True)

    class Meta:
        verbose_name = "附件"
        verbose_name_plural = "附件"
        ordering = ["uploaded_at", "pk"]
        indexes = [models.Index(fields=["owner_type", "owner_id"], name="attachment_owner")]

    def __str__(self):
        return self.original_name

    @property
    def is_image(self) -> bool:
        return self.content_type in (AttachmentType.JPEG, AttachmentType.PNG)


def export_upload_to(instance: "ExportJob", filename: str) -> str:
    """private/exports/YYYY/MM/<random>.xlsx: served only by the owner's download view, never by URL."""
    month = timezone.localdate()
    return f"private/exports/{month:%Y/%m}/{uuid.uuid4().hex}.xlsx"


class ExportJob(Job):
    """An Excel export run in the background (UI.md "Long work"; SPEC BO-3, X-1, X-2).

    mutualaid.exports starts and runs it; its builder (a dotted path per kind) decides who may ask
    for it and writes the rows. Only the owner downloads the file; jobs are purged after 7 days.
    """

    status = job_status_field(running="正在导出", failed="导出失败")
    task_name = "mutualaid.tasks.run_export"
    interrupted_message = "导出中断，请重新导出。"
    progress_reset = {"rows_done": 0}

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="导出人", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField("导出类型", max_length=40)
    params = models.JSONField("导出条件", default=dict, blank=True)
    title = models.CharField("名称", max_length=200)
    full_ids = models.BooleanField("含完整证件号码", default=False)
    # SPEC SEC-4: the requester's address, for the audit entry the background job writes.
    requested_from = models.GenericIPAddressField("导出人IP地址", null=True, blank=True)
    rows_done = models.PositiveIntegerField("已处理", default=0)
    rows_total = models.PositiveIntegerField("总行数", default=0)
    file = models.FileField("文件", upload_to=export_upload_to, storage=sealed_storage, max_length=200, blank=True)  # SEC-4
    filename = models.CharField("文件名", max_length=200, blank=True)
    created_at = models.DateTimeField("创建时间", default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "导出任务"
        verbose_name_plural = "导出任务"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="export_job_owner_created"),
            job_sweep_index("export_job_sweep"),
        ]
        permissions = [("export_full_id", "导出完整证件号码")]

    def __str__(self):
        return f"{self.title}（{self.get_status_display()}）"

    def job_actor(self):
        return self.owner

