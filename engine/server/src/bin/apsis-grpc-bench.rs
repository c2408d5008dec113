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
            "--help" | "-h" => {
                println!("apsis-grpc-bench [--address URL] [--workload w1|w2] [--instances N] [--in-flight K] [--workers W] [--engine-pid PID] [--bpmn-dir DIR]");
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

async fn worker(
    mut client: GatewayClient<Channel>,
    name: String,
    w2: bool,
    samples: Arc<Mutex<Samples>>,
    jobs_done: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let mut stream = client
        .stream_activated_jobs(pb::StreamActivatedJobsRequest {
            r#type: "bench-task".into(),
            worker: name,
            timeout: JOB_TIMEOUT_MS,
            fetch_variable: vec![],
            tenant_ids: vec![],
        })
        .await?
        .into_inner();
    let mut n = 0u64;
    // `message()` is not cancel-safe: read without timeouts; the task is aborted when the run is over.
    while let Some(job) = stream.message().await? {
        let received = Instant::now();
        let activated_at = job.deadline - JOB_TIMEOUT_MS;
        let push = (now_ms() - activated_at).max(0) as f64;
        n += 1;
        let variables = if w2 {
            format!(
                r#"{{"route":"{}"}}"#,
                if n.is_multiple_of(2) { "a" } else { "b" }
            )
        } else {
            String::new()
        };
        let mut c = client.clone();
        let samples = samples.clone();
        let jobs_done = jobs_done.clone();
        tokio::spawn(async move {
            match c
                .complete_job(pb::CompleteJobRequest {
                    job_key: job.key,
                    variables,
                    result: None,
                })
                .await
            {
                Ok(_) => {
                    let mut s = samples.lock().unwrap();
                    s.push_ms.push(push);
                    s.complete_ms
                        .push(received.elapsed().as_secs_f64() * 1000.0);
                    jobs_done.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => eprintln!(
                    "complete job {} failed: {:?}: {}",
                    job.key,
                    e.code(),
                    e.message()
                ),
            }
        });
    }
    Ok(())
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
    let channel = Channel::from_shared(args.address.clone())?
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("Expected to connect to {}", args.address))?;
    let mut client = GatewayClient::new(channel);
    client
        .deploy_resource(pb::DeployResourceRequest {
            resources: vec![pb::Resource {
                name: format!("{}.bpmn", args.workload),
                content: xml,
            }],
            tenant_id: String::new(),
        })
        .await
        .context("Expected the deployment to succeed")?;
    let samples = Arc::new(Mutex::new(Samples::default()));
    let jobs_done = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for i in 0..args.workers {
        workers.push(tokio::spawn(worker(
            client.clone(),
            format!("bench-{i}"),
            w2,
            samples.clone(),
            jobs_done.clone(),
        )));
    }
    // As Zeebe's streaming job workers do, also poll: jobs that became activatable while every stream was full
    // stay in the pool (they are pushed only at the moment they become activatable).
    let poller = {
        let mut c = client.clone();
        let samples = samples.clone();
        let jobs_done = jobs_done.clone();
        tokio::spawn(async move {
            loop {
                let Ok(resp) = c
                    .activate_jobs(pb::ActivateJobsRequest {
                        r#type: "bench-task".into(),
                        worker: "bench-poller".into(),
                        timeout: JOB_TIMEOUT_MS,
                        max_jobs_to_activate: 256,
                        request_timeout: 1_000,
                        ..Default::default()
                    })
                    .await
                else {
                    continue;
                };
                let mut stream = resp.into_inner();
                while let Ok(Some(batch)) = stream.message().await {
                    for job in batch.jobs {
                        let received = Instant::now();
                        let variables = if w2 {
                            r#"{"route":"a"}"#.to_owned()
                        } else {
                            String::new()
                        };
                        if c.complete_job(pb::CompleteJobRequest {
                            job_key: job.key,
                            variables,
                            result: None,
                        })
                        .await
                        .is_ok()
                        {
                            samples
                                .lock()
                                .unwrap()
                                .complete_ms
                                .push(received.elapsed().as_secs_f64() * 1000.0);
                            jobs_done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await; // let the streams register
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut creators = Vec::new();
    for _ in 0..args.in_flight {
        let mut c = client.clone();
        let next = next.clone();
        let samples = samples.clone();
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
                    Ok(_) => samples
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
    tokio::time::sleep(Duration::from_millis(200)).await; // the last completions' bookkeeping
    for w in workers {
        w.abort();
    }
    poller.abort();
    let mut s = std::mem::take(&mut *samples.lock().unwrap());
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
        jobs_done.load(Ordering::Relaxed),
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
