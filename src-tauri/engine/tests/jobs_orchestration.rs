//! Orchestration jobs end to end against the lab simulators over real HTTPS: the inventory
//! synced by the real connectors, jobs run by real workers, and every external action
//! counted by the simulators' ledgers.
//!
//! * The maintenance-mode gate: a VM that can't move pauses the job before anything is
//!   asked of vCenter, with the VM and its reason listed; the default policy refuses a
//!   shutdown; the operator's "suspend" is applied once and the host then enters.
//! * A rolling firmware update over three hosts, one at a time, each component staged,
//!   applied by one reset, verified; every action issued exactly once. With an iDRAC7 among
//!   them, that host gets the package over WSMan (InstallFromURI from the worker, one
//!   CreateRebootJob + SetupJobQueue), its `JID_…` and `RID_…` recorded before waiting.
//! * Crash safety: the same rolling update while workers are killed at random points, over
//!   and over: it still ends succeeded and no action is issued twice.
use std::sync::Arc;
use std::time::Duration;

use eio_connectors::idrac::Generation;
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities as ids;
use eio_core::jobs::{JobSpec, Policy};
use eio_core::sources::{self, IdentityChoice, NewSource, SourceKind, TlsChoice};
use eio_core::Database;
use eio_engine::jobs::{Worker, WorkerConfig};
use eio_engine::sync::{dell, vcenter, RetryPolicy, Syncer};
use eio_lab::dell::{lab_image, DellLab};
use eio_lab::vcenter::model::service_tag;
use eio_lab::vcenter::{LabBlock, LabModel, LabVcenter};
use eio_secret::Credentials;
use serde_json::json;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use uuid::Uuid;

const BIOS: &str = "BIOS.Setup.1-1";
const NEW_BIOS: &str = "2.99.1";
/// The iDRACs' password: it must never show up in anything a job writes.
const PLANTED: &str = "PLANTED-idrac-pw-7d3e1a-do-not-leak";

struct Estate {
    vc: LabVcenter,
    dell: DellLab,
    key: WorkerKey,
    hosts: Vec<String>,
}

/// A lab vCenter (one cluster of `hosts` hosts) and one lab iDRAC per host (service tags
/// matching), added as sources, synced and mapped through the production code paths.
async fn estate(admin: &PgPool, hosts: usize) -> Estate {
    estate_of(admin, hosts, &[(Generation::Idrac9, 1)]).await
}

/// [`estate`] with iDRACs of these generations (cycled through in host order).
async fn estate_of(admin: &PgPool, hosts: usize, generations: &[(Generation, usize)]) -> Estate {
    estate_with(admin, hosts, generations, |_, _| {}).await
}

/// [`estate_of`], each server's spec changed by `change` (its index, its spec) before the lab
/// starts (what OME reports, too).
async fn estate_with(
    admin: &PgPool,
    hosts: usize,
    generations: &[(Generation, usize)],
    change: fn(usize, &mut eio_lab::dell::ServerSpec),
) -> Estate {
    let vc = LabVcenter::start(LabModel::one_cluster(hosts, 3)).await.unwrap();
    // With an OpenManage Enterprise holding the servers to its baseline.
    let mut builder =
        DellLab::builder().bmcs(hosts).generation_mix(generations).credentials("root", PLANTED).with_ome();
    for i in 0..hosts {
        builder = builder.customize(i, move |s| {
            s.service_tag = service_tag(i);
            change(i, s);
        });
    }
    let dell_lab = builder.build().await.unwrap();
    let key = WorkerKey::generate();
    let db = Database::from_pool(admin.clone());
    ids::trust_worker_key(&db, &key.public_key(), "test").await.unwrap();
    sources::add(
        &db,
        &NewSource {
            kind: SourceKind::Vcenter,
            name: "vc".into(),
            url: vc.sdk_url.to_string(),
            identity: IdentityChoice::New {
                name: None,
                credentials: Credentials::new(vc.username(), vc.password()),
                rotation_period_days: 90,
            },
            tls: TlsChoice { thumbprint: Some(vc.thumbprint.to_string()), insecure: false },
            site: None,
            driver: None,
        },
    )
    .await
    .unwrap();
    let creds = dell_lab.credentials();
    for (i, bmc) in dell_lab.bmcs.iter().enumerate() {
        sources::add(
            &db,
            &NewSource {
                kind: SourceKind::Idrac,
                name: format!("bmc-{i:02}"),
                url: bmc.url.to_string(),
                identity: if i == 0 {
                    IdentityChoice::New {
                        name: Some("idrac-fleet".into()),
                        credentials: Credentials::new(creds.username.clone(), creds.password.clone()),
                        rotation_period_days: 90,
                    }
                } else {
                    IdentityChoice::Existing("idrac-fleet".into())
                },
                tls: TlsChoice {
                    thumbprint: bmc.thumbprint.map(|t| t.to_string()),
                    insecure: bmc.thumbprint.is_none(),
                },
                site: None,
                driver: None,
            },
        )
        .await
        .unwrap();
    }
    let syncer = syncer(admin, key.clone(), "sync");
    for r in vcenter::sync_vcenters(&syncer, None).await.unwrap() {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    for r in dell::sync_idracs(&syncer, None).await.unwrap() {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    dell::refresh_mappings(&syncer).await.unwrap();
    let mapped: i64 = sqlx::query_scalar("SELECT count(*) FROM server_mappings WHERE status = 'active'")
        .fetch_one(admin)
        .await
        .unwrap();
    assert_eq!(mapped as usize, hosts, "every host mapped to its server");
    // The test's superuser acts as an EIO admin for decisions.
    sqlx::query("INSERT INTO users (email, role, login_role) VALUES ('admin@lab.test', 'admin', current_user)")
        .execute(admin)
        .await
        .unwrap();
    let hosts: Vec<String> = sqlx::query_scalar("SELECT moid FROM esxi_hosts WHERE removed_at IS NULL ORDER BY name")
        .fetch_all(admin)
        .await
        .unwrap();
    Estate { vc, dell: dell_lab, key, hosts }
}

fn syncer(pool: &PgPool, key: WorkerKey, id: &str) -> Syncer {
    let mut s = Syncer::new(Database::from_pool(pool.clone()), key, id);
    s.retry = RetryPolicy { attempts: 2, first_backoff: Duration::ZERO };
    s.request_timeout = Duration::from_secs(10);
    s
}

fn worker(pool: &PgPool, key: WorkerKey, id: &str, ttl: Duration) -> Worker {
    let mut cfg = WorkerConfig::new(id, "worker");
    cfg.lease_ttl = ttl;
    cfg.heartbeat_every = ttl / 4;
    cfg.idle_poll = Duration::from_millis(300);
    cfg.task_poll = Duration::from_millis(10);
    Worker::new(syncer(pool, key, id), cfg)
}

async fn insert_job(pool: &PgPool, job_type: &str, target: serde_json::Value, policy: serde_json::Value) -> Uuid {
    let mut p = json!({"allow_vm_shutdown": false, "allow_hard_poweroff": false, "vm_limit": 5,
                       "shutdown_timeout_seconds": 300, "require_approval": false});
    p.as_object_mut().unwrap().extend(policy.as_object().unwrap().clone());
    sqlx::query_scalar(
        "INSERT INTO jobs (type, status, title, target, policy) VALUES ($1::job_type, 'pending', 'test', $2, $3) RETURNING id",
    )
    .bind(job_type)
    .bind(target)
    .bind(p)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Wait on job notifications (never a sleep) until the job's status is one of `statuses`.
async fn wait_status(pool: &PgPool, job: Uuid, statuses: &[&str]) -> String {
    let mut listener = PgListener::connect_with(pool).await.unwrap();
    listener.listen_all(["eio_jobs", "eio_job_events"]).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let s: String =
            sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(job).fetch_one(pool).await.unwrap();
        if statuses.contains(&s.as_str()) {
            return s;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "job {job} still {s}");
        let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), listener.recv()).await;
    }
}

