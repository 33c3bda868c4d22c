//! # The Dell lab: many simulated iDRACs and an OpenManage Enterprise in one process
//!
//! Owns what no third-party peer offers: Redfish sessions, FirmwareInventory, the Dell job
//! queue with SimpleUpdate, multipart push and HttpPushUri uploads ([`redfish`]) — update jobs
//! that walk Dell's states, wait in RebootPending for `ComputerSystem.Reset`, then run and
//! change the FirmwareInventory (lab images: see [`model::IMAGE_MAGIC`]), RAC0679,
//! `DeleteJobQueue`, injected job failures, slowness and unavailability, and a ledger of every
//! job action per BMC ([`LabBmc::actions`]), whose answers a test can hold after the action took
//! effect ([`DellLab::set_tap`]) — WS-Management for iDRAC7/8 with
//! Enumerate/Pull paging ([`wsman`]), OME with devices, baselines and compliance ([`ome`]),
//! hundreds of BMCs on their own loopback ports, and per-endpoint faults ([`Fault`]: 401, 503,
//! slow answers, malformed JSON, connection resets, TLS failures, TLS-1.0-only endpoints).
//! Every response is built from the third-party samples ([`samples`]), so the lab speaks what
//! real iDRACs speak. Served over real HTTPS ([`crate::tls`]) with pinnable certificates.
//!
//! ```no_run
//! # async fn demo() -> Result<(), eio_lab::dell::LabError> {
//! use eio_connectors::idrac::Generation;
//! use eio_lab::dell::{DellLab, Fault};
//! let lab = DellLab::builder()
//!     .bmcs(60)
//!     .generation_mix(&[(Generation::Idrac7, 1), (Generation::Idrac8, 2), (Generation::Idrac9, 3)])
//!     .outdated_every(4)
//!     .with_ome()
//!     .fault(5, Fault::Unauthorized)
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Must never: listen on anything but 127.0.0.1, or be used by production code paths.
pub mod model;
pub mod ome;
mod redfish;
pub mod samples;
mod wsman;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use eio_connectors::http::{HttpConfig, Thumbprint, TlsPolicy};
use eio_connectors::idrac::{Generation, IdracEndpoint};
use eio_connectors::Credentials;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::tap::{CallTap, TapCell};
use crate::tls::HttpsServer;
pub use model::{lab_image, FirmwareItem, ImageManifest, JobOutcome, ServerSpec, SimJob, IMAGE_MAGIC};
pub use samples::{Samples, SamplesError};

/// What goes wrong at one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Every login and request is refused with 401.
    Unauthorized,
    /// 503 with `Retry-After`, as an iDRAC that is restarting.
    Unavailable,
    /// Every answer is delayed this long.
    Slow(Duration),
    /// JSON/XML bodies are cut in half.
    MalformedJson,
    /// The TCP connection is reset as soon as it is accepted (set at build time only).
    ConnectionReset,
    /// The TLS handshake fails with a `handshake_failure` alert (set at build time only).
    TlsFailure,
    /// The endpoint answers TLS 1.2 with a `protocol_version` alert, as an iDRAC that speaks
    /// only TLS 1.0/1.1 does (set at build time only).
    LegacyTls,
}

impl Fault {
    /// Faults below HTTP: the endpoint is served by a raw TCP listener instead.
    pub fn is_transport(&self) -> bool {
        matches!(self, Fault::ConnectionReset | Fault::TlsFailure | Fault::LegacyTls)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(transparent)]
    Samples(#[from] SamplesError),
    #[error("the Dell lab cannot listen on loopback: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Config(String),
}

/// A fault that tests can change while the lab runs.
#[derive(Debug, Default)]
pub(crate) struct FaultCell(Mutex<Option<Fault>>);

impl FaultCell {
    pub(crate) fn get(&self) -> Option<Fault> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn set(&self, f: Option<Fault>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = f;
    }
}

/// Delay or refuse before handling (Slow, Unavailable).
pub(crate) async fn apply_fault_before(fault: &Option<Fault>) -> Option<Response> {
    match fault {
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(*d).await;
            None
        }
        Some(Fault::Unavailable) => {
            let mut r = redfish::redfish_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Base.1.8.ServiceTemporarilyUnavailable",
                "The service is temporarily unavailable. Retry in 30 seconds.",
            );
            if let Ok(v) = "30".parse() {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            Some(r)
        }
        _ => None,
    }
}

/// Damage the answer (MalformedJson: the body cut in half).
pub(crate) async fn apply_fault_after(fault: &Option<Fault>, resp: Response) -> Response {
    if fault.as_ref() != Some(&Fault::MalformedJson) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20).await.unwrap_or_default();
    let cut = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(cut))
}

