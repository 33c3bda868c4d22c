//! The one error type of the vSphere client, and vSphere's own faults as typed values.
//!
//! Messages say what happened and what the operator can do. They never contain a
//! password: the only credential-bearing request (Login) is never echoed, and fault texts
//! come from vCenter, which does not repeat passwords either.
use std::fmt;

use serde::{Deserialize, Serialize};

use super::xml::{Node, XmlError};
use crate::http::HttpError;

/// The vSphere fault types the client tells apart; everything else is [`FaultKind::Other`]
/// with its type name kept in [`SoapFault::type_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Wrong user name or password (or the account is locked).
    InvalidLogin,
    /// The session is gone (expired, logged out, vCenter restarted).
    NotAuthenticated,
    /// The account lacks a privilege.
    NoPermission,
    InvalidArgument,
    /// A property path vCenter does not know (an older vCenter, or a path typo).
    InvalidProperty,
    /// An object that no longer exists (deleted while we looked).
    ManagedObjectNotFound,
    /// A WaitForUpdatesEx version vCenter no longer accepts: resync fully.
    InvalidCollectorVersion,
    InvalidState,
    InvalidPowerState,
    TaskInProgress,
    RequestCanceled,
    /// Any other fault; see the type name.
    Other,
}

impl FaultKind {
    fn from_type_name(name: &str) -> FaultKind {
        match name {
            "InvalidLogin" => FaultKind::InvalidLogin,
            "NotAuthenticated" => FaultKind::NotAuthenticated,
            "NoPermission" => FaultKind::NoPermission,
            "InvalidArgument" | "InvalidRequest" => FaultKind::InvalidArgument,
            "InvalidProperty" => FaultKind::InvalidProperty,
            "ManagedObjectNotFound" => FaultKind::ManagedObjectNotFound,
            "InvalidCollectorVersion" => FaultKind::InvalidCollectorVersion,
            "InvalidState" => FaultKind::InvalidState,
            "InvalidPowerState" => FaultKind::InvalidPowerState,
            "TaskInProgress" => FaultKind::TaskInProgress,
            "RequestCanceled" => FaultKind::RequestCanceled,
            _ => FaultKind::Other,
        }
    }

    fn hint(self) -> &'static str {
        match self {
            FaultKind::InvalidLogin => " (check the user name and password for this vCenter)",
            FaultKind::NotAuthenticated => " (the session ended; log in again)",
            FaultKind::NoPermission => " (grant the service account the privilege named, or read-only on the object)",
            FaultKind::InvalidCollectorVersion => " (the change stream was lost; a full sync is needed)",
            _ => "",
        }
    }
}

/// A SOAP fault from vCenter: its kind, the vSphere type name and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoapFault {
    pub kind: FaultKind,
    /// The vSphere fault type, e.g. `InvalidLogin`, `InvalidProperty`.
    pub type_name: String,
    pub message: String,
    /// Extra detail a fault carries (the property of InvalidProperty, the object of
    /// ManagedObjectNotFound), when present.
    pub detail: Option<String>,
}

impl SoapFault {
    pub fn new(type_name: &str, message: impl Into<String>) -> SoapFault {
        SoapFault {
            kind: FaultKind::from_type_name(type_name),
            type_name: type_name.to_owned(),
            message: message.into(),
            detail: None,
        }
    }

    /// From a `soapenv:Fault` element.
    pub(crate) fn from_envelope_fault(fault: &Node) -> SoapFault {
        let message = fault.text_of("faultstring").unwrap_or_default().trim().to_owned();
        // <detail><InvalidLoginFault xsi:type="InvalidLogin">…</detail>
        let inner = fault.child("detail").and_then(|d| d.children.first());
        let type_name = inner
            .and_then(|n| n.xsi_type.clone().or_else(|| n.name.strip_suffix("Fault").map(Into::into)))
            .map(|t| strip_prefix(&t).to_owned())
            .unwrap_or_else(|| fault.text_of("faultcode").unwrap_or("SOAP fault").trim().to_owned());
        let mut f = SoapFault::new(&type_name, message);
        f.detail = inner.and_then(detail_of);
        f
    }

