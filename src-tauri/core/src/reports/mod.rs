//! Domain 6, Reporting: report definitions (type, filters, formats, cron schedule, output
//! folder) and their executions (pending → generating → completed | failed), rendered to
//! local files in html, csv, json and xlsx.
//!
//! Owns what a report is ([`catalog`]), how its rows stream from PostgreSQL to a file
//! ([`pipeline`], [`render`]), writing files atomically ([`atomic`]), schedules and the
//! jobs they become ([`schedule`]), and the execution ledger in `report_executions`.
//!
//! A report is rendered by whoever runs it, with that login's rights: the desktop user's
//! own login for "run now", a worker for scheduled runs (the job engine calls
//! [`run_job`]). An operator records only their own executions (row-level security);
//! viewers read definitions and history but can't run reports. This module must never
//! hold a whole result set in memory, never leave a partial file where a finished one
//! was (or replace a good one with a broken one), and never put a secret in a report.
mod atomic;
pub mod catalog;
pub mod ops;
mod pipeline;
mod render;
pub mod schedule;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use ts_rs::TS;
use uuid::Uuid;

use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::Database;
use catalog::{FilterKind, Report, Sheet};
use pipeline::{Bind, Progress};

/// The report types (`report_type` in the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportType {
    InventorySummary,
    Rvtools,
    FirmwareCompliance,
    ServerMapping,
    IpamUtilization,
    IpamFindings,
    JobHistory,
    CredentialRotation,
}

impl ReportType {
    pub const ALL: [ReportType; 8] = [
        ReportType::InventorySummary,
        ReportType::Rvtools,
        ReportType::FirmwareCompliance,
        ReportType::ServerMapping,
        ReportType::IpamUtilization,
        ReportType::IpamFindings,
        ReportType::JobHistory,
        ReportType::CredentialRotation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportType::InventorySummary => "inventory_summary",
            ReportType::Rvtools => "rvtools",
            ReportType::FirmwareCompliance => "firmware_compliance",
            ReportType::ServerMapping => "server_mapping",
            ReportType::IpamUtilization => "ipam_utilization",
            ReportType::IpamFindings => "ipam_findings",
            ReportType::JobHistory => "job_history",
            ReportType::CredentialRotation => "credential_rotation",
        }
    }

    pub fn catalog(self) -> &'static Report {
        catalog::report(self)
    }
}

impl FromStr for ReportType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        ReportType::ALL.into_iter().find(|t| t.as_str() == wanted).ok_or_else(|| {
            Error::invalid(format!(
                "unknown report type \"{s}\"; known types: {}",
                ReportType::ALL.map(|t| t.as_str()).join(", ")
            ))
        })
    }
}

impl std::fmt::Display for ReportType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The file formats (`report_format` in the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    Html,
    Csv,
    Json,
    Xlsx,
}

impl ReportFormat {
    pub const ALL: [ReportFormat; 4] = [ReportFormat::Html, ReportFormat::Csv, ReportFormat::Json, ReportFormat::Xlsx];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Html => "html",
            ReportFormat::Csv => "csv",
            ReportFormat::Json => "json",
            ReportFormat::Xlsx => "xlsx",
        }
    }

    /// The file extension, which is also the name.
    pub fn extension(self) -> &'static str {
        self.as_str()
    }
}

impl FromStr for ReportFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase();
        ReportFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == wanted)
            .ok_or_else(|| Error::invalid(format!("unknown report format \"{s}\"; formats: html, csv, json, xlsx")))
    }
}

impl std::fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an execution stands (`report_status` in the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Pending,
    Generating,
    Completed,
    Failed,
}

impl FromStr for ExecutionStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(ExecutionStatus::Pending),
            "generating" => Ok(ExecutionStatus::Generating),
            "completed" => Ok(ExecutionStatus::Completed),
            "failed" => Ok(ExecutionStatus::Failed),
            other => Err(Error::internal(format!("unknown report status {other}"))),
        }
    }
}

/// Filters as given (`site=US-EAST-01`, `cluster=prod-a`, …): strings, checked against the
/// report type's list before anything runs.
pub type Filters = BTreeMap<String, String>;

