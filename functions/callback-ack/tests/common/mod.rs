//! Real processes for the end-to-end tests: the `apsis engine` binary of this workspace and the
//! `apsis-callback-ack` binary, each on free loopback ports, killed when dropped.
//!
//! The engine binary cannot be a `CARGO_BIN_EXE_*` here (it belongs to another package): apsis-testkit takes
//! `target/<profile>/apsis` next to this test's own directory, or builds it when it is missing (see
//! `apsis_testkit::binary` for how it avoids the lock the running `cargo test` holds). A binary that is present is
//! used as it is: run `cargo build -p apsis-server --bin apsis` after changing the engine.

#![allow(dead_code)] // each test file uses part of it

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apsis_client::Gateway;
use apsis_proto as pb;
use apsis_testkit::{free_port, http_get, wait_until, ChildGuard, EngineOpts, EngineProcess, WAIT};
use apsis_worker_faas::task::Mode;
use apsis_worker_faas::token::{self, CallbackKey, Claims};

pub const KEY: &str = "test-key-0123456789-0123456789-0123456789";

pub fn key() -> CallbackKey {
    CallbackKey::new(KEY.as_bytes().to_vec()).unwrap()
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An `apsis engine` on loopback with its own data directory, ready; `restart` keeps its addresses.
pub fn engine() -> EngineProcess {
    EngineProcess::start(EngineOpts::new(apsis_testkit::binary(
        "apsis",
        "apsis-server",
    )))
}

/// A running `apsis-callback-ack`; its JSON log lines go to `log`.
pub struct CallbackAck {
    pub port: u16,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
    _process: ChildGuard,
}

impl CallbackAck {
    pub fn start(zeebe_address: &str, extra_env: &[(&str, &str)]) -> CallbackAck {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("callback-ack.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_apsis-callback-ack"));
        command
            .env_clear()
            .env("APSIS_LISTEN", format!("127.0.0.1:{port}"))
            .env("ZEEBE_ADDRESS", zeebe_address)
            .env("APSIS_CALLBACK_KEY", KEY)
            .env("APSIS_JOB_RETRY_BACKOFF_MS", "0")
            .env("APSIS_GATEWAY_RETRY_SECONDS", "60")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let process = ChildGuard::spawn(&mut command);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_until("callback-ack's /healthz to answer 200", WAIT, || {
            http_get(addr, "/healthz").is_some_and(|(s, _)| s == 200)
        });
        CallbackAck {
            port,
            log,
            _dir: dir,
            _process: process,
        }
    }

    fn get(&self, path: &str) -> String {
        http_get(SocketAddr::from(([127, 0, 0, 1], self.port)), path)
            .unwrap()
            .1
    }

    pub fn url(&self, token: &str) -> String {
        format!("http://127.0.0.1:{}/?token={token}", self.port)
    }

    /// The value of `apsis_callback_ack_callbacks_total{outcome="<outcome>"}`, 0 when absent.
    pub fn callbacks(&self, outcome: &str) -> u64 {
        let text = self.get("/metrics");
        let needle = format!("apsis_callback_ack_callbacks_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&needle))
            .map_or(0, |v| v.trim().parse().unwrap())
    }

    pub fn metrics(&self) -> String {
        self.get("/metrics")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

/// A callback as OpenFaaS's queue-worker sends it.
pub struct Callback<'a> {
    pub call_id: &'a str,
    pub status: u16,
    pub body: &'a str,
    pub content_type: Option<&'a str>,
}

pub async fn post(url: &str, cb: &Callback<'_>) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("X-Call-Id", cb.call_id)
        .header("X-Function-Status", cb.status.to_string())
        .header("X-Function-Name", "otbcli")
        .header("X-Duration-Seconds", "12.5")
        .body(cb.body.to_owned());
    if let Some(ct) = cb.content_type {
        request = request.header("Content-Type", ct);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

pub fn hold_token(
    call_id: &str,
    job_key: i64,
    retries: i32,
    result_variable: Option<&str>,
) -> String {
    token::sign(
        &Claims {
            call_id: call_id.to_owned(),
            job_key,
            mode: Mode::Hold,
            retries,
            result_variable: result_variable.map(str::to_owned),
            expires_at: unix_now() + 3600,
            trace: Default::default(),
        },
        &key(),
    )
}

pub async fn deploy(client: &mut Gateway, name: &str, xml: &str) {
    client
        .deploy_resource(pb::DeployResourceRequest {
            resources: vec![pb::Resource {
                name: name.to_owned(),
                content: xml.as_bytes().to_vec(),
            }],
            tenant_id: String::new(),
        })
        .await
        .unwrap();
}

pub async fn create_instance(client: &mut Gateway, process: &str, variables: &str) -> i64 {
    client
        .create_process_instance(pb::CreateProcessInstanceRequest {
            bpmn_process_id: process.to_owned(),
            version: -1,
            variables: variables.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .process_instance_key
}

/// The jobs of `job_type` activated within `wait` (long polling), at most `max`.
pub async fn activate(
    client: &mut Gateway,
    job_type: &str,
    max: i32,
    wait: Duration,
) -> Vec<pb::ActivatedJob> {
    let mut stream = client
        .activate_jobs(pb::ActivateJobsRequest {
            r#type: job_type.to_owned(),
            worker: "test".to_owned(),
            timeout: 300_000,
            max_jobs_to_activate: max,
            request_timeout: wait.as_millis() as i64,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut jobs = Vec::new();
    while let Some(batch) = stream.message().await.unwrap() {
        jobs.extend(batch.jobs);
    }
    jobs
}

/// Exactly one job of `job_type`, waiting up to 20 s for it.
pub async fn one_job(client: &mut Gateway, job_type: &str) -> pb::ActivatedJob {
    let mut jobs = activate(client, job_type, 1, Duration::from_secs(20)).await;
    assert_eq!(jobs.len(), 1, "Expected one job of type '{job_type}'");
    jobs.remove(0)
}

pub fn variables(job: &pb::ActivatedJob) -> serde_json::Value {
    serde_json::from_str(&job.variables).unwrap()
}
