//! The Redfish driver against the real iDRAC9 captures (sushy-oem-idrac) replayed unchanged,
//! and against the lab's iDRAC8/iDRAC9 built from them: records asserted field by field.
#[path = "common/dell.rs"]
mod dell;

use eio_connectors::http::{HttpClient, HttpConfig, TlsPolicy};
use eio_connectors::idrac::{self, records::category_of_fqdd, DriverKind, Generation, Health, PowerState, SyncOptions};
use eio_connectors::redfish::{self, AuthPreference, InventoryOptions, RedfishClient};
use eio_connectors::Credentials;
use eio_lab::dell::DellLab;

#[tokio::test]
async fn the_real_idrac9_captures_parse_into_the_right_records() {
    let server = dell::serve_idrac9_captures().await;
    let http = HttpClient::new(HttpConfig { tls: TlsPolicy::Pinned(server.thumbprint), ..Default::default() }).unwrap();
    let url = url::Url::parse(&server.base_url).unwrap();
    let client = RedfishClient::connect(&url, Credentials::new("root", "calvin"), http, AuthPreference::SessionOrBasic)
        .await
        .unwrap();
    // The capture's Links.Sessions points at a path the replay does not serve: Basic it is.
    assert!(!client.uses_sessions());
    let read = redfish::read_inventory(&client, &InventoryOptions::default()).await.unwrap();
    assert_eq!(read.extension, "dell");
    let inv = read.inventory;
    assert_eq!(inv.service_tag.as_deref(), Some("8CYCZ23"));
    assert_eq!(inv.model.as_deref(), Some("PowerEdge R640"));
    assert_eq!(inv.manufacturer.as_deref(), Some("Dell Inc."));
    assert_eq!(inv.bios_version.as_deref(), Some("2.10.2"));
    assert_eq!(inv.system_uuid.unwrap().to_string(), "4c4c4544-0043-5910-8043-b8c04f5a3233");
    assert_eq!(inv.power_state, PowerState::On);
    assert_eq!(inv.health, Health::Ok);
    assert_eq!(inv.cpu_count, Some(2));
    assert_eq!(inv.cpu_model.as_deref(), Some("Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"));
    assert_eq!(inv.memory_gib, Some(192));
    assert_eq!(inv.hostname, None, "an empty HostName is no hostname");
    assert_eq!(inv.manager.firmware_version.as_deref(), Some("3.34.34.34"));
    assert_eq!(inv.manager.model.as_deref(), Some("14G Monolithic"));
    assert_eq!(inv.manager.generation, Some(Generation::Idrac9));
    assert_eq!(inv.driver_used, DriverKind::Redfish);
    assert!(inv.capabilities.expand, "the capture advertises ExpandQuery");
    assert!(inv.firmware.is_empty());
    assert!(inv.capabilities.notes.iter().any(|n| n.contains("UpdateService")), "{:?}", inv.capabilities.notes);
}

