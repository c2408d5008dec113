//! The engine runtime: one writer thread that owns the state and the store.
//!
//! The order never varies: take a batch of commands -> process each (events applied in memory) and append its
//! entry -> commit once (one fsync for the whole batch: group commit) -> only then reply and run effects.
//! A command acknowledged to a client is therefore on disk. Time enters as the record timestamp; when a timer,
//! job deadline, backoff or message TTL is due, the runtime processes a `Tick` command like any other.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use apsis_core::event::{Entry, Event};
use apsis_core::{process, Command, Context, Effect, Outcome, Rejection, Response, State};
use apsis_store::{Store, StoreOptions, SyncMode};

use crate::clock::Clock;
use crate::metrics::{BatchStats, CommandKind, EngineMetrics};
use crate::streams::{JobSink, Registry, StreamSpec};
use crate::Error;

/// What a client gets back: the response or rejection, once the command's events are durable.
pub type Reply = Result<Response, Rejection>;

/// Called with the reply on the runtime thread: keep it short (send on a channel).
pub type ReplyFn = Box<dyn FnOnce(Reply) + Send>;

/// Called with every batch's effects after the commit, on the runtime thread: keep it short.
pub type EffectsFn = Arc<dyn Fn(&[Effect]) + Send + Sync>;

/// Called after every group commit with the batch's committed entries, in log order, each as its record timestamp
/// and events, and the state after the batch (to name elements: deployments outlive their instances). On the
/// runtime thread: keep it short (send on a channel). Zeebe's exporters sit at the same point: what they see is
/// durable. Nothing is kept for it when unset.
pub type RecordsFn = Arc<dyn Fn(&State, &[(i64, Vec<Event>)]) + Send + Sync>;

#[derive(Clone)]
pub struct EngineOptions {
    pub data_dir: PathBuf,
    pub sync: SyncMode,
    /// Most commands in one group commit.
    pub max_batch: usize,
    /// Commands waiting for the runtime; beyond it, `submit` refuses (backpressure).
    pub queue_capacity: usize,
    /// Take a snapshot (and truncate the log) after this many log bytes since the last one.
    pub snapshot_every_bytes: u64,
    pub segment_bytes: u64,
    pub clock: Arc<dyn Clock>,
    pub on_effects: Option<EffectsFn>,
    pub on_records: Option<RecordsFn>,
    /// Write a snapshot on shutdown (off only to measure log replay).
    pub snapshot_on_shutdown: bool,
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("data_dir", &self.data_dir)
            .field("sync", &self.sync)
            .field("max_batch", &self.max_batch)
            .field("queue_capacity", &self.queue_capacity)
            .field("snapshot_every_bytes", &self.snapshot_every_bytes)
            .finish_non_exhaustive()
    }
}

impl EngineOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> EngineOptions {
        EngineOptions {
            data_dir: data_dir.into(),
            sync: SyncMode::Fsync,
            max_batch: 4096,
            queue_capacity: 65_536,
            snapshot_every_bytes: 256 * 1024 * 1024,
            segment_bytes: StoreOptions::DEFAULT_SEGMENT_BYTES,
            clock: Arc::new(crate::clock::SystemClock),
            on_effects: None,
            on_records: None,
            snapshot_on_shutdown: true,
        }
    }
}

/// Reads the state on the runtime thread (tests, diagnostics).
type InspectFn = Box<dyn FnOnce(&State) + Send>;

enum Request {
    Command(Command, ReplyFn),
    Inspect(InspectFn),
    OpenStream(u64, StreamSpec, Arc<dyn JobSink>),
    CloseStream(u64),
    Shutdown,
}

/// A handle to a running engine. Cloneable; the engine stops when [`Engine::shutdown`] is called.
#[derive(Clone)]
pub struct EngineHandle {
    tx: SyncSender<Request>,
    next_stream: Arc<std::sync::atomic::AtomicU64>,
    metrics: EngineMetrics,
}

impl std::fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EngineHandle")
    }
}

/// Why a command was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The queue is full: backpressure (RESOURCE_EXHAUSTED).
    #[error("Expected the engine to take the command, but its queue is full")]
    Busy,
    /// The engine stopped (UNAVAILABLE).
    #[error("Expected the engine to take the command, but it has stopped")]
    Stopped,
}

