//! The lab vCenter's living state: what its actions change and how time passes in it.
//!
//! Owns the simulation behind the properties the lab serves — VM power, hosts entering and
//! leaving maintenance mode with DRS evacuation (VMs move one by one to the least loaded
//! usable host of the cluster; a VM that cannot move keeps the task running and shows in the
//! cluster's `drsFault`), host reboots (the host goes `notResponding` and comes back with a new
//! boot time), guest shutdowns, vMotion, task progress, cancellation and timeouts — plus the
//! change log WaitForUpdatesEx reads, the ledger of every state-changing call ([`LabAction`])
//! and injected failures ([`LabFailure`]).
//!
//! Time is a counter of *ticks*, advanced by the lab's [`Pace`]: on every read (the default:
//! each RetrievePropertiesEx moves every running task one step, so a client that polls a task
//! sees its progress rise without any sleeping), on a timer, or only when a test says
//! ([`super::LabVcenter::advance`]). Task timeouts and `Downtime::For` use the real clock.
//!
//! Must never: answer differently from vCenter where the client can tell (faults are
//! vSphere's own types, refused calls change nothing), or be reachable from production code.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime};

use eio_connectors::vcenter::xml::Node;

use super::model::{self, LabObject, Topology};

/// How the lab's clock advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// This many ticks on every RetrievePropertiesEx and WaitForUpdatesEx (the default: 1).
    PerRead(u32),
    /// Only [`super::LabVcenter::advance`] moves time.
    Manual,
    /// One tick every interval, on a background task.
    Every(Duration),
}

/// How long something takes in the lab: a number of ticks, or real time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downtime {
    Ticks(u32),
    For(Duration),
}

/// Why a VM cannot be moved off its host, as the lab makes vCenter report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabBlock {
    /// Its files move to the host's local datastore; DRS reports `NoCompatibleHost`
    /// (`DatastoreNotWritableOnHost` inside).
    LocalStorage,
    /// A mandatory VM/Host rule binds it to its current host; `VmHostAffinityRuleViolation`.
    AffinityRule,
    /// A `VirtualPCIPassthrough` device is added; `DisallowedMigrationDeviceAttached`.
    PassthroughDevice,
    /// A host USB device is connected; `DisallowedMigrationDeviceAttached`.
    UsbDevice,
    /// Its DRS automation level becomes manual: no fault, DRS only recommends.
    DrsManual,
    /// DRS is disabled for it (pinned); `DrsDisabledOnVm`.
    DrsDisabledForVm,
    /// Fault tolerance runs; `CannotMoveFaultToleranceVm`.
    FaultTolerance,
    /// `CannotMoveVmWithDeltaDisk`.
    DeltaDisk,
    /// `InsufficientResourcesFault`.
    InsufficientResources,
}

impl LabBlock {
    /// Does this also stop a vMotion the operator asks for (not only DRS)?
    fn stops_vmotion(self) -> bool {
        !matches!(self, LabBlock::DrsManual | LabBlock::DrsDisabledForVm)
    }
}

/// A failure to inject into the next matching state-changing call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabFailure {
    /// The SOAP method, e.g. `PowerOffVM_Task`.
    pub method: String,
    /// Only calls on this moid (None: any).
    pub target: Option<String>,
    /// The vSphere fault type, e.g. `SystemError`.
    pub fault_type: String,
    pub message: String,
    /// Refuse the call itself with a SOAP fault (true), or accept it and let its task end in
    /// error (false, the default).
    pub on_call: bool,
    /// How many matching calls fail (None: every one until cleared).
    pub times: Option<u32>,
}

impl LabFailure {
    /// The next `method` call's task ends in error with `fault_type`.
    pub fn task(method: &str, fault_type: &str, message: &str) -> LabFailure {
        LabFailure {
            method: method.into(),
            target: None,
            fault_type: fault_type.into(),
            message: message.into(),
            on_call: false,
            times: Some(1),
        }
    }

    /// Only for calls on `moid`.
    pub fn on(mut self, moid: &str) -> LabFailure {
        self.target = Some(moid.into());
        self
    }

    /// Refuse the call with a SOAP fault instead of failing its task.
    pub fn on_call(mut self) -> LabFailure {
        self.on_call = true;
        self
    }

    /// Fail this many matching calls (None: all).
    pub fn times(mut self, n: Option<u32>) -> LabFailure {
        self.times = n;
        self
    }
}

/// One state-changing call the lab received, accepted or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabAction {
    pub seq: u64,
    pub method: String,
    /// The moid acted on (`_this`).
    pub target: String,
    /// The task it started, if any.
    pub task: Option<String>,
    /// The fault type it was refused with, if it was.
    pub refused: Option<String>,
    pub at: SystemTime,
}

/// A task as the lab runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabTaskState {
    Queued,
    Running,
    Success,
    Error,
}

/// What a test can see of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabTaskView {
    pub moid: String,
    pub method: String,
    pub entity: String,
    pub state: LabTaskState,
    pub progress: Option<u8>,
    /// The fault type it ended with.
    pub error: Option<String>,
    pub cancelled: bool,
}

/// What a test can see of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabHostView {
    pub moid: String,
    pub connection_state: String,
    pub power_state: String,
    pub in_maintenance_mode: bool,
    pub entering_maintenance_mode: bool,
    pub boot_time: String,
    pub vms: Vec<String>,
}

/// A refusal: (vSphere fault type, message).
pub(crate) type Refusal = (String, String);

