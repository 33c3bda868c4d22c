//! Dell fleet sync end to end: the lab's iDRACs over real HTTPS (pinned certificates),
//! credentials sealed for a worker key, the sync running as a real `eio_worker` login, and
//! the database checked row by row — including that a failing BMC leaves its last good
//! inventory byte for byte intact while the others sync.
use eio_connectors::idrac::Generation;
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities::{self as ids, ExternalSystem};
use eio_core::sources::{self, IdentityChoice, NewSource, SourceKind, TlsChoice};
use eio_core::Database;
use eio_engine::sync::dell;
use eio_engine::sync::ledger::Outcome;
use eio_engine::sync::{RetryPolicy, Syncer};
use eio_lab::dell::{DellLab, Fault};
use eio_secret::Credentials;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

/// A worker login for this test's database, dropped afterwards (roles are cluster-wide).
struct WorkerLogin {
    admin: PgPool,
    role: String,
    pool: PgPool,
}

impl WorkerLogin {
    async fn new(admin: &PgPool) -> Self {
        let role = format!("eio_t_wk_{}", &Uuid::new_v4().simple().to_string()[..10]);
        sqlx::raw_sql(&format!("CREATE ROLE {role} LOGIN IN ROLE eio_worker")).execute(admin).await.unwrap();
        let opts = admin.connect_options().as_ref().clone().username(&role);
        let pool = PgPoolOptions::new().max_connections(8).connect_with(opts).await.unwrap();
        WorkerLogin { admin: admin.clone(), role, pool }
    }

    async fn drop_role(self) {
        self.pool.close().await;
        let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS {}", self.role)).execute(&self.admin).await;
    }
}

async fn register(admin: &PgPool, lab: &DellLab) -> WorkerKey {
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
    let _ = ExternalSystem::Idrac;
    key
}

