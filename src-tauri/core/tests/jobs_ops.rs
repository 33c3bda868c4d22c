//! Named job policies and concurrency limits through the operation registry, as real
//! logins: admins decide them (audited by the database), everyone else reads them.
mod common;

use common::{two_sites, Login};
use eio_core::api::{self, op, NoInput, Session};
use eio_core::error::ErrorCode;
use eio_core::jobs::policies::{LimitInput, LimitScope, PolicyInput, PolicyNameInput};
use eio_core::Database;
use sqlx::PgPool;

fn session(login: &Login) -> Session {
    Session::new(Database::from_pool(login.pool.clone()))
}

fn policy(name: &str) -> PolicyInput {
    PolicyInput {
        name: name.into(),
        description: Some("lab hosts, nobody on call".into()),
        require_approval: false,
        allow_vm_shutdown: true,
        allow_hard_poweroff: false,
        vm_limit: 3,
        shutdown_timeout_seconds: 120,
        tag_filters: vec![" lab ".into(), "".into()],
        folder_filters: vec![],
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn admins_decide_policies_and_limits_and_everyone_else_reads_them(admin: PgPool) {
    two_sites(&admin).await;
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    let alice = Login::new(&admin, "eio_operator", Some(("alice@example.test", "operator", &[]))).await;
    let (c, a) = (session(&carol), session(&alice));

    // A policy: operators can't make one, admins can, and what is stored is cleaned.
    let err = api::call::<op::job_policy_save>(&a, policy("lab-unattended")).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
    let saved = api::call::<op::job_policy_save>(&c, policy("lab-unattended")).await.unwrap();
    assert_eq!(
        (saved.require_approval, saved.vm_limit, saved.tag_filters.clone()),
        (false, 3, vec!["lab".to_string()])
    );
    let mut repeated = policy("lab-unattended");
    repeated.tag_filters = vec!["b".into(), "a".into(), " b ".into()];
    let saved = api::call::<op::job_policy_save>(&c, repeated).await.unwrap();
    assert_eq!(saved.tag_filters, ["b", "a"], "repeats go, the order stays");
    let mut changed = policy("lab-unattended");
    changed.vm_limit = 1;
    assert_eq!(api::call::<op::job_policy_save>(&c, changed).await.unwrap().vm_limit, 1);
    let names: Vec<String> =
        api::call::<op::job_policies>(&a, NoInput {}).await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["default", "lab-unattended"]);
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE target_type = 'job_policy' AND actor_user = $1 ORDER BY id",
    )
    .bind(carol.user_id)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(actions, ["job_policy.insert", "job_policy.update", "job_policy.update"]);

    // Bad input is refused with a sentence, and nothing changes.
    let mut bad = policy("lab unattended");
    let err = api::call::<op::job_policy_save>(&c, bad.clone()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.starts_with("\"lab unattended\" is not a policy name"), "{}", err.message);
    bad.name = "x".into();
    bad.allow_vm_shutdown = false;
    bad.allow_hard_poweroff = true;
    let err = api::call::<op::job_policy_save>(&c, bad).await.unwrap_err();
    assert_eq!(err.message, "a policy that allows hard power-off must allow shutting VMs down too");
    let err = api::call::<op::job_policy_remove>(&c, PolicyNameInput { name: "default".into() }).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::InvalidInput, "the default policy stays: change it instead")
    );
    let err =
        api::call::<op::job_policy_remove>(&a, PolicyNameInput { name: "lab-unattended".into() }).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    let left = api::call::<op::job_policy_remove>(&c, PolicyNameInput { name: "lab-unattended".into() }).await.unwrap();
    assert_eq!(left.len(), 1);

    // Limits: the defaults, a site's own, then removed; never below 1.
    let limits = api::call::<op::concurrency_limits>(&a, NoInput {}).await.unwrap();
    let shown: Vec<(LimitScope, Option<String>, i32)> =
        limits.iter().map(|l| (l.scope, l.name.clone(), l.max_running)).collect();
    assert_eq!(shown, [(LimitScope::Cluster, None, 1), (LimitScope::Site, None, 4)]);
    let east =
        LimitInput { scope: LimitScope::Site, name: Some("us-east-01".into()), vcenter: None, max_running: Some(2) };
    let err = api::call::<op::concurrency_limit_set>(&a, east.clone()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    let limits = api::call::<op::concurrency_limit_set>(&c, east.clone()).await.unwrap();
    assert!(limits.iter().any(|l| l.name.as_deref() == Some("US-EAST-01") && l.max_running == 2), "{limits:?}");
    let err = api::call::<op::concurrency_limit_set>(&c, LimitInput { max_running: Some(0), ..east.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.message, "a limit is at least 1: to stop disruptive jobs at once, engage the kill switch");
    let err = api::call::<op::concurrency_limit_set>(
        &c,
        LimitInput { scope: LimitScope::Cluster, name: Some("prod".into()), vcenter: None, max_running: Some(2) },
    )
    .await
    .unwrap_err();
    assert_eq!(err.message, "2 clusters are named \"prod\": say which vCenter's");
    let limits = api::call::<op::concurrency_limit_set>(
        &c,
        LimitInput {
            scope: LimitScope::Cluster,
            name: Some("prod".into()),
            vcenter: Some("vc-west".into()),
            max_running: Some(2),
        },
    )
    .await
    .unwrap();
    assert!(limits.iter().any(|l| l.vcenter.as_deref() == Some("vc-west") && l.max_running == 2), "{limits:?}");
    let limits =
        api::call::<op::concurrency_limit_set>(&c, LimitInput { max_running: None, ..east.clone() }).await.unwrap();
    assert!(!limits.iter().any(|l| l.name.as_deref() == Some("US-EAST-01")), "{limits:?}");
    let err = api::call::<op::concurrency_limit_set>(&c, LimitInput { max_running: None, ..east }).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::NotFound, "site us-east-01 has no limit of its own: the default applies")
    );
    let err = api::call::<op::concurrency_limit_set>(
        &c,
        LimitInput { scope: LimitScope::Site, name: None, vcenter: None, max_running: None },
    )
    .await
    .unwrap_err();
    assert_eq!(err.message, "the default site limit stays: change it instead");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE target_type = 'concurrency_limit' AND actor_user = $1",
    )
    .bind(carol.user_id)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(audited, 3, "insert east, insert vc-west/prod, delete east");
}

