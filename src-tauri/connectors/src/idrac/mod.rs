//! # iDRAC — one Dell endpoint, whichever way it can be reached
//!
//! Owns: discovery of an endpoint (generation, firmware, capabilities probed, TLS facts) and
//! the choice of driver per endpoint — Redfish, WSMan or racadm — with a reason an operator
//! can read; the inventory pass through the chosen driver; and the records all drivers fill
//! ([`records`]); and the job actions a firmware update takes ([`jobs`]: start an update, look
//! at a `JID_…`, the job queue, reset, verify). The drivers themselves live in
//! [`crate::redfish`] (with its Dell extension), [`crate::wsman`] and [`crate::racadm`].
//!
//! Must never: guess a capability it did not see, fall through to another driver when the
//! BMC refused the credentials (that is the operator's problem to fix, not a protocol
//! mismatch), or put a credential in an error, a log line or Debug output.
pub mod jobs;
pub mod records;
mod tls_probe;

use std::time::Duration;

use url::Url;

use crate::http::{host_of, HttpClient, HttpConfig, HttpError, TlsFailure, TlsPolicy};
use crate::racadm::{Racadm, RacadmError};
use crate::redfish::{self, AuthPreference, InventoryOptions, RedfishClient, RedfishError};
use crate::wsman::{self, WsmanClient, WsmanError};
use crate::Credentials;
pub use jobs::{DellActions, FirmwareImage, FirmwareUpdate, ImageSource, StartedUpdate, Verification};
pub use records::{
    ApplyTime, Capabilities, DriverKind, FirmwareComponent, Generation, Health, JobState, JobStatus, LogEntry,
    ManagerInfo, PowerState, ResetKind, ServerInventory, TlsConstraints, UpdateMethod,
};

/// One iDRAC as the operator registered it.
#[derive(Debug, Clone)]
pub struct IdracEndpoint {
    /// `https://bmc` (any path is ignored).
    pub url: Url,
    pub credentials: Credentials,
    /// TLS policy and per-endpoint timeouts.
    pub http: HttpConfig,
    /// The operator's `--driver` choice; `None` = auto.
    pub driver_override: Option<DriverKind>,
    /// The racadm to fall back on; `None` = look for one on `PATH`.
    pub racadm: Option<Racadm>,
}

impl IdracEndpoint {
    pub fn new(url: Url, credentials: Credentials, http: HttpConfig) -> IdracEndpoint {
        IdracEndpoint { url, credentials, http, driver_override: None, racadm: None }
    }

    pub(crate) fn host(&self) -> String {
        host_of(&self.url)
    }

    /// `host` or `host:port` for racadm's `-r`.
    fn racadm_target(&self) -> String {
        let host = self.url.host_str().unwrap_or_default().to_owned();
        match self.url.port() {
            Some(p) if p != 443 => format!("{host}:{p}"),
            _ => host,
        }
    }

    /// The endpoint's HTTP client. Redirects are followed by the Redfish client itself
    /// (same host only), never by reqwest, which would forward `X-Auth-Token` to any host.
    pub(crate) fn http_client(&self) -> Result<HttpClient, HttpError> {
        HttpClient::new(HttpConfig { max_redirects: 0, ..self.http.clone() })
    }

    fn racadm(&self) -> Result<Racadm, RacadmError> {
        match &self.racadm {
            Some(r) => r.check().map(|_| r.clone()),
            None => Racadm::locate(),
        }
    }
}

/// What discovery learned about an endpoint (`idrac_endpoints` columns).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EndpointProbe {
    pub generation: Option<Generation>,
    pub firmware_version: Option<String>,
    pub manager_model: Option<String>,
    pub capabilities: Capabilities,
    pub driver_preference: DriverKind,
    pub driver_reason: String,
    pub tls: TlsConstraints,
}