/// One state-changing request a lab iDRAC received (accepted or refused), or something it
/// did by itself (`AutoReboot`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DellAction {
    pub seq: u64,
    /// `MultipartUpdate`, `SimpleUpdate`, `HttpPushUpload`, `ComputerSystem.Reset`,
    /// `DeleteJobQueue`, `AutoReboot`; over WSMan `InstallFromURI`, `CreateRebootJob`,
    /// `SetupJobQueue`, `RebootJob` (the server rebooted by a scheduled reboot job) and
    /// `RequestPowerStateChange` (detail: the PowerState).
    pub action: String,
    /// The image's file name or URI, the ResetType, the JobID deleted.
    pub detail: String,
    /// The job it created.
    pub job: Option<String>,
    /// The MessageId it was refused with.
    pub refused: Option<String>,
    pub at: SystemTime,
}

/// Test knobs for the job simulation.
#[derive(Debug, Default)]
struct JobKnobs {
    /// The next started jobs end like this (then Completed again).
    outcomes: Vec<JobOutcome>,
    /// Refuse this many next update requests with RAC0679, queue or not.
    refuse_next: u32,
    /// Looks each state of an install job lasts (0/1: one).
    looks_per_state: u32,
    /// The next this many requests are answered 503 (an iDRAC busy or restarting).
    unreachable: u32,
    /// After each accepted reset, this many requests are answered 503.
    unreachable_after_reset: u32,
    /// After its own firmware installs (the iDRAC restarts itself), this many requests are
    /// answered 503.
    unreachable_after_idrac_update: u32,
}

/// An image uploaded to HttpPushUri, waiting for SimpleUpdate.
#[derive(Debug, Clone)]
struct Staged {
    /// `Available-<ComponentID>-<Version>__<FQDD>`
    id: String,
    file_name: String,
    manifest: Option<ImageManifest>,
}

