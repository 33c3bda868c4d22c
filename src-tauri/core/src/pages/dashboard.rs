//! The dashboard: how much is where, whether the sources sync, what needs attention
//! (open IPAM findings, paused jobs, pending approvals) and whether the kill switch is on.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use ts_rs::TS;

use super::Count;
use crate::error::Result;
use crate::jobs::{self, JobSummary, KillSwitch};
use crate::sources::{self, SourceKind};
use crate::Database;

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct DashboardPage {
    pub totals: InventoryTotals,
    /// Inventory per site: each object where site inference placed it (else its source's
    /// site; `site` None: neither says).
    pub sites: Vec<SiteCounts>,
    pub sources: Vec<SourceHealth>,
    /// Open IPAM findings per severity (error, warning, info), zeros included.
    pub findings: Vec<Count>,
    /// Jobs per status, every status included.
    pub job_counts: Vec<Count>,
    /// Running and paused jobs, newest first.
    pub active_jobs: Vec<JobSummary>,
    /// Jobs awaiting approval, newest first.
    pub approvals: Vec<JobSummary>,
    pub kill_switch: KillSwitch,
    /// Worker processes that announced themselves and haven't stopped.
    pub workers: Vec<WorkerInstance>,
    /// Things to act on, in plain words.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct InventoryTotals {
    pub vms: i64,
    pub vms_powered_on: i64,
    pub hosts: i64,
    pub hosts_in_maintenance: i64,
    pub clusters: i64,
    pub servers: i64,
    /// Servers with at least one component behind (or ahead of) their baseline.
    pub servers_noncompliant: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SiteCounts {
    pub site: Option<String>,
    pub name: Option<String>,
    pub vms: i64,
    pub vms_powered_on: i64,
    pub hosts: i64,
    pub clusters: i64,
    pub servers: i64,
}

/// One source's sync health.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SourceHealth {
    pub kind: SourceKind,
    pub name: String,
    pub site: Option<String>,
    pub enabled: bool,
    #[ts(type = "string | null")]
    pub last_sync_at: Option<chrono::DateTime<chrono::Utc>>,
    /// running | succeeded | partial | failed (None: never synced)
    pub last_sync_status: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct WorkerInstance {
    pub id: String,
    pub hostname: String,
    /// desktop | serve | worker
    pub mode: String,
    #[ts(type = "string")]
    pub heartbeat_at: chrono::DateTime<chrono::Utc>,
    /// Heartbeat within the last 90 seconds.
    pub alive: bool,
}

pub const JOB_STATUSES: &[&str] =
    &["pending", "awaiting_approval", "scheduled", "running", "paused", "succeeded", "failed", "cancelled"];

pub async fn load(db: &Database) -> Result<DashboardPage> {
    let pool = db.pool();
    let sites = sqlx::query(
        r#"
        WITH vm AS (
            SELECT coalesce(pl.site_id, vc.site_id) AS site_id, count(*) AS vms,
                   count(*) FILTER (WHERE v.power_state = 'powered_on') AS vms_on
            FROM virtual_machines v JOIN vcenter_instances vc ON vc.id = v.vcenter_id
            LEFT JOIN site_placements pl ON pl.entity_type = 'virtual_machine' AND pl.entity_id = v.id
            WHERE v.removed_at IS NULL AND NOT v.is_template
            GROUP BY 1
        ), host AS (
            SELECT coalesce(pl.site_id, vc.site_id) AS site_id, count(*) AS hosts, count(DISTINCT h.cluster_id) AS clusters
            FROM esxi_hosts h JOIN vcenter_instances vc ON vc.id = h.vcenter_id
            LEFT JOIN site_placements pl ON pl.entity_type = 'esxi_host' AND pl.entity_id = h.id
            WHERE h.removed_at IS NULL
            GROUP BY 1
        ), srv AS (
            SELECT coalesce(pl.site_id, e.site_id, o.site_id) AS site_id, count(*) AS servers
            FROM physical_servers p
            LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
            LEFT JOIN ome_instances o ON o.id = p.ome_instance_id
            LEFT JOIN site_placements pl ON pl.entity_type = 'physical_server' AND pl.entity_id = p.id
            WHERE p.removed_at IS NULL
            GROUP BY 1
        ), keys AS (
            SELECT id AS site_id FROM sites
            UNION SELECT site_id FROM vm UNION SELECT site_id FROM host UNION SELECT site_id FROM srv
        )
        SELECT s.code, s.name, coalesce(vm.vms, 0) AS vms, coalesce(vm.vms_on, 0) AS vms_on,
               coalesce(host.hosts, 0) AS hosts, coalesce(host.clusters, 0) AS clusters,
               coalesce(srv.servers, 0) AS servers
        FROM keys k
        LEFT JOIN sites s ON s.id = k.site_id
        LEFT JOIN vm ON vm.site_id IS NOT DISTINCT FROM k.site_id
        LEFT JOIN host ON host.site_id IS NOT DISTINCT FROM k.site_id
        LEFT JOIN srv ON srv.site_id IS NOT DISTINCT FROM k.site_id
        ORDER BY s.code NULLS LAST
        "#,
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(SiteCounts {
            site: r.try_get("code")?,
            name: r.try_get("name")?,
            vms: r.try_get("vms")?,
            vms_powered_on: r.try_get("vms_on")?,
            hosts: r.try_get("hosts")?,
            clusters: r.try_get("clusters")?,
            servers: r.try_get("servers")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;

    let t = sqlx::query(
        r#"
        SELECT (SELECT count(*) FROM virtual_machines WHERE removed_at IS NULL AND NOT is_template) AS vms,
               (SELECT count(*) FROM virtual_machines
                WHERE removed_at IS NULL AND NOT is_template AND power_state = 'powered_on') AS vms_on,
               (SELECT count(*) FROM esxi_hosts WHERE removed_at IS NULL) AS hosts,
               (SELECT count(*) FROM esxi_hosts WHERE removed_at IS NULL AND in_maintenance_mode) AS hosts_mm,
               (SELECT count(*) FROM clusters WHERE removed_at IS NULL) AS clusters,
               (SELECT count(*) FROM physical_servers WHERE removed_at IS NULL) AS servers,
               (SELECT count(DISTINCT c.physical_server_id) FROM firmware_compliance c
                JOIN physical_servers p ON p.id = c.physical_server_id AND p.removed_at IS NULL
                WHERE c.removed_at IS NULL AND c.status IN ('upgrade', 'downgrade')) AS noncompliant
        "#,
    )
    .fetch_one(pool)
    .await?;
    let totals = InventoryTotals {
        vms: t.try_get("vms")?,
        vms_powered_on: t.try_get("vms_on")?,
        hosts: t.try_get("hosts")?,
        hosts_in_maintenance: t.try_get("hosts_mm")?,
        clusters: t.try_get("clusters")?,
        servers: t.try_get("servers")?,
        servers_noncompliant: t.try_get("noncompliant")?,
    };

    let sources: Vec<SourceHealth> = sources::list(db)
        .await?
        .into_iter()
        .map(|s| SourceHealth {
            kind: s.kind,
            name: s.name,
            site: s.site,
            enabled: s.enabled,
            last_sync_at: s.last_sync_at,
            last_sync_status: s.last_sync_status,
            last_error: s.last_error,
        })
        .collect();

    let findings = counts_of(
        sqlx::query(
            "SELECT severity::text AS value, count(*) AS n FROM ipam_findings WHERE resolved_at IS NULL GROUP BY 1",
        )
        .fetch_all(pool)
        .await?,
        &["error", "warning", "info"],
    )?;
    let job_counts = counts_of(
        sqlx::query("SELECT status::text AS value, count(*) AS n FROM jobs GROUP BY 1").fetch_all(pool).await?,
        JOB_STATUSES,
    )?;

    let mut active_jobs = jobs::list(db, Some("paused"), 25).await?;
    active_jobs.extend(jobs::list(db, Some("running"), 25).await?);
    let approvals = jobs::list(db, Some("awaiting_approval"), 25).await?;
    let kill_switch = jobs::kill_switch(db).await?;

    let workers = sqlx::query(
        "SELECT id, hostname, mode, heartbeat_at, heartbeat_at > now() - interval '90 seconds' AS alive
         FROM worker_instances WHERE stopped_at IS NULL ORDER BY heartbeat_at DESC LIMIT 50",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(WorkerInstance {
            id: r.try_get("id")?,
            hostname: r.try_get("hostname")?,
            mode: r.try_get("mode")?,
            heartbeat_at: r.try_get("heartbeat_at")?,
            alive: r.try_get("alive")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;

    let mut warnings = Vec::new();
    if kill_switch.engaged {
        warnings.push(format!(
            "The kill switch is engaged{}: no job makes external calls until an admin releases it.",
            kill_switch.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
        ));
    }
    if sources.is_empty() {
        warnings.push(
            "No sources yet: an admin adds vCenters and iDRACs under Settings → Sources (or `eio source add`).".into(),
        );
    }
    let failing: Vec<&str> =
        sources.iter().filter(|s| s.last_sync_status.as_deref() == Some("failed")).map(|s| s.name.as_str()).collect();
    if !failing.is_empty() {
        warnings.push(format!("The last sync of {} failed: see Sync status for the reason.", failing.join(", ")));
    }
    let waiting = job_counts.iter().filter(|c| c.value == "pending").map(|c| c.count).sum::<i64>();
    if waiting > 0 && !workers.iter().any(|w| w.alive) {
        warnings.push(format!(
            "{waiting} job(s) wait for a worker, and none is running: start `eio serve` (or `eio worker`) on a machine with a worker key."
        ));
    }

    Ok(DashboardPage {
        totals,
        sites,
        sources,
        findings,
        job_counts,
        active_jobs,
        approvals,
        kill_switch,
        workers,
        warnings,
    })
}

/// `(value, n)` rows as counts, in `order`, with zeros for values absent from the rows.
fn counts_of(rows: Vec<sqlx::postgres::PgRow>, order: &[&str]) -> Result<Vec<Count>> {
    let mut have = std::collections::HashMap::new();
    for r in rows {
        have.insert(r.try_get::<String, _>("value")?, r.try_get::<i64, _>("n")?);
    }
    Ok(order.iter().map(|v| Count { value: (*v).to_owned(), count: have.get(*v).copied().unwrap_or(0) }).collect())
}
