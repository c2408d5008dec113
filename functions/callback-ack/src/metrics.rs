//! Every metric callback-ack records, by name, in one place. The library records through the `metrics` facade;
//! the binary installs the Prometheus exporter and serves it at `/metrics`.

use std::time::Duration;

/// Callbacks by what became of them (label `outcome`, one of [`Outcome`]).
pub const CALLBACKS: &str = "apsis_callback_ack_callbacks_total";
/// Gateway calls (label `command`: publish_message, complete_job, fail_job; `code`: the gRPC code, or `connect`).
pub const GATEWAY_CALL_SECONDS: &str = "apsis_callback_ack_gateway_call_seconds";

/// Invocation by the worker to callback, by `function` (from the token): how long the workflow waited for it.
pub const CALLBACK_LATENCY_SECONDS: &str = "apsis_callback_ack_callback_latency_seconds";

/// Buckets of the histograms, for the exporter.
pub const HISTOGRAM_BUCKETS: &[(&str, &[f64])] = &[
    (
        GATEWAY_CALL_SECONDS,
        &[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
    // OTB steps take seconds to hours.
    (
        CALLBACK_LATENCY_SECONDS,
        &[
            0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
        ],
    ),
];

/// What became of one callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Receive-task mode: the message was published.
    Published,
    /// Hold mode: the job was completed.
    Completed,
    /// Hold mode: the job was failed (retries - 1).
    Failed,
    /// An earlier callback for the same call already acted (seen here, or ALREADY_EXISTS / NOT_FOUND).
    Duplicate,
    /// OpenFaaS Pro will try the function again: this attempt's callback is answered and ignored.
    AwaitingLastAttempt,
    /// Token missing, malformed, forged, signed with another key or expired: 401.
    RefusedToken,
    /// Headers garbled or missing, or the call id not the token's: 400.
    RefusedRequest,
    /// The gateway refused the command, or stayed unreachable past the retry time: nothing was done.
    GatewayError,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Published => "published",
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::Duplicate => "duplicate",
            Outcome::AwaitingLastAttempt => "awaiting_last_attempt",
            Outcome::RefusedToken => "refused_token",
            Outcome::RefusedRequest => "refused_request",
            Outcome::GatewayError => "gateway_error",
        }
    }
}

pub(crate) fn callback(outcome: Outcome) {
    metrics::counter!(CALLBACKS, "outcome" => outcome.label()).increment(1);
}

pub(crate) fn callback_latency(function: String, waited: Duration) {
    metrics::histogram!(CALLBACK_LATENCY_SECONDS, "function" => function)
        .record(waited.as_secs_f64());
}

pub(crate) fn gateway_call(command: &'static str, code: String, took: Duration) {
    metrics::histogram!(GATEWAY_CALL_SECONDS, "command" => command, "code" => code)
        .record(took.as_secs_f64());
}
