//! The IPAM domain's operations (registered in `api.rs`): the IPAM page model (the prefix
//! tree of each routing domain with utilization planned and observed side by side, and the
//! open findings), routing domains, one prefix's page, adding, editing and removing
//! prefixes, free space, allocation (next free or a chosen address), editing and releasing
//! addresses, "who uses this IP", acknowledging and running findings, and sites. (The
//! search box is `crate::search::ops`.)
//!
//! Inputs arrive as JSON (GET ones from a query string: flat scalars only), so blocks and
//! lengths are checked here into the service layer's types with clear messages; the
//! services do the work. Nothing here writes SQL that decides a rule.
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::assignments::{self, AssignmentChanges};
use super::findings::{self, Finding, FindingFilter, FindingRun};
use super::prefixes::PrefixChanges;
use super::prefixes::{self, NewPrefix, Prefix, PrefixPage, PrefixStatus, RoutingDomain};
use super::space::{
    self, AddressInfo, Assignment, AssignmentStatus, AvailableRanges, IpRequest, ObservationSource, PrefixRequest,
};
use super::{domain_id, Cidr};
use crate::api::{NoInput, Session};
use crate::error::{Error, Result};
use crate::sites::EntityKind;
// The search operation's input lives beside it (`crate::search::ops`); this path stays for
// the command line.
pub use crate::search::ops::SearchInput;

/// Prefixes one IPAM page shows at most; the totals say how many there are.
pub const PAGE_PREFIXES: i64 = 2000;
/// Open findings one IPAM page shows at most.
pub const PAGE_FINDINGS: i64 = 500;
/// Reports of addresses in use at a site one IPAM page shows at most.
pub const PAGE_OBSERVED: i64 = 500;

/// Which part of the address plan the IPAM page shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct IpamPageQuery {
    /// Only this routing domain (default: every domain).
    #[serde(default)]
    pub domain: Option<String>,
    /// Only prefixes inside this block, e.g. 10.0.0.0/8.
    #[serde(default)]
    pub within: Option<String>,
    /// Only this site (its code, as the inventory's site filter): the prefixes at it (by
    /// their own site, or, having none, because an address seen in them is at it) and the
    /// addresses seen in use at it, where site inference placed what carries them (a pin
    /// wins).
    #[serde(default)]
    pub site: Option<String>,
}

/// An address seen in use at a site, and what carries it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct SiteObservation {
    pub routing_domain: String,
    pub address: String,
    pub source: ObservationSource,
    pub mac_address: Option<String>,
    /// What carries it: a VM, an ESXi host, an iDRAC.
    pub entity_type: EntityKind,
    #[ts(type = "string")]
    pub entity_id: Uuid,
    /// What the carrier is called.
    pub entity_name: Option<String>,
    pub hostname: Option<String>,
    #[ts(type = "string")]
    pub last_seen: chrono::DateTime<chrono::Utc>,
}

/// One routing domain and its prefixes in tree order (parents first; `depth` says how
/// far to indent, `parent_id` which row holds it).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct DomainTree {
    pub domain: RoutingDomain,
    pub prefixes: Vec<Prefix>,
}

/// The IPAM page: the prefix tree per routing domain with utilization planned and
/// observed, and the open findings.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct IpamPage {
    /// Every routing domain the query selects, the default first, each with its prefixes.
    pub trees: Vec<DomainTree>,
    /// Prefixes the query selects; the trees stop at [`PAGE_PREFIXES`].
    pub prefixes_total: i64,
    /// Open findings, most severe first (at most [`PAGE_FINDINGS`]).
    pub findings: Vec<Finding>,
    /// Open findings per type, all of them.
    pub findings_by_type: BTreeMap<String, i64>,
    /// Site codes, for placing a prefix.
    pub sites: Vec<String>,
    /// The last findings run, if any.
    pub last_findings_run: Option<FindingRunSummary>,
    /// With a site: the addresses seen in use at it, by routing domain and address (at most
    /// [`PAGE_OBSERVED`] reports); without one, empty.
    pub observed: Vec<SiteObservation>,
    /// With a site: how many reports of addresses in use at it the query selects.
    pub observed_total: i64,
}

