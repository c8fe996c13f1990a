"""SPEC SEC-10: ciphers, hashes and sealed files carry the id of their key; data written before keys
rotated (ciphers "1:", bare hashes, files "MAS\\x01") reads as key id 1; settings take older keys
for reading."""
import base64
import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ImproperlyConfigured

from mutualaid import sealed
from mutualaid.pii import (
    PiiError,
    hash_key_id_of,
    pii_decrypt,
    pii_encrypt,
    pii_hash,
    pii_hash_aliases,
    pii_hash_key_ids_active,
    pii_hashes,
    pii_hashes_for_audit,
    pii_reencrypt,
)
from mutualaid.pii_bulk import BulkPiiProtector
from mutualaid.sealed import open_sealed, reseal, seal_stream, sealed_key_id

NUMBER = "310101199001011017"


def _new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def second_keys(settings):
    """Key id 2 is current for both kinds; key id 1 (PII_KEY, PII_HASH_KEY) is still configured."""
    settings.PII_KEYS = {2: _new_key()}
    settings.PII_KEY_ID = 2
    settings.PII_HASH_KEYS = {2: "the second hash key"}
    settings.PII_HASH_KEY_ID = 2
    return settings


def _legacy_cipher(value: str, key: str) -> str:
    """A cipher exactly as mutualaid.pii wrote it before SPEC SEC-10: "1:" was a format version."""
    nonce = os.urandom(12)
    return "1:" + base64.urlsafe_b64encode(nonce + AESGCM(base64.b64decode(key)).encrypt(nonce, value.encode(), None)).decode()


def test_ciphers_and_hashes_under_key_1_keep_their_old_form(settings):
    # SPEC SEC-10: key id 1 is PII_KEY / PII_HASH_KEY, so nothing stored needs converting.
    assert pii_encrypt(NUMBER).startswith("1:")
    bare = hmac.new(settings.PII_HASH_KEY.encode(), NUMBER.encode(), hashlib.sha256).hexdigest()
    assert pii_hash(NUMBER) == bare
    assert hash_key_id_of(bare) == 1


def test_old_format_data_stays_readable_after_a_new_key_becomes_current(second_keys):
    # SPEC SEC-10: a "1:" cipher of the old code reads with key id 1; new ones name key id 2.
    old = _legacy_cipher(NUMBER, second_keys.PII_KEY)
    assert pii_decrypt(old) == NUMBER
    new = pii_encrypt(NUMBER)
    assert new.startswith("2:") and pii_decrypt(new) == NUMBER
    assert pii_reencrypt(old).startswith("2:") and pii_decrypt(pii_reencrypt(old)) == NUMBER
    assert pii_reencrypt(new) == new  # already under the current key: left as it is


def test_a_cipher_of_a_removed_key_says_so(second_keys):
    old = pii_encrypt(NUMBER, key_id=1)
    second_keys.PII_KEY = ""  # key id 1 retired
    with pytest.raises(PiiError, match="密钥 1 未配置"):
        pii_decrypt(old)


def test_hashes_carry_their_key_id_and_look_ups_use_every_active_key(second_keys):
    # SPEC SEC-10: "2:" + 64 hex digits; during a rotation look-ups try both keys' hashes.
    current, old = pii_hash(NUMBER), pii_hash(NUMBER, key_id=1)
    assert current.startswith("2:") and len(current) == 66 and hash_key_id_of(current) == 2
    assert ":" not in old and hash_key_id_of(old) == 1
    assert pii_hash_key_ids_active() == [2, 1]
    assert pii_hashes(NUMBER) == [current, old]
    assert pii_hash_aliases([NUMBER]) == {current: current, old: current}
    # The switch: the old key is retired, kept for audit queries only.
    second_keys.PII_HASH_KEYS_RETIRED = [1]
    assert pii_hashes(NUMBER) == [current]
    assert pii_hashes_for_audit(NUMBER) == {1: old, 2: current}


