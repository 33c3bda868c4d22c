//! # OME — Dell OpenManage Enterprise's REST API
//!
//! Owns: the session (`POST /api/SessionService/Sessions` → 201 + `X-Auth-Token`, DELETE on
//! logout), the device list with paging (`@odata.nextLink`, else `$skip`/`$top` against
//! `@odata.count`), each device's firmware (`InventoryDetails('deviceSoftware')`), firmware
//! baselines and their per-device compliance, and job status (2050 running, 2060 completed,
//! 2070 failed). It returns plain records ([`OmeDevice`], [`Baseline`], [`ComplianceEntry`]):
//! servers OME knows fill gaps for iDRACs EIO can't reach.
//!
//! Must never: log or return the password or the session token, or talk HTTP except through
//! [`crate::http::HttpClient`].
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::http::{host_of, HttpClient, HttpError};
use crate::idrac::records::{category_of_fqdd, meaningful, normalize_mac, FirmwareComponent, Health, PowerState};
use crate::{Credentials, Secret};

/// Items asked for per page.
const PAGE_SIZE: usize = 100;
/// Pages followed before the paging is called endless.
const MAX_PAGES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum OmeError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{host} refused the credentials (HTTP 401)")]
    Unauthorized { host: String },
    #[error("{host} refused access to {path} (HTTP 403): the account lacks the privilege for it")]
    Forbidden { host: String, path: String },
    #[error("{host} is temporarily unavailable (HTTP {status}); retry later")]
    Unavailable { host: String, status: u16 },
    #[error("{host} has no {path} (HTTP 404)")]
    NotFound { host: String, path: String },
    #[error("{host} answered HTTP {status} for {path}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status { host: String, path: String, status: u16, message: String },
    #[error("{host} sent a response to {path} that is not valid OME JSON: {reason}")]
    Malformed { host: String, path: String, reason: String },
    #[error("{host} broke the OME protocol: {reason}")]
    Protocol { host: String, reason: String },
}

/// OME's job status ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Scheduled,
    Queued,
    Starting,
    /// 2050
    Running,
    /// 2060
    Completed,
    /// 2070
    Failed,
    NotRun,
    Stopped,
    Aborted,
    CompletedWithErrors,
    Other(u32),
}

impl JobStatus {
    pub fn from_id(id: u32) -> JobStatus {
        match id {
            2030 => JobStatus::Queued,
            2040 => JobStatus::Starting,
            2050 => JobStatus::Running,
            2060 => JobStatus::Completed,
            2070 => JobStatus::Failed,
            2080 => JobStatus::NotRun,
            2090 => JobStatus::CompletedWithErrors,
            2100 => JobStatus::Aborted,
            2101..=2103 => JobStatus::Stopped,
            2020 => JobStatus::Scheduled,
            other => JobStatus::Other(other),
        }
    }

    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            JobStatus::Completed
                | JobStatus::Failed
                | JobStatus::CompletedWithErrors
                | JobStatus::Aborted
                | JobStatus::Stopped
        )
    }
}

/// A device OME manages (a server, for EIO's purposes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OmeDevice {
    /// `physical_servers.ome_device_id`.
    pub ome_device_id: i64,
    pub service_tag: Option<String>,
    pub model: Option<String>,
    pub device_name: Option<String>,
    pub power_state: PowerState,
    pub health: Health,
    /// The iDRAC address OME manages it by.
    pub idrac_ip: Option<String>,
    pub idrac_mac: Option<String>,
    pub last_inventory_time: Option<String>,
}

/// Totals of a baseline's compliance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceSummary {
    /// OK, WARNING, CRITICAL, DOWNGRADE…
    pub status: Option<String>,
    pub critical: u32,
    pub warning: u32,
    pub normal: u32,
    pub downgrade: u32,
}

/// A firmware baseline: a catalog and the devices held to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub catalog_id: Option<i64>,
    pub last_run: Option<String>,
    pub target_device_ids: Vec<i64>,
    pub summary: ComplianceSummary,
}

