//! Browser sessions. A browser signs in with its user's own PostgreSQL login: the server
//! connects to its configured database host/port/database as that login (a small pool per
//! session) and forgets the password at once — it is never stored, logged or echoed. The
//! browser gets an opaque random id in an HttpOnly, SameSite=Strict cookie; the database
//! then judges every call by the user's own grants and row-level security.
//!
//! Sessions live in memory: a restart signs everybody out. Idle ones close after
//! [`IDLE_TIMEOUT`].
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use eio_core::api::Session;
use eio_core::config::{Config, DatabaseChoice, DatabaseUrl, UrlOrigin};
use eio_core::pages::session::WebSignIn;
use eio_core::{Database, Error};

/// The session cookie's name.
pub const COOKIE: &str = "eio_session";
/// A session unused this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// At most this many open sessions (each holds database connections).
pub const MAX_SESSIONS: usize = 500;

pub struct WebSession {
    pub session: Session,
    pub login: String,
    /// Opened with the embedded default's start token: it shares the server's own pool
    /// (never closed with the session) and acts as the local login.
    pub local: bool,
    last_used: Mutex<Instant>,
}

impl WebSession {
    async fn close(&self) {
        if !self.local {
            self.session.db.pool().close().await;
        }
    }
}

#[derive(Default)]
pub struct SessionStore {
    inner: Mutex<HashMap<String, std::sync::Arc<WebSession>>>,
}

impl SessionStore {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, std::sync::Arc<WebSession>>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session a request's cookie names, if it is open (and mark it used).
    pub fn get(&self, headers: &HeaderMap) -> Option<std::sync::Arc<WebSession>> {
        let id = cookie(headers)?;
        let s = self.map().get(&id).cloned()?;
        *s.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        Some(s)
    }

    pub fn insert(&self, session: Session, login: String) -> Result<String, Error> {
        self.insert_as(session, login, false)
    }

    /// A session of the local login, opened with the start token (see [`WebSession::local`]).
    pub fn insert_local(&self, session: Session, login: String) -> Result<String, Error> {
        self.insert_as(session, login, true)
    }

    fn insert_as(&self, session: Session, login: String, local: bool) -> Result<String, Error> {
        let id = new_id()?;
        let mut map = self.map();
        if map.len() >= MAX_SESSIONS {
            return Err(Error::new(
                eio_core::error::ErrorCode::Unavailable,
                "this server has too many open sessions; try again later",
            ));
        }
        map.insert(
            id.clone(),
            std::sync::Arc::new(WebSession { session, login, local, last_used: Mutex::new(Instant::now()) }),
        );
        Ok(id)
    }

    /// Remove the session a request's cookie names; its connections close.
    pub async fn remove(&self, headers: &HeaderMap) {
        let removed = cookie(headers).and_then(|id| self.map().remove(&id));
        if let Some(s) = removed {
            s.close().await;
        }
    }

    /// Close sessions idle for longer than `idle`.
    pub async fn sweep(&self, idle: Duration) {
        let expired: Vec<std::sync::Arc<WebSession>> = {
            let mut map = self.map();
            let old: Vec<String> = map
                .iter()
                .filter(|(_, s)| s.last_used.lock().unwrap_or_else(|p| p.into_inner()).elapsed() > idle)
                .map(|(k, _)| k.clone())
                .collect();
            old.iter().filter_map(|k| map.remove(k)).collect()
        };
        for s in expired {
            tracing::info!(login = %s.login, "closing an idle session");
            s.close().await;
        }
    }

    pub async fn close_all(&self) {
        let all: Vec<_> = self.map().drain().map(|(_, s)| s).collect();
        for s in all {
            s.close().await;
        }
    }
}

/// The embedded default's start token: 256 random bits, hex, new at every start.
pub fn new_token() -> Result<String, Error> {
    new_id()
}

/// Equal, in a time that doesn't depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 256 random bits, hex.
fn new_id() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness for a session id: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The session id from the request's `Cookie` header.
pub fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub fn set_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict")
}

pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Connect as the signing-in user to the database `base` points at (its host, port,
/// database and TLS settings; its login and password are replaced). The password is
/// used for this connection only and dropped with `input`.
pub async fn connect(base: &DatabaseUrl, config: &Config, input: WebSignIn) -> Result<(Database, String), Error> {
    let login = input.username.trim().to_owned();
    if login.is_empty() || login.len() > 63 || login.chars().any(|c| c.is_control()) {
        return Err(Error::invalid("the login is a PostgreSQL role name: 1 to 63 characters, no control characters"));
    }
    let mut url = url::Url::parse(base.expose()).map_err(|e| Error::internal(format!("server database URL: {e}")))?;
    url.set_username(&login).map_err(|_| Error::invalid("that login can't be used in a database address"))?;
    let _ = url.set_password(None);
    let user_url = DatabaseUrl::parse(url.as_str()).map_err(|e| Error::invalid(e.message))?;
    let user_config = Config {
        database: DatabaseChoice::External { url: user_url, origin: UrlOrigin::CommandLineOrEnvironment },
        ..config.clone()
    };
    let db = Database::open_with_password(&user_config, Some(&input.password)).await.map_err(|e| {
        if e.code == eio_core::error::ErrorCode::Config {
            Error::invalid(e.message)
        } else {
            e
        }
    })?;
    drop(input);
    if let Err(e) = db.require_current_schema().await {
        db.pool().close().await;
        return Err(e);
    }
    eio_core::identity::record_login(&db, "eio-serve").await;
    Ok((db, login))
}

/// `host:port/database` of a URL, for showing where sign-ins go.
pub fn describe(url: &DatabaseUrl) -> String {
    let o = url.connect_options();
    format!("{}:{}/{}", o.get_host(), o.get_port(), o.get_database().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_and_checked() {
        let id = new_id().unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(id, new_id().unwrap());
        let mut h = HeaderMap::new();
        h.insert("cookie", format!("theme=dark; {COOKIE}={id}; other=1").parse().unwrap());
        assert_eq!(cookie(&h), Some(id));
        let mut bad = HeaderMap::new();
        bad.insert("cookie", format!("{COOKIE}=../../etc").parse().unwrap());
        assert_eq!(cookie(&bad), None);
        assert!(set_cookie("ab").contains("HttpOnly") && set_cookie("ab").contains("SameSite=Strict"));
    }
}
