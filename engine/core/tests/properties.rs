//! Property tests over randomly generated, block-structured processes (see `common/gen.rs`) driven by random
//! schedules of client actions. After every command the harness checks replay == live and snapshot == live, and
//! [`check_state`] checks the structural invariants:
//!
//! - every live element instance's flow scope exists and lists it as a child, and every child points back;
//! - no token is lost: outside parallel joins a scope holds no token once a command is processed, and every live
//!   instance waits on something real (a job, a timer, a message subscription or an incident); a scope is never
//!   left without children unless an incident holds it;
//! - jobs, timers, subscriptions, incidents and variables belong to live instances, and a failed job has an incident;
//! - when no instance is live, nothing is left but deployments and buffered messages;
//! - every few commands, a state loaded from a snapshot processes the command exactly as the live state did.
//!
//! At the end of every run the remaining instances are driven to the end (incidents resolved, messages published,
//! jobs completed, the clock advanced) and must all complete; canceled ones must have terminated.
//!
//! `PROPTEST_CASES` raises the case count; a failure is shrunk, printed and saved in
//! `engine/core/proptest-regressions/properties.txt`, so it is replayed first on the next run.

mod common;
#[path = "common/gen.rs"]
mod gen;

use std::collections::BTreeSet;

use apsis_bpmn::graph::ElementKind;
use apsis_bpmn::{ElementIdx, ProcessGraph};
use apsis_core::event::IncidentKind;
use apsis_core::state::{JobState, Lifecycle};
use apsis_core::{process, Command, Context, Event, Json, Key, RejectionKind, Response, State};
use common::*;
use gen::{Action, Block, EXTRA_RESULTS, JOB_TYPES, MESSAGES};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Value};

const PROCESS_ID: &str = "gen";
const JOB_TIMEOUT_MS: i64 = 60_000;
/// Rounds of "resolve, publish, complete, advance" the final drive may take; generated processes need far fewer.
const DRIVE_ROUNDS: usize = 200;
/// Every this many commands, the command is also processed on a state loaded from a snapshot (see `Run::ok`).
const DETERMINISM_EVERY: usize = 4;
/// One run: a deployed generated process, the instances created, and the harness with its log.
struct Run {
    h: Harness,
    created: Vec<Key>,
    canceled: BTreeSet<Key>,
    /// Every job ever created, in order.
    jobs_seen: Vec<Key>,
    /// Commands run so far.
    commands: usize,
}

impl Run {
    fn new(blocks: &[Block]) -> Run {
        let mut h = Harness::new();
        h.deploy("gen.bpmn", &gen::render(PROCESS_ID, blocks));
        Run {
            h,
            created: Vec::new(),
            canceled: BTreeSet::new(),
            jobs_seen: Vec::new(),
            commands: 0,
        }
    }

    /// Runs a command that must succeed, then checks the invariants (the harness checked replay and snapshot).
    fn ok(&mut self, command: Command) -> Response {
        self.commands += 1;
        // Determinism: a state loaded from a snapshot (hash maps rebuilt in another order) must process the command
        // exactly as the live state does. Every few commands only: loading recompiles the process.
        let restored = self.commands.is_multiple_of(DETERMINISM_EVERY).then(|| {
            let snapshot = self.h.state.to_snapshot().expect("snapshot");
            State::from_snapshot(&snapshot).expect("load snapshot")
        });
        let outcome = self.h.run(command.clone());
        if let Some(mut restored) = restored {
            let again = process(&mut restored, command.clone(), &Context::at(self.h.now));
            assert!(
                again == outcome,
                "a restored state processed {command:?} differently"
            );
        }
        check_state(&self.h.state);
        for e in &outcome.events {
            if let Event::JobCreated { key, .. } = e {
                self.jobs_seen.push(*key);
            }
        }
        match outcome.result {
            Some(Ok(r)) => r,
            other => panic!("expected {command:?} to succeed, got {other:?}"),
        }
    }

