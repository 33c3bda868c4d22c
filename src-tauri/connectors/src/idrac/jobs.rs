//! # jobs — what a firmware job does to one iDRAC, whichever driver reaches it
//!
//! Owns [`DellActions`]: start a firmware update of one component from an image the operator
//! supplies (returns the Dell job id at once), look at a job (a read, safe to repeat from a
//! new connection: how a resumed worker re-attaches to a `JID_…` it saved), the job queue,
//! clearing it, resetting the server so a `RebootPending` update applies, and re-reading the
//! installed versions to verify. Redfish (with the Dell extension) is the driver where it
//! exists; iDRAC7 without Redfish goes over WSMan the way Dell's Lifecycle Controller guide
//! does it: `InstallFromURI` (the iDRAC pulls the package from a URI: there is no upload
//! over WSMan) gives a `JID_…` that downloads and waits in `Downloaded`;
//! [`DellActions::apply_staged`] then creates one reboot job (`RID_…`) and schedules the
//! update jobs with it (`SetupJobQueue`, `TIME_NOW`); the jobs are followed through
//! `DCIM_LifecycleJob.JobStatus` and the versions re-read from `DCIM_SoftwareIdentity`.
//! A package on the worker's disk is not the connector's business over WSMan: the engine
//! serves it and passes its URI. A plain reset or power cycle over WSMan is
//! `DCIM_CSPowerManagementService.RequestPowerStateChange` (see [`wsman_power_state`]), and
//! [`DellActions::power_state`] reads the result back from `DCIM_ComputerSystem`.
//!
//! Must never: retry an action, clear a job queue or reset a server unless asked (those are
//! policy decisions of the engine), or put a credential or an image's bytes in an error,
//! a log line or Debug output.
use std::fmt;

use bytes::Bytes;

use super::records::{
    ApplyTime, DriverKind, FirmwareComponent, JobState, JobStatus, PowerState, ResetKind, UpdateMethod,
};
use super::{ErrorKind, IdracEndpoint, IdracError};
use crate::redfish::dell::{self, DellOem};
use crate::redfish::inventory::OemExtension;
use crate::redfish::resources::SoftwareInventory;
use crate::redfish::{AuthPreference, RedfishClient, RedfishError};
use crate::wsman::dcim::{
    self as wsman_dcim, LifecycleJob, RebootJobType, RequestedPower, SoftwareIdentity, LIFECYCLE_JOB, SOFTWARE_IDENTITY,
};
use crate::wsman::WsmanClient;

pub use crate::redfish::dell::StartedUpdate;

/// A firmware image (a Dell Update Package). Debug shows its name and size, never its bytes.
#[derive(Clone)]
pub struct FirmwareImage {
    pub file_name: String,
    pub bytes: Bytes,
}

impl fmt::Debug for FirmwareImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirmwareImage").field("file_name", &self.file_name).field("bytes", &self.bytes.len()).finish()
    }
}

/// Where the image comes from.
#[derive(Debug, Clone)]
pub enum ImageSource {
    /// Uploaded by us (Redfish multipart push, or HttpPushUri + SimpleUpdate).
    Push(FirmwareImage),
    /// Fetched by the iDRAC itself (Redfish SimpleUpdate): `http://repo/BIOS_X.EXE`.
    Uri(String),
}

/// One component to update, as the operator stated it.
#[derive(Debug, Clone)]
pub struct FirmwareUpdate {
    /// The component, e.g. `BIOS.Setup.1-1`.
    pub component_fqdd: String,
    /// The version the image installs: what [`DellActions::verify`] expects afterwards.
    pub expected_version: String,
    pub image: ImageSource,
    pub apply: ApplyTime,
}

enum Driver {
    Redfish(Box<RedfishClient>),
    Wsman(WsmanClient),
}

/// The job-related actions on one iDRAC, over one connection (a Redfish session, or WSMan).
/// Close it with [`DellActions::close`] so the iDRAC's few session slots are not left used.
pub struct DellActions {
    host: String,
    driver: Driver,
}

impl fmt::Debug for DellActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DellActions").field("host", &self.host).field("driver", &self.driver_kind()).finish()
    }
}

/// What [`DellActions::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    pub component_fqdd: String,
    pub expected_version: String,
    /// What the iDRAC reports installed now (None: the component is not listed).
    pub installed_version: Option<String>,
}

impl Verification {
    pub fn is_ok(&self) -> bool {
        self.installed_version.as_deref() == Some(self.expected_version.as_str())
    }
}

