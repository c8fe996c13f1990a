"""Account actions (SPEC ACC): registration, e-mail confirmation, resets, locks.

Each takes keyword arguments, writes its audit row in the same transaction (django-auditlog with the
acting user) and raises AccountError with a Chinese message for the user.
"""
import datetime as dt
import secrets

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from mutualaid.audit import acting_as
from mutualaid.errors import DomainError
from mutualaid.sms import SmsError, sms_code_verify

from .models import Role, UnionOrganisation, User

EMAIL_CONFIRM_SALT = "accounts.email-confirm"
EMAIL_CONFIRM_MAX_AGE = 3 * 24 * 3600
TEMPORARY_PASSWORD_VALID_FOR = dt.timedelta(days=3)
SMS_PURPOSE_REGISTER = "register"
# Lockout numbers (SPEC ACC-4): an (account, address) pair after 5 failures in 15 minutes — counted
# by django-axes with settings.AXES_FAILURE_LIMIT / AXES_COOLOFF_TIME — and an account after 100
# failures in an hour from any addresses.
ACCOUNT_FAILURE_LIMIT = 100
ACCOUNT_FAILURE_WINDOW = dt.timedelta(hours=1)
_TEMPORARY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"


class AccountError(DomainError):
    """The accounts app's domain error (STYLE.md §2): `message` is shown to the user as it is."""


# Registration and e-mail confirmation (SPEC ACC-2) ------------------------------------------------


def account_register(
    *,
    username: str,
    password: str,
    unit_name: str,
    uscc: str,
    mobile: str,
    sms_code: str,
    email: str,
    union_organisation: UnionOrganisation | None,
    request=None,
) -> User:
    """Create an active unit account and e-mail it a confirmation link.

    The form has checked the fields' formats; this checks the SMS code and that the account name is
    free (the database has the last word: a unique index on the lower-cased name). Raises AccountError.
    The SMS check runs in its own transaction first, so a wrong code counts even though we refuse.
    """
    if User.objects.filter(username__iexact=username).exists():
        raise AccountError("该账号名已被使用，请换一个。")
    try:
        sms_code_verify(mobile=mobile, purpose=SMS_PURPOSE_REGISTER, code=sms_code)
    except SmsError as error:
        raise AccountError(error.message) from error
    user = User(
        username=username,
        role=Role.UNIT_ADMIN,
        unit_name=unit_name,
        first_name=unit_name[:150],
        uscc=uscc,
        mobile=mobile,
        email=email,
        union_organisation=union_organisation,
        is_active=True,
    )
    user.set_password(password)
    with transaction.atomic(), acting_as(user):
        user.save()
        email_confirmation_send(user=user, request=request)
    return user


def email_confirmation_token(user: User) -> str:
    return signing.dumps({"user": user.pk, "email": user.email}, salt=EMAIL_CONFIRM_SALT)


def email_confirmation_send(*, user: User, request=None) -> None:
    """Send the link that confirms `user.email` (valid 3 days), after the transaction commits."""
    path = reverse("accounts:email_confirm", args=[email_confirmation_token(user)])
    link = request.build_absolute_uri(path) if request else path
    body = render_to_string("accounts/email/confirm_email.txt", {"user": user, "link": link})
    transaction.on_commit(
        lambda: send_mail("【上海市职工保障互助会】请确认您的邮箱", body, settings.DEFAULT_FROM_EMAIL, [user.email])
    )


@transaction.atomic
def email_confirm(*, token: str) -> User:
    """Confirm the e-mail address the token was issued for. Raises AccountError if the link is
    broken, expired (3 days) or for an address the account no longer has."""
    try:
        data = signing.loads(token, salt=EMAIL_CONFIRM_SALT, max_age=EMAIL_CONFIRM_MAX_AGE)
    except signing.SignatureExpired as error:
        raise AccountError("确认链接已过期，请登录后重新发送确认邮件。") from error
    except signing.BadSignature as error:
        raise AccountError("确认链接无效，请检查邮件中的链接是否完整。") from error
    user = User.objects.select_for_update().filter(pk=data.get("user"), is_active=True).first()
    if user is None or user.email != data.get("email"):
        raise AccountError("确认链接已失效：账号邮箱已变更，请重新发送确认邮件。")
    if user.email_confirmed_at is None:
        user.email_confirmed_at = timezone.now()
        with acting_as(user):
            user.save(update_fields=["email_confirmed_at"])
    return user


