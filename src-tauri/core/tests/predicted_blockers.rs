//! Issue 20: a plan that empties hosts predicts, from the synced inventory, what will keep
//! DRS from doing it — and approving such a plan needs those blockers acknowledged, which
//! the database enforces against plain SQL as well as the application.
mod common;

use common::{sqlstate, two_sites, Login};
use eio_core::error::ErrorCode;
use eio_core::jobs::plan::{compute, PredictedBlocker};
use eio_core::jobs::{self, JobSpec, MaintenanceTarget, Policy, SubmitRequest};
use eio_core::Database;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

const NOT_IN_PREREQUISITE_STATE: &str = "55000";
const DENIED: &str = "42501";

/// vc-east's cluster `prod` as three 64 GiB hosts, with VMs on esx01 that DRS can't move
/// for each reason the inventory knows, one that it can, and one with fault tolerance on
/// esx02.
async fn cluster(admin: &PgPool) {
    two_sites(admin).await;
    sqlx::raw_sql(
        r#"
        UPDATE esxi_hosts SET connection_state = 'connected', memory_mb = 65536, cpu_cores = 16, cpu_mhz = 2000
        WHERE name = 'esx01.vc-east';
        INSERT INTO esxi_hosts (vcenter_id, cluster_id, moid, name, connection_state, memory_mb, cpu_cores, cpu_mhz)
        SELECT vcenter_id, cluster_id, m, n, 'connected', 65536, 16, 2000
        FROM esxi_hosts, (VALUES ('host-2', 'esx02.vc-east'), ('host-3', 'esx03.vc-east')) AS x(m, n)
        WHERE name = 'esx01.vc-east';
        UPDATE clusters c SET drs = $${"enabled": true, "behavior": "fullyAutomated",
              "rules": [{"name": "db-on-rack-a", "vm_group": "db", "affine_hosts": "rack-a"}],
              "vm_groups": {"db": ["vm-3"]}, "host_groups": {"rack-a": ["host-1"]}}$$
        FROM vcenter_instances v WHERE v.id = c.vcenter_id AND v.name = 'vc-east';
        INSERT INTO datastores (vcenter_id, moid, name, host_moids, multiple_host_access)
        SELECT id, 'datastore-1', 'shared-1', ARRAY['host-1', 'host-2', 'host-3'], true FROM vcenter_instances WHERE name = 'vc-east'
        UNION ALL
        SELECT id, 'datastore-2', 'esx01-local', ARRAY['host-1'], false FROM vcenter_instances WHERE name = 'vc-east';
        UPDATE virtual_machines SET power_state = 'powered_on', memory_mb = 4096, name = 'cd01',
               mobility = $${"devices": [{"reason": "host_device", "label": "CD/DVD drive 1", "key": 3000}],
                             "datastores": ["datastore-1"]}$$
        WHERE moid = 'vm-1' AND name = 'app01-vc-east';
        INSERT INTO virtual_machines (vcenter_id, cluster_id, host_id, moid, name, power_state, memory_mb, mobility)
        SELECT h.vcenter_id, h.cluster_id, h.id, x.m, x.n, x.p::vm_power_state, 4096, x.mob::jsonb
        FROM esxi_hosts h, (VALUES
            ('host-1', 'vm-2', 'local01', 'powered_on', '{"datastores": ["datastore-2"]}'),
            ('host-1', 'vm-3', 'db01', 'powered_on', '{"datastores": ["datastore-1"]}'),
            ('host-1', 'vm-4', 'web01', 'powered_on', '{"datastores": ["datastore-1"]}'),
            ('host-1', 'vm-6', 'off01', 'powered_off', '{"devices": [{"reason": "usb_device", "label": "USB 1"}]}'),
            ('host-2', 'vm-5', 'ft01', 'powered_on', '{"fault_tolerance": "running", "datastores": ["datastore-1"]}')
        ) AS x(host, m, n, p, mob)
        WHERE h.moid = x.host AND h.vcenter_id = (SELECT id FROM vcenter_instances WHERE name = 'vc-east');
        "#,
    )
    .execute(admin)
    .await
    .expect("the cluster");
}

