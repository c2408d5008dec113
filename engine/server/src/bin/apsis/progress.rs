//! What `apsis demo` sees of its chain instance: the engine runs in this process, so the demo reads the committed
//! records themselves (`EngineOptions::on_records`, the point where Zeebe's exporters read), not logs. The hook turns
//! each record into a [`Seen`] on the runtime thread (naming elements while their deployment is at hand) and sends
//! it on a channel; [`Follow`] folds them into steps with their record timestamps.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use apsis_bpmn::ElementIdx;
use apsis_core::event::Event;
use apsis_core::{Key, State};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::chain;

/// One record of interest, with its timestamp (epoch ms).
#[derive(Debug, Clone)]
pub enum Seen {
    Activating {
        at: i64,
        key: i64,
        instance: i64,
        element: String,
    },
    Completed {
        at: i64,
        key: i64,
    },
    Terminated {
        at: i64,
        key: i64,
    },
    Variable {
        scope: i64,
        name: String,
        value: Value,
    },
    JobCreated {
        key: i64,
        element: String,
    },
    JobFailed {
        key: i64,
        retries: i32,
        message: String,
    },
    Incident {
        element_instance: i64,
        instance: i64,
        message: String,
    },
    /// The end of one command's records: the state is consistent here.
    EntryEnd,
}

/// The hook to give the engine, and the receiving end.
pub fn hook() -> (apsis_server::RecordsFn, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let hook: apsis_server::RecordsFn =
        Arc::new(move |state: &State, entries: &[(i64, Vec<Event>)]| {
            for (at, events) in entries {
                for event in events {
                    if let Some(seen) = seen(state, *at, event) {
                        let _ = tx.send(seen);
                    }
                }
                let _ = tx.send(Seen::EntryEnd);
            }
        });
    (hook, rx)
}

fn element_id(state: &State, definition: Key, element: u32) -> String {
    state.deployments.get(definition).map_or_else(
        || "?".to_owned(),
        |p| p.graph().element(ElementIdx(element)).id.clone(),
    )
}

fn seen(state: &State, at: i64, event: &Event) -> Option<Seen> {
    Some(match event {
        Event::ElementActivating { key, at: r, .. } => Seen::Activating {
            at,
            key: key.0,
            instance: r.process_instance_key.0,
            element: element_id(state, r.process_definition_key, r.element),
        },
        Event::ElementCompleted { key } => Seen::Completed { at, key: key.0 },
        Event::ElementTerminated { key } => Seen::Terminated { at, key: key.0 },
        Event::VariableCreated {
            scope_key,
            name,
            value,
            ..
        }
        | Event::VariableUpdated {
            scope_key,
            name,
            value,
            ..
        } => Seen::Variable {
            scope: scope_key.0,
            name: name.clone(),
            value: value.0.clone(),
        },
        Event::JobCreated { key, job } => Seen::JobCreated {
            key: key.0,
            element: element_id(state, job.process_definition_key, job.element),
        },
        Event::JobFailed {
            key,
            retries,
            error_message,
            ..
        } => Seen::JobFailed {
            key: key.0,
            retries: *retries,
            message: error_message.clone(),
        },
        Event::IncidentCreated { incident, .. } => Seen::Incident {
            element_instance: incident.element_instance_key.0,
            instance: incident.process_instance_key.0,
            message: incident.message.clone(),
        },
        _ => return None,
    })
}

/// One step's story so far.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub started: Option<i64>,
    pub ended: Option<i64>,
    /// Its elements active now.
    active: usize,
    /// The step's result variable (the callback's payload or the function's answer).
    pub result: Option<Value>,
}

impl Step {
    /// Wall time of the step, in seconds, from the records.
    pub fn seconds(&self) -> Option<f64> {
        Some((self.ended? - self.started?) as f64 / 1000.0)
    }

    /// The function's own duration: in receive-task mode the callback's `durationSeconds`, the runtime's measure
    /// of the whole call (the function's checks included); in hold mode the result is the function's answer, whose
    /// `durationSeconds` is the function's measure of its run (otbcli and normalize-product report it).
    pub fn function_seconds(&self) -> Option<f64> {
        let r = self.result.as_ref()?;
        r.get("durationSeconds")
            .and_then(Value::as_f64)
            .or_else(|| r.pointer("/output/durationSeconds").and_then(Value::as_f64))
    }
}

