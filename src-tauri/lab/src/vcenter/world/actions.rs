//! The state-changing SOAP methods (maintenance mode, reboot, guest shutdown, power,
//! vMotion, CancelTask): each is checked as vCenter checks it, refused with vSphere's fault or
//! turned into a task, and written to the ledger either way; injected failures are taken here.
use std::time::{Duration, Instant, SystemTime};

use eio_connectors::vcenter::xml::Node;

use super::faults::block_type;
use super::{moref_of, refuse, Comeback, Effect, LabAction, LabTaskState, Refusal, Work, World};

impl World {
    /// A state-changing call: the task it started (if it is a task method), or the fault
    /// that refuses it. Every call lands in the ledger.
    pub(crate) fn act(&mut self, method: &str, call: &Node) -> Result<Option<String>, Refusal> {
        let target = moref_of(call.child("_this")).unwrap_or_default();
        let result = self.dispatch(method, &target, call);
        self.ledger.push(LabAction {
            seq: self.ledger.len() as u64 + 1,
            method: method.to_owned(),
            target,
            task: result.as_ref().ok().cloned().flatten(),
            refused: result.as_ref().err().map(|e| e.0.clone()),
            at: SystemTime::now(),
        });
        result
    }

    pub(super) fn take_failure(&mut self, method: &str, target: &str, on_call: bool) -> Option<Refusal> {
        let i = self.failures.iter().position(|f| {
            f.method == method && f.on_call == on_call && f.target.as_deref().is_none_or(|t| t == target)
        })?;
        let f = &mut self.failures[i];
        let out = (f.fault_type.clone(), f.message.clone());
        let exhausted = match &mut f.times {
            Some(n) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            None => false,
        };
        if exhausted {
            self.failures.remove(i);
        }
        Some(out)
    }

