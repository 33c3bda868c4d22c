//! One inventory pass over a Redfish service: System, Manager (+ its NIC), UpdateService and
//! FirmwareInventory, and the tail of the event logs, mapped into [`crate::idrac::records`].
//! Vendor specifics come from an [`OemExtension`]; the generic one works on any Redfish BMC
//! (sushy-emulator included), the Dell one ([`super::dell::DellOem`]) knows service tags,
//! `Installed-<ComponentID>-<Version>__<FQDD>` ids, the Lifecycle log and the job queue.
use serde_json::Value;

use super::resources::{
    ComputerSystem, EthernetInterface, LogEntry, Manager, ServiceRoot, SoftwareInventory, UpdateService,
};
use super::{dell, odata_id, RedfishClient, RedfishError};
use crate::idrac::records::{
    meaningful, normalize_mac, parse_uuid, Capabilities, DriverKind, FirmwareComponent, Generation, Health,
    LogEntry as LogRecord, ManagerInfo, PowerState, ServerInventory,
};

/// A vendor's extension of the generic client (sushy's OEM plug-in idea).
pub trait OemExtension: Send + Sync {
    /// "generic", "dell".
    fn name(&self) -> &'static str;
    /// The chassis identity the vendor's support knows the server by.
    fn service_tag(&self, root: &ServiceRoot, system: &ComputerSystem) -> Option<String>;
    /// A FirmwareInventory member as a firmware row; `None` to skip it (e.g. a previous
    /// or available-but-not-installed version).
    fn firmware_component(&self, item: &SoftwareInventory) -> Option<FirmwareComponent>;
    /// The log-entry collections to tail, as (log name, entries path).
    fn log_entry_paths(&self, manager: &Manager, system: &ComputerSystem) -> Vec<(String, String)>;
    /// Where the vendor's job queue lives, if it has one.
    fn job_queue_paths(&self, manager: &Manager) -> Vec<String>;
    /// The BMC generation, if the vendor encodes it.
    fn generation(&self, _manager: &Manager, _system: &ComputerSystem) -> Option<Generation> {
        None
    }
}

/// Any DMTF-conformant service.
pub struct GenericOem;

impl OemExtension for GenericOem {
    fn name(&self) -> &'static str {
        "generic"
    }
    fn service_tag(&self, _root: &ServiceRoot, system: &ComputerSystem) -> Option<String> {
        meaningful(system.sku.as_deref()).or_else(|| meaningful(system.serial_number.as_deref()))
    }
    fn firmware_component(&self, item: &SoftwareInventory) -> Option<FirmwareComponent> {
        Some(FirmwareComponent {
            fqdd: item.id.clone(),
            component_id: meaningful(item.software_id.as_deref()),
            name: meaningful(item.name.as_deref()).unwrap_or_else(|| item.id.clone()),
            version: meaningful(item.version.as_deref())?,
            category: None,
            updateable: item.updateable.unwrap_or(false),
        })
    }
    fn log_entry_paths(&self, manager: &Manager, _system: &ComputerSystem) -> Vec<(String, String)> {
        match &manager.log_services {
            Some(l) => vec![("sel".into(), format!("{}/SEL/Entries", l.odata_id.trim_end_matches('/')))],
            None => Vec::new(),
        }
    }
    fn job_queue_paths(&self, _manager: &Manager) -> Vec<String> {
        Vec::new()
    }
}

/// The extension for this service: Dell when it says it is one, else generic.
pub fn extension_for(root: &ServiceRoot) -> Box<dyn OemExtension> {
    if dell::DellOem::recognizes(root) {
        Box::new(dell::DellOem)
    } else {
        Box::new(GenericOem)
    }
}

#[derive(Debug, Clone)]
pub struct InventoryOptions {
    /// Newest log entries to keep per log (0: don't read logs).
    pub log_tail: usize,
    /// Also probe the vendor job queue (one more request) for the capabilities.
    pub probe_jobs: bool,
}

impl Default for InventoryOptions {
    fn default() -> Self {
        InventoryOptions { log_tail: 20, probe_jobs: true }
    }
}

/// What an inventory pass saw, before the facade adds TLS facts.
#[derive(Debug, Clone)]
pub struct RedfishInventory {
    pub inventory: ServerInventory,
    /// Which OEM extension read it ("dell", "generic").
    pub extension: &'static str,
}

