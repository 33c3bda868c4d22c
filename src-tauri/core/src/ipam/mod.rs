//! Domain 4, IPAM: routing domains (VRF semantics: the same prefix may exist in two),
//! the prefix hierarchy derived by containment within a domain ([`prefixes`]), free space,
//! allocation and address lookup ([`space`]), and the findings engine ([`findings`]) that
//! compares what is planned with what the connectors observe.
//!
//! Allocation, utilization and the findings live in PostgreSQL
//! (`migrations/0010_sites_ipam_findings.sql`: `allocate_ip`, `allocate_prefix`,
//! `prefix_utilization`, `run_ipam_findings`), so the CLI, the desktop and `psql` get the
//! same answers and allocation is race-free under an advisory lock per prefix. Listing a
//! prefix's free space is the exception: one statement reads what takes space in it and
//! [`space`] merges the gaps and cuts them into blocks (migration 0032), the same blocks
//! `available_ranges()` lists in SQL. This module checks input for clear messages, scopes
//! everything by routing domain, and shapes page models.
//! It must never write observations (the sync workers do), never decide a rule the
//! database enforces, and never mix two routing domains in one answer.
pub mod assignments;
pub mod cidr;
pub mod findings;
pub mod ops;
pub mod prefixes;
pub mod space;

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::Database;

pub use cidr::{parse_address, Cidr};

pub(crate) use crate::db::{constraint_of, db_enum};

/// SQL text: the live observations of addresses at a site, as `(id, routing_domain_id,
/// address)`, where `$site` is an SQL expression for the site's id. An observed address is
/// at the site where site inference placed what carries it (a pin wins; `entity_sites`):
/// its VM, host or server (an iDRAC's address counts for its server). One whose carrier is
/// placed nowhere is where the address itself is placed (by its prefix or its name). The
/// IPAM page and the IPAM reports share it, so a site means the same addresses in both.
macro_rules! observed_at_site {
    ($site:literal) => {
        concat!(
            "SELECT o.id, o.routing_domain_id, o.address FROM entity_sites e
             JOIN ip_observations o ON o.entity_type = e.entity_type AND o.entity_id = e.entity_id
             WHERE e.site_id = ",
            $site,
            " AND e.entity_type IN ('virtual_machine', 'esxi_host', 'physical_server') AND o.gone_at IS NULL
             UNION ALL
             SELECT o.id, o.routing_domain_id, o.address FROM entity_sites e
             JOIN physical_servers ps ON ps.id = e.entity_id AND ps.removed_at IS NULL
             JOIN ip_observations o ON o.entity_type = 'idrac_endpoint' AND o.entity_id = ps.idrac_id
             WHERE e.site_id = ",
            $site,
            " AND e.entity_type = 'physical_server' AND o.gone_at IS NULL
             UNION ALL
             SELECT o.id, o.routing_domain_id, o.address FROM entity_sites e
             JOIN ip_observations o ON o.id = e.entity_id
             WHERE e.site_id = ",
            $site,
            " AND e.entity_type = 'ip_observation' AND o.gone_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM entity_sites c WHERE c.entity_type = o.entity_type AND c.entity_id = o.entity_id)
               AND NOT EXISTS (SELECT 1 FROM physical_servers ps
                               JOIN entity_sites c ON c.entity_type = 'physical_server' AND c.entity_id = ps.id
                               WHERE o.entity_type = 'idrac_endpoint' AND ps.idrac_id = o.entity_id
                                 AND ps.removed_at IS NULL)"
        )
    };
}
pub(crate) use observed_at_site;

/// SQL text: the CTEs `at_site` (as [`observed_at_site!`]) and `found`, the ids of the
/// findings at a site, where `$site` is an SQL expression for the site's id. A finding is
/// at its prefix's own site; one about an address, at the site of the most specific prefix
/// with a site that holds it, and wherever the address is seen in use. The IPAM page's
/// findings and the findings report share it.
macro_rules! findings_at_site {
    ($site:literal) => {
        concat!(
            "WITH at_site AS MATERIALIZED (",
            crate::ipam::observed_at_site!($site),
            "),
             found AS (SELECT f.id FROM ipam_findings f JOIN prefixes p ON p.id = f.prefix_id
                       WHERE p.site_id = ",
            $site,
            "
                       UNION
                       SELECT f.id FROM prefixes p
                       JOIN ipam_findings f ON f.routing_domain_id = p.routing_domain_id AND f.address <<= p.cidr
                       WHERE p.site_id = ",
            $site,
            "
                         AND NOT EXISTS (SELECT 1 FROM prefixes q
                                         WHERE q.routing_domain_id = p.routing_domain_id AND q.cidr >>= f.address
                                           AND masklen(q.cidr) > masklen(p.cidr) AND q.site_id <> p.site_id)
                       UNION
                       SELECT f.id FROM at_site a
                       JOIN ipam_findings f ON f.routing_domain_id = a.routing_domain_id AND f.address = a.address) "
        )
    };
}
pub(crate) use findings_at_site;

/// The routing domain every source reports into unless configured otherwise.
pub const DEFAULT_DOMAIN: &str = "default";

/// The id of the routing domain named `name` (the default domain when None).
pub async fn domain_id(db: &Database, name: Option<&str>) -> Result<Uuid> {
    let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(DEFAULT_DOMAIN);
    sqlx::query_scalar("SELECT id FROM routing_domains WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no routing domain named \"{name}\"")))
}
