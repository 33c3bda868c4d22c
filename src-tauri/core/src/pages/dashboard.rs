//! The dashboard: how much is where, whether the sources sync, what needs attention
//! (open IPAM findings, paused jobs, pending approvals) and whether the kill switch is on.
//!
//! VMs are never counted here one by one: the per-site counts and totals sum `vm_counts`,
//! which the database keeps as VMs and their placements change (migration 0064).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Count;
use crate::error::Result;
use crate::inventory::states::SyncOutcome;
use crate::jobs::{self, JobStatus, JobSummary, KillSwitch};
use crate::sources::{self, SourceKind};
use crate::Database;

/// How many sources the dashboard lists: an estate of 2,000 iDRACs is summed up, not listed.
pub const SOURCES_SHOWN: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct DashboardPage {
    pub totals: InventoryTotals,
    /// Inventory per site: each object where site inference placed it (else its source's
    /// site; `site` None: neither says).
    pub sites: Vec<SiteCounts>,
    /// Every source when there are at most [`SOURCES_SHOWN`]; beyond that, those that need a
    /// look (failed, partial, never synced, running, disabled), up to that many.
    pub sources: Vec<SourceHealth>,
    /// Sources left out of `sources` (most synced without error; Settings → Sources lists all).
    pub sources_hidden: i64,
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
    /// Sources whose last sync failed, grouped by why (empty: none failed).
    pub sync_failures: Vec<SyncFailureGroup>,
    /// Things to act on, in plain words.
    pub warnings: Vec<String>,
}

/// Why syncs failed, in the words an operator acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncFailureReason {
    /// Nothing answered (refused, unreachable, timed out).
    Unreachable,
    /// TLS: an untrusted, changed or unusable certificate.
    Certificate,
    /// The source refused the service identity's credentials.
    Credentials,
    /// This worker can't open the credentials (its key isn't among those they are sealed for).
    WorkerKey,
    Other,
}

/// Failed sources that failed for the same reason.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SyncFailureGroup {
    pub reason: SyncFailureReason,
    /// "61 sources unreachable — the demo lab is not running: …"
    pub sentence: String,
    /// Every source of the group, by name.
    pub sources: Vec<String>,
    /// All of them belong to the demo lab.
    pub demo_lab: bool,
}

/// Sort a sync error into the reason an operator acts on.
pub fn failure_reason(error: &str) -> SyncFailureReason {
    let e = error.to_ascii_lowercase();
    if e.contains("worker key") || e.contains("sealed for") {
        SyncFailureReason::WorkerKey
    } else if e.contains("certificate") || e.contains("tls ") || e.contains("tls 1.") || e.contains("pinned") {
        SyncFailureReason::Certificate
    } else if e.contains("cannot connect")
        || e.contains("connection refused")
        || e.contains("did not answer")
        || e.contains("timed out")
        || e.contains("unreachable")
        || e.contains("dns error")
    {
        SyncFailureReason::Unreachable
    } else if e.contains("http 401")
        || e.contains("http 403")
        || e.contains("credentials")
        || e.contains("authentication")
        || e.contains("incorrect user name or password")
        || e.contains("cannot complete login")
    {
        SyncFailureReason::Credentials
    } else {
        SyncFailureReason::Other
    }
}

