//! Users, worker keys and service identities through the `eio` binary, as an admin and a
//! worker would use them — and the proof that a planted secret leaks nowhere: not in
//! trace-level logs, not in any command's output or JSON payload, not in `pg_dump`.
//! Later issues add their flows (sync, jobs, reports) to the same sweep.
mod common;

use std::io::Write;
use std::process::{Output, Stdio};

use common::{data_dir, eio, json_of, ok, url_as, url_of, DropRoles};
use sqlx::PgPool;
use uuid::Uuid;

/// A password nobody would type by accident, so any occurrence anywhere is a leak.
const PLANTED: &str = "PLANTED-s3cr3t-7c1e94b2-do-not-leak";

fn suffix() -> String {
    Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// Run `eio` with `stdin` fed to it, trace logging on.
fn run_with_stdin(mut cmd: std::process::Command, stdin: &str) -> Output {
    let mut child = cmd
        .env("EIO_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn run(mut cmd: std::process::Command) -> Output {
    cmd.env("EIO_LOG", "trace").output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_planted_secret_appears_nowhere(pool: PgPool) {
    let dir = data_dir();
    let key_file = dir.path().join("worker-key.age");
    let (admin_login, worker_login) = (format!("eio_t_adm_{}", suffix()), format!("eio_t_wrk_{}", suffix()));
    let _cleanup = DropRoles(pool.clone(), vec![admin_login.clone(), worker_login.clone()]);
    let mut transcript = Vec::new();

    // A superuser bootstraps the first admin (the password arrives through the environment).
    let mut cmd = eio(dir.path());
    cmd.args([
        "user",
        "add",
        "admin@example.com",
        "--role",
        "admin",
        "--login",
        &admin_login,
        "--password-env",
        "ADMIN_PW",
    ])
    .env("EIO_DATABASE_URL", url_of(&pool))
    .env("ADMIN_PW", "admin-password-1");
    transcript.push(ok(&run(cmd)).clone());
    sqlx::raw_sql(&format!("CREATE ROLE {worker_login} LOGIN IN ROLE eio_worker")).execute(&pool).await.unwrap();
    let as_admin = url_as(&pool, Some(&admin_login));
    let as_worker = url_as(&pool, Some(&worker_login));

    // The admin creates the worker key (kept in a 0600 file) and trusts it in one go.
    let mut cmd = eio(dir.path());
    cmd.args(["identity", "init-worker-key", "--key-file"]).arg(&key_file).env("EIO_DATABASE_URL", &as_admin);
    let out = run(cmd);
    assert!(text(ok(&out)).contains("Trusted as worker key"), "{}", text(&out));
    transcript.push(out);

    // The planted secret enters exactly once, on stdin.
    let mut cmd = eio(dir.path());
    cmd.args(["identity", "add", "--name", "vc-prod", "--system", "vcenter", "--username", "svc-eio@vsphere.local"])
        .args(["--password-stdin", "-vvv"])
        .env("EIO_DATABASE_URL", &as_admin);
    transcript.push(ok(&run_with_stdin(cmd, &format!("{PLANTED}\n"))).clone());

    // Every flow that exists today, as admin and as worker, at trace level.
    for (url, args) in [
        (&as_admin, vec!["identity", "list", "--json", "-vvv"]),
        (&as_admin, vec!["identity", "list"]),
        (&as_admin, vec!["identity", "keys", "--json"]),
        (&as_admin, vec!["user", "list", "--json"]),
        (&as_admin, vec!["status", "--json", "-vvv"]),
        (&as_worker, vec!["identity", "test", "vc-prod", "--json", "-vvv"]),
        (&as_worker, vec!["identity", "list", "--json"]),
        (&as_worker, vec!["status"]),
    ] {
        let mut cmd = eio(dir.path());
        cmd.args(&args).env("EIO_DATABASE_URL", url).env("EIO_WORKER_KEY_FILE", &key_file);
        let out = run(cmd);
        transcript.push(ok(&out).clone());
    }

    // The flows really ran: the worker opened the credentials, and it shows.
    let test_out = &transcript[transcript.len() - 3];
    assert_eq!(json_of(test_out)["opened"], true);
    let mut cmd = eio(dir.path());
    cmd.args(["identity", "list", "--json"]).env("EIO_DATABASE_URL", &as_admin);
    let listed = json_of(ok(&run(cmd)));
    assert!(listed[0]["last_success"].is_string(), "{listed}");
    assert!(listed[0].get("encrypted_credentials").is_none());
    assert_eq!(listed[0]["rotation_period_days"], 90);

    // A rotation may set a new period, with the flag `identity add` takes; without it the
    // period stays.
    let mut cmd = eio(dir.path());
    cmd.args(["identity", "rotate", "vc-prod", "--rotate-every-days", "30", "--password-stdin"])
        .env("EIO_DATABASE_URL", &as_admin);
    let out = run_with_stdin(cmd, "rotated-password-2\n");
    assert!(text(ok(&out)).starts_with("Rotated vc-prod; next rotation due "), "{}", text(&out));
    let mut cmd = eio(dir.path());
    cmd.args(["identity", "rotate", "vc-prod", "--password-stdin"]).env("EIO_DATABASE_URL", &as_admin);
    ok(&run_with_stdin(cmd, "rotated-password-3\n"));
    let mut cmd = eio(dir.path());
    cmd.args(["identity", "list", "--json"]).env("EIO_DATABASE_URL", &as_admin);
    assert_eq!(json_of(ok(&run(cmd)))[0]["rotation_period_days"], 30);

    // The database itself holds only ciphertext.
    let o = pool.connect_options();
    let dump = std::process::Command::new("pg_dump")
        .args([
            "-h",
            o.get_host(),
            "-p",
            &o.get_port().to_string(),
            "-U",
            o.get_username(),
            "-d",
            o.get_database().unwrap(),
        ])
        .output()
        .expect("pg_dump (postgresql-client) is part of the test setup");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    assert!(String::from_utf8_lossy(&dump.stdout).contains("vc-prod"), "the dump has the identity");

    let mut haystacks: Vec<(String, Vec<u8>)> = vec![("pg_dump".into(), dump.stdout)];
    for (i, out) in transcript.iter().enumerate() {
        haystacks.push((format!("command {i} stdout"), out.stdout.clone()));
        haystacks.push((format!("command {i} stderr"), out.stderr.clone()));
    }
    let leaks: Vec<&str> = haystacks
        .iter()
        .filter(|(_, bytes)| bytes.windows(PLANTED.len()).any(|w| w == PLANTED.as_bytes()))
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(leaks.is_empty(), "the planted secret leaked into: {leaks:?}");
    assert!(
        haystacks.iter().map(|(_, b)| b.len()).sum::<usize>() > 10_000,
        "trace logging produced the volume we searched"
    );
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_wrong_key_or_tampered_ciphertext_is_a_clear_error_naming_the_identity(pool: PgPool) {
    let dir = data_dir();
    let (good, stranger) = (dir.path().join("good.age"), dir.path().join("stranger.age"));
    let url = url_of(&pool); // a superuser: admin and worker at once, for brevity
    let mut cmd = eio(dir.path());
    cmd.args(["identity", "init-worker-key", "--key-file"]).arg(&good).env("EIO_DATABASE_URL", &url);
    ok(&run(cmd));
    let mut cmd = eio(dir.path());
    cmd.args([
        "identity",
        "add",
        "--name",
        "idrac-fleet",
        "--system",
        "idrac",
        "--username",
        "root",
        "--password-env",
        "PW",
    ])
    .env("EIO_DATABASE_URL", &url)
    .env("PW", "calvin-x");
    ok(&run(cmd));

    // A second key, never trusted: it exists, but can't open anything.
    let mut cmd = eio(dir.path());
    cmd.args(["identity", "init-worker-key", "--key-file"]).arg(&stranger).env("EIO_DATABASE_URL", &url);
    ok(&run(cmd));
    sqlx::query(
        "UPDATE worker_keys SET revoked_at = now() WHERE public_key <> (SELECT recipients[1] FROM service_identities)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut cmd = eio(dir.path());
    cmd.args(["identity", "test", "idrac-fleet", "--key-file"]).arg(&stranger).env("EIO_DATABASE_URL", &url);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"idrac-fleet\"") && err.contains("is not among them"), "{err}");
    assert!(!err.contains("calvin-x"));

    // Flip one byte of the sealed payload: detected, named, nothing decrypted.
    sqlx::query(
        "UPDATE service_identities
         SET encrypted_credentials = set_byte(encrypted_credentials, length(encrypted_credentials) - 3,
                                              get_byte(encrypted_credentials, length(encrypted_credentials) - 3) # 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut cmd = eio(dir.path());
    cmd.args(["identity", "test", "idrac-fleet", "--key-file"]).arg(&good).env("EIO_DATABASE_URL", &url);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"idrac-fleet\"") && err.contains("damaged or were altered"), "{err}");
    assert!(!err.contains("calvin-x"));

    // Both failed uses are on record.
    let failures: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'credential.use' AND data ->> 'ok' = 'false'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(failures, 2);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn users_are_added_listed_and_disabled(pool: PgPool) {
    let dir = data_dir();
    let login = format!("eio_t_op_{}", suffix());
    let _cleanup = DropRoles(pool.clone(), vec![login.clone()]);
    let url = url_of(&pool);
    let mut cmd = eio(dir.path());
    cmd.args(["user", "add", "op@example.com", "--role", "operator", "--login", &login])
        .args(["--capability", "maintenance_mode", "--capability", "site:US-EAST-01", "--password-stdin"])
        .env("EIO_DATABASE_URL", &url);
    ok(&run_with_stdin(cmd, "op-pass\n"));

    let mut cmd = eio(dir.path());
    cmd.args(["user", "list", "--json"]).env("EIO_DATABASE_URL", &url);
    let users = json_of(ok(&run(cmd)));
    assert_eq!(users[0]["email"], "op@example.com");
    assert_eq!(users[0]["role"], "operator");
    assert_eq!(users[0]["capabilities"], serde_json::json!(["maintenance_mode", "site:US-EAST-01"]));
    assert_eq!(users[0]["disabled"], false);

    // Bad input: a clear error, nothing created.
    let mut cmd = eio(dir.path());
    cmd.args(["user", "add", "x@example.com", "--role", "operator", "--login", "x1", "--capability", "teleport"])
        .env("EIO_DATABASE_URL", &url);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown capability \"teleport\""));
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'x1'").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 0, "the failed add left no login behind");

    let mut cmd = eio(dir.path());
    cmd.args(["user", "disable", "op@example.com"]).env("EIO_DATABASE_URL", &url);
    ok(&run(cmd));
    let mut cmd = eio(dir.path());
    cmd.args(["user", "list", "--json"]).env("EIO_DATABASE_URL", &url);
    assert_eq!(json_of(ok(&run(cmd)))[0]["disabled"], true);
    let mut cmd = eio(dir.path());
    cmd.args(["status", "--json"]).env("EIO_DATABASE_URL", url_as(&pool, Some(&login)));
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1), "a disabled login can't connect");
    assert_eq!(json_of(&out)["error"]["code"], "forbidden");
}
