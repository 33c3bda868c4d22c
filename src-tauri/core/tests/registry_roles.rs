//! The registry's "role needed" is a promise to readers (the OpenAPI document, the
//! generated client): checked here against the database, which is what decides. Every
//! operation declared for viewers answers a real viewer login (an input it lacks is its own
//! error, never a refusal), and nothing a viewer may call writes.
mod common;

use common::Login;
use eio_core::api::{self, HttpMethod, Role, Session, OPERATIONS};
use eio_core::error::ErrorCode;
use eio_core::Database;
use sqlx::PgPool;

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn every_operation_declared_for_viewers_answers_a_viewer(admin: PgPool) {
    common::two_sites(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("viewer@example.test", "viewer", &[]))).await;
    let session = Session::new(Database::from_pool(viewer.pool.clone()));
    let mut answered = 0;
    let mut refused = Vec::new();
    for op in OPERATIONS.iter().filter(|op| op.role == Role::Viewer) {
        assert_eq!(
            op.method,
            HttpMethod::Get,
            "{} is declared for viewers but is a POST: viewers never write",
            op.name
        );
        match api::dispatch(&session, op.name, serde_json::json!({})).await {
            Ok(_) => answered += 1,
            Err(e) if e.code == ErrorCode::Forbidden => refused.push(format!("{}: {}", op.name, e.message)),
            Err(e) => assert!(
                matches!(e.code, ErrorCode::InvalidInput | ErrorCode::NotFound),
                "{}: {:?} {}",
                op.name,
                e.code,
                e.message
            ),
        }
    }
    assert!(refused.is_empty(), "declared for viewers, refused to one:\n{}", refused.join("\n"));
    assert!(answered > 30, "only {answered} viewer operations answered with no input");
    // Every write names a role above viewer.
    for op in OPERATIONS.iter().filter(|op| op.method == HttpMethod::Post) {
        assert!(op.role > Role::Viewer, "{} writes but is declared for viewers", op.name);
    }
}
