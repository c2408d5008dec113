//! The write side: buffered append, group commit, segment roll, snapshots and truncation.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{io_err, Error, IoOp};
use crate::format::{self, FRAME_HEADER_LEN, MAX_PAYLOAD_BYTES};
use crate::options::{StoreOptions, SyncMode};
use crate::recovered::Recovered;
use crate::recovery::{self, SnapshotFile};
use crate::segment::NumberedFile;
use crate::{snapshot, Position};

/// The commit buffer keeps up to this much capacity between commits; a larger batch's
/// buffer is shrunk back afterwards.
const RETAINED_BUFFER: usize = 8 * 1024 * 1024;

/// The durable store of one partition: an append-only log of opaque entries with group
/// commit, plus snapshots that let the log be truncated.
///
/// Single writer: one `Store` per directory (enforced by a lock file), used from one thread.
/// Entries are durable only after [`commit`](Self::commit) returns `Ok`; dropping the store
/// discards appended but uncommitted entries.
#[derive(Debug)]
pub struct Store {
    opts: StoreOptions,
    /// Holds the directory lock while open.
    _lock: File,
    /// The segment being appended to.
    active: File,
    active_path: PathBuf,
    active_first: u64,
    /// Bytes of the active segment already written to the file.
    active_len: u64,
    /// Frames in the active segment, written or buffered.
    active_frames: u64,
    /// Closed segments, ascending.
    closed: Vec<NumberedFile>,
    snapshots: Vec<SnapshotFile>,
    /// Frames appended since the last commit, for the active segment.
    buf: Vec<u8>,
    next_position: u64,
    committed: u64,
    poisoned: bool,
}

impl Store {
    /// Opens (or creates) the store in `opts.dir`, takes its lock and recovers.
    ///
    /// Recovery picks the newest snapshot that passes its CRC (reporting any newer damaged
    /// one), cuts a torn tail off the last segment (a crash mid-write; reported with the bytes
    /// dropped), and returns a [`Replay`](crate::Replay) of every entry after the snapshot.
    /// Damage that a crash cannot explain is an `Err` naming file and byte offset: a bad
    /// frame followed by a frame of a later commit, an intact frame out of order, a segment
    /// header damaged in a segment that has frames, a log that does not reach back to the
    /// snapshot. Segments before the last one are checked as the replay streams them.
    ///
    /// Errors with [`Error::Locked`] if another `Store` has the directory open.
    pub fn open(opts: StoreOptions) -> Result<(Store, Recovered), Error> {
        let (opened, recovered) = recovery::open(&opts)?;
        let mut segments = opened.segments;
        // `recovery::open` always leaves at least one segment.
        let Some(active_meta) = segments.pop() else {
            unreachable!("recovery leaves an active segment")
        };
        let active = open_at(&active_meta.path, active_meta.len)?;
        let active_frames = (opened.last_position + 1).saturating_sub(active_meta.number);
        let store = Store {
            _lock: opened.lock,
            active,
            active_path: active_meta.path,
            active_first: active_meta.number,
            active_len: active_meta.len,
            active_frames,
            closed: segments,
            snapshots: opened.snapshots,
            buf: Vec::with_capacity(1024 * 1024),
            next_position: opened.last_position + 1,
            committed: opened.last_position,
            poisoned: false,
            opts,
        };
        Ok((store, recovered))
    }

