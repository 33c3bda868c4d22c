//! The Dell iDRAC extension of the generic Redfish client (what sushy-oem-idrac is to sushy):
//! service tags from `SKU` / `Oem.Dell.DellSystem.ChassisServiceTag`, firmware ids of the form
//! `Installed-<ComponentID>-<Version>__<FQDD>`, the generation from the Manager `Model`
//! ("14G Monolithic"), the Lifecycle Controller and SEL logs, and the Dell job queue.
//!
//! Must never: change how the generic client authenticates, pages or handles errors — Dell
//! quirks are answered here by reading different fields, not by a second client.
use serde::Deserialize;
use serde_json::Value;

use super::inventory::OemExtension;
use super::resources::{ComputerSystem, Manager, ServiceRoot, SoftwareInventory};
use super::{RedfishClient, RedfishError};
use crate::idrac::records::{category_of_fqdd, meaningful, FirmwareComponent, Generation};

/// The Dell plug-in.
pub struct DellOem;

impl DellOem {
    /// A Dell service says so in its ServiceRoot (`Oem.Dell`, `Vendor`, or the iDRAC product name).
    pub fn recognizes(root: &ServiceRoot) -> bool {
        root.oem.get("Dell").is_some()
            || root.vendor.as_deref().is_some_and(|v| v.contains("Dell"))
            || root.product.as_deref().is_some_and(|p| p.contains("Dell Remote Access Controller"))
    }
}

/// Where a FirmwareInventory entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirmwareState {
    Installed,
    /// The running version, on firmware that names it so.
    Current,
    /// The rollback image.
    Previous,
    /// Staged but not installed.
    Available,
}

/// A Dell FirmwareInventory id taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DellFirmwareId {
    pub state: FirmwareState,
    pub component_id: String,
    pub version: String,
    pub fqdd: Option<String>,
}

/// Parse `Installed-25227-7.00.00.172__iDRAC.Embedded.1-1`. The version may itself contain
/// dashes (`Installed-101548-A00__Disk.Bay.0:…`, `Installed-0-2.1.3-12__…`).
pub fn parse_firmware_id(id: &str) -> Option<DellFirmwareId> {
    let (state, rest) = [
        ("Installed-", FirmwareState::Installed),
        ("Current-", FirmwareState::Current),
        ("Previous-", FirmwareState::Previous),
        ("Available-", FirmwareState::Available),
    ]
    .iter()
    .find_map(|(p, s)| id.strip_prefix(p).map(|r| (*s, r)))?;
    let (head, fqdd) = match rest.split_once("__") {
        Some((h, f)) => (h, Some(f.to_owned()).filter(|f| !f.is_empty())),
        None => (rest, None),
    };
    let (component_id, version) = head.split_once('-')?;
    if component_id.is_empty() || version.is_empty() {
        return None;
    }
    Some(DellFirmwareId { state, component_id: component_id.to_owned(), version: version.to_owned(), fqdd })
}

impl OemExtension for DellOem {
    fn name(&self) -> &'static str {
        "dell"
    }

    fn service_tag(&self, root: &ServiceRoot, system: &ComputerSystem) -> Option<String> {
        let dell_system = system.oem.pointer("/Dell/DellSystem/ChassisServiceTag").and_then(Value::as_str);
        meaningful(system.sku.as_deref())
            .or_else(|| meaningful(dell_system))
            .or_else(|| meaningful(root.oem.pointer("/Dell/ServiceTag").and_then(Value::as_str)))
    }

    fn firmware_component(&self, item: &SoftwareInventory) -> Option<FirmwareComponent> {
        let parsed = parse_firmware_id(&item.id)?;
        if matches!(parsed.state, FirmwareState::Previous | FirmwareState::Available) {
            return None;
        }
        let oem_fqdd = item.oem.pointer("/Dell/DellSoftwareInventory/FQDD").and_then(Value::as_str).map(str::to_owned);
        let fqdd = parsed.fqdd.or(oem_fqdd).unwrap_or_else(|| item.id.clone());
        let version = meaningful(item.version.as_deref()).unwrap_or(parsed.version);
        Some(FirmwareComponent {
            category: Some(category_of_fqdd(&fqdd).to_owned()),
            name: meaningful(item.name.as_deref()).unwrap_or_else(|| fqdd.clone()),
            fqdd,
            component_id: Some(parsed.component_id),
            version,
            updateable: item.updateable.unwrap_or(false),
        })
    }

    fn log_entry_paths(&self, manager: &Manager, _system: &ComputerSystem) -> Vec<(String, String)> {
        let Some(logs) = &manager.log_services else { return Vec::new() };
        let base = logs.odata_id.trim_end_matches('/');
        vec![("lifecycle".into(), format!("{base}/Lclog/Entries")), ("sel".into(), format!("{base}/Sel/Entries"))]
    }

    fn job_queue_paths(&self, manager: &Manager) -> Vec<String> {
        let Some(id) = &manager.odata_id else { return Vec::new() };
        let id = id.trim_end_matches('/');
        // Older firmware: Managers/iDRAC.Embedded.1/Jobs; newer: …/Oem/Dell/Jobs.
        vec![format!("{id}/Jobs"), format!("{id}/Oem/Dell/Jobs")]
    }

    fn generation(&self, manager: &Manager, system: &ComputerSystem) -> Option<Generation> {
        manager
            .model
            .as_deref()
            .and_then(Generation::from_server_generation)
            .or_else(|| {
                system
                    .oem
                    .pointer("/Dell/DellSystem/SystemGeneration")
                    .and_then(Value::as_str)
                    .and_then(Generation::from_server_generation)
            })
            .or_else(|| manager.firmware_version.as_deref().and_then(Generation::from_firmware_version))
    }
}

