//! The job loop: Options -> [`Service::start`] -> [`Handle`].
//!
//! - Per job type, one StreamActivatedJobs stream (jobs pushed the moment they become activatable) and one
//!   long-polling ActivateJobs loop (jobs that were activatable before the stream opened, or while it was full:
//!   a stream only gets jobs at the moment they become activatable). Both reconnect with a backoff after an error
//!   (UNAVAILABLE, RESOURCE_EXHAUSTED, a lost connection), so the worker outlives a gateway restart.
//! - **In flight**: a job holds one of `max_jobs_in_flight` permits from the moment the worker starts on it until
//!   it has completed it (receive-task), failed it, or handed it to callback-ack (hold mode: invoked and its
//!   timeout extended). A held job then only waits for its deadline on a timer and does not count: the function's
//!   concurrency is OpenFaaS's to bound (its queue), and counting held jobs would let 32 two-hour OTB runs stop the
//!   worker from starting anything else. They show as `apsis_worker_jobs_awaiting_callback`.
//!   The poll asks for at most the free permits; a stream's job that arrives while every permit is taken waits in
//!   hand for one (one per stream; then the stream's buffer fills and the gateway stops pushing to it).
//! - **Hold-mode deadline**: when the callback deadline passes, [`crate::outcome::on_deadline`] fails the job
//!   (NOT_FOUND: callback-ack already completed or failed it, fine). A job activated again by this worker cancels
//!   its earlier deadline. Held deadlines live in memory: after a restart the job's extended Zeebe timeout
//!   (deadline + 60 s) makes it activatable again and it runs again, retries unchanged.
//! - **Shutdown** ([`Handle::shutdown`]): stop activating (streams and polls close), let invocations in progress
//!   finish within the grace period, then stop. A job received but not started yet is failed back with its retries
//!   unchanged and no backoff, so another worker takes it at once instead of after its activation timeout; jobs
//!   still running after the grace are left to their Zeebe timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apsis_client::{ClientOptions, Gateway};
use tokio::sync::{watch, Semaphore};
use tracing::{info, warn};

use crate::backend::Backends;
use crate::config::Config;
use crate::outcome::Policy;
use crate::token::CallbackKey;
use crate::Error;

mod activate;
mod gateway;
mod job;
mod kubernetes;

/// What the job loop needs.
#[derive(Debug, Clone)]
pub struct Options {
    pub gateway: ClientOptions,
    pub job_types: Vec<String>,
    pub worker_name: String,
    pub max_jobs_in_flight: usize,
    pub activation_timeout: Duration,
    pub poll_request_timeout: Duration,
    pub callback_url: String,
    pub callback_key: CallbackKey,
    pub policy: Policy,
    pub backends: Backends,
}

impl Options {
    pub fn from_config(config: &Config) -> Result<Options, Error> {
        Ok(Options {
            gateway: config.gateway.clone(),
            job_types: config.job_types.clone(),
            worker_name: config.worker_name.clone(),
            max_jobs_in_flight: config.max_jobs_in_flight,
            activation_timeout: config.activation_timeout,
            poll_request_timeout: config.poll_request_timeout,
            callback_url: config.callback_url.clone(),
            callback_key: config.callback_key.clone(),
            policy: config.policy.clone(),
            backends: Backends::new(
                &config.openfaas_url,
                &config.local_url,
                &config.kubernetes,
                &config.policy,
            )?,
        })
    }
}

/// State shared by the loops and the jobs.
#[derive(Debug)]
pub(crate) struct Shared {
    options: Options,
    client: Gateway,
    permits: Arc<Semaphore>,
    /// Hold-mode deadlines by job key.
    held: Mutex<HashMap<i64, tokio::task::AbortHandle>>,
    stopping: watch::Receiver<bool>,
}

impl Shared {
    fn stopped(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once a shutdown begins.
    async fn until_stopped(&self) {
        let mut s = self.stopping.clone();
        let _ = s.wait_for(|s| *s).await;
    }
}

/// The worker service.
#[derive(Debug)]
pub struct Service;

/// A running worker.
#[derive(Debug)]
pub struct Handle {
    stop: watch::Sender<bool>,
    loops: Vec<tokio::task::JoinHandle<()>>,
    shared: Arc<Shared>,
    /// True while connected and activating: `/ready`.
    pub ready: Arc<AtomicBool>,
}

impl Service {
    /// Connects to the gateway and starts the loops, then sets `ready`. Fails only on settings that cannot work (a
    /// bad address or CA file, refused credentials); a gateway that does not answer yet is waited for, with a
    /// backoff (drop the future to give up).
    pub async fn start(options: Options, ready: Arc<AtomicBool>) -> Result<Handle, Error> {
        let client = connect(&options.gateway).await?;
        let (stop, stopping) = watch::channel(false);
        let shared = Arc::new(Shared {
            permits: Arc::new(Semaphore::new(options.max_jobs_in_flight)),
            options,
            client,
            held: Mutex::new(HashMap::new()),
            stopping,
        });
        let mut loops = Vec::new();
        for job_type in &shared.options.job_types {
            loops.push(tokio::spawn(activate::stream(
                shared.clone(),
                job_type.clone(),
            )));
            loops.push(tokio::spawn(activate::poll(
                shared.clone(),
                job_type.clone(),
            )));
        }
        info!(
            job_types = ?shared.options.job_types,
            worker = %shared.options.worker_name,
            max_jobs_in_flight = shared.options.max_jobs_in_flight,
            "apsis-worker-faas activating jobs"
        );
        ready.store(true, Ordering::SeqCst);
        Ok(Handle {
            stop,
            loops,
            shared,
            ready,
        })
    }
}

/// Connects, waiting for a gateway that is not up yet; settings that cannot work fail at once.
async fn connect(options: &ClientOptions) -> Result<Gateway, Error> {
    let mut pause = Duration::from_millis(100);
    loop {
        match apsis_client::connect(options).await {
            Ok(client) => return Ok(client),
            Err(
                e @ (apsis_client::Error::Connect { .. }
                | apsis_client::Error::ConnectTimeout { .. }
                | apsis_client::Error::TokenRequest { .. }),
            ) => {
                warn!(error = %e, ?pause, "gateway not reachable yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(Error::Gateway(e)),
        }
    }
}

impl Handle {
    /// Jobs being worked on now.
    pub fn in_flight(&self) -> usize {
        self.shared.options.max_jobs_in_flight - self.shared.permits.available_permits()
    }

    /// Hold-mode jobs waiting for their callback or deadline.
    pub fn awaiting_callback(&self) -> usize {
        self.shared.held.lock().map(|h| h.len()).unwrap_or(0)
    }

    /// Stops activating, waits up to `grace` for the jobs in progress, then stops. Returns the number of jobs
    /// still in progress when the grace ran out (left to their Zeebe timeout).
    pub async fn shutdown(self, grace: Duration) -> usize {
        self.ready.store(false, Ordering::SeqCst);
        let _ = self.stop.send(true);
        for l in self.loops {
            let _ = l.await;
        }
        let deadline = Instant::now() + grace;
        let max = self.shared.options.max_jobs_in_flight;
        while self.shared.permits.available_permits() < max && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = max - self.shared.permits.available_permits();
        if let Ok(mut held) = self.shared.held.lock() {
            for (_, deadline) in held.drain() {
                deadline.abort();
            }
        }
        info!(left, "apsis-worker-faas stopped");
        left
    }
}
