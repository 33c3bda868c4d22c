//! The HTTP adapter: one route per registered operation (GET from the query string, POST
//! from a JSON body, see [`super::query`]), the session endpoints, live events, the
//! OpenAPI document, and the UI. Each handler is a few lines over `eio_core::api`.
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, MethodRouter};
use axum::{Json, Router};
use eio_core::api::{self, HttpMethod, OperationSpec, Session, OPERATIONS};
use eio_core::config::{Config, DatabaseChoice, DatabaseUrl, UrlOrigin};
use eio_core::error::{ApiError, ErrorCode};
use eio_core::pages::live::{LiveEvent, LiveKind};
use eio_core::pages::session::{WebSession, WebSessionMode, WebSignIn};
use eio_core::Error;
use tokio::sync::{broadcast, watch};

use super::openapi::ApiDoc;
use super::sessions::{self, SessionStore};
use super::{metrics, query, ui};

pub struct AppState {
    pub config: Config,
    /// Where sign-ins connect (None on the embedded default: no sign-in there).
    pub sign_in_base: Option<DatabaseUrl>,
    /// The embedded default on loopback: the local login, reached only with the token
    /// printed at start (`/?token=…` opens a session; `Authorization: Bearer …` for scripts).
    pub local: Option<LocalAccess>,
    pub sessions: SessionStore,
    pub doc: ApiDoc,
    pub live: broadcast::Sender<LiveEvent>,
    /// Turns true when the server is stopping (ends the event streams).
    pub stopping: watch::Receiver<bool>,
    /// What `/readyz` checks: the server's own connection, and its worker pool.
    pub health: Health,
    /// HTTP request durations for `/metrics` (see [`metrics`]).
    pub metrics: metrics::HttpMetrics,
    /// Served over TLS (`--tls-cert`): session cookies are marked `Secure`.
    pub tls: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<sessions::ProxyNet>,
}

/// The instance's own view of its readiness (`/readyz`).
pub struct Health {
    /// The server's own connection (its login), not a user's.
    pub db: eio_core::Database,
    /// Whether this process runs a worker pool, and whether it still does.
    pub worker: WorkerHealth,
}

#[derive(Default)]
pub struct WorkerHealth {
    /// This process was started to run one (`--no-worker` not given).
    pub wanted: std::sync::atomic::AtomicBool,
    /// It runs now.
    pub running: std::sync::atomic::AtomicBool,
}

pub struct LocalAccess {
    pub session: Session,
    pub login: String,
    pub token: String,
}

impl AppState {
    /// Who a request acts as: its session, else the local login for a request carrying the
    /// start token. Nobody acts as the local login without it, loopback or not: any user or
    /// process of the machine can reach loopback.
    fn who(&self, headers: &HeaderMap) -> Option<(Session, String, WebSessionMode)> {
        if let Some(s) = self.sessions.get(headers) {
            let mode = if s.local { WebSessionMode::Local } else { WebSessionMode::Session };
            return Some((s.session.clone(), s.login.clone(), mode));
        }
        let local = self.local.as_ref()?;
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)?;
        sessions::same_secret(bearer, &local.token)
            .then(|| (local.session.clone(), local.login.clone(), WebSessionMode::Local))
    }

    /// If the request's session lost its database connection (they are never reopened:
    /// the password is forgotten), end it — its streams with it — and say to sign in again.
    async fn end_if_lost(&self, headers: &HeaderMap) -> Option<HttpError> {
        let s = self.sessions.get(headers)?;
        if !s.lost() {
            return None;
        }
        self.sessions.end(&s).await;
        Some(HttpError::new(StatusCode::UNAUTHORIZED, ErrorCode::Forbidden, sessions::SESSION_ENDED))
    }

    fn web_session(&self, headers: &HeaderMap) -> WebSession {
        let (login, mode) = match self.who(headers) {
            Some((_, login, mode)) => (Some(login), mode),
            None => (None, WebSessionMode::None),
        };
        let database = self.database_shown(!matches!(mode, WebSessionMode::None));
        WebSession { mode, login, database, sign_in_available: self.sign_in_base.is_some() }
    }

    /// Where sign-ins go, as the sign-in page says it: the database's name to anyone, its
    /// host and port only to people signed in (they are the network's inside, not the
    /// visitor's business).
    fn database_shown(&self, signed_in: bool) -> String {
        match &self.sign_in_base {
            Some(url) if signed_in => sessions::describe(url),
            Some(url) => url.connect_options().get_database().unwrap_or("eio").to_owned(),
            None => "the embedded database on this machine".into(),
        }
    }
}

