//! The external actions of orchestration jobs, each made resumable for
//! [`JobContext::run_action`](crate::jobs::context::JobContext::run_action): how to issue it,
//! how to follow it, and — for a worker that died between issuing and recording — how to
//! ask the target whether it already happened.
//!
//! Reconciliation is only as good as what the target tells: vCenter tasks are found again
//! through the entity's `recentTask`, Dell jobs through the job queue, and effects through
//! state (in maintenance mode, powered off, version installed). Guest shutdown starts no
//! task anyone can list; for it the window between the call and the recorded marker (one
//! database write) is the only place a crash can repeat it. A plain server reset is never
//! repeated: once its intent is recorded, a resumed worker only reads the power state back
//! and pauses the job for an operator (it cannot know whether the reset went out). Neither
//! is a reset that releases staged Dell jobs: the jobs stay RebootPending until the server is
//! back in POST whether or not it was sent, so a resumed worker watches them for
//! [`reset_confirm_window`] and, if they never move, pauses to ask; the operator's Retry sends it.
use std::time::Duration;

use eio_connectors::idrac::jobs::DellActions;
use eio_connectors::idrac::records::ApplyTime;
use eio_connectors::idrac::records::{DriverKind, JobState, PowerState, ResetKind};
use eio_connectors::idrac::FirmwareUpdate;
use eio_connectors::vcenter::{Session, TaskState, VmPowerState};
use eio_core::jobs::pause::{PausePolicy, StepBlock, WaitedDellJob};
use eio_core::jobs::{Choice, PauseReason, PausedVm};
use serde_json::{json, Value};

use super::targets::{polled_task, HOST_TASK_TIMEOUT};
use crate::jobs::context::{Action, Issued, Polled, Reconciled};

/// vCenter's id for the kind of task, as `TaskInfo.descriptionId` gives it.
const ENTER_MM: &str = "HostSystem.enterMaintenanceMode";
const EXIT_MM: &str = "HostSystem.exitMaintenanceMode";

/// A task of kind `description_id` on the host that has not finished, if any.
async fn task_in_flight(session: &Session, host: &str, description_id: &str) -> Result<Option<String>, String> {
    let state = session.host_state(host).await.map_err(|e| e.to_string())?;
    for task in &state.recent_tasks {
        let Ok(info) = session.task_info(task).await else { continue };
        if info.description_id.as_deref() == Some(description_id) && !info.state.is_finished() {
            return Ok(Some(info.moid));
        }
    }
    Ok(None)
}

/// Whether a maintenance-mode change whose issue was interrupted happened: still running
/// (follow its task), done (the host is in the `wanted` mode), or never sent.
///
/// The task is looked for *before* the state is read. The other order has a gap: the state
/// read sees the change unfinished, the task ends, the task search finds nothing running, and
/// the change is sent a second time (vCenter then refuses it as `InvalidState`).
async fn reconcile_host_task(
    session: &Session,
    host: &str,
    description_id: &str,
    wanted: bool,
) -> Result<Reconciled<Value>, String> {
    if let Some(task) = task_in_flight(session, host, description_id).await? {
        return Ok(Reconciled::InFlight(task));
    }
    let state = session.host_state(host).await.map_err(|e| e.to_string())?;
    Ok(if state.in_maintenance_mode == wanted {
        Reconciled::Done(json!({ "in_maintenance_mode": wanted }))
    } else {
        Reconciled::NotStarted
    })
}

/// Put a host into maintenance mode. While the task runs, the evacuation is watched: when
/// DRS reports VMs it cannot move, the task is cancelled (vCenter would otherwise leave it
/// running until its timeout) and the step reports them, so the job pauses and asks.
pub struct EnterMaintenance<'a> {
    pub session: &'a Session,
    pub host: &'a str,
    pub cluster: Option<&'a str>,
}

