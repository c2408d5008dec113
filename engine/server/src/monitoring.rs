//! The monitoring endpoint: `GET /health` (liveness), `GET /ready` (readiness) and `GET /metrics` (Prometheus text).
//!
//! Liveness is 200 for as long as the process serves HTTP. Readiness is 200 only between the end of recovery and the
//! start of shutdown, when the engine takes commands; 503 before and after, so a load balancer or Kubernetes sends
//! no traffic to an engine that is replaying its log or draining. `/metrics` first refreshes the live-entity gauges
//! from the engine's state (on the runtime thread, through [`EngineHandle::inspect`]), then renders through the
//! function the binary gives: the exporter itself belongs to the binary (convention 9), this module only serves it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::HostPort;
use crate::EngineHandle;

/// Renders every recorded metric in Prometheus text format.
pub type RenderFn = Arc<dyn Fn() -> String + Send + Sync>;

/// How long a scrape waits for the runtime thread to report the live counts before it renders without them.
const INSPECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct MonitoringOptions {
    pub address: HostPort,
    /// `None`: `/metrics` answers 404 (no exporter installed).
    pub render: Option<RenderFn>,
}

impl std::fmt::Debug for MonitoringOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitoringOptions")
            .field("address", &self.address)
            .field("render", &self.render.is_some())
            .finish()
    }
}

/// Why the monitoring server did not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected to listen on {address} for monitoring, but the address is already in use")]
    AddressInUse {
        address: HostPort,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected to listen on {address} for monitoring, but it could not be bound")]
    Bind {
        address: HostPort,
        #[source]
        source: std::io::Error,
    },
}

/// Where the engine is in its life, as `/ready` reports it.
#[derive(Clone, Default)]
enum Phase {
    #[default]
    Recovering,
    Ready(EngineHandle),
    Stopping,
}

#[derive(Clone)]
struct Shared {
    phase: Arc<Mutex<Phase>>,
    render: Option<RenderFn>,
}

impl Shared {
    fn phase(&self) -> Phase {
        self.phase
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase;
    }
}

/// The running monitoring server. Starts not ready; [`MonitoringHandle::ready`] once the engine takes commands.
pub struct MonitoringHandle {
    local_addr: SocketAddr,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for MonitoringHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitoringHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// Binds the address and serves in a task of the current tokio runtime.
pub async fn start(opts: MonitoringOptions) -> Result<MonitoringHandle, Error> {
    let address = opts.address.to_string();
    let listener = TcpListener::bind(&address).await.map_err(|source| {
        let address = opts.address.clone();
        if source.kind() == std::io::ErrorKind::AddrInUse {
            Error::AddressInUse { address, source }
        } else {
            Error::Bind { address, source }
        }
    })?;
    let local_addr = listener.local_addr().map_err(|source| Error::Bind {
        address: opts.address.clone(),
        source,
    })?;
    let shared = Shared {
        phase: Arc::default(),
        render: opts.render,
    };
    let router = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/incidents", get(incidents))
        .with_state(shared.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(MonitoringHandle {
        local_addr,
        shared,
        stop: Some(stop),
        task: Some(task),
    })
}

impl MonitoringHandle {
    /// The bound address (the real port when the configured one was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Recovery finished and the engine takes commands: `/ready` answers 200.
    pub fn ready(&self, engine: EngineHandle) {
        self.shared.set(Phase::Ready(engine));
    }

    /// Shutdown began: `/ready` answers 503 again.
    pub fn stopping(&self) {
        self.shared.set(Phase::Stopping);
    }

    /// Stops serving (requests in flight finish).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

async fn ready(State(shared): State<Shared>) -> (StatusCode, &'static str) {
    match shared.phase() {
        Phase::Ready(_) => (StatusCode::OK, "ready\n"),
        Phase::Recovering => (StatusCode::SERVICE_UNAVAILABLE, "recovering\n"),
        Phase::Stopping => (StatusCode::SERVICE_UNAVAILABLE, "stopping\n"),
    }
}

/// Open incidents as JSON (key, kind, message, element instance, process instance, job), oldest first: the gRPC
/// protocol returns no incident keys (Zeebe clients read them from Operate), so operators and tests read them here
/// to resolve them with ResolveIncident.
async fn incidents(State(shared): State<Shared>) -> axum::response::Response {
    let Phase::Ready(engine) = shared.phase() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response();
    };
    let list = tokio::task::spawn_blocking(move || {
        engine.inspect(|state| {
            let mut rows: Vec<serde_json::Value> = state
                .incidents
                .by_key
                .iter()
                .map(|(key, i)| {
                    let bpmn_process_id = state
                        .instance(i.process_instance_key)
                        .and_then(|pi| state.deployments.get(pi.at.process_definition_key))
                        .map(|d| d.bpmn_process_id.clone())
                        .unwrap_or_default();
                    serde_json::json!({
                        "key": key.0,
                        "errorType": i.kind.zeebe_name(),
                        "errorMessage": i.message,
                        "elementInstanceKey": i.element_instance_key.0,
                        "processInstanceKey": i.process_instance_key.0,
                        "bpmnProcessId": bpmn_process_id,
                        "jobKey": i.job_key.0,
                    })
                })
                .collect();
            rows.sort_by_key(|r| r["key"].as_i64());
            rows
        })
    });
    match tokio::time::timeout(INSPECT_TIMEOUT, list).await {
        Ok(Ok(Ok(rows))) => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::Value::Array(rows).to_string(),
        )
            .into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine did not answer in time\n",
        )
            .into_response(),
    }
}

