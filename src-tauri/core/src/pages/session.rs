//! The browser's sign-in page model: what `eio serve` answers on `/api/session`.
//!
//! A browser signs in with its user's own PostgreSQL login; the server connects as that
//! login and forgets the password. These types are shared with the UI (generated
//! TypeScript), so the sign-in page and the server can't disagree.
use eio_secret::Secret;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// How this browser's requests reach the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebSessionMode {
    /// Signed in with the user's own login.
    Session,
    /// No sign-in needed: the server runs on the embedded default on this machine only,
    /// and requests act as its local login.
    Local,
    /// Not signed in: every operation answers 401 until `POST /api/session`.
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct WebSession {
    pub mode: WebSessionMode,
    /// The PostgreSQL login requests act as (None when not signed in).
    pub login: Option<String>,
    /// Where sign-ins connect: `host:port/database` (never a password).
    pub database: String,
    /// Whether this server accepts sign-ins (the embedded default has no passwords to check).
    pub sign_in_available: bool,
}

/// A browser's sign-in: the user's own PostgreSQL login.
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct WebSignIn {
    pub username: String,
    #[ts(type = "string")]
    #[schemars(with = "String")]
    pub password: Secret,
}
