//! `--kill-every MS`: the W1 load benchmark while the engine is killed with SIGKILL and restarted.
//!
//! The bench starts `apsis engine` itself on a fresh data directory, kills it (`kill -9`) every interval, jittered,
//! and restarts it at once on the same directory and ports; the clients reconnect and carry on. It keeps a ledger of
//! what the engine acknowledged and, at the end, proves from it and from the engine's durable instance counts
//! (`apsis_process_instances_total`, read from the recovered state) that nothing acknowledged was lost and nothing
//! was done twice. With C the instances whose job completion was acknowledged, and D the completions sent but never
//! answered (the engine died), retried after the run (acknowledged -> C, NOT_FOUND -> D'):
//! - no job of an instance in C is handed out again after the run (a lost completion would bring it back), and no
//!   instance gets two acknowledged completions;
//! - every acknowledged creation is in C or D': its one job was completed;
//! - the engine counts exactly |C| + |D'| completed W1 instances and none active. Only this bench completes W1 jobs,
//!   so the ended instances are exactly those whose completion committed, all within C ∪ D'; equal counts mean every
//!   instance of D' did end (its NOT_FOUND was a committed completion, not a lost instance).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use apsis_proto as pb;
use pb::gateway_client::GatewayClient;
use tonic::transport::Channel;

use crate::{jobs, pct, peak_rss_mb, Args};

/// Short, so a job handed out just before a kill comes back soon after the restart.
const JOB_TIMEOUT_MS: i64 = 5_000;
const PROCESS_ID: &str = "bench-w1";
/// How long the engine may take to become ready after a start.
const READY_BOUND: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Ledger {
    /// Process instance keys of acknowledged creations.
    created: HashSet<i64>,
    /// Creation attempts that got no answer or a transport error (the engine was down or died).
    creations_unanswered: u64,
    /// Acknowledged completions, by process instance key (W1: one job per instance).
    completed: HashSet<i64>,
    /// Second acknowledged completions of one instance: a first completion was lost.
    completed_twice: u64,
    /// Completions sent and not answered: job key -> process instance key.
    in_doubt: HashMap<i64, i64>,
    /// Completions answered NOT_FOUND during the run (a job timed out during a restart, another worker took it).
    not_found: u64,
}

#[derive(Default)]
struct Recorder {
    ledger: Mutex<Ledger>,
}

impl jobs::Outcomes for Recorder {
    fn variables(&self, _: &pb::ActivatedJob) -> String {
        String::new()
    }

    fn completed(
        &self,
        job: &pb::ActivatedJob,
        _pushed: bool,
        _received: Instant,
        result: Result<(), tonic::Status>,
    ) {
        let mut l = self.ledger.lock().unwrap();
        match result {
            Ok(()) => {
                if !l.completed.insert(job.process_instance_key) {
                    l.completed_twice += 1;
                }
                l.in_doubt.remove(&job.key);
            }
            Err(e) if e.code() == tonic::Code::NotFound => l.not_found += 1,
            Err(_) => {
                l.in_doubt.insert(job.key, job.process_instance_key);
            }
        }
    }
}

/// The engine child process: started, killed with SIGKILL, restarted.
struct EngineProcess {
    bin: PathBuf,
    data_dir: PathBuf,
    log: PathBuf,
    gateway: SocketAddr,
    monitoring: SocketAddr,
    child: Option<Child>,
    peak_rss_mb: f64,
    /// Start to ready (recovery included), per start.
    ready_ms: Vec<f64>,
}

