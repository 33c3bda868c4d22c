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
