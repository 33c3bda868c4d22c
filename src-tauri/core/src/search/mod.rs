//! Fuzzy search across the estate in one call: VMs (name, guest host name), ESXi hosts
//! (name, service tag), servers (host name, service tag), planned host names, addresses
//! (observed and planned), prefixes and MAC addresses, ranked best first.
//!
//! The query decides the plan: an address, a block (`10.1.2.0/24`, or a partial IPv4
//! such as `10.1.2`) or a MAC (whole, or its first octets) is looked up exactly through
//! the inet/macaddr indexes; anything else is a trigram search, scored by pg_trgm.
//!
//! Text has two plans with the same scores. Normally the in-process text index
//! ([`index`]) picks the candidates from a trigram inverted index in memory and one
//! statement scores them with pg_trgm and confirms the index is current (a GiST trigram
//! scan over 100k similar names visits most of the tree: tens of milliseconds; this is a
//! few). When the index is stale (something it read was written since), or while it is
//! being rebuilt, the SQL plan answers alone: each text source read nearest-first through
//! a GiST trigram index (`ORDER BY query <<-> name LIMIT n`), merged and ranked the same way.
//!
//! Search reads only; it never writes and never reaches outside the database.
use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::ipam::{parse_address, Cidr};
use crate::Database;

mod index;
pub mod ops;
pub use index::SearchIndexCell;

/// What a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    VirtualMachine,
    EsxiHost,
    PhysicalServer,
    IdracEndpoint,
    /// An address seen in use or planned.
    Address,
    Prefix,
}

impl HitKind {
    fn parse(s: &str) -> Result<HitKind> {
        Ok(match s {
            "virtual_machine" => HitKind::VirtualMachine,
            "esxi_host" => HitKind::EsxiHost,
            "physical_server" => HitKind::PhysicalServer,
            "idrac_endpoint" => HitKind::IdracEndpoint,
            "address" => HitKind::Address,
            "prefix" => HitKind::Prefix,
            other => return Err(Error::internal(format!("search returned an unknown kind \"{other}\""))),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HitKind::VirtualMachine => "virtual_machine",
            HitKind::EsxiHost => "esxi_host",
            HitKind::PhysicalServer => "physical_server",
            HitKind::IdracEndpoint => "idrac_endpoint",
            HitKind::Address => "address",
            HitKind::Prefix => "prefix",
        }
    }
}

/// How the query was understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// Fuzzy text over names, host names and service tags.
    Text,
    /// One IPv4 or IPv6 address.
    Address,
    /// A block of addresses (CIDR or a partial IPv4).
    Block,
    /// A MAC address, or its first octets.
    Mac,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SearchHit {
    pub kind: HitKind,
    /// The VM, host, server, assignment or prefix id (none for an observed address).
    #[ts(type = "string | null")]
    pub id: Option<Uuid>,
    /// What to show: a name, an address, a block.
    pub label: String,
    /// Which field matched (name, guest_hostname, service_tag, address, mac, ...).
    pub field: String,
    /// The value that matched.
    pub matched: String,
    /// A line of context (power state, model, who carries an address, ...).
    pub detail: Option<String>,
    /// 1 for an exact match; otherwise trigram similarity, best first.
    pub score: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SearchResults {
    pub query: String,
    pub interpreted_as: QueryKind,
    pub hits: Vec<SearchHit>,
}

/// Default and largest number of hits.
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 200;

/// Each text source offers this many candidates per hit asked for, so that re-ranking
/// by whole-string similarity can pick among names equally close by word similarity.
const CANDIDATES_PER_HIT: i64 = 3;

/// Text hits below this word similarity are noise.
const MIN_SCORE: f64 = 0.3;

enum Parsed {
    Text(String),
    Address(IpAddr),
    Block(Cidr),
    Mac { exact: Option<String>, low: String, high: String },
}

/// A partial dotted IPv4 ("10", "10.1", "10.1.2", with or without a trailing dot) as the
/// block it names.
fn partial_ipv4(q: &str) -> Option<Cidr> {
    let trimmed = q.strip_suffix('.').unwrap_or(q);
    let parts: Vec<&str> = trimmed.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || (parts.len() == 1 && !q.ends_with('.')) {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        octets[i] = p.parse().ok()?;
    }
    let len = u8::try_from(parts.len() * 8).ok()?;
    Cidr::new(IpAddr::from(octets), len).ok()
}

/// A MAC address in the usual spellings (00:50:56:aa:bb:cc, 00-50-56-..., 0050.56aa.bbcc,
/// 005056aabbcc), or the first 2 to 5 octets of one with separators.
fn mac(q: &str) -> Option<Parsed> {
    let hex: String = q.chars().filter(|c| !matches!(c, ':' | '-' | '.')).collect();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let separated = q.contains([':', '-', '.']);
    let octets: Vec<String> =
        hex.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).to_lowercase()).collect::<Vec<_>>();
    if hex.len() == 12 && (separated || q.len() == 12) {
        let m = octets.join(":");
        return Some(Parsed::Mac { exact: Some(m.clone()), low: m.clone(), high: m });
    }
    if separated && hex.len().is_multiple_of(2) && (4..12).contains(&hex.len()) {
        let pad = 6 - octets.len();
        let low = [octets.clone(), vec!["00".to_owned(); pad]].concat().join(":");
        let high = [octets, vec!["ff".to_owned(); pad]].concat().join(":");
        return Some(Parsed::Mac { exact: None, low, high });
    }
    None
}

