"""The reference load service: a file of one kind for one year, read, prepared, checked for duplicates
across the whole file, and written; with its job and its ReferenceLoad row (SPEC REF, SEC-2, X-2)."""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

from mutualaid.audit import acting_as
from mutualaid.jobs import job_fail, job_finish, job_run
from mutualaid.pii_bulk import BulkPiiProtector

from ..errors import RosterError
from ..models import ReferenceLoad
from .kinds import reference_spec
from .readers import _open_source, _positions
from .pool import _ChunkPreparer, _Context, _Prepared, _pool_possible, _prepared_chunks
from .writer import _GenericWriter, _PostgresWriter, _RejectedReport

logger = logging.getLogger(__package__)  # "rosters.reference", as before the package
POOL_MIN_BYTES = 16 * 1024 * 1024  # below this (about 200,000 rows) a pool costs more than it saves


@dataclass
class LoadResult:
    """What one load did: 读取 N 行，导入 M 行，错误 F 行, and where the rejected lines are."""

    kind: str
    year: int
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    # (line, reason, raw values), in line order; at most REJECTED_IN_MEMORY of them
    rejected_rows: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)
    rejected_path: Path | None = None  # the full list as CSV (under MEDIA_ROOT), None when nothing was rejected
    seconds: float = 0.0
    # Seconds of each phase, in order (the loader logs them too): "rows" (read, check, hash,
    # encrypt, COPY), and on PostgreSQL "analyse", "indexes", "swap".
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return f"读取 {self.read} 行，导入 {self.loaded} 行，错误 {self.rejected} 行"

    @property
    def rows_per_second(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


def _chunk_write(writer, payload) -> None:
    """One chunk to the database (a seam for the tests that make a load fail half-way)."""
    writer.write(payload)


# --- the service -----------------------------------------------------------------------------------


def _drop_duplicates(prepared: _Prepared, seen: set) -> list[int]:
    """Add the chunk's keys to `seen`; return the indexes of records seen before (in this file)."""
    chunk_keys = prepared.keys
    if seen.isdisjoint(chunk_keys):  # the usual case, at C speed
        before = len(seen)
        seen.update(chunk_keys)
        if len(seen) - before == len(chunk_keys):
            return []
        seen.difference_update(chunk_keys)  # none of them was there before: start the chunk again
    duplicates = []
    for index, key in enumerate(chunk_keys):
        if key in seen:
            duplicates.append(index)
        else:
            seen.add(key)
    return duplicates


def _without(prepared: _Prepared, indexes: list[int]):
    drop = set(indexes)
    if isinstance(prepared.payload, bytes):
        lines = prepared.payload.split(b"\n")[:-1]
        return b"".join(line + b"\n" for index, line in enumerate(lines) if index not in drop)
    return [record for index, record in enumerate(prepared.payload) if index not in drop]


def _first_seen(job, prepared: _Prepared, *, seen: set, preparer: _ChunkPreparer, spec) -> tuple:
    """(payload, records loaded, rejected rows) of a chunk without the records seen before in the
    file: those are rejected rows too, with the kind's duplicate reason, in line order."""
    duplicates = _drop_duplicates(prepared, seen)
    if not duplicates:
        return prepared.payload, len(prepared.lines), prepared.rejected
    raw_by_line = dict(preparer.rows(job))
    rejected = sorted(
        prepared.rejected
        + [
            (prepared.lines[index], spec.duplicate_reason, tuple(raw_by_line.get(prepared.lines[index], ())))
            for index in duplicates
        ]
    )
    return _without(prepared, duplicates), len(prepared.lines) - len(duplicates), rejected


def reference_load(
    *,
    kind: str,
    path: str | Path,
    year: int,
    acting_user=None,
    progress: Callable[[int, int | None], None] | None = None,
) -> LoadResult:
    """Replace `year`'s reference data of `kind` by the rows of the file at `path` (SPEC REF).

    The file is CSV (UTF-8 with or without BOM, or GB18030), gzip-compressed CSV or XLSX, with a
    header row; columns are found by name in any order, extra columns are ignored. Bad rows are
    rejected with their line and reason, the good ones loaded. `progress(rows_done, rows_total)`
    is called about every CHUNK_ROWS rows (the total is None when unknown, e.g. for .csv.gz), at
    moments when the database connection is free: it may write progress to the database.

    Raises RosterError (with a Chinese `message`) when the file is refused as a whole (unreadable,
    a required column missing, no data row, no good row) or when the same kind and year is being
    loaded already; the year's previous data is then unchanged, as it is after any other failure.
    Call it outside a transaction: on PostgreSQL each step commits on its own (see above).
    The caller records the load (a ReferenceLoad row: the audit event, SPEC X-2).
    """
    spec = reference_spec(kind)
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise RosterError(f"保障年度“{year}”不正确。")
    path = Path(path)
    started = time.monotonic()
    source = _open_source(path)
    report = None
    try:
        positions = _positions(spec, source.header)
        report = _RejectedReport(kind=spec.kind.value, year=year, header=source.header)
        postgres = connection.vendor == "postgresql"
        writer_class = _PostgresWriter if postgres else _GenericWriter
        context = _Context(
            kind=spec.kind.value,
            year=year,
            positions=positions,
            encoding=source.encoding,
            copy_text=writer_class.copy_text,
            keys=BulkPiiProtector.current_keys(),
        )
        preparer = _ChunkPreparer(context)
        use_pool = postgres and path.stat().st_size >= POOL_MIN_BYTES and _pool_possible()
        result = LoadResult(kind=spec.kind.value, year=year)
        seen: set[bytes] = set()
        if progress:
            progress(0, source.total)
        chunks = _prepared_chunks(source, preparer, use_pool=use_pool)
        with writer_class(spec, year) as writer, contextlib.closing(chunks):
            for job, prepared in chunks:
                payload, loaded, rejected = _first_seen(job, prepared, seen=seen, preparer=preparer, spec=spec)
                if loaded:
                    _chunk_write(writer, payload)
                report.add(rejected)
                result.read += prepared.rows_read
                result.loaded += loaded
                if progress:
                    progress(result.read, source.total)
            if result.read == 0:
                raise RosterError("文件中没有数据行（第1行为标题行，数据从第2行开始）。")
            if result.loaded == 0:
                line, reason, _raw = report.kept[0]
                raise RosterError(
                    f"文件中的 {result.read} 行全部有错误，没有导入，原有数据未改变。第{line}行：{reason}"
                )
            result.phases["rows"] = time.monotonic() - started
            result.phases.update(writer.finish())
    except BaseException:
        if report is not None:
            report.close(keep=False)
        raise
    finally:
        source.close()
    report.close(keep=True)
    result.rejected = report.count
    result.rejected_rows = report.kept
    result.rejected_path = report.path
    result.seconds = time.monotonic() - started
    if progress:
        progress(result.read, result.read)
    logger.info(
        "reference load %s %s from %s by %s: %s in %.1f s",
        spec.kind.value, year, path.name, getattr(acting_user, "pk", None), result.summary, result.seconds,
    )
    return result


def _media_relative(path: Path | None) -> str:
    """Where a report lies, relative to MEDIA_ROOT like ReferenceLoad.stored_file (rosters/admin.py
    resolves it again)."""
    if path is None:
        return ""
    try:
        return str(path.relative_to(Path(settings.MEDIA_ROOT)))
    except ValueError:
        return str(path)


FAILED_UNEXPECTEDLY = "导入失败：系统处理文件时出错，原有数据未改变。请稍后重新上传；如仍失败，请联系技术支持（导入编号 {id}）。"


def reference_load_job(load: ReferenceLoad, *, path: str | Path, progress=None) -> LoadResult:
    """One attempt at the claimed ReferenceLoad `load` (SPEC SEC-2, mutualaid.jobs): load the file at
    `path` into its kind and year, then finish the job with the counts: its audit event (X-2). On
    a failure the job fails with the Chinese message (RosterError's, or a general one naming the
    load) and the error is raised again. Each attempt starts clean: a load commits only its swap."""
    try:
        result = reference_load(
            kind=load.kind, path=path, year=load.year, acting_user=load.started_by, progress=progress
        )
    except BaseException as error:
        job_fail(load, getattr(error, "message", "") or FAILED_UNEXPECTEDLY.format(id=load.pk))
        raise
    job_finish(
        load,
        audited=True,
        rows_read=result.read,
        rows_loaded=result.loaded,
        rows_rejected=result.rejected,
        rejected_report=_media_relative(result.rejected_path),
    )
    return result


def reference_load_recorded(
    *,
    kind: str,
    path: str | Path,
    year: int,
    acting_user=None,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[ReferenceLoad, LoadResult]:
    """reference_load with its ReferenceLoad row, for a load started outside the back office (the
    management command): the row is the load's audit event with its counts (SPEC X-2), like the
    row the upload page keeps, and a job like theirs (SEC-2). On failure the row is marked failed
    and the error raised again."""
    spec = reference_spec(kind)
    path = Path(path)
    with acting_as(acting_user):
        record = ReferenceLoad.objects.create(kind=spec.kind, year=year, file_name=path.name[:255], started_by=acting_user)
    outcome = {}

    def body(load: ReferenceLoad) -> None:
        outcome["result"] = reference_load_job(load, path=path, progress=progress)

    job_run(ReferenceLoad, record.pk, body)
    record.refresh_from_db()
    return record, outcome["result"]
