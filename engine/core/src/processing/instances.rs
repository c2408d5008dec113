//! Process instances: creation (none start, message start, timer start) and cancellation.

use apsis_bpmn::{ElementIdx, ProcessGraph};

use super::{Processor, Rejected, Step};
use crate::command::{ProcessSelector, Rejection, RejectionKind, Response};
use crate::event::{ElementRef, Event};
use crate::json::Json;
use crate::key::Key;

/// Activates a new process instance's root scope with `variables`; returns its key.
fn activate_root(
    p: &mut Processor,
    def_key: Key,
    variables: Option<&Json>,
    await_result: bool,
) -> Key {
    let key = p.new_key();
    p.write(Event::ElementActivating {
        key,
        at: ElementRef {
            process_instance_key: key,
            process_definition_key: def_key,
            element: ProcessGraph::ROOT.0,
            flow_scope_key: Key::NONE,
        },
        via_flow: false,
    });
    p.write(Event::ProcessInstanceCreated {
        key,
        process_definition_key: def_key,
        await_result,
    });
    if let Some(doc) = variables.and_then(|v| v.as_object()) {
        super::variables::merge_document(p, key, doc, true);
    }
    p.write(Event::ElementActivated { key });
    key
}

/// Starts an instance at a given start event (message or timer start); the event's variables go to the root scope.
pub(crate) fn start_at(
    p: &mut Processor,
    def_key: Key,
    start: ElementIdx,
    variables: Option<Json>,
) -> Key {
    let key = activate_root(p, def_key, variables.as_ref(), false);
    p.push(Step::Activate {
        scope: key,
        element: start,
        via_flow: false,
        locals: None,
        payload: Some(Json::object()),
    });
    key
}

pub(crate) fn create(
    p: &mut Processor,
    process: &ProcessSelector,
    variables: &Json,
    await_result: bool,
) -> Rejected<Response> {
    let def = match process {
        ProcessSelector::Key(k) => p.state.deployments.get(*k).ok_or_else(|| {
            Rejection::new(
                RejectionKind::NotFound,
                format!("Expected to find process definition with key '{k}', but none found"),
            )
        })?,
        ProcessSelector::Id {
            bpmn_process_id,
            version,
        } => {
            let found = if *version < 0 {
                p.state.deployments.latest(bpmn_process_id)
            } else {
                p.state.deployments.version(bpmn_process_id, *version)
            };
            found.ok_or_else(|| {
                let which = if *version < 0 { String::new() } else { format!(" and version '{version}'") };
                Rejection::new(
                    RejectionKind::NotFound,
                    format!("Expected to find process definition with process ID '{bpmn_process_id}'{which}, but none found"),
                )
            })?
        }
    };
    if !matches!(
        variables.0,
        serde_json::Value::Object(_) | serde_json::Value::Null
    ) {
        return Err(Rejection::new(
            RejectionKind::InvalidArgument,
            "Expected to create an instance with variables that are a JSON object, but they are not".to_owned(),
        ));
    }
    let (def_key, bpmn_process_id, version) = (def.key, def.bpmn_process_id.clone(), def.version);
    let Some(start) = def.graph().starts(ProcessGraph::ROOT).none_start else {
        return Err(Rejection::new(
            RejectionKind::InvalidState,
            format!("Expected to create instance of process with none start event, but there is no such event in process '{bpmn_process_id}'"),
        ));
    };
    let key = activate_root(p, def_key, Some(variables), await_result);
    p.push(Step::Activate {
        scope: key,
        element: start,
        via_flow: false,
        locals: None,
        payload: None,
    });
    Ok(Response::ProcessInstanceCreated {
        process_definition_key: def_key,
        bpmn_process_id,
        version,
        process_instance_key: key,
    })
}

pub(crate) fn cancel(p: &mut Processor, key: Key) -> Rejected<Response> {
    let is_root = p
        .state
        .instance(key)
        .is_some_and(|i| i.at.flow_scope_key.is_none());
    if !is_root {
        return Err(Rejection::new(
            RejectionKind::NotFound,
            format!("Expected to cancel a process instance with key '{key}', but no such process was found"),
        ));
    }
    p.push(Step::Terminate { key });
    Ok(Response::ProcessInstanceCanceled)
}
