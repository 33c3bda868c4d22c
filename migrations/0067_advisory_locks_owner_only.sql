-- EIO's advisory locks are taken only by EIO's own functions.
--
-- PostgreSQL grants the pg_advisory_* functions to PUBLIC, so any login with psql could
-- hold a lock EIO serializes on and keep it: 'eio:lease_jobs' (no job is leased),
-- a prefix's lock (nothing is allocated from it), the VM-count fold or a vCenter's count
-- lock (its sync's writes wait), the findings run or site inference. Not a way to do
-- anything unsafe, but a way for the weakest login to stop the engine.
--
-- Every lock-taking advisory function is taken from PUBLIC and from the EIO group roles
-- and given to eio_owner: the SECURITY DEFINER functions run as it, and the migrating
-- login is a member of it (sqlx takes its migration lock as that login). Only a superuser
-- can change the grants of pg_catalog's functions: this migration does it when the
-- migrating login is one (always for the embedded database); otherwise `eio status`
-- warns, and `eio migrate` run later by a superuser does it (the same statements, from
-- the binary: src-tauri/core/src/db/advisory.rs).
--
-- The one lock taken with the caller's rights was a prefix's (allocate_ip and
-- allocate_prefix run as the operator): ipam_lock_prefix() now runs as the owner. And
-- vm_counts_rebuild(), which `eio migrate` calls, runs as the owner too: called by a
-- superuser, a function running with its caller's rights would run whatever a member of
-- eio_owner had put in it with the superuser's.
SET LOCAL ROLE eio_owner;

CREATE OR REPLACE FUNCTION ipam_lock_prefix(p_prefix uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT pg_advisory_xact_lock(hashtextextended('eio:ipam:prefix:' || p_prefix::text, 0))
$$;

ALTER FUNCTION vm_counts_rebuild() SECURITY DEFINER;

-- As the migrating login: restrict now if it is a superuser.
RESET ROLE;
DO $advisory$
DECLARE
    f regprocedure;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RETURN;
    END IF;
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace
          AND p.proname IN ('pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_try_advisory_lock',
                            'pg_try_advisory_lock_shared', 'pg_advisory_xact_lock', 'pg_advisory_xact_lock_shared',
                            'pg_try_advisory_xact_lock', 'pg_try_advisory_xact_lock_shared')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO eio_owner', f);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, eio_viewer, eio_operator, eio_approver, '
                       'eio_admin, eio_worker', f);
    END LOOP;
END
$advisory$;
