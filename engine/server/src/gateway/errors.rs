//! The one table from engine outcomes to gRPC statuses, with Zeebe's wording
//! (`Command 'COMPLETE' rejected with code 'NOT_FOUND': Expected to ...`), so clients show what Zeebe would.

use apsis_core::{Rejection, RejectionKind};
use tonic::{Code, Status};

use crate::SubmitError;

/// Maps a rejection of the command with Zeebe intent `intent` (e.g. `CREATE`, `COMPLETE`) to its status.
pub(crate) fn rejection(intent: &str, r: &Rejection) -> Status {
    let (code, kind) = match r.kind {
        RejectionKind::InvalidArgument => (Code::InvalidArgument, "INVALID_ARGUMENT"),
        RejectionKind::NotFound => (Code::NotFound, "NOT_FOUND"),
        RejectionKind::AlreadyExists => (Code::AlreadyExists, "ALREADY_EXISTS"),
        RejectionKind::InvalidState => (Code::FailedPrecondition, "INVALID_STATE"),
        RejectionKind::ResourceExhausted => (Code::ResourceExhausted, "EXCEEDED_BATCH_RECORD_SIZE"),
    };
    Status::new(
        code,
        format!(
            "Command '{intent}' rejected with code '{kind}': {}",
            r.message
        ),
    )
}

/// The engine did not take the command.
pub(crate) fn submit(e: SubmitError) -> Status {
    match e {
        SubmitError::Busy => Status::resource_exhausted(
            "Expected to handle gRPC request, but request could not be processed because the engine is busy (backpressure); retry later",
        ),
        SubmitError::Stopped => Status::unavailable(
            "Expected to handle gRPC request, but the engine is not running (shutting down or stopped)",
        ),
    }
}

/// A request field that fails validation before reaching the engine.
pub(crate) fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message.into())
}
