//! Firmware baselines: what a cluster's servers should run, component by component, and
//! which of their components are behind.
//!
//! A baseline is OpenManage Enterprise's (synced into `firmware_baselines` and
//! `firmware_compliance`: OME decides what is behind and names the package) or one defined
//! in EIO (`eio_baselines`: an admin names per component the version and the package; what
//! is behind is read from the synced firmware inventory). The planner reads both the same
//! way ([`Resolved::behind`]); the wizard lists both ([`list`]); admins define EIO's
//! ([`define`], written as the caller: the database lets only admins and audits it).
//!
//! It never decides on its own what is flashed: every package comes from a baseline an
//! admin defined or OME's report, the plan lists each one, and the approver approves that
//! list. A component newer than the baseline is never downgraded.
use std::cmp::Ordering;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::api::{NoInput, Session};
use crate::error::{Error, Result};
use crate::Database;

/// One component of a baseline defined in EIO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct BaselineComponent {
    /// An FQDD prefix: `BIOS.Setup`, `iDRAC.Embedded`, `NIC.Integrated.1-1`.
    pub component: String,
    /// The version the baseline wants.
    pub version: String,
    /// The Dell Update Package: relative to the baseline's repository, or an absolute path
    /// on the workers' disk or an http(s) URL.
    pub package: String,
    /// Whether installing it restarts the server (not the iDRAC's own firmware).
    #[serde(default = "yes")]
    pub reboot_required: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BaselineSource {
    /// Defined in EIO by an admin.
    Eio,
    /// OpenManage Enterprise's, synced with its compliance report.
    Ome,
}

impl BaselineSource {
    /// From the `source` column the queries below write (`'eio'` or `'ome'`).
    fn of(column: &str) -> BaselineSource {
        if column == "eio" {
            BaselineSource::Eio
        } else {
            BaselineSource::Ome
        }
    }
}

/// A baseline as the wizard and `eio server baseline list` list it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Baseline {
    pub name: String,
    pub source: BaselineSource,
    pub description: Option<String>,
    /// Where its packages are (EIO's); OME's are in its catalog's repository.
    pub repository: Option<String>,
    /// EIO's components (OME's are in its compliance report).
    pub components: Vec<BaselineComponent>,
    /// Servers with at least one component off it: behind in OME's report; for EIO's, a
    /// synced version that differs (a plan says which are newer and left alone).
    pub servers_behind: i64,
}

/// A baseline to define in EIO, or to replace (by name).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct BaselineInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// A directory on the workers' disk or an http(s) URL the packages are under.
    #[serde(default)]
    pub repository: Option<String>,
    pub components: Vec<BaselineComponent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct BaselineNameInput {
    pub name: String,
}

/// Dell's versions compared part by part (`2.19.1` < `2.20.0`; `A09` < `A10`; `9a` < `10`):
/// runs of digits as numbers, runs of letters as text.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut last: Option<bool> = None;
        for c in s.chars().map(|c| c.to_ascii_lowercase()) {
            let digit = c.is_ascii_digit();
            match (c.is_ascii_alphanumeric(), out.last_mut()) {
                (false, _) => last = None,
                (true, Some(run)) if last == Some(digit) => run.push(c),
                (true, _) => {
                    out.push(c.to_string());
                    last = Some(digit);
                }
            }
        }
        out
    };
    let (a, b) = (parts(a), parts(b));
    for (x, y) in a.iter().zip(&b) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Dell's recommended order within one host: the iDRAC first (it restarts by itself), then
/// the BIOS, then the rest.
pub fn install_order(fqdd: &str) -> (u8, String) {
    let rank = if fqdd.starts_with("iDRAC.") {
        0
    } else if fqdd.starts_with("BIOS.") {
        1
    } else {
        2
    };
    (rank, fqdd.to_owned())
}

/// Where a package is: itself when absolute, else under `repository`.
pub fn locate(repository: Option<&str>, package: &str) -> Option<String> {
    let p = package.trim();
    if p.starts_with('/') || p.starts_with("http://") || p.starts_with("https://") {
        return Some(p.to_owned());
    }
    let repo = repository.map(str::trim).filter(|r| !r.is_empty())?;
    Some(format!("{}/{}", repo.trim_end_matches('/'), p.trim_start_matches("./")))
}