/// Group enabled sources whose last sync failed by reason, each with one sentence.
pub fn group_failures(sources: &[SourceHealth]) -> Vec<SyncFailureGroup> {
    let mut groups: Vec<SyncFailureGroup> = Vec::new();
    for s in sources.iter().filter(|s| s.enabled && s.last_sync_status == Some(SyncOutcome::Failed)) {
        let reason = failure_reason(s.last_error.as_deref().unwrap_or_default());
        // Demo-lab sources and an operator's never share a group: each gets its own advice.
        match groups.iter_mut().find(|g| g.reason == reason && g.demo_lab == s.demo_lab) {
            Some(g) => g.sources.push(s.name.clone()),
            None => groups.push(SyncFailureGroup {
                reason,
                sentence: String::new(),
                sources: vec![s.name.clone()],
                demo_lab: s.demo_lab,
            }),
        }
    }
    for g in &mut groups {
        let n = g.sources.len();
        let what = match (n, g.reason) {
            (1, SyncFailureReason::Unreachable) => "1 source is unreachable".to_owned(),
            (_, SyncFailureReason::Unreachable) => format!("{n} sources are unreachable"),
            (1, SyncFailureReason::Certificate) => "1 source presents a certificate EIO does not trust".to_owned(),
            (_, SyncFailureReason::Certificate) => format!("{n} sources present certificates EIO does not trust"),
            (1, SyncFailureReason::Credentials) => "1 source refuses its credentials".to_owned(),
            (_, SyncFailureReason::Credentials) => format!("{n} sources refuse their credentials"),
            (1, SyncFailureReason::WorkerKey) => "1 source's credentials can't be opened by the worker".to_owned(),
            (_, SyncFailureReason::WorkerKey) => format!("{n} sources' credentials can't be opened by the worker"),
            (1, SyncFailureReason::Other) => "1 source failed to sync".to_owned(),
            (_, SyncFailureReason::Other) => format!("{n} sources failed to sync"),
        };
        // An operator's own sources are named (up to a handful); the demo's are the demo's.
        let named = match (g.demo_lab, n) {
            (false, 1..=5) => format!(" ({})", g.sources.join(", ")),
            (false, _) => format!(" ({}, and {} more)", g.sources[..3].join(", "), n - 3),
            (true, _) => String::new(),
        };
        let advice = match (g.demo_lab, g.reason) {
            (true, SyncFailureReason::Unreachable) => {
                " — the demo lab is not running: start it (Try the demo lab, or `eio demo`) or remove its sources"
            }
            (_, SyncFailureReason::Unreachable) => ": check that they are up and reachable from the workers",
            (_, SyncFailureReason::Certificate) => {
                ": check the certificate under Settings → Sources, and re-pin it if it changed on purpose"
            }
            (_, SyncFailureReason::Credentials) => {
                ": rotate the service identity's credentials under Settings → Service identities"
            }
            (_, SyncFailureReason::WorkerKey) => {
                ": trust its worker key and reseal the identities (Settings → Workers, Service identities)"
            }
            (_, SyncFailureReason::Other) => ": see each source's error under Settings → Sources",
        };
        g.sentence = format!("{what}{named}{advice}.");
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.sources.len()));
    groups
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
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

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
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
    /// None: never synced.
    pub last_sync_status: Option<SyncOutcome>,
    pub last_error: Option<String>,
    /// Registered by the demo lab.
    pub demo_lab: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
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

pub async fn load(db: &Database) -> Result<DashboardPage> {
    // The reads are independent: they run at once, each on a connection of its own.
    let (sites, totals, sources, (findings, job_counts), (active_jobs, approvals), kill_switch, workers) = tokio::try_join!(
        site_counts(db),
        inventory_totals(db),
        source_health(db),
        finding_and_job_counts(db),
        active_and_awaiting(db),
        jobs::kill_switch(db),
        live_workers(db),
    )?;

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
    let sync_failures = group_failures(&sources);
    let (sources, sources_hidden) = shown_sources(sources);
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
        sources_hidden,
        findings,
        job_counts,
        active_jobs,
        approvals,
        kill_switch,
        workers,
        sync_failures,
        warnings,
    })
}

/// Every source, or (more than [`SOURCES_SHOWN`]) the first that need a look, in list
/// order; and how many were left out.
fn shown_sources(sources: Vec<SourceHealth>) -> (Vec<SourceHealth>, i64) {
    let total = sources.len();
    if total <= SOURCES_SHOWN {
        return (sources, 0);
    }
    let shown: Vec<SourceHealth> = sources
        .into_iter()
        .filter(|s| !(s.enabled && s.last_sync_status == Some(SyncOutcome::Succeeded)))
        .take(SOURCES_SHOWN)
        .collect();
    let hidden = i64::try_from(total - shown.len()).unwrap_or(i64::MAX);
    (shown, hidden)
}

