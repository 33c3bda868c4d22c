//! The vSphere client against the lab vCenter: real `maxObjects` paging, every injected
//! fault as a clear typed error, and the lab's XML checked against vcsim's so it can't drift.
use eio_lab::vcsim;

use std::time::Duration;

use eio_connectors::http::{HttpClient, HttpConfig, HttpError, TlsFailure, TlsPolicy};
use eio_connectors::vcenter::xml::{parse_document, Node, XmlError};
use eio_connectors::vcenter::{
    FaultKind, Session, ToolsStatus, VcenterConfig, VcenterError, VmPowerState, IP_CONFIDENCE_HIGH, IP_CONFIDENCE_LOW,
};
use eio_connectors::Credentials;
use eio_lab::tls::LabCert;
use eio_lab::vcenter::model::{service_tag, vm_ip, vm_mac, vm_uuid};
use eio_lab::vcenter::{LabFault, LabModel, LabVcenter};

fn config(lab: &LabVcenter, page_size: u32) -> VcenterConfig {
    let mut cfg = VcenterConfig::new(lab.sdk_url.parse().unwrap(), Credentials::new(lab.username(), lab.password()));
    cfg.http.tls = TlsPolicy::Pinned(lab.thumbprint);
    cfg.page_size = page_size;
    cfg
}

#[tokio::test]
async fn pages_are_followed_to_the_end_and_match_the_model() {
    let lab = LabVcenter::start(LabModel::default()).await.unwrap();
    let m = lab.model;
    let session = Session::login(&config(&lab, 7)).await.unwrap();
    assert_eq!(session.about().api_version, "7.0.3.0");
    let inv = session.inventory().await.unwrap();
    assert_eq!(inv.datacenters.len(), m.datacenters);
    assert_eq!(inv.clusters.len(), m.clusters());
    assert_eq!(inv.hosts.len(), m.hosts());
    assert_eq!(inv.vms.len(), m.vms());

    // Everything but the root folder is collected (the view's objects plus the custom
    // field definitions), 7 per page.
    let objects = lab.objects().len() - 1;
    let pages = objects.div_ceil(7);
    let calls = lab.calls();
    assert_eq!(calls.iter().filter(|c| *c == "ContinueRetrievePropertiesEx").count(), pages - 1, "{calls:?}");
    assert_eq!(inv.soap_calls as usize, pages + 2, "CreateContainerView + pages + DestroyView");

    // Paging changes nothing in the result.
    let unpaged = Session::login(&config(&lab, 100_000)).await.unwrap().inventory().await.unwrap();
    assert_eq!(unpaged.vms, inv.vms);
    assert_eq!(unpaged.hosts, inv.hosts);
    assert_eq!(unpaged.clusters, inv.clusters);
    assert_eq!(unpaged.soap_calls, 3);

    for (n, vm) in inv.vms.iter().enumerate() {
        assert_eq!(vm.name, format!("lab-vm-{n:05}"));
        assert_eq!(vm.uuid.as_deref(), Some(vm_uuid(n).as_str()));
        assert_eq!(
            vm.folder_path.as_deref(),
            Some(format!("/LabDC{}/vm/Prod", n / (m.vms() / m.datacenters)).as_str())
        );
        assert_eq!(vm.nics.len(), 1);
        assert_eq!(vm.nics[0].mac, vm_mac(n));
        assert_eq!(vm.nics[0].network.as_deref(), Some("VM Network"));
        assert_eq!(vm.nics[0].label, "Network adapter 1");
        assert_eq!(vm.notes.as_deref(), Some(format!("owner <ops> & friends #{n}").as_str()));
        assert_eq!(vm.vcpu, Some(1 + (n % 8) as u32));
        let ips: Vec<&str> = vm.guest_ips.iter().map(|g| g.ip.as_str()).collect();
        assert_eq!(ips, [vm_ip(n).as_str()], "fe80:: is never reported");
        assert_eq!(vm.guest_ips[0].prefix_length, Some(24));
        if vm.power_state == Some(VmPowerState::PoweredOn) {
            assert_eq!(vm.tools_status, Some(ToolsStatus::Ok));
            assert_eq!(vm.guest_ips[0].confidence, IP_CONFIDENCE_HIGH, "tools running, MAC matches a vNIC");
        } else {
            assert_eq!(vm.tools_status, Some(ToolsStatus::NotRunning));
            assert_eq!(vm.guest_ips[0].confidence, IP_CONFIDENCE_LOW, "tools not running: maybe stale");
        }
        let owner = vm.custom_attributes.get("Owner").cloned();
        assert_eq!(owner, (n % 2 == 0).then(|| format!("team-{}", n % 3)));
        assert!(
            vm.cluster_moid.is_some()
                == inv.hosts.iter().any(|h| Some(&h.moid) == vm.host_moid.as_ref() && h.cluster_moid.is_some())
        );
    }
    for (n, h) in inv.hosts.iter().enumerate() {
        assert_eq!(h.service_tag.as_deref(), Some(service_tag(n).as_str()));
        assert_eq!(h.vendor.as_deref(), Some("Dell Inc."));
        assert_eq!(
            h.management_ips,
            [format!("10.0.{}.{}", n / 250, 1 + n % 250)],
            "vmk0 only: selected for management"
        );
        assert_eq!(h.memory_mb, Some(768 * 1024));
        assert_eq!(h.cpu_threads, Some(96));
        assert_eq!(h.in_maintenance_mode, n % 7 == 3);
    }
    assert_eq!(
        inv.hosts.iter().filter(|h| h.cluster_moid.is_none()).count(),
        m.datacenters * m.standalone_hosts_per_datacenter
    );
    assert!(inv.clusters.iter().all(|c| c.drs_enabled == Some(true) && c.ha_enabled == Some(true)));
    assert!(inv.clusters.iter().all(|c| c.drs_behavior.as_deref() == Some("fullyAutomated")));
    session.logout().await.unwrap();
}

