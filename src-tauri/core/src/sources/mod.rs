//! Sources: the vCenters, iDRACs and OpenManage Enterprise instances EIO syncs from.
//!
//! Adding one records where it is, how its TLS certificate is trusted (system roots by
//! default, a pinned SHA-256 thumbprint for self-signed endpoints, or an explicit
//! `insecure`), and which service identity it authenticates with — reusing a named one or
//! creating one in the same transaction, so a failed add leaves nothing behind. Admins
//! add, edit, re-pin and remove sources; the database enforces it (only `eio_admin` may
//! write these tables).
//!
//! [`ops`] holds the domain's operations (the registry's handlers); [`import`] reads an
//! iDRAC CSV into rows to preview and add. Only [`ops::source_probe`] contacts anything:
//! it reads the certificate an endpoint presents, and sends it nothing.
pub mod import;
pub mod ops;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::identity::service_identities::{self as ids, ExternalSystem};
use crate::inventory::states::{IdracDriver, IdracGeneration, SyncOutcome};
use crate::Database;
use eio_secret::Credentials;

crate::db::db_enum! {
    /// What a source is: a vCenter, an iDRAC, or an OpenManage Enterprise.
    pub enum SourceKind: "source_kind", "source kind" {
        Vcenter = "vcenter",
        Idrac = "idrac",
        Ome = "ome",
    }
}

impl SourceKind {
    /// The table holding this kind of source.
    pub fn table(self) -> &'static str {
        match self {
            SourceKind::Vcenter => "vcenter_instances",
            SourceKind::Idrac => "idrac_endpoints",
            SourceKind::Ome => "ome_instances",
        }
    }

    fn system(self) -> ExternalSystem {
        match self {
            SourceKind::Vcenter => ExternalSystem::Vcenter,
            SourceKind::Idrac => ExternalSystem::Idrac,
            SourceKind::Ome => ExternalSystem::Ome,
        }
    }
}

/// The kind a listing's row names (as text: the three tables share no enum column).
impl TryFrom<String> for SourceKind {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

/// How the source's TLS certificate is trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsChoice {
    /// SHA-256 of the certificate, any common spelling (`AB:CD:…`, hex).
    pub thumbprint: Option<String>,
    /// Trust any certificate (and allow plain http). Explicit operator choice only.
    pub insecure: bool,
}

/// Which service identity a new source authenticates with.
#[derive(Debug, Clone)]
pub enum IdentityChoice {
    /// Reuse an existing identity by name.
    Existing(String),
    /// Create one (named after the source unless `name` is given).
    New { name: Option<String>, credentials: Credentials, rotation_period_days: i32 },
}

#[derive(Debug, Clone)]
pub struct NewSource {
    pub kind: SourceKind,
    pub name: String,
    pub url: String,
    pub identity: IdentityChoice,
    pub tls: TlsChoice,
    /// Site code (`US-EAST-01`).
    pub site: Option<String>,
    /// iDRAC only: redfish, wsman or racadm (None: chosen per endpoint by probing).
    pub driver: Option<String>,
}

/// How a source's certificate is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Verified against the system's trusted roots.
    Verify,
    /// Exactly the certificate with the pinned SHA-256.
    Pinned,
    /// Any certificate (labs only).
    Insecure,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Verify => "verify",
            TlsMode::Pinned => "pinned",
            TlsMode::Insecure => "insecure",
        }
    }
}

/// The columns a source's [`TlsMode`] follows from.
#[derive(sqlx::FromRow)]
struct TlsColumns {
    thumbprint_sha256: Option<String>,
    insecure: bool,
}

impl From<TlsColumns> for TlsMode {
    fn from(c: TlsColumns) -> TlsMode {
        if c.insecure {
            TlsMode::Insecure
        } else if c.thumbprint_sha256.is_some() {
            TlsMode::Pinned
        } else {
            TlsMode::Verify
        }
    }
}

