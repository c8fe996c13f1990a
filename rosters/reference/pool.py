"""Preparing chunks (check, hash, encrypt, COPY text), in this process or in a small pool of forked
worker processes (SPEC SEC-2: they die with the loader). The pool's worker functions stay at module
level, where a forked worker finds them."""
from __future__ import annotations

import array
import contextlib
import csv
import ctypes
import ctypes.util
import gc
import io
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter

from mutualaid.pii_bulk import BulkPiiProtector

from .kinds import RowProblem, SPECS
from .readers import _Job

CHUNK_ROWS = 50_000  # rows per chunk: the unit of work, of COPY and of progress reports
POOL_PROCESSES = 2


# --- preparing chunks (in this process or in a pool of worker processes) ---------------------------


@dataclass
class _Context:
    """What preparing a chunk needs, picklable (keys as text): built once, sent to each worker."""

    kind: str
    year: int
    positions: list[int]
    encoding: str
    copy_text: bool  # PostgreSQL: one COPY text block; otherwise the records (tab-separated strings)
    keys: dict  # BulkPiiProtector.current_keys(): the current hash and PII keys with their ids (SPEC SEC-10)


@dataclass
class _Prepared:
    rows_read: int
    payload: bytes | list  # COPY text, or the records (tab-separated values)
    keys: list[bytes]  # 16 bytes per record
    lines: array.array  # the line of each record
    rejected: list  # (line, reason, raw values)


class _ChunkPreparer:
    def __init__(self, context: _Context):
        self.context = context
        self.spec = SPECS[context.kind]
        self.protector = BulkPiiProtector(**context.keys)
        self._getter = itemgetter(*context.positions)
        self._year_prefix = f"{context.year}\t"

    def rows(self, job: _Job) -> list[tuple[int, list[str] | RowProblem]]:
        """(line, raw values) of the job's rows without blank lines. A row whose values are all
        empty may remain (the caller skips it); a line that cannot be read comes as a RowProblem,
        never skipped."""
        first_line = job.first_line
        if job.rows is not None:
            return [(first_line + offset, row) for offset, row in enumerate(job.rows)]
        try:
            text = job.data.decode(self.context.encoding)
        except UnicodeDecodeError:
            return list(self._rows_line_by_line(job))
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        if '"' not in text and "\r" not in text:
            # Without quotes a line is a row and a comma a separator: str.split beats csv here.
            return [(first_line + offset, line.split(",")) for offset, line in enumerate(text.split("\n")) if line]
        rows = []
        reader = csv.reader(io.StringIO(text, newline=""))
        previous_end = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return rows
            except csv.Error as error:
                rows.append((first_line + previous_end, RowProblem(f"CSV格式错误：{error}")))
                previous_end = reader.line_num
                continue
            if row:
                rows.append((first_line + previous_end, row))
            previous_end = reader.line_num

    def _rows_line_by_line(self, job: _Job):
        for offset, raw_line in enumerate(job.data.splitlines()):
            try:
                text = raw_line.decode(self.context.encoding)
            except UnicodeDecodeError:
                yield job.first_line + offset, RowProblem(
                    f"含有无法识别的字符（文件应为 {self.context.encoding.upper()} 编码）"
                )
                continue
            row = next(csv.reader([text]), [])
            if row and any(row):
                yield job.first_line + offset, row

    def __call__(self, job: _Job) -> _Prepared:
        # A chunk makes about ten lists, tuples and strings a row and no reference cycle: the cyclic
        # collector would only walk them again and again (8.1 → 6.6 µs a row measured without it).
        with _collector_paused():
            return self._prepare(job)

    def _prepare(self, job: _Job) -> _Prepared:
        rows = self.rows(job)
        protect = self.protector.begin_chunk(len(rows))
        prepare, getter, positions = self.spec.prepare, self._getter, self.context.positions
        records, keys, lines, rejected = [], [], array.array("L"), []
        blank = 0
        for line, raw in rows:
            if raw.__class__ is RowProblem:
                rejected.append((line, raw.reason, ()))
                continue
            try:
                values = getter(raw)
            except IndexError:  # a short row, or an absent optional column
                values = tuple(raw[index] if index < len(raw) else "" for index in positions)
            try:
                record, key = prepare(values, protect)
            except RowProblem as problem:
                if not any(raw):  # a row of empty cells (",,,,") is no row
                    blank += 1
                else:
                    rejected.append((line, problem.reason, tuple(raw)))
                continue
            records.append(record)
            keys.append(key)
            lines.append(line)
        payload = records
        if self.context.copy_text:
            prefix = self._year_prefix
            # Values hold no tab, line break or control character (_text, _code): only a
            # backslash needs COPY's escape.
            text = "".join([prefix + record + "\n" for record in records])
            if "\\" in text:
                text = text.replace("\\", "\\\\")
            payload = text.encode()
        return _Prepared(len(rows) - blank, payload, keys, lines, rejected)


@contextlib.contextmanager
def _collector_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_worker_preparer: _ChunkPreparer | None = None
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> None:
    """SPEC SEC-2: a pool worker is killed when the process that forked it dies, even by SIGKILL
    (Linux's PR_SET_PDEATHSIG), so a dead loader leaves no orphans hashing its file. Elsewhere the
    pool's own shutdown is all there is."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the line above
        os._exit(1)


def _pool_start(context: _Context) -> None:
    global _worker_preparer
    _die_with_parent()
    _worker_preparer = _ChunkPreparer(context)


def _pool_prepare(job: _Job) -> _Prepared:
    return _worker_preparer(job)


def _pool_possible() -> bool:
    # Forked workers inherit the loaded code and need no Django set-up. A Celery prefork worker
    # is a daemon process, which may not have children: there the load runs in one process.
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def _prepared_chunks(source, preparer: _ChunkPreparer, *, use_pool: bool) -> Iterator[tuple[_Job, _Prepared]]:
    """The prepared chunks in file order; with a pool, a few jobs ahead (never the whole file)."""
    jobs = source.jobs(CHUNK_ROWS)
    if not use_pool:
        for job in jobs:
            yield job, preparer(job)
        return
    with multiprocessing.get_context("fork").Pool(
        POOL_PROCESSES, initializer=_pool_start, initargs=(preparer.context,)
    ) as pool:  # leaving the block (also on an error) terminates the workers
        pending: deque = deque()
        for job in jobs:
            pending.append((job, pool.apply_async(_pool_prepare, (job,))))
            if len(pending) > 2 * POOL_PROCESSES:
                waiting_job, result = pending.popleft()
                yield waiting_job, result.get()
        while pending:
            waiting_job, result = pending.popleft()
            yield waiting_job, result.get()
