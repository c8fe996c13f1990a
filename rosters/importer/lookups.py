"""Set-based look-ups of a file's people (STYLE.md §6: one query for the whole file): the suggested
roster, the enrolment registry, the batch's own rows."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from enrollment.models import Batch, EnrollmentCode, HandlerInfo, Unit
from mutualaid.pii import pii_hash_aliases, pii_hash_key_ids_active

from ..models import EnrolmentRegistry, IdType, PreviousEnrolment, RosterEntry, SuggestedPerson, UnionMember
from .people import _Person


# --- look-ups (set-based) --------------------------------------------------------------------------------------


def _unit_keys(batch: Batch) -> list[str]:
    """How the 会员库 knows the unit (SPEC REF-3): its enrollment code or a USCC of its units."""
    code = batch.code
    usccs = {uscc for (uscc,) in _fetch(f"SELECT uscc FROM {_table(Unit)} WHERE code_id = %s AND uscc <> ''", [code.pk])}
    if code.uscc:
        usccs.add(code.uscc)
    return [code.code, *sorted(usccs)]


def _hash_condition(model, hashes: list[str]) -> tuple[str, list]:
    """SQL `<model's table>.id_hash ∈ hashes` and its parameters, all hashes as ONE parameter (see
    the module docstring). Hashes are hex, so the array literal needs no quoting."""
    column = f"{connection.ops.quote_name(model._meta.db_table)}.{connection.ops.quote_name('id_hash')}"
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::varchar[])", ["{" + ",".join(hashes) + "}"]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(hashes)]


def _hash_in(model, hashes: list[str]) -> RawSQL:
    """_hash_condition for .filter()."""
    sql, params = _hash_condition(model, hashes)
    return RawSQL(sql, params, output_field=BooleanField())


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _fetch(sql: str, params: list) -> list[tuple]:
    """The rows of one of the import's look-ups (here and the write's read of the batch's own rows).
    They are written in SQL: they run for every import, inside the web request for a small file,
    and building them with the ORM cost more CPU than running them."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _narrowed(sql: str, params: list, model, hashes: list[str]) -> tuple[str, list]:
    """`sql` (a query scoped to a unit or batch, ending in its WHERE clause) narrowed to `hashes`
    when that is cheaper (SCOPE_INSTEAD_OF_HASHES)."""
    if len(hashes) > SCOPE_INSTEAD_OF_HASHES:
        return sql, params
    condition, hash_params = _hash_condition(model, hashes)
    return f"{sql} AND {condition}", [*params, *hash_params]


# Above this many people, the look-ups scoped to the unit or the batch (last year's list of the code, its
# union members, the batch's own entries) fetch the whole scope instead of passing every hash: the
# scope is bounded by the unit's size, while parsing an array of 50,000 hashes costs the server ~50 ms
# a query. Below it, the hashes are the smaller side.
SCOPE_INSTEAD_OF_HASHES = 2_000


def _hash_aliases(people: list[_Person]) -> dict[str, str] | None:
    """SPEC SEC-10: while a hash rotation runs (more than one active hash key), every active key's
    hash of each person → the person's hash under the current key (the one `_protect` made), for
    look-ups to find rows not re-hashed yet; None otherwise, and nothing is computed."""
    if len(pii_hash_key_ids_active()) < 2:
        return None
    return pii_hash_aliases(person.number for person in people)


def _searched(hashes: list[str], aliases: dict[str, str] | None) -> list[str]:
    """The hashes a look-up of `hashes` (current key) sends: with every active key's during a rotation."""
    if aliases is None:
        return hashes
    wanted = set(hashes)
    return [alias for alias, current in aliases.items() if current in wanted]


def _current(id_hash: str, aliases: dict[str, str] | None) -> str:
    return id_hash if aliases is None else aliases.get(id_hash, id_hash)


class _SuggestedRow(NamedTuple):
    id_hash: str
    ss_name: str
    ss_unit_code: str
    personal_ss_number: str
    work_status: str
    medical_active: bool


@dataclass
class _Found:
    suggested: dict[str, _SuggestedRow]
    previous_names: dict[str, str]
    member_names: dict[str, str]
    # id_hash → (unit name, handler name, handler mobile cipher, holding batch id, name in its roster)
    held: dict[str, tuple[str, str, str, int, str]]