    /// Appends one entry to the commit buffer and returns its position (the previous one
    /// plus 1). Not durable, nor visible to a reopen, until [`commit`](Self::commit).
    ///
    /// Copies the payload once into a reusable buffer; performs I/O only when the entry does
    /// not fit in the active segment (then the buffered entries are written and synced to
    /// the closing segment, and a new segment is created).
    pub fn append(&mut self, payload: &[u8]) -> Result<Position, Error> {
        self.check_healthy()?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(Error::PayloadTooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let frame_len = (FRAME_HEADER_LEN + payload.len()) as u64;
        let segment_len = self.active_len + self.buf.len() as u64;
        if self.active_frames > 0 && segment_len + frame_len > self.opts.segment_bytes {
            self.poison_on_error(Self::roll)?;
        }
        let position = self.next_position;
        // How many entries of this commit come before this one (see format.rs).
        let batch_offset = u32::try_from(position - (self.committed + 1)).unwrap_or(u32::MAX);
        format::encode_frame(&mut self.buf, position, batch_offset, payload);
        self.active_frames += 1;
        self.next_position += 1;
        Ok(Position(position))
    }

    /// Makes every appended entry durable: one write of the commit buffer and one
    /// `fdatasync` (with [`SyncMode::Fsync`]), shared by every entry of the batch. Returns
    /// the last committed position; after `Ok`, those entries survive SIGKILL and power loss.
    /// A commit with nothing appended does no I/O.
    ///
    /// If the write or the sync fails, the store is poisoned: every later call fails with
    /// [`Error::Poisoned`], since retrying an fsync cannot tell what reached the disk.
    /// Reopening recovers from what is durable.
    pub fn commit(&mut self) -> Result<Position, Error> {
        self.check_healthy()?;
        if self.buf.is_empty() {
            return Ok(Position(self.committed));
        }
        self.poison_on_error(Self::flush)?;
        self.committed = self.next_position - 1;
        if self.buf.capacity() > RETAINED_BUFFER {
            self.buf.shrink_to(RETAINED_BUFFER);
        }
        Ok(Position(self.committed))
    }

    /// Writes a snapshot of the state after every entry up to `covers` (which must be
    /// committed) atomically: temporary file, fdatasync, rename, directory fsync. Then
    /// keeps the newest `snapshots_kept` intact snapshots, deletes older snapshot files, and
    /// deletes log segments whose entries are all at or before the OLDEST kept snapshot, so
    /// a damaged newest snapshot can still fall back to an older one. The active segment is
    /// never deleted.
    ///
    /// A crash at any point leaves either the old or the new snapshot, never a partial one.
    pub fn write_snapshot(&mut self, covers: Position, bytes: &[u8]) -> Result<(), Error> {
        self.check_healthy()?;
        let covers = covers.0;
        if covers == 0 || covers > self.committed {
            return Err(Error::SnapshotPosition {
                covers,
                committed: self.committed,
            });
        }
        let len = snapshot::write(&self.opts.dir, covers, bytes, self.opts.sync)?;
        let path = self.opts.dir.join(format::snapshot_file_name(covers));
        self.snapshots.retain(|s| s.covers != covers);
        self.snapshots.push(SnapshotFile {
            covers,
            path,
            len,
            damaged: false,
        });
        self.snapshots.sort_by_key(|s| s.covers);
        self.apply_retention()
    }

    /// Position of the last appended entry (committed or not); 0 for an empty log.
    pub fn last_position(&self) -> Position {
        Position(self.next_position - 1)
    }

    /// Position of the last committed (durable) entry; 0 for an empty log.
    pub fn committed_position(&self) -> Position {
        Position(self.committed)
    }

    /// Bytes of log data and snapshot files on disk (buffered, uncommitted entries excluded;
    /// the unwritten, sparse preallocated part of the active segment is not counted).
    pub fn disk_usage(&self) -> u64 {
        self.closed.iter().map(|s| s.len).sum::<u64>()
            + self.active_len
            + self.snapshots.iter().map(|s| s.len).sum::<u64>()
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.opts.dir
    }

    fn check_healthy(&self) -> Result<(), Error> {
        if self.poisoned {
            return Err(Error::Poisoned {
                dir: self.opts.dir.clone(),
            });
        }
        Ok(())
    }

    fn poison_on_error(&mut self, f: fn(&mut Self) -> Result<(), Error>) -> Result<(), Error> {
        let result = f(self);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    /// Writes the buffer to the active segment in one `write` and syncs it.
    fn flush(&mut self) -> Result<(), Error> {
        self.active
            .write_all(&self.buf)
            .map_err(io_err(IoOp::Write, &self.active_path))?;
        if self.opts.sync == SyncMode::Fsync {
            self.active
                .sync_data()
                .map_err(io_err(IoOp::Sync, &self.active_path))?;
        }
        self.active_len += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Closes the active segment (its frames written and synced) and starts a new one at the
    /// next position, whose header is durable before any frame goes in.
    fn roll(&mut self) -> Result<(), Error> {
        self.flush()?;
        // Give back the unused preallocated space. If a crash loses this, the closed segment
        // keeps a zero tail, which readers take as the end of its data.
        self.active
            .set_len(self.active_len)
            .map_err(io_err(IoOp::Truncate, &self.active_path))?;
        if self.opts.sync == SyncMode::Fsync {
            self.active
                .sync_data()
                .map_err(io_err(IoOp::Sync, &self.active_path))?;
        }
        let meta = recovery::create_segment(&self.opts.dir, self.next_position, &self.opts)?;
        let file = open_at(&meta.path, meta.len)?;
        let closed = NumberedFile {
            number: self.active_first,
            path: std::mem::replace(&mut self.active_path, meta.path),
            len: self.active_len,
        };
        self.closed.push(closed);
        self.active = file;
        self.active_first = meta.number;
        self.active_len = meta.len;
        self.active_frames = 0;
        Ok(())
    }

    fn apply_retention(&mut self) -> Result<(), Error> {
        let intact: Vec<u64> = self
            .snapshots
            .iter()
            .rev()
            .filter(|s| !s.damaged)
            .map(|s| s.covers)
            .take(self.opts.snapshots_kept)
            .collect();
        let Some(&oldest_kept) = intact.last() else {
            return Ok(());
        };
        for old in self.snapshots.iter().filter(|s| s.covers < oldest_kept) {
            remove(&old.path)?;
        }
        self.snapshots.retain(|s| s.covers >= oldest_kept);

        // A closed segment's last entry is the one before the next segment's first.
        let mut delete = 0;
        while delete < self.closed.len() {
            let next_first = self
                .closed
                .get(delete + 1)
                .map_or(self.active_first, |s| s.number);
            if next_first - 1 > oldest_kept {
                break;
            }
            remove(&self.closed[delete].path)?;
            delete += 1;
        }
        self.closed.drain(..delete);
        Ok(())
    }
}

/// Opens a segment for writing at `offset`, the end of its data (the file is preallocated
/// beyond it).
fn open_at(path: &Path, offset: u64) -> Result<File, Error> {
    use std::io::{Seek, SeekFrom};
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(IoOp::Open, path))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(io_err(IoOp::Open, path))?;
    Ok(file)
}

/// Removes a file; already gone is fine. Not synced: a removal lost to a crash leaves an
/// obsolete file that the next retention pass removes again.
fn remove(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(IoOp::Remove, path)(e)),
    }
}
