//! Test logins: real PostgreSQL login roles in one of the EIO group roles, connected to
//! the test's own database. Roles are cluster-wide, so each gets a unique name and is
//! dropped when its guard goes out of scope, even when the test panics.
#![allow(dead_code)]

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use uuid::Uuid;

pub struct Login {
    pub role: String,
    pub pool: PgPool,
    pub user_id: Option<Uuid>,
    admin_opts: PgConnectOptions,
}

impl Login {
    /// A login in `group` (eio_viewer, eio_operator, eio_approver, eio_admin, eio_worker).
    /// With `user`, also a `users` row: (email, role, capabilities).
    pub async fn new(admin: &PgPool, group: &str, user: Option<(&str, &str, &[&str])>) -> Login {
        let role = format!("eio_t_{}", &Uuid::new_v4().simple().to_string()[..16]);
        let password = Uuid::new_v4().to_string();
        sqlx::raw_sql(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE {group}"))
            .execute(admin)
            .await
            .expect("create test login");
        let user_id = match user {
            Some((email, app_role, caps)) => Some(
                sqlx::query_scalar(
                    "INSERT INTO users (email, role, login_role, capabilities) VALUES ($1, $2::user_role, $3, $4) RETURNING id",
                )
                .bind(email)
                .bind(app_role)
                .bind(&role)
                .bind(caps.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .fetch_one(admin)
                .await
                .expect("create users row"),
            ),
            None => None,
        };
        let admin_opts = admin.connect_options().as_ref().clone();
        let opts = admin_opts.clone().username(&role).password(&password);
        let pool = PgPoolOptions::new().max_connections(2).connect_with(opts).await.expect("connect as test login");
        Login { role, pool, user_id, admin_opts }
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let role = self.role.clone();
        let opts = self.admin_opts.clone();
        // Drop the cluster-wide role from a fresh connection on a plain thread: this runs
        // during unwinding too, where no async runtime can be relied on.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect_with(&opts).await.ok()?;
                sqlx::raw_sql(&format!("DROP ROLE IF EXISTS {role}")).execute(&mut c).await.ok()?;
                Some(())
            })
        })
        .join();
    }
}

/// Drops a login role made by a test (roles outlive test databases).
pub struct DropRole(pub PgPool, pub String);
impl Drop for DropRole {
    fn drop(&mut self) {
        let opts = self.0.connect_options().as_ref().clone();
        let role = self.1.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect_with(&opts).await.ok()?;
                sqlx::raw_sql(&format!("DROP ROLE IF EXISTS \"{role}\"")).execute(&mut c).await.ok()
            })
        })
        .join();
    }
}

