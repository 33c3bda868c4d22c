//! Named job policies and concurrency limits: what admins decide once so operators don't
//! decide it per job. A named policy is the only way a job may skip approval or stop VMs
//! (an override at submission only tightens one), and every change to a policy is audited
//! by the database; limits say how many disruptive jobs may run at once per cluster and
//! per site (a row without a name is the default for every cluster or site).
//!
//! This module writes as the caller: the database decides who may (admins) and records
//! who did. It never relaxes the built-in `default` policy's guarantees by itself: the
//! `default` policy can be edited (an admin's call) but never removed, and a limit is at
//! least 1.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::{NoInput, Session};
use crate::error::{Error, Result};
use crate::pages::jobs::PolicyChoice;
use crate::Database;

/// Every named policy, `default` first.
pub async fn list(db: &Database) -> Result<Vec<PolicyChoice>> {
    Ok(sqlx::query_as::<_, PolicyChoice>(
        "SELECT name, description, require_approval, allow_vm_shutdown, allow_hard_poweroff, vm_limit,
                shutdown_timeout_seconds, tag_filters, folder_filters
         FROM job_policies ORDER BY name = 'default' DESC, name",
    )
    .fetch_all(db.pool())
    .await?)
}

/// A named policy to create or change (by name).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct PolicyInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub require_approval: bool,
    pub allow_vm_shutdown: bool,
    pub allow_hard_poweroff: bool,
    /// At most this many VMs per host may be shut down or suspended.
    pub vm_limit: i32,
    /// How long a guest shutdown may take before the job pauses (1–86400 s).
    pub shutdown_timeout_seconds: i32,
    #[serde(default)]
    pub tag_filters: Vec<String>,
    #[serde(default)]
    pub folder_filters: Vec<String>,
}

/// Trimmed, without blanks or repeats, in the order given.
fn clean(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

/// Create the policy, or change the one of that name (admins; audited by the database).
pub async fn save(db: &Database, p: &PolicyInput) -> Result<PolicyChoice> {
    let mut conn = db.pool().acquire().await?;
    let name = upsert(&mut conn, p).await?;
    drop(conn);
    find(db, &name).await
}

/// Some fields of a named policy to change; the others stay as they are. A policy that
/// doesn't exist yet starts from [`PolicyInput::safe`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct PolicyChange {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub require_approval: Option<bool>,
    #[serde(default)]
    pub allow_vm_shutdown: Option<bool>,
    #[serde(default)]
    pub allow_hard_poweroff: Option<bool>,
    #[serde(default)]
    pub vm_limit: Option<i32>,
    #[serde(default)]
    pub shutdown_timeout_seconds: Option<i32>,
    /// Replaces the list (an empty list clears it).
    #[serde(default)]
    pub tag_filters: Option<Vec<String>>,
    /// Replaces the list (an empty list clears it).
    #[serde(default)]
    pub folder_filters: Option<Vec<String>>,
}

impl PolicyInput {
    /// Where a new policy starts: pause and ask — approval required, no VM shutdown, no hard
    /// power-off (what the desktop's "Add a policy" shows too). Never another policy's
    /// settings: a loosened `default` must not leak into a policy made later.
    pub fn safe(name: &str) -> PolicyInput {
        PolicyInput {
            name: name.into(),
            description: None,
            require_approval: true,
            allow_vm_shutdown: false,
            allow_hard_poweroff: false,
            vm_limit: 10,
            shutdown_timeout_seconds: 300,
            tag_filters: Vec::new(),
            folder_filters: Vec::new(),
        }
    }
}

impl From<PolicyChoice> for PolicyInput {
    fn from(p: PolicyChoice) -> Self {
        PolicyInput {
            name: p.name,
            description: p.description,
            require_approval: p.require_approval,
            allow_vm_shutdown: p.allow_vm_shutdown,
            allow_hard_poweroff: p.allow_hard_poweroff,
            vm_limit: p.vm_limit,
            shutdown_timeout_seconds: p.shutdown_timeout_seconds,
            tag_filters: p.tag_filters,
            folder_filters: p.folder_filters,
        }
    }
}