/// Where a package OME's report names is: only a path within the repository given (OME's
/// report is data a worker wrote: it never names a location by itself).
fn locate_within(repository: Option<&str>, package: &str) -> Option<String> {
    let p = package.trim();
    let absolute = p.starts_with('/') || p.contains("://") || p.starts_with('\\');
    if absolute || p.split(['/', '\\']).any(|segment| segment == "..") {
        return None;
    }
    locate(repository, p)
}

/// A component of one server that is behind its baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behind {
    pub fqdd: String,
    pub name: String,
    pub from: String,
    pub to: String,
    /// Where the package is, or None when nothing says (a refusal in the plan).
    pub package: Option<String>,
    pub restart: bool,
}

/// A firmware component of a server an EIO baseline covers: installed and wanted version.
#[derive(sqlx::FromRow)]
struct EioBehindRow {
    fqdd: String,
    name: String,
    installed: String,
    wanted: String,
    package: String,
    reboot_required: bool,
}

/// A line of OME's compliance report for a server, as [`Resolved::behind`] reads it.
#[derive(sqlx::FromRow)]
struct OmeBehindRow {
    fqdd: Option<String>,
    component: String,
    current_version: Option<String>,
    baseline_version: Option<String>,
    status: String,
    package: Option<String>,
    reboot_required: Option<bool>,
}

/// A baseline a name (or the servers) resolves to; `source` is `'eio'` or `'ome'`.
#[derive(sqlx::FromRow)]
struct ResolvedRow {
    id: Uuid,
    name: String,
    source: String,
    repository: Option<String>,
}

/// A baseline as [`list`] reads it; `behind` counts the servers off it.
#[derive(sqlx::FromRow)]
struct BaselineRow {
    id: Uuid,
    name: String,
    source: String,
    description: Option<String>,
    repository: Option<String>,
    behind: Option<i64>,
}

/// A component of an EIO baseline, with the baseline it belongs to.
#[derive(sqlx::FromRow)]
struct ComponentRow {
    baseline_id: Uuid,
    #[sqlx(flatten)]
    component: BaselineComponent,
}

/// The baseline a job brings servers to.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub name: String,
    pub source: BaselineSource,
    id: Uuid,
    repository: Option<String>,
}

