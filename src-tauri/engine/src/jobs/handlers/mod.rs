//! What each job type does, as resumable steps. Every handler re-reads its job's steps on
//! start, so a job resumed by another worker continues where the last one stopped; every
//! external call goes through [`JobContext::run_action`](super::context::JobContext::run_action)
//! or is preceded by [`JobContext::guard`](super::context::JobContext::guard).
mod actions;
mod firmware;
mod maintenance;
mod package;
mod power;
pub(crate) mod report;
mod sync;
mod targets;

use eio_core::jobs::{self, JobSpec, Policy};

use super::context::{JobContext, JobError};
use crate::sync::Syncer;

/// Run the job's handler; the worker records how it ended.
pub async fn run(ctx: &JobContext, syncer: &Syncer) -> Result<serde_json::Value, JobError> {
    let spec = ctx.job.spec.clone().map_err(JobError::Failed)?;
    // The type the database checked (approval, capability, plan) is the one that runs: the
    // database refuses a mismatch (`jobs_target_matches_type`); this catches any row older.
    if spec.job_type() != ctx.job.job_type {
        return Err(JobError::Failed(format!(
            "the job is a {} job but its target is a {} job: refused before touching anything",
            ctx.job.job_type,
            spec.job_type()
        )));
    }
    match &spec {
        JobSpec::Sync(t) => sync::run(ctx, syncer, t).await,
        JobSpec::Report(t) => report::run(ctx, t).await,
        JobSpec::MaintenanceMode(t) => maintenance::run(ctx, syncer, t).await,
        JobSpec::FirmwareUpdate(t) => firmware::run(ctx, syncer, t).await,
        JobSpec::Power(t) => power::run(ctx, syncer, t).await,
    }
}

/// The job's policy as stored at submission.
pub fn policy(ctx: &JobContext) -> Result<Policy, JobError> {
    ctx.job.policy.clone().ok_or_else(|| JobError::Failed("the job's policy is unreadable".into()))
}

/// The predicted blockers of the job's stored plan (the one approved), if it has any this
/// version can read.
pub fn stored_blockers(ctx: &JobContext) -> Option<Vec<jobs::plan::PredictedBlocker>> {
    serde_json::from_value(ctx.job.plan.as_ref()?.get("blockers")?.clone()).ok()
}

/// Before the first external action: recompute the plan from today's inventory and, if its
/// material part differs from what was approved — or it now predicts a blocker the approval
/// did not acknowledge — send the job back for approval with the new plan.
pub async fn check_drift(ctx: &JobContext, spec: &JobSpec) -> Result<jobs::Plan, JobError> {
    let policy = policy(ctx)?;
    let plan = jobs::plan::compute(&ctx.db, spec, &policy).await.map_err(|e| JobError::Failed(e.message))?;
    if !plan.refusals.is_empty() {
        return Err(JobError::Failed(format!("the job can no longer run: {}", plan.refusals.join("; "))));
    }
    let hash = jobs::material_hash(&ctx.db, &plan).await?;
    // Every disruptive job has a plan: `submit_job` refuses one without (migration 0050).
    if ctx.job.plan_hash.as_deref().is_some_and(|approved| approved != hash) {
        let mut plan_json = serde_json::to_value(&plan).map_err(|e| JobError::Failed(e.to_string()))?;
        plan_json["material"] = plan.material();
        return Err(JobError::Reapprove {
            plan: plan_json,
            message: "the inventory changed since the plan was approved: it needs a new approval".into(),
        });
    }
    // The approver acknowledged the blockers of the plan they saw (the submitter wrote it):
    // a blocker that plan did not show — new since, or left out — needs their eyes again.
    if policy.require_approval && ctx.job.plan_hash.is_some() {
        let seen = |b: &jobs::plan::PredictedBlocker| (b.host_moid.clone(), b.vm_moid.clone(), b.reason_code.clone());
        let approved = stored_blockers(ctx).unwrap_or_default();
        let acknowledged: std::collections::BTreeSet<_> = approved.iter().map(seen).collect();
        let unseen = plan.blockers.iter().filter(|b| !acknowledged.contains(&seen(b))).count();
        if unseen > 0 {
            let mut plan_json = serde_json::to_value(&plan).map_err(|e| JobError::Failed(e.to_string()))?;
            plan_json["material"] = plan.material();
            return Err(JobError::Reapprove {
                plan: plan_json,
                message: format!(
                    "the plan now predicts {unseen} blocker(s) its approval did not acknowledge: it needs a new approval"
                ),
            });
        }
    }
    Ok(plan)
}
