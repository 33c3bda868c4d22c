//! The execution state of syncs: one `sync_runs` row per attempt, opened before any
//! external call (so a running sync is visible) and closed with its outcome, counts per
//! table, duration, API calls and, on failure, the reason in words.
//!
//! A run is closed exactly once. If the process dies mid-run the row stays `running`;
//! [`close_abandoned`] marks such rows failed when a worker next starts, so the ledger
//! never claims a sync that isn't happening.
use std::collections::BTreeMap;
use std::time::Instant;

pub use eio_core::sources::SourceKind;
use eio_core::{Database, Result};
use serde::Serialize;
use uuid::Uuid;

use super::snapshot::EntityCounts;

/// How a run ended: the database's `sync_outcome`, declared once in core.
pub use eio_core::inventory::states::SyncOutcome as Outcome;

/// A sync in progress.
#[derive(Debug)]
pub struct Run {
    pub id: Uuid,
    pub source: SourceKind,
    pub source_id: Uuid,
    pub source_name: String,
    started: Instant,
    counts: BTreeMap<String, EntityCounts>,
}

/// What a finished run reports (to the CLI, the UI and the benchmark).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: Uuid,
    pub source: SourceKind,
    pub source_name: String,
    pub outcome: Outcome,
    pub counts: BTreeMap<String, EntityCounts>,
    pub duration_ms: u64,
    pub api_calls: u64,
    pub error: Option<String>,
}

impl Run {
    /// Open a run (committed at once, so it is visible while it works).
    pub async fn start(
        db: &Database,
        source: SourceKind,
        source_id: Uuid,
        source_name: &str,
        kind: &str,
        worker: &str,
    ) -> Result<Run> {
        let id: Uuid = sqlx::query_scalar(
            "INSERT INTO sync_runs (source_type, source_id, kind, worker) VALUES ($1::source_kind, $2, $3::sync_kind, $4) RETURNING id",
        )
        .bind(source.as_str())
        .bind(source_id)
        .bind(kind)
        .bind(worker)
        .fetch_one(db.pool())
        .await?;
        Ok(Run {
            id,
            source,
            source_id,
            source_name: source_name.to_owned(),
            started: Instant::now(),
            counts: BTreeMap::new(),
        })
    }

    pub fn record(&mut self, entity: &str, counts: EntityCounts) {
        let e = self.counts.entry(entity.to_owned()).or_default();
        e.seen += counts.seen;
        e.created += counts.created;
        e.updated += counts.updated;
        e.removed += counts.removed;
        e.restored += counts.restored;
    }

    /// Close the run and stamp the source with its last sync outcome.
    pub async fn finish(
        self,
        db: &Database,
        outcome: Outcome,
        api_calls: u64,
        error: Option<String>,
    ) -> Result<RunReport> {
        let duration_ms = self.started.elapsed().as_millis() as u64;
        let counts_json = serde_json::to_value(&self.counts).unwrap_or_default();
        let mut tx = db.pool().begin().await?;
        sqlx::query(
            "UPDATE sync_runs SET status = $2::sync_outcome, finished_at = now(), duration_ms = $3, counts = $4,
                                  api_calls = $5, error = $6
             WHERE id = $1",
        )
        .bind(self.id)
        .bind(outcome.as_str())
        .bind(duration_ms as i64)
        .bind(&counts_json)
        .bind(api_calls.min(i32::MAX as u64) as i32)
        .bind(&error)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "UPDATE {} SET last_sync_at = now(), last_sync_status = $2::sync_outcome, last_error = $3 WHERE id = $1",
            self.source.table()
        ))
        .bind(self.source_id)
        .bind(outcome.as_str())
        .bind(&error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if outcome != Outcome::Failed {
            analyze_after_bulk_change(db, &self.counts).await;
        }
        Ok(RunReport {
            run_id: self.id,
            source: self.source,
            source_name: self.source_name,
            outcome,
            counts: self.counts,
            duration_ms,
            api_calls,
            error,
        })
    }
}

/// Give the planner real row counts for the tables a sync just changed wholesale (a first
/// sync of 10,000 VMs), instead of waiting for autovacuum: the findings and site inference
/// that follow, and the next sync, would otherwise be planned for the table as it was (see
/// migration 0021). Best effort: a failure costs speed, never the sync.
async fn analyze_after_bulk_change(db: &Database, counts: &BTreeMap<String, EntityCounts>) {
    let mut tables: Vec<&str> = Vec::with_capacity(counts.len() + 1);
    let mut changed: Vec<i64> = Vec::with_capacity(counts.len() + 1);
    for (table, c) in counts {
        tables.push(table);
        changed.push((c.created + c.restored + c.removed) as i64);
    }
    tables.push("inventory_changes");
    changed.push(counts.values().map(|c| c.changed() as i64).sum());
    match sqlx::query_scalar::<_, Vec<String>>("SELECT analyze_after_bulk_change($1, $2)")
        .bind(&tables)
        .bind(&changed)
        .fetch_one(db.pool())
        .await
    {
        Ok(analyzed) if !analyzed.is_empty() => tracing::debug!(?analyzed, "refreshed planner statistics"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not refresh planner statistics after a bulk change"),
    }
}

/// Mark runs a dead process left `running` as failed. Returns how many.
pub async fn close_abandoned(db: &Database, older_than_minutes: i32) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE sync_runs SET status = 'failed', finished_at = now(),
                              error = 'abandoned: the worker running it stopped before it finished'
         WHERE status = 'running' AND started_at < now() - make_interval(mins => $1)",
    )
    .bind(older_than_minutes)
    .execute(db.pool())
    .await?
    .rows_affected())
}
