//! Storage comparison for docs/decisions/0001-store.md: the own log vs redb vs fjall, on the
//! engine's access pattern (append entries at increasing positions, one durable commit per
//! batch; full sequential replay on restart).
//!
//! ```text
//! cargo bench -p apsis-store --features bench-compare --bench store_bench -- \
//!     [--seconds 1] [--rounds 3] [--replay-mb 1024] [--only own|redb|fjall] [--dir PATH]
//! ```
//! Measures, with real fsync (fdatasync) on the directory's file system:
//! 1. group-commit write throughput for batches of 1, 16, 128, 1024 entries of 512 bytes;
//! 2. commit latency p50/p99 per batch size (the engine's case is batch 16);
//! 3. full replay of `--replay-mb` of payload, after dropping the page cache if allowed
//!    (cold) and again right after (warm);
//! 4. disk bytes per payload byte for that data set.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use apsis_store::{Position, Store, StoreOptions, SyncMode};

type BoxResult<T> = Result<T, Box<dyn Error>>;

const PAYLOAD: usize = 512;
const BATCHES: [usize; 4] = [1, 16, 128, 1024];
/// Entries written per cell at most (bounds a cell on a very fast disk).
const MAX_ENTRIES_PER_CELL: u64 = 4_000_000;

/// One storage candidate, used the way the engine would use it.
trait Candidate {
    /// Writes `payloads` at positions `first..` and makes them durable (if `durable`).
    fn write_batch(&mut self, first: u64, payloads: &[&[u8]], durable: bool) -> BoxResult<()>;
    /// Makes everything written so far durable.
    fn sync(&mut self) -> BoxResult<()>;
}

/// Reads every entry back in order; returns (entries, payload bytes).
type Replayer = fn(&Path) -> BoxResult<(u64, u64)>;

struct Own(Store);
struct Redb(redb::Database);
struct Fjall(fjall::Database, fjall::Keyspace);

const REDB_TABLE: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("log");

impl Candidate for Own {
    fn write_batch(&mut self, _first: u64, payloads: &[&[u8]], durable: bool) -> BoxResult<()> {
        for p in payloads {
            self.0.append(p)?;
        }
        // The store's own SyncMode decides durability; see `open_candidate`.
        let _ = durable;
        self.0.commit()?;
        Ok(())
    }
    fn sync(&mut self) -> BoxResult<()> {
        self.0.commit()?;
        Ok(())
    }
}

impl Candidate for Redb {
    fn write_batch(&mut self, first: u64, payloads: &[&[u8]], durable: bool) -> BoxResult<()> {
        let mut txn = self.0.begin_write()?;
        txn.set_durability(if durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        })?;
        {
            let mut table = txn.open_table(REDB_TABLE)?;
            for (i, p) in payloads.iter().enumerate() {
                table.insert(first + i as u64, *p)?;
            }
        }
        txn.commit()?;
        Ok(())
    }
    fn sync(&mut self) -> BoxResult<()> {
        // An empty durable transaction makes the earlier non-durable ones durable.
        let mut txn = self.0.begin_write()?;
        txn.set_durability(redb::Durability::Immediate)?;
        txn.open_table(REDB_TABLE)?;
        txn.commit()?;
        Ok(())
    }
}

impl Candidate for Fjall {
    fn write_batch(&mut self, first: u64, payloads: &[&[u8]], durable: bool) -> BoxResult<()> {
        let mut batch = self
            .0
            .batch()
            .durability(durable.then_some(fjall::PersistMode::SyncData));
        for (i, p) in payloads.iter().enumerate() {
            // Big-endian keys sort in position order.
            batch.insert(&self.1, (first + i as u64).to_be_bytes(), *p);
        }
        batch.commit()?;
        Ok(())
    }
    fn sync(&mut self) -> BoxResult<()> {
        self.0.persist(fjall::PersistMode::SyncAll)?;
        Ok(())
    }
}

fn open_candidate(name: &str, dir: &Path, durable: bool) -> BoxResult<Box<dyn Candidate>> {
    std::fs::create_dir_all(dir)?;
    Ok(match name {
        "own" => {
            let mut opts = StoreOptions::new(dir);
            opts.sync = if durable {
                SyncMode::Fsync
            } else {
                SyncMode::None
            };
            Box::new(Own(Store::open(opts)?.0))
        }
        "redb" => Box::new(Redb(redb::Database::create(dir.join("log.redb"))?)),
        "fjall" => {
            let db = fjall::Database::builder(dir.join("fjall")).open()?;
            let ks = db.keyspace("log", fjall::KeyspaceCreateOptions::default)?;
            Box::new(Fjall(db, ks))
        }
        other => return Err(format!("Expected own, redb or fjall, but found {other}").into()),
    })
}

