-- EIO's advisory locks are taken only by EIO's own functions.
--
-- PostgreSQL grants the pg_advisory_* functions to PUBLIC, so any login with psql could
-- hold a lock EIO serializes on and keep it: 'eio:lease_jobs' (no job is leased),
-- a prefix's lock (nothing is allocated from it), the VM-count fold or a vCenter's count
-- lock (its sync's writes wait), the findings run or site inference. Not a way to do
-- anything unsafe, but a way for the weakest login to stop the engine.
--
-- restrict_advisory_locks() takes EXECUTE on every lock-taking advisory function from
-- PUBLIC and gives it to eio_owner: the SECURITY DEFINER functions run as it, and the
-- migrating login is a member of it (sqlx takes its migration lock as that login). Only
-- a superuser can change the grants of pg_catalog's functions: it runs with its caller's
-- rights and refuses (42501) anyone else. This migration calls it when the migrating
-- login is a superuser (always for the embedded database); otherwise `eio status` warns,
-- and `eio migrate` run later by a superuser calls it.
--
-- The one lock taken with the caller's rights was a prefix's (allocate_ip and
-- allocate_prefix run as the operator): ipam_lock_prefix() now runs as the owner.
SET LOCAL ROLE eio_owner;

CREATE OR REPLACE FUNCTION ipam_lock_prefix(p_prefix uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT pg_advisory_xact_lock(hashtextextended('eio:ipam:prefix:' || p_prefix::text, 0))
$$;

-- How many advisory lock functions PUBLIC may still execute (0: restricted).
CREATE FUNCTION advisory_locks_open_to_public() RETURNS integer
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT count(*)::integer FROM pg_catalog.pg_proc p
    WHERE p.pronamespace = 'pg_catalog'::regnamespace
      AND p.proname IN ('pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_try_advisory_lock',
                        'pg_try_advisory_lock_shared', 'pg_advisory_xact_lock', 'pg_advisory_xact_lock_shared',
                        'pg_try_advisory_xact_lock', 'pg_try_advisory_xact_lock_shared')
      AND has_function_privilege('public', p.oid, 'EXECUTE')
$$;
GRANT EXECUTE ON FUNCTION advisory_locks_open_to_public() TO eio_viewer;

-- Restrict them (a superuser only); returns how many functions were open to PUBLIC.
CREATE FUNCTION restrict_advisory_locks() RETURNS integer
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    f regprocedure;
    opened integer := advisory_locks_open_to_public();
BEGIN
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'only a superuser can restrict the advisory lock functions (% is not one)', current_user
            USING ERRCODE = '42501';
    END IF;
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace
          AND p.proname IN ('pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_try_advisory_lock',
                            'pg_try_advisory_lock_shared', 'pg_advisory_xact_lock', 'pg_advisory_xact_lock_shared',
                            'pg_try_advisory_xact_lock', 'pg_try_advisory_xact_lock_shared')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO eio_owner', f);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
    RETURN opened;
END
$$;

-- As the migrating login: restrict now if it is a superuser.
RESET ROLE;
SELECT restrict_advisory_locks() WHERE (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