/// Read everything about the first System and its Manager.
pub async fn read_inventory(
    client: &RedfishClient,
    options: &InventoryOptions,
) -> Result<RedfishInventory, RedfishError> {
    let root = client.root().clone();
    let ext = extension_for(&root);
    let mut inv = ServerInventory::empty(DriverKind::Redfish);
    let mut caps = Capabilities {
        redfish: true,
        sessions: client.uses_sessions(),
        expand: root.supports_expand(),
        job_service: root.tasks.is_some() || root.job_service.is_some(),
        ..Default::default()
    };
    if let Some(note) = client.session_note() {
        caps.notes.push(format!("sessions: {note}"));
    }

    let systems = root.systems.as_ref().map(|l| l.odata_id.clone()).unwrap_or_else(|| "/redfish/v1/Systems".into());
    let system_path = client.member_paths(&systems).await?.into_iter().next().ok_or_else(|| {
        RedfishError::Protocol { host: client.host().to_owned(), reason: format!("{systems} lists no computer system") }
    })?;
    let system: ComputerSystem = client.get(&system_path).await?;

    let managers = root.managers.as_ref().map(|l| l.odata_id.clone()).unwrap_or_else(|| "/redfish/v1/Managers".into());
    let manager_paths = client.member_paths(&managers).await?;
    // Prefer the embedded iDRAC / the BMC when a service lists several managers.
    let manager_path =
        manager_paths.iter().find(|p| p.contains("iDRAC.Embedded")).or_else(|| manager_paths.first()).cloned();
    let manager: Option<Manager> = match &manager_path {
        Some(p) => Some(client.get(p).await?),
        None => None,
    };

    inv.service_tag = ext.service_tag(&root, &system);
    inv.system_uuid = parse_uuid(system.uuid.as_deref());
    inv.manufacturer = meaningful(system.manufacturer.as_deref());
    inv.model = meaningful(system.model.as_deref());
    inv.bios_version = meaningful(system.bios_version.as_deref());
    inv.power_state = system.power_state.as_deref().map(PowerState::from_redfish).unwrap_or_default();
    inv.health = system
        .status
        .health_rollup
        .as_deref()
        .or(system.status.health.as_deref())
        .map(Health::from_redfish)
        .unwrap_or_default();
    inv.cpu_model = meaningful(system.processor_summary.model.as_deref());
    inv.cpu_count = system.processor_summary.count;
    inv.memory_gib = system.memory_summary.total_system_memory_gib.filter(|g| *g > 0.0).map(|g| g.round() as u32);
    inv.hostname = meaningful(system.host_name.as_deref());

    if let Some(manager) = &manager {
        inv.manager = manager_info(client, manager, ext.as_ref(), &system).await?;
    }

    // UpdateService: what kinds of update the BMC offers, and the firmware inventory.
    let update_path =
        root.update_service.as_ref().map(|l| l.odata_id.clone()).unwrap_or_else(|| "/redfish/v1/UpdateService".into());
    if let Some(update) = client.get_optional::<UpdateService>(&update_path).await? {
        caps.simple_update = update.actions.simple_update.as_ref().is_some_and(|a| a.target.is_some());
        caps.multipart_update = update.multipart_http_push_uri.as_deref().is_some_and(|u| !u.is_empty());
        caps.http_push_update = update.http_push_uri.as_deref().is_some_and(|u| !u.is_empty());
        let inventory_path = update
            .firmware_inventory
            .as_ref()
            .map(|l| l.odata_id.clone())
            .unwrap_or_else(|| format!("{}/FirmwareInventory", update_path.trim_end_matches('/')));
        match client.expanded_members(&inventory_path).await {
            Ok(members) => {
                caps.firmware_inventory = true;
                inv.firmware = firmware_rows(client, ext.as_ref(), &inventory_path, members)?;
            }
            Err(RedfishError::NotFound { .. }) => {
                caps.notes.push("firmware inventory: UpdateService/FirmwareInventory is not offered".into());
            }
            Err(e) => return Err(e),
        }
    } else {
        caps.notes.push("updates: the service has no UpdateService".into());
    }

    if let Some(manager) = &manager {
        if options.log_tail > 0 {
            for (log, path) in ext.log_entry_paths(manager, &system) {
                match tail_log(client, &log, &path, options.log_tail).await {
                    Ok(entries) => {
                        match log.as_str() {
                            "lifecycle" => caps.lifecycle_log = true,
                            _ => caps.sel_log = true,
                        }
                        inv.log_tail.extend(entries);
                    }
                    Err(RedfishError::NotFound { .. }) => caps.notes.push(format!("{log} log: not offered")),
                    Err(e) => return Err(e),
                }
            }
        }
        if options.probe_jobs {
            for path in ext.job_queue_paths(manager) {
                if client.get_optional::<Value>(&path).await?.is_some() {
                    caps.dell_jobs = true;
                    break;
                }
            }
        }
    }
    if inv.manager.generation.is_none() {
        inv.manager.generation = manager.as_ref().and_then(|m| ext.generation(m, &system));
    }
    inv.capabilities = caps;
    inv.api_calls = client.api_calls();
    Ok(RedfishInventory { inventory: inv, extension: ext.name() })
}

