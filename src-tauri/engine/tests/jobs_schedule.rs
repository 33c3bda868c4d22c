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

mod scheduled_jobs {
    //! Jobs submitted with a cron schedule: a definition that never runs itself; one run per
    //! due time across any number of worker instances; each run approved like a submit.
    //! Time is driven by moving the definition's `next_run_at` (the schedule reads the
    //! database's clock); waits are on notifications, with generous deadlines.
    use std::time::Duration;

    use eio_core::identity::sealing::WorkerKey;
    use eio_core::jobs::{self, JobSpec, PolicyOverrides, SubmitRequest, SyncTarget};
    use eio_core::Database;
    use eio_engine::jobs::schedule::enqueue_due_runs;
    use eio_engine::jobs::{Worker, WorkerConfig};
    use eio_engine::sync::Syncer;
    use sqlx::postgres::PgListener;
    use sqlx::PgPool;
    use uuid::Uuid;

    async fn operator(pool: &PgPool) -> Database {
        sqlx::query("INSERT INTO users (email, role, login_role) VALUES ('op@lab.test', 'admin', current_user)")
            .execute(pool)
            .await
            .unwrap();
        Database::from_pool(pool.clone())
    }

    async fn submit_scheduled(db: &Database, schedule: &str, policy: Option<PolicyOverrides>) -> Uuid {
        let submitted = jobs::submit(
            db,
            &SubmitRequest {
                spec: JobSpec::Sync(SyncTarget { source: None, kind: None, benchmark_noop: true }),
                title: Some("nightly no-op".into()),
                policy_name: None,
                policy,
                idempotency_key: None,
                run_at: None,
                schedule: Some(schedule.into()),
                dry_run: false,
            },
        )
        .await
        .unwrap();
        let job = submitted.job.unwrap();
        assert_eq!(job.status, eio_core::jobs::JobStatus::Scheduled);
        assert_eq!(job.schedule.as_deref(), Some(schedule));
        assert!(job.next_run_at.unwrap() > chrono::Utc::now(), "{job:?}");
        job.id
    }

    /// Make the definition due `ago` seconds in the past: a distinct due time each call.
    async fn make_due(pool: &PgPool, def: Uuid, ago: i64) {
        sqlx::query(
            "UPDATE jobs SET next_run_at = date_trunc('second', now()) - make_interval(secs => $2) WHERE id = $1",
        )
        .bind(def)
        .bind(ago as f64)
        .execute(pool)
        .await
        .unwrap();
    }

