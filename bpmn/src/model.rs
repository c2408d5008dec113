//! The typed model of a BPMN file: what the XML says, element by element, with positions and the diagram.
//!
//! The model is a faithful reading, not yet validated: references may dangle and required extension elements may be
//! missing. [`crate::compile`] validates it and builds the executable graph.

use serde::{Deserialize, Serialize};

/// A 1-based line and column in the source file; the column counts characters (Unicode scalar values), and a
/// leading byte-order mark is not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A `bpmn:definitions` document.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    pub id: Option<String>,
    /// Where the `bpmn:definitions` start tag is (problems about the whole file point here).
    pub pos: Pos,
    pub processes: Vec<Process>,
    pub messages: Vec<MessageDef>,
    pub errors: Vec<ErrorDef>,
    /// Root elements we read but do not execute (signals, escalations, collaborations, ...), kept for diagnostics.
    pub other_roots: Vec<Located>,
    pub diagram: Diagram,
}

/// The tag name (with the conventional `bpmn:` prefix), id and position of an element.
#[derive(Debug, Clone, Default)]
pub struct Located {
    pub tag: String,
    pub id: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct MessageDef {
    pub id: String,
    pub name: Option<String>,
    /// `zeebe:subscription correlationKey`.
    pub correlation_key: Option<String>,
    /// Where the `zeebe:subscription` element is, if there is one.
    pub subscription_pos: Option<Pos>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct ErrorDef {
    pub id: String,
    pub name: Option<String>,
    pub error_code: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct Process {
    pub id: String,
    pub name: Option<String>,
    pub is_executable: bool,
    pub pos: Pos,
    pub scope: Scope,
}

/// The content of a process or subprocess: its flow nodes and sequence flows.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub nodes: Vec<FlowNode>,
    pub flows: Vec<SequenceFlow>,
}

#[derive(Debug, Clone)]
pub struct SequenceFlow {
    pub id: String,
    pub name: Option<String>,
    pub source: String,
    pub target: String,
    /// The text of `bpmn:conditionExpression`, if any.
    pub condition: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct FlowNode {
    pub id: String,
    pub name: Option<String>,
    pub pos: Pos,
    /// The BPMN tag with the conventional `bpmn:` prefix whatever prefix the file uses, e.g. `bpmn:serviceTask`,
    /// for messages.
    pub tag: String,
    pub kind: NodeKind,
    /// `default` attribute of gateways and activities.
    pub default_flow: Option<String>,
    /// `messageRef` attribute of a receive task.
    pub message_ref: Option<String>,
    pub zeebe: ZeebeExtensions,
    pub multi_instance: Option<MultiInstanceDef>,
    /// A `bpmn:standardLoopCharacteristics`, which Zeebe does not support.
    pub standard_loop: Option<Pos>,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    StartEvent {
        event: EventDefinition,
        interrupting: bool,
    },
    EndEvent {
        event: EventDefinition,
    },
    IntermediateCatchEvent {
        event: EventDefinition,
    },
    IntermediateThrowEvent {
        event: EventDefinition,
    },
    BoundaryEvent {
        event: EventDefinition,
        attached_to: Option<String>,
        cancel_activity: bool,
    },
    Task(TaskKind),
    Gateway(GatewayKind),
    SubProcess {
        triggered_by_event: bool,
        scope: Box<Scope>,
    },
    /// Any other flow node (transaction, call activity, ad-hoc subprocess, ...), kept so validation names it.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskKind {
    Service,
    Send,
    User,
    BusinessRule,
    Script,
    Receive,
    Manual,
    /// A plain `bpmn:task`.
    Undefined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayKind {
    Exclusive,
    Parallel,
    EventBased,
    Inclusive,
    Complex,
}

/// The event definition of an event, or of a receive task's message.
#[derive(Debug, Clone)]
pub enum EventDefinition {
    None,
    Message {
        message_ref: Option<String>,
        pos: Pos,
    },
    Timer {
        timer: Option<TimerDef>,
        pos: Pos,
    },
    Error {
        error_ref: Option<String>,
        pos: Pos,
    },
    Terminate {
        pos: Pos,
    },
    /// Signal, escalation, link, compensation, conditional, cancel: read, not executed yet.
    Unsupported {
        tag: String,
        pos: Pos,
    },
    /// More than one event definition on one event (a BPMN "multiple" event).
    Multiple {
        pos: Pos,
    },
}

pub use crate::timer::TimerKind;

#[derive(Debug, Clone)]
pub struct TimerDef {
    pub kind: TimerKind,
    pub text: String,
    pub pos: Pos,
}

/// The `zeebe:` extension elements of a flow node.
#[derive(Debug, Clone, Default)]
pub struct ZeebeExtensions {
    pub task_definition: Option<TaskDefinitionDef>,
    pub headers: Vec<(String, String)>,
    pub inputs: Vec<MappingDef>,
    pub outputs: Vec<MappingDef>,
    pub script: Option<ScriptDef>,
    pub called_decision: Option<Pos>,
    pub called_element: Option<Pos>,
    pub form_definition: Option<Pos>,
    /// Attributes of a user task's `zeebe:formDefinition`, `zeebe:assignmentDefinition` and `zeebe:taskSchedule`
    /// (`formKey`, `assignee`, `candidateGroups`, `candidateUsers`, `dueDate`, `followUpDate`), in that order.
    pub user_task: Vec<UserTaskAttr>,
    pub loop_characteristics: Option<ZeebeLoopDef>,
    /// Extension elements that may appear once but appear again (tag, position of the repetition); the first one
    /// is the one read.
    pub duplicates: Vec<(String, Pos)>,
}

/// One user-task attribute: its name, its text (static or `=` FEEL) and where it was written.
#[derive(Debug, Clone)]
pub struct UserTaskAttr {
    pub name: String,
    pub value: String,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct TaskDefinitionDef {
    pub job_type: Option<String>,
    pub retries: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct MappingDef {
    pub source: Option<String>,
    pub target: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct ScriptDef {
    pub expression: Option<String>,
    pub result_variable: Option<String>,
    pub pos: Pos,
}

/// `bpmn:multiInstanceLoopCharacteristics`.
#[derive(Debug, Clone)]
pub struct MultiInstanceDef {
    pub sequential: bool,
    pub completion_condition: Option<String>,
    pub pos: Pos,
}

/// `zeebe:loopCharacteristics` inside the multi-instance marker.
#[derive(Debug, Clone)]
pub struct ZeebeLoopDef {
    pub input_collection: Option<String>,
    pub input_element: Option<String>,
    pub output_collection: Option<String>,
    pub output_element: Option<String>,
    pub pos: Pos,
}

/// The drawing: shapes and edges by BPMN element id, kept so a UI can draw the process and its state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Diagram {
    pub shapes: Vec<Shape>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Bounds {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    pub id: Option<String>,
    pub element: String,
    pub bounds: Bounds,
    pub is_expanded: Option<bool>,
    pub label: Option<Bounds>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub id: Option<String>,
    pub element: String,
    pub waypoints: Vec<(f64, f64)>,
    pub label: Option<Bounds>,
}

impl Scope {
    /// Every flow node of this scope and its nested subprocesses, depth first.
    pub fn walk(&self) -> Vec<&FlowNode> {
        let mut out = Vec::new();
        fn go<'a>(s: &'a Scope, out: &mut Vec<&'a FlowNode>) {
            for n in &s.nodes {
                out.push(n);
                if let NodeKind::SubProcess { scope, .. } = &n.kind {
                    go(scope, out);
                }
            }
        }
        go(self, &mut out);
        out
    }
}