/// One component's standing against a baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentCompliance {
    pub name: String,
    /// `DCIM:INSTALLED#741__BIOS.Setup.1-1`
    pub source_name: Option<String>,
    /// The FQDD from `source_name`.
    pub fqdd: Option<String>,
    pub current_version: Option<String>,
    pub baseline_version: Option<String>,
    /// OK, WARNING, CRITICAL, DOWNGRADE…
    pub compliance_status: Option<String>,
    pub update_action: Option<String>,
    pub criticality: Option<String>,
    pub reboot_required: bool,
    /// The package that brings it to the baseline, within the catalog's repository
    /// (`FOLDER05937069M/1/BIOS_….EXE`).
    pub path: Option<String>,
}

/// One device's standing against a baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceEntry {
    pub baseline_id: i64,
    pub ome_device_id: i64,
    pub service_tag: Option<String>,
    pub device_name: Option<String>,
    pub model: Option<String>,
    pub compliance_status: Option<String>,
    pub components: Vec<ComponentCompliance>,
}

impl ComplianceEntry {
    /// The components that differ from the baseline.
    pub fn violations(&self) -> impl Iterator<Item = &ComponentCompliance> {
        self.components.iter().filter(|c| c.compliance_status.as_deref().is_some_and(|s| !s.eq_ignore_ascii_case("ok")))
    }
}

/// An OME job's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OmeJob {
    pub id: i64,
    pub name: Option<String>,
    pub status: JobStatus,
    pub status_name: Option<String>,
}

/// A logged-in OME.
pub struct OmeClient {
    http: HttpClient,
    base: Url,
    host: String,
    token: Secret,
    session_id: Option<String>,
    api_calls: Arc<AtomicU32>,
}

impl std::fmt::Debug for OmeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OmeClient").field("host", &self.host).finish_non_exhaustive()
    }
}

