//! Events: the facts the log records. Applying them, in order, is the only way state changes (replay is
//! "apply every event"). Their encoding is the on-disk format: variant numbers are explicit in [`Event::TYPE_IDS`]
//! and asserted by a test, new variants go at the end, and no number is ever reused.

use serde::{Deserialize, Serialize};

use crate::json::Json;
use crate::key::Key;

/// The format version written in every log entry; bump it with a migration when an event's layout changes.
pub const FORMAT_VERSION: u8 = 1;

/// Where an element instance sits: its process instance, definition and flow scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElementRef {
    pub process_instance_key: Key,
    pub process_definition_key: Key,
    /// Index of the element in the process graph.
    pub element: u32,
    /// The key of the flow scope instance (`Key::NONE` for a process instance).
    pub flow_scope_key: Key,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job_type: String,
    pub retries: i32,
    pub element_instance_key: Key,
    pub process_instance_key: Key,
    pub process_definition_key: Key,
    pub element: u32,
    /// `zeebe:taskHeaders`, as a JSON object, in document order.
    pub custom_headers: Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IncidentKind {
    JobNoRetries,
    IoMappingError,
    ConditionError,
    ExtractValueError,
    UnhandledErrorEvent,
    CalledElementError,
    Unknown,
}

impl IncidentKind {
    /// Zeebe's `ErrorType` name.
    pub fn zeebe_name(self) -> &'static str {
        match self {
            IncidentKind::JobNoRetries => "JOB_NO_RETRIES",
            IncidentKind::IoMappingError => "IO_MAPPING_ERROR",
            IncidentKind::ConditionError => "CONDITION_ERROR",
            IncidentKind::ExtractValueError => "EXTRACT_VALUE_ERROR",
            IncidentKind::UnhandledErrorEvent => "UNHANDLED_ERROR_EVENT",
            IncidentKind::CalledElementError => "CALLED_ELEMENT_ERROR",
            IncidentKind::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    pub kind: IncidentKind,
    pub message: String,
    pub element_instance_key: Key,
    pub process_instance_key: Key,
    /// The job whose retries ran out, for `JobNoRetries`.
    pub job_key: Key,
}

/// What a timer belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerRecord {
    /// The element instance waiting for it (`Key::NONE` for a timer start event).
    pub element_instance_key: Key,
    pub process_instance_key: Key,
    pub process_definition_key: Key,
    /// The element to trigger: the catch event, the boundary event or the start event.
    pub target_element: u32,
    pub due: i64,
    /// Remaining repetitions of a cycle (`-1` = infinite; `1` for one-shot timers).
    pub repetitions: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub name: String,
    pub correlation_key: String,
    pub message_id: String,
    /// Epoch ms after which the buffered message expires.
    pub deadline: i64,
    pub variables: Json,
}

/// A message subscription opened by a waiting element instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    pub element_instance_key: Key,
    pub process_instance_key: Key,
    pub process_definition_key: Key,
    pub bpmn_process_id: String,
    pub message_name: String,
    pub correlation_key: String,
    /// The element to trigger (a boundary event or the event after an event-based gateway); the waiting element
    /// itself for catch events and receive tasks.
    pub target_element: u32,
    pub interrupting: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    // Deployment -----------------------------------------------------------------------------------------------
    /// A process definition was deployed. Carries the resource so replay can recompile it.
    ProcessDeployed {
        key: Key,
        deployment_key: Key,
        bpmn_process_id: String,
        version: i32,
        resource_name: String,
        checksum: u64,
        resource: String,
    },
    ProcessDeleted {
        key: Key,
    },
    DeploymentCreated {
        key: Key,
    },
    // Element instances ----------------------------------------------------------------------------------------
    ElementActivating {
        key: Key,
        at: ElementRef,
        /// The sequence flow that led here, if any (its token is consumed).
        via_flow: bool,
    },
    ElementActivated {
        key: Key,
    },
    ElementCompleting {
        key: Key,
    },
    ElementCompleted {
        key: Key,
    },
    ElementTerminating {
        key: Key,
    },
    ElementTerminated {
        key: Key,
    },
    SequenceFlowTaken {
        key: Key,
        flow_scope_key: Key,
        flow: u32,
    },
    /// A parallel gateway joined: it consumes one token of each incoming flow.
    GatewayJoined {
        flow_scope_key: Key,
        gateway: u32,
    },
    // Variables ------------------------------------------------------------------------------------------------
    VariableCreated {
        key: Key,
        scope_key: Key,
        name: String,
        value: Json,
    },
    VariableUpdated {
        key: Key,
        scope_key: Key,
        name: String,
        value: Json,
    },
    // Jobs -----------------------------------------------------------------------------------------------------
    JobCreated {
        key: Key,
        job: JobRecord,
    },
    JobActivated {
        key: Key,
        worker: String,
        deadline: i64,
    },
    JobCompleted {
        key: Key,
    },
    JobFailed {
        key: Key,
        retries: i32,
        error_message: String,
        /// Epoch ms at which it becomes activatable again (0 = at once).
        backoff_until: i64,
    },
    JobRecurred {
        key: Key,
    },
    JobTimedOut {
        key: Key,
    },
    JobRetriesUpdated {
        key: Key,
        retries: i32,
    },
    JobTimeoutUpdated {
        key: Key,
        deadline: i64,
    },
    JobErrorThrown {
        key: Key,
        error_code: String,
        error_message: String,
    },
    JobCanceled {
        key: Key,
    },
    // Incidents ------------------------------------------------------------------------------------------------
    IncidentCreated {
        key: Key,
        incident: IncidentRecord,
    },
    IncidentResolved {
        key: Key,
    },
    // Timers ---------------------------------------------------------------------------------------------------
    TimerCreated {
        key: Key,
        timer: TimerRecord,
    },
    TimerTriggered {
        key: Key,
    },
    TimerCanceled {
        key: Key,
    },
    // Messages -------------------------------------------------------------------------------------------------
    MessagePublished {
        key: Key,
        message: MessageRecord,
    },
    MessageExpired {
        key: Key,
    },
    SubscriptionCreated {
        key: Key,
        subscription: SubscriptionRecord,
    },
    /// A message correlated to a subscription; the subscription is closed.
    SubscriptionCorrelated {
        key: Key,
        message_key: Key,
    },
    SubscriptionDeleted {
        key: Key,
    },
    /// A message created a process instance through a message start event.
    MessageStartCorrelated {
        message_key: Key,
        process_definition_key: Key,
        process_instance_key: Key,
        correlation_key: String,
    },
    // Process instances ----------------------------------------------------------------------------------------
    /// A process instance was created on request (the root element activation follows).
    ProcessInstanceCreated {
        key: Key,
        process_definition_key: Key,
        /// The client waits for the result: completion yields an effect with the variables.
        await_result: bool,
    },
    /// A multi-instance body evaluated its input collection.
    MultiInstanceItems {
        key: Key,
        items: Vec<Json>,
    },
    /// An activation to run in the flow scope of `key` once `key` is terminated (interrupting boundary event).
    ActivationDeferred {
        key: Key,
        element: u32,
        variables: Json,
    },
    /// A flow scope's remaining tokens were discarded (terminate end event); pending activations are dropped.
    FlowScopeInterrupted {
        key: Key,
    },
    /// A multi-instance body's completion condition was met: its remaining inner instances are terminated.
    MultiInstanceConditionMet {
        key: Key,
    },
    /// A pushed job could not be delivered to its stream and is activatable again.
    JobYielded {
        key: Key,
    },
}

