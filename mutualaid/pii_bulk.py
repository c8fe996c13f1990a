"""pii_hash and pii_encrypt for millions of values: the reference loader's and the roster importer's
ID numbers and mobiles (ARCHITECTURE.md "Data rules", "Bulk data").

Same keys and output formats as mutualaid.pii (tests/mutualaid/test_pii_bulk.py checks that each
reads what the other writes), with the per-value overhead cut down.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .pii import _NONCE_BYTES, cipher_prefix, hash_prefix, pii_hash_key_id, pii_hash_keys, pii_key, pii_key_id

_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))
_URLSAFE = bytes.maketrans(b"+/", b"-_")


class BulkPiiProtector:
    """pii_hash and pii_encrypt for millions of values.

    HMAC-SHA256 is computed from copies of the keyed inner and outer SHA-256 states (RFC 2104, as
    the hmac module does, without its per-call Python overhead); AES-GCM reuses one AESGCM object and
    takes the nonces of a chunk from one os.urandom call. The output is what mutualaid.pii writes:
    the hash key's prefix + 64 hex characters, and the PII key's id + ":" + urlsafe base64 of nonce
    + ciphertext + tag (SPEC SEC-10: both carry their key's id; `current()` uses the current keys).
    """

    def __init__(self, *, hash_key: str, encryption_key: str, hash_key_id: int = 1, encryption_key_id: int = 1):
        self._hash_prefix = hash_prefix(hash_key_id)
        self._cipher_prefix = cipher_prefix(encryption_key_id)
        key = hash_key.encode()
        if len(key) > 64:  # SHA-256's block size
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))
        self._aead = AESGCM(base64.b64decode(encryption_key))

    @classmethod
    def current(cls) -> "BulkPiiProtector":
        """The protector of the current hash and PII keys (settings, see mutualaid.pii)."""
        hash_key_id, key_id = pii_hash_key_id(), pii_key_id()
        return cls(hash_key=pii_hash_keys()[hash_key_id], hash_key_id=hash_key_id, encryption_key=pii_key(key_id), encryption_key_id=key_id)

    @staticmethod
    def current_keys() -> dict:
        """The keyword arguments of the current protector (a worker process builds it from them)."""
        hash_key_id, key_id = pii_hash_key_id(), pii_key_id()
        return {"hash_key": pii_hash_keys()[hash_key_id], "hash_key_id": hash_key_id, "encryption_key": pii_key(key_id), "encryption_key_id": key_id}

    def begin_chunk(self, rows: int) -> Callable[[str], tuple[str, str, bytes]]:
        """The function giving (hash as hex, cipher, hash digest) of a normalised number, for up to
        `rows` numbers. Called for every chunk in the process that encrypts: the nonces live only
        as long as the chunk, so a forked worker can never reuse its parent's."""
        seal = self._sealer(rows)
        inner_copy, outer_copy, prefix = self._inner.copy, self._outer.copy, self._hash_prefix

        def protect(number: str) -> tuple[str, str, bytes]:
            value = number.encode()
            inner = inner_copy()
            inner.update(value)
            outer = outer_copy()
            outer.update(inner.digest())
            digest = outer.digest()
            return prefix + digest.hex(), seal(value), digest

        return protect

    def begin_sealing(self, values: int) -> Callable[[str], str]:
        """The function giving the cipher (pii_encrypt's format, no hash) of up to `values` values: the
        roster importer's mobiles (SPEC SEC-4). Nonces as in begin_chunk."""
        seal = self._sealer(values)
        return lambda value: seal(value.encode())

    def _sealer(self, count: int) -> Callable[[bytes], str]:
        """AES-GCM of up to `count` values with nonces taken from one os.urandom call, then fresh ones."""
        nonces = os.urandom(_NONCE_BYTES * count)
        offset = 0
        encrypt, to_base64, urlsafe, urandom, prefix = self._aead.encrypt, binascii.b2a_base64, _URLSAFE, os.urandom, self._cipher_prefix

        def seal(value: bytes) -> str:
            nonlocal offset
            nonce = nonces[offset : offset + _NONCE_BYTES]
            offset += _NONCE_BYTES
            if len(nonce) < _NONCE_BYTES:  # more values than announced: never reuse a nonce
                nonce = urandom(_NONCE_BYTES)
            return prefix + to_base64(nonce + encrypt(nonce, value, None), newline=False).translate(urlsafe).decode()

        return seal