/// The seed's default policy: approval, no VM stopped.
fn safe() -> Policy {
    Policy {
        allow_vm_shutdown: false,
        allow_hard_poweroff: false,
        vm_limit: 10,
        shutdown_timeout_seconds: 600,
        require_approval: true,
        tag_filters: vec![],
        folder_filters: vec![],
        policy_name: None,
    }
}

fn maintenance(hosts: &[&str], cluster: Option<&str>) -> JobSpec {
    JobSpec::MaintenanceMode(MaintenanceTarget {
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        cluster: cluster.map(str::to_owned),
        exit: false,
    })
}

fn submit(hosts: &[&str]) -> SubmitRequest {
    SubmitRequest {
        spec: maintenance(hosts, None),
        title: None,
        policy_name: None,
        policy: None,
        idempotency_key: None,
        run_at: None,
        schedule: None,
        dry_run: false,
    }
}

fn codes(b: &[PredictedBlocker]) -> Vec<(String, Option<String>, String)> {
    b.iter().map(|b| (b.host.clone(), b.vm_name.clone(), b.reason_code.clone())).collect()
}

fn row(host: &str, vm: Option<&str>, code: &str) -> (String, Option<String>, String) {
    (host.into(), vm.map(str::to_owned), code.into())
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_plan_names_what_will_keep_drs_from_emptying_a_host(admin: PgPool) {
    cluster(&admin).await;
    let db = Database::from_pool(admin.clone());
    let plan = compute(&db, &maintenance(&["esx01.vc-east"], None), &safe()).await.unwrap();
    assert_eq!(
        codes(&plan.blockers),
        [
            row("esx01.vc-east", Some("cd01"), "host_device"),
            row("esx01.vc-east", Some("db01"), "affinity_rule"),
            row("esx01.vc-east", Some("local01"), "local_storage"),
        ],
        "web01 moves; off01 doesn't need to: {:#?}",
        plan.blockers
    );
    let evidence: Vec<Option<&str>> = plan.blockers.iter().map(|b| b.evidence.as_deref()).collect();
    assert_eq!(evidence, [Some("CD/DVD drive 1 (key 3000)"), Some("db-on-rack-a"), Some("esx01-local")]);
    assert_eq!(plan.blockers[0].reason, "a device of the host is attached (CD/DVD drive 1)");
    assert!(plan.notes.iter().all(|n| !n.contains("not in the inventory yet")), "{:?}", plan.notes);

    // The device removed and synced again: that VM is no longer predicted.
    sqlx::query("UPDATE virtual_machines SET mobility = mobility - 'devices' WHERE moid = 'vm-1'")
        .execute(&admin)
        .await
        .unwrap();
    let plan = compute(&db, &maintenance(&["esx01.vc-east"], None), &safe()).await.unwrap();
    assert_eq!(
        codes(&plan.blockers),
        [row("esx01.vc-east", Some("db01"), "affinity_rule"), row("esx01.vc-east", Some("local01"), "local_storage")]
    );

    // The FT VM is named when its host is the one emptied.
    let plan = compute(&db, &maintenance(&["esx02.vc-east"], None), &safe()).await.unwrap();
    assert_eq!(codes(&plan.blockers), [row("esx02.vc-east", Some("ft01"), "fault_tolerance")]);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn hosts_kept_in_maintenance_take_their_capacity_with_them(admin: PgPool) {
    cluster(&admin).await;
    sqlx::query("UPDATE virtual_machines SET mobility = '{}' WHERE moid IN ('vm-1', 'vm-2', 'vm-5')")
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query("UPDATE clusters SET drs = '{\"enabled\": true, \"behavior\": \"fullyAutomated\"}'")
        .execute(&admin)
        .await
        .unwrap();
    let db = Database::from_pool(admin.clone());
    // The same cluster name in two vCenters is refused as ambiguous, with how to say which.
    let err = compute(&db, &maintenance(&[], Some("prod")), &safe()).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::InvalidInput, "cluster prod is in several vCenters (vc-east, vc-west): name one as VCENTER/prod")
    );
    // The whole cluster into maintenance mode: the last host has nowhere to send its VMs.
    let plan = compute(&db, &maintenance(&[], Some("vc-east/prod")), &safe()).await.unwrap();
    let hosts: Vec<&str> = plan.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(hosts, ["esx01.vc-east", "esx02.vc-east", "esx03.vc-east"]);
    // The first two hosts' VMs end on esx03, which then has nowhere to send them.
    let last = |vms: &[&str]| vms.iter().map(|v| row("esx03.vc-east", Some(v), "no_target_host")).collect::<Vec<_>>();
    assert_eq!(codes(&plan.blockers), last(&["cd01", "db01", "local01", "web01", "ft01"]));
    sqlx::query(
        "UPDATE virtual_machines SET host_id = (SELECT id FROM esxi_hosts WHERE moid = 'host-3' AND name LIKE '%vc-east')
         WHERE moid = 'vm-4' AND name = 'web01'",
    )
    .execute(&admin)
    .await
    .unwrap();
    let plan = compute(&db, &maintenance(&[], Some("vc-east/prod")), &safe()).await.unwrap();
    assert_eq!(codes(&plan.blockers), last(&["web01", "cd01", "db01", "local01", "ft01"]), "its own VM first");

    // One host out: room, until the running VMs' configured memory exceeds the two hosts
    // left (vSphere overcommits: a note) and then their reservations do (a blocker).
    let plan = compute(&db, &maintenance(&["esx01.vc-east"], None), &safe()).await.unwrap();
    assert!(plan.blockers.is_empty(), "{:#?}", plan.blockers);
    sqlx::query("UPDATE virtual_machines SET memory_mb = 40000 WHERE power_state = 'powered_on'")
        .execute(&admin)
        .await
        .unwrap();
    let plan = compute(&db, &maintenance(&["esx01.vc-east"], None), &safe()).await.unwrap();
    assert!(plan.blockers.is_empty(), "{:#?}", plan.blockers);
    assert!(
        plan.notes.contains(
            &"with esx01.vc-east out, the powered-on VMs are configured with 195.3 GiB of memory; the other hosts have \
              128.0 GiB: they will run overcommitted (hosts left: esx02.vc-east, esx03.vc-east)"
                .to_string()
        ),
        "{:?}",
        plan.notes
    );
    sqlx::query(
        "UPDATE virtual_machines SET mobility = mobility || '{\"memory_reservation_mb\": 30000}' WHERE power_state = 'powered_on'",
    )
    .execute(&admin)
    .await
    .unwrap();
    let plan = compute(&db, &maintenance(&["esx01.vc-east"], None), &safe()).await.unwrap();
    assert_eq!(codes(&plan.blockers), [row("esx01.vc-east", None, "insufficient_resources")]);
    let b = &plan.blockers[0];
    assert_eq!(
        b.reason,
        "with esx01.vc-east out, the cluster's memory reservations (146.5 GiB) exceed what the other hosts offer \
         (128.0 GiB): vSphere will not run them all"
    );
    assert_eq!(b.evidence.as_deref(), Some("hosts left: esx02.vc-east, esx03.vc-east"));
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn approving_a_plan_with_blockers_needs_their_acknowledgement(admin: PgPool) {
    cluster(&admin).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["maintenance_mode"]))).await;
    let ap = Login::new(&admin, "eio_approver", Some(("ap@example.com", "approver", &["maintenance_mode"]))).await;
    let (opdb, apdb) = (Database::from_pool(op.pool.clone()), Database::from_pool(ap.pool.clone()));
    let req = submit(&["esx01.vc-east"]);
    let submitted = jobs::submit(&opdb, &req).await.unwrap();
    let job: Uuid = submitted.job.as_ref().unwrap().id;
    assert_eq!(submitted.plan.blockers.len(), 3);

    // Through the application: refused with a sentence that says how many and what to do.
    let err = jobs::approve(&apdb, job, Some("looks fine"), false, None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict, "{err:?}");
    assert_eq!(err.message, "the plan predicts 3 blocker(s): approving it needs their acknowledgement");

    // With plain SQL as the approver: every way of leaving it out is refused by its
    // SQLSTATE, and the four-argument function behind it is not theirs to call.
    for sql in ["SELECT approve_job($1)", "SELECT approve_job($1, 'ok')", "SELECT approve_job($1, 'ok', NULL)"] {
        let r = sqlx::query(sql).bind(job).execute(&ap.pool).await;
        assert_eq!(sqlstate(r), NOT_IN_PREREQUISITE_STATE, "{sql}");
    }
    let r = sqlx::query("SELECT decide_approval($1, 'approved', NULL, true, NULL)").bind(job).execute(&ap.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    // The submitter can't acknowledge their own blockers either: four eyes come first.
    let r = sqlx::query("SELECT approve_job($1, NULL, true)").bind(job).execute(&op.pool).await;
    assert_eq!(sqlstate(r), DENIED);
    let status: String =
        sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(job).fetch_one(&admin).await.unwrap();
    assert_eq!(status, "awaiting_approval");
    let approvals: i64 = sqlx::query_scalar("SELECT count(*) FROM approvals").fetch_one(&admin).await.unwrap();
    assert_eq!(approvals, 0);

    // A plan other than the one read (a card left open while the job was planned again) is
    // not approved, acknowledged or not.
    let err = jobs::approve(&apdb, job, None, true, Some("a plan read earlier")).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::Conflict, "the plan changed since you read it: read it again before approving")
    );
    let read: String =
        sqlx::query_scalar("SELECT plan_hash FROM jobs WHERE id = $1").bind(job).fetch_one(&ap.pool).await.unwrap();

    // Acknowledged: approved, and the approval keeps the blockers as the approver saw them.
    let j = jobs::approve(&apdb, job, Some("CD-ROMs are ejected on the night"), true, Some(&read)).await.unwrap();
    assert_eq!(j.status.as_str(), "pending");
    let (kept, plan): (serde_json::Value, serde_json::Value) = sqlx::query_as(
        "SELECT a.acknowledged_blockers, j.plan -> 'blockers' FROM approvals a JOIN jobs j ON j.id = a.job_id WHERE a.job_id = $1",
    )
    .bind(job)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(kept, plan);
    assert_eq!(kept.as_array().map(Vec::len), Some(3));
    let event: String =
        sqlx::query_scalar("SELECT message FROM job_events WHERE job_id = $1 AND data ->> 'decision' = 'approved'")
            .bind(job)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(event, "approved by ap@example.com, acknowledging 3 predicted blocker(s)");
    let audit: serde_json::Value =
        sqlx::query_scalar("SELECT data FROM audit_events WHERE action = 'job.approve' AND target_id = $1")
            .bind(job.to_string())
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(audit["acknowledged_blockers"], json!(3));
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_plan_without_blockers_is_approved_as_before(admin: PgPool) {
    cluster(&admin).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &["maintenance_mode"]))).await;
    let ap = Login::new(&admin, "eio_approver", Some(("ap@example.com", "approver", &["maintenance_mode"]))).await;
    let req = submit(&["esx03.vc-east"]);
    let submitted = jobs::submit(&Database::from_pool(op.pool.clone()), &req).await.unwrap();
    assert!(submitted.plan.blockers.is_empty());
    let job = submitted.job.unwrap().id;
    sqlx::query("SELECT approve_job($1)").bind(job).execute(&ap.pool).await.unwrap();
    let kept: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT acknowledged_blockers FROM approvals WHERE job_id = $1")
            .bind(job)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(kept, None);
}