/// What [`Follow::apply`] reports to print.
#[derive(Debug, Clone)]
pub enum Progress {
    StepStarted(&'static str),
    StepDone(&'static str),
    /// The step's call failed or missed its deadline: it runs again in hold mode (`<step>-rerun`); `error` is what
    /// the function answered, if it answered.
    Rerun {
        step: &'static str,
        error: Option<String>,
    },
    /// A job of the step failed; the engine will retry it (or raise an incident at 0 retries).
    Retrying {
        element: String,
        retries: i32,
        message: String,
    },
    /// A step (or another element) is stuck on an incident.
    Incident {
        step: Option<&'static str>,
        element: String,
        message: String,
    },
    Completed,
    Terminated,
}

/// Folds the records of one process instance into steps.
#[derive(Debug, Default)]
pub struct Follow {
    pub instance: i64,
    pub started: Option<i64>,
    pub ended: Option<i64>,
    pub steps: BTreeMap<&'static str, Step>,
    elements: BTreeMap<i64, String>,
    jobs: BTreeMap<i64, String>,
    /// Steps reported done.
    done: BTreeSet<&'static str>,
    pending: Vec<Progress>,
}

impl Follow {
    pub fn new(instance: i64) -> Follow {
        Follow {
            instance,
            ..Follow::default()
        }
    }

    /// Takes one record; returns what happened that is worth telling (at the end of each command's records).
    pub fn apply(&mut self, seen: Seen) -> Vec<Progress> {
        match seen {
            Seen::Activating {
                at,
                key,
                instance,
                element,
            } if instance == self.instance => {
                if key == self.instance {
                    self.started = Some(at);
                }
                if let Some(step) = chain::step_of(&element) {
                    let s = self.steps.entry(step).or_default();
                    if s.started.is_none() {
                        s.started = Some(at);
                        self.pending.push(Progress::StepStarted(step));
                    }
                    s.active += 1;
                    if element.ends_with("-rerun") {
                        let error = s.result.as_ref().and_then(|r| {
                            let output = r.get("output")?;
                            Some(
                                output
                                    .get("error")
                                    .and_then(Value::as_str)
                                    .map_or_else(|| output.to_string(), str::to_owned),
                            )
                        });
                        self.pending.push(Progress::Rerun { step, error });
                    }
                }
                self.elements.insert(key, element);
            }
            Seen::Completed { at, key } | Seen::Terminated { at, key } => {
                let terminated = matches!(seen, Seen::Terminated { .. });
                if key == self.instance {
                    self.ended = Some(at);
                    self.pending.push(if terminated {
                        Progress::Terminated
                    } else {
                        Progress::Completed
                    });
                }
                if let Some(step) = self.elements.get(&key).and_then(|e| chain::step_of(e)) {
                    if let Some(s) = self.steps.get_mut(step) {
                        s.active = s.active.saturating_sub(1);
                        s.ended = Some(at);
                    }
                }
            }
            Seen::Variable { scope, name, value } if scope == self.instance => {
                if let Some(step) = chain::STEPS.iter().copied().find(|s| *s == name) {
                    self.steps.entry(step).or_default().result = Some(value);
                }
            }
            Seen::JobCreated { key, element } => {
                self.jobs.insert(key, element);
            }
            Seen::JobFailed {
                key,
                retries,
                message,
            } => {
                if let Some(element) = self.jobs.get(&key) {
                    if chain::step_of(element).is_some() {
                        self.pending.push(Progress::Retrying {
                            element: element.clone(),
                            retries,
                            message,
                        });
                    }
                }
            }
            Seen::Incident {
                element_instance,
                instance,
                message,
            } if instance == self.instance => {
                let element = self
                    .elements
                    .get(&element_instance)
                    .cloned()
                    .unwrap_or_else(|| "?".to_owned());
                self.pending.push(Progress::Incident {
                    step: chain::step_of(&element),
                    element,
                    message,
                });
            }
            Seen::EntryEnd => {
                // A step is done when, at the end of a command, none of its elements is active (its receive task
                // completed and no re-run followed).
                let mut out = Vec::new();
                for (step, s) in &self.steps {
                    if s.active == 0 && s.ended.is_some() && self.done.insert(step) {
                        out.push(Progress::StepDone(step));
                    }
                }
                out.append(&mut self.pending);
                return out;
            }
            _ => {}
        }
        Vec::new()
    }
}
