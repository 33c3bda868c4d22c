//! Dell's DCIM classes over WSMan, read into the same records the Redfish driver fills.
//!
//! Property names follow Dell's DCIM profiles (System Info, Software Inventory, iDRAC Card,
//! Job Control); values that mean "nothing" ("", nil, "N/A") become `None`.
use super::xml::Element;
use super::{WsmanClient, WsmanError};
use crate::idrac::records::{
    category_of_fqdd, meaningful, normalize_mac, parse_uuid, Capabilities, DriverKind, FirmwareComponent, Generation,
    Health, ManagerInfo, PowerState, ServerInventory,
};

pub const SYSTEM_VIEW: &str = "DCIM_SystemView";
pub const SOFTWARE_IDENTITY: &str = "DCIM_SoftwareIdentity";
pub const IDRAC_CARD_VIEW: &str = "DCIM_iDRACCardView";
pub const LIFECYCLE_JOB: &str = "DCIM_LifecycleJob";

/// `DCIM_SystemView`: the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemView {
    pub service_tag: Option<String>,
    pub chassis_service_tag: Option<String>,
    pub model: Option<String>,
    pub manufacturer: Option<String>,
    pub bios_version: Option<String>,
    pub uuid: Option<String>,
    pub hostname: Option<String>,
    /// CIM power state: 2 on, 8 off (soft), 13 off (hard)…
    pub power_state: Option<u16>,
    /// 0 unknown, 1 OK, 2 degraded, 3 error.
    pub primary_status: Option<u16>,
    /// "13G Monolithic"
    pub system_generation: Option<String>,
    pub cpu_sockets: Option<u32>,
    /// Megabytes.
    pub memory_mb: Option<u64>,
    pub lifecycle_controller_version: Option<String>,
}

impl SystemView {
    pub fn from_element(e: &Element) -> SystemView {
        let t = |n: &str| meaningful(e.text_of(n));
        SystemView {
            service_tag: t("ServiceTag"),
            chassis_service_tag: t("ChassisServiceTag"),
            model: t("Model"),
            manufacturer: t("Manufacturer"),
            bios_version: t("BIOSVersionString"),
            uuid: t("UUID"),
            hostname: t("HostName"),
            power_state: t("PowerState").and_then(|v| v.parse().ok()),
            primary_status: t("PrimaryStatus").and_then(|v| v.parse().ok()),
            system_generation: t("SystemGeneration"),
            cpu_sockets: t("PopulatedCPUSockets").and_then(|v| v.parse().ok()),
            memory_mb: t("SysMemTotalSize").and_then(|v| v.parse().ok()),
            lifecycle_controller_version: t("LifecycleControllerVersion"),
        }
    }
}

/// `DCIM_SoftwareIdentity`: one firmware/software image, installed or available.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoftwareIdentity {
    pub instance_id: String,
    pub fqdd: Option<String>,
    pub component_id: Option<String>,
    pub component_type: Option<String>,
    pub element_name: Option<String>,
    pub version: Option<String>,
    /// "Installed" or "Available".
    pub status: Option<String>,
    pub updateable: bool,
}

impl SoftwareIdentity {
    pub fn from_element(e: &Element) -> SoftwareIdentity {
        let t = |n: &str| meaningful(e.text_of(n));
        SoftwareIdentity {
            instance_id: t("InstanceID").unwrap_or_default(),
            fqdd: t("FQDD"),
            component_id: t("ComponentID"),
            component_type: t("ComponentType"),
            element_name: t("ElementName"),
            version: t("VersionString"),
            status: t("Status"),
            updateable: e.text_of("Updateable").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        }
    }

    pub fn is_installed(&self) -> bool {
        match &self.status {
            Some(s) => s.eq_ignore_ascii_case("installed"),
            None => self.instance_id.starts_with("DCIM:INSTALLED"),
        }
    }

    /// As a firmware row (installed images only).
    pub fn to_component(&self) -> Option<FirmwareComponent> {
        if !self.is_installed() {
            return None;
        }
        // FQDD is always sent by iDRAC7+; older InstanceIDs carry it after "__".
        let fqdd = self
            .fqdd
            .clone()
            .or_else(|| self.instance_id.split_once("__").map(|(_, f)| f.to_owned()))
            .filter(|f| !f.is_empty())?;
        Some(FirmwareComponent {
            category: Some(category_of_fqdd(&fqdd).to_owned()),
            name: self.element_name.clone().unwrap_or_else(|| fqdd.clone()),
            component_id: self.component_id.clone(),
            version: self.version.clone()?,
            updateable: self.updateable,
            fqdd,
        })
    }
}

/// `DCIM_iDRACCardView`: the iDRAC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdracCardView {
    pub fqdd: Option<String>,
    pub firmware_version: Option<String>,
    pub model: Option<String>,
    pub permanent_mac: Option<String>,
    /// "https://10.0.0.5:443"
    pub url_string: Option<String>,
}

impl IdracCardView {
    pub fn from_element(e: &Element) -> IdracCardView {
        let t = |n: &str| meaningful(e.text_of(n));
        IdracCardView {
            fqdd: t("FQDD"),
            firmware_version: t("FirmwareVersion"),
            model: t("Model"),
            permanent_mac: t("PermanentMACAddress"),
            url_string: t("URLString"),
        }
    }