impl std::fmt::Display for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source as listings show it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct Source {
    #[ts(type = "string")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub kind: SourceKind,
    pub name: String,
    pub url: String,
    pub service_identity: String,
    #[sqlx(flatten, try_from = "TlsColumns")]
    pub tls: TlsMode,
    pub thumbprint_sha256: Option<String>,
    pub site: Option<String>,
    pub enabled: bool,
    #[ts(type = "string | null")]
    pub last_sync_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_sync_status: Option<SyncOutcome>,
    pub last_error: Option<String>,
    /// iDRAC: generation and the driver in use, with why.
    pub generation: Option<IdracGeneration>,
    pub driver: Option<IdracDriver>,
    pub driver_reason: Option<String>,
    /// Registered by the demo lab (it pauses these when it stops).
    pub demo_lab: bool,
}

/// Normalize a SHA-256 thumbprint to the 64 lowercase hex digits the database stores.
pub fn normalize_thumbprint(raw: &str) -> Result<String> {
    let hex: String = raw.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect::<String>().to_ascii_lowercase();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid(format!("\"{raw}\" is not a SHA-256 thumbprint (64 hex digits, colons allowed)")));
    }
    Ok(hex)
}

/// Check and normalize a source URL: https (http only with `insecure`), a host, and for
/// vCenter the `/sdk` endpoint (added when missing).
pub fn normalize_url(kind: SourceKind, raw: &str, insecure: bool) -> Result<String> {
    let with_scheme = if raw.contains("://") { raw.trim().to_owned() } else { format!("https://{}", raw.trim()) };
    // Messages never repeat credentials someone put in the URL.
    let shown = without_userinfo(raw.trim());
    let mut u = url::Url::parse(&with_scheme).map_err(|e| Error::invalid(format!("\"{shown}\" is not a URL: {e}")))?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(Error::invalid("put credentials in the service identity, not in the URL"));
    }
    match u.scheme() {
        "https" => {}
        "http" if insecure => {}
        "http" => {
            return Err(Error::invalid(format!(
                "{shown} is plain http: credentials would travel unencrypted; use https (or insecure, for a lab)"
            )))
        }
        other => return Err(Error::invalid(format!("{shown}: unsupported scheme {other} (https)"))),
    }
    if u.host_str().unwrap_or_default().is_empty() {
        return Err(Error::invalid(format!("{shown} has no host")));
    }
    match kind {
        SourceKind::Vcenter if u.path() == "/" || u.path().is_empty() => u.set_path("/sdk"),
        SourceKind::Vcenter => {}
        SourceKind::Idrac | SourceKind::Ome => u.set_path(""),
    }
    u.set_query(None);
    u.set_fragment(None);
    Ok(u.to_string().trim_end_matches('/').to_owned())
}

/// `raw` without anything between the scheme and an `@` before the path.
fn without_userinfo(raw: &str) -> String {
    let (scheme, rest) = raw.split_once("://").map_or(("", raw), |(s, r)| (s, r));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    if scheme.is_empty() {
        rest.to_owned()
    } else {
        format!("{scheme}://{rest}")
    }
}