impl EngineProcess {
    fn start(&mut self) -> anyhow::Result<()> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("Expected to open {}", self.log.display()))?;
        let child = Command::new(&self.bin)
            .arg("engine")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--gateway-address", &self.gateway.to_string()])
            .args(["--monitoring-address", &self.monitoring.to_string()])
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("Expected to start {}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    async fn wait_ready(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let started = Instant::now();
        let url = format!("http://{}/ready", self.monitoring);
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    self.ready_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                    return Ok(());
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "Expected the engine to start, but it exited with {status} (log: {})",
                    self.log.display()
                );
            }
            if started.elapsed() > READY_BOUND {
                bail!(
                    "Expected the engine to be ready within {READY_BOUND:?} (log: {})",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL (what `Child::kill` sends on Unix), after reading the incarnation's peak RSS.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(mb) = peak_rss_mb(child.id()) {
                self.peak_rss_mb = self.peak_rss_mb.max(mb);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The engine's durable count of W1 instances for `event` (started | completed | terminated).
    async fn instances(&self, http: &reqwest::Client, event: &str) -> anyhow::Result<u64> {
        let url = format!("http://{}/metrics", self.monitoring);
        let scrape = http.get(&url).send().await?.text().await?;
        let wanted = [
            format!("bpmn_process_id=\"{PROCESS_ID}\""),
            format!("event=\"{event}\""),
        ];
        Ok(scrape
            .lines()
            .filter(|l| l.starts_with("apsis_process_instances_total{"))
            .filter(|l| wanted.iter().all(|w| l.contains(w.as_str())))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64)
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_address() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn default_engine_bin() -> anyhow::Result<PathBuf> {
    let bin = std::env::current_exe()?.with_file_name("apsis");
    if !bin.exists() {
        bail!(
            "Expected the apsis binary next to this one at {}, but it is missing: build it \
             (cargo build --release -p apsis-server --bins) or give --engine-bin",
            bin.display()
        );
    }
    Ok(bin)
}

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

pub async fn run(args: &Args, kill_every: Duration, xml: Vec<u8>) -> anyhow::Result<()> {
    let bin = match &args.engine_bin {
        Some(bin) => bin.clone(),
        None => default_engine_bin()?,
    };
    let dir = tempfile::tempdir()?;
    let mut engine = EngineProcess {
        bin,
        data_dir: dir.path().join("data"),
        log: dir.path().join("engine.log"),
        gateway: free_address()?,
        monitoring: free_address()?,
        child: None,
        peak_rss_mb: 0.0,
        ready_ms: Vec::new(),
    };
    let http = reqwest::Client::new();
    engine.start()?;
    engine.wait_ready(&http).await?;
    let channel = Channel::from_shared(format!("http://{}", engine.gateway))?
        .tcp_nodelay(true)
        .connect_lazy();
    let mut client = GatewayClient::new(channel);
    crate::deploy(&mut client, "w1", xml).await?;

    let recorder = Arc::new(Recorder::default());
    let workers = jobs::Workers {
        client: client.clone(),
        timeout_ms: JOB_TIMEOUT_MS,
        outcomes: recorder.clone(),
        in_flight: Default::default(),
    };
    let mut tasks = Vec::new();
    for i in 0..args.workers {
        tasks.push(tokio::spawn(workers.clone().stream(format!("bench-{i}"))));
    }
    tasks.push(tokio::spawn(workers.clone().poll("bench-poller".into())));
    tokio::time::sleep(Duration::from_millis(200)).await; // let the streams register

    let started = Instant::now();
    let load = tokio::spawn(create(
        client.clone(),
        recorder.clone(),
        args.instances,
        args.in_flight,
    ));
    let mut kills = 0;
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    while kills < args.kills && !load.is_finished() {
        // Jittered in [0.5, 1.5) x the interval, so kills land at every phase of the commit cycle.
        let ms = kill_every.as_millis() as u64;
        let pause = Duration::from_millis(ms / 2 + xorshift(&mut seed) % ms.max(1));
        let until = Instant::now() + pause;
        while Instant::now() < until && !load.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if load.is_finished() {
            break;
        }
        engine.kill();
        kills += 1;
        engine.start()?;
        engine.wait_ready(&http).await?;
    }
    load.await??;
    let load_elapsed = started.elapsed();

    // 1. Every acknowledged creation gets its job completed (or a completion in doubt).
    let bound = Instant::now() + Duration::from_secs(120);
    loop {
        let pending = {
            let l = recorder.ledger.lock().unwrap();
            let doubtful: HashSet<i64> = l.in_doubt.values().copied().collect();
            l.created
                .iter()
                .filter(|k| !l.completed.contains(k) && !doubtful.contains(k))
                .count()
        };
        if pending == 0 {
            break;
        }
        if Instant::now() > bound {
            eprintln!("{pending} acknowledged instances still without a completed job after 120 s");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in &tasks {
        t.abort();
    }
    workers.settle(Duration::from_secs(30)).await;

    // 2. Completions in doubt, retried: acknowledged now (it had not committed) or NOT_FOUND (it had).
    let in_doubt: Vec<(i64, i64)> = recorder
        .ledger
        .lock()
        .unwrap()
        .in_doubt
        .iter()
        .map(|(j, p)| (*j, *p))
        .collect();
    let mut committed_in_doubt: HashSet<i64> = HashSet::new();
    for (job_key, instance) in &in_doubt {
        if recorder.ledger.lock().unwrap().completed.contains(instance) {
            continue;
        }
        let r = client
            .complete_job(pb::CompleteJobRequest {
                job_key: *job_key,
                variables: String::new(),
                result: None,
            })
            .await;
        match r {
            Ok(_) => {
                recorder.ledger.lock().unwrap().completed.insert(*instance);
            }
            Err(e) if e.code() == tonic::Code::NotFound => {
                committed_in_doubt.insert(*instance);
            }
            Err(e) => {
                bail!("Expected the retried completion of job {job_key} to be answered, but: {e}")
            }
        }
    }

    // 3. After the job timeout, nothing may be handed out for an instance whose completion was acknowledged.
    tokio::time::sleep(Duration::from_millis(JOB_TIMEOUT_MS as u64 + 500)).await;
    let (mut lost_completions, mut late_jobs) = (0u64, 0u64);
    loop {
        let jobs = activate_all(&mut client).await?;
        if jobs.is_empty() {
            break;
        }
        for job in jobs {
            late_jobs += 1;
            if recorder
                .ledger
                .lock()
                .unwrap()
                .completed
                .contains(&job.process_instance_key)
            {
                lost_completions += 1;
                eprintln!(
                    "LOST: the acknowledged completion of instance {} came back as job {}",
                    job.process_instance_key, job.key
                );
            }
            client
                .complete_job(pb::CompleteJobRequest {
                    job_key: job.key,
                    variables: String::new(),
                    result: None,
                })
                .await
                .context("Expected to complete a job left after the run")?;
            recorder
                .ledger
                .lock()
                .unwrap()
                .completed
                .insert(job.process_instance_key);
        }
    }

    // 4. The engine's durable counts, once every instance has ended.
    let bound = Instant::now() + Duration::from_secs(30);
    let (mut e_started, mut e_completed, mut e_terminated);
    loop {
        e_started = engine.instances(&http, "started").await?;
        e_completed = engine.instances(&http, "completed").await?;
        e_terminated = engine.instances(&http, "terminated").await?;
        if e_started == e_completed + e_terminated || Instant::now() > bound {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    engine.kill(); // the last incarnation's peak RSS

    let l = recorder.ledger.lock().unwrap();
    committed_in_doubt.retain(|k| !l.completed.contains(k));
    let lost_creations: Vec<i64> = l
        .created
        .iter()
        .copied()
        .filter(|k| !l.completed.contains(k) && !committed_in_doubt.contains(k))
        .collect();
    let proven_ended = (l.completed.len() + committed_in_doubt.len()) as u64;
    let mut ready = engine.ready_ms.clone();
    println!(
        "w1 under SIGKILL: {kills} kills (every ~{} ms) in {:.1} s; {} acknowledged creations ({:.0}/s, {} attempts unanswered); {} completions acknowledged, {} in doubt of which {} had committed; {} jobs left after the run; restart to ready p50 {:.0} ms max {:.0} ms; engine peak RSS {:.0} MB",
        kill_every.as_millis(),
        load_elapsed.as_secs_f64(),
        l.created.len(),
        l.created.len() as f64 / load_elapsed.as_secs_f64(),
        l.creations_unanswered,
        l.completed.len(),
        in_doubt.len(),
        committed_in_doubt.len(),
        late_jobs,
        pct(&mut ready, 0.5),
        pct(&mut ready, 1.0),
        engine.peak_rss_mb,
    );
    println!(
        "w1 under SIGKILL: engine counts {e_started} started, {e_completed} completed, {e_terminated} terminated; proven ended {proven_ended}; lost creations {}, lost completions {lost_completions}, double completions {}",
        lost_creations.len(),
        l.completed_twice,
    );
    let mut problems = Vec::new();
    if kills == 0 {
        problems.push("no kill happened before the load ended (give more --instances)".to_owned());
    }
    if !lost_creations.is_empty() {
        problems.push(format!(
            "{} acknowledged creations never got their job completed (first: {:?})",
            lost_creations.len(),
            &lost_creations[..lost_creations.len().min(5)]
        ));
    }
    if lost_completions > 0 {
        problems.push(format!(
            "{lost_completions} acknowledged completions came back as jobs"
        ));
    }
    if l.completed_twice > 0 {
        problems.push(format!(
            "{} instances had two acknowledged completions",
            l.completed_twice
        ));
    }
    if e_completed != proven_ended || e_started != e_completed || e_terminated != 0 {
        problems.push(format!(
            "the engine counts {e_started} started / {e_completed} completed / {e_terminated} terminated instances, but the ledger proves {proven_ended} ended"
        ));
    }
    if (l.created.len() as u64) > e_started {
        problems
            .push("the engine counts fewer started instances than were acknowledged".to_owned());
    }
    if !problems.is_empty() {
        let kept = dir.keep();
        bail!(
            "Expected nothing acknowledged to be lost, but: {} (data and engine log kept in {})",
            problems.join("; "),
            kept.display()
        );
    }
    println!("w1 under SIGKILL: OK, nothing acknowledged was lost or done twice");
    Ok(())
}

/// Creates instances until `target` creations are acknowledged, `in_flight` at a time, retrying through restarts.
async fn create(
    client: GatewayClient<Channel>,
    recorder: Arc<Recorder>,
    target: u64,
    in_flight: usize,
) -> anyhow::Result<()> {
    let mut creators = Vec::new();
    for _ in 0..in_flight {
        let mut c = client.clone();
        let recorder = recorder.clone();
        creators.push(tokio::spawn(async move {
            while (recorder.ledger.lock().unwrap().created.len() as u64) < target {
                let r = c
                    .create_process_instance(pb::CreateProcessInstanceRequest {
                        bpmn_process_id: PROCESS_ID.into(),
                        version: -1,
                        ..Default::default()
                    })
                    .await;
                match r {
                    Ok(r) => {
                        let key = r.into_inner().process_instance_key;
                        recorder.ledger.lock().unwrap().created.insert(key);
                    }
                    Err(e) if e.code() == tonic::Code::ResourceExhausted => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(_) => {
                        recorder.ledger.lock().unwrap().creations_unanswered += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    for c in creators {
        c.await?;
    }
    Ok(())
}

/// One ActivateJobs call that returns at once with whatever is activatable.
async fn activate_all(
    client: &mut GatewayClient<Channel>,
) -> anyhow::Result<Vec<pb::ActivatedJob>> {
    let mut stream = client
        .activate_jobs(pb::ActivateJobsRequest {
            r#type: jobs::JOB_TYPE.into(),
            worker: "bench-check".into(),
            timeout: 60_000,
            max_jobs_to_activate: 1_000,
            request_timeout: -1,
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(batch) = stream.message().await? {
        out.extend(batch.jobs);
    }
    Ok(out)
}
