//! Whether DRS can empty a host, judged from plain facts. This is the one rule two callers
//! share: the run-time gate ([`super::Session::evacuation_blockers`], facts read live from
//! vCenter) and the plan an approver reads (`eio_core::jobs::plan`, facts from the synced
//! inventory). They can differ in what they know, never in how they judge; a difference
//! in what they know is what the job's plan-to-gate agreement counts.
//!
//! It owns: which devices pin a VM ([`pinning_devices`]), what a cluster's DRS and HA
//! configuration says ([`ClusterDrs::read`]), the per-VM configuration blockers
//! ([`Evacuation::blockers_of`]) and whether the rest of a cluster has room for one host's
//! VMs ([`capacity_shortfall`]).
//!
//! Must never: read from vCenter or the database, or act. The facts types are stored as
//! JSON by the sync, so fields are added with `#[serde(default)]` and never renamed.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::blockers::BlockReason;
use super::soap::MoRef;
use super::xml::Node;

fn local(t: &str) -> &str {
    t.rsplit(':').next().unwrap_or(t)
}

/// What about a VM decides whether it can leave its host: the synced part of its
/// configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmMobility {
    /// Devices that vMotion cannot take along.
    #[serde(default)]
    pub devices: Vec<PinningDevice>,
    /// Moids of the datastores holding its files (`VirtualMachine.datastore`).
    #[serde(default)]
    pub datastores: Vec<String>,
    /// `runtime.faultToleranceState`, when it is anything but `notConfigured`.
    #[serde(default)]
    pub fault_tolerance: Option<String>,
    /// `config.memoryAllocation.reservation` (MB), when set.
    #[serde(default)]
    pub memory_reservation_mb: Option<i64>,
    /// `config.cpuAllocation.reservation` (MHz), when set.
    #[serde(default)]
    pub cpu_reservation_mhz: Option<i64>,
}

/// A device of a VM that keeps it on its host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinningDevice {
    pub reason: BlockReason,
    /// Its label as vSphere shows it ("CD/DVD drive 1").
    pub label: String,
    /// Its device key in `config.hardware.device`.
    #[serde(default)]
    pub key: Option<i32>,
}

/// Devices in `config.hardware.device` (the property's value node) that vMotion cannot take
/// along: PCI passthrough (DirectPath I/O, vGPU, SR-IOV), a connected USB device of the
/// host, and a connected CD-ROM, floppy, serial or parallel port backed by a device of the host.
pub fn pinning_devices(val: &Node) -> Vec<PinningDevice> {
    let mut out = Vec::new();
    for d in &val.children {
        let kind = d.xsi_type.as_deref().map(local).unwrap_or_default();
        let backing = d.child("backing").and_then(|b| b.xsi_type.as_deref()).map(local).unwrap_or_default();
        let label = d
            .at(&["deviceInfo", "label"])
            .map(|l| l.text.trim().to_owned())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| kind.to_owned());
        let connected = d
            .at(&["connectable", "connected"])
            .or_else(|| d.child("connected"))
            .map(|c| c.text.trim() == "true")
            .unwrap_or(true);
        let sriov = kind == "VirtualSriovEthernetCard";
        let reason = match kind {
            "VirtualPCIPassthrough" => Some(BlockReason::PassthroughDevice),
            _ if sriov => Some(BlockReason::PassthroughDevice),
            "VirtualUSB" if backing == "VirtualUSBUSBBackingInfo" && connected => Some(BlockReason::UsbDevice),
            "VirtualCdrom" | "VirtualFloppy" | "VirtualSerialPort" | "VirtualParallelPort"
                if connected
                    && matches!(
                        backing,
                        "VirtualCdromAtapiBackingInfo"
                            | "VirtualCdromPassthroughBackingInfo"
                            | "VirtualFloppyDeviceBackingInfo"
                            | "VirtualSerialPortDeviceBackingInfo"
                            | "VirtualParallelPortDeviceBackingInfo"
                    ) =>
            {
                Some(BlockReason::HostDevice)
            }
            _ => None,
        };
        if let Some(reason) = reason {
            let key = d.text_of("key").and_then(|k| k.trim().parse().ok());
            out.push(PinningDevice { reason, label, key });
        }
    }
    out
}

