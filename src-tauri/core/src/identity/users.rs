//! Humans: PostgreSQL logins mapped to `users` rows, managed through the database's
//! admin-only functions (`create_user`, `set_user_role`, `disable_user`, …).
//!
//! Passwords never travel in plaintext: the client computes the SCRAM-SHA-256 verifier
//! (what `psql`'s `\password` does) and only that reaches the server.
use eio_secret::Secret;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result};
use crate::Database;

crate::db::db_enum! {
    /// What a person may do in EIO (each a PostgreSQL group role of the same name).
    pub enum UserRole: "user_role", "role" {
        Viewer = "viewer",
        Operator = "operator",
        Approver = "approver",
        Admin = "admin",
    }
}

/// A user as listings show it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct User {
    #[ts(type = "string")]
    pub id: uuid::Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub role: UserRole,
    pub capabilities: Vec<String>,
    pub login: String,
    pub disabled: bool,
    #[ts(type = "string")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What `eio user add` asks for.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub role: UserRole,
    pub login: String,
    pub capabilities: Vec<String>,
    pub display_name: Option<String>,
    /// None: no password (authentication by pg_hba.conf: LDAP/AD, GSSAPI, peer).
    pub password: Option<Secret>,
}

/// The SCRAM-SHA-256 verifier PostgreSQL stores for `password`.
pub fn password_verifier(password: &Secret) -> Result<String> {
    if password.is_empty() {
        return Err(Error::invalid("the password is empty"));
    }
    Ok(postgres_protocol::password::scram_sha_256(password.expose().as_bytes()))
}

const USER_COLUMNS: &str =
    "id, email, display_name, role, capabilities, login_role::text AS login, disabled_at IS NOT NULL AS disabled, created_at";

/// Create (or link) the login and its user. Admins only; the database checks.
pub async fn add(db: &Database, new: &NewUser) -> Result<User> {
    let verifier = new.password.as_ref().map(password_verifier).transpose()?;
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM create_user($1, $2::user_role, $3, $4, $5, $6)"))
        .bind(&new.email)
        .bind(new.role.as_str())
        .bind(&new.login)
        .bind(&new.capabilities)
        .bind(verifier)
        .bind(&new.display_name)
        .fetch_one(db.pool())
        .await
        .map_err(|e| map_user_error(e, &new.email, &new.login))
}

fn map_user_error(e: sqlx::Error, email: &str, login: &str) -> Error {
    let err = Error::from(e);
    match err.sqlstate().as_deref() {
        Some("23505") if err.message.contains("users_email_key") => {
            Error::conflict(format!("a user with email {email} already exists"))
        }
        Some("23505") if err.message.contains("users_login_role_key") => {
            Error::conflict(format!("login {login} is already mapped to another user"))
        }
        _ => err,
    }
}

pub async fn list(db: &Database) -> Result<Vec<User>> {
    Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY lower(email)")).fetch_all(db.pool()).await?)
}

/// Refuse new logins and end the user's open sessions.
pub async fn disable(db: &Database, email: &str) -> Result<User> {
    Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM disable_user($1)")).bind(email).fetch_one(db.pool()).await?)
}

pub async fn enable(db: &Database, email: &str) -> Result<User> {
    Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM enable_user($1)")).bind(email).fetch_one(db.pool()).await?)
}

pub async fn set_role(db: &Database, email: &str, role: UserRole) -> Result<User> {
    Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM set_user_role($1, $2::user_role)"))
        .bind(email)
        .bind(role.as_str())
        .fetch_one(db.pool())
        .await?)
}

pub async fn set_capabilities(db: &Database, email: &str, capabilities: &[String]) -> Result<User> {
    Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM set_user_capabilities($1, $2)"))
        .bind(email)
        .bind(capabilities)
        .fetch_one(db.pool())
        .await?)
}

/// Set a user's password (admins: anyone's; everyone: their own).
pub async fn set_password(db: &Database, email: &str, password: &Secret) -> Result<()> {
    sqlx::query("SELECT set_user_password($1, $2)")
        .bind(email)
        .bind(password_verifier(password)?)
        .execute(db.pool())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_are_scram_and_never_contain_the_password() {
        let v = password_verifier(&Secret::new("Tr0ub4dor&3")).unwrap();
        assert!(v.starts_with("SCRAM-SHA-256$4096:"), "{v}");
        assert!(!v.contains("Tr0ub4dor"));
        assert_ne!(v, password_verifier(&Secret::new("Tr0ub4dor&3")).unwrap(), "salted");
        assert!(password_verifier(&Secret::new("")).is_err());
    }
}
