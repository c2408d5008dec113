//! Carrying out a callback's decision through the Zeebe gateway: one command (PublishMessage, CompleteJob or
//! FailJob), sent again on transient failures (UNAVAILABLE, RESOURCE_EXHAUSTED, a timeout, no connection yet) with
//! a doubling, jittered backoff for a bounded time, and judged by `outcome::settle` (ALREADY_EXISTS on a publish and
//! NOT_FOUND on a completion or failure mean an earlier duplicate already acted).
//!
//! The connection is made on first use and kept (tonic reconnects a dropped channel by itself), so callback-ack
//! starts, and answers callbacks, while the engine is still down; the commands wait for it within the retry time.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apsis_client::{ClientOptions, Gateway};
use apsis_proto as pb;
use apsis_worker_faas::outcome::{self, Command, Jitter, Policy, Settlement};
use tonic::Code;
use tracing::warn;

use crate::metrics;

/// How long one gateway call may take before it counts as DEADLINE_EXCEEDED (and is sent again).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// One gateway command, from a callback's decision.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Publish(outcome::PublishMessage),
    Complete(outcome::CompleteJob),
    Fail(outcome::FailJob),
}

impl Action {
    fn command(&self) -> Command {
        match self {
            Action::Publish(_) => Command::PublishMessage,
            Action::Complete(_) => Command::CompleteJob,
            Action::Fail(_) => Command::FailJob,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Action::Publish(_) => "publish_message",
            Action::Complete(_) => "complete_job",
            Action::Fail(_) => "fail_job",
        }
    }
}

/// Why an action was not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ActError {
    /// The gateway answered with a final refusal (INVALID_ARGUMENT, FAILED_PRECONDITION, PERMISSION_DENIED...),
    /// or the connection settings cannot work (TLS, credentials refused).
    Refused { reason: String },
    /// Still transient when the retry time ran out.
    GaveUp { after: Duration, last: String },
}

impl std::fmt::Display for ActError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActError::Refused { reason } => write!(f, "the gateway refused it: {reason}"),
            ActError::GaveUp { after, last } => {
                write!(f, "it still failed after retrying for {after:?}: {last}")
            }
        }
    }
}

enum AttemptError {
    Status(tonic::Status),
    Connect(apsis_client::Error),
}

/// The gateway, connected on first use.
#[derive(Debug)]
pub(crate) struct Zeebe {
    options: ClientOptions,
    client: tokio::sync::Mutex<Option<Gateway>>,
    retry_for: Duration,
}

impl Zeebe {
    pub(crate) fn new(options: ClientOptions, retry_for: Duration) -> Zeebe {
        Zeebe {
            options,
            client: tokio::sync::Mutex::new(None),
            retry_for,
        }
    }

    /// Carries out `action`, retrying transient failures for at most the retry time.
    pub(crate) async fn carry_out(&self, action: &Action) -> Result<Settlement, ActError> {
        let started = Instant::now();
        let backoff = Policy {
            invoke_initial_backoff: FIRST_PAUSE,
            invoke_max_backoff: LONGEST_PAUSE,
            ..Policy::default()
        };
        for attempt in 1.. {
            let last = match self.once(action).await {
                Ok(()) => return Ok(Settlement::Done),
                Err(AttemptError::Status(status)) => {
                    match outcome::settle(action.command(), status.code() as i32) {
                        Settlement::Failed => {}
                        settled => return Ok(settled),
                    }
                    let reason = format!("{:?}: {}", status.code(), status.message());
                    if !apsis_client::retry::is_transient(status.code(), true) {
                        return Err(ActError::Refused { reason });
                    }
                    reason
                }
                Err(AttemptError::Connect(e)) => {
                    let transient = matches!(
                        e,
                        apsis_client::Error::Connect { .. }
                            | apsis_client::Error::ConnectTimeout { .. }
                            | apsis_client::Error::TokenRequest { .. }
                    );
                    if !transient {
                        return Err(ActError::Refused {
                            reason: e.to_string(),
                        });
                    }
                    e.to_string()
                }
            };
            let pause = outcome::backoff(attempt, &backoff, Jitter::Equal(jitter()));
            if started.elapsed() + pause > self.retry_for {
                return Err(ActError::GaveUp {
                    after: started.elapsed(),
                    last,
                });
            }
            warn!(
                command = action.name(),
                attempt,
                retry_in_ms = pause.as_millis() as u64,
                "Expected the gateway to take the command, but {last}; retrying"
            );
            tokio::time::sleep(pause).await;
        }
        unreachable!("the attempts loop only ends by returning")
    }

    async fn once(&self, action: &Action) -> Result<(), AttemptError> {
        let started = Instant::now();
        let client = match self.client().await {
            Ok(client) => client,
            Err(e) => {
                metrics::gateway_call(action.name(), "connect".to_owned(), started.elapsed());
                return Err(AttemptError::Connect(e));
            }
        };
        let result = match tokio::time::timeout(CALL_TIMEOUT, send(client, action)).await {
            Ok(result) => result,
            Err(_) => Err(tonic::Status::deadline_exceeded(format!(
                "no answer within {CALL_TIMEOUT:?}"
            ))),
        };
        let code = result.as_ref().err().map_or(Code::Ok, |s| s.code());
        metrics::gateway_call(action.name(), format!("{code:?}"), started.elapsed());
        result.map_err(AttemptError::Status)
    }

    async fn client(&self) -> Result<Gateway, apsis_client::Error> {
        // Held while connecting: one connection attempt at a time, not one per waiting callback.
        let mut client = self.client.lock().await;
        if let Some(connected) = client.as_ref() {
            return Ok(connected.clone());
        }
        let connected = apsis_client::connect(&self.options).await?;
        *client = Some(connected.clone());
        Ok(connected)
    }
}

async fn send(mut client: Gateway, action: &Action) -> Result<(), tonic::Status> {
    match action {
        Action::Publish(p) => client
            .publish_message(pb::PublishMessageRequest {
                name: p.name.clone(),
                correlation_key: p.correlation_key.clone(),
                time_to_live: p.ttl.as_millis().min(i64::MAX as u128) as i64,
                message_id: p.message_id.clone(),
                variables: p.variables.to_string(),
                tenant_id: String::new(),
            })
            .await
            .map(drop),
        Action::Complete(c) => client
            .complete_job(pb::CompleteJobRequest {
                job_key: c.job_key,
                variables: c.variables.to_string(),
                result: None,
            })
            .await
            .map(drop),
        Action::Fail(f) => client
            .fail_job(pb::FailJobRequest {
                job_key: f.job_key,
                retries: f.retries,
                error_message: f.error_message.clone(),
                retry_back_off: f.retry_backoff.as_millis().min(i64::MAX as u128) as i64,
                variables: String::new(),
            })
            .await
            .map(drop),
    }
}

/// A number in [0, 1) that differs between callers, so that callbacks waiting for the same gateway do not retry
/// in step. Not for anything that needs real randomness.
fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1000) / 1000.0
}
