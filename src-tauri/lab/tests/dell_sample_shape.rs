//! The Dell simulator must keep the shape of the third-party captures it is built from (same
//! keys, same `@odata.type`s, same WSMan envelopes), so the lab can't drift into a dialect of
//! its own. Fails, naming the fetch script, when the samples are missing.
use std::collections::BTreeSet;

use eio_connectors::http::{HttpClient, HttpConfig, TlsPolicy};
use eio_connectors::idrac::Generation;
use eio_connectors::wsman::xml::{self, Element};
use eio_lab::dell::{samples, DellLab};
use serde_json::Value;

fn sample(rel: &str) -> String {
    let path = samples::default_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!("sample {rel} is missing at {}: run scripts/peers/fetch-dell-samples", path.display())
    })
}

/// Every key of `sample` (recursively, through objects) is present in `ours`.
fn missing_keys(sample: &Value, ours: &Value, at: &str, out: &mut Vec<String>) {
    if let (Some(s), Some(o)) = (sample.as_object(), ours.as_object()) {
        for (k, v) in s {
            match o.get(k) {
                None => out.push(format!("{at}/{k}")),
                Some(ov) if k != "Members" => missing_keys(v, ov, &format!("{at}/{k}"), out),
                Some(_) => {}
            }
        }
    }
}

fn assert_same_shape(name: &str, sample: &Value, ours: &Value) {
    let mut missing = Vec::new();
    missing_keys(sample, ours, "", &mut missing);
    assert!(missing.is_empty(), "{name}: the simulator lacks the sample's keys {missing:?}");
    assert_eq!(sample.get("@odata.type"), ours.get("@odata.type"), "{name}: @odata.type");
}

