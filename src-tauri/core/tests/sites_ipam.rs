//! Sites, site inference and IPAM against a real PostgreSQL: through the service layer as
//! real logins in each group role, and in plain SQL where the database is the rule.
mod common;
mod ipam_support;

use std::collections::{BTreeSet, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use common::{sqlstate, Login};
use eio_core::api::{self, op};
use eio_core::error::ErrorCode;
use eio_core::ipam::ops::{FindingsInput, IpamPageQuery};
use eio_core::ipam::prefixes::{self, NewPrefix, PrefixChanges, PrefixFilter, PrefixStatus};
use eio_core::ipam::space::{self, IpRequest, PrefixRequest};
use eio_core::ipam::Cidr;
use eio_core::jobs::plan::compute;
use eio_core::jobs::{JobSpec, MaintenanceTarget, Policy, PowerAction, PowerTarget};
use eio_core::pages::inventory::{self as inventory_page, InventoryKind, InventoryQuery};
use eio_core::reports::catalog;
use eio_core::sites::{self, EntityKind, InferenceMethod, NewSite, NewSiteRule, RuleMatch, SiteChanges, SiteStatus};
use ipam_support::{db, observe, Seen, VmSpec};
use sqlx::PgPool;
use uuid::Uuid;

const DENIED: &str = "42501";

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

fn new_prefix(domain: &str, c: &str) -> NewPrefix {
    NewPrefix {
        domain: Some(domain.into()),
        cidr: cidr(c),
        site: None,
        vlan_id: None,
        status: PrefixStatus::Active,
        description: None,
        utilization_threshold: None,
    }
}

async fn add(pool: &PgPool, domain: &str, c: &str) -> Uuid {
    prefixes::add(&db(pool), &new_prefix(domain, c)).await.unwrap_or_else(|e| panic!("add {c}: {e}")).id
}

async fn plan(pool: &PgPool, domain: &str, address: &str) {
    sqlx::query(
        "INSERT INTO ip_assignments (routing_domain_id, address) VALUES ((SELECT id FROM routing_domains WHERE name = $1), $2::inet)",
    )
    .bind(domain)
    .bind(address)
    .execute(pool)
    .await
    .unwrap();
}

async fn free(pool: &PgPool, domain: &str, c: &str) -> Vec<String> {
    space::available(&db(pool), Some(domain), &cidr(c), None, None)
        .await
        .unwrap()
        .blocks
        .into_iter()
        .map(|b| b.cidr)
        .collect()
}

// ---------------------------------------------------------------------------------
// Sites.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn regions_countries_and_sites_are_managed_by_admins(admin: PgPool) {
    let a = Login::new(&admin, "eio_admin", Some(("admin@example.com", "admin", &[]))).await;
    let d = db(&a.pool);
    sites::add_region(&d, "emea", "Europe, Middle East, Africa").await.unwrap();
    sites::add_country(&d, "de", "EMEA", "Germany").await.unwrap();
    let site = sites::add(
        &d,
        &NewSite {
            code: "fra-01".into(),
            country: "DE".into(),
            name: Some("Frankfurt 1".into()),
            timezone: Some("Europe/Berlin".into()),
            status: None,
        },
    )
    .await
    .unwrap();
    assert_eq!((site.code.as_str(), site.region.as_str(), site.country.as_str()), ("FRA-01", "EMEA", "DE"));
    assert_eq!(site.status, SiteStatus::Active);

    let changed = sites::update(
        &d,
        "FRA-01",
        &SiteChanges { status: Some(SiteStatus::Maintenance), name: None, timezone: Some("UTC".into()) },
    )
    .await
    .unwrap();
    assert_eq!((changed.status, changed.timezone.as_str()), (SiteStatus::Maintenance, "UTC"));
    assert_eq!(sites::list(&d).await.unwrap().len(), 1);
    assert_eq!(sites::countries(&d).await.unwrap()[0].sites, 1);
    assert_eq!(sites::regions(&d).await.unwrap()[0].countries, 1);

    // Bad input is refused with a clear sentence and changes nothing.
    let bad = |code: &str, tz: Option<&str>, country: &str| NewSite {
        code: code.into(),
        country: country.into(),
        name: None,
        timezone: tz.map(Into::into),
        status: None,
    };
    let e = sites::add(&d, &bad("FRA 02", None, "DE")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e}");
    assert!(e.message.contains("not a valid site code"), "{e}");
    let e = sites::add(&d, &bad("FRA-02", Some("Mars/Olympus"), "DE")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e}");
    assert!(e.message.contains("unknown timezone"), "{e}");
    let e = sites::add(&d, &bad("FRA-01", None, "DE")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict, "{e}");
    let e = sites::add(&d, &bad("PAR-01", None, "FR")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound, "{e}");
    let e = sites::add_country(&d, "DEU", "EMEA", "Germany").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e}");
    assert_eq!(sites::list(&d).await.unwrap().len(), 1);

    sites::remove(&d, "fra-01").await.unwrap();
    assert!(sites::list(&d).await.unwrap().is_empty());
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn only_admins_manage_sites_and_rules_in_plain_sql(admin: PgPool) {
    ipam_support::sites(&admin, &["FRA-01"]).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    for login in [&viewer, &op] {
        for sql in [
            "INSERT INTO regions (code, name) VALUES ('APAC', 'Asia')",
            "UPDATE sites SET status = 'offline'",
            "DELETE FROM sites",
            "INSERT INTO site_rules (method, site_id, pattern, confidence) SELECT 'dns', id, '^fra', 0.5 FROM sites",
            "INSERT INTO routing_domains (name) VALUES ('vrf-x')",
        ] {
            assert_eq!(sqlstate(sqlx::raw_sql(sql).execute(&login.pool).await), DENIED, "{}: {sql}", login.role);
        }
    }
    // Through the service: the same refusal, as a clear error.
    let e = sites::add_region(&db(&op.pool), "APAC", "Asia").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden, "{e}");
}

// ---------------------------------------------------------------------------------
// Site inference.

struct Estate {
    vm_web: Uuid,
    vm_db: Uuid,
    host: Uuid,
    server: Uuid,
}

