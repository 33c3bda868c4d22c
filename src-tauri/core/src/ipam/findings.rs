//! The findings engine: what IPAM finds wrong when it compares plans with observations
//! (duplicate use of an address, MAC conflicts, addresses seen but not planned or planned
//! but not seen, addresses outside every prefix, prefixes over their threshold) and
//! credentials due for rotation. `run_ipam_findings()` does the work in set-based SQL
//! after every sync and on demand; findings resolve themselves when their condition
//! clears and reopen (the same row) when it returns. Operators acknowledge them with a
//! note, as themselves only (row-level security).
//!
//! This module never decides what is a finding (the SQL does), never writes findings
//! itself, and never acknowledges on someone else's behalf.
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::{constraint_of, db_enum};
use crate::error::{Error, Result};
use crate::Database;

db_enum! {
    /// What is wrong.
    pub enum FindingType: "finding_type", "finding type" {
        DuplicateUsage = "duplicate_usage",
        SeenNotPlanned = "seen_not_planned",
        PlannedNotSeen = "planned_not_seen",
        OutsideAnyPrefix = "outside_any_prefix",
        MacConflict = "mac_conflict",
        PrefixOverThreshold = "prefix_over_threshold",
        CredentialRotationDue = "credential_rotation_due",
    }
}

db_enum! {
    /// How much it matters.
    pub enum Severity: "finding_severity", "severity" {
        Info = "info",
        Warning = "warning",
        Error = "error",
    }
}

/// One finding, open or resolved.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct Finding {
    #[ts(type = "string")]
    pub id: Uuid,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: FindingType,
    pub severity: Severity,
    /// Stable identity of the condition: a finding that returns reopens this row.
    pub subject_key: String,
    pub routing_domain: Option<String>,
    /// The prefix a prefix finding is about.
    pub prefix: Option<String>,
    pub address: Option<String>,
    pub message: String,
    /// Who carries the address, which MACs, which prefix, the numbers behind a threshold.
    #[ts(type = "Record<string, unknown>")]
    pub details: serde_json::Value,
    #[ts(type = "string")]
    pub first_seen_at: DateTime<Utc>,
    #[ts(type = "string")]
    pub last_seen_at: DateTime<Utc>,
    #[ts(type = "string | null")]
    pub resolved_at: Option<DateTime<Utc>>,
    pub reopened_count: i32,
    #[ts(type = "string | null")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Email of who acknowledged it.
    pub acknowledged_by: Option<String>,
    pub acknowledge_note: Option<String>,
}

/// One run of the engine.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct FindingRun {
    pub id: i64,
    #[ts(type = "string")]
    pub started_at: DateTime<Utc>,
    #[ts(type = "string")]
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// The login that ran it.
    pub run_by: String,
    /// Findings raised for the first time.
    pub opened: i32,
    /// Resolved findings whose condition returned.
    pub reopened: i32,
    /// Findings whose condition cleared.
    pub resolved: i32,
    pub open_total: i32,
    // Read from the row's JSON by `FindingRunRow`, with a message of its own.
    #[sqlx(skip)]
    pub open_by_type: BTreeMap<String, i64>,
}

/// A row of `run_ipam_findings()`: the run, and its open findings per type as JSON.
#[derive(sqlx::FromRow)]
struct FindingRunRow {
    #[sqlx(flatten)]
    run: FindingRun,
    open_by_type: serde_json::Value,
}

/// Which findings a listing shows.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    /// Resolved ones too.
    pub include_resolved: bool,
    /// Only these types (empty: all).
    pub types: Vec<FindingType>,
    pub limit: Option<i64>,
}

const FINDING_SELECT: &str = r#"
    SELECT f.id, f.type, f.severity, f.subject_key, d.name AS routing_domain, p.cidr::text AS prefix,
           abbrev(f.address) AS address, f.message, f.details, f.first_seen_at, f.last_seen_at, f.resolved_at,
           f.reopened_count, f.acknowledged_at, u.email AS acknowledged_by, f.acknowledge_note
    FROM ipam_findings f
    LEFT JOIN routing_domains d ON d.id = f.routing_domain_id
    LEFT JOIN prefixes p ON p.id = f.prefix_id
    LEFT JOIN users u ON u.id = f.acknowledged_by
"#;

const FINDING_ORDER: &str =
    "ORDER BY f.resolved_at IS NOT NULL, f.resolved_at DESC, f.severity DESC, f.type, f.address, f.subject_key";

