//! Commands in; responses, rejections and effects out. The gateway translates gRPC requests into [`Command`]s and
//! [`Outcome`]s back into replies; the mapping of [`RejectionKind`] to gRPC status lives in one table there.

use crate::event::Event;
use crate::json::Json;
use crate::key::Key;

/// How a client names a process definition.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessSelector {
    Key(Key),
    /// `version == -1` means the latest version.
    Id {
        bpmn_process_id: String,
        version: i32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub name: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Deploy {
        resources: Vec<Resource>,
    },
    CreateProcessInstance {
        process: ProcessSelector,
        variables: Json,
        await_result: bool,
    },
    CancelProcessInstance {
        key: Key,
    },
    ActivateJobs {
        job_type: String,
        worker: String,
        timeout_ms: i64,
        max_jobs: i32,
        /// Empty = every visible variable.
        fetch_variables: Vec<String>,
    },
    CompleteJob {
        key: Key,
        variables: Json,
    },
    FailJob {
        key: Key,
        retries: i32,
        error_message: String,
        retry_backoff_ms: i64,
        variables: Json,
    },
    ThrowError {
        key: Key,
        error_code: String,
        error_message: String,
        variables: Json,
    },
    UpdateJobRetries {
        key: Key,
        retries: i32,
    },
    UpdateJobTimeout {
        key: Key,
        timeout_ms: i64,
    },
    PublishMessage {
        name: String,
        correlation_key: String,
        ttl_ms: i64,
        message_id: String,
        variables: Json,
    },
    ResolveIncident {
        key: Key,
    },
    SetVariables {
        element_instance_key: Key,
        variables: Json,
        local: bool,
    },
    DeleteResource {
        key: Key,
    },
    /// A pushed job could not be delivered to its stream: it becomes activatable again (Zeebe's job yield).
    YieldJob {
        key: Key,
    },
    /// Fire everything due at the record's timestamp: timers, job timeouts, retry backoffs, message expiry.
    Tick,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeployedProcessInfo {
    pub bpmn_process_id: String,
    pub version: i32,
    pub process_definition_key: Key,
    pub resource_name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivatedJob {
    pub key: Key,
    pub job_type: String,
    pub process_instance_key: Key,
    pub bpmn_process_id: String,
    pub process_definition_version: i32,
    pub process_definition_key: Key,
    pub element_id: String,
    pub element_instance_key: Key,
    pub custom_headers: Json,
    pub worker: String,
    pub retries: i32,
    pub deadline: i64,
    pub variables: Json,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Deployed {
        key: Key,
        processes: Vec<DeployedProcessInfo>,
    },
    ProcessInstanceCreated {
        process_definition_key: Key,
        bpmn_process_id: String,
        version: i32,
        process_instance_key: Key,
    },
    ProcessInstanceCanceled,
    JobsActivated {
        jobs: Vec<ActivatedJob>,
    },
    JobCompleted,
    JobFailed,
    ErrorThrown,
    JobRetriesUpdated,
    JobTimeoutUpdated,
    MessagePublished {
        key: Key,
    },
    IncidentResolved,
    VariablesSet {
        key: Key,
    },
    ResourceDeleted,
    JobYielded,
    Ticked,
}

/// Why a command was refused. Exactly one table maps these to gRPC statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    InvalidState,
    ResourceExhausted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub kind: RejectionKind,
    /// "Expected to <do X>, but <found Y>".
    pub message: String,
}

impl Rejection {
    pub fn new(kind: RejectionKind, message: impl Into<String>) -> Rejection {
        Rejection {
            kind,
            message: message.into(),
        }
    }
}

/// Work for the runtime to do after the events are committed.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Jobs of this type became activatable: wake long-polling requests and job streams.
    JobsAvailable { job_type: String },
    /// A job was activated for a job stream: deliver it there (if that fails, submit `YieldJob`).
    JobPushed { stream_id: u64, job: ActivatedJob },
    /// A process instance created with `awaitResult` completed.
    ProcessInstanceResult {
        process_instance_key: Key,
        process_definition_key: Key,
        bpmn_process_id: String,
        version: i32,
        variables: Json,
    },
    /// A process instance created with `awaitResult` ended without a result (canceled or terminated).
    ProcessInstanceEnded { process_instance_key: Key },
}

/// The result of processing one command.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// Already applied to the state; the runtime appends them to the log.
    pub events: Vec<Event>,
    pub result: Option<Result<Response, Rejection>>,
    pub effects: Vec<Effect>,
}
