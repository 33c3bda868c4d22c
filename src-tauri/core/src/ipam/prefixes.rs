//! Routing domains and prefixes: adding, changing and removing them, the hierarchy
//! (parent = the most specific other prefix of the same routing domain that contains it),
//! utilization from planned assignments and from observations side by side, and the
//! prefix page model (one call: the prefix, its ancestors and children, what is planned
//! and seen in it, its free space and its open findings).
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::findings::{self, Finding};
use super::space::{self, Assignment, FreeBlock, ObservedAddress};
use super::{constraint_of, db_enum, domain_id, Cidr};
use crate::error::{Error, Result};
use crate::Database;

db_enum! {
    /// What a prefix is for: in use, held back, or on its way out (nothing more is
    /// allocated from a deprecated prefix).
    pub enum PrefixStatus: "prefix_status", "prefix status" {
        Active = "active",
        Reserved = "reserved",
        Deprecated = "deprecated",
    }
}

/// A routing domain (a VRF): prefixes in different domains never mix.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct RoutingDomain {
    #[ts(type = "string")]
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// How many prefixes it holds.
    pub prefixes: i64,
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
}

/// How full a prefix is, from both sides. Address counts are decimal strings (an IPv6
/// prefix can hold 2^128); ratios are fractions of the usable addresses (of all
/// addresses for child coverage).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct Utilization {
    /// Every address of the prefix.
    pub addresses: String,
    /// Addresses a host can use: IPv4 without network and broadcast (except /31, /32),
    /// IPv6 without the Subnet-Router anycast address (except /127, /128).
    pub usable: String,
    /// Addresses in planned assignments (a planned block counts its size).
    pub planned: String,
    /// Distinct addresses the connectors see in use now.
    pub observed: i64,
    /// Direct child prefixes.
    pub child_prefixes: i64,
    /// Addresses those children take.
    pub child_addresses: String,
    pub planned_ratio: f64,
    pub observed_ratio: f64,
    pub child_ratio: f64,
    /// The largest of the three ratios: whichever says the prefix is fuller.
    pub utilization: f64,
}

/// A prefix where it sits in the hierarchy, with its utilization.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct Prefix {
    #[ts(type = "string")]
    pub id: Uuid,
    pub routing_domain: String,
    pub cidr: String,
    /// 4 or 6.
    pub family: i32,
    #[ts(type = "string | null")]
    pub parent_id: Option<Uuid>,
    pub parent: Option<String>,
    /// How many prefixes of its routing domain contain it.
    pub depth: i32,
    pub site: Option<String>,
    pub vlan_id: Option<i32>,
    pub status: PrefixStatus,
    pub description: Option<String>,
    pub utilization_threshold: f32,
    #[sqlx(flatten)]
    pub utilization: Utilization,
}

/// A prefix named in passing (ancestors).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct PrefixRef {
    #[ts(type = "string")]
    pub id: Uuid,
    pub cidr: String,
    pub status: PrefixStatus,
    pub site: Option<String>,
    pub vlan_id: Option<i32>,
}

/// What `eio ipam prefix add` asks for.
#[derive(Debug, Clone)]
pub struct NewPrefix {
    /// Routing domain name (None: the default domain).
    pub domain: Option<String>,
    pub cidr: Cidr,
    /// Site code.
    pub site: Option<String>,
    pub vlan_id: Option<i32>,
    pub status: PrefixStatus,
    pub description: Option<String>,
    /// Utilization above this fraction raises a finding (default 0.9).
    pub utilization_threshold: Option<f32>,
}

/// Changes to a prefix; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PrefixChanges {
    pub status: Option<PrefixStatus>,
    /// Some(None) clears the site.
    pub site: Option<Option<String>>,
    /// Some(None) clears the VLAN.
    pub vlan_id: Option<Option<i32>>,
    pub description: Option<Option<String>>,
    pub utilization_threshold: Option<f32>,
}

/// Which prefixes a listing shows.
#[derive(Debug, Clone, Default)]
pub struct PrefixFilter {
    /// Routing domain name (None: every domain).
    pub domain: Option<String>,
    /// Only prefixes inside this block (itself included).
    pub within: Option<Cidr>,
}