/// The error class an engine acts on (retry, mark credentials bad, explain TLS…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Unauthorized,
    Forbidden,
    Unavailable,
    Timeout,
    Connect,
    /// Untrusted certificate or pin mismatch.
    Tls,
    /// The endpoint speaks only TLS 1.0/1.1.
    LegacyTls,
    Malformed,
    NotSupported,
    /// A job is already running on the iDRAC (RAC0679): wait, or clear the queue by policy.
    JobRunning,
    /// The job (or component) named is not there.
    NotFound,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum IdracError {
    #[error(transparent)]
    Redfish(#[from] RedfishError),
    #[error(transparent)]
    Wsman(#[from] WsmanError),
    #[error(transparent)]
    Racadm(#[from] RacadmError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("no driver can reach {host}: {reasons}")]
    NoDriver { host: String, kind: ErrorKind, reasons: String },
    /// An action refused before anything was sent (the component is not on the server, the
    /// driver cannot do it).
    #[error("{host}: {reason}")]
    Action { host: String, kind: ErrorKind, reason: String },
}

fn http_kind(e: &HttpError) -> ErrorKind {
    match e {
        HttpError::Timeout { .. } => ErrorKind::Timeout,
        HttpError::Connect { .. } => ErrorKind::Connect,
        HttpError::Tls(TlsFailure::LegacyProtocol { .. }) => ErrorKind::LegacyTls,
        HttpError::Tls(_) => ErrorKind::Tls,
        HttpError::TooLarge { .. } => ErrorKind::Malformed,
        HttpError::Status { .. } | HttpError::Other { .. } => ErrorKind::Other,
    }
}

impl IdracError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            IdracError::Http(e) => http_kind(e),
            IdracError::Redfish(e) => match e {
                RedfishError::Http(h) => http_kind(h),
                RedfishError::Unauthorized { .. } => ErrorKind::Unauthorized,
                RedfishError::Forbidden { .. } => ErrorKind::Forbidden,
                RedfishError::Unavailable { .. } => ErrorKind::Unavailable,
                RedfishError::Malformed { .. } | RedfishError::Protocol { .. } => ErrorKind::Malformed,
                RedfishError::NotRedfish { .. } | RedfishError::NotFound { .. } => ErrorKind::NotSupported,
                RedfishError::Status { .. } => ErrorKind::Other,
                RedfishError::JobAlreadyRunning { .. } => ErrorKind::JobRunning,
                RedfishError::JobNotFound { .. } => ErrorKind::NotFound,
            },
            IdracError::Wsman(e) => match e {
                WsmanError::Http(h) => http_kind(h),
                WsmanError::Unauthorized { .. } => ErrorKind::Unauthorized,
                WsmanError::Unavailable { .. } => ErrorKind::Unavailable,
                WsmanError::Malformed { .. } | WsmanError::Protocol { .. } => ErrorKind::Malformed,
                WsmanError::NotWsman { .. } => ErrorKind::NotSupported,
                WsmanError::Fault { .. } | WsmanError::Status { .. } => ErrorKind::Other,
                WsmanError::Refused { code, .. } => match code.as_deref() {
                    // Component is not updateable / Invalid InstanceID (Software Update profile).
                    Some("SUP007") => ErrorKind::NotSupported,
                    Some("SUP024") | Some("SUP011") => ErrorKind::NotFound,
                    _ => ErrorKind::Other,
                },
            },
            IdracError::Racadm(e) => match e {
                RacadmError::Unauthorized { .. } => ErrorKind::Unauthorized,
                RacadmError::Timeout { .. } => ErrorKind::Timeout,
                RacadmError::Unreachable { .. } => ErrorKind::Connect,
                RacadmError::NotInstalled { .. } => ErrorKind::NotSupported,
                RacadmError::Unparseable { .. } => ErrorKind::Malformed,
                RacadmError::Spawn { .. } | RacadmError::Failed { .. } => ErrorKind::Other,
            },
            IdracError::NoDriver { kind, .. } | IdracError::Action { kind, .. } => *kind,
        }
    }
}

/// Options of one inventory pass.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Newest log entries per log (Redfish only).
    pub log_tail: usize,
    /// Timeout for each racadm command.
    pub racadm_timeout: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions { log_tail: 20, racadm_timeout: Duration::from_secs(120) }
    }
}

