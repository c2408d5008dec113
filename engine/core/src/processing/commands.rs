//! Client commands: validation (rejections) and the first events; the element lifecycle does the rest.

use super::{bpmn, instances, jobs, messages, timers, variables, Processor, Rejected};
use crate::command::{Command, DeployedProcessInfo, Rejection, RejectionKind, Response};
use crate::event::{Event, IncidentKind};
use crate::key::Key;
use crate::state::JobState;

/// At most this many due items (timers, job timeouts, backoffs, expiries) fire in one `Tick`, so one log entry
/// stays small; the runtime ticks again while something is due.
pub const TICK_BUDGET: usize = 1_000;

pub(crate) fn dispatch(p: &mut Processor, command: Command) -> Rejected<Response> {
    match command {
        Command::Deploy { resources } => deploy(p, &resources),
        Command::CreateProcessInstance {
            process,
            variables,
            await_result,
        } => instances::create(p, &process, &variables, await_result),
        Command::CancelProcessInstance { key } => instances::cancel(p, key),
        Command::ActivateJobs {
            job_type,
            worker,
            timeout_ms,
            max_jobs,
            fetch_variables,
        } => jobs::activate_batch(
            p,
            &job_type,
            &worker,
            timeout_ms,
            max_jobs,
            &fetch_variables,
        ),
        Command::CompleteJob { key, variables } => jobs::complete(p, key, &variables),
        Command::FailJob {
            key,
            retries,
            error_message,
            retry_backoff_ms,
            variables,
        } => jobs::fail(
            p,
            key,
            retries,
            &error_message,
            retry_backoff_ms,
            &variables,
        ),
        Command::ThrowError {
            key,
            error_code,
            error_message,
            variables,
        } => jobs::throw_error(p, key, &error_code, &error_message, &variables),
        Command::UpdateJobRetries { key, retries } => jobs::update_retries(p, key, retries),
        Command::UpdateJobTimeout { key, timeout_ms } => jobs::update_timeout(p, key, timeout_ms),
        Command::PublishMessage {
            name,
            correlation_key,
            ttl_ms,
            message_id,
            variables,
        } => messages::publish(p, &name, &correlation_key, ttl_ms, &message_id, &variables),
        Command::ResolveIncident { key } => resolve_incident(p, key),
        Command::SetVariables {
            element_instance_key,
            variables,
            local,
        } => set_variables(p, element_instance_key, &variables, local),
        Command::DeleteResource { key } => delete_resource(p, key),
        Command::YieldJob { key } => jobs::yield_job(p, key),
        Command::Tick => {
            let mut budget = TICK_BUDGET;
            timers::tick(p, &mut budget);
            jobs::tick(p, &mut budget);
            messages::tick(p, &mut budget);
            Ok(Response::Ticked)
        }
    }
}

