//! One leased job as its handler sees it: guarded writes, steps, events, and the protocol
//! that makes every external action happen at most once.
//!
//! * Every write to the job is conditional on this worker still holding the lease, so a
//!   worker that lost its lease (and whose job another worker resumed) can't clobber it.
//! * [`JobContext::guard`] runs before every external call: it stops the handler when the
//!   lease was lost, the job was cancelled, the worker shuts down, or the kill switch is
//!   engaged (checked in the database, not only from the NOTIFY).
//! * [`JobContext::run_action`] drives one external action through its step: the step is
//!   marked `running` *before* the action is issued and the external task id (vCenter task,
//!   Dell `JID_…`) is recorded the moment it exists, *before* waiting on it. A resumed worker
//!   re-attaches to a recorded task; for a step that was issuing when its worker died, the
//!   action first *reconciles* with the target (already done? already in flight?) and only
//!   issues when the target shows nothing happened; what it found is a `reconciled` event on
//!   the step. That is what "resumed, never executed twice" rests on.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eio_core::jobs::pause::StepBlock;
use eio_core::jobs::{Decision, JobSpec, JobType, PauseReason, Policy};
use eio_core::{Database, Error};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

/// Why a handler stopped before finishing (none of these is a failure of the job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interrupt {
    /// Another worker owns the job now; touch nothing.
    LeaseLost,
    Cancelled,
    KillSwitch(String),
    /// This worker is shutting down; another one resumes the job.
    Shutdown,
}

/// How a handler ends when it doesn't succeed.
#[derive(Debug)]
pub enum JobError {
    Interrupted(Interrupt),
    /// Stop and ask an operator (blocked evacuation, drift, timeout): `reason` is shown.
    Pause(Box<PauseReason>),
    /// Needs a new approval: the inventory drifted past the approved plan.
    Reapprove {
        plan: serde_json::Value,
        message: String,
    },
    /// The job failed, with a sentence for the operator.
    Failed(String),
    /// The database failed; the job stays leased and is retried when the lease lapses.
    Database(Error),
}

impl JobError {
    pub fn pause(reason: PauseReason) -> Self {
        JobError::Pause(Box::new(reason))
    }
}

impl From<Error> for JobError {
    fn from(e: Error) -> Self {
        JobError::Database(e)
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::Database(e.into())
    }
}

/// Signals the worker raises for a running job.
#[derive(Debug, Default)]
pub struct Flags {
    pub lease_lost: AtomicBool,
    pub cancel_requested: AtomicBool,
    pub shutdown: AtomicBool,
    pub kill_switch: Arc<AtomicBool>,
}

/// The job row as a handler needs it, typed. What can't be read doesn't stop the lease (the
/// other jobs leased with it still run): the job itself fails with the sentence kept here.
#[derive(Debug, Clone)]
pub struct LeasedJob {
    pub id: Uuid,
    pub job_type: JobType,
    /// What the job does (`jobs.target`), or why this version can't read it.
    pub spec: Result<JobSpec, String>,
    /// The policy it runs under; None for the system's own jobs, which store only
    /// `{"require_approval": false}` ([`eio_core::jobs::stored_policy`]), or one unreadable.
    pub policy: Option<Policy>,
    pub plan: Option<serde_json::Value>,
    pub plan_hash: Option<String>,
    /// The last decision taken on one of its pauses, or why it can't be read.
    pub decision: Result<Option<StoredDecision>, String>,
    pub attempts: i32,
}

/// A decision as `decide_job` stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDecision {
    pub decision: Decision,
    /// When it was taken, as the text stored (in the decider's time zone): the key a
    /// `decision_applied` event names it by, so workers of every version recognise it.
    pub at: String,
}

/// The columns of `jobs` a lease returns, as stored.
#[derive(sqlx::FromRow)]
struct LeasedRow {
    id: Uuid,
    #[sqlx(rename = "type")]
    job_type: JobType,
    target: serde_json::Value,
    policy: serde_json::Value,
    plan: Option<serde_json::Value>,
    plan_hash: Option<String>,
    decision: Option<serde_json::Value>,
    attempts: i32,
}

