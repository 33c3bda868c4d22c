//! `eio user …` and `eio identity …`: humans, service identities and worker keys.
//!
//! Passwords are read from stdin (`--password-stdin`) or an environment variable
//! (`--password-env VAR`), never from an argument (which `ps` would show), and go
//! straight into a `Secret`.
use std::io::BufRead;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use eio_core::api::{self, op, NoInput, Session};
use eio_core::config::Config;
use eio_core::identity::keystore::{self, KeyLocation};
use eio_core::identity::ops::{
    EmailInput, IdentityNameInput, ServiceIdentityInput, ServiceIdentityRotateInput, UserAddInput,
    UserCapabilitiesInput, UserPasswordInput, UserRoleInput, WorkerKeyInput,
};
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities::ExternalSystem;
use eio_core::identity::users::UserRole;
use eio_core::{Database, Error};
use eio_secret::Secret;

use crate::output;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a PostgreSQL login and its EIO user, or map an existing login (e.g. one
    /// authenticated by LDAP/AD through pg_hba.conf) to a new user
    Add {
        /// The user's email (their name in EIO)
        email: String,
        /// viewer, operator, approver or admin
        #[arg(long)]
        role: UserRole,
        /// The PostgreSQL login to create or link
        #[arg(long, value_name = "PGROLE")]
        login: String,
        /// A capability refining the role: firmware_update, maintenance_mode, power, site:<CODE> (repeatable)
        #[arg(long = "capability", value_name = "C")]
        capabilities: Vec<String>,
        /// Display name
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        password: OptionalPassword,
    },
    /// List users
    List {
        #[arg(long)]
        json: bool,
    },
    /// Refuse a user's logins and end their open sessions
    Disable { email: String },
    /// Allow a disabled user to log in again
    Enable { email: String },
    /// Change a user's role
    SetRole { email: String, role: UserRole },
    /// Replace a user's capabilities (none given: clear them)
    SetCapabilities { email: String, capabilities: Vec<String> },
    /// Set a user's password (admins: anyone's; everyone: their own)
    Password {
        email: String,
        #[command(flatten)]
        password: RequiredPassword,
    },
}

#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub struct OptionalPassword {
    /// Read the password from the first line of stdin (none: authentication is left to pg_hba.conf)
    #[arg(long)]
    password_stdin: bool,
    /// Read the password from this environment variable
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RequiredPassword {
    /// Read the password from the first line of stdin
    #[arg(long)]
    password_stdin: bool,
    /// Read the password from this environment variable
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
}

impl OptionalPassword {
    pub fn read(&self) -> Result<Option<Secret>, Error> {
        read_password(self.password_stdin, self.password_env.as_deref())
    }
}

impl RequiredPassword {
    fn read(&self) -> Result<Secret, Error> {
        read_password(self.password_stdin, self.password_env.as_deref())?
            .ok_or_else(|| Error::invalid("give the password with --password-stdin or --password-env VAR"))
    }
}

