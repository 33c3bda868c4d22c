//! Domain 2, Sites & Geography: Region → Country → Site, the rules that place things at
//! sites, and site inference for every host, VM, server and observed address.
//!
//! Inference runs in the database (`refresh_site_inferences()` in
//! `migrations/0010_sites_ipam_findings.sql`): vcenter (datacenter/cluster name rules and
//! the vCenter's own site), cidr (the most specific prefix with a site), vlan (a VLAN rule
//! for the prefix's VLAN or a VM's port group), dns (host name rules). Each opinion has a
//! confidence and evidence; the most confident wins, a manual placement always wins and
//! no re-run touches it; entities whose methods disagree are listed as conflicts.
//!
//! This module never writes a non-manual inference itself (the SQL pass does), never
//! places anything on someone else's behalf, and never talks to vCenter or DNS.
pub mod ops;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::db::{constraint_of, db_enum};
use crate::error::{Error, Result};
use crate::Database;

db_enum! {
    /// Whether a site is in service.
    pub enum SiteStatus: "site_status", "site status" {
        Active = "active",
        Maintenance = "maintenance",
        Offline = "offline",
    }
}

db_enum! {
    /// How a site was inferred.
    pub enum InferenceMethod: "inference_method", "inference method" {
        Vcenter = "vcenter",
        Cidr = "cidr",
        Vlan = "vlan",
        Dns = "dns",
        Manual = "manual",
    }
}

db_enum! {
    /// The kinds of thing the ledger, inferences and observations point at.
    pub enum EntityKind: "entity_kind", "entity kind" {
        VcenterInstance = "vcenter_instance",
        Datacenter = "datacenter",
        Cluster = "cluster",
        EsxiHost = "esxi_host",
        VirtualMachine = "virtual_machine",
        IdracEndpoint = "idrac_endpoint",
        PhysicalServer = "physical_server",
        FirmwareComponent = "firmware_component",
        OmeInstance = "ome_instance",
        IpObservation = "ip_observation",
        ServerMapping = "server_mapping",
    }
}

impl EntityKind {
    /// The kinds site inference places, with the short names a command line accepts
    /// (`vm`, `host`, `server`, `ip`) besides the full ones.
    pub fn parse_placeable(s: &str) -> Result<EntityKind> {
        match s.trim() {
            "vm" | "virtual_machine" => Ok(EntityKind::VirtualMachine),
            "host" | "esxi_host" => Ok(EntityKind::EsxiHost),
            "server" | "physical_server" => Ok(EntityKind::PhysicalServer),
            "ip" | "ip_observation" => Ok(EntityKind::IpObservation),
            other => Err(Error::invalid(format!(
                "site inference places vm, host, server and ip (observed addresses), not \"{other}\""
            ))),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct Region {
    #[ts(type = "string")]
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub countries: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct Country {
    #[ts(type = "string")]
    pub id: Uuid,
    /// ISO 3166 alpha-2 code.
    pub iso_code: String,
    pub name: String,
    pub region: String,
    pub sites: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct Site {
    #[ts(type = "string")]
    pub id: Uuid,
    /// e.g. US-EAST-01
    pub code: String,
    pub name: Option<String>,
    /// IANA time zone.
    pub timezone: String,
    pub status: SiteStatus,
    pub country: String,
    pub country_name: String,
    pub region: String,
    /// Prefixes assigned to the site.
    pub prefixes: i64,
    /// Inference rules naming the site.
    pub rules: i64,
}

/// What `eio site add` asks for.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct NewSite {
    pub code: String,
    /// Country ISO code; the country must exist.
    pub country: String,
    #[serde(default)]
    pub name: Option<String>,
    /// IANA time zone (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub status: Option<SiteStatus>,
}

/// Changes to a site; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SiteChanges {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub status: Option<SiteStatus>,
}

/// A rule inference applies.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct SiteRule {
    #[ts(type = "string")]
    pub id: Uuid,
    pub method: InferenceMethod,
    pub site: String,
    /// vcenter and dns: a case-insensitive regular expression.
    pub pattern: Option<String>,
    /// vlan: the VLAN id.
    pub vlan_id: Option<i32>,
    pub confidence: f32,
    pub description: Option<String>,
}

/// What a new rule says.
#[derive(Debug, Clone)]
pub enum RuleMatch {
    /// Datacenter or cluster names matching this pattern are at the site.
    Vcenter(String),
    /// Host names matching this pattern are at the site.
    Dns(String),
    /// Prefixes and port groups of this VLAN are at the site.
    Vlan(i32),
}

#[derive(Debug, Clone)]
pub struct NewSiteRule {
    pub site: String,
    pub rule: RuleMatch,
    /// Default: vcenter 0.9, vlan 0.6, dns 0.5.
    pub confidence: Option<f32>,
    pub description: Option<String>,
}

/// One method's opinion about where an entity is.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct Inference {
    pub method: InferenceMethod,
    pub site: String,
    pub confidence: f32,
    /// Which rule, which prefix, which name.
    #[ts(type = "Record<string, unknown>")]
    pub evidence: serde_json::Value,
    /// The evidence in words.
    #[sqlx(skip)]
    #[serde(default)]
    pub because: String,
    #[ts(type = "string")]
    pub updated_at: DateTime<Utc>,
}

/// Where an entity is, and why.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Placement {
    pub entity_type: EntityKind,
    #[ts(type = "string")]
    pub entity_id: Uuid,
    /// What it is called, when known.
    pub name: Option<String>,
    /// The winning opinion: manual first, then the most confident.
    pub winner: Option<Inference>,
    /// Every opinion, winner first.
    pub inferences: Vec<Inference>,
    /// True when the opinions name more than one site.
    pub conflict: bool,
}

