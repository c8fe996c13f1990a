#!/bin/sh
# SPEC OPS-1: restore a backup of deploy/backup.sh into a new, empty database and an empty media folder.
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
# createdb refuses a name that exists: never restored over live data.
createdb --owner="$owner" "$database"
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