/// Wait for the job to end or pause, and assert how (the whole row when it is not `want`).
async fn assert_ends(pool: &PgPool, job: Uuid, want: &str) {
    let end = wait_status(pool, job, &["paused", "failed", "succeeded"]).await;
    let row: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT to_jsonb(j) FROM jobs j WHERE id = $1").bind(job).fetch_one(pool).await.unwrap();
    assert_eq!(end, want, "{row:?}");
}

async fn pause_reason(pool: &PgPool, job: Uuid) -> serde_json::Value {
    sqlx::query_scalar("SELECT pause_reason FROM jobs WHERE id = $1").bind(job).fetch_one(pool).await.unwrap()
}

struct Pool {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn start_workers(pool: &PgPool, key: &WorkerKey, n: usize, ttl: Duration) -> Pool {
    let (stop, rx) = tokio::sync::watch::channel(false);
    let tasks = (0..n)
        .map(|i| {
            let w = Arc::new(worker(pool, key.clone(), &format!("w-{i}-{}", Uuid::new_v4().simple()), ttl));
            let rx = rx.clone();
            tokio::spawn(async move { w.run(rx).await.unwrap() })
        })
        .collect();
    Pool { stop, tasks }
}

impl Pool {
    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            t.await.unwrap();
        }
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_blocked_evacuation_pauses_with_the_vms_and_the_operators_choice_is_applied_once(admin: PgPool) {
    let e = estate(&admin, 3).await;
    let host = e.hosts[0].clone();
    let on_host = e.vc.host(&host).unwrap().vms;
    let stuck = on_host[0].clone();
    assert!(e.vc.block_vm(&stuck, LabBlock::LocalStorage, "its disk is on the host's local datastore"));
    let job =
        insert_job(&admin, "maintenance_mode", json!({"type": "maintenance_mode", "hosts": [host]}), json!({})).await;
    let workers = start_workers(&admin, &e.key, 2, Duration::from_secs(30));

    assert_eq!(wait_status(&admin, job, &["paused", "failed", "succeeded"]).await, "paused");
    let reason = pause_reason(&admin, job).await;
    assert_eq!(reason["kind"], "blocked_evacuation", "{reason}");
    let blocking = reason["blocking_vms"].as_array().unwrap();
    assert!(blocking.iter().any(|b| b["vm_moid"] == json!(stuck) && b["reason_code"] == "local_storage"), "{reason}");
    assert!(blocking.iter().all(|b| b["vm_moid"] == json!(stuck)), "only the stuck VM blocks: {reason}");
    assert!(!reason["choices"].as_array().unwrap().contains(&json!("shutdown")), "the default policy forbids it");
    // Nothing was asked of vCenter: no maintenance task, no VM touched.
    assert_eq!(e.vc.action_count("EnterMaintenanceMode_Task", &host), 0);
    assert_eq!(e.vc.action_count("ShutdownGuest", &stuck), 0);

    // The default policy never shuts a VM down, even when asked.
    let refused = sqlx::query("SELECT decide_job($1, 'shutdown', ARRAY[$2])")
        .bind(job)
        .bind(&stuck)
        .execute(&admin)
        .await
        .unwrap_err();
    assert_eq!(refused.as_database_error().and_then(|e| e.code()).as_deref(), Some("42501"), "{refused}");
    assert!(refused.to_string().contains("allow_vm_shutdown"), "{refused}");
    // A VM that does not block can't be chosen.
    let other = sqlx::query("SELECT decide_job($1, 'suspend', ARRAY[$2])")
        .bind(job)
        .bind(&on_host[1])
        .execute(&admin)
        .await
        .unwrap_err();
    assert_eq!(other.as_database_error().and_then(|e| e.code()).as_deref(), Some("22023"), "{other}");
    assert!(other.to_string().contains("blocking"), "{other}");

    sqlx::query("SELECT decide_job($1, 'suspend', ARRAY[$2], 'suspend it, we fix the storage later')")
        .bind(job)
        .bind(&stuck)
        .execute(&admin)
        .await
        .unwrap();
    assert_eq!(wait_status(&admin, job, &["paused", "failed", "succeeded"]).await, "succeeded");
    let view = e.vc.host(&host).unwrap();
    assert!(view.in_maintenance_mode);
    assert_eq!(e.vc.vm_power(&stuck), Some("suspended"));
    assert_eq!(e.vc.action_count("SuspendVM_Task", &stuck), 1);
    assert_eq!(e.vc.action_count("EnterMaintenanceMode_Task", &host), 1);
    assert_eq!(e.vc.actions().iter().filter(|a| a.method == "ShutdownGuest").count(), 0);
    // The other VMs were moved, not stopped.
    for vm in &on_host[1..] {
        assert_ne!(e.vc.vm_host(vm).as_deref(), Some(host.as_str()), "{vm} was evacuated");
    }
    let events: Vec<String> = sqlx::query_scalar("SELECT message FROM job_events WHERE job_id = $1 ORDER BY id")
        .bind(job)
        .fetch_all(&admin)
        .await
        .unwrap();
    assert!(events.iter().any(|m| m.contains("chose suspend")), "{events:?}");
    workers.stop().await;
}

/// Issue 20: the plan predicts from the synced inventory what the gate then finds live,
/// and the gate records whether they agree — a blocker that appeared after the sync is a
/// miss the job shows, not one it hides.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_gate_records_whether_it_found_what_the_plan_predicted(admin: PgPool) {
    let e = estate(&admin, 3).await;
    let host = e.hosts[0].clone();
    let on_host = e.vc.host(&host).unwrap().vms;
    let (stuck, late) = (on_host[0].clone(), on_host[1].clone());
    assert!(e.vc.block_vm(&stuck, LabBlock::LocalStorage, "its disk is on the host's local datastore"));
    for r in vcenter::sync_vcenters(&syncer(&admin, e.key.clone(), "resync"), None).await.unwrap() {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    let spec: JobSpec = serde_json::from_value(json!({"type": "maintenance_mode", "hosts": [host]})).unwrap();
    let policy: Policy = serde_json::from_value(json!({"allow_vm_shutdown": false, "allow_hard_poweroff": false,
        "vm_limit": 5, "shutdown_timeout_seconds": 300, "require_approval": false}))
    .unwrap();
    let plan = eio_core::jobs::plan::compute(&Database::from_pool(admin.clone()), &spec, &policy).await.unwrap();
    let predicted: Vec<(Option<&str>, &str)> =
        plan.blockers.iter().map(|b| (b.vm_moid.as_deref(), b.reason_code.as_str())).collect();
    assert_eq!(predicted, [(Some(stuck.as_str()), "local_storage")], "{:#?}", plan.blockers);
    assert_eq!(plan.blockers[0].evidence.as_deref().map(|d| d.contains("local")), Some(true), "{:?}", plan.blockers);

    // A USB device connected after the sync: the gate finds it, the plan could not.
    assert!(e.vc.block_vm(&late, LabBlock::UsbDevice, "a license dongle"));
    let job =
        insert_job(&admin, "maintenance_mode", json!({"type": "maintenance_mode", "hosts": [host]}), json!({})).await;
    let workers = start_workers(&admin, &e.key, 1, Duration::from_secs(30));
    assert_eq!(wait_status(&admin, job, &["paused", "failed", "succeeded"]).await, "paused");
    workers.stop().await;
    let checks: Vec<(String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT level::text, message, data FROM job_events WHERE job_id = $1 AND data ->> 'kind' = 'gate_check' ORDER BY id",
    )
    .bind(job)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(checks.len(), 1, "{checks:?}");
    let (level, message, data) = &checks[0];
    assert_eq!(level, "warning");
    assert_eq!(
        (data["predicted"].clone(), data["found"].clone(), data["agreed"].clone()),
        (json!(1), json!(2), json!(false))
    );
    assert_eq!(data["missed"], json!([[late, "usb_device"]]));
    assert_eq!(data["unexpected"], json!([]));
    assert!(message.ends_with("the gate found 1 blocker(s) the plan did not predict and not 0 it did"), "{message}");
}

/// The approval covers the blockers its plan showed: a plan submitted without them (the
/// submitter writes the plan) is sent back for approval before anything is done, with the
/// blockers the worker predicts.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_blocker_the_approval_did_not_acknowledge_sends_the_job_back(admin: PgPool) {
    let e = estate(&admin, 3).await;
    let host = e.hosts[0].clone();
    let stuck = e.vc.host(&host).unwrap().vms[0].clone();
    assert!(e.vc.block_vm(&stuck, LabBlock::LocalStorage, "its disk is on the host's local datastore"));
    for r in vcenter::sync_vcenters(&syncer(&admin, e.key.clone(), "resync"), None).await.unwrap() {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    let db = Database::from_pool(admin.clone());
    let target = json!({"type": "maintenance_mode", "hosts": [host]});
    let policy = json!({"allow_vm_shutdown": false, "allow_hard_poweroff": false, "vm_limit": 5,
                        "shutdown_timeout_seconds": 300, "require_approval": true});
    let spec: JobSpec = serde_json::from_value(target.clone()).unwrap();
    let mut plan =
        eio_core::jobs::plan::compute(&db, &spec, &serde_json::from_value(policy.clone()).unwrap()).await.unwrap();
    assert_eq!(plan.blockers.len(), 1, "{:#?}", plan.blockers);
    // Forged: the material part as computed, the blockers left out; approved as it stood.
    plan.blockers.clear();
    let hash = eio_core::jobs::material_hash(&db, &plan).await.unwrap();
    let mut stored = serde_json::to_value(&plan).unwrap();
    stored["material"] = plan.material();
    let job: Uuid = sqlx::query_scalar(
        "WITH op AS (INSERT INTO users (email, role, login_role, capabilities)
                   VALUES ('op@lab.test', 'operator', 'eio_t_forger', ARRAY['maintenance_mode']) RETURNING id)
         INSERT INTO jobs (type, status, title, target, policy, plan, plan_hash, initiated_by_user, approved_by_user)
         SELECT 'maintenance_mode', 'pending', 'forged', $1, $2, $3, $4, op.id, u.id
         FROM op, users u WHERE u.email = 'admin@lab.test' RETURNING jobs.id",
    )
    .bind(&target)
    .bind(&policy)
    .bind(&stored)
    .bind(&hash)
    .fetch_one(&admin)
    .await
    .unwrap();
    let workers = start_workers(&admin, &e.key, 1, Duration::from_secs(30));
    assert_eq!(
        wait_status(&admin, job, &["awaiting_approval", "paused", "failed", "succeeded"]).await,
        "awaiting_approval"
    );
    workers.stop().await;
    let (plan, approved_by): (serde_json::Value, Option<Uuid>) =
        sqlx::query_as("SELECT plan, approved_by_user FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(approved_by, None, "the old approval no longer counts");
    assert_eq!(plan["blockers"][0]["vm_moid"], json!(stuck));
    assert_eq!(plan["blockers"][0]["reason_code"], json!("local_storage"));
    let said: Vec<String> = sqlx::query_scalar("SELECT message FROM job_events WHERE job_id = $1 ORDER BY id")
        .bind(job)
        .fetch_all(&admin)
        .await
        .unwrap();
    assert!(
        said.iter().any(|m| m.contains("the plan now predicts 1 blocker(s) its approval did not acknowledge")),
        "{said:?}"
    );
    // Nothing was asked of vCenter.
    assert_eq!(e.vc.action_count("EnterMaintenanceMode_Task", &host), 0);
}

/// Every blocker the configuration says (the lab's seven kinds), synced, is predicted by the
/// plan exactly as the gate reads it live: the same VMs with the same reason codes.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_plan_predicts_every_configuration_blocker_the_gate_finds(admin: PgPool) {
    use eio_connectors::http::TlsPolicy;
    use eio_connectors::vcenter::{Session, VcenterConfig};
    use std::collections::BTreeSet;
    let e = estate(&admin, 3).await;
    let kinds = [
        [LabBlock::LocalStorage, LabBlock::AffinityRule, LabBlock::PassthroughDevice],
        [LabBlock::UsbDevice, LabBlock::DrsManual, LabBlock::DrsDisabledForVm],
    ];
    for (h, kinds) in kinds.iter().enumerate() {
        let vms = e.vc.host(&e.hosts[h]).unwrap().vms;
        for (vm, kind) in vms.iter().zip(kinds) {
            assert!(e.vc.block_vm(vm, *kind, "blocked by the test"));
        }
    }
    let ft = e.vc.host(&e.hosts[2]).unwrap().vms[0].clone();
    assert!(e.vc.block_vm(&ft, LabBlock::FaultTolerance, "blocked by the test"));
    for r in vcenter::sync_vcenters(&syncer(&admin, e.key.clone(), "resync"), None).await.unwrap() {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    let mut cfg = VcenterConfig::new(e.vc.sdk_url.parse().unwrap(), Credentials::new(e.vc.username(), e.vc.password()));
    cfg.http.tls = TlsPolicy::Pinned(e.vc.thumbprint);
    let session = Session::login(&cfg).await.unwrap();
    let cluster: String = sqlx::query_scalar("SELECT moid FROM clusters").fetch_one(&admin).await.unwrap();
    let policy: Policy = serde_json::from_value(json!({"allow_vm_shutdown": false, "allow_hard_poweroff": false,
        "vm_limit": 5, "shutdown_timeout_seconds": 300, "require_approval": false}))
    .unwrap();
    let db = Database::from_pool(admin.clone());
    let mut codes = BTreeSet::new();
    for host in &e.hosts {
        let spec: JobSpec = serde_json::from_value(json!({"type": "maintenance_mode", "hosts": [host]})).unwrap();
        let plan = eio_core::jobs::plan::compute(&db, &spec, &policy).await.unwrap();
        let predicted: BTreeSet<(String, String)> =
            plan.blockers.iter().map(|b| (b.vm_moid.clone().unwrap_or_default(), b.reason_code.clone())).collect();
        let live: BTreeSet<(String, String)> = session
            .evacuation_blockers(&cluster, host)
            .await
            .unwrap()
            .iter()
            .map(|b| (b.vm_moid.clone(), b.reason_code.code().to_owned()))
            .collect();
        assert_eq!(predicted, live, "{host}: {:#?}", plan.blockers);
        codes.extend(live.into_iter().map(|(_, c)| c));
    }
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    assert_eq!(
        codes,
        [
            "affinity_rule",
            "drs_disabled_for_vm",
            "drs_not_fully_automated",
            "fault_tolerance",
            "local_storage",
            "passthrough_device",
            "usb_device"
        ]
    );
    session.logout().await.unwrap();
}

async fn firmware_job(admin: &PgPool, e: &Estate, dir: &std::path::Path) -> Uuid {
    let image = dir.join(format!("BIOS_{NEW_BIOS}.EXE"));
    std::fs::write(&image, lab_image(BIOS, NEW_BIOS, 4096)).unwrap();
    insert_job(
        admin,
        "firmware_update",
        json!({"type": "firmware_update", "hosts": e.hosts, "component": BIOS, "version": NEW_BIOS,
               "image": image.to_string_lossy()}),
        json!({}),
    )
    .await
}

/// Every host updated, each action issued exactly once, the hosts back out of maintenance.
async fn assert_rolled_out(admin: &PgPool, e: &Estate, job: Uuid) {
    for (i, host) in e.hosts.iter().enumerate() {
        let bmc = e.dell.bmc(i);
        assert_eq!(bmc.firmware_version(BIOS).as_deref(), Some(NEW_BIOS), "host {host}");
        let updates = bmc.action_count("MultipartUpdate")
            + bmc.action_count("HttpPushUpload")
            + bmc.action_count("InstallFromURI");
        assert_eq!(updates, 1, "host {host}: {:?}", bmc.actions());
        // A reset, or over WSMan a reboot job scheduled after the update job.
        let resets = bmc.action_count("ComputerSystem.Reset") + bmc.action_count("RebootJob");
        assert_eq!(resets, 1, "host {host}: {:?}", bmc.actions());
        assert_eq!(bmc.action_count("CreateRebootJob"), bmc.action_count("RebootJob"), "host {host}");
        assert_eq!(bmc.action_count("SetupJobQueue"), bmc.action_count("RebootJob"), "host {host}");
        assert!(bmc.actions().iter().all(|a| a.refused.is_none()), "host {host}: {:?}", bmc.actions());
        assert_eq!(bmc.action_count("DeleteJobQueue"), 0);
        assert_eq!(e.vc.action_count("EnterMaintenanceMode_Task", host), 1, "host {host}");
        assert_eq!(e.vc.action_count("ExitMaintenanceMode_Task", host), 1, "host {host}");
        assert!(!e.vc.host(host).unwrap().in_maintenance_mode);
    }
    // One host at a time: each host's maintenance window closes before the next one opens.
    let windows: Vec<(i32, i32)> = sqlx::query(
        "SELECT min(seq) AS first, max(seq) AS last FROM job_steps WHERE job_id = $1 GROUP BY seq / 10000 ORDER BY 1",
    )
    .bind(job)
    .fetch_all(admin)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("first"), r.get("last")))
    .collect();
    assert_eq!(windows.len(), e.hosts.len());
    let order: Vec<String> =
        e.vc.actions()
            .iter()
            .filter(|a| a.method.ends_with("MaintenanceMode_Task"))
            .map(|a| format!("{}:{}", a.method, a.target))
            .collect();
    for pair in order.chunks(2) {
        assert!(pair[0].starts_with("Enter") && pair[1].starts_with("Exit"), "{order:?}");
        assert_eq!(pair[0].split(':').nth(1), pair[1].split(':').nth(1), "{order:?}");
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_rolling_firmware_update_goes_host_by_host_and_issues_every_action_once(admin: PgPool) {
    let e = estate(&admin, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let job = firmware_job(&admin, &e, dir.path()).await;
    let workers = start_workers(&admin, &e.key, 2, Duration::from_secs(30));
    assert_ends(&admin, job, "succeeded").await;
    workers.stop().await;
    assert_rolled_out(&admin, &e, job).await;
    // The credentials the workers used appear in nothing the job wrote.
    let leaks: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM jobs j WHERE to_jsonb(j)::text LIKE '%' || $1 || '%')
              + (SELECT count(*) FROM job_steps s WHERE to_jsonb(s)::text LIKE '%' || $1 || '%')
              + (SELECT count(*) FROM job_events v WHERE to_jsonb(v)::text LIKE '%' || $1 || '%')
              + (SELECT count(*) FROM audit_events a WHERE to_jsonb(a)::text LIKE '%' || $1 || '%')",
    )
    .bind(PLANTED)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(leaks, 0);
}

