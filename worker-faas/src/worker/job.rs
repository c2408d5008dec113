//! One job, start to end: read the task, render the request, invoke the backend, then complete the job
//! (receive-task) or hold it until its deadline (hold) — or fail it. Every decision comes from the pure modules;
//! every line logged carries the job's fields through the `job` span.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apsis_proto::gateway_protocol as pb;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{info, info_span, warn, Instrument};

use super::Shared;
use crate::backend::{Invoked, Selected};
use crate::outcome::{self, AcceptedDecision, FailJob, Settlement};
use crate::request::{self, JobFacts, Signing};
use crate::task::Task;
use crate::{metrics, Failure};

/// Works on `job` while holding `permit` (released when the job is completed, failed or held).
pub(super) async fn run(
    shared: Arc<Shared>,
    job: pb::ActivatedJob,
    permit: OwnedSemaphorePermit,
    received: Instant,
) {
    let span = info_span!(
        "job",
        job_key = job.key,
        process_instance_key = job.process_instance_key,
        bpmn_process_id = %job.bpmn_process_id,
        element_id = %job.element_id,
        job_type = %job.r#type,
        function = tracing::field::Empty,
        call_id = tracing::field::Empty,
    );
    metrics::in_flight(1.0);
    handle(&shared, &job, received).instrument(span).await;
    metrics::in_flight(-1.0);
    drop(permit);
}

/// A job received while shutting down: failed back with its retries unchanged and no backoff, so that another
/// worker takes it now rather than after its activation timeout.
pub(super) async fn give_back(shared: &Shared, job: &pb::ActivatedJob) {
    let fail = FailJob {
        job_key: job.key,
        retries: job.retries,
        error_message: format!(
            "Expected worker '{}' to run the job, but it is shutting down; the job is given back with its \
             retries unchanged",
            shared.options.worker_name
        ),
        retry_backoff: Duration::ZERO,
    };
    let span = info_span!("job", job_key = job.key, process_instance_key = job.process_instance_key,
        bpmn_process_id = %job.bpmn_process_id, element_id = %job.element_id, job_type = %job.r#type);
    async {
        shared.fail(&fail).await;
        info!("job given back: shutting down");
    }
    .instrument(span)
    .await;
}

async fn handle(shared: &Arc<Shared>, job: &pb::ActivatedJob, received: Instant) {
    // Activated again (its callback failed it with retries left, or its timeout passed): an earlier deadline of
    // this job is moot and must not fail the new attempt.
    let earlier = shared.held.lock().ok().and_then(|mut h| h.remove(&job.key));
    if let Some(earlier) = earlier {
        earlier.abort();
        metrics::awaiting_callback(-1.0);
    }
    let task = match read_task(job) {
        Ok(task) => task,
        Err(failure) => return incident(shared, job.key, &failure, "(unknown)").await,
    };
    let span = tracing::Span::current();
    span.record("function", task.function.as_str());
    if shared.stopped() {
        return give_back(shared, job).await;
    }
    let variables: Value = serde_json::from_str(&job.variables)
        .unwrap_or_else(|_| Value::Object(serde_json::Map::new()));
    let backend = match shared.options.backends.for_task(&task, job.key) {
        Ok(Selected::Call(backend)) => backend.clone(),
        Ok(Selected::Kubernetes(kubernetes)) => {
            let kubernetes = kubernetes.clone();
            return super::kubernetes::run(shared, job, &task, &variables, &kubernetes, received)
                .await;
        }
        Err(fail) => return fail_job(shared, &fail, &task.function, "backend").await,
    };
    let call_id = uuid::Uuid::new_v4().to_string();
    span.record("call_id", call_id.as_str());
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let facts = JobFacts {
        job_key: job.key,
        process_instance_key: job.process_instance_key,
        retries: job.retries,
        variables: &variables,
    };
    let signing = Signing {
        callback_base: &shared.options.callback_url,
        key: &shared.options.callback_key,
        now_ms,
    };
    let request = match request::build(&task, facts, call_id.clone(), signing) {
        Ok(r) => r,
        Err(failure) => return incident(shared, job.key, &failure, &task.function).await,
    };
    match backend.invoke(&request).await {
        Invoked::Accepted => {}
        Invoked::Failed(fail) => {
            return fail_job(shared, &fail, &task.function, "invocation").await
        }
    }
    match outcome::on_accepted(&task, job.key, &call_id, request.timeout) {
        AcceptedDecision::Complete(complete) => {
            if shared.complete(&complete).await != Settlement::Failed {
                metrics::completed(&task.function);
                metrics::job(&task.function, "receive-task", received.elapsed());
                info!("function called; job completed with the call id");
            }
        }
        AcceptedDecision::Hold {
            job_key,
            job_timeout,
        } => {
            if shared.update_timeout(job_key, job_timeout).await == Settlement::Done {
                metrics::held(&task.function);
                metrics::job(&task.function, "hold", received.elapsed());
                hold(shared, job, &task, request.timeout);
                info!(timeout = %task.timeout, "function called; job held until its callback");
            }
        }
    }
}

fn read_task(job: &pb::ActivatedJob) -> Result<Task, Failure> {
    let headers: BTreeMap<String, String> = match serde_json::from_str::<Value>(&job.custom_headers)
    {
        Ok(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    Task::from_headers(&headers, &job.element_id, &job.bpmn_process_id)
}

/// Arms the hold-mode deadline of `job`: at `timeout` from now, fail it unless it is gone by then.
fn hold(shared: &Arc<Shared>, job: &pb::ActivatedJob, task: &Task, timeout: Duration) {
    let fail = outcome::on_deadline(
        job.key,
        job.retries,
        &task.function,
        task.timeout,
        &shared.options.policy,
    );
    let function = task.function.clone();
    let job_key = job.key;
    let owner = shared.clone();
    let deadline = async move {
        tokio::time::sleep(timeout).await;
        let settled = owner.fail(&fail).await;
        if let Ok(mut held) = owner.held.lock() {
            held.remove(&job_key);
        }
        metrics::awaiting_callback(-1.0);
        match settled {
            Settlement::Done => {
                metrics::failed(&function, "deadline");
                warn!(error = %fail.error_message, "no callback by the deadline; job failed");
            }
            Settlement::AlreadyDone => {
                info!("deadline passed; callback-ack had already settled the job")
            }
            Settlement::Failed => {}
        }
    }
    .instrument(tracing::Span::current());
    metrics::awaiting_callback(1.0);
    let handle = tokio::spawn(deadline).abort_handle();
    if let Ok(mut held) = shared.held.lock() {
        held.insert(job_key, handle);
    }
}

pub(super) async fn incident(shared: &Shared, job_key: i64, failure: &Failure, function: &str) {
    let fail = outcome::incident(job_key, failure);
    fail_job(shared, &fail, function, "incident").await;
}

pub(super) async fn fail_job(
    shared: &Shared,
    fail: &FailJob,
    function: &str,
    reason: &'static str,
) {
    if shared.fail(fail).await != Settlement::Failed {
        metrics::failed(function, reason);
        warn!(error = %fail.error_message, retries = fail.retries, reason, "job failed");
    }
}
