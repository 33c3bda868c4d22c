//! # eio-connectors — the one place that talks to each external system
//!
//! Will own the vSphere SOAP client (PropertyCollector paging, WaitForUpdatesEx), the
//! Redfish client with its Dell OEM extension, WSMan, racadm and OpenManage Enterprise.
//! Each returns plain domain records; none of them touches the database, and none of
//! them logs or returns a credential. Empty until the vCenter and Dell issues land.
pub mod http;

pub use eio_secret::{Credentials, Secret};
