//! Recovery: torn tails are cut and reported; every other kind of damage is an error naming
//! file and byte offset; damaged snapshots fall back to older ones.

mod common;

use std::fs::OpenOptions;

use apsis_store::{Error, FrameProblem, Position, Store};
use common::{
    append_entries, data_len, file_len, flip_byte, frame_offset, open, options, payload,
    replay_checked, segments, snapshots,
};

const SEGMENT: u64 = 1 << 20;

fn set_len(path: &std::path::Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn a_tail_cut_mid_frame_is_truncated_reported_and_appending_continues() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), SEGMENT);
    append_entries(&mut store, 50, 10);
    drop(store);
    let seg = &segments(dir.path())[0];
    let last = frame_offset(seg, 50);
    let len = data_len(seg);
    // Cut at every kind of place: inside the frame header, inside the payload.
    for cut in [last + 3, last + 19, len - 1] {
        let dir2 = tempfile::tempdir().unwrap();
        std::fs::copy(seg, dir2.path().join(seg.file_name().unwrap())).unwrap();
        let copy = &segments(dir2.path())[0];
        set_len(copy, cut);
        let (mut store, mut recovered) = open(dir2.path(), SEGMENT);
        let torn = recovered
            .report
            .torn_tail
            .clone()
            .expect("torn tail reported");
        assert_eq!(torn.offset, last);
        // Counted up to the last non-zero byte (zeros are indistinguishable from unwritten
        // preallocated space).
        assert!(
            torn.bytes_dropped > 0 && torn.bytes_dropped <= cut - last,
            "{torn:?}"
        );
        assert!(
            matches!(torn.problem, FrameProblem::Truncated { .. }),
            "{:?}",
            torn.problem
        );
        assert_eq!(recovered.report.bytes_dropped(), torn.bytes_dropped);
        assert_eq!(replay_checked(&mut recovered), (1..=49).collect::<Vec<_>>());
        assert_eq!(data_len(copy), last);
        assert_eq!(file_len(copy), SEGMENT, "preallocated again");
        assert_eq!(store.last_position(), Position(49));
        append_entries(&mut store, 3, 3);
        drop(store);
        let (_, mut recovered) = open(dir2.path(), SEGMENT);
        assert!(recovered.report.is_clean());
        assert_eq!(replay_checked(&mut recovered), (1..=52).collect::<Vec<_>>());
    }
}

#[test]
fn a_flipped_byte_in_the_last_frame_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), SEGMENT);
    append_entries(&mut store, 20, 5);
    drop(store);
    let seg = &segments(dir.path())[0];
    let last = frame_offset(seg, 20);
    let end = data_len(seg);
    flip_byte(seg, end - 2);
    let (store, mut recovered) = open(dir.path(), SEGMENT);
    let torn = recovered
        .report
        .torn_tail
        .clone()
        .expect("torn tail reported");
    assert_eq!((torn.offset, torn.bytes_dropped), (last, end - last));
    assert_eq!(data_len(seg), last);
    assert!(
        matches!(torn.problem, FrameProblem::Crc { .. }),
        "{:?}",
        torn.problem
    );
    assert_eq!(replay_checked(&mut recovered), (1..=19).collect::<Vec<_>>());
    assert_eq!(store.last_position(), Position(19));
}

#[test]
fn damage_inside_the_last_commit_followed_by_its_own_frames_is_a_torn_write() {
    // Pages of one write reach the disk in any order on power loss, so frames of the
    // uncommitted batch may survive behind a damaged one. They are cut, not an error.
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), SEGMENT);
    append_entries(&mut store, 10, 10); // commit 1..=10
    append_entries(&mut store, 10, 10); // commit 11..=20 (the last commit)
    drop(store);
    let seg = &segments(dir.path())[0];
    let offset = frame_offset(seg, 14);
    flip_byte(seg, offset + 30);
    let (_, mut recovered) = open(dir.path(), SEGMENT);
    assert_eq!(recovered.report.torn_tail.as_ref().unwrap().offset, offset);
    assert_eq!(replay_checked(&mut recovered), (1..=13).collect::<Vec<_>>());
}

#[test]
fn damage_followed_by_a_later_commit_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), SEGMENT);
    append_entries(&mut store, 30, 10);
    drop(store);
    let seg = &segments(dir.path())[0];
    let offset = frame_offset(seg, 14);
    let before = std::fs::read(seg).unwrap();
    flip_byte(seg, offset + 25);
    let err = Store::open(options(dir.path(), SEGMENT)).unwrap_err();
    let Error::CorruptFrame {
        path,
        offset: at,
        expected_position,
        problem,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((path, *at, *expected_position), (seg, offset, 14));
    assert!(
        matches!(
            problem,
            FrameProblem::FollowedByCommitted { position: 21, .. }
        ),
        "{problem}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with("Expected to read the log entry at position 14"),
        "{message}"
    );
    assert!(message.contains(&seg.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("byte offset {offset}")),
        "{message}"
    );
    // Nothing was cut.
    assert_eq!(std::fs::read(seg).unwrap().len(), before.len());
}

