//! Where report files may go: the reports folder under the data directory (always), and
//! the admins' list of other folders definitions may write to (`report_output_folders`).
//!
//! Owns the default folder, the list (reading it; adding and removing folders, which the
//! database allows admins only and audits) and the check a definition's folder must pass
//! each time it runs. It must never write a file itself, and never take a relative path,
//! `.`/`..`, or `/` itself onto the list.
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::ReportDefinition;
use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::Database;

/// The default folder for report files: `reports` under the data directory.
pub fn default_reports_dir(config: &Config) -> PathBuf {
    config.data_dir.join("reports")
}

/// As [`default_reports_dir`], for callers without a [`Config`] at hand (the operation
/// registry, the job engine): the data directory as the environment and config file say.
pub fn default_reports_dir_from_env() -> Result<PathBuf> {
    Ok(default_reports_dir(&Config::load(crate::config::Overrides::from_env())?))
}

/// A folder report definitions may write to (admins: `eio report folder add`).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct OutputFolder {
    pub path: String,
    pub description: Option<String>,
    pub created_by: Option<String>,
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
}

pub async fn output_folders(db: &Database) -> Result<Vec<OutputFolder>> {
    Ok(sqlx::query_as::<_, OutputFolder>(
        "SELECT f.path, f.description, u.email AS created_by, f.created_at
         FROM report_output_folders f LEFT JOIN users u ON u.id = f.created_by ORDER BY f.path",
    )
    .fetch_all(db.pool())
    .await?)
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

/// A definition's folder must still be on the admins' list when it runs (the database
/// checks it when the definition is written; an admin may have removed it since).
pub(super) async fn check_output_allowed(db: &Database, def: &ReportDefinition) -> Result<()> {
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

/// Where a definition's file of one run goes: `<folder>/<name>_<stamp>.<ext>`.
pub(super) fn definition_output(
    def: &ReportDefinition,
    default_dir: &Path,
    stamp: &str,
    format: super::ReportFormat,
) -> PathBuf {
    let dir = def.output_dir.as_deref().map(PathBuf::from).unwrap_or_else(|| default_dir.to_path_buf());
    dir.join(format!("{}_{stamp}.{}", def.name, format.extension()))
}
