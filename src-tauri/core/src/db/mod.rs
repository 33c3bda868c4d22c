//! Connections, migrations and the schema version.
//!
//! Two kinds of connection exist and are never mixed up:
//! * the **application** connection ([`Database::open`]): the user's own login (or the
//!   embedded default's `eio_local`), bound by the grants and row-level security of
//!   `migrations/0008_security.sql`;
//! * the **migration** connection ([`migrate`]): a superuser or DBA login that owns the
//!   schema changes. The application never connects as the schema owner.
//!
//! The embedded default is created, started, migrated and given its local login on the
//! way in, so a newcomer never has to run `eio migrate` by hand.
pub mod advisory;
pub mod embedded;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor};

use crate::config::{Config, DatabaseChoice, DatabaseUrl, UrlOrigin};
use crate::error::{Error, ErrorCode, Result};
use embedded::EmbeddedCluster;

/// A closed set of words stored as a PostgreSQL enum: serde, TypeScript, JSON schema and
/// sqlx agree on the spelling, and `FromStr` gives command lines a helpful error.
macro_rules! db_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $pg:literal, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, ts_rs::TS, schemars::JsonSchema, sqlx::Type,
        )]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = $pg, rename_all = "snake_case")]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in the database's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The PostgreSQL enum type it is stored as.
            pub const PG_TYPE: &'static str = $pg;

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                match s.trim() {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::Error::invalid(format!(
                        "unknown {} \"{other}\" ({})",
                        $what,
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}
pub(crate) use db_enum;

/// The name of the constraint a database error names, if any.
pub(crate) fn constraint_of(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// Every migration in `migrations/`, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// An application connection pool and what it points at.
#[derive(Clone)]
pub struct Database {
    pool: PgPool,
    target: Arc<Target>,
    /// Fuzzy search's in-process text index over this pool's view (see `crate::search`).
    search: Arc<crate::search::SearchIndexCell>,
}

/// What a [`Database`] is connected to, for display. Never holds a password.
#[derive(Debug, Clone)]
pub enum Target {
    Embedded {
        dir: std::path::PathBuf,
    },
    External {
        url: DatabaseUrl,
        origin: UrlOrigin,
    },
    /// A pool handed in by a caller (tests).
    Pool,
}

impl Target {
    /// A human-readable address: the redacted URL or the embedded cluster's folder.
    pub fn describe(&self) -> String {
        match self {
            Target::Embedded { dir } => format!("embedded PostgreSQL in {}", dir.display()),
            Target::External { url, .. } => url.to_string(),
            Target::Pool => "a provided connection pool".into(),
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("target", &self.target).finish_non_exhaustive()
    }
}

impl Database {
    /// Connect as the application. For the embedded default this starts (and on first use
    /// creates and migrates) the private cluster and connects as its local login.
    pub async fn open(config: &Config) -> Result<Database> {
        Self::open_with_password(config, None).await
    }

    /// As [`Database::open`], with the user's password for a shared database (from a
    /// sign-in form or the keyring). Ignored for the embedded default.
    pub async fn open_with_password(config: &Config, password: Option<&eio_secret::Secret>) -> Result<Database> {
        match &config.database {
            DatabaseChoice::External { url, origin } => {
                let mut options = url.connect_options().application_name("eio");
                if let Some(p) = password {
                    options = options.password(p.expose());
                }
                guard_password(&options, password.is_some() || url_has_password(url)).await?;
                let pool = pool_options()
                    .connect_with(options)
                    .await
                    .map_err(|e| Error::from(e).context(format!("connecting to {url}")))?;
                Ok(Database {
                    pool,
                    target: Arc::new(Target::External { url: url.clone(), origin: origin.clone() }),
                    search: Arc::default(),
                })
            }
            DatabaseChoice::Embedded => {
                let cluster = start_embedded(config).await?;
                bootstrap_embedded(&cluster, false).await?;
                let pool = pool_options()
                    .connect_with(cluster.connect_options(embedded::LOCAL_LOGIN, embedded::DATABASE))
                    .await
                    .map_err(|e| Error::from(e).context("connecting to the embedded PostgreSQL"))?;
                Ok(Database {
                    pool,
                    target: Arc::new(Target::Embedded { dir: cluster.root().to_path_buf() }),
                    search: Arc::default(),
                })
            }
        }
    }

    /// Wrap an existing pool (tests, and callers that manage their own connections).
    pub fn from_pool(pool: PgPool) -> Database {
        Database { pool, target: Arc::new(Target::Pool), search: Arc::default() }
    }

    /// Wrap a pool a caller opened to `url` and manages itself (a browser session of
    /// `eio serve`, which forgets the password once its connections are open): shown as
    /// that database, as [`Database::open`]'s would be.
    pub fn from_external_pool(pool: PgPool, url: DatabaseUrl, origin: UrlOrigin) -> Database {
        Database { pool, target: Arc::new(Target::External { url, origin }), search: Arc::default() }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub(crate) fn search_index(&self) -> &crate::search::SearchIndexCell {
        &self.search
    }

    /// As [`Self::require_current_schema`], but a schema *ahead* of this build passes, with a
    /// warning: migrations are additive (expand/contract, `migrations/README.md`), so an
    /// instance of the previous release keeps serving during a rolling upgrade. It takes no
    /// jobs meanwhile: every worker checks [`SchemaState::ahead_advice`] before leasing.
    pub async fn require_compatible_schema(&self) -> Result<SchemaState> {
        let state = schema_state(&self.pool).await?;
        if let Some(advice) = state.ahead_advice() {
            tracing::warn!("{advice}; this instance serves its API but takes no jobs");
            return Ok(state);
        }
        self.require_current_schema().await
    }

    /// Fail with a clear message unless the schema matches this build exactly.
    pub async fn require_current_schema(&self) -> Result<SchemaState> {
        let state = schema_state(&self.pool).await?;
        if let Some(advice) = state.ahead_advice() {
            return Err(Error::new(ErrorCode::SchemaOutdated, advice));
        }
        if !state.pending.is_empty() {
            return Err(Error::new(
                ErrorCode::SchemaOutdated,
                format!(
                    "the database schema is behind this build ({} migration(s) pending); run `eio migrate` with an admin login",
                    state.pending.len()
                ),
            ));
        }
        Ok(state)
    }
}

fn url_has_password(url: &DatabaseUrl) -> bool {
    url::Url::parse(url.expose())
        .map(|u| u.password().is_some() || u.query_pairs().any(|(k, _)| k.eq_ignore_ascii_case("password")))
        .unwrap_or(false)
}

/// A password is never sent in clear text. sqlx answers a server's request for a cleartext
/// password with the password, whatever the connection (it has no `require_auth`), so before
/// connecting over TCP with an `sslmode` that allows an unencrypted connection (disable,
/// allow, prefer), EIO decides:
/// - a remote host with a password known to be sent (given, in the URL, or `PGPASSWORD`):
///   refused outright — only TLS protects a password on a network;
/// - otherwise (loopback, or a password sqlx may find in `~/.pgpass`): the server is asked
///   first how it would take a password, and one that declines TLS and asks for it in clear
///   text is refused before anything secret is sent. The check fails closed: a server that
///   can't be asked is not connected to. (A server that answers the check one way and a later
///   connection another defeats it; that is why remote hosts need TLS.)
///
/// Unix sockets are not checked: they don't leave the machine.
pub async fn guard_password(options: &PgConnectOptions, password_known: bool) -> Result<()> {
    use sqlx::postgres::PgSslMode;
    let host = options.get_host().to_owned();
    let port = options.get_port();
    let mode = options.get_ssl_mode();
    if host.starts_with('/') || !matches!(mode, PgSslMode::Disable | PgSslMode::Allow | PgSslMode::Prefer) {
        return Ok(());
    }
    let local = crate::config::is_local_host(&host);
    let password_known = password_known || std::env::var_os("PGPASSWORD").is_some_and(|p| !p.is_empty());
    if !local && password_known {
        return Err(Error::new(
            ErrorCode::Config,
            format!(
                "the database address for {host}:{port} allows an unencrypted connection (sslmode {mode:?}), and EIO never \
                 sends a password over one: use sslmode=require or stronger (the default for a remote host is verify-full)"
            ),
        ));
    }
    // Without a password to protect there is nothing to check (sqlx would send an empty one).
    let pgpass = std::env::var_os("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pgpass")))
        .is_some_and(|p| p.is_file());
    if !password_known && !pgpass {
        return Ok(());
    }
    let bare = host.trim_matches(|c| c == '[' || c == ']');
    match tokio::time::timeout(Duration::from_secs(10), asks_for_cleartext(bare, port, mode, options)).await {
        Ok(Ok(false)) => Ok(()),
        Ok(Ok(true)) => Err(Error::new(
            ErrorCode::Config,
            format!(
                "the database server at {host}:{port} offers no TLS and asks for the password in clear text: EIO never sends \
                 a password that way. Turn TLS on at the server (ssl = on) or use scram-sha-256 authentication"
            ),
        )),
        Ok(Err(e)) => Err(Error::new(ErrorCode::Unavailable, format!("cannot reach the database server at {host}:{port}: {e}"))),
        Err(_) => Err(Error::new(
            ErrorCode::Unavailable,
            format!("the database server at {host}:{port} did not answer within 10 s"),
        )),
    }
}

/// Would the server at `host:port` take a password in clear text over this connection?
/// Speaks just enough of the protocol: SSLRequest (for prefer), then StartupMessage, then
/// reads the first authentication request; closes without authenticating.
async fn asks_for_cleartext(
    host: &str,
    port: u16,
    mode: sqlx::postgres::PgSslMode,
    options: &PgConnectOptions,
) -> std::io::Result<bool> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect((host, port)).await?;
    if matches!(mode, sqlx::postgres::PgSslMode::Prefer) {
        // SSLRequest: length 8, code 80877103.
        stream.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]).await?;
        let mut answer = [0u8; 1];
        stream.read_exact(&mut answer).await?;
        if answer[0] == b'S' {
            return Ok(false); // TLS: the password travels encrypted.
        }
    }
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes()); // protocol 3.0
    for (k, v) in [("user", options.get_username()), ("database", options.get_database().unwrap_or_default())] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    stream.write_all(&message).await?;
    let mut head = [0u8; 9];
    match stream.read_exact(&mut head).await {
        Ok(_) => {}
        // An error message shorter than 9 bytes, or a close: no password asked for.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    }
    // 'R' (authentication request) with code 3: AuthenticationCleartextPassword.
    Ok(head[0] == b'R' && head[5..9] == 3u32.to_be_bytes())
}