#[test]
fn a_damaged_length_field_followed_by_a_later_commit_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), SEGMENT);
    append_entries(&mut store, 30, 10);
    drop(store);
    let seg = &segments(dir.path())[0];
    let offset = frame_offset(seg, 5);
    flip_byte(seg, offset + 1); // length field: the frame now claims ~23 KB more
    let err = Store::open(options(dir.path(), SEGMENT)).unwrap_err();
    assert!(
        matches!(err, Error::CorruptFrame { offset: o, .. } if o == offset),
        "{err}"
    );
}

#[test]
fn damage_in_an_earlier_segment_fails_the_replay_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), 8 * 1024);
    append_entries(&mut store, 100, 10);
    drop(store);
    let seg = segments(dir.path())[1].clone();
    let first: u64 = seg.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    let offset = frame_offset(&seg, first + 1);
    flip_byte(&seg, offset + 22);
    let (_, mut recovered) = open(dir.path(), 8 * 1024);
    let mut replayed = 0;
    let err = loop {
        match recovered.replay.next_entry() {
            Ok(Some(_)) => replayed += 1,
            Ok(None) => panic!("replay ended without reporting the damage"),
            Err(e) => break e,
        }
    };
    assert_eq!(replayed, first); // entries 1..=first, then the damaged one
    assert!(
        matches!(&err, Error::CorruptFrame { path, offset: o, .. } if *path == seg && *o == offset),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!("byte offset {offset}")),
        "{err}"
    );
    assert!(
        recovered.replay.next_entry().unwrap().is_none(),
        "replay stops after an error"
    );
}

#[test]
fn a_missing_segment_in_the_middle_is_a_gap_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), 8 * 1024);
    append_entries(&mut store, 100, 10);
    drop(store);
    let files = segments(dir.path());
    std::fs::remove_file(&files[2]).unwrap();
    let (_, recovered) = open(dir.path(), 8 * 1024);
    let err = recovered
        .replay
        .filter_map(Result::err)
        .next()
        .expect("gap reported");
    let Error::Gap { path, next, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!((path, next), (&files[1], &files[3]));
    assert!(err.to_string().contains("a segment is missing"), "{err}");
}

#[test]
fn an_intact_frame_out_of_order_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), SEGMENT);
    append_entries(&mut store, 3, 3);
    drop(store);
    // Duplicate the last frame (an intact frame with a repeated position).
    let seg = &segments(dir.path())[0];
    let mut bytes = std::fs::read(seg).unwrap();
    let (last, end) = (frame_offset(seg, 3) as usize, data_len(seg) as usize);
    let frame = bytes[last..end].to_vec();
    bytes[end..end + frame.len()].copy_from_slice(&frame);
    std::fs::write(seg, bytes).unwrap();
    let err = Store::open(options(dir.path(), SEGMENT)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CorruptFrame {
                expected_position: 4,
                problem: FrameProblem::Position { found: 3 },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_last_segment_without_a_complete_header_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), SEGMENT);
    append_entries(&mut store, 5, 5);
    drop(store);
    // A crash while creating the next segment left 9 bytes of its header, once in a short
    // file and once in a preallocated one.
    let next = dir.path().join(format!("{:020}.log", 6));
    for file_len in [9, SEGMENT] {
        let mut bytes = b"APSISLOG\x01".to_vec();
        bytes.resize(file_len as usize, 0);
        std::fs::write(&next, &bytes).unwrap();
        let (store, mut recovered) = open(dir.path(), SEGMENT);
        assert_eq!(
            recovered.report.removed_headerless_segment,
            Some((next.clone(), 9))
        );
        assert!(!next.exists());
        assert_eq!(replay_checked(&mut recovered), (1..=5).collect::<Vec<_>>());
        assert_eq!(store.last_position(), Position(5));
    }
    // And appending continues in the previous segment.
    let (mut store, _) = open(dir.path(), SEGMENT);
    assert_eq!(store.append(b"x").unwrap(), Position(6));
    store.commit().unwrap();
    drop(store);
    let (_, recovered) = open(dir.path(), SEGMENT);
    assert_eq!(recovered.replay.count(), 6);
}

#[test]
fn a_damaged_header_of_a_segment_with_frames_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), SEGMENT);
    append_entries(&mut store, 5, 5);
    drop(store);
    let seg = &segments(dir.path())[0];
    flip_byte(seg, 17);
    let err = Store::open(options(dir.path(), SEGMENT)).unwrap_err();
    assert!(
        matches!(&err, Error::SegmentHeader { path, .. } if path == seg),
        "{err}"
    );
    assert!(err.to_string().contains("byte offset 0"), "{err}");
}

