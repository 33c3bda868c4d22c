//! The WSMan driver against python-dracclient's real iDRAC captures and the lab's iDRAC7/8:
//! Enumerate + Pull paging, DCIM parsing, and the same records as Redfish for the same facts.
#[path = "common/dell.rs"]
mod dell;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use eio_connectors::http::{HttpClient, HttpConfig, TlsPolicy};
use eio_connectors::idrac::{self, DriverKind, Generation, SyncOptions};
use eio_connectors::wsman::dcim::{self, LifecycleJob, SystemView};
use eio_connectors::wsman::{xml, WsmanClient, WsmanError};
use eio_connectors::Credentials;
use eio_lab::dell::DellLab;

#[test]
fn the_captured_system_view_parses() {
    let doc = xml::parse(&dell::sample_text("dracclient/system_view-enum-ok.xml")).unwrap();
    let view = SystemView::from_element(doc.find("DCIM_SystemView").unwrap());
    assert_eq!(view.service_tag.as_deref(), Some("A1B2C3D"));
    assert_eq!(view.model.as_deref(), Some("PowerEdge R630"));
    assert_eq!(view.uuid.as_deref(), Some("ebd4edd3-dfd7-4c7d-a2c8-562b3c23b811"));
    assert_eq!(view.lifecycle_controller_version.as_deref(), Some("2.1.0"));
    let inv = dcim::to_inventory(&view, &[], None);
    assert_eq!(inv.service_tag.as_deref(), Some("A1B2C3D"));
    assert_eq!(inv.system_uuid.unwrap().to_string(), "ebd4edd3-dfd7-4c7d-a2c8-562b3c23b811");
    assert_eq!(inv.driver_used, DriverKind::Wsman);
}

#[test]
fn the_captured_job_queue_parses() {
    let doc = xml::parse(&dell::sample_text("dracclient/lifecycle_job-enum-ok.xml")).unwrap();
    let jobs: Vec<LifecycleJob> =
        doc.find("Items").unwrap().children_named("DCIM_LifecycleJob").map(LifecycleJob::from_element).collect();
    assert_eq!(jobs.len(), 6);
    assert_eq!(jobs[0].id, "JID_CLEARALL");
    assert_eq!(jobs[0].message, None, "NA is no message");
    assert_eq!(jobs[5].status.as_deref(), Some("Running"));
    assert_eq!(jobs[5].percent_complete, Some(34));
    assert_eq!(jobs[1].name.as_deref(), Some("ConfigBIOS:BIOS.Setup.1-1"));
}

