//! Sealing service-identity credentials for the workers' public keys, and opening them
//! with a worker's private key.
//!
//! The ciphertext is an age file (X25519 recipients): admins seal with the public keys
//! alone and can never open what they sealed; only a process holding a worker key can.
//! The sealed payload names the identity it belongs to, so a ciphertext copied onto
//! another identity's row is refused rather than silently used.
//!
//! Plaintext only ever lives in [`Secret`]s and zeroized buffers; errors name the
//! identity and the keys involved, never the secret.
use std::io::{Read, Write};

use age::secrecy::ExposeSecret;
use eio_secret::{Credentials, Secret};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::Error;

/// A worker's private key (age X25519 identity). Never printed.
#[derive(Clone)]
pub struct WorkerKey(age::x25519::Identity);

impl WorkerKey {
    pub fn generate() -> Self {
        WorkerKey(age::x25519::Identity::generate())
    }

    /// Parse an `AGE-SECRET-KEY-1…` string (as stored in the key file or keyring).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .ok_or_else(|| Error::config("no AGE-SECRET-KEY line found in the worker key"))?;
        line.parse::<age::x25519::Identity>()
            .map(WorkerKey)
            .map_err(|_| Error::config("the worker key is not a valid age X25519 secret key"))
    }

    /// The public half, as `age1…`: what admins trust and seal for.
    pub fn public_key(&self) -> String {
        self.0.to_public().to_string()
    }

    /// The secret key text, for writing to the key file or keyring only.
    pub fn secret_text(&self) -> Secret {
        Secret::new(self.0.to_string().expose_secret().to_owned())
    }
}

impl std::fmt::Debug for WorkerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WorkerKey({})", self.public_key())
    }
}

#[derive(Serialize, Deserialize)]
struct Payload<'a> {
    v: u8,
    identity: &'a str,
    username: &'a str,
    password: &'a str,
}

/// Encrypt `credentials` of identity `name` for every key in `recipients` (`age1…`).
pub fn seal(name: &str, credentials: &Credentials, recipients: &[String]) -> Result<Vec<u8>, Error> {
    if recipients.is_empty() {
        return Err(Error::conflict(
            "no worker key is trusted yet, so credentials can't be sealed for any worker: \
             run `eio identity init-worker-key` on a worker (or have an admin trust its key)",
        ));
    }
    let parsed: Vec<age::x25519::Recipient> = recipients
        .iter()
        .map(|r| {
            r.parse::<age::x25519::Recipient>().map_err(|_| Error::invalid(format!("{r} is not an age public key")))
        })
        .collect::<Result<_, _>>()?;
    let plaintext = Zeroizing::new(
        serde_json::to_vec(&Payload {
            v: 1,
            identity: name,
            username: &credentials.username,
            password: credentials.password.expose(),
        })
        .map_err(|e| Error::internal(e.to_string()))?,
    );
    let encryptor = age::Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| Error::internal(format!("sealing credentials: {e}")))?;
    let mut out = Vec::with_capacity(plaintext.len() + 512);
    let mut writer = encryptor.wrap_output(&mut out).map_err(|e| Error::internal(e.to_string()))?;
    writer.write_all(&plaintext)?;
    writer.finish()?;
    Ok(out)
}

/// Why sealed credentials couldn't be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error(
        "service identity \"{identity}\" is sealed for worker key(s) {}, and this worker's key {this_key} is not \
         among them: use a worker that holds one of those keys, or have an admin reseal or set the credentials again",
        sealed_for.join(", ")
    )]
    WrongKey { identity: String, sealed_for: Vec<String>, this_key: String },
    #[error("the sealed credentials of service identity \"{identity}\" are damaged or were altered; set them again")]
    Damaged { identity: String },
    #[error(
        "the sealed credentials stored for service identity \"{identity}\" belong to \"{found}\": \
         they were moved between identities; set them again"
    )]
    Mismatch { identity: String, found: String },
}

impl From<OpenError> for Error {
    fn from(e: OpenError) -> Self {
        Error::forbidden(e.to_string())
    }
}

