//! The sources domain's operations, as the registry ([`crate::api`]) declares them: list,
//! add, edit, trust (pin, re-pin, verify, insecure), remove (with a preview of what goes),
//! import iDRACs from a CSV, and read an endpoint's certificate before trusting it.
//!
//! The desktop, `eio serve` and the `eio source` commands all come through here. Writes
//! are refused by PostgreSQL for anyone but an admin; [`source_probe`] touches no table,
//! so it checks the caller may manage sources itself (it would otherwise let any viewer
//! make the server open TLS connections to hosts of their choosing).
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::import::{ImportDefaults, ImportResult};
use super::{IdentityChoice, NewSource, Source, SourceChanges, SourceKind, SourceRemoval, TlsChoice, TlsMode};
use crate::api::{NoInput, Session};
use crate::error::{Error, Result};
use eio_secret::{Credentials, Secret};

/// Credentials for a service identity created with a source (or an import).
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct NewIdentityInput {
    /// Defaults to the source's name (an import must name it: every row shares it).
    #[serde(default)]
    pub name: Option<String>,
    pub username: String,
    #[ts(type = "string")]
    #[schemars(with = "String")]
    pub password: Secret,
}

/// Which service identity: an existing one by name, or a new one.
fn identity_choice(existing: Option<String>, new: Option<NewIdentityInput>) -> Result<IdentityChoice> {
    match (existing, new) {
        (Some(_), Some(_)) => Err(Error::invalid("choose an existing service identity or new credentials, not both")),
        (Some(name), None) => Ok(IdentityChoice::Existing(name)),
        (None, Some(n)) if n.username.trim().is_empty() || n.password.is_empty() => {
            Err(Error::invalid("new credentials need a username and a password"))
        }
        (None, Some(n)) => Ok(IdentityChoice::New {
            name: n.name.filter(|s| !s.trim().is_empty()),
            credentials: Credentials { username: n.username, password: n.password },
            rotation_period_days: 90,
        }),
        (None, None) => Err(Error::invalid(
            "say which service identity to use: an existing one by name, or a username and password for a new one",
        )),
    }
}

/// How to trust the certificate: `thumbprint` with `pinned`, nothing else otherwise.
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct TrustInput {
    pub mode: TlsMode,
    #[serde(default)]
    pub thumbprint: Option<String>,
}

impl TrustInput {
    fn choice(self) -> Result<TlsChoice> {
        match (self.mode, self.thumbprint.filter(|t| !t.trim().is_empty())) {
            (TlsMode::Pinned, Some(t)) => Ok(TlsChoice { thumbprint: Some(t), insecure: false }),
            (TlsMode::Pinned, None) => Err(Error::invalid("pinning needs the certificate's SHA-256 thumbprint")),
            (TlsMode::Verify, None) => Ok(TlsChoice::default()),
            (TlsMode::Insecure, None) => Ok(TlsChoice { thumbprint: None, insecure: true }),
            (mode, Some(_)) => Err(Error::invalid(format!("a thumbprint goes with \"pinned\", not \"{mode}\""))),
        }
    }
}

pub async fn sources(session: &Session, _: NoInput) -> Result<Vec<Source>> {
    super::list(&session.db).await
}

pub async fn sources_page(session: &Session, q: super::SourcesQuery) -> Result<super::SourcesPage> {
    super::page(&session.db, &q).await
}

/// A new vCenter, iDRAC or OpenManage Enterprise.
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct SourceAddInput {
    pub kind: SourceKind,
    pub name: String,
    /// https://vcenter/sdk, https://idrac, https://ome (vCenter's /sdk is added when missing).
    pub url: String,
    /// An existing service identity, by name…
    #[serde(default)]
    pub identity: Option<String>,
    /// …or credentials for a new one.
    #[serde(default)]
    pub new_identity: Option<NewIdentityInput>,
    pub trust: TrustInput,
    /// Site code (US-EAST-01).
    #[serde(default)]
    pub site: Option<String>,
    /// iDRAC only: redfish, wsman or racadm (none: probe each endpoint).
    #[serde(default)]
    pub driver: Option<String>,
}

pub async fn source_add(session: &Session, input: SourceAddInput) -> Result<Source> {
    super::add(
        &session.db,
        &NewSource {
            kind: input.kind,
            name: input.name,
            url: input.url,
            identity: identity_choice(input.identity, input.new_identity)?,
            tls: input.trust.choice()?,
            site: input.site.filter(|s| !s.trim().is_empty()),
            driver: input.driver.filter(|d| d != "auto" && !d.is_empty()),
        },
    )
    .await
}

/// Changes to a source; a field left out stays as it is.
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct SourceUpdateInput {
    pub kind: SourceKind,
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    /// Another existing service identity, by name.
    #[serde(default)]
    pub identity: Option<String>,
    /// A site code; "" takes the site away.
    #[serde(default)]
    pub site: Option<String>,
    /// iDRAC: redfish, wsman, racadm, or "auto" to probe.
    #[serde(default)]
    pub driver: Option<String>,
    /// Whether it syncs (a disabled source keeps its inventory and is skipped).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Trust it differently: pin (or re-pin after a certificate change), verify, insecure.
    #[serde(default)]
    pub trust: Option<TrustInput>,
}

