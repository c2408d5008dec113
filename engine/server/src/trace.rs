//! The engine's story in the logs, with the fixed field names of CONVENTIONS.md §9 (`process_instance_key`,
//! `bpmn_process_id`, `element_id`, `job_key`, `job_type`), so one instance can be followed from the engine through
//! the worker to the functions. Incidents are warnings (an operator must act); instances, jobs and rejected
//! commands are debug lines (`RUST_LOG=apsis_server=debug`). Lines are written on the runtime thread while a batch
//! is recorded, before its group commit: a commit that fails stops the engine, so nothing logged here is undone
//! silently. When debug is off, the cost is one level check per command.

use apsis_bpmn::ElementIdx;
use apsis_core::event::Event;
use apsis_core::{Key, Rejection, State};
use tracing::{debug, info, warn, Level};

/// The element id and BPMN process id of an element of a deployed process ("?" if unknown).
fn names(state: &State, definition: Key, element: u32) -> (&str, &str) {
    match state.deployments.get(definition) {
        Some(p) => (
            p.graph().element(ElementIdx(element)).id.as_str(),
            p.bpmn_process_id.as_str(),
        ),
        None => ("?", "?"),
    }
}

/// Logs what `events` (one command's, already applied to `state`) mean for operators.
pub(crate) fn recorded(state: &State, events: &[Event]) {
    let debug_on = tracing::enabled!(Level::DEBUG);
    for event in events {
        match event {
            Event::IncidentCreated { key, incident } => {
                let (element_id, bpmn_process_id) = state
                    .instance(incident.element_instance_key)
                    .map_or(("?", "?"), |i| {
                        names(state, i.at.process_definition_key, i.at.element)
                    });
                warn!(
                    incident_key = key.0,
                    process_instance_key = incident.process_instance_key.0,
                    bpmn_process_id,
                    element_id,
                    job_key = incident.job_key.0,
                    kind = ?incident.kind,
                    error_message = %incident.message,
                    "incident raised"
                );
            }
            Event::IncidentResolved { key } => info!(incident_key = key.0, "incident resolved"),
            _ if !debug_on => {}
            Event::ElementActivating { key, at, .. } if at.flow_scope_key == Key::NONE => {
                let (_, bpmn_process_id) = names(state, at.process_definition_key, at.element);
                debug!(
                    process_instance_key = key.0,
                    bpmn_process_id, "process instance started"
                );
            }
            Event::JobCreated { key, job } => {
                let (element_id, bpmn_process_id) =
                    names(state, job.process_definition_key, job.element);
                debug!(
                    job_key = key.0,
                    job_type = %job.job_type,
                    process_instance_key = job.process_instance_key.0,
                    bpmn_process_id,
                    element_id,
                    retries = job.retries,
                    "job created"
                );
            }
            Event::JobCompleted { key } => debug!(job_key = key.0, "job completed"),
            Event::JobFailed {
                key,
                retries,
                error_message,
                ..
            } => debug!(job_key = key.0, retries, error_message = %error_message, "job failed"),
            _ => {}
        }
    }
}

/// Logs a refused command (debug): the client got the same sentence as its error.
pub(crate) fn rejected(kind: &str, rejection: &Rejection) {
    debug!(command = kind, rejection = ?rejection.kind, message = %rejection.message, "command rejected");
}
