//! Scheduled source syncs: every worker instance ticks, exactly one sync job per source and
//! interval is created, none while one is still open or after a recent sync.
use std::time::Duration;

use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities as ids;
use eio_core::jobs::JobSpec;
use eio_core::sources::{self, IdentityChoice, NewSource, SourceKind, TlsChoice};
use eio_core::Database;
use eio_engine::jobs::schedule::enqueue_due_syncs;
use eio_secret::Credentials;
use sqlx::PgPool;

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn each_source_gets_one_sync_job_per_interval_whoever_ticks(admin: PgPool) {
    let db = Database::from_pool(admin.clone());
    ids::trust_worker_key(&db, &WorkerKey::generate().public_key(), "test").await.unwrap();
    for (kind, name, url) in [
        (SourceKind::Vcenter, "vc-a", "https://vc-a.example.com/sdk"),
        (SourceKind::Vcenter, "vc-b", "https://vc-b.example.com/sdk"),
        (SourceKind::Idrac, "bmc-1", "https://10.0.0.5"),
        (SourceKind::Idrac, "bmc-2", "https://10.0.0.6"),
    ] {
        sources::add(
            &db,
            &NewSource {
                kind,
                name: name.into(),
                url: url.into(),
                identity: IdentityChoice::New {
                    name: Some(format!("id-{name}")),
                    credentials: Credentials::new("svc", "pw"),
                    rotation_period_days: 90,
                },
                tls: TlsChoice { thumbprint: None, insecure: true },
                site: None,
                driver: None,
            },
        )
        .await
        .unwrap();
    }
    let every = Duration::from_secs(900);
    // Several instances tick at once.
    let (a, b, c) =
        tokio::join!(enqueue_due_syncs(&db, every), enqueue_due_syncs(&db, every), enqueue_due_syncs(&db, every));
    let created = a.unwrap().len() + b.unwrap().len() + c.unwrap().len();
    assert_eq!(created, 3, "one job per vCenter, one for the iDRAC fleet");
    let targets: Vec<serde_json::Value> =
        sqlx::query_scalar("SELECT target FROM jobs WHERE type = 'sync' ORDER BY title")
            .fetch_all(&admin)
            .await
            .unwrap();
    let mut named: Vec<(Option<String>, SourceKind)> = targets
        .iter()
        .map(|t| match JobSpec::from_target(t).unwrap() {
            JobSpec::Sync(s) => (s.source, s.kind.unwrap()),
            other => panic!("{other:?}"),
        })
        .collect();
    named.sort_by(|x, y| x.0.cmp(&y.0));
    // The iDRAC fleet is one job (one bounded fleet sync), each vCenter its own.
    assert_eq!(
        named,
        vec![
            (None, SourceKind::Idrac),
            (Some("vc-a".into()), SourceKind::Vcenter),
            (Some("vc-b".into()), SourceKind::Vcenter)
        ]
    );
    // While they are open, nothing more.
    assert!(enqueue_due_syncs(&db, every).await.unwrap().is_empty());
    // Done, and vc-a synced a moment ago (say by hand): the rest wait for the next interval,
    // vc-a is not synced again before its interval has passed.
    sqlx::query("UPDATE jobs SET status = 'running' WHERE type = 'sync'").execute(&admin).await.unwrap();
    sqlx::query("UPDATE jobs SET status = 'succeeded' WHERE type = 'sync'").execute(&admin).await.unwrap();
    sqlx::query(
        "INSERT INTO sync_runs (source_type, source_id, status, finished_at, duration_ms)
         SELECT 'vcenter', id, 'succeeded', now(), 1 FROM vcenter_instances WHERE name = 'vc-a'",
    )
    .execute(&admin)
    .await
    .unwrap();
    assert!(enqueue_due_syncs(&db, every).await.unwrap().is_empty(), "same interval: the idempotency key holds");
    let other = enqueue_due_syncs(&db, Duration::from_secs(600)).await.unwrap();
    assert_eq!(other.len(), 2, "a new interval: every source but the one just synced");
}
