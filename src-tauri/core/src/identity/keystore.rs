//! Where a worker keeps its private key, and where the desktop remembers a database
//! password: the OS keyring, or (for a headless instance) a file only its owner can read.
//!
//! A key file must be mode 0600 (no group/other bits): a readable key file is refused
//! with a message saying how to fix it, because anyone holding the key reads every
//! service identity's credentials. Existing keys are never overwritten silently.
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use eio_secret::Secret;

use super::sealing::WorkerKey;
use crate::config::Config;
use crate::error::{Error, Result};

/// Overrides where the worker key file is (headless instances).
pub const ENV_WORKER_KEY_FILE: &str = "EIO_WORKER_KEY_FILE";
const KEYRING_SERVICE_WORKER: &str = "io.eio.worker-key";
const KEYRING_SERVICE_DATABASE: &str = "io.eio.database";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    File(PathBuf),
    Keyring { account: String },
}

impl std::fmt::Display for KeyLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyLocation::File(p) => write!(f, "file {}", p.display()),
            KeyLocation::Keyring { account } => write!(f, "the OS keyring ({KEYRING_SERVICE_WORKER}/{account})"),
        }
    }
}

/// The default key file of this data directory.
pub fn default_key_file(config: &Config) -> PathBuf {
    config.data_dir.join("worker-key.age")
}

/// Where to look for the worker key: a file only when the operator chose one (`--key-file`,
/// `EIO_WORKER_KEY_FILE`, `[worker] key_file` in the config file, or the data directory's
/// key file that such a choice created), else the OS keyring. A machine without a Secret Service gets a clear error saying to
/// name a key file, never a silent fallback to one.
pub fn locate(config: &Config, explicit: Option<&Path>) -> KeyLocation {
    locate_with(config, explicit, std::env::var_os(ENV_WORKER_KEY_FILE))
}

/// [`locate`], with `EIO_WORKER_KEY_FILE`'s value given.
fn locate_with(config: &Config, explicit: Option<&Path>, env_file: Option<std::ffi::OsString>) -> KeyLocation {
    if let Some(p) = explicit {
        return KeyLocation::File(p.to_path_buf());
    }
    if let Some(p) = env_file.filter(|p| !p.is_empty()) {
        return KeyLocation::File(PathBuf::from(p));
    }
    if let Some(p) = &config.worker_key_file {
        return KeyLocation::File(p.clone());
    }
    let file = default_key_file(config);
    if file.exists() {
        return KeyLocation::File(file);
    }
    KeyLocation::Keyring { account: "default".into() }
}

/// Store `key` at `location`, refusing to replace an existing key unless `replace`.
pub async fn save(location: &KeyLocation, key: &WorkerKey, replace: bool) -> Result<()> {
    match location {
        KeyLocation::File(path) => save_file(path, key, replace),
        KeyLocation::Keyring { account } => {
            let account = account.clone();
            let secret = key.secret_text();
            blocking(move || {
                let entry = keyring::Entry::new(KEYRING_SERVICE_WORKER, &account).map_err(keyring_error)?;
                if !replace && entry.get_password().is_ok() {
                    return Err(Error::conflict(
                        "a worker key already exists in the OS keyring; replacing it would lose access to every \
                         credential sealed only for it (use --force if that is what you want)",
                    ));
                }
                entry.set_password(secret.expose()).map_err(keyring_error)
            })
            .await
        }
    }
}

/// Load the worker key from `location`.
pub async fn load(location: &KeyLocation) -> Result<WorkerKey> {
    match location {
        KeyLocation::File(path) => load_file(path),
        KeyLocation::Keyring { account } => {
            let account = account.clone();
            let text = blocking(move || {
                keyring::Entry::new(KEYRING_SERVICE_WORKER, &account)
                    .and_then(|e| e.get_password())
                    .map(Secret::new)
                    .map_err(|e| match e {
                        keyring::Error::NoEntry => Error::not_found(
                            "this machine has no worker key: run `eio identity init-worker-key` \
                             (or set EIO_WORKER_KEY_FILE to the key file of this instance)",
                        ),
                        other => keyring_error(other),
                    })
            })
            .await?;
            WorkerKey::parse(text.expose())
        }
    }
}

fn save_file(path: &Path, key: &WorkerKey, replace: bool) -> Result<()> {
    if path.exists() && !replace {
        return Err(Error::conflict(format!(
            "{} already holds a worker key; replacing it would lose access to every credential sealed only for it \
             (use --force if that is what you want)",
            path.display()
        )));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    writeln!(
        f,
        "# EIO worker key (age X25519). Anyone holding this file can read every service identity's credentials.\n\
         # public key: {}",
        key.public_key()
    )?;
    f.write_all(key.secret_text().expose().as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn load_file(path: &Path) -> Result<WorkerKey> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::not_found(format!(
                "no worker key at {}: run `eio identity init-worker-key` on this instance",
                path.display()
            ))
        } else {
            Error::config(format!("cannot read the worker key {}: {e}", path.display()))
        }
    })?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::config(format!(
            "the worker key {} is readable by others (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| Error::config(format!("cannot read {}: {e}", path.display())))?,
    );
    WorkerKey::parse(&text).map_err(|e| e.context(path.display()))
}

