//! Real processes for the end-to-end tests: the `apsis engine` binary of this workspace and the
//! `apsis-callback-ack` binary, each on free loopback ports, killed when dropped.
//!
//! The engine binary cannot be a `CARGO_BIN_EXE_*` here (it belongs to another package), so [`engine_binary`]
//! takes `target/<profile>/apsis` next to this test's own directory, and builds it when it is missing with
//! `cargo build -p apsis-server --bin apsis`. That build goes to a target directory of its own
//! (`target/apsis-engine-for-tests`), because the running `cargo test` holds the lock of this one. A binary that
//! is present is used as it is: run `cargo build -p apsis-server --bin apsis` after changing the engine.

#![allow(dead_code)] // each test file uses part of it

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apsis_client::{ClientOptions, Gateway};
use apsis_proto as pb;
use apsis_worker_faas::task::Mode;
use apsis_worker_faas::token::{self, CallbackKey, Claims};

pub const KEY: &str = "test-key-0123456789-0123456789-0123456789";

pub fn key() -> CallbackKey {
    CallbackKey::new(KEY.as_bytes().to_vec()).unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `target/<profile>/apsis`, built if missing (see the module documentation).
pub fn engine_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let next_to_us = profile_dir.join("apsis");
    if next_to_us.exists() {
        return next_to_us;
    }
    let profile = profile_dir
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let own_target = profile_dir.parent().unwrap().join("apsis-engine-for-tests");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut build = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    build
        .current_dir(&workspace)
        .args([
            "build",
            "-p",
            "apsis-server",
            "--bin",
            "apsis",
            "--target-dir",
        ])
        .arg(&own_target);
    if profile == "release" {
        build.arg("--release");
    }
    let status = build
        .status()
        .expect("Expected to run cargo to build the engine");
    assert!(
        status.success(),
        "Expected `cargo build -p apsis-server --bin apsis` to succeed"
    );
    own_target.join(&profile).join("apsis")
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    Some((status, body))
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} not ready within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An `apsis engine` on loopback with its own data directory.
pub struct Engine {
    pub gateway_port: u16,
    pub monitoring_port: u16,
    pub data: tempfile::TempDir,
    pub process: Option<Proc>,
}

impl Engine {
    pub fn start() -> Engine {
        let mut engine = Engine {
            gateway_port: free_port(),
            monitoring_port: free_port(),
            data: tempfile::tempdir().unwrap(),
            process: None,
        };
        engine.restart();
        engine
    }

    /// Starts the engine (again, on the same ports and data) and waits until it is ready.
    pub fn restart(&mut self) {
        let child = Command::new(engine_binary())
            .args(["engine", "--data-dir"])
            .arg(self.data.path())
            .arg("--gateway-address")
            .arg(format!("127.0.0.1:{}", self.gateway_port))
            .arg("--monitoring-address")
            .arg(format!("127.0.0.1:{}", self.monitoring_port))
            .env_remove("APSIS_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.process = Some(Proc(child));
        let mon = self.monitoring_port;
        wait_until("the engine", || {
            http_get(mon, "/ready").is_some_and(|(s, _)| s == 200)
        });
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.process = None;
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.gateway_port)
    }

    pub async fn client(&self) -> Gateway {
        let options = ClientOptions {
            address: self.address(),
            ..ClientOptions::default()
        };
        apsis_client::connect(&options).await.unwrap()
    }

    pub fn incidents(&self) -> serde_json::Value {
        let (status, body) = http_get(self.monitoring_port, "/incidents").unwrap();
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// A running `apsis-callback-ack`; its JSON log lines go to `log`.
pub struct CallbackAck {
    pub port: u16,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
    _process: Proc,
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
        let process = Proc(command.spawn().unwrap());
        wait_until("callback-ack", || {
            http_get(port, "/healthz").is_some_and(|(s, _)| s == 200)
        });
        CallbackAck {
            port,
            log,
            _dir: dir,
            _process: process,
        }
    }

    pub fn url(&self, token: &str) -> String {
        format!("http://127.0.0.1:{}/?token={token}", self.port)
    }

    /// The value of `apsis_callback_ack_callbacks_total{outcome="<outcome>"}`, 0 when absent.
    pub fn callbacks(&self, outcome: &str) -> u64 {
        let (_, text) = http_get(self.port, "/metrics").unwrap();
        let needle = format!("apsis_callback_ack_callbacks_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&needle))
            .map_or(0, |v| v.trim().parse().unwrap())
    }

    pub fn metrics(&self) -> String {
        http_get(self.port, "/metrics").unwrap().1
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
