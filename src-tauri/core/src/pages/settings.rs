//! The settings page: the database connection, service identities (never their
//! credentials), users and roles, sites, the worker processes and their keys. The sources
//! are paged on their own (`crate::sources::page`): an estate has thousands of iDRACs. What a user
//! may change here is decided by the database; `me` tells the UI which controls to show.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::dashboard::WorkerInstance;
use crate::error::Result;
use crate::identity::service_identities::{self, ServiceIdentity};
use crate::identity::users::{self, User};
use crate::status::{ConnectionStatus, SchemaStatus};
use crate::Database;

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SettingsPage {
    pub connection: ConnectionStatus,
    pub schema: SchemaStatus,
    pub service_identities: Vec<ServiceIdentity>,
    pub users: Vec<User>,
    pub sites: Vec<SiteRow>,
    pub workers: Vec<WorkerInstance>,
    /// Worker public keys credentials are sealed for.
    pub worker_keys: Vec<WorkerKeyRow>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct SiteRow {
    pub code: String,
    pub name: Option<String>,
    pub country: String,
    pub region: String,
    pub timezone: String,
    /// active | maintenance | offline
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct WorkerKeyRow {
    pub public_key: String,
    pub label: String,
    pub revoked: bool,
}

pub async fn load(db: &Database) -> Result<SettingsPage> {
    let status = crate::status::load_with(db, false).await?;
    let sites = sqlx::query_as::<_, SiteRow>(
        r#"
        SELECT s.code, s.name, c.name AS country, r.name AS region, s.timezone, s.status::text AS status
        FROM sites s JOIN countries c ON c.id = s.country_id JOIN regions r ON r.id = c.region_id
        ORDER BY s.code
        "#,
    )
    .fetch_all(db.pool())
    .await?;
    let workers = sqlx::query_as::<_, WorkerInstance>(
        "SELECT id, hostname, mode, heartbeat_at, heartbeat_at > now() - interval '90 seconds' AS alive
         FROM worker_instances WHERE stopped_at IS NULL ORDER BY heartbeat_at DESC LIMIT 50",
    )
    .fetch_all(db.pool())
    .await?;
    let worker_keys = sqlx::query_as::<_, WorkerKeyRow>(
        "SELECT public_key, label, revoked_at IS NOT NULL AS revoked FROM worker_keys ORDER BY created_at",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(SettingsPage {
        connection: status.connection,
        schema: status.schema,
        service_identities: service_identities::list(db).await?,
        users: users::list(db).await?,
        sites,
        workers,
        worker_keys,
        warnings: status.warnings,
    })
}
