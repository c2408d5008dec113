//! Getting jobs: a StreamActivatedJobs stream and a long-polling ActivateJobs loop per job type (see the module
//! above for why both and how they share the in-flight permits). Both end when the shutdown begins.

use std::sync::Arc;
use std::time::{Duration, Instant};

use apsis_proto::gateway_protocol as pb;
use tracing::{debug, warn};

use super::{job, Shared};
use crate::metrics;

const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(10);
/// The most jobs one poll asks for, whatever the free permits.
const MAX_PER_POLL: usize = 256;

/// A reconnect backoff: doubles after each failure, back to the start after a success.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(FIRST_PAUSE)
    }

    async fn wait(&mut self, shared: &Shared) {
        tokio::select! {
            _ = tokio::time::sleep(self.0) => {}
            _ = shared.until_stopped() => {}
        }
        self.0 = (self.0 * 2).min(MAX_PAUSE);
    }

    fn reset(&mut self) {
        self.0 = FIRST_PAUSE;
    }
}

/// One StreamActivatedJobs stream of `job_type`, reopened after every error until the shutdown.
pub(super) async fn stream(shared: Arc<Shared>, job_type: String) {
    let mut backoff = Backoff::new();
    while !shared.stopped() {
        let mut client = shared.client.clone();
        let request = pb::StreamActivatedJobsRequest {
            r#type: job_type.clone(),
            worker: shared.options.worker_name.clone(),
            timeout: shared.options.activation_timeout.as_millis() as i64,
            fetch_variable: vec![],
            tenant_ids: vec![],
        };
        let opened = tokio::select! {
            opened = client.stream_activated_jobs(request) => opened,
            _ = shared.until_stopped() => return,
        };
        let mut jobs = match opened {
            Ok(response) => response.into_inner(),
            Err(status) => {
                warn!(job_type = %job_type, code = ?status.code(), message = status.message(),
                    "Expected to open a job stream, but the gateway refused; retrying");
                backoff.wait(&shared).await;
                continue;
            }
        };
        debug!(job_type = %job_type, "job stream open");
        loop {
            let next = tokio::select! {
                next = jobs.message() => next,
                _ = shared.until_stopped() => return,
            };
            match next {
                Ok(Some(activated)) => {
                    backoff.reset();
                    take(&shared, activated, &job_type).await;
                }
                Ok(None) => break,
                Err(status) => {
                    warn!(job_type = %job_type, code = ?status.code(), message = status.message(),
                        "job stream closed; reopening");
                    break;
                }
            }
        }
        backoff.wait(&shared).await;
    }
}

/// One long-polling ActivateJobs loop of `job_type`: asks for as many jobs as there are free permits, and when
/// there are none waits for one to come free first.
pub(super) async fn poll(shared: Arc<Shared>, job_type: String) {
    let mut backoff = Backoff::new();
    while !shared.stopped() {
        let free = shared.permits.available_permits();
        if free == 0 {
            tokio::select! {
                permit = shared.permits.clone().acquire_owned() => drop(permit),
                _ = shared.until_stopped() => return,
            }
            continue;
        }
        let mut client = shared.client.clone();
        let request = pb::ActivateJobsRequest {
            r#type: job_type.clone(),
            worker: shared.options.worker_name.clone(),
            timeout: shared.options.activation_timeout.as_millis() as i64,
            max_jobs_to_activate: free.min(MAX_PER_POLL) as i32,
            fetch_variable: vec![],
            request_timeout: shared.options.poll_request_timeout.as_millis() as i64,
            tenant_ids: vec![],
        };
        let answered = tokio::select! {
            answered = client.activate_jobs(request) => answered,
            _ = shared.until_stopped() => return,
        };
        let mut batches = match answered {
            Ok(response) => response.into_inner(),
            Err(status) => {
                warn!(job_type = %job_type, code = ?status.code(), message = status.message(),
                    "Expected to activate jobs, but the gateway refused; retrying");
                backoff.wait(&shared).await;
                continue;
            }
        };
        let mut failed = false;
        loop {
            match batches.message().await {
                Ok(Some(batch)) => {
                    for activated in batch.jobs {
                        take(&shared, activated, &job_type).await;
                    }
                }
                Ok(None) => break,
                Err(status) => {
                    warn!(job_type = %job_type, code = ?status.code(), message = status.message(),
                        "job activation interrupted; retrying");
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            backoff.wait(&shared).await;
        } else {
            backoff.reset();
        }
    }
}

/// Starts work on a job once a permit is free (see the module above); during a shutdown, gives it back.
async fn take(shared: &Arc<Shared>, activated: pb::ActivatedJob, job_type: &str) {
    let received = Instant::now();
    metrics::activated(job_type);
    let permit = tokio::select! {
        permit = shared.permits.clone().acquire_owned() => permit.ok(),
        _ = shared.until_stopped() => None,
    };
    match permit {
        Some(permit) => {
            tokio::spawn(job::run(shared.clone(), activated, permit, received));
        }
        // Awaited here, so that the shutdown, which waits for this loop, waits for it too.
        None => job::give_back(shared, &activated).await,
    }
}
