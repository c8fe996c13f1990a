"""The restore drill at city scale (SPEC OPS-1): back up, restore into a new database, verify.

    python bench/restore_drill.py [--people N] [--year YYYY] [--samples N] [--keep]

Sets Django up itself against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/mutualaid_bench_restore,
created if missing, then migrated), and then (untimed) makes sure the database holds a suggested roster
of N people (default 6,000,000) for the year — loading one with `reference_load` when it holds fewer —
and the demo data (`seed_demo`: accounts, units, batches), and seals 20 files of 1 MB into a media
folder. Then it times `mutualaid.restore_drill.restore_drill`: deploy/backup.sh (pg_dump -Fc, tar of the
media), deploy/restore.sh (createdb, pg_restore with 2 jobs, VACUUM ANALYZE, untar), and the checks:
row counts of every table against the source's, owners, grants and triggers, the audit trail's
refusal of an UPDATE, and `manage.py restore_verify` (IDs of the roster and the three reference
tables decrypt and hash back, sealed files open, the demo unit `demo` logs in). The copy is dropped
unless --keep.

Prints a table, and as the last line one JSON object with the keys reference_rows, total_rows,
dump_mb, backup_s, restore_s, verify_s, drill_s, ok.
"""
import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from _common import setup_django  # noqa: E402 - bench/ is on the path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mutualaid_bench_restore"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=6_000_000, help="people in the suggested roster (default 6,000,000)")
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--samples", type=int, default=1000, help="ID numbers checked per table (default 1,000)")
    parser.add_argument("--keep", action="store_true", help="keep the restored database and the backup folder")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="restore-drill-bench-"))
    media = folder / "source-media"
    setup_django(media_root=media, default_database_url=DEFAULT_DATABASE_URL)
    from django.core.management import call_command
    from django.db import connection

    from mutualaid.restore_drill import drop_database, restore_drill
    from mutualaid.sealed import seal_stream
    from reference_load import _write_roster
    from rosters.models import SuggestedPerson
    from rosters.reference import reference_load

    try:
        present = SuggestedPerson.objects.filter(year=args.year).count()
        if present < args.people:
            roster = folder / "suggested.csv"
            _write_roster(roster, people=args.people, year=args.year, seed=args.seed)
            reference_load(kind="suggested", path=roster, year=args.year)
            roster.unlink()
        call_command("seed_demo", stdout=open(os.devnull, "w"))
        (media / "private").mkdir(parents=True, exist_ok=True)
        for number in range(20):
            seal_stream([os.urandom(1 << 20)], media / "private" / f"attachment-{number:02d}.pdf")

        source_url = os.environ["DATABASE_URL"]
        target = f"{connection.settings_dict['NAME']}_restored"
        drop_database(source_url, target)
        started = time.perf_counter()
        result = restore_drill(
            source_url=source_url, media_root=media, target_database=target, workdir=folder / "drill",
            username="demo", password="Demo#2026", owner=connection.settings_dict["USER"] or "postgres",
            samples=args.samples, keep=args.keep,
        )
        drill = time.perf_counter() - started
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    reference_rows = sum(count for name, count in result.source_rows.items()
                         if name.startswith(("rosters_suggestedperson", "rosters_unionmember", "rosters_previousenrolment")))
    total_rows = sum(result.source_rows.values())
    print()
    print(f"{'database':<34}{connection.settings_dict['NAME']} -> {target}{' (kept)' if args.keep else ' (dropped)'}")
    print(f"{'tables / rows':<34}{len(result.source_rows):>14,} / {total_rows:,} ({reference_rows:,} reference rows)")
    print(f"{'dump (pg_dump -Fc) / media tar':<34}{result.dump_bytes / 1e6:>14,.0f} MB / {result.media_bytes / 1e6:,.0f} MB")
    print(f"{'backup.sh':<34}{result.backup_seconds:>14.1f} s")
    print(f"{'restore.sh (incl. VACUUM ANALYZE)':<34}{result.restore_seconds:>14.1f} s")
    print(f"{'restore_verify':<34}{result.verify_seconds:>14.1f} s")
    print(f"{'whole drill (with both counts)':<34}{drill:>14.1f} s")
    print(f"{'row counts equal':<34}{str(result.restored_rows == result.source_rows):>14}")
    print(f"{'owners, grants, triggers equal':<34}{str(result.ownership_equal):>14}")
    print(f"{'audit trail refuses UPDATE':<34}{str('append-only' in result.audit_refusal):>14}")
    print(f"{'IDs decrypted and hashed back':<34}{sum(result.verify.get('ids_checked', {}).values()):>14,}")
    print(f"{'sealed files read':<34}{result.verify.get('sealed_files_checked', 0):>14,}")
    print(f"{'demo unit logs in':<34}{str(result.verify.get('login_ok')):>14}")
    for problem in result.problems:
        print(f"PROBLEM: {problem}")
    print(json.dumps({
        "reference_rows": reference_rows, "total_rows": total_rows, "dump_mb": round(result.dump_bytes / 1e6),
        "backup_s": round(result.backup_seconds, 1), "restore_s": round(result.restore_seconds, 1),
        "verify_s": round(result.verify_seconds, 1), "drill_s": round(drill, 1), "ok": result.ok,
    }))


if __name__ == "__main__":
    main()
