//! The callback token: what lets `callback-ack` act on a job (publish a message, complete or fail it) on the word
//! of an unauthenticated HTTP caller. The worker puts it in the `X-Callback-Url` it gives OpenFaaS; whoever calls
//! that URL back can only do what the token says, for that call and until it expires.
//!
//! Format: `v1.<payload>.<mac>`, both parts base64url without padding. The payload is compact JSON of the
//! [`Claims`] plus the signing key's id; the MAC is HMAC-SHA256 over `v1.<payload>` (the version is signed too).
//! Verification checks, in this order: shape and encoding ([`TokenError::Malformed`], or
//! [`TokenError::UnsupportedVersion`]), the key id ([`TokenError::WrongKey`]: signed with another key, e.g. before
//! a key rotation), the MAC in constant time ([`TokenError::Tampered`]), then the expiry ([`TokenError::Expired`]).
//! Only an authentic token's expiry is reported; every error means "401, do nothing".
//!
//! The claims carry what `callback-ack` needs and cannot look up: besides the call id, job key, mode (with the
//! message name) and expiry, the job's `retries` at activation (a failed job is failed with `retries - 1`) and the
//! task's `resultVariable`. `now` is passed in; this module reads no clock.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

use crate::task::Mode;
use crate::Error;

type HmacSha256 = Hmac<Sha256>;

/// The shortest signing key accepted: the HMAC-SHA256 output size.
pub const MIN_KEY_BYTES: usize = 32;
/// Longer tokens are refused before any decoding.
pub const MAX_TOKEN_CHARS: usize = 4096;
const VERSION: &str = "v1";

/// A secret key that signs and verifies tokens. Its `Debug` shows only its public id.
#[derive(Clone)]
pub struct CallbackKey {
    secret: Vec<u8>,
    id: String,
}

impl CallbackKey {
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<CallbackKey, Error> {
        let secret = secret.into();
        if secret.len() < MIN_KEY_BYTES {
            return Err(Error::CallbackKeyTooShort {
                min: MIN_KEY_BYTES,
                found: secret.len(),
            });
        }
        let digest = mac(&secret, b"apsis callback key id")
            .finalize()
            .into_bytes();
        let id = URL_SAFE_NO_PAD.encode(&digest[..6]);
        Ok(CallbackKey { secret, id })
    }

    /// A short public name of the key (derived from it, revealing nothing of it), carried in every token.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for CallbackKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What a token allows: acting on the job `job_key` for the call `call_id` in `mode`, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub call_id: String,
    pub job_key: i64,
    pub mode: Mode,
    /// The job's retries when it was activated.
    pub retries: i32,
    pub result_variable: Option<String>,
    /// Unix seconds; the token is refused from this second on.
    pub expires_at: u64,
    /// For logs and metrics only: never needed to act.
    pub trace: Trace,
}

/// What a token carries for observability (CONVENTIONS.md §9), so callback-ack's lines and metrics name the
/// instance and the function, and it can measure the call's latency. Optional in the payload: older tokens verify.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    pub process_instance_key: Option<i64>,
    pub function: Option<String>,
    /// When the worker invoked the function (unix milliseconds).
    pub invoked_at_ms: Option<u64>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("Expected a callback token 'v1.<payload>.<mac>', but {0}")]
    Malformed(&'static str),
    #[error("Expected a callback token of version v1, but found version '{0}'")]
    UnsupportedVersion(String),
    #[error("Expected a callback token signed with key '{expected}', but it was signed with key '{found}'")]
    WrongKey { expected: String, found: String },
    #[error("Expected the callback token's signature to match its content, but it does not")]
    Tampered,
    #[error(
        "Expected a callback token valid at {now}, but it expired at {expired_at} (unix seconds)"
    )]
    Expired { expired_at: u64, now: u64 },
}

/// The payload as signed; short names keep the callback URL short.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    /// key id
    k: String,
    c: String,
    j: i64,
    /// `hold` or `receive-task`
    m: String,
    /// message name, receive-task only
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    r: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<String>,
    e: u64,
    /// process instance key, function, invocation time (unix ms): [`Trace`]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    f: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<u64>,
}

/// The token granting `claims`, signed with `key`.
pub fn sign(claims: &Claims, key: &CallbackKey) -> String {
    let message_name = match &claims.mode {
        Mode::Hold => None,
        Mode::ReceiveTask { message_name } => Some(message_name.clone()),
    };
    let payload = Payload {
        k: key.id.clone(),
        c: claims.call_id.clone(),
        j: claims.job_key,
        m: claims.mode.as_str().to_owned(),
        n: message_name,
        r: claims.retries,
        v: claims.result_variable.clone(),
        e: claims.expires_at,
        p: claims.trace.process_instance_key,
        f: claims.trace.function.clone(),
        t: claims.trace.invoked_at_ms,
    };
    // Serializing a struct of strings and integers cannot fail.
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    let signed = format!("{VERSION}.{}", URL_SAFE_NO_PAD.encode(json));
    let tag = mac(&key.secret, signed.as_bytes()).finalize().into_bytes();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// The claims of `token` if `key` signed it and it has not expired at `now` (unix seconds).
pub fn verify(token: &str, key: &CallbackKey, now: u64) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_CHARS {
        return Err(TokenError::Malformed("it is too long"));
    }
    let mut parts = token.split('.');
    let (Some(version), Some(payload_b64), Some(mac_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "it does not have three parts separated by '.'",
        ));
    };
    if version != VERSION {
        return Err(TokenError::UnsupportedVersion(
            version.chars().take(16).collect(),
        ));
    }
    let json = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| TokenError::Malformed("its payload is not base64url"))?;
    let tag = URL_SAFE_NO_PAD
        .decode(mac_b64)
        .map_err(|_| TokenError::Malformed("its signature is not base64url"))?;
    let payload: Payload = serde_json::from_slice(&json)
        .map_err(|_| TokenError::Malformed("its payload is not the expected JSON"))?;
    if payload.k != key.id {
        return Err(TokenError::WrongKey {
            expected: key.id.clone(),
            found: payload.k.chars().take(16).collect(),
        });
    }
    let signed = &token[..VERSION.len() + 1 + payload_b64.len()];
    mac(&key.secret, signed.as_bytes())
        .verify_slice(&tag)
        .map_err(|_| TokenError::Tampered)?;
    let mode = match (payload.m.as_str(), payload.n) {
        ("hold", None) => Mode::Hold,
        ("receive-task", Some(message_name)) => Mode::ReceiveTask { message_name },
        _ => {
            return Err(TokenError::Malformed(
                "its mode is not 'hold' or 'receive-task' with a message name",
            ))
        }
    };
    if now >= payload.e {
        return Err(TokenError::Expired {
            expired_at: payload.e,
            now,
        });
    }
    Ok(Claims {
        call_id: payload.c,
        job_key: payload.j,
        mode,
        retries: payload.r,
        result_variable: payload.v,
        expires_at: payload.e,
        trace: Trace {
            process_instance_key: payload.p,
            function: payload.f,
            invoked_at_ms: payload.t,
        },
    })
}

fn mac(secret: &[u8], data: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
