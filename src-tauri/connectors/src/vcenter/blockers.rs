//! Why a host can't be emptied: [`Session::evacuation_blockers`] reads, in one
//! RetrievePropertiesEx, the cluster's `drsFault` (what DRS reported while trying) and the
//! configuration of each powered-on VM on the host (local-only storage, passthrough/USB/host
//! devices, mandatory VM/Host rules, DRS off or not fully automated, fault tolerance, no other
//! usable host), and names each blocker with a [`BlockReason`] and a sentence.
//!
//! Must never: act (it only reads), or decide what to do about a blocker — the engine's gate
//! and the operator decide.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::actions::{prop_set, traversal, Props, HOST_STATE_PATHS};
use super::error::{SoapFault, VcenterError};
use super::records::VmPowerState;
use super::soap::MoRef;
use super::xml::Node;
use super::Session;

/// Why DRS cannot (or will not) move a VM off a host, in the operator's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    /// Its disks or files are on storage no other usable host of the cluster reaches.
    LocalStorage,
    /// A mandatory VM/Host rule keeps it where it is.
    AffinityRule,
    /// A PCI passthrough (DirectPath I/O, vGPU) device.
    PassthroughDevice,
    /// A USB device of the host is connected to it.
    UsbDevice,
    /// A CD-ROM, floppy, serial or parallel port backed by a device of the host is connected.
    HostDevice,
    /// DRS is off for the cluster (or the host is not in a cluster): nothing moves by itself.
    DrsDisabled,
    /// DRS is disabled for this VM (it is pinned to its host).
    DrsDisabledForVm,
    /// DRS only recommends moves (partially automated or manual, for the cluster or for this
    /// VM): someone must apply them.
    DrsNotFullyAutomated,
    /// Fault tolerance is on for it.
    FaultTolerance,
    /// A delta disk (linked clone or snapshot) that cannot move.
    DeltaDisk,
    /// No other host has the CPU or memory for it.
    InsufficientResources,
    /// DRS found no compatible host for it.
    NoCompatibleHost,
    /// No other host of the cluster is connected and out of maintenance mode.
    NoTargetHost,
    /// Another reason DRS gave; see the fault type and message.
    Other,
}

/// Where a blocker was learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockerSource {
    /// vCenter's DRS said so (`ClusterComputeResource.drsFault`).
    Drs,
    /// Read from the configuration before (or while) trying: what will stop DRS.
    Configuration,
}

/// A VM that keeps a host from entering maintenance mode, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingVm {
    pub vm_moid: String,
    pub vm_name: String,
    pub power_state: Option<VmPowerState>,
    pub reason_code: BlockReason,
    /// What to tell the operator.
    pub reason: String,
    pub source: BlockerSource,
    /// vSphere's fault type, when DRS reported it (e.g. `VmHostAffinityRuleViolation`).
    pub fault_type: Option<String>,
}

impl Session {
    /// Why DRS cannot empty `host_moid` of `cluster_moid`: the cluster's `drsFault` for VMs
    /// on the host (what DRS reported while trying), plus what the configuration of each
    /// powered-on VM says will stop it (local-only storage, passthrough/USB/host devices,
    /// mandatory VM/Host rules, DRS off or not fully automated for the cluster or the VM,
    /// fault tolerance, no other usable host) — so the gate can list reasons even before
    /// trying. One RetrievePropertiesEx; one entry per VM and reason, sorted by VM name.
    pub async fn evacuation_blockers(
        &self,
        cluster_moid: &str,
        host_moid: &str,
    ) -> Result<Vec<BlockingVm>, VcenterError> {
        let facts = self.evacuation_facts(cluster_moid, host_moid).await?;
        Ok(facts.blockers())
    }

