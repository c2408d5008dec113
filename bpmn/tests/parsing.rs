//! Reading BPMN as tools write it (`tests/valid/*.bpmn`): any namespace prefix, vendor extensions that are not ours,
//! entities and CDATA in expressions, the diagram kept to the number, and a large process compiled fast.

use std::path::Path;
use std::time::Instant;

use apsis_bpmn::feel::Feelish;
use apsis_bpmn::graph::{BoundaryTrigger, ElementKind, EndKind, Trigger};
use apsis_bpmn::model::{Bounds, Diagram, Edge, Shape, TaskKind, TimerKind};
use apsis_bpmn::{compile, read, Compiled, Error, ProcessGraph};
use serde_json::{json, Value as Json};

fn load(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/valid")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn compiled(file: &str) -> Compiled {
    compile(file, &load(file)).unwrap_or_else(|e| panic!("{e}"))
}

fn el<'g>(g: &'g ProcessGraph, id: &str) -> &'g apsis_bpmn::graph::Element {
    g.element(g.find(id).unwrap_or_else(|| panic!("no element '{id}'")))
}

fn flow<'g>(g: &'g ProcessGraph, id: &str) -> &'g apsis_bpmn::graph::Flow {
    g.flows
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no flow '{id}'"))
}

fn condition(g: &ProcessGraph, id: &str) -> String {
    flow(g, id)
        .condition
        .as_ref()
        .unwrap_or_else(|| panic!("flow '{id}' has no condition"))
        .source()
        .to_owned()
}

fn shape<'d>(d: &'d Diagram, element: &str) -> &'d Shape {
    d.shapes
        .iter()
        .find(|s| s.element == element)
        .unwrap_or_else(|| panic!("no shape for '{element}'"))
}

fn edge<'d>(d: &'d Diagram, element: &str) -> &'d Edge {
    d.edges
        .iter()
        .find(|e| e.element == element)
        .unwrap_or_else(|| panic!("no edge for '{element}'"))
}

fn bounds(x: f64, y: f64, width: f64, height: f64) -> Bounds {
    Bounds {
        x,
        y,
        width,
        height,
    }
}

fn ids(g: &ProcessGraph) -> Vec<&str> {
    g.elements.iter().map(|e| e.id.as_str()).collect()
}

fn static_text(f: &Feelish) -> &str {
    match f {
        Feelish::Static(s) => s,
        Feelish::Expr(e) => panic!("expected a static value, found ={}", e.source()),
    }
}

fn expr_source(f: &Feelish) -> &str {
    match f {
        Feelish::Expr(e) => e.source(),
        Feelish::Static(s) => panic!("expected an expression, found static '{s}'"),
    }
}

fn vars(v: Json) -> std::collections::BTreeMap<String, Json> {
    serde_json::from_value(v).expect("an object")
}

#[test]
fn bpmn2_prefix_and_other_di_prefixes() {
    let c = compiled("prefix-bpmn2.bpmn");
    let g = &c.processes[0];
    assert_eq!(g.bpmn_process_id, "bpmn2-prefix");
    // auditing, monitoring and property are process children, not flow nodes.
    assert_eq!(
        ids(g),
        [
            "bpmn2-prefix",
            "start",
            "charge",
            "paid-now",
            "payment",
            "done"
        ]
    );
    match &el(g, "charge").kind {
        ElementKind::JobTask { task, job } => {
            assert_eq!(*task, TaskKind::Service);
            assert_eq!(static_text(&job.job_type), "charge");
            assert_eq!(static_text(&job.retries), "2");
        }
        other => panic!("{other:?}"),
    }
    let charge = el(g, "charge");
    assert_eq!(charge.inputs.len(), 1);
    assert_eq!(charge.inputs[0].target, "amount");
    assert_eq!(expr_source(&charge.outputs[0].source), "receipt.id");
    assert_eq!(condition(g, "Flow_now"), "receiptId != null");
    match &el(g, "paid-now").kind {
        ElementKind::ExclusiveGateway { default: Some(d) } => {
            assert_eq!(g.flow(*d).id, "Flow_later")
        }
        other => panic!("{other:?}"),
    }
    match &el(g, "payment").kind {
        ElementKind::IntermediateCatch(Trigger::Message(m)) => {
            assert_eq!(static_text(&m.name), "payment-received");
            assert_eq!(
                expr_source(m.correlation_key.as_ref().expect("key")),
                "orderId"
            );
        }
        other => panic!("{other:?}"),
    }
    // bpmndi: with omgdc:/omgdi: for bounds and waypoints, decimals written as "100.0".
    let d = &g.diagram;
    assert_eq!(shape(d, "charge").bounds, bounds(186.0, 78.0, 110.0, 80.0));
    assert_eq!(
        shape(d, "start").label,
        Some(bounds(106.0, 136.0, 24.0, 15.0))
    );
    assert_eq!(
        edge(d, "Flow_later").waypoints,
        [(371.0, 143.0), (371.0, 218.0), (446.0, 218.0)]
    );
    assert_eq!(
        edge(d, "Flow_later").id.as_deref(),
        Some("BPMNEdge_Flow_later")
    );
}

