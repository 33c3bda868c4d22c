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
//!
//! Split by concern: this file holds the types and the [`World`] itself (building it and
//! reading it); `knobs` is what tests set (downtimes, blocks, injected failures), `actions`
//! the state-changing SOAP methods and the ledger, `tasks` time and the task lifecycle
//! (ticks, steps, effects, completion), `drs` maintenance-mode evacuation and the cluster's
//! `drsFault`, `render` the properties the lab serves, and `faults` the vSphere fault bodies
//! DRS and vMotion report for a blocked VM.
mod actions;
mod drs;
mod faults;
mod knobs;
mod render;
mod tasks;

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
}
