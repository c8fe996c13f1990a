"""Benchmark of 清册校验 and 清册提交 (SPEC VAL, BAT-4, ROS-11, STYLE.md §6).

    python bench/validate.py [--people N] [--city] [--year YYYY] [--reload]

Sets Django up itself against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/mutualaid_bench_validate,
created if missing, then migrated), and then:

1. loads the year's reference data with the synthetic city of rosters/synthetic.py and the reference
   loader (untimed; skipped when already in place, unless --reload): a suggested roster of N people
   (default 1,000,000; --city: 6,000,000), 150,000 SS unit codes (the city's, topped up with further
   codes), and the previous year's enrolment; among the people one large employer of 56,000 people in
   8 SS unit codes whose 50,000 non-retired ones it enrolled last year; tables vacuumed (steady state);
2. opens a centralised batch of that employer and fills it with 【获取上年度参保名单】 (the importer:
   50,000 people, untimed): over-age people, people without an SS unit code, etc. as the city has them;
3. times 【清册校验】 end to end (validation_start + the task run eagerly: the rules, the stored result,
   the transitions), median of 3, and counts its queries; then the rules alone with the seconds of
   each rule; and the rules' query count on a 500-person roster, to show it does not depend on size;
4. settles the findings as a unit would (ticks 社保尚在缴金, 设置在职, 人员确认; untimed) and times
   【清册提交】 — rosters.submission.batch_submit(agreed=True): the rules again, 50,000 registry rows,
   coverage dates, the transition — with its query count; null if that module does not exist.

Prints a table, and as the last line one JSON object with the keys validate_50000_s, validate_queries,
submit_50000_s (and rules_50000_s, rules_queries, rules_queries_500, submit_queries). The goals
(PostgreSQL): validation under 2 s with a query count independent of the roster's size,
submission under 3 s.
"""
import argparse
import csv
import datetime as dt
import importlib.util
import itertools
import json
import statistics
import shutil
import tempfile
import time
from pathlib import Path

from _common import counting, coverage_year, setup_django  # noqa: E402 - bench/ is on the path
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mutualaid_bench_validate"
PEOPLE_PER_UNIT = 40
SS_CODES = 150_000
ROSTER = 50_000
EMPLOYER_PEOPLE = 56_000  # enough for 50,000 who are not retired
EMPLOYER_CODE = "0BV500"
SMALL_CODE = "0BV005"
SMALL_ROSTER = 500
RUNS = 3


def _reference_in_place(*, year: int, people: int) -> bool:
    from rosters.models import PreviousEnrolment, SsUnit, SuggestedPerson

    return (
        SsUnit.objects.filter(year=year).count() == SS_CODES
        and PreviousEnrolment.objects.filter(year=year - 1, code=EMPLOYER_CODE).count() == ROSTER
        and SuggestedPerson.objects.filter(year=year).count() == people
    )