impl From<LeasedRow> for LeasedJob {
    fn from(r: LeasedRow) -> Self {
        LeasedJob {
            id: r.id,
            job_type: r.job_type,
            spec: JobSpec::from_target(&r.target).map_err(|e| e.message),
            policy: eio_core::jobs::stored_policy(r.policy),
            plan: r.plan,
            plan_hash: r.plan_hash,
            decision: r.decision.map(StoredDecision::read).transpose(),
            attempts: r.attempts,
        }
    }
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for LeasedJob {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        <LeasedRow as sqlx::FromRow<'r, sqlx::postgres::PgRow>>::from_row(row).map(LeasedJob::from)
    }
}

impl StoredDecision {
    fn read(v: serde_json::Value) -> Result<StoredDecision, String> {
        let at = v.get("at").and_then(serde_json::Value::as_str).map(str::to_owned);
        let decision: Decision =
            serde_json::from_value(v).map_err(|e| format!("the decision taken on the job is not understood: {e}"))?;
        // A decision that reads has its time, stored as text.
        let at = at.unwrap_or_else(|| decision.at.to_rfc3339());
        Ok(StoredDecision { decision, at })
    }
}

pub struct JobContext {
    pub db: Database,
    pub worker: String,
    pub job: LeasedJob,
    pub flags: Arc<Flags>,
    /// How often a handler polls an external task (fast in tests).
    pub poll_every: Duration,
}

/// A step as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Step {
    pub id: Uuid,
    pub seq: i32,
    pub status: String,
    pub external_task_id: Option<String>,
    pub result: Option<serde_json::Value>,
}

/// What reconciling an action with its target found.
#[derive(Debug)]
pub enum Reconciled<T> {
    /// The target already shows the action's effect.
    Done(T),
    /// An external task for it is running: attach to it.
    InFlight(String),
    /// Nothing happened: it is safe to issue.
    NotStarted,
}

/// What issuing an action returned.
#[derive(Debug)]
pub enum Issued<T> {
    /// An external task to wait on (recorded before waiting).
    Task(String),
    /// Done at once (no task to follow).
    Done(T),
}

/// One look at an external task.
#[derive(Debug)]
pub enum Polled<T> {
    Running {
        percent: Option<u8>,
        message: Option<String>,
    },
    Done(T),
    Failed(String),
    /// Can't proceed without an operator's choice (details shown to them).
    Blocked(StepBlock),
}

/// An external action made safe to resume. Implementations talk to one target.
pub trait Action {
    type Output: Serialize + DeserializeOwned + Send;
    /// The step's kind (`enter_maintenance_mode`, `power_off_vm`, `firmware_update`, …).
    fn kind(&self) -> &'static str;
    fn target(&self) -> serde_json::Value;
    /// How long to wait on the task before pausing to ask.
    fn timeout(&self) -> Duration;
    /// How long the target may stay unreadable while the task runs before the job pauses
    /// (beyond five failed reads in a row): an iDRAC applying its own firmware restarts and
    /// answers nothing for minutes. None by default.
    fn unreachable_grace(&self) -> Duration {
        Duration::ZERO
    }
    fn reconcile(&self) -> impl std::future::Future<Output = Result<Reconciled<Self::Output>, String>> + Send;
    fn issue(&self) -> impl std::future::Future<Output = Result<Issued<Self::Output>, String>> + Send;
    fn poll(&self, task: &str) -> impl std::future::Future<Output = Result<Polled<Self::Output>, String>> + Send;
}

impl JobContext {
    /// Stop here if the job must not go on; checks the kill switch in the database too.
    pub async fn guard(&self) -> Result<(), JobError> {
        if self.flags.lease_lost.load(Ordering::SeqCst) {
            return Err(JobError::Interrupted(Interrupt::LeaseLost));
        }
        if self.flags.shutdown.load(Ordering::SeqCst) {
            return Err(JobError::Interrupted(Interrupt::Shutdown));
        }
        #[derive(sqlx::FromRow)]
        struct Gate {
            engaged: bool,
            reason: Option<String>,
            cancel: bool,
            mine: Option<bool>,
        }
        let gate: Gate = sqlx::query_as(
            "SELECT (SELECT engaged FROM kill_switch) AS engaged, (SELECT reason FROM kill_switch) AS reason,
                    j.cancel_requested_at IS NOT NULL AS cancel, j.lease_owner = $2 AS mine
             FROM jobs j WHERE j.id = $1",
        )
        .bind(self.job.id)
        .bind(&self.worker)
        .fetch_one(self.db.pool())
        .await?;
        if !gate.mine.unwrap_or(false) {
            return Err(self.lease_lost());
        }
        if gate.engaged || self.flags.kill_switch.load(Ordering::SeqCst) {
            return Err(JobError::Interrupted(Interrupt::KillSwitch(gate.reason.unwrap_or_default())));
        }
        if gate.cancel || self.flags.cancel_requested.load(Ordering::SeqCst) {
            return Err(JobError::Interrupted(Interrupt::Cancelled));
        }
        Ok(())
    }