/// The prefix page: one call for everything the UI shows about one prefix. Long lists
/// stop at [`PAGE_LIMIT`] entries; the totals say how many there are.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct PrefixPage {
    pub prefix: Prefix,
    /// Outermost first.
    pub ancestors: Vec<PrefixRef>,
    /// Direct children in address order.
    pub children: Vec<Prefix>,
    pub children_total: i64,
    /// Planned assignments inside the prefix (children's included).
    pub assignments: Vec<Assignment>,
    pub assignments_total: i64,
    /// Addresses seen in use inside the prefix now.
    pub observed: Vec<ObservedAddress>,
    pub observed_total: i64,
    /// Free blocks in address order.
    pub free: Vec<FreeBlock>,
    pub free_total: i64,
    /// Open findings about the prefix or an address inside it.
    pub findings: Vec<Finding>,
}

/// Entries per list in a [`PrefixPage`].
pub const PAGE_LIMIT: i64 = 500;

pub async fn domains(db: &Database) -> Result<Vec<RoutingDomain>> {
    Ok(sqlx::query_as::<_, RoutingDomain>(
        "SELECT d.id, d.name, d.description, d.created_at,
                (SELECT count(*) FROM prefixes p WHERE p.routing_domain_id = d.id) AS prefixes
         FROM routing_domains d ORDER BY d.name = 'default' DESC, d.name",
    )
    .fetch_all(db.pool())
    .await?)
}

/// Add a routing domain (admins).
pub async fn add_domain(db: &Database, name: &str, description: Option<&str>) -> Result<RoutingDomain> {
    let name = name.trim();
    sqlx::query("INSERT INTO routing_domains (name, description) VALUES ($1, $2)")
        .bind(name)
        .bind(description)
        .execute(db.pool())
        .await
        .map_err(|e| match constraint_of(&e) {
            Some("routing_domains_name_key") => Error::conflict(format!("routing domain \"{name}\" already exists")),
            Some("routing_domains_name_format") => Error::invalid(format!(
                "\"{name}\" is not a valid routing domain name: letters, digits, '.', '_' and '-', up to 63"
            )),
            _ => Error::from(e),
        })?;
    domains(db)
        .await?
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| Error::internal("the routing domain just added is missing"))
}

const PREFIX_SELECT: &str = r#"
    SELECT t.id, d.name AS routing_domain, t.cidr::text AS cidr, family(t.cidr) AS family,
           t.parent_id, pp.cidr::text AS parent, t.depth, s.code AS site, t.vlan_id, t.status,
           t.description, t.utilization_threshold,
           u.addresses::text AS addresses, u.usable::text AS usable, u.planned::text AS planned,
           u.observed, u.child_prefixes, u.child_addresses::text AS child_addresses,
           u.planned_ratio, u.observed_ratio, u.child_ratio, u.utilization
    FROM prefix_tree t
    JOIN routing_domains d ON d.id = t.routing_domain_id
    LEFT JOIN prefixes pp ON pp.id = t.parent_id
    LEFT JOIN sites s ON s.id = t.site_id
    JOIN prefix_utilization($1::uuid[]) u ON u.prefix_id = t.id
    WHERE t.id = ANY ($1::uuid[])
    ORDER BY d.name = 'default' DESC, d.name, t.cidr
"#;

/// The prefixes with these ids, in tree order (domain, then address: parents first).
pub(crate) async fn load(db: &Database, ids: &[Uuid]) -> Result<Vec<Prefix>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(PREFIX_SELECT).bind(ids).fetch_all(db.pool()).await?)
}

/// Every prefix the filter selects, in tree order, with parent, depth and utilization.
pub async fn list(db: &Database, filter: &PrefixFilter) -> Result<Vec<Prefix>> {
    let domain = match &filter.domain {
        Some(name) => Some(domain_id(db, Some(name)).await?),
        None => None,
    };
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM prefixes
         WHERE ($1::uuid IS NULL OR routing_domain_id = $1) AND ($2::cidr IS NULL OR cidr <<= $2::cidr)",
    )
    .bind(domain)
    .bind(filter.within.map(|c| c.to_string()))
    .fetch_all(db.pool())
    .await?;
    load(db, &ids).await
}