/// Add a source (admins). The identity is created in the same transaction when asked.
pub async fn add(db: &Database, new: &NewSource) -> Result<Source> {
    if new.tls.insecure && new.tls.thumbprint.is_some() {
        return Err(Error::invalid("choose either a pinned thumbprint or insecure, not both"));
    }
    check_driver(new.kind, new.driver.as_deref())?;
    let url = normalize_url(new.kind, &new.url, new.tls.insecure)?;
    let thumbprint = new.tls.thumbprint.as_deref().map(normalize_thumbprint).transpose()?;

    let mut tx = db.pool().begin().await?;
    let identity_id: Uuid = match &new.identity {
        IdentityChoice::Existing(name) => sqlx::query_scalar("SELECT id FROM service_identities WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::not_found(format!("no service identity named \"{name}\"")))?,
        IdentityChoice::New { name, credentials, rotation_period_days } => {
            let name = name.clone().unwrap_or_else(|| new.name.clone());
            let recipients = ids::trusted_worker_keys(db).await?;
            ids::insert_sealed(&mut tx, &name, new.kind.system(), credentials, &recipients, *rotation_period_days)
                .await?
        }
    };
    let site_id: Option<Uuid> = match &new.site {
        Some(code) => Some(
            sqlx::query_scalar("SELECT id FROM sites WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| Error::not_found(format!("no site with code {code}")))?,
        ),
        None => None,
    };
    let (extra_col, extra_val) =
        if new.kind == SourceKind::Idrac { (", driver_override", ", $7::idrac_driver") } else { ("", "") };
    let sql = format!(
        "INSERT INTO {} (name, url, service_identity_id, thumbprint_sha256, insecure, site_id{extra_col})
         VALUES ($1, $2, $3, $4, $5, $6{extra_val}) RETURNING id",
        new.kind.table()
    );
    let mut q = sqlx::query_scalar::<_, Uuid>(&sql)
        .bind(&new.name)
        .bind(&url)
        .bind(identity_id)
        .bind(&thumbprint)
        .bind(new.tls.insecure)
        .bind(site_id);
    if new.kind == SourceKind::Idrac {
        q = q.bind(&new.driver);
    }
    q.fetch_one(&mut *tx).await.map_err(|e| {
        let err = Error::from(e);
        if err.sqlstate().as_deref() == Some("23505") {
            Error::conflict(format!("a {} source named \"{}\" already exists", new.kind.as_str(), new.name))
        } else {
            err
        }
    })?;
    tx.commit().await?;
    get(db, new.kind, &new.name).await
}

/// Changes to a source; `None` keeps a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SourceChanges {
    pub url: Option<String>,
    /// The service identity to authenticate with, by name.
    pub identity: Option<String>,
    /// `Some(None)` clears the site.
    pub site: Option<Option<String>>,
    /// iDRAC only: `Some(None)` goes back to probing (auto).
    pub driver: Option<Option<String>>,
    pub enabled: Option<bool>,
    /// Trust the system's roots, pin a thumbprint, or accept any certificate.
    pub tls: Option<TlsChoice>,
}

fn check_driver(kind: SourceKind, driver: Option<&str>) -> Result<()> {
    match driver {
        None => Ok(()),
        Some(_) if kind != SourceKind::Idrac => Err(Error::invalid("a driver applies to iDRAC sources only")),
        Some("redfish" | "wsman" | "racadm") => Ok(()),
        Some(d) => Err(Error::invalid(format!("unknown driver \"{d}\" (auto, redfish, wsman, racadm)"))),
    }
}

/// Change a source (admins): its address, identity, site, driver, trust or whether it
/// syncs. A running watcher picks the change up by itself.
pub async fn update(db: &Database, kind: SourceKind, name: &str, changes: &SourceChanges) -> Result<Source> {
    let current = get(db, kind, name).await?;
    let tls = match &changes.tls {
        Some(t) if t.insecure && t.thumbprint.is_some() => {
            return Err(Error::invalid("choose either a pinned thumbprint or insecure, not both"))
        }
        Some(t) => t.clone(),
        None => TlsChoice { thumbprint: current.thumbprint_sha256.clone(), insecure: current.tls == TlsMode::Insecure },
    };
    let thumbprint = tls.thumbprint.as_deref().map(normalize_thumbprint).transpose()?;
    let url = normalize_url(kind, changes.url.as_deref().unwrap_or(&current.url), tls.insecure)?;
    let driver = match &changes.driver {
        Some(d) => d.clone().filter(|d| d != "auto"),
        None if kind == SourceKind::Idrac => {
            sqlx::query_scalar::<_, Option<String>>("SELECT driver_override::text FROM idrac_endpoints WHERE id = $1")
                .bind(current.id)
                .fetch_one(db.pool())
                .await?
        }
        None => None,
    };
    check_driver(kind, driver.as_deref())?;

    let mut tx = db.pool().begin().await?;
    let identity = changes.identity.as_deref().unwrap_or(&current.service_identity);
    let identity_id: Uuid = sqlx::query_scalar("SELECT id FROM service_identities WHERE name = $1")
        .bind(identity)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found(format!("no service identity named \"{identity}\"")))?;
    let site = match &changes.site {
        Some(s) => s.clone().filter(|s| !s.trim().is_empty()),
        None => current.site.clone(),
    };
    let site_id: Option<Uuid> = match &site {
        Some(code) => Some(
            sqlx::query_scalar("SELECT id FROM sites WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| Error::not_found(format!("no site with code {code}")))?,
        ),
        None => None,
    };
    let extra = if kind == SourceKind::Idrac { ", driver_override = $8::idrac_driver" } else { "" };
    let sql = format!(
        "UPDATE {} SET url = $2, service_identity_id = $3, site_id = $4, thumbprint_sha256 = $5, insecure = $6,
                enabled = $7, updated_at = now(){extra}
         WHERE id = $1",
        kind.table()
    );
    let mut q = sqlx::query(&sql)
        .bind(current.id)
        .bind(&url)
        .bind(identity_id)
        .bind(site_id)
        .bind(&thumbprint)
        .bind(tls.insecure)
        .bind(changes.enabled.unwrap_or(current.enabled));
    if kind == SourceKind::Idrac {
        q = q.bind(&driver);
    }
    q.execute(&mut *tx).await?;
    tx.commit().await?;
    get(db, kind, name).await
}

