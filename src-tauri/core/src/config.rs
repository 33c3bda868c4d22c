//! Which database EIO talks to, and where it keeps its files.
//!
//! Resolution order for the database: `--database-url` / `EIO_DATABASE_URL`, then
//! `[database] url` in the config file (`EIO_CONFIG`, default `<config dir>/config.toml`),
//! else the **embedded default**: a private PostgreSQL cluster under the data directory
//! (`EIO_DATA_DIR`, default the platform data dir; `/var/lib/eio` when run as root, so the
//! unprivileged account PostgreSQL runs as can reach it).
//!
//! A database URL may carry a password; [`DatabaseUrl`] never prints it.
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Environment variables EIO reads (the CLI flags of the same meaning win over them).
pub const ENV_DATABASE_URL: &str = "EIO_DATABASE_URL";
pub const ENV_DATA_DIR: &str = "EIO_DATA_DIR";
pub const ENV_CONFIG: &str = "EIO_CONFIG";

#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseChoice,
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
    /// `[worker] key_file` in the config file: where this machine's worker key lives when
    /// it is not in the OS keyring (a service without a Secret Service, say).
    pub worker_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum DatabaseChoice {
    /// A shared (or any external) PostgreSQL, from a URL.
    External { url: DatabaseUrl, origin: UrlOrigin },
    /// The private cluster under `data_dir`.
    Embedded,
}

/// Where an external URL came from, so `eio status` can say why it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlOrigin {
    /// `--database-url` or `EIO_DATABASE_URL`.
    CommandLineOrEnvironment,
    ConfigFile(PathBuf),
}

/// Explicit choices from the command line (already merged with the environment by clap),
/// or from [`Overrides::from_env`] for the desktop.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
}

