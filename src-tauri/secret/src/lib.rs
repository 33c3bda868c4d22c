//! # eio-secret — the one type that holds a plaintext credential
//!
//! A decrypted password exists only inside a [`Secret`]: its memory is zeroed when dropped,
//! and Debug, Display and serde all print `***`, so a secret that strays into a log line,
//! an error message, a report or a JSON payload shows up as `***` and nothing else. The
//! only way to the plaintext is [`Secret::expose`], which call sites use at the last
//! moment (building an Authorization header, a SOAP Login body).
//!
//! This crate must stay tiny and dependency-light: both the service layer (which decrypts)
//! and the connectors (which authenticate) depend on it.
use std::fmt;

use zeroize::Zeroizing;

/// A plaintext secret. Redacted everywhere it could be printed or serialized.
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

/// What every redacted secret prints as.
pub const REDACTED: &str = "***";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The plaintext. Use it where it leaves the process (an auth header, a login body),
    /// never to format, log or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// Secrets may arrive as input (a password typed into a form); they never go out.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        Ok(Secret(s))
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        // Not constant-time: secrets are compared only in tests and change detection.
        self.0.as_bytes() == other.0.as_bytes()
    }
}
impl Eq for Secret {}

/// A username and its password, as an external system expects them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Credentials { username: username.into(), password: password.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "calvin-7Q!x";

    #[test]
    fn never_printed_or_serialized() {
        let c = Credentials::new("root", PLAIN);
        let shown = [
            format!("{c:?}"),
            format!("{}", c.password),
            format!("{:?}", c.password),
            serde_json::to_string(&c).unwrap(),
            format!("{:#?}", Some(&c)),
        ];
        for s in &shown {
            assert!(!s.contains(PLAIN), "leaked: {s}");
        }
        assert_eq!(serde_json::to_value(&c).unwrap(), serde_json::json!({"username": "root", "password": "***"}));
    }

    #[test]
    fn reachable_only_through_expose() {
        let c: Credentials = serde_json::from_str(&format!(r#"{{"username":"root","password":"{PLAIN}"}}"#)).unwrap();
        assert_eq!(c.password.expose(), PLAIN);
        assert_eq!(c.password.len(), PLAIN.len());
    }
}