/// When the findings engine last ran and what it did.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct FindingRunSummary {
    #[ts(type = "string")]
    pub finished_at: chrono::DateTime<chrono::Utc>,
    pub duration_ms: i64,
    pub run_by: String,
    pub opened: i32,
    pub resolved: i32,
}

fn parse_cidr(what: &str, s: &str) -> Result<Cidr> {
    s.parse::<Cidr>().map_err(|e| Error::invalid(format!("{what}: {}", e.message)))
}

fn parse_length(n: Option<i32>) -> Result<Option<u8>> {
    n.map(|n| {
        u8::try_from(n).ok().filter(|n| *n <= 128).ok_or_else(|| Error::invalid(format!("/{n} is not a prefix length")))
    })
    .transpose()
}

fn domain_name(d: &Option<String>) -> Option<&str> {
    d.as_deref().map(str::trim).filter(|d| !d.is_empty())
}

pub async fn ipam_page(s: &Session, q: IpamPageQuery) -> Result<IpamPage> {
    let db = &s.db;
    let domain = match domain_name(&q.domain) {
        Some(name) => Some(domain_id(db, Some(name)).await?),
        None => None,
    };
    let within = q.within.as_deref().map(str::trim).filter(|w| !w.is_empty()).map(|w| parse_cidr("within", w));
    let within = within.transpose()?.map(|c| c.to_string());
    let site = site_of(db, q.site.as_deref()).await?;
    // The parts are independent reads: each on a connection of its own, at once.
    let prefix_window = async {
        // A prefix is at its own site; one without a site is at every site an address seen
        // in it is at (`observed_at_site!`, the same rule as the IPAM reports).
        let rows: Vec<(Uuid, i64)> = sqlx::query_as(concat!(
            "WITH at_site AS MATERIALIZED (",
            super::observed_at_site!("$4"),
            "),
             held AS (SELECT DISTINCT p.id FROM at_site a
                      JOIN prefixes p ON p.routing_domain_id = a.routing_domain_id AND p.cidr >>= a.address
                      WHERE p.site_id IS NULL)
             SELECT id, count(*) OVER () AS total FROM prefixes
             WHERE ($1::uuid IS NULL OR routing_domain_id = $1) AND ($2::cidr IS NULL OR cidr <<= $2::cidr)
               AND ($4::uuid IS NULL OR site_id = $4 OR id IN (SELECT id FROM held))
             ORDER BY routing_domain_id, cidr LIMIT $3"
        ))
        .bind(domain)
        .bind(&within)
        .bind(PAGE_PREFIXES)
        .bind(site)
        .fetch_all(db.pool())
        .await?;
        let prefixes_total = rows.first().map_or(0, |&(_, total)| total);
        let ids: Vec<Uuid> = rows.into_iter().map(|(id, _)| id).collect();
        Ok::<_, Error>((prefixes::load(db, &ids).await?, prefixes_total))
    };
    let sites = async {
        Ok::<Vec<String>, Error>(sqlx::query_scalar("SELECT code FROM sites ORDER BY code").fetch_all(db.pool()).await?)
    };
    let last_findings_run = async {
        Ok::<_, Error>(
            sqlx::query_as::<_, FindingRunSummary>(
                "SELECT finished_at, duration_ms, run_by::text AS run_by, opened, resolved FROM finding_runs
             ORDER BY finished_at DESC LIMIT 1",
            )
            .fetch_optional(db.pool())
            .await?,
        )
    };
    let observed = async {
        match site {
            Some(site) => observed_at(db, site, domain, within.as_deref()).await,
            None => Ok((Vec::new(), 0)),
        }
    };
    let filter = FindingFilter { include_resolved: false, types: Vec::new(), limit: Some(PAGE_FINDINGS), site };
    let (
        (loaded, prefixes_total),
        domains,
        findings,
        findings_by_type,
        sites,
        last_findings_run,
        (observed, observed_total),
    ) = tokio::try_join!(
        prefix_window,
        prefixes::domains(db),
        findings::list(db, &filter),
        findings::open_by_type(db, site),
        sites,
        last_findings_run,
        observed,
    )?;
    let mut by_domain: BTreeMap<String, Vec<Prefix>> = BTreeMap::new();
    for p in loaded {
        by_domain.entry(p.routing_domain.clone()).or_default().push(p);
    }
    let trees = domains
        .into_iter()
        .filter(|d| domain.is_none_or(|id| id == d.id))
        .map(|d| DomainTree { prefixes: by_domain.remove(&d.name).unwrap_or_default(), domain: d })
        .collect();
    Ok(IpamPage {
        trees,
        prefixes_total,
        findings,
        findings_by_type,
        sites,
        last_findings_run,
        observed,
        observed_total,
    })
}

