"""The one job lifecycle (SPEC SEC-2, mutualaid/jobs.py): claim, heartbeat, finish, fail, takeover of a
job whose worker died, and the sweep of jobs nobody runs. The kinds' own tests (imports, validations,
exports, reference loads) and the real-worker kill tests (test_job_kills.py) build on these."""
import datetime as dt
import threading
import types

import pytest
from auditlog.models import LogEntry
from django.db import connection, connections, transaction
from django.utils import timezone

from mutualaid import exports, jobs
from mutualaid.jobs import JobBusy, JobLost, JobStatus, job_claim, job_fail, job_finish, job_heartbeat, jobs_sweep
from mutualaid.models import ExportJob
from mutualaid.tasks import run_export, sweep_jobs
from tests.factories import UserFactory


class CountingExport(exports.ExportBuilder):
    """An export whose runs are counted (a second run beside a live one would show here)."""

    label = "计数导出"
    runs = []

    def check(self, *, user, params):
        pass

    def plan(self, *, user, params):
        return exports.ExportPlan(title="计数导出", filename="计数导出.xlsx")

    def write(self, *, user, params, path, progress):
        from mutualaid.xlsx import XlsxWriter

        CountingExport.runs.append(params.get("n"))
        with XlsxWriter(path) as book:
            book.sheet("计数", [("序号", 6)]).row([1])
        return 1


@pytest.fixture(autouse=True)
def counting_kind(monkeypatch):
    monkeypatch.setitem(exports.EXPORT_BUILDERS, "counting", "tests.mutualaid.test_jobs.CountingExport")
    CountingExport.runs.clear()


@pytest.fixture
def owner(db):
    return UserFactory(role="reviewer")


def make_job(owner, **fields) -> ExportJob:
    return ExportJob.objects.create(owner=owner, kind="counting", params={"n": 1}, title="计数导出", **fields)


def ago(seconds: float):
    return timezone.now() - dt.timedelta(seconds=seconds)


# --- claim ---------------------------------------------------------------------------------------------


def test_a_queued_job_is_claimed_once(owner):
    job = make_job(owner)
    claimed = job_claim(ExportJob, job.pk)
    assert (claimed.status, claimed.attempts) == (JobStatus.RUNNING, 1)
    stored = ExportJob.objects.get(pk=job.pk)
    assert stored.status == JobStatus.RUNNING and stored.started_at is not None
    # The same job again, its heartbeat fresh: a live worker holds it.
    with pytest.raises(JobBusy) as busy:
        job_claim(ExportJob, job.pk)
    assert 0 < busy.value.retry_in <= 60 + 1


def test_ended_and_missing_jobs_are_not_claimed(owner):
    for status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.REFUSED):
        assert job_claim(ExportJob, make_job(owner, status=status).pk) is None
    assert job_claim(ExportJob, 10**9) is None


def test_a_job_whose_heartbeat_is_stale_is_taken_over_from_a_clean_state(owner, settings):
    job = make_job(owner, status=JobStatus.RUNNING, attempts=1, rows_done=222_000, heartbeat_at=ago(settings.JOB_STALE_SECONDS + 1))
    claimed = job_claim(ExportJob, job.pk)
    assert claimed.attempts == 2
    stored = ExportJob.objects.get(pk=job.pk)
    assert (stored.status, stored.attempts, stored.rows_done) == (JobStatus.RUNNING, 2, 0)
    assert timezone.now() - stored.heartbeat_at < dt.timedelta(seconds=5)