/// The id of prefix `cidr` in routing domain `domain` (None: default).
pub async fn find(db: &Database, domain: Option<&str>, cidr: &Cidr) -> Result<Uuid> {
    let domain_id = domain_id(db, domain).await?;
    sqlx::query_scalar("SELECT id FROM prefixes WHERE routing_domain_id = $1 AND cidr = $2::cidr")
        .bind(domain_id)
        .bind(cidr.to_string())
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| {
            Error::not_found(format!(
                "no prefix {cidr} in routing domain \"{}\"",
                domain.unwrap_or(super::DEFAULT_DOMAIN)
            ))
        })
}

/// One prefix with its place in the tree and its utilization.
pub async fn get(db: &Database, domain: Option<&str>, cidr: &Cidr) -> Result<Prefix> {
    let id = find(db, domain, cidr).await?;
    get_by_id(db, id).await
}

pub async fn get_by_id(db: &Database, id: Uuid) -> Result<Prefix> {
    load(db, &[id]).await?.pop().ok_or_else(|| Error::not_found(format!("no prefix with id {id}")))
}

/// A site's id by its code.
pub(crate) async fn site_id(db: &Database, code: &str) -> Result<Uuid> {
    sqlx::query_scalar("SELECT id FROM sites WHERE code = upper($1)")
        .bind(code.trim())
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no site with code {}", code.trim().to_uppercase())))
}

fn check_vlan(vlan: Option<i32>) -> Result<()> {
    match vlan {
        Some(v) if !(1..=4094).contains(&v) => Err(Error::invalid(format!("VLAN {v} is out of range: 1 to 4094"))),
        _ => Ok(()),
    }
}

fn check_threshold(t: Option<f32>) -> Result<()> {
    match t {
        Some(t) if !(t > 0.0 && t <= 1.0) => {
            Err(Error::invalid(format!("a utilization threshold is a fraction above 0 and at most 1, not {t}")))
        }
        _ => Ok(()),
    }
}

fn map_prefix_error(e: sqlx::Error, cidr: &str, domain: &str) -> Error {
    match constraint_of(&e) {
        Some("prefixes_domain_cidr_key") => {
            Error::conflict(format!("prefix {cidr} already exists in routing domain \"{domain}\""))
        }
        Some("prefixes_vlan_id_range") => Error::invalid("a VLAN id is between 1 and 4094"),
        Some("prefixes_utilization_threshold_range") => {
            Error::invalid("a utilization threshold is a fraction above 0 and at most 1")
        }
        _ => Error::from(e),
    }
}

/// Add a prefix (operators). Its parent, if any, is locked while it is added, so an
/// allocation from the parent running at the same time sees it or finishes first.
pub async fn add(db: &Database, new: &NewPrefix) -> Result<Prefix> {
    check_vlan(new.vlan_id)?;
    check_threshold(new.utilization_threshold)?;
    let domain_name = new.domain.clone().unwrap_or_else(|| super::DEFAULT_DOMAIN.into());
    let domain = domain_id(db, Some(&domain_name)).await?;
    let site = match &new.site {
        Some(code) => Some(site_id(db, code).await?),
        None => None,
    };
    let cidr = new.cidr.to_string();
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "SELECT ipam_lock_prefix(p.id) FROM prefixes p
         WHERE p.routing_domain_id = $1 AND p.cidr >> $2::cidr ORDER BY masklen(p.cidr) DESC LIMIT 1",
    )
    .bind(domain)
    .bind(&cidr)
    .execute(&mut *tx)
    .await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO prefixes (routing_domain_id, cidr, site_id, vlan_id, status, description,
                               utilization_threshold, created_by)
         VALUES ($1, $2::cidr, $3, $4, $5, $6, coalesce($7, 0.9), current_app_user_id()) RETURNING id",
    )
    .bind(domain)
    .bind(&cidr)
    .bind(site)
    .bind(new.vlan_id)
    .bind(new.status)
    .bind(new.description.as_deref().map(str::trim).filter(|d| !d.is_empty()))
    .bind(new.utilization_threshold)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| map_prefix_error(e, &cidr, &domain_name))?;
    tx.commit().await?;
    get_by_id(db, id).await
}

