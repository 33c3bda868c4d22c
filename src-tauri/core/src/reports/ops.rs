//! The operations the UI's Reports page calls (registered in `api.rs`): the page model
//! (report types with their filters, definitions, schedules, history), "run now" (a
//! definition, or one report type in one format), defining a report, the history, and
//! the admins' list of report folders; and, for the desktop shell's "open file / open
//! folder / save as…" and the server's downloads, the path of a recorded report file.
//!
//! Reports are only ever written where a definition says (an absolute folder on the
//! admins' list) or into the reports folder under the data directory of the process that
//! runs the operation: a UI never names a file to write. The one copy written elsewhere
//! is [`save_copy`]'s, to where the operator chose in the desktop's own save dialog.
//! Opening, saving and downloading only ever use a file an execution recorded, this login
//! may see, and [`openable_path`] allows.
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::catalog::FilterKind;
use super::{
    default_reports_dir_from_env, ExecutionStatus, Filters, NewDefinition, ReportDefinition, ReportExecution,
    ReportFormat, ReportType, RunOptions, RunRequest,
};
use crate::api::{NoInput, Session};
use crate::error::{Error, Result};

/// Executions one Reports page shows at most (newest first).
pub const PAGE_HISTORY: i64 = 200;

/// A filter a report type accepts, for the UI's form.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ReportFilterInfo {
    pub key: String,
    pub help: String,
    /// `text`, `choice`, `time` (a date or RFC 3339 time) or `bool`.
    pub kind: String,
    /// The values a `choice` filter accepts.
    pub choices: Vec<String>,
}

/// A report type as the UI offers it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ReportTypeInfo {
    #[serde(rename = "type")]
    pub report_type: ReportType,
    pub title: String,
    pub description: String,
    pub filters: Vec<ReportFilterInfo>,
    /// Sheet names; a report with several accepts `sheet=` (comma-separated) to pick some.
    pub sheets: Vec<String>,
}

/// A scheduled definition's next run, soonest first.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ReportSchedule {
    pub definition: String,
    #[serde(rename = "type")]
    pub report_type: ReportType,
    /// Cron expression (UTC).
    pub schedule: String,
    /// The schedule in words.
    pub description: Option<String>,
    pub enabled: bool,
    #[ts(type = "string | null")]
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_status: Option<ExecutionStatus>,
    #[ts(type = "string | null")]
    pub last_run_at: Option<DateTime<Utc>>,
}

/// The Reports page.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ReportsPage {
    pub types: Vec<ReportTypeInfo>,
    pub formats: Vec<ReportFormat>,
    pub definitions: Vec<ReportDefinition>,
    /// The definitions with a schedule, soonest next run first (disabled ones last).
    pub schedules: Vec<ReportSchedule>,
    /// Executions, newest first (at most [`PAGE_HISTORY`]).
    pub history: Vec<ReportExecution>,
    /// Where "run now" writes when the definition names no folder (on the machine that runs it).
    pub default_folder: String,
}

/// "Run now": a definition (every format, into its folder), or one report type in one
/// format (into the default reports folder).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct ReportRunInput {
    /// The definition to run; or else `type` and `format`.
    #[serde(default)]
    pub definition: Option<String>,
    #[serde(default, rename = "type")]
    pub report_type: Option<ReportType>,
    #[serde(default)]
    pub format: Option<ReportFormat>,
    #[serde(default)]
    pub filters: Filters,
}

/// Open, save or download a recorded report file, or open the folder holding it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct OpenReportInput {
    #[ts(type = "string")]
    pub execution_id: Uuid,
    /// Open the folder instead of the file (desktop only).
    #[serde(default)]
    pub folder: bool,
    /// Which of the execution's files (csv of a multi-sheet report writes several); the
    /// first by default.
    #[serde(default)]
    pub file: Option<u32>,
}

/// What was opened.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct OpenedReport {
    pub path: String,
}

/// Where a copy was saved; `path` is None when the operator cancelled the dialog.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SavedReport {
    pub path: Option<String>,
}

/// Copy report file `from` to `to`, which the operator chose: through a temporary file
/// beside it, so a failed copy never leaves half a file under the chosen name.
pub fn save_copy(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    let folder = to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = folder.join(format!(".{name}.eio-{}.part", Uuid::new_v4().simple()));
    let copied = std::fs::copy(from, &tmp).and_then(|_| std::fs::rename(&tmp, to));
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::invalid(format!("cannot save {} as {}: {e}", from.display(), to.display())));
    }
    Ok(())
}