impl DellActions {
    /// Connect with the operator's driver choice, else Redfish, else WSMan when the iDRAC has
    /// no Redfish (iDRAC7, old iDRAC8 firmware).
    pub async fn connect(endpoint: &IdracEndpoint) -> Result<DellActions, IdracError> {
        let http = endpoint.http_client()?;
        let host = endpoint.host();
        let wsman = || Driver::Wsman(WsmanClient::new(&endpoint.url, endpoint.credentials.clone(), http.clone()));
        let driver = match endpoint.driver_override {
            Some(DriverKind::Wsman) => wsman(),
            Some(DriverKind::Racadm) => {
                return Err(IdracError::Action {
                    host,
                    kind: ErrorKind::NotSupported,
                    reason: "firmware jobs are run over Redfish or WSMan, not racadm".into(),
                })
            }
            _ => {
                match RedfishClient::connect(
                    &endpoint.url,
                    endpoint.credentials.clone(),
                    http.clone(),
                    AuthPreference::SessionOrBasic,
                )
                .await
                {
                    Ok(c) => Driver::Redfish(Box::new(c)),
                    Err(RedfishError::NotRedfish { .. }) if endpoint.driver_override.is_none() => wsman(),
                    Err(e) => return Err(e.into()),
                }
            }
        };
        Ok(DellActions { host, driver })
    }

    pub fn driver_kind(&self) -> DriverKind {
        match self.driver {
            Driver::Redfish(_) => DriverKind::Redfish,
            Driver::Wsman(_) => DriverKind::Wsman,
        }
    }

    /// Start updating one component. Checks first that the server has the component and can
    /// update it; then hands the image over and returns the Dell job id without waiting.
    /// Record the id before waiting on it. A job already running is
    /// `RedfishError::JobAlreadyRunning` (kind [`ErrorKind::JobRunning`]).
    pub async fn start_firmware_update(&self, update: &FirmwareUpdate) -> Result<StartedUpdate, IdracError> {
        let client = match &self.driver {
            Driver::Redfish(c) => c,
            Driver::Wsman(c) => return self.install_from_uri(c, update).await,
        };
        self.check_component(update, &self.firmware().await?)?;
        let started = match &update.image {
            ImageSource::Push(image) => {
                dell::push_update(client, &image.file_name, image.bytes.clone(), update.apply).await?
            }
            ImageSource::Uri(uri) => dell::simple_update(client, uri, update.apply).await?,
        };
        Ok(started)
    }

