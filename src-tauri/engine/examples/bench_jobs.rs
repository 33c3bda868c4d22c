//! Benchmarks of the worker pool on this machine, printing numbers (asserting nothing):
//! * no-op job throughput, lease → complete, with N in-process workers;
//! * how long until every worker has seen the kill switch engaged.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --release -p eio-engine --example bench_jobs [-- JOBS WORKERS SLOTS]
//! ```
//! It works in a scratch database it creates and drops.
use std::sync::Arc;
use std::time::{Duration, Instant};

use eio_core::identity::sealing::WorkerKey;
use eio_core::Database;
use eio_engine::jobs::{Worker, WorkerConfig};
use eio_engine::sync::Syncer;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};

fn worker(pool: &PgPool, id: String, slots: usize) -> Arc<Worker> {
    let syncer = Syncer::new(Database::from_pool(pool.clone()), WorkerKey::generate(), id.clone());
    let mut cfg = WorkerConfig::new(id, "worker");
    cfg.slots = slots;
    cfg.idle_poll = Duration::from_millis(200);
    Arc::new(Worker::new(syncer, cfg))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL to a PostgreSQL superuser URL")?;
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (jobs, workers, slots) = (
        args.first().copied().unwrap_or(20_000),
        args.get(1).copied().unwrap_or(4),
        args.get(2).copied().unwrap_or(64),
    );
    let scratch = format!("eio_bench_jobs_{}", std::process::id());
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await?;
    admin.execute(format!("CREATE DATABASE {scratch}").as_str()).await?;
    let result = run(&url, &scratch, jobs, workers, slots).await;
    admin.execute(format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)").as_str()).await?;
    result
}

async fn run(
    url: &str,
    scratch: &str,
    jobs: usize,
    workers: usize,
    slots: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let opts: sqlx::postgres::PgConnectOptions = url.parse()?;
    let pool = PgPoolOptions::new().max_connections(32).connect_with(opts.database(scratch)).await?;
    eio_core::db::migrate_pool(&pool).await?;

    // Throughput: JOBS no-op jobs, all pending, drained by WORKERS workers.
    sqlx::query(
        "INSERT INTO jobs (type, status, title, target, policy)
         SELECT 'sync', 'pending', 'noop', '{\"type\": \"sync\", \"benchmark_noop\": true}', '{}' FROM generate_series(1, $1)",
    )
    .bind(jobs as i64)
    .execute(&pool)
    .await?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let pool_ws: Vec<Arc<Worker>> = (0..workers).map(|i| worker(&pool, format!("bench-{i}"), slots)).collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in &pool_ws {
        let (w, stop) = (w.clone(), stop.clone());
        tasks.push(tokio::spawn(async move { w.run(stop).await }));
    }
    loop {
        let done: u64 = pool_ws.iter().map(|w| w.stats.completed.load(std::sync::atomic::Ordering::Relaxed)).sum();
        if done as usize >= jobs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let succeeded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'succeeded'").fetch_one(&pool).await?;
    println!(
        "throughput: {jobs} no-op jobs, lease → complete, {workers} workers × {slots} slots: {:.2} s = {:.0} jobs/s ({succeeded} succeeded)",
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64()
    );

    // Kill switch: engaged once, seen by every worker through NOTIFY.
    let engaged = Instant::now();
    sqlx::query("UPDATE kill_switch SET engaged = true, reason = 'bench', changed_at = now()").execute(&pool).await?;
    loop {
        if pool_ws.iter().all(|w| w.stats.kill_switch_seen_at.lock().map(|s| s.is_some()).unwrap_or(false)) {
            break;
        }
        if engaged.elapsed() > Duration::from_secs(30) {
            println!("kill switch: not seen by every worker within 30 s");
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let seen: Vec<u128> = pool_ws
        .iter()
        .filter_map(|w| w.stats.kill_switch_seen_at.lock().ok().and_then(|s| *s))
        .map(|t| (t - engaged).as_micros())
        .collect();
    println!(
        "kill switch: seen by {}/{} workers, the last after {:.1} ms",
        seen.len(),
        workers,
        seen.iter().max().copied().unwrap_or_default() as f64 / 1000.0
    );
    let _ = stop_tx.send(true);
    for t in tasks {
        t.await??;
    }
    pool.close().await;
    Ok(())
}
