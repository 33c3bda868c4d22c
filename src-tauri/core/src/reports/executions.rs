//! The execution ledger (`report_executions`): one row per report rendered in one format,
//! moving pending → generating → completed | failed, with what it wrote (files, size,
//! rows), how long it took, and why it failed.
//!
//! Owns reading the history and recording each step of a run. It records as the
//! session's user (a worker: as nobody); row-level security lets an operator record only
//! their own executions. It must never render or touch a file (see [`super::run`]), and
//! never mark an execution completed without the files it wrote.
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::filters::{self, Filters, StoredFilters};
use super::pipeline::Written;
use super::{explain_refusal, ExecutionStatus, ReportFormat, ReportType};
use crate::error::{Error, Result};
use crate::Database;

/// One execution: one report in one format (possibly several csv files).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct ReportExecution {
    #[ts(type = "string")]
    pub id: Uuid,
    /// The definition's name, for runs of a definition.
    pub definition: Option<String>,
    #[ts(type = "string | null")]
    pub job_id: Option<Uuid>,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub report_type: ReportType,
    pub format: ReportFormat,
    pub status: ExecutionStatus,
    #[sqlx(try_from = "StoredFilters")]
    pub filters: Filters,
    /// The file written (the first of several for csv of a multi-sheet report).
    pub storage_path: Option<String>,
    /// Every file written.
    pub files: Vec<String>,
    pub size_bytes: Option<i64>,
    pub row_count: Option<i64>,
    pub requested_by: Option<String>,
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
    #[ts(type = "string | null")]
    pub started_at: Option<DateTime<Utc>>,
    #[ts(type = "string | null")]
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// Why it failed, in words.
    pub error: Option<String>,
}

/// What a run reports back: the execution as recorded.
pub type ExecutionSummary = ReportExecution;

const EXECUTION_SELECT: &str = r#"
    SELECT e.id, d.name AS definition, e.job_id, e.type, e.format,
           e.status, e.filters, e.storage_path, e.files, e.size_bytes, e.row_count,
           u.email AS requested_by, e.created_at, e.started_at, e.finished_at, e.duration_ms, e.error
    FROM report_executions e
    LEFT JOIN report_definitions d ON d.id = e.definition_id
    LEFT JOIN users u ON u.id = e.requested_by
"#;

pub async fn execution(db: &Database, id: Uuid) -> Result<ReportExecution> {
    sqlx::query_as::<_, ReportExecution>(&format!("{EXECUTION_SELECT} WHERE e.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no report execution {id}")))
}

/// Executions, newest first; only those of definition `name` if given.
pub async fn history(db: &Database, name: Option<&str>, limit: i64) -> Result<Vec<ReportExecution>> {
    Ok(sqlx::query_as::<_, ReportExecution>(&format!(
        "{EXECUTION_SELECT} WHERE ($1::text IS NULL OR d.name = $1) ORDER BY e.created_at DESC, e.id LIMIT $2"
    ))
    .bind(name)
    .bind(limit.clamp(1, 10_000))
    .fetch_all(db.pool())
    .await?)
}

/// Record a new pending execution as the session's user (a worker: as nobody). None when
/// job `job` already has an execution in `format` (see [`job_execution`]).
pub(super) async fn record_pending(
    db: &Database,
    definition: Option<Uuid>,
    job: Option<Uuid>,
    report_type: ReportType,
    format: ReportFormat,
    filters: &Filters,
) -> Result<Option<Uuid>> {
    sqlx::query_scalar(
        r#"
        INSERT INTO report_executions (definition_id, job_id, type, status, format, filters, requested_by)
        VALUES ($1, $2, $3, 'pending', $4, $5, current_app_user_id())
        ON CONFLICT ON CONSTRAINT report_executions_job_format_key DO NOTHING
        RETURNING id
        "#,
    )
    .bind(definition)
    .bind(job)
    .bind(report_type)
    .bind(format)
    .bind(filters::to_json(filters)?)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| explain_refusal(Error::from(e), &format!("running a {report_type} report")))
}

/// The execution job `job` recorded for `format` (one per job and format).
pub(super) async fn job_execution(db: &Database, job: Uuid, format: ReportFormat) -> Result<Uuid> {
    Ok(sqlx::query_scalar("SELECT id FROM report_executions WHERE job_id = $1 AND format = $2")
        .bind(job)
        .bind(format)
        .fetch_one(db.pool())
        .await?)
}

/// Execution `id` is being generated (again): whatever an earlier attempt recorded of its
/// end is cleared.
pub(super) async fn mark_generating(db: &Database, id: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE report_executions SET status = 'generating', started_at = now(), finished_at = NULL, \
         error = NULL, duration_ms = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Execution `id` wrote `written` in `elapsed_ms`.
pub(super) async fn mark_completed(db: &Database, id: Uuid, written: &Written, elapsed_ms: i64) -> Result<()> {
    let files: Vec<String> = written.files.iter().map(|p| p.display().to_string()).collect();
    sqlx::query(
        r#"
        UPDATE report_executions
        SET status = 'completed', storage_path = $2, files = $3, size_bytes = $4, row_count = $5,
            finished_at = now(), duration_ms = $6
        WHERE id = $1
        "#,
    )
    .bind(id)
    .bind(files.first())
    .bind(&files)
    .bind(written.size_bytes as i64)
    .bind(written.row_count as i64)
    .bind(elapsed_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Execution `id` failed after `elapsed_ms`, for `reason`.
pub(super) async fn mark_failed(db: &Database, id: Uuid, reason: &str, elapsed_ms: i64) -> Result<()> {
    sqlx::query(
        "UPDATE report_executions SET status = 'failed', error = $2, finished_at = now(), duration_ms = $3 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .bind(elapsed_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}