/// Replays dracclient's four enumeration captures (context, pull, pull, pull + end).
#[tokio::test]
async fn enumerate_then_pull_until_end_of_sequence() {
    let pages: Vec<String> =
        (1..=4).map(|i| dell::sample_text(&format!("dracclient/wsman-enum_context-{i}.xml"))).collect();
    let pages = Arc::new(pages);
    let served = Arc::new(AtomicUsize::new(0));
    let (p, s) = (pages.clone(), served.clone());
    let router = axum::Router::new().route(
        "/wsman",
        axum::routing::post(move |body: String| {
            let (p, s) = (p.clone(), s.clone());
            async move {
                let n = s.fetch_add(1, Ordering::SeqCst);
                // Every Pull must carry the context the service handed out.
                if n > 0 {
                    assert!(body.contains("<wsen:EnumerationContext>enum-context-uuid</wsen:EnumerationContext>"));
                    assert!(body.contains("enumeration/Pull"));
                } else {
                    assert!(body.contains("enumeration/Enumerate") && body.contains("OptimizeEnumeration"));
                }
                p[n.min(3)].clone()
            }
        }),
    );
    let server = eio_lab::tls::serve_https(router).await.unwrap();
    let http = HttpClient::new(HttpConfig { tls: TlsPolicy::Pinned(server.thumbprint), ..Default::default() }).unwrap();
    let client =
        WsmanClient::new(&url::Url::parse(&server.base_url).unwrap(), Credentials::new("root", "calvin"), http);
    let items = client.enumerate("http://FooResource").await.unwrap();
    let ids: Vec<&str> = items.iter().filter_map(|i| i.text_of("InstanceID")).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    assert_eq!(served.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn lab_enumerations_page_with_small_max_elements() {
    let lab = DellLab::builder().bmcs(1).generation(Generation::Idrac7).build().await.unwrap();
    let http = HttpClient::new(lab.http_config(0)).unwrap();
    let client = WsmanClient::new(&lab.bmc(0).url, lab.credentials(), http).with_max_elements(2);
    let software = client.enumerate(dcim::SOFTWARE_IDENTITY).await.unwrap();
    let spec = lab.bmc(0).spec();
    let previous = spec.firmware.iter().filter(|f| f.previous_version.is_some()).count();
    assert_eq!(software.len(), spec.firmware.len() + previous);
    assert!(client.api_calls() as usize >= software.len() / 2, "{} calls", client.api_calls());

    let bad = WsmanClient::new(
        &lab.bmc(0).url,
        Credentials::new("root", "wrong"),
        HttpClient::new(lab.http_config(0)).unwrap(),
    );
    assert!(matches!(bad.enumerate(dcim::SYSTEM_VIEW).await, Err(WsmanError::Unauthorized { .. })));
    let fault = client.enumerate("DCIM_NoSuchView").await.unwrap_err();
    assert!(matches!(fault, WsmanError::Fault { .. }), "{fault:?}");
}

#[tokio::test]
async fn idrac7_inventory_over_wsman_is_complete() {
    let lab = DellLab::builder().bmcs(1).generation(Generation::Idrac7).build().await.unwrap();
    let spec = lab.bmc(0).spec();
    let inv = idrac::inventory(&lab.endpoint(0), None, &SyncOptions::default()).await.unwrap();
    assert_eq!(inv.driver_used, DriverKind::Wsman, "no Redfish on this iDRAC7: WSMan was found on the way");
    assert_eq!(inv.service_tag.as_deref(), Some(spec.service_tag.as_str()));
    assert_eq!(inv.model.as_deref(), Some(spec.model.as_str()));
    assert_eq!(inv.manager.generation, Some(Generation::Idrac7));
    assert_eq!(inv.manager.model.as_deref(), Some("12G Monolithic"));
    assert_eq!(inv.firmware.len(), spec.firmware.len(), "rollback images are not rows");
}

/// An iDRAC8 that speaks both: its Redfish and WSMan inventories are the same records. The
/// server is given the facts of dracclient's captured DCIM_SystemView, so the capture, WSMan
/// and Redfish all agree.
#[tokio::test]
async fn wsman_and_redfish_give_the_same_records_for_the_same_server() {
    let doc = xml::parse(&dell::sample_text("dracclient/system_view-enum-ok.xml")).unwrap();
    let captured = SystemView::from_element(doc.find("DCIM_SystemView").unwrap());
    let (tag, model, uuid) =
        (captured.service_tag.clone().unwrap(), captured.model.clone().unwrap(), captured.uuid.clone().unwrap());
    let lab = DellLab::builder()
        .bmcs(1)
        .generation(Generation::Idrac8)
        .customize(0, move |s| {
            s.service_tag = tag;
            s.model = model;
            s.uuid = uuid.parse().unwrap();
        })
        .build()
        .await
        .unwrap();
    let mut endpoint = lab.endpoint(0);
    endpoint.driver_override = Some(DriverKind::Redfish);
    let redfish = idrac::inventory(&endpoint, None, &SyncOptions::default()).await.unwrap();
    endpoint.driver_override = Some(DriverKind::Wsman);
    let wsman = idrac::inventory(&endpoint, None, &SyncOptions::default()).await.unwrap();

    assert_eq!(redfish.driver_used, DriverKind::Redfish);
    assert_eq!(wsman.driver_used, DriverKind::Wsman);
    assert_eq!(wsman.service_tag, captured.service_tag);
    assert_eq!(wsman.model, captured.model);
    assert_eq!(wsman.system_uuid.map(|u| u.to_string()), captured.uuid);
    for (what, r, w) in [
        ("service_tag", &redfish.service_tag, &wsman.service_tag),
        ("model", &redfish.model, &wsman.model),
        ("manufacturer", &redfish.manufacturer, &wsman.manufacturer),
        ("bios_version", &redfish.bios_version, &wsman.bios_version),
        ("hostname", &redfish.hostname, &wsman.hostname),
        ("idrac firmware", &redfish.manager.firmware_version, &wsman.manager.firmware_version),
        ("manager model", &redfish.manager.model, &wsman.manager.model),
        ("idrac mac", &redfish.manager.mac, &wsman.manager.mac),
        ("idrac ip", &redfish.manager.ip, &wsman.manager.ip),
    ] {
        assert!(r.is_some(), "{what} is missing");
        assert_eq!(r, w, "{what}");
    }
    assert_eq!(redfish.system_uuid, wsman.system_uuid);
    assert_eq!(redfish.manager.generation, Some(Generation::Idrac8));
    assert_eq!(redfish.manager.generation, wsman.manager.generation);
    assert_eq!(redfish.power_state, wsman.power_state);
    assert_eq!(redfish.health, wsman.health);
    assert_eq!(redfish.cpu_count, wsman.cpu_count);
    assert_eq!(redfish.memory_gib, wsman.memory_gib);
    assert_eq!(redfish.firmware, wsman.firmware, "the same firmware rows, field by field");
}