fn parse(query: &str) -> Result<Parsed> {
    let q = query.trim();
    if q.is_empty() {
        return Err(Error::invalid("search for something: a name, service tag, address or MAC"));
    }
    if q.chars().count() > 200 {
        return Err(Error::invalid("a search is at most 200 characters"));
    }
    if let Ok(addr) = parse_address(q) {
        return Ok(Parsed::Address(addr));
    }
    if q.contains('/') {
        if let Ok(block) = q.parse::<Cidr>() {
            return Ok(Parsed::Block(block));
        }
    }
    if let Some(block) = partial_ipv4(q) {
        return Ok(Parsed::Block(block));
    }
    if let Some(m) = mac(q) {
        return Ok(m);
    }
    Ok(Parsed::Text(q.to_owned()))
}

/// Text: the nearest names of every source by trigram word similarity (GiST KNN, each
/// source stops after $4 candidates), exact service tags, merged and ranked by the mean
/// of word similarity (the query inside a longer name: "rack4" in "r750-rack4-u12") and
/// whole-string similarity (a typo of the whole name beats a name sharing two words),
/// scaled below 1 so that only an exact match scores 1.
const TEXT_SQL: &str = r#"
WITH hits AS (
    (SELECT 'virtual_machine' AS kind, v.id, v.name AS label, 'name' AS field, v.name AS matched,
            concat_ws(', ', v.guest_hostname, v.power_state::text) AS detail, $1 <<-> v.name AS dist
     FROM virtual_machines v WHERE v.removed_at IS NULL ORDER BY $1 <<-> v.name LIMIT $4)
    UNION ALL
    (SELECT 'virtual_machine', v.id, v.name, 'guest_hostname', v.guest_hostname,
            concat_ws(', ', v.guest_hostname, v.power_state::text), $1 <<-> v.guest_hostname
     FROM virtual_machines v WHERE v.removed_at IS NULL AND v.guest_hostname IS NOT NULL
     ORDER BY $1 <<-> v.guest_hostname LIMIT $4)
    UNION ALL
    (SELECT 'esxi_host', h.id, h.name, 'name', h.name,
            concat_ws(', ', nullif(concat_ws(' ', h.vendor, h.model), ''), h.service_tag), $1 <<-> h.name
     FROM esxi_hosts h WHERE h.removed_at IS NULL ORDER BY $1 <<-> h.name LIMIT $4)
    UNION ALL
    (SELECT 'physical_server', s.id, coalesce(s.hostname, s.service_tag, s.id::text), 'hostname', s.hostname,
            concat_ws(', ', s.model, s.service_tag, host(s.idrac_ip)), $1 <<-> s.hostname
     FROM physical_servers s WHERE s.removed_at IS NULL AND s.hostname IS NOT NULL
     ORDER BY $1 <<-> s.hostname LIMIT $4)
    UNION ALL
    (SELECT 'physical_server', s.id, coalesce(s.hostname, s.service_tag), 'service_tag', s.service_tag,
            concat_ws(', ', s.model, host(s.idrac_ip)), $1 <<-> s.service_tag
     FROM physical_servers s WHERE s.removed_at IS NULL AND s.service_tag IS NOT NULL
     ORDER BY $1 <<-> s.service_tag LIMIT $4)
    UNION ALL
    (SELECT 'esxi_host', h.id, h.name, 'service_tag', h.service_tag,
            concat_ws(' ', h.vendor, h.model), 0::real
     FROM esxi_hosts h WHERE h.removed_at IS NULL AND upper(h.service_tag) = upper($1))
    UNION ALL
    (SELECT 'address', a.id, abbrev(a.address), 'planned_hostname', a.hostname,
            concat_ws(', ', 'planned', d.name), $1 <<-> a.hostname
     FROM ip_assignments a JOIN routing_domains d ON d.id = a.routing_domain_id
     WHERE a.hostname IS NOT NULL ORDER BY $1 <<-> a.hostname LIMIT $4)
),
scored AS (
    SELECT h.*, CASE WHEN lower(h.matched) = lower($1) THEN 1.0
                     ELSE ((1 - h.dist) + similarity($1, h.matched)) * 0.495 END::float8 AS score
    FROM hits h
    WHERE h.dist <= 1 - $3
)
SELECT kind, id, label, field, matched, detail, score FROM (
    SELECT DISTINCT ON (kind, id) * FROM scored ORDER BY kind, id, score DESC, field
) best
ORDER BY score DESC, kind, label
LIMIT $2
"#;

