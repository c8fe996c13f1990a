"""Personal data: keyed hashes, encryption at rest and masks (SPEC X-1, ARCHITECTURE.md "Data rules").

- `pii_hash` (HMAC-SHA256 with the current hash key) serves every equality look-up, join and unique
  constraint; the same value always gives the same hash, so reference data and rosters match by hash.
- `pii_encrypt` / `pii_decrypt` (AES-GCM with the current PII key, a fresh nonce each time) keep the value itself.
- Masks are computed from the decrypted value when a page or export shows it, never stored.
- `pii_property` is a model attribute that keeps cipher and hash in step (ID numbers; mobiles, which
  nobody looks up by, have a cipher only: SPEC SEC-4).

Keys rotate (SPEC SEC-10), so every cipher and hash carries the id of its key:

- a cipher is `<key id>:<urlsafe base64 of nonce + ciphertext + tag>`. Ciphers written before keys
  rotated start with `1:`, which was a format version and now reads as key id 1: the key of
  `PII_KEY`, so existing data needs no conversion.
- a hash is `<key id>:<64 hex digits>`, except under hash key id 1 (`PII_HASH_KEY`), whose hashes
  stay the bare 64 hex digits they always were. Two keys never give the same string, so a
  table may hold both while `manage.py rotate_hash_key` runs.

Settings (mutualaid/settings.py): `PII_KEY` is key id 1 and `PII_KEYS` the others ({id: key});
`PII_KEY_ID` names the key that encrypts, the others only decrypt. The same for hashes:
`PII_HASH_KEY`, `PII_HASH_KEYS`, `PII_HASH_KEY_ID`; a hash key listed in `PII_HASH_KEYS_RETIRED`
is kept for audit queries only (`pii_hashes_for_audit`) and no look-up computes it any more.
Look-ups that must find people whatever key their rows were hashed with use `pii_hashes` /
`pii_hash_aliases` (every active hash key): during a rotation that is the old and the new key.
"""
import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .identifiers import Canonical, canonical_id_number

_NONCE_BYTES = 12
_TAG_BYTES = 16
LEGACY_KEY_ID = 1  # the key of PII_KEY / PII_HASH_KEY: "1:" ciphers and bare hashes
MAX_KEY_ID = 31  # a sealed file keeps its PII key id in one header byte below 0x20 (mutualaid.sealed)

ID_TYPE_RESIDENT = "resident"  # 身份证
ID_TYPE_OTHER = "other"  # 非身份证


class PiiError(Exception):
    """A stored cipher could not be decrypted (wrong key or damaged data)."""


# --- keys ----------------------------------------------------------------------------------------------


def _keyring(legacy: str, others: dict, name: str) -> dict[int, str]:
    keys = {int(key_id): key for key_id, key in (others or {}).items() if key}
    if legacy:
        if keys.get(LEGACY_KEY_ID, legacy) != legacy:
            raise ImproperlyConfigured(f"{name}S gives key id 1 another key than {name}.")
        keys[LEGACY_KEY_ID] = legacy
    return keys


def pii_keys() -> dict[int, str]:
    """Every PII key by id: PII_KEY as id 1 and PII_KEYS. Read at each call, so tests may change them."""
    return _keyring(settings.PII_KEY, getattr(settings, "PII_KEYS", {}), "PII_KEY")


def pii_key_id() -> int:
    """The id of the key that encrypts (PII_KEY_ID)."""
    return int(getattr(settings, "PII_KEY_ID", LEGACY_KEY_ID))


def pii_key(key_id: int | None = None) -> str:
    """The PII key of `key_id` (the current one by default), base64 text."""
    key_id = pii_key_id() if key_id is None else key_id
    try:
        return pii_keys()[key_id]
    except KeyError:
        raise PiiError(f"密钥 {key_id} 未配置（PII_KEYS）") from None


def pii_hash_keys() -> dict[int, str]:
    """Every hash key by id, retired ones included: PII_HASH_KEY as id 1 and PII_HASH_KEYS."""
    return _keyring(settings.PII_HASH_KEY, getattr(settings, "PII_HASH_KEYS", {}), "PII_HASH_KEY")


def pii_hash_key_id() -> int:
    """The id of the hash key that new hashes are made with (PII_HASH_KEY_ID)."""
    return int(getattr(settings, "PII_HASH_KEY_ID", LEGACY_KEY_ID))


def pii_hash_key_ids_active() -> list[int]:
    """The hash keys look-ups use, the current one first: all but the retired ones (SPEC SEC-10)."""
    retired = {int(key_id) for key_id in getattr(settings, "PII_HASH_KEYS_RETIRED", ())}
    current = pii_hash_key_id()
    return [current, *sorted(key_id for key_id in pii_hash_keys() if key_id != current and key_id not in retired)]


