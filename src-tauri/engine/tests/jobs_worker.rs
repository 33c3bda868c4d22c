//! The worker pool against the real database: leasing, approvals gating execution, the
//! per-cluster limit, cancellation, the kill switch, and the exactly-once protocol for
//! external actions when a worker dies mid-action (a fake target counts what it was asked).
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eio_core::identity::sealing::WorkerKey;
use eio_core::Database;
use eio_engine::jobs::context::{
    Action, Flags, Interrupt, Issued, JobContext, JobError, LeasedJob, Polled, Reconciled,
};
use eio_engine::jobs::{Worker, WorkerConfig};
use eio_engine::sync::Syncer;
use serde_json::json;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use uuid::Uuid;

/// Insert a job directly (the submit path and its rules are tested in eio-core).
async fn insert_job(
    pool: &PgPool,
    job_type: &str,
    target: serde_json::Value,
    status: &str,
    cluster: Option<Uuid>,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO jobs (type, status, title, target, policy, cluster_id, cluster_ids)
         VALUES ($1::job_type, $2::job_status, 'test', $3, $4, $5,
                 CASE WHEN $5::uuid IS NULL THEN '{}'::uuid[] ELSE ARRAY[$5::uuid] END) RETURNING id",
    )
    .bind(job_type)
    .bind(status)
    .bind(target)
    .bind(json!({"allow_vm_shutdown": false, "allow_hard_poweroff": false, "vm_limit": 10,
                 "shutdown_timeout_seconds": 300, "require_approval": false}))
    .bind(cluster)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn noop() -> serde_json::Value {
    json!({"type": "sync", "benchmark_noop": true})
}

