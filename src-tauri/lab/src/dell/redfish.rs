//! A Dell iDRAC's Redfish service (iDRAC8 and iDRAC9), built from sushy-oem-idrac's iDRAC9
//! captures and sushy's DMTF samples: sessions, System, Manager and its NIC, UpdateService
//! with SimpleUpdate and multipart push (202 + `Location: …/TaskService/Tasks/JID_…`),
//! FirmwareInventory with `$expand` and `Members@odata.nextLink` paging (and an `ETag`), an
//! HttpPushUri upload (`If-Match` required, 201 + the staged `Available-…` image), the Dell
//! job queue (RAC0679 when a job is already running), `DellJobService.DeleteJobQueue`,
//! `ComputerSystem.Reset` (which lets a RebootPending update run), Lifecycle and SEL logs.
//!
//! iDRAC8 differs the way real ones do: no `$expand`, no multipart push, collection links
//! with a trailing slash that redirect (308) to the canonical path.
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};

use super::model::{ImageManifest, ServerSpec, SimJob};
use super::{BmcState, Refused};
use eio_connectors::idrac::Generation;

const ROOT: &str = "/redfish/v1";
const SYSTEM: &str = "/redfish/v1/Systems/System.Embedded.1";
const MANAGER: &str = "/redfish/v1/Managers/iDRAC.Embedded.1";
const SESSIONS: &str = "/redfish/v1/SessionService/Sessions";
const FIRMWARE: &str = "/redfish/v1/UpdateService/FirmwareInventory";
const SIMPLE_UPDATE: &str = "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate";
const MULTIPART: &str = "/redfish/v1/UpdateService/MultipartUpload";
const TASKS: &str = "/redfish/v1/TaskService/Tasks";
const RESET: &str = "/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset";
const JOB_SERVICE: &str = "/redfish/v1/Dell/Managers/iDRAC.Embedded.1/DellJobService";
const JOB_SERVICE_NEW: &str = "/redfish/v1/Managers/iDRAC.Embedded.1/Oem/Dell/DellJobService";

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json;odata.metadata=minimal;charset=utf-8")], value.to_string())
        .into_response()
}

/// A Redfish error body (`Base.1.x` message registry shape).
pub(crate) fn redfish_error(status: StatusCode, message_id: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {
            "@Message.ExtendedInfo": [{"Message": message, "MessageId": message_id, "Severity": "Critical",
                                       "Resolution": "Retry the operation."}],
            "code": "Base.1.8.GeneralError",
            "message": "A general error has occurred. See ExtendedInfo for more information"
        }}),
    )
}

fn set(v: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = v.pointer_mut(pointer) {
        *slot = value;
    }
}

/// A member link as this generation writes it (iDRAC8: trailing slash).
fn link(spec: &ServerSpec, path: &str) -> Value {
    if spec.generation == Generation::Idrac8 {
        json!({"@odata.id": format!("{path}/")})
    } else {
        json!({"@odata.id": path})
    }
}