async fn site_counts(db: &Database) -> Result<Vec<SiteCounts>> {
    Ok(sqlx::query_as::<_, SiteCounts>(
        r#"
        WITH vm AS (
            SELECT coalesce(c.site_id, vc.site_id) AS site_id, sum(c.n)::bigint AS vms,
                   coalesce(sum(c.n) FILTER (WHERE c.power_state = 'powered_on'), 0)::bigint AS vms_on
            FROM vm_counts c JOIN vcenter_instances vc ON vc.id = c.vcenter_id
            GROUP BY 1 HAVING sum(c.n) <> 0
        ), host AS (
            SELECT coalesce(pl.site_id, vc.site_id) AS site_id, count(*) AS hosts, count(DISTINCT h.cluster_id) AS clusters
            FROM esxi_hosts h JOIN vcenter_instances vc ON vc.id = h.vcenter_id
            LEFT JOIN entity_sites pl ON pl.entity_type = 'esxi_host' AND pl.entity_id = h.id
            WHERE h.removed_at IS NULL
            GROUP BY 1
        ), srv AS (
            SELECT coalesce(pl.site_id, e.site_id, o.site_id) AS site_id, count(*) AS servers
            FROM physical_servers p
            LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
            LEFT JOIN ome_instances o ON o.id = p.ome_instance_id
            LEFT JOIN entity_sites pl ON pl.entity_type = 'physical_server' AND pl.entity_id = p.id
            WHERE p.removed_at IS NULL
            GROUP BY 1
        ), keys AS (
            SELECT id AS site_id FROM sites
            UNION SELECT site_id FROM vm UNION SELECT site_id FROM host UNION SELECT site_id FROM srv
        )
        SELECT s.code AS site, s.name, coalesce(vm.vms, 0) AS vms, coalesce(vm.vms_on, 0) AS vms_powered_on,
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
    .fetch_all(db.pool())
    .await?)
}

async fn inventory_totals(db: &Database) -> Result<InventoryTotals> {
    Ok(sqlx::query_as::<_, InventoryTotals>(
        r#"
        SELECT (SELECT coalesce(sum(n), 0)::bigint FROM vm_counts) AS vms,
               (SELECT coalesce(sum(n), 0)::bigint FROM vm_counts WHERE power_state = 'powered_on') AS vms_powered_on,
               (SELECT count(*) FROM esxi_hosts WHERE removed_at IS NULL) AS hosts,
               (SELECT count(*) FROM esxi_hosts WHERE removed_at IS NULL AND in_maintenance_mode) AS hosts_in_maintenance,
               (SELECT count(*) FROM clusters WHERE removed_at IS NULL) AS clusters,
               (SELECT count(*) FROM physical_servers WHERE removed_at IS NULL) AS servers,
               (SELECT count(DISTINCT c.physical_server_id) FROM firmware_compliance c
                JOIN physical_servers p ON p.id = c.physical_server_id AND p.removed_at IS NULL
                WHERE c.removed_at IS NULL AND c.status IN ('upgrade', 'downgrade')) AS servers_noncompliant
        "#,
    )
    .fetch_one(db.pool())
    .await?)
}

async fn source_health(db: &Database) -> Result<Vec<SourceHealth>> {
    Ok(sources::list(db)
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
            demo_lab: s.demo_lab,
        })
        .collect())
}

