//! Identity and RBAC against the real database: the full role × action matrix run as real
//! PostgreSQL logins, user management through the admin functions, and service
//! identities sealed for worker keys.
mod common;

use common::{fake_ciphertext, trust_test_key, DropRole, Login, TEST_RECIPIENT};
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities::{self as ids, ExternalSystem, NewServiceIdentity};
use eio_core::identity::users::{self, NewUser, UserRole};
use eio_core::Database;
use eio_secret::{Credentials, Secret};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// What each group role may do, as the database decides: (action, [viewer, operator, approver, admin, worker]).
const MATRIX: &[(&str, [bool; 5])] = &[
    ("read_inventory", [true, true, true, true, true]),
    ("submit_job", [false, true, true, true, false]),
    ("approve_others_job", [false, false, true, true, false]),
    ("approve_own_job", [false, false, false, false, false]),
    ("add_user", [false, false, false, true, false]),
    ("set_credentials", [false, false, false, true, false]),
    ("read_ciphertext", [false, false, false, false, true]),
    ("engage_kill_switch", [false, true, true, true, false]),
    ("release_kill_switch", [false, false, false, true, false]),
    ("plan_ipam", [false, true, true, true, false]),
    ("write_inventory", [false, false, false, false, true]),
    // Workers add events only to the jobs they hold (not this one).
    ("append_job_event", [false, false, false, false, false]),
    ("modify_job_event", [false, false, false, false, false]),
    ("read_audit", [false, false, false, true, false]),
    ("trust_worker_key", [false, false, false, true, false]),
    ("record_credential_use", [false, false, false, false, true]),
    // Jobs move only through the database's functions: nobody writes the row itself.
    ("write_job_status", [false, false, false, false, false]),
    ("insert_ready_job", [false, false, false, false, false]),
];

const GROUPS: [(&str, &str); 5] = [
    ("eio_viewer", "viewer"),
    ("eio_operator", "operator"),
    ("eio_approver", "approver"),
    ("eio_admin", "admin"),
    ("eio_worker", ""),
];