/// Decrypt the credentials of identity `name` with `key`.
pub fn open(name: &str, ciphertext: &[u8], sealed_for: &[String], key: &WorkerKey) -> Result<Credentials, OpenError> {
    let damaged = || OpenError::Damaged { identity: name.to_owned() };
    let decryptor = age::Decryptor::new_buffered(ciphertext).map_err(|_| damaged())?;
    let mut reader = decryptor.decrypt(std::iter::once(&key.0 as &dyn age::Identity)).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => OpenError::WrongKey {
            identity: name.to_owned(),
            sealed_for: sealed_for.to_vec(),
            this_key: key.public_key(),
        },
        _ => damaged(),
    })?;
    let mut plaintext = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut plaintext).map_err(|_| damaged())?;
    let payload: Payload = serde_json::from_slice(&plaintext).map_err(|_| damaged())?;
    if payload.v != 1 {
        return Err(damaged());
    }
    if payload.identity != name {
        return Err(OpenError::Mismatch { identity: name.to_owned(), found: payload.identity.to_owned() });
    }
    Ok(Credentials::new(payload.username, Secret::new(payload.password)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "s3al-me-9f2c1e";

    fn creds() -> Credentials {
        Credentials::new("svc-eio@vsphere.local", PLAIN)
    }

    #[test]
    fn sealed_for_one_worker_opens_only_with_its_key() {
        let worker = WorkerKey::generate();
        let other = WorkerKey::generate();
        let ct = seal("vc-prod", &creds(), &[worker.public_key()]).unwrap();
        assert!(ct.starts_with(b"age-encryption.org/v1\n"));
        assert!(!ct.windows(PLAIN.len()).any(|w| w == PLAIN.as_bytes()), "plaintext visible in ciphertext");

        let opened = open("vc-prod", &ct, &[worker.public_key()], &worker).unwrap();
        assert_eq!(opened, creds());

        match open("vc-prod", &ct, &[worker.public_key()], &other) {
            Err(e @ OpenError::WrongKey { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("\"vc-prod\""), "{msg}");
                assert!(msg.contains(&worker.public_key()) && msg.contains(&other.public_key()), "{msg}");
                assert!(!msg.contains(PLAIN));
            }
            other => panic!("expected WrongKey, got {other:?}"),
        }
    }

    #[test]
    fn any_of_several_workers_can_open() {
        let (a, b) = (WorkerKey::generate(), WorkerKey::generate());
        let ct = seal("idrac-fleet", &creds(), &[a.public_key(), b.public_key()]).unwrap();
        assert_eq!(open("idrac-fleet", &ct, &[], &a).unwrap(), creds());
        assert_eq!(open("idrac-fleet", &ct, &[], &b).unwrap(), creds());
    }

    #[test]
    fn tampering_is_detected_and_names_the_identity() {
        let worker = WorkerKey::generate();
        let mut ct = seal("vc-prod", &creds(), &[worker.public_key()]).unwrap();
        let last = ct.len() - 5;
        ct[last] ^= 0x01;
        assert_eq!(open("vc-prod", &ct, &[], &worker).unwrap_err(), OpenError::Damaged { identity: "vc-prod".into() });
        let truncated = &seal("vc-prod", &creds(), &[worker.public_key()]).unwrap()[..60];
        assert!(matches!(open("vc-prod", truncated, &[], &worker), Err(OpenError::Damaged { .. })));
    }

    #[test]
    fn a_ciphertext_moved_to_another_identity_is_refused() {
        let worker = WorkerKey::generate();
        let ct = seal("vc-lab", &creds(), &[worker.public_key()]).unwrap();
        assert_eq!(
            open("vc-prod", &ct, &[], &worker).unwrap_err(),
            OpenError::Mismatch { identity: "vc-prod".into(), found: "vc-lab".into() }
        );
    }

    #[test]
    fn keys_round_trip_through_their_text_and_never_print_the_secret() {
        let k = WorkerKey::generate();
        let text = k.secret_text();
        let again =
            WorkerKey::parse(&format!("# created by eio\n# public key: {}\n{}\n", k.public_key(), text.expose()))
                .unwrap();
        assert_eq!(again.public_key(), k.public_key());
        assert!(!format!("{k:?}").contains("AGE-SECRET-KEY"));
        assert!(WorkerKey::parse("nonsense").is_err());
        assert!(seal("x", &creds(), &[]).unwrap_err().message.contains("init-worker-key"));
    }
}
