//! The callback endpoint: refuse what cannot be trusted or read (401/400, nothing done), decide with
//! `outcome::on_callback`, then answer 202 at once and carry the decision out in the background, or, with
//! `act_before_answer`, answer only once the gateway has acknowledged it (503 if it did not).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apsis_worker_faas::callback::{self, CALL_ID};
use apsis_worker_faas::outcome::{self, CallbackDecision, Settlement};
use apsis_worker_faas::token;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, Uri};
use tracing::{error, field, info, info_span, warn, Instrument};

use crate::gateway::{ActError, Action};
use crate::metrics::{self, Outcome};
use crate::service::Shared;

/// Any path, POST: an OpenFaaS queue-worker callback.
pub(crate) async fn callback(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Expected a POST (an OpenFaaS callback), but got a {method}\n"),
        )
            .into_response();
    }
    let claimed_call_id = headers
        .get(CALL_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let token = uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(name, _)| name == "token")
            .map(|(_, value)| value.into_owned())
    });
    let Some(token) = token else {
        return refuse(
            Outcome::RefusedToken,
            &claimed_call_id,
            "Expected a 'token' query parameter in the callback URL, but there is none".to_owned(),
        );
    };
    let now = unix_now();
    let claims = match token::verify(&token, &shared.key, now) {
        Ok(claims) => claims,
        Err(e) => return refuse(Outcome::RefusedToken, &claimed_call_id, e.to_string()),
    };
    let span = info_span!(
        "callback",
        call_id = %claims.call_id,
        job_key = claims.job_key,
        function = field::Empty,
        process_instance_key = field::Empty,
    );
    if let Some(key) = claims.trace.process_instance_key {
        span.record("process_instance_key", key);
    }
    if let Some(function) = &claims.trace.function {
        span.record("function", function.as_str());
    }
    async move {
        let body = match crate::body::head_and_tail(body, shared.max_output_bytes).await {
            Ok(body) => body,
            Err(e) => {
                let reason = format!("Expected to read the callback body, but {e}");
                return refuse(Outcome::RefusedRequest, &claims.call_id, reason);
            }
        };
        let report = match callback::parse_with_limit(&headers, &body, shared.max_output_bytes)
            .and_then(|report| report.check_call_id(&claims).map(|()| report))
        {
            Ok(report) => report,
            Err(e) => return refuse(Outcome::RefusedRequest, &claims.call_id, e.to_string()),
        };
        if let (Some(function), None) = (&report.function, &claims.trace.function) {
            tracing::Span::current().record("function", function.as_str());
        }
        // Invocation (the worker's clock, in the token) to callback (ours): what the workflow waited.
        if let Some(invoked_at_ms) = claims.trace.invoked_at_ms {
            let function = claims
                .trace
                .function
                .clone()
                .or_else(|| report.function.clone())
                .unwrap_or_default();
            let waited_ms = unix_now_ms().saturating_sub(invoked_at_ms);
            metrics::callback_latency(function, Duration::from_millis(waited_ms));
        }
        let action = match outcome::on_callback(&claims, &report, &shared.policy, now) {
            CallbackDecision::Publish(p) => Action::Publish(p),
            CallbackDecision::Complete(c) => Action::Complete(c),
            CallbackDecision::Fail(f) => Action::Fail(f),
            CallbackDecision::AwaitLastAttempt { retry, max } => {
                metrics::callback(Outcome::AwaitingLastAttempt);
                info!(
                    status = report.status,
                    retry,
                    max,
                    "OpenFaaS will call the function again; waiting for its last attempt"
                );
                return accepted();
            }
        };
        if !shared.seen.first(&claims.call_id) {
            metrics::callback(Outcome::Duplicate);
            info!(
                status = report.status,
                "A duplicate of a callback already acted on here"
            );
            return accepted();
        }
        info!(
            status = report.status,
            command = action_name(&action),
            "Callback accepted"
        );
        let work = act(shared.clone(), action, claims.call_id.clone());
        if !shared.act_before_answer {
            shared.tracker.spawn(work.in_current_span());
            return accepted();
        }
        match work.await {
            Ok(()) => accepted(),
            Err(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("Expected to act on the callback, but {e}\n"),
            )
                .into_response(),
        }
    }
    .instrument(span)
    .await
}

/// Carries out `action` and records what became of it.
async fn act(shared: Shared, action: Action, call_id: String) -> Result<(), ActError> {
    let what = action_name(&action);
    match shared.zeebe.carry_out(&action).await {
        Ok(Settlement::AlreadyDone) => {
            metrics::callback(Outcome::Duplicate);
            info!(
                command = what,
                "An earlier callback for this call already acted"
            );
            Ok(())
        }
        Ok(_) => {
            let outcome = match action {
                Action::Publish(_) => Outcome::Published,
                Action::Complete(_) => Outcome::Completed,
                Action::Fail(_) => Outcome::Failed,
            };
            metrics::callback(outcome);
            info!(
                command = what,
                outcome = outcome.label(),
                "Callback acted on"
            );
            Ok(())
        }
        Err(e) => {
            shared.seen.forget(&call_id);
            metrics::callback(Outcome::GatewayError);
            error!(
                command = what,
                "Expected to {what} for the callback, but {e}"
            );
            Err(e)
        }
    }
}

fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Publish(_) => "publish the message",
        Action::Complete(_) => "complete the job",
        Action::Fail(_) => "fail the job",
    }
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, "accepted\n").into_response()
}

/// A callback that is not acted on: counted, logged with the call id it claims, answered with one line.
fn refuse(outcome: Outcome, call_id: &str, reason: String) -> Response {
    metrics::callback(outcome);
    warn!(
        call_id,
        outcome = outcome.label(),
        "Refused a callback: {reason}"
    );
    let status = match outcome {
        Outcome::RefusedToken => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, format!("{reason}\n")).into_response()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