/// FRA-01 and MUC-01; a vCenter whose datacenter is named for Frankfurt; a VM in it with
/// an address in a Munich prefix (VLAN 120 → MUC-01 by rule) and a port group on VLAN 120;
/// a second VM named like Munich; a host; a server with its iDRAC address.
async fn estate(admin: &PgPool) -> Estate {
    ipam_support::sites(admin, &["FRA-01", "MUC-01"]).await;
    let d = db(admin);
    let vc = ipam_support::vcenter(admin, "vc-fra").await;
    let dc = ipam_support::datacenter(admin, vc, "Frankfurt-DC").await;
    let cl = ipam_support::cluster(admin, vc, dc, "prod-cluster").await;
    let host = ipam_support::host(admin, vc, Some(cl), "esx-fra-01.example.com", Some("HST0001")).await;
    let vm_web = ipam_support::vm(
        admin,
        vc,
        VmSpec {
            name: "web01",
            cluster: Some(cl),
            guest_hostname: Some("web01.example.com"),
            nics: &[("00:50:56:00:00:01", "VLAN120-prod")],
        },
    )
    .await;
    let vm_db =
        ipam_support::vm(admin, vc, VmSpec { name: "muc-db01", cluster: None, guest_hostname: None, nics: &[] }).await;
    let server = ipam_support::server(admin, "r750-muc-07", "SRV0007", Some("10.20.0.7")).await;
    for (method, rule) in [
        ("FRA-01", RuleMatch::Vcenter("^frankfurt".into())),
        ("MUC-01", RuleMatch::Vlan(120)),
        ("MUC-01", RuleMatch::Dns("^muc-".into())),
        ("MUC-01", RuleMatch::Dns("-muc-".into())),
    ] {
        sites::add_rule(&d, &NewSiteRule { site: method.into(), rule, confidence: None, description: None })
            .await
            .unwrap();
    }
    let mut muc = new_prefix("default", "10.20.0.0/16");
    muc.site = Some("MUC-01".into());
    muc.vlan_id = Some(120);
    prefixes::add(&d, &muc).await.unwrap();
    observe(admin, Seen::vm("10.20.1.5", "00:50:56:00:00:01", vm_web)).await;
    Estate { vm_web, vm_db, host, server }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn each_method_infers_with_confidence_and_evidence(admin: PgPool) {
    let e = estate(&admin).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let counts = sites::infer(&db(&worker.pool)).await.unwrap();
    let by = |m: InferenceMethod| counts.iter().find(|c| c.method == m).unwrap().total;
    assert!(by(InferenceMethod::Vcenter) >= 2 && by(InferenceMethod::Cidr) >= 2 && by(InferenceMethod::Dns) >= 2);

    let d = db(&admin);
    let web = sites::placement(&d, EntityKind::VirtualMachine, e.vm_web).await.unwrap();
    let method = |m: InferenceMethod| web.inferences.iter().find(|i| i.method == m).cloned();
    // vcenter: the datacenter name rule, with the rule and the name as evidence.
    let vc = method(InferenceMethod::Vcenter).expect("vcenter inference");
    assert_eq!((vc.site.as_str(), vc.confidence), ("FRA-01", 0.9));
    assert_eq!(vc.evidence["matched"], "datacenter");
    assert_eq!(vc.evidence["name"], "Frankfurt-DC");
    assert_eq!(vc.evidence["pattern"], "^frankfurt");
    // cidr: the prefix with a site holding its address.
    let c = method(InferenceMethod::Cidr).expect("cidr inference");
    assert_eq!((c.site.as_str(), c.confidence), ("MUC-01", 0.8));
    assert_eq!(c.evidence["prefix"], "10.20.0.0/16");
    assert_eq!(c.evidence["address"], "10.20.1.5");
    // vlan: by the prefix's VLAN (0.6) — the port group says the same.
    let v = method(InferenceMethod::Vlan).expect("vlan inference");
    assert_eq!((v.site.as_str(), v.confidence, v.evidence["vlan"].as_i64()), ("MUC-01", 0.6, Some(120)));
    // The most confident wins; the disagreement is a conflict.
    assert_eq!(web.winner.as_ref().unwrap().method, InferenceMethod::Vcenter);
    assert!(web.conflict);

    // dns: a name rule.
    let dbvm = sites::placement(&d, EntityKind::VirtualMachine, e.vm_db).await.unwrap();
    let dns = dbvm.inferences.iter().find(|i| i.method == InferenceMethod::Dns).expect("dns inference");
    assert_eq!((dns.site.as_str(), dns.confidence), ("MUC-01", 0.5));
    assert_eq!((dns.evidence["field"].as_str(), dns.evidence["name"].as_str()), (Some("name"), Some("muc-db01")));
    // A server: cidr by its iDRAC address and dns by its host name.
    let srv = sites::placement(&d, EntityKind::PhysicalServer, e.server).await.unwrap();
    let methods: BTreeSet<_> = srv.inferences.iter().map(|i| (i.method, i.site.clone())).collect();
    assert!(methods.contains(&(InferenceMethod::Cidr, "MUC-01".into())), "{methods:?}");
    assert!(methods.contains(&(InferenceMethod::Dns, "MUC-01".into())), "{methods:?}");
    assert!(!srv.conflict);
    // A host by the datacenter rule.
    let host = sites::placement(&d, EntityKind::EsxiHost, e.host).await.unwrap();
    assert_eq!(host.winner.unwrap().site, "FRA-01");
    // An observed address is placed too.
    let ip: Uuid = sqlx::query_scalar("SELECT id FROM ip_observations LIMIT 1").fetch_one(&admin).await.unwrap();
    let ip = sites::placement(&d, EntityKind::IpObservation, ip).await.unwrap();
    assert_eq!(ip.winner.unwrap().site, "MUC-01");

    // Conflicts are listed with every opinion, winner first.
    let conflicts = sites::conflicts(&d).await.unwrap();
    let web_conflict = conflicts.iter().find(|c| c.entity_id == e.vm_web).expect("web01 listed as a conflict");
    assert_eq!((web_conflict.winner_site.as_str(), web_conflict.name.as_deref()), ("FRA-01", Some("web01")));
    let opinions = &web_conflict.opinions;
    assert_eq!(opinions[0].site, "FRA-01");
    assert!(opinions.iter().any(|o| o.method == InferenceMethod::Cidr && o.site == "MUC-01"));
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn manual_placement_wins_and_survives_every_rerun(admin: PgPool) {
    let e = estate(&admin).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let d = db(&op.pool);
    sites::infer(&d).await.unwrap();
    let pinned = sites::pin(&d, EntityKind::VirtualMachine, e.vm_web, "muc-01", Some("moved last week")).await.unwrap();
    let w = pinned.winner.unwrap();
    assert_eq!((w.method, w.site.as_str(), w.confidence), (InferenceMethod::Manual, "MUC-01", 1.0));
    assert_eq!(w.evidence["set_by"], "op@example.com");
    assert_eq!(w.evidence["note"], "moved last week");

    // A resync changes the facts; inference runs again; the manual placement stays put.
    sqlx::query("UPDATE datacenters SET name = 'Frankfurt-DC-renamed'").execute(&admin).await.unwrap();
    let counts = sites::infer(&d).await.unwrap();
    assert_eq!(counts.iter().find(|c| c.method == InferenceMethod::Manual).unwrap().total, 1);
    let again = sites::placement(&d, EntityKind::VirtualMachine, e.vm_web).await.unwrap();
    assert_eq!(again.winner.as_ref().unwrap().method, InferenceMethod::Manual);
    assert_eq!(again.winner.unwrap().site, "MUC-01");
    // The vcenter rule still matches the renamed datacenter; its evidence follows the new name.
    let vc = again.inferences.iter().find(|i| i.method == InferenceMethod::Vcenter).unwrap();
    assert_eq!(vc.evidence["name"], "Frankfurt-DC-renamed");

    // An inference whose reason disappears is removed; the manual one is not.
    sqlx::query("UPDATE datacenters SET name = 'Somewhere'").execute(&admin).await.unwrap();
    sites::infer(&d).await.unwrap();
    let after = sites::placement(&d, EntityKind::VirtualMachine, e.vm_web).await.unwrap();
    assert!(!after.inferences.iter().any(|i| i.method == InferenceMethod::Vcenter));
    assert_eq!(after.winner.unwrap().method, InferenceMethod::Manual);

    // Pinning again replaces the old manual placement; unpinning hands it back to inference.
    let moved = sites::pin(&d, EntityKind::VirtualMachine, e.vm_web, "FRA-01", None).await.unwrap();
    assert_eq!(moved.inferences.iter().filter(|i| i.method == InferenceMethod::Manual).count(), 1);
    assert_eq!(moved.winner.unwrap().site, "FRA-01");
    let back = sites::unpin(&d, EntityKind::VirtualMachine, e.vm_web).await.unwrap();
    assert_eq!(back.winner.unwrap().method, InferenceMethod::Cidr);
}

/// Rows on which `entity_sites` and the `site_placements` view disagree.
const APART: &str = "SELECT count(*) FROM (
     (SELECT entity_type, entity_id, site_id FROM site_placements
      EXCEPT SELECT entity_type, entity_id, site_id FROM entity_sites)
     UNION ALL
     (SELECT entity_type, entity_id, site_id FROM entity_sites
      EXCEPT SELECT entity_type, entity_id, site_id FROM site_placements)) x";

/// A pin and an inference run at once: each used to decide the winner from its own snapshot,
/// and the one committing last overwrote the other's answer with a stale one. Placing now
/// waits for the other writer and decides on what it committed.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_pin_during_an_inference_run_is_placed_where_it_was_pinned(admin: PgPool) {
    let e = estate(&admin).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    sites::infer(&db(&worker.pool)).await.unwrap();
    // The pin, not yet committed: web01 to MUC-01 (inference says FRA-01).
    let mut pin = op.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence)
         SELECT 'virtual_machine', $1, id, 'manual', 1 FROM sites WHERE code = 'MUC-01'",
    )
    .bind(e.vm_web)
    .execute(&mut *pin)
    .await
    .unwrap();
    // An inference run that changes web01's opinions starts meanwhile.
    sqlx::query("UPDATE datacenters SET name = 'Frankfurt-DC-2'").execute(&admin).await.unwrap();
    let run = {
        let pool = worker.pool.clone();
        tokio::spawn(async move { sites::infer(&db(&pool)).await.map(|_| ()) })
    };
    // It waits for the pin's transaction (the database says so), then the pin commits.
    loop {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock')",
        )
        .bind(&worker.role)
        .fetch_one(&admin)
        .await
        .unwrap();
        if waiting {
            break;
        }
        tokio::task::yield_now().await;
    }
    pin.commit().await.unwrap();
    run.await.unwrap().unwrap();
    let placed: String = sqlx::query_scalar(
        "SELECT s.code FROM entity_sites e JOIN sites s ON s.id = e.site_id
         WHERE e.entity_type = 'virtual_machine' AND e.entity_id = $1",
    )
    .bind(e.vm_web)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(placed, "MUC-01", "the pin wins");
    assert_eq!(sqlx::query_scalar::<_, i64>(APART).fetch_one(&admin).await.unwrap(), 0);
}

/// VM names the inventory page lists at `site` (its first window).
async fn vms_at(d: &eio_core::Database, site: &str) -> BTreeSet<String> {
    let q = InventoryQuery { site: Some(site.into()), ..Default::default() };
    inventory_page::load(d, &q).await.unwrap().vms.into_iter().map(|v| v.name).collect()
}