impl Action for EnterMaintenance<'_> {
    type Output = Value;
    fn kind(&self) -> &'static str {
        "enter_maintenance_mode"
    }
    fn target(&self) -> Value {
        json!({ "host": self.host })
    }
    fn timeout(&self) -> Duration {
        HOST_TASK_TIMEOUT
    }
    async fn reconcile(&self) -> Result<Reconciled<Value>, String> {
        reconcile_host_task(self.session, self.host, ENTER_MM, true).await
    }
    async fn issue(&self) -> Result<Issued<Value>, String> {
        let task = self.session.enter_maintenance_mode(self.host, None, false).await.map_err(|e| e.to_string())?;
        Ok(Issued::Task(task))
    }
    async fn poll(&self, task: &str) -> Result<Polled<Value>, String> {
        let info = self.session.task_info(task).await.map_err(|e| e.to_string())?;
        if info.state.is_finished() {
            return Ok(polled_task(&info, |i| json!({ "task": i.moid, "in_maintenance_mode": true })));
        }
        if let Some(cluster) = self.cluster {
            let blockers = self.session.evacuation_blockers(cluster, self.host).await.map_err(|e| e.to_string())?;
            if !blockers.is_empty() {
                // Stop vCenter's attempt: the operator decides what happens to these VMs.
                if info.cancelable {
                    self.session.cancel_task(task).await.map_err(|e| e.to_string())?;
                }
                return Ok(Polled::Blocked(StepBlock {
                    blocking_vms: blockers.iter().map(PausedVm::from).collect(),
                    ..StepBlock::default()
                }));
            }
        }
        Ok(polled_task(&info, |_| Value::Null))
    }
}

/// Take a host out of maintenance mode.
pub struct ExitMaintenance<'a> {
    pub session: &'a Session,
    pub host: &'a str,
}

impl Action for ExitMaintenance<'_> {
    type Output = Value;
    fn kind(&self) -> &'static str {
        "exit_maintenance_mode"
    }
    fn target(&self) -> Value {
        json!({ "host": self.host })
    }
    fn timeout(&self) -> Duration {
        HOST_TASK_TIMEOUT
    }
    async fn reconcile(&self) -> Result<Reconciled<Value>, String> {
        reconcile_host_task(self.session, self.host, EXIT_MM, false).await
    }
    async fn issue(&self) -> Result<Issued<Value>, String> {
        Ok(Issued::Task(self.session.exit_maintenance_mode(self.host).await.map_err(|e| e.to_string())?))
    }
    async fn poll(&self, task: &str) -> Result<Polled<Value>, String> {
        let info = self.session.task_info(task).await.map_err(|e| e.to_string())?;
        Ok(polled_task(&info, |i| json!({ "task": i.moid, "in_maintenance_mode": false })))
    }
}

/// What to do to a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmOp {
    /// Guest OS shutdown through VMware Tools, then wait for powered off.
    Shutdown,
    /// Hard power-off.
    PowerOff,
    Suspend,
}

impl VmOp {
    /// What an operator's answer to a blocked evacuation does to the VMs they named.
    pub fn from_choice(choice: Choice) -> Option<VmOp> {
        match choice {
            Choice::Shutdown => Some(VmOp::Shutdown),
            Choice::Suspend => Some(VmOp::Suspend),
            Choice::Cancel | Choice::Retry => None,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            VmOp::Shutdown => "shut down",
            VmOp::PowerOff => "power off",
            VmOp::Suspend => "suspend",
        }
    }
}

/// Shut down, power off or suspend one VM (on `host`, where its state is read).
pub struct VmPower<'a> {
    pub session: &'a Session,
    pub host: &'a str,
    pub vm: &'a str,
    pub op: VmOp,
    pub timeout: Duration,
}

impl VmPower<'_> {
    async fn power_state(&self) -> Result<Option<VmPowerState>, String> {
        let state = self.session.host_state(self.host).await.map_err(|e| e.to_string())?;
        // A VM no longer on the host has left it (moved or unregistered): nothing to do here.
        Ok(state.vms.iter().find(|v| v.moid == self.vm).map(|v| v.power_state.unwrap_or(VmPowerState::PoweredOn)))
    }

    fn reached(&self, power: Option<VmPowerState>) -> bool {
        match (self.op, power) {
            (_, None) => true,
            (VmOp::Suspend, Some(p)) => p == VmPowerState::Suspended,
            (_, Some(p)) => p == VmPowerState::PoweredOff,
        }
    }
}

