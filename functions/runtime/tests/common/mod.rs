//! Shared by the integration tests: a runtime over real processes, a callback receiver, bounded waits.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apsis_faas_local::{definitions, Handle, Options, Service};
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tokio::sync::{mpsc, Mutex};

pub const ECHO: &str = env!("CARGO_BIN_EXE_apsis-faas-echo");
/// Bound on every wait: generous, since the machine is shared.
pub const WITHIN: Duration = Duration::from_secs(20);

/// Definitions for the echo test function under several names and limits; `{echo}` is its path.
pub fn stack() -> String {
    r#"
version: 1.0
provider: {name: openfaas, gateway: http://127.0.0.1:8080}
functions:
  echo:
    image: apsis/faas-echo:test
    environment: {ECHO_GREETING: hello, exec_timeout: 30s}
    labels: {tier: test}
    x-apsis-local: {fprocess: ["{echo}"]}
  slow:
    image: apsis/faas-echo:test
    environment: {fprocess: "{echo}", exec_timeout: 300ms}
  one:
    image: apsis/faas-echo:test
    environment: {fprocess: "{echo}", max_inflight: 1}
  broken:
    image: apsis/none:test
    x-apsis-local: {fprocess: [/nonexistent/apsis-no-such-program], start_timeout: 1s}
"#
    .replace("{echo}", ECHO)
}

/// A runtime started in-process over `stack()`, its base URL, and its folder.
pub struct Runtime {
    pub handle: Handle,
    pub base: String,
    pub dir: tempfile::TempDir,
}

pub async fn start(grace: Duration) -> Runtime {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.yml");
    std::fs::write(&path, stack()).unwrap();
    let mut options = Options::new(
        "127.0.0.1:0".parse().unwrap(),
        definitions::load(&path).unwrap(),
    );
    options.shutdown_grace = grace;
    let handle = Service::start(options).await.unwrap();
    let base = format!("http://{}", handle.address());
    Runtime { handle, base, dir }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Polls `check` every 20 ms until it yields a value, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A process is gone once /proc has no entry for it or it is a zombie.
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// One callback as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A callback receiver on 127.0.0.1:0; answers 503 to its first `fail_first` callbacks, 200 after.
pub struct Receiver {
    pub url: String,
    calls: Arc<Mutex<mpsc::UnboundedReceiver<Received>>>,
}

#[derive(Clone)]
struct ReceiverState {
    sender: mpsc::UnboundedSender<Received>,
    fail_first: usize,
    seen: Arc<AtomicUsize>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        let (sender, receiver) = mpsc::unbounded_channel();
        let state = ReceiverState {
            sender,
            fail_first,
            seen: Arc::default(),
        };
        let app = axum::Router::new().fallback(receive).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{address}/callback?token=t"),
            calls: Arc::new(Mutex::new(receiver)),
        }
    }

    /// The next callback, within [`WITHIN`].
    pub async fn next(&self) -> Received {
        let mut calls = self.calls.lock().await;
        tokio::time::timeout(WITHIN, calls.recv())
            .await
            .expect("Expected a callback in time, but none came")
            .unwrap()
    }

    /// No further callback within `wait` (used only after the expected ones arrived).
    pub async fn quiet_for(&self, wait: Duration) -> bool {
        let mut calls = self.calls.lock().await;
        tokio::time::timeout(wait, calls.recv()).await.is_err()
    }
}

async fn receive(State(state): State<ReceiverState>, request: Request) -> impl IntoResponse {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let _ = state.sender.send(Received {
        headers: parts.headers,
        body,
    });
    if state.seen.fetch_add(1, Ordering::SeqCst) < state.fail_first {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// GETs `url` and reads its JSON body.
pub async fn get_json(url: String) -> Option<serde_json::Value> {
    let body = client().get(url).send().await.ok()?.bytes().await.ok()?;
    serde_json::from_slice(&body).ok()
}
