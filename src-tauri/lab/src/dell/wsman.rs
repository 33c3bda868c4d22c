//! A Dell iDRAC7/8's WS-Management service: Enumerate + Pull with an EnumerationContext for
//! `DCIM_SystemView`, `DCIM_SoftwareIdentity`, `DCIM_iDRACCardView` and `DCIM_LifecycleJob`,
//! Basic auth, and SOAP faults for unknown classes and contexts; and the methods of a firmware
//! update: `DCIM_SoftwareInstallationService.InstallFromURI` (the iDRAC downloads the URI for
//! real, over HTTP(S), while the job is `Downloading`) and `CreateRebootJob`,
//! `DCIM_JobService.SetupJobQueue` and `DeleteJobQueue`; and power control:
//! `DCIM_CSPowerManagementService.RequestPowerStateChange`, its effect readable from
//! `DCIM_ComputerSystem.EnabledState`.
//!
//! Method answers are dracclient's captures of `CreateTargetedConfigJob` (a job reference
//! and 4096, or Message/MessageID and 2) and `DeleteJobQueue` (0), renamed to the method;
//! `RequestPowerStateChange` answers as dracclient's captures of its sibling
//! `DCIM_ComputerSystem.RequestStateChange` (0 alone, or SYS021 and 2).
//!
//! Responses are python-dracclient's captures with their Items replaced: the envelope,
//! namespaces and actions are the real iDRAC's. `DCIM_SystemView` and `DCIM_LifecycleJob`
//! instances carry every property of the captured ones (plus the others Dell's profiles
//! define); `DCIM_SoftwareIdentity` and `DCIM_iDRACCardView` follow Dell's DCIM profiles
//! (the wheels hold no capture of them).
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use eio_connectors::wsman::xml::{self, escape};
use eio_connectors::wsman::{DCIM_URI, NS_ENUMERATION};

use std::sync::Arc;

use super::model::{ServerSpec, SimJob};
use super::{BmcState, Refused};

/// An enumeration being pulled.
#[derive(Debug, Clone)]
pub(crate) struct Enumeration {
    class: String,
    items: Vec<String>,
    next: usize,
}

fn soap(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/soap+xml;charset=UTF-8")], body).into_response()
}

fn fault(code: &str, reason: &str) -> Response {
    soap(
        StatusCode::BAD_REQUEST,
        format!(
            "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
             xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
             xmlns:wsen=\"{NS_ENUMERATION}\" xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">\
             <s:Header><wsa:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</wsa:Action></s:Header>\
             <s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>{code}</s:Value></s:Subcode></s:Code>\
             <s:Reason><s:Text xml:lang=\"en\">{}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>",
            escape(reason)
        ),
    )
}