/// A mandatory, enabled DRS rule that binds a VM group to (or away from) a host group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmHostRule {
    pub name: String,
    pub vm_group: String,
    #[serde(default)]
    pub affine_hosts: Option<String>,
    #[serde(default)]
    pub anti_affine_hosts: Option<String>,
}

/// A per-VM DRS override.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmDrsOverride {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub behavior: Option<String>,
}

/// HA admission control, when it is enabled: the capacity a cluster keeps for failover.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaAdmission {
    /// Host failures the cluster tolerates (the failover-level policy).
    #[serde(default)]
    pub failover_hosts: Option<i32>,
    /// Hosts dedicated to failover (the failover-host policy): they take no VMs.
    #[serde(default)]
    pub failover_host_moids: Vec<String>,
    /// Percentages of the cluster's CPU and memory kept free.
    #[serde(default)]
    pub cpu_percent: Option<i32>,
    #[serde(default)]
    pub memory_percent: Option<i32>,
}

/// What a cluster's configuration says about moving VMs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterDrs {
    /// None: not a cluster (a standalone host's compute resource).
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub behavior: Option<String>,
    #[serde(default)]
    pub vm_overrides: BTreeMap<String, VmDrsOverride>,
    /// Mandatory, enabled VM/Host rules.
    #[serde(default)]
    pub rules: Vec<VmHostRule>,
    #[serde(default)]
    pub vm_groups: BTreeMap<String, BTreeSet<String>>,
    #[serde(default)]
    pub host_groups: BTreeMap<String, BTreeSet<String>>,
    /// HA admission control, when enabled.
    #[serde(default)]
    pub ha: Option<HaAdmission>,
}

impl ClusterDrs {
    /// A cluster's `configurationEx` (its value node); `None` (a cluster that didn't
    /// say) reads as DRS off.
    pub fn read(cfg: Option<&Node>) -> ClusterDrs {
        let mut c = ClusterDrs::default();
        let Some(cfg) = cfg else {
            c.enabled = Some(false);
            return c;
        };
        c.enabled = Some(cfg.at(&["drsConfig", "enabled"]).is_some_and(|e| e.text.trim() == "true"));
        c.behavior = cfg.at(&["drsConfig", "defaultVmBehavior"]).map(|b| b.text.trim().to_owned());
        for o in cfg.children_named("drsVmConfig") {
            if let Some(vm) = o.child("key").and_then(MoRef::from_node) {
                let enabled = o.text_of("enabled").map(|t| t.trim() == "true");
                let behavior = o.text_of("behavior").map(|t| t.trim().to_owned());
                c.vm_overrides.insert(vm.value, VmDrsOverride { enabled, behavior });
            }
        }
        for g in cfg.children_named("group") {
            let name = g.text_of("name").unwrap_or_default().trim().to_owned();
            match g.xsi_type.as_deref().map(local) {
                Some("ClusterVmGroup") => {
                    c.vm_groups
                        .insert(name, g.children_named("vm").filter_map(MoRef::from_node).map(|m| m.value).collect());
                }
                Some("ClusterHostGroup") => {
                    c.host_groups
                        .insert(name, g.children_named("host").filter_map(MoRef::from_node).map(|m| m.value).collect());
                }
                _ => {}
            }
        }
        for r in cfg.children_named("rule") {
            let on = |n: &str| r.text_of(n).map(|t| t.trim() == "true");
            if r.xsi_type.as_deref().map(local) != Some("ClusterVmHostRuleInfo")
                || on("enabled") == Some(false)
                || on("mandatory") != Some(true)
            {
                continue;
            }
            let text = |n: &str| r.text_of(n).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
            c.rules.push(VmHostRule {
                name: text("name").unwrap_or_else(|| "(unnamed)".into()),
                vm_group: text("vmGroupName").unwrap_or_default(),
                affine_hosts: text("affineHostGroupName"),
                anti_affine_hosts: text("antiAffineHostGroupName"),
            });
        }
        if let Some(das) = cfg.child("dasConfig") {
            let on = |n: &str| das.text_of(n).is_some_and(|t| t.trim() == "true");
            if on("enabled") && on("admissionControlEnabled") {
                let policy = das.child("admissionControlPolicy");
                let int = |n: &str| policy.and_then(|p| p.text_of(n)).and_then(|t| t.trim().parse::<i32>().ok());
                let kind = policy.and_then(|p| p.xsi_type.as_deref()).map(local).unwrap_or_default();
                // Since 6.5 every policy carries `failoverLevel`; it reserves whole hosts only
                // under the failover-level policy (the resources policy reserves percentages,
                // the failover-host policy its named hosts).
                let failover_hosts =
                    if kind == "ClusterFailoverLevelAdmissionControlPolicy" { int("failoverLevel") } else { None };
                let failover_host_moids = if kind == "ClusterFailoverHostAdmissionControlPolicy" {
                    policy
                        .map(|p| {
                            p.children_named("failoverHosts").filter_map(MoRef::from_node).map(|m| m.value).collect()
                        })
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                let (cpu_percent, memory_percent) = if kind == "ClusterFailoverResourcesAdmissionControlPolicy" {
                    (int("cpuFailoverResourcesPercent"), int("memoryFailoverResourcesPercent"))
                } else {
                    (None, None)
                };
                c.ha = Some(HaAdmission { failover_hosts, failover_host_moids, cpu_percent, memory_percent });
            }
        }
        c
    }
}

/// Which hosts a datastore is mounted on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatastoreReach {
    pub name: String,
    /// The hosts that mount it (`Datastore.host`), when known.
    #[serde(default)]
    pub hosts: Option<BTreeSet<String>>,
    /// `summary.multipleHostAccess`, used when the mounts are not known.
    #[serde(default)]
    pub multiple_host_access: Option<bool>,
}