/// An error as HTTP: a status for its code and `{"error": {"code", "message"}}`.
pub struct HttpError {
    status: StatusCode,
    error: ApiError,
}

impl HttpError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        HttpError { status, error: ApiError { code, message: message.into() } }
    }

    /// A request the server couldn't read (400).
    fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, message)
    }

    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden,
            "Sign in first: this server needs your own database login.",
        )
    }
}

/// The HTTP status of each error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Unavailable | ErrorCode::SchemaOutdated | ErrorCode::EmbeddedPostgres => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ErrorCode::Config | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ApiError> for HttpError {
    fn from(error: ApiError) -> Self {
        HttpError { status: status_of(error.code), error }
    }
}

impl From<Error> for HttpError {
    fn from(e: Error) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.error }))).into_response()
    }
}

pub fn router(state: Arc<AppState>, ui_dir: Option<&std::path::Path>) -> Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter<Arc<AppState>>> = BTreeMap::new();
    for op in OPERATIONS {
        let route = by_path.remove(op.path).unwrap_or_default();
        let route = match op.method {
            HttpMethod::Get => {
                route.get(move |State(st): State<Arc<AppState>>, headers: HeaderMap, uri: Uri| async move {
                    call(&st, op, &headers, query_input(&st, op, &uri)).await
                })
            }
            HttpMethod::Post => {
                route.post(move |State(st): State<Arc<AppState>>, headers: HeaderMap, body: Bytes| async move {
                    call(&st, op, &headers, json_body(&headers, &body)).await
                })
            }
        };
        by_path.insert(op.path, route);
    }
    let mut r = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/api/openapi.json", get(|State(st): State<Arc<AppState>>| async move { Json(st.doc.document.clone()) }))
        .route("/api/session", get(session_get).post(session_post).delete(session_delete))
        .route("/api/events", get(events))
        .route("/api/report-files/{execution}/{file}", get(report_file));
    for (path, route) in by_path {
        r = r.route(path, route);
    }
    r.route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .method_not_allowed_fallback(|| async {
            HttpError::new(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::InvalidInput, "this path takes another method")
        })
        .fallback_service(ui::service(ui_dir))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(axum::middleware::from_fn_with_state(state.clone(), start_token))
        .layer(axum::middleware::map_response(ui::security_headers))
        .with_state(state)
}

/// `/readyz`: 200 when the database answers, its schema is the one this build expects and
/// the worker pool (when this process runs one) is running; else 503 with the checks that
/// failed, in words an operator acts on (no addresses, logins or internal errors).
async fn readyz(State(st): State<Arc<AppState>>) -> Response {
    use std::sync::atomic::Ordering;
    let mut failed: Vec<String> = Vec::new();
    let state =
        tokio::time::timeout(std::time::Duration::from_secs(3), eio_core::db::schema_state(st.health.db.pool()));
    match state.await {
        Err(_) => failed.push("database: no answer within 3 s".into()),
        Ok(Err(_)) => failed.push("database: unreachable".into()),
        Ok(Ok(s)) if !s.unknown.is_empty() => {
            failed.push(format!("schema: {}; this instance takes no jobs", s.ahead_advice().unwrap_or_default()))
        }
        Ok(Ok(s)) if !s.pending.is_empty() => failed
            .push(format!("schema: behind this build ({} migration(s) pending): run `eio migrate`", s.pending.len())),
        Ok(Ok(_)) => {}
    }
    let worker = &st.health.worker;
    if worker.wanted.load(Ordering::Relaxed) && !worker.running.load(Ordering::Relaxed) {
        failed.push("worker: the worker pool of this instance is not running".into());
    }
    let status = if failed.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(serde_json::json!({ "ready": failed.is_empty(), "failed": failed }))).into_response()
}

