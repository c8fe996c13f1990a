#!/bin/sh
# SPEC OPS-1: restore a backup of deploy/backup.sh into a new (or empty) database and an empty media folder.
# README: 运维：备份与恢复.
#
#   PGHOST=db PGUSER=postgres deploy/restore.sh /backups/2026-12-06 mutualaid_restored /app/media-restored
#
# Runs as a superuser (the database administrator's PG* variables), in a cluster where the portal's two
# roles exist with the same names (deploy/database-roles.sql makes them; SEC-9). Every object keeps the
# owner it had — tables, sequences and the audit trail's SECURITY DEFINER purge functions the owner
# role, the reference tables the application's role — and every grant and default privilege, because
# pg_restore replays the dump's owners and ACLs (no --no-owner: it would hand the reference tables to
# the restoring role, and the loads' ATTACH/DETACH would then fail for the application). The triggers
# that keep the audit trail append-only are created after the data, as pg_dump orders them.
#
# DATABASE_OWNER (mutualaid_owner) owns the new database; DATABASE_APP_ROLE (mutualaid_app) is given
# CONNECT and TEMPORARY on it, as database-roles.sql does (database-level grants are not in a dump);
# set it empty where the portal has one role. RESTORE_JOBS (2): pg_restore's parallel jobs.
set -eu
backup=${1:?usage: deploy/restore.sh BACKUP_DIR NEW_DATABASE [MEDIA_ROOT]}
database=${2:?usage: deploy/restore.sh BACKUP_DIR NEW_DATABASE [MEDIA_ROOT]}
media=${3:-}
owner=${DATABASE_OWNER-mutualaid_owner}
app=${DATABASE_APP_ROLE-mutualaid_app}
jobs=${RESTORE_JOBS:-2}

(cd "$backup" && sha256sum --check --quiet SHA256SUMS)
if [ -n "$media" ] && [ -d "$media" ] && [ -n "$(ls -A "$media")" ]; then
    echo "restore.sh: $media is not empty" >&2
    exit 1
fi
# Never restored over data: an existing database is used only when its schema holds nothing (one that
# deploy/database-roles.sql has just made on a new server); otherwise it is created here.
exists=$(echo "SELECT 1 FROM pg_database WHERE datname = :'name'" | psql -X -At -v ON_ERROR_STOP=1 -v name="$database" -d postgres)
if [ "$exists" = 1 ]; then
    objects=$(psql -X -At -v ON_ERROR_STOP=1 -d "$database" \
        -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'")
    if [ "$objects" != 0 ]; then
        echo "restore.sh: database $database exists and is not empty" >&2
        exit 1
    fi
else
    createdb --owner="$owner" "$database"
fi
if [ -n "$app" ]; then
    psql -X -q -v ON_ERROR_STOP=1 -d "$database" \
        -c "REVOKE ALL ON DATABASE \"$database\" FROM PUBLIC" \
        -c "GRANT CONNECT, TEMPORARY ON DATABASE \"$database\" TO \"$app\""
fi
pg_restore --exit-on-error --jobs="$jobs" --dbname="$database" "$backup/database.dump"
# A restore brings no planner statistics and no visibility map: without them the reference look-ups
# scan instead of reading the index only (README, 参考数据).
vacuumdb --quiet --analyze --jobs="$jobs" --dbname="$database"
if [ -n "$media" ]; then
    mkdir -p "$media"
    tar -C "$media" -xf "$backup/media.tar"
fi
echo "restore.sh: restored into database $database${media:+ and $media}"
