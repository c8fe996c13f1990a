"""The second factor of a login (SPEC SEC-8): a TOTP device (an authenticator app) and one-time backup
codes, with django-otp's TOTP and static devices.

Every staff account (reviewers, union staff, superusers: `User.is_staff`) must pass it before any
back-office page; a unit administrator may turn it on, and from then on its login asks for it too.
Wrong codes are failed logins of the (account, address) pair (SPEC ACC-4): the views report them to
django-axes, which counts and locks as it does for wrong passwords.

The devices are kept out of django-auditlog (their rows hold the secret and the codes, and change at
every use); enrolment and reset write their own events here.
"""
import segno
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import User
from .services import AccountError

DEVICE_NAME = "身份验证器"
BACKUP_DEVICE_NAME = "备用验证码"
BACKUP_CODE_COUNT = 10


def second_factor_required(user: User) -> bool:
    """Whether `user` must pass a code at login and before any page (SPEC SEC-8): every staff account,
    and a unit administrator who turned it on (has a confirmed device)."""
    return user.is_staff or second_factor_enabled(user)


def second_factor_enabled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def totp_secret_text(device: TOTPDevice) -> str:
    """The secret as an authenticator app asks for it when typed in: base32, in groups of four."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_qr_data_uri(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as a QR code, an SVG data URI (allowed by the CSP's img-src)."""
    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


@transaction.atomic
def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed device `user` is enrolling: the one already started (a reload keeps the secret
    the app may have scanned), else a new one with a fresh secret. Raises AccountError if the account
    already has a confirmed device."""
    User.objects.select_for_update().get(pk=user.pk)  # two tabs start one device, not two
    if second_factor_enabled(user):
        raise AccountError("您的账号已开启两步验证。")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


@transaction.atomic
def totp_enrolment_confirm(*, user: User, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm `user`'s device with a code from the app, and give it a fresh set of backup codes.

    Returns the device (to mark the session verified) and the backup codes, to be shown once. Raises
    AccountError if there is no enrolment under way or the code is wrong (the caller counts it)."""
    User.objects.select_for_update().get(pk=user.pk)
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        raise AccountError("请重新开始绑定：页面已过期或已在其他窗口完成。")
    if not device.verify_token(_digits(code)):
        raise AccountError("验证码错误，请输入身份验证器中当前显示的6位数字。")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    codes = _backup_codes_replace(user=user)
    _audit(user, actor=user, text="开启两步验证（绑定身份验证器，生成备用验证码）")
    return device, codes


def _backup_codes_replace(*, user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def second_factor_verify(*, user: User, code: str):
    """The device that accepts `code` for `user`: the authenticator app's 6 digits, or one of the
    backup codes, which is spent (deleted) by its use. None if no device accepts it."""
    code = code.strip().replace(" ", "").lower()
    if not code:
        return None
    for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
        if code.isdigit() and device.verify_token(code):
            return device
    for device in StaticDevice.objects.select_for_update().filter(user=user, confirmed=True):
        if device.verify_token(code):
            if device.token_set.count() == 0:
                _audit(user, actor=user, text="备用验证码已全部用完")
            return device
    return None


def backup_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def second_factor_reset(*, account: User, acting_user: User) -> None:
    """Remove every device of `account` (its phone was lost or replaced): its sessions stop being
    verified at once (django-otp checks the device on each request), and its next login walks through
    enrolment again (staff) or asks for no code (a unit administrator). Superusers only; audited with
    the acting user. Raises AccountError."""
    if not acting_user.is_superuser:
        raise AccountError("只有超级管理员可以重置两步验证。")
    account = User.objects.select_for_update().get(pk=account.pk)
    removed = TOTPDevice.objects.filter(user=account).delete()[0] + StaticDevice.objects.filter(user=account).delete()[0]
    if not removed:
        raise AccountError("该账号尚未绑定身份验证器，无需重置。")
    _audit(account, actor=acting_user, text="重置两步验证（删除身份验证器和备用验证码）")


def _digits(code: str) -> str:
    return code.strip().replace(" ", "")


def _audit(account: User, *, actor: User, text: str) -> None:
    from auditlog.models import LogEntry

    LogEntry.objects.log_create(
        account,
        force_log=True,
        action=LogEntry.Action.UPDATE,
        actor=actor,
        changes={"两步验证": ["", text]},
        changes_text=text,
        additional_data={"second_factor": text},
    )
