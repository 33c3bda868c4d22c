//! The Dell iDRAC extension of the generic Redfish client (what sushy-oem-idrac is to sushy):
//! service tags from `SKU` / `Oem.Dell.DellSystem.ChassisServiceTag`, firmware ids of the form
//! `Installed-<ComponentID>-<Version>__<FQDD>`, the generation from the Manager `Model`
//! ("14G Monolithic"), the Lifecycle Controller and SEL logs, and the Dell job queue — read
//! ([`job`], [`jobs`]) and acted on: firmware updates that return the Dell job id
//! ([`push_update`] through `MultipartHttpPushUri`, or `HttpPushUri` + `SimpleUpdate`;
//! [`simple_update`] from a URI), [`clear_job_queue`] (`DellJobService.DeleteJobQueue`,
//! `JID_CLEARALL`) and [`reset_system`] (`ComputerSystem.Reset`). Starting returns the
//! `JID_…` at once; looking at a job is a GET, safe to repeat from any session — that is how
//! a resumed worker re-attaches. RAC0679 ("a job is already running") is
//! [`RedfishError::JobAlreadyRunning`].
//!
//! Must never: change how the generic client authenticates, pages or handles errors — Dell
//! quirks are answered here by reading different fields, not by a second client.
use serde::Deserialize;
use serde_json::{json, Value};

use super::inventory::OemExtension;
use super::resources::{ComputerSystem, Manager, ServiceRoot, SoftwareInventory, UpdateService};
use super::{ActionResponse, RedfishClient, RedfishError};
use crate::idrac::records::{
    category_of_fqdd, meaningful, ApplyTime, FirmwareComponent, Generation, JobState, JobStatus, ResetKind,
    UpdateMethod,
};

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

/// Dell's one manager and one system.
pub const MANAGER: &str = "/redfish/v1/Managers/iDRAC.Embedded.1";
pub const SYSTEM: &str = "/redfish/v1/Systems/System.Embedded.1";
const UPDATE_SERVICE: &str = "/redfish/v1/UpdateService";
const SIMPLE_UPDATE: &str = "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate";
/// Where iDRAC9 firmware names its job service (newer firmware also under the manager's Oem).
const JOB_SERVICES: &[&str] = &[
    "/redfish/v1/Dell/Managers/iDRAC.Embedded.1/DellJobService",
    "/redfish/v1/Managers/iDRAC.Embedded.1/Oem/Dell/DellJobService",
];

/// An update handed to the iDRAC: its job id and how it was handed over.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct StartedUpdate {
    /// `JID_…`: record it before waiting.
    pub job_id: String,
    pub method: UpdateMethod,
}

/// A job id as Dell writes them (`JID_` or `RID_` and digits); anything else is refused
/// before it reaches a URL.
pub fn valid_job_id(id: &str) -> bool {
    let digits = id.strip_prefix("JID_").or_else(|| id.strip_prefix("RID_"));
    digits.is_some_and(|d| !d.is_empty() && d.len() <= 32 && d.chars().all(|c| c.is_ascii_digit()))
}

/// `JID_CLEARALL` is also a valid argument of DeleteJobQueue.
const CLEAR_ALL: &str = "JID_CLEARALL";

/// Dell's message id without its registry prefix: `IDRAC.2.8.RAC0679` → `RAC0679`.
fn short_message_id(id: &str) -> String {
    id.rsplit('.').next().unwrap_or(id).to_owned()
}

/// RAC0679 (and its siblings for a pending job) become [`RedfishError::JobAlreadyRunning`].
fn job_refusal(e: RedfishError) -> RedfishError {
    match e {
        RedfishError::Status { host, message, message_id: Some(id), .. }
            if matches!(short_message_id(&id).as_str(), "RAC0679" | "SUP0108" | "LC068") =>
        {
            RedfishError::JobAlreadyRunning { host, message }
        }
        other => other,
    }
}

/// The job id a 202 names: the last segment of `Location` (`…/TaskService/Tasks/JID_…`,
/// `…/Jobs/JID_…`), else the body's `Id`.
fn job_id_of(client: &RedfishClient, path: &str, resp: &ActionResponse) -> Result<String, RedfishError> {
    let from_location = resp.location.as_deref().and_then(|l| l.trim_end_matches('/').rsplit('/').next());
    let from_body = resp.body.get("Id").and_then(Value::as_str);
    from_location
        .filter(|id| valid_job_id(id))
        .or(from_body.filter(|id| valid_job_id(id)))
        .map(str::to_owned)
        .ok_or_else(|| RedfishError::Protocol {
            host: client.host().to_owned(),
            reason: format!(
                "{path} answered HTTP {} without a job id (Location {:?})",
                resp.status,
                resp.location.as_deref().unwrap_or("none")
            ),
        })
}

