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
//! * **UI** ([`ui`]) — the `ui/dist` embedded at build time (or `--ui-dir`, `EIO_UI_DIR`) at `/`.
//! * **Listener** ([`listener`]) — connection cap, header and TLS-handshake timeouts,
//!   optional TLS (`--tls-cert`, `--tls-key`), and the `Host` allow-list (DNS rebinding).
//! * **Worker** — the job worker pool runs in-process, as `eio worker` does, unless
//!   `--no-worker` or no worker key is available (one log line says which).
//!
//! Ctrl-C or SIGTERM stops it gracefully: no new requests, event streams end, running
//! jobs are handed back at their next safe point, sessions close.
//!
//! Never logs or returns a password, and never runs a request as the server's own login
//! unless it is the local login of the embedded default, reached with the start token.
mod http;
mod listener;
mod metrics;
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
    /// Serve the UI from this directory instead of the one built into eio (UI development)
    #[arg(long, env = "EIO_UI_DIR", value_name = "DIR")]
    pub ui_dir: Option<PathBuf>,
    /// Don't run the job worker pool in this process
    #[arg(long)]
    pub no_worker: bool,
    /// A reverse proxy in front of this server (IP address or ADDR/LEN network; repeat for
    /// several): its X-Forwarded-For names the client that the sign-in limits count
    #[arg(long = "trusted-proxy", env = "EIO_TRUSTED_PROXIES", value_delimiter = ',', value_name = "ADDR")]
    pub trusted_proxies: Vec<sessions::ProxyNet>,
    #[command(flatten)]
    pub listen: listener::ListenArgs,
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
    let tls = listener::Listener::tls(&args.listen)?;
    let db = Database::open(config).await?;
    db.require_compatible_schema().await?;
    eio_core::identity::record_login(&db, "eio-serve").await;
    // Built while the server starts, so the first search finds it.
    eio_core::search::warm_in_background(&db);
    let login: String = sqlx::query_scalar("SELECT session_user::text").fetch_one(db.pool()).await?;

    let doc = openapi::build().map_err(Error::internal)?;
    let ui_dir = args.ui_dir.clone();
    match ui::source(ui_dir.as_deref()) {
        ui::Source::Embedded => eprintln!("eio serve: the UI built into this eio"),
        ui::Source::Directory(dir) => eprintln!("eio serve: the UI in {} (--ui-dir)", dir.display()),
        ui::Source::None => match &ui_dir {
            Some(dir) => eprintln!("eio serve: no built UI in {}: serving the API only", dir.display()),
            None => eprintln!("eio serve: this eio was built without the UI: serving the API only"),
        },
    }

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
        metrics: Default::default(),
        tls: tls.is_some(),
        trusted_proxies: args.trusted_proxies.clone(),
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

    // A user disabled anywhere: their sessions here end at once, streams included.
    let disabled_state = state.clone();
    let mut disabled_stop = stop.clone();
    let disabled = tokio::spawn(async move {
        tokio::select! {
            r = end_disabled_sessions(&disabled_state) => {
                if let Err(e) = r {
                    eprintln!("eio serve: a disabled user's sessions end at their next call ({})", e.message);
                }
            }
            _ = disabled_stop.changed() => {}
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

    let listener = listener::Listener::bind(args.bind, &args.listen, tls).await?;
    let addr = listener.local_addr()?;
    let scheme = listener.scheme();
    let app = http::router(state.clone(), ui_dir.as_deref());
    eprintln!("eio serve: {} as {login}", if embedded { "the embedded database" } else { "a shared database" });
    eprintln!(
        "eio serve: answers requests for {} (add the names clients use with --allowed-host)",
        listener.allowed_hosts()
    );
    // On stdout: where to connect (scripts and tests read the first line) and, on the
    // embedded default, the one link that signs a browser in (never logged).
    println!("EIO serves {scheme}://{addr}");
    if let Some(local) = &state.local {
        println!(
            "Open {scheme}://{addr}/?token={} to act as the local login {login} (the token changes at every start)",
            local.token
        );
        println!("Scripts: send the header 'Authorization: Bearer {}'", local.token);
    }

    let on_signal = stop_tx.clone();
    listener
        .serve(app, async move {
            job_cmds::shutdown_signal().await;
            eprintln!("eio serve: stopping");
            let _ = on_signal.send(true);
        })
        .await;
    let _ = stop_tx.send(true);
    let _ = relay.await;
    let _ = disabled.await;
    let _ = sweeper.await;
    if let Some(w) = worker {
        match w.await {
            Ok(Err(e)) => eprintln!("eio serve: the worker stopped with an error: {}", e.message),
            Err(e) => eprintln!("eio serve: the worker task failed: {e}"),
            Ok(Ok(())) => {}
        }
    }
    state.sessions.close_all().await;
    Ok(())
}

/// LISTEN on `eio_user_disabled` (sent when a user is disabled; it carries nothing) and end
/// the sessions of every login that is no longer an enabled EIO user, read back from the
/// database: a forged notification ends nothing.
async fn end_disabled_sessions(state: &http::AppState) -> Result<(), Error> {
    let pool = state.health.db.pool().clone();
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
    listener.listen("eio_user_disabled").await?;
    loop {
        if let Err(e) = listener.recv().await {
            // sqlx reconnects on the next recv; meanwhile the sweep finds lost sessions.
            tracing::warn!(error = %e, "user notifications interrupted");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        }
        let enabled = |logins: Vec<String>| async {
            sqlx::query_scalar("SELECT l FROM unnest($1::text[]) l WHERE is_enabled_eio_login(l)")
                .bind(logins)
                .fetch_all(&pool)
                .await
                .map_err(Error::from)
        };
        if let Err(e) = state.sessions.end_disabled(enabled).await {
            tracing::warn!(error = %e.message, "could not check which sessions a disabled user had");
        }
    }
}