/// Parse `key=value` arguments.
pub fn parse_filter_args<S: AsRef<str>>(args: &[S]) -> Result<Filters> {
    let mut filters = Filters::new();
    for a in args {
        let a = a.as_ref();
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| Error::invalid(format!("filter \"{a}\" must look like key=value (site=US-EAST-01)")))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(Error::invalid(format!("filter \"{a}\" needs both a key and a value")));
        }
        if filters.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(Error::invalid(format!("filter \"{k}\" is given twice")));
        }
    }
    Ok(filters)
}

/// What running `report` with `filters` means: the sheets to produce and the values bound.
#[derive(Debug)]
struct Plan {
    report: &'static Report,
    sheets: Vec<&'static Sheet>,
    binds: Vec<Bind>,
}

fn accepted_filters(report: &Report) -> String {
    let mut list: Vec<String> = report.filters.iter().map(|f| format!("{} ({})", f.key, f.help)).collect();
    if report.sheets.len() > 1 {
        list.push(format!(
            "{} (comma-separated: {})",
            catalog::SHEET_FILTER,
            report.sheets.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
        ));
    }
    if list.is_empty() {
        "none".into()
    } else {
        list.join("; ")
    }
}

fn parse_time(key: &str, v: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    Err(Error::invalid(format!(
        "filter {key}=\"{v}\" is not a time; use a date (2026-01-31) or an RFC 3339 time (2026-01-31T06:00:00Z)"
    )))
}

/// Check `filters` against what `report_type` accepts and turn them into binds.
fn plan(report_type: ReportType, filters: &Filters) -> Result<Plan> {
    let report = report_type.catalog();
    for key in filters.keys() {
        let known =
            report.filters.iter().any(|f| f.key == key) || (key == catalog::SHEET_FILTER && report.sheets.len() > 1);
        if !known {
            return Err(Error::invalid(format!(
                "{report_type} reports have no filter \"{key}\"; they accept: {}",
                accepted_filters(report)
            )));
        }
    }
    let mut binds = Vec::with_capacity(report.filters.len());
    for f in report.filters {
        let value = filters.get(f.key).map(String::as_str);
        binds.push(match (f.kind, value) {
            (FilterKind::Text, v) => Bind::Text(v.map(str::to_owned)),
            (FilterKind::Choice(choices), Some(v)) => {
                let v = v.to_ascii_lowercase();
                if !choices.contains(&v.as_str()) {
                    return Err(Error::invalid(format!(
                        "filter {}=\"{v}\" is not one of: {}",
                        f.key,
                        choices.join(", ")
                    )));
                }
                Bind::Text(Some(v))
            }
            (FilterKind::Choice(_), None) => Bind::Text(None),
            (FilterKind::Time, v) => Bind::Time(v.map(|v| parse_time(f.key, v)).transpose()?),
            (FilterKind::Bool, None) => Bind::Bool(None),
            (FilterKind::Bool, Some(v)) => Bind::Bool(Some(match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                _ => return Err(Error::invalid(format!("filter {}=\"{v}\" must be true or false", f.key))),
            })),
        });
    }
    if let (Some(Bind::Time(Some(from))), Some(Bind::Time(Some(to)))) = (
        report.filters.iter().position(|f| f.key == "from").and_then(|i| binds.get(i)),
        report.filters.iter().position(|f| f.key == "to").and_then(|i| binds.get(i)),
    ) {
        if from >= to {
            return Err(Error::invalid(format!("the time range is empty: from {from} is not before to {to}")));
        }
    }
    let sheets: Vec<&'static Sheet> = match filters.get(catalog::SHEET_FILTER) {
        None => report.sheets.iter().collect(),
        Some(list) => {
            let mut chosen = Vec::new();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let sheet = report.sheets.iter().find(|s| s.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
                    Error::invalid(format!(
                        "{report_type} reports have no sheet \"{name}\"; sheets: {}",
                        report.sheets.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                if !chosen.iter().any(|s: &&Sheet| std::ptr::eq(*s, sheet)) {
                    chosen.push(sheet);
                }
            }
            // Keep the catalog's order whatever order they were named in.
            report.sheets.iter().filter(|s| chosen.iter().any(|c| std::ptr::eq(*c, *s))).collect()
        }
    };
    if sheets.is_empty() {
        return Err(Error::invalid(format!("filter {}= names no sheet", catalog::SHEET_FILTER)));
    }
    Ok(Plan { report, sheets, binds })
}

