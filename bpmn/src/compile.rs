//! Validation and compilation: the typed model -> [`ProcessGraph`]s, reporting every problem at once.
//!
//! The rules follow what Zeebe accepts at deployment; every message says what was expected and what was found, and
//! names the element and its position.

use std::collections::{HashMap, HashSet};

use crate::feel::{Expression, Feelish};
use crate::graph::*;
use crate::model::{self, *};
use crate::timer::TimerSpec;
use crate::Problem;

/// The job type of a user task without `zeebe:taskDefinition`, as in Zeebe (served by Tasklist).
pub const USER_TASK_JOB_TYPE: &str = "io.camunda.zeebe:userTask";
/// Zeebe's default job retries.
pub const DEFAULT_RETRIES: &str = "3";

pub(crate) fn compile(defs: &Definitions, problems: &mut Vec<Problem>) -> Vec<ProcessGraph> {
    let mut c = Compiler {
        defs,
        problems,
        messages: defs.messages.iter().map(|m| (m.id.as_str(), m)).collect(),
        errors: defs.errors.iter().map(|e| (e.id.as_str(), e)).collect(),
    };
    c.check_ids();
    for other in &defs.other_roots {
        if matches!(
            other.tag.rsplit(':').next(),
            Some("signal" | "escalation" | "collaboration")
        ) {
            // Read and ignored: signals and escalations are referenced by unsupported events, reported there.
            continue;
        }
    }
    let executable: Vec<&model::Process> =
        defs.processes.iter().filter(|p| p.is_executable).collect();
    if executable.is_empty() {
        let pos = defs.processes.first().map(|p| p.pos).unwrap_or_default();
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
    messages: HashMap<&'a str, &'a MessageDef>,
    errors: HashMap<&'a str, &'a ErrorDef>,
}

/// Where a node sits while its process is being built.
struct Slot<'a> {
    node: &'a FlowNode,
    scope: ElementIdx,
}

impl<'a> Compiler<'a> {
    fn problem(&mut self, pos: Pos, id: &str, message: String) {
        self.problems.push(Problem::at(pos, Some(id), message));
    }

    fn check_ids(&mut self) {
        let mut seen: HashMap<&str, Pos> = HashMap::new();
        let mut dups = Vec::new();
        let mut empty = Vec::new();
        for p in &self.defs.processes {
            let nodes = p.scope.walk();
            let flows = all_flows(&p.scope);
            let ids = std::iter::once((p.id.as_str(), p.pos, "bpmn:process"))
                .chain(nodes.iter().map(|n| (n.id.as_str(), n.pos, n.tag.as_str())))
                .chain(
                    flows
                        .iter()
                        .map(|f| (f.id.as_str(), f.pos, "bpmn:sequenceFlow")),
                );
            for (id, pos, tag) in ids {
                if id.is_empty() {
                    empty.push((pos, tag));
                } else if let Some(first) = seen.insert(id, pos) {
                    dups.push((id, pos, first));
                    seen.insert(id, first);
                }
            }
        }
        for (pos, tag) in empty {
            self.problems.push(Problem::at(
                pos,
                None,
                format!("Expected '{tag}' to have an 'id' attribute, but it has none"),
            ));
        }
        for (id, pos, first) in dups {
            self.problem(
                pos,
                id,
                format!("Expected element ids to be unique, but '{id}' is also used at {first}"),
            );
        }
    }

