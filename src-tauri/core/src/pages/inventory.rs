//! The inventory page: VMs or ESXi hosts as a window of a filtered, searched list (the
//! table asks for the window it scrolls to, so 100k rows never travel at once), the facets
//! its filters offer, and the detail drawer of one VM or host.
//!
//! Search is fuzzy and server-side: a name or guest hostname containing the words, a name
//! similar to them (pg_trgm's `%`), an exact guest IP, or a tag; best matches first. The
//! similar names and their similarity come from fuzzy search's in-process index
//! (`crate::search`) while it is current, so a search of 10k similar names computes no
//! similarity in SQL; the statement itself checks that it is current and otherwise asks
//! pg_trgm's GIN index.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use ts_rs::TS;
use uuid::Uuid;

use super::{filter, search_term, window, Count};
use crate::error::{Error, Result};
use crate::search::HitKind;
use crate::Database;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InventoryKind {
    #[default]
    Vms,
    Hosts,
}

/// What the inventory table shows. Every field is optional; blank means "any".
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct InventoryQuery {
    /// vms (default) or hosts.
    #[serde(default)]
    pub kind: Option<InventoryKind>,
    /// Fuzzy search: name, guest hostname, an exact IP, or a tag.
    #[serde(default)]
    pub q: Option<String>,
    /// Site code, where site inference placed the object (a pin wins), else its
    /// vCenter's configured site.
    #[serde(default)]
    pub site: Option<String>,
    /// Cluster name.
    #[serde(default)]
    pub cluster: Option<String>,
    /// powered_on | powered_off | suspended (hosts: powered_on | standby | …).
    #[serde(default)]
    pub power: Option<String>,
    /// VMware Tools: ok | old | not_running | not_installed (VMs only).
    #[serde(default)]
    pub tools: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    /// First row of the window (default 0).
    #[serde(default)]
    pub offset: Option<i64>,
    /// Rows in the window (default 200, at most 1000).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct InventoryPage {
    pub kind: InventoryKind,
    /// Rows matching the search and filters.
    pub total: i64,
    pub offset: i64,
    /// The window of VMs (empty when kind is hosts).
    pub vms: Vec<VmListRow>,
    /// The window of hosts (empty when kind is vms).
    pub hosts: Vec<HostListRow>,
    /// The values each filter offers, over the whole inventory (on the first window of a
    /// list that is not searched: they describe the inventory, not the search).
    pub facets: Option<InventoryFacets>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct InventoryFacets {
    pub sites: Vec<Count>,
    pub clusters: Vec<Count>,
    pub power: Vec<Count>,
    pub tools: Vec<Count>,
    /// The 100 most used tags.
    pub tags: Vec<Count>,
}

/// A VM as one table row.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct VmListRow {
    #[ts(type = "string")]
    pub id: Uuid,
    pub moid: String,
    pub name: String,
    pub power_state: Option<String>,
    pub tools_status: Option<String>,
    pub guest_os: Option<String>,
    /// The first address the guest reports.
    pub ip: Option<String>,
    pub vcpu: Option<i32>,
    pub memory_mb: Option<i32>,
    pub tags: Vec<String>,
    pub cluster: Option<String>,
    pub host: Option<String>,
    /// Where site inference placed it (a pin wins), else its vCenter's site.
    pub site: Option<String>,
    pub vcenter: String,
}

/// An ESXi host as one table row.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct HostListRow {
    #[ts(type = "string")]
    pub id: Uuid,
    pub moid: String,
    pub name: String,
    pub connection_state: Option<String>,
    pub power_state: Option<String>,
    pub in_maintenance_mode: bool,
    pub esxi_version: Option<String>,
    pub model: Option<String>,
    pub service_tag: Option<String>,
    pub vms: i64,
    /// The physical server it runs on (service tag), when mapped.
    pub server: Option<String>,
    pub mapping_confidence: Option<f32>,
    pub cluster: Option<String>,
    /// Where site inference placed it (a pin wins), else its vCenter's site.
    pub site: Option<String>,
    pub vcenter: String,
}

