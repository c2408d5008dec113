//! HTTP function mode (of-watchdog `http` mode, or the local runtime): `POST` a body `{"argv": ["normalize-product",
//! "--in_ms", ..., "--in_ortho", ..., "--out", ...]}` (the worker's `cmdline` task body) on any path.
//!
//! Contract: 200 with `{"outputs": [OUT], "durationSeconds": s, "bands": [{"min", "max", "validPixels"}]}`; 500 with the
//! error sentence (text/plain) when the normalization fails; 400 when the body or its argv cannot be a request.
//! One normalization runs at a time (each one already uses the machine's cores and a bounded amount of memory, so a
//! second one in parallel would only double the memory); the others wait their turn.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use clap::Parser;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::{normalize, Request};

/// The default address: of-watchdog's `upstream_url` in the Dockerfile.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8082";

#[derive(Debug, Deserialize)]
struct Body {
    argv: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct Shared {
    /// Held while a normalization runs.
    turn: Arc<Mutex<()>>,
}

/// The function's routes: every `POST` is a call; anything else gets 405.
pub fn router() -> Router {
    Router::new().fallback(handle).with_state(Shared::default())
}

/// Serves calls on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router()).await
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call_id = headers
        .get("X-Call-Id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if method != Method::POST {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Expected a POST with an argv body, but found {method}\n"),
        );
    }
    let request = match parse(&body) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(call_id, error = %e, "refused the call");
            return text(StatusCode::BAD_REQUEST, format!("{e}\n"));
        }
    };
    let _turn = shared.turn.lock().await;
    tracing::info!(call_id, in_ms = %request.in_ms.display(), in_ortho = %request.in_ortho.display(),
        out = %request.out.display(), "normalizing");
    let outcome = tokio::task::spawn_blocking(move || normalize(&request)).await;
    match outcome {
        Ok(Ok(report)) => {
            tracing::info!(
                call_id,
                duration_seconds = report.duration_seconds,
                "normalized"
            );
            match serde_json::to_vec(&report) {
                Ok(json) => (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    json,
                )
                    .into_response(),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
            }
        }
        Ok(Err(e)) => {
            tracing::error!(call_id, error = %e, "normalization failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"))
        }
        Err(e) => {
            tracing::error!(call_id, error = %e, "normalization panicked");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Expected the normalization to finish, but it panicked: {e}\n"),
            )
        }
    }
}

/// The request an `{"argv": [...]}` body asks for, or the sentence saying why it cannot be one.
fn parse(body: &[u8]) -> Result<Request, String> {
    let body: Body = serde_json::from_slice(body).map_err(|e| {
        format!("Expected a JSON body {{\"argv\": [\"normalize-product\", ...]}}, but it does not parse: {e}")
    })?;
    match body.argv.first().map(String::as_str) {
        Some(p) if p.rsplit('/').next() == Some("normalize-product") => {}
        other => {
            return Err(format!(
                "Expected argv[0] to be normalize-product, but found {}",
                other.map_or("nothing".to_owned(), |p| format!("'{p}'"))
            ))
        }
    }
    Request::try_parse_from(&body.argv).map_err(|e| {
        format!(
            "Expected argv to be normalize-product's arguments, but {}",
            e.render().to_string().trim()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_worker_body() {
        let r = parse(br#"{"argv": ["normalize-product", "--in_ms", "a.tif", "--in_ortho", "b.tif", "--out", "c.tif", "--output", "uint16"]}"#)
            .unwrap();
        assert_eq!(r.in_ms.to_str(), Some("a.tif"));
        assert_eq!(r.output, crate::OutputKind::UInt16);
    }

    #[test]
    fn refuses_other_programs_and_missing_flags() {
        let e = parse(br#"{"argv": ["otbcli_BandMath", "--out", "c.tif"]}"#).unwrap_err();
        assert!(e.contains("'otbcli_BandMath'"), "{e}");
        let e = parse(br#"{"argv": ["normalize-product", "--out", "c.tif"]}"#).unwrap_err();
        assert!(e.contains("--in_ms"), "{e}");
        let e = parse(b"not json").unwrap_err();
        assert!(e.starts_with("Expected a JSON body"), "{e}");
    }
}
