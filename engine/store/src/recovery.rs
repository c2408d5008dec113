//! Opening a store directory: lock, pick the snapshot, repair a torn tail, set up the replay.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{io_err, Error, FrameProblem, IoOp};
use crate::format::{self, LOCK_FILE, SEGMENT_HEADER_LEN};
use crate::options::{StoreOptions, SyncMode};
use crate::recovered::{Recovered, RecoveryReport, Snapshot, TornTail};
use crate::replay::Replay;
use crate::segment::{self, Listing, NumberedFile, SegmentReader, Step};
use crate::{snapshot, Position};

/// A snapshot file the store keeps track of for retention.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotFile {
    pub(crate) covers: u64,
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
    /// Failed validation at open; never counted among the kept snapshots.
    pub(crate) damaged: bool,
}

/// Everything the write side needs after recovery.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) lock: File,
    /// Closed segments (ascending) and the active one last.
    pub(crate) segments: Vec<NumberedFile>,
    pub(crate) snapshots: Vec<SnapshotFile>,
    pub(crate) last_position: u64,
}

pub(crate) fn open(opts: &StoreOptions) -> Result<(Opened, Recovered), Error> {
    opts.validate()?;
    let dir = opts.dir.as_path();
    create_dir(dir, opts.sync)?;
    let lock = lock(dir)?;
    let mut report = RecoveryReport::default();
    let Listing {
        mut segments,
        snapshots: snapshot_files,
        snapshot_tmps,
    } = segment::list_dir(dir)?;

    for tmp in snapshot_tmps {
        std::fs::remove_file(&tmp).map_err(io_err(IoOp::Remove, &tmp))?;
        report.removed_temporary_files.push(tmp);
    }

    let mut snapshot = None;
    let mut snapshots: Vec<SnapshotFile> = snapshot_files
        .iter()
        .map(|f| SnapshotFile {
            covers: f.number,
            path: f.path.clone(),
            len: f.len,
            damaged: false,
        })
        .collect();
    for file in snapshots.iter_mut().rev() {
        match snapshot::read(&file.path, file.covers) {
            Ok(bytes) => {
                snapshot = Some((file.covers, file.path.clone(), bytes));
                break;
            }
            Err(e) => {
                file.damaged = true;
                report.skipped_snapshots.push(e);
            }
        }
    }

    let last_position = match repair_tail(&mut segments, opts, &mut report)? {
        Some(last) => last,
        None => {
            if let Some(newest) = snapshot_files.last() {
                return Err(Error::MissingLog {
                    dir: dir.to_path_buf(),
                    snapshot: newest.path.clone(),
                });
            }
            segments.push(create_segment(dir, 1, opts)?);
            0
        }
    };

    let covers = snapshot.as_ref().map_or(0, |s| s.0);
    if let Some((covers, path, _)) = &snapshot {
        if *covers > last_position {
            return Err(Error::SnapshotBeyondLog {
                snapshot: path.clone(),
                covers: *covers,
                last: last_position,
            });
        }
    }
    let start = covers + 1;
    let Some(from) = segments.iter().rposition(|s| s.number <= start) else {
        return Err(Error::LogTooShort {
            needed: start,
            oldest: segments[0].path.clone(),
            oldest_first: segments[0].number,
        });
    };
    let replay = Replay::new(
        segments[from..]
            .iter()
            .map(|s| (s.number, s.path.clone()))
            .collect(),
        start,
        last_position,
    );
    let recovered = Recovered {
        snapshot: snapshot.map(|(covers, _, bytes)| Snapshot {
            position: Position(covers),
            bytes,
        }),
        replay,
        report,
    };
    let opened = Opened {
        lock,
        segments,
        snapshots,
        last_position,
    };
    Ok((opened, recovered))
}

/// Creates the store directory if needed, making its entry in the parent durable.
fn create_dir(dir: &Path, sync: SyncMode) -> Result<(), Error> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(io_err(IoOp::CreateDir, dir))?;
    if sync == SyncMode::Fsync {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            segment::sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Takes an exclusive advisory lock (flock) on `dir/LOCK`, held as long as the file is open.
fn lock(dir: &Path) -> Result<File, Error> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err(IoOp::Create, &path))?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(file),
        Err(fs4::TryLockError::WouldBlock) => Err(Error::Locked { path }),
        Err(fs4::TryLockError::Error(source)) => Err(Error::Io {
            op: IoOp::Lock,
            path,
            source,
        }),
    }
}

/// Creates an empty segment, preallocated (sparse) to `segment_bytes` so that commits do not
/// change the file size (a cheaper `fdatasync`). Its header is durable (file and directory
/// entry) before any frame is written to it, so a segment with a damaged header and no data
/// can only be a crash during this function.
pub(crate) fn create_segment(
    dir: &Path,
    first: u64,
    opts: &StoreOptions,
) -> Result<NumberedFile, Error> {
    use std::io::Write;
    let path = dir.join(format::segment_file_name(first));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(io_err(IoOp::Create, &path))?;
    file.write_all(&format::encode_segment_header(first))
        .map_err(io_err(IoOp::Write, &path))?;
    file.set_len(opts.segment_bytes)
        .map_err(io_err(IoOp::Truncate, &path))?;
    if opts.sync == SyncMode::Fsync {
        file.sync_data().map_err(io_err(IoOp::Sync, &path))?;
        segment::sync_dir(dir)?;
    }
    Ok(NumberedFile {
        number: first,
        path,
        len: SEGMENT_HEADER_LEN as u64,
    })
}

