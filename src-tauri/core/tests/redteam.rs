//! The red-team suite: every attack on the database boundary that issue 18 reproduced, and
//! the variants found while closing them, performed as the weakest login that could try —
//! a real PostgreSQL login in an EIO group role, with plain SQL, no Rust check involved.
//! Each test asserts the refusal by its SQLSTATE (42501 permission, 22023 bad parameter,
//! 23514 a named check) and that nothing changed.
//!
//! The threat model (README, "Security"): an insider with their own database login and
//! `psql` — viewer, operator, approver, admin, or a worker login such as a desktop running
//! local workers — gets nothing the UI would not give them.
mod common;

use common::{host_plan, sqlstate, two_sites, Login};
use sqlx::{PgPool, Row};
use uuid::Uuid;

const DENIED: &str = "42501";
const BAD_PARAMETER: &str = "22023";

async fn job_count(admin: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs").fetch_one(admin).await.unwrap()
}

/// Submit a disruptive job on `host-1` of vc-east as `who`.
async fn submit_power(
    who: &PgPool,
    policy_name: &str,
    policy: serde_json::Value,
) -> Result<(Uuid, String), sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, status::text AS status FROM submit_job('power', 'reset', p_policy_name => $1, p_policy => $2, p_plan => $3)",
    )
    .bind(policy_name)
    .bind(policy)
    .bind(host_plan(Some("vc-east")))
    .fetch_one(who)
    .await?;
    Ok((row.get("id"), row.get("status")))
}

async fn lease(worker: &PgPool, name: &str) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT id FROM lease_jobs($1, 10, '5 minutes')").bind(name).fetch_all(worker).await.unwrap()
}

// -------------------------------------------------------------------------------------
// 1. Approval is not the initiator's to waive.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_initiator_cannot_waive_approval_with_an_override(admin: PgPool) {
    two_sites(&admin).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["power"]))).await;
    for relax in [
        serde_json::json!({"require_approval": false}),
        serde_json::json!({"require_approval": false, "allow_vm_shutdown": true}),
        serde_json::json!({"allow_vm_shutdown": true}),
        serde_json::json!({"allow_vm_shutdown": true, "allow_hard_poweroff": true}),
        serde_json::json!({"vm_limit": 11}),
        serde_json::json!({"shutdown_timeout_seconds": 1}),
    ] {
        let r = submit_power(&op.pool, "default", relax.clone()).await;
        assert_eq!(sqlstate(r), DENIED, "override {relax} was accepted");
        // The scheduled form follows the same rules.
        let r = sqlx::query(
            "SELECT id FROM submit_scheduled_job('power', 'nightly reset', '{}', '0 3 * * *', now() + interval '1 day',
                                                 p_policy => $1, p_plan => $2)",
        )
        .bind(&relax)
        .bind(host_plan(Some("vc-east")))
        .fetch_one(&op.pool)
        .await;
        assert_eq!(sqlstate(r), DENIED, "scheduled override {relax} was accepted");
    }
    assert_eq!(job_count(&admin).await, 0);

    // Tightening is fine, and what is stored is the tighter policy.
    let (job, status) = submit_power(&op.pool, "default", serde_json::json!({"vm_limit": 2})).await.unwrap();
    assert_eq!(status, "awaiting_approval");
    let limit: i32 = sqlx::query_scalar("SELECT (policy ->> 'vm_limit')::int FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(limit, 2);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_disruptive_job_without_a_plan_is_refused(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["power"]))).await;
    // Without a plan the worker would have nothing to compare, and the scope nothing to derive from.
    let r = sqlx::query("SELECT id FROM submit_job('power', 'reset')").fetch_one(&op.pool).await;
    assert_eq!(sqlstate(r), BAD_PARAMETER);
    let r = sqlx::query("SELECT id FROM submit_job('power', 'reset', p_plan => '{\"summary\": \"x\"}')")
        .fetch_one(&op.pool)
        .await;
    assert_eq!(sqlstate(r), BAD_PARAMETER);
    assert_eq!(job_count(&admin).await, 0);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_relaxed_named_policy_is_an_admins_and_needs_its_capability(admin: PgPool) {
    two_sites(&admin).await;
    let boss = Login::new(&admin, "eio_admin", Some(("boss@example.com", "admin", &[]))).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["power"]))).await;
    let trusted =
        Login::new(&admin, "eio_operator", Some(("trusted@example.com", "operator", &["power", "relaxed_policy"])))
            .await;

    // Operators can't create or loosen a named policy.
    let r =
        sqlx::query("INSERT INTO job_policies (name, require_approval) VALUES ('yolo', false)").execute(&op.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    let r =
        sqlx::query("UPDATE job_policies SET require_approval = false WHERE name = 'default'").execute(&op.pool).await;
    assert_eq!(sqlstate(r), DENIED);

    // An admin can, and it is audited under the admin's own name.
    sqlx::query(
        "INSERT INTO job_policies (name, description, require_approval, allow_vm_shutdown)
         VALUES ('lab-unattended', 'lab hosts, nobody on call', false, true)",
    )
    .execute(&boss.pool)
    .await
    .unwrap();
    let (action, actor): (String, Option<Uuid>) =
        sqlx::query_as("SELECT action, actor_user FROM audit_events WHERE target_type = 'job_policy'")
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!((action.as_str(), actor), ("job_policy.insert", boss.user_id));

    // Using it needs relaxed_policy.
    let r = submit_power(&op.pool, "lab-unattended", serde_json::Value::Null).await;
    match r {
        Err(sqlx::Error::Database(e)) => {
            assert_eq!(e.code().as_deref(), Some(DENIED), "{e}");
            assert!(e.message().contains("relaxed_policy"), "{e}");
        }
        other => panic!("using a relaxed policy without relaxed_policy: {other:?}"),
    }
    assert_eq!(job_count(&admin).await, 0);
    let (_, status) = submit_power(&trusted.pool, "lab-unattended", serde_json::Value::Null).await.unwrap();
    assert_eq!(status, "pending");
}

