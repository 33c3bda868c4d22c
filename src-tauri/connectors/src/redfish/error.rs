//! The Redfish layer's one error type. Messages name the endpoint and what to do; they never
//! carry a credential, a token or a request body.
use crate::http::{HttpError, TlsFailure};

#[derive(Debug, thiserror::Error)]
pub enum RedfishError {
    #[error(transparent)]
    Http(#[from] HttpError),
    /// HTTP 401: the BMC refused the username/password (or the session expired).
    #[error("{host} refused the credentials (HTTP 401)")]
    Unauthorized { host: String },
    /// HTTP 403: the account is known but lacks a privilege for this resource.
    #[error("{host} refused access to {path} (HTTP 403): the account lacks the privilege for it")]
    Forbidden { host: String, path: String },
    /// HTTP 503 (or 502/504): the BMC is busy or restarting; worth retrying later.
    #[error("{host} is temporarily unavailable (HTTP {status}){}; retry later", retry_hint(*retry_after_seconds))]
    Unavailable { host: String, status: u16, retry_after_seconds: Option<u64> },
    #[error("{host} has no {path} (HTTP 404)")]
    NotFound { host: String, path: String },
    /// Any other error status, with the Redfish error message when the BMC sent one.
    #[error("{host} answered HTTP {status} for {path}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status { host: String, path: String, status: u16, message: String, message_id: Option<String> },
    /// The body is not the JSON we expect (truncated, HTML error page, wrong shape).
    #[error("{host} sent a response to {path} that is not valid Redfish JSON: {reason}")]
    Malformed { host: String, path: String, reason: String },
    /// The endpoint answers HTTPS but is not a Redfish service (e.g. an iDRAC7 without Redfish).
    #[error("{host} does not offer Redfish: {reason}")]
    NotRedfish { host: String, reason: String },
    /// Dell RAC0679: the iDRAC refuses a new job while another job operation runs.
    #[error(
        "{host} refused to start a job: another job is already running (RAC0679: {message}); \
         wait for it to end, or clear the job queue if the job's policy allows"
    )]
    JobAlreadyRunning { host: String, message: String },
    /// The job id is not (or no longer) in the BMC's job queue.
    #[error("{host} has no job {job} (it was never created there, or the job queue was cleared)")]
    JobNotFound { host: String, job: String },
    /// The BMC broke the protocol (e.g. a session created without a token).
    #[error("{host} broke the Redfish protocol: {reason}")]
    Protocol { host: String, reason: String },
}

fn retry_hint(after: Option<u64>) -> String {
    match after {
        Some(s) => format!(", it asks to retry after {s} s"),
        None => String::new(),
    }
}

impl RedfishError {
    /// True for failures of the TLS handshake (untrusted, pin mismatch, legacy protocol).
    pub fn tls_failure(&self) -> Option<&TlsFailure> {
        match self {
            RedfishError::Http(HttpError::Tls(t)) => Some(t),
            _ => None,
        }
    }
}