/// The reports of addresses in use at `site` (in `domain`, `within` a block), the first
/// [`PAGE_OBSERVED`] by routing domain and address, and how many there are.
async fn observed_at(
    db: &crate::Database,
    site: Uuid,
    domain: Option<Uuid>,
    within: Option<&str>,
) -> Result<(Vec<SiteObservation>, i64)> {
    const AT: &str = concat!(
        "WITH at_site AS (",
        super::observed_at_site!("$1"),
        ") SELECT o.id FROM at_site a JOIN ip_observations o ON o.id = a.id
         WHERE ($2::uuid IS NULL OR o.routing_domain_id = $2) AND ($3::cidr IS NULL OR o.address <<= $3::cidr)"
    );
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM ({AT}) x"))
        .bind(site)
        .bind(domain)
        .bind(within)
        .fetch_one(db.pool())
        .await?;
    let rows: Vec<SiteObservation> = sqlx::query_as(&format!(
        "SELECT d.name AS routing_domain, host(o.address) AS address, o.source, o.mac_address::text AS mac_address,
                o.entity_type, o.entity_id, entity_label(o.entity_type, o.entity_id) AS entity_name, o.hostname,
                o.last_seen
         FROM ({AT}) x JOIN ip_observations o ON o.id = x.id JOIN routing_domains d ON d.id = o.routing_domain_id
         ORDER BY d.name, o.address, o.source, o.entity_id LIMIT $4"
    ))
    .bind(site)
    .bind(domain)
    .bind(within)
    .bind(PAGE_OBSERVED)
    .fetch_all(db.pool())
    .await?;
    Ok((rows, total))
}

/// One prefix of a routing domain.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct PrefixInput {
    /// Routing domain (default: default).
    #[serde(default)]
    pub domain: Option<String>,
    /// The prefix, e.g. 10.0.0.0/24.
    pub cidr: String,
}

pub async fn ipam_prefix(s: &Session, i: PrefixInput) -> Result<PrefixPage> {
    prefixes::page(&s.db, domain_name(&i.domain), &parse_cidr("cidr", &i.cidr)?).await
}

/// The free space of a prefix.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct AvailableInput {
    #[serde(default)]
    pub domain: Option<String>,
    /// The prefix, e.g. 10.0.0.0/24.
    pub prefix: String,
    /// Only blocks that hold a /length, and how many fit.
    #[serde(default)]
    pub length: Option<i32>,
    /// At most this many blocks.
    #[serde(default)]
    pub limit: Option<i64>,
}

pub async fn ipam_available(s: &Session, i: AvailableInput) -> Result<AvailableRanges> {
    let limit = i.limit.map(|l| l.clamp(1, 100_000));
    space::available(&s.db, domain_name(&i.domain), &parse_cidr("prefix", &i.prefix)?, parse_length(i.length)?, limit)
        .await
}

/// Plan the next free address of a prefix, or (with `length`) create its next free /length.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct AllocateInput {
    #[serde(default)]
    pub domain: Option<String>,
    /// The prefix to allocate from.
    pub prefix: String,
    /// A child prefix of this length instead of one address.
    #[serde(default)]
    pub length: Option<i32>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub mac_address: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Hold the address back instead of planning it for use.
    #[serde(default)]
    pub reserve: bool,
    /// The new child prefix's VLAN.
    #[serde(default)]
    pub vlan_id: Option<i32>,
}

/// What an allocation made: an address or a child prefix.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Allocation {
    pub assignment: Option<Assignment>,
    pub prefix: Option<Prefix>,
}

