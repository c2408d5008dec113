//! The engine's state and the event appliers: the only code that mutates it.
//!
//! Everything here is plain data that serializes into a snapshot, except the compiled process graphs, which are
//! derived from the deployed resources and rebuilt on load. Indexes that processing iterates in order are
//! `BTreeMap`/`BTreeSet`, so no hash order reaches the log; hash maps are only looked up.

mod apply;
mod deployments;
mod jobs;
mod messages;

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::event::{ElementRef, IncidentRecord, TimerRecord};
use crate::json::Json;
use crate::key::{Key, KeyGenerator};

pub use deployments::{DeployedProcess, Deployments};
pub use jobs::{Job, JobState, Jobs};
pub use messages::{Messages, Subscriptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lifecycle {
    Activating,
    Activated,
    Completing,
    Terminating,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElementInstance {
    pub key: Key,
    pub at: ElementRef,
    pub state: Lifecycle,
    /// Live child element instances, in creation order.
    pub children: Vec<Key>,
    /// Tokens on sequence flows of this scope not yet consumed by an activation.
    pub tokens: u32,
    /// Tokens waiting at parallel-gateway joins of this scope: (flow index, count), sorted by flow.
    pub joins: Vec<(u32, u32)>,
    /// Set when the scope's remaining work was discarded (terminate end event); pending activations are dropped.
    pub interrupted: bool,
    /// An activation to run in this instance's flow scope once it is terminated (interrupting boundary event).
    pub after_terminate: Option<Box<Deferred>>,
    /// For a multi-instance body: its loop state.
    pub multi_instance: Option<Box<MultiInstanceState>>,
    /// The job of a job-based task, while it exists.
    pub job: Option<Key>,
    /// For a process instance created with `awaitResult`.
    pub await_result: bool,
    /// For a process instance created by a message start event: the correlation key that created it.
    pub started_by_correlation: Option<String>,
}

/// An element activation deferred until an interrupted activity is terminated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deferred {
    pub element: u32,
    pub variables: Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MultiInstanceState {
    /// The input collection, evaluated once when the body activated.
    pub items: Vec<Json>,
    /// How many inner instances were started.
    pub started: u32,
    pub completed: u32,
    /// The completion condition was met: no further inner instance starts.
    pub condition_met: bool,
    /// Live inner instances and their loop counter (1-based), kept here so a worker cannot move an output.
    pub counters: Vec<(Key, u32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    pub key: Key,
    pub name: String,
    pub value: Json,
}

/// The layout version of a snapshot (the first byte). Snapshots are postcard-encoded [`State`]: any change to the
/// state's fields changes the layout, so it needs a new number (pinned by `tests/format.rs`). A snapshot of another
/// version is refused with a clear error rather than misread. 2: per-definition instance counts.
pub const SNAPSHOT_FORMAT_VERSION: u8 = 2;

/// The whole engine state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct State {
    pub keys: KeyGenerator,
    pub deployments: Deployments,
    pub instances: FxHashMap<Key, ElementInstance>,
    /// Variables by scope (element instance key), in creation order.
    pub variables: FxHashMap<Key, Vec<Variable>>,
    pub jobs: Jobs,
    pub incidents: Incidents,
    pub timers: Timers,
    pub messages: Messages,
    pub subscriptions: Subscriptions,
    /// Process instances started, completed and terminated, by process definition. Derived from events like
    /// everything else, so the counts survive restarts (Zeebe keeps such history in its exporters; operators and the
    /// crash benchmark need it from the engine itself).
    pub instance_counts: BTreeMap<Key, InstanceCounts>,
}

/// The process instances of one process definition, since it was deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InstanceCounts {
    pub bpmn_process_id: String,
    pub version: i32,
    pub started: u64,
    pub completed: u64,
    pub terminated: u64,
}

impl InstanceCounts {
    /// Instances started and not yet ended.
    pub fn active(&self) -> u64 {
        self.started - self.completed - self.terminated
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Incidents {
    pub by_key: FxHashMap<Key, IncidentRecord>,
    /// The open incident of an element instance (at most one).
    pub by_element: FxHashMap<Key, Key>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Timers {
    pub by_key: FxHashMap<Key, TimerRecord>,
    pub due: BTreeSet<(i64, Key)>,
    /// Timers owned by an element instance (its catch event, its boundary events, an event-based gateway).
    pub by_element: FxHashMap<Key, Vec<Key>>,
    /// Timer start events' timers by process definition.
    pub by_definition: BTreeMap<Key, Vec<Key>>,
}

impl State {
    pub fn instance(&self, key: Key) -> Option<&ElementInstance> {
        self.instances.get(&key)
    }

    /// Looks a variable up from `scope` outwards; the nearest scope that defines it wins.
    pub fn variable(&self, scope: Key, name: &str) -> Option<&Json> {
        let mut current = Some(scope);
        while let Some(s) = current {
            if let Some(v) = self
                .variables
                .get(&s)
                .and_then(|vars| vars.iter().find(|v| v.name == name))
            {
                return Some(&v.value);
            }
            current = self.parent_scope(s);
        }
        None
    }

    /// The scope a variable lookup continues in after `scope`: its flow scope instance.
    pub fn parent_scope(&self, scope: Key) -> Option<Key> {
        self.instances
            .get(&scope)
            .map(|i| i.at.flow_scope_key)
            .filter(|k| !k.is_none())
    }

    /// Every variable visible from `scope` (nearest wins), as a JSON object.
    pub fn visible_variables(&self, scope: Key) -> serde_json::Map<String, serde_json::Value> {
        let mut chain = Vec::new();
        let mut current = Some(scope);
        while let Some(s) = current {
            chain.push(s);
            current = self.parent_scope(s);
        }
        let mut out = serde_json::Map::new();
        for s in chain.into_iter().rev() {
            if let Some(vars) = self.variables.get(&s) {
                for v in vars {
                    out.insert(v.name.clone(), v.value.0.clone());
                }
            }
        }
        out
    }

    /// The earliest moment something becomes due (timer, job deadline, job backoff, message expiry).
    pub fn next_due(&self) -> Option<i64> {
        [
            self.timers.due.first().map(|(t, _)| *t),
            self.jobs.deadlines.first().map(|(t, _)| *t),
            self.jobs.backoffs.first().map(|(t, _)| *t),
            self.messages.deadlines.first().map(|(t, _)| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Rebuilds what is derived from the persisted state (compiled graphs) after loading a snapshot.
    pub fn rebuild_derived(&mut self) -> Result<(), apsis_bpmn::Error> {
        self.deployments.rebuild()
    }

    /// Encodes a snapshot of the state.
    pub fn to_snapshot(&self) -> Result<Vec<u8>, postcard::Error> {
        let mut out = vec![SNAPSHOT_FORMAT_VERSION];
        out.extend(postcard::to_stdvec(self)?);
        Ok(out)
    }

    pub fn from_snapshot(bytes: &[u8]) -> Result<State, crate::Error> {
        let (&version, body) = bytes.split_first().ok_or(crate::Error::SnapshotEmpty)?;
        if version != SNAPSHOT_FORMAT_VERSION {
            return Err(crate::Error::SnapshotVersion(version));
        }
        let mut state: State = postcard::from_bytes(body).map_err(crate::Error::SnapshotDecode)?;
        state.rebuild_derived().map_err(crate::Error::Recompile)?;
        Ok(state)
    }

    /// Counts of live entities, for tests and metrics.
    pub fn live_counts(&self) -> LiveCounts {
        LiveCounts {
            element_instances: self.instances.len(),
            variable_scopes: self.variables.len(),
            jobs: self.jobs.by_key.len(),
            incidents: self.incidents.by_key.len(),
            timers: self.timers.by_key.len(),
            messages: self.messages.by_key.len(),
            subscriptions: self.subscriptions.by_key.len(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveCounts {
    pub element_instances: usize,
    pub variable_scopes: usize,
    pub jobs: usize,
    pub incidents: usize,
    pub timers: usize,
    pub messages: usize,
    pub subscriptions: usize,
}
