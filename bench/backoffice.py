"""Benchmark of the back office's 参保统计 page and a 100,000-row export (SPEC BO-3).

    python bench/backoffice.py [--people N] [--people-rows N] [--year YYYY]

Sets Django up itself against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/mutualaid_bench_bo,
created if missing, then migrated), and then:

1. generates the year's enrolment with `manage.py generate_enrolment` (timed; skipped when the year
   already holds that many people): N people (default 1,000,000; `--people 6000000` for the city) in
   completed batches of about 40, with roster entries for the first batches covering `--people-rows`
   (default 100,000) people; the tables are then vacuumed and analysed (steady state);
2. times the statistics page /backoffice/statistics/?year=YYYY through the test client as a reviewer,
   warm, median of 5, with its query count; then each selector of payments/statistics.py alone
   (median of 5, queries; called alone, each runs its own batch_scan, which the page runs once);
3. times the export of the year's enrolled people (mutualaid.exports.export_run_sync, kind
   "enrolled_people": every person with a roster row, i.e. the --people-rows people), median of 3
   (a stand-in with openpyxl write-only if that function does not exist; it says so).

Prints a table, and as the last line one JSON object with the keys stats_page_s and export_100000_s
(and generate_s, stats_page_queries, selectors, export_rows, people, batches). The goals:
the statistics page under 1 s with 6,000,000 enrolled people, a 100,000-row export under 10 s.
"""
import argparse
import importlib.util
import json
import statistics as stats
import tempfile
import time
from pathlib import Path

from _common import counting, coverage_year, setup_django  # noqa: E402 - bench/ is on the path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mutualaid_bench_bo"
RUNS = 5
EXPORT_RUNS = 3


def _timed(function, *, runs: int):
    """Warm once, then `runs` runs: (median seconds, all seconds, queries of the last run, result)."""
    result = function()
    seconds = []
    for _ in range(runs):
        with counting() as counter:
            started = time.perf_counter()
            result = function()
            seconds.append(time.perf_counter() - started)
    return stats.median(seconds), seconds, counter.count, result


