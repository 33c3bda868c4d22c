//! Report jobs through the worker pool against the real database: a due schedule turns into
//! exactly one job and one execution however many workers tick, the files it writes hold the
//! database's rows, and a report job records its executions (format, size, path) as it ends.
use std::path::Path;
use std::time::Duration;

use eio_core::identity::sealing::WorkerKey;
use eio_core::reports::{self, NewDefinition, ReportFormat, ReportType};
use eio_core::Database;
use eio_engine::jobs::{Worker, WorkerConfig};
use eio_engine::sync::Syncer;
use serde_json::json;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// Three prefixes for the ipam_utilization report.
const PREFIXES: [&str; 3] = ["10.1.0.0/24", "10.2.0.0/24", "192.168.7.0/28"];

async fn seed(pool: &PgPool) {
    for (i, cidr) in PREFIXES.iter().enumerate() {
        sqlx::query(
            "INSERT INTO prefixes (routing_domain_id, cidr, vlan_id, description)
             VALUES (default_routing_domain_id(), $1::cidr, $2, $3)",
        )
        .bind(cidr)
        .bind(100 + i as i32)
        .bind(format!("test prefix {i}"))
        .execute(pool)
        .await
        .unwrap();
    }
}

async fn define(pool: &PgPool, name: &str, schedule: Option<&str>, formats: Vec<ReportFormat>, dir: &Path) -> Uuid {
    sqlx::query("INSERT INTO report_output_folders (path) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(dir.display().to_string())
        .execute(pool)
        .await
        .unwrap();
    let d = reports::define(
        &Database::from_pool(pool.clone()),
        &NewDefinition {
            name: name.into(),
            report_type: ReportType::IpamUtilization,
            formats,
            schedule: schedule.map(str::to_owned),
            filters: Default::default(),
            output_dir: Some(dir.display().to_string()),
            enabled: true,
        },
    )
    .await
    .unwrap();
    d.id
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
    cfg.heartbeat_every = Duration::from_millis(200);
    cfg.idle_poll = Duration::from_millis(200);
    cfg.task_poll = Duration::from_millis(20);
    // Both workers tick the schedules on every loop: the race is the point.
    cfg.report_schedule_every = Duration::ZERO;
    Worker::new(syncer, cfg)
}

/// Run `workers` until `until` holds, then stop them and wait for them to end.
async fn run_workers(pool: &PgPool, ids: &[&str], until: &str, what: &str) {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let handles: Vec<_> = ids
        .iter()
        .map(|id| {
            let w = worker(pool, id);
            let stop = stop.clone();
            tokio::spawn(async move { w.run(stop).await.unwrap() })
        })
        .collect();
    wait_until(pool, until, what).await;
    stop_tx.send(true).unwrap();
    for h in handles {
        h.await.unwrap();
    }
}

fn prefixes_in(text: &str) -> Vec<&'static str> {
    PREFIXES.iter().copied().filter(|p| text.contains(p)).collect()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_due_schedule_with_two_workers_running_makes_one_execution(pool: PgPool) {
    seed(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let def = define(&pool, "hourly-prefixes", Some("0 * * * *"), vec![ReportFormat::Json], dir.path()).await;
    sqlx::query("UPDATE report_definitions SET next_run_at = now() - interval '5 minutes' WHERE id = $1")
        .bind(def)
        .execute(&pool)
        .await
        .unwrap();

    // Both workers tick the schedule at start and on every loop after; stop once the job
    // succeeded and each worker has heartbeated (a heartbeat comes after a tick).
    run_workers(
        &pool,
        &["w-a", "w-b"],
        "SELECT EXISTS (SELECT FROM jobs WHERE type = 'report' AND status = 'succeeded')
         AND NOT EXISTS (SELECT FROM jobs WHERE type = 'report' AND status NOT IN ('succeeded', 'failed'))
         AND (SELECT count(*) = 2 FROM worker_instances WHERE id IN ('w-a', 'w-b') AND heartbeat_at > started_at)",
        "the scheduled report job to succeed",
    )
    .await;

    let jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE type = 'report'").fetch_one(&pool).await.unwrap();
    assert_eq!(jobs, 1, "one job for the due time, however many workers ticked");
    let rows = sqlx::query(
        "SELECT status::text AS status, format::text AS format, storage_path, size_bytes, row_count
         FROM report_executions WHERE definition_id = $1",
    )
    .bind(def)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "exactly one execution");
    let e = &rows[0];
    assert_eq!(e.get::<String, _>("status"), "completed");
    assert_eq!(e.get::<String, _>("format"), "json");
    let path: String = e.get("storage_path");
    assert!(Path::new(&path).starts_with(dir.path()), "{path} is in the definition's folder");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(e.get::<Option<i64>, _>("size_bytes"), Some(bytes.len() as i64));
    let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("the report is valid JSON");
    assert_eq!(doc["schema"], "eio.report/v1");
    assert_eq!(doc["report"], "ipam_utilization");
    let sheet = &doc["sheets"][0];
    assert_eq!(sheet["name"], "Prefixes");
    let cidrs: Vec<&str> = sheet["rows"].as_array().unwrap().iter().map(|r| r[1].as_str().unwrap()).collect();
    assert_eq!(cidrs.len(), PREFIXES.len());
    assert_eq!(prefixes_in(&cidrs.join(" ")), PREFIXES);
    assert_eq!(e.get::<Option<i64>, _>("row_count"), Some(PREFIXES.len() as i64));

    // The schedule moved on: nothing else is due.
    let next_due: bool = sqlx::query_scalar("SELECT next_run_at > now() FROM report_definitions WHERE id = $1")
        .bind(def)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(next_due);
    // Only one file was written in the folder, and no temporary file is left.
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|f| f.unwrap().file_name()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_report_job_through_the_worker_records_its_executions(pool: PgPool) {
    seed(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let def = define(&pool, "prefixes-now", None, vec![ReportFormat::Csv, ReportFormat::Json], dir.path()).await;
    // A report job as `eio job submit` writes it: the spec names the definition.
    let job: Uuid = sqlx::query_scalar(
        "INSERT INTO jobs (type, status, title, target, policy) VALUES ('report', 'pending', 'report now', $1, '{}')
         RETURNING id",
    )
    .bind(json!({"type": "report", "definition": "prefixes-now"}))
    .fetch_one(&pool)
    .await
    .unwrap();
    run_workers(
        &pool,
        &["w-report"],
        &format!("SELECT status IN ('succeeded', 'failed') FROM jobs WHERE id = '{job}'"),
        "the report job to end",
    )
    .await;

    let j = sqlx::query("SELECT status::text AS status, error, result FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(j.get::<String, _>("status"), "succeeded", "error: {:?}", j.get::<Option<String>, _>("error"));
    let executions = sqlx::query(
        "SELECT id, definition_id, status::text AS status, format::text AS format, storage_path, files, size_bytes,
                row_count, duration_ms, finished_at IS NOT NULL AS finished, error
         FROM report_executions WHERE job_id = $1 ORDER BY format",
    )
    .bind(job)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        executions.iter().map(|e| e.get::<String, _>("format")).collect::<Vec<_>>(),
        ["csv", "json"],
        "one execution per format of the definition"
    );
    let result: serde_json::Value = j.get("result");
    let listed = result["executions"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    for e in &executions {
        let format: String = e.get("format");
        assert_eq!(e.get::<Option<Uuid>, _>("definition_id"), Some(def));
        assert_eq!(e.get::<String, _>("status"), "completed", "{format}");
        assert!(e.get::<Option<String>, _>("error").is_none());
        assert!(e.get::<bool, _>("finished") && e.get::<Option<i64>, _>("duration_ms").is_some());
        let path: String = e.get("storage_path");
        assert!(path.ends_with(&format!(".{format}")) && Path::new(&path).starts_with(dir.path()), "{path}");
        assert_eq!(e.get::<Vec<String>, _>("files"), std::slice::from_ref(&path));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(e.get::<Option<i64>, _>("size_bytes"), Some(text.len() as i64), "{format}: size recorded");
        assert_eq!(prefixes_in(&text), PREFIXES, "{format}: the file holds the prefixes");
        assert_eq!(e.get::<Option<i64>, _>("row_count"), Some(PREFIXES.len() as i64));
        if format == "csv" {
            let mut lines = text.lines();
            assert!(lines.next().unwrap().contains("Prefix"), "a header row");
            assert_eq!(lines.count(), PREFIXES.len());
        }
        // The job's result names the same execution and file.
        let id: Uuid = e.get("id");
        let r = listed.iter().find(|r| r["id"] == id.to_string()).unwrap();
        assert_eq!(r["storage_path"], path);
        assert_eq!(r["format"], format);
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_report_job_for_a_missing_definition_fails_with_the_reason(pool: PgPool) {
    let job: Uuid = sqlx::query_scalar(
        "INSERT INTO jobs (type, status, title, target, policy) VALUES ('report', 'pending', 'gone', $1, '{}')
         RETURNING id",
    )
    .bind(json!({"type": "report", "definition": "no-such-report"}))
    .fetch_one(&pool)
    .await
    .unwrap();
    run_workers(
        &pool,
        &["w-missing"],
        &format!("SELECT status IN ('succeeded', 'failed') FROM jobs WHERE id = '{job}'"),
        "the report job to end",
    )
    .await;
    let (status, error): (String, Option<String>) =
        sqlx::query_as("SELECT status::text, error FROM jobs WHERE id = $1").bind(job).fetch_one(&pool).await.unwrap();
    assert_eq!(status, "failed");
    assert!(error.as_deref().unwrap().contains("no-such-report"), "{error:?}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM report_executions").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 0);
}
