//! What we know about one vCenter's objects, built property by property, and how it
//! becomes records.
//!
//! Owns the property paths we ask for (narrow ones, never whole `config`), the meaning of
//! each one, and the derived fields (folder path, datacenter, cluster, network names,
//! custom attribute names, guest IP confidence, and what keeps a VM on its host — read
//! with the live evacuation gate's rules, [`super::mobility`]). A full sync and the change
//! stream feed the same [`State`] through [`State::set`], so both produce identical records.
//! It must never keep a response tree: each property value is turned into plain fields and
//! dropped.
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::mobility::{pinning_devices, ClusterDrs, PinningDevice, VmMobility};
use super::records::*;
use super::soap::{esc, MoRef};
use super::xml::Node;

/// Managed object types in the container view.
pub(crate) const VIEW_TYPES: &[&str] = &[
    "Folder",
    "Datacenter",
    "ComputeResource",
    "ClusterComputeResource",
    "HostSystem",
    "VirtualMachine",
    "Network",
    "DistributedVirtualPortgroup",
    "Datastore",
];

const FOLDER_PATHS: &[&str] = &["name", "parent"];
const NETWORK_PATHS: &[&str] = &["name"];
const COMPUTE_RESOURCE_PATHS: &[&str] = &["name", "parent"];
// `configurationEx.drsConfig…` is refused by vCenter (InvalidProperty: the declared type
// has no such member); the deprecated `configuration` still carries these. The whole
// `configurationEx` is fine (the evacuation gate reads it too): its rules, groups, per-VM
// overrides and HA admission control are what [`ClusterDrs::read`] makes of it.
const CLUSTER_PATHS: &[&str] = &[
    "name",
    "parent",
    "configuration.drsConfig.enabled",
    "configuration.drsConfig.defaultVmBehavior",
    "configuration.dasConfig.enabled",
    "configurationEx",
];
const HOST_PATHS: &[&str] = &[
    "name",
    "parent",
    "hardware.systemInfo",
    "config.product.version",
    "config.product.build",
    "config.virtualNicManagerInfo.netConfig",
    "runtime.connectionState",
    "runtime.powerState",
    "runtime.inMaintenanceMode",
    "summary.hardware.cpuModel",
    "summary.hardware.numCpuCores",
    "summary.hardware.numCpuThreads",
    "summary.hardware.memorySize",
    "summary.hardware.cpuMhz",
    "customValue",
];
const VM_PATHS: &[&str] = &[
    "name",
    "parent",
    "runtime.host",
    "runtime.powerState",
    "runtime.faultToleranceState",
    "config.uuid",
    "config.instanceUuid",
    "config.hardware.numCPU",
    "config.hardware.memoryMB",
    "config.hardware.device",
    "config.guestFullName",
    "config.annotation",
    "config.template",
    "config.memoryAllocation.reservation",
    "config.cpuAllocation.reservation",
    "datastore",
    "guest.toolsStatus",
    "guest.toolsRunningStatus",
    "guest.hostName",
    "guest.ipAddress",
    "guest.net",
    "snapshot.rootSnapshotList",
    "customValue",
];

const DATASTORE_PATHS: &[&str] = &["name", "summary.multipleHostAccess", "host"];

/// The property specs of one PropertyFilterSpec: per type, the paths we read.
pub(crate) const PROPERTY_SPECS: &[(&str, &[&str])] = &[
    ("Folder", FOLDER_PATHS),
    ("Datacenter", FOLDER_PATHS),
    ("ComputeResource", COMPUTE_RESOURCE_PATHS),
    ("ClusterComputeResource", CLUSTER_PATHS),
    ("HostSystem", HOST_PATHS),
    ("VirtualMachine", VM_PATHS),
    ("Network", NETWORK_PATHS),
    ("DistributedVirtualPortgroup", NETWORK_PATHS),
    ("Datastore", DATASTORE_PATHS),
    ("CustomFieldsManager", &["field"]),
];

/// A `PropertyFilterSpec` (as element `tag`: `specSet` for RetrievePropertiesEx, `spec`
/// for CreateFilter) over everything in `view`, plus the custom field definitions.
pub(crate) fn filter_spec(tag: &str, view: &MoRef, custom_fields: Option<&MoRef>) -> String {
    let mut s = format!("<{tag}>");
    for (kind, paths) in PROPERTY_SPECS {
        if *kind == "CustomFieldsManager" && custom_fields.is_none() {
            continue;
        }
        s.push_str("<propSet><type>");
        s.push_str(kind);
        s.push_str("</type><all>false</all>");
        for p in *paths {
            s.push_str("<pathSet>");
            s.push_str(p);
            s.push_str("</pathSet>");
        }
        s.push_str("</propSet>");
    }
    s.push_str("<objectSet>");
    s.push_str(&view.xml("obj"));
    s.push_str(
        "<skip>true</skip><selectSet xsi:type=\"TraversalSpec\"><name>traverseView</name>\
         <type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet>",
    );
    if let Some(cfm) = custom_fields {
        s.push_str("<objectSet>");
        s.push_str(&cfm.xml("obj"));
        s.push_str("<skip>false</skip></objectSet>");
    }
    s.push_str(&format!("</{tag}>"));
    s
}

/// `<type>…</type>` elements for CreateContainerView.
pub(crate) fn view_types_xml() -> String {
    VIEW_TYPES.iter().map(|t| format!("<type>{}</type>", esc(t))).collect()
}

/// Elements inside property values that nothing in this module reads: mostly the
/// details of non-network devices in `config.hardware.device`, the bulk of a VM page, and
/// the per-VM and per-host parts of a cluster's `configurationEx` that say nothing about
/// moving VMs. Dropped while reading (see [`super::xml::Ignore`]), at any depth, by local
/// name; a reader that starts using one of these names must take it out of this list.
///
/// What [`pinning_devices`] and [`ClusterDrs::read`] read stays: a device's `key`,
/// `deviceInfo.label`, `backing` (its xsi:type), `connectable.connected` and `connected`;
/// `drsConfig`, `drsVmConfig`, `dasConfig`, `rule` and `group`. (`summary` and `datastore`
/// here are a device's `deviceInfo.summary` and a disk backing's datastore; the
/// properties `summary.…` and `datastore` arrive as `val` elements.) The model tests read
/// pages through this list to keep it so.
pub(crate) fn unread(name: &str) -> bool {
    matches!(
        name,
        "summary"
            | "busNumber"
            | "device"
            | "controllerKey"
            | "unitNumber"
            | "slotInfo"
            | "addressType"
            | "wakeOnLanEnabled"
            | "capacityInKB"
            | "capacityInBytes"
            | "fileName"
            | "datastore"
            | "diskMode"
            | "split"
            | "writeThrough"
            | "thinProvisioned"
            | "eagerlyScrub"
            | "digestEnabled"
            | "videoRamSizeInKB"
            | "numDisplays"
            | "useAutoDetect"
            | "enable3DSupport"
            | "use3dRenderer"
            | "graphicsMemorySizeInKB"
            | "allowUnrestrictedCommunication"
            | "filterEnable"
            | "sharedBus"
            | "scsiCtlrUnitNumber"
            | "hostPointingDevice"
            | "startConnected"
            | "allowGuestControl"
            | "uptCompatibilityEnabled"
            | "resourceAllocation"
            | "externalId"
            | "dnsConfig"
            | "ipStack"
            | "storageIOAllocation"
            | "vDiskId"
            | "iofilter"
            | "shares"
            | "contentId"
            | "changeId"
            | "parent"
            | "sharing"
            | "deltaDiskFormat"
            | "nativeUnmanagedLinkedClone"
            | "dasVmConfig"
            | "dpmHostConfig"
            | "vsanHostConfig"
            | "vmOrchestration"
    )
}

