//! The Dell domain records every driver produces: plain, serde-serializable data named the
//! way the database names it (`physical_servers`, `firmware_inventory`, `idrac_endpoints`).
//!
//! Redfish, WSMan and racadm fill the *same* records for the same facts, so the engine never
//! cares which path reported a server. Nothing here knows a database type or a credential.
use serde::{Deserialize, Serialize};

/// iDRAC generation, as `idrac_generation` in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Generation {
    #[serde(rename = "iDRAC7")]
    Idrac7,
    #[serde(rename = "iDRAC8")]
    Idrac8,
    #[serde(rename = "iDRAC9")]
    Idrac9,
}

impl Generation {
    pub fn as_str(&self) -> &'static str {
        match self {
            Generation::Idrac7 => "iDRAC7",
            Generation::Idrac8 => "iDRAC8",
            Generation::Idrac9 => "iDRAC9",
        }
    }

    /// From Dell's server generation string, as the Redfish Manager `Model`, the DellSystem
    /// `SystemGeneration` and WSMan's `DCIM_SystemView.SystemGeneration` report it:
    /// "12G Monolithic" → iDRAC7, "13G Modular" → iDRAC8, "14G/15G/16G …" → iDRAC9.
    pub fn from_server_generation(model: &str) -> Option<Generation> {
        let model = model.trim();
        let digits: String = model.chars().take_while(|c| c.is_ascii_digit()).collect();
        let rest = &model[digits.len()..];
        if digits.is_empty() || !rest.starts_with(['G', 'g']) {
            return None;
        }
        match digits.parse::<u32>().ok()? {
            12 => Some(Generation::Idrac7),
            13 => Some(Generation::Idrac8),
            14..=16 => Some(Generation::Idrac9),
            _ => None,
        }
    }

    /// From the iDRAC firmware version alone: 3.x and later only ever ran on iDRAC9;
    /// 1.x/2.x ran on both iDRAC7 and iDRAC8, so they decide nothing.
    pub fn from_firmware_version(version: &str) -> Option<Generation> {
        let major: u32 = version.trim().split('.').next()?.parse().ok()?;
        (3..=9).contains(&major).then_some(Generation::Idrac9)
    }
}

impl std::fmt::Display for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Server power, as `server_power_state` in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    On,
    Off,
    PoweringOn,
    PoweringOff,
    #[default]
    Unknown,
}

impl PowerState {
    /// Redfish `PowerState`: On, Off, PoweringOn, PoweringOff (Paused counts as on).
    pub fn from_redfish(s: &str) -> PowerState {
        match s {
            "On" | "Paused" => PowerState::On,
            "Off" => PowerState::Off,
            "PoweringOn" => PowerState::PoweringOn,
            "PoweringOff" => PowerState::PoweringOff,
            _ => PowerState::Unknown,
        }
    }
}

/// Health rollup, as `health_state` in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    Warning,
    Critical,
    #[default]
    Unknown,
}

impl Health {
    /// Redfish `Status.Health` / `HealthRollup`: OK, Warning, Critical.
    pub fn from_redfish(s: &str) -> Health {
        match s.to_ascii_lowercase().as_str() {
            "ok" => Health::Ok,
            "warning" => Health::Warning,
            "critical" => Health::Critical,
            _ => Health::Unknown,
        }
    }
}

/// Which path talks to an iDRAC, as `idrac_driver` in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    Redfish,
    Wsman,
    Racadm,
}

impl DriverKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            DriverKind::Redfish => "redfish",
            DriverKind::Wsman => "wsman",
            DriverKind::Racadm => "racadm",
        }
    }
}

impl std::fmt::Display for DriverKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DriverKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "redfish" => Ok(DriverKind::Redfish),
            "wsman" => Ok(DriverKind::Wsman),
            "racadm" => Ok(DriverKind::Racadm),
            other => Err(format!("unknown iDRAC driver \"{other}\" (expected redfish, wsman or racadm)")),
        }
    }
}