    /// Commands that must be rejected in the current state, with the kind of rejection.
    fn invalid_commands(&self) -> Vec<(Command, RejectionKind)> {
        let s = &self.h.state;
        let mut out = Vec::new();
        for &key in &self.jobs_seen {
            let Some(job) = s.jobs.get(key) else {
                out.push((
                    Command::CompleteJob {
                        key,
                        variables: Json(json!({})),
                    },
                    RejectionKind::NotFound,
                ));
                out.push((fail(key, 1), RejectionKind::NotFound));
                out.push((
                    Command::UpdateJobRetries { key, retries: 1 },
                    RejectionKind::NotFound,
                ));
                continue;
            };
            match job.state {
                JobState::Activatable | JobState::BackingOff => {
                    out.push((fail(key, 1), RejectionKind::InvalidState));
                }
                JobState::Failed | JobState::ErrorThrown => {
                    out.push((
                        Command::CompleteJob {
                            key,
                            variables: Json(json!({})),
                        },
                        RejectionKind::InvalidState,
                    ));
                }
                JobState::Activated => {}
            }
        }
        for &key in &self.created {
            if s.instance(key).is_none() {
                out.push((
                    Command::CancelProcessInstance { key },
                    RejectionKind::NotFound,
                ));
            }
        }
        for (&key, incident) in &s.incidents.by_key {
            if s.jobs
                .get(incident.job_key)
                .is_some_and(|j| j.record.retries <= 0)
            {
                out.push((
                    Command::ResolveIncident { key },
                    RejectionKind::InvalidState,
                ));
            }
        }
        out
    }

    fn create(&mut self, vars: Value) {
        let r = self.ok(Command::CreateProcessInstance {
            process: apsis_core::command::ProcessSelector::Id {
                bpmn_process_id: PROCESS_ID.into(),
                version: -1,
            },
            variables: Json(vars),
            await_result: false,
        });
        let Response::ProcessInstanceCreated {
            process_instance_key,
            ..
        } = r
        else {
            panic!("unexpected {r:?}")
        };
        self.created.push(process_instance_key);
    }