/// One address: who carries it (live), what plans it, iDRACs and ESXi hosts configured
/// with it.
const ADDRESS_SQL: &str = r#"
WITH hits AS (
    SELECT CASE WHEN o.entity_type IN ('virtual_machine', 'esxi_host', 'physical_server', 'idrac_endpoint')
                THEN o.entity_type::text ELSE 'address' END AS kind,
           CASE WHEN o.entity_type IN ('virtual_machine', 'esxi_host', 'physical_server', 'idrac_endpoint')
                THEN o.entity_id END AS id,
           coalesce(entity_label(o.entity_type, o.entity_id), host(o.address)) AS label, 'address' AS field,
           host(o.address) AS matched,
           concat_ws(', ', 'seen by ' || o.source::text, o.mac_address::text, d.name) AS detail
    FROM ip_observations o JOIN routing_domains d ON d.id = o.routing_domain_id
    WHERE o.address = $1::inet AND o.gone_at IS NULL
    UNION ALL
    SELECT 'address', a.id, abbrev(a.address), 'address', host($1::inet),
           concat_ws(', ', a.status::text, a.hostname, d.name)
    FROM ip_assignments a JOIN routing_domains d ON d.id = a.routing_domain_id
    WHERE a.address >>= $1::inet
    UNION ALL
    SELECT 'physical_server', s.id, coalesce(s.hostname, s.service_tag, s.id::text), 'idrac_ip', host(s.idrac_ip),
           concat_ws(', ', s.model, s.service_tag)
    FROM physical_servers s WHERE s.idrac_ip = $1::inet AND s.removed_at IS NULL
    UNION ALL
    SELECT 'esxi_host', h.id, h.name, 'management_ip', host($1::inet), concat_ws(' ', h.vendor, h.model)
    FROM esxi_hosts h WHERE h.management_ips @> ARRAY[$1::inet] AND h.removed_at IS NULL
)
SELECT DISTINCT kind, id, label, field, matched, detail, 1.0::float8 AS score FROM hits
ORDER BY kind, label LIMIT $2
"#;