fn type_info(t: ReportType) -> ReportTypeInfo {
    let r = t.catalog();
    ReportTypeInfo {
        report_type: t,
        title: r.title.into(),
        description: r.description.into(),
        filters: r
            .filters
            .iter()
            .map(|f| {
                let (kind, choices) = match f.kind {
                    FilterKind::Text => ("text", Vec::new()),
                    FilterKind::Choice(c) => ("choice", c.iter().map(|s| s.to_string()).collect()),
                    FilterKind::Time => ("time", Vec::new()),
                    FilterKind::Bool => ("bool", vec!["true".into(), "false".into()]),
                };
                ReportFilterInfo { key: f.key.into(), help: f.help.into(), kind: kind.into(), choices }
            })
            .collect(),
        sheets: r.sheets.iter().map(|s| s.name.to_owned()).collect(),
    }
}

fn schedules(definitions: &[ReportDefinition]) -> Vec<ReportSchedule> {
    let mut list: Vec<ReportSchedule> = definitions
        .iter()
        .filter_map(|d| {
            Some(ReportSchedule {
                definition: d.name.clone(),
                report_type: d.report_type,
                schedule: d.schedule.clone()?,
                description: d.schedule_description.clone(),
                enabled: d.enabled,
                next_run_at: d.next_run_at,
                last_status: d.last_status,
                last_run_at: d.last_run_at,
            })
        })
        .collect();
    list.sort_by(|a, b| {
        (!a.enabled, a.next_run_at.is_none(), a.next_run_at, &a.definition).cmp(&(
            !b.enabled,
            b.next_run_at.is_none(),
            b.next_run_at,
            &b.definition,
        ))
    });
    list
}

pub async fn reports_page(session: &Session, _: NoInput) -> Result<ReportsPage> {
    let definitions = super::definitions(&session.db).await?;
    let history = super::history(&session.db, None, PAGE_HISTORY).await?;
    Ok(ReportsPage {
        types: ReportType::ALL.iter().copied().map(type_info).collect(),
        formats: ReportFormat::ALL.to_vec(),
        schedules: schedules(&definitions),
        definitions,
        history,
        default_folder: default_reports_dir_from_env()?.display().to_string(),
    })
}

pub async fn report_run(session: &Session, input: ReportRunInput) -> Result<Vec<ReportExecution>> {
    let dir = default_reports_dir_from_env()?;
    match (&input.definition, input.report_type, input.format) {
        (Some(name), None, None) if input.filters.is_empty() => super::run_definition(&session.db, name, &dir).await,
        (Some(_), _, _) => Err(Error::invalid(
            "run a definition by its name alone: its type, formats and filters are the definition's",
        )),
        (None, Some(report_type), Some(format)) => {
            let out = dir.join(format!("{report_type}_{}.{}", Utc::now().format("%Y%m%d-%H%M%S"), format.extension()));
            let request =
                RunRequest { report_type, format, out, filters: input.filters, options: RunOptions::default() };
            Ok(vec![super::run(&session.db, &request).await?])
        }
        (None, _, _) => Err(Error::invalid("name a definition to run, or a report type and a format")),
    }
}

pub async fn report_define(session: &Session, input: NewDefinition) -> Result<ReportDefinition> {
    super::define(&session.db, &input).await
}

/// The recorded file of execution `input.execution_id` (or its folder), if this login may
/// see the execution, the file is still there, and it is what a report file is: a regular
/// file with its format's extension, inside this machine's reports folder or a folder on
/// the admins' list (after resolving links). An execution's `storage_path` is written by
/// whoever ran it, so a path it names is never handed to the desktop's opener as is.
pub async fn openable_path(session: &Session, input: &OpenReportInput) -> Result<PathBuf> {
    let allowed: Vec<PathBuf> = std::iter::once(super::default_reports_dir_from_env()?)
        .chain(super::output_folders(&session.db).await?.into_iter().map(|f| PathBuf::from(f.path)))
        .collect();
    openable_path_within(session, input, &allowed).await
}

