//! Reading the XML tree into the typed [`crate::model`].
//!
//! Reading is lenient: it records what is there (including elements Apsis does not execute) and leaves judging to
//! validation, so that one pass can report every problem of a file at once.

use crate::model::*;
use crate::xml::{Node, Ns};
use crate::Problem;

const BPMN_MODEL: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";

/// The element's BPMN tag with the conventional prefix, whatever prefix (or default namespace) the file uses, so
/// messages read the same for `bpmn:`, `bpmn2:` and unprefixed files.
fn tag(node: &Node) -> String {
    if node.ns == Ns::Bpmn {
        format!("bpmn:{}", node.name)
    } else {
        node.qname.clone()
    }
}

pub(crate) fn definitions(root: &Node, problems: &mut Vec<Problem>) -> Definitions {
    let mut defs = Definitions {
        id: root.id().map(str::to_owned),
        pos: root.pos,
        ..Definitions::default()
    };
    if !root.is(Ns::Bpmn, "definitions") {
        let found = match &root.other_uri {
            Some(uri) => format!("'{}' in namespace '{uri}'", root.qname),
            None => format!("'{}'", root.qname),
        };
        problems.push(Problem::at(
            root.pos,
            None,
            format!(
                "Expected the root element to be 'bpmn:definitions' in namespace '{BPMN_MODEL}', but found {found}"
            ),
        ));
        return defs;
    }
    for child in &root.children {
        match (child.ns, child.name.as_str()) {
            (Ns::Bpmn, "process") => defs.processes.push(process(child)),
            (Ns::Bpmn, "message") => {
                let subscription =
                    extensions(child).and_then(|ext| ext.child(Ns::Zeebe, "subscription"));
                defs.messages.push(MessageDef {
                    id: child.id().unwrap_or_default().to_owned(),
                    name: child.attr("name").map(str::to_owned),
                    correlation_key: subscription
                        .and_then(|s| s.attr("correlationKey"))
                        .map(str::to_owned),
                    subscription_pos: subscription.map(|s| s.pos),
                    pos: child.pos,
                })
            }
            (Ns::Bpmn, "error") => defs.errors.push(ErrorDef {
                id: child.id().unwrap_or_default().to_owned(),
                name: child.attr("name").map(str::to_owned),
                error_code: child.attr("errorCode").map(str::to_owned),
                pos: child.pos,
            }),
            (Ns::BpmnDi, "BPMNDiagram") => diagram(child, &mut defs.diagram),
            (Ns::Bpmn, _) => defs.other_roots.push(Located {
                tag: tag(child),
                id: child.id().map(str::to_owned),
                pos: child.pos,
            }),
            _ => {}
        }
    }
    defs
}

fn extensions(node: &Node) -> Option<&Node> {
    node.child(Ns::Bpmn, "extensionElements")
}

fn process(node: &Node) -> Process {
    Process {
        id: node.id().unwrap_or_default().to_owned(),
        name: node.attr("name").map(str::to_owned),
        is_executable: node.attr("isExecutable") == Some("true"),
        pos: node.pos,
        scope: scope(node),
    }
}

/// Elements that may appear in a process or subprocess but are not flow nodes.
const NON_FLOW: &[&str] = &[
    "extensionElements",
    "documentation",
    "laneSet",
    "textAnnotation",
    "association",
    "dataObject",
    "dataObjectReference",
    "dataStoreReference",
    "group",
    "property",
    "ioSpecification",
    "incoming",
    "outgoing",
    "multiInstanceLoopCharacteristics",
    "standardLoopCharacteristics",
    "dataInputAssociation",
    "dataOutputAssociation",
    "category",
    "auditing",
    "monitoring",
    "performer",
    "humanPerformer",
    "potentialOwner",
    "resourceRole",
    "correlationSubscription",
    "supports",
];

fn scope(node: &Node) -> Scope {
    let mut scope = Scope::default();
    for child in &node.children {
        if child.ns != Ns::Bpmn || NON_FLOW.contains(&child.name.as_str()) {
            continue;
        }
        if child.name == "sequenceFlow" {
            scope.flows.push(SequenceFlow {
                id: child.id().unwrap_or_default().to_owned(),
                name: child.attr("name").map(str::to_owned),
                source: child.attr("sourceRef").unwrap_or_default().to_owned(),
                target: child.attr("targetRef").unwrap_or_default().to_owned(),
                condition: child
                    .child(Ns::Bpmn, "conditionExpression")
                    .map(|c| c.text.trim().to_owned()),
                pos: child.pos,
            });
        } else {
            scope.nodes.push(flow_node(child));
        }
    }
    scope
}