/// Remember a database password in the OS keyring (the desktop's "remember me").
pub async fn remember_database_password(account: &str, password: &Secret) -> Result<()> {
    let account = account.to_owned();
    let password = password.clone();
    blocking(move || {
        keyring::Entry::new(KEYRING_SERVICE_DATABASE, &account)
            .and_then(|e| e.set_password(password.expose()))
            .map_err(database_keyring_error)
    })
    .await
}

/// The remembered database password, if any.
pub async fn remembered_database_password(account: &str) -> Result<Option<Secret>> {
    let account = account.to_owned();
    blocking(move || match keyring::Entry::new(KEYRING_SERVICE_DATABASE, &account).and_then(|e| e.get_password()) {
        Ok(p) => Ok(Some(Secret::new(p))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(database_keyring_error(e)),
    })
    .await
}

pub async fn forget_database_password(account: &str) -> Result<()> {
    let account = account.to_owned();
    blocking(move || {
        match keyring::Entry::new(KEYRING_SERVICE_DATABASE, &account).and_then(|e| e.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(database_keyring_error(e)),
        }
    })
    .await
}

fn keyring_error(e: keyring::Error) -> Error {
    Error::config(format!(
        "no Secret Service (OS keyring) answers here ({e}): on a headless instance keep the worker key in a file \
         you name with --key-file PATH, EIO_WORKER_KEY_FILE or `[worker] key_file` in the config file (it is \
         written with mode 0600, readable by this account only)"
    ))
}

/// The database password is only ever remembered in the keyring: without one, it is typed
/// at each sign-in (never written to a file).
fn database_keyring_error(e: keyring::Error) -> Error {
    Error::config(format!(
        "no Secret Service (OS keyring) answers here ({e}), so the database password can't be remembered on this \
         machine: type it at each sign-in"
    ))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::internal(format!("keyring task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn key_files_are_private_and_never_silently_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/worker-key.age");
        let loc = KeyLocation::File(path.clone());
        let key = WorkerKey::generate();
        save(&loc, &key, false).await.unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&loc).await.unwrap().public_key(), key.public_key());

        let e = save(&loc, &WorkerKey::generate(), false).await.unwrap_err();
        assert!(e.message.contains("--force"), "{}", e.message);
        assert_eq!(load(&loc).await.unwrap().public_key(), key.public_key(), "the old key survives a refused save");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(&loc).await.unwrap_err();
        assert!(e.message.contains("chmod 600"), "{}", e.message);
    }

    #[test]
    fn a_key_file_is_used_only_when_chosen() {
        let locate = |config: &Config, explicit: Option<&Path>| locate_with(config, explicit, None);
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            database: crate::config::DatabaseChoice::Embedded,
            data_dir: dir.path().to_path_buf(),
            config_file: dir.path().join("none.toml"),
            worker_key_file: None,
        };
        // Nothing chosen: the keyring, whether or not a desktop session is around.
        assert_eq!(locate(&config, None), KeyLocation::Keyring { account: "default".into() });
        let named = dir.path().join("mine.age");
        assert_eq!(locate(&config, Some(&named)), KeyLocation::File(named.clone()));
        // A key file an earlier explicit choice left in the data directory is still used.
        std::fs::write(default_key_file(&config), "x").unwrap();
        assert_eq!(locate(&config, None), KeyLocation::File(default_key_file(&config)));
        let from_env = dir.path().join("env.age");
        assert_eq!(locate_with(&config, None, Some(from_env.clone().into())), KeyLocation::File(from_env.clone()));
        // The config file's choice comes after the command line and the environment.
        let configured = dir.path().join("etc-eio-worker.age");
        std::fs::write(&config.config_file, format!("[worker]\nkey_file = \"{}\"\n", configured.display())).unwrap();
        let config = Config::load(crate::config::Overrides {
            database_url: None,
            data_dir: Some(config.data_dir.clone()),
            config_file: Some(config.config_file.clone()),
        })
        .unwrap();
        assert_eq!(locate_with(&config, None, None), KeyLocation::File(configured));
        assert_eq!(locate_with(&config, None, Some(from_env.clone().into())), KeyLocation::File(from_env));
        assert_eq!(locate_with(&config, Some(&named), None), KeyLocation::File(named));
    }

    #[tokio::test]
    async fn a_missing_key_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(&KeyLocation::File(dir.path().join("none.age"))).await.unwrap_err();
        assert!(e.message.contains("init-worker-key"), "{}", e.message);
    }
}
