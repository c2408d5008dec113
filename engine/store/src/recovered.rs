//! What opening a store hands to the engine: the snapshot, the replay and a report of repairs.

use std::path::PathBuf;

use crate::error::{Error, FrameProblem};
use crate::replay::Replay;
use crate::Position;

/// What [`Store::open`](crate::Store::open) found and hands to the engine for its restart.
#[derive(Debug)]
pub struct Recovered {
    /// The newest snapshot that passed validation, if any.
    pub snapshot: Option<Snapshot>,
    /// Every log entry after the snapshot, in order, streamed from disk.
    pub replay: Replay,
    /// What recovery repaired or skipped; worth a log line when not empty.
    pub report: RecoveryReport,
}

/// A validated snapshot: the state after applying every entry up to `position`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub position: Position,
    pub bytes: Vec<u8>,
}

/// Repairs and fallbacks made while opening. Empty after a clean shutdown.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// A torn or damaged tail cut from the last segment (a crash mid-write).
    pub torn_tail: Option<TornTail>,
    /// A last segment removed because a crash left it without a complete header (it held
    /// no frames), with its size in bytes.
    pub removed_headerless_segment: Option<(PathBuf, u64)>,
    /// Snapshots newer than the chosen one that failed validation, newest first.
    pub skipped_snapshots: Vec<Error>,
    /// Temporary snapshot files of a crashed snapshot write, removed.
    pub removed_temporary_files: Vec<PathBuf>,
}

/// Where a torn tail was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub path: PathBuf,
    /// The segment now ends here.
    pub offset: u64,
    pub bytes_dropped: u64,
    /// Why the frame at `offset` was not intact.
    pub problem: FrameProblem,
}

impl RecoveryReport {
    /// Total log bytes dropped by tail repair.
    pub fn bytes_dropped(&self) -> u64 {
        self.torn_tail.as_ref().map_or(0, |t| t.bytes_dropped)
            + self.removed_headerless_segment.as_ref().map_or(0, |s| s.1)
    }

    /// True if nothing was repaired or skipped.
    pub fn is_clean(&self) -> bool {
        self.bytes_dropped() == 0
            && self.skipped_snapshots.is_empty()
            && self.removed_temporary_files.is_empty()
    }
}
