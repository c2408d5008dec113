//! Jobs: creation by job-based tasks, and the job commands of workers.

use apsis_bpmn::graph::JobDefinition;
use apsis_bpmn::ElementIdx;
use serde_json::{Map, Value};

use super::{errors, feel, variables, Failure, Processor, Rejected, Step};
use crate::command::{ActivatedJob, Effect, Rejection, RejectionKind, Response};
use crate::event::{Event, IncidentKind, JobRecord};
use crate::json::Json;
use crate::key::Key;
use crate::state::JobState;

pub(crate) fn create(
    p: &mut Processor,
    key: Key,
    idx: ElementIdx,
    job: &JobDefinition,
) -> Result<(), Failure> {
    let job_type = feel::eval_string(p, key, &job.job_type, "the job type")?;
    let retries = match feel::eval_feelish(p, key, &job.retries, IncidentKind::ExtractValueError)? {
        Value::Number(n) if n.as_i64().is_some() => n.as_i64().unwrap_or(0) as i32,
        Value::String(s) if s.trim().parse::<i32>().is_ok() => s.trim().parse().unwrap_or(0),
        other => {
            return Err(Failure::new(
                IncidentKind::ExtractValueError,
                format!(
                    "Expected the job retries to be a number, but the expression '{}' returned {}",
                    feel::source(&job.retries),
                    feel::type_name(&other)
                ),
            ))
        }
    };
    let mut headers = Map::new();
    for (k, v) in &job.headers {
        headers.insert(k.clone(), Value::String(v.clone()));
    }
    for h in &job.user_task_headers {
        headers.insert(
            h.header.clone(),
            Value::String(user_task_header(p, key, h)?),
        );
    }
    let inst = p
        .state
        .instance(key)
        .ok_or_else(|| Failure::new(IncidentKind::Unknown, "element instance gone"))?;
    let record = JobRecord {
        job_type: job_type.clone(),
        retries,
        element_instance_key: key,
        process_instance_key: inst.at.process_instance_key,
        process_definition_key: inst.at.process_definition_key,
        element: idx.0,
        custom_headers: Json(Value::Object(headers)),
    };
    let job_key = p.new_key();
    p.write(Event::JobCreated {
        key: job_key,
        job: record,
    });
    offer(p, job_key);
    Ok(())
}

/// A job became activatable: push it to an open job stream of its type (activating it for that stream), or tell
/// the runtime that jobs of the type are available (long-polling ActivateJobs requests wake up).
pub(crate) fn offer(p: &mut Processor, key: Key) {
    let Some(job) = p.state.jobs.get(key) else {
        return;
    };
    if job.state != JobState::Activatable {
        return;
    }
    let job_type = job.record.job_type.clone();
    let target = p.streams.and_then(|s| s.pick(&job_type));
    match target {
        Some(t) => {
            let deadline = p.now.saturating_add(t.timeout_ms);
            p.write(Event::JobActivated {
                key,
                worker: t.worker.clone(),
                deadline,
            });
            if let Some(job) = activated_job(p, key, &t.fetch_variables) {
                p.effect(Effect::JobPushed {
                    stream_id: t.stream_id,
                    job,
                });
            }
        }
        None => p.effect(Effect::JobsAvailable { job_type }),
    }
}

/// A pushed job could not be delivered: activatable again (and offered to another stream).
pub(crate) fn yield_job(p: &mut Processor, key: Key) -> Rejected<Response> {
    let job = p
        .state
        .jobs
        .get(key)
        .ok_or_else(|| not_found("yield", key))?;
    if job.state != JobState::Activated {
        return Err(Rejection::new(
            RejectionKind::InvalidState,
            format!(
                "Expected to yield job with key '{key}', but it is in state '{}'",
                state_name(job.state)
            ),
        ));
    }
    p.write(Event::JobYielded { key });
    offer(p, key);
    Ok(Response::JobYielded)
}

