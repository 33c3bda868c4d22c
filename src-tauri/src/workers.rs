//! Local workers: while someone is signed in, the desktop runs this machine's share of the
//! worker pool (syncs, reports, orchestration jobs) beside the team-wide `eio serve` /
//! `eio worker` instances — they coordinate only through the database's leases.
//!
//! It runs only when all of these hold, and says in the log which one did not:
//! * local workers are not switched off (`EIO_LOCAL_WORKERS=0`);
//! * the signed-in login may act as a worker (`eio_worker`: the embedded default's local
//!   login may; on a shared database only logins an admin granted it);
//! * this machine holds the worker key (OS keyring or the 0600 key file) that the sources'
//!   credentials are sealed for.
//!
//! Signing out (or in as someone else) stops the pool: running jobs hand their leases back
//! at their next safe point and another worker resumes them.
use eio_core::api::Session;
use eio_core::config::Config;
use eio_core::identity::keystore;
use eio_engine::jobs::{Worker, WorkerConfig};
use eio_engine::sync::Syncer;
use tokio::sync::watch;

/// Follow the session: a worker pool for each signed-in session that may run one.
pub fn spawn(config: Option<Config>, mut sessions: watch::Receiver<Option<Session>>) {
    let Some(config) = config else { return };
    tauri::async_runtime::spawn(async move {
        loop {
            let current = sessions.borrow_and_update().clone();
            let (stop_tx, stop) = watch::channel(false);
            let pool = current.map(|s| tokio::spawn(run(config.clone(), s, stop)));
            let ended = sessions.changed().await.is_err();
            let _ = stop_tx.send(true);
            if let Some(p) = pool {
                let _ = p.await;
            }
            if ended {
                return;
            }
        }
    });
}

async fn run(config: Config, session: Session, stop: watch::Receiver<bool>) {
    if std::env::var("EIO_LOCAL_WORKERS").is_ok_and(|v| v == "0" || v.eq_ignore_ascii_case("false")) {
        tracing::info!("local workers are off (EIO_LOCAL_WORKERS=0); the team-wide instance runs jobs");
        return;
    }
    let may: Result<bool, sqlx::Error> = sqlx::query_scalar("SELECT pg_has_role(current_user, 'eio_worker', 'MEMBER')")
        .fetch_one(session.db.pool())
        .await;
    if !may.unwrap_or(false) {
        tracing::info!("this login is not a worker (eio_worker): no local workers; the team-wide instance runs jobs");
        return;
    }
    let key = match keystore::load(&keystore::locate(&config, None)).await {
        Ok(k) => k,
        Err(e) => {
            tracing::info!(reason = %e.message, "no worker key on this machine: no local workers");
            return;
        }
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_owned()).unwrap_or_default();
    let id = format!("desktop:{host}:{}", std::process::id());
    let mut cfg = WorkerConfig::new(id.clone(), "desktop");
    cfg.slots = 4;
    cfg.sync_every = Some(std::time::Duration::from_secs(15 * 60));
    let worker = Worker::new(Syncer::new(session.db.clone(), key, id.clone()), cfg);
    tracing::info!(worker = %id, "local workers running");
    if let Err(e) = worker.run(stop).await {
        tracing::warn!(error = %e, "local workers stopped");
    }
}
