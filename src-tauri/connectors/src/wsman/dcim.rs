//! Dell's DCIM classes over WSMan, read into the same records the Redfish driver fills.
//!
//! Property names follow Dell's DCIM profiles (System Info, Software Inventory, iDRAC Card,
//! Job Control); values that mean "nothing" ("", nil, "N/A") become `None`.
//!
//! The Software Update and Job Control profiles' methods a firmware update takes, as Dell's
//! Lifecycle Controller Web Services guide and python-dracclient call them:
//! `DCIM_SoftwareInstallationService.InstallFromURI(URI, Target → DCIM_SoftwareIdentity)`
//! returns a `JID_…` that downloads the package and waits in `Downloaded`;
//! `DCIM_SoftwareInstallationService.CreateRebootJob(RebootJobType)` returns a `RID_…`;
//! `DCIM_JobService.SetupJobQueue(JobArray…, StartTimeInterval)` schedules the update jobs
//! and, last in the array, the reboot that applies them; `DCIM_JobService.DeleteJobQueue(JobID)`
//! deletes one job or all (`JID_CLEARALL`).
//!
//! The Base Server and Physical Asset profile's power control, as Dell's Power State
//! Management profile and OpenManage Python SDK (omsdk) call it:
//! `DCIM_CSPowerManagementService.RequestPowerStateChange(PowerState)` on the one service
//! instance (`pwrmgtsvc:1` of `DCIM_SPComputerSystem` `systemmc`), done at once (ReturnValue 0)
//! or refused with Dell's Message/MessageID; the power state it leaves is read back from
//! `DCIM_ComputerSystem.EnabledState` (2 on, 3 off), as python-dracclient reads it.
use super::xml::{escape, Element};
use super::{Returned, WsmanClient, WsmanError, ANONYMOUS, NS_ADDRESSING, NS_WSMAN};
use crate::idrac::records::{
    category_of_fqdd, meaningful, normalize_mac, parse_uuid, Capabilities, DriverKind, FirmwareComponent, Generation,
    Health, ManagerInfo, PowerState, ServerInventory,
};

pub const SYSTEM_VIEW: &str = "DCIM_SystemView";
pub const SOFTWARE_IDENTITY: &str = "DCIM_SoftwareIdentity";
pub const IDRAC_CARD_VIEW: &str = "DCIM_iDRACCardView";
pub const LIFECYCLE_JOB: &str = "DCIM_LifecycleJob";
pub const SOFTWARE_INSTALLATION_SERVICE: &str = "DCIM_SoftwareInstallationService";
pub const JOB_SERVICE: &str = "DCIM_JobService";
pub const CS_POWER_MANAGEMENT_SERVICE: &str = "DCIM_CSPowerManagementService";
pub const COMPUTER_SYSTEM: &str = "DCIM_ComputerSystem";

/// The keys of the one `DCIM_CSPowerManagementService` instance.
pub const CS_POWER_MANAGEMENT_SELECTORS: &[(&str, &str)] = &[
    ("CreationClassName", CS_POWER_MANAGEMENT_SERVICE),
    ("SystemCreationClassName", "DCIM_SPComputerSystem"),
    ("SystemName", "systemmc"),
    ("Name", "pwrmgtsvc:1"),
];

/// `RequestPowerStateChange`'s `PowerState` (the values Dell's profile supports; CIM's
/// others, such as 14 and 15 graceful resets, are not offered by the iDRAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedPower {
    /// 2: power on.
    On,
    /// 5: power cycle, off soft (the power goes off without an OS shutdown, then on).
    SoftPowerCycle,
    /// 8: power off, soft.
    SoftOff,
    /// 9: power cycle, off hard.
    PowerCycle,
    /// 10: master bus reset (a hard reset, the power stays on).
    HardReset,
    /// 11: diagnostic interrupt (NMI).
    DiagnosticInterrupt,
    /// 12: power off, soft graceful (the OS is asked to shut down).
    GracefulOff,
}

impl RequestedPower {
    pub fn code(self) -> u16 {
        match self {
            RequestedPower::On => 2,
            RequestedPower::SoftPowerCycle => 5,
            RequestedPower::SoftOff => 8,
            RequestedPower::PowerCycle => 9,
            RequestedPower::HardReset => 10,
            RequestedPower::DiagnosticInterrupt => 11,
            RequestedPower::GracefulOff => 12,
        }
    }
}

/// The keys of the one `DCIM_SoftwareInstallationService` instance.
const SOFTWARE_INSTALLATION_SELECTORS: &[(&str, &str)] = &[
    ("CreationClassName", SOFTWARE_INSTALLATION_SERVICE),
    ("SystemCreationClassName", "DCIM_ComputerSystem"),
    ("SystemName", "IDRAC:ID"),
    ("Name", "SoftwareUpdate"),
];

/// The keys of the one `DCIM_JobService` instance.
const JOB_SERVICE_SELECTORS: &[(&str, &str)] = &[
    ("CreationClassName", JOB_SERVICE),
    ("SystemCreationClassName", "DCIM_ComputerSystem"),
    ("SystemName", "Idrac"),
    ("Name", "JobService"),
];

/// `CreateRebootJob`'s `RebootJobType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebootJobType {
    /// 1
    PowerCycle,
    /// 2: graceful reboot without forced shutdown.
    Graceful,
    /// 3: graceful reboot, forced shutdown if the OS does not go down in time.
    GracefulForced,
}

