//! The element lifecycle: activate, complete, terminate, and what happens when a scope's child ends.
//!
//! Element kinds differ only in what they do on activation and completion; that is one exhaustive `match` in
//! [`activate_kind`] and [`on_completed`], so the compiler finds a kind nobody handled. A step that fails raises an
//! incident and leaves the instance where it was (activating or completing); resolving the incident runs the step
//! again ([`resume`]).

use std::sync::Arc;

use apsis_bpmn::graph::{BoundaryTrigger, ElementKind, EndKind, Trigger};
use apsis_bpmn::{ElementIdx, ProcessGraph};

use super::{errors, feel, jobs, messages, timers, variables, Failure, Processor, Step};
use crate::command::Effect;
use crate::event::{ElementRef, Event, IncidentKind};
use crate::json::Json;
use crate::key::Key;
use crate::state::{ElementInstance, Lifecycle};

/// Activates `element` in the flow scope instance `scope`.
pub(crate) fn activate(
    p: &mut Processor,
    scope: Key,
    element: ElementIdx,
    via_flow: bool,
    locals: Option<Json>,
    payload: Option<Json>,
) {
    let Some(scope_inst) = p.state.instance(scope) else {
        return;
    };
    if scope_inst.state != Lifecycle::Activated || scope_inst.interrupted {
        // The scope is ending: a token still travelling into it is dropped.
        return;
    }
    let at = ElementRef {
        process_instance_key: scope_inst.at.process_instance_key,
        process_definition_key: scope_inst.at.process_definition_key,
        element: element.0,
        flow_scope_key: scope,
    };
    let key = p.new_key();
    p.write(Event::ElementActivating { key, at, via_flow });
    if let Some(Json(serde_json::Value::Object(vars))) = locals {
        for (name, value) in vars {
            variables::set_local(p, key, &name, Json(value));
        }
    }
    if let Some(payload) = payload {
        // The event already happened: merge its variables, then complete it.
        if let Err(f) = variables::merge_result(p, key, &payload) {
            p.raise_incident(key, f, Key::NONE);
            return;
        }
        p.write(Event::ElementActivated { key });
        p.push(Step::Complete { key });
        return;
    }
    continue_activation(p, key);
}

/// Runs an activating instance's activation from its input mappings on (also when its incident is resolved).
pub(crate) fn continue_activation(p: &mut Processor, key: Key) {
    if let Err(f) = try_activation(p, key) {
        p.raise_incident(key, f, Key::NONE);
    }
}

fn try_activation(p: &mut Processor, key: Key) -> Result<(), Failure> {
    let (graph, inst) = instance_and_graph(p, key).ok_or_else(gone)?;
    let el = graph.element(ElementIdx(inst.at.element));
    let inner = is_inner_instance(p, &inst);
    if el.multi_instance.is_some() && !inner {
        return super::multi::activate_body(p, key, &graph);
    }
    variables::apply_inputs(p, key, &el.inputs)?;
    if !inner && !el.boundaries.is_empty() {
        open_boundaries(p, key, &graph, &el.boundaries)?;
    }
    activate_kind(p, key, &graph, ElementIdx(inst.at.element))
}

/// Arms the timer and message boundary events of an activity (error boundaries wait for nothing).
pub(crate) fn open_boundaries(
    p: &mut Processor,
    owner: Key,
    graph: &ProcessGraph,
    boundaries: &[ElementIdx],
) -> Result<(), Failure> {
    for b in boundaries {
        let ElementKind::Boundary(bd) = &graph.element(*b).kind else {
            continue;
        };
        match &bd.trigger {
            BoundaryTrigger::Timer(t) => timers::create_for(p, owner, owner, *b, &t.clone())?,
            BoundaryTrigger::Message(m) => {
                messages::open(p, owner, owner, *b, &m.clone(), bd.interrupting)?
            }
            BoundaryTrigger::Error { .. } => {}
        }
    }
    Ok(())
}

