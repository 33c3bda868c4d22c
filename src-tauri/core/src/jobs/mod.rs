//! Domain 5, Jobs: what a job is (its [`JobSpec`]), its [`plan`], submitting it, deciding
//! on it (approve, deny, cancel, answer a pause), reading its timeline, and the kill switch.
//!
//! Every rule that makes a job safe is enforced by the database functions these call
//! (`submit_job`, `approve_job`, `decide_job`, `cancel_job`, `set_kill_switch`: roles,
//! capabilities, four eyes, legal transitions); the plan refusals here stop a job that
//! could never run before it is submitted. Running jobs is the engine's business.
//! [`policies`]: the named policies and concurrency limits admins decide; [`pause`]: why a
//! job paused and what was decided, typed.
pub mod baselines;
pub mod ops;
pub mod pause;
pub mod plan;
pub mod policies;
pub mod predict;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::db::db_enum;
use crate::error::{Error, Result};
use crate::sources::SourceKind;
use crate::Database;
pub use pause::{Decision, PauseReason, PausedVm};
pub use plan::Plan;

db_enum! {
    /// What kind of work a job is.
    pub enum JobType: "job_type", "job type" {
        FirmwareUpdate = "firmware_update",
        MaintenanceMode = "maintenance_mode",
        Power = "power",
        Sync = "sync",
        Report = "report",
    }
}

db_enum! {
    /// Where a job is in its life; the database allows only legal transitions.
    pub enum JobStatus: "job_status", "job status" {
        Pending = "pending",
        AwaitingApproval = "awaiting_approval",
        Scheduled = "scheduled",
        Running = "running",
        Paused = "paused",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    /// Not ended: it may still run or wait on someone.
    pub fn is_open(self) -> bool {
        !matches!(self, JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled)
    }
}

db_enum! {
    /// Where one step of a job is.
    pub enum StepStatus: "step_status", "step status" {
        Pending = "pending",
        Running = "running",
        Waiting = "waiting",
        Succeeded = "succeeded",
        Failed = "failed",
        Skipped = "skipped",
        Cancelled = "cancelled",
    }
}

db_enum! {
    /// How much a timeline entry matters.
    pub enum EventLevel: "event_level", "event level" {
        Debug = "debug",
        Info = "info",
        Warning = "warning",
        Error = "error",
    }
}

db_enum! {
    /// A person's answer to a job awaiting approval (`approvals.decision`).
    pub enum ApprovalDecision: "approval_decision", "approval decision" {
        Approved = "approved",
        Denied = "denied",
    }
}

/// What a job does, with its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobSpec {
    MaintenanceMode(MaintenanceTarget),
    FirmwareUpdate(FirmwareTarget),
    Power(PowerTarget),
    Sync(SyncTarget),
    Report(ReportTarget),
}

impl JobSpec {
    pub fn job_type(&self) -> JobType {
        match self {
            JobSpec::MaintenanceMode(_) => JobType::MaintenanceMode,
            JobSpec::FirmwareUpdate(_) => JobType::FirmwareUpdate,
            JobSpec::Power(_) => JobType::Power,
            JobSpec::Sync(_) => JobType::Sync,
            JobSpec::Report(_) => JobType::Report,
        }
    }

