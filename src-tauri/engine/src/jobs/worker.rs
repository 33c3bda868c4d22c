//! The worker pool of one process: leases runnable jobs from PostgreSQL, runs each under
//! its lease, heartbeats, and reacts to the kill switch and cancellations.
//!
//! Any number of these run, on any machines, against one database; they coordinate only
//! through it: `lease_jobs` (SKIP LOCKED, per-site and per-cluster limits, nothing while
//! the kill switch is on), `renew_leases` (heartbeats; a job missing from the answer was
//! lost and its handler stops at the next guard), NOTIFY on `eio_jobs` to wake up at once
//! (polling is only the fallback), and NOTIFY on `eio_kill_switch`, seen by every worker
//! within the round trip of a notification.
//!
//! A worker never holds in memory what another needs: a killed worker's jobs lapse after
//! one lease TTL and another worker resumes them from their steps.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eio_core::jobs::{Choice, PauseReason};
use eio_core::{Database, Result};
use sqlx::postgres::PgListener;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use super::context::{Flags, Interrupt, JobContext, JobError, LeasedJob};
use super::handlers;
use crate::sync::Syncer;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Unique per process: `host:pid` plus a label.
    pub id: String,
    /// `desktop`, `serve` or `worker`.
    pub mode: &'static str,
    /// Jobs run at once by this process.
    pub slots: usize,
    pub lease_ttl: Duration,
    pub heartbeat_every: Duration,
    /// How long to sleep when no notification arrives (the fallback to LISTEN/NOTIFY).
    pub idle_poll: Duration,
    /// How often handlers poll external tasks.
    pub task_poll: Duration,
    /// How often to turn due report schedules and scheduled jobs into jobs (also once at start).
    pub report_schedule_every: Duration,
    /// A full sync of every enabled source this often, as jobs (None: no scheduled syncs).
    pub sync_every: Option<Duration>,
    /// Watch every enabled vCenter for changes beside the jobs, looking for new or
    /// disabled sources this often ([`crate::sync::vcenter::watch_all`]; None: no watchers).
    pub watch_vcenters: Option<Duration>,
}

impl WorkerConfig {
    pub fn new(id: impl Into<String>, mode: &'static str) -> Self {
        WorkerConfig {
            id: id.into(),
            mode,
            slots: 8,
            lease_ttl: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(10),
            idle_poll: Duration::from_secs(5),
            task_poll: Duration::from_secs(2),
            report_schedule_every: Duration::from_secs(30),
            sync_every: None,
            watch_vcenters: None,
        }
    }
}

/// Observations for tests and benchmarks (the ledger is the database).
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub completed: std::sync::atomic::AtomicU64,
    /// When this worker first saw the kill switch engaged (after it started).
    pub kill_switch_seen_at: std::sync::Mutex<Option<Instant>>,
    /// Woken whenever this worker's view of the kill switch changes.
    pub kill_switch_changed: Notify,
    /// Schema version checks made (at start and at each heartbeat), and what the last one
    /// said when the schema is ahead of this build (`SchemaState::ahead_advice`).
    pub schema_checks: std::sync::atomic::AtomicU64,
    pub schema_ahead: std::sync::Mutex<Option<String>>,
    /// Woken after each schema check.
    pub schema_checked: Notify,
}

pub struct Worker {
    pub syncer: Syncer,
    pub config: WorkerConfig,
    pub stats: Arc<WorkerStats>,
}

struct Running {
    flags: Arc<Flags>,
    task: tokio::task::JoinHandle<()>,
}

/// A succeeded job waiting to be recorded: completions are written in batches
/// (`complete_jobs`), which is what lets one worker finish thousands of short jobs a second.
type Completion = (Uuid, serde_json::Value);

impl Worker {
    pub fn new(syncer: Syncer, config: WorkerConfig) -> Self {
        Worker { syncer, config, stats: Arc::new(WorkerStats::default()) }
    }

    fn db(&self) -> &Database {
        &self.syncer.db
    }

