//! The identity domain's operations, as the registry ([`crate::api`]) declares them: who
//! this session is, users, and service identities. The database decides who may do what;
//! inputs carrying a password turn it into a [`Secret`] at once and never echo it.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use eio_secret::{Credentials, Secret};

use super::service_identities::{ExternalSystem, NewServiceIdentity, ServiceIdentity, WorkerKeyInfo};
use super::users::{NewUser, User, UserRole};
use super::Me;
use crate::api::{NoInput, Session};
use crate::error::Result;

pub async fn me(session: &Session, _: NoInput) -> Result<Me> {
    crate::identity::me(&session.db).await
}

pub async fn users(session: &Session, _: NoInput) -> Result<Vec<User>> {
    crate::identity::users::list(&session.db).await
}

/// A new user. The password, if any, is turned into a SCRAM verifier before it leaves.
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct UserAddInput {
    pub email: String,
    pub role: UserRole,
    pub login: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    #[ts(type = "string | null")]
    #[schemars(with = "Option<String>")]
    pub password: Option<Secret>,
}

pub async fn user_add(session: &Session, input: UserAddInput) -> Result<User> {
    crate::identity::users::add(
        &session.db,
        &NewUser {
            email: input.email,
            role: input.role,
            login: input.login,
            capabilities: input.capabilities,
            display_name: input.display_name,
            password: input.password,
        },
    )
    .await
}

#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct EmailInput {
    pub email: String,
}

pub async fn user_disable(session: &Session, input: EmailInput) -> Result<User> {
    crate::identity::users::disable(&session.db, &input.email).await
}

pub async fn service_identities(session: &Session, _: NoInput) -> Result<Vec<ServiceIdentity>> {
    let may = super::me(&session.db).await?.may;
    if may.run_workers || may.manage_service_identities {
        // Overdue rotations become findings before the list says so.
        super::service_identities::refresh_rotation_findings(&session.db).await?;
    }
    super::service_identities::list(&session.db).await
}

/// Credentials for a service identity: sealed for the workers as soon as they arrive.
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct ServiceIdentityInput {
    pub name: String,
    #[serde(default = "default_system")]
    pub system: ExternalSystem,
    pub username: String,
    #[ts(type = "string")]
    #[schemars(with = "String")]
    pub password: Secret,
    #[serde(default)]
    pub rotation_period_days: Option<i32>,
}

fn default_system() -> ExternalSystem {
    ExternalSystem::Other
}

pub async fn service_identity_add(session: &Session, input: ServiceIdentityInput) -> Result<ServiceIdentity> {
    crate::identity::service_identities::add(
        &session.db,
        &NewServiceIdentity {
            name: input.name,
            system: input.system,
            credentials: Credentials { username: input.username, password: input.password },
            rotation_period_days: input.rotation_period_days.unwrap_or(90),
        },
    )
    .await
}

/// New credentials for a service identity; the username stays unless a new one is given.
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct ServiceIdentityRotateInput {
    pub name: String,
    #[serde(default)]
    pub username: Option<String>,
    #[ts(type = "string")]
    #[schemars(with = "String")]
    pub password: Secret,
    /// Days until the next rotation is due, from now on (None keeps the identity's period).
    #[serde(default)]
    pub rotation_period_days: Option<i32>,
}

pub async fn service_identity_rotate(session: &Session, input: ServiceIdentityRotateInput) -> Result<ServiceIdentity> {
    let username = match input.username.filter(|u| !u.trim().is_empty()) {
        Some(u) => u,
        None => super::service_identities::get(&session.db, &input.name).await?.username,
    };
    super::service_identities::rotate_every(
        &session.db,
        &input.name,
        &Credentials { username, password: input.password },
        input.rotation_period_days,
    )
    .await
}

/// A user's new role (admins).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, ts_rs::TS, schemars::JsonSchema)]
pub struct UserRoleInput {
    pub email: String,
    pub role: UserRole,
}

pub async fn user_set_role(s: &Session, i: UserRoleInput) -> Result<User> {
    super::users::set_role(&s.db, &i.email, i.role).await
}

