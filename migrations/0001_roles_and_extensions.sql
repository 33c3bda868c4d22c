-- Foundation: extensions, the group roles the whole security model rests on, and the
-- owner role every later migration creates its objects as.
--
-- Runs as the migrating login (a superuser, or a DBA login with CREATEROLE that owns the
-- database). Roles are cluster-wide while this migration runs once per database, so
-- every statement here is idempotent and tolerates a concurrent run in another database.
--
--   eio_owner     NOLOGIN. Owns every table and function. Nobody connects as it; the
--                 SECURITY DEFINER functions run as it.
--   eio_viewer    read inventory, IPAM, jobs, reports. No credential ciphertext.
--   eio_operator  viewer + submit jobs, plan IPAM, acknowledge findings, run reports.
--   eio_approver  operator + approve/deny other people's jobs.
--   eio_admin     approver + users, sources, service identities, sites, kill switch off.
--   eio_worker    the engine: reads ciphertext, writes inventory, advances jobs.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gist;

DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['eio_owner', 'eio_viewer', 'eio_operator', 'eio_approver', 'eio_admin', 'eio_worker']
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created concurrently by a migration of another database
            END;
        END IF;
    END LOOP;
END
$roles$;

-- Role hierarchy: each group role is a member of the one below it.
DO $members$
DECLARE
    pair text[];
BEGIN
    FOREACH pair SLICE 1 IN ARRAY ARRAY[
        ARRAY['eio_viewer', 'eio_operator'],
        ARRAY['eio_operator', 'eio_approver'],
        ARRAY['eio_approver', 'eio_admin'],
        ARRAY['eio_viewer', 'eio_worker']
    ]
    LOOP
        IF NOT pg_has_role(pair[2], pair[1], 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT %I TO %I', pair[1], pair[2]);
            EXCEPTION WHEN unique_violation OR duplicate_object THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$members$;

-- The migrating login must be able to SET ROLE eio_owner; a superuser already can.
DO $owner$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, 'eio_owner', 'MEMBER') THEN
        EXECUTE format('GRANT eio_owner TO %I', current_user);
    END IF;
EXCEPTION WHEN unique_violation THEN
    NULL;
END
$owner$;

GRANT USAGE, CREATE ON SCHEMA public TO eio_owner;
GRANT USAGE ON SCHEMA public TO eio_viewer, eio_worker;
-- Humans and workers never create objects of their own in the shared schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Later migrations run `SET LOCAL ROLE eio_owner` and sqlx records each of them in its
-- ledger inside the same transaction.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE _sqlx_migrations TO eio_owner;
-- `eio status` shows everyone the schema version.
GRANT SELECT ON TABLE _sqlx_migrations TO eio_viewer;

-- PostgreSQL grants EXECUTE on every new function to PUBLIC; ours are granted one by one.
ALTER DEFAULT PRIVILEGES FOR ROLE eio_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Shared helper: keep updated_at honest without every UPDATE having to remember it.
SET LOCAL ROLE eio_owner;

CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
