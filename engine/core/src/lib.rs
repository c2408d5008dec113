//! The pure, deterministic Zeebe-compatible state machine of Apsis.
//!
//! `process(state, command, ctx) -> Outcome { events, result, effects }`: commands in; events (already applied to
//! the state), a response or a rejection, and after-commit effects out. Only events change the state
//! ([`State::apply`]), so replaying a log of events into a fresh state rebuilds it exactly.
//!
//! Invariants: no I/O, no clock (time is the record timestamp in [`Context`]), no threads, no randomness; keys come
//! from a generator in the state (Zeebe's `(partition << 51) + n` encoding); no hash-map iteration order reaches
//! the log. This crate must not depend on tokio, tonic, the store or the server (checked by a test over
//! `cargo metadata`).

pub mod command;
pub mod event;
pub mod json;
pub mod key;
mod processing;
pub mod state;

pub use command::{Command, Effect, Outcome, Rejection, RejectionKind, Response};
pub use event::{Entry, Event};
pub use json::Json;
pub use key::Key;
pub use processing::{process, Context, JobStreams, StreamTarget, MAX_STEPS_PER_COMMAND};
pub use state::State;

/// Faults of the core: a snapshot that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected a snapshot, but found an empty one")]
    SnapshotEmpty,
    #[error("Expected a snapshot of format version {expected}, but found version {0}", expected = state::SNAPSHOT_FORMAT_VERSION)]
    SnapshotVersion(u8),
    #[error("Expected a decodable snapshot, but decoding failed")]
    SnapshotDecode(#[source] postcard::Error),
    #[error("Expected the deployed resources of a snapshot to compile, but one does not")]
    Recompile(#[source] apsis_bpmn::Error),
    #[error(transparent)]
    Codec(#[from] event::CodecError),
}