/// Why a job action was refused: (HTTP status, MessageId, message).
pub(crate) type Refused = (axum::http::StatusCode, &'static str, String);

/// One simulated iDRAC's state.
pub(crate) struct BmcState {
    spec: RwLock<ServerSpec>,
    pub(crate) samples: Arc<Samples>,
    username: String,
    password: String,
    pub(crate) page_size: usize,
    /// Service time of every request (real iDRACs take 100 ms–2 s per request).
    latency: Duration,
    sessions: Mutex<HashMap<String, String>>,
    jobs: Mutex<Vec<SimJob>>,
    enumerations: Mutex<HashMap<String, wsman::Enumeration>>,
    fault: FaultCell,
    requests: AtomicU64,
    next_id: AtomicU64,
    ledger: Mutex<Vec<DellAction>>,
    knobs: Mutex<JobKnobs>,
    staged: Mutex<Vec<Staged>>,
    /// The FirmwareInventory's ETag (changes with every upload).
    pub(crate) etag: AtomicU64,
    /// The lab's tap (one for every BMC): calls whose answer a test holds.
    tap: Arc<TapCell>,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BmcState {
    pub(crate) fn spec(&self) -> ServerSpec {
        self.spec.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn credentials_match(&self, user: &str, password: &str) -> bool {
        self.fault.get() != Some(Fault::Unauthorized) && user == self.username && password == self.password
    }

    pub(crate) fn basic_authorized(&self, headers: &HeaderMap) -> bool {
        redfish::basic_credentials(headers).is_some_and(|(u, p)| self.credentials_match(&u, &p))
    }

    /// A valid session token or valid Basic credentials.
    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        if self.fault.get() == Some(Fault::Unauthorized) {
            return false;
        }
        if let Some(token) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
            return self.sessions.lock().unwrap_or_else(|p| p.into_inner()).contains_key(token);
        }
        self.basic_authorized(headers)
    }

    pub(crate) fn new_session(&self) -> (String, String) {
        let id = format!("{}", 1000 + self.next_id.fetch_add(1, Ordering::Relaxed));
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone(), id.clone());
        (id, token)
    }

    pub(crate) fn end_session(&self, id: &str) -> bool {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let before = sessions.len();
        sessions.retain(|_, sid| sid != id);
        sessions.len() != before
    }

    pub(crate) fn jobs(&self) -> Vec<SimJob> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, action: &str, detail: &str, job: Option<&str>, refused: Option<&str>) {
        let mut ledger = guard(&self.ledger);
        let seq = ledger.len() as u64 + 1;
        ledger.push(DellAction {
            seq,
            action: action.into(),
            detail: detail.into(),
            job: job.map(str::to_owned),
            refused: refused.map(str::to_owned),
            at: SystemTime::now(),
        });
    }

    /// Start an update job (`action` names how it was asked for): a lab image with a
    /// manifest installs what it says; any other image walks the states by its name.
    /// RAC0679 while another job is busy (staged ones only wait for the restart).
    pub(crate) fn start_update(
        &self,
        action: &str,
        image: &str,
        manifest: Option<ImageManifest>,
        on_reset: bool,
    ) -> Result<SimJob, Refused> {
        let refuse = {
            let mut knobs = guard(&self.knobs);
            let forced = knobs.refuse_next > 0;
            knobs.refuse_next = knobs.refuse_next.saturating_sub(1);
            forced
        };
        let mut jobs = guard(&self.jobs);
        if refuse || jobs.iter().any(SimJob::is_busy) {
            drop(jobs);
            self.record(action, image, None, Some("RAC0679"));
            return Err((
                axum::http::StatusCode::BAD_REQUEST,
                "RAC0679",
                "A job operation is already running. Retry the operation after the existing job is completed.".into(),
            ));
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!("JID_{:012}", 700_000_000_000u64 + n);
        let job = match manifest {
            Some(m) => {
                let (outcome, looks) = {
                    let mut knobs = guard(&self.knobs);
                    let outcome =
                        if knobs.outcomes.is_empty() { JobOutcome::Completed } else { knobs.outcomes.remove(0) };
                    (outcome, knobs.looks_per_state)
                };
                let applicable = self.spec().firmware(&m.fqdd).is_some_and(|f| f.updateable);
                let mut job = SimJob::install(id, m, outcome, on_reset, looks);
                if !applicable {
                    job.fail("The update package is not applicable to any component of this server.");
                }
                job
            }
            None => SimJob::firmware_update(id, image),
        };
        jobs.push(job.clone());
        drop(jobs);
        self.record(action, image, Some(&job.id), None);
        Ok(job)
    }

    /// Look at a job (which moves it one state on; a completed lab image changes the
    /// firmware inventory).
    pub(crate) fn advance_job(&self, id: &str) -> Option<SimJob> {
        let (seen, effect) = {
            let mut jobs = guard(&self.jobs);
            let job = jobs.iter_mut().find(|j| j.id == id)?;
            let seen = job.clone();
            (seen, job.advance())
        };
        match effect {
            model::JobEffect::None => {}
            model::JobEffect::Install(m) => self.install(&m),
            model::JobEffect::AutoReboot => {
                self.record("AutoReboot", "the iDRAC rebooted the server to apply an Immediate update", Some(id), None);
                self.rebooted();
            }
        }
        Some(seen)
    }

    /// A completed update: the component runs the new version; the old one is the rollback.
    fn install(&self, m: &ImageManifest) {
        let mut spec = self.spec.write().unwrap_or_else(|p| p.into_inner());
        if let Some(item) = spec.firmware.iter_mut().find(|f| f.fqdd == m.fqdd) {
            let old = std::mem::replace(&mut item.version, m.version.clone());
            item.previous_version = Some(old);
        }
        if m.fqdd.starts_with("BIOS.") {
            spec.bios_version = m.version.clone();
        }
        if m.fqdd.starts_with("iDRAC.") {
            spec.idrac_firmware = m.version.clone();
            if spec.server_generation >= 14 {
                spec.lifecycle_controller_version = m.version.clone();
            }
        }
        drop(spec);
        self.etag.fetch_add(1, Ordering::Relaxed);
        if m.fqdd.starts_with("iDRAC.") {
            // It restarts itself to run the new firmware.
            let mut knobs = guard(&self.knobs);
            knobs.unreachable += knobs.unreachable_after_idrac_update;
        }
    }

    /// The server went through POST: jobs waiting for a reboot may run.
    fn rebooted(&self) {
        for j in guard(&self.jobs).iter_mut() {
            if !j.is_finished() {
                j.rebooted = true;
            }
        }
        let mut knobs = guard(&self.knobs);
        knobs.unreachable += knobs.unreachable_after_reset;
    }

    /// `ComputerSystem.Reset`.
    pub(crate) fn reset(&self, reset_type: &str) -> Result<(), Refused> {
        self.power_action("ComputerSystem.Reset", reset_type, reset_type)
    }

    /// WSMan `DCIM_CSPowerManagementService.RequestPowerStateChange`: the PowerState values
    /// Dell's profile lists, as the Redfish reset they amount to; any other is refused the
    /// way the iDRAC refuses a state change (python-dracclient's capture: SYS021).
    pub(crate) fn request_power_state_change(&self, power_state: &str) -> Result<(), Refused> {
        let reset_type = match power_state {
            "2" => "On",
            "5" => "GracefulRestart",
            "8" => "ForceOff",
            "9" => "PowerCycle",
            "10" => "ForceRestart",
            "11" => "Nmi",
            "12" => "GracefulShutdown",
            _ => {
                self.record("RequestPowerStateChange", power_state, None, Some("SYS021"));
                return Err((axum::http::StatusCode::OK, "SYS021", "The command failed to set RequestedState".into()));
            }
        };
        self.power_action("RequestPowerStateChange", power_state, reset_type)
    }

    /// A power action recorded in the ledger as `action` with `detail`, done as the Redfish
    /// `reset_type` does it.
    fn power_action(&self, action: &str, detail: &str, reset_type: &str) -> Result<(), Refused> {
        const ALLOWED: &[&str] = &[
            "On",
            "ForceOff",
            "ForceRestart",
            "GracefulRestart",
            "GracefulShutdown",
            "PushPowerButton",
            "Nmi",
            "PowerCycle",
        ];
        let refuse = |status, id, msg: &str| -> Result<(), Refused> {
            self.record(action, detail, None, Some(id));
            Err((status, id, msg.to_owned()))
        };
        if !ALLOWED.contains(&reset_type) {
            return refuse(
                axum::http::StatusCode::BAD_REQUEST,
                "Base.1.8.ActionParameterValueNotInList",
                &format!("The value {reset_type} for the parameter ResetType is not in the list of acceptable values."),
            );
        }
        let on = self.spec().power_state == "On";
        let (power, booted) = match (reset_type, on) {
            ("On", true) => {
                return refuse(axum::http::StatusCode::CONFLICT, "RAC0509", "The server is already powered on.")
            }
            ("On", false) | ("PushPowerButton", false) => ("On", true),
            ("ForceOff" | "GracefulShutdown" | "PushPowerButton", true) => ("Off", false),
            ("ForceOff" | "GracefulShutdown", false) => ("Off", false),
            ("ForceRestart" | "GracefulRestart" | "PowerCycle", true) => ("On", true),
            ("Nmi", _) => (if on { "On" } else { "Off" }, false),
            _ => {
                return refuse(
                    axum::http::StatusCode::CONFLICT,
                    "RAC0508",
                    "The server is powered off: it cannot be restarted.",
                )
            }
        };
        self.spec.write().unwrap_or_else(|p| p.into_inner()).power_state = power.into();
        self.record(action, detail, None, None);
        if booted {
            self.rebooted();
        }
        Ok(())
    }

    /// `DellJobService.DeleteJobQueue` of one job or `JID_CLEARALL`.
    pub(crate) fn delete_jobs(&self, which: &str) -> Result<(), Refused> {
        let mut jobs = guard(&self.jobs);
        if which == "JID_CLEARALL" {
            jobs.clear();
            guard(&self.staged).clear();
        } else if let Some(i) = jobs.iter().position(|j| j.id == which) {
            jobs.remove(i);
        } else {
            drop(jobs);
            self.record("DeleteJobQueue", which, None, Some("SUP011"));
            return Err((axum::http::StatusCode::BAD_REQUEST, "SUP011", format!("Job ID {which} not found.")));
        }
        drop(jobs);
        self.record("DeleteJobQueue", which, None, None);
        Ok(())
    }

    /// WSMan `InstallFromURI` for the installed `DCIM_SoftwareIdentity` `target`: a job that
    /// downloads `uri` (the caller starts the download and reports it to
    /// [`BmcState::download_finished`]). SUP024 for an unknown instance, SUP007 for a
    /// component that can't be updated.
    pub(crate) fn install_from_uri(&self, target: &str, uri: &str) -> Result<SimJob, Refused> {
        let spec = self.spec();
        let item = spec.firmware.iter().find(|f| target == format!("DCIM:INSTALLED#{}__{}", f.component_id, f.fqdd));
        let refused = |id: &'static str, msg: &str| {
            self.record("InstallFromURI", uri, None, Some(id));
            Err((axum::http::StatusCode::OK, id, msg.to_owned()))
        };
        let Some(item) = item else { return refused("SUP024", "Invalid InstanceID") };
        if !item.updateable {
            return refused("SUP007", "Component is not updateable");
        }
        let outcome = {
            let mut knobs = guard(&self.knobs);
            if knobs.outcomes.is_empty() {
                JobOutcome::Completed
            } else {
                knobs.outcomes.remove(0)
            }
        };
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let job = SimJob::install_from_uri(format!("JID_{:012}", 700_000_000_000u64 + n), &item.fqdd, outcome);
        guard(&self.jobs).push(job.clone());
        self.record("InstallFromURI", uri, Some(&job.id), None);
        Ok(job)
    }

    /// The download of job `id` ended with these bytes (or failed): a package for another
    /// component than the job's, or without a lab manifest, fails the job.
    pub(crate) fn download_finished(&self, id: &str, bytes: Result<Vec<u8>, String>) {
        let mut jobs = guard(&self.jobs);
        let Some(job) = jobs.iter_mut().find(|j| j.id == id) else { return };
        let fqdd = job.name.trim_start_matches("Firmware Update: ").to_owned();
        let package = bytes.and_then(|b| {
            let m = ImageManifest::parse(&b).ok_or_else(|| "The update package is not a valid package.".to_owned())?;
            if m.fqdd != fqdd {
                return Err(format!("The update package is not applicable to {fqdd}."));
            }
            Ok(m)
        });
        job.downloaded(package);
    }

    /// WSMan `CreateRebootJob`: a `RID_…`.
    pub(crate) fn create_reboot_job(&self, reboot_type: &str) -> Result<SimJob, Refused> {
        if !matches!(reboot_type, "1" | "2" | "3") {
            self.record("CreateRebootJob", reboot_type, None, Some("SUP001"));
            return Err((axum::http::StatusCode::OK, "SUP001", "Insufficient Method Parameters".into()));
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let job = SimJob::reboot(format!("RID_{:012}", 700_000_000_000u64 + n), reboot_type);
        guard(&self.jobs).push(job.clone());
        self.record("CreateRebootJob", reboot_type, Some(&job.id), None);
        Ok(job)
    }

    /// WSMan `SetupJobQueue`: the update jobs (each `Downloaded`) are scheduled in order; a
    /// reboot job in the array reboots the server now (`TIME_NOW`), so they run.
    pub(crate) fn setup_job_queue(&self, ids: &[String], start: &str) -> Result<(), Refused> {
        let detail = ids.join(",");
        let refused = |id: &'static str, msg: String| {
            self.record("SetupJobQueue", &detail, None, Some(id));
            Err((axum::http::StatusCode::OK, id, msg))
        };
        if ids.is_empty() || start.is_empty() {
            return refused("SUP001", "Insufficient Method Parameters".into());
        }
        let mut jobs = guard(&self.jobs);
        for id in ids {
            match jobs.iter().find(|j| &j.id == id) {
                None => {
                    drop(jobs);
                    return refused("SUP011", format!("Invalid Job ID {id}"));
                }
                Some(j) if id.starts_with("JID_") && j.state != "Downloaded" => {
                    let state = j.state.clone();
                    drop(jobs);
                    return refused("JCP007", format!("Job {id} cannot be scheduled: it is {state}"));
                }
                Some(j) if id.starts_with("RID_") && j.is_finished() => {
                    drop(jobs);
                    return refused("JCP007", format!("Reboot job {id} already ran"));
                }
                Some(_) => {}
            }
        }
        let mut reboot = None;
        for j in jobs.iter_mut().filter(|j| ids.contains(&j.id)) {
            if j.id.starts_with("RID_") {
                reboot = Some(j.id.clone());
            } else {
                j.schedule();
            }
        }
        drop(jobs);
        self.record("SetupJobQueue", &detail, None, None);
        if let (Some(rid), "TIME_NOW") = (reboot, start) {
            self.record("RebootJob", "the reboot job restarted the server", Some(&rid), None);
            if let Some(j) = guard(&self.jobs).iter_mut().find(|j| j.id == rid) {
                j.reboot_completed();
            }
            self.rebooted();
        }
        Ok(())
    }

    /// An image uploaded to HttpPushUri: staged as `Available-…`, its id returned.
    pub(crate) fn stage(&self, file_name: &str, bytes: &[u8]) -> String {
        let manifest = ImageManifest::parse(bytes);
        let spec = self.spec();
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = match &manifest {
            Some(m) => {
                let component = spec.firmware(&m.fqdd).map(|f| f.component_id.clone()).unwrap_or_else(|| "0".into());
                format!("Available-{component}-{}__{}", m.version, m.fqdd)
            }
            None => format!("Available-0-{n}"),
        };
        let mut staged = guard(&self.staged);
        staged.retain(|s| s.id != id);
        staged.push(Staged { id: id.clone(), file_name: file_name.into(), manifest });
        drop(staged);
        self.etag.fetch_add(1, Ordering::Relaxed);
        self.record("HttpPushUpload", file_name, None, None);
        id
    }

    /// The staged image an ImageURI names (`…/FirmwareInventory/Available-…`), removed
    /// from the staging area.
    pub(crate) fn take_staged(&self, uri: &str) -> Option<(String, Option<ImageManifest>)> {
        let id = uri.trim_end_matches('/').rsplit('/').next()?;
        let mut staged = guard(&self.staged);
        let i = staged.iter().position(|s| s.id == id)?;
        let s = staged.remove(i);
        Some((s.file_name, s.manifest))
    }

    /// Staged images: (id, version) for the FirmwareInventory.
    pub(crate) fn staged(&self) -> Vec<(String, String)> {
        guard(&self.staged)
            .iter()
            .map(|s| (s.id.clone(), s.manifest.as_ref().map(|m| m.version.clone()).unwrap_or_else(|| "0".into())))
            .collect()
    }

    /// An injected unavailability answers this request (and counts it).
    fn take_unreachable(&self) -> bool {
        let mut knobs = guard(&self.knobs);
        if knobs.unreachable > 0 {
            knobs.unreachable -= 1;
            return true;
        }
        false
    }

    pub(crate) fn enumerations(&self) -> MutexGuard<'_, HashMap<String, wsman::Enumeration>> {
        self.enumerations.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the armed tap wants an action this request added to the ledger (the entries after
    /// `before`), hand the first such to the test and wait until it lets the answer go: the
    /// action has taken effect, its answer has not left.
    async fn hold_if_tapped(&self, tap: &CallTap, before: usize) {
        let tapped = guard(&self.ledger).iter().skip(before).find(|a| tap.wants(&a.action)).cloned();
        if let Some(a) = tapped {
            let endpoint = format!("bmc-{}", self.spec().index);
            tap.hold(endpoint, a.action, a.detail, a.job, a.refused).await;
        }
    }
}