/// Run the engine now (operators on demand, workers after every sync). Planned
/// addresses younger than `planned_grace` (default one day) are not yet "not seen".
pub async fn run(db: &Database, planned_grace: Option<Duration>) -> Result<FindingRun> {
    let FindingRunRow { run, open_by_type } = sqlx::query_as(
        "SELECT id, started_at, finished_at, duration_ms, run_by::text AS run_by, opened, reopened, resolved,
                open_total, open_by_type
         FROM run_ipam_findings(coalesce(make_interval(secs => $1::float8), interval '1 day'))",
    )
    .bind(planned_grace.map(|d| d.as_secs_f64()))
    .fetch_one(db.pool())
    .await?;
    Ok(FindingRun {
        open_by_type: serde_json::from_value(open_by_type)
            .map_err(|e| Error::internal(format!("reading the findings run: {e}")))?,
        ..run
    })
}

/// Findings, open first (most severe first), then the resolved ones if asked for.
pub async fn list(db: &Database, filter: &FindingFilter) -> Result<Vec<Finding>> {
    let types: Vec<String> = filter.types.iter().map(|t| t.as_str().to_owned()).collect();
    Ok(sqlx::query_as(&format!(
        "{FINDING_SELECT}
         WHERE ($1 OR f.resolved_at IS NULL) AND (cardinality($2::text[]) = 0 OR f.type::text = ANY ($2))
         {FINDING_ORDER} LIMIT $3"
    ))
    .bind(filter.include_resolved)
    .bind(&types)
    .bind(filter.limit)
    .fetch_all(db.pool())
    .await?)
}

pub async fn get(db: &Database, id: Uuid) -> Result<Finding> {
    sqlx::query_as(&format!("{FINDING_SELECT} WHERE f.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no finding with id {id}")))
}

/// Open findings about prefix `prefix_id` or an address (or prefix) inside it.
pub(crate) async fn open_in_prefix(db: &Database, prefix_id: Uuid, limit: i64) -> Result<Vec<Finding>> {
    Ok(sqlx::query_as(&format!(
        "{FINDING_SELECT}, prefixes q
         WHERE q.id = $1 AND f.resolved_at IS NULL
           AND (f.prefix_id = q.id OR (f.routing_domain_id = q.routing_domain_id AND f.address <<= q.cidr))
         {FINDING_ORDER} LIMIT $2"
    ))
    .bind(prefix_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?)
}

/// Acknowledge a finding as the session's own user, with a note saying why (operators).
pub async fn acknowledge(db: &Database, id: Uuid, note: &str) -> Result<Finding> {
    let note = note.trim();
    if note.is_empty() {
        return Err(Error::invalid("say why: acknowledging a finding needs a note"));
    }
    let (user, login): (Option<Uuid>, String) =
        sqlx::query_as("SELECT current_app_user_id(), session_user::text").fetch_one(db.pool()).await?;
    if user.is_none() {
        return Err(Error::forbidden(format!(
            "acknowledging a finding needs an EIO user; login \"{login}\" is not mapped to one"
        )));
    }
    let updated = sqlx::query(
        "UPDATE ipam_findings
         SET acknowledged_at = now(), acknowledged_by = current_app_user_id(), acknowledge_note = $2
         WHERE id = $1",
    )
    .bind(id)
    .bind(note)
    .execute(db.pool())
    .await
    .map_err(|e| {
        let err = match constraint_of(&e) {
            Some("ipam_findings_ack_has_note") => Some(Error::invalid("acknowledging a finding needs a note")),
            _ => None,
        };
        err.unwrap_or_else(|| {
            let err = Error::from(e);
            if err.sqlstate().as_deref() == Some("42501") {
                Error::forbidden(format!("acknowledging findings needs the operator role ({})", err.message))
            } else {
                err
            }
        })
    })?
    .rows_affected();
    if updated == 0 {
        // Row-level security hides someone else's acknowledgement from this UPDATE.
        let by: Option<Option<String>> = sqlx::query_scalar(
            "SELECT u.email FROM ipam_findings f LEFT JOIN users u ON u.id = f.acknowledged_by WHERE f.id = $1",
        )
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
        return Err(match by {
            Some(Some(email)) => Error::forbidden(format!(
                "this finding is acknowledged by {email}: only they or an admin may change the acknowledgement"
            )),
            _ => Error::not_found(format!("no finding with id {id}")),
        });
    }
    get(db, id).await
}