pub(crate) async fn handle(bmc: &Arc<BmcState>, headers: &axum::http::HeaderMap, body: &[u8]) -> Response {
    let spec = bmc.spec();
    if !spec.has_wsman() {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    if !bmc.basic_authorized(headers) {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"WSMAN\"")]).into_response();
    }
    let Ok(doc) = xml::parse(&String::from_utf8_lossy(body)) else {
        return fault("wsman:InvalidParameter", "The request is not well-formed XML.");
    };
    let resource = doc.find("ResourceURI").map(|r| r.text.trim().to_owned()).unwrap_or_default();
    let Some(class) = resource.strip_prefix(DCIM_URI).map(str::to_owned) else {
        return fault("wsa:DestinationUnreachable", "The resource URI is not supported.");
    };
    let max = |el: Option<&xml::Element>| -> usize {
        el.and_then(|e| e.find("MaxElements")).and_then(|m| m.text.trim().parse().ok()).unwrap_or(1).max(1)
    };
    let Some(body) = doc.find("Body") else { return fault("wsman:InvalidParameter", "No SOAP Body.") };
    if let Some(enumerate) = body.child("Enumerate") {
        let Some(items) = instances(bmc, &spec, &class) else {
            return fault("wsa:DestinationUnreachable", &format!("The class {class} is not supported."));
        };
        let n = max(Some(enumerate));
        let page: Vec<String> = items.iter().take(n).cloned().collect();
        if items.len() <= n {
            return soap(StatusCode::OK, enumerate_response(bmc, &class, &page, None));
        }
        let context = uuid::Uuid::new_v4().to_string();
        bmc.enumerations().insert(context.clone(), Enumeration { class: class.clone(), items, next: n });
        return soap(StatusCode::OK, enumerate_response(bmc, &class, &page, Some(&context)));
    }
    if let Some(pull) = body.child("Pull") {
        let context = pull.text_of("EnumerationContext").unwrap_or_default().to_owned();
        let n = max(Some(pull));
        let mut enumerations = bmc.enumerations();
        let Some(state) = enumerations.get_mut(&context) else {
            return fault("wsen:InvalidEnumerationContext", "The enumeration context is not valid.");
        };
        if state.class != class {
            return fault("wsen:InvalidEnumerationContext", "The enumeration context belongs to another class.");
        }
        let page: Vec<String> = state.items.iter().skip(state.next).take(n).cloned().collect();
        state.next += page.len();
        let done = state.next >= state.items.len();
        if done {
            enumerations.remove(&context);
        }
        drop(enumerations);
        return soap(StatusCode::OK, pull_response(bmc, &class, &page, (!done).then_some(context.as_str())));
    }
    let action = doc.find("Action").map(|a| a.text.trim().to_owned()).unwrap_or_default();
    let Some(method) = action.strip_prefix(&format!("{resource}/")).map(str::to_owned) else {
        return fault("wsa:ActionNotSupported", "The action is not supported.");
    };
    let input = body.child(&format!("{method}_INPUT"));
    let param = |name: &str| input.and_then(|i| i.text_of(name)).unwrap_or_default().to_owned();
    let answer = match (class.as_str(), method.as_str()) {
        ("DCIM_SoftwareInstallationService", "InstallFromURI") => {
            let target = input
                .and_then(|i| i.child("Target"))
                .and_then(|t| t.find("SelectorSet"))
                .and_then(|s| s.children_named("Selector").find(|s| s.attribute("Name") == Some("InstanceID")))
                .map(|s| s.text.trim().to_owned())
                .unwrap_or_default();
            let uri = param("URI");
            if uri.is_empty() || target.is_empty() {
                Err((
                    StatusCode::OK,
                    "SUP003",
                    "Either URI or Target or both are missing OR exceeding in length".into(),
                ))
            } else {
                bmc.install_from_uri(&target, &uri).map(|job| {
                    tokio::spawn(download(bmc.clone(), job.id.clone(), uri));
                    Some(job.id)
                })
            }
        }
        ("DCIM_SoftwareInstallationService", "CreateRebootJob") => {
            bmc.create_reboot_job(&param("RebootJobType")).map(|job| Some(job.id))
        }
        ("DCIM_JobService", "SetupJobQueue") => {
            let ids: Vec<String> = input
                .map(|i| i.children_named("JobArray").map(|j| j.text.trim().to_owned()).collect())
                .unwrap_or_default();
            bmc.setup_job_queue(&ids, &param("StartTimeInterval")).map(|_| None)
        }
        ("DCIM_JobService", "DeleteJobQueue") => bmc.delete_jobs(&param("JobID")).map(|_| None),
        ("DCIM_CSPowerManagementService", "RequestPowerStateChange") => {
            bmc.request_power_state_change(&param("PowerState")).map(|_| None)
        }
        _ => return fault("wsa:ActionNotSupported", &format!("{class} has no method {method}.")),
    };
    soap(StatusCode::OK, method_response(bmc, &class, &method, answer))
}

/// The iDRAC fetches the package (any certificate accepted, as iDRACs do by default).
async fn download(bmc: Arc<BmcState>, job: String, uri: String) {
    let fetched = async {
        let http = eio_connectors::http::HttpClient::new(eio_connectors::http::HttpConfig {
            tls: eio_connectors::http::TlsPolicy::Insecure,
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
        let resp = http.send(http.inner().get(&uri)).await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status().as_u16()));
        }
        Ok(http.body(resp).await.map_err(|e| e.to_string())?.to_vec())
    }
    .await
    .map_err(|why: String| format!("Unable to transfer the update package from the URI ({why})."));
    bmc.download_finished(&job, fetched);
}

