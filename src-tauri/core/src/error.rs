//! The one error type of the service layer, and what adapters show of it.
//!
//! Every error carries a [`ErrorCode`] the UI can act on and a sentence a human can read.
//! Database errors are classified by SQLSTATE: the rules enforced in PostgreSQL (grants,
//! four eyes, legal job transitions, named constraints) already raise clear messages,
//! so those messages are passed through. Anything unexpected becomes `internal`, and
//! adapters show "Something went wrong" while the details go to the log ([`ApiError`]).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure this is, for a UI or script to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The database refused: the login lacks the role, capability or row rights.
    Forbidden,
    NotFound,
    /// A uniqueness rule or the current state of the object forbids it.
    Conflict,
    InvalidInput,
    /// The database can't be reached (down, wrong address, wrong password).
    Unavailable,
    /// The database schema is older (or newer) than this build expects.
    SchemaOutdated,
    /// The embedded PostgreSQL couldn't be created or started.
    EmbeddedPostgres,
    /// The configuration file or flags are wrong.
    Config,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::SchemaOutdated => "schema_outdated",
            ErrorCode::EmbeddedPostgres => "embedded_postgres",
            ErrorCode::Config => "config",
            ErrorCode::Internal => "internal",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), source: None }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Config, message)
    }
    pub fn embedded(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::EmbeddedPostgres, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// Prefix the message with what was being done ("connecting to …: <message>").
    pub fn context(mut self, doing: impl std::fmt::Display) -> Self {
        self.message = format!("{doing}: {}", self.message);
        self
    }

    /// The SQLSTATE of the underlying database error, if there is one.
    pub fn sqlstate(&self) -> Option<String> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> =
            self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(e) = cur {
            if let Some(sqlx::Error::Database(db)) = e.downcast_ref::<sqlx::Error>() {
                return db.code().map(|c| c.into_owned());
            }
            cur = e.source();
        }
        None
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        let (code, message) = classify_sqlx(&e);
        Error { code, message, source: Some(Box::new(e)) }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError as M;
        let (code, message) = match &e {
            M::Execute(inner) | M::ExecuteMigration(inner, _) => {
                let (code, msg) = classify_sqlx(inner);
                (code, format!("migration failed: {msg}"))
            }
            M::VersionMissing(v) => (
                ErrorCode::SchemaOutdated,
                format!("the database has migration {v} applied, which this build of EIO doesn't know: it was migrated by a newer EIO"),
            ),
            M::VersionMismatch(v) => (
                ErrorCode::SchemaOutdated,
                format!("migration {v} in the database differs from this build's: the schema was changed outside EIO or by another build"),
            ),
            M::Dirty(v) => (
                ErrorCode::SchemaOutdated,
                format!("migration {v} failed part-way earlier; repair the database before migrating again"),
            ),
            other => (ErrorCode::Internal, format!("migration failed: {other}")),
        };
        Error { code, message, source: Some(Box::new(e)) }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error { code: ErrorCode::Internal, message: e.to_string(), source: Some(Box::new(e)) }
    }
}

fn classify_sqlx(e: &sqlx::Error) -> (ErrorCode, String) {
    match e {
        sqlx::Error::Database(db) => {
            let state = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let mut message = db.message().to_owned();
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                if let Some(hint) = pg.hint() {
                    message = format!("{message} ({hint})");
                }
            }
            (classify_sqlstate(&state), message)
        }
        sqlx::Error::RowNotFound => (ErrorCode::NotFound, "no such row".into()),
        sqlx::Error::PoolTimedOut => (ErrorCode::Unavailable, "timed out waiting for a database connection".into()),
        sqlx::Error::PoolClosed => (ErrorCode::Unavailable, "the database connection was closed".into()),
        sqlx::Error::Io(io) => (ErrorCode::Unavailable, format!("cannot reach the database: {io}")),
        sqlx::Error::Tls(tls) => (ErrorCode::Unavailable, format!("TLS to the database failed: {tls}")),
        sqlx::Error::Configuration(c) => (ErrorCode::Config, format!("bad database address: {c}")),
        other => (ErrorCode::Internal, other.to_string()),
    }
}

/// Map a PostgreSQL SQLSTATE to our error code.
pub fn classify_sqlstate(state: &str) -> ErrorCode {
    match state {
        // insufficient_privilege, invalid_authorization_specification, invalid_password
        "42501" | "28000" | "28P01" => ErrorCode::Forbidden,
        "23505" | "55000" | "40001" | "40P01" | "55P03" => ErrorCode::Conflict,
        "P0002" | "02000" => ErrorCode::NotFound,
        s if s.starts_with("22") || s.starts_with("23") => ErrorCode::InvalidInput,
        // undefined_table / undefined_function: the schema isn't what we expect.
        "42P01" | "42883" | "42703" => ErrorCode::SchemaOutdated,
        // connection exceptions, admin shutdown, cannot connect now, database doesn't exist
        s if s.starts_with("08") || s.starts_with("57P") || s == "3D000" => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    }
}

/// What crosses a process boundary (Tauri IPC, HTTP, `--json`): a code and a sentence.
/// Internal details never do; they are logged where the error is turned into this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

pub const SOMETHING_WENT_WRONG: &str = "Something went wrong; the details are in the EIO log.";

impl From<&Error> for ApiError {
    fn from(e: &Error) -> Self {
        if e.code == ErrorCode::Internal {
            tracing::error!(error = %e, source = ?e.source, "internal error");
            ApiError { code: ErrorCode::Internal, message: SOMETHING_WENT_WRONG.into() }
        } else {
            ApiError { code: e.code, message: e.message.clone() }
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::from(&e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_details() {
        let e = Error::internal("relation pg_secret at 0xdeadbeef");
        let api = ApiError::from(&e);
        assert_eq!(
            serde_json::to_value(&api).unwrap(),
            serde_json::json!({"code": "internal", "message": SOMETHING_WENT_WRONG})
        );
    }

    #[test]
    fn user_errors_keep_their_sentence() {
        let e = Error::forbidden("permission denied: approving a job needs the approver role");
        assert_eq!(
            serde_json::to_value(ApiError::from(e)).unwrap(),
            serde_json::json!({"code": "forbidden",
                               "message": "permission denied: approving a job needs the approver role"})
        );
    }

    #[test]
    fn sqlstates_map_to_codes() {
        assert_eq!(classify_sqlstate("42501"), ErrorCode::Forbidden);
        assert_eq!(classify_sqlstate("23505"), ErrorCode::Conflict);
        assert_eq!(classify_sqlstate("23514"), ErrorCode::InvalidInput);
        assert_eq!(classify_sqlstate("22023"), ErrorCode::InvalidInput);
        assert_eq!(classify_sqlstate("P0002"), ErrorCode::NotFound);
        assert_eq!(classify_sqlstate("08006"), ErrorCode::Unavailable);
        assert_eq!(classify_sqlstate("3D000"), ErrorCode::Unavailable);
        assert_eq!(classify_sqlstate("XX000"), ErrorCode::Internal);
    }
}
