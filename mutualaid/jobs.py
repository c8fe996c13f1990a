"""One lifecycle for background work (SPEC SEC-2; ARCHITECTURE.md "Background jobs").

Roster imports, validations, exports and reference loads are `Job`s: a row the page polls, moved by
four functions and nothing else.

    job_claim      queued → running (attempt n), or a running job whose heartbeat is stale taken over
                   (its worker died: attempt n + 1, from a clean state); JobBusy while another
                   worker's heartbeat is fresh, None when there is nothing to do
    job_heartbeat  "still alive" (and progress), only by the attempt that holds the job
    job_finish     running → done, in the caller's transaction with its results; JobLost (and so a
                   rollback of those results) when another attempt has taken the job over
    job_fail       → failed with a Chinese message, and the kind's own consequences (job_failed)

A task claims its job, works inside `job_heartbeating` (a thread that beats every
JOB_HEARTBEAT_SECONDS on its own connection, so even one long SQL statement keeps the job alive), and
finishes or fails it. The attempt number is a fencing token: a worker that was only slow, not dead,
and finds its job taken over can write neither heartbeat nor result. After JOB_MAX_ATTEMPTS attempts
the job fails with its kind's `interrupted_message`. `jobs_sweep` (Celery beat) re-queues or fails the
jobs nobody runs: a running job with a stale heartbeat, a queued job whose task never came.

Each kind names its task by dotted path (`task_name`), so this module imports no later app.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import shutil
import threading
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection, connections, models, transaction
from django.db.models import Q
from django.utils import timezone

from .audit import acting_as

logger = logging.getLogger(__name__)


class JobStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "处理中"
    DONE = "done", "已完成"
    REFUSED = "refused", "未完成"  # the input was refused as a whole (a roster file without header…)
    FAILED = "failed", "失败"


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
ENDED = (JobStatus.DONE, JobStatus.REFUSED, JobStatus.FAILED)


def job_status_field(**labels: str) -> models.CharField:
    """The status column of a job kind, with the kind's own words for some states
    (`running="导入中"`); the values are always JobStatus's."""
    choices = [(value, labels.get(value, label)) for value, label in JobStatus.choices]
    return models.CharField("状态", max_length=10, choices=choices, default=JobStatus.QUEUED)


def job_sweep_index(name: str) -> models.Index:
    """The sweep's index of a job table: only the active rows, by heartbeat (tiny whatever the history)."""
    return models.Index(fields=["heartbeat_at"], condition=Q(status__in=ACTIVE), name=name)


class Job(models.Model):
    """The columns every background job has. A concrete kind sets `task_name` (the Celery task that
    runs it, taking the job's id), `interrupted_message` (what its page says after the last attempt
    died), `progress_reset` (its progress columns as a new attempt starts them) and may override
    `job_failed` for what a failure means beyond the row (a validation puts its batch back)."""

    status = job_status_field()
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    heartbeat_at = models.DateTimeField("最近心跳", default=timezone.now)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    error = models.TextField("失败原因", blank=True)

    task_name = ""
    interrupted_message = "处理中断，请重新操作。"
    progress_reset: dict = {}

    class Meta:
        abstract = True

    @property
    def running(self) -> bool:
        return self.status in ACTIVE

    def job_actor(self):
        """The user the job's audit entries name (its owner); None for the system."""
        return None

    def job_failed(self) -> None:
        """Called inside job_fail's transaction once the row says failed; nothing by default."""


class JobBusy(Exception):
    """Another worker runs the job and its heartbeat is fresh: try again in `retry_in` seconds."""

    def __init__(self, retry_in: float):
        super().__init__(f"job busy, retry in {retry_in:.1f} s")
        self.retry_in = retry_in


class JobLost(Exception):
    """The job was taken over by a later attempt (or ended by the sweep): this attempt's results must
    not be written."""


def _stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=settings.JOB_STALE_SECONDS)


def job_claim(model: type[Job], pk: int) -> Job | None:
    """Start an attempt at job `pk` of `model` and return the job (its `attempts` is this attempt's
    number), or None when there is nothing to run (missing, ended, or failed just now because its
    attempts are used up). Raises JobBusy while a live worker holds it. Safe under concurrent
    deliveries: the row is locked, and only one of them gets the job."""
    with transaction.atomic():
        job = model.objects.select_for_update(of=("self",)).filter(pk=pk).first()
        if job is None or job.status in ENDED:
            return None
        now = timezone.now()
        if job.status == JobStatus.RUNNING:
            age = now - job.heartbeat_at
            if age < _stale_after():
                raise JobBusy(retry_in=(_stale_after() - age).total_seconds() + 1)
            logger.warning("%s %s: heartbeat %.0f s old, attempt %s taken over", model.__name__, pk, age.total_seconds(), job.attempts)
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            _fail_locked(job, job.interrupted_message)
            return None
        fields = {"status": JobStatus.RUNNING, "attempts": job.attempts + 1, "heartbeat_at": now, "started_at": now}
        fields.update(model.progress_reset)
        # An update, not save(): starting is not an audited change (the finished job is, SPEC X-2).
        model.objects.filter(pk=pk).update(**fields)
        for name, value in fields.items():
            setattr(job, name, value)
    return job


