//! The findings engine: what IPAM finds wrong when it compares plans with observations
//! (duplicate use of an address, MAC conflicts, addresses seen but not planned or planned
//! but not seen, addresses outside every prefix, prefixes over their threshold) and
//! credentials due for rotation. The SQL does the work, set-based, after every sync and on
//! demand; findings resolve themselves when their condition clears and reopen (the same
//! row) when it returns. Operators acknowledge them with a note, as themselves only
//! (row-level security).
//!
//! Two ways to run it, with the same findings either way (migration 0060):
//! `run_ipam_findings()` examines everything (a full run); `run_ipam_findings_changed()`
//! examines only the addresses, MACs and prefixes that changed since the last run (the
//! database notes them as they change), and runs in full by itself when it must (the
//! first run, a changed prefix or routing domain name, a bulk change). [`run`] is the
//! latter — what a sync or a watcher batch wants — and [`run_full`] the former.
//!
//! An open finding was confirmed by every run since it opened, so its `last_seen_at` is
//! the last run's time; the engine writes only findings that are new, changed, back or
//! cleared, and listings read the rest from when the last run ran.
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
    /// The run examined only what changed since the one before (not a full run). Not in
    /// the API's JSON.
    #[serde(skip)]
    #[ts(skip)]
    pub incremental: bool,
    /// How many subjects (a finding type and what it is about) an incremental run examined.
    #[serde(skip)]
    #[ts(skip)]
    pub examined: Option<i64>,
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
    /// Only the findings at this site: of a prefix whose own site it is, of an address the
    /// most specific prefix with a site that holds it places there, or of an address seen
    /// in use there (`findings_at_site!`, as the findings report).
    pub site: Option<Uuid>,
}

// `found`: the findings at site $4.
const AT_SITE: &str = super::findings_at_site!("$4");

// An open finding's last sighting is the last run (the engine leaves unchanged rows alone).
const FINDING_SELECT: &str = r#"
    SELECT f.id, f.type, f.severity, f.subject_key, d.name AS routing_domain, p.cidr::text AS prefix,
           abbrev(f.address) AS address, f.message, f.details, f.first_seen_at,
           CASE WHEN f.resolved_at IS NULL THEN greatest(f.last_seen_at, st.last_run_at) ELSE f.last_seen_at END
               AS last_seen_at,
           f.resolved_at, f.reopened_count, f.acknowledged_at, u.email AS acknowledged_by, f.acknowledge_note
    FROM ipam_findings f
    LEFT JOIN ipam_findings_state st ON st.singleton
    LEFT JOIN routing_domains d ON d.id = f.routing_domain_id
    LEFT JOIN prefixes p ON p.id = f.prefix_id
    LEFT JOIN users u ON u.id = f.acknowledged_by
"#;

const FINDING_ORDER: &str =
    "ORDER BY f.resolved_at IS NOT NULL, f.resolved_at DESC, f.severity DESC, f.type, f.address, f.subject_key";
// Open findings alone: the same order, read from the index ipam_findings_open_order
// (migration 0061), so a page reads what it shows.
const OPEN_ORDER: &str = "ORDER BY f.severity DESC, f.type, f.address, f.subject_key";

/// Run the engine now over what changed since its last run (workers after every sync
/// and watcher batch, operators on demand); the database runs it in full when it must.
/// Planned addresses younger than `planned_grace` (default one day) are not yet "not seen".
pub async fn run(db: &Database, planned_grace: Option<Duration>) -> Result<FindingRun> {
    run_sql(db, "run_ipam_findings_changed", planned_grace).await
}

/// Run the engine over everything (the same findings as [`run`], examined from scratch).
pub async fn run_full(db: &Database, planned_grace: Option<Duration>) -> Result<FindingRun> {
    run_sql(db, "run_ipam_findings", planned_grace).await
}