pub(crate) fn handle(
    bmc: &BmcState,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let spec = bmc.spec();
    if !spec.has_redfish() {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    if path.len() > ROOT.len() + 1 && path.ends_with('/') {
        let target = format!(
            "{}{}",
            path.trim_end_matches('/'),
            if query.is_empty() { String::new() } else { format!("?{query}") }
        );
        return (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, target)]).into_response();
    }
    let expand = query.contains("expand");
    let skip: usize = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("$skip=").or_else(|| kv.strip_prefix("%24skip=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    match (method, path) {
        (&Method::GET, "/redfish/v1" | "/redfish/v1/") => return json_response(StatusCode::OK, &root(bmc, &spec)),
        (&Method::POST, SESSIONS) => return create_session(bmc, &spec, body),
        _ => {}
    }
    if !bmc.authorized(headers) {
        return redfish_error(
            StatusCode::UNAUTHORIZED,
            "Base.1.8.NoValidSession",
            "There is no valid session established with the implementation.",
        );
    }
    let s = &bmc.samples;
    match (method, path) {
        (&Method::GET, "/redfish/v1/SessionService") if spec.sessions => {
            let mut v = s.session_service.clone();
            set(&mut v, "/Sessions", json!({"@odata.id": SESSIONS}));
            json_response(StatusCode::OK, &v)
        }
        (&Method::DELETE, p) if p.starts_with(SESSIONS) => {
            let id = p.rsplit('/').next().unwrap_or_default();
            if bmc.end_session(id) {
                StatusCode::NO_CONTENT.into_response()
            } else {
                redfish_error(StatusCode::NOT_FOUND, "Base.1.8.ResourceMissingAtURI", "The session does not exist.")
            }
        }
        (&Method::GET, "/redfish/v1/Systems") => {
            let mut v = s.system_collection.clone();
            set(&mut v, "/Members", json!([link(&spec, SYSTEM)]));
            json_response(StatusCode::OK, &v)
        }
        (&Method::GET, SYSTEM) => json_response(StatusCode::OK, &system(bmc, &spec)),
        (&Method::GET, "/redfish/v1/Managers") => {
            let mut v = s.manager_collection.clone();
            set(&mut v, "/Members", json!([link(&spec, MANAGER)]));
            json_response(StatusCode::OK, &v)
        }
        (&Method::GET, MANAGER) => json_response(StatusCode::OK, &manager(bmc, &spec)),
        (&Method::GET, "/redfish/v1/Managers/iDRAC.Embedded.1/EthernetInterfaces") => {
            let mut v = s.ethernet_collection.clone();
            let path = format!("{MANAGER}/EthernetInterfaces");
            set(&mut v, "/@odata.id", json!(path));
            set(&mut v, "/Description", json!("Collection of EthernetInterfaces for this Manager"));
            let member = if expand && spec.generation == Generation::Idrac9 {
                nic(bmc, &spec)
            } else {
                link(&spec, &format!("{path}/NIC.1"))
            };
            set(&mut v, "/Members", json!([member]));
            json_response(StatusCode::OK, &v)
        }
        (&Method::GET, "/redfish/v1/Managers/iDRAC.Embedded.1/EthernetInterfaces/NIC.1") => {
            json_response(StatusCode::OK, &nic(bmc, &spec))
        }
        (&Method::GET, "/redfish/v1/UpdateService") => json_response(StatusCode::OK, &update_service(bmc, &spec)),
        (&Method::GET, FIRMWARE) => {
            let mut ids = spec.firmware_ids();
            ids.extend(bmc.staged().into_iter().map(|(id, _)| id));
            let members: Vec<Value> = ids
                .iter()
                .map(|id| {
                    if expand && spec.generation == Generation::Idrac9 {
                        software_inventory(bmc, &spec, id).unwrap_or(Value::Null)
                    } else {
                        link(&spec, &format!("{FIRMWARE}/{id}"))
                    }
                })
                .collect();
            let mut v = s.firmware_collection.clone();
            page(bmc, &mut v, FIRMWARE, members, skip, if expand { "$expand=*($levels=1)&" } else { "" });
            let mut r = json_response(StatusCode::OK, &v);
            if let Ok(tag) = format!("W/\"{}\"", bmc.etag.load(std::sync::atomic::Ordering::Relaxed)).parse() {
                r.headers_mut().insert(header::ETAG, tag);
            }
            r
        }
        (&Method::POST, FIRMWARE) => {
            let current = format!("W/\"{}\"", bmc.etag.load(std::sync::atomic::Ordering::Relaxed));
            if headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) != Some(current.as_str()) {
                return redfish_error(
                    StatusCode::PRECONDITION_FAILED,
                    "Base.1.8.PreconditionFailed",
                    "The ETag supplied did not match the ETag required to change this resource.",
                );
            }
            let parts = multipart(headers, body);
            let Some(file) = parts.iter().find(|p| p.file_name.is_some()) else {
                return redfish_error(
                    StatusCode::BAD_REQUEST,
                    "Base.1.8.PropertyMissing",
                    "No image file was uploaded.",
                );
            };
            let id = bmc.stage(file.file_name.as_deref().unwrap_or("firmware.exe"), &file.content);
            let location = format!("{FIRMWARE}/{id}");
            let mut r = json_response(
                StatusCode::CREATED,
                &json!({"@odata.id": location, "Id": id, "Name": "Available firmware", "Status": {"State": "Enabled"}}),
            );
            if let Ok(l) = location.parse() {
                r.headers_mut().insert(header::LOCATION, l);
            }
            r
        }
        (&Method::GET, p) if p.starts_with(FIRMWARE) => {
            match software_inventory(bmc, &spec, &p[FIRMWARE.len() + 1..]) {
                Some(v) => json_response(StatusCode::OK, &v),
                None => not_found(),
            }
        }
        (&Method::POST, SIMPLE_UPDATE) => {
            let params = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
            let on_reset = params.get("@Redfish.OperationApplyTime").and_then(Value::as_str) == Some("OnReset");
            let Some(image) = params.get("ImageURI").and_then(Value::as_str).map(str::to_owned) else {
                return redfish_error(
                    StatusCode::BAD_REQUEST,
                    "Base.1.8.PropertyMissing",
                    "The property ImageURI is a required property and must be included in the request.",
                );
            };
            match bmc.take_staged(&image) {
                Some((name, manifest)) => start_update(bmc, "SimpleUpdate", &name, manifest, on_reset),
                None => start_update(bmc, "SimpleUpdate", &image, None, on_reset),
            }
        }
        (&Method::POST, MULTIPART) if spec.generation == Generation::Idrac9 => {
            let parts = multipart(headers, body);
            let params = parts
                .iter()
                .find(|p| p.name == "UpdateParameters")
                .and_then(|p| serde_json::from_slice::<Value>(&p.content).ok())
                .unwrap_or(Value::Null);
            let on_reset = params.get("@Redfish.OperationApplyTime").and_then(Value::as_str) == Some("OnReset");
            let file = parts.iter().find(|p| p.file_name.is_some());
            let name = file.and_then(|f| f.file_name.clone()).unwrap_or_else(|| "firmware.exe".into());
            let manifest = file.and_then(|f| ImageManifest::parse(&f.content));
            start_update(bmc, "MultipartUpdate", &name, manifest, on_reset)
        }
        (&Method::POST, RESET) => {
            let reset_type = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("ResetType").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            match bmc.reset(&reset_type) {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(refused) => refusal(refused),
            }
        }
        (&Method::GET, JOB_SERVICE | JOB_SERVICE_NEW) => {
            let mut v = s.job_service.clone();
            set(&mut v, "/@odata.id", json!(path));
            set(
                &mut v,
                "/Actions/#DellJobService.DeleteJobQueue/target",
                json!(format!("{path}/Actions/DellJobService.DeleteJobQueue")),
            );
            json_response(StatusCode::OK, &v)
        }
        (&Method::POST, p)
            if p == format!("{JOB_SERVICE}/Actions/DellJobService.DeleteJobQueue")
                || p == format!("{JOB_SERVICE_NEW}/Actions/DellJobService.DeleteJobQueue") =>
        {
            let which = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("JobID").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            match bmc.delete_jobs(&which) {
                Ok(()) => json_response(
                    StatusCode::OK,
                    &json!({"@Message.ExtendedInfo": [{"Message": "The request completed successfully.",
                        "MessageId": "Base.1.12.Success", "Resolution": "None", "Severity": "OK"}]}),
                ),
                Err(refused) => refusal(refused),
            }
        }
        (&Method::GET, p) if p.starts_with(TASKS) => {
            let jid = &p[TASKS.len()..].trim_start_matches('/');
            match bmc.advance_job(jid) {
                Some(job) => json_response(StatusCode::OK, &task(bmc, &job)),
                None => not_found(),
            }
        }
        (&Method::GET, p) if job_queue_base(&spec, p).is_some() => {
            let base = job_queue_base(&spec, p).unwrap_or(MANAGER);
            let jobs_path = format!("{base}/Jobs");
            if p == jobs_path {
                let jobs = bmc.jobs();
                let members: Vec<Value> = jobs
                    .iter()
                    .map(|j| {
                        if expand {
                            dell_job(bmc, &jobs_path, j)
                        } else {
                            json!({"@odata.id": format!("{jobs_path}/{}", j.id)})
                        }
                    })
                    .collect();
                let mut v = s.job_collection.clone();
                set(&mut v, "/@odata.id", json!(jobs_path));
                set(&mut v, "/Members", Value::Array(members));
                if let Some(o) = v.as_object_mut() {
                    o.insert("Members@odata.count".into(), json!(jobs.len()));
                }
                json_response(StatusCode::OK, &v)
            } else {
                let jid = p.rsplit('/').next().unwrap_or_default();
                match bmc.advance_job(jid) {
                    Some(job) => json_response(StatusCode::OK, &dell_job(bmc, &jobs_path, &job)),
                    None => not_found(),
                }
            }
        }
        (&Method::GET, "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Lclog/Entries") => {
            json_response(StatusCode::OK, &log_entries(&spec, "Lclog"))
        }
        (&Method::GET, "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Sel/Entries") => {
            json_response(StatusCode::OK, &log_entries(&spec, "Sel"))
        }
        _ => not_found(),
    }
}