#[derive(Debug, Clone, Copy)]
struct Comeback {
    ticks: Option<u32>,
    at: Option<Instant>,
}

impl Comeback {
    fn new(d: Downtime) -> Comeback {
        match d {
            Downtime::Ticks(n) => Comeback { ticks: Some(n), at: None },
            Downtime::For(t) => Comeback { ticks: None, at: Some(Instant::now() + t) },
        }
    }

    /// One tick passed; true when due.
    fn tick(&mut self) -> bool {
        if let Some(n) = &mut self.ticks {
            *n = n.saturating_sub(1);
            return *n == 0;
        }
        false
    }

    fn due_by_clock(&self) -> bool {
        self.at.is_some_and(|t| Instant::now() >= t) || self.ticks == Some(0)
    }
}

#[derive(Debug, Clone)]
struct HostSim {
    name: String,
    parent: String,
    clustered: bool,
    connection: &'static str,
    power: &'static str,
    in_mm: bool,
    /// Entering maintenance mode: Some(evacuate powered-off VMs too).
    entering: Option<bool>,
    boot_time: String,
    local_ds: String,
    down: Option<Comeback>,
}

#[derive(Debug, Clone)]
struct VmSim {
    name: String,
    host: String,
    power: &'static str,
    tools: bool,
    home_ds: String,
    base_devices: String,
    block: Option<(LabBlock, String)>,
    hung: bool,
    shutdown: Option<Comeback>,
}

#[derive(Debug, Clone)]
struct ClusterSim {
    hosts: Vec<String>,
    drs_enabled: bool,
    behavior: String,
    /// vm → a `LocalizedMethodFault` body (`<fault xsi:type…>…</fault><localizedMessage>`).
    faults: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
enum Effect {
    Power(String, &'static str),
    Relocate(String, String),
    ExitMaintenance(String),
    Reboot(String),
}

#[derive(Debug, Clone)]
enum Work {
    Steps { left: u32, total: u32, effect: Effect, fail: Option<Refusal> },
    Evacuate { host: String, total: usize, moved: usize, fail: Option<Refusal> },
    Done,
}

#[derive(Debug, Clone)]
struct LabTask {
    moid: String,
    method: String,
    description_id: String,
    entity_kind: &'static str,
    entity: String,
    entity_name: String,
    state: LabTaskState,
    progress: Option<u8>,
    error: Option<Refusal>,
    cancelled: bool,
    cancelable: bool,
    queue_time: String,
    start_time: Option<String>,
    complete_time: Option<String>,
    chain: u64,
    work: Work,
    deadline: Option<Instant>,
}

/// Everything the lab vCenter knows, and its clock.
pub(crate) struct World {
    pub(crate) objects: Vec<LabObject>,
    index: HashMap<String, usize>,
    hosts: BTreeMap<String, HostSim>,
    vms: BTreeMap<String, VmSim>,
    clusters: BTreeMap<String, ClusterSim>,
    tasks: BTreeMap<u64, LabTask>,
    task_ids: HashMap<String, u64>,
    next_task: u64,
    version: u64,
    changes: Vec<(u64, usize, &'static str)>,
    ledger: Vec<LabAction>,
    failures: Vec<LabFailure>,
    pub(crate) pace: Pace,
    task_steps: HashMap<String, u32>,
    reboot_downtime: Downtime,
    guest_shutdown: Downtime,
    pub(crate) ticks: u64,
}

const DEFAULT_STEPS: u32 = 1;

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn refuse(t: &str, m: &str) -> Refusal {
    (t.to_owned(), m.to_owned())
}

fn moref_of(n: Option<&Node>) -> Option<String> {
    n.filter(|n| n.mo_type.is_some()).map(|n| n.text.trim().to_owned()).filter(|s| !s.is_empty())
}

impl World {
    pub(crate) fn new(objects: Vec<LabObject>, topo: Topology) -> World {
        let index = objects.iter().enumerate().map(|(i, o)| (o.moid.clone(), i)).collect();
        let mut world = World {
            objects,
            index,
            hosts: BTreeMap::new(),
            vms: BTreeMap::new(),
            clusters: BTreeMap::new(),
            tasks: BTreeMap::new(),
            task_ids: HashMap::new(),
            next_task: 1,
            version: 1,
            changes: Vec::new(),
            ledger: Vec::new(),
            failures: Vec::new(),
            pace: Pace::PerRead(1),
            task_steps: HashMap::new(),
            reboot_downtime: Downtime::Ticks(3),
            guest_shutdown: Downtime::Ticks(2),
            ticks: 0,
        };
        for (moid, _, hosts, _) in topo.clusters {
            world.clusters.insert(
                moid,
                ClusterSim { hosts, drs_enabled: true, behavior: "fullyAutomated".into(), faults: BTreeMap::new() },
            );
        }
        for h in topo.hosts {
            world.hosts.insert(
                h.moid,
                HostSim {
                    name: h.name,
                    parent: h.parent,
                    clustered: h.clustered,
                    connection: "connected",
                    power: "poweredOn",
                    in_mm: h.in_maintenance_mode,
                    entering: None,
                    boot_time: model::FIRST_BOOT.into(),
                    local_ds: h.local_datastore,
                    down: None,
                },
            );
        }
        for v in topo.vms {
            world.vms.insert(
                v.moid,
                VmSim {
                    name: v.name,
                    host: v.host,
                    power: if v.powered_on { "poweredOn" } else { "poweredOff" },
                    tools: v.powered_on,
                    home_ds: v.datastore,
                    base_devices: v.devices,
                    block: None,
                    hung: false,
                    shutdown: None,
                },
            );
        }
        let clusters: Vec<String> = world.clusters.keys().cloned().collect();
        for c in clusters {
            world.render_cluster(&c);
        }
        // The inventory as built is version 1.
        world.version = 1;
        world.changes.clear();
        world
    }

