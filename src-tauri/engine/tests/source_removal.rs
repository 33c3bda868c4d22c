//! Removing a source leaves a consistent inventory: the servers only it knew are marked
//! removed (kept for history), and the IP observations its objects carried are marked gone,
//! so the findings engine stops counting them.
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities as ids;
use eio_core::sources::{self, IdentityChoice, NewSource, SourceKind, TlsChoice};
use eio_core::Database;
use eio_engine::sync::{dell, vcenter, RetryPolicy, Syncer};
use eio_lab::dell::DellLab;
use eio_lab::vcenter::{LabModel, LabVcenter};
use eio_secret::Credentials;
use sqlx::PgPool;

async fn add(db: &Database, kind: SourceKind, name: &str, url: String, thumb: Option<String>, creds: Credentials) {
    sources::add(
        db,
        &NewSource {
            kind,
            name: name.into(),
            url,
            identity: IdentityChoice::New { name: None, credentials: creds, rotation_period_days: 90 },
            tls: TlsChoice { insecure: thumb.is_none(), thumbprint: thumb },
            site: None,
            driver: None,
        },
    )
    .await
    .unwrap();
}

async fn live_observations(pool: &PgPool, source: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ip_observations WHERE gone_at IS NULL AND source::text = $1")
        .bind(source)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn removing_sources_retires_their_servers_and_observations(admin: PgPool) {
    let vc = LabVcenter::start(LabModel::one_cluster(2, 3)).await.unwrap();
    let lab = DellLab::builder().bmcs(2).build().await.unwrap();
    let key = WorkerKey::generate();
    let db = Database::from_pool(admin.clone());
    ids::trust_worker_key(&db, &key.public_key(), "test").await.unwrap();
    add(
        &db,
        SourceKind::Vcenter,
        "vc",
        vc.sdk_url.to_string(),
        Some(vc.thumbprint.to_string()),
        Credentials::new(vc.username(), vc.password()),
    )
    .await;
    for (i, bmc) in lab.bmcs.iter().enumerate() {
        let c = lab.credentials();
        add(
            &db,
            SourceKind::Idrac,
            &format!("bmc-{i}"),
            bmc.url.to_string(),
            bmc.thumbprint.map(|t| t.to_string()),
            Credentials::new(c.username.clone(), c.password.clone()),
        )
        .await;
    }
    let mut syncer = Syncer::new(db.clone(), key, "test");
    syncer.retry = RetryPolicy { attempts: 1, first_backoff: std::time::Duration::ZERO };
    vcenter::sync_vcenters(&syncer, None).await.unwrap();
    dell::sync_idracs(&syncer, None).await.unwrap();
    assert!(live_observations(&admin, "vcenter_vm").await > 0);
    assert_eq!(live_observations(&admin, "idrac_mgmt").await, 2);

    let preview = sources::remove(&db, SourceKind::Idrac, "bmc-0", true).await.unwrap();
    assert!(!preview.removed);
    assert_eq!((preview.servers_retired, preview.servers_kept, preview.mappings), (1, 0, 0), "{preview:?}");
    assert_eq!(
        preview.summary,
        "Removing idrac source bmc-0: 1 server(s) only it reported are marked removed (kept for history), \
         0 also reported by OpenManage stay; 0 server-to-host mapping(s) are removed. Its service identity bmc-0 stays."
    );
    assert_eq!(sources::list(&db).await.unwrap().len(), 3, "a preview removes nothing");

    sources::remove(&db, SourceKind::Idrac, "bmc-0", false).await.unwrap();
    let (live, removed): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE removed_at IS NULL), count(*) FILTER (WHERE removed_at IS NOT NULL) FROM physical_servers",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!((live, removed), (1, 1), "the server only bmc-0 knew is kept, marked removed");
    assert_eq!(live_observations(&admin, "idrac_mgmt").await, 1);

    let gone = sources::remove(&db, SourceKind::Vcenter, "vc", false).await.unwrap();
    assert!(gone.removed);
    assert_eq!((gone.datacenters, gone.clusters, gone.hosts), (1, 1, 2), "{gone:?}");
    assert_eq!(gone.vms, 6, "{gone:?}");
    let err = sources::remove(&db, SourceKind::Vcenter, "vc", false).await.unwrap_err();
    assert_eq!(err.message, "no vcenter source named \"vc\"");
    assert_eq!(live_observations(&admin, "vcenter_vm").await, 0, "the removed vCenter's VMs observe nothing");
    assert_eq!(live_observations(&admin, "esxi_mgmt").await, 0);
    let gone: i64 = sqlx::query_scalar("SELECT count(*) FROM ip_observations WHERE gone_at IS NOT NULL")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(gone > 0, "kept for history");
}
