//! The status page model against real databases: migrated, not migrated, and as
//! logins of different roles (row counts respect what each may see).
mod common;

use common::Login;
use eio_core::status::{self, DatabaseMode};
use eio_core::Database;
use sqlx::PgPool;

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_fresh_schema_reports_every_table_and_reference_data(admin: PgPool) {
    let page = status::load(&Database::from_pool(admin.clone())).await.unwrap();
    assert!(page.schema.up_to_date);
    assert_eq!(page.schema.applied_version, Some(page.schema.latest_version));
    assert_eq!(page.connection.mode, DatabaseMode::External);
    assert!(page.connection.superuser);
    assert!(page.warnings.iter().any(|w| w.contains("superuser")), "{:?}", page.warnings);

    // Keyed by the seed's table names; empty inventory, seeded reference data.
    for t in [
        "users",
        "service_identities",
        "regions",
        "countries",
        "sites",
        "site_inferences",
        "vcenter_instances",
        "datacenters",
        "clusters",
        "esxi_hosts",
        "virtual_machines",
        "idrac_endpoints",
        "physical_servers",
        "firmware_inventory",
        "server_mappings",
        "ome_instances",
        "routing_domains",
        "prefixes",
        "ip_assignments",
        "ip_observations",
        "ipam_findings",
        "jobs",
        "job_steps",
        "job_events",
        "job_policies",
        "approvals",
        "leases",
        "kill_switch",
        "report_definitions",
        "report_executions",
        "sync_runs",
        "inventory_changes",
        "audit_events",
    ] {
        assert!(page.tables.contains_key(t), "missing table {t}: {:?}", page.tables.keys());
    }
    assert_eq!(page.tables["virtual_machines"], 0);
    assert_eq!(page.tables["roles"], 4);
    assert_eq!(page.tables["routing_domains"], 1);
    assert_eq!(page.tables["job_policies"], 1);
    assert_eq!(page.tables["kill_switch"], 1);
    assert_eq!(page.pending_approvals, Some(0));
    assert!(!page.kill_switch.unwrap().engaged);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_viewer_sees_counts_and_approvals_within_its_rights(admin: PgPool) {
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    for key in ["a", "b"] {
        sqlx::query("SELECT submit_job('sync', 'refresh', p_idempotency_key => $1)")
            .bind(key)
            .execute(&op.pool)
            .await
            .unwrap();
    }
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let page = status::load(&Database::from_pool(viewer.pool.clone())).await.unwrap();
    assert_eq!(page.pending_approvals, Some(2));
    assert_eq!(page.tables["jobs"], 2);
    assert_eq!(page.tables["job_events"], 2);
    // Column-restricted tables are counted; the admin-only audit is not listed at all.
    assert!(page.tables.contains_key("service_identities"));
    assert!(!page.tables.contains_key("audit_events"));
    assert!(!page.connection.superuser);
    assert_eq!(page.connection.roles, vec!["eio_viewer".to_string()]);
    let user = page.connection.user.unwrap();
    assert_eq!((user.email.as_str(), user.role.as_str()), ("v@example.com", "viewer"));
    assert!(page.warnings.is_empty(), "{:?}", page.warnings);
}

#[sqlx::test(migrations = false)]
async fn an_unmigrated_database_says_what_to_do(admin: PgPool) {
    let page = status::load(&Database::from_pool(admin)).await.unwrap();
    assert_eq!(page.schema.applied_version, None);
    assert!(!page.schema.up_to_date);
    assert_eq!(page.schema.pending.len(), eio_core::db::MIGRATOR.iter().count());
    assert!(page.tables.is_empty());
    assert_eq!(page.pending_approvals, None);
    assert!(page.warnings.iter().any(|w| w.contains("eio migrate")), "{:?}", page.warnings);
}

#[sqlx::test(migrations = false)]
async fn migrating_twice_applies_once(admin: PgPool) {
    let first = eio_core::db::migrate_pool(&admin).await.unwrap();
    assert_eq!(first.version_before, None);
    assert_eq!(first.applied.len(), eio_core::db::MIGRATOR.iter().count());
    let second = eio_core::db::migrate_pool(&admin).await.unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(second.version_after, first.version_after);
    // Each migration names the release that applied it, once (an older instance names it).
    let releases: Vec<(i64, String)> = sqlx::query_as("SELECT version, release FROM schema_releases ORDER BY version")
        .fetch_all(&admin)
        .await
        .unwrap();
    let expected: Vec<(i64, String)> =
        eio_core::db::MIGRATOR.iter().map(|m| (m.version, env!("CARGO_PKG_VERSION").to_owned())).collect();
    assert_eq!(releases, expected);
    let db = Database::from_pool(admin);
    db.require_current_schema().await.unwrap();
}

/// Every session of the application's pool runs without JIT (its page reads compiled for a
/// second on a database not yet analyzed).
#[tokio::test]
async fn the_applications_sessions_run_without_jit() {
    let url = std::env::var("DATABASE_URL").expect("the tests need DATABASE_URL (scripts/test sets it)");
    let config = eio_core::config::Config {
        database: eio_core::config::DatabaseChoice::External {
            url: eio_core::config::DatabaseUrl::parse(&url).unwrap(),
            origin: eio_core::config::UrlOrigin::CommandLineOrEnvironment,
        },
        data_dir: std::env::temp_dir(),
        config_file: std::env::temp_dir().join("none.toml"),
        worker_key_file: None,
    };
    let db = Database::open(&config).await.unwrap();
    // Three sessions at once, so more than one connection of the pool is asked.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = db.pool().acquire().await.unwrap();
        let jit: String = sqlx::query_scalar("SHOW jit").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(jit, "off");
        held.push(conn);
    }
}
