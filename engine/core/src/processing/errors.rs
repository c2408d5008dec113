//! Throwing BPMN errors (error end events, ThrowError from a worker) and finding the boundary event that catches
//! them: from the thrower outwards, per scope an error boundary with the same code first, then a catch-all one.

use apsis_bpmn::graph::{Boundary, BoundaryTrigger, ElementKind};
use apsis_bpmn::ElementIdx;

use super::{bpmn, Failure, Processor, Step};
use crate::event::{Event, IncidentKind};
use crate::json::Json;
use crate::key::Key;

pub(crate) fn throw(
    p: &mut Processor,
    from: Key,
    code: &str,
    message: &str,
    variables: &Json,
) -> Result<(), Failure> {
    let mut current = Some(from);
    while let Some(key) = current {
        let Some((graph, inst)) = bpmn::instance_and_graph(p, key) else {
            break;
        };
        if !bpmn::is_inner_instance(p, &inst) {
            let el = graph.element(ElementIdx(inst.at.element));
            let catching = |exact: bool| {
                el.boundaries
                    .iter()
                    .copied()
                    .find(|b| match &graph.element(*b).kind {
                        ElementKind::Boundary(Boundary {
                            trigger: BoundaryTrigger::Error { code: c },
                            ..
                        }) => {
                            if exact {
                                c.as_deref() == Some(code)
                            } else {
                                c.is_none()
                            }
                        }
                        _ => false,
                    })
            };
            if let Some(b) = catching(true).or_else(|| catching(false)) {
                p.write(Event::ActivationDeferred {
                    key,
                    element: b.0,
                    variables: variables.clone(),
                });
                p.push(Step::Terminate { key });
                return Ok(());
            }
        }
        current = p.state.parent_scope(key);
    }
    let message_part = if message.is_empty() {
        String::new()
    } else {
        format!(" with message '{message}'")
    };
    Err(Failure::new(
        IncidentKind::UnhandledErrorEvent,
        format!("Expected to throw an error event with the code '{code}'{message_part}, but it was not caught. No error events are available in the scope."),
    ))
}
