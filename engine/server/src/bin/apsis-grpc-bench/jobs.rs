//! The benchmark's job workers: StreamActivatedJobs workers plus one long-polling ActivateJobs worker, as Zeebe's
//! streaming job workers do (jobs that became activatable while every stream was full stay in the pool: they are
//! pushed only at the moment they become activatable). Both reconnect after an error, so they survive an engine
//! restart; what happens to each completion is the caller's [`Outcomes`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apsis_proto as pb;
use pb::gateway_client::GatewayClient;
use tonic::transport::Channel;

pub const JOB_TYPE: &str = "bench-task";
/// Pause before reconnecting a stream or a poll that failed (the engine is down or restarting).
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

/// What the workers report; implemented by the plain benchmark (latency samples) and the SIGKILL run (a ledger).
pub trait Outcomes: Send + Sync + 'static {
    /// The variables to complete `job` with.
    fn variables(&self, job: &pb::ActivatedJob) -> String;
    /// A completion answered. `pushed`: the job came through a stream (not a poll).
    fn completed(
        &self,
        job: &pb::ActivatedJob,
        pushed: bool,
        received: Instant,
        result: Result<(), tonic::Status>,
    );
}

/// The workers' shared settings.
#[derive(Clone)]
pub struct Workers {
    pub client: GatewayClient<Channel>,
    pub timeout_ms: i64,
    pub outcomes: Arc<dyn Outcomes>,
    /// Completions sent and not answered yet.
    pub in_flight: Arc<AtomicI64>,
}

impl Workers {
    /// Completes `job` on a task of its own, so the stream keeps being read.
    fn complete(&self, job: pb::ActivatedJob, pushed: bool, received: Instant) {
        let mut client = self.client.clone();
        let outcomes = self.outcomes.clone();
        let in_flight = self.in_flight.clone();
        in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let result = client
                .complete_job(pb::CompleteJobRequest {
                    job_key: job.key,
                    variables: outcomes.variables(&job),
                    result: None,
                })
                .await
                .map(|_| ());
            outcomes.completed(&job, pushed, received, result);
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// A StreamActivatedJobs worker; runs until aborted.
    pub async fn stream(self, name: String) {
        loop {
            let mut client = self.client.clone();
            let opened = client
                .stream_activated_jobs(pb::StreamActivatedJobsRequest {
                    r#type: JOB_TYPE.into(),
                    worker: name.clone(),
                    timeout: self.timeout_ms,
                    fetch_variable: vec![],
                    tenant_ids: vec![],
                })
                .await;
            if let Ok(stream) = opened {
                let mut stream = stream.into_inner();
                // `message()` is not cancel-safe: read without timeouts; the task is aborted when the run is over.
                while let Ok(Some(job)) = stream.message().await {
                    self.complete(job, true, Instant::now());
                }
            }
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
    }

    /// A long-polling ActivateJobs worker; runs until aborted.
    pub async fn poll(self, name: String) {
        let mut client = self.client.clone();
        loop {
            let request = pb::ActivateJobsRequest {
                r#type: JOB_TYPE.into(),
                worker: name.clone(),
                timeout: self.timeout_ms,
                max_jobs_to_activate: 256,
                request_timeout: 1_000,
                ..Default::default()
            };
            let Ok(response) = client.activate_jobs(request).await else {
                tokio::time::sleep(RECONNECT_PAUSE).await;
                continue;
            };
            let mut batches = response.into_inner();
            while let Ok(Some(batch)) = batches.message().await {
                for job in batch.jobs {
                    self.complete(job, false, Instant::now());
                }
            }
        }
    }

    /// Waits until no completion is in flight (the workers must be stopped first), at most `bound`.
    pub async fn settle(&self, bound: Duration) {
        let deadline = Instant::now() + bound;
        while self.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