impl Action for VmPower<'_> {
    type Output = Value;
    fn kind(&self) -> &'static str {
        match self.op {
            VmOp::Shutdown => "shutdown_vm",
            VmOp::PowerOff => "power_off_vm",
            VmOp::Suspend => "suspend_vm",
        }
    }
    fn target(&self) -> Value {
        json!({ "vm": self.vm, "host": self.host })
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    async fn reconcile(&self) -> Result<Reconciled<Value>, String> {
        let power = self.power_state().await?;
        Ok(if self.reached(power) {
            Reconciled::Done(json!({ "vm": self.vm, "power_state": power }))
        } else {
            Reconciled::NotStarted
        })
    }
    async fn issue(&self) -> Result<Issued<Value>, String> {
        let power = self.power_state().await?;
        if self.reached(power) {
            return Ok(Issued::Done(json!({ "vm": self.vm, "power_state": power, "note": "already there" })));
        }
        match self.op {
            VmOp::Shutdown => {
                self.session.shutdown_guest(self.vm).await.map_err(|e| e.to_string())?;
                Ok(Issued::Task(format!("guest-shutdown:{}", self.vm)))
            }
            VmOp::PowerOff => Ok(Issued::Task(self.session.power_off_vm(self.vm).await.map_err(|e| e.to_string())?)),
            VmOp::Suspend => Ok(Issued::Task(self.session.suspend_vm(self.vm).await.map_err(|e| e.to_string())?)),
        }
    }
    async fn poll(&self, task: &str) -> Result<Polled<Value>, String> {
        if !task.starts_with("guest-shutdown:") {
            let info = self.session.task_info(task).await.map_err(|e| e.to_string())?;
            if info.state != TaskState::Success {
                return Ok(polled_task(&info, |_| Value::Null));
            }
        }
        let power = self.power_state().await?;
        Ok(if self.reached(power) {
            Polled::Done(json!({ "vm": self.vm, "power_state": power }))
        } else {
            Polled::Running { percent: None, message: Some(format!("waiting for {} to {}", self.vm, self.op.verb())) }
        })
    }
}

/// Start a Dell firmware update job (staged for the next reset) and follow its `JID_…` until
/// it is staged (Redfish `RebootPending`, WSMan `Downloaded`) or done.
pub struct UpdateFirmware<'a> {
    pub dell: &'a DellActions,
    pub idrac: &'a str,
    pub update: &'a FirmwareUpdate,
    /// The Dell jobs this host's earlier updates (in this job) created: staged ones wait in
    /// the queue for the restart, and are not this update's.
    pub claimed: &'a [String],
}