/// Finds the end of the written data in the last segment, cutting a torn tail. Returns the
/// last position in the log, or `None` if there are no segments. Leaves `len` of the last
/// segment at the end of its data (the file itself stays preallocated).
fn repair_tail(
    segments: &mut Vec<NumberedFile>,
    opts: &StoreOptions,
    report: &mut RecoveryReport,
) -> Result<Option<u64>, Error> {
    let Some(last) = segments.last().cloned() else {
        return Ok(None);
    };
    let mut reader = match SegmentReader::open(&last.path, last.number) {
        Ok(reader) => reader,
        Err(e @ Error::SegmentHeader { .. }) => {
            // Headers are durable before any frame is written, so a last segment with a
            // damaged header and nothing written after it is a crash while creating it.
            let data_end = segment::end_of_nonzero(&last.path, 0)?.unwrap_or(0);
            if data_end > SEGMENT_HEADER_LEN as u64 {
                return Err(e);
            }
            return remove_headerless(segments, data_end, opts, report);
        }
        Err(e) => return Err(e),
    };
    let (last_position, end) = scan(&mut reader, last.number)?;
    let expected = last_position + 1;
    let (offset, problem) = match end {
        ScanEnd::Clean { offset } => {
            if segment::end_of_nonzero(&last.path, offset)?.is_none() {
                if let Some(active) = segments.last_mut() {
                    active.len = offset;
                }
                return Ok(Some(last_position));
            }
            (offset, FrameProblem::ZeroHeader)
        }
        ScanEnd::Bad { offset, problem } => (offset, problem),
    };
    // A torn tail: the bytes from `offset` to the last non-zero byte were being written
    // when the process or machine died, unless an intact frame of a later commit follows.
    let data_end = segment::end_of_nonzero(&last.path, offset)?.unwrap_or(offset);
    let rest = reader.read_range(offset, data_end)?;
    if let Some((at, position)) = segment::find_later_commit(&rest, expected) {
        return Err(Error::CorruptFrame {
            path: last.path.clone(),
            offset,
            expected_position: expected,
            problem: FrameProblem::FollowedByCommitted {
                problem: Box::new(problem),
                position,
                offset: offset + at as u64,
            },
        });
    }
    drop(reader);
    zero_from(&last.path, offset, opts)?;
    report.torn_tail = Some(TornTail {
        path: last.path.clone(),
        offset,
        bytes_dropped: data_end - offset,
        problem,
    });
    if let Some(active) = segments.last_mut() {
        active.len = offset;
    }
    Ok(Some(last_position))
}

/// Removes the last segment (a crash while creating it left no complete header) and
/// returns the last position of the segment before it, which must be intact to the end of
/// its data: it was made durable before the removed one was created.
fn remove_headerless(
    segments: &mut Vec<NumberedFile>,
    data_end: u64,
    opts: &StoreOptions,
    report: &mut RecoveryReport,
) -> Result<Option<u64>, Error> {
    let Some(removed) = segments.pop() else {
        return Ok(None);
    };
    std::fs::remove_file(&removed.path).map_err(io_err(IoOp::Remove, &removed.path))?;
    if opts.sync == SyncMode::Fsync {
        segment::sync_dir(&opts.dir)?;
    }
    report.removed_headerless_segment = Some((removed.path, data_end));
    let Some(previous) = segments.last_mut() else {
        return Ok(None);
    };
    let mut reader = SegmentReader::open(&previous.path, previous.number)?;
    let (last_position, end) = scan(&mut reader, previous.number)?;
    let (offset, problem) = match end {
        ScanEnd::Bad { offset, problem } => (offset, problem),
        ScanEnd::Clean { offset } => {
            if segment::end_of_nonzero(&previous.path, offset)?.is_none() {
                previous.len = offset;
                return Ok(Some(last_position));
            }
            (offset, FrameProblem::ZeroHeader)
        }
    };
    Err(Error::CorruptFrame {
        path: previous.path.clone(),
        offset,
        expected_position: last_position + 1,
        problem,
    })
}

/// How a segment scan ended.
#[derive(Debug)]
enum ScanEnd {
    /// End of file or an all-zero frame header (unwritten preallocated space) at `offset`.
    Clean { offset: u64 },
    /// A damaged or torn frame at `offset`.
    Bad { offset: u64, problem: FrameProblem },
}

/// Reads a segment to the end of its data or its first bad frame; returns the last intact
/// position and how the scan ended. An intact frame out of order is an error, never a torn
/// write.
fn scan(reader: &mut SegmentReader, first: u64) -> Result<(u64, ScanEnd), Error> {
    let mut expected = first;
    loop {
        match reader.step()? {
            Step::Frame {
                offset,
                position,
                batch_offset,
                ..
            } => {
                let problem = if position != expected {
                    Some(FrameProblem::Position { found: position })
                } else if u64::from(batch_offset) >= position {
                    Some(FrameProblem::BatchOffset { batch_offset })
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(Error::CorruptFrame {
                        path: reader.path().to_path_buf(),
                        offset,
                        expected_position: expected,
                        problem,
                    });
                }
                expected += 1;
            }
            Step::End { offset } => return Ok((expected - 1, ScanEnd::Clean { offset })),
            Step::Bad { offset, problem } => {
                return Ok((expected - 1, ScanEnd::Bad { offset, problem }));
            }
        }
    }
}

/// Zeroes a segment from `offset` on without writing: cut it there, then extend it again to
/// its preallocated size (the new part reads as zeros).
fn zero_from(path: &Path, offset: u64, opts: &StoreOptions) -> Result<(), Error> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(IoOp::Open, path))?;
    file.set_len(offset)
        .and_then(|()| file.set_len(opts.segment_bytes.max(offset)))
        .map_err(io_err(IoOp::Truncate, path))?;
    if opts.sync == SyncMode::Fsync {
        file.sync_all().map_err(io_err(IoOp::Sync, path))?;
    }
    Ok(())
}