pub async fn ipam_allocate(s: &Session, i: AllocateInput) -> Result<Allocation> {
    let prefix = parse_cidr("prefix", &i.prefix)?;
    let domain = domain_name(&i.domain);
    match parse_length(i.length)? {
        Some(n) => {
            let req = PrefixRequest { status: None, description: i.description, vlan_id: i.vlan_id };
            let p = space::allocate_prefix(&s.db, domain, &prefix, n, &req).await?;
            Ok(Allocation { assignment: None, prefix: Some(p) })
        }
        None => {
            let req = IpRequest {
                hostname: i.hostname,
                description: i.description,
                mac_address: i.mac_address,
                status: Some(if i.reserve { AssignmentStatus::Reserved } else { AssignmentStatus::Planned }),
            };
            let a = space::allocate_ip(&s.db, domain, &prefix, &req).await?;
            Ok(Allocation { assignment: Some(a), prefix: None })
        }
    }
}

/// A new prefix.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct PrefixAddInput {
    #[serde(default)]
    pub domain: Option<String>,
    pub cidr: String,
    /// Site code.
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub vlan_id: Option<i32>,
    #[serde(default)]
    pub status: Option<PrefixStatus>,
    #[serde(default)]
    pub description: Option<String>,
    /// Utilization above this fraction raises a finding (default 0.9).
    #[serde(default)]
    pub utilization_threshold: Option<f32>,
}

pub async fn ipam_prefix_add(s: &Session, i: PrefixAddInput) -> Result<Prefix> {
    prefixes::add(
        &s.db,
        &NewPrefix {
            domain: domain_name(&i.domain).map(str::to_owned),
            cidr: parse_cidr("cidr", &i.cidr)?,
            site: i.site.filter(|s| !s.trim().is_empty()),
            vlan_id: i.vlan_id,
            status: i.status.unwrap_or(PrefixStatus::Active),
            description: i.description,
            utilization_threshold: i.utilization_threshold,
        },
    )
    .await
}

/// Acknowledge a finding, saying why.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct AcknowledgeInput {
    #[ts(type = "string")]
    pub id: Uuid,
    pub note: String,
}

pub async fn finding_acknowledge(s: &Session, i: AcknowledgeInput) -> Result<Finding> {
    findings::acknowledge(&s.db, i.id, &i.note).await
}

pub async fn findings_run(s: &Session, _: NoInput) -> Result<FindingRun> {
    findings::run(&s.db, None).await
}

pub async fn ipam_domains(s: &Session, _: NoInput) -> Result<Vec<RoutingDomain>> {
    prefixes::domains(&s.db).await
}

/// A new routing domain (VRF): the same prefix may exist once in each.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct DomainAddInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

pub async fn ipam_domain_add(s: &Session, i: DomainAddInput) -> Result<RoutingDomain> {
    prefixes::add_domain(&s.db, i.name.trim(), i.description.as_deref().map(str::trim).filter(|d| !d.is_empty())).await
}

/// Changes to a prefix; a field left out stays as it is.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct PrefixUpdateInput {
    #[serde(default)]
    pub domain: Option<String>,
    pub cidr: String,
    #[serde(default)]
    pub status: Option<PrefixStatus>,
    /// A site code; "" takes the site away.
    #[serde(default)]
    pub site: Option<String>,
    /// A VLAN id; 0 takes the VLAN away.
    #[serde(default)]
    pub vlan_id: Option<i32>,
    /// "" clears it.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub utilization_threshold: Option<f32>,
}

pub async fn ipam_prefix_update(s: &Session, i: PrefixUpdateInput) -> Result<Prefix> {
    let changes = PrefixChanges {
        status: i.status,
        site: i.site.map(|v| Some(v).filter(|v| !v.trim().is_empty())),
        vlan_id: i.vlan_id.map(|v| Some(v).filter(|v| *v != 0)),
        description: i.description.map(|d| Some(d).filter(|d| !d.trim().is_empty())),
        utilization_threshold: i.utilization_threshold,
    };
    prefixes::update(&s.db, domain_name(&i.domain), &parse_cidr("cidr", &i.cidr)?, &changes).await
}

