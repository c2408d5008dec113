//! Engine benchmark (not a test): W1 = start -> service task -> end; W2 = service task -> parallel fork of two
//! service tasks -> join -> exclusive gateway on a variable -> two ends. An in-process job worker activates and
//! completes the jobs; durability is on (fdatasync per group commit) unless `--no-fsync`.
//! Prints instances/s, create-to-completion latency p50/p99, and peak RSS; `--replay` also restarts the engine on
//! the log it left (no snapshot) and prints the replay time.
//!
//!     cargo run --release -p apsis-server --bin apsis-bench -- --workload w1 --instances 200000

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use apsis_core::command::{ProcessSelector, Resource};
use apsis_core::{Command, Effect, Json, Key, Response};
use apsis_server::{Engine, EngineOptions};
use apsis_store::SyncMode;
use serde_json::json;

/// The workloads' BPMN, as drawn in `examples/bench/`.
const BPMN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/bench");

struct Args {
    workloads: Vec<String>,
    instances: usize,
    in_flight: usize,
    data_dir: Option<PathBuf>,
    fsync: bool,
    replay: bool,
    replay_only: Option<PathBuf>,
    bpmn_dir: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        workloads: vec!["w1".into(), "w2".into()],
        instances: 100_000,
        in_flight: 20_000,
        data_dir: None,
        fsync: true,
        replay: false,
        replay_only: None,
        bpmn_dir: PathBuf::from(BPMN_DIR),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("Expected a value after {arg}"))
        };
        match arg.as_str() {
            "--workload" => a.workloads = value()?.split(',').map(str::to_owned).collect(),
            "--instances" => {
                a.instances = value()?.parse().context("--instances expects a number")?
            }
            "--in-flight" => {
                a.in_flight = value()?.parse().context("--in-flight expects a number")?
            }
            "--data-dir" => a.data_dir = Some(PathBuf::from(value()?)),
            "--no-fsync" => a.fsync = false,
            "--replay" => a.replay = true,
            "--replay-only" => a.replay_only = Some(PathBuf::from(value()?)),
            "--bpmn-dir" => a.bpmn_dir = PathBuf::from(value()?),
            "--help" | "-h" => {
                println!("apsis-bench [--workload w1,w2] [--instances N] [--in-flight K] [--data-dir DIR] [--no-fsync] [--replay] [--replay-only DIR] [--bpmn-dir DIR]");
                std::process::exit(0);
            }
            other => bail!("Expected a known option, but found '{other}' (see --help)"),
        }
    }
    Ok(a)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn dir_size(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    // Allocated blocks, not lengths: log segments are preallocated sparse files.
    std::fs::read_dir(path)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.blocks() * 512)
                .sum()
        })
        .unwrap_or(0)
}

#[derive(Default)]
struct Signal {
    jobs: Mutex<bool>,
    cv: Condvar,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn run(workload: &str, args: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    let process_id = match workload {
        "w1" => "bench-w1",
        "w2" => "bench-w2",
        other => bail!("Expected workload w1 or w2, but found '{other}'"),
    };
    let path = args.bpmn_dir.join(format!("{workload}.bpmn"));
    let xml = std::fs::read_to_string(&path)
        .with_context(|| format!("Expected to read {}", path.display()))?;
    let signal = Arc::new(Signal::default());
    let (done_tx, done_rx) = mpsc::channel::<(Key, Instant)>();
    let sig = signal.clone();
    let mut opts = EngineOptions::new(dir);
    opts.sync = if args.fsync {
        SyncMode::Fsync
    } else {
        SyncMode::None
    };
    opts.snapshot_on_shutdown = !args.replay;
    if args.replay {
        opts.snapshot_every_bytes = u64::MAX;
    }
    opts.on_effects = Some(Arc::new(move |effects: &[Effect]| {
        let now = Instant::now();
        let mut wake = false;
        for e in effects {
            match e {
                Effect::JobsAvailable { .. } => wake = true,
                Effect::ProcessInstanceResult {
                    process_instance_key,
                    ..
                } => {
                    let _ = done_tx.send((*process_instance_key, now));
                }
                _ => {}
            }
        }
        if wake {
            *sig.jobs.lock().unwrap() = true;
            sig.cv.notify_all();
        }
    }));
    let (engine, _) = Engine::start(opts)?;
    let h = engine.handle();
    match h.call(Command::Deploy {
        resources: vec![Resource {
            name: format!("{workload}.bpmn"),
            content: xml,
        }],
    }) {
        Ok(Ok(Response::Deployed { .. })) => {}
        other => bail!("Expected the deployment to succeed, but got {other:?}"),
    }

    let stop = Arc::new(AtomicBool::new(false));
    // The in-process job worker: activate up to 4096, complete them all (pipelined), wait for more.
    let worker = {
        let h = h.clone();
        let stop = stop.clone();
        let signal = signal.clone();
        let w2 = workload == "w2";
        std::thread::spawn(move || -> u64 {
            let mut completed = 0u64;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                *signal.jobs.lock().unwrap() = false;
                let jobs = match h.call(Command::ActivateJobs {
                    job_type: "bench-task".into(),
                    worker: "bench".into(),
                    timeout_ms: 300_000,
                    max_jobs: 4096,
                    fetch_variables: vec![],
                }) {
                    Ok(Ok(Response::JobsActivated { jobs })) => jobs,
                    _ => break,
                };
                if jobs.is_empty() {
                    let guard = signal.jobs.lock().unwrap();
                    let _ = signal
                        .cv
                        .wait_timeout_while(guard, Duration::from_millis(20), |ready| !*ready)
                        .unwrap();
                    continue;
                }
                for job in jobs {
                    n += 1;
                    let vars = if w2 {
                        json!({"route": if n.is_multiple_of(2) { "a" } else { "b" }})
                    } else {
                        json!({})
                    };
                    let _ = h.submit_wait(
                        Command::CompleteJob {
                            key: job.key,
                            variables: Json(vars),
                        },
                        Box::new(|_| {}),
                    );
                    completed += 1;
                }
            }
            completed
        })
    };

