//! Load benchmark over gRPC (not a test): a real client on the generated gateway client drives W1 or W2 against a
//! running gateway (Apsis or Zeebe). Instances are created with CreateProcessInstanceWithResult (end-to-end latency);
//! N workers take jobs from StreamActivatedJobs (push) and complete them. Prints instances/s, job push latency
//! (activation to receipt), activation-to-completion latency, end-to-end latency and, with `--engine-pid`, the
//! engine's peak RSS.
//!
//!     apsis engine --data-dir /tmp/d &
//!     cargo run --release -p apsis-server --bin apsis-grpc-bench -- --workload w1 --instances 50000 --engine-pid $!

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use apsis_proto as pb;
use pb::gateway_client::GatewayClient;

mod chaos;
mod jobs;
use tonic::transport::Channel;

const BPMN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/bench");
const JOB_TIMEOUT_MS: i64 = 60_000;

struct Args {
    address: String,
    workload: String,
    instances: u64,
    in_flight: usize,
    workers: usize,
    engine_pid: Option<u32>,
    bpmn_dir: PathBuf,
    /// SIGKILL run: the interval between kills (the bench starts the engine itself).
    kill_every: Option<Duration>,
    /// SIGKILL run: how many kills.
    kills: u32,
    /// SIGKILL run: the `apsis` binary to start.
    engine_bin: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        address: "http://127.0.0.1:26500".into(),
        workload: "w1".into(),
        instances: 20_000,
        in_flight: 256,
        workers: 4,
        engine_pid: None,
        bpmn_dir: PathBuf::from(BPMN_DIR),
        kill_every: None,
        kills: 5,
        engine_bin: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("Expected a value after {arg}"))
        };
        match arg.as_str() {
            "--address" => a.address = value()?,
            "--workload" => a.workload = value()?,
            "--instances" => {
                a.instances = value()?.parse().context("--instances expects a number")?
            }
            "--in-flight" => {
                a.in_flight = value()?.parse().context("--in-flight expects a number")?
            }
            "--workers" => a.workers = value()?.parse().context("--workers expects a number")?,
            "--engine-pid" => {
                a.engine_pid = Some(value()?.parse().context("--engine-pid expects a number")?)
            }
            "--bpmn-dir" => a.bpmn_dir = PathBuf::from(value()?),
            "--kill-every" => {
                let ms: u64 = value()?
                    .parse()
                    .context("--kill-every expects milliseconds")?;
                a.kill_every = Some(Duration::from_millis(ms));
            }
            "--kills" => a.kills = value()?.parse().context("--kills expects a number")?,
            "--engine-bin" => a.engine_bin = Some(PathBuf::from(value()?)),
            "--help" | "-h" => {
                println!("apsis-grpc-bench [--address URL] [--workload w1|w2] [--instances N] [--in-flight K] [--workers W] [--engine-pid PID] [--bpmn-dir DIR]");
                println!("                 [--kill-every MS [--kills N] [--engine-bin PATH]]   SIGKILL run: starts apsis engine itself");
                std::process::exit(0);
            }
            other => bail!("Expected a known option, but found '{other}' (see --help)"),
        }
    }
    Ok(a)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