    /// Run until `stop` turns true. Running jobs are handed back (their leases released)
    /// at the next guard, so another worker resumes them at once.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> Result<()> {
        // LISTEN first, then read the switch, then announce ourselves: a kill switch engaged
        // at any moment after this worker shows up in `worker_instances` is never missed.
        let wake = Arc::new(Notify::new());
        let kill = Arc::new(AtomicBool::new(true));
        let listener = self.listen(wake.clone(), kill.clone()).await?;
        kill.store(
            sqlx::query_scalar::<_, bool>("SELECT engaged FROM kill_switch").fetch_one(self.db().pool()).await?,
            Ordering::SeqCst,
        );
        self.register().await?;
        let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel::<Completion>();
        let completer = tokio::spawn(complete(
            self.db().clone(),
            self.config.id.clone(),
            done_rx,
            self.stats.clone(),
            wake.clone(),
        ));
        let watchers = self
            .config
            .watch_vcenters
            .map(|rescan| tokio::spawn(crate::sync::vcenter::watch_all(self.syncer.clone(), stop.clone(), rescan)));
        let mut running: HashMap<Uuid, Running> = HashMap::new();
        let mut ahead = self.schema_ahead(None).await;
        let mut last_beat = Instant::now();
        let mut last_schedule: Option<Instant> = None;
        loop {
            running.retain(|_, r| !r.task.is_finished());
            if *stop.borrow() {
                break;
            }
            if last_schedule.is_none_or(|t| t.elapsed() >= self.config.report_schedule_every) {
                handlers::report::enqueue_due(self.db()).await;
                if let Err(e) = super::schedule::enqueue_due_runs(self.db()).await {
                    tracing::warn!(error = %e, "could not create the runs of scheduled jobs");
                }
                if let Some(every) = self.config.sync_every {
                    if let Err(e) = super::schedule::enqueue_due_syncs(self.db(), every).await {
                        tracing::warn!(error = %e, "could not schedule source syncs");
                    }
                }
                last_schedule = Some(Instant::now());
            }
            if last_beat.elapsed() >= self.config.heartbeat_every {
                self.heartbeat(&running, &kill).await;
                ahead = self.schema_ahead(ahead).await;
                last_beat = Instant::now();
            }
            let free = self.config.slots.saturating_sub(running.len());
            let mut leased = 0;
            if free > 0 && !kill.load(Ordering::SeqCst) && ahead.is_none() {
                match self.lease(free).await {
                    Ok(jobs) => {
                        leased = jobs.len();
                        for job in jobs {
                            let flags = Arc::new(Flags { kill_switch: kill.clone(), ..Default::default() });
                            let id = job.id;
                            let task = tokio::spawn(self.execute(job, flags.clone(), wake.clone(), done_tx.clone()));
                            running.insert(id, Running { flags, task });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "leasing jobs failed; retrying"),
                }
            }
            if leased == free && free > 0 {
                continue; // there may be more ready right now
            }
            let next_beat = self.config.heartbeat_every.saturating_sub(last_beat.elapsed());
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(self.config.idle_poll.min(next_beat)) => {}
                _ = stop.changed() => {}
            }
        }
        for r in running.values() {
            r.flags.shutdown.store(true, Ordering::SeqCst);
        }
        for (_, r) in running.drain() {
            let _ = r.task.await;
        }
        drop(done_tx);
        let _ = completer.await;
        if let Some(watchers) = watchers {
            // They saw `stop` too; each finishes its pending findings refresh and hands
            // its lease back.
            let _ = watchers.await;
        }
        listener.abort();
        let _ = sqlx::query("UPDATE worker_instances SET stopped_at = now() WHERE id = $1")
            .bind(&self.config.id)
            .execute(self.db().pool())
            .await;
        Ok(())
    }

    /// Whether a newer release migrated the database (its advice, naming the release to
    /// install): then this worker leases no job, so nothing a newer release planned or
    /// changed is run by code that doesn't know it. Jobs already running finish (their
    /// tables are only ever extended). Said once each time it changes; unreadable keeps
    /// the last answer.
    async fn schema_ahead(&self, last: Option<String>) -> Option<String> {
        let now = match eio_core::db::schema_state(self.db().pool()).await {
            Ok(state) => state.ahead_advice(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the schema version; keeping the last answer");
                return last;
            }
        };
        match (&last, &now) {
            (None, Some(advice)) => tracing::warn!(worker = %self.config.id, "{advice}: this worker takes no jobs"),
            (Some(_), None) => tracing::info!(worker = %self.config.id, "the schema is current again: taking jobs"),
            _ => {}
        }
        *self.stats.schema_ahead.lock().unwrap_or_else(|p| p.into_inner()) = now.clone();
        self.stats.schema_checks.fetch_add(1, Ordering::SeqCst);
        self.stats.schema_checked.notify_waiters();
        now
    }

    async fn register(&self) -> Result<()> {
        let host =
            std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_owned()).unwrap_or_default();
        sqlx::query(
            "INSERT INTO worker_instances (id, hostname, pid, version, mode) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET started_at = now(), heartbeat_at = now(), stopped_at = NULL",
        )
        .bind(&self.config.id)
        .bind(host)
        .bind(std::process::id() as i32)
        .bind(env!("CARGO_PKG_VERSION"))
        .bind(self.config.mode)
        .execute(self.db().pool())
        .await?;
        // Close sync runs a crashed process left open.
        crate::sync::ledger::close_abandoned(self.db(), 60).await?;
        Ok(())
    }

    /// LISTEN for job changes (wake up) and the kill switch (flag every job at once).
    async fn listen(&self, wake: Arc<Notify>, kill: Arc<AtomicBool>) -> Result<tokio::task::JoinHandle<()>> {
        let mut listener = PgListener::connect_with(self.db().pool()).await?;
        listener.listen_all(["eio_jobs", "eio_kill_switch"]).await?;
        let stats = self.stats.clone();
        let pool = self.db().pool().clone();
        Ok(tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(n) if n.channel() == "eio_kill_switch" => {
                        // Any login can NOTIFY: the payload is a hint, the row is the fact.
                        // Unreadable counts as engaged (pause and ask).
                        let engaged = sqlx::query_scalar::<_, bool>("SELECT engaged FROM kill_switch")
                            .fetch_one(&pool)
                            .await
                            .unwrap_or(true);
                        kill.store(engaged, Ordering::SeqCst);
                        if engaged {
                            let mut seen = stats.kill_switch_seen_at.lock().unwrap_or_else(|p| p.into_inner());
                            seen.get_or_insert_with(Instant::now);
                        }
                        stats.kill_switch_changed.notify_waiters();
                        wake.notify_one();
                    }
                    Ok(_) => wake.notify_one(),
                    Err(e) => {
                        // sqlx reconnects on the next recv; jobs are still found by polling.
                        tracing::warn!(error = %e, "job notifications interrupted");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }))
    }

    async fn lease(&self, n: usize) -> Result<Vec<LeasedJob>> {
        Ok(sqlx::query_as(
            "SELECT id, type, target, policy, plan, plan_hash, decision, attempts
             FROM lease_jobs($1, $2, make_interval(secs => $3))",
        )
        .bind(&self.config.id)
        .bind(n as i32)
        .bind(self.config.lease_ttl.as_secs_f64())
        .fetch_all(self.db().pool())
        .await?)
    }

    /// Renew leases of running jobs; flag the lost and the cancelled.
    /// Also re-reads the kill switch: NOTIFY is the fast path, this is the one that cannot be
    /// missed (a notification sent while the listener was reconnecting).
    async fn heartbeat(&self, running: &HashMap<Uuid, Running>, kill: &AtomicBool) {
        if let Ok(engaged) = sqlx::query_scalar::<_, bool>(
            "UPDATE worker_instances SET heartbeat_at = now() WHERE id = $1 RETURNING (SELECT engaged FROM kill_switch)",
        )
        .bind(&self.config.id)
        .fetch_one(self.db().pool())
        .await
        {
            if engaged && !kill.swap(true, Ordering::SeqCst) {
                self.stats.kill_switch_seen_at.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(Instant::now);
                self.stats.kill_switch_changed.notify_waiters();
            } else if !engaged {
                kill.store(false, Ordering::SeqCst);
            }
        }
        if running.is_empty() {
            return;
        }
        let ids: Vec<Uuid> = running.keys().copied().collect();
        match sqlx::query_scalar::<_, Uuid>("SELECT renew_leases($1, $2, make_interval(secs => $3))")
            .bind(&self.config.id)
            .bind(&ids)
            .bind(self.config.lease_ttl.as_secs_f64())
            .fetch_all(self.db().pool())
            .await
        {
            Ok(kept) => {
                for (id, r) in running {
                    if !kept.contains(id) {
                        r.flags.lease_lost.store(true, Ordering::SeqCst);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not renew leases"),
        }
        if let Ok(cancelled) =
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM jobs WHERE id = ANY($1) AND cancel_requested_at IS NOT NULL")
                .bind(&ids)
                .fetch_all(self.db().pool())
                .await
        {
            for id in cancelled {
                if let Some(r) = running.get(&id) {
                    r.flags.cancel_requested.store(true, Ordering::SeqCst);
                }
            }
        }
    }

    /// Run one leased job to an end state (or hand it back), recording how it ended.
    fn execute(
        &self,
        job: LeasedJob,
        flags: Arc<Flags>,
        wake: Arc<Notify>,
        done: tokio::sync::mpsc::UnboundedSender<Completion>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let ctx = JobContext {
            db: self.db().clone(),
            worker: self.config.id.clone(),
            job,
            flags,
            poll_every: self.config.task_poll,
        };
        let syncer = self.syncer.clone();
        let stats = self.stats.clone();
        async move {
            match handlers::run(&ctx, &syncer).await {
                Ok(result) => {
                    // Recorded by the completer, in a batch with others.
                    let _ = done.send((ctx.job.id, result));
                }
                outcome => {
                    if let Err(e) = finish(&ctx, outcome).await {
                        tracing::warn!(job = %ctx.job.id, error = %e, "could not record how the job ended; its lease will lapse");
                    }
                    stats.completed.fetch_add(1, Ordering::Relaxed);
                    wake.notify_one();
                }
            }
        }
    }
}

/// Record succeeded jobs in batches until the channel closes (all senders dropped).
async fn complete(
    db: Database,
    worker: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Completion>,
    stats: Arc<WorkerStats>,
    wake: Arc<Notify>,
) {
    let mut batch: Vec<Completion> = Vec::with_capacity(512);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let (ids, results): (Vec<Uuid>, Vec<serde_json::Value>) = batch.drain(..).unzip();
        let mut attempt = 0;
        loop {
            match sqlx::query_scalar::<_, Uuid>("SELECT complete_jobs($1, $2, $3)")
                .bind(&worker)
                .bind(&ids)
                .bind(&results)
                .fetch_all(db.pool())
                .await
            {
                Ok(_) => break,
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    tracing::warn!(error = %e, "recording completed jobs failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => {
                    // Their leases lapse and another worker re-runs them: resumable by design.
                    tracing::warn!(error = %e, jobs = ids.len(), "could not record completed jobs; they will be resumed");
                    break;
                }
            }
        }
        stats.completed.fetch_add(ids.len() as u64, Ordering::Relaxed);
        wake.notify_one();
    }
}

/// Write the end of a handler run, only while this worker holds the lease. Every write goes
/// through the database's job functions (`job_finish`, `job_reapprove`, `job_hand_back`):
/// a worker login may not write `jobs` itself.
async fn finish(ctx: &JobContext, outcome: std::result::Result<serde_json::Value, JobError>) -> Result<()> {
    let pool = ctx.db.pool();
    let (id, me) = (ctx.job.id, &ctx.worker);
    match outcome {
        Ok(result) => {
            sqlx::query_scalar::<_, bool>("SELECT job_finish($1, $2, 'succeeded', 'succeeded', p_result => $3)")
                .bind(id)
                .bind(me)
                .bind(&result)
                .fetch_one(pool)
                .await?;
        }
        Err(JobError::Interrupted(Interrupt::LeaseLost)) => {}
        Err(JobError::Interrupted(Interrupt::Shutdown)) => {
            // Hand the job back at once: the next worker resumes it from its steps.
            sqlx::query_scalar::<_, bool>("SELECT job_hand_back($1, $2)").bind(id).bind(me).fetch_one(pool).await?;
        }
        Err(JobError::Interrupted(Interrupt::Cancelled)) => {
            end_with(ctx, "cancelled", "cancelled at a safe point", serde_json::json!({}), None).await?;
        }
        Err(JobError::Interrupted(Interrupt::KillSwitch(reason))) => {
            end_with(
                ctx,
                "paused",
                &format!("paused: the kill switch is engaged ({reason})"),
                serde_json::json!({"kind": "kill_switch", "reason": reason}),
                Some(PauseReason::KillSwitch { reason: reason.clone(), choices: vec![Choice::Retry, Choice::Cancel] }),
            )
            .await?;
        }
        Err(JobError::Pause(reason)) => {
            end_with(ctx, "paused", &reason.message(), reason.to_stored(), Some(*reason)).await?;
        }
        Err(JobError::Reapprove { plan, message }) => {
            sqlx::query_scalar::<_, bool>("SELECT job_reapprove($1, $2, $3, $4)")
                .bind(id)
                .bind(me)
                .bind(&plan)
                .bind(&message)
                .fetch_one(pool)
                .await?;
        }
        Err(JobError::Failed(message)) => {
            end_with(ctx, "failed", &message, serde_json::json!({}), None).await?;
        }
        Err(JobError::Database(e)) => {
            // Leave it leased: when the lease lapses, a worker resumes it from its steps.
            tracing::warn!(job = %id, error = %e, "database error while running a job; it resumes after its lease");
        }
    }
    Ok(())
}

async fn end_with(
    ctx: &JobContext,
    status: &str,
    message: &str,
    data: serde_json::Value,
    pause_reason: Option<PauseReason>,
) -> Result<()> {
    sqlx::query_scalar::<_, bool>("SELECT job_finish($1, $2, $3::job_status, $4, $5, $6)")
        .bind(ctx.job.id)
        .bind(&ctx.worker)
        .bind(status)
        .bind(message)
        .bind(data)
        .bind(pause_reason.map(|p| p.to_stored()))
        .fetch_one(ctx.db.pool())
        .await?;
    Ok(())
}