fn activate_kind(
    p: &mut Processor,
    key: Key,
    graph: &Arc<ProcessGraph>,
    idx: ElementIdx,
) -> Result<(), Failure> {
    let el = graph.element(idx);
    match &el.kind {
        ElementKind::Process(starts) | ElementKind::SubProcess(starts) => {
            p.write(Event::ElementActivated { key });
            if let Some(start) = starts.none_start {
                p.push(Step::Activate {
                    scope: key,
                    element: start,
                    via_flow: false,
                    locals: None,
                    payload: None,
                });
            }
        }
        ElementKind::StartEvent(_)
        | ElementKind::IntermediateThrowNone
        | ElementKind::PassThrough { .. }
        | ElementKind::ParallelGateway
        | ElementKind::Boundary(_)
        | ElementKind::EndEvent(EndKind::None | EndKind::Terminate) => {
            p.write(Event::ElementActivated { key });
            p.push(Step::Complete { key });
        }
        ElementKind::EndEvent(EndKind::Error { code }) => {
            errors::throw(p, key, code, "", &Json::null())?;
        }
        ElementKind::IntermediateCatch(Trigger::Message(m))
        | ElementKind::ReceiveTask { message: m } => {
            let m = m.clone();
            messages::open(p, key, key, idx, &m, true)?;
            p.write(Event::ElementActivated { key });
        }
        ElementKind::IntermediateCatch(Trigger::Timer(t)) => {
            let t = t.clone();
            timers::create_for(p, key, key, idx, &t)?;
            p.write(Event::ElementActivated { key });
        }
        ElementKind::IntermediateCatch(Trigger::None) => {
            p.write(Event::ElementActivated { key });
            p.push(Step::Complete { key });
        }
        ElementKind::JobTask { job, .. } => {
            let job = job.clone();
            jobs::create(p, key, idx, &job)?;
            p.write(Event::ElementActivated { key });
        }
        ElementKind::ScriptFeel {
            expression,
            result_variable,
        } => {
            let value = feel::eval(p, key, expression, IncidentKind::ExtractValueError)?;
            let mut doc = serde_json::Map::new();
            doc.insert(result_variable.clone(), value);
            variables::merge_result(p, key, &Json(serde_json::Value::Object(doc)))?;
            p.write(Event::ElementActivated { key });
            p.push(Step::Complete { key });
        }
        ElementKind::ExclusiveGateway { default } => {
            let chosen = choose_flow(p, key, graph, idx, *default)?;
            p.write(Event::ElementActivated { key });
            p.write(Event::ElementCompleting { key });
            finish_completion(p, key, graph, Some(chosen));
        }
        ElementKind::EventBasedGateway => {
            for f in el.outgoing.clone() {
                let target = graph.flow(f).target;
                match &graph.element(target).kind {
                    ElementKind::IntermediateCatch(Trigger::Message(m)) => {
                        let m = m.clone();
                        messages::open(p, key, key, target, &m, true)?;
                    }
                    ElementKind::IntermediateCatch(Trigger::Timer(t)) => {
                        let t = t.clone();
                        timers::create_for(p, key, key, target, &t)?;
                    }
                    _ => {}
                }
            }
            p.write(Event::ElementActivated { key });
        }
    }
    Ok(())
}

fn choose_flow(
    p: &mut Processor,
    key: Key,
    graph: &ProcessGraph,
    idx: ElementIdx,
    default: Option<apsis_bpmn::FlowIdx>,
) -> Result<apsis_bpmn::FlowIdx, Failure> {
    let el = graph.element(idx);
    for f in &el.outgoing {
        if Some(*f) == default {
            continue;
        }
        match &graph.flow(*f).condition {
            None => return Ok(*f),
            Some(c) => {
                if feel::eval_bool(p, key, c)? {
                    return Ok(*f);
                }
            }
        }
    }
    default.ok_or_else(|| {
        Failure::new(
            IncidentKind::ConditionError,
            format!("Expected at least one condition to evaluate to true, or to have a default flow, but no outgoing flow of exclusive gateway '{}' was taken", el.id),
        )
    })
}

/// Completes an activated instance (step `Complete`).
pub(crate) fn complete(p: &mut Processor, key: Key) {
    let Some(inst) = p.state.instance(key) else {
        return;
    };
    if inst.state != Lifecycle::Activated {
        return;
    }
    p.write(Event::ElementCompleting { key });
    continue_completion(p, key);
}

/// Runs a completing instance's completion from its output mappings on (also when its incident is resolved).
pub(crate) fn continue_completion(p: &mut Processor, key: Key) {
    let Some((graph, inst)) = instance_and_graph(p, key) else {
        return;
    };
    let el = graph.element(ElementIdx(inst.at.element));
    let inner = is_inner_instance(p, &inst);
    let result = (|| -> Result<(), Failure> {
        if inner {
            super::multi::complete_inner(p, key, &graph)?;
        } else if el.multi_instance.is_some() {
            super::multi::propagate_output(p, key, &graph)?;
        }
        variables::apply_outputs(p, key, &el.outputs)
    })();
    if let Err(f) = result {
        p.raise_incident(key, f, Key::NONE);
        return;
    }
    finish_completion(p, key, &graph, None);
}