# Resets and unlocks by union staff and reviewers (SPEC ACC-3, ACC-4, BO-2) --------------------------


def accounts_in_scope(*, acting_user: User):
    """The unit accounts `acting_user` looks after: union staff those under their organisation (a
    level-1 organisation includes its level-2 ones), reviewers the units without a union (未建会),
    superusers all."""
    units = User.objects.filter(role=Role.UNIT_ADMIN, is_superuser=False)
    if acting_user.is_superuser:
        return units
    if acting_user.role == Role.UNION_STAFF and acting_user.union_organisation_id:
        return units.filter(union_organisation_id__in=acting_user.union_organisation.scope_ids())
    if acting_user.role == Role.REVIEWER:
        return units.filter(union_organisation__isnull=True)
    return units.none()


def _require_in_scope(*, account: User, acting_user: User) -> None:
    if not accounts_in_scope(acting_user=acting_user).filter(pk=account.pk).exists():
        raise AccountError("该账号不在您的管理范围内。")


def temporary_password_generate() -> str:
    """Ten characters, easy to read out on the phone, with at least one letter and one digit."""
    while True:
        password = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(10))
        if any(c.isdigit() for c in password) and any(c.isalpha() for c in password):
            return password


@transaction.atomic
def account_reset_password(*, account: User, acting_user: User) -> str:
    """Give `account` a one-time temporary password (SPEC ACC-3 [departure]) and return it, to be
    shown once. The handler gets it by e-mail; the next login must change it; every session of the
    account ends (Django checks the password hash on each request). Raises AccountError."""
    _require_in_scope(account=account, acting_user=acting_user)
    account = User.objects.select_for_update().get(pk=account.pk)
    password = temporary_password_generate()
    account.set_password(password)
    account.must_change_password = True
    account.temporary_password_expires_at = timezone.now() + TEMPORARY_PASSWORD_VALID_FOR
    account.temporary_password_used_at = None
    with acting_as(acting_user):
        account.save()
        _clear_failures(account)
    if account.email:
        body = render_to_string(
            "accounts/email/temporary_password.txt",
            {"account": account, "password": password, "expires_at": account.temporary_password_expires_at},
        )
        transaction.on_commit(
            lambda: send_mail(
                "【上海市职工保障互助会】您的账号密码已重置", body, settings.DEFAULT_FROM_EMAIL, [account.email]
            )
        )
    return password


@transaction.atomic
def account_unlock(*, account: User, acting_user: User) -> None:
    """End every lock on `account` (SPEC ACC-4): its (account, address) pairs and the account-wide
    count. Raises AccountError if the account is outside `acting_user`'s scope."""
    _require_in_scope(account=account, acting_user=acting_user)
    account = User.objects.select_for_update().get(pk=account.pk)
    with acting_as(acting_user):
        _clear_failures(account)


def _clear_failures(account: User) -> None:
    axes_reset(username=account.username)
    account.failures_cleared_at = timezone.now()
    account.save(update_fields=["failures_cleared_at"])


# Locks (SPEC ACC-4) ---------------------------------------------------------------------------------


def _cool_off() -> dt.timedelta:
    return settings.AXES_COOLOFF_TIME


def pair_locked_until(*, username: str, ip_address: str) -> dt.datetime | None:
    """When the lock of this (account, address) pair ends, or None if it is not locked."""
    threshold = timezone.now() - _cool_off()
    attempt = (
        AccessAttempt.objects.filter(username=username, ip_address=ip_address, attempt_time__gte=threshold)
        .order_by("-attempt_time")
        .first()
    )
    if attempt is None or attempt.failures_since_start < settings.AXES_FAILURE_LIMIT:
        return None
    return attempt.attempt_time + _cool_off()