def test_the_last_attempt_fails_the_job_with_its_kinds_words(owner, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    job = make_job(owner, status=JobStatus.RUNNING, attempts=3, heartbeat_at=ago(settings.JOB_STALE_SECONDS + 1))
    assert job_claim(ExportJob, job.pk) is None
    stored = ExportJob.objects.get(pk=job.pk)
    assert (stored.status, stored.error) == (JobStatus.FAILED, "导出中断，请重新导出。")
    assert stored.finished_at is not None


# --- heartbeat, finish and fail are the holding attempt's only ---------------------------------------------


def test_an_attempt_that_was_taken_over_can_neither_beat_nor_finish(owner, settings):
    first = job_claim(ExportJob, make_job(owner).pk)
    assert job_heartbeat(first, rows_done=5)
    ExportJob.objects.filter(pk=first.pk).update(heartbeat_at=ago(settings.JOB_STALE_SECONDS + 1))
    second = job_claim(ExportJob, first.pk)

    assert not job_heartbeat(first, rows_done=99)
    with pytest.raises(JobLost), transaction.atomic():
        job_finish(first, rows_done=1)
    assert not job_fail(first, "旧的尝试")
    assert ExportJob.objects.get(pk=first.pk).status == JobStatus.RUNNING

    job_finish(second, rows_done=7)
    stored = ExportJob.objects.get(pk=first.pk)
    assert (stored.status, stored.rows_done, stored.attempts) == (JobStatus.DONE, 7, 2)


def test_a_failure_is_audited_once_in_the_owners_name(owner):
    job = job_claim(ExportJob, make_job(owner).pk)
    before = LogEntry.objects.filter(object_pk=str(job.pk)).count()
    assert job_fail(job, "导出失败：测试。")
    assert not job_fail(job, "第二次")
    stored = ExportJob.objects.get(pk=job.pk)
    assert (stored.status, stored.error) == (JobStatus.FAILED, "导出失败：测试。")
    entries = LogEntry.objects.filter(object_pk=str(job.pk)).order_by("pk")
    assert entries.count() == before + 1 and entries.last().actor == owner


# --- the task ------------------------------------------------------------------------------------------------


def test_a_task_delivered_again_beside_a_live_worker_does_not_run_the_job(owner):
    job = job_claim(ExportJob, make_job(owner).pk)  # a live worker holds it
    assert run_export(job.pk) == JobStatus.RUNNING
    assert CountingExport.runs == []
    assert ExportJob.objects.get(pk=job.pk).attempts == 1


def test_a_task_delivered_after_its_worker_died_runs_the_job_to_the_end_once(owner, settings):
    job = make_job(owner, status=JobStatus.RUNNING, attempts=1, heartbeat_at=ago(settings.JOB_STALE_SECONDS + 1))
    assert run_export(job.pk) == JobStatus.DONE
    assert run_export(job.pk) == JobStatus.DONE
    assert CountingExport.runs == [1]
    stored = ExportJob.objects.get(pk=job.pk)
    assert stored.file and stored.attempts == 2
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(job.pk)).count() == 1


def test_the_retry_beside_a_live_worker_waits_for_the_heartbeat_to_go_stale(owner, settings):
    job = job_claim(ExportJob, make_job(owner).pk)
    asked = {}

    def retry(**options):
        asked.update(options)
        return RuntimeError("retry")

    worker_task = types.SimpleNamespace(request=types.SimpleNamespace(is_eager=False, called_directly=False), retry=retry)
    with pytest.raises(RuntimeError):
        jobs.run_job(worker_task, ExportJob, job.pk, lambda claimed: pytest.fail("ran beside a live worker"))
    assert settings.JOB_STALE_SECONDS - 5 < asked["countdown"] <= settings.JOB_STALE_SECONDS + 1
    assert asked["max_retries"] is None


# --- the sweep -----------------------------------------------------------------------------------------------


def test_the_sweep_requeues_a_job_whose_worker_vanished(owner, settings, django_capture_on_commit_callbacks):
    job = make_job(owner, status=JobStatus.RUNNING, attempts=1, heartbeat_at=ago(settings.JOB_STALE_SECONDS + 1))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep() == {"requeued": 1, "failed": 0, "scratch_removed": 0}
    stored = ExportJob.objects.get(pk=job.pk)
    assert (stored.status, stored.attempts) == (JobStatus.DONE, 2)
    assert CountingExport.runs == [1]


def test_the_sweep_sends_again_a_task_that_never_came(owner, settings, django_capture_on_commit_callbacks):
    job = make_job(owner, heartbeat_at=ago(settings.JOB_QUEUED_STALE_SECONDS + 1))
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_jobs.delay().get() == {"requeued": 1, "failed": 0, "scratch_removed": 0}
    assert ExportJob.objects.get(pk=job.pk).status == JobStatus.DONE


