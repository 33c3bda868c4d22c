//! The sources domain through the operation registry, as real logins: an admin adds, edits,
//! re-pins, disables, imports and removes; an operator is refused by PostgreSQL (42501)
//! and, for the probe that touches no table, by the operation itself.
mod common;

use common::Login;
use eio_core::api::{self, op, NoInput, Session};
use eio_core::error::ErrorCode;
use eio_core::sources::import::ImportStatus;
use eio_core::sources::ops::{
    IdracImportInput, NewIdentityInput, SourceAddInput, SourceProbeInput, SourceRemoveInput, SourceUpdateInput,
    TrustInput,
};
use eio_core::sources::{SourceKind, SourcesPage, SourcesQuery, TlsMode};
use eio_core::Database;
use sqlx::PgPool;

const PIN: &str = "9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A:08";
const PIN2: &str = "aa86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn vcenter(name: &str) -> SourceAddInput {
    SourceAddInput {
        kind: SourceKind::Vcenter,
        name: name.into(),
        url: "vc01.example.test".into(),
        identity: None,
        new_identity: Some(NewIdentityInput { name: None, username: "svc-eio".into(), password: "s3cret".into() }),
        trust: TrustInput { mode: TlsMode::Pinned, thumbprint: Some(PIN.into()) },
        site: None,
        driver: None,
    }
}

fn update(kind: SourceKind, name: &str) -> SourceUpdateInput {
    SourceUpdateInput {
        kind,
        name: name.into(),
        url: None,
        identity: None,
        site: None,
        driver: None,
        enabled: None,
        trust: None,
    }
}

/// A real worker key, trusted: new identities are sealed for it.
async fn trust_test_key(admin: &PgPool) {
    let key = eio_core::identity::sealing::WorkerKey::generate();
    eio_core::identity::service_identities::trust_worker_key(
        &Database::from_pool(admin.clone()),
        &key.public_key(),
        "test",
    )
    .await
    .expect("trust a worker key");
}

