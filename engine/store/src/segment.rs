//! Segment files: listing the directory and reading frames with large buffered reads.
//!
//! One reader serves both recovery (finding the valid end of the last segment) and replay.

use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{io_err, Error, FrameProblem, IoOp};
use crate::format::{
    self, FRAME_HEADER_LEN, MAX_PAYLOAD_BYTES, SEGMENT_HEADER_LEN, SEGMENT_SUFFIX, SNAPSHOT_SUFFIX,
    SNAPSHOT_TMP_SUFFIX,
};

/// Reads are issued in chunks of this size (a 1 GB log is read in 256 syscalls).
const READ_CHUNK: usize = 4 * 1024 * 1024;

/// A numbered file of ours found in the store directory.
#[derive(Debug, Clone)]
pub(crate) struct NumberedFile {
    /// First position (segment) or covered position (snapshot).
    pub(crate) number: u64,
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
}

/// Our files in the store directory, each list sorted by number, ascending.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) segments: Vec<NumberedFile>,
    pub(crate) snapshots: Vec<NumberedFile>,
    pub(crate) snapshot_tmps: Vec<PathBuf>,
}

/// Lists segment, snapshot and leftover temporary snapshot files; ignores everything else.
pub(crate) fn list_dir(dir: &Path) -> Result<Listing, Error> {
    let mut listing = Listing::default();
    for entry in std::fs::read_dir(dir).map_err(io_err(IoOp::ListDir, dir))? {
        let entry = entry.map_err(io_err(IoOp::ListDir, dir))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let numbered = |number| -> Result<NumberedFile, Error> {
            let len = entry.metadata().map_err(io_err(IoOp::Open, &path))?.len();
            Ok(NumberedFile {
                number,
                path: path.clone(),
                len,
            })
        };
        if let Some(n) = format::parse_numbered_name(&name, SEGMENT_SUFFIX) {
            listing.segments.push(numbered(n)?);
        } else if let Some(n) = format::parse_numbered_name(&name, SNAPSHOT_SUFFIX) {
            listing.snapshots.push(numbered(n)?);
        } else if format::parse_numbered_name(&name, SNAPSHOT_TMP_SUFFIX).is_some() {
            listing.snapshot_tmps.push(path);
        }
    }
    listing.segments.sort_by_key(|f| f.number);
    listing.snapshots.sort_by_key(|f| f.number);
    Ok(listing)
}

/// fsyncs a directory so that created, renamed and removed entries are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(IoOp::SyncDir, dir))
}

/// One step of reading a segment.
#[derive(Debug)]
pub(crate) enum Step {
    /// An intact frame (CRC checked); its payload is `reader.bytes(payload)`.
    Frame {
        offset: u64,
        position: u64,
        batch_offset: u32,
        payload: Range<usize>,
    },
    /// A clean end of file at a frame boundary.
    End { offset: u64 },
    /// A damaged or torn frame starting at `offset`.
    Bad { offset: u64, problem: FrameProblem },
}