    pub(super) fn dispatch(&mut self, method: &str, target: &str, call: &Node) -> Result<Option<String>, Refusal> {
        if let Some(f) = self.take_failure(method, target, true) {
            return Err(f);
        }
        let not_found = || {
            refuse("ManagedObjectNotFound", "The object has already been deleted or has not been completely created")
        };
        match method {
            "EnterMaintenanceMode_Task" => {
                let h = self.hosts.get(target).ok_or_else(not_found)?;
                if h.connection != "connected" {
                    return Err(refuse("InvalidState", "The host is not connected."));
                }
                if h.in_mm {
                    return Err(refuse("InvalidState", "The operation is not allowed in the current state."));
                }
                if h.entering.is_some() {
                    return Err(refuse("TaskInProgress", "The host is already entering maintenance mode."));
                }
                let all = call.text_of("evacuatePoweredOffVms").map(str::trim) == Some("true");
                let timeout = call.text_of("timeout").and_then(|t| t.trim().parse::<i64>().ok()).unwrap_or(0);
                if let Some(h) = self.hosts.get_mut(target) {
                    h.entering = Some(all);
                }
                let total = self.needing_move(target).len();
                let fail = self.take_failure(method, target, false);
                let work = Work::Evacuate { host: target.to_owned(), total, moved: 0, fail };
                let task = self.new_task(method, "HostSystem.enterMaintenanceMode", "HostSystem", target, work);
                if timeout > 0 {
                    if let Some(t) = self.task_mut(&task) {
                        t.deadline = Some(Instant::now() + Duration::from_secs(timeout as u64));
                    }
                }
                self.render_host(target);
                Ok(Some(task))
            }
            "ExitMaintenanceMode_Task" => {
                let h = self.hosts.get(target).ok_or_else(not_found)?;
                if !h.in_mm {
                    return Err(refuse("InvalidState", "The operation is not allowed in the current state."));
                }
                Ok(Some(self.steps_task(
                    method,
                    "HostSystem.exitMaintenanceMode",
                    "HostSystem",
                    target,
                    Effect::ExitMaintenance(target.into()),
                )))
            }
            "RebootHost_Task" => {
                let h = self.hosts.get(target).ok_or_else(not_found)?;
                let force = call.text_of("force").map(str::trim) == Some("true");
                if h.connection != "connected" {
                    return Err(refuse("InvalidState", "The host is not connected."));
                }
                if !h.in_mm && !force {
                    return Err(refuse(
                        "InvalidState",
                        "The operation is not allowed in the current state: the host is not in maintenance mode.",
                    ));
                }
                Ok(Some(self.steps_task(
                    method,
                    "HostSystem.reboot",
                    "HostSystem",
                    target,
                    Effect::Reboot(target.into()),
                )))
            }
            "ShutdownGuest" => {
                let v = self.vms.get(target).ok_or_else(not_found)?;
                if v.power != "poweredOn" {
                    return Err(refuse(
                        "InvalidPowerState",
                        &format!("The attempted operation cannot be performed in the current state ({}).", v.power),
                    ));
                }
                if !v.tools {
                    return Err(refuse(
                        "ToolsUnavailable",
                        "Cannot complete operation because VMware Tools is not running in this virtual machine.",
                    ));
                }
                let (hung, delay) = (v.hung, self.guest_shutdown);
                if !hung {
                    if let Some(v) = self.vms.get_mut(target) {
                        v.shutdown = Some(Comeback::new(delay));
                    }
                }
                Ok(None)
            }
            "PowerOffVM_Task" | "PowerOnVM_Task" | "SuspendVM_Task" => {
                let v = self.vms.get(target).ok_or_else(not_found)?;
                let (want, id): (&'static str, &str) = match method {
                    "PowerOffVM_Task" => ("poweredOff", "VirtualMachine.powerOff"),
                    "PowerOnVM_Task" => ("poweredOn", "VirtualMachine.powerOn"),
                    _ => ("suspended", "VirtualMachine.suspend"),
                };
                let allowed = match want {
                    "poweredOff" => v.power != "poweredOff",
                    "poweredOn" => v.power != "poweredOn",
                    _ => v.power == "poweredOn",
                };
                if !allowed {
                    return Err(refuse(
                        "InvalidPowerState",
                        &format!("The attempted operation cannot be performed in the current state ({}).", v.power),
                    ));
                }
                if want == "poweredOn" && !self.usable_target(&v.host) {
                    return Err(refuse(
                        "InvalidState",
                        "The host is in (or entering) maintenance mode, or not connected.",
                    ));
                }
                Ok(Some(self.steps_task(method, id, "VirtualMachine", target, Effect::Power(target.into(), want))))
            }
            "RelocateVM_Task" | "MigrateVM_Task" => {
                let v = self.vms.get(target).ok_or_else(not_found)?;
                let dest = match method {
                    "RelocateVM_Task" => moref_of(call.at(&["spec", "host"])),
                    _ => moref_of(call.child("host")),
                };
                let Some(dest) = dest else {
                    return Err(refuse("InvalidArgument", "A specified parameter was not correct: host"));
                };
                if !self.hosts.contains_key(&dest) {
                    return Err(not_found());
                }
                if self.cluster_of(&dest).is_none() || self.cluster_of(&dest) != self.cluster_of(&v.host) {
                    return Err(refuse(
                        "InvalidArgument",
                        "A specified parameter was not correct: the host is not in the VM's cluster",
                    ));
                }
                if !self.usable_target(&dest) {
                    return Err(refuse(
                        "InvalidState",
                        "The destination host is in maintenance mode or not connected.",
                    ));
                }
                let blocked = v.block.as_ref().filter(|(b, _)| b.stops_vmotion()).map(|(b, r)| {
                    let (t, m) = block_type(*b);
                    (t.to_owned(), if r.is_empty() { m.to_owned() } else { r.clone() })
                });
                let id = if method == "RelocateVM_Task" { "VirtualMachine.relocate" } else { "VirtualMachine.migrate" };
                let task = self.steps_task(method, id, "VirtualMachine", target, Effect::Relocate(target.into(), dest));
                if let Some(b) = blocked {
                    if let Some(t) = self.task_mut(&task) {
                        if let Work::Steps { fail, .. } = &mut t.work {
                            fail.get_or_insert(b);
                        }
                    }
                }
                Ok(Some(task))
            }
            "CancelTask" => {
                let n = *self.task_ids.get(target).ok_or_else(not_found)?;
                let t = self.tasks.get_mut(&n).ok_or_else(not_found)?;
                if !matches!(t.state, LabTaskState::Running | LabTaskState::Queued) || !t.cancelable {
                    return Err(refuse("InvalidState", "The operation is not allowed in the current state."));
                }
                t.cancelled = true;
                self.finish(n, Err(refuse("RequestCanceled", "The task was canceled by a user.")));
                Ok(None)
            }
            other => Err(refuse("NotSupported", &format!("the lab vCenter does not implement {other}"))),
        }
    }
}