    async fn evacuation_facts(&self, cluster_moid: &str, host_moid: &str) -> Result<Facts, VcenterError> {
        let host = MoRef::new("HostSystem", host_moid);
        let cluster = MoRef::new("ClusterComputeResource", cluster_moid);
        let spec = format!(
            "<specSet>{}{}{}{}{}\
             <objectSet>{}<skip>false</skip>{}</objectSet>\
             <objectSet>{}<skip>false</skip>{}</objectSet></specSet>",
            prop_set("ClusterComputeResource", &["name", "host", "configurationEx", "drsFault"]),
            prop_set("ComputeResource", &["name", "host"]),
            prop_set("HostSystem", HOST_STATE_PATHS),
            prop_set("VirtualMachine", VM_FACT_PATHS),
            prop_set("Datastore", &["name", "summary.multipleHostAccess", "host"]),
            cluster.xml("obj"),
            traversal("clusterHosts", "ComputeResource", "host", &[]),
            host.xml("obj"),
            traversal("hostVms", "HostSystem", "vm", &[&traversal("vmDatastores", "VirtualMachine", "datastore", &[])]),
        );
        let objects = match self.retrieve(&spec).await {
            // A standalone host's parent is a ComputeResource, not a cluster: ask again with
            // the right type (the moid names one object either way).
            Err(e) if e.fault().is_some_and(|f| f.kind == super::error::FaultKind::ManagedObjectNotFound) => {
                let retry = spec.replace(&cluster.xml("obj"), &MoRef::new("ComputeResource", cluster_moid).xml("obj"));
                self.retrieve(&retry).await?
            }
            other => other?,
        };
        let host_props =
            objects.get(host_moid).ok_or_else(|| self.soap.unexpected("RetrievePropertiesEx", "the host"))?;
        let parent = host_props.moref("parent").map(|m| m.value);
        if parent.as_deref() != Some(cluster_moid) {
            return Err(VcenterError::Config(format!(
                "host {host_moid} is not in cluster {cluster_moid} (its parent is {})",
                parent.as_deref().unwrap_or("unknown")
            )));
        }
        Ok(Facts::build(cluster_moid, host_moid, &objects))
    }
}

const VM_FACT_PATHS: &[&str] = &[
    "name",
    "runtime.powerState",
    "runtime.host",
    "runtime.faultToleranceState",
    "config.hardware.device",
    "config.template",
    "datastore",
    "guest.toolsRunningStatus",
    "guest.toolsStatus",
];

fn local(t: &str) -> &str {
    t.rsplit(':').next().unwrap_or(t)
}

/// A device of a VM that keeps it on its host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PinningDevice {
    reason: BlockReason,
    label: String,
}

/// Devices in `config.hardware.device` that vMotion cannot take along.
fn pinning_devices(val: &Node) -> Vec<PinningDevice> {
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
        let reason = match kind {
            "VirtualPCIPassthrough" => Some(BlockReason::PassthroughDevice),
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
            out.push(PinningDevice { reason, label });
        }
    }
    out
}

/// A DRS rule that binds VMs to (or away from) a group of hosts.
#[derive(Debug, Clone)]
struct VmHostRule {
    name: String,
    vm_group: String,
    affine_hosts: Option<String>,
    anti_affine_hosts: Option<String>,
}

/// What the cluster's `configurationEx` says about DRS.
#[derive(Debug, Clone, Default)]
struct DrsConfig {
    /// None: not a cluster (a standalone host's compute resource).
    enabled: Option<bool>,
    behavior: Option<String>,
    /// Per-VM overrides: (enabled, behavior).
    vm_overrides: HashMap<String, (Option<bool>, Option<String>)>,
    /// Mandatory, enabled VM/Host rules.
    rules: Vec<VmHostRule>,
    vm_groups: HashMap<String, BTreeSet<String>>,
    host_groups: HashMap<String, BTreeSet<String>>,
}

