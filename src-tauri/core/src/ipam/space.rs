//! Address space: the free blocks of a prefix (`available_ranges` in SQL), allocation of
//! the next free address or /N (race-free: `allocate_ip` / `allocate_prefix` hold an
//! advisory lock on the prefix while they read its free space and write), what is
//! planned and seen inside a prefix, and the lookup of one address (the prefixes that
//! hold it, most specific first, its assignments and who is seen using it).
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::Row;
use ts_rs::TS;
use uuid::Uuid;

use super::prefixes::{self, Prefix, PrefixRef, PrefixStatus};
use super::{constraint_of, db_enum, domain_id, parse_address, Cidr};
use crate::error::{Error, Result};
use crate::sites::EntityKind;
use crate::Database;

db_enum! {
    /// A planned assignment expects the address in use; a reserved one holds it back.
    pub enum AssignmentStatus: "assignment_status", "assignment status" {
        Planned = "planned",
        Reserved = "reserved",
    }
}

db_enum! {
    /// Which connector saw an address.
    pub enum ObservationSource: "observation_source", "observation source" {
        VcenterVm = "vcenter_vm",
        EsxiMgmt = "esxi_mgmt",
        IdracMgmt = "idrac_mgmt",
    }
}

/// A free block of a prefix.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct FreeBlock {
    pub cidr: String,
    /// How many addresses it holds (a decimal string: IPv6 blocks are large).
    pub addresses: String,
    /// How many blocks of the requested length fit in it, when a length was asked for.
    pub fits: Option<String>,
}

/// The free space of a prefix.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct AvailableRanges {
    pub routing_domain: String,
    pub prefix: String,
    /// Only blocks that hold a /length (and how many), when asked.
    pub length: Option<i32>,
    pub blocks: Vec<FreeBlock>,
    /// Every free block (the list may stop earlier when a limit was asked).
    pub blocks_total: i64,
    /// Addresses in all listed-or-not free blocks.
    pub free_addresses: String,
}

/// A planned (or reserved) address or block.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Assignment {
    #[ts(type = "string")]
    pub id: Uuid,
    pub routing_domain: String,
    /// An address (10.0.0.5) or a block (10.0.0.0/28).
    pub address: String,
    /// The prefix it was planned in.
    pub prefix: Option<String>,
    pub status: AssignmentStatus,
    pub hostname: Option<String>,
    pub mac_address: Option<String>,
    pub description: Option<String>,
    /// Email of who planned it.
    pub created_by: Option<String>,
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
}

/// One connector's report of an address in use.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Observation {
    pub address: String,
    pub source: ObservationSource,
    pub mac_address: Option<String>,
    pub entity_type: EntityKind,
    #[ts(type = "string")]
    pub entity_id: Uuid,
    /// What the carrier is called (VM, host or server name), when known.
    pub entity_name: Option<String>,
    pub hostname: Option<String>,
    pub confidence: f32,
    #[ts(type = "string")]
    pub last_seen: DateTime<Utc>,
}

/// An address seen in use, with every report of it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ObservedAddress {
    pub address: String,
    pub observations: Vec<Observation>,
}

/// Everything about one address in one routing domain.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct AddressInfo {
    pub routing_domain: String,
    pub address: String,
    /// The prefixes holding it, most specific first.
    pub prefixes: Vec<PrefixRef>,
    /// Assignments of the address or of a block holding it.
    pub assignments: Vec<Assignment>,
    /// Current and past reports of it (gone ones have `gone_at`).
    pub observations: Vec<LookupObservation>,
}

/// An observation as the lookup returns it: live or gone.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct LookupObservation {
    pub source: ObservationSource,
    pub mac_address: Option<String>,
    pub entity_type: EntityKind,
    #[ts(type = "string")]
    pub entity_id: Uuid,
    pub hostname: Option<String>,
    pub confidence: f32,
    #[ts(type = "string")]
    pub last_seen: DateTime<Utc>,
    #[ts(type = "string | null")]
    pub gone_at: Option<DateTime<Utc>>,
}

/// What a new single-address assignment carries besides its address.
#[derive(Debug, Clone, Default)]
pub struct IpRequest {
    pub hostname: Option<String>,
    pub description: Option<String>,
    pub mac_address: Option<String>,
    pub status: Option<AssignmentStatus>,
}

/// What a new child prefix carries besides its block.
#[derive(Debug, Clone, Default)]
pub struct PrefixRequest {
    pub status: Option<PrefixStatus>,
    pub description: Option<String>,
    pub vlan_id: Option<i32>,
}