async fn manager_info(
    client: &RedfishClient,
    manager: &Manager,
    ext: &dyn OemExtension,
    system: &ComputerSystem,
) -> Result<ManagerInfo, RedfishError> {
    let mut info = ManagerInfo {
        firmware_version: meaningful(manager.firmware_version.as_deref()),
        model: meaningful(manager.model.as_deref()),
        generation: ext.generation(manager, system),
        mac: None,
        ip: None,
    };
    if let Some(nics) = &manager.ethernet_interfaces {
        let members = match client.expanded_members(&nics.odata_id).await {
            Ok(m) => m,
            Err(RedfishError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        for member in members {
            let Ok(nic) = serde_json::from_value::<EthernetInterface>(member) else { continue };
            let mac = normalize_mac(nic.permanent_mac_address.as_deref().or(nic.mac_address.as_deref()));
            let ip =
                nic.ipv4_addresses.iter().filter_map(|a| meaningful(a.address.as_deref())).find(|a| a != "0.0.0.0");
            if mac.is_some() || ip.is_some() {
                info.mac = mac;
                info.ip = ip;
                break;
            }
        }
    }
    Ok(info)
}

fn firmware_rows(
    client: &RedfishClient,
    ext: &dyn OemExtension,
    path: &str,
    members: Vec<Value>,
) -> Result<Vec<FirmwareComponent>, RedfishError> {
    let mut rows: Vec<FirmwareComponent> = Vec::new();
    for member in members {
        let item: SoftwareInventory = serde_json::from_value(member).map_err(|e| RedfishError::Malformed {
            host: client.host().to_owned(),
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if let Some(row) = ext.firmware_component(&item) {
            // One row per device: the database keys firmware by (server, fqdd).
            if !rows.iter().any(|r| r.fqdd == row.fqdd) {
                rows.push(row);
            }
        }
    }
    rows.sort_by(|a, b| a.fqdd.cmp(&b.fqdd));
    Ok(rows)
}

/// The newest `n` entries of a log, newest first. Reads one page: logs can hold thousands of
/// entries and only the tail matters here.
async fn tail_log(client: &RedfishClient, log: &str, path: &str, n: usize) -> Result<Vec<LogRecord>, RedfishError> {
    let top_skip = client.root().protocol_features.as_ref().is_some_and(|p| p.top_skip_query);
    let page_path = if top_skip { format!("{path}?$top={}", n.max(50)) } else { path.to_owned() };
    let page: super::resources::Collection = client.get(&page_path).await?;
    let mut entries = Vec::new();
    for member in page.members {
        let entry = if member.as_object().is_some_and(|o| o.len() == 1) {
            match odata_id(&member) {
                Some(p) => client.get::<LogEntry>(p).await?,
                None => continue,
            }
        } else {
            match serde_json::from_value::<LogEntry>(member) {
                Ok(e) => e,
                Err(_) => continue,
            }
        };
        entries.push(LogRecord {
            log: log.to_owned(),
            id: entry.id,
            created: entry.created,
            severity: entry.severity,
            message_id: entry.message_id,
            message: entry.message.unwrap_or_default(),
        });
    }
    // RFC 3339 timestamps of one BMC sort as strings; entries without a time go last.
    entries.sort_by(|a, b| b.created.cmp(&a.created));
    entries.truncate(n);
    Ok(entries)
}
