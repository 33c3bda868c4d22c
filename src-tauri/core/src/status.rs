//! The status page model: is the database reachable, who am I in it, is the schema
//! current, how much is in each table, what waits for approval, is the kill switch on.
//!
//! Works on a database that was never migrated (it then says so instead of failing), and
//! counts rows with the caller's own rights: row-level security and column grants apply.
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::db::{schema_state, Database, Target};
use crate::error::Result;

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct StatusPage {
    pub connection: ConnectionStatus,
    pub schema: SchemaStatus,
    /// Rows per table, keyed by table name, as far as this login may see them.
    pub tables: BTreeMap<String, i64>,
    /// Jobs awaiting approval (None before the schema exists).
    pub pending_approvals: Option<i64>,
    pub kill_switch: Option<KillSwitchStatus>,
    /// Things an operator should act on, in plain words.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseMode {
    Embedded,
    External,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ConnectionStatus {
    pub mode: DatabaseMode,
    /// The redacted URL, or the embedded cluster's folder.
    pub target: String,
    pub database: String,
    pub server_version: String,
    /// How the connection is protected: the TLS policy in force, and whether this very
    /// connection is encrypted.
    pub encryption: String,
    /// The PostgreSQL login this session runs as.
    pub login: String,
    pub superuser: bool,
    /// EIO group roles the login belongs to (eio_viewer, eio_operator, ...).
    pub roles: Vec<String>,
    /// The EIO user the login is mapped to, if any.
    pub user: Option<UserSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct UserSummary {
    pub email: String,
    pub role: String,
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SchemaStatus {
    pub applied_version: Option<i64>,
    pub latest_version: i64,
    pub pending: Vec<i64>,
    pub up_to_date: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct KillSwitchStatus {
    pub engaged: bool,
    pub reason: Option<String>,
    pub changed_by: Option<String>,
    #[ts(type = "string | null")]
    pub changed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// This connection and its login, as the first query of [`load`] reads them.
#[derive(sqlx::FromRow)]
struct SessionRow {
    database: String,
    server_version: String,
    login: String,
    superuser: bool,
    roles: Vec<String>,
    has_users: bool,
    has_jobs: bool,
    has_kill_switch: bool,
    this_connection: Option<String>,
}

/// Compute the status page in a handful of set-based queries.
pub async fn load(db: &Database) -> Result<StatusPage> {
    load_with(db, true).await
}

/// The status without `tables` (left empty) when `count_rows` is false: the settings page
/// shows the connection, the schema and the warnings, and counting every table's rows
/// exactly took most of its time at 100k VMs.
pub(crate) async fn load_with(db: &Database, count_rows: bool) -> Result<StatusPage> {
    let pool = db.pool();
    let row = sqlx::query_as::<_, SessionRow>(
        r#"
        SELECT current_database() AS database,
               current_setting('server_version') AS server_version,
               session_user::text AS login,
               (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) AS superuser,
               ARRAY(SELECT r.rolname::text FROM pg_roles r
                     WHERE r.rolname IN ('eio_viewer', 'eio_operator', 'eio_approver', 'eio_admin', 'eio_worker')
                       AND pg_has_role(session_user, r.oid, 'MEMBER')
                     ORDER BY r.rolname) AS roles,
               to_regclass('public.users') IS NOT NULL AS has_users,
               to_regclass('public.jobs') IS NOT NULL AS has_jobs,
               to_regclass('public.kill_switch') IS NOT NULL AS has_kill_switch,
               (SELECT CASE WHEN ssl THEN 'encrypted (' || version || ')' ELSE 'not encrypted' END
                FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS this_connection
        "#,
    )
    .fetch_one(pool)
    .await?;

    let SessionRow {
        database,
        server_version,
        login,
        superuser,
        roles,
        has_users,
        has_jobs,
        has_kill_switch,
        this_connection,
    } = row;

    let user = if has_users && (superuser || !roles.is_empty()) {
        sqlx::query_as::<_, UserSummary>(
            "SELECT email, role::text AS role, capabilities FROM users WHERE login_role = session_user",
        )
        .fetch_optional(pool)
        .await?
    } else {
        None
    };

    let state = schema_state(pool).await?;
    let schema = SchemaStatus {
        applied_version: state.applied_version,
        latest_version: state.latest_version,
        up_to_date: state.pending.is_empty() && state.unknown.is_empty(),
        pending: state.pending.clone(),
    };

    let tables = if count_rows { row_counts(db).await? } else { BTreeMap::new() };

    let pending_approvals = if has_jobs && (superuser || !roles.is_empty()) {
        Some(sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'awaiting_approval'").fetch_one(pool).await?)
    } else {
        None
    };

    let kill_switch = if has_kill_switch && (superuser || !roles.is_empty()) {
        sqlx::query_as::<_, KillSwitchStatus>(
            "SELECT engaged, reason, changed_by_login::text AS changed_by, changed_at FROM kill_switch",
        )
        .fetch_optional(pool)
        .await?
    } else {
        None
    };

    let mut warnings = Vec::new();
    if state.applied_version.is_none() {
        warnings.push("The database has no EIO schema yet: run `eio migrate` with an admin login.".to_owned());
    } else if !state.pending.is_empty() {
        warnings.push(format!(
            "The database schema is behind this build ({} migration(s) pending): run `eio migrate` with an admin login.",
            state.pending.len()
        ));
    }
    if let Some(advice) = state.ahead_advice() {
        warnings.push(format!("{advice}. Until then this EIO takes no jobs."));
    }
    if superuser {
        warnings.push(format!(
            "Connected as the superuser \"{login}\": database rules don't bind superusers. Use it for `eio migrate`, \
             and a personal login for everything else."
        ));
    } else if roles.is_empty() {
        warnings.push(format!("The login \"{login}\" has no EIO role: ask an admin to add it with `eio user add`."));
    } else if user.is_none() && !roles.iter().any(|r| r == "eio_worker") {
        warnings.push(format!(
            "The login \"{login}\" is not mapped to an EIO user: it can read, but can't submit or approve jobs."
        ));
    }
    if has_users && crate::db::advisory::open(pool).await? > 0 {
        warnings.push(
            "Every login may take EIO's advisory locks (the schema was migrated without a superuser): one with \
             psql could hold job leasing, IP allocation or a sync's writes. Run `eio migrate` once as a \
             superuser to make them EIO's own."
                .to_owned(),
        );
    }
    if let Some(k) = &kill_switch {
        if k.engaged {
            warnings.push(format!(
                "The kill switch is engaged{}: no job makes external calls until an admin releases it.",
                k.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
            ));
        }
    }

    let mode = match db.target() {
        Target::Embedded { .. } => DatabaseMode::Embedded,
        _ => DatabaseMode::External,
    };
    Ok(StatusPage {
        connection: ConnectionStatus {
            mode,
            target: db.target().describe(),
            database,
            server_version,
            encryption: {
                let policy = match db.target() {
                    Target::External { url, .. } => url.tls().to_string(),
                    Target::Embedded { .. } => "a Unix socket inside the data directory (no network)".into(),
                    Target::Pool => "as the caller's pool connects".into(),
                };
                format!("{policy}; this connection: {}", this_connection.as_deref().unwrap_or("unknown"))
            },
            login,
            superuser,
            roles,
            user,
        },
        schema,
        tables,
        pending_approvals,
        kill_switch,
        warnings,
    })
}

/// Exact row counts of every table in the schema this login may read, in one query.
async fn row_counts(db: &Database) -> Result<BTreeMap<String, i64>> {
    let pool = db.pool();
    let names: Vec<String> = sqlx::query_scalar(
        r#"
        SELECT c.relname::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          AND c.relname <> '_sqlx_migrations'
          AND has_any_column_privilege(c.oid, 'SELECT')
        ORDER BY 1
        "#,
    )
    .fetch_all(pool)
    .await?;
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    let sql = names
        .iter()
        .map(|n| {
            let ident = format!("\"{}\"", n.replace('"', "\"\""));
            let lit = format!("'{}'", n.replace('\'', "''"));
            format!("SELECT {lit}::text AS name, count(*)::int8 AS n FROM public.{ident}")
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let rows: Vec<(String, i64)> = sqlx::query_as(&sql).fetch_all(pool).await?;
    Ok(rows.into_iter().collect())
}

/// The `status` operation.
pub async fn status_page(session: &crate::api::Session, _: crate::api::NoInput) -> Result<StatusPage> {
    load(&session.db).await
}
