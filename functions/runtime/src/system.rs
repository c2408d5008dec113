//! `/system/functions` and `/system/function/{name}`: the functions in OpenFaaS's `FunctionStatus` shape.
//!
//! `replicas` and `availableReplicas` are 1 while the function's process accepts connections, else 0;
//! `invocationCount` counts invocations since the runtime started (sync and async, whatever their status).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde_json::{json, Value};

use crate::gateway::Gateway;
use crate::invoke::Function;
use crate::process::Upstream;

pub(crate) async fn list(State(gateway): State<Arc<Gateway>>) -> Json<Vec<Value>> {
    Json(
        gateway
            .functions
            .values()
            .map(|entry| status(&entry.function, &gateway.namespace))
            .collect(),
    )
}

pub(crate) async fn one(State(gateway): State<Arc<Gateway>>, Path(name): Path<String>) -> Response {
    match gateway.functions.get(&name) {
        Some(entry) => Json(status(&entry.function, &gateway.namespace)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("Expected a function named '{name}', but there is none"),
        )
            .into_response(),
    }
}

fn status(function: &Function, namespace: &str) -> Value {
    let spec = &function.spec;
    let replicas = u32::from(matches!(*function.upstream.borrow(), Upstream::Up { .. }));
    json!({
        "name": spec.name,
        "image": spec.image,
        "namespace": namespace,
        "envProcess": spec.argv.join(" "),
        "envVars": spec.environment,
        "labels": spec.labels,
        "annotations": spec.annotations,
        "limits": spec.limits,
        "requests": spec.requests,
        "invocationCount": function.invocations.load(Ordering::Relaxed),
        "replicas": replicas,
        "availableReplicas": replicas,
    })
}