impl OmeClient {
    /// Log in to the OME at `base` (e.g. `https://ome.example.com`).
    pub async fn connect(base: &Url, credentials: &Credentials, http: HttpClient) -> Result<OmeClient, OmeError> {
        let mut base = base.clone();
        base.set_path("/");
        base.set_query(None);
        let host = host_of(&base);
        #[derive(Serialize)]
        struct Login<'a> {
            #[serde(rename = "UserName")]
            user: &'a str,
            #[serde(rename = "Password")]
            password: &'a str,
            #[serde(rename = "SessionType")]
            session_type: &'a str,
        }
        let body = serde_json::to_vec(&Login {
            user: &credentials.username,
            password: credentials.password.expose(),
            session_type: "API",
        })
        .map_err(|e| OmeError::Protocol { host: host.clone(), reason: e.to_string() })?;
        let url = base
            .join("/api/SessionService/Sessions")
            .map_err(|e| OmeError::Protocol { host: host.clone(), reason: e.to_string() })?;
        let api_calls = Arc::new(AtomicU32::new(1));
        let resp = http
            .send(
                http.inner()
                    .post(url)
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json")
                    .body(body),
            )
            .await?;
        match resp.status() {
            StatusCode::CREATED | StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST => return Err(OmeError::Unauthorized { host }),
            s @ (StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT) => {
                return Err(OmeError::Unavailable { host, status: s.as_u16() })
            }
            s => {
                return Err(OmeError::Status {
                    host,
                    path: "/api/SessionService/Sessions".into(),
                    status: s.as_u16(),
                    message: String::new(),
                })
            }
        }
        let token = resp
            .headers()
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(|t| Secret::new(t.to_owned()))
            .ok_or_else(|| OmeError::Protocol {
                host: host.clone(),
                reason: "the session was created without an X-Auth-Token header".into(),
            })?;
        let body = http.body(resp).await?;
        let session_id = serde_json::from_slice::<Value>(&body).ok().and_then(|v| match v.get("Id") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        });
        Ok(OmeClient { http, base, host, token, session_id, api_calls })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn api_calls(&self) -> u32 {
        self.api_calls.load(Ordering::Relaxed)
    }

    /// End the session.
    pub async fn logout(self) -> Result<(), OmeError> {
        if let Some(id) = &self.session_id {
            let path = format!("/api/SessionService/Sessions('{id}')");
            let resp = self.request(Method::DELETE, &path).await?;
            if !(resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND) {
                self.check(&path, resp).await?;
            }
        }
        Ok(())
    }

    async fn request(&self, method: Method, path: &str) -> Result<reqwest::Response, OmeError> {
        let url =
            self.base.join(path).map_err(|e| OmeError::Protocol { host: self.host.clone(), reason: e.to_string() })?;
        if url.host_str() != self.base.host_str() || url.port_or_known_default() != self.base.port_or_known_default() {
            return Err(OmeError::Protocol {
                host: self.host.clone(),
                reason: format!(
                    "a link points to another host ({}); refusing to send the session there",
                    host_of(&url)
                ),
            });
        }
        let mut token = HeaderValue::from_str(self.token.expose()).map_err(|_| OmeError::Protocol {
            host: self.host.clone(),
            reason: "the session token is not a valid header".into(),
        })?;
        token.set_sensitive(true);
        self.api_calls.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .http
            .send(
                self.http
                    .inner()
                    .request(method, url)
                    .header("X-Auth-Token", token)
                    .header("Accept", "application/json"),
            )
            .await?)
    }

    async fn check(&self, path: &str, resp: reqwest::Response) -> Result<bytes::Bytes, OmeError> {
        let host = self.host.clone();
        let path = path.to_owned();
        match resp.status() {
            s if s.is_success() => Ok(self.http.body(resp).await?),
            StatusCode::UNAUTHORIZED => Err(OmeError::Unauthorized { host }),
            StatusCode::FORBIDDEN => Err(OmeError::Forbidden { host, path }),
            StatusCode::NOT_FOUND => Err(OmeError::NotFound { host, path }),
            s @ (StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT) => {
                Err(OmeError::Unavailable { host, status: s.as_u16() })
            }
            s => {
                let body = self.http.body(resp).await.unwrap_or_default();
                let message = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| {
                        v.pointer("/error/@Message.ExtendedInfo/0/Message")
                            .or_else(|| v.pointer("/error/message"))
                            .and_then(Value::as_str)
                            .map(|m| m.chars().take(300).collect())
                    })
                    .unwrap_or_default();
                Err(OmeError::Status { host, path, status: s.as_u16(), message })
            }
        }
    }

    /// GET a JSON document.
    pub async fn get_json(&self, path: &str) -> Result<Value, OmeError> {
        let resp = self.request(Method::GET, path).await?;
        let body = self.check(path, resp).await?;
        serde_json::from_slice(&body).map_err(|e| OmeError::Malformed {
            host: self.host.clone(),
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Every item of an OData collection (`value`), following `@odata.nextLink`; when a
    /// page has no link but `@odata.count` says more exist, asks for the next `$skip`.
    pub async fn collect(&self, path: &str) -> Result<Vec<Value>, OmeError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(format!("{path}{sep}$top={PAGE_SIZE}&$skip=0"));
        let mut out: Vec<Value> = Vec::new();
        let mut pages = 0;
        while let Some(page) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(OmeError::Protocol { host: self.host.clone(), reason: format!("{path} pages never end") });
            }
            let doc = self.get_json(&page).await?;
            let items = doc.get("value").and_then(Value::as_array).cloned().unwrap_or_default();
            let got = items.len();
            out.extend(items);
            let total = doc.get("@odata.count").and_then(Value::as_u64).map(|n| n as usize);
            next = match doc.get("@odata.nextLink").and_then(Value::as_str) {
                Some(link) if !link.is_empty() && link != page => Some(link.to_owned()),
                _ => match total {
                    Some(total) if got > 0 && out.len() < total => {
                        Some(format!("{path}{sep}$top={PAGE_SIZE}&$skip={}", out.len()))
                    }
                    _ => None,
                },
            };
        }
        Ok(out)
    }

    /// Every device OME manages.
    pub async fn devices(&self) -> Result<Vec<OmeDevice>, OmeError> {
        let path = "/api/DeviceService/Devices";
        self.collect(path)
            .await?
            .iter()
            .map(|d| device_of(d).ok_or_else(|| self.malformed(path, "a device has no Id")))
            .collect()
    }

    /// One device's installed firmware.
    pub async fn device_firmware(&self, device_id: i64) -> Result<Vec<FirmwareComponent>, OmeError> {
        let path = format!("/api/DeviceService/Devices({device_id})/InventoryDetails('deviceSoftware')");
        let doc = self.get_json(&path).await?;
        let items = doc.get("InventoryInfo").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut out: Vec<FirmwareComponent> = Vec::new();
        for item in &items {
            let s = |k: &str| meaningful(item.get(k).and_then(Value::as_str));
            if s("Status").is_some_and(|st| !st.eq_ignore_ascii_case("installed")) {
                continue;
            }
            let Some(fqdd) = s("InstanceId").as_deref().and_then(fqdd_of_source_name) else { continue };
            let Some(version) = s("Version") else { continue };
            if out.iter().any(|f| f.fqdd == fqdd) {
                continue;
            }
            out.push(FirmwareComponent {
                category: Some(category_of_fqdd(&fqdd).to_owned()),
                name: s("DeviceDescription").unwrap_or_else(|| fqdd.clone()),
                component_id: s("ComponentId"),
                version,
                updateable: true,
                fqdd,
            });
        }
        out.sort_by(|a, b| a.fqdd.cmp(&b.fqdd));
        Ok(out)
    }

    /// The firmware baselines.
    pub async fn baselines(&self) -> Result<Vec<Baseline>, OmeError> {
        let path = "/api/UpdateService/Baselines";
        let mut out = Vec::new();
        for b in self.collect(path).await? {
            let id = b.get("Id").and_then(Value::as_i64).ok_or_else(|| self.malformed(path, "a baseline has no Id"))?;
            let summary = b.get("ComplianceSummary").cloned().unwrap_or(Value::Null);
            let n = |k: &str| summary.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
            out.push(Baseline {
                id,
                name: b.get("Name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                description: meaningful(b.get("Description").and_then(Value::as_str)),
                catalog_id: b.get("CatalogId").and_then(Value::as_i64),
                last_run: meaningful(b.get("LastRun").and_then(Value::as_str)),
                target_device_ids: b
                    .get("Targets")
                    .and_then(Value::as_array)
                    .map(|ts| ts.iter().filter_map(|t| t.get("Id").and_then(Value::as_i64)).collect())
                    .unwrap_or_default(),
                summary: ComplianceSummary {
                    status: meaningful(summary.get("ComplianceStatus").and_then(Value::as_str)),
                    critical: n("NumberOfCritical"),
                    warning: n("NumberOfWarning"),
                    normal: n("NumberOfNormal"),
                    downgrade: n("NumberOfDowngrade"),
                },
            });
        }
        Ok(out)
    }

    /// Each device's compliance with a baseline.
    pub async fn compliance(&self, baseline_id: i64) -> Result<Vec<ComplianceEntry>, OmeError> {
        let path = format!("/api/UpdateService/Baselines({baseline_id})/DeviceComplianceReports");
        let mut out = Vec::new();
        for r in self.collect(&path).await? {
            let s = |k: &str| meaningful(r.get(k).and_then(Value::as_str));
            let device_id = r
                .get("DeviceId")
                .and_then(Value::as_i64)
                .ok_or_else(|| self.malformed(&path, "a compliance report has no DeviceId"))?;
            let components = r
                .get("ComponentComplianceReports")
                .and_then(Value::as_array)
                .map(|cs| cs.iter().map(component_of).collect())
                .unwrap_or_default();
            out.push(ComplianceEntry {
                baseline_id,
                ome_device_id: device_id,
                service_tag: s("ServiceTag"),
                device_name: s("DeviceName"),
                model: s("DeviceModel"),
                compliance_status: s("ComplianceStatus"),
                components,
            });
        }
        Ok(out)
    }

    /// A job's state.
    pub async fn job(&self, job_id: i64) -> Result<OmeJob, OmeError> {
        let path = format!("/api/JobService/Jobs({job_id})");
        let doc = self.get_json(&path).await?;
        let status = doc.get("LastRunStatus").or_else(|| doc.get("JobStatus"));
        let status_id = status
            .and_then(|s| s.get("Id"))
            .and_then(Value::as_u64)
            .ok_or_else(|| self.malformed(&path, "the job has no LastRunStatus.Id"))?;
        Ok(OmeJob {
            id: doc.get("Id").and_then(Value::as_i64).unwrap_or(job_id),
            name: meaningful(doc.get("JobName").and_then(Value::as_str)),
            status: JobStatus::from_id(status_id as u32),
            status_name: meaningful(status.and_then(|s| s.get("Name")).and_then(Value::as_str)),
        })
    }

    fn malformed(&self, path: &str, reason: &str) -> OmeError {
        OmeError::Malformed { host: self.host.clone(), path: path.to_owned(), reason: reason.to_owned() }
    }
}

