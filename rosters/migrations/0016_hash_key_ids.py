"""SPEC SEC-10: a hash carries its key's id ("2:" + 64 hex digits; the bare 64 digits are key id 1),
so id_hash widens from 64 to 72 characters.

On PostgreSQL the column keeps the collation it has (migration 0005 made the suggested roster's
"C", which the model does not state): a plain AlterField would bring back the default collation
and rebuild the key. Widening a varchar under the same collation rewrites neither the tables nor
their indexes, partitions included, so this is instant whatever the size of the reference data.
SQLite does not enforce the length: only the state changes there."""
from django.db import migrations, models

TABLES = (
    "rosters_suggestedperson",
    "rosters_unionmember",
    "rosters_previousenrolment",
    "rosters_rosterentry",
    "rosters_enrolmentregistry",
)
MODELS = ("suggestedperson", "unionmember", "previousenrolment", "rosterentry", "enrolmentregistry")


def _widen(length: int):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        q = schema_editor.quote_name
        with schema_editor.connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(
                    "SELECT collation_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = %s AND column_name = 'id_hash'",
                    [table],
                )
                collation = cursor.fetchone()[0]
                collate = f' COLLATE "{collation}"' if collation else ""
                cursor.execute(f"ALTER TABLE {q(table)} ALTER COLUMN {q('id_hash')} TYPE varchar({length}){collate}")

    return run


class Migration(migrations.Migration):
    dependencies = [("rosters", "0015_reference_tables_owned_by_app_role")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(_widen(72), _widen(64))],
            state_operations=[
                migrations.AlterField(model_name=name, name="id_hash", field=models.CharField(max_length=72)) for name in MODELS
            ],
        )
    ]
