//! The kind of every flow node: events, gateways, subprocesses, and the elements Apsis does not execute.

use crate::graph::*;
use crate::model::*;

use super::refs::{ErrorUse, Support};
use super::{is_activity, Build, Compiler, Slot};

const ALL_TIMERS: &[TimerKind] = &[TimerKind::Duration, TimerKind::Date, TimerKind::Cycle];
const ONE_SHOT_TIMERS: &[TimerKind] = &[TimerKind::Duration, TimerKind::Date];

impl<'a> Compiler<'a> {
    /// The executable kind of a node, or `None` when it cannot be compiled (every reason reported).
    pub(super) fn kind(&mut self, slot: &Slot<'a>, b: &Build<'a>) -> Option<ElementKind> {
        let n = slot.node;
        if let Some(pos) = n.standard_loop {
            self.unsupported(
                n,
                "a standard loop marker (bpmn:standardLoopCharacteristics)",
                pos,
                Support::Neither,
            );
        }
        match &n.kind {
            NodeKind::StartEvent { event, .. } => self.start_event(slot, b, event),
            NodeKind::EndEvent { event } => match event {
                EventDefinition::None => Some(ElementKind::EndEvent(EndKind::None)),
                EventDefinition::Terminate { .. } => {
                    Some(ElementKind::EndEvent(EndKind::Terminate))
                }
                EventDefinition::Error { error_ref, pos } => self
                    .error_code(n, error_ref.as_deref(), *pos, ErrorUse::Throw)
                    .map(|code| {
                        ElementKind::EndEvent(EndKind::Error {
                            code: code.unwrap_or_default(),
                        })
                    }),
                other => self.unsupported_event(n, "an end event", other),
            },
            NodeKind::IntermediateThrowEvent { event } => match event {
                EventDefinition::None => Some(ElementKind::IntermediateThrowNone),
                other => self.unsupported_event(n, "an intermediate throw event", other),
            },
            NodeKind::IntermediateCatchEvent { event } => match event {
                EventDefinition::Message { message_ref, pos } => self
                    .message(n, message_ref.as_deref(), *pos, true)
                    .map(|m| ElementKind::IntermediateCatch(Trigger::Message(m))),
                EventDefinition::Timer { timer, pos } => self
                    .timer(
                        n,
                        timer,
                        *pos,
                        ONE_SHOT_TIMERS,
                        "an intermediate catch event",
                    )
                    .map(|t| ElementKind::IntermediateCatch(Trigger::Timer(t))),
                EventDefinition::None => {
                    self.problem(n.pos, &n.id, "Expected an intermediate catch event to have a message or timer event definition, but found none".into());
                    None
                }
                other => self.unsupported_event(n, "an intermediate catch event", other),
            },
            NodeKind::BoundaryEvent {
                event,
                attached_to,
                cancel_activity,
            } => self.boundary(slot, b, event, attached_to.as_deref(), *cancel_activity),
            NodeKind::Task(task) => self.task(n, *task),
            NodeKind::Gateway(g) => self.gateway(n, *g, b),
            NodeKind::SubProcess {
                triggered_by_event, ..
            } => {
                if *triggered_by_event {
                    self.unsupported(n, "an event subprocess", n.pos, Support::ZeebeOnly);
                    None
                } else {
                    Some(ElementKind::SubProcess(ScopeStarts::default()))
                }
            }
            NodeKind::Other => {
                let (what, support) = match n.tag.as_str() {
                    "bpmn:transaction" => ("a transaction subprocess".to_owned(), Support::Neither),
                    "bpmn:callActivity" => ("a call activity".to_owned(), Support::ZeebeOnly),
                    "bpmn:adHocSubProcess" => {
                        ("an ad-hoc subprocess".to_owned(), Support::ZeebeOnly)
                    }
                    tag => (format!("'{tag}'"), Support::Neither),
                };
                self.unsupported(n, &what, n.pos, support);
                None
            }
        }
    }

    fn start_event(
        &mut self,
        slot: &Slot<'a>,
        b: &Build<'a>,
        event: &EventDefinition,
    ) -> Option<ElementKind> {
        let n = slot.node;
        let in_process = slot.scope == ProcessGraph::ROOT;
        // The start events of an event subprocess are its triggers; the subprocess itself is reported as
        // unsupported, and its triggers are still checked for what they reference.
        let in_event_subprocess = b.node(slot.scope).is_some_and(|parent| {
            matches!(
                parent.kind,
                NodeKind::SubProcess {
                    triggered_by_event: true,
                    ..
                }
            )
        });
        match event {
            EventDefinition::None => Some(ElementKind::StartEvent(Trigger::None)),
            EventDefinition::Message { message_ref, pos } if in_process || in_event_subprocess => {
                self.message(n, message_ref.as_deref(), *pos, !in_process)
                    .map(|m| ElementKind::StartEvent(Trigger::Message(m)))
            }
            EventDefinition::Timer { timer, pos } if in_process || in_event_subprocess => self
                .timer(n, timer, *pos, ALL_TIMERS, "a timer start event")
                .map(|t| ElementKind::StartEvent(Trigger::Timer(t))),
            EventDefinition::Message { pos, .. } | EventDefinition::Timer { pos, .. } => {
                self.problem(*pos, &n.id, "Expected a none start event inside an embedded subprocess, but found a start event with an event definition".into());
                None
            }
            other => self.unsupported_event(n, "a start event", other),
        }
    }