/// A schedule runs with its initiator's rights as they are at each due time: once an admin
/// takes `relaxed_policy` away, the next run is not created and the schedule ends.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_schedule_ends_when_its_initiator_loses_the_right_to_submit_it(admin: PgPool) {
    two_sites(&admin).await;
    sqlx::query("INSERT INTO job_policies (name, require_approval) VALUES ('unattended', false)")
        .execute(&admin)
        .await
        .unwrap();
    let op =
        Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["power", "relaxed_policy"]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let plan = host_plan(Some("vc-east"));
    let definition: Uuid = sqlx::query_scalar(
        "SELECT id FROM submit_scheduled_job('power', 'nightly reset', '{}', '0 3 * * *', now() + interval '1 day',
                                             p_policy_name => 'unattended', p_plan => $1)",
    )
    .bind(&plan)
    .fetch_one(&op.pool)
    .await
    .unwrap();
    let run = |due: &'static str| {
        let pool = worker.pool.clone();
        let plan = plan.clone();
        async move {
            sqlx::query_scalar::<_, Option<Uuid>>(&format!("SELECT create_scheduled_run($1, {due}, $2)"))
                .bind(definition)
                .bind(plan)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let first = run("now()").await.expect("the first run is created");
    let status: String =
        sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(first).fetch_one(&admin).await.unwrap();
    assert_eq!(status, "pending", "the admin's named policy skips approval");

    sqlx::query("UPDATE users SET capabilities = ARRAY['power'] WHERE email = 'op@example.com'")
        .execute(&admin)
        .await
        .unwrap();
    assert_eq!(run("now() + interval '1 day'").await, None);
    let (status, error): (String, Option<String>) =
        sqlx::query_as("SELECT status::text, error FROM jobs WHERE id = $1")
            .bind(definition)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(status, "cancelled");
    assert_eq!(error.as_deref(), Some("the schedule ended: its initiator may no longer submit such jobs"));
    assert_eq!(job_count(&admin).await, 2, "the definition and its first run, nothing more");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn lease_jobs_refuses_a_job_that_lacks_its_approval(admin: PgPool) {
    two_sites(&admin).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["power"]))).await;
    let ap = Login::new(&admin, "eio_approver", Some(("ap@example.com", "approver", &["power"]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let (job, _) = submit_power(&op.pool, "default", serde_json::Value::Null).await.unwrap();
    // A row that says pending without an approval (as a restore, a bug or an old
    // migration could leave it): the lease still refuses it.
    sqlx::query("UPDATE jobs SET status = 'pending' WHERE id = $1").bind(job).execute(&admin).await.unwrap();
    assert!(lease(&worker.pool, "w-1").await.is_empty());
    let status: String =
        sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(job).fetch_one(&admin).await.unwrap();
    assert_eq!(status, "pending");

    // Approved by a second person, it is leased.
    sqlx::query("UPDATE jobs SET status = 'awaiting_approval' WHERE id = $1").bind(job).execute(&admin).await.unwrap();
    sqlx::query("SELECT approve_job($1)").bind(job).execute(&ap.pool).await.unwrap();
    assert_eq!(lease(&worker.pool, "w-1").await, vec![job]);
}

// -------------------------------------------------------------------------------------
// 2. Worker logins can neither approve nor forge.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_worker_login_cannot_approve_insert_or_rewrite_jobs(admin: PgPool) {
    two_sites(&admin).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["power"]))).await;
    let ap = Login::new(&admin, "eio_approver", Some(("ap@example.com", "approver", &["power"]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let (job, _) = submit_power(&op.pool, "default", serde_json::Value::Null).await.unwrap();
    let before: serde_json::Value =
        sqlx::query_scalar("SELECT to_jsonb(j) FROM jobs j WHERE id = $1").bind(job).fetch_one(&admin).await.unwrap();

    for (sql, what) in [
        ("UPDATE jobs SET status = 'pending', approved_by_user = $2 WHERE id = $1", "approve by UPDATE"),
        ("UPDATE jobs SET initiated_by_user = $2 WHERE id = $1", "rewrite the initiator"),
        ("UPDATE jobs SET policy = policy || '{\"allow_hard_poweroff\": true}' WHERE id = $1 AND $2::uuid IS NOT NULL", "loosen the policy"),
        (
            "INSERT INTO jobs (type, status, title, policy, approved_by_user, initiated_by_user)
             SELECT 'power', 'pending', 'forged', '{}', $2, initiated_by_user FROM jobs WHERE id = $1",
            "insert a ready-to-run job",
        ),
        (
            "INSERT INTO approvals (job_id, approver_user_id, decision) VALUES ($1, $2, 'approved')",
            "insert an approval",
        ),
        ("SELECT approve_job($1, $2::text)", "call approve_job"),
    ] {
        let r = sqlx::query(sql).bind(job).bind(ap.user_id).execute(&worker.pool).await;
        assert_eq!(sqlstate(r), DENIED, "a worker could {what}");
    }
    let after: serde_json::Value =
        sqlx::query_scalar("SELECT to_jsonb(j) FROM jobs j WHERE id = $1").bind(job).fetch_one(&admin).await.unwrap();
    assert_eq!(before, after);
    assert_eq!(job_count(&admin).await, 1);
    // Nothing the worker did made it leasable.
    assert!(lease(&worker.pool, "w-1").await.is_empty());
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn actors_in_the_ledgers_are_the_session_whatever_the_client_sends(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let ap = Login::new(&admin, "eio_approver", Some(("ap@example.com", "approver", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let (job,): (Uuid,) =
        sqlx::query_as("SELECT id FROM submit_job('sync', 'x', p_policy => '{\"require_approval\": false}')")
            .fetch_one(&op.pool)
            .await
            .unwrap();
    // Not into a job it doesn't hold...
    let r = sqlx::query("INSERT INTO job_events (job_id, message) VALUES ($1, 'approved by ap@example.com')")
        .bind(job)
        .execute(&worker.pool)
        .await;
    assert_eq!(sqlstate(r), DENIED);
    // ...and into one it holds, only as itself.
    assert_eq!(lease(&worker.pool, "w-1").await, vec![job]);
    let (login, user): (String, Option<Uuid>) = sqlx::query_as(
        "INSERT INTO job_events (job_id, message, actor_login, actor_user) VALUES ($1, 'approved by ap@example.com', $2, $3)
         RETURNING actor_login::text, actor_user",
    )
    .bind(job)
    .bind(&ap.role)
    .bind(ap.user_id)
    .fetch_one(&worker.pool)
    .await
    .unwrap();
    assert_eq!((login.as_str(), user), (worker.role.as_str(), None));

    sqlx::query(
        "INSERT INTO audit_events (action, target_type, target_id, actor_login, actor_user)
         VALUES ('job.approve', 'job', $1, $2, $3)",
    )
    .bind(job.to_string())
    .bind(&ap.role)
    .bind(ap.user_id)
    .execute(&worker.pool)
    .await
    .unwrap();
    let (login, user): (String, Option<Uuid>) =
        sqlx::query_as("SELECT actor_login::text, actor_user FROM audit_events WHERE action = 'job.approve'")
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!((login.as_str(), user), (worker.role.as_str(), None));
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn workers_move_only_the_jobs_they_hold_and_only_by_the_rules(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let a = Login::new(&admin, "eio_worker", None).await;
    let b = Login::new(&admin, "eio_worker", None).await;
    let (job,): (Uuid,) =
        sqlx::query_as("SELECT id FROM submit_job('sync', 'x', p_policy => '{\"require_approval\": false}')")
            .fetch_one(&op.pool)
            .await
            .unwrap();
    assert_eq!(lease(&a.pool, "w-a").await, vec![job]);

    // Another worker naming itself, or claiming to be the holder from another login, gets
    // nothing done without the lease name; with the wrong name: false, nothing changed.
    let done: bool = sqlx::query_scalar("SELECT job_finish($1, 'w-b', 'succeeded', 'done')")
        .bind(job)
        .fetch_one(&b.pool)
        .await
        .unwrap();
    assert!(!done);
    for f in
        ["job_hand_back($1, 'w-b')", "job_report_progress($1, 'w-b', 0.5, 'x')", "job_record_task($1, 'w-b', 'task-1')"]
    {
        let held: bool = sqlx::query_scalar(&format!("SELECT {f}")).bind(job).fetch_one(&b.pool).await.unwrap();
        assert!(!held, "{f}");
    }
    // A run never ends as pending or awaiting approval through job_finish.
    let r = sqlx::query("SELECT job_finish($1, 'w-a', 'pending', 'again')").bind(job).execute(&a.pool).await;
    assert_eq!(sqlstate(r), BAD_PARAMETER);
    // The engine's own jobs are never disruptive.
    let r = sqlx::query("SELECT enqueue_system_job('power', 'x', '{}', '{}', NULL)").execute(&a.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    // People don't call the workers' functions.
    let r = sqlx::query("SELECT job_finish($1, 'w-a', 'succeeded', 'done')").bind(job).execute(&op.pool).await;
    assert_eq!(sqlstate(r), DENIED);

    let status: String =
        sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(job).fetch_one(&admin).await.unwrap();
    assert_eq!(status, "running");
    // The holder finishes it.
    let done: bool = sqlx::query_scalar("SELECT job_finish($1, 'w-a', 'succeeded', 'done', p_result => '{\"ok\": 1}')")
        .bind(job)
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert!(done);
}

// -------------------------------------------------------------------------------------
// 3. Temp tables shadow nothing.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_temp_table_cannot_shadow_a_table_a_check_reads(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let prefix: Uuid = sqlx::query_scalar(
        "INSERT INTO prefixes (routing_domain_id, cidr) VALUES (default_routing_domain_id(), '10.0.0.0/24') RETURNING id",
    )
    .fetch_one(&op.pool)
    .await
    .unwrap();
    // A private `prefixes` that says the prefix holds 192.168.1.0/24, then an assignment
    // outside the real prefix: the trigger reads the real table, not the temp one.
    let mut c = op.pool.acquire().await.unwrap();
    sqlx::raw_sql(
        "CREATE TEMP TABLE prefixes (id uuid, routing_domain_id uuid, cidr cidr);
         CREATE TEMP TABLE job_status_transitions (from_status job_status, to_status job_status);",
    )
    .execute(&mut *c)
    .await
    .unwrap();
    sqlx::query("INSERT INTO pg_temp.prefixes VALUES ($1, default_routing_domain_id(), '192.168.1.0/24')")
        .bind(prefix)
        .execute(&mut *c)
        .await
        .unwrap();
    let r = sqlx::query(
        "INSERT INTO public.ip_assignments (routing_domain_id, prefix_id, address)
         VALUES (default_routing_domain_id(), $1, '192.168.1.5')",
    )
    .bind(prefix)
    .execute(&mut *c)
    .await;
    let e = r.unwrap_err();
    let db = e.as_database_error().unwrap();
    assert_eq!((db.code().as_deref(), db.constraint()), (Some("23514"), Some("ip_assignments_prefix_contains")));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM ip_assignments").fetch_one(&admin).await.unwrap();
    assert_eq!(n, 0);

    // A private transition table that makes cancelled → pending legal: the status trigger
    // reads the real one. (No application login may UPDATE jobs at all; this session's
    // statement is the trigger's only way in, so it is attempted on a connection that may.)
    let (job,): (Uuid,) = sqlx::query_as("SELECT id FROM submit_job('sync', 'x')").fetch_one(&op.pool).await.unwrap();
    sqlx::query("SELECT cancel_job($1, 'not today')").bind(job).execute(&op.pool).await.unwrap();
    let mut su = admin.acquire().await.unwrap().detach();
    sqlx::raw_sql(
        "CREATE TEMP TABLE job_status_transitions (from_status job_status, to_status job_status);
         INSERT INTO pg_temp.job_status_transitions VALUES ('cancelled', 'pending');
         SET search_path = pg_temp, public;",
    )
    .execute(&mut su)
    .await
    .unwrap();
    let r = sqlx::query("UPDATE public.jobs SET status = 'pending' WHERE id = $1").bind(job).execute(&mut su).await;
    assert_eq!(sqlstate(r), "23514");
    let status: String =
        sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(job).fetch_one(&admin).await.unwrap();
    assert_eq!(status, "cancelled");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn every_project_function_pins_its_search_path(admin: PgPool) {
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = 'eio_owner'::regrole",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(total > 100, "the catalog query found only {total} functions of ours");
    let unpinned: Vec<String> = sqlx::query_scalar(
        "SELECT p.oid::regprocedure::text FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = 'eio_owner'::regrole
           AND NOT coalesce('search_path=public, pg_temp' = ANY (p.proconfig), false)
         ORDER BY 1",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(unpinned.is_empty(), "functions without `search_path = public, pg_temp`: {unpinned:?}");
}

/// The exact columns each application role may INSERT or UPDATE, and the tables it may
/// DELETE from, compared with `write_grants.txt` beside this file: a new grant is a
/// reviewed change to that list.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn application_roles_write_exactly_the_committed_columns(admin: PgPool) {
    let actual: Vec<String> = sqlx::query_scalar(
        r#"
        WITH roles(r) AS (VALUES ('eio_viewer'), ('eio_operator'), ('eio_approver'), ('eio_admin'), ('eio_worker')),
        cols AS (
            SELECT r, c.relname AS t, a.attname AS col, priv
            FROM roles, pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped,
                 (VALUES ('INSERT'), ('UPDATE')) p(priv)
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
              AND has_column_privilege(r, c.oid, a.attnum, priv)
        ),
        dels AS (
            SELECT r, c.relname AS t FROM roles, pg_class c
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
              AND has_table_privilege(r, c.oid, 'DELETE')
        )
        SELECT line FROM (
            SELECT format('%s %s %s(%s)', r, priv, t, string_agg(col, ',' ORDER BY col)) AS line FROM cols GROUP BY r, priv, t
            UNION ALL
            SELECT format('%s DELETE %s', r, t) FROM dels
        ) x ORDER BY 1
        "#,
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    let committed: Vec<String> = include_str!("write_grants.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert!(committed.len() > 20, "write_grants.txt lists only {} grants", committed.len());
    let added: Vec<&String> = actual.iter().filter(|l| !committed.contains(l)).collect();
    let removed: Vec<&String> = committed.iter().filter(|l| !actual.contains(l)).collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "write grants differ from write_grants.txt\n  granted but not listed: {added:#?}\n  listed but not granted: {removed:#?}"
    );
    // And no application role may write a job row at all.
    assert!(!actual.iter().any(|l| l.contains(" jobs(") || l.ends_with(" jobs")), "{actual:#?}");
}

/// Every row-level security policy — table, name, command, roles, USING and WITH CHECK —
/// compared with `rls_policies.txt` beside this file, and every table with a policy has RLS
/// switched on: a policy that opens rows (`USING (true)` for a worker, say) is a reviewed
/// change to that list, not a line lost in a migration.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn row_level_security_is_exactly_the_committed_policies(admin: PgPool) {
    let actual: Vec<String> = sqlx::query_scalar(
        "SELECT format('%s %s %s to=%s using=%s check=%s', tablename, policyname, cmd,
                       array_to_string(roles, ','), coalesce(regexp_replace(qual, '\\s+', ' ', 'g'), '-'),
                       coalesce(regexp_replace(with_check, '\\s+', ' ', 'g'), '-'))
         FROM pg_policies WHERE schemaname = 'public' ORDER BY tablename, policyname",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    let committed: Vec<String> = include_str!("rls_policies.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert!(committed.len() > 10, "rls_policies.txt lists only {} policies", committed.len());
    let added: Vec<&String> = actual.iter().filter(|l| !committed.contains(l)).collect();
    let removed: Vec<&String> = committed.iter().filter(|l| !actual.contains(l)).collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "policies differ from rls_policies.txt\n  in the database, not listed: {added:#?}\n  listed, not in the database: {removed:#?}"
    );
    let off: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT c.relname::text FROM pg_policies p JOIN pg_class c ON c.relname = p.tablename
         WHERE p.schemaname = 'public' AND c.relnamespace = 'public'::regnamespace AND NOT c.relrowsecurity",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(off.is_empty(), "policies on tables without row-level security: {off:?}");
    // No worker policy lets it write every row of a table people author.
    assert!(!actual.iter().any(|l| l.contains("to=eio_worker using=true") && !l.starts_with("report_")), "{actual:#?}");
}

// -------------------------------------------------------------------------------------
// 4. Admins can't take over other logins.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_admin_cannot_link_or_reset_a_powerful_login(admin: PgPool) {
    let boss = Login::new(&admin, "eio_admin", Some(("boss@example.com", "admin", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let reader = Login::new(&admin, "pg_read_all_data", None).await;
    let other_admin = Login::new(&admin, "eio_admin", None).await;
    let creator = Login::new(&admin, "eio_viewer", None).await;
    sqlx::raw_sql(&format!("ALTER ROLE {} CREATEROLE", creator.role)).execute(&admin).await.unwrap();
    let mut powerful = Vec::new();
    for attribute in ["SUPERUSER", "BYPASSRLS", "REPLICATION", "CREATEDB"] {
        let l = Login::new(&admin, "eio_viewer", None).await;
        sqlx::raw_sql(&format!("ALTER ROLE {} {attribute}", l.role)).execute(&admin).await.unwrap();
        powerful.push((l, attribute));
    }
    let owner = Login::new(&admin, "eio_owner", None).await;
    let verifier = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVkS2V5:c2VydmVyS2V5";
    let mut attempts: Vec<(String, &str, String)> = vec![
        (worker.role.clone(), "viewer", "a worker login".into()),
        (reader.role.clone(), "viewer", "a member of pg_read_all_data".into()),
        (other_admin.role.clone(), "viewer", "a member of another EIO group".into()),
        (creator.role.clone(), "viewer", "a CREATEROLE login".into()),
        (owner.role.clone(), "viewer", "a member of eio_owner".into()),
    ];
    for (l, attribute) in &powerful {
        attempts.push((l.role.clone(), "viewer", format!("a {attribute} login")));
    }
    for (login, as_role, why) in &attempts {
        let r = sqlx::query("SELECT create_user('taken@example.com', $2::user_role, $1, '{}', $3)")
            .bind(login)
            .bind(as_role)
            .bind(verifier)
            .execute(&boss.pool)
            .await;
        assert_eq!(sqlstate(r), DENIED, "an admin could link {why}");
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&admin).await.unwrap();
    assert_eq!(users, 1, "only the admin's own users row exists");

    // A user whose login became a worker after it was linked: no password reset, no role change.
    let alice = Login::new(&admin, "eio_viewer", Some(("alice@example.com", "viewer", &[]))).await;
    sqlx::raw_sql(&format!("GRANT eio_worker TO {}", alice.role)).execute(&admin).await.unwrap();
    let r = sqlx::query("SELECT set_user_password('alice@example.com', $1)").bind(verifier).execute(&boss.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    let r = sqlx::query("SELECT set_user_role('alice@example.com', 'operator')").execute(&boss.pool).await;
    assert_eq!(sqlstate(r), DENIED);
}

// -------------------------------------------------------------------------------------
// 5. Scope is derived, not trusted.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_jobs_scope_is_derived_and_counts_against_every_cluster(admin: PgPool) {
    let estate = two_sites(&admin).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["power"]))).await;
    let ap = Login::new(&admin, "eio_approver", Some(("ap@example.com", "approver", &["power"]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let submit = |plan: serde_json::Value, claimed: Uuid| {
        let pool = op.pool.clone();
        async move {
            sqlx::query_as::<_, (Uuid, Vec<Uuid>, Vec<Uuid>)>(
                "SELECT id, cluster_ids, site_ids FROM submit_job('power', 'x', p_plan => $1, p_site_id => $2, p_cluster_id => $2)",
            )
            .bind(plan)
            .bind(claimed)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    // `host-1` without its vCenter is in both: the job touches both clusters and both sites,
    // whatever the client claimed.
    let (both, clusters, sites) = submit(host_plan(None), Uuid::new_v4()).await;
    let mut want_clusters = vec![estate.east_cluster, estate.west_cluster];
    want_clusters.sort();
    let mut want_sites = vec![estate.east, estate.west];
    want_sites.sort();
    let (mut clusters, mut sites) = (clusters, sites);
    clusters.sort();
    sites.sort();
    assert_eq!((clusters, sites), (want_clusters, want_sites));
    let (east_only, clusters, _) = submit(host_plan(Some("vc-east")), estate.west).await;
    assert_eq!(clusters, vec![estate.east_cluster]);
    for job in [both, east_only] {
        sqlx::query("SELECT approve_job($1)").bind(job).execute(&ap.pool).await.unwrap();
    }
    // One disruptive job per cluster (the default limit): the job spanning both runs, and
    // the east one waits, though it was never told it shares a cluster.
    assert_eq!(lease(&worker.pool, "w-1").await, vec![both]);
    assert!(lease(&worker.pool, "w-1").await.is_empty());
    let status: String = sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1")
        .bind(east_only)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(status, "pending");
}

/// Per-site limits count every site a job touches, derived like its clusters: with one
/// disruptive job per site, a second east job waits while a west one runs.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_per_site_limit_counts_the_sites_a_job_touches(admin: PgPool) {
    let estate = two_sites(&admin).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["power"]))).await;
    let ap = Login::new(&admin, "eio_approver", Some(("ap@example.com", "approver", &["power"]))).await;
    let boss = Login::new(&admin, "eio_admin", Some(("boss@example.com", "admin", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    // Admins set limits (clusters out of the way here: ten per cluster, one per east site).
    sqlx::query("UPDATE concurrency_limits SET max_running = 10 WHERE scope_type = 'cluster' AND scope_id IS NULL")
        .execute(&boss.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO concurrency_limits (scope_type, scope_id, max_running) VALUES ('site', $1, 1)")
        .bind(estate.east)
        .execute(&boss.pool)
        .await
        .unwrap();
    // Nobody else does.
    let r = sqlx::query("UPDATE concurrency_limits SET max_running = 100").execute(&op.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    let r = sqlx::query("DELETE FROM concurrency_limits").execute(&worker.pool).await;
    assert_eq!(sqlstate(r), DENIED);

    let mut ids = Vec::new();
    for vc in ["vc-east", "vc-east", "vc-west"] {
        let id: Uuid = sqlx::query_scalar("SELECT id FROM submit_job('power', 'x', p_plan => $1)")
            .bind(host_plan(Some(vc)))
            .fetch_one(&op.pool)
            .await
            .unwrap();
        sqlx::query("SELECT approve_job($1)").bind(id).execute(&ap.pool).await.unwrap();
        ids.push(id);
    }
    let leased = lease(&worker.pool, "w-1").await;
    let east = leased.iter().filter(|j| **j == ids[0] || **j == ids[1]).count();
    assert_eq!(
        (leased.len(), east, leased.contains(&ids[2])),
        (2, 1, true),
        "one east job and the west one: {leased:?}"
    );
    assert!(lease(&worker.pool, "w-1").await.is_empty(), "the second east job waits for the site");
}

// -------------------------------------------------------------------------------------
// 6. Authorship holds on UPDATE and DELETE.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn only_the_author_or_an_admin_changes_an_authored_row(admin: PgPool) {
    let estate = two_sites(&admin).await;
    let alice = Login::new(&admin, "eio_operator", Some(("alice@example.com", "operator", &[]))).await;
    let bob = Login::new(&admin, "eio_operator", Some(("bob@example.com", "operator", &[]))).await;
    let boss = Login::new(&admin, "eio_admin", Some(("boss@example.com", "admin", &[]))).await;
    let host: Uuid =
        sqlx::query_scalar("SELECT id FROM esxi_hosts ORDER BY name LIMIT 1").fetch_one(&admin).await.unwrap();

    // Alice pins a host to a site, claiming Bob did it: the row is hers.
    let author: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence, created_by)
         VALUES ('esxi_host', $1, $2, 'manual', 1, $3) RETURNING created_by",
    )
    .bind(host)
    .bind(estate.east)
    .bind(bob.user_id)
    .fetch_one(&alice.pool)
    .await
    .unwrap();
    assert_eq!(author, alice.user_id);
    // Bob can't move, re-attribute or delete it: it is not his to see for writing.
    for sql in [
        "UPDATE site_inferences SET site_id = $2 WHERE entity_id = $1",
        "UPDATE site_inferences SET created_by = (SELECT id FROM users WHERE email = 'bob@example.com') WHERE entity_id = $1 AND $2::uuid IS NOT NULL",
        "DELETE FROM site_inferences WHERE entity_id = $1 AND $2::uuid IS NOT NULL",
    ] {
        let n = sqlx::query(sql).bind(host).bind(estate.west).execute(&bob.pool).await.unwrap().rows_affected();
        assert_eq!(n, 0, "{sql}");
    }
    // Alice can't hand it to Bob either (the author never changes).
    sqlx::query("UPDATE site_inferences SET created_by = $2 WHERE entity_id = $1")
        .bind(host)
        .bind(bob.user_id)
        .execute(&alice.pool)
        .await
        .unwrap();
    let (site, author): (Uuid, Option<Uuid>) =
        sqlx::query_as("SELECT site_id, created_by FROM site_inferences WHERE entity_id = $1 AND method = 'manual'")
            .bind(host)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!((site, author), (estate.east, alice.user_id));
    // An admin may remove it.
    let n = sqlx::query("DELETE FROM site_inferences WHERE entity_id = $1 AND method = 'manual'")
        .bind(host)
        .execute(&boss.pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 1);

    // Acknowledgements: Bob can neither clear nor overwrite Alice's.
    let finding: Uuid = sqlx::query_scalar(
        "INSERT INTO ipam_findings (type, severity, subject_key, message)
         VALUES ('duplicate_usage', 'error', 'default/10.0.0.5', '10.0.0.5 used by two MACs') RETURNING id",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    sqlx::query("UPDATE ipam_findings SET acknowledged_at = now(), acknowledge_note = 'ticket 42' WHERE id = $1")
        .bind(finding)
        .execute(&alice.pool)
        .await
        .unwrap();
    for sql in [
        "UPDATE ipam_findings SET acknowledged_at = NULL, acknowledged_by = NULL, acknowledge_note = NULL WHERE id = $1",
        "UPDATE ipam_findings SET acknowledged_at = now(), acknowledge_note = 'mine now' WHERE id = $1",
    ] {
        let n = sqlx::query(sql).bind(finding).execute(&bob.pool).await.unwrap().rows_affected();
        assert_eq!(n, 0, "{sql}");
    }
    let (by, note): (Option<Uuid>, Option<String>) =
        sqlx::query_as("SELECT acknowledged_by, acknowledge_note FROM ipam_findings WHERE id = $1")
            .bind(finding)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!((by, note.as_deref()), (alice.user_id, Some("ticket 42")));

    // Prefixes carry their real author too.
    let author: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO prefixes (routing_domain_id, cidr, created_by) VALUES (default_routing_domain_id(), '10.1.0.0/24', $1)
         RETURNING created_by",
    )
    .bind(alice.user_id)
    .fetch_one(&bob.pool)
    .await
    .unwrap();
    assert_eq!(author, bob.user_id);
}

/// A worker login is an insider too (every desktop running local workers has one): it writes
/// inferences, mappings and findings only through the engine's functions, so it can neither
/// move, delete nor forge a person's pin, manual mapping or acknowledgement.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_worker_login_cannot_touch_manual_rows_or_acknowledgements(admin: PgPool) {
    let estate = two_sites(&admin).await;
    let alice = Login::new(&admin, "eio_operator", Some(("alice@example.com", "operator", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let hosts: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM esxi_hosts ORDER BY name").fetch_all(&admin).await.unwrap();
    sqlx::query(
        "INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence) VALUES ('esxi_host', $1, $2, 'manual', 1)",
    )
    .bind(hosts[0])
    .bind(estate.east)
    .execute(&alice.pool)
    .await
    .unwrap();
    let server: Uuid = sqlx::query_scalar(
        "WITH e AS (INSERT INTO idrac_endpoints (name, url, service_identity_id)
                    SELECT 'idrac-m1', 'https://idrac-m1.example.com', id FROM service_identities LIMIT 1 RETURNING id)
         INSERT INTO physical_servers (idrac_id, service_tag) SELECT id, 'TAGM1' FROM e RETURNING id",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    sqlx::query("SELECT set_manual_mapping($1, $2)").bind(server).bind(hosts[0]).execute(&alice.pool).await.unwrap();
    let finding: Uuid = sqlx::query_scalar(
        "INSERT INTO ipam_findings (type, severity, subject_key, message)
         VALUES ('duplicate_usage', 'error', 'default/10.0.0.5', '10.0.0.5 used by two MACs') RETURNING id",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    sqlx::query("UPDATE ipam_findings SET acknowledged_at = now(), acknowledge_note = 'ticket 42' WHERE id = $1")
        .bind(finding)
        .execute(&alice.pool)
        .await
        .unwrap();
    let snapshot = || async {
        sqlx::query_scalar::<_, serde_json::Value>(
            "SELECT jsonb_build_object(
                 'pins', (SELECT jsonb_agg(to_jsonb(i) ORDER BY i.id) FROM site_inferences i),
                 'mappings', (SELECT jsonb_agg(to_jsonb(m) ORDER BY m.id) FROM server_mappings m),
                 'findings', (SELECT jsonb_agg(to_jsonb(f) ORDER BY f.id) FROM ipam_findings f))",
        )
        .fetch_one(&admin)
        .await
        .unwrap()
    };
    let before = snapshot().await;

    for (sql, what) in [
        ("UPDATE site_inferences SET site_id = $2 WHERE method = 'manual' AND $1::uuid IS NOT NULL", "move a pin"),
        ("DELETE FROM site_inferences WHERE method = 'manual' AND $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL", "delete a pin"),
        (
            "INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence) VALUES ('esxi_host', $1, $2, 'vcenter', 1)",
            "write an opinion of its own",
        ),
        ("UPDATE server_mappings SET esxi_host_id = $1 WHERE method = 'manual' AND $2::uuid IS NOT NULL", "move a manual mapping"),
        ("DELETE FROM server_mappings WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL", "delete a manual mapping"),
        (
            "UPDATE ipam_findings SET acknowledged_at = NULL, acknowledged_by = NULL, acknowledge_note = NULL
             WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL",
            "clear an acknowledgement",
        ),
        (
            "UPDATE ipam_findings SET resolved_at = now() WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL",
            "resolve a finding by hand",
        ),
    ] {
        let r = sqlx::query(sql).bind(hosts[1]).bind(estate.west).execute(&worker.pool).await;
        assert_eq!(sqlstate(r), DENIED, "a worker login could {what}");
    }
    assert_eq!(snapshot().await, before);
    // The engine's functions still do the engine's work, as the worker.
    sqlx::query("SELECT * FROM refresh_site_inferences()").execute(&worker.pool).await.unwrap();
    let pin: Uuid = sqlx::query_scalar("SELECT site_id FROM site_inferences WHERE method = 'manual'")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(pin, estate.east, "inference keeps the pin");
}

/// Steps say what a job did, and a resumed worker follows them: only the worker holding a
/// job's lease writes its steps.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_worker_writes_steps_only_into_the_job_it_holds(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let a = Login::new(&admin, "eio_worker", None).await;
    let b = Login::new(&admin, "eio_worker", None).await;
    let (job,): (Uuid,) =
        sqlx::query_as("SELECT id FROM submit_job('sync', 'x', p_policy => '{\"require_approval\": false}')")
            .fetch_one(&op.pool)
            .await
            .unwrap();
    // Before anyone holds it, nobody writes its steps.
    let insert = "INSERT INTO job_steps (job_id, seq, name, kind) VALUES ($1, $2, 'sync', 'sync') RETURNING id";
    let r = sqlx::query_scalar::<_, Uuid>(insert).bind(job).bind(0).fetch_one(&a.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    assert_eq!(lease(&a.pool, "w-a").await, vec![job]);
    let step: Uuid = sqlx::query_scalar(insert).bind(job).bind(1).fetch_one(&a.pool).await.unwrap();

    // Another worker login: no step of its own in A's job, no rewrite, no delete.
    let r = sqlx::query_scalar::<_, Uuid>(insert).bind(job).bind(2).fetch_one(&b.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    let n = sqlx::query("UPDATE job_steps SET status = 'succeeded', external_task_id = 'forged' WHERE id = $1")
        .bind(step)
        .execute(&b.pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 0, "B rewrote A's step");
    let r = sqlx::query("DELETE FROM job_steps WHERE id = $1").bind(step).execute(&a.pool).await;
    assert_eq!(sqlstate(r), DENIED, "steps are never deleted");
    let (status, task, steps): (String, Option<String>, i64) = sqlx::query_as(
        "SELECT status::text, external_task_id, (SELECT count(*) FROM job_steps WHERE job_id = $2) FROM job_steps WHERE id = $1",
    )
    .bind(step)
    .bind(job)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!((status.as_str(), task, steps), ("pending", None, 1));
    // The holder advances its own step; once the job is finished, not even the holder.
    sqlx::query("UPDATE job_steps SET status = 'succeeded' WHERE id = $1").bind(step).execute(&a.pool).await.unwrap();
    let done: bool = sqlx::query_scalar("SELECT job_finish($1, 'w-a', 'succeeded', 'done')")
        .bind(job)
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert!(done);
    let n = sqlx::query("UPDATE job_steps SET status = 'failed' WHERE id = $1")
        .bind(step)
        .execute(&a.pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 0);
}

/// A server is also at its iDRAC's site: pinning it elsewhere doesn't bring a job on it
/// within reach of an operator limited to another site.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn pinning_a_server_away_from_its_idracs_site_does_not_widen_your_reach(admin: PgPool) {
    let estate = two_sites(&admin).await;
    let east =
        Login::new(&admin, "eio_operator", Some(("east@example.com", "operator", &["power", "site:US-EAST-01"]))).await;
    let server: Uuid = sqlx::query_scalar(
        "WITH e AS (INSERT INTO idrac_endpoints (name, url, service_identity_id, site_id)
                    SELECT 'idrac-w9', 'https://idrac-w9.example.com', id, $1 FROM service_identities LIMIT 1 RETURNING id)
         INSERT INTO physical_servers (idrac_id, service_tag) SELECT id, 'TAGW9' FROM e RETURNING id",
    )
    .bind(estate.west)
    .fetch_one(&admin)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence) VALUES ('physical_server', $1, $2, 'manual', 1)",
    )
    .bind(server)
    .bind(estate.east)
    .execute(&east.pool)
    .await
    .unwrap();
    let plan = serde_json::json!({"material": {"servers": [["TAGW9", "power_cycle"]]}});
    let (_, sites): (Vec<Uuid>, Vec<Uuid>) =
        sqlx::query_as("SELECT * FROM job_scope($1)").bind(&plan).fetch_one(&admin).await.unwrap();
    let mut want = vec![estate.east, estate.west];
    want.sort();
    assert_eq!(sites, want, "the pin and the iDRAC's site both count");
    let r = sqlx::query("SELECT id FROM submit_job('power', 'x', p_plan => $1)").bind(&plan).execute(&east.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    assert_eq!(job_count(&admin).await, 0);
}

/// The second person answers for a relaxed policy too: approving a job under one needs
/// `relaxed_policy`, as submitting it does. Denying it doesn't.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn approving_a_relaxed_policys_job_needs_its_capability(admin: PgPool) {
    two_sites(&admin).await;
    sqlx::query("INSERT INTO job_policies (name, allow_vm_shutdown) VALUES ('shutdown-ok', true)")
        .execute(&admin)
        .await
        .unwrap();
    let op =
        Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["power", "relaxed_policy"]))).await;
    let plain = Login::new(&admin, "eio_approver", Some(("plain@example.com", "approver", &["power"]))).await;
    let trusted =
        Login::new(&admin, "eio_approver", Some(("trusted@example.com", "approver", &["power", "relaxed_policy"])))
            .await;
    let (job, status) = submit_power(&op.pool, "shutdown-ok", serde_json::Value::Null).await.unwrap();
    assert_eq!(status, "awaiting_approval");
    let r = sqlx::query("SELECT approve_job($1)").bind(job).execute(&plain.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    let status: String =
        sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(job).fetch_one(&admin).await.unwrap();
    assert_eq!(status, "awaiting_approval");
    sqlx::query("SELECT approve_job($1)").bind(job).execute(&trusted.pool).await.unwrap();
    let (other, _) = submit_power(&op.pool, "shutdown-ok", serde_json::Value::Null).await.unwrap();
    sqlx::query("SELECT deny_job($1, 'not tonight')").bind(other).execute(&plain.pool).await.unwrap();
}

// -------------------------------------------------------------------------------------
// 7. Report files can't be aimed anywhere.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn report_definitions_write_only_to_folders_an_admin_allowed(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let boss = Login::new(&admin, "eio_admin", Some(("boss@example.com", "admin", &[]))).await;
    let define = |pool: PgPool, name: &'static str, dir: Option<&'static str>| async move {
        sqlx::query("INSERT INTO report_definitions (name, type, output_dir) VALUES ($1, 'rvtools', $2)")
            .bind(name)
            .bind(dir)
            .execute(&pool)
            .await
    };
    let refused = |r: Result<sqlx::postgres::PgQueryResult, sqlx::Error>| {
        let e = r.unwrap_err();
        let db = e.as_database_error().expect("a database refusal");
        (db.code().map(|c| c.into_owned()), db.constraint().map(str::to_owned))
    };
    let not_allowed = (Some("23514".to_owned()), Some("report_definitions_output_dir_allowed".to_owned()));
    assert_eq!(refused(define(op.pool.clone(), "cron", Some("/etc/cron.d")).await), not_allowed);
    assert_eq!(refused(define(boss.pool.clone(), "cron", Some("/etc/cron.d")).await), not_allowed, "admins too");
    let bad_name = (Some("23514".to_owned()), Some("report_definitions_name_format".to_owned()));
    assert_eq!(refused(define(op.pool.clone(), "../../etc/cron.d/x", None).await), bad_name);

    // Only admins change the list, and every change is audited.
    let r = sqlx::query("INSERT INTO report_output_folders (path) VALUES ('/etc/cron.d')").execute(&op.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    for bad in ["/srv/reports/../../etc", "relative/path", "/", "/srv/reports/"] {
        let r = sqlx::query("INSERT INTO report_output_folders (path) VALUES ($1)").bind(bad).execute(&boss.pool).await;
        let e = r.unwrap_err();
        assert_eq!(
            e.as_database_error().and_then(|d| d.constraint()),
            Some("report_output_folders_path_format"),
            "{bad}"
        );
    }
    sqlx::query("INSERT INTO report_output_folders (path) VALUES ('/srv/reports')").execute(&boss.pool).await.unwrap();
    define(op.pool.clone(), "weekly", Some("/srv/reports")).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'report_output_folder.insert'")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(n, 1);
    // A definition can't be moved elsewhere afterwards either.
    let r = sqlx::query("UPDATE report_definitions SET output_dir = '/etc/cron.d' WHERE name = 'weekly'")
        .execute(&op.pool)
        .await;
    assert_eq!(refused(r), not_allowed);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_desktop_opens_only_a_report_file_inside_an_allowed_folder(admin: PgPool) {
    use eio_core::api::Session;
    use eio_core::reports::ops::{openable_path_within, OpenReportInput};
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let reports = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let good = reports.path().join("rvtools.csv");
    std::fs::write(&good, "VM\napp01\n").unwrap();
    let outside = elsewhere.path().join("launcher.csv");
    std::fs::write(&outside, "x").unwrap();
    let wrong_kind = reports.path().join("evil.desktop");
    std::fs::write(&wrong_kind, "[Desktop Entry]\nExec=sh -c id\n").unwrap();
    let escape = reports.path().join("link.csv");
    std::os::unix::fs::symlink(&outside, &escape).unwrap();

    // An operator records (forges) executions of their own, each naming a path.
    let mut ids = Vec::new();
    for path in [&good, &outside, &wrong_kind, &escape] {
        let id: Uuid = sqlx::query_scalar(
            "INSERT INTO report_executions (type, format, status, storage_path, size_bytes, requested_by)
             VALUES ('rvtools', 'csv', 'completed', $1, 1, current_app_user_id()) RETURNING id",
        )
        .bind(path.display().to_string())
        .fetch_one(&op.pool)
        .await
        .unwrap();
        ids.push(id);
    }
    // Another person's desktop opens what it is asked to.
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let session = Session::new(eio_core::Database::from_pool(viewer.pool.clone()));
    let allowed = vec![reports.path().to_path_buf()];
    let open = |id: Uuid| {
        let (session, allowed) = (&session, &allowed);
        async move {
            openable_path_within(session, &OpenReportInput { execution_id: id, folder: false, file: None }, allowed)
                .await
        }
    };
    assert_eq!(open(ids[0]).await.unwrap(), good.canonicalize().unwrap());
    for (id, what) in ids[1..].iter().zip(["a file outside the folder", "a .desktop file", "a link out of the folder"])
    {
        let e = open(*id).await.unwrap_err();
        assert_eq!(e.code, eio_core::error::ErrorCode::Forbidden, "{what}: {}", e.message);
    }
}

// -------------------------------------------------------------------------------------
// 9. A password is never sent in clear text.

/// A configuration for the shared database at `url`.
fn external(url: &str) -> eio_core::config::Config {
    eio_core::config::Config {
        database: eio_core::config::DatabaseChoice::External {
            url: eio_core::config::DatabaseUrl::parse(url).unwrap(),
            origin: eio_core::config::UrlOrigin::CommandLineOrEnvironment,
        },
        data_dir: std::env::temp_dir(),
        config_file: std::env::temp_dir().join("none.toml"),
        worker_key_file: None,
    }
}

/// A fake PostgreSQL on loopback that declines TLS and asks for a cleartext password: EIO
/// refuses before sending it, and the fake server never sees a password message.
#[tokio::test]
async fn a_fake_server_asking_for_a_cleartext_password_gets_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            let seen = seen_tx.clone();
            tokio::spawn(async move {
                let mut all = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    all.extend_from_slice(&buf[..n]);
                    if buf[..n] == [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
                        let _ = s.write_all(b"N").await; // no TLS here
                    } else if n >= 8 && buf[4..8] == 196_608u32.to_be_bytes() {
                        let _ = s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await;
                        // cleartext, please
                    }
                }
                let _ = seen.send(all);
            });
        }
    });
    let password = "pw-9f2c-operators-own";
    // A remote host over a connection that may be unencrypted: refused before any network.
    let remote = external("postgres://alice@db.example.invalid/eio?sslmode=prefer");
    let e =
        eio_core::Database::open_with_password(&remote, Some(&eio_secret::Secret::new(password))).await.unwrap_err();
    assert_eq!(e.code, eio_core::error::ErrorCode::Config, "{e}");
    assert!(e.message.contains("never sends a password over one"), "{e}");
    for url in [
        format!("postgres://alice@127.0.0.1:{port}/eio"),
        format!("postgres://alice@127.0.0.1:{port}/eio?sslmode=disable"),
    ] {
        let config = external(&url);
        let e = eio_core::Database::open_with_password(&config, Some(&eio_secret::Secret::new(password)))
            .await
            .unwrap_err();
        assert_eq!(e.code, eio_core::error::ErrorCode::Config, "{url}: {e}");
        assert!(e.message.contains("clear text"), "{url}: {e}");
        assert!(!e.message.contains(password), "{e}");
        let got = seen_rx.recv().await.unwrap();
        assert!(
            !got.windows(password.len()).any(|w| w == password.as_bytes()),
            "{url}: the password reached the fake server"
        );
    }
}

// -------------------------------------------------------------------------------------
// Variants found by red-teaming this suite's first version.

/// The type the database checks (approval, plan, capability) is the type that runs: a
/// "sync" whose target is a power-off is refused by a named constraint.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_jobs_type_is_its_targets_type(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    for (t, target) in [
        ("sync", r#"{"type": "power", "action": "power_off", "vms": ["vm-1"]}"#),
        ("report", r#"{"type": "maintenance_mode", "hosts": ["host-1"]}"#),
    ] {
        let r = sqlx::query(
            "SELECT id FROM submit_job($1::job_type, 'innocent', p_target => $2::jsonb, p_policy => '{\"require_approval\": false}')",
        )
        .bind(t)
        .bind(target)
        .execute(&op.pool)
        .await;
        let e = r.unwrap_err();
        let db = e.as_database_error().unwrap();
        assert_eq!((db.code().as_deref(), db.constraint()), (Some("23514"), Some("jobs_target_matches_type")), "{t}");
    }
    assert_eq!(job_count(&admin).await, 0);
}

/// A placement made by hand doesn't move a job out of the sites its submitter may act on:
/// a job's sites are every site any opinion names.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn pinning_a_host_to_your_own_site_does_not_widen_your_reach(admin: PgPool) {
    let estate = two_sites(&admin).await;
    let east =
        Login::new(&admin, "eio_operator", Some(("east@example.com", "operator", &["power", "site:US-EAST-01"]))).await;
    let west_host: Uuid = sqlx::query_scalar(
        "SELECT h.id FROM esxi_hosts h JOIN vcenter_instances v ON v.id = h.vcenter_id WHERE v.name = 'vc-west'",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence) VALUES ('esxi_host', $1, $2, 'manual', 1)",
    )
    .bind(west_host)
    .bind(estate.east)
    .execute(&east.pool)
    .await
    .unwrap();
    let r = sqlx::query("SELECT id FROM submit_job('power', 'x', p_plan => $1)")
        .bind(host_plan(Some("vc-west")))
        .execute(&east.pool)
        .await;
    assert_eq!(sqlstate(r), DENIED);
    assert_eq!(job_count(&admin).await, 0);
    // The placement's evidence names its real author, whatever the client wrote.
    let r: serde_json::Value = sqlx::query_scalar(
        "INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence, evidence)
         SELECT 'esxi_host', h.id, $1, 'manual', 1, '{\"set_by\": \"admin@example.com\"}'
         FROM esxi_hosts h JOIN vcenter_instances v ON v.id = h.vcenter_id WHERE v.name = 'vc-east'
         RETURNING evidence",
    )
    .bind(estate.east)
    .fetch_one(&east.pool)
    .await
    .unwrap();
    assert_eq!(r["set_by"], "east@example.com");
}

