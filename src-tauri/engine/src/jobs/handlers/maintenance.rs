//! `maintenance_mode` jobs, and the maintenance-mode gate firmware updates go through.
//!
//! The gate, per host: read the blockers first (what DRS reports and what the configuration
//! of each running VM says will stop it) and pause with them — listing the VMs and reasons —
//! before asking vCenter for anything. Only an empty list issues EnterMaintenanceMode; if
//! DRS discovers a blocker while evacuating, the task is cancelled and the job pauses the
//! same way. The operator's answer (`decide_job`: cancel, retry, shut down or suspend chosen
//! VMs — shutdown only where the policy allows, within vm_limit, each VM given
//! shutdown_timeout_seconds) is applied exactly once, on the host it was given for, and the
//! gate runs again.
//!
//! Step numbers: host *i* (from 1) owns seqs `i*10000 ..`: enter attempts at `+0..+99`, the
//! VM actions of its *d*-th decision at `+100 + d*100 + j`, the firmware steps at `+5000..`,
//! exit at `+9000`. Deterministic numbers are what let a resumed worker find its steps.
use std::collections::HashMap;
use std::time::Duration;

use eio_connectors::vcenter::{BlockingVm, HostState, Session};
use eio_core::jobs::plan::PredictedBlocker;
use eio_core::jobs::{JobSpec, MaintenanceTarget, PauseReason, PausedVm, Plan, Policy};
use serde_json::{json, Value};

use super::actions::{blocked_pause, EnterMaintenance, ExitMaintenance, VmOp, VmPower};
use super::targets::{self, HostTarget};
use crate::jobs::context::{JobContext, JobError, StoredDecision};
use crate::sync::Syncer;

pub const HOST_STRIDE: i32 = 10_000;
pub const EXIT_OFFSET: i32 = 9_000;

/// The plan this run follows: the approved one once anything was done, else today's
/// (checked against the approved one for drift). A stored plan is used only if its own
/// hosts, VMs and firmware give the approved hash: the submitter wrote the plan, and its
/// material part alone was what the approver and the database's scope saw.
pub async fn plan(ctx: &JobContext, spec: &JobSpec) -> Result<Plan, JobError> {
    let started: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM job_steps WHERE job_id = $1)")
        .bind(ctx.job.id)
        .fetch_one(ctx.db.pool())
        .await?;
    match (&ctx.job.plan, started) {
        (Some(p), true) => {
            let plan: Plan = serde_json::from_value(p.clone())
                .map_err(|e| JobError::Failed(format!("the approved plan is unreadable: {e}")))?;
            let hash = eio_core::jobs::material_hash(&ctx.db, &plan).await?;
            let before_0050 = eio_core::jobs::hash_of(&ctx.db, &plan.material_before_vcenters()).await?;
            let approved = ctx.job.plan_hash.as_deref();
            if approved != Some(hash.as_str()) && approved != Some(before_0050.as_str()) {
                return Err(JobError::Failed(
                    "the stored plan's hosts, VMs or firmware differ from the part that was approved: refusing to resume it"
                        .into(),
                ));
            }
            Ok(plan)
        }
        _ => super::check_drift(ctx, spec).await,
    }
}

/// vCenter sessions by source name, opened when first needed.
#[derive(Default)]
pub struct Sessions(HashMap<String, Session>);

impl Sessions {
    pub async fn get(&mut self, ctx: &JobContext, syncer: &Syncer, host: &HostTarget) -> Result<&Session, JobError> {
        if !self.0.contains_key(&host.vcenter.name) {
            let s = targets::vcenter_session(ctx, syncer, &host.vcenter).await?;
            self.0.insert(host.vcenter.name.clone(), s);
        }
        Ok(&self.0[&host.vcenter.name])
    }

    pub async fn close(self) {
        for (_, s) in self.0 {
            let _ = s.logout().await;
        }
    }
}