/// Change a prefix's status, site, VLAN, description or threshold (operators).
pub async fn update(db: &Database, domain: Option<&str>, cidr: &Cidr, changes: &PrefixChanges) -> Result<Prefix> {
    check_threshold(changes.utilization_threshold)?;
    if let Some(v) = changes.vlan_id {
        check_vlan(v)?;
    }
    let id = find(db, domain, cidr).await?;
    let site = match &changes.site {
        Some(Some(code)) => Some(Some(site_id(db, code).await?)),
        Some(None) => Some(None),
        None => None,
    };
    sqlx::query(
        "UPDATE prefixes SET
             status = coalesce($2, status),
             site_id = CASE WHEN $3 THEN $4 ELSE site_id END,
             vlan_id = CASE WHEN $5 THEN $6 ELSE vlan_id END,
             description = CASE WHEN $7 THEN $8 ELSE description END,
             utilization_threshold = coalesce($9, utilization_threshold)
         WHERE id = $1",
    )
    .bind(id)
    .bind(changes.status)
    .bind(site.is_some())
    .bind(site.flatten())
    .bind(changes.vlan_id.is_some())
    .bind(changes.vlan_id.flatten())
    .bind(changes.description.is_some())
    .bind(changes.description.clone().flatten())
    .bind(changes.utilization_threshold)
    .execute(db.pool())
    .await
    .map_err(|e| map_prefix_error(e, &cidr.to_string(), domain.unwrap_or(super::DEFAULT_DOMAIN)))?;
    get_by_id(db, id).await
}

/// Remove a prefix (operators). Its children and assignments stay; they belong to the
/// next prefix up from now on.
pub async fn remove(db: &Database, domain: Option<&str>, cidr: &Cidr) -> Result<()> {
    let id = find(db, domain, cidr).await?;
    sqlx::query("DELETE FROM prefixes WHERE id = $1").bind(id).execute(db.pool()).await?;
    Ok(())
}

/// Direct children of a prefix: the prefixes inside it not inside another one of them.
async fn child_ids(db: &Database, id: Uuid) -> Result<(Vec<Uuid>, i64)> {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        r#"
        SELECT k.id, count(*) OVER () AS total FROM (
            SELECT c.id, c.cidr,
                   coalesce(c.cidr::inet > max(ipam_last_address(c.cidr)) OVER
                                (ORDER BY c.cidr ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), true) AS top
            FROM prefixes p
            JOIN prefixes c ON c.routing_domain_id = p.routing_domain_id
                           AND c.cidr > p.cidr AND c.cidr <= ipam_last_address(p.cidr)::cidr
            WHERE p.id = $1
        ) k
        WHERE k.top
        ORDER BY k.cidr
        LIMIT $2
        "#,
    )
    .bind(id)
    .bind(PAGE_LIMIT)
    .fetch_all(db.pool())
    .await?;
    let total = rows.first().map_or(0, |&(_, total)| total);
    let ids = rows.into_iter().map(|(id, _)| id).collect();
    Ok((ids, total))
}

/// The prefix page model.
pub async fn page(db: &Database, domain: Option<&str>, cidr: &Cidr) -> Result<PrefixPage> {
    let prefix = get(db, domain, cidr).await?;
    let ancestors = async {
        Ok::<_, Error>(
            sqlx::query_as::<_, PrefixRef>(
                "SELECT a.id, a.cidr::text AS cidr, a.status, s.code AS site, a.vlan_id
                 FROM prefixes p
                 JOIN prefixes a ON a.routing_domain_id = p.routing_domain_id AND a.cidr >> p.cidr
                 LEFT JOIN sites s ON s.id = a.site_id
                 WHERE p.id = $1 ORDER BY masklen(a.cidr)",
            )
            .bind(prefix.id)
            .fetch_all(db.pool())
            .await?,
        )
    };
    let children = async {
        let (ids, total) = child_ids(db, prefix.id).await?;
        Ok::<_, Error>((load(db, &ids).await?, total))
    };
    // The parts are independent reads: each on a connection of its own, at once.
    let (
        ancestors,
        (children, children_total),
        (assignments, assignments_total),
        (observed, observed_total),
        (free, free_total),
        findings,
    ) = tokio::try_join!(
        ancestors,
        children,
        space::assignments_in(db, prefix.id, PAGE_LIMIT),
        space::observed_in(db, prefix.id, PAGE_LIMIT),
        space::free_blocks(db, prefix.id, None, PAGE_LIMIT),
        findings::open_in_prefix(db, prefix.id, PAGE_LIMIT),
    )?;
    Ok(PrefixPage {
        prefix,
        ancestors,
        children,
        children_total,
        assignments,
        assignments_total,
        observed,
        observed_total,
        free,
        free_total,
        findings,
    })
}
