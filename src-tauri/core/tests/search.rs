//! Fuzzy search across VMs, hosts, servers, addresses, MACs and service tags, ranked,
//! in one call, against a real PostgreSQL.
mod common;
mod ipam_support;

use common::Login;
use eio_core::error::ErrorCode;
use eio_core::search::{self, HitKind, QueryKind, SearchResults};
use ipam_support::{db, observe, Seen, VmSpec};
use sqlx::PgPool;
use uuid::Uuid;

struct Estate {
    web01: Uuid,
    web02: Uuid,
    host: Uuid,
    server: Uuid,
}

async fn estate(admin: &PgPool) -> Estate {
    let vc = ipam_support::vcenter(admin, "vc-a").await;
    let dc = ipam_support::datacenter(admin, vc, "DC1").await;
    let cl = ipam_support::cluster(admin, vc, dc, "prod").await;
    let host = ipam_support::host(admin, vc, Some(cl), "esx-prod-01.example.com", Some("HST4711")).await;
    let web01 = ipam_support::vm(
        admin,
        vc,
        VmSpec {
            name: "prod-web-01",
            cluster: Some(cl),
            guest_hostname: Some("web01.shop.example.com"),
            nics: &[("00:50:56:aa:bb:01", "VLAN10")],
        },
    )
    .await;
    let web02 = ipam_support::vm(
        admin,
        vc,
        VmSpec {
            name: "prod-web-02",
            cluster: Some(cl),
            guest_hostname: Some("web02.shop.example.com"),
            nics: &[("00:50:56:aa:bb:02", "VLAN10")],
        },
    )
    .await;
    for name in ["billing-db", "ldap-01", "backup-proxy", "print-server"] {
        ipam_support::vm(admin, vc, VmSpec { name, cluster: Some(cl), guest_hostname: None, nics: &[] }).await;
    }
    let server = ipam_support::server(admin, "r750-rack4-u12", "7XK2LM3", Some("10.9.0.12")).await;
    sqlx::query("UPDATE physical_servers SET idrac_mac = '14:18:77:00:00:12' WHERE id = $1")
        .bind(server)
        .execute(admin)
        .await
        .unwrap();
    sqlx::query("UPDATE esxi_hosts SET management_ips = ARRAY['10.9.1.1'::inet] WHERE id = $1")
        .bind(host)
        .execute(admin)
        .await
        .unwrap();
    observe(admin, Seen::vm("10.1.2.3", "00:50:56:aa:bb:01", web01)).await;
    observe(admin, Seen::vm("10.1.2.4", "00:50:56:aa:bb:02", web02)).await;
    sqlx::query("INSERT INTO prefixes (routing_domain_id, cidr) VALUES (default_routing_domain_id(), '10.1.2.0/24')")
        .execute(admin)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO ip_assignments (routing_domain_id, address, hostname) VALUES (default_routing_domain_id(), '10.1.2.50', 'mail-relay')",
    )
    .execute(admin)
    .await
    .unwrap();
    Estate { web01, web02, host, server }
}

