//! The on-disk format: file names, segment and snapshot headers, log frames.
//!
//! Every number is little-endian. The layouts below are asserted byte for byte by
//! `tests/format.rs`; changing any of them requires a new [`FORMAT_VERSION`] and a reader for
//! the old one.
//!
//! Segment file `{first_position:020}.log`:
//! ```text
//! header (32 bytes):
//!   0..8   magic "APSISLOG"
//!   8..12  format version u32 (= 1)
//!   12..16 flags u32 (= 0, reserved)
//!   16..24 position of the segment's first entry u64 (equals the number in the file name)
//!   24..28 reserved u32 (= 0)
//!   28..32 CRC32 of bytes 0..28
//! then frames, back to back:
//!   0..4   payload length u32
//!   4..8   CRC32 of (bytes 0..4, bytes 8..20, payload)
//!   8..16  position u64
//!   16..20 batch offset u32: how many entries of the same commit precede this one
//!   20..   payload
//! ```
//! A frame's batch offset lets recovery tell a torn write from damage to committed data:
//! a write can only tear the commit in flight, so an intact frame whose commit started after
//! a damaged frame (position - batch offset > the damaged frame's position) proves the damaged
//! frame was committed.
//!
//! A new segment is preallocated (sparse, `set_len`) to `segment_bytes`, so commits write
//! inside the file instead of growing it (a cheaper `fdatasync`). The data ends at the end of
//! the file or at the first frame header whose 20 bytes are all zero (a real frame has a
//! position of at least 1). A segment is trimmed to its data when the next one is started.
//!
//! Snapshot file `{covers:020}.snap` (written as `.snap.tmp`, then renamed):
//! ```text
//!   0..8   magic "APSISSNP"
//!   8..12  format version u32 (= 1)
//!   12..16 flags u32 (= 0, reserved)
//!   16..24 covered position u64 (the state includes every entry up to and including it)
//!   24..32 payload length u64
//!   32..36 CRC32 of (bytes 0..32, payload)
//!   36..40 reserved u32 (= 0)
//!   40..   payload
//! ```

/// Version of the segment and snapshot formats written by this crate.
pub const FORMAT_VERSION: u32 = 1;

pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"APSISLOG";
pub(crate) const SNAPSHOT_MAGIC: [u8; 8] = *b"APSISSNP";
pub(crate) const SEGMENT_HEADER_LEN: usize = 32;
pub(crate) const FRAME_HEADER_LEN: usize = 20;
pub(crate) const SNAPSHOT_HEADER_LEN: usize = 40;

/// Largest payload one entry may carry. Keeps the length field and a reader's buffer sane.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024 * 1024;

pub(crate) const SEGMENT_SUFFIX: &str = ".log";
pub(crate) const SNAPSHOT_SUFFIX: &str = ".snap";
pub(crate) const SNAPSHOT_TMP_SUFFIX: &str = ".snap.tmp";
pub(crate) const LOCK_FILE: &str = "LOCK";

pub(crate) fn segment_file_name(first: u64) -> String {
    format!("{first:020}{SEGMENT_SUFFIX}")
}

pub(crate) fn snapshot_file_name(covers: u64) -> String {
    format!("{covers:020}{SNAPSHOT_SUFFIX}")
}

pub(crate) fn snapshot_tmp_file_name(covers: u64) -> String {
    format!("{covers:020}{SNAPSHOT_TMP_SUFFIX}")
}

/// Parses `{20 digits}{suffix}`; anything else is not one of our files.
pub(crate) fn parse_numbered_name(name: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn encode_segment_header(first: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[0..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&first.to_le_bytes());
    let crc = crc32fast::hash(&h[0..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// What is wrong with a segment header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderProblem {
    /// The file is shorter than a header.
    Short { len: u64 },
    /// The magic bytes differ.
    Magic,
    /// The header CRC does not match.
    Crc,
    /// A format version this build cannot read.
    Version { found: u32 },
    /// The first position in the header differs from the file name.
    FirstPosition { in_header: u64 },
}

impl std::fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Short { len } => write!(f, "a file of only {len} bytes"),
            Self::Magic => write!(f, "other magic bytes (not an Apsis log segment)"),
            Self::Crc => write!(f, "a header whose CRC does not match"),
            Self::Version { found } => write!(f, "format version {found}"),
            Self::FirstPosition { in_header } => {
                write!(f, "first position {in_header} in the header")
            }
        }
    }
}

pub(crate) fn decode_segment_header(bytes: &[u8], first: u64) -> Result<(), HeaderProblem> {
    let Some(h) = bytes.get(..SEGMENT_HEADER_LEN) else {
        return Err(HeaderProblem::Short {
            len: bytes.len() as u64,
        });
    };
    if h[0..8] != SEGMENT_MAGIC {
        return Err(HeaderProblem::Magic);
    }
    if crc32fast::hash(&h[0..28]) != read_u32(h, 28) {
        return Err(HeaderProblem::Crc);
    }
    let version = read_u32(h, 8);
    if version != FORMAT_VERSION {
        return Err(HeaderProblem::Version { found: version });
    }
    let in_header = read_u64(h, 16);
    if in_header != first {
        return Err(HeaderProblem::FirstPosition { in_header });
    }
    Ok(())
}

