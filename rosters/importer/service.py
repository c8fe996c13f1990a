"""The import services: start (store the upload, run inline or as a task), run, the other two
sources, and the purge of old uploads (SPEC ROS-1, ROS-9, X-1)."""
from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from enrollment.models import Batch
from mutualaid.audit import acting_as
from mutualaid.jobs import JobLost, JobStatus, job_fail, job_finish, job_run
from mutualaid.sealed import seal_stream
from mutualaid.tasks import enqueue_on_commit

from ..models import RosterImport
from ..errors import RosterError
from .messages import EMPTY_FILE, FAILED_UNEXPECTEDLY, state_message, too_large_message
from .checks import spreadsheet_extension
from .reading import read_stored_sheet
from .rows import _Progress, _protect, _validate_sheet
from .sources import _collect_members, _collect_previous
from .lookups import _look_up
from .decisions import _apply_rules
from .writing import _write

logger = logging.getLogger(__package__)  # "rosters.importer", as before the package

# --- limits --------------------------------------------------------------------------------------------

UPLOAD_DIR = "roster_imports"  # MEDIA_ROOT/roster_imports/<RosterImport id>-<created>/upload.<ext>
UPLOAD_KEEP = dt.timedelta(days=7)  # SPEC X-1: the marked copy is offered 7 days, then purged
# Smaller files run inside the request (about 6,000 rows of the template, well under a second);
# larger ones run as a Celery task while the page shows the progress (UI.md "Long work").
INLINE_MAX_BYTES = 256 * 1024


# --- the services ----------------------------------------------------------------------------------------------


def upload_folder(roster_import: RosterImport) -> Path:
    """The import's own folder. Its name carries the moment the import was recorded besides its id, so a
    database restored without its media (ids used again) never meets an old folder (SPEC SEC-4)."""
    return Path(settings.MEDIA_ROOT) / UPLOAD_DIR / f"{roster_import.pk}-{roster_import.created_at:%Y%m%d%H%M%S%f}"


def stored_path(roster_import: RosterImport) -> Path | None:
    """Where the upload of `roster_import` lies, or None once purged (or never stored)."""
    if not roster_import.stored_file:
        return None
    return Path(settings.MEDIA_ROOT) / roster_import.stored_file


def marked_copy_available(roster_import: RosterImport, *, now=None) -> bool:
    """SPEC X-1: the marked copy exists for a finished file import with bad rows, for 7 days."""
    now = now or timezone.now()
    path = stored_path(roster_import)
    return bool(
        roster_import.source == RosterImport.Source.FILE
        and roster_import.status == JobStatus.DONE
        and roster_import.rows_failed
        and path is not None
        and roster_import.created_at > now - UPLOAD_KEEP
        and path.exists()
    )


def roster_import_start(*, batch: Batch, upload, acting_user, remote_addr: str | None = None) -> RosterImport:
    """【上传本地参保名单文件】 (SPEC ROS-1, ROS-9, ROS-10): check the upload, keep it under
    MEDIA_ROOT/roster_imports/<id>/ and import it — inline when small (INLINE_MAX_BYTES), otherwise as
    a Celery task started on commit (the page polls rows_done / rows_total).

    Raises RosterError, with nothing recorded and nothing changed, when the batch's state forbids
    editing, the file is empty or too large, not a spreadsheet, password-protected or a suspicious zip.
    A file refused later (no header, a required column missing, no data rows) comes back as a
    RosterImport with status "refused" and its message in `error`."""
    if not batch.roster_editable:
        raise RosterError(state_message(batch))
    size = upload.size
    if not size:
        raise RosterError(EMPTY_FILE)
    if size > settings.ROSTER_UPLOAD_MAX_BYTES:
        raise RosterError(too_large_message())
    extension = spreadsheet_extension(upload)
    with acting_as(acting_user):
        roster_import = RosterImport.objects.create(
            batch=batch,
            account=acting_user,
            source=RosterImport.Source.FILE,
            file_name=Path(upload.name or "").name[:255],
            rows_total=None,
            remote_addr=remote_addr or None,
        )
    folder = upload_folder(roster_import)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"upload{extension}"
    try:
        seal_stream(upload.chunks(1024 * 1024), target)  # SPEC SEC-4: sealed at rest
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        RosterImport.objects.filter(pk=roster_import.pk).update(
            status=JobStatus.FAILED, error=FAILED_UNEXPECTEDLY.format(id=roster_import.pk), finished_at=timezone.now()
        )
        raise RosterError("服务器保存文件失败，参保清册未改变。请稍后重试，或联系技术支持。") from None
    roster_import.stored_file = str(target.relative_to(Path(settings.MEDIA_ROOT)))
    RosterImport.objects.filter(pk=roster_import.pk).update(stored_file=roster_import.stored_file)
    if size < INLINE_MAX_BYTES:
        return roster_import_run(roster_import=roster_import)
    from ..tasks import run_roster_import

    enqueue_on_commit(run_roster_import, roster_import.pk)
    roster_import.refresh_from_db()  # with no broker the task has run already
    return roster_import


