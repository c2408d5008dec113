//! Real crashes: a child process appends and commits with real fdatasync, printing each
//! acknowledged position; it is SIGKILLed at random moments (also inside segment rolls,
//! snapshot writes and truncation), then the store is reopened and checked: every
//! acknowledged entry is there, intact, in order, exactly once.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apsis_store::{Store, StoreOptions};
use common::payload;

const ITERATIONS: u32 = 30;
/// The whole test stops starting new iterations after this (it normally needs far less).
const BUDGET: Duration = Duration::from_secs(25);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn every_acknowledged_entry_survives_sigkill() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    // Highest position acknowledged by any child so far: it must never be lost later.
    let mut acknowledged = 0u64;
    let (mut torn, mut snapshots_seen, mut iterations, mut in_snapshot) = (0, 0, 0, 0);

    for iteration in 0..ITERATIONS {
        if started.elapsed() > BUDGET {
            break;
        }
        iterations += 1;
        let mut child = Command::new(env!("CARGO_BIN_EXE_store-crash-child"))
            .arg(dir.path())
            .arg(rng.next().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn store-crash-child");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let kill_after = 1 + rng.next() % 40;
        // One kill in three waits for a snapshot to start, to land inside its write, rename
        // or the truncation after it.
        let during_snapshot = rng.next().is_multiple_of(3);
        let mut acks = 0;
        loop {
            let line = lines.next().expect("child ended early").expect("read");
            if line.starts_with("snapshot ") {
                snapshots_seen += 1;
                if during_snapshot && acks >= kill_after {
                    break;
                }
                continue;
            }
            acknowledged = acknowledged.max(line.parse().expect("position"));
            acks += 1;
            if !during_snapshot && acks >= kill_after {
                break;
            }
        }
        // Land the kill somewhere inside the next batch, roll or snapshot.
        let spin = Duration::from_micros(rng.next() % if during_snapshot { 1_500 } else { 3_000 });
        let spin_start = Instant::now();
        while spin_start.elapsed() < spin {
            std::hint::spin_loop();
        }
        child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
        child.wait().expect("wait");
        // Lines already in the pipe were printed after their commit: acknowledged too.
        for line in lines {
            let line = line.expect("read");
            if !line.starts_with("snapshot ") {
                acknowledged = acknowledged.max(line.parse().expect("position"));
            }
        }

        let (store, recovered) = Store::open(StoreOptions::new(dir.path()))
            .unwrap_or_else(|e| panic!("iteration {iteration} (seed {seed}): reopen failed: {e}"));
        if recovered.report.torn_tail.is_some() {
            torn += 1;
        }
        if !recovered.report.removed_temporary_files.is_empty() {
            in_snapshot += 1;
        }
        let mut expected = 1;
        if let Some(snapshot) = &recovered.snapshot {
            assert_eq!(
                snapshot.bytes,
                payload::snapshot(snapshot.position.0),
                "seed {seed}"
            );
            expected = snapshot.position.0 + 1;
        }
        let mut replay = recovered.replay;
        while let Some(entry) = replay
            .next_entry()
            .unwrap_or_else(|e| panic!("iteration {iteration} (seed {seed}): replay failed: {e}"))
        {
            assert_eq!(
                entry.position.0, expected,
                "seed {seed}: out of order or duplicated"
            );
            assert_eq!(
                entry.payload,
                payload::entry(expected),
                "seed {seed}: entry {expected}"
            );
            expected += 1;
        }
        let last = expected - 1;
        assert_eq!(store.last_position().0, last);
        assert!(
            last >= acknowledged,
            "iteration {iteration} (seed {seed}): acknowledged {acknowledged} but the log ends at {last}"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        drop(store);
    }
    eprintln!(
        "crash test: {iterations} kills, {acknowledged} entries acknowledged, {torn} torn tails \
         repaired, {snapshots_seen} snapshots started, {in_snapshot} kills inside a snapshot \
         write, {:?}",
        started.elapsed()
    );
    assert!(
        iterations >= 10,
        "only {iterations} iterations fit in the budget"
    );
}
