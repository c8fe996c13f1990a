"""SPEC SEC-2 with a real worker: the pool child is killed (SIGKILL) in the middle of an import, a
validation, an export and a reference load; each job ends exactly once, complete, with all its rows and
one audit entry, and its page shows the finished result.

The worker is `celery -A tests.job_worker` (the portal's app with a pause in each kind's first attempt),
prefork with one child, on Redis, sharing this test's PostgreSQL database. After the kill the parent
rejects the message and Redis delivers it again at once; the new child finds the job's heartbeat still
fresh (JOB_STALE_SECONDS=3 here) and retries later, then takes the job over and runs it to the end.
"""
import csv
import io
import os
import signal
import time
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.urls import reverse
from openpyxl import load_workbook

from enrollment.models import Batch
from enrollment.states import BatchState
from mutualaid.celery import app as celery_app
from mutualaid.exports import export_start
from mutualaid.jobs import ENDED, JobStatus, jobs_sweep
from mutualaid.models import ExportJob
from mutualaid.sealed import seal_stream
from mutualaid.tasks import run_export
from mutualaid.validators import resident_id_check_character
from rosters import importer, tasks
from rosters.importer import service as importer_service
from rosters.models import ReferenceLoad, RosterEntry, RosterImport, SuggestedPerson, ValidationRun
from rosters.validation import validation_start
from tests.celery_worker import worker_start, worker_stop
from tests.factories import IMPORT_CODE, UserFactory, make_batch
from tests.rosters.importfiles import many_rows, template_xlsx, upload
from tests.rosters.validation_data import add_people

WAIT_SECONDS = 90

