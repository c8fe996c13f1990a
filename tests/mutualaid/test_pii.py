"""Keyed hashes, encryption at rest and masks of personal data (SPEC X-1)."""
import base64
import hashlib
import hmac
import os
import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from mutualaid import pii
from mutualaid.pii import (
    ID_TYPE_OTHER,
    ID_TYPE_RESIDENT,
    PiiError,
    mask_id_number,
    mask_mobile,
    pii_decrypt,
    pii_encrypt,
    pii_hash,
    pii_property,
)

RESIDENT_ID = "310101199001014279"
RESIDENT_ID_WITH_X = "31010119900101123X"
MOBILE = "13912345678"


def _new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def _fresh_aead_cache():
    # The AESGCM object is cached per key text; start and end each test without a cached key.
    pii._aead.cache_clear()
    yield
    pii._aead.cache_clear()


def _flip_byte(token: str, index: int) -> str:
    version, _, payload = token.partition(":")
    raw = bytearray(base64.urlsafe_b64decode(payload))
    raw[index] ^= 0x01
    return version + ":" + base64.urlsafe_b64encode(bytes(raw)).decode()


# --- encryption ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [RESIDENT_ID, RESIDENT_ID_WITH_X, "张三丰", "上海市黄浦区人民大道200号", MOBILE, "x"])
def test_decrypt_returns_what_was_encrypted(value):
    assert pii_decrypt(pii_encrypt(value)) == value


def test_the_cipher_does_not_contain_the_value():
    token = pii_encrypt(RESIDENT_ID)
    assert RESIDENT_ID not in token
    assert RESIDENT_ID.encode() not in base64.urlsafe_b64decode(token.partition(":")[2])


def test_each_encryption_uses_a_fresh_nonce():
    tokens = {pii_encrypt(RESIDENT_ID) for _ in range(20)}
    assert len(tokens) == 20
    nonces = {base64.urlsafe_b64decode(token.partition(":")[2])[:12] for token in tokens}
    assert len(nonces) == 20
    assert all(pii_decrypt(token) == RESIDENT_ID for token in tokens)


def test_decrypt_with_another_pii_key_raises_pii_error(settings):
    token = pii_encrypt(RESIDENT_ID)
    settings.PII_KEY = _new_key()
    pii._aead.cache_clear()
    with pytest.raises(PiiError):
        pii_decrypt(token)


def test_encrypt_uses_the_configured_key(settings):
    settings.PII_KEY = _new_key()
    token = pii_encrypt(RESIDENT_ID)
    assert pii_decrypt(token) == RESIDENT_ID
    settings.PII_KEY = _new_key()
    with pytest.raises(PiiError):
        pii_decrypt(token)


@pytest.mark.parametrize("index", [0, 11, 12, -1])  # nonce start, nonce end, cipher start, tag end
def test_a_tampered_cipher_raises_pii_error(index):
    token = pii_encrypt(RESIDENT_ID)
    with pytest.raises(PiiError):
        pii_decrypt(_flip_byte(token, index))


@pytest.mark.parametrize(
    "make_bad",
    [
        lambda token: token[:10],  # truncated to a few bytes
        lambda token: token[:-8],  # tag cut short
        lambda token: token[:-1],  # broken base64 padding
        lambda token: "1:!!!!",  # not base64
        lambda token: "1:",  # no payload
        lambda token: "2" + token[1:],  # unknown format version
        lambda token: token.partition(":")[2],  # version missing
        lambda token: "garbage",
    ],
    ids=["truncated", "short-tag", "bad-padding", "not-base64", "empty", "version", "no-version", "garbage"],
)
def test_damaged_data_raises_pii_error_not_a_crash(make_bad):
    with pytest.raises(PiiError):
        pii_decrypt(make_bad(pii_encrypt(RESIDENT_ID)))


@pytest.mark.parametrize("key", ["not base64!", base64.b64encode(b"too short").decode()])
def test_a_misconfigured_pii_key_is_reported(settings, key):
    settings.PII_KEY = key
    with pytest.raises(ImproperlyConfigured):
        pii_encrypt(RESIDENT_ID)


# --- keyed hash ---------------------------------------------------------------------------------


def test_the_same_value_always_gives_the_same_hash():
    assert pii_hash(RESIDENT_ID) == pii_hash(RESIDENT_ID)
    assert pii_hash("张三") == pii_hash("张三")


def test_different_values_give_different_hashes():
    assert pii_hash(RESIDENT_ID) != pii_hash(RESIDENT_ID_WITH_X)
    assert pii_hash("31010119900101123X") != pii_hash("31010119900101123x")  # normalising is the caller's job


def test_the_hash_is_64_hex_characters():
    for value in (RESIDENT_ID, "张三", MOBILE, ""):
        assert re.fullmatch(r"[0-9a-f]{64}", pii_hash(value))


def test_the_hash_is_hmac_sha256_with_the_hash_key(settings):
    # Reference data is matched by hash across loads, so the algorithm itself is a contract.
    settings.PII_HASH_KEY = "another-hash-key"
    expected = hmac.new(b"another-hash-key", RESIDENT_ID.encode(), hashlib.sha256).hexdigest()
    assert pii_hash(RESIDENT_ID) == expected


def test_another_hash_key_gives_another_hash(settings):
    before = pii_hash(RESIDENT_ID)
    settings.PII_HASH_KEY = "a-different-hash-key"
    assert pii_hash(RESIDENT_ID) != before


