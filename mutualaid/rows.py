"""Models read by a hand-written statement, as the ORM would make them (SPEC OPS-3).

A few statements run on (nearly) every request: the account of the session, the unit's first code,
the batch of a batch page. Django compiles each one again every time, which cost more CPU than reading
the row, and PostgreSQL planned each one again every time, which cost it several times what executing
it does. These are written in SQL (fetch_row: prepared once per database connection on PostgreSQL);
their rows become models as the ORM makes them: each column's converters (the backend's and the
field's, as SQLCompiler.get_converters), then Model.from_db. Tests compare what they give with the
ORM's, field by field.
"""
import weakref
from functools import cache

from django.db import connection

_prepared = weakref.WeakKeyDictionary()  # a database connection → the names prepared on it


def fetch_row(name: str, sql: str, params: list, types: tuple[str, ...]):
    """The first row of `sql` (one %s per parameter, no other %) or None. On PostgreSQL the statement
    is prepared the first time a database connection runs it (PREPARE name(types) AS …) and executed
    by name afterwards: after five runs PostgreSQL keeps one plan for it instead of planning it for
    every request. A new connection (CONN_MAX_AGE, a restart of the database) prepares it again.
    Prepared statements outlive a rolled-back transaction, as this bookkeeping assumes."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(sql, params)
            return cursor.fetchone()
        raw = connection.connection
        names = _prepared.setdefault(raw, set())
        if name not in names:
            # Sent on the driver's connection: bookkeeping of the connection, not a statement of the
            # request (the pages' statement budgets count what a request asks, whichever request is
            # the connection's first).
            numbered = sql % tuple(f"${number}" for number in range(1, len(params) + 1))
            raw.execute(f"PREPARE {name}({', '.join(types)}) AS {numbered}")
            names.add(name)
        cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})", params)
        return cursor.fetchone()


@cache
def joined_columns(models_and_aliases, vendor: str) -> tuple[str, list]:
    """The select list of several models joined under their aliases, and per model its field names and
    each column's converters; once per process and database vendor."""
    quote = connection.ops.quote_name
    columns, layout = [], []
    for model, alias in models_and_aliases:
        fields = model._meta.concrete_fields
        columns += [f"{alias}.{quote(field.column)}" for field in fields]
        cols = [field.get_col(model._meta.db_table) for field in fields]
        converters = [connection.ops.get_db_converters(col) + col.get_db_converters(connection) for col in cols]
        layout.append((model, [field.attname for field in fields], list(zip(cols, converters))))
    return ", ".join(columns), layout


def instances_of(row, layout) -> list:
    """One model per entry of `layout` (joined_columns) from a row of its select list."""
    instances, start = [], 0
    for model, names, converters in layout:
        values = list(row[start:start + len(names)])
        start += len(names)
        for index, (col, column_converters) in enumerate(converters):
            for converter in column_converters:
                values[index] = converter(values[index], col, connection)
        instances.append(model.from_db(connection.alias, names, values))
    return instances
