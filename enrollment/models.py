import datetime as dt
import unicodedata
from decimal import Decimal

from django.conf import settings

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from mutualaid.identifiers import canonical_mobile
from mutualaid.pii import pii_decrypt, pii_encrypt, pii_property


PERCENT = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class CoverageYear(models.Model):
    """A coverage year (保障年度) with every number the rules read (SPEC YEAR-1).

    Named by its start year: 2023 runs 2023-07-01 to 2024-06-30. Windows are half-open
    [opens, closes): "6月30日24时" is stored as 07-01 00:00 (SPEC YEAR-2).
    """

    year = models.PositiveSmallIntegerField("保障年度", unique=True)
    # Windows (SPEC YEAR-1, BAT-2, BAT-10)
    centralised_opens_at = models.DateTimeField("集中参保开始时间")
    centralised_closes_at = models.DateTimeField("集中参保通道关闭时间", help_text="例如 6月30日24时，填 7月1日 00:00")
    instant_opens_at = models.DateTimeField("即时参保通道开启时间")
    # Coverage (SPEC COV-1, PREM-2)
    coverage_start = models.DateField("保障起始日")
    coverage_end = models.DateField("保障终止日", help_text="含当日，保障至该日24时")
    half_year_price_from = models.DateField("半年保费起始日", help_text="起保日期在此日及以后的即时参保按半年保费计算")
    # Roster rules (SPEC VAL-2, VAL-3, VAL-4)
    female_age_limit = models.PositiveSmallIntegerField("女性年龄上限（未满）", default=55)
    male_age_limit = models.PositiveSmallIntegerField("男性年龄上限（未满）", default=60)
    headcount_change_percent = models.DecimalField(
        "清册增减幅度（±%）", max_digits=5, decimal_places=2, default=Decimal("10"), validators=PERCENT
    )
    ss_ratio_min_percent = models.DecimalField(
        "社保比例下限（%）", max_digits=5, decimal_places=2, default=Decimal("75"), validators=PERCENT
    )
    ss_ratio_max_percent = models.DecimalField(
        "社保比例上限（%）", max_digits=5, decimal_places=2, default=Decimal("100"), validators=PERCENT
    )
    small_unit_threshold = models.PositiveIntegerField(
        "小单位人数阈值", default=10, help_text="参保人数不超过此数的单位，社保比例须为100%"
    )
    # Waiting periods of instant enrolment, in days (SPEC COV-2)
    waiting_days_a = models.PositiveSmallIntegerField("A类（含附加疾病身故）免责期（天）", default=30)
    waiting_days_b = models.PositiveSmallIntegerField("B类免责期（天）", default=60)
    waiting_days_c = models.PositiveSmallIntegerField("C类免责期（天）", default=0)
    # SPEC PREM-1: A0, B0 and C0 together cost 190 − 10 = 180 a person at full-year prices. The item
    # prices themselves are plans.PlanItem rows of the year (SPEC PLAN-1).
    bundle_discount = models.DecimalField(
        "A0 B0 C0 同时参保优惠（元/人）", max_digits=8, decimal_places=2, default=Decimal("10"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    # Deadlines (SPEC PAY-1, CODE-4, BAT-4, PAY-2, ACC-3)
    payment_deadline_days = models.PositiveSmallIntegerField("缴费期限（自然日）", default=15)
    code_review_working_days = models.PositiveSmallIntegerField("参保编码审核时限（工作日）", default=1)
    batch_review_working_days = models.PositiveSmallIntegerField("清册审核时限（工作日）", default=2)
    voucher_review_working_days = models.PositiveSmallIntegerField("缴费凭证审核时限（工作日）", default=10)
    account_reset_working_days = models.PositiveSmallIntegerField("账号重置时限（工作日）", default=3)
    # The association's account (SPEC PAY-1)
    bank_account_name = models.CharField("收款户名", max_length=100)
    bank_account_number = models.CharField("收款账号", max_length=40)
    bank_name = models.CharField("开户行", max_length=100)
    updated_at = models.DateTimeField("最后更新时间", auto_now=True)

    class Meta:
        verbose_name = "保障年度"
        verbose_name_plural = "保障年度"
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(centralised_opens_at__lt=models.F("centralised_closes_at")),
                name="coverage_year_window_order",
            ),
            models.CheckConstraint(
                condition=models.Q(coverage_start__lt=models.F("coverage_end")),
                name="coverage_year_coverage_order",
            ),
        ]

    def __str__(self):
        return f"{self.year}年度"

    @property
    def banner(self) -> str:
        """SPEC BAT-1: 参保年度为2023年7月1日至2024年6月30日。"""
        start, end = self.coverage_start, self.coverage_end
        return f"参保年度为{start.year}年{start.month}月{start.day}日至{end.year}年{end.month}月{end.day}日。"

    @property
    def centralised_last_day(self) -> dt.date:
        """The last day of the centralised window, as the handbook says it: 6月30日24时 (SPEC YEAR-2)."""
        shanghai = timezone.get_default_timezone()
        return timezone.localtime(self.centralised_closes_at - dt.timedelta(microseconds=1), shanghai).date()

    def clean(self):
        errors = {}
        if self.centralised_opens_at and self.centralised_closes_at:
            if self.centralised_closes_at <= self.centralised_opens_at:
                errors["centralised_closes_at"] = "集中参保通道关闭时间须晚于开始时间"
        if self.coverage_start and self.coverage_end and self.coverage_end <= self.coverage_start:
            errors["coverage_end"] = "保障终止日须晚于起始日"
        if self.coverage_start and self.coverage_end and self.half_year_price_from:
            if not self.coverage_start < self.half_year_price_from <= self.coverage_end:
                errors["half_year_price_from"] = "半年保费起始日须在保障期内"
        if self.ss_ratio_min_percent is not None and self.ss_ratio_max_percent is not None:
            if self.ss_ratio_min_percent > self.ss_ratio_max_percent:
                errors["ss_ratio_min_percent"] = "社保比例下限不能高于上限"
        if errors:
            raise ValidationError(errors)

    def centralised_window_open(self, at=None) -> bool:
        at = at or timezone.now()
        return self.centralised_opens_at <= at < self.centralised_closes_at

    def instant_window_open(self, at=None) -> bool:
        at = at or timezone.now()
        end_of_coverage = timezone.make_aware(
            dt.datetime.combine(self.coverage_end + dt.timedelta(days=1), dt.time.min), timezone.get_default_timezone()
        )
        return self.instant_opens_at <= at < end_of_coverage