fn not_found() -> Response {
    redfish_error(StatusCode::NOT_FOUND, "Base.1.8.ResourceMissingAtURI", "The resource at the URI is not found.")
}

/// `…/Jobs` lives under the Manager; 16G firmware also serves `…/Oem/Dell/Jobs`.
fn job_queue_base(spec: &ServerSpec, path: &str) -> Option<&'static str> {
    const NEW: &str = "/redfish/v1/Managers/iDRAC.Embedded.1/Oem/Dell";
    if path.starts_with(&format!("{MANAGER}/Jobs")) {
        Some(MANAGER)
    } else if spec.server_generation >= 16 && path.starts_with(&format!("{NEW}/Jobs")) {
        Some(NEW)
    } else {
        None
    }
}

/// Fill a collection page: `bmc.page_size` members from `skip`, a nextLink when more remain.
fn page(bmc: &BmcState, v: &mut Value, path: &str, members: Vec<Value>, skip: usize, keep_query: &str) {
    let total = members.len();
    let page_size = bmc.page_size.max(1);
    let page: Vec<Value> = members.into_iter().skip(skip).take(page_size).collect();
    let next = skip + page.len();
    if let Some(o) = v.as_object_mut() {
        o.insert("@odata.id".into(), json!(path));
        o.insert("Members".into(), Value::Array(page));
        o.insert("Members@odata.count".into(), json!(total));
        if next < total {
            o.insert("Members@odata.nextLink".into(), json!(format!("{path}?{keep_query}$skip={next}")));
        } else {
            o.remove("Members@odata.nextLink");
        }
    }
}