def _look_up(batch: Batch, people: list[_Person], *, member_names: dict | None = None) -> _Found:
    """SPEC ROS-5, ROS-8, ROS-11, ROS-12: everything the rules need, in at most five queries whatever
    the number of people (the suggested roster and the registry by hash; last year's list and the
    会员库 within the unit)."""
    year = batch.coverage_year.year
    resident = [person.id_hash for person in people if person.id_type == IdType.RESIDENT]
    hashes = [person.id_hash for person in people]
    if not hashes:
        return _Found({}, {}, {}, {})
    # SPEC SEC-10: during a hash rotation, rows are found under any active key and known by the
    # person's current hash (one pass over the found rows; nothing at all outside a rotation).
    aliases = _hash_aliases(people)
    suggested = {}
    if resident:
        # Only what the rules use (not the cipher): about half the bytes of suggested_people_by_hash.
        condition, params = _hash_condition(SuggestedPerson, _searched(resident, aliases))
        rows = _fetch(
            f"SELECT id_hash, ss_name, ss_unit_code, personal_ss_number, work_status, medical_active"
            f" FROM {_table(SuggestedPerson)} WHERE {condition} AND year = %s",
            [*params, year],
        )
        new = tuple.__new__
        if aliases is None:
            suggested = {row[0]: new(_SuggestedRow, row) for row in rows}
        else:
            suggested = {aliases[row[0]]: _SuggestedRow(aliases[row[0]], *row[1:]) for row in rows}
    wanted = set(hashes)
    previous_names = {
        _current(id_hash, aliases): name
        for id_hash, name in _fetch(*_narrowed(
            f"SELECT id_hash, name FROM {_table(PreviousEnrolment)} WHERE year = %s AND code = %s",
            [year - 1, batch.code.code], PreviousEnrolment, _searched(hashes, aliases),
        ))
        if _current(id_hash, aliases) in wanted
    }
    if member_names is None:
        member_names = {}
        if resident:
            keys = _unit_keys(batch)
            for id_hash, name in _fetch(*_narrowed(
                f"SELECT id_hash, name FROM {_table(UnionMember)} WHERE year = %s"
                f" AND unit_key IN ({', '.join(['%s'] * len(keys))})",
                [year, *keys], UnionMember, _searched(resident, aliases),
            )):
                if _current(id_hash, aliases) in wanted:
                    member_names.setdefault(_current(id_hash, aliases), name)
    # SPEC ROS-11: the name the holder enrolled comes with each registry row (a correlated look-up
    # on the roster's (batch, id_hash, id_type) index, in the same query: still one query per file).
    registry, roster, batches = _table(EnrolmentRegistry), _table(RosterEntry), _table(Batch)
    codes, handlers = _table(EnrollmentCode), _table(HandlerInfo)
    condition, params = _hash_condition(EnrolmentRegistry, _searched(hashes, aliases))
    held = {
        _current(id_hash, aliases): (unit_name, handler_name or "", handler_mobile_cipher or "", holder_batch, enrolled_name or "")
        for id_hash, unit_name, handler_name, handler_mobile_cipher, holder_batch, enrolled_name in _fetch(
            f"SELECT {registry}.id_hash, {batches}.unit_name, {handlers}.handler_name, {handlers}.handler_mobile_cipher,"
            f" {registry}.batch_id,"
            f" (SELECT holder.name FROM {roster} holder"
            f" WHERE holder.batch_id = {registry}.batch_id AND holder.id_hash = {registry}.id_hash LIMIT 1)"
            f" FROM {registry}"
            f" INNER JOIN {batches} ON {registry}.batch_id = {batches}.id"
            f" INNER JOIN {codes} ON {batches}.code_id = {codes}.id"
            f" LEFT OUTER JOIN {handlers} ON {codes}.id = {handlers}.code_id"
            f" WHERE {condition} AND {registry}.year = %s AND NOT ({registry}.batch_id = %s)",
            [*params, year, batch.pk],
        )
    }
    return _Found(suggested, previous_names, member_names, held)
