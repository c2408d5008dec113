//! Test helper for `tests/crash.rs` (not a tool): opens the store in the given directory and
//! appends batches of deterministic entries forever, printing each committed position on
//! its own line (flushed) only after `commit` returned, i.e. each line is an acknowledgement.
//! Every few commits it writes a snapshot first announced by a line `snapshot <covers>`.
//!
//! Usage: store-crash-child DIR SEED

use std::io::Write;

use apsis_store::{Position, Store, StoreOptions};

#[path = "../../tests/common/payload.rs"]
mod payload;

/// Small segments so that rolls and truncation happen within a short run.
const SEGMENT_BYTES: u64 = 128 * 1024;
const SNAPSHOT_EVERY_COMMITS: u64 = 7;
/// Stops on its own if nobody kills it.
const MAX_COMMITS: u64 = 100_000;

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("Expected DIR as first argument")?;
    let mut seed: u64 = args
        .next()
        .ok_or("Expected SEED as second argument")?
        .parse()?;
    seed |= 1; // xorshift never leaves 0
    let mut opts = StoreOptions::new(dir);
    opts.segment_bytes = SEGMENT_BYTES;
    let (mut store, _recovered) = Store::open(opts)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for commit in 1..=MAX_COMMITS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let batch = 1 + seed % 48;
        for _ in 0..batch {
            let next = store.last_position().0 + 1;
            let position = store.append(&payload::entry(next))?;
            if position != Position(next) {
                return Err(format!(
                    "Expected append to return {next}, but it returned {position}"
                )
                .into());
            }
        }
        let committed = store.commit()?;
        writeln!(out, "{committed}")?;
        out.flush()?;
        if commit % SNAPSHOT_EVERY_COMMITS == 0 {
            writeln!(out, "snapshot {committed}")?;
            out.flush()?;
            store.write_snapshot(committed, &payload::snapshot(committed.0))?;
        }
    }
    Ok(())
}