/// Appends one frame to `buf` without any allocation beyond `buf`'s own growth.
pub(crate) fn encode_frame(buf: &mut Vec<u8>, position: u64, batch_offset: u32, payload: &[u8]) {
    let start = buf.len();
    // Payload length is checked against MAX_PAYLOAD_BYTES by the caller, so it fits in u32.
    let len = payload.len() as u32;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&[0u8; 4]);
    buf.extend_from_slice(&position.to_le_bytes());
    buf.extend_from_slice(&batch_offset.to_le_bytes());
    buf.extend_from_slice(payload);
    let crc = frame_crc(&buf[start..start + 4], &buf[start + 8..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// CRC of a frame: its length field, then everything after the CRC field.
pub(crate) fn frame_crc(len_field: &[u8], rest: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len_field);
    h.update(rest);
    h.finalize()
}

/// The fixed part of a frame, decoded but not yet checked against the payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameHeader {
    pub(crate) len: u32,
    pub(crate) crc: u32,
    pub(crate) position: u64,
    pub(crate) batch_offset: u32,
}

pub(crate) fn decode_frame_header(h: &[u8]) -> FrameHeader {
    FrameHeader {
        len: read_u32(h, 0),
        crc: read_u32(h, 4),
        position: read_u64(h, 8),
        batch_offset: read_u32(h, 16),
    }
}

/// Checks a whole frame (`frame` = header + payload); returns the computed CRC on mismatch.
pub(crate) fn check_frame(frame: &[u8], header: &FrameHeader) -> Result<(), u32> {
    let computed = frame_crc(&frame[0..4], &frame[8..]);
    if computed == header.crc {
        Ok(())
    } else {
        Err(computed)
    }
}

pub(crate) fn encode_snapshot_header(covers: u64, payload: &[u8]) -> [u8; SNAPSHOT_HEADER_LEN] {
    let mut h = [0u8; SNAPSHOT_HEADER_LEN];
    h[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&covers.to_le_bytes());
    h[24..32].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&h[0..32]);
    crc.update(payload);
    h[32..36].copy_from_slice(&crc.finalize().to_le_bytes());
    h
}

/// What is wrong with a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotProblem {
    /// Shorter than its header, or than the payload length its header announces.
    Short { len: u64, needed: u64 },
    /// The magic bytes differ.
    Magic,
    /// A format version this build cannot read.
    Version { found: u32 },
    /// The covered position in the header differs from the file name.
    Covers { in_header: u64 },
    /// The CRC over header and payload does not match.
    Crc { stored: u32, computed: u32 },
}

impl std::fmt::Display for SnapshotProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Short { len, needed } => write!(f, "{len} bytes where {needed} are needed"),
            Self::Magic => write!(f, "other magic bytes (not an Apsis snapshot)"),
            Self::Version { found } => write!(f, "format version {found}"),
            Self::Covers { in_header } => write!(f, "covered position {in_header} in the header"),
            Self::Crc { stored, computed } => write!(
                f,
                "a CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
        }
    }
}

/// Validates a whole snapshot file and returns the payload range.
pub(crate) fn decode_snapshot(
    bytes: &[u8],
    covers: u64,
) -> Result<std::ops::Range<usize>, SnapshotProblem> {
    let short = |needed: u64| SnapshotProblem::Short {
        len: bytes.len() as u64,
        needed,
    };
    let h = bytes
        .get(..SNAPSHOT_HEADER_LEN)
        .ok_or(short(SNAPSHOT_HEADER_LEN as u64))?;
    if h[0..8] != SNAPSHOT_MAGIC {
        return Err(SnapshotProblem::Magic);
    }
    let version = read_u32(h, 8);
    if version != FORMAT_VERSION {
        return Err(SnapshotProblem::Version { found: version });
    }
    let in_header = read_u64(h, 16);
    if in_header != covers {
        return Err(SnapshotProblem::Covers { in_header });
    }
    let len = read_u64(h, 24);
    let needed = (SNAPSHOT_HEADER_LEN as u64).saturating_add(len);
    if bytes.len() as u64 != needed {
        return Err(short(needed));
    }
    let payload = SNAPSHOT_HEADER_LEN..bytes.len();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&h[0..32]);
    crc.update(&bytes[payload.clone()]);
    let computed = crc.finalize();
    let stored = read_u32(h, 32);
    if computed != stored {
        return Err(SnapshotProblem::Crc { stored, computed });
    }
    Ok(payload)
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