    fn boundary(
        &mut self,
        slot: &Slot<'a>,
        b: &Build<'a>,
        event: &EventDefinition,
        attached_to: Option<&str>,
        interrupting: bool,
    ) -> Option<ElementKind> {
        let n = slot.node;
        let id = n.id.as_str();
        let host = match attached_to.filter(|a| !a.is_empty()) {
            None => {
                self.problem(
                    n.pos,
                    id,
                    "Expected a boundary event to have an 'attachedToRef', but found none".into(),
                );
                None
            }
            Some(a) => match b.index.get(a) {
                None => {
                    self.problem(n.pos, id, format!("Expected 'attachedToRef' to reference an activity, but found no element with id '{a}'"));
                    None
                }
                Some(&h) => match b.slot(h) {
                    Some(host) if is_activity(host.node) && host.scope == slot.scope => Some(h),
                    Some(host) if is_activity(host.node) => {
                        self.problem(n.pos, id, format!("Expected the boundary event to be in the same scope as the activity '{a}' it is attached to, but it is not"));
                        None
                    }
                    _ => {
                        self.problem(n.pos, id, format!("Expected 'attachedToRef' to reference an activity, but '{a}' is not an activity"));
                        None
                    }
                },
            },
        };
        let trigger = match event {
            EventDefinition::Timer { timer, pos } => {
                let (kinds, on) = if interrupting {
                    (ONE_SHOT_TIMERS, "an interrupting boundary event")
                } else {
                    (ALL_TIMERS, "a non-interrupting boundary event")
                };
                self.timer(n, timer, *pos, kinds, on)
                    .map(BoundaryTrigger::Timer)
            }
            EventDefinition::Message { message_ref, pos } => self
                .message(n, message_ref.as_deref(), *pos, true)
                .map(BoundaryTrigger::Message),
            EventDefinition::Error { error_ref, pos } => {
                if !interrupting {
                    self.problem(*pos, id, "Expected an error boundary event to be interrupting, but cancelActivity is 'false'".into());
                }
                self.error_code(n, error_ref.as_deref(), *pos, ErrorUse::Catch)
                    .map(|code| BoundaryTrigger::Error { code })
            }
            EventDefinition::None => {
                self.problem(
                    n.pos,
                    id,
                    "Expected a boundary event to have an event definition, but found none".into(),
                );
                None
            }
            other => return self.unsupported_event(n, "a boundary event", other),
        };
        Some(ElementKind::Boundary(Boundary {
            attached_to: host?,
            interrupting,
            trigger: trigger?,
        }))
    }

    fn gateway(&mut self, n: &FlowNode, g: GatewayKind, b: &Build<'a>) -> Option<ElementKind> {
        match g {
            GatewayKind::Exclusive => {
                let default = match n.default_flow.as_deref().filter(|f| !f.is_empty()) {
                    None => None,
                    Some(f) => match b.flow_index.get(f) {
                        Some(&fi) => Some(fi),
                        None if b.all_flow_ids.contains(f) => return None,
                        None => {
                            self.problem(n.pos, &n.id, format!("Expected the default flow '{f}' to be an outgoing sequence flow of the gateway, but found no sequence flow with that id"));
                            return None;
                        }
                    },
                };
                Some(ElementKind::ExclusiveGateway { default })
            }
            GatewayKind::Parallel => Some(ElementKind::ParallelGateway),
            GatewayKind::EventBased => Some(ElementKind::EventBasedGateway),
            GatewayKind::Inclusive => {
                self.unsupported(n, "an inclusive gateway", n.pos, Support::ZeebeOnly);
                None
            }
            GatewayKind::Complex => {
                self.unsupported(n, "a complex gateway", n.pos, Support::Neither);
                None
            }
        }
    }

    fn unsupported_event(
        &mut self,
        n: &FlowNode,
        event: &str,
        def: &EventDefinition,
    ) -> Option<ElementKind> {
        let (kind, pos) = match def {
            EventDefinition::None => ("none", n.pos),
            EventDefinition::Message { pos, .. } => ("message", *pos),
            EventDefinition::Timer { pos, .. } => ("timer", *pos),
            EventDefinition::Error { pos, .. } => ("error", *pos),
            EventDefinition::Terminate { pos } => ("terminate", *pos),
            EventDefinition::Unsupported { tag, pos } => (
                tag.trim_start_matches("bpmn:")
                    .trim_end_matches("EventDefinition"),
                *pos,
            ),
            EventDefinition::Multiple { pos } => ("multiple", *pos),
        };
        let what = match kind {
            "none" => format!("{event} without an event definition"),
            "multiple" => format!("{event} with several event definitions (a multiple event)"),
            "compensate" => format!("{event} with a compensation event definition"),
            "error" | "escalation" => format!("{event} with an {kind} event definition"),
            _ => format!("{event} with a {kind} event definition"),
        };
        let support = if zeebe_executes(event, kind) {
            Support::ZeebeOnly
        } else {
            Support::Neither
        };
        self.unsupported(n, &what, pos, support);
        None
    }
}

/// Whether Zeebe 8.x executes an event of this kind (`event` as named in messages) with this event definition;
/// after Zeebe's `*EventValidator`s (camunda/camunda `zeebe/bpmn-model/.../validation/zeebe`).
fn zeebe_executes(event: &str, definition: &str) -> bool {
    let supported: &[&str] = match event {
        "a start event" => &["signal", "conditional"],
        "an end event" => &["message", "signal", "escalation", "compensate"],
        "an intermediate throw event" => &["message", "signal", "escalation", "link", "compensate"],
        "an intermediate catch event" => &["signal", "link", "conditional"],
        "a boundary event" => &["signal", "escalation", "compensate", "conditional"],
        _ => &[],
    };
    supported.contains(&definition)
}
