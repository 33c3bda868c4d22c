//! How `refresh_server_mappings()` pairs Dell servers with ESXi hosts, against a real
//! PostgreSQL: every method (service tag, UUID as reported and byte-swapped, a host's
//! custom attribute naming the tag or the iDRAC address, the name), what each pair's
//! evidence says, when two methods agreeing verify a pair, and a tag two hosts carry
//! left ambiguous. Migration 0066 rewrote the function as hash joins; this pins that it
//! finds exactly what it found before.
mod common;
mod ipam_support;

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