    fn activate(&mut self, job_type: &str, max: i32) -> Vec<Key> {
        match self.ok(Command::ActivateJobs {
            job_type: job_type.into(),
            worker: "prop".into(),
            timeout_ms: JOB_TIMEOUT_MS,
            max_jobs: max,
            fetch_variables: vec![],
        }) {
            Response::JobsActivated { jobs } => jobs.into_iter().map(|j| j.key).collect(),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn complete(&mut self, key: Key, vars: Value) {
        self.ok(Command::CompleteJob {
            key,
            variables: Json(vars),
        });
    }

    fn publish(&mut self, name: &str, ck: &str, ttl_ms: i64, vars: Value) {
        self.ok(Command::PublishMessage {
            name: name.into(),
            correlation_key: ck.into(),
            ttl_ms,
            message_id: String::new(),
            variables: Json(vars),
        });
    }

    /// Advances the clock and fires what is due, one `Tick` at a time.
    fn advance(&mut self, ms: i64) {
        self.h.now += ms;
        while self.h.state.next_due().is_some_and(|d| d <= self.h.now) {
            self.ok(Command::Tick);
        }
    }

    /// Resolves an incident the way an operator would: fix the cause (retries, the missing variable), then resolve.
    fn resolve(&mut self, key: Key, retries: i32) {
        let Some(incident) = self.h.state.incidents.by_key.get(&key).cloned() else {
            return;
        };
        match incident.kind {
            IncidentKind::JobNoRetries => {
                self.ok(Command::UpdateJobRetries {
                    key: incident.job_key,
                    retries,
                });
            }
            IncidentKind::UnhandledErrorEvent => {}
            _ => {
                // The only other failure generated processes have: a condition on `y` while `y` is missing.
                let pi = incident.process_instance_key;
                if self.h.state.variable(pi, "y").is_none() {
                    self.ok(Command::SetVariables {
                        element_instance_key: pi,
                        variables: Json(json!({ "y": 1 })),
                        local: false,
                    });
                }
            }
        }
        self.ok(Command::ResolveIncident { key });
    }

    fn step(&mut self, a: &Action) {
        match a {
            Action::Create { x, y, ck, items } => {
                let mut vars = json!({
                    "x": x,
                    "ck": format!("k{ck}"),
                    "items": (0..*items).collect::<Vec<_>>(),
                });
                if let Some(y) = y {
                    vars["y"] = json!(y);
                }
                self.create(vars);
            }
            Action::Activate { job_type, max } => {
                self.activate(JOB_TYPES[*job_type], *max);
            }
            Action::Complete {
                job,
                x,
                extra,
                any_state,
            } => {
                let mut jobs = jobs_in(&self.h.state, JobState::Activated);
                if *any_state {
                    jobs.extend(jobs_in(&self.h.state, JobState::Activatable));
                }
                if let Some(key) = pick(&jobs, job) {
                    let mut vars = x.map_or_else(|| json!({}), |x| json!({ "x": x }));
                    if let Some((name, v)) = extra {
                        vars[EXTRA_RESULTS[*name]] = match EXTRA_RESULTS[*name] {
                            "ck" => json!(format!("k{}", v.rem_euclid(4))),
                            _ => json!(v),
                        };
                    }
                    self.complete(key, vars);
                }
            }
            Action::Fail {
                job,
                retries,
                backoff,
            } => {
                if let Some(key) = pick(&jobs_in(&self.h.state, JobState::Activated), job) {
                    self.ok(Command::FailJob {
                        key,
                        retries: *retries,
                        error_message: "failed by the property test".into(),
                        retry_backoff_ms: if *backoff { 5_000 } else { 0 },
                        variables: Json(json!({})),
                    });
                }
            }
            Action::Throw { job, code } => {
                if let Some(key) = pick(&jobs_in(&self.h.state, JobState::Activated), job) {
                    let code = gen::ERRORS.get(*code).copied().unwrap_or("UNKNOWN");
                    self.ok(Command::ThrowError {
                        key,
                        error_code: code.into(),
                        error_message: String::new(),
                        variables: Json(json!({})),
                    });
                }
            }
            Action::Publish {
                name,
                ck,
                buffered,
                x,
            } => {
                let name = MESSAGES.get(*name).copied().unwrap_or("nobody");
                let ttl = if *buffered { 60_000 } else { 0 };
                let vars = x.map_or_else(|| json!({}), |x| json!({ "x": x }));
                self.publish(name, &format!("k{ck}"), ttl, vars);
            }
            Action::Advance { ms } => self.advance(*ms),
            Action::Resolve { incident, retries } => {
                let keys: Vec<Key> = sorted(self.h.state.incidents.by_key.keys().copied());
                if let Some(key) = pick(&keys, incident) {
                    self.resolve(key, *retries);
                }
            }
            Action::Cancel { instance } => {
                if let Some(key) = pick(&roots(&self.h.state), instance) {
                    self.ok(Command::CancelProcessInstance { key });
                    self.canceled.insert(key);
                }
            }
            Action::Invalid { pick } => {
                let mut candidates = self.invalid_commands();
                if !candidates.is_empty() {
                    let (command, kind) = candidates.swap_remove(pick.index(candidates.len()));
                    // The harness asserts that a rejection writes no event and leaves the state as it was.
                    let r = self.h.rejected(command.clone());
                    assert_eq!(r.kind, kind, "{command:?} was rejected with {r:?}");
                }
            }
        }
    }

    /// Drives every live instance to its end: resolve incidents, publish what subscriptions wait for, complete
    /// every job, advance the clock past every timer, job timeout and backoff; repeat until nothing is live.
    fn drive_to_end(&mut self) {
        for _ in 0..DRIVE_ROUNDS {
            if self.h.state.instances.is_empty() {
                break;
            }
            for key in sorted(self.h.state.incidents.by_key.keys().copied()) {
                self.resolve(key, 1);
            }
            let waiting: BTreeSet<(String, String)> = self
                .h
                .state
                .subscriptions
                .by_key
                .values()
                .map(|s| (s.message_name.clone(), s.correlation_key.clone()))
                .collect();
            for (name, ck) in waiting {
                self.publish(&name, &ck, 0, json!({}));
            }
            for job_type in JOB_TYPES {
                // Activating nothing writes nothing; skipping it saves the harness a replay.
                while self.h.state.jobs.activatable.contains_key(job_type) {
                    for key in self.activate(job_type, 10) {
                        self.complete(key, json!({}));
                    }
                }
            }
            self.advance(10 * 60_000);
        }
        assert!(
            self.h.state.instances.is_empty(),
            "instances still live after {DRIVE_ROUNDS} rounds of driving them: {:#?}",
            self.h.state.instances
        );
        let (completed, terminated) = ended(&self.h.events());
        for pi in &self.created {
            if self.canceled.contains(pi) {
                assert!(
                    terminated.contains(pi),
                    "canceled instance {pi} did not terminate"
                );
            } else {
                assert!(completed.contains(pi), "instance {pi} did not complete");
            }
        }
    }
}

fn fail(key: Key, retries: i32) -> Command {
    Command::FailJob {
        key,
        retries,
        error_message: String::new(),
        retry_backoff_ms: 0,
        variables: Json(json!({})),
    }
}

fn pick(keys: &[Key], index: &Index) -> Option<Key> {
    (!keys.is_empty()).then(|| keys[index.index(keys.len())])
}

fn sorted(keys: impl Iterator<Item = Key>) -> Vec<Key> {
    let mut v: Vec<Key> = keys.collect();
    v.sort();
    v
}

fn jobs_in(state: &State, wanted: JobState) -> Vec<Key> {
    sorted(
        state
            .jobs
            .by_key
            .values()
            .filter(|j| j.state == wanted)
            .map(|j| j.key),
    )
}

/// Live process instances, by key.
fn roots(state: &State) -> Vec<Key> {
    sorted(
        state
            .instances
            .values()
            .filter(|i| i.at.flow_scope_key.is_none())
            .map(|i| i.key),
    )
}

/// Keys of the element instances that completed and that terminated, from the log.
fn ended(events: &[Event]) -> (BTreeSet<Key>, BTreeSet<Key>) {
    let mut completed = BTreeSet::new();
    let mut terminated = BTreeSet::new();
    for e in events {
        match e {
            Event::ElementCompleted { key } => {
                completed.insert(*key);
            }
            Event::ElementTerminated { key } => {
                terminated.insert(*key);
            }
            _ => {}
        }
    }
    (completed, terminated)
}

fn graph_of(state: &State, definition: Key) -> &ProcessGraph {
    state
        .deployments
        .get(definition)
        .unwrap_or_else(|| {
            panic!("an instance refers to definition {definition}, which is not deployed")
        })
        .graph()
}

/// The structural invariants of a state between two commands.
fn check_state(s: &State) {
    let incident_on = |k: &Key| s.incidents.by_element.contains_key(k);
    for (key, inst) in &s.instances {
        assert_eq!(inst.key, *key);
        let graph = graph_of(s, inst.at.process_definition_key);
        let el = graph.element(ElementIdx(inst.at.element));
        // Flow scope and children.
        if inst.at.flow_scope_key.is_none() {
            assert_eq!(
                inst.at.element,
                ProcessGraph::ROOT.0,
                "{key}: only a process instance has no flow scope"
            );
            assert_eq!(inst.at.process_instance_key, *key);
        } else {
            let scope = s.instances.get(&inst.at.flow_scope_key).unwrap_or_else(|| {
                panic!(
                    "instance {key} ('{}') refers to missing flow scope {}",
                    el.id, inst.at.flow_scope_key
                )
            });
            let listed = scope.children.iter().filter(|c| *c == key).count();
            assert_eq!(
                listed, 1,
                "instance {key} ('{}') is listed {listed} times among its flow scope's children",
                el.id
            );
            assert_eq!(scope.at.process_instance_key, inst.at.process_instance_key);
        }
        for child in &inst.children {
            let c = s.instances.get(child).unwrap_or_else(|| {
                panic!("instance {key} ('{}') lists a missing child {child}", el.id)
            });
            assert_eq!(
                c.at.flow_scope_key, *key,
                "child {child} of {key} points elsewhere"
            );
        }
        // Lifecycle: between commands an instance is activated, or stopped by an incident mid-transition.
        match inst.state {
            Lifecycle::Activated => {}
            Lifecycle::Activating | Lifecycle::Completing => assert!(
                incident_on(key),
                "instance {key} ('{}') is left {:?} without an incident",
                el.id,
                inst.state
            ),
            Lifecycle::Terminating => panic!("instance {key} ('{}') is left terminating", el.id),
        }
        assert!(
            inst.after_terminate.is_none(),
            "{key}: a deferred activation outlived its command"
        );
        assert!(
            !inst.interrupted,
            "{key}: no generated process interrupts a scope"
        );
        // Tokens: once a command is processed, the only tokens on flows are those waiting at parallel joins.
        let joined: u32 = inst.joins.iter().map(|(_, n)| *n).sum();
        assert_eq!(
            inst.tokens, joined,
            "instance {key} ('{}') holds {} tokens, but only {joined} wait at joins: a token was lost or left behind",
            el.id, inst.tokens
        );
        // Every live instance waits on something real.
        let is_body = el.multi_instance.is_some()
            && s.instances
                .get(&inst.at.flow_scope_key)
                .is_none_or(|scope| scope.at.element != inst.at.element);
        let container = is_body
            || matches!(
                el.kind,
                ElementKind::Process(_) | ElementKind::SubProcess(_)
            );
        if container {
            assert!(
                !inst.children.is_empty() || incident_on(key),
                "stuck scope: instance {key} ('{}', {:?}) has no children, no incident, and joins {:?}",
                el.id,
                inst.state,
                inst.joins
            );
        } else {
            assert!(
                inst.children.is_empty(),
                "{key} ('{}') is no scope but has children",
                el.id
            );
            let waits = inst.job.is_some()
                || s.timers.by_element.contains_key(key)
                || s.subscriptions.by_element.contains_key(key)
                || incident_on(key);
            assert!(
                waits,
                "stuck instance: {key} ('{}', {:?}) waits on no job, timer, subscription or incident",
                el.id, inst.state
            );
        }
        if let Some(job) = inst.job {
            let j = s
                .jobs
                .get(job)
                .unwrap_or_else(|| panic!("instance {key} refers to missing job {job}"));
            assert_eq!(j.record.element_instance_key, *key);
        }
    }
    check_belongings(s);
    if s.instances.is_empty() {
        check_empty(s);
    }
}

/// Jobs, timers, subscriptions, incidents and variables belong to live instances.
fn check_belongings(s: &State) {
    for (key, job) in &s.jobs.by_key {
        let owner = s.instances.get(&job.record.element_instance_key);
        assert!(
            owner.is_some_and(|i| i.job == Some(*key)),
            "job {key} belongs to element instance {}, which does not hold it",
            job.record.element_instance_key
        );
        if matches!(job.state, JobState::Failed | JobState::ErrorThrown) {
            assert!(
                s.incidents.by_key.values().any(|i| i.job_key == *key),
                "job {key} is {:?} without an incident",
                job.state
            );
        }
    }
    let activatable: usize = s.jobs.activatable.values().map(BTreeSet::len).sum();
    let count = |st: JobState| s.jobs.by_key.values().filter(|j| j.state == st).count();
    assert_eq!(
        activatable,
        count(JobState::Activatable),
        "activatable index out of step"
    );
    assert_eq!(
        s.jobs.deadlines.len(),
        count(JobState::Activated),
        "deadline index out of step"
    );
    assert_eq!(
        s.jobs.backoffs.len(),
        count(JobState::BackingOff),
        "backoff index out of step"
    );

    assert_eq!(
        s.timers.due.len(),
        s.timers.by_key.len(),
        "timer due index out of step"
    );
    for (key, t) in &s.timers.by_key {
        assert!(s.timers.due.contains(&(t.due, *key)));
        if !t.element_instance_key.is_none() {
            assert!(
                s.instances.contains_key(&t.element_instance_key),
                "timer {key} belongs to missing instance {}",
                t.element_instance_key
            );
            assert!(s.timers.by_element[&t.element_instance_key].contains(key));
        }
    }
    for (owner, keys) in &s.timers.by_element {
        assert!(
            !keys.is_empty() && keys.iter().all(|k| s.timers.by_key.contains_key(k)),
            "timers of {owner}"
        );
    }
    for (key, sub) in &s.subscriptions.by_key {
        assert!(
            s.instances.contains_key(&sub.element_instance_key),
            "subscription {key} belongs to missing instance {}",
            sub.element_instance_key
        );
    }
    let subs: usize = s
        .subscriptions
        .by_name_key
        .values()
        .map(BTreeSet::len)
        .sum();
    assert_eq!(
        subs,
        s.subscriptions.by_key.len(),
        "subscription index out of step"
    );
    for (owner, keys) in &s.subscriptions.by_element {
        assert!(
            !keys.is_empty() && keys.iter().all(|k| s.subscriptions.by_key.contains_key(k)),
            "subscriptions of {owner}"
        );
    }
    assert_eq!(
        s.incidents.by_element.len(),
        s.incidents.by_key.len(),
        "one open incident per element instance"
    );
    for (element, key) in &s.incidents.by_element {
        let i = &s.incidents.by_key[key];
        assert_eq!(i.element_instance_key, *element);
        assert!(
            s.instances.contains_key(element),
            "incident {key} on missing instance {element}"
        );
    }
    for scope in s.variables.keys() {
        assert!(
            s.instances.contains_key(scope),
            "variables of missing scope {scope}"
        );
    }
    for pi in s.messages.started_instances.values() {
        assert!(s.instances.contains_key(pi));
    }
    for m in s.messages.correlated.keys() {
        assert!(
            s.messages.by_key.contains_key(m),
            "correlation record of a gone message {m}"
        );
    }
    let buffered: usize = s.messages.by_name_key.values().map(BTreeSet::len).sum();
    assert_eq!(buffered, s.messages.by_key.len());
    assert_eq!(s.messages.deadlines.len(), s.messages.by_key.len());
}

/// With no live instance, the state holds only deployments and buffered messages (generated processes have no
/// start timers).
fn check_empty(s: &State) {
    assert!(s.variables.is_empty(), "variables left: {:?}", s.variables);
    assert!(
        s.jobs.by_key.is_empty() && s.jobs.activatable.is_empty(),
        "jobs left"
    );
    assert!(
        s.jobs.deadlines.is_empty() && s.jobs.backoffs.is_empty(),
        "job deadlines left"
    );
    assert!(
        s.incidents.by_key.is_empty() && s.incidents.by_element.is_empty(),
        "incidents left"
    );
    assert!(
        s.timers.by_key.is_empty() && s.timers.due.is_empty(),
        "timers left"
    );
    assert!(s.timers.by_element.is_empty(), "timer owners left");
    assert!(s.subscriptions.by_key.is_empty(), "subscriptions left");
    assert!(
        s.subscriptions.by_name_key.is_empty() && s.subscriptions.by_element.is_empty(),
        "subscription indexes left"
    );
    assert!(s.messages.started_instances.is_empty());
}

/// `cases` unless `PROPTEST_CASES` says otherwise (proptest reads it over the source value).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 2_000,
        // Integration tests have no lib.rs for `SourceParallel` to find; the path is relative to the package.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/properties.txt",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Random actions over a random process keep every invariant after every command; driving what is left to the
    /// end completes every instance that was not canceled.
    #[test]
    fn random_schedules_keep_the_invariants(
        blocks in gen::process(),
        actions in gen::schedule(),
    ) {
        let mut run = Run::new(&blocks);
        for a in &actions {
            run.step(a);
        }
        run.drive_to_end();
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// With only the happy path (every job completed, every message published, the clock advanced), every instance
    /// of every generated process completes, and nothing is left behind.
    #[test]
    fn the_happy_path_completes_every_instance(
        blocks in gen::process(),
        creates in proptest::collection::vec((-3i8..8, 0u8..3, 0u8..4), 1..4),
    ) {
        let mut run = Run::new(&blocks);
        for (x, ck, items) in creates {
            run.step(&Action::Create { x, y: Some(0), ck, items });
        }
        run.drive_to_end();
        let incidents = run.h.events().into_iter().filter(|e| matches!(e, Event::IncidentCreated { .. })).count();
        prop_assert_eq!(incidents, 0, "the happy path raised incidents");
    }
}

/// The generator's output must deploy: one of every block kind, nested.
#[test]
fn every_block_kind_renders_to_a_deployable_process() {
    use gen::{Activity, BoundarySpec, BoundaryTrigger, Cond};
    let service = |job_type| Block::Activity {
        activity: Activity::Service { job_type },
        boundary: None,
    };
    let boundary = |trigger, interrupting, rejoin| BoundarySpec {
        trigger,
        interrupting,
        rejoin,
    };
    let blocks = vec![
        Block::Pass,
        Block::Script,
        Block::Timer { secs: 5 },
        Block::Message { name: 0 },
        Block::Exclusive {
            branches: vec![
                (
                    Cond {
                        on_y: false,
                        below: 3,
                    },
                    vec![service(0)],
                ),
                (
                    Cond {
                        on_y: true,
                        below: 0,
                    },
                    vec![],
                ),
            ],
            default: vec![Block::Pass],
        },
        Block::Parallel {
            branches: vec![vec![service(1)], vec![], vec![Block::Timer { secs: 30 }]],
        },
        Block::Activity {
            activity: Activity::Sub {
                body: vec![service(2), Block::Message { name: 1 }],
                multi: Some(false),
            },
            boundary: Some(boundary(BoundaryTrigger::Error { code: None }, true, true)),
        },
        Block::Activity {
            activity: Activity::Multi {
                job_type: 0,
                sequential: true,
            },
            boundary: Some(boundary(BoundaryTrigger::Cycle { secs: 5 }, false, false)),
        },
        Block::Activity {
            activity: Activity::Service { job_type: 1 },
            boundary: Some(boundary(BoundaryTrigger::Message { name: 0 }, false, false)),
        },
        Block::Activity {
            activity: Activity::Service { job_type: 2 },
            boundary: Some(boundary(BoundaryTrigger::Timer { secs: 90 }, true, true)),
        },
    ];
    let mut run = Run::new(&blocks);
    run.step(&Action::Create {
        x: 1,
        y: Some(2),
        ck: 0,
        items: 2,
    });
    run.drive_to_end();
    let completed = run.h.completed_elements(run.created[0]);
    for id in [
        "task", "script", "timer", "catch", "split", "fork", "sub", "multi", "service",
    ] {
        assert!(
            completed.iter().any(|e| e.starts_with(id)),
            "no '{id}' completed: {completed:?}"
        );
    }
}

/// Regression (found while writing these properties, fixed in f415f04): the output collection was indexed with the
/// inner instance's `loopCounter` *variable*, which a job result overwrites (it is local to the inner instance). `0`
/// panicked with an underflow in `multi::collect_output`; a huge value resized the collection to that length. Zeebe
/// keeps the loop counter in the element instance record, so the output lands in its slot whatever the variable says.
#[test]
fn job_result_overwriting_loop_counter_keeps_the_output_in_its_slot() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" />
            <bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="w" /></bpmn:extensionElements>
              <bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="= items" inputElement="item" outputCollection="results" outputElement="= item" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
            </bpmn:serviceTask><bpmn:endEvent id="e" />{}{}"#,
            flow("f1", "s", "t"),
            flow("f2", "t", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({ "items": ["a", "b"] }));
    let jobs = h.activate("w", 10);
    assert_eq!(jobs.len(), 2);
    h.ok(Command::CompleteJob {
        key: jobs[0].key,
        variables: Json(json!({ "loopCounter": 0 })),
    });
    h.ok(Command::CompleteJob {
        key: jobs[1].key,
        variables: Json(json!({ "loopCounter": 1_000_000 })),
    });
    assert!(h.is_completed(pi));
    assert_eq!(h.final_variables(pi)["results"], json!(["a", "b"]));
}

/// Regression (found while writing these properties, fixed in f415f04): client durations were added to the record
/// timestamp unchecked (`now + timeout_ms`, `now + backoff_ms`, `now + ttl_ms`): a huge value panicked with an
/// overflow in debug builds and wrapped to a deadline in the past in release builds.
#[test]
fn huge_durations_from_clients_do_not_overflow() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" />{}{}"#,
            service("t", "w"),
            flow("f", "s", "t")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    h.create("p", json!({}));
    h.publish("m", "k", json!({}), i64::MAX);
    h.advance(1);
    assert_eq!(
        h.state.messages.by_key.len(),
        1,
        "the message expired at once"
    );
    let jobs = match h.ok(Command::ActivateJobs {
        job_type: "w".into(),
        worker: "w".into(),
        timeout_ms: i64::MAX,
        max_jobs: 1,
        fetch_variables: vec![],
    }) {
        Response::JobsActivated { jobs } => jobs,
        other => panic!("unexpected {other:?}"),
    };
    h.advance(1);
    assert!(h.activate("w", 1).is_empty(), "the job timed out at once");
    h.ok(Command::UpdateJobTimeout {
        key: jobs[0].key,
        timeout_ms: i64::MAX,
    });
    h.ok(Command::FailJob {
        key: jobs[0].key,
        retries: 1,
        error_message: String::new(),
        retry_backoff_ms: i64::MAX,
        variables: Json(json!({})),
    });
    h.advance(1);
    assert!(h.activate("w", 1).is_empty(), "the backoff ended at once");
}
