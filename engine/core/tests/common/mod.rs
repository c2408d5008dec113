//! Scenario harness: drives the pure core like the runtime does (one command at a time, a manual clock) and, after
//! every command, checks that replaying the log into a fresh state, and loading a snapshot, give the same state.

#![allow(dead_code)]

use apsis_core::command::{ActivatedJob, ProcessSelector, Resource};
use apsis_core::event::Entry;
use apsis_core::{
    process, Command, Context, Event, Json, Key, Outcome, Rejection, Response, State,
};
use serde_json::{json, Value};

pub const NS: &str = r#"xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI""#;

/// Wraps process content (elements and flows) and extra root elements (messages, errors) into a BPMN file.
pub fn bpmn(process_id: &str, body: &str, roots: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS} id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{process_id}" isExecutable="true">
{body}
  </bpmn:process>
{roots}
</bpmn:definitions>"#
    )
}

/// `<bpmn:sequenceFlow>` shorthand.
pub fn flow(id: &str, from: &str, to: &str) -> String {
    format!(r#"<bpmn:sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}" />"#)
}

pub fn service(id: &str, job_type: &str) -> String {
    format!(
        r#"<bpmn:serviceTask id="{id}"><bpmn:extensionElements><zeebe:taskDefinition type="{job_type}" /></bpmn:extensionElements></bpmn:serviceTask>"#
    )
}

pub struct Harness {
    pub state: State,
    pub now: i64,
    /// Every committed entry, as the runtime would append it.
    pub log: Vec<Vec<u8>>,
    pub effects: Vec<apsis_core::Effect>,
    /// Job streams the runtime would hold open (StreamActivatedJobs).
    pub streams: Option<Box<dyn apsis_core::JobStreams>>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    pub fn new() -> Harness {
        Harness {
            state: State::default(),
            now: 1_700_000_000_000,
            log: Vec::new(),
            effects: Vec::new(),
            streams: None,
        }
    }

    /// Processes one command, logs its events, and checks replay == live and snapshot == live.
    pub fn run(&mut self, command: Command) -> Outcome {
        let outcome = process(
            &mut self.state,
            command,
            &Context {
                now: self.now,
                streams: self.streams.as_deref(),
            },
        );
        if !outcome.events.is_empty() {
            let entry = Entry {
                timestamp: self.now,
                events: outcome.events.clone(),
            };
            let mut bytes = Vec::new();
            entry.encode_into(&mut bytes).expect("encode");
            self.log.push(bytes);
        }
        self.effects.extend(outcome.effects.iter().cloned());
        self.assert_replay();
        outcome
    }

    pub fn replayed(&self) -> State {
        let mut fresh = State::default();
        for bytes in &self.log {
            let entry = Entry::decode(bytes).expect("decode");
            for e in &entry.events {
                fresh.apply(e);
            }
        }
        fresh
    }

    pub fn assert_replay(&self) {
        let fresh = self.replayed();
        assert!(
            fresh == self.state,
            "replayed state differs from live state"
        );
        let snap = self.state.to_snapshot().expect("snapshot");
        let loaded = State::from_snapshot(&snap).expect("load snapshot");
        assert!(
            loaded == self.state,
            "snapshot state differs from live state"
        );
    }

    pub fn ok(&mut self, command: Command) -> Response {
        match self.run(command).result {
            Some(Ok(r)) => r,
            other => panic!("expected success, got {other:?}"),
        }
    }

    pub fn rejected(&mut self, command: Command) -> Rejection {
        let before = self.state.clone();
        let outcome = self.run(command);
        assert!(outcome.events.is_empty(), "a rejected command wrote events");
        assert!(before == self.state, "a rejected command changed the state");
        match outcome.result {
            Some(Err(r)) => r,
            other => panic!("expected rejection, got {other:?}"),
        }
    }

    pub fn deploy(&mut self, name: &str, xml: &str) -> Response {
        self.ok(Command::Deploy {
            resources: vec![Resource {
                name: name.into(),
                content: xml.into(),
            }],
        })
    }

    pub fn create(&mut self, process_id: &str, vars: Value) -> Key {
        match self.ok(Command::CreateProcessInstance {
            process: ProcessSelector::Id {
                bpmn_process_id: process_id.into(),
                version: -1,
            },
            variables: Json(vars),
            await_result: false,
        }) {
            Response::ProcessInstanceCreated {
                process_instance_key,
                ..
            } => process_instance_key,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn activate(&mut self, job_type: &str, max: i32) -> Vec<ActivatedJob> {
        match self.ok(Command::ActivateJobs {
            job_type: job_type.into(),
            worker: "test".into(),
            timeout_ms: 60_000,
            max_jobs: max,
            fetch_variables: vec![],
        }) {
            Response::JobsActivated { jobs } => jobs,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Activates exactly one job of the type and completes it with `vars`.
    pub fn complete_one(&mut self, job_type: &str, vars: Value) -> ActivatedJob {
        let jobs = self.activate(job_type, 1);
        assert_eq!(
            jobs.len(),
            1,
            "expected one activatable job of type '{job_type}'"
        );
        self.ok(Command::CompleteJob {
            key: jobs[0].key,
            variables: Json(vars),
        });
        jobs[0].clone()
    }

    pub fn publish(&mut self, name: &str, key: &str, vars: Value, ttl_ms: i64) -> Response {
        self.ok(Command::PublishMessage {
            name: name.into(),
            correlation_key: key.into(),
            ttl_ms,
            message_id: String::new(),
            variables: Json(vars),
        })
    }

    /// Advances the clock and fires what is due.
    pub fn advance(&mut self, ms: i64) {
        self.now += ms;
        while self.state.next_due().is_some_and(|d| d <= self.now) {
            self.ok(Command::Tick);
        }
    }

    /// All events of the log, in order.
    pub fn events(&self) -> Vec<Event> {
        self.log
            .iter()
            .flat_map(|b| Entry::decode(b).expect("decode").events)
            .collect()
    }

    pub fn is_completed(&self, pi: Key) -> bool {
        self.state.instance(pi).is_none()
            && self
                .events()
                .iter()
                .any(|e| matches!(e, Event::ElementCompleted { key } if *key == pi))
    }

    pub fn is_terminated(&self, pi: Key) -> bool {
        self.state.instance(pi).is_none()
            && self
                .events()
                .iter()
                .any(|e| matches!(e, Event::ElementTerminated { key } if *key == pi))
    }

    /// Element ids (in order) that completed in process instance `pi`.
    pub fn completed_elements(&self, pi: Key) -> Vec<String> {
        self.lifecycle(pi, |e| matches!(e, Event::ElementCompleted { .. }))
    }

    pub fn activated_elements(&self, pi: Key) -> Vec<String> {
        self.lifecycle(pi, |e| matches!(e, Event::ElementActivating { .. }))
    }

    pub fn terminated_elements(&self, pi: Key) -> Vec<String> {
        self.lifecycle(pi, |e| matches!(e, Event::ElementTerminated { .. }))
    }

    fn lifecycle(&self, pi: Key, pick: impl Fn(&Event) -> bool) -> Vec<String> {
        // Map element instance keys to element ids by their activation events.
        let mut ids = std::collections::HashMap::new();
        let mut out = Vec::new();
        for e in self.events() {
            if let Event::ElementActivating { key, at, .. } = &e {
                if at.process_instance_key == pi {
                    let def = self
                        .state
                        .deployments
                        .get(at.process_definition_key)
                        .expect("definition");
                    ids.insert(
                        *key,
                        def.graph()
                            .element(apsis_bpmn::ElementIdx(at.element))
                            .id
                            .clone(),
                    );
                }
            }
            let key = match &e {
                Event::ElementActivating { key, .. }
                | Event::ElementCompleted { key }
                | Event::ElementTerminated { key } => *key,
                _ => continue,
            };
            if pick(&e) {
                if let Some(id) = ids.get(&key) {
                    out.push(id.clone());
                }
            }
        }
        out
    }

    /// The root-scope variables of a live process instance.
    pub fn variables(&self, pi: Key) -> Value {
        Value::Object(self.state.visible_variables(pi))
    }

    /// The variables a completed instance left, reconstructed from its events (last value wins).
    pub fn final_variables(&self, pi: Key) -> Value {
        let mut out = serde_json::Map::new();
        for e in self.events() {
            match e {
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
                } if scope_key == pi => {
                    out.insert(name, value.0);
                }
                _ => {}
            }
        }
        Value::Object(out)
    }

    pub fn incidents(&self) -> Vec<(Key, apsis_core::event::IncidentRecord)> {
        let mut v: Vec<_> = self
            .state
            .incidents
            .by_key
            .iter()
            .map(|(k, i)| (*k, i.clone()))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// Nothing of anything is left in the state but deployments (bounded memory after instances end).
    pub fn assert_empty(&self) {
        let c = self.state.live_counts();
        assert_eq!(
            c,
            apsis_core::state::LiveCounts {
                messages: c.messages,
                timers: self.state.timers.by_definition.values().map(Vec::len).sum(),
                ..Default::default()
            },
            "live state left behind"
        );
    }
}

pub fn j(v: Value) -> Json {
    Json(v)
}

pub fn empty() -> Value {
    json!({})
}