/// One method's opinion in a conflict: where it places the entity, how sure it is, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct SiteOpinion {
    pub site: String,
    pub method: InferenceMethod,
    pub confidence: f32,
    /// Which rule, which prefix, which name, as inference recorded it.
    #[ts(type = "Record<string, unknown>")]
    pub evidence: serde_json::Value,
    /// The evidence in words ("datacenter Frankfurt-DC matches ^frankfurt").
    #[serde(default)]
    pub because: String,
}

/// An entity whose inference methods disagree.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct SiteConflict {
    pub entity_type: EntityKind,
    #[ts(type = "string")]
    pub entity_id: Uuid,
    pub name: Option<String>,
    pub winner_site: String,
    pub winner_method: InferenceMethod,
    /// Every opinion, winner first: pinning to one of their sites settles the conflict.
    #[sqlx(json)]
    pub opinions: Vec<SiteOpinion>,
}

/// A manual placement: who put what where, and why.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct SitePin {
    pub entity_type: EntityKind,
    #[ts(type = "string")]
    pub entity_id: Uuid,
    /// What it is called, when it still exists.
    pub name: Option<String>,
    pub site: String,
    /// Email of who pinned it.
    pub pinned_by: Option<String>,
    pub note: Option<String>,
    #[ts(type = "string")]
    pub pinned_at: DateTime<Utc>,
    /// Whether the caller may unpin it (its author, or an admin).
    pub can_unpin: bool,
}

