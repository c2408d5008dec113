//! An OpenFaaS queue-worker callback, read into a [`CallbackReport`].
//!
//! The queue-worker POSTs the function's raw response body to the callback URL with the function's response
//! headers plus `X-Call-Id`, `X-Function-Status` (the function's HTTP status; 503 when the function could not be
//! reached), `X-Function-Name` and `X-Duration-Seconds`; OpenFaaS Pro adds `X-Retry` and `X-Retry-Max` (equal on
//! the last attempt). See `shared/notes/openfaas.md`.
//!
//! Strict where the decision depends on it, lenient elsewhere: a missing or garbled `X-Call-Id`,
//! `X-Function-Status`, `X-Retry` or `X-Retry-Max` refuses the callback ([`CallbackError`], HTTP 400); a missing or
//! garbled `X-Duration-Seconds` (negative, not a number) only leaves the duration unknown, since losing a
//! function's result over a timing figure would be worse.
//!
//! The output kept for process variables is bounded to [`OUTPUT_LIMIT`] bytes:
//! - an empty body is `null`;
//! - a body within the limit is parsed as JSON when it says so (`Content-Type: application/json` or `...+json`) or
//!   when it is a JSON object or array; a scalar such as `42` without a JSON content type stays the string `"42"`;
//! - anything else is a string: the body's first [`OUTPUT_LIMIT`] bytes, cut before a split UTF-8 character,
//!   invalid UTF-8 replaced by U+FFFD, with [`CallbackReport::output_truncated`] set when the body was longer.
//!
//! For failures the *end* of the body matters (a stack trace's last lines, OTB's final error), so the report also
//! keeps the body's last [`ERROR_TEXT_LIMIT`] bytes as text.

use http::HeaderMap;
use serde_json::Value;

use crate::token::Claims;

/// Bytes of a function's answer kept as the `output` variable.
pub const OUTPUT_LIMIT: usize = 64 * 1024;
/// Bytes of a function's answer kept for an error message.
pub const ERROR_TEXT_LIMIT: usize = 4 * 1024;

pub const CALL_ID: &str = "X-Call-Id";
pub const FUNCTION_STATUS: &str = "X-Function-Status";
pub const FUNCTION_NAME: &str = "X-Function-Name";
pub const DURATION_SECONDS: &str = "X-Duration-Seconds";
pub const RETRY: &str = "X-Retry";
pub const RETRY_MAX: &str = "X-Retry-Max";

/// What a callback says about one run of a function.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackReport {
    pub call_id: String,
    pub function: Option<String>,
    /// The function's HTTP status, 100..=599.
    pub status: u16,
    pub duration_seconds: Option<f64>,
    /// OpenFaaS Pro's attempt counter, when present.
    pub attempt: Option<Attempt>,
    /// The bounded output (see the module documentation).
    pub output: Value,
    pub output_truncated: bool,
    /// The end of the body as text, for error messages.
    pub error_text: String,
}

/// OpenFaaS Pro's `X-Retry` / `X-Retry-Max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub retry: u32,
    pub max: u32,
}

impl Attempt {
    /// Whether OpenFaaS will try again after this attempt if its status is retryable.
    pub fn more_to_come(self) -> bool {
        self.retry < self.max
    }
}

impl CallbackReport {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Refuses a callback whose `X-Call-Id` is not the call its token was issued for.
    pub fn check_call_id(&self, claims: &Claims) -> Result<(), CallbackError> {
        if self.call_id == claims.call_id {
            Ok(())
        } else {
            Err(CallbackError::CallIdMismatch {
                token: claims.call_id.clone(),
                header: self.call_id.clone(),
            })
        }
    }
}

/// Why a callback could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("Expected header '{0}' in the callback, but it is missing")]
    MissingHeader(&'static str),
    #[error("Expected header '{header}' of the callback to be {expected}, but found '{found}'")]
    InvalidHeader {
        header: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error(
        "Expected a callback for call '{token}' (its token's), but header X-Call-Id is '{header}'"
    )]
    CallIdMismatch { token: String, header: String },
}

/// Reads a callback's headers and body, keeping at most [`OUTPUT_LIMIT`] bytes of output.
pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<CallbackReport, CallbackError> {
    parse_with_limit(headers, body, OUTPUT_LIMIT)
}