/// Change the fields given (admins), in one transaction: the row is locked while the others
/// are read, so a change another admin makes meanwhile is not lost.
pub async fn change(db: &Database, c: &PolicyChange) -> Result<PolicyChoice> {
    let name = c.name.trim();
    let mut tx = db.pool().begin().await?;
    let existing: Option<PolicyChoice> = sqlx::query_as(
        "SELECT name, description, require_approval, allow_vm_shutdown, allow_hard_poweroff, vm_limit,
                shutdown_timeout_seconds, tag_filters, folder_filters
         FROM job_policies WHERE name = $1 FOR UPDATE",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let base = existing.map(PolicyInput::from).unwrap_or_else(|| PolicyInput::safe(name));
    let merged = PolicyInput {
        name: name.into(),
        description: c.description.clone().or(base.description),
        require_approval: c.require_approval.unwrap_or(base.require_approval),
        allow_vm_shutdown: c.allow_vm_shutdown.unwrap_or(base.allow_vm_shutdown),
        allow_hard_poweroff: c.allow_hard_poweroff.unwrap_or(base.allow_hard_poweroff),
        vm_limit: c.vm_limit.unwrap_or(base.vm_limit),
        shutdown_timeout_seconds: c.shutdown_timeout_seconds.unwrap_or(base.shutdown_timeout_seconds),
        tag_filters: c.tag_filters.clone().unwrap_or(base.tag_filters),
        folder_filters: c.folder_filters.clone().unwrap_or(base.folder_filters),
    };
    upsert(&mut tx, &merged).await?;
    tx.commit().await?;
    find(db, name).await
}

async fn find(db: &Database, name: &str) -> Result<PolicyChoice> {
    list(db)
        .await?
        .into_iter()
        .find(|x| x.name == name)
        .ok_or_else(|| Error::not_found(format!("no job policy named \"{name}\"")))
}

/// Check `p` and write it; the trimmed name written.
async fn upsert(conn: &mut sqlx::PgConnection, p: &PolicyInput) -> Result<String> {
    let name = p.name.trim();
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(Error::invalid(format!(
            "\"{name}\" is not a policy name: use up to 64 letters, digits, '-', '_' or '.' (e.g. lab-unattended)"
        )));
    }
    if p.allow_hard_poweroff && !p.allow_vm_shutdown {
        return Err(Error::invalid("a policy that allows hard power-off must allow shutting VMs down too"));
    }
    if p.vm_limit < 0 {
        return Err(Error::invalid("vm_limit is 0 or more"));
    }
    if !(1..=86_400).contains(&p.shutdown_timeout_seconds) {
        return Err(Error::invalid("the shutdown timeout is between 1 and 86400 seconds"));
    }
    let description = p.description.as_deref().map(str::trim).filter(|d| !d.is_empty());
    sqlx::query(
        "INSERT INTO job_policies (name, description, require_approval, allow_vm_shutdown, allow_hard_poweroff,
                                   vm_limit, shutdown_timeout_seconds, tag_filters, folder_filters)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT ON CONSTRAINT job_policies_name_key DO UPDATE
         SET description = EXCLUDED.description, require_approval = EXCLUDED.require_approval,
             allow_vm_shutdown = EXCLUDED.allow_vm_shutdown, allow_hard_poweroff = EXCLUDED.allow_hard_poweroff,
             vm_limit = EXCLUDED.vm_limit, shutdown_timeout_seconds = EXCLUDED.shutdown_timeout_seconds,
             tag_filters = EXCLUDED.tag_filters, folder_filters = EXCLUDED.folder_filters, updated_at = now()",
    )
    .bind(name)
    .bind(description)
    .bind(p.require_approval)
    .bind(p.allow_vm_shutdown)
    .bind(p.allow_hard_poweroff)
    .bind(p.vm_limit)
    .bind(p.shutdown_timeout_seconds)
    .bind(clean(&p.tag_filters))
    .bind(clean(&p.folder_filters))
    .execute(&mut *conn)
    .await?;
    Ok(name.to_owned())
}

/// Remove a named policy (admins). Jobs keep the policy they were submitted with (it is
/// copied into each job); `default` stays.
pub async fn remove(db: &Database, name: &str) -> Result<()> {
    let name = name.trim();
    if name == "default" {
        return Err(Error::invalid("the default policy stays: change it instead"));
    }
    let n =
        sqlx::query("DELETE FROM job_policies WHERE name = $1").bind(name).execute(db.pool()).await?.rows_affected();
    if n == 0 {
        return Err(Error::not_found(format!("no job policy named \"{name}\"")));
    }
    Ok(())
}

/// Where a limit applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    Cluster,
    Site,
}

impl LimitScope {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::Cluster => "cluster",
            LimitScope::Site => "site",
        }
    }
}

impl std::fmt::Display for LimitScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LimitScope {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "cluster" => Ok(LimitScope::Cluster),
            "site" => Ok(LimitScope::Site),
            other => Err(Error::invalid(format!("unknown limit scope \"{other}\" (cluster, site)"))),
        }
    }
}

/// How many disruptive jobs may run at once in one cluster or site (`name` None: every
/// cluster or site without a limit of its own).
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ConcurrencyLimit {
    pub scope: LimitScope,
    /// A site code or a cluster name; None for the default.
    pub name: Option<String>,
    pub max_running: i32,
    /// For a cluster: its vCenter (cluster names repeat across vCenters).
    pub vcenter: Option<String>,
}