pub async fn source_update(session: &Session, input: SourceUpdateInput) -> Result<Source> {
    let changes = SourceChanges {
        url: input.url,
        identity: input.identity,
        site: input.site.map(|s| Some(s).filter(|s| !s.trim().is_empty())),
        driver: input.driver.map(|d| Some(d).filter(|d| d != "auto" && !d.is_empty())),
        enabled: input.enabled,
        tls: input.trust.map(TrustInput::choice).transpose()?,
    };
    super::update(&session.db, input.kind, &input.name, &changes).await
}

#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct SourceRemoveInput {
    pub kind: SourceKind,
    pub name: String,
    /// Only say what would go.
    #[serde(default)]
    pub dry_run: bool,
}

pub async fn source_remove(session: &Session, input: SourceRemoveInput) -> Result<SourceRemoval> {
    super::remove(&session.db, input.kind, &input.name, input.dry_run).await
}

/// iDRACs from CSV text with a header: name,url[,site][,driver][,thumbprint].
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct IdracImportInput {
    pub csv: String,
    /// The service identity every row shares: an existing one…
    #[serde(default)]
    pub identity: Option<String>,
    /// …or a new one (named: every row shares it).
    #[serde(default)]
    pub new_identity: Option<NewIdentityInput>,
    /// For rows that name no site, driver or thumbprint.
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub driver: Option<String>,
    #[serde(default)]
    pub thumbprint: Option<String>,
    #[serde(default)]
    pub insecure: bool,
    /// Check every row and answer, adding nothing.
    #[serde(default)]
    pub dry_run: bool,
}

pub async fn source_import_idracs(session: &Session, input: IdracImportInput) -> Result<ImportResult> {
    if input.new_identity.as_ref().is_some_and(|n| n.name.as_deref().unwrap_or_default().trim().is_empty()) {
        return Err(Error::invalid("name the new service identity: every iDRAC of the import shares it"));
    }
    if input.insecure && input.thumbprint.is_some() {
        return Err(Error::invalid("choose either a pinned thumbprint or insecure, not both"));
    }
    let defaults = ImportDefaults {
        identity: identity_choice(input.identity, input.new_identity)?,
        site: input.site.filter(|s| !s.trim().is_empty()),
        driver: input.driver.filter(|d| d != "auto" && !d.is_empty()),
        thumbprint: input.thumbprint.filter(|t| !t.trim().is_empty()),
        insecure: input.insecure,
    };
    super::import::import(&session.db, &input.csv, &defaults, input.dry_run).await
}

/// An endpoint to read the certificate of, before (or instead of) trusting it.
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct SourceProbeInput {
    pub kind: SourceKind,
    pub url: String,
    /// An existing source whose pin to compare with (re-pinning after a change).
    #[serde(default)]
    pub name: Option<String>,
}

/// What an endpoint presents (see `eio_connectors::probe`).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Certificate {
    pub endpoint: String,
    pub subject: String,
    pub issuer: String,
    #[ts(type = "string")]
    pub not_before: chrono::DateTime<chrono::Utc>,
    #[ts(type = "string")]
    pub not_after: chrono::DateTime<chrono::Utc>,
    pub names: Vec<String>,
    pub key: String,
    /// SHA-256, `AB:CD:…`: what pinning stores.
    pub sha256: String,
    pub self_signed: bool,
    pub trusted_by_system: bool,
    pub system_trust_error: Option<String>,
    /// Set when EIO refuses it whatever the trust setting, with why (a weak key).
    pub refused: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SourceProbe {
    /// The URL as EIO would store it.
    pub url: String,
    pub certificate: Certificate,
    /// The thumbprint the named source pins now, if any…
    pub pinned: Option<String>,
    /// …and whether the endpoint still presents it.
    pub matches_pin: Option<bool>,
}

pub async fn source_probe(session: &Session, input: SourceProbeInput) -> Result<SourceProbe> {
    if !crate::identity::me(&session.db).await?.may.manage_sources {
        return Err(Error::forbidden("only admins, who add and re-pin sources, may read an endpoint's certificate"));
    }
    let url = super::normalize_url(input.kind, &input.url, false)?;
    let parsed = url::Url::parse(&url).map_err(|e| Error::invalid(format!("{url}: {e}")))?;
    let info = eio_connectors::probe::inspect(&parsed, Duration::from_secs(10))
        .await
        .map_err(|e| Error::new(crate::error::ErrorCode::Unavailable, e.to_string()))?;
    let pinned = match &input.name {
        Some(name) => super::get(&session.db, input.kind, name).await?.thumbprint_sha256,
        None => None,
    };
    let presented = super::normalize_thumbprint(&info.sha256)?;
    Ok(SourceProbe {
        url,
        matches_pin: pinned.as_ref().map(|p| *p == presented),
        pinned: pinned.map(|p| colon_hex(&p)),
        certificate: Certificate {
            endpoint: info.endpoint,
            subject: info.subject,
            issuer: info.issuer,
            not_before: info.not_before,
            not_after: info.not_after,
            names: info.names,
            key: info.key,
            sha256: info.sha256,
            self_signed: info.self_signed,
            trusted_by_system: info.trusted_by_system,
            system_trust_error: info.system_trust_error,
            refused: info.refused,
        },
    })
}

/// `abcd…` as `AB:CD:…`, the way the probe shows a thumbprint.
fn colon_hex(hex: &str) -> String {
    hex.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).to_uppercase()).collect::<Vec<_>>().join(":")
}