/// `%` and `_` in a search are letters, not wildcards.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// pg_trgm's default `similarity_threshold`, which `%` compares with.
const SIMILARITY_THRESHOLD: f64 = 0.3;

/// A window of VMs, filtered, by name.
const VMS_SQL: &str = r#"
SELECT v.id, v.moid, v.name, v.power_state::text AS power_state, v.tools_status::text AS tools_status,
       v.guest_os, v.guest_ips -> 0 ->> 'ip' AS ip, v.vcpu, v.memory_mb, v.tags,
       c.name AS cluster, h.name AS host, s.code AS site, vc.name AS vcenter,
       count(*) OVER () AS total
FROM virtual_machines v
JOIN vcenter_instances vc ON vc.id = v.vcenter_id
LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
LEFT JOIN clusters c ON c.id = v.cluster_id
LEFT JOIN esxi_hosts h ON h.id = v.host_id
WHERE v.removed_at IS NULL AND NOT v.is_template
  AND ($1::text IS NULL OR s.code = $1)
  AND ($2::text IS NULL OR c.name = $2)
  AND ($3::text IS NULL OR v.power_state::text = $3)
  AND ($4::text IS NULL OR v.tools_status::text = $4)
  AND ($5::text IS NULL OR $5 = ANY (v.tags))
ORDER BY v.name, v.id
LIMIT $6 OFFSET $7
"#;

/// A window of VMs matching search $1 (a name `%` matches or containing it, a guest host
/// name containing it, the exact guest IP, a tag), most similar name first. Each way of
/// matching is its own indexed arm. The `%` arm comes from the search index ($11 ids, $12
/// their similarity, $13 names for pg_trgm to check) while it is current as of snapshot
/// $10; otherwise (or with no snapshot) from pg_trgm's GIN index.
const VMS_SEARCH_SQL: &str = r#"
WITH fresh AS (SELECT $10::text IS NOT NULL AND NOT coalesce(search_index_stale($10::pg_snapshot), true) AS ok),
matched AS (
    SELECT x.id, x.sim FROM unnest($11::uuid[], $12::float4[]) x(id, sim) WHERE (SELECT ok FROM fresh)
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v
    WHERE (SELECT ok FROM fresh) AND v.id = ANY ($13::uuid[]) AND v.name % $1
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v WHERE NOT (SELECT ok FROM fresh) AND v.name % $1
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v WHERE v.name ILIKE $2
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v WHERE v.guest_hostname ILIKE $2
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v
    WHERE $14 AND v.guest_ips @> jsonb_build_array(jsonb_build_object('ip', $1::text))
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v WHERE v.tags @> ARRAY[$1]
),
best AS (SELECT m.id, max(m.sim) AS sim FROM matched m GROUP BY m.id),
-- The matches the filters keep: counted whole, joined to their details only in the window.
kept AS (
    SELECT b.id, b.sim, v.name
    FROM best b
    JOIN virtual_machines v ON v.id = b.id
    JOIN vcenter_instances vc ON vc.id = v.vcenter_id
    LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
    LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
    LEFT JOIN clusters c ON c.id = v.cluster_id
    WHERE v.removed_at IS NULL AND NOT v.is_template
      AND ($3::text IS NULL OR s.code = $3)
      AND ($4::text IS NULL OR c.name = $4)
      AND ($5::text IS NULL OR v.power_state::text = $5)
      AND ($6::text IS NULL OR v.tools_status::text = $6)
      AND ($7::text IS NULL OR $7 = ANY (v.tags))
),
win AS (SELECT k.id, k.sim, k.name FROM kept k ORDER BY k.sim DESC, k.name, k.id LIMIT $8 OFFSET $9)
SELECT v.id, v.moid, v.name, v.power_state::text AS power_state, v.tools_status::text AS tools_status,
       v.guest_os, v.guest_ips -> 0 ->> 'ip' AS ip, v.vcpu, v.memory_mb, v.tags,
       c.name AS cluster, h.name AS host, s.code AS site, vc.name AS vcenter,
       (SELECT count(*) FROM kept) AS total, NOT (SELECT ok FROM fresh) AS stale
