//! Write side: round trip, segment roll, snapshots with truncation, lock, accounting.

mod common;

use apsis_store::{Error, Position, Store};
use common::{append_entries, open, options, payload, replay_checked, segments, snapshots};

#[test]
fn committed_entries_survive_reopen_and_uncommitted_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut store, mut recovered) = open(dir.path(), 1 << 20);
        assert!(recovered.snapshot.is_none());
        assert_eq!(replay_checked(&mut recovered), Vec::<u64>::new());
        assert_eq!(store.last_position(), Position(0));
        assert_eq!(append_entries(&mut store, 100, 7), Position(100));
        // Appended but never committed: must not come back.
        store.append(b"lost").unwrap();
        assert_eq!(store.last_position(), Position(101));
        assert_eq!(store.committed_position(), Position(100));
    }
    let (mut store, mut recovered) = open(dir.path(), 1 << 20);
    assert!(recovered.report.is_clean(), "{:?}", recovered.report);
    assert_eq!(
        replay_checked(&mut recovered),
        (1..=100).collect::<Vec<_>>()
    );
    assert_eq!(store.last_position(), Position(100));
    // Appending continues at the next position.
    assert_eq!(append_entries(&mut store, 5, 5), Position(105));
    drop(store);
    let (_, mut recovered) = open(dir.path(), 1 << 20);
    assert_eq!(
        replay_checked(&mut recovered),
        (1..=105).collect::<Vec<_>>()
    );
}

#[test]
fn commit_without_appends_does_nothing_and_returns_the_committed_position() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), 1 << 20);
    assert_eq!(store.commit().unwrap(), Position(0));
    append_entries(&mut store, 3, 3);
    let usage = store.disk_usage();
    assert_eq!(store.commit().unwrap(), Position(3));
    assert_eq!(store.disk_usage(), usage);
}

#[test]
fn segments_roll_at_segment_bytes_and_are_named_by_their_first_position() {
    let dir = tempfile::tempdir().unwrap();
    let segment_bytes = 8 * 1024;
    let (mut store, _) = open(dir.path(), segment_bytes);
    append_entries(&mut store, 300, 10);
    drop(store);
    let files = segments(dir.path());
    assert!(files.len() > 10, "only {} segments", files.len());
    let mut expected_first = 1;
    for file in &files {
        let first: u64 = file.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        assert_eq!(first, expected_first, "{}", file.display());
        // Every segment starts with its first position's frame and fits in segment_bytes
        // (entries here are far smaller than a segment).
        assert_eq!(common::frame_offset(file, first), 32);
        assert!(
            common::file_len(file) <= segment_bytes,
            "{}",
            file.display()
        );
        let bytes = std::fs::read(file).unwrap();
        let end = common::data_len(file) as usize;
        let mut at = 32;
        while at < end {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            expected_first += 1;
            at += 20 + len;
        }
        assert_eq!(at, end);
        // Closed segments are trimmed to their data; the active one stays preallocated.
        if file != files.last().unwrap() {
            assert_eq!(end as u64, common::file_len(file), "{}", file.display());
        }
    }
    assert_eq!(expected_first, 301);
    let (_, mut recovered) = open(dir.path(), segment_bytes);
    assert_eq!(
        replay_checked(&mut recovered),
        (1..=300).collect::<Vec<_>>()
    );
}

#[test]
fn an_entry_larger_than_a_segment_gets_a_segment_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), 1024);
    store.append(b"small").unwrap();
    let big = vec![7u8; 5000];
    store.append(&big).unwrap();
    store.append(b"after").unwrap();
    store.commit().unwrap();
    drop(store);
    assert_eq!(segments(dir.path()).len(), 3);
    let (_, recovered) = open(dir.path(), 1024);
    let entries: Vec<_> = recovered.replay.map(Result::unwrap).collect();
    assert_eq!(
        entries,
        vec![
            (Position(1), b"small".to_vec()),
            (Position(2), big),
            (Position(3), b"after".to_vec())
        ]
    );
}

