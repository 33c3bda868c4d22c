//! Service identities: the credentials automated work runs with, one per external
//! system account, sealed for the trusted worker keys.
//!
//! Admins add and rotate them (sealing needs only public keys) but can't read them back;
//! workers open them with their private key just before use ([`open_for_use`]) and
//! report every use ([`record_use`]), which the database audits. Listings never carry
//! ciphertext, and nothing here formats a password: it lives only in a
//! [`Secret`](eio_secret::Secret) inside [`Credentials`].
use chrono::{DateTime, Utc};
use eio_secret::Credentials;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::sealing::{self, WorkerKey};
use crate::error::{Error, Result};
use crate::Database;

crate::db::db_enum! {
    /// The system a service identity logs in to.
    pub enum ExternalSystem: "external_system", "system" {
        Vcenter = "vcenter",
        Idrac = "idrac",
        Ome = "ome",
        Other = "other",
    }
}

/// A service identity as listings show it: never the ciphertext, never a password.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct ServiceIdentity {
    #[ts(type = "string")]
    pub id: Uuid,
    pub name: String,
    pub system: ExternalSystem,
    pub username: String,
    /// The worker public keys the credentials are sealed for.
    pub sealed_for: Vec<String>,
    #[ts(type = "string | null")]
    pub rotation_due: Option<DateTime<Utc>>,
    pub rotation_overdue: bool,
    pub rotation_period_days: i32,
    #[ts(type = "string")]
    pub rotated_at: DateTime<Utc>,
    #[ts(type = "string | null")]
    pub last_success: Option<DateTime<Utc>>,
    #[ts(type = "string | null")]
    pub last_failure: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Sources that authenticate with it ("vcenter vc-prod", "idrac r740-01", …).
    pub used_by: Vec<String>,
}

const COLUMNS: &str = r#"
    s.id, s.name, s.system, s.username, s.recipients AS sealed_for, s.rotation_due,
    coalesce(s.rotation_due < now(), false) AS rotation_overdue, s.rotation_period_days, s.rotated_at,
    s.last_success, s.last_failure, s.last_error,
    ARRAY(SELECT 'vcenter ' || v.name FROM vcenter_instances v WHERE v.service_identity_id = s.id
          UNION ALL SELECT 'idrac ' || i.name FROM idrac_endpoints i WHERE i.service_identity_id = s.id
          UNION ALL SELECT 'ome ' || o.name FROM ome_instances o WHERE o.service_identity_id = s.id
          ORDER BY 1) AS used_by
"#;

pub async fn list(db: &Database) -> Result<Vec<ServiceIdentity>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM service_identities s ORDER BY s.name"))
        .fetch_all(db.pool())
        .await?)
}

pub async fn get(db: &Database, name: &str) -> Result<ServiceIdentity> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM service_identities s WHERE s.name = $1"))
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no service identity named \"{name}\"")))
}

/// The public keys of every trusted (not revoked) worker key.
pub async fn trusted_worker_keys(db: &Database) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT public_key FROM worker_keys WHERE revoked_at IS NULL ORDER BY created_at")
        .fetch_all(db.pool())
        .await?)
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct WorkerKeyInfo {
    pub public_key: String,
    pub label: String,
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
    pub revoked: bool,
}

pub async fn worker_keys(db: &Database) -> Result<Vec<WorkerKeyInfo>> {
    Ok(sqlx::query_as::<_, WorkerKeyInfo>(
        "SELECT public_key, label, created_at, revoked_at IS NOT NULL AS revoked FROM worker_keys ORDER BY created_at",
    )
    .fetch_all(db.pool())
    .await?)
}

/// Trust a worker's public key (admins). Credentials sealed from now on include it.
pub async fn trust_worker_key(db: &Database, public_key: &str, label: &str) -> Result<()> {
    sqlx::query("SELECT trust_worker_key($1, $2)").bind(public_key).bind(label).execute(db.pool()).await?;
    Ok(())
}

pub async fn revoke_worker_key(db: &Database, public_key: &str) -> Result<()> {
    sqlx::query("SELECT revoke_worker_key($1)").bind(public_key).execute(db.pool()).await?;
    Ok(())
}

/// What `eio identity add` asks for.
#[derive(Debug, Clone)]
pub struct NewServiceIdentity {
    pub name: String,
    pub system: ExternalSystem,
    pub credentials: Credentials,
    pub rotation_period_days: i32,
}

/// Seal and store a new service identity (admins).
pub async fn add(db: &Database, new: &NewServiceIdentity) -> Result<ServiceIdentity> {
    check_rotation_period(new.rotation_period_days)?;
    let recipients = trusted_worker_keys(db).await?;
    let mut conn = db.pool().acquire().await?;
    insert_sealed(&mut conn, &new.name, new.system, &new.credentials, &recipients, new.rotation_period_days).await?;
    drop(conn);
    refresh_rotation_findings(db).await?;
    get(db, &new.name).await
}

/// Seal `credentials` for `recipients` and insert the identity on `conn` (which may be a
/// transaction shared with other inserts, e.g. the source that uses it).
pub async fn insert_sealed(
    conn: &mut sqlx::PgConnection,
    name: &str,
    system: ExternalSystem,
    credentials: &Credentials,
    recipients: &[String],
    rotation_period_days: i32,
) -> Result<Uuid> {
    let sealed = sealing::seal(name, credentials, recipients)?;
    sqlx::query_scalar(
        "INSERT INTO service_identities
             (name, system, username, encrypted_credentials, recipients, rotation_period_days, rotation_due, created_by)
         VALUES ($1, $2::external_system, $3, $4, $5, $6, now() + make_interval(days => $6), current_app_user_id())
         RETURNING id",
    )
    .bind(name)
    .bind(system.as_str())
    .bind(&credentials.username)
    .bind(&sealed)
    .bind(recipients)
    .bind(rotation_period_days)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| {
        let err = Error::from(e);
        if err.sqlstate().as_deref() == Some("23505") {
            Error::conflict(format!(
                "a service identity named \"{name}\" already exists: reuse it (--identity {name}) or rotate it"
            ))
        } else {
            err
        }
    })
}

