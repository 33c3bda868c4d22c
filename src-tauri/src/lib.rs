//! # eio-desktop — the Tauri shell
//!
//! A window onto the shared EIO database, a tray icon, and nothing else of substance:
//! every command is a one-line adapter over `eio_core::api`, the same registry the HTTP
//! API serves and the TypeScript client is generated from. The shell knows nothing of
//! the domain and never holds more than the user's own database session.
//!
//! Failure to reach the database never stops the window from opening: every call then
//! answers with the error (code + sentence) and the page says what to do.
use eio_core::api::Session;
use eio_core::config::{Config, Overrides};
use eio_core::error::ApiError;
use eio_core::Database;
use tauri::Runtime;

mod tray;

/// What the shell keeps between calls: the configuration and, once connected, the session.
pub struct AppState {
    config: Result<Config, ApiError>,
    session: tokio::sync::OnceCell<Session>,
}

impl AppState {
    /// Connect lazily with `config` on the first call.
    pub fn new(config: Result<Config, ApiError>) -> Self {
        AppState { config, session: tokio::sync::OnceCell::new() }
    }

    /// Use an already open session (tests, and a future login screen).
    pub fn with_session(session: Session) -> Self {
        let cell = tokio::sync::OnceCell::new();
        let _ = cell.set(session.clone());
        AppState { config: Err(ApiError::from(eio_core::Error::config("session given directly"))), session: cell }
    }

    async fn session(&self) -> Result<&Session, ApiError> {
        self.session
            .get_or_try_init(|| async {
                let config = self.config.clone()?;
                let db = Database::open(&config).await.map_err(ApiError::from)?;
                Ok(Session::new(db))
            })
            .await
    }
}

/// The one command: run a registered operation by name. Errors reach the page as
/// `{code, message}`; internal details stay in the log.
#[tauri::command(async)]
async fn eio_call(
    state: tauri::State<'_, AppState>,
    op: String,
    input: Option<serde_json::Value>,
) -> Result<serde_json::Value, ApiError> {
    let session = state.session().await?;
    eio_core::api::dispatch(session, &op, input.unwrap_or(serde_json::Value::Null)).await
}

/// Register the shell's state and commands on a builder (the app, or a test's mock).
pub fn register<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder.manage(state).invoke_handler(tauri::generate_handler![eio_call])
}

pub fn run() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EIO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();

    let config = Config::load(Overrides::from_env()).map_err(ApiError::from);
    if let Err(e) = &config {
        tracing::error!(error = %e, "configuration problem; the window will show it");
    }
    let result = register(tauri::Builder::default(), AppState::new(config))
        .setup(|app| {
            // A missing tray host or indicator library must not stop the app.
            if let Err(e) = tray::install(app.handle()) {
                tracing::warn!(error = %e, "no tray icon");
            }
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("EIO could not start its window: {e}");
        std::process::exit(1);
    }
}
