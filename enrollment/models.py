import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


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

