//! The findings engine over what changed (migration 0060) against a real PostgreSQL: after
//! any batch of changes, the run over the changes leaves exactly the findings (and prefix
//! counts) a full run then finds nothing to change in; it opens and clears findings by
//! itself; it runs in full when it must; its notes are the engine's alone.
mod common;
mod ipam_support;

use std::time::Duration;

use common::{sqlstate, Login};
use eio_core::ipam::findings::{self, FindingFilter, FindingRun, FindingType};
use ipam_support::{db, gone, observe, prefix, Seen};
use sqlx::PgPool;
use uuid::Uuid;

const DENIED: &str = "42501";

async fn plan(pool: &PgPool, domain: &str, address: &str, mac: Option<&str>) {
    sqlx::query(
        "INSERT INTO ip_assignments (routing_domain_id, address, mac_address, hostname, created_at)
         VALUES ((SELECT id FROM routing_domains WHERE name = $1), $2::inet, $3::macaddr, 'planned-' || $2,
                 now() - interval '2 days')",
    )
    .bind(domain)
    .bind(address)
    .bind(mac)
    .execute(pool)
    .await
    .unwrap_or_else(|e| panic!("plan {address}: {e}"));
}

/// Everything a finding says (not its id or timestamps), every finding, in order; and the
/// utilization counts the engine keeps per prefix.
async fn snapshot(pool: &PgPool) -> (Vec<String>, Vec<String>) {
    let findings: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' | ', type, severity, subject_key, routing_domain_id, prefix_id, abbrev(address), message,
                          details::text, CASE WHEN resolved_at IS NULL THEN 'open' ELSE 'resolved' END, reopened_count,
                          acknowledge_note)
         FROM ipam_findings ORDER BY type, subject_key",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let usage: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' | ', p.cidr, u.planned, u.observed, u.child_prefixes, u.child_addresses)
         FROM ipam_prefix_usage u JOIN prefixes p ON p.id = u.prefix_id ORDER BY p.routing_domain_id, p.cidr",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    (findings, usage)
}

/// Runs over the changes (it must not fall back to a full run), then in full: the full run
/// must find nothing to change.
async fn check_against_full(pool: &PgPool, grace: Option<Duration>, round: &str) -> FindingRun {
    let run = findings::run(&db(pool), grace).await.unwrap();
    assert!(run.incremental, "{round}: the run after these changes should examine only them: {run:?}");
    let after_changes = snapshot(pool).await;
    let full = findings::run_full(&db(pool), grace).await.unwrap();
    assert!(!full.incremental);
    let after_full = snapshot(pool).await;
    for (i, (a, b)) in after_changes.0.iter().zip(&after_full.0).enumerate() {
        assert_eq!(a, b, "{round}: finding {i} differs between the run over changes and the full run");
    }
    assert_eq!(after_changes, after_full, "{round}: the run over changes left something a full run changed");
    assert_eq!((full.opened, full.reopened, full.resolved), (0, 0, 0), "{round}: {full:?}");
    assert_eq!((full.open_total, &full.open_by_type), (run.open_total, &run.open_by_type), "{round}");
    run
}