/// `set_manual_mapping` doesn't replace someone else's manual mapping.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_manual_mapping_is_its_authors(admin: PgPool) {
    two_sites(&admin).await;
    let alice = Login::new(&admin, "eio_operator", Some(("alice@example.com", "operator", &[]))).await;
    let bob = Login::new(&admin, "eio_operator", Some(("bob@example.com", "operator", &[]))).await;
    let (server, hosts): (Uuid, Vec<Uuid>) = sqlx::query_as(
        "WITH e AS (INSERT INTO idrac_endpoints (name, url, service_identity_id)
                    SELECT 'idrac-w2', 'https://idrac-w2.example.com', id FROM service_identities LIMIT 1 RETURNING id),
              s AS (INSERT INTO physical_servers (idrac_id, service_tag) SELECT id, 'TAGW2' FROM e RETURNING id)
         SELECT s.id, (SELECT array_agg(id ORDER BY name) FROM esxi_hosts) FROM s",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    sqlx::query("SELECT set_manual_mapping($1, $2)").bind(server).bind(hosts[0]).execute(&alice.pool).await.unwrap();
    let r = sqlx::query("SELECT set_manual_mapping($1, $2)").bind(server).bind(hosts[1]).execute(&bob.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    let (host, by): (Uuid, Option<Uuid>) =
        sqlx::query_as("SELECT esxi_host_id, created_by FROM server_mappings WHERE physical_server_id = $1")
            .bind(server)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!((host, by), (hosts[0], alice.user_id));
}

