//! Messages: publishing, buffering with a TTL, subscriptions of waiting elements, correlation (at most once per
//! BPMN process id), and message start events.

use apsis_bpmn::graph::{ElementKind, MessageRef, Trigger};
use apsis_bpmn::{ElementIdx, ProcessGraph};

use super::{bpmn, feel, instances, Failure, Processor, Rejected, Step};
use crate::command::{Rejection, RejectionKind, Response};
use crate::event::{Event, MessageRecord, SubscriptionRecord};
use crate::json::Json;
use crate::key::Key;

/// Opens a subscription for `owner` that triggers `target`, and correlates a buffered message at once if one waits.
pub(crate) fn open(
    p: &mut Processor,
    owner: Key,
    eval_scope: Key,
    target: ElementIdx,
    m: &MessageRef,
    interrupting: bool,
) -> Result<(), Failure> {
    let name = feel::eval_string(p, eval_scope, &m.name, "the message name")?;
    let correlation_key = match &m.correlation_key {
        Some(k) => feel::eval_string(p, eval_scope, k, "the correlation key")?,
        None => String::new(),
    };
    let inst = p.state.instance(owner).cloned().ok_or_else(|| {
        Failure::new(crate::event::IncidentKind::Unknown, "element instance gone")
    })?;
    let bpmn_process_id = p
        .state
        .deployments
        .get(inst.at.process_definition_key)
        .map(|d| d.bpmn_process_id.clone())
        .unwrap_or_default();
    let key = p.new_key();
    p.write(Event::SubscriptionCreated {
        key,
        subscription: SubscriptionRecord {
            element_instance_key: owner,
            process_instance_key: inst.at.process_instance_key,
            process_definition_key: inst.at.process_definition_key,
            bpmn_process_id: bpmn_process_id.clone(),
            message_name: name.clone(),
            correlation_key: correlation_key.clone(),
            target_element: target.0,
            interrupting,
        },
    });
    // A buffered message not yet correlated to this process id correlates now (oldest first).
    let candidate = p
        .state
        .messages
        .by_name_key
        .get(&(name, correlation_key))
        .and_then(|set| {
            set.iter().copied().find(|m| {
                !p.state
                    .messages
                    .correlated
                    .get(m)
                    .is_some_and(|ids| ids.contains(&bpmn_process_id))
            })
        });
    if let Some(message) = candidate {
        p.push(Step::Correlate {
            subscription: key,
            message,
        });
    }
    Ok(())
}

pub(crate) fn close_for(p: &mut Processor, owner: Key) {
    let keys = p
        .state
        .subscriptions
        .by_element
        .get(&owner)
        .cloned()
        .unwrap_or_default();
    for key in keys {
        p.write(Event::SubscriptionDeleted { key });
    }
}

/// Step `Correlate`: the subscription and the message may have changed since the step was queued.
pub(crate) fn correlate_buffered(p: &mut Processor, subscription: Key, message: Key) {
    let Some(sub) = p.state.subscriptions.by_key.get(&subscription) else {
        return;
    };
    if !p.state.messages.by_key.contains_key(&message) {
        return;
    }
    let taken = p
        .state
        .messages
        .correlated
        .get(&message)
        .is_some_and(|ids| ids.contains(&sub.bpmn_process_id));
    if !taken {
        correlate(p, subscription, message);
    }
}

fn correlate(p: &mut Processor, subscription: Key, message_key: Key) {
    let Some(sub) = p.state.subscriptions.by_key.get(&subscription).cloned() else {
        return;
    };
    let variables = p
        .state
        .messages
        .by_key
        .get(&message_key)
        .map(|m| m.variables.clone())
        .unwrap_or_else(Json::object);
    p.write(Event::SubscriptionCorrelated {
        key: subscription,
        message_key,
    });
    let target = ElementIdx(sub.target_element);
    let non_interrupting_boundary = !sub.interrupting
        && bpmn::instance_and_graph(p, sub.element_instance_key)
            .is_some_and(|(g, _)| matches!(g.element(target).kind, ElementKind::Boundary(_)));
    if non_interrupting_boundary {
        // A non-interrupting boundary keeps listening.
        let key = p.new_key();
        p.write(Event::SubscriptionCreated {
            key,
            subscription: sub.clone(),
        });
    }
    bpmn::trigger(p, sub.element_instance_key, target, variables);
}