def account_locked_until(*, username: str) -> dt.datetime | None:
    """When the account-wide lock ends (100 failures within an hour from any addresses), or None."""
    from axes.models import AccessFailureLog

    now = timezone.now()
    since = now - ACCOUNT_FAILURE_WINDOW
    cleared_at = User.objects.filter(username=username).values_list("failures_cleared_at", flat=True).first()
    if cleared_at and cleared_at > since:
        since = cleared_at
    times = list(
        AccessFailureLog.objects.filter(username=username, attempt_time__gte=since)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)[:ACCOUNT_FAILURE_LIMIT]
    )
    if len(times) < ACCOUNT_FAILURE_LIMIT:
        return None
    # Locked until the oldest of the last hundred failures leaves the window.
    return times[-1] + ACCOUNT_FAILURE_WINDOW


def lock_states(*, usernames: list[str]) -> dict[str, dt.datetime]:
    """For a page of accounts: username → when its lock ends, for those locked now (two queries)."""
    from axes.models import AccessFailureLog
    from django.db.models import Count, Max, Min

    now = timezone.now()
    states: dict[str, dt.datetime] = {}
    pairs = (
        AccessAttempt.objects.filter(
            username__in=usernames,
            attempt_time__gte=now - _cool_off(),
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
        )
        .values("username")
        .annotate(last=Max("attempt_time"))
    )
    for row in pairs:
        states[row["username"]] = row["last"] + _cool_off()
    heavy = (
        AccessFailureLog.objects.filter(username__in=usernames, attempt_time__gte=now - ACCOUNT_FAILURE_WINDOW)
        .values("username")
        .annotate(count=Count("id"), first=Min("attempt_time"))
        .filter(count__gte=ACCOUNT_FAILURE_LIMIT)
    )
    for row in heavy:
        until = account_locked_until(username=row["username"])
        if until and until > states.get(row["username"], now):
            states[row["username"]] = until
    return states


# Logging in with a temporary password ------------------------------------------------------------


def temporary_password_check(*, account: User) -> None:
    """Raises AccountError if `account` logs in with a temporary password that expired.

    SPEC ACC-3: the temporary password is spent by the successful change (account_password_changed
    replaces it), not by the login, so a failed attempt on 修改密码 or a logout does not cost the
    unit a second reset; it still lapses at temporary_password_expires_at."""
    if not account.must_change_password:
        return
    if account.temporary_password_expires_at and account.temporary_password_expires_at <= timezone.now():
        raise AccountError("临时密码已过期，请联系上级工会或职保会重新重置密码。")


@transaction.atomic
def account_password_changed(*, account: User) -> None:
    """After the user chose a new password: a temporary one no longer applies."""
    account.must_change_password = False
    account.temporary_password_expires_at = None
    account.temporary_password_used_at = None
    account.save(update_fields=["must_change_password", "temporary_password_expires_at", "temporary_password_used_at"])


# Registration follow-ups and the self-service reset (SPEC ACC-2, ACC-3) ---------------------------

EMAIL_CONFIRM_RESEND_AFTER = 60  # seconds between two confirmation mails the unit asks for


def email_confirmation_resend(*, user: User, request=None) -> None:
    """Send `user` a new confirmation link for its current e-mail, at most once a minute (a double
    click sends one). Raises AccountError if there is no address, it is confirmed already, or the
    last resend was less than a minute ago."""
    from django.core.cache import cache

    if not user.email:
        raise AccountError("账号未登记联系人邮箱，无法发送确认邮件。")
    if user.email_confirmed_at is not None:
        raise AccountError("您的邮箱已确认，无需重新发送。")
    if not cache.add(f"accounts:email-confirm-resent:{user.pk}", True, EMAIL_CONFIRM_RESEND_AFTER):
        raise AccountError("确认邮件刚刚已发送，请1分钟后再试，并留意垃圾邮件箱。")
    email_confirmation_send(user=user, request=request)


@transaction.atomic
def account_password_reset_by_email(*, account: User) -> None:
    """After the handler chose a new password through an e-mailed link (SPEC ACC-3 [departure]): a
    temporary password no longer applies and every login lock on the account ends (SPEC ACC-4).
    The audit row names the account itself as the actor."""
    with acting_as(account):
        account_password_changed(account=account)
        _clear_failures(account)
