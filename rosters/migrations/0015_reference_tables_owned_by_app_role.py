"""SPEC SEC-9: the application connects as a role that owns no table (README, 数据库角色), except the
reference data's. A reference load swaps a year's partition in (CREATE TABLE, ATTACH / DETACH
PARTITION, DROP TABLE: migration 0002, rosters/reference/writer.py), which PostgreSQL allows only to the
tables' owner, so the four reference tables and their partitions are handed to the application's role
named by DATABASE_APP_ROLE (nothing happens without it: the demo, the tests). They hold no audit rows; a
load is audited as one event (ReferenceLoad, auditlog). The owner role, a member of the application's
role (database-roles.sql), still alters them in later migrations."""
from django.conf import settings
from django.db import migrations

MODELS = ("SuggestedPerson", "SsUnit", "UnionMember", "PreviousEnrolment")


def hand_over(apps, schema_editor):
    role = settings.DATABASE_APP_ROLE
    if schema_editor.connection.vendor != "postgresql" or not role:
        return
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        for name in MODELS:
            table = apps.get_model("rosters", name)._meta.db_table
            cursor.execute(
                "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass", [table]
            )
            for relation in [quote(table), *(row[0] for row in cursor.fetchall())]:
                schema_editor.execute(f"ALTER TABLE {relation} OWNER TO {quote(role)}", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("rosters", "0014_roster_entry_drop_plain_mobile"),
    ]

    operations = [migrations.RunPython(hand_over, migrations.RunPython.noop)]