/// What an endpoint was *seen* to support (probed, never assumed). Stored as
/// `idrac_endpoints.capabilities` (camelCase keys, like `{"simpleUpdate": true}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Redfish at all (a ServiceRoot answered).
    pub redfish: bool,
    /// Redfish sessions (X-Auth-Token) work; otherwise Basic auth per request.
    pub sessions: bool,
    /// `$expand` is advertised in `ProtocolFeaturesSupported.ExpandQuery`.
    pub expand: bool,
    /// `UpdateService.SimpleUpdate` (pull from a URI).
    pub simple_update: bool,
    /// `UpdateService.MultipartHttpPushUri` (push an image; 202 + job Location).
    pub multipart_update: bool,
    /// `UpdateService.HttpPushUri` (older push: upload, then SimpleUpdate).
    pub http_push_update: bool,
    /// A Redfish TaskService or JobService to follow long-running work.
    pub job_service: bool,
    /// The Dell job queue (`Managers/iDRAC.Embedded.1/Jobs` or `…/Oem/Dell/Jobs`).
    pub dell_jobs: bool,
    /// `UpdateService/FirmwareInventory` answers.
    pub firmware_inventory: bool,
    /// The Lifecycle Controller log (Dell `Lclog`).
    pub lifecycle_log: bool,
    /// The System Event Log.
    pub sel_log: bool,
    /// WS-Management answered an enumeration of the DCIM classes.
    pub wsman: bool,
    /// A `racadm` binary is installed on this machine.
    pub racadm: bool,
    /// Why something is off, in the operator's words ("racadm is not installed: …").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What TLS worked with an endpoint. Stored as `idrac_endpoints.tls_constraints`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsConstraints {
    /// The lowest TLS version the endpoint accepted ("1.2", "1.3"), or "1.0/1.1" for an
    /// endpoint EIO cannot talk to over HTTPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_tls_version: Option<String>,
    /// The SHA-256 thumbprint pinned for this endpoint (lowercase hex), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_sha256: Option<String>,
    /// The SHA-256 of the certificate the endpoint presented (lowercase hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presented_sha256: Option<String>,
    /// An explanation for the operator (legacy TLS, pin mismatch, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The iDRAC itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerInfo {
    /// `physical_servers.idrac_firmware`, `idrac_endpoints.firmware_version`.
    pub firmware_version: Option<String>,
    /// `idrac_endpoints.manager_model`, e.g. "14G Monolithic".
    pub model: Option<String>,
    pub generation: Option<Generation>,
    /// `physical_servers.idrac_mac`, lowercase `aa:bb:cc:dd:ee:ff`.
    pub mac: Option<String>,
    /// `physical_servers.idrac_ip`.
    pub ip: Option<String>,
}

/// One row of `firmware_inventory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareComponent {
    /// Fully qualified device descriptor, e.g. `BIOS.Setup.1-1`, `NIC.Integrated.1-1-1`.
    pub fqdd: String,
    /// Dell component id, e.g. "159" for the BIOS, "25227" for the iDRAC.
    pub component_id: Option<String>,
    pub name: String,
    pub version: String,
    /// What kind of device: bios, idrac, lifecycle_controller, nic, storage, disk,
    /// power_supply, cpld, backplane, driver_pack, diagnostics, other.
    pub category: Option<String>,
    pub updateable: bool,
}

/// The kind of device an FQDD names, for `firmware_inventory.category`.
pub fn category_of_fqdd(fqdd: &str) -> &'static str {
    let head = fqdd.split(['.', ':']).next().unwrap_or("");
    match head {
        "BIOS" => "bios",
        "iDRAC" => "idrac",
        "LC" | "USC" => "lifecycle_controller",
        "NIC" => "nic",
        "RAID" | "AHCI" | "NonRAID" | "Storage" | "HBA" => "storage",
        "Disk" => "disk",
        "PSU" => "power_supply",
        "CPLD" => "cpld",
        "Enclosure" => "backplane",
        "DriverPack" => "driver_pack",
        "Diagnostics" | "OSCollector" | "ServiceModule" => "diagnostics",
        _ if fqdd.contains("Disk.") => "disk",
        _ => "other",
    }
}

/// One entry of the SEL or Lifecycle Controller log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// "sel" or "lifecycle".
    pub log: String,
    pub id: String,
    pub created: Option<String>,
    /// OK, Warning, Critical (as the BMC says it).
    pub severity: Option<String>,
    pub message_id: Option<String>,
    pub message: String,
}

/// Everything one inventory pass learns about one server and its iDRAC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerInventory {
    pub service_tag: Option<String>,
    /// SMBIOS UUID (what ESXi reports as the host's hardware uuid).
    pub system_uuid: Option<uuid::Uuid>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub bios_version: Option<String>,
    pub power_state: PowerState,
    pub health: Health,
    pub cpu_model: Option<String>,
    pub cpu_count: Option<u32>,
    pub memory_gib: Option<u32>,
    pub hostname: Option<String>,
    pub manager: ManagerInfo,
    pub firmware: Vec<FirmwareComponent>,
    pub log_tail: Vec<LogEntry>,
    pub driver_used: DriverKind,
    pub capabilities: Capabilities,
    pub tls: TlsConstraints,
    /// Requests this pass made (to watch the cost of a sync per endpoint).
    pub api_calls: u32,
}