/// Check a report type's filters without running anything (for definitions and UIs).
pub fn validate_filters(report_type: ReportType, filters: &Filters) -> Result<()> {
    plan(report_type, filters).map(|_| ())
}

/// The default folder for report files: `reports` under the data directory.
pub fn default_reports_dir(config: &Config) -> PathBuf {
    config.data_dir.join("reports")
}

/// As [`default_reports_dir`], for callers without a [`Config`] at hand (the operation
/// registry, the job engine): the data directory as the environment and config file say.
pub fn default_reports_dir_from_env() -> Result<PathBuf> {
    Ok(default_reports_dir(&Config::load(crate::config::Overrides::from_env())?))
}

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

/// A report definition as listed.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ReportDefinition {
    #[ts(type = "string")]
    pub id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub report_type: ReportType,
    /// Cron expression (UTC); none = on demand only.
    pub schedule: Option<String>,
    /// The schedule in words.
    pub schedule_description: Option<String>,
    pub formats: Vec<ReportFormat>,
    pub filters: Filters,
    /// None = the reports folder under the data directory of whoever runs it.
    pub output_dir: Option<String>,
    pub enabled: bool,
    #[ts(type = "string | null")]
    pub next_run_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
    #[ts(type = "string")]
    pub updated_at: DateTime<Utc>,
    pub last_status: Option<ExecutionStatus>,
    #[ts(type = "string | null")]
    pub last_run_at: Option<DateTime<Utc>>,
}

/// A new definition, or new settings for the definition of that name.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct NewDefinition {
    pub name: String,
    #[serde(rename = "type")]
    pub report_type: ReportType,
    pub formats: Vec<ReportFormat>,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub filters: Filters,
    /// An absolute folder; none = the reports folder under the data directory.
    #[serde(default)]
    pub output_dir: Option<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// One execution: one report in one format (possibly several csv files).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ReportExecution {
    #[ts(type = "string")]
    pub id: Uuid,
    /// The definition's name, for runs of a definition.
    pub definition: Option<String>,
    #[ts(type = "string | null")]
    pub job_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub report_type: ReportType,
    pub format: ReportFormat,
    pub status: ExecutionStatus,
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

fn filters_from_json(v: serde_json::Value) -> Filters {
    match v {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        _ => Filters::new(),
    }
}

