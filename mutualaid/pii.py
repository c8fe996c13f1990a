"""Personal data: keyed hashes, encryption at rest and masks (SPEC X-1, ARCHITECTURE.md "Data rules").

- `pii_hash` (HMAC-SHA256 with PII_HASH_KEY) serves every equality look-up, join and unique
  constraint; the same value always gives the same hash, so reference data and rosters match by hash.
- `pii_encrypt` / `pii_decrypt` (AES-GCM with PII_KEY, a fresh nonce each time) keep the value itself.
- Masks are computed from the decrypted value when a page or export shows it, never stored.
- `pii_property` is a model attribute that keeps cipher and hash in step (ID numbers; mobiles, which
  nobody looks up by, have a cipher only: SPEC SEC-4).
"""
import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .identifiers import Canonical, canonical_id_number

_FORMAT_VERSION = "1"
_NONCE_BYTES = 12
_TAG_BYTES = 16

ID_TYPE_RESIDENT = "resident"  # 身份证
ID_TYPE_OTHER = "other"  # 非身份证


class PiiError(Exception):
    """A stored cipher could not be decrypted (wrong key or damaged data)."""


@lru_cache(maxsize=4)
def _aead(key_text: str) -> AESGCM:
    try:
        key = base64.b64decode(key_text, validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("PII_KEY must be 32 bytes, base64-encoded.") from exc
    if len(key) != 32:
        raise ImproperlyConfigured("PII_KEY must be 32 bytes, base64-encoded.")
    return AESGCM(key)


def pii_hash(value: str) -> str:
    """The keyed hash of `value` (64 hex characters); normalise the value first."""
    return hmac.new(settings.PII_HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def pii_encrypt(value: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    cipher = _aead(settings.PII_KEY).encrypt(nonce, value.encode(), None)
    return _FORMAT_VERSION + ":" + base64.urlsafe_b64encode(nonce + cipher).decode()


def pii_decrypt(token: str) -> str:
    version, _, payload = token.partition(":")
    if version != _FORMAT_VERSION or not payload:
        raise PiiError("未知的加密格式")
    try:
        raw = base64.urlsafe_b64decode(payload)
    except ValueError as exc:  # binascii.Error: not base64 at all
        raise PiiError("解密失败：数据已损坏") from exc
    if len(raw) < _NONCE_BYTES + _TAG_BYTES:  # too short to hold nonce and tag; AESGCM would raise ValueError
        raise PiiError("解密失败：数据已损坏")
    try:
        return _aead(settings.PII_KEY).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None).decode()
    except InvalidTag as exc:
        raise PiiError("解密失败：密钥不符或数据已损坏") from exc


def _mask(value: str, head: int, tail: int, stars: int) -> str:
    if len(value) <= head + tail:
        # Too short to keep head and tail: show the first character only, and none of a one-character value.
        if len(value) <= 1:
            return "*" if value else ""
        return value[:1] + "*" * (len(value) - 1)
    return value[:head] + "*" * stars + value[len(value) - tail :]


def mask_id_number(value: str, id_type: str = ID_TYPE_RESIDENT) -> str:
    """SPEC X-1: 身份证 keeps the first 4 and last 4 (3101*****4279); 非身份证 the first 2 and last 3."""
    if id_type == ID_TYPE_RESIDENT:
        return _mask(value, 4, 4, 5)
    return _mask(value, 2, 3, 5)


def mask_mobile(value: str) -> str:
    """SPEC X-1: the first 3 and last 4 digits (139****5678)."""
    return _mask(value, 3, 4, 4)


def pii_property(
    cipher_field: str, hash_field: str = "", doc: str = "", *, canonical_form: Callable[[str], Canonical] = canonical_id_number
) -> property:
    """A model attribute that reads the decrypted value and writes cipher and hash together.

        id_cipher = models.TextField()
        id_hash = models.CharField(max_length=64, db_index=True)
        id_number = pii_property("id_cipher", "id_hash")

        mobile_cipher = models.TextField(blank=True)
        mobile = pii_property("mobile_cipher", canonical_form=canonical_mobile)

    It is a `property`, so `Model(id_number=...)` works and bulk_create stores both fields.
    Look-ups go through the hash: `.filter(id_hash=pii_hash(number))`. A value nobody looks up by
    (a mobile, SPEC SEC-4) has no hash field: only its cipher is kept. `canonical_form` is the
    identifier's normaliser of mutualaid.identifiers (SPEC SEC-1): the value must already be its output.
    """

    def getter(instance):
        token = getattr(instance, cipher_field)
        return pii_decrypt(token) if token else ""

    def setter(instance, value):
        if value and canonical_form(value) != (value, None):
            # SPEC SEC-1: hashes and ciphers are made from the canonical form only; an entry point
            # that skipped mutualaid.identifiers is a bug, not a user's mistake.
            raise ValueError("not a canonical identifier: pass it through mutualaid.identifiers first")
        setattr(instance, cipher_field, pii_encrypt(value) if value else "")
        if hash_field:
            setattr(instance, hash_field, pii_hash(value) if value else "")

    return property(getter, setter, doc=doc or f"Decrypted value of {cipher_field}.")


# --- migrations -------------------------------------------------------------------------------------


def pii_column_encrypt(model, *, plain_field: str, cipher_field: str, batch_size: int = 2000) -> int:
    """For a data migration (SPEC SEC-4): set `cipher_field` to the cipher of `plain_field` on every
    row of `model` (a historical model) that has a value, `batch_size` rows at a time in primary-key
    order. The value is encrypted as stored: one that is not canonical stays so, for
    `manage.py check_identifiers` to report. Returns how many rows were encrypted."""
    return _column_convert(model, source=plain_field, target=cipher_field, convert=pii_encrypt, batch_size=batch_size)


def pii_column_decrypt(model, *, cipher_field: str, plain_field: str, batch_size: int = 2000) -> int:
    """The reverse of pii_column_encrypt: `plain_field` set from `cipher_field`."""
    return _column_convert(model, source=cipher_field, target=plain_field, convert=pii_decrypt, batch_size=batch_size)


def _column_convert(model, *, source: str, target: str, convert: Callable[[str], str], batch_size: int) -> int:
    rows = model._default_manager.exclude(**{source: ""}).order_by("pk")
    done, last = 0, None
    while True:
        page = rows if last is None else rows.filter(pk__gt=last)
        chunk = list(page.values_list("pk", source)[:batch_size])
        if not chunk:
            return done
        model._default_manager.bulk_update(
            [model(pk=pk, **{target: convert(value)}) for pk, value in chunk], [target], batch_size=batch_size
        )
        done += len(chunk)
        last = chunk[-1][0]