/// Closes what the instance held, writes `ElementCompleted` and moves the token on.
fn finish_completion(
    p: &mut Processor,
    key: Key,
    graph: &Arc<ProcessGraph>,
    chosen: Option<apsis_bpmn::FlowIdx>,
) {
    let Some(inst) = p.state.instance(key).cloned() else {
        return;
    };
    close_waits(p, key);
    let idx = ElementIdx(inst.at.element);
    let el = graph.element(idx);
    let root = inst.at.flow_scope_key.is_none();
    if root && inst.await_result {
        let variables = Json(serde_json::Value::Object(p.state.visible_variables(key)));
        let def = p.state.deployments.get(inst.at.process_definition_key);
        p.effect(Effect::ProcessInstanceResult {
            process_instance_key: key,
            process_definition_key: inst.at.process_definition_key,
            bpmn_process_id: def.map(|d| d.bpmn_process_id.clone()).unwrap_or_default(),
            version: def.map(|d| d.version).unwrap_or_default(),
            variables,
        });
    }
    p.write(Event::ElementCompleted { key });
    if root {
        restart_message_start(p, &inst);
        return;
    }
    let scope = inst.at.flow_scope_key;
    if is_inner_instance(p, &inst) {
        p.push(Step::ChildEnded { scope });
        return;
    }
    if let ElementKind::EndEvent(EndKind::Terminate) = el.kind {
        p.write(Event::FlowScopeInterrupted { key: scope });
        let siblings = p
            .state
            .instance(scope)
            .map(|s| s.children.clone())
            .unwrap_or_default();
        for child in siblings {
            p.push(Step::Terminate { key: child });
        }
        p.push(Step::ChildEnded { scope });
        return;
    }
    let flows: Vec<apsis_bpmn::FlowIdx> = match chosen {
        Some(f) => vec![f],
        None => el.outgoing.clone(),
    };
    for f in flows {
        take_flow(p, scope, graph, f);
    }
    p.push(Step::ChildEnded { scope });
}

/// Takes a sequence flow: a token travels to its target, or waits at a parallel join for its siblings.
pub(crate) fn take_flow(
    p: &mut Processor,
    scope: Key,
    graph: &ProcessGraph,
    flow: apsis_bpmn::FlowIdx,
) {
    let key = p.new_key();
    p.write(Event::SequenceFlowTaken {
        key,
        flow_scope_key: scope,
        flow: flow.0,
    });
    let target = graph.flow(flow).target;
    let target_el = graph.element(target);
    if matches!(target_el.kind, ElementKind::ParallelGateway) && target_el.incoming.len() > 1 {
        let ready = p.state.instance(scope).is_some_and(|s| {
            target_el
                .incoming
                .iter()
                .all(|f| s.joins.binary_search_by_key(&f.0, |(jf, _)| *jf).is_ok())
        });
        if !ready {
            return;
        }
        p.write(Event::GatewayJoined {
            flow_scope_key: scope,
            gateway: target.0,
        });
    }
    p.push(Step::Activate {
        scope,
        element: target,
        via_flow: true,
        locals: None,
        payload: None,
    });
}

/// Terminates an instance and everything inside it (step `Terminate`).
pub(crate) fn terminate(p: &mut Processor, key: Key) {
    let Some(inst) = p.state.instance(key) else {
        return;
    };
    if inst.state == Lifecycle::Terminating {
        return;
    }
    p.write(Event::ElementTerminating { key });
    close_waits(p, key);
    if let Some(incident) = p.state.incidents.by_element.get(&key).copied() {
        p.write(Event::IncidentResolved { key: incident });
    }
    let children = p
        .state
        .instance(key)
        .map(|i| i.children.clone())
        .unwrap_or_default();
    if children.is_empty() {
        finish_termination(p, key);
    } else {
        for child in children {
            p.push(Step::Terminate { key: child });
        }
    }
}

fn finish_termination(p: &mut Processor, key: Key) {
    let Some(inst) = p.state.instance(key).cloned() else {
        return;
    };
    p.write(Event::ElementTerminated { key });
    let scope = inst.at.flow_scope_key;
    if scope.is_none() {
        restart_message_start(p, &inst);
        if inst.await_result {
            p.effect(Effect::ProcessInstanceEnded {
                process_instance_key: key,
            });
        }
        return;
    }
    if let Some(d) = inst.after_terminate {
        p.push(Step::Activate {
            scope,
            element: ElementIdx(d.element),
            via_flow: false,
            locals: None,
            payload: Some(d.variables),
        });
    }
    p.push(Step::ChildEnded { scope });
}

/// When an instance started by a message start event ends, a buffered message with its correlation key may start
/// the next one.
fn restart_message_start(p: &mut Processor, inst: &ElementInstance) {
    let Some(corr) = inst
        .started_by_correlation
        .as_deref()
        .filter(|c| !c.is_empty())
    else {
        return;
    };
    let Some(id) = p
        .state
        .deployments
        .get(inst.at.process_definition_key)
        .map(|d| d.bpmn_process_id.clone())
    else {
        return;
    };
    messages::start_from_buffer(p, &id, corr);
}

