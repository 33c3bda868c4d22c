//! The jobs page: the job list, the approval queue with each job's plan, the kill switch,
//! and what the create wizard offers (clusters, hosts, policies, sources). One job's
//! timeline is `jobs::detail`.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::{filter, window, Count};
use crate::error::Result;
use crate::jobs::{self, JobStatus, JobSummary, KillSwitch, Plan, Policy};
use crate::Database;

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct JobsQuery {
    /// Only jobs in this state.
    #[serde(default)]
    pub status: Option<String>,
    /// At most this many jobs (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct JobsPage {
    pub jobs: Vec<JobSummary>,
    /// Jobs per status, every status included.
    pub counts: Vec<Count>,
    /// Jobs awaiting approval, each with the plan the approver approves.
    pub approvals: Vec<ApprovalItem>,
    pub kill_switch: KillSwitch,
    pub targets: JobTargets,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ApprovalItem {
    pub job: JobSummary,
    pub plan: Option<Plan>,
    /// The policy it would run under (none for the system's own jobs).
    pub policy: Option<Policy>,
    /// The hash of the plan shown: sent back with the approval, which the database refuses
    /// if the plan changed meanwhile.
    pub plan_hash: Option<String>,
}

/// What the create wizard offers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct JobTargets {
    pub clusters: Vec<String>,
    pub hosts: Vec<HostTarget>,
    pub policies: Vec<PolicyChoice>,
    /// Source names (for sync jobs).
    pub sources: Vec<String>,
    /// Report definition names (for report jobs).
    pub report_definitions: Vec<String>,
    /// Firmware baselines (for firmware updates to a baseline).
    pub baselines: Vec<crate::jobs::baselines::Baseline>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct HostTarget {
    pub name: String,
    pub cluster: Option<String>,
    pub in_maintenance_mode: bool,
    /// The physical server it runs on (service tag), when mapped.
    pub server: Option<String>,
}

/// A named job policy, as an admin made it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct PolicyChoice {
    pub name: String,
    pub description: Option<String>,
    pub require_approval: bool,
    pub allow_vm_shutdown: bool,
    pub allow_hard_poweroff: bool,
    pub vm_limit: i32,
    pub shutdown_timeout_seconds: i32,
    /// Only VMs with one of these tags may be stopped (empty: any).
    pub tag_filters: Vec<String>,
    /// Only VMs in these folders (or below) may be stopped (empty: any).
    pub folder_filters: Vec<String>,
}

pub async fn load(db: &Database, q: &JobsQuery) -> Result<JobsPage> {
    let pool = db.pool();
    let (_, limit) = window(None, q.limit, 100, 500);
    let jobs = jobs::list(db, filter(&q.status), limit).await?;
    let have: std::collections::HashMap<JobStatus, i64> =
        sqlx::query_as("SELECT status, count(*) FROM jobs GROUP BY 1").fetch_all(pool).await?.into_iter().collect();
    let counts = JobStatus::ALL
        .iter()
        .map(|s| Count { value: s.as_str().into(), count: have.get(s).copied().unwrap_or(0) })
        .collect();

    let waiting = jobs::list(db, Some("awaiting_approval"), 100).await?;
    let ids: Vec<Uuid> = waiting.iter().map(|j| j.id).collect();
    let mut plans = std::collections::HashMap::new();
    let rows: Vec<(Uuid, Option<serde_json::Value>, serde_json::Value, Option<String>)> =
        sqlx::query_as("SELECT id, plan, policy, plan_hash FROM jobs WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(pool)
            .await?;
    for (id, plan, policy, hash) in rows {
        let plan = plan.and_then(|p| serde_json::from_value::<Plan>(p).ok());
        plans.insert(id, (plan, jobs::stored_policy(policy), hash));
    }
    let approvals = waiting
        .into_iter()
        .map(|job| {
            let (plan, policy, plan_hash) = plans.remove(&job.id).unwrap_or((None, None, None));
            ApprovalItem { job, plan, policy, plan_hash }
        })
        .collect();

    let hosts = sqlx::query_as(
        r#"
        SELECT h.name, c.name AS cluster, h.in_maintenance_mode, p.service_tag AS server
        FROM esxi_hosts h
        LEFT JOIN clusters c ON c.id = h.cluster_id
        LEFT JOIN server_mappings m ON m.esxi_host_id = h.id AND m.status = 'active'
        LEFT JOIN physical_servers p ON p.id = m.physical_server_id
        WHERE h.removed_at IS NULL
        ORDER BY c.name NULLS LAST, h.name
        LIMIT 5000
        "#,
    )
    .fetch_all(pool)
    .await?;
    let clusters: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT name FROM clusters WHERE removed_at IS NULL ORDER BY name")
            .fetch_all(pool)
            .await?;
    let policies = crate::jobs::policies::list(db).await?;
    let sources: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM (SELECT name FROM vcenter_instances UNION SELECT name FROM idrac_endpoints
                           UNION SELECT name FROM ome_instances) s ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    let report_definitions: Vec<String> =
        sqlx::query_scalar("SELECT name FROM report_definitions ORDER BY name").fetch_all(pool).await?;

    Ok(JobsPage {
        jobs,
        counts,
        approvals,
        kill_switch: jobs::kill_switch(db).await?,
        targets: JobTargets {
            clusters,
            hosts,
            policies,
            sources,
            report_definitions,
            baselines: crate::jobs::baselines::list(db).await?,
        },
    })
}

// The job operations' inputs live beside their handlers (`crate::jobs::ops`); these paths
// stay for the command line.
pub use crate::jobs::ops::{JobCancelInput, JobCommentInput, JobDecideInput, JobIdInput, KillSwitchInput};
