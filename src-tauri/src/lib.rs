//! # eio-desktop — the Tauri shell
//!
//! A window onto the shared EIO database, a tray icon, and nothing else of substance:
//! every domain command is a one-line adapter over `eio_core::api` (`eio_call`), the
//! same registry the HTTP API serves and the TypeScript client is generated from. The
//! only state of its own is the sign-in: which database, and the user's own session
//! (`connection_state`, `sign_in`, `sign_out`, over `eio_core::connection`).
//!
//! While a session is open, [`live`] relays the database's notifications to the window
//! (`eio://live` events), keeps the tray's approval badge current and raises desktop
//! notifications for the user's approvals and jobs.
//!
//! The shell knows nothing of the domain, never stores a password (the keyring does, if
//! the user asks), and never refuses to open its window: a database it can't reach is
//! shown on the sign-in page with the reason.
use eio_core::api::{NoInput, Session};
use eio_core::config::{Config, Overrides};
use eio_core::connection::{self, ConnectionState, SignInInput};
use eio_core::error::ApiError;
use eio_core::identity::keystore;
use tauri::{Manager, Runtime};

pub mod live;
mod tray;
mod workers;

/// The configuration and, once signed in, the session.
pub struct AppState {
    inner: tokio::sync::Mutex<Inner>,
    /// The open session (None: signed out), for the live-update relay to follow.
    sessions: tokio::sync::watch::Sender<Option<Session>>,
}

struct Inner {
    config: Result<Config, ApiError>,
    session: Option<Session>,
    /// None until the saved settings have been tried once.
    state: Option<ConnectionState>,
}

impl AppState {
    /// Resume with `config` (the saved address and keyring) on the first call.
    pub fn new(config: Result<Config, ApiError>) -> Self {
        AppState {
            inner: tokio::sync::Mutex::new(Inner { config, session: None, state: None }),
            sessions: tokio::sync::watch::channel(None).0,
        }
    }

    /// An already open session (tests).
    pub fn with_session(config: Config, session: Session) -> Self {
        let mut state = ConnectionState::disconnected(&config, None);
        state.connected = true;
        AppState {
            sessions: tokio::sync::watch::channel(Some(session.clone())).0,
            inner: tokio::sync::Mutex::new(Inner { config: Ok(config), session: Some(session), state: Some(state) }),
        }
    }

    async fn started(&self) -> tokio::sync::MutexGuard<'_, Inner> {
        let mut inner = self.inner.lock().await;
        if inner.state.is_none() {
            match &inner.config {
                Ok(config) => {
                    let (db, state) = connection::resume(config).await;
                    if let Some(db) = &db {
                        eio_core::identity::record_login(db, "eio-desktop").await;
                    }
                    inner.session = match db {
                        Some(db) => Some(local_session(config, db).await),
                        None => None,
                    };
                    inner.state = Some(state);
                    self.sessions.send_replace(inner.session.clone());
                }
                Err(e) => {
                    let fallback = Config::load(Overrides::default()).ok();
                    inner.state = fallback.map(|c| ConnectionState::disconnected(&c, Some(e.clone())));
                }
            }
        }
        inner
    }

    /// Follow the open session (the live-update relay does).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Option<Session>> {
        self.sessions.subscribe()
    }

    async fn session(&self) -> Result<Session, ApiError> {
        let inner = self.started().await;
        if let Some(s) = &inner.session {
            return Ok(s.clone());
        }
        if let Err(e) = &inner.config {
            return Err(e.clone());
        }
        Err(inner
            .state
            .as_ref()
            .and_then(|s| s.error.clone())
            .unwrap_or_else(|| eio_core::Error::forbidden("not signed in").into()))
    }
}

/// Run a registered operation by name. Errors reach the page as `{code, message}`;
/// internal details stay in the log.
#[tauri::command(async)]
async fn eio_call(
    state: tauri::State<'_, AppState>,
    op: String,
    input: Option<serde_json::Value>,
) -> Result<serde_json::Value, ApiError> {
    let session = state.session().await?;
    eio_core::api::dispatch(&session, &op, input.unwrap_or(serde_json::Value::Null)).await
}

#[tauri::command(async)]
async fn connection_state(state: tauri::State<'_, AppState>) -> Result<ConnectionState, ApiError> {
    let inner = state.started().await;
    match (&inner.state, &inner.config) {
        (Some(s), _) => Ok(s.clone()),
        (None, Err(e)) => Err(e.clone()),
        (None, Ok(c)) => Ok(ConnectionState::disconnected(c, None)),
    }
}