impl Action for UpdateFirmware<'_> {
    type Output = Value;
    fn kind(&self) -> &'static str {
        "firmware_update"
    }
    fn target(&self) -> Value {
        json!({ "idrac": self.idrac, "component": self.update.component_fqdd, "version": self.update.expected_version })
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(2 * 3600)
    }
    fn unreachable_grace(&self) -> Duration {
        // The iDRAC's own firmware, applied at once: it restarts itself before its job reads
        // as completed.
        if self.update.apply == ApplyTime::Immediate && self.update.component_fqdd.starts_with("iDRAC.") {
            super::firmware::idrac_restart_window()
        } else {
            Duration::ZERO
        }
    }
    async fn reconcile(&self) -> Result<Reconciled<Value>, String> {
        // The queue first, the installed version second (see `reconcile_host_task`): a job that
        // ends between the two reads is then seen as installed, never as not started.
        // The pre-check saw an empty queue before this host's first update: a firmware job in
        // it now that no earlier update of this host claimed is ours.
        let pending = self.dell.pending_jobs().await.map_err(|e| e.to_string())?;
        if let Some(job) = pending
            .into_iter()
            .find(|j| is_firmware_job(j.job_type.as_deref(), j.name.as_deref()) && !self.claimed.contains(&j.id))
        {
            return Ok(Reconciled::InFlight(job.id));
        }
        Ok(if self.dell.verify(self.update).await.map_err(|e| e.to_string())?.is_ok() {
            Reconciled::Done(json!({ "state": "installed" }))
        } else {
            Reconciled::NotStarted
        })
    }
    async fn issue(&self) -> Result<Issued<Value>, String> {
        let started = self.dell.start_firmware_update(self.update).await.map_err(|e| e.to_string())?;
        Ok(Issued::Task(started.job_id))
    }
    async fn poll(&self, job: &str) -> Result<Polled<Value>, String> {
        let status = self.dell.job(job).await.map_err(|e| e.to_string())?;
        let staged = self.dell.is_staged(&status);
        Ok(match status.state {
            _ if staged => Polled::Done(
                json!({ "job_id": status.id, "state": status.state, "staged": true, "message": status.message }),
            ),
            JobState::Completed => {
                Polled::Done(json!({ "job_id": status.id, "state": status.state, "message": status.message }))
            }
            s if s.is_finished() => Polled::Failed(format!(
                "Dell job {} ended {}: {}",
                status.id,
                status.raw_state,
                status.message.unwrap_or_default()
            )),
            _ => Polled::Running { percent: status.percent.map(|p| p.min(100) as u8), message: status.message },
        })
    }
}

fn is_firmware_job(job_type: Option<&str>, name: Option<&str>) -> bool {
    job_type.is_some_and(|t| t.eq_ignore_ascii_case("FirmwareUpdate"))
        || name.is_some_and(|n| n.to_ascii_lowercase().contains("firmware"))
}

/// The task marker of a plain reset this worker sent, and of one a resumed worker may find
/// sent (or not): it is not sent again.
const RESET: &str = "reset:";
const RESUMED_RESET: &str = "reset-unconfirmed:";
/// The task marker of a reset for staged jobs that a resumed worker found still waiting:
/// `reset-check:<idrac>@<unix milliseconds when the check began>` (milliseconds: a Retry
/// taken in the same second, for an earlier pause, must still be told apart).
const CHECK_RESET: &str = "reset-check:";

/// How long a resumed worker watches staged jobs for the reset its predecessor may have
/// sent before it pauses to ask: `EIO_RESET_CONFIRM_SECONDS`, default 15 minutes. An iDRAC
/// keeps the jobs in RebootPending until the server is back in POST, which after a graceful
/// restart (the OS shuts down first) takes minutes.
pub fn reset_confirm_window() -> Duration {
    let secs = std::env::var("EIO_RESET_CONFIRM_SECONDS").ok().and_then(|s| s.parse::<u64>().ok());
    Duration::from_secs(secs.unwrap_or(15 * 60))
}

/// When the check of an unconfirmed staged reset (`task`) began, if `task` is one.
pub fn reset_check_started(task: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let (_, millis) = task.strip_prefix(CHECK_RESET)?.rsplit_once('@')?;
    chrono::DateTime::from_timestamp_millis(millis.parse().ok()?)
}

/// Reset the server so its staged jobs apply, and follow those jobs to their end. Over
/// WSMan the reset is a reboot job scheduled after the update jobs (`SetupJobQueue`).
/// Without jobs it is a plain reset (Redfish `ComputerSystem.Reset`, WSMan
/// `RequestPowerStateChange`), followed until the server reports the power state the reset
/// leaves.
pub struct ResetServer<'a> {
    pub dell: &'a DellActions,
    pub idrac: &'a str,
    pub kind: ResetKind,
    /// The Dell jobs that wait for this reset (none: a plain reset, done once accepted).
    pub jobs: Vec<String>,
    /// How long a resumed worker watches the jobs for an unconfirmed reset before it asks
    /// ([`reset_confirm_window`]).
    pub confirm_window: Duration,
}