impl Resolved {
    /// The components of the server `service_tag` behind this baseline, in install order,
    /// and what is said about the others (newer than the baseline, no package). Packages
    /// are looked for under `packages` when given, else under the baseline's repository.
    pub async fn behind(
        &self,
        db: &Database,
        service_tag: &str,
        packages: Option<&str>,
    ) -> Result<(Vec<Behind>, Vec<String>)> {
        if packages.is_some() && self.source == BaselineSource::Eio {
            return Err(Error::invalid(format!(
                "{} is defined in EIO with its packages' location: --packages is for OME's baselines (an admin \
                 changes where an EIO baseline's packages are)",
                self.name
            )));
        }
        let repository = packages.or(self.repository.as_deref());
        let mut out = Vec::new();
        let mut notes = Vec::new();
        match self.source {
            BaselineSource::Eio => {
                // A component two prefixes name (`NIC`, `NIC.Integrated.1-1`) follows the
                // longer, more specific one: each component is updated once.
                let rows = sqlx::query_as::<_, EioBehindRow>(
                    "SELECT DISTINCT ON (f.fqdd) f.fqdd, f.name, f.version AS installed, c.version AS wanted,
                            c.package, c.reboot_required
                     FROM eio_baseline_components c
                     JOIN firmware_inventory f ON starts_with(lower(f.fqdd), lower(c.component))
                     JOIN physical_servers p ON p.id = f.server_id
                     WHERE c.baseline_id = $1 AND upper(p.service_tag) = upper($2)
                       AND f.removed_at IS NULL AND f.updateable
                     ORDER BY f.fqdd, length(c.component) DESC",
                )
                .bind(self.id)
                .bind(service_tag)
                .fetch_all(db.pool())
                .await?;
                for r in rows {
                    let EioBehindRow { fqdd, name, installed, wanted, package, reboot_required } = r;
                    match compare_versions(&installed, &wanted) {
                        Ordering::Equal => {}
                        Ordering::Greater => notes.push(format!(
                            "{service_tag} {fqdd} runs {installed}, newer than the baseline's {wanted}: left as it is"
                        )),
                        Ordering::Less => out.push(Behind {
                            package: locate(repository, &package),
                            name,
                            from: installed,
                            to: wanted,
                            restart: reboot_required,
                            fqdd,
                        }),
                    }
                }
            }
            BaselineSource::Ome => {
                let rows = sqlx::query_as::<_, OmeBehindRow>(
                    "SELECT c.fqdd, c.component, c.current_version,
                            c.baseline_version, c.status::text AS status, c.package, c.reboot_required
                     FROM firmware_compliance c
                     WHERE c.baseline_id = $1 AND upper(c.service_tag) = upper($2) AND c.removed_at IS NULL
                       AND c.status IN ('upgrade', 'downgrade')
                     ORDER BY c.fqdd NULLS LAST, c.component",
                )
                .bind(self.id)
                .bind(service_tag)
                .fetch_all(db.pool())
                .await?;
                for r in rows {
                    let Some(fqdd) = r.fqdd else {
                        notes.push(format!(
                            "{service_tag} {}: OME's report names no FQDD for it: left (update it by component)",
                            r.component
                        ));
                        continue;
                    };
                    let from: Option<String> = r.current_version;
                    let to: Option<String> = r.baseline_version;
                    if r.status == "downgrade" {
                        notes.push(format!(
                            "{service_tag} {fqdd} runs {}, newer than OME's baseline {}: left as it is (EIO never \
                             downgrades)",
                            from.as_deref().unwrap_or("?"),
                            to.as_deref().unwrap_or("?")
                        ));
                        continue;
                    }
                    let Some(to) = to else {
                        notes.push(format!("{service_tag} {fqdd}: OME's report names no baseline version: left"));
                        continue;
                    };
                    let from = from.unwrap_or_default();
                    if compare_versions(&from, &to) != Ordering::Less {
                        notes.push(format!(
                            "{service_tag} {fqdd} runs {from}, not older than OME's baseline {to}: left as it is"
                        ));
                        continue;
                    }
                    out.push(Behind {
                        package: r.package.and_then(|p| locate_within(repository, &p)),
                        name: r.component,
                        from,
                        to,
                        restart: r.reboot_required.unwrap_or(true),
                        fqdd,
                    });
                }
            }
        }
        // Only the iDRAC's own firmware applies at once; everything else waits for the
        // host's one restart (what OME or an admin says is read as a minimum, never less).
        for b in out.iter_mut() {
            b.restart = b.restart || !b.fqdd.starts_with("iDRAC.");
        }
        out.sort_by_key(|b| install_order(&b.fqdd));
        Ok((out, notes))
    }
}

