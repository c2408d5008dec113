//! Reading what the API server said, without I/O: which errors are worth another attempt, what a 403 means in
//! RBAC terms, why a Job failed (its `Failed` condition, the container's terminated state) and the messages the
//! Zeebe job is failed with.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use super::spec::CONTAINER;
use crate::callback;

/// One kind of API call, named as an RBAC rule names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    pub verb: &'static str,
    /// `jobs.batch`, `pods`, `pods/log`.
    pub resource: &'static str,
}

pub const CREATE_JOB: Op = Op {
    verb: "create",
    resource: "jobs.batch",
};
pub const GET_JOB: Op = Op {
    verb: "get",
    resource: "jobs.batch",
};
pub const WATCH_JOB: Op = Op {
    verb: "list and watch",
    resource: "jobs.batch",
};
pub const DELETE_JOB: Op = Op {
    verb: "delete",
    resource: "jobs.batch",
};
pub const LIST_PODS: Op = Op {
    verb: "list",
    resource: "pods",
};
pub const GET_LOG: Op = Op {
    verb: "get",
    resource: "pods/log",
};

/// Every permission the backend needs, as the docs' Role grants them.
pub const PERMISSIONS: &str =
    "jobs.batch: create, get, list, watch, delete; pods: get, list; pods/log: get";

/// What an API error means for the call that got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// 5xx, 429, a lost connection, a watch that expired (410): try again after a backoff.
    Transient,
    /// 403: a missing RBAC permission.
    Forbidden,
    /// 409.
    Conflict,
    /// 404.
    NotFound,
    /// 400, 422 and the like: the request itself is wrong; trying again cannot help.
    Refused,
}

/// An API call's error, read: its class and a short description (`403 Forbidden: <the API server's message>`, or
/// the transport error with its causes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub class: Class,
    pub text: String,
}

impl ApiError {
    /// An answer of the API server.
    pub fn status(code: u16, reason: &str, message: &str) -> ApiError {
        let class = match code {
            // A ResourceQuota refuses with 403 too; it is not a missing permission, and frees up as other Jobs end.
            403 if message.contains("exceeded quota") => Class::Transient,
            403 => Class::Forbidden,
            404 => Class::NotFound,
            409 => Class::Conflict,
            408 | 410 | 429 | 500..=599 => Class::Transient,
            _ => Class::Refused,
        };
        ApiError {
            class,
            text: format!("{code} {reason}: {message}"),
        }
    }

    /// A client error: an API answer by its status; anything else (connection, TLS, a body cut short) is
    /// transient.
    pub fn from_client(e: &kube::Error) -> ApiError {
        match e {
            kube::Error::Api(status) => {
                ApiError::status(status.code, &status.reason, &status.message)
            }
            other => {
                let mut text = other.to_string();
                let mut cause = std::error::Error::source(other);
                while let Some(c) = cause {
                    text = format!("{text}: {c}");
                    cause = c.source();
                }
                ApiError {
                    class: Class::Transient,
                    text,
                }
            }
        }
    }
}

/// The message of a call refused for good (after the retries, for a transient error).
pub fn api_failure(
    function: &str,
    job_name: &str,
    namespace: &str,
    op: Op,
    e: &ApiError,
) -> String {
    let what = format!(
        "to {} {} in namespace '{namespace}' for Kubernetes Job '{job_name}' of function '{function}'",
        op.verb, op.resource
    );
    if e.class == Class::Forbidden {
        format!(
            "Expected the worker to be allowed {what}, but the API server refused: {}. Grant the worker's \
             service account the RBAC permission to {} {} (all it needs: {PERMISSIONS}; see docs/worker-faas.md, \
             \"Kubernetes backend\")",
            e.text, op.verb, op.resource
        )
    } else {
        format!("Expected {what}, but the API server answered {}", e.text)
    }
}

/// The Job's `Complete` or `Failed` condition, if it has one that holds.
pub fn finished(job: &Job) -> Option<(&'static str, Option<&str>, Option<&str>)> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(("Complete", c.reason.as_deref(), c.message.as_deref())),
            "Failed" => Some(("Failed", c.reason.as_deref(), c.message.as_deref())),
            _ => None,
        })
}

/// Seconds from the Job's start to its completion, when both are known.
pub fn duration_seconds(job: &Job) -> Option<f64> {
    let status = job.status.as_ref()?;
    let start = status.start_time.as_ref()?.0;
    let end = status.completion_time.as_ref()?.0;
    let took = end.duration_since(start);
    (!took.is_negative()).then(|| took.as_secs_f64())
}

/// The pod whose log and state tell the story: the most recently created one (with `backoffLimit: 0` there is
/// normally one).
pub fn latest_pod(pods: &[Pod]) -> Option<&Pod> {
    pods.iter()
        .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// How the function's container ended: `OOMKilled (exit code 137)`, `Error (exit code 2)`, or why it never ran
/// (`ErrImagePull: ...`).
pub fn container_state(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let status = statuses
        .iter()
        .find(|s| s.name == CONTAINER)
        .or(statuses.first())?;
    let state = status.state.as_ref()?;
    if let Some(t) = &state.terminated {
        let reason = t.reason.as_deref().unwrap_or("Terminated");
        let mut text = format!("{reason} (exit code {})", t.exit_code);
        if let Some(m) = t.message.as_deref().filter(|m| !m.is_empty()) {
            text.push_str(&format!(": {m}"));
        }
        return Some(text);
    }
    let waiting = state.waiting.as_ref()?;
    let reason = waiting.reason.as_deref().unwrap_or("Waiting");
    Some(match waiting.message.as_deref() {
        Some(m) => format!("never ran: {reason}: {m}"),
        None => format!("never ran: {reason}"),
    })
}

/// What the failure message says about a failed Job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failed<'a> {
    pub function: &'a str,
    pub job_name: &'a str,
    /// The `Failed` condition's reason and message (`DeadlineExceeded`, `BackoffLimitExceeded`).
    pub reason: Option<&'a str>,
    pub message: Option<&'a str>,
    pub pod: Option<&'a str>,
    /// From [`container_state`].
    pub container: Option<String>,
    pub log_tail: Option<String>,
    /// Why there is no log tail (the pod is gone, the log could not be read).
    pub log_problem: Option<String>,
}

/// The Zeebe job's error message for a failed Job: function, Job, reason, container state, then the log tail
/// (its last [`callback::ERROR_TEXT_LIMIT`] bytes).
pub fn failed_message(f: &Failed<'_>) -> String {
    let mut text = format!(
        "Expected Kubernetes Job '{}' of function '{}' to complete, but it failed: {}",
        f.job_name,
        f.function,
        f.reason.unwrap_or("Failed")
    );
    if let Some(m) = f.message.filter(|m| !m.is_empty()) {
        text.push_str(&format!(" ({m})"));
    }
    match (f.pod, &f.container) {
        (Some(pod), Some(state)) => {
            text.push_str(&format!("; pod '{pod}' container '{CONTAINER}': {state}"))
        }
        (Some(pod), None) => text.push_str(&format!("; pod '{pod}'")),
        (None, _) => text.push_str("; no pod of the Job is left"),
    }
    match f.log_tail.as_deref().map(str::trim_end) {
        Some(log) if !log.is_empty() => {
            let tail = callback::tail_text(log.as_bytes(), callback::ERROR_TEXT_LIMIT);
            text.push_str(&format!("; log tail:\n{tail}"));
        }
        Some(_) => text.push_str("; the log is empty"),
        None => {}
    }
    if let Some(problem) = &f.log_problem {
        text.push_str(&format!("; no log tail: {problem}"));
    }
    text
}