pub async fn run(ctx: &JobContext, syncer: &Syncer, t: &MaintenanceTarget) -> Result<Value, JobError> {
    let spec = JobSpec::MaintenanceMode(t.clone());
    let plan = plan(ctx, &spec).await?;
    let policy = super::policy(ctx)?;
    let approved = approved_blockers(ctx, &plan);
    let mut sessions = Sessions::default();
    let result = async {
        let mut done = Vec::new();
        let n = plan.hosts.len().max(1);
        for (i, planned) in plan.hosts.iter().enumerate() {
            let base = (i as i32 + 1) * HOST_STRIDE;
            let verb = if t.exit { "leaving" } else { "entering" };
            ctx.progress(i as f32 / n as f32, format!("{}: {verb} maintenance mode", planned.name)).await?;
            let host = targets::host(ctx, &planned.moid, planned.vcenter.as_deref()).await?;
            let session = sessions.get(ctx, syncer, &host).await?;
            let out = if t.exit {
                exit(ctx, session, &host, base + EXIT_OFFSET).await?
            } else {
                enter(ctx, session, &host, &policy, base, &approved).await?
            };
            done.push(json!({ "host": host.name, "result": out }));
        }
        ctx.progress(1.0, "done").await?;
        Ok(json!({ "hosts": done }))
    }
    .await;
    sessions.close().await;
    result
}

/// Put `host` into maintenance mode through the gate. `predicted` are the approved plan's
/// predicted blockers: what the gate finds live is recorded against them.
pub async fn enter(
    ctx: &JobContext,
    session: &Session,
    host: &HostTarget,
    policy: &Policy,
    base: i32,
    predicted: &[PredictedBlocker],
) -> Result<Value, JobError> {
    let action = EnterMaintenance { session, host: &host.moid, cluster: host.cluster_moid.as_deref() };
    let name = format!("enter maintenance mode: {}", host.name);
    let attempts = ctx.steps_between(base, base + 100).await?;
    let mut next = base;
    if let Some(last) = attempts.last() {
        match last.status.as_str() {
            "succeeded" | "skipped" => return Ok(last.result.clone().unwrap_or_default()),
            "failed" | "cancelled" => next = last.seq + 1,
            _ => {
                // In flight (or cancelled by this gate when the evacuation blocked).
                let cancelled = match &last.external_task_id {
                    Some(task) => {
                        ctx.guard().await?;
                        session.task_info(task).await.is_ok_and(|i| i.cancelled && i.state.is_finished())
                    }
                    None => false,
                };
                if !cancelled {
                    return gate(host, policy, ctx.run_action(last.seq, &name, &action).await);
                }
                ctx.set_step(last, "cancelled", None, Some("the evacuation was blocked; cancelled to ask")).await?;
                next = last.seq + 1;
            }
        }
    }
    if next >= base + 100 {
        return Err(JobError::Failed(format!("{}: 100 attempts to enter maintenance mode; giving up", host.name)));
    }
    let state = targets::host_state(ctx, session, &host.moid).await?;
    if state.in_maintenance_mode {
        // Remembered as a skipped step: whoever resumes the job knows the host was found in
        // maintenance mode (and a firmware job leaves it there, as it found it).
        let out = json!({ "in_maintenance_mode": true, "already": true });
        let step = ctx.step(next, &name, "enter_maintenance_mode", json!({ "host": host.moid })).await?;
        ctx.set_step(&step, "skipped", Some(out.clone()), None).await?;
        ctx.event("info", format!("{} is already in maintenance mode", host.name), json!({ "host": host.moid }))
            .await?;
        return Ok(out);
    }
    apply_decision(ctx, session, host, policy, base, &state).await?;
    let blockers = match &host.cluster_moid {
        Some(cluster) => {
            ctx.guard().await?;
            session
                .evacuation_blockers(cluster, &host.moid)
                .await
                .map_err(|e| JobError::Failed(format!("reading why {} could not be evacuated: {e}", host.name)))?
        }
        None => Vec::new(),
    };
    if host.cluster_moid.is_some() {
        record_agreement(ctx, host, predicted, &blockers).await?;
    }
    if !blockers.is_empty() {
        let blockers: Vec<PausedVm> = blockers.iter().map(PausedVm::from).collect();
        return Err(JobError::pause(blocked_pause(&host.moid, &host.name, &blockers, policy)));
    }
    gate(host, policy, ctx.run_action(next, &name, &action).await)
}

