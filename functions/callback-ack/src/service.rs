//! Options -> [`Service`] -> [`Handle`]: binds the listen address and serves the callback endpoint, with the health
//! endpoints and `/metrics` every function serves (`apsis_function_kit::Server`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use apsis_function_kit::{RenderFn, Server, Stop};
use apsis_worker_faas::outcome::Policy;
use apsis_worker_faas::token::CallbackKey;
use axum::Router;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::gateway::Zeebe;
use crate::seen::Seen;
use crate::{Error, Options};

/// How long a shutdown on a signal waits for callbacks being acted on.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
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
}

/// The callback-ack server.
#[derive(Debug)]
pub struct Service;

impl Service {
    /// Binds `options.common.listen` and serves until [`Handle::shutdown`]. `render`: `None` answers `/metrics`
    /// with 404.
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
        };
        let app = Router::new()
            .fallback(crate::handler::callback)
            .with_state(shared);
        let server = Server::start(options.common.listen, app, render).await?;
        info!(address = %server.local_addr(), act_before_answer = options.act_before_answer, "callback-ack listening");
        Ok(Handle { server, tracker })
    }
}

/// A running [`Service`].
#[derive(Debug)]
pub struct Handle {
    server: Server,
    tracker: TaskTracker,
}

impl Handle {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Stops accepting callbacks, then waits at most `grace` for the ones being acted on in the background (a
    /// callback cut short here is caught by its call's deadline, like a lost one).
    pub async fn shutdown(self, grace: Duration) -> Result<(), Error> {
        let served = self.server.shutdown().await;
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
        Ok(served?)
    }
}

/// On a signal: [`Handle::shutdown`] with [`SHUTDOWN_GRACE`].
impl Stop for Handle {
    type Error = Error;
    fn stop(self) -> impl std::future::Future<Output = Result<(), Error>> {
        self.shutdown(SHUTDOWN_GRACE)
    }
}
