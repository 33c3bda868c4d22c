//! The simulated Dell job queue: SimpleUpdate and multipart push answer 202 with a task
//! Location, jobs walk Dell's states, RAC0679 refuses a second job while one runs, and the
//! connector's Dell extension reads the queue.
use eio_connectors::http::HttpClient;
use eio_connectors::idrac::Generation;
use eio_connectors::redfish::{dell, AuthPreference, RedfishClient};
use eio_lab::dell::DellLab;
use serde_json::{json, Value};

async fn post_update(http: &HttpClient, base: &str, image: &str) -> (u16, Option<String>) {
    let resp = http
        .send(
            http.inner()
                .post(format!("{base}redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate"))
                .basic_auth("root", Some("calvin"))
                .json(&json!({"ImageURI": image})),
        )
        .await
        .unwrap();
    (resp.status().as_u16(), resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned()))
}

async fn task_state(http: &HttpClient, base: &str, location: &str) -> String {
    let resp = http
        .send(
            http.inner().get(format!("{}{}", base.trim_end_matches('/'), location)).basic_auth("root", Some("calvin")),
        )
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&http.body(resp).await.unwrap()).unwrap();
    v["Oem"]["Dell"]["JobState"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn jobs_walk_dells_states_and_refuse_a_second_one_while_running() {
    let lab = DellLab::builder().bmcs(1).generation(Generation::Idrac9).build().await.unwrap();
    let base = lab.bmc(0).url.to_string();
    let http = HttpClient::new(lab.http_config(0)).unwrap();

    let (status, location) = post_update(&http, &base, "http://repo/BIOS_reboot.exe").await;
    assert_eq!(status, 202);
    let location = location.unwrap();
    let (status, _) = post_update(&http, &base, "http://repo/NIC.exe").await;
    assert_eq!(status, 400, "RAC0679: a job is already running");

    let mut states = Vec::new();
    loop {
        let s = task_state(&http, &base, &location).await;
        let done = matches!(s.as_str(), "Completed" | "Failed" | "CompletedWithErrors");
        states.push(s);
        if done || states.len() > 10 {
            break;
        }
    }
    assert_eq!(states, ["New", "Scheduled", "Downloading", "Downloaded", "RebootPending", "Running", "Completed"]);

    // Finished: a new job is accepted; one whose image fails ends Failed.
    let (status, location) = post_update(&http, &base, "http://repo/fail.exe").await;
    assert_eq!(status, 202);
    let location = location.unwrap();
    let mut last = String::new();
    for _ in 0..8 {
        last = task_state(&http, &base, &location).await;
    }
    assert_eq!(last, "Failed");

    // The connector reads the queue through the Dell extension.
    let client =
        RedfishClient::connect(&lab.bmc(0).url, lab.credentials(), http.clone(), AuthPreference::SessionOrBasic)
            .await
            .unwrap();
    let jobs = dell::job_queue(&client, "/redfish/v1/Managers/iDRAC.Embedded.1").await.unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.id.starts_with("JID_") && j.is_finished()));
    assert_eq!(jobs[1].job_state.as_deref(), Some("Failed"));
    client.logout().await.unwrap();
    assert_eq!(lab.bmc(0).open_sessions(), 0);
}

#[tokio::test]
async fn multipart_push_is_an_idrac9_feature() {
    let lab = DellLab::builder()
        .bmcs(2)
        .generation_mix(&[(Generation::Idrac9, 1), (Generation::Idrac8, 1)])
        .build()
        .await
        .unwrap();
    for (i, expected) in [(0, 202), (1, 404)] {
        let http = HttpClient::new(lab.http_config(i)).unwrap();
        let form = reqwest::multipart::Form::new()
            .text("UpdateParameters", r#"{"Targets": [], "@Redfish.OperationApplyTime": "Immediate"}"#)
            .part("UpdateFile", reqwest::multipart::Part::bytes(vec![0u8; 1024]).file_name("iDRAC_7.00.00.173.exe"));
        let resp = http
            .send(
                http.inner()
                    .post(format!("{}redfish/v1/UpdateService/MultipartUpload", lab.bmc(i).url))
                    .basic_auth("root", Some("calvin"))
                    .multipart(form),
            )
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), expected, "BMC {i}");
        if expected == 202 {
            assert!(resp.headers()["location"].to_str().unwrap().contains("/TaskService/Tasks/JID_"));
            assert_eq!(lab.bmc(i).jobs().len(), 1);
        }
    }
}
