//! The executable graph of one process: an arena of elements with precomputed flows and compiled expressions.
//!
//! Indices ([`ElementIdx`], [`FlowIdx`]) are positions in the arenas and stable for a given resource, so the engine
//! stores them in its state and recompiles the same resource to the same graph on replay.

use std::collections::HashMap;

use crate::feel::{Expression, Feelish};
use crate::model::{Diagram, TaskKind, TimerKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ElementIdx(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowIdx(pub u32);

/// One executable process of a deployed resource.
#[derive(Debug, Clone)]
pub struct ProcessGraph {
    pub bpmn_process_id: String,
    pub name: Option<String>,
    /// `elements[0]` is the process itself, the root flow scope.
    pub elements: Vec<Element>,
    pub flows: Vec<Flow>,
    /// The drawing of the whole resource (shared by its processes).
    pub diagram: Diagram,
    pub(crate) index: HashMap<String, ElementIdx>,
}

impl ProcessGraph {
    pub const ROOT: ElementIdx = ElementIdx(0);

    pub fn element(&self, idx: ElementIdx) -> &Element {
        &self.elements[idx.0 as usize]
    }

    pub fn flow(&self, idx: FlowIdx) -> &Flow {
        &self.flows[idx.0 as usize]
    }

    pub fn find(&self, element_id: &str) -> Option<ElementIdx> {
        self.index.get(element_id).copied()
    }

    pub fn root(&self) -> &Element {
        self.element(Self::ROOT)
    }

    /// The start events of a scope (process or subprocess).
    pub fn starts(&self, scope: ElementIdx) -> &ScopeStarts {
        match &self.element(scope).kind {
            ElementKind::Process(s) | ElementKind::SubProcess(s) => s,
            _ => &EMPTY_STARTS,
        }
    }
}

static EMPTY_STARTS: ScopeStarts = ScopeStarts {
    none_start: None,
    message_starts: Vec::new(),
    timer_starts: Vec::new(),
};

#[derive(Debug, Clone)]
pub struct Element {
    pub id: String,
    pub name: Option<String>,
    pub kind: ElementKind,
    /// The flow scope that contains this element; `None` only for the process.
    pub scope: Option<ElementIdx>,
    pub incoming: Vec<FlowIdx>,
    pub outgoing: Vec<FlowIdx>,
    /// Boundary events attached to this activity, in document order.
    pub boundaries: Vec<ElementIdx>,
    pub inputs: Vec<Mapping>,
    pub outputs: Vec<Mapping>,
    pub multi_instance: Option<MultiInstance>,
}

impl Element {
    /// Zeebe's `BpmnElementType` name, as clients and exporters see it.
    pub fn bpmn_element_type(&self) -> &'static str {
        match &self.kind {
            ElementKind::Process(_) => "PROCESS",
            ElementKind::SubProcess(_) => "SUB_PROCESS",
            ElementKind::StartEvent(_) => "START_EVENT",
            ElementKind::EndEvent(_) => "END_EVENT",
            ElementKind::IntermediateThrowNone => "INTERMEDIATE_THROW_EVENT",
            ElementKind::IntermediateCatch(_) => "INTERMEDIATE_CATCH_EVENT",
            ElementKind::Boundary(_) => "BOUNDARY_EVENT",
            ElementKind::JobTask { task, .. } | ElementKind::PassThrough { task } => {
                task_type_name(*task)
            }
            ElementKind::ScriptFeel { .. } => "SCRIPT_TASK",
            ElementKind::ReceiveTask { .. } => "RECEIVE_TASK",
            ElementKind::ExclusiveGateway { .. } => "EXCLUSIVE_GATEWAY",
            ElementKind::ParallelGateway => "PARALLEL_GATEWAY",
            ElementKind::EventBasedGateway => "EVENT_BASED_GATEWAY",
        }
    }

    /// Whether this element is an activity (can carry boundary events, io mappings, multi-instance).
    pub fn is_activity(&self) -> bool {
        matches!(
            self.kind,
            ElementKind::SubProcess(_)
                | ElementKind::JobTask { .. }
                | ElementKind::PassThrough { .. }
                | ElementKind::ScriptFeel { .. }
                | ElementKind::ReceiveTask { .. }
        )
    }
}

fn task_type_name(task: TaskKind) -> &'static str {
    match task {
        TaskKind::Service => "SERVICE_TASK",
        TaskKind::Send => "SEND_TASK",
        TaskKind::User => "USER_TASK",
        TaskKind::BusinessRule => "BUSINESS_RULE_TASK",
        TaskKind::Script => "SCRIPT_TASK",
        TaskKind::Receive => "RECEIVE_TASK",
        TaskKind::Manual => "MANUAL_TASK",
        TaskKind::Undefined => "TASK",
    }
}

