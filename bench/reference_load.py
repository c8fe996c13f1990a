"""Benchmark of the reference load (SPEC REF, ARCHITECTURE.md "Bulk data").

    python bench/reference_load.py [--people N] [--year YYYY] [--keep]

Sets Django up itself against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/mutualaid_bench,
created if missing, then migrated), and then:

1. writes a suggested roster of N people (default 1,000,000) as CSV into a temporary folder, with the
   synthetic city of rosters/synthetic.py (untimed);
2. times the whole `reference_load` of that file (read, validate, hash, encrypt, COPY, index, swap),
   and shows its phases (LoadResult.phases: rows, analyse, indexes, swap);
3. times a bare COPY of the same rows, already hashed and encrypted (taken from the loaded
   partition, untimed), into an unindexed plain table: the limit;
4. times `suggested_people_by_hash` for 50,000 people drawn uniformly from the file (after an
   untimed CHECKPOINT; three runs, the median reported), then shows its plan (untimed): on
   PostgreSQL an Index Only Scan of the year's covering key with no heap fetches, and the pages it
   found in shared_buffers (hit) or had to read.

Prints a table, and as the last line one JSON object with the keys people, load_rows_per_s,
copy_rows_per_s, ratio, lookup_50000_s. The goals: 6,000,000 rows in under 60 s with
ratio >= 0.1, and 50,000 look-ups in under 0.6 s.
"""
import argparse
import csv
import json
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

from _common import setup_django  # noqa: E402 - bench/ is on the path
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mutualaid_bench"
LOOKUPS = 50_000
PEOPLE_PER_UNIT = 40  # 6,000,000 people in 150,000 units, as the city the goals are set for