/// The text of a user-task header: candidate lists become JSON array text (`["a","b"]`), as Zeebe writes them.
fn user_task_header(
    p: &Processor,
    key: Key,
    h: &apsis_bpmn::graph::UserTaskHeader,
) -> Result<String, Failure> {
    if !h.list {
        return feel::eval_string(p, key, &h.value, &format!("the header '{}'", h.header));
    }
    let items: Vec<String> =
        match feel::eval_feelish(p, key, &h.value, IncidentKind::ExtractValueError)? {
            Value::String(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Value::Array(list) => list
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(Failure::new(
                        IncidentKind::ExtractValueError,
                        format!(
                            "Expected '{}' to be a list of strings, but it contains {}",
                            feel::source(&h.value),
                            feel::type_name(&other)
                        ),
                    )),
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(Failure::new(
                    IncidentKind::ExtractValueError,
                    format!(
                        "Expected '{}' to be a list of strings, but it is {}",
                        feel::source(&h.value),
                        feel::type_name(&other)
                    ),
                ))
            }
        };
    Ok(Value::from(items).to_string())
}

fn not_found(action: &str, key: Key) -> Rejection {
    Rejection::new(
        RejectionKind::NotFound,
        format!("Expected to {action} job with key '{key}', but no such job was found"),
    )
}

fn state_name(s: JobState) -> &'static str {
    match s {
        JobState::Activatable => "ACTIVATABLE",
        JobState::Activated => "ACTIVATED",
        JobState::BackingOff | JobState::Failed => "FAILED",
        JobState::ErrorThrown => "ERROR_THROWN",
    }
}

pub(crate) fn activate_batch(
    p: &mut Processor,
    job_type: &str,
    worker: &str,
    timeout_ms: i64,
    max: i32,
    fetch: &[String],
) -> Rejected<Response> {
    let keys: Vec<Key> = p
        .state
        .jobs
        .activatable
        .get(job_type)
        .map(|set| set.iter().take(max.max(0) as usize).copied().collect())
        .unwrap_or_default();
    let mut jobs = Vec::with_capacity(keys.len());
    for key in keys {
        let deadline = p.now.saturating_add(timeout_ms);
        p.write(Event::JobActivated {
            key,
            worker: worker.to_owned(),
            deadline,
        });
        jobs.push(activated_job(p, key, fetch));
    }
    Ok(Response::JobsActivated {
        jobs: jobs.into_iter().flatten().collect(),
    })
}

/// The job as a worker receives it, with the variables visible from its element instance.
pub(crate) fn activated_job(p: &Processor, key: Key, fetch: &[String]) -> Option<ActivatedJob> {
    let job = p.state.jobs.get(key)?;
    let r = &job.record;
    let def = p.state.deployments.get(r.process_definition_key)?;
    let element_id = def.graph().element(ElementIdx(r.element)).id.clone();
    let variables = if fetch.is_empty() {
        p.state.visible_variables(r.element_instance_key)
    } else {
        let mut m = Map::new();
        for name in fetch {
            if let Some(v) = p.state.variable(r.element_instance_key, name) {
                m.insert(name.clone(), v.0.clone());
            }
        }
        m
    };
    Some(ActivatedJob {
        key,
        job_type: r.job_type.clone(),
        process_instance_key: r.process_instance_key,
        bpmn_process_id: def.bpmn_process_id.clone(),
        process_definition_version: def.version,
        process_definition_key: r.process_definition_key,
        element_id,
        element_instance_key: r.element_instance_key,
        custom_headers: r.custom_headers.clone(),
        worker: job.worker.clone(),
        retries: r.retries,
        deadline: job.deadline,
        variables: Json(Value::Object(variables)),
    })
}

pub(crate) fn complete(p: &mut Processor, key: Key, variables: &Json) -> Rejected<Response> {
    let job = p
        .state
        .jobs
        .get(key)
        .ok_or_else(|| not_found("complete", key))?;
    if !matches!(job.state, JobState::Activatable | JobState::Activated) {
        return Err(Rejection::new(
            RejectionKind::InvalidState,
            format!(
                "Expected to complete job with key '{key}', but it is in state '{}'",
                state_name(job.state)
            ),
        ));
    }
    let element = job.record.element_instance_key;
    p.write(Event::JobCompleted { key });
    if let Err(f) = variables::merge_result(p, element, variables) {
        p.raise_incident(element, f, Key::NONE);
        return Ok(Response::JobCompleted);
    }
    p.push(Step::Complete { key: element });
    Ok(Response::JobCompleted)
}