/// As [`openable_path`], with the allowed folders given.
pub async fn openable_path_within(session: &Session, input: &OpenReportInput, allowed: &[PathBuf]) -> Result<PathBuf> {
    let e = super::execution(&session.db, input.execution_id).await?;
    let recorded = match input.file {
        None | Some(0) => e.storage_path.clone(),
        Some(n) => e.files.get(n as usize).cloned(),
    };
    let file = recorded.map(PathBuf::from).ok_or_else(|| match input.file {
        Some(n) if e.storage_path.is_some() => Error::not_found(format!(
            "this {} report wrote {} file(s), not a file {}",
            e.report_type,
            e.files.len(),
            n + 1
        )),
        _ => Error::not_found(format!("this {} report has no file ({})", e.report_type, e.status)),
    })?;
    let refuse = |why: &str| Error::forbidden(format!("{} is not opened: {why}", file.display()));
    let missing = || {
        Error::not_found(format!(
            "{} is not on this machine: it was moved or deleted, or the report ran on another machine",
            file.display()
        ))
    };
    let allowed: Vec<PathBuf> = allowed.iter().filter_map(|d| d.canonicalize().ok()).collect();
    let inside = |p: &std::path::Path| allowed.iter().any(|d| p.starts_with(d) && p != d);
    // Where the path points is judged before whether anything is there, so a recorded path
    // can't be used to ask whether some file outside the folders exists.
    let folder = file.parent().and_then(|p| p.canonicalize().ok());
    if folder.as_deref().is_some_and(|f| !inside(f) && !allowed.iter().any(|d| f == d)) {
        return Err(refuse("it is outside the reports folder and the report folders an admin allowed"));
    }
    if !file.is_file() {
        return Err(missing());
    }
    let real = file.canonicalize().map_err(|_| missing())?;
    if real.extension().and_then(|x| x.to_str()) != Some(e.format.extension()) {
        return Err(refuse(&format!("a {} report's file ends in .{}", e.format.as_str(), e.format.extension())));
    }
    // The file itself (a link resolved) must lie inside too.
    if !inside(&real) {
        return Err(refuse("it is outside the reports folder and the report folders an admin allowed"));
    }
    if input.folder {
        return Ok(super::atomic::folder_of(&real));
    }
    Ok(real)
}

pub async fn report_definitions(session: &Session, _: NoInput) -> Result<Vec<ReportDefinition>> {
    super::definitions(&session.db).await
}

/// Which executions the history shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct ReportHistoryInput {
    /// Only this definition's runs.
    #[serde(default)]
    pub name: Option<String>,
    /// At most this many (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
}

pub async fn report_history(session: &Session, input: ReportHistoryInput) -> Result<Vec<super::ReportExecution>> {
    super::history(
        &session.db,
        input.name.as_deref().filter(|n| !n.trim().is_empty()),
        input.limit.unwrap_or(50).max(1),
    )
    .await
}

pub async fn report_folders(session: &Session, _: NoInput) -> Result<Vec<super::OutputFolder>> {
    super::output_folders(&session.db).await
}

/// A folder on the server's (or this machine's) file system, as an absolute path.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ReportFolderInput {
    pub path: String,
    #[serde(default)]
    pub description: Option<String>,
}

pub async fn report_folder_add(session: &Session, input: ReportFolderInput) -> Result<Vec<super::OutputFolder>> {
    super::allow_output_folder(&session.db, &input.path, input.description.as_deref()).await
}

pub async fn report_folder_remove(session: &Session, input: ReportFolderInput) -> Result<Vec<super::OutputFolder>> {
    super::remove_output_folder(&session.db, &input.path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_copy_is_whole_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("vinfo.xlsx");
        std::fs::write(&from, b"PK report bytes").unwrap();
        let to = dir.path().join("chosen.xlsx");
        save_copy(&from, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"PK report bytes");
        // A folder that isn't there: a clear error, and nothing left behind anywhere.
        let nowhere = dir.path().join("missing").join("x.xlsx");
        let e = save_copy(&from, &nowhere).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::InvalidInput);
        assert!(
            e.message.starts_with(&format!("cannot save {} as {}: ", from.display(), nowhere.display())),
            "{}",
            e.message
        );
        let mut left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["chosen.xlsx", "vinfo.xlsx"]);
    }

    #[test]
    fn every_type_is_offered_with_its_filters() {
        for &t in ReportType::ALL {
            let info = type_info(t);
            assert_eq!(info.filters.len(), t.catalog().filters.len());
            assert!(!info.sheets.is_empty());
        }
        let findings = type_info(ReportType::IpamFindings);
        let severity = findings.filters.iter().find(|f| f.key == "severity").unwrap();
        assert_eq!(severity.kind, "choice");
        assert_eq!(severity.choices, ["info", "warning", "error"]);
    }
}