async fn bmc_handler(State(bmc): State<Arc<BmcState>>, req: Request) -> Response {
    bmc.requests.fetch_add(1, Ordering::Relaxed);
    let fault = bmc.fault.get();
    if !bmc.latency.is_zero() {
        tokio::time::sleep(bmc.latency).await;
    }
    if let Some(early) = apply_fault_before(&fault).await {
        return early;
    }
    if bmc.take_unreachable() {
        if let Some(r) = apply_fault_before(&Some(Fault::Unavailable)).await {
            return r;
        }
    }
    // With a tap armed: where the ledger stood before this request acted.
    let tapped = bmc.tap.get().map(|tap| (tap, guard(&bmc.ledger).len()));
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 256 << 20).await.unwrap_or_default();
    let path = parts.uri.path();
    let resp = if path == "/wsman" && parts.method == Method::POST {
        wsman::handle(&bmc, &parts.headers, &body).await
    } else if path.starts_with("/redfish") {
        redfish::handle(&bmc, &parts.method, path, parts.uri.query().unwrap_or_default(), &parts.headers, &body)
    } else {
        (StatusCode::NOT_FOUND, "Not Found").into_response()
    };
    let resp = apply_fault_after(&fault, resp).await;
    if let Some((tap, before)) = tapped {
        bmc.hold_if_tapped(&tap, before).await;
    }
    resp
}

