"""Writing a load: COPY into a staging table that is indexed and swapped in (PostgreSQL), or one
transaction of bulk_create (elsewhere), and the report of the rejected rows."""
from __future__ import annotations

import concurrent.futures
import csv
import io
import logging
import time
import uuid
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from mutualaid.sealed import SealedWriter

from ..errors import RosterError
from .kinds import KindSpec, SPECS

logger = logging.getLogger(__package__)  # "rosters.reference", as before the package

REJECTED_IN_MEMORY = 100_000  # rejected rows kept in LoadResult; the report file has them all
REJECTED_DIR = "private/reference/rejected"  # under MEDIA_ROOT, next to the uploads (rosters/admin.py)
INDEX_BUILD_MEMORY = "512MB"  # maintenance_work_mem of each index build (two at once); 1–2 GB measured no faster
SWAP_LOCK_TIMEOUT = "5s"  # the swap waits this long for readers of the table, then tries again
SWAP_ATTEMPTS = 6
ADVISORY_LOCK_CLASS = 0x52454644  # pg_advisory_lock(class, id): one load per (kind, year) at a time


# --- writing ---------------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class _ParentIndex(NamedTuple):
    """An index of a partitioned reference table, as the catalogue defines it."""

    name: str
    primary: bool
    unique: bool
    method: str
    key: list[str]  # the key columns as pg_get_indexdef writes them (COLLATE, operator class…)
    included: list[str]
    predicate: str | None


def _parent_indexes(cursor, table: str) -> list[_ParentIndex]:
    """The indexes of the partitioned `table`, the primary key first, read from the catalogue:
    a new partition gets exactly these, as ATTACH adopts an index only if it matches the
    parent's (or builds another one while holding the table's lock). The catalogue, not the
    model, because migrations shape some of them beyond what the model says: the suggested
    roster's key INCLUDEs the other columns and leads with id_hash, its unit index leads with
    ss_unit_code (migrations 0005, 0010)."""
    cursor.execute(
        """
        SELECT index.relname, ind.indisprimary, ind.indisunique, method.amname,
               ARRAY(SELECT pg_get_indexdef(ind.indexrelid, k, false) FROM generate_series(1, ind.indnatts) AS k ORDER BY k),
               ind.indnkeyatts, pg_get_expr(ind.indpred, ind.indrelid)
        FROM pg_index AS ind
        JOIN pg_class AS index ON index.oid = ind.indexrelid
        JOIN pg_am AS method ON method.oid = index.relam
        WHERE ind.indrelid = %s::regclass
        ORDER BY ind.indisprimary DESC, index.relname
        """,
        [table],
    )
    return [
        _ParentIndex(name, primary, unique, method, columns[:key_count], columns[key_count:], predicate)
        for name, primary, unique, method, columns, key_count, predicate in cursor.fetchall()
    ]