/// VM names the RVTools vInfo sheet holds with its site filter set to `site`.
async fn vinfo_at(admin: &PgPool, site: &str) -> BTreeSet<String> {
    let sql = catalog::RVTOOLS.sheets[0].sql;
    let rows = sqlx::query(sql)
        .bind(Some(site))
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .fetch_all(admin)
        .await
        .unwrap();
    rows.iter().map(|r| sqlx::Row::get::<String, _>(r, 0)).collect()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn inventory_servers_and_reports_are_where_inference_placed_them_and_a_pin_wins(admin: PgPool) {
    let e = estate(&admin).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let d = db(&op.pool);
    // Before inference nothing is placed and vc-fra has no configured site: no site lists them.
    assert_eq!(vms_at(&d, "FRA-01").await, BTreeSet::new());
    sites::infer(&d).await.unwrap();

    // web01: the datacenter rule (0.9) beats its Munich address (0.8); muc-db01 by its name.
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(vms_at(&d, "FRA-01").await, names(&["web01"]));
    assert_eq!(vms_at(&d, "MUC-01").await, names(&["muc-db01"]));
    assert_eq!(vinfo_at(&admin, "MUC-01").await, names(&["muc-db01"]));
    let page = inventory_page::load(&d, &InventoryQuery::default()).await.unwrap();
    let sites_facet: Vec<(String, i64)> = page.facets.unwrap().sites.into_iter().map(|c| (c.value, c.count)).collect();
    assert_eq!(sites_facet, vec![("FRA-01".to_string(), 1), ("MUC-01".to_string(), 1)]);
    let hosts = inventory_page::load(&d, &InventoryQuery { kind: Some(InventoryKind::Hosts), ..Default::default() })
        .await
        .unwrap()
        .hosts;
    assert_eq!(
        hosts.iter().map(|h| (h.name.as_str(), h.site.as_deref())).collect::<Vec<_>>(),
        vec![("esx-fra-01.example.com", Some("FRA-01"))]
    );
    let servers = eio_core::inventory::servers(&d).await.unwrap();
    let srv = servers.iter().find(|s| s.uuid == e.server).expect("the server is listed");
    assert_eq!(srv.site.as_deref(), Some("MUC-01"), "by its iDRAC address and its name");
    // The server's drawer reads the same row, by service tag or by id.
    for name in ["SRV0007".to_string(), e.server.to_string()] {
        let detail = eio_core::pages::servers::detail(&d, &name).await.unwrap();
        assert_eq!((detail.server.uuid, detail.server.site.as_deref()), (e.server, Some("MUC-01")));
    }
    let missing = eio_core::pages::servers::detail(&d, &Uuid::new_v4().to_string()).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);

    // A pin wins at once, everywhere; unpinning hands the VM back to inference.
    sites::pin(&d, EntityKind::VirtualMachine, e.vm_web, "MUC-01", None).await.unwrap();
    assert_eq!(vms_at(&d, "FRA-01").await, BTreeSet::new());
    assert_eq!(vms_at(&d, "MUC-01").await, names(&["muc-db01", "web01"]));
    assert_eq!(vinfo_at(&admin, "MUC-01").await, names(&["muc-db01", "web01"]));
    let detail = inventory_page::vm(&d, e.vm_web).await.unwrap();
    assert_eq!(detail.site.as_deref(), Some("MUC-01"));
    sites::unpin(&d, EntityKind::VirtualMachine, e.vm_web).await.unwrap();
    assert_eq!(vms_at(&d, "FRA-01").await, names(&["web01"]));

    // An opinion whose reason is gone moves the VM to the next one: the datacenter renamed,
    // web01 is placed by its Munich address.
    sqlx::query("UPDATE datacenters SET name = 'Somewhere'").execute(&admin).await.unwrap();
    sites::infer(&d).await.unwrap();
    assert_eq!(vms_at(&d, "MUC-01").await, names(&["muc-db01", "web01"]));

    // The kept table always equals the winners the view computes from every inference.
    let apart: i64 = sqlx::query_scalar(APART).fetch_one(&admin).await.unwrap();
    let placed: i64 = sqlx::query_scalar("SELECT count(*) FROM entity_sites").fetch_one(&admin).await.unwrap();
    assert_eq!(apart, 0);
    assert!(placed >= 4, "VMs, the host, the server and the observed address are placed: {placed}");

    // Removing a site re-places what it held from the opinions that are left; renaming one
    // (its code breaks ties) keeps the table equal to the view too.
    sqlx::query("UPDATE sites SET code = 'AAA-01' WHERE code = 'MUC-01'").execute(&admin).await.unwrap();
    assert_eq!(sqlx::query_scalar::<_, i64>(APART).fetch_one(&admin).await.unwrap(), 0, "after a rename");
    sqlx::query("DELETE FROM site_rules WHERE site_id = (SELECT id FROM sites WHERE code = 'FRA-01')")
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query("DELETE FROM sites WHERE code = 'FRA-01'").execute(&admin).await.unwrap();
    assert_eq!(sqlx::query_scalar::<_, i64>(APART).fetch_one(&admin).await.unwrap(), 0, "after a removal");
    let placed_after: i64 = sqlx::query_scalar("SELECT count(*) FROM entity_sites").fetch_one(&admin).await.unwrap();
    assert!(placed_after > 0, "what the removed site held and others still place stays placed");

    // Nobody but its triggers writes it: not even an admin.
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.com", "admin", &[]))).await;
    for who in [&op.pool, &carol.pool] {
        let r = sqlx::query("UPDATE entity_sites SET site_id = site_id").execute(who).await;
        assert_eq!(sqlstate(r), DENIED);
    }
}

/// A rule's preview runs inference with it and rolls back: it says what would be placed and
/// what would move, and leaves no trace.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_rule_preview_says_what_would_move_and_changes_nothing(admin: PgPool) {
    let e = estate(&admin).await;
    let boss = Login::new(&admin, "eio_admin", Some(("boss@example.com", "admin", &[]))).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let d = db(&boss.pool);
    sites::infer(&d).await.unwrap();
    let state = || async {
        sqlx::query_scalar::<_, serde_json::Value>(
            "SELECT jsonb_build_object(
                 'rules', (SELECT count(*) FROM site_rules),
                 'inferences', (SELECT jsonb_agg(to_jsonb(i) ORDER BY i.id) FROM site_inferences i),
                 'placed', (SELECT jsonb_agg(to_jsonb(p) ORDER BY p.entity_type, p.entity_id) FROM entity_sites p))",
        )
        .fetch_one(&admin)
        .await
        .unwrap()
    };
    let before = state().await;
    // web01 is at FRA-01 by its datacenter (0.9); a more confident name rule moves it.
    let rule = NewSiteRule {
        site: "MUC-01".into(),
        rule: RuleMatch::Dns("^web".into()),
        confidence: Some(0.95),
        description: None,
    };
    let preview = sites::preview_rule(&d, &rule).await.unwrap();
    assert_eq!(
        preview.matched.iter().map(|k| (k.kind, k.count)).collect::<Vec<_>>(),
        vec![(EntityKind::VirtualMachine, 1)]
    );
    assert_eq!(preview.moved, 1);
    let m = &preview.examples[0];
    assert_eq!(
        (m.kind, m.name.as_deref(), m.from_site.as_deref(), m.to_site.as_str()),
        (EntityKind::VirtualMachine, Some("web01"), Some("FRA-01"), "MUC-01")
    );
    assert_eq!(state().await, before, "a preview leaves nothing behind");
    // A rule that agrees with where things are moves nothing.
    let agree =
        NewSiteRule { site: "FRA-01".into(), rule: RuleMatch::Dns("^web".into()), confidence: None, description: None };
    let preview = sites::preview_rule(&d, &agree).await.unwrap();
    assert_eq!((preview.matched.len(), preview.moved), (1, 0));
    // Previewing is for those who may add rules.
    let err = sites::preview_rule(&db(&op.pool), &rule).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err}");
    // The rule saved does what its preview said.
    sites::add_rule(&d, &rule).await.unwrap();
    sites::infer(&d).await.unwrap();
    let web = sites::placement(&d, EntityKind::VirtualMachine, e.vm_web).await.unwrap();
    assert_eq!(web.winner.unwrap().site, "MUC-01");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn manual_placements_are_your_own(admin: PgPool) {
    let e = estate(&admin).await;
    let op1 = Login::new(&admin, "eio_operator", Some(("op1@example.com", "operator", &[]))).await;
    let op2 = Login::new(&admin, "eio_operator", Some(("op2@example.com", "operator", &[]))).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let unmapped = Login::new(&admin, "eio_operator", None).await;
    let site: Uuid = sqlx::query_scalar("SELECT id FROM sites WHERE code = 'MUC-01'").fetch_one(&admin).await.unwrap();

    // In plain SQL, placing in someone else's name places in your own: the database writes
    // the author; and the other operator can't remove it.
    let author: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence, created_by)
         VALUES ('virtual_machine', $1, $2, 'manual', 1, $3) RETURNING created_by",
    )
    .bind(e.vm_web)
    .bind(site)
    .bind(op2.user_id.unwrap())
    .fetch_one(&op1.pool)
    .await
    .unwrap();
    assert_eq!(author, op1.user_id);
    let removed = sqlx::query("DELETE FROM site_inferences WHERE entity_id = $1")
        .bind(e.vm_web)
        .execute(&op2.pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(removed, 0);
    // Operators can't write inferred opinions, viewers can't write any.
    let inferred = sqlx::query(
        "INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence) VALUES ('virtual_machine', $1, $2, 'cidr', 0.8)",
    )
    .bind(e.vm_web)
    .bind(site)
    .execute(&op1.pool)
    .await;
    assert_eq!(sqlstate(inferred), DENIED);
    for sql in ["SELECT * FROM refresh_site_inferences()", "DELETE FROM site_inferences"] {
        assert_eq!(sqlstate(sqlx::raw_sql(sql).execute(&viewer.pool).await), DENIED, "{sql}");
    }
    let e2 = sites::pin(&db(&viewer.pool), EntityKind::VirtualMachine, e.vm_web, "MUC-01", None).await.unwrap_err();
    assert_eq!(e2.code, ErrorCode::Forbidden, "{e2}");
    let e3 = sites::pin(&db(&unmapped.pool), EntityKind::VirtualMachine, e.vm_web, "MUC-01", None).await.unwrap_err();
    assert_eq!(e3.code, ErrorCode::Forbidden, "{e3}");
    assert!(e3.message.contains("not mapped"), "{e3}");
    // Through the service, as yourself: fine.
    sites::pin(&db(&op1.pool), EntityKind::VirtualMachine, e.vm_web, "MUC-01", None).await.unwrap();
    // Someone else's placement is not another operator's to move or remove, and says whose it is.
    for r in [
        sites::pin(&db(&op2.pool), EntityKind::VirtualMachine, e.vm_web, "MUC-01", None).await,
        sites::unpin(&db(&op2.pool), EntityKind::VirtualMachine, e.vm_web).await,
    ] {
        let err = r.unwrap_err();
        assert_eq!(err.code, ErrorCode::Forbidden, "{err}");
        assert!(err.message.contains("op1@example.com"), "{err}");
    }
    let e4 = sites::pin(&db(&op1.pool), EntityKind::VirtualMachine, Uuid::new_v4(), "MUC-01", None).await.unwrap_err();
    assert_eq!(e4.code, ErrorCode::NotFound, "{e4}");
}