/// Which kind of object a managed object type is, for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Folder,
    Datacenter,
    ComputeResource,
    Cluster,
    Host,
    Vm,
    Network,
    Datastore,
    CustomFields,
    Other,
}

impl Kind {
    pub(crate) fn of(mo_type: &str) -> Kind {
        match mo_type {
            "Folder" => Kind::Folder,
            "Datacenter" => Kind::Datacenter,
            "ComputeResource" => Kind::ComputeResource,
            "ClusterComputeResource" => Kind::Cluster,
            "HostSystem" => Kind::Host,
            "VirtualMachine" => Kind::Vm,
            "Network" | "DistributedVirtualPortgroup" | "OpaqueNetwork" => Kind::Network,
            "Datastore" => Kind::Datastore,
            "CustomFieldsManager" => Kind::CustomFields,
            _ => Kind::Other,
        }
    }

    /// Objects whose change can change other objects' derived fields.
    pub(crate) fn is_topology(self) -> bool {
        !matches!(self, Kind::Vm | Kind::Datastore | Kind::Other)
    }
}

/// A node of the inventory tree: enough to derive paths, datacenters and clusters.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub kind: Kind,
    pub name: String,
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterRaw {
    pub drs_enabled: Option<bool>,
    pub drs_behavior: Option<String>,
    pub ha_enabled: Option<bool>,
    /// From the whole `configurationEx`.
    pub drs: Option<ClusterDrs>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct HostRaw {
    pub hardware_uuid: Option<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub service_tag: Option<String>,
    pub esxi_version: Option<String>,
    pub esxi_build: Option<String>,
    pub connection_state: Option<HostConnectionState>,
    pub power_state: Option<HostPowerState>,
    pub in_maintenance_mode: bool,
    pub management_ips: Vec<String>,
    pub cpu_model: Option<String>,
    pub cpu_cores: Option<u32>,
    pub cpu_threads: Option<u32>,
    pub memory_mb: Option<u64>,
    pub cpu_mhz: Option<u32>,
    pub custom: Vec<(i32, String)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct NicRaw {
    pub key: Option<i32>,
    pub mac: String,
    pub label: String,
    pub connected: bool,
    /// Network name from a standard port group backing.
    pub network_name: Option<String>,
    /// A network moid (standard backing) or distributed port group key (= its moid).
    pub network_ref: Option<String>,
    /// NSX opaque network id, the last resort for a name.
    pub opaque_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct GuestNicRaw {
    pub mac: Option<String>,
    pub network: Option<String>,
    pub device_key: Option<i32>,
    /// (address, prefix length, state)
    pub addresses: Vec<(String, Option<u8>, Option<String>)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct VmRaw {
    pub name: String,
    pub parent: Option<String>,
    pub host: Option<String>,
    pub uuid: Option<String>,
    pub instance_uuid: Option<String>,
    pub vcpu: Option<u32>,
    pub memory_mb: Option<u32>,
    pub power_state: Option<VmPowerState>,
    pub tools_status: Option<ToolsStatus>,
    pub tools_running: Option<String>,
    pub guest_os: Option<String>,
    pub guest_hostname: Option<String>,
    pub guest_ip: Option<String>,
    pub nics: Vec<NicRaw>,
    pub guest_net: Vec<GuestNicRaw>,
    pub notes: Option<String>,
    pub snapshot_count: u32,
    pub is_template: bool,
    pub custom: Vec<(i32, String)>,
    /// Devices of `config.hardware.device` that keep it on its host.
    pub pinning: Vec<PinningDevice>,
    /// `datastore`: moids, in vCenter's order.
    pub datastores: Vec<String>,
    pub fault_tolerance: Option<String>,
    pub memory_reservation_mb: Option<i64>,
    pub cpu_reservation_mhz: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct DatastoreRaw {
    pub name: String,
    pub hosts: Option<Vec<String>>,
    pub multiple_host_access: Option<bool>,
}

/// Everything known about one vCenter's objects.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Folders, datacenters, compute resources, clusters, hosts and networks.
    pub places: HashMap<String, Place>,
    pub clusters: HashMap<String, ClusterRaw>,
    pub hosts: HashMap<String, HostRaw>,
    pub vms: HashMap<String, VmRaw>,
    pub datastores: HashMap<String, DatastoreRaw>,
    /// Custom field key → name.
    pub fields: HashMap<i32, String>,
    /// The root folder's moid (not itself in a container view of it).
    pub root: Option<String>,
}

impl State {
    pub(crate) fn with_root(root: &MoRef) -> State {
        State { root: Some(root.value.clone()), ..State::default() }
    }

    /// An object appears (before its properties are set).
    pub(crate) fn enter(&mut self, obj: &MoRef) {
        let kind = Kind::of(&obj.kind);
        match kind {
            Kind::Vm => {
                self.vms.entry(obj.value.clone()).or_default();
            }
            Kind::Datastore => {
                self.datastores.entry(obj.value.clone()).or_default();
            }
            Kind::Other | Kind::CustomFields => {}
            _ => {
                self.places.entry(obj.value.clone()).or_insert(Place { kind, name: String::new(), parent: None });
                match kind {
                    Kind::Cluster => {
                        self.clusters.entry(obj.value.clone()).or_default();
                    }
                    Kind::Host => {
                        self.hosts.entry(obj.value.clone()).or_default();
                    }
                    _ => {}
                }
            }
        }
    }

    /// An object is gone.
    pub(crate) fn leave(&mut self, obj: &MoRef) {
        self.places.remove(&obj.value);
        self.clusters.remove(&obj.value);
        self.hosts.remove(&obj.value);
        self.vms.remove(&obj.value);
        self.datastores.remove(&obj.value);
    }

    /// Set property `path` of `obj` to `val` (None: unset). Unknown paths are ignored.
    pub(crate) fn set(&mut self, obj: &MoRef, path: &str, val: Option<&Node>) {
        let kind = Kind::of(&obj.kind);
        if kind == Kind::CustomFields {
            if path == "field" {
                self.fields = val.map(custom_field_defs).unwrap_or_default();
            }
            return;
        }
        if kind == Kind::Other {
            return;
        }
        self.enter(obj);
        let id = &obj.value;
        if kind == Kind::Vm {
            if let Some(vm) = self.vms.get_mut(id) {
                set_vm(vm, path, val);
            }
            return;
        }
        if kind == Kind::Datastore {
            if let Some(ds) = self.datastores.get_mut(id) {
                set_datastore(ds, path, val);
            }
            return;
        }
        if let Some(place) = self.places.get_mut(id) {
            match path {
                "name" => place.name = val.map(text).unwrap_or_default(),
                "parent" => place.parent = val.and_then(MoRef::from_node).map(|r| r.value),
                _ => {}
            }
        }
        match kind {
            Kind::Cluster => {
                if let Some(c) = self.clusters.get_mut(id) {
                    set_cluster(c, path, val);
                }
            }
            Kind::Host => {
                if let Some(h) = self.hosts.get_mut(id) {
                    set_host(h, path, val);
                }
            }
            _ => {}
        }
    }

    fn walk_up(&self, start: Option<&str>, mut visit: impl FnMut(&str, &Place) -> bool) {
        let mut cur = start.map(str::to_owned);
        // A cycle can't happen in vCenter, but a hostile or broken answer must not hang us.
        for _ in 0..128 {
            let Some(id) = cur else { return };
            let Some(place) = self.places.get(&id) else { return };
            if !visit(&id, place) {
                return;
            }
            cur = place.parent.clone();
        }
    }

    fn datacenter_of(&self, start: Option<&str>) -> Option<String> {
        let mut found = None;
        self.walk_up(start, |id, p| {
            if p.kind == Kind::Datacenter {
                found = Some(id.to_owned());
                return false;
            }
            true
        });
        found
    }

    /// `/DC0/vm/Prod` for the folder `folder`: names up to (not including) the root folder.
    fn folder_path(&self, folder: Option<&str>) -> Option<String> {
        let mut names = Vec::new();
        let mut cur = folder?.to_owned();
        for _ in 0..128 {
            if self.root.as_deref() == Some(cur.as_str()) {
                names.reverse();
                return Some(format!("/{}", names.join("/")));
            }
            let place = self.places.get(&cur)?;
            match &place.parent {
                // The root folder itself (when the caller did not name it).
                None if place.kind == Kind::Folder => {
                    names.reverse();
                    return Some(format!("/{}", names.join("/")));
                }
                None => return None,
                Some(parent) => {
                    names.push(place.name.clone());
                    cur = parent.clone();
                }
            }
        }
        None
    }

    fn cluster_of_host(&self, host: &str) -> Option<String> {
        let parent = self.places.get(host)?.parent.as_ref()?;
        (self.places.get(parent)?.kind == Kind::Cluster).then_some(parent.clone())
    }

    fn custom_attributes(&self, raw: &[(i32, String)]) -> BTreeMap<String, String> {
        raw.iter()
            .map(|(k, v)| (self.fields.get(k).cloned().unwrap_or_else(|| format!("field-{k}")), v.clone()))
            .collect()
    }

    pub(crate) fn datacenter(&self, id: &str) -> Option<DatacenterRecord> {
        let p = self.places.get(id).filter(|p| p.kind == Kind::Datacenter)?;
        Some(DatacenterRecord { moid: id.to_owned(), name: p.name.clone() })
    }

    pub(crate) fn cluster(&self, id: &str) -> Option<ClusterRecord> {
        let p = self.places.get(id)?;
        let c = self.clusters.get(id)?;
        Some(ClusterRecord {
            moid: id.to_owned(),
            name: p.name.clone(),
            datacenter_moid: self.datacenter_of(p.parent.as_deref()),
            drs_enabled: c.drs_enabled,
            drs_behavior: c.drs_behavior.clone(),
            ha_enabled: c.ha_enabled,
            drs: c.drs.clone(),
        })
    }

    pub(crate) fn host(&self, id: &str) -> Option<HostRecord> {
        let p = self.places.get(id)?;
        let h = self.hosts.get(id)?;
        Some(HostRecord {
            moid: id.to_owned(),
            name: p.name.clone(),
            datacenter_moid: self.datacenter_of(p.parent.as_deref()),
            cluster_moid: self.cluster_of_host(id),
            hardware_uuid: h.hardware_uuid.clone(),
            vendor: h.vendor.clone(),
            model: h.model.clone(),
            serial_number: h.serial_number.clone(),
            service_tag: h.service_tag.clone(),
            esxi_version: h.esxi_version.clone(),
            esxi_build: h.esxi_build.clone(),
            connection_state: h.connection_state,
            power_state: h.power_state,
            in_maintenance_mode: h.in_maintenance_mode,
            management_ips: h.management_ips.clone(),
            cpu_model: h.cpu_model.clone(),
            cpu_cores: h.cpu_cores,
            cpu_threads: h.cpu_threads,
            memory_mb: h.memory_mb,
            cpu_mhz: h.cpu_mhz,
            tags: Vec::new(),
            custom_attributes: self.custom_attributes(&h.custom),
        })
    }

    pub(crate) fn vm(&self, id: &str) -> Option<VmRecord> {
        let v = self.vms.get(id)?;
        let host_moid = v.host.clone();
        let cluster_moid = host_moid.as_deref().and_then(|h| self.cluster_of_host(h));
        let datacenter_moid =
            self.datacenter_of(v.parent.as_deref()).or_else(|| self.datacenter_of(host_moid.as_deref()));
        let from_running = match v.tools_running.as_deref() {
            Some("guestToolsRunning") | Some("guestToolsExecutingScripts") => Some(ToolsStatus::Ok),
            Some("guestToolsNotRunning") => Some(ToolsStatus::NotRunning),
            _ => None,
        };
        let tools_status = v.tools_status.or(from_running);
        let nics: Vec<VmNic> = v
            .nics
            .iter()
            .map(|n| VmNic {
                mac: n.mac.clone(),
                network: n
                    .network_name
                    .clone()
                    .or_else(|| n.network_ref.as_ref().and_then(|r| self.places.get(r)).map(|p| p.name.clone()))
                    .or_else(|| {
                        v.guest_net.iter().find(|g| g.device_key.is_some() && g.device_key == n.key)?.network.clone()
                    })
                    .or_else(|| n.opaque_id.clone()),
                connected: n.connected,
                label: n.label.clone(),
            })
            .collect();
        Some(VmRecord {
            uuid: v.uuid.clone(),
            instance_uuid: v.instance_uuid.clone(),
            moid: id.to_owned(),
            name: v.name.clone(),
            folder_path: self.folder_path(v.parent.as_deref()),
            vcpu: v.vcpu,
            memory_mb: v.memory_mb,
            power_state: v.power_state,
            tools_status,
            guest_os: v.guest_os.clone(),
            guest_hostname: v.guest_hostname.clone(),
            guest_ips: guest_ips(v, tools_status, &nics),
            nics,
            tags: Vec::new(),
            custom_attributes: self.custom_attributes(&v.custom),
            notes: v.notes.clone(),
            has_snapshot: v.snapshot_count > 0,
            snapshot_count: v.snapshot_count,
            is_template: v.is_template,
            host_moid,
            cluster_moid,
            datacenter_moid,
            mobility: VmMobility {
                devices: v.pinning.clone(),
                datastores: v.datastores.clone(),
                fault_tolerance: v.fault_tolerance.clone(),
                memory_reservation_mb: v.memory_reservation_mb,
                cpu_reservation_mhz: v.cpu_reservation_mhz,
            },
        })
    }

    pub(crate) fn datastore(&self, id: &str) -> Option<DatastoreRecord> {
        let d = self.datastores.get(id)?;
        Some(DatastoreRecord {
            moid: id.to_owned(),
            name: d.name.clone(),
            hosts: d.hosts.clone(),
            multiple_host_access: d.multiple_host_access,
        })
    }

    /// The record of `id` if it is a datacenter, cluster, host, VM or datastore.
    pub(crate) fn record(&self, id: &str) -> Option<InventoryRecord> {
        if self.vms.contains_key(id) {
            return self.vm(id).map(InventoryRecord::Vm);
        }
        if self.datastores.contains_key(id) {
            return self.datastore(id).map(InventoryRecord::Datastore);
        }
        match self.places.get(id)?.kind {
            Kind::Datacenter => self.datacenter(id).map(InventoryRecord::Datacenter),
            Kind::Cluster => self.cluster(id).map(InventoryRecord::Cluster),
            Kind::Host => self.host(id).map(InventoryRecord::Host),
            _ => None,
        }
    }

    /// Every record object's moid.
    pub(crate) fn record_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .places
            .iter()
            .filter(|(_, p)| matches!(p.kind, Kind::Datacenter | Kind::Cluster | Kind::Host))
            .map(|(id, _)| id.clone())
            .chain(self.vms.keys().cloned())
            .chain(self.datastores.keys().cloned())
            .collect();
        ids.sort();
        ids
    }

    /// The whole inventory, sorted by moid.
    pub(crate) fn inventory(&self) -> Inventory {
        let mut inv = Inventory::default();
        let mut place_ids: Vec<&String> = self.places.keys().collect();
        place_ids.sort_by(|a, b| natural(a, b));
        for id in place_ids {
            match self.places[id].kind {
                Kind::Datacenter => inv.datacenters.extend(self.datacenter(id)),
                Kind::Cluster => inv.clusters.extend(self.cluster(id)),
                Kind::Host => inv.hosts.extend(self.host(id)),
                _ => {}
            }
        }
        let mut vm_ids: Vec<&String> = self.vms.keys().collect();
        vm_ids.sort_by(|a, b| natural(a, b));
        inv.vms = vm_ids.into_iter().filter_map(|id| self.vm(id)).collect();
        let mut ds_ids: Vec<&String> = self.datastores.keys().collect();
        ds_ids.sort_by(|a, b| natural(a, b));
        inv.datastores = ds_ids.into_iter().filter_map(|id| self.datastore(id)).collect();
        inv
    }
}

/// `vm-9` before `vm-10`.
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| {
        let digits = s.len() - s.bytes().rev().take_while(u8::is_ascii_digit).count();
        (s[..digits].to_owned(), s[digits..].parse::<u64>().unwrap_or(0), s.to_owned())
    };
    split(a).cmp(&split(b))
}

fn text(n: &Node) -> String {
    n.text.trim().to_owned()
}

fn opt_text(val: Option<&Node>) -> Option<String> {
    val.map(text).filter(|s| !s.is_empty())
}

fn parse<T: std::str::FromStr>(val: Option<&Node>) -> Option<T> {
    val.and_then(|n| n.text.trim().parse().ok())
}

fn boolean(val: Option<&Node>) -> Option<bool> {
    match val.map(|n| n.text.trim()) {
        Some("true") | Some("1") => Some(true),
        Some("false") | Some("0") => Some(false),
        _ => None,
    }
}

fn lower_mac(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

fn set_cluster(c: &mut ClusterRaw, path: &str, val: Option<&Node>) {
    match path {
        "configuration.drsConfig.enabled" => c.drs_enabled = boolean(val),
        "configuration.drsConfig.defaultVmBehavior" => c.drs_behavior = opt_text(val),
        "configuration.dasConfig.enabled" => c.ha_enabled = boolean(val),
        "configurationEx" => c.drs = val.map(|v| ClusterDrs::read(Some(v))),
        _ => {}
    }
}

fn set_host(h: &mut HostRaw, path: &str, val: Option<&Node>) {
    match path {
        "hardware.systemInfo" => {
            let get = |name: &str| val.and_then(|v| v.text_of(name)).map(str::trim).filter(|s| !s.is_empty());
            h.hardware_uuid = get("uuid").map(str::to_owned);
            h.vendor = get("vendor").map(str::to_owned);
            h.model = get("model").map(str::to_owned);
            let other: Vec<(String, String)> = val
                .map(|v| {
                    v.children_named("otherIdentifyingInfo")
                        .filter_map(|i| {
                            let key = i.at(&["identifierType", "key"])?.text.trim().to_owned();
                            Some((key, i.text_of("identifierValue")?.trim().to_owned()))
                        })
                        .filter(|(_, v)| !v.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let find = |k: &str| other.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            h.service_tag = find("ServiceTag").or_else(|| find("EnclosureSerialNumberTag"));
            h.serial_number = get("serialNumber")
                .map(str::to_owned)
                .or_else(|| find("SerialNumberTag"))
                .or_else(|| find("ServiceTag"));
        }
        "config.product.version" => h.esxi_version = opt_text(val),
        "config.product.build" => h.esxi_build = opt_text(val),
        "runtime.connectionState" => h.connection_state = val.and_then(|v| HostConnectionState::from_vsphere(&v.text)),
        "runtime.powerState" => h.power_state = val.and_then(|v| HostPowerState::from_vsphere(&v.text)),
        "runtime.inMaintenanceMode" => h.in_maintenance_mode = boolean(val).unwrap_or(false),
        "summary.hardware.cpuModel" => h.cpu_model = opt_text(val),
        "summary.hardware.numCpuCores" => h.cpu_cores = parse(val),
        "summary.hardware.numCpuThreads" => h.cpu_threads = parse(val),
        "summary.hardware.memorySize" => h.memory_mb = parse::<u64>(val).map(|b| b / (1024 * 1024)),
        "summary.hardware.cpuMhz" => h.cpu_mhz = parse(val),
        "config.virtualNicManagerInfo.netConfig" => h.management_ips = val.map(management_ips).unwrap_or_default(),
        "customValue" => h.custom = val.map(custom_values).unwrap_or_default(),
        _ => {}
    }
}

/// Addresses of the vmkernel NICs selected for management traffic.
fn management_ips(val: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for cfg in val.children.iter().filter(|c| c.text_of("nicType").map(str::trim) == Some("management")) {
        let selected: Vec<&str> = cfg.children_named("selectedVnic").map(|s| s.text.trim()).collect();
        for vnic in cfg.children_named("candidateVnic") {
            let key = vnic.text_of("key").map(str::trim).unwrap_or_default();
            if !selected.contains(&key) {
                continue;
            }
            let Some(ip) = vnic.at(&["spec", "ip"]) else { continue };
            let v4 = ip.text_of("ipAddress").map(str::trim).filter(|s| !s.is_empty());
            let v6 = ip
                .child("ipV6Config")
                .into_iter()
                .flat_map(|c| c.children_named("ipV6Address"))
                .filter_map(|a| a.text_of("ipAddress").map(str::trim));
            for addr in v4.into_iter().chain(v6) {
                if let Some(ip) = reportable(addr) {
                    if !out.contains(&ip) {
                        out.push(ip);
                    }
                }
            }
        }
    }
    out
}

fn set_vm(vm: &mut VmRaw, path: &str, val: Option<&Node>) {
    match path {
        "name" => vm.name = val.map(text).unwrap_or_default(),
        "parent" => vm.parent = val.and_then(MoRef::from_node).map(|r| r.value),
        "runtime.host" => vm.host = val.and_then(MoRef::from_node).map(|r| r.value),
        "runtime.powerState" => vm.power_state = val.and_then(|v| VmPowerState::from_vsphere(&v.text)),
        "config.uuid" => vm.uuid = opt_text(val),
        "config.instanceUuid" => vm.instance_uuid = opt_text(val),
        "config.hardware.numCPU" => vm.vcpu = parse(val),
        "config.hardware.memoryMB" => vm.memory_mb = parse(val),
        "config.hardware.device" => {
            vm.nics = val.map(nics).unwrap_or_default();
            vm.pinning = val.map(pinning_devices).unwrap_or_default();
        }
        "runtime.faultToleranceState" => {
            vm.fault_tolerance = opt_text(val).filter(|f| f != "notConfigured");
        }
        "config.memoryAllocation.reservation" => vm.memory_reservation_mb = parse::<i64>(val).filter(|r| *r > 0),
        "config.cpuAllocation.reservation" => vm.cpu_reservation_mhz = parse::<i64>(val).filter(|r| *r > 0),
        "datastore" => vm.datastores = val.map(morefs).unwrap_or_default(),
        "config.guestFullName" => vm.guest_os = opt_text(val),
        "config.annotation" => vm.notes = opt_text(val),
        "config.template" => vm.is_template = boolean(val).unwrap_or(false),
        "guest.toolsStatus" => vm.tools_status = val.and_then(|v| ToolsStatus::from_vsphere(&v.text)),
        "guest.toolsRunningStatus" => vm.tools_running = opt_text(val),
        "guest.hostName" => vm.guest_hostname = opt_text(val),
        "guest.ipAddress" => vm.guest_ip = opt_text(val),
        "guest.net" => vm.guest_net = val.map(guest_net).unwrap_or_default(),
        "snapshot.rootSnapshotList" => vm.snapshot_count = val.map(count_snapshots).unwrap_or(0),
        "customValue" => vm.custom = val.map(custom_values).unwrap_or_default(),
        _ => {}
    }
}

fn set_datastore(d: &mut DatastoreRaw, path: &str, val: Option<&Node>) {
    match path {
        "name" => d.name = val.map(text).unwrap_or_default(),
        "summary.multipleHostAccess" => d.multiple_host_access = boolean(val),
        "host" => {
            d.hosts = val.map(|v| {
                let mut hosts: Vec<String> = v
                    .children
                    .iter()
                    .filter_map(|m| m.child("key"))
                    .filter_map(MoRef::from_node)
                    .map(|m| m.value)
                    .collect();
                hosts.sort_by(|a, b| natural(a, b));
                hosts.dedup();
                hosts
            })
        }
        _ => {}
    }
}

/// The moids of an array of ManagedObjectReferences, in its order.
fn morefs(val: &Node) -> Vec<String> {
    val.children.iter().filter_map(MoRef::from_node).map(|m| m.value).collect()
}

/// Ethernet cards are the devices with a MAC address.
fn nics(val: &Node) -> Vec<NicRaw> {
    val.children
        .iter()
        .filter_map(|d| {
            let mac = d.text_of("macAddress").map(lower_mac).filter(|m| !m.is_empty())?;
            let backing = d.child("backing");
            let kind = backing.and_then(|b| b.xsi_type.as_deref()).unwrap_or_default();
            let mut nic = NicRaw {
                key: d.text_of("key").and_then(|k| k.trim().parse().ok()),
                mac,
                label: d.at(&["deviceInfo", "label"]).map(text).unwrap_or_default(),
                connected: d.at(&["connectable", "connected"]).map(|c| c.text.trim() == "true").unwrap_or(false),
                ..Default::default()
            };
            if let Some(b) = backing {
                if kind.ends_with("DistributedVirtualPortBackingInfo") {
                    nic.network_ref = b.at(&["port", "portgroupKey"]).map(text);
                } else if kind.ends_with("OpaqueNetworkBackingInfo") {
                    nic.opaque_id = b.text_of("opaqueNetworkId").map(|s| s.trim().to_owned());
                } else {
                    nic.network_name = b.text_of("deviceName").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
                    nic.network_ref = b.child("network").and_then(MoRef::from_node).map(|r| r.value);
                }
            }
            Some(nic)
        })
        .collect()
}

fn guest_net(val: &Node) -> Vec<GuestNicRaw> {
    val.children
        .iter()
        .map(|n| {
            let mut addresses: Vec<(String, Option<u8>, Option<String>)> = n
                .child("ipConfig")
                .into_iter()
                .flat_map(|c| c.children_named("ipAddress"))
                .filter_map(|a| {
                    let ip = a.text_of("ipAddress")?.trim().to_owned();
                    let prefix = a.text_of("prefixLength").and_then(|p| p.trim().parse().ok());
                    Some((ip, prefix, a.text_of("state").map(|s| s.trim().to_owned())))
                })
                .collect();
            for plain in n.children_named("ipAddress") {
                let ip = plain.text.trim();
                if !ip.is_empty() && !addresses.iter().any(|(a, _, _)| a == ip) {
                    addresses.push((ip.to_owned(), None, None));
                }
            }
            GuestNicRaw {
                mac: n.text_of("macAddress").map(lower_mac).filter(|m| !m.is_empty()),
                network: n.text_of("network").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
                device_key: n.text_of("deviceConfigId").and_then(|k| k.trim().parse().ok()),
                addresses,
            }
        })
        .collect()
}

/// The address in canonical form, or None if it must never be reported.
pub(crate) fn reportable(addr: &str) -> Option<String> {
    // Guests sometimes report "fe80::1%eth0".
    let bare = addr.trim().split('%').next().unwrap_or_default();
    let ip: IpAddr = bare.parse().ok()?;
    let excluded = match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_multicast(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback() || v4.is_link_local())
        }
    };
    (!excluded).then(|| ip.to_string())
}

/// Guest addresses with their confidence (see [`GuestIp`]).
fn guest_ips(vm: &VmRaw, tools: Option<ToolsStatus>, nics: &[VmNic]) -> Vec<GuestIp> {
    let running = tools.is_some_and(ToolsStatus::is_running);
    let mut out: Vec<GuestIp> = Vec::new();
    for g in &vm.guest_net {
        let matched = g.mac.as_ref().is_some_and(|m| nics.iter().any(|n| &n.mac == m));
        for (addr, prefix, state) in &g.addresses {
            let state = state.as_deref().unwrap_or("preferred");
            if matches!(state, "invalid" | "inaccessible") {
                continue;
            }
            let Some(ip) = reportable(addr) else { continue };
            let confidence = if !running || !matches!(state, "preferred" | "unknown") {
                IP_CONFIDENCE_LOW
            } else if matched {
                IP_CONFIDENCE_HIGH
            } else {
                IP_CONFIDENCE_MEDIUM
            };
            if !out.iter().any(|o| o.ip == ip) {
                out.push(GuestIp { ip, mac: g.mac.clone(), prefix_length: *prefix, confidence });
            }
        }
    }
    if let Some(ip) = vm.guest_ip.as_deref().and_then(reportable) {
        if !out.iter().any(|o| o.ip == ip) {
            let confidence = if running { IP_CONFIDENCE_MEDIUM } else { IP_CONFIDENCE_LOW };
            out.push(GuestIp { ip, mac: None, prefix_length: None, confidence });
        }
    }
    out
}

fn count_snapshots(val: &Node) -> u32 {
    // Iterative: a snapshot chain can be long, and the tree comes from the network.
    let mut count = 0u32;
    let mut todo: Vec<&Node> = val.children.iter().collect();
    while let Some(n) = todo.pop() {
        count = count.saturating_add(1);
        todo.extend(n.children_named("childSnapshotList"));
    }
    count
}

fn custom_values(val: &Node) -> Vec<(i32, String)> {
    val.children
        .iter()
        .filter_map(|c| {
            Some((c.text_of("key")?.trim().parse().ok()?, c.text_of("value").unwrap_or_default().to_owned()))
        })
        .collect()
}

fn custom_field_defs(val: &Node) -> HashMap<i32, String> {
    val.children
        .iter()
        .filter_map(|c| Some((c.text_of("key")?.trim().parse().ok()?, c.text_of("name")?.trim().to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_reports_loopback_link_local_or_apipa() {
        for bad in ["127.0.0.1", "169.254.10.1", "fe80::1", "fe80::250:56ff:fe00:1%eth0", "::1", "0.0.0.0", "224.0.0.1"]
        {
            assert_eq!(reportable(bad), None, "{bad}");
        }
        assert_eq!(reportable("10.0.0.5").as_deref(), Some("10.0.0.5"));
        assert_eq!(reportable("2001:db8::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(reportable("not an ip"), None);
    }

    #[test]
    fn folder_paths_datacenters_and_clusters() {
        let mut s = State::default();
        let place = |s: &mut State, kind: &str, id: &str, name: &str, parent: Option<(&str, &str)>| {
            let obj = MoRef::new(kind, id);
            let mut n = Node::new("val");
            n.text = name.into();
            s.set(&obj, "name", Some(&n));
            if let Some((pk, pv)) = parent {
                let mut p = Node::new("val");
                p.mo_type = Some(pk.into());
                p.text = pv.into();
                s.set(&obj, "parent", Some(&p));
            }
        };
        place(&mut s, "Folder", "group-d1", "Datacenters", None);
        place(&mut s, "Datacenter", "dc-1", "DC0", Some(("Folder", "group-d1")));
        place(&mut s, "Folder", "group-v1", "vm", Some(("Datacenter", "dc-1")));
        place(&mut s, "Folder", "f-2", "Prod", Some(("Folder", "group-v1")));
        place(&mut s, "Folder", "group-h1", "host", Some(("Datacenter", "dc-1")));
        place(&mut s, "ClusterComputeResource", "c-1", "C0", Some(("Folder", "group-h1")));
        place(&mut s, "HostSystem", "host-1", "esx1", Some(("ClusterComputeResource", "c-1")));
        place(&mut s, "VirtualMachine", "vm-1", "web", Some(("Folder", "f-2")));
        let mut h = Node::new("val");
        h.mo_type = Some("HostSystem".into());
        h.text = "host-1".into();
        s.set(&MoRef::new("VirtualMachine", "vm-1"), "runtime.host", Some(&h));
        let vm = s.vm("vm-1").unwrap();
        assert_eq!(vm.folder_path.as_deref(), Some("/DC0/vm/Prod"));
        assert_eq!(vm.datacenter_moid.as_deref(), Some("dc-1"));
        assert_eq!(vm.cluster_moid.as_deref(), Some("c-1"));
        assert_eq!(s.host("host-1").unwrap().cluster_moid.as_deref(), Some("c-1"));
        assert_eq!(s.cluster("c-1").unwrap().datacenter_moid.as_deref(), Some("dc-1"));
        let inv = s.inventory();
        assert_eq!((inv.datacenters.len(), inv.clusters.len(), inv.hosts.len(), inv.vms.len()), (1, 1, 1, 1));
    }

    /// One RetrievePropertiesEx page holding what a plan needs to judge an evacuation: a
    /// cluster's whole `configurationEx` (rules, groups, a per-VM override, HA admission
    /// control, and a per-VM HA setting nothing reads), a host's core speed, a VM's devices
    /// (a host CD-ROM, a disk, a NIC), datastores, fault tolerance and reservations, and a
    /// datastore's mounts. vcsim's spelling of `xsi:type` on the VM, vCenter's elsewhere.
    const MOBILITY_PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>
<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>
<objects><obj type="ClusterComputeResource">domain-c7</obj>
 <propSet><name>name</name><val xsi:type="xsd:string">C0</val></propSet>
 <propSet><name>configurationEx</name><val xsi:type="ClusterConfigInfoEx">
  <dasConfig><enabled>true</enabled><admissionControlEnabled>true</admissionControlEnabled>
   <admissionControlPolicy xsi:type="ClusterFailoverResourcesAdmissionControlPolicy"><cpuFailoverResourcesPercent>25</cpuFailoverResourcesPercent><memoryFailoverResourcesPercent>30</memoryFailoverResourcesPercent></admissionControlPolicy>
   <heartbeatDatastore type="Datastore">datastore-11</heartbeatDatastore></dasConfig>
  <dasVmConfig><key type="VirtualMachine">vm-21</key><restartPriority>high</restartPriority><powerOffOnIsolation>false</powerOffOnIsolation></dasVmConfig>
  <drsConfig><enabled>true</enabled><enableVmBehaviorOverrides>true</enableVmBehaviorOverrides><defaultVmBehavior>fullyAutomated</defaultVmBehavior><vmotionRate>3</vmotionRate></drsConfig>
  <drsVmConfig><key type="VirtualMachine">vm-22</key><enabled>true</enabled><behavior>manual</behavior></drsVmConfig>
  <rule xsi:type="ClusterVmHostRuleInfo"><key>1</key><status>green</status><enabled>true</enabled><name>db-on-rack-a</name><mandatory>true</mandatory><userCreated>true</userCreated><vmGroupName>db</vmGroupName><affineHostGroupName>rack-a</affineHostGroupName></rule>
  <group xsi:type="ClusterVmGroup"><name>db</name><vm type="VirtualMachine">vm-21</vm></group>
  <group xsi:type="ClusterHostGroup"><name>rack-a</name><host type="HostSystem">host-10</host></group>
 </val></propSet></objects>
<objects><obj type="HostSystem">host-10</obj>
 <propSet><name>name</name><val xsi:type="xsd:string">esx1</val></propSet>
 <propSet><name>parent</name><val type="ClusterComputeResource" xsi:type="ManagedObjectReference">domain-c7</val></propSet>
 <propSet><name>summary.hardware.cpuMhz</name><val xsi:type="xsd:int">2294</val></propSet></objects>
<objects><obj type="VirtualMachine">vm-21</obj>
 <propSet><name>name</name><val xsi:type="xsd:string">db-1</val></propSet>
 <propSet><name>runtime.host</name><val type="HostSystem" xsi:type="ManagedObjectReference">host-10</val></propSet>
 <propSet><name>runtime.faultToleranceState</name><val xsi:type="VirtualMachineFaultToleranceState">running</val></propSet>
 <propSet><name>config.memoryAllocation.reservation</name><val xsi:type="xsd:long">2048</val></propSet>
 <propSet><name>config.cpuAllocation.reservation</name><val xsi:type="xsd:long">0</val></propSet>
 <propSet><name>datastore</name><val xsi:type="ArrayOfManagedObjectReference"><ManagedObjectReference type="Datastore">datastore-11</ManagedObjectReference><ManagedObjectReference type="Datastore">datastore-12</ManagedObjectReference></val></propSet>
 <propSet><name>config.hardware.device</name><val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="ArrayOfVirtualDevice">
  <VirtualDevice XMLSchema-instance:type="VirtualCdrom"><key>1697971134</key>
   <deviceInfo XMLSchema-instance:type="Description"><label>CD/DVD drive 1</label><summary>Remote device</summary></deviceInfo>
   <backing XMLSchema-instance:type="VirtualCdromAtapiBackingInfo"><deviceName>cdrom--201</deviceName><useAutoDetect>false</useAutoDetect></backing>
   <connectable><startConnected>true</startConnected><allowGuestControl>true</allowGuestControl><connected>true</connected></connectable>
   <controllerKey>202</controllerKey><unitNumber>0</unitNumber></VirtualDevice>
  <VirtualDevice XMLSchema-instance:type="VirtualDisk"><key>2000</key>
   <deviceInfo XMLSchema-instance:type="Description"><label>Hard disk 1</label><summary>1,024 KB</summary></deviceInfo>
   <backing XMLSchema-instance:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds1] db-1/db-1.vmdk</fileName><datastore type="Datastore">datastore-11</datastore><diskMode>persistent</diskMode><thinProvisioned>true</thinProvisioned></backing>
   <controllerKey>202</controllerKey><unitNumber>1</unitNumber><capacityInKB>1024</capacityInKB></VirtualDevice>
  <VirtualDevice XMLSchema-instance:type="VirtualUSB"><key>14000</key><deviceInfo><label>USB 1</label></deviceInfo>
   <backing XMLSchema-instance:type="VirtualUSBUSBBackingInfo"><deviceName>path:1/0/4</deviceName></backing><connected>true</connected></VirtualDevice>
  <VirtualDevice XMLSchema-instance:type="VirtualVmxnet3"><key>4000</key><deviceInfo><label>Network adapter 1</label><summary>VM Network</summary></deviceInfo>
   <backing XMLSchema-instance:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>VM Network</deviceName></backing>
   <connectable><connected>true</connected></connectable><macAddress>00:50:56:AA:BB:01</macAddress></VirtualDevice>
 </val></propSet></objects>
<objects><obj type="VirtualMachine">vm-22</obj>
 <propSet><name>name</name><val xsi:type="xsd:string">web-1</val></propSet>
 <propSet><name>runtime.faultToleranceState</name><val xsi:type="VirtualMachineFaultToleranceState">notConfigured</val></propSet>
 <propSet><name>config.cpuAllocation.reservation</name><val xsi:type="xsd:long">1500</val></propSet></objects>
<objects><obj type="Datastore">datastore-11</obj>
 <propSet><name>name</name><val xsi:type="xsd:string">shared-1</val></propSet>
 <propSet><name>summary.multipleHostAccess</name><val xsi:type="xsd:boolean">true</val></propSet>
 <propSet><name>host</name><val xsi:type="ArrayOfDatastoreHostMount">
  <DatastoreHostMount xsi:type="DatastoreHostMount"><key type="HostSystem">host-11</key><mountInfo><accessMode>readWrite</accessMode><mounted>true</mounted></mountInfo></DatastoreHostMount>
  <DatastoreHostMount xsi:type="DatastoreHostMount"><key type="HostSystem">host-10</key><mountInfo><accessMode>readWrite</accessMode><mounted>true</mounted></mountInfo></DatastoreHostMount>
 </val></propSet></objects>
<objects><obj type="Datastore">datastore-12</obj>
 <propSet><name>name</name><val xsi:type="xsd:string">esx1-local</val></propSet></objects>
</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"#;

    #[test]
    fn mobility_facts_are_read_through_the_page_reader() {
        use super::super::mobility::HaAdmission;
        use super::super::BlockReason;
        let inv = super::super::inventory_from_page(MOBILITY_PAGE.as_bytes()).unwrap();

        let db = inv.vms.iter().find(|v| v.moid == "vm-21").unwrap();
        assert_eq!(
            db.mobility,
            VmMobility {
                devices: vec![
                    PinningDevice {
                        reason: BlockReason::HostDevice,
                        label: "CD/DVD drive 1".into(),
                        key: Some(1697971134)
                    },
                    PinningDevice { reason: BlockReason::UsbDevice, label: "USB 1".into(), key: Some(14000) },
                ],
                datastores: vec!["datastore-11".into(), "datastore-12".into()],
                fault_tolerance: Some("running".into()),
                memory_reservation_mb: Some(2048),
                cpu_reservation_mhz: None,
            }
        );
        // The NIC is still read from the same property.
        assert_eq!(db.nics.len(), 1);
        assert_eq!(db.nics[0].mac, "00:50:56:aa:bb:01");
        let web = inv.vms.iter().find(|v| v.moid == "vm-22").unwrap();
        assert_eq!(
            web.mobility,
            VmMobility { cpu_reservation_mhz: Some(1500), ..VmMobility::default() },
            "notConfigured is no fault tolerance; an absent device list pins nothing"
        );

        let drs = inv.clusters[0].drs.clone().expect("configurationEx was read");
        assert_eq!(drs.enabled, Some(true));
        assert_eq!(drs.behavior.as_deref(), Some("fullyAutomated"));
        assert_eq!(drs.vm_overrides["vm-22"].behavior.as_deref(), Some("manual"));
        assert_eq!(drs.rules.len(), 1);
        assert_eq!(drs.rules[0].name, "db-on-rack-a");
        assert_eq!(drs.rules[0].affine_hosts.as_deref(), Some("rack-a"));
        assert_eq!(drs.vm_groups["db"].iter().collect::<Vec<_>>(), ["vm-21"]);
        assert_eq!(drs.host_groups["rack-a"].iter().collect::<Vec<_>>(), ["host-10"]);
        assert_eq!(drs.ha, Some(HaAdmission { cpu_percent: Some(25), memory_percent: Some(30), ..Default::default() }));
        assert_eq!(inv.hosts[0].cpu_mhz, Some(2294));

        assert_eq!(
            inv.datastores,
            [
                DatastoreRecord {
                    moid: "datastore-11".into(),
                    name: "shared-1".into(),
                    hosts: Some(vec!["host-10".into(), "host-11".into()]),
                    multiple_host_access: Some(true),
                },
                DatastoreRecord {
                    moid: "datastore-12".into(),
                    name: "esx1-local".into(),
                    hosts: None,
                    multiple_host_access: None,
                },
            ]
        );
        // Datastores are records, not places: no VM's derived fields depend on them.
        assert_eq!(db.cluster_moid.as_deref(), Some("domain-c7"));
    }

    /// The page reader still drops a disk's backing details and the cluster's per-VM HA
    /// settings (the bulk of a big page) while keeping what the mobility rules read.
    #[test]
    fn the_bulk_of_a_page_is_still_dropped() {
        let mut units: Vec<Node> = Vec::new();
        super::super::xml::read_envelope(MOBILITY_PAGE.as_bytes(), |p| p == ["returnval"], unread, &mut |_, n| {
            units.push(n);
            Ok::<(), ()>(())
        })
        .unwrap()
        .unwrap();
        let prop = |obj: &str, name: &str| -> Node {
            let o = units
                .iter()
                .find(|u| u.child("obj").is_some_and(|x| x.text.trim() == obj))
                .unwrap_or_else(|| panic!("{obj}"));
            let p = o.children_named("propSet").find(|p| p.text_of("name") == Some(name)).unwrap();
            p.child("val").unwrap().clone()
        };
        let names = |shape: &str| -> Vec<String> {
            shape.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect()
        };
        let devices = prop("vm-21", "config.hardware.device").shape();
        let read = names(&devices);
        for dropped in ["fileName", "datastore", "diskMode", "capacityInKB", "controllerKey", "summary"] {
            assert!(!read.iter().any(|n| n == dropped), "{dropped} is still read:\n{devices}");
        }
        for kept in ["key", "label", "connectable", "connected", "backing", "macAddress"] {
            assert!(read.iter().any(|n| n == kept), "{kept} was dropped:\n{devices}");
        }
        assert!(devices.contains("backing xsi:type=VirtualCdromAtapiBackingInfo"), "{devices}");
        let cfg = prop("domain-c7", "configurationEx").shape();
        let read = names(&cfg);
        assert!(!read.iter().any(|n| n == "dasVmConfig"), "{cfg}");
        for kept in ["drsConfig", "drsVmConfig", "dasConfig", "admissionControlPolicy", "rule", "group", "vm", "host"] {
            assert!(read.iter().any(|n| n == kept), "{kept} was dropped:\n{cfg}");
        }
        assert_eq!(prop("vm-21", "datastore").children.len(), 2);
        assert_eq!(prop("datastore-11", "host").children.len(), 2);
    }

    /// The change stream sets and unsets the same properties: a removed CD-ROM, a
    /// reservation set back to 0, fault tolerance turned off and a datastore unmounted
    /// everywhere change the records as a full read would.
    #[test]
    fn mobility_properties_follow_changes() {
        let mut s = State::default();
        let vm = MoRef::new("VirtualMachine", "vm-1");
        let doc = |x: &str| super::super::xml::parse_document(x.as_bytes()).unwrap();
        s.set(
            &vm,
            "config.hardware.device",
            Some(&doc(
                r#"<val xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><VirtualDevice xsi:type="VirtualCdrom"><key>3000</key>
                <deviceInfo><label>CD/DVD drive 1</label></deviceInfo><backing xsi:type="VirtualCdromAtapiBackingInfo"/>
                <connectable><connected>true</connected></connectable></VirtualDevice></val>"#,
            )),
        );
        s.set(&vm, "config.memoryAllocation.reservation", Some(&doc("<val>512</val>")));
        s.set(&vm, "runtime.faultToleranceState", Some(&doc("<val>running</val>")));
        let m = s.vm("vm-1").unwrap().mobility;
        assert_eq!(m.devices.iter().map(|d| d.key).collect::<Vec<_>>(), [Some(3000)]);
        assert_eq!((m.memory_reservation_mb, m.fault_tolerance.as_deref()), (Some(512), Some("running")));

        s.set(&vm, "config.hardware.device", Some(&doc("<val/>")));
        s.set(&vm, "config.memoryAllocation.reservation", Some(&doc("<val>0</val>")));
        s.set(&vm, "runtime.faultToleranceState", Some(&doc("<val>notConfigured</val>")));
        assert_eq!(s.vm("vm-1").unwrap().mobility, VmMobility::default());

        let ds = MoRef::new("Datastore", "datastore-1");
        s.set(&ds, "name", Some(&doc("<val>ds1</val>")));
        s.set(
            &ds,
            "host",
            Some(&doc(r#"<val><DatastoreHostMount><key type="HostSystem">host-2</key></DatastoreHostMount></val>"#)),
        );
        assert_eq!(s.datastore("datastore-1").unwrap().hosts, Some(vec!["host-2".to_owned()]));
        s.set(&ds, "host", Some(&doc("<val/>")));
        assert_eq!(s.datastore("datastore-1").unwrap().hosts, Some(vec![]));
        assert!(matches!(s.record("datastore-1"), Some(InventoryRecord::Datastore(_))));
        assert!(!Kind::of("Datastore").is_topology(), "a datastore's change never rewrites other records");
        s.leave(&ds);
        assert!(s.record("datastore-1").is_none());

        let cluster = MoRef::new("ClusterComputeResource", "domain-c1");
        s.set(&cluster, "configurationEx", Some(&doc("<val><drsConfig><enabled>false</enabled></drsConfig></val>")));
        assert_eq!(s.cluster("domain-c1").unwrap().drs.and_then(|d| d.enabled), Some(false));
        s.set(&cluster, "configurationEx", None);
        assert_eq!(s.cluster("domain-c1").unwrap().drs, None, "unset: not known, not 'DRS off'");
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["vm-10", "vm-9", "host-2", "vm-100"];
        v.sort_by(|a, b| natural(a, b));
        assert_eq!(v, ["host-2", "vm-9", "vm-10", "vm-100"]);
    }
}
