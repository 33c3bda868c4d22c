//! The desktop shell's IPC, end to end without a display: Tauri's mock runtime delivers
//! each `invoke` exactly as the webview would, and the answers come from the real service
//! layer over a real (per-test) PostgreSQL.
use std::path::Path;

use eio_core::api::Session;
use eio_core::config::{Config, Overrides};
use eio_core::Database;
use eio_desktop::AppState;
use serde_json::{json, Value};
use sqlx::postgres::{PgPool, PgPoolOptions};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindowBuilder;

/// Build the shell with `state`, then make each call (command, args) through its IPC handler.
fn calls(state: impl FnOnce() -> AppState, requests: Vec<(&'static str, Value)>) -> Vec<Result<Value, Value>> {
    let app = eio_desktop::register(mock_builder(), state()).build(mock_context(noop_assets())).expect("mock app");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("mock window");
    requests
        .into_iter()
        .map(|(cmd, args)| {
            get_ipc_response(
                &webview,
                InvokeRequest {
                    cmd: cmd.into(),
                    callback: CallbackFn(0),
                    error: CallbackFn(1),
                    url: "tauri://localhost".parse().unwrap(),
                    body: InvokeBody::Json(args),
                    headers: Default::default(),
                    invoke_key: INVOKE_KEY.to_string(),
                },
            )
            .map(|body| body.deserialize::<Value>().unwrap())
        })
        .collect()
}

fn op(name: &str, input: Value) -> Value {
    json!({ "op": name, "input": input })
}

/// A config whose files live in `dir` and whose database is `url` (None: embedded).
fn config_in(dir: &Path, url: Option<&str>) -> Config {
    Config::load(Overrides {
        database_url: url.map(str::to_owned),
        data_dir: Some(dir.join("data")),
        config_file: Some(dir.join("config.toml")),
    })
    .unwrap()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_status_page_model_over_ipc(pool: PgPool) {
    let opts = pool.connect_options().as_ref().clone();
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path(), None);
    // The shell runs commands on Tauri's own runtime; give it a pool that lives there.
    let results = tokio::task::spawn_blocking(move || {
        let shell_pool = tauri::async_runtime::block_on(PgPoolOptions::new().max_connections(2).connect_with(opts))
            .expect("connect for the shell");
        calls(
            || AppState::with_session(config, Session::new(Database::from_pool(shell_pool))),
            vec![
                ("eio_call", op("status", json!({}))),
                ("eio_call", op("status", Value::Null)),
                ("eio_call", op("no_such_operation", json!({}))),
                ("eio_call", op("me", json!({}))),
            ],
        )
    })
    .await
    .unwrap();

    let page = results[0].as_ref().expect("status succeeds");
    assert_eq!(page["schema"]["up_to_date"], true);
    assert_eq!(page["tables"]["virtual_machines"], 0);
    assert_eq!(page["pending_approvals"], 0);
    assert!(results[1].is_ok(), "a missing input counts as {{}}");
    assert_eq!(results[2], Err(json!({"code": "not_found", "message": "no operation named \"no_such_operation\""})));
    let me = results[3].as_ref().unwrap();
    assert_eq!(me["may"]["read"], true);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn signing_in_to_a_shared_database_saves_the_address_but_never_the_password(pool: PgPool) {
    let o = pool.connect_options();
    let (host, port, db, user) =
        (o.get_host().to_owned(), o.get_port(), o.get_database().unwrap().to_owned(), o.get_username().to_owned());
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("config.toml");
    let config = config_in(dir.path(), None);
    let settings = |port: u16| json!({"mode": "shared", "host": host, "port": port, "database": db, "username": user});
    let (good, bad) = (settings(port), settings(1));
    let results = tokio::task::spawn_blocking(move || {
        calls(
            || AppState::new(Ok(config)),
            vec![
                ("sign_in", json!({"input": {"settings": bad, "password": "typed-pw-5a1b", "remember": false}})),
                ("sign_in", json!({"input": {"settings": good, "password": "typed-pw-5a1b", "remember": false}})),
                ("eio_call", op("status", json!({}))),
                ("connection_state", json!({})),
                ("sign_out", json!({})),
                ("eio_call", op("status", json!({}))),
            ],
        )
    })
    .await
    .unwrap();

    // A wrong address is an error the sign-in page shows, and nothing was saved.
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err["code"], "unavailable", "{err}");
    // The right one connects, and the session serves operations.
    assert_eq!(results[1].as_ref().unwrap()["connected"], true);
    assert_eq!(results[2].as_ref().unwrap()["connection"]["mode"], "external");
    assert_eq!(results[3].as_ref().unwrap()["settings"]["port"], port);
    // Signing out closes the session.
    assert_eq!(results[4].as_ref().unwrap()["connected"], false);
    let after = results[5].as_ref().unwrap_err();
    assert_eq!(
        (after["code"].as_str(), after["message"].as_str()),
        (Some("forbidden"), Some("not signed in")),
        "{after}"
    );

    let saved = std::fs::read_to_string(&config_file).unwrap();
    assert!(saved.contains(&format!("@{}:{}/", o.get_host(), port)), "{saved}");
    assert!(!saved.contains("typed-pw-5a1b"), "the password must never be written to the config file");
    let again = Config::load(Overrides { config_file: Some(config_file), ..Default::default() }).unwrap();
    assert!(matches!(again.database, eio_core::config::DatabaseChoice::External { .. }));
}

#[test]
fn a_configuration_problem_reaches_the_page_as_a_sentence() {
    let problem = eio_core::Error::config("/home/op/.config/eio/config.toml: invalid type: integer, expected a string");
    let results = calls(|| AppState::new(Err(problem.into())), vec![("eio_call", op("status", json!({})))]);
    assert_eq!(
        results[0],
        Err(
            json!({"code": "config", "message": "/home/op/.config/eio/config.toml: invalid type: integer, expected a string"})
        )
    );
}

/// "Try the demo lab" never writes a simulated estate into a shared (real) database.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_demo_lab_is_refused_on_a_shared_database(pool: PgPool) {
    let o = pool.connect_options();
    let url =
        format!("postgres://{}@{}:{}/{}", o.get_username(), o.get_host(), o.get_port(), o.get_database().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path(), Some(&url));
    let results =
        tokio::task::spawn_blocking(move || calls(|| AppState::new(Ok(config)), vec![("start_demo", json!({}))]))
            .await
            .unwrap();
    let err = results[0].clone().expect_err("refused");
    assert!(err["message"].as_str().unwrap().contains("embedded default"), "{err}");
    let sources: i64 = sqlx::query_scalar("SELECT count(*) FROM vcenter_instances").fetch_one(&pool).await.unwrap();
    assert_eq!(sources, 0, "nothing was set up");
}
