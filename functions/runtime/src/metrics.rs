//! Every metric of the local runtime, by name, in this one file (convention 9).
//!
//! The library records through the `metrics` facade only (a no-op without a recorder); the `apsis-faas-local` binary
//! installs the Prometheus recorder and serves it on the gateway's `/metrics`. Labels: `function` always; `mode`
//! (`sync` | `async`) and `status` (the HTTP status the caller or callback saw) on invocations.

use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

/// Invocations finished, by `function`, `mode` and `status`.
pub const INVOCATIONS: &str = "apsis_faas_local_invocations_total";
/// Time from handing a request to the function to its full response (or timeout), by `function` and `mode`.
pub const INVOCATION_SECONDS: &str = "apsis_faas_local_invocation_seconds";
/// Asynchronous requests accepted and not yet started, by `function`.
pub const QUEUE_DEPTH: &str = "apsis_faas_local_queue_depth";
/// Requests being served by the function now, by `function`.
pub const IN_FLIGHT: &str = "apsis_faas_local_in_flight";
/// Callbacks sent, by `function` and `outcome` (`delivered` | `failed`): one count per call, after its retries.
pub const CALLBACKS: &str = "apsis_faas_local_callbacks_total";
/// Function processes started again after they stopped, by `function`.
pub const RESTARTS: &str = "apsis_faas_local_process_restarts_total";
/// 1 while the function's process accepts connections, else 0, by `function`.
pub const UP: &str = "apsis_faas_local_function_up";

/// Histogram bucket upper bounds for [`INVOCATION_SECONDS`]: from a no-op function to a long OTB step.
pub const INVOCATION_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Registers the descriptions (shown as `# HELP` lines).
pub fn describe() {
    describe_counter!(
        INVOCATIONS,
        "Invocations finished, by function, mode and status"
    );
    describe_histogram!(
        INVOCATION_SECONDS,
        metrics::Unit::Seconds,
        "Time the function took to answer"
    );
    describe_gauge!(QUEUE_DEPTH, "Asynchronous requests waiting to start");
    describe_gauge!(IN_FLIGHT, "Requests being served by the function");
    describe_counter!(CALLBACKS, "Callbacks sent, by outcome after retries");
    describe_counter!(RESTARTS, "Function processes restarted after they stopped");
    describe_gauge!(UP, "1 while the function's process accepts connections");
}

pub(crate) fn invocation(function: &str, mode: &'static str, status: u16, took: Duration) {
    counter!(INVOCATIONS, "function" => function.to_string(), "mode" => mode, "status" => status.to_string())
        .increment(1);
    histogram!(INVOCATION_SECONDS, "function" => function.to_string(), "mode" => mode)
        .record(took.as_secs_f64());
}

pub(crate) fn queue_depth(function: &str, depth: usize) {
    gauge!(QUEUE_DEPTH, "function" => function.to_string()).set(depth as f64);
}

pub(crate) fn in_flight(function: &str, delta: f64) {
    gauge!(IN_FLIGHT, "function" => function.to_string()).increment(delta);
}

pub(crate) fn callback(function: &str, delivered: bool) {
    let outcome = if delivered { "delivered" } else { "failed" };
    counter!(CALLBACKS, "function" => function.to_string(), "outcome" => outcome).increment(1);
}

pub(crate) fn restarted(function: &str) {
    counter!(RESTARTS, "function" => function.to_string()).increment(1);
}

pub(crate) fn up(function: &str, up: bool) {
    gauge!(UP, "function" => function.to_string()).set(if up { 1.0 } else { 0.0 });
}
