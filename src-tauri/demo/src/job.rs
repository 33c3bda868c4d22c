//! The demo's users (an operator and an approver, with a fresh throwaway password each run)
//! and the maintenance-mode job the operator submits, over their own connection, that waits
//! for approval.
use eio_core::config::{Config, DatabaseChoice};
use eio_core::error::ErrorCode;
use eio_core::identity::users::{self, NewUser, UserRole};
use eio_core::jobs::{self, JobSpec, MaintenanceTarget, SubmitRequest};
use eio_core::{Database, Error};
use eio_lab::estate::Estate;
use eio_secret::Secret;

use crate::state::hex;
use crate::{APPROVER_EMAIL, OPERATOR_EMAIL};

const OPERATOR_LOGIN: &str = "eio_demo_operator";
const APPROVER_LOGIN: &str = "eio_demo_approver";

/// The demo users, and the one maintenance job the demo operator submitted that waits for
/// approval (kept if it is still waiting from an earlier run).
pub(crate) async fn pending_job(config: &Config, db: &Database, estate: &Estate) -> Result<Option<uuid::Uuid>, Error> {
    let password = demo_password()?;
    for (email, login, role, caps, name) in [
        (OPERATOR_EMAIL, OPERATOR_LOGIN, UserRole::Operator, vec!["maintenance_mode".to_owned()], "Demo Operator"),
        (APPROVER_EMAIL, APPROVER_LOGIN, UserRole::Approver, vec!["maintenance_mode".to_owned()], "Demo Approver"),
    ] {
        let new = NewUser {
            email: email.into(),
            role,
            login: login.into(),
            capabilities: caps,
            display_name: Some(name.into()),
            password: Some(password.clone()),
        };
        match users::add(db, &new).await {
            Ok(_) => {}
            Err(e) if e.code == ErrorCode::Conflict => users::set_password(db, email, &password).await?,
            // The login outlived an earlier demo database (roles are cluster-wide): link it as
            // it is, then give it this run's password.
            Err(e) if e.code == ErrorCode::Forbidden && e.message.contains("already exists") => {
                match users::add(db, &NewUser { password: None, ..new }).await {
                    Ok(_) => {}
                    Err(e) if e.code == ErrorCode::Conflict => {} // already this database's user
                    Err(e) => return Err(e),
                }
                users::set_password(db, email, &password).await?;
            }
            Err(e) => return Err(e),
        }
    }
    let waiting = jobs::list(db, Some("awaiting_approval"), 200).await?;
    if let Some(j) = waiting.iter().find(|j| j.initiated_by.as_deref() == Some(OPERATOR_EMAIL)) {
        return Ok(Some(j.id));
    }
    let operator = connect_as(config, OPERATOR_LOGIN, &password).await?;
    let b = &estate.blocked;
    let submitted = jobs::submit(
        &operator,
        &SubmitRequest {
            spec: JobSpec::MaintenanceMode(MaintenanceTarget {
                hosts: vec![b.host.clone()],
                cluster: None,
                exit: false,
            }),
            title: Some(format!("Patch window: maintenance mode for {}", b.host)),
            policy_name: None,
            policy: None,
            idempotency_key: None,
            run_at: None,
            schedule: None,
            dry_run: false,
        },
    )
    .await;
    operator.pool().close().await;
    Ok(submitted?.job.map(|j| j.id))
}

/// A throwaway password for the demo logins, new every run (never printed or kept).
pub(crate) fn demo_password() -> Result<Secret, Error> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(Secret::new(hex(&bytes)))
}

/// A connection as `login` to the same database.
pub(crate) async fn connect_as(config: &Config, login: &str, password: &Secret) -> Result<Database, Error> {
    let options = match &config.database {
        DatabaseChoice::Embedded => eio_core::db::embedded_connect_options(config, login)?,
        DatabaseChoice::External { url, .. } => {
            let options =
                url.connect_options().username(login).password(password.expose()).application_name("eio-demo");
            eio_core::db::guard_password(&options, true).await?;
            options
        }
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .map_err(|e| Error::from(e).context(format!("connecting as the demo login {login}")))?;
    Ok(Database::from_pool(pool))
}
