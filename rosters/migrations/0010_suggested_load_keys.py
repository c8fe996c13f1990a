"""The suggested roster's two indexes are shaped for a fast load (issue 5: a city's 6,000,000 people
load in under 60 s, and 50,000 of them are looked up by hash in under 0.6 s).

A load builds both indexes of each new partition after its COPY (rosters/reference.py), and that was
about 40 % of the load: 25–28 s for 6,000,000 rows. Three changes, measured on 6,000,000 rows with
512 MB of maintenance_work_mem, each index alone (the loader now builds the two side by side: 6.6–
10.3 s for both, on this shared 2-core machine):

1. The primary key no longer INCLUDEs id_cipher, the largest column (about 70 bytes of base64 a
   row), which no look-up needs: the roster import reads the name, unit code, 个人社保登记号 and
   statuses (rosters/importer.py), suggested_people_by_hash the same; a page that shows a person's
   ID reads the row. The key takes 847 MB instead of 1,285 MB, and 14.5 s to build instead of 21 s.
   The look-up stays an Index Only Scan (migration 0005), on fewer pages.
2. The primary key leads with id_hash: (id_hash, year) instead of (year, id_hash). Within a year's
   partition year is the same in every row, so the sort compared it first for nothing, and could not
   use abbreviated keys (the first 8 bytes of id_hash as an integer: hex digits in the "C" collation
   of 0005), which only work on the leading column: 6.5–6.9 s instead of 12–16.6 s. The key is as
   unique as before (the same two columns), and a look-up probes it for (id_hash, year) alike.
3. The unit index leads with ss_unit_code, in the "C" collation: (ss_unit_code, year) instead of
   (year, ss_unit_code), 3.2–3.6 s instead of 5.9–7.0 s, for the same reason (abbreviated keys need a
   leading column in "C"; in the default collation, C.UTF-8 here, PostgreSQL sorts through strcoll
   without them). Codes are letters, digits and "-" (rosters/reference.py _code), which compare and
   order alike in both collations, and "C" wins over the default collation where the column meets
   another (PostgreSQL's rules for implicit collations), so joins work unchanged. A query filtering
   on the column uses the index as before; an index in another collation than its column's would
   not be used, hence the column's, not only the index's.

Database-level only, like 0005: Django's model state is unchanged (a CompositePrimaryKey ("year",
"id_hash"), Meta.indexes' suggested_year_unit on ["year", "ss_unit_code"], no db_collation), so
`makemigrations --check` stays clean; tests/rosters/test_reference_load.py checks the catalogue. A
later migration that alters these would bring back the model's shape: slower loads, the same results.
The loader builds each new partition's indexes from the parent's definitions in the catalogue, so
that ATTACH adopts them. On PostgreSQL both indexes are rebuilt on every existing partition (about
15 s for a year of 6,000,000 people, the table locked meanwhile). SQLite keeps the model's.
"""
from django.db import migrations

TABLE = "rosters_suggestedperson"
UNIT_INDEX = "suggested_year_unit"  # the model's name (Meta.indexes), kept
COVERED = ("ss_name", "ss_unit_code", "personal_ss_number", "work_status", "medical_active", "birth_date", "sex")

FOR_THE_LOAD = {
    "key": ("id_hash", "year"),
    "included": COVERED,
    "unit_collation": '"C"',
    "unit": ("ss_unit_code", "year"),
}
AS_0005_LEFT_THEM = {
    "key": ("year", "id_hash"),
    "included": ("id_cipher", *COVERED),
    "unit_collation": 'pg_catalog."default"',
    "unit": ("year", "ss_unit_code"),
}


def _shape(schema_editor, *, key, included, unit_collation, unit) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    q = schema_editor.quote_name
    # As the loader's index builds (rosters/reference.py INDEX_BUILD_MEMORY); LOCAL: this migration's
    # transaction only.
    schema_editor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    schema_editor.execute(f"ALTER TABLE {q(TABLE)} DROP CONSTRAINT {q(TABLE + '_pkey')}")
    schema_editor.execute(f"DROP INDEX {q(UNIT_INDEX)}")  # and its partitions' indexes
    # The same type under another collation: no table rewrite, and no index to rebuild once both are gone.
    schema_editor.execute(
        f"ALTER TABLE {q(TABLE)} ALTER COLUMN {q('ss_unit_code')} TYPE varchar(20) COLLATE {unit_collation}"
    )
    schema_editor.execute(
        f"ALTER TABLE {q(TABLE)} ADD CONSTRAINT {q(TABLE + '_pkey')} "
        f"PRIMARY KEY ({', '.join(map(q, key))}) INCLUDE ({', '.join(map(q, included))})"
    )
    schema_editor.execute(f"CREATE INDEX {q(UNIT_INDEX)} ON {q(TABLE)} ({', '.join(map(q, unit))})")


def shape_for_the_load(apps, schema_editor):
    _shape(schema_editor, **FOR_THE_LOAD)


def shape_as_before(apps, schema_editor):
    _shape(schema_editor, **AS_0005_LEFT_THEM)


class Migration(migrations.Migration):
    dependencies = [("rosters", "0009_registry_no_duplicate_batch_index")]

    operations = [migrations.RunPython(shape_for_the_load, shape_as_before)]
