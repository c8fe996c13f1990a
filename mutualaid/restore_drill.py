"""SPEC OPS-1: the restore drill. Backs a PostgreSQL database and a media folder up with
deploy/backup.sh, restores them with deploy/restore.sh into a new database and folder, and checks the
copy against the source:

- every table has as many rows as the source's (leaf tables: a partitioned table's rows are counted
  once, in its partitions);
- every table, sequence and function has the same owner (the audit trail's SECURITY DEFINER purge
  functions must stay the owner role's), every trigger is there, and the audit trail still refuses an
  UPDATE from a role that does not own it (SEC-9);
- from inside the restored portal (`manage.py restore_verify` in a process configured with the new
  database, the new media folder and the same keys): ID numbers decrypt and hash back, sealed files
  open, and an account logs in.

The scripts are the ones the README gives operators, so the drill tests them too. It runs as a
superuser of the cluster (it creates and drops the database); with `keep=False` it drops the copy."""
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent


class RestoreDrillError(Exception):
    pass


@dataclass
class DrillResult:
    source_rows: dict[str, int]
    restored_rows: dict[str, int]
    backup_seconds: float
    restore_seconds: float
    verify_seconds: float
    dump_bytes: int
    media_bytes: int
    ownership_equal: bool
    audit_refusal: str
    verify: dict
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def database_url(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def table_counts(url: str) -> dict[str, int]:
    """Exact row counts of every ordinary table (partitions included, partitioned parents not) in the
    public schema."""
    with psycopg.connect(url) as connection:
        names = [row[0] for row in connection.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname"
        )]
        return {
            name: connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))).fetchone()[0]
            for name in names
        }


def ownership(url: str) -> dict[str, list]:
    """Who owns what, and which triggers exist: what a restore must keep for SEC-9 to hold."""
    with psycopg.connect(url) as connection:
        def rows(query):
            return sorted(tuple(row) for row in connection.execute(query))

        return {
            "relations": rows(
                "SELECT c.relname, c.relkind::text, pg_get_userbyid(c.relowner) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v')"
            ),
            "functions": rows(
                "SELECT p.proname, pg_get_userbyid(p.proowner), p.prosecdef FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
            ),
            "triggers": rows(
                "SELECT t.tgname, t.tgrelid::regclass::text FROM pg_trigger t"
                " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND NOT t.tgisinternal"
            ),
            "schema": rows("SELECT nspname, pg_get_userbyid(nspowner), coalesce(nspacl, acldefault('n', nspowner))::text"
                           " FROM pg_namespace"
                           " WHERE nspname = 'public'"),
            "default_privileges": rows("SELECT pg_get_userbyid(defaclrole), defaclobjtype::text, defaclacl::text"
                                       " FROM pg_default_acl"),
            "grants": rows(
                # No ACL means the owner's default one, which is how pg_restore leaves an ACL equal to it.
                "SELECT c.relname, coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\","
                " c.relowner))::text FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S')"
            ),
        }


def audit_update_refusal(url: str, *, role: str = "") -> str:
    """The error the restored audit trail gives an UPDATE from `role` (the application's role, with the
    grants it was restored with), or, where the portal has one role, from a probe role made, granted
    UPDATE and used inside the transaction. The transaction is rolled back (CREATE ROLE is
    transactional), so nothing is left behind. Empty when the UPDATE was allowed."""
    with psycopg.connect(url) as connection:
        try:
            if not role:
                role = "restore_drill_probe"
                connection.execute("CREATE ROLE restore_drill_probe NOLOGIN")
                connection.execute("GRANT USAGE ON SCHEMA public TO restore_drill_probe")
                connection.execute("GRANT SELECT, UPDATE ON auditlog_logentry TO restore_drill_probe")
            connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            try:
                with connection.transaction():  # a savepoint: the refusal aborts only it
                    connection.execute("UPDATE auditlog_logentry SET changes_text = changes_text")
            except psycopg.errors.InsufficientPrivilege as error:  # the trigger's refusal (SEC-9)
                return str(error).splitlines()[0]
            return ""
        finally:
            connection.rollback()