pub async fn user_enable(s: &Session, i: EmailInput) -> Result<User> {
    super::users::enable(&s.db, &i.email).await
}

/// A user's capabilities, replacing the ones they have (admins).
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct UserCapabilitiesInput {
    pub email: String,
    /// firmware_update, maintenance_mode, power, relaxed_policy, site:<CODE>; none clears them.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

pub async fn user_set_capabilities(session: &Session, input: UserCapabilitiesInput) -> Result<User> {
    super::users::set_capabilities(&session.db, &input.email, &input.capabilities).await
}

/// A new password: admins set anyone's, everyone their own. Only its SCRAM verifier
/// reaches the database.
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct UserPasswordInput {
    pub email: String,
    #[ts(type = "string")]
    #[schemars(with = "String")]
    pub password: Secret,
}

/// The answer to a change that returns nothing else.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Done {
    /// One sentence saying what was done.
    pub message: String,
}

pub async fn user_set_password(session: &Session, input: UserPasswordInput) -> Result<Done> {
    if input.password.is_empty() {
        return Err(crate::error::Error::invalid("the password is empty"));
    }
    super::users::set_password(&session.db, &input.email, &input.password).await?;
    Ok(Done { message: format!("Password of {} changed.", input.email) })
}

pub async fn worker_keys(session: &Session, _: NoInput) -> Result<Vec<WorkerKeyInfo>> {
    super::service_identities::worker_keys(&session.db).await
}

/// A worker's public key (`age1…`, printed by `eio identity init-worker-key`).
#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct WorkerKeyInput {
    pub public_key: String,
    /// Required to trust a key: which machine it is.
    #[serde(default)]
    pub label: Option<String>,
}

pub async fn worker_key_trust(session: &Session, input: WorkerKeyInput) -> Result<Done> {
    let label = input
        .label
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| crate::error::Error::invalid("label the key with the machine it belongs to"))?;
    super::service_identities::trust_worker_key(&session.db, input.public_key.trim(), &label).await?;
    Ok(Done {
        message: format!(
            "Trusted {} (\"{label}\"). Reseal on a worker so existing credentials include it.",
            input.public_key.trim()
        ),
    })
}

pub async fn worker_key_revoke(session: &Session, input: WorkerKeyInput) -> Result<Done> {
    super::service_identities::revoke_worker_key(&session.db, input.public_key.trim()).await?;
    Ok(Done {
        message: format!("Revoked {}. Reseal on a worker so existing credentials drop it.", input.public_key.trim()),
    })
}

#[derive(Debug, Clone, Deserialize, TS, JsonSchema)]
pub struct IdentityNameInput {
    pub name: String,
}

/// A successful opening: the credentials stay in memory here, only their username leaves.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct IdentityTest {
    pub name: String,
    pub username: String,
    /// The sources that authenticate with it.
    pub used_by: Vec<String>,
    pub message: String,
}

pub async fn service_identity_test(session: &Session, input: IdentityNameInput) -> Result<IdentityTest> {
    let key = session.worker_key()?;
    let (id, creds) = super::service_identities::open_for_use(&session.db, &input.name, key).await?;
    // Opening proves the key and the seal; each source's own sync proves the login.
    super::service_identities::record_use(&session.db, id, Ok(())).await?;
    let si = super::service_identities::get(&session.db, &input.name).await?;
    Ok(IdentityTest {
        message: format!("{}: credentials for {} open with this machine's worker key.", si.name, creds.username),
        name: si.name,
        username: creds.username.clone(),
        used_by: si.used_by,
    })
}

/// What resealing did.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct Reseal {
    pub resealed: Vec<String>,
    /// (identity, why) for those this machine's key can't open.
    pub failed: Vec<ResealFailure>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ResealFailure {
    pub name: String,
    pub reason: String,
}

pub async fn service_identities_reseal(session: &Session, _: NoInput) -> Result<Reseal> {
    let key = session.worker_key()?;
    let (resealed, failed) = super::service_identities::reseal_all(&session.db, key).await?;
    Ok(Reseal { resealed, failed: failed.into_iter().map(|(name, reason)| ResealFailure { name, reason }).collect() })
}
