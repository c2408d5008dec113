//! Command processing: `process(state, command, ctx) -> Outcome`.
//!
//! A command is validated first (a bad one is rejected with no event); then its events are written, each applied to
//! the state at once so the next step sees it. Internal follow-ups (activate the next element, complete a scope) go
//! through a FIFO queue drained within the same command, so one log entry holds everything one command caused and
//! a crash can never leave half of a cascade behind.

mod bpmn;
mod commands;
mod errors;
mod feel;
mod instances;
mod jobs;
mod messages;
mod multi;
mod timers;
mod variables;

use apsis_bpmn::ElementIdx;
use std::collections::VecDeque;

use crate::command::{Command, Effect, Outcome, Rejection};
use crate::event::{Event, IncidentKind, IncidentRecord};
use crate::json::Json;
use crate::key::Key;
use crate::state::State;

/// What the runtime tells the core about the moment of processing.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The record timestamp (epoch ms): the core's only notion of time.
    pub now: i64,
    /// Open job streams (StreamActivatedJobs): a job that becomes activatable is activated for one of them at once.
    pub streams: Option<&'a dyn JobStreams>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("now", &self.now)
            .field("streams", &self.streams.is_some())
            .finish()
    }
}

impl Context<'static> {
    /// A context with no job streams.
    pub fn at(now: i64) -> Context<'static> {
        Context { now, streams: None }
    }
}

/// The job streams the runtime holds open. `pick` chooses the stream a newly activatable job of `job_type` is
/// pushed to (or none); the choice is recorded in the `JobActivated` event, so replay does not need the streams.
pub trait JobStreams {
    fn pick(&self, job_type: &str) -> Option<StreamTarget>;
}

/// Where and how a pushed job is activated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTarget {
    pub stream_id: u64,
    pub worker: String,
    pub timeout_ms: i64,
    /// Empty = every visible variable.
    pub fetch_variables: Vec<String>,
}

/// Follow-ups longer than this in one command mean a loop that never waits; it is stopped with an incident.
pub const MAX_STEPS_PER_COMMAND: usize = 100_000;

/// Processes one command against the state. The state is changed only by applying the returned events.
pub fn process(state: &mut State, command: Command, ctx: &Context<'_>) -> Outcome {
    let mut p = Processor::new(state, ctx.now, ctx.streams);
    let result = commands::dispatch(&mut p, command);
    let result = match result {
        Ok(response) => {
            p.drain();
            Ok(response)
        }
        Err(rejection) => Err(rejection),
    };
    Outcome {
        events: p.events,
        result: Some(result),
        effects: p.effects,
    }
}

/// An expected runtime failure: it raises an incident on the element instance.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub kind: IncidentKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: IncidentKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

/// Internal follow-up steps.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Activate `element` inside the flow scope instance `scope`.
    Activate {
        scope: Key,
        element: ElementIdx,
        via_flow: bool,
        /// Local variables of the new instance, set before its input mappings (multi-instance loop variables).
        locals: Option<Json>,
        /// The event already happened (message, timer, error): its variables are merged and the event completes.
        payload: Option<Json>,
    },
    Complete {
        key: Key,
    },
    Terminate {
        key: Key,
    },
    /// Correlate a buffered message to a subscription that was just opened (run after the opening finished).
    Correlate {
        subscription: Key,
        message: Key,
    },
    /// A child of `scope` ended: complete or finish terminating the scope if nothing is left in it.
    ChildEnded {
        scope: Key,
    },
}

pub(crate) struct Processor<'s> {
    pub state: &'s mut State,
    pub now: i64,
    pub streams: Option<&'s dyn JobStreams>,
    pub events: Vec<Event>,
    pub effects: Vec<Effect>,
    queue: VecDeque<Step>,
    next_key: i64,
    steps: usize,
}

impl<'s> Processor<'s> {
    fn new(state: &'s mut State, now: i64, streams: Option<&'s dyn JobStreams>) -> Processor<'s> {
        let next_key = state.keys.peek().0;
        Processor {
            state,
            now,
            streams,
            events: Vec::new(),
            effects: Vec::new(),
            queue: VecDeque::new(),
            next_key,
            steps: 0,
        }
    }

    /// A fresh key; it enters the state through the event that uses it.
    pub fn new_key(&mut self) -> Key {
        let k = self.next_key.max(self.state.keys.peek().0);
        self.next_key = k + 1;
        Key(k)
    }

    /// Writes an event: applied to the state now, appended to the log with the command's other events.
    pub fn write(&mut self, event: Event) {
        self.state.apply(&event);
        self.events.push(event);
    }

    pub fn effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    pub fn push(&mut self, step: Step) {
        self.queue.push_back(step);
    }

    fn drain(&mut self) {
        while let Some(step) = self.queue.pop_front() {
            self.steps += 1;
            if self.steps > MAX_STEPS_PER_COMMAND {
                self.stop_runaway(step);
                self.queue.clear();
                return;
            }
            match step {
                Step::Activate {
                    scope,
                    element,
                    via_flow,
                    locals,
                    payload,
                } => bpmn::activate(self, scope, element, via_flow, locals, payload),
                Step::Complete { key } => bpmn::complete(self, key),
                Step::Terminate { key } => bpmn::terminate(self, key),
                Step::ChildEnded { scope } => bpmn::child_ended(self, scope),
                Step::Correlate {
                    subscription,
                    message,
                } => messages::correlate_buffered(self, subscription, message),
            }
        }
    }

    /// A process that loops without ever waiting: stop the step with an incident instead of spinning forever.
    fn stop_runaway(&mut self, step: Step) {
        let key = match step {
            Step::Activate { scope, .. } | Step::ChildEnded { scope } => scope,
            Step::Complete { key } | Step::Terminate { key } => key,
            Step::Correlate { subscription, .. } => {
                match self.state.subscriptions.by_key.get(&subscription) {
                    Some(s) => s.element_instance_key,
                    None => return,
                }
            }
        };
        if self.state.incidents.by_element.contains_key(&key) || self.state.instance(key).is_none()
        {
            return;
        }
        self.raise_incident(
            key,
            Failure::new(
                IncidentKind::Unknown,
                format!("Expected the process to wait for a job, message or timer within {MAX_STEPS_PER_COMMAND} steps, but it loops without waiting"),
            ),
            Key::NONE,
        );
    }

    pub fn raise_incident(&mut self, element_instance_key: Key, failure: Failure, job_key: Key) {
        let Some(instance) = self.state.instance(element_instance_key) else {
            return;
        };
        let incident = IncidentRecord {
            kind: failure.kind,
            message: failure.message,
            element_instance_key,
            process_instance_key: instance.at.process_instance_key,
            job_key,
        };
        let key = self.new_key();
        self.write(Event::IncidentCreated { key, incident });
    }
}

pub(crate) type Rejected<T> = Result<T, Rejection>;
