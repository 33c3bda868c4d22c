//! The detail drawers of the inventory page: one VM (where it runs, its NICs, addresses,
//! tags, custom attributes, snapshots and its host's server) and one ESXi host (hardware,
//! state, every mapping candidate with its evidence, and the VMs it runs).
//!
//! A drawer is a fixed handful of statements for one object. The lists a source reports
//! as JSON (NICs, guest addresses, custom attributes) are read leniently: an entry that
//! doesn't fit is left out, never an error for the whole drawer.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::mappings::{mappings_where, MappingInfo};
use crate::error::{Error, Result};
use crate::inventory::states::{HostConnectionState, HostPowerState, VmPowerState, VmToolsStatus};
use crate::Database;

/// Input of the detail drawers: the row's id.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct IdInput {
    #[ts(type = "string")]
    pub id: Uuid,
}

/// A configured virtual NIC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(default)]
pub struct Nic {
    pub mac: String,
    pub network: Option<String>,
    pub connected: bool,
    pub label: String,
}

/// An address the guest reports, with how sure we are it holds it now (0–1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(default)]
pub struct GuestIp {
    pub ip: String,
    pub confidence: f32,
    pub mac: Option<String>,
}

/// A custom attribute (vCenter custom field) and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct VmDetail {
    #[ts(type = "string")]
    pub id: Uuid,
    pub moid: String,
    pub name: String,
    #[ts(type = "string | null")]
    pub uuid: Option<Uuid>,
    pub vcenter: String,
    pub datacenter: Option<String>,
    pub cluster: Option<String>,
    pub host: Option<String>,
    pub site: Option<String>,
    pub folder_path: Option<String>,
    pub vcpu: Option<i32>,
    pub memory_mb: Option<i32>,
    pub power_state: Option<VmPowerState>,
    pub tools_status: Option<VmToolsStatus>,
    pub guest_os: Option<String>,
    pub guest_hostname: Option<String>,
    pub nics: Vec<Nic>,
    pub ips: Vec<GuestIp>,
    pub tags: Vec<String>,
    pub custom_attributes: Vec<Attribute>,
    pub notes: Option<String>,
    pub has_snapshot: bool,
    pub snapshot_count: i32,
    #[ts(type = "string")]
    pub first_seen: chrono::DateTime<chrono::Utc>,
    #[ts(type = "string")]
    pub last_sync: chrono::DateTime<chrono::Utc>,
    /// Its host's physical server, when mapped.
    pub host_mapping: Option<MappingInfo>,
}

/// What [`vm`] reads of the VM: its JSON lists as stored, and its host's id.
#[derive(sqlx::FromRow)]
struct VmRow {
    id: Uuid,
    moid: String,
    name: String,
    uuid: Option<Uuid>,
    vcenter: String,
    datacenter: Option<String>,
    cluster: Option<String>,
    host: Option<String>,
    site: Option<String>,
    folder_path: Option<String>,
    vcpu: Option<i32>,
    memory_mb: Option<i32>,
    power_state: Option<VmPowerState>,
    tools_status: Option<VmToolsStatus>,
    guest_os: Option<String>,
    guest_hostname: Option<String>,
    nics: serde_json::Value,
    guest_ips: serde_json::Value,
    tags: Vec<String>,
    custom_attributes: serde_json::Value,
    notes: Option<String>,
    has_snapshot: bool,
    snapshot_count: i32,
    first_seen: chrono::DateTime<chrono::Utc>,
    host_id: Option<Uuid>,
    last_sync: chrono::DateTime<chrono::Utc>,
}