/// A deterministic stream of choices (the same changes on every test run).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_run_over_changes_finds_exactly_what_a_full_run_finds(admin: PgPool) {
    // Two routing domains; nested prefixes (a managed /16 with an unmanaged and a managed
    // child, a single-address prefix), a small prefix with a low threshold, IPv6.
    ipam_support::routing_domain(&admin, "red").await;
    prefix(&admin, "default", "10.20.0.0/16", None).await;
    prefix(&admin, "default", "10.20.1.0/24", None).await;
    prefix(&admin, "default", "10.20.2.0/24", Some(0.05)).await;
    prefix(&admin, "default", "10.20.3.7/32", None).await;
    prefix(&admin, "default", "10.21.0.0/29", Some(0.5)).await;
    prefix(&admin, "default", "2001:db8:20::/64", None).await;
    prefix(&admin, "red", "10.20.0.0/16", None).await;
    plan(&admin, "default", "10.20.0.5", None).await;
    plan(&admin, "default", "10.20.2.10", Some("00:50:56:00:20:10")).await;
    plan(&admin, "default", "10.20.2.11", None).await;
    plan(&admin, "default", "10.20.4.0/28", None).await;
    plan(&admin, "default", "2001:db8:20::5", None).await;
    plan(&admin, "red", "10.20.9.9", Some("00:50:56:00:99:99")).await;
    // Carriers of every kind the syncs write, with names.
    let vc = ipam_support::vcenter(&admin, "vc-a").await;
    let host = ipam_support::host(&admin, vc, None, "esx-a.example.com", Some("TAGA1")).await;
    let mut vms = Vec::new();
    for i in 0..6 {
        let name = format!("vm-{i}");
        vms.push(
            ipam_support::vm(
                &admin,
                vc,
                ipam_support::VmSpec { name: &name, cluster: None, guest_hostname: None, nics: &[] },
            )
            .await,
        );
    }
    let server = ipam_support::server(&admin, "srv-a.example.com", "SRVA1", None).await;
    observe(
        &admin,
        Seen { source: "esxi_mgmt", entity_type: "esxi_host", ..Seen::vm("10.20.2.30", "00:50:56:00:30:01", host) },
    )
    .await;
    observe(
        &admin,
        Seen {
            source: "idrac_mgmt",
            entity_type: "physical_server",
            ..Seen::vm("10.20.2.31", "00:50:56:00:30:02", server)
        },
    )
    .await;

    // A small prefix over its threshold.
    for (i, address) in ["10.21.0.1", "10.21.0.2", "10.21.0.3", "10.21.0.4"].iter().enumerate() {
        observe(&admin, Seen::vm(address, &format!("00:50:56:00:21:0{i}"), Uuid::new_v4())).await;
    }

    let run = findings::run_full(&db(&admin), None).await.unwrap();
    assert!(!run.incremental);
    let mut types: std::collections::BTreeSet<String> = run.open_by_type.keys().cloned().collect();
    // The first run over changes after a full one has nothing to examine.
    let idle = findings::run(&db(&admin), None).await.unwrap();
    assert!(idle.incremental && idle.examined == Some(0), "{idle:?}");

    let addresses = [
        "10.20.0.5",
        "10.20.0.6",
        "10.20.1.1",
        "10.20.1.2",
        "10.20.2.10",
        "10.20.2.11",
        "10.20.2.12",
        "10.20.3.7",
        "10.20.3.8",
        "10.20.4.3",
        "10.20.4.20",
        "10.21.0.1",
        "10.21.0.2",
        "10.21.0.3",
        "10.21.0.4",
        "10.99.0.1",
        "2001:db8:20::5",
        "2001:db8:20::9",
        "2001:db8:99::1",
        "10.20.9.9",
    ];
    let macs =
        ["00:50:56:00:00:01", "00:50:56:00:00:02", "00:50:56:00:00:03", "00:50:56:00:20:10", "00:50:56:00:99:99"];
    let mut dice = Dice(21);
    let mut opened = 0;
    let mut resolved = 0;
    for round in 0..12 {
        let grace = if round % 3 == 2 { Some(Duration::ZERO) } else { None };
        for _ in 0..12 {
            let address = addresses[dice.roll(addresses.len() as u64) as usize];
            let mac = macs[dice.roll(macs.len() as u64) as usize];
            let vm = vms[dice.roll(vms.len() as u64) as usize];
            let domain = if dice.roll(5) == 0 { "red" } else { "default" };
            // (Every statement names all three parameters: address, MAC, VM.)
            let sql: Option<&str> = match dice.roll(14) {
                // Seen (again), with a MAC from a small pool: duplicates and MAC conflicts.
                0..=3 => {
                    observe(&admin, Seen::vm(address, mac, vm).in_domain(domain)).await;
                    None
                }
                4 => Some(
                    "UPDATE ip_observations SET gone_at = now()
                     WHERE gone_at IS NULL AND address = $1::inet AND $2::macaddr IS NOT NULL AND $3::uuid IS NOT NULL",
                ),
                5 => Some(
                    "UPDATE ip_observations SET gone_at = NULL
                     WHERE address = $1::inet AND $2::macaddr IS NOT NULL AND $3::uuid IS NOT NULL",
                ),
                6 => Some(
                    "DELETE FROM ip_observations WHERE address = $1::inet AND entity_id = $3 AND $2::macaddr IS NOT NULL",
                ),
                7 => Some(
                    "UPDATE ip_observations SET mac_address = $2::macaddr, last_seen = now()
                     WHERE address = $1::inet AND $3::uuid IS NOT NULL",
                ),
                8 => Some(
                    "INSERT INTO ip_assignments (routing_domain_id, address, mac_address, created_at)
                     SELECT default_routing_domain_id(), $1::inet, $2::macaddr, now() - interval '3 hours'
                     WHERE EXISTS (SELECT 1 FROM prefixes p
                                   WHERE p.routing_domain_id = default_routing_domain_id() AND p.cidr >>= $1::inet)
                       AND $3::uuid IS NOT NULL
                     ON CONFLICT DO NOTHING",
                ),
                9 => Some(
                    "DELETE FROM ip_assignments
                     WHERE address = $1::inet AND $2::macaddr IS NOT NULL AND $3::uuid IS NOT NULL",
                ),
                10 => Some(
                    "UPDATE ip_assignments SET mac_address = $2::macaddr, hostname = coalesce(hostname, 'h') || '+',
                            status = CASE status WHEN 'planned' THEN 'reserved' ELSE 'planned' END::assignment_status
                     WHERE address = $1::inet AND $3::uuid IS NOT NULL",
                ),
                11 => Some(
                    "UPDATE virtual_machines SET name = name || '+'
                     WHERE id = $3 AND $1::inet IS NOT NULL AND $2::macaddr IS NOT NULL",
                ),
                // What a plan says, and when an address that went was last seen.
                12 => Some(
                    "UPDATE ip_assignments SET created_at = created_at - interval '1 hour'
                     WHERE address = $1::inet AND $2::macaddr IS NOT NULL AND $3::uuid IS NOT NULL",
                ),
                _ => Some(
                    "UPDATE ip_observations SET last_seen = last_seen + interval '1 minute'
                     WHERE address = $1::inet AND gone_at IS NOT NULL AND $2::macaddr IS NOT NULL
                       AND $3::uuid IS NOT NULL",
                ),
            };
            if let Some(sql) = sql {
                sqlx::query(sql).bind(address).bind(mac).bind(vm).execute(&admin).await.unwrap();
            }
        }
        // Now and then a planned block comes and goes (it covers what it holds).
        if round == 4 {
            plan(&admin, "default", "10.20.1.0/29", None).await;
        }
        if round == 8 {
            sqlx::query("DELETE FROM ip_assignments WHERE address = '10.20.4.0/28'").execute(&admin).await.unwrap();
        }
        let run = check_against_full(&admin, grace, &format!("round {round}")).await;
        opened += run.opened + run.reopened;
        resolved += run.resolved;
        types.extend(run.open_by_type.keys().cloned());
    }
    // A plan whose address went: its time alone changes (the message, by the day, may not),
    // then when the address was last seen. The finding follows each, as a full run words it.
    plan(&admin, "default", "10.20.5.5", None).await;
    let gone_obs = observe(&admin, Seen::vm("10.20.5.5", "00:50:56:00:55:05", vms[0])).await;
    gone(&admin, gone_obs).await;
    check_against_full(&admin, None, "a plan whose address went").await;
    let unseen = |pool: PgPool| async move {
        sqlx::query_scalar::<_, serde_json::Value>(
            "SELECT details FROM ipam_findings
             WHERE type = 'planned_not_seen' AND address = '10.20.5.5' AND resolved_at IS NULL",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let first = unseen(admin.clone()).await;
    assert!(!first["last_seen"].is_null(), "{first}");
    sqlx::query("UPDATE ip_assignments SET created_at = created_at - interval '1 minute' WHERE address = '10.20.5.5'")
        .execute(&admin)
        .await
        .unwrap();
    check_against_full(&admin, None, "a plan's time").await;
    let second = unseen(admin.clone()).await;
    assert_ne!(first["planned_at"], second["planned_at"]);
    sqlx::query("UPDATE ip_observations SET last_seen = last_seen + interval '1 minute' WHERE id = $1")
        .bind(gone_obs)
        .execute(&admin)
        .await
        .unwrap();
    check_against_full(&admin, None, "when a gone address was last seen").await;
    assert_ne!(second["last_seen"], unseen(admin.clone()).await["last_seen"]);

    // The changes did open and clear findings along the way, and there is plenty to compare.
    assert!(opened > 5 && resolved > 5, "opened {opened}, resolved {resolved}");
    let (findings_now, usage) = snapshot(&admin).await;
    assert!(findings_now.len() > 20, "{findings_now:#?}");
    assert!(usage.iter().any(|u| u.starts_with("10.20.0.0/16 | ")), "{usage:#?}");
    for t in [
        "duplicate_usage",
        "mac_conflict",
        "outside_any_prefix",
        "seen_not_planned",
        "planned_not_seen",
        "prefix_over_threshold",
    ] {
        assert!(types.contains(t), "no {t} finding along the way: {types:?}");
    }
    // Open findings name their carriers as entity_label() names them.
    let (named, misnamed): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE c ->> 'name' IS NOT NULL),
                count(*) FILTER (WHERE c ->> 'name' IS DISTINCT FROM
                                       entity_label((c ->> 'entity_type')::entity_kind, (c ->> 'entity_id')::uuid))
         FROM ipam_findings f CROSS JOIN jsonb_array_elements(f.details -> 'carriers') c
         WHERE f.resolved_at IS NULL",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(named > 3, "{named} named carriers");
    assert_eq!(misnamed, 0);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_run_over_changes_opens_and_clears_findings(admin: PgPool) {
    prefix(&admin, "default", "10.30.0.0/24", None).await;
    let (vm_a, vm_b) = (Uuid::new_v4(), Uuid::new_v4());
    observe(&admin, Seen::vm("10.30.0.5", "00:50:56:00:00:0a", vm_a)).await;
    observe(&admin, Seen::vm("10.30.0.6", "00:50:56:00:00:0c", Uuid::new_v4())).await;
    observe(&admin, Seen::vm("192.168.30.1", "00:50:56:00:00:0d", Uuid::new_v4())).await;
    // The first run of all is a full one, whatever was asked for.
    let first = findings::run(&db(&admin), None).await.unwrap();
    assert!(!first.incremental, "{first:?}");
    assert_eq!(first.open_by_type.get("outside_any_prefix"), Some(&1));

    // Another MAC on the same address: a duplicate, opened by a run over that one address.
    let b = observe(&admin, Seen::vm("10.30.0.5", "00:50:56:00:00:0b", vm_b)).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let run = findings::run(&db(&worker.pool), None).await.unwrap();
    assert!(run.incremental, "{run:?}");
    assert_eq!((run.opened, run.reopened, run.resolved), (1, 0, 0));
    assert_eq!(run.examined, Some(6), "one address and one MAC: {run:?}");
    assert_eq!(run.run_by, worker.role);
    let dup = findings::list(
        &db(&admin),
        &FindingFilter { types: vec![FindingType::DuplicateUsage], ..FindingFilter::default() },
    )
    .await
    .unwrap();
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0].address.as_deref(), Some("10.30.0.5"));
    assert_eq!(dup[0].details["prefix"], "10.30.0.0/24");
    assert_eq!(dup[0].details["carriers"].as_array().unwrap().len(), 2);
    let runs: Vec<String> =
        sqlx::query_scalar("SELECT scope FROM finding_runs ORDER BY id").fetch_all(&admin).await.unwrap();
    assert_eq!(runs, ["full", "changes"]);

    // An untouched open finding was seen by this run too.
    let (outside_seen, last_run): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT f.last_seen_at, s.last_run_at FROM ipam_findings f, ipam_findings_state s
         WHERE f.type = 'outside_any_prefix'",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(outside_seen < last_run, "the engine left the untouched finding alone");
    let listed = findings::list(
        &db(&admin),
        &FindingFilter { types: vec![FindingType::OutsideAnyPrefix], ..FindingFilter::default() },
    )
    .await
    .unwrap();
    assert_eq!(listed[0].last_seen_at, last_run, "listings show the last run that confirmed it");

    // The second carrier goes: cleared by the run over changes; the row remembers the last
    // run that saw it.
    gone(&admin, b).await;
    let run = findings::run(&db(&admin), None).await.unwrap();
    assert!(run.incremental);
    assert_eq!((run.opened, run.resolved), (0, 1));
    let dup = findings::get(&db(&admin), dup[0].id).await.unwrap();
    assert!(dup.resolved_at.is_some());
    assert_eq!(dup.last_seen_at, last_run);

    // A plan for the outside address's neighbour in a new prefix: a prefix changed, so a full run.
    prefix(&admin, "default", "192.168.30.0/24", None).await;
    let run = findings::run(&db(&admin), None).await.unwrap();
    assert!(!run.incremental, "{run:?}");
    assert_eq!(run.resolved, 1, "the outside address is inside a prefix now");

    // A bulk change (more than 10,000 rows in one statement) runs in full too, and finds
    // the duplicates it made.
    sqlx::query(
        "INSERT INTO ip_observations (routing_domain_id, address, source, mac_address, confidence, entity_type, entity_id)
         SELECT default_routing_domain_id(), '10.40.0.0'::inet + (i / 2), 'vcenter_vm',
                ('02' || lpad(to_hex(i), 10, '0'))::macaddr, 0.9, 'virtual_machine', gen_random_uuid()
         FROM generate_series(0, 10001) i",
    )
    .execute(&admin)
    .await
    .unwrap();
    let run = findings::run(&db(&admin), None).await.unwrap();
    assert!(!run.incremental, "{run:?}");
    assert_eq!(run.open_by_type.get("duplicate_usage"), Some(&5001));
    assert_eq!(run.open_by_type.get("outside_any_prefix"), Some(&5001));
    // And back to runs over changes.
    observe(&admin, Seen::vm("10.30.0.7", "00:50:56:00:00:0e", Uuid::new_v4())).await;
    let run = findings::run(&db(&admin), None).await.unwrap();
    assert!(run.incremental && run.opened == 0 && run.resolved == 0, "{run:?}");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_plan_crossing_its_grace_period_is_found_by_the_run_over_changes(admin: PgPool) {
    prefix(&admin, "default", "10.50.0.0/24", None).await;
    findings::run_full(&db(&admin), None).await.unwrap();
    // Planned two hours ago: within a day's grace, past an hour's.
    sqlx::query(
        "INSERT INTO ip_assignments (routing_domain_id, address, created_at)
         VALUES (default_routing_domain_id(), '10.50.0.9', now() - interval '2 hours')",
    )
    .execute(&admin)
    .await
    .unwrap();
    let run = findings::run(&db(&admin), None).await.unwrap();
    assert!(run.incremental);
    assert_eq!(run.opened, 0);
    let run = findings::run(&db(&admin), Some(Duration::from_secs(3600))).await.unwrap();
    assert!(run.incremental);
    assert_eq!((run.opened, run.open_by_type.get("planned_not_seen")), (1, Some(&1)));
    // A longer grace again: not yet "not seen" after all.
    let run = findings::run(&db(&admin), None).await.unwrap();
    assert!(run.incremental);
    assert_eq!((run.resolved, run.open_by_type.get("planned_not_seen")), (1, None));
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_notes_and_counts_are_the_engines_alone(admin: PgPool) {
    observe(&admin, Seen::vm("10.60.0.1", "00:50:56:00:00:01", Uuid::new_v4())).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    // The worker's own observation lands a note through the trigger (it may not write notes).
    sqlx::query(
        "INSERT INTO ip_observations (routing_domain_id, address, source, confidence, entity_type, entity_id)
         VALUES (default_routing_domain_id(), '10.60.0.2', 'vcenter_vm', 1, 'virtual_machine', gen_random_uuid())",
    )
    .execute(&worker.pool)
    .await
    .unwrap();
    let notes: i64 = sqlx::query_scalar("SELECT count(*) FROM ipam_findings_changes WHERE what = 'address'")
        .fetch_one(&viewer.pool)
        .await
        .unwrap();
    assert_eq!(notes, 2, "viewers read the notes; both observations are noted");
    for login in [&viewer, &op, &worker] {
        for sql in [
            "INSERT INTO ipam_findings_changes (what, reason) VALUES ('all', 'x')",
            "DELETE FROM ipam_findings_changes",
            "UPDATE ipam_prefix_usage SET observed = 0",
            "UPDATE ipam_findings_state SET usage_valid = true",
            "TRUNCATE ipam_findings_tree",
            "SELECT * FROM ipam_findings_engine(interval '0', true, 10)",
        ] {
            assert_eq!(sqlstate(sqlx::raw_sql(sql).execute(&login.pool).await), DENIED, "{}: {sql}", login.role);
        }
    }
    assert_eq!(
        sqlstate(sqlx::raw_sql("SELECT * FROM run_ipam_findings_changed()").execute(&viewer.pool).await),
        DENIED
    );
    for login in [&op, &worker] {
        findings::run(&db(&login.pool), None).await.unwrap();
    }
    let runs: Vec<String> =
        sqlx::query_scalar("SELECT scope FROM finding_runs ORDER BY id").fetch_all(&admin).await.unwrap();
    assert_eq!(runs, ["full", "changes"]);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_renamed_routing_domain_rewords_every_finding(admin: PgPool) {
    ipam_support::routing_domain(&admin, "blue").await;
    prefix(&admin, "blue", "10.70.0.0/24", None).await;
    plan(&admin, "blue", "10.70.0.5", None).await;
    observe(&admin, Seen::vm("10.71.0.1", "00:50:56:00:00:01", Uuid::new_v4()).in_domain("blue")).await;
    let run = findings::run(&db(&admin), None).await.unwrap();
    assert_eq!(run.open_total, 2, "{run:?}");
    sqlx::query("UPDATE routing_domains SET name = 'navy' WHERE name = 'blue'").execute(&admin).await.unwrap();
    let run = findings::run(&db(&admin), None).await.unwrap();
    assert!(!run.incremental, "a renamed routing domain means a full run: {run:?}");
    let open = findings::list(&db(&admin), &FindingFilter::default()).await.unwrap();
    assert_eq!(open.len(), 2);
    for f in &open {
        assert_eq!(f.routing_domain.as_deref(), Some("navy"));
        assert_eq!(f.details["routing_domain"], "navy", "{f:?}");
    }
    let outside = open.iter().find(|f| f.kind == FindingType::OutsideAnyPrefix).unwrap();
    assert!(outside.message.ends_with("routing domain navy holds it"), "{}", outside.message);
    // A plan that changes is worded again; one that does not keeps its row as it was.
    let before: String = sqlx::query_scalar("SELECT details::text FROM ipam_findings WHERE type = 'planned_not_seen'")
        .fetch_one(&admin)
        .await
        .unwrap();
    sqlx::query("UPDATE ip_assignments SET hostname = 'renamed-host' WHERE address = '10.70.0.5'")
        .execute(&admin)
        .await
        .unwrap();
    let run = findings::run(&db(&admin), None).await.unwrap();
    assert!(run.incremental);
    let after = findings::list(
        &db(&admin),
        &FindingFilter { types: vec![FindingType::PlannedNotSeen], ..FindingFilter::default() },
    )
    .await
    .unwrap();
    assert_eq!(after[0].details["hostname"], "renamed-host", "{before}");
    assert!(after[0].message.contains("for renamed-host"), "{}", after[0].message);
}