#[test]
fn snapshots_truncate_the_log_up_to_the_oldest_kept_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let segment_bytes = 8 * 1024;
    let (mut store, _) = open(dir.path(), segment_bytes);
    append_entries(&mut store, 1000, 10);
    let before = segments(dir.path()).len();

    store
        .write_snapshot(Position(500), &payload::snapshot(500))
        .unwrap();
    let after_first = segments(dir.path());
    assert!(after_first.len() < before);
    // The segment holding 501 (the first entry to replay) must be kept.
    let oldest_first: u64 = first_position(&after_first[0]);
    assert!(oldest_first <= 501 && oldest_first > 400, "{oldest_first}");

    // A second snapshot: the first one is still kept, so nothing more may go.
    store
        .write_snapshot(Position(800), &payload::snapshot(800))
        .unwrap();
    assert_eq!(segments(dir.path()), after_first);
    assert_eq!(snapshots(dir.path()).len(), 2);

    // A third: snapshot 500 goes, the log is cut back to 800.
    store
        .write_snapshot(Position(900), &payload::snapshot(900))
        .unwrap();
    let names: Vec<u64> = snapshots(dir.path())
        .iter()
        .map(|p| first_position(p))
        .collect();
    assert_eq!(names, vec![800, 900]);
    let oldest_first = first_position(&segments(dir.path())[0]);
    assert!(oldest_first <= 801 && oldest_first > 700, "{oldest_first}");

    append_entries(&mut store, 50, 10);
    let usage = store.disk_usage();
    drop(store);
    let on_disk: u64 = segments(dir.path())
        .iter()
        .map(|p| common::data_len(p))
        .chain(snapshots(dir.path()).iter().map(|p| common::file_len(p)))
        .sum();
    assert_eq!(usage, on_disk);

    let (store, mut recovered) = open(dir.path(), segment_bytes);
    let snapshot = recovered.snapshot.take().unwrap();
    assert_eq!(snapshot.position, Position(900));
    assert_eq!(snapshot.bytes, payload::snapshot(900));
    assert_eq!(recovered.replay.start(), Position(901));
    assert_eq!(
        replay_checked(&mut recovered),
        (901..=1050).collect::<Vec<_>>()
    );
    assert_eq!(store.last_position(), Position(1050));
}

#[test]
fn the_active_segment_is_never_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), 1 << 20);
    append_entries(&mut store, 10, 10);
    let mut opts_one = options(dir.path(), 1 << 20);
    opts_one.snapshots_kept = 1;
    drop(store);
    let (mut store, _) = Store::open(opts_one.clone()).unwrap();
    store.write_snapshot(Position(10), b"state").unwrap();
    assert_eq!(segments(dir.path()).len(), 1);
    drop(store);
    let (mut store, mut recovered) = Store::open(opts_one).unwrap();
    assert_eq!(recovered.snapshot.as_ref().unwrap().position, Position(10));
    assert_eq!(replay_checked(&mut recovered), Vec::<u64>::new());
    assert_eq!(store.append(b"x").unwrap(), Position(11));
}

#[test]
fn a_snapshot_must_cover_a_committed_position() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path(), 1 << 20);
    append_entries(&mut store, 5, 5);
    store.append(b"uncommitted").unwrap();
    for covers in [0, 6] {
        let err = store.write_snapshot(Position(covers), b"s").unwrap_err();
        assert!(matches!(err, Error::SnapshotPosition { .. }), "{err}");
        assert!(
            err.to_string().starts_with("Expected a snapshot position"),
            "{err}"
        );
    }
    store.write_snapshot(Position(5), b"s").unwrap();
}

#[test]
fn a_second_open_of_the_same_directory_is_refused_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path(), 1 << 20);
    let err = Store::open(options(dir.path(), 1 << 20)).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("LOCK") && message.contains("another store"),
        "{message}"
    );
    drop(store);
    Store::open(options(dir.path(), 1 << 20)).unwrap();
}

#[test]
fn invalid_options_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), 1 << 20);
    opts.snapshots_kept = 0;
    let err = Store::open(opts).unwrap_err();
    assert!(err.to_string().contains("snapshots_kept"), "{err}");
}

#[test]
fn the_directory_is_created_if_missing() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/partition-1");
    let mut opts = options(&nested, 1 << 20);
    opts.sync = apsis_store::SyncMode::Fsync;
    let (mut store, _) = Store::open(opts.clone()).unwrap();
    append_entries(&mut store, 3, 1);
    drop(store);
    let (_, mut recovered) = Store::open(opts).unwrap();
    assert_eq!(replay_checked(&mut recovered), vec![1, 2, 3]);
}

fn first_position(path: &std::path::Path) -> u64 {
    path.file_name().unwrap().to_str().unwrap()[..20]
        .parse()
        .unwrap()
}