fn read_password(stdin: bool, env: Option<&str>) -> Result<Option<Secret>, Error> {
    let secret = if stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| Error::invalid(format!("reading stdin: {e}")))?;
        let trimmed = line.trim_end_matches(['\n', '\r']).to_owned();
        zeroize::Zeroize::zeroize(&mut line);
        Secret::new(trimmed)
    } else if let Some(var) = env {
        Secret::new(std::env::var(var).map_err(|_| Error::invalid(format!("environment variable {var} is not set")))?)
    } else {
        return Ok(None);
    };
    if secret.is_empty() {
        return Err(Error::invalid("the password is empty"));
    }
    Ok(Some(secret))
}

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Create this worker's key pair, keep the private key here (OS keyring, or a 0600
    /// file with --key-file), and trust its public key when you are an admin
    InitWorkerKey {
        /// Keep the key in this file (mode 0600) instead of the OS keyring
        #[arg(long, value_name = "PATH", conflicts_with = "keyring")]
        key_file: Option<PathBuf>,
        /// Keep the key in the OS keyring even if a key file exists
        #[arg(long)]
        keyring: bool,
        /// A label for the key (default: this host's name)
        #[arg(long)]
        label: Option<String>,
        /// Replace an existing key (credentials sealed only for it become unreadable)
        #[arg(long)]
        force: bool,
    },
    /// Trust a worker's public key (admins); credentials set from now on include it
    TrustWorkerKey {
        /// The age public key (age1…) printed by `eio identity init-worker-key`
        public_key: String,
        #[arg(long)]
        label: String,
    },
    /// Stop sealing credentials for a worker key (admins); then run `eio identity reseal`
    RevokeWorkerKey { public_key: String },
    /// List the trusted worker keys
    Keys {
        #[arg(long)]
        json: bool,
    },
    /// Add a service identity: credentials sealed for the trusted worker keys
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        username: String,
        /// vcenter, idrac, ome or other
        #[arg(long, default_value = "other")]
        system: ExternalSystem,
        /// Days until the credentials are due for rotation
        #[arg(long, default_value_t = 90)]
        rotate_every_days: i32,
        #[command(flatten)]
        password: RequiredPassword,
    },
    /// Replace a service identity's credentials
    Rotate {
        name: String,
        /// New username (default: keep the current one)
        #[arg(long)]
        username: Option<String>,
        /// Days until the credentials are due for rotation from now on (default: keep the period)
        #[arg(long)]
        rotate_every_days: Option<i32>,
        #[command(flatten)]
        password: RequiredPassword,
    },
    /// List service identities (never their credentials)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Open an identity's credentials with this worker's key and record the result
    Test {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Re-encrypt every identity this worker can open for the currently trusted keys
    Reseal,
}

pub async fn user(db: &Database, cmd: UserCommand) -> Result<(), Error> {
    let session = Session::new(db.clone());
    match cmd {
        UserCommand::Add { email, role, login, capabilities, name, password } => {
            let user = api::call::<op::user_add>(
                &session,
                UserAddInput { email, role, login, capabilities, display_name: name, password: password.read()? },
            )
            .await?;
            println!("Added {} as {} (login {}).", user.email, user.role.as_str(), user.login);
            Ok(())
        }
        UserCommand::List { json } => output::users(&api::call::<op::users>(&session, NoInput {}).await?, json),
        UserCommand::Disable { email } => {
            let u = api::call::<op::user_disable>(&session, EmailInput { email }).await?;
            println!("Disabled {}: login {} refused, open sessions ended.", u.email, u.login);
            Ok(())
        }
        UserCommand::Enable { email } => {
            let u = api::call::<op::user_enable>(&session, EmailInput { email }).await?;
            println!("Enabled {}.", u.email);
            Ok(())
        }
        UserCommand::SetRole { email, role } => {
            let u = api::call::<op::user_set_role>(&session, UserRoleInput { email, role }).await?;
            println!("{} is now {}.", u.email, u.role.as_str());
            Ok(())
        }
        UserCommand::SetCapabilities { email, capabilities } => {
            let u =
                api::call::<op::user_set_capabilities>(&session, UserCapabilitiesInput { email, capabilities }).await?;
            println!(
                "{} capabilities: {}",
                u.email,
                if u.capabilities.is_empty() { "none".into() } else { u.capabilities.join(", ") }
            );
            Ok(())
        }
        UserCommand::Password { email, password } => {
            let done =
                api::call::<op::user_set_password>(&session, UserPasswordInput { email, password: password.read()? })
                    .await?;
            println!("{}", done.message);
            Ok(())
        }
    }
}

