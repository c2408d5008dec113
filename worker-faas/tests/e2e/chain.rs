//! The four real processes of a FaaS chain on loopback, and a callback proxy between the runtime and callback-ack.
//!
//! - `apsis engine` (testkit's [`EngineProcess`]);
//! - `apsis-faas-local`, the local OpenFaaS gateway, running two functions from a stack.yml written here: `echo`
//!   (the runtime's test function, which runs argv scripts: `fail`, `require`, `record`, `sleep`) and
//!   `callback-ack` (the real one, with the shared key and the engine's address);
//! - `apsis-worker-faas`, with its callback URL pointing at the [`Proxy`] and its `local` backend at the
//!   [`Invocations`] relay;
//! - the proxy: forwards each callback the runtime's queue-worker sends to `{runtime}/function/callback-ack`
//!   (so callback-ack is reached through the gateway, as on OpenFaaS), once, twice (a redelivered callback), or
//!   not at all (a lost one);
//! - the relay: passes the worker's invocations to the runtime after an optional delay; an invocation whose
//!   client is gone (a killed worker) before the delay is over is never passed on.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use apsis_testkit::{
    binary, free_port, worker_test_sections, EngineOpts, EngineProcess, FaasLocal, WorkerProcess,
};
use serde_json::Value;

pub use apsis_testkit::wait;

use crate::support::{EngineExt as _, KEY};

/// What the proxy does with a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Delivery {
    Once = 0,
    Twice = 1,
    Drop = 2,
}

/// The callback proxy: its mode and what it saw.
#[derive(Debug, Default)]
pub struct Proxy {
    mode: AtomicU8,
    pub received: AtomicUsize,
    /// Forwarded callbacks that callback-ack answered 2xx.
    pub accepted: AtomicUsize,
}

impl Proxy {
    pub fn set(&self, delivery: Delivery) {
        self.mode.store(delivery as u8, Ordering::SeqCst);
    }

    fn delivery(&self) -> Delivery {
        match self.mode.load(Ordering::SeqCst) {
            1 => Delivery::Twice,
            2 => Delivery::Drop,
            _ => Delivery::Once,
        }
    }
}

/// The invocation relay: its delay and what it saw.
#[derive(Debug, Default)]
pub struct Invocations {
    pub delay_ms: std::sync::atomic::AtomicU64,
    pub received: AtomicUsize,
    pub forwarded: AtomicUsize,
}