/// Read one endpoint's inventory. The driver is the operator's override, else the probe's
/// preference, else found on the way: Redfish first, WSMan when there is no Redfish, racadm
/// when HTTPS itself is impossible (TLS 1.0/1.1 only) and racadm is installed.
pub async fn inventory(
    endpoint: &IdracEndpoint,
    known: Option<&EndpointProbe>,
    options: &SyncOptions,
) -> Result<ServerInventory, IdracError> {
    let http = endpoint.http_client()?;
    let chosen = endpoint.driver_override.or(known.map(|p| p.driver_preference));
    let mut inv = match chosen {
        Some(DriverKind::Redfish) => redfish_pass(endpoint, &http, options.log_tail, false).await?,
        Some(DriverKind::Wsman) => wsman_pass(endpoint, &http).await?,
        Some(DriverKind::Racadm) => racadm_pass(endpoint, options).await?,
        None => match redfish_pass(endpoint, &http, options.log_tail, false).await {
            Ok(inv) => inv,
            Err(IdracError::Redfish(RedfishError::NotRedfish { .. })) => wsman_pass(endpoint, &http).await?,
            Err(e) if e.kind() == ErrorKind::LegacyTls => match endpoint.racadm() {
                Ok(_) => racadm_pass(endpoint, options).await?,
                Err(_) => return Err(legacy_tls_error(endpoint, e)),
            },
            Err(e) => return Err(e),
        },
    };
    inv.tls = tls_facts(endpoint, &http, known.and_then(|p| p.tls.min_tls_version.clone()));
    if let Some(probe) = known {
        inv.capabilities.wsman |= probe.capabilities.wsman;
        inv.capabilities.racadm |= probe.capabilities.racadm;
    }
    Ok(inv)
}

/// Discover an endpoint: which driver, which generation, what it can do, what TLS works.
pub async fn probe(endpoint: &IdracEndpoint) -> Result<EndpointProbe, IdracError> {
    let http = endpoint.http_client()?;
    let racadm = endpoint.racadm();
    let racadm_note = racadm.as_ref().err().map(|e| e.to_string());

    let redfish = redfish_pass(endpoint, &http, 1, true).await;
    let legacy_tls = matches!(&redfish, Err(e) if e.kind() == ErrorKind::LegacyTls);
    let (mut preference, mut reason, seen) = match redfish {
        Ok(inv) => {
            let how = if inv.capabilities.sessions { "with a session" } else { "with Basic auth" };
            (DriverKind::Redfish, format!("Redfish answered {how} and reports the full inventory"), Some(inv))
        }
        Err(IdracError::Redfish(RedfishError::NotRedfish { reason, .. })) => match wsman_pass(endpoint, &http).await {
            Ok(inv) => (
                DriverKind::Wsman,
                format!("no Redfish ({reason}); WS-Management answered with the DCIM inventory"),
                Some(inv),
            ),
            Err(e @ IdracError::Wsman(WsmanError::Unauthorized { .. })) => return Err(e),
            Err(e) => match &racadm {
                Ok(_) => (
                    DriverKind::Racadm,
                    format!("no Redfish ({reason}) and no WS-Management ({e}); racadm is the remaining path"),
                    None,
                ),
                Err(_) => {
                    return Err(IdracError::NoDriver {
                        host: endpoint.host(),
                        kind: e.kind(),
                        reasons: format!(
                            "no Redfish ({reason}); no WS-Management ({e}); {}",
                            racadm_note.unwrap_or_default()
                        ),
                    })
                }
            },
        },
        Err(e) if e.kind() == ErrorKind::LegacyTls => match &racadm {
            Ok(_) => (
                DriverKind::Racadm,
                format!("{e}; racadm still reaches it (it passes the password on its command line: update the iDRAC)"),
                None,
            ),
            Err(_) => return Err(legacy_tls_error(endpoint, e)),
        },
        Err(e) => return Err(e),
    };

    let mut caps = seen.as_ref().map(|i| i.capabilities.clone()).unwrap_or_default();
    let generation = seen.as_ref().and_then(|i| i.manager.generation);
    // iDRAC7's Redfish (firmware 2.40+) is partial; its DCIM inventory over WSMan is complete.
    if preference == DriverKind::Redfish
        && generation == Some(Generation::Idrac7)
        && wsman_pass(endpoint, &http).await.is_ok()
    {
        caps.wsman = true;
        preference = DriverKind::Wsman;
        reason = "iDRAC7: its Redfish is partial, WS-Management has the complete DCIM inventory".into();
    }
    if preference == DriverKind::Wsman {
        caps.wsman = true;
    } else if matches!(generation, Some(Generation::Idrac7 | Generation::Idrac8)) {
        // iDRAC7/8 usually speak both; one small enumeration tells (iDRAC9 dropped WSMan).
        let client = WsmanClient::new(&endpoint.url, endpoint.credentials.clone(), http.clone());
        caps.wsman = client.enumerate(wsman::dcim::IDRAC_CARD_VIEW).await.is_ok();
    }
    caps.racadm = racadm.is_ok();
    if let Some(note) = racadm_note {
        caps.notes.push(note);
    }
    if let Some(driver) = endpoint.driver_override {
        reason =
            format!("chosen by the operator (--driver {driver}); auto-detection would pick {preference}: {reason}");
        preference = driver;
    }
    let tls = if legacy_tls {
        let mut t = tls_facts(endpoint, &http, Some("1.0/1.1".into()));
        t.note = Some(TlsFailure::LegacyProtocol { host: endpoint.host() }.to_string());
        t
    } else {
        let min = tls_probe::lowest_version(&endpoint.url, endpoint.http.connect_timeout).await;
        tls_facts(endpoint, &http, Some(min))
    };
    Ok(EndpointProbe {
        generation,
        firmware_version: seen.as_ref().and_then(|i| i.manager.firmware_version.clone()),
        manager_model: seen.as_ref().and_then(|i| i.manager.model.clone()),
        capabilities: caps,
        driver_preference: preference,
        driver_reason: reason,
        tls,
    })
}

