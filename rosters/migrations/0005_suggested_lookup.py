"""The suggested roster's primary key is made for the look-up by hash (issue 5's goal: 50,000 people
by hash in under 0.6 s against 6,000,000; rosters/reference.py suggested_people_by_hash).

1. The key INCLUDEs the other columns. `suggested_people_by_hash` probes the key (year, id_hash)
   once per person; with the rest of the row only in the heap, each probe also read a heap page:
   about 84,000 page reads for 50,000 people, most of them missing from shared_buffers (0.7–0.9 s).
   With every returned column in the key's leaf tuples, an Index Only Scan (the loader vacuums each
   new partition so that its visibility map allows it) reads about 45,000. INCLUDE columns take no
   part in uniqueness: the key is still (year, id_hash).
2. id_hash compares with the "C" collation. It is 64 hex digits (mutualaid.pii.pii_hash), which
   every collation orders and equates alike, but a collation other than "C" (this server's default
   is C.UTF-8, which PostgreSQL 15 does not recognise as "C") compares through the C library's
   strcoll, and sorts without abbreviated keys. Measured on 6,000,000 rows: building the covering
   key takes 13 s instead of 17 s (the plain key with the default collation took 13 s, so a load
   costs what it did), and the look-up's probes about 25 ms less (of 250 ms). Compared with a column of the default
   collation, "C" wins (PostgreSQL's rules for implicit collations), so joins with other tables'
   id_hash work unchanged.

Both are database-level only: Django's model state (a CompositePrimaryKey, a CharField without
db_collation, which SQLite, having no "C" collation, could not take) is unchanged, so
`makemigrations --check` stays clean; tests/rosters/test_reference_load.py checks that the key and
the collation are in place. A later AlterField of id_hash would bring back the default collation
(slower, still correct). On PostgreSQL the parent's key is replaced, which rebuilds it on every
partition (about 15 s for a year of 6,000,000 people, the table locked meanwhile); the loader
builds each new partition's key from the parent's definition in the catalogue, so that ATTACH
finds it matching. SQLite (the demo) keeps its plain key.
"""
from django.db import migrations

TABLE = "rosters_suggestedperson"
KEY = ("year", "id_hash")
INCLUDED = (
    "id_cipher", "ss_name", "ss_unit_code", "personal_ss_number", "work_status", "medical_active", "birth_date", "sex",
)


def _replace_key(schema_editor, *, collation: str, included: tuple[str, ...]) -> None:
    q = schema_editor.quote_name
    include = f" INCLUDE ({', '.join(q(column) for column in included)})" if included else ""
    # Like the loader's index builds (rosters/reference.py INDEX_BUILD_MEMORY): sorting a year's
    # rows in 64 MB would spill to disk. LOCAL: for the migration's transaction only.
    schema_editor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    schema_editor.execute(f"ALTER TABLE {q(TABLE)} DROP CONSTRAINT {q(TABLE + '_pkey')}")
    # The same type under another collation: no table rewrite, and no index to rebuild once the
    # key is gone (the partitions follow the parent).
    schema_editor.execute(f"ALTER TABLE {q(TABLE)} ALTER COLUMN {q('id_hash')} TYPE varchar(64) COLLATE {collation}")
    schema_editor.execute(
        f"ALTER TABLE {q(TABLE)} ADD CONSTRAINT {q(TABLE + '_pkey')} "
        f"PRIMARY KEY ({', '.join(q(column) for column in KEY)}){include}"
    )


def lookup_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _replace_key(schema_editor, collation='"C"', included=INCLUDED)


def plain_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _replace_key(schema_editor, collation='pg_catalog."default"', included=())


class Migration(migrations.Migration):
    dependencies = [("rosters", "0004_roster_page_indexes")]

    operations = [migrations.RunPython(lookup_key, plain_key)]