/// `?token=…` on any GET (the link `eio serve` prints on the embedded default): the right
/// token opens a local session (cookie) and redirects to the same path without it; a wrong
/// one is refused. Other requests pass through.
async fn start_token(
    State(st): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(local) = &st.local else { return next.run(request).await };
    let query = request.uri().query().unwrap_or_default();
    let Some(given) = query.split('&').find_map(|pair| pair.strip_prefix("token=")) else {
        return next.run(request).await;
    };
    if !sessions::same_secret(given, &local.token) {
        return HttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden,
            "that token is not this server's: open the link `eio serve` printed when it started (it changes at every start)",
        )
        .into_response();
    }
    let id = match st.sessions.insert_local(local.session.clone(), local.login.clone()).await {
        Ok(id) => id,
        Err(e) => return HttpError::from(e).into_response(),
    };
    let rest: Vec<&str> = query.split('&').filter(|p| !p.starts_with("token=") && !p.is_empty()).collect();
    // One leading slash: `//evil.example` would be another site to the browser.
    let path = format!("/{}", request.uri().path().trim_start_matches(['/', '\\']));
    let target = if rest.is_empty() { path } else { format!("{path}?{}", rest.join("&")) };
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, target)]).into_response();
    if let Ok(v) = HeaderValue::from_str(&sessions::set_cookie(&id, st.tls)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

async fn api_not_found(uri: Uri) -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no API at {}", uri.path()))
}

fn query_input(st: &AppState, op: &OperationSpec, uri: &Uri) -> Result<serde_json::Value, HttpError> {
    let shape = st.doc.query_shapes.get(op.name).cloned().unwrap_or_default();
    query::parse(uri.query(), &shape).map_err(HttpError::malformed)
}

/// A state-changing request's body: JSON, sent as JSON. The content type is required even
/// for an empty body (which counts as `{}`): a form or `text/plain` post is what another
/// site can make a browser send without asking, so it never passes as an empty input.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<serde_json::Value, HttpError> {
    if !is_json(headers) {
        return Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidInput,
            "send changes as JSON (Content-Type: application/json), even with an empty body",
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| HttpError::malformed(format!("the body is not JSON: {e}")))
}

/// Does the request say its body is JSON (`application/json` or `application/*+json`)?
fn is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(|m| {
        let m = m.trim().to_ascii_lowercase();
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
    })
}

async fn call(
    st: &AppState,
    op: &OperationSpec,
    headers: &HeaderMap,
    input: Result<serde_json::Value, HttpError>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let (session, _, _) = st.who(headers).ok_or_else(HttpError::unauthorized)?;
    if matches!(op.method, HttpMethod::Post) && !same_origin(headers) {
        return Err(other_origin());
    }
    let input = input?;
    if let Some(ended) = st.end_if_lost(headers).await {
        return Err(ended);
    }
    match api::dispatch(&session, op.name, input).await {
        Ok(v) => Ok(Json(v)),
        Err(e) => Err(st.end_if_lost(headers).await.unwrap_or_else(|| e.into())),
    }
}

/// A refused or failed sign-in as HTTP: the one refusal (401) whatever the reason, the
/// gate's 429 with `Retry-After`, or 503 when the server can't check sign-ins now.
fn sign_in_refused() -> HttpError {
    HttpError::new(StatusCode::UNAUTHORIZED, ErrorCode::Forbidden, sessions::SIGN_IN_REFUSED)
}

fn sign_in_later(wait: std::time::Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut response = HttpError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable,
        format!(
            "too many sign-ins failed or are running for this login or from this address: try again in {secs} s \
             (ask an admin if you forgot your password)"
        ),
    )
    .into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// Who a request came from, for the sign-in limits: the peer the listener recorded, or
/// behind a trusted proxy the client it forwarded for ([`sessions::client_key`]); one
/// shared "unknown" bucket when it isn't known.
fn client_of(st: &AppState, extensions: &axum::http::Extensions, headers: &HeaderMap) -> String {
    let peer = extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    sessions::client_key(peer, headers, &st.trusted_proxies)
}