# --- Units, enrollment codes and applications (SPEC CODE, HND) ---------------------------------------


class UnitNature(models.TextChoices):
    """单位性质 (SPEC CODE-2)."""

    ENTERPRISE = "企业", "企业"
    GOVERNMENT = "机关", "机关"
    INSTITUTION = "事业单位", "事业单位"
    SOCIAL_GROUP = "社会团体", "社会团体"
    PRIVATE_NON_ENTERPRISE = "民办非企业单位", "民办非企业单位"
    OTHER = "其他", "其他"


class EconomicType(models.TextChoices):
    """经济类型 (SPEC HND-1, GB/T 12402)."""

    STATE = "国有", "国有"
    COLLECTIVE = "集体", "集体"
    PRIVATE = "私营", "私营"
    SHAREHOLDING = "股份制", "股份制"
    FOREIGN = "外商投资", "外商投资"
    HK_MACAO_TAIWAN = "港澳台投资", "港澳台投资"
    INDIVIDUAL = "个体", "个体"
    OTHER = "其他", "其他"


class Industry(models.TextChoices):
    """单位所属行业 (SPEC HND-1): the sections of GB/T 4754-2017."""

    A = "A", "A 农、林、牧、渔业"
    B = "B", "B 采矿业"
    C = "C", "C 制造业"
    D = "D", "D 电力、热力、燃气及水生产和供应业"
    E = "E", "E 建筑业"
    F = "F", "F 批发和零售业"
    G = "G", "G 交通运输、仓储和邮政业"
    H = "H", "H 住宿和餐饮业"
    I = "I", "I 信息传输、软件和信息技术服务业"  # noqa: E741 - the standard's letter
    J = "J", "J 金融业"
    K = "K", "K 房地产业"
    L = "L", "L 租赁和商务服务业"
    M = "M", "M 科学研究和技术服务业"
    N = "N", "N 水利、环境和公共设施管理业"
    O = "O", "O 居民服务、修理和其他服务业"  # noqa: E741
    P = "P", "P 教育"
    Q = "Q", "Q 卫生和社会工作"
    R = "R", "R 文化、体育和娱乐业"
    S = "S", "S 公共管理、社会保障和社会组织"
    T = "T", "T 国际组织"


