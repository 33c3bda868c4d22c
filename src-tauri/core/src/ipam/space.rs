//! Address space: the free blocks of a prefix (cut here from the gaps between what takes
//! space in it, as `available_ranges()` lists them in SQL), allocation of the next free
//! address or /N (race-free: `allocate_ip` / `allocate_prefix` hold an
//! advisory lock on the prefix while they read its free space and write), what is
//! planned and seen inside a prefix, and the lookup of one address (the prefixes that
//! hold it, most specific first, its assignments and who is seen using it).
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::prefixes::{self, Prefix, PrefixRef, PrefixStatus};
use super::{constraint_of, db_enum, parse_address, Cidr};
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
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
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
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
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

/// 2^bits as a decimal string (bits ≤ 128: an IPv6 /0 holds 2^128 addresses).
fn pow2(bits: u32) -> String {
    if bits >= 128 {
        "340282366920938463463374607431768211456".to_owned()
    } else {
        (1u128 << bits).to_string()
    }
}

/// The free spans of a prefix: first and last address, inclusive, ascending.
struct FreeSpans {
    /// 32 or 128.
    width: u32,
    spans: Vec<(u128, u128)>,
}

impl FreeSpans {
    /// Each span cut into maximal aligned blocks, in address order: the smallest set of
    /// CIDR blocks covering it (what `available_ranges()` returns in SQL). Calls `f` with
    /// each block's first address and its size as a power of two.
    fn blocks(&self, mut f: impl FnMut(u128, u32)) {
        for &(first, last) in &self.spans {
            let mut x = first;
            loop {
                let align = if x == 0 { 128 } else { x.trailing_zeros() };
                // The largest power of two not above last - x + 1 (2^128 when that overflows).
                let room = match (last - x).checked_add(1) {
                    Some(n) => 127 - n.leading_zeros(),
                    None => 128,
                };
                let bits = align.min(room).min(self.width);
                f(x, bits);
                match x.checked_add(1u128 << bits.min(127)).filter(|_| bits < 128) {
                    Some(next) if next <= last && next > x => x = next,
                    _ => break,
                }
            }
        }
    }

    fn block_text(&self, start: u128, bits: u32) -> String {
        let len = self.width - bits;
        if self.width == 32 {
            // Dotted quad by hand: 100k blocks are formatted per listing of a /8.
            let mut out = String::with_capacity(18);
            for (i, octet) in (start as u32).to_be_bytes().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_decimal(&mut out, u32::from(octet));
            }
            out.push('/');
            push_decimal(&mut out, len);
            out
        } else {
            format!("{}/{len}", std::net::Ipv6Addr::from(start))
        }
    }
}

