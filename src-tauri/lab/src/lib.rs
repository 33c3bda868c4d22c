//! # eio-lab — simulators for what no third-party peer offers
//!
//! Owns the demo lab and the fault-injection peers: PropertyCollector paging, blocked DRS
//! evacuation, long-running tasks, the Dell job queue and SimpleUpdate, WSMan for
//! iDRAC7/8, OME, hundreds of BMCs in one process, and injected faults (latency, resets,
//! truncated bodies, TLS errors). Their responses are checked against third-party samples
//! (vcsim, sushy-emulator, the PyPI wheels' captures), so the lab can't drift into
//! speaking a dialect of its own.
//!
//! Every simulator serves real HTTPS on loopback ([`tls`]) so connectors are tested on the
//! same path as production, TLS pinning included. Never used by production code paths.
pub mod dell;
pub mod estate;
pub mod tap;
pub mod tls;
pub mod vcenter;
pub mod vcsim;
