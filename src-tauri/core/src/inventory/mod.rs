//! Reading the inventory cache: physical servers, their firmware and how they map to ESXi
//! hosts, and the ESXi hosts and VMs the vCenter sync reports. Set-based queries returning
//! page-ready rows with the seed's field names; objects a source no longer reports are
//! left out.
//!
//! This module reads with the caller's own rights. Its two writes are about mappings: an
//! operator's manual override, done as the operator (row-level security checks they act as
//! themselves), and recomputing the automatic mappings on demand (the database's
//! `refresh_server_mappings()` decides them, never this module). [`ops`] holds the
//! listings as registry operations.
pub mod ops;
pub mod states;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::Database;
pub use states::{
    ComplianceStatus, HealthState, HostConnectionState, HostPowerState, IdracDriver, IdracGeneration, MappingMethod,
    MappingStatus, ServerPowerState, VmPowerState, VmToolsStatus,
};

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct ServerRow {
    #[ts(type = "string")]
    pub uuid: Uuid,
    pub service_tag: Option<String>,
    #[ts(type = "string | null")]
    pub system_uuid: Option<Uuid>,
    pub model: Option<String>,
    pub generation: Option<IdracGeneration>,
    pub power_state: ServerPowerState,
    pub health: HealthState,
    pub hostname: Option<String>,
    pub idrac: Option<String>,
    pub idrac_firmware: Option<String>,
    pub idrac_ip: Option<String>,
    pub driver: Option<IdracDriver>,
    pub bios_version: Option<String>,
    pub firmware_components: i64,
    /// The ESXi host it runs, when mapped.
    pub esxi_host: Option<String>,
    pub mapping_method: Option<MappingMethod>,
    pub mapping_confidence: Option<f32>,
    /// How many baseline components it violates (OME compliance).
    pub noncompliant_components: i64,
    /// Where site inference placed it (a pin wins), else its iDRAC's or OME's site.
    pub site: Option<String>,
    #[ts(type = "string")]
    pub last_sync: chrono::DateTime<chrono::Utc>,
}

/// A [`ServerRow`]'s columns over `physical_servers p` and [`SERVER_JOINS`]: its iDRAC,
/// site, mapping and firmware counts. The servers page's window selects the same row.
pub(crate) const SERVER_COLUMNS: &str = r#"
        p.id AS uuid, p.service_tag, p.system_uuid, p.model, e.generation,
        p.power_state, p.health, p.hostname, e.name AS idrac,
        p.idrac_firmware, host(p.idrac_ip) AS idrac_ip,
        coalesce(e.driver_override, e.driver_preference) AS driver, p.bios_version,
        (SELECT count(*) FROM firmware_inventory f WHERE f.server_id = p.id AND f.removed_at IS NULL)
            AS firmware_components,
        h.name AS esxi_host, m.method AS mapping_method, m.confidence AS mapping_confidence,
        (SELECT count(*) FROM firmware_compliance c
         WHERE c.physical_server_id = p.id AND c.removed_at IS NULL AND c.status IN ('upgrade', 'downgrade'))
            AS noncompliant_components,
        s.code AS site, p.last_sync
"#;

/// The joins [`SERVER_COLUMNS`] reads from, after `physical_servers p`.
pub(crate) const SERVER_JOINS: &str = r#"
        LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
        LEFT JOIN ome_instances o ON o.id = p.ome_instance_id
        LEFT JOIN entity_sites es ON es.entity_type = 'physical_server' AND es.entity_id = p.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, e.site_id, o.site_id)
        LEFT JOIN server_mappings m ON m.physical_server_id = p.id AND m.status = 'active'
        LEFT JOIN esxi_hosts h ON h.id = m.esxi_host_id
"#;

/// Every server (`$1` null) or one (`$1` its id), with its iDRAC, site, mapping and counts.
fn servers_sql() -> String {
    format!(
        "SELECT {SERVER_COLUMNS} FROM physical_servers p {SERVER_JOINS}
         WHERE p.removed_at IS NULL AND ($1::uuid IS NULL OR p.id = $1)
         ORDER BY coalesce(p.hostname, e.name, p.service_tag)"
    )
}

pub async fn servers(db: &Database) -> Result<Vec<ServerRow>> {
    Ok(sqlx::query_as::<_, ServerRow>(&servers_sql()).bind(None::<Uuid>).fetch_all(db.pool()).await?)
}

