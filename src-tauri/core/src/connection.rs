//! Signing in from the desktop: which database, and the user's own credentials.
//!
//! The desktop asks for the shared database's address and the user's PostgreSQL login;
//! the address (never the password) goes into the config file, and the password, only if
//! the user asks, into the OS keyring. Nothing else ever stores it. Choosing "this
//! computer" removes the address, so the embedded default is used.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::{self, Config, DatabaseChoice, DatabaseUrl};
use crate::error::{ApiError, Error, ErrorCode, Result};
use crate::identity::keystore;
use crate::Database;
use eio_secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionMode {
    /// The private database on this computer.
    Embedded,
    /// A shared PostgreSQL, with the user's own login.
    Shared,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct ConnectionSettings {
    pub mode: ConnectionMode,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    /// The PostgreSQL `sslmode` chosen for this address; none: `verify-full` for a remote
    /// host, TLS-when-offered on this machine. Kept across sign-ins.
    #[serde(default)]
    pub sslmode: Option<String>,
    /// A CA file to verify the server's certificate with (else the system's roots).
    #[serde(default)]
    pub sslrootcert: Option<String>,
    /// How the connection is protected, in words (shown in Settings; ignored on input).
    #[serde(default)]
    pub tls: String,
}

impl ConnectionSettings {
    /// The URL stored in the config file: no password, ever.
    pub fn url(&self) -> Result<DatabaseUrl> {
        if self.host.trim().is_empty() || self.username.trim().is_empty() || self.database.trim().is_empty() {
            return Err(Error::invalid("host, database and username are all needed for a shared database"));
        }
        let mut u = url::Url::parse("postgres://localhost/").map_err(|e| Error::internal(e.to_string()))?;
        u.set_host(Some(self.host.trim()))
            .map_err(|_| Error::invalid(format!("\"{}\" is not a host name", self.host)))?;
        let _ = u.set_port(Some(self.port));
        let _ = u.set_username(self.username.trim());
        u.set_path(self.database.trim());
        let sslmode = self.sslmode.as_deref().map(str::trim).filter(|m| !m.is_empty());
        if let Some(mode) = sslmode {
            if !["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(&mode) {
                return Err(Error::invalid(format!(
                    "sslmode \"{mode}\" is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )));
            }
            u.query_pairs_mut().append_pair("sslmode", mode);
        }
        if let Some(ca) = self.sslrootcert.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            u.query_pairs_mut().append_pair("sslrootcert", ca);
        }
        DatabaseUrl::parse(u.as_str())
    }

    /// The keyring account a remembered password is filed under.
    pub fn keyring_account(&self) -> String {
        format!("{}@{}:{}/{}", self.username.trim(), self.host.trim(), self.port, self.database.trim())
    }

    fn from_config(config: &Config) -> Self {
        match &config.database {
            DatabaseChoice::External { url, .. } => {
                let o = url.connect_options();
                ConnectionSettings {
                    mode: ConnectionMode::Shared,
                    host: o.get_host().to_owned(),
                    port: o.get_port(),
                    database: o.get_database().unwrap_or("eio").to_owned(),
                    username: o.get_username().to_owned(),
                    sslmode: url.sslmode(),
                    sslrootcert: url.sslrootcert(),
                    tls: url.tls().to_string(),
                }
            }
            DatabaseChoice::Embedded => ConnectionSettings {
                mode: ConnectionMode::Embedded,
                host: String::new(),
                port: 5432,
                database: "eio".into(),
                username: String::new(),
                sslmode: None,
                sslrootcert: None,
                tls: "this computer's private database (a Unix socket, no network)".into(),
            },
        }
    }
}

/// What a sign-in form sends.
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct SignInInput {
    pub settings: ConnectionSettings,
    #[serde(default)]
    #[ts(type = "string | null")]
    #[schemars(with = "Option<String>")]
    pub password: Option<Secret>,
    /// Keep the password in the OS keyring for next time.
    #[serde(default)]
    pub remember: bool,
}

/// Where the desktop stands: connected or not, to what, and why not.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ConnectionState {
    pub connected: bool,
    pub settings: ConnectionSettings,
    pub password_remembered: bool,
    pub error: Option<ApiError>,
    pub warnings: Vec<String>,
}

impl ConnectionState {
    pub fn disconnected(config: &Config, error: Option<ApiError>) -> Self {
        ConnectionState {
            connected: false,
            settings: ConnectionSettings::from_config(config),
            password_remembered: false,
            error,
            warnings: Vec::new(),
        }
    }
}

/// Connect with what the config file (and keyring) already hold, at startup.
pub async fn resume(config: &Config) -> (Option<Database>, ConnectionState) {
    let settings = ConnectionSettings::from_config(config);
    let password = match settings.mode {
        ConnectionMode::Embedded => None,
        ConnectionMode::Shared => {
            keystore::remembered_database_password(&settings.keyring_account()).await.ok().flatten()
        }
    };
    let remembered = password.is_some();
    match Database::open_with_password(config, password.as_ref()).await {
        Ok(db) => (
            Some(db),
            ConnectionState {
                connected: true,
                settings,
                password_remembered: remembered,
                error: None,
                warnings: vec![],
            },
        ),
        Err(e) => (
            None,
            ConnectionState {
                connected: false,
                settings,
                password_remembered: remembered,
                error: Some(e.into()),
                warnings: vec![],
            },
        ),
    }
}

/// Sign in: connect first, and only when that works save the address (and, if asked,
/// the password in the keyring). Returns the new configuration with the database.
pub async fn sign_in(config: &Config, input: SignInInput) -> Result<(Config, Database, ConnectionState)> {
    let settings = input.settings;
    let mut next = config.clone();
    next.database = match settings.mode {
        ConnectionMode::Embedded => DatabaseChoice::Embedded,
        ConnectionMode::Shared => DatabaseChoice::External {
            url: settings.url()?,
            origin: config::UrlOrigin::ConfigFile(config.config_file.clone()),
        },
    };
    let password = input.password.filter(|p| !p.is_empty());
    let db = Database::open_with_password(&next, password.as_ref()).await?;
    let url = match &next.database {
        DatabaseChoice::External { url, .. } => Some(url),
        DatabaseChoice::Embedded => None,
    };
    config::save_database_url(&next.config_file, url)?;

    let mut warnings = Vec::new();
    let mut remembered = false;
    if settings.mode == ConnectionMode::Shared {
        let account = settings.keyring_account();
        match (&password, input.remember) {
            (Some(p), true) => match keystore::remember_database_password(&account, p).await {
                Ok(()) => remembered = true,
                Err(e) => warnings.push(format!("Signed in, but the password could not be remembered: {}", e.message)),
            },
            _ => {
                if let Err(e) = keystore::forget_database_password(&account).await {
                    tracing::debug!(error = %e, "no keyring to forget the password in");
                }
            }
        }
    }
    let state = ConnectionState { connected: true, settings, password_remembered: remembered, error: None, warnings };
    Ok((next, db, state))
}

/// Is this error one a sign-in form can fix (wrong address, password, no login)?
pub fn needs_sign_in(e: &ApiError) -> bool {
    matches!(e.code, ErrorCode::Forbidden | ErrorCode::Unavailable | ErrorCode::Config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_become_a_url_without_a_password() {
        let s = ConnectionSettings {
            mode: ConnectionMode::Shared,
            host: "db.example.com".into(),
            port: 6432,
            database: "eio".into(),
            username: "alice".into(),
            sslmode: None,
            sslrootcert: None,
            tls: String::new(),
        };
        assert_eq!(s.url().unwrap().expose(), "postgres://alice@db.example.com:6432/eio");
        assert_eq!(s.keyring_account(), "alice@db.example.com:6432/eio");
        // A chosen sslmode and CA file are kept in the address, and come back from it.
        let tls = ConnectionSettings {
            sslmode: Some("verify-ca".into()),
            sslrootcert: Some("/etc/eio/ca.pem".into()),
            ..s.clone()
        };
        let url = tls.url().unwrap();
        assert_eq!(
            url.expose(),
            "postgres://alice@db.example.com:6432/eio?sslmode=verify-ca&sslrootcert=%2Fetc%2Feio%2Fca.pem"
        );
        let config = Config {
            database: DatabaseChoice::External { url, origin: config::UrlOrigin::ConfigFile("/tmp/c.toml".into()) },
            data_dir: "/tmp".into(),
            config_file: "/tmp/c.toml".into(),
            worker_key_file: None,
        };
        let back = ConnectionSettings::from_config(&config);
        assert_eq!(
            (back.sslmode.as_deref(), back.sslrootcert.as_deref()),
            (Some("verify-ca"), Some("/etc/eio/ca.pem"))
        );
        assert!(back.tls.contains("verify-ca"), "{}", back.tls);
        let odd = ConnectionSettings { sslmode: Some("maybe".into()), ..s.clone() };
        assert_eq!(odd.url().unwrap_err().code, ErrorCode::InvalidInput);
        let bad = ConnectionSettings { host: String::new(), ..s };
        assert_eq!(bad.url().unwrap_err().code, ErrorCode::InvalidInput);
    }
}