/// A worker login can't strip a plan by sending a job back for approval without one, nor
/// move a job another login leased, even under the right worker name.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_lease_belongs_to_the_login_that_took_it(admin: PgPool) {
    two_sites(&admin).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["power"]))).await;
    let ap = Login::new(&admin, "eio_approver", Some(("ap@example.com", "approver", &["power"]))).await;
    let a = Login::new(&admin, "eio_worker", None).await;
    let b = Login::new(&admin, "eio_worker", None).await;
    let (job, _) = submit_power(&op.pool, "default", serde_json::Value::Null).await.unwrap();
    sqlx::query("SELECT approve_job($1)").bind(job).execute(&ap.pool).await.unwrap();
    assert_eq!(lease(&a.pool, "w-a").await, vec![job]);
    for f in [
        "job_finish($1, 'w-a', 'succeeded', 'done')",
        "job_reapprove($1, 'w-a', '{\"material\": {}}', 'x')",
        "job_hand_back($1, 'w-a')",
        "job_report_progress($1, 'w-a', 0.5, 'x')",
        "job_record_task($1, 'w-a', 'task-1')",
    ] {
        let held: bool = sqlx::query_scalar(&format!("SELECT {f}")).bind(job).fetch_one(&b.pool).await.unwrap();
        assert!(!held, "another login moved the job: {f}");
    }
    let renewed: Vec<Uuid> = sqlx::query_scalar("SELECT renew_leases('w-a', ARRAY[$1], '1 hour')")
        .bind(job)
        .fetch_all(&b.pool)
        .await
        .unwrap();
    assert!(renewed.is_empty());
    let r = sqlx::query("SELECT job_reapprove($1, 'w-a', NULL, 'x')").bind(job).execute(&a.pool).await;
    assert_eq!(sqlstate(r), BAD_PARAMETER);
    let (status, hash): (String, Option<String>) =
        sqlx::query_as("SELECT status::text, plan_hash FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(status, "running");
    assert!(hash.is_some());
}