async fn find(pool: &PgPool, q: &str) -> SearchResults {
    search::search(&db(pool), q, None).await.unwrap_or_else(|e| panic!("search {q}: {e}"))
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn fuzzy_names_rank_best_first_across_every_kind(admin: PgPool) {
    let e = estate(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;

    // A typo still finds the VM; the closest name ranks first; unrelated names don't show.
    let r = find(&viewer.pool, "prod-web-01").await;
    assert_eq!(r.interpreted_as, QueryKind::Text);
    assert_eq!((r.hits[0].kind, r.hits[0].id, r.hits[0].score), (HitKind::VirtualMachine, Some(e.web01), 1.0));
    assert_eq!(r.hits[1].id, Some(e.web02));
    assert!(r.hits[1].score < 1.0);
    assert!(!r.hits.iter().any(|h| h.label == "billing-db"), "{:?}", r.hits);

    let r = find(&viewer.pool, "prod-wbe-01").await;
    assert_eq!(r.hits[0].id, Some(e.web01), "{:?}", r.hits);

    // A guest host name finds its VM once, however many of its fields match.
    let r = find(&viewer.pool, "web02.shop").await;
    assert_eq!(r.hits[0].id, Some(e.web02), "{:?}", r.hits);
    assert_eq!(r.hits.iter().filter(|h| h.id == Some(e.web02)).count(), 1);

    // Hosts, servers (by host name and by service tag, case-insensitive), planned host names.
    let r = find(&viewer.pool, "esx-prod").await;
    assert_eq!((r.hits[0].kind, r.hits[0].id), (HitKind::EsxiHost, Some(e.host)));
    let r = find(&viewer.pool, "rack4").await;
    assert_eq!((r.hits[0].kind, r.hits[0].id), (HitKind::PhysicalServer, Some(e.server)), "{:?}", r.hits);
    let r = find(&viewer.pool, "7xk2lm3").await;
    assert_eq!(
        (r.hits[0].kind, r.hits[0].field.as_str(), r.hits[0].score),
        (HitKind::PhysicalServer, "service_tag", 1.0)
    );
    let r = find(&viewer.pool, "HST4711").await;
    assert_eq!((r.hits[0].kind, r.hits[0].id), (HitKind::EsxiHost, Some(e.host)));
    let r = find(&viewer.pool, "mail-rela").await;
    assert_eq!((r.hits[0].kind, r.hits[0].label.as_str()), (HitKind::Address, "10.1.2.50"));

    // Nothing like it: no hits, not an error.
    assert!(find(&viewer.pool, "zzqqxx").await.hits.is_empty());
    // The limit holds.
    let r = search::search(&db(&viewer.pool), "prod", Some(2)).await.unwrap();
    assert!(r.hits.len() <= 2);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn addresses_blocks_and_macs_are_exact(admin: PgPool) {
    let e = estate(&admin).await;
    // An address: who carries it.
    let r = find(&admin, "10.1.2.3").await;
    assert_eq!(r.interpreted_as, QueryKind::Address);
    assert_eq!(r.hits.len(), 1);
    assert_eq!(
        (r.hits[0].kind, r.hits[0].id, r.hits[0].label.as_str()),
        (HitKind::VirtualMachine, Some(e.web01), "prod-web-01")
    );
    assert!(r.hits[0].detail.as_deref().unwrap().contains("00:50:56:aa:bb:01"));
    // A planned address, an iDRAC address, an ESXi management address.
    assert_eq!(find(&admin, "10.1.2.50").await.hits[0].kind, HitKind::Address);
    assert_eq!(find(&admin, "10.9.0.12").await.hits[0].id, Some(e.server));
    assert_eq!(find(&admin, "10.9.1.1").await.hits[0].id, Some(e.host));
    // A block, or a partial address: its prefix first, then what is in use or planned.
    for q in ["10.1.2.0/24", "10.1.2", "10.1.2."] {
        let r = find(&admin, q).await;
        assert_eq!(r.interpreted_as, QueryKind::Block, "{q}");
        assert_eq!((r.hits[0].kind, r.hits[0].label.as_str()), (HitKind::Prefix, "10.1.2.0/24"), "{q}");
        let labels: Vec<&str> = r.hits.iter().map(|h| h.label.as_str()).collect();
        assert!(
            labels.contains(&"10.1.2.3") && labels.contains(&"10.1.2.4") && labels.contains(&"10.1.2.50"),
            "{labels:?}"
        );
    }
    // MACs in any spelling, and by their first octets.
    for q in ["00:50:56:aa:bb:02", "00-50-56-AA-BB-02", "0050.56aa.bb02"] {
        let r = find(&admin, q).await;
        assert_eq!(r.interpreted_as, QueryKind::Mac, "{q}");
        assert!(r.hits.iter().all(|h| h.id == Some(e.web02)), "{q}: {:?}", r.hits);
        assert!(
            r.hits.iter().any(|h| h.field == "nic_mac") && r.hits.iter().any(|h| h.field == "mac"),
            "{q}: {:?}",
            r.hits
        );
    }
    let r = find(&admin, "00:50:56:aa").await;
    let ids: Vec<_> = r.hits.iter().filter_map(|h| h.id).collect();
    assert!(ids.contains(&e.web01) && ids.contains(&e.web02), "{:?}", r.hits);
    assert_eq!(find(&admin, "14:18:77:00:00:12").await.hits[0].id, Some(e.server));

    let err = search::search(&db(&admin), "   ", None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
}

/// What a result says, for comparing two of them.
fn ranked(r: &SearchResults) -> Vec<(HitKind, Option<Uuid>, String, String, f64)> {
    r.hits.iter().map(|h| (h.kind, h.id, h.field.clone(), h.matched.clone(), h.score)).collect()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_text_index_answers_as_the_sql_plan_and_never_from_stale_data(admin: PgPool) {
    let e = estate(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    // One Database for every search below: one in-process index, built here (as at a
    // server's or the desktop's start).
    let db = db(&viewer.pool);
    search::warm(&db).await.unwrap();
    assert!(search::index_built(&db));
    for q in [
        "prod-web-01",
        "prod-wbe-01",
        "web02.shop",
        "web",
        "prod",
        "esx-prod",
        "rack4",
        "7xk2lm3",
        "HST4711",
        "hst4711",
        "mail-rela",
        "backup proxy",
        "ldap",
        "zzqqxx",
        "Ünïcode",
    ] {
        let by_index = search::search(&db, q, None).await.unwrap();
        let by_sql = search::search_without_index(&db, q, None).await.unwrap();
        assert_eq!(ranked(&by_index), ranked(&by_sql), "{q}");
        let two = search::search(&db, q, Some(2)).await.unwrap();
        assert_eq!(ranked(&two), ranked(&by_sql).into_iter().take(2).collect::<Vec<_>>(), "{q}, limit 2");
    }

    // Writes show at once: the index sees it is stale (SQL answers while it is rebuilt).
    sqlx::query("UPDATE virtual_machines SET name = 'zebra-unique-77' WHERE id = $1")
        .bind(e.web02)
        .execute(&admin)
        .await
        .unwrap();
    let r = search::search(&db, "zebra-unique-77", None).await.unwrap();
    assert_eq!((r.hits[0].id, r.hits[0].score), (Some(e.web02), 1.0), "{:?}", r.hits);
    sqlx::query("UPDATE virtual_machines SET removed_at = now() WHERE id = $1")
        .bind(e.web01)
        .execute(&admin)
        .await
        .unwrap();
    let r = search::search(&db, "prod-web-01", None).await.unwrap();
    assert!(!r.hits.iter().any(|h| h.id == Some(e.web01)), "{:?}", r.hits);
    sqlx::query(
        "INSERT INTO ip_assignments (routing_domain_id, address, hostname) VALUES (default_routing_domain_id(), '10.1.2.51', 'quasar-relay')",
    )
    .execute(&admin)
    .await
    .unwrap();
    let r = search::search(&db, "quasar-relay", None).await.unwrap();
    assert_eq!((r.hits[0].kind, r.hits[0].label.as_str()), (HitKind::Address, "10.1.2.51"), "{:?}", r.hits);
    // And whatever answers, it answers as SQL does.
    for q in ["zebra-unique-77", "prod-web-01", "quasar", "prod"] {
        let by_index = search::search(&db, q, None).await.unwrap();
        let by_sql = search::search_without_index(&db, q, None).await.unwrap();
        assert_eq!(ranked(&by_index), ranked(&by_sql), "{q}");
    }
}

/// The inventory page's search as it was written before the search index: every VM that
/// matches, most similar name first, in one statement.
async fn inventory_reference(pool: &PgPool, q: &str) -> Vec<Uuid> {
    sqlx::query_scalar(
        "SELECT v.id FROM virtual_machines v
         WHERE v.removed_at IS NULL AND NOT v.is_template
           AND (v.name ILIKE '%' || $1 || '%' OR v.name % $1 OR v.guest_hostname ILIKE '%' || $1 || '%'
                OR v.guest_ips @> jsonb_build_array(jsonb_build_object('ip', $1::text)) OR $1 = ANY (v.tags))
         ORDER BY similarity(v.name, $1) DESC, v.name COLLATE \"C\", v.id",
    )
    .bind(q)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_inventory_search_finds_what_pg_trgm_finds(admin: PgPool) {
    use eio_core::pages::inventory::{self, InventoryQuery};
    let e = estate(&admin).await;
    let vc: Uuid = sqlx::query_scalar("SELECT id FROM vcenter_instances LIMIT 1").fetch_one(&admin).await.unwrap();
    let cl: Uuid = sqlx::query_scalar("SELECT id FROM clusters LIMIT 1").fetch_one(&admin).await.unwrap();
    for name in ["web-prod-17", "Ünïcode-web-01", "wéb-01", "db-prod-17"] {
        ipam_support::vm(&admin, vc, VmSpec { name, cluster: Some(cl), guest_hostname: None, nics: &[] }).await;
    }
    sqlx::query(
        "UPDATE virtual_machines SET tags = ARRAY['backup'], guest_ips = '[{\"ip\": \"10.7.7.7\"}]' WHERE id = $1",
    )
    .bind(e.web02)
    .execute(&admin)
    .await
    .unwrap();
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let db = db(&viewer.pool);
    let page = |q: &str| InventoryQuery { q: Some(q.into()), ..InventoryQuery::default() };
    // First as a session that has just started building its index (the first search
    // waits for the build), then with it built.
    for built in [false, true] {
        if built {
            assert!(search::index_built(&db));
        } else {
            search::warm_in_background(&db);
        }
        for q in
            ["prod-web-01", "prod-wbe-01", "web-01", "web01.shop", "backup", "10.7.7.7", "prod", "zzqqxx", "wéb", "17"]
        {
            let got = inventory::load(&db, &page(q)).await.unwrap();
            let want = inventory_reference(&admin, q).await;
            assert_eq!(got.vms.iter().map(|v| v.id).collect::<Vec<_>>(), want, "{q}, index built: {built}");
            assert_eq!(got.total, i64::try_from(want.len()).unwrap(), "{q}, index built: {built}");
            assert!(got.facets.is_none(), "a search carries no facets");
        }
    }
    assert!(inventory::load(&db, &InventoryQuery::default()).await.unwrap().facets.is_some());
    // With a filter on, a search keeps the matches the filter keeps (the statement joins
    // their placement and cluster only then).
    let prod = inventory_reference(&admin, "prod").await;
    assert!(prod.len() >= 4 && prod.contains(&e.web02), "{prod:?}");
    let filtered = |cluster: Option<&str>, tag: Option<&str>| InventoryQuery {
        q: Some("prod".into()),
        cluster: cluster.map(Into::into),
        tag: tag.map(Into::into),
        ..InventoryQuery::default()
    };
    let in_prod = inventory::load(&db, &filtered(Some("prod"), None)).await.unwrap();
    assert_eq!(in_prod.vms.iter().map(|v| v.id).collect::<Vec<_>>(), prod);
    let tagged = inventory::load(&db, &filtered(None, Some("backup"))).await.unwrap();
    assert_eq!((tagged.vms.iter().map(|v| v.id).collect::<Vec<_>>(), tagged.total), (vec![e.web02], 1));
    let elsewhere = inventory::load(&db, &filtered(Some("test"), None)).await.unwrap();
    assert_eq!((elsewhere.vms.len(), elsewhere.total), (0, 0));

    // A rename shows at once, however the index stands.
    sqlx::query("UPDATE virtual_machines SET name = 'zebra-unique-77' WHERE id = $1")
        .bind(e.web01)
        .execute(&admin)
        .await
        .unwrap();
    for q in ["zebra-unique-77", "zebra-unique-78", "prod-web-01"] {
        let got = inventory::load(&db, &page(q)).await.unwrap();
        assert_eq!(got.vms.iter().map(|v| v.id).collect::<Vec<_>>(), inventory_reference(&admin, q).await, "{q}");
    }
}

/// A search nearly every name matches: the index sends the statement only the first names
/// the window can show and how many more there are. Paging through it window by window
/// gives every match once, in the reference order, each window with the whole total; the
/// template, the removed VM and the names only other arms find (a tag, a long name that
/// contains the search) among them or left out as they should be.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_search_every_name_matches_pages_through_all_of_them_in_order(admin: PgPool) {
    use eio_core::pages::inventory::{self, InventoryQuery};
    estate(&admin).await;
    let vc: Uuid = sqlx::query_scalar("SELECT id FROM vcenter_instances LIMIT 1").fetch_one(&admin).await.unwrap();
    let mut names: Vec<String> = (1..=40).map(|i| format!("lab-vm-{i:02}")).collect();
    // Upper case sorts before lower case byte by byte; ties in similarity are common here.
    names.extend(
        ["LAB-VM-07", "Lab-vm-07", "lab-vm-tpl", "lab-vm-gone", "x-lab-vm-07-with-a-far-longer-name-than-most"]
            .map(String::from),
    );
    names.push("tagged-only".into());
    let mut ids = std::collections::HashMap::new();
    for name in &names {
        let id = ipam_support::vm(&admin, vc, VmSpec { name, cluster: None, guest_hostname: None, nics: &[] }).await;
        ids.insert(name.clone(), id);
    }
    for (sql, name) in [
        ("UPDATE virtual_machines SET is_template = true WHERE id = $1", "lab-vm-tpl"),
        ("UPDATE virtual_machines SET removed_at = now() WHERE id = $1", "lab-vm-gone"),
        ("UPDATE virtual_machines SET tags = ARRAY['lab-vm-07'] WHERE id = $1", "tagged-only"),
    ] {
        sqlx::query(sql).bind(ids[name]).execute(&admin).await.unwrap();
    }
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let db = db(&viewer.pool);
    search::warm(&db).await.unwrap();
    let q = "lab-vm-07";
    let want = inventory_reference(&admin, q).await;
    // 40 lab VMs and the two spellings of lab-vm-07, the tagged one and the long name.
    assert_eq!(want.len(), 44, "{want:?}");
    for id in [ids["tagged-only"], ids["x-lab-vm-07-with-a-far-longer-name-than-most"]] {
        assert!(want.contains(&id));
    }
    let low: f32 = sqlx::query_scalar("SELECT similarity('x-lab-vm-07-with-a-far-longer-name-than-most', $1)")
        .bind(q)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(low < 0.3, "the long name is found by ILIKE alone ({low})");
    for limit in [7_i64, 44, 200] {
        let mut paged = Vec::new();
        let mut offset = 0;
        while offset < 50 {
            let query =
                InventoryQuery { q: Some(q.into()), offset: Some(offset), limit: Some(limit), ..Default::default() };
            let got = inventory::load(&db, &query).await.unwrap();
            assert_eq!(got.total, 44, "limit {limit} offset {offset}");
            paged.extend(got.vms.iter().map(|v| v.id));
            offset += limit;
        }
        assert_eq!(paged, want, "limit {limit}");
    }
}

/// The unsearched list: window by window in name order, every VM the filters keep once
/// and each window with their whole total, whether or not a filter needs the VMs placed
/// (a cluster filter does; power and tag filters count without placing them).
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_inventory_lists_and_counts_what_its_filters_keep(admin: PgPool) {
    use eio_core::pages::inventory::{self, InventoryQuery};
    estate(&admin).await;
    let vc: Uuid = sqlx::query_scalar("SELECT id FROM vcenter_instances LIMIT 1").fetch_one(&admin).await.unwrap();
    for i in 1..=30 {
        let name = format!("lab-vm-{i:02}");
        let id =
            ipam_support::vm(&admin, vc, VmSpec { name: &name, cluster: None, guest_hostname: None, nics: &[] }).await;
        let (sql, applies) = match i % 5 {
            0 => ("UPDATE virtual_machines SET power_state = 'powered_off', tags = ARRAY['lab'] WHERE id = $1", true),
            1 => ("UPDATE virtual_machines SET is_template = true WHERE id = $1", true),
            2 => ("UPDATE virtual_machines SET removed_at = now() WHERE id = $1", true),
            _ => ("", false),
        };
        if applies {
            sqlx::query(sql).bind(id).execute(&admin).await.unwrap();
        }
    }
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let db = db(&viewer.pool);
    let reference = |filter: &'static str| {
        let admin = admin.clone();
        async move {
            sqlx::query_scalar::<_, Uuid>(&format!(
                "SELECT v.id FROM virtual_machines v LEFT JOIN clusters c ON c.id = v.cluster_id
                 WHERE v.removed_at IS NULL AND NOT v.is_template AND {filter} ORDER BY v.name, v.id"
            ))
            .fetch_all(&admin)
            .await
            .unwrap()
        }
    };
    let cases: [(InventoryQuery, &str, usize); 4] = [
        (InventoryQuery::default(), "true", 24),
        (InventoryQuery { cluster: Some("prod".into()), ..Default::default() }, "c.name = 'prod'", 6),
        (
            InventoryQuery { power: Some("powered_off".into()), ..Default::default() },
            "v.power_state = 'powered_off'",
            6,
        ),
        (
            InventoryQuery { tag: Some("lab".into()), power: Some("powered_on".into()), ..Default::default() },
            "false",
            0,
        ),
    ];
    for (query, filter, n) in cases {
        let want = reference(filter).await;
        assert_eq!(want.len(), n, "{filter}");
        let mut paged = Vec::new();
        let mut offset = 0;
        while offset <= 28 {
            let page = inventory::load(&db, &InventoryQuery { offset: Some(offset), limit: Some(5), ..query.clone() })
                .await
                .unwrap();
            assert_eq!(page.total, i64::try_from(n).unwrap(), "{filter} at {offset}");
            paged.extend(page.vms.iter().map(|v| v.id));
            offset += 5;
        }
        assert_eq!(paged, want, "{filter}");
    }
}