/// A stable 64-bit checksum of a resource (FNV-1a), to recognise a re-deployed identical resource.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn deploy(p: &mut Processor, resources: &[crate::command::Resource]) -> Rejected<Response> {
    if resources.is_empty() {
        return Err(Rejection::new(
            RejectionKind::InvalidArgument,
            "Expected to deploy at least one resource, but none given",
        ));
    }
    // Validate everything first: a deployment is all or nothing.
    let mut errors = Vec::new();
    let mut compiled = Vec::new();
    let mut seen_ids: Vec<(String, String)> = Vec::new();
    for r in resources {
        if !(r.name.ends_with(".bpmn") || r.name.ends_with(".xml")) {
            errors.push(format!("'{}': Expected a BPMN resource (.bpmn or .xml), but found another kind of resource (DMN and forms are not supported yet)", r.name));
            continue;
        }
        match apsis_bpmn::compile(&r.name, &r.content) {
            Ok(c) => {
                for g in &c.processes {
                    if let Some((_, other)) =
                        seen_ids.iter().find(|(id, _)| *id == g.bpmn_process_id)
                    {
                        errors.push(format!("'{}': Expected the process id '{}' to be unique in the deployment, but resource '{other}' defines it too", r.name, g.bpmn_process_id));
                    }
                    seen_ids.push((g.bpmn_process_id.clone(), r.name.clone()));
                }
                compiled.push((r, c));
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(Rejection::new(
            RejectionKind::InvalidArgument,
            format!(
                "Expected to deploy new resources, but encountered the following errors:\n{}",
                errors.join("\n")
            ),
        ));
    }
    let deployment_key = p.new_key();
    p.write(Event::DeploymentCreated {
        key: deployment_key,
    });
    let mut infos = Vec::new();
    for (r, c) in compiled {
        let sum = checksum(r.content.as_bytes());
        for g in &c.processes {
            let latest = p
                .state
                .deployments
                .latest(&g.bpmn_process_id)
                .map(|d| (d.key, d.version, d.checksum, d.resource_name.clone()));
            if let Some((key, version, cs, name)) = &latest {
                if *cs == sum && *name == r.name {
                    infos.push(DeployedProcessInfo {
                        bpmn_process_id: g.bpmn_process_id.clone(),
                        version: *version,
                        process_definition_key: *key,
                        resource_name: r.name.clone(),
                    });
                    continue;
                }
            }
            let version = p.state.deployments.next_version(&g.bpmn_process_id);
            let key = p.new_key();
            p.write(Event::ProcessDeployed {
                key,
                deployment_key,
                bpmn_process_id: g.bpmn_process_id.clone(),
                version,
                resource_name: r.name.clone(),
                checksum: sum,
                resource: r.content.clone(),
            });
            timers::rearm_start_timers(p, latest.map(|l| l.0), key);
            infos.push(DeployedProcessInfo {
                bpmn_process_id: g.bpmn_process_id.clone(),
                version,
                process_definition_key: key,
                resource_name: r.name.clone(),
            });
        }
    }
    Ok(Response::Deployed {
        key: deployment_key,
        processes: infos,
    })
}

fn resolve_incident(p: &mut Processor, key: Key) -> Rejected<Response> {
    let incident = p.state.incidents.by_key.get(&key).cloned().ok_or_else(|| {
        Rejection::new(
            RejectionKind::NotFound,
            format!(
                "Expected to resolve incident with key '{key}', but no such incident was found"
            ),
        )
    })?;
    if incident.kind == IncidentKind::JobNoRetries {
        if let Some(job) = p.state.jobs.get(incident.job_key) {
            if job.record.retries <= 0 {
                return Err(Rejection::new(
                    RejectionKind::InvalidState,
                    format!("Expected to resolve incident with key '{key}', but job with key '{}' has no retries left. Please update the job retries and retry resolving the incident", incident.job_key),
                ));
            }
        }
    }
    p.write(Event::IncidentResolved { key });
    match p.state.jobs.get(incident.job_key).map(|j| j.state) {
        Some(JobState::Activatable) => jobs::offer(p, incident.job_key),
        Some(_) => {}
        None => bpmn::resume(p, incident.element_instance_key),
    }
    Ok(Response::IncidentResolved)
}

fn set_variables(
    p: &mut Processor,
    key: Key,
    vars: &crate::json::Json,
    local: bool,
) -> Rejected<Response> {
    if p.state.instance(key).is_none() {
        return Err(Rejection::new(RejectionKind::NotFound, format!("Expected to update variables for element with key '{key}', but no such element was found")));
    }
    let Some(doc) = vars.as_object() else {
        return Err(Rejection::new(
            RejectionKind::InvalidArgument,
            "Expected the variables to be a JSON object, but they are not",
        ));
    };
    variables::merge_document(p, key, doc, local);
    let doc_key = p.new_key();
    Ok(Response::VariablesSet { key: doc_key })
}

fn delete_resource(p: &mut Processor, key: Key) -> Rejected<Response> {
    let def = p.state.deployments.get(key).cloned().ok_or_else(|| {
        Rejection::new(
            RejectionKind::NotFound,
            format!("Expected to delete resource with key '{key}', but no such resource was found"),
        )
    })?;
    let running = p
        .state
        .instances
        .values()
        .any(|i| i.at.process_definition_key == key && i.at.flow_scope_key.is_none());
    if running {
        return Err(Rejection::new(
            RejectionKind::InvalidState,
            format!("Expected to delete process definition with key '{key}', but there are still running instances"),
        ));
    }
    let was_latest = p
        .state
        .deployments
        .latest(&def.bpmn_process_id)
        .map(|d| d.key)
        == Some(key);
    let timers: Vec<Key> = p
        .state
        .timers
        .by_definition
        .get(&key)
        .cloned()
        .unwrap_or_default();
    for t in timers {
        p.write(Event::TimerCanceled { key: t });
    }
    p.write(Event::ProcessDeleted { key });
    if was_latest {
        if let Some(prev) = p
            .state
            .deployments
            .latest(&def.bpmn_process_id)
            .map(|d| d.key)
        {
            timers::rearm_start_timers(p, None, prev);
        }
    }
    Ok(Response::ResourceDeleted)
}