// ---------------------------------------------------------------------------------
// IPAM: routing domains.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn overlapping_prefixes_in_two_routing_domains_do_not_mix(admin: PgPool) {
    let a = Login::new(&admin, "eio_admin", Some(("admin@example.com", "admin", &[]))).await;
    prefixes::add_domain(&db(&a.pool), "vrf-red", Some("Red tenant")).await.unwrap();
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let d = db(&op.pool);
    for domain in ["default", "vrf-red"] {
        add(&op.pool, domain, "10.0.0.0/16").await;
        add(&op.pool, domain, "10.0.1.0/24").await;
    }
    add(&op.pool, "default", "10.0.0.0/24").await;
    let red_only = add(&op.pool, "vrf-red", "10.0.1.128/25").await;

    // Containment and parents stay within a domain.
    let red = prefixes::list(&d, &PrefixFilter { domain: Some("vrf-red".into()), within: None }).await.unwrap();
    assert_eq!(
        red.iter().map(|p| p.cidr.as_str()).collect::<Vec<_>>(),
        ["10.0.0.0/16", "10.0.1.0/24", "10.0.1.128/25"]
    );
    assert_eq!(red[2].parent.as_deref(), Some("10.0.1.0/24"));
    assert_eq!(red[2].depth, 2);
    let default = prefixes::list(&d, &PrefixFilter { domain: Some("default".into()), within: None }).await.unwrap();
    assert!(default.iter().all(|p| p.id != red_only && p.routing_domain == "default"));
    assert_eq!(default.iter().find(|p| p.cidr == "10.0.1.0/24").unwrap().utilization.child_prefixes, 0);

    // Observations and plans count in their own domain only.
    let vm = Uuid::new_v4();
    observe(&admin, Seen::vm("10.0.1.10", "00:50:56:00:00:0a", vm).in_domain("vrf-red")).await;
    plan(&admin, "vrf-red", "10.0.1.11").await;
    let red24 = prefixes::get(&d, Some("vrf-red"), &cidr("10.0.1.0/24")).await.unwrap();
    let def24 = prefixes::get(&d, Some("default"), &cidr("10.0.1.0/24")).await.unwrap();
    assert_eq!((red24.utilization.observed, red24.utilization.planned.as_str()), (1, "1"));
    assert_eq!((def24.utilization.observed, def24.utilization.planned.as_str()), (0, "0"));

    // Free space and allocation, too.
    assert_eq!(free(&admin, "default", "10.0.1.0/24").await, ["10.0.1.0/24"]);
    assert_eq!(
        free(&admin, "vrf-red", "10.0.1.0/24").await,
        ["10.0.1.0/29", "10.0.1.8/31", "10.0.1.12/30", "10.0.1.16/28", "10.0.1.32/27", "10.0.1.64/26"]
    );
    let a1 = space::allocate_ip(&d, Some("default"), &cidr("10.0.1.0/24"), &IpRequest::default()).await.unwrap();
    let a2 = space::allocate_ip(&d, Some("vrf-red"), &cidr("10.0.1.0/24"), &IpRequest::default()).await.unwrap();
    assert_eq!((a1.address.as_str(), a1.routing_domain.as_str()), ("10.0.1.1", "default"));
    assert_eq!((a2.address.as_str(), a2.routing_domain.as_str()), ("10.0.1.1", "vrf-red"));

    // The lookup of one address answers for one domain.
    let red_lookup = space::lookup(&d, Some("vrf-red"), "10.0.1.10").await.unwrap();
    assert_eq!(red_lookup.prefixes.iter().map(|p| p.cidr.as_str()).collect::<Vec<_>>(), ["10.0.1.0/24", "10.0.0.0/16"]);
    assert_eq!(red_lookup.observations.len(), 1);
    let default_lookup = space::lookup(&d, None, "10.0.1.10").await.unwrap();
    assert!(default_lookup.observations.is_empty());
    assert_eq!(default_lookup.prefixes.len(), 2);

    // The same prefix twice in one domain is a conflict; unknown domains are named.
    let e = prefixes::add(&d, &new_prefix("vrf-red", "10.0.1.0/24")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict, "{e}");
    let e = prefixes::add(&d, &new_prefix("vrf-blue", "10.0.1.0/24")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound, "{e}");
    // Only admins add routing domains.
    let e = prefixes::add_domain(&d, "vrf-blue", None).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden, "{e}");
    let e = prefixes::add_domain(&db(&a.pool), "bad name!", None).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e}");
}

// ---------------------------------------------------------------------------------
// Special lengths and IPv6.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn point_to_point_host_and_ipv6_prefixes_count_and_allocate_correctly(admin: PgPool) {
    let d = db(&admin);
    for c in ["192.0.2.0/30", "192.0.2.4/31", "192.0.2.9/32", "2001:db8::/64", "2001:db8:1::/127", "2001:db8:2::1/128"]
    {
        add(&admin, "default", c).await;
    }
    let usable = |c: &'static str| {
        let d = d.clone();
        async move { prefixes::get(&d, None, &cidr(c)).await.unwrap().utilization.usable }
    };
    // IPv4: network and broadcast reserved, except /31 (RFC 3021) and /32.
    assert_eq!(usable("192.0.2.0/30").await, "2");
    assert_eq!(usable("192.0.2.4/31").await, "2");
    assert_eq!(usable("192.0.2.9/32").await, "1");
    // IPv6: the Subnet-Router anycast address reserved, except /127 (RFC 6164) and /128.
    assert_eq!(usable("2001:db8::/64").await, "18446744073709551615");
    assert_eq!(usable("2001:db8:1::/127").await, "2");
    assert_eq!(usable("2001:db8:2::1/128").await, "1");

    let next = |c: &'static str| {
        let d = d.clone();
        async move { space::allocate_ip(&d, None, &cidr(c), &IpRequest::default()).await.map(|a| a.address) }
    };
    assert_eq!(next("192.0.2.0/30").await.unwrap(), "192.0.2.1");
    assert_eq!(next("192.0.2.0/30").await.unwrap(), "192.0.2.2");
    let full = next("192.0.2.0/30").await.unwrap_err();
    assert_eq!(full.code, ErrorCode::Conflict, "{full}");
    assert!(full.message.contains("no free address"), "{full}");
    assert_eq!(next("192.0.2.4/31").await.unwrap(), "192.0.2.4");
    assert_eq!(next("192.0.2.4/31").await.unwrap(), "192.0.2.5");
    assert_eq!(next("192.0.2.9/32").await.unwrap(), "192.0.2.9");
    let full = next("192.0.2.9/32").await.unwrap_err();
    assert_eq!(full.code, ErrorCode::Conflict, "{full}");
    assert_eq!(next("2001:db8::/64").await.unwrap(), "2001:db8::1");
    assert_eq!(next("2001:db8::/64").await.unwrap(), "2001:db8::2");
    assert_eq!(next("2001:db8:1::/127").await.unwrap(), "2001:db8:1::");
    assert_eq!(next("2001:db8:1::/127").await.unwrap(), "2001:db8:1::1");
    assert_eq!(next("2001:db8:2::1/128").await.unwrap(), "2001:db8:2::1");

    // Free space is address space: a /30 with its two hosts planned still shows its ends.
    assert_eq!(free(&admin, "default", "192.0.2.0/30").await, ["192.0.2.0/32", "192.0.2.3/32"]);
    assert!(free(&admin, "default", "192.0.2.4/31").await.is_empty());
    // The /64 minus ::1 and ::2: ::0 alone, ::3 alone, then doubling blocks up to ::8000:0:0:0/65.
    let v6 = free(&admin, "default", "2001:db8::/64").await;
    assert_eq!(v6.len(), 64, "{v6:?}");
    assert_eq!(
        v6[..5],
        ["2001:db8::/128", "2001:db8::3/128", "2001:db8::4/126", "2001:db8::8/125", "2001:db8::10/124"]
    );
    assert_eq!(v6[63], "2001:db8:0:0:8000::/65");

    // /N allocation in IPv6, and refusals of lengths that don't fit.
    let p = space::allocate_prefix(&d, None, &cidr("2001:db8::/64"), 120, &PrefixRequest::default()).await.unwrap();
    assert_eq!(p.cidr, "2001:db8::100/120");
    assert_eq!(p.parent.as_deref(), Some("2001:db8::/64"));
    for n in [64, 129, 30] {
        let n = u8::try_from(n).unwrap();
        let e =
            space::allocate_prefix(&d, None, &cidr("2001:db8::/64"), n, &PrefixRequest::default()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput, "/{n}: {e}");
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn bad_input_is_refused_clearly_and_changes_nothing(admin: PgPool) {
    let d = db(&admin);
    assert!("10.0.0.5/24".parse::<Cidr>().unwrap_err().message.contains("network is 10.0.0.0/24"));
    let mut p = new_prefix("default", "10.0.0.0/24");
    p.vlan_id = Some(5000);
    assert_eq!(prefixes::add(&d, &p).await.unwrap_err().code, ErrorCode::InvalidInput);
    p.vlan_id = None;
    p.site = Some("NOWHERE-1".into());
    assert_eq!(prefixes::add(&d, &p).await.unwrap_err().code, ErrorCode::NotFound);
    p.site = None;
    p.utilization_threshold = Some(1.5);
    assert_eq!(prefixes::add(&d, &p).await.unwrap_err().code, ErrorCode::InvalidInput);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM prefixes").fetch_one(&admin).await.unwrap();
    assert_eq!(n, 0);

    add(&admin, "default", "10.0.0.0/24").await;
    let e = space::available(&d, None, &cidr("10.0.0.0/24"), Some(20), None).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e}");
    let e = space::available(&d, None, &cidr("10.9.0.0/24"), None, None).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound, "{e}");
    let e = space::allocate_ip(
        &d,
        None,
        &cidr("10.0.0.0/24"),
        &IpRequest { mac_address: Some("not-a-mac".into()), ..IpRequest::default() },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e}");
    // A planned block must be a block.
    let e = sqlx::query(
        "INSERT INTO ip_assignments (routing_domain_id, address) VALUES (default_routing_domain_id(), '10.0.0.5/24')",
    )
    .execute(&admin)
    .await;
    assert_eq!(sqlstate(e), "23514");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM ip_assignments").fetch_one(&admin).await.unwrap();
    assert_eq!(n, 0);

    // Nothing more comes out of a deprecated prefix.
    prefixes::update(
        &d,
        None,
        &cidr("10.0.0.0/24"),
        &PrefixChanges { status: Some(PrefixStatus::Deprecated), ..Default::default() },
    )
    .await
    .unwrap();
    let e = space::allocate_ip(&d, None, &cidr("10.0.0.0/24"), &IpRequest::default()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict, "{e}");
    assert!(e.message.contains("deprecated"), "{e}");
}