/// How often credentials must be rotated: 1 to 3650 days (the table's check, said first).
fn check_rotation_period(days: i32) -> Result<()> {
    if (1..=3650).contains(&days) {
        Ok(())
    } else {
        Err(Error::invalid(format!("a rotation period is 1 to 3650 days, not {days}")))
    }
}

/// Replace an identity's credentials (admins); the rotation clock restarts.
pub async fn rotate(db: &Database, name: &str, credentials: &Credentials) -> Result<ServiceIdentity> {
    rotate_every(db, name, credentials, None).await
}

/// [`rotate`], with a new rotation period when one is given (None keeps the identity's);
/// the next rotation is due that many days from now.
pub async fn rotate_every(
    db: &Database,
    name: &str,
    credentials: &Credentials,
    rotation_period_days: Option<i32>,
) -> Result<ServiceIdentity> {
    if let Some(days) = rotation_period_days {
        check_rotation_period(days)?;
    }
    let recipients = trusted_worker_keys(db).await?;
    let sealed = sealing::seal(name, credentials, &recipients)?;
    let n = sqlx::query(
        "UPDATE service_identities
         SET username = $2, encrypted_credentials = $3, recipients = $4, rotated_at = now(),
             rotation_period_days = coalesce($5, rotation_period_days),
             rotation_due = now() + make_interval(days => coalesce($5, rotation_period_days))
         WHERE name = $1",
    )
    .bind(name)
    .bind(&credentials.username)
    .bind(&sealed)
    .bind(&recipients)
    .bind(rotation_period_days)
    .execute(db.pool())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::not_found(format!("no service identity named \"{name}\"")));
    }
    refresh_rotation_findings(db).await?;
    get(db, name).await
}

/// Decrypt the credentials of the identity with `id` (workers); see [`open_for_use`].
pub async fn open_by_id(db: &Database, id: Uuid, key: &WorkerKey) -> Result<(String, Credentials)> {
    let name: String = sqlx::query_scalar("SELECT name FROM service_identities WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no service identity with id {id}")))?;
    let (_, credentials) = open_for_use(db, &name, key).await?;
    Ok((name, credentials))
}

/// Decrypt an identity's credentials for use (workers). A failure to open is itself a
/// failed use and is recorded as one.
pub async fn open_for_use(db: &Database, name: &str, key: &WorkerKey) -> Result<(Uuid, Credentials)> {
    let (id, ciphertext, recipients): (Uuid, Vec<u8>, Vec<String>) =
        sqlx::query_as("SELECT id, encrypted_credentials, recipients FROM service_identities WHERE name = $1")
            .bind(name)
            .fetch_optional(db.pool())
            .await?
            .ok_or_else(|| Error::not_found(format!("no service identity named \"{name}\"")))?;
    match sealing::open(name, &ciphertext, &recipients, key) {
        Ok(c) => Ok((id, c)),
        Err(e) => {
            let err = Error::from(e);
            record_use(db, id, Err(&err.message)).await?;
            Err(err)
        }
    }
}

/// Record the outcome of using an identity (the database audits every call).
pub async fn record_use(db: &Database, id: Uuid, outcome: std::result::Result<(), &str>) -> Result<()> {
    match outcome {
        Ok(()) => sqlx::query("UPDATE service_identities SET last_success = now() WHERE id = $1").bind(id),
        Err(message) => {
            sqlx::query("UPDATE service_identities SET last_failure = now(), last_error = left($2, 500) WHERE id = $1")
                .bind(id)
                .bind(message)
        }
    }
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Re-encrypt every identity this worker can open for the currently trusted keys
/// (after trusting a new worker key or revoking one). Needs both the worker key and the
/// admin role. Returns the names resealed and those it could not open.
pub async fn reseal_all(db: &Database, key: &WorkerKey) -> Result<(Vec<String>, Vec<(String, String)>)> {
    let recipients = trusted_worker_keys(db).await?;
    let rows: Vec<(String, Vec<u8>, Vec<String>)> =
        sqlx::query_as("SELECT name, encrypted_credentials, recipients FROM service_identities ORDER BY name")
            .fetch_all(db.pool())
            .await?;
    let (mut done, mut failed) = (Vec::new(), Vec::new());
    for (name, ct, sealed_for) in rows {
        match sealing::open(&name, &ct, &sealed_for, key) {
            Ok(creds) => {
                let sealed = sealing::seal(&name, &creds, &recipients)?;
                sqlx::query(
                    "UPDATE service_identities SET encrypted_credentials = $2, recipients = $3 WHERE name = $1",
                )
                .bind(&name)
                .bind(&sealed)
                .bind(&recipients)
                .execute(db.pool())
                .await?;
                done.push(name);
            }
            Err(e) => failed.push((name, e.to_string())),
        }
    }
    Ok((done, failed))
}

/// Open/resolve the `credential_rotation_due` findings; returns how many are open.
pub async fn refresh_rotation_findings(db: &Database) -> Result<i32> {
    Ok(sqlx::query_scalar("SELECT refresh_credential_findings()").fetch_one(db.pool()).await?)
}
