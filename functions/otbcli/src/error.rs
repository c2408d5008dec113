//! The crate's one error type: faults of the function itself (configuration, binding, serving). A request that is
//! refused is a [`crate::validate::Rejection`] (400); an OTB run that failed is a [`crate::run::Failure`] (500).

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
    #[error("Expected the OTB bin directory {} (from {origin}) to be an existing directory, but it is not", path.display())]
    BinDir { path: PathBuf, origin: String },
    #[error("Expected to listen on {address}, but it failed")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected to serve requests until shut down, but the server failed")]
    Serve(#[source] std::io::Error),
}
