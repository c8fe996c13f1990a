"""The write: COPY / INSERT … SELECT of new people and one UPDATE … FROM of known ones, audited as
one event (SPEC X-2)."""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from enrollment.models import Batch
from mutualaid.jobs import job_finish

from ..models import RosterEntry, RosterImport
from ..services import held_naming_audit, roster_audit, roster_lock_for_edit, roster_version_bump
from .messages import PROBLEMS_KEPT
from .people import _Collected, _Person
from .lookups import _current, _fetch, _hash_aliases, _narrowed, _searched, _table
from .decisions import _ACTIVE, _RETIRED


# --- writing ---------------------------------------------------------------------------------------------------

_ENTRY_FIELDS = (
    "name", "birth_date", "sex", "mobile_cipher", "has_social_security", "work_status", "is_suggested", "ss_unit_code",
    "personal_ss_number", "medical_active", "imported_name", "previous_name", "member_name", "name_mismatch",
)
_INSERT_COLUMNS = ("batch_id", "id_type", "id_hash", "id_cipher", *_ENTRY_FIELDS, "created_at", "updated_at")
_AT = {name: index for index, name in enumerate(_ENTRY_FIELDS)}  # field → its position in an entry
_UPDATE_COLUMNS = ("id", *_ENTRY_FIELDS, "updated_at")
_CURRENT_FIELDS = (
    "pk", "name", "mobile_cipher", "has_social_security", "work_status", "imported_name", "previous_name", "member_name",
    "name_mismatch",
)


def _merge(entry: tuple, current: tuple) -> tuple:
    """SPEC ROS-4: a person already in the batch is updated. What the unit settled stays settled: a
    name mismatch it confirmed (same three names, closed) keeps its chosen name; 在职 with 社保 it set
    (【设置在职】 or an earlier 是) is not taken back by a later file.

    SPEC ROS-7 [departure] (参保查询, LOOK-1, sends its code to this mobile): a filled 手机号 cell fills
    or replaces the person's mobile; an empty cell (or no 手机号 column, or a source without mobiles:
    上年度参保名单, 会员库) keeps the one on file, so importing a list again never erases mobiles the
    unit entered by 【编辑】. Both are ciphers here, "" for none."""
    (_pk, name, mobile_cipher, insured, work_status, imported_name, previous_name, member_name, mismatch) = current
    merged = list(entry)  # by position (_AT): this runs once per known person of the file
    names_unchanged = (imported_name, previous_name, member_name) == (
        entry[_AT["imported_name"]], entry[_AT["previous_name"]], entry[_AT["member_name"]]
    )
    if names_unchanged and not mismatch and entry[_AT["name_mismatch"]]:
        merged[_AT["name"]], merged[_AT["name_mismatch"]] = name, False
    if insured and work_status == _ACTIVE and entry[_AT["work_status"]] != _RETIRED:
        merged[_AT["work_status"]], merged[_AT["has_social_security"]] = _ACTIVE, True
    if not entry[_AT["mobile_cipher"]]:
        merged[_AT["mobile_cipher"]] = mobile_cipher
    return tuple(merged)


def _quoted(columns) -> str:
    return ", ".join(connection.ops.quote_name(column) for column in columns)