impl ResetServer<'_> {
    /// Jobs still waiting for a reboot, and how the others ended.
    async fn look(&self) -> Result<(usize, Vec<WaitedDellJob>, Vec<String>), String> {
        let (mut waiting, mut states, mut failed) = (0, Vec::new(), Vec::new());
        for id in &self.jobs {
            let s = self.dell.job(id).await.map_err(|e| e.to_string())?;
            if self.dell.awaits_reset(&s) {
                waiting += 1;
            } else if s.state.is_finished() && !s.state.is_success() {
                failed.push(format!("Dell job {id} ended {}: {}", s.raw_state, s.message.clone().unwrap_or_default()));
            }
            states.push(WaitedDellJob {
                job_id: id.clone(),
                state: word(s.state).unwrap_or_else(|| s.raw_state.clone()),
                finished: s.state.is_finished(),
            });
        }
        Ok((waiting, states, failed))
    }
}

impl Action for ResetServer<'_> {
    type Output = Value;
    fn kind(&self) -> &'static str {
        "server_reset"
    }
    fn target(&self) -> Value {
        json!({ "idrac": self.idrac, "reset": format!("{:?}", self.kind), "jobs": self.jobs })
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(2 * 3600)
    }
    async fn reconcile(&self) -> Result<Reconciled<Value>, String> {
        if self.jobs.is_empty() {
            // The intent was recorded and the worker stopped: the reset may have been sent.
            // Never send it again; read the power state back instead.
            return Ok(Reconciled::InFlight(format!("{RESUMED_RESET}{}", self.idrac)));
        }
        let (waiting, _, _) = self.look().await?;
        if waiting == 0 {
            // Jobs that left RebootPending were released by a reset: follow them.
            return Ok(Reconciled::InFlight(format!("{RESET}{}", self.idrac)));
        }
        if self.dell.driver_kind() == DriverKind::Wsman {
            // Over WSMan the reset is a reboot job, which `apply_staged` finds again before
            // it creates one: issuing again is safe.
            return Ok(Reconciled::NotStarted);
        }
        // A reset that was sent leaves the jobs in RebootPending until the server restarts,
        // so "still waiting" does not mean "never sent". It is not sent again: the jobs are
        // watched for a while, and if they never move the job pauses to ask.
        Ok(Reconciled::InFlight(format!("{CHECK_RESET}{}@{}", self.idrac, chrono::Utc::now().timestamp_millis())))
    }
    async fn issue(&self) -> Result<Issued<Value>, String> {
        if self.jobs.is_empty() {
            self.dell.reset(self.kind).await.map_err(|e| e.to_string())?;
            return Ok(Issued::Task(format!("{RESET}{}", self.idrac)));
        }
        if self.dell.driver_kind() == DriverKind::Redfish && self.look().await?.0 == 0 {
            // Already released (an operator restarted the server before choosing Retry):
            // follow the jobs instead of restarting it again.
            return Ok(Issued::Task(format!("{RESET}{}", self.idrac)));
        }
        // Over WSMan the reset is a reboot job (`RID_…`): its id is what gets recorded.
        let reboot_job = self.dell.apply_staged(&self.jobs, self.kind).await.map_err(|e| e.to_string())?;
        Ok(Issued::Task(reboot_job.unwrap_or_else(|| format!("{RESET}{}", self.idrac))))
    }
    async fn poll(&self, task: &str) -> Result<Polled<Value>, String> {
        if self.jobs.is_empty() {
            let power = self.dell.power_state().await.map_err(|e| e.to_string())?;
            if task.starts_with(RESUMED_RESET) {
                // Whether the reset went out is unknowable (no task to find, and the power
                // state is the same either way): never send it twice, never claim it
                // happened — pause and ask.
                return Ok(Polled::Blocked(StepBlock {
                    reason: Some("reset_unconfirmed".into()),
                    message: Some(format!(
                        "the worker running this reset stopped after deciding to reset {} and before recording \
                         the call, so it may or may not have been sent; it is not sent again. The server is \
                         {power:?}: check whether it restarted, then cancel this job (and submit a new reset \
                         if it did not)",
                        self.idrac
                    )),
                    idrac: Some(self.idrac.to_string()),
                    power_state: word(power),
                    ..StepBlock::default()
                }));
            }
            let leaves = match self.kind {
                ResetKind::ForceOff | ResetKind::GracefulShutdown => PowerState::Off,
                _ => PowerState::On,
            };
            return Ok(if power == leaves {
                Polled::Done(json!({
                    "reset": format!("{:?}", self.kind),
                    "driver": self.dell.driver_kind(),
                    "power_state": power,
                }))
            } else {
                Polled::Running { percent: None, message: Some(format!("the server is {power:?}")) }
            });
        }
        let (waiting, states, failed) = self.look().await?;
        if let Some(f) = failed.into_iter().next() {
            return Ok(Polled::Failed(f));
        }
        if let (Some(since), true) = (reset_check_started(task), waiting > 0) {
            let waited = (chrono::Utc::now() - since).to_std().unwrap_or_default();
            if waited < self.confirm_window {
                return Ok(Polled::Running {
                    percent: None,
                    message: Some("a worker stopped around restarting the server: watching whether it restarts".into()),
                });
            }
            return Ok(Polled::Blocked(StepBlock {
                reason: Some("reset_unconfirmed".into()),
                idrac: Some(self.idrac.to_string()),
                message: Some(format!(
                    "the worker restarting {} to apply the update stopped around sending the restart, and the \
                     update jobs still wait for it {} min later, so it was most likely not sent. It is not sent \
                     again unasked: check the server, then choose Retry to send the restart now, or Cancel",
                    self.idrac,
                    waited.as_secs() / 60
                )),
                jobs: states.clone(),
                choices: vec![Choice::Retry, Choice::Cancel],
                ..StepBlock::default()
            }));
        }
        let done = states.iter().all(|s| s.finished);
        Ok(if waiting == 0 && done {
            Polled::Done(json!({ "jobs": states }))
        } else {
            Polled::Running { percent: None, message: Some("the server restarts and applies the update".into()) }
        })
    }
}