/// Run one action as `login` inside a transaction that is always rolled back, so every
/// cell of the matrix starts from the same state. Ok(()) = the database allowed it.
async fn attempt(
    login: &Login,
    action: &str,
    others_job: Uuid,
    own_job: Option<Uuid>,
    identity: Uuid,
) -> Result<(), String> {
    let mut tx = login.pool.begin().await.map_err(|e| e.to_string())?;
    let r =
        match action {
            "read_inventory" => sqlx::query("SELECT count(*) FROM virtual_machines").execute(&mut *tx).await,
            "submit_job" => sqlx::query("SELECT submit_job('sync', 'matrix')").execute(&mut *tx).await,
            "approve_others_job" => sqlx::query("SELECT approve_job($1)").bind(others_job).execute(&mut *tx).await,
            "approve_own_job" => match own_job {
                Some(j) => sqlx::query("SELECT approve_job($1)").bind(j).execute(&mut *tx).await,
                // No users row, so no job of its own: refused as submitting would be.
                None => return Err("42501".into()),
            },
            "add_user" => {
                sqlx::query("SELECT create_user('new@example.com', 'viewer', $1)")
                    .bind(format!("eio_t_new_{}", &Uuid::new_v4().simple().to_string()[..8]))
                    .execute(&mut *tx)
                    .await
            }
            "set_credentials" => {
                sqlx::query(
                    "INSERT INTO service_identities (name, username, encrypted_credentials, recipients)
                 VALUES ('matrix', 'u', $1, ARRAY[$2])",
                )
                .bind(fake_ciphertext())
                .bind(TEST_RECIPIENT)
                .execute(&mut *tx)
                .await
            }
            "read_ciphertext" => {
                sqlx::query("SELECT encrypted_credentials FROM service_identities").execute(&mut *tx).await
            }
            "engage_kill_switch" => sqlx::query("SELECT set_kill_switch(true, 'matrix')").execute(&mut *tx).await,
            "release_kill_switch" => sqlx::query("SELECT set_kill_switch(false, 'matrix')").execute(&mut *tx).await,
            "plan_ipam" => sqlx::query(
                "INSERT INTO prefixes (routing_domain_id, cidr) VALUES (default_routing_domain_id(), '10.9.0.0/24')",
            )
            .execute(&mut *tx)
            .await,
            "write_inventory" => sqlx::query("UPDATE esxi_hosts SET name = name WHERE false").execute(&mut *tx).await,
            "append_job_event" => {
                sqlx::query("INSERT INTO job_events (job_id, message) VALUES ($1, 'matrix')")
                    .bind(others_job)
                    .execute(&mut *tx)
                    .await
            }
            "modify_job_event" => sqlx::query("UPDATE job_events SET message = 'x'").execute(&mut *tx).await,
            "read_audit" => sqlx::query("SELECT count(*) FROM audit_events").execute(&mut *tx).await,
            "trust_worker_key" => {
                sqlx::query("SELECT trust_worker_key($1, 'matrix')")
                    .bind("age1zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")
                    .execute(&mut *tx)
                    .await
            }
            "record_credential_use" => {
                sqlx::query("UPDATE service_identities SET last_success = now() WHERE id = $1")
                    .bind(identity)
                    .execute(&mut *tx)
                    .await
            }
            "write_job_status" => {
                sqlx::query("UPDATE jobs SET status = 'pending', approved_by_user = NULL WHERE id = $1")
                    .bind(others_job)
                    .execute(&mut *tx)
                    .await
            }
            "insert_ready_job" => {
                sqlx::query("INSERT INTO jobs (type, status, title, policy) VALUES ('power', 'pending', 'x', '{}')")
                    .execute(&mut *tx)
                    .await
            }
            other => panic!("unknown action {other}"),
        };
    let _ = tx.rollback().await;
    r.map(|_| ()).map_err(|e| match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()).unwrap_or_default(),
        other => format!("not a database refusal: {other}"),
    })
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_role_by_action_matrix_holds_for_real_logins(admin: PgPool) {
    trust_test_key(&admin).await;
    let identity: Uuid = sqlx::query_scalar(
        "INSERT INTO service_identities (name, username, encrypted_credentials, recipients)
         VALUES ('vc-prod', 'svc', $1, ARRAY[$2]) RETURNING id",
    )
    .bind(fake_ciphertext())
    .bind(TEST_RECIPIENT)
    .fetch_one(&admin)
    .await
    .unwrap();
    let other = Login::new(&admin, "eio_operator", Some(("other@example.com", "operator", &[]))).await;
    let others_job: Uuid =
        sqlx::query_scalar("SELECT id FROM submit_job('sync', 'theirs')").fetch_one(&other.pool).await.unwrap();

    let mut logins = Vec::new();
    for (i, (group, role)) in GROUPS.iter().enumerate() {
        let user = (!role.is_empty()).then(|| (format!("user{i}@example.com"), *role));
        let login = Login::new(&admin, group, user.as_ref().map(|(e, r)| (e.as_str(), *r, &[][..]))).await;
        // Every mapped user also has a job of their own awaiting approval.
        let own_job: Option<Uuid> = match login.user_id {
            Some(uid) => Some(
                sqlx::query_scalar(
                    "INSERT INTO jobs (type, status, title, policy, initiated_by_user)
                     VALUES ('sync', 'awaiting_approval', 'mine', '{}', $1) RETURNING id",
                )
                .bind(uid)
                .fetch_one(&admin)
                .await
                .unwrap(),
            ),
            None => None,
        };
        logins.push((group, login, own_job));
    }

    let mut wrong = Vec::new();
    for (action, expected) in MATRIX {
        for (i, (group, login, own_job)) in logins.iter().enumerate() {
            let outcome = attempt(login, action, others_job, *own_job, identity).await;
            // A refusal counts only as the database's permission error (42501), never as
            // any error: a typo in an attack must not pass for a refusal.
            let held = match &outcome {
                Ok(()) => expected[i],
                Err(code) => !expected[i] && code == "42501",
            };
            if !held {
                wrong.push(format!(
                    "{group} {action}: expected {}, got {outcome:?}",
                    if expected[i] { "allowed" } else { "refused" }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "the matrix does not hold:\n{}", wrong.join("\n"));
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn admins_manage_users_through_the_database(admin: PgPool) {
    let boss = Login::new(&admin, "eio_admin", Some(("boss@example.com", "admin", &[]))).await;
    let db = Database::from_pool(boss.pool.clone());
    let login = format!("eio_t_alice_{}", &Uuid::new_v4().simple().to_string()[..8]);
    let _cleanup = DropRole(admin.clone(), login.clone());
    let alice = users::add(
        &db,
        &NewUser {
            email: "alice@example.com".into(),
            role: UserRole::Operator,
            login: login.clone(),
            capabilities: vec!["maintenance_mode".into()],
            display_name: Some("Alice".into()),
            password: Some(Secret::new("alice-pw-8e1f")),
        },
    )
    .await
    .unwrap();
    assert_eq!(alice.role, UserRole::Operator);

    // The login exists, is an operator, and its password is a SCRAM verifier.
    let row = sqlx::query("SELECT rolpassword, rolcanlogin FROM pg_authid WHERE rolname = $1")
        .bind(&login)
        .fetch_one(&admin)
        .await
        .unwrap();
    let stored: String = row.get("rolpassword");
    assert!(stored.starts_with("SCRAM-SHA-256$"), "{stored}");
    assert!(!stored.contains("alice-pw-8e1f"));
    let is_operator: bool = sqlx::query_scalar("SELECT pg_has_role($1, 'eio_operator', 'MEMBER')")
        .bind(&login)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(is_operator);

    // Role changes move the group role too.
    users::set_role(&db, "alice@example.com", UserRole::Approver).await.unwrap();
    let groups: Vec<String> = sqlx::query_scalar(
        "SELECT r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
         WHERE m.member = $1::regrole ORDER BY 1",
    )
    .bind(&login)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(groups, vec!["eio_approver".to_string()]);

    // Plaintext passwords are refused by the server itself.
    let r = sqlx::query("SELECT create_user('bob@example.com', 'viewer', 'eio_t_bob', '{}', 'hunter2')")
        .execute(&boss.pool)
        .await;
    match r {
        Err(sqlx::Error::Database(e)) => {
            assert_eq!(e.code().as_deref(), Some("22023"), "{e}");
            assert!(e.message().contains("SCRAM"), "{e}");
        }
        other => panic!("a plaintext password was not refused: {other:?}"),
    }

    // Too-powerful logins can't be linked.
    let e = users::add(
        &db,
        &NewUser {
            email: "pg@example.com".into(),
            role: UserRole::Viewer,
            login: "postgres".into(),
            capabilities: vec![],
            display_name: None,
            password: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, eio_core::error::ErrorCode::InvalidInput, "{}", e.message);
    assert!(e.message.contains("reserved"), "{}", e.message);

    // Duplicate emails are a conflict, said plainly.
    let e = users::add(
        &db,
        &NewUser {
            email: "ALICE@example.com".into(),
            role: UserRole::Viewer,
            login: format!("{login}x"),
            capabilities: vec![],
            display_name: None,
            password: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, eio_core::error::ErrorCode::Conflict, "{}", e.message);

    // Disabling ends the user's sessions and refuses new logins.
    let alice_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin.connect_options().as_ref().clone().username(&login).password("alice-pw-8e1f"))
        .await
        .unwrap();
    let mut alice_conn = alice_pool.acquire().await.unwrap();
    sqlx::query("SELECT 1").execute(&mut *alice_conn).await.unwrap();
    users::disable(&db, "alice@example.com").await.unwrap();
    // The backend was terminated (57P01 admin_shutdown), not merely refused a statement.
    match sqlx::query("SELECT 1").execute(&mut *alice_conn).await {
        Err(sqlx::Error::Database(e)) => assert_eq!(e.code().as_deref(), Some("57P01"), "{e}"),
        other => panic!("the open session should have been ended, got {other:?}"),
    }
    drop(alice_conn);
    alice_pool.close().await;
    let can_login: bool = sqlx::query_scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1")
        .bind(&login)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(!can_login);

    // The last admin can't lock everyone out.
    let e = users::disable(&db, "boss@example.com").await.unwrap_err();
    assert!(e.message.contains("last active admin"), "{}", e.message);

    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_events ORDER BY id").fetch_all(&admin).await.unwrap();
    assert_eq!(actions, vec!["user.create", "user.role_change", "user.disable"]);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn service_identities_open_only_for_trusted_workers_and_every_use_is_audited(admin: PgPool) {
    let boss = Login::new(&admin, "eio_admin", Some(("boss@example.com", "admin", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let (admin_db, worker_db) = (Database::from_pool(boss.pool.clone()), Database::from_pool(worker.pool.clone()));
    let key = WorkerKey::generate();
    let new = NewServiceIdentity {
        name: "vc-prod".into(),
        system: ExternalSystem::Vcenter,
        credentials: Credentials::new("svc-eio@vsphere.local", "vc-pw-41d7"),
        rotation_period_days: 30,
    };

    // No trusted key yet: nothing can be sealed.
    let e = ids::add(&admin_db, &new).await.unwrap_err();
    assert!(e.message.contains("init-worker-key"), "{}", e.message);

    ids::trust_worker_key(&admin_db, &key.public_key(), "worker-1").await.unwrap();
    let si = ids::add(&admin_db, &new).await.unwrap();
    assert_eq!(si.sealed_for, vec![key.public_key()]);
    assert!(si.rotation_due.is_some() && !si.rotation_overdue);

    // The admin can list it but never open it: no ciphertext reaches them.
    let (_, creds) = ids::open_for_use(&worker_db, "vc-prod", &key).await.unwrap();
    assert_eq!(creds.password.expose(), "vc-pw-41d7");
    let e = ids::open_for_use(&admin_db, "vc-prod", &key).await.unwrap_err();
    assert_eq!(e.code, eio_core::error::ErrorCode::Forbidden, "{}", e.message);

    // A worker with another key gets a clear error naming the identity and the keys.
    let stranger = WorkerKey::generate();
    let e = ids::open_for_use(&worker_db, "vc-prod", &stranger).await.unwrap_err();
    assert!(e.message.contains("\"vc-prod\"") && e.message.contains(&stranger.public_key()), "{}", e.message);
    assert!(!e.message.contains("vc-pw-41d7"));
    let last_error: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM service_identities WHERE name = 'vc-prod'")
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(last_error.unwrap().contains("vc-prod"));

    // Rotation re-seals and restarts the clock; overdue identities raise a warning finding.
    ids::rotate(&admin_db, "vc-prod", &Credentials::new("svc-eio@vsphere.local", "vc-pw-2")).await.unwrap();
    let (_, creds) = ids::open_for_use(&worker_db, "vc-prod", &key).await.unwrap();
    assert_eq!(creds.password.expose(), "vc-pw-2");
    sqlx::query("UPDATE service_identities SET rotation_due = now() - interval '1 day'").execute(&admin).await.unwrap();
    assert_eq!(ids::refresh_rotation_findings(&worker_db).await.unwrap(), 1);
    let (severity, resolved): (String, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT severity::text, resolved_at FROM ipam_findings WHERE type = 'credential_rotation_due'")
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!((severity.as_str(), resolved), ("warning", None));
    ids::rotate(&admin_db, "vc-prod", &Credentials::new("svc-eio@vsphere.local", "vc-pw-3")).await.unwrap();
    assert_eq!(ids::refresh_rotation_findings(&worker_db).await.unwrap(), 0, "rotating resolves the finding");

    // A ciphertext moved onto another identity's row is refused.
    ids::add(&admin_db, &NewServiceIdentity { name: "vc-lab".into(), ..new.clone() }).await.unwrap();
    sqlx::query(
        "UPDATE service_identities SET encrypted_credentials = (SELECT encrypted_credentials FROM service_identities WHERE name = 'vc-prod') WHERE name = 'vc-lab'",
    )
    .execute(&admin)
    .await
    .unwrap();
    let e = ids::open_for_use(&worker_db, "vc-lab", &key).await.unwrap_err();
    assert!(e.message.contains("moved between identities"), "{}", e.message);

    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE target_type IN ('service_identity', 'worker_key') ORDER BY id",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(
        actions,
        vec![
            "worker_key.trust",
            "credential.set",
            "credential.use", // failed open with the stranger's key
            "credential.rotate",
            "credential.rotate",
            "credential.set",
            "credential.reseal", // the superuser's copy between rows: rotated_at unchanged
            "credential.use",    // the refused moved ciphertext
        ]
    );
}