    /// The last decision taken on one of the job's pauses; the job fails when it can't be read.
    pub fn decision(&self) -> Result<Option<&StoredDecision>, JobError> {
        self.job.decision.as_ref().map(Option::as_ref).map_err(|e| JobError::Failed(e.clone()))
    }

    /// Append an event (only while this worker holds the lease).
    pub async fn event(
        &self,
        level: &str,
        message: impl Into<String>,
        data: serde_json::Value,
    ) -> Result<(), JobError> {
        self.append_event(None, level, message.into(), data).await?;
        Ok(())
    }

    /// Append an event, about `step` if given, while this worker holds the lease: how many
    /// rows it wrote (none once the lease is lost).
    async fn append_event(
        &self,
        step: Option<Uuid>,
        level: &str,
        message: String,
        data: serde_json::Value,
    ) -> Result<u64, JobError> {
        Ok(sqlx::query(
            "INSERT INTO job_events (job_id, step_id, level, message, data)
             SELECT $1, $2, $3::event_level, $4, $5 FROM jobs WHERE id = $1 AND lease_owner = $6",
        )
        .bind(self.job.id)
        .bind(step)
        .bind(level)
        .bind(message)
        .bind(data)
        .bind(&self.worker)
        .execute(self.db.pool())
        .await?
        .rows_affected())
    }

    pub async fn progress(&self, fraction: f32, message: impl Into<String>) -> Result<(), JobError> {
        let held: bool = sqlx::query_scalar("SELECT job_report_progress($1, $2, $3, $4)")
            .bind(self.job.id)
            .bind(&self.worker)
            .bind(fraction.clamp(0.0, 1.0))
            .bind(message.into())
            .fetch_one(self.db.pool())
            .await?;
        if !held {
            return Err(self.lease_lost());
        }
        Ok(())
    }

    /// The step `seq`, created as pending the first time it is asked for.
    pub async fn step(&self, seq: i32, name: &str, kind: &str, target: serde_json::Value) -> Result<Step, JobError> {
        sqlx::query(
            "INSERT INTO job_steps (job_id, seq, name, kind, target) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT ON CONSTRAINT job_steps_job_seq_key DO NOTHING",
        )
        .bind(self.job.id)
        .bind(seq)
        .bind(name)
        .bind(kind)
        .bind(target)
        .execute(self.db.pool())
        .await?;
        Ok(sqlx::query_as(
            "SELECT id, seq, status::text AS status, external_task_id, result FROM job_steps WHERE job_id = $1 AND seq = $2",
        )
        .bind(self.job.id)
        .bind(seq)
        .fetch_one(self.db.pool())
        .await?)
    }

    /// This job's steps with seq in `lo..hi`, in order (how a handler finds the attempts it
    /// numbered itself).
    pub async fn steps_between(&self, lo: i32, hi: i32) -> Result<Vec<Step>, JobError> {
        Ok(sqlx::query_as(
            "SELECT id, seq, status::text AS status, external_task_id, result FROM job_steps
             WHERE job_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq",
        )
        .bind(self.job.id)
        .bind(lo)
        .bind(hi)
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Set a step's status (lease-checked), with its result or error.
    pub async fn set_step(
        &self,
        step: &Step,
        status: &str,
        result: Option<serde_json::Value>,
        error: Option<&str>,
    ) -> Result<(), JobError> {
        let n = sqlx::query(
            "UPDATE job_steps s SET status = $2::step_status, result = coalesce($3, s.result), error = $4,
                    attempts = s.attempts + CASE WHEN $2 = 'running' THEN 1 ELSE 0 END,
                    started_at = coalesce(s.started_at, CASE WHEN $2 IN ('running', 'waiting') THEN now() END),
                    finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'skipped', 'cancelled') THEN now() END
             FROM jobs j WHERE s.id = $1 AND j.id = s.job_id AND j.lease_owner = $5",
        )
        .bind(step.id)
        .bind(status)
        .bind(result)
        .bind(error)
        .bind(&self.worker)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(self.lease_lost());
        }
        Ok(())
    }

