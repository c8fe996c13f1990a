"""Celery tasks of the rosters app (STYLE.md §7: thin; they receive ids, load, call a service).

`load_reference_file` runs one back-office reference upload (SPEC REF, BO-3) through the loader in
rosters/reference.py, keeping its ReferenceLoad row up to date for the progress page that polls it.
"""
import logging
import time
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from mutualaid.audit import acting_as

from .models import ReferenceLoad
from .reference import RosterError, reference_load

logger = logging.getLogger(__name__)

# The progress page polls every 2 s: writing more often than that only costs the database.
PROGRESS_WRITE_SECONDS = 2.0
# ReferenceLoad has no column for the total (a CSV's is unknown until read, an XLSX's is known at
# once); the progress page reads it from the cache, shared by the web and the workers.
PROGRESS_TOTAL_TTL = 24 * 3600

FAILED_UNEXPECTEDLY = "导入失败：系统处理文件时出错，原有数据未改变。请稍后重新上传；如仍失败，请联系技术支持（导入编号 {id}）。"


def progress_total_key(load_id: int) -> str:
    return f"rosters:reference-load:{load_id}:total"


def progress_total(load_id: int) -> int | None:
    """The number of rows the loader expects, once it knows it (None before, or for a CSV)."""
    return cache.get(progress_total_key(load_id))


def stored_path(load: ReferenceLoad) -> Path:
    """Where the upload of `load` lies on disk (stored_file is relative to MEDIA_ROOT)."""
    return Path(settings.MEDIA_ROOT) / load.stored_file


class _ProgressWriter:
    """The loader's progress callback: writes rows_read at most every PROGRESS_WRITE_SECONDS.

    A queryset update, not save(): it sends no signal, so the audit trail keeps one event per load
    (SPEC X-2) instead of one per tick.
    """

    def __init__(self, load_id: int):
        self.load_id = load_id
        self.written_at = float("-inf")
        self.total = None

    def __call__(self, rows_done: int, rows_total: int | None = None) -> None:
        if rows_total is not None and rows_total != self.total:
            self.total = rows_total
            cache.set(progress_total_key(self.load_id), rows_total, PROGRESS_TOTAL_TTL)
        now = time.monotonic()
        if now - self.written_at < PROGRESS_WRITE_SECONDS:
            return
        self.written_at = now
        ReferenceLoad.objects.filter(pk=self.load_id, status=ReferenceLoad.Status.RUNNING).update(rows_read=rows_done)


def _claim(load_id: int) -> ReferenceLoad | None:
    """Move a queued load to running, once: a second delivery of the message (acks_late) finds it
    running or finished and leaves it alone."""
    with transaction.atomic():
        load = ReferenceLoad.objects.select_for_update(of=("self",)).select_related("started_by").filter(pk=load_id).first()
        if load is None or load.status != ReferenceLoad.Status.QUEUED:
            return None
        load.status = ReferenceLoad.Status.RUNNING
        load.started_at = timezone.now()
        with acting_as(load.started_by):
            load.save(update_fields=["status", "started_at"])
    return load


def _finish(load: ReferenceLoad, **fields) -> None:
    """Record the outcome: the load's audit event, with its counts (SPEC X-2), in the uploader's name."""
    for name, value in fields.items():
        setattr(load, name, value)
    load.finished_at = timezone.now()
    with acting_as(load.started_by):
        load.save(update_fields=[*fields, "finished_at"])


def _media_relative(path) -> str:
    """`path` relative to MEDIA_ROOT when it lies there (the page resolves it again), else as it is."""
    if not path:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))
    except ValueError:
        return str(path)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def load_reference_file(load_id: int) -> str:
    """Load the uploaded file of ReferenceLoad `load_id` and record the outcome on it.

    Safe to run twice: only a queued load is started. A load that fails is marked failed with a
    Chinese message; the loader guarantees that the year's previous data is then still in place.
    The uploaded file is removed once the load is over (kept only after an unexpected error).
    Returns the load's status.
    """
    load = _claim(load_id)
    if load is None:
        current = ReferenceLoad.objects.filter(pk=load_id).values_list("status", flat=True).first()
        logger.info("reference load %s not started again (status %s)", load_id, current)
        return current or "missing"

    upload = stored_path(load)
    keep_upload = False
    try:
        result = reference_load(
            kind=load.kind,
            path=upload,
            year=load.year,
            acting_user=load.started_by,
            progress=_ProgressWriter(load.pk),
        )
    except RosterError as error:  # the file was refused as a whole: the reviewer fixes it
        _finish(load, status=ReferenceLoad.Status.FAILED, error=error.message)
    except Exception:
        logger.exception("reference load %s failed", load.pk)
        keep_upload = True  # for the support desk, who know the load by its number
        _finish(load, status=ReferenceLoad.Status.FAILED, error=FAILED_UNEXPECTEDLY.format(id=load.pk))
    else:
        _finish(
            load,
            status=ReferenceLoad.Status.DONE,
            rows_read=result.read,
            rows_loaded=result.loaded,
            rows_rejected=result.rejected,
            rejected_report=_media_relative(result.rejected_path),
        )
    finally:
        cache.delete(progress_total_key(load.pk))
    if not keep_upload:
        # The file holds every ID number in clear; the database keeps them hashed and encrypted.
        upload.unlink(missing_ok=True)
    return load.status


# --- 导入人员名单 (SPEC ROS-1, ROS-9, X-1) -------------------------------------------------------------


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_roster_import(import_id: int) -> str:
    """Run the queued RosterImport `import_id` (a large upload, rosters.importer.roster_import_start).
    Safe to run twice: a started or finished import is left alone. Returns its status."""
    from .importer import roster_import_run
    from .models import RosterImport

    roster_import = RosterImport.objects.filter(pk=import_id).first()
    if roster_import is None:
        return "missing"
    return roster_import_run(roster_import=roster_import).status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def purge_roster_uploads() -> int:
    """SPEC X-1: uploads are kept 7 days for the marked copy, then deleted with their problems."""
    from .importer import roster_imports_purge

    return roster_imports_purge()


# --- 清册校验 (SPEC BAT-4, VAL) ------------------------------------------------------------------------


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_validation(run_id: int) -> str:
    """Run the ValidationRun `run_id` (rosters.validation.validation_start queues it) and move its batch
    on. Safe to run twice: a finished run is left alone. Returns the run's status."""
    from .models import ValidationRun
    from .validation import validation_run

    run = ValidationRun.objects.select_related("batch").filter(pk=run_id).first()
    if run is None:
        return "missing"
    return validation_run(run=run).status
