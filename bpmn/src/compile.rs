//! Validation and compilation: the typed model -> [`ProcessGraph`]s, reporting every problem at once.
//!
//! The rules follow what Zeebe accepts at deployment (camunda/camunda `ZeebeDesignTimeValidators` and
//! `ZeebeRuntimeValidators`), minus the elements Apsis does not execute yet, which are reported as such. Every message
//! says what was expected and what was found, and names the element and its position: the element's start tag, or the
//! child that is wrong (a timer's `timeDuration`, a `zeebe:input`, a `zeebe:subscription`, ...).
//!
//! The work is split by subject: [`refs`] resolves messages, errors, timers and expressions; [`activities`] reads
//! tasks, mappings and multi-instance; [`events`] reads events and gateways; [`structure`] checks the shape of the
//! graph (start events, flows in and out, gateways, boundaries).

use std::collections::{HashMap, HashSet};

use crate::graph::*;
use crate::model::{self, *};
use crate::Problem;

mod activities;
mod events;
mod refs;
mod structure;

/// The job type of a user task without `zeebe:taskDefinition`, as in Zeebe (served by Tasklist).
pub const USER_TASK_JOB_TYPE: &str = "io.camunda.zeebe:userTask";
/// Zeebe's default job retries.
pub const DEFAULT_RETRIES: &str = "3";

pub(crate) fn compile(defs: &Definitions, problems: &mut Vec<Problem>) -> Vec<ProcessGraph> {
    let mut c = Compiler {
        defs,
        problems,
        messages: HashMap::new(),
        errors: defs.errors.iter().map(|e| (e.id.as_str(), e)).collect(),
    };
    c.check_ids();
    c.read_messages();
    let executable: Vec<&model::Process> =
        defs.processes.iter().filter(|p| p.is_executable).collect();
    if executable.is_empty() {
        let pos = defs.processes.first().map_or(defs.pos, |p| p.pos);
        c.problems.push(Problem::at(
            pos,
            None,
            "Expected at least one executable process (isExecutable=\"true\"), but found none"
                .into(),
        ));
    }
    executable.into_iter().map(|p| c.process(p)).collect()
}

struct Compiler<'a> {
    defs: &'a Definitions,
    problems: &'a mut Vec<Problem>,
    /// Every `bpmn:message`, read once (name and correlation key parsed), by id.
    messages: HashMap<&'a str, refs::Message<'a>>,
    errors: HashMap<&'a str, &'a ErrorDef>,
}

/// Where a node sits while its process is being built.
struct Slot<'a> {
    node: &'a FlowNode,
    scope: ElementIdx,
}

/// One process while it is being built: its nodes and flows with their indices.
struct Build<'a> {
    slots: Vec<Slot<'a>>,
    index: HashMap<String, ElementIdx>,
    /// The model flow of every compiled [`Flow`], at the same index.
    flow_defs: Vec<&'a SequenceFlow>,
    flow_index: HashMap<&'a str, FlowIdx>,
    /// Every sequence flow id of the process, compiled or not.
    all_flow_ids: HashSet<&'a str>,
    /// Elements whose kind could not be compiled (already reported); shape checks skip them.
    failed: HashSet<ElementIdx>,
}

impl<'a> Build<'a> {
    fn slot(&self, idx: ElementIdx) -> Option<&Slot<'a>> {
        (idx.0 as usize)
            .checked_sub(1)
            .and_then(|i| self.slots.get(i))
    }

    fn node(&self, idx: ElementIdx) -> Option<&'a FlowNode> {
        self.slot(idx).map(|s| s.node)
    }
}

impl<'a> Compiler<'a> {
    fn problem(&mut self, pos: Pos, id: &str, message: String) {
        self.problems.push(Problem::at(pos, Some(id), message));
    }

    /// Ids must be present on flow elements and unique in the whole file (they are XML `ID`s).
    fn check_ids(&mut self) {
        let defs = self.defs;
        let mut ids: Vec<(&str, Pos, &str)> = Vec::new();
        for p in &defs.processes {
            ids.push((p.id.as_str(), p.pos, "bpmn:process"));
            ids.extend(
                p.scope
                    .walk()
                    .into_iter()
                    .map(|n| (n.id.as_str(), n.pos, n.tag.as_str())),
            );
            ids.extend(
                all_flows(&p.scope)
                    .into_iter()
                    .map(|f| (f.id.as_str(), f.pos, "bpmn:sequenceFlow")),
            );
        }
        let root_ids = defs
            .messages
            .iter()
            .map(|m| (m.id.as_str(), m.pos))
            .chain(defs.errors.iter().map(|e| (e.id.as_str(), e.pos)))
            .chain(
                defs.other_roots
                    .iter()
                    .filter_map(|o| o.id.as_deref().map(|id| (id, o.pos))),
            )
            .filter(|(id, _)| !id.is_empty())
            .map(|(id, pos)| (id, pos, ""));
        ids.extend(root_ids);
        ids.sort_by_key(|(_, pos, _)| (pos.line, pos.column));

        let mut seen: HashMap<&str, Pos> = HashMap::new();
        for (id, pos, tag) in ids {
            if id.is_empty() {
                self.problems.push(Problem::at(
                    pos,
                    None,
                    format!("Expected {tag} to have an 'id', but it has none"),
                ));
            } else if let Some(first) = seen.get(id) {
                let first = *first;
                self.problem(
                    pos,
                    id,
                    format!(
                        "Expected element ids to be unique, but '{id}' is also used at {first}"
                    ),
                );
            } else {
                seen.insert(id, pos);
            }
        }
    }

