"""SPEC OPS-1: what a restored portal must still do, checked from inside it (manage.py restore_verify,
run with the restored database as DATABASE_URL, the restored media as MEDIA_ROOT and the escrowed keys):
ID numbers decrypt and hash back to their stored hash, sealed files open, a unit administrator logs in.

It lives here, beside the key rotation, for the same reason: it reads the ciphers of every app before
payments in the chain (rosters' entries and reference tables)."""
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import authenticate
from django.test import RequestFactory

from mutualaid.pii import PiiError, hash_key_id_of, pii_decrypt, pii_hash
from mutualaid.sealed import SealedFileError, is_sealed, open_sealed
from payments.key_rotation import REFERENCE_TABLES, SEALED_FOLDERS
from rosters.models import RosterEntry


@dataclass
class RestoreCheck:
    ids_checked: dict[str, int] = field(default_factory=dict)
    sealed_files_checked: int = 0
    login_ok: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.login_ok and not self.problems


def _ids_check(model, *, samples: int, check: RestoreCheck) -> None:
    """The first `samples` rows of `model` (physical order: a restore's rows, no sort of millions): each
    cipher decrypts with the configured PII keys and its number hashes, with the configured hash key of
    the stored hash's id, to exactly the stored hash — so both kinds of key are the right ones."""
    name = model._meta.label
    checked = 0
    for id_hash, id_cipher in model.objects.order_by().values_list("id_hash", "id_cipher")[:samples]:
        try:
            number = pii_decrypt(id_cipher)
        except PiiError as error:
            check.problems.append(f"{name}: {error}")
            continue
        if pii_hash(number, key_id=hash_key_id_of(id_hash)) != id_hash:
            check.problems.append(f"{name}: 证件号码解密后与其哈希不符（哈希密钥不对）")
            continue
        checked += 1
    check.ids_checked[name] = checked


def restore_check(*, username: str, password: str, samples: int = 100, sealed_files: int = 20) -> RestoreCheck:
    """Checks the database and MEDIA_ROOT this process is configured with; never writes but the
    login's own rows (last_login, django-axes' access log)."""
    check = RestoreCheck()
    for model in (RosterEntry, *(model for model, _keys in REFERENCE_TABLES)):
        _ids_check(model, samples=samples, check=check)

    media = Path(settings.MEDIA_ROOT)
    for folder in SEALED_FOLDERS:
        for path in sorted((media / folder).rglob("*")) if (media / folder).is_dir() else []:
            if check.sealed_files_checked >= sealed_files:
                break
            if not path.is_file():
                continue
            if not is_sealed(path):
                check.problems.append(f"{path.relative_to(media)}: 未加密")
                continue
            try:
                with open_sealed(path) as stream:  # every chunk's tag is checked as it is read
                    while stream.read(1 << 20):
                        pass
            except (SealedFileError, PiiError, ValueError) as error:
                check.problems.append(f"{path.relative_to(media)}: {error}")
                continue
            check.sealed_files_checked += 1

    # The login of the portal's own backends (password hash, lockout check), as the login page calls it.
    request = RequestFactory().post("/accounts/login/")
    user = authenticate(request, username=username, password=password)
    check.login_ok = user is not None and user.is_active
    if not check.login_ok:
        check.problems.append(f"账号 {username} 无法登录")
    return check
