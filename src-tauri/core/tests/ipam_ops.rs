//! IPAM through the operation registry as real logins: routing domains, prefix edits and
//! removal, a chosen address planned, edited and released, and "who uses this IP".
mod common;

use common::Login;
use eio_core::api::{self, op, Session};
use eio_core::error::ErrorCode;
use eio_core::ipam::ops::{
    AddressInput, AssignInput, AssignmentUpdateInput, DomainAddInput, PrefixAddInput, PrefixInput, PrefixUpdateInput,
};
use eio_core::ipam::prefixes::PrefixStatus;
use eio_core::ipam::space::AssignmentStatus;
use eio_core::Database;
use sqlx::PgPool;

fn session(login: &Login) -> Session {
    Session::new(Database::from_pool(login.pool.clone()))
}

fn assign(address: &str, hostname: &str) -> AssignInput {
    AssignInput {
        domain: Some("lab".into()),
        address: address.into(),
        hostname: Some(hostname.into()),
        mac_address: Some("00:50:56:aa:bb:01".into()),
        description: None,
        reserve: false,
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_operator_plans_edits_and_releases_a_chosen_address(admin: PgPool) {
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    let alice = Login::new(&admin, "eio_operator", Some(("alice@example.test", "operator", &[]))).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("vic@example.test", "viewer", &[]))).await;

    // Routing domains are an admin's.
    let err =
        api::call::<op::ipam_domain_add>(&session(&alice), DomainAddInput { name: "lab".into(), description: None })
            .await
            .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
    let lab = api::call::<op::ipam_domain_add>(
        &session(&carol),
        DomainAddInput { name: " lab ".into(), description: Some("the test lab".into()) },
    )
    .await
    .unwrap();
    assert_eq!((lab.name.as_str(), lab.description.as_deref()), ("lab", Some("the test lab")));
    let domains = api::call::<op::ipam_domains>(&session(&viewer), api::NoInput {}).await.unwrap();
    assert!(domains.iter().any(|d| d.name == "lab"), "{domains:?}");

    let a = session(&alice);
    api::call::<op::ipam_prefix_add>(
        &a,
        PrefixAddInput {
            domain: Some("lab".into()),
            cidr: "10.20.0.0/24".into(),
            site: None,
            vlan_id: None,
            status: None,
            description: None,
            utilization_threshold: None,
        },
    )
    .await
    .unwrap();

    // A chosen address: in a prefix, not reserved, not taken.
    let planned = api::call::<op::ipam_assign>(&a, assign("10.20.0.17", "db-01")).await.unwrap();
    assert_eq!(planned.address, "10.20.0.17");
    assert_eq!(planned.prefix.as_deref(), Some("10.20.0.0/24"));
    assert_eq!(planned.created_by.as_deref(), Some("alice@example.test"));
    let err = api::call::<op::ipam_assign>(&a, assign("10.20.0.17", "db-02")).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::Conflict, "10.20.0.17 is already planned in routing domain lab")
    );
    let err = api::call::<op::ipam_assign>(&a, assign("10.20.0.255", "bcast")).await.unwrap_err();
    assert_eq!(
        err.message,
        "10.20.0.255 is reserved in 10.20.0.0/24 (its network or broadcast address): choose another"
    );
    let err = api::call::<op::ipam_assign>(&a, assign("10.99.0.1", "nowhere")).await.unwrap_err();
    assert_eq!(err.message, "no prefix of routing domain lab holds 10.99.0.1: add the prefix first");
    let mut bad_mac = assign("10.20.0.18", "x");
    bad_mac.mac_address = Some("not-a-mac".into());
    let err = api::call::<op::ipam_assign>(&a, bad_mac).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::InvalidInput, "that is not a MAC address (aa:bb:cc:dd:ee:ff)")
    );
    let err = api::call::<op::ipam_assign>(&session(&viewer), assign("10.20.0.19", "v")).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");

    // Edit: a field left out stays, "" clears.
    let edited = api::call::<op::ipam_assignment_update>(
        &a,
        AssignmentUpdateInput {
            domain: Some("lab".into()),
            address: "10.20.0.17".into(),
            hostname: Some("db-01.example.test".into()),
            mac_address: Some("".into()),
            description: None,
            status: Some(AssignmentStatus::Reserved),
        },
    )
    .await
    .unwrap();
    assert_eq!(edited.hostname.as_deref(), Some("db-01.example.test"));
    assert_eq!(edited.mac_address, None);
    assert_eq!(edited.status, AssignmentStatus::Reserved);

    // Who uses this IP: the prefix chain and the plan.
    let info = api::call::<op::ipam_lookup>(
        &session(&viewer),
        AddressInput { domain: Some("lab".into()), address: "10.20.0.17".into() },
    )
    .await
    .unwrap();
    assert_eq!(info.prefixes.iter().map(|p| p.cidr.as_str()).collect::<Vec<_>>(), vec!["10.20.0.0/24"]);
    assert_eq!(info.assignments.len(), 1);

    // Release: the plan goes; releasing again says it isn't planned.
    let gone =
        api::call::<op::ipam_release>(&a, AddressInput { domain: Some("lab".into()), address: "10.20.0.17".into() })
            .await
            .unwrap();
    assert_eq!(gone.hostname.as_deref(), Some("db-01.example.test"));
    let err =
        api::call::<op::ipam_release>(&a, AddressInput { domain: Some("lab".into()), address: "10.20.0.17".into() })
            .await
            .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::NotFound, "10.20.0.17 is not planned in routing domain lab")
    );

    // Prefix edit and removal.
    let p = api::call::<op::ipam_prefix_update>(
        &a,
        PrefixUpdateInput {
            domain: Some("lab".into()),
            cidr: "10.20.0.0/24".into(),
            status: Some(PrefixStatus::Reserved),
            site: None,
            vlan_id: Some(120),
            description: Some("db network".into()),
            utilization_threshold: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (p.status, p.vlan_id, p.description.as_deref()),
        (PrefixStatus::Reserved, Some(120), Some("db network"))
    );
    let mut deprecate = PrefixUpdateInput {
        domain: Some("lab".into()),
        cidr: "10.20.0.0/24".into(),
        status: Some(PrefixStatus::Deprecated),
        site: None,
        vlan_id: None,
        description: None,
        utilization_threshold: None,
    };
    api::call::<op::ipam_prefix_update>(&a, deprecate.clone()).await.unwrap();
    let err = api::call::<op::ipam_assign>(&a, assign("10.20.0.30", "late")).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::Conflict, "prefix 10.20.0.0/24 is deprecated: nothing more is allocated from it")
    );
    deprecate.status = Some(PrefixStatus::Active);
    api::call::<op::ipam_prefix_update>(&a, deprecate).await.unwrap();
    let removed = api::call::<op::ipam_prefix_remove>(
        &a,
        PrefixInput { domain: Some("lab".into()), cidr: "10.20.0.0/24".into() },
    )
    .await
    .unwrap();
    assert!(removed.message.starts_with("Removed prefix 10.20.0.0/24;"), "{}", removed.message);
    let err = api::call::<op::ipam_assign>(&a, assign("10.20.0.20", "late")).await.unwrap_err();
    assert_eq!(err.message, "no prefix of routing domain lab holds 10.20.0.20: add the prefix first");
}
