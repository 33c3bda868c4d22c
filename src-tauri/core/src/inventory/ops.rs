//! The inventory listings as registry operations ([`crate::api`]): VMs, hosts, servers
//! with their firmware, and the server-to-host mappings (set by hand, or recomputed).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{FirmwareRow, HostRow, MappingRow, ServerRow, VmRow};
use crate::api::{NoInput, Session};
use crate::error::{Error, Result};
use crate::pages::servers::{self, ServerDetail};

/// Which VMs a listing shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct VmListInput {
    /// Names, guest host names or IPs matching this (fuzzy).
    #[serde(default)]
    pub search: Option<String>,
    /// At most this many (default 1000).
    #[serde(default)]
    pub limit: Option<i64>,
}

pub async fn vms(s: &Session, i: VmListInput) -> Result<Vec<VmRow>> {
    super::vms(&s.db, i.search.as_deref().filter(|q| !q.trim().is_empty()), i.limit.unwrap_or(1000).max(1)).await
}

pub async fn hosts(s: &Session, _: NoInput) -> Result<Vec<HostRow>> {
    super::hosts(&s.db).await
}

pub async fn servers(s: &Session, _: NoInput) -> Result<Vec<ServerRow>> {
    super::servers(&s.db).await
}

/// A server by service tag, host name, iDRAC name or ESXi host name.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ServerNameInput {
    pub server: String,
}

pub async fn server_firmware(s: &Session, i: ServerNameInput) -> Result<Vec<FirmwareRow>> {
    let id = super::find_server(&s.db, &i.server).await?;
    super::firmware(&s.db, id).await
}

pub async fn mappings(s: &Session, _: NoInput) -> Result<Vec<MappingRow>> {
    super::mappings(&s.db).await
}

/// What recomputing the mappings did.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct MappingRefresh {
    #[ts(type = "Record<string, number>")]
    pub counts: serde_json::Value,
}

pub async fn mappings_refresh(s: &Session, _: NoInput) -> Result<MappingRefresh> {
    Ok(MappingRefresh { counts: super::refresh_mappings(&s.db).await? })
}

/// A manual mapping: this server runs this ESXi host.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ManualMappingInput {
    /// Server id, service tag, hostname or iDRAC name.
    pub server: String,
    /// ESXi host name (or short name).
    pub host: String,
}

/// Map a server to an ESXi host by hand (operators; the database checks and records who),
/// then show the server again.
pub async fn mapping_set(session: &Session, input: ManualMappingInput) -> Result<ServerDetail> {
    let db = &session.db;
    let before = servers::detail(db, &input.server).await?;
    let s = &before.server;
    let name = s
        .service_tag
        .clone()
        .or_else(|| s.idrac.clone())
        .or_else(|| s.hostname.clone())
        .ok_or_else(|| Error::invalid("this server has no service tag, iDRAC or hostname to map by"))?;
    super::set_manual_mapping(db, &name, input.host.trim()).await?;
    servers::detail(db, &s.uuid.to_string()).await
}
