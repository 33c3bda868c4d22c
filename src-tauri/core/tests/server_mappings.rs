//! How `refresh_server_mappings()` pairs Dell servers with ESXi hosts, against a real
//! PostgreSQL: every method (service tag, UUID as reported and byte-swapped, a host's
//! custom attribute naming the tag or the iDRAC address, the name), what each pair's
//! evidence says, when two methods agreeing verify a pair, and a tag two hosts carry
//! left ambiguous. Migration 0066 rewrote the function as hash joins; this pins that it
//! finds exactly what it found before. The servers page that shows these mappings is
//! here too: its window, search, filters and counts.
mod common;
mod ipam_support;

use eio_core::api::{self, op, Session};
use eio_core::error::ErrorCode;
use eio_core::pages::servers::{ServersPage, ServersQuery};
use eio_core::pages::Count;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

async fn set(admin: &PgPool, sql: &str, id: Uuid, value: Value) {
    sqlx::query(sql).bind(id).bind(value).execute(admin).await.unwrap();
}

/// One mapping row: server tag, host name, method, confidence, status, evidence, verified.
type Row = (String, String, String, f32, String, Value, bool);

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn every_method_pairs_its_server_and_host_with_its_evidence(admin: PgPool) {
    let vc = ipam_support::vcenter(&admin, "vc-map").await;
    let server_uuid = |s: &str| Uuid::parse_str(s).unwrap();
    let u1 = server_uuid("11111111-2222-3333-4444-555555555555");
    let u2 = server_uuid("01020304-0506-0708-090a-0b0c0d0e0f10");
    // u2 as an ESXi host reports a Dell SMBIOS UUID: the first three fields byte-swapped.
    let u2_swapped = server_uuid("04030201-0605-0807-090a-0b0c0d0e0f10");

    // A: tag and UUID agree (verified). B: only the byte-swapped UUID. C: a custom
    // attribute with the iDRAC address. D: a custom attribute with the tag. E: the name
    // (no UUID on either side: NULL matches nothing). F: a tag two hosts carry.
    let sa = ipam_support::server(&admin, "srv-a", "TAGA01", Some("10.1.1.1")).await;
    let sb = ipam_support::server(&admin, "srv-b", "TAGB02", Some("10.1.1.2")).await;
    ipam_support::server(&admin, "srv-c", "TAGC03", Some("10.1.1.3")).await;
    ipam_support::server(&admin, "srv-d", "TAGD04", None).await;
    ipam_support::server(&admin, "esx-e-idrac.example.com", "TAGE05", None).await;
    ipam_support::server(&admin, "srv-f", "TAGF06", None).await;
    ipam_support::server(&admin, "srv-g", "TAGG07", Some("10.1.1.7")).await;
    ipam_support::server(&admin, "srv-h", "TAGH08", Some("10.1.1.8")).await;
    let server_uuid_sql = "UPDATE physical_servers SET system_uuid = ($2 #>> '{}')::uuid WHERE id = $1";
    set(&admin, server_uuid_sql, sa, json!(u1)).await;
    set(&admin, server_uuid_sql, sb, json!(u2)).await;

    let ha = ipam_support::host(&admin, vc, None, "esx-a.example.com", Some(" taga01")).await;
    let hb = ipam_support::host(&admin, vc, None, "esx-b.example.com", None).await;
    let hc = ipam_support::host(&admin, vc, None, "esx-c.example.com", None).await;
    let hd = ipam_support::host(&admin, vc, None, "esx-d.example.com", None).await;
    ipam_support::host(&admin, vc, None, "esx-e.example.com", None).await;
    ipam_support::host(&admin, vc, None, "esx-f1.example.com", Some("TAGF06")).await;
    ipam_support::host(&admin, vc, None, "esx-f2.example.com", Some("TAGF06")).await;
    let hg = ipam_support::host(&admin, vc, None, "esx-g.example.com", None).await;
    let hh = ipam_support::host(&admin, vc, None, "esx-h.example.com", None).await;
    let host_uuid_sql = "UPDATE esxi_hosts SET hardware_uuid = ($2 #>> '{}')::uuid WHERE id = $1";
    set(&admin, host_uuid_sql, ha, json!(u1)).await;
    set(&admin, host_uuid_sql, hb, json!(u2_swapped)).await;
    let attributes_sql = "UPDATE esxi_hosts SET custom_attributes = $2 WHERE id = $1";
    set(&admin, attributes_sql, hc, json!({"iDRAC IP": " 10.1.1.3 ", "Owner": "TAGC03"})).await;
    set(&admin, attributes_sql, hd, json!({"ServiceTag": "tagd04"})).await;
    // An attribute that is not about the BMC names nothing.
    set(&admin, attributes_sql, hg, json!({"Owner": "10.1.1.7"})).await;
    // H: two attributes name the server, by tag and by iDRAC address: one pair, and the
    // same evidence every refresh.
    set(&admin, attributes_sql, hh, json!({"Service Tag": "TAGH08", "bmc": "10.1.1.8"})).await;

    let counts: Value = sqlx::query_scalar("SELECT refresh_server_mappings()").fetch_one(&admin).await.unwrap();
    assert_eq!(counts, json!({"active": 6, "ambiguous": 2}));
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.service_tag, h.name, m.method::text, m.confidence, m.status::text, m.evidence,
                m.verified_at IS NOT NULL
         FROM server_mappings m JOIN physical_servers p ON p.id = m.physical_server_id
         JOIN esxi_hosts h ON h.id = m.esxi_host_id ORDER BY 1, 2",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    let row = |tag: &str, host: &str, method: &str, confidence: f32, status: &str, evidence: Value, verified: bool| {
        (tag.to_owned(), host.to_owned(), method.to_owned(), confidence, status.to_owned(), evidence, verified)
    };
    let expected: Vec<Row> = vec![
        row(
            "TAGA01",
            "esx-a.example.com",
            "service_tag",
            0.95,
            "active",
            json!({"service_tag": "TAGA01", "methods": ["service_tag", "uuid"]}),
            true,
        ),
        row(
            "TAGB02",
            "esx-b.example.com",
            "uuid",
            0.9,
            "active",
            json!({"server_uuid": u2, "host_uuid": u2_swapped, "byte_swapped": true, "methods": ["uuid"]}),
            false,
        ),
        row(
            "TAGC03",
            "esx-c.example.com",
            "attribute",
            0.85,
            "active",
            json!({"attribute": "iDRAC IP", "value": " 10.1.1.3 ", "methods": ["attribute"]}),
            false,
        ),
        row(
            "TAGD04",
            "esx-d.example.com",
            "attribute",
            0.85,
            "active",
            json!({"attribute": "ServiceTag", "value": "tagd04", "methods": ["attribute"]}),
            false,
        ),
        row(
            "TAGE05",
            "esx-e.example.com",
            "naming",
            0.6,
            "active",
            json!({"compared_name": "esx-e", "methods": ["naming"]}),
            false,
        ),
        row(
            "TAGF06",
            "esx-f1.example.com",
            "service_tag",
            0.95,
            "ambiguous",
            json!({"service_tag": "TAGF06", "methods": ["service_tag"]}),
            false,
        ),
        row(
            "TAGF06",
            "esx-f2.example.com",
            "service_tag",
            0.95,
            "ambiguous",
            json!({"service_tag": "TAGF06", "methods": ["service_tag"]}),
            false,
        ),
        row(
            "TAGH08",
            "esx-h.example.com",
            "attribute",
            0.85,
            "active",
            json!({"attribute": "bmc", "value": "10.1.1.8", "methods": ["attribute"]}),
            false,
        ),
    ];
    assert_eq!(rows, expected);

    // Refreshing again finds the same, evidence and all.
    let again: Value = sqlx::query_scalar("SELECT refresh_server_mappings()").fetch_one(&admin).await.unwrap();
    assert_eq!(again, counts);
    let evidence: Vec<Value> = sqlx::query_scalar(
        "SELECT m.evidence FROM server_mappings m JOIN esxi_hosts h ON h.id = m.esxi_host_id ORDER BY h.name",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(evidence, expected.into_iter().map(|r| r.5).collect::<Vec<_>>());
}

