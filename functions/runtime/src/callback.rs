//! The callback a queue-worker sends once an asynchronous call has ended.
//!
//! `POST {X-Callback-Url}` with the function's raw response body and its response headers, plus `X-Call-Id` (the
//! call's), `X-Function-Status` (the function's HTTP status; 503 and an empty body when it could not be reached, 504
//! when it exceeded `exec_timeout`), `X-Function-Name` (as called) and `X-Duration-Seconds` (a float). OpenFaaS CE
//! sends a callback once and only logs a failure; this runtime tries [`ATTEMPTS`] times (after 0.5 s, then 1 s) when
//! the receiver cannot be reached or answers 408, 429 or 5xx, then logs it. Receivers must deduplicate on the call id.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use tracing::{info, warn};
use url::Url;

use crate::headers::{CALL_ID, DURATION_SECONDS, FUNCTION_NAME, FUNCTION_STATUS};
use crate::invoke::Outcome;
use crate::metrics;

/// Tries per callback.
pub const ATTEMPTS: u32 = 3;
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// What the callback reports about one call.
#[derive(Debug)]
pub(crate) struct Report<'a> {
    pub(crate) url: &'a Url,
    pub(crate) call_id: &'a str,
    /// The function name as called (`name` or `name.namespace`).
    pub(crate) function: &'a str,
    pub(crate) outcome: Outcome,
    pub(crate) duration: Duration,
}

/// The callback's headers and body for `report`.
pub(crate) fn message(report: &Report<'_>) -> (HeaderMap, Bytes) {
    let (status, mut headers, body) = match &report.outcome {
        Outcome::Answered { status, headers, body } => (*status, headers.clone(), body.clone()),
        Outcome::Unreachable(_) => (StatusCode::SERVICE_UNAVAILABLE, HeaderMap::new(), Bytes::new()),
        Outcome::TimedOut(limit) => (
            StatusCode::GATEWAY_TIMEOUT,
            HeaderMap::new(),
            Bytes::from(format!(
                "Expected function '{}' to answer within its exec_timeout of {limit:?}, but it did not",
                report.function
            )),
        ),
    };
    let set = |headers: &mut HeaderMap, name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    };
    set(&mut headers, CALL_ID, report.call_id.to_string());
    set(&mut headers, FUNCTION_STATUS, status.as_u16().to_string());
    set(&mut headers, FUNCTION_NAME, report.function.to_string());
    set(
        &mut headers,
        DURATION_SECONDS,
        format!("{:.6}", report.duration.as_secs_f64()),
    );
    (headers, body)
}

/// Sends the callback, retrying as the module says; the outcome is logged and counted, never returned.
pub(crate) async fn deliver(client: &reqwest::Client, report: Report<'_>) {
    let (headers, body) = message(&report);
    let (function, call_id, url) = (report.function, report.call_id, report.url);
    let status = report.outcome.status().as_u16();
    let mut wait = FIRST_RETRY;
    for attempt in 1..=ATTEMPTS {
        let sent = client
            .post(url.clone())
            .headers(headers.clone())
            .body(body.clone())
            .send()
            .await;
        let problem = match sent {
            Ok(r) if !retryable(r.status()) => {
                let delivered = r.status().is_success();
                if delivered {
                    info!(function, call_id, %url, status, callback_status = r.status().as_u16(), attempt, "callback delivered");
                } else {
                    warn!(function, call_id, %url, status, callback_status = r.status().as_u16(), attempt,
                        "Expected the callback receiver to accept the callback, but it answered {}", r.status());
                }
                metrics::callback(function, delivered);
                return;
            }
            Ok(r) => format!("it answered {}", r.status()),
            Err(e) => crate::error::chain(&e),
        };
        if attempt == ATTEMPTS {
            warn!(function, call_id, %url, status, attempt,
                "Expected to deliver the callback, but {problem}; giving up after {ATTEMPTS} attempts");
            metrics::callback(function, false);
            return;
        }
        warn!(function, call_id, %url, status, attempt, retry_in_ms = wait.as_millis() as u64,
            "Expected to deliver the callback, but {problem}; retrying");
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}
