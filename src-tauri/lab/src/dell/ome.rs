//! A simulated Dell OpenManage Enterprise: API sessions (201 + `X-Auth-Token`), the device
//! list with `$top`/`$skip` paging and `@odata.nextLink`, each device's software inventory,
//! one firmware baseline with per-device compliance (the lab's outdated servers violate it),
//! and jobs with OME's status codes (2050 running, 2060 completed, 2070 failed).
//!
//! No third-party capture of OME exists in the fetched wheels; shapes follow Dell's OME API
//! guide (the same field names dellemc-openmanage-ansible-modules documents).
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::model::ServerSpec;
use super::redfish::json_response;
use super::{Fault, FaultCell};

/// The OME's state.
pub(crate) struct OmeState {
    pub servers: Vec<ServerSpec>,
    pub username: String,
    pub password: String,
    pub page_size: usize,
    pub tokens: Mutex<HashSet<String>>,
    pub fault: FaultCell,
}

impl OmeState {
    fn tokens(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn error(status: StatusCode, message_id: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": "Base.1.0.GeneralError", "message": "A general error has occurred. See ExtendedInfo for more information.",
                          "@Message.ExtendedInfo": [{"MessageId": message_id, "Message": message, "Severity": "Critical",
                                                     "Resolution": "Retry the operation."}]}}),
    )
}

/// OME device ids: 10000 + lab index.
pub fn device_id(spec: &ServerSpec) -> i64 {
    10_000 + spec.index as i64
}

pub(crate) async fn handle(State(ome): State<Arc<OmeState>>, req: Request) -> Response {
    let fault = ome.fault.get();
    if let Some(early) = super::apply_fault_before(&fault).await {
        return early;
    }
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let resp = route(&ome, &parts.method, &path, &query, &parts.headers, &body, &fault);
    super::apply_fault_after(&fault, resp).await
}

fn route(
    ome: &OmeState,
    method: &Method,
    path: &str,
    query: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    fault: &Option<Fault>,
) -> Response {
    if method == Method::POST && path == "/api/SessionService/Sessions" {
        let creds = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
        let user = creds.get("UserName").and_then(Value::as_str).unwrap_or_default();
        let pass = creds.get("Password").and_then(Value::as_str).unwrap_or_default();
        if matches!(fault, Some(Fault::Unauthorized)) || user != ome.username || pass != ome.password {
            return error(
                StatusCode::UNAUTHORIZED,
                "CSEC9002",
                "Unable to log on because the credentials are invalid.",
            );
        }
        let id = uuid::Uuid::new_v4().to_string();
        let token = uuid::Uuid::new_v4().simple().to_string();
        ome.tokens().insert(format!("{id} {token}"));
        let mut resp = json_response(
            StatusCode::CREATED,
            &json!({"@odata.context": "/api/$metadata#SessionService.Session/$entity",
                    "@odata.type": "#SessionService.Session",
                    "@odata.id": format!("/api/SessionService/Sessions('{id}')"),
                    "Id": id, "Description": "API", "Name": "API", "UserName": user, "UserId": 10078,
                    "Password": null, "Roles": ["ADMINISTRATOR"], "IpAddress": "127.0.0.1",
                    "StartTimeStamp": "2024-06-01 10:00:00.000000", "LastAccessedTimeStamp": "2024-06-01 10:00:00.000000",
                    "DirectoryGroup": []}),
        );
        if let (Ok(t), Ok(l)) = (token.parse(), format!("/api/SessionService/Sessions('{id}')").parse()) {
            resp.headers_mut().insert("X-Auth-Token", t);
            resp.headers_mut().insert(header::LOCATION, l);
        }
        return resp;
    }
    let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let session = ome.tokens().iter().find(|s| s.ends_with(&format!(" {token}")) && !token.is_empty()).cloned();
    let Some(session) = session else {
        return error(
            StatusCode::UNAUTHORIZED,
            "CGEN1006",
            "Unable to complete the request because the session is invalid.",
        );
    };
    let skip = param(query, "skip").unwrap_or(0);
    let top = param(query, "top").unwrap_or(ome.page_size).min(ome.page_size).max(1);
    match (method, path) {
        (&Method::DELETE, p) if p.starts_with("/api/SessionService/Sessions('") => {
            let id = p.trim_start_matches("/api/SessionService/Sessions('").trim_end_matches("')");
            if session.starts_with(&format!("{id} ")) {
                ome.tokens().remove(&session);
                StatusCode::NO_CONTENT.into_response()
            } else {
                error(StatusCode::NOT_FOUND, "CGEN1004", "The session does not exist.")
            }
        }
        (&Method::GET, "/api/DeviceService/Devices") => {
            let all: Vec<Value> = ome.servers.iter().map(device).collect();
            paged("/api/DeviceService/Devices", "#Collection(DeviceService.Device)", all, skip, top)
        }
        (&Method::GET, p)
            if p.starts_with("/api/DeviceService/Devices(") && p.ends_with("/InventoryDetails('deviceSoftware')") =>
        {
            let id: i64 =
                p["/api/DeviceService/Devices(".len()..].split(')').next().and_then(|n| n.parse().ok()).unwrap_or(-1);
            match ome.servers.iter().find(|s| device_id(s) == id) {
                Some(spec) => json_response(StatusCode::OK, &software(spec)),
                None => error(StatusCode::NOT_FOUND, "CGEN1004", "The device does not exist."),
            }
        }
        (&Method::GET, "/api/UpdateService/Baselines") => paged(
            "/api/UpdateService/Baselines",
            "#Collection(UpdateService.Baselines)",
            vec![baseline(ome)],
            skip,
            top,
        ),
        (&Method::GET, "/api/UpdateService/Baselines(1)/DeviceComplianceReports") => {
            let all: Vec<Value> = ome.servers.iter().map(compliance).collect();
            paged(
                "/api/UpdateService/Baselines(1)/DeviceComplianceReports",
                "#Collection(UpdateService.DeviceComplianceReport)",
                all,
                skip,
                top,
            )
        }
        (&Method::GET, p) if p.starts_with("/api/JobService/Jobs(") => {
            let id: i64 = p["/api/JobService/Jobs(".len()..].trim_end_matches(')').parse().unwrap_or(-1);
            let (status, name) = match id % 3 {
                0 => (2060, "Completed"),
                1 => (2050, "Running"),
                _ => (2070, "Failed"),
            };
            json_response(
                StatusCode::OK,
                &json!({"@odata.type": "#JobService.Job", "@odata.id": format!("/api/JobService/Jobs({id})"), "Id": id,
                        "JobName": "Firmware Update Task", "JobDescription": "Firmware update", "State": "Enabled",
                        "JobType": {"Id": 5, "Name": "Update_Task", "Internal": false},
                        "JobStatus": {"@odata.type": "#JobService.JobStatus", "Id": status, "Name": name},
                        "LastRunStatus": {"@odata.type": "#JobService.JobStatus", "Id": status, "Name": name}}),
            )
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "CGEN1004",
            "Unable to complete the request because the resource URI does not exist.",
        ),
    }
}

