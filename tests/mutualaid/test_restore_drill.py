"""SPEC OPS-1: the restore drill at small scale — the test database is backed up with deploy/backup.sh,
restored with deploy/restore.sh into a new database, checked (row counts, owners and triggers, the
audit trail's refusal, ID numbers that decrypt and hash back, sealed files, a login) and dropped.

PostgreSQL only: the drill is pg_dump/pg_restore. Under CI=true it must run, never skip."""
import csv
import os
import shutil
import subprocess
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from mutualaid.restore_drill import ROOT, audit_update_refusal, drop_database, restore_drill
from mutualaid.sealed import seal_stream
from rosters.models import RosterEntry, SuggestedPerson
from rosters.reference import reference_load
from tests.factories import UserFactory, make_batch, make_entry

# restore_verify runs in a process of its own: with the tests' settings (their password hasher), as the
# data was written with.
AS_THE_TESTS = {"MUTUALAID_TESTING": "1"}
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _require_postgresql():
    if connection.vendor != "postgresql":
        if IN_CI and os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
            pytest.fail("CI=true with a PostgreSQL DATABASE_URL, yet the tests run on another database")
        pytest.skip("the restore drill is pg_dump/pg_restore: it needs PostgreSQL (DATABASE_URL=postgres://…)")
    missing = [tool for tool in ("pg_dump", "pg_restore", "createdb", "vacuumdb", "psql") if not shutil.which(tool)]
    if missing:
        message = f"the restore drill needs the PostgreSQL client tools: {', '.join(missing)} missing"
        pytest.fail(message) if IN_CI else pytest.skip(message)


def _source_url() -> str:
    settings = connection.settings_dict
    credentials = quote(settings["USER"] or "", safe="")
    if settings["PASSWORD"]:
        credentials += ":" + quote(settings["PASSWORD"], safe="")
    return f"postgres://{credentials}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


def _suggested_roster(path, *, year):
    from rosters.synthetic import FILE_HEADERS, generate_city, unit_rows

    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(FILE_HEADERS["suggested"])
        for unit in generate_city(people=60, units=3, year=year, seed=7):
            writer.writerows(unit_rows(unit)["suggested"])
    return path


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_a_new_database_with_its_rows_keys_triggers_and_logins(
    handbook_year, media_root, tmp_path
):
    # SPEC OPS-1
    _require_postgresql()
    account = UserFactory(username="drill-unit", password="Drill#2026")
    batch = make_batch(account, year=handbook_year)
    for sequence in range(5):
        make_entry(batch, name=f"职工{sequence}")
    reference_load(kind="suggested", path=_suggested_roster(tmp_path / "suggested.csv", year=2023), year=2023)
    (media_root / "private").mkdir(parents=True)
    seal_stream([b"\xe6\x83\x85\xe5\x86\xb5\xe8\xaf\xb4\xe6\x98\x8e" * 10_000], media_root / "private" / "note.pdf")

    target = f"{connection.settings_dict['NAME']}_drill"
    drop_database(_source_url(), target)  # left by an interrupted run
    result = restore_drill(
        source_url=_source_url(), media_root=media_root, target_database=target, workdir=tmp_path / "drill",
        username="drill-unit", password="Drill#2026", owner=connection.settings_dict["USER"] or "postgres",
        samples=10, verify_environment=AS_THE_TESTS,
    )

    assert result.problems == []
    assert result.restored_rows == result.source_rows
    assert result.source_rows["rosters_rosterentry"] == RosterEntry.objects.count() == 5
    suggested = sum(count for name, count in result.source_rows.items() if name.startswith("rosters_suggestedperson"))
    assert suggested == SuggestedPerson.objects.count() == 60  # counted in its year's partition
    assert result.ownership_equal
    assert "append-only" in result.audit_refusal and "UPDATE on auditlog_logentry" in result.audit_refusal
    assert result.verify["ids_checked"]["rosters.RosterEntry"] == 5
    assert result.verify["ids_checked"]["rosters.SuggestedPerson"] == 10
    assert result.verify["sealed_files_checked"] == 1
    assert result.verify["login_ok"] is True
    with connection.cursor() as cursor:  # the copy is dropped
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [target])
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_the_drill_restores_into_an_empty_database_and_reports_a_failed_login_and_an_open_trail(handbook_year, media_root, tmp_path):
    # SPEC OPS-1: the checks can fail — a drill that cannot fail proves nothing.
    _require_postgresql()
    UserFactory(username="drill-unit", password="Drill#2026")
    media_root.mkdir(parents=True)
    target = f"{connection.settings_dict['NAME']}_drill"
    drop_database(_source_url(), target)
    with connection.cursor() as cursor:  # an empty database made beforehand (database-roles.sql) is used
        cursor.execute(f'CREATE DATABASE "{target}"')
    result = restore_drill(
        source_url=_source_url(), media_root=media_root, target_database=target, workdir=tmp_path / "drill",
        username="drill-unit", password="wrong", owner=connection.settings_dict["USER"] or "postgres", keep=True,
        verify_environment=AS_THE_TESTS,
    )
    try:
        assert result.verify["login_ok"] is False
        assert any("restore_verify" in problem for problem in result.problems)
        restored = _source_url().rsplit("/", 1)[0] + f"/{target}"
        with psycopg.connect(restored, autocommit=True) as restored_connection:
            restored_connection.execute("DROP TRIGGER auditlog_logentry_append_only ON auditlog_logentry")
        assert audit_update_refusal(restored) == ""
    finally:
        drop_database(_source_url(), target)


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_database_that_holds_tables_and_a_damaged_backup(media_root, tmp_path):
    # SPEC OPS-1: a restore never writes over data, and never restores a backup whose checksum fails.
    _require_postgresql()
    UserFactory(username="drill-unit")
    media_root.mkdir(parents=True)
    settings = connection.settings_dict
    environment = {
        **os.environ, "DATABASE_URL": _source_url(), "MEDIA_ROOT": str(media_root),
        "PGHOST": settings["HOST"] or "127.0.0.1", "PGPORT": str(settings["PORT"] or 5432),
        "PGUSER": settings["USER"] or "postgres", "DATABASE_APP_ROLE": "",
    }
    if settings["PASSWORD"]:
        environment["PGPASSWORD"] = settings["PASSWORD"]
    backup = tmp_path / "backup"
    subprocess.run(["sh", "deploy/backup.sh", str(backup)], env=environment, cwd=ROOT, check=True, capture_output=True)
    assert sorted(path.name for path in backup.iterdir()) == ["SHA256SUMS", "database.dump", "media.tar"]

    over_live = subprocess.run(["sh", "deploy/restore.sh", str(backup), settings["NAME"]], env=environment, cwd=ROOT,
                               capture_output=True, text=True)
    assert over_live.returncode == 1
    assert f"database {settings['NAME']} exists and is not empty" in over_live.stderr

    with open(backup / "database.dump", "r+b") as dump:
        dump.seek(100)
        dump.write(b"\0\0\0\0")
    damaged = subprocess.run(["sh", "deploy/restore.sh", str(backup), f"{settings['NAME']}_never"], env=environment,
                             cwd=ROOT, capture_output=True, text=True)
    assert damaged.returncode != 0 and "FAILED" in damaged.stdout + damaged.stderr
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [f"{settings['NAME']}_never"])
        assert cursor.fetchone()[0] == 0