fn replay_own(dir: &Path) -> BoxResult<(u64, u64)> {
    let mut opts = StoreOptions::new(dir);
    opts.sync = SyncMode::None;
    let (_store, mut recovered) = Store::open(opts)?;
    let (mut n, mut bytes, mut last) = (0, 0, Position(0));
    while let Some(e) = recovered.replay.next_entry()? {
        n += 1;
        bytes += e.payload.len() as u64;
        last = e.position;
    }
    assert_eq!(last.0, n);
    Ok((n, bytes))
}

fn replay_redb(dir: &Path) -> BoxResult<(u64, u64)> {
    use redb::{ReadableDatabase, ReadableTable};
    let db = redb::Database::create(dir.join("log.redb"))?;
    let txn = db.begin_read()?;
    let table = txn.open_table(REDB_TABLE)?;
    let (mut n, mut bytes) = (0, 0);
    for kv in table.iter()? {
        let (k, v) = kv?;
        n += 1;
        assert_eq!(k.value(), n);
        bytes += v.value().len() as u64;
    }
    Ok((n, bytes))
}

fn replay_fjall(dir: &Path) -> BoxResult<(u64, u64)> {
    let db = fjall::Database::builder(dir.join("fjall")).open()?;
    let ks = db.keyspace("log", fjall::KeyspaceCreateOptions::default)?;
    let (mut n, mut bytes) = (0u64, 0);
    for guard in ks.iter() {
        let (k, v) = guard.into_inner()?;
        n += 1;
        assert_eq!(k.as_ref(), n.to_be_bytes());
        bytes += v.len() as u64;
    }
    Ok((n, bytes))
}

/// 512-byte payloads cut from a pool of pseudo-random (incompressible) bytes.
struct Payloads(Vec<u8>);

impl Payloads {
    fn new() -> Self {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        Self(
            (0..(1 << 20))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect(),
        )
    }
    fn get(&self, position: u64) -> &[u8] {
        let at = (position.wrapping_mul(7919) as usize) % (self.0.len() - PAYLOAD);
        &self.0[at..at + PAYLOAD]
    }
}

