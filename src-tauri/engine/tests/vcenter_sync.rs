//! vCenter sync end to end: govmomi's vcsim (a third-party peer) and the lab simulator
//! for what vcsim lacks (paging, faults), credentials sealed for a worker key, the sync
//! running as a real `eio_worker` login, the database checked against the simulator.
use eio_lab::vcsim;

use std::time::{Duration, Instant};

use eio_connectors::vcenter::Session;
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities as ids;
use eio_core::sources::{self, IdentityChoice, NewSource, SourceKind, TlsChoice};
use eio_core::Database;
use eio_engine::jobs::{Worker, WorkerConfig};
use eio_engine::sync::ledger::Outcome;
use eio_engine::sync::{self, vcenter, Syncer};
use eio_lab::vcenter::{LabFault, LabModel, LabVcenter};
use eio_secret::Credentials;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;
use vcsim::Vcsim;

struct WorkerLogin {
    admin: PgPool,
    role: String,
    pool: PgPool,
}

impl WorkerLogin {
    async fn new(admin: &PgPool) -> Self {
        let role = format!("eio_t_wk_{}", &Uuid::new_v4().simple().to_string()[..10]);
        sqlx::raw_sql(&format!("CREATE ROLE {role} LOGIN IN ROLE eio_worker")).execute(admin).await.unwrap();
        let opts = admin.connect_options().as_ref().clone().username(&role);
        let pool = PgPoolOptions::new().max_connections(6).connect_with(opts).await.unwrap();
        WorkerLogin { admin: admin.clone(), role, pool }
    }

    async fn drop_role(self) {
        self.pool.close().await;
        let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS {}", self.role)).execute(&self.admin).await;
    }
}

/// Register a vCenter source (as an admin would) and return a worker able to sync it.
async fn setup(admin: &PgPool, url: &str, thumbprint: String, user: &str, password: &str) -> (WorkerLogin, Syncer) {
    let key = WorkerKey::generate();
    let db = Database::from_pool(admin.clone());
    ids::trust_worker_key(&db, &key.public_key(), "test").await.unwrap();
    sources::add(
        &db,
        &NewSource {
            kind: SourceKind::Vcenter,
            name: "vc".into(),
            url: url.into(),
            identity: IdentityChoice::New {
                name: None,
                credentials: Credentials::new(user, password),
                rotation_period_days: 90,
            },
            tls: TlsChoice { thumbprint: Some(thumbprint), insecure: false },
            site: None,
            driver: None,
        },
    )
    .await
    .unwrap();
    let worker = WorkerLogin::new(admin).await;
    let syncer = Syncer::new(Database::from_pool(worker.pool.clone()), key, "test-worker");
    (worker, syncer)
}

/// vcsim started with `flags`, registered as source "vc", and synced once, successfully.
async fn synced_vcsim(admin: &PgPool, flags: &[&str]) -> (Vcsim, WorkerLogin, Syncer) {
    let sim = Vcsim::start(flags);
    let (worker, syncer) =
        setup(admin, sim.sdk_url.as_str(), sim.thumbprint.to_string(), &sim.username, &sim.password).await;
    let report = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    (sim, worker, syncer)
}

/// Who holds the watch lease of the vCenter source `source_id`.
async fn lease_owner(admin: &PgPool, source_id: &str) -> String {
    sqlx::query_scalar("SELECT owner FROM leases WHERE name = $1")
        .bind(format!("watch:vcenter:{source_id}"))
        .fetch_one(admin)
        .await
        .unwrap()
}