    fn process(&mut self, p: &'a model::Process) -> ProcessGraph {
        // Pass 1: give every node an index, depth first, so flows and attachments can refer to them.
        let mut slots: Vec<Slot<'a>> = Vec::new();
        let mut index: HashMap<String, ElementIdx> = HashMap::new();
        index.insert(p.id.clone(), ProcessGraph::ROOT);
        let mut scopes: Vec<(ElementIdx, &'a Scope)> = vec![(ProcessGraph::ROOT, &p.scope)];
        let mut i = 0;
        while i < scopes.len() {
            let (scope_idx, scope) = scopes[i];
            for node in &scope.nodes {
                let idx = ElementIdx(slots.len() as u32 + 1);
                index.entry(node.id.clone()).or_insert(idx);
                slots.push(Slot {
                    node,
                    scope: scope_idx,
                });
                if let NodeKind::SubProcess { scope, .. } = &node.kind {
                    scopes.push((idx, scope));
                }
            }
            i += 1;
        }

        // Flows of every scope; a flow must connect two nodes of its own scope.
        let mut flows: Vec<Flow> = Vec::new();
        let mut flow_index: HashMap<&str, FlowIdx> = HashMap::new();
        let scope_of = |idx: ElementIdx| -> Option<ElementIdx> {
            (idx.0 as usize)
                .checked_sub(1)
                .and_then(|i| slots.get(i))
                .map(|s| s.scope)
        };
        for &(scope_idx, scope) in &scopes {
            for f in &scope.flows {
                let source = self.flow_end(f, &f.source, "sourceRef", &index, scope_idx, &scope_of);
                let target = self.flow_end(f, &f.target, "targetRef", &index, scope_idx, &scope_of);
                let condition = f
                    .condition
                    .as_deref()
                    .and_then(|c| self.expression(f.pos, &f.id, "conditionExpression", c, true));
                if let (Some(source), Some(target)) = (source, target) {
                    flow_index.insert(f.id.as_str(), FlowIdx(flows.len() as u32));
                    flows.push(Flow {
                        id: f.id.clone(),
                        source,
                        target,
                        condition,
                    });
                }
            }
        }

        let mut elements: Vec<Element> = Vec::with_capacity(slots.len() + 1);
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
        for slot in &slots {
            let kind = self.kind(slot, &index, &flow_index, &slots);
            let n = slot.node;
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
            if let ElementKind::Boundary(b) = &elements[i].kind {
                let host = b.attached_to.0 as usize;
                elements[host].boundaries.push(ElementIdx(i as u32));
            }
        }
        let mut graph = ProcessGraph {
            bpmn_process_id: p.id.clone(),
            name: p.name.clone(),
            elements,
            flows,
            diagram: self.defs.diagram.clone(),
            index,
        };
        self.structure(p, &mut graph, &slots);
        graph
    }

    #[allow(clippy::too_many_arguments)]
    fn flow_end(
        &mut self,
        f: &SequenceFlow,
        id: &str,
        attr: &str,
        index: &HashMap<String, ElementIdx>,
        scope: ElementIdx,
        scope_of: &dyn Fn(ElementIdx) -> Option<ElementIdx>,
    ) -> Option<ElementIdx> {
        if id.is_empty() {
            self.problem(
                f.pos,
                &f.id,
                format!("Expected the sequence flow to have a '{attr}', but it has none"),
            );
            return None;
        }
        match index.get(id) {
            None => {
                self.problem(
                    f.pos,
                    &f.id,
                    format!("Expected '{attr}' to reference a flow node, but found no element with id '{id}'"),
                );
                None
            }
            Some(&idx) if scope_of(idx) != Some(scope) => {
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

    /// Parses a FEEL expression; `require_expression` rejects static values (conditions must be expressions).
    fn expression(
        &mut self,
        pos: Pos,
        id: &str,
        what: &str,
        text: &str,
        require_expression: bool,
    ) -> Option<Expression> {
        let text = text.trim();
        let src = match text.strip_prefix('=') {
            Some(s) => s,
            None if require_expression => {
                self.problem(pos, id, format!("Expected {what} to be a FEEL expression starting with '=', but found '{text}'"));
                return None;
            }
            None => text,
        };
        match Expression::parse(src) {
            Ok(e) => Some(e),
            Err(e) => {
                self.problem(pos, id, format!("Expected {what} to be a valid FEEL expression, but '{src}' failed to parse: {e}"));
                None
            }
        }
    }

    fn feelish(&mut self, pos: Pos, id: &str, what: &str, text: &str) -> Option<Feelish> {
        match Feelish::parse(text) {
            Ok(f) => Some(f),
            Err(e) => {
                self.problem(pos, id, format!("Expected {what} to be a static value or a valid FEEL expression, but '{text}' failed to parse: {e}"));
                None
            }
        }
    }

    fn message(
        &mut self,
        node: &FlowNode,
        message_ref: Option<&str>,
        pos: Pos,
        needs_key: bool,
    ) -> Option<MessageRef> {
        let id = node.id.as_str();
        let Some(message_ref) = message_ref.filter(|r| !r.is_empty()) else {
            self.problem(
                pos,
                id,
                "Expected a 'messageRef' referencing a bpmn:message, but found none".into(),
            );
            return None;
        };
        let Some(def) = self.messages.get(message_ref).copied() else {
            self.problem(pos, id, format!("Expected 'messageRef' to reference a bpmn:message, but found no message with id '{message_ref}'"));
            return None;
        };
        let name = match def.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => self.feelish(def.pos, id, "the message name", n),
            None => {
                self.problem(
                    def.pos,
                    id,
                    format!("Expected message '{message_ref}' to have a name, but it has none"),
                );
                None
            }
        };
        let correlation_key = match def.correlation_key.as_deref().filter(|k| !k.is_empty()) {
            Some(k) => self
                .feelish(def.pos, id, "the correlation key", k)
                .map(Some),
            None if needs_key => {
                self.problem(def.pos, id, format!("Expected message '{message_ref}' to have a 'zeebe:subscription' with a 'correlationKey', but found none"));
                None
            }
            None => Some(None),
        };
        Some(MessageRef {
            name: name?,
            correlation_key: correlation_key?,
        })
    }

    fn timer(
        &mut self,
        node: &FlowNode,
        timer: &Option<TimerDef>,
        pos: Pos,
        allowed: &[TimerKind],
    ) -> Option<TimerRef> {
        let id = node.id.as_str();
        let Some(t) = timer else {
            self.problem(pos, id, "Expected the timer event definition to have one of 'timeDuration', 'timeDate' or 'timeCycle', but found none".into());
            return None;
        };
        if !allowed.contains(&t.kind) {
            let names: Vec<&str> = allowed.iter().map(|k| timer_tag(*k)).collect();
            self.problem(
                t.pos,
                id,
                format!(
                    "Expected a timer of {} on {}, but found '{}'",
                    names.join(" or "),
                    node.tag,
                    timer_tag(t.kind)
                ),
            );
            return None;
        }
        let value = self.feelish(t.pos, id, timer_tag(t.kind), &t.text)?;
        if let Feelish::Static(text) = &value {
            if let Err(e) = TimerSpec::parse(t.kind, text) {
                self.problem(
                    t.pos,
                    id,
                    format!("Expected a valid {}, but {e}", timer_tag(t.kind)),
                );
                return None;
            }
        }
        Some(TimerRef {
            kind: t.kind,
            value,
        })
    }

    fn error_code(
        &mut self,
        node: &FlowNode,
        error_ref: Option<&str>,
        pos: Pos,
        required: bool,
    ) -> Option<Option<String>> {
        let id = node.id.as_str();
        let Some(error_ref) = error_ref.filter(|r| !r.is_empty()) else {
            if required {
                self.problem(
                    pos,
                    id,
                    "Expected an 'errorRef' referencing a bpmn:error, but found none".into(),
                );
                return None;
            }
            return Some(None);
        };
        let Some(def) = self.errors.get(error_ref).copied() else {
            self.problem(pos, id, format!("Expected 'errorRef' to reference a bpmn:error, but found no error with id '{error_ref}'"));
            return None;
        };
        match def.error_code.as_deref().filter(|c| !c.is_empty()) {
            Some(code) => Some(Some(code.to_owned())),
            None => {
                self.problem(
                    def.pos,
                    id,
                    format!("Expected error '{error_ref}' to have an 'errorCode', but it has none"),
                );
                None
            }
        }
    }

    fn unsupported(&mut self, node: &FlowNode, what: &str, pos: Pos) {
        self.problem(pos, &node.id, format!("Expected a BPMN element that Apsis executes, but found {what}, which is not supported"));
    }

    fn kind(
        &mut self,
        slot: &Slot<'a>,
        index: &HashMap<String, ElementIdx>,
        flows: &HashMap<&str, FlowIdx>,
        slots: &[Slot<'a>],
    ) -> Option<ElementKind> {
        let n = slot.node;
        let id = n.id.as_str();
        let in_process = slot.scope == ProcessGraph::ROOT;
        if let Some(pos) = n.standard_loop {
            self.unsupported(
                n,
                "a standard loop marker (bpmn:standardLoopCharacteristics)",
                pos,
            );
        }
        match &n.kind {
            NodeKind::StartEvent { event, .. } => match event {
                EventDefinition::None => Some(ElementKind::StartEvent(Trigger::None)),
                EventDefinition::Message { message_ref, pos } if in_process => self
                    .message(n, message_ref.as_deref(), *pos, false)
                    .map(|m| ElementKind::StartEvent(Trigger::Message(m))),
                EventDefinition::Timer { timer, pos } if in_process => self
                    .timer(
                        n,
                        timer,
                        *pos,
                        &[TimerKind::Duration, TimerKind::Date, TimerKind::Cycle],
                    )
                    .map(|t| ElementKind::StartEvent(Trigger::Timer(t))),
                EventDefinition::Message { pos, .. } | EventDefinition::Timer { pos, .. } => {
                    self.problem(*pos, id, "Expected a none start event inside an embedded subprocess, but found a start event with an event definition".into());
                    None
                }
                other => {
                    self.unsupported(
                        n,
                        &format!("a start event with {}", event_name(other)),
                        event_pos(other, n.pos),
                    );
                    None
                }
            },
            NodeKind::EndEvent { event } => match event {
                EventDefinition::None => Some(ElementKind::EndEvent(EndKind::None)),
                EventDefinition::Terminate { .. } => {
                    Some(ElementKind::EndEvent(EndKind::Terminate))
                }
                EventDefinition::Error { error_ref, pos } => self
                    .error_code(n, error_ref.as_deref(), *pos, true)
                    .map(|code| {
                        ElementKind::EndEvent(EndKind::Error {
                            code: code.unwrap_or_default(),
                        })
                    }),
                other => {
                    self.unsupported(
                        n,
                        &format!("an end event with {}", event_name(other)),
                        event_pos(other, n.pos),
                    );
                    None
                }
            },
            NodeKind::IntermediateThrowEvent { event } => match event {
                EventDefinition::None => Some(ElementKind::IntermediateThrowNone),
                other => {
                    self.unsupported(
                        n,
                        &format!("an intermediate throw event with {}", event_name(other)),
                        event_pos(other, n.pos),
                    );
                    None
                }
            },
            NodeKind::IntermediateCatchEvent { event } => match event {
                EventDefinition::Message { message_ref, pos } => self
                    .message(n, message_ref.as_deref(), *pos, true)
                    .map(|m| ElementKind::IntermediateCatch(Trigger::Message(m))),
                EventDefinition::Timer { timer, pos } => self
                    .timer(n, timer, *pos, &[TimerKind::Duration, TimerKind::Date])
                    .map(|t| ElementKind::IntermediateCatch(Trigger::Timer(t))),
                EventDefinition::None => {
                    self.problem(n.pos, id, "Expected an intermediate catch event to have a message or timer event definition, but found none".into());
                    None
                }
                other => {
                    self.unsupported(
                        n,
                        &format!("an intermediate catch event with {}", event_name(other)),
                        event_pos(other, n.pos),
                    );
                    None
                }
            },
            NodeKind::BoundaryEvent {
                event,
                attached_to,
                cancel_activity,
            } => {
                let host = match attached_to.as_deref().filter(|a| !a.is_empty()) {
                    None => {
                        self.problem(
                            n.pos,
                            id,
                            "Expected a boundary event to have an 'attachedToRef', but found none"
                                .into(),
                        );
                        None
                    }
                    Some(a) => match index.get(a) {
                        None => {
                            self.problem(n.pos, id, format!("Expected 'attachedToRef' to reference an activity, but found no element with id '{a}'"));
                            None
                        }
                        Some(&h) => {
                            let host = h.0.checked_sub(1).and_then(|i| slots.get(i as usize));
                            match host {
                                Some(host)
                                    if is_activity(host.node) && host.scope == slot.scope =>
                                {
                                    Some(h)
                                }
                                Some(host) if is_activity(host.node) => {
                                    self.problem(n.pos, id, format!("Expected the boundary event to be in the same scope as the activity '{a}' it is attached to, but it is not"));
                                    None
                                }
                                _ => {
                                    self.problem(n.pos, id, format!("Expected 'attachedToRef' to reference an activity, but '{a}' is not an activity"));
                                    None
                                }
                            }
                        }
                    },
                };
                let trigger = match event {
                    EventDefinition::Timer { timer, pos } => {
                        let kinds: &[TimerKind] = if *cancel_activity {
                            &[TimerKind::Duration, TimerKind::Date]
                        } else {
                            &[TimerKind::Duration, TimerKind::Date, TimerKind::Cycle]
                        };
                        self.timer(n, timer, *pos, kinds)
                            .map(BoundaryTrigger::Timer)
                    }
                    EventDefinition::Message { message_ref, pos } => self
                        .message(n, message_ref.as_deref(), *pos, true)
                        .map(BoundaryTrigger::Message),
                    EventDefinition::Error { error_ref, pos } => {
                        if !cancel_activity {
                            self.problem(*pos, id, "Expected an error boundary event to be interrupting, but cancelActivity is 'false'".into());
                        }
                        self.error_code(n, error_ref.as_deref(), *pos, false)
                            .map(|code| BoundaryTrigger::Error { code })
                    }
                    EventDefinition::None => {
                        self.problem(
                            n.pos,
                            id,
                            "Expected a boundary event to have an event definition, but found none"
                                .into(),
                        );
                        None
                    }
                    other => {
                        self.unsupported(
                            n,
                            &format!("a boundary event with {}", event_name(other)),
                            event_pos(other, n.pos),
                        );
                        None
                    }
                };
                Some(ElementKind::Boundary(Boundary {
                    attached_to: host?,
                    interrupting: *cancel_activity,
                    trigger: trigger?,
                }))
            }
            NodeKind::Task(task) => self.task(n, *task),
            NodeKind::Gateway(g) => match g {
                GatewayKind::Exclusive => {
                    let default = match n.default_flow.as_deref() {
                        None => Some(None),
                        Some(f) => match flows.get(f) {
                            Some(&fi) => Some(Some(fi)),
                            None => {
                                self.problem(n.pos, id, format!("Expected the default flow '{f}' to be an outgoing sequence flow of the gateway, but found no such flow"));
                                None
                            }
                        },
                    };
                    default.map(|default| ElementKind::ExclusiveGateway { default })
                }
                GatewayKind::Parallel => Some(ElementKind::ParallelGateway),
                GatewayKind::EventBased => Some(ElementKind::EventBasedGateway),
                GatewayKind::Inclusive => {
                    self.unsupported(n, "an inclusive gateway (planned)", n.pos);
                    None
                }
                GatewayKind::Complex => {
                    self.unsupported(
                        n,
                        "a complex gateway (Zeebe does not support it either)",
                        n.pos,
                    );
                    None
                }
            },
            NodeKind::SubProcess {
                triggered_by_event, ..
            } => {
                if *triggered_by_event {
                    self.unsupported(n, "an event subprocess (planned)", n.pos);
                    None
                } else {
                    Some(ElementKind::SubProcess(ScopeStarts::default()))
                }
            }
            NodeKind::Other => {
                let what = match n.tag.rsplit(':').next() {
                    Some("transaction") => {
                        "a transaction subprocess (Zeebe does not support it either)".to_owned()
                    }
                    Some("callActivity") => "a call activity (planned)".to_owned(),
                    _ => format!("'{}'", n.tag),
                };
                self.unsupported(n, &what, n.pos);
                None
            }
        }
    }

    fn task(&mut self, n: &FlowNode, task: TaskKind) -> Option<ElementKind> {
        let id = n.id.as_str();
        let z = &n.zeebe;
        match task {
            TaskKind::Manual | TaskKind::Undefined => {
                return Some(ElementKind::PassThrough { task })
            }
            TaskKind::Receive => {
                return self
                    .message(n, n.message_ref.as_deref(), n.pos, true)
                    .map(|message| ElementKind::ReceiveTask { message })
            }
            TaskKind::Script => {
                if let Some(s) = &z.script {
                    if z.task_definition.is_some() {
                        self.problem(s.pos, id, "Expected a script task to have either 'zeebe:script' or 'zeebe:taskDefinition', but found both".into());
                        return None;
                    }
                    let expression = match s.expression.as_deref() {
                        Some(e) => self.expression(s.pos, id, "the script expression", e, true),
                        None => {
                            self.problem(
                                s.pos,
                                id,
                                "Expected 'zeebe:script' to have an 'expression', but found none"
                                    .into(),
                            );
                            None
                        }
                    };
                    let result_variable = match s
                        .result_variable
                        .as_deref()
                        .filter(|r| !r.is_empty())
                    {
                        Some(r) => Some(r.to_owned()),
                        None => {
                            self.problem(s.pos, id, "Expected 'zeebe:script' to have a 'resultVariable', but found none".into());
                            None
                        }
                    };
                    return Some(ElementKind::ScriptFeel {
                        expression: expression?,
                        result_variable: result_variable?,
                    });
                }
            }
            TaskKind::BusinessRule => {
                if let Some(pos) = z.called_decision {
                    self.unsupported(n, "a business rule task calling a DMN decision (zeebe:calledDecision; planned)", pos);
                    return None;
                }
            }
            _ => {}
        }
        let (job_type, retries) = match &z.task_definition {
            Some(td) => {
                let job_type = match td
                    .job_type
                    .as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                {
                    Some(t) => self.feelish(td.pos, id, "the job type", t),
                    None => {
                        self.problem(td.pos, id, "Expected 'zeebe:taskDefinition' to have a non-empty 'type', but found none".into());
                        None
                    }
                };
                let retries_text = td
                    .retries
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .unwrap_or(DEFAULT_RETRIES);
                let retries = self.feelish(td.pos, id, "the job retries", retries_text);
                if let Some(Feelish::Static(r)) = &retries {
                    if r.parse::<i32>().is_err() {
                        self.problem(td.pos, id, format!("Expected the job retries to be an integer or a FEEL expression, but found '{r}'"));
                    }
                }
                (job_type, retries)
            }
            None if task == TaskKind::User => (
                Some(Feelish::Static(USER_TASK_JOB_TYPE.to_owned())),
                Some(Feelish::Static(DEFAULT_RETRIES.to_owned())),
            ),
            None => {
                self.problem(n.pos, id, format!("Expected {} to have a 'zeebe:taskDefinition' with a job 'type', but found none", n.tag));
                (None, None)
            }
        };
        Some(ElementKind::JobTask {
            task,
            job: JobDefinition {
                job_type: job_type?,
                retries: retries?,
                headers: z.headers.clone(),
            },
        })
    }

    fn mappings(&mut self, n: &FlowNode) -> (Vec<Mapping>, Vec<Mapping>) {
        let compile = |this: &mut Self, list: &[MappingDef], what: &str| -> Vec<Mapping> {
            let mut out = Vec::new();
            for m in list {
                let target = m.target.as_deref().map(str::trim).filter(|t| !t.is_empty());
                let source = m.source.as_deref().map(str::trim).filter(|s| !s.is_empty());
                let Some(target) = target else {
                    this.problem(
                        m.pos,
                        &n.id,
                        format!(
                            "Expected 'zeebe:{what}' to have a non-empty 'target', but found none"
                        ),
                    );
                    continue;
                };
                if !valid_target(target) {
                    this.problem(m.pos, &n.id, format!("Expected the {what} target to be a variable name or a dotted path like 'a.b', but found '{target}'"));
                    continue;
                }
                let Some(source) = source else {
                    this.problem(m.pos, &n.id, format!("Expected 'zeebe:{what}' with target '{target}' to have a 'source', but found none"));
                    continue;
                };
                if let Some(source) = this.feelish(
                    m.pos,
                    &n.id,
                    &format!("the {what} source for '{target}'"),
                    source,
                ) {
                    out.push(Mapping {
                        source,
                        target: target.to_owned(),
                    });
                }
            }
            out
        };
        let inputs = compile(self, &n.zeebe.inputs, "input");
        let outputs = compile(self, &n.zeebe.outputs, "output");
        (inputs, outputs)
    }

    fn multi_instance(&mut self, n: &FlowNode) -> Option<MultiInstance> {
        let mi = n.multi_instance.as_ref()?;
        let id = n.id.as_str();
        if !is_activity(n) {
            self.problem(
                mi.pos,
                id,
                format!(
                    "Expected multi-instance only on activities, but found it on {}",
                    n.tag
                ),
            );
            return None;
        }
        let Some(l) = &n.zeebe.loop_characteristics else {
            self.problem(mi.pos, id, "Expected a multi-instance activity to have 'zeebe:loopCharacteristics' with an 'inputCollection', but found none".into());
            return None;
        };
        let input_collection = match l
            .input_collection
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(c) => self.expression(l.pos, id, "the inputCollection", c, false),
            None => {
                self.problem(l.pos, id, "Expected 'zeebe:loopCharacteristics' to have an 'inputCollection', but found none".into());
                None
            }
        };
        let output_collection = l.output_collection.clone().filter(|s| !s.trim().is_empty());
        let output_element = match (
            &output_collection,
            l.output_element.as_deref().filter(|s| !s.trim().is_empty()),
        ) {
            (Some(_), Some(e)) => self
                .expression(l.pos, id, "the outputElement", e, false)
                .map(Some),
            (None, None) => Some(None),
            (Some(_), None) => {
                self.problem(l.pos, id, "Expected 'outputElement' together with 'outputCollection', but found only 'outputCollection'".into());
                None
            }
            (None, Some(_)) => {
                self.problem(l.pos, id, "Expected 'outputCollection' together with 'outputElement', but found only 'outputElement'".into());
                None
            }
        };
        let completion_condition =
            match mi.completion_condition.as_deref().filter(|s| !s.is_empty()) {
                Some(c) => self
                    .expression(mi.pos, id, "the completionCondition", c, true)
                    .map(Some),
                None => Some(None),
            };
        Some(MultiInstance {
            sequential: mi.sequential,
            input_collection: input_collection?,
            input_element: l.input_element.clone().filter(|s| !s.trim().is_empty()),
            output_collection,
            output_element: output_element?,
            completion_condition: completion_condition?,
        })
    }

    /// Rules about the shape of the graph: start events, flows in and out, gateways.
    fn structure(&mut self, p: &model::Process, g: &mut ProcessGraph, slots: &[Slot<'a>]) {
        // Start events per scope.
        let mut starts: HashMap<ElementIdx, ScopeStarts> = HashMap::new();
        starts.insert(ProcessGraph::ROOT, ScopeStarts::default());
        for (i, el) in g.elements.iter().enumerate() {
            if matches!(el.kind, ElementKind::SubProcess(_)) {
                starts.insert(ElementIdx(i as u32), ScopeStarts::default());
            }
        }
        let mut none_seen: HashSet<ElementIdx> = HashSet::new();
        for (i, el) in g.elements.iter().enumerate().skip(1) {
            let idx = ElementIdx(i as u32);
            let scope = el.scope.unwrap_or(ProcessGraph::ROOT);
            let node = slots[i - 1].node;
            let is_start = matches!(node.kind, NodeKind::StartEvent { .. });
            if is_start && !el.incoming.is_empty() {
                self.problem(
                    node.pos,
                    &el.id,
                    "Expected a start event to have no incoming sequence flow, but found one"
                        .into(),
                );
            }
            let Some(s) = starts.get_mut(&scope) else {
                continue;
            };
            match &el.kind {
                ElementKind::StartEvent(Trigger::None) => {
                    if !none_seen.insert(scope) {
                        self.problems.push(Problem::at(
                            node.pos,
                            Some(&el.id),
                            "Expected at most one none start event per scope, but found another"
                                .into(),
                        ));
                    }
                    s.none_start = Some(idx);
                }
                ElementKind::StartEvent(Trigger::Message(_)) => s.message_starts.push(idx),
                ElementKind::StartEvent(Trigger::Timer(_)) => s.timer_starts.push(idx),
                _ => {}
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
                ElementKind::Boundary(_) => {
                    if !el.incoming.is_empty() {
                        self.problem(node.pos, &el.id, "Expected a boundary event to have no incoming sequence flow, but found one".into());
                    }
                    if el.outgoing.is_empty() {
                        self.problem(node.pos, &el.id, "Expected a boundary event to have at least one outgoing sequence flow, but found none".into());
                    }
                }
                ElementKind::ExclusiveGateway { default } => {
                    if let Some(d) = default {
                        if g.flows[d.0 as usize].source != idx {
                            self.problem(node.pos, &el.id, format!("Expected the default flow '{}' to be an outgoing sequence flow of the gateway, but it starts elsewhere", g.flows[d.0 as usize].id));
                        }
                    }
                    if el.outgoing.len() > 1 {
                        for f in &el.outgoing {
                            let flow = &g.flows[f.0 as usize];
                            if flow.condition.is_none() && Some(*f) != *default {
                                self.problem(node.pos, &flow.id, format!("Expected the sequence flow '{}' leaving exclusive gateway '{}' to have a condition or be the default flow, but it has neither", flow.id, el.id));
                            }
                        }
                    }
                }
                ElementKind::EventBasedGateway => {
                    if el.outgoing.len() < 2 {
                        self.problem(node.pos, &el.id, format!("Expected an event-based gateway to have at least two outgoing sequence flows, but found {}", el.outgoing.len()));
                    }
                    for f in &el.outgoing {
                        let target = &g.elements[g.flows[f.0 as usize].target.0 as usize];
                        let ok = matches!(target.kind, ElementKind::IntermediateCatch(_))
                            && target.incoming.len() == 1;
                        if !ok {
                            self.problem(node.pos, &el.id, format!("Expected every flow of an event-based gateway to lead to an intermediate message or timer catch event with only that incoming flow, but '{}' is not one", target.id));
                        }
                    }
                }
                _ => {}
            }
        }
        // Conditions are only evaluated on flows leaving exclusive gateways.
        for f in &g.flows {
            if f.condition.is_some()
                && !matches!(
                    g.elements[f.source.0 as usize].kind,
                    ElementKind::ExclusiveGateway { .. }
                )
            {
                let pos = all_flows(&p.scope)
                    .iter()
                    .find(|m| m.id == f.id)
                    .map(|m| m.pos)
                    .unwrap_or_default();
                self.problem(pos, &f.id, format!("Expected a condition only on a sequence flow leaving an exclusive gateway, but '{}' leaves '{}'", f.id, g.elements[f.source.0 as usize].id));
            }
        }
        // Error boundaries: one per error code per activity.
        for el in &g.elements {
            let mut codes: HashSet<Option<&str>> = HashSet::new();
            for b in &el.boundaries {
                let be = &g.elements[b.0 as usize];
                if let ElementKind::Boundary(Boundary {
                    trigger: BoundaryTrigger::Error { code },
                    ..
                }) = &be.kind
                {
                    if !codes.insert(code.as_deref()) {
                        let pos = slots[b.0 as usize - 1].node.pos;
                        self.problem(pos, &be.id, format!("Expected at most one error boundary event per error code on '{}', but found another for {}", el.id, code.as_deref().map(|c| format!("code '{c}'")).unwrap_or_else(|| "every error".into())));
                    }
                }
            }
        }
        // Scopes' start events.
        let root_starts = starts.get(&ProcessGraph::ROOT).cloned().unwrap_or_default();
        if root_starts.none_start.is_none()
            && root_starts.message_starts.is_empty()
            && root_starts.timer_starts.is_empty()
        {
            self.problems.push(Problem::at(
                p.pos,
                Some(&p.id),
                "Expected a process to have at least one start event, but found none".into(),
            ));
        }
        for (idx, s) in starts {
            if idx != ProcessGraph::ROOT && s.none_start.is_none() {
                let el = &g.elements[idx.0 as usize];
                self.problem(slots[idx.0 as usize - 1].node.pos, &el.id.clone(), "Expected an embedded subprocess to have exactly one none start event, but found none".into());
            }
            match &mut g.elements[idx.0 as usize].kind {
                ElementKind::Process(slot) | ElementKind::SubProcess(slot) => *slot = s,
                _ => {}
            }
        }
    }
}

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

fn valid_target(t: &str) -> bool {
    t.split('.').all(|part| {
        let mut chars = part.chars();
        matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
            && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    })
}

fn timer_tag(kind: TimerKind) -> &'static str {
    match kind {
        TimerKind::Duration => "timeDuration",
        TimerKind::Date => "timeDate",
        TimerKind::Cycle => "timeCycle",
    }
}

fn event_name(e: &EventDefinition) -> String {
    match e {
        EventDefinition::None => "no event definition".into(),
        EventDefinition::Message { .. } => "a message event definition".into(),
        EventDefinition::Timer { .. } => "a timer event definition".into(),
        EventDefinition::Error { .. } => "an error event definition".into(),
        EventDefinition::Terminate { .. } => "a terminate event definition".into(),
        EventDefinition::Unsupported { tag, .. } => format!("'{tag}'"),
        EventDefinition::Multiple { .. } => "several event definitions (a multiple event)".into(),
    }
}

fn event_pos(e: &EventDefinition, fallback: Pos) -> Pos {
    match e {
        EventDefinition::None => fallback,
        EventDefinition::Message { pos, .. }
        | EventDefinition::Timer { pos, .. }
        | EventDefinition::Error { pos, .. }
        | EventDefinition::Terminate { pos }
        | EventDefinition::Unsupported { pos, .. }
        | EventDefinition::Multiple { pos } => *pos,
    }
}