/// The tags of a servers page's window, in its order.
fn tags(page: &ServersPage) -> Vec<&str> {
    page.servers.iter().map(|s| s.service_tag.as_deref().unwrap_or("?")).collect()
}

/// The servers page at a viewer's rights: a window of the servers the search and filters
/// keep, in hostname order, with the estate's counts on the first unsearched window; and
/// bad filter values refused as invalid input, naming what is allowed.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_servers_page_windows_searches_and_filters_on_the_server(admin: PgPool) {
    let vc = ipam_support::vcenter(&admin, "vc-page").await;
    ipam_support::sites(&admin, &["FRA-01"]).await;
    // Eight servers: a, b, c mapped by tag; d's tag two hosts carry (ambiguous); the rest unmapped.
    let mut ids = Vec::new();
    for (i, c) in "abcdefgh".chars().enumerate() {
        let tag = format!("TAG{}0{i}", c.to_ascii_uppercase());
        ids.push(ipam_support::server(&admin, &format!("srv-{c}"), &tag, Some(&format!("10.2.0.{}", i + 1))).await);
    }
    for (host, tag) in
        [("esx-a", "TAGA00"), ("esx-b", "TAGB01"), ("esx-c", "TAGC02"), ("esx-d1", "TAGD03"), ("esx-d2", "TAGD03")]
    {
        ipam_support::host(&admin, vc, None, &format!("{host}.example.com"), Some(tag)).await;
    }
    sqlx::query("SELECT refresh_server_mappings()").execute(&admin).await.unwrap();
    // a is behind the baseline on one component, b is on it, the rest have no baseline.
    let ome: Uuid = sqlx::query_scalar(
        "INSERT INTO ome_instances (name, url, service_identity_id)
         VALUES ('ome-page', 'https://ome.example', (SELECT id FROM service_identities LIMIT 1)) RETURNING id",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    sqlx::query(
        "WITH b AS (INSERT INTO firmware_baselines (ome_instance_id, ome_baseline_id, name) VALUES ($1, '1', 'June')
                    RETURNING id)
         INSERT INTO firmware_compliance (baseline_id, key, service_tag, physical_server_id, component, status)
         SELECT b.id, x.tag || '/' || x.component, x.tag, p.id, x.component, x.status::compliance_status
         FROM b, (VALUES ('TAGA00', 'BIOS', 'upgrade'), ('TAGA00', 'NIC', 'compliant'), ('TAGB01', 'BIOS', 'compliant')) x(tag, component, status)
         JOIN physical_servers p ON p.service_tag = x.tag",
    )
    .bind(ome)
    .execute(&admin)
    .await
    .unwrap();
    // b's iDRAC is at FRA-01 and reports iDRAC9; the others were never probed.
    sqlx::query(
        "UPDATE idrac_endpoints SET site_id = (SELECT id FROM sites WHERE code = 'FRA-01'), generation = 'iDRAC9'
         WHERE id = (SELECT idrac_id FROM physical_servers WHERE service_tag = 'TAGB01')",
    )
    .execute(&admin)
    .await
    .unwrap();

    let viewer = common::Login::new(&admin, "eio_viewer", Some(("v@example.test", "viewer", &[]))).await;
    let s = Session::new(ipam_support::db(&viewer.pool));
    let page = |q: ServersQuery| {
        let s = &s;
        async move { api::call::<op::servers_page>(s, q).await }
    };
    let all = ["TAGA00", "TAGB01", "TAGC02", "TAGD03", "TAGE04", "TAGF05", "TAGG06", "TAGH07"];

    let first = page(ServersQuery::default()).await.unwrap();
    assert_eq!((first.total, first.offset, tags(&first)), (8, 0, all.to_vec()));
    let a = &first.servers[0];
    assert_eq!((a.esxi_host.as_deref(), a.noncompliant_components), (Some("esx-a.example.com"), 1));
    let f = first.facets.expect("the first unsearched window carries the counts");
    let counts = |c: &[Count]| c.iter().map(|c| (c.value.clone(), c.count)).collect::<Vec<_>>();
    assert_eq!(counts(&f.generations), vec![("iDRAC9".into(), 1), ("unknown".into(), 7)]);
    assert_eq!(counts(&f.sites), vec![("FRA-01".into(), 1)]);
    assert_eq!(
        counts(&f.compliance),
        vec![("compliant".into(), 1), ("noncompliant".into(), 1), ("no_baseline".into(), 6)]
    );
    assert_eq!(f.unmapped, 5, "d (ambiguous) and e–h");
    assert_eq!(
        f.ambiguous_mappings.iter().map(|m| m.esxi_host.as_str()).collect::<Vec<_>>(),
        ["esx-d1.example.com", "esx-d2.example.com"]
    );

    // Windows of three walk the whole list once, each saying the total; only the first
    // carries the counts. Past the end: no rows, the same total.
    let mut walked = Vec::new();
    for offset in [0, 3, 6] {
        let w = page(ServersQuery { offset: Some(offset), limit: Some(3), ..Default::default() }).await.unwrap();
        assert_eq!((w.total, w.facets.is_some()), (8, offset == 0), "offset {offset}");
        walked.extend(tags(&w).into_iter().map(str::to_owned));
    }
    assert_eq!(walked, all);
    let past = page(ServersQuery { offset: Some(50), ..Default::default() }).await.unwrap();
    assert_eq!((past.total, past.servers.len()), (8, 0));

    // Filters and search, each alone and together.
    let cases: Vec<(ServersQuery, Vec<&str>)> = vec![
        (ServersQuery { show: Some("mapped".into()), ..Default::default() }, vec!["TAGA00", "TAGB01", "TAGC02"]),
        (ServersQuery { show: Some("Unmapped".into()), ..Default::default() }, all[3..].to_vec()),
        (ServersQuery { show: Some("noncompliant".into()), ..Default::default() }, vec!["TAGA00"]),
        (ServersQuery { site: Some("FRA-01".into()), ..Default::default() }, vec!["TAGB01"]),
        (ServersQuery { generation: Some("iDRAC9".into()), ..Default::default() }, vec!["TAGB01"]),
        (
            ServersQuery { generation: Some("unknown".into()), show: Some("mapped".into()), ..Default::default() },
            vec!["TAGA00", "TAGC02"],
        ),
        (ServersQuery { q: Some("tagc".into()), ..Default::default() }, vec!["TAGC02"]),
        (ServersQuery { q: Some(" srv-e ".into()), ..Default::default() }, vec!["TAGE04"]),
        (ServersQuery { q: Some("idrac-tagf".into()), ..Default::default() }, vec!["TAGF05"]),
        (ServersQuery { q: Some("esx-b".into()), ..Default::default() }, vec!["TAGB01"]),
        (ServersQuery { q: Some("10.2.0.7".into()), ..Default::default() }, vec!["TAGG06"]),
        (
            ServersQuery { q: Some("R750".into()), show: Some("unmapped".into()), ..Default::default() },
            all[3..].to_vec(),
        ),
        // A search's % and _ are letters, not wildcards.
        (ServersQuery { q: Some("%".into()), ..Default::default() }, vec![]),
        (ServersQuery { q: Some("srv_a".into()), ..Default::default() }, vec![]),
    ];
    for (q, expected) in cases {
        let w = page(q.clone()).await.unwrap();
        assert_eq!((tags(&w), w.total), (expected.clone(), expected.len() as i64), "{q:?}");
        let searched = q.q.as_deref().is_some_and(|s| !s.trim().is_empty());
        assert_eq!(w.facets.is_some(), !searched, "counts only on unsearched windows: {q:?}");
    }

    for (q, names) in [
        (ServersQuery { show: Some("broken".into()), ..Default::default() }, "noncompliant, mapped, unmapped"),
        (ServersQuery { generation: Some("iDRAC42".into()), ..Default::default() }, "iDRAC7, iDRAC8, iDRAC9"),
    ] {
        let e = page(q).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains(names), "{}", e.message);
    }
}