async fn count(admin: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE removed_at IS NULL"))
        .fetch_one(admin)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_full_sync_matches_vcsim_and_a_second_one_changes_nothing(admin: PgPool) {
    let sim = Vcsim::start(&["-dc", "2", "-cluster", "3", "-host", "4", "-vm", "25"]);
    let (worker, syncer) =
        setup(&admin, sim.sdk_url.as_str(), sim.thumbprint.to_string(), &sim.username, &sim.password).await;

    // A guest IP injected the way vcsim supports it, before the first sync.
    let session = Session::login(&sim.config()).await.unwrap();
    let truth = session.inventory().await.unwrap();
    let target = truth.vms.iter().find(|v| v.name.contains("VM")).unwrap().moid.clone();
    session.set_vm_extra_config(&target, &[("SET.guest.ipAddress", "10.77.1.23")]).await.unwrap();

    let report = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    assert!(report.api_calls <= 12, "{} SOAP calls", report.api_calls);

    // Counts equal the simulator's own registry count.
    assert_eq!(count(&admin, "datacenters").await as usize, sim.counts.datacenters);
    assert_eq!(count(&admin, "clusters").await as usize, sim.counts.clusters);
    assert_eq!(count(&admin, "esxi_hosts").await as usize, sim.counts.hosts);
    assert_eq!(count(&admin, "virtual_machines").await as usize, sim.counts.vms);

    // Every VM's uuid, power state, vcpu and memory match what vcsim reports.
    type VmFacts = (String, Option<Uuid>, Option<String>, Option<i32>, Option<i32>);
    let rows: Vec<VmFacts> = sqlx::query_as(
        "SELECT moid, uuid, power_state::text, vcpu, memory_mb FROM virtual_machines WHERE removed_at IS NULL",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(rows.len(), truth.vms.len());
    for vm in &truth.vms {
        let row = rows.iter().find(|r| r.0 == vm.moid).unwrap_or_else(|| panic!("{} missing", vm.moid));
        assert_eq!(row.1.map(|u| u.to_string()), vm.uuid.clone().map(|u| u.to_lowercase()), "{} uuid", vm.name);
        let power = serde_json::to_value(vm.power_state).unwrap();
        assert_eq!(row.2.as_deref(), power.as_str(), "{} power", vm.name);
        assert_eq!(row.3, vm.vcpu.map(|n| n as i32), "{} vcpu", vm.name);
        assert_eq!(row.4, vm.memory_mb.map(|n| n as i32), "{} memory", vm.name);
    }

    // The injected guest IP is an observation of that VM.
    let (source, entity): (String, String) = sqlx::query_as(
        "SELECT o.source::text, v.moid FROM ip_observations o JOIN virtual_machines v ON v.id = o.entity_id
         WHERE o.address = '10.77.1.23' AND o.gone_at IS NULL",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!((source.as_str(), entity.as_str()), ("vcenter_vm", target.as_str()));

    // A second sync with nothing changed records nothing in the ledger.
    let again = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(again.outcome, Outcome::Succeeded);
    let changes: i64 = sqlx::query_scalar("SELECT count(*) FROM inventory_changes WHERE sync_run_id = $1")
        .bind(again.run_id)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(changes, 0, "{:?}", again.counts);
    session.logout().await.unwrap();
    worker.drop_role().await;
}

/// A VM's synced mobility facts: (moid, `mobility` JSON).
async fn mobility(admin: &PgPool) -> Vec<(String, serde_json::Value)> {
    sqlx::query_as("SELECT moid, mobility FROM virtual_machines WHERE removed_at IS NULL ORDER BY name")
        .fetch_all(admin)
        .await
        .unwrap()
}

/// vcsim's CD-ROMs of a VM, in its own words: (key, label, connected, backing type).
async fn vcsim_cdroms(sim: &Vcsim, vm: &str) -> Vec<(i64, String, bool, String)> {
    let devices = sim.property("VirtualMachine", vm, "config.hardware.device").await.unwrap();
    devices
        .children
        .iter()
        .filter(|d| d.xsi_type.as_deref().is_some_and(|t| t.ends_with("VirtualCdrom")))
        .map(|d| {
            (
                d.text_of("key").unwrap().trim().parse().unwrap(),
                d.at(&["deviceInfo", "label"]).unwrap().text.trim().to_owned(),
                d.at(&["connectable", "connected"]).is_some_and(|c| c.text.trim() == "true"),
                d.child("backing").and_then(|b| b.xsi_type.as_deref()).unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The host CD-ROM entries of a `mobility` JSON: (key, label).
fn host_devices(mobility: &serde_json::Value) -> Vec<(i64, String)> {
    mobility["devices"]
        .as_array()
        .unwrap_or_else(|| panic!("no devices array in {mobility}"))
        .iter()
        .filter(|d| d["reason"] == "host_device")
        .map(|d| (d["key"].as_i64().unwrap(), d["label"].as_str().unwrap().to_owned()))
        .collect()
}

/// What keeps DRS from emptying a host reaches the database with the inventory (issue 20):
/// every vcsim VM's connected host CD-ROM (label and device key as vcsim states them), its
/// datastores (each a synced datastore mounted by synced hosts), each cluster's DRS
/// configuration and each host's core speed. An unchanged resync writes none of it again;
/// a CD-ROM removed in vcsim leaves that VM with no pinning device after the next full
/// sync, and another removed while the watcher runs is applied by the watcher.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn what_pins_a_vm_is_synced_and_follows_a_removed_cdrom(admin: PgPool) {
    let (sim, worker, syncer) = synced_vcsim(&admin, &["-dc", "1", "-cluster", "1", "-host", "3", "-vm", "4"]).await;
    let vc: Uuid = sqlx::query_scalar("SELECT id FROM vcenter_instances").fetch_one(&admin).await.unwrap();

    let vms = mobility(&admin).await;
    assert_eq!(vms.len(), sim.counts.vms);
    let mut pinned_by_cdrom = Vec::new();
    for (moid, m) in &vms {
        let cdroms = vcsim_cdroms(&sim, moid).await;
        assert!(!cdroms.is_empty(), "vcsim gave {moid} no CD-ROM");
        let want: Vec<(i64, String)> = cdroms
            .iter()
            .filter(|(_, _, connected, backing)| *connected && backing.ends_with("VirtualCdromAtapiBackingInfo"))
            .map(|(key, label, _, _)| (*key, label.clone()))
            .collect();
        assert!(!want.is_empty(), "vcsim's CD-ROM of {moid} is a connected host (ATAPI) device: {cdroms:?}");
        assert_eq!(host_devices(m), want, "{moid}: {m}");
        pinned_by_cdrom.push(moid.clone());

        // Its datastores are vcsim's, each a synced datastore mounted by synced hosts.
        let truth: Vec<String> = sim
            .property("VirtualMachine", moid, "datastore")
            .await
            .unwrap()
            .children
            .iter()
            .map(|d| d.text.trim().to_owned())
            .collect();
        let stored: Vec<String> = serde_json::from_value(m["datastores"].clone()).unwrap();
        assert!(!stored.is_empty(), "{moid}: {m}");
        assert_eq!(stored, truth, "{moid}");
        for ds in &stored {
            let hosts: Option<Vec<String>> =
                sqlx::query_scalar("SELECT host_moids FROM datastores WHERE vcenter_id = $1 AND moid = $2")
                    .bind(vc)
                    .bind(ds)
                    .fetch_optional(&admin)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("{moid}'s datastore {ds} is not in the datastores table"));
            let hosts = hosts.unwrap_or_default();
            let mounts = sim.property("Datastore", ds, "host").await.unwrap();
            let mut truth: Vec<String> =
                mounts.children.iter().filter_map(|m| m.child("key")).map(|k| k.text.trim().to_owned()).collect();
            truth.sort();
            let mut sorted = hosts.clone();
            sorted.sort();
            assert!(!hosts.is_empty(), "{ds} lists no host");
            assert_eq!(sorted, truth, "{ds}: the hosts vcsim says mount it");
            let known: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM esxi_hosts WHERE vcenter_id = $1 AND moid = ANY($2) AND removed_at IS NULL",
            )
            .bind(vc)
            .bind(&hosts)
            .fetch_one(&admin)
            .await
            .unwrap();
            assert_eq!(known as usize, hosts.len(), "{ds} mounted by hosts not synced: {hosts:?}");
        }
    }
    let drs: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT moid, drs->>'enabled' FROM clusters WHERE removed_at IS NULL")
            .fetch_all(&admin)
            .await
            .unwrap();
    assert_eq!(drs.len(), sim.counts.clusters);
    assert!(drs.iter().all(|(_, on)| on.as_deref() == Some("true")), "{drs:?}");
    let speeds: Vec<(String, Option<i32>)> =
        sqlx::query_as("SELECT moid, cpu_mhz FROM esxi_hosts WHERE removed_at IS NULL")
            .fetch_all(&admin)
            .await
            .unwrap();
    for (host, mhz) in &speeds {
        let truth = sim.property("HostSystem", host, "summary.hardware.cpuMhz").await.unwrap();
        assert_eq!(*mhz, Some(truth.text.trim().parse().unwrap()), "{host}");
    }

    // Nothing changed: nothing in the ledger, no datastore row written or locked.
    let datastore_versions = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT moid || ' ' || xmin::text || '/' || xmax::text FROM datastores ORDER BY moid",
        )
        .fetch_all(&admin)
        .await
        .unwrap()
    };
    let before = datastore_versions().await;
    assert!(!before.is_empty());
    let again = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(again.outcome, Outcome::Succeeded, "{:?}", again.error);
    let changes: i64 = sqlx::query_scalar("SELECT count(*) FROM inventory_changes WHERE sync_run_id = $1")
        .bind(again.run_id)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(changes, 0, "{:?}", again.counts);
    assert_eq!(again.counts["datastores"].changed(), 0);
    assert_eq!(datastore_versions().await, before, "an unchanged resync rewrote datastore rows");

    // The first VM's CD-ROM is removed: after a full sync it has no pinning device, the
    // ledger says its mobility changed, and every other VM keeps its CD-ROM.
    let freed = pinned_by_cdrom[0].clone();
    let removed = sim.remove_cdroms(&freed).await.unwrap();
    assert!(!removed.is_empty());
    assert!(vcsim_cdroms(&sim, &freed).await.is_empty(), "vcsim still has the CD-ROM");
    let resync = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(resync.outcome, Outcome::Succeeded, "{:?}", resync.error);
    let after = mobility(&admin).await;
    for (moid, m) in &after {
        if *moid == freed {
            assert_eq!(m["devices"], serde_json::json!([]), "{moid}: {m}");
            assert!(!m["datastores"].as_array().unwrap().is_empty(), "its datastores stay: {m}");
        } else {
            assert_eq!(host_devices(m).len(), 1, "{moid} lost its CD-ROM too: {m}");
        }
    }
    let diffs: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT v.moid, ARRAY(SELECT jsonb_object_keys(c.diff)) FROM inventory_changes c
         JOIN virtual_machines v ON v.id = c.entity_id WHERE c.sync_run_id = $1",
    )
    .bind(resync.run_id)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(diffs, [(freed.clone(), vec!["mobility".to_owned()])]);

    // While the watcher runs, a second VM's CD-ROM goes: the watcher applies it.
    let Watching { source, mut listener, stop_tx, watcher } = start_watching(&admin, &syncer).await;
    announced(&mut listener, &source.id.to_string()).await;
    let second = pinned_by_cdrom[1].clone();
    assert!(!sim.remove_cdroms(&second).await.unwrap().is_empty());
    announced(&mut listener, &second).await;
    let watched = mobility(&admin).await;
    let m = &watched.iter().find(|(moid, _)| *moid == second).unwrap().1;
    assert_eq!(m["devices"], serde_json::json!([]), "the watcher applied the removal: {m}");
    let still: usize = watched.iter().filter(|(_, m)| host_devices(m).len() == 1).count();
    assert_eq!(still, vms.len() - 2, "only the two VMs lost their CD-ROM");
    let _ = stop_tx.send(true);
    watcher.await.unwrap().unwrap();
    worker.drop_role().await;
}

/// The vCenter source's watcher running, with a listener on `eio_inventory` (started
/// before the watcher, so it sees the watcher's first batch).
struct Watching {
    source: sync::SourceRow,
    listener: PgListener,
    stop_tx: tokio::sync::watch::Sender<bool>,
    watcher: tokio::task::JoinHandle<eio_core::Result<Vec<eio_engine::sync::ledger::RunReport>>>,
}

/// Issue 20 against vcsim: a host whose running VMs have connected host CD-ROMs gets
/// them as predicted blockers, the device as the reason and its label and key as the
/// evidence; with the CD-ROMs removed and a resync, none.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_plan_predicts_vcsims_host_cdroms_until_they_are_removed(admin: PgPool) {
    use eio_core::jobs::{plan, JobSpec, Policy};
    let (sim, _worker, syncer) = synced_vcsim(&admin, &["-dc", "1", "-cluster", "1", "-host", "3", "-vm", "4"]).await;
    let db = Database::from_pool(admin.clone());
    let policy: Policy = serde_json::from_value(serde_json::json!({"allow_vm_shutdown": false,
        "allow_hard_poweroff": false, "vm_limit": 5, "shutdown_timeout_seconds": 300, "require_approval": true}))
    .unwrap();
    let spec = |host: &str| -> JobSpec {
        serde_json::from_value(serde_json::json!({"type": "maintenance_mode", "hosts": [host]})).unwrap()
    };
    let hosts: Vec<String> = sqlx::query_scalar(
        "SELECT moid FROM esxi_hosts WHERE cluster_id IS NOT NULL AND removed_at IS NULL ORDER BY moid",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    // vcsim lists one host per datastore: the host whose VMs' datastores another host
    // mounts is the one judged on its devices alone.
    let mut chosen = None;
    for host in &hosts {
        let p = plan::compute(&db, &spec(host), &policy).await.unwrap();
        if !p.blockers.is_empty() && p.blockers.iter().all(|b| b.reason_code == "host_device") {
            chosen = Some((host.clone(), p));
            break;
        }
    }
    let (host, p) = chosen.expect("a vcsim host whose running VMs are held by their CD-ROMs alone");
    let running: Vec<String> = sqlx::query_scalar(
        "SELECT v.moid FROM virtual_machines v JOIN esxi_hosts h ON h.id = v.host_id
         WHERE h.moid = $1 AND v.power_state = 'powered_on' AND v.removed_at IS NULL ORDER BY v.name",
    )
    .bind(&host)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(!running.is_empty());
    let named: Vec<String> = p.blockers.iter().filter_map(|b| b.vm_moid.clone()).collect();
    assert_eq!(named, running, "every running VM of {host}, once: {:#?}", p.blockers);
    for b in &p.blockers {
        let vm = b.vm_moid.as_deref().unwrap_or_default();
        let cdrom = vcsim_cdroms(&sim, vm).await.into_iter().find(|c| c.2).expect("a connected CD-ROM");
        assert_eq!(b.evidence.as_deref(), Some(format!("{} (key {})", cdrom.1, cdrom.0).as_str()));
        assert_eq!(b.reason, format!("a device of the host is attached ({})", cdrom.1));
    }

    for vm in &running {
        assert!(!sim.remove_cdroms(vm).await.unwrap().is_empty());
    }
    let resync = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(resync.outcome, Outcome::Succeeded, "{:?}", resync.error);
    let p = plan::compute(&db, &spec(&host), &policy).await.unwrap();
    assert_eq!(p.blockers, [], "the CD-ROMs are gone");
}

/// A cluster that cannot lose a host: memory reservations set on govmomi's simulator (a
/// real ReconfigVM_Task) that the other two hosts can't hold are predicted, for any host of
/// the cluster, as a capacity blocker with the hosts left as evidence; once the
/// reservations are lifted and resynced, none.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_plan_predicts_a_cluster_that_cannot_lose_a_host(admin: PgPool) {
    use eio_core::jobs::{plan, JobSpec, Policy};
    let (sim, _worker, syncer) = synced_vcsim(&admin, &["-dc", "1", "-cluster", "1", "-host", "3", "-vm", "4"]).await;
    let db = Database::from_pool(admin.clone());
    let policy: Policy = serde_json::from_value(serde_json::json!({"allow_vm_shutdown": false,
        "allow_hard_poweroff": false, "vm_limit": 5, "shutdown_timeout_seconds": 300, "require_approval": true}))
    .unwrap();
    let hosts: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT moid, name, memory_mb::bigint FROM esxi_hosts WHERE cluster_id IS NOT NULL AND removed_at IS NULL
         ORDER BY moid",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(hosts.len(), 3);
    let vms: Vec<String> = sqlx::query_scalar(
        "SELECT v.moid FROM virtual_machines v JOIN esxi_hosts h ON h.id = v.host_id
         WHERE h.cluster_id IS NOT NULL AND v.power_state = 'powered_on' AND v.removed_at IS NULL ORDER BY v.moid",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(!vms.is_empty());
    // Together the running VMs reserve 1 GiB more than the two largest hosts hold.
    let mut sizes: Vec<i64> = hosts.iter().map(|h| h.2).collect();
    sizes.sort_unstable();
    let two_largest = sizes[1] + sizes[2];
    let each = (two_largest + 1024) / vms.len() as i64 + 1;
    for vm in &vms {
        sim.reserve_memory(vm, each).await.unwrap();
    }
    let resync = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(resync.outcome, Outcome::Succeeded, "{:?}", resync.error);
    let capacity = |p: &plan::Plan| -> Vec<plan::PredictedBlocker> {
        p.blockers.iter().filter(|b| b.reason_code == "insufficient_resources").cloned().collect()
    };
    for (moid, name, _) in &hosts {
        let spec: JobSpec =
            serde_json::from_value(serde_json::json!({"type": "maintenance_mode", "hosts": [moid]})).unwrap();
        let p = plan::compute(&db, &spec, &policy).await.unwrap();
        let found = capacity(&p);
        assert_eq!(found.len(), 1, "{name}: {:#?}", p.blockers);
        assert!(
            found[0].reason.starts_with(&format!("with {name} out, the cluster's memory reservations")),
            "{found:?}"
        );
        assert_eq!(found[0].vm_moid, None);
        let left: Vec<&str> = hosts.iter().filter(|h| h.1 != *name).map(|h| h.1.as_str()).collect();
        assert_eq!(found[0].evidence.as_deref(), Some(format!("hosts left: {}", left.join(", ")).as_str()));
    }
    for vm in &vms {
        sim.reserve_memory(vm, 0).await.unwrap();
    }
    let resync = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(resync.outcome, Outcome::Succeeded, "{:?}", resync.error);
    let spec: JobSpec =
        serde_json::from_value(serde_json::json!({"type": "maintenance_mode", "hosts": [hosts[0].0]})).unwrap();
    assert_eq!(capacity(&plan::compute(&db, &spec, &policy).await.unwrap()), []);
}

async fn start_watching(admin: &PgPool, syncer: &Syncer) -> Watching {
    let source = sync::sources(&syncer.db, SourceKind::Vcenter, None).await.unwrap().remove(0);
    let mut listener = PgListener::connect_with(admin).await.unwrap();
    listener.listen("eio_inventory").await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = {
        let (syncer, source) = (syncer.clone(), source.clone());
        tokio::spawn(async move { vcenter::watch(&syncer, &source, stop_rx).await })
    };
    Watching { source, listener, stop_tx, watcher }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_watcher_applies_a_power_off_as_it_happens(admin: PgPool) {
    let (sim, worker, syncer) =
        synced_vcsim(&admin, &["-dc", "1", "-cluster", "1", "-host", "4", "-vm", "1000", "-standalone-host", "0"])
            .await;

    let Watching { source, mut listener, stop_tx, watcher } = start_watching(&admin, &syncer).await;

    // Wait until the watcher's baseline batch has been applied, then act.
    let session = Session::login(&sim.config()).await.unwrap();
    let victim: String = sqlx::query_scalar(
        "SELECT moid FROM virtual_machines WHERE power_state = 'powered_on' AND removed_at IS NULL ORDER BY name LIMIT 1",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    let baseline =
        tokio::time::timeout(Duration::from_secs(120), listener.recv()).await.expect("baseline batch").unwrap();
    assert!(baseline.payload().contains(&source.id.to_string()));

    let started = Instant::now();
    session.power_off_vm(&victim).await.unwrap();
    let latency = loop {
        let n = tokio::time::timeout(Duration::from_secs(60), listener.recv())
            .await
            .expect("the watcher announced the change")
            .unwrap();
        if n.payload().contains(&victim) {
            break started.elapsed();
        }
    };
    let state: String = sqlx::query_scalar("SELECT power_state::text FROM virtual_machines WHERE moid = $1")
        .bind(&victim)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(state, "powered_off");
    println!("delta sync: power-off of {victim} in the database {} ms after the task", latency.as_millis());
    let delta_runs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sync_runs WHERE kind = 'delta' AND status = 'succeeded'")
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(delta_runs >= 1);

    let _ = stop_tx.send(true);
    watcher.await.unwrap().unwrap();
    session.logout().await.unwrap();
    worker.drop_role().await;
}

/// A guest IP that appears while the watcher runs reaches the findings: the watcher runs
/// site inference and the findings engine over its changes (here without the usual 15 s
/// gathering window) and announces it on `eio_inventory`.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn findings_follow_the_changes_the_watcher_applies(admin: PgPool) {
    guest_ip_reaches_the_findings(admin, Duration::ZERO).await;
}

/// A change the watcher applied just before it was stopped still reaches the findings:
/// stopping runs the refresh that was gathering (here for an hour) instead of dropping it.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_watcher_stopped_while_changes_gather_still_refreshes_the_findings(admin: PgPool) {
    guest_ip_reaches_the_findings(admin, Duration::from_secs(3600)).await;
}

/// Set a guest IP in vcsim while the watcher runs; with no gathering window, wait for the
/// watcher's own refresh, otherwise for the change and then stop the watcher. Either way
/// the address is an open finding, observed on that VM.
async fn guest_ip_reaches_the_findings(admin: PgPool, gather: Duration) {
    let sim = Vcsim::start(&["-dc", "1", "-cluster", "1", "-host", "2", "-vm", "5", "-standalone-host", "0"]);
    let (worker, mut syncer) =
        setup(&admin, sim.sdk_url.as_str(), sim.thumbprint.to_string(), &sim.username, &sim.password).await;
    syncer.derived_after_changes = gather;
    let report = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);
    let finding = "SELECT count(*) FROM ipam_findings WHERE type = 'outside_any_prefix' AND address = '10.77.9.9'::inet
                   AND resolved_at IS NULL";
    let open: i64 = sqlx::query_scalar(finding).fetch_one(&admin).await.unwrap();
    assert_eq!(open, 0, "no such address yet");

    let Watching { source, mut listener, stop_tx, watcher } = start_watching(&admin, &syncer).await;
    // The baseline batch first (the watcher's own view of the inventory), then the change.
    let baseline =
        tokio::time::timeout(Duration::from_secs(120), listener.recv()).await.expect("baseline batch").unwrap();
    assert!(baseline.payload().contains(&source.id.to_string()));

    let session = Session::login(&sim.config()).await.unwrap();
    let vm: String =
        sqlx::query_scalar("SELECT moid FROM virtual_machines WHERE removed_at IS NULL ORDER BY name LIMIT 1")
            .fetch_one(&admin)
            .await
            .unwrap();
    session.set_vm_extra_config(&vm, &[("SET.guest.ipAddress", "10.77.9.9")]).await.unwrap();
    loop {
        let n = tokio::time::timeout(Duration::from_secs(60), listener.recv())
            .await
            .expect("the watcher announced the change")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
        if gather.is_zero() && v["derived"] == serde_json::Value::Bool(true) {
            let open: i64 = sqlx::query_scalar(finding).fetch_one(&admin).await.unwrap();
            if open == 1 {
                break;
            }
        }
        if !gather.is_zero() && n.payload().contains(&vm) {
            let open: i64 = sqlx::query_scalar(finding).fetch_one(&admin).await.unwrap();
            assert_eq!(open, 0, "the refresh is still gathering");
            break;
        }
    }
    let _ = stop_tx.send(true);
    watcher.await.unwrap().unwrap();
    let open: i64 = sqlx::query_scalar(finding).fetch_one(&admin).await.unwrap();
    assert_eq!(open, 1, "the finding is open once the watcher has stopped");
    let carriers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ip_observations o JOIN virtual_machines v ON v.id = o.entity_id
         WHERE o.address = '10.77.9.9'::inet AND o.gone_at IS NULL AND v.moid = $1",
    )
    .bind(&vm)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(carriers, 1, "the observation came from the delta, on that VM");
    session.logout().await.unwrap();
    worker.drop_role().await;
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn every_fault_is_a_clear_error_and_the_last_good_inventory_stays_byte_for_byte(admin: PgPool) {
    let lab = LabVcenter::start(LabModel {
        datacenters: 1,
        clusters_per_datacenter: 2,
        hosts_per_cluster: 2,
        standalone_hosts_per_datacenter: 1,
        vms_per_host: 6,
    })
    .await
    .unwrap();
    let (worker, mut syncer) =
        setup(&admin, &lab.sdk_url, lab.thumbprint.to_string(), lab.username(), lab.password()).await;
    syncer.vcenter_page_size = 7;
    syncer.request_timeout = Duration::from_secs(2);
    let good = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(good.outcome, Outcome::Succeeded, "{:?}", good.error);
    assert_eq!(count(&admin, "virtual_machines").await as usize, lab.model.vms());
    // One shared datastore per cluster, one local to each host.
    let datastores: i64 = sqlx::query_scalar("SELECT count(*) FROM datastores").fetch_one(&admin).await.unwrap();
    assert_eq!(datastores as usize, lab.model.clusters() + lab.model.hosts());

    let image = || async {
        let mut out = String::new();
        for (table, key) in [
            ("datacenters", "id"),
            ("clusters", "id"),
            ("esxi_hosts", "id"),
            ("virtual_machines", "id"),
            ("datastores", "moid"),
            ("ip_observations", "id"),
        ] {
            let rows: Vec<String> =
                sqlx::query_scalar(&format!("SELECT row_to_json(t)::text FROM {table} t ORDER BY {key}"))
                    .fetch_all(&admin)
                    .await
                    .unwrap();
            out.push_str(&rows.join("\n"));
        }
        out
    };
    let before = image().await;

    let faults: Vec<(Option<LabFault>, &str)> = vec![
        (Some(LabFault::SlowRetrieve(Duration::from_secs(30))), "within"),
        (Some(LabFault::TruncatedPage), ""),
        (Some(LabFault::FaultOnContinue), ""),
        (Some(LabFault::EntityBomb), ""),
    ];
    for (fault, words) in faults {
        lab.inject(fault.clone());
        let r = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
        assert_eq!(r.outcome, Outcome::Failed, "{fault:?}");
        let error = r.error.clone().unwrap();
        assert!(!error.is_empty() && error.contains(words), "{fault:?}: {error}");
        assert_eq!(image().await, before, "{fault:?} changed the inventory");
    }
    lab.inject(None);

    // A wrong password and a wrong certificate fail the same clean way.
    let db = Database::from_pool(admin.clone());
    ids::rotate(&db, "vc", &Credentials::new(lab.username(), "wrong-password")).await.unwrap();
    let r = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(r.outcome, Outcome::Failed);
    assert!(r.error.as_deref().unwrap().to_lowercase().contains("login"), "{:?}", r.error);
    assert!(!r.error.as_deref().unwrap().contains("wrong-password"));
    ids::rotate(&db, "vc", &Credentials::new(lab.username(), lab.password())).await.unwrap();
    sqlx::query("UPDATE vcenter_instances SET thumbprint_sha256 = repeat('ab', 32)").execute(&admin).await.unwrap();
    let r = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(r.outcome, Outcome::Failed);
    assert!(r.error.as_deref().unwrap().contains(&lab.thumbprint.to_string()), "{:?}", r.error);
    assert_eq!(image().await, before);

    // Paging: the good sync used several pages (vcsim can't show this).
    assert!(good.api_calls >= 4 + (lab.objects().len() as u64) / 7, "{} calls", good.api_calls);
    worker.drop_role().await;
}

