//! Where a job's actions go: from a host or VM moid in the plan to the vCenter that manages
//! it, and from a host to the iDRAC of the server it runs on, with connections opened with
//! the sources' own service identities (decrypted for this use only, never logged).
use std::time::Duration;

use eio_connectors::idrac::jobs::DellActions;
use eio_connectors::idrac::records::DriverKind;
use eio_connectors::idrac::IdracEndpoint;
use eio_connectors::vcenter::{HostState, Session, TaskInfo, TaskState};
use eio_core::sources::SourceKind;

use crate::jobs::context::{JobContext, JobError, Polled};
use crate::sync::{self, vcenter, SourceRow, Syncer};

/// An ESXi host as the handlers act on it.
#[derive(Debug, Clone)]
pub struct HostTarget {
    pub moid: String,
    pub name: String,
    pub cluster_moid: Option<String>,
    pub vcenter: SourceRow,
    /// The iDRAC of the server the host runs on (active mapping), if known.
    pub idrac: Option<SourceRow>,
}

fn failed(what: impl std::fmt::Display) -> JobError {
    JobError::Failed(what.to_string())
}

#[derive(sqlx::FromRow)]
struct HostRow {
    moid: String,
    name: String,
    cluster_moid: Option<String>,
    vcenter: String,
    idrac: Option<String>,
}

/// Look a host up by moid and vCenter (as the plan names them: moids repeat across vCenters).
pub async fn host(ctx: &JobContext, moid: &str, vcenter: Option<&str>) -> Result<HostTarget, JobError> {
    let row: HostRow = sqlx::query_as(
        "SELECT h.moid, h.name, c.moid AS cluster_moid, vc.name AS vcenter, e.name AS idrac
         FROM esxi_hosts h JOIN vcenter_instances vc ON vc.id = h.vcenter_id
         LEFT JOIN clusters c ON c.id = h.cluster_id
         LEFT JOIN server_mappings m ON m.esxi_host_id = h.id AND m.status = 'active'
         LEFT JOIN physical_servers p ON p.id = m.physical_server_id
         LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
         WHERE h.moid = $1 AND h.removed_at IS NULL AND ($2::text IS NULL OR vc.name = $2)
         ORDER BY vc.name LIMIT 1",
    )
    .bind(moid)
    .bind(vcenter)
    .fetch_optional(ctx.db.pool())
    .await?
    .ok_or_else(|| failed(format!("host {moid} is no longer in the inventory")))?;
    let vcenter = source(ctx, SourceKind::Vcenter, &row.vcenter).await?;
    let idrac = match &row.idrac {
        Some(name) => Some(source(ctx, SourceKind::Idrac, name).await?),
        None => None,
    };
    Ok(HostTarget { moid: row.moid, name: row.name, cluster_moid: row.cluster_moid, vcenter, idrac })
}

/// The vCenter source managing the VM `moid` (in `vcenter`, when the plan says), and the
/// VM's host moid.
pub async fn vm(ctx: &JobContext, moid: &str, vcenter: Option<&str>) -> Result<(SourceRow, Option<String>), JobError> {
    let (name, host): (String, Option<String>) = sqlx::query_as(
        "SELECT vc.name AS vcenter, h.moid AS host FROM virtual_machines v
         JOIN vcenter_instances vc ON vc.id = v.vcenter_id LEFT JOIN esxi_hosts h ON h.id = v.host_id
         WHERE v.moid = $1 AND v.removed_at IS NULL AND ($2::text IS NULL OR vc.name = $2) ORDER BY vc.name LIMIT 1",
    )
    .bind(moid)
    .bind(vcenter)
    .fetch_optional(ctx.db.pool())
    .await?
    .ok_or_else(|| failed(format!("VM {moid} is no longer in the inventory")))?;
    Ok((source(ctx, SourceKind::Vcenter, &name).await?, host))
}

/// The iDRAC source of a server named by service tag or iDRAC name.
pub async fn server_idrac(ctx: &JobContext, server: &str) -> Result<SourceRow, JobError> {
    let name: Option<String> = sqlx::query_scalar(
        "SELECT e.name FROM physical_servers p JOIN idrac_endpoints e ON e.id = p.idrac_id
         WHERE p.removed_at IS NULL AND (upper(p.service_tag) = upper($1) OR e.name = $1) LIMIT 1",
    )
    .bind(server)
    .fetch_optional(ctx.db.pool())
    .await?;
    let name = name.ok_or_else(|| failed(format!("server {server} has no iDRAC source configured")))?;
    source(ctx, SourceKind::Idrac, &name).await
}

async fn source(ctx: &JobContext, kind: SourceKind, name: &str) -> Result<SourceRow, JobError> {
    let mut rows = sync::sources(&ctx.db, kind, Some(name)).await.map_err(|e| failed(e.message))?;
    Ok(rows.remove(0))
}

/// Log in to a vCenter (the guard runs first: this is an external call).
pub async fn vcenter_session(ctx: &JobContext, syncer: &Syncer, source: &SourceRow) -> Result<Session, JobError> {
    ctx.guard().await?;
    vcenter::connect(syncer, source)
        .await
        .map_err(|e| failed(e.message))?
        .map_err(|e| failed(format!("vCenter {}: {e}", source.name)))
}

/// Connect to an iDRAC for job actions.
pub async fn dell(ctx: &JobContext, syncer: &Syncer, source: &SourceRow) -> Result<DellActions, JobError> {
    ctx.guard().await?;
    let creds = syncer.credentials(source).await.map_err(|e| failed(e.message))?;
    let url = url::Url::parse(&source.url).map_err(|e| failed(format!("bad URL {}: {e}", source.url)))?;
    let mut endpoint = IdracEndpoint::new(url, creds, syncer.http_config(source).map_err(|e| failed(e.message))?);
    endpoint.driver_override = source.driver_override.as_deref().and_then(|d| d.parse::<DriverKind>().ok());
    let out = DellActions::connect(&endpoint).await;
    if out.is_ok() {
        syncer.record_use(source, Ok(())).await;
    }
    out.map_err(|e| failed(format!("iDRAC {}: {e}", source.name)))
}

/// Read a host (guarded: an external call).
pub async fn host_state(ctx: &JobContext, session: &Session, moid: &str) -> Result<HostState, JobError> {
    ctx.guard().await?;
    session.host_state(moid).await.map_err(|e| failed(format!("reading host {moid}: {e}")))
}

/// One look at a vCenter task, as the step protocol wants it.
pub fn polled_task<T>(info: &TaskInfo, done: impl FnOnce(&TaskInfo) -> T) -> Polled<T> {
    match info.state {
        TaskState::Success => Polled::Done(done(info)),
        TaskState::Error => Polled::Failed(
            info.error.as_ref().map(|f| f.to_string()).unwrap_or_else(|| format!("task {} failed", info.moid)),
        ),
        TaskState::Queued | TaskState::Running => {
            Polled::Running { percent: info.progress, message: info.description.clone() }
        }
    }
}

/// How long the engine follows a host task (maintenance mode, reboot) before pausing to ask.
pub const HOST_TASK_TIMEOUT: Duration = Duration::from_secs(4 * 3600);