FROM win w
JOIN virtual_machines v ON v.id = w.id
JOIN vcenter_instances vc ON vc.id = v.vcenter_id
LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
LEFT JOIN clusters c ON c.id = v.cluster_id
LEFT JOIN esxi_hosts h ON h.id = v.host_id
ORDER BY w.sim DESC, w.name, w.id
"#;

pub async fn load(db: &Database, q: &InventoryQuery) -> Result<InventoryPage> {
    let kind = q.kind.unwrap_or_default();
    // Facets describe the whole inventory, not the search: the first window of an
    // unsearched list carries them (the table keeps them while the user types). They are
    // read on a second connection while the window is: two statements at once.
    let (offset, _) = window(q.offset, q.limit, 200, 1000);
    let want_facets = offset == 0 && search_term(&q.q).is_none();
    let (page, facets) = tokio::try_join!(rows(db, q), async {
        if want_facets {
            facets(db, kind).await.map(Some)
        } else {
            Ok(None)
        }
    })?;
    Ok(InventoryPage { facets, ..page })
}

/// The window of rows and the total, without facets.
async fn rows(db: &Database, q: &InventoryQuery) -> Result<InventoryPage> {
    let kind = q.kind.unwrap_or_default();
    let (offset, limit) = window(q.offset, q.limit, 200, 1000);
    let search = search_term(&q.q);
    let like = search.as_deref().map(|s| format!("%{}%", like_escape(s)));
    let (mut vms, mut hosts) = (Vec::new(), Vec::new());
    let mut total = 0i64;
    match kind {
        InventoryKind::Vms => {
            let rows = match &search {
                None => {
                    // Planned with its filters every time (an unnamed statement): the cached
                    // generic plan, which can't see which `$n IS NULL` filters are off, took
                    // 88 ms where a planned one takes 30 (bench_pages, 10k VMs).
                    sqlx::query(VMS_SQL)
                        .persistent(false)
                        .bind(filter(&q.site))
                        .bind(filter(&q.cluster))
                        .bind(filter(&q.power))
                        .bind(filter(&q.tools))
                        .bind(filter(&q.tag))
                        .bind(limit)
                        .bind(offset)
                        .fetch_all(db.pool())
                        .await?
                }
                Some(term) => {
                    // Names `%` matches, with their similarity, from the search index when it
                    // has them; the statement ignores them (and asks pg_trgm) if it is stale.
                    let index = db.search_index().index(db).await?;
                    let names = index.similar_names(HitKind::VirtualMachine, term, SIMILARITY_THRESHOLD);
                    let (snapshot, ids, sims, verify) = match names {
                        Some(n) => (Some(n.snapshot), n.ids, n.sims, n.verify),
                        None => (None, Vec::new(), Vec::new(), Vec::new()),
                    };
                    // Planned with its parameters every time (an unnamed statement): a cached
                    // generic plan guesses 10 names for the arrays and joins 10k by nested loop.
                    let rows = sqlx::query(VMS_SEARCH_SQL)
                        .persistent(false)
                        .bind(term)
                        .bind(&like)
                        .bind(filter(&q.site))
                        .bind(filter(&q.cluster))
                        .bind(filter(&q.power))
                        .bind(filter(&q.tools))
                        .bind(filter(&q.tag))
                        .bind(limit)
                        .bind(offset)
                        .bind(&snapshot)
                        .bind(&ids)
                        .bind(&sims)
                        .bind(&verify)
                        .bind(term.parse::<std::net::IpAddr>().is_ok())
                        .fetch_all(db.pool())
                        .await?;
                    if snapshot.is_some()
                        && rows.first().is_some_and(|r| r.try_get::<bool, _>("stale").unwrap_or(false))
                    {
                        db.search_index().rebuild(db, &index);
                    }
                    rows
                }
            };
            for r in &rows {
                total = r.try_get("total")?;
                vms.push(VmListRow {
                    id: r.try_get("id")?,
                    moid: r.try_get("moid")?,
                    name: r.try_get("name")?,
                    power_state: r.try_get("power_state")?,
                    tools_status: r.try_get("tools_status")?,
                    guest_os: r.try_get("guest_os")?,
                    ip: r.try_get("ip")?,
                    vcpu: r.try_get("vcpu")?,
                    memory_mb: r.try_get("memory_mb")?,
                    tags: r.try_get("tags")?,
                    cluster: r.try_get("cluster")?,
                    host: r.try_get("host")?,
                    site: r.try_get("site")?,
                    vcenter: r.try_get("vcenter")?,
                });
            }
        }
        InventoryKind::Hosts => {
            let rows = sqlx::query(
                r#"
                SELECT h.id, h.moid, h.name, h.connection_state::text AS connection_state,
                       h.power_state::text AS power_state, h.in_maintenance_mode, h.esxi_version, h.model,
                       h.service_tag, coalesce(n.vms, 0) AS vms, p.service_tag AS server, m.confidence,
                       c.name AS cluster, s.code AS site, vc.name AS vcenter,
                       count(*) OVER () AS total
                FROM esxi_hosts h
                JOIN vcenter_instances vc ON vc.id = h.vcenter_id
                LEFT JOIN entity_sites es ON es.entity_type = 'esxi_host' AND es.entity_id = h.id
                LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
                LEFT JOIN clusters c ON c.id = h.cluster_id
                LEFT JOIN (SELECT host_id, count(*) AS vms FROM virtual_machines
                           WHERE removed_at IS NULL GROUP BY host_id) n ON n.host_id = h.id
                LEFT JOIN server_mappings m ON m.esxi_host_id = h.id AND m.status = 'active'
                LEFT JOIN physical_servers p ON p.id = m.physical_server_id
                WHERE h.removed_at IS NULL
                  AND ($1::text IS NULL OR h.name ILIKE $2 OR h.name % $1 OR upper(h.service_tag) = upper($1)
                       OR $1 = ANY (h.tags) OR EXISTS (SELECT 1 FROM unnest(h.management_ips) a WHERE host(a) = $1))
                  AND ($3::text IS NULL OR s.code = $3)
                  AND ($4::text IS NULL OR c.name = $4)
                  AND ($5::text IS NULL OR h.power_state::text = $5)
                  AND ($6::text IS NULL OR $6 = ANY (h.tags))
                ORDER BY CASE WHEN $1::text IS NULL THEN 0 ELSE similarity(h.name, $1) END DESC, h.name, h.id
                LIMIT $7 OFFSET $8
                "#,
            )
            .bind(&search)
            .bind(&like)
            .bind(filter(&q.site))
            .bind(filter(&q.cluster))
            .bind(filter(&q.power))
            .bind(filter(&q.tag))
            .bind(limit)
            .bind(offset)
            .fetch_all(db.pool())
            .await?;
            for r in &rows {
                total = r.try_get("total")?;
                hosts.push(HostListRow {
                    id: r.try_get("id")?,
                    moid: r.try_get("moid")?,
                    name: r.try_get("name")?,
                    connection_state: r.try_get("connection_state")?,
                    power_state: r.try_get("power_state")?,
                    in_maintenance_mode: r.try_get("in_maintenance_mode")?,
                    esxi_version: r.try_get("esxi_version")?,
                    model: r.try_get("model")?,
                    service_tag: r.try_get("service_tag")?,
                    vms: r.try_get("vms")?,
                    server: r.try_get("server")?,
                    mapping_confidence: r.try_get("confidence")?,
                    cluster: r.try_get("cluster")?,
                    site: r.try_get("site")?,
                    vcenter: r.try_get("vcenter")?,
                });
            }
        }
    }
    if vms.is_empty() && hosts.is_empty() && offset > 0 {
        // Past the end: the window function had no row to report the total on.
        let first = InventoryQuery { offset: Some(0), limit: Some(1), kind: Some(kind), ..q.clone() };
        total = Box::pin(rows(db, &first)).await?.total;
    }
    Ok(InventoryPage { kind, total, offset, vms, hosts, facets: None })
}