/// The blockers the approver acknowledged: the approved plan's (the job's stored plan),
/// else — for a job that needed no approval — those of the plan it runs.
pub fn approved_blockers(ctx: &JobContext, plan: &Plan) -> Vec<PredictedBlocker> {
    super::stored_blockers(ctx).unwrap_or_else(|| plan.blockers.clone())
}

/// Record, the first time the gate reads a host, what it found live against what the
/// approved plan predicted there, as a `gate_check` event (the job report counts them): a
/// VM blocker found but not predicted is a miss the prediction should learn; one predicted
/// but not found was resolved meanwhile (or wrongly predicted). The cluster's capacity is
/// compared apart (predicted for the host, found by DRS per VM).
async fn record_agreement(
    ctx: &JobContext,
    host: &HostTarget,
    predicted: &[PredictedBlocker],
    found: &[BlockingVm],
) -> Result<(), JobError> {
    use eio_connectors::vcenter::BlockReason;
    use std::collections::BTreeSet;
    let recorded: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM job_events WHERE job_id = $1 AND data ->> 'kind' = 'gate_check'
                        AND data ->> 'host' = $2 AND data ->> 'vcenter' = $3)",
    )
    .bind(ctx.job.id)
    .bind(&host.moid)
    .bind(&host.vcenter.name)
    .fetch_one(ctx.db.pool())
    .await?;
    if recorded {
        return Ok(());
    }
    let capacity = BlockReason::InsufficientResources.code();
    let here: Vec<&PredictedBlocker> = predicted
        .iter()
        .filter(|b| b.host_moid == host.moid && b.vcenter.as_ref().is_none_or(|v| *v == host.vcenter.name))
        .collect();
    let expected: BTreeSet<(String, String)> = here
        .iter()
        .filter(|b| b.reason_code != capacity)
        .filter_map(|b| Some((b.vm_moid.clone()?, b.reason_code.clone())))
        .collect();
    let live: BTreeSet<(String, String)> = found
        .iter()
        .filter(|b| b.reason_code != BlockReason::InsufficientResources)
        .map(|b| (b.vm_moid.clone(), b.reason_code.code().to_owned()))
        .collect();
    let capacity_predicted = here.iter().any(|b| b.reason_code == capacity);
    let capacity_found = found.iter().any(|b| b.reason_code == BlockReason::InsufficientResources);
    let missed: Vec<&(String, String)> = live.difference(&expected).collect();
    let unexpected: Vec<&(String, String)> = expected.difference(&live).collect();
    let agreed = missed.is_empty() && unexpected.is_empty() && capacity_predicted == capacity_found;
    let message = if agreed {
        format!("{}: the gate found what the plan predicted ({} blocker(s))", host.name, live.len())
    } else {
        format!(
            "{}: the gate found {} blocker(s) the plan did not predict and not {} it did{}",
            host.name,
            missed.len(),
            unexpected.len(),
            match (capacity_predicted, capacity_found) {
                (true, false) => "; the predicted capacity shortfall did not stop DRS",
                (false, true) => "; DRS found no room the plan did not foresee",
                _ => "",
            }
        )
    };
    let pairs = |s: &[&(String, String)]| s.iter().map(|(vm, code)| json!([vm, code])).collect::<Vec<_>>();
    ctx.event(
        if agreed { "info" } else { "warning" },
        message,
        json!({
            "kind": "gate_check",
            "host": host.moid,
            "vcenter": host.vcenter.name,
            "predicted": expected.len(),
            "found": live.len(),
            "agreed": agreed,
            "missed": pairs(&missed),
            "unexpected": pairs(&unexpected),
            "capacity_predicted": capacity_predicted,
            "capacity_found": capacity_found,
        }),
    )
    .await
}

