//! `eio serve`: the REST API, the UI and (by default) the team-wide worker instance.
//!
//! * **API** — every operation of `eio_core::api` as a route (GET input from the query
//!   string, POST input from a JSON body; [`query`] documents the convention), answers as
//!   JSON, errors as `{"error": {"code", "message"}}` with an HTTP status per code; the
//!   OpenAPI 3.1 document at `/api/openapi.json` is generated from the same registry.
//! * **Sessions** ([`sessions`]) — a browser signs in with its user's own PostgreSQL login;
//!   the database enforces every rule for that login. On the embedded default (loopback
//!   only: it has no passwords to check) there is no sign-in: the server prints, once, a
//!   link with a random token made at start, as Jupyter does; that link opens a session as
//!   the local login, and scripts send the token as `Authorization: Bearer`. Without it a
//!   request is nobody, even on loopback: any user or process of the machine reaches it.
//! * **Live updates** — `GET /api/events`: the database's NOTIFY channels as Server-Sent
//!   Events (`eio_core::pages::live`: ids and kinds only).
//! * **UI** ([`ui`]) — `ui/dist` (or `--ui-dir`, `EIO_UI_DIR`) at `/`.
//! * **Worker** — the job worker pool runs in-process, as `eio worker` does, unless
//!   `--no-worker` or no worker key is available (one log line says which).
//!
//! Ctrl-C or SIGTERM stops it gracefully: no new requests, event streams end, running
//! jobs are handed back at their next safe point, sessions close.
//!
//! Never logs or returns a password, and never runs a request as the server's own login
//! unless it is the local login of the embedded default, reached with the start token.
mod http;
mod openapi;
mod query;
mod sessions;
mod ui;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use eio_core::api::Session;
use eio_core::config::{Config, DatabaseChoice};
use eio_core::{Database, Error};
use tokio::sync::{broadcast, watch};

use crate::job_cmds::{self, WorkerArgs};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port; the address is printed)
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub bind: SocketAddr,
    /// The built UI served at / (default: ui/dist)
    #[arg(long, env = "EIO_UI_DIR", value_name = "DIR")]
    pub ui_dir: Option<PathBuf>,
    /// Don't run the job worker pool in this process
    #[arg(long)]
    pub no_worker: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

pub async fn run(config: &Config, key_file: Option<&Path>, args: ServeArgs) -> Result<(), Error> {
    let embedded = matches!(config.database, DatabaseChoice::Embedded);
    if embedded && !args.bind.ip().is_loopback() {
        return Err(Error::config(format!(
            "the embedded database has no passwords to check, so it is served on loopback only (127.0.0.1 or ::1), \
             not {}: use a shared database (--database-url) for a team-wide server",
            args.bind
        )));
    }
    let db = Database::open(config).await?;
    db.require_current_schema().await?;
    eio_core::identity::record_login(&db, "eio-serve").await;
    let login: String = sqlx::query_scalar("SELECT session_user::text").fetch_one(db.pool()).await?;

    let doc = openapi::build().map_err(Error::internal)?;
    let ui_dir = args.ui_dir.clone().unwrap_or_else(|| PathBuf::from("ui/dist"));
    let ui_dir = if ui_dir.join("index.html").is_file() {
        Some(ui_dir)
    } else {
        eprintln!("eio serve: no built UI in {}: serving the API only", ui_dir.display());
        None
    };

    let (stop_tx, stop) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let (live, _) = broadcast::channel(1024);
    let state = Arc::new(http::AppState {
        config: config.clone(),
        sign_in_base: match &config.database {
            DatabaseChoice::External { url, .. } => Some(url.clone()),
            DatabaseChoice::Embedded => None,
        },
        local: match embedded {
            true => Some(http::LocalAccess {
                session: Session::new(db.clone()),
                login: login.clone(),
                token: sessions::new_token()?,
            }),
            false => None,
        },
        sessions: sessions::SessionStore::default(),
        doc,
        live: live.clone(),
        stopping: stop.clone(),
        health: http::Health { db: db.clone(), worker: http::WorkerHealth::default() },
    });

    let relay_pool = db.pool().clone();
    let mut relay_stop = stop.clone();
    let relay = tokio::spawn(async move {
        tokio::select! {
            r = eio_core::pages::live::relay(&relay_pool, |e| { let _ = live.send(e); true }) => {
                if let Err(e) = r {
                    eprintln!("eio serve: no live updates: {}", e.message);
                }
            }
            _ = relay_stop.changed() => {}
        }
    });

    let sweeper_state = state.clone();
    let mut sweeper_stop = stop.clone();
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick.tick() => sweeper_state.sessions.sweep(sessions::IDLE_TIMEOUT).await,
                _ = sweeper_stop.changed() => break,
            }
        }
    });

    let worker = if args.no_worker {
        eprintln!("eio serve: --no-worker: jobs run on `eio worker` or another `eio serve`");
        None
    } else {
        match job_cmds::build_worker(config, &db, key_file, &args.worker, "serve").await {
            Ok(w) => {
                let watching =
                    if w.config.watch_vcenters.is_some() { ", and watches vCenters for changes" } else { "" };
                eprintln!(
                    "eio serve: worker {} runs {} job slot(s) in this process{watching}",
                    w.config.id, w.config.slots
                );
                let worker_stop = stop.clone();
                let health = state.clone();
                health.health.worker.wanted.store(true, std::sync::atomic::Ordering::Relaxed);
                health.health.worker.running.store(true, std::sync::atomic::Ordering::Relaxed);
                Some(tokio::spawn(async move {
                    let ran = w.run(worker_stop).await;
                    health.health.worker.running.store(false, std::sync::atomic::Ordering::Relaxed);
                    ran
                }))
            }
            Err(e) => {
                eprintln!(
                    "eio serve: no worker in this process ({}): jobs wait for `eio worker` or another `eio serve`",
                    e.message
                );
                None
            }
        }
    };

    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| Error::config(format!("cannot listen on {}: {e}", args.bind)))?;
    let addr = listener.local_addr()?;
    let app = http::router(state.clone(), ui_dir.as_deref());
    eprintln!("eio serve: {} as {login}", if embedded { "the embedded database" } else { "a shared database" });
    // On stdout: where to connect (scripts and tests read the first line) and, on the
    // embedded default, the one link that signs a browser in (never logged).
    println!("EIO serves http://{addr}");
    if let Some(local) = &state.local {
        println!(
            "Open http://{addr}/?token={} to act as the local login {login} (the token changes at every start)",
            local.token
        );
        println!("Scripts: send the header 'Authorization: Bearer {}'", local.token);
    }

    let on_signal = stop_tx.clone();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            job_cmds::shutdown_signal().await;
            eprintln!("eio serve: stopping");
            let _ = on_signal.send(true);
        })
        .await;
    let _ = stop_tx.send(true);
    let _ = relay.await;
    let _ = sweeper.await;
    if let Some(w) = worker {
        match w.await {
            Ok(Err(e)) => eprintln!("eio serve: the worker stopped with an error: {}", e.message),
            Err(e) => eprintln!("eio serve: the worker task failed: {e}"),
            Ok(Ok(())) => {}
        }
    }
    state.sessions.close_all().await;
    served.map_err(|e| Error::internal(format!("serving HTTP failed: {e}")))
}