/// The application's pool. Its sessions run without JIT: every statement it sends is a
/// short read or write, and on a database not analyzed since a large sync PostgreSQL's
/// estimates can pass `jit_above_cost` and spend over a second compiling a page's query
/// (the dashboard's counts per site: 1.4 s with JIT, 19 ms without, at 10k VMs).
fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new().max_connections(10).acquire_timeout(Duration::from_secs(15)).after_connect(|conn, _| {
        Box::pin(async move {
            sqlx::Executor::execute(conn, "SET jit = off").await?;
            Ok(())
        })
    })
}

async fn start_embedded(config: &Config) -> Result<EmbeddedCluster> {
    let cluster = EmbeddedCluster::new(config.embedded_dir())?;
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.ensure_running())
        .await
        .map_err(|e| Error::internal(format!("embedded PostgreSQL start task failed: {e}")))??;
    Ok(cluster)
}

/// Create the application database, migrate it and make sure the local login exists.
/// Runs as the cluster's superuser over the private socket; idempotent.
/// `recount`: also rebuild the kept VM counts ([`recount_vm_counts`]), as `eio migrate` does.
async fn bootstrap_embedded(cluster: &EmbeddedCluster, recount: bool) -> Result<MigrationReport> {
    // One process at a time (the desktop and a terminal at first run, or N `eio status`).
    let c = cluster.clone();
    let _turn = tokio::task::spawn_blocking(move || c.bootstrap_lock())
        .await
        .map_err(|e| Error::internal(format!("embedded PostgreSQL bootstrap lock task failed: {e}")))??;
    let su = |db: &str| cluster.connect_options(embedded::SUPERUSER, db);
    let mut admin = sqlx::PgConnection::connect_with(&su("postgres"))
        .await
        .map_err(|e| Error::from(e).context("connecting to the embedded PostgreSQL"))?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(embedded::DATABASE)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        admin.execute(format!("CREATE DATABASE {}", embedded::DATABASE).as_str()).await?;
    }
    admin.close().await?;

    let pool = PgPoolOptions::new().max_connections(1).connect_with(su(embedded::DATABASE)).await?;
    let mut report = migrate_pool(&pool).await?;
    // The local user: admin (configures the estate) and worker (runs the engine), but
    // never the schema owner and never a superuser, so the database's rules bind it too.
    sqlx::raw_sql(&format!(
        r#"
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{login}') THEN
                CREATE ROLE {login} LOGIN;
            END IF;
        END
        $$;
        GRANT eio_admin, eio_worker TO {login};
        INSERT INTO users (email, display_name, role, login_role)
        VALUES ('local-admin@localhost', 'Local administrator', 'admin', '{login}')
        ON CONFLICT ON CONSTRAINT users_login_role_key DO NOTHING;
        "#,
        login = embedded::LOCAL_LOGIN
    ))
    .execute(&pool)
    .await?;
    if recount {
        report.vm_count_groups_corrected = Some(recount_vm_counts(&pool).await?);
    }
    pool.close().await;
    Ok(report)
}