/// The free blocks of prefix `id` in address order (only those holding a /`length`,
/// when given), at most `limit` of them, and how many there are in all.
pub(crate) async fn free_blocks(
    db: &Database,
    id: Uuid,
    length: Option<i32>,
    limit: i64,
) -> Result<(Vec<FreeBlock>, i64)> {
    let (blocks, total, _) = free_blocks_with_total(db, id, length, Some(limit)).await?;
    Ok((blocks, total))
}

async fn free_blocks_with_total(
    db: &Database,
    id: Uuid,
    length: Option<i32>,
    limit: Option<i64>,
) -> Result<(Vec<FreeBlock>, i64, String)> {
    let rows = sqlx::query(
        r#"
        SELECT f.range::text AS cidr, ipam_address_count(f.range)::text AS addresses,
               CASE WHEN $2::int IS NULL THEN NULL
                    ELSE div(ipam_address_count(f.range),
                             ipam_address_count(set_masklen(f.range, $2::int)))::text END AS fits,
               count(*) OVER () AS total,
               (sum(ipam_address_count(f.range)) OVER ())::text AS free_addresses
        FROM available_ranges($1::uuid) f
        WHERE $2::int IS NULL OR masklen(f.range) <= $2::int
        ORDER BY f.range
        LIMIT $3
        "#,
    )
    .bind(id)
    .bind(length)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let total = rows.first().map(|r| r.try_get::<i64, _>("total")).transpose()?.unwrap_or(0);
    let free =
        rows.first().map(|r| r.try_get::<String, _>("free_addresses")).transpose()?.unwrap_or_else(|| "0".into());
    let blocks = rows
        .iter()
        .map(|r| {
            Ok(FreeBlock { cidr: r.try_get("cidr")?, addresses: r.try_get("addresses")?, fits: r.try_get("fits")? })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((blocks, total, free))
}

/// The free space of prefix `cidr` in routing domain `domain` (None: default): blocks
/// as CIDRs, the smallest such set, in address order. With `length`, only the blocks a
/// /length fits in, and how many fit. Free means no child prefix, no assignment and no
/// live observation covers it; network and broadcast addresses are space like any other.
pub async fn available(
    db: &Database,
    domain: Option<&str>,
    cidr: &Cidr,
    length: Option<u8>,
    limit: Option<i64>,
) -> Result<AvailableRanges> {
    if let Some(n) = length {
        if n < cidr.len() || n > cidr.max_len() {
            return Err(Error::invalid(format!(
                "a /{n} does not fit inside {cidr}: the length must be between {} and {}",
                cidr.len(),
                cidr.max_len()
            )));
        }
    }
    let id = prefixes::find(db, domain, cidr).await?;
    let (blocks, blocks_total, free_addresses) = free_blocks_with_total(db, id, length.map(i32::from), limit).await?;
    Ok(AvailableRanges {
        routing_domain: domain.unwrap_or(super::DEFAULT_DOMAIN).to_owned(),
        prefix: cidr.to_string(),
        length: length.map(i32::from),
        blocks,
        blocks_total,
        free_addresses,
    })
}

const ASSIGNMENT_SELECT: &str = r#"
    SELECT a.id, d.name AS routing_domain, abbrev(a.address) AS address, p.cidr::text AS prefix, a.status,
           a.hostname, a.mac_address::text AS mac_address, a.description, u.email AS created_by, a.created_at
    FROM ip_assignments a
    JOIN routing_domains d ON d.id = a.routing_domain_id
    LEFT JOIN prefixes p ON p.id = a.prefix_id
    LEFT JOIN users u ON u.id = a.created_by
"#;

fn assignment_from_row(r: &PgRow) -> Result<Assignment> {
    Ok(Assignment {
        id: r.try_get("id")?,
        routing_domain: r.try_get("routing_domain")?,
        address: r.try_get("address")?,
        prefix: r.try_get("prefix")?,
        status: r.try_get("status")?,
        hostname: r.try_get("hostname")?,
        mac_address: r.try_get("mac_address")?,
        description: r.try_get("description")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

async fn assignment(db: &Database, id: Uuid) -> Result<Assignment> {
    let row = sqlx::query(&format!("{ASSIGNMENT_SELECT} WHERE a.id = $1")).bind(id).fetch_one(db.pool()).await?;
    assignment_from_row(&row)
}

/// Assignments inside prefix `id` (children's included), in address order.
pub(crate) async fn assignments_in(db: &Database, id: Uuid, limit: i64) -> Result<(Vec<Assignment>, i64)> {
    let rows = sqlx::query(&format!(
        "{ASSIGNMENT_SELECT}, prefixes q
         WHERE q.id = $1 AND a.routing_domain_id = q.routing_domain_id AND a.address <<= q.cidr
         ORDER BY a.address LIMIT $2"
    ))
    .bind(id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ip_assignments a JOIN prefixes q ON q.id = $1
         WHERE a.routing_domain_id = q.routing_domain_id AND a.address <<= q.cidr",
    )
    .bind(id)
    .fetch_one(db.pool())
    .await?;
    Ok((rows.iter().map(assignment_from_row).collect::<Result<Vec<_>>>()?, total))
}

/// Addresses seen in use inside prefix `id`, in address order, with every live report.
pub(crate) async fn observed_in(db: &Database, id: Uuid, limit: i64) -> Result<(Vec<ObservedAddress>, i64)> {
    let rows = sqlx::query(
        r#"
        WITH q AS (SELECT routing_domain_id AS rd, cidr FROM prefixes WHERE id = $1),
        addrs AS (
            SELECT DISTINCT o.address FROM ip_observations o, q
            WHERE o.routing_domain_id = q.rd AND o.gone_at IS NULL
              AND o.address >= q.cidr::inet AND o.address <= ipam_last_address(q.cidr)
            ORDER BY o.address LIMIT $2
        )
        SELECT host(o.address) AS address, o.source, o.mac_address::text AS mac_address, o.entity_type,
               o.entity_id, entity_label(o.entity_type, o.entity_id) AS entity_name, o.hostname, o.confidence,
               o.last_seen
        FROM addrs a, q, ip_observations o
        WHERE o.routing_domain_id = q.rd AND o.address = a.address AND o.gone_at IS NULL
        ORDER BY o.address, o.source, o.entity_id
        "#,
    )
    .bind(id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT o.address) FROM prefixes q
         JOIN ip_observations o ON o.routing_domain_id = q.routing_domain_id AND o.gone_at IS NULL
                               AND o.address >= q.cidr::inet AND o.address <= ipam_last_address(q.cidr)
         WHERE q.id = $1",
    )
    .bind(id)
    .fetch_one(db.pool())
    .await?;
    let mut out: Vec<ObservedAddress> = Vec::new();
    for r in &rows {
        let obs = Observation {
            address: r.try_get("address")?,
            source: r.try_get("source")?,
            mac_address: r.try_get("mac_address")?,
            entity_type: r.try_get("entity_type")?,
            entity_id: r.try_get("entity_id")?,
            entity_name: r.try_get("entity_name")?,
            hostname: r.try_get("hostname")?,
            confidence: r.try_get("confidence")?,
            last_seen: r.try_get("last_seen")?,
        };
        match out.last_mut() {
            Some(last) if last.address == obs.address => last.observations.push(obs),
            _ => out.push(ObservedAddress { address: obs.address.clone(), observations: vec![obs] }),
        }
    }
    Ok((out, total))
}

fn map_allocation_error(e: sqlx::Error) -> Error {
    match constraint_of(&e) {
        Some("ip_assignments_domain_address_key") => {
            Error::conflict("that address is already planned in this routing domain")
        }
        Some("prefixes_domain_cidr_key") => Error::conflict("that block already exists in this routing domain"),
        Some("prefixes_vlan_id_range") => Error::invalid("a VLAN id is between 1 and 4094"),
        _ => Error::from(e),
    }
}

/// Plan the next free address of prefix `prefix` (operators). Lowest first; skips the
/// reserved addresses (see [`crate::ipam`]), everything planned or seen, and the space of
/// child prefixes (allocate from the child instead).
pub async fn allocate_ip(db: &Database, domain: Option<&str>, prefix: &Cidr, req: &IpRequest) -> Result<Assignment> {
    let id = prefixes::find(db, domain, prefix).await?;
    let mac = req.mac_address.as_deref().map(str::trim).filter(|m| !m.is_empty());
    let assigned: Uuid = sqlx::query_scalar(
        "SELECT id FROM allocate_ip($1, $2, $3, $4::macaddr, coalesce($5, 'planned'::assignment_status))",
    )
    .bind(id)
    .bind(req.hostname.as_deref().map(str::trim).filter(|h| !h.is_empty()))
    .bind(req.description.as_deref().map(str::trim).filter(|d| !d.is_empty()))
    .bind(mac)
    .bind(req.status)
    .fetch_one(db.pool())
    .await
    .map_err(map_allocation_error)?;
    assignment(db, assigned).await
}

/// Create the next free /`length` inside prefix `prefix` as a child prefix (operators).
pub async fn allocate_prefix(
    db: &Database,
    domain: Option<&str>,
    prefix: &Cidr,
    length: u8,
    req: &PrefixRequest,
) -> Result<Prefix> {
    if length <= prefix.len() || length > prefix.max_len() {
        return Err(Error::invalid(format!(
            "a /{length} does not fit inside {prefix}: the length must be between {} and {}",
            prefix.len() + 1,
            prefix.max_len()
        )));
    }
    let id = prefixes::find(db, domain, prefix).await?;
    let created: Uuid =
        sqlx::query_scalar("SELECT id FROM allocate_prefix($1, $2, coalesce($3, 'active'::prefix_status), $4, $5)")
            .bind(id)
            .bind(i32::from(length))
            .bind(req.status)
            .bind(req.description.as_deref().map(str::trim).filter(|d| !d.is_empty()))
            .bind(req.vlan_id)
            .fetch_one(db.pool())
            .await
            .map_err(map_allocation_error)?;
    prefixes::get_by_id(db, created).await
}

#[derive(Deserialize)]
struct LookupRow {
    prefixes: Vec<PrefixRef>,
    assignments: Vec<Assignment>,
    observations: Vec<LookupObservation>,
}

/// Which prefixes hold `address` in routing domain `domain` (most specific first), its
/// assignments and who reports it: one statement. The prefixes are found by probing the
/// (routing_domain_id, cidr) btree for each of the address's supernets (33 for IPv4, 129
/// for IPv6): exact lookups, independent of how many prefixes overlap elsewhere.
pub async fn lookup(db: &Database, domain: Option<&str>, address: &str) -> Result<AddressInfo> {
    let addr = parse_address(address)?;
    let domain_name = domain.unwrap_or(super::DEFAULT_DOMAIN).to_owned();
    let rd = domain_id(db, Some(&domain_name)).await?;
    let json: serde_json::Value = sqlx::query_scalar(
        r#"
        WITH supernets AS (
            SELECT set_masklen($2::inet, l)::cidr AS net
            FROM generate_series(0, CASE family($2::inet) WHEN 4 THEN 32 ELSE 128 END) l
        )
        SELECT jsonb_build_object(
            'prefixes', (
                SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'cidr', p.cidr::text, 'status', p.status,
                                                             'site', s.code, 'vlan_id', p.vlan_id)
                                          ORDER BY masklen(p.cidr) DESC), '[]')
                FROM prefixes p LEFT JOIN sites s ON s.id = p.site_id
                WHERE p.routing_domain_id = $1 AND p.cidr = ANY (ARRAY(SELECT net FROM supernets))),
            'assignments', (
                SELECT coalesce(jsonb_agg(jsonb_build_object(
                           'id', a.id, 'routing_domain', $3::text, 'address', abbrev(a.address),
                           'prefix', p.cidr::text, 'status', a.status, 'hostname', a.hostname,
                           'mac_address', a.mac_address::text, 'description', a.description,
                           'created_by', u.email, 'created_at', a.created_at)
                       ORDER BY masklen(a.address) DESC), '[]')
                FROM ip_assignments a
                LEFT JOIN prefixes p ON p.id = a.prefix_id
                LEFT JOIN users u ON u.id = a.created_by
                WHERE a.routing_domain_id = $1 AND a.address = ANY (ARRAY(SELECT net::inet FROM supernets))),
            'observations', (
                SELECT coalesce(jsonb_agg(jsonb_build_object(
                           'source', o.source, 'mac_address', o.mac_address::text, 'entity_type', o.entity_type,
                           'entity_id', o.entity_id, 'hostname', o.hostname, 'confidence', o.confidence,
                           'last_seen', o.last_seen, 'gone_at', o.gone_at)
                       ORDER BY o.gone_at IS NOT NULL, o.source, o.entity_id), '[]')
                FROM ip_observations o
                WHERE o.routing_domain_id = $1 AND o.address = $2::inet))
        "#,
    )
    .bind(rd)
    .bind(Cidr::host(addr).to_string())
    .bind(&domain_name)
    .fetch_one(db.pool())
    .await?;
    let row: LookupRow =
        serde_json::from_value(json).map_err(|e| Error::internal(format!("reading the address lookup: {e}")))?;
    Ok(AddressInfo {
        routing_domain: domain_name,
        address: addr.to_string(),
        prefixes: row.prefixes,
        assignments: row.assignments,
        observations: row.observations,
    })
}
