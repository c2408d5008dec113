//! Jobs and their indexes: activatable jobs by type (FIFO by key), deadlines of activated jobs, retry backoffs.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::event::JobRecord;
use crate::key::Key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Activatable,
    Activated,
    /// Failed with retries left, waiting for its backoff.
    BackingOff,
    /// Failed with no retries left: an incident is open.
    Failed,
    /// An error was thrown and not caught: an incident is open.
    ErrorThrown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub key: Key,
    pub record: JobRecord,
    pub state: JobState,
    pub worker: String,
    pub deadline: i64,
    pub error_message: String,
    pub backoff_until: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Jobs {
    pub by_key: FxHashMap<Key, Job>,
    pub activatable: BTreeMap<String, BTreeSet<Key>>,
    pub deadlines: BTreeSet<(i64, Key)>,
    pub backoffs: BTreeSet<(i64, Key)>,
}

impl Jobs {
    pub fn get(&self, key: Key) -> Option<&Job> {
        self.by_key.get(&key)
    }

    /// Moves a job to `state`, keeping every index consistent.
    pub(crate) fn set_state(&mut self, key: Key, state: JobState) {
        let Some(job) = self.by_key.get_mut(&key) else {
            return;
        };
        match job.state {
            JobState::Activatable => {
                if let Some(set) = self.activatable.get_mut(&job.record.job_type) {
                    set.remove(&key);
                    if set.is_empty() {
                        self.activatable.remove(&job.record.job_type);
                    }
                }
            }
            JobState::Activated => {
                self.deadlines.remove(&(job.deadline, key));
            }
            JobState::BackingOff => {
                self.backoffs.remove(&(job.backoff_until, key));
            }
            JobState::Failed | JobState::ErrorThrown => {}
        }
        job.state = state;
        match state {
            JobState::Activatable => match self.activatable.get_mut(job.record.job_type.as_str()) {
                Some(set) => {
                    set.insert(key);
                }
                None => {
                    self.activatable
                        .insert(job.record.job_type.clone(), BTreeSet::from([key]));
                }
            },
            JobState::Activated => {
                self.deadlines.insert((job.deadline, key));
            }
            JobState::BackingOff => {
                self.backoffs.insert((job.backoff_until, key));
            }
            JobState::Failed | JobState::ErrorThrown => {}
        }
    }

    pub(crate) fn remove(&mut self, key: Key) -> Option<Job> {
        // Leave every index first.
        self.set_state(key, JobState::Failed);
        self.by_key.remove(&key)
    }
}
