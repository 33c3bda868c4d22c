//! The plain records a vCenter sync produces: what the engine writes to the database.
//!
//! Field names are the seed's (`uuid`, `power_state`, `has_snapshot`, …) and enum values
//! are the database's (`powered_on`, `not_running`, …). Plain data only: no database types,
//! no handles, serde-serializable, so the engine, the CLI's `--json` and tests all see the
//! same shape.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::mobility::{ClusterDrs, VmMobility};

/// `VirtualMachine.runtime.powerState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmPowerState {
    PoweredOn,
    PoweredOff,
    Suspended,
}

impl VmPowerState {
    pub fn from_vsphere(s: &str) -> Option<Self> {
        match s.trim() {
            "poweredOn" => Some(VmPowerState::PoweredOn),
            "poweredOff" => Some(VmPowerState::PoweredOff),
            "suspended" => Some(VmPowerState::Suspended),
            _ => None,
        }
    }
}

/// VMware Tools as vCenter reports it (`guest.toolsStatus`, or derived from
/// `guest.toolsRunningStatus` when that is all there is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolsStatus {
    Ok,
    Old,
    NotRunning,
    NotInstalled,
}

impl ToolsStatus {
    pub fn from_vsphere(s: &str) -> Option<Self> {
        match s.trim() {
            "toolsOk" => Some(ToolsStatus::Ok),
            "toolsOld" => Some(ToolsStatus::Old),
            "toolsNotRunning" => Some(ToolsStatus::NotRunning),
            "toolsNotInstalled" => Some(ToolsStatus::NotInstalled),
            _ => None,
        }
    }

    /// Tools are running, so what they report about the guest is current.
    pub fn is_running(self) -> bool {
        matches!(self, ToolsStatus::Ok | ToolsStatus::Old)
    }
}

/// `HostSystem.runtime.connectionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostConnectionState {
    Connected,
    Disconnected,
    NotResponding,
}

impl HostConnectionState {
    pub fn from_vsphere(s: &str) -> Option<Self> {
        match s.trim() {
            "connected" => Some(HostConnectionState::Connected),
            "disconnected" => Some(HostConnectionState::Disconnected),
            "notResponding" => Some(HostConnectionState::NotResponding),
            _ => None,
        }
    }
}

/// `HostSystem.runtime.powerState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostPowerState {
    PoweredOn,
    PoweredOff,
    Standby,
    Unknown,
}