async fn session(login: &Login) -> Session {
    Session::new(Database::from_pool(login.pool.clone()))
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_admin_manages_sources_through_the_registry(admin: PgPool) {
    trust_test_key(&admin).await;
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    let s = session(&carol).await;

    let added = api::call::<op::source_add>(&s, vcenter("vc01")).await.unwrap();
    assert_eq!(added.url, "https://vc01.example.test/sdk", "vCenter's /sdk is added");
    assert_eq!(added.tls, TlsMode::Pinned);
    assert_eq!(
        added.thumbprint_sha256.as_deref(),
        Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    );
    assert_eq!(added.service_identity, "vc01", "the new identity is named after the source");
    let mut again = vcenter("vc01");
    again.new_identity = None;
    again.identity = Some("vc01".into());
    let dup = api::call::<op::source_add>(&s, again).await.unwrap_err();
    assert_eq!(
        (dup.code, dup.message.as_str()),
        (ErrorCode::Conflict, "a vcenter source named \"vc01\" already exists")
    );

    // Edit: a new address, re-pinned, disabled; what is left out stays.
    let mut edit = update(SourceKind::Vcenter, "vc01");
    edit.url = Some("https://vc01b.example.test/sdk".into());
    edit.trust = Some(TrustInput { mode: TlsMode::Pinned, thumbprint: Some(PIN2.into()) });
    edit.enabled = Some(false);
    let edited = api::call::<op::source_update>(&s, edit).await.unwrap();
    assert_eq!(edited.url, "https://vc01b.example.test/sdk");
    assert_eq!(edited.thumbprint_sha256.as_deref(), Some(PIN2));
    assert!(!edited.enabled);
    assert_eq!(edited.service_identity, "vc01");
    let mut verify = update(SourceKind::Vcenter, "vc01");
    verify.trust = Some(TrustInput { mode: TlsMode::Verify, thumbprint: Some(PIN2.into()) });
    let err = api::call::<op::source_update>(&s, verify).await.unwrap_err();
    assert_eq!(err.message, "a thumbprint goes with \"pinned\", not \"verify\"");
    let mut verify = update(SourceKind::Vcenter, "vc01");
    verify.trust = Some(TrustInput { mode: TlsMode::Verify, thumbprint: None });
    let verified = api::call::<op::source_update>(&s, verify).await.unwrap();
    assert_eq!((verified.tls, verified.thumbprint_sha256), (TlsMode::Verify, None));
    let mut missing = update(SourceKind::Vcenter, "vc01");
    missing.identity = Some("nobody".into());
    let err = api::call::<op::source_update>(&s, missing).await.unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (ErrorCode::NotFound, "no service identity named \"nobody\""));

    // Import: a preview adds nothing and answers every row; the import adds the good ones.
    let csv = "name,url,site,driver,thumbprint\n\
               bmc-1,https://10.0.0.1,,,\n\
               bmc-2,https://10.0.0.2,,wsman,\n\
               bmc-1,https://10.0.0.3,,,\n\
               bmc-4,http://10.0.0.4,,,\n\
               bmc-5,https://10.0.0.5,XX-01,,\n";
    let input = |dry_run| IdracImportInput {
        csv: csv.into(),
        identity: None,
        new_identity: Some(NewIdentityInput {
            name: Some("idrac-fleet".into()),
            username: "root".into(),
            password: "calvin".into(),
        }),
        site: None,
        driver: None,
        thumbprint: None,
        insecure: false,
        dry_run,
    };
    let preview = api::call::<op::source_import_idracs>(&s, input(true)).await.unwrap();
    assert_eq!((preview.ok, preview.failed), (2, 3));
    let statuses: Vec<(u32, ImportStatus)> = preview.rows.iter().map(|r| (r.line, r.status)).collect();
    assert_eq!(
        statuses,
        vec![
            (2, ImportStatus::Ready),
            (3, ImportStatus::Ready),
            (4, ImportStatus::Failed),
            (5, ImportStatus::Failed),
            (6, ImportStatus::Failed)
        ]
    );
    assert_eq!(preview.rows[2].error.as_deref(), Some("\"bmc-1\" is also on line 2"));
    assert!(preview.rows[3].error.as_deref().unwrap_or_default().contains("plain http"), "{:?}", preview.rows[3]);
    assert_eq!(preview.rows[4].error.as_deref(), Some("no site with code XX-01"));
    assert_eq!(api::call::<op::sources>(&s, NoInput {}).await.unwrap().len(), 1, "a preview adds nothing");
    let imported = api::call::<op::source_import_idracs>(&s, input(false)).await.unwrap();
    assert_eq!((imported.ok, imported.failed), (2, 3));
    let all = api::call::<op::sources>(&s, NoInput {}).await.unwrap();
    let idracs: Vec<(&str, &str, Option<&str>)> = all
        .iter()
        .filter(|x| x.kind == SourceKind::Idrac)
        .map(|x| (x.name.as_str(), x.service_identity.as_str(), x.driver.map(|d| d.as_str())))
        .collect();
    assert_eq!(idracs, vec![("bmc-1", "idrac-fleet", None), ("bmc-2", "idrac-fleet", Some("wsman"))]);
    // The same file again: the identity exists now, and every row is a duplicate.
    let again = api::call::<op::source_import_idracs>(&s, input(true)).await.unwrap_err();
    assert_eq!(
        (again.code, again.message.as_str()),
        (
            ErrorCode::Conflict,
            "a service identity named \"idrac-fleet\" already exists: choose it instead of new credentials"
        )
    );
    let mut reuse = input(true);
    reuse.new_identity = None;
    reuse.identity = Some("idrac-fleet".into());
    let again = api::call::<op::source_import_idracs>(&s, reuse).await.unwrap();
    assert_eq!((again.ok, again.failed), (0, 5));
    assert_eq!(again.rows[0].error.as_deref(), Some("an idrac source named \"bmc-1\" already exists"));

    // Remove: the preview says what goes, the removal goes.
    let preview = api::call::<op::source_remove>(
        &s,
        SourceRemoveInput { kind: SourceKind::Vcenter, name: "vc01".into(), dry_run: true },
    )
    .await
    .unwrap();
    assert!(!preview.removed);
    assert_eq!(
        preview.summary,
        "Removing vcenter source vc01: its cached inventory goes with it: 0 datacenter(s), 0 cluster(s), 0 host(s) \
         and 0 VM(s) (they come back if the vCenter is added and synced again). Its service identity vc01 stays."
    );
    let gone = api::call::<op::source_remove>(
        &s,
        SourceRemoveInput { kind: SourceKind::Vcenter, name: "vc01".into(), dry_run: false },
    )
    .await
    .unwrap();
    assert!(gone.removed);
    assert_eq!(api::call::<op::sources>(&s, NoInput {}).await.unwrap().len(), 2);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn what_would_stop_every_row_is_said_before_anything_is_added(admin: PgPool) {
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    let s = session(&carol).await;
    let mut blank = vcenter("vc01");
    blank.new_identity = Some(NewIdentityInput { name: None, username: " ".into(), password: "".into() });
    let err = api::call::<op::source_add>(&s, blank).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::InvalidInput, "new credentials need a username and a password")
    );

    // No worker key is trusted yet: the preview says so once, instead of "2 ready".
    let preview = api::call::<op::source_import_idracs>(
        &s,
        IdracImportInput {
            csv: "name,url\nbmc-1,https://10.0.0.1\nbmc-2,https://10.0.0.2\n".into(),
            identity: None,
            new_identity: Some(NewIdentityInput {
                name: Some("idrac-fleet".into()),
                username: "root".into(),
                password: "calvin".into(),
            }),
            site: None,
            driver: None,
            thumbprint: None,
            insecure: false,
            dry_run: true,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(preview.code, ErrorCode::Conflict);
    assert!(preview.message.starts_with("no worker key is trusted yet"), "{preview:?}");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_operator_cannot_add_edit_remove_or_probe_sources(admin: PgPool) {
    trust_test_key(&admin).await;
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    api::call::<op::source_add>(&session(&carol).await, vcenter("vc01")).await.unwrap();
    let alice = Login::new(&admin, "eio_operator", Some(("alice@example.test", "operator", &[]))).await;
    let s = session(&alice).await;

    let mut reuse = vcenter("vc02");
    reuse.new_identity = None;
    reuse.identity = Some("vc01".into());
    let err = api::call::<op::source_add>(&s, reuse).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
    let mut disable = update(SourceKind::Vcenter, "vc01");
    disable.enabled = Some(false);
    let err = api::call::<op::source_update>(&s, disable).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
    let err = api::call::<op::source_remove>(
        &s,
        SourceRemoveInput { kind: SourceKind::Vcenter, name: "vc01".into(), dry_run: false },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
    let err = api::call::<op::source_probe>(
        &s,
        SourceProbeInput { kind: SourceKind::Vcenter, url: "https://127.0.0.1:9/sdk".into(), name: None },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::Forbidden, "only admins, who add and re-pin sources, may read an endpoint's certificate")
    );
    let still = api::call::<op::sources>(&session(&carol).await, NoInput {}).await.unwrap();
    assert_eq!((still.len(), still[0].enabled), (1, true), "nothing changed");

    // The same refusals as plain SQL, by SQLSTATE: the database is the boundary.
    for sql in [
        "UPDATE vcenter_instances SET enabled = false",
        "DELETE FROM vcenter_instances",
        "INSERT INTO vcenter_instances (name, url, service_identity_id) SELECT 'x', 'https://x/sdk', id FROM service_identities",
    ] {
        let e = sqlx::query(sql).execute(&alice.pool).await.unwrap_err();
        assert_eq!(e.as_database_error().and_then(|d| d.code()).as_deref(), Some("42501"), "{sql}: {e}");
    }
}

/// Red team: a worker login may update source rows (sync status), but it cannot make a real
/// source "the demo lab's" (so described as "not running" and paused with the lab).
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_worker_cannot_mark_or_pause_a_source_as_the_demo_labs(admin: PgPool) {
    trust_test_key(&admin).await;
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    api::call::<op::source_add>(&session(&carol).await, vcenter("vc01")).await.unwrap();
    let worker = Login::new(&admin, "eio_worker", None).await;
    sqlx::query("UPDATE vcenter_instances SET last_error = 'x' WHERE name = 'vc01'")
        .execute(&worker.pool)
        .await
        .unwrap();
    for sql in [
        "UPDATE vcenter_instances SET demo_lab = true WHERE name = 'vc01'",
        "UPDATE vcenter_instances SET demo_lab_paused = true, enabled = false WHERE name = 'vc01'",
    ] {
        let e = sqlx::query(sql).execute(&worker.pool).await.unwrap_err();
        assert_eq!(e.as_database_error().and_then(|d| d.code()).as_deref(), Some("42501"), "{sql}: {e}");
    }
    // The demo (an admin) may, and pausing then resuming touches only what it paused.
    let db = Database::from_pool(carol.pool.clone());
    eio_core::sources::mark_demo_lab(&db, SourceKind::Vcenter, "vc01").await.unwrap();
    assert_eq!(eio_core::sources::set_demo_lab_enabled(&db, false).await.unwrap(), 1);
    assert_eq!(eio_core::sources::set_demo_lab_enabled(&db, true).await.unwrap(), 1);
    // An admin disables it on purpose: the demo's next start leaves it disabled.
    let mut off = update(SourceKind::Vcenter, "vc01");
    off.enabled = Some(false);
    api::call::<op::source_update>(&session(&carol).await, off).await.unwrap();
    assert_eq!(eio_core::sources::set_demo_lab_enabled(&db, true).await.unwrap(), 0);
    let s = eio_core::sources::get(&db, SourceKind::Vcenter, "vc01").await.unwrap();
    assert!(s.demo_lab && !s.enabled);
}

/// The settings page's Sources tab at a viewer's rights: pages of the sources by kind then
/// name, searched and filtered on the server, with counts over every source on the first
/// unsearched page; a bad status refused as invalid input.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_sources_page_pages_searches_and_filters_every_source(admin: PgPool) {
    trust_test_key(&admin).await;
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.test", "admin", &[]))).await;
    api::call::<op::source_add>(&session(&carol).await, vcenter("vc01")).await.unwrap();
    // 230 iDRACs beside it: every 7th failed its last sync, every 5th partly; every 11th is
    // disabled; the first 20 never synced.
    sqlx::query(
        "INSERT INTO idrac_endpoints (name, url, service_identity_id, enabled, last_sync_at, last_sync_status)
         SELECT format('bmc-%s', lpad(i::text, 3, '0')), format('https://10.9.%s.%s', i / 200, i % 200),
                (SELECT id FROM service_identities WHERE name = 'vc01'), i % 11 <> 0,
                CASE WHEN i > 20 THEN now() END,
                CASE WHEN i <= 20 THEN NULL WHEN i % 7 = 0 THEN 'failed' WHEN i % 5 = 0 THEN 'partial'
                     ELSE 'succeeded' END::sync_outcome
         FROM generate_series(1, 230) i",
    )
    .execute(&admin)
    .await
    .unwrap();
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.test", "viewer", &[]))).await;
    let s = session(&viewer).await;
    let page = |q: SourcesQuery| {
        let s = &s;
        async move { api::call::<op::sources_page>(s, q).await }
    };
    let names = |p: &SourcesPage| p.sources.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    let every: Vec<String> = (1..=230).map(|i| format!("bmc-{i:03}")).chain(["vc01".to_string()]).collect();

    // Pages of 100 walk every source once, iDRACs before vCenters (by kind, then name).
    let mut walked = Vec::new();
    for offset in [0, 100, 200] {
        let p = page(SourcesQuery { offset: Some(offset), ..Default::default() }).await.unwrap();
        assert_eq!((p.total, p.offset, p.facets.is_some()), (231, offset, offset == 0));
        walked.extend(names(&p));
    }
    assert_eq!(walked, every);
    let listed: Vec<String> =
        api::call::<op::sources>(&s, NoInput {}).await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(listed, every, "the same order as the full list");
    let past = page(SourcesQuery { offset: Some(1000), ..Default::default() }).await.unwrap();
    assert_eq!((past.total, past.sources.len()), (231, 0));

    let failing: Vec<String> = (21..=230).filter(|i| i % 7 == 0 || i % 5 == 0).map(|i| format!("bmc-{i:03}")).collect();
    let disabled: Vec<String> = (1..=230).filter(|i| i % 11 == 0).map(|i| format!("bmc-{i:03}")).collect();
    let f = page(SourcesQuery::default()).await.unwrap().facets.expect("counts on the first page");
    let counts = |c: &[eio_core::pages::Count]| c.iter().map(|c| (c.value.clone(), c.count)).collect::<Vec<_>>();
    assert_eq!(counts(&f.kinds), vec![("idrac".into(), 230), ("vcenter".into(), 1)]);
    assert_eq!(
        counts(&f.statuses),
        vec![
            ("failing".into(), failing.len() as i64),
            ("never".into(), 21),
            ("disabled".into(), disabled.len() as i64)
        ],
        "never: the 20 iDRACs and vc01"
    );

    let all = |q: SourcesQuery| {
        let page = &page;
        async move { names(&page(SourcesQuery { limit: Some(1000), ..q }).await.unwrap()) }
    };
    assert_eq!(all(SourcesQuery { status: Some("failing".into()), ..Default::default() }).await, failing);
    assert_eq!(all(SourcesQuery { status: Some("Disabled".into()), ..Default::default() }).await, disabled);
    assert_eq!(all(SourcesQuery { kind: Some(SourceKind::Vcenter), ..Default::default() }).await, ["vc01"]);
    assert_eq!(
        all(SourcesQuery { q: Some("bmc-01".into()), status: Some("never".into()), ..Default::default() }).await,
        (10..=19).map(|i| format!("bmc-{i:03}")).collect::<Vec<_>>()
    );
    // An address matches too, and % is a letter, not a wildcard.
    assert_eq!(all(SourcesQuery { q: Some("10.9.1.29".into()), ..Default::default() }).await, ["bmc-229"]);
    assert_eq!(all(SourcesQuery { q: Some("%".into()), ..Default::default() }).await, Vec::<String>::new());
    let searched = page(SourcesQuery { q: Some("vc0".into()), ..Default::default() }).await.unwrap();
    assert_eq!((names(&searched), searched.total, searched.facets.is_none()), (vec!["vc01".to_string()], 1, true));

    let e = page(SourcesQuery { status: Some("broken".into()), ..Default::default() }).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("failing, never, disabled"), "{}", e.message);
}