impl EngineHandle {
    /// Queues a command; `reply` runs once its events are committed (or with its rejection).
    pub fn submit(&self, command: Command, reply: ReplyFn) -> Result<(), SubmitError> {
        self.metrics.queued();
        let sent = match self.tx.try_send(Request::Command(command, reply)) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(_)) => SubmitError::Busy,
            Err(TrySendError::Disconnected(_)) => SubmitError::Stopped,
        };
        self.metrics.dequeued();
        Err(sent)
    }

    /// Queues a command, waiting for room instead of refusing (commands that must never be refused, and tools).
    pub fn submit_wait(&self, command: Command, reply: ReplyFn) -> Result<(), SubmitError> {
        self.metrics.queued();
        self.tx.send(Request::Command(command, reply)).map_err(|_| {
            self.metrics.dequeued();
            SubmitError::Stopped
        })
    }

    /// Runs a command and waits for its reply.
    pub fn call(&self, command: Command) -> Result<Reply, SubmitError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit_wait(
            command,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )?;
        rx.recv().map_err(|_| SubmitError::Stopped)
    }

    /// Opens a job stream: from now on, jobs of `spec.job_type` that become activatable are activated for it and
    /// pushed to `sink` (round-robin among the type's streams with room). Returns the id to close it with.
    pub fn open_stream(
        &self,
        spec: StreamSpec,
        sink: Arc<dyn JobSink>,
    ) -> Result<u64, SubmitError> {
        let id = self
            .next_stream
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        self.tx
            .send(Request::OpenStream(id, spec, sink))
            .map_err(|_| SubmitError::Stopped)?;
        Ok(id)
    }

    /// Closes a job stream; jobs pushed to it and not delivered go back to the pool.
    pub fn close_stream(&self, id: u64) {
        let _ = self.tx.send(Request::CloseStream(id));
    }

    /// Runs `f` over the state on the runtime thread and returns its result.
    pub fn inspect<T: Send + 'static>(
        &self,
        f: impl FnOnce(&State) -> T + Send + 'static,
    ) -> Result<T, SubmitError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.tx
            .send(Request::Inspect(Box::new(move |s| {
                let _ = tx.send(f(s));
            })))
            .map_err(|_| SubmitError::Stopped)?;
        rx.recv().map_err(|_| SubmitError::Stopped)
    }
}

/// A running engine: the handle and the runtime thread.
pub struct Engine {
    handle: EngineHandle,
    thread: Option<JoinHandle<Result<(), Error>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Engine")
    }
}

/// What a restart recovered, for logs and tests.
#[derive(Debug, Clone, Default)]
pub struct RecoveryStats {
    pub snapshot_position: u64,
    pub entries_replayed: u64,
    pub events_replayed: u64,
    pub replay_time: Duration,
    pub bytes_dropped: u64,
}

impl Engine {
    /// Opens the data directory, rebuilds the state (snapshot + log replay) and starts the runtime thread.
    pub fn start(opts: EngineOptions) -> Result<(Engine, RecoveryStats), Error> {
        let started = Instant::now();
        let mut store_opts = StoreOptions::new(&opts.data_dir);
        store_opts.sync = opts.sync;
        store_opts.segment_bytes = opts.segment_bytes;
        let (store, mut recovered) = Store::open(store_opts).map_err(Error::Store)?;
        let mut stats = RecoveryStats {
            bytes_dropped: recovered.report.bytes_dropped(),
            ..RecoveryStats::default()
        };
        let mut state = match &recovered.snapshot {
            Some(s) => {
                stats.snapshot_position = s.position.0;
                State::from_snapshot(&s.bytes).map_err(Error::Core)?
            }
            None => State::default(),
        };
        let (last_timestamp, entries, events) = replay_log(&mut state, &mut recovered.replay)?;
        stats.entries_replayed = entries;
        stats.events_replayed = events;
        stats.replay_time = started.elapsed();
        let (tx, rx) = mpsc::sync_channel(opts.queue_capacity);
        let runtime = Runtime {
            state,
            store,
            opts,
            last_timestamp,
            bytes_since_snapshot: 0,
            encode_buf: Vec::with_capacity(64 * 1024),
            streams: Registry::default(),
            yields: Vec::new(),
            metrics: EngineMetrics::new(),
            batch_stats: BatchStats::default(),
            records: Vec::new(),
        };
        let metrics = runtime.metrics.clone();
        let thread = std::thread::Builder::new()
            .name("apsis-runtime".into())
            .spawn(move || runtime.run(rx))
            .map_err(Error::Thread)?;
        Ok((
            Engine {
                handle: EngineHandle {
                    tx,
                    next_stream: Arc::new(std::sync::atomic::AtomicU64::new(0)),
                    metrics,
                },
                thread: Some(thread),
            },
            stats,
        ))
    }