impl HostPowerState {
    pub fn from_vsphere(s: &str) -> Option<Self> {
        match s.trim() {
            "poweredOn" => Some(HostPowerState::PoweredOn),
            "poweredOff" => Some(HostPowerState::PoweredOff),
            "standBy" => Some(HostPowerState::Standby),
            "unknown" => Some(HostPowerState::Unknown),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatacenterRecord {
    pub moid: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRecord {
    pub moid: String,
    pub name: String,
    pub datacenter_moid: Option<String>,
    /// `configuration.drsConfig.enabled` (vcsim leaves it unset).
    pub drs_enabled: Option<bool>,
    /// `fullyAutomated` | `partiallyAutomated` | `manual`, as vCenter reports it.
    pub drs_behavior: Option<String>,
    pub ha_enabled: Option<bool>,
    /// What the whole `configurationEx` says about moving VMs (DRS, its rules and groups,
    /// per-VM overrides, HA admission control); None when vCenter did not give it.
    #[serde(default)]
    pub drs: Option<ClusterDrs>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    pub moid: String,
    pub name: String,
    pub datacenter_moid: Option<String>,
    /// None for a standalone host (a ComputeResource, not a cluster).
    pub cluster_moid: Option<String>,
    /// `hardware.systemInfo.uuid`: the SMBIOS UUID, which iDRAC reports too.
    pub hardware_uuid: Option<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    /// Dell service tag: `otherIdentifyingInfo` ServiceTag, else EnclosureSerialNumberTag.
    pub service_tag: Option<String>,
    pub esxi_version: Option<String>,
    pub esxi_build: Option<String>,
    pub connection_state: Option<HostConnectionState>,
    pub power_state: Option<HostPowerState>,
    pub in_maintenance_mode: bool,
    /// Addresses of the vmkernel NICs selected for management traffic (loopback and
    /// link-local excluded, as for guest IPs).
    pub management_ips: Vec<String>,
    pub cpu_model: Option<String>,
    pub cpu_cores: Option<u32>,
    pub cpu_threads: Option<u32>,
    pub memory_mb: Option<u64>,
    /// `summary.hardware.cpuMhz`: the speed of one core.
    #[serde(default)]
    pub cpu_mhz: Option<u32>,
    /// Filled by the caller from [`super::Session::tags`].
    pub tags: Vec<String>,
    /// Custom attribute name → value.
    pub custom_attributes: BTreeMap<String, String>,
}

/// A virtual NIC as configured (`config.hardware.device`), whatever the guest says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmNic {
    /// Lowercase `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Port group or network name (None when vCenter does not say).
    pub network: Option<String>,
    pub connected: bool,
    /// "Network adapter 1".
    pub label: String,
}

/// Guest IP confidence when VMware Tools are running and the address sits on a guest NIC
/// whose MAC matches a configured virtual NIC: current, and tied to a known vNIC.
pub const IP_CONFIDENCE_HIGH: f32 = 0.9;
/// Tools are running but the address is on an interface no configured vNIC explains
/// (a VPN, bond or container bridge inside the guest), or only in `guest.ipAddress`.
pub const IP_CONFIDENCE_MEDIUM: f32 = 0.7;
/// Tools are not running (or their state is unknown), so vCenter shows what they last
/// reported, which may be stale; also addresses the guest marks deprecated or duplicate.
pub const IP_CONFIDENCE_LOW: f32 = 0.4;

/// An address the guest reports.
///
/// `confidence` says how sure we are the VM holds it *now*:
/// [`IP_CONFIDENCE_HIGH`] (tools running, on a NIC whose MAC matches a configured vNIC),
/// [`IP_CONFIDENCE_MEDIUM`] (tools running, no matching vNIC), [`IP_CONFIDENCE_LOW`] (tools
/// not running or unknown: possibly stale; or the guest marks the address deprecated,
/// tentative or duplicate). Never reported at all: loopback (127/8, ::1), link-local and
/// APIPA (169.254/16, fe80::/10), unspecified and multicast addresses, and addresses the
/// guest marks invalid or inaccessible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestIp {
    pub ip: String,
    /// The guest NIC's MAC, lowercase, when the address is on one.
    pub mac: Option<String>,
    pub prefix_length: Option<u8>,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmRecord {
    /// BIOS uuid (`config.uuid`). Not unique: clones and restores share it.
    pub uuid: Option<String>,
    pub instance_uuid: Option<String>,
    pub moid: String,
    pub name: String,
    /// Inventory path of the VM's folder, datacenter included: `/DC0/vm/Prod/Web`. None
    /// for a VM without a folder parent (a vApp member).
    pub folder_path: Option<String>,
    pub vcpu: Option<u32>,
    pub memory_mb: Option<u32>,
    pub power_state: Option<VmPowerState>,
    pub tools_status: Option<ToolsStatus>,
    /// The configured guest OS (`config.guestFullName`).
    pub guest_os: Option<String>,
    pub guest_hostname: Option<String>,
    pub nics: Vec<VmNic>,
    pub guest_ips: Vec<GuestIp>,
    /// Filled by the caller from [`super::Session::tags`]: "Category/Tag".
    pub tags: Vec<String>,
    /// Custom attribute name → value (names from the CustomFieldsManager definitions).
    pub custom_attributes: BTreeMap<String, String>,
    /// `config.annotation`.
    pub notes: Option<String>,
    pub has_snapshot: bool,
    pub snapshot_count: u32,
    pub is_template: bool,
    pub host_moid: Option<String>,
    pub cluster_moid: Option<String>,
    pub datacenter_moid: Option<String>,
    /// What decides whether it can leave its host: pinning devices, datastores, fault
    /// tolerance, reservations.
    #[serde(default)]
    pub mobility: VmMobility,
}

/// A datastore, and which hosts mount it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatastoreRecord {
    pub moid: String,
    pub name: String,
    /// Moids of the hosts that mount it (the keys of `Datastore.host`, sorted); None when
    /// vCenter did not say.
    pub hosts: Option<Vec<String>>,
    /// `summary.multipleHostAccess`.
    pub multiple_host_access: Option<bool>,
}

/// One vCenter's inventory at one moment, from a full sync.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub datacenters: Vec<DatacenterRecord>,
    pub clusters: Vec<ClusterRecord>,
    pub hosts: Vec<HostRecord>,
    pub vms: Vec<VmRecord>,
    #[serde(default)]
    pub datastores: Vec<DatastoreRecord>,
    /// SOAP calls this sync made (the benchmark's budget is 12 for 10,000 VMs).
    pub soap_calls: u64,
    /// Response bytes read.
    pub bytes: u64,
    /// Properties vCenter could not give (no privilege, unknown on this version), one line
    /// per distinct object type, property and reason.
    pub warnings: Vec<String>,
}

/// Any record, for change streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "record", rename_all = "snake_case")]
pub enum InventoryRecord {
    Datacenter(DatacenterRecord),
    Cluster(ClusterRecord),
    Host(HostRecord),
    Vm(VmRecord),
    Datastore(DatastoreRecord),
}
