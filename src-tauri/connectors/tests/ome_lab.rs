//! The OpenManage Enterprise client against the lab's OME: sessions, device paging,
//! firmware inventory, baselines and compliance, job status codes.
use eio_connectors::http::HttpClient;
use eio_connectors::idrac::{Generation, Health, PowerState};
use eio_connectors::ome::{JobStatus, OmeClient, OmeError};
use eio_connectors::Credentials;
use eio_lab::dell::{ome::device_id, DellLab};

#[tokio::test]
async fn devices_firmware_baselines_and_compliance() {
    let lab = DellLab::builder()
        .bmcs(120)
        .generation_mix(&[(Generation::Idrac8, 1), (Generation::Idrac9, 2)])
        .outdated_every(4)
        .with_ome()
        .ome_page_size(50)
        .build()
        .await
        .unwrap();
    let ome = lab.ome.as_ref().unwrap();
    let client =
        OmeClient::connect(&ome.url, &lab.credentials(), HttpClient::new(ome.http_config()).unwrap()).await.unwrap();
    assert_eq!(ome.open_sessions(), 1);

    let devices = client.devices().await.unwrap();
    assert_eq!(devices.len(), 120, "three pages followed");
    for (d, b) in devices.iter().zip(&lab.bmcs) {
        let spec = b.spec();
        assert_eq!(d.ome_device_id, device_id(&spec));
        assert_eq!(d.service_tag.as_deref(), Some(spec.service_tag.as_str()));
        assert_eq!(d.model.as_deref(), Some(spec.model.as_str()));
        assert_eq!(d.idrac_ip.as_deref(), Some(spec.idrac_ip.as_str()));
        assert_eq!(d.idrac_mac.as_deref(), Some(spec.idrac_mac.as_str()));
        assert_eq!(d.power_state, if spec.power_state == "On" { PowerState::On } else { PowerState::Off });
        assert_eq!(d.health, if spec.health == "OK" { Health::Ok } else { Health::Warning });
    }

    let spec = lab.bmc(7).spec();
    let fw = client.device_firmware(device_id(&spec)).await.unwrap();
    assert_eq!(fw.len(), spec.firmware.len());
    let bios = fw.iter().find(|f| f.fqdd == "BIOS.Setup.1-1").unwrap();
    assert_eq!((bios.version.as_str(), bios.component_id.as_deref()), (spec.bios_version.as_str(), Some("159")));

    let baselines = client.baselines().await.unwrap();
    assert_eq!(baselines.len(), 1);
    let b = &baselines[0];
    assert_eq!(b.target_device_ids.len(), 120);
    assert_eq!(b.summary.critical, 30, "every 4th server is outdated");
    assert_eq!(b.summary.normal, 90);
    assert_eq!(b.summary.status.as_deref(), Some("CRITICAL"));

    let report = client.compliance(b.id).await.unwrap();
    assert_eq!(report.len(), 120);
    for entry in &report {
        let spec = lab.bmcs.iter().map(|b| b.spec()).find(|s| device_id(s) == entry.ome_device_id).unwrap();
        let bad: Vec<&str> = entry.violations().filter_map(|c| c.fqdd.as_deref()).collect();
        if spec.outdated {
            assert_eq!(bad, ["BIOS.Setup.1-1", "iDRAC.Embedded.1-1"], "{}", spec.service_tag);
            assert_eq!(entry.compliance_status.as_deref(), Some("CRITICAL"));
            let bios = entry.violations().next().unwrap();
            assert_eq!(bios.current_version.as_deref(), Some(spec.bios_version.as_str()));
            assert_ne!(bios.baseline_version, bios.current_version);
            assert!(bios.reboot_required);
        } else {
            assert!(bad.is_empty(), "{}: {bad:?}", spec.service_tag);
        }
    }

    assert_eq!(client.job(3).await.unwrap().status, JobStatus::Completed);
    assert_eq!(client.job(4).await.unwrap().status, JobStatus::Running);
    assert_eq!(client.job(5).await.unwrap().status, JobStatus::Failed);
    assert!(client.api_calls() > 8);
    client.logout().await.unwrap();
    assert_eq!(ome.open_sessions(), 0);
}

#[tokio::test]
async fn wrong_credentials_and_an_expired_session_are_unauthorized() {
    let lab = DellLab::builder().bmcs(1).with_ome().build().await.unwrap();
    let ome = lab.ome.as_ref().unwrap();
    let http = HttpClient::new(ome.http_config()).unwrap();
    let err = OmeClient::connect(&ome.url, &Credentials::new("root", "nope"), http.clone()).await.unwrap_err();
    assert!(matches!(err, OmeError::Unauthorized { .. }), "{err:?}");
    let client = OmeClient::connect(&ome.url, &lab.credentials(), http).await.unwrap();
    ome.set_fault(Some(eio_lab::dell::Fault::Unavailable));
    assert!(matches!(client.devices().await, Err(OmeError::Unavailable { status: 503, .. })));
    ome.set_fault(None);
    assert_eq!(client.devices().await.unwrap().len(), 1);
}

/// Some OME versions send `@odata.count` but no `@odata.nextLink`: the client asks for the
/// next `$skip` itself, and stops when a page comes back empty.
#[tokio::test]
async fn paging_without_next_links_uses_skip_and_top() {
    use axum::response::IntoResponse;
    let router = axum::Router::new()
        .route(
            "/api/SessionService/Sessions",
            axum::routing::post(|| async {
                (axum::http::StatusCode::CREATED, [("x-auth-token", "t0k3n")], r#"{"Id": "s1"}"#).into_response()
            }),
        )
        .route(
            "/api/DeviceService/Devices",
            axum::routing::get(|q: axum::extract::Query<std::collections::HashMap<String, usize>>| async move {
                let skip = q.get("$skip").copied().unwrap_or(0);
                let top = q.get("$top").copied().unwrap_or(100).min(7);
                let value: Vec<_> = (skip..(skip + top).min(23))
                    .map(|i| serde_json::json!({"Id": i, "DeviceServiceTag": format!("TAG{i:04}")}))
                    .collect();
                axum::Json(serde_json::json!({"@odata.count": 23, "value": value}))
            }),
        );
    let server = eio_lab::tls::serve_https(router).await.unwrap();
    let http = HttpClient::new(eio_connectors::http::HttpConfig {
        tls: eio_connectors::http::TlsPolicy::Pinned(server.thumbprint),
        ..Default::default()
    })
    .unwrap();
    let client =
        OmeClient::connect(&server.base_url.parse().unwrap(), &Credentials::new("admin", "x"), http).await.unwrap();
    let devices = client.devices().await.unwrap();
    assert_eq!(devices.len(), 23);
    assert_eq!(devices[22].service_tag.as_deref(), Some("TAG0022"));
}
