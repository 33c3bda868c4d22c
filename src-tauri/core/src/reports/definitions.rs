//! Report definitions (`report_definitions`): what a named report runs (type, formats,
//! filters), when (a cron schedule, and the `next_run_at` it gives) and where its files go
//! (an absolute folder on the admins' list, or the reports folder of the data directory).
//!
//! Owns listing, reading and writing definitions, with the last execution of each. It
//! checks a definition before it is written (name, formats, filters, schedule, folder);
//! the database checks who may write it (row-level security) and that its folder is
//! allowed. It must never run a report or write a file (see [`super::run`]).
use std::path::Path;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::filters::{self, Filters, StoredFilters};
use super::{explain_refusal, schedule, validate_filters, ExecutionStatus, ReportFormat, ReportType};
use crate::error::{Error, Result};
use crate::Database;

/// A report definition as listed.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct ReportDefinition {
    #[ts(type = "string")]
    pub id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub report_type: ReportType,
    /// Cron expression (UTC); none = on demand only.
    pub schedule: Option<String>,
    /// The schedule in words.
    #[sqlx(skip)]
    pub schedule_description: Option<String>,
    pub formats: Vec<ReportFormat>,
    #[sqlx(try_from = "StoredFilters")]
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

impl ReportDefinition {
    /// Fill in what is derived rather than stored (the schedule in words).
    fn described(mut self) -> ReportDefinition {
        self.schedule_description =
            self.schedule.as_deref().and_then(|s| schedule::parse(s).ok()).map(|s| s.describe());
        self
    }
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

pub(super) fn name_is_valid(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Every column of [`ReportDefinition`] but the derived `schedule_description`.
const DEFINITION_SELECT: &str = r#"
    SELECT d.id, d.name, d.type, d.schedule, d.formats, d.filters, d.output_dir,
           d.enabled, d.next_run_at, u.email AS created_by, d.created_at, d.updated_at,
           le.status AS last_status, le.at AS last_run_at
    FROM report_definitions d
    LEFT JOIN users u ON u.id = d.created_by
    LEFT JOIN LATERAL (
        SELECT e.status, coalesce(e.finished_at, e.created_at) AS at FROM report_executions e
        WHERE e.definition_id = d.id ORDER BY e.created_at DESC, e.id LIMIT 1
    ) le ON true
"#;

pub async fn definitions(db: &Database) -> Result<Vec<ReportDefinition>> {
    let defs = sqlx::query_as::<_, ReportDefinition>(&format!("{DEFINITION_SELECT} ORDER BY d.name"))
        .fetch_all(db.pool())
        .await?;
    Ok(defs.into_iter().map(ReportDefinition::described).collect())
}

pub async fn definition(db: &Database, name: &str) -> Result<ReportDefinition> {
    sqlx::query_as::<_, ReportDefinition>(&format!("{DEFINITION_SELECT} WHERE d.name = $1"))
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .map(ReportDefinition::described)
        .ok_or_else(|| Error::not_found(format!("no report definition named \"{name}\" (see `eio report list`)")))
}

/// The definition with id `id`, or else (no id) the one named `name`; None if there is none.
pub(super) async fn definition_by_id_or_name(
    db: &Database,
    id: Option<Uuid>,
    name: Option<&str>,
) -> Result<Option<ReportDefinition>> {
    let def = sqlx::query_as::<_, ReportDefinition>(&format!(
        "{DEFINITION_SELECT} WHERE d.id = $1 OR ($1 IS NULL AND d.name = $2)"
    ))
    .bind(id)
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    Ok(def.map(ReportDefinition::described))
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
    let mut formats: Vec<ReportFormat> = Vec::new();
    for f in &new.formats {
        if !formats.contains(f) {
            formats.push(*f);
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
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, current_app_user_id())
        ON CONFLICT ON CONSTRAINT report_definitions_name_key DO UPDATE
            SET type = EXCLUDED.type, schedule = EXCLUDED.schedule, formats = EXCLUDED.formats,
                filters = EXCLUDED.filters, output_dir = EXCLUDED.output_dir, enabled = EXCLUDED.enabled,
                next_run_at = EXCLUDED.next_run_at
        "#,
    )
    .bind(&new.name)
    .bind(new.report_type)
    .bind(schedule.as_ref().map(|s| s.as_str().to_owned()))
    .bind(&formats)
    .bind(filters::to_json(&new.filters)?)
    .bind(&new.output_dir)
    .bind(new.enabled)
    .bind(next_run_at)
    .execute(db.pool())
    .await
    .map_err(|e| explain_refusal(Error::from(e), &format!("defining report \"{}\"", new.name)))?;
    definition(db, &new.name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_names_are_plain() {
        assert!(name_is_valid("weekly-rvtools_2") && name_is_valid("a.b"));
        assert!(!name_is_valid("../etc") && !name_is_valid("") && !name_is_valid("-x"));
        assert!(name_is_valid(&"a".repeat(63)) && !name_is_valid(&"a".repeat(64)));
    }
}