def roster_import_run(*, roster_import: RosterImport) -> RosterImport:
    """Run one queued RosterImport through the whole pipeline and return it, finished (STYLE.md §6).

    Safe to run twice (SPEC SEC-2, mutualaid.jobs): a finished import is returned as it is, one whose
    worker died is run again from the start (its write is one transaction: nothing half-written).
    A file refused as a whole (or a batch whose state no longer allows editing) ends "refused" with
    its Chinese message in `error`, the roster unchanged; an unexpected error ends "failed" (logged),
    the roster unchanged. The returned object carries `timings` (seconds per phase: read, validate,
    lookup, write, report) for the benchmark. Raises JobBusy while another live worker runs it."""
    timings: dict[str, float] = {}
    job_run(RosterImport, roster_import.pk, lambda claimed: roster_import_work(claimed, timings=timings))
    result = RosterImport.objects.select_related("batch").get(pk=roster_import.pk)
    result.timings = timings
    return result


def roster_import_work(roster_import: RosterImport, *, timings: dict | None = None) -> None:
    """One attempt at a claimed import (mutualaid.jobs.job_run calls it)."""
    timings = {} if timings is None else timings
    claimed = (
        RosterImport.objects.select_related("batch__code", "batch__coverage_year", "account").get(pk=roster_import.pk)
    )
    claimed.attempts = roster_import.attempts  # the attempt that holds the job (its fencing token)
    try:
        _run(claimed, timings)
    except RosterError as error:
        job_finish(claimed, status=JobStatus.REFUSED, error=error.message)
        if claimed.source == RosterImport.Source.FILE:
            _remove_upload(claimed)  # nothing to mark in a refused file
        return
    except JobLost:
        raise
    except Exception:
        logger.exception("roster import %s failed", claimed.pk)
        job_fail(claimed, FAILED_UNEXPECTEDLY.format(id=claimed.pk))
        return
    if claimed.source == RosterImport.Source.FILE and not claimed.rows_failed:
        _remove_upload(claimed)  # no bad row: no marked copy to offer, and the file holds IDs in clear


def _run(roster_import: RosterImport, timings: dict) -> None:
    batch = roster_import.batch
    if not batch.roster_editable:
        raise RosterError(state_message(batch))
    member_names = None
    started = time.perf_counter()
    if roster_import.source == RosterImport.Source.FILE:
        progress = _Progress(roster_import)
        path = stored_path(roster_import)
        if path is None or not path.exists():
            raise RosterError("上传的文件已不在服务器上，请重新导入。")
        sheet = read_stored_sheet(path)
        timings["read"] = time.perf_counter() - started
        started = time.perf_counter()
        collected = _validate_sheet(sheet, progress)
        del sheet
        _protect(collected.people)
        progress.done(collected.rows_read, force=True)
    elif roster_import.source == RosterImport.Source.PREVIOUS:
        collected = _collect_previous(batch)
        timings["read"] = time.perf_counter() - started
        started = time.perf_counter()
    else:
        collected = _collect_members(batch)
        member_names = {person.id_hash: person.name for person in collected.people}
        timings["read"] = time.perf_counter() - started
        started = time.perf_counter()
    timings["validate"] = time.perf_counter() - started
    started = time.perf_counter()
    found = _look_up(batch, collected.people, member_names=member_names)
    ready = _apply_rules(collected, found)
    timings["lookup"] = time.perf_counter() - started
    _write(roster_import=roster_import, people=ready, collected=collected, acting_user=roster_import.account, timings=timings)


def _remove_upload(roster_import: RosterImport) -> None:
    if roster_import.pk:
        shutil.rmtree(upload_folder(roster_import), ignore_errors=True)
        RosterImport.objects.filter(pk=roster_import.pk).update(stored_file="")


def _import_from(*, batch: Batch, acting_user, source: str, remote_addr: str | None) -> RosterImport:
    if not batch.roster_editable:
        raise RosterError(state_message(batch))
    with acting_as(acting_user):
        roster_import = RosterImport.objects.create(
            batch=batch, account=acting_user, source=source, remote_addr=remote_addr or None
        )
    return roster_import_run(roster_import=roster_import)


def roster_import_previous(*, batch: Batch, acting_user, remote_addr: str | None = None) -> RosterImport:
    """【获取上年度参保名单】 (SPEC ROS-1, REF-4): the people this code enrolled in the previous coverage
    year, through the same look-ups, rules and write as a file. Raises RosterError if the state forbids
    editing; no previous-year list ends the RosterImport "refused" with the reason."""
    return _import_from(
        batch=batch, acting_user=acting_user, source=RosterImport.Source.PREVIOUS, remote_addr=remote_addr
    )


def roster_import_members(*, batch: Batch, acting_user, remote_addr: str | None = None) -> RosterImport:
    """【获取“会员库”本单位工会会员名单】 (SPEC ROS-1, REF-3): the unit's union members of the year (by
    enrollment code or USCC), like roster_import_previous."""
    return _import_from(
        batch=batch, acting_user=acting_user, source=RosterImport.Source.MEMBERS, remote_addr=remote_addr
    )


def roster_imports_purge(*, older_than: dt.timedelta = UPLOAD_KEEP) -> int:
    """SPEC X-1: delete the uploads kept for the marked copy once they are `older_than`, and clear
    their problems (they hold the rows' values). Returns how many imports were purged."""
    cutoff = timezone.now() - older_than
    stale = RosterImport.objects.filter(created_at__lt=cutoff).exclude(stored_file="", problems=[])
    purged = 0
    for roster_import in stale.only("pk", "stored_file", "created_at").iterator():
        shutil.rmtree(upload_folder(roster_import), ignore_errors=True)
        RosterImport.objects.filter(pk=roster_import.pk).update(stored_file="", problems=[])
        purged += 1
    return purged