fn root(bmc: &BmcState, spec: &ServerSpec) -> Value {
    let mut v = bmc.samples.root.clone();
    set(&mut v, "/Oem/Dell/ServiceTag", json!(spec.service_tag));
    set(&mut v, "/Oem/Dell/ManagerMACAddress", json!(spec.idrac_mac));
    set(&mut v, "/Links/Sessions", json!({"@odata.id": SESSIONS}));
    if let Some(o) = v.as_object_mut() {
        if spec.generation != Generation::Idrac9 {
            o.remove("ProtocolFeaturesSupported");
            o.insert("RedfishVersion".into(), json!("1.0.2"));
        }
        if !spec.sessions {
            o.remove("SessionService");
            o.remove("Links");
        }
    }
    v
}

fn create_session(bmc: &BmcState, spec: &ServerSpec, body: &[u8]) -> Response {
    if !spec.sessions {
        return redfish_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Base.1.8.OperationNotAllowed",
            "Sessions are not supported.",
        );
    }
    let creds = serde_json::from_slice::<Value>(body).ok();
    let user = creds.as_ref().and_then(|c| c.get("UserName")).and_then(Value::as_str).unwrap_or_default();
    let pass = creds.as_ref().and_then(|c| c.get("Password")).and_then(Value::as_str).unwrap_or_default();
    if !bmc.credentials_match(user, pass) {
        return redfish_error(
            StatusCode::UNAUTHORIZED,
            "Base.1.8.NoValidSession",
            "Unable to log in: the user name or password is incorrect.",
        );
    }
    let (id, token) = bmc.new_session();
    let location = format!("{SESSIONS}/{id}");
    let mut v = bmc.samples.session.clone();
    set(&mut v, "/Id", json!(id));
    set(&mut v, "/@odata.id", json!(location));
    set(&mut v, "/UserName", json!(user));
    let mut resp = json_response(StatusCode::CREATED, &v);
    if let (Ok(t), Ok(l)) = (token.parse(), location.parse()) {
        resp.headers_mut().insert("X-Auth-Token", t);
        resp.headers_mut().insert(header::LOCATION, l);
    }
    resp
}

