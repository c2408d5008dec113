//! The asynchronous side: one queue per function, drained by a queue-worker whose concurrency is the function's
//! `max_inflight` (no limit without one), each call ending in a callback.
//!
//! Shutdown (decided here, documented in the README): the gateway stops accepting first; calls already running get
//! up to the grace period to finish and send their callbacks; calls still queued are not started and get a callback
//! with `X-Function-Status: 503` and an empty body at once (as if the function could not be reached), so that a
//! waiting worker learns of it now rather than at its deadline. Calls still running after the grace are abandoned
//! (logged); their callers' deadlines catch them.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{info, warn};
use url::Url;

use crate::callback::{self, Report};
use crate::invoke::{Function, Invocation, Outcome};
use crate::metrics;
use crate::process::stopped;

/// One accepted asynchronous call.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) call: Call,
    pub(crate) invocation: Invocation,
}

/// Who asked for a call and where its result goes.
#[derive(Debug)]
pub(crate) struct Call {
    /// The function name as called (`name` or `name.namespace`).
    pub(crate) called_as: String,
    pub(crate) call_id: String,
    pub(crate) callback: Option<Url>,
}

/// The sending end; the gateway pushes accepted calls here.
#[derive(Debug, Clone)]
pub(crate) struct Queue {
    function: Arc<Function>,
    sender: mpsc::UnboundedSender<Job>,
}

impl Queue {
    /// Queues `job`; `Err` when the queue has stopped (the runtime is shutting down).
    pub(crate) fn push(&self, job: Job) -> Result<(), Stopped> {
        self.function.queued.fetch_add(1, Ordering::Relaxed);
        metrics::queue_depth(
            &self.function.spec.name,
            self.function.queued.load(Ordering::Relaxed),
        );
        self.sender.send(job).map_err(|_| {
            self.function.queued.fetch_sub(1, Ordering::Relaxed);
            Stopped
        })
    }
}

/// The queue takes no more calls.
#[derive(Debug)]
pub(crate) struct Stopped;

/// Starts the queue-worker of `function`; it stops taking calls when `stop` turns true and ends within `grace`.
pub(crate) fn start(
    function: Arc<Function>,
    client: reqwest::Client,
    stop: watch::Receiver<bool>,
    grace: Duration,
) -> (Queue, JoinHandle<()>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let queue = Queue {
        function: function.clone(),
        sender,
    };
    let task = tokio::spawn(work(function, client, receiver, stop, grace));
    (queue, task)
}

async fn work(
    function: Arc<Function>,
    client: reqwest::Client,
    mut receiver: mpsc::UnboundedReceiver<Job>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            Some(_) = running.join_next(), if !running.is_empty() => {}
            job = receiver.recv() => {
                let Some(job) = job else { break };
                let slot = tokio::select! {
                    slot = function.slot() => slot,
                    _ = stopped(&mut stop) => {
                        running.spawn(cancel(function.clone(), client.clone(), job));
                        break;
                    }
                };
                dequeued(&function);
                let (function, client) = (function.clone(), client.clone());
                running.spawn(async move {
                    let (outcome, duration) = function.invoke(&client, job.invocation, "async", &slot).await;
                    drop(slot);
                    finish(&client, &job.call, outcome, duration).await;
                });
            }
        }
    }
    receiver.close();
    while let Ok(job) = receiver.try_recv() {
        running.spawn(cancel(function.clone(), client.clone(), job));
    }
    let drained = tokio::time::timeout(grace, async {
        while running.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        warn!(function = %function.spec.name, call_id = "", abandoned = running.len(),
            "Expected the running calls to end within the shutdown grace of {grace:?}, but some did not; abandoning them");
        running.abort_all();
    }
}

fn dequeued(function: &Function) {
    function.queued.fetch_sub(1, Ordering::Relaxed);
    metrics::queue_depth(&function.spec.name, function.queued.load(Ordering::Relaxed));
}

/// A queued call that will not run: its callback says 503 at once.
async fn cancel(function: Arc<Function>, client: reqwest::Client, job: Job) {
    dequeued(&function);
    info!(function = %job.call.called_as, call_id = %job.call.call_id, "runtime stopping: queued call not started");
    let outcome = Outcome::Unreachable("the runtime is stopping".to_string());
    finish(&client, &job.call, outcome, Duration::ZERO).await;
}

async fn finish(client: &reqwest::Client, call: &Call, outcome: Outcome, duration: Duration) {
    let (function, call_id) = (call.called_as.as_str(), call.call_id.as_str());
    let status = outcome.status().as_u16();
    info!(
        function,
        call_id,
        status,
        duration_seconds = duration.as_secs_f64(),
        "async call ended"
    );
    if let Some(url) = &call.callback {
        let report = Report {
            url,
            call_id,
            function,
            outcome,
            duration,
        };
        callback::deliver(client, report).await;
    }
}