/// Sequential frame reader over one segment file, holding at most one chunk (or one frame,
/// if larger) in memory.
#[derive(Debug)]
pub(crate) struct SegmentReader {
    file: File,
    path: PathBuf,
    file_len: u64,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`; `buf[0]` is at file offset `buf_offset`.
    start: usize,
    end: usize,
    buf_offset: u64,
}

impl SegmentReader {
    /// Opens a segment and checks its header against the first position in its name.
    pub(crate) fn open(path: &Path, first: u64) -> Result<Self, Error> {
        let file = File::open(path).map_err(io_err(IoOp::Open, path))?;
        let file_len = file.metadata().map_err(io_err(IoOp::Open, path))?.len();
        let mut reader = Self {
            file,
            path: path.to_path_buf(),
            file_len,
            buf: Vec::new(),
            start: 0,
            end: 0,
            buf_offset: 0,
        };
        let available = reader.fill(SEGMENT_HEADER_LEN)?;
        let header = &reader.buf[reader.start..reader.start + available];
        format::decode_segment_header(header, first).map_err(|problem| Error::SegmentHeader {
            path: path.to_path_buf(),
            problem,
        })?;
        reader.start += SEGMENT_HEADER_LEN;
        Ok(reader)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The bytes of a range returned in [`Step::Frame`].
    pub(crate) fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// File offset of the next unread byte.
    pub(crate) fn offset(&self) -> u64 {
        self.buf_offset + self.start as u64
    }

    /// Reads and checks the next frame.
    pub(crate) fn step(&mut self) -> Result<Step, Error> {
        let offset = self.offset();
        let remaining = self.file_len - offset;
        if remaining == 0 {
            return Ok(Step::End { offset });
        }
        // Segments are preallocated: an all-zero frame header (never a valid frame, whose
        // position is at least 1) is the end of the written data.
        let available = self.fill(FRAME_HEADER_LEN)?;
        if self.buf[self.start..self.start + available.min(FRAME_HEADER_LEN)]
            .iter()
            .all(|&b| b == 0)
        {
            return Ok(Step::End { offset });
        }
        if remaining < FRAME_HEADER_LEN as u64 {
            return Ok(Step::Bad {
                offset,
                problem: FrameProblem::Truncated {
                    needed: FRAME_HEADER_LEN as u64,
                    available: remaining,
                },
            });
        }
        let header = format::decode_frame_header(&self.buf[self.start..]);
        if header.len as usize > MAX_PAYLOAD_BYTES {
            return Ok(Step::Bad {
                offset,
                problem: FrameProblem::Length {
                    len: u64::from(header.len),
                },
            });
        }
        let frame_len = FRAME_HEADER_LEN + header.len as usize;
        if remaining < frame_len as u64 {
            return Ok(Step::Bad {
                offset,
                problem: FrameProblem::Truncated {
                    needed: frame_len as u64,
                    available: remaining,
                },
            });
        }
        self.fill(frame_len)?;
        let frame = self.start..self.start + frame_len;
        if let Err(computed) = format::check_frame(&self.buf[frame.clone()], &header) {
            return Ok(Step::Bad {
                offset,
                problem: FrameProblem::Crc {
                    stored: header.crc,
                    computed,
                },
            });
        }
        self.start = frame.end;
        Ok(Step::Frame {
            offset,
            position: header.position,
            batch_offset: header.batch_offset,
            payload: frame.start + FRAME_HEADER_LEN..frame.end,
        })
    }

    /// Reads the bytes `offset..end` (used only to inspect a damaged tail, which is at most
    /// one segment).
    pub(crate) fn read_range(&mut self, offset: u64, end: u64) -> Result<Vec<u8>, Error> {
        use std::io::{Seek, SeekFrom};
        let mut rest = Vec::new();
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| (&self.file).take(end - offset).read_to_end(&mut rest))
            .map_err(io_err(IoOp::Read, &self.path))?;
        Ok(rest)
    }

    /// Makes at least `n` unread bytes available if the file has them; returns how many
    /// unread bytes are buffered (less than `n` only at the end of the file).
    fn fill(&mut self, n: usize) -> Result<usize, Error> {
        if self.end - self.start >= n {
            return Ok(self.end - self.start);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.buf_offset += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        let want = n.max(READ_CHUNK);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.end < n {
            let read = self
                .file
                .read(&mut self.buf[self.end..])
                .map_err(io_err(IoOp::Read, &self.path))?;
            if read == 0 {
                break;
            }
            self.end += read;
        }
        Ok(self.end - self.start)
    }
}

/// Looks for an intact frame after a damaged one at the tail of the last segment that
/// belongs to a later commit than the damaged one (`expected` is the position the damaged
/// frame should have had). A torn write can only damage the commit in flight, whose own later
/// frames may have reached the disk (pages are written back in any order), so frames of the
/// same commit are fine; a frame of a later commit proves the damaged one had been committed.
/// Returns (offset in `rest`, position) of the first such frame.
pub(crate) fn find_later_commit(rest: &[u8], expected: u64) -> Option<(usize, u64)> {
    let max_frames = (rest.len() / FRAME_HEADER_LEN) as u64;
    let mut at = 1;
    while at + FRAME_HEADER_LEN <= rest.len() {
        let header = format::decode_frame_header(&rest[at..]);
        let plausible = header.position > expected
            && header.position - expected <= max_frames
            && header.len as usize <= rest.len() - at - FRAME_HEADER_LEN
            && u64::from(header.batch_offset) < header.position;
        if plausible {
            let frame = &rest[at..at + FRAME_HEADER_LEN + header.len as usize];
            let batch_first = header.position - u64::from(header.batch_offset);
            if format::check_frame(frame, &header).is_ok() && batch_first > expected {
                return Some((at, header.position));
            }
        }
        at += 1;
    }
    None
}

/// Offset just past the last non-zero byte at or after `from`, or `None` if every byte from
/// there to the end of the file is zero (unwritten preallocated space). Streams in chunks.
pub(crate) fn end_of_nonzero(path: &Path, from: u64) -> Result<Option<u64>, Error> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path).map_err(io_err(IoOp::Open, path))?;
    file.seek(SeekFrom::Start(from))
        .map_err(io_err(IoOp::Read, path))?;
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut at = from;
    let mut end = None;
    loop {
        let read = file.read(&mut chunk).map_err(io_err(IoOp::Read, path))?;
        if read == 0 {
            return Ok(end);
        }
        if let Some(i) = chunk[..read].iter().rposition(|&b| b != 0) {
            end = Some(at + i as u64 + 1);
        }
        at += read as u64;
    }
}
