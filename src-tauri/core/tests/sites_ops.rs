//! The sites domain through the operation registry as real logins: admins build the
//! geography and the rules, operators run inference and pin, viewers read.
mod common;

use common::Login;
use eio_core::api::{self, op, NoInput, Session};
use eio_core::error::ErrorCode;
use eio_core::sites::ops::{
    CountryAddInput, RegionAddInput, RuleIdInput, SiteCodeInput, SiteRuleAddInput, SiteUpdateInput,
};
use eio_core::sites::{InferenceMethod, NewSite, SiteStatus};
use eio_core::Database;
use sqlx::PgPool;

fn session(login: &Login) -> Session {
    Session::new(Database::from_pool(login.pool.clone()))
}

fn rule(method: InferenceMethod, pattern: Option<&str>, vlan_id: Option<i32>) -> SiteRuleAddInput {
    SiteRuleAddInput {
        site: "DE-FRA-01".into(),
        method,
        pattern: pattern.map(str::to_owned),
        vlan_id,
        confidence: None,
        description: None,
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn admins_build_the_geography_and_rules_and_others_cannot(admin: PgPool) {
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    let alice = Login::new(&admin, "eio_operator", Some(("alice@example.test", "operator", &[]))).await;
    let (c, a) = (session(&carol), session(&alice));

    let err = api::call::<op::region_add>(&a, RegionAddInput { code: "EMEA".into(), name: "Europe".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
    api::call::<op::region_add>(&c, RegionAddInput { code: "EMEA".into(), name: "Europe".into() }).await.unwrap();
    let err = api::call::<op::country_add>(
        &c,
        CountryAddInput { iso_code: "Germany".into(), region: "EMEA".into(), name: "Germany".into() },
    )
    .await
    .unwrap_err();
    assert_eq!(err.message, "\"Germany\" is not a country code: use its two ISO 3166 letters (DE, US)");
    api::call::<op::country_add>(
        &c,
        CountryAddInput { iso_code: "DE".into(), region: "EMEA".into(), name: "Germany".into() },
    )
    .await
    .unwrap();
    let site = api::call::<op::site_add>(
        &c,
        NewSite {
            code: "DE-FRA-01".into(),
            country: "DE".into(),
            name: Some("Frankfurt".into()),
            timezone: Some("Europe/Berlin".into()),
            status: None,
        },
    )
    .await
    .unwrap();
    assert_eq!((site.region.as_str(), site.status), ("EMEA", SiteStatus::Active));
    let s = api::call::<op::site_update>(
        &c,
        SiteUpdateInput { code: "DE-FRA-01".into(), name: None, timezone: None, status: Some(SiteStatus::Maintenance) },
    )
    .await
    .unwrap();
    assert_eq!((s.status, s.name.as_deref()), (SiteStatus::Maintenance, Some("Frankfurt")));

    // Rules: each method has its own shape, said plainly.
    let err = api::call::<op::site_rule_add>(&c, rule(InferenceMethod::Vlan, Some("^fra"), None)).await.unwrap_err();
    assert_eq!(err.message, "a vlan rule has a VLAN id, and no pattern");
    let err = api::call::<op::site_rule_add>(&c, rule(InferenceMethod::Dns, None, Some(12))).await.unwrap_err();
    assert_eq!(err.message, "a vcenter or dns rule has a name pattern, and no VLAN");
    let err = api::call::<op::site_rule_add>(&c, rule(InferenceMethod::Manual, Some("x"), None)).await.unwrap_err();
    assert_eq!(err.message, "rules use vcenter, dns or vlan; manual placements come from prefixes or by hand");
    let err =
        api::call::<op::site_rule_add>(&a, rule(InferenceMethod::Vcenter, Some("^fra-"), None)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
    let r = api::call::<op::site_rule_add>(&c, rule(InferenceMethod::Vcenter, Some("^fra-"), None)).await.unwrap();
    assert_eq!((r.method, r.confidence), (InferenceMethod::Vcenter, 0.9));
    api::call::<op::site_rule_add>(&c, rule(InferenceMethod::Vlan, None, Some(120))).await.unwrap();

    // One page holds all of it; operators run inference.
    let page = api::call::<op::sites_page>(&a, NoInput {}).await.unwrap();
    assert_eq!((page.regions.len(), page.countries.len(), page.sites.len(), page.rules.len()), (1, 1, 1, 2));
    assert_eq!(page.sites[0].rules, 2);
    let counts = api::call::<op::site_infer>(&a, NoInput {}).await.unwrap();
    assert!(counts.iter().any(|c| c.method == InferenceMethod::Vcenter), "{counts:?}");

    // Removal: rules go with their site; the sentence says what stays.
    let done = api::call::<op::site_rule_remove>(&c, RuleIdInput { id: r.id }).await.unwrap();
    assert_eq!(done.message, format!("Removed rule {}; run inference to apply it.", r.id));
    let err = api::call::<op::site_remove>(&a, SiteCodeInput { code: "DE-FRA-01".into() }).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
    let done = api::call::<op::site_remove>(&c, SiteCodeInput { code: "de-fra-01".into() }).await.unwrap();
    assert_eq!(done.message, "Removed site DE-FRA-01; its prefixes and sources stay, without a site.");
    assert!(api::call::<op::sites>(&a, NoInput {}).await.unwrap().is_empty());
}
