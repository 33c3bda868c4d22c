//! Scheduled source syncs: every enabled source gets a full sync every `every`, as a `sync`
//! job through the pool, so it runs once whichever worker instances are up.
//!
//! Exactly once per interval comes from the idempotency key: the interval's number
//! (`floor(epoch / every)`) is in it, so every worker that ticks in the same interval asks
//! for the same job and the unique key lets one insert through. A source synced recently
//! (by a person, or the live watcher's resync) or with a sync job still open is skipped.
//! vCenters and OMEs get a job each; the iDRAC fleet gets one job for all its due endpoints
//! (one bounded-concurrency fleet sync and one findings run, not one per BMC).
//! Must never: run a sync itself, or create a job for a disabled source.
use std::time::Duration;

use eio_core::jobs::{JobSpec, SyncTarget};
use eio_core::sources::SourceKind;
use eio_core::{Database, Result};
use sqlx::Row;
use uuid::Uuid;

/// Create the sync jobs due now; returns the ids created by this call.
pub async fn enqueue_due_syncs(db: &Database, every: Duration) -> Result<Vec<Uuid>> {
    let secs = every.as_secs().max(60) as i64;
    let due = sqlx::query(
        r#"
        WITH s AS (
            SELECT 'vcenter'::source_kind AS kind, id, name FROM vcenter_instances WHERE enabled
            UNION ALL SELECT 'idrac', id, name FROM idrac_endpoints WHERE enabled
            UNION ALL SELECT 'ome', id, name FROM ome_instances WHERE enabled
        )
        SELECT s.kind::text AS kind, s.name, floor(extract(epoch FROM now()) / $1)::bigint AS slot
        FROM s
        WHERE NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.source_type = s.kind AND r.source_id = s.id
                            AND r.started_at > now() - make_interval(secs => $1))
          AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.type = 'sync'
                            AND j.status IN ('pending', 'scheduled', 'running', 'paused')
                            AND coalesce(j.target ->> 'kind', s.kind::text) = s.kind::text
                            AND coalesce(j.target ->> 'source', s.name) = s.name)
        ORDER BY s.kind, s.name
        "#,
    )
    .bind(secs as f64)
    .fetch_all(db.pool())
    .await?;
    let mut wanted: Vec<(SourceKind, Option<String>, i64)> = Vec::new();
    for r in due {
        let kind: String = r.try_get("kind")?;
        let name: String = r.try_get("name")?;
        let slot: i64 = r.try_get("slot")?;
        let Ok(k) = kind.parse::<SourceKind>() else { continue };
        if k == SourceKind::Idrac {
            if !wanted.iter().any(|(wk, _, _)| *wk == SourceKind::Idrac) {
                wanted.push((k, None, slot));
            }
        } else {
            wanted.push((k, Some(name), slot));
        }
    }
    let mut created = Vec::new();
    for (k, name, slot) in wanted {
        let kind = k.as_str();
        let label = name.clone().unwrap_or_else(|| "fleet".into());
        let spec = JobSpec::Sync(SyncTarget { source: name.clone(), kind: Some(k), benchmark_noop: false });
        let id: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO jobs (type, status, title, target, policy, idempotency_key)
             VALUES ('sync', 'pending', $1, $2, '{}', $3)
             ON CONFLICT ON CONSTRAINT jobs_idempotency_key_key DO NOTHING RETURNING id",
        )
        .bind(format!("Scheduled sync of {kind} {label}"))
        .bind(spec.to_target())
        .bind(format!("sync:{kind}:{label}:{secs}:{slot}"))
        .fetch_optional(db.pool())
        .await?;
        created.extend(id);
    }
    Ok(created)
}