pub async fn identity(
    config: &Config,
    db: &Database,
    key_file: Option<&std::path::Path>,
    cmd: IdentityCommand,
) -> Result<(), Error> {
    let location = || keystore::locate(config, key_file);
    let session = Session::new(db.clone());
    match cmd {
        IdentityCommand::InitWorkerKey { key_file: file, keyring, label, force } => {
            let loc = match (file.as_deref().or(key_file), keyring) {
                (Some(p), _) => KeyLocation::File(p.to_path_buf()),
                (None, true) => KeyLocation::Keyring { account: "default".into() },
                (None, false) => keystore::locate(config, None),
            };
            let key = WorkerKey::generate();
            keystore::save(&loc, &key, force).await?;
            let public = key.public_key();
            println!("Worker key kept in {loc}.\nPublic key: {public}");
            let me = api::call::<op::me>(&session, NoInput {}).await?;
            let label = label.unwrap_or_else(hostname);
            if me.may.manage_service_identities {
                api::call::<op::worker_key_trust>(
                    &session,
                    WorkerKeyInput { public_key: public.clone(), label: Some(label.clone()) },
                )
                .await?;
                println!("Trusted as worker key \"{label}\". Existing credentials: run `eio identity reseal` from a worker that can open them.");
            } else {
                println!("Ask an admin to trust it:\n  eio identity trust-worker-key {public} --label {label}");
            }
            Ok(())
        }
        IdentityCommand::TrustWorkerKey { public_key, label } => {
            let done =
                api::call::<op::worker_key_trust>(&session, WorkerKeyInput { public_key, label: Some(label) }).await?;
            println!("{}", done.message.replace("Reseal on a worker", "Run `eio identity reseal` on a worker"));
            Ok(())
        }
        IdentityCommand::RevokeWorkerKey { public_key } => {
            let done = api::call::<op::worker_key_revoke>(&session, WorkerKeyInput { public_key, label: None }).await?;
            println!("{}", done.message.replace("Reseal on a worker", "Run `eio identity reseal` on a worker"));
            Ok(())
        }
        IdentityCommand::Keys { json } => {
            output::worker_keys(&api::call::<op::worker_keys>(&session, NoInput {}).await?, json)
        }
        IdentityCommand::Add { name, username, system, rotate_every_days, password } => {
            let si = api::call::<op::service_identity_add>(
                &session,
                ServiceIdentityInput {
                    name,
                    system,
                    username,
                    password: password.read()?,
                    rotation_period_days: Some(rotate_every_days),
                },
            )
            .await?;
            println!(
                "Added service identity {} ({} {}), sealed for {} worker key(s).",
                si.name,
                si.system.as_str(),
                si.username,
                si.sealed_for.len()
            );
            Ok(())
        }
        IdentityCommand::Rotate { name, username, rotate_every_days, password } => {
            let si = api::call::<op::service_identity_rotate>(
                &session,
                ServiceIdentityRotateInput {
                    name,
                    username,
                    password: password.read()?,
                    rotation_period_days: rotate_every_days,
                },
            )
            .await?;
            println!(
                "Rotated {}; next rotation due {}.",
                si.name,
                si.rotation_due.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "never".into())
            );
            Ok(())
        }
        IdentityCommand::List { json } => {
            output::service_identities(&api::call::<op::service_identities>(&session, NoInput {}).await?, json)
        }
        IdentityCommand::Test { name, json } => {
            let session = session.with_worker_key(keystore::load(&location()).await?);
            let t = api::call::<op::service_identity_test>(&session, IdentityNameInput { name }).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"name": t.name, "opened": true, "username": t.username, "used_by": t.used_by})
                );
            } else {
                println!("{}", t.message);
            }
            Ok(())
        }
        IdentityCommand::Reseal => {
            let session = session.with_worker_key(keystore::load(&location()).await?);
            let r = api::call::<op::service_identities_reseal>(&session, NoInput {}).await?;
            println!(
                "Resealed {} identit{} for the trusted worker keys.",
                r.resealed.len(),
                if r.resealed.len() == 1 { "y" } else { "ies" }
            );
            for f in &r.failed {
                println!("  not resealed: {}: {}", f.name, f.reason);
            }
            if r.failed.is_empty() {
                Ok(())
            } else {
                Err(Error::forbidden(format!(
                    "{} identit(ies) could not be opened with this worker's key",
                    r.failed.len()
                )))
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "worker".into())
}
