//! # eio-lab — simulators for what no third-party peer offers
//!
//! Will own the demo lab and fault-injection peers: PropertyCollector paging, blocked DRS
//! evacuation, long-running tasks, the Dell job queue and SimpleUpdate, WSMan for
//! iDRAC7/8, OME, hundreds of BMCs in one process, and injected faults. Their responses
//! are checked against third-party samples (vcsim, sushy-emulator, PyPI wheels).
//! Never used by production code paths. Empty until the connector issues land.
