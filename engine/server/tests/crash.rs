//! Crash test with a real process and a real SIGKILL: the engine runs as a child process on a temporary
//! directory, drives a workload, and is killed at random moments, many times. After every restart, every
//! acknowledged command's effect must be present, and nothing may be applied twice.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// pi key -> (n, worked), as the restarted child reports it.
type Recovered = BTreeMap<i64, (i64, bool)>;

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Starts the child on `dir`; returns what it recovered, then the creations (n, key) and job completions (n) it
/// acknowledged before being killed.
fn run_once(dir: &std::path::Path, kill_after: Duration) -> (Recovered, Vec<(i64, i64)>, Vec<i64>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_apsis-crash-child"))
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(l) = line else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut recovered = Recovered::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the child did not report its recovered state in time");
        let parts: Vec<&str> = line.split(' ').collect();
        match parts[0] {
            "state" => {
                recovered.insert(
                    parts[1].parse().unwrap(),
                    (parts[2].parse().unwrap(), parts[3] == "true"),
                );
            }
            "ready" => break,
            other => panic!("unexpected line before ready: {other}"),
        }
    }
    std::thread::sleep(kill_after);
    child.kill().expect("SIGKILL"); // std's Child::kill sends SIGKILL on Unix
    let _ = child.wait();
    let _ = reader.join();
    let mut created = Vec::new();
    let mut completed = Vec::new();
    for line in rx.try_iter() {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts[0] {
            "created" => created.push((parts[2].parse().unwrap(), parts[1].parse().unwrap())),
            "completed" => completed.push(parts[2].parse().unwrap()),
            _ => {}
        }
    }
    (recovered, created, completed)
}

#[test]
fn sigkill_never_loses_an_acknowledged_command_nor_applies_one_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seed: u64 = std::env::var("APSIS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    eprintln!("crash test seed {seed} (set APSIS_CRASH_SEED to reproduce)");
    let rounds: usize = std::env::var("APSIS_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    let mut acked_created: BTreeMap<i64, i64> = BTreeMap::new(); // n -> process instance key
    let mut acked_completed: BTreeSet<i64> = BTreeSet::new(); // n whose job completion was acknowledged
    let mut total_acks = 0;
    for round in 0..=rounds {
        let kill_after = Duration::from_millis(20 + xorshift(&mut seed) % 300);
        let (recovered, created, completed) = run_once(dir.path(), kill_after);
        // Everything acknowledged before this start must be in the recovered state, exactly once.
        let mut by_n: BTreeMap<i64, Vec<(i64, bool)>> = BTreeMap::new();
        for (key, (n, worked)) in &recovered {
            by_n.entry(*n).or_default().push((*key, *worked));
        }
        for (n, list) in &by_n {
            assert_eq!(
                list.len(),
                1,
                "round {round}: instance n={n} exists {} times",
                list.len()
            );
        }
        for (n, key) in &acked_created {
            let found = by_n.get(n).unwrap_or_else(|| {
                panic!("round {round}: acknowledged instance n={n} (key {key}) was lost")
            });
            assert_eq!(
                found[0].0, *key,
                "round {round}: instance n={n} has another key after restart"
            );
        }
        for n in &acked_completed {
            assert!(
                by_n[n][0].1,
                "round {round}: acknowledged job completion of n={n} was lost"
            );
        }
        if round == rounds {
            break;
        }
        total_acks += created.len() + completed.len();
        for (n, key) in created {
            assert!(
                acked_created.insert(n, key).is_none(),
                "n={n} acknowledged twice"
            );
        }
        acked_completed.extend(completed);
    }
    eprintln!(
        "{rounds} SIGKILLs, {total_acks} acknowledged commands, {} instances and {} job completions verified",
        acked_created.len(),
        acked_completed.len()
    );
    assert!(
        acked_created.len() > 100,
        "the workload made too little progress to prove anything"
    );
    assert!(!acked_completed.is_empty());
}
