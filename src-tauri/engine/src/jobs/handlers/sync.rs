//! `sync` jobs: a scheduled (or requested) full sync of one source or a kind of sources,
//! run by whichever worker leases it. Syncs only read from the sources, so they need no
//! step protocol; the guard still runs first (kill switch, cancellation).
use eio_core::jobs::SyncTarget;
use eio_core::sources::SourceKind;

use crate::jobs::context::{JobContext, JobError};
use crate::sync::{dell, vcenter, Syncer};

pub async fn run(ctx: &JobContext, syncer: &Syncer, t: &SyncTarget) -> Result<serde_json::Value, JobError> {
    if t.benchmark_noop {
        return Ok(serde_json::json!({"noop": true}));
    }
    ctx.guard().await?;
    let wants = |k: SourceKind| t.kind.is_none_or(|w| w == k);
    let mut reports = Vec::new();
    let named = t.source.as_deref();
    let all = eio_core::sources::list(&ctx.db).await?;
    let has = |k: SourceKind| all.iter().any(|s| s.kind == k && s.enabled && named.is_none_or(|n| n == s.name));
    if wants(SourceKind::Ome) && has(SourceKind::Ome) {
        reports.extend(dell::sync_omes(syncer, named).await?);
    }
    if wants(SourceKind::Vcenter) && has(SourceKind::Vcenter) {
        ctx.guard().await?;
        reports.extend(vcenter::sync_vcenters(syncer, named).await?);
    }
    if wants(SourceKind::Idrac) && has(SourceKind::Idrac) {
        ctx.guard().await?;
        reports.extend(dell::sync_idracs(syncer, named).await?);
    }
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| r.outcome == crate::sync::ledger::Outcome::Failed)
        .map(|r| format!("{}: {}", r.source_name, r.error.clone().unwrap_or_default()))
        .collect();
    let summary = serde_json::json!({
        "runs": reports.iter().map(|r| serde_json::json!({
            "source": r.source_name, "outcome": r.outcome, "run_id": r.run_id, "duration_ms": r.duration_ms,
        })).collect::<Vec<_>>(),
    });
    if failed.is_empty() {
        Ok(summary)
    } else {
        Err(JobError::Failed(format!("{} source(s) failed to sync: {}", failed.len(), failed.join("; "))))
    }
}