class _PostgresWriter:
    """COPY into `<table>_load_<year>`, index it, then swap it in as `<table>_y<year>` (see the
    module docstring).

    The staging table is created and filled in one transaction, so that COPY may FREEZE its rows:
    they are written frozen and all-visible, with the visibility map set, as an Index Only Scan of
    the suggested roster's covering key (migration 0005) needs. A VACUUM would otherwise set them,
    writing the whole table a second time (1.3 s for 6,000,000 rows, and 1.2 GB for the disk while
    the indexes are built). Frozen rows are visible to any snapshot, but no other session sees a
    table that no committed transaction has created.

    Outside a transaction (the upload task, the command) the table is filled on a second
    connection, so that this one stays free for the progress the caller writes to the database,
    and the two connections then build the indexes side by side (_build_indexes). Inside a
    caller's transaction (the tests) everything runs on this connection, the filling in one
    savepoint and the indexes one after the other. A failure during the filling rolls it back,
    which removes the table; a later one drops it."""

    copy_text = True

    def __init__(self, spec: KindSpec, year: int):
        self.spec = spec
        self.year = year
        self.table = spec.model._meta.db_table
        self.staging = f"{self.table}_load_{year}"
        self.partition = f"{self.table}_y{year}"
        self.lock_id = year * 8 + list(SPECS).index(spec.kind)
        self._locked = False
        self._second = None  # the second connection, outside a transaction
        self._savepoint = None  # the filling's atomic block, inside one
        self._filling = False  # the filling's transaction (or savepoint) is open
        self._parent_indexes: list[_ParentIndex] = []
        self._copy_sql = (
            f"COPY {_quote(self.staging)} (year, {', '.join(_quote(column) for column in spec.columns)}) "
            "FROM STDIN WITH (FREEZE)"
        )

    @property
    def _filler(self):
        """The connection that fills the staging table."""
        return self._second if self._second is not None else connection

    def __enter__(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_LOCK_CLASS, self.lock_id])
            self._locked = cursor.fetchone()[0]
        if not self._locked:
            raise RosterError(f"{self.year}年度的{self.spec.kind.label}正在导入，请等它完成后再试。")
        try:
            self._begin_filling()
        except BaseException as error:
            self._release(error)
            raise
        return self

    def _begin_filling(self) -> None:
        if connection.get_autocommit():  # False inside any transaction
            self._second = connection.copy()
            self._second.set_autocommit(False)
        else:
            self._savepoint = transaction.atomic()
            self._savepoint.__enter__()
        self._filling = True
        table, staging = _quote(self.table), _quote(self.staging)
        with self._filler.cursor() as cursor:
            # The advisory lock makes any table of this name the remains of a load that died.
            cursor.execute(f"DROP TABLE IF EXISTS {staging}")
            cursor.execute(f"CREATE TABLE {staging} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            # Checked row by row as COPY writes (cheap), and lets ATTACH skip its scan of the table.
            cursor.execute(
                f"ALTER TABLE {staging} ADD CONSTRAINT {_quote(self.partition + '_year')} CHECK (year = {int(self.year)})"
            )

    def _end_filling(self, error: BaseException | None) -> None:
        """Commit the filling (error None), or roll it back, which removes the staging table."""
        if not self._filling:
            return
        self._filling = False
        if self._savepoint is not None:
            savepoint, self._savepoint = self._savepoint, None
            savepoint.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)
        elif error is None:
            self._second.commit()
            self._second.set_autocommit(True)
        else:
            self._second.rollback()

    def write(self, payload: bytes) -> None:
        with self._filler.cursor() as cursor, cursor.copy(self._copy_sql) as copy:
            copy.write(payload)

    def finish(self) -> dict[str, float]:
        """Analyse, index and swap in the staging table; returns the seconds of each phase."""
        started = time.monotonic()
        with connection.cursor() as cursor:
            self._parent_indexes = _parent_indexes(cursor, self.table)
        with self._filler.cursor() as cursor:
            cursor.execute(f"ANALYZE {_quote(self.staging)}")  # the planner's statistics, in the filling
        self._end_filling(None)
        indexing = time.monotonic()
        self._build_indexes()
        swapping = time.monotonic()
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            try:
                self._swap()
                phases = {"analyse": indexing - started, "indexes": swapping - indexing, "swap": time.monotonic() - swapping}
                logger.info(
                    "reference load %s %s: analyse and commit %.1f s, indexes %.1f s (%s), swap %.1f s",
                    self.spec.kind.value, self.year, phases["analyse"], phases["indexes"],
                    "side by side" if self._second else "one after the other", phases["swap"],
                )
                return phases
            except OperationalError as error:
                if attempt == SWAP_ATTEMPTS or getattr(error.__cause__, "sqlstate", "") != "55P03":  # lock_not_available
                    raise
                logger.warning("reference load %s %s: table busy, swap attempt %s", self.spec.kind, self.year, attempt)
                time.sleep(attempt)

    def _index_statements(self) -> tuple[str, list[str]]:
        """CREATE INDEX of the staging table's primary key, as a unique index (ADD CONSTRAINT …
        USING INDEX then makes it the key: building it as a constraint would lock the table against
        the other builds), and of its other indexes, each like the parent's (_parent_indexes)."""
        primary, others = "", []
        for index in self._parent_indexes:
            statement = (
                f"CREATE {'UNIQUE ' if index.unique else ''}INDEX {_quote(self._index_name(self.staging, index.name))} "
                f"ON {_quote(self.staging)} USING {index.method} ({', '.join(index.key)})"
                + (f" INCLUDE ({', '.join(index.included)})" if index.included else "")
                + (f" WHERE {index.predicate}" if index.predicate else "")
            )
            if index.primary:
                primary = statement
            else:
                others.append(statement)
        return primary, others

    def _build_indexes(self) -> None:
        """Outside a transaction the other indexes are built on the second connection, in a thread
        (psycopg waits for the server without holding the GIL), while this one builds the key.
        A build spreads its sort over the machine's cores (parallel workers), but then merges the
        sorted runs and writes its pages in one process; side by side, the other build uses the
        idle core meanwhile. Measured for 6,000,000 suggested-roster people (indexes of migration
        0010, 2 cores): 6.6–6.8 s side by side, 8.4–10.6 s one after the other."""
        primary, others = self._index_statements()
        key = _quote(self._index_name(self.staging, next(index.name for index in self._parent_indexes if index.primary)))
        memory = f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'"
        if self._second is None or not others:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(memory)
                for statement in [primary, *others]:
                    cursor.execute(statement)
                cursor.execute(f"ALTER TABLE {_quote(self.staging)} ADD CONSTRAINT {key} PRIMARY KEY USING INDEX {key}")
            return
        second = self._second
        second.inc_thread_sharing()
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
                # The key, the largest, keeps the server's parallel workers; the others run alone.
                alone = "SET LOCAL max_parallel_maintenance_workers = 0"
                others_built = executor.submit(self._run_in_transaction, second, [memory, alone, *others])
                try:
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.execute(memory)
                        cursor.execute(primary)
                except BaseException:
                    second.connection.cancel_safe()  # rather than wait for the other build to end
                    raise
                others_built.result()  # raises what the other build raised (a Django error)
        finally:
            second.dec_thread_sharing()
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {_quote(self.staging)} ADD CONSTRAINT {key} PRIMARY KEY USING INDEX {key}")

    @staticmethod
    def _run_in_transaction(database, statements: list[str]) -> None:
        database.set_autocommit(False)
        try:
            with database.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
            database.commit()
        except BaseException:
            database.rollback()
            raise
        finally:
            database.set_autocommit(True)

    def _index_name(self, table: str, parent_index: str) -> str:
        return f"{table}_pkey" if parent_index == f"{self.table}_pkey" else f"{table}_{parent_index}"

    def _swap(self) -> None:
        """DETACH the year's old partition, ATTACH the staging table, DROP the old one: one short
        transaction. Rows of the year that went to the DEFAULT partition (written before the year
        had a partition) are replaced as well."""
        table, staging, year = _quote(self.table), _quote(self.staging), int(self.year)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
            cursor.execute(
                """
                SELECT child.relname, pg_get_expr(child.relpartbound, child.oid)
                FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid
                WHERE pg_inherits.inhparent = %s::regclass
                """,
                [self.table],
            )
            partitions = cursor.fetchall()
            old = [name for name, bound in partitions if bound == f"FOR VALUES IN ('{year}')"]
            for name, bound in partitions:
                if bound == "DEFAULT":
                    cursor.execute(f"DELETE FROM {_quote(name)} WHERE year = %s", [year])
            for name in old:
                cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {_quote(name)}")
            cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {staging} FOR VALUES IN ({year})")
            for name in old:
                cursor.execute(f"DROP TABLE {_quote(name)}")
            cursor.execute(f"ALTER TABLE {staging} RENAME TO {_quote(self.partition)}")
            for index in self._parent_indexes:
                cursor.execute(
                    f"ALTER INDEX {_quote(self._index_name(self.staging, index.name))} "
                    f"RENAME TO {_quote(self._index_name(self.partition, index.name))}"
                )

    def __exit__(self, error_type, error, traceback):
        self._release(error)
        return False

    def _release(self, error: BaseException | None) -> None:
        """Roll back an unfinished filling, drop the staging table after a failure, close the second
        connection, release the lock: without hiding the error that brought us here. If a connection
        itself is gone, PostgreSQL has rolled its transaction back and released its lock, and the
        next load drops a staging table left behind."""
        steps = []
        if error is not None:
            steps += [("filling not rolled back", lambda: self._end_filling(error)), ("staging table not dropped", self._drop_staging)]
        if self._second is not None:
            steps.append(("second connection not closed", self._second.close))
        if self._locked:
            steps.append(("advisory lock not released", self._unlock))
        for problem, step in steps:
            try:
                step()
            except Exception:  # noqa: BLE001
                if error is None:
                    raise
                logger.exception("reference load %s %s: %s", self.spec.kind, self.year, problem)

    def _drop_staging(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_quote(self.staging)}")

    def _unlock(self) -> None:
        self._locked = False
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_LOCK_CLASS, self.lock_id])