def _city_with_employer(*, people: int, year: int, seed: int):
    """The employer, then the rest of the city, all from one builder of rosters/synthetic.py so that
    every ID and SS unit code is unique (generate_city and generate_unit each start their own builder,
    whose IDs would overlap: about a third of the employer's). Mirrors generate_city."""
    from rosters import synthetic

    builder = synthetic._Builder(seed=seed, coverage_start=synthetic.coverage_start_of(year))
    builder.codes_used.update({EMPLOYER_CODE, SMALL_CODE})
    yield builder.unit(
        code=EMPLOYER_CODE, name="上海基准校验集团有限公司", uscc="", people=builder.people(EMPLOYER_PEOPLE),
        has_union=False, enrolled_last_year=True, ss_code_count=8, in_band=True,
    )
    rest = people - EMPLOYER_PEOPLE
    sizes = synthetic.unit_sizes(people=rest, units=max(1, rest // PEOPLE_PER_UNIT), rng=builder.rng)
    stream = synthetic._people_stream(builder, rest)
    rng = builder.rng
    for size in sizes:
        yield builder.unit(
            code=builder.enrollment_code(),
            name=builder.unit_name(),
            uscc=builder.uscc(),
            people=list(itertools.islice(stream, size)),
            has_union=rng.random() < synthetic.UNION_UNIT_SHARE,
            enrolled_last_year=rng.random() < synthetic.PREVIOUS_UNIT_SHARE,
        )


def _write_reference(folder: Path, *, people: int, year: int, seed: int) -> dict[str, Path]:
    """suggested.csv, ss_units.csv (year) and previous.csv (year − 1) of the city with its employer,
    then further SS unit codes up to SS_CODES."""
    from rosters.synthetic import FILE_HEADERS, unit_rows

    paths = {kind: folder / f"{kind}.csv" for kind in ("suggested", "ss_units", "previous")}
    handles = {kind: open(path, "w", encoding="utf-8", newline="") for kind, path in paths.items()}
    writers = {kind: csv.writer(handle) for kind, handle in handles.items()}
    for kind, writer in writers.items():
        writer.writerow(FILE_HEADERS[kind])
    codes: set[str] = set()
    try:
        for unit in _city_with_employer(people=people, year=year, seed=seed):
            rows = unit_rows(unit)
            writers["suggested"].writerows(rows["suggested"])
            if unit.code == EMPLOYER_CODE:
                # Last year it enrolled 50,000 of its people who are not retired (VAL-3 inside the band).
                enrolled = [person for person in unit.people if person.work_status != "退休"][:ROSTER]
                writers["previous"].writerows((unit.code, person.name, person.id_number, "身份证") for person in enrolled)
            else:
                writers["previous"].writerows(rows["previous"])
            fresh = [row for row in rows["ss_units"] if len(codes) < SS_CODES or unit.code == EMPLOYER_CODE]
            writers["ss_units"].writerows(fresh)
            codes.update(row[0] for row in fresh)
        number = 0
        while len(codes) < SS_CODES:
            number += 1
            code = f"9{number:07d}"
            if code not in codes:
                codes.add(code)
                writers["ss_units"].writerow((code, f"上海补充单位{number}有限公司", 10 + number % 500))
    finally:
        for handle in handles.values():
            handle.close()
    return paths


def _load_reference(folder: Path, *, people: int, year: int, seed: int, reload: bool) -> None:
    from django.db import connection

    from rosters.reference import reference_load

    if not reload and _reference_in_place(year=year, people=people):
        print(f"reference data of {year} already in place (use --reload to load it again)")
    else:
        started = time.perf_counter()
        paths = _write_reference(folder, people=people, year=year, seed=seed)
        print(f"generated the reference files in {time.perf_counter() - started:.1f} s; loading…")
        for kind, load_year in (("suggested", year), ("ss_units", year), ("previous", year - 1)):
            result = reference_load(kind=kind, path=paths[kind], year=load_year)
            print(f"  {kind:<10} {result.loaded:>10,} rows loaded, {result.rejected:,} rejected, {result.seconds:.1f} s")
            paths[kind].unlink()
    if connection.vendor == "postgresql":
        # A year's reference data is loaded once and then only read: in production autovacuum has set
        # the visibility maps and statistics by the time units validate. Time that steady state.
        with connection.cursor() as cursor:
            for table in ("rosters_suggestedperson", "rosters_ssunit", "rosters_previousenrolment"):
                cursor.execute(f"VACUUM (ANALYZE) {table}")


def _account():
    from accounts.models import User

    account, _ = User.objects.get_or_create(
        username="bench-validate", defaults={"role": "unit_admin", "email": "bench@example.com"}
    )
    return account


def _code(code: str, *, account, name: str):
    from django.utils import timezone

    from enrollment.models import EnrollmentCode, HandlerInfo, Unit

    existing = EnrollmentCode.objects.filter(code=code).first()
    if existing is not None:
        return existing
    created = EnrollmentCode.objects.create(code=code, unit_name=name, account=account, bound_at=timezone.now(), source="approved")
    Unit.objects.create(code=created, name=name, headcount=ROSTER, is_lead=True)
    HandlerInfo.objects.create(
        code=created, handler_name="基准", handler_mobile="13900000000", handler_email="bench@example.com",
        economic_type="私营", address="上海市", industry="I", headcount=ROSTER, saved_by=account,
    )
    return created


def _fresh_batch(*, year, code, account):
    """A new centralised draft batch of `code`; an earlier run's batch (and the people it holds) goes."""
    from django.db import transaction

    from enrollment.models import Batch, BatchKind
    from enrollment.services import batch_number_next
    from rosters.models import EnrolmentRegistry

    with transaction.atomic():
        earlier = Batch.objects.filter(code=code, coverage_year=year)
        EnrolmentRegistry.objects.filter(batch__in=earlier).delete()
        earlier.delete()
        number = batch_number_next(year=year.year, kind=BatchKind.CENTRALISED)
        return Batch.objects.create(
            number=number, coverage_year=year, code=code, unit_name=code.unit_name, account=account,
            kind=BatchKind.CENTRALISED,
        )


def _settle(batch) -> dict[str, int]:
    """What a unit does on the result page before 【清册提交】 (untimed): tick 社保尚在缴金 of the over-age
    people, 【设置在职】 for over-age people without 社保 (the FAQ's way to keep them), 【人员确认】 of
    the people without an SS unit code, and confirm 姓名匹配异常. Returns the counts."""
    from rosters.models import RosterEntry
    from rosters.rules import over_age_entries, unmatched_entries

    over_age = over_age_entries(batch)
    return {
        "set_active": over_age.filter(has_social_security=False).update(work_status="在职", has_social_security=True),
        "ticked": over_age_entries(batch).update(still_contributing=True),
        "confirmed": unmatched_entries(batch).update(unmatched_confirmed=True),
        "names": RosterEntry.objects.filter(batch=batch, name_mismatch=True).update(name_mismatch=False),
    }


def _validate_end_to_end(batch, account) -> tuple[float, int, object]:
    """【清册校验】 as the button does it: validation_start, the task run on commit (eagerly here)."""
    from mutualaid.jobs import JobStatus
    from rosters.validation import validation_run, validation_start

    with counting() as counter:
        started = time.perf_counter()
        run = validation_start(batch=batch, acting_user=account)
        run.refresh_from_db()
        if run.status == JobStatus.QUEUED:  # a broker is configured: run it here anyway
            run = validation_run(run=run)
        seconds = time.perf_counter() - started
    assert run.status == JobStatus.DONE, (run.status, run.error)
    batch.refresh_from_db()
    return seconds, counter.count, run


def _rules_timed(batch) -> tuple[float, int, list[tuple[str, float]], object]:
    from rosters.rules import RULE_STEPS, validate_roster

    marks = []
    with counting() as counter:
        started = time.perf_counter()
        outcome = validate_roster(batch=batch, progress=lambda done, total: marks.append(time.perf_counter()))
        seconds = time.perf_counter() - started
    previous, per_rule = started, []
    for name, mark in zip(RULE_STEPS, marks):
        per_rule.append((name, mark - previous))
        previous = mark
    return seconds, counter.count, per_rule, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="suggested-roster people (default 1,000,000)")
    parser.add_argument("--city", action="store_true", help="the whole city: 6,000,000 suggested-roster people")
    parser.add_argument("--year", type=int, default=2032, help="coverage year of the run (its reference data is replaced)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reload", action="store_true", help="load the reference data even if it is in place")
    args = parser.parse_args()
    people = 6_000_000 if args.city else args.people

    folder = Path(tempfile.mkdtemp(prefix="validate-bench-"))
    setup_django(media_root=folder / "media", default_database_url=DEFAULT_DATABASE_URL, eager=True)
    from django.db import connection

    from enrollment.models import Batch
    from rosters.importer import roster_import_previous
    from rosters.models import RosterEntry
    from rosters.rules import validate_roster

    year = coverage_year(args.year)
    try:
        _load_reference(folder, people=people, year=args.year, seed=args.seed, reload=args.reload)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    account = _account()
    employer = _code(EMPLOYER_CODE, account=account, name="上海基准校验集团有限公司")
    batch = _fresh_batch(year=year, code=employer, account=account)
    started = time.perf_counter()
    imported = roster_import_previous(batch=batch, acting_user=account)
    print(f"filled batch {batch.number} by 获取上年度参保名单 in {time.perf_counter() - started:.1f} s: {imported.summary}")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE rosters_rosterentry")
    batch.refresh_from_db()

    validate_roster(batch=batch)  # warm: plans, content types (a page view has done this in the portal)
    # A 500-person roster of another code: the rules must send as many queries for it.
    small = _fresh_batch(year=year, code=_code(SMALL_CODE, account=account, name="上海基准小型有限公司"), account=account)
    copies = list(RosterEntry.objects.filter(batch=batch).order_by("pk")[:SMALL_ROSTER])
    for entry in copies:
        entry.pk, entry.batch = None, small
    RosterEntry.objects.bulk_create(copies)
    small = Batch.objects.get(pk=small.pk)  # loaded afresh, as the big one is below
    with counting() as small_counter:
        validate_roster(batch=small)

    end_to_end = []
    for _ in range(RUNS):
        end_to_end.append(_validate_end_to_end(batch, account))
    validate_s = statistics.median(seconds for seconds, _, _ in end_to_end)
    validate_queries = end_to_end[-1][1]
    validated_state = batch.get_state_display()
    rules_s, rules_queries, per_rule, outcome = _rules_timed(Batch.objects.get(pk=batch.pk))

    settled = _settle(batch)
    submit_s = submit_queries = None
    submitted_state = "n/a (rosters.submission does not exist)"
    if importlib.util.find_spec("rosters.submission") is not None:
        from zoneinfo import ZoneInfo

        from rosters.submission import batch_submit

        inside_window = dt.datetime(args.year, 6, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai"))  # SPEC BAT-10
        batch.refresh_from_db()
        with counting() as counter:
            started = time.perf_counter()
            submitted = batch_submit(batch=batch, acting_user=account, agreed=True, at=inside_window)
            submit_s = time.perf_counter() - started
        submit_queries = counter.count
        submitted_state = submitted.get_state_display()

    print()
    print(f"{'database':<30}{connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"{'reference data':<30}{people:>12,} suggested-roster people, {SS_CODES:,} SS unit codes ({args.year})")
    print(f"{'roster':<30}{outcome.total:>12,} people, batch {batch.number}")
    print(
        f"{'findings':<30}over-age {outcome.over_age.total:,} (without 社保 {outcome.over_age.without_social_security:,}), "
        f"无单位社保编码 {outcome.unmatched.total:,}, 姓名匹配异常 {outcome.name_mismatches.count:,}, "
        f"VAL-3 {outcome.headcount.percent}% ({'inside' if outcome.headcount.within_band else 'outside'}), "
        f"VAL-4 {outcome.ratio.percent}% over {len(outcome.ratio.rows)} SS unit codes → {validated_state}"
    )
    print(f"{'rule':<30}{'seconds':>10}")
    for name, seconds in per_rule:
        print(f"{'  ' + name:<30}{seconds:>10.3f}")
    print(f"{'  rules in all':<30}{rules_s:>10.3f}    {rules_queries} queries ({small_counter.count} for {SMALL_ROSTER} people)")
    timings = ", ".join(f"{seconds:.3f}" for seconds, _, _ in end_to_end)
    print(f"{'清册校验 end to end':<26}{validate_s:>10.3f}    median of {timings}; {validate_queries} queries (goal < 2 s)")
    print(f"{'settled before 提交':<27}{json.dumps(settled, ensure_ascii=False)}")
    if submit_s is not None:
        print(f"{'清册提交':<26}{submit_s:>10.3f}    {submit_queries} queries → {submitted_state} (goal < 3 s)")
    else:
        print(f"{'清册提交':<26}{submitted_state}")
    print(
        json.dumps(
            {
                "validate_50000_s": round(validate_s, 3) if outcome.total == ROSTER else None,
                "validate_queries": validate_queries,
                "submit_50000_s": round(submit_s, 3) if submit_s is not None and outcome.total == ROSTER else None,
                "rules_50000_s": round(rules_s, 3),
                "rules_queries": rules_queries,
                "rules_queries_500": small_counter.count,
                "submit_queries": submit_queries,
            }
        )
    )


if __name__ == "__main__":
    main()