/// One host to be emptied, and what the rest of its cluster offers.
pub struct Evacuation<'a> {
    pub host_name: &'a str,
    /// The other hosts of the cluster that are connected and out of maintenance mode.
    pub usable_hosts: &'a BTreeSet<String>,
    /// Host names by moid, for sentences.
    pub host_names: &'a HashMap<String, String>,
    pub drs: &'a ClusterDrs,
    /// Datastores by moid.
    pub datastores: &'a HashMap<String, DatastoreReach>,
}

/// A configuration blocker of one VM: its code, the sentence and the evidence (the device,
/// datastore or rule it rests on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub reason: BlockReason,
    pub sentence: String,
    pub evidence: Option<String>,
}

impl Evacuation<'_> {
    /// What in its configuration will stop DRS moving the powered-on VM `moid` off the host,
    /// in a stable order (the gate's live list and the plan's list compare equal when the
    /// facts do).
    pub fn blockers_of(&self, moid: &str, vm: &VmMobility) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut push = |reason, sentence: String, evidence: Option<String>| {
            out.push(Finding { reason, sentence, evidence });
        };
        if self.usable_hosts.is_empty() {
            push(
                BlockReason::NoTargetHost,
                format!(
                    "no other host of the cluster is connected and out of maintenance mode to take it from {}",
                    self.host_name
                ),
                None,
            );
        }
        match (self.drs.enabled, self.drs.behavior.as_deref()) {
            (None, _) => push(
                BlockReason::DrsDisabled,
                format!("{} is not in a DRS cluster: nothing moves its VMs automatically", self.host_name),
                None,
            ),
            (Some(false), _) => push(
                BlockReason::DrsDisabled,
                "DRS is disabled for the cluster: VMs are not moved automatically".into(),
                None,
            ),
            (Some(true), Some(b)) if b != "fullyAutomated" => push(
                BlockReason::DrsNotFullyAutomated,
                format!("the cluster's DRS automation level is {b}: its migrations must be applied by hand"),
                Some(format!("defaultVmBehavior={b}")),
            ),
            _ => {}
        }
        if let Some(o) = self.drs.vm_overrides.get(moid) {
            if o.enabled == Some(false) {
                push(
                    BlockReason::DrsDisabledForVm,
                    "DRS is disabled for this VM (it is pinned to its host)".into(),
                    Some("drsVmConfig.enabled=false".into()),
                );
            } else if let Some(b) = o.behavior.as_deref().filter(|b| *b != "fullyAutomated") {
                push(
                    BlockReason::DrsNotFullyAutomated,
                    format!("the VM's DRS automation level is {b}: its migration must be applied by hand"),
                    Some(format!("drsVmConfig.behavior={b}")),
                );
            }
        }
        // With no host to go to, that is the reason: storage and rules name no other.
        let anywhere = !self.usable_hosts.is_empty();
        let local_stores = if anywhere { self.local_datastores(vm) } else { Vec::new() };
        if !local_stores.is_empty() {
            push(
                BlockReason::LocalStorage,
                format!(
                    "its files are on {} which no other usable host of the cluster can reach",
                    local_stores.join(", ")
                ),
                Some(local_stores.join(", ")),
            );
        }
        // One finding per reason: the first device names it, the evidence lists them all.
        let mut by_reason: BTreeMap<BlockReason, Vec<&PinningDevice>> = BTreeMap::new();
        for d in &vm.devices {
            by_reason.entry(d.reason).or_default().push(d);
        }
        for (reason, devices) in by_reason {
            let what = match reason {
                BlockReason::PassthroughDevice => "a PCI passthrough device",
                BlockReason::UsbDevice => "a USB device of the host",
                _ => "a device of the host",
            };
            let labels: Vec<&str> = devices.iter().map(|d| d.label.as_str()).collect();
            let keys: Vec<String> = devices
                .iter()
                .map(|d| match d.key {
                    Some(k) => format!("{} (key {k})", d.label),
                    None => d.label.clone(),
                })
                .collect();
            push(reason, format!("{what} is attached ({})", labels.join(", ")), Some(keys.join(", ")));
        }
        if let Some((rule, sentence)) = self.binding_rule(moid).filter(|_| anywhere) {
            push(BlockReason::AffinityRule, sentence, Some(rule));
        }
        if let Some(ft) = vm.fault_tolerance.as_deref().filter(|f| !f.is_empty() && *f != "notConfigured") {
            push(
                BlockReason::FaultTolerance,
                format!("fault tolerance is configured (state {ft}); DRS does not move it"),
                Some(format!("faultToleranceState={ft}")),
            );
        }
        out
    }

    /// Names of the VM's datastores that no usable other host mounts.
    pub fn local_datastores(&self, vm: &VmMobility) -> Vec<String> {
        let mut out = Vec::new();
        for ds in &vm.datastores {
            let Some(d) = self.datastores.get(ds) else { continue };
            let reachable = match &d.hosts {
                Some(hosts) => hosts.iter().any(|h| self.usable_hosts.contains(h)),
                None => d.multiple_host_access.unwrap_or(true) && !self.usable_hosts.is_empty(),
            };
            if !reachable {
                out.push(d.name.clone());
            }
        }
        out
    }

    /// A mandatory VM/Host rule that leaves the VM no usable other host: its name, and the
    /// sentence.
    fn binding_rule(&self, vm: &str) -> Option<(String, String)> {
        let name_of = |h: &String| self.host_names.get(h).cloned().unwrap_or_else(|| h.clone());
        for r in &self.drs.rules {
            if !self.drs.vm_groups.get(&r.vm_group).is_some_and(|g| g.contains(vm)) {
                continue;
            }
            let empty = BTreeSet::new();
            if let Some(g) = &r.affine_hosts {
                let hosts = self.drs.host_groups.get(g).unwrap_or(&empty);
                if !self.usable_hosts.iter().any(|h| hosts.contains(h)) {
                    return Some((
                        r.name.clone(),
                        format!(
                            "the mandatory VM/Host rule '{}' keeps it on host group '{g}', which has no other usable host",
                            r.name
                        ),
                    ));
                }
            }
            if let Some(g) = &r.anti_affine_hosts {
                let hosts = self.drs.host_groups.get(g).unwrap_or(&empty);
                if self.usable_hosts.iter().all(|h| hosts.contains(h)) {
                    let names: Vec<String> = hosts.iter().map(name_of).collect();
                    return Some((
                        r.name.clone(),
                        format!(
                        "the mandatory VM/Host rule '{}' keeps it off host group '{g}' ({}), which holds every other usable host",
                        r.name,
                        names.join(", ")
                    ),
                    ));
                }
            }
        }
        None
    }
}