pub(crate) fn fail(
    p: &mut Processor,
    key: Key,
    retries: i32,
    message: &str,
    backoff_ms: i64,
    variables: &Json,
) -> Rejected<Response> {
    let job = p
        .state
        .jobs
        .get(key)
        .ok_or_else(|| not_found("fail", key))?;
    if job.state != JobState::Activated {
        let why = if job.state == JobState::Activatable {
            "it is not activated".to_owned()
        } else {
            format!("it is in state '{}'", state_name(job.state))
        };
        return Err(Rejection::new(
            RejectionKind::InvalidState,
            format!("Expected to fail job with key '{key}', but {why}"),
        ));
    }
    let element = job.record.element_instance_key;
    let backoff_until = if retries > 0 && backoff_ms > 0 {
        p.now.saturating_add(backoff_ms)
    } else {
        0
    };
    p.write(Event::JobFailed {
        key,
        retries,
        error_message: message.to_owned(),
        backoff_until,
    });
    if let Some(doc) = variables.as_object() {
        variables::merge_document(p, element, doc, true);
    }
    if retries <= 0 {
        let text = if message.is_empty() {
            "No more retries left.".to_owned()
        } else {
            message.to_owned()
        };
        p.raise_incident(element, Failure::new(IncidentKind::JobNoRetries, text), key);
    } else if backoff_until == 0 {
        offer(p, key);
    }
    Ok(Response::JobFailed)
}

pub(crate) fn throw_error(
    p: &mut Processor,
    key: Key,
    code: &str,
    message: &str,
    variables: &Json,
) -> Rejected<Response> {
    let job = p
        .state
        .jobs
        .get(key)
        .ok_or_else(|| not_found("throw an error for", key))?;
    if !matches!(job.state, JobState::Activatable | JobState::Activated) {
        return Err(Rejection::new(
            RejectionKind::InvalidState,
            format!(
                "Expected to throw an error for job with key '{key}', but it is in state '{}'",
                state_name(job.state)
            ),
        ));
    }
    let element = job.record.element_instance_key;
    p.write(Event::JobErrorThrown {
        key,
        error_code: code.to_owned(),
        error_message: message.to_owned(),
    });
    if let Err(f) = errors::throw(p, element, code, message, variables) {
        p.raise_incident(element, f, key);
    }
    Ok(Response::ErrorThrown)
}

pub(crate) fn update_retries(p: &mut Processor, key: Key, retries: i32) -> Rejected<Response> {
    p.state
        .jobs
        .get(key)
        .ok_or_else(|| not_found("update retries of", key))?;
    p.write(Event::JobRetriesUpdated { key, retries });
    Ok(Response::JobRetriesUpdated)
}

pub(crate) fn update_timeout(p: &mut Processor, key: Key, timeout_ms: i64) -> Rejected<Response> {
    let job = p
        .state
        .jobs
        .get(key)
        .ok_or_else(|| not_found("update the timeout of", key))?;
    if job.state != JobState::Activated {
        return Err(Rejection::new(
            RejectionKind::InvalidState,
            format!(
                "Expected to update the timeout of job with key '{key}', but it is in state '{}'",
                state_name(job.state)
            ),
        ));
    }
    p.write(Event::JobTimeoutUpdated {
        key,
        deadline: p.now.saturating_add(timeout_ms),
    });
    Ok(Response::JobTimeoutUpdated)
}

/// Job deadlines and retry backoffs that are due.
pub(crate) fn tick(p: &mut Processor, budget: &mut usize) {
    fire_due(
        p,
        budget,
        |jobs| jobs.deadlines.first().copied(),
        |key| Event::JobTimedOut { key },
    );
    fire_due(
        p,
        budget,
        |jobs| jobs.backoffs.first().copied(),
        |key| Event::JobRecurred { key },
    );
}

/// Makes the jobs of one due-time index activatable again, oldest first, while the budget lasts.
fn fire_due(
    p: &mut Processor,
    budget: &mut usize,
    first: impl Fn(&crate::state::Jobs) -> Option<(i64, Key)>,
    event: impl Fn(Key) -> Event,
) {
    while *budget > 0 {
        let Some((due, key)) = first(&p.state.jobs) else {
            break;
        };
        if due > p.now {
            break;
        }
        *budget -= 1;
        p.write(event(key));
        offer(p, key);
    }
}