fn syncer(pool: &PgPool, key: WorkerKey) -> Syncer {
    let mut s = Syncer::new(Database::from_pool(pool.clone()), key, "test-worker");
    s.retry = RetryPolicy { attempts: 2, first_backoff: std::time::Duration::ZERO };
    s.request_timeout = std::time::Duration::from_secs(5);
    s
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_fleet_syncs_into_rows_and_a_failing_bmc_keeps_its_last_good_inventory(admin: PgPool) {
    let lab = DellLab::builder()
        .bmcs(5)
        .generation_mix(&[(Generation::Idrac9, 3), (Generation::Idrac8, 1), (Generation::Idrac7, 1)])
        .build()
        .await
        .unwrap();
    let key = register(&admin, &lab).await;
    let worker = WorkerLogin::new(&admin).await;
    let syncer = syncer(&worker.pool, key);

    let reports = dell::sync_idracs(&syncer, None).await.unwrap();
    assert_eq!(reports.len(), 5);
    for r in &reports {
        assert_eq!(r.outcome, Outcome::Succeeded, "{}: {:?}", r.source_name, r.error);
    }

    // Row by row, field by field, against what each BMC reports.
    for (i, bmc) in lab.bmcs.iter().enumerate() {
        let spec = bmc.spec();
        let (tag, model, bios, fw, generation, driver, reason): (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
        ) = sqlx::query_as(
            "SELECT p.service_tag, p.model, p.bios_version, p.idrac_firmware, e.generation::text,
                        e.driver_preference::text, e.driver_reason
                 FROM physical_servers p JOIN idrac_endpoints e ON e.id = p.idrac_id WHERE e.name = $1",
        )
        .bind(format!("bmc-{i:02}"))
        .fetch_one(&admin)
        .await
        .unwrap();
        assert_eq!(tag, spec.service_tag);
        assert_eq!(model, spec.model);
        assert_eq!(bios, spec.bios_version);
        assert_eq!(fw, spec.idrac_firmware);
        assert_eq!(generation, spec.generation.as_str());
        let want_driver = if spec.generation == Generation::Idrac7 { "wsman" } else { "redfish" };
        assert_eq!(driver, want_driver, "{reason}");
        assert!(!reason.is_empty());
        let firmware: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM firmware_inventory f JOIN physical_servers p ON p.id = f.server_id
             WHERE p.service_tag = $1 AND f.removed_at IS NULL",
        )
        .bind(&spec.service_tag)
        .fetch_one(&admin)
        .await
        .unwrap();
        assert_eq!(firmware as usize, spec.firmware.len(), "firmware of {}", spec.service_tag);
        let observed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM ip_observations WHERE source = 'idrac_mgmt' AND address = $1::inet AND gone_at IS NULL",
        )
        .bind(&spec.idrac_ip)
        .fetch_one(&admin)
        .await
        .unwrap();
        assert_eq!(observed, 1, "mgmt IP of {}", spec.service_tag);
    }

    // A second sync with nothing changed writes nothing to the ledger.
    let reports = dell::sync_idracs(&syncer, None).await.unwrap();
    let run_ids: Vec<Uuid> = reports.iter().map(|r| r.run_id).collect();
    let changes: i64 = sqlx::query_scalar("SELECT count(*) FROM inventory_changes WHERE sync_run_id = ANY($1)")
        .bind(&run_ids)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(changes, 0);

    // BMC 1 gets a BIOS update; BMC 2 starts failing. Snapshot BMC 2's rows first.
    let snapshot = |tag: String| {
        let admin = admin.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT string_agg(row_to_json(x)::text, '|' ORDER BY x.fqdd) FROM (
                     SELECT f.* FROM firmware_inventory f JOIN physical_servers p ON p.id = f.server_id WHERE p.service_tag = $1
                 ) x",
            )
            .bind(tag)
            .fetch_one(&admin)
            .await
            .unwrap()
        }
    };
    let tag2 = lab.bmc(2).spec().service_tag;
    let before = snapshot(tag2.clone()).await;
    let server_before: String =
        sqlx::query_scalar("SELECT row_to_json(p)::text FROM physical_servers p WHERE service_tag = $1")
            .bind(&tag2)
            .fetch_one(&admin)
            .await
            .unwrap();
    lab.bmc(1).update_spec(|s| {
        s.bios_version = "9.9.9".into();
        if let Some(b) = s.firmware.iter_mut().find(|f| f.fqdd.starts_with("BIOS")) {
            b.version = "9.9.9".into();
        }
    });
    lab.bmc(2).set_fault(Some(Fault::Unavailable));

    let reports = dell::sync_idracs(&syncer, None).await.unwrap();
    let by_name = |n: &str| reports.iter().find(|r| r.source_name == n).unwrap();
    assert_eq!(by_name("bmc-02").outcome, Outcome::Failed);
    assert!(by_name("bmc-02").error.as_deref().unwrap().contains("unavailable"), "{:?}", by_name("bmc-02").error);
    for ok in ["bmc-00", "bmc-01", "bmc-03", "bmc-04"] {
        assert_eq!(by_name(ok).outcome, Outcome::Succeeded, "{ok}");
    }
    assert_eq!(snapshot(tag2.clone()).await, before, "the failing BMC's firmware rows are untouched");
    let server_after: String =
        sqlx::query_scalar("SELECT row_to_json(p)::text FROM physical_servers p WHERE service_tag = $1")
            .bind(&tag2)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(server_after, server_before, "the failing BMC's server row is untouched");
    let (status, error): (String, String) =
        sqlx::query_as("SELECT last_sync_status::text, last_error FROM idrac_endpoints WHERE name = 'bmc-02'")
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(!error.is_empty());

    // The BIOS update is in the ledger as field-level diffs.
    let diff: serde_json::Value = sqlx::query_scalar(
        "SELECT diff FROM inventory_changes WHERE sync_run_id = $1 AND entity_type = 'physical_server'",
    )
    .bind(by_name("bmc-01").run_id)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(diff["bios_version"][1], "9.9.9", "{diff}");

    // Every use of the identity was recorded; none failed for credentials.
    let uses: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'credential.use'")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(uses >= 14, "{uses}");
    worker.drop_role().await;
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn servers_map_to_esxi_hosts_by_service_tag_and_ambiguity_is_reported(admin: PgPool) {
    let lab = DellLab::builder().bmcs(3).generation(Generation::Idrac9).build().await.unwrap();
    let key = register(&admin, &lab).await;
    let worker = WorkerLogin::new(&admin).await;
    let syncer = syncer(&worker.pool, key);
    dell::sync_idracs(&syncer, None).await.unwrap();

    // Hosts as a vCenter sync would write them: host A carries server 0's tag, hosts B and
    // C both carry server 1's tag (a cloned host profile), nobody carries server 2's.
    let (t0, t1) = (lab.bmc(0).spec().service_tag, lab.bmc(1).spec().service_tag);
    sqlx::query(
        "WITH si AS (SELECT id FROM service_identities LIMIT 1),
              vc AS (INSERT INTO vcenter_instances (name, url, service_identity_id) SELECT 'vc', 'https://vc/sdk', id FROM si RETURNING id)
         INSERT INTO esxi_hosts (vcenter_id, moid, name, service_tag)
         SELECT vc.id, x.moid, x.name, x.tag FROM vc,
                (VALUES ('host-1', 'esx-a', $1), ('host-2', 'esx-b', $2), ('host-3', 'esx-c', $2)) x(moid, name, tag)",
    )
    .bind(&t0)
    .bind(&t1)
    .execute(&admin)
    .await
    .unwrap();
    let counts = dell::refresh_mappings(&syncer).await.unwrap();
    assert_eq!(counts["active"], 1, "{counts}");
    assert_eq!(counts["ambiguous"], 2, "{counts}");
    let (host, method, confidence): (String, String, f32) = sqlx::query_as(
        "SELECT h.name, m.method::text, m.confidence FROM server_mappings m
         JOIN esxi_hosts h ON h.id = m.esxi_host_id JOIN physical_servers p ON p.id = m.physical_server_id
         WHERE p.service_tag = $1 AND m.status = 'active'",
    )
    .bind(&t0)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!((host.as_str(), method.as_str()), ("esx-a", "service_tag"));
    assert!(confidence >= 0.9);
    let guessed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM server_mappings m JOIN physical_servers p ON p.id = m.physical_server_id
         WHERE p.service_tag = $1 AND m.status = 'active'",
    )
    .bind(&t1)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(guessed, 0, "two candidates: nothing is guessed");

    // Refreshing again changes nothing.
    assert_eq!(dell::refresh_mappings(&syncer).await.unwrap(), counts);
    worker.drop_role().await;
}