    /// The management IP from `URLString`.
    pub fn ip(&self) -> Option<String> {
        let url = url::Url::parse(self.url_string.as_deref()?).ok()?;
        let host = url.host_str()?.trim_matches(['[', ']']).to_owned();
        host.parse::<std::net::IpAddr>().ok().map(|_| host)
    }
}

/// `DCIM_LifecycleJob`: a Lifecycle Controller job.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LifecycleJob {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub message: Option<String>,
    pub message_id: Option<String>,
    pub percent_complete: Option<u32>,
}

impl LifecycleJob {
    pub fn from_element(e: &Element) -> LifecycleJob {
        let t = |n: &str| meaningful(e.text_of(n));
        LifecycleJob {
            id: t("InstanceID").unwrap_or_default(),
            name: t("Name"),
            status: t("JobStatus"),
            message: t("Message"),
            message_id: t("MessageID"),
            percent_complete: t("PercentComplete").and_then(|v| v.parse().ok()),
        }
    }
}

/// Map the four classes into a server record.
pub fn to_inventory(
    system: &SystemView,
    software: &[SoftwareIdentity],
    card: Option<&IdracCardView>,
) -> ServerInventory {
    let mut inv = ServerInventory::empty(DriverKind::Wsman);
    inv.service_tag = system.service_tag.clone().or_else(|| system.chassis_service_tag.clone());
    inv.system_uuid = parse_uuid(system.uuid.as_deref());
    inv.manufacturer = system.manufacturer.clone();
    inv.model = system.model.clone();
    inv.bios_version = system.bios_version.clone();
    inv.hostname = system.hostname.clone();
    inv.power_state = match system.power_state {
        Some(2) => PowerState::On,
        Some(3..=13) => PowerState::Off,
        _ => PowerState::Unknown,
    };
    inv.health = match system.primary_status {
        Some(1) => Health::Ok,
        Some(2) => Health::Warning,
        Some(3) => Health::Critical,
        _ => Health::Unknown,
    };
    inv.cpu_count = system.cpu_sockets;
    inv.memory_gib = system.memory_mb.filter(|m| *m > 0).map(|mb| ((mb as f64) / 1024.0).round() as u32);
    let mut firmware: Vec<FirmwareComponent> = Vec::new();
    for row in software.iter().filter_map(SoftwareIdentity::to_component) {
        if !firmware.iter().any(|f| f.fqdd == row.fqdd) {
            firmware.push(row);
        }
    }
    firmware.sort_by(|a, b| a.fqdd.cmp(&b.fqdd));
    inv.firmware = firmware;
    let generation_text = system.system_generation.clone();
    let idrac_version = card
        .and_then(|c| c.firmware_version.clone())
        .or_else(|| inv.firmware.iter().find(|f| f.fqdd.starts_with("iDRAC.Embedded")).map(|f| f.version.clone()));
    inv.manager = ManagerInfo {
        generation: generation_text
            .as_deref()
            .and_then(Generation::from_server_generation)
            .or_else(|| idrac_version.as_deref().and_then(Generation::from_firmware_version)),
        firmware_version: idrac_version,
        model: generation_text,
        mac: normalize_mac(card.and_then(|c| c.permanent_mac.as_deref())),
        ip: card.and_then(IdracCardView::ip),
    };
    inv
}

/// What one WSMan inventory pass read.
#[derive(Debug, Clone)]
pub struct WsmanInventory {
    pub inventory: ServerInventory,
    pub jobs: Vec<LifecycleJob>,
}

/// Enumerate the four classes and map them. The job queue is read only when `jobs` is set.
pub async fn read_inventory(client: &WsmanClient, jobs: bool) -> Result<WsmanInventory, WsmanError> {
    let systems = client.enumerate(SYSTEM_VIEW).await?;
    let system = systems.first().map(SystemView::from_element).ok_or_else(|| WsmanError::Protocol {
        host: client.host().to_owned(),
        class: SYSTEM_VIEW.into(),
        reason: "no DCIM_SystemView instance".into(),
    })?;
    let cards = client.enumerate(IDRAC_CARD_VIEW).await?;
    let card = cards.first().map(IdracCardView::from_element);
    let software: Vec<SoftwareIdentity> =
        client.enumerate(SOFTWARE_IDENTITY).await?.iter().map(SoftwareIdentity::from_element).collect();
    let job_list = if jobs {
        client.enumerate(LIFECYCLE_JOB).await?.iter().map(LifecycleJob::from_element).collect()
    } else {
        Vec::new()
    };
    let mut inventory = to_inventory(&system, &software, card.as_ref());
    inventory.capabilities = Capabilities {
        wsman: true,
        firmware_inventory: !software.is_empty(),
        job_service: jobs,
        notes: vec!["logs: the Lifecycle log is not read over WSMan".into()],
        ..Default::default()
    };
    inventory.api_calls = client.api_calls();
    Ok(WsmanInventory { inventory, jobs: job_list })
}