async fn metrics(State(shared): State<Shared>) -> axum::response::Response {
    let Some(render) = shared.render.clone() else {
        return (StatusCode::NOT_FOUND, "no metrics exporter installed\n").into_response();
    };
    if let Phase::Ready(engine) = shared.phase() {
        let counts = tokio::task::spawn_blocking(move || {
            engine.inspect(|state| {
                let per_definition: Vec<_> = state.instance_counts.values().cloned().collect();
                (state.live_counts(), per_definition)
            })
        });
        if let Ok(Ok(Ok((live, per_definition)))) =
            tokio::time::timeout(INSPECT_TIMEOUT, counts).await
        {
            crate::metrics::live(&live);
            crate::metrics::instance_counts(&per_definition);
        }
    }
    match tokio::task::spawn_blocking(move || render()).await {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;
    use crate::{Engine, EngineOptions};

    /// A plain HTTP/1.1 GET: (status, body).
    fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
        (status, body)
    }

    async fn get_async(addr: SocketAddr, path: &'static str) -> (u16, String) {
        tokio::task::spawn_blocking(move || get(addr, path))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn ready_only_between_recovery_and_shutdown_and_metrics_render() {
        let m = start(MonitoringOptions {
            address: HostPort::new("127.0.0.1", 0),
            render: Some(Arc::new(|| "apsis_test 1\n".to_owned())),
        })
        .await
        .unwrap();
        let addr = m.local_addr();
        assert_eq!(get_async(addr, "/health").await, (200, "ok\n".into()));
        assert_eq!(
            get_async(addr, "/ready").await,
            (503, "recovering\n".into())
        );
        let dir = tempfile::tempdir().unwrap();
        let (engine, _) = Engine::start(EngineOptions::new(dir.path())).unwrap();
        m.ready(engine.handle());
        assert_eq!(get_async(addr, "/ready").await, (200, "ready\n".into()));
        assert_eq!(
            get_async(addr, "/metrics").await,
            (200, "apsis_test 1\n".into())
        );
        m.stopping();
        assert_eq!(get_async(addr, "/ready").await.0, 503);
        assert_eq!(get_async(addr, "/health").await.0, 200);
        tokio::task::spawn_blocking(move || engine.shutdown().unwrap())
            .await
            .unwrap();
        assert_eq!(
            get_async(addr, "/metrics").await.0,
            200,
            "a scrape after the engine stopped still renders"
        );
        m.shutdown().await;
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "stopped serving"
        );
    }

    #[tokio::test]
    async fn a_taken_address_is_a_clear_error_and_no_exporter_is_404() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = start(MonitoringOptions {
            address: HostPort::new("127.0.0.1", port),
            render: None,
        })
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Expected to listen on 127.0.0.1:{port} for monitoring, but the address is already in use")
        );
        let m = start(MonitoringOptions {
            address: HostPort::new("127.0.0.1", 0),
            render: None,
        })
        .await
        .unwrap();
        assert_eq!(get_async(m.local_addr(), "/metrics").await.0, 404);
        m.shutdown().await;
    }
}
