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
use super::mobility::{pinning_devices, ClusterDrs, DatastoreReach, Evacuation, PinningDevice, VmMobility};
use super::records::VmPowerState;
use super::soap::MoRef;
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

impl BlockReason {
    /// Its stable code, as serde spells it: what pauses, plans and `decide_job` store.
    pub fn code(self) -> &'static str {
        match self {
            BlockReason::LocalStorage => "local_storage",
            BlockReason::AffinityRule => "affinity_rule",
            BlockReason::PassthroughDevice => "passthrough_device",
            BlockReason::UsbDevice => "usb_device",
            BlockReason::HostDevice => "host_device",
            BlockReason::DrsDisabled => "drs_disabled",
            BlockReason::DrsDisabledForVm => "drs_disabled_for_vm",
            BlockReason::DrsNotFullyAutomated => "drs_not_fully_automated",
            BlockReason::FaultTolerance => "fault_tolerance",
            BlockReason::DeltaDisk => "delta_disk",
            BlockReason::InsufficientResources => "insufficient_resources",
            BlockReason::NoCompatibleHost => "no_compatible_host",
            BlockReason::NoTargetHost => "no_target_host",
            BlockReason::Other => "other",
        }
    }
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
    /// What it rests on: the device (label and key), datastore or rule name.
    #[serde(default)]
    pub evidence: Option<String>,
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

/// The cluster's DRS/HA configuration; a standalone host's compute resource has none
/// (`enabled` None: not a cluster).
fn cluster_drs(cluster: Option<&Props>) -> ClusterDrs {
    match cluster {
        Some(p) if p.kind == "ClusterComputeResource" => ClusterDrs::read(p.values.get("configurationEx")),
        _ => ClusterDrs::default(),
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
    drs: ClusterDrs,
    faults: BTreeMap<String, Vec<DrsVmFault>>,
    /// Other hosts of the cluster that are connected and out of maintenance mode.
    usable_hosts: BTreeSet<String>,
    host_names: HashMap<String, String>,
    datastores: HashMap<String, DatastoreReach>,
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
        let host_names = objects
            .iter()
            .filter(|(_, p)| p.kind == "HostSystem")
            .filter_map(|(id, p)| Some((id.clone(), p.text("name")?)))
            .collect();
        let datastores = objects
            .iter()
            .filter(|(_, p)| p.kind == "Datastore")
            .map(|(id, p)| (id.clone(), datastore_reach(id, p)))
            .collect();
        Facts {
            host: host_moid.to_owned(),
            host_name: objects.get(host_moid).and_then(|p| p.text("name")).unwrap_or_else(|| host_moid.to_owned()),
            objects: objects.clone(),
            drs: cluster_drs(cluster),
            faults: drs_faults(cluster),
            usable_hosts,
            host_names,
            datastores,
        }
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
        let evacuation = Evacuation {
            host_name: &self.host_name,
            usable_hosts: &self.usable_hosts,
            host_names: &self.host_names,
            drs: &self.drs,
            datastores: &self.datastores,
        };
        for (moid, p) in self.vms_on_host() {
            let power = p.text("runtime.powerState").and_then(|s| VmPowerState::from_vsphere(&s));
            let name = p.text("name").unwrap_or_else(|| moid.clone());
            let mobility = vm_mobility(p);
            let local_storage = !evacuation.local_datastores(&mobility).is_empty();
            let mut push = |reason_code: BlockReason,
                            reason: String,
                            source: BlockerSource,
                            fault: Option<String>,
                            evidence: Option<String>| {
                if seen.insert((moid.clone(), reason_code)) {
                    out.push(BlockingVm {
                        vm_moid: moid.clone(),
                        vm_name: name.clone(),
                        power_state: power,
                        reason_code,
                        reason,
                        source,
                        fault_type: fault,
                        evidence,
                    });
                }
            };
            // What DRS said, for any VM on the host (even one that is off now: the fault
            // stays until DRS runs again).
            for f in self.faults.get(moid).into_iter().flatten() {
                let code = classify(&f.fault.type_name, &f.nested, &mobility.devices, local_storage);
                let reason =
                    if f.fault.message.is_empty() { stock_reason(code).to_owned() } else { f.fault.message.clone() };
                push(code, reason, BlockerSource::Drs, Some(f.fault.type_name.clone()), None);
            }
            if power != Some(VmPowerState::PoweredOn) {
                continue;
            }
            // What the configuration says will stop DRS: the rule the plan uses too.
            for f in evacuation.blockers_of(moid, &mobility) {
                push(f.reason, f.sentence, BlockerSource::Configuration, None, f.evidence);
            }
        }
        out.sort_by(|a, b| (&a.vm_name, &a.vm_moid, a.reason_code).cmp(&(&b.vm_name, &b.vm_moid, b.reason_code)));
        out
    }
}

/// A VM's mobility facts from its properties (the paths in [`VM_FACT_PATHS`]).
fn vm_mobility(p: &Props) -> VmMobility {
    VmMobility {
        devices: p.values.get("config.hardware.device").map(pinning_devices).unwrap_or_default(),
        datastores: p.morefs("datastore").into_iter().map(|m| m.value).collect(),
        fault_tolerance: p.text("runtime.faultToleranceState").filter(|f| !f.is_empty() && f != "notConfigured"),
        memory_reservation_mb: None,
        cpu_reservation_mhz: None,
    }
}

/// Which hosts mount a datastore (`host`'s mount keys), and whether several can.
fn datastore_reach(moid: &str, p: &Props) -> DatastoreReach {
    DatastoreReach {
        name: p.text("name").unwrap_or_else(|| moid.to_owned()),
        hosts: p.values.get("host").map(|h| {
            h.children.iter().filter_map(|m| m.child("key")).filter_map(MoRef::from_node).map(|m| m.value).collect()
        }),
        multiple_host_access: p.flag("summary.multipleHostAccess"),
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
    use super::super::xml::{self, Node};
    use super::*;

    fn doc(xml: &str) -> Node {
        xml::parse_document(xml.as_bytes()).unwrap()
    }

    #[test]
    fn a_reasons_code_is_its_serde_name() {
        use BlockReason::*;
        for r in [
            LocalStorage,
            AffinityRule,
            PassthroughDevice,
            UsbDevice,
            HostDevice,
            DrsDisabled,
            DrsDisabledForVm,
            DrsNotFullyAutomated,
            FaultTolerance,
            DeltaDisk,
            InsufficientResources,
            NoCompatibleHost,
            NoTargetHost,
            Other,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!(r.code()));
        }
    }

    #[test]
    fn drs_fault_types_become_reasons() {
        let pci = [PinningDevice { reason: BlockReason::PassthroughDevice, label: "PCI".into(), key: None }];
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
