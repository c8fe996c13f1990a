"""Hash rotation of the rosters and the enrolment registry, batch by batch (SPEC SEC-10).

A batch's roster entries and its registry rows are joined by hash (who holds whom, ROS-11), and
the registry has no cipher to re-hash from: so both move to the current hash key together, in one
transaction per batch, under the batch's lock (the lock 【清册提交】 and the importer take), and
the registry row takes the new hash of the entry it was made from. A batch is then never half
under one key and half under the other.

`manage.py rotate_hash_key` calls `roster_batches_rehash`; the submission calls `roster_batch_rehash`
for its own batch while a rotation runs, then `registry_held_under_old_keys`, because the registry's
UNIQUE (year, id_hash) only catches a person held twice under the same key.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from django.db import transaction

from enrollment.models import Batch
from mutualaid.key_rotation import StepResult, not_under_hash_key, rows_update
from mutualaid.pii import hash_key_id_of, pii_decrypt, pii_decrypter, pii_hash, pii_hash_key_id, pii_hash_key_ids_active, pii_hasher

from .models import EnrolmentRegistry, RosterEntry


def hash_rotation_running() -> bool:
    """More than one active hash key: rows may be under either until the old one is retired."""
    return len(pii_hash_key_ids_active()) > 1


def _stale(queryset, key_id: int):
    sql, params = not_under_hash_key("id_hash", key_id)
    return queryset.extra(where=[sql], params=params)  # noqa: S610 - our own SQL, no user input


def roster_batch_rehash(*, batch_id: int) -> int:
    """Move the entries and registry rows of one batch to the current hash key. Call inside a
    transaction holding the batch's lock. Returns how many rows were rewritten."""
    key_id = pii_hash_key_id()
    entries = list(_stale(RosterEntry.objects.filter(batch_id=batch_id), key_id).values_list("pk", "id_hash", "id_cipher"))
    new_of: dict[str, str] = {}
    decrypt, hasher = pii_decrypter(), pii_hasher(key_id)
    for _pk, old, cipher in entries:
        if old not in new_of:
            new_of[old] = hasher(decrypt(cipher))
    # Matched by key and old hash: the batch is locked, so the hash is the one read.
    rewritten = rows_update(RosterEntry, ("id", "id_hash"), ("id_hash",), [(pk, old, new_of[old]) for pk, old, _ in entries])
    registry = list(_stale(EnrolmentRegistry.objects.filter(batch_id=batch_id), key_id).values_list("pk", "id_hash"))
    if registry:
        # A registry row has no cipher: it takes the new hash of the entry it was made from (same
        # batch, same old hash). Should that entry be under the current key already (written so by
        # an import during the rotation), it is found by its hash under every active key; a row
        # whose entry is gone stays as it is and is reported by roster_batches_rehash.
        missing = [old for _, old in registry if old not in new_of]
        if missing:
            for _pk, current, cipher in RosterEntry.objects.filter(batch_id=batch_id).values_list("pk", "id_hash", "id_cipher"):
                if hash_key_id_of(current) == key_id:
                    number = pii_decrypt(cipher)
                    for other in pii_hash_key_ids_active():
                        new_of.setdefault(pii_hash(number, key_id=other), current)
        rows = [(pk, old, new_of[old]) for pk, old in registry if old in new_of]
        rewritten += rows_update(EnrolmentRegistry, ("id", "id_hash"), ("id_hash",), rows)
    return rewritten


def roster_batches_rehash(
    *, progress: Callable[[int, int], None] | None = None, after_batch: Callable[[], None] | None = None, batch_rows: int = 5_000
) -> StepResult:
    """Every batch with entries or registry rows not under the current hash key, one transaction
    per batch (SPEC SEC-10). A registry row that cannot be re-hashed (no entry of its batch is the
    same person) is reported, not guessed."""
    key_id = pii_hash_key_id()
    result = StepResult("roster entries and registry")
    started = time.monotonic()
    pending = set(_stale(RosterEntry.objects.all(), key_id).values_list("batch_id", flat=True).distinct())
    pending |= set(_stale(EnrolmentRegistry.objects.all(), key_id).values_list("batch_id", flat=True).distinct())
    total = _stale(RosterEntry.objects.all(), key_id).count() + _stale(EnrolmentRegistry.objects.all(), key_id).count()
    since_report = 0
    last = max(pending, default=None)
    for batch_id in sorted(pending):
        with transaction.atomic():
            if not Batch.objects.select_for_update(of=("self",)).filter(pk=batch_id).exists():
                continue
            rewritten = roster_batch_rehash(batch_id=batch_id)
            left = _stale(EnrolmentRegistry.objects.filter(batch_id=batch_id), key_id).count()
        if left:
            result.problems.append(f"批次 {batch_id}：{left} 条参保登记找不到对应的参保人员，未能重新计算摘要")
        result.rewritten += rewritten
        since_report += rewritten
        if since_report >= batch_rows or batch_id == last:
            since_report = 0
            if progress:
                progress(result.rewritten, total)
            if after_batch:
                after_batch()
    result.seconds = time.monotonic() - started
    return result


def registry_held_under_old_keys(*, batch: Batch) -> bool:
    """SPEC SEC-10, ROS-11: whether another batch of the year holds one of `batch`'s people under a
    hash key other than the current one (a registry row the running rotation has not reached).
    The batch's own entries are under the current key (roster_batch_rehash first)."""
    others = [key_id for key_id in pii_hash_key_ids_active() if key_id != pii_hash_key_id()]
    if not others:
        return False
    decrypt, hashers = pii_decrypter(), [pii_hasher(key_id) for key_id in others]
    hashes = [
        hasher(decrypt(cipher))
        for cipher in RosterEntry.objects.filter(batch=batch).values_list("id_cipher", flat=True).iterator(chunk_size=5000)
        for hasher in hashers
    ]
    year = batch.coverage_year.year
    found = False
    for start in range(0, len(hashes), 5000):
        if EnrolmentRegistry.objects.filter(year=year, id_hash__in=hashes[start : start + 5000]).exclude(batch=batch).exists():
            found = True
            break
    return found
