//! The actions orchestration jobs take in vCenter, and the host's state the maintenance-mode
//! gate follows while it takes them (why a host can't be emptied is [`super::blockers`]).
//!
//! Owns: starting host and VM operations (maintenance mode, host reboot, guest shutdown,
//! power, suspend, migration, task cancellation), each as one SOAP call that returns the
//! task's moid at once; [`Session::host_state`] (one RetrievePropertiesEx: the host and the
//! VMs on it); and the property-collector plumbing both read with.
//!
//! Must never: wait for a task it started (the engine records the task's moid first and then
//! follows it with [`Session::task_info`] / [`Session::wait_for_task`], so a resumed worker
//! re-attaches instead of acting twice), retry an action by itself, or decide anything about
//! policy: it reports, the engine decides.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::VcenterError;
use super::records::{HostConnectionState, HostPowerState, ToolsStatus, VmPowerState};
use super::soap::{esc, MoRef};
use super::xml::{self, Node};
use super::Session;

/// A host and what runs on it, read in one RetrievePropertiesEx.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostState {
    pub moid: String,
    pub name: String,
    /// The cluster (or standalone compute resource) the host belongs to.
    pub parent_moid: Option<String>,
    /// `notResponding` while a host reboots; `connected` once it is back.
    pub connection_state: Option<HostConnectionState>,
    pub power_state: Option<HostPowerState>,
    pub in_maintenance_mode: bool,
    /// When the host last booted (changes when a reboot really happened).
    pub boot_time: Option<DateTime<Utc>>,
    /// Every VM registered on the host, by moid.
    pub vms: Vec<HostVm>,
    /// The host's `recentTask`: tasks on it that run or ended lately (how a resumed worker
    /// finds a task it started but never got to record).
    pub recent_tasks: Vec<String>,
}

impl HostState {
    /// Connected and powered on.
    pub fn is_up(&self) -> bool {
        self.connection_state == Some(HostConnectionState::Connected)
            && self.power_state == Some(HostPowerState::PoweredOn)
    }

    /// The VMs still running on the host.
    pub fn powered_on_vms(&self) -> impl Iterator<Item = &HostVm> {
        self.vms.iter().filter(|v| v.power_state == Some(VmPowerState::PoweredOn))
    }
}

/// One VM on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostVm {
    pub moid: String,
    pub name: String,
    pub power_state: Option<VmPowerState>,
    /// VMware Tools are running: a guest shutdown can be asked for.
    pub tools_running: Option<bool>,
}

/// How a VM is moved by [`Session::migrate_vm`]: vMotion to another host of its cluster.
const RELOCATE: &str = "RelocateVM_Task";

impl Session {
    /// EnterMaintenanceMode_Task. In a fully automated DRS cluster vCenter migrates the
    /// powered-on VMs away first (and the powered-off ones when `evacuate_powered_off_vms`);
    /// a VM it cannot move keeps the task running (it does not fail) until the VM is off, the
    /// `timeout_seconds` pass (the task then fails with a `Timeout` fault; `None`: no
    /// timeout) or the task is cancelled. Returns the task's moid.
    pub async fn enter_maintenance_mode(
        &self,
        host_moid: &str,
        timeout_seconds: Option<u32>,
        evacuate_powered_off_vms: bool,
    ) -> Result<String, VcenterError> {
        let inner = format!(
            "{}<timeout>{}</timeout><evacuatePoweredOffVms>{evacuate_powered_off_vms}</evacuatePoweredOffVms>",
            MoRef::new("HostSystem", host_moid).xml("_this"),
            timeout_seconds.unwrap_or(0)
        );
        self.start_task("EnterMaintenanceMode_Task", &inner).await
    }

    /// ExitMaintenanceMode_Task (no timeout). Returns the task's moid.
    pub async fn exit_maintenance_mode(&self, host_moid: &str) -> Result<String, VcenterError> {
        let inner = format!("{}<timeout>0</timeout>", MoRef::new("HostSystem", host_moid).xml("_this"));
        self.start_task("ExitMaintenanceMode_Task", &inner).await
    }