/// One server's row, if it is in the inventory (not removed).
pub async fn server(db: &Database, id: Uuid) -> Result<Option<ServerRow>> {
    Ok(sqlx::query_as::<_, ServerRow>(&servers_sql()).bind(Some(id)).fetch_optional(db.pool()).await?)
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct FirmwareRow {
    pub fqdd: String,
    pub component_id: Option<String>,
    pub name: String,
    pub version: String,
    pub category: Option<String>,
    pub updateable: bool,
    pub reported_by: String,
    /// What the OME baseline wants, and the verdict.
    pub baseline_version: Option<String>,
    pub compliance: Option<ComplianceStatus>,
    pub criticality: Option<String>,
}

/// Resolve a server by service tag, hostname, iDRAC source name or ESXi host name.
pub async fn find_server(db: &Database, name: &str) -> Result<Uuid> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        r#"
        SELECT DISTINCT p.id FROM physical_servers p
        LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
        LEFT JOIN server_mappings m ON m.physical_server_id = p.id AND m.status = 'active'
        LEFT JOIN esxi_hosts h ON h.id = m.esxi_host_id
        WHERE p.removed_at IS NULL
          AND (upper(p.service_tag) = upper($1) OR lower(p.hostname) = lower($1) OR e.name = $1
               OR lower(h.name) = lower($1) OR lower(split_part(h.name, '.', 1)) = lower($1))
        "#,
    )
    .bind(name)
    .fetch_all(db.pool())
    .await?;
    match ids.as_slice() {
        [one] => Ok(*one),
        [] => {
            Err(Error::not_found(format!("no server matches \"{name}\" (service tag, hostname, iDRAC or ESXi host)")))
        }
        _ => Err(Error::conflict(format!("\"{name}\" matches {} servers; use the service tag", ids.len()))),
    }
}

pub async fn firmware(db: &Database, server: Uuid) -> Result<Vec<FirmwareRow>> {
    Ok(sqlx::query_as::<_, FirmwareRow>(
        r#"
        SELECT f.fqdd, f.component_id, f.name, f.version, f.category, f.updateable, f.reported_by,
               c.baseline_version, c.status AS compliance, c.criticality
        FROM firmware_inventory f
        LEFT JOIN LATERAL (
            SELECT c.* FROM firmware_compliance c
            WHERE c.physical_server_id = f.server_id AND c.fqdd = f.fqdd AND c.removed_at IS NULL
            ORDER BY c.last_sync DESC LIMIT 1
        ) c ON true
        WHERE f.server_id = $1 AND f.removed_at IS NULL
        ORDER BY f.category NULLS LAST, f.fqdd
        "#,
    )
    .bind(server)
    .fetch_all(db.pool())
    .await?)
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct MappingRow {
    pub service_tag: Option<String>,
    pub idrac: Option<String>,
    pub esxi_host: String,
    pub method: MappingMethod,
    pub confidence: f32,
    pub status: MappingStatus,
    pub verified: bool,
    pub evidence: serde_json::Value,
}

pub async fn mappings(db: &Database) -> Result<Vec<MappingRow>> {
    Ok(sqlx::query_as::<_, MappingRow>(
        r#"
        SELECT p.service_tag, e.name AS idrac, h.name AS esxi_host, m.method, m.confidence,
               m.status, m.verified_at IS NOT NULL AS verified, m.evidence
        FROM server_mappings m
        JOIN physical_servers p ON p.id = m.physical_server_id
        JOIN esxi_hosts h ON h.id = m.esxi_host_id
        LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
        ORDER BY m.status, p.service_tag, h.name
        "#,
    )
    .fetch_all(db.pool())
    .await?)
}

/// An operator's manual mapping: it always wins and survives every resync. Any other
/// mapping of the server or the host gives way (see `set_manual_mapping` in the schema).
pub async fn set_manual_mapping(db: &Database, server: &str, host: &str) -> Result<MappingRow> {
    let server_id = find_server(db, server).await?;
    let host_id: Uuid = sqlx::query_scalar(
        "SELECT id FROM esxi_hosts WHERE removed_at IS NULL AND (lower(name) = lower($1) OR lower(split_part(name, '.', 1)) = lower($1))",
    )
    .bind(host)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::not_found(format!("no ESXi host named \"{host}\"")))?;
    sqlx::query("SELECT set_manual_mapping($1, $2)").bind(server_id).bind(host_id).execute(db.pool()).await?;
    mappings(db)
        .await?
        .into_iter()
        .find(|m| {
            m.method == MappingMethod::Manual
                && (m.esxi_host.eq_ignore_ascii_case(host)
                    || m.esxi_host.split('.').next().is_some_and(|s| s.eq_ignore_ascii_case(host)))
        })
        .ok_or_else(|| Error::internal("manual mapping vanished after it was set"))
}

