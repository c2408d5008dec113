//! The worker's gateway commands (CompleteJob, FailJob, UpdateJobTimeout), each judged by
//! [`outcome::settle`] and sent again after a backoff while the gateway refuses it for a passing reason
//! (`apsis_client::retry::is_transient`; these commands are idempotent: a second completion is NOT_FOUND).

use std::time::Duration;

use apsis_proto::gateway_protocol as pb;
use tracing::{debug, warn};

use super::Shared;
use crate::metrics;
use crate::outcome::{self, Command, CompleteJob, FailJob, Settlement};

/// Sending one command at most this many times.
const ATTEMPTS: u32 = 8;
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(5);

impl Shared {
    pub(crate) async fn complete(&self, c: &CompleteJob) -> Settlement {
        let request = pb::CompleteJobRequest {
            job_key: c.job_key,
            variables: c.variables.to_string(),
            result: None,
        };
        self.send(Command::CompleteJob, || {
            let mut client = self.client.clone();
            let request = request.clone();
            async move { client.complete_job(request).await.map(|_| ()) }
        })
        .await
    }

    pub(crate) async fn fail(&self, f: &FailJob) -> Settlement {
        let request = pb::FailJobRequest {
            job_key: f.job_key,
            retries: f.retries,
            error_message: f.error_message.clone(),
            retry_back_off: f.retry_backoff.as_millis() as i64,
            variables: String::new(),
        };
        self.send(Command::FailJob, || {
            let mut client = self.client.clone();
            let request = request.clone();
            async move { client.fail_job(request).await.map(|_| ()) }
        })
        .await
    }

    pub(crate) async fn update_timeout(&self, job_key: i64, timeout: Duration) -> Settlement {
        let request = pb::UpdateJobTimeoutRequest {
            job_key,
            timeout: timeout.as_millis() as i64,
            operation_reference: None,
        };
        self.send(Command::UpdateJobTimeout, || {
            let mut client = self.client.clone();
            async move { client.update_job_timeout(request).await.map(|_| ()) }
        })
        .await
    }

    async fn send<F, Fut>(&self, command: Command, call: F) -> Settlement
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), tonic::Status>>,
    {
        let name = name(command);
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=ATTEMPTS {
            let (code, status) = match call().await {
                Ok(()) => (outcome::code::OK, None),
                Err(s) => (s.code() as i32, Some(s)),
            };
            match outcome::settle(command, code) {
                Settlement::Failed => {}
                settled => {
                    if settled == Settlement::AlreadyDone {
                        debug!(
                            command = name,
                            "job already gone: an earlier decision acted"
                        );
                    }
                    return settled;
                }
            }
            let status = status.expect("a failed settlement has a status");
            let transient = apsis_client::retry::is_transient(status.code(), true);
            if !transient || attempt == ATTEMPTS {
                metrics::gateway_error(name);
                warn!(command = name, code = ?status.code(), message = status.message(), attempt,
                    "Expected the gateway to accept {name}, but it refused");
                return Settlement::Failed;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
        Settlement::Failed
    }
}

fn name(command: Command) -> &'static str {
    match command {
        Command::CompleteJob => "CompleteJob",
        Command::FailJob => "FailJob",
        Command::UpdateJobTimeout => "UpdateJobTimeout",
        Command::PublishMessage => "PublishMessage",
    }
}