/// An inference's evidence in words, for lists an operator reads.
pub fn describe_evidence(method: InferenceMethod, evidence: &serde_json::Value) -> String {
    let field = |k: &str| match evidence.get(k) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let said = match (method, field("rule").as_deref()) {
        (InferenceMethod::Manual, _) => Some(match (field("set_by"), field("note")) {
            (Some(who), Some(note)) => format!("pinned by {who}: {note}"),
            (Some(who), None) => format!("pinned by {who}"),
            (None, Some(note)) => format!("pinned by hand: {note}"),
            (None, None) => "pinned by hand".to_owned(),
        }),
        (_, Some("name pattern")) => match (field("matched").or(field("field")), field("name"), field("pattern")) {
            (Some(what), Some(name), Some(pattern)) => {
                Some(format!("{} {name} matches {pattern}", what.replace('_', " ")))
            }
            _ => None,
        },
        (_, Some("vcenter site")) => field("vcenter").map(|vc| format!("its vCenter {vc} is configured at this site")),
        (_, Some("prefix site")) => match (field("address"), field("prefix")) {
            (Some(a), Some(p)) => Some(match field("routing_domain") {
                Some(d) => format!("address {a} is in prefix {p} ({d})"),
                None => format!("address {a} is in prefix {p}"),
            }),
            _ => None,
        },
        (_, Some("prefix vlan")) => match (field("address"), field("prefix"), field("vlan")) {
            (Some(a), Some(p), Some(v)) => Some(format!("address {a} is in prefix {p} of VLAN {v}")),
            _ => None,
        },
        (_, Some("port group vlan")) => match (field("network"), field("vlan")) {
            (Some(n), Some(v)) => Some(format!("port group {n} is VLAN {v}")),
            _ => None,
        },
        _ => None,
    };
    // Evidence of a shape this doesn't know yet: its fields as they are.
    said.unwrap_or_else(|| match evidence.as_object() {
        Some(o) if !o.is_empty() => o
            .iter()
            .filter(|(k, _)| k.as_str() != "rule_id")
            .map(|(k, v)| {
                format!("{}: {}", k.replace('_', " "), v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => "no evidence recorded".to_owned(),
    })
}

/// What one inference pass did, per method.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct InferenceCount {
    pub method: InferenceMethod,
    /// Inferences of this method now.
    pub total: i64,
    /// New or changed in this pass.
    pub written: i64,
    /// No longer holding, removed in this pass.
    pub removed: i64,
}

fn map_geo_error(e: sqlx::Error, what: &str) -> Error {
    match constraint_of(&e) {
        Some("regions_code_key") => Error::conflict(format!("region {what} already exists")),
        Some("regions_code_format") => Error::invalid(format!(
            "\"{what}\" is not a valid region code: uppercase letters, digits and dashes (EMEA, US-EAST)"
        )),
        Some("countries_iso_code_key") => Error::conflict(format!("country {what} already exists")),
        Some("countries_iso_code_format") => {
            Error::invalid(format!("\"{what}\" is not a country code: use its two ISO 3166 letters (DE, US)"))
        }
        Some("sites_code_key") => Error::conflict(format!("site {what} already exists")),
        Some("sites_code_format") => Error::invalid(format!(
            "\"{what}\" is not a valid site code: 2 to 32 uppercase letters, digits and dashes, e.g. US-EAST-01"
        )),
        Some("site_rules_rule_key") => Error::conflict("that rule already exists"),
        Some("site_rules_confidence_range") => {
            Error::invalid("a rule's confidence is above 0 and below 1 (only a manual placement is certain)")
        }
        Some("site_rules_vlan_id_range") => Error::invalid("a VLAN id is between 1 and 4094"),
        Some("site_rules_shape") => Error::invalid("a rule has a pattern (vcenter, dns) or a VLAN id (vlan)"),
        _ => Error::from(e),
    }
}

pub async fn regions(db: &Database) -> Result<Vec<Region>> {
    Ok(sqlx::query_as::<_, Region>(
        "SELECT r.id, r.code, r.name, (SELECT count(*) FROM countries c WHERE c.region_id = r.id) AS countries
         FROM regions r ORDER BY r.code",
    )
    .fetch_all(db.pool())
    .await?)
}

/// Add a region (admins).
pub async fn add_region(db: &Database, code: &str, name: &str) -> Result<Region> {
    let code = code.trim().to_uppercase();
    sqlx::query("INSERT INTO regions (code, name) VALUES ($1, $2)")
        .bind(&code)
        .bind(non_empty(name, "a region needs a name")?)
        .execute(db.pool())
        .await
        .map_err(|e| map_geo_error(e, &code))?;
    regions(db).await?.into_iter().find(|r| r.code == code).ok_or_else(|| Error::internal("region vanished"))
}

pub async fn countries(db: &Database) -> Result<Vec<Country>> {
    Ok(sqlx::query_as::<_, Country>(
        "SELECT c.id, c.iso_code::text AS iso_code, c.name, r.code AS region,
                (SELECT count(*) FROM sites s WHERE s.country_id = c.id) AS sites
         FROM countries c JOIN regions r ON r.id = c.region_id ORDER BY c.iso_code",
    )
    .fetch_all(db.pool())
    .await?)
}

/// Add a country to a region (admins).
pub async fn add_country(db: &Database, iso_code: &str, region: &str, name: &str) -> Result<Country> {
    let iso = iso_code.trim().to_uppercase();
    if iso.len() != 2 || !iso.chars().all(|c| c.is_ascii_uppercase()) {
        // The column is char(2): say what a code is before PostgreSQL says "value too long".
        return Err(Error::invalid(format!(
            "\"{}\" is not a country code: use its two ISO 3166 letters (DE, US)",
            iso_code.trim()
        )));
    }
    let region = region.trim().to_uppercase();
    let region_id: Uuid = sqlx::query_scalar("SELECT id FROM regions WHERE code = $1")
        .bind(&region)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no region with code {region}")))?;
    sqlx::query("INSERT INTO countries (region_id, iso_code, name) VALUES ($1, $2, $3)")
        .bind(region_id)
        .bind(&iso)
        .bind(non_empty(name, "a country needs a name")?)
        .execute(db.pool())
        .await
        .map_err(|e| map_geo_error(e, &iso))?;
    countries(db).await?.into_iter().find(|c| c.iso_code == iso).ok_or_else(|| Error::internal("country vanished"))
}

const SITE_SELECT: &str = r#"
    SELECT s.id, s.code, s.name, s.timezone, s.status, c.iso_code::text AS country, c.name AS country_name,
           r.code AS region,
           (SELECT count(*) FROM prefixes p WHERE p.site_id = s.id) AS prefixes,
           (SELECT count(*) FROM site_rules x WHERE x.site_id = s.id) AS rules
    FROM sites s JOIN countries c ON c.id = s.country_id JOIN regions r ON r.id = c.region_id
"#;

/// Every site, by region, country and code.
pub async fn list(db: &Database) -> Result<Vec<Site>> {
    Ok(sqlx::query_as(&format!("{SITE_SELECT} ORDER BY r.code, c.iso_code, s.code")).fetch_all(db.pool()).await?)
}

pub async fn get(db: &Database, code: &str) -> Result<Site> {
    let code = code.trim().to_uppercase();
    sqlx::query_as(&format!("{SITE_SELECT} WHERE s.code = $1"))
        .bind(&code)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no site with code {code}")))
}

/// Add a site (admins).
pub async fn add(db: &Database, new: &NewSite) -> Result<Site> {
    let code = new.code.trim().to_uppercase();
    let country = new.country.trim().to_uppercase();
    let country_id: Uuid = sqlx::query_scalar("SELECT id FROM countries WHERE iso_code = $1")
        .bind(&country)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no country {country}: add it first")))?;
    sqlx::query(
        "INSERT INTO sites (country_id, code, name, timezone, status)
         VALUES ($1, $2, $3, coalesce($4, 'UTC'), coalesce($5, 'active'::site_status))",
    )
    .bind(country_id)
    .bind(&code)
    .bind(new.name.as_deref().map(str::trim).filter(|n| !n.is_empty()))
    .bind(new.timezone.as_deref().map(str::trim).filter(|t| !t.is_empty()))
    .bind(new.status)
    .execute(db.pool())
    .await
    .map_err(|e| map_geo_error(e, &code))?;
    get(db, &code).await
}

/// Change a site's name, time zone or status (admins).
pub async fn update(db: &Database, code: &str, changes: &SiteChanges) -> Result<Site> {
    let site = get(db, code).await?;
    sqlx::query(
        "UPDATE sites SET name = coalesce($2, name), timezone = coalesce($3, timezone), status = coalesce($4, status)
         WHERE id = $1",
    )
    .bind(site.id)
    .bind(changes.name.as_deref().map(str::trim).filter(|n| !n.is_empty()))
    .bind(changes.timezone.as_deref().map(str::trim).filter(|t| !t.is_empty()))
    .bind(changes.status)
    .execute(db.pool())
    .await
    .map_err(|e| map_geo_error(e, &site.code))?;
    get(db, &site.code).await
}

/// Remove a site (admins). Its prefixes and sources stay, without a site; its rules and
/// the inferences naming it go.
pub async fn remove(db: &Database, code: &str) -> Result<()> {
    let site = get(db, code).await?;
    sqlx::query("DELETE FROM sites WHERE id = $1").bind(site.id).execute(db.pool()).await?;
    Ok(())
}

const RULE_SELECT: &str = r#"
    SELECT x.id, x.method, s.code AS site, x.pattern, x.vlan_id, x.confidence, x.description
    FROM site_rules x JOIN sites s ON s.id = x.site_id
"#;

pub async fn rules(db: &Database) -> Result<Vec<SiteRule>> {
    Ok(sqlx::query_as(&format!("{RULE_SELECT} ORDER BY x.method, s.code, x.pattern, x.vlan_id"))
        .fetch_all(db.pool())
        .await?)
}

/// Add an inference rule (admins).
pub async fn add_rule(db: &Database, new: &NewSiteRule) -> Result<SiteRule> {
    let site = get(db, &new.site).await?;
    let mut conn = db.pool().acquire().await?;
    let id = insert_rule(&mut conn, new, site.id, &site.code).await?;
    Ok(sqlx::query_as(&format!("{RULE_SELECT} WHERE x.id = $1")).bind(id).fetch_one(db.pool()).await?)
}

async fn insert_rule(conn: &mut sqlx::PgConnection, new: &NewSiteRule, site: Uuid, code: &str) -> Result<Uuid> {
    let (method, pattern, vlan, default_confidence) = match &new.rule {
        RuleMatch::Vcenter(p) => {
            (InferenceMethod::Vcenter, Some(non_empty(p, "a vcenter rule needs a pattern")?), None, 0.9)
        }
        RuleMatch::Dns(p) => (InferenceMethod::Dns, Some(non_empty(p, "a dns rule needs a pattern")?), None, 0.5),
        RuleMatch::Vlan(v) => (InferenceMethod::Vlan, None, Some(*v), 0.6),
    };
    sqlx::query_scalar(
        "INSERT INTO site_rules (method, site_id, pattern, vlan_id, confidence, description, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, current_app_user_id()) RETURNING id",
    )
    .bind(method)
    .bind(site)
    .bind(pattern)
    .bind(vlan)
    .bind(new.confidence.unwrap_or(default_confidence))
    .bind(new.description.as_deref().map(str::trim).filter(|d| !d.is_empty()))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| map_geo_error(e, code))
}

/// What a rule would do, before it is saved.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct RulePreview {
    /// How many objects the rule would hold an opinion on, per kind.
    pub matched: Vec<KindCount>,
    /// How many objects would be placed elsewhere than they are now (the rule's opinion
    /// wins over theirs).
    pub moved: i64,
    /// Up to 20 of those, with where they are now and where they would be.
    pub examples: Vec<PreviewMove>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct KindCount {
    pub kind: EntityKind,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct PreviewMove {
    pub kind: EntityKind,
    pub name: Option<String>,
    /// Where it is placed now (None: nowhere yet).
    pub from_site: Option<String>,
    pub to_site: String,
}

/// Run inference with the rule added, read what it did, and roll it all back: the preview
/// uses the very matching the saved rule will (`refresh_site_inferences`), so it can't say
/// something the rule then doesn't do. Nothing is kept, nothing is announced. As the
/// caller: previewing is for those who may add rules (admins).
pub async fn preview_rule(db: &Database, new: &NewSiteRule) -> Result<RulePreview> {
    let site = get(db, &new.site).await?;
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "CREATE TEMP TABLE eio_rule_preview_before ON COMMIT DROP AS SELECT entity_type, entity_id, site_id FROM entity_sites",
    )
    .execute(&mut *tx)
    .await?;
    let id = insert_rule(&mut tx, new, site.id, &site.code).await?;
    sqlx::query("SELECT * FROM refresh_site_inferences()").execute(&mut *tx).await?;
    // What the rule holds an opinion on, and where things were before, in tables of this
    // session's own that it can analyze: the real tables' statistics don't know about
    // rows a preview inserted (and rolls back), and a nested loop over two tables the
    // planner believes empty took 26 s at 10k VMs. Hash joins only, for this transaction.
    sqlx::query(
        "CREATE TEMP TABLE eio_rule_preview_matched ON COMMIT DROP AS
         SELECT entity_type, entity_id, site_id FROM site_inferences WHERE evidence ->> 'rule_id' = $1::text",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    for sql in [
        "ANALYZE pg_temp.eio_rule_preview_before",
        "ANALYZE pg_temp.eio_rule_preview_matched",
        "SET LOCAL enable_nestloop = off",
    ] {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    let matched: Vec<(EntityKind, i64)> =
        sqlx::query_as("SELECT entity_type, count(*) FROM pg_temp.eio_rule_preview_matched GROUP BY 1 ORDER BY 1")
            .fetch_all(&mut *tx)
            .await?;
    // Moved: the rule's opinion now wins, and the object was elsewhere (or nowhere) before.
    const MOVED: &str = "FROM pg_temp.eio_rule_preview_matched m
         JOIN entity_sites e ON e.entity_type = m.entity_type AND e.entity_id = m.entity_id AND e.site_id = m.site_id
         LEFT JOIN pg_temp.eio_rule_preview_before b ON b.entity_type = m.entity_type AND b.entity_id = m.entity_id
         WHERE b.site_id IS DISTINCT FROM e.site_id";
    let moved: i64 = sqlx::query_scalar(&format!("SELECT count(*) {MOVED}")).fetch_one(&mut *tx).await?;
    let examples: Vec<PreviewMove> = sqlx::query_as(&format!(
        "SELECT kind, name, from_site, to_site FROM (
             SELECT e.entity_type AS kind, e.entity_id, b.site_id AS before, e.site_id AS after
             {MOVED} ORDER BY e.entity_type, e.entity_id LIMIT 200) x,
         LATERAL (SELECT entity_label(x.kind, x.entity_id) AS name,
                         (SELECT code FROM sites WHERE id = x.before) AS from_site,
                         (SELECT code FROM sites WHERE id = x.after) AS to_site) l
         ORDER BY kind, name LIMIT 20"
    ))
    .fetch_all(&mut *tx)
    .await?;
    tx.rollback().await?;
    Ok(RulePreview {
        matched: matched.into_iter().map(|(kind, count)| KindCount { kind, count }).collect(),
        moved,
        examples,
    })
}

pub async fn remove_rule(db: &Database, id: Uuid) -> Result<()> {
    let n = sqlx::query("DELETE FROM site_rules WHERE id = $1").bind(id).execute(db.pool()).await?.rows_affected();
    if n == 0 {
        return Err(Error::not_found(format!("no site rule with id {id}")));
    }
    Ok(())
}

/// Run inference now (operators on demand, workers after every sync).
pub async fn infer(db: &Database) -> Result<Vec<InferenceCount>> {
    Ok(sqlx::query_as::<_, InferenceCount>("SELECT method, total, written, removed FROM refresh_site_inferences()")
        .fetch_all(db.pool())
        .await?)
}

/// Where `entity` is, with every opinion, winner first.
pub async fn placement(db: &Database, kind: EntityKind, id: Uuid) -> Result<Placement> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT entity_label($1, $2)").bind(kind).bind(id).fetch_one(db.pool()).await?;
    let mut inferences: Vec<Inference> = sqlx::query_as(
        "SELECT i.method, s.code AS site, i.confidence, i.evidence, i.updated_at
         FROM site_inferences i JOIN sites s ON s.id = i.site_id
         WHERE i.entity_type = $1 AND i.entity_id = $2
         ORDER BY (i.method = 'manual') DESC, i.confidence DESC, i.method, s.code",
    )
    .bind(kind)
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    for i in &mut inferences {
        i.because = describe_evidence(i.method, &i.evidence);
    }
    if name.is_none() && inferences.is_empty() {
        return Err(Error::not_found(format!("no {kind} with id {id}")));
    }
    let conflict = inferences.iter().any(|i| inferences.first().is_some_and(|w| w.site != i.site));
    Ok(Placement { entity_type: kind, entity_id: id, name, winner: inferences.first().cloned(), inferences, conflict })
}