#[tokio::test]
async fn every_injected_fault_is_a_clear_typed_error() {
    let lab = LabVcenter::start(LabModel::default()).await.unwrap();

    // Bad password.
    let mut cfg = config(&lab, 7);
    cfg.credentials = Credentials::new(lab.username(), "not-the-password");
    let err = Session::login(&cfg).await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.kind), Some(FaultKind::InvalidLogin), "{err}");

    // A different certificate than the pinned one.
    let mut cfg = config(&lab, 7);
    let other = LabCert::generate().unwrap().thumbprint;
    cfg.http.tls = TlsPolicy::Pinned(other);
    match Session::login(&cfg).await.unwrap_err() {
        VcenterError::Http(HttpError::Tls(TlsFailure::PinMismatch { presented, expected, .. })) => {
            assert_eq!((presented, expected), (lab.thumbprint, other))
        }
        e => panic!("expected a pin mismatch: {e:?}"),
    }

    // Slow: the request timeout fires.
    let mut cfg = config(&lab, 7);
    cfg.http.request_timeout = Duration::from_secs(1);
    let session = Session::login(&cfg).await.unwrap();
    lab.inject(Some(LabFault::SlowRetrieve(Duration::from_secs(30))));
    let err = session.inventory().await.unwrap_err();
    assert!(matches!(err, VcenterError::Http(HttpError::Timeout { .. })), "{err:?}");

    let session = Session::login(&config(&lab, 7)).await.unwrap();
    // Truncated XML.
    lab.inject(Some(LabFault::TruncatedPage));
    let err = session.inventory().await.unwrap_err();
    assert!(matches!(err, VcenterError::Malformed { reason: XmlError::Truncated, .. }), "{err:?}");
    assert!(err.to_string().contains("truncated"), "{err}");

    // A SOAP fault on a Continue call, mid-way through the pages.
    lab.inject(Some(LabFault::FaultOnContinue));
    let err = session.inventory().await.unwrap_err();
    match &err {
        VcenterError::Fault { method, fault, .. } => {
            assert_eq!(*method, "ContinueRetrievePropertiesEx");
            assert_eq!(fault.type_name, "SystemError");
            assert!(fault.message.contains("mid-result"));
        }
        e => panic!("expected a fault: {e:?}"),
    }

    // An entity bomb: refused, never expanded.
    lab.inject(Some(LabFault::EntityBomb));
    let err = session.inventory().await.unwrap_err();
    assert!(matches!(err, VcenterError::Malformed { reason: XmlError::Dtd, .. }), "{err:?}");

    // Oversized: the cap from HttpConfig holds while streaming.
    let mut cfg = config(&lab, 7);
    cfg.http.max_body_bytes = 1024 * 1024;
    let small = Session::login(&cfg).await.unwrap();
    lab.inject(Some(LabFault::Oversized(8 * 1024 * 1024)));
    let err = small.inventory().await.unwrap_err();
    assert!(matches!(err, VcenterError::Http(HttpError::TooLarge { limit: 1048576, .. })), "{err:?}");

    // A change-stream version the server forgot: a distinct error that asks for a resync.
    lab.inject(None);
    let mut watcher = session.watch().await.unwrap();
    let baseline = watcher.next(0).await.unwrap().expect("baseline");
    assert_eq!(baseline.changes.iter().filter(|c| c.object_type == "VirtualMachine").count(), lab.model.vms());
    assert!(watcher.next(0).await.unwrap().is_none(), "nothing changed");
    lab.inject(Some(LabFault::ForgetVersions));
    let err = watcher.next(0).await.unwrap_err();
    assert!(matches!(err, VcenterError::VersionLost { .. }), "{err:?}");
    assert!(err.needs_full_resync());

    // A call dropped unfinished (a caller's timeout, a shutdown) had the watcher's objects
    // with it: the next call asks for a resync instead of comparing against nothing.
    lab.inject(None);
    let mut watcher = session.watch().await.unwrap();
    watcher.next(0).await.unwrap().expect("baseline");
    let mut call = Box::pin(watcher.next(0));
    assert!(futures::poll!(call.as_mut()).is_pending(), "the request is out, its answer not yet in");
    drop(call);
    let err = watcher.next(0).await.unwrap_err();
    assert!(matches!(err, VcenterError::StreamInterrupted { .. }), "{err:?}");
    assert!(err.needs_full_resync());

    // After all that, the lab and the client still work.
    lab.inject(None);
    assert_eq!(session.inventory().await.unwrap().vms.len(), lab.model.vms());
}