/// An iDRAC7 (WSMan only) among Redfish iDRACs: the rolling update reaches it too, by
/// InstallFromURI of the package the worker serves, and one reboot job; its `JID_…` and
/// `RID_…` are recorded as the steps' external task ids.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_rolling_firmware_update_reaches_an_idrac7_over_wsman(admin: PgPool) {
    let e = estate_of(&admin, 3, &[(Generation::Idrac9, 2), (Generation::Idrac7, 1)]).await;
    assert_eq!(e.dell.bmc(2).spec().generation, Generation::Idrac7);
    let dir = tempfile::tempdir().unwrap();
    let job = firmware_job(&admin, &e, dir.path()).await;
    let workers = start_workers(&admin, &e.key, 2, Duration::from_secs(30));
    assert_ends(&admin, job, "succeeded").await;
    workers.stop().await;
    assert_rolled_out(&admin, &e, job).await;
    let wsman = e.dell.bmc(2);
    for action in ["InstallFromURI", "CreateRebootJob", "SetupJobQueue", "RebootJob"] {
        assert_eq!(wsman.action_count(action), 1, "{action}: {:?}", wsman.actions());
    }
    assert_eq!(wsman.action_count("ComputerSystem.Reset"), 0);
    // The package came from the worker, for that one download.
    let served = wsman.actions().into_iter().find(|a| a.action == "InstallFromURI").unwrap().detail;
    assert!(served.starts_with("http://127.0.0.1:") && served.contains("/eio-packages/"), "{served}");
    let at = url::Url::parse(&served).unwrap().socket_addrs(|| None).unwrap()[0];
    assert!(tokio::net::TcpStream::connect(at).await.is_err(), "the package is no longer served after the update step");
    // The Dell job ids were recorded on their steps (and the job) before being waited on.
    let recorded: Vec<(String, String)> = sqlx::query(
        "SELECT kind, external_task_id FROM job_steps WHERE job_id = $1 AND external_task_id IS NOT NULL ORDER BY seq",
    )
    .bind(job)
    .fetch_all(&admin)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("kind"), r.get("external_task_id")))
    .collect();
    let wsman_jobs: Vec<String> = wsman.jobs().into_iter().map(|j| j.id).collect();
    let jid = wsman_jobs.iter().find(|j| j.starts_with("JID_")).unwrap();
    let rid = wsman_jobs.iter().find(|j| j.starts_with("RID_")).unwrap();
    assert!(recorded.contains(&("firmware_update".into(), jid.clone())), "{recorded:?}");
    assert!(recorded.contains(&("server_reset".into(), rid.clone())), "{recorded:?}");
    let ids: Vec<String> = sqlx::query_scalar("SELECT external_task_ids FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(ids.contains(jid) && ids.contains(rid), "{ids:?}");
}