/// A block found while the task ran becomes the same pause as one found before it.
fn gate(host: &HostTarget, policy: &Policy, r: Result<Value, JobError>) -> Result<Value, JobError> {
    match r {
        Err(JobError::Pause(p)) => match *p {
            PauseReason::Blocked { details, .. } => {
                Err(JobError::pause(blocked_pause(&host.moid, &host.name, &details.blocking_vms, policy)))
            }
            other => Err(JobError::pause(other)),
        },
        other => other,
    }
}

/// Apply the operator's answer to the last pause, once.
async fn apply_decision(
    ctx: &JobContext,
    session: &Session,
    host: &HostTarget,
    policy: &Policy,
    base: i32,
    state: &HostState,
) -> Result<(), JobError> {
    let Some(StoredDecision { decision, at }) = ctx.decision()? else { return Ok(()) };
    #[derive(sqlx::FromRow)]
    struct Applied {
        applied: i64,
        on_host: i64,
    }
    let applied: Applied = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE data ->> 'decision_at' = $2) AS applied,
                count(*) FILTER (WHERE data ->> 'host' = $3) AS on_host
         FROM job_events WHERE job_id = $1 AND data ->> 'kind' = 'decision_applied'",
    )
    .bind(ctx.job.id)
    .bind(at)
    .bind(&host.moid)
    .fetch_one(ctx.db.pool())
    .await?;
    if applied.applied > 0 {
        return Ok(());
    }
    let index = applied.on_host as i32;
    let choice = decision.choice.as_str();
    let vms = &decision.vms;
    if let Some(op) = VmOp::from_choice(decision.choice) {
        // Re-checked here, not only when the decision was taken.
        if op == VmOp::Shutdown && !policy.allow_vm_shutdown {
            return Err(JobError::Failed("the policy does not allow shutting VMs down (allow_vm_shutdown)".into()));
        }
        if vms.len() > policy.vm_limit.max(0) as usize || vms.len() > 99 {
            return Err(JobError::Failed(format!(
                "{} VMs chosen, more than the policy's vm_limit of {}",
                vms.len(),
                policy.vm_limit
            )));
        }
        let outside = eio_core::jobs::plan::vms_outside_filters(&ctx.db, policy, vms).await?;
        if !outside.is_empty() {
            return Err(JobError::Failed(format!(
                "the policy's tag/folder filters keep the job off {}",
                outside.join(", ")
            )));
        }
        let timeout = Duration::from_secs(policy.shutdown_timeout_seconds.max(1) as u64);
        for (j, vm) in vms.iter().enumerate() {
            if !state.vms.iter().any(|v| &v.moid == vm) {
                ctx.event("warning", format!("{vm} is no longer on {}: left alone", host.name), json!({ "vm": vm }))
                    .await?;
                continue;
            }
            let seq = base + 100 + index * 100 + j as i32;
            let action = VmPower { session, host: &host.moid, vm, op, timeout };
            ctx.run_action(seq, &format!("{choice} {vm} (blocking {})", host.name), &action).await?;
        }
    }
    ctx.event(
        "info",
        format!("applied the decision to {choice} on {}", host.name),
        json!({ "kind": "decision_applied", "decision_at": at, "host": host.moid, "choice": choice, "vms": vms }),
    )
    .await
}

/// Take `host` out of maintenance mode (step `seq`).
pub async fn exit(ctx: &JobContext, session: &Session, host: &HostTarget, seq: i32) -> Result<Value, JobError> {
    let action = ExitMaintenance { session, host: &host.moid };
    ctx.run_action(seq, &format!("exit maintenance mode: {}", host.name), &action).await
}
