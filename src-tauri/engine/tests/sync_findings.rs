//! Every sync ends with site inference and the IPAM findings engine, run as the worker:
//! a Dell fleet's iDRAC addresses outside every prefix raise `outside_any_prefix`; once a
//! prefix with a site holds them, the next sync resolves those findings and places the
//! servers at the site by their addresses (method cidr).
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities as ids;
use eio_core::ipam::findings::{self, FindingFilter, FindingType};
use eio_core::ipam::prefixes::{self, NewPrefix, PrefixStatus};
use eio_core::sites::{self, EntityKind, InferenceMethod, NewSite};
use eio_core::sources::{self, IdentityChoice, NewSource, SourceKind, TlsChoice};
use eio_core::Database;
use eio_engine::sync::dell;
use eio_engine::sync::ledger::Outcome;
use eio_engine::sync::{RetryPolicy, Syncer};
use eio_lab::dell::DellLab;
use eio_secret::Credentials;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

async fn fleet(admin: &PgPool, lab: &DellLab) -> WorkerKey {
    let key = WorkerKey::generate();
    let db = Database::from_pool(admin.clone());
    ids::trust_worker_key(&db, &key.public_key(), "test worker").await.unwrap();
    let creds = lab.credentials();
    for (i, bmc) in lab.bmcs.iter().enumerate() {
        sources::add(
            &db,
            &NewSource {
                kind: SourceKind::Idrac,
                name: format!("bmc-{i:02}"),
                url: bmc.url.to_string(),
                identity: if i == 0 {
                    IdentityChoice::New {
                        name: Some("idrac-fleet".into()),
                        credentials: Credentials::new(creds.username.clone(), creds.password.clone()),
                        rotation_period_days: 90,
                    }
                } else {
                    IdentityChoice::Existing("idrac-fleet".into())
                },
                tls: TlsChoice {
                    thumbprint: bmc.thumbprint.map(|t| t.to_string()),
                    insecure: bmc.thumbprint.is_none(),
                },
                site: None,
                driver: None,
            },
        )
        .await
        .unwrap();
    }
    key
}

async fn open_outside(db: &Database) -> Vec<String> {
    let mut v: Vec<String> = findings::list(
        db,
        &FindingFilter { include_resolved: false, types: vec![FindingType::OutsideAnyPrefix], limit: None, site: None },
    )
    .await
    .unwrap()
    .into_iter()
    .map(|f| f.address.unwrap())
    .collect();
    v.sort();
    v
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_sync_runs_site_inference_and_findings_as_the_worker(admin: PgPool) {
    let lab = DellLab::builder().bmcs(2).build().await.unwrap();
    let key = fleet(&admin, &lab).await;
    let role = format!("eio_t_wk_{}", &Uuid::new_v4().simple().to_string()[..10]);
    sqlx::raw_sql(&format!("CREATE ROLE {role} LOGIN IN ROLE eio_worker")).execute(&admin).await.unwrap();
    let opts = admin.connect_options().as_ref().clone().username(&role);
    let worker = PgPoolOptions::new().max_connections(8).connect_with(opts).await.unwrap();
    let mut syncer = Syncer::new(Database::from_pool(worker.clone()), key, "test-worker");
    syncer.retry = RetryPolicy { attempts: 2, first_backoff: std::time::Duration::ZERO };
    let db = Database::from_pool(admin.clone());

    let reports = dell::sync_idracs(&syncer, None).await.unwrap();
    assert!(reports.iter().all(|r| r.outcome == Outcome::Succeeded), "{reports:?}");

    // The findings engine ran once, as the worker, and found every iDRAC address outside
    // any prefix (there is none yet).
    let runs: Vec<String> =
        sqlx::query_scalar("SELECT run_by::text FROM finding_runs").fetch_all(&admin).await.unwrap();
    assert_eq!(runs, std::slice::from_ref(&role));
    let mut observed: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT abbrev(address) FROM ip_observations WHERE gone_at IS NULL")
            .fetch_all(&admin)
            .await
            .unwrap();
    observed.sort();
    assert!(!observed.is_empty(), "the lab's iDRACs report their addresses");
    assert_eq!(open_outside(&db).await, observed);

    // A prefix with a site that holds every observed address.
    sites::add_region(&db, "EMEA", "Europe").await.unwrap();
    sites::add_country(&db, "DE", "EMEA", "Germany").await.unwrap();
    sites::add(&db, &NewSite { code: "FRA-01".into(), country: "DE".into(), name: None, timezone: None, status: None })
        .await
        .unwrap();
    let block: String = sqlx::query_scalar(
        "SELECT network(inet_merge(min(address), max(address)))::text FROM ip_observations WHERE gone_at IS NULL",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    prefixes::add(
        &db,
        &NewPrefix {
            domain: None,
            cidr: block.parse().unwrap(),
            site: Some("FRA-01".into()),
            vlan_id: None,
            status: PrefixStatus::Active,
            description: None,
            utilization_threshold: Some(1.0),
        },
    )
    .await
    .unwrap();

    // The next sync resolves the findings and places the servers at the site by address.
    dell::sync_idracs(&syncer, None).await.unwrap();
    assert!(open_outside(&db).await.is_empty());
    let resolved = findings::list(
        &db,
        &FindingFilter { include_resolved: true, types: vec![FindingType::OutsideAnyPrefix], limit: None, site: None },
    )
    .await
    .unwrap();
    assert_eq!(resolved.len(), observed.len());
    assert!(resolved.iter().all(|f| f.resolved_at.is_some()));
    let servers: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM physical_servers WHERE removed_at IS NULL").fetch_all(&admin).await.unwrap();
    assert_eq!(servers.len(), 2);
    for id in servers {
        let p = sites::placement(&db, EntityKind::PhysicalServer, id).await.unwrap();
        let w = p.winner.unwrap_or_else(|| panic!("server {id} has no site"));
        assert_eq!((w.site.as_str(), w.method), ("FRA-01", InferenceMethod::Cidr), "{:?}", w.evidence);
        assert_eq!(w.evidence["prefix"], block.as_str(), "{:?}", w.evidence);
    }
    assert_eq!(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM finding_runs").fetch_one(&admin).await.unwrap(), 2);
    // The dashboard counts them where inference placed them (their iDRAC sources have no site).
    let dash = eio_core::pages::dashboard::load(&db).await.unwrap();
    let fra = dash.sites.iter().find(|s| s.site.as_deref() == Some("FRA-01")).expect("FRA-01 on the dashboard");
    assert_eq!(fra.servers, 2, "{:?}", dash.sites);

    worker.close().await;
    let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS {role}")).execute(&admin).await;
}