/// The element structure of a RetrievePropertiesEx answer: the path to each `objects`,
/// and per object its `obj`, each property's name, and each `val`'s xsi:type and
/// ManagedObjectReference type. What is inside a `val` is the object's own business.
fn skeleton(doc: &Node, kind: &str) -> Vec<String> {
    let mut out = vec![doc.name.to_string()];
    let body = doc.child("Body").expect("Body");
    out.push(body.name.to_string());
    let resp = &body.children[0];
    out.push(resp.name.to_string());
    let ret = resp.child("returnval").expect("returnval");
    let obj = ret
        .children_named("objects")
        .find(|o| o.child("obj").and_then(|x| x.mo_type.as_deref()) == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} object"));
    out.push(format!("objects/obj type={:?}", obj.child("obj").unwrap().mo_type));
    for p in obj.children_named("propSet") {
        let val = p.child("val").expect("val");
        out.push(format!(
            "propSet name={} val xsi:type={:?} type={:?}",
            p.text_of("name").unwrap(),
            val.xsi_type.as_deref().map(|t| t.rsplit(':').next().unwrap_or(t)),
            val.mo_type
        ));
    }
    out
}

async fn raw(http: &HttpClient, url: &str, body: &str) -> String {
    let envelope = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    );
    let resp = http
        .send(
            http.inner()
                .post(url)
                .header("Content-Type", "text/xml")
                .header("SOAPAction", "urn:vim25/6.5")
                .body(envelope),
        )
        .await
        .unwrap();
    String::from_utf8(http.body(resp).await.unwrap().to_vec()).unwrap()
}

/// Log in, create a view of everything, and read one unpaged page of VMs and hosts.
async fn page(http: &HttpClient, url: &str, user: &str, password: &str, root: &str) -> Node {
    let login = raw(
        http,
        url,
        &format!(
            "<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this><userName>{user}</userName>\
             <password>{password}</password></Login>"
        ),
    )
    .await;
    assert!(login.contains("LoginResponse"), "{login}");
    let view = raw(
        http,
        url,
        &format!(
            "<CreateContainerView xmlns=\"urn:vim25\"><_this type=\"ViewManager\">ViewManager</_this>\
             <container type=\"Folder\">{root}</container><type>VirtualMachine</type><type>HostSystem</type>\
             <recursive>true</recursive></CreateContainerView>"
        ),
    )
    .await;
    let view = parse_document(view.as_bytes()).unwrap();
    let view = view.at(&["Body", "CreateContainerViewResponse", "returnval"]).expect("view").text.clone();
    let text = raw(
        http,
        url,
        &format!(
            "<RetrievePropertiesEx xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this><specSet>\
             <propSet><type>VirtualMachine</type><pathSet>name</pathSet><pathSet>parent</pathSet><pathSet>runtime.host</pathSet>\
             <pathSet>runtime.powerState</pathSet><pathSet>config.uuid</pathSet><pathSet>config.hardware.numCPU</pathSet>\
             <pathSet>config.hardware.device</pathSet><pathSet>guest.net</pathSet></propSet>\
             <propSet><type>HostSystem</type><pathSet>name</pathSet><pathSet>hardware.systemInfo</pathSet>\
             <pathSet>runtime.connectionState</pathSet><pathSet>summary.hardware.cpuModel</pathSet>\
             <pathSet>config.product.version</pathSet></propSet>\
             <objectSet><obj type=\"ContainerView\">{view}</obj><skip>true</skip><selectSet xsi:type=\"TraversalSpec\">\
             <name>v</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet>\
             </specSet><options/></RetrievePropertiesEx>"
        ),
    )
    .await;
    parse_document(text.as_bytes()).unwrap()
}

#[tokio::test]
async fn the_labs_pages_have_vcsims_structure() {
    let sim = vcsim::Vcsim::start(&["-dc", "1", "-cluster", "1", "-host", "1", "-vm", "1"]);
    let lab = LabVcenter::start(LabModel::default()).await.unwrap();
    let client = |tls| HttpClient::new(HttpConfig { tls, cookies: true, ..Default::default() }).unwrap();

    let theirs = page(
        &client(TlsPolicy::Pinned(sim.thumbprint)),
        sim.sdk_url.as_str(),
        &sim.username,
        &sim.password,
        "group-d1",
    )
    .await;
    let ours =
        page(&client(TlsPolicy::Pinned(lab.thumbprint)), &lab.sdk_url, lab.username(), lab.password(), "group-d1")
            .await;
    for kind in ["VirtualMachine", "HostSystem"] {
        assert_eq!(skeleton(&ours, kind), skeleton(&theirs, kind), "{kind} objects differ from vcsim's");
    }
}