#[derive(Default)]
struct Samples {
    push_ms: Vec<f64>,
    complete_ms: Vec<f64>,
    e2e_ms: Vec<f64>,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// The plain run's outcomes: latency samples and counts.
struct Sampled {
    w2: bool,
    samples: Mutex<Samples>,
    jobs_done: AtomicU64,
}

impl jobs::Outcomes for Sampled {
    fn variables(&self, job: &pb::ActivatedJob) -> String {
        if self.w2 {
            let route = if job.key % 2 == 0 { "a" } else { "b" };
            format!(r#"{{"route":"{route}"}}"#)
        } else {
            String::new()
        }
    }

    fn completed(
        &self,
        job: &pb::ActivatedJob,
        pushed: bool,
        received: Instant,
        result: Result<(), tonic::Status>,
    ) {
        match result {
            Ok(()) => {
                let mut s = self.samples.lock().unwrap();
                if pushed {
                    let activated_at = job.deadline - JOB_TIMEOUT_MS;
                    s.push_ms.push((now_ms() - activated_at).max(0) as f64);
                }
                s.complete_ms
                    .push(received.elapsed().as_secs_f64() * 1000.0);
                self.jobs_done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => eprintln!(
                "complete job {} failed: {:?}: {}",
                job.key,
                e.code(),
                e.message()
            ),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let (process_id, w2) = match args.workload.as_str() {
        "w1" => ("bench-w1", false),
        "w2" => ("bench-w2", true),
        other => bail!("Expected workload w1 or w2, but found '{other}'"),
    };
    let path = args.bpmn_dir.join(format!("{}.bpmn", args.workload));
    let xml =
        std::fs::read(&path).with_context(|| format!("Expected to read {}", path.display()))?;
    if let Some(kill_every) = args.kill_every {
        if w2 {
            bail!("Expected --kill-every with workload w1 (its proof counts one job per instance), but found w2");
        }
        return chaos::run(&args, kill_every, xml).await;
    }
    let channel = Channel::from_shared(args.address.clone())?
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("Expected to connect to {}", args.address))?;
    let mut client = GatewayClient::new(channel);
    deploy(&mut client, &args.workload, xml).await?;
    let outcomes = Arc::new(Sampled {
        w2,
        samples: Mutex::new(Samples::default()),
        jobs_done: AtomicU64::new(0),
    });
    let workers = jobs::Workers {
        client: client.clone(),
        timeout_ms: JOB_TIMEOUT_MS,
        outcomes: outcomes.clone(),
        in_flight: Default::default(),
    };
    let mut tasks = Vec::new();
    for i in 0..args.workers {
        tasks.push(tokio::spawn(workers.clone().stream(format!("bench-{i}"))));
    }
    tasks.push(tokio::spawn(workers.clone().poll("bench-poller".into())));
    tokio::time::sleep(Duration::from_millis(200)).await; // let the streams register
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut creators = Vec::new();
    for _ in 0..args.in_flight {
        let mut c = client.clone();
        let next = next.clone();
        let outcomes = outcomes.clone();
        let failures = failures.clone();
        let total = args.instances;
        creators.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                let r = c
                    .create_process_instance_with_result(
                        pb::CreateProcessInstanceWithResultRequest {
                            request: Some(pb::CreateProcessInstanceRequest {
                                bpmn_process_id: process_id.into(),
                                version: -1,
                                ..Default::default()
                            }),
                            request_timeout: 60_000,
                            fetch_variables: vec![],
                        },
                    )
                    .await;
                match r {
                    Ok(_) => outcomes
                        .samples
                        .lock()
                        .unwrap()
                        .e2e_ms
                        .push(t.elapsed().as_secs_f64() * 1000.0),
                    Err(e) => {
                        if failures.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("create-with-result failed: {:?}: {}", e.code(), e.message());
                        }
                    }
                }
            }
        }));
    }
    for c in creators {
        c.await?;
    }
    let elapsed = started.elapsed();
    for t in tasks {
        t.abort();
    }
    workers.settle(Duration::from_secs(5)).await; // the last completions' bookkeeping
    let mut s = std::mem::take(&mut *outcomes.samples.lock().unwrap());
    let done = s.e2e_ms.len();
    let rss = args
        .engine_pid
        .and_then(peak_rss_mb)
        .map_or("n/a (give --engine-pid)".to_owned(), |m| {
            format!("{m:.0} MB")
        });
    println!(
        "{}: {done} instances in {:.2} s = {:.0} instances/s over gRPC; {} jobs; {} failed; {} workers (StreamActivatedJobs), {} in flight",
        args.workload,
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        outcomes.jobs_done.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed),
        args.workers,
        args.in_flight
    );
    println!(
        "{}: job push (activation -> worker) p50 {:.2} ms p99 {:.2} ms; activation-to-completion p50 {:.2} ms p99 {:.2} ms; end-to-end p50 {:.2} ms p99 {:.2} ms; engine peak RSS {rss}",
        args.workload,
        pct(&mut s.push_ms, 0.5),
        pct(&mut s.push_ms, 0.99),
        pct(&mut s.complete_ms, 0.5),
        pct(&mut s.complete_ms, 0.99),
        pct(&mut s.e2e_ms, 0.5),
        pct(&mut s.e2e_ms, 0.99),
    );
    if done as u64 != args.instances {
        bail!(
            "Expected {} completed instances, but saw {done}",
            args.instances
        );
    }
    Ok(())
}

async fn deploy(
    client: &mut GatewayClient<Channel>,
    workload: &str,
    xml: Vec<u8>,
) -> anyhow::Result<()> {
    client
        .deploy_resource(pb::DeployResourceRequest {
            resources: vec![pb::Resource {
                name: format!("{workload}.bpmn"),
                content: xml,
            }],
            tenant_id: String::new(),
        })
        .await
        .context("Expected the deployment to succeed")?;
    Ok(())
}
