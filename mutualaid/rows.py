"""Models read by a hand-written statement, as the ORM would make them (SPEC OPS-3).

A few statements run on (nearly) every request: the account of the session, the batch of a batch
page. Django compiles each one again every time, which cost more CPU than reading the row. These are
written in SQL; their rows become models as the ORM makes them: each column's converters (the
backend's and the field's, as SQLCompiler.get_converters), then Model.from_db. Tests compare what
they give with the ORM's, field by field.
"""
from functools import cache

from django.db import connection


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