/// A server reset of an iDRAC7 (WSMan only): refused while its ESXi host runs, then, with the
/// host in maintenance mode, one `RequestPowerStateChange` (Dell's PowerState 5), recorded as
/// the step's task and verified by reading the power state back; a job resumed after a worker
/// died between recording its intent and the reset reads the state and resets nothing.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_idrac7_server_resets_over_wsman_once_its_host_is_in_maintenance_mode(admin: PgPool) {
    let e = estate_of(&admin, 3, &[(Generation::Idrac9, 2), (Generation::Idrac7, 1)]).await;
    let bmc = e.dell.bmc(2);
    assert_eq!(bmc.spec().generation, Generation::Idrac7);
    let tag = service_tag(2);
    let reset = json!({"type": "power", "action": "reset", "servers": [tag]});
    let allow = json!({"allow_hard_poweroff": true});
    let workers = start_workers(&admin, &e.key, 2, Duration::from_secs(30));

    // Its host is not in maintenance mode: refused before anything is asked of the iDRAC.
    let refused = insert_job(&admin, "power", reset.clone(), allow.clone()).await;
    assert_eq!(wait_status(&admin, refused, &["paused", "failed", "succeeded"]).await, "failed");
    assert_eq!(bmc.action_count("RequestPowerStateChange"), 0, "{:?}", bmc.actions());

    let host = e.hosts[2].clone();
    let enter =
        insert_job(&admin, "maintenance_mode", json!({"type": "maintenance_mode", "hosts": [host]}), json!({})).await;
    assert_eq!(wait_status(&admin, enter, &["paused", "failed", "succeeded"]).await, "succeeded");
    for r in vcenter::sync_vcenters(&syncer(&admin, e.key.clone(), "resync"), None).await.unwrap() {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    let in_mm: bool = sqlx::query_scalar("SELECT in_maintenance_mode FROM esxi_hosts WHERE moid = $1")
        .bind(&host)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(in_mm);

    let job = insert_job(&admin, "power", reset.clone(), allow.clone()).await;
    assert_ends(&admin, job, "succeeded").await;

    // A worker that died after recording its intent to reset, before recording the reset:
    // whoever resumes reads the power state back and never resets again.
    let mut tx = admin.begin().await.unwrap();
    let resumed: Uuid = sqlx::query_scalar(
        "INSERT INTO jobs (type, status, title, target, policy)
         SELECT type, 'pending', 'resumed', target, policy FROM jobs WHERE id = $1 RETURNING id",
    )
    .bind(job)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO job_steps (job_id, seq, name, kind, status, started_at)
         VALUES ($1, 1, 'graceful restart', 'server_reset', 'running', now())",
    )
    .bind(resumed)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // It can't know whether that reset went out: it pauses and asks, claiming nothing.
    assert_eq!(wait_status(&admin, resumed, &["paused", "failed", "succeeded"]).await, "paused");
    let reason: serde_json::Value = sqlx::query_scalar("SELECT pause_reason FROM jobs WHERE id = $1")
        .bind(resumed)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(reason["details"]["reason"], json!("reset_unconfirmed"), "{reason}");
    assert!(reason["details"]["message"].as_str().unwrap().contains("not sent again"), "{reason}");
    workers.stop().await;
    let asked: Vec<_> = bmc.actions().into_iter().filter(|a| a.action == "RequestPowerStateChange").collect();
    assert_eq!(asked.len(), 1, "{:?}", bmc.actions());
    assert_eq!((asked[0].detail.as_str(), asked[0].refused.as_deref()), ("5", None));
    assert_eq!(bmc.action_count("ComputerSystem.Reset") + bmc.action_count("CreateRebootJob"), 0);
    assert_eq!(bmc.spec().power_state, "On");
    let step =
        sqlx::query("SELECT external_task_id, result FROM job_steps WHERE job_id = $1 AND kind = 'server_reset'")
            .bind(job)
            .fetch_one(&admin)
            .await
            .unwrap();
    let task: String = step.get("external_task_id");
    assert!(task.starts_with("reset:"), "{task}");
    let result: serde_json::Value = step.get("result");
    assert_eq!((&result["driver"], &result["power_state"]), (&json!("wsman"), &json!("on")), "{result}");
    // The other servers were not touched.
    for i in 0..2 {
        assert_eq!(e.dell.bmc(i).action_count("ComputerSystem.Reset"), 0);
    }
}

