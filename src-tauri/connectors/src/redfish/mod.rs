//! (redfish: being written; see the crate docs.)