    // ----- reading -------------------------------------------------------------------

    /// The object `id` if it is a `kind` (or a subtype of it).
    pub(crate) fn find(&self, kind: &str, id: &str) -> Option<usize> {
        self.index.get(id).copied().filter(|&i| super::is_a(self.objects[i].kind, kind))
    }

    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// (object, property) pairs changed after `version`, each once, oldest first.
    pub(crate) fn changes_since(&self, version: u64) -> Vec<(usize, &'static str)> {
        let mut seen = BTreeSet::new();
        self.changes
            .iter()
            .filter(|(v, _, _)| *v > version)
            .filter(|(_, i, p)| seen.insert((*i, *p)))
            .map(|(_, i, p)| (*i, *p))
            .collect()
    }

    pub(crate) fn inventory_objects(&self) -> Vec<LabObject> {
        self.objects.iter().filter(|o| o.kind != "Task").cloned().collect()
    }

    pub(crate) fn actions(&self) -> Vec<LabAction> {
        self.ledger.clone()
    }

    /// How many calls the ledger holds.
    pub(crate) fn ledger_len(&self) -> usize {
        self.ledger.len()
    }

    /// The ledger's calls after the first `n`.
    pub(crate) fn actions_since(&self, n: usize) -> Vec<LabAction> {
        self.ledger.get(n..).unwrap_or_default().to_vec()
    }

    pub(crate) fn task_view(&self, moid: &str) -> Option<LabTaskView> {
        let t = self.task_ids.get(moid).and_then(|n| self.tasks.get(n))?;
        Some(LabTaskView {
            moid: t.moid.clone(),
            method: t.method.clone(),
            entity: t.entity.clone(),
            state: t.state,
            progress: t.progress,
            error: t.error.as_ref().map(|e| e.0.clone()),
            cancelled: t.cancelled,
        })
    }

    pub(crate) fn host_view(&self, moid: &str) -> Option<LabHostView> {
        let h = self.hosts.get(moid)?;
        Some(LabHostView {
            moid: moid.to_owned(),
            connection_state: h.connection.into(),
            power_state: h.power.into(),
            in_maintenance_mode: h.in_mm,
            entering_maintenance_mode: h.entering.is_some(),
            boot_time: h.boot_time.clone(),
            vms: self.vms_on(moid),
        })
    }

    pub(crate) fn vm_host(&self, vm: &str) -> Option<String> {
        self.vms.get(vm).map(|v| v.host.clone())
    }

    pub(crate) fn vm_power(&self, vm: &str) -> Option<&'static str> {
        self.vms.get(vm).map(|v| v.power)
    }

    fn vms_on(&self, host: &str) -> Vec<String> {
        self.vms.iter().filter(|(_, v)| v.host == host).map(|(id, _)| id.clone()).collect()
    }

    fn cluster_of(&self, host: &str) -> Option<String> {
        let h = self.hosts.get(host)?;
        h.clustered.then(|| h.parent.clone())
    }

    // ----- knobs ---------------------------------------------------------------------

    pub(crate) fn set_task_steps(&mut self, method: &str, steps: u32) {
        self.task_steps.insert(method.to_owned(), steps);
    }

    pub(crate) fn set_reboot_downtime(&mut self, d: Downtime) {
        self.reboot_downtime = d;
    }

    pub(crate) fn set_guest_shutdown(&mut self, d: Downtime) {
        self.guest_shutdown = d;
    }