/// How many times `table` was analyzed by hand (not by autovacuum) in this database.
async fn manual_analyzes(admin: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar("SELECT analyze_count FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = $1")
        .bind(table)
        .fetch_one(admin)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_bulk_first_sync_refreshes_planner_statistics_and_an_unchanged_one_does_not(admin: PgPool) {
    // 800 VMs: a wholesale change for an empty table. Without fresh statistics the next sync
    // was planned for an empty table (a nested-loop anti-join: 38 s instead of ms at 10k VMs).
    let lab = LabVcenter::start(LabModel {
        datacenters: 1,
        clusters_per_datacenter: 2,
        hosts_per_cluster: 4,
        standalone_hosts_per_datacenter: 0,
        vms_per_host: 100,
    })
    .await
    .unwrap();
    let (worker, syncer) =
        setup(&admin, &lab.sdk_url, lab.thumbprint.to_string(), lab.username(), lab.password()).await;
    assert_eq!(manual_analyzes(&admin, "virtual_machines").await, 0);

    // As the worker login (not the owner): the SECURITY DEFINER function analyzes for it.
    let first = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(first.outcome, Outcome::Succeeded, "{:?}", first.error);
    assert_eq!(manual_analyzes(&admin, "virtual_machines").await, 1);
    assert_eq!(manual_analyzes(&admin, "inventory_changes").await, 1);
    // Eight hosts are too few to matter: no ANALYZE for them.
    assert_eq!(manual_analyzes(&admin, "esxi_hosts").await, 0);
    let estimate: f32 = sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'virtual_machines'::regclass")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(estimate as usize, lab.model.vms());

    let confirmed = || async {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>("SELECT last_full_sync_at FROM vcenter_instances")
            .fetch_one(&admin)
            .await
            .unwrap()
    };
    let first_confirmed = confirmed().await;
    let versions = || async {
        sqlx::query_scalar::<_, Vec<String>>("SELECT array_agg(xmin::text ORDER BY id) FROM virtual_machines")
            .fetch_one(&admin)
            .await
            .unwrap()
    };
    let before = versions().await;

    let again = vcenter::sync_vcenters(&syncer, None).await.unwrap().remove(0);
    assert_eq!(again.outcome, Outcome::Succeeded, "{:?}", again.error);
    assert_eq!(again.counts["virtual_machines"].changed(), 0);
    assert_eq!(manual_analyzes(&admin, "virtual_machines").await, 1, "an unchanged resync analyzes nothing");
    // Unchanged rows are not rewritten, yet they read as confirmed by the second sync.
    assert_eq!(versions().await, before, "an unchanged resync rewrote VM rows");
    let second_confirmed = confirmed().await;
    assert!(second_confirmed > first_confirmed);
    let listed = eio_core::inventory::vms(&Database::from_pool(admin.clone()), None, 5).await.unwrap();
    assert_eq!(listed.len(), 5);
    assert!(
        listed.iter().all(|v| v.last_sync == second_confirmed),
        "{:?}",
        listed.iter().map(|v| v.last_sync).collect::<Vec<_>>()
    );
    worker.drop_role().await;
}

/// The next `eio_inventory` notification that names `what`.
async fn announced(listener: &mut PgListener, what: &str) {
    loop {
        let n = tokio::time::timeout(Duration::from_secs(60), listener.recv())
            .await
            .unwrap_or_else(|_| panic!("no announcement naming {what}"))
            .unwrap();
        if n.payload().contains(what) {
            return;
        }
    }
}

async fn delta_runs_by(admin: &PgPool, worker: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sync_runs WHERE kind = 'delta' AND worker = $1")
        .bind(worker)
        .fetch_one(admin)
        .await
        .unwrap()
}

/// Two instances watching one vCenter: the one holding the `watch:vcenter:<id>` lease
/// applies the changes, the other stands by; when the first stops it hands the lease back
/// and the second takes over and applies what happens next.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn one_instance_watches_a_vcenter_and_another_takes_over_when_it_stops(admin: PgPool) {
    let sim = Vcsim::start(&["-dc", "1", "-cluster", "1", "-host", "2", "-vm", "5", "-standalone-host", "0"]);
    let (worker, mut first) =
        setup(&admin, sim.sdk_url.as_str(), sim.thumbprint.to_string(), &sim.username, &sim.password).await;
    first.watch_lease = Duration::from_secs(3);
    first.worker = "instance-a".into();
    let mut second = first.clone();
    second.worker = "instance-b".into();
    let report = vcenter::sync_vcenters(&first, None).await.unwrap().remove(0);
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.error);

    let Watching { source, mut listener, stop_tx, watcher } = start_watching(&admin, &first).await;
    let source_id = source.id.to_string();
    announced(&mut listener, &source_id).await;
    let owner = lease_owner(&admin, &source_id).await;
    assert!(owner.starts_with("instance-a/"), "{owner}");
    let standby = start_watching(&admin, &second).await;

    let session = Session::login(&sim.config()).await.unwrap();
    let vms: Vec<String> =
        sqlx::query_scalar("SELECT moid FROM virtual_machines WHERE power_state = 'powered_on' ORDER BY name LIMIT 2")
            .fetch_all(&admin)
            .await
            .unwrap();
    session.power_off_vm(&vms[0]).await.unwrap();
    announced(&mut listener, &vms[0]).await;
    assert_eq!(delta_runs_by(&admin, "instance-b").await, 0, "the instance standing by applied nothing");

    let _ = stop_tx.send(true);
    watcher.await.unwrap().unwrap();
    // The second instance takes the lease and starts with its own baseline batch.
    let Watching { mut listener, stop_tx, watcher, .. } = standby;
    while delta_runs_by(&admin, "instance-b").await == 0 {
        announced(&mut listener, &source_id).await;
    }
    session.power_off_vm(&vms[1]).await.unwrap();
    announced(&mut listener, &vms[1]).await;
    let state: String = sqlx::query_scalar("SELECT power_state::text FROM virtual_machines WHERE moid = $1")
        .bind(&vms[1])
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(state, "powered_off");
    let _ = stop_tx.send(true);
    watcher.await.unwrap().unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM leases").fetch_one(&admin).await.unwrap();
    assert_eq!(left, 0, "a stopped watcher hands its lease back");
    session.logout().await.unwrap();
    worker.drop_role().await;
}

