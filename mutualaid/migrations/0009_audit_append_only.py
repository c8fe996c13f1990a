"""SPEC SEC-9: the audit trail is append-only for the application's database role.

On PostgreSQL (nothing happens on SQLite, the demo database):
- `audit_refuse_change()`, a trigger function that refuses UPDATE, DELETE and TRUNCATE on the table it
  guards unless the current role owns that table. The application connects as a role that does not
  own the tables (README, 数据库角色), so it can only insert; the owner is the role that runs the
  migrations and owns the purge functions. A session-local setting would not do as the "key": any
  role may SET a custom setting, but no role can become the owner without its password.
- the trigger on auditlog's entries (access, export, look-up and denial records; every change) and on
  the admin's history (django_admin_log: the back office's review decisions, password resets, unlocks).
- `audit_purge_entries(access_years, record_years)`, the one path that deletes entries (the admin's
  history counts as change records): SECURITY
  DEFINER, so it runs as its owner (the tables' owner) whoever calls it, and deletes only entries
  older than the given periods, which it refuses to shorten below SPEC SEC-9's (3 and 30 years), so
  a caller with the application's credentials cannot purge anything younger. Any role may execute it.

The batches' 操作日志 gets the same trigger and its own purge function in enrollment's migrations.
"""
from django.db import migrations

TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
        RETURN NULL;  -- the owner: migrations and the SECURITY DEFINER purge functions
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused for role % (SPEC SEC-9)',
        TG_OP, TG_TABLE_NAME, current_user
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

# One check per statement, not per row: cheap for the purge, and an UPDATE or DELETE that would match
# no row is refused just the same.
LOG_ENTRY_TRIGGER = """
CREATE TRIGGER auditlog_logentry_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON auditlog_logentry
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER django_admin_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON django_admin_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
"""

# auditlog's action 3 is ACCESS (LogEntry.Action.ACCESS): access, export, look-up and denial records.
PURGE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_purge_entries(access_years integer, record_years integer)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    access_deleted bigint;
    record_deleted bigint;
    history_deleted bigint;
BEGIN
    IF access_years IS NULL OR record_years IS NULL OR access_years < 3 OR record_years < 30 THEN
        RAISE EXCEPTION 'audit_purge_entries: % and % years are shorter than SPEC SEC-9 allows (3 and 30)',
            access_years, record_years
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM auditlog_logentry
        WHERE action = 3 AND "timestamp" < now() - make_interval(years => access_years);
    GET DIAGNOSTICS access_deleted = ROW_COUNT;
    DELETE FROM auditlog_logentry
        WHERE action <> 3 AND "timestamp" < now() - make_interval(years => record_years);
    GET DIAGNOSTICS record_deleted = ROW_COUNT;
    DELETE FROM django_admin_log WHERE action_time < now() - make_interval(years => record_years);
    GET DIAGNOSTICS history_deleted = ROW_COUNT;
    RETURN access_deleted + record_deleted + history_deleted;
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS audit_purge_entries(integer, integer);
DROP TRIGGER IF EXISTS auditlog_logentry_append_only ON auditlog_logentry;
DROP TRIGGER IF EXISTS django_admin_log_append_only ON django_admin_log;
DROP FUNCTION IF EXISTS audit_refuse_change();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_FUNCTION, params=None)
        schema_editor.execute(LOG_ENTRY_TRIGGER, params=None)
        schema_editor.execute(PURGE_FUNCTION, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("mutualaid", "0008_sealed_files"),
        ("auditlog", "0017_add_actor_email"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