/// Everything the simulators were asked, in one number per simulator.
fn external_calls(e: &Estate) -> (usize, Vec<u64>) {
    (e.vc.calls().len(), (0..e.hosts.len()).map(|i| e.dell.bmc(i).requests()).collect())
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_kill_switch_mid_update_stops_every_external_call_and_retry_finishes_without_repeats(admin: PgPool) {
    let e = estate(&admin, 3).await;
    // Slow Dell jobs: each state is seen a few times, so the switch lands mid-update.
    for i in 0..e.hosts.len() {
        e.dell.bmc(i).set_job_looks_per_state(5);
    }
    let dir = tempfile::tempdir().unwrap();
    let job = firmware_job(&admin, &e, dir.path()).await;
    let workers = start_workers(&admin, &e.key, 2, Duration::from_secs(30));

    // Once the first Dell job is recorded, engage the switch.
    let mut listener = PgListener::connect_with(&admin).await.unwrap();
    listener.listen("eio_job_events").await.unwrap();
    loop {
        let recorded: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM job_steps WHERE job_id = $1 AND kind = 'firmware_update' AND external_task_id IS NOT NULL)",
        )
        .bind(job)
        .fetch_one(&admin)
        .await
        .unwrap();
        if recorded {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), listener.recv()).await;
    }
    sqlx::query("UPDATE kill_switch SET engaged = true, reason = 'storage incident', changed_at = now()")
        .execute(&admin)
        .await
        .unwrap();
    assert_eq!(wait_status(&admin, job, &["paused", "failed", "succeeded"]).await, "paused");
    let reason = pause_reason(&admin, job).await;
    assert_eq!(reason["kind"], "kill_switch", "{reason}");
    let at_pause = external_calls(&e);
    // Stop the workers: whatever they would still have sent has been sent by then.
    workers.stop().await;
    assert_eq!(external_calls(&e), at_pause, "no external call after the job stopped for the kill switch");

    // Released and retried: the job finishes where it stopped, nothing issued twice.
    sqlx::query("UPDATE kill_switch SET engaged = false, reason = 'resolved', changed_at = now()")
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query("SELECT decide_job($1, 'retry')").bind(job).execute(&admin).await.unwrap();
    let workers = start_workers(&admin, &e.key, 2, Duration::from_secs(30));
    assert_eq!(wait_status(&admin, job, &["paused", "failed", "succeeded"]).await, "succeeded");
    workers.stop().await;
    assert_rolled_out(&admin, &e, job).await;
}

/// A worker recorded its intent to restart the server (the update staged) and died before
/// sending the restart. Its successor can't tell "not sent" from "sent, the server not yet
/// back in POST" (the jobs stay RebootPending either way), so it sends nothing: it watches the
/// jobs for `EIO_RESET_CONFIRM_SECONDS` (0 here), then pauses to ask. A Retry taken before
/// that pause does not count; the operator's Retry at it sends the restart, once.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_unconfirmed_restart_is_asked_about_and_sent_once_on_retry(admin: PgPool) {
    std::env::set_var("EIO_RESET_CONFIRM_SECONDS", "0");
    // Two hosts: one alone could not be evacuated.
    let e = estate(&admin, 2).await;
    // Stop the job right after its update is staged, before the restart: the kill switch,
    // engaged by the database the moment the update step succeeds.
    sqlx::raw_sql(
        "CREATE FUNCTION t_engage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
           UPDATE kill_switch SET engaged = true, reason = 'test: stop before the restart', changed_at = now();
           RETURN NULL; END $$;
         CREATE TRIGGER t_engage AFTER UPDATE ON job_steps FOR EACH ROW
           WHEN (NEW.kind = 'firmware_update' AND NEW.status = 'succeeded') EXECUTE FUNCTION t_engage();",
    )
    .execute(&admin)
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let job = firmware_job(&admin, &e, dir.path()).await;
    let workers = start_workers(&admin, &e.key, 1, Duration::from_secs(30));
    assert_eq!(wait_status(&admin, job, &["paused", "failed", "succeeded"]).await, "paused");
    workers.stop().await;
    let bmc = e.dell.bmc(0);
    let reason = pause_reason(&admin, job).await;
    assert_eq!(reason["kind"], "kill_switch", "{reason}");
    let updates = bmc.action_count("MultipartUpdate") + bmc.action_count("HttpPushUpload");
    assert_eq!((updates, bmc.action_count("ComputerSystem.Reset")), (1, 0), "{:?}", bmc.actions());
    // The dead worker's trace: the restart step marked running, nothing recorded after.
    sqlx::raw_sql(
        "DROP TRIGGER t_engage ON job_steps;
         UPDATE kill_switch SET engaged = false, reason = 'resolved', changed_at = now();",
    )
    .execute(&admin)
    .await
    .unwrap();
    let marked = sqlx::query(
        "UPDATE job_steps SET status = 'running', started_at = now() WHERE job_id = $1 AND kind = 'server_reset'",
    )
    .bind(job)
    .execute(&admin)
    .await
    .unwrap();
    assert_eq!(marked.rows_affected(), 1);
    sqlx::query("SELECT decide_job($1, 'retry')").bind(job).execute(&admin).await.unwrap();

    let workers = start_workers(&admin, &e.key, 1, Duration::from_secs(30));
    assert_eq!(wait_status(&admin, job, &["paused", "failed", "succeeded"]).await, "paused");
    let reason = pause_reason(&admin, job).await;
    assert_eq!(reason["details"]["reason"], "reset_unconfirmed", "{reason}");
    assert_eq!(bmc.action_count("ComputerSystem.Reset"), 0, "nothing sent unasked");

    sqlx::query("SELECT decide_job($1, 'retry')").bind(job).execute(&admin).await.unwrap();
    assert_ends(&admin, job, "succeeded").await;
    workers.stop().await;
    assert_rolled_out(&admin, &e, job).await;
}

