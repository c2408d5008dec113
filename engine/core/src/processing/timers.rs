//! Timers: catch events, boundary events, event-based gateways and timer start events. Due timers fire through the
//! `Tick` command, whose record timestamp is "now"; cycles re-arm until their repetitions run out.

use apsis_bpmn::feel::Feelish;
use apsis_bpmn::graph::{BoundaryTrigger, ElementKind, TimerRef, Trigger};
use apsis_bpmn::model::TimerKind;
use apsis_bpmn::timer::TimerSpec;
use apsis_bpmn::{ElementIdx, ProcessGraph};

use super::{bpmn, feel, instances, Failure, Processor};
use crate::event::{Event, IncidentKind, TimerRecord};
use crate::json::Json;
use crate::key::Key;

/// Evaluates a timer definition into a spec (static values were already checked at deploy time).
fn spec(p: &Processor, scope: Key, t: &TimerRef) -> Result<TimerSpec, Failure> {
    match &t.value {
        Feelish::Static(text) => TimerSpec::parse(t.kind, text)
            .map_err(|e| Failure::new(IncidentKind::ExtractValueError, e.to_string())),
        Feelish::Expr(_) => {
            let value = feel::eval_feelish(p, scope, &t.value, IncidentKind::ExtractValueError)?;
            TimerSpec::from_feel_value(t.kind, &value).map_err(|e| {
                Failure::new(
                    IncidentKind::ExtractValueError,
                    format!(
                        "Expected the timer expression '{}' to give a valid timer, but {e}",
                        feel::source(&t.value)
                    ),
                )
            })
        }
    }
}

/// Creates the timer of `target` owned by `owner`.
pub(crate) fn create_for(
    p: &mut Processor,
    owner: Key,
    scope: Key,
    target: ElementIdx,
    t: &TimerRef,
) -> Result<(), Failure> {
    let spec = spec(p, scope, t)?;
    let inst = p
        .state
        .instance(owner)
        .cloned()
        .ok_or_else(|| Failure::new(IncidentKind::Unknown, "element instance gone"))?;
    let due = spec.first_due(p.now).unwrap_or(p.now);
    let key = p.new_key();
    p.write(Event::TimerCreated {
        key,
        timer: TimerRecord {
            element_instance_key: owner,
            process_instance_key: inst.at.process_instance_key,
            process_definition_key: inst.at.process_definition_key,
            target_element: target.0,
            due,
            repetitions: repetitions(&spec, t.kind),
        },
    });
    Ok(())
}

fn repetitions(spec: &TimerSpec, kind: TimerKind) -> i32 {
    if kind != TimerKind::Cycle {
        return 1;
    }
    spec.remaining_fires().map(|r| r as i32).unwrap_or(-1)
}

pub(crate) fn cancel_for(p: &mut Processor, owner: Key) {
    let keys = p
        .state
        .timers
        .by_element
        .get(&owner)
        .cloned()
        .unwrap_or_default();
    for key in keys {
        p.write(Event::TimerCanceled { key });
    }
}

/// Arms the timer start events of a newly deployed latest version (and disarms the previous version's).
pub(crate) fn rearm_start_timers(p: &mut Processor, previous: Option<Key>, latest: Key) {
    if let Some(prev) = previous {
        let keys = p
            .state
            .timers
            .by_definition
            .get(&prev)
            .cloned()
            .unwrap_or_default();
        for key in keys {
            p.write(Event::TimerCanceled { key });
        }
    }
    let Some(graph) = p.state.deployments.get(latest).map(|d| d.graph().clone()) else {
        return;
    };
    for start in graph.starts(ProcessGraph::ROOT).timer_starts.clone() {
        let ElementKind::StartEvent(Trigger::Timer(t)) = &graph.element(start).kind else {
            continue;
        };
        // Start timers cannot use instance variables: only static values (checked at deploy) or constant FEEL.
        let spec = match &t.value {
            Feelish::Static(text) => TimerSpec::parse(t.kind, text).ok(),
            Feelish::Expr(_) => {
                feel::eval_feelish(p, Key::NONE, &t.value, IncidentKind::ExtractValueError)
                    .ok()
                    .and_then(|v| TimerSpec::from_feel_value(t.kind, &v).ok())
            }
        };
        let Some(spec) = spec else { continue };
        let Some(due) = spec.first_due(p.now) else {
            continue;
        };
        let key = p.new_key();
        p.write(Event::TimerCreated {
            key,
            timer: TimerRecord {
                element_instance_key: Key::NONE,
                process_instance_key: Key::NONE,
                process_definition_key: latest,
                target_element: start.0,
                due,
                repetitions: repetitions(&spec, t.kind),
            },
        });
    }
}

/// Fires due timers, oldest first.
pub(crate) fn tick(p: &mut Processor, budget: &mut usize) {
    while *budget > 0 {
        let Some(&(due, key)) = p.state.timers.due.first() else {
            break;
        };
        if due > p.now {
            break;
        }
        *budget -= 1;
        let Some(timer) = p.state.timers.by_key.get(&key).cloned() else {
            break;
        };
        p.write(Event::TimerTriggered { key });
        let target = ElementIdx(timer.target_element);
        let graph = p
            .state
            .deployments
            .get(timer.process_definition_key)
            .map(|d| d.graph().clone());
        let Some(graph) = graph else { continue };
        let again = timer.repetitions != 1 && rearmable(&graph, target);
        if again {
            if let Some(next) = next_due(p, &graph, target, timer.element_instance_key, due) {
                let nkey = p.new_key();
                let mut t = timer.clone();
                t.due = next;
                t.repetitions = if timer.repetitions < 0 {
                    -1
                } else {
                    timer.repetitions - 1
                };
                p.write(Event::TimerCreated {
                    key: nkey,
                    timer: t,
                });
            }
        }
        if timer.element_instance_key.is_none() {
            instances::start_at(
                p,
                timer.process_definition_key,
                target,
                Some(Json::object()),
            );
        } else {
            bpmn::trigger(p, timer.element_instance_key, target, Json::object());
        }
    }
}

/// Cycles re-arm on timer start events and non-interrupting boundary events.
fn rearmable(graph: &ProcessGraph, target: ElementIdx) -> bool {
    match &graph.element(target).kind {
        ElementKind::StartEvent(_) => true,
        ElementKind::Boundary(b) => !b.interrupting,
        _ => false,
    }
}

fn next_due(
    p: &Processor,
    graph: &ProcessGraph,
    target: ElementIdx,
    owner: Key,
    previous: i64,
) -> Option<i64> {
    let t = match &graph.element(target).kind {
        ElementKind::StartEvent(Trigger::Timer(t)) => t,
        ElementKind::Boundary(b) => match &b.trigger {
            BoundaryTrigger::Timer(t) => t,
            _ => return None,
        },
        _ => return None,
    };
    let spec = spec(p, owner, t).ok()?;
    spec.reschedule(previous, p.now).map(|(_, due)| due)
}