/// Wait (no action) until vCenter sees the host connected and powered on again.
pub struct AwaitHost<'a> {
    pub session: &'a Session,
    pub host: &'a str,
}

impl Action for AwaitHost<'_> {
    type Output = Value;
    fn kind(&self) -> &'static str {
        "await_host"
    }
    fn target(&self) -> Value {
        json!({ "host": self.host })
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(3600)
    }
    async fn reconcile(&self) -> Result<Reconciled<Value>, String> {
        Ok(Reconciled::InFlight(format!("await:{}", self.host)))
    }
    async fn issue(&self) -> Result<Issued<Value>, String> {
        Ok(Issued::Task(format!("await:{}", self.host)))
    }
    async fn poll(&self, _: &str) -> Result<Polled<Value>, String> {
        let state = self.session.host_state(self.host).await.map_err(|e| e.to_string())?;
        Ok(if state.is_up() {
            Polled::Done(json!({ "boot_time": state.boot_time, "connection_state": state.connection_state }))
        } else {
            Polled::Running { percent: None, message: Some(format!("waiting for {} to reconnect", state.name)) }
        })
    }
}

/// A value's own name, as serde spells it (`PowerState::On` → "on").
fn word<T: serde::Serialize>(v: T) -> Option<String> {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned))
}

/// The blockers as a pause reason: what `decide_job` checks a decision against.
pub fn blocked_pause(
    host: &str,
    host_name: &str,
    blockers: &[PausedVm],
    policy: &eio_core::jobs::Policy,
) -> PauseReason {
    let mut vms: Vec<&str> = blockers.iter().map(|b| b.vm_name.as_str()).collect();
    vms.dedup();
    let mut choices = vec![Choice::Cancel, Choice::Retry, Choice::Suspend];
    if policy.allow_vm_shutdown {
        choices.push(Choice::Shutdown);
    }
    PauseReason::BlockedEvacuation {
        host: host_name.into(),
        host_moid: host.into(),
        message: format!(
            "{host_name} cannot enter maintenance mode: {} VM(s) can't be moved ({}). Choose: cancel, retry{}, or suspend \
             selected VMs",
            vms.len(),
            vms.join(", "),
            if policy.allow_vm_shutdown { ", shut down selected VMs" } else { "" }
        ),
        blocking_vms: blockers.to_vec(),
        choices,
        policy: PausePolicy {
            allow_vm_shutdown: policy.allow_vm_shutdown,
            vm_limit: policy.vm_limit,
            shutdown_timeout_seconds: policy.shutdown_timeout_seconds,
        },
    }
}

