//! Every decision of the worker and of `callback-ack`, as data: the I/O shell turns a decision into one gateway
//! call (PublishMessage, CompleteJob, FailJob) or a wait, and nothing else decides.
//!
//! | event                               | mode          | condition                                  | decision                                 |
//! |-------------------------------------|---------------|--------------------------------------------|------------------------------------------|
//! | gateway accepted the call           | receive-task  |                                            | complete with `{resultVariable: {callId}}` or `{callId}` |
//! | gateway accepted the call           | hold          |                                            | keep the job: its timeout = deadline + grace |
//! | callback                            | any           | Pro attempt with more to come, status retryable (408 429 500 502 503 504) | [`CallbackDecision::AwaitLastAttempt`] |
//! | callback                            | receive-task  | any status                                 | publish `{status, ok, durationSeconds, output}` (under `resultVariable`, with `callId`, if set) |
//! | callback                            | hold          | 2xx                                        | complete (`{resultVariable: output}` or nothing) |
//! | callback                            | hold          | otherwise                                  | fail, retries - 1, the function's error text |
//! | invocation answered                 |               | 2xx (202)                                  | [`InvocationDecision::Accepted`]         |
//! | invocation answered                 |               | 408, 429, 5xx; or no answer (connect error, timeout) | retry after a backoff, then fail, retries - 1 |
//! | invocation answered                 |               | any other status (4xx, 3xx, 1xx)            | fail at once, retries - 1, the gateway's answer |
//! | deadline without callback           | hold          |                                            | fail, retries - 1                        |
//! | task contract or template failure   |               |                                            | incident: fail with retries 0            |
//!
//! In receive-task mode a failed function is published too (`ok = false`): the process decides what a failure
//! means (a gateway after the receive task). A job failed with retries 0 raises an incident.
//!
//! Duplicates ([`settle`]): callbacks are at-least-once, so the same decision may be carried out twice. NOT_FOUND
//! on CompleteJob, FailJob or UpdateJobTimeout (the job is gone: an earlier duplicate completed or failed it, or
//! the instance was cancelled) and ALREADY_EXISTS on PublishMessage (a message with this message id, the call id,
//! is still buffered) mean an earlier attempt already acted: success, nothing more to do.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::callback::{self, CallbackReport};
use crate::failure::Failure;
use crate::task::{Mode, Task};
use crate::token::Claims;