    pub fn handle(&self) -> EngineHandle {
        self.handle.clone()
    }

    /// Finishes the commands already queued, commits them, writes a snapshot and stops.
    pub fn shutdown(mut self) -> Result<(), Error> {
        let _ = self.handle.tx.send(Request::Shutdown);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| Error::Panicked)?,
            None => Ok(()),
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.handle.tx.send(Request::Shutdown);
            let _ = t.join();
        }
    }
}

/// Applies every log entry after the snapshot; returns (last timestamp, entries, events).
///
/// One thread on purpose: handing decoded entries to a second thread measured slower (7.8 s vs 11.5-15 s for a
/// 1 GB log), because the events then arrive cold in the applying core's cache and are freed by another thread
/// than the one that allocated them.
fn replay_log(
    state: &mut State,
    replay: &mut apsis_store::Replay,
) -> Result<(i64, u64, u64), Error> {
    let (mut last, mut entries, mut events) = (0, 0, 0);
    while let Some(entry) = replay.next_entry().map_err(Error::Store)? {
        let decoded = Entry::decode(entry.payload).map_err(|e| Error::Core(e.into()))?;
        last = decoded.timestamp;
        entries += 1;
        events += decoded.events.len() as u64;
        for event in &decoded.events {
            state.apply(event);
        }
    }
    Ok((last, entries, events))
}

struct Runtime {
    streams: Registry,
    /// Pushed jobs their stream refused: yielded back in the next batch.
    yields: Vec<apsis_core::Key>,
    state: State,
    store: Store,
    opts: EngineOptions,
    last_timestamp: i64,
    bytes_since_snapshot: u64,
    encode_buf: Vec<u8>,
    metrics: EngineMetrics,
    /// What the current group commit holds so far.
    batch_stats: BatchStats,
    /// The batch's entries for `on_records` (empty when it is unset).
    records: Vec<(i64, Vec<Event>)>,
}

impl Runtime {
    fn now(&mut self) -> i64 {
        // Record timestamps never go backwards, even if the wall clock does.
        let now = self.opts.clock.now_ms().max(self.last_timestamp);
        self.last_timestamp = now;
        now
    }

    fn run(mut self, rx: Receiver<Request>) -> Result<(), Error> {
        let mut replies: Vec<(ReplyFn, Reply)> = Vec::new();
        let mut effects: Vec<Effect> = Vec::new();
        let mut inspects: Vec<InspectFn> = Vec::new();
        loop {
            // Wait for work, but not past the next due moment.
            let wait = match self.state.next_due() {
                Some(due) => {
                    Duration::from_millis((due - self.opts.clock.now_ms()).clamp(0, 1_000) as u64)
                }
                None => Duration::from_millis(1_000),
            };
            let first = match rx.recv_timeout(wait) {
                Ok(r) => Some(r),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(Request::Shutdown),
            };
            let mut shutdown = false;
            let now = self.now();
            let mut batch = 0usize;
            for key in std::mem::take(&mut self.yields) {
                let _ = self.process_internal(now, Command::YieldJob { key }, &mut effects)?;
            }
            let mut next = first;
            while let Some(request) = next {
                match request {
                    Request::Command(command, reply) => {
                        self.metrics.dequeued();
                        let kind = CommandKind::of(&command);
                        let ctx = Context {
                            now,
                            streams: (!self.streams.is_empty())
                                .then_some(&self.streams as &dyn apsis_core::JobStreams),
                        };
                        let outcome = process(&mut self.state, command, &ctx);
                        let result = self.append(now, kind, outcome, &mut effects)?;
                        self.metrics.command_processed(kind, result.is_ok());
                        replies.push((reply, result));
                        batch += 1;
                    }
                    Request::Inspect(f) => inspects.push(f),
                    Request::OpenStream(id, spec, sink) => self.streams.add(id, spec, sink),
                    Request::CloseStream(id) => self.streams.remove(id),
                    Request::Shutdown => {
                        shutdown = true;
                        break;
                    }
                }
                if batch >= self.opts.max_batch {
                    break;
                }
                next = rx.try_recv().ok();
            }
            // Whatever became due fires in the same group commit.
            let mut ticks = 0;
            while self.state.next_due().is_some_and(|d| d <= now) && ticks < 16 {
                let _ = self.process_internal(now, Command::Tick, &mut effects)?;
                ticks += 1;
            }
            let commit_started = Instant::now();
            self.store.commit().map_err(Error::Store)?;
            if self.batch_stats.commands > 0 {
                self.batch_stats.commit_time = commit_started.elapsed();
                self.metrics.batch_committed(&self.batch_stats);
            }
            self.batch_stats = BatchStats::default();
            for (reply, result) in replies.drain(..) {
                reply(result);
            }
            if !self.records.is_empty() {
                if let Some(on_records) = &self.opts.on_records {
                    on_records(&self.state, &self.records);
                }
                self.records.clear();
            }
            if !effects.is_empty() {
                // Pushed jobs go to their streams; what a stream refuses is yielded in the next batch.
                effects.retain_mut(|e| match e {
                    Effect::JobPushed { stream_id, job } => {
                        let job = std::mem::replace(job, empty_job());
                        if let Err(job) = self.streams.deliver(*stream_id, Box::new(job)) {
                            self.yields.push(job.key);
                        }
                        false
                    }
                    _ => true,
                });
                if let Some(on_effects) = &self.opts.on_effects {
                    if !effects.is_empty() {
                        on_effects(&effects);
                    }
                }
                effects.clear();
            }
            for f in inspects.drain(..) {
                f(&self.state);
            }
            if shutdown {
                if self.opts.snapshot_on_shutdown {
                    self.snapshot()?;
                }
                return Ok(());
            }
            if self.bytes_since_snapshot >= self.opts.snapshot_every_bytes {
                self.snapshot()?;
            }
        }
    }

