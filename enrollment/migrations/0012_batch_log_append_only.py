"""SPEC SEC-9: the batches' 操作日志 is append-only for the application's database role, like auditlog's
entries (mutualaid 0009 has the trigger function and says why the owner is the one exception), and
`batch_log_purge(record_years)` is the one path that deletes its rows: SECURITY DEFINER, rows older than
the period only, never a period shorter than 30 years (accounting archives). PostgreSQL only."""
from django.db import migrations

INSTALL = """
CREATE TRIGGER enrollment_batchlog_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON enrollment_batchlog
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

CREATE OR REPLACE FUNCTION batch_log_purge(record_years integer)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    deleted bigint;
BEGIN
    IF record_years IS NULL OR record_years < 30 THEN
        RAISE EXCEPTION 'batch_log_purge: % years are shorter than SPEC SEC-9 allows (30)', record_years
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM enrollment_batchlog WHERE "at" < now() - make_interval(years => record_years);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS batch_log_purge(integer);
DROP TRIGGER IF EXISTS enrollment_batchlog_append_only ON enrollment_batchlog;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0011_batch_log_outlives_batch"),
        ("mutualaid", "0009_audit_append_only"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
