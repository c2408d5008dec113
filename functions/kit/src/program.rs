//! A function binary's bootstrap, once its settings are resolved: the stdin lifeline, JSON-line logs on stderr, the
//! Prometheus exporter (when the function has metrics), the async runtime, then serve until SIGTERM (what
//! of-watchdog and Kubernetes send) or SIGINT, and stop gracefully.
//!
//! Exit codes, the same for every function: 0 stopped on a signal, 1 the server failed, 2 it could not start (a bad
//! setting, a port in use...), each failure with one sentence on stderr (`<program>: Expected ..., but ...`) and in
//! the log.

use std::error::Error as StdError;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio::signal::unix::{signal, SignalKind};

use crate::server::{RenderFn, Server};
use crate::{lifeline, Common, Error};

/// The server failed while serving or stopping.
pub const EXIT_FAILED: u8 = 1;
/// The function could not start.
pub const EXIT_STARTUP: u8 = 2;

/// Histogram buckets by metric name, for the exporter (each function's `metrics::HISTOGRAM_BUCKETS`).
pub type Buckets = &'static [(&'static str, &'static [f64])];

/// A started service that stops gracefully: it stops accepting requests and lets those in progress finish.
pub trait Stop {
    type Error: StdError + 'static;
    fn stop(self) -> impl Future<Output = Result<(), Self::Error>>;
}

impl Stop for Server {
    type Error = Error;
    fn stop(self) -> impl Future<Output = Result<(), Error>> {
        self.shutdown()
    }
}

/// How one function binary runs.
#[derive(Debug, Clone)]
pub struct Program {
    /// The binary's name, the prefix of its messages on stderr.
    pub name: &'static str,
    pub common: Common,
    /// Run at stdin EOF before exiting, when the lifeline is on (e.g. kill child process groups).
    pub before_exit: fn(),
    /// `Some`: install the Prometheus exporter with these buckets and serve it at `/metrics`.
    pub metrics: Option<Buckets>,
    /// Threads of the async runtime (requests are mostly waiting on a child process or the network).
    pub worker_threads: usize,
    /// Bound on the runtime's blocking threads (`spawn_blocking`).
    pub max_blocking_threads: usize,
}

impl Program {
    /// A program with no metrics, nothing to do before a lifeline exit, and 2 runtime threads.
    pub fn new(name: &'static str, common: Common) -> Program {
        Program {
            name,
            common,
            before_exit: || {},
            metrics: None,
            worker_threads: 2,
            max_blocking_threads: 512,
        }
    }

    /// The exit of a program whose settings cannot be used: the sentence on stderr, status 2.
    pub fn refuse_to_start(name: &str, error: &dyn StdError) -> ExitCode {
        eprintln!("{name}: {}", sentence(error));
        ExitCode::from(EXIT_STARTUP)
    }

    /// Runs the function: `start` binds and starts serving (given the exporter's renderer when there are metrics);
    /// the service runs until SIGTERM or SIGINT, then is stopped.
    pub fn run<S, E, F, Fut>(self, start: F) -> ExitCode
    where
        S: Stop,
        E: StdError + 'static,
        F: FnOnce(Option<RenderFn>) -> Fut,
        Fut: Future<Output = Result<S, E>>,
    {
        if self.common.stdin_lifeline {
            lifeline::watch_stdin(self.before_exit);
        }
        let name = self.name;
        match self.serve(start) {
            Ok(()) => ExitCode::SUCCESS,
            Err((code, message)) => {
                tracing::error!("{message}");
                eprintln!("{name}: {message}");
                ExitCode::from(code)
            }
        }
    }

    fn serve<S, E, F, Fut>(self, start: F) -> Result<(), (u8, String)>
    where
        S: Stop,
        E: StdError + 'static,
        F: FnOnce(Option<RenderFn>) -> Fut,
        Fut: Future<Output = Result<S, E>>,
    {
        let startup = |e: &dyn StdError| (EXIT_STARTUP, sentence(e));
        init_logging(&self.common.log_level).map_err(|e| startup(&e))?;
        let render = match self.metrics {
            Some(buckets) => Some(install_exporter(buckets).map_err(|e| startup(&e))?),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.worker_threads)
            .max_blocking_threads(self.max_blocking_threads)
            .enable_all()
            .build()
            .map_err(|source| Error::Startup {
                what: "start the async runtime",
                source,
            })
            .map_err(|e| startup(&e))?;
        runtime.block_on(async move {
            let handler = |kind| {
                signal(kind).map_err(|source| Error::Startup {
                    what: "install the SIGTERM and SIGINT handlers",
                    source,
                })
            };
            let mut term = handler(SignalKind::terminate()).map_err(|e| startup(&e))?;
            let mut int = handler(SignalKind::interrupt()).map_err(|e| startup(&e))?;
            let service = start(render).await.map_err(|e| startup(&e))?;
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::info!("Shutting down: no new requests, finishing those in progress");
            service
                .stop()
                .await
                .map_err(|e| (EXIT_FAILED, sentence(&e)))
        })
    }
}

/// JSON lines on stderr (one object per event, its fields flat, the current span's fields with it), filtered by
/// `level` (a tracing filter such as `info`).
pub fn init_logging(level: &str) -> Result<(), Error> {
    let filter =
        tracing_subscriber::EnvFilter::try_new(level).map_err(|source| Error::LogFilter {
            filter: level.to_owned(),
            source,
        })?;
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .try_init();
    Ok(())
}

/// Installs the Prometheus recorder with `buckets`; returns what renders `/metrics`.
fn install_exporter(buckets: Buckets) -> Result<RenderFn, Error> {
    let mut builder = PrometheusBuilder::new();
    for (name, bounds) in buckets {
        builder = builder
            .set_buckets_for_metric(Matcher::Full((*name).to_owned()), bounds)
            .map_err(Error::Exporter)?;
    }
    let prometheus = builder.install_recorder().map_err(Error::Exporter)?;
    Ok(Arc::new(move || prometheus.render()))
}

/// An error and its causes, as one line: `Expected ..., but it failed: Address in use (os error 98)`.
pub fn sentence(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // A transparent wrapper repeats its inner error's message: say it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_carries_its_causes_once() {
        let e = Error::Bind {
            address: "127.0.0.1:1".parse().unwrap(),
            source: std::io::Error::other("Address in use"),
        };
        assert_eq!(
            sentence(&e),
            "Expected to listen on 127.0.0.1:1, but it failed: Address in use"
        );
        let e = init_logging("info,[").unwrap_err();
        assert!(
            sentence(&e).starts_with(
                "Expected APSIS_LOG_LEVEL to be a tracing filter such as 'info', but found 'info,['"
            ),
            "{e}"
        );
    }
}
