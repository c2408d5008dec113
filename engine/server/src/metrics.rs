//! Every metric of the engine server, by name, in this one file (convention 9).
//!
//! The library only records, through the `metrics` facade: with no recorder installed every call is a no-op. The
//! Prometheus exporter is installed by the `apsis` binary, which also applies [`HISTOGRAM_BUCKETS`]. Names carry
//! the `apsis_` prefix; counters end in `_total`, durations are in seconds and sizes in bytes.
//!
//! Hot paths hold pre-registered handles ([`EngineMetrics`]) so that recording is one atomic operation, not a
//! registry lookup per command.

use std::time::Duration;

use apsis_core::state::{InstanceCounts, LiveCounts};
use apsis_core::Command;
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Gauge, Histogram, Unit,
};

use crate::RecoveryStats;

/// Commands processed, by `kind` (see [`CommandKind::NAMES`]) and `outcome` (`accepted` | `rejected`).
pub const COMMANDS: &str = "apsis_commands_total";
/// Events appended to the log.
pub const EVENTS_WRITTEN: &str = "apsis_events_written_total";
/// Log entries appended (one per command that wrote events).
pub const ENTRIES_WRITTEN: &str = "apsis_log_entries_written_total";
/// Bytes of log entries appended.
pub const LOG_BYTES_WRITTEN: &str = "apsis_log_bytes_written_total";
/// Group commits (one write + one fdatasync each).
pub const GROUP_COMMITS: &str = "apsis_group_commits_total";
/// Commands per group commit.
pub const GROUP_COMMIT_BATCH_SIZE: &str = "apsis_group_commit_batch_size";
/// Time of one group commit's write + fdatasync.
pub const GROUP_COMMIT_SECONDS: &str = "apsis_group_commit_seconds";
/// Snapshots written.
pub const SNAPSHOTS_WRITTEN: &str = "apsis_snapshots_written_total";
/// Size of the latest snapshot.
pub const SNAPSHOT_BYTES: &str = "apsis_snapshot_bytes";
/// Commands queued for the runtime and not yet taken.
pub const QUEUE_DEPTH: &str = "apsis_queue_depth";
/// Time the last start took to load the snapshot and replay the log.
pub const RECOVERY_SECONDS: &str = "apsis_recovery_seconds";
/// Log entries replayed at the last start.
pub const RECOVERY_ENTRIES: &str = "apsis_recovery_entries_replayed";
/// Events replayed at the last start.
pub const RECOVERY_EVENTS: &str = "apsis_recovery_events_replayed";
/// Log position of the snapshot the last start loaded (0: none).
pub const RECOVERY_SNAPSHOT_POSITION: &str = "apsis_recovery_snapshot_position";
/// Live element instances (process instances included).
pub const LIVE_ELEMENT_INSTANCES: &str = "apsis_live_element_instances";
/// Live jobs (activatable, activated, failed with retries left, or waiting on an incident).
pub const LIVE_JOBS: &str = "apsis_live_jobs";
/// Open incidents.
pub const LIVE_INCIDENTS: &str = "apsis_live_incidents";
/// Armed timers.
pub const LIVE_TIMERS: &str = "apsis_live_timers";
/// Buffered messages.
pub const LIVE_MESSAGES: &str = "apsis_live_messages";
/// Open message subscriptions.
pub const LIVE_SUBSCRIPTIONS: &str = "apsis_live_subscriptions";
/// Process instances by `bpmn_process_id`, `version` and `event` (`started` | `completed` | `terminated`), since the
/// definition was deployed: read from the engine's state, so the values survive restarts.
pub const PROCESS_INSTANCES: &str = "apsis_process_instances_total";
/// Always 1; the `version` label is the apsis version.
pub const BUILD_INFO: &str = "apsis_build_info";

/// Upper bounds of the histogram buckets, by metric: group commits are fast on a good disk and slow on a loaded one.
pub const HISTOGRAM_BUCKETS: &[(&str, &[f64])] = &[
    (
        GROUP_COMMIT_BATCH_SIZE,
        &[
            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
        ],
    ),
    (
        GROUP_COMMIT_SECONDS,
        &[
            0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
            0.25, 0.5, 1.0,
        ],
    ),
];

/// Every metric name, for tests and for checking a scrape.
pub const ALL: &[&str] = &[
    COMMANDS,
    EVENTS_WRITTEN,
    ENTRIES_WRITTEN,
    LOG_BYTES_WRITTEN,
    GROUP_COMMITS,
    GROUP_COMMIT_BATCH_SIZE,
    GROUP_COMMIT_SECONDS,
    SNAPSHOTS_WRITTEN,
    SNAPSHOT_BYTES,
    QUEUE_DEPTH,
    RECOVERY_SECONDS,
    RECOVERY_ENTRIES,
    RECOVERY_EVENTS,
    RECOVERY_SNAPSHOT_POSITION,
    LIVE_ELEMENT_INSTANCES,
    LIVE_JOBS,
    LIVE_INCIDENTS,
    LIVE_TIMERS,
    LIVE_MESSAGES,
    LIVE_SUBSCRIPTIONS,
    PROCESS_INSTANCES,
    BUILD_INFO,
];