pytestmark = [pytest.mark.real_worker, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, what: str, process=None):
    """Poll `predicate` until it is true (the worker works in its own process: there is no event to wait on)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.1)
    output = ""
    if process is not None:
        process.terminate()
        output = process.communicate(timeout=15)[0]
    pytest.fail(f"timed out waiting for {what}; worker output:\n{output}")


class KillableWorker:
    def __init__(self, process, kill_dir: Path):
        self.process, self.kill_dir = process, kill_dir

    def kill_in_the_middle(self, kind: str) -> int:
        """Wait until the job of `kind` pauses in its first attempt, SIGKILL that pool child, return its pid."""
        marker = self.kill_dir / kind
        text = wait_for(lambda: marker.exists() and marker.read_text(), f"the {kind} to start", self.process)
        pid = int(text)
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_until_ended(self, model, pk):
        return wait_for(
            lambda: model.objects.filter(pk=pk, status__in=ENDED).first(), f"{model.__name__} {pk} to end", self.process
        )


def _database_url() -> str:
    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return f"postgres://{settings['USER']}{password}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


@pytest.fixture
def killable_worker(tmp_path, media_root, settings, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the worker shares the test database: PostgreSQL only (SQLite's is in memory)")
    kill_dir = tmp_path / "kills"
    kill_dir.mkdir()
    queue, process = worker_start(
        app="tests.job_worker",
        pool="prefork",
        DATABASE_URL=_database_url(),
        MEDIA_ROOT=str(media_root),
        JOB_SCRATCH_DIR=str(settings.JOB_SCRATCH_DIR),
        KILL_DIR=str(kill_dir),
        JOB_STALE_SECONDS="3",
        JOB_HEARTBEAT_SECONDS="0.5",
        DB_CONN_MAX_AGE="0",
    )
    # The jobs' own tasks go to this worker's queue: the services start them with .delay().
    for task in (tasks.run_roster_import, tasks.run_validation, tasks.load_reference_file, run_export):
        monkeypatch.setattr(task, "delay", lambda *args, task=task: task.apply_async(args=args, queue=queue))
    celery_app.conf.task_always_eager = False
    try:
        yield KillableWorker(process, kill_dir)
    finally:
        celery_app.conf.task_always_eager = True
        worker_stop(process)


def audit_entries(obj, **filters) -> int:
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)), object_pk=str(obj.pk), **filters
    ).count()


def test_an_import_killed_in_the_middle_ends_once_with_all_its_rows(killable_worker, handbook_year, client, monkeypatch):
    account = UserFactory(role="unit_admin")
    batch = make_batch(account, year=handbook_year, code=IMPORT_CODE)
    monkeypatch.setattr(importer_service, "INLINE_MAX_BYTES", 0)  # the background path, whatever the size
    started = importer.roster_import_start(batch=batch, upload=upload(template_xlsx(many_rows(3000))), acting_user=account)
    before = audit_entries(batch)

    killable_worker.kill_in_the_middle("import")
    ended = killable_worker.wait_until_ended(RosterImport, started.pk)

    assert (ended.status, ended.attempts) == (JobStatus.DONE, 2)
    assert (ended.rows_read, ended.rows_added, ended.rows_failed) == (3000, 3000, 0)
    assert RosterEntry.objects.filter(batch=batch).count() == 3000
    assert audit_entries(batch) == before + 1  # one 导入参保人员 event (SPEC X-2)
    client.force_login(account)
    page = client.get(reverse("rosters:roster_import_result", kwargs={"number": batch.number, "import_id": ended.pk}))
    assert "成功导入：3000条信息" in page.content.decode()


def test_a_validation_killed_in_the_middle_ends_once_and_moves_its_batch_once(killable_worker, handbook_year, client):
    account = UserFactory(role="unit_admin")
    batch = make_batch(account, year=handbook_year, code=IMPORT_CODE)
    add_people(batch, 50)
    run = validation_start(batch=batch, acting_user=account)

    killable_worker.kill_in_the_middle("validation")
    ended = killable_worker.wait_until_ended(ValidationRun, run.pk)

    assert (ended.status, ended.attempts) == (JobStatus.DONE, 2)
    assert ended.steps_done == ended.steps_total and ended.findings
    batch = Batch.objects.get(pk=batch.pk)
    assert batch.state in (BatchState.DRAFT, BatchState.INVALID) and batch.state != BatchState.VALIDATING
    moves = list(batch.log.values_list("from_state", "to_state"))
    assert moves.count((BatchState.VALIDATING, batch.state)) == 1
    assert audit_entries(ended, action=LogEntry.Action.UPDATE) == 1
    client.force_login(account)
    page = client.get(reverse("rosters:validation_result", kwargs={"number": batch.number}))
    assert page.status_code == 200 and "清册校验未完成" not in page.content.decode()


def test_an_export_killed_in_the_middle_ends_once_with_all_its_rows(killable_worker, handbook_year, client):
    account = UserFactory(role="unit_admin")
    batch = make_batch(account, year=handbook_year, code=IMPORT_CODE)
    imported = importer.roster_import_start(batch=batch, upload=upload(template_xlsx(many_rows(2500))), acting_user=account)
    assert imported.status == JobStatus.DONE  # a small file is imported inline, in this process
    assert RosterEntry.objects.filter(batch=batch).count() == 2500
    job = export_start(kind="roster", params={"batch": batch.number}, user=account)

    killable_worker.kill_in_the_middle("export")
    ended = killable_worker.wait_until_ended(ExportJob, job.pk)

    assert (ended.status, ended.attempts) == (JobStatus.DONE, 2)
    assert ended.rows_done == 2500
    sheet = load_workbook(ended.file.open("rb"), read_only=True).active
    assert sum(1 for _ in sheet.iter_rows()) == 2500 + 1  # the header and every person, once
    assert audit_entries(ended, action=LogEntry.Action.ACCESS) == 1
    client.force_login(account)
    assert client.get(reverse("exports:job_download", kwargs={"job_id": ended.pk})).status_code == 200


def _suggested_csv(count: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["证件号码", "社保姓名", "单位社保编码", "个人社保登记号", "职退状态", "医保享受在职待遇"])
    for serial in range(count):
        first17 = f"310104{19600101 + serial // 900:08d}"[:14] + f"{serial % 900 + 100:03d}"
        writer.writerow([first17 + resident_id_check_character(first17), f"员工{serial}", "0100001", f"SB{serial}", "在职", "是"])
    return buffer.getvalue().encode("utf-8")


def test_a_reference_load_killed_in_the_middle_ends_once_with_all_its_rows(killable_worker, media_root, settings):
    reviewer = UserFactory(role="reviewer")
    stored = Path("private/reference/kill-test.csv")
    (media_root / stored).parent.mkdir(parents=True, exist_ok=True)
    seal_stream([_suggested_csv(2000)], media_root / stored)  # as the upload page stores it (SPEC SEC-4)
    load = ReferenceLoad.objects.create(
        kind=ReferenceLoad.Kind.SUGGESTED, year=2031, file_name="建议清册.csv", stored_file=str(stored), started_by=reviewer
    )
    tasks.load_reference_file.delay(load.pk)

    killable_worker.kill_in_the_middle("reference")
    ended = killable_worker.wait_until_ended(ReferenceLoad, load.pk)

    assert (ended.status, ended.attempts, ended.error) == (JobStatus.DONE, 2, "")
    assert (ended.rows_read, ended.rows_loaded, ended.rows_rejected) == (2000, 2000, 0)
    assert SuggestedPerson.objects.filter(year=2031).count() == 2000
    assert audit_entries(ended, action=LogEntry.Action.UPDATE) == 1  # the finished load's event
    assert not (media_root / stored).exists()  # the upload is gone once loaded
    # SPEC SEC-4: the killed attempt's plain copy outlived its worker; the sweep removes it, and the
    # attempt that finished removed its own.
    scratch = Path(settings.JOB_SCRATCH_DIR)
    assert [folder.name for folder in scratch.iterdir()] == [f"rosters.referenceload-{load.pk}-1"]
    assert jobs_sweep()["scratch_removed"] == 1 and list(scratch.iterdir()) == []
