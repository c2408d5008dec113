//! Rules about the shape of a process graph: start events, flows in and out, gateways, error boundaries.

use std::collections::{HashMap, HashSet};

use crate::feel::Feelish;
use crate::graph::*;
use crate::model::{self, GatewayKind, NodeKind};
use crate::Problem;

use super::{Build, Compiler};

impl<'a> Compiler<'a> {
    pub(super) fn structure(&mut self, p: &model::Process, g: &mut ProcessGraph, b: &Build<'a>) {
        let mut starts: HashMap<ElementIdx, ScopeStarts> = HashMap::new();
        starts.insert(ProcessGraph::ROOT, ScopeStarts::default());
        for (i, el) in g.elements.iter().enumerate() {
            if matches!(el.kind, ElementKind::SubProcess(_)) {
                starts.insert(ElementIdx(i as u32), ScopeStarts::default());
            }
        }
        for (i, el) in g.elements.iter().enumerate().skip(1) {
            let idx = ElementIdx(i as u32);
            let scope = el.scope.unwrap_or(ProcessGraph::ROOT);
            let node = b.slots[i - 1].node;
            if matches!(node.kind, NodeKind::StartEvent { .. }) && !el.incoming.is_empty() {
                self.problem(
                    node.pos,
                    &el.id,
                    "Expected a start event to have no incoming sequence flow, but found one"
                        .into(),
                );
            }
            if let Some(s) = starts.get_mut(&scope) {
                match &el.kind {
                    ElementKind::StartEvent(Trigger::None) => match s.none_start {
                        Some(first) => {
                            let first = g.elements[first.0 as usize].id.clone();
                            self.problems.push(Problem::at(
                                node.pos,
                                Some(&el.id),
                                format!("Expected at most one none start event per (sub)process, but found another besides '{first}'"),
                            ));
                        }
                        None => s.none_start = Some(idx),
                    },
                    ElementKind::StartEvent(Trigger::Message(_)) => s.message_starts.push(idx),
                    ElementKind::StartEvent(Trigger::Timer(_)) => s.timer_starts.push(idx),
                    _ => {}
                }
            }
            if b.failed.contains(&idx) {
                continue;
            }
            match &el.kind {
                ElementKind::EndEvent(_) if !el.outgoing.is_empty() => {
                    self.problem(
                        node.pos,
                        &el.id,
                        "Expected an end event to have no outgoing sequence flow, but found one"
                            .into(),
                    );
                }
                // Zeebe accepts a boundary event without outgoing flows (a token sink) since 8.6.x
                // (camunda/camunda#33589); only incoming flows are wrong.
                ElementKind::Boundary(_) if !el.incoming.is_empty() => {
                    self.problem(
                        node.pos,
                        &el.id,
                        "Expected a boundary event to have no incoming sequence flow, but found one"
                            .into(),
                    );
                }
                ElementKind::ExclusiveGateway { default } => {
                    self.exclusive(g, b, idx, *default);
                }
                ElementKind::EventBasedGateway => self.event_based(g, idx, node.pos),
                _ => {}
            }
        }
        self.conditions_only_at_exclusive(g, b);
        self.error_boundaries(g, b);
        self.same_message_twice(g, b, &starts);
        // Scopes' start events.
        let root_starts = starts.get(&ProcessGraph::ROOT).cloned().unwrap_or_default();
        if root_starts.none_start.is_none()
            && root_starts.message_starts.is_empty()
            && root_starts.timer_starts.is_empty()
            && !g.elements.iter().skip(1).zip(&b.slots).any(|(el, slot)| {
                el.scope == Some(ProcessGraph::ROOT)
                    && matches!(slot.node.kind, NodeKind::StartEvent { .. })
            })
        {
            self.problems.push(Problem::at(
                p.pos,
                Some(&p.id),
                "Expected a process to have at least one start event, but found none".into(),
            ));
        }
        let mut starts: Vec<(ElementIdx, ScopeStarts)> = starts.into_iter().collect();
        starts.sort_by_key(|(idx, _)| *idx);
        for (idx, s) in starts {
            if idx != ProcessGraph::ROOT && s.none_start.is_none() {
                let el = &g.elements[idx.0 as usize];
                self.problem(b.slots[idx.0 as usize - 1].node.pos, &el.id.clone(), "Expected an embedded subprocess to have exactly one none start event, but found none".into());
            }
            match &mut g.elements[idx.0 as usize].kind {
                ElementKind::Process(slot) | ElementKind::SubProcess(slot) => *slot = s,
                _ => {}
            }
        }
    }