    pub(crate) fn set_hung_guest(&mut self, vm: &str, hung: bool) -> bool {
        match self.vms.get_mut(vm) {
            Some(v) => {
                v.hung = hung;
                if hung {
                    v.shutdown = None;
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn set_tools_running(&mut self, vm: &str, running: bool) -> bool {
        match self.vms.get_mut(vm) {
            Some(v) => {
                v.tools = running;
                self.render_vm(vm);
                true
            }
            None => false,
        }
    }

    pub(crate) fn block_vm(&mut self, vm: &str, block: Option<(LabBlock, String)>) -> bool {
        let Some(v) = self.vms.get_mut(vm) else { return false };
        v.block = block;
        let host = v.host.clone();
        self.render_vm(vm);
        if let Some(c) = self.cluster_of(&host) {
            self.refresh_faults(&c);
            self.render_cluster(&c);
        }
        true
    }

    pub(crate) fn set_cluster_drs(&mut self, cluster: &str, enabled: bool, behavior: &str) -> bool {
        let Some(c) = self.clusters.get_mut(cluster) else { return false };
        c.drs_enabled = enabled;
        c.behavior = behavior.to_owned();
        self.refresh_faults(cluster);
        self.render_cluster(cluster);
        true
    }

    pub(crate) fn add_failure(&mut self, f: LabFailure) {
        self.failures.push(f);
    }

    pub(crate) fn clear_failures(&mut self) {
        self.failures.clear();
    }

    /// vCenter purges a task some time after it ended: it is then unknown.
    pub(crate) fn forget_task(&mut self, moid: &str) -> bool {
        let Some(n) = self.task_ids.remove(moid) else { return false };
        self.tasks.remove(&n);
        self.index.remove(moid);
        true
    }

    // ----- time ----------------------------------------------------------------------

    /// One step of everything that takes time.
    pub(crate) fn tick(&mut self) {
        self.ticks += 1;
        // Comebacks first, so a host rebooted by this tick's task step stays down for its
        // whole downtime.
        let rebooting: Vec<String> =
            self.hosts.iter().filter(|(_, h)| h.down.is_some()).map(|(k, _)| k.clone()).collect();
        for h in rebooting {
            let due = self.hosts.get_mut(&h).and_then(|x| x.down.as_mut()).is_some_and(Comeback::tick);
            if due {
                self.host_back(&h);
            }
        }
        let stopping: Vec<String> =
            self.vms.iter().filter(|(_, v)| v.shutdown.is_some()).map(|(k, _)| k.clone()).collect();
        for vm in stopping {
            let due = self.vms.get_mut(&vm).and_then(|x| x.shutdown.as_mut()).is_some_and(Comeback::tick);
            if due {
                self.guest_off(&vm);
            }
        }
        let running: Vec<u64> = self
            .tasks
            .iter()
            .filter(|(_, t)| matches!(t.state, LabTaskState::Running | LabTaskState::Queued))
            .map(|(n, _)| *n)
            .collect();
        for n in running {
            self.step(n);
        }
        self.check_deadlines();
    }

    /// What real time decides: task timeouts and comebacks measured in time.
    pub(crate) fn check_deadlines(&mut self) {
        let now = Instant::now();
        let late: Vec<u64> = self
            .tasks
            .iter()
            .filter(|(_, t)| matches!(t.state, LabTaskState::Running | LabTaskState::Queued))
            .filter(|(_, t)| t.deadline.is_some_and(|d| now >= d))
            .map(|(n, _)| *n)
            .collect();
        for n in late {
            self.finish(n, Err(refuse("Timeout", "Operation timed out.")));
        }
        let back: Vec<String> = self
            .hosts
            .iter()
            .filter(|(_, h)| h.down.is_some_and(|d| d.due_by_clock()))
            .map(|(k, _)| k.clone())
            .collect();
        for h in back {
            self.host_back(&h);
        }
        let off: Vec<String> = self
            .vms
            .iter()
            .filter(|(_, v)| v.shutdown.is_some_and(|d| d.due_by_clock()))
            .map(|(k, _)| k.clone())
            .collect();
        for vm in off {
            self.guest_off(&vm);
        }
    }

    fn host_back(&mut self, host: &str) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.down = None;
            h.connection = "connected";
            h.power = "poweredOn";
            h.boot_time = now_text();
        }
        self.render_host(host);
    }

    fn guest_off(&mut self, vm: &str) {
        if let Some(v) = self.vms.get_mut(vm) {
            v.shutdown = None;
            if v.power == "poweredOn" {
                v.power = "poweredOff";
                v.tools = false;
            }
        }
        self.vm_changed(vm);
    }

    fn step(&mut self, n: u64) {
        enum Next {
            Render(String),
            Complete(Effect, Option<Refusal>),
            Evacuate(String, usize, usize, Option<Refusal>),
            Nothing,
        }
        let Some(task) = self.tasks.get_mut(&n) else { return };
        if task.state == LabTaskState::Queued {
            task.state = LabTaskState::Running;
            task.start_time = Some(now_text());
        }
        let next = match &mut task.work {
            Work::Done => Next::Nothing,
            Work::Steps { left, total, effect, fail } => {
                *left = left.saturating_sub(1);
                let done = *total - (*left).min(*total);
                task.progress = Some((done * 100 / (*total).max(1)).min(99) as u8);
                if *left > 0 {
                    Next::Render(task.moid.clone())
                } else {
                    Next::Complete(effect.clone(), fail.clone())
                }
            }
            Work::Evacuate { host, total, moved, fail } => Next::Evacuate(host.clone(), *total, *moved, fail.clone()),
        };
        match next {
            Next::Nothing => {}
            Next::Render(moid) => self.render_task(&moid),
            Next::Complete(effect, fail) => {
                let outcome = match fail {
                    Some(f) => Err(f),
                    None => self.apply(effect),
                };
                self.finish(n, outcome);
            }
            Next::Evacuate(_, _, _, Some(f)) => self.finish(n, Err(f)),
            Next::Evacuate(host, total, moved, None) => self.evacuate_step(n, &host, total, moved),
        }
    }

    /// One step of DRS emptying `host`: move one movable VM, or finish when none is left.
    fn evacuate_step(&mut self, n: u64, host: &str, total: usize, moved: usize) {
        let need = self.needing_move(host);
        if need.is_empty() {
            if let Some(h) = self.hosts.get_mut(host) {
                h.in_mm = true;
            }
            self.render_host(host);
            self.finish(n, Ok(()));
            return;
        }
        let mut moved_now = moved;
        if let Some(vm) = need.iter().find(|vm| self.movable(vm)).cloned() {
            if let Some(target) = self.target_for(host) {
                self.move_vm(&vm, &target);
                moved_now += 1;
            }
        }
        if let Some(t) = self.tasks.get_mut(&n) {
            if let Work::Evacuate { moved, .. } = &mut t.work {
                *moved = moved_now;
            }
            t.progress = Some((moved_now * 100 / total.max(1)).min(99) as u8);
            let moid = t.moid.clone();
            self.render_task(&moid);
        }
        if let Some(c) = self.cluster_of(host) {
            self.refresh_faults(&c);
            self.render_cluster(&c);
        }
    }

    fn apply(&mut self, effect: Effect) -> Result<(), Refusal> {
        match effect {
            Effect::Power(vm, state) => {
                if let Some(v) = self.vms.get_mut(&vm) {
                    v.power = state;
                    v.tools = state == "poweredOn";
                    v.shutdown = None;
                }
                self.vm_changed(&vm);
            }
            Effect::Relocate(vm, target) => {
                if !self.usable_target(&target) {
                    return Err(refuse("InvalidState", "The destination host is not available for migration."));
                }
                self.move_vm(&vm, &target);
            }
            Effect::ExitMaintenance(host) => {
                if let Some(h) = self.hosts.get_mut(&host) {
                    h.in_mm = false;
                }
                self.render_host(&host);
            }
            Effect::Reboot(host) => {
                let downtime = Comeback::new(self.reboot_downtime);
                if let Some(h) = self.hosts.get_mut(&host) {
                    h.connection = "notResponding";
                    h.power = "unknown";
                    h.down = Some(downtime);
                }
                for vm in self.vms_on(&host) {
                    if let Some(v) = self.vms.get_mut(&vm) {
                        if v.power == "poweredOn" {
                            v.power = "poweredOff";
                            v.tools = false;
                        }
                        v.shutdown = None;
                    }
                    self.render_vm(&vm);
                }
                self.render_host(&host);
            }
        }
        Ok(())
    }

    fn finish(&mut self, n: u64, outcome: Result<(), Refusal>) {
        let Some(t) = self.tasks.get_mut(&n) else { return };
        match outcome {
            Ok(()) => {
                t.state = LabTaskState::Success;
                t.progress = Some(100);
            }
            Err(e) => {
                t.state = LabTaskState::Error;
                t.error = Some(e);
            }
        }
        t.cancelable = false;
        t.complete_time = Some(now_text());
        t.start_time.get_or_insert_with(now_text);
        let evacuated = match std::mem::replace(&mut t.work, Work::Done) {
            Work::Evacuate { host, .. } => Some(host),
            _ => None,
        };
        let moid = t.moid.clone();
        self.render_task(&moid);
        if let Some(host) = evacuated {
            if let Some(h) = self.hosts.get_mut(&host) {
                h.entering = None;
            }
            self.render_host(&host);
            if let Some(c) = self.cluster_of(&host) {
                self.refresh_faults(&c);
                self.render_cluster(&c);
            }
        }
    }

    // ----- DRS -----------------------------------------------------------------------

    /// VMs on `host` the evacuation still has to move.
    fn needing_move(&self, host: &str) -> Vec<String> {
        let all = self.hosts.get(host).and_then(|h| h.entering).unwrap_or(false);
        self.vms
            .iter()
            .filter(|(_, v)| v.host == host && (all || v.power == "poweredOn"))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn drs_automatic(&self, host: &str) -> bool {
        self.cluster_of(host)
            .and_then(|c| self.clusters.get(&c))
            .is_some_and(|c| c.drs_enabled && c.behavior == "fullyAutomated")
    }

    /// DRS would move it now.
    fn movable(&self, vm: &str) -> bool {
        let Some(v) = self.vms.get(vm) else { return false };
        v.block.is_none() && self.drs_automatic(&v.host) && self.target_for(&v.host).is_some()
    }

    fn usable_target(&self, host: &str) -> bool {
        self.hosts.get(host).is_some_and(|h| h.connection == "connected" && !h.in_mm && h.entering.is_none())
    }

    /// The least loaded usable other host of `host`'s cluster.
    fn target_for(&self, host: &str) -> Option<String> {
        let cluster = self.cluster_of(host)?;
        let c = self.clusters.get(&cluster)?;
        c.hosts
            .iter()
            .filter(|h| h.as_str() != host && self.usable_target(h))
            .min_by_key(|h| (self.vms.values().filter(|v| &v.host == *h).count(), (*h).clone()))
            .cloned()
    }

    fn move_vm(&mut self, vm: &str, target: &str) {
        let Some(v) = self.vms.get_mut(vm) else { return };
        let from = std::mem::replace(&mut v.host, target.to_owned());
        self.render_vm(vm);
        self.render_host(&from);
        self.render_host(target);
    }

    /// Recompute the cluster's `drsFault`: every VM an evacuation in it cannot move, and why.
    fn refresh_faults(&mut self, cluster: &str) {
        let Some(c) = self.clusters.get(cluster) else { return };
        let auto = c.drs_enabled && c.behavior == "fullyAutomated";
        let mut faults = BTreeMap::new();
        for host in c.hosts.clone() {
            if self.hosts.get(&host).is_none_or(|h| h.entering.is_none()) {
                continue;
            }
            let target = self.target_for(&host);
            for vm in self.needing_move(&host) {
                let Some(v) = self.vms.get(&vm) else { continue };
                let body = match (&v.block, &target) {
                    (Some((block, reason)), _) => block_fault(*block, reason, v, self.hosts.get(&host)),
                    (None, None) if auto => {
                        Some(fault_body("NoCompatibleHost", "", "No host is compatible with the virtual machine."))
                    }
                    _ => None,
                };
                if let Some(body) = body {
                    faults.insert(vm, body);
                }
            }
        }
        if let Some(c) = self.clusters.get_mut(cluster) {
            c.faults = faults;
        }
    }

    // ----- actions -------------------------------------------------------------------

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

    fn take_failure(&mut self, method: &str, target: &str, on_call: bool) -> Option<Refusal> {
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

    fn dispatch(&mut self, method: &str, target: &str, call: &Node) -> Result<Option<String>, Refusal> {
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

    fn task_mut(&mut self, moid: &str) -> Option<&mut LabTask> {
        let n = self.task_ids.get(moid)?;
        self.tasks.get_mut(n)
    }

    fn steps_task(
        &mut self,
        method: &str,
        description_id: &str,
        kind: &'static str,
        target: &str,
        effect: Effect,
    ) -> String {
        let total = self.task_steps.get(method).copied().unwrap_or(DEFAULT_STEPS);
        let fail = self.take_failure(method, target, false);
        let work = Work::Steps { left: total, total: total.max(1), effect, fail };
        let moid = self.new_task(method, description_id, kind, target, work);
        if total == 0 {
            // Finishes before it is answered, as vcsim's tasks do.
            if let Some(n) = self.task_ids.get(&moid).copied() {
                self.step(n);
            }
        }
        moid
    }

    fn new_task(&mut self, method: &str, description_id: &str, kind: &'static str, target: &str, work: Work) -> String {
        let n = self.next_task;
        self.next_task += 1;
        let moid = format!("task-{}", 1000 + n);
        let entity_name = match kind {
            "HostSystem" => self.hosts.get(target).map(|h| h.name.clone()),
            _ => self.vms.get(target).map(|v| v.name.clone()),
        }
        .unwrap_or_else(|| target.to_owned());
        let now = now_text();
        let task = LabTask {
            moid: moid.clone(),
            method: method.to_owned(),
            description_id: description_id.to_owned(),
            entity_kind: kind,
            entity: target.to_owned(),
            entity_name,
            state: LabTaskState::Running,
            progress: Some(0),
            error: None,
            cancelled: false,
            cancelable: true,
            queue_time: now.clone(),
            start_time: Some(now),
            complete_time: None,
            chain: 5000 + n,
            work,
            deadline: None,
        };
        self.tasks.insert(n, task);
        self.task_ids.insert(moid.clone(), n);
        self.index.insert(moid.clone(), self.objects.len());
        self.objects.push(LabObject { kind: "Task", moid: moid.clone(), props: Vec::new() });
        self.render_task(&moid);
        moid
    }

    // ----- properties ----------------------------------------------------------------

    fn put(&mut self, moid: &str, path: &'static str, val: String) {
        let Some(&i) = self.index.get(moid) else { return };
        if self.objects[i].put(path, val) {
            self.version += 1;
            self.changes.push((self.version, i, path));
        }
    }

    fn vm_changed(&mut self, vm: &str) {
        self.render_vm(vm);
        if let Some(host) = self.vms.get(vm).map(|v| v.host.clone()) {
            if let Some(c) = self.cluster_of(&host) {
                self.refresh_faults(&c);
                self.render_cluster(&c);
            }
        }
    }

    fn render_vm(&mut self, vm: &str) {
        let Some(v) = self.vms.get(vm).cloned() else { return };
        let block = v.block.as_ref().map(|b| b.0);
        let datastore = match block {
            Some(LabBlock::LocalStorage) => {
                self.hosts.get(&v.host).map(|h| h.local_ds.clone()).unwrap_or(v.home_ds.clone())
            }
            _ => v.home_ds.clone(),
        };
        let mut devices = v.base_devices.clone();
        let extra = match block {
            Some(LabBlock::PassthroughDevice) => Some(
                "<VirtualDevice xsi:type=\"VirtualPCIPassthrough\"><key>13000</key><deviceInfo><label>PCI device 0</label>\
                 <summary>NVIDIA Tesla T4</summary></deviceInfo><backing xsi:type=\"VirtualPCIPassthroughDeviceBackingInfo\">\
                 <deviceName>NVIDIA Tesla T4</deviceName><id>0000:3b:00.0</id><deviceId>1eb8</deviceId><systemId>5f1a</systemId>\
                 <vendorId>4318</vendorId></backing><controllerKey>100</controllerKey><unitNumber>18</unitNumber></VirtualDevice>",
            ),
            Some(LabBlock::UsbDevice) => Some(
                "<VirtualDevice xsi:type=\"VirtualUSB\"><key>14000</key><deviceInfo><label>USB 1</label><summary>Host USB device</summary>\
                 </deviceInfo><backing xsi:type=\"VirtualUSBUSBBackingInfo\"><deviceName>path:1/0/4 version:2</deviceName></backing>\
                 <connectable><startConnected>true</startConnected><allowGuestControl>false</allowGuestControl><connected>true</connected>\
                 <status>ok</status></connectable><controllerKey>7000</controllerKey><unitNumber>0</unitNumber><connected>true</connected>\
                 </VirtualDevice>",
            ),
            _ => None,
        };
        if let (Some(extra), Some(at)) = (extra, devices.rfind("</val>")) {
            devices.insert_str(at, extra);
        }
        let running = v.tools && v.power == "poweredOn";
        self.put(vm, "runtime.powerState", model::typed("VirtualMachinePowerState", v.power));
        self.put(vm, "runtime.host", model::moref("HostSystem", &v.host));
        self.put(vm, "datastore", model::morefs("Datastore", [&datastore]));
        self.put(vm, "config.hardware.device", devices);
        self.put(
            vm,
            "runtime.faultToleranceState",
            model::typed(
                "VirtualMachineFaultToleranceState",
                if block == Some(LabBlock::FaultTolerance) { "running" } else { "notConfigured" },
            ),
        );
        self.put(
            vm,
            "guest.toolsStatus",
            model::typed("VirtualMachineToolsStatus", if running { "toolsOk" } else { "toolsNotRunning" }),
        );
        self.put(
            vm,
            "guest.toolsRunningStatus",
            model::s(if running { "guestToolsRunning" } else { "guestToolsNotRunning" }),
        );
    }

    fn render_host(&mut self, host: &str) {
        let Some(h) = self.hosts.get(host).cloned() else { return };
        let vms = self.vms_on(host);
        self.put(host, "runtime.connectionState", model::typed("HostSystemConnectionState", h.connection));
        self.put(host, "runtime.powerState", model::typed("HostSystemPowerState", h.power));
        self.put(
            host,
            "runtime.inMaintenanceMode",
            model::typed("xsd:boolean", if h.in_mm { "true" } else { "false" }),
        );
        self.put(host, "runtime.bootTime", model::typed("xsd:dateTime", &h.boot_time));
        self.put(host, "vm", model::morefs("VirtualMachine", &vms));
    }

    fn render_cluster(&mut self, cluster: &str) {
        let Some(c) = self.clusters.get(cluster).cloned() else { return };
        let on = |b: bool| if b { "true" } else { "false" };
        let mut cfg = format!(
            "<val xsi:type=\"ClusterConfigInfoEx\"><vmSwapPlacement>vmDirectory</vmSwapPlacement>\
             <dasConfig><enabled>true</enabled><vmMonitoring>vmMonitoringDisabled</vmMonitoring>\
             <hostMonitoring>enabled</hostMonitoring></dasConfig>\
             <drsConfig><enabled>{}</enabled><enableVmBehaviorOverrides>true</enableVmBehaviorOverrides>\
             <defaultVmBehavior>{}</defaultVmBehavior><vmotionRate>3</vmotionRate></drsConfig>",
            on(c.drs_enabled),
            esc(&c.behavior)
        );
        let blocked: Vec<(String, LabBlock, String)> = self
            .vms
            .iter()
            .filter(|(_, v)| c.hosts.contains(&v.host))
            .filter_map(|(id, v)| v.block.as_ref().map(|(b, _)| (id.clone(), *b, v.host.clone())))
            .collect();
        for (vm, b, _) in &blocked {
            match b {
                LabBlock::DrsManual => cfg.push_str(&format!(
                    "<drsVmConfig><key type=\"VirtualMachine\">{vm}</key><enabled>true</enabled><behavior>manual</behavior></drsVmConfig>"
                )),
                LabBlock::DrsDisabledForVm => cfg.push_str(&format!(
                    "<drsVmConfig><key type=\"VirtualMachine\">{vm}</key><enabled>false</enabled></drsVmConfig>"
                )),
                _ => {}
            }
        }
        let pinned: Vec<&(String, LabBlock, String)> =
            blocked.iter().filter(|(_, b, _)| *b == LabBlock::AffinityRule).collect();
        for (i, (vm, _, host)) in pinned.iter().enumerate() {
            cfg.push_str(&format!(
                "<rule xsi:type=\"ClusterVmHostRuleInfo\"><key>{}</key><status>green</status><enabled>true</enabled>\
                 <name>pin-{vm}</name><mandatory>true</mandatory><userCreated>true</userCreated>\
                 <vmGroupName>vms-{vm}</vmGroupName><affineHostGroupName>hosts-{vm}-{host}</affineHostGroupName></rule>",
                i + 1
            ));
        }
        for (vm, _, host) in &pinned {
            cfg.push_str(&format!(
                "<group xsi:type=\"ClusterVmGroup\"><name>vms-{vm}</name><vm type=\"VirtualMachine\">{vm}</vm></group>\
                 <group xsi:type=\"ClusterHostGroup\"><name>hosts-{vm}-{host}</name><host type=\"HostSystem\">{host}</host></group>"
            ));
        }
        cfg.push_str("</val>");
        let mut faults = String::from("<val xsi:type=\"ArrayOfClusterDrsFaults\">");
        if !c.faults.is_empty() {
            faults.push_str("<ClusterDrsFaults xsi:type=\"ClusterDrsFaults\"><reason>hostMaint</reason>");
            for (vm, body) in &c.faults {
                faults.push_str(&format!(
                    "<faultsByVm xsi:type=\"ClusterDrsFaultsFaultsByVm\"><vm type=\"VirtualMachine\">{vm}</vm>{body}</faultsByVm>"
                ));
            }
            faults.push_str("</ClusterDrsFaults>");
        }
        faults.push_str("</val>");
        self.put(cluster, "configurationEx", cfg);
        self.put(cluster, "drsFault", faults);
        self.put(cluster, "configuration.drsConfig.enabled", model::typed("xsd:boolean", on(c.drs_enabled)));
        self.put(cluster, "configuration.drsConfig.defaultVmBehavior", model::typed("DrsBehavior", &c.behavior));
    }

    fn render_task(&mut self, moid: &str) {
        let Some(t) = self.task_ids.get(moid).and_then(|n| self.tasks.get(n)).cloned() else { return };
        let state = match t.state {
            LabTaskState::Queued => "queued",
            LabTaskState::Running => "running",
            LabTaskState::Success => "success",
            LabTaskState::Error => "error",
        };
        let mut v = format!(
            "<val xsi:type=\"TaskInfo\"><key>{m}</key><task type=\"Task\">{m}</task><name>{}</name>\
             <descriptionId>{}</descriptionId><entity type=\"{}\">{}</entity><entityName>{}</entityName>\
             <state>{state}</state><cancelled>{}</cancelled><cancelable>{}</cancelable>",
            esc(&t.method),
            esc(&t.description_id),
            t.entity_kind,
            esc(&t.entity),
            esc(&t.entity_name),
            t.cancelled,
            t.cancelable,
            m = esc(&t.moid),
        );
        if let Some((ty, msg)) = &t.error {
            v.push_str(&format!(
                "<error><fault xsi:type=\"{}\"></fault><localizedMessage>{}</localizedMessage></error>",
                esc(ty),
                esc(msg)
            ));
        }
        if let (Some(p), LabTaskState::Running | LabTaskState::Queued) = (t.progress, t.state) {
            v.push_str(&format!("<progress>{p}</progress>"));
        }
        v.push_str(&format!(
            "<reason xsi:type=\"TaskReasonUser\"><userName>VSPHERE.LOCAL\\Administrator</userName></reason><queueTime>{}</queueTime>",
            t.queue_time
        ));
        if let Some(s) = &t.start_time {
            v.push_str(&format!("<startTime>{s}</startTime>"));
        }
        if let Some(s) = &t.complete_time {
            v.push_str(&format!("<completeTime>{s}</completeTime>"));
        }
        v.push_str(&format!("<eventChainId>{}</eventChainId></val>", t.chain));
        self.put(moid, "info", v);
        // The entity's `recentTask`: its last ten tasks, as vCenter keeps them for a while.
        let mut recent: Vec<(u64, String)> =
            self.tasks.iter().filter(|(_, x)| x.entity == t.entity).map(|(n, x)| (*n, x.moid.clone())).collect();
        recent.sort();
        let recent: Vec<String> = recent.into_iter().rev().take(10).rev().map(|(_, m)| m).collect();
        self.put(&t.entity, "recentTask", model::morefs("Task", &recent));
    }
}

/// A `LocalizedMethodFault`'s content.
fn fault_body(type_name: &str, inner: &str, message: &str) -> String {
    format!(
        "<fault><fault xsi:type=\"{type_name}\">{inner}</fault><localizedMessage>{}</localizedMessage></fault>",
        esc(message)
    )
}

/// The fault type and stock message vCenter reports for a block.
fn block_type(b: LabBlock) -> (&'static str, &'static str) {
    match b {
        LabBlock::LocalStorage => ("NoCompatibleHost", "No host is compatible with the virtual machine."),
        LabBlock::AffinityRule => (
            "VmHostAffinityRuleViolation",
            "The virtual machine violates a mandatory VM/Host affinity rule on the destination host.",
        ),
        LabBlock::PassthroughDevice | LabBlock::UsbDevice => (
            "DisallowedMigrationDeviceAttached",
            "Migration is not possible while the virtual machine has a device attached.",
        ),
        LabBlock::DrsManual => ("", ""),
        LabBlock::DrsDisabledForVm => ("DrsDisabledOnVm", "DRS is disabled on the virtual machine."),
        LabBlock::FaultTolerance => ("CannotMoveFaultToleranceVm", "Cannot move a fault tolerant virtual machine."),
        LabBlock::DeltaDisk => ("CannotMoveVmWithDeltaDisk", "Cannot move a virtual machine with a delta disk."),
        LabBlock::InsufficientResources => {
            ("InsufficientResourcesFault", "Insufficient resources to satisfy the configured failover level.")
        }
    }
}

/// The drsFault entry for a blocked VM (None for blocks DRS reports no fault for).
fn block_fault(b: LabBlock, reason: &str, v: &VmSim, host: Option<&HostSim>) -> Option<String> {
    let (ty, stock) = block_type(b);
    if ty.is_empty() {
        return None;
    }
    let message = if reason.is_empty() { stock } else { reason };
    let host_name = host.map(|h| h.name.as_str()).unwrap_or_default();
    let inner = match b {
        LabBlock::LocalStorage => format!(
            "<error><fault xsi:type=\"DatastoreNotWritableOnHost\"><datastore type=\"Datastore\">{}</datastore>\
             <name>{}-local</name><host type=\"HostSystem\">{}</host></fault>\
             <localizedMessage>The datastore is not writable on the host.</localizedMessage></error>",
            host.map(|h| h.local_ds.as_str()).unwrap_or_default(),
            esc(host_name),
            esc(&v.host)
        ),
        LabBlock::AffinityRule => format!("<vmName>{}</vmName><hostName>{}</hostName>", esc(&v.name), esc(host_name)),
        LabBlock::PassthroughDevice | LabBlock::UsbDevice => {
            "<fault><fault xsi:type=\"NotSupported\"></fault><localizedMessage>The device is not supported for migration.</localizedMessage></fault>"
                .to_owned()
        }
        LabBlock::FaultTolerance => format!("<moveType>migrate</moveType><vmName>{}</vmName>", esc(&v.name)),
        LabBlock::DeltaDisk => "<device>Hard disk 1</device>".to_owned(),
        _ => String::new(),
    };
    Some(fault_body(ty, &inner, message))
}
