//! The durable embedded store of the Apsis engine: a CRC-framed, append-only, segmented log
//! of opaque entries with group commit, plus atomic snapshots that let the log be truncated.
//!
//! The engine runtime appends one entry per processed command ([`Store::append`]), commits
//! once per batch ([`Store::commit`]: one write, one `fdatasync`), and only then
//! acknowledges the batch's clients. On restart, [`Store::open`] returns the newest intact
//! snapshot and a streaming [`Replay`] of every entry after it.
//!
//! Invariants:
//! - Positions are dense: the first entry is 1, each next one is the previous plus 1, and
//!   the log on disk never has a gap or a duplicate.
//! - After `commit` returns `Ok`, every entry appended before it survives a crash. After a
//!   crash, the log holds every committed entry plus possibly a prefix of the uncommitted
//!   ones, never anything else.
//! - Recovery only ever cuts what a crash can explain (a torn tail of the last segment, a
//!   frame-less last segment, a temporary snapshot file). Anything else is an [`Error`]
//!   naming file and byte offset; nothing is silently skipped.
//! - The on-disk format is versioned ([`FORMAT_VERSION`]) and pinned by a golden-bytes test.
//!
//! Must not depend on: the engine core, tokio or any async runtime, the clock. Entries and
//! snapshots are opaque bytes here; their encoding belongs to the engine.

mod error;
mod format;
mod options;
mod recovered;
mod recovery;
mod replay;
mod segment;
mod snapshot;
mod store;

pub use error::{Error, FrameProblem, HeaderProblem, IoOp, SnapshotProblem};
pub use format::{FORMAT_VERSION, MAX_PAYLOAD_BYTES};
pub use options::{StoreOptions, SyncMode};
pub use recovered::{Recovered, RecoveryReport, Snapshot, TornTail};
pub use replay::{Entry, Replay};
pub use store::Store;

/// The index of a log entry (its LSN): dense, starting at 1; 0 means "no entry".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position(pub u64);

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