/// `DCIM:INSTALLED#741__BIOS.Setup.1-1` → `BIOS.Setup.1-1`;
/// `DCIM:INSTALLED#iDRAC.Embedded.1-1#IDRACinfo` → `iDRAC.Embedded.1-1`.
pub fn fqdd_of_source_name(source: &str) -> Option<String> {
    let after_hash = source.split_once('#').map(|(_, r)| r).unwrap_or(source);
    let fqdd = match after_hash.split_once("__") {
        Some((_, f)) => f,
        None => after_hash.split('#').next().unwrap_or(after_hash),
    };
    let fqdd = fqdd.trim();
    (!fqdd.is_empty()).then(|| fqdd.to_owned())
}

fn device_of(d: &Value) -> Option<OmeDevice> {
    let s = |k: &str| meaningful(d.get(k).and_then(Value::as_str));
    let management = d.get("DeviceManagement").and_then(Value::as_array).and_then(|m| m.first());
    Some(OmeDevice {
        ome_device_id: d.get("Id")?.as_i64()?,
        service_tag: s("DeviceServiceTag").or_else(|| s("Identifier")),
        model: s("Model"),
        device_name: s("DeviceName"),
        power_state: match d.get("PowerState").and_then(Value::as_u64) {
            Some(17) => PowerState::On,
            Some(18) => PowerState::Off,
            Some(20) => PowerState::PoweringOn,
            Some(21) => PowerState::PoweringOff,
            _ => PowerState::Unknown,
        },
        health: match d.get("Status").and_then(Value::as_u64) {
            Some(1000) => Health::Ok,
            Some(3000) => Health::Warning,
            Some(4000) => Health::Critical,
            _ => Health::Unknown,
        },
        idrac_ip: management.and_then(|m| meaningful(m.get("NetworkAddress").and_then(Value::as_str))),
        idrac_mac: normalize_mac(management.and_then(|m| m.get("MacAddress").and_then(Value::as_str))),
        last_inventory_time: s("LastInventoryTime"),
    })
}