fn apply_time(apply: ApplyTime) -> &'static str {
    match apply {
        ApplyTime::OnReset => "OnReset",
        ApplyTime::Immediate => "Immediate",
    }
}

/// Push a firmware image (a Dell Update Package) to the iDRAC and start its update job:
/// `MultipartHttpPushUri` where the UpdateService offers it (iDRAC9: one POST with
/// `UpdateParameters` and `UpdateFile`, 202 + `Location: …/TaskService/Tasks/JID_…`), else
/// an upload to `HttpPushUri` (with the `If-Match` ETag iDRACs require; 201 + the staged
/// `Available-…` resource) and `UpdateService.SimpleUpdate` of that resource. Returns the
/// job id without waiting; RAC0679 is [`RedfishError::JobAlreadyRunning`].
pub async fn push_update(
    client: &RedfishClient,
    file_name: &str,
    image: bytes::Bytes,
    apply: ApplyTime,
) -> Result<StartedUpdate, RedfishError> {
    let service: UpdateService = client.get(UPDATE_SERVICE).await?;
    let part = |field: &str| -> Result<reqwest::multipart::Part, RedfishError> {
        reqwest::multipart::Part::stream_with_length(reqwest::Body::from(image.clone()), image.len() as u64)
            .file_name(file_name.to_owned())
            .mime_str("application/octet-stream")
            .map_err(|e| RedfishError::Protocol { host: client.host().to_owned(), reason: format!("{field}: {e}") })
    };
    if let Some(uri) = service.multipart_http_push_uri.as_deref().filter(|u| !u.is_empty()) {
        let parameters = json!({"Targets": [], "@Redfish.OperationApplyTime": apply_time(apply)}).to_string();
        let params = reqwest::multipart::Part::text(parameters)
            .mime_str("application/json")
            .map_err(|e| RedfishError::Protocol { host: client.host().to_owned(), reason: e.to_string() })?;
        let form =
            reqwest::multipart::Form::new().part("UpdateParameters", params).part("UpdateFile", part("UpdateFile")?);
        let resp = client.post_form(uri, form, None).await.map_err(job_refusal)?;
        let job_id = job_id_of(client, uri, &resp)?;
        return Ok(StartedUpdate { job_id, method: UpdateMethod::MultipartPush });
    }
    let Some(push) = service.http_push_uri.as_deref().filter(|u| !u.is_empty()) else {
        return Err(RedfishError::NotFound {
            host: client.host().to_owned(),
            path: "UpdateService.MultipartHttpPushUri or HttpPushUri (this iDRAC accepts no image push)".into(),
        });
    };
    let etag = client.etag(push).await?;
    let form = reqwest::multipart::Form::new().part("file", part("file")?);
    let staged = client.post_form(push, form, etag.as_deref()).await.map_err(job_refusal)?;
    let Some(location) =
        staged.location.clone().or_else(|| staged.body.get("@odata.id").and_then(Value::as_str).map(str::to_owned))
    else {
        return Err(RedfishError::Protocol {
            host: client.host().to_owned(),
            reason: format!("{push} accepted the image (HTTP {}) but did not say where it is staged", staged.status),
        });
    };
    let staged_path = client.url(&location)?.path().to_owned();
    let started =
        simple_update_with(client, service.actions.simple_update.and_then(|a| a.target), &staged_path, apply).await?;
    Ok(StartedUpdate { job_id: started.job_id, method: UpdateMethod::HttpPushSimpleUpdate })
}

/// `UpdateService.SimpleUpdate` of an image the iDRAC fetches itself (`http://repo/BIOS.EXE`,
/// or a resource staged by an upload). Returns the job id without waiting.
pub async fn simple_update(
    client: &RedfishClient,
    image_uri: &str,
    apply: ApplyTime,
) -> Result<StartedUpdate, RedfishError> {
    let service: UpdateService = client.get(UPDATE_SERVICE).await?;
    simple_update_with(client, service.actions.simple_update.and_then(|a| a.target), image_uri, apply).await
}

async fn simple_update_with(
    client: &RedfishClient,
    target: Option<String>,
    image_uri: &str,
    apply: ApplyTime,
) -> Result<StartedUpdate, RedfishError> {
    let target = target.unwrap_or_else(|| SIMPLE_UPDATE.to_owned());
    let mut body = json!({"ImageURI": image_uri});
    if apply == ApplyTime::OnReset {
        body["@Redfish.OperationApplyTime"] = json!("OnReset");
    }
    let resp = client.post_json(&target, &body).await.map_err(job_refusal)?;
    let job_id = job_id_of(client, &target, &resp)?;
    Ok(StartedUpdate { job_id, method: UpdateMethod::SimpleUpdate })
}

