//! HTTP function mode (of-watchdog `http` mode, or the local runtime): `POST` a body `{"argv": ["normalize-product",
//! "--in_ms", ..., "--in_ortho", ..., "--out", ...]}` (the worker's `cmdline` task body) on any path.
//!
//! Contract: 200 with `{"outputs": [OUT], "durationSeconds": s, "bands": [{"min", "max", "validPixels"}]}`; 500 with the
//! error sentence (text/plain) when the normalization fails; 400 when the body or its argv cannot be a request, or
//! when a path is not where a call may read or write: `--in_ms` and `--in_ortho` must exist inside a data root and
//! `--out` must be inside one (a new file through its parent), by the policy every Apsis function applies
//! (`apsis_function_kit::roots`: no `..`, symlinks resolved, relative paths taken from the first root). A refused
//! call reads and writes nothing; the sentence names the argument and the roots.
//! One normalization runs at a time (each one already uses the machine's cores and a bounded amount of memory, so a
//! second one in parallel would only double the memory); the others wait their turn.

use std::sync::Arc;

use apsis_function_kit::{DataRoots, Refusal};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use clap::Parser;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::{normalize, Request};

#[derive(Debug, Deserialize)]
struct Body {
    argv: Vec<String>,
}

#[derive(Debug, Clone)]
struct Shared {
    /// Held while a normalization runs.
    turn: Arc<Mutex<()>>,
    roots: Arc<DataRoots>,
}

/// The function's routes: every `POST` is a call on files inside `roots`; anything else gets 405.
pub fn router(roots: DataRoots) -> Router {
    let shared = Shared {
        turn: Arc::default(),
        roots: Arc::new(roots),
    };
    Router::new().fallback(handle).with_state(shared)
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
    let request = match parse(&body).and_then(|r| confine(&shared.roots, r).map_err(|e| e.0)) {
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

/// `request` with its paths checked against `roots` (relative ones taken from the first root): the inputs must exist
/// inside a root, the output must be inside one.
fn confine(roots: &DataRoots, mut request: Request) -> Result<Request, Refusal> {
    request.in_ms = roots.check_input("--in_ms", &request.in_ms)?;
    request.in_ortho = roots.check_input("--in_ortho", &request.in_ortho)?;
    request.out = roots.check_path("--out", &request.out)?;
    Ok(request)
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

    #[test]
    fn confines_every_path_and_names_the_argument_and_the_roots() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("ms.tif"), b"x").unwrap();
        std::fs::write(root.join("ortho.tif"), b"x").unwrap();
        let roots = DataRoots::parse(root.to_str().unwrap(), "a test").unwrap();
        let request = |ms: &str, ortho: &str, out: &str| {
            let argv = serde_json::json!({"argv": ["normalize-product", "--in_ms", ms, "--in_ortho", ortho, "--out", out]});
            parse(argv.to_string().as_bytes()).unwrap()
        };
        let ms = root.join("ms.tif").display().to_string();
        // Relative paths are taken from the first root; absolute ones inside stay as given.
        let r = confine(&roots, request(&ms, "ortho.tif", "out.tif")).unwrap();
        assert_eq!(
            (r.in_ms, r.in_ortho, r.out),
            (
                root.join("ms.tif"),
                root.join("ortho.tif"),
                root.join("out.tif")
            )
        );
        for (ms, ortho, out, named) in [
            (
                "/etc/passwd",
                "ortho.tif",
                "out.tif",
                "'/etc/passwd' of --in_ms",
            ),
            (
                "ms.tif",
                "missing.tif",
                "out.tif",
                "'missing.tif' of --in_ortho",
            ),
            (
                "ms.tif",
                "ortho.tif",
                "/tmp/../etc/out.tif",
                "'/tmp/../etc/out.tif' of --out",
            ),
            (
                "ms.tif",
                "ortho.tif",
                "nodir/out.tif",
                "'nodir/out.tif' of --out",
            ),
        ] {
            let e = confine(&roots, request(ms, ortho, out)).unwrap_err().0;
            assert!(
                e.starts_with(&format!(
                    "Expected the path {named} to be inside the data roots ({})",
                    root.display()
                )),
                "{e}"
            );
        }
    }
}