/// Publish the callback's message (receive-task mode).
#[derive(Debug, Clone, PartialEq)]
pub struct PublishMessage {
    pub name: String,
    /// The call id, which the receive task's correlation key `=callId` evaluates to.
    pub correlation_key: String,
    /// The call id again: Zeebe refuses a second message with the same id while the first is buffered.
    pub message_id: String,
    pub ttl: Duration,
    pub variables: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompleteJob {
    pub job_key: i64,
    pub variables: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailJob {
    pub job_key: i64,
    /// 0 raises an incident.
    pub retries: i32,
    pub error_message: String,
    pub retry_backoff: Duration,
}

/// The tunable parts of the decisions. Defaults: 5 invocation attempts, 500 ms doubling up to 30 s between them,
/// a job retry backoff of 30 s, messages kept at least 60 s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub invoke_attempts: u32,
    pub invoke_initial_backoff: Duration,
    pub invoke_max_backoff: Duration,
    /// The backoff of a failed job that still has retries.
    pub job_retry_backoff: Duration,
    /// The shortest TTL of a published message (the token's remaining lifetime when that is longer).
    pub min_message_ttl: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            invoke_attempts: 5,
            invoke_initial_backoff: Duration::from_millis(500),
            invoke_max_backoff: Duration::from_secs(30),
            job_retry_backoff: Duration::from_secs(30),
            min_message_ttl: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallbackDecision {
    Publish(PublishMessage),
    Complete(CompleteJob),
    Fail(FailJob),
    /// OpenFaaS Pro will call the function again: answer this callback and wait for a later one.
    AwaitLastAttempt {
        retry: u32,
        max: u32,
    },
}

/// What to do with a callback whose token verified to `claims` (at `now`, unix seconds).
pub fn on_callback(
    claims: &Claims,
    report: &CallbackReport,
    policy: &Policy,
    now: u64,
) -> CallbackDecision {
    if let Some(attempt) = report.attempt {
        if attempt.more_to_come() && is_retryable(report.status) {
            return CallbackDecision::AwaitLastAttempt {
                retry: attempt.retry,
                max: attempt.max,
            };
        }
    }
    match &claims.mode {
        Mode::ReceiveTask { message_name } => {
            let mut record = json!({
                "status": report.status,
                "ok": report.ok(),
                "durationSeconds": report.duration_seconds,
                "output": report.output,
            });
            if report.output_truncated {
                record["outputTruncated"] = Value::Bool(true);
            }
            if claims.result_variable.is_some() {
                // The whole variable is replaced (Zeebe does not merge objects): keep the call id in it.
                record[CALL_ID_VARIABLE] = Value::String(claims.call_id.clone());
            }
            let remaining = Duration::from_secs(claims.expires_at.saturating_sub(now));
            CallbackDecision::Publish(PublishMessage {
                name: message_name.clone(),
                correlation_key: claims.call_id.clone(),
                message_id: claims.call_id.clone(),
                ttl: remaining.max(policy.min_message_ttl),
                variables: wrap(claims.result_variable.as_deref(), record),
            })
        }
        Mode::Hold if report.ok() => CallbackDecision::Complete(CompleteJob {
            job_key: claims.job_key,
            variables: match &claims.result_variable {
                Some(_) => wrap(claims.result_variable.as_deref(), report.output.clone()),
                None => Value::Object(Map::new()),
            },
        }),
        Mode::Hold => {
            let function = report.function.as_deref().unwrap_or("(unnamed)");
            let duration = report
                .duration_seconds
                .map_or_else(String::new, |d| format!(" after {d} s"));
            let text = if report.error_text.is_empty() {
                format!("no output{}", hint(report.status))
            } else {
                report.error_text.clone()
            };
            CallbackDecision::Fail(fail(
                claims.job_key,
                claims.retries,
                format!(
                    "Expected function '{function}' to succeed, but it answered HTTP {}{duration}: {text}",
                    report.status
                ),
                policy,
            ))
        }
    }
}

/// The field holding the call id, which a receive task correlates on (`=callId` or `=<resultVariable>.callId`).
pub const CALL_ID_VARIABLE: &str = "callId";

/// How much longer than the callback deadline a held job's timeout is, so that the worker's deadline fails the
/// job with a clear message before Zeebe's job timeout would silently hand it to another worker.
pub const HOLD_GRACE: Duration = Duration::from_secs(60);

/// What to do once the gateway accepted the call `call_id`.
#[derive(Debug, Clone, PartialEq)]
pub enum AcceptedDecision {
    /// Receive-task mode: the job is done; the callback's message finishes the step.
    Complete(CompleteJob),
    /// Hold mode: keep the job (UpdateJobTimeout to `job_timeout`) until the callback or the deadline.
    Hold { job_key: i64, job_timeout: Duration },
}

/// `timeout` is the task's callback deadline, measured from now. In receive-task mode the job completes with
/// `{resultVariable: {callId}}` (correlation key `=<resultVariable>.callId`), or `{callId}` without a result
/// variable (correlation key `=callId`).
pub fn on_accepted(
    task: &Task,
    job_key: i64,
    call_id: &str,
    timeout: Duration,
) -> AcceptedDecision {
    match &task.mode {
        Mode::ReceiveTask { .. } => AcceptedDecision::Complete(CompleteJob {
            job_key,
            variables: match &task.result_variable {
                Some(name) => json!({ name: { CALL_ID_VARIABLE: call_id } }),
                None => json!({ CALL_ID_VARIABLE: call_id }),
            },
        }),
        Mode::Hold => AcceptedDecision::Hold {
            job_key,
            job_timeout: timeout.saturating_add(HOLD_GRACE),
        },
    }
}

/// The outcome of one attempt to hand a call to the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationResult {
    Answered {
        status: u16,
        body: String,
    },
    /// No HTTP answer: connection refused, reset, DNS failure, timeout.
    Unreachable {
        reason: String,
    },
}

/// Which attempt this was, for which job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation<'a> {
    pub job_key: i64,
    pub job_retries: i32,
    pub function: &'a str,
    /// 1-based.
    pub attempt: u32,
}