/// Replace the text of the first `<tag>…</tag>`.
fn set_text(out: &mut String, tag: &str, value: &str) {
    let (o, c) = (format!("<{tag}>"), format!("</{tag}>"));
    if let (Some(a), Some(b)) = (out.find(&o), out.find(&c)) {
        if a < b {
            out.replace_range(a + o.len()..b, value);
        }
    }
}

/// New RelatesTo and MessageID values.
fn fresh_ids(out: &mut String) {
    for tag in ["wsa:RelatesTo", "wsa:MessageID"] {
        set_text(out, tag, &format!("uuid:{}", uuid::Uuid::new_v4()));
    }
}

/// A method's answer from the captures: a job reference (4096), done (0) or refused (2).
fn method_response(bmc: &BmcState, class: &str, method: &str, answer: Result<Option<String>, Refused>) -> String {
    let s = &bmc.samples;
    if method == "RequestPowerStateChange" {
        let mut out = match &answer {
            Ok(_) => s.wsman_state_change_ok.clone(),
            Err(_) => s.wsman_state_change_error.clone(),
        }
        .replace("DCIM_ComputerSystem", class)
        .replace("RequestStateChange", method);
        if let Err((_, id, message)) = &answer {
            set_text(&mut out, "n1:Message", &escape(message));
            set_text(&mut out, "n1:MessageArguments", "PowerState");
            set_text(&mut out, "n1:MessageID", id);
        }
        fresh_ids(&mut out);
        return out;
    }
    let mut out = match &answer {
        Ok(Some(job)) => {
            let mut out = s
                .wsman_invoke_job
                .replace("DCIM_BIOSService", class)
                .replace("CreateTargetedConfigJob", method)
                .replace("JID_442507917525", &escape(job));
            if method == "InstallFromURI" {
                out = out.replace("/DCIM_LifecycleJob<", "/DCIM_SoftUpdateConcreteJob<");
            }
            if method == "CreateRebootJob" {
                out = out.replace("<n1:Job>", "<n1:RebootJobID>").replace("</n1:Job>", "</n1:RebootJobID>");
            }
            out
        }
        Ok(None) => {
            let mut out = s.wsman_invoke_ok.replace("DCIM_JobService", class).replace("DeleteJobQueue", method);
            let (msg, id) = match method {
                "DeleteJobQueue" => ("The specified job was deleted", "SUP020"),
                _ => ("Successfully scheduled the jobs.", "JCP001"),
            };
            set_text(&mut out, "n1:Message", msg);
            set_text(&mut out, "n1:MessageID", id);
            out
        }
        Err((_, id, message)) => {
            let mut out =
                s.wsman_invoke_error.replace("DCIM_BIOSService", class).replace("CreateTargetedConfigJob", method);
            set_text(&mut out, "n1:Message", &escape(message));
            set_text(&mut out, "n1:MessageID", id);
            out
        }
    };
    fresh_ids(&mut out);
    out
}

/// Put `items` into a captured envelope: replace the Items' content, the n1 namespace, the
/// context and the message ids.
fn fill(template: &str, class: &str, items_tag: &str, items: &[String], context: Option<&str>) -> String {
    let mut out = template.to_owned();
    // Instances use xsi:nil; not every capture declares the prefix.
    if !out.contains("xmlns:xsi=") {
        out = out.replacen("<s:Envelope ", "<s:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ", 1);
    }
    // The resource namespace (n1).
    if let Some(start) = out.find("xmlns:n1=\"") {
        let from = start + "xmlns:n1=\"".len();
        if let Some(len) = out[from..].find('"') {
            out.replace_range(from..from + len, &format!("{DCIM_URI}{class}"));
        }
    }
    let open = format!("<{items_tag}>");
    let close = format!("</{items_tag}>");
    if let (Some(a), Some(b)) = (out.find(&open), out.find(&close)) {
        out.replace_range(a + open.len()..b, &items.concat());
    }
    match context {
        Some(ctx) => {
            out = out.replace(">enum-context-uuid<", &format!(">{}<", escape(ctx)));
        }
        None => {
            if let (Some(a), Some(b)) = (out.find("<wsen:EnumerationContext>"), out.find("</wsen:EnumerationContext>"))
            {
                out.replace_range(a..b + "</wsen:EnumerationContext>".len(), "");
            }
        }
    }
    fresh_ids(&mut out);
    out
}

