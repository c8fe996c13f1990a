"""Moving stored ciphers and hashes to the current key, in batches (SPEC SEC-10).

`manage.py rotate_pii_key` and `manage.py rotate_hash_key` (backoffice/management/commands) are
made of these steps; each app names its own columns (the commands list them).

- Every cipher and hash carries its key's id (mutualaid.pii), so the progress of a rotation is in
  the rows themselves: a step selects only rows not under the current key, `batch_size` at a time
  in the order of the table's key, and commits each batch on its own. A run that dies is started
  again and skips what is done; nothing is rewritten twice, and no checkpoint can disagree with
  the data.
- The portal keeps serving: each batch is one short transaction of row locks, and readers find a
  row under either key (PII: the cipher names its key; hashes: look-ups search with every active
  hash key until the old one is retired, mutualaid.pii.pii_hashes / pii_hash_aliases).
- `progress(done, total)` is called after each batch; `after_batch()` too (the tests inject a
  crash there).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction

from .pii import cipher_prefix, hash_prefix, pii_decrypter, pii_hash_key_id, pii_hasher, pii_key_id, pii_reencrypter
from .sealed import reseal, sealed_key_id

BATCH_ROWS = 5_000
Progress = Callable[[int, int], None]


@dataclass
class StepResult:
    name: str
    rewritten: int = 0  # rows (or files) moved to the current key by this run
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def not_under_cipher_key(column: str, key_id: int) -> tuple[str, list]:
    """SQL: a cipher `column` that is set and not under `key_id`."""
    return f"({_quote(column)} <> '' AND {_quote(column)} NOT LIKE %s)", [cipher_prefix(key_id) + "%"]


def not_under_hash_key(column: str, key_id: int) -> tuple[str, list]:
    """SQL: a hash `column` that is set and not under `key_id` (key id 1's hashes have no prefix)."""
    prefix = hash_prefix(key_id)
    if not prefix:
        return f"({_quote(column)} LIKE %s)", ["%:%"]
    return f"({_quote(column)} <> '' AND {_quote(column)} NOT LIKE %s)", [prefix + "%"]


def _key_types(model, keys: tuple[str, ...]) -> list[str]:
    return [model._meta.get_field(name).cast_db_type(connection) for name in keys]


def rows_update(model, keys: tuple[str, ...], columns: tuple[str, ...], rows: list[tuple]) -> int:
    """UPDATE `columns` of the rows `rows` ((*key values, *new values)) of `model`'s table, found by
    `keys`: one statement on PostgreSQL (arrays unnested), executemany elsewhere. `keys` may name
    the updated columns too: then a row is updated only if it still holds the value read (a
    compare-and-set: a value the portal wrote meanwhile is never overwritten with an older one).
    Returns how many rows were updated."""
    table = _quote(model._meta.db_table)
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        types = _key_types(model, keys) + ["text"] * len(columns)
        names = [f"k{index}" for index in range(len(keys))] + [f"v{index}" for index in range(len(columns))]
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        sets = ", ".join(f"{_quote(column)} = data.v{index}" for index, column in enumerate(columns))
        where = " AND ".join(f"{table}.{_quote(key)} = data.k{index}" for index, key in enumerate(keys))
        sql = f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS data({', '.join(names)}) WHERE {where}"
        import psycopg  # the PostgreSQL driver; imported only where PostgreSQL is used

        # A server-side cursor binding the arrays in binary: Django's client-side binding quotes
        # every element of every array in Python (a regular expression each, a third of the time).
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, [list(values) for values in zip(*rows)], binary=True)
            return cursor.rowcount
    sets = ", ".join(f"{_quote(column)} = %s" for column in columns)
    where = " AND ".join(f"{_quote(key)} = %s" for key in keys)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {sets} WHERE {where}",
            [(*row[len(keys):], *row[: len(keys)]) for row in rows],
        )
        return cursor.rowcount


def _pending(model, condition: tuple[str, list]) -> int:
    sql, params = condition
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(model._meta.db_table)} WHERE {sql}", params)
        return cursor.fetchone()[0]


def _rows_batches(model, keys: tuple[str, ...], read: tuple[str, ...], condition: tuple[str, list], batch_size: int):
    """The rows (key values, then `read`) matching `condition`, `batch_size` at a time in key order
    (keyset: each batch starts after the last key of the one before, so rows rewritten meanwhile
    are not read again unless their new key sorts further on, where `condition` drops them)."""
    table = _quote(model._meta.db_table)
    sql, params = condition
    order = ", ".join(_quote(key) for key in keys)
    columns = ", ".join(_quote(name) for name in (*keys, *read))
    last = None
    while True:
        after, after_params = "", []
        if last is not None:
            after = f" AND ({order}) > ({', '.join(['%s'] * len(keys))})"
            after_params = list(last)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE {sql}{after} ORDER BY {order} LIMIT %s",
                [*params, *after_params, batch_size],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        last = rows[-1][: len(keys)]
        yield rows


