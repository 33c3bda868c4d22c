//! # eio-core — EIO's domain services over the shared PostgreSQL
//!
//! Owns the model of the estate (identity, sites, inventory, IPAM, jobs, reports) as the
//! database holds it: configuration and the choice of database ([`config`]), connections,
//! migrations and the embedded default cluster ([`db`]), one service module per domain —
//! [`identity`], [`sources`], [`inventory`], [`sites`], [`ipam`], [`search`], [`jobs`],
//! [`reports`] and [`status`] — with the operations it offers beside its services (its `ops`
//! module, or next to the service itself, as [`status`] and the jobs' policies and
//! baselines do), the page models the UI reads in one call ([`pages`]), the desktop's
//! sign-in ([`connection`]), the one error type every adapter shows ([`error`]) and the
//! operation registry the desktop, the HTTP API, the command line and the generated
//! TypeScript share ([`api`]).
//!
//! It must never talk to vCenter, an iDRAC or OME (that is `eio-connectors`), never know
//! about Tauri, HTTP or a terminal (those are thin adapters over it), and never hold a
//! decrypted secret longer than the call that needs it. Security rules live in the
//! database (see `migrations/0008_security.sql`); checks here exist for clear messages.
pub mod api;
pub mod config;
pub mod connection;
pub mod db;
pub mod error;
pub mod identity;
pub mod inventory;
pub mod ipam;
pub mod jobs;
pub mod pages;
pub mod reports;
pub mod search;
pub mod sites;
pub mod sources;
pub mod status;

pub use config::Config;
pub use db::Database;
pub use error::{Error, Result};
