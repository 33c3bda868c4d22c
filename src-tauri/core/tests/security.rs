//! The security model, proven the way an attacker would test it: logged in as real
//! PostgreSQL logins in each EIO group role, using plain SQL (no Rust checks involved).
mod common;

use common::{fake_ciphertext, host_plan, refusal, sqlstate, trust_test_key, two_sites, Login, TEST_RECIPIENT};
use sqlx::{PgPool, Row};
use uuid::Uuid;

const DENIED: &str = "42501";
const BAD_PARAMETER: &str = "22023";

async fn service_identity(admin: &PgPool) -> Uuid {
    trust_test_key(admin).await;
    sqlx::query_scalar(
        "INSERT INTO service_identities (name, system, username, encrypted_credentials, recipients)
         VALUES ('vc-prod', 'vcenter', 'svc-eio@vsphere.local', $1, ARRAY[$2]) RETURNING id",
    )
    .bind(fake_ciphertext())
    .bind(TEST_RECIPIENT)
    .fetch_one(admin)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn every_object_belongs_to_eio_owner(admin: PgPool) {
    // Tables, sequences, views, functions and types we created: none owned by the
    // migrating superuser, so the app never connects as the owner of anything.
    let strays: Vec<String> = sqlx::query_scalar(
        r#"
        SELECT kind || ' ' || name FROM (
            SELECT 'relation' AS kind, c.relname::text AS name, c.relowner AS owner, c.oid AS oid, 'pg_class'::regclass AS cls
            FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'S', 'v', 'm', 'p')
            UNION ALL
            SELECT 'function', p.proname::text, p.proowner, p.oid, 'pg_proc'::regclass
            FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
            UNION ALL
            SELECT 'type', t.typname::text, t.typowner, t.oid, 'pg_type'::regclass
            FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'c') AND t.typrelid = 0
        ) o
        WHERE o.owner <> 'eio_owner'::regrole
          AND o.name <> '_sqlx_migrations'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = o.cls AND d.objid = o.oid AND d.deptype = 'e')
        ORDER BY 1
        "#,
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(strays.is_empty(), "objects not owned by eio_owner: {strays:?}");

    // And no function of ours is executable by PUBLIC.
    let public_exec: Vec<String> = sqlx::query_scalar(
        "SELECT p.proname::text FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = 'eio_owner'::regrole
           AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                       WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(public_exec.is_empty(), "functions executable by PUBLIC: {public_exec:?}");
    // Not vacuously: the project has functions, and the check sees one that PUBLIC may run.
    let ours: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = 'eio_owner'::regrole",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(ours > 100, "only {ours} project functions");
    let mut tx = admin.begin().await.unwrap();
    sqlx::raw_sql("GRANT EXECUTE ON FUNCTION current_app_user_id() TO PUBLIC").execute(&mut *tx).await.unwrap();
    let seen: Vec<String> = sqlx::query_scalar(
        "SELECT p.proname::text FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = 'eio_owner'::regrole
           AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                       WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(seen, ["current_app_user_id"]);
    tx.rollback().await.unwrap();
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn every_table_is_readable_by_viewers_except_the_audit(admin: PgPool) {
    let unreadable: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
           AND NOT has_any_column_privilege('eio_viewer', c.oid, 'SELECT')
         ORDER BY 1",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(unreadable, vec!["audit_events".to_string()]);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_viewer_using_plain_sql_can_only_read(admin: PgPool) {
    let si = service_identity(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("viewer@example.com", "viewer", &[]))).await;
    let v = &viewer.pool;

    // Reading works.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM virtual_machines").fetch_one(v).await.unwrap();
    assert_eq!(n, 0);
    let name: String =
        sqlx::query_scalar("SELECT name FROM service_identities WHERE id = $1").bind(si).fetch_one(v).await.unwrap();
    assert_eq!(name, "vc-prod");

    // Everything else is refused by the database itself.
    let refused = [
        "INSERT INTO jobs (type, title, policy) VALUES ('sync', 'x', '{}')",
        "UPDATE job_events SET message = 'rewritten'",
        "DELETE FROM job_events",
        "TRUNCATE job_events",
        "SELECT encrypted_credentials FROM service_identities",
        "SELECT * FROM service_identities",
        "SELECT submit_job('sync', 'refresh inventory')",
        "SELECT approve_job(gen_random_uuid())",
        "SELECT deny_job(gen_random_uuid())",
        "SELECT set_kill_switch(true, 'panic')",
        "INSERT INTO prefixes (routing_domain_id, cidr) VALUES (default_routing_domain_id(), '10.0.0.0/24')",
        "UPDATE users SET role = 'admin'",
        "INSERT INTO approvals (job_id, approver_user_id, decision) VALUES (gen_random_uuid(), gen_random_uuid(), 'approved')",
        "UPDATE kill_switch SET engaged = true",
        "SELECT * FROM audit_events",
        "CREATE TABLE mine (x int)",
    ];
    for sql in refused {
        let state = sqlstate(sqlx::raw_sql(sql).execute(v).await);
        assert_eq!(state, DENIED, "a viewer could run: {sql}");
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn only_workers_read_credential_ciphertext(admin: PgPool) {
    let si = service_identity(&admin).await;
    for group in ["eio_viewer", "eio_operator", "eio_approver", "eio_admin"] {
        let login = Login::new(&admin, group, None).await;
        let state = sqlstate(
            sqlx::query("SELECT encrypted_credentials FROM service_identities WHERE id = $1")
                .bind(si)
                .fetch_one(&login.pool)
                .await,
        );
        assert_eq!(state, DENIED, "{group} read the ciphertext");
    }
    let worker = Login::new(&admin, "eio_worker", None).await;
    let ct: Vec<u8> = sqlx::query_scalar("SELECT encrypted_credentials FROM service_identities WHERE id = $1")
        .bind(si)
        .fetch_one(&worker.pool)
        .await
        .unwrap();
    assert_eq!(ct, fake_ciphertext());
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn admins_set_credentials_they_cannot_read_back(admin: PgPool) {
    let a = Login::new(&admin, "eio_admin", Some(("admin@example.com", "admin", &[]))).await;
    trust_test_key(&admin).await;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO service_identities (name, username, encrypted_credentials, recipients)
         VALUES ('idrac-fleet', 'root', $1, ARRAY[$2]) RETURNING id",
    )
    .bind(fake_ciphertext())
    .bind(TEST_RECIPIENT)
    .fetch_one(&a.pool)
    .await
    .unwrap();
    // Rotating is allowed...
    sqlx::query("UPDATE service_identities SET encrypted_credentials = $1, rotated_at = now() WHERE id = $2")
        .bind(fake_ciphertext())
        .bind(id)
        .execute(&a.pool)
        .await
        .unwrap();
    // ...reading back is not, and neither is a RETURNING that would leak it.
    assert_eq!(
        sqlstate(sqlx::query("SELECT encrypted_credentials FROM service_identities").fetch_all(&a.pool).await),
        DENIED
    );
    assert_eq!(
        sqlstate(
            sqlx::query("UPDATE service_identities SET username = 'x' WHERE id = $1 RETURNING encrypted_credentials")
                .bind(id)
                .fetch_one(&a.pool)
                .await
        ),
        DENIED
    );
    // A plaintext password can't be stored in the ciphertext column by mistake.
    let e = sqlx::query(
        "INSERT INTO service_identities (name, username, encrypted_credentials, recipients)
         VALUES ('oops', 'root', 'calvin', ARRAY[$1])",
    )
    .bind(TEST_RECIPIENT)
    .execute(&a.pool)
    .await;
    assert_eq!(sqlstate(e), "23514");
}

/// A job of `job_type`, submitted by `who` through the public function (disruptive jobs
/// with an empty plan: they touch nothing the inventory knows, so no site).
async fn submit(who: &PgPool, job_type: &str, key: Option<&str>) -> Result<(Uuid, String), sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, status::text AS status FROM submit_job($1::job_type, 'test job', p_idempotency_key => $2,
                                                          p_plan => $3)",
    )
    .bind(job_type)
    .bind(key)
    .bind(serde_json::json!({"summary": "test", "material": {}}))
    .fetch_one(who)
    .await?;
    Ok((row.get("id"), row.get("status")))
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn four_eyes_operators_submit_other_approvers_approve(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["maintenance_mode"]))).await;
    let ap1 = Login::new(&admin, "eio_approver", Some(("ap1@example.com", "approver", &["maintenance_mode"]))).await;
    let ap2 = Login::new(&admin, "eio_approver", Some(("ap2@example.com", "approver", &["maintenance_mode"]))).await;

    // The default policy requires approval.
    let (job, status) = submit(&op.pool, "maintenance_mode", None).await.unwrap();
    assert_eq!(status, "awaiting_approval");

    // An operator can't approve at all.
    let r = sqlx::query("SELECT approve_job($1)").bind(job).execute(&op.pool).await;
    assert_eq!(sqlstate(r), DENIED);

    // An approver can't approve their own job.
    let (own, _) = submit(&ap1.pool, "maintenance_mode", None).await.unwrap();
    let r = sqlx::query("SELECT approve_job($1, 'lgtm')").bind(own).execute(&ap1.pool).await;
    let (state, msg) = refusal(r);
    assert_eq!(state, DENIED, "{msg}");
    assert!(msg.contains("four eyes"), "{msg}");

    // Nor can anyone write the approval into the row directly.
    let r = sqlx::query("UPDATE jobs SET approved_by_user = $2, status = 'pending' WHERE id = $1")
        .bind(own)
        .bind(ap2.user_id)
        .execute(&ap1.pool)
        .await;
    assert_eq!(sqlstate(r), DENIED);

    // Another approver can.
    let row = sqlx::query("SELECT status::text AS status, approved_by_user FROM approve_job($1, 'window agreed')")
        .bind(job)
        .fetch_one(&ap1.pool)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("status"), "pending");
    assert_eq!(row.get::<Option<Uuid>, _>("approved_by_user"), ap1.user_id);

    // Approving twice is refused with a clear state error.
    let r = sqlx::query("SELECT approve_job($1)").bind(job).execute(&ap2.pool).await;
    assert_eq!(sqlstate(r), "55000");

    // The decision is evidence: an approvals row and an event with the comment.
    let events: Vec<(String, serde_json::Value)> =
        sqlx::query_as("SELECT message, data FROM job_events WHERE job_id = $1 ORDER BY id")
            .bind(job)
            .fetch_all(&admin)
            .await
            .unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "submitted by op@example.com");
    assert_eq!(events[1].0, "approved by ap1@example.com");
    assert_eq!(events[1].1["comment"], "window agreed");
    let approvals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM approvals WHERE job_id = $1 AND decision = 'approved'")
            .bind(job)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(approvals, 1);

    // Even the schema owner's check refuses an approver equal to the initiator.
    let r = sqlx::query("UPDATE jobs SET approved_by_user = initiated_by_user WHERE id = $1")
        .bind(own)
        .execute(&admin)
        .await;
    assert_eq!(sqlstate(r), "23514");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn denial_cancels_the_job_and_records_why(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["power"]))).await;
    let ap = Login::new(&admin, "eio_approver", Some(("ap@example.com", "approver", &["power"]))).await;
    let (job, _) = submit(&op.pool, "power", None).await.unwrap();
    let status: String = sqlx::query_scalar("SELECT status::text FROM deny_job($1, 'not during business hours')")
        .bind(job)
        .fetch_one(&ap.pool)
        .await
        .unwrap();
    assert_eq!(status, "cancelled");
    let comment: serde_json::Value =
        sqlx::query_scalar("SELECT data -> 'comment' FROM job_events WHERE job_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(job)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(comment, "not during business hours");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn capabilities_refine_roles(admin: PgPool) {
    let estate = two_sites(&admin).await;

    // Without the capability the job type needs: refused, naming it.
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["maintenance_mode"]))).await;
    let (state, msg) = refusal(submit(&op.pool, "firmware_update", None).await);
    assert_eq!(state, DENIED, "{msg}");
    assert!(msg.contains("firmware_update capability"), "{msg}");
    // Sync jobs need no capability beyond the operator role.
    assert!(submit(&op.pool, "sync", None).await.is_ok());

    // A site capability limits the user to that site: the site is the one the plan's hosts
    // are at, derived by the database; the site the client names is ignored.
    let scoped =
        Login::new(&admin, "eio_operator", Some(("east@example.com", "operator", &["power", "site:US-EAST-01"]))).await;
    let submit_on = |plan: serde_json::Value, claimed_site: Uuid| {
        let pool = scoped.pool.clone();
        async move {
            sqlx::query_as::<_, (Vec<Uuid>,)>(
                "SELECT site_ids FROM submit_job('power', 'reset', p_site_id => $1, p_plan => $2)",
            )
            .bind(claimed_site)
            .bind(plan)
            .fetch_one(&pool)
            .await
        }
    };
    let (sites,) = submit_on(host_plan(Some("vc-east")), estate.east).await.unwrap();
    assert_eq!(sites, vec![estate.east]);
    assert_eq!(sqlstate(submit_on(host_plan(Some("vc-west")), estate.west).await), DENIED);
    assert_eq!(
        sqlstate(submit_on(host_plan(Some("vc-west")), estate.east).await),
        DENIED,
        "claiming east for a west host"
    );
    assert_eq!(sqlstate(submit_on(host_plan(None), estate.east).await), DENIED, "host-1 is in both sites");

    // Unknown capabilities can't be granted.
    let r = sqlx::query("UPDATE users SET capabilities = '{teleport}' WHERE login_role = $1")
        .bind(&op.role)
        .execute(&admin)
        .await;
    assert_eq!(sqlstate(r), "23514");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn logins_without_a_user_or_disabled_users_cannot_submit(admin: PgPool) {
    let unmapped = Login::new(&admin, "eio_operator", None).await;
    let (state, msg) = refusal(submit(&unmapped.pool, "sync", None).await);
    assert_eq!(state, DENIED, "{msg}");
    assert!(msg.contains("not mapped"), "{msg}");

    let op = Login::new(&admin, "eio_operator", Some(("gone@example.com", "operator", &[]))).await;
    sqlx::query("UPDATE users SET disabled_at = now() WHERE login_role = $1")
        .bind(&op.role)
        .execute(&admin)
        .await
        .unwrap();
    let (state, msg) = refusal(submit(&op.pool, "sync", None).await);
    assert_eq!(state, DENIED, "{msg}");
    assert!(msg.contains("disabled"), "{msg}");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_same_idempotency_key_gives_one_job(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let (a, _) = submit(&op.pool, "sync", Some("nightly-2026-11-27")).await.unwrap();
    let (b, _) = submit(&op.pool, "sync", Some("nightly-2026-11-27")).await.unwrap();
    assert_eq!(a, b);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs").fetch_one(&admin).await.unwrap();
    assert_eq!(n, 1);
    // The key can't be reused for a different job.
    let r = submit(&op.pool, "report", Some("nightly-2026-11-27")).await;
    assert_eq!(sqlstate(r), "23505");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn job_events_are_append_only_for_everyone(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let (job, _) = submit(&op.pool, "sync", None).await.unwrap();
    let worker = Login::new(&admin, "eio_worker", None).await;

    // Workers may add events to a job they hold (and to no other)...
    let r = sqlx::query("INSERT INTO job_events (job_id, message) VALUES ($1, 'not mine')")
        .bind(job)
        .execute(&worker.pool)
        .await;
    assert_eq!(sqlstate(r), DENIED);
    sqlx::query("UPDATE jobs SET status = 'pending', policy = policy || '{\"require_approval\": false}' WHERE id = $1")
        .bind(job)
        .execute(&admin)
        .await
        .unwrap();
    let leased: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM lease_jobs('w-1', 1, '1 minute')").fetch_all(&worker.pool).await.unwrap();
    assert_eq!(leased, vec![job]);
    sqlx::query("INSERT INTO job_events (job_id, message) VALUES ($1, 'step 1 done')")
        .bind(job)
        .execute(&worker.pool)
        .await
        .unwrap();
    // ...but never change or remove one.
    for sql in ["UPDATE job_events SET message = 'x'", "DELETE FROM job_events", "TRUNCATE job_events"] {
        assert_eq!(sqlstate(sqlx::raw_sql(sql).execute(&worker.pool).await), DENIED, "worker ran {sql}");
    }
    // Not even a superuser goes around the trigger by accident.
    for sql in ["UPDATE job_events SET message = 'x'", "DELETE FROM job_events", "TRUNCATE job_events"] {
        let (state, msg) = refusal(sqlx::raw_sql(sql).execute(&admin).await);
        assert_eq!(state, DENIED, "{sql}: {msg}");
        assert!(msg.contains("append-only"), "{sql}: {msg}");
    }
    // Approvals and the audit trail are protected the same way.
    for sql in ["UPDATE approvals SET comment = 'x'", "DELETE FROM audit_events", "TRUNCATE approvals"] {
        let (state, msg) = refusal(sqlx::raw_sql(sql).execute(&admin).await);
        assert_eq!(state, DENIED, "{sql}: {msg}");
        assert!(msg.contains("append-only"), "{sql}: {msg}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM job_events WHERE job_id = $1")
        .bind(job)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(n, 3, "submitted, leased, the step");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn job_status_follows_the_legal_transitions(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let mut policy = serde_json::json!({"require_approval": false});
    let job: Uuid = sqlx::query_scalar("SELECT id FROM submit_job('sync', 'x', p_policy => $1)")
        .bind(&policy)
        .fetch_one(&op.pool)
        .await
        .unwrap();
    // Workers can't write the row at all (jobs move through functions); the transition
    // table binds even the schema's owner.
    let worker = Login::new(&admin, "eio_worker", None).await;
    let r = sqlx::query("UPDATE jobs SET status = 'running' WHERE id = $1").bind(job).execute(&worker.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    let set = |status: &'static str| {
        let pool = admin.clone();
        async move {
            sqlx::query("UPDATE jobs SET status = $2::job_status WHERE id = $1")
                .bind(job)
                .bind(status)
                .execute(&pool)
                .await
        }
    };
    assert_eq!(sqlstate(set("succeeded").await), "23514", "pending → succeeded skips running");
    set("running").await.unwrap();
    set("succeeded").await.unwrap();
    assert_eq!(sqlstate(set("running").await), "23514", "a finished job stays finished");
    let (started, finished): (Option<chrono::DateTime<chrono::Utc>>, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT started_at, finished_at FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(started.is_some() && finished.is_some());

    // Policies are validated where they are stored.
    policy = serde_json::json!({"allow_hard_poweroff": true});
    let r = sqlx::query("SELECT resolve_job_policy('default', $1, 'sync')").bind(&policy).fetch_one(&op.pool).await;
    let (state, msg) = refusal(r);
    assert_eq!(state, BAD_PARAMETER, "{msg}");
    assert!(msg.contains("allow_vm_shutdown"), "{msg}");
    let r =
        sqlx::query("SELECT id FROM submit_job('sync', 'x', p_policy => '{\"vm_limt\": 3}')").fetch_one(&op.pool).await;
    let (state, msg) = refusal(r);
    assert_eq!(state, BAD_PARAMETER, "{msg}");
    assert!(msg.contains("unknown job policy field \"vm_limt\""), "{msg}");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn row_level_security_lets_you_act_only_as_yourself(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let other = Login::new(&admin, "eio_operator", Some(("other@example.com", "operator", &[]))).await;
    let finding: Uuid = sqlx::query_scalar(
        "INSERT INTO ipam_findings (type, severity, subject_key, message)
         VALUES ('duplicate_usage', 'error', 'default/10.0.0.5', '10.0.0.5 used by two MACs') RETURNING id",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    // Acknowledging in someone else's name: the database writes your own instead.
    sqlx::query(
        "UPDATE ipam_findings SET acknowledged_at = now(), acknowledged_by = $2, acknowledge_note = 'x' WHERE id = $1",
    )
    .bind(finding)
    .bind(other.user_id)
    .execute(&op.pool)
    .await
    .unwrap();
    let by: Option<Uuid> = sqlx::query_scalar("SELECT acknowledged_by FROM ipam_findings WHERE id = $1")
        .bind(finding)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(by, op.user_id);
    // Only the acknowledgement columns may change.
    let r =
        sqlx::query("UPDATE ipam_findings SET resolved_at = now() WHERE id = $1").bind(finding).execute(&op.pool).await;
    assert_eq!(sqlstate(r), DENIED);

    // Report definitions carry their author, set by the database whatever the client sent.
    let author: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO report_definitions (name, type, created_by) VALUES ('mine', 'rvtools', $1) RETURNING created_by",
    )
    .bind(other.user_id)
    .fetch_one(&op.pool)
    .await
    .unwrap();
    assert_eq!(author, op.user_id);
    // Someone else's definition is invisible to your UPDATE.
    let n = sqlx::query("UPDATE report_definitions SET schedule = '0 6 * * *' WHERE name = 'mine'")
        .execute(&other.pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 0);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn any_operator_engages_the_kill_switch_only_admins_release_it(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let adm = Login::new(&admin, "eio_admin", Some(("admin@example.com", "admin", &[]))).await;
    let engaged: bool = sqlx::query_scalar("SELECT engaged FROM set_kill_switch(true, 'firmware bricking hosts')")
        .fetch_one(&op.pool)
        .await
        .unwrap();
    assert!(engaged);
    let r = sqlx::query("SELECT set_kill_switch(false, 'all clear')").execute(&op.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    let r = sqlx::query("SELECT set_kill_switch(false, '')").execute(&adm.pool).await;
    assert_eq!(sqlstate(r), "22023");
    let engaged: bool = sqlx::query_scalar("SELECT engaged FROM set_kill_switch(false, 'root cause fixed')")
        .fetch_one(&adm.pool)
        .await
        .unwrap();
    assert!(!engaged);
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_events ORDER BY id").fetch_all(&admin).await.unwrap();
    assert_eq!(actions, vec!["kill_switch.engage", "kill_switch.release"]);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn no_app_role_can_change_the_schema_or_its_guards(admin: PgPool) {
    let adm = Login::new(&admin, "eio_admin", Some(("admin@example.com", "admin", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    for pool in [&adm.pool, &worker.pool] {
        for sql in [
            "CREATE TABLE shadow (x int)",
            "DROP TABLE job_events",
            "ALTER TABLE job_events DISABLE TRIGGER job_events_append_only",
            "ALTER TABLE ipam_findings DISABLE ROW LEVEL SECURITY",
            "CREATE OR REPLACE FUNCTION forbid_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
            "SET ROLE eio_owner",
        ] {
            let state = sqlstate(sqlx::raw_sql(sql).execute(pool).await);
            assert_eq!(state, DENIED, "an app login could run: {sql}");
        }
    }
}
