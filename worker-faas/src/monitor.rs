//! `/health` (the process answers), `/ready` (connected to the gateway and activating jobs; 503 otherwise, also
//! while shutting down) and `/metrics` (Prometheus text, rendered by the exporter the binary installs; 404 when
//! none is).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::Error;

/// Renders the metrics (the exporter's handle, in the binary).
pub type RenderFn = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
struct Shared {
    ready: Arc<AtomicBool>,
    render: Option<RenderFn>,
}

/// The running endpoint.
#[derive(Debug)]
pub struct Monitor {
    pub address: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Monitor {
    /// Listens on `address` (port 0 picks one) and serves until [`Monitor::stop`].
    pub async fn start(
        address: &str,
        ready: Arc<AtomicBool>,
        render: Option<RenderFn>,
    ) -> Result<Monitor, Error> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| Error::Listen {
                address: address.to_owned(),
                problem: e.to_string(),
            })?;
        let local = listener.local_addr().map_err(|e| Error::Listen {
            address: address.to_owned(),
            problem: e.to_string(),
        })?;
        let app = Router::new()
            .route("/health", get(|| async { "ok\n" }))
            .route("/ready", get(is_ready))
            .route("/metrics", get(metrics))
            .with_state(Shared { ready, render });
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Ok(Monitor {
            address: local,
            stop,
            task,
        })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn is_ready(State(s): State<Shared>) -> impl IntoResponse {
    if s.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn metrics(State(s): State<Shared>) -> axum::response::Response {
    match &s.render {
        Some(render) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no metrics exporter installed\n").into_response(),
    }
}