fn param(query: &str, name: &str) -> Option<usize> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim_start_matches('$').trim_start_matches("%24") == name).then(|| v.parse().ok()).flatten()
    })
}

fn paged(path: &str, context: &str, all: Vec<Value>, skip: usize, top: usize) -> Response {
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip(skip).take(top).collect();
    let next = skip + page.len();
    let mut doc = json!({"@odata.context": format!("/api/$metadata{context}"), "@odata.count": total, "value": page});
    if next < total {
        doc["@odata.nextLink"] = json!(format!("{path}?$skip={next}&$top={top}"));
    }
    json_response(StatusCode::OK, &doc)
}

fn device(spec: &ServerSpec) -> Value {
    let id = device_id(spec);
    json!({
        "@odata.type": "#DeviceService.Device",
        "@odata.id": format!("/api/DeviceService/Devices({id})"),
        "Id": id, "Type": 1000, "Identifier": spec.service_tag, "DeviceServiceTag": spec.service_tag,
        "ChassisServiceTag": null, "Model": spec.model, "PowerState": if spec.power_state == "On" { 17 } else { 18 },
        "ManagedState": 3000, "Status": if spec.health == "OK" { 1000 } else { 3000 }, "ConnectionState": true,
        "AssetTag": null, "SystemId": 1814, "DeviceName": spec.hostname, "LastInventoryTime": "2024-06-01 10:00:00.000",
        "LastStatusTime": "2024-06-01 10:00:00.000", "DeviceSubscription": null, "DeviceCapabilities": [1, 2, 3, 4, 7, 8, 9, 41, 1009],
        "SlotConfiguration": {}, "DeviceManagement": [{"ManagementId": id * 10, "NetworkAddress": spec.idrac_ip,
            "MacAddress": spec.idrac_mac, "ManagementType": 2, "InstrumentationName": format!("idrac-{}", spec.service_tag),
            "DnsName": format!("idrac-{}.lab.eio.example", spec.service_tag),
            "ManagementProfile": [{"ManagementProfileId": id * 10, "ProfileId": "WSMAN_OOB", "ManagementId": id * 10,
                                    "AgentName": "iDRAC", "Version": spec.idrac_firmware, "ManagementURL": format!("https://{}:443", spec.idrac_ip),
                                    "HasCreds": 0, "Status": 1000, "StatusDateTime": "2024-06-01 10:00:00.000"}]}],
        "Actions": null,
        "SensorHealth@odata.navigationLink": format!("/api/DeviceService/Devices({id})/SensorHealth"),
        "InventoryDetails@odata.navigationLink": format!("/api/DeviceService/Devices({id})/InventoryDetails")
    })
}

