//! Which failed gateway calls may be sent again unchanged, for the CLI and the worker alike. Backoff and attempt
//! limits are the caller's: a CLI gives up quickly, a worker keeps polling.

use tonic::Code;

/// True when `code` says the gateway did not act on the call for a reason that passes: it may succeed if sent
/// again unchanged (after a backoff).
///
/// - UNAVAILABLE: no gateway or broker took the call (not ready, restarting, leader changing, connection lost).
///   gRPC counts it safe to retry; a connection lost after the gateway received a non-idempotent command can
///   duplicate it, as with any Zeebe client.
/// - RESOURCE_EXHAUSTED: Zeebe's backpressure, refused before processing.
/// - DEADLINE_EXCEEDED: the call may have been processed, so only when `idempotent` (activating jobs, topology,
///   completing a job: a second completion of the same job is refused with NOT_FOUND, not applied twice).
///
/// Everything else is final: a rejection (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS), a
/// refusal of credentials (UNAUTHENTICATED is already retried once with a fresh token by the auth layer;
/// PERMISSION_DENIED will not change), or a bug (INTERNAL, UNKNOWN).
pub fn is_transient(code: Code, idempotent: bool) -> bool {
    match code {
        Code::Unavailable | Code::ResourceExhausted => true,
        Code::DeadlineExceeded => idempotent,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passing_conditions_are_transient() {
        assert!(is_transient(Code::Unavailable, false));
        assert!(is_transient(Code::ResourceExhausted, false));
        assert!(is_transient(Code::DeadlineExceeded, true));
        assert!(!is_transient(Code::DeadlineExceeded, false));
        for final_code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::FailedPrecondition,
            Code::AlreadyExists,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Internal,
            Code::Unknown,
        ] {
            assert!(!is_transient(final_code, true), "{final_code:?}");
        }
    }
}