// ---------------------------------------------------------------------------------
// Free space against brute force.

/// Deterministic pseudo-random numbers (no extra dependency; the seed is in the failure).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Blocks as values, so that IPv6 spelling can't make two equal lists differ.
fn blocks(list: &[String]) -> Vec<Cidr> {
    list.iter().map(|c| cidr(c)).collect()
}

/// The smallest set of CIDR blocks covering exactly the addresses in `free` (sorted), by
/// the textbook greedy split of each run — computed independently of the SQL.
fn cover(free: &[u128], bits: u32, to_ip: impl Fn(u128) -> IpAddr) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < free.len() {
        let mut j = i;
        while j + 1 < free.len() && free[j + 1] == free[j] + 1 {
            j += 1;
        }
        let (mut a, b) = (free[i], free[j]);
        while a <= b {
            let mut size: u128 = 1;
            while a % (size * 2) == 0 && a + size * 2 - 1 <= b && size * 2 <= (1u128 << bits.min(127)) {
                size *= 2;
            }
            out.push(format!("{}/{}", to_ip(a), bits - size.trailing_zeros()));
            a += size;
        }
        i = j + 1;
    }
    out
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn available_ranges_match_a_brute_force_enumeration(admin: PgPool) {
    ipam_support::routing_domain(&admin, "other").await;
    for seed in 1..=12u64 {
        sqlx::raw_sql("DELETE FROM ip_observations; DELETE FROM ip_assignments; DELETE FROM prefixes;")
            .execute(&admin)
            .await
            .unwrap();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
        // An IPv4 /22 (1024 addresses) or an IPv6 /118 (1024 addresses).
        let v6 = seed % 3 == 0;
        let (base, bits, parent_len): (u128, u32, u32) = if v6 {
            (u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0)), 128, 118)
        } else {
            (u128::from(u32::from(Ipv4Addr::new(10, 4, 0, 0))), 32, 22)
        };
        let to_ip = move |x: u128| -> IpAddr {
            if v6 {
                IpAddr::V6(Ipv6Addr::from(x))
            } else {
                IpAddr::V4(Ipv4Addr::from(u32::try_from(x).unwrap()))
            }
        };
        let parent = format!("{}/{parent_len}", to_ip(base));
        add(&admin, "default", &parent).await;
        // The same prefix in another domain, with an observation: it must not leak in.
        let other: Uuid = sqlx::query_scalar("INSERT INTO prefixes (routing_domain_id, cidr) SELECT id, $1::cidr FROM routing_domains WHERE name = 'other' RETURNING id")
            .bind(&parent)
            .fetch_one(&admin)
            .await
            .unwrap();
        assert!(!other.is_nil());
        observe(&admin, Seen::vm(&to_ip(base + 7).to_string(), "00:50:56:99:99:99", Uuid::new_v4()).in_domain("other"))
            .await;

        let mut used = vec![false; 1024];
        let mut mark = |start: u128, len: u32| {
            for a in start..start + (1u128 << (bits - len)) {
                used[usize::try_from(a - base).unwrap()] = true;
            }
        };
        // Scattered children, nested ones included.
        let mut children = HashSet::new();
        for _ in 0..(4 + rng.below(10)) {
            let len = parent_len + 1 + u32::try_from(rng.below(u64::from(bits - parent_len))).unwrap();
            let start = base + (u128::from(rng.below(1024)) >> (bits - len) << (bits - len));
            if children.insert((start, len)) {
                add(&admin, "default", &format!("{}/{len}", to_ip(start))).await;
                mark(start, len);
            }
        }
        // Planned addresses and blocks.
        for _ in 0..rng.below(6) {
            let len = if rng.below(3) == 0 { bits - 2 } else { bits };
            let start = base + (u128::from(rng.below(1024)) >> (bits - len) << (bits - len));
            let text = if len == bits { to_ip(start).to_string() } else { format!("{}/{len}", to_ip(start)) };
            let inserted = sqlx::query(
                "INSERT INTO ip_assignments (routing_domain_id, address) VALUES (default_routing_domain_id(), $1::inet) ON CONFLICT DO NOTHING",
            )
            .bind(&text)
            .execute(&admin)
            .await
            .unwrap()
            .rows_affected();
            if inserted == 1 {
                mark(start, len);
            }
        }
        // Observed addresses: live ones take space, gone ones don't.
        for k in 0..rng.below(12) {
            let a = base + u128::from(rng.below(1024));
            let id = observe(&admin, Seen::vm(&to_ip(a).to_string(), "00:50:56:00:00:01", Uuid::new_v4())).await;
            if k % 4 == 3 {
                ipam_support::gone(&admin, id).await;
            } else {
                mark(a, bits);
            }
        }

        let free_addrs: Vec<u128> =
            (0..1024u128).filter(|i| !used[usize::try_from(*i).unwrap()]).map(|i| base + i).collect();
        let want = cover(&free_addrs, bits, to_ip);
        let got = free(&admin, "default", &parent).await;
        assert_eq!(blocks(&got), blocks(&want), "seed {seed}, parent {parent}");
        // The SQL function answers the same by prefix id.
        let by_id: Vec<String> = sqlx::query_scalar(
            "SELECT range::text FROM available_ranges((SELECT id FROM prefixes WHERE routing_domain_id = default_routing_domain_id() AND cidr = $1::cidr))",
        )
        .bind(&parent)
        .fetch_all(&admin)
        .await
        .unwrap();
        assert_eq!(blocks(&by_id), blocks(&want), "seed {seed}");
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn available_ranges_of_large_ipv6_prefixes_match_interval_arithmetic(admin: PgPool) {
    // Prefixes too large to enumerate (and too large for 64-bit offsets): compare with
    // interval arithmetic in u128.
    let base = u128::from("2001:db8:aa00::".parse::<Ipv6Addr>().unwrap());
    let parent = "2001:db8:aa00::/40";
    add(&admin, "default", parent).await;
    let mut rng = Rng(42);
    let mut used: Vec<(u128, u128)> = Vec::new();
    for _ in 0..25 {
        let len = 41 + u32::try_from(rng.below(87)).unwrap();
        let off = (u128::from(rng.next()) << 64 | u128::from(rng.next())) & ((1u128 << 88) - 1);
        let start = base + (off >> (128 - len) << (128 - len));
        let c = format!("{}/{len}", Ipv6Addr::from(start));
        if sqlx::query("INSERT INTO prefixes (routing_domain_id, cidr) VALUES (default_routing_domain_id(), $1::cidr) ON CONFLICT DO NOTHING")
            .bind(&c)
            .execute(&admin)
            .await
            .unwrap()
            .rows_affected()
            == 1
        {
            used.push((start, start + ((1u128 << (128 - len)) - 1)));
        }
    }
    for _ in 0..10 {
        let a = base + ((u128::from(rng.next()) << 64 | u128::from(rng.next())) & ((1u128 << 88) - 1));
        observe(&admin, Seen::vm(&Ipv6Addr::from(a).to_string(), "00:50:56:00:00:01", Uuid::new_v4())).await;
        used.push((a, a));
    }
    used.sort();
    let end = base + ((1u128 << 88) - 1);
    let mut want = Vec::new();
    let mut cur = base;
    let mut push_run = |a: u128, b: u128| {
        let mut a = a;
        loop {
            let mut size_bits = 0u32;
            while size_bits < 88
                && a.trailing_zeros() > size_bits
                && a.checked_add((1u128 << (size_bits + 1)) - 1).is_some_and(|e| e <= b)
            {
                size_bits += 1;
            }
            want.push(format!("{}/{}", Ipv6Addr::from(a), 128 - size_bits));
            let next = a + (1u128 << size_bits);
            if next > b {
                break;
            }
            a = next;
        }
    };
    for (s, e) in &used {
        if *s > cur {
            push_run(cur, s - 1);
        }
        cur = cur.max(e + 1);
    }
    if cur <= end {
        push_run(cur, end);
    }
    assert_eq!(blocks(&free(&admin, "default", parent).await), blocks(&want));
}

