"""Reference data per coverage year (SPEC REF): loaded in bulk every year for the whole city.

Each table is keyed by (year, …) and, on PostgreSQL, list-partitioned by year (migration 0002), so a
year's data is loaded into an unindexed staging table with COPY, indexed, and swapped in with
ATTACH/DETACH in one short transaction (rosters/reference.py). ID numbers are kept as a keyed hash
(look-ups) and a cipher (display); the mask is computed when shown (ARCHITECTURE.md "Data rules").
These rows are written in bulk only: a load is audited as one event with its counts (SPEC X-2).
"""
from django.db import models

from mutualaid.pii import pii_property


class WorkStatus(models.TextChoices):
    """职退状态 (SPEC REF-1, ROS-8): unknown is "-"."""

    ACTIVE = "在职", "在职"
    RETIRED = "退休", "退休"
    UNKNOWN = "-", "-"


class Sex(models.TextChoices):
    MALE = "男", "男"
    FEMALE = "女", "女"


class SuggestedPerson(models.Model):
    """建议清册 (SPEC REF-1): one row per person and year, from social security."""

    pk = models.CompositePrimaryKey("year", "id_hash")
    year = models.PositiveSmallIntegerField("保障年度")
    id_hash = models.CharField(max_length=64)
    id_cipher = models.TextField()
    ss_name = models.CharField("社保姓名", max_length=50)
    ss_unit_code = models.CharField("单位社保编码", max_length=20, blank=True)
    personal_ss_number = models.CharField("个人社保登记号", max_length=30, blank=True)
    work_status = models.CharField("职退状态", max_length=2, choices=WorkStatus.choices)
    medical_active = models.BooleanField("医保享受在职待遇", default=False)
    birth_date = models.DateField("出生日期")
    sex = models.CharField("性别", max_length=1, choices=Sex.choices)

    id_number = pii_property("id_cipher", "id_hash")

    class Meta:
        verbose_name = "建议清册"
        verbose_name_plural = "建议清册"
        indexes = [models.Index(fields=["year", "ss_unit_code"], name="suggested_year_unit")]


class SsUnit(models.Model):
    """单位社保编码 (SPEC REF-2) with its paying headcount (社保在职人数)."""

    pk = models.CompositePrimaryKey("year", "code")
    year = models.PositiveSmallIntegerField("保障年度")
    code = models.CharField("单位社保编码", max_length=20)
    unit_name = models.CharField("单位名称", max_length=200)
    paying_headcount = models.PositiveIntegerField("社保在职人数")

    class Meta:
        verbose_name = "单位社保编码"
        verbose_name_plural = "单位社保编码"


class UnionMember(models.Model):
    """会员库 (SPEC REF-3): the union members of a unit, known by enrollment code or USCC."""

    pk = models.CompositePrimaryKey("year", "unit_key", "id_hash")
    year = models.PositiveSmallIntegerField("保障年度")
    unit_key = models.CharField("单位（参保编码或统一社会信用代码）", max_length=18)
    id_hash = models.CharField(max_length=64)
    id_cipher = models.TextField()
    name = models.CharField("姓名", max_length=50)

    id_number = pii_property("id_cipher", "id_hash")

    class Meta:
        verbose_name = "会员库"
        verbose_name_plural = "会员库"
        indexes = [models.Index(fields=["year", "id_hash"], name="member_year_hash")]


class PreviousEnrolment(models.Model):
    """上年度参保名单 (SPEC REF-4): who each code enrolled in a coverage year. Written from the
    portal's completed batches; for the first year imported like the other kinds."""

    pk = models.CompositePrimaryKey("year", "code", "id_hash")
    year = models.PositiveSmallIntegerField("保障年度")
    code = models.CharField("参保编码", max_length=6)
    id_hash = models.CharField(max_length=64)
    id_cipher = models.TextField()
    id_type = models.CharField("证件类型", max_length=10, default="身份证")
    name = models.CharField("姓名", max_length=50)

    id_number = pii_property("id_cipher", "id_hash")

    class Meta:
        verbose_name = "上年度参保名单"
        verbose_name_plural = "上年度参保名单"
        indexes = [models.Index(fields=["year", "id_hash"], name="previous_year_hash")]


class ReferenceLoad(models.Model):
    """One load of a reference file (SPEC X-2: a bulk write audited as one event with its counts),
    also the progress record the back-office page polls."""

    class Kind(models.TextChoices):
        SUGGESTED = "suggested", "建议清册"
        SS_UNITS = "ss_units", "单位社保编码"
        MEMBERS = "members", "会员库"
        PREVIOUS = "previous", "上年度参保名单"

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "导入中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    kind = models.CharField("数据类型", max_length=20, choices=Kind.choices)
    year = models.PositiveSmallIntegerField("保障年度")
    file_name = models.CharField("文件名", max_length=255)
    stored_file = models.CharField(max_length=500, blank=True, editable=False)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_read = models.PositiveIntegerField("读取行数", default=0)
    rows_loaded = models.PositiveIntegerField("导入行数", default=0)
    rows_rejected = models.PositiveIntegerField("错误行数", default=0)
    rejected_report = models.CharField(max_length=500, blank=True, editable=False)
    error = models.TextField("失败原因", blank=True)
    started_by = models.ForeignKey(
        "accounts.User", verbose_name="操作人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("提交时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "参考数据导入"
        verbose_name_plural = "参考数据导入"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.year} {self.get_kind_display()} {self.file_name}"