#[test]
fn messages_name_tags_bpmn_whatever_the_prefix() {
    let broken =
        load("prefix-bpmn2.bpmn").replace(r#"<z:taskDefinition type="charge" retries="2" />"#, "");
    let Err(Error::Invalid { problems, .. }) = compile("prefix-bpmn2.bpmn", &broken) else {
        panic!("compiled without a task definition");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].element_id.as_deref(), Some("charge"));
    assert!(
        problems[0]
            .message
            .starts_with("Expected bpmn:serviceTask to have a 'zeebe:taskDefinition'"),
        "{}",
        problems[0].message
    );
    let broken =
        load("default-namespace.bpmn").replace("<startEvent id=\"start\">", "<startEvent>");
    let Err(Error::Invalid { problems, .. }) = compile("default-namespace.bpmn", &broken) else {
        panic!("compiled without a start event id");
    };
    assert!(
        problems
            .iter()
            .any(|p| p.message == "Expected bpmn:startEvent to have an 'id', but it has none"),
        "{problems:?}"
    );
}

#[test]
fn default_namespace_without_prefix() {
    let c = compiled("default-namespace.bpmn");
    let g = &c.processes[0];
    assert_eq!(
        ids(g),
        [
            "default-namespace",
            "start",
            "review",
            "too-slow",
            "reviewed",
            "timed-out",
            "review-start",
            "await-verdict",
            "review-end",
        ]
    );
    let review = g.find("review").expect("review");
    assert_eq!(g.starts(review).none_start, g.find("review-start"));
    assert_eq!(el(g, "await-verdict").scope, Some(review));
    match &el(g, "await-verdict").kind {
        ElementKind::ReceiveTask { message } => {
            assert_eq!(static_text(&message.name), "verdict");
            assert_eq!(
                expr_source(message.correlation_key.as_ref().expect("key")),
                "documentId"
            );
        }
        other => panic!("{other:?}"),
    }
    match &el(g, "too-slow").kind {
        ElementKind::Boundary(b) => {
            assert_eq!(b.attached_to, review);
            assert!(b.interrupting);
            match &b.trigger {
                BoundaryTrigger::Timer(t) => {
                    assert_eq!(t.kind, TimerKind::Duration);
                    assert_eq!(static_text(&t.value), "P2D");
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(el(g, "review").boundaries, [g.find("too-slow").unwrap()]);
    assert!(matches!(
        el(g, "timed-out").kind,
        ElementKind::EndEvent(EndKind::Terminate)
    ));
    let d = &g.diagram;
    assert_eq!(shape(d, "review").is_expanded, Some(true));
    assert_eq!(shape(d, "review").bounds, bounds(240.0, 80.0, 420.0, 160.0));
    assert_eq!(
        shape(d, "too-slow").label,
        Some(bounds(599.0, 265.0, 43.0, 14.0))
    );
}

#[test]
fn camunda_modeler_output_with_vendor_extensions() {
    let c = compiled("modeler-extensions.bpmn");
    let defs = &c.definitions;
    assert_eq!(defs.id.as_deref(), Some("Definitions_0w6mbzk"));
    // Lanes, annotations, associations, data objects and groups are drawn, not executed.
    let model_nodes: Vec<&str> = defs.processes[0]
        .scope
        .nodes
        .iter()
        .map(|n| n.id.as_str())
        .collect();
    assert_eq!(
        model_nodes,
        [
            "order-placed",
            "check-stock",
            "in-stock",
            "pick",
            "approve",
            "pack",
            "shipped",
            "backordered",
            "remind",
            "remind-approver",
            "reminded",
        ]
    );
    let roots: Vec<(&str, Option<&str>)> = defs
        .other_roots
        .iter()
        .map(|r| (r.tag.as_str(), r.id.as_deref()))
        .collect();
    assert_eq!(
        roots,
        [
            ("bpmn:collaboration", Some("Collaboration_1")),
            ("bpmn:category", Some("Category_1")),
        ]
    );

    assert_eq!(c.processes.len(), 1);
    let g = &c.processes[0];
    assert_eq!(g.name.as_deref(), Some("Order handling"));
    assert_eq!(g.elements.len(), 1 + 11 + 3 + 2);
    match &el(g, "check-stock").kind {
        ElementKind::JobTask { job, .. } => {
            assert_eq!(static_text(&job.job_type), "check-stock");
            assert_eq!(static_text(&job.retries), "5");
            assert_eq!(
                job.headers,
                [
                    ("warehouse".to_owned(), "north".to_owned()),
                    (
                        "resultExpression".to_owned(),
                        "={stock: response.body.count}".to_owned()
                    ),
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    // A user task with zeebe:userTask (a Camunda user task) is served as a job of Zeebe's user-task type.
    match &el(g, "approve").kind {
        ElementKind::JobTask { task, job } => {
            assert_eq!(*task, TaskKind::User);
            assert_eq!(
                static_text(&job.job_type),
                apsis_bpmn::compile::USER_TASK_JOB_TYPE
            );
        }
        other => panic!("{other:?}"),
    }
    match &el(g, "remind").kind {
        ElementKind::Boundary(b) => {
            assert!(!b.interrupting);
            match &b.trigger {
                BoundaryTrigger::Timer(t) => {
                    assert_eq!(t.kind, TimerKind::Cycle);
                    assert_eq!(static_text(&t.value), "R3/PT1H");
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    match &el(g, "remind-approver").kind {
        ElementKind::JobTask { task, job } => {
            assert_eq!(*task, TaskKind::Send);
            assert_eq!(expr_source(&job.job_type), "\"notify-\" + channel");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(condition(g, "Flow_yes"), "stock > 0");
    assert!(matches!(
        el(g, "pick-items").kind,
        ElementKind::PassThrough {
            task: TaskKind::Manual
        }
    ));
    let pack = g.find("pack").expect("pack");
    assert_eq!(g.starts(pack).none_start, g.find("pack-start"));

    // The drawing, both planes (the collapsed subprocess has its own), to the number.
    let d = &g.diagram;
    assert_eq!(d, &defs.diagram);
    assert_eq!((d.shapes.len(), d.edges.len()), (23, 15));
    let pool = shape(d, "Participant_shop");
    assert_eq!(pool.id.as_deref(), Some("Participant_shop_di"));
    assert_eq!(pool.bounds, bounds(129.0, 80.0, 1241.0, 420.0));
    assert_eq!(pool.label, None, "an empty BPMNLabel has no bounds");
    assert_eq!(
        shape(d, "Participant_customer").bounds,
        bounds(129.0, -20.0, 1241.0, 60.0)
    );
    assert_eq!(
        shape(d, "Lane_office").bounds,
        bounds(159.0, 330.0, 1211.0, 170.0)
    );
    assert_eq!(shape(d, "pick").is_expanded, Some(true));
    assert_eq!(shape(d, "pack").is_expanded, None);
    assert_eq!(
        shape(d, "pack-start").bounds,
        bounds(180.0, 160.0, 36.0, 36.0)
    );
    assert_eq!(
        shape(d, "in-stock").label,
        Some(bounds(456.5, 125.0, 47.0, 14.0))
    );
    assert_eq!(
        shape(d, "order-placed").label,
        Some(bounds(198.0, 205.0, 65.0, 14.0))
    );
    assert_eq!(
        shape(d, "check-stock").bounds,
        bounds(300.0, 140.0, 100.0, 80.0)
    );
    assert_eq!(
        shape(d, "TextAnnotation_approve").bounds,
        bounds(760.0, 420.0, 150.0, 41.0)
    );
    let yes = edge(d, "Flow_yes");
    assert_eq!(yes.waypoints, [(505.0, 180.0), (560.0, 180.0)]);
    assert_eq!(yes.label, Some(bounds(524.0, 162.0, 18.0, 14.0)));
    assert_eq!(
        edge(d, "Flow_0d1").waypoints,
        [
            (1020.0, 468.0),
            (1020.0, 488.0),
            (1070.0, 488.0),
            (1070.0, 440.0),
            (1090.0, 440.0),
        ]
    );
    assert_eq!(
        edge(d, "Association_approve").waypoints,
        [(940.0, 427.32), (910.0, 435.17)]
    );
    assert_eq!(
        edge(d, "Flow_0c1").waypoints,
        [(216.0, 178.0), (272.0, 178.0)]
    );
}

#[test]
fn read_keeps_the_model_and_diagram_without_validating() {
    let defs = read("modeler-extensions.bpmn", &load("modeler-extensions.bpmn"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(defs.pos.line, 2);
    let p = &defs.processes[0];
    assert_eq!(
        (p.id.as_str(), p.pos.line, p.pos.column),
        ("order-handling", 9, 3)
    );
    let approve = p
        .scope
        .nodes
        .iter()
        .find(|n| n.id == "approve")
        .expect("approve");
    assert_eq!(approve.tag, "bpmn:userTask");
    assert!(approve.zeebe.form_definition.is_some());
    assert_eq!(defs.diagram.shapes.len(), 23);
}

#[test]
fn entities_and_cdata_in_expressions() {
    let c = compiled("entities.bpmn");
    let g = &c.processes[0];
    assert_eq!(g.name.as_deref(), Some("Entities & CDATA in expressions"));
    assert_eq!(
        condition(g, "Flow_range"),
        "amount > 100 and amount <= 1000"
    );
    assert_eq!(
        condition(g, "Flow_multiline"),
        "if priority = \"high\"\nthen true\nelse amount > 5000"
    );
    assert_eq!(
        condition(g, "Flow_cdata"),
        "company = \"Smith & Sons\" and amount < 10"
    );
    // Text, CDATA and entities in one element join up; the surrounding whitespace goes.
    assert_eq!(
        condition(g, "Flow_mixed"),
        "count(numbers) >= 3 and contact != \"\""
    );
    let quote = el(g, "quote");
    let inputs: Vec<(&str, &Feelish)> = quote
        .inputs
        .iter()
        .map(|m| (m.target.as_str(), &m.source))
        .collect();
    assert_eq!(inputs.len(), 4);
    assert_eq!(expr_source(inputs[0].1), "\"Smith & Sons\"");
    // In attributes, character references survive attribute-value normalisation.
    assert_eq!(expr_source(inputs[1].1), "[1,\n2,\t3]");
    assert_eq!(expr_source(inputs[2].1), "\"it's 'quoted'\"");
    assert_eq!(static_text(inputs[3].1), "O'Brien <sales>");
    let flow_name = c.definitions.processes[0]
        .scope
        .flows
        .iter()
        .find(|f| f.id == "Flow_range")
        .and_then(|f| f.name.as_deref());
    assert_eq!(flow_name, Some("100 < amount ≤ 1000"));

    // And they mean what they say.
    let cond = |id: &str, v: Json| {
        flow(g, id)
            .condition
            .as_ref()
            .unwrap()
            .evaluate_bool(&vars(v))
            .unwrap_or_else(|e| panic!("{id}: {e}"))
    };
    assert!(cond("Flow_range", json!({"amount": 500})));
    assert!(!cond("Flow_range", json!({"amount": 50})));
    assert!(cond(
        "Flow_multiline",
        json!({"priority": "high", "amount": 1})
    ));
    assert!(!cond(
        "Flow_multiline",
        json!({"priority": "low", "amount": 1})
    ));
    assert!(cond(
        "Flow_cdata",
        json!({"company": "Smith & Sons", "amount": 5})
    ));
    assert!(cond(
        "Flow_mixed",
        json!({"numbers": [1, 2, 3], "contact": "x"})
    ));
    let Feelish::Expr(numbers) = &quote.inputs[1].source else {
        unreachable!()
    };
    assert_eq!(
        numbers.evaluate(&vars(json!({}))).unwrap(),
        json!([1, 2, 3])
    );
}

fn push_flow(
    process: &mut String,
    edges: &mut String,
    (i, from, to): (usize, &str, &str),
    x: usize,
) {
    process.push_str(&format!(
        "    <bpmn:sequenceFlow id=\"Flow_{i}\" sourceRef=\"{from}\" targetRef=\"{to}\" />\n"
    ));
    edges.push_str(&format!(
        "      <bpmndi:BPMNEdge id=\"Flow_{i}_di\" bpmnElement=\"Flow_{i}\">\n        <di:waypoint x=\"{x}\" y=\"120\" />\n        <di:waypoint x=\"{}\" y=\"120\" />\n      </bpmndi:BPMNEdge>\n",
        x + 50
    ));
}

/// `n` service tasks in a chain, each with a task definition and a mapping, drawn as the Modeler draws them.
fn chain(n: usize) -> String {
    let mut process = String::new();
    let mut shapes = String::new();
    let mut edges = String::new();
    process.push_str("    <bpmn:startEvent id=\"start\">\n      <bpmn:outgoing>Flow_0</bpmn:outgoing>\n    </bpmn:startEvent>\n");
    shapes.push_str("      <bpmndi:BPMNShape id=\"start_di\" bpmnElement=\"start\">\n        <dc:Bounds x=\"100\" y=\"102\" width=\"36\" height=\"36\" />\n      </bpmndi:BPMNShape>\n");
    let mut previous = "start".to_owned();
    for i in 0..n {
        let id = format!("task-{i}");
        process.push_str(&format!(
            "    <bpmn:serviceTask id=\"{id}\" name=\"Step {i}\">\n      <bpmn:extensionElements>\n        <zeebe:taskDefinition type=\"step\" retries=\"=retries + {i}\" />\n        <zeebe:ioMapping>\n          <zeebe:input source=\"=items[{i} + 1]\" target=\"item\" />\n        </zeebe:ioMapping>\n      </bpmn:extensionElements>\n      <bpmn:incoming>Flow_{i}</bpmn:incoming>\n      <bpmn:outgoing>Flow_{}</bpmn:outgoing>\n    </bpmn:serviceTask>\n",
            i + 1
        ));
        shapes.push_str(&format!(
            "      <bpmndi:BPMNShape id=\"{id}_di\" bpmnElement=\"{id}\">\n        <dc:Bounds x=\"{}\" y=\"80\" width=\"100\" height=\"80\" />\n      </bpmndi:BPMNShape>\n",
            186 + 150 * i
        ));
        push_flow(&mut process, &mut edges, (i, &previous, &id), 136 + 150 * i);
        previous = id;
    }
    process.push_str(&format!(
        "    <bpmn:endEvent id=\"end\">\n      <bpmn:incoming>Flow_{n}</bpmn:incoming>\n    </bpmn:endEvent>\n"
    ));
    push_flow(
        &mut process,
        &mut edges,
        (n, &previous, "end"),
        136 + 150 * n,
    );
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_chain" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.31.0" modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.6.0">
  <bpmn:process id="chain" name="A long chain" isExecutable="true">
{process}  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="chain">
{shapes}{edges}    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"#
    )
}

#[test]
fn a_large_generated_process_compiles_quickly() {
    const TASKS: usize = 2_000;
    let xml = chain(TASKS);
    let started = Instant::now();
    read("chain.bpmn", &xml).unwrap_or_else(|e| panic!("{e}"));
    let read_took = started.elapsed();
    let started = Instant::now();
    let c = compile("chain.bpmn", &xml).unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    // A benchmark figure, not an assertion: debug builds are several times slower than release ones, and most of
    // the time is FEEL parsing (two expressions per task).
    println!(
        "chain of {TASKS} service tasks ({} KiB of XML, {} shapes, {} edges): read in {read_took:?}, \
         read + validated + compiled in {took:?}",
        xml.len() / 1024,
        c.definitions.diagram.shapes.len(),
        c.definitions.diagram.edges.len()
    );
    let g = &c.processes[0];
    assert_eq!(g.elements.len(), TASKS + 3);
    assert_eq!(g.flows.len(), TASKS + 1);
    assert_eq!(c.definitions.diagram.shapes.len(), TASKS + 1);
    assert_eq!(c.definitions.diagram.edges.len(), TASKS + 1);
    let last = el(g, &format!("task-{}", TASKS - 1));
    assert_eq!(last.incoming.len(), 1);
    assert_eq!(g.flow(last.outgoing[0]).target, g.find("end").unwrap());
    assert_eq!(expr_source(&last.inputs[0].source), "items[1999 + 1]");

    // The same chain with one broken task among 2,000 is reported at its line.
    let broken = xml.replacen(
        "type=\"step\" retries=\"=retries + 1234\"",
        "type=\"\" retries=\"=retries + 1234\"",
        1,
    );
    let Err(Error::Invalid { problems, .. }) = compile("chain.bpmn", &broken) else {
        panic!("compiled with an empty job type");
    };
    let line = xml
        .lines()
        .position(|l| l.contains("retries=\"=retries + 1234\""))
        .unwrap() as u32
        + 1;
    assert_eq!(problems.len(), 1);
    assert_eq!((problems[0].pos.line, problems[0].pos.column), (line, 9));
    assert_eq!(problems[0].element_id.as_deref(), Some("task-1234"));
}
