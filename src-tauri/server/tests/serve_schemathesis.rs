//! schemathesis (PyPI) against a running `eio serve`: it reads /api/openapi.json,
//! generates valid and invalid requests for every operation, and checks that none gets a
//! server error and every answer matches its documented schema. Signed in as an operator
//! (the role that reaches the most operations without creating cluster-wide logins).
//!
//! Installed by `scripts/peers/schemathesis` into target/peers/venv.
mod serve_support;

use std::path::PathBuf;

use serve_support::{browser, data_dir, Server, TestLogin};
use sqlx::PgPool;

fn schemathesis() -> PathBuf {
    let st = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/venv/bin/st");
    assert!(st.exists(), "schemathesis is missing ({}): run scripts/peers/schemathesis", st.display());
    st
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn schemathesis_finds_no_server_errors_and_no_schema_violations(pool: PgPool) {
    let st = schemathesis();
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let operator =
        TestLogin::new(&pool, "eio_operator", "operator", &["maintenance_mode", "firmware_update", "power"]).await;
    let client = browser();
    let r = operator.sign_in(&server, &client).await;
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();

    let mut cmd = std::process::Command::new(st);
    cmd.current_dir(dir.path())
        .args(["run", &server.url("/api/openapi.json")])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--header", &format!("Cookie: {cookie}")])
        .args(["--generation-with-security-parameters", "false"])
        .args(["--generation-database", "none"])
        // The event stream never ends, and signing out or in would swap the session mid-run.
        .args(["--exclude-path", "/api/events", "--exclude-path", "/api/session"])
        .args(["--max-examples", "30", "--seed", "20240501", "--workers", "1", "--request-timeout", "30"])
        .args(["--no-color"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{text}");
    let (status, log) = server.stop();
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}\n--- server log (tail) ---\n{}",
        String::from_utf8_lossy(&log[log.len().saturating_sub(20_000)..])
    );
    assert!(status.success());
    // Every operation the registry serves was exercised (new ones included), not a subset.
    let selected = text.lines().find_map(|l| l.trim().strip_prefix("Selected: ")).expect("a summary");
    let selected: usize = selected.split('/').next().unwrap().trim().parse().unwrap();
    let tested: usize =
        text.lines().find_map(|l| l.trim().strip_prefix("Tested: ")).expect("a summary").trim().parse().unwrap();
    assert!(tested > 20 && tested == selected, "schemathesis tested {tested} of {selected} operations:\n{text}");
}