/// The job page reads every job the system makes and every pause or decision stored, even
/// ones this version only partly understands: a scheduled sync has no policy to show, a
/// decision taken with `decide_job(…, NULL)` names no VMs, and a pause with one unreadable
/// blocker still offers the others.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_job_page_reads_system_jobs_and_damaged_pauses(admin: PgPool) {
    let id: uuid::Uuid = sqlx::query_scalar(
        "SELECT enqueue_system_job('sync', 'scheduled sync', '{\"type\": \"sync\"}', '{}', 'every-15-min')",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    let db = Database::from_pool(admin.clone());
    let page = eio_core::jobs::detail(&db, id).await.unwrap();
    assert!(page.policy.is_none(), "{:?}", page.policy);
    assert_eq!(page.job.job_type, eio_core::jobs::JobType::Sync);

    sqlx::query(
        r#"UPDATE jobs SET
             pause_reason = '{"kind": "blocked_evacuation", "host": "esx-1", "host_moid": "host-1", "message": "esx-1 cannot enter",
                              "blocking_vms": [{"vm_moid": 7}, {"vm_moid": "vm-2", "vm_name": "web02",
                                               "reason_code": "host_device", "reason": "a host CD-ROM"}],
                              "choices": ["cancel", "retry"],
                              "policy": {"allow_vm_shutdown": false, "vm_limit": 1, "shutdown_timeout_seconds": 60}}',
             decision = '{"choice": "retry", "vms": null, "by": "ann@example.test", "at": "2026-12-06T11:30:00+00:00"}'
           WHERE id = $1"#,
    )
    .bind(id)
    .execute(&admin)
    .await
    .unwrap();
    let page = eio_core::jobs::detail(&db, id).await.unwrap();
    let pause = page.pause_reason.expect("the pause is shown");
    let names: Vec<&str> = pause.blocking_vms().iter().map(|v| v.vm_name.as_str()).collect();
    assert_eq!(names, ["web02"]);
    assert_eq!(page.pause_message.as_deref(), Some("esx-1 cannot enter"));
    let decision = page.decision.expect("the decision is shown");
    assert_eq!((decision.choice, decision.vms.len()), (eio_core::jobs::Choice::Retry, 0));
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn policy_overrides_are_typed_and_a_misspelt_one_is_named(admin: PgPool) {
    use eio_core::jobs::PolicyOverrides;
    use serde_json::json;

    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    let c = session(&carol);
    // As the REST API and the desktop send it: refused before anything runs, the field named.
    let err = api::dispatch(
        &c,
        "job_submit",
        json!({"spec": {"type": "sync"}, "policy": {"require_aproval": true}, "dry_run": true}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput, "{err:?}");
    assert!(
        err.message.starts_with(
            "bad input for job_submit: policy overrides: unknown field `require_aproval`, expected one of"
        ),
        "{}",
        err.message
    );
    // As `eio job submit --policy-file` reads it: the same sentence.
    let err = PolicyOverrides::from_json(json!({"require_aproval": true})).unwrap_err();
    assert!(err.message.starts_with("policy overrides: unknown field `require_aproval`, expected one of"), "{err:?}");
    assert_eq!(PolicyOverrides::from_json(json!(null)).unwrap(), None);

    // Only the fields given reach the database, so an override left out keeps the policy's.
    let tighter = PolicyOverrides { vm_limit: Some(2), ..Default::default() };
    assert_eq!(serde_json::to_value(&tighter).unwrap(), json!({"vm_limit": 2}));
    let plan = api::dispatch(
        &c,
        "job_submit",
        json!({"spec": {"type": "sync"}, "policy": {"vm_limit": 2, "require_approval": null}, "dry_run": true}),
    )
    .await
    .unwrap();
    assert_eq!(
        (&plan["policy"]["vm_limit"], &plan["policy"]["require_approval"], &plan["job"]),
        (&json!(2), &json!(true), &json!(null))
    );
}