/// Open findings by severity and jobs by status.
async fn finding_and_job_counts(db: &Database) -> Result<(Vec<Count>, Vec<Count>)> {
    let pool = db.pool();
    let findings = counts_of(
        sqlx::query_as(
            // Grouped by the enum, then named, so the plan can be an index-only scan of
            // ipam_findings_open_idx: 15 ms for 100k open findings once the visibility map
            // is set (autovacuum), against a 38 ms pass over every row without it.
            "SELECT severity::text AS value, n FROM (SELECT severity, count(*) AS n FROM ipam_findings
             WHERE resolved_at IS NULL GROUP BY severity) x",
        )
        .fetch_all(pool)
        .await?,
        &["error", "warning", "info"],
    )?;
    let job_counts = counts_of(
        sqlx::query_as("SELECT status::text AS value, count(*) AS n FROM jobs GROUP BY 1").fetch_all(pool).await?,
        &JobStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    )?;
    Ok((findings, job_counts))
}

/// Paused and running jobs (25 of each), and those awaiting approval.
async fn active_and_awaiting(db: &Database) -> Result<(Vec<JobSummary>, Vec<JobSummary>)> {
    let mut active = jobs::list(db, Some("paused"), 25).await?;
    active.extend(jobs::list(db, Some("running"), 25).await?);
    Ok((active, jobs::list(db, Some("awaiting_approval"), 25).await?))
}

async fn live_workers(db: &Database) -> Result<Vec<WorkerInstance>> {
    Ok(sqlx::query_as::<_, WorkerInstance>(
        "SELECT id, hostname, mode, heartbeat_at, heartbeat_at > now() - interval '90 seconds' AS alive
         FROM worker_instances WHERE stopped_at IS NULL ORDER BY heartbeat_at DESC LIMIT 50",
    )
    .fetch_all(db.pool())
    .await?)
}