pub async fn limits(db: &Database) -> Result<Vec<ConcurrencyLimit>> {
    let rows: Vec<(String, Option<String>, i32, Option<String>)> = sqlx::query_as(
        "SELECT l.scope_type, coalesce(s.code, c.name), l.max_running, vc.name
         FROM concurrency_limits l
         LEFT JOIN sites s ON l.scope_type = 'site' AND s.id = l.scope_id
         LEFT JOIN clusters c ON l.scope_type = 'cluster' AND c.id = l.scope_id
         LEFT JOIN vcenter_instances vc ON vc.id = c.vcenter_id
         ORDER BY l.scope_type, l.scope_id IS NOT NULL, 2, 4",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(scope, name, max_running, vcenter)| ConcurrencyLimit {
            scope: if scope == "site" { LimitScope::Site } else { LimitScope::Cluster },
            name,
            max_running,
            vcenter,
        })
        .collect())
}

/// Set (or, with `max_running` None, remove) one limit.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct LimitInput {
    pub scope: LimitScope,
    /// A site code or a cluster name (a cluster name must be unique, else add its vCenter);
    /// None or "" for the default.
    #[serde(default)]
    pub name: Option<String>,
    /// For a cluster whose name repeats across vCenters.
    #[serde(default)]
    pub vcenter: Option<String>,
    /// None removes the limit (the default then applies; the default itself stays).
    #[serde(default)]
    pub max_running: Option<i32>,
}

async fn scope_id(db: &Database, i: &LimitInput) -> Result<Option<uuid::Uuid>> {
    let Some(name) = i.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) else { return Ok(None) };
    match i.scope {
        LimitScope::Site => sqlx::query_scalar("SELECT id FROM sites WHERE code = upper($1)")
            .bind(name)
            .fetch_optional(db.pool())
            .await?
            .map(Some)
            .ok_or_else(|| Error::not_found(format!("no site with code \"{name}\""))),
        LimitScope::Cluster => {
            let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
                "SELECT c.id FROM clusters c JOIN vcenter_instances vc ON vc.id = c.vcenter_id
                 WHERE c.name = $1 AND c.removed_at IS NULL AND ($2::text IS NULL OR vc.name = $2)",
            )
            .bind(name)
            .bind(i.vcenter.as_deref().map(str::trim).filter(|v| !v.is_empty()))
            .fetch_all(db.pool())
            .await?;
            match ids.as_slice() {
                [id] => Ok(Some(*id)),
                [] => Err(Error::not_found(format!("no cluster named \"{name}\""))),
                _ => Err(Error::invalid(format!("{} clusters are named \"{name}\": say which vCenter's", ids.len()))),
            }
        }
    }
}

/// Set or remove a limit (admins), then list them all.
pub async fn set_limit(db: &Database, i: &LimitInput) -> Result<Vec<ConcurrencyLimit>> {
    let id = scope_id(db, i).await?;
    match i.max_running {
        Some(n) if n < 1 => {
            return Err(Error::invalid(
                "a limit is at least 1: to stop disruptive jobs at once, engage the kill switch",
            ))
        }
        Some(n) => {
            // One statement, so two admins setting the same limit at once can't collide.
            sqlx::query(
                "INSERT INTO concurrency_limits (scope_type, scope_id, max_running) VALUES ($1, $2, $3)
                 ON CONFLICT (scope_type, coalesce(scope_id, '00000000-0000-0000-0000-000000000000'::uuid))
                 DO UPDATE SET max_running = EXCLUDED.max_running",
            )
            .bind(i.scope.as_str())
            .bind(id)
            .bind(n)
            .execute(db.pool())
            .await?;
        }
        None if id.is_none() => {
            return Err(Error::invalid(format!("the default {} limit stays: change it instead", i.scope.as_str())))
        }
        None => {
            let n = sqlx::query("DELETE FROM concurrency_limits WHERE scope_type = $1 AND scope_id = $2")
                .bind(i.scope.as_str())
                .bind(id)
                .execute(db.pool())
                .await?
                .rows_affected();
            if n == 0 {
                return Err(Error::not_found(format!(
                    "{} {} has no limit of its own: the default applies",
                    i.scope.as_str(),
                    i.name.as_deref().unwrap_or_default().trim()
                )));
            }
        }
    }
    limits(db).await
}

// ---------------------------------------------------------------------------------
// Registry handlers.

pub async fn job_policies(s: &Session, _: NoInput) -> Result<Vec<PolicyChoice>> {
    list(&s.db).await
}

pub async fn job_policy_save(s: &Session, p: PolicyInput) -> Result<PolicyChoice> {
    save(&s.db, &p).await
}

pub async fn job_policy_change(s: &Session, c: PolicyChange) -> Result<PolicyChoice> {
    change(&s.db, &c).await
}

/// Which policy.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct PolicyNameInput {
    pub name: String,
}

pub async fn job_policy_remove(s: &Session, p: PolicyNameInput) -> Result<Vec<PolicyChoice>> {
    remove(&s.db, &p.name).await?;
    list(&s.db).await
}

pub async fn concurrency_limits(s: &Session, _: NoInput) -> Result<Vec<ConcurrencyLimit>> {
    limits(&s.db).await
}

pub async fn concurrency_limit_set(s: &Session, i: LimitInput) -> Result<Vec<ConcurrencyLimit>> {
    set_limit(&s.db, &i).await
}
