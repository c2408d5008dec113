//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod payload;

use std::path::{Path, PathBuf};

use apsis_store::{Position, Recovered, Store, StoreOptions, SyncMode};

/// Options for tests: real fsync off (speed), small segments unless given.
pub fn options(dir: &Path, segment_bytes: u64) -> StoreOptions {
    let mut opts = StoreOptions::new(dir);
    opts.segment_bytes = segment_bytes;
    opts.sync = SyncMode::None;
    opts
}

pub fn open(dir: &Path, segment_bytes: u64) -> (Store, Recovered) {
    Store::open(options(dir, segment_bytes)).expect("open")
}

/// Appends entries `payload::entry(p)` for the next `n` positions, committing every `batch`.
pub fn append_entries(store: &mut Store, n: u64, batch: u64) -> Position {
    for i in 0..n {
        let next = store.last_position().0 + 1;
        assert_eq!(
            store.append(&payload::entry(next)).expect("append"),
            Position(next)
        );
        if (i + 1) % batch == 0 {
            store.commit().expect("commit");
        }
    }
    store.commit().expect("commit")
}

/// Replays everything and checks every entry against `payload::entry`; returns the positions.
pub fn replay_checked(recovered: &mut Recovered) -> Vec<u64> {
    let mut positions = Vec::new();
    while let Some(entry) = recovered.replay.next_entry().expect("replay") {
        assert_eq!(
            entry.payload,
            payload::entry(entry.position.0),
            "entry {}",
            entry.position
        );
        positions.push(entry.position.0);
    }
    positions
}

/// Segment files in the directory, ascending.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    files(dir, ".log")
}

pub fn snapshots(dir: &Path) -> Vec<PathBuf> {
    files(dir, ".snap")
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// XORs one byte of a file.
pub fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[offset as usize] ^= 0x5A;
    std::fs::write(path, bytes).expect("write");
}

pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("metadata").len()
}

/// Byte offset of the frame of `position` in a segment (walking the length fields).
pub fn frame_offset(path: &Path, position: u64) -> u64 {
    let bytes = std::fs::read(path).expect("read");
    let mut at = 32usize;
    while at + 20 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let pos = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        if pos == position {
            return at as u64;
        }
        at += 20 + len;
    }
    panic!("position {position} not in {}", path.display());
}

/// Length of the written data in a segment: up to the first all-zero frame header (the
/// preallocated rest of the file reads as zeros) or the end of the file.
pub fn data_len(path: &Path) -> u64 {
    let bytes = std::fs::read(path).expect("read");
    let mut at = 32usize;
    while at < bytes.len()
        && bytes[at..(at + 20).min(bytes.len())]
            .iter()
            .any(|&b| b != 0)
    {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 20 + len;
    }
    at.min(bytes.len()) as u64
}
