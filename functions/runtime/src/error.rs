//! The crate's one error type (convention 5): faults of configuration and I/O, each sentence "Expected to <X>, but
//! <Y>". What a function answers (a 500, a timeout) is not an error here: it is an HTTP status handed to the caller.

use std::path::PathBuf;

/// A fault of the local runtime: a bad definitions file, an address that cannot be bound, a server that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected to read the function definitions file {path}, but {source}")]
    ReadDefinitions {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected {path} to be a stack.yml with a `functions:` map, but {source}")]
    ParseDefinitions {
        path: PathBuf,
        #[source]
        source: serde_norway::Error,
    },
    #[error(
        "Expected {path} to define at least one function under `functions:`, but it defines none"
    )]
    NoFunctions { path: PathBuf },
    #[error(
        "Expected field '{field}' of function '{function}' in {path} to be {expected}, but found {found}"
    )]
    InvalidField {
        path: PathBuf,
        function: String,
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("Expected to listen on {address}, but {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected to build the HTTP client for functions and callbacks, but {source}")]
    HttpClient {
        #[source]
        source: reqwest::Error,
    },
    #[error("Expected the gateway server to run until shutdown, but {source}")]
    Serve {
        #[source]
        source: std::io::Error,
    },
}

/// An error with its causes, `outer: inner: innermost` (reqwest's own message leaves out why a request failed).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