@lru_cache(maxsize=8)
def _aead(key_text: str) -> AESGCM:
    try:
        key = base64.b64decode(key_text, validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("PII_KEY must be 32 bytes, base64-encoded.") from exc
    if len(key) != 32:
        raise ImproperlyConfigured("PII_KEY must be 32 bytes, base64-encoded.")
    return AESGCM(key)


def hash_prefix(key_id: int) -> str:
    """What a hash under `key_id` starts with: nothing for key id 1 (the bare legacy hashes)."""
    return "" if key_id == LEGACY_KEY_ID else f"{key_id}:"


def hash_key_id_of(value: str) -> int:
    """The id of the key `value` (a stored hash) was made with."""
    key_id, separator, _ = value.partition(":")
    return int(key_id) if separator else LEGACY_KEY_ID


def cipher_prefix(key_id: int) -> str:
    return f"{key_id}:"


def cipher_key_id_of(token: str) -> int:
    """The id of the key `token` (a stored cipher) was made with."""
    key_id, separator, _ = token.partition(":")
    if not separator or not key_id.isdigit():
        raise PiiError("未知的加密格式")
    return int(key_id)


# --- hashes and ciphers --------------------------------------------------------------------------------


def pii_hash(value: str, *, key_id: int | None = None) -> str:
    """The keyed hash of `value` under the current hash key (or `key_id`); normalise the value first."""
    key_id = pii_hash_key_id() if key_id is None else key_id
    keys = pii_hash_keys()
    if key_id not in keys:
        raise ImproperlyConfigured(f"hash key {key_id} is not configured (PII_HASH_KEYS)")
    return hash_prefix(key_id) + hmac.new(keys[key_id].encode(), value.encode(), hashlib.sha256).hexdigest()


def pii_hashes(value: str) -> list[str]:
    """The hashes of `value` under every active hash key, the current one first: what a look-up
    by one value must search for while a hash rotation runs (SPEC SEC-10)."""
    return [pii_hash(value, key_id=key_id) for key_id in pii_hash_key_ids_active()]


def pii_hash_aliases(values: Iterable[str]) -> dict[str, str]:
    """For set-based look-ups (SPEC SEC-10): every active key's hash of each of `values` → its hash
    under the current key. Query with the keys, and map the hashes of the rows found through the
    dict: a row not yet re-hashed is then found as if it had been. With one active key (the usual
    case) the dict maps each current hash to itself."""
    aliases = {}
    current_hash, *other_hashes = [pii_hasher(key_id) for key_id in pii_hash_key_ids_active()]
    for value in values:
        current = current_hash(value)
        aliases[current] = current
        for other_hash in other_hashes:
            aliases[other_hash(value)] = current
    return aliases


def pii_hashes_for_audit(value: str) -> dict[int, str]:
    """SPEC SEC-10: the hash of `value` under every configured hash key, retired ones included, by
    key id: an audit row keeps the hash it was written with (its key id in front), so a query of the
    audit trail for a person compares each row with the hash of that row's key."""
    return {key_id: pii_hash(value, key_id=key_id) for key_id in pii_hash_keys()}


def pii_encrypt(value: str, *, key_id: int | None = None) -> str:
    key_id = pii_key_id() if key_id is None else key_id
    nonce = os.urandom(_NONCE_BYTES)
    cipher = _aead(pii_key(key_id)).encrypt(nonce, value.encode(), None)
    return cipher_prefix(key_id) + base64.urlsafe_b64encode(nonce + cipher).decode()


def pii_decrypt(token: str) -> str:
    key_id = cipher_key_id_of(token)
    payload = token.partition(":")[2]
    if not payload:
        raise PiiError("未知的加密格式")
    try:
        raw = base64.urlsafe_b64decode(payload)
    except ValueError as exc:  # binascii.Error: not base64 at all
        raise PiiError("解密失败：数据已损坏") from exc
    if len(raw) < _NONCE_BYTES + _TAG_BYTES:  # too short to hold nonce and tag; AESGCM would raise ValueError
        raise PiiError("解密失败：数据已损坏")
    try:
        return _aead(pii_key(key_id)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None).decode()
    except InvalidTag as exc:
        raise PiiError("解密失败：密钥不符或数据已损坏") from exc


def pii_reencrypt(token: str) -> str:
    """`token` under the current PII key (itself when it is already): manage.py rotate_pii_key."""
    if not token or token.startswith(cipher_prefix(pii_key_id())):
        return token
    return pii_encrypt(pii_decrypt(token))


# --- for millions of values (the key rotations, mutualaid.key_rotation) ---------------------------------


def pii_decrypter() -> Callable[[str], str]:
    """pii_decrypt with the keys read once (a rotation decrypts millions of values: the settings
    look-ups of pii_decrypt were half its time)."""
    aeads = {key_id: _aead(key) for key_id, key in pii_keys().items()}

    def decrypt(token: str) -> str:
        key_id, _, payload = token.partition(":")
        aead = aeads.get(int(key_id)) if key_id.isdigit() else None
        if aead is None:
            return pii_decrypt(token)  # raises the right PiiError
        raw = base64.urlsafe_b64decode(payload)
        try:
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None).decode()
        except (InvalidTag, ValueError) as exc:
            raise PiiError("解密失败：密钥不符或数据已损坏") from exc

    return decrypt


def pii_reencrypter() -> Callable[[str], str]:
    """pii_reencrypt with the keys read once."""
    key_id = pii_key_id()
    prefix, aead, decrypt = cipher_prefix(key_id), _aead(pii_key(key_id)), pii_decrypter()
    urandom, encode = os.urandom, base64.urlsafe_b64encode

    def reencrypt(token: str) -> str:
        if not token or token.startswith(prefix):
            return token
        nonce = urandom(_NONCE_BYTES)
        return prefix + encode(nonce + aead.encrypt(nonce, decrypt(token).encode(), None)).decode()

    return reencrypt


def pii_hasher(key_id: int | None = None) -> Callable[[str], str]:
    """pii_hash under one key with the key read once and its HMAC state prepared."""
    key_id = pii_hash_key_id() if key_id is None else key_id
    prefix = hash_prefix(key_id)
    keyed = hmac.new(pii_hash_keys()[key_id].encode(), digestmod=hashlib.sha256)

    def hasher(value: str) -> str:
        state = keyed.copy()
        state.update(value.encode())
        return prefix + state.hexdigest()

    return hasher


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
        id_hash = models.CharField(max_length=72, db_index=True)  # "<key id>:" + 64 hex digits
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
