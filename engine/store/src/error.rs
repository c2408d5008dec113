//! The crate's one error type. Every variant names the file (and byte offset where one
//! applies) so an operator can find the damage.

use std::fmt;
use std::io;
use std::path::PathBuf;

pub use crate::format::{HeaderProblem, SnapshotProblem};

/// A bug, an I/O fault or damaged files. Messages read "Expected to \<do X\>, but \<found Y\>".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    #[error("Expected to {op} {path}, but the operating system reported an error")]
    Io {
        op: IoOp,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The directory is already open by another [`Store`](crate::Store).
    #[error(
        "Expected to take the exclusive lock {path}, but another store (in this or another \
         process) holds it"
    )]
    Locked { path: PathBuf },

    /// Options that cannot work.
    #[error("Expected StoreOptions.{field} to be {expected}, but found {found}")]
    InvalidOptions {
        field: &'static str,
        expected: &'static str,
        found: u64,
    },

    /// A payload larger than [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES).
    #[error("Expected a payload of at most {max} bytes, but found {len} bytes")]
    PayloadTooLarge { len: usize, max: usize },

    /// An earlier write or fdatasync failed; what reached the disk is unknown, so the store
    /// refuses further work. Reopening recovers from what is durable.
    #[error(
        "Expected a store whose earlier writes succeeded, but an earlier write or fdatasync in \
         {dir} failed; reopen the store to recover from the durable log"
    )]
    Poisoned { dir: PathBuf },

    /// `write_snapshot` was asked to cover a position that is not committed.
    #[error(
        "Expected a snapshot position between 1 and the committed position {committed}, but \
         found {covers}"
    )]
    SnapshotPosition { covers: u64, committed: u64 },

    /// A log segment whose header is damaged (and which is not a torn, frame-less tail).
    #[error("Expected a valid log segment header at byte offset 0 of {path}, but found {problem}")]
    SegmentHeader {
        path: PathBuf,
        problem: HeaderProblem,
    },

    /// A damaged frame anywhere but the torn tail of the last segment.
    #[error(
        "Expected to read the log entry at position {expected_position} from {path} at byte \
         offset {offset}, but found {problem}"
    )]
    CorruptFrame {
        path: PathBuf,
        offset: u64,
        expected_position: u64,
        problem: FrameProblem,
    },

    /// Positions do not continue from one segment to the next.
    #[error(
        "Expected the segment after {path} (which ends at byte offset {offset}) to start at \
         position {expected_position}, but {next} starts at position {next_first}: a segment \
         is missing or was cut short"
    )]
    Gap {
        path: PathBuf,
        offset: u64,
        expected_position: u64,
        next: PathBuf,
        next_first: u64,
    },

    /// The log no longer holds the entries right after the chosen snapshot.
    #[error(
        "Expected the log to reach back to position {needed} (the first entry after the \
         snapshot), but the oldest segment {oldest} starts at position {oldest_first}"
    )]
    LogTooShort {
        needed: u64,
        oldest: PathBuf,
        oldest_first: u64,
    },

    /// Snapshots exist but no log segment does.
    #[error(
        "Expected log segment files in {dir} because snapshot {snapshot} exists, but found none"
    )]
    MissingLog { dir: PathBuf, snapshot: PathBuf },

    /// The chosen snapshot covers entries the log does not have.
    #[error(
        "Expected the log to reach the position {covers} covered by {snapshot}, but it ends at \
         position {last}"
    )]
    SnapshotBeyondLog {
        snapshot: PathBuf,
        covers: u64,
        last: u64,
    },

    /// A snapshot file that failed validation (reported in
    /// [`RecoveryReport::skipped_snapshots`](crate::RecoveryReport), not returned by `open`).
    #[error("Expected a valid snapshot in {path}, but found {problem}")]
    Snapshot {
        path: PathBuf,
        problem: SnapshotProblem,
    },
}

/// The operation an [`Error::Io`] was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoOp {
    CreateDir,
    ListDir,
    Open,
    Create,
    Read,
    Write,
    Sync,
    SyncDir,
    Truncate,
    Rename,
    Remove,
    Lock,
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CreateDir => "create the directory",
            Self::ListDir => "list the directory",
            Self::Open => "open",
            Self::Create => "create",
            Self::Read => "read",
            Self::Write => "write to",
            Self::Sync => "fdatasync",
            Self::SyncDir => "fsync the directory",
            Self::Truncate => "truncate",
            Self::Rename => "rename into place",
            Self::Remove => "remove",
            Self::Lock => "lock",
        })
    }
}

/// What is wrong with a log frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameProblem {
    /// The file ends inside the frame.
    Truncated { needed: u64, available: u64 },
    /// The stored CRC does not match the frame.
    Crc { stored: u32, computed: u32 },
    /// A length field above [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES).
    Length { len: u64 },
    /// An all-zero frame header (the end of the written data) followed by non-zero bytes.
    ZeroHeader,
    /// An intact frame carrying another position (a gap, a duplicate or a reordering).
    Position { found: u64 },
    /// An intact frame whose batch offset points before position 1.
    BatchOffset { batch_offset: u32 },
    /// A damaged frame at the tail of the last segment is followed by an intact frame of a
    /// later commit, so the damaged one was committed: not a torn write, but corruption.
    FollowedByCommitted {
        problem: Box<FrameProblem>,
        position: u64,
        offset: u64,
    },
}

impl fmt::Display for FrameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, available } => write!(
                f,
                "only {available} of the frame's {needed} bytes before the end of the file"
            ),
            Self::Crc { stored, computed } => write!(
                f,
                "a CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            Self::Length { len } => write!(f, "a payload length of {len} bytes"),
            Self::ZeroHeader => write!(
                f,
                "an all-zero frame header (the end of the written data) followed by non-zero bytes"
            ),
            Self::Position { found } => write!(f, "an intact frame of position {found}"),
            Self::BatchOffset { batch_offset } => {
                write!(
                    f,
                    "an intact frame with impossible batch offset {batch_offset}"
                )
            }
            Self::FollowedByCommitted {
                problem,
                position,
                offset,
            } => write!(
                f,
                "{problem}, followed at byte offset {offset} by the intact entry {position} of a \
                 later commit (so this is damage to committed data, not a torn write)"
            ),
        }
    }
}

/// Shorthand for mapping an `io::Error` into [`Error::Io`].
pub(crate) fn io_err(op: IoOp, path: &std::path::Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