/// Returns once a session of login `role` waits for a lock (the database says so), or once
/// `finished` says the work it was doing is done without waiting. Tests of "B waits for
/// A" call this before committing A; a B that never waited shows in what they assert next.
pub async fn until_waiting_or_done(admin: &PgPool, role: &str, finished: impl Fn() -> bool) {
    loop {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock')",
        )
        .bind(role)
        .fetch_one(admin)
        .await
        .expect("read pg_stat_activity");
        if waiting || finished() {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// The SQLSTATE of a failed statement, or a panic saying it unexpectedly succeeded.
pub fn sqlstate<T: std::fmt::Debug>(r: Result<T, sqlx::Error>) -> String {
    match r {
        Ok(v) => panic!("expected the database to refuse, but it returned {v:?}"),
        Err(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()).unwrap_or_default(),
        Err(other) => panic!("expected a database error, got {other:?}"),
    }
}

/// A refusal by the database: its SQLSTATE and its message. Panics when the statement
/// succeeded or failed some other way, so a typo can't pass for a refusal.
pub fn refusal<T: std::fmt::Debug>(r: Result<T, sqlx::Error>) -> (String, String) {
    match r {
        Ok(v) => panic!("expected the database to refuse, but it returned {v:?}"),
        Err(sqlx::Error::Database(db)) => {
            (db.code().map(|c| c.into_owned()).unwrap_or_default(), db.message().to_owned())
        }
        Err(other) => panic!("expected a database error, got {other:?}"),
    }
}

/// The message of a failed statement.
pub fn db_message<T: std::fmt::Debug>(r: Result<T, sqlx::Error>) -> String {
    match r {
        Ok(v) => panic!("expected the database to refuse, but it returned {v:?}"),
        Err(sqlx::Error::Database(db)) => db.message().to_owned(),
        Err(other) => panic!("expected a database error, got {other:?}"),
    }
}

pub const AGE_HEADER: &[u8] = b"age-encryption.org/v1\n";

/// A well-formed age recipient that an admin has trusted (see [`trust_test_key`]).
pub const TEST_RECIPIENT: &str = "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq";

/// Trust [`TEST_RECIPIENT`] as a worker key (as the migrating superuser).
pub async fn trust_test_key(admin: &PgPool) {
    sqlx::query("INSERT INTO worker_keys (public_key, label) VALUES ($1, 'test') ON CONFLICT DO NOTHING")
        .bind(TEST_RECIPIENT)
        .execute(admin)
        .await
        .expect("trust the test worker key");
}

/// Something shaped like an age envelope (real encryption arrives with the identity issue;
/// here only the database's rules about the column are under test).
pub fn fake_ciphertext() -> Vec<u8> {
    let mut v = AGE_HEADER.to_vec();
    v.extend_from_slice(b"-> X25519 test\nciphertext-bytes");
    v
}

/// Two sites (US-EAST-01, US-WEST-01), each with its own vCenter (vc-east, vc-west) and
/// one cluster holding one host, and a VM on it. Both hosts are `host-1` and both VMs
/// `vm-1`: moids repeat across vCenters, so only the vCenter tells them apart.
pub struct TwoSites {
    pub east: Uuid,
    pub west: Uuid,
    pub east_cluster: Uuid,
    pub west_cluster: Uuid,
}

pub async fn two_sites(admin: &PgPool) -> TwoSites {
    trust_test_key(admin).await;
    sqlx::raw_sql(
        "INSERT INTO regions (code, name) VALUES ('NA', 'North America');
         INSERT INTO countries (region_id, iso_code, name) SELECT id, 'US', 'United States' FROM regions;
         INSERT INTO sites (country_id, code, timezone) SELECT id, 'US-EAST-01', 'America/New_York' FROM countries;
         INSERT INTO sites (country_id, code, timezone) SELECT id, 'US-WEST-01', 'America/Los_Angeles' FROM countries;",
    )
    .execute(admin)
    .await
    .expect("sites");
    let si: Uuid = sqlx::query_scalar(
        "INSERT INTO service_identities (name, system, username, encrypted_credentials, recipients)
         VALUES ('vc-svc', 'vcenter', 'svc', $1, ARRAY[$2]) RETURNING id",
    )
    .bind(fake_ciphertext())
    .bind(TEST_RECIPIENT)
    .fetch_one(admin)
    .await
    .expect("service identity");
    let mut ids = Vec::new();
    for (vc, site) in [("vc-east", "US-EAST-01"), ("vc-west", "US-WEST-01")] {
        let row: (Uuid, Uuid) = sqlx::query_as(
            "WITH v AS (INSERT INTO vcenter_instances (name, url, service_identity_id, site_id)
                        SELECT $1, 'https://' || $1 || '.example.com/sdk', $3, id FROM sites WHERE code = $2
                        RETURNING id, site_id),
                  c AS (INSERT INTO clusters (vcenter_id, moid, name) SELECT id, 'domain-c1', 'prod' FROM v RETURNING id, vcenter_id),
                  h AS (INSERT INTO esxi_hosts (vcenter_id, cluster_id, moid, name)
                        SELECT vcenter_id, id, 'host-1', 'esx01.' || $1 FROM c RETURNING id, vcenter_id, cluster_id),
                  m AS (INSERT INTO virtual_machines (vcenter_id, cluster_id, host_id, moid, name)
                        SELECT vcenter_id, cluster_id, id, 'vm-1', 'app01-' || $1 FROM h RETURNING id)
             SELECT v.site_id, c.id FROM v, c, m",
        )
        .bind(vc)
        .bind(site)
        .bind(si)
        .fetch_one(admin)
        .await
        .expect("a vCenter with a cluster, a host and a VM");
        ids.push(row);
    }
    TwoSites { east: ids[0].0, west: ids[1].0, east_cluster: ids[0].1, west_cluster: ids[1].1 }
}

/// A plan whose material part names `host-1` of `vcenter` (None: of any vCenter).
pub fn host_plan(vcenter: Option<&str>) -> serde_json::Value {
    serde_json::json!({"summary": "test", "material": {"hosts": [["host-1", 1, vcenter]], "vms": [], "servers": []}})
}
