"""Celery tasks of the rosters app (STYLE.md §7: thin; they receive ids, load, call a service).

`load_reference_file` runs one back-office reference upload (SPEC REF, BO-3) through the loader in
rosters/reference/, keeping its ReferenceLoad row up to date for the progress page that polls it.
"""
import logging
import time
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.core.cache import cache


from .models import ReferenceLoad
from .errors import RosterError
from .reference import FAILED_UNEXPECTEDLY, reference_load_job
from mutualaid.jobs import JobLost, job_fail, job_heartbeat, job_scratch, run_job
from mutualaid.sealed import plain_copy

logger = logging.getLogger(__name__)

# The progress page polls every 2 s: writing more often than that only costs the database.
PROGRESS_WRITE_SECONDS = 2.0
# ReferenceLoad has no column for the total (a CSV's is unknown until read, an XLSX's is known at
# once); the progress page reads it from the cache, shared by the web and the workers.
PROGRESS_TOTAL_TTL = 24 * 3600



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

    def __init__(self, load: ReferenceLoad):
        self.load = load
        self.written_at = float("-inf")
        self.total = None

    def __call__(self, rows_done: int, rows_total: int | None = None) -> None:
        if rows_total is not None and rows_total != self.total:
            self.total = rows_total
            cache.set(progress_total_key(self.load.pk), rows_total, PROGRESS_TOTAL_TTL)
        now = time.monotonic()
        if now - self.written_at < PROGRESS_WRITE_SECONDS:
            return
        self.written_at = now
        job_heartbeat(self.load, rows_read=rows_done)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def load_reference_file(self, load_id: int) -> str:
    """Load the uploaded file of ReferenceLoad `load_id` and record the outcome on it.

    Safe to run twice (SPEC SEC-2: mutualaid.jobs). A load that fails is marked failed with a
    Chinese message; the loader guarantees that the year's previous data is then still in place.
    The uploaded file is removed once the load is over (kept only after an unexpected error).
    Returns the load's status.
    """
    return run_job(self, ReferenceLoad, load_id, reference_load_work)


def reference_load_work(load: ReferenceLoad) -> None:
    """One attempt at a claimed upload (mutualaid.jobs.job_run calls it)."""
    upload = stored_path(load)
    try:
        # SPEC SEC-4: the upload is sealed at rest; the loader reads a plain copy in the job's scratch
        # folder, removed when the block ends (and by the job sweep after a crash).
        with plain_copy(upload, job_scratch(load)) as plain:
            reference_load_job(load, path=plain, progress=_ProgressWriter(load))
    except RosterError:
        pass  # the file was refused as a whole: the reviewer fixes it (the message is on the load)
    except JobLost:
        raise
    except Exception:
        logger.exception("reference load %s failed", load.pk)
        job_fail(load, FAILED_UNEXPECTEDLY.format(id=load.pk))  # nothing changes if the loader failed it
        return  # the upload is kept for the support desk, who know the load by its number
    finally:
        cache.delete(progress_total_key(load.pk))
    # The file holds every ID number in clear; the database keeps them hashed and encrypted.
    upload.unlink(missing_ok=True)


# --- 导入人员名单 (SPEC ROS-1, ROS-9, X-1) -------------------------------------------------------------


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_roster_import(self, import_id: int) -> str:
    """Run the queued RosterImport `import_id` (a large upload, rosters.importer.roster_import_start).
    Safe to run twice (SPEC SEC-2: mutualaid.jobs). Returns its status."""
    from .importer import roster_import_work
    from .models import RosterImport

    return run_job(self, RosterImport, import_id, roster_import_work)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def purge_roster_uploads() -> int:
    """SPEC X-1: uploads are kept 7 days for the marked copy, then deleted with their problems."""
    from .importer import roster_imports_purge

    return roster_imports_purge()


# --- 清册校验 (SPEC BAT-4, VAL) ------------------------------------------------------------------------


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_validation(self, run_id: int) -> str:
    """Run the ValidationRun `run_id` (rosters.validation.validation_start queues it) and move its batch
    on. Safe to run twice (SPEC SEC-2: mutualaid.jobs). Returns the run's status."""
    from .models import ValidationRun
    from .validation import validation_work

    return run_job(self, ValidationRun, run_id, validation_work)
