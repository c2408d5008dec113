//! The HTTP side: the OpenFaaS gateway routes on loopback.
//!
//! `/function/{name}[/{path}]` (any method) answers with the function's answer; `/async-function/{name}[/{path}]`
//! (POST) answers 202 at once and queues the call; `/system/functions`, `/system/function/{name}`, `/healthz`, and
//! `/metrics` when the binary installed a recorder. `{name}` may carry the namespace (`name.openfaas-fn`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use tracing::info;
use url::Url;

use crate::headers::{CALLBACK_URL, CALL_ID, DURATION_SECONDS, SERVED_BY, START_TIME};
use crate::invoke::{Function, Invocation, Outcome};
use crate::queue::{Call, Job, Queue};
use crate::{metrics, system, MetricsRender};

/// The value of `X-Served-By`.
const SERVED_BY_VALUE: &str = concat!("apsis-faas-local/", env!("CARGO_PKG_VERSION"));

/// A function with its queue.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) function: Arc<Function>,
    pub(crate) queue: Queue,
}

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct Gateway {
    pub(crate) functions: BTreeMap<String, Entry>,
    pub(crate) client: reqwest::Client,
    pub(crate) namespace: String,
    pub(crate) max_async_body: usize,
    pub(crate) max_sync_body: usize,
    pub(crate) metrics: Option<MetricsRender>,
}

impl Gateway {
    /// The function called `name` or `name.<namespace>`.
    fn lookup(&self, called_as: &str) -> Option<&Entry> {
        let name = match called_as.split_once('.') {
            None => called_as,
            Some((name, namespace)) if namespace == self.namespace => name,
            Some(_) => return None,
        };
        self.functions.get(name)
    }
}

pub(crate) fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/function/{name}", any(sync))
        .route("/function/{name}/", any(sync))
        .route("/function/{name}/{*path}", any(sync))
        .route("/async-function/{name}", post(asynchronous))
        .route("/async-function/{name}/", post(asynchronous))
        .route("/async-function/{name}/{*path}", post(asynchronous))
        .route("/system/functions", get(system::list))
        .route("/system/function/{name}", get(system::one))
        .route("/healthz", get(|| async { "OK" }))
        .route("/metrics", get(metrics_page))
        .with_state(gateway)
}

async fn sync(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some((called_as, path)) = split(parts.uri.path(), "/function/") else {
        return text(StatusCode::NOT_FOUND, "Expected a function path".into());
    };
    let Some(entry) = gateway.lookup(called_as) else {
        return unknown(called_as);
    };
    let mut headers = parts.headers;
    let stamp = Stamp::on(&mut headers);
    let function = &entry.function;
    let Some(slot) = function.try_slot() else {
        metrics::invocation(&function.spec.name, "sync", 429, Duration::ZERO);
        info!(function = called_as, call_id = %stamp.call_id, status = 429, "over max_inflight");
        let limit = function.spec.max_inflight.unwrap_or_default();
        return stamp.onto(text(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Expected at most {limit} requests in flight for function '{called_as}', but all slots are taken"),
        ));
    };
    let body = match to_bytes(body, gateway.max_sync_body).await {
        Ok(body) => body,
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Expected a request body of at most {} bytes, but it is larger",
                    gateway.max_sync_body
                ),
            )
        }
    };
    let invocation = Invocation {
        method: parts.method,
        path_and_query: with_query(path, parts.uri.query()),
        headers,
        body,
    };
    let (outcome, took) = function
        .invoke(&gateway.client, invocation, "sync", &slot)
        .await;
    drop(slot);
    let status = outcome.status();
    info!(function = called_as, call_id = %stamp.call_id, status = status.as_u16(),
        duration_seconds = took.as_secs_f64(), "sync call ended");
    let mut response = match outcome {
        Outcome::Answered { status, headers, body } => {
            let mut response = (status, body).into_response();
            *response.headers_mut() = headers;
            response
        }
        Outcome::Unreachable(message) => text(status, message),
        Outcome::TimedOut(limit) => text(
            status,
            format!("Expected function '{called_as}' to answer within its exec_timeout of {limit:?}, but it did not"),
        ),
    };
    set(
        response.headers_mut(),
        DURATION_SECONDS,
        format!("{:.6}", took.as_secs_f64()),
    );
    stamp.onto(response)
}