def job_heartbeat(job: Job, **progress) -> bool:
    """Record that this attempt is alive, with any progress columns. False when the job is no longer
    this attempt's (ended, or taken over): the caller may stop early."""
    return bool(
        type(job).objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
            heartbeat_at=timezone.now(), **progress
        )
    )


def _lock_own(job: Job) -> Job:
    current = type(job).objects.select_for_update(of=("self",)).filter(pk=job.pk).first()
    if current is None or current.status != JobStatus.RUNNING or current.attempts != job.attempts:
        raise JobLost(f"{type(job).__name__} {job.pk} attempt {job.attempts} no longer holds the job")
    return current


def job_finish(job: Job, *, status: str = JobStatus.DONE, audited: bool = False, **fields) -> None:
    """End this attempt with `status` (done, or refused) and `fields`, in the caller's transaction:
    the results written there are kept only if the job is still this attempt's. Raises JobLost
    (so the caller's transaction rolls back) otherwise. `audited`: the row's change is the job's
    audit event (SPEC X-2), in its actor's name; else the caller audits the job its own way."""
    with transaction.atomic():
        _lock_own(job)
        fields.update(status=status, finished_at=timezone.now())
        for name, value in fields.items():
            setattr(job, name, value)
        if audited:
            with acting_as(job.job_actor()):
                job.save(update_fields=list(fields))
        else:
            type(job).objects.filter(pk=job.pk).update(**fields)


def _fail_locked(job: Job, message: str) -> None:
    job.status, job.error, job.finished_at = JobStatus.FAILED, message, timezone.now()
    with acting_as(job.job_actor()):  # a failure is audited like any change of state (STYLE.md §8)
        job.save(update_fields=["status", "error", "finished_at"])
    job.job_failed()


def job_fail(job: Job, message: str, *, own: bool = True) -> bool:
    """Mark the job failed with `message` (Chinese, for its page) and run its kind's consequences.
    With `own`, only if it is still this attempt's (else False, nothing changed); the sweep fails a
    job nobody holds with own=False."""
    with transaction.atomic():
        try:
            current = _lock_own(job) if own else type(job).objects.select_for_update(of=("self",)).get(pk=job.pk)
        except JobLost:
            return False
        if current.status in ENDED:
            return False
        _fail_locked(current, message)
    job.status, job.error = JobStatus.FAILED, message
    return True


class _Heartbeat(threading.Thread):
    def __init__(self, job: Job, every: float):
        super().__init__(name=f"heartbeat-{type(job).__name__}-{job.pk}", daemon=True)
        self.job, self.every, self.stopped = job, every, threading.Event()

    def run(self) -> None:
        model = type(self.job)
        try:
            while not self.stopped.wait(self.every):
                try:
                    with transaction.atomic():
                        # SKIP LOCKED: the worker's own transaction may hold the row (finishing):
                        # it is alive, and waiting for it here could deadlock the join below.
                        mine = model.objects.filter(
                            pk=self.job.pk, status=JobStatus.RUNNING, attempts=self.job.attempts
                        ).select_for_update(skip_locked=True)
                        model.objects.filter(pk__in=mine).update(heartbeat_at=timezone.now())
                except Exception:  # noqa: BLE001 - a missed beat is not the job's failure
                    logger.exception("heartbeat of %s %s failed", model.__name__, self.job.pk)
        finally:
            connections.close_all()  # this thread's connections only


@contextlib.contextmanager
def job_heartbeating(job: Job):
    """Beat for `job` every JOB_HEARTBEAT_SECONDS while the block runs. On SQLite (the demo, where
    work runs eagerly in the web process and nobody can take over) a second connection would only
    wait for the database lock: there the claim's and the progress writes' beats are enough."""
    if connection.vendor != "postgresql":
        yield
        return
    beat = _Heartbeat(job, settings.JOB_HEARTBEAT_SECONDS)
    beat.start()
    try:
        yield
    finally:
        beat.stopped.set()
        beat.join()


def job_models() -> list[type[Job]]:
    return [model for model in apps.get_models() if issubclass(model, Job)]


def job_task(model: type[Job]):
    """The Celery task that runs jobs of `model` (by name: mutualaid imports no later app)."""
    from celery import current_app

    return current_app.tasks[model.task_name]