fn system(bmc: &BmcState, spec: &ServerSpec) -> Value {
    let mut v = bmc.samples.system.clone();
    set(&mut v, "/SKU", json!(spec.service_tag));
    set(&mut v, "/SerialNumber", json!(format!("CN7016{:08}", spec.index)));
    set(&mut v, "/Model", json!(spec.model));
    set(&mut v, "/BiosVersion", json!(spec.bios_version));
    set(&mut v, "/UUID", json!(spec.uuid.to_string()));
    set(&mut v, "/PowerState", json!(spec.power_state));
    set(&mut v, "/HostName", json!(spec.hostname));
    set(&mut v, "/Status/Health", json!(spec.health));
    set(&mut v, "/Status/HealthRollup", json!(spec.health));
    set(&mut v, "/ProcessorSummary/Count", json!(spec.cpu_count));
    set(&mut v, "/ProcessorSummary/LogicalProcessorCount", json!(spec.cpu_count * 40));
    set(&mut v, "/ProcessorSummary/Model", json!(spec.cpu_model));
    set(&mut v, "/MemorySummary/TotalSystemMemoryGiB", json!(spec.memory_gib));
    set(&mut v, "/Oem/Dell/DellSystem/ChassisServiceTag", json!(spec.service_tag));
    set(&mut v, "/Oem/Dell/DellSystem/NodeID", json!(spec.service_tag));
    set(&mut v, "/Oem/Dell/DellSystem/SystemGeneration", json!(spec.manager_model()));
    set(&mut v, "/Oem/Dell/DellSystem/UUID", json!(spec.uuid.to_string()));
    v
}

fn manager(bmc: &BmcState, spec: &ServerSpec) -> Value {
    let mut v = bmc.samples.manager.clone();
    set(&mut v, "/FirmwareVersion", json!(spec.idrac_firmware));
    set(&mut v, "/Model", json!(spec.manager_model()));
    set(&mut v, "/UUID", json!(uuid::Uuid::from_u128(spec.uuid.as_u128() ^ 0xffff).to_string()));
    set(&mut v, "/PowerState", json!("On"));
    set(&mut v, "/Oem/Dell/DelliDRACCard/URLString", json!(format!("https://{}:443", spec.idrac_ip)));
    v
}

fn nic(bmc: &BmcState, spec: &ServerSpec) -> Value {
    let mut v = bmc.samples.ethernet_interface.clone();
    let path = format!("{MANAGER}/EthernetInterfaces/NIC.1");
    let mac = spec.idrac_mac.to_ascii_uppercase();
    set(&mut v, "/@odata.id", json!(path));
    set(&mut v, "/Id", json!("NIC.1"));
    set(&mut v, "/Description", json!("Management Network Interface"));
    set(&mut v, "/MACAddress", json!(mac));
    set(&mut v, "/PermanentMACAddress", json!(mac));
    set(&mut v, "/HostName", json!(format!("idrac-{}", spec.service_tag)));
    set(&mut v, "/FQDN", json!(format!("idrac-{}.lab.eio.example", spec.service_tag)));
    set(&mut v, "/IPv4Addresses/0/Address", json!(spec.idrac_ip));
    set(&mut v, "/IPv4StaticAddresses/0/Address", json!(spec.idrac_ip));
    set(&mut v, "/VLANs", json!({"@odata.id": format!("{path}/VLANs")}));
    v
}

fn update_service(bmc: &BmcState, spec: &ServerSpec) -> Value {
    let mut v = bmc.samples.update_service.clone();
    set(&mut v, "/HttpPushUri", json!(FIRMWARE));
    set(&mut v, "/HttpPushUriTargets", json!([]));
    set(&mut v, "/Actions/#UpdateService.SimpleUpdate/target", json!(SIMPLE_UPDATE));
    set(
        &mut v,
        "/Actions/#UpdateService.SimpleUpdate/@Redfish.ActionInfo",
        json!("/redfish/v1/UpdateService/SimpleUpdateActionInfo"),
    );
    if let Some(o) = v.as_object_mut() {
        if spec.generation == Generation::Idrac9 {
            o.insert("MultipartHttpPushUri".into(), json!(MULTIPART));
        }
    }
    v
}