impl ServerInventory {
    /// An empty record for `driver`, to be filled in.
    pub fn empty(driver: DriverKind) -> ServerInventory {
        ServerInventory {
            service_tag: None,
            system_uuid: None,
            manufacturer: None,
            model: None,
            bios_version: None,
            power_state: PowerState::Unknown,
            health: Health::Unknown,
            cpu_model: None,
            cpu_count: None,
            memory_gib: None,
            hostname: None,
            manager: ManagerInfo::default(),
            firmware: Vec::new(),
            log_tail: Vec::new(),
            driver_used: driver,
            capabilities: Capabilities::default(),
            tls: TlsConstraints::default(),
            api_calls: 0,
        }
    }
}

/// Text that means "nothing" on Dell BMCs ("", "N/A", "Not Available", "[N/A]").
pub(crate) fn meaningful(value: Option<&str>) -> Option<String> {
    let v = value?.trim();
    let lower = v.to_ascii_lowercase();
    if v.is_empty() || matches!(lower.as_str(), "n/a" | "na" | "[n/a]" | "not available" | "null" | "none") {
        None
    } else {
        Some(v.to_owned())
    }
}

/// A MAC address as the database stores it (`aa:bb:cc:dd:ee:ff`), from any common spelling.
pub(crate) fn normalize_mac(value: Option<&str>) -> Option<String> {
    let hex: String = value?.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    if hex.len() != 12 {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    let parts: Vec<&str> = (0..6).map(|i| &lower[i * 2..i * 2 + 2]).collect();
    Some(parts.join(":"))
}

/// A UUID from a BMC, which may be in any case and sometimes braces.
pub(crate) fn parse_uuid(value: Option<&str>) -> Option<uuid::Uuid> {
    let v = value?.trim().trim_matches(['{', '}']);
    uuid::Uuid::parse_str(v).ok().filter(|u| !u.is_nil())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_come_from_the_dell_server_generation() {
        assert_eq!(Generation::from_server_generation("12G Monolithic"), Some(Generation::Idrac7));
        assert_eq!(Generation::from_server_generation("13G Modular"), Some(Generation::Idrac8));
        assert_eq!(Generation::from_server_generation("14G Monolithic"), Some(Generation::Idrac9));
        assert_eq!(Generation::from_server_generation("15G Monolithic"), Some(Generation::Idrac9));
        assert_eq!(Generation::from_server_generation("16G Monolithic"), Some(Generation::Idrac9));
        assert_eq!(Generation::from_server_generation("Joo Janta 200"), None);
        assert_eq!(Generation::from_firmware_version("4.40.00.00"), Some(Generation::Idrac9));
        assert_eq!(Generation::from_firmware_version("2.83.83.83"), None);
        assert_eq!(serde_json::to_value(Generation::Idrac8).unwrap(), serde_json::json!("iDRAC8"));
    }

    #[test]
    fn macs_and_placeholders_are_normalized() {
        assert_eq!(normalize_mac(Some("4C:D9:8F:20:73:84")).as_deref(), Some("4c:d9:8f:20:73:84"));
        assert_eq!(normalize_mac(Some("4cd9.8f20.7384")).as_deref(), Some("4c:d9:8f:20:73:84"));
        assert_eq!(normalize_mac(Some("n/a")), None);
        assert_eq!(meaningful(Some(" [N/A] ")), None);
        assert_eq!(meaningful(Some("R640")).as_deref(), Some("R640"));
        assert_eq!(category_of_fqdd("Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1"), "disk");
        assert_eq!(category_of_fqdd("NIC.Integrated.1-1-1"), "nic");
    }

    #[test]
    fn capabilities_serialize_as_the_database_documents() {
        let caps = Capabilities { simple_update: true, ..Default::default() };
        let v = serde_json::to_value(&caps).unwrap();
        assert_eq!(v["simpleUpdate"], serde_json::json!(true));
        assert!(v.get("notes").is_none());
    }
}

/// A Dell job's state (`DellJob.JobState` over Redfish, `DCIM_LifecycleJob.JobStatus` over
/// WSMan — the same names, WSMan with spaces), as sushy-oem-idrac lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobState {
    New,
    Scheduling,
    Scheduled,
    Downloading,
    Downloaded,
    ReadyForExecution,
    Waiting,
    Running,
    Paused,
    /// Staged; applies when the server reboots.
    RebootPending,
    RebootCompleted,
    RebootFailed,
    PendingActivation,
    Completed,
    CompletedWithErrors,
    Failed,
    /// Deleted from the queue before it ran.
    Cancelled,
    /// A state this client does not know (kept verbatim in [`JobStatus::raw_state`]).
    Unknown,
}