/// The window's session: with this machine's worker key when it has one, so the window
/// can test and reseal credentials here (the local workers load the same key).
async fn local_session(config: &Config, db: eio_core::Database) -> Session {
    // The search index is built while the window draws, so the first search finds it.
    eio_core::search::warm_in_background(&db);
    match keystore::load(&keystore::locate(config, None)).await {
        Ok(key) => Session::new(db).with_worker_key(key),
        Err(_) => Session::new(db),
    }
}

#[tauri::command(async)]
async fn sign_in(state: tauri::State<'_, AppState>, input: SignInInput) -> Result<ConnectionState, ApiError> {
    let mut inner = state.started().await;
    let config = inner.config.clone()?;
    let (next, db, connected) = connection::sign_in(&config, input).await.map_err(ApiError::from)?;
    eio_core::identity::record_login(&db, "eio-desktop").await;
    let session = local_session(&next, db).await;
    if let Some(old) = inner.session.replace(session) {
        old.db.pool().close().await;
    }
    state.sessions.send_replace(inner.session.clone());
    inner.config = Ok(next);
    inner.state = Some(connected.clone());
    Ok(connected)
}

#[tauri::command(async)]
async fn sign_out(state: tauri::State<'_, AppState>, _input: Option<NoInput>) -> Result<ConnectionState, ApiError> {
    let mut inner = state.started().await;
    if let Some(old) = inner.session.take() {
        old.db.pool().close().await;
    }
    state.sessions.send_replace(None);
    let config = inner.config.clone()?;
    let signed_out = ConnectionState::disconnected(&config, None);
    inner.state = Some(signed_out.clone());
    Ok(signed_out)
}

/// Open a recorded report file (or its folder) with the desktop's default application
/// (`xdg-open`). Only a file an execution recorded and this session may see, while it exists.
#[tauri::command(async)]
async fn open_report(
    state: tauri::State<'_, AppState>,
    input: eio_core::reports::ops::OpenReportInput,
) -> Result<eio_core::reports::ops::OpenedReport, ApiError> {
    let session = state.session().await?;
    let path = eio_core::reports::ops::openable_path(&session, &input).await?;
    let mut child = std::process::Command::new("xdg-open").arg(&path).spawn().map_err(|e| {
        ApiError::from(eio_core::Error::invalid(format!(
            "cannot open {} (is xdg-open installed?): {e}",
            path.display()
        )))
    })?;
    // Reap it when it exits (it hands the file over and ends).
    std::thread::spawn(move || child.wait());
    Ok(eio_core::reports::ops::OpenedReport { path: path.display().to_string() })
}

/// "Save as…": a copy of a recorded report file where the operator chooses in the system's
/// save dialog (Tauri's dialog plugin). The file is the one `open_report` would open (the
/// same rule), the dialog offers its name and format, and the copy goes through a
/// temporary file beside the target. None when the dialog was cancelled.
#[tauri::command(async)]
async fn save_report<R: Runtime>(
    app: tauri::AppHandle<R>,
    state: tauri::State<'_, AppState>,
    input: eio_core::reports::ops::OpenReportInput,
) -> Result<eio_core::reports::ops::SavedReport, ApiError> {
    use tauri_plugin_dialog::DialogExt;
    let session = state.session().await?;
    let input = eio_core::reports::ops::OpenReportInput { folder: false, ..input };
    let from = eio_core::reports::ops::openable_path(&session, &input).await?;
    let name = from.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let extension = from.extension().map(|x| x.to_string_lossy().into_owned()).unwrap_or_default();
    let mut dialog = app.dialog().file().set_title("Save the report as").set_file_name(&name);
    if !extension.is_empty() {
        dialog = dialog.add_filter(format!("{} report", extension.to_uppercase()), &[extension.as_str()]);
    }
    let chosen = tauri::async_runtime::spawn_blocking(move || dialog.blocking_save_file())
        .await
        .map_err(|e| ApiError::from(eio_core::Error::internal(format!("the save dialog failed: {e}"))))?;
    let Some(chosen) = chosen else { return Ok(eio_core::reports::ops::SavedReport { path: None }) };
    let to = chosen
        .into_path()
        .map_err(|e| ApiError::from(eio_core::Error::invalid(format!("the dialog chose no local file: {e}"))))?;
    eio_core::reports::ops::save_copy(&from, &to)?;
    tracing::info!(from = %from.display(), to = %to.display(), "report saved");
    Ok(eio_core::reports::ops::SavedReport { path: Some(to.display().to_string()) })
}