fn push_decimal(out: &mut String, n: u32) {
    if n >= 10 {
        push_decimal(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

fn address_bits(a: std::net::IpAddr) -> u128 {
    match a {
        std::net::IpAddr::V4(v4) => u128::from(u32::from(v4)),
        std::net::IpAddr::V6(v6) => u128::from(v6),
    }
}

/// What a prefix's free space is computed from: everything inside it that takes space, as
/// read in one statement: `{TAKEN_COLUMNS} FROM … p {TAKEN_LATERALS} WHERE …`, the prefix
/// `p` chosen by id or by routing domain and CIDR.
///
/// When offsets from the prefix's first address fit in int8 (IPv4; IPv6 /66 and longer), the
/// children come as two arrays (offset, length) from one index-only scan of the
/// (routing_domain_id, cidr) btree, the planned assignments inside as (first, last) offsets,
/// whether a planned block covers it all, and whether it holds any live observation (one
/// probe). Larger IPv6 prefixes read none of that (the one-time `small` filter) and go
/// through `ipam_free_spans_large`.
const TAKEN_COLUMNS: &str = r#"
SELECT p.id, p.cidr, p.routing_domain_id, x.small, k.starts, k.lens, a.firsts, a.lasts,
       EXISTS (SELECT 1 FROM ip_assignments c WHERE c.routing_domain_id = p.routing_domain_id AND c.address >> p.cidr)
           AS covered,
       x.small AND EXISTS (SELECT 1 FROM ip_observations o
                           WHERE o.routing_domain_id = p.routing_domain_id AND o.gone_at IS NULL
                             AND o.address >= p.cidr::inet AND o.address <= ipam_last_address(p.cidr)) AS observed
"#;

/// A [`TAKEN_COLUMNS`] row.
#[derive(sqlx::FromRow)]
struct TakenRow {
    id: Uuid,
    cidr: sqlx::types::ipnetwork::IpNetwork,
    routing_domain_id: Uuid,
    small: bool,
    starts: Option<Vec<i64>>,
    lens: Option<Vec<i32>>,
    firsts: Option<Vec<i64>>,
    lasts: Option<Vec<i64>>,
    covered: bool,
    observed: bool,
}

/// See [`TAKEN_COLUMNS`].
const TAKEN_LATERALS: &str = r#"
CROSS JOIN LATERAL (SELECT family(p.cidr) = 4 OR masklen(p.cidr) >= 66 AS small,
                           CASE family(p.cidr) WHEN 4 THEN 32 ELSE 128 END AS w) x
CROSS JOIN LATERAL (
    SELECT array_agg(c.cidr - p.cidr) AS starts, array_agg(masklen(c.cidr)) AS lens
    FROM prefixes c
    WHERE x.small AND c.routing_domain_id = p.routing_domain_id
      AND c.cidr > p.cidr AND c.cidr <= ipam_last_address(p.cidr)::cidr) k
CROSS JOIN LATERAL (
    SELECT array_agg(network(c.address) - p.cidr) AS firsts,
           array_agg(set_masklen(broadcast(c.address), x.w) - p.cidr) AS lasts
    FROM ip_assignments c
    WHERE x.small AND c.routing_domain_id = p.routing_domain_id
      AND c.address >= p.cidr::inet AND c.address <= ipam_last_address(p.cidr)) a
"#;

/// The free spans of prefix `id`.
async fn free_spans(db: &Database, id: Uuid) -> Result<FreeSpans> {
    let row: TakenRow = sqlx::query_as(&format!("{TAKEN_COLUMNS} FROM prefixes p {TAKEN_LATERALS} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found("that prefix no longer exists"))?;
    spans_from_row(db, row).await
}

/// The free spans of the prefix a [`TAKEN_COLUMNS`] row describes: the gaps between what
/// takes space, merged here, split at the observed addresses SQL finds in them.
async fn spans_from_row(db: &Database, row: TakenRow) -> Result<FreeSpans> {
    let TakenRow { id, cidr, routing_domain_id, small, starts, lens, firsts, lasts, covered, observed } = row;
    let width: u32 = if cidr.is_ipv4() { 32 } else { 128 };
    let base = address_bits(cidr.network());
    if !small {
        let rows: Vec<(sqlx::types::ipnetwork::IpNetwork, sqlx::types::ipnetwork::IpNetwork)> = sqlx::query_as(
            "SELECT s.first, s.last FROM prefixes p
             CROSS JOIN LATERAL ipam_free_spans_large(p.routing_domain_id, p.cidr) s WHERE p.id = $1
             ORDER BY s.first",
        )
        .bind(id)
        .fetch_all(db.pool())
        .await?;
        let spans = rows.into_iter().map(|(a, b)| (address_bits(a.ip()), address_bits(b.ip()))).collect();
        return Ok(FreeSpans { width, spans });
    }
    let bad = |what: &str| Error::internal(format!("free space of {cidr}: {what}"));
    let last: i64 = (1i64 << (width - u32::from(cidr.prefix()))) - 1;
    let starts: Vec<i64> = starts.unwrap_or_default();
    let lens: Vec<i32> = lens.unwrap_or_default();
    let firsts: Vec<i64> = firsts.unwrap_or_default();
    let lasts: Vec<i64> = lasts.unwrap_or_default();
    if starts.len() != lens.len() || firsts.len() != lasts.len() {
        return Err(bad("arrays of different lengths"));
    }
    let mut taken: Vec<(i64, i64)> = Vec::with_capacity(starts.len() + firsts.len() + 1);
    for (&s, &l) in starts.iter().zip(&lens) {
        let size = u32::try_from(width as i32 - l).ok().filter(|b| *b <= 62).ok_or_else(|| bad("a child's length"))?;
        taken.push((s, s + ((1i64 << size) - 1)));
    }
    taken.extend(firsts.iter().zip(&lasts).map(|(&a, &b)| (a.max(0), b.min(last))));
    if covered {
        taken.push((0, last));
    }
    let gaps = gaps_between(&mut taken, last);
    let observed: Vec<i64> = if observed && !gaps.is_empty() {
        let (ga, gb): (Vec<i64>, Vec<i64>) = gaps.iter().copied().unzip();
        sqlx::query_scalar("SELECT ipam_observed_in_gaps($1, $2::inet, $3, $4)")
            .bind(routing_domain_id)
            .bind(cidr.network().to_string())
            .bind(&ga)
            .bind(&gb)
            .fetch_one(db.pool())
            .await?
    } else {
        Vec::new()
    };
    let spans = split_at(&gaps, &observed)
        .into_iter()
        .map(|(a, b)| Ok((base + u128::try_from(a)?, base + u128::try_from(b)?)))
        .collect::<std::result::Result<Vec<_>, std::num::TryFromIntError>>()
        .map_err(|e| bad(&e.to_string()))?;
    Ok(FreeSpans { width, spans })
}

/// The gaps (inclusive, ascending) in 0..=`last` that no interval of `taken` covers.
/// Sorts `taken`; intervals may nest, overlap or repeat.
fn gaps_between(taken: &mut [(i64, i64)], last: i64) -> Vec<(i64, i64)> {
    taken.sort_unstable();
    let mut gaps = Vec::new();
    // The first offset not yet known to be taken; None once everything up to `last` is.
    let mut next = Some(0i64);
    for &(s, e) in taken.iter() {
        let Some(n) = next else { break };
        if s > n {
            gaps.push((n, s - 1));
        }
        if e >= n {
            next = if e >= last { None } else { Some(e + 1) };
        }
    }
    if let Some(n) = next {
        if n <= last {
            gaps.push((n, last));
        }
    }
    gaps
}

/// `gaps` (ascending, disjoint) without the offsets in `points` (ascending, each inside a gap).
fn split_at(gaps: &[(i64, i64)], points: &[i64]) -> Vec<(i64, i64)> {
    if points.is_empty() {
        return gaps.to_vec();
    }
    let mut out = Vec::with_capacity(gaps.len() + points.len());
    let mut p = points.iter().copied().peekable();
    for &(a, b) in gaps {
        let mut from = a;
        while let Some(x) = p.next_if(|&x| x <= b) {
            if x > from {
                out.push((from, x - 1));
            }
            from = from.max(x + 1);
        }
        if from <= b {
            out.push((from, b));
        }
    }
    out
}

/// The blocks of `spans` (only those holding a /`length`, when given, with how many fit),
/// at most `limit` of them, how many there are in all and the addresses they hold.
fn free_blocks_of(spans: &FreeSpans, length: Option<i32>, limit: Option<i64>) -> (Vec<FreeBlock>, i64, String) {
    let limit = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(0));
    let powers: Vec<String> = (0..=128).map(pow2).collect();
    let mut blocks = Vec::new();
    let (mut total, mut sum, mut whole) = (0i64, 0u128, false);
    spans.blocks(|start, bits| {
        let len = i32::try_from(spans.width - bits).unwrap_or(0);
        if length.is_some_and(|n| len > n) {
            return;
        }
        total += 1;
        if bits >= 128 {
            whole = true;
        } else {
            sum = sum.saturating_add(1u128 << bits);
        }
        if blocks.len() < limit {
            blocks.push(FreeBlock {
                cidr: spans.block_text(start, bits),
                addresses: powers[bits as usize].clone(),
                fits: length.map(|n| powers[usize::try_from(n - len).unwrap_or(0)].clone()),
            });
        }
    });
    // Free blocks are disjoint: only an entirely free IPv6 /0 holds 2^128.
    let free = if whole { pow2(128) } else { sum.to_string() };
    (blocks, total, free)
}

async fn free_blocks_with_total(
    db: &Database,
    id: Uuid,
    length: Option<i32>,
    limit: Option<i64>,
) -> Result<(Vec<FreeBlock>, i64, String)> {
    Ok(free_blocks_of(&free_spans(db, id).await?, length, limit))
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
    // One statement in the common case: the domain, the prefix and what takes space in it.
    let row: Option<TakenRow> = sqlx::query_as(&format!(
        "{TAKEN_COLUMNS} FROM routing_domains d JOIN prefixes p ON p.routing_domain_id = d.id AND p.cidr = $2::cidr
         {TAKEN_LATERALS} WHERE d.name = $1"
    ))
    .bind(domain.map(str::trim).filter(|d| !d.is_empty()).unwrap_or(super::DEFAULT_DOMAIN))
    .bind(cidr.to_string())
    .fetch_optional(db.pool())
    .await?;
    let spans = match row {
        Some(row) => spans_from_row(db, row).await?,
        // Say which of the two is missing.
        None => free_spans(db, prefixes::find(db, domain, cidr).await?).await?,
    };
    let (blocks, blocks_total, free_addresses) = free_blocks_of(&spans, length.map(i32::from), limit);
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

pub(crate) async fn assignment(db: &Database, id: Uuid) -> Result<Assignment> {
    Ok(sqlx::query_as(&format!("{ASSIGNMENT_SELECT} WHERE a.id = $1")).bind(id).fetch_one(db.pool()).await?)
}

/// Assignments inside prefix `id` (children's included), in address order.
pub(crate) async fn assignments_in(db: &Database, id: Uuid, limit: i64) -> Result<(Vec<Assignment>, i64)> {
    let rows: Vec<Assignment> = sqlx::query_as(&format!(
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
    Ok((rows, total))
}

/// Addresses seen in use inside prefix `id`, in address order, with every live report.
/// The prefix's bounds are computed once (`q` is materialized): `ipam_last_address` sets
/// a search path, so PostgreSQL calls it per row where it is not (25 ms per page at 10k).
/// The window is the live reports up to the `limit`th address, one range scan: joining
/// each address back to its reports looked each up in the GiST index (80 ms for a /22 at
/// 100k VMs; this is 12).
pub(crate) async fn observed_in(db: &Database, id: Uuid, limit: i64) -> Result<(Vec<ObservedAddress>, i64)> {
    let rows: Vec<Observation> = sqlx::query_as(
        r#"
        WITH q AS MATERIALIZED (SELECT routing_domain_id AS rd, cidr::inet AS lo, ipam_last_address(cidr) AS hi
                                FROM prefixes WHERE id = $1),
        cut AS MATERIALIZED (
            SELECT max(a.address) AS hi FROM (
                SELECT DISTINCT o.address FROM ip_observations o, q
                WHERE o.routing_domain_id = q.rd AND o.gone_at IS NULL AND o.address >= q.lo AND o.address <= q.hi
                ORDER BY o.address LIMIT $2
            ) a
        )
        SELECT host(o.address) AS address, o.source, o.mac_address::text AS mac_address, o.entity_type,
               o.entity_id,
               -- entity_label() for the kinds seen in use, joined: called per row it was
               -- half of the statement (bench_pages, a /22 at 10k VMs).
               CASE o.entity_type WHEN 'virtual_machine' THEN vm.name WHEN 'esxi_host' THEN eh.name
                    WHEN 'physical_server' THEN coalesce(ps.hostname, ps.service_tag, ps.id::text)
                    ELSE entity_label(o.entity_type, o.entity_id) END AS entity_name,
               o.hostname, o.confidence, o.last_seen
        FROM q CROSS JOIN cut JOIN ip_observations o
          ON o.routing_domain_id = q.rd AND o.gone_at IS NULL AND o.address >= q.lo AND o.address <= cut.hi
        LEFT JOIN virtual_machines vm ON o.entity_type = 'virtual_machine' AND vm.id = o.entity_id
        LEFT JOIN esxi_hosts eh ON o.entity_type = 'esxi_host' AND eh.id = o.entity_id
        LEFT JOIN physical_servers ps ON o.entity_type = 'physical_server' AND ps.id = o.entity_id
        ORDER BY o.address, o.source, o.entity_id
        "#,
    )
    .bind(id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let total: i64 = sqlx::query_scalar(
        "WITH q AS MATERIALIZED (SELECT routing_domain_id AS rd, cidr::inet AS lo, ipam_last_address(cidr) AS hi
                                 FROM prefixes WHERE id = $1)
         SELECT count(DISTINCT o.address) FROM q
         JOIN ip_observations o ON o.routing_domain_id = q.rd AND o.gone_at IS NULL
                               AND o.address >= q.lo AND o.address <= q.hi",
    )
    .bind(id)
    .fetch_one(db.pool())
    .await?;
    let mut out: Vec<ObservedAddress> = Vec::new();
    for obs in rows {
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
/// for IPv6, listed here and passed as an array): exact lookups, independent of how many
/// prefixes overlap elsewhere.
pub async fn lookup(db: &Database, domain: Option<&str>, address: &str) -> Result<AddressInfo> {
    let addr = parse_address(address)?;
    let domain_name = domain.map(str::trim).filter(|d| !d.is_empty()).unwrap_or(super::DEFAULT_DOMAIN).to_owned();
    // One statement (one round trip): no row when the routing domain doesn't exist. Every
    // probe is a btree probe: the domain's id is an InitPlan (`SELECT id FROM d`) and the
    // addresses are arrays (`= ANY (…)`), which the GiST indexes can't take; the planner
    // otherwise picks observations' GiST (0.5-1 ms a probe on 1M addresses, against 0.05 ms
    // in the btree). The supernets are a parameter, not computed in SQL, so the cached
    // generic plan costs no more than a custom one and is used: a statement whose row
    // estimates depend on its parameters' values is planned again on every execution
    // (0.3-0.5 ms, as long as the probes themselves).
    let supernets: Vec<String> = Cidr::host(addr).supernets().map(|c| c.to_string()).collect();
    let json: Option<serde_json::Value> = sqlx::query_scalar(
        r#"
        WITH d AS (SELECT id FROM routing_domains WHERE name = $2)
        SELECT jsonb_build_object(
            'prefixes', (
                SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'cidr', p.cidr::text, 'status', p.status,
                                                             'site', s.code, 'vlan_id', p.vlan_id)
                                          ORDER BY masklen(p.cidr) DESC), '[]')
                FROM prefixes p LEFT JOIN sites s ON s.id = p.site_id
                WHERE p.routing_domain_id = (SELECT id FROM d) AND p.cidr = ANY ($3::cidr[])),
            'assignments', (
                SELECT coalesce(jsonb_agg(jsonb_build_object(
                           'id', a.id, 'routing_domain', $2::text, 'address', abbrev(a.address),
                           'prefix', p.cidr::text, 'status', a.status, 'hostname', a.hostname,
                           'mac_address', a.mac_address::text, 'description', a.description,
                           'created_by', u.email, 'created_at', a.created_at)
                       ORDER BY masklen(a.address) DESC), '[]')
                FROM ip_assignments a
                LEFT JOIN prefixes p ON p.id = a.prefix_id
                LEFT JOIN users u ON u.id = a.created_by
                WHERE a.routing_domain_id = (SELECT id FROM d) AND a.address = ANY ($3::inet[])),
            'observations', (
                SELECT coalesce(jsonb_agg(jsonb_build_object(
                           'source', o.source, 'mac_address', o.mac_address::text, 'entity_type', o.entity_type,
                           'entity_id', o.entity_id, 'hostname', o.hostname, 'confidence', o.confidence,
                           'last_seen', o.last_seen, 'gone_at', o.gone_at)
                       ORDER BY o.gone_at IS NOT NULL, o.source, o.entity_id), '[]')
                FROM ip_observations o
                WHERE o.routing_domain_id = (SELECT id FROM d) AND o.address = ANY (ARRAY(SELECT $1::inet))))
        FROM d
        "#,
    )
    .bind(Cidr::host(addr).to_string())
    .bind(&domain_name)
    .bind(&supernets)
    .fetch_optional(db.pool())
    .await?;
    let json = json.ok_or_else(|| Error::not_found(format!("no routing domain named \"{domain_name}\"")))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(width: u32, spans: &[(u128, u128)], length: Option<i32>) -> (Vec<String>, i64, String) {
        let (blocks, total, free) = free_blocks_of(&FreeSpans { width, spans: spans.to_vec() }, length, None);
        (blocks.into_iter().map(|b| b.cidr).collect(), total, free)
    }

    #[test]
    fn gaps_are_what_nested_and_overlapping_intervals_leave() {
        // Nested (a /26 inside a /25), overlapping plans, a repeat, unsorted.
        let mut taken = vec![(128, 191), (64, 127), (100, 100), (0, 9), (5, 12), (64, 127)];
        assert_eq!(gaps_between(&mut taken, 255), [(13, 63), (192, 255)]);
        assert_eq!(gaps_between(&mut [], 255), [(0, 255)]);
        assert_eq!(gaps_between(&mut [(0, 255)], 255), []);
        assert_eq!(gaps_between(&mut [(1, 254)], 255), [(0, 0), (255, 255)]);
        assert_eq!(gaps_between(&mut [(0, 0), (0, 255), (7, 7)], 255), []);
        // Observed offsets split the gaps; one at a gap's edge only trims it.
        let gaps = [(13, 63), (192, 255)];
        assert_eq!(split_at(&gaps, &[]), gaps);
        assert_eq!(split_at(&gaps, &[13, 40, 41, 255]), [(14, 39), (42, 63), (192, 254)]);
        assert_eq!(split_at(&[(5, 5)], &[5]), []);
    }

    #[test]
    fn spans_are_cut_into_maximal_aligned_blocks() {
        let v4 = |s: &str| u128::from(u32::from(s.parse::<std::net::Ipv4Addr>().unwrap()));
        // 10.0.0.1 .. 10.0.0.14: /32, /31, /30, /29 up, then /30, /31, /32 down.
        let (b, total, free) = cut(32, &[(v4("10.0.0.1"), v4("10.0.0.14"))], None);
        assert_eq!(b, ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/30", "10.0.0.8/30", "10.0.0.12/31", "10.0.0.14/32"]);
        assert_eq!((total, free.as_str()), (6, "14"));
        // Only blocks holding a /31, and how many fit.
        let (blocks, total, _) =
            free_blocks_of(&FreeSpans { width: 32, spans: vec![(v4("10.0.0.1"), v4("10.0.0.14"))] }, Some(31), Some(2));
        assert_eq!(
            blocks.iter().map(|b| (b.cidr.as_str(), b.fits.as_deref())).collect::<Vec<_>>(),
            [("10.0.0.2/31", Some("1")), ("10.0.0.4/30", Some("2"))]
        );
        assert_eq!(total, 4);
        // Whole address spaces, and single addresses at their ends.
        assert_eq!(cut(32, &[(0, u128::from(u32::MAX))], None), (vec!["0.0.0.0/0".into()], 1, "4294967296".into()));
        assert_eq!(
            cut(128, &[(0, u128::MAX)], None),
            (vec!["::/0".into()], 1, "340282366920938463463374607431768211456".into())
        );
        assert_eq!(cut(128, &[(u128::MAX, u128::MAX)], None).0, ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"]);
        assert_eq!(cut(128, &[(1, u128::MAX)], None).0.len(), 128);
        assert_eq!(cut(32, &[(v4("255.255.255.254"), u128::from(u32::MAX))], None).0, ["255.255.255.254/31"]);
        assert_eq!(cut(32, &[], None), (vec![], 0, "0".into()));
    }
}