fn name_is_valid(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Turn the database's refusals of report writes into sentences an operator can act on.
fn explain_refusal(e: Error, doing: &str) -> Error {
    if e.code != ErrorCode::Forbidden {
        return e;
    }
    let msg = if e.message.contains("row-level security") {
        format!(
            "{doing} was refused: an operator acts only as themselves, and this login is not mapped to an EIO user \
             (or the definition belongs to someone else)"
        )
    } else {
        format!("{doing} needs the operator role; viewers can read report definitions and history but not run or define reports")
    };
    Error::forbidden(msg).with_source(e)
}

// ---------------------------------------------------------------------------------
// Definitions.

const DEFINITION_SELECT: &str = r#"
    SELECT d.id, d.name, d.type::text AS type, d.schedule, d.formats::text[] AS formats, d.filters, d.output_dir,
           d.enabled, d.next_run_at, u.email AS created_by, d.created_at, d.updated_at,
           le.status::text AS last_status, le.at AS last_run_at
    FROM report_definitions d
    LEFT JOIN users u ON u.id = d.created_by
    LEFT JOIN LATERAL (
        SELECT e.status, coalesce(e.finished_at, e.created_at) AS at FROM report_executions e
        WHERE e.definition_id = d.id ORDER BY e.created_at DESC, e.id LIMIT 1
    ) le ON true
"#;

fn definition_from_row(r: &sqlx::postgres::PgRow) -> Result<ReportDefinition> {
    let schedule: Option<String> = r.try_get("schedule")?;
    let formats: Vec<String> = r.try_get("formats")?;
    Ok(ReportDefinition {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        report_type: r.try_get::<String, _>("type")?.parse()?,
        schedule_description: schedule.as_deref().and_then(|s| schedule::parse(s).ok()).map(|s| s.describe()),
        schedule,
        formats: formats.iter().map(|f| f.parse()).collect::<Result<_>>()?,
        filters: filters_from_json(r.try_get("filters")?),
        output_dir: r.try_get("output_dir")?,
        enabled: r.try_get("enabled")?,
        next_run_at: r.try_get("next_run_at")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        last_status: r.try_get::<Option<String>, _>("last_status")?.map(|s| s.parse()).transpose()?,
        last_run_at: r.try_get("last_run_at")?,
    })
}

pub async fn definitions(db: &Database) -> Result<Vec<ReportDefinition>> {
    let rows = sqlx::query(&format!("{DEFINITION_SELECT} ORDER BY d.name")).fetch_all(db.pool()).await?;
    rows.iter().map(definition_from_row).collect()
}

pub async fn definition(db: &Database, name: &str) -> Result<ReportDefinition> {
    let row = sqlx::query(&format!("{DEFINITION_SELECT} WHERE d.name = $1"))
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no report definition named \"{name}\" (see `eio report list`)")))?;
    definition_from_row(&row)
}

/// Create the definition, or replace the settings of the one with that name (yours, or
/// any as an admin). A schedule sets `next_run_at` to its next time.
pub async fn define(db: &Database, new: &NewDefinition) -> Result<ReportDefinition> {
    if !name_is_valid(&new.name) {
        return Err(Error::invalid(format!(
            "report name \"{}\" must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
            new.name
        )));
    }
    if new.formats.is_empty() {
        return Err(Error::invalid("a report definition needs at least one format (html, csv, json, xlsx)"));
    }
    let mut formats: Vec<&str> = Vec::new();
    for f in &new.formats {
        if !formats.contains(&f.as_str()) {
            formats.push(f.as_str());
        }
    }
    validate_filters(new.report_type, &new.filters)?;
    let schedule = match new.schedule.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(schedule::parse(s)?),
        None => None,
    };
    let next_run_at = schedule.as_ref().map(|s| s.next_after(Utc::now())).transpose()?;
    if let Some(dir) = &new.output_dir {
        if !Path::new(dir).is_absolute() {
            return Err(Error::invalid(format!("output folder \"{dir}\" must be an absolute path")));
        }
    }
    sqlx::query(
        r#"
        INSERT INTO report_definitions (name, type, schedule, formats, filters, output_dir, enabled, next_run_at, created_by)
        VALUES ($1, $2::text::report_type, $3, $4::text[]::report_format[], $5, $6, $7, $8, current_app_user_id())
        ON CONFLICT ON CONSTRAINT report_definitions_name_key DO UPDATE
            SET type = EXCLUDED.type, schedule = EXCLUDED.schedule, formats = EXCLUDED.formats,
                filters = EXCLUDED.filters, output_dir = EXCLUDED.output_dir, enabled = EXCLUDED.enabled,
                next_run_at = EXCLUDED.next_run_at
        "#,
    )
    .bind(&new.name)
    .bind(new.report_type.as_str())
    .bind(schedule.as_ref().map(|s| s.as_str().to_owned()))
    .bind(&formats)
    .bind(serde_json::to_value(&new.filters).map_err(|e| Error::internal(e.to_string()))?)
    .bind(&new.output_dir)
    .bind(new.enabled)
    .bind(next_run_at)
    .execute(db.pool())
    .await
    .map_err(|e| explain_refusal(Error::from(e), &format!("defining report \"{}\"", new.name)))?;
    definition(db, &new.name).await
}

// ---------------------------------------------------------------------------------
// Executions.