/// An admin can't take over another system's login by linking it with a password, nor link
/// one that holds a role with ADMIN OPTION or belongs to another application's role.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_admin_cannot_take_over_an_existing_login(admin: PgPool) {
    let boss = Login::new(&admin, "eio_admin", Some(("boss@example.com", "admin", &[]))).await;
    let app_role = format!("eio_t_app_{}", &Uuid::new_v4().simple().to_string()[..8]);
    sqlx::raw_sql(&format!("CREATE ROLE {app_role} NOLOGIN")).execute(&admin).await.unwrap();
    let _drop = common::DropRole(admin.clone(), app_role.clone());
    let plain = Login::new(&admin, "eio_viewer", None).await;
    let other_app = Login::new(&admin, &app_role, None).await;
    let admin_option = Login::new(&admin, "eio_viewer", None).await;
    sqlx::raw_sql(&format!("GRANT eio_approver TO {} WITH ADMIN OPTION", admin_option.role))
        .execute(&admin)
        .await
        .unwrap();
    // Another application's login: no group, but it owns a table.
    let owner = Login::new(&admin, "eio_viewer", None).await;
    sqlx::raw_sql(&format!(
        "REVOKE eio_viewer FROM {0}; CREATE TABLE other_apps_data (x int); ALTER TABLE other_apps_data OWNER TO {0}",
        owner.role
    ))
    .execute(&admin)
    .await
    .unwrap();
    let verifier = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVkS2V5:c2VydmVyS2V5";
    for (login, password, why) in [
        (&plain.role, Some(verifier), "an existing login, setting its password"),
        (&other_app.role, None, "another application's login"),
        (&admin_option.role, None, "a login holding a role WITH ADMIN OPTION"),
        (&owner.role, None, "a login that owns another application's table"),
    ] {
        let r = sqlx::query("SELECT create_user('taken@example.com', 'viewer', $1, '{}', $2)")
            .bind(login)
            .bind(password)
            .execute(&boss.pool)
            .await;
        assert_eq!(sqlstate(r), DENIED, "an admin could link {why}");
    }
    // Linked as it is (no password), an existing plain login is fine.
    sqlx::query("SELECT create_user('plain@example.com', 'viewer', $1)")
        .bind(&plain.role)
        .execute(&boss.pool)
        .await
        .unwrap();
    sqlx::raw_sql("DROP TABLE other_apps_data").execute(&admin).await.unwrap();
}

