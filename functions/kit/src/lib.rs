//! apsis-function-kit: what every Apsis HTTP function (callback-ack, otbcli, normalize-product) shares, so that each
//! function's `main` is its own settings and its own routes only.
//!
//! - [`settings`]: the settings every function reads the same way: the listen address (`--listen` > `APSIS_LISTEN` >
//!   of-watchdog's `upstream_url` > `127.0.0.1:8082`, the address the Dockerfiles give the watchdog), the stdin
//!   lifeline (`APSIS_STDIN_LIFELINE`) and the log filter (`APSIS_LOG_LEVEL`).
//! - [`roots`]: the data-root policy (`APSIS_DATA_ROOTS`): every path a request names resolves inside a root, with
//!   no `..`, symlinks followed, absolute paths elsewhere refused, and a not-yet-existing output checked through its
//!   parent.
//! - [`lifeline`]: exit when the parent's stdin pipe closes (the local runtime's contract, `functions/README.md`).
//! - [`server`]: one HTTP server with of-watchdog's and OpenFaaS's health endpoints and `/metrics`, stopped
//!   gracefully.
//! - [`program`]: the binary's bootstrap: JSON-line logs, the Prometheus exporter when the function has metrics,
//!   the async runtime, SIGTERM/SIGINT, exit codes (0 stopped on a signal, 1 the server failed, 2 it could not start).
//!
//! Invariants: nothing here knows a function's request format or any Zeebe/engine crate (testkit's architecture test):
//! a function built on it runs unchanged under of-watchdog. The Prometheus exporter is installed only by
//! [`program::Program::run`], which only a binary's `main` calls; libraries record through the `metrics` facade.

mod error;
pub mod lifeline;
pub mod program;
pub mod roots;
pub mod server;
pub mod settings;

pub use error::Error;
pub use program::{Program, Stop};
pub use roots::{DataRoots, Refusal};
pub use server::{RenderFn, Server};
pub use settings::Common;
