//! callback-ack: the OpenFaaS function that turns a queue-worker callback into the Zeebe command it stands for.
//!
//! The FaaS worker invokes a function asynchronously with `X-Callback-Url: <callback-ack>?token=<v1 token>`; when
//! the function has run, OpenFaaS's queue-worker POSTs its response body here with `X-Call-Id`,
//! `X-Function-Status`, `X-Function-Name`, `X-Duration-Seconds` (and on Pro `X-Retry`/`X-Retry-Max`). This crate
//! is the I/O shell around the pure decisions of `apsis-worker-faas` (`token::verify`, `callback::parse`,
//! `outcome::on_callback`, `outcome::settle`), which it must not duplicate:
//! 1. refuse what cannot be trusted: a missing, malformed, forged, wrongly keyed or expired token is a 401; garbled
//!    headers or an `X-Call-Id` that is not the token's is a 400; nothing is done for either;
//! 2. answer 202 at once and act in the background: in receive-task mode publish the message (correlation key =
//!    message id = call id), in hold mode complete or fail the job, through the Zeebe gateway, retrying transient
//!    failures for a bounded time (`gateway`);
//! 3. treat duplicates as success: a call id acted on here is not acted on again (`seen`), and ALREADY_EXISTS /
//!    NOT_FOUND from the gateway mean an earlier duplicate acted.
//!
//! Answering before acting is the default because the queue-worker must not wait: OpenFaaS CE runs one message
//! at a time and redelivers (runs the function again) anything not acknowledged within `ack_wait`, and it never
//! retries a callback, so waiting for the gateway buys nothing there. The cost: a callback answered 202 whose
//! command then fails for good (gateway down past the retry time, process killed) is lost, and the call's deadline
//! catches it (hold mode: the worker fails the job; receive-task mode: the BPMN's timer boundary). With
//! `APSIS_ACT_BEFORE_ANSWER=true` the answer waits for the gateway's acknowledgement and is a 503 when it did not
//! come: stronger for callers that retry a failed callback (OpenFaaS Pro), at the price of holding the
//! queue-worker for up to the retry time.
//!
//! Must not depend on the engine (apsis-core, apsis-store, apsis-server): it is a Zeebe client and works unchanged
//! against Camunda 8.

mod body;
pub mod config;
mod error;
mod gateway;
mod handler;
pub mod metrics;
mod seen;
mod service;

pub use apsis_function_kit::RenderFn;
pub use config::Options;
pub use error::Error;
pub use service::{Handle, Service, SHUTDOWN_GRACE};
