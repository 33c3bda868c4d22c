//! Source sync: bring the database's cache of each source in step with the source.
//!
//! Every sync opens a ledger run ([`ledger`]), decrypts the source's service identity with
//! this worker's key just before use (and records the use), asks the connector for a full
//! snapshot, and applies it in one transaction per source ([`snapshot`]), so either the
//! whole snapshot lands or nothing changes: a failing source leaves the last good
//! inventory byte for byte as it was, with the failure on its run and on the source.
//!
//! Dell fleets ([`dell`]) sync many endpoints at once, bounded per site, with per-endpoint
//! timeouts and retries; one failing BMC never blocks the rest.
pub mod dell;
pub mod ledger;
pub mod snapshot;
pub mod vcenter;

use std::sync::Arc;
use std::time::Duration;

use eio_connectors::http::{HttpConfig, Thumbprint, TlsPolicy};
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities as ids;
use eio_core::sources::SourceKind;
use eio_core::{Database, Error, Result};
use eio_secret::Credentials;
use uuid::Uuid;

/// How often and how patiently to retry an endpoint that failed for a passing reason
/// (timeouts, 503, refused connections). Refused credentials and TLS trust are never retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 3, first_backoff: Duration::from_millis(500) }
    }
}

impl RetryPolicy {
    /// The wait before attempt `n` (1-based; none before the first).
    pub fn backoff(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            Duration::ZERO
        } else {
            self.first_backoff * 3u32.pow(attempt - 2)
        }
    }
}

/// A worker's means to sync: the database, its private key, and its policies.
#[derive(Clone)]
pub struct Syncer {
    pub db: Database,
    key: Arc<WorkerKey>,
    /// Written on each run, so the ledger says who did it.
    pub worker: String,
    pub retry: RetryPolicy,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Endpoints synced at once per site, and overall.
    pub per_site_concurrency: usize,
    pub total_concurrency: usize,
    /// Objects per RetrievePropertiesEx page.
    pub vcenter_page_size: u32,
    /// How long a vCenter watcher lets changes gather before site inference and the
    /// findings engine run over them (once per window, not once per change batch: a
    /// busy vCenter sends batches every few seconds, and findings over a large estate
    /// take seconds).
    pub derived_after_changes: Duration,
    /// How long a vCenter watcher's lease (`leases` row `watch:vcenter:<id>`) lasts without
    /// renewal; it renews every third of it, and a watcher standing by looks that often.
    pub watch_lease: Duration,
}

impl Syncer {
    pub fn new(db: Database, key: WorkerKey, worker: impl Into<String>) -> Self {
        Syncer {
            db,
            key: Arc::new(key),
            worker: worker.into(),
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            per_site_concurrency: 16,
            total_concurrency: 32,
            vcenter_page_size: eio_connectors::vcenter::DEFAULT_PAGE_SIZE,
            derived_after_changes: Duration::from_secs(15),
            watch_lease: Duration::from_secs(30),
        }
    }

    /// The HTTP settings for a source: its TLS choice and this worker's timeouts.
    pub fn http_config(&self, source: &SourceRow) -> Result<HttpConfig> {
        let tls = if source.insecure {
            TlsPolicy::Insecure
        } else if let Some(t) = &source.thumbprint {
            TlsPolicy::Pinned(t.parse::<Thumbprint>().map_err(Error::invalid)?)
        } else {
            TlsPolicy::Verify
        };
        Ok(HttpConfig {
            tls,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            ..HttpConfig::default()
        })
    }

    /// Decrypt the source's credentials for this use.
    pub async fn credentials(&self, source: &SourceRow) -> Result<Credentials> {
        let (_, creds) = ids::open_by_id(&self.db, source.identity_id, &self.key).await?;
        Ok(creds)
    }

    /// Record whether the source accepted its identity (the database audits it).
    pub async fn record_use(&self, source: &SourceRow, outcome: std::result::Result<(), &str>) {
        if let Err(e) = ids::record_use(&self.db, source.identity_id, outcome).await {
            tracing::warn!(error = %e, source = %source.name, "could not record the use of a service identity");
        }
    }
}

/// What every sync ends with: site inference over the fresh inventory, then the IPAM
/// findings engine (duplicates, stale plans, full prefixes, credentials due, ...) over
/// what the sync or watcher batch changed: the database examines just those addresses,
/// MACs and prefixes, or everything when the change was a bulk one (a first or full sync
/// of a large source) or touched prefixes. Failures are logged and never fail the sync:
/// the inventory has landed either way, and both can be rerun on demand (`eio site
/// infer`, `eio ipam findings run`).
pub async fn refresh_derived(db: &Database) {
    if let Err(e) = eio_core::sites::infer(db).await {
        tracing::warn!(error = %e, "site inference after the sync failed");
    }
    match eio_core::ipam::findings::run(db, None).await {
        Ok(run) => tracing::info!(
            opened = run.opened,
            resolved = run.resolved,
            open = run.open_total,
            ms = run.duration_ms,
            scope = if run.incremental { "changes" } else { "full" },
            examined = run.examined,
            "findings after the sync"
        ),
        Err(e) => tracing::warn!(error = %e, "the findings run after the sync failed"),
    }
}

/// What a worker needs to know about one source.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SourceRow {
    pub kind: SourceKind,
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub identity_id: Uuid,
    pub thumbprint: Option<String>,
    pub insecure: bool,
    pub site_id: Option<Uuid>,
    pub routing_domain_id: Uuid,
    /// iDRAC only.
    pub driver_override: Option<String>,
    pub driver_preference: Option<String>,
}

/// The enabled sources of `kind` (optionally just the one named).
pub async fn sources(db: &Database, kind: SourceKind, name: Option<&str>) -> Result<Vec<SourceRow>> {
    let drivers = if kind == SourceKind::Idrac {
        "driver_override::text AS driver_override, driver_preference::text AS driver_preference"
    } else {
        "NULL::text AS driver_override, NULL::text AS driver_preference"
    };
    let rows: Vec<SourceRow> = sqlx::query_as(&format!(
        "SELECT $2 AS kind, id, name, url, service_identity_id AS identity_id, thumbprint_sha256 AS thumbprint,
                insecure, site_id, routing_domain_id, {drivers}
         FROM {} WHERE enabled AND ($1::text IS NULL OR name = $1) ORDER BY name",
        kind.table()
    ))
    .bind(name)
    .bind(kind)
    .fetch_all(db.pool())
    .await?;
    if let (Some(n), true) = (name, rows.is_empty()) {
        return Err(Error::not_found(format!("no enabled {} source named \"{n}\"", kind.as_str())));
    }
    Ok(rows)
}