/// `function`: one of the two SQL functions above (never input).
async fn run_sql(db: &Database, function: &'static str, planned_grace: Option<Duration>) -> Result<FindingRun> {
    let row = sqlx::query_as(&format!(
        "SELECT id, started_at, finished_at, duration_ms, run_by::text AS run_by, opened, reopened, resolved,
                open_total, open_by_type, scope = 'changes' AS incremental, examined
         FROM {function}(coalesce(make_interval(secs => $1::float8), interval '1 day'))"
    ))
    .bind(planned_grace.map(|d| d.as_secs_f64()))
    .fetch_one(db.pool())
    .await?;
    finding_run(row)
}

fn finding_run(FindingRunRow { run, open_by_type }: FindingRunRow) -> Result<FindingRun> {
    Ok(FindingRun {
        open_by_type: serde_json::from_value(open_by_type)
            .map_err(|e| Error::internal(format!("reading the findings run: {e}")))?,
        ..run
    })
}

/// Findings, open first (most severe first), then the resolved ones if asked for.
pub async fn list(db: &Database, filter: &FindingFilter) -> Result<Vec<Finding>> {
    let types: Vec<String> = filter.types.iter().map(|t| t.as_str().to_owned()).collect();
    let (at_site, found) = match filter.site {
        Some(_) => (AT_SITE, "AND f.id IN (SELECT id FROM found)"),
        None => ("", ""),
    };
    // $1 is always bound; the open listing says so in the SQL to use the open findings' index.
    let (which, order) = match filter.include_resolved {
        true => ("$1", FINDING_ORDER),
        false => ("NOT $1 AND f.resolved_at IS NULL", OPEN_ORDER),
    };
    let query = format!(
        "{at_site} {FINDING_SELECT}
         WHERE {which} AND (cardinality($2::text[]) = 0 OR f.type::text = ANY ($2)) {found}
         {order} LIMIT $3"
    );
    let query = sqlx::query_as(&query).bind(filter.include_resolved).bind(&types).bind(filter.limit);
    Ok(match filter.site {
        Some(site) => query.bind(site),
        None => query,
    }
    .fetch_all(db.pool())
    .await?)
}

/// How many findings are open, per type (at `site` only, with one; as [`list`]).
pub async fn open_by_type(db: &Database, site: Option<Uuid>) -> Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = match site {
        Some(site) => {
            sqlx::query_as(concat!(
                super::findings_at_site!("$1"),
                "SELECT f.type::text, count(*) FROM ipam_findings f
                 WHERE f.resolved_at IS NULL AND f.id IN (SELECT id FROM found) GROUP BY 1"
            ))
            .bind(site)
            .fetch_all(db.pool())
            .await?
        }
        None => {
            // Grouped by the enum, then named, so the plan can be an index-only scan of
            // ipam_findings_open_idx (once autovacuum has set the visibility map).
            sqlx::query_as(
                "SELECT type::text, n FROM (SELECT type, count(*) AS n FROM ipam_findings
                 WHERE resolved_at IS NULL GROUP BY type) x",
            )
            .fetch_all(db.pool())
            .await?
        }
    };
    Ok(rows.into_iter().collect())
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
    // The prefix's open findings first, by index, then in the page's order: walking that
    // order and checking each finding against them was a nested loop (16 ms for a /22 at
    // 10k VMs; this is 7.5).
    Ok(sqlx::query_as(&format!(
        "WITH ids AS MATERIALIZED (
             SELECT g.id FROM ipam_findings g WHERE g.prefix_id = $1 AND g.resolved_at IS NULL
             UNION
             SELECT g.id FROM prefixes q JOIN ipam_findings g
               ON g.routing_domain_id = q.routing_domain_id AND g.address <<= q.cidr
             WHERE q.id = $1 AND g.resolved_at IS NULL
         )
         {FINDING_SELECT}
         JOIN ids ON ids.id = f.id
         WHERE f.resolved_at IS NULL
         {OPEN_ORDER} LIMIT $2"
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
