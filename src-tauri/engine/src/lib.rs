//! # eio-engine — the work that runs without a human watching
//!
//! Will own the sync scheduler (one watcher per source, elected by a lease), the job
//! worker pool (TTL leases with heartbeats, `SKIP LOCKED`, per-site and per-cluster limits
//! checked in SQL, the kill switch checked before every external call) and the report
//! scheduler. It runs inside the desktop ("local workers") or in `eio serve`/`eio worker`,
//! and coordinates with other instances only through PostgreSQL.
//!
//! It must never keep state another instance needs in memory, never issue an external
//! action without first recording it, and never run a destructive step the job's policy
//! and approval don't cover. Empty until the jobs issue lands.