/// `(value, n)` rows as counts, in `order`, with zeros for values absent from the rows.
fn counts_of(rows: Vec<(String, i64)>, order: &[&str]) -> Result<Vec<Count>> {
    let have: std::collections::HashMap<String, i64> = rows.into_iter().collect();
    Ok(order.iter().map(|v| Count { value: (*v).to_owned(), count: have.get(*v).copied().unwrap_or(0) }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(name: &str, error: &str, demo_lab: bool) -> SourceHealth {
        SourceHealth {
            kind: SourceKind::Idrac,
            name: name.into(),
            site: None,
            enabled: true,
            last_sync_at: None,
            last_sync_status: Some(SyncOutcome::Failed),
            last_error: Some(error.into()),
            demo_lab,
        }
    }

    #[test]
    fn a_large_estate_lists_the_sources_that_need_a_look() {
        let ok = |name: &str| SourceHealth {
            last_sync_status: Some(SyncOutcome::Succeeded),
            last_error: None,
            ..failed(name, "", false)
        };
        // Few sources: every one, healthy or not.
        let few: Vec<_> = (0..SOURCES_SHOWN).map(|i| ok(&format!("idrac-{i:04}"))).collect();
        let (shown, hidden) = shown_sources(few);
        assert_eq!((shown.len(), hidden), (SOURCES_SHOWN, 0));
        // 2,000: the failed, the disabled and the never synced, not the 1,996 healthy.
        let mut many: Vec<_> = (0..2000).map(|i| ok(&format!("idrac-{i:04}"))).collect();
        many[7] = failed("idrac-0007", "connection refused", false);
        many[1500].enabled = false;
        many[1999].last_sync_status = None;
        many[42].last_sync_status = Some(SyncOutcome::Partial);
        let (shown, hidden) = shown_sources(many);
        let names: Vec<&str> = shown.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["idrac-0007", "idrac-0042", "idrac-1500", "idrac-1999"]);
        assert_eq!(hidden, 1996);
        // More than can be listed need a look: the first SOURCES_SHOWN of them.
        let broken: Vec<_> = (0..80).map(|i| failed(&format!("idrac-{i:04}"), "timed out", false)).collect();
        let (shown, hidden) = shown_sources(broken);
        assert_eq!((shown.len(), hidden, shown[0].name.as_str()), (SOURCES_SHOWN, 30, "idrac-0000"));
    }

    #[test]
    fn sixty_one_unreachable_demo_sources_read_as_one_sentence() {
        let mut sources: Vec<SourceHealth> = (0..61)
            .map(|i| failed(&format!("idrac-{i:03}"), "cannot connect to 127.0.0.1:9443: Connection refused", true))
            .collect();
        sources.push(SourceHealth { last_sync_status: Some(SyncOutcome::Succeeded), ..failed("vc-ok", "", false) });
        sources.push(SourceHealth { enabled: false, ..failed("paused", "cannot connect to x", true) });
        let groups = group_failures(&sources);
        assert_eq!(groups.len(), 1);
        assert_eq!(
            groups[0].sentence,
            "61 sources are unreachable — the demo lab is not running: start it (Try the demo lab, or `eio demo`) \
             or remove its sources."
        );
        assert_eq!(groups[0].sources.len(), 61);
        assert!(groups[0].demo_lab);
    }

    #[test]
    fn an_operators_source_never_hides_in_the_demo_labs_group() {
        let mut sources: Vec<SourceHealth> =
            (0..61).map(|i| failed(&format!("idrac-{i:03}"), "cannot connect to 127.0.0.1:1: refused", true)).collect();
        sources.push(failed("vc-prod", "cannot connect to vc-prod:443: No route to host", false));
        sources.push(failed("bmc-9", "bmc-9 answered HTTP 401: Unauthorized", false));
        sources.push(failed("bmc-7", "this worker's key is not among those the credentials are sealed for", false));
        let groups = group_failures(&sources);
        let sentences: Vec<&str> = groups.iter().map(|g| g.sentence.as_str()).collect();
        assert_eq!(
            sentences,
            vec![
                "61 sources are unreachable — the demo lab is not running: start it (Try the demo lab, or `eio demo`) \
                 or remove its sources.",
                "1 source is unreachable (vc-prod): check that they are up and reachable from the workers.",
                "1 source refuses its credentials (bmc-9): rotate the service identity's credentials under Settings → \
                 Service identities.",
                "1 source's credentials can't be opened by the worker (bmc-7): trust its worker key and reseal the \
                 identities (Settings → Workers, Service identities).",
            ]
        );
    }

    #[test]
    fn failures_group_by_reason_and_name_small_groups() {
        let sources = vec![
            failed("vc01", "vc01.example.com:443 did not answer within 120 s", false),
            failed("bmc-1", "10.0.0.1:443 presented a certificate with SHA-256 AA, but BB is pinned; …", false),
            failed("bmc-2", "cannot connect to 10.0.0.2:443: No route to host", false),
            failed("ome", "ome answered HTTP 401: Unauthorized", false),
            failed("odd", "the response was not XML", false),
        ];
        let sentences: Vec<(SyncFailureReason, String, bool)> =
            group_failures(&sources).into_iter().map(|g| (g.reason, g.sentence, g.demo_lab)).collect();
        assert_eq!(
            sentences,
            vec![
                (
                    SyncFailureReason::Unreachable,
                    "2 sources are unreachable (vc01, bmc-2): check that they are up and reachable from the workers."
                        .to_owned(),
                    false
                ),
                (
                    SyncFailureReason::Certificate,
                    "1 source presents a certificate EIO does not trust (bmc-1): check the certificate under Settings → \
                     Sources, and re-pin it if it changed on purpose."
                        .to_owned(),
                    false
                ),
                (
                    SyncFailureReason::Credentials,
                    "1 source refuses its credentials (ome): rotate the service identity's credentials under Settings → \
                     Service identities."
                        .to_owned(),
                    false
                ),
                (
                    SyncFailureReason::Other,
                    "1 source failed to sync (odd): see each source's error under Settings → Sources.".to_owned(),
                    false
                ),
            ]
        );
    }
}