const LIST_SQL: &str = r#"
    SELECT s.id, s.kind, s.name, s.url, si.name AS service_identity, s.thumbprint_sha256, s.insecure, st.code AS site,
           s.enabled, s.last_sync_at, s.last_sync_status, s.last_error,
           s.generation, s.driver, s.driver_reason, s.demo_lab
    FROM (
        SELECT id, 'vcenter' AS kind, name, url, service_identity_id, thumbprint_sha256, insecure, site_id, enabled,
               last_sync_at, last_sync_status, last_error, NULL::idrac_generation AS generation, NULL::idrac_driver AS driver,
               NULL::text AS driver_reason, demo_lab
        FROM vcenter_instances
        UNION ALL
        SELECT id, 'idrac', name, url, service_identity_id, thumbprint_sha256, insecure, site_id, enabled,
               last_sync_at, last_sync_status, last_error, generation,
               coalesce(driver_override, driver_preference), driver_reason, demo_lab
        FROM idrac_endpoints
        UNION ALL
        SELECT id, 'ome', name, url, service_identity_id, thumbprint_sha256, insecure, site_id, enabled,
               last_sync_at, last_sync_status, last_error, NULL, NULL, NULL, demo_lab
        FROM ome_instances
    ) s
    JOIN service_identities si ON si.id = s.service_identity_id
    LEFT JOIN sites st ON st.id = s.site_id
"#;

pub async fn list(db: &Database) -> Result<Vec<Source>> {
    Ok(sqlx::query_as(&format!("{LIST_SQL} ORDER BY s.kind, s.name")).fetch_all(db.pool()).await?)
}

/// Which sources the settings page shows: all of them when every field is blank.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct SourcesQuery {
    #[serde(default)]
    pub kind: Option<SourceKind>,
    /// Part of a name or an address.
    #[serde(default)]
    pub q: Option<String>,
    /// failing (the last sync failed or was partial) | never (not synced yet) | disabled.
    #[serde(default)]
    pub status: Option<String>,
    /// First row of the page (default 0).
    #[serde(default)]
    pub offset: Option<i64>,
    /// Rows in the page (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// A page of sources, by kind then name, and how many the filters keep.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SourcesPage {
    pub total: i64,
    pub offset: i64,
    pub sources: Vec<Source>,
    /// Sources per kind and per status (failing, never, disabled), over every source: on
    /// the first page of a list that is not searched.
    pub facets: Option<SourceFacets>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct SourceFacets {
    pub kinds: Vec<crate::pages::Count>,
    pub statuses: Vec<crate::pages::Count>,
}

/// What `status` may ask for.
const STATUSES: [&str; 3] = ["failing", "never", "disabled"];