impl Overrides {
    pub fn from_env() -> Self {
        let non_empty = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Overrides {
            database_url: non_empty(ENV_DATABASE_URL),
            data_dir: non_empty(ENV_DATA_DIR).map(PathBuf::from),
            config_file: non_empty(ENV_CONFIG).map(PathBuf::from),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    database: DatabaseSection,
    #[serde(default)]
    worker: WorkerSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkerSection {
    key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseSection {
    url: Option<String>,
}

impl Config {
    pub fn load(overrides: Overrides) -> Result<Config> {
        let config_file = overrides.config_file.clone().unwrap_or_else(default_config_file);
        let data_dir = overrides.data_dir.clone().unwrap_or_else(default_data_dir);
        let file = read_config_file(&config_file)?;

        let database = if let Some(url) = overrides.database_url {
            DatabaseChoice::External { url: DatabaseUrl::parse(&url)?, origin: UrlOrigin::CommandLineOrEnvironment }
        } else if let Some(url) = file.database.url {
            DatabaseChoice::External {
                url: DatabaseUrl::parse(&url).map_err(|e| e.context(format!("{}", config_file.display())))?,
                origin: UrlOrigin::ConfigFile(config_file.clone()),
            }
        } else {
            DatabaseChoice::Embedded
        };
        let worker_key_file = file.worker.key_file.filter(|p| !p.as_os_str().is_empty());
        Ok(Config { database, data_dir, config_file, worker_key_file })
    }

    /// Where the embedded cluster lives (whether or not it is in use).
    pub fn embedded_dir(&self) -> PathBuf {
        self.data_dir.join("postgres")
    }
}

fn read_config_file(path: &Path) -> Result<ConfigFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| Error::config(format!("{}: {}", path.display(), e.message().trim())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(Error::config(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Write (or, with `None`, remove) `[database] url` in the config file, keeping the rest.
/// Refuses a URL carrying a password: passwords belong in the OS keyring only.
pub fn save_database_url(path: &Path, url: Option<&DatabaseUrl>) -> Result<()> {
    let mut doc: toml::Table = match std::fs::read_to_string(path) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| Error::config(format!("{}: {}", path.display(), e.message().trim())))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(e) => return Err(Error::config(format!("cannot read {}: {e}", path.display()))),
    };
    let section = doc.entry("database").or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let table = section
        .as_table_mut()
        .ok_or_else(|| Error::config(format!("{}: [database] is not a table", path.display())))?;
    match url {
        Some(u) => {
            if url_has_password(u.expose()) {
                return Err(Error::invalid("a database URL with a password is never written to the config file"));
            }
            table.insert("url".into(), toml::Value::String(u.expose().to_owned()));
        }
        None => {
            table.remove("url");
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::config(format!("cannot create {}: {e}", dir.display())))?;
    }
    let text = toml::to_string(&doc).map_err(|e| Error::internal(e.to_string()))?;
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::config(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::config(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

fn url_has_password(raw: &str) -> bool {
    url::Url::parse(raw)
        .map(|u| u.password().is_some() || u.query_pairs().any(|(k, _)| k == "password"))
        .unwrap_or(true)
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("io", "EIO", "eio")
}

pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn default_config_file() -> PathBuf {
    match project_dirs() {
        Some(d) => d.config_dir().join("config.toml"),
        None => PathBuf::from("/etc/eio/config.toml"),
    }
}

fn default_data_dir() -> PathBuf {
    if running_as_root() {
        return PathBuf::from("/var/lib/eio");
    }
    match project_dirs() {
        Some(d) => d.data_dir().to_path_buf(),
        None => PathBuf::from(".eio"),
    }
}

/// A PostgreSQL URL. Debug and Display show it with the password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::config(format!(
                "database URL must start with postgres:// or postgresql:// (got {})",
                redact_url(url)
            )));
        }
        sqlx::postgres::PgConnectOptions::from_str(url)
            .map_err(|e| Error::config(format!("bad database URL {}: {e}", redact_url(url))))?;
        Ok(DatabaseUrl(url.to_owned()))
    }

    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// How to connect. A remote host the URL gives no `sslmode` for is reached with
    /// `verify-full` (TLS, the certificate checked against the system's roots, or the
    /// `sslrootcert` the URL names): a password never crosses a network in clear text and a
    /// server in the middle is refused. An explicit `sslmode` is the operator's choice and
    /// is kept. Unix sockets and loopback keep PostgreSQL's own default (`prefer`).
    pub fn connect_options(&self) -> sqlx::postgres::PgConnectOptions {
        let o = self.parsed();
        match self.tls() {
            DatabaseTls::DefaultVerifyFull => o.ssl_mode(sqlx::postgres::PgSslMode::VerifyFull),
            _ => o,
        }
    }

    /// The URL as sqlx reads it, before EIO's TLS default.
    fn parsed(&self) -> sqlx::postgres::PgConnectOptions {
        // `parse` only makes a DatabaseUrl from a URL sqlx accepted.
        sqlx::postgres::PgConnectOptions::from_str(&self.0).expect("validated database URL")
    }

    /// The last value of the URL's query parameter spelled exactly as one of `names` (as
    /// sqlx reads it: case matters, and a repeated key's last value wins).
    fn query_param(&self, names: &[&str]) -> Option<String> {
        url::Url::parse(&self.0)
            .ok()?
            .query_pairs()
            .filter(|(k, _)| names.contains(&k.as_ref()))
            .last()
            .map(|(_, v)| v.into_owned())
    }

    /// The `sslmode` the URL names, as sqlx will use it, if the URL names one.
    pub fn sslmode(&self) -> Option<String> {
        use sqlx::postgres::PgSslMode;
        self.query_param(&["sslmode", "ssl-mode"])?;
        Some(
            match self.parsed().get_ssl_mode() {
                PgSslMode::Disable => "disable",
                PgSslMode::Allow => "allow",
                PgSslMode::Prefer => "prefer",
                PgSslMode::Require => "require",
                PgSslMode::VerifyCa => "verify-ca",
                PgSslMode::VerifyFull => "verify-full",
            }
            .to_owned(),
        )
    }

    /// The `sslrootcert` the URL names, if any.
    pub fn sslrootcert(&self) -> Option<String> {
        self.query_param(&["sslrootcert", "ssl-root-cert", "ssl-ca"])
    }

    /// Is the server on this machine (a Unix socket or a loopback address)?
    pub fn is_local(&self) -> bool {
        is_local_host(self.parsed().get_host())
    }

    /// The TLS policy connecting to this URL follows.
    pub fn tls(&self) -> DatabaseTls {
        match self.sslmode() {
            Some(mode) => DatabaseTls::Chosen(mode),
            None if self.is_local() => DatabaseTls::LocalDefault,
            None => DatabaseTls::DefaultVerifyFull,
        }
    }
}

/// Is `host` (as sqlx reports it) this machine: a Unix socket folder, `localhost` or a
/// loopback address?
pub fn is_local_host(host: &str) -> bool {
    host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host.trim_matches(|c| c == '[' || c == ']').parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// How a database connection is protected (shown in Settings and `eio status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTls {
    /// A remote host without an explicit `sslmode`: TLS with the certificate verified.
    DefaultVerifyFull,
    /// A Unix socket or loopback without an explicit `sslmode`: TLS when offered.
    LocalDefault,
    /// The `sslmode` the operator wrote in the URL.
    Chosen(String),
}

impl std::fmt::Display for DatabaseTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseTls::DefaultVerifyFull => {
                f.write_str("TLS, certificate verified (verify-full, the default for a remote host)")
            }
            DatabaseTls::LocalDefault => {
                f.write_str("this machine (socket or loopback): TLS when the server offers it")
            }
            DatabaseTls::Chosen(mode) if matches!(mode.as_str(), "disable" | "allow" | "prefer") => {
                write!(f, "sslmode={mode}, chosen in the database address: the connection may be unencrypted")
            }
            DatabaseTls::Chosen(mode) => write!(f, "sslmode={mode}, chosen in the database address"),
        }
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", redact_url(&self.0))
    }
}

