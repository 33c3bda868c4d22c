//! The job operations the registry ([`crate::api`]) exposes: list and read jobs, submit,
//! approve, deny, cancel and decide on one, and read or set the kill switch — each one line
//! over the service in [`crate::jobs`], with its input here. (The named policies' and
//! baselines' operations are in [`super::policies`] and [`super::baselines`]; the jobs page
//! model is `crate::pages::jobs`.)
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::api::{NoInput, Session};
use crate::error::Result;
use crate::jobs::{self, Choice, JobDetail, JobSummary, KillSwitch, SubmitRequest, Submitted};
use crate::pages::jobs::JobsQuery;

/// Jobs, newest first, optionally in one state (default limit 100).
pub async fn jobs_list(s: &Session, q: JobsQuery) -> Result<Vec<JobSummary>> {
    jobs::list(&s.db, q.status.as_deref(), q.limit.unwrap_or(100).max(1)).await
}

pub async fn kill_switch(s: &Session, _: NoInput) -> Result<KillSwitch> {
    jobs::kill_switch(&s.db).await
}

pub async fn job_detail(s: &Session, i: JobIdInput) -> Result<JobDetail> {
    jobs::detail(&s.db, i.id).await
}

pub async fn job_submit(s: &Session, r: SubmitRequest) -> Result<Submitted> {
    jobs::submit(&s.db, &r).await
}

pub async fn job_approve(s: &Session, i: JobCommentInput) -> Result<JobSummary> {
    jobs::approve(&s.db, i.id, i.comment.as_deref(), i.acknowledge_blockers, i.plan_hash.as_deref()).await
}

pub async fn job_deny(s: &Session, i: JobCommentInput) -> Result<JobSummary> {
    jobs::deny(&s.db, i.id, i.comment.as_deref()).await
}

pub async fn job_cancel(s: &Session, i: JobCancelInput) -> Result<JobSummary> {
    jobs::cancel(&s.db, i.id, i.reason.as_deref().unwrap_or("cancelled from the UI")).await
}

pub async fn job_decide(s: &Session, i: JobDecideInput) -> Result<JobSummary> {
    jobs::decide(&s.db, i.id, i.choice, &i.vms, i.comment.as_deref()).await
}

pub async fn kill_switch_set(s: &Session, i: KillSwitchInput) -> Result<KillSwitch> {
    jobs::set_kill_switch(&s.db, i.engaged, &i.reason).await
}

/// One job, by id.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct JobIdInput {
    #[ts(type = "string")]
    pub id: Uuid,
}

/// Approve or deny a job, with an optional comment for the record.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct JobCommentInput {
    #[ts(type = "string")]
    pub id: Uuid,
    #[serde(default)]
    pub comment: Option<String>,
    /// Approving: the approver has read the plan's predicted blockers and approves anyway
    /// (needed when there are any; ignored when denying).
    #[serde(default)]
    pub acknowledge_blockers: bool,
    /// Approving: the hash of the plan the approver read (`ApprovalItem.plan_hash`); the
    /// database refuses the approval if the job's plan is no longer that one.
    #[serde(default)]
    pub plan_hash: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct JobCancelInput {
    #[ts(type = "string")]
    pub id: Uuid,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The answer to a paused job: cancel, retry, or shut down / suspend blocking VMs (moids).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct JobDecideInput {
    #[ts(type = "string")]
    pub id: Uuid,
    pub choice: Choice,
    #[serde(default)]
    pub vms: Vec<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct KillSwitchInput {
    pub engaged: bool,
    pub reason: String,
}
