//! The crate's one error type: a setting that cannot be used, or a server that cannot start or keep serving. A
//! path a request names outside the data roots is not an error of ours: it is a [`crate::Refusal`] (400).

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected {name} (from {origin}) to be {expected}, but found '{found}'")]
    Setting {
        name: &'static str,
        origin: String,
        expected: &'static str,
        found: String,
    },
    #[error("Expected at least one data root in APSIS_DATA_ROOTS or --data-roots (colon-separated absolute directories), but none is set")]
    NoDataRoots,
    #[error("Expected the data root {} (from {origin}) to be an existing absolute directory, but it is not", path.display())]
    DataRoot {
        path: PathBuf,
        origin: String,
        #[source]
        source: Option<std::io::Error>,
    },
    #[error(
        "Expected APSIS_LOG_LEVEL to be a tracing filter such as 'info', but found '{filter}'"
    )]
    LogFilter {
        filter: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("Expected to install the Prometheus exporter, but it failed")]
    Exporter(#[source] metrics_exporter_prometheus::BuildError),
    #[error("Expected to {what}, but it failed")]
    Startup {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected to listen on {address}, but it failed")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected to serve requests until shut down, but the server failed")]
    Serve(#[source] std::io::Error),
}