/// A listener that fails below HTTP.
pub struct RawServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn serve_raw(fault: Fault) -> std::io::Result<RawServer> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let (mut tcp, _) = tokio::select! {
                r = listener.accept() => match r { Ok(c) => c, Err(_) => continue },
                _ = stopped.changed() => return,
            };
            let fault = fault.clone();
            tokio::spawn(async move {
                // TLS alert records: level fatal (2), handshake_failure (40) / protocol_version (70).
                let alert: &[u8] = match fault {
                    Fault::TlsFailure => &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],
                    Fault::LegacyTls => &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46],
                    _ => {
                        // Reset: close with SO_LINGER 0, which sends RST instead of FIN.
                        #[allow(deprecated)]
                        let _ = tcp.set_linger(Some(Duration::ZERO));
                        drop(tcp);
                        return;
                    }
                };
                let mut hello = [0u8; 4096];
                let _ = tcp.read(&mut hello).await;
                let _ = tcp.write_all(alert).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    Ok(RawServer { addr, stop, task: Some(task) })
}

enum Served {
    Https(HttpsServer),
    Raw(RawServer),
}

/// One simulated iDRAC on its own loopback port.
pub struct LabBmc {
    pub index: usize,
    /// `https://127.0.0.1:PORT`
    pub url: url::Url,
    /// The certificate to pin (`None` for endpoints that fail below HTTP).
    pub thumbprint: Option<Thumbprint>,
    state: Arc<BmcState>,
    served: Served,
}