#[cfg(test)]
mod tests {
    use eio_connectors::http::TlsPolicy;
    use eio_connectors::idrac::records::{ApplyTime, Generation};
    use eio_connectors::idrac::{FirmwareImage, ImageSource};
    use eio_connectors::vcenter::VcenterConfig;
    use eio_connectors::Credentials;
    use eio_lab::dell::{lab_image, DellLab};
    use eio_lab::vcenter::{LabModel, LabVcenter};

    use super::*;

    const HOST: &str = "host-1000";

    async fn lab() -> (LabVcenter, Session) {
        let lab = LabVcenter::start(LabModel::one_cluster(2, 3)).await.unwrap();
        let mut cfg =
            VcenterConfig::new(lab.sdk_url.parse().unwrap(), Credentials::new(lab.username(), lab.password()));
        cfg.http.tls = TlsPolicy::Pinned(lab.thumbprint);
        let session = Session::login(&cfg).await.unwrap();
        (lab, session)
    }

    /// A worker issued the change and died before recording its task; the next one
    /// reconciles while the task runs on. Whatever moment the task ends at — before, between
    /// or after reconcile's reads (the lab moves one step per read) — the answer is never
    /// "not started", which would send the change a second time.
    #[tokio::test]
    async fn an_interrupted_maintenance_change_is_never_found_not_started() {
        for exit in [false, true] {
            // The evacuation of three VMs takes four steps; leaving takes one.
            for already in 0..6 {
                let (lab, session) = lab().await;
                if exit {
                    let t = session.enter_maintenance_mode(HOST, None, false).await.unwrap();
                    session.wait_for_task(&t, Duration::from_secs(60)).await.unwrap();
                    lab.set_task_steps("ExitMaintenanceMode_Task", 3);
                }
                let task = if exit {
                    session.exit_maintenance_mode(HOST).await.unwrap()
                } else {
                    session.enter_maintenance_mode(HOST, None, false).await.unwrap()
                };
                lab.advance(already);
                let r = if exit {
                    ExitMaintenance { session: &session, host: HOST }.reconcile().await
                } else {
                    EnterMaintenance { session: &session, host: HOST, cluster: Some("domain-c100") }.reconcile().await
                };
                let in_mm = lab.host(HOST).unwrap().in_maintenance_mode;
                match r.unwrap() {
                    Reconciled::InFlight(t) => assert_eq!(t, task),
                    Reconciled::Done(v) => {
                        assert_eq!(v["in_maintenance_mode"], !exit);
                        assert_eq!(in_mm, !exit);
                    }
                    Reconciled::NotStarted => {
                        panic!(
                            "{task} ({}) after {already} ticks: found not started",
                            if exit { "exit" } else { "enter" }
                        )
                    }
                }
                let method = if exit { "ExitMaintenanceMode_Task" } else { "EnterMaintenanceMode_Task" };
                assert_eq!(lab.action_count(method, HOST), 1);
            }
        }
    }

    const BIOS: &str = "BIOS.Setup.1-1";

    /// A BIOS update staged on the lab iDRAC (RebootPending): its job id and the update.
    async fn staged(dell: &DellActions) -> (String, FirmwareUpdate) {
        let update = FirmwareUpdate {
            component_fqdd: BIOS.into(),
            expected_version: "2.99.1".into(),
            image: ImageSource::Push(FirmwareImage {
                file_name: "BIOS_2.99.1.EXE".into(),
                bytes: lab_image(BIOS, "2.99.1", 64 * 1024).into(),
            }),
            apply: ApplyTime::OnReset,
        };
        let jid = dell.start_firmware_update(&update).await.unwrap().job_id;
        for _ in 0..20 {
            if dell.job(&jid).await.unwrap().state == JobState::RebootPending {
                return (jid, update);
            }
        }
        panic!("{jid} never reached RebootPending");
    }

