//! What we know about one vCenter's objects, built property by property, and how it
//! becomes records.
//!
//! Owns the property paths we ask for (narrow ones, never whole `config`), the meaning of
//! each one, and the derived fields (folder path, datacenter, cluster, network names,
//! custom attribute names, guest IP confidence). A full sync and the change stream feed the
//! same [`State`] through [`State::set`], so both produce identical records. It must never
//! keep a response tree: each property value is turned into plain fields and dropped.
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

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
];

const FOLDER_PATHS: &[&str] = &["name", "parent"];
const NETWORK_PATHS: &[&str] = &["name"];
const COMPUTE_RESOURCE_PATHS: &[&str] = &["name", "parent"];
// `configurationEx.drsConfig…` is refused by vCenter (InvalidProperty: the declared type
// has no such member); the deprecated `configuration` still carries these.
const CLUSTER_PATHS: &[&str] = &[
    "name",
    "parent",
    "configuration.drsConfig.enabled",
    "configuration.drsConfig.defaultVmBehavior",
    "configuration.dasConfig.enabled",
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
    "customValue",
];
const VM_PATHS: &[&str] = &[
    "name",
    "parent",
    "runtime.host",
    "runtime.powerState",
    "config.uuid",
    "config.instanceUuid",
    "config.hardware.numCPU",
    "config.hardware.memoryMB",
    "config.hardware.device",
    "config.guestFullName",
    "config.annotation",
    "config.template",
    "guest.toolsStatus",
    "guest.toolsRunningStatus",
    "guest.hostName",
    "guest.ipAddress",
    "guest.net",
    "snapshot.rootSnapshotList",
    "customValue",
];

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
/// details of non-network devices in `config.hardware.device`, the bulk of a VM page.
/// Dropped while reading (see [`super::xml::Ignore`]); a reader that starts using one of
/// these names must take it out of this list.
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
            "CustomFieldsManager" => Kind::CustomFields,
            _ => Kind::Other,
        }
    }

    /// Objects whose change can change other objects' derived fields.
    pub(crate) fn is_topology(self) -> bool {
        !matches!(self, Kind::Vm | Kind::Other)
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
}

/// Everything known about one vCenter's objects.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Folders, datacenters, compute resources, clusters, hosts and networks.
    pub places: HashMap<String, Place>,
    pub clusters: HashMap<String, ClusterRaw>,
    pub hosts: HashMap<String, HostRaw>,
    pub vms: HashMap<String, VmRaw>,
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
        })
    }

    /// The record of `id` if it is a datacenter, cluster, host or VM.
    pub(crate) fn record(&self, id: &str) -> Option<InventoryRecord> {
        if self.vms.contains_key(id) {
            return self.vm(id).map(InventoryRecord::Vm);
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
        "config.hardware.device" => vm.nics = val.map(nics).unwrap_or_default(),
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

    #[test]
    fn natural_order() {
        let mut v = vec!["vm-10", "vm-9", "host-2", "vm-100"];
        v.sort_by(|a, b| natural(a, b));
        assert_eq!(v, ["host-2", "vm-9", "vm-10", "vm-100"]);
    }
}
