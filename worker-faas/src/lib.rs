//! The FaaS worker of Apsis: an ordinary Zeebe job worker that runs service tasks as OpenFaaS functions (called
//! asynchronously, answered by a callback), Kubernetes Jobs or local processes.
//!
//! This library holds the worker's pure core, the part every backend and the `callback-ack` function share:
//! - [`task`]: the task contract read from a job's custom headers (`zeebe:taskHeaders`);
//! - [`template`]: strict handlebars rendering of `cmdline` (to an argv) and `body` (to a string);
//! - [`token`]: the signed callback token that lets `callback-ack` act on a job without trusting its caller;
//! - [`callback`]: an OpenFaaS queue-worker callback read into a [`callback::CallbackReport`];
//! - [`outcome`]: every decision (publish, complete, fail, retry, incident) as data, for the I/O shell to carry out.
//!
//! and the daemon, the I/O shell that carries the decisions out (Options -> Service -> Handle):
//! - [`config`]: the layered configuration (defaults < TOML < environment < flags);
//! - [`worker`]: the job loop (StreamActivatedJobs + long-polling ActivateJobs, bounded jobs in flight, hold-mode
//!   deadlines, graceful shutdown) and one job's handling;
//! - [`request`]: a job turned into the HTTP request a function receives, and its signed callback URL;
//! - [`backend`]: where functions run ([`backend::Backend`]; OpenFaaS and the local runtime share one
//!   implementation);
//! - [`monitor`]: `/health`, `/ready`, `/metrics`; [`metrics`]: every metric name.
//!
//! Invariants:
//! - the pure modules (task, template, token, callback, outcome) do no I/O; the shell decides nothing itself;
//! - nothing reaches a shell: a command line is split into words from the template text, before any variable is
//!   substituted, and every rendered word is exactly one argv element, whatever the job's variables contain;
//! - no I/O, no clock and no randomness in the pure modules: `now` and jitter are passed in, so every decision is a
//!   deterministic function of its inputs and is table-tested;
//! - secrets never appear in `Debug` output or error messages.
//!
//! Failures come in three types, as everywhere in Apsis (CONVENTIONS.md §4): a task whose contract or template is
//! wrong is a [`Failure`] (the job is failed with no retries: an incident the designer must fix); a callback that
//! cannot be trusted or read is refused with a [`token::TokenError`] or [`callback::CallbackError`] (HTTP 401/400,
//! nothing is done); a fault of the worker itself (configuration, later I/O) is an [`Error`].
//!
//! This crate must not depend on the engine's core, store or server (checked by `testkit/tests/architecture.rs`): it is a
//! Zeebe client like any other and must work unchanged against a Camunda 8 cluster. It reuses the ISO-8601 duration
//! parser of `apsis-bpmn` so that a `timeout` header accepts exactly what a BPMN timer accepts.

pub mod backend;
pub mod callback;
pub mod config;
mod failure;
pub mod metrics;
pub mod monitor;
pub mod outcome;
mod quantity;
pub mod request;
pub mod task;
pub mod template;
pub mod token;
pub mod worker;

pub use failure::{Failure, Place};

/// Faults of the worker itself, as opposed to a task's [`Failure`] or a refused callback.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "Expected a callback signing key of at least {min} bytes, but the configured key has {found} bytes"
    )]
    CallbackKeyTooShort { min: usize, found: usize },
    #[error("Expected a readable TOML config file at {path}, but {problem}")]
    ConfigFile {
        path: std::path::PathBuf,
        problem: String,
    },
    #[error("Expected {key} ({origin}) to be {expected}, but found '{found}'")]
    Setting {
        key: String,
        origin: String,
        expected: &'static str,
        found: String,
    },
    #[error(
        "Expected a callback signing key in APSIS_CALLBACK_KEY, APSIS_CALLBACK_KEY_FILE, callback_key_file or \
         /var/openfaas/secrets/apsis-callback-key, but none is configured"
    )]
    NoCallbackKey,
    #[error("Expected a readable callback key file at {path}, but {problem}")]
    CallbackKeyFile {
        path: std::path::PathBuf,
        problem: String,
    },
    #[error("Expected a usable callback key from {origin}, but it is not")]
    CallbackKey {
        origin: String,
        #[source]
        source: Box<Error>,
    },
    #[error("Expected usable gateway connection settings, but they are not")]
    Gateway(#[source] apsis_client::Error),
    #[error("Expected to listen on {address}, but {problem}")]
    Listen { address: String, problem: String },
    #[error("Expected to build an HTTP client for function calls, but {0}")]
    HttpClient(String),
}