impl DellJob {
    /// The typed view of this job.
    pub fn status(&self) -> JobStatus {
        let raw = self.job_state.clone().unwrap_or_default();
        JobStatus {
            id: self.id.clone(),
            name: self.name.clone(),
            job_type: self.job_type.clone(),
            state: JobState::from_dell(&raw),
            raw_state: raw,
            percent: self.percent_complete,
            message_id: self.message_id.as_deref().map(short_message_id),
            message: self.message.clone(),
        }
    }
}

/// One Dell job, as it is now: `Managers/iDRAC.Embedded.1/Jobs/{id}`, else the newer
/// `…/Oem/Dell/Jobs/{id}`, else the task monitor's `Oem.Dell`. A GET: safe to repeat.
pub async fn job(client: &RedfishClient, job_id: &str) -> Result<JobStatus, RedfishError> {
    if !valid_job_id(job_id) {
        return Err(RedfishError::Protocol {
            host: client.host().to_owned(),
            reason: format!("{job_id:?} is not a Dell job id (JID_ followed by digits)"),
        });
    }
    for path in [
        format!("{MANAGER}/Jobs/{job_id}"),
        format!("{MANAGER}/Oem/Dell/Jobs/{job_id}"),
        format!("/redfish/v1/TaskService/Tasks/{job_id}"),
    ] {
        match client.get_json(&path).await {
            Ok(v) => {
                let v = if path.contains("/TaskService/") { v.pointer("/Oem/Dell").cloned().unwrap_or(v) } else { v };
                let job: DellJob = serde_json::from_value(v).map_err(|e| RedfishError::Malformed {
                    host: client.host().to_owned(),
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                return Ok(job.status());
            }
            Err(RedfishError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(RedfishError::JobNotFound { host: client.host().to_owned(), job: job_id.to_owned() })
}

/// Every job in the queue.
pub async fn jobs(client: &RedfishClient) -> Result<Vec<JobStatus>, RedfishError> {
    Ok(job_queue(client, MANAGER).await?.iter().map(DellJob::status).collect())
}

/// `DellJobService.DeleteJobQueue` with `JID_CLEARALL`: every job goes, including one that is
/// scheduled or running. Destructive — whether to do it is the caller's policy.
pub async fn clear_job_queue(client: &RedfishClient) -> Result<(), RedfishError> {
    delete_jobs(client, CLEAR_ALL).await
}

/// `DellJobService.DeleteJobQueue` of one job.
pub async fn delete_job(client: &RedfishClient, job_id: &str) -> Result<(), RedfishError> {
    if !valid_job_id(job_id) {
        return Err(RedfishError::Protocol {
            host: client.host().to_owned(),
            reason: format!("{job_id:?} is not a Dell job id"),
        });
    }
    delete_jobs(client, job_id).await
}

async fn delete_jobs(client: &RedfishClient, which: &str) -> Result<(), RedfishError> {
    // The manager names its job service; older and newer firmware put it in different places.
    let named = client
        .get_json(MANAGER)
        .await?
        .pointer("/Links/Oem/Dell/DellJobService/@odata.id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut candidates: Vec<String> = named.into_iter().collect();
    candidates.extend(JOB_SERVICES.iter().map(|s| (*s).to_owned()));
    candidates.dedup();
    let mut last = None;
    for service in candidates {
        let action = format!("{}/Actions/DellJobService.DeleteJobQueue", service.trim_end_matches('/'));
        match client.post_json(&action, &json!({"JobID": which})).await {
            Ok(_) => return Ok(()),
            Err(e @ RedfishError::NotFound { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last
        .unwrap_or_else(|| RedfishError::NotFound { host: client.host().to_owned(), path: "DellJobService".into() }))
}

/// `ComputerSystem.Reset` of the server (what makes a `RebootPending` update apply).
pub async fn reset_system(client: &RedfishClient, kind: ResetKind) -> Result<(), RedfishError> {
    let system = client.get_json(SYSTEM).await?;
    let target = system
        .pointer("/Actions/#ComputerSystem.Reset/target")
        .and_then(Value::as_str)
        .unwrap_or("/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset")
        .to_owned();
    client.post_json(&target, &json!({"ResetType": kind.as_redfish()})).await?;
    Ok(())
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

    #[test]
    fn job_ids_and_refusals() {
        assert!(valid_job_id("JID_123456789012"));
        assert!(valid_job_id("RID_1"));
        assert!(!valid_job_id("JID_"));
        assert!(!valid_job_id("JID_12/../x"));
        assert!(!valid_job_id("JID_CLEARALL"));
        assert_eq!(short_message_id("IDRAC.2.8.RAC0679"), "RAC0679");
        let e = job_refusal(RedfishError::Status {
            host: "bmc".into(),
            path: "/x".into(),
            status: 400,
            message: "A job operation is already running.".into(),
            message_id: Some("IDRAC.2.8.RAC0679".into()),
        });
        assert!(matches!(e, RedfishError::JobAlreadyRunning { .. }), "{e:?}");
        assert!(e.to_string().contains("RAC0679"));
    }
}