/// A Dell job (`DellJob`), from the job queue or a task's `Oem.Dell`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct DellJob {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: Option<String>,
    #[serde(rename = "JobState")]
    pub job_state: Option<String>,
    #[serde(rename = "JobType")]
    pub job_type: Option<String>,
    #[serde(rename = "Message")]
    pub message: Option<String>,
    #[serde(rename = "MessageId")]
    pub message_id: Option<String>,
    #[serde(rename = "PercentComplete")]
    pub percent_complete: Option<u32>,
}

impl DellJob {
    /// Whether the job is finished (successfully or not).
    pub fn is_finished(&self) -> bool {
        matches!(
            self.job_state.as_deref(),
            Some("Completed" | "CompletedWithErrors" | "Failed" | "RebootFailed" | "Cancelled")
        )
    }
}

/// The Dell job queue of a manager (`Managers/iDRAC.Embedded.1/Jobs`, or `…/Oem/Dell/Jobs`).
pub async fn job_queue(client: &RedfishClient, manager_path: &str) -> Result<Vec<DellJob>, RedfishError> {
    let manager_path = manager_path.trim_end_matches('/');
    let mut last = None;
    for path in [format!("{manager_path}/Jobs"), format!("{manager_path}/Oem/Dell/Jobs")] {
        match client.expanded_members(&path).await {
            Ok(members) => {
                return members
                    .into_iter()
                    .map(|m| {
                        serde_json::from_value(m).map_err(|e| RedfishError::Malformed {
                            host: client.host().to_owned(),
                            path: path.clone(),
                            reason: e.to_string(),
                        })
                    })
                    .collect();
            }
            Err(e @ RedfishError::NotFound { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last
        .unwrap_or_else(|| RedfishError::NotFound { host: client.host().to_owned(), path: manager_path.to_owned() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_ids_are_taken_apart() {
        let id = parse_firmware_id("Installed-25227-7.00.00.172__iDRAC.Embedded.1-1").unwrap();
        assert_eq!(id.state, FirmwareState::Installed);
        assert_eq!(id.component_id, "25227");
        assert_eq!(id.version, "7.00.00.172");
        assert_eq!(id.fqdd.as_deref(), Some("iDRAC.Embedded.1-1"));

        let disk =
            parse_firmware_id("Installed-104229-DN03-A00__Disk.Bay.1:Enclosure.Internal.0-1:RAID.Integrated.1-1")
                .unwrap();
        assert_eq!(disk.version, "DN03-A00");
        assert_eq!(disk.fqdd.as_deref(), Some("Disk.Bay.1:Enclosure.Internal.0-1:RAID.Integrated.1-1"));

        let prev = parse_firmware_id("Previous-159-2.10.2__BIOS.Setup.1-1").unwrap();
        assert_eq!(prev.state, FirmwareState::Previous);
        assert_eq!(parse_firmware_id("Current-101560-25.5.6.0009").unwrap().fqdd, None);
        assert!(parse_firmware_id("BMC").is_none());
        assert!(parse_firmware_id("Installed-").is_none());
    }
}
