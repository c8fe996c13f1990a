"""Benchmark of the two queues (SPEC OPS-4): a city-scale reference load on the bulk worker does not
delay a unit's 清册校验 on the interactive one.

    python bench/queues.py [--people 6000000] [--runs 3]

Sets Django up itself against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/mutualaid_bench_queues,
created if missing, then migrated) and REDIS_URL (default redis://127.0.0.1:6379/10), and then:

1. makes a unit with a draft batch of 500 people (imported through the importer) and writes a suggested
   roster of `--people` people (CSV, the synthetic city of rosters/synthetic.py) for another year, so the
   load never changes what the validation reads (untimed);
2. starts the two workers as production does (README, Queues): `celery worker -Q interactive -c 2` and
   `celery worker -Q bulk -c 1`;
3. runs 【清册校验】 `--runs` times alone, each as the button does (validation_start: the task is queued on
   commit), and reads from the run's own times how long it waited in the queue (created → started) and
   how long it took in all (created → finished);
4. starts the reference load as the back office's upload does (a ReferenceLoad queued on the bulk
   queue), waits until it is reading rows, and runs the same validation once a second for as long as the
   load runs (at least `--runs` times; after each it checks whether the load still runs).

Prints a table, and as the last line one JSON object with the keys validation_alone_s,
validation_during_load_s, wait_alone_s, wait_during_load_s (medians), reference_load_s, people and
overlapping (how many validations ended while the load ran). The claim: the wait in the queue stays
the same (a fraction of a second) whatever the bulk worker does; the run itself may take longer only
because both share the machine's two cores.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, coverage_year, services_stop, setup_django  # noqa: E402 - bench/ is on the path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mutualaid_bench_queues"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
ROSTER = 500
YEAR = 2031
PEOPLE_PER_UNIT = 40


def _batch(year):
    """The unit's draft batch with its 500 people (created once)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction
    from django.utils import timezone
    from openpyxl import Workbook

    from accounts.models import Role, User
    from enrollment.models import Batch, BatchKind, EnrollmentCode, HandlerInfo, Unit
    from enrollment.services import batch_number_next, code_generate
    from rosters.importer import roster_import_start
    from rosters.synthetic import resident_ids
    from rosters.workbooks import TEMPLATE_HEADER

    account, created = User.objects.get_or_create(username="bench-queues", defaults={"role": Role.UNIT_ADMIN, "email": "q@example.com"})
    batch = Batch.objects.filter(account=account, coverage_year=year).first()
    if batch is not None:
        return batch, account
    with transaction.atomic():
        code = EnrollmentCode.objects.create(code=code_generate(), unit_name="上海队列基准有限公司", account=account, bound_at=timezone.now(), source="approved")
        Unit.objects.create(code=code, name=code.unit_name, headcount=ROSTER, is_lead=True)
        HandlerInfo.objects.create(
            code=code, handler_name="基准", handler_mobile="13900000000", handler_email="q@example.com",
            economic_type="私营", address="上海市", industry="I", headcount=ROSTER, saved_by=account,
        )
        batch = Batch.objects.create(
            number=batch_number_next(year=year.year, kind=BatchKind.CENTRALISED), coverage_year=year, code=code,
            unit_name=code.unit_name, account=account, kind=BatchKind.CENTRALISED,
        )
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("参保名单")
    sheet.append(list(TEMPLATE_HEADER))
    for index, number in enumerate(resident_ids(ROSTER, seed=31, year=year.year)):
        sheet.append([f"队列{index}", "身份证", number, None, None, "", "是"])
    path = Path(tempfile.mkdtemp()) / "roster.xlsx"
    workbook.save(path)
    roster_import_start(batch=batch, upload=SimpleUploadedFile(path.name, path.read_bytes()), acting_user=account)
    return batch, account