/// Wait (on job notifications, never a sleep) until `sql` returns true.
async fn wait_until(pool: &PgPool, sql: &str, what: &str) {
    let mut listener = PgListener::connect_with(pool).await.unwrap();
    listener.listen_all(["eio_jobs", "eio_job_events"]).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if sqlx::query_scalar::<_, bool>(sql).fetch_one(pool).await.unwrap() {
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
    cfg.lease_ttl = Duration::from_secs(30);
    cfg.heartbeat_every = Duration::from_millis(200);
    cfg.idle_poll = Duration::from_millis(500);
    cfg.task_poll = Duration::from_millis(20);
    Worker::new(syncer, cfg)
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn pending_jobs_run_once_each_and_approvals_gate_them(pool: PgPool) {
    let jobs: Vec<Uuid> =
        futures::future::join_all((0..20).map(|_| insert_job(&pool, "sync", noop(), "pending", None))).await;
    let gated = insert_job(&pool, "sync", noop(), "awaiting_approval", None).await;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (a, b) = (worker(&pool, "w-a"), worker(&pool, "w-b"));
    let runs = tokio::spawn(async move {
        let (ra, rb) = tokio::join!(a.run(stop.clone()), b.run(stop));
        ra.unwrap();
        rb.unwrap();
    });
    wait_until(&pool, "SELECT count(*) = 20 FROM jobs WHERE status = 'succeeded'", "20 jobs to succeed").await;
    // Each ran exactly once: one lease each, no job leased by both workers.
    let leases: Vec<i64> = sqlx::query_scalar(
        "SELECT count(*) FROM job_events WHERE message LIKE 'leased by %' AND job_id = ANY($1) GROUP BY job_id",
    )
    .bind(&jobs)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(leases, vec![1; 20]);
    let status: String =
        sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(gated).fetch_one(&pool).await.unwrap();
    assert_eq!(status, "awaiting_approval", "a job awaiting approval is never leased");
    sqlx::query("UPDATE jobs SET status = 'pending' WHERE id = $1").bind(gated).execute(&pool).await.unwrap();
    wait_until(&pool, &format!("SELECT status = 'succeeded' FROM jobs WHERE id = '{gated}'"), "the approved job").await;
    let _ = stop_tx.send(true);
    runs.await.unwrap();
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_second_disruptive_job_on_a_full_cluster_waits(pool: PgPool) {
    let cluster: Uuid = sqlx::query_scalar(
        "WITH si AS (INSERT INTO worker_keys (public_key, label) VALUES ('age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq', 't') RETURNING 1),
              i AS (INSERT INTO service_identities (name, username, encrypted_credentials, recipients)
                    SELECT 'x', 'u', '\\x6167652d656e6372797074696f6e2e6f72672f76310a00'::bytea,
                           ARRAY['age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq'] FROM si RETURNING id),
              vc AS (INSERT INTO vcenter_instances (name, url, service_identity_id) SELECT 'vc', 'https://vc/sdk', id FROM i RETURNING id)
         INSERT INTO clusters (vcenter_id, moid, name) SELECT id, 'domain-c1', 'prod' FROM vc RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let target = json!({"type": "power", "action": "power_off", "vms": ["vm-1"]});
    let first = insert_job(&pool, "power", target.clone(), "pending", Some(cluster)).await;
    let second = insert_job(&pool, "power", target, "pending", Some(cluster)).await;
    let other = insert_job(&pool, "sync", noop(), "pending", None).await;

    let leased: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM lease_jobs('w-1', 10, interval '30 seconds')")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(leased.contains(&first) && leased.contains(&other), "{leased:?}");
    assert!(!leased.contains(&second), "one disruptive job per cluster at a time");
    let again: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM lease_jobs('w-2', 10, interval '30 seconds')")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(again.is_empty(), "the second still waits: {again:?}");
    sqlx::query("UPDATE jobs SET status = 'succeeded', lease_owner = NULL, lease_expires_at = NULL WHERE id = $1")
        .bind(first)
        .execute(&pool)
        .await
        .unwrap();
    let now: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM lease_jobs('w-2', 10, interval '30 seconds')")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(now, vec![second]);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_kill_switch_stops_leasing_and_is_seen_by_every_worker(pool: PgPool) {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let workers: Vec<Arc<Worker>> = (0..3).map(|i| Arc::new(worker(&pool, &format!("w-{i}")))).collect();
    let mut tasks = Vec::new();
    for w in &workers {
        let (w, stop) = (w.clone(), stop.clone());
        tasks.push(tokio::spawn(async move { w.run(stop).await.unwrap() }));
    }
    wait_until(&pool, "SELECT count(*) = 3 FROM worker_instances WHERE stopped_at IS NULL", "3 workers").await;
    let engaged_at = std::time::Instant::now();
    sqlx::query("UPDATE kill_switch SET engaged = true, reason = 'test', changed_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    let job = insert_job(&pool, "sync", noop(), "pending", None).await;
    // Every worker sees it (through NOTIFY); none leases the new job.
    for w in &workers {
        let seen = async {
            loop {
                let changed = w.stats.kill_switch_changed.notified();
                if w.stats.kill_switch_seen_at.lock().unwrap().is_some() {
                    break;
                }
                changed.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), seen).await.expect("a worker never saw the kill switch");
    }
    let slowest =
        workers.iter().map(|w| w.stats.kill_switch_seen_at.lock().unwrap().unwrap() - engaged_at).max().unwrap();
    println!("kill switch seen by all 3 workers {} ms after it was engaged", slowest.as_millis());
    let leased: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM lease_jobs('w-x', 10, interval '30 seconds')")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(leased.is_empty());
    let status: String =
        sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(job).fetch_one(&pool).await.unwrap();
    assert_eq!(status, "pending");
    sqlx::query("UPDATE kill_switch SET engaged = false, reason = 'clear', changed_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    wait_until(&pool, &format!("SELECT status = 'succeeded' FROM jobs WHERE id = '{job}'"), "the job after release")
        .await;
    let _ = stop_tx.send(true);
    for t in tasks {
        t.await.unwrap();
    }
}

/// Any database login may NOTIFY `eio_kill_switch` with a payload of its own: a worker
/// re-reads the row, so a forged "engaged" stops nothing (and a forged release would free
/// nothing either: the row decides both ways).
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_forged_kill_switch_notification_is_read_back_and_stops_nothing(pool: PgPool) {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let w = Arc::new(worker(&pool, "w-forged"));
    let task = {
        let (w, stop) = (w.clone(), stop.clone());
        tokio::spawn(async move { w.run(stop).await.unwrap() })
    };
    wait_until(&pool, "SELECT count(*) = 1 FROM worker_instances WHERE stopped_at IS NULL", "the worker").await;
    let changed = w.stats.kill_switch_changed.notified();
    sqlx::query("SELECT pg_notify('eio_kill_switch', '{\"engaged\": true, \"reason\": \"forged\"}')")
        .execute(&pool)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), changed).await.expect("the worker never read the notification");
    assert!(w.stats.kill_switch_seen_at.lock().unwrap().is_none(), "a forged payload engaged the kill switch");
    let job = insert_job(&pool, "sync", noop(), "pending", None).await;
    wait_until(
        &pool,
        &format!("SELECT status = 'succeeded' FROM jobs WHERE id = '{job}'"),
        "the job after the forgery",
    )
    .await;
    let _ = stop_tx.send(true);
    task.await.unwrap();
}

/// A fake external system: counts issued actions, and says whether the effect happened.
#[derive(Default)]
struct Target {
    issued: AtomicU32,
    done: AtomicBool,
    /// The task finishes only once released (so a worker can "die" while it runs).
    release: AtomicBool,
}

struct FakeAction(Arc<Target>);

impl Action for FakeAction {
    type Output = String;
    fn kind(&self) -> &'static str {
        "fake"
    }
    fn target(&self) -> serde_json::Value {
        json!({"fake": true})
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(60)
    }
    async fn reconcile(&self) -> Result<Reconciled<String>, String> {
        Ok(if self.0.done.load(Ordering::SeqCst) {
            Reconciled::Done("done".into())
        } else if self.0.issued.load(Ordering::SeqCst) > 0 {
            Reconciled::InFlight("task-1".into())
        } else {
            Reconciled::NotStarted
        })
    }
    async fn issue(&self) -> Result<Issued<String>, String> {
        self.0.issued.fetch_add(1, Ordering::SeqCst);
        Ok(Issued::Task("task-1".into()))
    }
    async fn poll(&self, _task: &str) -> Result<Polled<String>, String> {
        if self.0.release.load(Ordering::SeqCst) {
            self.0.done.store(true, Ordering::SeqCst);
            Ok(Polled::Done("done".into()))
        } else {
            Ok(Polled::Running { percent: Some(50), message: None })
        }
    }
}

async fn lease_as(pool: &PgPool, worker: &str, id: Uuid) -> JobContext {
    let job: LeasedJob = sqlx::query_as(
        "SELECT id, type, target, policy, plan, plan_hash, decision, attempts
         FROM lease_jobs($1, 1, interval '30 seconds')",
    )
    .bind(worker)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(job.id, id);
    JobContext {
        db: Database::from_pool(pool.clone()),
        worker: worker.into(),
        job,
        flags: Arc::new(Flags::default()),
        poll_every: Duration::from_millis(5),
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_dead_workers_action_is_resumed_never_issued_twice(pool: PgPool) {
    let target = Arc::new(Target::default());
    let job = insert_job(&pool, "sync", noop(), "pending", None).await;

    // Worker A issues the action and "dies" while waiting on it.
    let a = lease_as(&pool, "w-a", job).await;
    let running = {
        let target = target.clone();
        tokio::spawn(async move { a.run_action(1, "do the thing", &FakeAction(target)).await })
    };
    wait_until(
        &pool,
        &format!("SELECT EXISTS (SELECT 1 FROM job_steps WHERE job_id = '{job}' AND external_task_id IS NOT NULL)"),
        "the task id",
    )
    .await;
    running.abort();
    let _ = running.await;
    assert_eq!(target.issued.load(Ordering::SeqCst), 1);

    // Its lease lapses; worker B resumes: it re-attaches, it does not issue again.
    sqlx::query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(job)
        .execute(&pool)
        .await
        .unwrap();
    let b = lease_as(&pool, "w-b", job).await;
    target.release.store(true, Ordering::SeqCst);
    let out = b.run_action(1, "do the thing", &FakeAction(target.clone())).await.unwrap();
    assert_eq!(out, "done");
    assert_eq!(target.issued.load(Ordering::SeqCst), 1, "the action was issued exactly once");

    // A worker that lost its lease can't write anything any more.
    let stale = JobContext { worker: "w-a".into(), ..lease_as_unleased(&pool, job) };
    match stale.progress(0.5, "stale").await {
        Err(JobError::Interrupted(Interrupt::LeaseLost)) => {}
        other => panic!("a stale worker wrote: {other:?}"),
    }
    let events: Vec<String> = sqlx::query_scalar("SELECT message FROM job_events WHERE job_id = $1 ORDER BY id")
        .bind(job)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(events.iter().any(|m| m.contains("re-attaching to task-1")), "{events:?}");
}

/// A context for a job this worker does not hold (to prove it can't write).
fn lease_as_unleased(pool: &PgPool, job: Uuid) -> JobContext {
    JobContext {
        db: Database::from_pool(pool.clone()),
        worker: "nobody".into(),
        job: LeasedJob {
            id: job,
            job_type: eio_core::jobs::JobType::Sync,
            spec: serde_json::from_value(noop()).map_err(|e| e.to_string()),
            policy: None,
            plan: None,
            plan_hash: None,
            decision: Ok(None),
            attempts: 0,
        },
        flags: Arc::new(Flags::default()),
        poll_every: Duration::from_millis(5),
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_worker_that_died_between_issuing_and_recording_reconciles_first(pool: PgPool) {
    let target = Arc::new(Target::default());
    let job = insert_job(&pool, "sync", noop(), "pending", None).await;
    let a = lease_as(&pool, "w-a", job).await;
    // The step was marked running and the action issued, but the task id never recorded.
    let step = a.step(1, "do the thing", "fake", json!({})).await.unwrap();
    a.set_step(&step, "running", None, None).await.unwrap();
    target.issued.fetch_add(1, Ordering::SeqCst);

    sqlx::query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(job)
        .execute(&pool)
        .await
        .unwrap();
    let b = lease_as(&pool, "w-b", job).await;
    target.release.store(true, Ordering::SeqCst);
    assert_eq!(b.run_action(1, "do the thing", &FakeAction(target.clone())).await.unwrap(), "done");
    assert_eq!(target.issued.load(Ordering::SeqCst), 1, "reconciled with the target instead of issuing again");
    let task: Option<String> = sqlx::query_scalar("SELECT external_task_id FROM job_steps WHERE job_id = $1")
        .bind(job)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(task.as_deref(), Some("task-1"));
    // What the reconcile found is on the step, as the crash harness reads it.
    let reconciled: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT e.data FROM job_events e JOIN job_steps s ON s.id = e.step_id
         WHERE e.job_id = $1 AND s.seq = 1 AND e.data ->> 'kind' = 'reconciled'",
    )
    .bind(job)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(reconciled, vec![json!({"kind": "reconciled", "outcome": "in_flight", "task": "task-1"})]);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_kill_switch_pauses_a_running_job_before_its_next_external_call(pool: PgPool) {
    let target = Arc::new(Target::default());
    let job = insert_job(&pool, "sync", noop(), "pending", None).await;
    let ctx = lease_as(&pool, "w-a", job).await;
    sqlx::query("UPDATE kill_switch SET engaged = true, reason = 'bricking hosts', changed_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    match ctx.run_action(1, "do the thing", &FakeAction(target.clone())).await {
        Err(JobError::Interrupted(Interrupt::KillSwitch(reason))) => assert_eq!(reason, "bricking hosts"),
        other => panic!("expected the kill switch to stop it, got {other:?}"),
    }
    assert_eq!(target.issued.load(Ordering::SeqCst), 0, "no external call after the kill switch");
}

/// A rolling upgrade: a newer release migrated the database. This worker keeps running
/// but leases nothing, says which release to install, and takes jobs again once the schema
/// is one it knows.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_schema_ahead_of_the_worker_stops_it_taking_jobs(pool: PgPool) {
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99999, 'from a newer release', true, '\\x00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO schema_releases (version, release) VALUES (99999, '7.1.0')").execute(&pool).await.unwrap();
    let w = Arc::new(worker(&pool, "w-old"));
    // Checks counted from now: `after(n)` waits until the worker made n more.
    let after = |w: Arc<Worker>, n: u64| async move {
        let start = w.stats.schema_checks.load(Ordering::SeqCst);
        let enough = async {
            loop {
                let checked = w.stats.schema_checked.notified();
                if w.stats.schema_checks.load(Ordering::SeqCst) >= start + n {
                    break;
                }
                checked.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), enough).await.expect("the worker stopped checking the schema");
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let run = {
        let (w, stop) = (w.clone(), stop.clone());
        tokio::spawn(async move { w.run(stop).await.unwrap() })
    };
    after(w.clone(), 1).await;
    let advice = w.stats.schema_ahead.lock().unwrap().clone();
    assert_eq!(
        advice.as_deref(),
        Some(
            format!(
                "the database was migrated by EIO 7.1.0 (migration 99999 is unknown to EIO {}): install EIO 7.1.0 or later",
                env!("CARGO_PKG_VERSION")
            )
            .as_str()
        )
    );
    let job = insert_job(&pool, "sync", noop(), "pending", None).await;
    // Each check is followed by a lease turn in the same loop: two checks after the job
    // was inserted mean at least one turn in which it could have been leased.
    after(w.clone(), 2).await;
    let (status, leases): (String, i64) = sqlx::query_as(
        "SELECT status::text, (SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE 'leased by %')
         FROM jobs WHERE id = $1",
    )
    .bind(job)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), leases), ("pending", 0), "a worker behind the schema leased a job");

    // Whoever lacked it upgraded: the migration is one this build knows again.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 99999").execute(&pool).await.unwrap();
    wait_until(&pool, &format!("SELECT status = 'succeeded' FROM jobs WHERE id = '{job}'"), "the job once current")
        .await;
    assert_eq!(*w.stats.schema_ahead.lock().unwrap(), None);
    let _ = stop_tx.send(true);
    run.await.unwrap();
}
