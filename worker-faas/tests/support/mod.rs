//! Test support, all real: the workspace's `apsis engine` binary as a child process (apsis-testkit finds it, or
//! builds it when missing: the worker crate does not depend on the server, not even for tests), and a fake
//! OpenFaaS gateway (axum on 127.0.0.1:0) that records every request and answers as scripted, per function.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apsis_testkit::{EngineOpts, EngineProcess};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

pub use apsis_testkit::WAIT;
/// 32 bytes: the shortest key `token` accepts.
pub const KEY: &str = "test-callback-key-0123456789abcd";

/// A real `apsis engine` on a temporary data directory, ready.
pub fn engine() -> EngineProcess {
    EngineProcess::start(EngineOpts::new(apsis_testkit::binary(
        "apsis",
        "apsis-server",
    )))
}

/// What these tests do with the engine beyond what apsis-testkit offers (which creates instances and waits for
/// incidents itself).
pub trait EngineExt {
    /// Deploys `tests/fixtures/<name>`.
    async fn deploy(&self, name: &str);
}

impl EngineExt for EngineProcess {
    async fn deploy(&self, name: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        self.deploy_file(&path).await;
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