fn flow_node(node: &Node) -> FlowNode {
    let kind = match node.name.as_str() {
        "startEvent" => NodeKind::StartEvent {
            event: event_definition(node),
            interrupting: node.attr("isInterrupting") != Some("false"),
        },
        "endEvent" => NodeKind::EndEvent {
            event: event_definition(node),
        },
        "intermediateCatchEvent" => NodeKind::IntermediateCatchEvent {
            event: event_definition(node),
        },
        "intermediateThrowEvent" => NodeKind::IntermediateThrowEvent {
            event: event_definition(node),
        },
        "boundaryEvent" => NodeKind::BoundaryEvent {
            event: event_definition(node),
            attached_to: node.attr("attachedToRef").map(str::to_owned),
            cancel_activity: node.attr("cancelActivity") != Some("false"),
        },
        "serviceTask" => NodeKind::Task(TaskKind::Service),
        "sendTask" => NodeKind::Task(TaskKind::Send),
        "userTask" => NodeKind::Task(TaskKind::User),
        "businessRuleTask" => NodeKind::Task(TaskKind::BusinessRule),
        "scriptTask" => NodeKind::Task(TaskKind::Script),
        "receiveTask" => NodeKind::Task(TaskKind::Receive),
        "manualTask" => NodeKind::Task(TaskKind::Manual),
        "task" => NodeKind::Task(TaskKind::Undefined),
        "exclusiveGateway" => NodeKind::Gateway(GatewayKind::Exclusive),
        "parallelGateway" => NodeKind::Gateway(GatewayKind::Parallel),
        "eventBasedGateway" => NodeKind::Gateway(GatewayKind::EventBased),
        "inclusiveGateway" => NodeKind::Gateway(GatewayKind::Inclusive),
        "complexGateway" => NodeKind::Gateway(GatewayKind::Complex),
        "subProcess" => NodeKind::SubProcess {
            triggered_by_event: node.attr("triggeredByEvent") == Some("true"),
            scope: Box::new(scope(node)),
        },
        _ => NodeKind::Other,
    };
    let mi = node.child(Ns::Bpmn, "multiInstanceLoopCharacteristics");
    let mut zeebe = zeebe_extensions(node);
    if let Some(mi) = mi {
        let mut loops = extensions(mi)
            .into_iter()
            .flat_map(|e| e.children_named(Ns::Zeebe, "loopCharacteristics"));
        let first = loops.next();
        zeebe
            .duplicates
            .extend(loops.map(|l| ("zeebe:loopCharacteristics".to_owned(), l.pos)));
        zeebe.loop_characteristics = first.map(|l| ZeebeLoopDef {
            input_collection: l.attr("inputCollection").map(str::to_owned),
            input_element: l.attr("inputElement").map(str::to_owned),
            output_collection: l.attr("outputCollection").map(str::to_owned),
            output_element: l.attr("outputElement").map(str::to_owned),
            pos: l.pos,
        });
    }
    FlowNode {
        id: node.id().unwrap_or_default().to_owned(),
        name: node.attr("name").map(str::to_owned),
        pos: node.pos,
        tag: tag(node),
        kind,
        default_flow: node.attr("default").map(str::to_owned),
        message_ref: node.attr("messageRef").map(str::to_owned),
        zeebe,
        multi_instance: mi.map(|mi| MultiInstanceDef {
            sequential: mi.attr("isSequential") == Some("true"),
            completion_condition: mi
                .child(Ns::Bpmn, "completionCondition")
                .map(|c| c.text.trim().to_owned()),
            pos: mi.pos,
        }),
        standard_loop: node
            .child(Ns::Bpmn, "standardLoopCharacteristics")
            .map(|n| n.pos),
    }
}

fn event_definition(node: &Node) -> EventDefinition {
    let defs: Vec<&Node> = node
        .children
        .iter()
        .filter(|c| c.ns == Ns::Bpmn && c.name.ends_with("EventDefinition"))
        .collect();
    let def = match defs.as_slice() {
        [] => return EventDefinition::None,
        [one] => *one,
        [first, ..] => return EventDefinition::Multiple { pos: first.pos },
    };
    match def.name.as_str() {
        "messageEventDefinition" => EventDefinition::Message {
            message_ref: def.attr("messageRef").map(str::to_owned),
            pos: def.pos,
        },
        "timerEventDefinition" => {
            let timer = [
                ("timeDuration", TimerKind::Duration),
                ("timeDate", TimerKind::Date),
                ("timeCycle", TimerKind::Cycle),
            ]
            .iter()
            .find_map(|(tag, kind)| {
                def.child(Ns::Bpmn, tag).map(|t| TimerDef {
                    kind: *kind,
                    text: t.text.trim().to_owned(),
                    pos: t.pos,
                })
            });
            EventDefinition::Timer {
                timer,
                pos: def.pos,
            }
        }
        "errorEventDefinition" => EventDefinition::Error {
            error_ref: def.attr("errorRef").map(str::to_owned),
            pos: def.pos,
        },
        "terminateEventDefinition" => EventDefinition::Terminate { pos: def.pos },
        _ => EventDefinition::Unsupported {
            tag: tag(def),
            pos: def.pos,
        },
    }
}