async fn facets(db: &Database, kind: InventoryKind) -> Result<InventoryFacets> {
    let sql = match kind {
        InventoryKind::Vms => {
            r#"
            WITH v AS (
                SELECT v.power_state::text AS power, v.tools_status::text AS tools, v.tags, c.name AS cluster,
                       s.code AS site
                FROM virtual_machines v JOIN vcenter_instances vc ON vc.id = v.vcenter_id
                LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
                LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id) LEFT JOIN clusters c ON c.id = v.cluster_id
                WHERE v.removed_at IS NULL AND NOT v.is_template
            )
            SELECT 'site' AS facet, site AS value, count(*) AS n FROM v WHERE site IS NOT NULL GROUP BY site
            UNION ALL SELECT 'cluster', cluster, count(*) FROM v WHERE cluster IS NOT NULL GROUP BY cluster
            UNION ALL SELECT 'power', power, count(*) FROM v WHERE power IS NOT NULL GROUP BY power
            UNION ALL SELECT 'tools', tools, count(*) FROM v WHERE tools IS NOT NULL GROUP BY tools
            UNION ALL (SELECT 'tag', t, count(*) FROM v, unnest(v.tags) t GROUP BY t ORDER BY count(*) DESC, t LIMIT 100)
            "#
        }
        InventoryKind::Hosts => {
            r#"
            WITH h AS (
                SELECT h.power_state::text AS power, h.tags, c.name AS cluster, s.code AS site
                FROM esxi_hosts h JOIN vcenter_instances vc ON vc.id = h.vcenter_id
                LEFT JOIN entity_sites es ON es.entity_type = 'esxi_host' AND es.entity_id = h.id
                LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id) LEFT JOIN clusters c ON c.id = h.cluster_id
                WHERE h.removed_at IS NULL
            )
            SELECT 'site' AS facet, site AS value, count(*) AS n FROM h WHERE site IS NOT NULL GROUP BY site
            UNION ALL SELECT 'cluster', cluster, count(*) FROM h WHERE cluster IS NOT NULL GROUP BY cluster
            UNION ALL SELECT 'power', power, count(*) FROM h WHERE power IS NOT NULL GROUP BY power
            UNION ALL (SELECT 'tag', t, count(*) FROM h, unnest(h.tags) t GROUP BY t ORDER BY count(*) DESC, t LIMIT 100)
            "#
        }
    };
    let mut f = InventoryFacets::default();
    for r in sqlx::query(sql).fetch_all(db.pool()).await? {
        let facet: String = r.try_get("facet")?;
        let c = Count { value: r.try_get("value")?, count: r.try_get("n")? };
        match facet.as_str() {
            "site" => f.sites.push(c),
            "cluster" => f.clusters.push(c),
            "power" => f.power.push(c),
            "tools" => f.tools.push(c),
            _ => f.tags.push(c),
        }
    }
    for list in [&mut f.sites, &mut f.clusters, &mut f.power, &mut f.tools] {
        list.sort_by(|a, b| a.value.cmp(&b.value));
    }
    Ok(f)
}