    /// RebootHost_Task. Without `force` vCenter refuses a host that is not in maintenance
    /// mode (`InvalidState`). The task ends when the reboot is under way; the host then goes
    /// `notResponding` and comes back `connected` with a new boot time — follow that with
    /// [`Session::host_state`]. Returns the task's moid.
    pub async fn reboot_host(&self, host_moid: &str, force: bool) -> Result<String, VcenterError> {
        let inner = format!("{}<force>{force}</force>", MoRef::new("HostSystem", host_moid).xml("_this"));
        self.start_task("RebootHost_Task", &inner).await
    }

    /// ShutdownGuest: ask the guest OS to shut down through VMware Tools. Not a task: this
    /// returns once vCenter accepted the request; the VM powers off later, or never (a hung
    /// guest), so the caller waits for `poweredOff` with its own timeout. Refused with
    /// `ToolsUnavailable` when Tools are not running and `InvalidPowerState` when the VM is
    /// not on.
    pub async fn shutdown_guest(&self, vm_moid: &str) -> Result<(), VcenterError> {
        self.soap.call_returnval("ShutdownGuest", &MoRef::new("VirtualMachine", vm_moid).xml("_this")).await?;
        Ok(())
    }

    /// SuspendVM_Task. Returns the task's moid.
    pub async fn suspend_vm(&self, vm_moid: &str) -> Result<String, VcenterError> {
        self.start_task("SuspendVM_Task", &MoRef::new("VirtualMachine", vm_moid).xml("_this")).await
    }

    /// vMotion a VM to another host of its cluster (RelocateVM_Task with only the host in
    /// the spec: storage and resource pool stay). Returns the task's moid.
    pub async fn migrate_vm(&self, vm_moid: &str, target_host_moid: &str) -> Result<String, VcenterError> {
        let inner = format!(
            "{}<spec>{}</spec>",
            MoRef::new("VirtualMachine", vm_moid).xml("_this"),
            MoRef::new("HostSystem", target_host_moid).xml("host")
        );
        self.start_task(RELOCATE, &inner).await
    }

    /// CancelTask. vCenter marks the task cancelled; it ends in `error` with a
    /// `RequestCanceled` fault once the operation stopped (what it already did stays done:
    /// VMs already migrated stay where they are). A task that has ended is refused with
    /// `InvalidState`.
    pub async fn cancel_task(&self, task_moid: &str) -> Result<(), VcenterError> {
        self.soap.call_returnval("CancelTask", &MoRef::new("Task", task_moid).xml("_this")).await?;
        Ok(())
    }

    /// The host's connection, power and maintenance state and every VM on it, in one
    /// RetrievePropertiesEx (the host, and its `vm` list traversed).
    pub async fn host_state(&self, host_moid: &str) -> Result<HostState, VcenterError> {
        let host = MoRef::new("HostSystem", host_moid);
        let spec = format!(
            "<specSet>{}{}<objectSet>{}<skip>false</skip>{}</objectSet></specSet>",
            prop_set("HostSystem", HOST_STATE_PATHS),
            prop_set(
                "VirtualMachine",
                &["name", "runtime.powerState", "guest.toolsRunningStatus", "guest.toolsStatus"]
            ),
            host.xml("obj"),
            traversal("hostVms", "HostSystem", "vm", &[]),
        );
        let objects = self.retrieve(&spec).await?;
        let props = objects.get(host_moid).ok_or_else(|| self.soap.unexpected("RetrievePropertiesEx", "the host"))?;
        let mut state = read_host(host_moid, props);
        for (moid, p) in &objects {
            if p.kind != "VirtualMachine" {
                continue;
            }
            state.vms.push(HostVm {
                moid: moid.clone(),
                name: p.text("name").unwrap_or_else(|| moid.clone()),
                power_state: p.text("runtime.powerState").and_then(|s| VmPowerState::from_vsphere(&s)),
                tools_running: tools_running(p),
            });
        }
        state.vms.sort_by(|a, b| a.name.cmp(&b.name).then(a.moid.cmp(&b.moid)));
        Ok(state)
    }

