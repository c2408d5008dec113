//! Pins the on-disk format byte for byte, so it cannot drift silently. A change here needs a
//! new FORMAT_VERSION and a reader for the old one.

mod common;

use apsis_store::{Position, FORMAT_VERSION};
use common::open;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn format_version_is_1() {
    assert_eq!(FORMAT_VERSION, 1);
}

#[test]
fn segment_header_and_frames_have_the_documented_layout_and_golden_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), 1 << 20);
    store.append(b"hello").unwrap();
    store.commit().unwrap();
    store.append(b"ab").unwrap();
    store.append(b"").unwrap();
    store.commit().unwrap();
    drop(store);
    let path = dir.path().join("00000000000000000001.log");
    let b = std::fs::read(&path).unwrap();

    // Header: magic, version, flags, first position, reserved, CRC of bytes 0..28.
    assert_eq!(&b[0..8], b"APSISLOG");
    assert_eq!(u32_at(&b, 8), 1);
    assert_eq!(u32_at(&b, 12), 0);
    assert_eq!(u64_at(&b, 16), 1);
    assert_eq!(u32_at(&b, 24), 0);
    assert_eq!(u32_at(&b, 28), crc32fast::hash(&b[0..28]));

    // Frames: length, CRC of (length, position, batch offset, payload), position, batch
    // offset, payload.
    let mut at = 32;
    for (position, batch_offset, payload) in
        [(1u64, 0u32, &b"hello"[..]), (2, 0, b"ab"), (3, 1, b"")]
    {
        assert_eq!(u32_at(&b, at) as usize, payload.len());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&b[at..at + 4]);
        crc.update(&b[at + 8..at + 20 + payload.len()]);
        assert_eq!(u32_at(&b, at + 4), crc.finalize());
        assert_eq!(u64_at(&b, at + 8), position);
        assert_eq!(u32_at(&b, at + 16), batch_offset);
        assert_eq!(&b[at + 20..at + 20 + payload.len()], payload);
        at += 20 + payload.len();
    }
    // The active segment is preallocated to segment_bytes; the rest reads as zeros, and an
    // all-zero frame header marks the end of the data.
    assert_eq!(b.len(), 1 << 20);
    assert!(b[at..].iter().all(|&x| x == 0));

    assert_eq!(
        hex(&b[..at]),
        concat!(
            // header: magic, version 1, flags, first position 1, reserved, CRC
            "41505349534c4f47",
            "01000000",
            "00000000",
            "0100000000000000",
            "00000000",
            "35d489cf",
            // frame: length 5, CRC, position 1, batch offset 0, "hello"
            "05000000",
            "76d8b3bb",
            "0100000000000000",
            "00000000",
            "68656c6c6f",
            // frame: length 2, CRC, position 2, batch offset 0, "ab"
            "02000000",
            "f13afb5c",
            "0200000000000000",
            "00000000",
            "6162",
            // frame: length 0, CRC, position 3, batch offset 1 (second entry of its commit)
            "00000000",
            "c0fe9923",
            "0300000000000000",
            "01000000",
        )
    );
}

#[test]
fn snapshot_file_has_the_documented_layout_and_golden_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), 1 << 20);
    store.append(b"x").unwrap();
    store.commit().unwrap();
    store.write_snapshot(Position(1), b"state").unwrap();
    drop(store);
    let b = std::fs::read(dir.path().join("00000000000000000001.snap")).unwrap();

    assert_eq!(&b[0..8], b"APSISSNP");
    assert_eq!(u32_at(&b, 8), 1);
    assert_eq!(u32_at(&b, 12), 0);
    assert_eq!(u64_at(&b, 16), 1);
    assert_eq!(u64_at(&b, 24), 5);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&b[0..32]);
    crc.update(&b[40..]);
    assert_eq!(u32_at(&b, 32), crc.finalize());
    assert_eq!(u32_at(&b, 36), 0);
    assert_eq!(&b[40..], b"state");

    assert_eq!(
        hex(&b),
        concat!(
            // magic, version 1, flags, covers 1, payload length 5, CRC, reserved, "state"
            "4150534953534e50",
            "01000000",
            "00000000",
            "0100000000000000",
            "0500000000000000",
            "a349a708",
            "00000000",
            "7374617465",
        )
    );
}