    fn process(&mut self, p: &'a model::Process) -> ProcessGraph {
        // Pass 1: give every node an index, breadth first by scope, so flows and attachments can refer to them.
        let mut b = Build {
            slots: Vec::new(),
            index: HashMap::new(),
            flow_defs: Vec::new(),
            flow_index: HashMap::new(),
            all_flow_ids: HashSet::new(),
            failed: HashSet::new(),
        };
        b.index.insert(p.id.clone(), ProcessGraph::ROOT);
        let mut scopes: Vec<(ElementIdx, &'a Scope)> = vec![(ProcessGraph::ROOT, &p.scope)];
        let mut i = 0;
        while i < scopes.len() {
            let (scope_idx, scope) = scopes[i];
            for node in &scope.nodes {
                let idx = ElementIdx(b.slots.len() as u32 + 1);
                b.index.entry(node.id.clone()).or_insert(idx);
                b.slots.push(Slot {
                    node,
                    scope: scope_idx,
                });
                if let NodeKind::SubProcess { scope, .. } = &node.kind {
                    scopes.push((idx, scope));
                }
            }
            b.all_flow_ids
                .extend(scope.flows.iter().map(|f| f.id.as_str()));
            i += 1;
        }

        // Flows of every scope; a flow must connect two nodes of its own scope.
        let mut flows: Vec<Flow> = Vec::new();
        for &(scope_idx, scope) in &scopes {
            for f in &scope.flows {
                let source = self.flow_end(f, &f.source, "sourceRef", &b, scope_idx);
                let target = self.flow_end(f, &f.target, "targetRef", &b, scope_idx);
                let condition = f.condition.as_deref().and_then(|c| {
                    self.expression(f.pos, &f.id, "the condition", c, refs::Static::Rejected)
                });
                if let (Some(source), Some(target)) = (source, target) {
                    b.flow_index
                        .insert(f.id.as_str(), FlowIdx(flows.len() as u32));
                    b.flow_defs.push(f);
                    flows.push(Flow {
                        id: f.id.clone(),
                        source,
                        target,
                        condition,
                    });
                }
            }
        }

        let mut elements: Vec<Element> = Vec::with_capacity(b.slots.len() + 1);
        elements.push(Element {
            id: p.id.clone(),
            name: p.name.clone(),
            kind: ElementKind::Process(ScopeStarts::default()),
            scope: None,
            incoming: vec![],
            outgoing: vec![],
            boundaries: vec![],
            inputs: vec![],
            outputs: vec![],
            multi_instance: None,
        });
        for (i, slot) in b.slots.iter().enumerate() {
            let kind = self.kind(slot, &b);
            if kind.is_none() {
                b.failed.insert(ElementIdx(i as u32 + 1));
            }
            let n = slot.node;
            for (tag, pos) in &n.zeebe.duplicates {
                self.problem(
                    *pos,
                    &n.id,
                    format!(
                        "Expected at most one '{tag}' on {}, but found another",
                        n.tag
                    ),
                );
            }
            let (inputs, outputs) = self.mappings(n);
            let multi_instance = self.multi_instance(n);
            elements.push(Element {
                id: n.id.clone(),
                name: n.name.clone(),
                kind: kind.unwrap_or(ElementKind::PassThrough {
                    task: TaskKind::Undefined,
                }),
                scope: Some(slot.scope),
                incoming: vec![],
                outgoing: vec![],
                boundaries: vec![],
                inputs,
                outputs,
                multi_instance,
            });
        }
        for (i, f) in flows.iter().enumerate() {
            elements[f.source.0 as usize]
                .outgoing
                .push(FlowIdx(i as u32));
            elements[f.target.0 as usize]
                .incoming
                .push(FlowIdx(i as u32));
        }
        for i in 0..elements.len() {
            if let ElementKind::Boundary(boundary) = &elements[i].kind {
                let host = boundary.attached_to.0 as usize;
                elements[host].boundaries.push(ElementIdx(i as u32));
            }
        }
        let mut graph = ProcessGraph {
            bpmn_process_id: p.id.clone(),
            name: p.name.clone(),
            elements,
            flows,
            diagram: self.defs.diagram.clone(),
            index: HashMap::new(),
        };
        self.structure(p, &mut graph, &b);
        graph.index = b.index;
        graph
    }

    fn flow_end(
        &mut self,
        f: &SequenceFlow,
        id: &str,
        attr: &str,
        b: &Build<'_>,
        scope: ElementIdx,
    ) -> Option<ElementIdx> {
        if id.is_empty() {
            self.problem(
                f.pos,
                &f.id,
                format!("Expected the sequence flow to have a '{attr}', but it has none"),
            );
            return None;
        }
        match b.index.get(id) {
            None => {
                self.problem(
                    f.pos,
                    &f.id,
                    format!("Expected '{attr}' to reference a flow node, but found no element with id '{id}'"),
                );
                None
            }
            Some(&idx) if b.slot(idx).map(|s| s.scope) != Some(scope) => {
                self.problem(
                    f.pos,
                    &f.id,
                    format!("Expected '{attr}' to reference a flow node in the same scope as the sequence flow, but '{id}' is in another (sub)process"),
                );
                None
            }
            Some(&idx) => Some(idx),
        }
    }
}

/// Every sequence flow of a scope and its nested subprocesses.
fn all_flows(scope: &Scope) -> Vec<&SequenceFlow> {
    let mut out: Vec<&SequenceFlow> = scope.flows.iter().collect();
    for n in &scope.nodes {
        if let NodeKind::SubProcess { scope, .. } = &n.kind {
            out.extend(all_flows(scope));
        }
    }
    out
}

fn is_activity(n: &FlowNode) -> bool {
    matches!(n.kind, NodeKind::Task(_) | NodeKind::SubProcess { .. })
        || (matches!(n.kind, NodeKind::Other) && n.tag.ends_with("callActivity"))
}