    /// The spec stored in `jobs.target`.
    pub fn to_target(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub fn from_target(v: &serde_json::Value) -> Result<JobSpec> {
        serde_json::from_value(v.clone())
            .map_err(|e| Error::invalid(format!("the job's target is not understood: {e}")))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct MaintenanceTarget {
    /// Host names, short names or moids.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Every host of this cluster.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Take the hosts out of maintenance mode instead.
    #[serde(default)]
    pub exit: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct FirmwareTarget {
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub cluster: Option<String>,
    /// One component: an FQDD prefix (`BIOS.Setup`, `NIC.Integrated`) or a name fragment.
    /// Empty with `baseline`.
    #[serde(default)]
    pub component: String,
    /// The version the update installs (one component).
    #[serde(default)]
    pub version: String,
    /// The Dell Update Package on the worker's disk, or an http(s) URL (one component).
    #[serde(default)]
    pub image: String,
    /// Bring every component to this baseline instead (OME's or one defined in EIO; `""`:
    /// the one baseline that covers these hosts' servers). Each host is then updated once:
    /// every component behind staged together, one restart.
    #[serde(default)]
    pub baseline: Option<String>,
    /// Where the baseline's packages are, overriding its repository: a directory on the
    /// workers' disk or an http(s) URL (OME's baselines name packages relative to their
    /// catalog's repository, which EIO can't read).
    #[serde(default)]
    pub packages: Option<String>,
}

impl FirmwareTarget {
    /// One component to one version, or a baseline: never both, never neither.
    pub fn check(&self) -> Result<()> {
        let single = [&self.component, &self.version, &self.image].iter().filter(|s| !s.trim().is_empty()).count();
        match (&self.baseline, single) {
            (Some(_), 0) => Ok(()),
            (Some(_), _) => Err(Error::invalid(
                "a baseline names every component, version and package: leave out --component, --version and --image",
            )),
            (None, 3) if self.packages.is_none() => Ok(()),
            (None, 3) => Err(Error::invalid("--packages goes with --baseline")),
            (None, _) => Err(Error::invalid(
                "name the component, its version and the image (--component, --version, --image), or bring the \
                 hosts to a baseline (--baseline [NAME])",
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PowerAction {
    /// Guest OS shutdown (VMware Tools).
    Shutdown,
    /// Hard power-off of a VM.
    PowerOff,
    Suspend,
    /// Graceful restart of a physical server.
    Reset,
    /// Hard power cycle of a physical server.
    PowerCycle,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct PowerTarget {
    pub action: PowerAction,
    #[serde(default)]
    pub vms: Vec<String>,
    #[serde(default)]
    pub servers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct SyncTarget {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub kind: Option<SourceKind>,
    /// Completes at once without syncing: for measuring the worker pool.
    #[serde(default)]
    pub benchmark_noop: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct ReportTarget {
    pub definition: String,
}

/// JobPolicy, exactly as the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct Policy {
    pub allow_vm_shutdown: bool,
    pub allow_hard_poweroff: bool,
    pub vm_limit: i32,
    pub shutdown_timeout_seconds: i32,
    pub require_approval: bool,
    #[serde(default)]
    pub tag_filters: Vec<String>,
    #[serde(default)]
    pub folder_filters: Vec<String>,
    #[serde(default)]
    pub policy_name: Option<String>,
}

/// Field-by-field overrides of a named policy, as a submitter gives them: each field left
/// out keeps the named policy's value. Serialized without the fields left out, which is the
/// shape `resolve_job_policy` and `submit_job` take (an explicit `null` is refused there).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_vm_shutdown: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_hard_poweroff: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_approval: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_filters: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_filters: Option<Vec<String>>,
}

impl PolicyOverrides {
    /// Overrides read from JSON a person wrote (`eio job submit --policy-file`); `null` is
    /// none. A field this version doesn't know is refused by name.
    pub fn from_json(v: serde_json::Value) -> Result<Option<PolicyOverrides>> {
        serde_json::from_value(v).map_err(|e| Error::invalid(format!("policy overrides: {e}")))
    }
}

/// [`SubmitRequest::policy`] as it arrives (REST, desktop): a misspelt field is refused with
/// the same sentence as [`PolicyOverrides::from_json`]'s.
fn policy_overrides<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<PolicyOverrides>, D::Error> {
    Option::<PolicyOverrides>::deserialize(d).map_err(|e| serde::de::Error::custom(format!("policy overrides: {e}")))
}

/// The named policy with `overrides` applied, validated by the database. For disruptive
/// job types an override may only tighten the named policy (42501 otherwise).
pub async fn resolve_policy(
    db: &Database,
    job_type: JobType,
    name: Option<&str>,
    overrides: Option<&PolicyOverrides>,
) -> Result<Policy> {
    let v: serde_json::Value = sqlx::query_scalar("SELECT resolve_job_policy($1, $2, $3)")
        .bind(name.unwrap_or("default"))
        .bind(overrides.map(sqlx::types::Json))
        .bind(job_type)
        .fetch_one(db.pool())
        .await?;
    serde_json::from_value(v).map_err(|e| Error::internal(format!("policy shape: {e}")))
}

/// What `eio job submit` asks for.
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct SubmitRequest {
    pub spec: JobSpec,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub policy_name: Option<String>,
    /// Field-by-field overrides of the named policy.
    #[serde(default, deserialize_with = "policy_overrides")]
    pub policy: Option<PolicyOverrides>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    #[ts(type = "string | null")]
    pub run_at: Option<DateTime<Utc>>,
    /// A cron schedule (five fields, UTC, or @daily…): the job becomes a definition that runs
    /// once per due time, each run planned then and approved like a submitted job.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Compute and return the plan; submit nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Submitted {
    pub plan: Plan,
    pub policy: Policy,
    /// None for a dry run.
    pub job: Option<JobSummary>,
}

/// Plan the job; refuse it if the plan says it can't run; else submit it (unless dry run).
pub async fn submit(db: &Database, req: &SubmitRequest) -> Result<Submitted> {
    let schedule = match req.schedule.as_deref() {
        Some(text) if req.run_at.is_some() => {
            return Err(Error::invalid(format!("give either a run time or a schedule, not both (schedule \"{text}\")")))
        }
        Some(text) => Some(crate::reports::schedule::parse(text)?),
        None => None,
    };
    let policy = resolve_policy(db, req.spec.job_type(), req.policy_name.as_deref(), req.policy.as_ref()).await?;
    let plan = plan::compute(db, &req.spec, &policy).await?;
    if req.dry_run {
        return Ok(Submitted { plan, policy, job: None });
    }
    if !plan.refusals.is_empty() {
        return Err(Error::invalid(format!("refused before touching anything: {}", plan.refusals.join("; "))));
    }
    let title = req.title.clone().unwrap_or_else(|| plan.summary.clone());
    let mut plan_json = serde_json::to_value(&plan).map_err(|e| Error::internal(e.to_string()))?;
    plan_json["material"] = plan.material();
    if let Some(schedule) = schedule {
        let id: Uuid = sqlx::query_scalar(
            "SELECT id FROM submit_scheduled_job($1::job_type, $2, $3, $4, $5, p_policy_name => $6, p_policy => $7,
                                                 p_idempotency_key => $8, p_site_id => $9, p_cluster_id => $10,
                                                 p_plan => $11)",
        )
        .bind(req.spec.job_type())
        .bind(&title)
        .bind(req.spec.to_target())
        .bind(schedule.as_str())
        .bind(schedule.next_after(Utc::now())?)
        .bind(req.policy_name.as_deref().unwrap_or("default"))
        .bind(req.policy.as_ref().map(sqlx::types::Json))
        .bind(&req.idempotency_key)
        .bind(plan.site_id)
        .bind(plan.cluster_id)
        .bind(&plan_json)
        .fetch_one(db.pool())
        .await?;
        return Ok(Submitted { plan, policy, job: Some(get(db, id).await?) });
    }
    let id: Uuid = sqlx::query_scalar(
        "SELECT id FROM submit_job($1::job_type, $2, p_target => $3, p_policy_name => $4, p_policy => $5,
                                   p_idempotency_key => $6, p_run_at => $7, p_site_id => $8, p_cluster_id => $9,
                                   p_plan => $10)",
    )
    .bind(req.spec.job_type())
    .bind(&title)
    .bind(req.spec.to_target())
    .bind(req.policy_name.as_deref().unwrap_or("default"))
    .bind(req.policy.as_ref().map(sqlx::types::Json))
    .bind(&req.idempotency_key)
    .bind(req.run_at)
    .bind(plan.site_id)
    .bind(plan.cluster_id)
    .bind(&plan_json)
    .fetch_one(db.pool())
    .await?;
    Ok(Submitted { plan, policy, job: Some(get(db, id).await?) })
}

/// The hash the worker compares before acting.
pub async fn material_hash(db: &Database, plan: &Plan) -> Result<String> {
    hash_of(db, &plan.material()).await
}

/// The hash of a plan's material part, as the database computes `plan_hash`.
pub async fn hash_of(db: &Database, material: &serde_json::Value) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT md5($1::jsonb::text)").bind(material).fetch_one(db.pool()).await?)
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct JobSummary {
    #[ts(type = "string")]
    pub id: Uuid,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub job_type: JobType,
    pub status: JobStatus,
    pub title: String,
    pub initiated_by: Option<String>,
    pub approved_by: Option<String>,
    pub progress: Option<f32>,
    pub progress_message: Option<String>,
    pub error: Option<String>,
    pub external_task_ids: Vec<String>,
    pub attempts: i32,
    pub cancel_requested: bool,
    /// A schedule definition's cron expression (its runs are jobs of their own).
    pub schedule: Option<String>,
    /// When a schedule definition next creates a run.
    #[ts(type = "string | null")]
    pub next_run_at: Option<DateTime<Utc>>,
    /// The schedule definition this job is a run of.
    #[ts(type = "string | null")]
    pub parent_job_id: Option<Uuid>,
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
    #[ts(type = "string | null")]
    pub started_at: Option<DateTime<Utc>>,
    #[ts(type = "string | null")]
    pub finished_at: Option<DateTime<Utc>>,
}

const SUMMARY_SQL: &str = r#"
    SELECT j.id, j.type, j.status, j.title, ui.email AS initiated_by,
           ua.email AS approved_by, j.progress, j.progress_message, j.error, j.external_task_ids, j.attempts,
           j.cancel_requested_at IS NOT NULL AS cancel_requested, j.schedule, j.next_run_at, j.parent_job_id,
           j.created_at, j.started_at, j.finished_at
    FROM jobs j LEFT JOIN users ui ON ui.id = j.initiated_by_user LEFT JOIN users ua ON ua.id = j.approved_by_user
"#;

pub async fn get(db: &Database, id: Uuid) -> Result<JobSummary> {
    sqlx::query_as(&format!("{SUMMARY_SQL} WHERE j.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no job {id}")))
}

/// Jobs, newest first; `status` narrows (e.g. awaiting_approval for the approval queue).
pub async fn list(db: &Database, status: Option<&str>, limit: i64) -> Result<Vec<JobSummary>> {
    Ok(sqlx::query_as(&format!(
        "{SUMMARY_SQL} WHERE ($1::text IS NULL OR j.status::text = $1) ORDER BY j.created_at DESC LIMIT $2"
    ))
    .bind(status)
    .bind(limit)
    .fetch_all(db.pool())
    .await?)
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct JobStep {
    pub seq: i32,
    pub name: String,
    pub kind: String,
    pub status: StepStatus,
    pub external_task_id: Option<String>,
    pub attempts: i32,
    pub error: Option<String>,
    #[ts(type = "string | null")]
    pub started_at: Option<DateTime<Utc>>,
    #[ts(type = "string | null")]
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct JobEvent {
    pub id: i64,
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    pub level: EventLevel,
    pub message: String,
    pub data: serde_json::Value,
    pub actor: String,
}

/// Everything about one job: the job page model.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct JobDetail {
    pub job: JobSummary,
    pub spec: JobSpec,
    /// The policy it runs under; none for the system's own jobs (syncs and reports a
    /// schedule made).
    pub policy: Option<Policy>,
    pub plan: Option<Plan>,
    /// The hash of the plan shown (`jobs.plan_hash`): an approval can be bound to it.
    pub plan_hash: Option<String>,
    /// Why it paused and what may be chosen.
    pub pause_reason: Option<PauseReason>,
    /// The pause's sentence for the operator (the same words `eio job show` prints).
    pub pause_message: Option<String>,
    /// The last decision taken on a pause.
    pub decision: Option<Decision>,
    pub steps: Vec<JobStep>,
    pub events: Vec<JobEvent>,
}

/// A job's stored policy, when it has one to show. The system's own jobs (scheduled syncs
/// and reports, `enqueue_system_job`) store only `{"require_approval": false}`: they have
/// no policy in this sense, and a page never fails over that.
pub fn stored_policy(v: serde_json::Value) -> Option<Policy> {
    serde_json::from_value(v).ok()
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    target: serde_json::Value,
    policy: serde_json::Value,
    plan: Option<serde_json::Value>,
    plan_hash: Option<String>,
    pause_reason: Option<serde_json::Value>,
    decision: Option<serde_json::Value>,
}

pub async fn detail(db: &Database, id: Uuid) -> Result<JobDetail> {
    let job = get(db, id).await?;
    let row: DetailRow =
        sqlx::query_as("SELECT target, policy, plan, plan_hash, pause_reason, decision FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await?;
    let steps = sqlx::query_as(
        "SELECT seq, name, kind, status, external_task_id, attempts, error, started_at, finished_at
         FROM job_steps WHERE job_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let events = sqlx::query_as(
        "SELECT e.id, e.at, e.level, e.message, e.data, coalesce(u.email, e.actor_login::text) AS actor
         FROM job_events e LEFT JOIN users u ON u.id = e.actor_user WHERE e.job_id = $1 ORDER BY e.id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let pause = row.pause_reason.map(PauseReason::from_stored);
    Ok(JobDetail {
        job,
        spec: JobSpec::from_target(&row.target)?,
        policy: stored_policy(row.policy),
        plan: row.plan.and_then(|p| serde_json::from_value(p).ok()),
        plan_hash: row.plan_hash,
        pause_message: pause.as_ref().map(PauseReason::message),
        pause_reason: pause,
        // Written by `decide_job` alone; one this version can't read is not shown.
        decision: row.decision.and_then(|d| serde_json::from_value(d).ok()),
        steps,
        events,
    })
}

/// Approve someone else's job. A plan with predicted blockers needs `acknowledge_blockers`
/// (the database refuses it otherwise, and keeps the acknowledged list with the approval);
/// with `plan_hash`, the approval is refused if the job's plan is no longer the one read.
pub async fn approve(
    db: &Database,
    id: Uuid,
    comment: Option<&str>,
    acknowledge_blockers: bool,
    plan_hash: Option<&str>,
) -> Result<JobSummary> {
    sqlx::query("SELECT approve_job($1, $2, $3, $4)")
        .bind(id)
        .bind(comment)
        .bind(acknowledge_blockers)
        .bind(plan_hash)
        .execute(db.pool())
        .await?;
    get(db, id).await
}

pub async fn deny(db: &Database, id: Uuid, comment: Option<&str>) -> Result<JobSummary> {
    sqlx::query("SELECT deny_job($1, $2)").bind(id).bind(comment).execute(db.pool()).await?;
    get(db, id).await
}

pub async fn cancel(db: &Database, id: Uuid, reason: &str) -> Result<JobSummary> {
    sqlx::query("SELECT cancel_job($1, $2)").bind(id).bind(reason).execute(db.pool()).await?;
    get(db, id).await
}

/// An operator's answer to a paused job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    Cancel,
    Retry,
    Shutdown,
    Suspend,
}

impl Choice {
    /// The word `decide_job` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Cancel => "cancel",
            Choice::Retry => "retry",
            Choice::Shutdown => "shutdown",
            Choice::Suspend => "suspend",
        }
    }
}

pub async fn decide(
    db: &Database,
    id: Uuid,
    choice: Choice,
    vms: &[String],
    comment: Option<&str>,
) -> Result<JobSummary> {
    let choice = choice.as_str();
    // Operators name VMs as they see them; the pause lists each blocking VM's name and moid.
    let reason: Option<PauseReason> = sqlx::query_scalar("SELECT pause_reason FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .flatten()
        .map(PauseReason::from_stored);
    let blocking = reason.as_ref().map(PauseReason::blocking_vms).unwrap_or_default();
    let vms: Vec<String> = vms
        .iter()
        .map(|v| blocking.iter().find(|b| &b.vm_name == v).map(|b| b.vm_moid.clone()).unwrap_or_else(|| v.clone()))
        .collect();
    sqlx::query("SELECT decide_job($1, $2, $3, $4)")
        .bind(id)
        .bind(choice)
        .bind(&vms)
        .bind(comment)
        .execute(db.pool())
        .await?;
    get(db, id).await
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct KillSwitch {
    pub engaged: bool,
    pub reason: Option<String>,
    pub changed_by: Option<String>,
    #[ts(type = "string | null")]
    pub changed_at: Option<DateTime<Utc>>,
}

pub async fn kill_switch(db: &Database) -> Result<KillSwitch> {
    Ok(sqlx::query_as("SELECT engaged, reason, changed_by_login::text AS changed_by, changed_at FROM kill_switch")
        .fetch_one(db.pool())
        .await?)
}

/// Engage (any operator) or release (admins) the global kill switch.
pub async fn set_kill_switch(db: &Database, engaged: bool, reason: &str) -> Result<KillSwitch> {
    sqlx::query("SELECT set_kill_switch($1, $2)").bind(engaged).bind(reason).execute(db.pool()).await?;
    kill_switch(db).await
}
