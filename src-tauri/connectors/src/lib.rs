//! # eio-connectors — the one place that talks to each external system
//!
//! Owns the vSphere SOAP client (PropertyCollector paging, WaitForUpdatesEx), the
//! Redfish client with its Dell OEM extension, WSMan, racadm and OpenManage Enterprise.
//! Each returns plain domain records; none of them touches the database, and none of
//! them logs or returns a credential. Every HTTP request goes through [`http`].
pub mod http;
pub mod idrac;
pub mod ome;
pub mod probe;
pub mod racadm;
pub mod redfish;
pub mod vcenter;
pub mod wsman;

pub use eio_secret::{Credentials, Secret};
