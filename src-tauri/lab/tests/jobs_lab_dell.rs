//! The lab iDRAC's job actions on the wire: HttpPushUri wants the FirmwareInventory's ETag,
//! a staged image is listed as `Available-…` until SimpleUpdate takes it, the job service
//! keeps sushy-oem-idrac's shape, resets and deletions refuse what an iDRAC refuses, WSMan
//! shows the same jobs, and every action lands in the BMC's ledger.
use eio_connectors::http::HttpClient;
use eio_connectors::idrac::Generation;
use eio_lab::dell::{lab_image, DellLab};
use serde_json::{json, Value};

async fn send(http: &HttpClient, req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = http.send(req.basic_auth("root", Some("calvin"))).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = http.body(resp).await.unwrap();
    (status, headers, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn message_id(v: &Value) -> String {
    v.pointer("/error/@Message.ExtendedInfo/0/MessageId").and_then(Value::as_str).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn uploads_resets_and_deletions_behave_like_an_idrac() {
    let lab = DellLab::builder().bmcs(1).generation(Generation::Idrac9).build().await.unwrap();
    let base = lab.bmc(0).url.as_str().trim_end_matches('/').to_owned();
    let http = HttpClient::new(lab.http_config(0)).unwrap();
    let firmware = format!("{base}/redfish/v1/UpdateService/FirmwareInventory");
    let form = || {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(lab_image("BIOS.Setup.1-1", "2.50.0", 100)).file_name("BIOS_2.50.0.EXE"),
        )
    };

    // Without the ETag the upload is refused; with it, the image is staged.
    let (status, _, body) = send(&http, http.inner().post(&firmware).multipart(form())).await;
    assert_eq!(status, 412, "{body}");
    let (_, headers, _) = send(&http, http.inner().get(&firmware)).await;
    let etag = headers.get("etag").expect("an ETag").to_str().unwrap().to_owned();
    let (status, headers, _) =
        send(&http, http.inner().post(&firmware).header("If-Match", &etag).multipart(form())).await;
    assert_eq!(status, 201);
    let location = headers.get("location").unwrap().to_str().unwrap().to_owned();
    assert_eq!(location, "/redfish/v1/UpdateService/FirmwareInventory/Available-159-2.50.0__BIOS.Setup.1-1");
    let (_, _, list) = send(&http, http.inner().get(&firmware)).await;
    assert!(list["Members"].as_array().unwrap().iter().any(|m| m["@odata.id"] == json!(location)), "{list}");
    let (status, _, item) = send(&http, http.inner().get(format!("{base}{location}"))).await;
    assert_eq!((status, item["Version"].as_str()), (200, Some("2.50.0")));

    // SimpleUpdate of the staged image starts the job; the image leaves the staging area.
    let (status, headers, _) = send(
        &http,
        http.inner()
            .post(format!("{base}/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate"))
            .json(&json!({"ImageURI": location, "@Redfish.OperationApplyTime": "OnReset"})),
    )
    .await;
    assert_eq!(status, 202);
    let task = headers.get("location").unwrap().to_str().unwrap().to_owned();
    let jid = task.rsplit('/').next().unwrap().to_owned();
    let (_, _, list) = send(&http, http.inner().get(&firmware)).await;
    assert!(!list.to_string().contains("Available-159"), "{list}");

    // WSMan is not on an iDRAC9, but the Redfish queue and the task agree.
    let (_, _, job) =
        send(&http, http.inner().get(format!("{base}/redfish/v1/Managers/iDRAC.Embedded.1/Jobs/{jid}"))).await;
    assert_eq!(job["JobState"], "New");
    let (_, _, t) = send(&http, http.inner().get(format!("{base}{task}"))).await;
    assert_eq!(t["Oem"]["Dell"]["JobState"], "Downloading");

    // Resets: unknown types and powering on a running server are refused.
    let reset = format!("{base}/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset");
    let (status, _, body) = send(&http, http.inner().post(&reset).json(&json!({"ResetType": "Reboot"}))).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = send(&http, http.inner().post(&reset).json(&json!({"ResetType": "On"}))).await;
    assert_eq!((status, message_id(&body).as_str()), (409, "IDRAC.2.8.RAC0509"));
    let (status, _, _) = send(&http, http.inner().post(&reset).json(&json!({"ResetType": "ForceOff"}))).await;
    assert_eq!(status, 204);
    assert_eq!(lab.bmc(0).spec().power_state, "Off");
    let (status, _, _) = send(&http, http.inner().post(&reset).json(&json!({"ResetType": "GracefulRestart"}))).await;
    assert_eq!(status, 409, "a server that is off cannot be restarted");
    let (status, _, _) = send(&http, http.inner().post(&reset).json(&json!({"ResetType": "On"}))).await;
    assert_eq!(status, 204);

    // The job service keeps the captured shape; deleting an unknown job is refused.
    let service = "/redfish/v1/Dell/Managers/iDRAC.Embedded.1/DellJobService";
    let (status, _, v) = send(&http, http.inner().get(format!("{base}{service}"))).await;
    assert_eq!(status, 200);
    let target = v["Actions"]["#DellJobService.DeleteJobQueue"]["target"].as_str().unwrap().to_owned();
    let (status, _, body) =
        send(&http, http.inner().post(format!("{base}{target}")).json(&json!({"JobID": "JID_1"}))).await;
    assert_eq!((status, message_id(&body).as_str()), (400, "IDRAC.2.8.SUP011"));
    let (status, _, _) = send(&http, http.inner().post(format!("{base}{target}")).json(&json!({"JobID": jid}))).await;
    assert_eq!(status, 200);
    assert!(lab.bmc(0).jobs().is_empty());

    let ledger: Vec<(String, Option<String>)> =
        lab.bmc(0).actions().into_iter().map(|a| (a.action, a.refused)).collect();
    let expected: Vec<(String, Option<String>)> = [
        ("HttpPushUpload", None),
        ("SimpleUpdate", None),
        ("ComputerSystem.Reset", Some("Base.1.8.ActionParameterValueNotInList")),
        ("ComputerSystem.Reset", Some("RAC0509")),
        ("ComputerSystem.Reset", None),
        ("ComputerSystem.Reset", Some("RAC0508")),
        ("ComputerSystem.Reset", None),
        ("DeleteJobQueue", Some("SUP011")),
        ("DeleteJobQueue", None),
    ]
    .into_iter()
    .map(|(a, r)| (a.to_owned(), r.map(str::to_owned)))
    .collect();
    assert_eq!(ledger, expected);
}

#[tokio::test]
async fn wsman_lists_the_same_update_jobs() {
    let lab = DellLab::builder().bmcs(1).generation(Generation::Idrac8).build().await.unwrap();
    let base = lab.bmc(0).url.as_str().trim_end_matches('/').to_owned();
    let http = HttpClient::new(lab.http_config(0)).unwrap();
    let (status, headers, _) = send(
        &http,
        http.inner()
            .post(format!("{base}/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate"))
            .json(&json!({"ImageURI": "http://repo/NIC_22.0.0.EXE"})),
    )
    .await;
    assert_eq!(status, 202);
    let jid = headers.get("location").unwrap().to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let client = eio_connectors::wsman::WsmanClient::new(&lab.bmc(0).url, lab.credentials(), http.clone());
    let jobs = client.enumerate("DCIM_LifecycleJob").await.unwrap();
    let job = eio_connectors::wsman::dcim::LifecycleJob::from_element(&jobs[0]);
    assert_eq!(job.id, jid);
    assert_eq!(job.status.as_deref(), Some("New"));
    assert_eq!(lab.bmc(0).action_count("SimpleUpdate"), 1);
}