    fn exclusive(
        &mut self,
        g: &ProcessGraph,
        b: &Build<'a>,
        idx: ElementIdx,
        default: Option<FlowIdx>,
    ) {
        let el = &g.elements[idx.0 as usize];
        let node = b.slots[idx.0 as usize - 1].node;
        if let Some(d) = default {
            let flow = &g.flows[d.0 as usize];
            if flow.source != idx {
                let from = &g.elements[flow.source.0 as usize].id;
                self.problem(node.pos, &el.id, format!("Expected the default flow '{}' to be an outgoing sequence flow of the gateway, but it leaves '{from}'", flow.id));
            }
        }
        if el.outgoing.len() > 1 {
            for f in &el.outgoing {
                let def = b.flow_defs[f.0 as usize];
                // A flow whose condition is there but invalid was reported already.
                if def.condition.is_none() && Some(*f) != default {
                    self.problem(def.pos, &def.id, format!("Expected the sequence flow leaving exclusive gateway '{}' to have a condition or be the gateway's default flow, but it has neither", el.id));
                }
            }
        }
    }

    fn event_based(&mut self, g: &ProcessGraph, idx: ElementIdx, pos: model::Pos) {
        let el = &g.elements[idx.0 as usize];
        if el.outgoing.len() < 2 {
            self.problem(
                pos,
                &el.id,
                format!(
                    "Expected an event-based gateway to have at least two outgoing sequence flows, but found {}",
                    el.outgoing.len()
                ),
            );
        }
        for f in &el.outgoing {
            let flow = &g.flows[f.0 as usize];
            let target = &g.elements[flow.target.0 as usize];
            let ok = matches!(target.kind, ElementKind::IntermediateCatch(_))
                && target.incoming.len() == 1;
            if !ok {
                self.problem(pos, &el.id, format!("Expected every flow of an event-based gateway to lead to an intermediate message or timer catch event with no other incoming flow, but '{}' leads to '{}'", flow.id, target.id));
            }
        }
    }

    /// Conditions are only evaluated on flows leaving exclusive gateways (Zeebe: exclusive or inclusive).
    fn conditions_only_at_exclusive(&mut self, g: &ProcessGraph, b: &Build<'a>) {
        for (i, f) in g.flows.iter().enumerate() {
            let def = b.flow_defs[i];
            let source = b.slots[f.source.0 as usize - 1].node;
            let at_gateway = matches!(
                source.kind,
                NodeKind::Gateway(GatewayKind::Exclusive | GatewayKind::Inclusive)
            );
            if def.condition.is_some() && !at_gateway && !b.failed.contains(&f.source) {
                self.problem(def.pos, &f.id, format!("Expected a condition only on a sequence flow leaving an exclusive gateway, but '{}' leaves '{}'", f.id, source.id));
            }
        }
    }

    /// Error boundaries: one per error code per activity, one catch-all at most.
    fn error_boundaries(&mut self, g: &ProcessGraph, b: &Build<'a>) {
        for el in &g.elements {
            let mut codes: HashSet<Option<&str>> = HashSet::new();
            for be in &el.boundaries {
                let boundary = &g.elements[be.0 as usize];
                if let ElementKind::Boundary(Boundary {
                    trigger: BoundaryTrigger::Error { code },
                    ..
                }) = &boundary.kind
                {
                    if !codes.insert(code.as_deref()) {
                        let pos = b.slots[be.0 as usize - 1].node.pos;
                        let which = match code {
                            Some(c) => format!("another for error code '{c}'"),
                            None => "another that catches every error".to_owned(),
                        };
                        self.problem(pos, &boundary.id, format!("Expected at most one error boundary event per error code on '{}', but found {which}", el.id));
                    }
                }
            }
        }
    }