async fn get(http: &HttpClient, url: &str, basic: bool) -> (u16, Value) {
    let mut req = http.inner().get(url);
    if basic {
        req = req.basic_auth("root", Some("calvin"));
    }
    let resp = http.send(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = http.body(resp).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn redfish_resources_keep_the_captured_shapes() {
    let lab = DellLab::builder().bmcs(1).generation(Generation::Idrac9).build().await.unwrap();
    let base = lab.bmc(0).url.as_str().trim_end_matches('/').to_owned();
    let http =
        HttpClient::new(HttpConfig { tls: TlsPolicy::Pinned(lab.bmc(0).thumbprint.unwrap()), ..Default::default() })
            .unwrap();
    let spec = lab.bmc(0).spec();
    let bios = format!("Installed-159-{}__BIOS.Setup.1-1", spec.bios_version);
    let pairs = [
        ("sushy-oem-idrac/root.json", "/redfish/v1".to_owned()),
        ("sushy-oem-idrac/system.json", "/redfish/v1/Systems/System.Embedded.1".into()),
        ("sushy-oem-idrac/manager.json", "/redfish/v1/Managers/iDRAC.Embedded.1".into()),
        ("sushy-oem-idrac/manager_collection.json", "/redfish/v1/Managers".into()),
        ("sushy/system_collection.json", "/redfish/v1/Systems".into()),
        ("sushy/session_service.json", "/redfish/v1/SessionService".into()),
        ("sushy/updateservice.json", "/redfish/v1/UpdateService".into()),
        ("sushy/firmwareinventory_collection.json", "/redfish/v1/UpdateService/FirmwareInventory".into()),
        ("sushy/softwareinventory.json", format!("/redfish/v1/UpdateService/FirmwareInventory/{bios}")),
        (
            "sushy/manager_ethernet_interfaces_collection.json",
            "/redfish/v1/Managers/iDRAC.Embedded.1/EthernetInterfaces".into(),
        ),
        (
            "sushy/manager_ethernet_interfaces.json",
            "/redfish/v1/Managers/iDRAC.Embedded.1/EthernetInterfaces/NIC.1".into(),
        ),
    ];
    for (file, path) in pairs {
        let s: Value = serde_json::from_str(&sample(file)).unwrap();
        let (status, ours) = get(&http, &format!("{base}{path}"), true).await;
        assert_eq!(status, 200, "{path}");
        assert_same_shape(file, &s, &ours);
    }
    // Dell facts filled in, not the capture's.
    let (_, system) = get(&http, &format!("{base}/redfish/v1/Systems/System.Embedded.1"), true).await;
    assert_eq!(system["SKU"], Value::from(spec.service_tag.clone()));
    assert_eq!(system["Oem"]["Dell"]["DellSystem"]["ChassisServiceTag"], Value::from(spec.service_tag.clone()));

    // Session: the body of sushy's session.json.
    let resp = http
        .send(
            http.inner()
                .post(format!("{base}/redfish/v1/SessionService/Sessions"))
                .json(&serde_json::json!({"UserName": "root", "Password": "calvin"})),
        )
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert!(resp.headers().get("x-auth-token").is_some() && resp.headers().get("location").is_some());
    let body: Value = serde_json::from_slice(&http.body(resp).await.unwrap()).unwrap();
    assert_same_shape("sushy/session.json", &serde_json::from_str(&sample("sushy/session.json")).unwrap(), &body);

    // A job: task.json, the expanded job collection, and RAC0679 for a second update.
    let update = format!("{base}/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate");
    let resp = http
        .send(
            http.inner()
                .post(&update)
                .basic_auth("root", Some("calvin"))
                .json(&serde_json::json!({"ImageURI": "http://repo/BIOS.exe"})),
        )
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/redfish/v1/TaskService/Tasks/JID_"), "{location}");
    let (_, task) = get(&http, &format!("{base}{location}"), true).await;
    assert_same_shape(
        "sushy-oem-idrac/task.json",
        &serde_json::from_str(&sample("sushy-oem-idrac/task.json")).unwrap(),
        &task,
    );
    let (_, jobs) =
        get(&http, &format!("{base}/redfish/v1/Managers/iDRAC.Embedded.1/Jobs?$expand=*($levels=1)"), true).await;
    let job_sample: Value = serde_json::from_str(&sample("sushy-oem-idrac/job_collection_expanded.json")).unwrap();
    assert_same_shape("job_collection_expanded.json", &job_sample, &jobs);
    assert_same_shape("job_collection_expanded.json#member", &job_sample["Members"][0], &jobs["Members"][0]);
    let resp = http
        .send(
            http.inner()
                .post(&update)
                .basic_auth("root", Some("calvin"))
                .json(&serde_json::json!({"ImageURI": "http://repo/NIC.exe"})),
        )
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let err: Value = serde_json::from_slice(&http.body(resp).await.unwrap()).unwrap();
    assert_eq!(err, serde_json::from_str::<Value>(&sample("sushy-oem-idrac/error_running_job.json")).unwrap());
}

fn instance_names(e: &Element) -> BTreeSet<String> {
    e.children.iter().map(|c| c.name.clone()).collect()
}

/// Element names along the envelope: Envelope/Header/*, Body/<response>/*.
fn envelope_shape(doc: &Element) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for part in &doc.children {
        for c in &part.children {
            out.insert(format!("{}/{}", part.name, c.name));
            if part.name == "Body" {
                for cc in &c.children {
                    out.insert(format!("Body/{}/{}", c.name, cc.name));
                }
            }
        }
    }
    out
}

async fn wsman(http: &HttpClient, url: &str, class: &str, action: &str, body: &str) -> Element {
    let envelope = eio_connectors::wsman::envelope(
        url,
        &format!("{}{class}", eio_connectors::wsman::DCIM_URI),
        action,
        "0d1f2e3c-0000-4000-8000-000000000001",
        body,
    );
    post(http, url, envelope).await
}

/// POST one envelope with Basic auth; the answer, parsed.
async fn post(http: &HttpClient, url: &str, envelope: String) -> Element {
    let resp = http.send(http.inner().post(url).basic_auth("root", Some("calvin")).body(envelope)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    xml::parse(&String::from_utf8_lossy(&http.body(resp).await.unwrap())).unwrap()
}

#[tokio::test]
async fn wsman_responses_keep_the_captured_shapes() {
    let lab = DellLab::builder().bmcs(1).generation(Generation::Idrac8).build().await.unwrap();
    let url = format!("{}wsman", lab.bmc(0).url);
    let http =
        HttpClient::new(HttpConfig { tls: TlsPolicy::Pinned(lab.bmc(0).thumbprint.unwrap()), ..Default::default() })
            .unwrap();
    use eio_connectors::wsman::{ACTION_ENUMERATE, ACTION_PULL};

    // A whole enumeration in one answer: the shape of dracclient's system_view-enum-ok.
    let captured = xml::parse(&sample("dracclient/system_view-enum-ok.xml")).unwrap();
    let ours = wsman(
        &http,
        &url,
        "DCIM_SystemView",
        ACTION_ENUMERATE,
        "<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>50</wsman:MaxElements></wsen:Enumerate>",
    )
    .await;
    assert_eq!(envelope_shape(&captured), envelope_shape(&ours));
    let (c, o) = (captured.find("DCIM_SystemView").unwrap(), ours.find("DCIM_SystemView").unwrap());
    assert!(
        instance_names(c).is_subset(&instance_names(o)),
        "missing {:?}",
        instance_names(c).difference(&instance_names(o)).collect::<Vec<_>>()
    );

    // Paged: an EnumerateResponse with a context, Pulls, and a final Pull with EndOfSequence.
    let first = wsman(
        &http,
        &url,
        "DCIM_SoftwareIdentity",
        ACTION_ENUMERATE,
        "<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>4</wsman:MaxElements></wsen:Enumerate>",
    )
    .await;
    assert_eq!(
        envelope_shape(&first),
        envelope_shape(&xml::parse(&sample("dracclient/wsman-enum_context-1.xml")).unwrap())
    );
    let mut context = first.find("EnumerationContext").unwrap().text.clone();
    let mut last = None;
    for _ in 0..20 {
        let pull = format!("<wsen:Pull><wsen:EnumerationContext>{context}</wsen:EnumerationContext><wsen:MaxElements>4</wsen:MaxElements></wsen:Pull>");
        let page = wsman(&http, &url, "DCIM_SoftwareIdentity", ACTION_PULL, &pull).await;
        if page.find("EndOfSequence").is_some() {
            last = Some(page);
            break;
        }
        assert_eq!(
            envelope_shape(&page),
            envelope_shape(&xml::parse(&sample("dracclient/wsman-enum_context-2.xml")).unwrap())
        );
        context = page.find("EnumerationContext").unwrap().text.clone();
    }
    let last = last.expect("the enumeration ends");
    assert_eq!(
        envelope_shape(&last),
        envelope_shape(&xml::parse(&sample("dracclient/wsman-enum_context-4.xml")).unwrap())
    );

    // Jobs: the properties of dracclient's captured DCIM_LifecycleJob.
    let resp = http
        .send(
            http.inner()
                .post(format!("{}redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate", lab.bmc(0).url))
                .basic_auth("root", Some("calvin"))
                .json(&serde_json::json!({"ImageURI": "http://repo/x.exe"})),
        )
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let jobs = wsman(
        &http,
        &url,
        "DCIM_LifecycleJob",
        ACTION_ENUMERATE,
        "<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>50</wsman:MaxElements></wsen:Enumerate>",
    )
    .await;
    let captured = xml::parse(&sample("dracclient/lifecycle_job-enum-ok.xml")).unwrap();
    assert_eq!(
        instance_names(captured.find("DCIM_LifecycleJob").unwrap()),
        instance_names(jobs.find("DCIM_LifecycleJob").unwrap())
    );
}

#[tokio::test]
async fn missing_samples_fail_with_the_script_to_run() {
    let empty = std::env::temp_dir().join("eio-no-samples-here");
    let err = DellLab::builder().samples_dir(&empty).build().await.err().expect("must fail");
    assert!(err.to_string().contains("scripts/peers/fetch-dell-samples"), "{err}");
}

/// A method's answer with the method's name taken out: `Body/X_OUTPUT/Job` → `Body/_OUTPUT/Job`
/// (a reboot job's reference is `RebootJobID` where a config job's is `Job`).
fn method_shape(doc: &Element, method: &str) -> BTreeSet<String> {
    envelope_shape(doc)
        .into_iter()
        .map(|n| n.replace(&format!("{method}_OUTPUT"), "_OUTPUT").replace("RebootJobID", "Job"))
        .collect()
}

/// Descendant element names of `e`, depth first.
fn tree(e: &Element, out: &mut Vec<String>) {
    for c in &e.children {
        out.push(c.name.clone());
        tree(c, out);
    }
}

async fn invoke(http: &HttpClient, url: &str, class: &str, method: &str, input: &str) -> Element {
    let uri = format!("{}{class}", eio_connectors::wsman::DCIM_URI);
    let envelope = eio_connectors::wsman::envelope_with(
        url,
        &uri,
        &format!("{uri}/{method}"),
        "0d1f2e3c-0000-4000-8000-000000000002",
        "<wsman:Selector Name=\"Name\">x</wsman:Selector>",
        &format!("<p:{method}_INPUT xmlns:p=\"{uri}\">{input}</p:{method}_INPUT>"),
    );
    post(http, url, envelope).await
}

/// The firmware-update methods answer in the shapes of dracclient's method captures: a job
/// reference + 4096 (CreateTargetedConfigJob-ok), Message/MessageID + 2 (…-error), and
/// Message/MessageID + 0 (DeleteJobQueue-ok).
#[tokio::test]
async fn wsman_method_answers_keep_the_captured_shapes() {
    let lab = DellLab::builder().bmcs(1).generation(Generation::Idrac7).build().await.unwrap();
    let url = format!("{}wsman", lab.bmc(0).url);
    let http =
        HttpClient::new(HttpConfig { tls: TlsPolicy::Pinned(lab.bmc(0).thumbprint.unwrap()), ..Default::default() })
            .unwrap();
    let job_ok = xml::parse(&sample("dracclient/bios_service-invoke-create_targeted_config_job-ok.xml")).unwrap();
    let error = xml::parse(&sample("dracclient/bios_service-invoke-create_targeted_config_job-error.xml")).unwrap();
    let done = xml::parse(&sample("dracclient/job_service-delete-job-id-ok.xml")).unwrap();
    let captured_job = method_shape(&job_ok, "CreateTargetedConfigJob");
    let mut job_tree = Vec::new();
    tree(job_ok.find("Job").unwrap(), &mut job_tree);

    let target = |id: &str| {
        format!(
            "<p:URI>http://127.0.0.1:9/BIOS.EXE</p:URI><p:Target><a:ReferenceParameters xmlns:a=\"{}\">\
             <w:SelectorSet xmlns:w=\"{}\"><w:Selector Name=\"InstanceID\">{id}</w:Selector></w:SelectorSet>\
             </a:ReferenceParameters></p:Target>",
            eio_connectors::wsman::NS_ADDRESSING,
            eio_connectors::wsman::NS_WSMAN
        )
    };
    let bad =
        invoke(&http, &url, "DCIM_SoftwareInstallationService", "InstallFromURI", &target("DCIM:INSTALLED#0__X")).await;
    assert_eq!(method_shape(&bad, "InstallFromURI"), method_shape(&error, "CreateTargetedConfigJob"));
    assert_eq!(bad.find("Body").unwrap().find("MessageID").unwrap().text.trim(), "SUP024");
    assert_eq!(bad.find("ReturnValue").unwrap().text.trim(), "2");

    let bios = lab.bmc(0).spec().firmware.into_iter().find(|f| f.fqdd == "BIOS.Setup.1-1").unwrap();
    let id = format!("DCIM:INSTALLED#{}__{}", bios.component_id, bios.fqdd);
    let started = invoke(&http, &url, "DCIM_SoftwareInstallationService", "InstallFromURI", &target(&id)).await;
    assert_eq!(method_shape(&started, "InstallFromURI"), captured_job);
    assert_eq!(started.find("ReturnValue").unwrap().text.trim(), "4096");

    let reboot = invoke(
        &http,
        &url,
        "DCIM_SoftwareInstallationService",
        "CreateRebootJob",
        "<p:RebootJobType>3</p:RebootJobType>",
    )
    .await;
    assert_eq!(method_shape(&reboot, "CreateRebootJob"), captured_job);
    let mut ours = Vec::new();
    tree(reboot.find("RebootJobID").unwrap(), &mut ours);
    assert_eq!(ours, job_tree, "the reboot job's reference is an EndpointReference like the captured one");

    let cleared = invoke(&http, &url, "DCIM_JobService", "DeleteJobQueue", "<p:JobID>JID_CLEARALL</p:JobID>").await;
    assert_eq!(method_shape(&cleared, "DeleteJobQueue"), method_shape(&done, "DeleteJobQueue"));
    let unknown = invoke(
        &http,
        &url,
        "DCIM_JobService",
        "SetupJobQueue",
        "<p:JobArray>JID_000000000001</p:JobArray><p:StartTimeInterval>TIME_NOW</p:StartTimeInterval>",
    )
    .await;
    assert_eq!(method_shape(&unknown, "SetupJobQueue"), method_shape(&error, "CreateTargetedConfigJob"));
    assert_eq!(unknown.find("Body").unwrap().find("MessageID").unwrap().text.trim(), "SUP011");

    // Power control answers as dracclient's captures of DCIM_ComputerSystem.RequestStateChange.
    let changed = xml::parse(&sample("dracclient/computer_system-invoke-request_state_change-ok.xml")).unwrap();
    let refused = xml::parse(&sample("dracclient/computer_system-invoke-request_state_change-error.xml")).unwrap();
    let (class, method) = ("DCIM_CSPowerManagementService", "RequestPowerStateChange");
    let cycled = invoke(&http, &url, class, method, "<p:PowerState>9</p:PowerState>").await;
    assert_eq!(method_shape(&cycled, "RequestPowerStateChange"), method_shape(&changed, "RequestStateChange"));
    assert_eq!(cycled.find("ReturnValue").unwrap().text.trim(), "0");
    let bad = invoke(&http, &url, class, method, "<p:PowerState>3</p:PowerState>").await;
    assert_eq!(method_shape(&bad, "RequestPowerStateChange"), method_shape(&refused, "RequestStateChange"));
    assert_eq!(bad.find("Body").unwrap().find("MessageID").unwrap().text.trim(), "SYS021");
    assert_eq!(bad.find("ReturnValue").unwrap().text.trim(), "2");
    assert_eq!(lab.bmc(0).action_count("RequestPowerStateChange"), 1);
    // The state it leaves is read from DCIM_ComputerSystem, with the captured properties.
    let systems = wsman(
        &http,
        &url,
        "DCIM_ComputerSystem",
        eio_connectors::wsman::ACTION_ENUMERATE,
        "<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>50</wsman:MaxElements></wsen:Enumerate>",
    )
    .await;
    let captured = xml::parse(&sample("dracclient/computer_system-enum-ok.xml")).unwrap();
    assert_eq!(
        instance_names(captured.find("DCIM_ComputerSystem").unwrap()),
        instance_names(systems.find("DCIM_ComputerSystem").unwrap())
    );
    assert_eq!(systems.find("EnabledState").unwrap().text.trim(), "2");
}
