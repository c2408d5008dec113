//! The crate's one error type: faults of callback-ack itself (configuration, binding, serving). A callback that
//! cannot be trusted or read is not an error of ours: it is refused with a 401/400 and counted.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected a callback key in APSIS_CALLBACK_KEY or in the file APSIS_CALLBACK_KEY_FILE names (default {default_file}), but neither is set and that file does not exist")]
    MissingKey { default_file: &'static str },
    #[error("Expected to read the callback key file {}, but it could not be read", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected to use the callback key from {origin}, but it was refused: {source}")]
    Key {
        origin: String,
        #[source]
        source: apsis_worker_faas::Error,
    },
    /// The Zeebe connection settings (address, TLS, credentials); its message is already a sentence.
    #[error(transparent)]
    Zeebe(apsis_client::Error),
    /// A setting that cannot be used (those every function shares, and this function's numbers and flags), or the
    /// server; its message is already a sentence.
    #[error(transparent)]
    Kit(#[from] apsis_function_kit::Error),
}
