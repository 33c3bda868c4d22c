//! # eio-engine — the work that runs without a human watching
//!
//! Owns source sync ([`sync`]: one transaction per source, every change in the ledger),
//! and — as the jobs and reports issues land — the job worker pool and the report
//! scheduler. It runs inside the desktop ("local workers") or in `eio serve`/`eio worker`,
//! and coordinates with other instances only through PostgreSQL.
//!
//! It must never keep state another instance needs in memory, never issue an external
//! action without first recording it, never run a destructive step the job's policy and
//! approval don't cover, and never hold a decrypted credential longer than the call that
//! uses it.
pub mod jobs;
pub mod sync;