impl LabBmc {
    /// The facts it reports.
    pub fn spec(&self) -> ServerSpec {
        self.state.spec()
    }

    /// Change an HTTP-level fault while the lab runs (transport faults are fixed at build).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.state.fault.set(fault);
    }

    /// Change the server's facts while the lab runs (e.g. after a firmware update).
    pub fn update_spec(&self, change: impl FnOnce(&mut ServerSpec)) {
        change(&mut self.state.spec.write().unwrap_or_else(|p| p.into_inner()));
    }

    /// HTTP requests served so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Redfish sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.state.sessions.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The job queue.
    pub fn jobs(&self) -> Vec<SimJob> {
        self.state.jobs()
    }

    /// Every job action this iDRAC received (and every reboot it did by itself), in order.
    pub fn actions(&self) -> Vec<DellAction> {
        guard(&self.state.ledger).clone()
    }

    /// Accepted requests of `action` (`MultipartUpdate`, `ComputerSystem.Reset`, …).
    pub fn action_count(&self, action: &str) -> usize {
        guard(&self.state.ledger).iter().filter(|a| a.action == action && a.refused.is_none()).count()
    }

    /// Every `action` request the iDRAC received, refused or not (a second update refused
    /// with RAC0679 is still a second update).
    pub fn call_count(&self, action: &str) -> usize {
        guard(&self.state.ledger).iter().filter(|a| a.action == action).count()
    }

    /// The version of a component the server reports now.
    pub fn firmware_version(&self, fqdd: &str) -> Option<String> {
        self.state.spec().firmware(fqdd).map(|f| f.version.clone())
    }

    /// The next started update jobs end like this, in order (then Completed again).
    pub fn set_next_job_outcomes(&self, outcomes: &[JobOutcome]) {
        guard(&self.state.knobs).outcomes = outcomes.to_vec();
    }

    /// Refuse the next `n` update requests with RAC0679 even when the queue is idle.
    pub fn refuse_next_updates(&self, n: u32) {
        guard(&self.state.knobs).refuse_next = n;
    }

    /// A slow iDRAC: each state of an update job lasts `looks` looks.
    pub fn set_job_looks_per_state(&self, looks: u32) {
        guard(&self.state.knobs).looks_per_state = looks;
    }

    /// The next `n` requests are answered 503 (busy, restarting).
    pub fn unreachable_for(&self, n: u32) {
        guard(&self.state.knobs).unreachable = n;
    }

    /// After every accepted reset, `n` requests are answered 503: the iDRAC is unreachable
    /// in the middle of the job.
    pub fn set_unreachable_after_reset(&self, n: u32) {
        guard(&self.state.knobs).unreachable_after_reset = n;
    }

    /// After the iDRAC's own firmware installs, `n` requests are answered 503: it restarts
    /// itself (the server keeps running).
    pub fn set_unreachable_after_idrac_update(&self, n: u32) {
        guard(&self.state.knobs).unreachable_after_idrac_update = n;
    }

    pub fn addr(&self) -> SocketAddr {
        match &self.served {
            Served::Https(s) => s.addr,
            Served::Raw(r) => r.addr,
        }
    }

    /// How a client should trust it: the pinned thumbprint (or insecure when it has none).
    pub fn tls_policy(&self) -> TlsPolicy {
        self.thumbprint.map(TlsPolicy::Pinned).unwrap_or(TlsPolicy::Insecure)
    }
}