/// Input of the detail drawers: the row's id.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct IdInput {
    #[ts(type = "string")]
    pub id: Uuid,
}

/// A configured virtual NIC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(default)]
pub struct Nic {
    pub mac: String,
    pub network: Option<String>,
    pub connected: bool,
    pub label: String,
}

/// An address the guest reports, with how sure we are it holds it now (0–1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(default)]
pub struct GuestIp {
    pub ip: String,
    pub confidence: f32,
    pub mac: Option<String>,
}

/// A custom attribute (vCenter custom field) and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// How an ESXi host maps to a physical server, and why we think so.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct MappingInfo {
    #[ts(type = "string")]
    pub server_id: Uuid,
    pub service_tag: Option<String>,
    pub idrac: Option<String>,
    pub esxi_host: String,
    /// service_tag | uuid | naming | attribute | manual
    pub method: String,
    pub confidence: f32,
    /// active | ambiguous | rejected
    pub status: String,
    pub verified: bool,
    /// Which facts matched.
    pub evidence: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct VmDetail {
    #[ts(type = "string")]
    pub id: Uuid,
    pub moid: String,
    pub name: String,
    #[ts(type = "string | null")]
    pub uuid: Option<Uuid>,
    pub vcenter: String,
    pub datacenter: Option<String>,
    pub cluster: Option<String>,
    pub host: Option<String>,
    pub site: Option<String>,
    pub folder_path: Option<String>,
    pub vcpu: Option<i32>,
    pub memory_mb: Option<i32>,
    pub power_state: Option<String>,
    pub tools_status: Option<String>,
    pub guest_os: Option<String>,
    pub guest_hostname: Option<String>,
    pub nics: Vec<Nic>,
    pub ips: Vec<GuestIp>,
    pub tags: Vec<String>,
    pub custom_attributes: Vec<Attribute>,
    pub notes: Option<String>,
    pub has_snapshot: bool,
    pub snapshot_count: i32,
    #[ts(type = "string")]
    pub first_seen: chrono::DateTime<chrono::Utc>,
    #[ts(type = "string")]
    pub last_sync: chrono::DateTime<chrono::Utc>,
    /// Its host's physical server, when mapped.
    pub host_mapping: Option<MappingInfo>,
}

