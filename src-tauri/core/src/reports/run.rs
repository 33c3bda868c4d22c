//! Running reports: one report into one file now ([`run`]), every format of a definition
//! ("run now", [`run_definition`]) and a `report` job of the job engine ([`run_job`]),
//! each recorded in the execution ledger as it goes.
//!
//! Owns the order of a run: check the filters (and a definition's folder), record the
//! execution, render through [`super::pipeline`] and [`super::render`] into the
//! destination, then record how it ended. A report renders with the rights of whoever
//! runs it; sheets of tables that login can't read are left out. It must never hold a
//! whole result set in memory, never leave a partial file where a finished one was (or
//! replace a good one with a broken one), and never run a job's format again once that
//! job completed it.
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::FromRow;
use uuid::Uuid;

use super::definitions::{definition, definition_by_id_or_name};
use super::executions::{self, execution, ExecutionSummary, ReportExecution};
use super::filters::{plan, validate_filters, Filters, Plan};
use super::folders::{check_output_allowed, default_reports_dir_from_env, definition_output};
use super::pipeline::{self, Progress};
use super::{atomic, render, ExecutionStatus, ReportFormat, ReportType};
use crate::error::{Error, Result};
use crate::Database;

/// Knobs of one run.
#[derive(Default, Clone, Copy)]
pub struct RunOptions<'a> {
    /// Fail (as a full disk would) once a file grows past this many bytes.
    pub max_bytes: Option<u64>,
    /// Called as rows stream (with the count so far), e.g. for job progress.
    pub progress: Option<Progress<'a>>,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions").field("max_bytes", &self.max_bytes).finish_non_exhaustive()
    }
}

/// One report to one file, now ("run now", `eio report run`).
#[derive(Debug, Clone)]
pub struct RunRequest<'a> {
    pub report_type: ReportType,
    pub format: ReportFormat,
    pub out: PathBuf,
    pub filters: Filters,
    pub options: RunOptions<'a>,
}

/// Generate execution `id` into `destination`: generating → completed | failed.
async fn generate(
    db: &Database,
    id: Uuid,
    report_type: ReportType,
    format: ReportFormat,
    destination: &Path,
    filters: &Filters,
    options: RunOptions<'_>,
) -> Result<ReportExecution> {
    let started = Instant::now();
    executions::mark_generating(db, id).await?;
    let outcome = render_file(db, report_type, format, destination, filters, options).await;
    let elapsed = started.elapsed().as_millis() as i64;
    match outcome {
        Ok(w) => {
            executions::mark_completed(db, id, &w, elapsed).await?;
            execution(db, id).await
        }
        Err(e) => {
            let reason = crate::error::ApiError::from(&e).message;
            if let Err(re) = executions::mark_failed(db, id, &reason, elapsed).await {
                tracing::error!(execution = %id, error = %re, "could not record the failed report execution");
            }
            Err(Error::new(
                e.code,
                format!(
                    "{report_type} report ({format}) failed: {}; nothing was written to {} (an earlier file there is unchanged)",
                    e.message,
                    destination.display()
                ),
            )
            .with_source(e))
        }
    }
}

/// Render one report in one format to `destination` (no execution record).
async fn render_file(
    db: &Database,
    report_type: ReportType,
    format: ReportFormat,
    destination: &Path,
    filters: &Filters,
    options: RunOptions<'_>,
) -> Result<pipeline::Written> {
    let Plan { report, sheets, binds } = plan(report_type, filters)?;
    // Sheets of tables this login can't read (the security audit) are left out.
    let mut readable = Vec::with_capacity(sheets.len());
    for s in sheets {
        if let Some(table) = s.needs_select_on {
            let may: bool =
                sqlx::query_scalar("SELECT has_table_privilege($1, 'SELECT')").bind(table).fetch_one(db.pool()).await?;
            if !may {
                continue;
            }
        }
        readable.push(s);
    }
    let folder = atomic::folder_of(destination);
    std::fs::create_dir_all(&folder).map_err(|e| atomic::io_error(e, "cannot create the report folder", &folder))?;
    let chart = match (&report.chart, format) {
        (Some(c), ReportFormat::Html) => pipeline::bind_all(sqlx::query(c.sql), &binds)
            .try_map(|r| <(Option<String>, f64)>::from_row(&r))
            .fetch_all(db.pool())
            .await?
            .into_iter()
            .map(|(label, value)| (label.unwrap_or_else(|| "(none)".into()), value))
            .collect(),
        _ => Vec::new(),
    };
    let meta = render::Meta { report, generated_at: Utc::now(), filters: filters.clone(), chart };
    let sink = render::open(format, destination, meta, &readable, options.max_bytes)?;
    pipeline::render(db, &readable, &binds, sink, options.progress).await
}

