//! The job stream registry (StreamActivatedJobs): which clients take pushed jobs of which type.
//!
//! Lives on the runtime thread. When the core asks for a stream (a job became activatable), streams of the type are
//! tried round-robin and only those with room in their send buffer are chosen (flow control): a pick reserves one
//! slot, since the jobs are handed over only after the commit. The runtime then gives each pushed job to its
//! stream's sink; a job the sink refuses goes back to the pool (`YieldJob`) and the stream, which could not take
//! what it had room for, is considered closed and dropped.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use apsis_core::command::ActivatedJob;
use apsis_core::{JobStreams, StreamTarget};

/// Where pushed jobs go: the gateway's stream to one client. Both methods must not block.
pub trait JobSink: Send + Sync {
    /// How many more jobs the stream can take now (0 when closed).
    fn capacity(&self) -> usize;
    /// Delivers a job; gives it back when it cannot be delivered (stream closed or full).
    fn push(&self, job: Box<ActivatedJob>) -> Result<(), Box<ActivatedJob>>;
}

/// What a client asked for when it opened its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    pub job_type: String,
    pub worker: String,
    pub timeout_ms: i64,
    pub fetch_variables: Vec<String>,
}

struct Entry {
    id: u64,
    spec: StreamSpec,
    sink: Arc<dyn JobSink>,
    /// Jobs picked for this stream and not handed over yet.
    reserved: Cell<usize>,
}

#[derive(Default)]
pub(crate) struct Registry {
    by_type: HashMap<String, Vec<Entry>>,
    cursor: Cell<usize>,
}

impl Registry {
    pub fn add(&mut self, id: u64, spec: StreamSpec, sink: Arc<dyn JobSink>) {
        self.by_type
            .entry(spec.job_type.clone())
            .or_default()
            .push(Entry {
                id,
                spec,
                sink,
                reserved: Cell::new(0),
            });
    }

    pub fn remove(&mut self, id: u64) {
        self.by_type.retain(|_, list| {
            list.retain(|e| e.id != id);
            !list.is_empty()
        });
    }

    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }

    /// Hands a pushed job to its stream's sink; gives it back if the stream is gone or refuses it (and then drops
    /// the stream: it could not take what it had room for, so its client is gone).
    pub fn deliver(
        &mut self,
        stream_id: u64,
        job: Box<ActivatedJob>,
    ) -> Result<(), Box<ActivatedJob>> {
        let entry = self
            .by_type
            .get(&job.job_type)
            .and_then(|l| l.iter().find(|e| e.id == stream_id));
        let Some(e) = entry else {
            return Err(job);
        };
        e.reserved.set(e.reserved.get().saturating_sub(1));
        match e.sink.push(job) {
            Ok(()) => Ok(()),
            Err(job) => {
                tracing::warn!(stream_id, job_key = job.key.0, job_type = %job.job_type, capacity = e.sink.capacity(), reserved = e.reserved.get(), "job stream refused a pushed job; dropping the stream");
                self.remove(stream_id);
                Err(job)
            }
        }
    }
}

impl JobStreams for Registry {
    fn pick(&self, job_type: &str) -> Option<StreamTarget> {
        let list = self.by_type.get(job_type)?;
        let start = self.cursor.get();
        for i in 0..list.len() {
            let e = &list[(start + i) % list.len()];
            if e.sink.capacity() > e.reserved.get() {
                e.reserved.set(e.reserved.get() + 1);
                self.cursor.set(start + i + 1);
                return Some(StreamTarget {
                    stream_id: e.id,
                    worker: e.spec.worker.clone(),
                    timeout_ms: e.spec.timeout_ms,
                    fetch_variables: e.spec.fetch_variables.clone(),
                });
            }
        }
        None
    }
}