def test_the_sweep_leaves_live_and_recent_jobs_alone_and_fails_exhausted_ones(owner, settings, django_capture_on_commit_callbacks):
    live = make_job(owner, status=JobStatus.RUNNING, attempts=1, heartbeat_at=ago(1))
    recent = make_job(owner, heartbeat_at=ago(5))
    finished = make_job(owner, status=JobStatus.DONE, heartbeat_at=ago(10**6))
    exhausted = make_job(
        owner, status=JobStatus.RUNNING, attempts=settings.JOB_MAX_ATTEMPTS, heartbeat_at=ago(settings.JOB_STALE_SECONDS + 1)
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert jobs_sweep() == {"requeued": 0, "failed": 1, "scratch_removed": 0}
    assert callbacks == []
    assert ExportJob.objects.get(pk=live.pk).status == JobStatus.RUNNING
    assert ExportJob.objects.get(pk=recent.pk).status == JobStatus.QUEUED
    assert ExportJob.objects.get(pk=finished.pk).status == JobStatus.DONE
    failed = ExportJob.objects.get(pk=exhausted.pk)
    assert (failed.status, failed.error) == (JobStatus.FAILED, "导出中断，请重新导出。")


def test_the_sweep_runs_on_the_beat_schedule(settings):
    assert settings.CELERY_BEAT_SCHEDULE["sweep-jobs"]["task"] == sweep_jobs.name
    assert settings.CELERY_BEAT_SCHEDULE["sweep-jobs"]["schedule"] <= settings.JOB_STALE_SECONDS


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_requeue_each_job_once(settings, monkeypatch):
    # Two machines run the sweep at the same moment (PostgreSQL: SKIP LOCKED; SQLite has one writer).
    if connection.vendor != "postgresql":
        pytest.skip("row locks exist on PostgreSQL only")
    owner = UserFactory(role="reviewer")
    stale = [make_job(owner, status=JobStatus.RUNNING, attempts=1, heartbeat_at=ago(settings.JOB_STALE_SECONDS + 1)) for _ in range(40)]
    sent = []
    monkeypatch.setattr(jobs, "job_task", lambda model: type("Task", (), {"delay": staticmethod(sent.append)}))
    barrier = threading.Barrier(2)
    results = []

    def sweep():
        try:
            barrier.wait()
            results.append(jobs_sweep())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result["requeued"] for result in results) == len(stale)
    assert sorted(sent) == sorted(job.pk for job in stale)
    assert set(ExportJob.objects.values_list("status", flat=True)) == {JobStatus.QUEUED}


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_keeps_a_long_job_alive(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the heartbeat thread runs on PostgreSQL (SQLite has one writer)")
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    owner = UserFactory(role="reviewer")
    job = job_claim(ExportJob, make_job(owner).pk)
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=ago(3600))
    beats = []
    with jobs.job_heartbeating(job):
        deadline = timezone.now() + dt.timedelta(seconds=10)
        while timezone.now() < deadline and not beats:
            if timezone.now() - ExportJob.objects.get(pk=job.pk).heartbeat_at < dt.timedelta(seconds=5):
                beats.append(True)
            threading.Event().wait(0.02)
    assert beats == [True]


# --- what the pages say ------------------------------------------------------------------------------------


def test_the_job_page_says_a_job_was_started_again_after_an_interruption(client, owner):
    from django.urls import reverse

    job = make_job(owner, status=JobStatus.RUNNING, attempts=2, rows_total=10, rows_done=3)
    client.force_login(owner)
    page = client.get(reverse("exports:job", kwargs={"job_id": job.pk})).content.decode()
    assert "处理曾意外中断，已自动从头重新开始（第2次）" in page
    first = make_job(owner, status=JobStatus.RUNNING, attempts=1, rows_total=10, rows_done=3)
    assert "意外中断" not in client.get(reverse("exports:job", kwargs={"job_id": first.pk})).content.decode()


def test_the_job_page_shows_the_interruption_once_the_attempts_are_used_up(client, owner, settings):
    from django.urls import reverse

    job = make_job(owner, status=JobStatus.RUNNING, attempts=settings.JOB_MAX_ATTEMPTS, heartbeat_at=ago(settings.JOB_STALE_SECONDS + 1))
    jobs_sweep()
    client.force_login(owner)
    page = client.get(reverse("exports:job", kwargs={"job_id": job.pk})).content.decode()
    assert "导出中断，请重新导出。" in page and "下载" not in page.split("export-job")[1]