fn legacy_tls_error(endpoint: &IdracEndpoint, e: IdracError) -> IdracError {
    IdracError::NoDriver {
        host: endpoint.host(),
        kind: ErrorKind::LegacyTls,
        reasons: format!(
            "{e}; racadm, which could still reach it, is not installed here (install Dell's iDRAC Tools for Linux)"
        ),
    }
}

fn tls_facts(endpoint: &IdracEndpoint, http: &HttpClient, min_tls_version: Option<String>) -> TlsConstraints {
    let pinned = match endpoint.http.tls {
        TlsPolicy::Pinned(t) => Some(t.to_hex()),
        _ => None,
    };
    TlsConstraints {
        min_tls_version,
        pinned_sha256: pinned,
        presented_sha256: http.presented_thumbprint().map(|t| t.to_hex()),
        note: matches!(endpoint.http.tls, TlsPolicy::Insecure)
            .then(|| "certificate not verified (insecure by operator's choice)".to_owned()),
    }
}

async fn redfish_pass(
    endpoint: &IdracEndpoint,
    http: &HttpClient,
    log_tail: usize,
    probe_jobs: bool,
) -> Result<ServerInventory, IdracError> {
    let client = RedfishClient::connect(
        &endpoint.url,
        endpoint.credentials.clone(),
        http.clone(),
        AuthPreference::SessionOrBasic,
    )
    .await?;
    let result = redfish::read_inventory(&client, &InventoryOptions { log_tail, probe_jobs }).await;
    // Log out whatever happened, so failed passes don't pile up sessions on the BMC
    // (iDRACs allow only a handful).
    let calls = client.api_calls() + u32::from(client.uses_sessions());
    let logout = client.logout().await;
    let mut inv = result?.inventory;
    logout?;
    inv.api_calls = calls;
    Ok(inv)
}

async fn wsman_pass(endpoint: &IdracEndpoint, http: &HttpClient) -> Result<ServerInventory, IdracError> {
    let client = WsmanClient::new(&endpoint.url, endpoint.credentials.clone(), http.clone());
    Ok(wsman::dcim::read_inventory(&client, false).await?.inventory)
}

async fn racadm_pass(endpoint: &IdracEndpoint, options: &SyncOptions) -> Result<ServerInventory, IdracError> {
    let racadm = endpoint.racadm()?;
    Ok(racadm.read_inventory(&endpoint.racadm_target(), &endpoint.credentials, options.racadm_timeout).await?)
}