const EXECUTION_SELECT: &str = r#"
    SELECT e.id, d.name AS definition, e.job_id, e.type::text AS type, e.format::text AS format,
           e.status::text AS status, e.filters, e.storage_path, e.files, e.size_bytes, e.row_count,
           u.email AS requested_by, e.created_at, e.started_at, e.finished_at, e.duration_ms, e.error
    FROM report_executions e
    LEFT JOIN report_definitions d ON d.id = e.definition_id
    LEFT JOIN users u ON u.id = e.requested_by
"#;

fn execution_from_row(r: &sqlx::postgres::PgRow) -> Result<ReportExecution> {
    Ok(ReportExecution {
        id: r.try_get("id")?,
        definition: r.try_get("definition")?,
        job_id: r.try_get("job_id")?,
        report_type: r.try_get::<String, _>("type")?.parse()?,
        format: r.try_get::<String, _>("format")?.parse()?,
        status: r.try_get::<String, _>("status")?.parse()?,
        filters: filters_from_json(r.try_get("filters")?),
        storage_path: r.try_get("storage_path")?,
        files: r.try_get("files")?,
        size_bytes: r.try_get("size_bytes")?,
        row_count: r.try_get("row_count")?,
        requested_by: r.try_get("requested_by")?,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        duration_ms: r.try_get("duration_ms")?,
        error: r.try_get("error")?,
    })
}

pub async fn execution(db: &Database, id: Uuid) -> Result<ReportExecution> {
    let row = sqlx::query(&format!("{EXECUTION_SELECT} WHERE e.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no report execution {id}")))?;
    execution_from_row(&row)
}

/// Executions, newest first; only those of definition `name` if given.
pub async fn history(db: &Database, name: Option<&str>, limit: i64) -> Result<Vec<ReportExecution>> {
    let rows = sqlx::query(&format!(
        "{EXECUTION_SELECT} WHERE ($1::text IS NULL OR d.name = $1) ORDER BY e.created_at DESC, e.id LIMIT $2"
    ))
    .bind(name)
    .bind(limit.clamp(1, 10_000))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(execution_from_row).collect()
}

/// Record a new pending execution as the session's user (a worker: as nobody).
async fn record_pending(
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
        VALUES ($1, $2, $3::text::report_type, 'pending', $4::text::report_format, $5, current_app_user_id())
        ON CONFLICT ON CONSTRAINT report_executions_job_format_key DO NOTHING
        RETURNING id
        "#,
    )
    .bind(definition)
    .bind(job)
    .bind(report_type.as_str())
    .bind(format.as_str())
    .bind(serde_json::to_value(filters).map_err(|e| Error::internal(e.to_string()))?)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| explain_refusal(Error::from(e), &format!("running a {report_type} report")))
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
    sqlx::query(
        "UPDATE report_executions SET status = 'generating', started_at = now(), finished_at = NULL, \
         error = NULL, duration_ms = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(db.pool())
    .await?;
    let outcome = render_file(db, report_type, format, destination, filters, options).await;
    let elapsed = started.elapsed().as_millis() as i64;
    match outcome {
        Ok(w) => {
            let files: Vec<String> = w.files.iter().map(|p| p.display().to_string()).collect();
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
            .bind(w.size_bytes as i64)
            .bind(w.row_count as i64)
            .bind(elapsed)
            .execute(db.pool())
            .await?;
            execution(db, id).await
        }
        Err(e) => {
            let reason = crate::error::ApiError::from(&e).message;
            let recorded = sqlx::query(
                "UPDATE report_executions SET status = 'failed', error = $2, finished_at = now(), duration_ms = $3 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(&reason)
            .bind(elapsed)
            .execute(db.pool())
            .await;
            if let Err(re) = recorded {
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
        (Some(c), ReportFormat::Html) => {
            let rows = pipeline::bind_all(sqlx::query(c.sql), &binds).fetch_all(db.pool()).await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<Option<String>, _>(0)?.unwrap_or_else(|| "(none)".into()), r.try_get(1)?)))
                .collect::<Result<Vec<(String, f64)>>>()?
        }
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
    let id = record_pending(db, None, None, request.report_type, request.format, &request.filters)
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

/// A definition's folder must still be on the admins' list when it runs (the database
/// checks it when the definition is written; an admin may have removed it since).
async fn check_output_allowed(db: &Database, def: &ReportDefinition) -> Result<()> {
    let allowed: bool =
        sqlx::query_scalar("SELECT report_output_allowed($1)").bind(&def.output_dir).fetch_one(db.pool()).await?;
    if allowed {
        return Ok(());
    }
    Err(Error::forbidden(format!(
        "report \"{}\" writes to {}, which is no longer on the list of report folders an admin allowed",
        def.name,
        def.output_dir.as_deref().unwrap_or_default()
    )))
}

/// A folder report definitions may write to (admins: `eio report folder add`).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct OutputFolder {
    pub path: String,
    pub description: Option<String>,
    pub created_by: Option<String>,
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
}

pub async fn output_folders(db: &Database) -> Result<Vec<OutputFolder>> {
    let rows = sqlx::query(
        "SELECT f.path, f.description, u.email AS created_by, f.created_at
         FROM report_output_folders f LEFT JOIN users u ON u.id = f.created_by ORDER BY f.path",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OutputFolder {
                path: r.try_get("path")?,
                description: r.try_get("description")?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Allow report definitions to write to `path` (admins; audited by the database).
pub async fn allow_output_folder(db: &Database, path: &str, description: Option<&str>) -> Result<Vec<OutputFolder>> {
    let p = Path::new(path);
    let plain = p.components().all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_)));
    if !p.is_absolute() || !plain || path == "/" || path.ends_with('/') || path.contains("//") {
        return Err(Error::invalid(format!(
            "report folder \"{path}\" must be an absolute path without '.', '..' or a trailing '/', and not / itself"
        )));
    }
    sqlx::query("INSERT INTO report_output_folders (path, description) VALUES ($1, $2) ON CONFLICT (path) DO NOTHING")
        .bind(path)
        .bind(description)
        .execute(db.pool())
        .await
        .map_err(|e| admin_only(Error::from(e), &format!("allowing report folder {path}")))?;
    output_folders(db).await
}