/// A child of `scope` ended: finish the scope when nothing is left in it.
pub(crate) fn child_ended(p: &mut Processor, scope: Key) {
    let Some(inst) = p.state.instance(scope) else {
        return;
    };
    if !inst.children.is_empty() {
        if inst.multi_instance.is_some() && inst.state == Lifecycle::Activated {
            super::multi::child_ended(p, scope);
        }
        return;
    }
    match inst.state {
        Lifecycle::Terminating => finish_termination(p, scope),
        Lifecycle::Activated if inst.multi_instance.is_some() => {
            super::multi::child_ended(p, scope)
        }
        Lifecycle::Activated if inst.tokens == 0 => complete(p, scope),
        _ => {}
    }
}

/// Cancels the job, timers and subscriptions an instance waits on.
pub(crate) fn close_waits(p: &mut Processor, key: Key) {
    if let Some(job) = p.state.instance(key).and_then(|i| i.job) {
        p.write(Event::JobCanceled { key: job });
    }
    timers::cancel_for(p, key);
    messages::close_for(p, key);
}

/// Resumes an instance whose incident was resolved.
pub(crate) fn resume(p: &mut Processor, key: Key) {
    match p.state.instance(key).map(|i| i.state) {
        Some(Lifecycle::Activating) => continue_activation(p, key),
        Some(Lifecycle::Completing) => continue_completion(p, key),
        _ => {}
    }
}

pub(crate) fn instance_and_graph(
    p: &Processor,
    key: Key,
) -> Option<(Arc<ProcessGraph>, ElementInstance)> {
    let inst = p.state.instance(key)?.clone();
    let graph = p
        .state
        .deployments
        .get(inst.at.process_definition_key)?
        .graph()
        .clone();
    Some((graph, inst))
}

/// An inner instance of a multi-instance activity: its flow scope is the body of the same element.
pub(crate) fn is_inner_instance(p: &Processor, inst: &ElementInstance) -> bool {
    inst.at.element != ProcessGraph::ROOT.0
        && p.state
            .instance(inst.at.flow_scope_key)
            .is_some_and(|parent| parent.at.element == inst.at.element)
}

fn gone() -> Failure {
    Failure::new(
        IncidentKind::Unknown,
        "Expected the element instance to exist, but it is gone",
    )
}

/// An awaited event happened for `owner` (message or timer): complete the catch event or receive task, run the
/// boundary event, or let the event-based gateway take the path of the event that came first.
pub(crate) fn trigger(p: &mut Processor, owner: Key, target: ElementIdx, payload: Json) {
    let Some((graph, inst)) = instance_and_graph(p, owner) else {
        return;
    };
    if inst.at.element == target.0 {
        if inst.state != Lifecycle::Activated {
            return;
        }
        if let Err(f) = variables::merge_result(p, owner, &payload) {
            p.raise_incident(owner, f, Key::NONE);
            return;
        }
        p.push(Step::Complete { key: owner });
        return;
    }
    match &graph.element(target).kind {
        ElementKind::Boundary(b) if b.interrupting => {
            if inst.state == Lifecycle::Terminating {
                return;
            }
            p.write(Event::ActivationDeferred {
                key: owner,
                element: target.0,
                variables: payload,
            });
            p.push(Step::Terminate { key: owner });
        }
        ElementKind::Boundary(_) => p.push(Step::Activate {
            scope: inst.at.flow_scope_key,
            element: target,
            via_flow: false,
            locals: None,
            payload: Some(payload),
        }),
        _ => {
            // The event after an event-based gateway: the gateway completes through that event's flow.
            if inst.state != Lifecycle::Activated {
                return;
            }
            let owner_el = graph.element(ElementIdx(inst.at.element));
            let Some(flow) = owner_el
                .outgoing
                .iter()
                .copied()
                .find(|f| graph.flow(*f).target == target)
            else {
                return;
            };
            p.write(Event::ElementCompleting { key: owner });
            close_waits(p, owner);
            p.write(Event::ElementCompleted { key: owner });
            let scope = inst.at.flow_scope_key;
            let key = p.new_key();
            p.write(Event::SequenceFlowTaken {
                key,
                flow_scope_key: scope,
                flow: flow.0,
            });
            p.push(Step::Activate {
                scope,
                element: target,
                via_flow: true,
                locals: None,
                payload: Some(payload),
            });
            p.push(Step::ChildEnded { scope });
        }
    }
}