impl JobState {
    /// Dell's spelling, with or without spaces, any case ("Completed with Errors").
    pub fn from_dell(s: &str) -> JobState {
        let key: String =
            s.chars().filter(|c| !c.is_whitespace() && *c != '_').collect::<String>().to_ascii_lowercase();
        match key.as_str() {
            "new" => JobState::New,
            "scheduling" => JobState::Scheduling,
            "scheduled" => JobState::Scheduled,
            "downloading" => JobState::Downloading,
            "downloaded" => JobState::Downloaded,
            "readyforexecution" => JobState::ReadyForExecution,
            "waiting" => JobState::Waiting,
            "running" | "inprogress" => JobState::Running,
            "paused" => JobState::Paused,
            "rebootpending" => JobState::RebootPending,
            "rebootcompleted" => JobState::RebootCompleted,
            "rebootfailed" => JobState::RebootFailed,
            "pendingactivation" => JobState::PendingActivation,
            "completed" => JobState::Completed,
            "completedwitherrors" => JobState::CompletedWithErrors,
            "failed" => JobState::Failed,
            "cancelled" | "canceled" => JobState::Cancelled,
            _ => JobState::Unknown,
        }
    }

    /// The job will not change any more.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Completed
                | JobState::CompletedWithErrors
                | JobState::Failed
                | JobState::RebootFailed
                | JobState::Cancelled
        )
    }

    /// Finished, and applied without error.
    pub fn is_success(self) -> bool {
        self == JobState::Completed
    }

    /// Waits for the server to reboot before it applies.
    pub fn awaits_reboot(self) -> bool {
        matches!(self, JobState::RebootPending | JobState::Scheduled)
    }
}

/// One Dell job as the iDRAC reports it now (`JID_…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    /// `JID_123456789012`
    pub id: String,
    pub name: Option<String>,
    /// `FirmwareUpdate`, `RebootForce`, …
    pub job_type: Option<String>,
    pub state: JobState,
    /// The state as the iDRAC spelled it.
    pub raw_state: String,
    pub percent: Option<u32>,
    /// Dell's message id without the registry prefix (`PR19`, `RED007`, `SUP0516`).
    pub message_id: Option<String>,
    pub message: Option<String>,
}

/// How to reset (reboot) the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResetKind {
    /// The OS shuts down cleanly, then the server restarts.
    GracefulRestart,
    /// Restart without waiting for the OS.
    ForceRestart,
    /// Power off and on again.
    PowerCycle,
    On,
    ForceOff,
    GracefulShutdown,
}

impl ResetKind {
    /// Redfish `ResetType`.
    pub fn as_redfish(self) -> &'static str {
        match self {
            ResetKind::GracefulRestart => "GracefulRestart",
            ResetKind::ForceRestart => "ForceRestart",
            ResetKind::PowerCycle => "PowerCycle",
            ResetKind::On => "On",
            ResetKind::ForceOff => "ForceOff",
            ResetKind::GracefulShutdown => "GracefulShutdown",
        }
    }
}

/// When the iDRAC applies an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ApplyTime {
    /// At the next server reboot, which the caller orders ([`ResetKind`]) once the host is
    /// in maintenance mode. The default: on iDRAC9, `Immediate` makes the iDRAC reboot the
    /// server by itself for components that need a reboot (BIOS, NIC, RAID…).
    #[default]
    OnReset,
    /// As soon as possible (components that need no server reboot: iDRAC, drivers pack).
    Immediate,
}

/// How an update was handed to the iDRAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateMethod {
    /// Redfish `MultipartHttpPushUri`: image and parameters in one POST (iDRAC9).
    MultipartPush,
    /// Redfish `HttpPushUri` upload, then `UpdateService.SimpleUpdate` of the staged image.
    HttpPushSimpleUpdate,
    /// Redfish `UpdateService.SimpleUpdate` pulling an image from a URI.
    SimpleUpdate,
    /// WSMan `DCIM_SoftwareInstallationService.InstallFromURI` (iDRAC7/8).
    WsmanInstallFromUri,
}