// ---------------------------------------------------------------------------------
// Allocation.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_hundred_concurrent_allocations_get_a_hundred_distinct_addresses(admin: PgPool) {
    add(&admin, "default", "10.50.0.0/24").await;
    add(&admin, "default", "10.50.0.64/27").await; // a child: its space is not handed out
    observe(&admin, Seen::vm("10.50.0.3", "00:50:56:00:00:03", Uuid::new_v4())).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let opts = op.pool.connect_options().as_ref().clone();
    // 100 tasks, each on its own connection. The shared test server allows 100
    // connections in all, so at most 25 are open at a time.
    let gate = Arc::new(tokio::sync::Semaphore::new(25));
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (opts, gate) = (opts.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_with(opts).await.unwrap();
            let a = space::allocate_ip(
                &eio_core::Database::from_pool(pool.clone()),
                None,
                &"10.50.0.0/24".parse().unwrap(),
                &IpRequest { hostname: Some(format!("host-{i}")), ..IpRequest::default() },
            )
            .await
            .unwrap_or_else(|e| panic!("allocation {i}: {e}"));
            pool.close().await;
            a
        }));
    }
    let mut addresses = HashSet::new();
    for t in tasks {
        let a = t.await.unwrap();
        assert_eq!(a.created_by.as_deref(), Some("op@example.com"));
        let ip: Ipv4Addr = a.address.parse().unwrap();
        let last = ip.octets()[3];
        assert!(last != 0 && last != 255 && last != 3 && !(64..96).contains(&last), "handed out {ip}");
        assert!(addresses.insert(ip), "{ip} handed out twice");
    }
    assert_eq!(addresses.len(), 100);
    let planned: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT address) FROM ip_assignments").fetch_one(&admin).await.unwrap();
    assert_eq!(planned, 100);
    // Lowest first: .1 .2 .4 ... skipping the observed .3 and the child .64-.95.
    let mut sorted: Vec<u8> = addresses.iter().map(|a| a.octets()[3]).collect();
    sorted.sort_unstable();
    let want: Vec<u8> = (1u8..=254).filter(|x| *x != 3 && !(64..96).contains(x)).take(100).collect();
    assert_eq!(sorted, want);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn allocating_is_for_operators_and_up(admin: PgPool) {
    let p = add(&admin, "default", "10.60.0.0/24").await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    for login in [&viewer, &worker] {
        for sql in [
            format!("SELECT * FROM allocate_ip('{p}')"),
            format!("SELECT * FROM allocate_prefix('{p}', 28)"),
            "INSERT INTO ip_assignments (routing_domain_id, address) VALUES (default_routing_domain_id(), '10.60.0.9')"
                .into(),
            "INSERT INTO prefixes (routing_domain_id, cidr) VALUES (default_routing_domain_id(), '10.61.0.0/24')"
                .into(),
            "UPDATE prefixes SET status = 'deprecated'".into(),
        ] {
            assert_eq!(sqlstate(sqlx::raw_sql(&sql).execute(&login.pool).await), DENIED, "{}: {sql}", login.role);
        }
        let e =
            space::allocate_ip(&db(&login.pool), None, &cidr("10.60.0.0/24"), &IpRequest::default()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden, "{e}");
    }
    // Reading free space is for everyone.
    let free: Vec<String> = sqlx::query_scalar(&format!("SELECT range::text FROM available_ranges('{p}')"))
        .fetch_all(&viewer.pool)
        .await
        .unwrap();
    assert_eq!(free, ["10.60.0.0/24"]);
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let a = space::allocate_ip(&db(&op.pool), None, &cidr("10.60.0.0/24"), &IpRequest::default()).await.unwrap();
    assert_eq!(a.address, "10.60.0.1");
    let child = space::allocate_prefix(&db(&op.pool), None, &cidr("10.60.0.0/24"), 26, &PrefixRequest::default())
        .await
        .unwrap();
    assert_eq!(child.cidr, "10.60.0.64/26");
}

