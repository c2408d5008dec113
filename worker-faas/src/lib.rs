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
//! Invariants:
//! - nothing reaches a shell: a command line is split into words from the template text, before any variable is
//!   substituted, and every rendered word is exactly one argv element, whatever the job's variables contain;
//! - no I/O, no clock and no randomness in these modules: `now` and jitter are passed in, so every decision is a
//!   deterministic function of its inputs and is table-tested;
//! - secrets never appear in `Debug` output or error messages.
//!
//! Failures come in three types, as everywhere in Apsis (CONVENTIONS.md §4): a task whose contract or template is
//! wrong is a [`Failure`] (the job is failed with no retries: an incident the designer must fix); a callback that
//! cannot be trusted or read is refused with a [`token::TokenError`] or [`callback::CallbackError`] (HTTP 401/400,
//! nothing is done); a fault of the worker itself (configuration, later I/O) is an [`Error`].
//!
//! This crate must not depend on the engine's core, store or server (checked by `tests/architecture.rs`): it is a
//! Zeebe client like any other and must work unchanged against a Camunda 8 cluster. It reuses the ISO-8601 duration
//! parser of `apsis-bpmn` so that a `timeout` header accepts exactly what a BPMN timer accepts.

pub mod callback;
mod failure;
pub mod outcome;
mod quantity;
pub mod task;
pub mod template;
pub mod token;

pub use failure::{Failure, Place};

/// Faults of the worker itself, as opposed to a task's [`Failure`] or a refused callback.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "Expected a callback signing key of at least {min} bytes, but the configured key has {found} bytes"
    )]
    CallbackKeyTooShort { min: usize, found: usize },
}