    /// The installed component `update` names, if the server has it and can update it.
    fn check_component<'a>(
        &self,
        update: &FirmwareUpdate,
        installed: &'a [FirmwareComponent],
    ) -> Result<&'a FirmwareComponent, IdracError> {
        let Some(component) = installed.iter().find(|c| c.fqdd == update.component_fqdd) else {
            return Err(IdracError::Action {
                host: self.host.clone(),
                kind: ErrorKind::NotFound,
                reason: format!(
                    "the server has no component {} (it has: {})",
                    update.component_fqdd,
                    installed.iter().map(|c| c.fqdd.as_str()).collect::<Vec<_>>().join(", ")
                ),
            });
        };
        if !component.updateable {
            return Err(IdracError::Action {
                host: self.host.clone(),
                kind: ErrorKind::NotSupported,
                reason: format!("{} ({}) cannot be updated through the iDRAC", component.fqdd, component.name),
            });
        }
        Ok(component)
    }

    /// WSMan: `InstallFromURI` for the installed instance of the component. Only a URI: the
    /// iDRAC pulls the package (WSMan has no upload).
    async fn install_from_uri(&self, c: &WsmanClient, update: &FirmwareUpdate) -> Result<StartedUpdate, IdracError> {
        let ImageSource::Uri(uri) = &update.image else {
            return Err(IdracError::Action {
                host: self.host.clone(),
                kind: ErrorKind::NotSupported,
                reason: "over WS-Management the iDRAC pulls the package itself (InstallFromURI): give the image \
                         as a URI it can reach (http, https, ftp, nfs, cifs), or let the engine serve the file"
                    .into(),
            });
        };
        // Installed images as components, with the InstanceID InstallFromURI targets.
        let installed: Vec<(FirmwareComponent, String)> = c
            .enumerate(SOFTWARE_IDENTITY)
            .await?
            .iter()
            .map(SoftwareIdentity::from_element)
            .filter_map(|s| s.to_component().map(|component| (component, s.instance_id)))
            .collect();
        let components: Vec<FirmwareComponent> = installed.iter().map(|(c, _)| c.clone()).collect();
        let fqdd = &self.check_component(update, &components)?.fqdd;
        let target = installed.iter().find(|(c, _)| &c.fqdd == fqdd).map(|(_, id)| id.as_str()).unwrap_or_default();
        let job_id = wsman_dcim::install_from_uri(c, target, uri).await?;
        Ok(StartedUpdate { job_id, method: UpdateMethod::WsmanInstallFromUri })
    }

    /// The update job is staged: it waits only for the reset that applies it (Redfish:
    /// `RebootPending`; WSMan: `Downloaded`, until [`DellActions::apply_staged`] schedules it).
    pub fn is_staged(&self, job: &JobStatus) -> bool {
        match self.driver {
            Driver::Redfish(_) => job.state == JobState::RebootPending,
            Driver::Wsman(_) => job.state == JobState::Downloaded,
        }
    }

    /// The job still waits for a reset to be asked for (after [`DellActions::apply_staged`]
    /// it no longer does).
    pub fn awaits_reset(&self, job: &JobStatus) -> bool {
        match self.driver {
            Driver::Redfish(_) => job.state.awaits_reboot(),
            Driver::Wsman(_) => job.state == JobState::Downloaded,
        }
    }

    /// Reset the server so the staged `jobs` apply. Redfish: `ComputerSystem.Reset` (returns
    /// None). WSMan: one reboot job — an unfinished `RID_…` already in the queue is reused, so
    /// a worker that died between the two calls never creates a second one — scheduled after
    /// the update jobs with `SetupJobQueue` (returns the `RID_…`).
    pub async fn apply_staged(&self, jobs: &[String], kind: ResetKind) -> Result<Option<String>, IdracError> {
        let c = match &self.driver {
            Driver::Redfish(c) => return dell::reset_system(c, kind).await.map(|_| None).map_err(Into::into),
            Driver::Wsman(c) => c,
        };
        let reboot_type = match kind {
            ResetKind::GracefulRestart => RebootJobType::GracefulForced,
            ResetKind::ForceRestart | ResetKind::PowerCycle => RebootJobType::PowerCycle,
            other => {
                return Err(IdracError::Action {
                    host: self.host.clone(),
                    kind: ErrorKind::NotSupported,
                    reason: format!("a {other:?} does not apply update jobs over WS-Management"),
                })
            }
        };
        let queue = wsman_jobs(c).await?;
        let rid = match queue.iter().find(|j| j.id.starts_with("RID_") && !j.state.is_finished()) {
            Some(j) => j.id.clone(),
            None => wsman_dcim::create_reboot_job(c, reboot_type).await?,
        };
        let mut array = jobs.to_vec();
        array.push(rid.clone());
        wsman_dcim::setup_job_queue(c, &array).await?;
        Ok(Some(rid))
    }

    /// A job as it is now.
    pub async fn job(&self, job_id: &str) -> Result<JobStatus, IdracError> {
        match &self.driver {
            Driver::Redfish(c) => Ok(dell::job(c, job_id).await?),
            Driver::Wsman(c) => {
                let jobs = wsman_jobs(c).await?;
                jobs.into_iter().find(|j| j.id == job_id).ok_or_else(|| {
                    IdracError::Redfish(RedfishError::JobNotFound { host: self.host.clone(), job: job_id.to_owned() })
                })
            }
        }
    }

    /// Every job in the iDRAC's queue.
    pub async fn job_queue(&self) -> Result<Vec<JobStatus>, IdracError> {
        match &self.driver {
            Driver::Redfish(c) => Ok(dell::jobs(c).await?),
            Driver::Wsman(c) => wsman_jobs(c).await,
        }
    }

    /// Jobs that are not finished (what blocks a new update).
    pub async fn pending_jobs(&self) -> Result<Vec<JobStatus>, IdracError> {
        Ok(self.job_queue().await?.into_iter().filter(|j| !j.state.is_finished()).collect())
    }

    /// Delete every job (`JID_CLEARALL`), running ones included. Destructive: the engine
    /// calls it only when the job's policy says so.
    pub async fn clear_job_queue(&self) -> Result<(), IdracError> {
        match &self.driver {
            Driver::Redfish(c) => Ok(dell::clear_job_queue(c).await?),
            Driver::Wsman(c) => Ok(wsman_dcim::delete_job_queue(c, "JID_CLEARALL").await?),
        }
    }

    /// Reset the server (GracefulRestart makes a RebootPending update apply). Over WSMan:
    /// `RequestPowerStateChange` with the [`wsman_power_state`] of `kind`. Asked once: never
    /// retried here.
    pub async fn reset(&self, kind: ResetKind) -> Result<(), IdracError> {
        match &self.driver {
            Driver::Redfish(c) => Ok(dell::reset_system(c, kind).await?),
            Driver::Wsman(c) => Ok(wsman_dcim::request_power_state_change(c, wsman_power_state(kind)).await?),
        }
    }

    /// The server's power now (Redfish `ComputerSystem.PowerState`; WSMan
    /// `DCIM_ComputerSystem.EnabledState`): how a reset is verified.
    pub async fn power_state(&self) -> Result<PowerState, IdracError> {
        match &self.driver {
            Driver::Redfish(c) => {
                let system = c.get_json(dell::SYSTEM).await?;
                Ok(system.get("PowerState").and_then(|v| v.as_str()).map(PowerState::from_redfish).unwrap_or_default())
            }
            Driver::Wsman(c) => Ok(wsman_dcim::computer_system_power(c).await?),
        }
    }

    /// The installed firmware, read again (not cached).
    pub async fn firmware(&self) -> Result<Vec<FirmwareComponent>, IdracError> {
        match &self.driver {
            Driver::Redfish(c) => {
                let path = "/redfish/v1/UpdateService/FirmwareInventory";
                let mut out = Vec::new();
                for member in c.expanded_members(path).await? {
                    let item: SoftwareInventory = serde_json::from_value(member).map_err(|e| {
                        RedfishError::Malformed { host: self.host.clone(), path: path.into(), reason: e.to_string() }
                    })?;
                    out.extend(DellOem.firmware_component(&item));
                }
                Ok(out)
            }
            Driver::Wsman(c) => Ok(c
                .enumerate(SOFTWARE_IDENTITY)
                .await?
                .iter()
                .filter_map(|e| SoftwareIdentity::from_element(e).to_component())
                .collect()),
        }
    }

    /// Compare the installed version of the updated component with the one expected.
    pub async fn verify(&self, update: &FirmwareUpdate) -> Result<Verification, IdracError> {
        let installed = self.firmware().await?;
        Ok(Verification {
            component_fqdd: update.component_fqdd.clone(),
            expected_version: update.expected_version.clone(),
            installed_version: installed.into_iter().find(|c| c.fqdd == update.component_fqdd).map(|c| c.version),
        })
    }

    /// End the Redfish session (WSMan has none).
    pub async fn close(self) -> Result<(), IdracError> {
        match self.driver {
            Driver::Redfish(c) => Ok(c.logout().await?),
            Driver::Wsman(_) => Ok(()),
        }
    }
}

