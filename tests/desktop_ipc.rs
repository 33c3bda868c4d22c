//! The desktop shell's IPC adapter, end to end without a display: Tauri's mock runtime
//! delivers an `invoke("eio_call", {op, input})` exactly as the webview would, and the
//! answer comes from the real service layer over a real (per-test) PostgreSQL.
use eio_core::api::Session;
use eio_core::Database;
use eio_desktop::AppState;
use serde_json::{json, Value};
use sqlx::postgres::{PgPool, PgPoolOptions};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindowBuilder;

/// Build the shell with `state`, then make each call through its IPC handler.
fn calls(state: impl FnOnce() -> AppState, requests: Vec<(&'static str, Value)>) -> Vec<Result<Value, Value>> {
    let app = eio_desktop::register(mock_builder(), state()).build(mock_context(noop_assets())).expect("mock app");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("mock window");
    requests
        .into_iter()
        .map(|(op, input)| {
            get_ipc_response(
                &webview,
                InvokeRequest {
                    cmd: "eio_call".into(),
                    callback: CallbackFn(0),
                    error: CallbackFn(1),
                    url: "tauri://localhost".parse().unwrap(),
                    body: InvokeBody::Json(json!({ "op": op, "input": input })),
                    headers: Default::default(),
                    invoke_key: INVOKE_KEY.to_string(),
                },
            )
            .map(|body| body.deserialize::<Value>().unwrap())
        })
        .collect()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_status_page_model_over_ipc(pool: PgPool) {
    let opts = pool.connect_options().as_ref().clone();
    // The shell runs commands on Tauri's own runtime; give it a pool that lives there.
    let results = tokio::task::spawn_blocking(move || {
        let shell_pool = tauri::async_runtime::block_on(PgPoolOptions::new().max_connections(2).connect_with(opts))
            .expect("connect for the shell");
        calls(
            || AppState::with_session(Session::new(Database::from_pool(shell_pool))),
            vec![("status", json!({})), ("status", Value::Null), ("no_such_operation", json!({}))],
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
}

#[test]
fn a_configuration_problem_reaches_the_page_as_a_sentence() {
    let problem = eio_core::Error::config("/home/op/.config/eio/config.toml: invalid type: integer, expected a string");
    let results = calls(|| AppState::new(Err(problem.into())), vec![("status", json!({}))]);
    assert_eq!(
        results[0],
        Err(
            json!({"code": "config", "message": "/home/op/.config/eio/config.toml: invalid type: integer, expected a string"})
        )
    );
}
