//! The vSphere client against govmomi's vCenter simulator: full inventory, guest IPs,
//! custom attributes, snapshots, tags, the change stream, and login failures.
//! Needs `target/peers/vcsim` (scripts/peers/build-vcsim); fails, never skips, without it.
use eio_lab::vcsim;

use std::collections::HashSet;
use std::time::Duration;

use eio_connectors::http::{HttpError, Thumbprint, TlsFailure, TlsPolicy};
use eio_connectors::vcenter::{
    BlockReason, FaultKind, InventoryRecord, Session, UpdateKind, VcenterError, VmPowerState, IP_CONFIDENCE_LOW,
};
use eio_connectors::Credentials;
use vcsim::Vcsim;

const MODEL: &[&str] = &["-dc", "2", "-cluster", "3", "-host", "4", "-vm", "25"];

#[tokio::test]
async fn inventory_matches_the_simulators_model() {
    let sim = Vcsim::start(MODEL);
    let session = Session::login(&sim.config()).await.expect("login");
    assert_eq!(session.about().api_type.as_deref(), Some("VirtualCenter"));
    assert!(session.about().instance_uuid.is_some());
    let inv = session.inventory().await.expect("inventory");

    // The simulator's own registry count, and the model's arithmetic: 2 datacenters ×
    // (3 clusters × 4 hosts + 1 standalone host), 25 VMs per cluster and per standalone host.
    assert_eq!(inv.datacenters.len(), sim.counts.datacenters);
    assert_eq!(inv.clusters.len(), sim.counts.clusters);
    assert_eq!(inv.hosts.len(), sim.counts.hosts);
    assert_eq!(inv.vms.len(), sim.counts.vms);
    assert_eq!((inv.datacenters.len(), inv.clusters.len(), inv.hosts.len(), inv.vms.len()), (2, 6, 26, 200));

    // vcsim does not page: one RetrievePropertiesEx between CreateContainerView and DestroyView.
    assert_eq!(inv.soap_calls, 3);
    assert!(inv.bytes > 0);
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);

    let standalone: Vec<_> = inv.hosts.iter().filter(|h| h.cluster_moid.is_none()).collect();
    assert_eq!(standalone.len(), 2, "one standalone host per datacenter");
    let dc_ids: HashSet<&str> = inv.datacenters.iter().map(|d| d.moid.as_str()).collect();
    let host_ids: HashSet<&str> = inv.hosts.iter().map(|h| h.moid.as_str()).collect();
    let cluster_ids: HashSet<&str> = inv.clusters.iter().map(|c| c.moid.as_str()).collect();
    for h in &inv.hosts {
        assert!(dc_ids.contains(h.datacenter_moid.as_deref().unwrap_or("?")), "{h:?}");
        assert!(h.hardware_uuid.is_some() && h.vendor.is_some() && h.model.is_some(), "{h:?}");
        assert!(h.esxi_version.is_some() && h.esxi_build.is_some(), "{h:?}");
        assert!(h.cpu_cores.is_some() && h.memory_mb.is_some(), "{h:?}");
        assert!(!h.in_maintenance_mode);
    }
    for c in &inv.clusters {
        assert!(dc_ids.contains(c.datacenter_moid.as_deref().unwrap_or("?")), "{c:?}");
    }
    let mut uuids = HashSet::new();
    for vm in &inv.vms {
        let uuid = vm.uuid.as_deref().unwrap_or_else(|| panic!("no uuid: {vm:?}"));
        assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{uuid}");
        uuids.insert(uuid.to_owned());
        assert_eq!(vm.power_state, Some(VmPowerState::PoweredOn), "{vm:?}");
        assert!(vm.vcpu.unwrap_or(0) > 0 && vm.memory_mb.unwrap_or(0) > 0, "{vm:?}");
        assert!(host_ids.contains(vm.host_moid.as_deref().unwrap_or("?")), "{vm:?}");
        assert!(dc_ids.contains(vm.datacenter_moid.as_deref().unwrap_or("?")), "{vm:?}");
        let path = vm.folder_path.as_deref().unwrap_or_default();
        assert!(path.starts_with("/DC") && path.ends_with("/vm"), "{path}");
        assert_eq!(vm.nics.len(), 1, "{vm:?}");
        assert_eq!(vm.nics[0].mac.len(), 17);
        assert!(vm.nics[0].network.is_some(), "{vm:?}");
        assert!(!vm.has_snapshot && !vm.is_template);
        // vcsim gives every VM a connected ATAPI CD-ROM (a device of the host) and its files
        // on a datastore of the inventory.
        let cdroms: Vec<_> = vm.mobility.devices.iter().filter(|d| d.reason == BlockReason::HostDevice).collect();
        assert_eq!(cdroms.len(), 1, "{:?}", vm.mobility);
        assert!(cdroms[0].key.is_some(), "{:?}", vm.mobility);
        assert!(!vm.mobility.datastores.is_empty(), "{:?}", vm.mobility);
        assert!(
            vm.mobility.datastores.iter().all(|d| inv.datastores.iter().any(|s| &s.moid == d)),
            "{:?}",
            vm.mobility
        );
    }
    assert!(inv
        .datastores
        .iter()
        .all(|d| d.hosts.as_ref().is_some_and(|h| h.iter().all(|h| host_ids.contains(h.as_str())))));
    assert!(inv.clusters.iter().all(|c| c.drs.as_ref().and_then(|d| d.enabled) == Some(true)), "{:?}", inv.clusters);
    assert!(inv.hosts.iter().all(|h| h.cpu_mhz.is_some_and(|m| m > 0)), "{:?}", inv.hosts);
    assert_eq!(uuids.len(), 200, "every VM has its own uuid");
    let clustered = inv.vms.iter().filter(|v| v.cluster_moid.is_some()).count();
    assert_eq!(clustered, 150, "25 VMs in each of the 6 clusters");
    assert!(inv.vms.iter().filter_map(|v| v.cluster_moid.as_deref()).all(|c| cluster_ids.contains(c)));
    session.logout().await.expect("logout");
}