    /// From a `LocalizedMethodFault` (a task's `info.error`, a `missingSet` entry).
    pub(crate) fn from_localized(node: &Node) -> SoapFault {
        let inner = node.child("fault");
        let type_name = inner.and_then(|f| f.xsi_type.as_deref()).map(strip_prefix).unwrap_or("MethodFault").to_owned();
        let message = node.text_of("localizedMessage").unwrap_or_default().trim().to_owned();
        let mut f = SoapFault::new(&type_name, message);
        f.detail = inner.and_then(detail_of);
        f
    }
}

fn strip_prefix(t: &str) -> &str {
    t.rsplit(':').next().unwrap_or(t)
}

fn detail_of(n: &Node) -> Option<String> {
    if let Some(name) = n.text_of("name") {
        return Some(format!("property {}", name.trim()));
    }
    if let Some(obj) = n.child("obj") {
        return Some(format!("object {}:{}", obj.mo_type.as_deref().unwrap_or("?"), obj.text.trim()));
    }
    n.text_of("invalidProperty").map(|p| format!("argument {}", p.trim()))
}

impl fmt::Display for SoapFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.type_name)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        f.write_str(self.kind.hint())
    }
}

/// Everything that can go wrong talking to a vCenter.
#[derive(Debug, thiserror::Error)]
pub enum VcenterError {
    /// Transport: connection, TLS (with the thumbprint to pin), timeout, size cap, status.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// vCenter answered with a SOAP fault.
    #[error("vCenter {host} refused {method}: {fault}")]
    Fault { host: String, method: &'static str, fault: Box<SoapFault> },
    /// The answer was not a vSphere response we can read (truncated, not XML, a DTD…).
    #[error("the answer from {host} to {method} was refused: {reason}")]
    Malformed { host: String, method: &'static str, reason: XmlError },
    /// The answer was XML but did not carry what the call needs.
    #[error("the answer from {host} to {method} is missing {what}")]
    Unexpected { host: String, method: &'static str, what: String },
    /// The change stream's version is no longer valid; the caller must resync fully.
    #[error("vCenter {host} no longer accepts change-stream version {version:?}; a full sync is needed")]
    VersionLost { host: String, version: String },
    /// An earlier change-stream call failed or was dropped while applying its answer, so
    /// the watcher's view of the objects is incomplete; the caller must resync fully.
    #[error("the change stream from {host} was interrupted while applying an answer; a full sync is needed")]
    StreamInterrupted { host: String },
    /// A task vCenter ran for us failed.
    #[error("task {task} on {host} failed: {fault}")]
    TaskFailed { host: String, task: String, fault: Box<SoapFault> },
    /// A task did not finish in the time we were willing to wait (it may still be running).
    #[error("task {task} on {host} did not finish within {seconds} s; it may still be running in vCenter")]
    TaskTimeout { host: String, task: String, seconds: u64 },
    /// vCenter does not know this task (any more): it was purged some time after it ended,
    /// or vCenter restarted. Whether its action happened must be read from the target.
    #[error(
        "vCenter {host} no longer knows task {task} (purged after it ended, or vCenter restarted); \
         check the state of what it acted on instead of starting it again"
    )]
    TaskNotFound { host: String, task: String },
    /// The tagging REST API failed.
    #[error("the tagging API of {host} failed: {reason}")]
    Tagging { host: String, reason: String },
    /// The configuration cannot work (e.g. a URL without a host).
    #[error("invalid vCenter configuration: {0}")]
    Config(String),
}

impl VcenterError {
    /// The SOAP fault inside, if this is one (also a failed task's).
    pub fn fault(&self) -> Option<&SoapFault> {
        match self {
            VcenterError::Fault { fault, .. } | VcenterError::TaskFailed { fault, .. } => Some(fault),
            _ => None,
        }
    }

    /// True when a fresh full sync (not a retry of the same call) is the way forward.
    pub fn needs_full_resync(&self) -> bool {
        matches!(self, VcenterError::VersionLost { .. } | VcenterError::StreamInterrupted { .. })
            || self.fault().is_some_and(|f| matches!(f.kind, FaultKind::NotAuthenticated))
    }
}
