//! Test support, all real: the workspace's `apsis engine` binary as a child process, and a fake OpenFaaS gateway
//! (axum on 127.0.0.1:0) that records every request and answers as scripted, per function.
//!
//! Finding the engine: the test executable lives in `<target>/<profile>/deps/`, so `apsis` is expected at
//! `<target>/<profile>/apsis`; when it is missing it is built once with `cargo build -p apsis-server --bin apsis`
//! (same target directory, same profile). The worker crate does not depend on the server, not even for tests.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use apsis_client::{ClientOptions, Gateway};
use apsis_proto::gateway_protocol as pb;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

pub const WAIT: Duration = Duration::from_secs(30);
/// 32 bytes: the shortest key `token` accepts.
pub const KEY: &str = "test-callback-key-0123456789abcd";

/// The `apsis` binary of this workspace, built if missing.
pub fn engine_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
            let bin = profile_dir.join("apsis");
            if !bin.exists() {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let mut build = Command::new(cargo);
                build.args(["build", "-p", "apsis-server", "--bin", "apsis"]);
                if profile_dir.file_name().is_some_and(|n| n == "release") {
                    build.arg("--release");
                }
                build.env("CARGO_TARGET_DIR", profile_dir.parent().unwrap());
                let status = build.status().expect("cargo runs");
                assert!(status.success(), "Expected to build the apsis binary");
            }
            bin
        })
        .clone()
}

/// Kills the child when dropped.
pub struct Kill(pub Option<Child>);

impl Drop for Kill {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A real `apsis engine` on a temporary data directory.
pub struct Engine {
    _child: Kill,
    pub gateway: SocketAddr,
    pub monitoring: SocketAddr,
    _data: tempfile::TempDir,
}

impl Engine {
    pub fn start() -> Engine {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(engine_binary())
            .args(["engine", "--data-dir"])
            .arg(data.path())
            .args(["--gateway-address", "127.0.0.1:0"])
            .args(["--monitoring-address", "127.0.0.1:0"])
            .env("APSIS_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let child = Kill(Some(child));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                if v["message"] == "apsis engine ready" {
                    let _ = tx.send(v);
                }
            }
        });
        let ready = rx
            .recv_timeout(WAIT)
            .expect("the engine logs that it is ready");
        let addr = |f: &str| -> SocketAddr { ready[f].as_str().unwrap().parse().unwrap() };
        Engine {
            gateway: addr("gateway_address"),
            monitoring: addr("monitoring_address"),
            _child: child,
            _data: data,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.gateway)
    }

    pub async fn client(&self) -> Gateway {
        let options = ClientOptions {
            address: self.url(),
            ..ClientOptions::default()
        };
        apsis_client::connect(&options).await.unwrap()
    }

    /// Deploys `tests/fixtures/<name>`.
    pub async fn deploy(&self, name: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let content = std::fs::read(&path).unwrap();
        self.client()
            .await
            .deploy_resource(pb::DeployResourceRequest {
                resources: vec![pb::Resource {
                    name: name.into(),
                    content,
                }],
                tenant_id: String::new(),
            })
            .await
            .unwrap();
    }

    pub async fn create(&self, bpmn_process_id: &str, variables: Value) -> i64 {
        self.client()
            .await
            .create_process_instance(pb::CreateProcessInstanceRequest {
                bpmn_process_id: bpmn_process_id.into(),
                version: -1,
                variables: variables.to_string(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .process_instance_key
    }

    /// The engine's open incidents (`GET /incidents` on the monitoring address).
    pub async fn incidents(&self) -> Vec<Value> {
        let url = format!("http://{}/incidents", self.monitoring);
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits for the first open incident.
    pub async fn incident(&self) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.incidents().await.into_iter().next() {
                return i;
            }
            assert!(Instant::now() < deadline, "an incident within {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One request the fake gateway received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub at: Instant,
}

/// An answer: status, body, and how long to wait before giving it.
#[derive(Debug, Clone)]
pub struct Answer(pub u16, pub &'static str, pub Duration);

#[derive(Default)]
struct FakeState {
    recorded: Mutex<Vec<Recorded>>,
    /// Per function: answers to give in order; the last one repeats. None scripted: 202.
    script: Mutex<BTreeMap<String, VecDeque<Answer>>>,
    running: AtomicUsize,
    peak: AtomicUsize,
}

/// A fake OpenFaaS gateway on loopback.
#[derive(Clone)]
pub struct FakeGateway {
    pub url: String,
    state: Arc<FakeState>,
}

impl FakeGateway {
    pub async fn start() -> FakeGateway {
        let state = Arc::new(FakeState::default());
        let app = Router::new()
            .route("/async-function/{function}", post(invoke))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeGateway { url, state }
    }

    pub fn script(&self, function: &str, answers: Vec<Answer>) {
        self.state
            .script
            .lock()
            .unwrap()
            .insert(function.into(), answers.into());
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.state.recorded.lock().unwrap().clone()
    }

    /// Most requests being answered at once.
    pub fn peak(&self) -> usize {
        self.state.peak.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let deadline = Instant::now() + WAIT;
        loop {
            let r = self.recorded();
            if r.len() >= n {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{n} requests within {WAIT:?}, got {}",
                r.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn invoke(
    State(state): State<Arc<FakeState>>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let now = state.running.fetch_add(1, Ordering::SeqCst) + 1;
    state.peak.fetch_max(now, Ordering::SeqCst);
    state.recorded.lock().unwrap().push(Recorded {
        path: format!("/async-function/{function}"),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    });
    let answer = {
        let mut script = state.script.lock().unwrap();
        match script.get_mut(&function) {
            Some(q) if q.len() > 1 => q.pop_front().unwrap(),
            Some(q) => q
                .front()
                .cloned()
                .unwrap_or(Answer(202, "", Duration::ZERO)),
            None => Answer(202, "", Duration::ZERO),
        }
    };
    tokio::time::sleep(answer.2).await;
    state.running.fetch_sub(1, Ordering::SeqCst);
    (StatusCode::from_u16(answer.0).unwrap(), answer.1.to_owned())
}
