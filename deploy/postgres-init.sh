#!/bin/sh
# docker-compose: the postgres image runs this once, when it creates its data directory (SPEC SEC-9:
# README, 数据库角色). The passwords come from .env.
set -e
psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v database=mutualaid \
  -v owner=mutualaid_owner -v owner_password="$POSTGRES_OWNER_PASSWORD" \
  -v app=mutualaid_app -v app_password="$POSTGRES_APP_PASSWORD" \
  -f /deploy/database-roles.sql
