//! The ESXi host list of the inventory page: one window of hosts, filtered and searched (a
//! name containing or similar to the words, a service tag, a management IP, a tag), with
//! the physical server each runs on and the total the filters keep.
//!
//! One statement per window, whatever its size; it counts the VMs of the window's hosts only
//! (an index scan per host, not a grouped pass over every VM) and never decides a mapping
//! (it shows the active one).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::{unwindowed, InventoryQuery, Windowed};
use crate::error::Result;
use crate::inventory::states::{HostConnectionState, HostPowerState};
use crate::pages::filter;
use crate::Database;

/// An ESXi host as one table row.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct HostListRow {
    #[ts(type = "string")]
    pub id: Uuid,
    pub moid: String,
    pub name: String,
    pub connection_state: Option<HostConnectionState>,
    pub power_state: Option<HostPowerState>,
    pub in_maintenance_mode: bool,
    pub esxi_version: Option<String>,
    pub model: Option<String>,
    pub service_tag: Option<String>,
    pub vms: i64,
    /// The physical server it runs on (service tag), when mapped.
    pub server: Option<String>,
    pub mapping_confidence: Option<f32>,
    pub cluster: Option<String>,
    /// Where site inference placed it (a pin wins), else its vCenter's site.
    pub site: Option<String>,
    pub vcenter: String,
}

/// The window of hosts `q` asks for (searched for `search`; `like` is its ILIKE pattern)
/// and how many hosts the search and filters keep.
pub(super) async fn window(
    db: &Database,
    q: &InventoryQuery,
    search: Option<&str>,
    like: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<HostListRow>, i64)> {
    let rows: Vec<Windowed<HostListRow>> = sqlx::query_as(
        r#"
        SELECT w.id, w.moid, w.name, w.connection_state, w.power_state, w.in_maintenance_mode, w.esxi_version,
               w.model, w.service_tag,
               (SELECT count(*) FROM virtual_machines v WHERE v.host_id = w.id AND v.removed_at IS NULL) AS vms,
               w.server, w.mapping_confidence, w.cluster, w.site, w.vcenter, w.total
        FROM (
            SELECT h.id, h.moid, h.name, h.connection_state,
                   h.power_state, h.in_maintenance_mode, h.esxi_version, h.model,
                   h.service_tag, p.service_tag AS server, m.confidence AS mapping_confidence,
                   c.name AS cluster, s.code AS site, vc.name AS vcenter,
                   CASE WHEN $1::text IS NULL THEN 0 ELSE similarity(h.name, $1) END AS sim,
                   count(*) OVER () AS total
            FROM esxi_hosts h
            JOIN vcenter_instances vc ON vc.id = h.vcenter_id
            LEFT JOIN entity_sites es ON es.entity_type = 'esxi_host' AND es.entity_id = h.id
            LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
            LEFT JOIN clusters c ON c.id = h.cluster_id
            LEFT JOIN server_mappings m ON m.esxi_host_id = h.id AND m.status = 'active'
            LEFT JOIN physical_servers p ON p.id = m.physical_server_id
            WHERE h.removed_at IS NULL
              AND ($1::text IS NULL OR h.name ILIKE $2 OR h.name % $1 OR upper(h.service_tag) = upper($1)
                   OR $1 = ANY (h.tags) OR EXISTS (SELECT 1 FROM unnest(h.management_ips) a WHERE host(a) = $1))
              AND ($3::text IS NULL OR s.code = $3)
              AND ($4::text IS NULL OR c.name = $4)
              AND ($5::text IS NULL OR h.power_state::text = $5)
              AND ($6::text IS NULL OR $6 = ANY (h.tags))
            ORDER BY sim DESC, h.name, h.id
            LIMIT $7 OFFSET $8
        ) w
        ORDER BY w.sim DESC, w.name, w.id
        "#,
    )
    .bind(search)
    .bind(like)
    .bind(filter(&q.site))
    .bind(filter(&q.cluster))
    .bind(filter(&q.power))
    .bind(filter(&q.tag))
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await?;
    Ok(unwindowed(rows))
}
