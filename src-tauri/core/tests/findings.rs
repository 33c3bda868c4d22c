//! The findings engine against a real PostgreSQL: each condition raises exactly one
//! finding, resolves it when the condition clears and reopens the same row when it
//! returns; acknowledging works only as yourself, with a note.
mod common;
mod ipam_support;

use std::time::Duration;

use common::{sqlstate, Login};
use eio_core::error::ErrorCode;
use eio_core::ipam::findings::{self, Finding, FindingFilter, FindingType, Severity};
use eio_core::ipam::prefixes;
use ipam_support::{db, gone, observe, prefix, Seen};
use sqlx::PgPool;
use uuid::Uuid;

const DENIED: &str = "42501";

async fn plan(pool: &PgPool, address: &str, mac: Option<&str>) {
    sqlx::query(
        "INSERT INTO ip_assignments (routing_domain_id, address, mac_address, hostname, created_at)
         VALUES (default_routing_domain_id(), $1::inet, $2::macaddr, 'planned-host', now() - interval '2 days')",
    )
    .bind(address)
    .bind(mac)
    .execute(pool)
    .await
    .unwrap();
}

async fn run(pool: &PgPool) -> eio_core::ipam::findings::FindingRun {
    findings::run(&db(pool), None).await.unwrap()
}

async fn all(pool: &PgPool) -> Vec<Finding> {
    findings::list(&db(pool), &FindingFilter { include_resolved: true, ..FindingFilter::default() }).await.unwrap()
}

