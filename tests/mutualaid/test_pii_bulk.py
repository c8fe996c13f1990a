"""The bulk protector writes what mutualaid.pii reads, and reads back as it writes (ARCHITECTURE.md
"Data rules": one home for PII cryptography, two implementations of the same formats)."""
import base64
import os

import pytest

from mutualaid.pii import PiiError, pii_decrypt, pii_encrypt, pii_hash
from mutualaid.pii_bulk import BulkPiiProtector

NUMBERS = ["310101198503124279", "11010119900307001X", "E1234567", "13912345678", "张三"]


def _protector(settings) -> BulkPiiProtector:
    return BulkPiiProtector(hash_key=settings.PII_HASH_KEY, encryption_key=settings.PII_KEY)


@pytest.mark.parametrize("hash_key", ["short key", "k" * 64, "k" * 100])
def test_bulk_hash_and_cipher_are_pii_hash_and_pii_encrypt(settings, hash_key):
    settings.PII_HASH_KEY = hash_key
    protect = _protector(settings).begin_chunk(2)  # fewer than the values: fresh nonces for the rest

    results = [protect(number) for number in NUMBERS]

    for number, (id_hash, cipher, digest) in zip(NUMBERS, results):
        assert id_hash == pii_hash(number) == digest.hex()
        assert pii_decrypt(cipher) == number
        assert cipher.startswith("1:") and len(cipher) == len(pii_encrypt(number))
    assert len({cipher for _, cipher, _ in results}) == len(NUMBERS)


def test_bulk_sealing_decrypts_with_pii_decrypt(settings):
    seal = _protector(settings).begin_sealing(len(NUMBERS))

    ciphers = [seal(value) for value in NUMBERS]

    assert [pii_decrypt(cipher) for cipher in ciphers] == NUMBERS
    assert len({cipher[:18] for cipher in ciphers}) == len(NUMBERS)  # no nonce used twice


def test_the_same_keys_give_the_same_outputs_and_other_keys_do_not(settings):
    """The reverse direction: keys set for mutualaid.pii first, a protector made from them after; and
    a protector with other keys matches neither, so the outputs above come from the keys, not luck."""
    settings.PII_HASH_KEY = "another hash key"
    settings.PII_KEY = base64.b64encode(os.urandom(32)).decode()
    single = {number: (pii_hash(number), pii_encrypt(number)) for number in NUMBERS}
    same = _protector(settings).begin_chunk(len(NUMBERS))
    other = BulkPiiProtector(hash_key="k", encryption_key=base64.b64encode(os.urandom(32)).decode()).begin_chunk(1)

    for number, (id_hash, cipher) in single.items():
        bulk_hash, bulk_cipher, _ = same(number)
        assert bulk_hash == id_hash
        assert pii_decrypt(bulk_cipher) == pii_decrypt(cipher) == number
        other_hash, other_cipher, _ = other(number)
        assert other_hash != id_hash
        with pytest.raises(PiiError):
            pii_decrypt(other_cipher)