#[derive(sqlx::FromRow)]
struct PagedSource {
    #[sqlx(flatten)]
    source: Source,
    total: i64,
}

/// One page of the sources `q` keeps: one statement for the page, one for the facets.
pub async fn page(db: &Database, q: &SourcesQuery) -> Result<SourcesPage> {
    let (offset, limit) = crate::pages::window(q.offset, q.limit, 100, 1000);
    let status = crate::pages::one_of(&q.status, &STATUSES, "source status")?;
    let search = crate::pages::search_term(&q.q);
    let like = search.as_deref().map(|s| format!("%{}%", crate::pages::inventory::like_escape(s)));
    let want_facets = offset == 0 && search.is_none();
    let sql = format!(
        r#"
        SELECT l.*, count(*) OVER () AS total FROM ({LIST_SQL}
            WHERE ($1::text IS NULL OR s.kind = $1)
              AND ($2::text IS NULL OR s.name ILIKE $2 OR s.url ILIKE $2)
              AND ($3::text IS NULL
                   OR ($3 = 'failing' AND s.last_sync_status IN ('failed', 'partial'))
                   OR ($3 = 'never' AND s.last_sync_at IS NULL)
                   OR ($3 = 'disabled' AND NOT s.enabled))
        ) l
        ORDER BY l.kind, l.name
        LIMIT $4 OFFSET $5
        "#
    );
    let run = |limit: i64, offset: i64| {
        sqlx::query_as::<_, PagedSource>(&sql)
            .bind(q.kind.map(SourceKind::as_str))
            .bind(like.as_deref())
            .bind(status)
            .bind(limit)
            .bind(offset)
            .fetch_all(db.pool())
    };
    let facets = async {
        if !want_facets {
            return Ok(None);
        }
        let counts: Vec<(String, String, i64)> = sqlx::query_as(
            r#"
            WITH s AS (
                SELECT 'vcenter' AS kind, enabled, last_sync_at, last_sync_status FROM vcenter_instances
                UNION ALL SELECT 'idrac', enabled, last_sync_at, last_sync_status FROM idrac_endpoints
                UNION ALL SELECT 'ome', enabled, last_sync_at, last_sync_status FROM ome_instances
            )
            SELECT 'kind' AS facet, kind AS value, count(*) AS n FROM s GROUP BY kind
            UNION ALL SELECT 'status', v, n FROM (
                SELECT count(*) FILTER (WHERE last_sync_status IN ('failed', 'partial')) AS failing,
                       count(*) FILTER (WHERE last_sync_at IS NULL) AS never,
                       count(*) FILTER (WHERE NOT enabled) AS disabled
                FROM s
            ) c, LATERAL (VALUES ('failing', c.failing), ('never', c.never), ('disabled', c.disabled)) AS x(v, n)
            "#,
        )
        .fetch_all(db.pool())
        .await?;
        let mut f = SourceFacets::default();
        for (facet, value, count) in counts {
            let c = crate::pages::Count { value, count };
            if facet == "kind" {
                f.kinds.push(c)
            } else {
                f.statuses.push(c)
            }
        }
        f.kinds.sort_by(|a, b| a.value.cmp(&b.value));
        f.statuses.sort_by_key(|c| STATUSES.iter().position(|v| *v == c.value));
        Ok::<_, Error>(Some(f))
    };
    let (rows, facets) = tokio::try_join!(async { Ok::<_, Error>(run(limit, offset).await?) }, facets)?;
    let mut total = rows.first().map_or(0, |r| r.total);
    if rows.is_empty() && offset > 0 {
        // Past the end: no row carried the total.
        total = run(1, 0).await?.first().map_or(0, |r| r.total);
    }
    Ok(SourcesPage { total, offset, sources: rows.into_iter().map(|r| r.source).collect(), facets })
}

pub async fn get(db: &Database, kind: SourceKind, name: &str) -> Result<Source> {
    sqlx::query_as(&format!("{LIST_SQL} WHERE s.kind = $1 AND s.name = $2"))
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no {} source named \"{name}\"", kind.as_str())))
}