impl DrsConfig {
    fn read(cluster: Option<&Props>) -> DrsConfig {
        let mut c = DrsConfig::default();
        let Some(p) = cluster else { return c };
        if p.kind != "ClusterComputeResource" {
            return c;
        }
        let Some(cfg) = p.values.get("configurationEx") else {
            c.enabled = Some(false);
            return c;
        };
        c.enabled = Some(cfg.at(&["drsConfig", "enabled"]).is_some_and(|e| e.text.trim() == "true"));
        c.behavior = cfg.at(&["drsConfig", "defaultVmBehavior"]).map(|b| b.text.trim().to_owned());
        for o in cfg.children_named("drsVmConfig") {
            if let Some(vm) = o.child("key").and_then(MoRef::from_node) {
                let enabled = o.text_of("enabled").map(|t| t.trim() == "true");
                let behavior = o.text_of("behavior").map(|t| t.trim().to_owned());
                c.vm_overrides.insert(vm.value, (enabled, behavior));
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
        c
    }
}

/// One fault DRS reported for a VM.
#[derive(Debug, Clone)]
struct DrsVmFault {
    fault: SoapFault,
    /// Type names of faults nested in it (NoCompatibleHost's errors, a device fault's cause).
    nested: Vec<String>,
}

fn drs_faults(cluster: Option<&Props>) -> BTreeMap<String, Vec<DrsVmFault>> {
    let mut out: BTreeMap<String, Vec<DrsVmFault>> = BTreeMap::new();
    let Some(val) = cluster.and_then(|c| c.values.get("drsFault")) else { return out };
    for group in &val.children {
        for by_vm in group.children_named("faultsByVm") {
            let Some(vm) = by_vm.child("vm").and_then(MoRef::from_node) else { continue };
            for f in by_vm.children_named("fault") {
                let mut nested = Vec::new();
                if let Some(inner) = f.child("fault") {
                    for c in &inner.children {
                        if let Some(t) = c.child("fault").and_then(|x| x.xsi_type.as_deref()) {
                            nested.push(local(t).to_owned());
                        }
                    }
                }
                out.entry(vm.value.clone())
                    .or_default()
                    .push(DrsVmFault { fault: SoapFault::from_localized(f), nested });
            }
        }
    }
    out
}

/// Everything [`Session::evacuation_blockers`] reads, by object.
struct Facts {
    host: String,
    host_name: String,
    objects: HashMap<String, Props>,
    drs: DrsConfig,
    faults: BTreeMap<String, Vec<DrsVmFault>>,
    /// Other hosts of the cluster that are connected and out of maintenance mode.
    usable_hosts: BTreeSet<String>,
}

impl Facts {
    fn build(cluster_moid: &str, host_moid: &str, objects: &HashMap<String, Props>) -> Facts {
        let cluster = objects.get(cluster_moid);
        let mut usable_hosts = BTreeSet::new();
        for h in cluster.map(|c| c.morefs("host")).unwrap_or_default() {
            if h.value == host_moid {
                continue;
            }
            let Some(p) = objects.get(&h.value) else { continue };
            let connected = p.text("runtime.connectionState").as_deref() == Some("connected");
            let in_mm = p.flag("runtime.inMaintenanceMode").unwrap_or(false);
            if connected && !in_mm {
                usable_hosts.insert(h.value);
            }
        }
        Facts {
            host: host_moid.to_owned(),
            host_name: objects.get(host_moid).and_then(|p| p.text("name")).unwrap_or_else(|| host_moid.to_owned()),
            objects: objects.clone(),
            drs: DrsConfig::read(cluster),
            faults: drs_faults(cluster),
            usable_hosts,
        }
    }

    fn name_of(&self, moid: &str) -> String {
        self.objects.get(moid).and_then(|p| p.text("name")).unwrap_or_else(|| moid.to_owned())
    }

    /// The VMs registered on the host (a VM reached by traversal whose runtime.host is it).
    fn vms_on_host(&self) -> Vec<(&String, &Props)> {
        let mut vms: Vec<(&String, &Props)> = self
            .objects
            .iter()
            .filter(|(_, p)| p.kind == "VirtualMachine")
            .filter(|(_, p)| p.moref("runtime.host").is_none_or(|h| h.value == self.host))
            .collect();
        vms.sort_by_key(|(id, p)| (p.text("name").unwrap_or_default(), (*id).clone()));
        vms
    }

    fn blockers(&self) -> Vec<BlockingVm> {
        let mut out: Vec<BlockingVm> = Vec::new();
        let mut seen: BTreeSet<(String, BlockReason)> = BTreeSet::new();
        for (moid, p) in self.vms_on_host() {
            let power = p.text("runtime.powerState").and_then(|s| VmPowerState::from_vsphere(&s));
            let name = p.text("name").unwrap_or_else(|| moid.clone());
            let devices = p.values.get("config.hardware.device").map(pinning_devices).unwrap_or_default();
            let local_stores = self.local_datastores(p);
            let mut push = |reason_code: BlockReason, reason: String, source: BlockerSource, fault: Option<String>| {
                if seen.insert((moid.clone(), reason_code)) {
                    out.push(BlockingVm {
                        vm_moid: moid.clone(),
                        vm_name: name.clone(),
                        power_state: power,
                        reason_code,
                        reason,
                        source,
                        fault_type: fault,
                    });
                }
            };
            // What DRS said, for any VM on the host (even one that is off now: the fault
            // stays until DRS runs again).
            for f in self.faults.get(moid).into_iter().flatten() {
                let code = classify(&f.fault.type_name, &f.nested, &devices, !local_stores.is_empty());
                let reason =
                    if f.fault.message.is_empty() { stock_reason(code).to_owned() } else { f.fault.message.clone() };
                push(code, reason, BlockerSource::Drs, Some(f.fault.type_name.clone()));
            }
            if power != Some(VmPowerState::PoweredOn) {
                continue;
            }
            // What the configuration says will stop DRS.
            if self.usable_hosts.is_empty() {
                push(
                    BlockReason::NoTargetHost,
                    format!(
                        "no other host of the cluster is connected and out of maintenance mode to take it from {}",
                        self.host_name
                    ),
                    BlockerSource::Configuration,
                    None,
                );
            }
            match (self.drs.enabled, self.drs.behavior.as_deref()) {
                (None, _) => push(
                    BlockReason::DrsDisabled,
                    format!("{} is not in a DRS cluster: nothing moves its VMs automatically", self.host_name),
                    BlockerSource::Configuration,
                    None,
                ),
                (Some(false), _) => push(
                    BlockReason::DrsDisabled,
                    "DRS is disabled for the cluster: VMs are not moved automatically".into(),
                    BlockerSource::Configuration,
                    None,
                ),
                (Some(true), Some(b)) if b != "fullyAutomated" => push(
                    BlockReason::DrsNotFullyAutomated,
                    format!("the cluster's DRS automation level is {b}: its migrations must be applied by hand"),
                    BlockerSource::Configuration,
                    None,
                ),
                _ => {}
            }
            if let Some((enabled, behavior)) = self.drs.vm_overrides.get(moid) {
                if *enabled == Some(false) {
                    push(
                        BlockReason::DrsDisabledForVm,
                        "DRS is disabled for this VM (it is pinned to its host)".into(),
                        BlockerSource::Configuration,
                        None,
                    );
                } else if let Some(b) = behavior.as_deref().filter(|b| *b != "fullyAutomated") {
                    push(
                        BlockReason::DrsNotFullyAutomated,
                        format!("the VM's DRS automation level is {b}: its migration must be applied by hand"),
                        BlockerSource::Configuration,
                        None,
                    );
                }
            }
            if !local_stores.is_empty() {
                push(
                    BlockReason::LocalStorage,
                    format!(
                        "its files are on {} which no other usable host of the cluster can reach",
                        local_stores.join(", ")
                    ),
                    BlockerSource::Configuration,
                    None,
                );
            }
            for d in &devices {
                let what = match d.reason {
                    BlockReason::PassthroughDevice => "a PCI passthrough device",
                    BlockReason::UsbDevice => "a USB device of the host",
                    _ => "a device of the host",
                };
                push(d.reason, format!("{what} is attached ({})", d.label), BlockerSource::Configuration, None);
            }
            if let Some(rule) = self.binding_rule(moid) {
                push(BlockReason::AffinityRule, rule, BlockerSource::Configuration, None);
            }
            let ft = p.text("runtime.faultToleranceState").unwrap_or_default();
            if !ft.is_empty() && ft != "notConfigured" {
                push(
                    BlockReason::FaultTolerance,
                    format!("fault tolerance is configured (state {ft}); DRS does not move it"),
                    BlockerSource::Configuration,
                    None,
                );
            }
        }
        out.sort_by(|a, b| (&a.vm_name, &a.vm_moid, a.reason_code).cmp(&(&b.vm_name, &b.vm_moid, b.reason_code)));
        out
    }

    /// Datastores of the VM that no usable other host mounts.
    fn local_datastores(&self, vm: &Props) -> Vec<String> {
        let mut out = Vec::new();
        for ds in vm.morefs("datastore") {
            let Some(p) = self.objects.get(&ds.value) else { continue };
            let mounted: BTreeSet<String> = p
                .values
                .get("host")
                .map(|h| {
                    h.children
                        .iter()
                        .filter_map(|m| m.child("key"))
                        .filter_map(MoRef::from_node)
                        .map(|m| m.value)
                        .collect()
                })
                .unwrap_or_default();
            let reachable = if p.values.contains_key("host") {
                mounted.iter().any(|h| self.usable_hosts.contains(h))
            } else {
                p.flag("summary.multipleHostAccess").unwrap_or(true) && !self.usable_hosts.is_empty()
            };
            if !reachable {
                out.push(p.text("name").unwrap_or(ds.value));
            }
        }
        out
    }

    /// A mandatory VM/Host rule that leaves the VM no usable other host, described.
    fn binding_rule(&self, vm: &str) -> Option<String> {
        for r in &self.drs.rules {
            if !self.drs.vm_groups.get(&r.vm_group).is_some_and(|g| g.contains(vm)) {
                continue;
            }
            let empty = BTreeSet::new();
            if let Some(g) = &r.affine_hosts {
                let hosts = self.drs.host_groups.get(g).unwrap_or(&empty);
                if !self.usable_hosts.iter().any(|h| hosts.contains(h)) {
                    return Some(format!(
                        "the mandatory VM/Host rule '{}' keeps it on host group '{g}', which has no other usable host",
                        r.name
                    ));
                }
            }
            if let Some(g) = &r.anti_affine_hosts {
                let hosts = self.drs.host_groups.get(g).unwrap_or(&empty);
                if self.usable_hosts.iter().all(|h| hosts.contains(h)) {
                    let names: Vec<String> = hosts.iter().map(|h| self.name_of(h)).collect();
                    return Some(format!(
                        "the mandatory VM/Host rule '{}' keeps it off host group '{g}' ({}), which holds every other usable host",
                        r.name,
                        names.join(", ")
                    ));
                }
            }
        }
        None
    }
}

/// The operator's reason for a DRS fault type (with its nested fault types, and the VM's
/// pinning devices and storage for the generic device and compatibility faults).
fn classify(type_name: &str, nested: &[String], devices: &[PinningDevice], local_storage: bool) -> BlockReason {
    let device = || devices.iter().map(|d| d.reason).min().unwrap_or(BlockReason::HostDevice);
    match type_name {
        "DisallowedMigrationDeviceAttached" => device(),
        "CannotAccessVmDevice" => device(),
        "VmHostAffinityRuleViolation" | "AffinityConfigured" | "VmHostRuleViolation" => BlockReason::AffinityRule,
        "DrsDisabledOnVm" => BlockReason::DrsDisabledForVm,
        "CannotMoveVmWithDeltaDisk" | "CannotMoveVmWithNativeDeltaDisk" => BlockReason::DeltaDisk,
        "DatastoreNotWritableOnHost"
        | "CannotAccessVmDisk"
        | "CannotAccessVmConfig"
        | "InvalidDatastore"
        | "MaintenanceModeFileMove" => BlockReason::LocalStorage,
        t if t.starts_with("Insufficient") => BlockReason::InsufficientResources,
        t if t.contains("FaultTolerance") || t.starts_with("Ft") => BlockReason::FaultTolerance,
        "NoCompatibleHost" | "NoCompatibleHostWithAccessToDevice" => {
            let specific = nested
                .iter()
                .map(|n| classify(n, &[], devices, local_storage))
                .filter(|c| !matches!(c, BlockReason::Other | BlockReason::NoCompatibleHost))
                .min();
            match specific {
                Some(c) => c,
                None if local_storage => BlockReason::LocalStorage,
                None => BlockReason::NoCompatibleHost,
            }
        }
        _ => BlockReason::Other,
    }
}

fn stock_reason(code: BlockReason) -> &'static str {
    match code {
        BlockReason::LocalStorage => "its storage is not reachable from any other host",
        BlockReason::AffinityRule => "a mandatory VM/Host rule keeps it on this host",
        BlockReason::PassthroughDevice => "a PCI passthrough device is attached",
        BlockReason::UsbDevice => "a USB device of the host is attached",
        BlockReason::HostDevice => "a device of the host is attached",
        BlockReason::DrsDisabled => "DRS is disabled",
        BlockReason::DrsDisabledForVm => "DRS is disabled for this VM",
        BlockReason::DrsNotFullyAutomated => "DRS is not fully automated",
        BlockReason::FaultTolerance => "fault tolerance is configured",
        BlockReason::DeltaDisk => "it has a delta disk that cannot be moved",
        BlockReason::InsufficientResources => "no other host has the resources for it",
        BlockReason::NoCompatibleHost => "DRS found no compatible host for it",
        BlockReason::NoTargetHost => "no other host can take it",
        BlockReason::Other => "DRS cannot move it",
    }
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
            <VirtualDevice xsi:type="VirtualDisk"><key>2000</key></VirtualDevice></val>"#);
        let found: Vec<(BlockReason, String)> =
            pinning_devices(&val).into_iter().map(|d| (d.reason, d.label)).collect();
        assert_eq!(
            found,
            [
                (BlockReason::PassthroughDevice, "PCI device 0".into()),
                (BlockReason::UsbDevice, "USB 1".into()),
                (BlockReason::HostDevice, "CD/DVD drive 1".into()),
            ]
        );
    }