/// [`parse`] with another bound on the output than [`OUTPUT_LIMIT`] (a deployment's setting). The bound applies
/// as [`OUTPUT_LIMIT`] does in the module documentation.
pub fn parse_with_limit(
    headers: &HeaderMap,
    body: &[u8],
    output_limit: usize,
) -> Result<CallbackReport, CallbackError> {
    let call_id = text(headers, CALL_ID)?
        .filter(|id| !id.is_empty())
        .ok_or(CallbackError::MissingHeader(CALL_ID))?;
    let status_text =
        text(headers, FUNCTION_STATUS)?.ok_or(CallbackError::MissingHeader(FUNCTION_STATUS))?;
    let status = status_text
        .parse::<u16>()
        .ok()
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| {
            invalid(
                FUNCTION_STATUS,
                "an HTTP status between 100 and 599",
                &status_text,
            )
        })?;
    let function = text(headers, FUNCTION_NAME)?.filter(|f| !f.is_empty());
    let duration_seconds = text(headers, DURATION_SECONDS)
        .ok()
        .flatten()
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d >= 0.0);
    let attempt = match (counter(headers, RETRY)?, counter(headers, RETRY_MAX)?) {
        (None, None) => None,
        (Some(retry), Some(max)) => Some(Attempt { retry, max }),
        (Some(_), None) => return Err(CallbackError::MissingHeader(RETRY_MAX)),
        (None, Some(_)) => return Err(CallbackError::MissingHeader(RETRY)),
    };
    let (output, output_truncated) = output(headers, body, output_limit);
    Ok(CallbackReport {
        call_id,
        function,
        status,
        duration_seconds,
        attempt,
        output,
        output_truncated,
        error_text: tail_text(body, ERROR_TEXT_LIMIT),
    })
}

fn invalid(header: &'static str, expected: &'static str, found: &str) -> CallbackError {
    CallbackError::InvalidHeader {
        header,
        expected,
        found: found.chars().take(64).collect(),
    }
}

/// The trimmed text of header `name`; a value that is not visible ASCII is invalid.
fn text(headers: &HeaderMap, name: &'static str) -> Result<Option<String>, CallbackError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim().to_owned()))
            .map_err(|_| {
                invalid(
                    name,
                    "visible ASCII text",
                    &String::from_utf8_lossy(value.as_bytes()),
                )
            }),
    }
}

fn counter(headers: &HeaderMap, name: &'static str) -> Result<Option<u32>, CallbackError> {
    text(headers, name)?
        .map(|t| {
            t.parse::<u32>()
                .map_err(|_| invalid(name, "a whole number", &t))
        })
        .transpose()
}

fn output(headers: &HeaderMap, body: &[u8], limit: usize) -> (Value, bool) {
    if body.is_empty() {
        return (Value::Null, false);
    }
    if body.len() <= limit {
        let says_json = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            if says_json || value.is_object() || value.is_array() {
                return (value, false);
            }
        }
    }
    let cut = prefix_end(body, limit);
    (
        Value::String(String::from_utf8_lossy(&body[..cut]).into_owned()),
        body.len() > limit,
    )
}

/// The end of the longest prefix of at most `limit` bytes that does not split a UTF-8 character.
fn prefix_end(bytes: &[u8], limit: usize) -> usize {
    if bytes.len() <= limit {
        return bytes.len();
    }
    let mut cut = limit;
    // A continuation byte (0b10xx_xxxx) at the cut means a character straddles it: leave that character out.
    while cut > 0 && limit - cut < 3 && bytes[cut] & 0xC0 == 0x80 {
        cut -= 1;
    }
    cut
}

/// The last `limit` bytes (at most) as text, starting on a character boundary.
pub(crate) fn tail_text(bytes: &[u8], limit: usize) -> String {
    let mut start = bytes.len().saturating_sub(limit);
    let first = start;
    while start < bytes.len() && start - first < 3 && bytes[start] & 0xC0 == 0x80 {
        start += 1;
    }
    String::from_utf8_lossy(&bytes[start..]).trim().to_owned()
}

#[cfg(test)]
#[path = "callback_tests.rs"]
mod tests;
