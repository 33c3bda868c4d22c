//! `power` jobs: VM guest shutdown, hard power-off or suspend; server restart or power cycle
//! through its iDRAC. The policy is re-checked before every step (a shutdown needs
//! allow_vm_shutdown, a power-off allow_hard_poweroff, never more VMs than vm_limit), and a
//! server still running an ESXi host that is not in maintenance mode is refused at the
//! moment of acting, not only at planning.
use std::time::Duration;

use eio_connectors::idrac::records::ResetKind;
use eio_core::jobs::{JobSpec, PowerAction, PowerTarget};
use serde_json::{json, Value};

use super::actions::{reset_confirm_window, ResetServer, VmOp, VmPower};
use super::maintenance;
use super::targets;
use crate::jobs::context::{JobContext, JobError};
use crate::sync::Syncer;

/// The ESXi host a server runs, as the inventory last saw it.
#[derive(sqlx::FromRow)]
struct RunningHost {
    name: String,
    in_maintenance_mode: bool,
}

pub async fn run(ctx: &JobContext, syncer: &Syncer, t: &PowerTarget) -> Result<Value, JobError> {
    let spec = JobSpec::Power(t.clone());
    let plan = maintenance::plan(ctx, &spec).await?;
    let policy = super::policy(ctx)?;
    let mut out = Vec::new();
    match t.action {
        PowerAction::Shutdown | PowerAction::PowerOff | PowerAction::Suspend => {
            let op = match t.action {
                PowerAction::Shutdown => VmOp::Shutdown,
                PowerAction::PowerOff => VmOp::PowerOff,
                _ => VmOp::Suspend,
            };
            if plan.vms.len() > policy.vm_limit.max(0) as usize {
                return Err(JobError::Failed(format!("{} VMs exceed vm_limit {}", plan.vms.len(), policy.vm_limit)));
            }
            let moids: Vec<String> = plan.vms.iter().map(|v| v.moid.clone()).collect();
            let outside = eio_core::jobs::plan::vms_outside_filters(&ctx.db, &policy, &moids).await?;
            if !outside.is_empty() {
                return Err(JobError::Failed(format!(
                    "the policy's tag/folder filters keep the job off {}",
                    outside.join(", ")
                )));
            }
            let timeout = Duration::from_secs(policy.shutdown_timeout_seconds.max(1) as u64);
            let n = plan.vms.len().max(1);
            for (j, vm) in plan.vms.iter().enumerate() {
                match op {
                    VmOp::Shutdown if !policy.allow_vm_shutdown => {
                        return Err(JobError::Failed("the policy does not allow shutting VMs down".into()))
                    }
                    VmOp::PowerOff if !policy.allow_hard_poweroff => {
                        return Err(JobError::Failed("the policy does not allow a hard power-off".into()))
                    }
                    _ => {}
                }
                ctx.progress(j as f32 / n as f32, format!("{}: {}", vm.name, vm.action)).await?;
                let (source, host) = targets::vm(ctx, &vm.moid, vm.vcenter.as_deref()).await?;
                let host = host.ok_or_else(|| JobError::Failed(format!("{} has no host in the inventory", vm.name)))?;
                let session = targets::vcenter_session(ctx, syncer, &source).await?;
                let action = VmPower { session: &session, host: &host, vm: &vm.moid, op, timeout };
                let r = ctx.run_action(j as i32 + 1, &format!("{}: {}", vm.action, vm.name), &action).await;
                let _ = session.logout().await;
                out.push(json!({ "vm": vm.name, "result": r? }));
            }
        }
        PowerAction::Reset | PowerAction::PowerCycle => {
            let kind = if t.action == PowerAction::Reset { ResetKind::GracefulRestart } else { ResetKind::PowerCycle };
            for (j, server) in plan.servers.iter().enumerate() {
                let tag = server.service_tag.clone().or(server.idrac.clone()).unwrap_or_default();
                // The ESXi host it runs must be in maintenance mode now (the inventory may
                // have changed since the plan).
                let host: Option<RunningHost> = sqlx::query_as(
                    "SELECT h.name, h.in_maintenance_mode FROM physical_servers p
                     JOIN server_mappings m ON m.physical_server_id = p.id AND m.status = 'active'
                     JOIN esxi_hosts h ON h.id = m.esxi_host_id AND h.removed_at IS NULL
                     WHERE upper(p.service_tag) = upper($1)",
                )
                .bind(&tag)
                .fetch_optional(ctx.db.pool())
                .await?;
                if let Some(h) = host.filter(|h| !h.in_maintenance_mode) {
                    return Err(JobError::Failed(format!(
                        "{tag} runs ESXi host {}, which is not in maintenance mode: refused",
                        h.name
                    )));
                }
                let idrac = targets::server_idrac(ctx, &tag).await?;
                let dell = targets::dell(ctx, syncer, &idrac).await?;
                let action = ResetServer {
                    dell: &dell,
                    idrac: &idrac.name,
                    kind,
                    jobs: Vec::new(),
                    confirm_window: reset_confirm_window(),
                };
                let r = ctx.run_action(j as i32 + 1, &format!("{}: {tag}", server.action), &action).await;
                let _ = dell.close().await;
                out.push(json!({ "server": tag, "result": r? }));
            }
        }
    }
    ctx.progress(1.0, "done").await?;
    Ok(json!({ "done": out }))
}