/// PostgreSQL restarted (fast shutdown: every connection cut) in the middle of a rolling
/// update: the workers reconnect and the job finishes, each action still issued once. Runs on
/// a private cluster (the embedded default's code), never the shared one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_job_is_survived() {
    use eio_core::db::embedded::{EmbeddedCluster, SUPERUSER};
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::Builder::new().prefix("eio-pg-restart-").tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster = EmbeddedCluster::new(root.path().join("pg")).unwrap();
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.ensure_running()).await.unwrap().unwrap();
    let admin0 = sqlx::PgPool::connect_with(cluster.connect_options(SUPERUSER, "postgres")).await.unwrap();
    sqlx::raw_sql("CREATE DATABASE eio_restart").execute(&admin0).await.unwrap();
    admin0.close().await;
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(20)
        .connect_with(cluster.connect_options(SUPERUSER, "eio_restart"))
        .await
        .unwrap();
    eio_core::db::MIGRATOR.run(&admin).await.unwrap();

    let e = estate(&admin, 3).await;
    for i in 0..e.hosts.len() {
        e.dell.bmc(i).set_job_looks_per_state(10);
    }
    let dir = tempfile::tempdir().unwrap();
    let job = firmware_job(&admin, &e, dir.path()).await;
    let workers = start_workers(&admin, &e.key, 2, Duration::from_secs(3));
    {
        let mut listener = PgListener::connect_with(&admin).await.unwrap();
        listener.listen("eio_job_events").await.unwrap();
        loop {
            let recorded: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM job_steps WHERE job_id = $1 AND kind = 'firmware_update' AND external_task_id IS NOT NULL)",
            )
            .bind(job)
            .fetch_one(&admin)
            .await
            .unwrap();
            if recorded {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), listener.recv()).await;
        }
    }
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || {
        assert!(c.stop().unwrap(), "the cluster was running");
        c.ensure_running().unwrap();
    })
    .await
    .unwrap();
    let running: String =
        sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(job).fetch_one(&admin).await.unwrap();
    println!("after the restart the job is {running}");
    assert_eq!(wait_status(&admin, job, &["paused", "failed", "succeeded"]).await, "succeeded");
    workers.stop().await;
    assert_rolled_out(&admin, &e, job).await;
    admin.close().await;
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.stop()).await.unwrap().unwrap();
}

/// Moids repeat across vCenters: a job acts on each host through the vCenter that manages it.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn each_host_is_acted_on_through_its_own_vcenter(admin: PgPool) {
    let model = LabModel::one_cluster(2, 2);
    let (a, b) = (LabVcenter::start(model).await.unwrap(), LabVcenter::start(model).await.unwrap());
    let key = WorkerKey::generate();
    let db = Database::from_pool(admin.clone());
    ids::trust_worker_key(&db, &key.public_key(), "test").await.unwrap();
    for (name, vc) in [("vc-a", &a), ("vc-b", &b)] {
        sources::add(
            &db,
            &NewSource {
                kind: SourceKind::Vcenter,
                name: name.into(),
                url: vc.sdk_url.to_string(),
                identity: IdentityChoice::New {
                    name: None,
                    credentials: Credentials::new(vc.username(), vc.password()),
                    rotation_period_days: 90,
                },
                tls: TlsChoice { thumbprint: Some(vc.thumbprint.to_string()), insecure: false },
                site: None,
                driver: None,
            },
        )
        .await
        .unwrap();
    }
    for r in vcenter::sync_vcenters(&syncer(&admin, key.clone(), "sync"), None).await.unwrap() {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    let moid: String = sqlx::query_scalar("SELECT min(moid) FROM esxi_hosts").fetch_one(&admin).await.unwrap();
    assert!(a.host(&moid).is_some() && b.host(&moid).is_some(), "the same moid in both vCenters");
    let job =
        insert_job(&admin, "maintenance_mode", json!({"type": "maintenance_mode", "hosts": [moid]}), json!({})).await;
    let workers = start_workers(&admin, &key, 1, Duration::from_secs(30));
    assert_eq!(wait_status(&admin, job, &["paused", "failed", "succeeded"]).await, "succeeded");
    workers.stop().await;
    assert_eq!(a.action_count("EnterMaintenanceMode_Task", &moid), 1, "vc-a's host");
    assert_eq!(b.action_count("EnterMaintenanceMode_Task", &moid), 1, "vc-b's host");
    assert!(a.host(&moid).unwrap().in_maintenance_mode && b.host(&moid).unwrap().in_maintenance_mode);
}

const IDRAC: &str = "iDRAC.Embedded.1-1";
const NIC: &str = "NIC.Integrated.1-1-1";
/// The baseline the lab's servers are behind on three components: the iDRAC (applies at
/// once, no restart), the BIOS and a NIC (both staged for one restart).
const TARGETS: [(&str, &str, &str, bool); 3] = [
    ("BIOS.Setup", NEW_BIOS, "BIOS_2.99.1.EXE", true),
    ("NIC.Integrated.1-1", "23.0.8", "NIC_23.0.8.EXE", true),
    ("iDRAC.Embedded", "7.20.10.50", "iDRAC_7.20.10.50.EXE", false),
];

