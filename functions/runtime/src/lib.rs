//! `apsis-faas-local`: the local function runtime. It serves the OpenFaaS gateway contract
//! (`shared/notes/openfaas.md`, `functions/README.md`) on a loopback address and runs each function of a faas-cli
//! `stack.yml` as a local process, as of-watchdog's `http` mode would inside a container. It is the embedded default
//! on one machine and the OpenFaaS test double: the worker's OpenFaaS backend works against it unchanged.
//!
//! Invariants:
//! - no shell ever runs: a function's process is `argv[0]` with `argv[1..]`, and request data only reaches it over
//!   HTTP;
//! - every asynchronous call that was answered 202 ends in exactly one callback attempt series (when it has an
//!   `X-Callback-Url`), also when the function cannot be reached (503) or the runtime stops before running it (503);
//! - a client's own `X-Call-Id` is used as the call id and never echoed; a generated one is returned;
//! - a function's process lives in its own process group, which is killed when the process exits or the runtime
//!   stops; its stdin reaches EOF when the runtime is gone (the way functions learn of a SIGKILLed runtime).
//!
//! Must not depend on: any engine crate (`apsis-core`, `apsis-store`, `apsis-server`, `apsis-proto`,
//! `apsis-client`, `apsis-bpmn`) nor `apsis-worker-faas`: it knows OpenFaaS, not Zeebe. The Prometheus exporter
//! belongs to the binary; the library records through the `metrics` facade only.
//!
//! Components follow Options -> Service -> Handle: [`Options`] (from [`config`] in the binary), [`Service::start`],
//! [`Handle::shutdown`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

mod callback;
pub mod config;
pub mod definitions;
mod duration;
mod error;
mod gateway;
pub mod headers;
mod invoke;
pub mod metrics;
mod process;
mod queue;
mod system;

pub use definitions::FunctionSpec;
pub use error::Error;
pub use process::{LIFELINE_ENV, LISTEN_ENV};

/// OpenFaaS CE's limit on an asynchronous request body, in bytes (over it: 500).
pub const DEFAULT_MAX_ASYNC_BODY: usize = 256_000;
/// Limit on a synchronous request body, in bytes (over it: 413).
pub const DEFAULT_MAX_SYNC_BODY: usize = 64 * 1024 * 1024;
/// OpenFaaS's default namespace, accepted as `name.openfaas-fn`.
pub const DEFAULT_NAMESPACE: &str = "openfaas-fn";

/// Renders the metrics page served on `/metrics` (installed by the binary, which owns the exporter).
#[derive(Clone)]
pub struct MetricsRender(Arc<dyn Fn() -> String + Send + Sync>);

impl MetricsRender {
    pub fn new(render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        MetricsRender(Arc::new(render))
    }

    pub fn render(&self) -> String {
        (self.0)()
    }
}

impl fmt::Debug for MetricsRender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MetricsRender")
    }
}

/// What the runtime serves and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the gateway listens (port 0: any free port, see [`Handle::address`]).
    pub address: SocketAddr,
    pub functions: Vec<FunctionSpec>,
    /// The one namespace: `name.<namespace>` is accepted for `name`.
    pub namespace: String,
    pub max_async_body: usize,
    pub max_sync_body: usize,
    /// How long running asynchronous calls may take to finish (and call back) once shutdown starts.
    pub shutdown_grace: Duration,
    pub metrics: Option<MetricsRender>,
}

impl Options {
    pub fn new(address: SocketAddr, functions: Vec<FunctionSpec>) -> Self {
        Options {
            address,
            functions,
            namespace: DEFAULT_NAMESPACE.to_string(),
            max_async_body: DEFAULT_MAX_ASYNC_BODY,
            max_sync_body: DEFAULT_MAX_SYNC_BODY,
            shutdown_grace: Duration::from_secs(30),
            metrics: None,
        }
    }
}

/// The runtime: starts the function processes, their queues and the gateway.
#[derive(Debug)]
pub struct Service;

