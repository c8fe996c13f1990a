from django.db import models
from django.utils import timezone


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
    code_hash = models.CharField(max_length=64)
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