/// The baseline "June" defined in EIO, its packages (lab images) in `dir`; the server of
/// host `compliant` made compliant with it and resynced.
async fn june_baseline(admin: &PgPool, e: &Estate, dir: &std::path::Path, compliant: Option<usize>) {
    use eio_core::jobs::baselines::{self, BaselineComponent, BaselineInput};
    let fqdd = |prefix: &str| [BIOS, NIC, IDRAC].into_iter().find(|f| f.starts_with(prefix)).unwrap();
    for (prefix, version, package, _) in TARGETS {
        std::fs::write(dir.join(package), lab_image(fqdd(prefix), version, 4096)).unwrap();
    }
    let input = BaselineInput {
        name: "June".into(),
        description: Some("the lab's June baseline".into()),
        repository: Some(dir.to_string_lossy().into_owned()),
        components: TARGETS
            .iter()
            .map(|(component, version, package, restart)| BaselineComponent {
                component: (*component).into(),
                version: (*version).into(),
                package: (*package).into(),
                reboot_required: *restart,
            })
            .collect(),
    };
    let defined = baselines::define(&Database::from_pool(admin.clone()), &input).await.unwrap();
    assert_eq!(defined.components.len(), 3);
    let Some(compliant) = compliant else { return };
    e.dell.bmc(compliant).update_spec(|s| {
        for f in s.firmware.iter_mut() {
            if let Some((_, v, _, _)) = TARGETS.iter().find(|(c, ..)| f.fqdd.starts_with(c)) {
                f.version = (*v).into();
            }
        }
    });
    for r in dell::sync_idracs(&syncer(admin, e.key.clone(), "resync"), None).await.unwrap() {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
}

/// Every update request an iDRAC received (refused ones too), in order: the image names.
fn update_calls(bmc: &eio_lab::dell::LabBmc) -> Vec<String> {
    bmc.actions()
        .into_iter()
        .filter(|a| {
            ["MultipartUpdate", "HttpPushUpload", "SimpleUpdate", "InstallFromURI"].contains(&a.action.as_str())
        })
        .map(|a| a.detail)
        .collect()
}

/// A cluster brought to a baseline: on each host behind it, every component behind is
/// updated — the iDRAC first, then the BIOS, then the NIC, both staged — within one
/// maintenance window and one restart; the compliant host is skipped and said so; the plan
/// lists each component with its versions, package and whether it restarts the server.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_cluster_is_brought_to_its_baseline_with_one_window_and_one_restart_per_host(admin: PgPool) {
    let e = estate(&admin, 3).await;
    let dir = tempfile::tempdir().unwrap();
    june_baseline(&admin, &e, dir.path(), Some(2)).await;
    let cluster: String = sqlx::query_scalar("SELECT name FROM clusters").fetch_one(&admin).await.unwrap();
    // The plan, as the approver reads it.
    let spec = json!({"type": "firmware_update", "cluster": cluster, "baseline": ""});
    let policy: Policy = serde_json::from_value(json!({"allow_vm_shutdown": false, "allow_hard_poweroff": false,
        "vm_limit": 5, "shutdown_timeout_seconds": 300, "require_approval": false}))
    .unwrap();
    let db = Database::from_pool(admin.clone());
    let plan =
        eio_core::jobs::plan::compute(&db, &serde_json::from_value(spec.clone()).unwrap(), &policy).await.unwrap();
    assert_eq!(plan.refusals, Vec::<String>::new());
    let hosts: Vec<&str> = plan.hosts.iter().map(|h| h.moid.as_str()).collect();
    assert_eq!(hosts, [e.hosts[0].as_str(), e.hosts[1].as_str()]);
    assert_eq!(plan.firmware.len(), 6, "{:#?}", plan.firmware);
    let first: Vec<(&str, &str, bool)> =
        plan.firmware[..3].iter().map(|f| (f.fqdd.as_str(), f.to.as_str(), f.restart)).collect();
    assert_eq!(first, [(IDRAC, "7.20.10.50", false), (BIOS, NEW_BIOS, true), (NIC, "23.0.8", true)]);
    let bios = &plan.firmware[1];
    assert_eq!(bios.package.as_deref(), Some(&*dir.path().join("BIOS_2.99.1.EXE").to_string_lossy()));
    assert_eq!(Some(&bios.from), e.dell.bmc(0).firmware_version(BIOS).as_ref());
    assert!(plan.notes.iter().any(|n| n.ends_with("is compliant with June: skipped")), "{:?}", plan.notes);
    assert!(plan.summary.contains("baseline June (6 component(s) behind)"), "{}", plan.summary);

    // The first iDRAC restarts itself after its own update: it doesn't answer for a while.
    e.dell.bmc(0).set_unreachable_after_idrac_update(8);
    let job = insert_job(&admin, "firmware_update", spec, json!({})).await;
    let workers = start_workers(&admin, &e.key, 2, Duration::from_secs(30));
    assert_ends(&admin, job, "succeeded").await;
    workers.stop().await;
    // Its update job went unread more than five times in a row (what pauses any other
    // step), and the job waited instead.
    let unread: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM job_events e JOIN job_steps s ON s.job_id = e.job_id
         WHERE e.job_id = $1 AND e.level = 'warning' AND e.message LIKE '%could not read ' || s.external_task_id || ':%'
           AND s.target ->> 'component' = $2 AND s.target ->> 'idrac' = 'bmc-00'",
    )
    .bind(job)
    .bind(IDRAC)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(unread >= 5, "the iDRAC's restart was waited through: {unread} unread polls");

    for i in 0..2 {
        let (bmc, host) = (e.dell.bmc(i), &e.hosts[i]);
        for (fqdd, (_, version, _, _)) in [BIOS, NIC, IDRAC].iter().zip(TARGETS) {
            assert_eq!(bmc.firmware_version(fqdd).as_deref(), Some(version), "host {host} {fqdd}");
        }
        // Dell's order, each component asked for once.
        let calls = update_calls(bmc);
        assert_eq!(calls.len(), 3, "host {host}: {:?}", bmc.actions());
        for (call, package) in calls.iter().zip(["iDRAC_", "BIOS_", "NIC_"]) {
            assert!(call.contains(package), "host {host}: {calls:?}");
        }
        assert!(bmc.actions().iter().all(|a| a.refused.is_none()), "host {host}: {:?}", bmc.actions());
        // One restart, after every staged component was asked for.
        assert_eq!(bmc.call_count("ComputerSystem.Reset"), 1, "host {host}: {:?}", bmc.actions());
        let last_update = bmc.actions().iter().rposition(|a| a.action == "MultipartUpdate").unwrap();
        let reset = bmc.actions().iter().position(|a| a.action == "ComputerSystem.Reset").unwrap();
        assert!(last_update < reset, "host {host}: {:?}", bmc.actions());
        assert_eq!(bmc.call_count("AutoReboot"), 0);
        assert_eq!(e.vc.call_count("EnterMaintenanceMode_Task", host), 1, "host {host}");
        assert_eq!(e.vc.call_count("ExitMaintenanceMode_Task", host), 1, "host {host}");
        assert!(!e.vc.host(host).unwrap().in_maintenance_mode);
    }
    // Host 2 was compliant: nothing asked of its iDRAC or of vCenter for it.
    let compliant = e.dell.bmc(2);
    assert_eq!(update_calls(compliant), Vec::<String>::new());
    assert_eq!(compliant.call_count("ComputerSystem.Reset"), 0);
    assert_eq!(e.vc.call_count("EnterMaintenanceMode_Task", &e.hosts[2]), 0);
}

/// The first failure stops the rollout: the first host's BIOS update fails after the
/// restart, the job fails on it, and the hosts after it are untouched.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_baseline_rollout_stops_at_the_first_failure_with_the_other_hosts_untouched(admin: PgPool) {
    use eio_lab::dell::JobOutcome;
    let e = estate(&admin, 3).await;
    let dir = tempfile::tempdir().unwrap();
    june_baseline(&admin, &e, dir.path(), Some(2)).await;
    // The iDRAC's update completes; the BIOS's fails.
    e.dell.bmc(0).set_next_job_outcomes(&[JobOutcome::Completed, JobOutcome::Failed]);
    let job = insert_job(
        &admin,
        "firmware_update",
        json!({"type": "firmware_update", "hosts": e.hosts, "baseline": "june"}),
        json!({}),
    )
    .await;
    let workers = start_workers(&admin, &e.key, 2, Duration::from_secs(30));
    assert_ends(&admin, job, "failed").await;
    workers.stop().await;
    let first = e.dell.bmc(0);
    assert_eq!(first.firmware_version(IDRAC).as_deref(), Some("7.20.10.50"));
    assert_ne!(first.firmware_version(BIOS).as_deref(), Some(NEW_BIOS));
    // It failed on the BIOS's Dell job, after the one restart.
    let error: String =
        sqlx::query_scalar("SELECT error FROM jobs WHERE id = $1").bind(job).fetch_one(&admin).await.unwrap();
    let bios_job = first.actions().into_iter().find(|a| a.detail.contains("BIOS_")).and_then(|a| a.job).unwrap();
    assert!(error.contains(&bios_job) && error.contains("Failed"), "{error}");
    assert_eq!(first.call_count("ComputerSystem.Reset"), 1, "{:?}", first.actions());
    let second = e.dell.bmc(1);
    assert_eq!(update_calls(second), Vec::<String>::new(), "{:?}", second.actions());
    assert_eq!(second.call_count("ComputerSystem.Reset"), 0);
    assert_eq!(e.vc.call_count("EnterMaintenanceMode_Task", &e.hosts[1]), 0);
    assert_eq!(e.vc.call_count("EnterMaintenanceMode_Task", &e.hosts[2]), 0);
}

