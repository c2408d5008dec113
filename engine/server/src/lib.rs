//! The Apsis engine server: the runtime that runs the pure core over the durable store (append -> process ->
//! commit -> replies and effects), and later the gRPC gateway, monitoring and the `apsis` binary.
//!
//! Invariants: a reply is sent only after the command's events are committed; the state is rebuilt on start from
//! the newest snapshot plus the log after it; a failed commit stops the runtime (fail-stop) rather than serve a
//! state the disk does not have.

pub mod clock;
pub mod config;
pub mod gateway;
pub mod metrics;
pub mod monitoring;
pub mod runtime;
pub mod streams;
mod trace;

pub use runtime::{
    Engine, EngineHandle, EngineOptions, RecordsFn, RecoveryStats, Reply, SubmitError,
};

/// Faults of the runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected the store to work, but it failed")]
    Store(#[source] apsis_store::Error),
    #[error("Expected the engine state to be readable, but it is not")]
    Core(#[source] apsis_core::Error),
    #[error("Expected to encode a snapshot, but encoding failed")]
    Snapshot(#[source] postcard::Error),
    #[error("Expected to start the runtime thread, but it could not be spawned")]
    Thread(#[source] std::io::Error),
    #[error("Expected the runtime thread to stop cleanly, but it panicked")]
    Panicked,
}
