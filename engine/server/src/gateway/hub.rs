//! Routes the runtime's after-commit effects to waiting gRPC requests: long-polling ActivateJobs requests wake when
//! jobs of their type become available; CreateProcessInstanceWithResult requests get their instance's result.
//! Called on the runtime thread: it only signals and sends, never blocks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use apsis_core::{Effect, Json, Key};
use tokio::sync::{oneshot, Notify};

/// How an awaited instance ended.
#[derive(Debug)]
pub(crate) enum InstanceEnd {
    Completed(Json),
    Terminated,
}

#[derive(Default)]
pub(crate) struct Hub {
    jobs: Mutex<HashMap<String, Arc<Notify>>>,
    results: Mutex<HashMap<Key, oneshot::Sender<InstanceEnd>>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

impl Hub {
    /// The notifier of a job type; take `notified()` from it BEFORE asking for jobs, so no wake-up is missed.
    pub fn job_notify(&self, job_type: &str) -> Arc<Notify> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.entry(job_type.to_owned()).or_default().clone()
    }

    /// Registers interest in an instance's end. Call from the creation reply (runtime thread), which runs before
    /// the effects of the same batch, so even an instance that completes at once is seen.
    pub fn await_result(&self, key: Key) -> oneshot::Receiver<InstanceEnd> {
        let (tx, rx) = oneshot::channel();
        self.results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, tx);
        rx
    }

    pub fn forget_result(&self, key: Key) {
        self.results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }

    pub fn on_effects(&self, effects: &[Effect]) {
        for e in effects {
            match e {
                Effect::JobsAvailable { job_type } => {
                    let n = self
                        .jobs
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(job_type)
                        .cloned();
                    if let Some(n) = n {
                        n.notify_waiters();
                    }
                }
                Effect::ProcessInstanceResult {
                    process_instance_key,
                    variables,
                    ..
                } => {
                    let tx = self
                        .results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(process_instance_key);
                    if let Some(tx) = tx {
                        let _ = tx.send(InstanceEnd::Completed(variables.clone()));
                    }
                }
                Effect::ProcessInstanceEnded {
                    process_instance_key,
                } => {
                    let tx = self
                        .results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(process_instance_key);
                    if let Some(tx) = tx {
                        let _ = tx.send(InstanceEnd::Terminated);
                    }
                }
                Effect::JobPushed { .. } => {}
            }
        }
    }
}