#[test]
fn a_damaged_newest_snapshot_falls_back_to_the_older_one() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), 8 * 1024);
    append_entries(&mut store, 300, 10);
    store
        .write_snapshot(Position(100), &payload::snapshot(100))
        .unwrap();
    append_entries(&mut store, 300, 10);
    store
        .write_snapshot(Position(500), &payload::snapshot(500))
        .unwrap();
    append_entries(&mut store, 10, 10);
    drop(store);
    let newest = snapshots(dir.path()).pop().unwrap();
    flip_byte(&newest, 1000);
    let (mut store, mut recovered) = open(dir.path(), 8 * 1024);
    let snapshot = recovered.snapshot.take().expect("older snapshot");
    assert_eq!(snapshot.position, Position(100));
    assert_eq!(snapshot.bytes, payload::snapshot(100));
    assert_eq!(recovered.report.skipped_snapshots.len(), 1);
    let skipped = recovered.report.skipped_snapshots[0].to_string();
    assert!(
        skipped.contains(&newest.display().to_string()) && skipped.contains("CRC"),
        "{skipped}"
    );
    // The log still reaches back to the older snapshot.
    assert_eq!(
        replay_checked(&mut recovered),
        (101..=610).collect::<Vec<_>>()
    );

    // The damaged snapshot never counts as kept: after a new snapshot the log stays
    // back to the newest intact older one.
    store
        .write_snapshot(Position(600), &payload::snapshot(600))
        .unwrap();
    drop(store);
    flip_byte(&dir.path().join(format!("{:020}.snap", 600)), 50);
    let (_, mut recovered) = open(dir.path(), 8 * 1024);
    assert_eq!(recovered.snapshot.as_ref().unwrap().position, Position(100));
    assert_eq!(replay_checked(&mut recovered).len(), 510);
}

#[test]
fn a_snapshot_without_the_log_behind_it_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), 8 * 1024);
    opts.snapshots_kept = 1;
    let (mut store, _) = Store::open(opts.clone()).unwrap();
    append_entries(&mut store, 300, 10);
    store
        .write_snapshot(Position(200), &payload::snapshot(200))
        .unwrap();
    drop(store);
    // With one snapshot kept and damaged, the log (cut at 200) cannot replay from 1.
    flip_byte(&snapshots(dir.path())[0], 45);
    let err = Store::open(opts).unwrap_err();
    assert!(matches!(err, Error::LogTooShort { needed: 1, .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("Expected the log to reach back to position 1"),
        "{err}"
    );
}

#[test]
fn leftover_temporary_snapshot_files_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), SEGMENT);
    append_entries(&mut store, 5, 5);
    drop(store);
    let tmp = dir.path().join(format!("{:020}.snap.tmp", 5));
    std::fs::write(&tmp, b"half a snapshot").unwrap();
    let (_, recovered) = open(dir.path(), SEGMENT);
    assert_eq!(recovered.report.removed_temporary_files, vec![tmp.clone()]);
    assert!(recovered.snapshot.is_none());
    assert!(!tmp.exists());
}

fn zero_range(path: &std::path::Path, from: u64, to: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[from as usize..to as usize].fill(0);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_closed_segment_whose_trim_was_lost_replays_to_its_zero_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), 8 * 1024);
    append_entries(&mut store, 100, 10);
    drop(store);
    // A crash between roll and trim leaves the closed segment preallocated.
    set_len(&segments(dir.path())[0], 8 * 1024 + 4096);
    let (_, mut recovered) = open(dir.path(), 8 * 1024);
    assert!(recovered.report.is_clean());
    assert_eq!(
        replay_checked(&mut recovered),
        (1..=100).collect::<Vec<_>>()
    );
}

#[test]
fn zeroed_frames_inside_a_closed_segment_are_a_gap_not_an_end() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), 8 * 1024);
    append_entries(&mut store, 100, 10);
    drop(store);
    let seg = &segments(dir.path())[0];
    zero_range(seg, frame_offset(seg, 3), file_len(seg));
    let (_, recovered) = open(dir.path(), 8 * 1024);
    let err = recovered
        .replay
        .filter_map(Result::err)
        .next()
        .expect("gap reported");
    assert!(
        matches!(
            &err,
            Error::Gap {
                expected_position: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn zeroed_committed_frames_in_the_last_segment_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), SEGMENT);
    append_entries(&mut store, 30, 10);
    drop(store);
    let seg = &segments(dir.path())[0];
    let offset = frame_offset(seg, 5);
    zero_range(seg, offset, frame_offset(seg, 7));
    let err = Store::open(options(dir.path(), SEGMENT)).unwrap_err();
    assert!(
        matches!(&err, Error::CorruptFrame { offset: o, problem: FrameProblem::FollowedByCommitted { position: 11, .. }, .. } if *o == offset),
        "{err}"
    );
}