def test_the_hash_does_not_depend_on_the_encryption_key(settings):
    before = pii_hash(RESIDENT_ID)
    settings.PII_KEY = _new_key()
    assert pii_hash(RESIDENT_ID) == before


# --- masks (SPEC X-1) ---------------------------------------------------------------------------


def test_resident_id_keeps_first_4_and_last_4():
    # SPEC X-1
    assert mask_id_number(RESIDENT_ID) == "3101*****4279"
    assert mask_id_number(RESIDENT_ID, ID_TYPE_RESIDENT) == "3101*****4279"


def test_resident_id_ending_in_x_keeps_the_x():
    # SPEC X-1
    assert mask_id_number(RESIDENT_ID_WITH_X) == "3101*****123X"


def test_other_id_keeps_first_2_and_last_3():
    # SPEC X-1: 非身份证 31*****17X
    assert mask_id_number("310101A917X", ID_TYPE_OTHER) == "31*****17X"
    assert mask_id_number("H12345678", ID_TYPE_OTHER) == "H1*****678"


def test_mobile_keeps_first_3_and_last_4():
    # SPEC X-1
    assert mask_mobile(MOBILE) == "139****5678"


def test_the_mask_length_does_not_reveal_the_length_of_the_value():
    # SPEC X-1: a fixed number of stars, whatever the length of the hidden middle.
    assert mask_id_number("310101199001014") == "3101*****1014"
    assert mask_id_number("H1234567890123", ID_TYPE_OTHER) == "H1*****123"


@pytest.mark.parametrize(
    "mask",
    [
        lambda value: mask_id_number(value, ID_TYPE_RESIDENT),
        lambda value: mask_id_number(value, ID_TYPE_OTHER),
        mask_mobile,
    ],
    ids=["resident", "other", "mobile"],
)
@pytest.mark.parametrize("value", ["7", "31", "310", "3101", "31010", "3101011", "31010119", "310101199", "1391234"])
def test_short_values_never_show_the_whole_value(mask, value):
    # SPEC X-1: whatever the length, a mask hides at least one character.
    masked = mask(value)
    assert "*" in masked
    assert masked != value
    assert value not in masked
    visible = masked.replace("*", "")
    assert len(visible) < len(value)


def test_an_empty_value_masks_to_empty():
    assert mask_id_number("") == ""
    assert mask_id_number("", ID_TYPE_OTHER) == ""
    assert mask_mobile("") == ""


# --- pii_property -------------------------------------------------------------------------------


class Person:
    """A plain class: pii_property needs nothing from a model."""

    def __init__(self):
        self.id_cipher = ""
        self.id_hash = ""

    id_number = pii_property("id_cipher", "id_hash")


def test_setting_the_property_stores_cipher_and_hash_together():
    person = Person()
    person.id_number = RESIDENT_ID
    assert person.id_hash == pii_hash(RESIDENT_ID)
    assert person.id_cipher and RESIDENT_ID not in person.id_cipher
    assert pii_decrypt(person.id_cipher) == RESIDENT_ID
    assert person.id_number == RESIDENT_ID


def test_changing_the_value_changes_cipher_and_hash():
    person = Person()
    person.id_number = RESIDENT_ID
    old_cipher, old_hash = person.id_cipher, person.id_hash
    person.id_number = RESIDENT_ID_WITH_X
    assert person.id_cipher != old_cipher
    assert person.id_hash == pii_hash(RESIDENT_ID_WITH_X) != old_hash
    assert person.id_number == RESIDENT_ID_WITH_X


@pytest.mark.parametrize("empty", ["", None])
def test_an_empty_value_clears_cipher_and_hash(empty):
    person = Person()
    person.id_number = RESIDENT_ID
    person.id_number = empty
    assert person.id_cipher == ""
    assert person.id_hash == ""
    assert person.id_number == ""


def test_an_unset_property_reads_as_empty():
    assert Person().id_number == ""


def test_the_property_stores_neither_the_value_nor_its_mask():
    # SPEC X-1: masks are computed when shown, never stored.
    person = Person()
    person.id_number = RESIDENT_ID
    assert set(vars(person)) == {"id_cipher", "id_hash"}
    stored = " ".join(vars(person).values())
    assert RESIDENT_ID not in stored
    assert mask_id_number(RESIDENT_ID) not in stored


def test_the_property_reads_with_the_current_key(settings):
    person = Person()
    person.id_number = RESIDENT_ID
    settings.PII_KEY = _new_key()
    with pytest.raises(PiiError):
        person.id_number  # noqa: B018 - reading is the behaviour under test


@pytest.mark.parametrize("value", ["11010119900307427x", "１１０１０１１９９００３０７４２７X", "11010119900307427\u0660", " 110101199003074271"])
def test_the_property_refuses_a_value_that_is_not_canonical(value):
    # SPEC SEC-1: hashes and ciphers are made from the canonical form only; a caller that skipped
    # mutualaid.identifiers is a bug, so nothing is stored.
    person = Person()
    with pytest.raises(ValueError, match="canonical"):
        person.id_number = value
    assert person.id_hash == person.id_cipher == ""


def test_the_property_has_a_docstring():
    assert Person.id_number.__doc__ == "Decrypted value of id_cipher."
    assert pii_property("a", "b", doc="证件号码").__doc__ == "证件号码"
