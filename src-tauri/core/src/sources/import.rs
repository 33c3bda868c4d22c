//! iDRACs from a CSV file with a header: `name,url[,site][,driver][,thumbprint]`.
//!
//! Every row is checked on its own and the whole file is answered row by row, so a preview
//! (`dry_run`) shows each error with its line before anything is added. Adding goes row
//! by row too: a row the database refuses is reported and the others still go in. The
//! shared service identity, when the import creates one, is created with the first row
//! added. Nothing here reads a file: the adapters pass the CSV's text.
use std::collections::{HashMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{IdentityChoice, NewSource, SourceKind, TlsChoice};
use crate::error::{Error, Result};
use crate::Database;

/// One row as the CSV gives it.
#[derive(Debug, Clone, Deserialize)]
struct CsvRow {
    name: String,
    url: String,
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    thumbprint: Option<String>,
}

/// Where one row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Checked: it would be added (a preview).
    Ready,
    Added,
    /// Not added; `error` says why.
    Failed,
}

/// One CSV row, with the defaults applied, and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ImportRow {
    /// Line in the file (the header is line 1).
    pub line: u32,
    pub name: String,
    pub url: String,
    pub site: Option<String>,
    pub driver: Option<String>,
    pub thumbprint: Option<String>,
    pub status: ImportStatus,
    pub error: Option<String>,
}

/// The answer to an import or its preview.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ImportResult {
    pub dry_run: bool,
    pub rows: Vec<ImportRow>,
    /// Rows ready (preview) or added.
    pub ok: usize,
    pub failed: usize,
}

/// What every row shares unless the row says otherwise.
#[derive(Debug, Clone)]
pub struct ImportDefaults {
    /// The service identity every iDRAC authenticates with (created with the first row
    /// added, when it is `New`).
    pub identity: IdentityChoice,
    pub site: Option<String>,
    pub driver: Option<String>,
    pub thumbprint: Option<String>,
    pub insecure: bool,
}

/// Read the CSV into rows (defaults applied), each with the error that stops it, if any.
fn parse(text: &str, defaults: &ImportDefaults) -> Result<Vec<ImportRow>> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| Error::invalid(format!("the CSV's header can't be read: {e}")))?;
    for needed in ["name", "url"] {
        if !headers.iter().any(|h| h == needed) {
            return Err(Error::invalid(format!(
                "the CSV's header has no \"{needed}\" column (expected name,url[,site][,driver][,thumbprint])"
            )));
        }
    }
    let headers = headers.clone();
    // The line a record starts on, as the file numbers it: from the record's first byte,
    // past the blank lines the reader skipped (csv's own line count misses those).
    let line_at = |byte: u64| -> u32 {
        let bytes = text.as_bytes();
        let mut at = usize::try_from(byte).unwrap_or(bytes.len()).min(bytes.len());
        while at < bytes.len() && matches!(bytes[at], b'\n' | b'\r') {
            at += 1;
        }
        u32::try_from(1 + bytes[..at].iter().filter(|&&b| b == b'\n').count()).unwrap_or(u32::MAX)
    };
    let mut rows = Vec::new();
    let mut last_line = 1u32;
    for record in reader.records() {
        let parsed = record.and_then(|r| {
            last_line = r.position().map_or(last_line + 1, |p| line_at(p.byte()));
            r.deserialize::<CsvRow>(Some(&headers))
        });
        let line = |e: &csv::Error| e.position().map_or(last_line, |p| line_at(p.byte()));
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        rows.push(match parsed {
            Ok(r) => ImportRow {
                line: last_line,
                name: r.name,
                url: r.url,
                site: nonempty(r.site).or(defaults.site.clone()),
                // A row saying "auto" probes, whatever the default.
                driver: match nonempty(r.driver) {
                    Some(d) if d == "auto" => None,
                    Some(d) => Some(d),
                    None => defaults.driver.clone(),
                },
                thumbprint: nonempty(r.thumbprint).or(defaults.thumbprint.clone()),
                status: ImportStatus::Ready,
                error: None,
            },
            Err(e) => ImportRow {
                line: line(&e),
                name: String::new(),
                url: String::new(),
                site: None,
                driver: None,
                thumbprint: None,
                status: ImportStatus::Failed,
                error: Some(e.to_string()),
            },
        });
    }
    if rows.is_empty() {
        return Err(Error::invalid("the CSV has a header but no rows"));
    }
    Ok(rows)
}

