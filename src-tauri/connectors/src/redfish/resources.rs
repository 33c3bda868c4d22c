//! Typed Redfish resources (DMTF schema names), one struct per resource, tolerant of the
//! many optional fields real BMCs omit. Vendor extensions stay as raw JSON (`oem`) for the
//! OEM extension modules ([`super::dell`]) to read; this module never interprets them.
use serde::Deserialize;
use serde_json::Value;

/// `{"@odata.id": "…"}`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Link {
    #[serde(rename = "@odata.id")]
    pub odata_id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Status {
    #[serde(rename = "Health")]
    pub health: Option<String>,
    #[serde(rename = "HealthRollup", alias = "HealthRollUp")]
    pub health_rollup: Option<String>,
    #[serde(rename = "State")]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExpandQuery {
    #[serde(rename = "ExpandAll", default)]
    pub expand_all: bool,
    #[serde(rename = "Levels", default)]
    pub levels: bool,
    #[serde(rename = "Links", default)]
    pub links: bool,
    #[serde(rename = "NoLinks", default)]
    pub no_links: bool,
    #[serde(rename = "MaxLevels")]
    pub max_levels: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProtocolFeatures {
    #[serde(rename = "ExpandQuery")]
    pub expand_query: Option<ExpandQuery>,
    #[serde(rename = "TopSkipQuery", default)]
    pub top_skip_query: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootLinks {
    #[serde(rename = "Sessions")]
    pub sessions: Option<Link>,
}

/// `/redfish/v1`
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceRoot {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    #[serde(rename = "RedfishVersion")]
    pub redfish_version: Option<String>,
    #[serde(rename = "Product")]
    pub product: Option<String>,
    #[serde(rename = "Vendor")]
    pub vendor: Option<String>,
    #[serde(rename = "Systems")]
    pub systems: Option<Link>,
    #[serde(rename = "Managers")]
    pub managers: Option<Link>,
    #[serde(rename = "UpdateService")]
    pub update_service: Option<Link>,
    #[serde(rename = "SessionService")]
    pub session_service: Option<Link>,
    #[serde(rename = "Tasks")]
    pub tasks: Option<Link>,
    #[serde(rename = "JobService")]
    pub job_service: Option<Link>,
    #[serde(rename = "Links", default)]
    pub links: RootLinks,
    #[serde(rename = "ProtocolFeaturesSupported")]
    pub protocol_features: Option<ProtocolFeatures>,
    #[serde(rename = "Oem", default)]
    pub oem: Value,
}

impl ServiceRoot {
    /// Where sessions are created: `Links.Sessions`, else the SessionService's default.
    pub fn sessions_path(&self) -> Option<String> {
        if let Some(l) = &self.links.sessions {
            return Some(l.odata_id.clone());
        }
        self.session_service.as_ref().map(|s| format!("{}/Sessions", s.odata_id.trim_end_matches('/')))
    }

    pub fn supports_expand(&self) -> bool {
        self.protocol_features
            .as_ref()
            .and_then(|p| p.expand_query.as_ref())
            .is_some_and(|e| e.expand_all || e.levels || e.no_links)
    }
}

/// Any collection: members as links (or whole resources, when expanded).
#[derive(Debug, Clone, Deserialize)]
pub struct Collection {
    #[serde(rename = "Members", default)]
    pub members: Vec<Value>,
    #[serde(rename = "Members@odata.nextLink")]
    pub next_link: Option<String>,
    #[serde(rename = "Members@odata.count")]
    pub count: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProcessorSummary {
    #[serde(rename = "Count")]
    pub count: Option<u32>,
    #[serde(rename = "Model")]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MemorySummary {
    #[serde(rename = "TotalSystemMemoryGiB")]
    pub total_system_memory_gib: Option<f64>,
}

/// `/redfish/v1/Systems/{id}`
#[derive(Debug, Clone, Deserialize)]
pub struct ComputerSystem {
    #[serde(rename = "@odata.id")]
    pub odata_id: Option<String>,
    #[serde(rename = "Id")]
    pub id: Option<String>,
    #[serde(rename = "Manufacturer")]
    pub manufacturer: Option<String>,
    #[serde(rename = "Model")]
    pub model: Option<String>,
    #[serde(rename = "SKU")]
    pub sku: Option<String>,
    #[serde(rename = "SerialNumber")]
    pub serial_number: Option<String>,
    #[serde(rename = "UUID")]
    pub uuid: Option<String>,
    #[serde(rename = "HostName")]
    pub host_name: Option<String>,
    #[serde(rename = "BiosVersion")]
    pub bios_version: Option<String>,
    #[serde(rename = "PowerState")]
    pub power_state: Option<String>,
    #[serde(rename = "Status", default)]
    pub status: Status,
    #[serde(rename = "ProcessorSummary", default)]
    pub processor_summary: ProcessorSummary,
    #[serde(rename = "MemorySummary", default)]
    pub memory_summary: MemorySummary,
    #[serde(rename = "Oem", default)]
    pub oem: Value,
}

/// `/redfish/v1/Managers/{id}`
#[derive(Debug, Clone, Deserialize)]
pub struct Manager {
    #[serde(rename = "@odata.id")]
    pub odata_id: Option<String>,
    #[serde(rename = "Id")]
    pub id: Option<String>,
    #[serde(rename = "Model")]
    pub model: Option<String>,
    #[serde(rename = "FirmwareVersion")]
    pub firmware_version: Option<String>,
    #[serde(rename = "ManagerType")]
    pub manager_type: Option<String>,
    #[serde(rename = "EthernetInterfaces")]
    pub ethernet_interfaces: Option<Link>,
    #[serde(rename = "LogServices")]
    pub log_services: Option<Link>,
    #[serde(rename = "Links", default)]
    pub links: Value,
    #[serde(rename = "Oem", default)]
    pub oem: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Ipv4Address {
    #[serde(rename = "Address")]
    pub address: Option<String>,
}

/// `…/EthernetInterfaces/{id}`
#[derive(Debug, Clone, Deserialize)]
pub struct EthernetInterface {
    #[serde(rename = "MACAddress")]
    pub mac_address: Option<String>,
    #[serde(rename = "PermanentMACAddress")]
    pub permanent_mac_address: Option<String>,
    #[serde(rename = "HostName")]
    pub host_name: Option<String>,
    #[serde(rename = "IPv4Addresses", default)]
    pub ipv4_addresses: Vec<Ipv4Address>,
    #[serde(rename = "Status", default)]
    pub status: Status,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ActionTarget {
    #[serde(rename = "target")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpdateActions {
    #[serde(rename = "#UpdateService.SimpleUpdate")]
    pub simple_update: Option<ActionTarget>,
}

/// `/redfish/v1/UpdateService`
#[derive(Debug, Clone, Deserialize)]
pub struct UpdateService {
    #[serde(rename = "ServiceEnabled")]
    pub service_enabled: Option<bool>,
    #[serde(rename = "HttpPushUri")]
    pub http_push_uri: Option<String>,
    #[serde(rename = "MultipartHttpPushUri")]
    pub multipart_http_push_uri: Option<String>,
    #[serde(rename = "FirmwareInventory")]
    pub firmware_inventory: Option<Link>,
    #[serde(rename = "Actions", default)]
    pub actions: UpdateActions,
}

/// `/redfish/v1/UpdateService/FirmwareInventory/{id}`
#[derive(Debug, Clone, Deserialize)]
pub struct SoftwareInventory {
    #[serde(rename = "@odata.id")]
    pub odata_id: Option<String>,
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: Option<String>,
    #[serde(rename = "Version")]
    pub version: Option<String>,
    #[serde(rename = "SoftwareId")]
    pub software_id: Option<String>,
    #[serde(rename = "Updateable")]
    pub updateable: Option<bool>,
    #[serde(rename = "Status", default)]
    pub status: Status,
    #[serde(rename = "Oem", default)]
    pub oem: Value,
}

/// `…/LogServices/{id}/Entries/{id}`
#[derive(Debug, Clone, Deserialize)]
pub struct LogEntry {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Created")]
    pub created: Option<String>,
    #[serde(rename = "Severity")]
    pub severity: Option<String>,
    #[serde(rename = "Message")]
    pub message: Option<String>,
    #[serde(rename = "MessageId")]
    pub message_id: Option<String>,
}

/// `/redfish/v1/SessionService`
#[derive(Debug, Clone, Deserialize)]
pub struct SessionService {
    #[serde(rename = "ServiceEnabled")]
    pub service_enabled: Option<bool>,
    #[serde(rename = "Sessions")]
    pub sessions: Option<Link>,
}

/// A Redfish error body: `{"error": {"code", "message", "@Message.ExtendedInfo": [...]}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorDetail {
    pub code: Option<String>,
    pub message: Option<String>,
    #[serde(rename = "@Message.ExtendedInfo", default)]
    pub extended_info: Vec<ExtendedInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExtendedInfo {
    #[serde(rename = "Message")]
    pub message: Option<String>,
    #[serde(rename = "MessageId")]
    pub message_id: Option<String>,
}

impl ErrorBody {
    /// The most specific message and id a BMC gave.
    pub fn summary(&self) -> (String, Option<String>) {
        let first = self.error.extended_info.first();
        let message = first.and_then(|i| i.message.clone()).or_else(|| self.error.message.clone()).unwrap_or_default();
        let id = first.and_then(|i| i.message_id.clone()).or_else(|| self.error.code.clone());
        (message, id)
    }
}