fn of(list: &[Finding], kind: FindingType) -> Vec<&Finding> {
    list.iter().filter(|f| f.kind == kind).collect()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_duplicate_address_raises_one_finding_that_resolves_and_reopens(admin: PgPool) {
    prefix(&admin, "default", "10.1.0.0/24", None).await;
    let (vm_a, vm_b) = (Uuid::new_v4(), Uuid::new_v4());
    let a = observe(&admin, Seen::vm("10.1.0.5", "00:50:56:00:00:0a", vm_a)).await;
    let b = observe(&admin, Seen::vm("10.1.0.5", "00:50:56:00:00:0b", vm_b)).await;
    // The same MAC twice (two sources, one NIC) is not a duplicate.
    observe(
        &admin,
        Seen { source: "esxi_mgmt", entity_type: "esxi_host", ..Seen::vm("10.1.0.5", "00:50:56:00:00:0a", vm_a) },
    )
    .await;

    let worker = Login::new(&admin, "eio_worker", None).await;
    let first = findings::run(&db(&worker.pool), None).await.unwrap();
    assert!(first.opened >= 1);
    assert_eq!(first.run_by, worker.role);
    let dups = all(&admin).await;
    let dups = of(&dups, FindingType::DuplicateUsage);
    assert_eq!(dups.len(), 1, "exactly one finding for one duplicated address");
    let dup = dups[0].clone();
    assert_eq!(
        (dup.severity, dup.address.as_deref(), dup.routing_domain.as_deref()),
        (Severity::Error, Some("10.1.0.5"), Some("default"))
    );
    assert!(dup.message.contains("2 different MAC addresses"), "{}", dup.message);
    assert_eq!(dup.details["prefix"], "10.1.0.0/24");
    assert_eq!(dup.details["carriers"].as_array().unwrap().len(), 3);
    assert!(dup.resolved_at.is_none());

    // Running again changes nothing: still one, still open, not reopened.
    let again = run(&admin).await;
    assert_eq!((again.opened, again.reopened, again.resolved), (0, 0, 0));
    assert_eq!(of(&all(&admin).await, FindingType::DuplicateUsage).len(), 1);

    // One side disappears (the sync sets gone_at): resolved.
    gone(&admin, b).await;
    let resolved = run(&admin).await;
    assert_eq!(resolved.resolved, 1);
    let now = all(&admin).await;
    let after = of(&now, FindingType::DuplicateUsage);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, dup.id);
    assert!(after[0].resolved_at.is_some());
    let open = findings::list(&db(&admin), &FindingFilter::default()).await.unwrap();
    assert!(of(&open, FindingType::DuplicateUsage).is_empty(), "resolved findings are not listed as open");

    // It returns: the same row reopens.
    observe(&admin, Seen::vm("10.1.0.5", "00:50:56:00:00:0b", vm_b)).await;
    let reopened = run(&admin).await;
    assert_eq!((reopened.opened, reopened.reopened), (0, 1));
    let now = all(&admin).await;
    let back = of(&now, FindingType::DuplicateUsage);
    assert_eq!(back.len(), 1);
    assert_eq!((back[0].id, back[0].reopened_count), (dup.id, 1));
    assert!(back[0].resolved_at.is_none());

    // The other way to disappear: the row is removed.
    sqlx::query("DELETE FROM ip_observations WHERE id = $1").bind(a).execute(&admin).await.unwrap();
    sqlx::query("DELETE FROM ip_observations WHERE source = 'esxi_mgmt'").execute(&admin).await.unwrap();
    run(&admin).await;
    let now = all(&admin).await;
    let gone_again = of(&now, FindingType::DuplicateUsage);
    assert_eq!(gone_again.len(), 1);
    assert!(gone_again[0].resolved_at.is_some());

    // Runs are recorded.
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM finding_runs").fetch_one(&admin).await.unwrap();
    assert_eq!(runs, 5);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_same_address_in_two_routing_domains_is_no_duplicate(admin: PgPool) {
    ipam_support::routing_domain(&admin, "vrf-red").await;
    prefix(&admin, "default", "10.1.0.0/24", None).await;
    prefix(&admin, "vrf-red", "10.1.0.0/24", None).await;
    observe(&admin, Seen::vm("10.1.0.5", "00:50:56:00:00:0a", Uuid::new_v4())).await;
    observe(&admin, Seen::vm("10.1.0.5", "00:50:56:00:00:0b", Uuid::new_v4()).in_domain("vrf-red")).await;
    // Outside every prefix of its own domain, though inside the other domain's prefix.
    observe(&admin, Seen::vm("10.9.0.1", "00:50:56:00:00:0c", Uuid::new_v4()).in_domain("vrf-red")).await;
    prefix(&admin, "default", "10.9.0.0/24", None).await;
    run(&admin).await;
    let list = all(&admin).await;
    assert!(of(&list, FindingType::DuplicateUsage).is_empty());
    let outside = of(&list, FindingType::OutsideAnyPrefix);
    assert_eq!(outside.len(), 1);
    assert_eq!(
        (outside[0].address.as_deref(), outside[0].routing_domain.as_deref()),
        (Some("10.9.0.1"), Some("vrf-red"))
    );
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn every_condition_raises_its_finding(admin: PgPool) {
    // A managed /24 (it holds planned addresses), an unmanaged /24, a /29 near full.
    prefix(&admin, "default", "10.2.0.0/24", None).await;
    prefix(&admin, "default", "10.3.0.0/24", None).await;
    prefix(&admin, "default", "10.4.0.0/29", Some(0.5)).await;
    plan(&admin, "10.2.0.10", Some("00:50:56:00:00:10")).await;
    plan(&admin, "10.2.0.11", None).await;
    // Planned, seen, with another MAC than planned.
    let vm1 = Uuid::new_v4();
    observe(&admin, Seen::vm("10.2.0.10", "00:50:56:00:00:99", vm1)).await;
    // Seen in the managed prefix, not planned.
    observe(&admin, Seen::vm("10.2.0.20", "00:50:56:00:00:20", Uuid::new_v4())).await;
    // Seen in the unmanaged prefix: observations are the record there, no finding.
    observe(&admin, Seen::vm("10.3.0.20", "00:50:56:00:00:30", Uuid::new_v4())).await;
    // One MAC on two carriers (a cloned VM).
    observe(&admin, Seen::vm("10.3.0.21", "00:50:56:00:00:aa", Uuid::new_v4())).await;
    observe(&admin, Seen::vm("10.3.0.22", "00:50:56:00:00:aa", Uuid::new_v4())).await;
    // Outside any prefix.
    observe(&admin, Seen::vm("192.168.7.7", "00:50:56:00:00:77", Uuid::new_v4())).await;
    // The /29 (6 usable) with 4 seen: 67% > 50%.
    for i in 1..=4 {
        observe(&admin, Seen::vm(&format!("10.4.0.{i}"), &format!("00:50:56:00:04:0{i}"), Uuid::new_v4())).await;
    }
    // A credential overdue for rotation.
    let si = ipam_support::identity(&admin).await;
    sqlx::query("UPDATE service_identities SET rotation_due = now() - interval '1 day' WHERE id = $1")
        .bind(si)
        .execute(&admin)
        .await
        .unwrap();

    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let r = findings::run(&db(&op.pool), Some(Duration::from_secs(3600))).await.unwrap();
    let list = findings::list(&db(&op.pool), &FindingFilter::default()).await.unwrap();
    let subjects = |k: FindingType| -> Vec<String> {
        of(&list, k).iter().map(|f| f.address.clone().unwrap_or_else(|| f.subject_key.clone())).collect()
    };
    assert_eq!(subjects(FindingType::SeenNotPlanned), ["10.2.0.20"]);
    assert_eq!(subjects(FindingType::PlannedNotSeen), ["10.2.0.11"]);
    assert_eq!(subjects(FindingType::OutsideAnyPrefix), ["192.168.7.7"]);
    let macs = of(&list, FindingType::MacConflict);
    assert_eq!(macs.len(), 2, "{macs:?}");
    assert!(
        macs.iter()
            .any(|f| f.subject_key.ends_with("/00:50:56:00:00:aa")
                && f.details["carriers"].as_array().unwrap().len() == 2)
    );
    assert!(macs
        .iter()
        .any(|f| f.address.as_deref() == Some("10.2.0.10") && f.details["planned_mac"] == "00:50:56:00:00:10"));
    let full = of(&list, FindingType::PrefixOverThreshold);
    assert_eq!(full.len(), 1);
    assert_eq!((full[0].prefix.as_deref(), full[0].severity), (Some("10.4.0.0/29"), Severity::Warning));
    assert_eq!(full[0].details["observed"], 4);
    let due = of(&list, FindingType::CredentialRotationDue);
    assert_eq!(due.len(), 1);
    assert_eq!(r.open_total as usize, list.len());
    assert_eq!(r.open_by_type.get("seen_not_planned"), Some(&1));
    // Open findings list the most severe first.
    assert!(list.windows(2).all(|w| w[0].severity >= w[1].severity));

    // Planning the unplanned address and seeing the planned one clears both; filling the
    // /29 turns its finding into an error.
    plan(&admin, "10.2.0.20", None).await;
    observe(&admin, Seen::vm("10.2.0.11", "00:50:56:00:00:11", Uuid::new_v4())).await;
    for i in 5..=6 {
        observe(&admin, Seen::vm(&format!("10.4.0.{i}"), &format!("00:50:56:00:04:0{i}"), Uuid::new_v4())).await;
    }
    let r2 = run(&admin).await;
    assert_eq!(r2.resolved, 2);
    let list = findings::list(&db(&admin), &FindingFilter::default()).await.unwrap();
    assert!(of(&list, FindingType::SeenNotPlanned).is_empty() && of(&list, FindingType::PlannedNotSeen).is_empty());
    assert_eq!(of(&list, FindingType::PrefixOverThreshold)[0].severity, Severity::Error);

    // A young plan is not yet "not seen".
    sqlx::query(
        "INSERT INTO ip_assignments (routing_domain_id, address) VALUES (default_routing_domain_id(), '10.2.0.12')",
    )
    .execute(&admin)
    .await
    .unwrap();
    run(&admin).await;
    let list = findings::list(
        &db(&admin),
        &FindingFilter { types: vec![FindingType::PlannedNotSeen], ..FindingFilter::default() },
    )
    .await
    .unwrap();
    assert!(list.is_empty(), "{list:?}");
    findings::run(&db(&admin), Some(Duration::ZERO)).await.unwrap();
    let list = findings::list(
        &db(&admin),
        &FindingFilter { types: vec![FindingType::PlannedNotSeen], ..FindingFilter::default() },
    )
    .await
    .unwrap();
    assert_eq!(list.len(), 1);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn acknowledging_works_only_as_yourself_with_a_note(admin: PgPool) {
    observe(&admin, Seen::vm("172.16.0.1", "00:50:56:00:00:01", Uuid::new_v4())).await;
    run(&admin).await;
    let id: Uuid = sqlx::query_scalar("SELECT id FROM ipam_findings WHERE type = 'outside_any_prefix'")
        .fetch_one(&admin)
        .await
        .unwrap();
    let op1 = Login::new(&admin, "eio_operator", Some(("op1@example.com", "operator", &[]))).await;
    let op2 = Login::new(&admin, "eio_operator", Some(("op2@example.com", "operator", &[]))).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let unmapped = Login::new(&admin, "eio_operator", None).await;

    // Plain SQL: acknowledging in someone else's name acknowledges in your own (the database
    // writes who did it); viewers can't acknowledge at all; nobody but the engine writes
    // anything else.
    sqlx::query(
        "UPDATE ipam_findings SET acknowledged_at = now(), acknowledged_by = $2, acknowledge_note = 'not me' WHERE id = $1",
    )
    .bind(id)
    .bind(op2.user_id.unwrap())
    .execute(&op1.pool)
    .await
    .unwrap();
    let by: Option<Uuid> = sqlx::query_scalar("SELECT acknowledged_by FROM ipam_findings WHERE id = $1")
        .bind(id)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(by, op1.user_id);
    sqlx::query("UPDATE ipam_findings SET acknowledged_at = NULL, acknowledged_by = NULL, acknowledge_note = NULL WHERE id = $1")
        .bind(id)
        .execute(&admin)
        .await
        .unwrap();
    for (login, sql) in [
        (&viewer, "UPDATE ipam_findings SET acknowledged_at = now(), acknowledge_note = 'x'"),
        (&op1, "UPDATE ipam_findings SET resolved_at = now()"),
        (&op1, "DELETE FROM ipam_findings"),
        (&op1, "INSERT INTO ipam_findings (type, severity, subject_key, message) VALUES ('mac_conflict', 'info', 'x', 'x')"),
        (&viewer, "SELECT * FROM run_ipam_findings()"),
        (&viewer, "INSERT INTO ip_observations (routing_domain_id, address, source, confidence, entity_type, entity_id) VALUES (default_routing_domain_id(), '10.0.0.1', 'vcenter_vm', 1, 'virtual_machine', gen_random_uuid())"),
        (&op1, "INSERT INTO ip_observations (routing_domain_id, address, source, confidence, entity_type, entity_id) VALUES (default_routing_domain_id(), '10.0.0.1', 'vcenter_vm', 1, 'virtual_machine', gen_random_uuid())"),
        (&viewer, "INSERT INTO finding_runs (started_at, finished_at, duration_ms, opened, reopened, resolved, open_total) VALUES (now(), now(), 0, 0, 0, 0, 0)"),
    ] {
        assert_eq!(sqlstate(sqlx::raw_sql(sql).execute(&login.pool).await), DENIED, "{}: {sql}", login.role);
    }

    // Through the service: a note is required, an unmapped login is told why, a viewer is refused.
    let e = findings::acknowledge(&db(&op1.pool), id, "  ").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e}");
    let e = findings::acknowledge(&db(&unmapped.pool), id, "ok").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden, "{e}");
    assert!(e.message.contains("not mapped"), "{e}");
    let e = findings::acknowledge(&db(&viewer.pool), id, "ok").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden, "{e}");
    let e = findings::acknowledge(&db(&op1.pool), Uuid::new_v4(), "ok").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound, "{e}");
    let unchanged = findings::get(&db(&admin), id).await.unwrap();
    assert!(unchanged.acknowledged_at.is_none());

    let f = findings::acknowledge(&db(&op1.pool), id, "lab subnet, being documented").await.unwrap();
    assert_eq!(f.acknowledged_by.as_deref(), Some("op1@example.com"));
    assert_eq!(f.acknowledge_note.as_deref(), Some("lab subnet, being documented"));
    assert!(f.acknowledged_at.is_some());
    // Another operator may not take it over: only its author (or an admin) changes it.
    let e = findings::acknowledge(&db(&op2.pool), id, "mine now").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden, "{e}");
    assert!(e.message.contains("acknowledged by op1@example.com"), "{e}");
    let f = findings::acknowledge(&db(&op1.pool), id, "still mine").await.unwrap();
    assert_eq!(f.acknowledged_by.as_deref(), Some("op1@example.com"));

    // An acknowledgement covers one occurrence: still open, it stays; reopened, it's gone.
    run(&admin).await;
    assert!(findings::get(&db(&admin), id).await.unwrap().acknowledged_at.is_some());
    sqlx::query("UPDATE ip_observations SET gone_at = now()").execute(&admin).await.unwrap();
    run(&admin).await;
    sqlx::query("UPDATE ip_observations SET gone_at = NULL").execute(&admin).await.unwrap();
    run(&admin).await;
    let f = findings::get(&db(&admin), id).await.unwrap();
    assert_eq!(f.reopened_count, 1);
    assert!(f.acknowledged_at.is_none() && f.acknowledged_by.is_none() && f.acknowledge_note.is_none());
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_most_specific_prefix_decides_and_planned_blocks_cover_their_addresses(admin: PgPool) {
    prefixes::add_domain(&db(&admin), "blue", None).await.unwrap();
    // A managed /16 with an unmanaged child /24, a planned /28 block, and a managed IPv6 /64.
    prefix(&admin, "default", "10.6.0.0/16", None).await;
    prefix(&admin, "default", "10.6.1.0/24", None).await;
    prefix(&admin, "default", "2001:db8:6::/64", None).await;
    plan(&admin, "10.6.0.5", None).await;
    plan(&admin, "10.6.3.0/28", None).await;
    plan(&admin, "2001:db8:6::5", None).await;
    let seen = [
        ("default", "10.6.1.9"),      // in the unmanaged child: the child decides, no finding
        ("default", "10.6.2.9"),      // in the managed /16 itself: seen, not planned
        ("default", "10.6.3.4"),      // inside the planned /28: planned
        ("default", "10.6.0.5"),      // planned exactly
        ("default", "2001:db8:6::9"), // IPv6, managed: seen, not planned
        ("default", "2001:db8:7::1"), // no IPv6 prefix holds it
        ("blue", "10.6.2.9"),         // blue has no prefixes at all
    ];
    for (i, (domain, address)) in seen.iter().enumerate() {
        let mac = format!("00:50:56:00:06:{i:02x}");
        observe(&admin, Seen::vm(address, &mac, Uuid::new_v4()).in_domain(domain)).await;
    }
    findings::run(&db(&admin), Some(Duration::ZERO)).await.unwrap();
    let list = findings::list(&db(&admin), &FindingFilter::default()).await.unwrap();
    let subjects = |k: FindingType| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = of(&list, k)
            .iter()
            .map(|f| (f.routing_domain.clone().unwrap_or_default(), f.address.clone().unwrap_or_default()))
            .collect();
        v.sort();
        v
    };
    let pair = |d: &str, a: &str| (d.to_owned(), a.to_owned());
    assert_eq!(subjects(FindingType::SeenNotPlanned), [pair("default", "10.6.2.9"), pair("default", "2001:db8:6::9")]);
    assert_eq!(subjects(FindingType::OutsideAnyPrefix), [pair("blue", "10.6.2.9"), pair("default", "2001:db8:7::1")]);
    let unplanned = of(&list, FindingType::SeenNotPlanned);
    let v4 = unplanned.iter().find(|f| f.address.as_deref() == Some("10.6.2.9")).unwrap();
    assert_eq!(v4.details["prefix"], "10.6.0.0/16");
    // Planned and unseen: the IPv6 address; a planned /28 block is never "not seen".
    assert_eq!(subjects(FindingType::PlannedNotSeen), [pair("default", "2001:db8:6::5")]);
}
