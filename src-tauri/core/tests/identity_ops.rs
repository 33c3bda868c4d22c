//! Users' capabilities and passwords, and worker keys, through the operation registry as
//! real logins: what an admin can do, and what an operator is refused (by PostgreSQL).
mod common;

use common::Login;
use eio_core::api::{self, op, NoInput, Session};
use eio_core::error::ErrorCode;
use eio_core::identity::ops::{UserCapabilitiesInput, UserPasswordInput, WorkerKeyInput};
use eio_core::identity::sealing::WorkerKey;
use eio_core::Database;
use sqlx::{Connection, PgPool};

fn session(login: &Login) -> Session {
    Session::new(Database::from_pool(login.pool.clone()))
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_admin_sets_capabilities_and_passwords_and_an_operator_cannot(admin: PgPool) {
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    let alice = Login::new(&admin, "eio_operator", Some(("alice@example.test", "operator", &[]))).await;
    let before: String = sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
        .bind(&alice.role)
        .fetch_one(&admin)
        .await
        .unwrap();

    let caps = vec!["maintenance_mode".to_owned(), "site:US-EAST-01".to_owned()];
    let u = api::call::<op::user_set_capabilities>(
        &session(&carol),
        UserCapabilitiesInput { email: "alice@example.test".into(), capabilities: caps.clone() },
    )
    .await
    .unwrap();
    assert_eq!(u.capabilities, caps);
    let err = api::call::<op::user_set_capabilities>(
        &session(&alice),
        UserCapabilitiesInput { email: "alice@example.test".into(), capabilities: vec!["power".into()] },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");

    let err = api::call::<op::user_set_password>(
        &session(&carol),
        UserPasswordInput { email: "alice@example.test".into(), password: "".into() },
    )
    .await
    .unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (ErrorCode::InvalidInput, "the password is empty"));
    let done = api::call::<op::user_set_password>(
        &session(&carol),
        UserPasswordInput { email: "alice@example.test".into(), password: "n3w-Passw0rd".into() },
    )
    .await
    .unwrap();
    assert_eq!(done.message, "Password of alice@example.test changed.");
    // PostgreSQL now holds a new SCRAM verifier for alice's login (this cluster trusts
    // loopback, so a sign-in can't tell passwords apart here).
    let verifier: String = sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
        .bind(&alice.role)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
    assert!(!verifier.contains("n3w-Passw0rd"));
    assert_ne!(verifier, before, "the verifier changed");
    let opts = admin.connect_options().as_ref().clone().username(&alice.role).password("n3w-Passw0rd");
    sqlx::PgConnection::connect_with(&opts).await.expect("alice signs in");

    // An operator can't set someone else's password.
    let err = api::call::<op::user_set_password>(
        &session(&alice),
        UserPasswordInput { email: "carol@example.test".into(), password: "taken-over".into() },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn worker_keys_are_trusted_and_revoked_by_admins_only(admin: PgPool) {
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    let alice = Login::new(&admin, "eio_operator", Some(("alice@example.test", "operator", &[]))).await;
    let public = WorkerKey::generate().public_key();

    let err =
        api::call::<op::worker_key_trust>(&session(&carol), WorkerKeyInput { public_key: public.clone(), label: None })
            .await
            .unwrap_err();
    assert_eq!(err.message, "label the key with the machine it belongs to");
    let err = api::call::<op::worker_key_trust>(
        &session(&alice),
        WorkerKeyInput { public_key: public.clone(), label: Some("w1".into()) },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");

    let done = api::call::<op::worker_key_trust>(
        &session(&carol),
        WorkerKeyInput { public_key: format!(" {public} "), label: Some("w1".into()) },
    )
    .await
    .unwrap();
    assert!(done.message.starts_with(&format!("Trusted {public} (\"w1\").")), "{}", done.message);
    let keys = api::call::<op::worker_keys>(&session(&carol), NoInput {}).await.unwrap();
    let listed: Vec<(&str, &str, bool)> =
        keys.iter().map(|k| (k.public_key.as_str(), k.label.as_str(), k.revoked)).collect();
    assert_eq!(listed, vec![(public.as_str(), "w1", false)]);

    let err = api::call::<op::worker_key_revoke>(
        &session(&alice),
        WorkerKeyInput { public_key: public.clone(), label: None },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
    api::call::<op::worker_key_revoke>(&session(&carol), WorkerKeyInput { public_key: public.clone(), label: None })
        .await
        .unwrap();
    let keys = api::call::<op::worker_keys>(&session(&carol), NoInput {}).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].revoked);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn identities_are_tested_and_resealed_with_this_machine_s_key_only(admin: PgPool) {
    use eio_core::identity::ops::IdentityNameInput;
    use eio_core::identity::service_identities::{self as ids, ExternalSystem, NewServiceIdentity};
    use eio_secret::Credentials;

    let key = WorkerKey::generate();
    let db = Database::from_pool(admin.clone());
    ids::trust_worker_key(&db, &key.public_key(), "this machine").await.unwrap();
    ids::add(
        &db,
        &NewServiceIdentity {
            name: "vc-svc".into(),
            system: ExternalSystem::Vcenter,
            credentials: Credentials::new("svc-eio", "s3cret-Pass"),
            rotation_period_days: 90,
        },
    )
    .await
    .unwrap();
    let worker = Login::new(&admin, "eio_worker", None).await;

    // Without a key (a web session of `eio serve`): said plainly, nothing opened.
    let err = api::call::<op::service_identity_test>(&session(&worker), IdentityNameInput { name: "vc-svc".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.starts_with("this needs a worker key on the machine that runs it"), "{err:?}");

    // With this machine's key: opened, recorded, and only the username leaves.
    let with_key = session(&worker).with_worker_key(key);
    let t =
        api::call::<op::service_identity_test>(&with_key, IdentityNameInput { name: "vc-svc".into() }).await.unwrap();
    assert_eq!((t.name.as_str(), t.username.as_str()), ("vc-svc", "svc-eio"));
    let json = serde_json::to_string(&t).unwrap();
    assert!(!json.contains("s3cret-Pass"), "{json}");
    let last_success: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_success FROM service_identities WHERE name = 'vc-svc'")
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(last_success.is_some(), "the test is recorded");

    // Resealing writes credentials: a worker alone may not; an admin who is also a worker
    // (the desktop's local login) may.
    let err = api::call::<op::service_identities_reseal>(&with_key, NoInput {}).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
    let both = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    sqlx::raw_sql(&format!("GRANT eio_worker TO {}", both.role)).execute(&admin).await.unwrap();
    let key = with_key.worker_key().unwrap().clone();
    let r = api::call::<op::service_identities_reseal>(&session(&both).with_worker_key(key), NoInput {}).await.unwrap();
    assert_eq!(r.resealed, vec!["vc-svc".to_owned()]);
    assert!(r.failed.is_empty(), "{:?}", r.failed);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn rotating_an_identity_may_change_its_rotation_period(admin: PgPool) {
    use eio_core::identity::ops::{ServiceIdentityInput, ServiceIdentityRotateInput};
    use eio_core::identity::service_identities::ExternalSystem;

    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    let public = WorkerKey::generate().public_key();
    api::call::<op::worker_key_trust>(
        &session(&carol),
        WorkerKeyInput { public_key: public, label: Some("w1".into()) },
    )
    .await
    .unwrap();
    let si = api::call::<op::service_identity_add>(
        &session(&carol),
        ServiceIdentityInput {
            name: "vc-svc".into(),
            system: ExternalSystem::Vcenter,
            username: "svc-eio".into(),
            password: "s3cret-Pass".into(),
            rotation_period_days: Some(90),
        },
    )
    .await
    .unwrap();
    assert_eq!(si.rotation_period_days, 90);
    let rotate = |password: &str, days: Option<i32>| ServiceIdentityRotateInput {
        name: "vc-svc".into(),
        username: None,
        password: password.into(),
        rotation_period_days: days,
    };
    // What the table holds: the period, and how many days after this rotation the next is due.
    let stored = || async {
        sqlx::query_scalar::<_, i32>("SELECT rotation_period_days FROM service_identities WHERE name = 'vc-svc'")
            .fetch_one(&admin)
            .await
            .unwrap()
    };
    let due_after = || async {
        let days: f64 = sqlx::query_scalar(
            "SELECT extract(epoch FROM rotation_due - rotated_at)::float8 / 86400 FROM service_identities
             WHERE name = 'vc-svc'",
        )
        .fetch_one(&admin)
        .await
        .unwrap();
        days
    };

    // A new period: stored, and the next rotation is due that many days from now.
    let si = api::call::<op::service_identity_rotate>(&session(&carol), rotate("n3w-Pass", Some(30))).await.unwrap();
    assert_eq!((si.rotation_period_days, si.username.as_str()), (30, "svc-eio"));
    assert_eq!(stored().await, 30);
    assert_eq!(due_after().await, 30.0);

    // None keeps the period the identity has.
    let si = api::call::<op::service_identity_rotate>(&session(&carol), rotate("n3w-Pass-2", None)).await.unwrap();
    assert_eq!(si.rotation_period_days, 30);
    assert_eq!(stored().await, 30);
    assert_eq!(due_after().await, 30.0);

    // Out of range: refused with a sentence, nothing changed.
    let err =
        api::call::<op::service_identity_rotate>(&session(&carol), rotate("n3w-Pass-3", Some(0))).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::InvalidInput, "a rotation period is 1 to 3650 days, not 0")
    );
    assert_eq!(stored().await, 30);
}