def unit_name_key(name: str) -> str:
    """The form in which unit names are compared (SPEC CODE-3 [interpretation]): width-folded
    (NFKC: full-width letters, digits and brackets become half-width) and without any white space.
    有限公司 and 有限责任公司 stay different."""
    return "".join(unicodedata.normalize("NFKC", name or "").split())


class EnrollmentCode(models.Model):
    """参保编码 (SPEC CODE-5, CODE-6, CODE-8): 6 characters, bound to one platform account."""

    class Source(models.TextChoices):
        APPROVED = "approved", "在线申请"
        IMPORTED = "imported", "原平台导入"

    code = models.CharField("参保编码", max_length=6, unique=True)
    unit_name = models.CharField("登记单位名称", max_length=200, help_text="集团合并办理时为牵头单位")
    name_key = models.CharField(max_length=200, db_index=True, editable=False)
    uscc = models.CharField("统一社会信用代码", max_length=18, blank=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="平台账号",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enrollment_codes",
    )
    bound_at = models.DateTimeField("绑定时间", null=True, blank=True)
    source = models.CharField("来源", max_length=10, choices=Source.choices)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "参保编码"
        verbose_name_plural = "参保编码"
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.unit_name}"

    def save(self, *args, **kwargs):
        self.name_key = unit_name_key(self.unit_name)
        super().save(*args, **kwargs)


