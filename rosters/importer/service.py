"""The import services: start (store the upload — a file or JSON rows — and run it inline or as a
task), run, the other two sources, and the purge of old uploads (SPEC ROS-1, ROS-9, X-1, API-2)."""
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
from ..errors import RosterError, RosterUploadTooLarge
from .messages import EMPTY_FILE, FAILED_UNEXPECTEDLY, rows_too_large_message, state_message, too_large_message
from .checks import spreadsheet_extension
from .reading import read_stored_rows, read_stored_sheet
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
STORE_CHUNK_BYTES = 1024 * 1024
# The sources whose upload is stored (upload_folder) and read back by _run; the others read tables.
_STORED_READERS = {RosterImport.Source.FILE: read_stored_sheet, RosterImport.Source.ROWS: read_stored_rows}


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
    RosterImport with status "refused" and its message in `error`. Too large is RosterUploadTooLarge."""
    if not batch.roster_editable:
        raise RosterError(state_message(batch))
    size = upload.size
    if not size:
        raise RosterError(EMPTY_FILE)
    if size > settings.ROSTER_UPLOAD_MAX_BYTES:
        raise RosterUploadTooLarge(too_large_message())
    extension = spreadsheet_extension(upload)
    return _store_and_run(
        batch=batch,
        acting_user=acting_user,
        remote_addr=remote_addr,
        source=RosterImport.Source.FILE,
        file_name=Path(upload.name or "").name[:255],
        stored_name=f"upload{extension}",
        chunks=upload.chunks(STORE_CHUNK_BYTES),
        max_bytes=settings.ROSTER_UPLOAD_MAX_BYTES,
        too_large=too_large_message,
    )


def roster_import_start_rows(
    *, batch: Batch, chunks, acting_user, remote_addr: str | None = None, content_length: int | None = None
) -> RosterImport:
    """SPEC API-2: import a roster posted as JSON rows, `{"rows": [{"姓名": …, "证件号码": …}, …]}`
    (rosters.importer.reading.read_rows), through the same checks, look-ups, rules and write as a file
    (ROS-1…ROS-12): the same RosterImport, progress, summary and problems, a problem's 行号 being the
    row's 1-based position in `rows`.

    `chunks` is an iterable of bytes, the request body as it arrives (the API view passes
    `iter(lambda: request.read(64 * 1024), b"")`): it is sealed to disk chunk by chunk (SEC-4), never
    held whole in memory, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not apply; the limit is
    ROSTER_API_MAX_BYTES, checked against `content_length` (the request's Content-Length, if it has
    one) before anything is read and against the bytes counted while they are received.

    Raises, with nothing recorded and nothing kept: RosterError when the batch's state forbids editing
    or the body is empty; RosterUploadTooLarge (a RosterError) over the limit. A document refused as
    a whole (not UTF-8, not JSON, no `rows` array, a required column missing, …) comes back as a
    RosterImport "refused" with its message in `error`, like a file without a header."""
    if not batch.roster_editable:
        raise RosterError(state_message(batch))
    if content_length is not None and content_length > settings.ROSTER_API_MAX_BYTES:
        raise RosterUploadTooLarge(rows_too_large_message())
    return _store_and_run(
        batch=batch,
        acting_user=acting_user,
        remote_addr=remote_addr,
        source=RosterImport.Source.ROWS,
        file_name="",
        stored_name="upload.json",
        chunks=chunks,
        max_bytes=settings.ROSTER_API_MAX_BYTES,
        too_large=rows_too_large_message,
    )


class _OverLimit(Exception):
    """The bytes received passed the upload's limit (_store_and_run turns it into RosterUploadTooLarge)."""


class _ReceiveFailed(Exception):
    """Reading the upload itself failed (a client gone mid-body: UnreadablePostError); its cause is
    raised again once _store_and_run has removed what it started."""


class _Counted:
    """The byte chunks of an upload, counted as they pass; _OverLimit as soon as they pass `max_bytes`."""

    def __init__(self, chunks, max_bytes: int):
        self.chunks, self.max_bytes, self.size = chunks, max_bytes, 0

    def __iter__(self):
        chunks = iter(self.chunks)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except Exception as error:  # told apart from the disk's OSError below
                raise _ReceiveFailed from error
            self.size += len(chunk)
            if self.size > self.max_bytes:
                raise _OverLimit
            yield chunk