def test_the_bulk_protector_writes_what_pii_writes_under_the_current_keys(second_keys):
    protect = BulkPiiProtector.current().begin_chunk(1)
    id_hash, cipher, _digest = protect(NUMBER)
    assert id_hash == pii_hash(NUMBER)
    assert cipher.startswith("2:") and pii_decrypt(cipher) == NUMBER


def test_sealed_files_carry_their_key_id_and_old_ones_stay_readable(tmp_path, second_keys):
    # SPEC SEC-10, SEC-4: the header's fourth byte is the key id; "MAS\x01" is key id 1 (PII_KEY).
    second_keys.PII_KEY_ID = 1
    old = tmp_path / "old.csv"
    seal_stream([b"a" * 70_000], old)
    assert old.read_bytes()[:4] == b"MAS\x01"
    second_keys.PII_KEY_ID = 2
    new = tmp_path / "new.csv"
    seal_stream([b"b" * 10], new)
    assert new.read_bytes()[:4] == b"MAS\x02" and sealed_key_id(new) == 2
    with open_sealed(old) as stream:
        assert stream.read() == b"a" * 70_000
    assert reseal(old) is True and sealed_key_id(old) == 2
    assert reseal(old) is False  # already under the current key
    second_keys.PII_KEY = ""  # key id 1 retired: the re-sealed file does not need it
    with open_sealed(old) as stream:
        assert stream.read() == b"a" * 70_000


def test_a_plain_file_is_not_taken_for_a_sealed_one(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_bytes(b"MASTER,NAME\n")
    assert sealed_key_id(path) is None and not sealed.is_sealed(path)


@pytest.mark.parametrize("value", ["2=abc", "x:abc", "0:abc", "32:abc", "2:"])
def test_settings_refuse_malformed_key_lists(monkeypatch, value):
    from mutualaid import settings as project_settings

    monkeypatch.setenv("PII_KEYS", value)
    with pytest.raises(ImproperlyConfigured):
        project_settings._key_ids("PII_KEYS")


def test_settings_read_keys_by_id(monkeypatch):
    from mutualaid import settings as project_settings

    key = _new_key()
    monkeypatch.setenv("PII_KEYS", f"2:{key}, 3:{key}")
    assert project_settings._key_ids("PII_KEYS") == {2: key, 3: key}


def test_key_id_1_given_twice_must_agree(settings):
    settings.PII_KEYS = {1: _new_key()}
    with pytest.raises(ImproperlyConfigured):
        pii_encrypt(NUMBER)


def test_the_suggested_roster_look_up_takes_hashes_of_any_key(second_keys):
    # SPEC SEC-10: rosters.reference.lookup keeps "<id>:" hashes (all of one key, or mixed) and drops junk.
    from rosters.reference.lookup import _distinct_hashes

    new, old = pii_hash(NUMBER), pii_hash(NUMBER, key_id=1)
    other = pii_hash("310101199001011025")
    assert _distinct_hashes([new, other, new]) == sorted([new, other])
    assert _distinct_hashes([new, old, "junk", "2:" + "z" * 64]) == sorted([new, old])
    assert _distinct_hashes(["abc", "def"]) == []  # hex, but no hash
    assert _distinct_hashes(["9" * 66, "9" * 66]) == []  # no "<id>:" in front


def test_resealing_never_brings_back_a_file_purged_meanwhile(tmp_path, second_keys, monkeypatch):
    # SPEC SEC-10, SEC-4: a file deleted while it is re-sealed stays deleted.
    second_keys.PII_KEY_ID = 1
    path = tmp_path / "export.csv"
    seal_stream([b"x" * 100], path)
    second_keys.PII_KEY_ID = 2
    real = sealed.seal_stream

    def purge_meanwhile(chunks, target):
        real(chunks, target)
        path.unlink()

    monkeypatch.setattr(sealed, "seal_stream", purge_meanwhile)
    assert reseal(path) is False
    assert not path.exists() and list(tmp_path.iterdir()) == []
