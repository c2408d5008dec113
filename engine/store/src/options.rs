//! Store options.

use std::path::PathBuf;

use crate::error::Error;
use crate::format::SEGMENT_HEADER_LEN;

/// How [`Store::commit`](crate::Store::commit) and snapshot writes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// `fdatasync` the segment on every commit, and the file plus its directory on every
    /// segment roll and snapshot. After `commit` returns `Ok`, its entries survive process
    /// death and power loss.
    #[default]
    Fsync,
    /// No fsync at all: entries survive process death (they are in the page cache) but not
    /// power loss. For tests and benchmarks only.
    None,
}

/// Where and how a [`Store`](crate::Store) keeps its files.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The store directory; created if missing. Holds nothing but the store's files.
    pub dir: PathBuf,
    /// A segment is closed and a new one started before a frame would make it exceed this
    /// size (a single frame larger than this gets a segment of its own). Default 64 MiB.
    pub segment_bytes: u64,
    /// Durability of commits. Default [`SyncMode::Fsync`].
    pub sync: SyncMode,
    /// How many snapshots to keep (at least 1). The log is kept back to the oldest kept
    /// snapshot, so a damaged newest snapshot can fall back to an older one. Default 2.
    pub snapshots_kept: usize,
}

impl StoreOptions {
    /// Default segment size: 64 MiB.
    pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

    /// Options with the defaults for `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            segment_bytes: Self::DEFAULT_SEGMENT_BYTES,
            sync: SyncMode::Fsync,
            snapshots_kept: 2,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.snapshots_kept == 0 {
            return Err(Error::InvalidOptions {
                field: "snapshots_kept",
                expected: "at least 1",
                found: 0,
            });
        }
        if self.segment_bytes < 2 * SEGMENT_HEADER_LEN as u64 {
            return Err(Error::InvalidOptions {
                field: "segment_bytes",
                expected: "at least 64",
                found: self.segment_bytes,
            });
        }
        Ok(())
    }
}
