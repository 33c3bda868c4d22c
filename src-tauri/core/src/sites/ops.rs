//! The sites domain's operations, as the registry ([`crate::api`]) declares them: regions,
//! countries and sites; the inference rules; running inference; conflicts with their
//! evidence; where one thing is, and pinning it by hand. Admins manage geography and
//! rules, operators pin; PostgreSQL decides.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::{
    Country, EntityKind, InferenceCount, InferenceMethod, NewSite, NewSiteRule, Placement, Region, RuleMatch, Site,
    SiteChanges, SiteConflict, SitePin, SiteRule, SiteStatus,
};
use crate::api::{NoInput, Session};
use crate::error::{Error, Result};

/// Geography, rules, conflicts and pins in one answer: what the Sites page shows.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SitesPage {
    pub regions: Vec<Region>,
    pub countries: Vec<Country>,
    pub sites: Vec<Site>,
    pub rules: Vec<SiteRule>,
    pub conflicts: Vec<SiteConflict>,
    /// Manual placements, newest first.
    pub pins: Vec<SitePin>,
}

pub async fn sites_page(s: &Session, _: NoInput) -> Result<SitesPage> {
    Ok(SitesPage {
        regions: super::regions(&s.db).await?,
        countries: super::countries(&s.db).await?,
        sites: super::list(&s.db).await?,
        rules: super::rules(&s.db).await?,
        conflicts: super::conflicts(&s.db).await?,
        pins: super::pins(&s.db).await?,
    })
}

pub async fn sites(s: &Session, _: NoInput) -> Result<Vec<Site>> {
    super::list(&s.db).await
}

pub async fn site_add(s: &Session, i: NewSite) -> Result<Site> {
    super::add(&s.db, &i).await
}

/// Changes to a site; a field left out stays as it is.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SiteUpdateInput {
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub status: Option<SiteStatus>,
}

pub async fn site_update(s: &Session, i: SiteUpdateInput) -> Result<Site> {
    super::update(&s.db, &i.code, &SiteChanges { name: i.name, timezone: i.timezone, status: i.status }).await
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SiteCodeInput {
    pub code: String,
}

/// What a change did, in one sentence.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SiteChanged {
    pub message: String,
}

pub async fn site_remove(s: &Session, i: SiteCodeInput) -> Result<SiteChanged> {
    super::remove(&s.db, &i.code).await?;
    Ok(SiteChanged {
        message: format!(
            "Removed site {}; its prefixes and sources stay, without a site.",
            i.code.trim().to_uppercase()
        ),
    })
}

pub async fn regions(s: &Session, _: NoInput) -> Result<Vec<Region>> {
    super::regions(&s.db).await
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct RegionAddInput {
    /// EMEA, US-EAST, …
    pub code: String,
    pub name: String,
}

pub async fn region_add(s: &Session, i: RegionAddInput) -> Result<Region> {
    super::add_region(&s.db, &i.code, &i.name).await
}

pub async fn countries(s: &Session, _: NoInput) -> Result<Vec<Country>> {
    super::countries(&s.db).await
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct CountryAddInput {
    /// ISO 3166 alpha-2 (DE, US).
    pub iso_code: String,
    /// The region's code.
    pub region: String,
    pub name: String,
}

pub async fn country_add(s: &Session, i: CountryAddInput) -> Result<Country> {
    super::add_country(&s.db, &i.iso_code, &i.region, &i.name).await
}

pub async fn site_rules(s: &Session, _: NoInput) -> Result<Vec<SiteRule>> {
    super::rules(&s.db).await
}

/// A rule that places things at a site: a name pattern (vcenter: datacenter or cluster
/// names; dns: host names) or a VLAN.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct SiteRuleAddInput {
    pub site: String,
    /// vcenter, dns or vlan.
    pub method: InferenceMethod,
    /// vcenter and dns: a case-insensitive regular expression.
    #[serde(default)]
    pub pattern: Option<String>,
    /// vlan: the VLAN id.
    #[serde(default)]
    pub vlan_id: Option<i32>,
    /// Above 0, below 1 (default: vcenter 0.9, vlan 0.6, dns 0.5).
    #[serde(default)]
    pub confidence: Option<f32>,
    #[serde(default)]
    pub description: Option<String>,
}

pub async fn site_rule_add(s: &Session, i: SiteRuleAddInput) -> Result<SiteRule> {
    super::add_rule(&s.db, &new_rule(i)?).await
}

/// What the rule would place, and what would move, before it is saved (admins).
pub async fn site_rule_preview(s: &Session, i: SiteRuleAddInput) -> Result<super::RulePreview> {
    super::preview_rule(&s.db, &new_rule(i)?).await
}

fn new_rule(i: SiteRuleAddInput) -> Result<NewSiteRule> {
    let pattern = i.pattern.filter(|p| !p.trim().is_empty());
    let rule = match (i.method, pattern, i.vlan_id) {
        (InferenceMethod::Vcenter, Some(p), None) => RuleMatch::Vcenter(p),
        (InferenceMethod::Dns, Some(p), None) => RuleMatch::Dns(p),
        (InferenceMethod::Vlan, None, Some(v)) => RuleMatch::Vlan(v),
        (InferenceMethod::Vcenter | InferenceMethod::Dns, _, _) => {
            return Err(Error::invalid("a vcenter or dns rule has a name pattern, and no VLAN"))
        }
        (InferenceMethod::Vlan, _, _) => return Err(Error::invalid("a vlan rule has a VLAN id, and no pattern")),
        (m, _, _) => {
            return Err(Error::invalid(format!(
                "rules use vcenter, dns or vlan; {m} placements come from prefixes or by hand"
            )))
        }
    };
    Ok(NewSiteRule { site: i.site, rule, confidence: i.confidence, description: i.description })
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct RuleIdInput {
    #[ts(type = "string")]
    pub id: Uuid,
}

pub async fn site_rule_remove(s: &Session, i: RuleIdInput) -> Result<SiteChanged> {
    super::remove_rule(&s.db, i.id).await?;
    Ok(SiteChanged { message: format!("Removed rule {}; run inference to apply it.", i.id) })
}

pub async fn site_infer(s: &Session, _: NoInput) -> Result<Vec<InferenceCount>> {
    super::infer(&s.db).await
}

pub async fn site_conflicts(s: &Session, _: NoInput) -> Result<Vec<SiteConflict>> {
    super::conflicts(&s.db).await
}

/// A VM, host, server or observed address.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct EntityInput {
    /// vm, host, server or ip (or the full kind name).
    pub kind: String,
    #[ts(type = "string")]
    pub id: Uuid,
}

pub async fn site_placement(s: &Session, i: EntityInput) -> Result<Placement> {
    super::placement(&s.db, EntityKind::parse_placeable(&i.kind)?, i.id).await
}

/// Place something at a site by hand: it wins over every inference and survives resyncs.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct PinInput {
    pub kind: String,
    #[ts(type = "string")]
    pub id: Uuid,
    pub site: String,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

pub async fn site_pin(s: &Session, i: PinInput) -> Result<Placement> {
    super::pin(&s.db, EntityKind::parse_placeable(&i.kind)?, i.id, &i.site, i.note.as_deref()).await
}

pub async fn site_unpin(s: &Session, i: EntityInput) -> Result<Placement> {
    super::unpin(&s.db, EntityKind::parse_placeable(&i.kind)?, i.id).await
}