/// What a baseline installs is an admin's decision: a worker login (which writes the synced
/// OME compliance) and an operator can neither define a baseline nor change what one
/// installs; an admin's change is audited with the admin's login.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn only_an_admin_changes_what_a_baseline_installs(admin: PgPool) {
    let boss = Login::new(&admin, "eio_admin", Some(("boss@example.com", "admin", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let alice = Login::new(&admin, "eio_operator", Some(("alice@example.com", "operator", &[]))).await;
    let baseline: Uuid =
        sqlx::query_scalar("INSERT INTO eio_baselines (name, repository) VALUES ('June', '/srv/dups') RETURNING id")
            .fetch_one(&boss.pool)
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO eio_baseline_components (baseline_id, component, version, package)
         VALUES ($1, 'BIOS.Setup', '2.19.1', 'BIOS_2.19.1.EXE')",
    )
    .bind(baseline)
    .execute(&boss.pool)
    .await
    .unwrap();
    for who in [&worker, &alice] {
        let forged = sqlx::query("UPDATE eio_baseline_components SET package = '/tmp/evil.EXE' WHERE baseline_id = $1")
            .bind(baseline)
            .execute(&who.pool)
            .await;
        assert_eq!(sqlstate(forged), DENIED);
        let added = sqlx::query(
            "INSERT INTO eio_baseline_components (baseline_id, component, version, package)
             VALUES ($1, 'NIC.Integrated', '1.0', '/tmp/evil.EXE')",
        )
        .bind(baseline)
        .execute(&who.pool)
        .await;
        assert_eq!(sqlstate(added), DENIED);
        let moved = sqlx::query("UPDATE eio_baselines SET repository = 'https://evil.example' WHERE id = $1")
            .bind(baseline)
            .execute(&who.pool)
            .await;
        assert_eq!(sqlstate(moved), DENIED);
        let own = sqlx::query("INSERT INTO eio_baselines (name) VALUES ('mine')").execute(&who.pool).await;
        assert_eq!(sqlstate(own), DENIED);
    }
    let package: String = sqlx::query_scalar("SELECT package FROM eio_baseline_components WHERE baseline_id = $1")
        .bind(baseline)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(package, "BIOS_2.19.1.EXE");
    let audited: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT a.action, u.email FROM audit_events a LEFT JOIN users u ON u.id = a.actor_user
         WHERE a.target_id = $1::text ORDER BY a.id",
    )
    .bind(baseline)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(
        audited,
        [
            ("firmware_baseline.insert".to_owned(), Some("boss@example.com".to_owned())),
            ("firmware_baseline.insert".to_owned(), Some("boss@example.com".to_owned())),
        ]
    );
}