    /// The lease went to another worker: remember it (the run loop stops) and say so.
    fn lease_lost(&self) -> JobError {
        self.flags.lease_lost.store(true, Ordering::SeqCst);
        JobError::Interrupted(Interrupt::LeaseLost)
    }

    /// Close a step so the next `run_action` on its seq issues the action again (status
    /// `cancelled`, its task forgotten), recording why as an event in the same transaction,
    /// only while this worker holds the lease. For an operator's explicit decision only.
    pub async fn reopen_step(&self, step: &Step, message: String, data: serde_json::Value) -> Result<(), JobError> {
        let mut tx = self.db.pool().begin().await?;
        let n = sqlx::query(
            "UPDATE job_steps s SET status = 'cancelled', external_task_id = NULL, error = $2, finished_at = now()
             FROM jobs j WHERE s.id = $1 AND j.id = s.job_id AND j.lease_owner = $3",
        )
        .bind(step.id)
        .bind(&message)
        .bind(&self.worker)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(self.lease_lost());
        }
        sqlx::query("INSERT INTO job_events (job_id, step_id, level, message, data) VALUES ($1, $2, 'info', $3, $4)")
            .bind(self.job.id)
            .bind(step.id)
            .bind(&message)
            .bind(data)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Record the external task of a step before waiting on it: on the step and on the job,
    /// in one transaction, only while this worker holds the lease.
    pub async fn record_task(&self, step: &Step, task: &str) -> Result<(), JobError> {
        let mut tx = self.db.pool().begin().await?;
        let owned: bool = sqlx::query_scalar("SELECT job_record_task($1, $2, $3)")
            .bind(self.job.id)
            .bind(&self.worker)
            .bind(task)
            .fetch_one(&mut *tx)
            .await?;
        if !owned {
            return Err(self.lease_lost());
        }
        sqlx::query("UPDATE job_steps SET external_task_id = $2, status = 'waiting' WHERE id = $1")
            .bind(step.id)
            .bind(task)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO job_events (job_id, step_id, level, message, data) VALUES ($1, $2, 'info', $3, $4)")
            .bind(self.job.id)
            .bind(step.id)
            .bind(format!("step {}: external task {task} started", step.seq))
            .bind(serde_json::json!({ "external_task_id": task }))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Drive `action` through step `seq` to its end, resuming whatever a previous worker
    /// left: a finished step returns its stored result; a recorded task is re-attached;
    /// an interrupted issue is reconciled with the target before anything is issued.
    pub async fn run_action<A: Action + Sync>(&self, seq: i32, name: &str, action: &A) -> Result<A::Output, JobError> {
        let step = self.step(seq, name, action.kind(), action.target()).await?;
        if step.status == "succeeded" {
            return serde_json::from_value(step.result.clone().unwrap_or_default())
                .map_err(|e| JobError::Failed(format!("step {seq}: its stored result is unreadable: {e}")));
        }
        let task = match (&step.external_task_id, step.status.as_str()) {
            (Some(task), _) => {
                self.event("info", format!("step {seq}: re-attaching to {task}"), serde_json::json!({ "task": task }))
                    .await?;
                task.clone()
            }
            (None, "running") => {
                // A worker stopped between marking the step and recording its task: ask the
                // target what happened before doing anything, and say what it showed.
                self.guard().await?;
                let found = action.reconcile().await.map_err(|e| JobError::Failed(format!("step {seq}: {e}")))?;
                let (message, data) = reconciled_event(seq, &found);
                self.step_event(&step, message, data).await?;
                match found {
                    Reconciled::Done(out) => return self.finish_step(&step, out).await,
                    Reconciled::InFlight(task) => {
                        self.record_task(&step, &task).await?;
                        task
                    }
                    Reconciled::NotStarted => match self.issue(&step, action).await? {
                        Issued::Task(t) => t,
                        Issued::Done(out) => return self.finish_step(&step, out).await,
                    },
                }
            }
            _ => match self.issue(&step, action).await? {
                Issued::Task(t) => t,
                Issued::Done(out) => return self.finish_step(&step, out).await,
            },
        };
        self.wait(&step, action, &task).await
    }

    /// Append an event about `step`, only while this worker holds the lease.
    async fn step_event(&self, step: &Step, message: String, data: serde_json::Value) -> Result<(), JobError> {
        if self.append_event(Some(step.id), "info", message, data).await? == 0 {
            return Err(self.lease_lost());
        }
        Ok(())
    }

    /// Issue the action: intent first (step `running`), then the call, then its task id.
    async fn issue<A: Action + Sync>(&self, step: &Step, action: &A) -> Result<Issued<A::Output>, JobError> {
        self.guard().await?;
        self.set_step(step, "running", None, None).await?;
        match action.issue().await {
            Ok(Issued::Task(task)) => {
                self.record_task(step, &task).await?;
                Ok(Issued::Task(task))
            }
            Ok(done) => Ok(done),
            Err(message) => {
                self.set_step(step, "failed", None, Some(&message)).await?;
                Err(JobError::Failed(format!("step {}: {message}", step.seq)))
            }
        }
    }

    /// Follow an external task until it ends, pausing to ask when it blocks or times out.
    async fn wait<A: Action + Sync>(&self, step: &Step, action: &A, task: &str) -> Result<A::Output, JobError> {
        let started = Instant::now();
        let mut failures = 0u32;
        let mut unreadable_since = None;
        loop {
            self.guard().await?;
            let polled = action.poll(task).await;
            if polled.is_ok() {
                unreadable_since = None;
            }
            match polled {
                Ok(Polled::Done(out)) => return self.finish_step(step, out).await,
                Ok(Polled::Failed(message)) => {
                    self.set_step(step, "failed", None, Some(&message)).await?;
                    return Err(JobError::Failed(format!("step {}: {message}", step.seq)));
                }
                Ok(Polled::Blocked(details)) => {
                    return Err(JobError::pause(PauseReason::Blocked { step: step.seq, task: task.into(), details }));
                }
                Ok(Polled::Running { .. }) => failures = 0,
                Err(message) => {
                    failures += 1;
                    let since = *unreadable_since.get_or_insert_with(Instant::now);
                    self.event(
                        "warning",
                        format!("step {}: could not read {task}: {message}", step.seq),
                        serde_json::json!({}),
                    )
                    .await?;
                    if failures >= 5 && since.elapsed() >= action.unreachable_grace() {
                        return Err(JobError::pause(PauseReason::Unreachable {
                            step: step.seq,
                            task: task.into(),
                            message: format!("{task} could not be read 5 times in a row: {message}"),
                        }));
                    }
                }
            }
            if started.elapsed() > action.timeout() {
                return Err(JobError::pause(PauseReason::Timeout {
                    step: step.seq,
                    task: task.into(),
                    message: format!("{task} did not finish within {} s", action.timeout().as_secs()),
                }));
            }
            tokio::time::sleep(self.poll_every).await;
        }
    }

    async fn finish_step<T: Serialize>(&self, step: &Step, out: T) -> Result<T, JobError> {
        let value = serde_json::to_value(&out).map_err(|e| JobError::Failed(e.to_string()))?;
        self.set_step(step, "succeeded", Some(value), None).await?;
        Ok(out)
    }
}

/// The event saying what reconciling resumed step `seq` found, written before anything is
/// done about it: `kind: "reconciled"` with `outcome` `done`, `in_flight` (and the `task` it
/// follows) or `not_started` — the trace that the check-before-reissue path ran.
fn reconciled_event<T>(seq: i32, found: &Reconciled<T>) -> (String, serde_json::Value) {
    match found {
        Reconciled::Done(_) => (
            format!("step {seq}: already done at the target"),
            serde_json::json!({ "kind": "reconciled", "outcome": "done" }),
        ),
        Reconciled::InFlight(task) => (
            format!("step {seq}: {task} is in flight at the target: following it"),
            serde_json::json!({ "kind": "reconciled", "outcome": "in_flight", "task": task }),
        ),
        Reconciled::NotStarted => (
            format!("step {seq}: the target shows nothing happened: issuing"),
            serde_json::json!({ "kind": "reconciled", "outcome": "not_started" }),
        ),
    }
}
