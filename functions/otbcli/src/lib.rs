//! otbcli: the OpenFaaS function that runs one Orfeo Toolbox application (`otbcli_<App>`) for the FaaS worker.
//!
//! The worker POSTs `{"argv": ["otbcli_OrthoRectification", "-io.in", "...", ...]}` rendered from a task's
//! `cmdline`. Invariants:
//! 1. **Nothing runs unless every check passed** (`validate`, `paths`): argv[0] is an installed OTB application
//!    (`otbcli_` + letters and digits, looked up in the OTB bin directory only), every file argument resolves inside
//!    a data root (no `..`, no symlink out, no absolute path elsewhere, no GDAL virtual file system unless allowed),
//!    extended-filename options come from an allow-list. A refusal is a 400 with one sentence.
//! 2. **No shell**: the application is started with its argv as given, in its own process group, with bounded
//!    memory (`GDAL_CACHEMAX`, `OTB_MAX_RAM_HINT`, and `-ram`/`-opt.ram` when the caller set none), and is killed
//!    whole after the timeout or when the request is abandoned (`run`).
//! 3. **Silent failures are failures**: exit code 0 is not enough; a known bad log line (`run::BAD_PATTERNS`) or a
//!    declared output that is missing or does not open with GDAL (`gdal`) makes the answer a 500 naming the
//!    application and the reason, with the log's tail.
//!
//! Must not depend on the engine or the worker: it is an OpenFaaS function, usable under any Zeebe-compatible setup.

pub mod config;
mod error;
mod gdal;
mod handler;
mod help;
pub mod metrics;
mod paths;
mod run;
mod service;
mod validate;

pub use apsis_function_kit::RenderFn;
pub use config::Options;
pub use error::Error;
pub use gdal::OutputInfo;
pub use handler::CALL_ID;
pub use paths::ALLOWED_OPTIONS;
pub use run::{kill_all_runs, Failure, BAD_PATTERNS, TAIL_LINES};
pub use service::{Handle, Service};
pub use validate::Rejection;