impl RebootJobType {
    fn code(self) -> &'static str {
        match self {
            RebootJobType::PowerCycle => "1",
            RebootJobType::Graceful => "2",
            RebootJobType::GracefulForced => "3",
        }
    }
}

/// The `InstanceID` selector of the job reference in a method's output (`Job`,
/// `RebootJobID`: a `wsa:EndpointReference` or its ReferenceParameters).
pub fn job_id_of(output: &Element) -> Option<String> {
    fn walk(e: &Element) -> Option<String> {
        if e.name == "Selector" && e.attribute("Name") == Some("InstanceID") {
            let t = e.text.trim();
            return (!t.is_empty()).then(|| t.to_owned());
        }
        e.children.iter().find_map(walk)
    }
    walk(output)
}

fn expect_job(
    client: &WsmanClient,
    class: &str,
    method: &str,
    (output, returned): (Element, Returned),
) -> Result<String, WsmanError> {
    let protocol = |reason: &str| WsmanError::Protocol {
        host: client.host().to_owned(),
        class: class.to_owned(),
        reason: format!("{method}: {reason}"),
    };
    if returned != Returned::JobCreated {
        return Err(protocol("ReturnValue 0 where a job (4096) was expected"));
    }
    job_id_of(&output).ok_or_else(|| protocol("no job InstanceID in the answer"))
}

/// `InstallFromURI`: the iDRAC downloads the package at `uri` for the installed component
/// `software_instance_id` (a `DCIM_SoftwareIdentity` InstanceID, `DCIM:INSTALLED#…`).
/// Returns the `JID_…`. The URI may carry share credentials: it is never put in an error.
pub async fn install_from_uri(
    client: &WsmanClient,
    software_instance_id: &str,
    uri: &str,
) -> Result<String, WsmanError> {
    let input = format!(
        "<p:URI>{uri}</p:URI><p:Target xmlns:a=\"{NS_ADDRESSING}\" xmlns:w=\"{NS_WSMAN}\">\
         <a:Address>{ANONYMOUS}</a:Address><a:ReferenceParameters>\
         <w:ResourceURI>{resource}</w:ResourceURI><w:SelectorSet>\
         <w:Selector Name=\"InstanceID\">{id}</w:Selector></w:SelectorSet></a:ReferenceParameters></p:Target>",
        uri = escape(uri),
        resource = escape(&format!("{}{SOFTWARE_IDENTITY}", super::DCIM_URI)),
        id = escape(software_instance_id),
    );
    let out =
        client.invoke(SOFTWARE_INSTALLATION_SERVICE, "InstallFromURI", SOFTWARE_INSTALLATION_SELECTORS, &input).await?;
    expect_job(client, SOFTWARE_INSTALLATION_SERVICE, "InstallFromURI", out)
}

/// `CreateRebootJob`: a reboot job (`RID_…`), created but not scheduled.
pub async fn create_reboot_job(client: &WsmanClient, kind: RebootJobType) -> Result<String, WsmanError> {
    let input = format!("<p:RebootJobType>{}</p:RebootJobType>", kind.code());
    let out = client
        .invoke(SOFTWARE_INSTALLATION_SERVICE, "CreateRebootJob", SOFTWARE_INSTALLATION_SELECTORS, &input)
        .await?;
    expect_job(client, SOFTWARE_INSTALLATION_SERVICE, "CreateRebootJob", out)
}

/// `SetupJobQueue`: run `jobs` in this order now (`TIME_NOW`); a reboot job last reboots
/// the server so the updates before it apply.
pub async fn setup_job_queue(client: &WsmanClient, jobs: &[String]) -> Result<(), WsmanError> {
    let mut input: String = jobs.iter().map(|j| format!("<p:JobArray>{}</p:JobArray>", escape(j))).collect();
    input.push_str("<p:StartTimeInterval>TIME_NOW</p:StartTimeInterval>");
    client.invoke(JOB_SERVICE, "SetupJobQueue", JOB_SERVICE_SELECTORS, &input).await?;
    Ok(())
}

/// `DeleteJobQueue`: delete one job, or every job with `JID_CLEARALL`.
pub async fn delete_job_queue(client: &WsmanClient, job_id: &str) -> Result<(), WsmanError> {
    let input = format!("<p:JobID>{}</p:JobID>", escape(job_id));
    client.invoke(JOB_SERVICE, "DeleteJobQueue", JOB_SERVICE_SELECTORS, &input).await?;
    Ok(())
}

/// `RequestPowerStateChange`: the server changes power state now. Never repeated here: a
/// reset asked twice resets twice.
pub async fn request_power_state_change(client: &WsmanClient, state: RequestedPower) -> Result<(), WsmanError> {
    let input = format!("<p:PowerState>{}</p:PowerState>", state.code());
    client
        .invoke(CS_POWER_MANAGEMENT_SERVICE, "RequestPowerStateChange", CS_POWER_MANAGEMENT_SELECTORS, &input)
        .await?;
    Ok(())
}

/// The server's power as `DCIM_ComputerSystem.EnabledState` says it (2 on, 3 off).
pub async fn computer_system_power(client: &WsmanClient) -> Result<PowerState, WsmanError> {
    let systems = client.enumerate(COMPUTER_SYSTEM).await?;
    Ok(match systems.iter().find_map(|e| e.text_of("EnabledState")).map(str::trim) {
        Some("2") => PowerState::On,
        Some("3") => PowerState::Off,
        _ => PowerState::Unknown,
    })
}

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