/// Did a browser send this from this server's own pages? Cookies don't tell ports apart, so
/// a page served on another port of the same host would otherwise act with this server's
/// session. Browsers say where a request comes from (`Sec-Fetch-Site`, else `Origin`);
/// clients that say neither (scripts, the CLI's HTTP peers) are judged by their credentials.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase);
    if let Some(site) = text("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => origin == format!("http://{host}") || origin == format!("https://{host}"),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

async fn session_get(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Json<WebSession> {
    Json(st.web_session(&headers))
}

async fn session_post(
    State(st): State<Arc<AppState>>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let started = tokio::time::Instant::now();
    let Some(base) = &st.sign_in_base else {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInput,
            "this server runs on the embedded database, which has no passwords to check: there is no sign-in; \
             open the link `eio serve` printed when it started (it carries this start's token)",
        ));
    };
    if !same_origin(&headers) {
        return Err(other_origin());
    }
    let value = json_body(&headers, &body)?;
    // The body holds the password: gone now (zeroed if this was its only reference; see
    // the module docs of `sessions` for the copies hyper keeps).
    match body.try_into_mut() {
        Ok(mut only) => zeroize::Zeroize::zeroize(&mut only[..]),
        Err(shared) => drop(shared),
    }
    // Not serde's words: they quote the value they refused, which may be the password.
    let input: WebSignIn = serde_json::from_value(value).map_err(|_| {
        HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInput,
            "a sign-in is {\"username\": \"…\", \"password\": \"…\"}, both strings",
        )
    })?;
    let login = input.username.trim().to_owned();
    if login.is_empty() || login.len() > 63 || login.chars().any(char::is_control) {
        return Err(HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInput,
            "the login is your database login: 1 to 63 characters, no control characters",
        ));
    }
    let client = client_of(&st, &extensions, &headers);
    let permit = match st.sessions.begin_sign_in(&client, &login) {
        Ok(p) => p,
        Err(wait) => {
            tracing::info!(%login, %client, "sign-in refused: too many failed or running sign-ins");
            return Ok(sign_in_later(wait));
        }
    };
    let origin = match &st.config.database {
        DatabaseChoice::External { origin, .. } => origin.clone(),
        DatabaseChoice::Embedded => UrlOrigin::CommandLineOrEnvironment,
    };
    let db = match sessions::connect(&st.health.db, base, origin, &login, input.password).await {
        Ok(db) => db,
        Err(sessions::SignInFailure::Refused(reason)) => {
            permit.failed();
            tracing::info!(%login, %client, reason, "sign-in refused");
            // Every refusal takes as long, whether it tried a connection or not.
            tokio::time::sleep_until(started + sessions::REFUSAL_FLOOR).await;
            return Err(sign_in_refused());
        }
        Err(sessions::SignInFailure::Unavailable(reason)) => {
            drop(permit);
            tracing::warn!(%login, %client, %reason, "sign-in not possible");
            return Err(HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "signing in is not possible right now: this server can't reach its database or check logins; \
                 try again later, or ask an admin to look at the server's log",
            ));
        }
        Err(sessions::SignInFailure::Other(e)) => return Err(e.into()),
    };
    permit.succeeded();
    st.sessions.remove(&headers).await;
    let id = st.sessions.insert(Session::new(db.clone()), login.clone()).await.map_err(|e| {
        tokio::spawn(async move { db.pool().close().await });
        HttpError::from(e)
    })?;
    tracing::info!(%login, %client, "signed in");
    let mut response = Json(WebSession {
        mode: WebSessionMode::Session,
        login: Some(login),
        database: st.database_shown(true),
        sign_in_available: true,
    })
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&sessions::set_cookie(&id, st.tls)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// Sign out: the session ends at once — its connections close, its event streams end. Only
/// from this server's own pages (or a client that names no origin), as every change.
async fn session_delete(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, HttpError> {
    if !same_origin(&headers) {
        return Err(other_origin());
    }
    st.sessions.remove(&headers).await;
    let mut response = Json(st.web_session(&HeaderMap::new())).into_response();
    if let Ok(v) = HeaderValue::from_str(&sessions::clear_cookie(st.tls)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

fn other_origin() -> HttpError {
    HttpError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
        "a change must come from this server's own pages (the request came from another origin)",
    )
}

fn kind_name(kind: LiveKind) -> &'static str {
    match kind {
        LiveKind::Job => "job",
        LiveKind::JobEvent => "job_event",
        LiveKind::Approval => "approval",
        LiveKind::KillSwitch => "kill_switch",
        LiveKind::Inventory => "inventory",
        LiveKind::Resync => "resync",
    }
}

fn sse_event(e: &LiveEvent) -> Event {
    Event::default().event(kind_name(e.kind)).data(serde_json::to_string(e).unwrap_or_else(|_| "{}".into()))
}

/// A report file as a download (the browser's counterpart of the desktop's Open and Save
/// as…): only what `openable_path` allows, the same rule the desktop's opener follows: a
/// file an execution this login may see recorded, still there, inside the reports folder
/// or an admin-allowed one, with its format's extension. Always an attachment, never shown
/// on this origin (an HTML report is somebody's data).
async fn report_file(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Path((execution, file)): axum::extract::Path<(String, String)>,
) -> Result<Response, HttpError> {
    let (session, _, _) = st.who(&headers).ok_or_else(HttpError::unauthorized)?;
    if let Some(ended) = st.end_if_lost(&headers).await {
        return Err(ended);
    }
    let execution_id = execution
        .parse::<uuid::Uuid>()
        .map_err(|_| HttpError::malformed(format!("\"{execution}\" is not a report execution id")))?;
    let file = file.parse::<u32>().map_err(|_| HttpError::malformed(format!("\"{file}\" is not a file number")))?;
    let input = eio_core::reports::ops::OpenReportInput { execution_id, folder: false, file: Some(file) };
    // The same rule as the desktop's opener, said without the server's paths.
    let path = eio_core::reports::ops::openable_path(&session, &input).await.map_err(|e| {
        match e.code {
        ErrorCode::Forbidden => Error::forbidden(
            "this report file is not served: it is outside the reports folder and the report folders an admin allowed, \
             or not a file of the report's format",
        ),
        ErrorCode::NotFound if e.message.contains(" is not on this machine") => Error::not_found(
            "this report file is not on this server: it was moved or deleted, or the report ran on another machine",
        ),
        _ => e,
    }
    })?;
    let bytes =
        tokio::fs::read(&path).await.map_err(|_| Error::not_found("this report file can't be read on this server"))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    let content_type = match path.extension().and_then(|x| x.to_str()) {
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    let headers = [
        (header::CONTENT_TYPE, content_type.to_string()),
        (header::CONTENT_DISPOSITION, attachment(&name)),
        (header::CACHE_CONTROL, "private, no-store".to_string()),
    ];
    Ok((headers, bytes).into_response())
}

/// `Content-Disposition: attachment` naming `name`: an ASCII fallback and the UTF-8 form
/// (RFC 6266), neither able to break out of the header.
pub(crate) fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' { c } else { '_' })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Live updates: `ready` once subscribed, then one event per change until the server stops
/// or the session ends (sign-out, a lost connection, idleness): a stream never outlives
/// the session it was opened with.
async fn events(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, HttpError> {
    st.who(&headers).ok_or_else(HttpError::unauthorized)?;
    // A stream uses no connection of its session, so a lost one shows only when tried:
    // ping it, and a session whose connections were lost signs in again.
    if let Some(s) = st.sessions.get(&headers) {
        s.answers().await;
    }
    if let Some(ended) = st.end_if_lost(&headers).await {
        return Err(ended);
    }
    let ended = st.sessions.get(&headers).map(|s| s.ended());
    let rx = st.live.subscribe();
    let stopping = st.stopping.clone();
    let ready = futures::stream::once(async { Ok::<_, Infallible>(Event::default().event("ready").data("{}")) });
    let changes = futures::stream::unfold((rx, stopping, ended), |(mut rx, mut stopping, mut ended)| async move {
        if *stopping.borrow() || ended.as_ref().is_some_and(|e| *e.borrow()) {
            return None;
        }
        let event = tokio::select! {
            r = rx.recv() => match r {
                Ok(e) => sse_event(&e),
                Err(broadcast::error::RecvError::Lagged(_)) => sse_event(&LiveEvent::resync()),
                Err(broadcast::error::RecvError::Closed) => return None,
            },
            _ = stopping.changed() => return None,
            _ = session_ended(&mut ended) => return None,
        };
        Some((Ok::<_, Infallible>(event), (rx, stopping, ended)))
    });
    Ok(Sse::new(futures::StreamExt::chain(ready, changes)).keep_alive(KeepAlive::default()).into_response())
}

/// Resolves when the session ends (or is gone); never for a request without a session
/// (a script with the start token: it ends with the server).
async fn session_ended(ended: &mut Option<watch::Receiver<bool>>) {
    match ended {
        Some(rx) => {
            let _ = rx.wait_for(|e| *e).await;
        }
        None => std::future::pending::<()>().await,
    }
}

#[cfg(test)]
mod tests {
    use super::attachment;

    #[test]
    fn a_file_name_never_breaks_out_of_its_header() {
        assert_eq!(attachment("vinfo.xlsx"), "attachment; filename=\"vinfo.xlsx\"; filename*=UTF-8''vinfo.xlsx");
        let hostile = "a\"b\\c\r\nSet-Cookie: x=1;é.csv";
        let header = attachment(hostile);
        assert!(axum::http::HeaderValue::from_str(&header).is_ok(), "{header}");
        assert!(!header.contains('\r') && !header.contains('\n'), "{header}");
        assert_eq!(
            header,
            "attachment; filename=\"a_b_c__Set-Cookie: x=1;_.csv\"; \
             filename*=UTF-8''a%22b%5Cc%0D%0ASet-Cookie%3A%20x%3D1%3B%C3%A9.csv"
        );
    }
}
