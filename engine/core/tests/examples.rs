//! The `examples/` folder, run. Every `.bpmn` file there is Camunda Modeler output (diagram included); each is
//! deployed as it is and driven through at least one scenario to completion, asserting the path taken and the
//! variables left, as the workers and clients of that process would drive it.
//!
//! [`DRIVERS`] maps each file to the function that runs its main scenario. The test
//! `every_example_deploys_keeps_its_diagram_and_runs` walks the folder and fails on a file without a driver (and on
//! a driver without a file), so a new example can never go untested. The other paths of the same files (timeouts,
//! failures, cancellations) are the tests after each driver; some are named after engine gaps the examples once
//! exposed (examples/README.md, "Fixed gaps") and stay as regression tests. The harness replays every command's log and reloads a
//! snapshot, so every scenario also checks replay == live.

mod common;
#[path = "examples/pms_chain.rs"]
mod pms_chain;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use apsis_bpmn::model::{
    Bounds, Definitions, EventDefinition, FlowNode, NodeKind, Scope, TaskKind,
};
use apsis_core::command::{ActivatedJob, Resource};
use apsis_core::event::IncidentKind;
use apsis_core::{Command, Event, Json, Key, RejectionKind, Response};
use common::*;
use serde_json::{json, Value};

/// Each example file (relative to `examples/`, with `/`) and the driver of its main scenario.
const DRIVERS: &[(&str, fn())] = &[
    ("bench/w1.bpmn", bench_w1),
    ("bench/w2.bpmn", bench_w2),
    ("pleiades/pleiades-preprocessing.bpmn", pleiades_happy_path),
    ("pms-chain/pms-batch.bpmn", pms_chain::pms_batch),
    ("pms-chain/pms-chain-hold.bpmn", pms_chain::pms_chain_hold),
    ("pms-chain/pms-chain.bpmn", pms_chain::pms_chain_happy_path),
    ("tour/fan-out.bpmn", fan_out),
    ("tour/nightly-report.bpmn", nightly_report),
    ("tour/order-messages.bpmn", order_messages),
    ("tour/retries-and-errors.bpmn", retries_and_errors),
];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Every `.bpmn` file under `examples/`, relative, sorted; except in `fixtures/` folders, which hold a test's inputs
/// (e.g. the chain tests' deliberately wrong process), not examples.
fn bpmn_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "fixtures") {
                    walk(&path, root, out);
                }
            } else if path.extension().is_some_and(|e| e == "bpmn") {
                let rel = path.strip_prefix(root).expect("under examples/");
                let parts: Vec<_> = rel
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    let root = examples_dir();
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

fn load(rel: &str) -> String {
    let path = examples_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A harness with the example deployed.
fn deployed(rel: &str) -> Harness {
    let mut h = Harness::new();
    h.deploy(rel, &load(rel));
    h
}

#[test]
fn every_example_deploys_keeps_its_diagram_and_runs() {
    let files = bpmn_files();
    let mut problems = Vec::new();
    for file in &files {
        let xml = load(file);
        let mut h = Harness::new();
        let outcome = h.run(Command::Deploy {
            resources: vec![Resource {
                name: file.clone(),
                content: xml.clone(),
            }],
        });
        match outcome.result {
            Some(Ok(Response::Deployed { processes, .. })) if !processes.is_empty() => {}
            other => problems.push(format!("{file}: not deployed: {other:?}")),
        }
        problems.extend(
            diagram_problems(file, &xml)
                .into_iter()
                .map(|p| format!("{file}: {p}")),
        );
        match DRIVERS.iter().find(|(name, _)| name == file) {
            None => problems.push(format!(
                "{file}: no driver; add its scenario to DRIVERS in engine/core/tests/examples.rs"
            )),
            Some((_, driver)) => {
                if let Err(panic) = std::panic::catch_unwind(*driver) {
                    let why = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    problems.push(format!("{file}: its scenario failed: {why}"));
                }
            }
        }
    }
    for (name, _) in DRIVERS {
        if !files.iter().any(|f| f == name) {
            problems.push(format!("{name}: a driver for a file that does not exist"));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

// Diagram ---------------------------------------------------------------------------------------------------------

fn all_flows(scope: &Scope) -> Vec<&apsis_bpmn::model::SequenceFlow> {
    let mut out: Vec<_> = scope.flows.iter().collect();
    for n in &scope.nodes {
        if let NodeKind::SubProcess { scope, .. } = &n.kind {
            out.extend(all_flows(scope));
        }
    }
    out
}

fn contains(outer: &Bounds, inner: &Bounds) -> bool {
    outer.x <= inner.x
        && outer.y <= inner.y
        && inner.x + inner.width <= outer.x + outer.width
        && inner.y + inner.height <= outer.y + outer.height
}

fn overlaps(a: &Bounds, b: &Bounds) -> bool {
    a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
}

/// On the border of `b` (within a pixel), as Modeler's waypoints and boundary events are.
fn on_border(b: &Bounds, (x, y): (f64, f64)) -> bool {
    let inside =
        |m: f64| x >= b.x - m && x <= b.x + b.width + m && y >= b.y - m && y <= b.y + b.height + m;
    inside(1.0)
        && !(x > b.x + 1.0 && x < b.x + b.width - 1.0 && y > b.y + 1.0 && y < b.y + b.height - 1.0)
}

/// Modeler's default size of a flow node (`None` for a subprocess, drawn around its content).
fn modeler_size(kind: &NodeKind) -> Option<(f64, f64)> {
    match kind {
        NodeKind::Task(_) => Some((100.0, 80.0)),
        NodeKind::Gateway(_) => Some((50.0, 50.0)),
        NodeKind::SubProcess { .. } | NodeKind::Other => None,
        _ => Some((36.0, 36.0)),
    }
}

/// The diagram as Modeler keeps it: one shape per flow node with Modeler's default size, one edge per sequence
/// flow from its source's border to its target's, boundary events on their host's border, and no shapes drawn
/// over each other.
fn diagram_problems(file: &str, xml: &str) -> Vec<String> {
    let defs: Definitions = match apsis_bpmn::read(file, xml) {
        Ok(d) => d,
        Err(e) => return vec![format!("unreadable: {e}")],
    };
    let d = &defs.diagram;
    let mut problems = Vec::new();
    let mut nodes = Vec::new();
    let mut flows = Vec::new();
    for p in &defs.processes {
        nodes.extend(p.scope.walk());
        flows.extend(all_flows(&p.scope));
    }
    let shape_of = |id: &str| d.shapes.iter().find(|s| s.element == id);
    for n in &nodes {
        let shapes = d.shapes.iter().filter(|s| s.element == n.id).count();
        if shapes != 1 {
            problems.push(format!(
                "flow node '{}' has {shapes} shapes, expected 1",
                n.id
            ));
            continue;
        }
        let s = shape_of(&n.id).expect("one shape");
        let size = (s.bounds.width, s.bounds.height);
        match modeler_size(&n.kind) {
            Some(expected) if size != expected => problems.push(format!(
                "'{}' is drawn {size:?}, Modeler draws it {expected:?}",
                n.id
            )),
            // Events and gateways have their name outside, in label bounds.
            Some((w, _)) if w < 100.0 && n.name.is_some() && s.label.is_none() => {
                problems.push(format!("'{}' has a name but no label bounds", n.id))
            }
            None if matches!(n.kind, NodeKind::SubProcess { .. })
                && s.is_expanded != Some(true) =>
            {
                problems.push(format!("subprocess '{}' is not drawn expanded", n.id))
            }
            _ => {}
        }
        if let NodeKind::BoundaryEvent {
            attached_to: Some(host),
            ..
        } = &n.kind
        {
            let center = (
                s.bounds.x + s.bounds.width / 2.0,
                s.bounds.y + s.bounds.height / 2.0,
            );
            match shape_of(host) {
                Some(h) if on_border(&h.bounds, center) => {}
                _ => problems.push(format!(
                    "boundary event '{}' is not on the border of '{host}'",
                    n.id
                )),
            }
        }
    }
    for s in &d.shapes {
        if !nodes.iter().any(|n| n.id == s.element) {
            problems.push(format!("shape for unknown element '{}'", s.element));
        }
    }
    // No two shapes drawn over each other, except a boundary event on its host and a node inside its subprocess.
    let attached = |a: &str, b: &str| {
        nodes.iter().any(|n| {
            n.id == a
                && matches!(&n.kind, NodeKind::BoundaryEvent { attached_to: Some(h), .. } if h == b)
        })
    };
    for (i, a) in d.shapes.iter().enumerate() {
        for b in &d.shapes[i + 1..] {
            let related = attached(&a.element, &b.element)
                || attached(&b.element, &a.element)
                || contains(&a.bounds, &b.bounds)
                || contains(&b.bounds, &a.bounds);
            if !related && overlaps(&a.bounds, &b.bounds) {
                problems.push(format!(
                    "'{}' and '{}' are drawn over each other",
                    a.element, b.element
                ));
            }
        }
    }
    for f in &flows {
        let edges: Vec<_> = d.edges.iter().filter(|e| e.element == f.id).collect();
        let [edge] = edges.as_slice() else {
            problems.push(format!(
                "sequence flow '{}' has {} edges, expected 1",
                f.id,
                edges.len()
            ));
            continue;
        };
        let (Some(first), Some(last)) = (edge.waypoints.first(), edge.waypoints.last()) else {
            problems.push(format!("edge of '{}' has no waypoints", f.id));
            continue;
        };
        if edge.waypoints.len() < 2 {
            problems.push(format!("edge of '{}' has fewer than two waypoints", f.id));
        }
        if !shape_of(&f.source).is_some_and(|s| on_border(&s.bounds, *first)) {
            problems.push(format!(
                "edge of '{}' does not start on '{}'",
                f.id, f.source
            ));
        }
        if !shape_of(&f.target).is_some_and(|s| on_border(&s.bounds, *last)) {
            problems.push(format!("edge of '{}' does not end on '{}'", f.id, f.target));
        }
        if f.name.is_some() && edge.label.is_none() {
            problems.push(format!("flow '{}' has a name but no label bounds", f.id));
        }
    }
    for e in &d.edges {
        if !flows.iter().any(|f| f.id == e.element) {
            problems.push(format!("edge for unknown element '{}'", e.element));
        }
    }
    problems
}

// Coverage --------------------------------------------------------------------------------------------------------

/// What Apsis executes today, named as [`node_features`] names them; the examples together must show each.
const SUPPORTED: &[&str] = &[
    "none start event",
    "message start event",
    "timer start event",
    "none end event",
    "terminate end event",
    "error end event",
    "Service task",
    "Send task",
    "User task",
    "BusinessRule task (job)",
    "Script task (FEEL)",
    "Script task (job)",
    "Receive task",
    "Manual task",
    "Undefined task",
    "Exclusive gateway",
    "Parallel gateway",
    "EventBased gateway",
    "intermediate message catch event",
    "intermediate timer catch event",
    "none intermediate throw event",
    "timer boundary event (interrupting)",
    "timer boundary event (non-interrupting)",
    "message boundary event (interrupting)",
    "message boundary event (non-interrupting)",
    "error boundary event (interrupting)",
    "embedded subprocess",
    "parallel multi-instance",
    "sequential multi-instance",
    "multi-instance outputCollection",
    "multi-instance completionCondition",
    "input mapping",
    "output mapping",
    "task headers",
    "job retries",
    "default flow",
];

fn node_features(n: &FlowNode) -> Vec<String> {
    let ev = |e: &EventDefinition| match e {
        EventDefinition::None => "none",
        EventDefinition::Message { .. } => "message",
        EventDefinition::Timer { .. } => "timer",
        EventDefinition::Error { .. } => "error",
        EventDefinition::Terminate { .. } => "terminate",
        _ => "unsupported",
    };
    let z = &n.zeebe;
    let how = |interrupting: bool| {
        if interrupting {
            "interrupting"
        } else {
            "non-interrupting"
        }
    };
    let kind = match &n.kind {
        NodeKind::StartEvent { event, .. } => format!("{} start event", ev(event)),
        NodeKind::EndEvent { event } => format!("{} end event", ev(event)),
        NodeKind::IntermediateCatchEvent { event } => {
            format!("intermediate {} catch event", ev(event))
        }
        NodeKind::IntermediateThrowEvent { event } => {
            format!("{} intermediate throw event", ev(event))
        }
        NodeKind::BoundaryEvent {
            event,
            cancel_activity,
            ..
        } => {
            format!("{} boundary event ({})", ev(event), how(*cancel_activity))
        }
        NodeKind::Task(k @ (TaskKind::Script | TaskKind::BusinessRule)) => {
            let by = if z.script.is_some() {
                "FEEL"
            } else if z.task_definition.is_some() {
                "job"
            } else {
                "?"
            };
            format!("{k:?} task ({by})")
        }
        NodeKind::Task(k) => format!("{k:?} task"),
        NodeKind::Gateway(g) => format!("{g:?} gateway"),
        NodeKind::SubProcess {
            triggered_by_event: false,
            ..
        } => "embedded subprocess".into(),
        _ => format!("{} (unsupported)", n.tag),
    };
    let mi = n.multi_instance.as_ref();
    let flags = [
        (mi.is_some_and(|m| !m.sequential), "parallel multi-instance"),
        (
            mi.is_some_and(|m| m.sequential),
            "sequential multi-instance",
        ),
        (
            mi.is_some_and(|m| m.completion_condition.is_some()),
            "multi-instance completionCondition",
        ),
        (
            z.loop_characteristics
                .as_ref()
                .is_some_and(|l| l.output_collection.is_some()),
            "multi-instance outputCollection",
        ),
        (!z.inputs.is_empty(), "input mapping"),
        (!z.outputs.is_empty(), "output mapping"),
        (!z.headers.is_empty(), "task headers"),
        (
            z.task_definition
                .as_ref()
                .is_some_and(|t| t.retries.is_some()),
            "job retries",
        ),
        (n.default_flow.is_some(), "default flow"),
    ];
    let mut out = vec![kind];
    out.extend(
        flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| f.to_string()),
    );
    out
}

#[test]
fn the_examples_together_use_every_supported_element() {
    let mut seen = BTreeSet::new();
    for file in bpmn_files() {
        let defs = apsis_bpmn::read(&file, &load(&file)).expect("readable");
        for p in &defs.processes {
            seen.extend(p.scope.walk().into_iter().flat_map(node_features));
        }
    }
    let missing: Vec<_> = SUPPORTED.iter().filter(|f| !seen.contains(**f)).collect();
    assert!(missing.is_empty(), "no example shows: {missing:?}");
}

// Helpers ---------------------------------------------------------------------------------------------------------

/// The process instances of `bpmn_process_id`, in creation order (however they were started).
fn instances_of(h: &Harness, bpmn_process_id: &str) -> Vec<Key> {
    h.events()
        .iter()
        .filter_map(|e| match e {
            Event::ElementActivating { key, at, .. } if at.flow_scope_key == Key::NONE => h
                .state
                .deployments
                .get(at.process_definition_key)
                .filter(|d| d.bpmn_process_id == bpmn_process_id)
                .map(|_| *key),
            _ => None,
        })
        .collect()
}

/// Activates exactly one job of the type.
fn one_job(h: &mut Harness, job_type: &str) -> ActivatedJob {
    let mut jobs = h.activate(job_type, 10);
    assert_eq!(jobs.len(), 1, "expected one '{job_type}' job, got {jobs:?}");
    jobs.remove(0)
}

fn complete(h: &mut Harness, job: &ActivatedJob, variables: Value) {
    h.ok(Command::CompleteJob {
        key: job.key,
        variables: Json(variables),
    });
}

/// `expected` appears in `path` in this order (other elements may come between).
fn assert_visits(path: &[String], expected: &[&str]) {
    let mut rest = path.iter();
    for id in expected {
        assert!(
            rest.any(|p| p == id),
            "expected {expected:?} in this order within {path:?}"
        );
    }
}

fn assert_skips(path: &[String], ids: &[&str]) {
    for id in ids {
        assert!(
            !path.iter().any(|p| p == id),
            "'{id}' must not be on the path {path:?}"
        );
    }
}

fn count(path: &[String], id: &str) -> usize {
    path.iter().filter(|p| *p == id).count()
}

fn header<'a>(job: &'a ActivatedJob, name: &str) -> &'a str {
    job.custom_headers.0[name]
        .as_str()
        .unwrap_or_else(|| panic!("header '{name}' missing in {}", job.custom_headers.0))
}

/// Renders a `{{variable}}` command-line template from the job's variables, as the FaaS worker does.
fn render(template: &str, variables: &Value) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed placeholder") + start;
        let name = rest[start + 2..end].trim();
        match &variables[name] {
            Value::String(s) => out.push_str(s),
            Value::Null => {
                panic!("template variable '{name}' is not among the job's variables {variables}")
            }
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

// bench/ ----------------------------------------------------------------------------------------------------------

fn bench_w1() {
    let mut h = deployed("bench/w1.bpmn");
    let pi = h.create("bench-w1", json!({"n": 1}));
    let job = h.complete_one("bench-task", json!({"done": true}));
    assert_eq!(job.element_id, "task");
    assert_eq!(job.bpmn_process_id, "bench-w1");
    assert_eq!(job.variables, Json(json!({"n": 1})));
    assert!(h.is_completed(pi));
    assert_eq!(
        h.completed_elements(pi),
        ["start", "task", "end", "bench-w1"]
    );
    assert_eq!(h.final_variables(pi), json!({"n": 1, "done": true}));
    h.assert_empty();
}

fn bench_w2() {
    let mut h = deployed("bench/w2.bpmn");
    for (route, end, other_end) in [
        (json!("a"), "end-a", "end-b"),
        (json!("b"), "end-b", "end-a"),
    ] {
        let pi = h.create("bench-w2", json!({"route": route}));
        assert_eq!(
            h.complete_one("bench-task", json!({})).element_id,
            "prepare"
        );
        let mut branches = h.activate("bench-task", 10);
        branches.sort_by(|a, b| a.element_id.cmp(&b.element_id));
        let ids: Vec<_> = branches.iter().map(|j| j.element_id.as_str()).collect();
        assert_eq!(
            ids,
            ["branch-a", "branch-b"],
            "both branches run in parallel"
        );
        complete(&mut h, &branches[1], json!({"b": 2}));
        assert!(!h.is_completed(pi), "the join waits for both branches");
        complete(&mut h, &branches[0], json!({"a": 1}));
        assert!(h.is_completed(pi));
        let path = h.completed_elements(pi);
        assert_visits(
            &path,
            &["start", "prepare", "fork", "join", "route", end, "bench-w2"],
        );
        assert_eq!(count(&path, "join"), 1, "the join activates once: {path:?}");
        assert_skips(&path, &[other_end]);
        assert_eq!(
            h.final_variables(pi),
            json!({"route": route, "b": 2, "a": 1})
        );
    }
    h.assert_empty();
}

#[test]

fn bench_w2_without_route_takes_the_default_flow() {
    let mut h = deployed("bench/w2.bpmn");
    let pi = h.create("bench-w2", json!({}));
    for _ in 0..3 {
        let job = h.activate("bench-task", 1).remove(0);
        complete(&mut h, &job, json!({}));
    }
    assert!(h.incidents().is_empty(), "{:?}", h.incidents());
    assert!(h.is_completed(pi));
    assert_visits(&h.completed_elements(pi), &["route", "end-b"]);
}

// pleiades/ -------------------------------------------------------------------------------------------------------

const PLEIADES: &str = "pleiades/pleiades-preprocessing.bpmn";

fn pair() -> Value {
    json!({
        "pan": "/data/in/IMG_PHR1A_P_001.TIF",
        "xs": "/data/in/IMG_PHR1A_MS_002.TIF",
        "work": "/data/work/pair-1",
        "dem": "/data/dem/srtm",
    })
}

/// What the FaaS worker does with a `faas` job in mode `receive-task`: read the headers, render the command line,
/// invoke the function asynchronously, and complete the job at once with `{<resultVariable>: {callId}}`.
/// Returns the rendered command line.
fn worker_invokes(h: &mut Harness, step: &str, function: &str, call_id: &str) -> String {
    let job = one_job(h, "faas");
    assert_eq!(job.element_id, step);
    assert_eq!(header(&job, "function"), function);
    assert_eq!(header(&job, "mode"), "receive-task");
    assert_eq!(header(&job, "messageName"), "function-done");
    assert_eq!(header(&job, "resultVariable"), step);
    // The worker's own deadline for the call matches the timer boundary on the step's receive task.
    let timeout = if step == "normalize" { "PT4H" } else { "PT2H" };
    assert_eq!(header(&job, "timeout"), timeout);
    let cmdline = render(header(&job, "cmdline"), &job.variables.0);
    complete(h, &job, json!({ step: {"callId": call_id} }));
    cmdline
}

/// What callback-ack does when OpenFaaS calls back (docs/worker-faas.md, receive-task mode): publish
/// `function-done` keyed (and identified) by the call id, with the result under the step's `resultVariable`. The
/// tests' call ids name their step: `call-b*` bundle, `call-o*` ortho, `call-n*` normalize.
fn callback(h: &mut Harness, call_id: &str, status: u16, output: Value, ttl_ms: i64) -> Command {
    let step = match &call_id[..6] {
        "call-b" => "bundle",
        "call-o" => "ortho",
        _ => "normalize",
    };
    let result = json!({
        "callId": call_id,
        "status": status,
        "ok": (200..300).contains(&status),
        "durationSeconds": 1.5,
        "output": output,
    });
    let cmd = Command::PublishMessage {
        name: "function-done".into(),
        correlation_key: call_id.into(),
        ttl_ms,
        message_id: call_id.into(),
        variables: Json(json!({ step: result })),
    };
    h.ok(cmd.clone());
    cmd
}

fn pleiades_happy_path() {
    let mut h = deployed(PLEIADES);
    let pi = h.create("pleiades-preprocessing", pair());

    let cmd = worker_invokes(&mut h, "bundle", "otbcli", "call-b1");
    assert_eq!(
        cmd,
        "otbcli_BundleToPerfectSensor -inp /data/in/IMG_PHR1A_P_001.TIF -inxs /data/in/IMG_PHR1A_MS_002.TIF \
         -out /data/work/pair-1/bundle.tif uint16"
    );
    assert!(
        h.activate("faas", 10).is_empty(),
        "ortho waits for the bundle callback"
    );
    callback(
        &mut h,
        "call-b1",
        200,
        json!({"image": "/data/work/pair-1/bundle.tif"}),
        0,
    );

    // The ortho callback overtakes the job completion (the function was quick): it is buffered, then correlated
    // when the receive task opens its subscription. A redelivered callback is a duplicate while buffered.
    let job = one_job(&mut h, "faas");
    assert_eq!(job.element_id, "ortho");
    assert_eq!(
        job.variables.0["panGeom"],
        json!("/data/in/IMG_PHR1A_P_001.geom")
    );
    assert_eq!(
        render(header(&job, "cmdline"), &job.variables.0),
        "otbcli_OrthoRectification -io.in \"/data/work/pair-1/bundle.tif?&geom=/data/in/IMG_PHR1A_P_001.geom\" \
         -io.out /data/work/pair-1/ortho.tif uint16 -elev.dem /data/dem/srtm"
    );
    let early = callback(
        &mut h,
        "call-o1",
        200,
        json!({"image": "/data/work/pair-1/ortho.tif"}),
        600_000,
    );
    let duplicate = h.rejected(early);
    assert_eq!(duplicate.kind, RejectionKind::AlreadyExists);
    complete(&mut h, &job, json!({"ortho": {"callId": "call-o1"}}));

    let cmd = worker_invokes(&mut h, "normalize", "normalize-product", "call-n1");
    assert_eq!(
        cmd,
        "normalize-product --in_ms /data/in/IMG_PHR1A_MS_002.TIF --in_ortho /data/work/pair-1/ortho.tif \
         --out /data/work/pair-1/normalized_ortho.tif"
    );
    callback(&mut h, "call-n1", 200, json!({"bands": 4}), 0);

    assert!(h.is_completed(pi));
    assert_eq!(
        h.completed_elements(pi),
        [
            "start",
            "chain-start",
            "bundle",
            "wait-bundle",
            "bundle-ok",
            "ortho",
            "wait-ortho",
            "ortho-ok",
            "normalize",
            "wait-normalize",
            "normalize-ok",
            "chain-end",
            "chain",
            "product-ready",
            "pleiades-preprocessing"
        ]
    );
    let vars = h.final_variables(pi);
    assert_eq!(
        vars["bundle"],
        json!({"callId": "call-b1", "status": 200, "ok": true, "durationSeconds": 1.5, "output": {"image": "/data/work/pair-1/bundle.tif"}})
    );
    assert_eq!(vars["ortho"]["status"], json!(200));
    assert_eq!(
        vars["normalize"],
        json!({"callId": "call-n1", "status": 200, "ok": true, "durationSeconds": 1.5, "output": {"bands": 4}})
    );
    assert_eq!(
        vars["product"],
        json!("/data/work/pair-1/normalized_ortho.tif")
    );
    assert!(
        vars.get("panGeom").is_none(),
        "'panGeom' stays local to its task: {vars}"
    );
    assert!(h.incidents().is_empty());
    h.assert_empty();
}

#[test]
fn pleiades_lost_callback_times_out() {
    let mut h = deployed(PLEIADES);
    let pi = h.create("pleiades-preprocessing", pair());
    worker_invokes(&mut h, "bundle", "otbcli", "call-b1");
    h.advance(2 * 3_600_000 - 1);
    assert!(!h.is_completed(pi), "still waiting just before PT2H");
    h.advance(1);
    assert!(h.is_completed(pi));
    let path = h.completed_elements(pi);
    assert_visits(
        &path,
        &[
            "bundle",
            "bundle-timeout",
            "function-timed-out",
            "timed-out",
            "pleiades-preprocessing",
        ],
    );
    assert_skips(&path, &["wait-bundle", "ortho", "failed", "product-ready"]);
    assert_eq!(
        h.terminated_elements(pi),
        ["wait-bundle", "bundle-timed-out", "chain"]
    );
    // The callback arriving late finds nobody waiting and changes nothing.
    callback(&mut h, "call-b1", 200, json!({}), 0);
    assert!(h.final_variables(pi).get("product").is_none());
    assert!(h.activate("faas", 10).is_empty());
    h.assert_empty();
}

#[test]
fn pleiades_failed_callback_ends_in_failed() {
    let mut h = deployed(PLEIADES);
    let pi = h.create("pleiades-preprocessing", pair());
    worker_invokes(&mut h, "bundle", "otbcli", "call-b1");
    callback(&mut h, "call-b1", 200, json!({}), 0);
    worker_invokes(&mut h, "ortho", "otbcli", "call-o1");
    // OpenFaaS reports the function's failure in the callback (X-Function-Status 500, the error as body).
    callback(
        &mut h,
        "call-o1",
        500,
        json!({"error": "No information in the metadata"}),
        0,
    );
    assert!(h.is_completed(pi));
    let path = h.completed_elements(pi);
    assert_visits(
        &path,
        &["wait-ortho", "ortho-ok", "function-failed", "failed"],
    );
    assert_skips(&path, &["normalize", "timed-out", "product-ready"]);
    assert_eq!(h.terminated_elements(pi), ["ortho-failed", "chain"]);
    let vars = h.final_variables(pi);
    assert_eq!(vars["ortho"]["status"], json!(500));
    assert!(vars.get("product").is_none());
    h.assert_empty();
}

#[test]
fn pleiades_error_thrown_by_the_worker_ends_in_failed() {
    let mut h = deployed(PLEIADES);
    let pi = h.create("pleiades-preprocessing", pair());
    worker_invokes(&mut h, "bundle", "otbcli", "call-b1");
    callback(&mut h, "call-b1", 200, json!({}), 0);
    worker_invokes(&mut h, "ortho", "otbcli", "call-o1");
    callback(&mut h, "call-o1", 200, json!({}), 0);
    // The worker cannot invoke normalize-product: it throws FUNCTION_FAILED, which has no boundary on the task
    // and is caught by the one on the subprocess.
    let job = one_job(&mut h, "faas");
    assert_eq!(job.element_id, "normalize");
    h.ok(Command::ThrowError {
        key: job.key,
        error_code: "FUNCTION_FAILED".into(),
        error_message: "function 'normalize-product' not found".into(),
        variables: Json(json!({"failure": "normalize-product: 404"})),
    });
    assert!(h.is_completed(pi));
    assert_visits(
        &h.completed_elements(pi),
        &["ortho-ok", "function-failed", "failed"],
    );
    assert_eq!(h.terminated_elements(pi), ["normalize", "chain"]);
    assert_eq!(
        h.final_variables(pi)["failure"],
        json!("normalize-product: 404")
    );
    h.assert_empty();
}

// tour/order-messages.bpmn ----------------------------------------------------------------------------------------

const ORDERS: &str = "tour/order-messages.bpmn";

/// Publishes `order-placed` as the shop would and returns the instance it started.
fn place_order(h: &mut Harness, order: &str) -> Key {
    let before = instances_of(h, "tour-order-messages").len();
    h.publish(
        "order-placed",
        order,
        json!({"orderId": order, "amount": 42}),
        0,
    );
    let all = instances_of(h, "tour-order-messages");
    assert_eq!(all.len(), before + 1, "'order-placed' starts an instance");
    *all.last().expect("an instance")
}

fn order_messages() {
    let mut h = deployed(ORDERS);
    let pi = place_order(&mut h, "order-1");
    h.publish("order-placed", "order-1", json!({"orderId": "order-1"}), 0);
    assert_eq!(
        instances_of(&h, "tour-order-messages").len(),
        1,
        "one instance per order while it runs"
    );

    let job = h.complete_one("send-confirmation", json!({"confirmationSent": true}));
    assert_eq!(job.element_id, "confirm-order");
    assert_eq!(job.variables.0["orderId"], json!("order-1"));
    // Two status requests while the payment is awaited: each sends a status, the payment is still awaited.
    for _ in 0..2 {
        h.publish("order-status-requested", "order-1", json!({}), 0);
        h.complete_one("send-status", json!({}));
    }
    h.publish("order-status-requested", "order-2", json!({}), 0);
    assert!(
        h.activate("send-status", 10).is_empty(),
        "another order's request does not correlate"
    );
    h.publish(
        "payment-received",
        "order-1",
        json!({"paymentId": "pay-7"}),
        0,
    );
    h.publish(
        "order-shipped",
        "order-1",
        json!({"trackingNumber": "TRK-1"}),
        0,
    );

    assert!(h.is_completed(pi));
    let path = h.completed_elements(pi);
    let main: Vec<_> = path
        .iter()
        .filter(|e| !["status-requested", "send-status", "status-sent"].contains(&e.as_str()))
        .cloned()
        .collect();
    assert_eq!(
        main,
        [
            "order-placed",
            "confirm-order",
            "wait-payment",
            "await-shipping",
            "shipped",
            "shipment-recorded",
            "delivered",
            "tour-order-messages"
        ]
    );
    assert_eq!(count(&path, "status-sent"), 2);
    assert_eq!(
        h.final_variables(pi),
        json!({"orderId": "order-1", "amount": 42, "confirmationSent": true, "paymentId": "pay-7",
               "trackingNumber": "TRK-1"})
    );
    // Once it ended, the same order id may start a new instance.
    place_order(&mut h, "order-1");
}

#[test]
fn order_cancelled_while_waiting_for_payment() {
    let mut h = deployed(ORDERS);
    let pi = place_order(&mut h, "order-9");
    h.complete_one("send-confirmation", json!({}));
    h.publish(
        "order-cancelled",
        "order-9",
        json!({"reason": "customer"}),
        0,
    );
    assert!(h.is_completed(pi));
    assert_eq!(h.terminated_elements(pi), ["wait-payment"]);
    let path = h.completed_elements(pi);
    assert_visits(
        &path,
        &[
            "confirm-order",
            "order-cancelled",
            "cancelled",
            "tour-order-messages",
        ],
    );
    assert_skips(&path, &["await-shipping", "delivered"]);
    assert_eq!(h.final_variables(pi)["reason"], json!("customer"));
    h.publish("payment-received", "order-9", json!({}), 0);
    h.assert_empty();
}

#[test]
fn order_not_shipped_within_48_hours() {
    let mut h = deployed(ORDERS);
    let pi = place_order(&mut h, "order-5");
    h.complete_one("send-confirmation", json!({}));
    h.publish("payment-received", "order-5", json!({}), 0);
    h.advance(48 * 3_600_000);
    assert!(h.is_completed(pi));
    let path = h.completed_elements(pi);
    assert_visits(
        &path,
        &[
            "await-shipping",
            "shipping-late",
            "late",
            "tour-order-messages",
        ],
    );
    assert_skips(&path, &["shipped", "delivered"]);
    h.publish("order-shipped", "order-5", json!({}), 0);
    h.assert_empty();
}

// tour/retries-and-errors.bpmn ------------------------------------------------------------------------------------

const RETRIES: &str = "tour/retries-and-errors.bpmn";

fn scene() -> Value {
    json!({"sceneId": "S2B_MSIL1C_20240101", "expectedChecksum": "sha256:ab12"})
}

fn retries_and_errors() {
    let mut h = deployed(RETRIES);
    let pi = h.create("tour-retries-and-errors", scene());
    let job = one_job(&mut h, "download-scene");
    assert_eq!(job.retries, 5, "retries=\"5\" on the task definition");
    h.ok(Command::FailJob {
        key: job.key,
        retries: 4,
        error_message: "mirror timed out".into(),
        retry_backoff_ms: 30_000,
        variables: Json(json!({"attempt": 1})),
    });
    assert!(h.activate("download-scene", 10).is_empty(), "backing off");
    h.advance(30_000);
    let again = one_job(&mut h, "download-scene");
    assert_eq!((again.key, again.retries), (job.key, 4));
    complete(
        &mut h,
        &again,
        json!({"checksum": "sha256:ab12", "path": "/data/scenes/S2B.SAFE"}),
    );
    let approval = h.complete_one("io.camunda.zeebe:userTask", json!({"approved": true}));
    assert_eq!(approval.element_id, "approve-order");
    h.complete_one("catalogue-scene", json!({"catalogueId": "cat-77"}));

    assert!(h.is_completed(pi));
    let path = h.completed_elements(pi);
    assert_visits(
        &path,
        &[
            "scene-requested",
            "fork",
            "fetch-start",
            "download",
            "verify",
            "checksum-ok",
            "fetched",
            "fetch-scene",
            "join",
            "catalogue",
            "catalogued",
            "tour-retries-and-errors",
        ],
    );
    assert_visits(&path, &["approve-order", "join"]);
    assert_eq!(count(&path, "join"), 1);
    assert_skips(&path, &["corrupt", "quarantine", "abandoned", "rejected"]);
    let vars = h.final_variables(pi);
    assert_eq!(vars["checksumOk"], json!(true));
    assert_eq!(vars["catalogueId"], json!("cat-77"));
    assert!(
        vars.get("attempt").is_none(),
        "FailJob variables are local to the task: {vars}"
    );
    h.assert_empty();
}

#[test]
fn corrupt_download_is_quarantined_and_terminates_the_instance() {
    let mut h = deployed(RETRIES);
    let pi = h.create("tour-retries-and-errors", scene());
    h.complete_one("download-scene", json!({"checksum": "sha256:ffff"}));
    assert!(
        h.is_completed(pi),
        "the terminate end event ends the instance"
    );
    let path = h.completed_elements(pi);
    assert_visits(
        &path,
        &[
            "verify",
            "checksum-ok",
            "download-corrupt",
            "quarantine",
            "abandoned",
        ],
    );
    assert_skips(&path, &["fetched", "join", "catalogue"]);
    let terminated = h.terminated_elements(pi);
    for id in ["corrupt", "fetch-scene", "approve-order"] {
        assert!(
            terminated.iter().any(|t| t == id),
            "'{id}' terminated: {terminated:?}"
        );
    }
    assert!(
        h.activate("io.camunda.zeebe:userTask", 10).is_empty(),
        "the user task's job is gone"
    );
    assert_eq!(h.final_variables(pi)["checksumOk"], json!(false));
    h.assert_empty();
}

#[test]
fn catalogue_rejection_is_caught_by_its_boundary_event() {
    let mut h = deployed(RETRIES);
    let pi = h.create("tour-retries-and-errors", scene());
    h.complete_one("download-scene", json!({"checksum": "sha256:ab12"}));
    h.complete_one("io.camunda.zeebe:userTask", json!({}));
    let job = one_job(&mut h, "catalogue-scene");
    h.ok(Command::ThrowError {
        key: job.key,
        error_code: "REJECTED".into(),
        error_message: "cloud cover above threshold".into(),
        variables: Json(json!({"reason": "cloudy"})),
    });
    assert!(h.is_completed(pi));
    assert_visits(
        &h.completed_elements(pi),
        &["join", "catalogue-rejected", "rejected"],
    );
    assert_eq!(h.terminated_elements(pi), ["catalogue"]);
    assert_eq!(h.final_variables(pi)["reason"], json!("cloudy"));
    h.assert_empty();
}

#[test]
fn download_out_of_retries_waits_in_an_incident() {
    let mut h = deployed(RETRIES);
    let pi = h.create("tour-retries-and-errors", scene());
    let job = one_job(&mut h, "download-scene");
    h.ok(Command::FailJob {
        key: job.key,
        retries: 0,
        error_message: "scene not found on any mirror".into(),
        retry_backoff_ms: 0,
        variables: Json(json!({})),
    });
    let (incident, record) = h.incidents().remove(0);
    assert_eq!(record.kind, IncidentKind::JobNoRetries);
    assert_eq!(record.message, "scene not found on any mirror");
    h.ok(Command::UpdateJobRetries {
        key: job.key,
        retries: 1,
    });
    h.ok(Command::ResolveIncident { key: incident });
    h.complete_one("download-scene", json!({"checksum": "sha256:ab12"}));
    h.complete_one("io.camunda.zeebe:userTask", json!({}));
    h.complete_one("catalogue-scene", json!({}));
    assert!(h.is_completed(pi));
}

#[test]

fn user_task_job_carries_the_assignment_headers() {
    let mut h = deployed(RETRIES);
    h.create("tour-retries-and-errors", scene());
    let job = one_job(&mut h, "io.camunda.zeebe:userTask");
    assert_eq!(
        header(&job, "io.camunda.zeebe:candidateGroups"),
        "[\"operators\"]"
    );
}

// tour/fan-out.bpmn -----------------------------------------------------------------------------------------------

const FAN_OUT: &str = "tour/fan-out.bpmn";

fn mosaic() -> Value {
    json!({"tileCount": 3, "work": "/data/mosaic", "mirrors": ["eu-1", "eu-2", "us-1"]})
}

/// Runs the fan-out process to completion; returns its instance.
fn run_fan_out(h: &mut Harness) -> Key {
    let pi = h.create("tour-fan-out", mosaic());
    let mut tiles = h.activate("process-tile", 10);
    assert_eq!(tiles.len(), 3, "parallel: one job per tile at once");
    for job in &tiles {
        let v = &job.variables.0;
        let tile = v["tile"].as_str().expect("the tile");
        assert_eq!(tile, format!("tile-{}", v["loopCounter"]));
        assert_eq!(
            v["output"],
            json!(format!("/data/mosaic/{tile}.tif")),
            "input mapping per tile"
        );
        assert_eq!(header(job, "function"), "otbcli");
        assert_eq!(
            render(
                header(job, "cmdline"),
                &json!({"input": tile, "output": v["output"]})
            ),
            format!("otbcli_BandMath -il {tile} -out /data/mosaic/{tile}.tif -exp im1b1")
        );
    }
    tiles.reverse();
    for job in &tiles {
        let tile = job.variables.0["tile"].as_str().unwrap().to_owned();
        complete(h, job, json!({"result": format!("{tile}: ok")}));
    }
    // Sequential: mirror after mirror, until one accepts.
    let first = one_job(h, "publish-mosaic");
    assert_eq!(first.variables.0["mirror"], json!("eu-1"));
    complete(h, &first, json!({"uploaded": false}));
    let second = one_job(h, "publish-mosaic");
    assert_eq!(second.variables.0["mirror"], json!("eu-2"));
    complete(
        h,
        &second,
        json!({"uploaded": true, "url": "https://eu-2.example/mosaic.tif"}),
    );
    assert!(
        h.activate("publish-mosaic", 10).is_empty(),
        "the completion condition stopped at eu-2"
    );
    // The approver is slow: reminded after an hour, still asked to approve.
    h.advance(3_600_000);
    h.complete_one("send-reminder", json!({}));
    let approval = one_job(h, "io.camunda.zeebe:userTask");
    assert_eq!(approval.element_id, "approve-mosaic");
    assert_eq!(approval.variables.0["tilesDone"], json!(3));
    complete(
        h,
        &approval,
        json!({"approved": true, "comment": "seams look fine"}),
    );
    pi
}

fn fan_out() {
    let mut h = deployed(FAN_OUT);
    let pi = run_fan_out(&mut h);
    assert!(h.is_completed(pi));
    let path = h.completed_elements(pi);
    assert_visits(
        &path,
        &[
            "mosaic-requested",
            "plan-tiles",
            "process-tile",
            "publish-mosaic",
            "approve-mosaic",
            "mosaic-published",
        ],
    );
    assert_eq!(count(&path, "reminder-sent"), 1);
    let vars = h.final_variables(pi);
    assert_eq!(vars["tiles"], json!(["tile-1", "tile-2", "tile-3"]));
    assert_eq!(
        vars["tileResults"],
        json!(["tile-1: ok", "tile-2: ok", "tile-3: ok"]),
        "in tile order"
    );
    assert_eq!(vars["uploads"], json!([false, true, null]));
    assert_eq!(vars["mosaicApproved"], json!(true));
    for local in [
        "approved",
        "comment",
        "tilesDone",
        "tile",
        "mirror",
        "loopCounter",
        "output",
    ] {
        assert!(vars.get(local).is_none(), "'{local}' stays local: {vars}");
    }
    h.assert_empty();
}

#[test]
fn fan_out_reminds_three_times_at_most() {
    let mut h = deployed(FAN_OUT);
    let pi = h.create(
        "tour-fan-out",
        json!({"tileCount": 1, "work": "/w", "mirrors": ["eu-1"]}),
    );
    h.complete_one("process-tile", json!({"result": "ok"}));
    h.complete_one("publish-mosaic", json!({"uploaded": true}));
    for _ in 0..5 {
        h.advance(3_600_000);
    }
    let reminders = h.activate("send-reminder", 10);
    assert_eq!(reminders.len(), 3, "R3/PT1H");
    h.complete_one("io.camunda.zeebe:userTask", json!({"approved": false}));
    assert!(
        !h.is_completed(pi),
        "the reminders' own paths are still running"
    );
    for job in &reminders {
        complete(&mut h, job, json!({}));
    }
    assert!(h.is_completed(pi));
    assert_eq!(h.final_variables(pi)["mosaicApproved"], json!(false));
    assert_eq!(h.final_variables(pi)["tileResults"], json!(["ok"]));
}

#[test]

fn feel_range_without_spaces_deploys() {
    let xml = load(FAN_OUT).replace("1 .. tileCount", "1..tileCount");
    assert!(xml.contains("for i in 1..tileCount return"));
    let mut h = Harness::new();
    h.deploy(FAN_OUT, &xml);
    let pi = h.create("tour-fan-out", mosaic());
    assert_eq!(
        h.variables(pi)["tiles"],
        json!(["tile-1", "tile-2", "tile-3"])
    );
}

#[test]
fn multi_instance_output_element_stays_local() {
    let mut h = deployed(FAN_OUT);
    let pi = run_fan_out(&mut h);
    let vars = h.final_variables(pi);
    for local in ["result", "uploaded"] {
        assert!(
            vars.get(local).is_none(),
            "'{local}' stays local to its inner instance: {vars}"
        );
    }
}

// tour/nightly-report.bpmn ----------------------------------------------------------------------------------------

fn nightly_report() {
    let mut h = deployed("tour/nightly-report.bpmn");
    const DAY: i64 = 24 * 3_600_000;
    h.advance(DAY - 1);
    assert!(
        instances_of(&h, "tour-nightly-report").is_empty(),
        "R/P1D first fires a day after deployment"
    );
    h.advance(1);
    let started = instances_of(&h, "tour-nightly-report");
    assert_eq!(started.len(), 1);
    let pi = started[0];
    let job = h.complete_one("classify-load", json!({"load": "high"}));
    assert_eq!(job.element_id, "classify-load");
    h.complete_one(
        "render-report",
        json!({"report": "/reports/2023-11-15.pdf"}),
    );
    h.advance(6 * 3_600_000 - 1);
    assert!(
        h.activate("publish-report", 10).is_empty(),
        "waiting six hours"
    );
    h.advance(1);
    let job = h.complete_one("publish-report", json!({"published": true}));
    assert_eq!(job.variables.0["report"], json!("/reports/2023-11-15.pdf"));
    assert!(h.is_completed(pi));
    assert_eq!(
        h.completed_elements(pi),
        [
            "every-night",
            "collect-logs",
            "classify-load",
            "render-report",
            "wait-office-hours",
            "report-ready",
            "publish-report",
            "report-published",
            "tour-nightly-report"
        ]
    );
    assert_eq!(
        h.final_variables(pi),
        json!({"load": "high", "report": "/reports/2023-11-15.pdf", "published": true})
    );
    h.advance(DAY - 6 * 3_600_000);
    assert_eq!(
        instances_of(&h, "tour-nightly-report").len(),
        2,
        "and again the next day"
    );
}
