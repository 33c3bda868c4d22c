//! How ESXi hosts map to physical servers, and the evidence for each mapping: what the
//! host drawer, the VM drawer (its host's server) and the servers page show.
//!
//! It only reads the mappings the sync and the operators made; it never decides or
//! changes one (`refresh_server_mappings()` and `crate::inventory::set_manual_mapping` do).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::Result;
use crate::inventory::states::{MappingMethod, MappingStatus};
use crate::Database;

/// How an ESXi host maps to a physical server, and why we think so.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct MappingInfo {
    #[ts(type = "string")]
    pub server_id: Uuid,
    pub service_tag: Option<String>,
    pub idrac: Option<String>,
    pub esxi_host: String,
    pub method: MappingMethod,
    pub confidence: f32,
    pub status: MappingStatus,
    pub verified: bool,
    /// Which facts matched.
    pub evidence: serde_json::Value,
}

const MAPPING_SQL: &str = r#"
    SELECT m.esxi_host_id, p.id AS server_id, p.service_tag, e.name AS idrac, h.name AS esxi_host,
           m.method, m.confidence, m.status, m.verified_at IS NOT NULL AS verified,
           m.evidence
    FROM server_mappings m
    JOIN physical_servers p ON p.id = m.physical_server_id
    JOIN esxi_hosts h ON h.id = m.esxi_host_id
    LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
"#;

/// Mappings matching `condition` (SQL over `m`, `p`, `h`; `$1` is bound to `id`), best first.
pub(crate) async fn mappings_where(db: &Database, condition: &str, id: Uuid) -> Result<Vec<MappingInfo>> {
    Ok(sqlx::query_as(&format!(
        "{MAPPING_SQL} WHERE {condition} ORDER BY m.status = 'active' DESC, m.confidence DESC, h.name"
    ))
    .bind(id)
    .fetch_all(db.pool())
    .await?)
}