#[tokio::test]
async fn an_idrac9_inventory_matches_the_server_field_by_field() {
    let lab = DellLab::builder().bmcs(1).generation(Generation::Idrac9).build().await.unwrap();
    let spec = lab.bmc(0).spec();
    let inv = idrac::inventory(&lab.endpoint(0), None, &SyncOptions::default()).await.unwrap();

    assert_eq!(inv.service_tag.as_deref(), Some(spec.service_tag.as_str()));
    assert_eq!(inv.system_uuid, Some(spec.uuid));
    assert_eq!(inv.manufacturer.as_deref(), Some("Dell Inc."));
    assert_eq!(inv.model.as_deref(), Some(spec.model.as_str()));
    assert_eq!(inv.bios_version.as_deref(), Some(spec.bios_version.as_str()));
    assert_eq!(inv.power_state, PowerState::On);
    assert_eq!(inv.health, Health::Ok);
    assert_eq!(inv.cpu_model.as_deref(), Some(spec.cpu_model.as_str()));
    assert_eq!(inv.cpu_count, Some(spec.cpu_count));
    assert_eq!(inv.memory_gib, Some(spec.memory_gib));
    assert_eq!(inv.hostname.as_deref(), Some(spec.hostname.as_str()));
    assert_eq!(inv.manager.firmware_version.as_deref(), Some(spec.idrac_firmware.as_str()));
    assert_eq!(inv.manager.model.as_deref(), Some("14G Monolithic"));
    assert_eq!(inv.manager.generation, Some(Generation::Idrac9));
    assert_eq!(inv.manager.mac.as_deref(), Some(spec.idrac_mac.as_str()));
    assert_eq!(inv.manager.ip.as_deref(), Some(spec.idrac_ip.as_str()));
    assert_eq!(inv.driver_used, DriverKind::Redfish);

    // Every installed image, once; the Previous- rollback images are not rows.
    assert_eq!(inv.firmware.len(), spec.firmware.len());
    for item in &spec.firmware {
        let row = inv.firmware.iter().find(|f| f.fqdd == item.fqdd).unwrap_or_else(|| panic!("{} missing", item.fqdd));
        assert_eq!(row.component_id.as_deref(), Some(item.component_id.as_str()));
        assert_eq!(row.name, item.name);
        assert_eq!(row.version, item.version, "{}", item.fqdd);
        assert_eq!(row.updateable, item.updateable);
        assert_eq!(row.category.as_deref(), Some(category_of_fqdd(&item.fqdd)));
    }
    let bios = inv.firmware.iter().find(|f| f.fqdd == "BIOS.Setup.1-1").unwrap();
    assert_eq!((bios.component_id.as_deref(), bios.category.as_deref()), (Some("159"), Some("bios")));

    // The newest 20 entries of each log, newest first.
    let lc: Vec<_> = inv.log_tail.iter().filter(|e| e.log == "lifecycle").collect();
    let sel: Vec<_> = inv.log_tail.iter().filter(|e| e.log == "sel").collect();
    assert_eq!((lc.len(), sel.len()), (20, 20));
    assert_eq!(lc[0].id, spec.log_entries.to_string());
    assert!(lc.windows(2).all(|w| w[0].created >= w[1].created));

    let caps = &inv.capabilities;
    assert!(caps.redfish && caps.sessions && caps.expand && caps.simple_update && caps.multipart_update);
    assert!(caps.http_push_update && caps.job_service && caps.firmware_inventory);
    assert!(caps.lifecycle_log && caps.sel_log && !caps.dell_jobs, "jobs are probed only by probe(): {caps:?}");
    assert!(inv.api_calls >= 10, "{}", inv.api_calls);
    assert_eq!(lab.bmc(0).open_sessions(), 0, "the session is logged out");
}

#[tokio::test]
async fn paging_redirects_and_no_expand_still_give_the_whole_inventory() {
    // iDRAC8: no $expand, member links with a trailing slash that redirect; pages of 3.
    let lab = DellLab::builder().bmcs(2).generation(Generation::Idrac8).page_size(3).build().await.unwrap();
    let spec = lab.bmc(1).spec();
    let inv = idrac::inventory(&lab.endpoint(1), None, &SyncOptions::default()).await.unwrap();
    assert!(!inv.capabilities.expand && !inv.capabilities.multipart_update && inv.capabilities.simple_update);
    assert_eq!(inv.manager.generation, Some(Generation::Idrac8));
    assert_eq!(inv.manager.model.as_deref(), Some("13G Monolithic"));
    assert_eq!(inv.service_tag.as_deref(), Some(spec.service_tag.as_str()));
    let mut fqdds: Vec<&str> = inv.firmware.iter().map(|f| f.fqdd.as_str()).collect();
    let mut expected: Vec<&str> = spec.firmware.iter().map(|f| f.fqdd.as_str()).collect();
    fqdds.sort();
    expected.sort();
    assert_eq!(fqdds, expected, "all pages were followed");
    assert!(inv.firmware.iter().any(|f| f.fqdd == "USC.Embedded.1:LC.Embedded.1"));
}

