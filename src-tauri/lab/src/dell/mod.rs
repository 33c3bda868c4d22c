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
//! This file holds one iDRAC's state (`BmcState`: sessions, ledger) and the request handler
//! that applies faults, latency and the tap before [`redfish`] or [`wsman`] answers; `jobs`
//! is its job queue, staging and power actions, `faults` the injected faults and the raw
//! listener, `lab` the handles and builder tests use.
//!
//! Must never: listen on anything but 127.0.0.1, or be used by production code paths.
mod faults;
mod jobs;
mod lab;
pub mod model;
pub mod ome;
mod redfish;
pub mod samples;
mod wsman;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::tap::{CallTap, TapCell};
pub use model::{lab_image, FirmwareItem, ImageManifest, JobOutcome, ServerSpec, SimJob, IMAGE_MAGIC};
pub use samples::{Samples, SamplesError};

pub(crate) use faults::{apply_fault_after, apply_fault_before, FaultCell};
pub use faults::{Fault, RawServer};
use jobs::{JobKnobs, Staged};
pub use lab::{DellLab, DellLabBuilder, LabBmc, LabOme};

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(transparent)]
    Samples(#[from] SamplesError),
    #[error("the Dell lab cannot listen on loopback: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Config(String),
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