/// The `RequestPowerStateChange` PowerState a reset asks for over WSMan. The iDRAC offers no
/// graceful restart there (CIM's 14 and 15 are not in Dell's list): a GracefulRestart is a
/// power cycle with a soft off (5), which the engine asks for only on a server whose ESXi
/// host is in maintenance mode. ForceRestart is the hard reset (10), PowerCycle the power
/// cycle with a hard off (9).
pub fn wsman_power_state(kind: ResetKind) -> RequestedPower {
    match kind {
        ResetKind::GracefulRestart => RequestedPower::SoftPowerCycle,
        ResetKind::ForceRestart => RequestedPower::HardReset,
        ResetKind::PowerCycle => RequestedPower::PowerCycle,
        ResetKind::On => RequestedPower::On,
        ResetKind::ForceOff => RequestedPower::SoftOff,
        ResetKind::GracefulShutdown => RequestedPower::GracefulOff,
    }
}

async fn wsman_jobs(c: &WsmanClient) -> Result<Vec<JobStatus>, IdracError> {
    Ok(c.enumerate(LIFECYCLE_JOB)
        .await?
        .iter()
        .map(|e| {
            let j = LifecycleJob::from_element(e);
            let raw = j.status.clone().unwrap_or_default();
            let mut state = JobState::from_dell(&raw);
            // A reboot job's success is "Reboot Completed": for it, that is the end.
            if j.id.starts_with("RID_") && state == JobState::RebootCompleted {
                state = JobState::Completed;
            }
            JobStatus {
                id: j.id,
                name: j.name,
                job_type: None,
                state,
                raw_state: raw,
                percent: j.percent_complete,
                message_id: j.message_id,
                message: j.message,
            }
        })
        .collect())
}

/// How an update was handed over, in words for the job's events.
pub fn describe(method: UpdateMethod) -> &'static str {
    match method {
        UpdateMethod::MultipartPush => "pushed with Redfish MultipartHttpPushUri",
        UpdateMethod::HttpPushSimpleUpdate => "uploaded to Redfish HttpPushUri and applied with SimpleUpdate",
        UpdateMethod::SimpleUpdate => "pulled by the iDRAC with Redfish SimpleUpdate",
        UpdateMethod::WsmanInstallFromUri => "installed with WSMan InstallFromURI",
    }
}