def _generate(*, year, people: int, people_rows: int) -> float | None:
    """The year's data, unless it is there already: seconds taken, or None when skipped."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Sum

    from enrollment.models import BatchTotals

    held = BatchTotals.objects.filter(batch__coverage_year=year).aggregate(people=Sum("people"))["people"] or 0
    if held == people:
        print(f"{year.year}年度 already holds {people:,} people: generation skipped")
        return None
    if held:
        raise SystemExit(
            f"{year.year}年度 holds {held:,} people, not {people:,}: use another --year or drop the database mutualaid_bench_bo"
        )
    started = time.perf_counter()
    call_command("generate_enrolment", "--year", str(year.year), "--people", str(people), "--people-rows", str(people_rows))
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        for table in (
            "enrollment_batch", "enrollment_batchtotals", "enrollment_batchitemtotal", "plans_batchpremium",
            "plans_premiumline", "payments_voucher", "payments_voucherbatch", "rosters_rosterentry",
            "rosters_enrolmentregistry", "enrollment_enrollmentcode", "accounts_user",
        ):
            cursor.execute(f'VACUUM ANALYZE "{table}"')
    return seconds


def _reviewer():
    from accounts.models import Role, User

    user, _ = User.objects.get_or_create(username="bench_bo_reviewer", defaults={"role": Role.REVIEWER})
    if user.role != Role.REVIEWER:
        user.role = Role.REVIEWER
        user.save()
    return user


def _export_stand_in(*, year, path: Path) -> tuple[int, str]:
    """The enrolled people of the year with openpyxl write-only, IDs masked: what the export writes."""
    from openpyxl import Workbook

    from enrollment.states import HOLDING_STATES
    from mutualaid.pii import mask_id_number, pii_decrypt
    from rosters.models import RosterEntry

    book = Workbook(write_only=True)
    sheet = book.create_sheet("参保人员")
    sheet.append(["参保批次", "姓名", "证件类型", "证件号码", "性别", "出生日期", "是否有社保", "起保日期", "终保日期"])
    entries = RosterEntry.objects.filter(batch__coverage_year=year, batch__state__in=HOLDING_STATES).order_by("batch_id", "pk")
    rows = 0
    for values in entries.values_list(
        "batch__number", "name", "id_type", "id_cipher", "sex", "birth_date", "has_social_security", "coverage_start", "coverage_end"
    ).iterator(chunk_size=5000):
        number, name, id_type, cipher, sex, birth, social, start, end = values
        sheet.append([number, name, id_type, mask_id_number(pii_decrypt(cipher), id_type), sex, birth, "是" if social else "否", start, end])
        rows += 1
    book.save(path)
    return rows, str(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--people-rows", type=int, default=100_000)
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()

    media = Path(tempfile.mkdtemp(prefix="bench_bo_"))
    setup_django(media_root=media, default_database_url=DEFAULT_DATABASE_URL, eager=True)
    from django.db import connection
    from django.test import Client

    from enrollment.models import Batch
    from payments import statistics as selectors

    year = coverage_year(args.year)
    generate_s = _generate(year=year, people=args.people, people_rows=args.people_rows)
    batches = Batch.objects.filter(coverage_year=year).count()
    reviewer = _reviewer()

    # 1. the page, through the test client (URL resolving, middleware, template, SVG) as a reviewer
    client = Client()
    client.force_login(reviewer)
    url = f"/backoffice/statistics/?year={year.year}"

    def page():
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response

    page_s, page_runs, page_queries, response = _timed(page, runs=RUNS)
    figures = selectors.statistics_of_year(coverage_year=year)

    # 2. each selector alone
    selector_rows = {}
    for name in ("batch_scan", "statistics_by_day", "statistics_by_state", "statistics_by_item", "statistics_by_union", "statistics_money"):
        function = getattr(selectors, name)
        seconds, _runs, queries, _result = _timed(lambda function=function: function(coverage_year=year), runs=RUNS)
        selector_rows[name] = {"s": round(seconds, 4), "queries": queries}

    # 3. the export
    exports = importlib.util.find_spec("mutualaid.exports")
    export_function = None
    if exports is not None:
        from mutualaid import exports as export_module

        export_function = getattr(export_module, "export_run_sync", None)
    stand_in = export_function is None
    export_seconds, export_rows = [], 0
    for _ in range(EXPORT_RUNS):
        started = time.perf_counter()
        if stand_in:
            export_rows, path = _export_stand_in(year=year, path=media / "stand_in.xlsx")
            export_size = Path(path).stat().st_size
        else:
            export_size = len(export_function(kind="enrolled_people", params={"year": year.year}, user=reviewer))
        export_seconds.append(time.perf_counter() - started)
        if not stand_in:
            from mutualaid.models import ExportJob

            export_rows = ExportJob.objects.filter(owner=reviewer).latest("created_at").rows_done
    export_s = stats.median(export_seconds)

    # The table
    print()
    print(f"PostgreSQL {connection.pg_version if connection.vendor == 'postgresql' else connection.vendor}; "
          f"{year.year}年度: {figures.people:,} people, {batches:,} batches, "
          f"{figures.units:,} units")
    if generate_s is not None:
        print(f"{'generate_enrolment':<34}{generate_s:>10.1f} s")
    print(f"{'statistics page (median of 5)':<34}{page_s:>10.3f} s {page_queries:>4} queries  runs {', '.join(f'{s:.3f}' for s in page_runs)}")
    for name, row in selector_rows.items():
        print(f"  {name:<32}{row['s']:>10.4f} s {row['queries']:>4} queries")
    label = "export stand-in (openpyxl)" if stand_in else "export enrolled_people"
    print(f"{label + f' ({export_rows:,} rows)':<34}{export_s:>10.2f} s  runs {', '.join(f'{s:.2f}' for s in export_seconds)}, {export_size / 1e6:.1f} MB")
    if stand_in:
        print("NOTE: mutualaid.exports.export_run_sync does not exist yet: the export time is a STAND-IN")
    print(
        json.dumps(
            {
                "stats_page_s": round(page_s, 4),
                "export_100000_s": round(export_s, 3),
                "export_rows": export_rows,
                "export_stand_in": stand_in,
                "stats_page_queries": page_queries,
                "selectors": selector_rows,
                "generate_s": round(generate_s, 1) if generate_s is not None else None,
                "people": figures.people,
                "batches": batches,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
