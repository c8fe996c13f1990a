-- SPEC SEC-9: the portal's two PostgreSQL roles and its database (README, 数据库角色).
--
--   owner  owns the database, its schema and every table; migrations run as it (DATABASE_URL of the
--          `migrate` step only) and it owns the audit trail's purge functions. Never given to the
--          web, worker or beat processes.
--   app    what the portal connects as (DATABASE_URL): SELECT, INSERT, UPDATE, DELETE on the tables
--          and USAGE on the sequences, through default privileges, so every table a migration
--          creates later is covered; owns nothing but the reference data's tables (rosters 0015) and
--          the partitions its loads create. The audit tables' triggers refuse it UPDATE, DELETE and
--          TRUNCATE.
--
-- Run as a superuser, with psql variables; safe to run again (roles and database are kept, the
-- passwords and grants set again):
--   psql -v ON_ERROR_STOP=1 -v database=mutualaid -v owner=mutualaid_owner -v owner_password=… \
--        -v app=mutualaid_app -v app_password=… -f deploy/database-roles.sql
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I', :'owner') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
ALTER ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'owner_password';
ALTER ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'app_password';
-- The owner may act on what the application's role owns (the reference tables: later migrations
-- alter them); never the other way round.
GRANT :"app" TO :"owner";

SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'owner')
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
ALTER DATABASE :"database" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"app";

\connect :"database"
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
-- CREATE: a reference load creates its staging table, then swaps it in as the year's partition.
GRANT USAGE, CREATE ON SCHEMA public TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"app";
-- Tables made before this script ran (an existing database: see README for handing them to the owner).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