def _reference_file(path: Path, *, people: int, year: int) -> None:
    from rosters.synthetic import FILE_HEADERS, generate_city, unit_rows

    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(FILE_HEADERS["suggested"])
        for unit in generate_city(people=people, units=max(1, people // PEOPLE_PER_UNIT), year=year, seed=11):
            writer.writerows(unit_rows(unit)["suggested"])


def _workers(environment: dict, logs: Path) -> list[subprocess.Popen]:
    celery = str(Path(sys.executable).parent / "celery")
    processes = []
    for name, queue, concurrency in (("interactive", "interactive", "2"), ("bulk", "bulk", "1")):
        log = open(logs / f"{name}.log", "w")
        processes.append(subprocess.Popen(
            [celery, "-A", "mutualaid", "worker", "-Q", queue, "-c", concurrency, "-n", f"bench-{name}@%h", "--loglevel", "WARNING"],
            cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))
    from mutualaid.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1) or []
        if len(replies) >= 2:
            return processes
    raise SystemExit(f"the workers did not answer: see {logs}")


def _validate(batch, account) -> tuple[float, float]:
    """【清册校验】 as the button does it; (seconds waited in the queue, seconds in all) from the run."""
    from enrollment.models import Batch
    from enrollment.states import BatchState
    from mutualaid.jobs import JobStatus
    from rosters.models import ValidationRun
    from rosters.validation import validation_start

    Batch.objects.filter(pk=batch.pk).update(state=BatchState.DRAFT)
    batch.refresh_from_db()
    run = validation_start(batch=batch, acting_user=account)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run = ValidationRun.objects.get(pk=run.pk)
        if run.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.REFUSED):
            break
        time.sleep(0.05)
    assert run.status == JobStatus.DONE, (run.status, run.error)
    return (run.started_at - run.created_at).total_seconds(), (run.finished_at - run.created_at).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=6_000_000)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()

    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    redis_url = os.environ["REDIS_URL"]
    work = Path(tempfile.mkdtemp(prefix="mutualaid-queues-"))
    # Not eager: from the first validation on, tasks go to the broker, as in production.
    setup_django(media_root=work / "media", default_database_url=DEFAULT_DATABASE_URL)
    year = coverage_year(YEAR)
    coverage_year(YEAR + 1)
    batch, account = _batch(year)
    started = time.perf_counter()
    source = work / "suggested.csv"
    _reference_file(source, people=arguments.people, year=YEAR + 1)
    print(f"wrote {arguments.people:,} suggested-roster people in {time.perf_counter() - started:.0f} s")

    from django.core.files import File
    from django.db import transaction

    from mutualaid.jobs import JobStatus
    from mutualaid.tasks import enqueue_on_commit
    from rosters.admin import reference_upload_store
    from rosters.models import ReferenceLoad
    from rosters.tasks import load_reference_file

    environment = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": redis_url, "MEDIA_ROOT": str(work / "media")}
    subprocess.run(["redis-cli", "-u", redis_url, "FLUSHDB"], check=True, capture_output=True)
    processes = _workers(environment, work)
    try:
        _validate(batch, account)  # warm: the worker's first task imports and connects
        alone = [_validate(batch, account) for _ in range(arguments.runs)]
        with open(source, "rb") as stream:
            stored = reference_upload_store(upload=File(stream), extension=".csv")  # sealed, as the upload is
        with transaction.atomic():
            load = ReferenceLoad.objects.create(kind="suggested", year=YEAR + 1, file_name="suggested.csv", stored_file=stored)
            enqueue_on_commit(load_reference_file, load.pk)
        load_started = time.monotonic()
        while True:
            load.refresh_from_db()
            if load.status == JobStatus.RUNNING and load.rows_read > 0 or load.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
                break
            time.sleep(0.2)
        during, overlapping = [], 0
        while len(during) < arguments.runs or load.status == JobStatus.RUNNING:  # one a second while it runs
            during.append(_validate(batch, account))
            load.refresh_from_db()
            overlapping += load.status == JobStatus.RUNNING
            time.sleep(1)
        while load.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            time.sleep(1)
            load.refresh_from_db()
        reference_seconds = time.monotonic() - load_started
    finally:
        services_stop(processes)

    print(f"\n{'validation of ' + str(ROSTER) + ' people':<34} {'waited in queue':>16} {'in all':>8}")
    for label, runs in (("alone", alone), ("during the reference load", during)):
        for waited, total in runs:
            print(f"{label:<34} {waited:>15.3f}s {total:>7.2f}s")
    print(f"reference load of {arguments.people:,} people on the bulk worker: {reference_seconds:.0f} s ({load.status}, "
          f"{load.rows_loaded:,} loaded); {overlapping} of {len(during)} validations ended while it ran")
    figures = {
        "validation_alone_s": round(statistics.median(total for _, total in alone), 3),
        "validation_during_load_s": round(statistics.median(total for _, total in during), 3),
        "wait_alone_s": round(statistics.median(waited for waited, _ in alone), 3),
        "wait_during_load_s": round(statistics.median(waited for waited, _ in during), 3),
        "reference_load_s": round(reference_seconds, 1),
        "people": arguments.people,
        "overlapping": overlapping,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
