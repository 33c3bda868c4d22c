//! `report` jobs: a scheduled run of a report definition (or one submitted by hand), run by
//! whichever worker leases it, and the tick that turns due schedules into such jobs.
//!
//! Rendering is [`eio_core::reports::run_job`]'s business: it writes each format atomically
//! and records one execution per format under the job, so a job resumed by another worker
//! re-generates only what didn't complete. This handler only reads what the job names, runs
//! it after the guard, and turns the outcome into the job's result. It makes no external
//! calls and must never render a report a second time for a format the job completed.
use eio_core::error::ErrorCode;
use eio_core::jobs::ReportTarget;
use eio_core::reports::{self, schedule};
use eio_core::Database;

use crate::jobs::context::{JobContext, JobError};

pub async fn run(ctx: &JobContext, t: &ReportTarget) -> Result<serde_json::Value, JobError> {
    ctx.guard().await?;
    // The target names the definition; the params a schedule wrote pin it by id and carry
    // the due time the files are named after.
    let mut params: serde_json::Value =
        sqlx::query_scalar("SELECT params FROM jobs WHERE id = $1").bind(ctx.job.id).fetch_one(ctx.db.pool()).await?;
    if !params.is_object() {
        params = serde_json::json!({});
    }
    if params.get("definition").is_none() {
        params["definition"] = serde_json::Value::String(t.definition.clone());
    }
    match reports::run_job(&ctx.db, ctx.job.id, &params).await {
        Ok(executions) => Ok(serde_json::json!({
            "definition": t.definition,
            "executions": executions.iter().map(|e| serde_json::json!({
                "id": e.id,
                "format": e.format,
                "status": e.status,
                "storage_path": e.storage_path,
                "files": e.files,
                "size_bytes": e.size_bytes,
                "row_count": e.row_count,
            })).collect::<Vec<_>>(),
        })),
        // Lost the database mid-run: the lease lapses and another worker resumes the job,
        // re-generating only the formats that didn't complete.
        Err(e) if e.code == ErrorCode::Unavailable => Err(JobError::Database(e)),
        Err(e) => Err(JobError::Failed(e.message)),
    }
}

/// Turn due report schedules into `report` jobs (the worker calls this every so often, on
/// every instance: [`schedule::enqueue_due`] makes one job per due time however many call).
/// Never fails the caller: a login that may not create jobs, or a database hiccup, is logged
/// and the next tick tries again.
pub async fn enqueue_due(db: &Database) {
    match schedule::enqueue_due(db).await {
        Ok(jobs) if !jobs.is_empty() => tracing::info!(jobs = jobs.len(), "scheduled reports are due: jobs created"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not check report schedules; retrying on the next tick"),
    }
}