/// A host's capacity, as the cluster's admission control counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCapacity {
    pub moid: String,
    pub memory_mb: i64,
    /// Total CPU (cores × MHz), when known.
    pub cpu_mhz: Option<i64>,
}

/// What the powered-on VMs of a cluster ask of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterDemand {
    /// Configured memory of the powered-on VMs.
    pub memory_mb: i64,
    pub memory_reservation_mb: i64,
    pub cpu_reservation_mhz: i64,
}

/// The rest of a cluster short of room for its running VMs with one host out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortfall {
    /// Reservations no longer fit after what HA admission control keeps: vSphere refuses
    /// to run them all, so the evacuation stalls.
    Reservations(String),
    /// Configured memory above what the remaining hosts have: vSphere overcommits (the
    /// evacuation goes on), the VMs may swap.
    Overcommit(String),
}

/// Whether the other usable hosts (`remaining`) can take all the cluster's running VMs
/// with one host out, after what HA admission control keeps for failover. `None` when they
/// fit (or when no host remains: "no other host" is said per VM).
pub fn capacity_shortfall(
    remaining: &[HostCapacity],
    demand: &ClusterDemand,
    ha: Option<&HaAdmission>,
) -> Option<Shortfall> {
    let gib = |mb: i64| format!("{:.1} GiB", mb as f64 / 1024.0);
    let mut usable: Vec<&HostCapacity> =
        remaining.iter().filter(|h| ha.is_none_or(|ha| !ha.failover_host_moids.contains(&h.moid))).collect();
    if usable.is_empty() {
        return None;
    }
    usable.sort_by_key(|h| std::cmp::Reverse(h.memory_mb));
    let mut kept = String::new();
    if usable.len() < remaining.len() {
        kept = format!(" (HA admission control keeps {} dedicated failover host(s))", remaining.len() - usable.len());
    }
    if let Some(n) = ha.and_then(|h| h.failover_hosts).filter(|n| *n > 0) {
        let n = (n as usize).min(usable.len());
        usable.drain(..n);
        kept = format!(" (HA admission control keeps {n} host(s) for failover)");
    }
    let mut memory: i64 = usable.iter().map(|h| h.memory_mb).sum();
    let mut cpu: Option<i64> = usable.iter().map(|h| h.cpu_mhz).sum();
    if let Some(p) = ha.and_then(|h| h.memory_percent).filter(|p| *p > 0) {
        memory = memory * (100 - i64::from(p.min(100))) / 100;
        kept = format!(" (HA admission control keeps {p}% of memory for failover)");
    }
    if let (Some(p), Some(c)) = (ha.and_then(|h| h.cpu_percent).filter(|p| *p > 0), cpu) {
        cpu = Some(c * (100 - i64::from(p.min(100))) / 100);
    }
    if demand.memory_reservation_mb > memory {
        return Some(Shortfall::Reservations(format!(
            "the cluster's memory reservations ({}) exceed what the other hosts offer ({}){kept}: vSphere will not run them all",
            gib(demand.memory_reservation_mb),
            gib(memory)
        )));
    }
    if let Some(cpu) = cpu.filter(|c| demand.cpu_reservation_mhz > *c) {
        return Some(Shortfall::Reservations(format!(
            "the cluster's CPU reservations ({} MHz) exceed what the other hosts offer ({cpu} MHz){kept}: vSphere will not run them all",
            demand.cpu_reservation_mhz
        )));
    }
    if demand.memory_mb > memory {
        return Some(Shortfall::Overcommit(format!(
            "the powered-on VMs are configured with {} of memory; the other hosts have {}{kept}: they will run overcommitted",
            gib(demand.memory_mb),
            gib(memory)
        )));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::xml;
    use super::*;

    fn doc(xml: &str) -> Node {
        xml::parse_document(xml.as_bytes()).unwrap()
    }

    #[test]
    fn devices_that_pin_a_vm() {
        let val = doc(r#"<val xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
            <VirtualDevice xsi:type="VirtualPCIPassthrough"><key>13000</key><deviceInfo><label>PCI device 0</label></deviceInfo>
              <backing xsi:type="VirtualPCIPassthroughDeviceBackingInfo"><id>0000:3b:00.0</id></backing></VirtualDevice>
            <VirtualDevice xsi:type="VirtualUSB"><key>14000</key><deviceInfo><label>USB 1</label></deviceInfo>
              <backing xsi:type="VirtualUSBUSBBackingInfo"><deviceName>path:1/0/1</deviceName></backing><connected>true</connected></VirtualDevice>
            <VirtualDevice xsi:type="VirtualCdrom"><key>3000</key><deviceInfo><label>CD/DVD drive 1</label></deviceInfo>
              <backing xsi:type="VirtualCdromAtapiBackingInfo"><deviceName>/vmfs/devices/cdrom/mpx</deviceName></backing>
              <connectable><connected>true</connected></connectable></VirtualDevice>
            <VirtualDevice xsi:type="VirtualCdrom"><key>3001</key><deviceInfo><label>CD/DVD drive 2</label></deviceInfo>
              <backing xsi:type="VirtualCdromAtapiBackingInfo"/><connectable><connected>false</connected></connectable></VirtualDevice>
            <VirtualDevice xsi:type="VirtualCdrom"><key>3002</key><deviceInfo><label>CD/DVD drive 3</label></deviceInfo>
              <backing xsi:type="VirtualCdromIsoBackingInfo"/><connectable><connected>true</connected></connectable></VirtualDevice>
            <VirtualDevice xsi:type="VirtualSriovEthernetCard"><key>4000</key><deviceInfo><label>SR-IOV network adapter 1</label></deviceInfo></VirtualDevice>
            <VirtualDevice xsi:type="VirtualDisk"><key>2000</key></VirtualDevice></val>"#);
        let found: Vec<(BlockReason, String, Option<i32>)> =
            pinning_devices(&val).into_iter().map(|d| (d.reason, d.label, d.key)).collect();
        assert_eq!(
            found,
            [
                (BlockReason::PassthroughDevice, "PCI device 0".into(), Some(13000)),
                (BlockReason::UsbDevice, "USB 1".into(), Some(14000)),
                (BlockReason::HostDevice, "CD/DVD drive 1".into(), Some(3000)),
                (BlockReason::PassthroughDevice, "SR-IOV network adapter 1".into(), Some(4000)),
            ]
        );
    }

    #[test]
    fn drs_rules_groups_and_ha_are_read_from_the_configuration() {
        let cfg = doc(r#"<val xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ClusterConfigInfoEx">
            <dasConfig><enabled>true</enabled><admissionControlEnabled>true</admissionControlEnabled>
              <admissionControlPolicy xsi:type="ClusterFailoverLevelAdmissionControlPolicy"><failoverLevel>1</failoverLevel></admissionControlPolicy></dasConfig>
            <drsConfig><enabled>true</enabled><defaultVmBehavior>fullyAutomated</defaultVmBehavior></drsConfig>
            <drsVmConfig><key type="VirtualMachine">vm-9</key><enabled>false</enabled></drsVmConfig>
            <rule xsi:type="ClusterVmHostRuleInfo"><name>db-on-a</name><enabled>true</enabled><mandatory>true</mandatory>
              <vmGroupName>db</vmGroupName><affineHostGroupName>rack-a</affineHostGroupName></rule>
            <rule xsi:type="ClusterVmHostRuleInfo"><name>soft</name><enabled>true</enabled><mandatory>false</mandatory>
              <vmGroupName>db</vmGroupName><affineHostGroupName>rack-a</affineHostGroupName></rule>
            <group xsi:type="ClusterVmGroup"><name>db</name><vm type="VirtualMachine">vm-1</vm></group>
            <group xsi:type="ClusterHostGroup"><name>rack-a</name><host type="HostSystem">host-1</host></group></val>"#);
        let drs = ClusterDrs::read(Some(&cfg));
        assert_eq!(drs.enabled, Some(true));
        assert_eq!(drs.behavior.as_deref(), Some("fullyAutomated"));
        assert_eq!(drs.vm_overrides["vm-9"].enabled, Some(false));
        assert_eq!(drs.rules.len(), 1, "only the mandatory rule binds");
        assert_eq!(drs.rules[0].name, "db-on-a");
        assert_eq!(drs.ha, Some(HaAdmission { failover_hosts: Some(1), ..Default::default() }));
        // 6.5+ puts failoverLevel in every policy: under the resources policy it reserves
        // percentages, not hosts.
        let pct = doc(r#"<val xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
            <dasConfig><enabled>true</enabled><admissionControlEnabled>true</admissionControlEnabled>
              <admissionControlPolicy xsi:type="ClusterFailoverResourcesAdmissionControlPolicy">
                <cpuFailoverResourcesPercent>25</cpuFailoverResourcesPercent><memoryFailoverResourcesPercent>30</memoryFailoverResourcesPercent>
                <failoverLevel>1</failoverLevel></admissionControlPolicy></dasConfig>
            <drsConfig><enabled>true</enabled></drsConfig></val>"#);
        let ha = ClusterDrs::read(Some(&pct)).ha.unwrap();
        assert_eq!((ha.failover_hosts, ha.cpu_percent, ha.memory_percent), (None, Some(25), Some(30)));

        // The rule leaves vm-1 nowhere to go when host-1 is the one emptied.
        let usable: BTreeSet<String> = ["host-2".to_owned()].into();
        let names = HashMap::new();
        let stores = HashMap::new();
        let e =
            Evacuation { host_name: "esx1", usable_hosts: &usable, host_names: &names, drs: &drs, datastores: &stores };
        let f = e.blockers_of("vm-1", &VmMobility::default());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].reason, BlockReason::AffinityRule);
        assert_eq!(f[0].evidence.as_deref(), Some("db-on-a"));
        let f = e.blockers_of("vm-9", &VmMobility::default());
        assert_eq!(f.iter().map(|x| x.reason).collect::<Vec<_>>(), [BlockReason::DrsDisabledForVm]);
        assert!(e.blockers_of("vm-2", &VmMobility::default()).is_empty());
    }

    #[test]
    fn capacity_with_one_host_out() {
        let host = |m: &str, gb: i64| HostCapacity { moid: m.into(), memory_mb: gb * 1024, cpu_mhz: Some(20_000) };
        let demand = ClusterDemand { memory_mb: 100 * 1024, memory_reservation_mb: 0, cpu_reservation_mhz: 0 };
        assert_eq!(capacity_shortfall(&[host("h2", 64), host("h3", 64)], &demand, None), None);
        let Some(Shortfall::Overcommit(short)) = capacity_shortfall(&[host("h2", 64)], &demand, None) else {
            panic!("configured memory above the hosts' is overcommit")
        };
        assert!(short.contains("100.0 GiB") && short.contains("64.0 GiB"), "{short}");
        // HA keeping one host for failover leaves one of the two; a dedicated failover host
        // is the named one.
        let ha = HaAdmission { failover_hosts: Some(1), ..Default::default() };
        let short = capacity_shortfall(&[host("h2", 64), host("h3", 64)], &demand, Some(&ha));
        assert!(matches!(&short, Some(Shortfall::Overcommit(s)) if s.contains("keeps 1 host(s)")), "{short:?}");
        let ha = HaAdmission { failover_host_moids: vec!["h3".into()], ..Default::default() };
        let fits = ClusterDemand { memory_mb: 60 * 1024, ..Default::default() };
        assert_eq!(capacity_shortfall(&[host("h2", 64), host("h3", 32)], &fits, Some(&ha)), None);
        let ha = HaAdmission { failover_host_moids: vec!["h2".into()], ..Default::default() };
        let short = capacity_shortfall(&[host("h2", 64), host("h3", 32)], &fits, Some(&ha));
        assert!(
            matches!(&short, Some(Shortfall::Overcommit(s)) if s.contains("1 dedicated failover host")),
            "{short:?}"
        );
        // Reservations that don't fit stop vSphere.
        let reserved = ClusterDemand { memory_mb: 10, memory_reservation_mb: 0, cpu_reservation_mhz: 30_000 };
        let short = capacity_shortfall(&[host("h2", 64)], &reserved, None);
        assert!(
            matches!(&short, Some(Shortfall::Reservations(s)) if s.contains("CPU reservations (30000 MHz)")),
            "{short:?}"
        );
    }
}
