//! The OpenFaaS header names, and what a proxy must not pass along.

use http::header::{self, HeaderName};
use http::HeaderMap;

pub const CALL_ID: &str = "x-call-id";
pub const CALLBACK_URL: &str = "x-callback-url";
pub const START_TIME: &str = "x-start-time";
pub const FUNCTION_STATUS: &str = "x-function-status";
pub const FUNCTION_NAME: &str = "x-function-name";
pub const DURATION_SECONDS: &str = "x-duration-seconds";
pub const SERVED_BY: &str = "x-served-by";

/// Headers that belong to one connection (RFC 9110 7.6.1), plus the ones the HTTP client sets itself.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::HOST,
    header::CONTENT_LENGTH,
];

/// `headers` without hop-by-hop ones (and `Keep-Alive`, and any a `Connection` header names).
pub(crate) fn without_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    let mut kept = headers.clone();
    for name in HOP_BY_HOP {
        kept.remove(name);
    }
    kept.remove("keep-alive");
    for name in named {
        kept.remove(name.as_str());
    }
    kept
}
