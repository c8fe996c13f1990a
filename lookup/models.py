"""参保查询 (SPEC LOOK-1, LOOK-2): a look-up in progress, its audit rows and the 参保证明's tokens.

None of these holds an ID number or a mobile in clear: the person is named by the keyed hash of the
canonical ID (mutualaid.pii, SEC-1, SEC-10) and by a reference to their roster entry.
"""
import secrets

from django.db import models


def new_token() -> str:
    """256 random bits, URL-safe: unguessable, and nothing in it says whom it is about."""
    return secrets.token_urlsafe(32)


class LookupRequest(models.Model):
    """One 参保查询 between step 1 (姓名 + 证件号码 + captcha) and the result (SPEC LOOK-1).

    Written on every look-up that passes step 1, whether or not the person is enrolled (LOOK-2): on the
    neutral path `entry` is empty, and no code is ever accepted. The browser holds only `token` (in its
    session). The tries and the expiry of the SMS step are counted here for both paths alike, so the
    answers to a wrong, late or sixth code never differ between them."""

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    id_hash = models.CharField(max_length=72)  # SPEC SEC-10: "<key id>:" + 64 hex digits (no prefix for key 1)
    entry = models.ForeignKey(
        "rosters.RosterEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name="参保人员"
    )
    ip = models.GenericIPAddressField("IP地址", null=True, blank=True)
    created_at = models.DateTimeField("查询时间")
    expires_at = models.DateTimeField("验证码有效期至")
    failed_attempts = models.PositiveSmallIntegerField("验证码错误次数", default=0)
    verified_at = models.DateTimeField("验证时间", null=True, blank=True)

    class Meta:
        verbose_name = "参保查询"
        verbose_name_plural = "参保查询"


class LookupAudit(models.Model):
    """SPEC LOOK-2, SEC-3: one row per look-up step (who by hash, from which IP, what came of it).

    Append-only by the application: `save` refuses to change a stored row and `delete` refuses; a plain
    model rather than the django-auditlog trail, because a look-up has no object to hang an entry on
    when the person is not enrolled. The ID number is never stored: only its keyed hash, whose key id
    is its prefix (SEC-10)."""

    class Outcome(models.TextChoices):
        CODE_QUEUED = "code_queued", "已发送验证码"
        NOT_ENROLLED = "not_enrolled", "未参保"
        NAME_MISMATCH = "name_mismatch", "姓名不符"
        NO_MOBILE = "no_mobile", "未登记手机号"
        LIMITED = "limited", "超过查询次数"
        VERIFIED = "verified", "验证码正确"
        WRONG_CODE = "wrong_code", "验证码错误"
        PROOF = "proof", "下载参保证明"

    created_at = models.DateTimeField("时间", auto_now_add=True, db_index=True)
    id_hash = models.CharField(max_length=72, blank=True)
    ip = models.GenericIPAddressField("IP地址", null=True, blank=True)
    outcome = models.CharField("结果", max_length=16, choices=Outcome.choices)

    class Meta:
        verbose_name = "参保查询记录"
        verbose_name_plural = "参保查询记录"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("LookupAudit rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("LookupAudit rows are append-only")


class CoverageProof(models.Model):
    """The 参保证明 PDF's public verification link (SPEC LOOK-2): a random token, never an ID. The page
    reads the entry and batch now, so a proof of a batch since withdrawn or cancelled says so."""

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    batch = models.ForeignKey("enrollment.Batch", on_delete=models.CASCADE, related_name="+", verbose_name="参保批次")
    entry = models.ForeignKey(
        "rosters.RosterEntry", null=True, on_delete=models.SET_NULL, related_name="+", verbose_name="参保人员"
    )
    created_at = models.DateTimeField("生成时间", auto_now_add=True)

    class Meta:
        verbose_name = "参保证明"
        verbose_name_plural = "参保证明"
