//! A notification is a hint, never a fact: any database login may NOTIFY with a payload of
//! its own, so the desktop judges each event on the job's row, read with the signed-in
//! user's own rights, and tells a job once per status. Forged payloads here are what a
//! login with `psql` could send; none of them reaches the user as a notice.
use eio_core::api::Session;
use eio_core::pages::live::{LiveEvent, LiveKind};
use eio_core::Database;
use eio_desktop::live::{Judge, Notice, Viewer};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

/// A login in `group` with a users row; its role name starts with `eio_t_` so a crashed
/// run's leftovers are dropped by `scripts/test`.
async fn login(admin: &PgPool, group: &str, email: &str, app_role: &str, caps: &[&str]) -> (String, PgPool, Uuid) {
    let role = format!("eio_t_{}", &Uuid::new_v4().simple().to_string()[..16]);
    let password = Uuid::new_v4().to_string();
    sqlx::raw_sql(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE {group}"))
        .execute(admin)
        .await
        .unwrap();
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO users (email, role, login_role, capabilities) VALUES ($1, $2::user_role, $3, $4) RETURNING id",
    )
    .bind(email)
    .bind(app_role)
    .bind(&role)
    .bind(caps.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    .fetch_one(admin)
    .await
    .unwrap();
    let opts = admin.connect_options().as_ref().clone().username(&role).password(&password);
    let pool = PgPoolOptions::new().max_connections(2).connect_with(opts).await.unwrap();
    (role, pool, id)
}

fn event(kind: LiveKind, job: Uuid, status: Option<&str>, by: Option<Uuid>) -> LiveEvent {
    let mut e = LiveEvent::resync();
    e.kind = kind;
    e.job_id = Some(job);
    e.status = status.map(|s| s.parse().unwrap());
    e.initiated_by_user = by;
    e
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn forged_notifications_tell_the_user_nothing(admin: PgPool) {
    let (op_role, op, op_id) = login(&admin, "eio_operator", "op@example.com", "operator", &[]).await;
    let (ap_role, ap, ap_id) = login(&admin, "eio_approver", "ap@example.com", "approver", &[]).await;
    let approver = Session::new(Database::from_pool(ap.clone()));
    let operator = Session::new(Database::from_pool(op.clone()));
    let as_approver = Viewer { user_id: Some(ap_id), may_approve: true };
    let as_operator = Viewer { user_id: Some(op_id), may_approve: false };
    // A sync job that runs without approval (pending), and one that waits for it.
    let pending: Uuid = sqlx::query_scalar(
        "SELECT id FROM submit_job('sync', 'runs now', p_policy => '{\"require_approval\": false}')",
    )
    .fetch_one(&op)
    .await
    .unwrap();
    let waiting: Uuid = sqlx::query_scalar(
        "SELECT id FROM submit_job('sync', 'needs a second person', p_policy => '{\"require_approval\": true}')",
    )
    .fetch_one(&op)
    .await
    .unwrap();
    // Each forged event meets a judge that has seen nothing yet, so only the row can refuse it.
    let fresh = Judge::default;

    // "Awaits your approval" for a job that doesn't, or doesn't exist: nothing.
    assert_eq!(fresh().notice(&approver, event(LiveKind::Approval, pending, None, None), &as_approver).await, None);
    assert_eq!(
        fresh().notice(&approver, event(LiveKind::Approval, Uuid::new_v4(), None, None), &as_approver).await,
        None
    );
    // "Your job failed" while the row says pending: nothing. Claiming the approver
    // submitted the operator's job doesn't make it theirs.
    assert_eq!(
        fresh().notice(&operator, event(LiveKind::Job, pending, Some("failed"), Some(op_id)), &as_operator).await,
        None
    );
    sqlx::query("UPDATE jobs SET status = 'running' WHERE id = $1").bind(pending).execute(&admin).await.unwrap();
    sqlx::query("UPDATE jobs SET status = 'paused' WHERE id = $1").bind(pending).execute(&admin).await.unwrap();
    assert_eq!(
        fresh().notice(&approver, event(LiveKind::Job, pending, Some("paused"), Some(ap_id)), &as_approver).await,
        None
    );
    // The same event for its real owner is a notice: the row, not the payload, decided.
    assert_eq!(
        fresh().notice(&operator, event(LiveKind::Job, pending, Some("failed"), None), &as_operator).await,
        Some(Notice::YourJobPaused(pending))
    );
    // The real approval is told once, however often it is announced.
    let mut judge = Judge::default();
    assert_eq!(
        judge.notice(&approver, event(LiveKind::Approval, waiting, None, None), &as_approver).await,
        Some(Notice::AwaitsYourApproval(waiting))
    );
    assert_eq!(judge.notice(&approver, event(LiveKind::Approval, waiting, None, None), &as_approver).await, None);
    // Other kinds never make a notice.
    assert_eq!(judge.notice(&approver, LiveEvent::resync(), &as_approver).await, None);

    op.close().await;
    ap.close().await;
    for role in [op_role, ap_role] {
        sqlx::raw_sql(&format!("DROP ROLE IF EXISTS {role}")).execute(&admin).await.unwrap();
    }
}
