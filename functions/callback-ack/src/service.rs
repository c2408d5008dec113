//! Options -> [`Service`] -> [`Handle`]: binds the listen address and serves the callback endpoint, the health
//! endpoints of of-watchdog's convention (`/_/health`) and OpenFaaS's (`/healthz`), and `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use apsis_worker_faas::outcome::Policy;
use apsis_worker_faas::token::CallbackKey;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::gateway::Zeebe;
use crate::seen::Seen;
use crate::{Error, Options};

/// Renders every recorded metric in Prometheus text format (the binary's exporter).
pub type RenderFn = Arc<dyn Fn() -> String + Send + Sync>;

/// How many recent call ids are remembered against duplicates.
const SEEN_CAPACITY: usize = 100_000;

/// What every request handler shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) key: CallbackKey,
    pub(crate) policy: Policy,
    pub(crate) max_output_bytes: usize,
    pub(crate) act_before_answer: bool,
    pub(crate) zeebe: Arc<Zeebe>,
    pub(crate) seen: Arc<Seen>,
    pub(crate) tracker: TaskTracker,
    render: Option<RenderFn>,
}

/// The callback-ack server.
#[derive(Debug)]
pub struct Service;

impl Service {
    /// Binds `options.listen` and serves until [`Handle::shutdown`]. `render`: `None` answers `/metrics` with 404.
    pub async fn start(options: Options, render: Option<RenderFn>) -> Result<Handle, Error> {
        let tracker = TaskTracker::new();
        let shared = Shared {
            key: options.key.clone(),
            policy: Policy {
                job_retry_backoff: options.job_retry_backoff,
                ..Policy::default()
            },
            max_output_bytes: options.max_output_bytes,
            act_before_answer: options.act_before_answer,
            zeebe: Arc::new(Zeebe::new(options.zeebe.clone(), options.gateway_retry_for)),
            seen: Arc::new(Seen::new(SEEN_CAPACITY)),
            tracker: tracker.clone(),
            render,
        };
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|source| Error::Bind {
                address: options.listen,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| Error::Bind {
            address: options.listen,
            source,
        })?;
        let router = Router::new()
            .route("/_/health", get(health))
            .route("/healthz", get(health))
            .route("/metrics", get(metrics))
            .fallback(crate::handler::callback)
            .with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        info!(%address, act_before_answer = options.act_before_answer, "callback-ack listening");
        Ok(Handle {
            address,
            stop: Some(stop),
            server,
            tracker,
        })
    }
}

/// A running [`Service`].
#[derive(Debug)]
pub struct Handle {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    tracker: TaskTracker,
}

impl Handle {
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting callbacks, then waits at most `grace` for the ones being acted on in the background (a
    /// callback cut short here is caught by its call's deadline, like a lost one).
    pub async fn shutdown(mut self, grace: Duration) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.server).await;
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            warn!(
                left = self.tracker.len(),
                "Expected the callbacks in progress to finish within {grace:?}, but some did not; exiting anyway"
            );
        }
        match served {
            Ok(result) => result.map_err(Error::Serve),
            Err(join) => Err(Error::Serve(std::io::Error::other(join))),
        }
    }
}

async fn health() -> &'static str {
    "ok\n"
}

async fn metrics(State(shared): State<Shared>) -> Response {
    match &shared.render {
        Some(render) => render().into_response(),
        None => (StatusCode::NOT_FOUND, "no metrics exporter installed\n").into_response(),
    }
}
