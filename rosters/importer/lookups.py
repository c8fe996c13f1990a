"""Set-based look-ups of a file's people (STYLE.md §6: one query for the whole file): the suggested
roster, the enrolment registry, the batch's own rows."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection
from django.db.models import BooleanField, OuterRef, Subquery
from django.db.models.expressions import RawSQL

from enrollment.models import Batch, Unit
from mutualaid.pii import pii_hash_aliases, pii_hash_key_ids_active

from ..models import EnrolmentRegistry, IdType, PreviousEnrolment, RosterEntry, SuggestedPerson, UnionMember
from .people import _Person


# --- look-ups (set-based) --------------------------------------------------------------------------------------


def _unit_keys(batch: Batch) -> list[str]:
    """How the 会员库 knows the unit (SPEC REF-3): its enrollment code or a USCC of its units."""
    code = batch.code
    usccs = set(Unit.objects.filter(code=code).exclude(uscc="").values_list("uscc", flat=True))
    if code.uscc:
        usccs.add(code.uscc)
    return [code.code, *sorted(usccs)]


def _hash_in(model, hashes: list[str]) -> RawSQL:
    """A condition `<model's table>.id_hash ∈ hashes` with all of them as ONE parameter (see the
    module docstring), for .filter(). Hashes are hex, so the array literal needs no quoting."""
    column = f"{connection.ops.quote_name(model._meta.db_table)}.{connection.ops.quote_name('id_hash')}"
    if connection.vendor == "postgresql":
        return RawSQL(f"{column} = ANY(%s::varchar[])", ["{" + ",".join(hashes) + "}"], output_field=BooleanField())
    return RawSQL(f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(hashes)], output_field=BooleanField())


# Above this many people, the look-ups scoped to the unit or the batch (last year's list of the code, its
# union members, the batch's own entries) fetch the whole scope instead of passing every hash: the
# scope is bounded by the unit's size, while parsing an array of 50,000 hashes costs the server ~50 ms
# a query. Below it, the hashes are the smaller side.
SCOPE_INSTEAD_OF_HASHES = 2_000


def _of_hashes(queryset, model, hashes: list[str]):
    """`queryset` (already scoped to a unit or batch) narrowed to `hashes` when that is cheaper."""
    if len(hashes) > SCOPE_INSTEAD_OF_HASHES:
        return queryset
    return queryset.filter(_hash_in(model, hashes))


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
        rows = (
            SuggestedPerson.objects.filter(_hash_in(SuggestedPerson, _searched(resident, aliases)), year=year)
            .values_list(*_SuggestedRow._fields)
        )
        new = tuple.__new__
        if aliases is None:
            suggested = {row[0]: new(_SuggestedRow, row) for row in rows}
        else:
            suggested = {aliases[row[0]]: _SuggestedRow(aliases[row[0]], *row[1:]) for row in rows}
    wanted = set(hashes)
    previous_names = {
        _current(id_hash, aliases): name
        for id_hash, name in _of_hashes(
            PreviousEnrolment.objects.filter(year=year - 1, code=batch.code.code), PreviousEnrolment, _searched(hashes, aliases)
        ).values_list("id_hash", "name")
        if _current(id_hash, aliases) in wanted
    }
    if member_names is None:
        member_names = {}
        if resident:
            for id_hash, name in _of_hashes(
                UnionMember.objects.filter(year=year, unit_key__in=_unit_keys(batch)), UnionMember, _searched(resident, aliases)
            ).values_list("id_hash", "name"):
                if _current(id_hash, aliases) in wanted:
                    member_names.setdefault(_current(id_hash, aliases), name)
    # SPEC ROS-11: the name the holder enrolled comes with each registry row (a correlated look-up
    # on the roster's (batch, id_hash, id_type) index, in the same query: still one query per file).
    holder_name = RosterEntry.objects.filter(batch=OuterRef("batch_id"), id_hash=OuterRef("id_hash")).values("name")[:1]
    held = {
        _current(id_hash, aliases): (unit_name, handler_name or "", handler_mobile_cipher or "", holder_batch, enrolled_name or "")
        for id_hash, unit_name, handler_name, handler_mobile_cipher, holder_batch, enrolled_name in (
            EnrolmentRegistry.objects.filter(_hash_in(EnrolmentRegistry, _searched(hashes, aliases)), year=year)
            .exclude(batch_id=batch.pk)
            .annotate(enrolled_name=Subquery(holder_name))
            .values_list(
                "id_hash", "batch__unit_name", "batch__code__handler_info__handler_name",
                "batch__code__handler_info__handler_mobile_cipher", "batch_id", "enrolled_name",
            )
        )
    }
    return _Found(suggested, previous_names, member_names, held)