/// A worker pool started with `watch_vcenters` keeps a watcher on every enabled vCenter
/// beside its jobs: a source enabled while it runs is picked up at its next look, a
/// power-off in vcsim then reaches the database without anyone running `eio sync
/// --watch`, an edit to the source restarts its watcher, and stopping the pool stops the
/// watcher and hands its lease back.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_worker_pool_with_watch_vcenters_watches_every_enabled_vcenter(admin: PgPool) {
    let (sim, worker, syncer) =
        synced_vcsim(&admin, &["-dc", "1", "-cluster", "1", "-host", "2", "-vm", "5", "-standalone-host", "0"]).await;
    let source = sync::sources(&syncer.db, SourceKind::Vcenter, None).await.unwrap().remove(0);
    let source_id = source.id.to_string();
    sqlx::query("UPDATE vcenter_instances SET enabled = false WHERE id = $1")
        .bind(source.id)
        .execute(&admin)
        .await
        .unwrap();

    let mut listener = PgListener::connect_with(&admin).await.unwrap();
    listener.listen("eio_inventory").await.unwrap();
    let mut cfg = WorkerConfig::new("pool-with-watchers", "worker");
    cfg.watch_vcenters = Some(Duration::from_millis(200));
    let pool = Worker::new(syncer.clone(), cfg);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(async move { pool.run(stop_rx).await });

    // Enabled while the pool runs: its watcher starts with a baseline batch.
    sqlx::query("UPDATE vcenter_instances SET enabled = true WHERE id = $1")
        .bind(source.id)
        .execute(&admin)
        .await
        .unwrap();
    announced(&mut listener, &source_id).await;
    let session = Session::login(&sim.config()).await.unwrap();
    let vm: String = sqlx::query_scalar(
        "SELECT moid FROM virtual_machines WHERE power_state = 'powered_on' AND removed_at IS NULL ORDER BY name LIMIT 1",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    session.power_off_vm(&vm).await.unwrap();
    announced(&mut listener, &vm).await;
    let state: String = sqlx::query_scalar("SELECT power_state::text FROM virtual_machines WHERE moid = $1")
        .bind(&vm)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(state, "powered_off");
    let owner = lease_owner(&admin, &source_id).await;
    assert!(owner.starts_with("test-worker/"), "{owner}");

    // Edited while watched: the watcher is stopped and started again with the new row, and
    // the new one begins with a baseline naming every object (the old one's batches name
    // only what changed).
    let all_vms: Vec<String> = sqlx::query_scalar("SELECT moid FROM virtual_machines WHERE removed_at IS NULL")
        .fetch_all(&admin)
        .await
        .unwrap();
    assert_eq!(all_vms.len(), 5);
    sqlx::query("UPDATE vcenter_instances SET name = 'vc-renamed' WHERE id = $1")
        .bind(source.id)
        .execute(&admin)
        .await
        .unwrap();
    loop {
        let n = tokio::time::timeout(Duration::from_secs(60), listener.recv())
            .await
            .expect("the restarted watcher's baseline")
            .unwrap();
        if n.payload().contains(&source_id) && all_vms.iter().all(|vm| n.payload().contains(vm.as_str())) {
            break;
        }
    }
    let new_owner = lease_owner(&admin, &source_id).await;
    assert_ne!(new_owner, owner, "a new watcher holds the lease");

    let _ = stop_tx.send(true);
    running.await.unwrap().unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM leases").fetch_one(&admin).await.unwrap();
    assert_eq!(left, 0, "the pool's watcher stopped with it and handed its lease back");
    session.logout().await.unwrap();
    worker.drop_role().await;
}