/// What `eio migrate` did.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub target: String,
    pub version_before: Option<i64>,
    pub version_after: Option<i64>,
    pub applied: Vec<AppliedMigration>,
    /// Groups of the kept VM counts that were wrong and were recounted (None: not checked).
    pub vm_count_groups_corrected: Option<i64>,
    /// Advisory lock functions this run took from the application's logins (migration
    /// 0067): Some(n) when a superuser migrated a schema a non-superuser migration left open.
    pub advisory_locks_restricted: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
}

/// Bring the configured database's schema up to date. External databases are migrated
/// with the URL's login, which must be allowed to create roles and own the schema.
pub async fn migrate(config: &Config) -> Result<MigrationReport> {
    match &config.database {
        DatabaseChoice::External { url, .. } => {
            let options = url.connect_options().application_name("eio migrate");
            guard_password(&options, url_has_password(url)).await?;
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .map_err(|e| Error::from(e).context(format!("connecting to {url}")))?;
            let mut report = migrate_pool(&pool).await?;
            report.vm_count_groups_corrected = Some(recount_vm_counts(&pool).await?);
            report.advisory_locks_restricted = advisory::restrict(&pool).await?;
            report.target = url.to_string();
            pool.close().await;
            Ok(report)
        }
        DatabaseChoice::Embedded => {
            let cluster = start_embedded(config).await?;
            let mut report = bootstrap_embedded(&cluster, true).await?;
            report.target = Target::Embedded { dir: cluster.root().to_path_buf() }.describe();
            Ok(report)
        }
    }
}