/// Randomness of a backoff, passed in: `None` for the exact exponential value, or `Equal(r)` with `r` in
/// `[0, 1]` for "equal jitter" (half the value, plus `r` times the other half).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    None,
    Equal(f64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationDecision {
    Accepted,
    RetryAfter(Duration),
    Fail(FailJob),
}

pub fn on_invocation(
    invocation: &Invocation<'_>,
    result: &InvocationResult,
    policy: &Policy,
    jitter: Jitter,
) -> InvocationDecision {
    let answer = match result {
        InvocationResult::Answered { status, .. } if (200..300).contains(status) => {
            return InvocationDecision::Accepted
        }
        InvocationResult::Answered { status, body } => {
            let body = callback::tail_text(body.as_bytes(), callback::ERROR_TEXT_LIMIT);
            let answer = format!(
                "HTTP {status}: {}",
                if body.is_empty() { "(empty)" } else { &body }
            );
            if !is_retryable(*status) {
                return fail_invocation(invocation, answer, policy);
            }
            answer
        }
        InvocationResult::Unreachable { reason } => format!("no answer ({reason})"),
    };
    if invocation.attempt < policy.invoke_attempts {
        InvocationDecision::RetryAfter(backoff(invocation.attempt, policy, jitter))
    } else {
        fail_invocation(
            invocation,
            format!("{answer}, after {} attempts", invocation.attempt),
            policy,
        )
    }
}

/// The pause after failed attempt `attempt` (1-based): the initial backoff doubled per attempt, capped.
pub fn backoff(attempt: u32, policy: &Policy, jitter: Jitter) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    let exact = policy
        .invoke_initial_backoff
        .saturating_mul(1 << doublings)
        .min(policy.invoke_max_backoff);
    match jitter {
        Jitter::None => exact,
        Jitter::Equal(r) => exact / 2 + (exact / 2).mul_f64(r.clamp(0.0, 1.0)),
    }
}

/// A hold-mode job whose callback did not arrive within `timeout`.
pub fn on_deadline(
    job_key: i64,
    job_retries: i32,
    function: &str,
    timeout: impl std::fmt::Display,
    policy: &Policy,
) -> FailJob {
    fail(
        job_key,
        job_retries,
        format!(
            "Expected a callback from function '{function}' within {timeout}, but none arrived"
        ),
        policy,
    )
}

/// A task that cannot run as modelled: an incident, no retries.
pub fn incident(job_key: i64, failure: &Failure) -> FailJob {
    FailJob {
        job_key,
        retries: 0,
        error_message: failure.to_string(),
        retry_backoff: Duration::ZERO,
    }
}

/// A gateway command whose result [`settle`] judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    CompleteJob,
    FailJob,
    UpdateJobTimeout,
    PublishMessage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    Done,
    /// An earlier duplicate already acted: treat as done.
    AlreadyDone,
    Failed,
}

/// gRPC status codes, as numbers, so that this module needs no RPC crate.
pub mod code {
    pub const OK: i32 = 0;
    pub const NOT_FOUND: i32 = 5;
    pub const ALREADY_EXISTS: i32 = 6;
}

/// Judges a gateway answer (a gRPC status code) to `command`.
pub fn settle(command: Command, grpc_code: i32) -> Settlement {
    match (command, grpc_code) {
        (_, code::OK) => Settlement::Done,
        (Command::CompleteJob | Command::FailJob | Command::UpdateJobTimeout, code::NOT_FOUND) => {
            Settlement::AlreadyDone
        }
        (Command::PublishMessage, code::ALREADY_EXISTS) => Settlement::AlreadyDone,
        _ => Settlement::Failed,
    }
}

/// Statuses worth another attempt: OpenFaaS Pro's list.
fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

fn hint(status: u16) -> &'static str {
    match status {
        502 => " (502: the gateway timed out waiting for the function)",
        503 => " (503: the function could not be reached)",
        504 => " (504: the function exceeded its exec_timeout)",
        _ => "",
    }
}

fn fail_invocation(
    invocation: &Invocation<'_>,
    answer: String,
    policy: &Policy,
) -> InvocationDecision {
    InvocationDecision::Fail(fail(
        invocation.job_key,
        invocation.job_retries,
        format!(
            "Expected the gateway to accept a call of function '{}', but it gave {answer}",
            invocation.function
        ),
        policy,
    ))
}

/// A failure worth another attempt: retries - 1, and the policy's backoff while retries remain.
pub(crate) fn fail(
    job_key: i64,
    job_retries: i32,
    error_message: String,
    policy: &Policy,
) -> FailJob {
    let retries = job_retries.saturating_sub(1).max(0);
    FailJob {
        job_key,
        retries,
        error_message,
        retry_backoff: if retries == 0 {
            Duration::ZERO
        } else {
            policy.job_retry_backoff
        },
    }
}

fn wrap(result_variable: Option<&str>, value: Value) -> Value {
    match result_variable {
        Some(name) => json!({ name: value }),
        None => value,
    }
}

#[cfg(test)]
#[path = "outcome_tests.rs"]
mod tests;