/// Describes every metric to the installed recorder (HELP lines and units). Call once, after installing it.
pub fn describe() {
    use Unit::{Bytes, Count, Seconds};
    let counters: [(&'static str, Unit, &'static str); 7] = [
        (
            COMMANDS,
            Count,
            "Commands processed, by kind and outcome (accepted or rejected).",
        ),
        (EVENTS_WRITTEN, Count, "Events appended to the log."),
        (
            ENTRIES_WRITTEN,
            Count,
            "Log entries appended (one per command that wrote events).",
        ),
        (LOG_BYTES_WRITTEN, Bytes, "Bytes of log entries appended."),
        (
            GROUP_COMMITS,
            Count,
            "Group commits (one write and one fdatasync each).",
        ),
        (SNAPSHOTS_WRITTEN, Count, "Snapshots written."),
        (
            PROCESS_INSTANCES,
            Count,
            "Process instances started, completed and terminated, by process definition (durable).",
        ),
    ];
    for (name, unit, help) in counters {
        describe_counter!(name, unit, help);
    }
    describe_histogram!(GROUP_COMMIT_BATCH_SIZE, Count, "Commands per group commit.");
    describe_histogram!(
        GROUP_COMMIT_SECONDS,
        Seconds,
        "Time of one group commit's write and fdatasync."
    );
    let gauges: [(&'static str, Unit, &'static str); 13] = [
        (SNAPSHOT_BYTES, Bytes, "Size of the latest snapshot."),
        (
            QUEUE_DEPTH,
            Count,
            "Commands queued for the runtime and not yet taken.",
        ),
        (
            RECOVERY_SECONDS,
            Seconds,
            "Time the last start took to load the snapshot and replay the log.",
        ),
        (
            RECOVERY_ENTRIES,
            Count,
            "Log entries replayed at the last start.",
        ),
        (RECOVERY_EVENTS, Count, "Events replayed at the last start."),
        (
            RECOVERY_SNAPSHOT_POSITION,
            Count,
            "Log position of the snapshot loaded at the last start (0: none).",
        ),
        (
            LIVE_ELEMENT_INSTANCES,
            Count,
            "Live element instances, process instances included.",
        ),
        (LIVE_JOBS, Count, "Live jobs."),
        (LIVE_INCIDENTS, Count, "Open incidents."),
        (LIVE_TIMERS, Count, "Armed timers."),
        (LIVE_MESSAGES, Count, "Buffered messages."),
        (LIVE_SUBSCRIPTIONS, Count, "Open message subscriptions."),
        (
            BUILD_INFO,
            Count,
            "Always 1; the version label is the apsis version.",
        ),
    ];
    for (name, unit, help) in gauges {
        describe_gauge!(name, unit, help);
    }
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// What a command is, as the `kind` label of [`COMMANDS`]: an index into [`CommandKind::NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandKind(u8);

impl CommandKind {
    pub const NAMES: [&'static str; 15] = [
        "deploy",
        "create_process_instance",
        "cancel_process_instance",
        "activate_jobs",
        "complete_job",
        "fail_job",
        "throw_error",
        "update_job_retries",
        "update_job_timeout",
        "publish_message",
        "resolve_incident",
        "set_variables",
        "delete_resource",
        "yield_job",
        "tick",
    ];

    /// Exhaustive on purpose: a new command kind does not compile until it has a name here.
    pub fn of(command: &Command) -> CommandKind {
        CommandKind(match command {
            Command::Deploy { .. } => 0,
            Command::CreateProcessInstance { .. } => 1,
            Command::CancelProcessInstance { .. } => 2,
            Command::ActivateJobs { .. } => 3,
            Command::CompleteJob { .. } => 4,
            Command::FailJob { .. } => 5,
            Command::ThrowError { .. } => 6,
            Command::UpdateJobRetries { .. } => 7,
            Command::UpdateJobTimeout { .. } => 8,
            Command::PublishMessage { .. } => 9,
            Command::ResolveIncident { .. } => 10,
            Command::SetVariables { .. } => 11,
            Command::DeleteResource { .. } => 12,
            Command::YieldJob { .. } => 13,
            Command::Tick => 14,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self.0 as usize]
    }
}

/// What one group commit did, for [`EngineMetrics::batch_committed`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Commands in the batch (ticks included).
    pub commands: usize,
    /// Log entries appended.
    pub entries: usize,
    pub events: usize,
    /// Bytes of the entries appended.
    pub bytes: usize,
    /// Time of `Store::commit` (write + fdatasync).
    pub commit_time: Duration,
}

/// Pre-registered handles for the runtime's hot path. Create it after the recorder is installed (handles made
/// before are no-ops for good). Cloning is cheap.
#[derive(Clone)]
pub struct EngineMetrics {
    /// `[kind][0 = accepted, 1 = rejected]`.
    commands: Vec<[Counter; 2]>,
    events: Counter,
    entries: Counter,
    log_bytes: Counter,
    commits: Counter,
    batch_size: Histogram,
    commit_seconds: Histogram,
    snapshots: Counter,
    snapshot_bytes: Gauge,
    queue_depth: Gauge,
}

impl std::fmt::Debug for EngineMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EngineMetrics")
    }
}

