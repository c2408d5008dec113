//! The run endpoint: parse `{"argv": [...]}`, refuse what may not run (400, nothing ran), wait for a run slot, run,
//! judge the run and its outputs (500 with the reason and the log's tail), or report the outputs (200).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tracing::{error, field, info, info_span, warn, Instrument};

use crate::metrics::{self, Outcome};
use crate::run::{self, Failure};
use crate::service::Shared;
use crate::validate::{self, Rejection};

/// The header carrying the call id (OpenFaaS, the local runtime, the worker).
pub const CALL_ID: &str = "x-call-id";

#[derive(Debug, Deserialize)]
struct RunRequest {
    argv: Vec<String>,
}

pub(crate) async fn handle(
    State(shared): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call_id = headers
        .get(CALL_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let span = info_span!("run", function = "otbcli", call_id = %call_id, app = field::Empty);
    async move {
        if method != Method::POST {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                Json(json!({"error": format!("Expected a POST with {{\"argv\": [...]}}, but got a {method}")})),
            )
                .into_response();
        }
        let argv = match serde_json::from_slice::<RunRequest>(&body) {
            Ok(request) => request.argv,
            Err(e) => {
                return refuse("invalid", Rejection(format!(
                    "Expected a JSON body {{\"argv\": [\"otbcli_<App>\", ...]}}, but it could not be read: {e}"
                )))
            }
        };
        let checked = match validate::check_argv(&argv, &shared.bin_dir, &shared.confinement) {
            Ok(checked) => checked,
            Err(rejection) => {
                let app = argv.first().filter(|a| shared.bin_dir.join(a).is_file() && a.starts_with("otbcli_"));
                return refuse(app.map_or("invalid", String::as_str), rejection);
            }
        };
        tracing::Span::current().record("app", checked.app.as_str());
        // One run at a time by default: OTB uses every core. Later requests wait here, in arrival order.
        let _permit = shared.slots.acquire().await;
        let help = shared.help.get(&checked.program, shared.run.timeout).await;
        let plan = validate::plan(checked, &help, shared.run.otb_ram_mb, shared.confinement.workdir());
        info!(args = ?plan.args, "running");
        metrics::running(1.0);
        let settings = &shared.run;
        let ran = run::run(&plan, settings).await;
        metrics::running(-1.0);
        let ran = match ran {
            Ok(ran) => ran,
            Err(e) => {
                let failure = Failure {
                    sentence: format!("Expected to start {}, but it could not be started: {e}", plan.app),
                    timed_out: false,
                };
                return fail(&plan.app, failure, Vec::new(), Duration::ZERO);
            }
        };
        if let Err(failure) = ran.verdict(&plan.app, settings.timeout) {
            return fail(&plan.app, failure, ran.log_tail, ran.took);
        }
        let mut outputs = Vec::new();
        for output in &plan.outputs {
            match crate::gdal::check(output).await {
                Ok(info) => outputs.push(info),
                Err(reason) => {
                    let failure = Failure {
                        sentence: format!("Expected {} to write its outputs, but {reason}", plan.app),
                        timed_out: false,
                    };
                    return fail(&plan.app, failure, ran.log_tail, ran.took);
                }
            }
        }
        metrics::run(&plan.app, Outcome::Succeeded, Some(ran.took));
        info!(seconds = ran.took.as_secs_f64(), outputs = outputs.len(), "succeeded");
        (
            StatusCode::OK,
            Json(json!({
                "outputs": outputs,
                "durationSeconds": ran.took.as_secs_f64(),
                "logTail": ran.log_tail,
            })),
        )
            .into_response()
    }
    .instrument(span)
    .await
}

fn refuse(app: &str, rejection: Rejection) -> Response {
    warn!(reason = %rejection.0, "refused");
    metrics::run(app, Outcome::Refused, None);
    (StatusCode::BAD_REQUEST, Json(json!({"error": rejection.0}))).into_response()
}

fn fail(app: &str, failure: Failure, log_tail: Vec<String>, took: Duration) -> Response {
    error!(reason = %failure.sentence, seconds = took.as_secs_f64(), "failed");
    let outcome = if failure.timed_out {
        Outcome::TimedOut
    } else {
        Outcome::Failed
    };
    metrics::run(app, outcome, Some(took));
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": failure.sentence, "logTail": log_tail})),
    )
        .into_response()
}