/// Replace any password in a PostgreSQL URL (user-info or `?password=`) with `***`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k.eq_ignore_ascii_case("password") { "***".to_string() } else { v.into_owned() };
                    (k.into_owned(), v)
                })
                .collect();
            if !pairs.is_empty() {
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        // Unparseable: show only the scheme and host-ish part before any '@'.
        Err(_) => match raw.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => raw.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_hosts_default_to_verified_tls_and_an_explicit_choice_is_kept() {
        use sqlx::postgres::PgSslMode;
        let mode = |u: &str| DatabaseUrl::parse(u).unwrap().connect_options().get_ssl_mode();
        assert!(matches!(mode("postgres://alice@db.example.com/eio"), PgSslMode::VerifyFull));
        assert!(matches!(mode("postgres://alice@10.1.2.3:5433/eio"), PgSslMode::VerifyFull));
        assert!(matches!(mode("postgres://alice@db.example.com/eio?sslmode=require"), PgSslMode::Require));
        assert!(matches!(mode("postgres://alice@db.example.com/eio?sslmode=disable"), PgSslMode::Disable));
        for local in ["postgres://alice@127.0.0.1/eio", "postgres://alice@localhost/eio", "postgres://alice@[::1]/eio"]
        {
            assert!(matches!(mode(local), PgSslMode::Prefer), "{local}");
        }
        // Spelled as sqlx doesn't read it, a mode is no choice: the remote default holds.
        assert!(matches!(mode("postgres://alice@db.example.com/eio?SSLMODE=disable"), PgSslMode::VerifyFull));
        assert_eq!(DatabaseUrl::parse("postgres://a@db.example.com/eio?SSLMODE=disable").unwrap().sslmode(), None);
        // Repeated: the last one is what sqlx uses, and what is shown.
        let twice = DatabaseUrl::parse("postgres://a@db.example.com/eio?sslmode=verify-full&sslmode=require").unwrap();
        assert_eq!(twice.sslmode().as_deref(), Some("require"));
        assert!(matches!(twice.connect_options().get_ssl_mode(), PgSslMode::Require));
        let u = DatabaseUrl::parse("postgres://alice@db.example.com/eio?sslmode=verify-ca&sslrootcert=/etc/eio/ca.pem")
            .unwrap();
        assert_eq!(u.tls(), DatabaseTls::Chosen("verify-ca".into()));
        assert_eq!(u.sslrootcert().as_deref(), Some("/etc/eio/ca.pem"));
        assert_eq!(
            DatabaseUrl::parse("postgres://a@db.example.com/eio").unwrap().tls(),
            DatabaseTls::DefaultVerifyFull
        );
    }

    #[test]
    fn passwords_never_print() {
        let u = DatabaseUrl::parse("postgres://alice:s3cr3t-pw@db.example.com:5432/eio?sslmode=require").unwrap();
        assert_eq!(u.to_string(), "postgres://alice:***@db.example.com:5432/eio?sslmode=require");
        assert!(!format!("{u:?}").contains("s3cr3t-pw"));
        let q = redact_url("postgres://db/eio?user=bob&password=hunter2");
        assert!(!q.contains("hunter2"), "{q}");
        assert!(q.contains("user=bob"));
    }

    #[test]
    fn non_postgres_urls_are_refused_without_echoing_secrets() {
        let e = DatabaseUrl::parse("mysql://root:topsecret@db/eio").unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::Config);
        assert!(!e.message.contains("topsecret"), "{}", e.message);
    }

    #[test]
    fn resolution_order_flag_then_file_then_embedded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");

        // No flag, no file: embedded.
        let c = Config::load(Overrides {
            config_file: Some(file.clone()),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .unwrap();
        assert!(matches!(c.database, DatabaseChoice::Embedded));
        assert_eq!(c.embedded_dir(), dir.path().join("postgres"));

        // The file names a database.
        std::fs::write(&file, "[database]\nurl = \"postgres://eve@shared-db/eio\"\n").unwrap();
        let c = Config::load(Overrides { config_file: Some(file.clone()), ..Default::default() }).unwrap();
        match &c.database {
            DatabaseChoice::External { url, origin } => {
                assert_eq!(url.expose(), "postgres://eve@shared-db/eio");
                assert_eq!(origin, &UrlOrigin::ConfigFile(file.clone()));
            }
            other => panic!("expected external, got {other:?}"),
        }

        // The flag wins over the file.
        let c = Config::load(Overrides {
            config_file: Some(file.clone()),
            database_url: Some("postgres://flag@elsewhere/eio".into()),
            ..Default::default()
        })
        .unwrap();
        match &c.database {
            DatabaseChoice::External { url, origin } => {
                assert_eq!(url.expose(), "postgres://flag@elsewhere/eio");
                assert_eq!(origin, &UrlOrigin::CommandLineOrEnvironment);
            }
            other => panic!("expected external, got {other:?}"),
        }
    }

    #[test]
    fn saving_the_address_keeps_passwords_out() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("eio/config.toml");
        let url = DatabaseUrl::parse("postgres://alice@db.example.com:5432/eio").unwrap();
        save_database_url(&file, Some(&url)).unwrap();
        let c = Config::load(Overrides { config_file: Some(file.clone()), ..Default::default() }).unwrap();
        assert!(matches!(c.database, DatabaseChoice::External { .. }));
        let with_pw = DatabaseUrl::parse("postgres://alice:pw@db.example.com/eio").unwrap();
        assert!(save_database_url(&file, Some(&with_pw)).is_err());
        assert!(!std::fs::read_to_string(&file).unwrap().contains("pw@"));
        save_database_url(&file, None).unwrap();
        let c = Config::load(Overrides { config_file: Some(file), ..Default::default() }).unwrap();
        assert!(matches!(c.database, DatabaseChoice::Embedded));
    }

    #[test]
    fn a_broken_config_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "[database]\nurl = 5\n").unwrap();
        let e = Config::load(Overrides { config_file: Some(file.clone()), ..Default::default() }).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::Config);
        assert!(e.message.contains(&file.display().to_string()), "{}", e.message);

        std::fs::write(&file, "[database]\nurl = \"postgres://x/eio\"\nunknown_key = 1\n").unwrap();
        let e = Config::load(Overrides { config_file: Some(file), ..Default::default() }).unwrap_err();
        assert!(e.message.contains("unknown"), "{}", e.message);
    }
}
