//! Sources: the vCenters, iDRACs and OpenManage Enterprise instances EIO syncs from.
//!
//! Adding one records where it is, how its TLS certificate is trusted (system roots by
//! default, a pinned SHA-256 thumbprint for self-signed endpoints, or an explicit
//! `insecure`), and which service identity it authenticates with — reusing a named one or
//! creating one in the same transaction, so a failed add leaves nothing behind. Admins
//! add and remove sources; the database enforces it. This module never contacts a source.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use ts_rs::TS;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::identity::service_identities::{self as ids, ExternalSystem};
use crate::Database;
use eio_secret::Credentials;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Vcenter,
    Idrac,
    Ome,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Vcenter => "vcenter",
            SourceKind::Idrac => "idrac",
            SourceKind::Ome => "ome",
        }
    }

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

impl std::str::FromStr for SourceKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "vcenter" => Ok(SourceKind::Vcenter),
            "idrac" => Ok(SourceKind::Idrac),
            "ome" => Ok(SourceKind::Ome),
            o => Err(Error::invalid(format!("unknown source kind \"{o}\" (vcenter, idrac, ome)"))),
        }
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

/// A source as listings show it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Source {
    #[ts(type = "string")]
    pub id: Uuid,
    pub kind: SourceKind,
    pub name: String,
    pub url: String,
    pub service_identity: String,
    /// verify | pinned | insecure
    pub tls: String,
    pub thumbprint_sha256: Option<String>,
    pub site: Option<String>,
    pub enabled: bool,
    #[ts(type = "string | null")]
    pub last_sync_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_sync_status: Option<String>,
    pub last_error: Option<String>,
    /// iDRAC: generation and the driver in use, with why.
    pub generation: Option<String>,
    pub driver: Option<String>,
    pub driver_reason: Option<String>,
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
    let mut u = url::Url::parse(&with_scheme).map_err(|e| Error::invalid(format!("\"{raw}\" is not a URL: {e}")))?;
    match u.scheme() {
        "https" => {}
        "http" if insecure => {}
        "http" => {
            return Err(Error::invalid(format!(
                "{raw} is plain http: credentials would travel unencrypted; use https (or --insecure for a lab)"
            )))
        }
        other => return Err(Error::invalid(format!("{raw}: unsupported scheme {other} (https)"))),
    }
    if u.host_str().unwrap_or_default().is_empty() {
        return Err(Error::invalid(format!("{raw} has no host")));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(Error::invalid("put credentials in the service identity, not in the URL"));
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

/// Add a source (admins). The identity is created in the same transaction when asked.
pub async fn add(db: &Database, new: &NewSource) -> Result<Source> {
    if new.tls.insecure && new.tls.thumbprint.is_some() {
        return Err(Error::invalid("choose either a pinned --thumbprint or --insecure, not both"));
    }
    if new.driver.is_some() && new.kind != SourceKind::Idrac {
        return Err(Error::invalid("--driver applies to iDRAC sources only"));
    }
    if let Some(d) = &new.driver {
        if !matches!(d.as_str(), "redfish" | "wsman" | "racadm") {
            return Err(Error::invalid(format!("unknown driver \"{d}\" (auto, redfish, wsman, racadm)")));
        }
    }
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

const LIST_SQL: &str = r#"
    SELECT s.id, s.kind, s.name, s.url, si.name AS identity, s.thumbprint_sha256, s.insecure, st.code AS site,
           s.enabled, s.last_sync_at, s.last_sync_status::text AS last_sync_status, s.last_error,
           s.generation, s.driver, s.driver_reason
    FROM (
        SELECT id, 'vcenter' AS kind, name, url, service_identity_id, thumbprint_sha256, insecure, site_id, enabled,
               last_sync_at, last_sync_status, last_error, NULL::text AS generation, NULL::text AS driver,
               NULL::text AS driver_reason
        FROM vcenter_instances
        UNION ALL
        SELECT id, 'idrac', name, url, service_identity_id, thumbprint_sha256, insecure, site_id, enabled,
               last_sync_at, last_sync_status, last_error, generation::text,
               coalesce(driver_override, driver_preference)::text, driver_reason
        FROM idrac_endpoints
        UNION ALL
        SELECT id, 'ome', name, url, service_identity_id, thumbprint_sha256, insecure, site_id, enabled,
               last_sync_at, last_sync_status, last_error, NULL, NULL, NULL
        FROM ome_instances
    ) s
    JOIN service_identities si ON si.id = s.service_identity_id
    LEFT JOIN sites st ON st.id = s.site_id
"#;

fn from_row(r: &sqlx::postgres::PgRow) -> Result<Source> {
    let thumbprint: Option<String> = r.try_get("thumbprint_sha256")?;
    let insecure: bool = r.try_get("insecure")?;
    Ok(Source {
        id: r.try_get("id")?,
        kind: r.try_get::<String, _>("kind")?.parse()?,
        name: r.try_get("name")?,
        url: r.try_get("url")?,
        service_identity: r.try_get("identity")?,
        tls: if insecure {
            "insecure"
        } else if thumbprint.is_some() {
            "pinned"
        } else {
            "verify"
        }
        .into(),
        thumbprint_sha256: thumbprint,
        site: r.try_get("site")?,
        enabled: r.try_get("enabled")?,
        last_sync_at: r.try_get("last_sync_at")?,
        last_sync_status: r.try_get("last_sync_status")?,
        last_error: r.try_get("last_error")?,
        generation: r.try_get("generation")?,
        driver: r.try_get("driver")?,
        driver_reason: r.try_get("driver_reason")?,
    })
}

pub async fn list(db: &Database) -> Result<Vec<Source>> {
    let rows = sqlx::query(&format!("{LIST_SQL} ORDER BY s.kind, s.name")).fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Database, kind: SourceKind, name: &str) -> Result<Source> {
    let row = sqlx::query(&format!("{LIST_SQL} WHERE s.kind = $1 AND s.name = $2"))
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no {} source named \"{name}\"", kind.as_str())))?;
    from_row(&row)
}

/// Remove a source and its cached inventory (admins). The service identity stays.
pub async fn remove(db: &Database, kind: SourceKind, name: &str) -> Result<()> {
    let n = sqlx::query(&format!("DELETE FROM {} WHERE name = $1", kind.table()))
        .bind(name)
        .execute(db.pool())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::not_found(format!("no {} source named \"{name}\"", kind.as_str())));
    }
    Ok(())
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
