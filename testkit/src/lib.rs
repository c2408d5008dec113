//! Test support only: what the workspace's integration tests share, so each suite states what it checks and not
//! how to run a process. It must never be a normal (or build) dependency of any crate, only a
//! `[dev-dependencies]` entry; `tests/architecture.rs` checks that together with every other dependency rule.
//!
//! - [`binary`]: a binary of another workspace package, found next to the test executable or built.
//! - [`ChildGuard`], [`run`], [`Captured`], [`Ran`]: child processes that never outlive their test, bounded waits.
//! - [`EngineProcess`]: the real `apsis engine` on loopback with JSON logs, its `/ready`, `/incidents`, signals;
//!   deploying, creating and awaiting instances through its gateway.
//! - [`FaasLocal`], [`WorkerProcess`]: the local OpenFaaS runtime and the FaaS worker as processes, logs captured.
//! - [`Graph`]: the normal-dependency graph from `cargo metadata`, and paths through it.
//!
//! Every wait is bounded (by [`WAIT`] unless a call says otherwise) and panics with what it saw when the bound
//! passes: a failing test says why instead of hanging. Panics, not errors, are this crate's way to fail.

mod binary;
mod engine;
mod faas;
mod gateway;
mod graph;
mod http;
mod logs;
mod process;
mod ran;

use std::time::Duration;

pub use binary::binary;
pub use engine::{EngineOpts, EngineProcess};
pub use faas::{worker_test_sections, FaasLocal, WorkerProcess};
pub use gateway::wait;
pub use graph::{cargo_metadata_graph, scan_sources, Graph, Package};
pub use http::http_get;
pub use logs::Logs;
pub use process::{free_port, run, wait_until, Captured, ChildGuard};
pub use ran::Ran;

/// The bound on every wait: generous, since test machines are shared.
pub const WAIT: Duration = Duration::from_secs(30);