/// Entities whose inference methods name different sites, with every opinion and its
/// evidence in words.
pub async fn conflicts(db: &Database) -> Result<Vec<SiteConflict>> {
    let mut list = sqlx::query_as::<_, SiteConflict>(
        "SELECT entity_type, entity_id, entity_label(entity_type, entity_id) AS name, winner_site_code AS winner_site,
                winner_method,
                opinions
         FROM site_inference_conflicts ORDER BY entity_type, name, entity_id",
    )
    .fetch_all(db.pool())
    .await?;
    for o in list.iter_mut().flat_map(|c| c.opinions.iter_mut()) {
        o.because = describe_evidence(o.method, &o.evidence);
    }
    Ok(list)
}

/// Every manual placement, newest first.
pub async fn pins(db: &Database) -> Result<Vec<SitePin>> {
    Ok(sqlx::query_as::<_, SitePin>(
        "SELECT i.entity_type, i.entity_id, entity_label(i.entity_type, i.entity_id) AS name, s.code AS site,
                coalesce(u.email, i.evidence ->> 'set_by') AS pinned_by, i.evidence ->> 'note' AS note,
                i.updated_at AS pinned_at,
                (i.created_by = current_app_user_id() OR is_admin_session()) IS TRUE AS can_unpin
         FROM site_inferences i JOIN sites s ON s.id = i.site_id LEFT JOIN users u ON u.id = i.created_by
         WHERE i.method = 'manual'
         ORDER BY i.updated_at DESC, i.entity_type, i.entity_id",
    )
    .fetch_all(db.pool())
    .await?)
}