pub(crate) fn publish(
    p: &mut Processor,
    name: &str,
    correlation_key: &str,
    ttl_ms: i64,
    message_id: &str,
    variables: &Json,
) -> Rejected<Response> {
    if !message_id.is_empty()
        && p.state.messages.ids.contains_key(&(
            name.to_owned(),
            correlation_key.to_owned(),
            message_id.to_owned(),
        ))
    {
        return Err(Rejection::new(
            RejectionKind::AlreadyExists,
            format!("Expected to publish a new message with id '{message_id}', but a message with that id was already published"),
        ));
    }
    let key = p.new_key();
    p.write(Event::MessagePublished {
        key,
        message: MessageRecord {
            name: name.to_owned(),
            correlation_key: correlation_key.to_owned(),
            message_id: message_id.to_owned(),
            deadline: p.now.saturating_add(ttl_ms.max(0)),
            variables: variables.clone(),
        },
    });
    // Open subscriptions, oldest first, at most one per BPMN process id.
    let subs: Vec<Key> = p
        .state
        .subscriptions
        .by_name_key
        .get(&(name.to_owned(), correlation_key.to_owned()))
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();
    let mut served: Vec<String> = Vec::new();
    for sub in subs {
        let Some(s) = p.state.subscriptions.by_key.get(&sub) else {
            continue;
        };
        if served.contains(&s.bpmn_process_id) {
            continue;
        }
        served.push(s.bpmn_process_id.clone());
        correlate(p, sub, key);
    }
    // Message start events of the latest versions.
    let starts: Vec<(Key, String, ElementIdx)> = p
        .state
        .deployments
        .by_id
        .keys()
        .filter_map(|id| p.state.deployments.latest(id))
        .flat_map(|d| {
            let g = d.graph().clone();
            g.starts(ProcessGraph::ROOT)
                .message_starts
                .iter()
                .filter_map(|s| match &g.element(*s).kind {
                    ElementKind::StartEvent(Trigger::Message(m)) => match &m.name {
                        apsis_bpmn::feel::Feelish::Static(n) if n == name => {
                            Some((d.key, d.bpmn_process_id.clone(), *s))
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for (def_key, bpmn_id, start) in starts {
        if served.contains(&bpmn_id) {
            continue;
        }
        if !correlation_key.is_empty()
            && p.state
                .messages
                .started_instances
                .contains_key(&(bpmn_id.clone(), correlation_key.to_owned()))
        {
            continue;
        }
        served.push(bpmn_id);
        let pi = instances::start_at(p, def_key, start, Some(variables.clone()));
        p.write(Event::MessageStartCorrelated {
            message_key: key,
            process_definition_key: def_key,
            process_instance_key: pi,
            correlation_key: correlation_key.to_owned(),
        });
    }
    if ttl_ms <= 0 {
        p.write(Event::MessageExpired { key });
    }
    Ok(Response::MessagePublished { key })
}

/// Buffered messages whose TTL ran out.
pub(crate) fn tick(p: &mut Processor, budget: &mut usize) {
    while *budget > 0 {
        let Some(&(deadline, key)) = p.state.messages.deadlines.first() else {
            break;
        };
        if deadline > p.now {
            break;
        }
        *budget -= 1;
        p.write(Event::MessageExpired { key });
    }
}

/// A process instance created by a message start event ended: the oldest buffered message for the same correlation
/// key that this process has not seen yet starts the next instance (Zeebe's behaviour).
pub(crate) fn start_from_buffer(p: &mut Processor, bpmn_process_id: &str, correlation_key: &str) {
    let Some(def) = p.state.deployments.latest(bpmn_process_id) else {
        return;
    };
    let (def_key, graph) = (def.key, def.graph().clone());
    for start in graph.starts(ProcessGraph::ROOT).message_starts.clone() {
        let ElementKind::StartEvent(Trigger::Message(m)) = &graph.element(start).kind else {
            continue;
        };
        let apsis_bpmn::feel::Feelish::Static(name) = &m.name else {
            continue;
        };
        let candidate = p
            .state
            .messages
            .by_name_key
            .get(&(name.clone(), correlation_key.to_owned()))
            .and_then(|set| {
                set.iter().copied().find(|k| {
                    !p.state
                        .messages
                        .correlated
                        .get(k)
                        .is_some_and(|ids| ids.iter().any(|i| i == bpmn_process_id))
                })
            });
        let Some(message_key) = candidate else {
            continue;
        };
        let variables = p
            .state
            .messages
            .by_key
            .get(&message_key)
            .map(|m| m.variables.clone());
        let pi = instances::start_at(p, def_key, start, variables);
        p.write(Event::MessageStartCorrelated {
            message_key,
            process_definition_key: def_key,
            process_instance_key: pi,
            correlation_key: correlation_key.to_owned(),
        });
        return;
    }
}