pub struct Chain {
    pub engine: EngineProcess,
    pub runtime_url: String,
    pub proxy: Arc<Proxy>,
    pub invocations: Arc<Invocations>,
    _runtime: FaasLocal,
    worker: Option<WorkerProcess>,
    worker_config: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Chain {
    /// Starts everything and deploys the two end-to-end processes.
    pub async fn start() -> Chain {
        let dir = tempfile::tempdir().unwrap();
        let engine = EngineProcess::start(EngineOpts::new(binary("apsis", "apsis-server")));
        let stack = dir.path().join("stack.yml");
        std::fs::write(
            &stack,
            format!(
                r#"version: 1.0
provider: {{name: openfaas, gateway: http://127.0.0.1:8080}}
functions:
  echo:
    image: apsis/faas-echo:test
    x-apsis-local:
      fprocess: ["{echo}"]
      max_inflight: 4
      exec_timeout: 30s
  callback-ack:
    image: apsis/callback-ack:test
    x-apsis-local:
      fprocess: ["{ack}"]
      environment:
        APSIS_CALLBACK_KEY: "{KEY}"
        ZEEBE_ADDRESS: "{engine}"
        APSIS_JOB_RETRY_BACKOFF_MS: "100"
"#,
                echo = binary("apsis-faas-echo", "apsis-faas-local").display(),
                ack = binary("apsis-callback-ack", "apsis-callback-ack").display(),
                engine = engine.gateway_url(),
            ),
        )
        .unwrap();
        let runtime = FaasLocal::start(&stack, &[]);
        let runtime_url = runtime.url();
        let proxy = Arc::new(Proxy::default());
        let proxy_addr = serve_proxy(proxy.clone(), runtime_url.clone()).await;
        let invocations = Arc::new(Invocations::default());
        let relay_addr = serve_relay(invocations.clone(), runtime_url.clone()).await;
        let worker_config = dir.path().join("worker.toml");
        std::fs::write(
            &worker_config,
            format!(
                r#"activation_timeout_ms = 3000
openfaas_url = "{runtime_url}"
local_url = "http://{relay_addr}"
callback_url = "http://{proxy_addr}/callback"
listen_address = "127.0.0.1:{monitor}"
max_jobs_in_flight = 8
shutdown_grace_ms = 1000
{sections}"#,
                monitor = free_port(),
                sections = worker_test_sections(&engine.gateway_url()),
            ),
        )
        .unwrap();
        let mut chain = Chain {
            engine,
            runtime_url,
            proxy,
            invocations,
            _runtime: runtime,
            worker: None,
            worker_config,
            dir,
        };
        chain.start_worker();
        for name in ["e2e-hold.bpmn", "e2e-receive.bpmn"] {
            chain.engine.deploy(name).await;
        }
        chain
    }

    /// Starts (or restarts) the worker process.
    pub fn start_worker(&mut self) {
        self.worker = Some(WorkerProcess::start(
            env!("CARGO_BIN_EXE_apsis-worker-faas"),
            &self.worker_config,
            &[("APSIS_CALLBACK_KEY", KEY)],
        ));
    }

    /// SIGKILL of the worker.
    pub fn kill_worker(&mut self) {
        if let Some(mut worker) = self.worker.take() {
            worker.kill();
        }
    }

    /// Creates an instance and waits for its end; returns its variables.
    pub async fn run(&self, process: &str, variables: Value) -> Value {
        self.engine
            .run(process, variables, Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("Expected {process} to complete, but: {e}"))
            .1
    }

    /// The engine's durable count of instances of `process` for `event` (started | completed | terminated).
    pub fn count(&self, process: &str, event: &str) -> u64 {
        self.engine.count_instances(process, event)
    }

    /// Waits until `n` instances of `process` have completed.
    pub async fn wait_completed(&self, process: &str, n: u64, within: Duration) {
        wait(
            within,
            &format!("{n} completed instances of {process}"),
            || self.count(process, "completed") >= n,
        )
        .await;
    }

    /// A metric of callback-ack, read through the runtime's gateway (`/function/callback-ack/metrics`).
    pub async fn callback_ack_metric(&self, series: &str) -> f64 {
        let scrape = reqwest::get(format!(
            "{}/function/callback-ack/metrics",
            self.runtime_url
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        scrape
            .lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// The callback proxy on 127.0.0.1:0.
async fn serve_proxy(proxy: Arc<Proxy>, runtime_url: String) -> SocketAddr {
    use axum::extract::{RawQuery, State};
    use axum::http::{HeaderMap, StatusCode};

    type Shared = (Arc<Proxy>, String, reqwest::Client);
    async fn callback(
        State((proxy, runtime_url, http)): State<Shared>,
        RawQuery(query): RawQuery,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> StatusCode {
        proxy.received.fetch_add(1, Ordering::SeqCst);
        let times = match proxy.delivery() {
            Delivery::Once => 1,
            Delivery::Twice => 2,
            Delivery::Drop => 0,
        };
        let url = format!(
            "{runtime_url}/function/callback-ack?{}",
            query.unwrap_or_default()
        );
        for _ in 0..times {
            let request = forwarded(http.post(&url).body(body.clone()), &headers);
            if let Ok(answer) = request.send().await {
                if answer.status().is_success() {
                    proxy.accepted.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        StatusCode::OK
    }

    let app = axum::Router::new()
        .route("/callback", axum::routing::post(callback))
        .with_state((proxy, runtime_url, reqwest::Client::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The invocation relay on 127.0.0.1:0: `POST /async-function/{name}` is passed to the runtime after the delay.
async fn serve_relay(relay: Arc<Invocations>, runtime_url: String) -> SocketAddr {
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};

    type Shared = (Arc<Invocations>, String, reqwest::Client);
    async fn invoke(
        State((relay, runtime_url, http)): State<Shared>,
        Path(function): Path<String>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> (StatusCode, String) {
        relay.received.fetch_add(1, Ordering::SeqCst);
        // Dropped here, never forwarded, when the worker's connection closes during the delay (hyper cancels the
        // handler of a closed connection).
        let delay = relay.delay_ms.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let request = forwarded(
            http.post(format!("{runtime_url}/async-function/{function}"))
                .body(body),
            &headers,
        );
        relay.forwarded.fetch_add(1, Ordering::SeqCst);
        match request.send().await {
            Ok(answer) => (
                StatusCode::from_u16(answer.status().as_u16()).unwrap(),
                answer.text().await.unwrap_or_default(),
            ),
            Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()),
        }
    }

    let app = axum::Router::new()
        .route("/async-function/{function}", axum::routing::post(invoke))
        .with_state((relay, runtime_url, reqwest::Client::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// `request` with the headers of the OpenFaaS contract copied from `headers`: every `X-*` and the content type.
fn forwarded(
    mut request: reqwest::RequestBuilder,
    headers: &axum::http::HeaderMap,
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        if name.as_str().starts_with("x-") || name == "content-type" {
            request = request.header(name, value);
        }
    }
    request
}