/// What a removal did, in one sentence.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Removed {
    pub message: String,
}

pub async fn ipam_prefix_remove(s: &Session, i: PrefixInput) -> Result<Removed> {
    let cidr = parse_cidr("cidr", &i.cidr)?;
    prefixes::remove(&s.db, domain_name(&i.domain), &cidr).await?;
    Ok(Removed {
        message: format!("Removed prefix {cidr}; its child prefixes and addresses now belong to the prefix above it."),
    })
}

/// One address of a routing domain.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct AddressInput {
    #[serde(default)]
    pub domain: Option<String>,
    pub address: String,
}

pub async fn ipam_lookup(s: &Session, i: AddressInput) -> Result<AddressInfo> {
    space::lookup(&s.db, domain_name(&i.domain), &i.address).await
}

/// Plan exactly this address (not the next free one).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct AssignInput {
    #[serde(default)]
    pub domain: Option<String>,
    pub address: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub mac_address: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Hold the address back instead of planning it for use.
    #[serde(default)]
    pub reserve: bool,
}

pub async fn ipam_assign(s: &Session, i: AssignInput) -> Result<Assignment> {
    assignments::assign(
        &s.db,
        domain_name(&i.domain),
        &i.address,
        i.hostname.as_deref(),
        i.mac_address.as_deref(),
        i.description.as_deref(),
        if i.reserve { AssignmentStatus::Reserved } else { AssignmentStatus::Planned },
    )
    .await
}

/// Changes to a planned address; a field left out stays, "" clears it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct AssignmentUpdateInput {
    #[serde(default)]
    pub domain: Option<String>,
    pub address: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub mac_address: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<AssignmentStatus>,
}

pub async fn ipam_assignment_update(s: &Session, i: AssignmentUpdateInput) -> Result<Assignment> {
    let changes = AssignmentChanges {
        hostname: i.hostname,
        mac_address: i.mac_address,
        description: i.description,
        status: i.status,
    };
    assignments::update(&s.db, domain_name(&i.domain), &i.address, &changes).await
}

pub async fn ipam_release(s: &Session, i: AddressInput) -> Result<Assignment> {
    assignments::release(&s.db, domain_name(&i.domain), &i.address).await
}

/// Which prefixes a listing shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct PrefixListInput {
    /// Only this routing domain (default: every one).
    #[serde(default)]
    pub domain: Option<String>,
    /// Only prefixes inside this block (itself included).
    #[serde(default)]
    pub within: Option<String>,
}

pub async fn ipam_prefixes(s: &Session, i: PrefixListInput) -> Result<Vec<Prefix>> {
    let within =
        i.within.as_deref().map(str::trim).filter(|w| !w.is_empty()).map(|w| parse_cidr("within", w)).transpose()?;
    prefixes::list(&s.db, &prefixes::PrefixFilter { domain: domain_name(&i.domain).map(str::to_owned), within }).await
}

/// Which findings a listing shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct FindingsInput {
    /// Resolved ones too.
    #[serde(default)]
    pub include_resolved: bool,
    /// Only these types, comma-separated (duplicate_usage,seen_not_planned); none: all.
    #[serde(default)]
    pub types: Option<String>,
    #[serde(default)]
    pub limit: Option<i64>,
    /// Only the findings at this site (its code): of its prefixes, and of addresses seen
    /// in use where inference placed what carries them.
    #[serde(default)]
    pub site: Option<String>,
}

pub async fn findings_list(s: &Session, i: FindingsInput) -> Result<Vec<Finding>> {
    let types = i
        .types
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::parse::<findings::FindingType>)
        .collect::<Result<Vec<_>>>()?;
    let site = site_of(&s.db, i.site.as_deref()).await?;
    findings::list(&s.db, &FindingFilter { include_resolved: i.include_resolved, types, limit: i.limit, site }).await
}

/// The site a filter names by its code (none when empty).
async fn site_of(db: &crate::Database, code: Option<&str>) -> Result<Option<Uuid>> {
    match code.map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => Ok(Some(prefixes::site_id(db, code).await?)),
        None => Ok(None),
    }
}
