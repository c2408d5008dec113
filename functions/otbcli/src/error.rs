//! The crate's one error type: faults of the function itself (configuration, binding, serving). A request that is
//! refused is a [`crate::validate::Rejection`] (400); an OTB run that failed is a [`crate::run::Failure`] (500).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected the OTB bin directory {} (from {origin}) to be an existing directory, but it is not", path.display())]
    BinDir { path: PathBuf, origin: String },
    /// A setting that cannot be used (those every function shares, and this function's numbers), or the server;
    /// its message is already a sentence.
    #[error(transparent)]
    Kit(#[from] apsis_function_kit::Error),
}
