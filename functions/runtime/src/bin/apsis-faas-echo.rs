//! `apsis-faas-echo`: the test function. It follows the local function contract: listen on `APSIS_LISTEN`, exit
//! when stdin reaches EOF (the runtime is gone). Routes:
//!
//! - `/pid`: its process id;
//! - `/sleep?ms=N`: answers after N ms;
//! - `/status/{code}`: answers `code` with the body `failed with {code}`;
//! - `/crash`: exits at once with status 3, without answering;
//! - anything else: 200 with the request body, the content type, and `X-Echo-Path` (path and query),
//!   `X-Echo-Method`, `X-Echo-Call-Id`, `X-Echo-Env` (the value of `ECHO_GREETING`) and `X-Echo-Header-Names`.
//!
//! A body `{"argv": [verb, args...]}` (what apsis-worker-faas sends for a `cmdline` task) is also a script, for the
//! end-to-end tests: `fail MESSAGE` answers 500 with MESSAGE; `require PATH` answers 500 ("Expected the input PATH
//! to exist, but it does not") unless PATH exists, then echoes; `record PATH` appends the call id to PATH, then
//! echoes; `sleep MS` sleeps, then echoes. Any other argv is echoed.

use std::io::Read;
use std::time::Duration;

use axum::extract::{Path, Query, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use http::StatusCode;

fn main() {
    // The runtime holds our stdin open; EOF means it is gone, however it went.
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
    let address = std::env::var("APSIS_LISTEN").unwrap_or_else(|_| "127.0.0.1:8081".to_string());
    let greeting = std::env::var("ECHO_GREETING").unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&address).await.unwrap();
        println!("echo listening on {address}");
        let app = Router::new()
            .route("/pid", get(|| async { std::process::id().to_string() }))
            .route("/sleep", any(sleep))
            .route("/status/{code}", any(status))
            .route("/crash", any(crash))
            .fallback(move |request: Request| echo(request, greeting.clone()));
        axum::serve(listener, app).await.unwrap();
    });
}

async fn crash() -> &'static str {
    std::process::exit(3)
}

async fn sleep(Query(query): Query<std::collections::HashMap<String, u64>>) -> &'static str {
    let ms = query.get("ms").copied().unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "slept"
}

async fn status(Path(code): Path<u16>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, format!("failed with {code}")).into_response()
}

/// Runs an argv script (see the module doc); `None`: echo.
async fn script(body: &[u8], call_id: &str) -> Option<Response> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let argv: Vec<&str> = value["argv"]
        .as_array()?
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    match argv.as_slice() {
        ["fail", message, ..] => {
            Some((StatusCode::INTERNAL_SERVER_ERROR, message.to_string()).into_response())
        }
        ["require", path, ..] if !std::path::Path::new(path).exists() => Some(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Expected the input {path} to exist, but it does not"),
            )
                .into_response(),
        ),
        ["record", path, ..] => {
            use std::io::Write as _;
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{call_id}"));
            written.err().map(|e| {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot record: {e}"),
                )
                    .into_response()
            })
        }
        ["sleep", ms, ..] => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            None
        }
        _ => None,
    }
}

async fn echo(request: Request, greeting: String) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let call_id = parts
        .headers
        .get("x-call-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if let Some(answer) = script(&body, &call_id).await {
        return answer;
    }
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let names: Vec<&str> = parts.headers.keys().map(|k| k.as_str()).collect();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    };
    set("content-type", header("content-type"));
    set("x-echo-path", path);
    set("x-echo-method", parts.method.to_string());
    set("x-echo-call-id", header("x-call-id"));
    set("x-echo-env", greeting);
    set("x-echo-header-names", names.join(","));
    response
}