/// A block: its prefixes (the block itself first) and the addresses in use or planned in it.
const BLOCK_SQL: &str = r#"
WITH hits AS (
    (SELECT 'prefix' AS kind, p.id, p.cidr::text AS label, 'prefix' AS field, p.cidr::text AS matched,
            concat_ws(', ', d.name, p.status::text, s.code, 'vlan ' || p.vlan_id) AS detail,
            CASE WHEN p.cidr = $1::cidr THEN 1.0 ELSE 0.95 END::float8 AS score
     FROM prefixes p JOIN routing_domains d ON d.id = p.routing_domain_id LEFT JOIN sites s ON s.id = p.site_id
     WHERE p.cidr <<= $1::cidr ORDER BY p.cidr LIMIT $2)
    UNION ALL
    (SELECT 'address', NULL::uuid, host(o.address), 'address', host(o.address),
            string_agg(DISTINCT coalesce(entity_label(o.entity_type, o.entity_id), o.entity_type::text), ', '),
            0.9::float8
     -- A sample, not every address of a large block: the first rows the index yields.
     FROM (SELECT x.address, x.entity_type, x.entity_id FROM ip_observations x
           WHERE x.address <<= $1::cidr AND x.gone_at IS NULL LIMIT $2 * 4) o
     GROUP BY o.address ORDER BY o.address LIMIT $2)
    UNION ALL
    (SELECT 'address', a.id, abbrev(a.address), 'address', abbrev(a.address),
            concat_ws(', ', a.status::text, a.hostname, d.name), 0.9::float8
     FROM ip_assignments a JOIN routing_domains d ON d.id = a.routing_domain_id
     WHERE a.address <<= $1::cidr ORDER BY a.address LIMIT $2)
)
SELECT kind, id, label, field, matched, detail, score FROM hits ORDER BY score DESC, label LIMIT $2
"#;

/// A MAC (exact: $1 = $2 = the MAC; first octets: the range $1..$2): carriers that report
/// it, VMs whose NICs have it (exact only), servers whose iDRAC has it.
const MAC_SQL: &str = r#"
WITH hits AS (
    SELECT CASE WHEN o.entity_type IN ('virtual_machine', 'esxi_host', 'physical_server', 'idrac_endpoint')
                THEN o.entity_type::text ELSE 'address' END AS kind,
           CASE WHEN o.entity_type IN ('virtual_machine', 'esxi_host', 'physical_server', 'idrac_endpoint')
                THEN o.entity_id END AS id,
           coalesce(entity_label(o.entity_type, o.entity_id), host(o.address)) AS label, 'mac' AS field,
           o.mac_address::text AS matched,
           concat_ws(', ', host(o.address), 'seen by ' || o.source::text) AS detail
    FROM ip_observations o
    WHERE o.mac_address BETWEEN $1::macaddr AND $2::macaddr AND o.gone_at IS NULL
    UNION ALL
    SELECT 'virtual_machine', v.id, v.name, 'nic_mac', $1::macaddr::text, concat_ws(', ', n.e ->> 'network', v.power_state::text)
    FROM virtual_machines v CROSS JOIN LATERAL jsonb_array_elements(v.nics) n(e)
    WHERE $3 AND v.nics @> jsonb_build_array(jsonb_build_object('mac', $1::macaddr::text)) AND v.removed_at IS NULL
      AND n.e ->> 'mac' = $1::macaddr::text
    UNION ALL
    SELECT 'physical_server', s.id, coalesce(s.hostname, s.service_tag, s.id::text), 'idrac_mac', s.idrac_mac::text,
           concat_ws(', ', s.model, s.service_tag, host(s.idrac_ip))
    FROM physical_servers s WHERE s.idrac_mac BETWEEN $1::macaddr AND $2::macaddr AND s.removed_at IS NULL
)
SELECT DISTINCT kind, id, label, field, matched, detail, 1.0::float8 AS score FROM hits
ORDER BY matched, kind, label LIMIT $4
"#;

