//! Options -> [`Service`] -> [`Handle`]: binds the listen address and serves the run endpoint (POST, any path: the
//! watchdog forwards the function's path), with the health endpoints and `/metrics` every function serves
//! (`apsis_function_kit::Server`).

use std::path::PathBuf;
use std::sync::Arc;

use apsis_function_kit::{RenderFn, Server};
use axum::Router;
use tokio::sync::Semaphore;
use tracing::info;

use crate::help::HelpCache;
use crate::paths::Confinement;
use crate::run::Settings;
use crate::{Error, Options};

/// A running otbcli function: [`Handle::shutdown`] stops accepting requests and waits for the runs in progress to
/// answer.
pub type Handle = Server;

/// What every request handler shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) confinement: Arc<Confinement>,
    pub(crate) bin_dir: Arc<PathBuf>,
    pub(crate) run: Settings,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) help: Arc<HelpCache>,
}

/// The otbcli function's server.
#[derive(Debug)]
pub struct Service;

impl Service {
    /// Binds `options.common.listen` and serves until [`Handle::shutdown`]. `render`: `None` answers `/metrics`
    /// with 404.
    pub async fn start(options: Options, render: Option<RenderFn>) -> Result<Handle, Error> {
        let shared = Shared {
            confinement: Arc::new(Confinement {
                roots: options.data_roots.clone(),
                allowed_vsi: options.allowed_vsi.clone(),
            }),
            bin_dir: Arc::new(options.otb_bin_dir.clone()),
            run: Settings {
                workdir: options.data_roots.workdir().to_owned(),
                gdal_cachemax_mb: options.gdal_cachemax_mb,
                otb_ram_mb: options.otb_ram_mb,
                timeout: options.timeout,
            },
            slots: Arc::new(Semaphore::new(options.max_concurrent)),
            help: Arc::new(HelpCache::default()),
        };
        let app = Router::new()
            .fallback(crate::handler::handle)
            .with_state(shared);
        let server = Server::start(options.common.listen, app, render).await?;
        info!(address = %server.local_addr(), roots = %options.data_roots.to_display(), "otbcli function listening");
        Ok(server)
    }
}