fn component_of(c: &Value) -> ComponentCompliance {
    let s = |k: &str| meaningful(c.get(k).and_then(Value::as_str));
    let source_name = s("SourceName");
    ComponentCompliance {
        name: s("Name").unwrap_or_default(),
        fqdd: source_name.as_deref().and_then(fqdd_of_source_name),
        source_name,
        current_version: s("CurrentVersion"),
        baseline_version: s("Version"),
        compliance_status: s("ComplianceStatus"),
        update_action: s("UpdateAction"),
        criticality: s("Criticality"),
        reboot_required: c.get("RebootRequired").and_then(Value::as_bool).unwrap_or(false),
        path: s("Path"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_yield_fqdds() {
        assert_eq!(fqdd_of_source_name("DCIM:INSTALLED#741__BIOS.Setup.1-1").as_deref(), Some("BIOS.Setup.1-1"));
        assert_eq!(
            fqdd_of_source_name("DCIM:INSTALLED#iDRAC.Embedded.1-1#IDRACinfo").as_deref(),
            Some("iDRAC.Embedded.1-1")
        );
        assert_eq!(
            fqdd_of_source_name("DCIM:INSTALLED#802__DriverPack.Embedded.1:LC.Embedded.1").as_deref(),
            Some("DriverPack.Embedded.1:LC.Embedded.1")
        );
        assert_eq!(JobStatus::from_id(2050), JobStatus::Running);
        assert_eq!(JobStatus::from_id(2060), JobStatus::Completed);
        assert_eq!(JobStatus::from_id(2070), JobStatus::Failed);
    }
}