// -------------------------------------------------------------------------------------
// Advisory locks are EIO's own (migration 0067).

/// Every lock-taking advisory function, as a statement that would take EIO's locks.
const TAKE_EIO_LOCKS: [&str; 8] = [
    "SELECT pg_advisory_lock(hashtext('eio:lease_jobs'))",
    "SELECT pg_advisory_lock_shared(hashtextextended('eio:vm_counts_fold', 0))",
    "SELECT pg_try_advisory_lock(hashtextextended('eio:ipam:findings', 0))",
    "SELECT pg_try_advisory_lock_shared(hashtextextended('eio:site_inference', 0))",
    "SELECT pg_advisory_xact_lock(hashtext('eio:lease_jobs'))",
    "SELECT pg_advisory_xact_lock_shared(1, 2)",
    "SELECT pg_try_advisory_xact_lock(hashtextextended('eio:vm_counts_fold', 0))",
    "SELECT pg_try_advisory_xact_lock_shared(3, 4)",
];

/// No application login can hold a lock EIO serializes on (and so stall job leasing, IP
/// allocation, the VM-count fold, findings or site inference from psql), while what takes
/// those locks still works: a worker leases, an operator allocates from a prefix.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn no_login_can_hold_eios_advisory_locks(admin: PgPool) {
    for group in ["eio_viewer", "eio_operator", "eio_approver", "eio_admin", "eio_worker"] {
        let login = Login::new(&admin, group, None).await;
        for sql in TAKE_EIO_LOCKS {
            assert_eq!(sqlstate(sqlx::query(sql).execute(&login.pool).await), DENIED, "{group}: {sql}");
        }
        // Nor can one open them up again, or become the role that may take them.
        for sql in [
            "GRANT EXECUTE ON FUNCTION pg_advisory_lock(bigint) TO PUBLIC",
            "GRANT EXECUTE ON FUNCTION pg_advisory_lock(bigint) TO CURRENT_USER",
            "SET ROLE eio_owner",
        ] {
            assert_eq!(sqlstate(sqlx::query(sql).execute(&login.pool).await), DENIED, "{group}: {sql}");
        }
    }
    assert_eq!(eio_core::db::advisory::open(&admin).await.unwrap(), 0, "every lock-taking function is closed");

    // A grant a superuser made to a group role is found, and `eio migrate`'s step (as a
    // superuser) takes it back with PUBLIC's; a DBA login that is not one changes nothing.
    sqlx::raw_sql("GRANT EXECUTE ON FUNCTION pg_try_advisory_lock(bigint) TO eio_viewer, PUBLIC")
        .execute(&admin)
        .await
        .unwrap();
    assert_eq!(eio_core::db::advisory::open(&admin).await.unwrap(), 1);
    let dba = Login::new(&admin, "eio_admin", None).await;
    assert_eq!(eio_core::db::advisory::restrict(&dba.pool).await.unwrap(), None);
    assert_eq!(eio_core::db::advisory::restrict(&admin).await.unwrap(), Some(1));
    assert_eq!(eio_core::db::advisory::open(&admin).await.unwrap(), 0);
    let viewer = Login::new(&admin, "eio_viewer", None).await;
    let again = sqlx::query(TAKE_EIO_LOCKS[2]).execute(&viewer.pool).await;
    assert_eq!(sqlstate(again), DENIED, "the viewer's own grant is gone too");

    // The functions that take them still do, as the owner.
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let prefix: Uuid = sqlx::query_scalar(
        "INSERT INTO prefixes (routing_domain_id, cidr) VALUES (default_routing_domain_id(), '10.7.0.0/24') RETURNING id",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    let address: String = sqlx::query_scalar("SELECT host(address) FROM allocate_ip($1, 'web-1')")
        .bind(prefix)
        .fetch_one(&op.pool)
        .await
        .unwrap();
    assert_eq!(address, "10.7.0.1");
    let worker = Login::new(&admin, "eio_worker", None).await;
    assert_eq!(lease(&worker.pool, "w1").await, Vec::<Uuid>::new(), "leasing runs (nothing to lease)");
}