/// The baseline called `name` (any case), or with `""` the one baseline that covers these
/// servers (defined in EIO, or OME's with a report for one of them); a name two baselines
/// share, or several candidates, is refused with their names.
pub async fn resolve(db: &Database, name: &str, service_tags: &[String]) -> Result<Resolved> {
    let rows = sqlx::query_as::<_, ResolvedRow>(
        "SELECT b.id, b.name, 'eio' AS source, b.repository FROM eio_baselines b
         WHERE lower(b.name) = lower($1)
            OR ($1 = '' AND EXISTS (SELECT 1 FROM eio_baseline_components c
                                     JOIN firmware_inventory f ON starts_with(lower(f.fqdd), lower(c.component))
                                     JOIN physical_servers p ON p.id = f.server_id
                                    WHERE c.baseline_id = b.id AND f.removed_at IS NULL
                                      AND upper(p.service_tag) = ANY ($2)))
         UNION ALL
         SELECT b.id, b.name, 'ome', NULL FROM firmware_baselines b
         WHERE b.removed_at IS NULL AND (lower(b.name) = lower($1)
               OR ($1 = '' AND EXISTS (SELECT 1 FROM firmware_compliance c WHERE c.baseline_id = b.id
                                        AND c.removed_at IS NULL AND upper(c.service_tag) = ANY ($2))))
         ORDER BY 2, 3",
    )
    .bind(name.trim())
    .bind(service_tags.iter().map(|t| t.to_uppercase()).collect::<Vec<_>>())
    .fetch_all(db.pool())
    .await?;
    let names = || rows.iter().map(|r| format!("{} ({})", r.name, r.source));
    match rows.as_slice() {
        [r] => Ok(Resolved {
            id: r.id,
            name: r.name.clone(),
            source: BaselineSource::of(&r.source),
            repository: r.repository.clone(),
        }),
        [] if name.trim().is_empty() => Err(Error::invalid(
            "no firmware baseline covers these hosts' servers: sync an OpenManage Enterprise that holds them to one, \
             or define one (`eio server baseline define`)",
        )),
        [] => Err(Error::not_found(format!(
            "no firmware baseline is called \"{name}\" (`eio server baseline list` lists them)"
        ))),
        _ if name.trim().is_empty() => Err(Error::invalid(format!(
            "more than one baseline covers these hosts' servers: name one with --baseline NAME ({})",
            names().collect::<Vec<_>>().join(", ")
        ))),
        _ => Err(Error::invalid(format!(
            "\"{name}\" names more than one baseline ({}): rename one of them",
            names().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Every baseline: EIO's first, then OME's, by name.
pub async fn list(db: &Database) -> Result<Vec<Baseline>> {
    let components = sqlx::query_as::<_, ComponentRow>(
        "SELECT baseline_id, component, version, package, reboot_required FROM eio_baseline_components
         ORDER BY baseline_id, component",
    )
    .fetch_all(db.pool())
    .await?;
    let rows = sqlx::query_as::<_, BaselineRow>(
        "SELECT b.id, b.name, 'eio' AS source, b.description, b.repository,
                (SELECT count(DISTINCT p.id) FROM eio_baseline_components c
                   JOIN firmware_inventory f ON starts_with(lower(f.fqdd), lower(c.component)) AND f.removed_at IS NULL AND f.updateable
                   JOIN physical_servers p ON p.id = f.server_id
                  WHERE c.baseline_id = b.id AND f.version <> c.version) AS behind
         FROM eio_baselines b
         UNION ALL
         SELECT b.id, b.name, 'ome', b.description, NULL,
                (SELECT count(DISTINCT upper(c.service_tag)) FROM firmware_compliance c
                  WHERE c.baseline_id = b.id AND c.removed_at IS NULL AND c.status = 'upgrade')
         FROM firmware_baselines b WHERE b.removed_at IS NULL
         ORDER BY 3 DESC, 2",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let source = BaselineSource::of(&r.source);
            let eio = source == BaselineSource::Eio;
            Baseline {
                name: r.name,
                source,
                description: r.description,
                repository: r.repository,
                components: if eio {
                    components.iter().filter(|c| c.baseline_id == r.id).map(|c| c.component.clone()).collect()
                } else {
                    Vec::new()
                },
                servers_behind: r.behind.unwrap_or(0),
            }
        })
        .collect())
}

impl BaselineInput {
    fn check(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid("name the baseline"));
        }
        if self.components.is_empty() {
            return Err(Error::invalid("a baseline needs at least one component"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.components {
            let component = c.component.trim();
            if component.is_empty() || c.version.trim().is_empty() || c.package.trim().is_empty() {
                return Err(Error::invalid(format!(
                    "every component needs its FQDD prefix, version and package (\"{component}\" doesn't)"
                )));
            }
            if !seen.insert(component.to_ascii_lowercase()) {
                return Err(Error::invalid(format!("{component} is listed twice")));
            }
            if locate(self.repository.as_deref(), &c.package).is_none() {
                return Err(Error::invalid(format!(
                    "{component}'s package {} is relative: give the baseline a repository (a directory or URL), or \
                     the package's absolute path or URL",
                    c.package
                )));
            }
        }
        Ok(())
    }
}

/// Define the baseline, or replace the one of that name (admins; audited by the database).
pub async fn define(db: &Database, input: &BaselineInput) -> Result<Baseline> {
    input.check()?;
    let mut tx = db.pool().begin().await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO eio_baselines (name, description, repository) VALUES ($1, $2, $3)
         ON CONFLICT ((lower(name))) DO UPDATE
            SET name = EXCLUDED.name, description = EXCLUDED.description, repository = EXCLUDED.repository,
                changed_at = now()
         RETURNING id",
    )
    .bind(input.name.trim())
    .bind(input.description.as_deref().map(str::trim).filter(|d| !d.is_empty()))
    .bind(input.repository.as_deref().map(str::trim).filter(|r| !r.is_empty()))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM eio_baseline_components WHERE baseline_id = $1").bind(id).execute(&mut *tx).await?;
    for c in &input.components {
        sqlx::query(
            "INSERT INTO eio_baseline_components (baseline_id, component, version, package, reboot_required)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(c.component.trim())
        .bind(c.version.trim())
        .bind(c.package.trim())
        .bind(c.reboot_required)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    list(db)
        .await?
        .into_iter()
        .find(|b| b.source == BaselineSource::Eio && b.name.eq_ignore_ascii_case(input.name.trim()))
        .ok_or_else(|| Error::not_found(format!("the baseline {} is gone", input.name)))
}

/// Remove a baseline defined in EIO (admins). Jobs keep the plan they were approved with.
pub async fn remove(db: &Database, name: &str) -> Result<Vec<Baseline>> {
    let gone = sqlx::query("DELETE FROM eio_baselines WHERE lower(name) = lower($1)")
        .bind(name.trim())
        .execute(db.pool())
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(Error::not_found(format!("no baseline defined in EIO is called \"{name}\"")));
    }
    list(db).await
}

pub async fn firmware_baselines(s: &Session, _: NoInput) -> Result<Vec<Baseline>> {
    list(&s.db).await
}

pub async fn firmware_baseline_define(s: &Session, input: BaselineInput) -> Result<Baseline> {
    define(&s.db, &input).await
}

pub async fn firmware_baseline_remove(s: &Session, input: BaselineNameInput) -> Result<Vec<Baseline>> {
    remove(&s.db, &input.name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_part_by_part() {
        assert_eq!(compare_versions("2.19.1", "2.20.0"), Ordering::Less);
        assert_eq!(compare_versions("2.9.0", "2.10.0"), Ordering::Less);
        assert_eq!(compare_versions("7.00.00.00", "6.10.80.00"), Ordering::Greater);
        assert_eq!(compare_versions("A09", "A10"), Ordering::Less);
        assert_eq!(compare_versions("1.5.2", "1.5.2"), Ordering::Equal);
        assert_eq!(compare_versions("1.5", "1.5.1"), Ordering::Less);
        assert_eq!(compare_versions("9a", "10"), Ordering::Less);
        assert_eq!(compare_versions("00.1D.7D", "00.1D.7E"), Ordering::Less);
    }

    #[test]
    fn the_idrac_goes_first_then_the_bios() {
        let mut f = vec!["NIC.Integrated.1-1-1", "BIOS.Setup.1-1", "iDRAC.Embedded.1-1", "RAID.Integrated.1-1"];
        f.sort_by_key(|x| install_order(x));
        assert_eq!(f, ["iDRAC.Embedded.1-1", "BIOS.Setup.1-1", "NIC.Integrated.1-1-1", "RAID.Integrated.1-1"]);
    }

    #[test]
    fn packages_are_found_under_the_repository_unless_absolute() {
        assert_eq!(locate(Some("/srv/dups/"), "BIOS.EXE").as_deref(), Some("/srv/dups/BIOS.EXE"));
        assert_eq!(locate(Some("https://r.example/c"), "F/1/X.EXE").as_deref(), Some("https://r.example/c/F/1/X.EXE"));
        assert_eq!(locate(None, "/abs/X.EXE").as_deref(), Some("/abs/X.EXE"));
        assert_eq!(locate(None, "X.EXE"), None);
    }
}