fn software_inventory(bmc: &BmcState, spec: &ServerSpec, id: &str) -> Option<Value> {
    let (state, rest) = id.split_once('-')?;
    if state == "Available" {
        let (_, version) = bmc.staged().into_iter().find(|(s, _)| s == id)?;
        let mut v = bmc.samples.software_inventory.clone();
        set(&mut v, "/@odata.id", json!(format!("{FIRMWARE}/{id}")));
        set(&mut v, "/Id", json!(id));
        set(&mut v, "/Name", json!("Available firmware package"));
        set(&mut v, "/Version", json!(version));
        set(&mut v, "/Updateable", json!(true));
        set(&mut v, "/Status/State", json!("Enabled"));
        return Some(v);
    }
    let (head, fqdd) = rest.split_once("__")?;
    let item = spec.firmware(fqdd)?;
    let version = match state {
        "Installed" => item.version.clone(),
        "Previous" => item.previous_version.clone()?,
        _ => return None,
    };
    if head != format!("{}-{}", item.component_id, version) {
        return None;
    }
    let mut v = bmc.samples.software_inventory.clone();
    set(&mut v, "/@odata.id", json!(format!("{FIRMWARE}/{id}")));
    set(&mut v, "/Id", json!(id));
    set(&mut v, "/Name", json!(item.name));
    set(&mut v, "/Version", json!(version));
    set(&mut v, "/SoftwareId", json!(item.component_id));
    set(&mut v, "/Updateable", json!(item.updateable));
    set(&mut v, "/Manufacturer", json!("Dell Inc."));
    set(&mut v, "/LowestSupportedVersion", json!(version));
    set(&mut v, "/UefiDevicePaths", json!([]));
    set(&mut v, "/ReleaseDate", json!("00:00:00Z"));
    set(&mut v, "/RelatedItem", json!([]));
    set(&mut v, "/Status/State", json!(if state == "Installed" { "Enabled" } else { "StandbyOffline" }));
    Some(v)
}

fn start_update(
    bmc: &BmcState,
    action: &str,
    image: &str,
    manifest: Option<ImageManifest>,
    on_reset: bool,
) -> Response {
    match bmc.start_update(action, image, manifest, on_reset) {
        Ok(job) => (StatusCode::ACCEPTED, [(header::LOCATION, format!("{TASKS}/{}", job.id))]).into_response(),
        // A job already running: the iDRAC answers RAC0679 (sushy-oem-idrac's capture).
        Err(_) => json_response(StatusCode::BAD_REQUEST, &bmc.samples.error_running_job),
    }
}

/// A refused job action as an iDRAC error body.
fn refusal((status, id, message): Refused) -> Response {
    let id = if id.starts_with("Base.") { id.to_owned() } else { format!("IDRAC.2.8.{id}") };
    redfish_error(status, &id, &message)
}

/// One part of a `multipart/form-data` body.
struct Part {
    name: String,
    file_name: Option<String>,
    content: Vec<u8>,
}

/// The parts of a `multipart/form-data` body (enough of RFC 7578 for image uploads).
fn multipart(headers: &HeaderMap, body: &[u8]) -> Vec<Part> {
    let Some(boundary) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').find_map(|p| p.trim().strip_prefix("boundary=")))
        .map(|b| format!("--{}", b.trim_matches('"')))
    else {
        return Vec::new();
    };
    let mut parts = Vec::new();
    for chunk in split(body, boundary.as_bytes()).into_iter().skip(1) {
        let chunk = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
        if chunk.starts_with(b"--") {
            break;
        }
        let Some(at) = chunk.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&chunk[..at]);
        let content = &chunk[at + 4..];
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or_default()
            .to_owned();
        let attr = |key: &str| {
            disposition
                .split(';')
                .find_map(|kv| kv.trim().strip_prefix(key).map(|v| v.trim().trim_matches('"').to_owned()))
        };
        parts.push(Part {
            name: attr("name=").unwrap_or_default(),
            file_name: attr("filename="),
            content: content.to_vec(),
        });
    }
    parts
}

fn split<'a>(body: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(sep.len()).position(|w| w == sep) {
        out.push(&rest[..at]);
        rest = &rest[at + sep.len()..];
    }
    out.push(rest);
    out
}