class _GenericWriter:
    """One transaction: delete the year's rows, bulk-create the new ones chunk by chunk (the demo
    on SQLite). A failure rolls everything back."""

    copy_text = False

    def __init__(self, spec: KindSpec, year: int):
        self.spec = spec
        self.year = year
        self._atomic = transaction.atomic()

    def __enter__(self):
        self._atomic.__enter__()
        try:
            self.spec.model.objects.filter(year=self.year).delete()
        except BaseException as error:
            self._atomic.__exit__(type(error), error, error.__traceback__)
            raise
        return self

    def write(self, records: list) -> None:
        model, columns, year = self.spec.model, self.spec.columns, self.year
        model.objects.bulk_create(
            [model(year=year, **dict(zip(columns, record.split("\t")))) for record in records], batch_size=500
        )

    def finish(self) -> dict[str, float]:
        return {}

    def __exit__(self, error_type, error, traceback):
        return self._atomic.__exit__(error_type, error, traceback)


class _RejectedReport:
    """The rejected rows: all of them in a CSV file (UTF-8 with BOM, for Excel), the first
    REJECTED_IN_MEMORY in the result. The file holds ID numbers as the uploader wrote them, so it
    is sealed (mutualaid.sealed), lives under MEDIA_ROOT/private and is served only to reviewers
    (rosters/admin.py)."""

    def __init__(self, *, kind: str, year: int, header: list):
        self.kind, self.year, self.header = kind, year, [str(value) for value in header]
        self.count = 0
        self.kept: list[tuple[int, str, tuple[str, ...]]] = []
        self.path: Path | None = None
        self._stream = None
        self._writer = None

    def add(self, rows: list[tuple[int, str, tuple[str, ...]]]) -> None:
        if not rows:
            return
        if self._writer is None:
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
            self.path = Path(settings.MEDIA_ROOT) / REJECTED_DIR / f"{self.kind}-{self.year}-{stamp}-{uuid.uuid4().hex[:8]}.csv"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # SPEC SEC-4: sealed at rest like the upload it comes from.
            self._stream = io.TextIOWrapper(io.BufferedWriter(SealedWriter(self.path)), encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._stream)
            self._writer.writerow(["行号", "错误原因", *self.header])
        self._writer.writerows([line, reason, *raw] for line, reason, raw in rows)
        room = REJECTED_IN_MEMORY - len(self.kept)
        if room > 0:
            self.kept.extend(rows[:room])
        self.count += len(rows)

    def close(self, *, keep: bool) -> None:
        if self._stream is not None:
            self._stream.close()
            if not keep:
                self.path.unlink(missing_ok=True)
                self.path = None