fn attributes(v: serde_json::Value) -> Vec<Attribute> {
    match v {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(name, value)| Attribute {
                name,
                value: match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                },
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn json_list<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Vec<T> {
    match v {
        serde_json::Value::Array(items) => items.into_iter().filter_map(|i| serde_json::from_value(i).ok()).collect(),
        _ => Vec::new(),
    }
}

pub async fn vm(db: &Database, id: Uuid) -> Result<VmDetail> {
    let r: VmRow = sqlx::query_as(
        r#"
        SELECT v.id, v.moid, v.name, v.uuid, vc.name AS vcenter, d.name AS datacenter, c.name AS cluster,
               h.name AS host, s.code AS site, v.folder_path, v.vcpu, v.memory_mb,
               v.power_state, v.tools_status, v.guest_os, v.guest_hostname,
               v.nics, v.guest_ips, v.tags, v.custom_attributes, v.notes, v.has_snapshot, v.snapshot_count,
               v.first_seen, v.host_id,
               -- a live VM was confirmed by its vCenter's last full sync even if unchanged
               CASE WHEN v.removed_at IS NULL THEN greatest(v.last_sync, vc.last_full_sync_at) ELSE v.last_sync END AS last_sync
        FROM virtual_machines v
        JOIN vcenter_instances vc ON vc.id = v.vcenter_id
        LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
        LEFT JOIN datacenters d ON d.id = v.datacenter_id
        LEFT JOIN clusters c ON c.id = v.cluster_id
        LEFT JOIN esxi_hosts h ON h.id = v.host_id
        WHERE v.id = $1
        "#,
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::not_found(format!("no VM {id} in the inventory")))?;
    let host_mapping = match r.host_id {
        Some(h) => mappings_where(db, "m.esxi_host_id = $1 AND m.status = 'active'", h).await?.into_iter().next(),
        None => None,
    };
    let mut ips: Vec<GuestIp> = json_list(r.guest_ips);
    ips.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    Ok(VmDetail {
        id: r.id,
        moid: r.moid,
        name: r.name,
        uuid: r.uuid,
        vcenter: r.vcenter,
        datacenter: r.datacenter,
        cluster: r.cluster,
        host: r.host,
        site: r.site,
        folder_path: r.folder_path,
        vcpu: r.vcpu,
        memory_mb: r.memory_mb,
        power_state: r.power_state,
        tools_status: r.tools_status,
        guest_os: r.guest_os,
        guest_hostname: r.guest_hostname,
        nics: json_list(r.nics),
        ips,
        tags: r.tags,
        custom_attributes: attributes(r.custom_attributes),
        notes: r.notes,
        has_snapshot: r.has_snapshot,
        snapshot_count: r.snapshot_count,
        first_seen: r.first_seen,
        last_sync: r.last_sync,
        host_mapping,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct HostDetail {
    #[ts(type = "string")]
    pub id: Uuid,
    pub moid: String,
    pub name: String,
    pub vcenter: String,
    pub datacenter: Option<String>,
    pub cluster: Option<String>,
    pub site: Option<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub service_tag: Option<String>,
    #[ts(type = "string | null")]
    pub hardware_uuid: Option<Uuid>,
    pub esxi_version: Option<String>,
    pub esxi_build: Option<String>,
    pub connection_state: Option<HostConnectionState>,
    pub power_state: Option<HostPowerState>,
    pub in_maintenance_mode: bool,
    pub management_ips: Vec<String>,
    pub cpu_model: Option<String>,
    pub cpu_cores: Option<i32>,
    pub memory_mb: Option<i64>,
    pub tags: Vec<String>,
    pub custom_attributes: Vec<Attribute>,
    #[ts(type = "string")]
    pub last_sync: chrono::DateTime<chrono::Utc>,
    /// Every mapping candidate (active first), with its evidence.
    pub mappings: Vec<MappingInfo>,
    /// The VMs it runs (at most 500), by name.
    pub vms: Vec<VmBrief>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct VmBrief {
    #[ts(type = "string")]
    pub id: Uuid,
    pub name: String,
    pub power_state: Option<VmPowerState>,
}

/// What [`host`] reads of the host: its custom attributes as stored.
#[derive(sqlx::FromRow)]
struct HostRow {
    id: Uuid,
    moid: String,
    name: String,
    vcenter: String,
    datacenter: Option<String>,
    cluster: Option<String>,
    site: Option<String>,
    vendor: Option<String>,
    model: Option<String>,
    serial_number: Option<String>,
    service_tag: Option<String>,
    hardware_uuid: Option<Uuid>,
    esxi_version: Option<String>,
    esxi_build: Option<String>,
    connection_state: Option<HostConnectionState>,
    power_state: Option<HostPowerState>,
    in_maintenance_mode: bool,
    management_ips: Vec<String>,
    cpu_model: Option<String>,
    cpu_cores: Option<i32>,
    memory_mb: Option<i64>,
    tags: Vec<String>,
    custom_attributes: serde_json::Value,
    last_sync: chrono::DateTime<chrono::Utc>,
}

pub async fn host(db: &Database, id: Uuid) -> Result<HostDetail> {
    let r: HostRow = sqlx::query_as(
        r#"
        SELECT h.id, h.moid, h.name, vc.name AS vcenter, d.name AS datacenter, c.name AS cluster, s.code AS site,
               h.vendor, h.model, h.serial_number, h.service_tag, h.hardware_uuid, h.esxi_version, h.esxi_build,
               h.connection_state, h.power_state,
               h.in_maintenance_mode, ARRAY(SELECT host(a) FROM unnest(h.management_ips) a) AS management_ips,
               h.cpu_model, h.cpu_cores, h.memory_mb, h.tags, h.custom_attributes,
               CASE WHEN h.removed_at IS NULL THEN greatest(h.last_sync, vc.last_full_sync_at) ELSE h.last_sync END AS last_sync
        FROM esxi_hosts h
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        LEFT JOIN entity_sites es ON es.entity_type = 'esxi_host' AND es.entity_id = h.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
        LEFT JOIN datacenters d ON d.id = h.datacenter_id
        LEFT JOIN clusters c ON c.id = h.cluster_id
        WHERE h.id = $1
        "#,
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::not_found(format!("no ESXi host {id} in the inventory")))?;
    let vms: Vec<VmBrief> = sqlx::query_as(
        "SELECT id, name, power_state FROM virtual_machines
         WHERE host_id = $1 AND removed_at IS NULL ORDER BY name LIMIT 500",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    Ok(HostDetail {
        id: r.id,
        moid: r.moid,
        name: r.name,
        vcenter: r.vcenter,
        datacenter: r.datacenter,
        cluster: r.cluster,
        site: r.site,
        vendor: r.vendor,
        model: r.model,
        serial_number: r.serial_number,
        service_tag: r.service_tag,
        hardware_uuid: r.hardware_uuid,
        esxi_version: r.esxi_version,
        esxi_build: r.esxi_build,
        connection_state: r.connection_state,
        power_state: r.power_state,
        in_maintenance_mode: r.in_maintenance_mode,
        management_ips: r.management_ips,
        cpu_model: r.cpu_model,
        cpu_cores: r.cpu_cores,
        memory_mb: r.memory_mb,
        tags: r.tags,
        custom_attributes: attributes(r.custom_attributes),
        last_sync: r.last_sync,
        mappings: mappings_where(db, "m.esxi_host_id = $1", id).await?,
        vms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_and_lists_are_read_leniently() {
        let a = attributes(serde_json::json!({"owner": "ops", "n": 3}));
        assert_eq!(
            a,
            vec![
                Attribute { name: "n".into(), value: "3".into() },
                Attribute { name: "owner".into(), value: "ops".into() }
            ]
        );
        let ips: Vec<GuestIp> = json_list(serde_json::json!([{"ip": "10.0.0.1", "confidence": 0.9}, 7]));
        assert_eq!(ips.len(), 1);
        assert_eq!(ips[0].mac, None);
    }
}
