"""Excel exports as background jobs (UI.md "Long work"; SPEC BO-3, X-1, X-2).

An export is an ExportJob: `export_start` checks the builder's permission, records the job and starts
mutualaid.tasks.run_export once the transaction commits; the owner watches 已处理 N / M on the job's page
(mutualaid/export_views.py) and downloads the file there; nobody else sees it (404). Jobs and their
files are purged after 7 days (CELERY_BEAT_SCHEDULE).

The builders live in the apps whose data they read; this registry names them by dotted path, so
mutualaid imports no later app (ARCHITECTURE.md). A builder is an `ExportBuilder`:

- `check(user=, params=)` raises PermissionDenied (or Http404 for another unit's batch, X-4) or
  ExportError (a Chinese message: nothing to export yet);
- `plan(user=, params=)` gives the title, the Chinese file name and whether the file holds full ID
  numbers (X-1);
- `write(user=, params=, path=, progress=)` writes the .xlsx to `path` (mutualaid.xlsx) and returns
  the number of rows.

Every finished export writes one audit entry (django-auditlog, action 访问): who, when, kind, the
filter, the row count, and whether it held full ID numbers (SPEC X-1, X-2).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import ExportJob
from .jobs import JobLost, JobStatus, job_fail, job_finish, job_heartbeat, job_run, job_scratch

logger = logging.getLogger(__name__)

EXPORT_BUILDERS: dict[str, str] = {
    # Back office (SPEC BO-3): payments/exports.py.
    "enrolled_people": "payments.exports.EnrolledPeopleExport",
    "premiums_payments": "payments.exports.PremiumsPaymentsExport",
    "refunds": "payments.exports.RefundsExport",
    # The unit's own 【导出】 buttons (SPEC ROS-6, PREM-3).
    "roster": "rosters.export_jobs.RosterExport",
    "premium_detail": "plans.export_jobs.PremiumDetailExport",
}

FULL_ID_PERMISSION = "mutualaid.export_full_id"
KEEP_FOR = dt.timedelta(days=7)
PROGRESS_SECONDS = 0.5  # rows_done is written at most this often
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FAILED_MESSAGE = "导出失败：系统出现错误，请稍后重新导出；如仍失败请联系职保会。"


class ExportError(Exception):
    """An export that cannot be made, with a Chinese message for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ExportPlan:
    title: str  # 参保人员（2023年度 · 普陀区）
    filename: str  # 参保人员_2023_20230615.xlsx
    full_ids: bool = False


class Progress:
    """What a builder reports while it writes: the total once, the rows done now and then (a queryset
    update, no model save, so the audit trail is not flooded)."""

    def __init__(self, job: ExportJob | None):
        self._job = job
        self._last = 0.0

    def total(self, rows_total: int) -> None:
        if self._job is not None:
            job_heartbeat(self._job, rows_total=rows_total)

    def done(self, rows_done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._job is not None and (force or now - self._last >= PROGRESS_SECONDS):
            self._last = now
            job_heartbeat(self._job, rows_done=rows_done)


class ExportBuilder:
    """The base of every export kind (see the module's docstring)."""

    kind = ""
    back_office = False  # the job's page in the back office's frame, or in the unit portal's
    back_label = ""  # the page 【返回】 leads to, in the portal's breadcrumb (参保批次人员管理)

    def check(self, *, user, params: dict) -> None:
        raise NotImplementedError

    def plan(self, *, user, params: dict) -> ExportPlan:
        raise NotImplementedError

    def write(self, *, user, params: dict, path: str, progress: Progress) -> int:
        raise NotImplementedError

    def back_url(self, *, params: dict) -> str | None:
        """Where 【返回】 on the job's page leads."""
        return None


def export_builder(kind: str) -> ExportBuilder:
    try:
        path = EXPORT_BUILDERS[kind]
    except KeyError:
        raise ExportError("未知的导出类型。") from None
    return import_string(path)()


def _job_for(*, kind: str, params: dict, user, ip_address: str | None = None) -> tuple[ExportJob, ExportBuilder, bool]:
    """Check and record the job; a queued or running job of the same owner, kind and filter is
    reused, so a double click does not export twice. Returns (job, builder, created)."""
    builder = export_builder(kind)
    builder.check(user=user, params=params)
    plan = builder.plan(user=user, params=params)
    running = (
        ExportJob.objects.filter(
            owner=user, kind=kind, params=params, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)
        )
        .order_by("-created_at")
        .first()
    )
    if running is not None:
        return running, builder, False
    job = ExportJob.objects.create(
        owner=user,
        kind=kind,
        params=params,
        title=plan.title[:200],
        filename=plan.filename[:200],
        full_ids=plan.full_ids,
        requested_from=ip_address or None,
    )
    return job, builder, True