/// Run one report into one file now, recording the execution as the session's user.
pub async fn run(db: &Database, request: &RunRequest<'_>) -> Result<ExecutionSummary> {
    plan(request.report_type, &request.filters)?;
    let destination = absolute(&request.out)?;
    let id = executions::record_pending(db, None, None, request.report_type, request.format, &request.filters)
        .await?
        .ok_or_else(|| Error::internal("a new report execution was not recorded"))?;
    generate(db, id, request.report_type, request.format, &destination, &request.filters, request.options).await
}

fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir().map_err(|e| Error::internal(format!("cannot read the current folder: {e}")))?.join(path))
}

/// "Run now": every format of definition `name`, as the session's user, into its folder
/// (`default_dir` when it names none). Stops at nothing: every format is tried, then the
/// first failure (if any) is returned.
pub async fn run_definition(db: &Database, name: &str, default_dir: &Path) -> Result<Vec<ExecutionSummary>> {
    let def = definition(db, name).await?;
    validate_filters(def.report_type, &def.filters)?;
    check_output_allowed(db, &def).await?;
    let stamp = Utc::now().format("%Y%m%d-%H%M%S").to_string();
    let mut done = Vec::new();
    let mut first_error = None;
    for format in &def.formats {
        let id = executions::record_pending(db, Some(def.id), None, def.report_type, *format, &def.filters)
            .await?
            .ok_or_else(|| Error::internal("a new report execution was not recorded"))?;
        let out = definition_output(&def, default_dir, &stamp, *format);
        match generate(db, id, def.report_type, *format, &out, &def.filters, RunOptions::default()).await {
            Ok(e) => done.push(e),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

/// Parameters of a `report` job, as [`super::schedule::enqueue_due`] writes them.
#[derive(Debug, Clone, Deserialize)]
struct JobParams {
    /// The definition by id (scheduled runs) …
    #[serde(default)]
    definition_id: Option<Uuid>,
    /// … or by name (a report job submitted by hand).
    #[serde(default)]
    definition: Option<String>,
    #[serde(default)]
    due_at: Option<DateTime<Utc>>,
}

/// Run the `report` job `job_id` (called by the job engine, as a worker) with its `params`
/// (`{"definition_id": …, "due_at": …}` as [`super::schedule::enqueue_due`] writes them,
/// or `{"definition": "<name>"}`): every format of the job's definition, into its folder
/// (the data directory's `reports` folder when it names none), each recorded with
/// `job_id` set. Idempotent: a format this job already completed is not produced again
/// (unique `(job_id, format)`); a failed or interrupted one is generated again into the
/// same execution. Returns every format's execution, or the first failure after trying
/// them all.
pub async fn run_job(db: &Database, job_id: Uuid, params: &serde_json::Value) -> Result<Vec<ExecutionSummary>> {
    run_job_in(db, &default_reports_dir_from_env()?, job_id, params).await
}

/// As [`run_job`], with the default folder given (the engine knows its
/// [`crate::config::Config`]).
pub async fn run_job_in(
    db: &Database,
    default_dir: &Path,
    job_id: Uuid,
    params: &serde_json::Value,
) -> Result<Vec<ExecutionSummary>> {
    let params: JobParams = serde_json::from_value(params.clone())
        .map_err(|e| Error::invalid(format!("report job {job_id} has bad parameters ({e})")))?;
    if params.definition_id.is_none() && params.definition.is_none() {
        return Err(Error::invalid(format!(
            "report job {job_id} names no report definition (params need definition_id or definition)"
        )));
    }
    let def =
        definition_by_id_or_name(db, params.definition_id, params.definition.as_deref()).await?.ok_or_else(|| {
            let which = params.definition_id.map(|i| i.to_string()).or(params.definition.clone()).unwrap_or_default();
            Error::not_found(format!("report job {job_id}: its report definition {which} no longer exists"))
        })?;
    check_output_allowed(db, &def).await?;
    let stamp = params.due_at.unwrap_or_else(Utc::now).format("%Y%m%d-%H%M").to_string();
    let mut done = Vec::new();
    let mut first_error = None;
    for format in &def.formats {
        let id =
            match executions::record_pending(db, Some(def.id), Some(job_id), def.report_type, *format, &def.filters)
                .await?
            {
                Some(id) => id,
                None => {
                    let existing = executions::job_execution(db, job_id, *format).await?;
                    let e = execution(db, existing).await?;
                    if e.status == ExecutionStatus::Completed {
                        done.push(e);
                        continue;
                    }
                    existing
                }
            };
        let out = definition_output(&def, default_dir, &stamp, *format);
        match generate(db, id, def.report_type, *format, &out, &def.filters, RunOptions::default()).await {
            Ok(e) => done.push(e),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(done),
    }
}