    async fn dell_lab() -> (DellLab, DellActions) {
        let lab = DellLab::builder().bmcs(1).generation(Generation::Idrac9).build().await.unwrap();
        let dell = DellActions::connect(&lab.endpoint(0)).await.unwrap();
        (lab, dell)
    }

    /// The worker sent the reset and died before recording it. The iDRAC still shows the jobs
    /// in RebootPending at the next look (a real one does until the server is back in POST):
    /// the resumed worker must follow them, not reset the server a second time.
    #[tokio::test]
    async fn a_staged_reset_a_dead_worker_sent_is_followed_not_sent_again() {
        let (lab, dell) = dell_lab().await;
        let (jid, update) = staged(&dell).await;
        dell.apply_staged(std::slice::from_ref(&jid), ResetKind::GracefulRestart).await.unwrap();
        let reset = ResetServer {
            dell: &dell,
            idrac: "bmc-0",
            kind: ResetKind::GracefulRestart,
            jobs: vec![jid],
            confirm_window: Duration::from_secs(3600),
        };
        let task = match reset.reconcile().await.unwrap() {
            Reconciled::InFlight(task) => task,
            other => panic!("a reset that went out was found {other:?}"),
        };
        let mut end = None;
        for _ in 0..20 {
            match reset.poll(&task).await.unwrap() {
                Polled::Running { .. } => {}
                other => {
                    end = Some(other);
                    break;
                }
            }
        }
        assert!(matches!(end, Some(Polled::Done(_))), "{end:?}");
        assert_eq!(lab.bmc(0).action_count("ComputerSystem.Reset"), 1);
        assert!(dell.verify(&update).await.unwrap().is_ok());
    }

    /// The worker recorded its intent and died before sending: the jobs never move. The
    /// resumed worker watches them for the confirmation window, then asks; it sends nothing.
    #[tokio::test]
    async fn a_staged_reset_never_sent_is_asked_about_not_sent_blindly() {
        let (lab, dell) = dell_lab().await;
        let (jid, _) = staged(&dell).await;
        let mut reset = ResetServer {
            dell: &dell,
            idrac: "bmc-0",
            kind: ResetKind::GracefulRestart,
            jobs: vec![jid],
            confirm_window: Duration::from_secs(3600),
        };
        let Reconciled::InFlight(task) = reset.reconcile().await.unwrap() else { panic!("not followed") };
        assert!(reset_check_started(&task).is_some(), "{task}");
        for _ in 0..5 {
            assert!(matches!(reset.poll(&task).await.unwrap(), Polled::Running { .. }));
        }
        reset.confirm_window = Duration::ZERO;
        match reset.poll(&task).await.unwrap() {
            Polled::Blocked(why) => {
                assert_eq!(why.reason.as_deref(), Some("reset_unconfirmed"), "{why:?}");
                assert_eq!(why.choices, [Choice::Retry, Choice::Cancel], "{why:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(lab.bmc(0).action_count("ComputerSystem.Reset"), 0);

        // The operator restarted the server by hand, then chose Retry: the jobs left
        // RebootPending, so the retried issue follows them instead of restarting again.
        dell.reset(ResetKind::GracefulRestart).await.unwrap();
        let jid = reset.jobs[0].clone();
        assert_eq!(dell.job(&jid).await.unwrap().state, JobState::RebootPending, "seen before it moves");
        match reset.issue().await.unwrap() {
            Issued::Task(task) => assert_eq!(task, "reset:bmc-0"),
            Issued::Done(v) => panic!("{v}"),
        }
        assert_eq!(lab.bmc(0).action_count("ComputerSystem.Reset"), 1, "only the operator's");
    }
}
