"""Benchmark of the roster import (SPEC ROS-9, STYLE.md §6, ARCHITECTURE.md "Bulk data").

    python bench/roster_import.py [--people N] [--year YYYY] [--sizes 5000,50000] [--reload] [--keep]

Sets Django up itself against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/mutualaid_bench_import,
created if missing, then migrated), and then:

1. loads a suggested roster of N people (default 1,000,000) for the year with the synthetic city of
   rosters/synthetic.py and the reference loader (untimed; skipped when the year already holds N people,
   unless --reload), vacuumed as it is in steady state (see _load_suggested);
2. writes a template file per size (default 5,000 and 50,000 rows) with openpyxl (untimed): people drawn
   from that roster (90 %), people it does not know (5 %) and 非身份证 rows, with about 5 % bad rows
   (wrong check characters, IDs that Excel turned into numbers, bad mobiles, missing 是否有社保,
   duplicates);
3. imports each file into a fresh draft batch through `roster_import_start` (run inline here, so its
   phases can be timed: read, validate, look-up, write, report) and counts its SQL queries;
4. times the bare work the import cannot avoid for the largest file: calamine's read plus the row
   validation, without the database;
5. times the roster page (GET "rosters:roster" with the Django test client: server time, median of 3)
   of the largest batch and counts its queries; null when that page does not exist.

Prints a table, and as the last line one JSON object with the keys import_5000_s, import_50000_s,
bare_50000_s, ratio_50000, queries_5000, queries_50000, roster_page_ms, roster_page_queries. The goals
(PostgreSQL): 5,000 rows under 0.5 s, 50,000 under 3 s and within 8× of the bare read and
validation; the roster page of 50,000 people under 100 ms with at most 15 queries.
"""
import argparse
import contextlib
import csv
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _common import counting, coverage_year, setup_django  # noqa: E402 - bench/ is on the path
from _rows import roster_rows  # noqa: E402
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mutualaid_bench_import"
PEOPLE_PER_UNIT = 40