def _run(command: list[str], *, env: dict) -> str:
    finished = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RestoreDrillError(f"{' '.join(command[:2])} failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    return finished.stdout


def drop_database(url: str, name: str) -> None:
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def restore_drill(
    *, source_url: str, media_root: Path, target_database: str, workdir: Path, username: str, password: str,
    owner: str, app_role: str = "", samples: int = 100, keep: bool = False, jobs: int = 2,
    verify_environment: dict[str, str] | None = None,
) -> DrillResult:
    """Backs `source_url` and `media_root` up into `workdir/backup`, restores them into
    `target_database` (which must not exist) and `workdir/media`, and checks the copy (module
    docstring). `source_url` is a superuser's; `owner` and `app_role` are the portal's roles (README,
    数据库角色) — in a single-role database (the tests') `owner` is that role and `app_role` empty.
    `verify_environment`: more settings for restore_verify's process (the keys come from this
    process's environment, as the portal's own do)."""
    parts = urlsplit(source_url)
    target_url = database_url(source_url, target_database)
    backup, restored_media = workdir / "backup", workdir / "media"
    environment = {
        **os.environ, "DATABASE_URL": source_url, "MEDIA_ROOT": str(media_root),
        "PGHOST": parts.hostname or "", "PGPORT": str(parts.port or 5432), "PGUSER": parts.username or "",
        "DATABASE_OWNER": owner, "DATABASE_APP_ROLE": app_role, "RESTORE_JOBS": str(jobs),
    }
    if parts.password:
        environment["PGPASSWORD"] = parts.password
    source_rows = table_counts(source_url)
    source_owners = ownership(source_url)

    started = time.perf_counter()
    _run(["sh", "deploy/backup.sh", str(backup)], env=environment)
    backup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    _run(["sh", "deploy/restore.sh", str(backup), target_database, str(restored_media)], env=environment)
    restore_seconds = time.perf_counter() - started
    try:
        restored_rows = table_counts(target_url)
        ownership_equal = ownership(target_url) == source_owners
        refusal = audit_update_refusal(target_url, role=app_role)
        started = time.perf_counter()
        restored_environment = {
            **environment, **(verify_environment or {}), "DATABASE_URL": target_url, "MEDIA_ROOT": str(restored_media)
        }
        finished = subprocess.run(
            [sys.executable, "manage.py", "restore_verify", "--username", username, "--password", password,
             "--samples", str(samples)],
            env=restored_environment, cwd=ROOT, capture_output=True, text=True,
        )
        verify_seconds = time.perf_counter() - started
        lines = finished.stdout.strip().splitlines()
        try:
            verify = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise RestoreDrillError(f"restore_verify gave no result:\n{finished.stderr[-3000:]}") from None
    finally:
        if not keep:
            drop_database(source_url, target_database)

    problems = []
    if restored_rows != source_rows:
        differing = sorted(name for name in source_rows.keys() | restored_rows.keys()
                           if source_rows.get(name) != restored_rows.get(name))
        problems.append(f"row counts differ: {', '.join(differing)}")
    if not ownership_equal:
        problems.append("owners, grants or triggers differ from the source's")
    if "append-only" not in refusal:
        problems.append("the restored audit trail accepted an UPDATE from a role that does not own it")
    if not verify.get("ok"):
        problems.append(f"restore_verify: {verify.get('problems')}")
    return DrillResult(
        source_rows=source_rows, restored_rows=restored_rows, backup_seconds=backup_seconds,
        restore_seconds=restore_seconds, verify_seconds=verify_seconds,
        dump_bytes=(backup / "database.dump").stat().st_size, media_bytes=(backup / "media.tar").stat().st_size,
        ownership_equal=ownership_equal, audit_refusal=refusal, verify=verify, problems=problems,
    )
