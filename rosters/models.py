"""Reference data per coverage year (SPEC REF): loaded in bulk every year for the whole city.

Each table is keyed by (year, …) and, on PostgreSQL, list-partitioned by year (migration 0002), so a
year's data is loaded into an unindexed staging table with COPY, indexed, and swapped in with
ATTACH/DETACH in one short transaction (rosters/reference/). ID numbers are kept as a keyed hash
(look-ups) and a cipher (display); the mask is computed when shown (ARCHITECTURE.md "Data rules").
These rows are written in bulk only: a load is audited as one event with its counts (SPEC X-2).
"""
from django.db import models

from mutualaid.identifiers import canonical_mobile
from mutualaid.jobs import Job, job_status_field, job_sweep_index
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
    """建议清册 (SPEC REF-1): one row per person and year, from social security.

    On PostgreSQL the database holds faster shapes than this model states (migrations 0005 and 0010,
    database-level only): the key is (id_hash, year) INCLUDE the look-up's columns, the unit index is
    (ss_unit_code, year), and id_hash and ss_unit_code compare in the "C" collation. A migration that
    rebuilds these from the model must keep those shapes (see rosters/reference/)."""

    pk = models.CompositePrimaryKey("year", "id_hash")
    year = models.PositiveSmallIntegerField("保障年度")
    id_hash = models.CharField(max_length=72)  # SPEC SEC-10: "<key id>:" + 64 hex digits (mutualaid.pii)
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
    id_hash = models.CharField(max_length=72)  # SPEC SEC-10: "<key id>:" + 64 hex digits (mutualaid.pii)
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
    id_hash = models.CharField(max_length=72)  # SPEC SEC-10: "<key id>:" + 64 hex digits (mutualaid.pii)
    id_cipher = models.TextField()
    id_type = models.CharField("证件类型", max_length=10, default="身份证")
    name = models.CharField("姓名", max_length=50)

    id_number = pii_property("id_cipher", "id_hash")

    class Meta:
        verbose_name = "上年度参保名单"
        verbose_name_plural = "上年度参保名单"
        indexes = [models.Index(fields=["year", "id_hash"], name="previous_year_hash")]


