//! Every metric the otbcli function records, by name, in one place. The library records through the `metrics`
//! facade; the binary installs the Prometheus exporter and serves it at `/metrics`.

use std::time::Duration;

/// Requests by application (label `app`, `invalid` when argv[0] is not an OTB application) and `outcome`
/// (one of [`Outcome`]).
pub const RUNS: &str = "apsis_otbcli_runs_total";
/// Duration of the OTB runs (refusals excluded), by `app` and `outcome`.
pub const RUN_SECONDS: &str = "apsis_otbcli_run_seconds";
/// Runs in progress (at most `max_concurrent`).
pub const RUNNING: &str = "apsis_otbcli_running";

/// Buckets of the histograms, for the exporter: OTB steps take a second to hours.
pub const HISTOGRAM_BUCKETS: &[(&str, &[f64])] = &[(
    RUN_SECONDS,
    &[
        0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
    ],
)];

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code 0, no known bad pattern in the log, every declared output exists and opens.
    Succeeded,
    /// Exit code, log pattern or output check said no: 500.
    Failed,
    /// Killed after the timeout: 500.
    TimedOut,
    /// Refused before anything ran: 400.
    Refused,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Refused => "refused",
        }
    }
}

pub(crate) fn run(app: &str, outcome: Outcome, took: Option<Duration>) {
    metrics::counter!(RUNS, "app" => app.to_owned(), "outcome" => outcome.label()).increment(1);
    if let Some(took) = took {
        metrics::histogram!(RUN_SECONDS, "app" => app.to_owned(), "outcome" => outcome.label())
            .record(took.as_secs_f64());
    }
}

pub(crate) fn running(delta: f64) {
    metrics::gauge!(RUNNING).increment(delta);
}