fn enumerate_response(bmc: &BmcState, class: &str, items: &[String], context: Option<&str>) -> String {
    match context {
        // dracclient's wsman-enum_context-1: EnumerationContext + wsman:Items, no EndOfSequence.
        Some(ctx) => fill(&bmc.samples.wsman_enumerate_context, class, "wsman:Items", items, Some(ctx)),
        // dracclient's system_view-enum-ok: wsman:Items + EndOfSequence.
        None => fill(&bmc.samples.wsman_system_view, class, "wsman:Items", items, None),
    }
}

fn pull_response(bmc: &BmcState, class: &str, items: &[String], context: Option<&str>) -> String {
    match context {
        Some(ctx) => fill(&bmc.samples.wsman_pull_context, class, "wsen:Items", items, Some(ctx)),
        None => fill(&bmc.samples.wsman_pull_end, class, "wsen:Items", items, None),
    }
}

fn instance(class: &str, props: &[(&str, Option<String>)]) -> String {
    let mut s = format!("<n1:{class}>");
    for (name, value) in props {
        match value {
            Some(v) => s.push_str(&format!("<n1:{name}>{}</n1:{name}>", escape(v))),
            None => s.push_str(&format!("<n1:{name} xsi:nil=\"true\"/>")),
        }
    }
    s.push_str(&format!("</n1:{class}>"));
    s
}

fn some(v: impl Into<String>) -> Option<String> {
    Some(v.into())
}

/// The instances of a class on this server, as XML elements (`n1:` prefixed).
pub(crate) fn instances(bmc: &BmcState, spec: &ServerSpec, class: &str) -> Option<Vec<String>> {
    Some(match class {
        "DCIM_SystemView" => vec![system_view(spec)],
        "DCIM_ComputerSystem" => vec![computer_system(spec)],
        "DCIM_iDRACCardView" => vec![idrac_card_view(spec)],
        "DCIM_SoftwareIdentity" => software_identities(spec),
        // Each enumeration is a look: WSMan jobs move on as Redfish ones do when read.
        "DCIM_LifecycleJob" => bmc
            .jobs()
            .into_iter()
            .map(|j| if j.wsman { bmc.advance_job(&j.id).unwrap_or(j) } else { j })
            .map(|j| lifecycle_job(&j))
            .collect(),
        _ => return None,
    })
}

fn system_view(spec: &ServerSpec) -> String {
    let power = if spec.power_state == "On" { "2" } else { "8" };
    let status = match spec.health.as_str() {
        "OK" => "1",
        "Warning" => "2",
        _ => "3",
    };
    instance(
        "DCIM_SystemView",
        &[
            ("AssetTag", None),
            ("BIOSReleaseDate", some("03/15/2024")),
            ("BIOSVersionString", some(&spec.bios_version)),
            ("ChassisServiceTag", some(&spec.service_tag)),
            ("ExpressServiceCode", some(format!("{}", 18_197_565_051u64 + spec.index as u64))),
            ("FQDD", some("System.Embedded.1")),
            ("HostName", some(&spec.hostname)),
            ("InstanceID", some("System.Embedded.1")),
            ("LastSystemInventoryTime", some("20240601100000.000000+000")),
            ("LifecycleControllerVersion", some(&spec.lifecycle_controller_version)),
            ("Manufacturer", some("Dell Inc.")),
            ("Model", some(&spec.model)),
            ("PopulatedCPUSockets", some(spec.cpu_count.to_string())),
            ("PowerState", some(power)),
            ("PrimaryStatus", some(status)),
            ("ServiceTag", some(&spec.service_tag)),
            ("SysMemTotalSize", some((spec.memory_gib as u64 * 1024).to_string())),
            ("SystemGeneration", some(spec.manager_model())),
            ("UUID", some(spec.uuid.to_string())),
        ],
    )
}

