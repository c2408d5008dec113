//! The batch/v1 Job a kubernetes task runs as: a pure function of the worker's [`Settings`] and the job's
//! [`Launch`], so that its exact shape is unit-tested.
//!
//! The name is `apsis-<function>-<job key>-<retries>`: deterministic, so that a job activated again after a worker
//! restart (same key, same retries) finds the Job it already started (create answers 409, the worker re-attaches),
//! while a Zeebe retry (retries one less) starts a fresh Job instead of re-attaching to the failed one. It is a
//! DNS-1123 label of at most 63 characters (the Job controller copies it into the `job-name` label of its pods,
//! and label values are limited to 63): the function part is shortened when needed, never the numbers.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use serde_json::{json, Map, Value};

use super::Settings;

/// The container's name in every Job (the function's own name may contain a `.`, which a container name may not).
pub const CONTAINER: &str = "main";
/// Who made the Job: `app.kubernetes.io/managed-by`.
pub const MANAGED_BY: &str = "apsis-worker-faas";
pub const LABEL_JOB_KEY: &str = "apsis.io/job-key";
pub const LABEL_PROCESS_INSTANCE_KEY: &str = "apsis.io/process-instance-key";
pub const LABEL_ELEMENT_ID: &str = "apsis.io/element-id";
pub const LABEL_FUNCTION: &str = "apsis.io/function";
/// The exact BPMN ids (a label value is limited to 63 characters of a restricted alphabet; an annotation is not).
pub const ANNOTATION_ELEMENT_ID: &str = "apsis.io/element-id";
pub const ANNOTATION_BPMN_PROCESS_ID: &str = "apsis.io/bpmn-process-id";
/// The environment every container gets, next to the configured one.
pub const ENV_CALL_ID: &str = "APSIS_CALL_ID";
pub const ENV_JOB_KEY: &str = "APSIS_JOB_KEY";

/// What one Zeebe job contributes to its Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub function: String,
    pub job_key: i64,
    pub retries: i32,
    pub process_instance_key: i64,
    pub element_id: String,
    pub bpmn_process_id: String,
    pub image: String,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    /// The rendered `cmdline`; `None`: the image's own command and arguments.
    pub argv: Option<Vec<String>>,
    /// The task's timeout: the Job's `activeDeadlineSeconds`.
    pub timeout: Duration,
}

/// The Job's name (see the module documentation).
pub fn job_name(function: &str, job_key: i64, retries: i32) -> String {
    let suffix = format!("-{job_key}-{retries}");
    let room = 63 - "apsis-".len() - suffix.len();
    let function: String = function
        .chars()
        .map(|c| if c == '.' { '-' } else { c })
        .take(room)
        .collect();
    format!("apsis-{}{suffix}", function.trim_end_matches('-'))
}

/// `text` as a label value: at most 63 characters of `[A-Za-z0-9._-]`, starting and ending alphanumeric; other
/// characters become `_`. Empty when nothing is left.
pub fn label_value(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// The Job for `launch` under `settings`.
pub fn job(settings: &Settings, launch: &Launch) -> Job {
    let name = job_name(&launch.function, launch.job_key, launch.retries);
    let labels = json!({
        "app.kubernetes.io/managed-by": MANAGED_BY,
        LABEL_JOB_KEY: launch.job_key.to_string(),
        LABEL_PROCESS_INSTANCE_KEY: launch.process_instance_key.to_string(),
        LABEL_ELEMENT_ID: label_value(&launch.element_id),
        LABEL_FUNCTION: label_value(&launch.function),
    });
    let annotations = json!({
        ANNOTATION_ELEMENT_ID: launch.element_id,
        ANNOTATION_BPMN_PROCESS_ID: launch.bpmn_process_id,
    });
    let mut env: Vec<Value> = settings
        .env
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    env.push(json!({"name": ENV_CALL_ID, "value": name}));
    env.push(json!({"name": ENV_JOB_KEY, "value": launch.job_key.to_string()}));

    let mut container = Map::new();
    container.insert("name".into(), json!(CONTAINER));
    container.insert("image".into(), json!(launch.image));
    if let Some(policy) = &settings.image_pull_policy {
        container.insert("imagePullPolicy".into(), json!(policy));
    }
    if let Some(command) = &settings.command {
        container.insert("command".into(), json!(command));
    }
    if let Some(argv) = &launch.argv {
        container.insert("args".into(), json!(argv));
    }
    container.insert("env".into(), Value::Array(env));
    let mut quantities = Map::new();
    if let Some(cpu) = &launch.cpu {
        quantities.insert("cpu".into(), json!(cpu));
    }
    if let Some(memory) = &launch.memory {
        quantities.insert("memory".into(), json!(memory));
    }
    if !quantities.is_empty() {
        // Requests = limits: a step that may take 49 GB must be scheduled where 49 GB are free, and must not
        // grow into its neighbours' memory (Guaranteed QoS when both cpu and memory are set).
        container.insert(
            "resources".into(),
            json!({"requests": quantities, "limits": quantities}),
        );
    }
    let mut pod = Map::new();
    pod.insert("restartPolicy".into(), json!("Never"));
    if let Some(account) = &settings.service_account {
        pod.insert("serviceAccountName".into(), json!(account));
    }
    if let Some(volume) = &settings.volume {
        container.insert(
            "volumeMounts".into(),
            json!([{"name": "data", "mountPath": volume.mount_path}]),
        );
        pod.insert(
            "volumes".into(),
            json!([{"name": "data", "persistentVolumeClaim": {"claimName": volume.claim}}]),
        );
    }
    pod.insert("containers".into(), json!([container]));

    let mut metadata = json!({"name": name, "labels": labels, "annotations": annotations});
    if let Some(namespace) = &settings.namespace {
        metadata["namespace"] = json!(namespace);
    }
    let value = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_seconds(launch.timeout),
            "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": pod,
            },
        },
    });
    serde_json::from_value(value).expect("the Job built here has the batch/v1 shape")
}

/// Whole seconds, rounded up, at least 1 (the API server refuses 0).
fn deadline_seconds(timeout: Duration) -> i64 {
    let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    i64::try_from(secs.max(1)).unwrap_or(i64::MAX)
}