#[tokio::test]
async fn guest_ips_custom_attributes_snapshots_and_tags() {
    let sim = Vcsim::start(&["-dc", "1", "-cluster", "1", "-host", "1", "-vm", "3", "-standalone-host", "0"]);
    let session = Session::login(&sim.config()).await.expect("login");
    let before = session.inventory().await.expect("inventory");
    let (a, b) = (&before.vms[0], &before.vms[1]);

    // Guest IPs the way vcsim lets a test set them.
    let task = session.set_vm_extra_config(&a.moid, &[("SET.guest.ipAddress", "10.20.30.40")]).await.unwrap();
    session.wait_for_task(&task, Duration::from_secs(60)).await.unwrap();
    let task = session.set_vm_extra_config(&b.moid, &[("SET.guest.ipAddress", "169.254.7.7")]).await.unwrap();
    session.wait_for_task(&task, Duration::from_secs(60)).await.unwrap();

    // A custom attribute and a snapshot, through raw SOAP (our client only reads them).
    let http = sim.http();
    sim.raw_login(&http).await;
    let def = sim
        .raw_soap(
            &http,
            "<AddCustomFieldDef xmlns=\"urn:vim25\"><_this type=\"CustomFieldsManager\">CustomFieldsManager</_this>\
             <name>Owner</name><moType>VirtualMachine</moType></AddCustomFieldDef>",
        )
        .await;
    let key = def.split("<key>").nth(1).and_then(|s| s.split("</key>").next()).expect("field key").to_owned();
    let set = sim
        .raw_soap(
            &http,
            &format!(
                "<SetField xmlns=\"urn:vim25\"><_this type=\"CustomFieldsManager\">CustomFieldsManager</_this>\
                 <entity type=\"VirtualMachine\">{}</entity><key>{key}</key><value>alice &amp; bob</value></SetField>",
                a.moid
            ),
        )
        .await;
    assert!(set.contains("SetFieldResponse"), "{set}");
    let snap = sim
        .raw_soap(
            &http,
            &format!(
                "<CreateSnapshot_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">{}</_this><name>before-patch</name>\
                 <memory>false</memory><quiesce>false</quiesce></CreateSnapshot_Task>",
                a.moid
            ),
        )
        .await;
    let snap_task = snap.split("type=\"Task\">").nth(1).and_then(|s| s.split('<').next()).expect("task").to_owned();
    session.wait_for_task(&snap_task, Duration::from_secs(60)).await.unwrap();

    // A tag, through the tagging REST API.
    let rest = sim.sdk_url.join("/rest/com/vmware/cis/").unwrap();
    let login = http
        .send(http.inner().post(rest.join("session").unwrap()).basic_auth(&sim.username, Some(&sim.password)))
        .await
        .unwrap();
    let token: serde_json::Value = serde_json::from_slice(&http.body(login).await.unwrap()).unwrap();
    let token = token["value"].as_str().unwrap().to_owned();
    let post = |path: &str, body: serde_json::Value| {
        let req = http.inner().post(rest.join(path).unwrap()).header("vmware-api-session-id", &token).json(&body);
        let http = http.clone();
        async move {
            let resp = http.send(req).await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&http.body(resp).await.unwrap()).unwrap_or_default();
            v
        }
    };
    let cat = post(
        "tagging/category",
        serde_json::json!({"create_spec": {"name": "Env", "description": "", "cardinality": "SINGLE", "associable_types": []}}),
    )
    .await;
    let cat = cat["value"].as_str().unwrap().to_owned();
    let tag = post(
        "tagging/tag",
        serde_json::json!({"create_spec": {"name": "Prod", "description": "", "category_id": cat}}),
    )
    .await;
    let tag = tag["value"].as_str().unwrap().to_owned();
    post(
        &format!("tagging/tag-association/id:{tag}?~action=attach"),
        serde_json::json!({"object_id": {"id": a.moid, "type": "VirtualMachine"}}),
    )
    .await;

    let after = session.inventory().await.expect("inventory");
    let a2 = after.vms.iter().find(|v| v.moid == a.moid).unwrap();
    let b2 = after.vms.iter().find(|v| v.moid == b.moid).unwrap();
    let ips: Vec<&str> = a2.guest_ips.iter().map(|g| g.ip.as_str()).collect();
    assert_eq!(ips, ["10.20.30.40"], "{:?}", a2.guest_ips);
    // vcsim reports tools as not installed: what the guest said may be stale.
    assert_eq!(a2.guest_ips[0].confidence, IP_CONFIDENCE_LOW);
    assert_eq!(a2.guest_ips[0].mac.as_deref(), Some(a2.nics[0].mac.as_str()));
    assert!(b2.guest_ips.is_empty(), "APIPA is never reported: {:?}", b2.guest_ips);
    assert_eq!(a2.custom_attributes.get("Owner").map(String::as_str), Some("alice & bob"));
    assert!(a2.has_snapshot);
    assert_eq!(a2.snapshot_count, 1);
    assert!(!b2.has_snapshot);

    let tags = session.tags().await.expect("tags");
    assert_eq!(tags.get(&a.moid), Some(&vec!["Env/Prod".to_owned()]));
    assert!(!tags.contains_key(&b.moid));
    session.logout().await.expect("logout");
}