class Unit(models.Model):
    """参保单位: an employer enrolling under a code; a group enrols several under one (SPEC CODE-6)."""

    code = models.ForeignKey(EnrollmentCode, verbose_name="参保编码", on_delete=models.PROTECT, related_name="units")
    name = models.CharField("单位名称", max_length=200)
    name_key = models.CharField(max_length=200, db_index=True, editable=False)
    uscc = models.CharField("统一社会信用代码", max_length=18, blank=True)
    nature = models.CharField("单位性质", max_length=20, choices=UnitNature.choices, blank=True)
    committee = models.ForeignKey(
        "accounts.UnionOrganisation", verbose_name="工委名称", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    address = models.CharField("单位地址", max_length=200, blank=True)
    postcode = models.CharField("邮政编码", max_length=6, blank=True)
    phone = models.CharField("单位电话", max_length=30, blank=True)
    headcount = models.PositiveIntegerField("在职人数", null=True, blank=True)
    is_lead = models.BooleanField("牵头单位", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("最后更新时间", auto_now=True)

    class Meta:
        verbose_name = "参保单位"
        verbose_name_plural = "参保单位"
        ordering = ["code", "-is_lead", "name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.name_key = unit_name_key(self.name)
        super().save(*args, **kwargs)


class CodeApplication(models.Model):
    """在线申请参保编码 (SPEC CODE-1…4)."""

    class Status(models.TextChoices):
        PENDING = "pending", "申请中"
        APPROVED = "approved", "审核通过"
        REJECTED = "rejected", "审核不通过"

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="申请账号", on_delete=models.PROTECT, related_name="code_applications"
    )
    unit_name = models.CharField("单位名称", max_length=200)
    name_key = models.CharField(max_length=200, db_index=True, editable=False)
    committee = models.ForeignKey(
        "accounts.UnionOrganisation", verbose_name="工委名称", on_delete=models.PROTECT, related_name="+"
    )
    uscc = models.CharField("统一信用代码", max_length=18, blank=True)
    nature = models.CharField("单位性质", max_length=20, choices=UnitNature.choices)
    contact_name = models.CharField("联系人", max_length=50)
    address = models.CharField("单位地址", max_length=200)
    contact_mobile = models.CharField("联系人手机", max_length=11)
    postcode = models.CharField("邮政编码", max_length=6)
    contact_email = models.EmailField("联系人邮箱")
    headcount = models.PositiveIntegerField("在职人数")
    leader_name = models.CharField("负责人", max_length=50, blank=True)
    leader_mobile = models.CharField("负责人手机", max_length=11, blank=True)
    unit_phone = models.CharField("单位电话", max_length=30, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    reject_reason = models.TextField("审核不通过原因", blank=True)
    code = models.ForeignKey(
        EnrollmentCode, verbose_name="参保编码", null=True, blank=True, on_delete=models.PROTECT, related_name="applications"
    )
    submitted_at = models.DateTimeField("提交时间", default=timezone.now)
    updated_at = models.DateTimeField("最后更新时间", auto_now=True)
    reviewed_at = models.DateTimeField("审核时间", null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = "参保编码申请"
        verbose_name_plural = "参保编码申请"
        ordering = ["-updated_at"]
        constraints = [
            # SPEC CODE-3: one application in progress per unit name, whoever submits it; the
            # database has the last word when two arrive at once (or a double click).
            models.UniqueConstraint(
                fields=["name_key"], condition=models.Q(status="pending"), name="one_pending_application_per_unit_name"
            ),
        ]

    def __str__(self):
        return f"{self.unit_name}（{self.get_status_display()}）"

    def save(self, *args, **kwargs):
        self.name_key = unit_name_key(self.unit_name)
        super().save(*args, **kwargs)


class HandlerInfo(models.Model):
    """经办人填报 (SPEC HND-1): one per enrollment code; batches need it saved first."""

    code = models.OneToOneField(EnrollmentCode, verbose_name="参保编码", on_delete=models.CASCADE, related_name="handler_info")
    handler_name = models.CharField("经办人姓名", max_length=50)
    # SPEC SEC-4: encrypted like ID numbers; read and written through `handler_mobile` below.
    handler_mobile_cipher = models.TextField("经办人电话（密文）", editable=False)
    handler_phone = models.CharField("经办人固定电话", max_length=30, blank=True)
    handler_email = models.EmailField("经办人邮箱")
    economic_type = models.CharField("经济类型名称", max_length=20, choices=EconomicType.choices)
    union_level1 = models.ForeignKey(
        "accounts.UnionOrganisation", verbose_name="一级工会组织名称", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    union_level2 = models.ForeignKey(
        "accounts.UnionOrganisation", verbose_name="二级工会组织名称", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    address = models.CharField("单位地址", max_length=200)
    industry = models.CharField("单位所属行业名称", max_length=1, choices=Industry.choices)
    headcount = models.PositiveIntegerField("职工人数")
    saved_at = models.DateTimeField("保存时间", auto_now=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="保存账号", null=True, on_delete=models.PROTECT, related_name="+"
    )

    handler_mobile = pii_property(
        "handler_mobile_cipher", canonical_form=canonical_mobile, doc="经办人电话, a mobile that receives the SMS codes (SPEC HND-1, SEC-4)."
    )

    class Meta:
        verbose_name = "经办人信息"
        verbose_name_plural = "经办人信息"

    def __str__(self):
        return f"{self.code.code} {self.handler_name}"

    @property
    def has_union(self) -> bool:
        """未建会 is stored as no organisation in both union fields."""
        return self.union_level1_id is not None


class ChangeRequest(models.Model):
    """参保信息变更申请 (SPEC HND-2 [departure]: the handbook's printed form, online)."""

    class Item(models.TextChoices):
        RESEND_EMAIL = "resend_email", "重发邮件"
        ADDRESS = "address", "变更单位地址"
        HANDLER_NAME = "handler_name", "变更经办人姓名"
        HANDLER_PHONE = "handler_phone", "变更经办人固定电话"
        HANDLER_MOBILE = "handler_mobile", "变更经办人手机"
        UNIT_EMAIL = "unit_email", "变更单位邮箱（重置邮箱）"

    class Status(models.TextChoices):
        PENDING = "pending", "申请中"
        APPROVED = "approved", "审核通过"
        REJECTED = "rejected", "审核不通过"

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="申请账号", on_delete=models.PROTECT, related_name="change_requests"
    )
    code = models.ForeignKey(EnrollmentCode, verbose_name="参保编码", on_delete=models.PROTECT, related_name="change_requests")
    batch_number = models.CharField("参保批次号", max_length=20, blank=True)
    items = models.JSONField("变更事项", default=list)
    original_values = models.JSONField("原信息", default=dict)
    new_values = models.JSONField("新修改信息", default=dict)
    contact_name = models.CharField("单位联系人", max_length=50)
    contact_mobile = models.CharField("联系人手机", max_length=11)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    reject_reason = models.TextField("审核不通过原因", blank=True)
    submitted_at = models.DateTimeField("申请日期", default=timezone.now)
    reviewed_at = models.DateTimeField("审核时间", null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = "参保信息变更申请"
        verbose_name_plural = "参保信息变更申请"
        ordering = ["-submitted_at"]

    # SPEC SEC-4: 原信息 and 新修改信息 keep the handler's mobile as a cipher, as HandlerInfo keeps it
    # (the JSON is also what the audit trail copies); read the values through original_value / new_value.
    ENCRYPTED_ITEMS = frozenset({Item.HANDLER_MOBILE})

    def __str__(self):
        return f"{self.code.code} {self.items_display}"

    @classmethod
    def stored_values(cls, values: dict) -> dict:
        """`values` (item → value in clear) as original_values / new_values keep them."""
        return {item: pii_encrypt(value) if item in cls.ENCRYPTED_ITEMS and value else value for item, value in values.items()}

    @classmethod
    def _in_clear(cls, item: str, value: str) -> str:
        return pii_decrypt(value) if item in cls.ENCRYPTED_ITEMS and value else value

    def original_value(self, item: str) -> str:
        """原信息 of `item`, in clear ("" when it has none)."""
        return self._in_clear(item, self.original_values.get(item, ""))

    def new_value(self, item: str) -> str:
        """新修改信息 of `item`, in clear ("" when it has none)."""
        return self._in_clear(item, self.new_values.get(item, ""))

    @property
    def items_display(self) -> str:
        labels = dict(self.Item.choices)
        return "、".join(labels.get(item, item) for item in self.items)


class UnitNameChange(models.Model):
    """单位名称变更 (SPEC HND-3): on site only; a reviewer records it with the evidence."""

    code = models.ForeignKey(EnrollmentCode, verbose_name="参保编码", on_delete=models.PROTECT, related_name="name_changes")
    old_name = models.CharField("原单位名称", max_length=200)
    new_name = models.CharField("新单位名称", max_length=200)
    note = models.TextField("说明", blank=True, help_text="变更证明材料，如：准予变更登记通知书")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="办理人", on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField("办理时间", auto_now_add=True)

    class Meta:
        verbose_name = "单位名称变更"
        verbose_name_plural = "单位名称变更"
        ordering = ["-changed_at"]

    def __str__(self):
        return f"{self.old_name} → {self.new_name}"


# --- Batches and their 操作日志 (SPEC BAT) -----------------------------------------------------------

from .states import (  # noqa: E402
    ACTION_ORDER,
    PREMIUM_CONFIRMED_STATES,
    STATE_ACTIONS,
    STATE_BADGES,
    BatchAction,
    BatchKind,
    BatchState,
)


class BatchSequence(models.Model):
    """The last batch number given per year and kind (SPEC BAT-9): one row, bumped under a lock."""

    year = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=12, choices=BatchKind.choices)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["year", "kind"], name="batch_sequence_year_kind")]


class Batch(models.Model):
    """参保批次 (SPEC BAT): one enrolment submission of one code in one coverage year.

    `state` changes only through enrollment.services.batch_transition (SPEC BAT-3, BAT-7).
    `roster_version` goes up whenever people are added to or removed from the roster, so a
    validation result knows whether it is stale (SPEC VAL, preamble); ticks do not bump it.
    """

    number = models.CharField("参保批次", max_length=12, unique=True)
    coverage_year = models.ForeignKey(CoverageYear, verbose_name="保障年度", on_delete=models.PROTECT, related_name="batches")
    code = models.ForeignKey(EnrollmentCode, verbose_name="参保编码", on_delete=models.PROTECT, related_name="batches")
    unit_name = models.CharField("单位名称", max_length=200)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="平台账号", on_delete=models.PROTECT, related_name="batches"
    )
    kind = models.CharField("参保类型", max_length=12, choices=BatchKind.choices)
    state = models.CharField("状态", max_length=20, choices=BatchState.choices, default=BatchState.DRAFT, db_index=True)
    roster_version = models.PositiveIntegerField("清册版本", default=0, editable=False)
    # SPEC BAT-4: the roster version whose validation found nothing blocking; while it equals
    # roster_version, a 清册待校验 batch offers 【清册提交】.
    validated_version = models.PositiveIntegerField("校验通过的清册版本", null=True, blank=True, editable=False)
    submitted_at = models.DateTimeField("清册提交时间", null=True, blank=True)
    coverage_start = models.DateField("起保日期", null=True, blank=True)  # SPEC COV-1, set at 清册提交
    coverage_end = models.DateField("终保日期", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("最后更新时间", auto_now=True)

    class Meta:
        verbose_name = "参保批次"
        verbose_name_plural = "参保批次"
        ordering = ["-updated_at", "-pk"]
        constraints = [
            # SPEC BAT-2: a code has at most one centralised batch per year.
            models.UniqueConstraint(
                fields=["code", "coverage_year"],
                condition=models.Q(kind="centralised"),
                name="batch_one_centralised_per_code_year",
            ),
        ]
        indexes = [models.Index(fields=["account", "-updated_at"], name="batch_account_updated")]

    def __str__(self):
        return self.number

    @property
    def is_centralised(self) -> bool:
        return self.kind == BatchKind.CENTRALISED

    def allows(self, action: str) -> bool:
        """SPEC BAT-3: may the unit do `action` (a BatchAction) in the batch's current state?"""
        if action == BatchAction.SUBMIT and self.state == BatchState.DRAFT:
            # SPEC BAT-4: 清册待校验 offers 【清册提交】 once a validation of this very roster passed.
            return self.validated_version is not None and self.validated_version == self.roster_version
        return action in STATE_ACTIONS[self.state]

    @property
    def actions(self) -> list[BatchAction]:
        """The actions of the 操作 column, in the page's order (UI.md: only what the state allows)."""
        return [action for action in ACTION_ORDER if self.allows(action)]

    @property
    def roster_editable(self) -> bool:
        return self.allows(BatchAction.EDIT_ROSTER)

    @property
    def badge_class(self) -> str:
        return STATE_BADGES[self.state]

    @property
    def premium_confirmed(self) -> bool:
        """提交确认保费 done and the batch neither withdrawn nor cancelled (SPEC PREM-3)."""
        return self.state in PREMIUM_CONFIRMED_STATES

    @property
    def payment_awaited(self) -> bool:
        """The premium is confirmed and no voucher uploaded yet: the payment deadline runs (SPEC PAY-1)."""
        return self.state == BatchState.AWAITING_PAYMENT

    @property
    def voucher_rejected(self) -> bool:
        """The last voucher was rejected: the unit uploads a new one (SPEC PAY-4)."""
        return self.state == BatchState.PAYMENT_REJECTED


class BatchLog(models.Model):
    """操作日志 (SPEC BAT-7): one row per transition, written in the transition's transaction.

    SPEC SEC-9: append-only (a PostgreSQL trigger refuses UPDATE, DELETE and TRUNCATE to the
    application's role) and it outlives its batch: 【批次删除】 (SPEC BAT-5) keeps the rows, which hold
    the batch's number as text. `batch` therefore has no foreign-key constraint and nothing happens to
    the rows when the batch goes: SET_NULL would be an UPDATE the trigger refuses, CASCADE a DELETE.
    The id it keeps is never given to another batch (ids come from a sequence on PostgreSQL and from
    AUTOINCREMENT on SQLite), so `batch.log` still finds exactly a live batch's rows."""

    batch = models.ForeignKey(
        Batch, verbose_name="参保批次", on_delete=models.DO_NOTHING, db_constraint=False, related_name="log"
    )
    batch_number = models.CharField("参保批次号", max_length=12, editable=False)
    at = models.DateTimeField("操作时间", default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField("操作", max_length=30)
    from_state = models.CharField("原状态", max_length=20, choices=BatchState.choices, blank=True)
    # Blank only on the row of 【批次删除】, after which the batch has no state.
    to_state = models.CharField("新状态", max_length=20, choices=BatchState.choices, blank=True)
    reason = models.TextField("原因", blank=True)

    class Meta:
        verbose_name = "操作日志"
        verbose_name_plural = "操作日志"
        ordering = ["at", "pk"]

    def save(self, *args, **kwargs):
        if not self.batch_number:
            self.batch_number = self.batch.number
        super().save(*args, **kwargs)

    def __str__(self):
        return f"{self.batch_number} {self.action}"


# --- Per-batch figures for the statistics (SPEC BO-3) --------------------------------------


class BatchTotals(models.Model):
    """The figures of one batch that the statistics add up, so that a year with 6,000,000 people
    enrolled is summed over its batches, never over its people. Written by the services that change
    them (enrollment.services.batch_totals_*: 清册提交 in rosters, 提交确认保费 and 批次撤回 in plans);
    which batches count is decided by Batch.state when reading."""

    batch = models.OneToOneField(Batch, verbose_name="参保批次", primary_key=True, on_delete=models.CASCADE, related_name="totals")
    people = models.PositiveIntegerField("参保人数", default=0)
    social_security_people = models.PositiveIntegerField("社保人员人数", default=0)
    submitted_on = models.DateField("清册提交日期", null=True, blank=True, db_index=True)
    union_level1 = models.ForeignKey(
        "accounts.UnionOrganisation", verbose_name="一级工会组织", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    union_level2 = models.ForeignKey(
        "accounts.UnionOrganisation", verbose_name="二级工会组织", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    premium = models.DecimalField("确认保费", max_digits=12, decimal_places=2, default=Decimal("0"))
    premium_confirmed_on = models.DateField("保费确认日期", null=True, blank=True)

    class Meta:
        verbose_name = "批次统计"
        verbose_name_plural = "批次统计"

    def __str__(self):
        return f"{self.batch_id}: {self.people}人"


class BatchItemTotal(models.Model):
    """People and premium of one plan item in one batch, written at 提交确认保费 (SPEC BO-3: people and
    premiums by plan item). `premium` is the item's price times its people; the bundle's discount
    (PREM-1) is its own row with the code "优惠" and a negative premium."""

    batch = models.ForeignKey(Batch, verbose_name="参保批次", on_delete=models.CASCADE, related_name="item_totals")
    code = models.CharField("保障项目", max_length=4)
    people = models.PositiveIntegerField("人数")
    premium = models.DecimalField("保费", max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = "批次项目统计"
        verbose_name_plural = "批次项目统计"
        constraints = [models.UniqueConstraint(fields=["batch", "code"], name="batch_item_total_once")]

    def __str__(self):
        return f"{self.batch_id} {self.code}"


# --- Who works on a queue item (SPEC BO-1: "mine" and "unassigned") -------------------------


class QueueAssignment(models.Model):
    """A back-office queue item taken by a reviewer (【领取】), so that two reviewers do not work the same
    item. The item is any model of a review queue, named by its content type — the proxy's own for
    BatchReview, OverdueBatch and ReceiptReview (ContentType.get_for_model(..., for_concrete_model=False)),
    so one batch can be held in 清册审核 and in 专用收据审核 by different reviewers. One holder per item
    (the unique constraint is the last word when two reviewers click at once); a decision releases it
    (enrollment.assignments)."""

    content_type = models.ForeignKey("contenttypes.ContentType", verbose_name="审核队列", on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField("事项")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="处理人", on_delete=models.CASCADE, related_name="queue_assignments"
    )
    assigned_at = models.DateTimeField("领取时间", default=timezone.now)

    class Meta:
        verbose_name = "待办分配"
        verbose_name_plural = "待办分配"
        constraints = [models.UniqueConstraint(fields=["content_type", "object_id"], name="queue_assignment_one_holder")]
        indexes = [models.Index(fields=["reviewer", "content_type"], name="queue_assignment_reviewer")]

    def __str__(self):
        return f"{self.content_type_id}:{self.object_id} → {self.reviewer_id}"
