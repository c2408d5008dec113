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
        self.transition(key, state, |_| {});
    }

    /// Updates a job and moves it to `state` with one lookup (appliers run once per event on replay).
    pub(crate) fn transition(&mut self, key: Key, state: JobState, update: impl FnOnce(&mut Job)) {
        let Some(job) = self.by_key.get_mut(&key) else {
            return;
        };
        Self::leave(
            &mut self.activatable,
            &mut self.deadlines,
            &mut self.backoffs,
            job,
        );
        update(job);
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

    /// Takes a job out of the index of its current state.
    fn leave(
        activatable: &mut BTreeMap<String, BTreeSet<Key>>,
        deadlines: &mut BTreeSet<(i64, Key)>,
        backoffs: &mut BTreeSet<(i64, Key)>,
        job: &Job,
    ) {
        match job.state {
            JobState::Activatable => {
                if let Some(set) = activatable.get_mut(job.record.job_type.as_str()) {
                    set.remove(&job.key);
                    if set.is_empty() {
                        activatable.remove(job.record.job_type.as_str());
                    }
                }
            }
            JobState::Activated => {
                deadlines.remove(&(job.deadline, job.key));
            }
            JobState::BackingOff => {
                backoffs.remove(&(job.backoff_until, job.key));
            }
            JobState::Failed | JobState::ErrorThrown => {}
        }
    }

    pub(crate) fn remove(&mut self, key: Key) -> Option<Job> {
        let job = self.by_key.remove(&key)?;
        Self::leave(
            &mut self.activatable,
            &mut self.deadlines,
            &mut self.backoffs,
            &job,
        );
        Some(job)
    }
}