    /// Zeebe refuses two subscriptions to the same message name where one event would have to win: on the boundary
    /// events of one activity (and a receive task's own message), after one event-based gateway, and among the message
    /// start events of a process (camunda/camunda `ModelUtil.verifyNoDuplicatedEventDefinition`, `ReceiveTaskValidator`).
    fn same_message_twice(
        &mut self,
        g: &ProcessGraph,
        b: &Build<'a>,
        starts: &HashMap<ElementIdx, ScopeStarts>,
    ) {
        let name = |idx: ElementIdx| -> Option<String> {
            let m = match &g.elements[idx.0 as usize].kind {
                ElementKind::Boundary(Boundary {
                    trigger: BoundaryTrigger::Message(m),
                    ..
                })
                | ElementKind::IntermediateCatch(Trigger::Message(m))
                | ElementKind::StartEvent(Trigger::Message(m))
                | ElementKind::ReceiveTask { message: m } => m,
                _ => return None,
            };
            Some(match &m.name {
                Feelish::Static(s) => s.clone(),
                Feelish::Expr(e) => format!("={}", e.source()),
            })
        };
        let pos = |idx: ElementIdx| b.slots[idx.0 as usize - 1].node.pos;
        let id = |idx: ElementIdx| g.elements[idx.0 as usize].id.clone();
        // The first element waiting for each name among `waiting`; later ones are reported by `report`.
        let duplicates = |waiting: &[ElementIdx]| -> Vec<(ElementIdx, ElementIdx, String)> {
            let mut first: HashMap<String, ElementIdx> = HashMap::new();
            let mut out = Vec::new();
            for &w in waiting {
                if let Some(n) = name(w) {
                    match first.get(&n) {
                        Some(&f) => out.push((f, w, n)),
                        None => {
                            first.insert(n, w);
                        }
                    }
                }
            }
            out
        };
        let mut problems = Vec::new();
        for (i, el) in g.elements.iter().enumerate() {
            let idx = ElementIdx(i as u32);
            if let ElementKind::ReceiveTask { .. } = el.kind {
                let own = name(idx);
                for &be in &el.boundaries {
                    if own.is_some() && name(be) == own {
                        problems.push((pos(idx), id(idx), format!("Expected a receive task and its boundary events to wait for different messages, but '{}' also waits for message '{}'", id(be), own.clone().unwrap_or_default())));
                    }
                }
            }
            for (f, d, n) in duplicates(&el.boundaries) {
                problems.push((pos(d), id(d), format!("Expected the boundary events of '{}' to wait for different messages, but '{}' also waits for message '{n}'", el.id, id(f))));
            }
            if let ElementKind::EventBasedGateway = el.kind {
                let targets: Vec<ElementIdx> = el
                    .outgoing
                    .iter()
                    .map(|f| g.flows[f.0 as usize].target)
                    .collect();
                for (f, d, n) in duplicates(&targets) {
                    problems.push((pos(idx), id(idx), format!("Expected the events after an event-based gateway to wait for different messages, but '{}' and '{}' both wait for message '{n}'", id(f), id(d))));
                }
            }
        }
        if let Some(root) = starts.get(&ProcessGraph::ROOT) {
            for (f, d, n) in duplicates(&root.message_starts) {
                problems.push((pos(d), id(d), format!("Expected the message start events of a process to wait for different messages, but '{}' also waits for message '{n}'", id(f))));
            }
        }
        for (at, element, message) in problems {
            self.problem(at, &element, message);
        }
    }
}