impl Event {
    /// The explicit, never reused number of each variant: the order in this table is the encoding order.
    pub const TYPE_IDS: &'static [(u16, &'static str)] = &[
        (0, "ProcessDeployed"),
        (1, "ProcessDeleted"),
        (2, "DeploymentCreated"),
        (3, "ElementActivating"),
        (4, "ElementActivated"),
        (5, "ElementCompleting"),
        (6, "ElementCompleted"),
        (7, "ElementTerminating"),
        (8, "ElementTerminated"),
        (9, "SequenceFlowTaken"),
        (10, "GatewayJoined"),
        (11, "VariableCreated"),
        (12, "VariableUpdated"),
        (13, "JobCreated"),
        (14, "JobActivated"),
        (15, "JobCompleted"),
        (16, "JobFailed"),
        (17, "JobRecurred"),
        (18, "JobTimedOut"),
        (19, "JobRetriesUpdated"),
        (20, "JobTimeoutUpdated"),
        (21, "JobErrorThrown"),
        (22, "JobCanceled"),
        (23, "IncidentCreated"),
        (24, "IncidentResolved"),
        (25, "TimerCreated"),
        (26, "TimerTriggered"),
        (27, "TimerCanceled"),
        (28, "MessagePublished"),
        (29, "MessageExpired"),
        (30, "SubscriptionCreated"),
        (31, "SubscriptionCorrelated"),
        (32, "SubscriptionDeleted"),
        (33, "MessageStartCorrelated"),
        (34, "ProcessInstanceCreated"),
        (35, "MultiInstanceItems"),
        (36, "ActivationDeferred"),
        (37, "FlowScopeInterrupted"),
        (38, "MultiInstanceConditionMet"),
        (39, "JobYielded"),
    ];
}

/// One log entry: the events of one processed command, with the record timestamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub timestamp: i64,
    pub events: Vec<Event>,
}

/// Encoding errors of log entries.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("Expected a log entry of format version {FORMAT_VERSION}, but found version {0}")]
    Version(u8),
    #[error("Expected a log entry, but found an empty payload")]
    Empty,
    #[error("Expected a decodable log entry, but decoding failed")]
    Decode(#[source] postcard::Error),
    #[error("Expected to encode a log entry, but encoding failed")]
    Encode(#[source] postcard::Error),
}

impl Entry {
    /// Appends the encoded entry (format version byte + postcard body) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.push(FORMAT_VERSION);
        postcard::to_io(self, &mut *out).map_err(CodecError::Encode)?;
        Ok(())
    }

    pub fn decode(bytes: &[u8]) -> Result<Entry, CodecError> {
        match bytes.split_first() {
            None => Err(CodecError::Empty),
            Some((&FORMAT_VERSION, body)) => postcard::from_bytes(body).map_err(CodecError::Decode),
            Some((&v, _)) => Err(CodecError::Version(v)),
        }
    }
}