    #[test]
    fn drs_fault_types_become_reasons() {
        let pci = [PinningDevice { reason: BlockReason::PassthroughDevice, label: "PCI".into() }];
        assert_eq!(classify("DisallowedMigrationDeviceAttached", &[], &pci, false), BlockReason::PassthroughDevice);
        assert_eq!(classify("DisallowedMigrationDeviceAttached", &[], &[], false), BlockReason::HostDevice);
        assert_eq!(classify("VmHostAffinityRuleViolation", &[], &[], false), BlockReason::AffinityRule);
        assert_eq!(classify("DrsDisabledOnVm", &[], &[], false), BlockReason::DrsDisabledForVm);
        assert_eq!(classify("CannotMoveVmWithDeltaDisk", &[], &[], false), BlockReason::DeltaDisk);
        assert_eq!(classify("InsufficientHostCapacityFault", &[], &[], false), BlockReason::InsufficientResources);
        assert_eq!(classify("CannotMoveFaultToleranceVm", &[], &[], false), BlockReason::FaultTolerance);
        assert_eq!(
            classify("NoCompatibleHost", &["DatastoreNotWritableOnHost".into()], &[], false),
            BlockReason::LocalStorage
        );
        assert_eq!(classify("NoCompatibleHost", &[], &[], true), BlockReason::LocalStorage);
        assert_eq!(classify("NoCompatibleHost", &[], &[], false), BlockReason::NoCompatibleHost);
        assert_eq!(classify("SomethingNew", &[], &[], false), BlockReason::Other);
    }