def _load_suggested(*, people: int, year: int, seed: int, folder: Path, reload: bool, sample_size: int) -> list[tuple[str, str]]:
    """Load the suggested roster (unless in place) and return `sample_size` (ID, name) pairs of it,
    drawn uniformly (the city is generated again with the same seed: the same people)."""
    from rosters.models import SuggestedPerson
    from rosters.reference import reference_load
    from rosters.synthetic import FILE_HEADERS, generate_city, unit_rows

    rng = random.Random(seed)
    sample: list[tuple[str, str]] = []
    seen = 0
    in_place = SuggestedPerson.objects.filter(year=year).count()
    write = reload or in_place != people
    path = folder / "suggested.csv"
    started = time.perf_counter()
    with open(path, "w", encoding="utf-8", newline="") if write else contextlib.nullcontext() as stream:
        writer = csv.writer(stream) if write else None
        if writer:
            writer.writerow(FILE_HEADERS["suggested"])
        for unit in generate_city(people=people, units=max(1, people // PEOPLE_PER_UNIT), year=year, seed=seed):
            rows = unit_rows(unit)["suggested"]
            if writer:
                writer.writerows(rows)
            for row in rows:
                if row[4] == "退休":
                    continue  # retired people are imported marked 退休 (ROS-12); the sample holds the others
                seen += 1
                if len(sample) < sample_size:
                    sample.append((row[0], row[1]))
                else:
                    slot = rng.randrange(seen)
                    if slot < sample_size:
                        sample[slot] = (row[0], row[1])
    if write:
        print(f"generated {people:,} suggested-roster people in {time.perf_counter() - started:.1f} s; loading…")
        result = reference_load(kind="suggested", path=path, year=year)
        print(f"loaded {result.loaded:,} in {result.seconds:.1f} s")
        path.unlink()
    else:
        print(f"suggested roster {year} already holds {in_place:,} people (use --reload to load it again)")
    from django.db import connection

    if connection.vendor == "postgresql":
        # The look-up is an index-only scan once the partition's visibility map is set (measured
        # here: 5,000 probes 140 ms before, 38 ms after). A year's roster is loaded once and then
        # only read, so in production the loader or autovacuum has set it; a roster left by an
        # older load of this database may not have it yet. Time the steady state.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) rosters_suggestedperson")
    rng.shuffle(sample)
    return sample


def _write_file(path: Path, *, rows: int, known: list[tuple[str, str]], seed: int) -> int:
    """A filled template of `rows` rows (bench/_rows.py, the rows the API benchmark posts as JSON);
    returns how many rows were made bad on purpose."""
    from openpyxl import Workbook

    from rosters.workbooks import TEMPLATE_HEADER

    values, bad = roster_rows(rows, known=known, seed=seed)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("参保名单")
    sheet.append(list(TEMPLATE_HEADER))
    for row in values:
        sheet.append(row)
    workbook.save(path)
    return bad


def _fresh_batch(*, year, account, index: int):
    from django.db import transaction
    from django.utils import timezone

    from enrollment.models import Batch, BatchKind, EnrollmentCode, HandlerInfo, Unit
    from enrollment.services import batch_number_next, code_generate

    code = EnrollmentCode.objects.create(
        code=code_generate(), unit_name=f"上海基准测试{index}号有限公司", account=account, bound_at=timezone.now(), source="approved"
    )
    Unit.objects.create(code=code, name=code.unit_name, headcount=100, is_lead=True)
    HandlerInfo.objects.create(
        code=code, handler_name="基准", handler_mobile="13900000000", handler_email="bench@example.com",
        economic_type="私营", address="上海市", industry="I", headcount=100, saved_by=account,
    )
    with transaction.atomic():
        number = batch_number_next(year=year.year, kind=BatchKind.CENTRALISED)
    return Batch.objects.create(
        number=number,
        coverage_year=year,
        code=code,
        unit_name=code.unit_name,
        account=account,
        kind=BatchKind.CENTRALISED,
    )


def _import(path: Path, *, batch, account):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rosters.importer import roster_import_start

    upload = SimpleUploadedFile(path.name, path.read_bytes())
    with counting() as counter:
        started = time.perf_counter()
        result = roster_import_start(batch=batch, upload=upload, acting_user=account)
        seconds = time.perf_counter() - started
    return result, seconds, counter.count


def _bare(path: Path) -> float:
    """calamine's read of the file plus the row validation, without the database (the floor)."""
    from rosters.importer import read_sheet
    from rosters.importer.rows import _validate_sheet

    started = time.perf_counter()
    with open(path, "rb") as stream:
        sheet = read_sheet(stream)
    _validate_sheet(sheet, None)
    return time.perf_counter() - started


def _roster_page(batch, account) -> tuple[float | None, int | None]:
    from django.test import Client
    from django.urls import reverse

    address = reverse("rosters:roster", kwargs={"number": batch.number})
    client = Client()
    client.force_login(account)
    client.get(address)  # warm: templates, sessions, the plan cache
    timings, queries = [], None
    for _ in range(3):
        with counting() as counter:
            started = time.perf_counter()
            response = client.get(address)
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        queries = counter.count
    return statistics.median(timings) * 1000, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="suggested-roster people (default 1,000,000)")
    parser.add_argument("--year", type=int, default=2031, help="coverage year of the run (its suggested roster is replaced)")
    parser.add_argument("--sizes", default="5000,50000", help="rows of the files, comma-separated (default 5000,50000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reload", action="store_true", help="load the suggested roster even if it is in place")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder with the files")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    folder = Path(tempfile.mkdtemp(prefix="roster-import-bench-"))
    setup_django(media_root=folder / "media", default_database_url=DEFAULT_DATABASE_URL)
    from django.db import connection

    from accounts.models import User
    from rosters.importer import service as importer_service

    # Every file runs inline here, so that the phases of the pipeline can be timed; in the portal the
    # large ones run the same code in a Celery task.
    importer_service.INLINE_MAX_BYTES = 1 << 40
    year = coverage_year(args.year)
    known = _load_suggested(
        people=args.people, year=args.year, seed=args.seed, folder=folder, reload=args.reload, sample_size=max(sizes)
    )
    account, _ = User.objects.get_or_create(username="bench-import", defaults={"role": "unit_admin", "email": "bench@example.com"})

    runs = []
    for index, size in enumerate(sizes, start=1):
        path = folder / f"roster-{size}.xlsx"
        started = time.perf_counter()
        bad = _write_file(path, rows=size, known=known, seed=args.seed + index)
        print(f"wrote {size:,} rows ({bad:,} made bad, {path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
        batch = _fresh_batch(year=year, account=account, index=int(time.time() * 1000) % 10**9 + index)
        result, seconds, queries = _import(path, batch=batch, account=account)
        assert result.status == "done", (result.status, result.error)
        runs.append({"size": size, "path": path, "batch": batch, "result": result, "seconds": seconds, "queries": queries})

    largest = runs[-1]
    bare = statistics.median(_bare(largest["path"]) for _ in range(3))
    page_ms, page_queries = _roster_page(largest["batch"], account)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)

    print()
    print(f"{'database':<30}{connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"{'suggested roster':<30}{args.people:>12,} people ({args.year})")
    header = f"{'rows':>8} {'read':>7} {'valid.':>7} {'look-up':>8} {'write':>7} {'report':>7} {'total':>7} {'queries':>8}  result"
    print(header)
    for run in runs:
        timings = run["result"].timings
        print(
            f"{run['size']:>8,} "
            + " ".join(f"{timings.get(phase, 0):>7.3f}" for phase in ("read", "validate"))
            + f" {timings.get('lookup', 0):>8.3f}"
            + " ".join(f" {timings.get(phase, 0):>6.3f}" for phase in ("write", "report"))
            + f" {run['seconds']:>7.3f} {run['queries']:>8}  {run['result'].summary}"
        )
    ratio = largest["seconds"] / bare
    print(f"{'bare read + validate':<30}{bare:>10.3f} s ({largest['size']:,} rows, median of 3)")
    print(f"{'ratio total / bare':<30}{ratio:>10.2f}    (goal <= 8)")
    print(f"{'roster page':<30}" + (f"{page_ms:>10.1f} ms, {page_queries} queries (goal < 100 ms, <= 15)" if page_ms is not None else "n/a (no rosters:roster)"))
    by_size = {run["size"]: run for run in runs}
    print(
        json.dumps(
            {
                "import_5000_s": round(by_size[5000]["seconds"], 3) if 5000 in by_size else None,
                "import_50000_s": round(by_size[50000]["seconds"], 3) if 50000 in by_size else None,
                "bare_50000_s": round(bare, 3) if largest["size"] == 50000 else None,
                "ratio_50000": round(ratio, 2) if largest["size"] == 50000 else None,
                "queries_5000": by_size[5000]["queries"] if 5000 in by_size else None,
                "queries_50000": by_size[50000]["queries"] if 50000 in by_size else None,
                "roster_page_ms": round(page_ms, 1) if page_ms is not None else None,
                "roster_page_queries": page_queries,
            }
        )
    )


if __name__ == "__main__":
    main()