/// The demo lab runs at most once per desktop process.
static DEMO_STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// "Try the demo lab": on the embedded default, start the lab simulators in this process
/// and set EIO up on them exactly as `eio demo` does (sources over real HTTPS, first sync,
/// sites and prefixes, findings, a job awaiting approval); the lab keeps living until the
/// app closes. Refused on a shared database: the demo never writes into a real estate's.
#[tauri::command(async)]
async fn start_demo(
    state: tauri::State<'_, AppState>,
    _input: Option<eio_core::api::NoInput>,
) -> Result<ConnectionState, ApiError> {
    let config = {
        let inner = state.started().await;
        inner.config.clone()?
    };
    if !matches!(config.database, eio_core::config::DatabaseChoice::Embedded) {
        return Err(eio_core::Error::invalid(
            "the demo lab runs on the embedded default database only; this desktop uses a shared database",
        )
        .into());
    }
    if DEMO_STARTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return Err(eio_core::Error::invalid("the demo lab is already running in this window").into());
    }
    let options = eio_demo::DemoOptions { worker_mode: "desktop", ..Default::default() };
    let demo = match eio_demo::Demo::start(&config, options, |step| tracing::info!(step, "demo lab")).await {
        Ok(d) => d,
        Err(e) => {
            DEMO_STARTED.store(false, std::sync::atomic::Ordering::SeqCst);
            return Err(e.into());
        }
    };
    tauri::async_runtime::spawn(async move {
        if let Err(e) = demo.run_until(std::future::pending::<()>(), |event| tracing::info!(event, "demo lab")).await {
            tracing::warn!(error = %e.message, "the demo lab stopped");
        }
    });
    let inner = state.started().await;
    Ok(inner.state.clone().unwrap_or_else(|| ConnectionState::disconnected(&config, None)))
}

/// The window is closing: the demo lab it ran goes with it, so pause the lab's sources
/// (the next "Try the demo lab" resumes them). Bounded, so closing never hangs.
fn pause_demo_sources<R: Runtime>(handle: &tauri::AppHandle<R>) {
    if !DEMO_STARTED.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let state = handle.state::<AppState>();
    tauri::async_runtime::block_on(async {
        let inner = state.inner.lock().await;
        if let Some(session) = &inner.session {
            let pause = eio_core::sources::set_demo_lab_enabled(&session.db, false);
            match tokio::time::timeout(std::time::Duration::from_secs(5), pause).await {
                Ok(Ok(n)) => tracing::info!(paused = n, "demo lab stopped: its sources are paused"),
                Ok(Err(e)) => tracing::warn!(error = %e.message, "could not pause the demo lab's sources"),
                Err(_) => tracing::warn!("pausing the demo lab's sources took too long"),
            }
        }
    });
}

/// Register the shell's state and commands on a builder (the app, or a test's mock).
pub fn register<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder.plugin(tauri_plugin_dialog::init()).manage(state).invoke_handler(tauri::generate_handler![
        eio_call,
        connection_state,
        sign_in,
        sign_out,
        open_report,
        save_report,
        start_demo
    ])
}

/// glibc gives each thread that contends for the heap an arena of its own, up to eight per
/// core, and keeps what is freed in each: the local workers parse sync answers in tokio's
/// threads, where the sync benchmark found the arena count matters. Two arenas, set before
/// any thread starts (1–2 MiB less PSS for the window with 10k VMs and no sync running,
/// tests/ui/bench/first-data.mjs). WebKit's processes keep glibc's default (no difference).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets a parameter of the allocator; no other thread exists yet.
    if unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) } != 1 {
        tracing::warn!("could not limit malloc arenas (mallopt M_ARENA_MAX)");
    }
}

pub fn run() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EIO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    limit_malloc_arenas();

    let config = Config::load(Overrides::from_env()).map_err(ApiError::from);
    if let Err(e) = &config {
        tracing::error!(error = %e, "configuration problem; the window will show it");
    }
    let worker_config = config.as_ref().ok().cloned();
    let app = register(tauri::Builder::default(), AppState::new(config))
        .setup(move |app| {
            // A missing tray host or indicator library must not stop the app.
            if let Err(e) = tray::install(app.handle()) {
                tracing::warn!(error = %e, "no tray icon");
            }
            live::spawn(app.handle().clone(), app.state::<AppState>().subscribe());
            workers::spawn(worker_config.clone(), app.state::<AppState>().subscribe());
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|handle, event| {
            if let tauri::RunEvent::Exit = event {
                pause_demo_sources(handle);
            }
        }),
        Err(e) => {
            eprintln!("EIO could not start its window: {e}");
            std::process::exit(1);
        }
    }
}