/// Take `path` off the list: definitions writing there fail until they are changed.
pub async fn remove_output_folder(db: &Database, path: &str) -> Result<Vec<OutputFolder>> {
    let n = sqlx::query("DELETE FROM report_output_folders WHERE path = $1")
        .bind(path)
        .execute(db.pool())
        .await
        .map_err(|e| admin_only(Error::from(e), &format!("removing report folder {path}")))?
        .rows_affected();
    if n == 0 {
        return Err(Error::not_found(format!("{path} is not on the list of report folders")));
    }
    output_folders(db).await
}

fn admin_only(e: Error, doing: &str) -> Error {
    if e.code != ErrorCode::Forbidden {
        return e;
    }
    Error::forbidden(format!("{doing} needs the admin role")).with_source(e)
}

/// Where a definition's file of one run goes: `<folder>/<name>_<stamp>.<ext>`.
fn definition_output(def: &ReportDefinition, default_dir: &Path, stamp: &str, format: ReportFormat) -> PathBuf {
    let dir = def.output_dir.as_deref().map(PathBuf::from).unwrap_or_else(|| default_dir.to_path_buf());
    dir.join(format!("{}_{stamp}.{}", def.name, format.extension()))
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
        let id = record_pending(db, Some(def.id), None, def.report_type, *format, &def.filters)
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

/// Parameters of a `report` job, as [`schedule::enqueue_due`] writes them.
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
/// (`{"definition_id": …, "due_at": …}` as [`schedule::enqueue_due`] writes them, or
/// `{"definition": "<name>"}`): every format of
/// the job's definition, into its folder (the data directory's `reports` folder when it
/// names none), each recorded with `job_id` set. Idempotent: a format this job already
/// completed is not produced again (unique `(job_id, format)`); a failed or interrupted
/// one is generated again into the same execution. Returns every format's execution, or
/// the first failure after trying them all.
pub async fn run_job(db: &Database, job_id: Uuid, params: &serde_json::Value) -> Result<Vec<ExecutionSummary>> {
    run_job_in(db, &default_reports_dir_from_env()?, job_id, params).await
}

/// As [`run_job`], with the default folder given (the engine knows its [`Config`]).
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
    let row = sqlx::query(&format!("{DEFINITION_SELECT} WHERE d.id = $1 OR ($1 IS NULL AND d.name = $2)"))
        .bind(params.definition_id)
        .bind(&params.definition)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| {
            let which = params.definition_id.map(|i| i.to_string()).or(params.definition.clone()).unwrap_or_default();
            Error::not_found(format!("report job {job_id}: its report definition {which} no longer exists"))
        })?;
    let def = definition_from_row(&row)?;
    check_output_allowed(db, &def).await?;
    let stamp = params.due_at.unwrap_or_else(Utc::now).format("%Y%m%d-%H%M").to_string();
    let mut done = Vec::new();
    let mut first_error = None;
    for format in &def.formats {
        let id = match record_pending(db, Some(def.id), Some(job_id), def.report_type, *format, &def.filters).await? {
            Some(id) => id,
            None => {
                let existing: Uuid = sqlx::query_scalar(
                    "SELECT id FROM report_executions WHERE job_id = $1 AND format = $2::text::report_format",
                )
                .bind(job_id)
                .bind(format.as_str())
                .fetch_one(db.pool())
                .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_against_the_report_type() {
        let f = parse_filter_args(&["cluster=prod-a", "sheet=vInfo,vHost"]).unwrap();
        let p = plan(ReportType::Rvtools, &f).unwrap();
        assert_eq!(p.sheets.iter().map(|s| s.name).collect::<Vec<_>>(), ["vInfo", "vHost"]);
        let e = plan(ReportType::Rvtools, &parse_filter_args(&["colour=red"]).unwrap()).unwrap_err();
        assert!(e.message.contains("no filter \"colour\"") && e.message.contains("cluster"), "{}", e.message);
        let e = plan(ReportType::IpamFindings, &parse_filter_args(&["severity=fatal"]).unwrap()).unwrap_err();
        assert!(e.message.contains("info, warning, error"), "{}", e.message);
        let e = plan(ReportType::JobHistory, &parse_filter_args(&["from=2026-02-01", "to=2026-01-01"]).unwrap())
            .unwrap_err();
        assert!(e.message.contains("empty"), "{}", e.message);
        assert!(parse_filter_args(&["novalue"]).is_err());
        assert!(parse_filter_args(&["a=1", "a=2"]).is_err());
        // Single-sheet reports have no sheet filter.
        assert!(plan(ReportType::IpamFindings, &parse_filter_args(&["sheet=Findings"]).unwrap()).is_err());
    }

    #[test]
    fn every_report_binds_as_many_values_as_its_queries_use() {
        for t in ReportType::ALL {
            let r = t.catalog();
            assert_eq!(r.report_type, t);
            let n = r.filters.len();
            for sql in r.sheets.iter().map(|s| s.sql).chain(r.chart.iter().map(|c| c.sql)) {
                for i in 1..=n {
                    assert!(sql.contains(&format!("${i}")), "{t}: ${i} unused in {sql}");
                }
                assert!(!sql.contains(&format!("${}", n + 1)), "{t}: binds beyond {n} in {sql}");
            }
            for s in r.sheets {
                let mut names = std::collections::HashSet::new();
                assert!(s.columns.iter().all(|c| names.insert(c.name)), "{t}/{}: duplicate column", s.name);
            }
        }
    }

    #[test]
    fn names_parse_both_ways() {
        for t in ReportType::ALL {
            assert_eq!(t.as_str().parse::<ReportType>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(t.as_str()));
        }
        assert_eq!("ipam-findings".parse::<ReportType>().unwrap(), ReportType::IpamFindings);
        assert!("rvtool".parse::<ReportType>().unwrap_err().message.contains("rvtools"));
        for f in ReportFormat::ALL {
            assert_eq!(f.as_str().parse::<ReportFormat>().unwrap(), f);
        }
        assert!(name_is_valid("weekly-rvtools_2") && !name_is_valid("../etc") && !name_is_valid(""));
    }
}