@transaction.atomic
def export_start(*, kind: str, params: dict, user, ip_address: str | None = None) -> ExportJob:
    """Record an export of `kind` with `params` for `user` and start it in the background once the
    transaction commits (at once in the demo, where Celery runs eagerly). `ip_address` is the
    requester's, kept on the job for its audit entry (SPEC SEC-4). Raises PermissionDenied,
    Http404 or ExportError from the builder's check."""
    from .tasks import enqueue_on_commit, run_export

    job, _builder, created = _job_for(kind=kind, params=params, user=user, ip_address=ip_address)
    if created:
        enqueue_on_commit(run_export, job.pk)
    return job


def export_run_sync(*, kind: str, params: dict, user) -> bytes:
    """Make the export in this process (benchmarks, tests) and return its file's bytes (decrypted:
    the stored file is sealed, SPEC SEC-4). Raises what export_start raises, and ExportError when
    the export failed."""
    job, _builder, _created = _job_for(kind=kind, params=params, user=user)
    job = export_run(job=job)
    if job.status != JobStatus.DONE:
        raise ExportError(job.error or FAILED_MESSAGE)
    with job.file.open("rb") as stored:
        return stored.read()


def export_run(*, job: ExportJob) -> ExportJob:
    """Write the file of a queued job, store it privately, audit the export and return the job
    (SPEC SEC-2: mutualaid.jobs' lifecycle). Safe to run twice: a job already finished is returned
    as it is. A failure is kept on the job with a Chinese message (the builder's ExportError, or a
    general one). Raises JobBusy while another live worker writes it."""
    job_run(ExportJob, job.pk, export_write)
    job.refresh_from_db()
    return job


def export_write(job: ExportJob) -> None:
    builder = export_builder(job.kind)
    # SPEC SEC-4: the plain workbook exists only in the job's scratch folder (removed by job_run);
    # the stored copy is sealed by the field's storage.
    path = job_scratch(job) / f"{job.pk}.xlsx"
    try:
        # The owner may have lost the right since the job was queued.
        builder.check(user=job.owner, params=job.params)
        rows = builder.write(user=job.owner, params=job.params, path=path, progress=Progress(job))
        with open(path, "rb") as output:
            job.file.save(f"{job.pk}.xlsx", File(output), save=False)
        rows_total = max(job.rows_total, rows) if job.rows_total else rows
        try:
            with transaction.atomic():
                job_finish(job, file=job.file.name, rows_done=rows, rows_total=rows_total)
                export_audit(job=job, rows=rows)
        except JobLost:
            job.file.delete(save=False)  # the attempt that holds the job writes its own
            raise
    except JobLost:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure ends on the job's page in Chinese
        if isinstance(exc, ExportError):
            message = exc.message
        elif isinstance(exc, (PermissionDenied, Http404)):
            message = "导出失败：您已无权导出这些数据。"
        else:
            logger.exception("export %s (%s) failed", job.pk, job.kind)
            message = FAILED_MESSAGE
        job_fail(job, message[:500])


def export_audit(*, job: ExportJob, rows: int) -> None:
    """SPEC X-1, X-2: one audit entry per export, on the job, with who, when, kind, filter and rows;
    an export with full ID numbers says so in its message and its data. SPEC SEC-4: with the
    requester's IP address, kept on the job (the worker has no request)."""
    from auditlog.models import LogEntry

    text = f"导出 {job.title}，{rows} 行"
    if job.full_ids:
        text += "（含完整证件号码）"
    LogEntry.objects.log_create(
        job,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        actor=job.owner,
        remote_addr=job.requested_from,
        changes_text=text,
        additional_data={
            "export": job.kind,
            "params": job.params,
            "rows": rows,
            "full_ids": job.full_ids,
            "file": job.filename,
        },
    )


def export_jobs_purge(*, older_than: dt.timedelta = KEEP_FOR) -> int:
    """Delete jobs older than `older_than` with their files (they may hold personal data, X-1).
    Returns how many jobs were removed; the audit entries stay."""
    cutoff = timezone.now() - older_than
    removed = 0
    for job in ExportJob.objects.filter(created_at__lt=cutoff).only("pk", "file"):
        if job.file:
            job.file.delete(save=False)
        job.delete()
        removed += 1
    return removed


def export_jobs_recent(*, user, kinds=None, limit: int = 20):
    """The user's own jobs, newest first (the 导出中心 and the unit pages list them)."""
    jobs = ExportJob.objects.filter(owner=user)
    if kinds:
        jobs = jobs.filter(kind__in=list(kinds))
    return jobs.order_by("-created_at", "-pk")[:limit]
