//! Options -> [`Service`] -> [`Handle`]: binds the listen address and serves the run endpoint (POST, any path: the
//! watchdog forwards the function's path), the health endpoints of of-watchdog (`/_/health`) and OpenFaaS
//! (`/healthz`), and `/metrics`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;
use tracing::info;

use crate::help::HelpCache;
use crate::paths::Confinement;
use crate::run::Settings;
use crate::{Error, Options};

/// Renders every recorded metric in Prometheus text format (the binary's exporter).
pub type RenderFn = Arc<dyn Fn() -> String + Send + Sync>;

/// What every request handler shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) confinement: Arc<Confinement>,
    pub(crate) bin_dir: Arc<PathBuf>,
    pub(crate) gdalinfo: Arc<PathBuf>,
    pub(crate) run: Settings,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) help: Arc<HelpCache>,
    render: Option<RenderFn>,
}

/// The otbcli function's server.
#[derive(Debug)]
pub struct Service;

impl Service {
    /// Binds `options.listen` and serves until [`Handle::shutdown`]. `render`: `None` answers `/metrics` with 404.
    pub async fn start(options: Options, render: Option<RenderFn>) -> Result<Handle, Error> {
        let shared = Shared {
            confinement: Arc::new(Confinement {
                roots: options.data_roots.clone(),
                allowed_vsi: options.allowed_vsi.clone(),
            }),
            bin_dir: Arc::new(options.otb_bin_dir.clone()),
            gdalinfo: Arc::new(options.gdalinfo.clone()),
            run: Settings {
                workdir: options.data_roots[0].clone(),
                gdal_cachemax_mb: options.gdal_cachemax_mb,
                otb_ram_mb: options.otb_ram_mb,
                timeout: options.timeout,
            },
            slots: Arc::new(Semaphore::new(options.max_concurrent)),
            help: Arc::new(HelpCache::default()),
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
            .fallback(crate::handler::handle)
            .with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        info!(%address, roots = ?options.data_roots, "otbcli function listening");
        Ok(Handle {
            address,
            stop: Some(stop),
            server,
        })
    }
}

/// A running [`Service`].
#[derive(Debug)]
pub struct Handle {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Handle {
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting requests and waits for the runs in progress to answer.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.server).await {
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