    /// Processes a command of the runtime's own (Tick, YieldJob) with the open streams.
    fn process_internal(
        &mut self,
        now: i64,
        command: Command,
        effects: &mut Vec<Effect>,
    ) -> Result<Reply, Error> {
        let ctx = Context {
            now,
            streams: (!self.streams.is_empty())
                .then_some(&self.streams as &dyn apsis_core::JobStreams),
        };
        let kind = CommandKind::of(&command);
        let outcome = process(&mut self.state, command, &ctx);
        let result = self.append(now, kind, outcome, effects)?;
        self.metrics.command_processed(kind, result.is_ok());
        Ok(result)
    }

    /// Appends the outcome's events as one entry; returns the client's reply.
    fn append(
        &mut self,
        now: i64,
        kind: CommandKind,
        outcome: Outcome,
        effects: &mut Vec<Effect>,
    ) -> Result<Reply, Error> {
        self.batch_stats.commands += 1;
        crate::trace::recorded(&self.state, &outcome.events);
        if let Some(Err(rejection)) = &outcome.result {
            crate::trace::rejected(kind.name(), rejection);
        }
        if !outcome.events.is_empty() {
            self.batch_stats.entries += 1;
            self.batch_stats.events += outcome.events.len();
            let entry = Entry {
                timestamp: now,
                events: outcome.events,
            };
            self.encode_buf.clear();
            entry
                .encode_into(&mut self.encode_buf)
                .map_err(|e| Error::Core(e.into()))?;
            self.store.append(&self.encode_buf).map_err(Error::Store)?;
            self.bytes_since_snapshot += self.encode_buf.len() as u64;
            self.batch_stats.bytes += self.encode_buf.len();
            if self.opts.on_records.is_some() {
                self.records.push((entry.timestamp, entry.events));
            }
        }
        effects.extend(outcome.effects);
        Ok(outcome.result.unwrap_or(Ok(Response::Ticked)))
    }

    fn snapshot(&mut self) -> Result<(), Error> {
        let position = self.store.committed_position();
        if position.0 == 0 || self.bytes_since_snapshot == 0 {
            return Ok(());
        }
        let bytes = self.state.to_snapshot().map_err(Error::Snapshot)?;
        self.store
            .write_snapshot(position, &bytes)
            .map_err(Error::Store)?;
        self.bytes_since_snapshot = 0;
        self.metrics.snapshot_written(bytes.len());
        Ok(())
    }
}

fn empty_job() -> apsis_core::command::ActivatedJob {
    apsis_core::command::ActivatedJob {
        key: apsis_core::Key::NONE,
        job_type: String::new(),
        process_instance_key: apsis_core::Key::NONE,
        bpmn_process_id: String::new(),
        process_definition_version: 0,
        process_definition_key: apsis_core::Key::NONE,
        element_id: String::new(),
        element_instance_key: apsis_core::Key::NONE,
        custom_headers: apsis_core::Json::null(),
        worker: String::new(),
        retries: 0,
        deadline: 0,
        variables: apsis_core::Json::null(),
    }
}