    #[test]
    fn drs_faults_are_read_per_vm() {
        let val = doc(
            r#"<val xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ArrayOfClusterDrsFaults">
            <ClusterDrsFaults xsi:type="ClusterDrsFaults"><reason>hostMaint</reason>
              <faultsByVm xsi:type="ClusterDrsFaultsFaultsByVm"><vm type="VirtualMachine">vm-7</vm>
                <fault><fault xsi:type="NoCompatibleHost"><host type="HostSystem">host-2</host>
                  <error><fault xsi:type="DatastoreNotWritableOnHost"/><localizedMessage>not writable</localizedMessage></error></fault>
                  <localizedMessage>No compatible host for the VM</localizedMessage></fault></faultsByVm></ClusterDrsFaults></val>"#,
        );
        let props =
            Props { kind: "ClusterComputeResource".into(), values: HashMap::from([("drsFault".to_owned(), val)]) };
        let faults = drs_faults(Some(&props));
        let vm7 = &faults["vm-7"];
        assert_eq!(vm7.len(), 1);
        assert_eq!(vm7[0].fault.type_name, "NoCompatibleHost");
        assert_eq!(vm7[0].fault.message, "No compatible host for the VM");
        assert_eq!(vm7[0].nested, ["DatastoreNotWritableOnHost"]);
    }
}
