//! Jobs: the worker pool ([`worker`]), what a handler sees of its job ([`context`]) and
//! the handlers per job type ([`handlers`]).
pub mod context;
pub mod handlers;
pub mod schedule;
pub mod worker;

pub use worker::{Worker, WorkerConfig};
