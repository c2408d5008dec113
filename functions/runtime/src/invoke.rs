//! Handing one request to a function's process and reading its whole answer, under the function's limits.
//!
//! Outcomes follow of-watchdog in `http` mode and the OpenFaaS gateway: the function's own status, headers and body;
//! 503 when its process cannot be reached (down, restarting, or the connection broke); 504 when it did not answer
//! within `exec_timeout`; 429 when `max_inflight` requests are already in flight (synchronous calls only: the
//! asynchronous queue waits for a free slot instead, as a queue-worker with that `max_inflight` would).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::definitions::FunctionSpec;
use crate::headers::without_hop_by_hop;
use crate::metrics;
use crate::process::Upstream;

/// A function as the gateway sees it: its definition, its process and its counters.
#[derive(Debug)]
pub(crate) struct Function {
    pub(crate) spec: Arc<FunctionSpec>,
    pub(crate) upstream: watch::Receiver<Upstream>,
    limiter: Option<Arc<Semaphore>>,
    pub(crate) invocations: AtomicU64,
    pub(crate) queued: AtomicUsize,
}

/// One request for a function.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub(crate) method: Method,
    /// Path below the function (`""` or `/...`) with its query (`?...`), if any.
    pub(crate) path_and_query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// How an invocation ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The function answered (any status).
    Answered {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    /// 503: the process could not be reached.
    Unreachable(String),
    /// 504: no answer within `exec_timeout`.
    TimedOut(Duration),
}

impl Outcome {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Outcome::Answered { status, .. } => *status,
            Outcome::Unreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Outcome::TimedOut(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// A slot in the function's `max_inflight`, released on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Function {
    pub(crate) fn new(spec: Arc<FunctionSpec>, upstream: watch::Receiver<Upstream>) -> Self {
        Function {
            limiter: spec.max_inflight.map(|n| Arc::new(Semaphore::new(n))),
            spec,
            upstream,
            invocations: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
        }
    }

    /// A slot now, or `None` when `max_inflight` are in flight (the caller answers 429).
    pub(crate) fn try_slot(&self) -> Option<Slot> {
        match &self.limiter {
            None => Some(Slot { _permit: None }),
            Some(limiter) => limiter
                .clone()
                .try_acquire_owned()
                .ok()
                .map(|p| Slot { _permit: Some(p) }),
        }
    }

    /// A slot, waiting for one (the asynchronous queue).
    pub(crate) async fn slot(&self) -> Slot {
        match &self.limiter {
            None => Slot { _permit: None },
            Some(limiter) => Slot {
                _permit: limiter.clone().acquire_owned().await.ok(),
            },
        }
    }

    /// The process's address, waiting while it starts (at most `start_timeout`); `None` while it is down.
    async fn address(&self) -> Option<SocketAddr> {
        let mut upstream = self.upstream.clone();
        let settled = async {
            match *upstream.wait_for(|u| *u != Upstream::Starting).await.ok()? {
                Upstream::Up { address, .. } => Some(address),
                _ => None,
            }
        };
        tokio::time::timeout(self.spec.start_timeout, settled)
            .await
            .ok()
            .flatten()
    }

    /// Sends `invocation` to the process and reads the whole answer; the caller holds a [`Slot`].
    pub(crate) async fn invoke(
        &self,
        client: &reqwest::Client,
        invocation: Invocation,
        mode: &'static str,
        _slot: &Slot,
    ) -> (Outcome, Duration) {
        let name = &self.spec.name;
        self.invocations.fetch_add(1, Ordering::Relaxed);
        metrics::in_flight(name, 1.0);
        let started = Instant::now();
        let outcome = match self.address().await {
            None => Outcome::Unreachable(format!(
                "Expected function '{name}' to be running, but its process is down"
            )),
            Some(address) => {
                let call = forward(client, address, invocation);
                match self.spec.exec_timeout {
                    None => call.await,
                    Some(limit) => tokio::time::timeout(limit, call)
                        .await
                        .unwrap_or(Outcome::TimedOut(limit)),
                }
            }
        };
        let took = started.elapsed();
        metrics::in_flight(name, -1.0);
        metrics::invocation(name, mode, outcome.status().as_u16(), took);
        (outcome, took)
    }
}

async fn forward(client: &reqwest::Client, address: SocketAddr, invocation: Invocation) -> Outcome {
    let url = format!("http://{address}{}", invocation.path_and_query);
    let sent = client
        .request(invocation.method, url)
        .headers(without_hop_by_hop(&invocation.headers))
        .body(invocation.body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => {
            return Outcome::Unreachable(format!(
                "Expected to reach the function at {address}, but {}",
                crate::error::chain(&e)
            ))
        }
    };
    let status = response.status();
    let headers = without_hop_by_hop(response.headers());
    match response.bytes().await {
        Ok(body) => Outcome::Answered {
            status,
            headers,
            body,
        },
        Err(e) => Outcome::Unreachable(format!(
            "Expected to read the function's answer from {address}, but {}",
            crate::error::chain(&e)
        )),
    }
}