/// The simulated OME.
pub struct LabOme {
    pub url: url::Url,
    pub thumbprint: Thumbprint,
    state: Arc<ome::OmeState>,
    _server: HttpsServer,
}

impl LabOme {
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.state.fault.set(fault);
    }

    /// API sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.state.tokens.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn http_config(&self) -> HttpConfig {
        HttpConfig { tls: TlsPolicy::Pinned(self.thumbprint), ..Default::default() }
    }
}

/// Many iDRACs and (optionally) an OME, in one process.
pub struct DellLab {
    pub bmcs: Vec<LabBmc>,
    pub ome: Option<LabOme>,
    username: String,
    password: String,
    tap: Arc<TapCell>,
}

impl DellLab {
    pub fn builder() -> DellLabBuilder {
        DellLabBuilder::default()
    }

    pub fn bmc(&self, index: usize) -> &LabBmc {
        &self.bmcs[index]
    }

    /// The credentials every lab endpoint accepts.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(self.username.clone(), self.password.clone())
    }

    /// An HTTP configuration that pins BMC `index`'s certificate.
    pub fn http_config(&self, index: usize) -> HttpConfig {
        HttpConfig { tls: self.bmcs[index].tls_policy(), ..Default::default() }
    }

    /// Hold the answer to every call `tap` wants, on every BMC, until the test lets it go
    /// (None: answer everything at once again). See [`crate::tap`].
    pub fn set_tap(&self, tap: Option<CallTap>) {
        self.tap.set(tap);
    }

    /// BMC `index` as an operator would register it.
    pub fn endpoint(&self, index: usize) -> IdracEndpoint {
        IdracEndpoint::new(self.bmcs[index].url.clone(), self.credentials(), self.http_config(index))
    }
}

type Customization = Box<dyn FnOnce(&mut ServerSpec) + Send>;

/// Builds a [`DellLab`].
pub struct DellLabBuilder {
    bmcs: usize,
    mix: Vec<(Generation, usize)>,
    faults: Vec<(usize, Fault)>,
    ome: bool,
    outdated_every: Option<usize>,
    username: String,
    password: String,
    samples_dir: Option<PathBuf>,
    page_size: usize,
    ome_page_size: usize,
    latency: Duration,
    customizations: Vec<(usize, Customization)>,
    /// Loopback ports per BMC (by index) and for the OME; absent: any free port.
    ports: Vec<u16>,
    ome_port: u16,
    cert: Option<crate::tls::LabCert>,
}

impl Default for DellLabBuilder {
    fn default() -> Self {
        DellLabBuilder {
            bmcs: 1,
            mix: vec![(Generation::Idrac9, 1)],
            faults: Vec::new(),
            ome: false,
            outdated_every: None,
            username: "root".into(),
            password: "calvin".into(),
            samples_dir: None,
            page_size: 50,
            ome_page_size: 50,
            latency: Duration::ZERO,
            customizations: Vec::new(),
            ports: Vec::new(),
            ome_port: 0,
            cert: None,
        }
    }
}

impl DellLabBuilder {
    /// How many iDRACs (one loopback port each).
    pub fn bmcs(mut self, n: usize) -> Self {
        self.bmcs = n;
        self
    }

    /// Generations in proportion, assigned round-robin: `[(Idrac7, 1), (Idrac9, 3)]`.
    pub fn generation_mix(mut self, mix: &[(Generation, usize)]) -> Self {
        self.mix = mix.to_vec();
        self
    }

    /// Every generation the same.
    pub fn generation(self, g: Generation) -> Self {
        self.generation_mix(&[(g, 1)])
    }

    /// A fault at BMC `index`.
    pub fn fault(mut self, index: usize, fault: Fault) -> Self {
        self.faults.push((index, fault));
        self
    }

    /// Serve an OME that manages every BMC.
    pub fn with_ome(mut self) -> Self {
        self.ome = true;
        self
    }

    /// Every `k`-th server runs older BIOS/iDRAC firmware than the OME baseline.
    pub fn outdated_every(mut self, k: usize) -> Self {
        self.outdated_every = Some(k.max(1));
        self
    }