    async fn wait_until(pool: &PgPool, sql: &str, bind: Uuid, what: &str) {
        let mut listener = PgListener::connect_with(pool).await.unwrap();
        listener.listen_all(["eio_jobs", "eio_job_events"]).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if sqlx::query_scalar::<_, bool>(sql).bind(bind).fetch_one(pool).await.unwrap() {
                return;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), listener.recv()).await;
        }
    }

    fn worker(pool: &PgPool, id: &str) -> Worker {
        let syncer = Syncer::new(Database::from_pool(pool.clone()), WorkerKey::generate(), id);
        let mut cfg = WorkerConfig::new(id, "worker");
        cfg.idle_poll = Duration::from_millis(200);
        cfg.heartbeat_every = Duration::from_millis(500);
        // Both instances look for due schedules often: they race for every due time.
        cfg.report_schedule_every = Duration::from_millis(50);
        Worker::new(syncer, cfg)
    }

    async fn runs(pool: &PgPool, def: Uuid) -> Vec<(String, serde_json::Value)> {
        sqlx::query_as("SELECT status::text, params -> 'due_at' FROM jobs WHERE parent_job_id = $1 ORDER BY created_at")
            .bind(def)
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
    async fn two_workers_make_exactly_one_run_per_due_time(pool: PgPool) {
        let db = operator(&pool).await;
        let def = submit_scheduled(
            &db,
            "0 3 1 1 *",
            Some(PolicyOverrides { require_approval: Some(false), ..Default::default() }),
        )
        .await;
        // The definition itself is never leased.
        let leased: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM lease_jobs('probe', 10, interval '30 seconds')")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert!(leased.is_empty(), "{leased:?}");
        // Not due yet: nothing.
        assert!(enqueue_due_runs(&db).await.unwrap().is_empty());

        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let (a, b) = (worker(&pool, "w-a"), worker(&pool, "w-b"));
        let pool_run = tokio::spawn(async move {
            let (ra, rb) = tokio::join!(a.run(stop.clone()), b.run(stop));
            ra.unwrap();
            rb.unwrap();
        });

        for (n, ago) in [(1, 120), (2, 60), (3, 30)] {
            make_due(&pool, def, ago).await;
            wait_until(
                &pool,
                &format!(
                    "SELECT count(*) = {n} AND bool_and(status = 'succeeded')
                     FROM jobs WHERE parent_job_id = $1"
                ),
                def,
                &format!("run {n} to succeed"),
            )
            .await;
            // The definition moved on to its next time, in the future.
            let future: bool = sqlx::query_scalar("SELECT next_run_at > now() FROM jobs WHERE id = $1")
                .bind(def)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert!(future);
        }
        // Both instances kept ticking while the runs ran; still one run per due time.
        let (r1, r2, r3) = tokio::join!(enqueue_due_runs(&db), enqueue_due_runs(&db), enqueue_due_runs(&db));
        assert!(r1.unwrap().is_empty() && r2.unwrap().is_empty() && r3.unwrap().is_empty());
        let _ = stop_tx.send(true);
        pool_run.await.unwrap();
        let all = runs(&pool, def).await;
        assert_eq!(all.len(), 3, "{all:?}");
        let mut due: Vec<String> = all.iter().map(|(_, d)| d.to_string()).collect();
        due.dedup();
        assert_eq!(due.len(), 3, "three distinct due times: {all:?}");
        let status: String =
            sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(def).fetch_one(&pool).await.unwrap();
        assert_eq!(status, "scheduled", "the definition stays a definition");

        // Many instances at one due time: one run.
        make_due(&pool, def, 10).await;
        let created = futures::future::join_all((0..6).map(|_| enqueue_due_runs(&db))).await;
        let n: usize = created.into_iter().map(|r| r.unwrap().len()).sum();
        assert_eq!(n, 1);
        assert_eq!(runs(&pool, def).await.len(), 4);

        // Cancelling the definition ends the schedule.
        jobs::cancel(&db, def, "no longer needed").await.unwrap();
        make_due(&pool, def, 5).await;
        assert!(enqueue_due_runs(&db).await.unwrap().is_empty());
    }

    #[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
    async fn every_run_waits_for_an_approver_other_than_the_initiator(pool: PgPool) {
        let db = operator(&pool).await;
        // The default policy requires approval.
        let def = submit_scheduled(&db, "0 3 1 1 *", None).await;
        make_due(&pool, def, 60).await;
        let created = enqueue_due_runs(&db).await.unwrap();
        assert_eq!(created.len(), 1);
        let run = created[0];
        let (status, initiator, def_initiator, plan): (String, Option<Uuid>, Option<Uuid>, Option<serde_json::Value>) =
            sqlx::query_as(
                "SELECT r.status::text, r.initiated_by_user, d.initiated_by_user, r.plan
                 FROM jobs r JOIN jobs d ON d.id = r.parent_job_id WHERE r.id = $1",
            )
            .bind(run)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(status, "awaiting_approval");
        assert_eq!(initiator, def_initiator, "the run is the initiator's job");
        assert!(plan.is_some_and(|p| p.get("material").is_some()), "the run carries the plan its approver sees");
        // Not leased while it waits; the initiator can't approve it (four eyes).
        let leased: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM lease_jobs('probe', 10, interval '30 seconds')")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert!(leased.is_empty(), "{leased:?}");
        let err = jobs::approve(&db, run, Some("self"), false, None).await.unwrap_err();
        assert_eq!(err.code, eio_core::error::ErrorCode::Forbidden, "{}", err.message);
        assert!(err.message.contains("four eyes"), "{}", err.message);
        // The next due time makes another run, also waiting.
        make_due(&pool, def, 30).await;
        assert_eq!(enqueue_due_runs(&db).await.unwrap().len(), 1);
        let waiting: i64 =
            sqlx::query_scalar("SELECT count(*) FROM jobs WHERE parent_job_id = $1 AND status = 'awaiting_approval'")
                .bind(def)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(waiting, 2);
    }

    #[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
    async fn a_bad_schedule_or_one_with_a_run_time_is_refused(pool: PgPool) {
        let db = operator(&pool).await;
        let mut req = SubmitRequest {
            spec: JobSpec::Sync(SyncTarget { source: None, kind: None, benchmark_noop: true }),
            title: None,
            policy_name: None,
            policy: None,
            idempotency_key: None,
            run_at: None,
            schedule: Some("every night".into()),
            dry_run: false,
        };
        let err = jobs::submit(&db, &req).await.unwrap_err();
        assert!(err.message.contains("not a valid cron expression"), "{}", err.message);
        req.schedule = Some("0 2 * * *".into());
        req.run_at = Some(chrono::Utc::now());
        let err = jobs::submit(&db, &req).await.unwrap_err();
        assert!(err.message.contains("not both"), "{}", err.message);
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs").fetch_one(&pool).await.unwrap();
        assert_eq!(n, 0);
    }
}