#[tokio::test]
async fn the_change_stream_reports_a_power_off() {
    // 1,000 VMs: the size the engine's delta test uses.
    let sim = Vcsim::start(&["-dc", "1", "-cluster", "2", "-host", "2", "-vm", "500", "-standalone-host", "0"]);
    let session = Session::login(&sim.config()).await.expect("login");
    let mut watcher = session.watch().await.expect("watch");

    // The baseline: every object as Enter, possibly over several truncated batches.
    let mut entered = 0;
    loop {
        let batch = watcher.next(0).await.expect("baseline").expect("a baseline batch");
        assert!(batch.changes.iter().all(|c| c.kind == UpdateKind::Enter));
        entered += batch.changes.iter().filter(|c| c.object_type == "VirtualMachine").count();
        if !batch.truncated {
            break;
        }
    }
    assert_eq!(entered, 1000);
    let vm = watcher.snapshot().vms.into_iter().find(|v| v.power_state == Some(VmPowerState::PoweredOn)).unwrap();

    let task = session.power_off_vm(&vm.moid).await.expect("power off");
    session.wait_for_task(&task, Duration::from_secs(60)).await.expect("task");

    let update = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let Some(batch) = watcher.next(20).await.expect("next") else { continue };
            if let Some(u) = batch.changes.into_iter().find(|c| c.moid == vm.moid) {
                return u;
            }
        }
    })
    .await
    .expect("the power-off arrives on the change stream");
    assert_eq!(update.kind, UpdateKind::Modify);
    assert!(update.changed.contains(&"power_state".to_owned()), "{:?}", update.changed);
    let Some(InventoryRecord::Vm(record)) = update.record else { panic!("not a VM record: {update:?}") };
    assert_eq!(record.power_state, Some(VmPowerState::PoweredOff));
    assert_eq!(record.uuid, vm.uuid);
    watcher.close().await.expect("close");
    session.logout().await.expect("logout");
}

#[tokio::test]
async fn a_wrong_password_is_a_typed_fault_and_never_printed() {
    let sim = Vcsim::start(&["-dc", "1", "-cluster", "1", "-host", "1", "-vm", "1"]);
    let secret = format!("Wr0ng-{}", uuid::Uuid::new_v4());
    let mut cfg = sim.config();
    cfg.credentials = Credentials::new(&sim.username, secret.as_str());
    let err = Session::login(&cfg).await.expect_err("a wrong password must fail");
    let fault = err.fault().expect("a SOAP fault");
    assert_eq!(fault.kind, FaultKind::InvalidLogin);
    assert_eq!(fault.type_name, "InvalidLogin");
    for shown in [err.to_string(), format!("{err:?}"), format!("{cfg:?}"), format!("{:#?}", cfg.credentials)] {
        assert!(!shown.contains(&secret), "the password leaked: {shown}");
    }
    assert!(err.to_string().contains("check the user name and password"), "{err}");

    // And a session that did log in shows no password either.
    let session = Session::login(&sim.config()).await.unwrap();
    assert!(!format!("{session:?}").contains(&sim.password));
}

#[tokio::test]
async fn a_certificate_other_than_the_pinned_one_is_refused() {
    let sim = Vcsim::start(&["-dc", "1", "-cluster", "1", "-host", "1", "-vm", "1"]);
    let mut cfg = sim.config();
    let other: Thumbprint = "00".repeat(32).parse().unwrap();
    cfg.http.tls = TlsPolicy::Pinned(other);
    let err = Session::login(&cfg).await.expect_err("pin mismatch");
    match err {
        VcenterError::Http(HttpError::Tls(TlsFailure::PinMismatch { presented, .. })) => {
            assert_eq!(presented, sim.thumbprint)
        }
        other => panic!("expected a pin mismatch, got {other:?}"),
    }
    // Verified TLS (the default) refuses the self-signed certificate and names it.
    let mut cfg = sim.config();
    cfg.http.tls = TlsPolicy::Verify;
    let err = Session::login(&cfg).await.expect_err("untrusted");
    assert!(err.to_string().contains(&sim.thumbprint.to_string()), "{err}");
}
