//! Scheduled source syncs: every enabled source gets a full sync every `every`, as a `sync`
//! job through the pool, so it runs once whichever worker instances are up. And jobs
//! submitted with a cron schedule ([`enqueue_due_runs`]): one run per due time.
//!
//! Exactly once per interval comes from the idempotency key: the interval's number
//! (`floor(epoch / every)`) is in it, so every worker that ticks in the same interval asks
//! for the same job and the unique key lets one insert through. A source synced recently
//! (by a person, or the live watcher's resync) or with a sync job still open is skipped.
//! vCenters and OMEs get a job each; the iDRAC fleet gets one job for all its due endpoints
//! (one bounded-concurrency fleet sync and one findings run, not one per BMC).
//! Must never: run a sync itself, or create a job for a disabled source.
use std::time::Duration;

use chrono::{DateTime, Utc};
use eio_core::jobs::{plan, JobSpec, Policy, SyncTarget};
use eio_core::reports::schedule as cron;
use eio_core::sources::SourceKind;
use eio_core::{Database, Error, Result};
use uuid::Uuid;

/// Create the sync jobs due now; returns the ids created by this call.
pub async fn enqueue_due_syncs(db: &Database, every: Duration) -> Result<Vec<Uuid>> {
    let secs = every.as_secs().max(60) as i64;
    let due: Vec<(SourceKind, String, i64)> = sqlx::query_as(
        r#"
        WITH s AS (
            SELECT 'vcenter'::source_kind AS kind, id, name FROM vcenter_instances WHERE enabled
            UNION ALL SELECT 'idrac', id, name FROM idrac_endpoints WHERE enabled
            UNION ALL SELECT 'ome', id, name FROM ome_instances WHERE enabled
        )
        SELECT s.kind, s.name, floor(extract(epoch FROM now()) / $1)::bigint AS slot
        FROM s
        WHERE NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.source_type = s.kind AND r.source_id = s.id
                            AND r.started_at > now() - make_interval(secs => $1))
          AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.type = 'sync'
                            AND j.status IN ('pending', 'scheduled', 'running', 'paused')
                            AND j.schedule IS NULL
                            AND coalesce(j.target ->> 'kind', s.kind::text) = s.kind::text
                            AND coalesce(j.target ->> 'source', s.name) = s.name)
        ORDER BY s.kind, s.name
        "#,
    )
    .bind(secs as f64)
    .fetch_all(db.pool())
    .await?;
    let mut wanted: Vec<(SourceKind, Option<String>, i64)> = Vec::new();
    for (k, name, slot) in due {
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
        let id: Option<Uuid> = sqlx::query_scalar("SELECT enqueue_system_job('sync', $1, $2, '{}', $3)")
            .bind(format!("Scheduled sync of {kind} {label}"))
            .bind(spec.to_target())
            .bind(format!("sync:{kind}:{label}:{secs}:{slot}"))
            .fetch_one(db.pool())
            .await?;
        created.extend(id);
    }
    Ok(created)
}

/// A schedule definition that is due.
#[derive(sqlx::FromRow)]
struct DueJob {
    id: Uuid,
    schedule: String,
    next_run_at: DateTime<Utc>,
    target: serde_json::Value,
    policy: serde_json::Value,
}

/// For every scheduled job definition (`jobs.schedule`) that is due: create its run for the
/// due time and advance `next_run_at` to the next cron time after now (missed runs collapse
/// into one), in one transaction holding the definition's row (`FOR UPDATE SKIP LOCKED`), so
/// however many instances tick at once a due time gets one run. Each run is planned from
/// the inventory of now and goes through `create_scheduled_run`: the initiator's rights are
/// checked again, and a policy that requires approval makes the run wait for an approver
/// (never the initiator). A plan that refuses records the run cancelled. Returns the runs
/// this call created. Runs as a worker login.
///
/// Must never: run a job itself, or create a run outside `create_scheduled_run`.
pub async fn enqueue_due_runs(db: &Database) -> Result<Vec<Uuid>> {
    let mut tx = db.pool().begin().await?;
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()").fetch_one(&mut *tx).await?;
    let due: Vec<DueJob> = sqlx::query_as(
        "SELECT id, schedule, next_run_at, target, policy FROM jobs
         WHERE schedule IS NOT NULL AND status = 'scheduled' AND next_run_at <= now()
         ORDER BY next_run_at, id
         FOR UPDATE SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| Error::from(e).context("claiming due scheduled jobs"))?;
    let mut created = Vec::new();
    for row in due {
        let (id, due_at) = (row.id, row.next_run_at);
        let next = match cron::parse(&row.schedule).and_then(|s| s.next_after(now)) {
            Ok(next) => Some(next),
            Err(e) => {
                // Written past the application (psql): stop retrying it every tick.
                tracing::warn!(job = %id, error = %e, "job schedule is invalid; not scheduling it again");
                None
            }
        };
        sqlx::query("SELECT set_job_next_run($1, $2)").bind(id).bind(next).execute(&mut *tx).await?;
        if next.is_none() {
            continue;
        }
        // The plan of this run, from the inventory of now: what its approver approves.
        let planned = async {
            let spec = JobSpec::from_target(&row.target)?;
            let policy: Policy = serde_json::from_value(row.policy.clone())
                .map_err(|e| Error::internal(format!("the scheduled job's policy: {e}")))?;
            plan::compute(db, &spec, &policy).await
        }
        .await;
        let (plan_json, refusal, site, cluster) = match planned {
            Ok(p) => {
                let mut v = serde_json::to_value(&p).map_err(|e| Error::internal(e.to_string()))?;
                v["material"] = p.material();
                let refusal = (!p.refusals.is_empty()).then(|| p.refusals.join("; "));
                (Some(v), refusal, p.site_id, p.cluster_id)
            }
            Err(e) => (None, Some(e.message), None, None),
        };
        let run: Option<Uuid> = sqlx::query_scalar("SELECT create_scheduled_run($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(due_at)
            .bind(&plan_json)
            .bind(&refusal)
            .bind(site)
            .bind(cluster)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| Error::from(e).context("creating a scheduled run"))?;
        created.extend(run);
    }
    tx.commit().await?;
    Ok(created)
}
