//! Every metric of the worker daemon, by name, in this one file (convention 9).
//!
//! The library only records through the `metrics` facade (a no-op without a recorder); the Prometheus exporter is
//! installed by the `apsis-worker-faas` binary, which also applies [`HISTOGRAM_BUCKETS`].
//!
//! What the worker can see: the time from POST to the gateway's answer (invocation latency) and the time from
//! activation to the worker's last gateway call for the job (job duration: CompleteJob in receive-task mode; the
//! UpdateJobTimeout that hands the job to callback-ack in hold mode; FailJob when it fails the job). The callback
//! itself reaches callback-ack, not the worker: callback latency (`X-Duration-Seconds`, the time the function ran)
//! is callback-ack's metric.

use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};

/// Jobs received from the gateway, by `job_type`.
pub const JOBS_ACTIVATED: &str = "apsis_worker_jobs_activated_total";
/// Jobs the worker completed itself (receive-task mode), by `function`.
pub const JOBS_COMPLETED: &str = "apsis_worker_jobs_completed_total";
/// Jobs handed to callback-ack (hold mode: invoked, timeout extended), by `function`.
pub const JOBS_HELD: &str = "apsis_worker_jobs_held_total";
/// Jobs the worker failed, by `function` and `reason` (`incident` | `invocation` | `deadline` | `backend`).
pub const JOBS_FAILED: &str = "apsis_worker_jobs_failed_total";
/// Jobs being worked on now (counted against `max_jobs_in_flight`).
pub const JOBS_IN_FLIGHT: &str = "apsis_worker_jobs_in_flight";
/// Hold-mode jobs waiting for their callback or deadline (not counted in flight).
pub const JOBS_AWAITING_CALLBACK: &str = "apsis_worker_jobs_awaiting_callback";
/// POST to the gateway's answer, per attempt, by `function` and `outcome` (`accepted` | `retry` | `failed`).
pub const INVOCATION_SECONDS: &str = "apsis_worker_invocation_seconds";
/// Activation to the worker's last gateway call for the job, by `function` and `mode`.
pub const JOB_SECONDS: &str = "apsis_worker_job_seconds";
/// Gateway calls that failed (not counting NOT_FOUND settled as already done), by `command`.
pub const GATEWAY_ERRORS: &str = "apsis_worker_gateway_errors_total";

/// Buckets of the histograms, in seconds.
pub const HISTOGRAM_BUCKETS: &[(&str, &[f64])] = &[
    (
        INVOCATION_SECONDS,
        &[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
    (
        JOB_SECONDS,
        &[
            0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0,
        ],
    ),
];

/// Names and help texts, for the exporter.
pub fn describe() {
    describe_counter!(JOBS_ACTIVATED, "Jobs received from the gateway");
    describe_counter!(
        JOBS_COMPLETED,
        "Jobs completed by the worker (receive-task mode)"
    );
    describe_counter!(JOBS_HELD, "Jobs handed to callback-ack (hold mode)");
    describe_counter!(JOBS_FAILED, "Jobs failed by the worker, by reason");
    describe_gauge!(JOBS_IN_FLIGHT, "Jobs being worked on");
    describe_gauge!(
        JOBS_AWAITING_CALLBACK,
        "Hold-mode jobs waiting for a callback"
    );
    describe_histogram!(
        INVOCATION_SECONDS,
        Unit::Seconds,
        "Function call POST to answer"
    );
    describe_histogram!(
        JOB_SECONDS,
        Unit::Seconds,
        "Activation to the worker's last call"
    );
    describe_counter!(GATEWAY_ERRORS, "Gateway calls that failed");
}

pub(crate) fn activated(job_type: &str) {
    counter!(JOBS_ACTIVATED, "job_type" => job_type.to_owned()).increment(1);
}

pub(crate) fn completed(function: &str) {
    counter!(JOBS_COMPLETED, "function" => function.to_owned()).increment(1);
}

pub(crate) fn held(function: &str) {
    counter!(JOBS_HELD, "function" => function.to_owned()).increment(1);
}

pub(crate) fn failed(function: &str, reason: &'static str) {
    counter!(JOBS_FAILED, "function" => function.to_owned(), "reason" => reason).increment(1);
}

pub(crate) fn in_flight(delta: f64) {
    gauge!(JOBS_IN_FLIGHT).increment(delta);
}

pub(crate) fn awaiting_callback(delta: f64) {
    gauge!(JOBS_AWAITING_CALLBACK).increment(delta);
}

pub(crate) fn invocation(function: &str, outcome: &'static str, took: Duration) {
    histogram!(INVOCATION_SECONDS, "function" => function.to_owned(), "outcome" => outcome)
        .record(took.as_secs_f64());
}

pub(crate) fn job(function: &str, mode: &'static str, took: Duration) {
    histogram!(JOB_SECONDS, "function" => function.to_owned(), "mode" => mode)
        .record(took.as_secs_f64());
}

pub(crate) fn gateway_error(command: &'static str) {
    counter!(GATEWAY_ERRORS, "command" => command).increment(1);
}
