//! The Dell servers page: every physical server with its iDRAC generation and driver,
//! firmware compliance against the OME baseline and the ESXi host it maps to; and one
//! server's detail: firmware per component, every mapping candidate with its evidence,
//! and the hosts a manual mapping may choose from.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::inventory::{mappings_where, MappingInfo};
use super::Count;
use crate::error::{Error, Result};
use crate::inventory::{self, FirmwareRow, ServerRow};
use crate::Database;

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ServersPage {
    pub servers: Vec<ServerRow>,
    /// Servers per iDRAC generation ("unknown" when not probed yet).
    pub generations: Vec<Count>,
    /// Servers per compliance verdict: compliant, noncompliant, no_baseline.
    pub compliance: Vec<Count>,
    /// Servers with no active mapping to an ESXi host.
    pub unmapped: i64,
    /// Mappings the sync could not settle (two candidates, conflicting facts).
    pub ambiguous_mappings: Vec<MappingInfo>,
}

/// Servers per compliance verdict, and the unmapped ones: [`load`]'s one statement.
#[derive(sqlx::FromRow)]
struct VerdictCounts {
    compliant: i64,
    noncompliant: i64,
    no_baseline: i64,
    unmapped: i64,
}

pub async fn load(db: &Database) -> Result<ServersPage> {
    let servers = inventory::servers(db).await?;
    let mut generations: Vec<Count> = Vec::new();
    for s in &servers {
        let g = s.generation.map_or("unknown", |g| g.as_str());
        match generations.iter_mut().find(|c| c.value == g) {
            Some(c) => c.count += 1,
            None => generations.push(Count { value: g.to_owned(), count: 1 }),
        }
    }
    generations.sort_by(|a, b| a.value.cmp(&b.value));
    let r: VerdictCounts = sqlx::query_as(
        r#"
        WITH verdict AS (
            SELECT p.id,
                   bool_or(c.status IN ('upgrade', 'downgrade')) AS behind,
                   count(c.id) AS rows
            FROM physical_servers p
            LEFT JOIN firmware_compliance c ON c.physical_server_id = p.id AND c.removed_at IS NULL
            WHERE p.removed_at IS NULL
            GROUP BY p.id
        )
        SELECT count(*) FILTER (WHERE rows > 0 AND NOT coalesce(behind, false)) AS compliant,
               count(*) FILTER (WHERE coalesce(behind, false)) AS noncompliant,
               count(*) FILTER (WHERE rows = 0) AS no_baseline,
               (SELECT count(*) FROM physical_servers p WHERE p.removed_at IS NULL AND NOT EXISTS
                   (SELECT 1 FROM server_mappings m WHERE m.physical_server_id = p.id AND m.status = 'active')) AS unmapped
        FROM verdict
        "#,
    )
    .fetch_one(db.pool())
    .await?;
    let compliance = [("compliant", r.compliant), ("noncompliant", r.noncompliant), ("no_baseline", r.no_baseline)]
        .into_iter()
        .map(|(value, count)| Count { value: value.into(), count })
        .collect();
    let ambiguous_mappings =
        mappings_where(db, "m.status = 'ambiguous' AND p.removed_at IS NULL AND $1::uuid IS NOT NULL", Uuid::nil())
            .await?;
    Ok(ServersPage { servers, generations, compliance, unmapped: r.unmapped, ambiguous_mappings })
}

/// Which server: its id, service tag, hostname, iDRAC name or ESXi host name.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ServerInput {
    pub server: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ServerDetail {
    pub server: ServerRow,
    /// Installed firmware per component, with the baseline's version and verdict.
    pub firmware: Vec<FirmwareRow>,
    /// Every mapping candidate (active first), with its evidence.
    pub mappings: Vec<MappingInfo>,
    /// ESXi hosts a manual mapping may choose (names).
    pub hosts: Vec<String>,
}

async fn resolve(db: &Database, server: &str) -> Result<Uuid> {
    match server.trim().parse::<Uuid>() {
        Ok(id) => Ok(id),
        Err(_) => inventory::find_server(db, server.trim()).await,
    }
}

pub async fn detail(db: &Database, server: &str) -> Result<ServerDetail> {
    let id = resolve(db, server).await?;
    let row = inventory::server(db, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no server \"{server}\" in the inventory")))?;
    let firmware = inventory::firmware(db, id).await?;
    let mappings = mappings_where(db, "m.physical_server_id = $1", id).await?;
    let hosts: Vec<String> =
        sqlx::query_scalar("SELECT name FROM esxi_hosts WHERE removed_at IS NULL ORDER BY name LIMIT 5000")
            .fetch_all(db.pool())
            .await?;
    Ok(ServerDetail { server: row, firmware, mappings, hosts })
}

// Setting a mapping by hand is an inventory operation (`crate::inventory::ops::mapping_set`);
// its input's path stays here for the command line.
pub use crate::inventory::ops::ManualMappingInput;