/// The `zeebe:` extension elements a flow node may have at most once.
const SINGLE_EXTENSIONS: &[&str] = &[
    "taskDefinition",
    "taskHeaders",
    "ioMapping",
    "script",
    "calledDecision",
    "calledElement",
    "formDefinition",
    "userTask",
    "assignmentDefinition",
    "taskSchedule",
    "priorityDefinition",
    "executionListeners",
    "taskListeners",
    "linkedResources",
];

fn zeebe_extensions(node: &Node) -> ZeebeExtensions {
    let mut z = ZeebeExtensions::default();
    let Some(ext) = extensions(node) else {
        return z;
    };
    let mut seen: Vec<&str> = Vec::new();
    for e in ext.children.iter().filter(|c| c.ns == Ns::Zeebe) {
        // Zeebe allows each of these once per element (`ExtensionElementDuplicationValidators`).
        if SINGLE_EXTENSIONS.contains(&e.name.as_str()) {
            if seen.contains(&e.name.as_str()) {
                z.duplicates.push((format!("zeebe:{}", e.name), e.pos));
                continue;
            }
            seen.push(&e.name);
        }
        match e.name.as_str() {
            "taskDefinition" => {
                z.task_definition = Some(TaskDefinitionDef {
                    job_type: e.attr("type").map(str::to_owned),
                    retries: e.attr("retries").map(str::to_owned),
                    pos: e.pos,
                })
            }
            "taskHeaders" => {
                for h in e.children_named(Ns::Zeebe, "header") {
                    z.headers.push((
                        h.attr("key").unwrap_or_default().to_owned(),
                        h.attr("value").unwrap_or_default().to_owned(),
                    ));
                }
            }
            "ioMapping" => {
                for m in &e.children {
                    let mapping = MappingDef {
                        source: m.attr("source").map(str::to_owned),
                        target: m.attr("target").map(str::to_owned),
                        pos: m.pos,
                    };
                    if m.is(Ns::Zeebe, "input") {
                        z.inputs.push(mapping);
                    } else if m.is(Ns::Zeebe, "output") {
                        z.outputs.push(mapping);
                    }
                }
            }
            "script" => {
                z.script = Some(ScriptDef {
                    expression: e.attr("expression").map(str::to_owned),
                    result_variable: e.attr("resultVariable").map(str::to_owned),
                    pos: e.pos,
                })
            }
            "calledDecision" => z.called_decision = Some(e.pos),
            "calledElement" => z.called_element = Some(e.pos),
            "formDefinition" => {
                z.form_definition = Some(e.pos);
                user_task_attrs(e, &["formKey"], &mut z.user_task);
            }
            "assignmentDefinition" => user_task_attrs(
                e,
                &["assignee", "candidateGroups", "candidateUsers"],
                &mut z.user_task,
            ),
            "taskSchedule" => user_task_attrs(e, &["dueDate", "followUpDate"], &mut z.user_task),
            _ => {}
        }
    }
    z
}

fn user_task_attrs(e: &Node, names: &[&str], out: &mut Vec<UserTaskAttr>) {
    for name in names {
        if let Some(value) = e.attr(name).map(str::trim).filter(|v| !v.is_empty()) {
            out.push(UserTaskAttr {
                name: (*name).to_owned(),
                value: value.to_owned(),
                pos: e.pos,
            });
        }
    }
}

fn diagram(node: &Node, out: &mut Diagram) {
    for plane in node.children_named(Ns::BpmnDi, "BPMNPlane") {
        for el in &plane.children {
            let element = el.attr("bpmnElement").unwrap_or_default().to_owned();
            let label = el
                .child(Ns::BpmnDi, "BPMNLabel")
                .and_then(|l| l.child(Ns::Dc, "Bounds"))
                .map(bounds);
            if el.is(Ns::BpmnDi, "BPMNShape") {
                out.shapes.push(Shape {
                    id: el.id().map(str::to_owned),
                    element,
                    bounds: el.child(Ns::Dc, "Bounds").map(bounds).unwrap_or_default(),
                    is_expanded: el.attr("isExpanded").map(|v| v == "true"),
                    label,
                });
            } else if el.is(Ns::BpmnDi, "BPMNEdge") {
                out.edges.push(Edge {
                    id: el.id().map(str::to_owned),
                    element,
                    waypoints: el
                        .children_named(Ns::Di, "waypoint")
                        .map(|w| (num(w, "x"), num(w, "y")))
                        .collect(),
                    label,
                });
            }
        }
    }
}

fn num(node: &Node, attr: &str) -> f64 {
    node.attr(attr).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

fn bounds(node: &Node) -> Bounds {
    Bounds {
        x: num(node, "x"),
        y: num(node, "y"),
        width: num(node, "width"),
        height: num(node, "height"),
    }
}