/// A prefix seen in use at more addresses than the page shows: the page lists the first
/// `PAGE_LIMIT` addresses with every live report of each (the last one's too), none gone
/// and none of another routing domain, and the total counts them all.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_prefix_page_lists_the_first_addresses_seen_with_all_their_reports(admin: PgPool) {
    let d = db(&admin);
    add(&admin, "default", "10.80.0.0/22").await;
    ipam_support::routing_domain(&admin, "vrf-red").await;
    let limit = prefixes::PAGE_LIMIT;
    // 10.80.0.1 .. 10.80.2.8 (520 addresses) seen by a VM; the first, the last listed and
    // the first not listed also by an ESXi host; a gone report and another domain's report
    // inside the window.
    sqlx::query(
        "INSERT INTO ip_observations (routing_domain_id, address, source, confidence, entity_type, entity_id, gone_at)
         SELECT d.id, '10.80.0.0'::inet + g, s.source::observation_source, 0.9, s.kind::entity_kind,
                gen_random_uuid(), CASE WHEN s.gone THEN now() END
         FROM generate_series(1, 520) g
         CROSS JOIN (VALUES ('vcenter_vm', 'virtual_machine', false, 'default'),
                            ('esxi_mgmt', 'esxi_host', false, 'default'),
                            ('idrac_mgmt', 'physical_server', true, 'default'),
                            ('vcenter_vm', 'virtual_machine', false, 'vrf-red')) s(source, kind, gone, domain)
         JOIN routing_domains d ON d.name = s.domain
         WHERE s.source = 'vcenter_vm' AND s.domain = 'default'
            OR s.source = 'esxi_mgmt' AND g IN (1, $1, $1 + 1)
            OR s.source = 'idrac_mgmt' AND g = 7
            OR s.domain = 'vrf-red' AND g = 9",
    )
    .bind(limit as i32)
    .execute(&admin)
    .await
    .unwrap();
    let page = prefixes::page(&d, None, &cidr("10.80.0.0/22")).await.unwrap();
    assert_eq!(page.observed_total, 520);
    assert_eq!(page.observed.len() as i64, limit);
    let reports = |i: usize| page.observed[i].observations.iter().map(|o| o.source.as_str()).collect::<Vec<_>>();
    assert_eq!((page.observed[0].address.as_str(), reports(0)), ("10.80.0.1", vec!["vcenter_vm", "esxi_mgmt"]));
    let last = page.observed.len() - 1;
    assert_eq!((page.observed[last].address.as_str(), reports(last)), ("10.80.1.244", vec!["vcenter_vm", "esxi_mgmt"]));
    assert_eq!(reports(6), ["vcenter_vm"], "10.80.0.7: the gone report is not listed");
    assert_eq!(reports(8), ["vcenter_vm"], "10.80.0.9: nor vrf-red's");
    let listed: usize = page.observed.iter().map(|a| a.observations.len()).sum();
    assert_eq!(listed as i64, limit + 2);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_prefix_page_shows_the_tree_both_utilizations_and_free_space(admin: PgPool) {
    ipam_support::sites(&admin, &["FRA-01"]).await;
    let d = db(&admin);
    let mut top = new_prefix("default", "10.70.0.0/16");
    top.site = Some("fra-01".into());
    prefixes::add(&d, &top).await.unwrap();
    add(&admin, "default", "10.70.1.0/24").await;
    add(&admin, "default", "10.70.1.0/26").await;
    add(&admin, "default", "10.70.2.0/23").await;
    for a in ["10.70.1.100", "10.70.1.101"] {
        plan(&admin, "default", a).await;
    }
    for (i, a) in ["10.70.1.100", "10.70.1.102", "10.70.1.103"].iter().enumerate() {
        observe(&admin, Seen::vm(a, &format!("00:50:56:00:01:0{i}"), Uuid::new_v4())).await;
    }
    let page = prefixes::page(&d, None, &cidr("10.70.1.0/24")).await.unwrap();
    assert_eq!(page.prefix.parent.as_deref(), Some("10.70.0.0/16"));
    assert_eq!(page.ancestors.iter().map(|a| a.cidr.as_str()).collect::<Vec<_>>(), ["10.70.0.0/16"]);
    assert_eq!(page.ancestors[0].site.as_deref(), Some("FRA-01"));
    assert_eq!(page.children.iter().map(|c| c.cidr.as_str()).collect::<Vec<_>>(), ["10.70.1.0/26"]);
    let u = &page.prefix.utilization;
    // Both sides, side by side: 2 planned, 3 seen, of 254 usable; a quarter in children.
    assert_eq!((u.usable.as_str(), u.planned.as_str(), u.observed), ("254", "2", 3));
    assert!((u.planned_ratio - 2.0 / 254.0).abs() < 1e-9 && (u.observed_ratio - 3.0 / 254.0).abs() < 1e-9);
    assert!((u.child_ratio - 0.25).abs() < 1e-9 && (u.utilization - 0.25).abs() < 1e-9);
    assert_eq!(u.child_prefixes, 1);
    assert_eq!(page.assignments_total, 2);
    assert_eq!(page.observed_total, 3);
    assert_eq!(
        page.free.iter().map(|f| f.cidr.as_str()).collect::<Vec<_>>(),
        ["10.70.1.64/27", "10.70.1.96/30", "10.70.1.104/29", "10.70.1.112/28", "10.70.1.128/25"]
    );
    assert_eq!(page.free_total, 5);

    // Who is seen on an address is named, whatever kind it is (and an unknown id is not).
    let vc = ipam_support::vcenter(&admin, "vc-names").await;
    let vm =
        ipam_support::vm(&admin, vc, VmSpec { name: "named-vm", cluster: None, guest_hostname: None, nics: &[] }).await;
    let host = ipam_support::host(&admin, vc, None, "esx-named.example.com", None).await;
    let server = ipam_support::server(&admin, "r650-named", "NAMED01", None).await;
    for (address, mac, entity_type, entity_id) in [
        ("10.70.1.200", "00:50:56:00:02:01", "virtual_machine", vm),
        ("10.70.1.201", "00:50:56:00:02:02", "esxi_host", host),
        ("10.70.1.202", "00:50:56:00:02:03", "physical_server", server),
    ] {
        observe(&admin, Seen { entity_type, entity_id, ..Seen::vm(address, mac, entity_id) }).await;
    }
    let page = prefixes::page(&d, None, &cidr("10.70.1.0/24")).await.unwrap();
    let named: Vec<(&str, Option<&str>)> = page
        .observed
        .iter()
        .flat_map(|a| a.observations.iter().map(|o| (a.address.as_str(), o.entity_name.as_deref())))
        .collect();
    assert_eq!(
        named,
        [
            ("10.70.1.100", None),
            ("10.70.1.102", None),
            ("10.70.1.103", None),
            ("10.70.1.200", Some("named-vm")),
            ("10.70.1.201", Some("esx-named.example.com")),
            ("10.70.1.202", Some("r650-named")),
        ]
    );
    // Its open findings: those about the prefix and those about an address in it, most
    // severe first (the order of the IPAM page), and nothing from elsewhere.
    eio_core::ipam::findings::run(&d, Some(std::time::Duration::ZERO)).await.unwrap();
    plan(&admin, "default", "10.71.0.9").await;
    eio_core::ipam::findings::run(&d, Some(std::time::Duration::ZERO)).await.unwrap();
    let page = prefixes::page(&d, None, &cidr("10.70.1.0/24")).await.unwrap();
    let want: Vec<Uuid> = sqlx::query_scalar(
        "SELECT f.id FROM ipam_findings f, prefixes p
         WHERE p.cidr = '10.70.1.0/24' AND f.resolved_at IS NULL
           AND (f.prefix_id = p.id OR (f.routing_domain_id = p.routing_domain_id AND f.address <<= p.cidr))
         ORDER BY f.severity DESC, f.type, f.address, f.subject_key",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(want.len() >= 5, "{want:?}");
    assert_eq!(page.findings.iter().map(|f| f.id).collect::<Vec<_>>(), want);
    let elsewhere: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ipam_findings WHERE resolved_at IS NULL AND address = '10.71.0.9'")
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(elsewhere, 1, "a finding outside the /24, which its page leaves out");

    // The tree in order, parents first, with depth.
    let tree = prefixes::list(&d, &PrefixFilter { domain: None, within: Some(cidr("10.70.0.0/16")) }).await.unwrap();
    assert_eq!(
        tree.iter().map(|p| (p.cidr.as_str(), p.depth)).collect::<Vec<_>>(),
        [("10.70.0.0/16", 0), ("10.70.1.0/24", 1), ("10.70.1.0/26", 2), ("10.70.2.0/23", 1)]
    );
    let top = &tree[0].utilization;
    assert_eq!((top.child_prefixes, top.child_addresses.as_str()), (2, "768"));

    // Removing the /24 hands its child and its assignments to the /16.
    prefixes::remove(&d, None, &cidr("10.70.1.0/24")).await.unwrap();
    let child = prefixes::get(&d, None, &cidr("10.70.1.0/26")).await.unwrap();
    assert_eq!(child.parent.as_deref(), Some("10.70.0.0/16"));
    let planned_in: Vec<String> = sqlx::query_scalar(
        "SELECT p.cidr::text FROM ip_assignments a JOIN prefixes p ON p.id = a.prefix_id ORDER BY a.address",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(planned_in, ["10.70.0.0/16", "10.70.0.0/16"]);

    // Available with a length: only blocks a /N fits in, and how many.
    let av = space::available(&d, None, &cidr("10.70.0.0/16"), Some(20), None).await.unwrap();
    assert!(av.blocks.iter().all(|b| b.cidr.ends_with("/20")
        || b.cidr.ends_with("/19")
        || b.cidr.ends_with("/18")
        || b.cidr.ends_with("/17")));
    assert_eq!(av.blocks[0].cidr, "10.70.16.0/20");
    assert_eq!(av.blocks[0].fits.as_deref(), Some("1"));
    assert_eq!(av.blocks.last().unwrap().fits.as_deref(), Some("8"));
}

/// The cidrs of the prefixes the IPAM page lists, and the addresses it says are seen in use.
async fn ipam_at(s: &eio_core::api::Session, site: &str) -> (Vec<String>, Vec<(String, String, Option<String>)>, i64) {
    let q = IpamPageQuery { site: Some(site.into()), ..Default::default() };
    let page = api::call::<op::ipam_page>(s, q).await.unwrap_or_else(|e| panic!("ipam page at {site}: {e}"));
    let prefixes = page.trees.iter().flat_map(|t| t.prefixes.iter().map(|p| p.cidr.clone())).collect();
    let seen = page.observed.into_iter().map(|o| (o.routing_domain, o.address, o.entity_name)).collect();
    (prefixes, seen, page.observed_total)
}

/// The open findings the IPAM page shows at `site` ("type address", sorted), checked
/// against its counts per type.
async fn findings_at(s: &eio_core::api::Session, site: &str) -> Vec<String> {
    let q = IpamPageQuery { site: Some(site.into()), ..Default::default() };
    let page = api::call::<op::ipam_page>(s, q).await.unwrap_or_else(|e| panic!("ipam page at {site}: {e}"));
    let mut shown: Vec<String> =
        page.findings.iter().map(|f| format!("{} {}", f.kind.as_str(), f.address.as_deref().unwrap_or("-"))).collect();
    shown.sort();
    let counted: i64 = page.findings_by_type.values().sum();
    assert_eq!(counted, shown.len() as i64, "counts per type at {site}: {:?}", page.findings_by_type);
    shown
}

/// Column `col` of a report query's rows, run with `binds` as its filters.
async fn report_column(admin: &PgPool, sql: &str, binds: &[Option<&str>], col: usize) -> Vec<String> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(b.map(str::to_owned));
    }
    let rows = q.fetch_all(admin).await.unwrap_or_else(|e| panic!("{e}: {sql}"));
    rows.iter().map(|r| sqlx::Row::get::<Option<String>, _>(r, col).unwrap_or_default()).collect()
}