class ReferenceLoad(Job):
    """One load of a reference file (SPEC X-2: a bulk write audited as one event with its counts),
    also the progress record the back-office page polls."""

    class Kind(models.TextChoices):
        SUGGESTED = "suggested", "建议清册"
        SS_UNITS = "ss_units", "单位社保编码"
        MEMBERS = "members", "会员库"
        PREVIOUS = "previous", "上年度参保名单"

    status = job_status_field(running="导入中")
    task_name = "rosters.tasks.load_reference_file"
    interrupted_message = "导入中断（处理程序意外停止），原有数据未改变，请重新上传。"
    progress_reset = {"rows_read": 0}

    kind = models.CharField("数据类型", max_length=20, choices=Kind.choices)
    year = models.PositiveSmallIntegerField("保障年度")
    file_name = models.CharField("文件名", max_length=255)
    stored_file = models.CharField(max_length=500, blank=True, editable=False)
    rows_read = models.PositiveIntegerField("读取行数", default=0)
    rows_loaded = models.PositiveIntegerField("导入行数", default=0)
    rows_rejected = models.PositiveIntegerField("错误行数", default=0)
    rejected_report = models.CharField(max_length=500, blank=True, editable=False)
    started_by = models.ForeignKey(
        "accounts.User", verbose_name="操作人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("提交时间", auto_now_add=True)

    class Meta:
        verbose_name = "参考数据导入"
        verbose_name_plural = "参考数据导入"
        ordering = ["-created_at"]
        indexes = [job_sweep_index("reference_load_sweep")]

    def __str__(self):
        return f"{self.year} {self.get_kind_display()} {self.file_name}"

    def job_actor(self):
        return self.started_by


# --- Rosters (SPEC ROS) --------------------------------------------------------------------------------


class IdType(models.TextChoices):
    """证件类型 (SPEC ROS-2, ROS-3)."""

    RESIDENT = "身份证", "身份证"
    OTHER = "非身份证", "非身份证"


class RosterEntry(models.Model):
    """One person of a batch's roster (参保清册, SPEC ROS).

    The ID number is kept as cipher + keyed hash like reference data (ARCHITECTURE.md "Data rules"),
    the mobile as a cipher only (SPEC SEC-4: nothing looks people up by mobile); birth date and sex
    are in clear because the rules need them. Entries are written in bulk by the
    importer (COPY on PostgreSQL), so they are not tracked one by one by the audit trail: every
    roster operation writes one audit event on its batch with its counts (SPEC X-2,
    `rosters.services.roster_audit`).
    """

    # No index of its own: every index below starts with batch (a plain one would only slow COPY).
    batch = models.ForeignKey(
        "enrollment.Batch", verbose_name="参保批次", on_delete=models.CASCADE, related_name="entries", db_index=False
    )
    id_type = models.CharField("证件类型", max_length=4, choices=IdType.choices)
    id_hash = models.CharField(max_length=72)  # SPEC SEC-10: "<key id>:" + 64 hex digits (mutualaid.pii)
    id_cipher = models.TextField()
    name = models.CharField("姓名", max_length=50)
    birth_date = models.DateField("出生日期")
    sex = models.CharField("性别", max_length=1, choices=Sex.choices)
    # SPEC SEC-4: encrypted like the ID number; read and written through `mobile` below.
    mobile_cipher = models.TextField("手机号（密文）", blank=True, editable=False)
    has_social_security = models.BooleanField("是否有社保", default=False)
    work_status = models.CharField("职退状态", max_length=2, choices=WorkStatus.choices, default=WorkStatus.UNKNOWN)
    is_suggested = models.BooleanField("是否建议名单", default=False)
    ss_unit_code = models.CharField("单位社保编码", max_length=20, blank=True)
    personal_ss_number = models.CharField("个人社保登记号", max_length=30, blank=True)
    medical_active = models.BooleanField("医保享受在职待遇", default=False)
    # SPEC ROS-5: the three names of the 姓名匹配异常 table, and whether a mismatch is still open.
    imported_name = models.CharField("本地导入姓名", max_length=50, blank=True)
    previous_name = models.CharField("上年度建议清册姓名", max_length=50, blank=True)
    member_name = models.CharField("会员库姓名", max_length=50, blank=True)
    name_mismatch = models.BooleanField("姓名匹配异常", default=False)
    coverage_start = models.DateField("起保日期", null=True, blank=True)
    coverage_end = models.DateField("终保日期", null=True, blank=True)
    # Ticks and confirmations of the validation result page: stored with the entry, they do not make
    # a validation result stale (SPEC VAL preamble). VAL-2 社保尚在缴金; VAL-5 人员确认.
    # db_default: the importer writes rows with COPY / raw SQL naming only the columns it fills.
    still_contributing = models.BooleanField("社保尚在缴金", db_default=False, help_text="即医保享受在职待遇")
    unmatched_confirmed = models.BooleanField("无单位社保编码人员已确认", db_default=False)
    created_at = models.DateTimeField("添加时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    id_number = pii_property("id_cipher", "id_hash")
    mobile = pii_property("mobile_cipher", canonical_form=canonical_mobile, doc="手机号 (SPEC SEC-4: stored encrypted).")

    class Meta:
        verbose_name = "参保人员"
        verbose_name_plural = "参保人员"
        constraints = [
            # SPEC ROS-4: the same person (type and number) once per batch.
            models.UniqueConstraint(fields=["batch", "id_hash", "id_type"], name="roster_entry_once_per_batch"),
        ]
        indexes = [
            models.Index(fields=["batch", "name"], name="roster_entry_batch_name"),
            models.Index(fields=["batch", "ss_unit_code"], name="roster_entry_batch_ss_unit"),
            # The roster page (SPEC ROS-6) lists a batch in the order people were added, 15 at a time:
            # without this PostgreSQL walks the primary key through every other batch's rows.
            models.Index(fields=["batch", "id"], name="roster_entry_batch_order"),
            # 【姓名匹配异常，请人工确认】 (SPEC ROS-5) is asked on every roster page: a tiny index of the
            # open mismatches answers at once instead of reading the whole batch.
            models.Index(fields=["batch"], condition=models.Q(name_mismatch=True), name="roster_entry_open_mismatch"),
        ]

    def __str__(self):
        return self.name


class EnrolmentRegistry(models.Model):
    """The year's enrolment registry (SPEC ROS-11): one row per person held by a submitted batch.
    UNIQUE (year, id_hash) is the final guarantee of one enrolment per person and year; rows are
    written at 清册提交 and released by withdrawal (BAT-6) or cancellation (BAT-11)."""

    year = models.PositiveSmallIntegerField("保障年度")
    id_hash = models.CharField(max_length=72)  # SPEC SEC-10: "<key id>:" + 64 hex digits (mutualaid.pii)
    # No index of its own: Meta's registry_batch serves look-ups by batch (a second one slowed the
    # 50,000-row insert at 清册提交 by about a tenth).
    batch = models.ForeignKey(
        "enrollment.Batch", verbose_name="参保批次", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField("占用时间", auto_now_add=True)

    class Meta:
        verbose_name = "年度参保登记"
        verbose_name_plural = "年度参保登记"
        constraints = [models.UniqueConstraint(fields=["year", "id_hash"], name="registry_one_person_per_year")]
        indexes = [models.Index(fields=["batch"], name="registry_batch")]


class RosterImport(Job):
    """One run of 导入人员名单 (SPEC ROS-1): a file upload, the previous year's list, the union
    members or JSON rows posted to the roster API (API-2). It is the progress record the page polls, the summary line's counts, the bad rows
    (ROS-10) and the bulk operation's audit event (X-2). The uploaded file is kept 7 days for the
    marked copy (X-1), then purged with its problems."""

    class Source(models.TextChoices):
        FILE = "file", "上传本地参保名单文件"
        PREVIOUS = "previous", "获取上年度参保名单"
        MEMBERS = "members", "获取“会员库”本单位工会会员名单"
        ROWS = "rows", "接口提交的JSON参保名单"  # SPEC API-2: rows posted to the roster API

    status = job_status_field(running="导入中", refused="文件未导入")
    task_name = "rosters.tasks.run_roster_import"
    interrupted_message = "处理中断，请重新导入。"
    progress_reset = {"rows_done": 0}

    batch = models.ForeignKey("enrollment.Batch", verbose_name="参保批次", on_delete=models.CASCADE, related_name="imports")
    account = models.ForeignKey("accounts.User", verbose_name="操作人", on_delete=models.PROTECT, related_name="+")
    source = models.CharField("来源", max_length=10, choices=Source.choices)
    file_name = models.CharField("文件名", max_length=255, blank=True)
    stored_file = models.CharField(max_length=500, blank=True, editable=False)
    rows_total = models.PositiveIntegerField("总行数", null=True, blank=True)
    rows_done = models.PositiveIntegerField("已处理", default=0)
    rows_read = models.PositiveIntegerField("数据读取", default=0)
    rows_imported = models.PositiveIntegerField("成功导入", default=0)
    rows_added = models.PositiveIntegerField("新增加", default=0)
    rows_updated = models.PositiveIntegerField("修改", default=0)
    rows_failed = models.PositiveIntegerField("导入失败", default=0)
    # [{"row": 12, "column": "证件号码", "value": "3101*****4279", "reason": "…"}], values masked except an invalid
    # mobile, shown as typed so that the unit sees what is wrong with it (ROS-10).
    problems = models.JSONField("错误明细", default=list, blank=True)
    error = models.TextField("文件错误", blank=True)
    # SPEC SEC-3, ROS-11: the uploader's address, for the audit of a naming made later in the background.
    remote_addr = models.GenericIPAddressField("操作IP", null=True, blank=True)
    created_at = models.DateTimeField("提交时间", auto_now_add=True)

    class Meta:
        verbose_name = "参保名单导入"
        verbose_name_plural = "参保名单导入"
        ordering = ["-created_at", "-pk"]
        indexes = [job_sweep_index("roster_import_sweep")]

    def __str__(self):
        return f"{self.batch.number} {self.get_source_display()}"

    def job_actor(self):
        return self.account

    @property
    def summary(self) -> str:
        """SPEC ROS-1: the handbook's closing line of the import log."""
        return (
            f"-----处理完成 数据读取：{self.rows_read}人，成功导入：{self.rows_imported}条信息"
            f"（新增加{self.rows_added}人，修改{self.rows_updated}人），导入失败：{self.rows_failed}条信息。-----"
        )


class ValidationRun(Job):
    """One run of 【清册校验】 (SPEC BAT-4, VAL): the progress the page polls while the batch is
    清册校验中, then the result for the roster version it checked (`roster_version`): adding or
    removing people makes it stale (the batch's roster_version moves on), ticks do not.

    `findings` is rosters.rules.ValidationOutcome.as_json(): counts and tables (VAL-3, VAL-4), not
    lists of people; the result page lists the people with live queries of the same rules."""

    status = job_status_field(running="校验中")
    task_name = "rosters.tasks.run_validation"
    interrupted_message = "清册校验中断（处理程序意外停止），参保清册未改变。请重新点击【清册校验】。"
    progress_reset = {"steps_done": 0}

    batch = models.ForeignKey("enrollment.Batch", verbose_name="参保批次", on_delete=models.CASCADE, related_name="validations")
    roster_version = models.PositiveIntegerField("清册版本")
    steps_total = models.PositiveSmallIntegerField("总步骤", default=0)
    steps_done = models.PositiveSmallIntegerField("已完成步骤", default=0)
    findings = models.JSONField("校验结果", default=dict, blank=True)
    blocking = models.BooleanField("有须处理的问题", default=False)
    started_by = models.ForeignKey("accounts.User", verbose_name="操作人", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("开始时间", auto_now_add=True)

    class Meta:
        verbose_name = "清册校验"
        verbose_name_plural = "清册校验"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["batch", "-created_at"], name="validation_batch_latest"),
            job_sweep_index("validation_run_sweep"),
        ]

    def __str__(self):
        return f"{self.batch.number} {self.get_status_display()}"

    def job_actor(self):
        return self.started_by

    def job_failed(self) -> None:
        """A validation that failed puts its batch back to 清册待校验 with the reason (SPEC BAT-4)."""
        from .validation import validation_failed

        validation_failed(run=self)


# --- 清册审核 in the back office (SPEC VAL-7, BO-1) ----------------------------------------------------

from enrollment.models import Batch  # noqa: E402  (rosters may import enrollment: ARCHITECTURE.md)


class BatchReview(Batch):
    """The batches 职保会待审核 as the back office's review queue (rosters/admin.py): a proxy of Batch,
    so the queue has its own permissions (rosters.view_batchreview, rosters.change_batchreview = the
    right to review) without a table of its own. The decision moves the batch through
    rosters.submission.batch_review_approve / batch_review_reject, never through the form."""

    class Meta:
        proxy = True
        verbose_name = "清册审核"
        verbose_name_plural = "清册审核"
