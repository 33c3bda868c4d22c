//! Single addresses an operator plans by hand: a chosen address (not the next free one),
//! edited (host name, MAC, description, planned or reserved) and released.
//!
//! A chosen address must lie in a prefix of its routing domain that is not deprecated, and
//! must not be one the prefix reserves (its network or broadcast address), so what is
//! planned is what the findings engine can check. These are consistency rules with clear
//! messages, not security: an operator (`eio_operator`) may write assignments in any case.
//! The database places the assignment in its most specific prefix and stamps who planned
//! it; nothing here plans on someone else's behalf.
use std::net::IpAddr;

use uuid::Uuid;

use super::space::{assignment, Assignment, AssignmentStatus};
use super::{domain_id, parse_address};
use crate::error::{Error, Result};
use crate::Database;

/// Plan exactly `address` (operators).
pub async fn assign(
    db: &Database,
    domain: Option<&str>,
    address: &str,
    hostname: Option<&str>,
    mac_address: Option<&str>,
    description: Option<&str>,
    status: AssignmentStatus,
) -> Result<Assignment> {
    let ip = parse_address(address)?;
    let domain_id = domain_id(db, domain).await?;
    let domain_name = domain.unwrap_or("default");
    let containing: Option<(String, bool, bool)> = sqlx::query_as(
        "SELECT p.cidr::text, ipam_is_reserved(p.cidr, $2::inet), p.status = 'deprecated' FROM prefixes p
         WHERE p.id = ipam_containing_prefix($1, $2::inet)",
    )
    .bind(domain_id)
    .bind(ip.to_string())
    .fetch_optional(db.pool())
    .await?;
    match containing {
        None => {
            return Err(Error::invalid(format!(
                "no prefix of routing domain {domain_name} holds {ip}: add the prefix first"
            )))
        }
        Some((cidr, true, _)) => {
            return Err(Error::invalid(format!(
                "{ip} is reserved in {cidr} (its network or broadcast address): choose another"
            )))
        }
        // As allocation: nothing new is planned in a deprecated prefix.
        Some((cidr, _, true)) => {
            return Err(Error::conflict(format!("prefix {cidr} is deprecated: nothing more is allocated from it")))
        }
        Some(_) => {}
    }
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO ip_assignments (routing_domain_id, address, hostname, mac_address, description, status)
         VALUES ($1, $2::inet, $3, $4::macaddr, $5, $6::assignment_status) RETURNING id",
    )
    .bind(domain_id)
    .bind(host(ip))
    .bind(nonempty(hostname))
    .bind(nonempty(mac_address))
    .bind(nonempty(description))
    .bind(status.as_str())
    .fetch_one(db.pool())
    .await
    .map_err(|e| written(e, ip, domain_name))?;
    assignment(db, id).await
}

/// What to change on an assignment; `None` keeps a field, `Some("")` clears it.
#[derive(Debug, Clone, Default)]
pub struct AssignmentChanges {
    pub hostname: Option<String>,
    pub mac_address: Option<String>,
    pub description: Option<String>,
    pub status: Option<AssignmentStatus>,
}

/// Change a planned address (operators).
pub async fn update(db: &Database, domain: Option<&str>, address: &str, c: &AssignmentChanges) -> Result<Assignment> {
    let (ip, id) = find(db, domain, address).await?;
    let keep = |v: &Option<String>| v.is_none();
    sqlx::query(
        "UPDATE ip_assignments SET
            hostname = CASE WHEN $2 THEN hostname ELSE $3 END,
            mac_address = CASE WHEN $4 THEN mac_address ELSE $5::macaddr END,
            description = CASE WHEN $6 THEN description ELSE $7 END,
            status = coalesce($8::assignment_status, status)
         WHERE id = $1",
    )
    .bind(id)
    .bind(keep(&c.hostname))
    .bind(nonempty(c.hostname.as_deref()))
    .bind(keep(&c.mac_address))
    .bind(nonempty(c.mac_address.as_deref()))
    .bind(keep(&c.description))
    .bind(nonempty(c.description.as_deref()))
    .bind(c.status.map(|s| s.as_str()))
    .execute(db.pool())
    .await
    .map_err(|e| written(e, ip, domain.unwrap_or("default")))?;
    assignment(db, id).await
}

/// Release a planned or reserved address (operators): the plan goes; what was observed
/// using it stays in the observations.
pub async fn release(db: &Database, domain: Option<&str>, address: &str) -> Result<Assignment> {
    let (_, id) = find(db, domain, address).await?;
    let gone = assignment(db, id).await?;
    let n = sqlx::query("DELETE FROM ip_assignments WHERE id = $1").bind(id).execute(db.pool()).await?.rows_affected();
    if n == 0 {
        return Err(Error::not_found(format!("{} is not planned (any more)", gone.address)));
    }
    Ok(gone)
}

async fn find(db: &Database, domain: Option<&str>, address: &str) -> Result<(IpAddr, Uuid)> {
    let ip = parse_address(address)?;
    let domain_id = domain_id(db, domain).await?;
    let id: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM ip_assignments WHERE routing_domain_id = $1 AND address = $2::inet")
            .bind(domain_id)
            .bind(host(ip))
            .fetch_optional(db.pool())
            .await?;
    let id = id.ok_or_else(|| {
        Error::not_found(format!("{ip} is not planned in routing domain {}", domain.unwrap_or("default")))
    })?;
    Ok((ip, id))
}

/// The address as a host route (`10.0.0.5/32`), the way assignments store one address.
fn host(ip: IpAddr) -> String {
    format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 })
}

fn nonempty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

fn written(e: sqlx::Error, ip: IpAddr, domain: &str) -> Error {
    let constraint = e.as_database_error().and_then(|d| d.constraint()).map(str::to_owned);
    let state = e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
    match (constraint.as_deref(), state.as_deref()) {
        (Some("ip_assignments_domain_address_key"), _) => {
            Error::conflict(format!("{ip} is already planned in routing domain {domain}"))
        }
        (_, Some("22P02")) => Error::invalid("that is not a MAC address (aa:bb:cc:dd:ee:ff)"),
        _ => Error::from(e),
    }
}