/// A row of the SQL plans: a hit as the statements spell it.
#[derive(sqlx::FromRow)]
struct HitRow {
    kind: String,
    id: Option<Uuid>,
    label: String,
    field: String,
    matched: Option<String>,
    detail: Option<String>,
    score: f64,
}

impl TryFrom<HitRow> for SearchHit {
    type Error = Error;
    fn try_from(r: HitRow) -> Result<SearchHit> {
        Ok(SearchHit {
            kind: HitKind::parse(&r.kind)?,
            id: r.id,
            label: r.label,
            field: r.field,
            matched: r.matched.unwrap_or_default(),
            detail: r.detail.filter(|d| !d.is_empty()),
            score: r.score,
        })
    }
}

/// Text through SQL alone (the plan the index stands in for).
async fn text_rows(db: &Database, q: &str, limit: i64) -> Result<Vec<HitRow>> {
    Ok(sqlx::query_as(TEXT_SQL)
        .bind(q)
        .bind(limit)
        .bind(MIN_SCORE)
        .bind(limit * CANDIDATES_PER_HIT)
        .fetch_all(db.pool())
        .await?)
}

/// Build the in-process search index now if there is none.
pub async fn warm(db: &Database) -> Result<()> {
    db.search_index().index(db).await.map(|_| ())
}

/// Start building the in-process search index on a task of its own, unless there is one
/// (a server's and the desktop's start: the first search then finds it built, or waits
/// only for the rest of the build; without it, it waited 0.4–0.6 s at 100k VMs, and
/// pg_trgm alone took 1.3 s for a name every VM shares trigrams with).
pub fn warm_in_background(db: &Database) {
    db.search_index().ready(db);
}

/// Whether the in-process search index is built (tests: the index, not SQL, answers).
pub fn index_built(db: &Database) -> bool {
    db.search_index().ready(db).is_some()
}

/// Text through the in-process index: None when it is stale (a rebuild is started).
/// Ranked as `TEXT_SQL` ranks: one hit per (kind, id), its best field; score, kind, label.
async fn text_from_index(db: &Database, q: &str, limit: i64) -> Result<Option<Vec<SearchHit>>> {
    let cell = db.search_index();
    let index = cell.index(db).await?;
    let n = usize::try_from(limit * CANDIDATES_PER_HIT).unwrap_or(usize::MAX);
    let candidates = index.candidates(q, n, MIN_SCORE);
    let Some(scored) = index::score(db, &index, q, &candidates, MIN_SCORE).await? else {
        cell.rebuild(db, &index);
        return Ok(None);
    };
    let mut best: std::collections::HashMap<(HitKind, Option<Uuid>), (f64, u32)> = std::collections::HashMap::new();
    for (e, score) in scored {
        let entry = &index.entries[e as usize];
        let slot = best.entry((entry.kind, entry.id)).or_insert((score, e));
        let held = &index.entries[slot.1 as usize];
        if score > slot.0 || (score == slot.0 && entry.field < held.field) {
            *slot = (score, e);
        }
    }
    let mut hits: Vec<SearchHit> = best
        .into_values()
        .map(|(score, e)| {
            let entry = &index.entries[e as usize];
            SearchHit {
                kind: entry.kind,
                id: entry.id,
                label: entry.label.clone(),
                field: entry.field.clone(),
                matched: entry.matched.clone(),
                detail: entry.detail.clone(),
                score,
            }
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.kind.as_str().cmp(b.kind.as_str()))
            .then_with(|| a.label.cmp(&b.label))
    });
    hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(Some(hits))
}

