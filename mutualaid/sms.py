"""SMS: a pluggable gateway and the verification-code service (registration, CODE-2, HND-1).

- `send_sms` hands a text to the backend named by settings.SMS_BACKEND (a class with
  `send(mobile, text)`); the console backend logs it (demo, tests).
- `sms_code_send` sends a 6-digit code valid 5 minutes, at most one per 60 s and five per hour per
  number, SMS_PER_IP_PER_HOUR per IP address and SMS_BUDGET_PER_HOUR in all (SPEC SEC-3);
  `sms_code_verify` accepts it once. Codes are stored as keyed hashes only.
"""
import datetime as dt
import logging
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import SmsCode
from .pii import hash_key_id_of, mask_mobile, pii_hash, pii_hash_keys
from .quotas import window_count

logger = logging.getLogger(__name__)

CODE_VALID_FOR = dt.timedelta(minutes=5)
RESEND_AFTER = dt.timedelta(seconds=60)
MAX_SENDS_PER_HOUR = 5
MAX_WRONG_TRIES = 5

# Messages sent by the console backend, newest last, so tests and the demo can read the code.
outbox: list[tuple[str, str]] = []


class SmsError(Exception):
    """The code could not be sent or was not accepted; `message` is shown to the user as is."""

    def __init__(self, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class ConsoleSmsBackend:
    def send(self, mobile: str, text: str) -> None:
        outbox.append((mobile, text))
        logger.info("SMS to %s: %s", mask_mobile(mobile), text)


def send_sms(*, mobile: str, text: str) -> None:
    import_string(settings.SMS_BACKEND)().send(mobile, text)


def _code_hash(mobile: str, purpose: str, code: str, key_id: int | None = None) -> str:
    return pii_hash(f"sms:{purpose}:{mobile}:{code}", key_id=key_id)


def _hourly_count(name: str, now: dt.datetime) -> tuple[int, int]:
    """Count one more in this clock hour's counter `name` (SPEC SEC-3); (the count, the seconds left
    in the hour). add() then incr() is atomic on Redis, so parallel senders cannot both slip through."""
    hour_start = now.replace(minute=0, second=0, microsecond=0)
    count = window_count(f"sms-limit:{name}:{hour_start:%Y%m%d%H}", timeout=3600 + 60)
    return count, int((hour_start + dt.timedelta(hours=1) - now).total_seconds()) + 1


def _check_ip_and_budget(*, ip: str, now: dt.datetime) -> None:
    """SPEC SEC-3: at most SMS_PER_IP_PER_HOUR sends from one IP address and SMS_BUDGET_PER_HOUR
    in all; the budget running out is an alarm for the operators (logged once an hour)."""
    if ip:
        count, wait = _hourly_count(f"ip:{ip}", now)
        if count > settings.SMS_PER_IP_PER_HOUR:
            raise SmsError("本网络1小时内获取验证码次数已达上限，请稍后再试。", retry_after=wait)
    count, wait = _hourly_count("all", now)
    if count > settings.SMS_BUDGET_PER_HOUR:
        if count == settings.SMS_BUDGET_PER_HOUR + 1:
            logger.critical(
                "SMS ALARM: hourly SMS budget exhausted (%s sends, SMS_BUDGET_PER_HOUR=%s); sending stopped "
                "until the next hour",
                count - 1,
                settings.SMS_BUDGET_PER_HOUR,
            )
        raise SmsError("短信发送繁忙，请稍后再试。", retry_after=wait)


@transaction.atomic
def sms_code_send(*, mobile: str, purpose: str, ip: str = "") -> int:
    """Send a new code to `mobile`; returns the seconds until another may be sent.

    Raises SmsError (with retry_after) when the number asked too recently (60 s) or too often
    (5 an hour), when `ip` (the requester's address) sent too many, or when the hourly budget is
    spent (SPEC SEC-3).
    """
    now = timezone.now()
    # Rows of this number, locked, so two quick clicks cannot both pass the limits.
    recent = list(
        SmsCode.objects.select_for_update()
        .filter(mobile=mobile, created_at__gte=now - dt.timedelta(hours=1))
        .order_by("-created_at")
    )
    if recent and now - recent[0].created_at < RESEND_AFTER:
        wait = int((RESEND_AFTER - (now - recent[0].created_at)).total_seconds()) + 1
        raise SmsError(f"验证码已发送，请{wait}秒后再试。", retry_after=wait)
    if len(recent) >= MAX_SENDS_PER_HOUR:
        wait = int((recent[-1].created_at + dt.timedelta(hours=1) - now).total_seconds()) + 1
        raise SmsError("该手机号1小时内获取验证码次数已达上限，请稍后再试。", retry_after=wait)
    _check_ip_and_budget(ip=ip, now=now)
    code = f"{secrets.randbelow(1_000_000):06d}"
    SmsCode.objects.create(
        mobile=mobile,
        purpose=purpose,
        code_hash=_code_hash(mobile, purpose, code),
        created_at=now,
        expires_at=now + CODE_VALID_FOR,
    )
    text = f"【上海市职工保障互助会】您的验证码为{code}，5分钟内有效。如非本人操作，请忽略本短信。"
    transaction.on_commit(lambda: send_sms(mobile=mobile, text=text))
    return int(RESEND_AFTER.total_seconds())


def sms_code_verify(*, mobile: str, purpose: str, code: str) -> None:
    """Accept `code` once for (mobile, purpose); raises SmsError with the reason otherwise.

    A wrong try is counted (and committed) before the error is raised: five spend the code.
    """
    problem = _sms_code_consume(mobile=mobile, purpose=purpose, code=code)
    if problem:
        raise SmsError(problem)


@transaction.atomic
def _sms_code_consume(*, mobile: str, purpose: str, code: str) -> str | None:
    now = timezone.now()
    latest = (
        SmsCode.objects.select_for_update()
        .filter(mobile=mobile, purpose=purpose, used_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    if latest is None:
        return "请先获取短信验证码。"
    if latest.expires_at <= now:
        return "验证码已过期，请重新获取。"
    if latest.failed_attempts >= MAX_WRONG_TRIES:
        return "验证码错误次数过多，请重新获取。"
    # SPEC SEC-10: a code sent just before the hash key changed is checked with the key it was hashed with.
    key_id = hash_key_id_of(latest.code_hash)
    if key_id not in pii_hash_keys() or not secrets.compare_digest(
        latest.code_hash, _code_hash(mobile, purpose, (code or "").strip(), key_id)
    ):
        latest.failed_attempts += 1
        latest.save(update_fields=["failed_attempts"])
        return "验证码错误，请核对后重新输入。"
    latest.used_at = now
    latest.save(update_fields=["used_at"])
    return None