/// A running runtime.
#[derive(Debug)]
pub struct Handle {
    address: SocketAddr,
    stop_serving: watch::Sender<bool>,
    stop_processes: watch::Sender<bool>,
    server: JoinHandle<Result<(), Error>>,
    queues: Vec<JoinHandle<()>>,
    supervisors: Vec<JoinHandle<()>>,
    upstreams: BTreeMap<String, watch::Receiver<process::Upstream>>,
    grace: Duration,
}

impl Service {
    /// Binds the address, starts every function's process (without waiting for them: requests wait for a starting
    /// process up to its `start_timeout`) and serves until [`Handle::shutdown`].
    pub async fn start(options: Options) -> Result<Handle, Error> {
        let listener = tokio::net::TcpListener::bind(options.address)
            .await
            .map_err(|source| Error::Bind {
                address: options.address.to_string(),
                source,
            })?;
        let address = listener.local_addr().map_err(|source| Error::Bind {
            address: options.address.to_string(),
            source,
        })?;
        // Loopback functions and callbacks go direct: an HTTP(S)_PROXY in the environment must not capture them.
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|source| Error::HttpClient { source })?;
        let (stop_serving, serving) = watch::channel(false);
        let (stop_processes, processes) = watch::channel(false);
        let (mut functions, mut queues, mut supervisors) =
            (BTreeMap::new(), Vec::new(), Vec::new());
        let mut upstreams = BTreeMap::new();
        for spec in options.functions {
            let spec = Arc::new(spec);
            let (upstream, supervisor) = process::supervise(spec.clone(), processes.clone());
            upstreams.insert(spec.name.clone(), upstream.clone());
            let function = Arc::new(invoke::Function::new(spec.clone(), upstream));
            let (queue, worker) = queue::start(
                function.clone(),
                client.clone(),
                serving.clone(),
                options.shutdown_grace,
            );
            functions.insert(spec.name.clone(), gateway::Entry { function, queue });
            queues.push(worker);
            supervisors.push(supervisor);
        }
        let gateway = Arc::new(gateway::Gateway {
            functions,
            client,
            namespace: options.namespace,
            max_async_body: options.max_async_body,
            max_sync_body: options.max_sync_body,
            metrics: options.metrics,
        });
        let router = gateway::router(gateway);
        let mut serving_signal = serving;
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { process::stopped(&mut serving_signal).await })
                .await
                .map_err(|source| Error::Serve { source })
        });
        info!(function = "", call_id = "", %address, "local function runtime listening");
        Ok(Handle {
            address,
            stop_serving,
            stop_processes,
            server,
            queues,
            supervisors,
            upstreams,
            grace: options.shutdown_grace,
        })
    }
}

impl Handle {
    /// The address the gateway listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Waits until every function's process accepts connections; false if `within` passed first.
    pub async fn ready(&self, within: Duration) -> bool {
        let all = async {
            for upstream in self.upstreams.values() {
                let mut upstream = upstream.clone();
                let _ = upstream
                    .wait_for(|u| matches!(u, process::Upstream::Up { .. }))
                    .await;
            }
        };
        tokio::time::timeout(within, all).await.is_ok()
    }

    /// The process id of a function's process while it is up.
    pub fn pid(&self, function: &str) -> Option<u32> {
        match *self.upstreams.get(function)?.borrow() {
            process::Upstream::Up { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// Stops in order: the gateway stops accepting (in-flight synchronous calls finish), queued asynchronous calls
    /// get a 503 callback, running ones get the grace period to finish and call back; then the processes get
    /// SIGTERM, and SIGKILL 5 s later.
    pub async fn shutdown(self) -> Result<(), Error> {
        self.stop_serving.send_replace(true);
        for queue in self.queues {
            let _ = queue.await;
        }
        let served = match tokio::time::timeout(self.grace, self.server).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Ok(()),
            Err(_) => {
                warn!(
                    function = "",
                    call_id = "",
                    "Expected synchronous calls to end within the shutdown grace, but some did not"
                );
                Ok(())
            }
        };
        self.stop_processes.send_replace(true);
        for supervisor in self.supervisors {
            let _ = supervisor.await;
        }
        info!(
            function = "",
            call_id = "",
            "local function runtime stopped"
        );
        served
    }
}
