"""Benchmark of key rotation (SPEC SEC-10): `rotate_pii_key` and `rotate_hash_key` over a suggested
roster of N people.

    python bench/key_rotation.py [--people N] [--year YYYY] [--batch-size ROWS]

Sets Django up itself against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/i19keys_bench,
created if missing, then migrated), and then:

1. loads a suggested roster of N people (default 1,000,000) with `reference_load`, under key id 1
   for both keys (untimed here; bench/reference_load.py times loads);
2. makes a new PII key current and times `pii_key_rotate` (payments/key_rotation.py, what
   `manage.py rotate_pii_key` runs): every cipher decrypted and encrypted again, in batches, then
   VACUUM (ANALYZE) of the table, timed apart;
3. makes a new hash key current and times `hash_key_rotate` (`manage.py rotate_hash_key`): every
   hash made again from the decrypted number and the row's key updated in place in its partition,
   then VACUUM (ANALYZE) of the table, timed apart;
4. checks that 50,000 people drawn from the file are found by the new hashes only, and times
   that look-up (the index-only scan needs the visibility map the VACUUM set again).

Prints a table, and as the last line one JSON object with the keys people, batch_size,
pii_rotation_s, pii_rows_per_s, pii_vacuum_s, hash_rotation_s, hash_rows_per_s, hash_vacuum_s,
lookup_50000_s (each rotation's seconds include its VACUUM).
"""
import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from _common import setup_django  # noqa: E402 - bench/ is on the path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/i19keys_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="people in the suggested roster (default 1,000,000)")
    parser.add_argument("--year", type=int, default=2031, help="coverage year to load (its data is replaced)")
    parser.add_argument("--batch-size", type=int, default=5_000, help="rows per batch of the rotations (default 5,000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="key-rotation-bench-"))
    setup_django(media_root=folder / "media", default_database_url=DEFAULT_DATABASE_URL)
    import base64
    import os

    from django.conf import settings
    from django.db import connection

    from mutualaid.key_rotation import vacuum_analyse
    from mutualaid.pii import pii_hash
    from payments.key_rotation import REFERENCE_TABLES, hash_key_rotate, pii_key_rotate
    from reference_load import _write_roster
    from rosters.models import SuggestedPerson
    from rosters.reference import reference_load, suggested_people_by_hash

    # Key id 1 for both kinds while loading, whatever the environment says; the rotations then
    # move everything (every year in this database) to key id 2.
    settings.PII_KEYS, settings.PII_KEY_ID = {}, 1
    settings.PII_HASH_KEYS, settings.PII_HASH_KEY_ID, settings.PII_HASH_KEYS_RETIRED = {}, 1, []
    try:
        roster = folder / "suggested.csv"
        started = time.perf_counter()
        sample = _write_roster(roster, people=args.people, year=args.year, seed=args.seed)
        loaded = reference_load(kind="suggested", path=roster, year=args.year)
        roster.unlink()
        prepared = time.perf_counter() - started
        rows = sum(model.objects.count() for model, _keys in REFERENCE_TABLES)
        print(f"loaded {loaded.loaded:,} people in {prepared:.1f} s; {rows:,} reference rows in the database")

        vacuums = []
        original_vacuum = vacuum_analyse

        def timed_vacuum(model):
            begun = time.perf_counter()
            original_vacuum(model)
            vacuums.append(time.perf_counter() - begun)

        import payments.key_rotation as rotation

        rotation.vacuum_analyse = timed_vacuum
        try:
            settings.PII_KEYS, settings.PII_KEY_ID = {2: base64.b64encode(os.urandom(32)).decode()}, 2
            marks = []
            started = time.perf_counter()
            pii_steps = pii_key_rotate(batch_size=args.batch_size, report=lambda name, done, total: marks.append(done))
            pii_seconds = time.perf_counter() - started
            pii_rows = sum(step.rewritten for step in pii_steps)
            pii_vacuum = sum(vacuums)

            settings.PII_HASH_KEYS, settings.PII_HASH_KEY_ID = {2: base64.b64encode(os.urandom(32)).decode()}, 2
            started = time.perf_counter()
            hash_steps = hash_key_rotate(batch_size=args.batch_size, report=lambda name, done, total: marks.append(done))
            hash_seconds = time.perf_counter() - started
        finally:
            rotation.vacuum_analyse = original_vacuum
        hash_rows = sum(step.rewritten for step in hash_steps)
        vacuum_seconds = sum(vacuums) - pii_vacuum

        settings.PII_HASH_KEYS_RETIRED = [1]  # the switch: look-ups use the new key only
        hashes = [pii_hash(number) for number in sample]
        lookups = []
        for _ in range(3):
            started = time.perf_counter()
            found = suggested_people_by_hash(year=args.year, id_hashes=hashes)
            lookups.append(time.perf_counter() - started)
        assert len(found) == len(set(hashes)), (len(found), len(set(hashes)))
        left = SuggestedPerson.objects.filter(year=args.year).exclude(id_hash__startswith="2:").count()
        assert left == 0, left
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    lookup = sorted(lookups)[1]
    print()
    print(f"{'database':<38}{connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"{'people in the suggested roster':<38}{args.people:>14,}")
    print(f"{'batch size':<38}{args.batch_size:>14,}")
    print(f"{'rotate_pii_key':<38}{pii_seconds:>14.1f} s  {pii_rows / pii_seconds:>12,.0f} rows/s  ({pii_rows:,} rows)")
    for step in pii_steps:
        if step.rewritten:
            print(f"{'  ' + step.name:<38}{step.seconds:>14.1f} s  {step.rewritten:>12,} rows")
    print(f"{'  of which VACUUM (ANALYZE)':<38}{pii_vacuum:>14.1f} s")
    print(f"{'rotate_hash_key':<38}{hash_seconds:>14.1f} s  {hash_rows / hash_seconds:>12,.0f} rows/s  ({hash_rows:,} rows)")
    for step in hash_steps:
        if step.rewritten:
            print(f"{'  ' + step.name:<38}{step.seconds:>14.1f} s  {step.rewritten:>12,} rows")
    print(f"{'  of which VACUUM (ANALYZE)':<38}{vacuum_seconds:>14.1f} s")
    print(f"{'look-up of 50,000 by the new hash':<38}{lookup:>14.3f} s  (median of " + ", ".join(f"{s:.3f}" for s in lookups) + ")")
    print(f"{'progress reports':<38}{len(marks):>14,}")
    print(
        json.dumps(
            {
                "people": args.people,
                "batch_size": args.batch_size,
                "pii_rotation_s": round(pii_seconds, 1),
                "pii_rows_per_s": round(pii_rows / pii_seconds),
                "hash_rotation_s": round(hash_seconds, 1),
                "hash_rows_per_s": round(hash_rows / hash_seconds),
                "pii_vacuum_s": round(pii_vacuum, 1),
                "hash_vacuum_s": round(vacuum_seconds, 1),
                "lookup_50000_s": round(lookup, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