struct Cell {
    entries: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

fn write_cell(
    name: &str,
    dir: &Path,
    batch: usize,
    budget: Duration,
    pool: &Payloads,
) -> BoxResult<Cell> {
    let mut c = open_candidate(name, dir, true)?;
    let mut latencies = Vec::new();
    let mut next = 1u64;
    let mut payloads: Vec<&[u8]> = Vec::with_capacity(batch);
    let start = Instant::now();
    while start.elapsed() < budget && next <= MAX_ENTRIES_PER_CELL {
        payloads.clear();
        payloads.extend((0..batch as u64).map(|i| pool.get(next + i)));
        let t = Instant::now();
        c.write_batch(next, &payloads, true)?;
        latencies.push(t.elapsed());
        next += batch as u64;
    }
    let elapsed = start.elapsed();
    Ok(Cell {
        entries: next - 1,
        elapsed,
        latencies,
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Apparent and allocated bytes of every file under `dir`.
fn disk_bytes(dir: &Path) -> BoxResult<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let (mut apparent, mut allocated) = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            let (a, b) = disk_bytes(&entry.path())?;
            apparent += a;
            allocated += b;
        } else {
            apparent += meta.len();
            allocated += meta.blocks() * 512;
        }
    }
    Ok((apparent, allocated))
}

/// Empties the page cache so the replay reads from the device; false if not permitted.
fn drop_caches() -> bool {
    let synced = std::process::Command::new("sync")
        .status()
        .is_ok_and(|s| s.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

struct Args {
    seconds: f64,
    rounds: usize,
    replay_mb: u64,
    only: Option<String>,
    dir: PathBuf,
}

fn parse_args() -> BoxResult<Args> {
    let mut args = Args {
        seconds: 1.0,
        rounds: 3,
        replay_mb: 1024,
        only: None,
        dir: std::env::temp_dir().join(format!("apsis-store-bench-{}", std::process::id())),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("Expected a value after {flag}"));
        match flag.as_str() {
            "--seconds" => args.seconds = value()?.parse()?,
            "--rounds" => args.rounds = value()?.parse()?,
            "--replay-mb" => args.replay_mb = value()?.parse()?,
            "--only" => args.only = Some(value()?),
            "--dir" => args.dir = PathBuf::from(value()?),
            "--bench" => {} // passed by `cargo bench`
            other => return Err(format!("Expected a known flag, but found {other}").into()),
        }
    }
    Ok(args)
}

fn main() -> BoxResult<()> {
    let args = parse_args()?;
    let pool = Payloads::new();
    let candidates: Vec<(&str, Replayer)> = vec![
        ("own", replay_own),
        ("redb", replay_redb),
        ("fjall", replay_fjall),
    ];
    std::fs::create_dir_all(&args.dir)?;
    println!("io pressure at the start: {}", io_pressure());
    println!(
        "store bench: payload {PAYLOAD} B, fdatasync per commit, {} s per cell, replay set {} MiB, dir {}",
        args.seconds,
        args.replay_mb,
        args.dir.display()
    );
    let budget = Duration::from_secs_f64(args.seconds);

    println!(
        "\n(1)+(2) group commit: durable commits of N entries; median of {} rounds, the \
         candidates interleaved within each round",
        args.rounds
    );
    println!(
        "{:<6} {:>6} {:>12} {:>9} {:>10} {:>10} {:>10} {:>22}",
        "store",
        "batch",
        "entries/s",
        "MB/s",
        "commits/s",
        "p50 ms",
        "p99 ms",
        "entries/s per round"
    );
    let selected: Vec<&str> = candidates
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| args.only.as_deref().is_none_or(|o| o == *name))
        .collect();
    for batch in BATCHES {
        // rounds[candidate] = (entries/s, commits/s, p50, p99) per round
        let mut results: Vec<Vec<[f64; 4]>> = vec![Vec::new(); selected.len()];
        for _ in 0..args.rounds {
            for (i, name) in selected.iter().enumerate() {
                let dir = args.dir.join(format!("{name}-write-{batch}"));
                let mut cell = write_cell(name, &dir, batch, budget, &pool)?;
                cell.latencies.sort();
                let secs = cell.elapsed.as_secs_f64();
                results[i].push([
                    cell.entries as f64 / secs,
                    cell.latencies.len() as f64 / secs,
                    percentile(&cell.latencies, 0.50).as_secs_f64() * 1e3,
                    percentile(&cell.latencies, 0.99).as_secs_f64() * 1e3,
                ]);
                std::fs::remove_dir_all(&dir)?;
            }
        }
        for (name, rounds) in selected.iter().zip(&results) {
            let median = |k: usize| {
                let mut v: Vec<f64> = rounds.iter().map(|r| r[k]).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let per_round: Vec<String> = rounds.iter().map(|r| format!("{:.0}", r[0])).collect();
            println!(
                "{:<6} {:>6} {:>12.0} {:>9.1} {:>10.0} {:>10.3} {:>10.3}   {}",
                name,
                batch,
                median(0),
                median(0) * PAYLOAD as f64 / 1e6,
                median(1),
                median(2),
                median(3),
                per_round.join(" / "),
            );
        }
    }
    println!("io pressure after part 1: {}", io_pressure());

    println!("\n(3)+(4) replay of the whole log and disk use ({} MiB of payload, written in batches of 1024)", args.replay_mb);
    println!(
        "{:<6} {:>9} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "store", "write s", "cold s", "cold MB/s", "warm MB/s", "disk/payload", "alloc/payload"
    );
    let total_entries = args.replay_mb * 1024 * 1024 / PAYLOAD as u64;
    for (name, replay) in &candidates {
        if args.only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let dir = args.dir.join(format!("{name}-replay"));
        let t = Instant::now();
        {
            let mut c = open_candidate(name, &dir, false)?;
            let mut payloads: Vec<&[u8]> = Vec::with_capacity(1024);
            let mut next = 1;
            while next <= total_entries {
                let n = 1024.min(total_entries - next + 1);
                payloads.clear();
                payloads.extend((0..n).map(|i| pool.get(next + i)));
                c.write_batch(next, &payloads, false)?;
                next += n;
            }
            c.sync()?;
        }
        let write_secs = t.elapsed().as_secs_f64();
        let payload_bytes = total_entries * PAYLOAD as u64;
        let (apparent, allocated) = disk_bytes(&dir)?;
        let cold = drop_caches();
        let t = Instant::now();
        let (n, bytes) = replay(&dir)?;
        let cold_secs = t.elapsed().as_secs_f64();
        assert_eq!(
            (n, bytes),
            (total_entries, payload_bytes),
            "{name} replayed all"
        );
        let t = Instant::now();
        replay(&dir)?;
        let warm_secs = t.elapsed().as_secs_f64();
        println!(
            "{:<6} {:>9.1} {:>12} {:>12.0} {:>12.0} {:>12.3} {:>12.3}",
            name,
            write_secs,
            format!("{cold_secs:.2}{}", if cold { "" } else { " (warm!)" }),
            payload_bytes as f64 / cold_secs / 1e6,
            payload_bytes as f64 / warm_secs / 1e6,
            apparent as f64 / payload_bytes as f64,
            allocated as f64 / payload_bytes as f64,
        );
        std::fs::remove_dir_all(&dir)?;
    }
    println!("io pressure at the end: {}", io_pressure());
    std::fs::remove_dir_all(&args.dir)?;
    Ok(())
}

/// The kernel's I/O pressure line (share of time some task waited on I/O), to flag runs
/// disturbed by other work on the machine.
fn io_pressure() -> String {
    std::fs::read_to_string("/proc/pressure/io")
        .ok()
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unavailable".to_owned())
}
