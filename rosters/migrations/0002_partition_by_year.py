"""On PostgreSQL, the four reference tables become LIST-partitioned by year (ARCHITECTURE.md "Bulk
data"): a load COPYs a year into an unindexed staging table, indexes it and swaps it in with
DETACH/ATTACH in one short transaction (rosters/reference.py).

Each table keeps its name, columns, CHECK constraints, primary key and Meta indexes (the indexes
become partitioned indexes with the same names), so Django's model state is unchanged and
`makemigrations --check` stays clean. A DEFAULT partition takes rows of years that have no
partition of their own (rows the portal writes through the ORM, or tests), so an INSERT never fails
for want of a partition; a load of that year moves them out (rosters/reference.py).

SQLite (the demo) has no partitions: there the migration does nothing.
"""
from django.db import migrations

MODELS = ("SuggestedPerson", "SsUnit", "UnionMember", "PreviousEnrolment")


def _quote(schema_editor, name: str) -> str:
    return schema_editor.quote_name(name)


def _add_keys(schema_editor, model, table: str) -> None:
    """The primary key and the Meta indexes, under the names Django gave them on the plain table."""
    q = lambda name: _quote(schema_editor, name)  # noqa: E731
    pk_columns = ", ".join(q(field.column) for field in model._meta.pk_fields)
    schema_editor.execute(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(table + '_pkey')} PRIMARY KEY ({pk_columns})")
    for index in model._meta.indexes:
        columns = ", ".join(q(model._meta.get_field(name).column) for name in index.fields)
        schema_editor.execute(f"CREATE INDEX {q(index.name)} ON {q(table)} ({columns})")


def _rebuild(schema_editor, model, *, partitioned: bool) -> None:
    """Replace `model`'s table by a partitioned (or, going back, a plain) one with the same data."""
    q = lambda name: _quote(schema_editor, name)  # noqa: E731
    table = model._meta.db_table
    old = f"{table}__old"
    schema_editor.execute(f"ALTER TABLE {q(table)} RENAME TO {q(old)}")
    # The old table's key and indexes hold the names the new table must carry: drop them first
    # (the data stays; it is copied below).
    for index in model._meta.indexes:
        schema_editor.execute(f"DROP INDEX {q(index.name)}")
    schema_editor.execute(f"ALTER TABLE {q(old)} DROP CONSTRAINT {q(table + '_pkey')}")
    partition_clause = " PARTITION BY LIST (year)" if partitioned else ""
    schema_editor.execute(
        f"CREATE TABLE {q(table)} (LIKE {q(old)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS){partition_clause}"
    )
    _add_keys(schema_editor, model, table)
    if partitioned:
        schema_editor.execute(f"CREATE TABLE {q(table + '_default')} PARTITION OF {q(table)} DEFAULT")
    schema_editor.execute(f"INSERT INTO {q(table)} SELECT * FROM {q(old)}")
    # Going back, the old table is partitioned: dropping it drops its partitions too.
    schema_editor.execute(f"DROP TABLE {q(old)}")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in MODELS:
        _rebuild(schema_editor, apps.get_model("rosters", name), partitioned=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in MODELS:
        _rebuild(schema_editor, apps.get_model("rosters", name), partitioned=False)


class Migration(migrations.Migration):
    dependencies = [("rosters", "0001_reference_data")]

    operations = [migrations.RunPython(partition, unpartition)]