def _store_and_run(
    *, batch: Batch, acting_user, remote_addr: str | None, source: str, file_name: str, stored_name: str,
    chunks, max_bytes: int, too_large,
) -> RosterImport:
    """What both uploads share (SPEC ROS-9, SEC-4, API-2): record the RosterImport, seal the upload's
    `chunks` into its folder as `stored_name`, then run it inline when small (INLINE_MAX_BYTES) or as
    a Celery task started on commit (the page or the API polls rows_done / rows_total).

    An upload that passes `max_bytes` (RosterUploadTooLarge with `too_large()`), turns out empty
    (RosterError EMPTY_FILE) or cannot be received (the chunks' own exception) leaves nothing: its
    RosterImport and folder are deleted. A disk that fails leaves the RosterImport "failed" (RosterError)."""
    with acting_as(acting_user):
        roster_import = RosterImport.objects.create(
            batch=batch,
            account=acting_user,
            source=source,
            file_name=file_name,
            rows_total=None,
            remote_addr=remote_addr or None,
        )
    folder = upload_folder(roster_import)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / stored_name
    counted = _Counted(chunks, max_bytes)
    try:
        seal_stream(counted, target)  # SPEC SEC-4: sealed at rest
        undo_with = None if counted.size else RosterError(EMPTY_FILE)  # raised once nothing is left
    except _OverLimit:
        undo_with = RosterUploadTooLarge(too_large())
    except _ReceiveFailed as failed:
        undo_with = failed.__cause__
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        RosterImport.objects.filter(pk=roster_import.pk).update(
            status=JobStatus.FAILED, error=FAILED_UNEXPECTEDLY.format(id=roster_import.pk), finished_at=timezone.now()
        )
        raise RosterError("服务器保存文件失败，参保清册未改变。请稍后重试，或联系技术支持。") from None
    if undo_with is not None:
        shutil.rmtree(folder, ignore_errors=True)
        RosterImport.objects.filter(pk=roster_import.pk).delete()
        raise undo_with
    roster_import.stored_file = str(target.relative_to(Path(settings.MEDIA_ROOT)))
    RosterImport.objects.filter(pk=roster_import.pk).update(stored_file=roster_import.stored_file)
    if counted.size < INLINE_MAX_BYTES:
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
    lookup, write, report) for the benchmark. Raises JobBusy while another live worker runs it.
    It runs where it is called, its caller waiting for the end: no progress is written (_Progress)."""
    timings: dict[str, float] = {}
    job_run(
        RosterImport, roster_import.pk,
        lambda claimed: roster_import_work(_with_relations_of(roster_import, claimed), timings=timings, watched=False),
    )
    result = RosterImport.objects.select_related("batch").get(pk=roster_import.pk)
    result.timings = timings
    return result


def _relations_loaded(roster_import: RosterImport) -> bool:
    """Whether the import carries its batch (with code and year) and account already."""
    fields = RosterImport._meta
    if not (fields.get_field("batch").is_cached(roster_import) and fields.get_field("account").is_cached(roster_import)):
        return False
    batch_fields = Batch._meta
    batch = roster_import.batch
    return batch_fields.get_field("code").is_cached(batch) and batch_fields.get_field("coverage_year").is_cached(batch)


def _with_relations_of(source: RosterImport, claimed: RosterImport) -> RosterImport:
    """`claimed` (the job row as job_claim read it) with the batch and account `source` carries, when
    it carries them: an import started inside the request (_store_and_run) has the request's batch
    and user, and is spared reading them again. The batch's state is checked again under its lock
    at the write (roster_lock_for_edit)."""
    if _relations_loaded(source) and claimed.batch_id == source.batch_id and claimed.account_id == source.account_id:
        claimed.batch, claimed.account = source.batch, source.account
    return claimed


def roster_import_work(roster_import: RosterImport, *, timings: dict | None = None, watched: bool = True) -> None:
    """One attempt at a claimed import (mutualaid.jobs.job_run calls it). `watched`: a page may poll
    its progress (a task's run); roster_import_run's caller waits for the end instead (_Progress)."""
    timings = {} if timings is None else timings
    if _relations_loaded(roster_import):
        claimed = roster_import
    else:
        claimed = (
            RosterImport.objects.select_related("batch__code", "batch__coverage_year", "account").get(pk=roster_import.pk)
        )
        claimed.attempts = roster_import.attempts  # the attempt that holds the job (its fencing token)
    try:
        _run(claimed, timings, watched=watched)
    except RosterError as error:
        job_finish(claimed, status=JobStatus.REFUSED, error=error.message)
        if claimed.source in _STORED_READERS:
            _remove_upload(claimed)  # nothing to mark in a refused upload
        return
    except JobLost:
        raise
    except Exception:
        logger.exception("roster import %s failed", claimed.pk)
        job_fail(claimed, FAILED_UNEXPECTEDLY.format(id=claimed.pk))
        return  # the upload stays (sealed) until roster_imports_purge, for whoever looks into it
    # No bad row: no marked copy to offer, and the upload holds IDs in clear (sealed). JSON rows never
    # get a marked copy (X-1 is for spreadsheets; the API reports the bad rows by number), so theirs goes
    # once the run is done, bad rows or not.
    if claimed.source == RosterImport.Source.ROWS or (claimed.source == RosterImport.Source.FILE and not claimed.rows_failed):
        _remove_upload(claimed)


def _run(roster_import: RosterImport, timings: dict, *, watched: bool = True) -> None:
    batch = roster_import.batch
    if not batch.roster_editable:
        raise RosterError(state_message(batch))
    member_names = None
    started = time.perf_counter()
    if roster_import.source in _STORED_READERS:  # a file or JSON rows (SPEC API-2): one pipeline from here
        progress = _Progress(roster_import, watched=watched)
        path = stored_path(roster_import)
        if path is None or not path.exists():
            raise RosterError("上传的文件已不在服务器上，请重新导入。")
        sheet = _STORED_READERS[roster_import.source](path)
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
