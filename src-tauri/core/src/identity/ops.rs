//! The identity domain's operations, as the registry ([`crate::api`]) declares them: who
//! this session is, users, and service identities. The database decides who may do what;
//! inputs carrying a password turn it into a [`Secret`] at once and never echo it.
use schemars::JsonSchema;
use serde::Deserialize;
use ts_rs::TS;

use eio_secret::{Credentials, Secret};

use super::service_identities::{ExternalSystem, NewServiceIdentity, ServiceIdentity};
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
    crate::identity::service_identities::list(&session.db).await
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

pub async fn service_identity_rotate(session: &Session, input: ServiceIdentityInput) -> Result<ServiceIdentity> {
    crate::identity::service_identities::rotate(
        &session.db,
        &input.name,
        &Credentials { username: input.username, password: input.password },
    )
    .await
}
