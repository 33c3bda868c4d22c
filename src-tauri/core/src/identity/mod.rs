//! Domain 1, Identity & RBAC: who the session is, what they may do, the humans
//! ([`users`]), the service identities automated work runs with
//! ([`service_identities`]), sealing their credentials for the workers ([`sealing`]) and
//! where a worker keeps its key ([`keystore`]).
//!
//! The database enforces every rule (see `migrations/0008_security.sql` and
//! `0009_users_and_identities.sql`); [`me`] only reports them so a UI can hide what the
//! user can't do. This module must never hold a decrypted credential beyond the call
//! that needs it, nor put one in a log, an error or a payload.
pub mod keystore;
pub mod ops;
pub mod sealing;
pub mod service_identities;
pub mod users;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::Result;
use crate::Database;

/// The session's identity and what it may do, as the database will judge it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Me {
    pub login: String,
    pub email: Option<String>,
    pub role: Option<String>,
    pub capabilities: Vec<String>,
    pub disabled: bool,
    pub may: Permissions,
}

/// One flag per action the UI offers. A hint only: the database decides.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct Permissions {
    pub read: bool,
    pub submit_jobs: bool,
    pub approve_jobs: bool,
    pub engage_kill_switch: bool,
    pub release_kill_switch: bool,
    pub plan_ipam: bool,
    pub manage_users: bool,
    pub manage_sources: bool,
    pub manage_service_identities: bool,
    pub run_workers: bool,
    /// Job types this user may submit or approve, after capabilities.
    pub job_types: Vec<String>,
}

/// The row [`me`] reads: who the session is and which group roles it holds.
#[derive(sqlx::FromRow)]
struct MeRow {
    login: String,
    email: Option<String>,
    role: Option<String>,
    capabilities: Vec<String>,
    disabled: Option<bool>,
    viewer: bool,
    operator: bool,
    approver: bool,
    admin: bool,
    worker: bool,
}

pub async fn me(db: &Database) -> Result<Me> {
    let r: MeRow = sqlx::query_as(
        r#"
        SELECT session_user::text AS login,
               u.email, u.role::text AS role, coalesce(u.capabilities, '{}') AS capabilities,
               u.disabled_at IS NOT NULL AS disabled,
               pg_has_role(session_user, 'eio_viewer', 'MEMBER') AS viewer,
               pg_has_role(session_user, 'eio_operator', 'MEMBER') AS operator,
               pg_has_role(session_user, 'eio_approver', 'MEMBER') AS approver,
               pg_has_role(session_user, 'eio_admin', 'MEMBER') AS admin,
               pg_has_role(session_user, 'eio_worker', 'MEMBER') AS worker
        FROM (SELECT 1) one
        LEFT JOIN users u ON u.login_role = session_user
        "#,
    )
    .fetch_one(db.pool())
    .await?;
    let MeRow { login, email, role, capabilities, disabled, viewer, operator, approver, admin, worker } = r;
    let disabled = disabled.unwrap_or(false);
    let mapped = email.is_some() && !disabled;
    let is_admin_user = role.as_deref() == Some("admin");
    let job_types = ["maintenance_mode", "firmware_update", "power", "sync", "report"]
        .into_iter()
        .filter(|t| match *t {
            "sync" | "report" => true,
            cap => is_admin_user || capabilities.iter().any(|c| c == cap),
        })
        .map(str::to_owned)
        .collect();
    Ok(Me {
        login,
        may: Permissions {
            read: viewer,
            submit_jobs: operator && mapped,
            approve_jobs: approver && mapped,
            engage_kill_switch: operator,
            release_kill_switch: admin,
            plan_ipam: operator,
            manage_users: admin && mapped,
            manage_sources: admin,
            manage_service_identities: admin,
            run_workers: worker,
            job_types: if operator && mapped { job_types } else { Vec::new() },
        },
        email,
        role,
        capabilities,
        disabled,
    })
}

/// Record this session's login in the audit trail (once per process). Databases whose
/// schema predates the function are skipped quietly; so is a login with no EIO role.
pub async fn record_login(db: &Database, client: &str) {
    if let Err(e) = sqlx::query("SELECT record_login($1)").bind(client).execute(db.pool()).await {
        tracing::debug!(error = %e, "login not recorded in the audit trail");
    }
}