    pub fn credentials(mut self, username: &str, password: &str) -> Self {
        self.username = username.into();
        self.password = password.into();
        self
    }

    /// Load samples from here instead of `target/peers/samples`.
    pub fn samples_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.samples_dir = Some(dir.into());
        self
    }

    /// Members per Redfish collection page (iDRACs page at 50).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Items per OME page.
    pub fn ome_page_size(mut self, n: usize) -> Self {
        self.ome_page_size = n.max(1);
        self
    }

    /// How long every BMC takes to answer a request (a real iDRAC's service time; 0 = at once).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Change the generated facts of BMC `index`.
    pub fn customize(mut self, index: usize, change: impl FnOnce(&mut ServerSpec) + Send + 'static) -> Self {
        self.customizations.push((index, Box::new(change)));
        self
    }

    /// Listen on these loopback ports (BMC `i` on `bmc_ports[i]`, 0 or missing: any free
    /// port; the OME on `ome_port`), so a lab started again comes back at the same URLs.
    pub fn ports(mut self, bmc_ports: Vec<u16>, ome_port: u16) -> Self {
        self.ports = bmc_ports;
        self.ome_port = ome_port;
        self
    }

    /// Present this certificate on every endpoint (default: a fresh one each).
    pub fn certificate(mut self, cert: crate::tls::LabCert) -> Self {
        self.cert = Some(cert);
        self
    }

    pub async fn build(self) -> Result<DellLab, LabError> {
        let samples = Arc::new(match &self.samples_dir {
            Some(d) => Samples::load(d)?,
            None => Samples::load_default()?,
        });
        let cycle: Vec<Generation> = self.mix.iter().flat_map(|(g, n)| std::iter::repeat_n(*g, *n)).collect();
        if cycle.is_empty() {
            return Err(LabError::Config("the generation mix is empty".into()));
        }
        let mut specs: Vec<ServerSpec> = (0..self.bmcs)
            .map(|i| {
                let outdated = self.outdated_every.is_some_and(|k| i % k == k - 1);
                ServerSpec::generate(i, cycle[i % cycle.len()], outdated)
            })
            .collect();
        for (i, change) in self.customizations {
            if let Some(spec) = specs.get_mut(i) {
                change(spec);
            }
        }
        let mut bmcs = Vec::with_capacity(specs.len());
        let tap = Arc::new(TapCell::default());
        for spec in &specs {
            let fault = self.faults.iter().rev().find(|(i, _)| *i == spec.index).map(|(_, f)| f.clone());
            let state = Arc::new(BmcState {
                spec: RwLock::new(spec.clone()),
                samples: samples.clone(),
                username: self.username.clone(),
                password: self.password.clone(),
                page_size: self.page_size,
                latency: self.latency,
                sessions: Mutex::new(HashMap::new()),
                jobs: Mutex::new(Vec::new()),
                enumerations: Mutex::new(HashMap::new()),
                fault: FaultCell::default(),
                requests: AtomicU64::new(0),
                next_id: AtomicU64::new(0),
                ledger: Mutex::new(Vec::new()),
                knobs: Mutex::new(JobKnobs::default()),
                staged: Mutex::new(Vec::new()),
                etag: AtomicU64::new(1),
                tap: tap.clone(),
            });
            let (served, thumbprint) = match fault {
                Some(f) if f.is_transport() => (Served::Raw(serve_raw(f).await?), None),
                other => {
                    state.fault.set(other);
                    let router = axum::Router::new().fallback(bmc_handler).with_state(state.clone());
                    let port = self.ports.get(spec.index).copied().unwrap_or(0);
                    let server = crate::tls::serve_https_at(router, port, self.cert.as_ref()).await?;
                    let t = server.thumbprint;
                    (Served::Https(server), Some(t))
                }
            };
            let port = match &served {
                Served::Https(s) => s.addr.port(),
                Served::Raw(r) => r.addr.port(),
            };
            let url =
                url::Url::parse(&format!("https://127.0.0.1:{port}")).map_err(|e| LabError::Config(e.to_string()))?;
            bmcs.push(LabBmc { index: spec.index, url, thumbprint, state, served });
        }
        let ome = if self.ome {
            let state = Arc::new(ome::OmeState {
                servers: specs.clone(),
                username: self.username.clone(),
                password: self.password.clone(),
                page_size: self.ome_page_size,
                tokens: Mutex::new(Default::default()),
                fault: FaultCell::default(),
            });
            let router = axum::Router::new().fallback(ome::handle).with_state(state.clone());
            let server = crate::tls::serve_https_at(router, self.ome_port, self.cert.as_ref()).await?;
            let url = url::Url::parse(&server.base_url).map_err(|e| LabError::Config(e.to_string()))?;
            Some(LabOme { url, thumbprint: server.thumbprint, state, _server: server })
        } else {
            None
        };
        Ok(DellLab { bmcs, ome, username: self.username, password: self.password, tap })
    }
}