/// Search everything for `query`; at most `limit` hits (default 20, at most 200).
pub async fn search(db: &Database, query: &str, limit: Option<i64>) -> Result<SearchResults> {
    search_with(db, query, limit, true).await
}

/// As [`search`], with text answered by the SQL plan alone, as while the in-process index
/// is stale: the reference the index's answers are compared with.
pub async fn search_without_index(db: &Database, query: &str, limit: Option<i64>) -> Result<SearchResults> {
    search_with(db, query, limit, false).await
}

async fn search_with(db: &Database, query: &str, limit: Option<i64>, use_index: bool) -> Result<SearchResults> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let parsed = parse(query)?;
    let (kind, rows) = match parsed {
        Parsed::Text(q) => {
            if use_index {
                if let Some(hits) = text_from_index(db, &q, limit).await? {
                    let query = query.trim().to_owned();
                    return Ok(SearchResults { query, interpreted_as: QueryKind::Text, hits });
                }
            }
            (QueryKind::Text, text_rows(db, &q, limit).await?)
        }
        Parsed::Address(a) => (
            QueryKind::Address,
            sqlx::query_as(ADDRESS_SQL).bind(Cidr::host(a).to_string()).bind(limit).fetch_all(db.pool()).await?,
        ),
        Parsed::Block(b) => {
            (QueryKind::Block, sqlx::query_as(BLOCK_SQL).bind(b.to_string()).bind(limit).fetch_all(db.pool()).await?)
        }
        Parsed::Mac { exact, low, high } => (
            QueryKind::Mac,
            sqlx::query_as(MAC_SQL)
                .bind(&low)
                .bind(&high)
                .bind(exact.is_some())
                .bind(limit)
                .fetch_all(db.pool())
                .await?,
        ),
    };
    Ok(SearchResults {
        query: query.trim().to_owned(),
        interpreted_as: kind,
        hits: rows.into_iter().map(SearchHit::try_from).collect::<Result<Vec<_>>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_understood() {
        assert!(matches!(parse("10.1.2.3").unwrap(), Parsed::Address(_)));
        assert!(matches!(parse("2001:db8::1").unwrap(), Parsed::Address(_)));
        assert!(matches!(parse("10.1.2.0/24").unwrap(), Parsed::Block(b) if b.to_string() == "10.1.2.0/24"));
        assert!(matches!(parse("10.1.2").unwrap(), Parsed::Block(b) if b.to_string() == "10.1.2.0/24"));
        assert!(matches!(parse("10.1.").unwrap(), Parsed::Block(b) if b.to_string() == "10.1.0.0/16"));
        assert!(matches!(parse("10.").unwrap(), Parsed::Block(b) if b.to_string() == "10.0.0.0/8"));
        assert!(matches!(parse("00:50:56:AA:bb:cc").unwrap(),
            Parsed::Mac { exact: Some(m), .. } if m == "00:50:56:aa:bb:cc"));
        assert!(matches!(parse("0050.56aa.bbcc").unwrap(), Parsed::Mac { exact: Some(_), .. }));
        assert!(matches!(parse("00:50:56").unwrap(),
            Parsed::Mac { exact: None, low, high } if low == "00:50:56:00:00:00" && high == "00:50:56:ff:ff:ff"));
        assert!(matches!(parse("web01").unwrap(), Parsed::Text(_)));
        assert!(matches!(parse("ABC1234").unwrap(), Parsed::Text(_)));
        assert!(matches!(parse("2024").unwrap(), Parsed::Text(_)));
        assert!(matches!(parse("cafe").unwrap(), Parsed::Text(_)));
        assert!(parse("  ").is_err());
    }
}