/// An iDRAC7 (WSMan only) brought to the baseline: each package downloaded by the iDRAC
/// (`InstallFromURI`), all of them scheduled with one reboot job, one maintenance window.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_idrac7_is_brought_to_its_baseline_with_one_reboot_job(admin: PgPool) {
    let e = estate_of(&admin, 3, &[(Generation::Idrac9, 2), (Generation::Idrac7, 1)]).await;
    let wsman = e.dell.bmc(2);
    assert_eq!(wsman.spec().generation, Generation::Idrac7);
    let dir = tempfile::tempdir().unwrap();
    june_baseline(&admin, &e, dir.path(), None).await;
    let job = insert_job(
        &admin,
        "firmware_update",
        json!({"type": "firmware_update", "hosts": [e.hosts[2]], "baseline": "June"}),
        json!({}),
    )
    .await;
    let workers = start_workers(&admin, &e.key, 2, Duration::from_secs(30));
    assert_ends(&admin, job, "succeeded").await;
    workers.stop().await;
    for (fqdd, (_, version, _, _)) in [BIOS, NIC, IDRAC].iter().zip(TARGETS) {
        assert_eq!(wsman.firmware_version(fqdd).as_deref(), Some(version), "{fqdd}");
    }
    assert_eq!(wsman.call_count("InstallFromURI"), 3, "{:?}", wsman.actions());
    for action in ["CreateRebootJob", "SetupJobQueue", "RebootJob"] {
        assert_eq!(wsman.call_count(action), 1, "{action}: {:?}", wsman.actions());
    }
    assert!(wsman.actions().iter().all(|a| a.refused.is_none()), "{:?}", wsman.actions());
    assert_eq!(e.vc.call_count("EnterMaintenanceMode_Task", &e.hosts[2]), 1);
    assert_eq!(e.vc.call_count("ExitMaintenanceMode_Task", &e.hosts[2]), 1);
    // The one reboot job scheduled the three update jobs with it.
    let jobs: Vec<String> = wsman.jobs().into_iter().filter(|j| j.id.starts_with("JID_")).map(|j| j.id).collect();
    assert_eq!(jobs.len(), 3);
    let setup = wsman.actions().into_iter().find(|a| a.action == "SetupJobQueue").unwrap().detail;
    for j in &jobs {
        assert!(setup.contains(j.as_str()), "{setup} lacks {j}");
    }
}

/// OME's baseline: what its compliance report says is behind (the lab's BIOS and iDRAC of
/// an outdated server), with the package its report names, found under `--packages`; a
/// plan without `--packages` is refused saying so, as is a name no baseline has.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_ome_baselines_plan_names_its_packages_under_the_repository_given(admin: PgPool) {
    // Server 0 falls behind the baseline's BIOS.
    let e = estate_with(&admin, 2, &[(Generation::Idrac9, 1)], |i, s| {
        for f in s.firmware.iter_mut().filter(|f| i == 0 && f.fqdd == BIOS) {
            f.version = "1.0.0".into();
        }
    })
    .await;
    let ome = e.dell.ome.as_ref().unwrap();
    let db = Database::from_pool(admin.clone());
    sources::add(
        &db,
        &NewSource {
            kind: SourceKind::Ome,
            name: "ome".into(),
            url: ome.url.to_string(),
            identity: IdentityChoice::Existing("idrac-fleet".into()),
            tls: TlsChoice { thumbprint: Some(ome.thumbprint.to_string()), insecure: false },
            site: None,
            driver: None,
        },
    )
    .await
    .unwrap();
    for r in dell::sync_omes(&syncer(&admin, e.key.clone(), "ome"), None).await.unwrap() {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    let behind: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT service_tag, fqdd, package FROM firmware_compliance WHERE status = 'upgrade' ORDER BY 1, 2",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(behind.iter().any(|(t, f, p)| *t == service_tag(0) && f == BIOS && p.is_some()), "{behind:?}");
    let policy: Policy = serde_json::from_value(json!({"allow_vm_shutdown": false, "allow_hard_poweroff": false,
        "vm_limit": 5, "shutdown_timeout_seconds": 300, "require_approval": false}))
    .unwrap();
    let plan_of = |packages: Option<&str>| {
        let spec: JobSpec = serde_json::from_value(json!({"type": "firmware_update", "hosts": [e.hosts[0]],
            "baseline": "EIO fleet baseline", "packages": packages}))
        .unwrap();
        let (db, policy) = (db.clone(), policy.clone());
        async move { eio_core::jobs::plan::compute(&db, &spec, &policy).await.unwrap() }
    };
    let without = plan_of(None).await;
    assert!(without.refusals.iter().any(|r| r.contains("--packages")), "{:?}", without.refusals);
    let plan = plan_of(Some("https://dups.example/catalog/")).await;
    assert_eq!(plan.refusals, Vec::<String>::new());
    let bios = plan.firmware.iter().find(|f| f.fqdd == BIOS).unwrap();
    let (_, _, path) = behind.iter().find(|(t, f, _)| *t == service_tag(0) && f == BIOS).unwrap();
    assert_eq!(bios.package, Some(format!("https://dups.example/catalog/{}", path.as_deref().unwrap())));
    assert_eq!(bios.from, "1.0.0");
    // A name no baseline has.
    let spec: JobSpec =
        serde_json::from_value(json!({"type": "firmware_update", "hosts": [e.hosts[0]], "baseline": "July"})).unwrap();
    let err = eio_core::jobs::plan::compute(&db, &spec, &policy).await.unwrap_err();
    assert_eq!(err.code, eio_core::error::ErrorCode::NotFound, "{err}");
}

/// A component two of a baseline's prefixes name follows the more specific one, once; a
/// component newer than the baseline is left alone and said so.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_baseline_updates_each_component_once_and_never_downgrades(admin: PgPool) {
    use eio_core::jobs::baselines::{self, BaselineComponent, BaselineInput};
    let e = estate(&admin, 1).await;
    let db = Database::from_pool(admin.clone());
    let component = |prefix: &str, version: &str| BaselineComponent {
        component: prefix.into(),
        version: version.into(),
        package: format!("{prefix}.EXE"),
        reboot_required: true,
    };
    baselines::define(
        &db,
        &BaselineInput {
            name: "overlap".into(),
            description: None,
            repository: Some("https://dups.example".into()),
            components: vec![
                component("NIC", "30.0.1"),
                component("NIC.Integrated.1-1", "23.0.8"),
                component("BIOS.Setup", "0.0.1"),
            ],
        },
    )
    .await
    .unwrap();
    let policy: Policy = serde_json::from_value(json!({"allow_vm_shutdown": false, "allow_hard_poweroff": false,
        "vm_limit": 5, "shutdown_timeout_seconds": 300, "require_approval": false}))
    .unwrap();
    let spec: JobSpec =
        serde_json::from_value(json!({"type": "firmware_update", "hosts": e.hosts, "baseline": "overlap"})).unwrap();
    let plan = eio_core::jobs::plan::compute(&db, &spec, &policy).await.unwrap();
    let planned: Vec<(&str, &str, Option<&str>)> =
        plan.firmware.iter().map(|f| (f.fqdd.as_str(), f.to.as_str(), f.package.as_deref())).collect();
    assert_eq!(
        planned,
        [
            (NIC, "23.0.8", Some("https://dups.example/NIC.Integrated.1-1.EXE")),
            ("NIC.Integrated.1-2-1", "30.0.1", Some("https://dups.example/NIC.EXE")),
        ]
    );
    let bios = e.dell.bmc(0).firmware_version(BIOS).unwrap();
    assert!(
        plan.notes
            .iter()
            .any(|n| n.ends_with(&format!("{BIOS} runs {bios}, newer than the baseline's 0.0.1: left as it is"))),
        "{:?}",
        plan.notes
    );
    // Where an EIO baseline's packages are is its admin's: a submitter can't point it elsewhere.
    let elsewhere: JobSpec = serde_json::from_value(
        json!({"type": "firmware_update", "hosts": e.hosts, "baseline": "overlap", "packages": "/tmp/mine"}),
    )
    .unwrap();
    let err = eio_core::jobs::plan::compute(&db, &elsewhere, &policy).await.unwrap_err();
    assert_eq!(err.code, eio_core::error::ErrorCode::InvalidInput, "{err}");
    assert!(err.message.contains("--packages is for OME's baselines"), "{err}");
}