def _insert(rows: list[tuple]) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(RosterEntry._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({_quoted(_INSERT_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            picks = ", ".join(f"json_extract(value, '$[{index}]')" for index in range(len(_INSERT_COLUMNS)))
            cursor.execute(
                f"INSERT INTO {table} ({_quoted(_INSERT_COLUMNS)}) SELECT {picks} FROM json_each(%s)",
                [json.dumps(rows, default=str)],
            )


def _update(rows: list[tuple]) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(RosterEntry._meta.db_table)
    assignments_from = lambda source: ", ".join(  # noqa: E731
        f"{connection.ops.quote_name(column)} = {source(index)}" for index, column in enumerate(_UPDATE_COLUMNS) if index
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            staging = "roster_import_update"
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{staging}")
            cursor.execute(
                f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS SELECT {_quoted(_UPDATE_COLUMNS)} FROM {table} WITH NO DATA"
            )
            with cursor.copy(f"COPY {staging} ({_quoted(_UPDATE_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            sets = assignments_from(lambda index: f"staged.{connection.ops.quote_name(_UPDATE_COLUMNS[index])}")
            cursor.execute(f"UPDATE {table} AS roster SET {sets} FROM {staging} AS staged WHERE roster.id = staged.id")
            cursor.execute(f"DROP TABLE {staging}")
        else:
            sets = assignments_from(lambda index: f"json_extract(staged.value, '$[{index}]')")
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM json_each(%s) AS staged "
                f"WHERE {table}.id = json_extract(staged.value, '$[0]')",
                [json.dumps(rows, default=str)],
            )


def _row_adapter():
    """How a row's values go to the database: as they are for COPY (PostgreSQL); for json_each
    (SQLite, where Django keeps dates and datetimes as text and booleans as 0/1) converted."""
    if connection.vendor == "postgresql":
        return tuple
    adapt_datetime = connection.ops.adapt_datetimefield_value

    def adapt(values):
        row = []
        for value in values:
            if value is True or value is False:
                value = int(value)
            elif isinstance(value, dt.datetime):
                value = adapt_datetime(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            row.append(value)
        return row

    return adapt


@dataclass
class _Written:
    added: int
    updated: int


def _write(*, roster_import: RosterImport, people: list[_Person], collected: _Collected, acting_user, timings: dict) -> _Written:
    """One short transaction (STYLE.md §6): lock the batch (refused if its state forbids editing),
    find who is in it already, insert the others, update the known, bump roster_version if anyone was
    added, one audit event with the counts (X-2), and the RosterImport's result."""
    started = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        batch = roster_lock_for_edit(batch=roster_import.batch)
        current = {}
        if people:
            # SPEC SEC-10: during a hash rotation a person already in the batch may carry the old
            # key's hash; found under either, they are updated, never added twice.
            aliases = _hash_aliases(people)
            columns = ", ".join("id" if name == "pk" else name for name in _CURRENT_FIELDS)
            for row in _fetch(*_narrowed(
                f"SELECT id_hash, id_type, {columns} FROM {_table(RosterEntry)} WHERE batch_id = %s",
                [batch.pk], RosterEntry, _searched([person.id_hash for person in people], aliases),
            )):
                current[(_current(row[0], aliases), row[1])] = row[2:]
        new_rows, update_rows = [], []
        adapt = _row_adapter()
        batch_pk = batch.pk
        for person in people:
            known = current.get((person.id_hash, person.id_type))
            if known is None:
                new_rows.append(adapt((batch_pk, person.id_type, person.id_hash, person.id_cipher, *person.entry, now, now)))
            else:
                update_rows.append(adapt((known[0], *_merge(person.entry, known), now)))
        _insert(new_rows)
        _update(update_rows)
        if new_rows:
            roster_version_bump(batch=batch)
        timings["write"] = time.perf_counter() - started

        started = time.perf_counter()
        problems = sorted(collected.problems, key=lambda problem: problem["row"])[:PROBLEMS_KEPT]
        written = _Written(added=len(new_rows), updated=len(update_rows))
        failed = len(collected.failed_rows)
        roster_audit(
            batch=batch,
            acting_user=acting_user,
            action=f"导入参保人员（{roster_import.get_source_display()}）",
            read=collected.rows_read,
            added=written.added,
            updated=written.updated,
            failed=failed,
        )
        _audit_namings(roster_import=roster_import, named=collected.named, acting_user=acting_user)
        job_finish(
            roster_import,
            rows_total=collected.rows_read,
            rows_done=collected.rows_read,
            rows_read=collected.rows_read,
            rows_imported=written.added + written.updated,
            rows_added=written.added,
            rows_updated=written.updated,
            rows_failed=failed,
            problems=problems,
        )
    timings["report"] = time.perf_counter() - started
    return written


def _audit_namings(*, roster_import: RosterImport, named: dict[int, list[int]], acting_user) -> None:
    """SPEC ROS-11, SEC-3: one audit entry per holding batch this import named (its rows listed), in
    the write's transaction; a query per named batch, not per row (none when nobody was named)."""
    if not named:
        return
    for holder in Batch.objects.filter(pk__in=list(named)).order_by("pk"):
        rows = named[holder.pk]
        held_naming_audit(
            holder=holder,
            acting_user=acting_user,
            remote_addr=roster_import.remote_addr,
            roster_import=roster_import.pk,
            rows=rows[:1000],
            rows_named=len(rows),
        )