def rotate_cipher_columns(
    model,
    *,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    batch_size: int = BATCH_ROWS,
    progress: Progress | None = None,
    after_batch: Callable[[], None] | None = None,
) -> StepResult:
    """Re-encrypt the cipher `columns` of `model`'s rows with the current PII key (SPEC SEC-10).
    `keys`: the table's key columns in its primary key's order (the keyset)."""
    key_id = pii_key_id()
    result = StepResult(f"{model._meta.db_table}.{'/'.join(columns)}")
    started = time.monotonic()
    parts = [not_under_cipher_key(column, key_id) for column in columns]
    condition = (" OR ".join(sql for sql, _ in parts), [value for _, params in parts for value in params])
    condition = (f"({condition[0]})", condition[1])
    total = _pending(model, condition)
    reencrypt = pii_reencrypter()
    for rows in _rows_batches(model, keys, columns, condition, batch_size):
        # (key, the ciphers as read, the new ciphers): the ciphers as read are matched too, so a
        # row the portal changed since it was read keeps the portal's value (already under the
        # current key; if not, the next run finds it).
        updated = [(*row, *(reencrypt(value) for value in row[len(keys) :])) for row in rows]
        with transaction.atomic():
            result.rewritten += rows_update(model, (*keys, *columns), columns, updated)
        if progress:
            progress(result.rewritten, total)
        if after_batch:
            after_batch()
    result.seconds = time.monotonic() - started
    return result


def rotate_hash_column(
    model,
    *,
    keys: tuple[str, ...],
    hash_column: str = "id_hash",
    cipher_column: str = "id_cipher",
    batch_size: int = BATCH_ROWS,
    progress: Progress | None = None,
    after_batch: Callable[[], None] | None = None,
) -> StepResult:
    """Re-hash `hash_column` of `model`'s rows with the current hash key, from the number its
    `cipher_column` holds (SPEC SEC-10). The hash may be part of the primary key (the reference
    tables, partitioned by year): the row is updated in place, which PostgreSQL does within the
    year's partition (the key's index gets the new entry, the old row version goes at the next
    vacuum). `keys` are the key columns in the primary key's order, the hash among them."""
    key_id = pii_hash_key_id()
    result = StepResult(f"{model._meta.db_table}.{hash_column}")
    started = time.monotonic()
    condition = not_under_hash_key(hash_column, key_id)
    total = _pending(model, condition)
    if hash_column not in keys:
        raise ValueError("the keyset must include the hash column")
    decrypt, hasher = pii_decrypter(), pii_hasher(key_id)
    for rows in _rows_batches(model, keys, (cipher_column,), condition, batch_size):
        updated = [(*row[: len(keys)], hasher(decrypt(row[-1]))) for row in rows]
        with transaction.atomic():
            # The old hash finds the row (a row loaded again meanwhile is not found: nothing is
            # overwritten); the new one replaces it, in the key too.
            result.rewritten += rows_update(model, keys, (hash_column,), updated)
        if progress:
            progress(result.rewritten, total)
        if after_batch:
            after_batch()
    result.seconds = time.monotonic() - started
    return result


def vacuum_analyse(model) -> None:
    """After a hash rotation of a large table (PostgreSQL): every row has a new version, so VACUUM
    sets the visibility map again (the suggested roster's look-up reads only the index while it is
    set, rosters/reference/lookup.py) and ANALYZE refreshes the statistics."""
    if connection.vendor == "postgresql" and connection.get_autocommit():
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {_quote(model._meta.db_table)}")


def reseal_files(
    root: Path,
    folders: tuple[str, ...],
    *,
    progress: Progress | None = None,
    after_batch: Callable[[], None] | None = None,
    batch_files: int = 100,
) -> StepResult:
    """Re-seal the sealed files under `root`/`folders` that another PII key sealed (mutualaid.sealed.reseal:
    each file replaced whole, so a crash leaves it under one key or the other, never half)."""
    result = StepResult("sealed files")
    started = time.monotonic()
    key_id = pii_key_id()
    pending = []
    for folder in folders:
        base = Path(root) / folder
        for path in sorted(base.rglob("*")) if base.is_dir() else []:
            if path.name.endswith((".sealing", ".resealing")):
                path.unlink(missing_ok=True)  # the remains of a run that died
                continue
            if path.is_file() and sealed_key_id(path) not in (None, key_id):
                pending.append(path)
    for index, path in enumerate(pending, start=1):
        try:
            if reseal(path):
                result.rewritten += 1
        except FileNotFoundError:  # removed meanwhile (a purge): nothing to do
            pass
        except OSError as error:
            result.problems.append(f"{os.fspath(path)}: {error}")
        if index % batch_files == 0 or index == len(pending):
            if progress:
                progress(index, len(pending))
            if after_batch:
                after_batch()
    result.seconds = time.monotonic() - started
    return result