/// Check one row against the rules an add applies, without writing anything.
fn check(row: &ImportRow, defaults: &ImportDefaults, sites: &HashSet<String>) -> Result<()> {
    if row.name.trim().is_empty() {
        return Err(Error::invalid("the name is empty"));
    }
    super::check_driver(SourceKind::Idrac, row.driver.as_deref())?;
    super::normalize_url(SourceKind::Idrac, &row.url, defaults.insecure)?;
    if let Some(t) = &row.thumbprint {
        if defaults.insecure {
            return Err(Error::invalid("choose either a pinned thumbprint or insecure, not both"));
        }
        super::normalize_thumbprint(t)?;
    }
    if let Some(code) = &row.site {
        if !sites.contains(code) {
            return Err(Error::not_found(format!("no site with code {code}")));
        }
    }
    Ok(())
}

/// Preview (`dry_run`) or add the iDRACs a CSV lists (admins).
pub async fn import(db: &Database, text: &str, defaults: &ImportDefaults, dry_run: bool) -> Result<ImportResult> {
    let mut rows = parse(text, defaults)?;
    let identity_name = match &defaults.identity {
        IdentityChoice::Existing(name) => Some(name),
        IdentityChoice::New { name, .. } => name.as_ref(),
    };
    if let Some(name) = identity_name {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM service_identities WHERE name = $1")
            .bind(name)
            .fetch_optional(db.pool())
            .await?;
        match (&defaults.identity, found) {
            (IdentityChoice::Existing(_), None) => {
                return Err(Error::not_found(format!("no service identity named \"{name}\"")))
            }
            (IdentityChoice::New { .. }, Some(_)) => {
                return Err(Error::conflict(format!(
                    "a service identity named \"{name}\" already exists: choose it instead of new credentials"
                )))
            }
            _ => {}
        }
    }
    if let IdentityChoice::New { name, credentials, .. } = &defaults.identity {
        // What would stop every row (no trusted worker key to seal for) is said once, up front.
        let recipients = crate::identity::service_identities::trusted_worker_keys(db).await?;
        crate::identity::sealing::seal(name.as_deref().unwrap_or("import"), credentials, &recipients)?;
    }
    let sites: HashSet<String> =
        sqlx::query_scalar("SELECT code FROM sites").fetch_all(db.pool()).await?.into_iter().collect();
    let existing: HashSet<String> =
        sqlx::query_scalar("SELECT name FROM idrac_endpoints").fetch_all(db.pool()).await?.into_iter().collect();
    let mut first_line: HashMap<String, u32> = HashMap::new();
    for row in rows.iter_mut().filter(|r| r.status == ImportStatus::Ready) {
        let problem = if let Some(line) = first_line.get(&row.name) {
            Some(format!("\"{}\" is also on line {line}", row.name))
        } else if existing.contains(&row.name) {
            Some(format!("an idrac source named \"{}\" already exists", row.name))
        } else {
            check(row, defaults, &sites).err().map(|e| e.message)
        };
        first_line.entry(row.name.clone()).or_insert(row.line);
        if let Some(p) = problem {
            row.status = ImportStatus::Failed;
            row.error = Some(p);
        }
    }

    if !dry_run {
        let mut identity = defaults.identity.clone();
        for row in rows.iter_mut().filter(|r| r.status == ImportStatus::Ready) {
            let new = NewSource {
                kind: SourceKind::Idrac,
                name: row.name.clone(),
                url: row.url.clone(),
                identity: identity.clone(),
                tls: TlsChoice { thumbprint: row.thumbprint.clone(), insecure: defaults.insecure },
                site: row.site.clone(),
                driver: row.driver.clone(),
            };
            match super::add(db, &new).await {
                Ok(source) => {
                    row.status = ImportStatus::Added;
                    // The identity exists now: every later row shares it.
                    identity = IdentityChoice::Existing(source.service_identity);
                }
                Err(e) => {
                    row.status = ImportStatus::Failed;
                    row.error = Some(e.message);
                }
            }
        }
    }
    let failed = rows.iter().filter(|r| r.status == ImportStatus::Failed).count();
    Ok(ImportResult { dry_run, ok: rows.len() - failed, failed, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> ImportDefaults {
        ImportDefaults {
            identity: IdentityChoice::Existing("fleet".into()),
            site: Some("US-EAST-01".into()),
            driver: None,
            thumbprint: None,
            insecure: false,
        }
    }

    #[test]
    fn rows_take_the_defaults_unless_they_say_otherwise() {
        let rows = parse(
            "name,url,site,driver\nbmc-1,https://10.0.0.1,,\nbmc-2,https://10.0.0.2,EU-WEST-01,wsman\nbmc-3\n",
            &defaults(),
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].line, rows[0].site.as_deref(), rows[0].driver.as_deref()), (2, Some("US-EAST-01"), None));
        assert_eq!((rows[1].site.as_deref(), rows[1].driver.as_deref()), (Some("EU-WEST-01"), Some("wsman")));
        assert_eq!(rows[2].status, ImportStatus::Failed);
        assert_eq!(rows[2].line, 4);
        assert!(rows[2].error.as_deref().unwrap_or_default().contains("found record with 1 field"), "{:?}", rows[2]);
    }

    #[test]
    fn lines_are_the_file_s_own_and_auto_means_probe() {
        let d = ImportDefaults { driver: Some("wsman".into()), ..defaults() };
        let rows = parse(
            "name,url,site,driver\n\nbmc-1,https://10.0.0.1,,auto\n\"bmc\n2\",https://10.0.0.2,,\nbmc-3,https://10.0.0.3,\n",
            &d,
        )
        .unwrap();
        let lines: Vec<(u32, &str, Option<&str>)> =
            rows.iter().map(|r| (r.line, r.name.as_str(), r.driver.as_deref())).collect();
        assert_eq!(lines, vec![(3, "bmc-1", None), (4, "bmc\n2", Some("wsman")), (6, "", None)]);
        assert_eq!(rows[2].status, ImportStatus::Failed);
    }

    #[test]
    fn a_file_without_the_needed_columns_or_rows_is_refused_whole() {
        let e = parse("host,address\nbmc-1,https://10.0.0.1\n", &defaults()).unwrap_err();
        assert_eq!(
            e.message,
            "the CSV's header has no \"name\" column (expected name,url[,site][,driver][,thumbprint])"
        );
        let e = parse("name,url\n", &defaults()).unwrap_err();
        assert_eq!(e.message, "the CSV has a header but no rows");
    }

    #[test]
    fn each_row_is_checked_on_its_own() {
        let sites: HashSet<String> = ["US-EAST-01".to_owned()].into();
        let rows = parse(
            "name,url,site,driver,thumbprint\nok,https://10.0.0.1,,,\nplain,http://10.0.0.2,,,\nnowhere,https://10.0.0.3,XX-01,,\nodd,https://10.0.0.4,,ipmi,\nshort,https://10.0.0.5,,,AB:CD\n",
            &defaults(),
        )
        .unwrap();
        let errors: Vec<Option<String>> =
            rows.iter().map(|r| check(r, &defaults(), &sites).err().map(|e| e.message)).collect();
        assert_eq!(errors[0], None);
        assert!(errors[1].as_deref().unwrap_or_default().contains("plain http"), "{errors:?}");
        assert_eq!(errors[2].as_deref(), Some("no site with code XX-01"));
        assert_eq!(errors[3].as_deref(), Some("unknown driver \"ipmi\" (auto, redfish, wsman, racadm)"));
        assert!(errors[4].as_deref().unwrap_or_default().contains("is not a SHA-256 thumbprint"), "{errors:?}");
    }
}