fn task(bmc: &BmcState, job: &SimJob) -> Value {
    let mut v = bmc.samples.task.clone();
    let (task_state, task_status) = match job.state.as_str() {
        "Completed" => ("Completed", "OK"),
        "CompletedWithErrors" => ("Completed", "Warning"),
        "Failed" => ("Exception", "Critical"),
        "New" | "Scheduled" => ("Starting", "OK"),
        _ => ("Running", "OK"),
    };
    set(&mut v, "/@odata.id", json!(format!("{TASKS}/{}", job.id)));
    set(&mut v, "/Id", json!(job.id));
    set(&mut v, "/Name", json!(job.name));
    set(&mut v, "/Messages/0/Message", json!(job.message));
    set(&mut v, "/Messages/0/MessageId", json!(format!("IDRAC.2.5.{}", job.message_id)));
    set(&mut v, "/PercentComplete", json!(job.percent));
    set(&mut v, "/TaskState", json!(task_state));
    set(&mut v, "/TaskStatus", json!(task_status));
    set(&mut v, "/Oem/Dell/Id", json!(job.id));
    set(&mut v, "/Oem/Dell/JobState", json!(job.state));
    set(&mut v, "/Oem/Dell/JobType", json!(job.job_type));
    set(&mut v, "/Oem/Dell/Message", json!(job.message));
    set(&mut v, "/Oem/Dell/MessageId", json!(format!("IDRAC.2.5.{}", job.message_id)));
    set(&mut v, "/Oem/Dell/Name", json!(job.name));
    set(&mut v, "/Oem/Dell/PercentComplete", json!(job.percent));
    v
}

fn dell_job(bmc: &BmcState, jobs_path: &str, job: &SimJob) -> Value {
    let mut v = bmc.samples.job_collection.pointer("/Members/0").cloned().unwrap_or_else(|| json!({}));
    set(&mut v, "/@odata.id", json!(format!("{jobs_path}/{}", job.id)));
    set(&mut v, "/Id", json!(job.id));
    set(&mut v, "/Name", json!(job.name));
    set(&mut v, "/JobState", json!(job.state));
    set(&mut v, "/JobType", json!(job.job_type));
    set(&mut v, "/Message", json!(job.message));
    set(&mut v, "/MessageId", json!(job.message_id));
    set(&mut v, "/PercentComplete", json!(job.percent));
    set(&mut v, "/CompletionTime", if job.is_finished() { json!("2024-06-01T10:00:00") } else { Value::Null });
    v
}

/// Log entries, newest first (as iDRAC lists them). DMTF LogEntry shape: no sample exists.
fn log_entries(spec: &ServerSpec, log: &str) -> Value {
    let path = format!("{MANAGER}/LogServices/{log}/Entries");
    let n = spec.log_entries;
    let members: Vec<Value> = (0..n)
        .rev()
        .map(|i| {
            let (message_id, message, severity) = match (log, i % 5) {
                ("Sel", 0) => {
                    ("SEL9901", "The system inlet temperature is less than the upper warning threshold.", "OK")
                }
                ("Sel", _) => (
                    "PSU0003",
                    "The power input for power supply 1 is lost.",
                    if i % 7 == 0 { "Warning" } else { "OK" },
                ),
                (_, 0) => ("SUP0518", "Successfully updated the iDRAC firmware.", "OK"),
                (_, 1) => ("USR0030", "Successfully logged in using root, from 198.51.100.7 and REDFISH.", "OK"),
                (_, 2) => ("JCP027", "Job JID_000000000000 has been created.", "OK"),
                (_, 3) => ("RAC0703", "Requested system hardreset.", "OK"),
                _ => ("LOG007", "The previous log entry was repeated 1 times.", "OK"),
            };
            let id = (i + 1).to_string();
            json!({
                "@odata.id": format!("{path}/{id}"),
                "@odata.type": "#LogEntry.v1_6_1.LogEntry",
                "Id": id,
                "Name": "Log Entry",
                "Created": format!("2024-05-{:02}T{:02}:{:02}:00-05:00", 1 + i / 96 % 28, i / 4 % 24, i % 4 * 15),
                "EntryType": if log == "Sel" { "SEL" } else { "Event" },
                "Message": message,
                "MessageId": message_id,
                "Severity": severity
            })
        })
        .collect();
    json!({
        "@odata.context": "/redfish/v1/$metadata#LogEntryCollection.LogEntryCollection",
        "@odata.id": path,
        "@odata.type": "#LogEntryCollection.LogEntryCollection",
        "Description": if log == "Sel" { "System Event Logs for this manager" } else { "LC Logs for this manager" },
        "Members": members,
        "Members@odata.count": n,
        "Name": "Log Entry Collection"
    })
}

/// Decode `Authorization: Basic …` into (user, password).
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}