/// A VM with every seed field (and where it runs).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct VmRow {
    /// BIOS uuid (config.uuid).
    #[ts(type = "string | null")]
    pub uuid: Option<Uuid>,
    pub moid: String,
    pub name: String,
    pub folder_path: Option<String>,
    pub vcpu: Option<i32>,
    pub memory_mb: Option<i32>,
    pub power_state: Option<VmPowerState>,
    pub tools_status: Option<VmToolsStatus>,
    pub guest_os: Option<String>,
    pub guest_hostname: Option<String>,
    /// [{mac, network, connected, label}]
    pub nics: serde_json::Value,
    /// [{ip, confidence, mac}]
    pub guest_ips: serde_json::Value,
    pub tags: Vec<String>,
    pub custom_attributes: serde_json::Value,
    pub notes: Option<String>,
    pub has_snapshot: bool,
    #[ts(type = "string")]
    pub last_sync: chrono::DateTime<chrono::Utc>,
    pub vcenter: String,
    pub datacenter: Option<String>,
    pub cluster: Option<String>,
    pub host: Option<String>,
}

/// VMs, optionally narrowed to those whose name, guest hostname or an IP matches `search`
/// (best matches first). At most `limit` rows.
pub async fn vms(db: &Database, search: Option<&str>, limit: i64) -> Result<Vec<VmRow>> {
    Ok(sqlx::query_as::<_, VmRow>(
        r#"
        SELECT v.uuid, v.moid, v.name, v.folder_path, v.vcpu, v.memory_mb, v.power_state,
               v.tools_status, v.guest_os, v.guest_hostname, v.nics, v.guest_ips, v.tags,
               v.custom_attributes, v.notes, v.has_snapshot,
               greatest(v.last_sync, vc.last_full_sync_at) AS last_sync, vc.name AS vcenter, d.name AS datacenter,
               c.name AS cluster, h.name AS host
        FROM virtual_machines v
        JOIN vcenter_instances vc ON vc.id = v.vcenter_id
        LEFT JOIN datacenters d ON d.id = v.datacenter_id
        LEFT JOIN clusters c ON c.id = v.cluster_id
        LEFT JOIN esxi_hosts h ON h.id = v.host_id
        WHERE v.removed_at IS NULL
          AND ($1::text IS NULL
               OR v.name ILIKE '%' || $1 || '%' OR v.name % $1 OR v.guest_hostname ILIKE '%' || $1 || '%'
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(v.guest_ips) g WHERE g ->> 'ip' = $1))
        ORDER BY CASE WHEN $1::text IS NULL THEN 0 ELSE -similarity(v.name, $1) END, v.name
        LIMIT $2
        "#,
    )
    .bind(search.filter(|s| !s.trim().is_empty()))
    .bind(limit)
    .fetch_all(db.pool())
    .await?)
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct HostRow {
    #[ts(type = "string | null")]
    pub hardware_uuid: Option<Uuid>,
    pub moid: String,
    pub name: String,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub service_tag: Option<String>,
    pub esxi_version: Option<String>,
    pub connection_state: Option<HostConnectionState>,
    pub power_state: Option<HostPowerState>,
    pub in_maintenance_mode: bool,
    pub management_ips: Vec<String>,
    pub vms: i64,
    pub vcenter: String,
    pub datacenter: Option<String>,
    pub cluster: Option<String>,
    /// The physical server it runs on (service tag), when mapped.
    pub server: Option<String>,
    #[ts(type = "string")]
    pub last_sync: chrono::DateTime<chrono::Utc>,
}

pub async fn hosts(db: &Database) -> Result<Vec<HostRow>> {
    Ok(sqlx::query_as::<_, HostRow>(
        r#"
        SELECT h.hardware_uuid, h.moid, h.name, h.vendor, h.model, h.serial_number, h.service_tag, h.esxi_version,
               h.connection_state, h.power_state, h.in_maintenance_mode,
               ARRAY(SELECT host(a) FROM unnest(h.management_ips) a) AS management_ips,
               (SELECT count(*) FROM virtual_machines v WHERE v.host_id = h.id AND v.removed_at IS NULL) AS vms,
               vc.name AS vcenter, d.name AS datacenter, c.name AS cluster, p.service_tag AS server,
               greatest(h.last_sync, vc.last_full_sync_at) AS last_sync
        FROM esxi_hosts h
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        LEFT JOIN datacenters d ON d.id = h.datacenter_id
        LEFT JOIN clusters c ON c.id = h.cluster_id
        LEFT JOIN server_mappings m ON m.esxi_host_id = h.id AND m.status = 'active'
        LEFT JOIN physical_servers p ON p.id = m.physical_server_id
        WHERE h.removed_at IS NULL
        ORDER BY vc.name, c.name NULLS LAST, h.name
        "#,
    )
    .fetch_all(db.pool())
    .await?)
}

/// Recompute the automatic server-to-host mappings now; returns the function's counts.
pub async fn refresh_mappings(db: &Database) -> Result<serde_json::Value> {
    Ok(sqlx::query_scalar("SELECT refresh_server_mappings()").fetch_one(db.pool()).await?)
}
