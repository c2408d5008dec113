//! Snapshot files: atomic write (tmp + fdatasync + rename + directory fsync) and validated read.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use crate::error::{io_err, Error, IoOp};
use crate::format::{self, SNAPSHOT_HEADER_LEN};
use crate::options::SyncMode;
use crate::segment::sync_dir;

/// Writes `{covers}.snap` atomically and returns its size on disk.
pub(crate) fn write(dir: &Path, covers: u64, payload: &[u8], sync: SyncMode) -> Result<u64, Error> {
    let tmp = dir.join(format::snapshot_tmp_file_name(covers));
    let path = dir.join(format::snapshot_file_name(covers));
    let header = format::encode_snapshot_header(covers, payload);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_err(IoOp::Create, &tmp))?;
    file.write_all(&header)
        .and_then(|()| file.write_all(payload))
        .map_err(io_err(IoOp::Write, &tmp))?;
    if sync == SyncMode::Fsync {
        file.sync_data().map_err(io_err(IoOp::Sync, &tmp))?;
    }
    drop(file);
    std::fs::rename(&tmp, &path).map_err(io_err(IoOp::Rename, &path))?;
    if sync == SyncMode::Fsync {
        sync_dir(dir)?;
    }
    Ok((SNAPSHOT_HEADER_LEN + payload.len()) as u64)
}

/// Reads and validates a snapshot file; returns its payload.
pub(crate) fn read(path: &Path, covers: u64) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_err(IoOp::Read, path))?;
    let payload = format::decode_snapshot(&bytes, covers).map_err(|problem| Error::Snapshot {
        path: path.to_path_buf(),
        problem,
    })?;
    bytes.drain(..payload.start);
    Ok(bytes)
}