    // The submitter: create instances with awaitResult, at most `in_flight` unfinished.
    let started = Instant::now();
    let starts: Arc<Mutex<HashMap<Key, Instant>>> =
        Arc::new(Mutex::new(HashMap::with_capacity(args.in_flight * 2)));
    let (slot_tx, slot_rx) = mpsc::sync_channel::<()>(args.in_flight);
    for _ in 0..args.in_flight {
        slot_tx.send(())?;
    }
    let collector = {
        let starts = starts.clone();
        let total = args.instances;
        std::thread::spawn(move || -> Vec<f64> {
            let mut latencies = Vec::with_capacity(total);
            let mut early: HashMap<Key, Instant> = HashMap::new();
            while latencies.len() < total {
                let Ok((key, end)) = done_rx.recv_timeout(Duration::from_secs(60)) else {
                    break;
                };
                let start = starts.lock().unwrap().remove(&key);
                match start {
                    Some(s) => latencies.push(end.duration_since(s).as_secs_f64() * 1000.0),
                    None => {
                        early.insert(key, end);
                    }
                }
                let _ = slot_tx.try_send(());
                // A completion may overtake the creation's reply bookkeeping; settle those now.
                if !early.is_empty() {
                    let mut st = starts.lock().unwrap();
                    early.retain(|k, e| match st.remove(k) {
                        Some(s) => {
                            latencies.push(e.duration_since(s).as_secs_f64() * 1000.0);
                            false
                        }
                        None => true,
                    });
                }
            }
            latencies
        })
    };
    for i in 0..args.instances {
        slot_rx.recv()?;
        let submitted = Instant::now();
        let starts = starts.clone();
        let vars = if workload == "w2" {
            json!({"n": i})
        } else {
            json!({})
        };
        h.submit_wait(
            Command::CreateProcessInstance {
                process: ProcessSelector::Id {
                    bpmn_process_id: process_id.into(),
                    version: -1,
                },
                variables: Json(vars),
                await_result: true,
            },
            Box::new(move |r| {
                if let Ok(Response::ProcessInstanceCreated {
                    process_instance_key,
                    ..
                }) = r
                {
                    starts
                        .lock()
                        .unwrap()
                        .insert(process_instance_key, submitted);
                }
            }),
        )
        .map_err(|e| anyhow::anyhow!("submit failed: {e:?}"))?;
    }
    let mut latencies = collector
        .join()
        .map_err(|_| anyhow::anyhow!("collector panicked"))?;
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    signal.cv.notify_all();
    let jobs = worker
        .join()
        .map_err(|_| anyhow::anyhow!("worker panicked"))?;
    let live = h.inspect(|s| s.live_counts())?;
    engine.shutdown()?;
    latencies.sort_by(f64::total_cmp);
    let n = latencies.len();
    println!(
        "{workload}: {n} instances in {:.2} s = {:.0} instances/s; {jobs} jobs; latency create->completed p50 {:.2} ms, p99 {:.2} ms; peak RSS {:.0} MB; log+snapshot on disk {:.1} MB; fsync {}",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        peak_rss_mb(),
        dir_size(dir) as f64 / 1e6,
        if args.fsync { "on" } else { "off" },
    );
    println!("{workload}: live state after the run: {live:?}");
    if n != args.instances {
        bail!(
            "Expected {} completed instances, but saw {n}",
            args.instances
        );
    }
    if args.replay {
        replay_only(dir, workload)?;
    }
    Ok(())
}

/// Restarts an engine on `dir` (its log left without a final snapshot) and reports the replay; leaves the
/// directory as it was (no snapshot on shutdown).
fn replay_only(dir: &std::path::Path, label: &str) -> anyhow::Result<()> {
    let size = dir_size(dir);
    let mut opts = EngineOptions::new(dir);
    opts.snapshot_on_shutdown = false;
    let (engine, stats) = Engine::start(opts)?;
    println!(
        "{label}: replay of {:.1} MB on disk (snapshot at position {}): {} entries, {} events in {:.2} s ({:.0} MB/s); peak RSS {:.0} MB",
        size as f64 / 1e6,
        stats.snapshot_position,
        stats.entries_replayed,
        stats.events_replayed,
        stats.replay_time.as_secs_f64(),
        size as f64 / 1e6 / stats.replay_time.as_secs_f64(),
        peak_rss_mb()
    );
    engine.shutdown()?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    if let Some(dir) = &args.replay_only {
        return replay_only(dir, "replay-only");
    }
    for w in &args.workloads {
        let tmp;
        let dir = match &args.data_dir {
            Some(d) => d.join(w),
            None => {
                tmp = tempfile::tempdir()?;
                tmp.path().join(w)
            }
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        run(w, &args, &dir)?;
    }
    Ok(())
}
