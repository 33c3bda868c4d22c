//! (wsman: being written; see the crate docs.)