def jobs_sweep() -> dict[str, int]:
    """SPEC SEC-2: the jobs nobody runs, re-queued or failed. A running job whose heartbeat is older
    than JOB_STALE_SECONDS lost its worker; a queued one older than JOB_QUEUED_STALE_SECONDS lost its
    task (a broker restart, a message dropped). Each goes back to queued with its task sent again,
    or fails with its kind's interrupted_message once its attempts are used up.

    Safe on two machines at once: rows are taken with SKIP LOCKED and leave the sweep's conditions
    (fresh heartbeat, or failed) in the same transaction. Then the scratch folders nobody holds are
    removed (SPEC SEC-4). Returns counts {"requeued": n, "failed": m, "scratch_removed": k}."""
    counts = {"requeued": 0, "failed": 0}
    now = timezone.now()
    stale_running = Q(status=JobStatus.RUNNING, heartbeat_at__lt=now - _stale_after())
    stale_queued = Q(status=JobStatus.QUEUED, heartbeat_at__lt=now - dt.timedelta(seconds=settings.JOB_QUEUED_STALE_SECONDS))
    for model in job_models():
        while True:
            with transaction.atomic():
                found = list(
                    model.objects.select_for_update(skip_locked=True, of=("self",))
                    .filter(stale_running | stale_queued)
                    .order_by("pk")[:100]
                )
                if not found:
                    break
                for job in found:
                    if job.attempts >= settings.JOB_MAX_ATTEMPTS:
                        logger.warning("sweep: %s %s failed after %s attempts", model.__name__, job.pk, job.attempts)
                        _fail_locked(job, job.interrupted_message)
                        counts["failed"] += 1
                        continue
                    logger.warning("sweep: %s %s (%s) re-queued", model.__name__, job.pk, job.status)
                    model.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED, heartbeat_at=now)
                    task = job_task(model)
                    transaction.on_commit(lambda task=task, pk=job.pk: task.delay(pk))
                    counts["requeued"] += 1
    counts["scratch_removed"] = scratch_sweep()
    return counts


def job_scratch(job: Job) -> Path:
    """The job's private scratch folder (SPEC SEC-4): plain copies live here while the job reads them.
    Created on first use (owner only); job_run removes it when the attempt ends, jobs_sweep after a crash."""
    folder = _scratch_folder(type(job), job.pk, job.attempts)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _scratch_folder(model: type[Job], pk: int, attempt: int) -> Path:
    # One folder per attempt: a slow attempt that was taken over removes its own, not its successor's.
    return Path(settings.JOB_SCRATCH_DIR) / f"{model._meta.label_lower}-{pk}-{attempt}"


_SCRATCH_NAME = re.compile(r"(?P<label>[a-z_]+\.[a-z_]+)-(?P<pk>\d+)-(?P<attempt>\d+)")


def scratch_sweep() -> int:
    """Remove the scratch folders no live attempt holds (its worker died mid-job, SPEC SEC-4): those
    of jobs that are not running with a fresh heartbeat, and anything else found there. Returns how many."""
    root = Path(settings.JOB_SCRATCH_DIR)
    if not root.is_dir():
        return 0
    fresh = timezone.now() - _stale_after()
    removed = 0
    for folder in root.iterdir():
        match = _SCRATCH_NAME.fullmatch(folder.name)
        if match:
            try:
                model = apps.get_model(match["label"])
            except LookupError:
                model = None
            if model is not None and model.objects.filter(
                pk=match["pk"], attempts=match["attempt"], status=JobStatus.RUNNING, heartbeat_at__gte=fresh
            ).exists():
                continue
        shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)
        removed += 1
    return removed


def job_run(model: type[Job], pk: int, body) -> str:
    """Claim job `pk` of `model`, run `body(job)` with heartbeats, and return the job's status then.
    `body` finishes or fails the job itself (job_finish / job_fail). Raises JobBusy (from job_claim).
    The job's scratch folder (job_scratch) is removed when the attempt ends, however it ends."""
    job = job_claim(model, pk)
    if job is not None:
        try:
            with job_heartbeating(job):
                body(job)
        except JobLost:
            logger.warning("%s %s: attempt %s was taken over; its results were rolled back", model.__name__, pk, job.attempts)
        finally:
            shutil.rmtree(_scratch_folder(model, pk, job.attempts), ignore_errors=True)
    return model.objects.filter(pk=pk).values_list("status", flat=True).first() or "missing"


def run_job(task, model: type[Job], pk: int, body) -> str:
    """The body of every job task (job_run). A job another live worker holds is retried once its
    heartbeat could be stale, never run beside it; run eagerly (the demo) there is no other worker."""
    try:
        return job_run(model, pk, body)
    except JobBusy as busy:
        if task.request.is_eager or task.request.called_directly:
            return JobStatus.RUNNING.value
        raise task.retry(countdown=busy.retry_in, max_retries=None) from None