const MAPPING_SQL: &str = r#"
    SELECT m.esxi_host_id, p.id AS server_id, p.service_tag, e.name AS idrac, h.name AS esxi_host,
           m.method::text AS method, m.confidence, m.status::text AS status, m.verified_at IS NOT NULL AS verified,
           m.evidence
    FROM server_mappings m
    JOIN physical_servers p ON p.id = m.physical_server_id
    JOIN esxi_hosts h ON h.id = m.esxi_host_id
    LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
"#;

pub(crate) fn mapping_from(r: &sqlx::postgres::PgRow) -> Result<MappingInfo> {
    Ok(MappingInfo {
        server_id: r.try_get("server_id")?,
        service_tag: r.try_get("service_tag")?,
        idrac: r.try_get("idrac")?,
        esxi_host: r.try_get("esxi_host")?,
        method: r.try_get("method")?,
        confidence: r.try_get("confidence")?,
        status: r.try_get("status")?,
        verified: r.try_get("verified")?,
        evidence: r.try_get("evidence")?,
    })
}

/// Mappings matching `condition` (SQL over `m`, `p`, `h`; `$1` is bound to `id`), best first.
pub(crate) async fn mappings_where(db: &Database, condition: &str, id: Uuid) -> Result<Vec<MappingInfo>> {
    sqlx::query(&format!(
        "{MAPPING_SQL} WHERE {condition} ORDER BY m.status = 'active' DESC, m.confidence DESC, h.name"
    ))
    .bind(id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(mapping_from)
    .collect()
}

fn attributes(v: serde_json::Value) -> Vec<Attribute> {
    match v {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(name, value)| Attribute {
                name,
                value: match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                },
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn json_list<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Vec<T> {
    match v {
        serde_json::Value::Array(items) => items.into_iter().filter_map(|i| serde_json::from_value(i).ok()).collect(),
        _ => Vec::new(),
    }
}

pub async fn vm(db: &Database, id: Uuid) -> Result<VmDetail> {
    let r = sqlx::query(
        r#"
        SELECT v.id, v.moid, v.name, v.uuid, vc.name AS vcenter, d.name AS datacenter, c.name AS cluster,
               h.name AS host, s.code AS site, v.folder_path, v.vcpu, v.memory_mb,
               v.power_state::text AS power_state, v.tools_status::text AS tools_status, v.guest_os, v.guest_hostname,
               v.nics, v.guest_ips, v.tags, v.custom_attributes, v.notes, v.has_snapshot, v.snapshot_count,
               v.first_seen, v.host_id,
               -- a live VM was confirmed by its vCenter's last full sync even if unchanged
               CASE WHEN v.removed_at IS NULL THEN greatest(v.last_sync, vc.last_full_sync_at) ELSE v.last_sync END AS last_sync
        FROM virtual_machines v
        JOIN vcenter_instances vc ON vc.id = v.vcenter_id
        LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
        LEFT JOIN datacenters d ON d.id = v.datacenter_id
        LEFT JOIN clusters c ON c.id = v.cluster_id
        LEFT JOIN esxi_hosts h ON h.id = v.host_id
        WHERE v.id = $1
        "#,
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::not_found(format!("no VM {id} in the inventory")))?;
    let host_id: Option<Uuid> = r.try_get("host_id")?;
    let host_mapping = match host_id {
        Some(h) => mappings_where(db, "m.esxi_host_id = $1 AND m.status = 'active'", h).await?.into_iter().next(),
        None => None,
    };
    let mut ips: Vec<GuestIp> = json_list(r.try_get("guest_ips")?);
    ips.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    Ok(VmDetail {
        id: r.try_get("id")?,
        moid: r.try_get("moid")?,
        name: r.try_get("name")?,
        uuid: r.try_get("uuid")?,
        vcenter: r.try_get("vcenter")?,
        datacenter: r.try_get("datacenter")?,
        cluster: r.try_get("cluster")?,
        host: r.try_get("host")?,
        site: r.try_get("site")?,
        folder_path: r.try_get("folder_path")?,
        vcpu: r.try_get("vcpu")?,
        memory_mb: r.try_get("memory_mb")?,
        power_state: r.try_get("power_state")?,
        tools_status: r.try_get("tools_status")?,
        guest_os: r.try_get("guest_os")?,
        guest_hostname: r.try_get("guest_hostname")?,
        nics: json_list(r.try_get("nics")?),
        ips,
        tags: r.try_get("tags")?,
        custom_attributes: attributes(r.try_get("custom_attributes")?),
        notes: r.try_get("notes")?,
        has_snapshot: r.try_get("has_snapshot")?,
        snapshot_count: r.try_get("snapshot_count")?,
        first_seen: r.try_get("first_seen")?,
        last_sync: r.try_get("last_sync")?,
        host_mapping,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct HostDetail {
    #[ts(type = "string")]
    pub id: Uuid,
    pub moid: String,
    pub name: String,
    pub vcenter: String,
    pub datacenter: Option<String>,
    pub cluster: Option<String>,
    pub site: Option<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub service_tag: Option<String>,
    #[ts(type = "string | null")]
    pub hardware_uuid: Option<Uuid>,
    pub esxi_version: Option<String>,
    pub esxi_build: Option<String>,
    pub connection_state: Option<String>,
    pub power_state: Option<String>,
    pub in_maintenance_mode: bool,
    pub management_ips: Vec<String>,
    pub cpu_model: Option<String>,
    pub cpu_cores: Option<i32>,
    pub memory_mb: Option<i64>,
    pub tags: Vec<String>,
    pub custom_attributes: Vec<Attribute>,
    #[ts(type = "string")]
    pub last_sync: chrono::DateTime<chrono::Utc>,
    /// Every mapping candidate (active first), with its evidence.
    pub mappings: Vec<MappingInfo>,
    /// The VMs it runs (at most 500), by name.
    pub vms: Vec<VmBrief>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct VmBrief {
    #[ts(type = "string")]
    pub id: Uuid,
    pub name: String,
    pub power_state: Option<String>,
}

pub async fn host(db: &Database, id: Uuid) -> Result<HostDetail> {
    let r = sqlx::query(
        r#"
        SELECT h.id, h.moid, h.name, vc.name AS vcenter, d.name AS datacenter, c.name AS cluster, s.code AS site,
               h.vendor, h.model, h.serial_number, h.service_tag, h.hardware_uuid, h.esxi_version, h.esxi_build,
               h.connection_state::text AS connection_state, h.power_state::text AS power_state,
               h.in_maintenance_mode, ARRAY(SELECT host(a) FROM unnest(h.management_ips) a) AS management_ips,
               h.cpu_model, h.cpu_cores, h.memory_mb, h.tags, h.custom_attributes,
               CASE WHEN h.removed_at IS NULL THEN greatest(h.last_sync, vc.last_full_sync_at) ELSE h.last_sync END AS last_sync
        FROM esxi_hosts h
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        LEFT JOIN entity_sites es ON es.entity_type = 'esxi_host' AND es.entity_id = h.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
        LEFT JOIN datacenters d ON d.id = h.datacenter_id
        LEFT JOIN clusters c ON c.id = h.cluster_id
        WHERE h.id = $1
        "#,
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::not_found(format!("no ESXi host {id} in the inventory")))?;
    let vms = sqlx::query(
        "SELECT id, name, power_state::text AS power_state FROM virtual_machines
         WHERE host_id = $1 AND removed_at IS NULL ORDER BY name LIMIT 500",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|v| Ok(VmBrief { id: v.try_get("id")?, name: v.try_get("name")?, power_state: v.try_get("power_state")? }))
    .collect::<Result<Vec<_>>>()?;
    Ok(HostDetail {
        id: r.try_get("id")?,
        moid: r.try_get("moid")?,
        name: r.try_get("name")?,
        vcenter: r.try_get("vcenter")?,
        datacenter: r.try_get("datacenter")?,
        cluster: r.try_get("cluster")?,
        site: r.try_get("site")?,
        vendor: r.try_get("vendor")?,
        model: r.try_get("model")?,
        serial_number: r.try_get("serial_number")?,
        service_tag: r.try_get("service_tag")?,
        hardware_uuid: r.try_get("hardware_uuid")?,
        esxi_version: r.try_get("esxi_version")?,
        esxi_build: r.try_get("esxi_build")?,
        connection_state: r.try_get("connection_state")?,
        power_state: r.try_get("power_state")?,
        in_maintenance_mode: r.try_get("in_maintenance_mode")?,
        management_ips: r.try_get("management_ips")?,
        cpu_model: r.try_get("cpu_model")?,
        cpu_cores: r.try_get("cpu_cores")?,
        memory_mb: r.try_get("memory_mb")?,
        tags: r.try_get("tags")?,
        custom_attributes: attributes(r.try_get("custom_attributes")?),
        last_sync: r.try_get("last_sync")?,
        mappings: mappings_where(db, "m.esxi_host_id = $1", id).await?,
        vms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_never_become_wildcards() {
        assert_eq!(like_escape("web_01%"), "web\\_01\\%");
        assert_eq!(like_escape("a\\b"), "a\\\\b");
    }

    #[test]
    fn attributes_and_lists_are_read_leniently() {
        let a = attributes(serde_json::json!({"owner": "ops", "n": 3}));
        assert_eq!(
            a,
            vec![
                Attribute { name: "n".into(), value: "3".into() },
                Attribute { name: "owner".into(), value: "ops".into() }
            ]
        );
        let ips: Vec<GuestIp> = json_list(serde_json::json!([{"ip": "10.0.0.1", "confidence": 0.9}, 7]));
        assert_eq!(ips.len(), 1);
        assert_eq!(ips[0].mac, None);
    }
}