/// Mark a source as the demo lab's (admins; the demo does it for the sources it adds).
pub async fn mark_demo_lab(db: &Database, kind: SourceKind, name: &str) -> Result<()> {
    sqlx::query(&format!("UPDATE {} SET demo_lab = true WHERE name = $1 AND NOT demo_lab", kind.table()))
        .bind(name)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Pause (disable) the enabled demo-lab sources as the demo stops, or resume (enable) the
/// ones it paused as it starts; returns how many changed. Sources an operator added, and
/// demo sources an operator disabled, are never touched.
pub async fn set_demo_lab_enabled(db: &Database, enabled: bool) -> Result<u64> {
    let sql = if enabled {
        "UPDATE {} SET enabled = true, demo_lab_paused = false WHERE demo_lab AND demo_lab_paused"
    } else {
        "UPDATE {} SET enabled = false, demo_lab_paused = true WHERE demo_lab AND enabled"
    };
    let mut changed = 0;
    for kind in [SourceKind::Vcenter, SourceKind::Idrac, SourceKind::Ome] {
        changed += sqlx::query(&sql.replace("{}", kind.table())).execute(db.pool()).await?.rows_affected();
    }
    Ok(changed)
}

/// What removing a source takes with it, counted before (or as) it goes.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SourceRemoval {
    pub source: Source,
    /// False for a preview (`dry_run`): nothing was removed.
    pub removed: bool,
    /// vCenter: its cached datacenters, clusters, hosts and VMs go with it.
    pub datacenters: i64,
    pub clusters: i64,
    pub hosts: i64,
    pub vms: i64,
    /// iDRAC and OME: servers only this source reports, marked removed (kept for history).
    pub servers_retired: i64,
    /// iDRAC and OME: servers another source also reports, which stay in the inventory.
    pub servers_kept: i64,
    /// iDRAC: its server-to-host mappings go; OME: its firmware baselines go.
    pub mappings: i64,
    pub baselines: i64,
    /// One sentence saying all of the above, for a confirmation dialog or a terminal.
    pub summary: String,
}

/// What removing this source would take with it; with `dry_run` false, remove it (admins).
/// The count and the delete run in one transaction, so the answer describes what went.
pub async fn remove(db: &Database, kind: SourceKind, name: &str, dry_run: bool) -> Result<SourceRemoval> {
    let source = get(db, kind, name).await?;
    let mut tx = db.pool().begin().await?;
    let mut r = SourceRemoval {
        source: source.clone(),
        removed: false,
        datacenters: 0,
        clusters: 0,
        hosts: 0,
        vms: 0,
        servers_retired: 0,
        servers_kept: 0,
        mappings: 0,
        baselines: 0,
        summary: String::new(),
    };
    match kind {
        SourceKind::Vcenter => {
            r.datacenters = count(
                &mut tx,
                "SELECT count(*) FROM datacenters WHERE vcenter_id = $1 AND removed_at IS NULL",
                source.id,
            )
            .await?;
            r.clusters =
                count(&mut tx, "SELECT count(*) FROM clusters WHERE vcenter_id = $1 AND removed_at IS NULL", source.id)
                    .await?;
            r.hosts = count(
                &mut tx,
                "SELECT count(*) FROM esxi_hosts WHERE vcenter_id = $1 AND removed_at IS NULL",
                source.id,
            )
            .await?;
            r.vms = count(
                &mut tx,
                "SELECT count(*) FROM virtual_machines WHERE vcenter_id = $1 AND removed_at IS NULL",
                source.id,
            )
            .await?;
        }
        SourceKind::Idrac => {
            (r.servers_retired, r.servers_kept) = servers(&mut tx, "idrac_id", "ome_instance_id", source.id).await?;
            r.mappings = count(&mut tx, "SELECT count(*) FROM server_mappings WHERE idrac_id = $1", source.id).await?;
        }
        SourceKind::Ome => {
            (r.servers_retired, r.servers_kept) = servers(&mut tx, "ome_instance_id", "idrac_id", source.id).await?;
            r.baselines =
                count(&mut tx, "SELECT count(*) FROM firmware_baselines WHERE ome_instance_id = $1", source.id).await?;
        }
    }
    if !dry_run {
        let n = sqlx::query(&format!("DELETE FROM {} WHERE id = $1", kind.table()))
            .bind(source.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found(format!("no {} source named \"{name}\"", kind.as_str())));
        }
        tx.commit().await?;
        r.removed = true;
    }
    r.summary = removal_summary(&r);
    Ok(r)
}