/// The host system as python-dracclient's capture has it: EnabledState 2 on, 3 off.
fn computer_system(spec: &ServerSpec) -> String {
    let enabled = if spec.power_state == "On" { "2" } else { "3" };
    instance(
        "DCIM_ComputerSystem",
        &[
            ("CreationClassName", some("DCIM_ComputerSystem")),
            ("EnabledState", some(enabled)),
            ("Name", some("srv:system")),
        ],
    )
}

fn idrac_card_view(spec: &ServerSpec) -> String {
    instance(
        "DCIM_iDRACCardView",
        &[
            ("FQDD", some("iDRAC.Embedded.1-1")),
            ("FirmwareVersion", some(&spec.idrac_firmware)),
            ("GUID", some(spec.uuid.simple().to_string())),
            ("IPMIVersion", some("2.0")),
            ("InstanceID", some("iDRAC.Embedded.1-1#IDRACinfo")),
            ("LANEnabledState", some("1")),
            ("Model", some("Enterprise")),
            ("PermanentMACAddress", some(&spec.idrac_mac)),
            ("ProductDescription", some("This system component provides a complete set of remote management functions for Dell PowerEdge servers")),
            ("SOLEnabledState", some("1")),
            ("URLString", some(format!("https://{}:443", spec.idrac_ip))),
        ],
    )
}

fn software_identities(spec: &ServerSpec) -> Vec<String> {
    let mut out = Vec::new();
    for f in &spec.firmware {
        let mut versions = vec![("INSTALLED", "Installed", f.version.clone())];
        if let Some(prev) = &f.previous_version {
            versions.push(("PREVIOUS", "Available", prev.clone()));
        }
        for (state, status, version) in versions {
            let parts: Vec<&str> = version.split('.').collect();
            out.push(instance(
                "DCIM_SoftwareIdentity",
                &[
                    ("ComponentID", some(&f.component_id)),
                    ("ComponentType", some(if f.fqdd.starts_with("BIOS") { "BIOS" } else { "FRMW" })),
                    ("DeviceID", None),
                    ("ElementName", some(&f.name)),
                    ("FQDD", some(&f.fqdd)),
                    ("IdentityInfoType", some("OrgID:ComponentType:ComponentID")),
                    ("IdentityInfoValue", some(format!("DCIM:firmware:{}", f.component_id))),
                    ("InstallationDate", some("2024-03-15T10:00:00Z")),
                    ("InstanceID", some(format!("DCIM:{state}#{}__{}", f.component_id, f.fqdd))),
                    ("IsEntity", some("true")),
                    ("MajorVersion", some(*parts.first().unwrap_or(&"0"))),
                    ("MinorVersion", some(*parts.get(1).unwrap_or(&"0"))),
                    ("RevisionNumber", some(*parts.get(2).unwrap_or(&"0"))),
                    ("RevisionString", None),
                    ("Status", some(status)),
                    ("SubDeviceID", None),
                    ("SubVendorID", None),
                    ("Updateable", some(f.updateable.to_string())),
                    ("VendorID", None),
                    ("VersionString", some(&version)),
                    ("impactsTPMmeasurements", some("false")),
                ],
            ));
        }
    }
    out
}

fn lifecycle_job(job: &SimJob) -> String {
    instance(
        "DCIM_LifecycleJob",
        &[
            ("InstanceID", some(&job.id)),
            ("JobStartTime", some("TIME_NOW")),
            ("JobStatus", some(&job.state)),
            ("JobUntilTime", some("TIME_NA")),
            ("Message", some(&job.message)),
            ("MessageID", some(&job.message_id)),
            ("Name", some(&job.name)),
            ("PercentComplete", some(job.percent.to_string())),
        ],
    )
}
