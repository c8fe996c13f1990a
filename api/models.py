"""API tokens (SPEC API-1).

A token is shown once, when it is made; the database keeps only its SHA-256 digest. The secret is 256
random bits, so a digest cannot be reversed or guessed, and no server key is needed: the token
survives the rotation of the PII keys (SEC-10), which re-hashes every keyed hash. `prefix` (the
token's first characters) lets the unit tell its tokens apart in the list without the secret.
"""
import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """One API token of a unit account, for one of its enrollment codes (SPEC API-1): it sees exactly
    what the account sees for that code. Revoked or expired, it authenticates nothing; it is never
    deleted (the audit trail names it)."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="平台账号", on_delete=models.PROTECT, related_name="api_tokens"
    )
    code = models.ForeignKey(
        "enrollment.EnrollmentCode", verbose_name="参保编码", on_delete=models.PROTECT, related_name="api_tokens"
    )
    name = models.CharField("名称", max_length=50)
    prefix = models.CharField("前缀", max_length=16, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField("创建时间", default=timezone.now, editable=False)
    expires_at = models.DateTimeField("有效期至")
    last_used_at = models.DateTimeField("最后使用", null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API令牌"
        verbose_name_plural = "API令牌"
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.name}（{self.prefix}…）"

    def save(self, *args, **kwargs):
        # SPEC API-1, SEC-8: staff never hold a token, however the row is made (the service refuses
        # them with a message; this is the last word for any other path, a shell or a fixture).
        if self._state.adding and not self.account.is_unit_admin:
            raise ValueError("API tokens belong to unit administrators only (SPEC API-1).")
        super().save(*args, **kwargs)

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and self.expires_at > at

    @property
    def last_day(self) -> dt.date:
        """The last day the token works (Asia/Shanghai): the day chosen as 到期日期. `expires_at` is the
        midnight after it, so the list shows what the unit chose rather than the next day's 00:00."""
        return timezone.localtime(self.expires_at - dt.timedelta(microseconds=1)).date()

    @property
    def state_label(self) -> str:
        """状态 of the list (SPEC API-1)."""
        if self.revoked_at is not None:
            return "已撤销"
        if self.expires_at <= timezone.now():
            return "已过期"
        return "有效"
