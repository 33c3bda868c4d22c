//! The `eio` binary, driven as a user drives it: real process, real PostgreSQL (a
//! per-test database from `DATABASE_URL`, or a fresh embedded cluster in a temp folder).
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::{data_dir, eio, json_of, url_of};
use serde_json::Value;
use sqlx::PgPool;

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn status_json_against_a_database_url(pool: PgPool) {
    let dir = data_dir();
    let out = eio(dir.path()).args(["status", "--json"]).env("EIO_DATABASE_URL", url_of(&pool)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = json_of(&out);
    assert_eq!(page["connection"]["mode"], "external");
    // Loopback without an sslmode: PostgreSQL's default, and whether this connection is encrypted.
    let encryption = page["connection"]["encryption"].as_str().unwrap();
    assert!(
        encryption.starts_with("this machine (socket or loopback): TLS when the server offers it; this connection: "),
        "{encryption}"
    );
    assert_eq!(page["schema"]["up_to_date"], true);
    assert_eq!(page["tables"]["virtual_machines"], 0);
    assert_eq!(page["tables"]["routing_domains"], 1);
    assert_eq!(page["pending_approvals"], 0);
    assert_eq!(page["kill_switch"]["engaged"], false);
    // The URL flag works the same as the variable, and nothing was created in the data dir.
    let out = eio(dir.path()).args(["status", "--json", "--database-url", &url_of(&pool)]).output().unwrap();
    assert!(out.status.success());
    assert!(!dir.path().join("postgres").exists(), "an external database must not start the embedded one");
}

#[sqlx::test(migrations = false)]
async fn migrate_then_status_on_a_fresh_database(pool: PgPool) {
    let dir = data_dir();
    let url = url_of(&pool);
    let out = eio(dir.path()).args(["status", "--json"]).env("EIO_DATABASE_URL", &url).output().unwrap();
    assert!(out.status.success(), "status must work before any migration");
    assert_eq!(json_of(&out)["schema"]["applied_version"], Value::Null);

    let out = eio(dir.path()).args(["migrate", "--json"]).env("EIO_DATABASE_URL", &url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    let applied = report["applied"].as_array().unwrap();
    assert_eq!(applied.len(), eio_core::db::MIGRATOR.iter().count());
    assert_eq!(applied[0]["version"], 1);

    let out = eio(dir.path()).args(["migrate", "--json"]).env("EIO_DATABASE_URL", &url).output().unwrap();
    assert!(out.status.success());
    let second = json_of(&out);
    assert_eq!(second["applied"].as_array().unwrap().len(), 0, "a second migrate applies nothing");
    assert_eq!(second["vm_count_groups_corrected"], 0, "and finds the kept VM counts right");
    assert_eq!(second["advisory_locks_restricted"], Value::Null, "the first migrate (a superuser) restricted them");

    // A schema whose advisory locks are open to every login (as a non-superuser migration
    // leaves it): status says so, and migrate as a superuser closes them.
    sqlx::raw_sql("GRANT EXECUTE ON FUNCTION pg_advisory_lock(bigint), pg_try_advisory_xact_lock(bigint) TO PUBLIC")
        .execute(&pool)
        .await
        .unwrap();
    let out = eio(dir.path()).args(["status", "--json"]).env("EIO_DATABASE_URL", &url).output().unwrap();
    let warnings = json_of(&out)["warnings"].to_string();
    assert!(warnings.contains("Every login may take EIO's advisory locks"), "{warnings}");
    let out = eio(dir.path()).args(["migrate"]).env("EIO_DATABASE_URL", &url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Took 2 advisory lock function(s) from the application's logins"), "{text}");
    let out = eio(dir.path()).args(["status", "--json"]).env("EIO_DATABASE_URL", &url).output().unwrap();
    let warnings = json_of(&out)["warnings"].to_string();
    assert!(!warnings.contains("advisory locks"), "{warnings}");

    // A count the triggers never wrote (as after a data-only restore) is repaired by migrate.
    sqlx::query("INSERT INTO vm_counts (vcenter_id, n) VALUES (gen_random_uuid(), 5)").execute(&pool).await.unwrap();
    let out = eio(dir.path()).args(["migrate"]).env("EIO_DATABASE_URL", &url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Recounted the kept VM counts: 1 group(s) had drifted from the VMs."), "{text}");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM vm_counts").fetch_one(&pool).await.unwrap();
    assert_eq!(left, 0, "no VMs, no counts");

    let out = eio(dir.path()).args(["status"]).env("EIO_DATABASE_URL", &url).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(up to date)"), "{text}");
    assert!(text.contains("virtual_machines"), "{text}");
}

/// Stops the embedded cluster of a test's data dir however the test ends.
struct StopOnDrop(PathBuf);
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = eio(&self.0).args(["embedded", "stop"]).output();
    }
}

#[test]
fn status_on_a_fresh_embedded_default_then_reused_then_stopped() {
    let dir = data_dir();
    let _guard = StopOnDrop(dir.path().to_path_buf());

    let out = eio(dir.path()).args(["status", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = json_of(&out);
    assert_eq!(page["connection"]["mode"], "embedded");
    assert_eq!(page["connection"]["login"], "eio_local");
    assert_eq!(page["connection"]["superuser"], false, "the app never works as a superuser");
    assert_eq!(
        page["connection"]["encryption"],
        "a Unix socket inside the data directory (no network); this connection: not encrypted"
    );
    assert_eq!(page["connection"]["user"]["role"], "admin");
    assert_eq!(page["schema"]["up_to_date"], true);
    assert_eq!(page["tables"]["users"], 1);
    assert_eq!(page["tables"]["virtual_machines"], 0);

    // Unix socket only, inside the data dir, private to the cluster's account.
    let conf = std::fs::read_to_string(dir.path().join("postgres/data/postgresql.conf")).unwrap();
    assert!(conf.contains("listen_addresses = ''"));
    let run = dir.path().join("postgres/run");
    assert!(run.join(".s.PGSQL.5432").exists());
    assert_eq!(std::fs::metadata(&run).unwrap().permissions().mode() & 0o777, 0o700);

    // A second command reuses the running cluster.
    let out = eio(dir.path()).args(["embedded", "status", "--json"]).output().unwrap();
    assert_eq!(json_of(&out)["running"], true);
    let out = eio(dir.path()).args(["status", "--json"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(json_of(&out)["tables"]["users"], 1, "the same database, not a new one");

    let out = eio(dir.path()).args(["embedded", "stop"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = eio(dir.path()).args(["embedded", "status", "--json"]).output().unwrap();
    assert_eq!(json_of(&out)["running"], false);

    // Started on demand again, data intact.
    let out = eio(dir.path()).args(["status", "--json"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(json_of(&out)["tables"]["users"], 1);
}

/// Four `eio status` started at once on an empty data directory (the desktop and a
/// terminal at first run race the same way): every one succeeds, on one database.
#[test]
fn concurrent_first_starts_of_the_embedded_default_all_succeed() {
    let dir = data_dir();
    let _guard = StopOnDrop(dir.path().to_path_buf());
    let children: Vec<_> = (0..4)
        .map(|_| {
            eio(dir.path())
                .args(["status", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(json_of(&out)["tables"]["users"], 1);
    }
}

#[test]
fn missing_postgres_programs_name_the_package_to_install() {
    let dir = data_dir();
    let out = eio(dir.path()).args(["status", "--json"]).env("EIO_PG_BINDIR", "/nonexistent/bin").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("apt-get install postgresql"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one clear error, not a trace: {stderr}");
    assert_eq!(json_of(&out)["error"]["code"], "embedded_postgres");
}

#[test]
fn an_unreachable_database_is_a_clear_error_without_the_password() {
    let dir = data_dir();
    let out = eio(dir.path())
        .args(["status", "--json"])
        .env("EIO_DATABASE_URL", "postgres://alice:pw-7f3e9-secret@127.0.0.1:1/eio")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert!(!stderr.contains("pw-7f3e9-secret") && !stdout.contains("pw-7f3e9-secret"), "{stderr}{stdout}");
    assert_eq!(json_of(&out)["error"]["code"], "unavailable");

    let out = eio(dir.path()).args(["status"]).env("EIO_DATABASE_URL", "mysql://root:hunter2@db/eio").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("postgres://"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn every_command_has_help() {
    let dir = data_dir();
    for args in [
        vec!["--help"],
        vec!["migrate", "--help"],
        vec!["status", "--help"],
        vec!["embedded", "--help"],
        vec!["embedded", "start", "--help"],
        vec!["embedded", "stop", "--help"],
        vec!["embedded", "status", "--help"],
        vec!["user", "--help"],
        vec!["user", "add", "--help"],
        vec!["user", "list", "--help"],
        vec!["user", "disable", "--help"],
        vec!["user", "enable", "--help"],
        vec!["user", "set-role", "--help"],
        vec!["user", "set-capabilities", "--help"],
        vec!["user", "password", "--help"],
        vec!["identity", "--help"],
        vec!["identity", "init-worker-key", "--help"],
        vec!["identity", "trust-worker-key", "--help"],
        vec!["identity", "revoke-worker-key", "--help"],
        vec!["identity", "keys", "--help"],
        vec!["identity", "add", "--help"],
        vec!["identity", "rotate", "--help"],
        vec!["identity", "list", "--help"],
        vec!["identity", "test", "--help"],
        vec!["identity", "reseal", "--help"],
    ] {
        let out = eio(dir.path()).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: eio"), "{args:?}: {text}");
    }
    let out = eio(dir.path()).args(["no-such-command"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `eio migrate --check` says where the schema stands and exits so a deployment script can
/// branch: 0 current, 2 behind (what is pending), 3 ahead (what this build doesn't know),
/// changing nothing.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn migrate_check_says_behind_current_or_ahead_by_its_exit_code(pool: PgPool) {
    let dir = data_dir();
    let check = |json: bool| {
        let mut c = eio(dir.path());
        c.args(["migrate", "--check"]).env("EIO_DATABASE_URL", url_of(&pool));
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let latest = eio_core::db::MIGRATOR.iter().map(|m| m.version).max().unwrap();
    let out = check(false);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("current: the schema is at {latest:04}, this build's latest")
    );

    // The last migration not applied: behind, naming it.
    let row: (String, Vec<u8>) =
        sqlx::query_as("DELETE FROM _sqlx_migrations WHERE version = $1 RETURNING description, checksum")
            .bind(latest)
            .fetch_one(&pool)
            .await
            .unwrap();
    let out = check(false);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.starts_with(&format!("behind: the database is at {:04}, this build needs {latest:04};", latest - 1)),
        "{said}"
    );
    let json = json_of(&check(true)).clone();
    assert_eq!(json["state"], "behind");
    assert_eq!(json["pending"], serde_json::json!([latest]));

    // Migrated by a newer EIO: ahead, whatever else is pending.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, $2, true, $3, 0), (99999, 'from a newer release', true, '\\x00', 0)",
    )
    .bind(latest)
    .bind(&row.0)
    .bind(&row.1)
    .execute(&pool)
    .await
    .unwrap();
    let out = check(false);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.starts_with("ahead: the database was migrated by a newer EIO (migration 99999 is unknown to EIO "),
        "{said}"
    );
    assert!(said.contains("install the release that migrated it"), "{said}");
    // Where `eio migrate` recorded the release, the advice names it.
    sqlx::query("INSERT INTO schema_releases (version, release) VALUES (99999, '7.1.0')").execute(&pool).await.unwrap();
    let out = check(false);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.starts_with("ahead: the database was migrated by EIO 7.1.0 (migration 99999 is unknown"), "{said}");
    assert!(said.contains("install EIO 7.1.0 or later"), "{said}");
    let json = json_of(&check(true)).clone();
    assert_eq!((&json["state"], &json["ahead_release"]), (&serde_json::json!("ahead"), &serde_json::json!("7.1.0")));
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations").fetch_one(&pool).await.unwrap();
    assert_eq!(applied as usize, eio_core::db::MIGRATOR.iter().count() + 1, "--check changed nothing");
}

/// `--log-format json`: every log line on stderr is one JSON object with the time, level,
/// target and message (what Loki or ELK ingest); text stays the default for people.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn logs_are_json_lines_on_request_and_text_by_default(pool: PgPool) {
    let dir = data_dir();
    let run = |format: Option<&str>| {
        let mut c = eio(dir.path());
        c.args(["-vv", "status", "--json"]).env("EIO_DATABASE_URL", url_of(&pool));
        if let Some(f) = format {
            c.args(["--log-format", f]);
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let json = run(Some("json"));
    let lines: Vec<&str> = json.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "-vv logs something");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        for key in ["timestamp", "level", "target"] {
            assert!(v[key].is_string(), "{key} missing: {line}");
        }
    }
    assert!(lines.iter().any(|l| serde_json::from_str::<Value>(l).unwrap()["message"].is_string()));
    let text = run(None);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap();
    assert!(serde_json::from_str::<Value>(first).is_err(), "text by default: {first}");
}