async fn asynchronous(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some((called_as, path)) = split(parts.uri.path(), "/async-function/") else {
        return text(StatusCode::NOT_FOUND, "Expected a function path".into());
    };
    let Some(entry) = gateway.lookup(called_as) else {
        return unknown(called_as);
    };
    let mut headers = parts.headers;
    let callback = match headers.get(CALLBACK_URL).map(callback_url) {
        None => None,
        Some(Ok(url)) => Some(url),
        Some(Err(found)) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "Expected X-Callback-Url to be an absolute http(s) URL, but found '{found}'"
                ),
            )
        }
    };
    // OpenFaaS CE answers 500 to an asynchronous body over its limit.
    let Ok(body) = to_bytes(body, gateway.max_async_body).await else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "Expected an asynchronous request body of at most {} bytes, but it is larger",
                gateway.max_async_body
            ),
        );
    };
    let stamp = Stamp::on(&mut headers);
    let job = Job {
        call: Call {
            called_as: called_as.to_string(),
            call_id: stamp.call_id.clone(),
            callback,
        },
        invocation: Invocation {
            method: parts.method,
            path_and_query: with_query(path, parts.uri.query()),
            headers,
            body,
        },
    };
    if entry.queue.push(job).is_err() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "Expected to queue the call, but the runtime is stopping".into(),
        );
    }
    info!(function = called_as, call_id = %stamp.call_id, "async call accepted");
    stamp.onto(StatusCode::ACCEPTED.into_response())
}

async fn metrics_page(State(gateway): State<Arc<Gateway>>) -> Response {
    match &gateway.metrics {
        Some(render) => (
            [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            render.render(),
        )
            .into_response(),
        None => text(
            StatusCode::NOT_FOUND,
            "Expected a metrics recorder, but none is installed".into(),
        ),
    }
}

/// The call id and start time the gateway stamps on a request, as OpenFaaS's call-id middleware does.
struct Stamp {
    call_id: String,
    generated: bool,
    start_ns: String,
}

impl Stamp {
    /// Reads the client's `X-Call-Id` or makes one (a UUID), and stamps both headers on the request.
    fn on(headers: &mut HeaderMap) -> Stamp {
        let sent = headers
            .get(CALL_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty());
        let (call_id, generated) = match sent {
            Some(id) => (id.to_string(), false),
            None => (uuid::Uuid::new_v4().to_string(), true),
        };
        let start_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_string();
        set(headers, CALL_ID, call_id.clone());
        set(headers, START_TIME, start_ns.clone());
        Stamp {
            call_id,
            generated,
            start_ns,
        }
    }

    /// `X-Call-Id` only when generated (a client's own is not echoed), `X-Start-Time`, `X-Served-By`.
    fn onto(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        if self.generated {
            set(headers, CALL_ID, self.call_id.clone());
        }
        set(headers, START_TIME, self.start_ns.clone());
        set(headers, SERVED_BY, SERVED_BY_VALUE.to_string());
        response
    }
}

fn callback_url(value: &HeaderValue) -> Result<Url, String> {
    let text = value
        .to_str()
        .map_err(|_| String::from_utf8_lossy(value.as_bytes()).into_owned())?;
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        _ => Err(text.to_string()),
    }
}

/// `("name", "/sub/path")` from `/function/name/sub/path`.
fn split<'a>(path: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let rest = path.strip_prefix(prefix)?;
    Some(match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    })
}

fn with_query(path: &str, query: Option<&str>) -> String {
    let path = if path.is_empty() { "/" } else { path };
    match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    }
}

fn unknown(called_as: &str) -> Response {
    text(
        StatusCode::NOT_FOUND,
        format!("Expected a function named '{called_as}', but there is none"),
    )
}

fn text(status: StatusCode, message: String) -> Response {
    (status, Bytes::from(message)).into_response()
}

fn set(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_function_name_from_its_path() {
        assert_eq!(split("/function/echo", "/function/"), Some(("echo", "")));
        assert_eq!(split("/function/echo/", "/function/"), Some(("echo", "/")));
        assert_eq!(
            split("/function/echo/a/b", "/function/"),
            Some(("echo", "/a/b"))
        );
        assert_eq!(with_query("", Some("x=1")), "/?x=1");
        assert_eq!(with_query("/a", None), "/a");
    }

    #[test]
    fn callback_urls_must_be_absolute_http() {
        let ok = |s: &str| callback_url(&HeaderValue::from_str(s).unwrap()).is_ok();
        assert!(ok("http://127.0.0.1:9000/callback?token=v1.x"));
        assert!(ok("https://ack.example/"));
        assert!(!ok("not a url"));
        assert!(!ok("/relative"));
        assert!(!ok("ftp://host/x"));
        assert!(!ok("file:///etc/passwd"));
    }
}