#[derive(Debug, Clone)]
pub enum ElementKind {
    Process(ScopeStarts),
    SubProcess(ScopeStarts),
    StartEvent(Trigger),
    EndEvent(EndKind),
    IntermediateThrowNone,
    /// An intermediate catch event: message or timer.
    IntermediateCatch(Trigger),
    Boundary(Boundary),
    /// A service, send, user, business-rule or script task executed by a job worker.
    JobTask {
        task: TaskKind,
        job: JobDefinition,
    },
    /// A script task with `zeebe:script`: the engine evaluates the FEEL expression itself.
    ScriptFeel {
        expression: Expression,
        result_variable: String,
    },
    ReceiveTask {
        message: MessageRef,
    },
    /// Manual and undefined tasks: activate and complete at once.
    PassThrough {
        task: TaskKind,
    },
    ExclusiveGateway {
        default: Option<FlowIdx>,
    },
    ParallelGateway,
    EventBasedGateway,
}

/// The start events of a flow scope.
#[derive(Debug, Clone, Default)]
pub struct ScopeStarts {
    pub none_start: Option<ElementIdx>,
    pub message_starts: Vec<ElementIdx>,
    pub timer_starts: Vec<ElementIdx>,
}

/// What a start or catch event waits for.
#[derive(Debug, Clone)]
pub enum Trigger {
    None,
    Message(MessageRef),
    Timer(TimerRef),
}

#[derive(Debug, Clone)]
pub enum EndKind {
    None,
    Terminate,
    Error { code: String },
}

#[derive(Debug, Clone)]
pub struct Boundary {
    pub attached_to: ElementIdx,
    pub interrupting: bool,
    pub trigger: BoundaryTrigger,
}

#[derive(Debug, Clone)]
pub enum BoundaryTrigger {
    Timer(TimerRef),
    Message(MessageRef),
    /// `None` catches every error.
    Error {
        code: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct MessageRef {
    pub name: Feelish,
    /// Absent only on message start events.
    pub correlation_key: Option<Feelish>,
}

#[derive(Debug, Clone)]
pub struct TimerRef {
    pub kind: TimerKind,
    /// A static value was parsed at deploy time (so errors surface there); an expression is evaluated at activation.
    pub value: Feelish,
}

#[derive(Debug, Clone)]
pub struct JobDefinition {
    pub job_type: Feelish,
    pub retries: Feelish,
    /// `zeebe:taskHeaders`, in document order.
    pub headers: Vec<(String, String)>,
    /// Headers Zeebe adds to a job-based user task's job (`io.camunda.zeebe:assignee`, ...), evaluated at creation.
    pub user_task_headers: Vec<UserTaskHeader>,
}

/// A user-task property that becomes a custom header of its job, as in Zeebe.
#[derive(Debug, Clone)]
pub struct UserTaskHeader {
    /// The header name, e.g. `io.camunda.zeebe:candidateGroups`.
    pub header: String,
    pub value: Feelish,
    /// Candidate groups and users: a list, given statically as `a, b` or by FEEL as a list of strings; the header
    /// holds it as a JSON array text.
    pub list: bool,
}

/// One `zeebe:input` or `zeebe:output`.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub source: Feelish,
    /// A variable name, or a dotted path (`a.b`) into a context variable.
    pub target: String,
}

#[derive(Debug, Clone)]
pub struct MultiInstance {
    pub sequential: bool,
    pub input_collection: Expression,
    pub input_element: Option<String>,
    pub output_collection: Option<String>,
    pub output_element: Option<Expression>,
    pub completion_condition: Option<Expression>,
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub id: String,
    pub source: ElementIdx,
    pub target: ElementIdx,
    pub condition: Option<Expression>,
}
