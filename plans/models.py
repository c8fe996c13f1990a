"""Plan items, a batch's selection and its confirmed premium (SPEC PLAN, PREM, COV-2).

Money is Decimal with two places (SPEC PREM-5). The arithmetic lives in plans/premiums.py as pure
functions; these models only hold what the reviewers configure (PlanItem), what the unit chose
(PlanSelection) and what 【提交确认保费】 fixed (BatchPremium with its PremiumLine rows).
"""
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from enrollment.models import Batch, CoverageYear
from enrollment.states import BatchState

from .premiums import yuan_text


class Series(models.TextChoices):
    """The three series of PLAN-1, with the handbook's column titles."""

    A = "A", "在职住院"
    B = "B", "特种重病"
    C = "C", "意外伤害"


class PlanItem(models.Model):
    """One of the twelve items of a coverage year (SPEC PLAN-1, YEAR-1): A0…C3 with the full-year price
    per person and the benefits 【保费一览表】 shows. Reviewers edit them; prices are locked once a batch
    of the year has confirmed its premium (plans.services.plan_item_price_locked)."""

    coverage_year = models.ForeignKey(
        CoverageYear, verbose_name="保障年度", on_delete=models.CASCADE, related_name="plan_items"
    )
    code = models.CharField("编号", max_length=2)
    series = models.CharField("保障类别", max_length=1, choices=Series.choices)
    layer = models.PositiveSmallIntegerField("档次", help_text="0 为基本保障层，1–3 为加强保障层")
    price = models.DecimalField(
        "保障费（元/人/年）", max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    benefits = models.TextField("待遇", help_text="每行一条，按 1. 2. … 的顺序显示")

    class Meta:
        verbose_name = "保障项目"
        verbose_name_plural = "保障项目"
        ordering = ["coverage_year", "layer", "series"]
        constraints = [models.UniqueConstraint(fields=["coverage_year", "code"], name="plan_item_year_code")]

    def __str__(self):
        return f"{self.coverage_year.year} {self.code}"

    @property
    def is_basic(self) -> bool:
        return self.layer == 0


class PlanSelection(models.Model):
    """保障项目选择 of a batch (SPEC PLAN-2): the chosen item codes, e.g. "A0 B0 C0 A3 B3 C3".
    `source` is the centralised batch whose confirmed selection an instant batch must use (PREM-4)."""

    batch = models.OneToOneField(Batch, verbose_name="参保批次", on_delete=models.CASCADE, related_name="plan_selection")
    codes = models.CharField("保障项目", max_length=40)
    source = models.ForeignKey(
        Batch, verbose_name="沿用集中参保批次", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField("最后更新时间", auto_now=True)

    class Meta:
        verbose_name = "保障项目选择"
        verbose_name_plural = "保障项目选择"

    def __str__(self):
        return f"{self.batch.number}: {self.codes}"

    @property
    def code_list(self) -> list[str]:
        return self.codes.split()


class BatchPremium(models.Model):
    """保费信息 as 【提交确认保费】 fixed it (SPEC PREM-3): the selection, the price tier and the prices
    applied (a snapshot, so 保费详细 stays what the unit confirmed), the headcounts and the total, the
    state to return to on 重新选择保障项目 (BAT-6) and the payment deadline (PAY-1)."""

    batch = models.OneToOneField(Batch, verbose_name="参保批次", on_delete=models.CASCADE, related_name="premium")
    codes = models.CharField("保障项目", max_length=40)
    full_year = models.BooleanField("全年保费", help_text="否：半年保费（SPEC PREM-2）")
    prices = models.JSONField("全年费用标准", help_text="确认时各项目的全年费用标准（元/人）；半年保费为其一半")
    bundle_discount = models.DecimalField("A0 B0 C0 同时参保优惠（元/人）", max_digits=10, decimal_places=2)
    social_security_people = models.PositiveIntegerField("社保人员人数")
    other_people = models.PositiveIntegerField("非社保人员人数")
    total = models.DecimalField("保费总计", max_digits=12, decimal_places=2)
    approved_state = models.CharField("确认前状态", max_length=20, choices=BatchState.choices)
    confirmed_at = models.DateTimeField("确认时间")
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="确认人", on_delete=models.PROTECT, related_name="+"
    )
    payment_due = models.DateField("缴费截止日期")

    class Meta:
        verbose_name = "保费信息"
        verbose_name_plural = "保费信息"

    def __str__(self):
        return f"{self.batch.number} {yuan_text(self.total)}元"

    @property
    def code_list(self) -> list[str]:
        return self.codes.split()

    @property
    def people(self) -> int:
        return self.social_security_people + self.other_people


class PremiumLine(models.Model):
    """One line of the 保费信息 table (SPEC PREM-3): 参加项目, 费用标准, 优惠金额, 社保人员 / 非社保人员
    人数 and 实际费用, 合计费用. Kept per batch so statistics add lines, not people."""

    premium = models.ForeignKey(BatchPremium, verbose_name="保费信息", on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField("顺序")
    label = models.CharField("参加项目", max_length=20)
    standard = models.DecimalField("费用标准", max_digits=10, decimal_places=2)
    discount = models.DecimalField("优惠金额", max_digits=10, decimal_places=2)
    social_security_people = models.PositiveIntegerField("社保人员人数")
    social_security_amount = models.DecimalField("社保人员实际费用", max_digits=12, decimal_places=2)
    other_people = models.PositiveIntegerField("非社保人员人数")
    other_amount = models.DecimalField("非社保人员实际费用", max_digits=12, decimal_places=2)
    amount = models.DecimalField("合计费用", max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = "保费明细行"
        verbose_name_plural = "保费明细行"
        ordering = ["premium", "position"]

    def __str__(self):
        return f"{self.label} {yuan_text(self.amount)}元"