fn source_name(f: &super::model::FirmwareItem) -> String {
    format!("DCIM:INSTALLED#{}__{}", f.component_id, f.fqdd)
}

fn software(spec: &ServerSpec) -> Value {
    let info: Vec<Value> = spec
        .firmware
        .iter()
        .map(|f| {
            json!({"Version": f.version, "InstallationDate": "2024-03-15 10:00:00.000", "Status": "Installed",
                   "SoftwareType": if f.fqdd.starts_with("BIOS") { "BIOS" } else { "FRMW" }, "VendorId": "", "SubDeviceId": "",
                   "SubVendorId": "", "ComponentId": f.component_id, "PciDeviceId": "", "DeviceDescription": f.name,
                   "InstanceId": source_name(f)})
        })
        .collect();
    json!({"@odata.context": "/api/$metadata#DeviceService.InventoryDetail/$entity", "@odata.type": "#DeviceService.InventoryDetail",
           "@odata.id": format!("/api/DeviceService/Devices({})/InventoryDetails('deviceSoftware')", device_id(spec)),
           "InventoryType": "deviceSoftware", "InventoryInfo": info})
}

/// Components of `spec` that differ from the baseline: (item, baseline version).
fn violations(spec: &ServerSpec) -> Vec<(&super::model::FirmwareItem, &'static str)> {
    let (bios, idrac) = ServerSpec::baseline_versions(spec.server_generation);
    spec.firmware
        .iter()
        .filter_map(|f| match f.fqdd.as_str() {
            "BIOS.Setup.1-1" if f.version != bios => Some((f, bios)),
            "iDRAC.Embedded.1-1" if f.version != idrac => Some((f, idrac)),
            _ => None,
        })
        .collect()
}

fn baseline(ome: &OmeState) -> Value {
    let critical = ome.servers.iter().filter(|s| !violations(s).is_empty()).count();
    let targets: Vec<Value> =
        ome.servers.iter().map(|s| json!({"Id": device_id(s), "Type": {"Id": 1000, "Name": "DEVICE"}})).collect();
    json!({"@odata.type": "#UpdateService.Baselines", "@odata.id": "/api/UpdateService/Baselines(1)", "Id": 1,
           "Name": "EIO fleet baseline", "Description": "Dell catalog, June", "CatalogId": 7, "RepositoryId": 3,
           "DowngradeEnabled": true, "Is64Bit": true, "LastRun": "2024-06-01 10:00:00.000", "TaskId": 25011,
           "TaskStatusId": 2060, "Targets": targets,
           "ComplianceSummary": {"ComplianceStatus": if critical > 0 { "CRITICAL" } else { "OK" },
               "NumberOfCritical": critical, "NumberOfWarning": 0, "NumberOfNormal": ome.servers.len() - critical,
               "NumberOfDowngrade": 0, "NumberOfUnknown": 0},
           "DeviceComplianceReports@odata.navigationLink": "/api/UpdateService/Baselines(1)/DeviceComplianceReports"})
}

fn compliance(spec: &ServerSpec) -> Value {
    let bad = violations(spec);
    let components: Vec<Value> = spec
        .firmware
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let target = bad.iter().find(|(b, _)| b.fqdd == f.fqdd).map(|(_, v)| *v);
            json!({"Id": 1000 + i, "Version": target.unwrap_or(&f.version), "CurrentVersion": f.version,
                   "Path": format!("FOLDER{:08}M/1/{}.EXE", 1000 + i, f.component_id), "Name": f.name,
                   "Criticality": if target.is_some() { "Recommended" } else { "Ok" },
                   "UniqueIdentifier": uuid::Uuid::from_u128(spec.uuid.as_u128() + i as u128).to_string(),
                   "TargetIdentifier": f.component_id, "UpdateAction": if target.is_some() { "UPGRADE" } else { "EQUAL" },
                   "SourceName": source_name(f), "PrerequisiteInfo": "", "ImpactAssessment": "",
                   "RebootRequired": target.is_some(), "ComplianceStatus": if target.is_some() { "CRITICAL" } else { "OK" },
                   "ComplianceDependencies": []})
        })
        .collect();
    json!({"Id": device_id(spec) * 10, "DeviceId": device_id(spec), "ServiceTag": spec.service_tag,
           "DeviceModel": spec.model, "DeviceTypeName": "SERVER", "DeviceName": spec.hostname,
           "FirmwareStatus": if bad.is_empty() { "Compliant" } else { "Non-Compliant" },
           "ComplianceStatus": if bad.is_empty() { "OK" } else { "CRITICAL" }, "DeviceTypeId": 1000, "RebootRequired": !bad.is_empty(),
           "ComponentComplianceReports": components})
}