/// Apply pending migrations through `pool` (which must be a migration login).
pub async fn migrate_pool(pool: &PgPool) -> Result<MigrationReport> {
    let before = schema_state(pool).await?;
    MIGRATOR.run(pool).await?;
    // Which release applied them, for an older instance to name (see `SchemaState::ahead_release`).
    sqlx::query(
        "INSERT INTO schema_releases (version, release)
         SELECT version, $2 FROM _sqlx_migrations WHERE success AND version = ANY($1)
         ON CONFLICT (version) DO NOTHING",
    )
    .bind(&before.pending)
    .bind(env!("CARGO_PKG_VERSION"))
    .execute(pool)
    .await?;
    let after = schema_state(pool).await?;
    let applied = MIGRATOR
        .iter()
        .filter(|m| before.pending.contains(&m.version))
        .map(|m| AppliedMigration { version: m.version, description: m.description.to_string() })
        .collect();
    Ok(MigrationReport {
        target: String::new(),
        version_before: before.applied_version,
        version_after: after.applied_version,
        applied,
        vm_count_groups_corrected: None,
        advisory_locks_restricted: None,
    })
}

/// Recount the VM counts the database keeps (migrations 0064, 0065) from the VMs, through
/// `pool` (a migration login). The triggers keep them right for every write they see; this
/// repairs what they could not see (triggers disabled, a data-only restore). Safe beside
/// running writers. Returns how many groups were wrong.
pub async fn recount_vm_counts(pool: &PgPool) -> Result<i64> {
    // It waits for a fold under way, which a long sync may hold to its commit; not forever.
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '120s'").execute(&mut *tx).await?;
    // As the schema's owner, never as the login: `eio migrate` may run as a superuser, and
    // the superuser must not run code of the schema with its own rights (migration 0067).
    sqlx::query("SET LOCAL ROLE eio_owner").execute(&mut *tx).await?;
    let wrong: i64 = sqlx::query_scalar("SELECT vm_counts_rebuild()").fetch_one(&mut *tx).await.map_err(|e| {
        let waited = matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("55P03"));
        let e = Error::from(e);
        match waited {
            true => e.context(
                "recounting the kept VM counts waited 120 s for another session's fold lock (see pg_locks); \
                 run `eio migrate` again when it is free",
            ),
            false => e.context("recounting the kept VM counts"),
        }
    })?;
    tx.commit().await?;
    if wrong > 0 {
        tracing::warn!(groups = wrong, "the kept VM counts had drifted from the VMs and were recounted");
    }
    Ok(wrong)
}