impl Default for EngineMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl EngineMetrics {
    /// Registers every series (so each shows in a scrape from the start, at 0).
    pub fn new() -> EngineMetrics {
        let commands = CommandKind::NAMES
            .iter()
            .map(|kind| {
                [
                    counter!(COMMANDS, "kind" => *kind, "outcome" => "accepted"),
                    counter!(COMMANDS, "kind" => *kind, "outcome" => "rejected"),
                ]
            })
            .collect();
        EngineMetrics {
            commands,
            events: counter!(EVENTS_WRITTEN),
            entries: counter!(ENTRIES_WRITTEN),
            log_bytes: counter!(LOG_BYTES_WRITTEN),
            commits: counter!(GROUP_COMMITS),
            batch_size: histogram!(GROUP_COMMIT_BATCH_SIZE),
            commit_seconds: histogram!(GROUP_COMMIT_SECONDS),
            snapshots: counter!(SNAPSHOTS_WRITTEN),
            snapshot_bytes: gauge!(SNAPSHOT_BYTES),
            queue_depth: gauge!(QUEUE_DEPTH),
        }
    }

    /// One command processed: accepted (a response) or rejected.
    pub fn command_processed(&self, kind: CommandKind, accepted: bool) {
        self.commands[kind.0 as usize][usize::from(!accepted)].increment(1);
    }

    /// One group commit done, after `Store::commit` returned.
    pub fn batch_committed(&self, batch: &BatchStats) {
        self.commits.increment(1);
        self.events.increment(batch.events as u64);
        self.entries.increment(batch.entries as u64);
        self.log_bytes.increment(batch.bytes as u64);
        self.batch_size.record(batch.commands as f64);
        self.commit_seconds.record(batch.commit_time.as_secs_f64());
    }

    pub fn snapshot_written(&self, bytes: usize) {
        self.snapshots.increment(1);
        self.snapshot_bytes.set(bytes as f64);
    }

    /// A command entered the runtime's queue (call before the send; undo with [`Self::dequeued`] if it fails).
    pub fn queued(&self) {
        self.queue_depth.increment(1.0);
    }

    /// A command left the runtime's queue.
    pub fn dequeued(&self) {
        self.queue_depth.decrement(1.0);
    }
}

/// What the last start recovered.
pub fn recovered(stats: &RecoveryStats) {
    gauge!(RECOVERY_SECONDS).set(stats.replay_time.as_secs_f64());
    gauge!(RECOVERY_ENTRIES).set(stats.entries_replayed as f64);
    gauge!(RECOVERY_EVENTS).set(stats.events_replayed as f64);
    gauge!(RECOVERY_SNAPSHOT_POSITION).set(stats.snapshot_position as f64);
}

/// The live entity counts (read on the runtime thread through `EngineHandle::inspect`).
pub fn live(counts: &LiveCounts) {
    for (name, n) in [
        (LIVE_ELEMENT_INSTANCES, counts.element_instances),
        (LIVE_JOBS, counts.jobs),
        (LIVE_INCIDENTS, counts.incidents),
        (LIVE_TIMERS, counts.timers),
        (LIVE_MESSAGES, counts.messages),
        (LIVE_SUBSCRIPTIONS, counts.subscriptions),
    ] {
        gauge!(name).set(n as f64);
    }
}

/// The per-definition instance counts (read from the state, like [`live`]).
pub fn instance_counts(counts: &[InstanceCounts]) {
    for c in counts {
        for (event, n) in [
            ("started", c.started),
            ("completed", c.completed),
            ("terminated", c.terminated),
        ] {
            counter!(
                PROCESS_INSTANCES,
                "bpmn_process_id" => c.bpmn_process_id.clone(),
                "version" => c.version.to_string(),
                "event" => event
            )
            .absolute(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_unique_and_counters_end_in_total() {
        let mut seen = std::collections::BTreeSet::new();
        for name in ALL {
            assert!(name.starts_with("apsis_"), "{name}");
            assert!(seen.insert(name), "{name} twice");
        }
        for name in [
            COMMANDS,
            EVENTS_WRITTEN,
            ENTRIES_WRITTEN,
            LOG_BYTES_WRITTEN,
            PROCESS_INSTANCES,
        ] {
            assert!(name.ends_with("_total"), "{name}");
        }
        for (name, buckets) in HISTOGRAM_BUCKETS {
            assert!(ALL.contains(name));
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{name}");
        }
    }

    #[test]
    fn every_command_kind_has_a_distinct_name() {
        let names: std::collections::BTreeSet<_> = CommandKind::NAMES.iter().collect();
        assert_eq!(names.len(), CommandKind::NAMES.len());
        assert_eq!(CommandKind::of(&Command::Tick).name(), "tick");
        assert_eq!(
            CommandKind::of(&Command::ResolveIncident {
                key: apsis_core::Key(1)
            })
            .name(),
            "resolve_incident"
        );
    }
}