/// web01 is at FRA-01 by its datacenter, though its vCenter is configured at MUC-01 and its
/// address lies in MUC-01's prefix: the IPAM page and reports filtered by FRA-01 show its
/// address (and the prefix without a site that holds it), MUC-01 doesn't — until a pin
/// moves web01 there. Conflicts say why in words; pins are listed with who pinned them.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn ipam_and_its_reports_are_where_inference_placed_an_address_and_a_pin_moves_it(admin: PgPool) {
    let e = estate(&admin).await;
    sqlx::query("UPDATE vcenter_instances SET site_id = (SELECT id FROM sites WHERE code = 'MUC-01')")
        .execute(&admin)
        .await
        .unwrap();
    add(&admin, "default", "10.0.0.0/8").await;
    let op1 = Login::new(&admin, "eio_operator", Some(("op1@example.com", "operator", &[]))).await;
    let op2 = Login::new(&admin, "eio_operator", Some(("op2@example.com", "operator", &[]))).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let d = db(&op1.pool);
    sites::infer(&d).await.unwrap();
    // MUC-01's prefix is managed address by address: web01's address, not planned, is a finding.
    plan(&admin, "default", "10.20.0.99").await;
    eio_core::ipam::findings::run(&d, None).await.unwrap();
    let web = sites::placement(&d, EntityKind::VirtualMachine, e.vm_web).await.unwrap();
    assert_eq!(web.winner.as_ref().map(|w| (w.site.as_str(), w.method)), Some(("FRA-01", InferenceMethod::Vcenter)));

    // The conflict lists every opinion, typed, with its evidence in words.
    let conflicts = sites::conflicts(&d).await.unwrap();
    let c = conflicts.iter().find(|c| c.entity_id == e.vm_web).expect("web01's opinions disagree");
    let said: Vec<(&str, InferenceMethod, &str)> =
        c.opinions.iter().map(|o| (o.site.as_str(), o.method, o.because.as_str())).collect();
    assert_eq!(
        &said[..3],
        &[
            ("FRA-01", InferenceMethod::Vcenter, "datacenter Frankfurt-DC matches ^frankfurt"),
            ("MUC-01", InferenceMethod::Cidr, "address 10.20.1.5 is in prefix 10.20.0.0/16 (default)"),
            ("MUC-01", InferenceMethod::Vcenter, "its vCenter vc-fra is configured at this site"),
        ]
    );
    assert_eq!(said.len(), 4, "and VLAN 120's: {said:?}");
    assert_eq!((said[3].0, said[3].1), ("MUC-01", InferenceMethod::Vlan));

    let (s1, sv) = (eio_core::api::Session::new(d.clone()), eio_core::api::Session::new(db(&viewer.pool)));
    let web01 = ("default".to_string(), "10.20.1.5".to_string(), Some("web01".to_string()));
    assert_eq!(ipam_at(&sv, "FRA-01").await, (vec!["10.0.0.0/8".to_string()], vec![web01.clone()], 1));
    assert_eq!(ipam_at(&sv, "muc-01").await, (vec!["10.20.0.0/16".to_string()], vec![], 0));
    let err = api::call::<op::ipam_page>(&sv, IpamPageQuery { site: Some("BER-01".into()), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (ErrorCode::NotFound, "no site with code BER-01"));
    let utilization = catalog::IPAM_UTILIZATION.sheets[0].sql;
    let findings = catalog::IPAM_FINDINGS.sheets[0].sql;
    assert_eq!(report_column(&admin, utilization, &[Some("FRA-01"), None, None], 1).await, ["10.0.0.0/8"]);
    assert_eq!(report_column(&admin, utilization, &[Some("MUC-01"), None, None], 1).await, ["10.20.0.0/16"]);
    assert_eq!(report_column(&admin, findings, &[None, None, None, Some("FRA-01")], 3).await, ["10.20.1.5"]);
    // The page's findings panel is the report's: web01's address is at FRA-01, where it is
    // seen, and at MUC-01, whose prefix holds it.
    assert_eq!(findings_at(&sv, "FRA-01").await, ["seen_not_planned 10.20.1.5"]);
    assert_eq!(findings_at(&sv, "MUC-01").await, ["seen_not_planned 10.20.1.5"]);
    assert_eq!(report_column(&admin, findings, &[None, None, None, Some("MUC-01")], 3).await, ["10.20.1.5"]);
    let listed = api::call::<op::findings>(&sv, FindingsInput { site: Some("fra-01".into()), ..Default::default() });
    let listed: Vec<_> = listed.await.unwrap().into_iter().map(|f| f.address.unwrap_or_default()).collect();
    assert_eq!(listed, ["10.20.1.5"]);
    let err = api::call::<op::findings>(&sv, FindingsInput { site: Some("BER-01".into()), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (ErrorCode::NotFound, "no site with code BER-01"));

    // A pin moves web01, and its address with it.
    sites::pin(&d, EntityKind::VirtualMachine, e.vm_web, "MUC-01", Some("racked in Munich")).await.unwrap();
    assert_eq!(ipam_at(&sv, "FRA-01").await, (vec![], vec![], 0));
    assert_eq!(
        ipam_at(&s1, "MUC-01").await,
        (vec!["10.0.0.0/8".to_string(), "10.20.0.0/16".to_string()], vec![web01], 1)
    );
    assert_eq!(report_column(&admin, utilization, &[Some("FRA-01"), None, None], 1).await, Vec::<String>::new());
    assert_eq!(
        report_column(&admin, utilization, &[Some("MUC-01"), None, None], 1).await,
        ["10.0.0.0/8", "10.20.0.0/16"]
    );
    assert_eq!(report_column(&admin, findings, &[None, None, None, Some("FRA-01")], 3).await, Vec::<String>::new());
    assert_eq!(findings_at(&sv, "FRA-01").await, Vec::<String>::new());
    assert_eq!(findings_at(&sv, "MUC-01").await, ["seen_not_planned 10.20.1.5"]);

    // The pins, with who pinned what and why; only its author (or an admin) may unpin it.
    let pins = |pool: &PgPool| {
        let d = db(pool);
        async move { sites::pins(&d).await.unwrap() }
    };
    let mine = pins(&op1.pool).await;
    let p = mine.iter().map(|p| (p.name.as_deref(), p.site.as_str(), p.pinned_by.as_deref(), p.note.as_deref()));
    assert_eq!(p.collect::<Vec<_>>(), [(Some("web01"), "MUC-01", Some("op1@example.com"), Some("racked in Munich"))]);
    assert!(mine[0].can_unpin);
    assert!(!pins(&op2.pool).await[0].can_unpin);
    let pinned = sites::placement(&d, EntityKind::VirtualMachine, e.vm_web).await.unwrap();
    assert_eq!(pinned.winner.map(|w| w.because), Some("pinned by op1@example.com: racked in Munich".to_string()));
}

/// A plan is shown at the site its targets are at (a pin wins), not its vCenter's
/// configured site; targets at several sites leave it unset and say where they are.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_plan_is_at_the_site_its_targets_are_placed(admin: PgPool) {
    let e = estate(&admin).await;
    sqlx::query("UPDATE vcenter_instances SET site_id = (SELECT id FROM sites WHERE code = 'MUC-01')")
        .execute(&admin)
        .await
        .unwrap();
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let d = db(&op.pool);
    sites::infer(&d).await.unwrap();
    let site = |code: &str| {
        let admin = admin.clone();
        let code = code.to_owned();
        async move {
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM sites WHERE code = $1")
                .bind(code)
                .fetch_one(&admin)
                .await
                .unwrap()
        }
    };
    let (fra, muc) = (site("FRA-01").await, site("MUC-01").await);
    let policy: Policy = serde_json::from_value(serde_json::json!({
        "allow_vm_shutdown": true, "allow_hard_poweroff": false, "vm_limit": 10,
        "shutdown_timeout_seconds": 60, "require_approval": false
    }))
    .unwrap();
    let host = JobSpec::MaintenanceMode(MaintenanceTarget {
        hosts: vec!["esx-fra-01.example.com".into()],
        cluster: None,
        exit: false,
    });
    let plan = compute(&d, &host, &policy).await.unwrap();
    assert_eq!(plan.site_id, Some(fra), "by the datacenter rule, not the vCenter's MUC-01");
    sites::pin(&d, EntityKind::EsxiHost, e.host, "MUC-01", None).await.unwrap();
    assert_eq!(compute(&d, &host, &policy).await.unwrap().site_id, Some(muc), "the pin wins");

    let vms = |names: &[&str]| {
        JobSpec::Power(PowerTarget {
            action: PowerAction::Shutdown,
            vms: names.iter().map(|n| n.to_string()).collect(),
            servers: vec![],
        })
    };
    let plan = compute(&d, &vms(&["web01"]), &policy).await.unwrap();
    assert_eq!(plan.site_id, Some(fra));
    let plan = compute(&d, &vms(&["web01", "muc-db01"]), &policy).await.unwrap();
    assert_eq!(plan.site_id, None);
    assert!(plan.notes.contains(&"the VMs are at 2 sites (FRA-01, MUC-01)".to_string()), "{:?}", plan.notes);
    // Who may act on the job is not this field's to say: the database's scope of the plan
    // is every site any opinion names.
    let scope: Vec<Uuid> = sqlx::query_scalar("SELECT unnest(site_ids) FROM job_scope($1)")
        .bind(serde_json::json!({"material": {"hosts": [[plan_host_moid(&admin, e.host).await, 1, "vc-fra"]]}}))
        .fetch_all(&admin)
        .await
        .unwrap();
    let mut want = vec![fra, muc];
    want.sort();
    assert_eq!(scope, want);
}

async fn plan_host_moid(admin: &PgPool, host: Uuid) -> String {
    sqlx::query_scalar("SELECT moid FROM esxi_hosts WHERE id = $1").bind(host).fetch_one(admin).await.unwrap()
}