/// Place `entity` at `site` by hand (operators, as themselves). A manual placement wins
/// over every inferred one and survives every re-run; a new one replaces the old.
pub async fn pin(db: &Database, kind: EntityKind, id: Uuid, site: &str, note: Option<&str>) -> Result<Placement> {
    let site = get(db, site).await?;
    let (exists, user, login): (bool, Option<Uuid>, String) =
        sqlx::query_as("SELECT entity_label($1, $2) IS NOT NULL, current_app_user_id(), session_user::text")
            .bind(kind)
            .bind(id)
            .fetch_one(db.pool())
            .await?;
    if !exists {
        return Err(Error::not_found(format!("no {kind} with id {id}")));
    }
    if user.is_none() {
        return Err(Error::forbidden(format!(
            "placing something by hand needs an EIO user; login \"{login}\" is not mapped to one"
        )));
    }
    refuse_someone_elses_placement(db, kind, id).await?;
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM site_inferences WHERE entity_type = $1 AND entity_id = $2 AND method = 'manual'")
        .bind(kind)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence, evidence, created_by)
         VALUES ($1, $2, $3, 'manual', 1, jsonb_strip_nulls(jsonb_build_object(
                     'rule', 'manual', 'set_by', (SELECT email FROM users WHERE id = current_app_user_id()),
                     'note', $4::text)),
                 current_app_user_id())",
    )
    .bind(kind)
    .bind(id)
    .bind(site.id)
    .bind(note.map(str::trim).filter(|n| !n.is_empty()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    placement(db, kind, id).await
}

/// Remove the manual placement of `entity`; inference decides again.
pub async fn unpin(db: &Database, kind: EntityKind, id: Uuid) -> Result<Placement> {
    refuse_someone_elses_placement(db, kind, id).await?;
    let n = sqlx::query("DELETE FROM site_inferences WHERE entity_type = $1 AND entity_id = $2 AND method = 'manual'")
        .bind(kind)
        .bind(id)
        .execute(db.pool())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::not_found(format!("{kind} {id} has no manual placement")));
    }
    placement(db, kind, id).await
}

/// Someone else's manual placement is theirs (or an admin's) to move: the database hides it
/// from this login's DELETE, so say so instead of failing on a duplicate or "not found".
async fn refuse_someone_elses_placement(db: &Database, kind: EntityKind, id: Uuid) -> Result<()> {
    let theirs: Option<String> = sqlx::query_scalar(
        "SELECT coalesce(u.email, 'someone') FROM site_inferences i LEFT JOIN users u ON u.id = i.created_by
         WHERE i.entity_type = $1 AND i.entity_id = $2 AND i.method = 'manual'
           AND i.created_by IS DISTINCT FROM current_app_user_id() AND NOT is_admin_session()",
    )
    .bind(kind)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    match theirs {
        Some(email) => Err(Error::forbidden(format!(
            "{kind} {id} was placed by hand by {email}: only they or an admin may move it"
        ))),
        None => Ok(()),
    }
}

fn non_empty<'a>(s: &'a str, why: &str) -> Result<&'a str> {
    let t = s.trim();
    if t.is_empty() {
        Err(Error::invalid(why))
    } else {
        Ok(t)
    }
}