    /// RetrievePropertiesEx (and Continue, while vCenter hands back a token) of `spec`:
    /// every object's properties by moid.
    pub(super) async fn retrieve(&self, spec: &str) -> Result<HashMap<String, Props>, VcenterError> {
        let this = self.services.property_collector.xml("_this");
        let mut out: HashMap<String, Props> = HashMap::new();
        let mut inner = format!("{this}{spec}<options/>");
        let mut method = "RetrievePropertiesEx";
        loop {
            let token;
            (out, token) = self
                .soap
                .call(
                    method,
                    &inner,
                    |path| path == ["returnval"],
                    xml::keep_all,
                    (out, None),
                    |(out, token), _, node| {
                        match node.name.as_str() {
                            "token" => *token = Some(node.text.trim().to_owned()).filter(|t| !t.is_empty()),
                            "objects" => {
                                if let Some(obj) = node.child("obj").and_then(MoRef::from_node) {
                                    let entry = out
                                        .entry(obj.value.clone())
                                        .or_insert_with(|| Props { kind: obj.kind.clone(), values: HashMap::new() });
                                    for p in node.children_named("propSet") {
                                        if let (Some(name), Some(val)) = (p.text_of("name"), p.child("val")) {
                                            entry.values.insert(name.trim().to_owned(), val.clone());
                                        }
                                    }
                                }
                            }
                            _ => {}
                        }
                        Ok(())
                    },
                )
                .await?;
            match token {
                Some(t) => {
                    inner = format!("{this}<token>{}</token>", esc(&t));
                    method = "ContinueRetrievePropertiesEx";
                }
                None => return Ok(out),
            }
        }
    }
}

pub(super) const HOST_STATE_PATHS: &[&str] = &[
    "name",
    "parent",
    "runtime.connectionState",
    "runtime.powerState",
    "runtime.inMaintenanceMode",
    "runtime.bootTime",
    "recentTask",
];

pub(super) fn prop_set(kind: &str, paths: &[&str]) -> String {
    let mut s = format!("<propSet><type>{kind}</type><all>false</all>");
    for p in paths {
        s.push_str(&format!("<pathSet>{p}</pathSet>"));
    }
    s.push_str("</propSet>");
    s
}

/// A TraversalSpec from objects of `kind` along property `path`, reporting what it reaches,
/// with further (inline) specs from there.
pub(super) fn traversal(name: &str, kind: &str, path: &str, next: &[&str]) -> String {
    format!(
        "<selectSet xsi:type=\"TraversalSpec\"><name>{name}</name><type>{kind}</type><path>{path}</path>\
         <skip>false</skip>{}</selectSet>",
        next.concat()
    )
}

/// One object's properties as read.
#[derive(Debug, Clone)]
pub(super) struct Props {
    pub(super) kind: String,
    pub(super) values: HashMap<String, Node>,
}

impl Props {
    pub(super) fn text(&self, path: &str) -> Option<String> {
        self.values.get(path).map(|n| n.text.trim().to_owned()).filter(|s| !s.is_empty())
    }

    pub(super) fn flag(&self, path: &str) -> Option<bool> {
        self.text(path).map(|t| t == "true")
    }

    pub(super) fn moref(&self, path: &str) -> Option<MoRef> {
        self.values.get(path).and_then(MoRef::from_node)
    }

    pub(super) fn morefs(&self, path: &str) -> Vec<MoRef> {
        self.values.get(path).map(morefs).unwrap_or_default()
    }
}

/// The managed object references in a value: itself, or the elements of an array.
pub(super) fn morefs(val: &Node) -> Vec<MoRef> {
    match MoRef::from_node(val) {
        Some(m) => vec![m],
        None => val.children.iter().filter_map(MoRef::from_node).collect(),
    }
}

pub(super) fn tools_running(p: &Props) -> Option<bool> {
    if let Some(s) = p.text("guest.toolsStatus").and_then(|s| ToolsStatus::from_vsphere(&s)) {
        return Some(s.is_running());
    }
    p.text("guest.toolsRunningStatus").map(|s| s == "guestToolsRunning")
}

fn read_host(moid: &str, p: &Props) -> HostState {
    HostState {
        moid: moid.to_owned(),
        name: p.text("name").unwrap_or_else(|| moid.to_owned()),
        parent_moid: p.moref("parent").map(|m| m.value),
        connection_state: p.text("runtime.connectionState").and_then(|s| HostConnectionState::from_vsphere(&s)),
        power_state: p.text("runtime.powerState").and_then(|s| HostPowerState::from_vsphere(&s)),
        in_maintenance_mode: p.flag("runtime.inMaintenanceMode").unwrap_or(false),
        boot_time: p
            .text("runtime.bootTime")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)),
        vms: Vec::new(),
        recent_tasks: p.morefs("recentTask").into_iter().map(|m| m.value).collect(),
    }
}