#[tokio::test]
async fn probing_finds_generation_capabilities_driver_and_tls() {
    let lab = DellLab::builder()
        .bmcs(3)
        .generation_mix(&[(Generation::Idrac9, 1), (Generation::Idrac8, 1), (Generation::Idrac7, 1)])
        .build()
        .await
        .unwrap();
    let p9 = idrac::probe(&lab.endpoint(0)).await.unwrap();
    assert_eq!(p9.generation, Some(Generation::Idrac9));
    assert_eq!(p9.driver_preference, DriverKind::Redfish);
    assert!(p9.driver_reason.contains("Redfish") && p9.driver_reason.contains("session"), "{}", p9.driver_reason);
    assert!(p9.capabilities.dell_jobs && p9.capabilities.sessions && p9.capabilities.multipart_update);
    assert_eq!(p9.tls.min_tls_version.as_deref(), Some("1.2"));
    assert_eq!(p9.tls.pinned_sha256, Some(lab.bmc(0).thumbprint.unwrap().to_hex()));
    assert_eq!(p9.tls.presented_sha256, p9.tls.pinned_sha256);
    assert_eq!(p9.firmware_version.as_deref(), Some(lab.bmc(0).spec().idrac_firmware.as_str()));

    let p8 = idrac::probe(&lab.endpoint(1)).await.unwrap();
    assert_eq!((p8.generation, p8.driver_preference), (Some(Generation::Idrac8), DriverKind::Redfish));
    assert!(!p8.capabilities.expand && p8.capabilities.wsman && p8.capabilities.redfish);
    assert!(!p9.capabilities.wsman, "iDRAC9 has no WS-Management");

    let p7 = idrac::probe(&lab.endpoint(2)).await.unwrap();
    assert_eq!((p7.generation, p7.driver_preference), (Some(Generation::Idrac7), DriverKind::Wsman));
    assert!(p7.driver_reason.contains("no Redfish"), "{}", p7.driver_reason);
    assert!(p7.capabilities.wsman && !p7.capabilities.redfish);
    assert_eq!(p7.manager_model.as_deref(), Some("12G Monolithic"));

    // The operator's choice wins, and the reason says what auto would have done.
    let mut forced = lab.endpoint(1);
    forced.driver_override = Some(DriverKind::Wsman);
    let p = idrac::probe(&forced).await.unwrap();
    assert_eq!(p.driver_preference, DriverKind::Wsman);
    assert!(p.driver_reason.contains("--driver wsman") && p.driver_reason.contains("redfish"), "{}", p.driver_reason);
    // And an inventory with the probe's preference uses it.
    let inv = idrac::inventory(&forced, Some(&p), &SyncOptions::default()).await.unwrap();
    assert_eq!(inv.driver_used, DriverKind::Wsman);
}

/// A redirect to another host is refused before anything is sent there: the session token
/// and Basic credentials stay with the BMC they belong to.
#[tokio::test]
async fn redirects_to_another_host_are_refused() {
    use axum::response::IntoResponse;
    let root = r#"{"@odata.id": "/redfish/v1", "RedfishVersion": "1.6.0", "Systems": {"@odata.id": "/redfish/v1/Systems"},
                   "Managers": {"@odata.id": "/redfish/v1/Managers"}}"#;
    let router = axum::Router::new().route("/redfish/v1/", axum::routing::get(move || async move { root })).route(
        "/redfish/v1/Systems",
        axum::routing::get(|| async {
            (axum::http::StatusCode::FOUND, [("location", "https://127.0.0.2:9/redfish/v1/Systems")]).into_response()
        }),
    );
    let server = eio_lab::tls::serve_https(router).await.unwrap();
    let endpoint = idrac::IdracEndpoint::new(
        server.base_url.parse().unwrap(),
        Credentials::new("root", "calvin"),
        HttpConfig { tls: TlsPolicy::Pinned(server.thumbprint), ..Default::default() },
    );
    let err = idrac::inventory(&endpoint, None, &SyncOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("another host (127.0.0.2:9)"), "{err}");
}
