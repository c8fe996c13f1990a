"""API tokens (SPEC API-1): made, revoked, and checked on every API request, each audited.

- `api_token_create` makes a token for one of the account's enrollment codes, expiring within a year,
  and returns it with its secret, which is shown once and never stored (ApiToken keeps a digest).
- `api_token_revoke` ends a token at once; a second revoke changes nothing.
- `api_token_authenticate` finds the token of an `Authorization: Bearer` value: active, its account a
  unit administrator still active and still holding the code. Each use updates `last_used_at` and
  writes one audit entry at most once a minute per token (one conditional UPDATE decides which
  request writes it), so a busy HR system cannot flood the audit trail.

`api_idempotent` runs a POST once per `Idempotency-Key` header (a retried request gets what the first
one made).

Staff accounts never get a token (API-1, SEC-8): the create service refuses them, and a token whose
account became staff later authenticates nothing.
"""
import datetime as dt
import hashlib
import secrets
import time

from django.db import transaction
from django.utils import timezone

from enrollment.selectors import account_codes
from mutualaid.audit import acting_as, audit_access, printable
from mutualaid.errors import DomainError

from .models import ApiToken

TOKEN_SCHEME = "mhb_"  # 互助保障: tells a leaked token apart from other secrets (secret scanners)
PREFIX_LENGTH = len(TOKEN_SCHEME) + 6
MAX_DAYS = 366  # SPEC API-1: at most one year (a leap year's 366 days included)
USE_AUDIT_INTERVAL = dt.timedelta(minutes=1)


class ApiTokenError(DomainError):
    """A token could not be made or revoked; `message` is shown to the unit as it is."""


def api_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def api_token_create(*, account, code_id: int, name: str, expires_on: dt.date, remote_addr: str = "") -> tuple[ApiToken, str]:
    """A new token of `account` for its code `code_id` (SPEC API-1), valid to the end of `expires_on`
    (Asia/Shanghai), at most a year from today. Returns (token, secret): the secret is shown once.
    Raises ApiTokenError for a staff account, a code that is not the account's, a blank name or an
    expiry in the past or beyond a year."""
    if not account.is_unit_admin:
        raise ApiTokenError("后台账号不能创建API令牌。")
    code = account_codes(account=account).filter(pk=code_id).first()
    if code is None:
        raise ApiTokenError("请选择本账号的参保编码。")
    name = " ".join((name or "").split())
    if not name:
        raise ApiTokenError("请填写令牌名称。")
    today = timezone.localdate()
    if expires_on <= today:
        raise ApiTokenError("有效期须晚于今天。")
    if expires_on > today + dt.timedelta(days=MAX_DAYS):
        raise ApiTokenError(f"有效期最长一年（不晚于{today + dt.timedelta(days=MAX_DAYS):%Y年%-m月%-d日}）。")
    secret = TOKEN_SCHEME + secrets.token_urlsafe(32)  # 256 random bits
    expires_at = timezone.make_aware(dt.datetime.combine(expires_on + dt.timedelta(days=1), dt.time.min))
    with transaction.atomic(), acting_as(account):  # SPEC API-1: the create is audited (django-auditlog)
        token = ApiToken.objects.create(
            account=account,
            code=code,
            name=name[:50],
            prefix=secret[:PREFIX_LENGTH],
            token_hash=api_token_digest(secret),
            expires_at=expires_at,
        )
        audit_access(token, actor=account, ip=remote_addr, text=f"创建API令牌 {token.prefix}…（参保编码 {code.code}）")
    return token, secret


def api_token_revoke(*, token: ApiToken, acting_user, remote_addr: str = "") -> ApiToken:
    """【撤销】 (SPEC API-1): the token authenticates nothing from now on. Idempotent: revoking a
    revoked token changes nothing and writes nothing (UI.md: a double click does nothing twice)."""
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            with acting_as(acting_user):
                locked.save(update_fields=["revoked_at"])
                audit_access(locked, actor=acting_user, ip=remote_addr, text=f"撤销API令牌 {locked.prefix}…")
    return locked


def api_token_authenticate(*, secret: str, remote_addr: str = "", path: str = "") -> ApiToken | None:
    """The active token whose secret is `secret`, or None (SPEC API-1, API-3: the caller answers 401).
    Records the use: last_used_at and an audit entry, at most once a minute per token."""
    if not secret.startswith(TOKEN_SCHEME) or len(secret) > 100 or not secret.isascii():
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("account", "code")
        .filter(token_hash=api_token_digest(secret), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None:
        return None
    account = token.account
    if not account.is_active or not account.is_unit_admin or token.code.account_id != account.pk:
        return None
    # One UPDATE with a condition: of many parallel requests, exactly one per minute writes the entry.
    stale = ApiToken.objects.filter(pk=token.pk).filter(
        _never_used_or_before(now - USE_AUDIT_INTERVAL)
    ).update(last_used_at=now)
    if stale:
        token.last_used_at = now
        shown = printable(path)[:200]  # a path may hold NUL (PostgreSQL refuses it in text) or other controls
        audit_access(token, actor=account, ip=remote_addr, text=f"使用API令牌 {token.prefix}…：{shown}", path=shown)
    return token


def _never_used_or_before(moment):
    from django.db.models import Q

    return Q(last_used_at__isnull=True) | Q(last_used_at__lt=moment)


def account_tokens(*, account):
    """The account's tokens, newest first, for 【API令牌】."""
    return ApiToken.objects.filter(account=account).select_related("code").order_by("-created_at", "-pk")


# --- Idempotency-Key (a retried POST does nothing twice) -------------------------------------------------

IDEMPOTENCY_TTL = 24 * 3600  # seconds a key is remembered
IDEMPOTENCY_WAIT = 10.0  # seconds a retry waits for the first request of its key to finish
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,64}$"  # printable ASCII without spaces, as the OpenAPI document says
_PENDING = "pending"


class IdempotencyBusy(Exception):
    """The first request of this key is still running (or failed without an answer): retry later."""


def api_idempotent(*, token: ApiToken, key: str, operation: str, make) -> tuple[str, bool]:
    """(what `make()` returned, replayed) — `make()` runs once per (token, operation, key) within a day
    (UI.md "Dialogs": a double click does nothing twice; for an HR system, a POST retried after a lost
    answer). `make` returns a short string naming what it made (a batch number, an import id); a
    retry gets that string back with replayed=True. Without a key, `make()` simply runs. A refusal
    raised by `make` forgets the key, so the request can be sent again once its cause is fixed.
    Raises IdempotencyBusy when the first request of the key is still running after IDEMPOTENCY_WAIT."""
    from django.core.cache import cache

    if not key:
        return make(), False
    cache_key = f"api:idempotency:{token.pk}:{operation}:{hashlib.sha256(key.encode()).hexdigest()}"
    if cache.add(cache_key, _PENDING, IDEMPOTENCY_TTL):
        try:
            made = make()
        except BaseException:
            cache.delete(cache_key)
            raise
        cache.set(cache_key, made, IDEMPOTENCY_TTL)
        return made, False
    deadline = time.monotonic() + IDEMPOTENCY_WAIT
    value = cache.get(cache_key)
    while value == _PENDING and time.monotonic() < deadline:
        time.sleep(0.2)
        value = cache.get(cache_key)
    if value is None or value == _PENDING:
        raise IdempotencyBusy
    return value, True
