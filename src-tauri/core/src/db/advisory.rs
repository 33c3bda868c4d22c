//! EIO's advisory locks are its own (migration 0067): the lock-taking `pg_advisory_*`
//! functions are executable by `eio_owner` (the SECURITY DEFINER functions run as it) and
//! by no application login, so nobody with psql can hold a lock the engine waits on.
//!
//! Only a superuser can change the grants of pg_catalog's functions. The migration does it
//! when its login is one; [`open`] tells `eio status` whether they are still open, and
//! [`restrict`] lets `eio migrate`, run later by a superuser, close them. Both are plain
//! statements from the binary, never a function of the schema: `eio migrate` may run as a
//! superuser, and a function running with its caller's rights would run whatever a member
//! of `eio_owner` had put in it with the superuser's.
use sqlx::PgPool;

use crate::error::Result;

/// The lock-taking advisory functions (every overload of each).
const LOCKING: &str = "('pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_try_advisory_lock', \
     'pg_try_advisory_lock_shared', 'pg_advisory_xact_lock', 'pg_advisory_xact_lock_shared', \
     'pg_try_advisory_xact_lock', 'pg_try_advisory_xact_lock_shared')";

/// The roles that must not execute them: everyone, and each EIO group role.
const GRANTEES: &str = "PUBLIC, eio_viewer, eio_operator, eio_approver, eio_admin, eio_worker";

/// How many of them PUBLIC or an EIO group role may execute (0: EIO's own). Any login may
/// ask; it reads only the catalog.
pub async fn open(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT count(*) FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname IN {LOCKING}
           AND (has_function_privilege('public', p.oid, 'EXECUTE')
                OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                           WHERE r.rolname IN ('eio_viewer', 'eio_operator', 'eio_approver', 'eio_admin', 'eio_worker')
                             AND has_function_privilege(r.oid, p.oid, 'EXECUTE')))"
    ))
    .fetch_one(pool)
    .await?)
}

/// Through a superuser's `pool`: when some are open, close them; how many were open (None
/// when the login is not a superuser, or nothing was open).
pub async fn restrict(pool: &PgPool) -> Result<Option<i64>> {
    let superuser: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user")
        .fetch_one(pool)
        .await?;
    if !superuser {
        return Ok(None);
    }
    let was = open(pool).await?;
    if was == 0 {
        return Ok(None);
    }
    sqlx::raw_sql(&format!(
        "DO $advisory$
         DECLARE f regprocedure;
         BEGIN
             FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
                      WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname IN {LOCKING}
             LOOP
                 EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO eio_owner', f);
                 EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM {GRANTEES}', f);
             END LOOP;
         END
         $advisory$"
    ))
    .execute(pool)
    .await?;
    Ok(Some(was))
}