/// Where the schema stands against this build's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// Highest successfully applied version (None: never migrated).
    pub applied_version: Option<i64>,
    /// Highest version this build knows.
    pub latest_version: i64,
    /// Versions this build has and the database lacks.
    pub pending: Vec<i64>,
    /// Versions the database has and this build doesn't (a newer EIO migrated it).
    pub unknown: Vec<i64>,
    /// The release that applied the newest of `unknown`, when `eio migrate` recorded it
    /// (`schema_releases`): the release to install.
    pub ahead_release: Option<String>,
}

impl SchemaState {
    /// What to install when the schema is ahead of this build, in words (None: it isn't).
    pub fn ahead_advice(&self) -> Option<String> {
        let newest = self.unknown.iter().copied().max()?;
        Some(match &self.ahead_release {
            Some(release) => format!(
                "the database was migrated by EIO {release} (migration {newest} is unknown to EIO {}): install EIO \
                 {release} or later",
                env!("CARGO_PKG_VERSION")
            ),
            None => format!(
                "the database was migrated by a newer EIO (migration {newest} is unknown to EIO {}): install the \
                 release that migrated it",
                env!("CARGO_PKG_VERSION")
            ),
        })
    }
}

pub async fn schema_state(pool: &PgPool) -> Result<SchemaState> {
    let has_table: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL").fetch_one(pool).await?;
    let applied: Vec<i64> = if has_table {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    let unknown: Vec<i64> = applied.iter().copied().filter(|v| !known.contains(v)).collect();
    let ahead_release = match unknown.is_empty() {
        true => None,
        false => sqlx::query_scalar(
            "SELECT (SELECT release FROM schema_releases WHERE version = ANY($1) ORDER BY version DESC LIMIT 1)
              WHERE to_regclass('public.schema_releases') IS NOT NULL",
        )
        .bind(&unknown)
        .fetch_optional(pool)
        .await
        // Unreadable (an older grant set): the advice names no release.
        .unwrap_or(None)
        .flatten(),
    };
    Ok(SchemaState {
        applied_version: applied.last().copied(),
        latest_version: known.iter().copied().max().unwrap_or(0),
        pending: known.iter().copied().filter(|v| !applied.contains(v)).collect(),
        unknown,
        ahead_release,
    })
}

/// Stop the embedded cluster of `config` if it runs. Returns whether it was running.
pub async fn stop_embedded(config: &Config) -> Result<bool> {
    let cluster = EmbeddedCluster::new(config.embedded_dir())?;
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .map_err(|e| Error::internal(format!("embedded PostgreSQL stop task failed: {e}")))?
}

/// The connect options a test or tool would use to reach the embedded cluster as `user`.
pub fn embedded_connect_options(config: &Config, user: &str) -> Result<PgConnectOptions> {
    Ok(EmbeddedCluster::new(config.embedded_dir())?.connect_options(user, embedded::DATABASE))
}