async fn count(tx: &mut sqlx::PgConnection, sql: &str, id: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar(sql).bind(id).fetch_one(tx).await?)
}

/// Live servers this source reports: (only it, also the other kind of source).
async fn servers(tx: &mut sqlx::PgConnection, column: &str, other: &str, id: Uuid) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(&format!(
        "SELECT count(*) FILTER (WHERE {other} IS NULL), count(*) FILTER (WHERE {other} IS NOT NULL)
         FROM physical_servers WHERE {column} = $1 AND removed_at IS NULL"
    ))
    .bind(id)
    .fetch_one(tx)
    .await?)
}

fn removal_summary(r: &SourceRemoval) -> String {
    let s = &r.source;
    let (verb, tense) = if r.removed { ("Removed", "went") } else { ("Removing", "goes") };
    let (are, go) = if r.removed { ("were", "were removed") } else { ("are", "are removed") };
    let what = match s.kind {
        SourceKind::Vcenter => format!(
            "its cached inventory {tense} with it: {} datacenter(s), {} cluster(s), {} host(s) and {} VM(s) \
             (they come back if the vCenter is added and synced again)",
            r.datacenters, r.clusters, r.hosts, r.vms
        ),
        SourceKind::Idrac => format!(
            "{} server(s) only it reported {are} marked removed (kept for history), {} also reported by OpenManage \
             stay; {} server-to-host mapping(s) {go}",
            r.servers_retired, r.servers_kept, r.mappings
        ),
        SourceKind::Ome => format!(
            "{} server(s) only it reported {are} marked removed (kept for history), {} also reported by their iDRAC \
             stay; its {} firmware baseline(s) {go}",
            r.servers_retired, r.servers_kept, r.baselines
        ),
    };
    format!("{verb} {} source {}: {what}. Its service identity {} stays.", s.kind.as_str(), s.name, s.service_identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_normalized() {
        assert_eq!(
            normalize_url(SourceKind::Vcenter, "vc01.example.com", false).unwrap(),
            "https://vc01.example.com/sdk"
        );
        assert_eq!(
            normalize_url(SourceKind::Vcenter, "https://vc01:8443/sdk", false).unwrap(),
            "https://vc01:8443/sdk"
        );
        assert_eq!(normalize_url(SourceKind::Idrac, "https://10.0.0.5/redfish/v1", false).unwrap(), "https://10.0.0.5");
        assert!(normalize_url(SourceKind::Idrac, "http://10.0.0.5", false).unwrap_err().message.contains("plain http"));
        assert_eq!(normalize_url(SourceKind::Idrac, "http://10.0.0.5", true).unwrap(), "http://10.0.0.5");
        assert!(normalize_url(SourceKind::Vcenter, "https://root:calvin@vc/sdk", false).is_err());
        for raw in
            ["http://root:calvin@10.0.0.5", "ftp://root:calvin@ome", "https://root:calvin@/sdk", "root:calvin@vc01"]
        {
            let e = normalize_url(SourceKind::Idrac, raw, false).unwrap_err();
            assert!(!e.message.contains("calvin"), "{raw}: {}", e.message);
        }
        assert!(normalize_url(SourceKind::Ome, "ftp://ome", false).is_err());
    }

    #[test]
    fn thumbprints_are_stored_as_plain_hex() {
        let colon = "9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A:08";
        assert_eq!(
            normalize_thumbprint(colon).unwrap(),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert!(normalize_thumbprint("AB:CD").is_err());
    }
}
