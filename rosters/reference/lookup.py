"""The set-based look-up of the suggested roster by hash (for the roster rules and the importer)."""
from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterable
from typing import NamedTuple

from django.db import connection

from ..models import SuggestedPerson
from .pool import _collector_paused
from .writer import _quote


# --- look-up ---------------------------------------------------------------------------------------


_HASH = re.compile(r"(?:[0-9]{1,2}:)?[0-9a-f]{64}")  # SPEC SEC-10: "<key id>:" unless key id 1


class SuggestedPersonRow(NamedTuple):
    """A suggested-roster person as suggested_people_by_hash returns it: the fields of SuggestedPerson
    under the same names (a test keeps them in step), all but id_cipher. The cipher is the one
    column the primary key does not INCLUDE (migration 0010: its largest column, which no look-up
    needs), so reading it would fetch a heap page per person; a page that shows a person's ID
    reads SuggestedPerson. A tuple, not a model: building 50,000 model instances costs more than
    the query that finds them."""

    year: int
    id_hash: str
    ss_name: str
    ss_unit_code: str
    personal_ss_number: str
    work_status: str
    medical_active: bool
    birth_date: dt.date
    sex: str


def suggested_people_by_hash(*, year: int, id_hashes: Iterable[str]) -> dict[str, SuggestedPersonRow]:
    """The suggested-roster people of `year` among `id_hashes` (pii_hash of normalised IDs), by hash,
    in one set-based query (SPEC SEC-10: while a hash rotation runs, pass the keys of
    mutualaid.pii.pii_hash_aliases and map the result's hashes through it): `= ANY(array)` on PostgreSQL, chunks within SQLite's parameter limit
    elsewhere. People not in the roster, and values that are no hash at all, are absent from the
    result.

    On PostgreSQL (the goal: 50,000 people against a city's 6,000,000 in under 0.6 s) the query
    reads the year's partition by its primary key, which INCLUDEs every column returned (migrations
    0005, 0010): an Index Only Scan, one leaf page per person and no heap page, the loader having
    set the visibility map (COPY FREEZE). That halves the pages read (about 45,000 instead of 84,000 for 50,000 people
    against 6,000,000, most of them outside shared_buffers) and is most of the gain; the rest are
    measured trims of a few tens of milliseconds each, noted where they are made.
    """
    hashes = _distinct_hashes(id_hashes)
    if not hashes:
        return {}
    fields = SuggestedPersonRow._fields
    if connection.vendor == "postgresql":
        model = SuggestedPerson
        columns = ", ".join(_quote(model._meta.get_field(name).column) for name in fields)
        with _server_cursor() as cursor:
            # One array value, not a list: a list would become 50,000 parameters for the server
            # to handle one by one; hex needs no quoting inside the array literal. The sub-select
            # hides the array from the planner, which would otherwise estimate each of its 50,000
            # elements (12 ms) to arrive at the same plan; not knowing the size, it can only
            # choose to probe the key. The hashes come sorted (_distinct_hashes): the index scan
            # sorts its array to probe the key in order, and finds it sorted in one pass.
            cursor.execute(
                f"SELECT {columns} FROM {_quote(model._meta.db_table)} "
                "WHERE year = %s AND id_hash = ANY((SELECT %s::varchar[])::varchar[])",
                [year, "{" + ",".join(hashes) + "}"],
            )
            # 50,000 new tuples and no cycle: the collector would only walk them (about 0.1 s).
            with _collector_paused():
                new = tuple.__new__
                return {row[1]: new(SuggestedPersonRow, row) for row in cursor.fetchall()}
    size = max(1, (connection.features.max_query_params or 999) - 1)
    found: dict[str, SuggestedPersonRow] = {}
    for start in range(0, len(hashes), size):
        rows = SuggestedPerson.objects.filter(year=year, id_hash__in=hashes[start : start + size]).values_list(*fields)
        found.update((row[1], SuggestedPersonRow._make(row)) for row in rows)
    return found


def _distinct_hashes(values: Iterable[str]) -> list[str]:
    """The distinct values that are pii_hash values (64 lower-case hex digits, after "<key id>:"
    for key ids other than 1), sorted.

    The usual case, all of them hashes, is recognised by a few passes in C over all of them (about
    10 ms for 50,000, where a regular expression per value takes 30 ms): every value is a string
    of 64 characters, and their concatenation holds hex digits only. Anything else is sorted out
    one value at a time. Sorting costs 11 ms and saves the server 30 ms (suggested_people_by_hash):
    hex digits (and ":") compare alike in Python and in the "C" collation of the key."""
    distinct = list(dict.fromkeys(values))
    digits = None
    try:
        # SPEC SEC-10: the hashes of one key share its prefix ("" for key id 1, else "<id>:"): the
        # usual case is all of one key, of one length, with one prefix in front of the hex digits.
        if len(set(map(len, distinct))) == 1 and len(distinct[0]) >= 64:
            prefix = distinct[0][:-64]
            if _HASH.fullmatch(prefix + "0" * 64) and all(value.startswith(prefix) for value in distinct):
                digits = "".join(value[len(prefix) :] for value in distinct).encode("ascii")
    except (TypeError, UnicodeEncodeError, AttributeError):
        digits = None
    if digits is None or digits.translate(None, b"0123456789abcdef"):
        distinct = [value for value in distinct if isinstance(value, str) and _HASH.fullmatch(value)]
    distinct.sort()
    return distinct


@contextlib.contextmanager
def _server_cursor():
    """A Django cursor (queries counted and logged as usual, the SQL with $1, $2… where the values
    go) whose parameters travel apart from the SQL text (PostgreSQL's extended protocol). Django's
    own cursors bind parameters in the client, which for a look-up puts 3 MB of hashes into the
    statement text for the server to scan: about 25 ms of 0.5 s, measured."""
    import psycopg  # the PostgreSQL driver; imported only where PostgreSQL is used

    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = psycopg.Cursor(connection.connection)
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with cursor:
        yield cursor