def _write_roster(path: Path, *, people: int, year: int, seed: int) -> list[str]:
    """The suggested roster as CSV; returns LOOKUPS IDs drawn uniformly from it (reservoir)."""
    from rosters.synthetic import FILE_HEADERS, generate_city, unit_rows

    rng = random.Random(seed)
    sample: list[str] = []
    seen = 0
    units = max(1, people // PEOPLE_PER_UNIT)
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(FILE_HEADERS["suggested"])
        for unit in generate_city(people=people, units=units, year=year, seed=seed):
            rows = unit_rows(unit)["suggested"]
            writer.writerows(rows)
            for row in rows:
                seen += 1
                if len(sample) < LOOKUPS:
                    sample.append(row[0])
                else:
                    slot = rng.randrange(seen)
                    if slot < LOOKUPS:
                        sample[slot] = row[0]
    return sample


def _bare_copy(*, year: int, folder: Path) -> tuple[int, float]:
    """Rows and seconds of one COPY of the loaded year's rows into a new, unindexed plain table."""
    from django.db import connection

    from rosters.models import SuggestedPerson

    table = SuggestedPerson._meta.db_table
    dump = folder / "copy.txt"
    with connection.cursor() as cursor:
        with open(dump, "wb") as stream, cursor.copy(f"COPY (SELECT * FROM {table} WHERE year = {year}) TO STDOUT") as copy:
            for block in copy:
                stream.write(block)
        cursor.execute("DROP TABLE IF EXISTS bench_bare_copy")
        cursor.execute(f"CREATE TABLE bench_bare_copy (LIKE {table} INCLUDING DEFAULTS)")
        started = time.perf_counter()
        with open(dump, "rb") as stream, cursor.copy("COPY bench_bare_copy FROM STDIN") as copy:
            while block := stream.read(1024 * 1024):
                copy.write(block)
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_bare_copy")
        rows = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_bare_copy")
    dump.unlink()
    return rows, seconds


def _lookup_plan(*, year: int, hashes: list[str]) -> str:
    """The look-up's plan in one line: its scan, heap fetches and shared buffers (EXPLAIN ANALYZE of
    the very statement suggested_people_by_hash sends, as Django logged it: with $1, $2 where the
    year and the array go)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rosters.reference import suggested_people_by_hash
    from rosters.reference.lookup import _distinct_hashes

    with CaptureQueriesContext(connection) as queries:
        suggested_people_by_hash(year=year, id_hashes=hashes)
    statement = queries.captured_queries[-1]["sql"].replace("$1", "%s").replace("$2", "%s")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, [year, "{" + ",".join(_distinct_hashes(hashes)) + "}"])
        lines = [row[0].strip() for row in cursor.fetchall()]
    scans = [line.split(" on ")[0].lstrip("-> ") for line in lines if re.search(r"(Seq|Index|Index Only|Bitmap Heap) Scan\b", line)]
    details = [
        next((line for line in lines if line.startswith(prefix)), "")  # the first Buffers line is the scan's
        for prefix in ("Heap Fetches", "Buffers", "Execution Time")
    ]
    return "; ".join(scans[-1:] + [line for line in details if line])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="people in the roster (default 1,000,000)")
    parser.add_argument("--year", type=int, default=2030, help="coverage year to load (its data is replaced)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder with the CSV (its path is printed)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="reference-bench-"))
    setup_django(media_root=folder / "media", default_database_url=DEFAULT_DATABASE_URL)
    from django.db import connection

    from mutualaid.pii import pii_hash
    from rosters.reference import reference_load, suggested_people_by_hash

    try:  # the CSV of a city is 360 MB: never left behind by a run that fails, unless --keep
        roster = folder / "suggested.csv"
        started = time.perf_counter()
        sample = _write_roster(roster, people=args.people, year=args.year, seed=args.seed)
        generated = time.perf_counter() - started
        size_mb = roster.stat().st_size / 1e6
        print(f"generated {args.people:,} people ({size_mb:,.0f} MB) in {generated:.1f} s: {roster}")

        progress_marks = []
        result = reference_load(
            kind="suggested", path=roster, year=args.year, progress=lambda done, total: progress_marks.append(done)
        )
        load_rate = result.read / result.seconds

        copy_rate = copy_rows = copy_seconds = None
        if connection.vendor == "postgresql":
            copy_rows, copy_seconds = _bare_copy(year=args.year, folder=folder)
            copy_rate = copy_rows / copy_seconds

        hashes = [pii_hash(number) for number in sample]
        if connection.vendor == "postgresql":
            # The load and the bare COPY leave gigabytes of dirty pages: let them reach the disk first,
            # so that the look-ups are timed on a settled database.
            with connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")
        lookups = []
        for _ in range(3):
            started = time.perf_counter()
            found = suggested_people_by_hash(year=args.year, id_hashes=hashes)
            lookups.append(time.perf_counter() - started)
            assert len(found) == len(set(hashes)), (len(found), len(hashes))

        plan = _lookup_plan(year=args.year, hashes=hashes) if connection.vendor == "postgresql" else ""
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    ratio = load_rate / copy_rate if copy_rate else None
    lookup = sorted(lookups)[1]  # the median of three
    print()
    print(f"{'database':<34}{connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"{'people in the file':<34}{args.people:>14,}")
    print(f"{'read / loaded / rejected':<34}{result.read:>14,} / {result.loaded:,} / {result.rejected:,}")
    print(f"{'reference_load':<34}{result.seconds:>14.1f} s  {load_rate:>12,.0f} rows/s")
    print(f"{'  of which':<34}" + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.phases.items()))
    if copy_rate:
        print(f"{'bare COPY (limit)':<34}{copy_seconds:>14.1f} s  {copy_rate:>12,.0f} rows/s")
        print(f"{'ratio load / COPY':<34}{ratio:>14.3f}    (goal >= 0.1)")
    print(
        f"{'look-up of 50,000 by hash':<34}{lookup:>14.3f} s  (goal < 0.6; median of "
        + ", ".join(f"{seconds:.3f}" for seconds in lookups)
        + ")"
    )
    if plan:
        print(f"{'look-up plan':<34}{plan}")
    print(f"{'progress reports':<34}{len(progress_marks):>14,}")
    print(
        json.dumps(
            {
                "people": args.people,
                "load_rows_per_s": round(load_rate),
                "copy_rows_per_s": round(copy_rate) if copy_rate else None,
                "ratio": round(ratio, 3) if ratio else None,
                "lookup_50000_s": round(lookup, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
