//! Engine scenarios, one per element and behaviour. Every command of every scenario is also replayed from the log
//! and reloaded from a snapshot (see `common::Harness::run`), so each scenario checks replay == live throughout.

mod common;

use apsis_core::command::ProcessSelector;
use apsis_core::event::IncidentKind;
use apsis_core::{Command, Effect, Json, RejectionKind, Response};
use common::*;
use serde_json::json;

fn one_task(job_type: &str) -> String {
    bpmn(
        "p",
        &format!(
            "<bpmn:startEvent id=\"start\" />{}<bpmn:endEvent id=\"end\" />{}{}",
            service("task", job_type),
            flow("f1", "start", "task"),
            flow("f2", "task", "end")
        ),
        "",
    )
}

#[test]
fn none_start_service_task_none_end() {
    let mut h = Harness::new();
    h.deploy("p.bpmn", &one_task("work"));
    let pi = h.create("p", json!({"a": 1}));
    let job = h.complete_one("work", json!({"b": 2}));
    assert_eq!(job.variables, Json(json!({"a": 1})));
    assert_eq!(job.element_id, "task");
    assert_eq!(job.process_instance_key, pi);
    assert!(h.is_completed(pi));
    assert_eq!(h.completed_elements(pi), ["start", "task", "end", "p"]);
    assert_eq!(h.final_variables(pi), json!({"a": 1, "b": 2}));
    h.assert_empty();
}

#[test]
fn keys_follow_zeebe_encoding() {
    let mut h = Harness::new();
    let Response::Deployed { key, processes } = h.deploy("p.bpmn", &one_task("work")) else {
        panic!()
    };
    assert_eq!(key.partition(), 1);
    assert_eq!(processes[0].process_definition_key.partition(), 1);
    assert_eq!(processes[0].version, 1);
}

#[test]
fn redeploying_identical_resource_keeps_version() {
    let mut h = Harness::new();
    let Response::Deployed {
        processes: first, ..
    } = h.deploy("p.bpmn", &one_task("work"))
    else {
        panic!()
    };
    let Response::Deployed {
        processes: again, ..
    } = h.deploy("p.bpmn", &one_task("work"))
    else {
        panic!()
    };
    assert_eq!(
        first[0].process_definition_key,
        again[0].process_definition_key
    );
    assert_eq!(again[0].version, 1);
    let Response::Deployed {
        processes: changed, ..
    } = h.deploy("p.bpmn", &one_task("other"))
    else {
        panic!()
    };
    assert_eq!(changed[0].version, 2);
    assert_ne!(
        changed[0].process_definition_key,
        first[0].process_definition_key
    );
}

#[test]
fn deployment_is_atomic_and_reports_every_problem() {
    let mut h = Harness::new();
    let bad = bpmn(
        "bad",
        "<bpmn:startEvent id=\"s\" /><bpmn:serviceTask id=\"t\" />",
        "",
    );
    let r = h.rejected(Command::Deploy {
        resources: vec![
            apsis_core::command::Resource {
                name: "good.bpmn".into(),
                content: one_task("x"),
            },
            apsis_core::command::Resource {
                name: "bad.bpmn".into(),
                content: bad,
            },
        ],
    });
    assert_eq!(r.kind, RejectionKind::InvalidArgument);
    assert!(r.message.contains("bad.bpmn"), "{}", r.message);
    assert!(r.message.contains("element 't'"), "{}", r.message);
    assert!(
        h.state.deployments.latest("p").is_none(),
        "nothing of the deployment may be kept"
    );
}

#[test]
fn create_instance_rejections() {
    let mut h = Harness::new();
    let r = h.rejected(Command::CreateProcessInstance {
        process: ProcessSelector::Id {
            bpmn_process_id: "nope".into(),
            version: -1,
        },
        variables: Json(json!({})),
        await_result: false,
    });
    assert_eq!(r.kind, RejectionKind::NotFound);
    assert_eq!(
        r.message,
        "Expected to find process definition with process ID 'nope', but none found"
    );
    h.deploy("p.bpmn", &one_task("w"));
    let r = h.rejected(Command::CreateProcessInstance {
        process: ProcessSelector::Id {
            bpmn_process_id: "p".into(),
            version: -1,
        },
        variables: Json(json!([1])),
        await_result: false,
    });
    assert_eq!(r.kind, RejectionKind::InvalidArgument);
    let msg_start = bpmn(
        "m",
        &format!("<bpmn:startEvent id=\"s\"><bpmn:messageEventDefinition messageRef=\"msg\" /></bpmn:startEvent><bpmn:endEvent id=\"e\" />{}", flow("f", "s", "e")),
        "<bpmn:message id=\"msg\" name=\"go\" />",
    );
    h.deploy("m.bpmn", &msg_start);
    let r = h.rejected(Command::CreateProcessInstance {
        process: ProcessSelector::Id {
            bpmn_process_id: "m".into(),
            version: -1,
        },
        variables: Json(json!({})),
        await_result: false,
    });
    assert_eq!(r.kind, RejectionKind::InvalidState);
}

#[test]
fn await_result_effect_carries_root_variables() {
    let mut h = Harness::new();
    h.deploy("p.bpmn", &one_task("w"));
    let Response::ProcessInstanceCreated {
        process_instance_key: pi,
        ..
    } = h.ok(Command::CreateProcessInstance {
        process: ProcessSelector::Id {
            bpmn_process_id: "p".into(),
            version: -1,
        },
        variables: Json(json!({"x": 1})),
        await_result: true,
    })
    else {
        panic!()
    };
    h.complete_one("w", json!({"y": 2}));
    let result = h.effects.iter().find_map(|e| match e {
        Effect::ProcessInstanceResult {
            process_instance_key,
            variables,
            ..
        } if *process_instance_key == pi => Some(variables.clone()),
        _ => None,
    });
    assert_eq!(result, Some(Json(json!({"x": 1, "y": 2}))));
}

#[test]
fn manual_undefined_tasks_and_none_throw_pass_through() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            "<bpmn:startEvent id=\"s\" /><bpmn:manualTask id=\"m\" /><bpmn:task id=\"t\" /><bpmn:intermediateThrowEvent id=\"th\" /><bpmn:endEvent id=\"e\" />{}{}{}{}",
            flow("f1", "s", "m"), flow("f2", "m", "t"), flow("f3", "t", "th"), flow("f4", "th", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({}));
    assert!(h.is_completed(pi));
    assert_eq!(h.completed_elements(pi), ["s", "m", "t", "th", "e", "p"]);
}

#[test]
fn exclusive_gateway_conditions_default_and_incident() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:exclusiveGateway id="g" default="fd" />
            <bpmn:endEvent id="big" /><bpmn:endEvent id="small" /><bpmn:endEvent id="other" />
            {}
            <bpmn:sequenceFlow id="fb" sourceRef="g" targetRef="big"><bpmn:conditionExpression>= x &gt; 10</bpmn:conditionExpression></bpmn:sequenceFlow>
            <bpmn:sequenceFlow id="fs" sourceRef="g" targetRef="small"><bpmn:conditionExpression>= x &lt;= 10</bpmn:conditionExpression></bpmn:sequenceFlow>
            <bpmn:sequenceFlow id="fd" sourceRef="g" targetRef="other" />"#,
            flow("f0", "s", "g")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let a = h.create("p", json!({"x": 50}));
    assert_eq!(h.completed_elements(a), ["s", "g", "big", "p"]);
    let b = h.create("p", json!({"x": 1}));
    assert_eq!(h.completed_elements(b), ["s", "g", "small", "p"]);
    // x missing: `x > 10` is null, not a boolean: an incident, as in Zeebe (the default flow is no fallback).
    let c = h.create("p", json!({}));
    assert_eq!(h.incidents().len(), 1);
    assert!(
        h.incidents()[0].1.message.contains("'BOOLEAN'"),
        "{}",
        h.incidents()[0].1.message
    );
    h.ok(Command::CancelProcessInstance { key: c });
    assert!(
        h.incidents().is_empty(),
        "canceling resolves the instance's incidents"
    );

    // Without a default flow, no match raises an incident; resolving after fixing the variable continues.
    let xml = bpmn(
        "q",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:exclusiveGateway id="g" /><bpmn:endEvent id="e" />{}
            <bpmn:sequenceFlow id="fb" sourceRef="g" targetRef="e"><bpmn:conditionExpression>= x = 1</bpmn:conditionExpression></bpmn:sequenceFlow>"#,
            flow("f0", "s", "g")
        ),
        "",
    );
    h.deploy("q.bpmn", &xml);
    let d = h.create("q", json!({"x": 2}));
    let incidents = h.incidents();
    assert_eq!(incidents.len(), 1);
    let (ikey, inc) = &incidents[0];
    assert_eq!(inc.kind, IncidentKind::ConditionError);
    assert!(inc.message.contains("'g'"), "{}", inc.message);
    h.ok(Command::SetVariables {
        element_instance_key: d,
        variables: Json(json!({"x": 1})),
        local: false,
    });
    h.ok(Command::ResolveIncident { key: *ikey });
    assert!(h.is_completed(d));
}

#[test]
fn parallel_gateway_fork_and_join() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            "<bpmn:startEvent id=\"s\" /><bpmn:parallelGateway id=\"fork\" />{}{}<bpmn:parallelGateway id=\"join\" /><bpmn:endEvent id=\"e\" />{}{}{}{}{}{}",
            service("a", "a"), service("b", "b"),
            flow("f0", "s", "fork"), flow("f1", "fork", "a"), flow("f2", "fork", "b"), flow("f3", "a", "join"), flow("f4", "b", "join"), flow("f5", "join", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({}));
    h.complete_one("b", json!({"fromB": true}));
    assert!(!h.is_completed(pi), "the join must wait for both branches");
    h.complete_one("a", json!({"fromA": true}));
    assert!(h.is_completed(pi));
    let done = h.completed_elements(pi);
    assert_eq!(
        done.iter().filter(|e| *e == "join").count(),
        1,
        "join activates once: {done:?}"
    );
    assert_eq!(h.final_variables(pi), json!({"fromB": true, "fromA": true}));
    h.assert_empty();
}

#[test]
fn job_fail_retry_backoff_incident_update_retries_resolve() {
    let mut h = Harness::new();
    h.deploy("p.bpmn", &one_task("w"));
    let pi = h.create("p", json!({}));
    let job = h.activate("w", 1).remove(0);
    assert_eq!(job.retries, 3);
    h.ok(Command::FailJob {
        key: job.key,
        retries: 2,
        error_message: "boom".into(),
        retry_backoff_ms: 5_000,
        variables: Json(json!({"attempt": 1})),
    });
    assert!(h.activate("w", 1).is_empty(), "backing off");
    h.advance(5_000);
    let job = h.activate("w", 1).remove(0);
    assert_eq!(job.retries, 2);
    h.ok(Command::FailJob {
        key: job.key,
        retries: 0,
        error_message: "it broke".into(),
        retry_backoff_ms: 0,
        variables: Json(json!({})),
    });
    let (ikey, inc) = h.incidents().remove(0);
    assert_eq!(inc.kind, IncidentKind::JobNoRetries);
    assert_eq!(inc.message, "it broke");
    let r = h.rejected(Command::ResolveIncident { key: ikey });
    assert_eq!(r.kind, RejectionKind::InvalidState);
    assert!(r.message.contains("has no retries left"), "{}", r.message);
    h.ok(Command::UpdateJobRetries {
        key: job.key,
        retries: 1,
    });
    h.ok(Command::ResolveIncident { key: ikey });
    h.complete_one("w", json!({}));
    assert!(h.is_completed(pi));
}

#[test]
fn job_rejections_use_zeebe_kinds() {
    let mut h = Harness::new();
    h.deploy("p.bpmn", &one_task("w"));
    h.create("p", json!({}));
    let r = h.rejected(Command::CompleteJob {
        key: apsis_core::Key(42),
        variables: Json(json!({})),
    });
    assert_eq!(r.kind, RejectionKind::NotFound);
    assert_eq!(
        r.message,
        "Expected to complete job with key '42', but no such job was found"
    );
    let key = h.state.jobs.by_key.keys().next().copied().unwrap();
    let r = h.rejected(Command::FailJob {
        key,
        retries: 1,
        error_message: String::new(),
        retry_backoff_ms: 0,
        variables: Json(json!({})),
    });
    assert_eq!(
        r.kind,
        RejectionKind::InvalidState,
        "failing a job that is not activated"
    );
}

#[test]
fn job_timeout_makes_it_activatable_again_and_old_completion_is_not_found() {
    let mut h = Harness::new();
    h.deploy("p.bpmn", &one_task("w"));
    let pi = h.create("p", json!({}));
    let first = h.activate("w", 1).remove(0);
    h.advance(60_001);
    let second = h.activate("w", 1).remove(0);
    assert_eq!(first.key, second.key);
    assert_eq!(
        second.retries, first.retries,
        "a timeout does not use a retry"
    );
    h.ok(Command::UpdateJobTimeout {
        key: second.key,
        timeout_ms: 120_000,
    });
    h.advance(100_000);
    assert!(h.activate("w", 1).is_empty(), "timeout was extended");
    h.ok(Command::CompleteJob {
        key: second.key,
        variables: Json(json!({})),
    });
    assert!(h.is_completed(pi));
    let r = h.rejected(Command::CompleteJob {
        key: first.key,
        variables: Json(json!({})),
    });
    assert_eq!(r.kind, RejectionKind::NotFound);
}

#[test]
fn activation_respects_max_and_fetch_variables() {
    let mut h = Harness::new();
    h.deploy("p.bpmn", &one_task("w"));
    for i in 0..5 {
        h.create("p", json!({"i": i, "big": "x"}));
    }
    let jobs = h.ok(Command::ActivateJobs {
        job_type: "w".into(),
        worker: "me".into(),
        timeout_ms: 1000,
        max_jobs: 3,
        fetch_variables: vec!["i".into()],
    });
    let Response::JobsActivated { jobs } = jobs else {
        panic!()
    };
    assert_eq!(jobs.len(), 3);
    assert_eq!(jobs[0].variables, Json(json!({"i": 0})));
    assert_eq!(jobs[0].worker, "me");
    assert_eq!(jobs[0].deadline, h.now + 1000);
    assert_eq!(h.activate("w", 10).len(), 2);
}

#[test]
fn task_headers_and_feel_job_type_and_retries() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:serviceTask id="t"><bpmn:extensionElements>
              <zeebe:taskDefinition type="= &quot;fn-&quot; + kind" retries="= 1 + 1" />
              <zeebe:taskHeaders><zeebe:header key="function" value="otbcli" /><zeebe:header key="mode" value="hold" /></zeebe:taskHeaders>
            </bpmn:extensionElements></bpmn:serviceTask><bpmn:endEvent id="e" />{}{}"#,
            flow("f1", "s", "t"),
            flow("f2", "t", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    h.create("p", json!({"kind": "ortho"}));
    let job = h.activate("fn-ortho", 1).remove(0);
    assert_eq!(job.retries, 2);
    assert_eq!(
        job.custom_headers,
        Json(json!({"function": "otbcli", "mode": "hold"}))
    );
}

#[test]
fn io_mappings_inputs_are_local_outputs_propagate() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:serviceTask id="t"><bpmn:extensionElements>
              <zeebe:taskDefinition type="w" />
              <zeebe:ioMapping>
                <zeebe:input source="= order.id" target="orderId" />
                <zeebe:input source="= orderId * 2" target="double" />
                <zeebe:input source="static" target="mode" />
                <zeebe:output source="= result + 1" target="total" />
                <zeebe:output source="= double" target="report.double" />
              </zeebe:ioMapping>
            </bpmn:extensionElements></bpmn:serviceTask><bpmn:endEvent id="e" />{}{}"#,
            flow("f1", "s", "t"),
            flow("f2", "t", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({"order": {"id": 21}, "report": {"kept": true}}));
    let job = h.activate("w", 1).remove(0);
    let vars = job.variables.0.as_object().unwrap();
    assert_eq!(vars["orderId"], json!(21));
    assert_eq!(vars["double"], json!(42));
    assert_eq!(vars["mode"], json!("static"));
    h.ok(Command::CompleteJob {
        key: job.key,
        variables: Json(json!({"result": 9, "secret": "local only"})),
    });
    let vars = h.final_variables(pi);
    assert_eq!(vars["total"], json!(10));
    assert_eq!(vars["report"], json!({"kept": true, "double": 42}));
    assert!(
        vars.get("secret").is_none(),
        "with output mappings only mapped variables reach the parent: {vars}"
    );
    assert!(vars.get("orderId").is_none(), "inputs are local: {vars}");
}

#[test]
fn expression_failure_on_activation_raises_incident_and_resolve_retries() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:serviceTask id="t"><bpmn:extensionElements>
              <zeebe:taskDefinition type="= kind" />
              <zeebe:ioMapping><zeebe:input source="= count(items)" target="n" /></zeebe:ioMapping>
            </bpmn:extensionElements></bpmn:serviceTask><bpmn:endEvent id="e" />{}{}"#,
            flow("f1", "s", "t"),
            flow("f2", "t", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({"items": [1, 2, 3]}));
    let (ikey, inc) = h.incidents().remove(0);
    assert_eq!(inc.kind, IncidentKind::ExtractValueError);
    assert!(inc.message.contains("kind"), "{}", inc.message);
    h.ok(Command::SetVariables {
        element_instance_key: pi,
        variables: Json(json!({"kind": "w"})),
        local: false,
    });
    h.ok(Command::ResolveIncident { key: ikey });
    let job = h.activate("w", 1).remove(0);
    assert_eq!(job.variables.0["n"], json!(3));
    h.ok(Command::CompleteJob {
        key: job.key,
        variables: Json(json!({})),
    });
    assert!(h.is_completed(pi));
}

#[test]
fn script_task_feel_and_job_based() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" />
            <bpmn:scriptTask id="feel"><bpmn:extensionElements><zeebe:script expression="= a + b" resultVariable="sum" /></bpmn:extensionElements></bpmn:scriptTask>
            <bpmn:scriptTask id="job"><bpmn:extensionElements><zeebe:taskDefinition type="script" /></bpmn:extensionElements></bpmn:scriptTask>
            <bpmn:endEvent id="e" />{}{}{}"#,
            flow("f1", "s", "feel"),
            flow("f2", "feel", "job"),
            flow("f3", "job", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({"a": 2, "b": 3}));
    let job = h.complete_one("script", json!({}));
    assert_eq!(job.variables.0["sum"], json!(5));
    assert!(h.is_completed(pi));
}

#[test]
fn user_send_and_business_rule_tasks_are_job_based() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:userTask id="u" />
            <bpmn:sendTask id="send"><bpmn:extensionElements><zeebe:taskDefinition type="send" /></bpmn:extensionElements></bpmn:sendTask>
            <bpmn:businessRuleTask id="br"><bpmn:extensionElements><zeebe:taskDefinition type="rules" /></bpmn:extensionElements></bpmn:businessRuleTask>
            <bpmn:endEvent id="e" />{}{}{}{}"#,
            flow("f1", "s", "u"),
            flow("f2", "u", "send"),
            flow("f3", "send", "br"),
            flow("f4", "br", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({}));
    h.complete_one("io.camunda.zeebe:userTask", json!({}));
    h.complete_one("send", json!({}));
    h.complete_one("rules", json!({}));
    assert!(h.is_completed(pi));
}

#[test]
fn cancel_instance_terminates_everything() {
    let mut h = Harness::new();
    h.deploy("p.bpmn", &one_task("w"));
    let pi = h.create("p", json!({}));
    h.ok(Command::CancelProcessInstance { key: pi });
    assert!(h.is_terminated(pi));
    assert!(h.activate("w", 1).is_empty(), "the job was canceled");
    let r = h.rejected(Command::CancelProcessInstance { key: pi });
    assert_eq!(r.kind, RejectionKind::NotFound);
    h.assert_empty();
}

#[test]
fn delete_resource() {
    let mut h = Harness::new();
    let Response::Deployed { processes, .. } = h.deploy("p.bpmn", &one_task("w")) else {
        panic!()
    };
    let key = processes[0].process_definition_key;
    let pi = h.create("p", json!({}));
    let r = h.rejected(Command::DeleteResource { key });
    assert_eq!(r.kind, RejectionKind::InvalidState);
    h.ok(Command::CancelProcessInstance { key: pi });
    h.ok(Command::DeleteResource { key });
    assert!(h.state.deployments.latest("p").is_none());
    let Response::Deployed { processes, .. } = h.deploy("p.bpmn", &one_task("other")) else {
        panic!()
    };
    assert_eq!(
        processes[0].version, 2,
        "a deleted version's number is not reused"
    );
    let r = h.rejected(Command::DeleteResource { key });
    assert_eq!(r.kind, RejectionKind::NotFound);
}

#[test]
fn set_variables_local_and_propagating() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:subProcess id="sub"><bpmn:startEvent id="ss" />{}<bpmn:endEvent id="se" />{}{}</bpmn:subProcess><bpmn:endEvent id="e" />{}{}"#,
            service("t", "w"),
            flow("sf1", "ss", "t"),
            flow("sf2", "t", "se"),
            flow("f1", "s", "sub"),
            flow("f2", "sub", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({"x": 1}));
    let job = h.activate("w", 1).remove(0);
    let task = job.element_instance_key;
    h.ok(Command::SetVariables {
        element_instance_key: task,
        variables: Json(json!({"x": 2, "y": 3})),
        local: false,
    });
    assert_eq!(
        h.variables(pi),
        json!({"x": 2, "y": 3}),
        "propagated to where x lives and y to the root"
    );
    h.ok(Command::SetVariables {
        element_instance_key: task,
        variables: Json(json!({"x": 99})),
        local: true,
    });
    assert_eq!(
        h.variables(pi)["x"],
        json!(2),
        "a local variable shadows, it does not change the parent"
    );
    let job = h.activate("w", 1);
    assert!(job.is_empty());
    h.ok(Command::CompleteJob {
        key: task_job(&h, task),
        variables: Json(json!({})),
    });
    assert!(h.is_completed(pi));
}

fn task_job(h: &Harness, element_instance: apsis_core::Key) -> apsis_core::Key {
    h.state
        .instance(element_instance)
        .and_then(|i| i.job)
        .expect("job")
}

#[test]
fn embedded_subprocess_runs_its_scope() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:subProcess id="sub"><bpmn:startEvent id="ss" />{}<bpmn:endEvent id="se" />{}{}</bpmn:subProcess><bpmn:endEvent id="e" />{}{}"#,
            service("t", "w"),
            flow("sf1", "ss", "t"),
            flow("sf2", "t", "se"),
            flow("f1", "s", "sub"),
            flow("f2", "sub", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({}));
    h.complete_one("w", json!({"r": 1}));
    assert!(h.is_completed(pi));
    assert_eq!(
        h.completed_elements(pi),
        ["s", "ss", "t", "se", "sub", "e", "p"]
    );
    assert_eq!(h.final_variables(pi), json!({"r": 1}));
    h.assert_empty();
}

#[test]
fn terminate_end_event_ends_the_scope() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:parallelGateway id="fork" />{}{}
            <bpmn:endEvent id="kill"><bpmn:terminateEventDefinition /></bpmn:endEvent><bpmn:endEvent id="e" />{}{}{}{}{}"#,
            service("slow", "slow"),
            service("fast", "fast"),
            flow("f0", "s", "fork"),
            flow("f1", "fork", "slow"),
            flow("f2", "fork", "fast"),
            flow("f3", "fast", "kill"),
            flow("f4", "slow", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({}));
    h.complete_one("fast", json!({}));
    assert!(h.is_completed(pi), "terminate end completes the process");
    assert_eq!(h.terminated_elements(pi), ["slow"]);
    assert!(h.activate("slow", 1).is_empty());
    h.assert_empty();
}

#[test]
fn messages_receive_task_catch_event_buffering_ttl_and_ids() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:receiveTask id="rt" messageRef="m1" />
            <bpmn:intermediateCatchEvent id="catch"><bpmn:messageEventDefinition messageRef="m2" /></bpmn:intermediateCatchEvent>
            <bpmn:endEvent id="e" />{}{}{}"#,
            flow("f1", "s", "rt"),
            flow("f2", "rt", "catch"),
            flow("f3", "catch", "e")
        ),
        r#"<bpmn:message id="m1" name="first"><bpmn:extensionElements><zeebe:subscription correlationKey="= id" /></bpmn:extensionElements></bpmn:message>
           <bpmn:message id="m2" name="second"><bpmn:extensionElements><zeebe:subscription correlationKey="= id" /></bpmn:extensionElements></bpmn:message>"#,
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({"id": "order-1"}));
    // Published before the catch event opens: buffered (TTL), then correlated when it opens.
    h.publish("second", "order-1", json!({"b": 2}), 60_000);
    h.publish("first", "order-1", json!({"a": 1}), 0);
    assert!(h.is_completed(pi));
    assert_eq!(h.final_variables(pi)["a"], json!(1));
    assert_eq!(h.final_variables(pi)["b"], json!(2));
    // TTL 0 and nobody waiting: dropped.
    let pi2 = h.create("p", json!({"id": "order-2"}));
    h.publish("second", "order-2", json!({}), 0);
    h.publish("first", "order-2", json!({}), 0);
    assert!(!h.is_completed(pi2), "the TTL-0 message was not kept");
    // Buffered messages expire.
    // Buffered messages stay (even once correlated) until their TTL runs out.
    h.publish("second", "order-2", json!({}), 1_000);
    assert_eq!(h.state.messages.by_key.len(), 2);
    h.advance(1_001);
    assert_eq!(h.state.messages.by_key.len(), 1);
    h.advance(60_000);
    assert!(h.state.messages.by_key.is_empty());
}

#[test]
fn message_id_duplicates_are_rejected_while_buffered() {
    let mut h = Harness::new();
    let cmd = || Command::PublishMessage {
        name: "n".into(),
        correlation_key: "k".into(),
        ttl_ms: 10_000,
        message_id: "id-1".into(),
        variables: Json(json!({})),
    };
    h.ok(cmd());
    let r = h.rejected(cmd());
    assert_eq!(r.kind, RejectionKind::AlreadyExists);
    h.advance(10_001);
    h.ok(cmd());
}

#[test]
fn message_start_event_creates_instances_once_per_correlation_key() {
    let mut h = Harness::new();
    let xml = bpmn(
        "m",
        &format!(
            "<bpmn:startEvent id=\"s\"><bpmn:messageEventDefinition messageRef=\"msg\" /></bpmn:startEvent>{}<bpmn:endEvent id=\"e\" />{}{}",
            service("t", "w"),
            flow("f1", "s", "t"),
            flow("f2", "t", "e")
        ),
        "<bpmn:message id=\"msg\" name=\"go\" />",
    );
    h.deploy("m.bpmn", &xml);
    h.publish("go", "k1", json!({"v": 1}), 0);
    h.publish("go", "k1", json!({"v": 2}), 0);
    h.publish("go", "k2", json!({"v": 3}), 0);
    let jobs = h.activate("w", 10);
    assert_eq!(jobs.len(), 2, "one active instance per correlation key");
    assert_eq!(jobs[0].variables, Json(json!({"v": 1})));
    // After the instance for k1 ends, a new message for k1 starts a new one.
    h.ok(Command::CompleteJob {
        key: jobs[0].key,
        variables: Json(json!({})),
    });
    h.publish("go", "k1", json!({"v": 4}), 0);
    assert_eq!(h.activate("w", 10).len(), 1);
}

#[test]
fn timers_intermediate_catch_duration_and_date() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" />
            <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT10S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
            <bpmn:intermediateCatchEvent id="until"><bpmn:timerEventDefinition><bpmn:timeDate>= d</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
            <bpmn:endEvent id="e" />{}{}{}"#,
            flow("f1", "s", "wait"),
            flow("f2", "wait", "until"),
            flow("f3", "until", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({"d": "2023-11-14T22:15:00Z"}));
    h.advance(9_999);
    assert!(!h.is_completed(pi));
    h.advance(1);
    // The date is 2023-11-14T22:15:00Z = 1700000100000; now is 1700000010000.
    assert!(!h.is_completed(pi));
    h.advance(90_000);
    assert!(h.is_completed(pi));
    h.assert_empty();
}

#[test]
fn event_based_gateway_first_event_wins() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:eventBasedGateway id="g" />
            <bpmn:intermediateCatchEvent id="msg"><bpmn:messageEventDefinition messageRef="m" /></bpmn:intermediateCatchEvent>
            <bpmn:intermediateCatchEvent id="timeout"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
            <bpmn:endEvent id="ok" /><bpmn:endEvent id="late" />{}{}{}{}{}"#,
            flow("f0", "s", "g"),
            flow("f1", "g", "msg"),
            flow("f2", "g", "timeout"),
            flow("f3", "msg", "ok"),
            flow("f4", "timeout", "late")
        ),
        r#"<bpmn:message id="m" name="answer"><bpmn:extensionElements><zeebe:subscription correlationKey="= k" /></bpmn:extensionElements></bpmn:message>"#,
    );
    h.deploy("p.bpmn", &xml);
    let a = h.create("p", json!({"k": "a"}));
    let b = h.create("p", json!({"k": "b"}));
    h.publish("answer", "a", json!({"answer": 42}), 0);
    assert!(h.is_completed(a));
    assert_eq!(h.completed_elements(a), ["s", "g", "msg", "ok", "p"]);
    assert_eq!(h.final_variables(a)["answer"], json!(42));
    h.advance(60_000);
    assert!(h.is_completed(b));
    assert_eq!(h.completed_elements(b), ["s", "g", "timeout", "late", "p"]);
    h.publish("answer", "b", json!({}), 0);
    h.assert_empty();
}

fn with_boundary(boundary: &str, roots: &str) -> String {
    bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" />{}<bpmn:endEvent id="e" /><bpmn:endEvent id="be" />
            {boundary}{}{}{}"#,
            service("t", "w"),
            flow("f1", "s", "t"),
            flow("f2", "t", "e"),
            flow("f3", "b", "be")
        ),
        roots,
    )
}

#[test]
fn boundary_timer_interrupting() {
    let mut h = Harness::new();
    let xml = with_boundary(
        r#"<bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:timerEventDefinition><bpmn:timeDuration>PT30S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>"#,
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({}));
    h.advance(30_000);
    assert!(h.is_completed(pi));
    assert_eq!(h.terminated_elements(pi), ["t"]);
    assert!(h.completed_elements(pi).contains(&"be".to_string()));
    assert!(h.activate("w", 1).is_empty());
    h.assert_empty();
}

#[test]
fn boundary_timer_non_interrupting_cycle() {
    let mut h = Harness::new();
    let xml = with_boundary(
        r#"<bpmn:boundaryEvent id="b" attachedToRef="t" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT10S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>"#,
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({}));
    for _ in 0..5 {
        h.advance(10_000);
    }
    let fired = h
        .completed_elements(pi)
        .iter()
        .filter(|e| *e == "be")
        .count();
    assert_eq!(fired, 3, "R3 fires three times");
    h.complete_one("w", json!({}));
    assert!(h.is_completed(pi));
    h.assert_empty();
}

#[test]
fn boundary_message_interrupting_and_non_interrupting() {
    let roots = r#"<bpmn:message id="m" name="stop"><bpmn:extensionElements><zeebe:subscription correlationKey="= k" /></bpmn:extensionElements></bpmn:message>"#;
    let mut h = Harness::new();
    h.deploy(
        "p.bpmn",
        &with_boundary(r#"<bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:messageEventDefinition messageRef="m" /></bpmn:boundaryEvent>"#, roots),
    );
    let pi = h.create("p", json!({"k": "x"}));
    h.publish("stop", "x", json!({"why": "user"}), 0);
    assert!(h.is_completed(pi));
    assert_eq!(h.terminated_elements(pi), ["t"]);
    assert_eq!(h.final_variables(pi)["why"], json!("user"));

    let mut h = Harness::new();
    h.deploy(
        "p.bpmn",
        &with_boundary(r#"<bpmn:boundaryEvent id="b" attachedToRef="t" cancelActivity="false"><bpmn:messageEventDefinition messageRef="m" /></bpmn:boundaryEvent>"#, roots),
    );
    let pi = h.create("p", json!({"k": "x"}));
    h.publish("stop", "x", json!({}), 0);
    h.publish("stop", "x", json!({}), 0);
    assert_eq!(
        h.completed_elements(pi)
            .iter()
            .filter(|e| *e == "be")
            .count(),
        2
    );
    h.complete_one("w", json!({}));
    assert!(h.is_completed(pi));
    h.assert_empty();
}

#[test]
fn error_boundary_by_code_catch_all_and_uncaught_incident() {
    let roots = r#"<bpmn:error id="err" name="Bad" errorCode="BAD" />"#;
    let mut h = Harness::new();
    h.deploy(
        "p.bpmn",
        &with_boundary(r#"<bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:errorEventDefinition errorRef="err" /></bpmn:boundaryEvent>"#, roots),
    );
    let pi = h.create("p", json!({}));
    let job = h.activate("w", 1).remove(0);
    h.ok(Command::ThrowError {
        key: job.key,
        error_code: "BAD".into(),
        error_message: "bad input".into(),
        variables: Json(json!({"detail": 7})),
    });
    assert!(h.is_completed(pi));
    assert!(h.completed_elements(pi).contains(&"be".to_string()));
    assert_eq!(h.final_variables(pi)["detail"], json!(7));

    // An uncaught code raises an incident on the task; resolving makes the job activatable again.
    let pi = h.create("p", json!({}));
    let job = h.activate("w", 1).remove(0);
    h.ok(Command::ThrowError {
        key: job.key,
        error_code: "OTHER".into(),
        error_message: "nope".into(),
        variables: Json(json!({})),
    });
    let (ikey, inc) = h.incidents().remove(0);
    assert_eq!(inc.kind, IncidentKind::UnhandledErrorEvent);
    assert!(inc.message.contains("'OTHER'"), "{}", inc.message);
    h.ok(Command::ResolveIncident { key: ikey });
    h.complete_one("w", json!({}));
    assert!(h.is_completed(pi));

    // A catch-all boundary (no errorRef) catches any code.
    let mut h = Harness::new();
    h.deploy("p.bpmn", &with_boundary(r#"<bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:errorEventDefinition /></bpmn:boundaryEvent>"#, ""));
    let pi = h.create("p", json!({}));
    let job = h.activate("w", 1).remove(0);
    h.ok(Command::ThrowError {
        key: job.key,
        error_code: "ANY".into(),
        error_message: String::new(),
        variables: Json(json!({})),
    });
    assert!(h.is_completed(pi));
}

#[test]
fn error_end_event_caught_by_subprocess_boundary() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" />
            <bpmn:subProcess id="sub"><bpmn:startEvent id="ss" /><bpmn:endEvent id="fail"><bpmn:errorEventDefinition errorRef="err" /></bpmn:endEvent>{}</bpmn:subProcess>
            <bpmn:boundaryEvent id="b" attachedToRef="sub"><bpmn:errorEventDefinition errorRef="err" /></bpmn:boundaryEvent>
            <bpmn:endEvent id="e" /><bpmn:endEvent id="handled" />{}{}{}"#,
            flow("sf", "ss", "fail"),
            flow("f1", "s", "sub"),
            flow("f2", "sub", "e"),
            flow("f3", "b", "handled")
        ),
        r#"<bpmn:error id="err" errorCode="E1" />"#,
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({}));
    assert!(h.is_completed(pi));
    assert_eq!(h.terminated_elements(pi), ["fail", "sub"]);
    assert!(h.completed_elements(pi).contains(&"handled".to_string()));
    h.assert_empty();
}

fn multi_instance(sequential: bool, extra: &str) -> String {
    bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" />
            <bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="w" /></bpmn:extensionElements>
              <bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}">
                <bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="= items" inputElement="item" outputCollection="results" outputElement="= out" /></bpmn:extensionElements>
                {extra}
              </bpmn:multiInstanceLoopCharacteristics>
            </bpmn:serviceTask><bpmn:endEvent id="e" />{}{}"#,
            flow("f1", "s", "t"),
            flow("f2", "t", "e")
        ),
        "",
    )
}

#[test]
fn multi_instance_parallel_collects_output_in_order() {
    let mut h = Harness::new();
    h.deploy("p.bpmn", &multi_instance(false, ""));
    let pi = h.create("p", json!({"items": ["a", "b", "c"]}));
    let mut jobs = h.activate("w", 10);
    assert_eq!(jobs.len(), 3, "parallel: all inner instances at once");
    jobs.reverse();
    for job in &jobs {
        let item = job.variables.0["item"].as_str().unwrap().to_uppercase();
        assert!(job.variables.0["loopCounter"].is_number());
        h.ok(Command::CompleteJob {
            key: job.key,
            variables: Json(json!({"out": item})),
        });
    }
    assert!(h.is_completed(pi));
    assert_eq!(h.final_variables(pi)["results"], json!(["A", "B", "C"]));
    h.assert_empty();
}

#[test]
fn multi_instance_sequential_and_completion_condition() {
    let mut h = Harness::new();
    h.deploy("p.bpmn", &multi_instance(true, "<bpmn:completionCondition>= numberOfCompletedInstances &gt;= 2</bpmn:completionCondition>"));
    let pi = h.create("p", json!({"items": [1, 2, 3, 4]}));
    let first = h.activate("w", 10);
    assert_eq!(first.len(), 1, "sequential: one at a time");
    assert_eq!(first[0].variables.0["item"], json!(1));
    assert_eq!(first[0].variables.0["loopCounter"], json!(1));
    h.ok(Command::CompleteJob {
        key: first[0].key,
        variables: Json(json!({"out": 10})),
    });
    let second = h.activate("w", 10);
    assert_eq!(second[0].variables.0["item"], json!(2));
    h.ok(Command::CompleteJob {
        key: second[0].key,
        variables: Json(json!({"out": 20})),
    });
    assert!(h.is_completed(pi), "completion condition met after two");
    assert_eq!(
        h.final_variables(pi)["results"],
        json!([10, 20, null, null])
    );
}

#[test]
fn multi_instance_empty_collection_and_bad_collection() {
    let mut h = Harness::new();
    h.deploy("p.bpmn", &multi_instance(false, ""));
    let pi = h.create("p", json!({"items": []}));
    assert!(h.is_completed(pi));
    let pi = h.create("p", json!({"items": "nope"}));
    let (ikey, inc) = h.incidents().remove(0);
    assert_eq!(inc.kind, IncidentKind::ExtractValueError);
    assert!(inc.message.contains("'ARRAY'"), "{}", inc.message);
    h.ok(Command::SetVariables {
        element_instance_key: pi,
        variables: Json(json!({"items": [5]})),
        local: false,
    });
    h.ok(Command::ResolveIncident { key: ikey });
    h.complete_one("w", json!({"out": 1}));
    assert!(h.is_completed(pi));
}

#[test]
fn multi_instance_subprocess() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" />
            <bpmn:subProcess id="sub">
              <bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="= items" inputElement="item" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
              <bpmn:startEvent id="ss" />{}<bpmn:endEvent id="se" />{}{}
            </bpmn:subProcess><bpmn:endEvent id="e" />{}{}"#,
            service("t", "w"),
            flow("sf1", "ss", "t"),
            flow("sf2", "t", "se"),
            flow("f1", "s", "sub"),
            flow("f2", "sub", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    let pi = h.create("p", json!({"items": [1, 2]}));
    let jobs = h.activate("w", 10);
    assert_eq!(jobs.len(), 2);
    for j in jobs {
        h.ok(Command::CompleteJob {
            key: j.key,
            variables: Json(json!({})),
        });
    }
    assert!(h.is_completed(pi));
    h.assert_empty();
}

#[test]
fn timer_start_event_cycle() {
    let mut h = Harness::new();
    let xml = bpmn(
        "tp",
        &format!(
            "<bpmn:startEvent id=\"s\"><bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT1M</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>{}<bpmn:endEvent id=\"e\" />{}{}",
            service("t", "tick"),
            flow("f1", "s", "t"),
            flow("f2", "t", "e")
        ),
        "",
    );
    h.deploy("t.bpmn", &xml);
    h.advance(59_999);
    assert_eq!(
        h.activate("tick", 10).len(),
        0,
        "a cycle first fires one interval after deployment"
    );
    h.advance(1);
    h.complete_one("tick", json!({}));
    h.advance(60_000);
    h.complete_one("tick", json!({}));
    h.advance(60_000);
    assert_eq!(h.activate("tick", 10).len(), 0, "R2: two instances only");
    assert!(h.state.timers.by_key.is_empty());
}

#[test]
fn runaway_loops_stop_with_an_incident() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:exclusiveGateway id="g" /><bpmn:task id="t" />{}{}
            <bpmn:sequenceFlow id="back" sourceRef="g" targetRef="t"><bpmn:conditionExpression>= true</bpmn:conditionExpression></bpmn:sequenceFlow>"#,
            flow("f1", "s", "g"),
            flow("f2", "t", "g")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    h.create("p", json!({}));
    assert_eq!(h.incidents().len(), 1);
}

fn timer_start(definition: &str) -> String {
    bpmn(
        "ts",
        &format!(
            "<bpmn:startEvent id=\"s\"><bpmn:timerEventDefinition>{definition}</bpmn:timerEventDefinition></bpmn:startEvent>{}<bpmn:endEvent id=\"e\" />{}{}",
            service("t", "tick"),
            flow("f1", "s", "t"),
            flow("f2", "t", "e")
        ),
        "",
    )
}

#[test]
fn timer_start_event_date_and_duration_fire_once() {
    let mut h = Harness::new();
    // now = 1700000000000 = 2023-11-14T22:13:20Z
    h.deploy(
        "d.bpmn",
        &timer_start("<bpmn:timeDate>2023-11-14T22:15:00Z</bpmn:timeDate>"),
    );
    h.advance(99_999);
    assert!(h.activate("tick", 10).is_empty());
    h.advance(1);
    h.complete_one("tick", json!({}));
    h.advance(10 * 86_400_000);
    assert!(h.activate("tick", 10).is_empty(), "a date fires once");

    let mut h = Harness::new();
    h.deploy(
        "d.bpmn",
        &timer_start("<bpmn:timeDuration>PT5M</bpmn:timeDuration>"),
    );
    h.advance(300_000);
    h.complete_one("tick", json!({}));
    h.advance(3_000_000);
    assert!(
        h.activate("tick", 10).is_empty(),
        "a duration fires once, relative to the deployment"
    );
}

#[test]
fn timer_start_event_cron_and_redeploy_rearms() {
    let mut h = Harness::new();
    // Every full minute (Spring cron: sec min hour dom mon dow). now is 22:13:20Z, so the first is at 22:14:00Z.
    h.deploy(
        "c.bpmn",
        &timer_start("<bpmn:timeCycle>0 * * * * *</bpmn:timeCycle>"),
    );
    h.advance(39_999);
    assert!(h.activate("tick", 10).is_empty());
    h.advance(1);
    h.complete_one("tick", json!({}));
    h.advance(60_000);
    h.complete_one("tick", json!({}));
    // A new version replaces the old version's timer: still one instance per minute, now of version 2.
    h.deploy(
        "c.bpmn",
        &timer_start("<bpmn:timeCycle>0 * * * * *</bpmn:timeCycle>").replace("tick", "tock"),
    );
    assert_eq!(
        h.state.timers.by_key.len(),
        1,
        "the previous version's timer is canceled"
    );
    h.advance(60_000);
    assert!(h.activate("tick", 10).is_empty());
    h.complete_one("tock", json!({}));
}

fn subprocess_with_boundary(boundary: &str, roots: &str) -> String {
    bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" />
            <bpmn:subProcess id="sub"><bpmn:startEvent id="ss" />{}<bpmn:endEvent id="se" />{}{}</bpmn:subProcess>
            {boundary}
            <bpmn:endEvent id="e" /><bpmn:endEvent id="be" />{}{}{}"#,
            service("t", "w"),
            flow("sf1", "ss", "t"),
            flow("sf2", "t", "se"),
            flow("f1", "s", "sub"),
            flow("f2", "sub", "e"),
            flow("f3", "b", "be")
        ),
        roots,
    )
}

#[test]
fn boundary_timer_on_subprocess_terminates_its_content() {
    let mut h = Harness::new();
    h.deploy(
        "p.bpmn",
        &subprocess_with_boundary(
            r#"<bpmn:boundaryEvent id="b" attachedToRef="sub"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>"#,
            "",
        ),
    );
    let pi = h.create("p", json!({}));
    let job = h.activate("w", 1).remove(0);
    h.advance(3_600_000);
    assert!(h.is_completed(pi));
    assert_eq!(h.terminated_elements(pi), ["t", "sub"]);
    let r = h.rejected(Command::CompleteJob {
        key: job.key,
        variables: Json(json!({})),
    });
    assert_eq!(
        r.kind,
        RejectionKind::NotFound,
        "the inner job was canceled"
    );
    h.assert_empty();
}

#[test]
fn boundary_message_on_subprocess_non_interrupting_keeps_it_running() {
    let mut h = Harness::new();
    h.deploy(
        "p.bpmn",
        &subprocess_with_boundary(
            r#"<bpmn:boundaryEvent id="b" attachedToRef="sub" cancelActivity="false"><bpmn:messageEventDefinition messageRef="m" /></bpmn:boundaryEvent>"#,
            r#"<bpmn:message id="m" name="progress"><bpmn:extensionElements><zeebe:subscription correlationKey="= id" /></bpmn:extensionElements></bpmn:message>"#,
        ),
    );
    let pi = h.create("p", json!({"id": "x"}));
    h.publish("progress", "x", json!({"pct": 50}), 0);
    assert!(h.completed_elements(pi).contains(&"be".to_string()));
    assert_eq!(h.variables(pi)["pct"], json!(50));
    h.complete_one("w", json!({}));
    assert!(h.is_completed(pi));
    h.assert_empty();
}

#[test]
fn a_buffered_message_correlates_at_most_once_per_process_id() {
    let mut h = Harness::new();
    let catch = |id: &str| {
        bpmn(
            id,
            &format!(
                "<bpmn:startEvent id=\"s\" /><bpmn:intermediateCatchEvent id=\"c\"><bpmn:messageEventDefinition messageRef=\"m\" /></bpmn:intermediateCatchEvent><bpmn:endEvent id=\"e\" />{}{}",
                flow("f1", "s", "c"),
                flow("f2", "c", "e")
            ),
            r#"<bpmn:message id="m" name="news"><bpmn:extensionElements><zeebe:subscription correlationKey="= k" /></bpmn:extensionElements></bpmn:message>"#,
        )
    };
    h.deploy("a.bpmn", &catch("a"));
    h.deploy("b.bpmn", &catch("b"));
    h.publish("news", "k1", json!({}), 60_000);
    let a1 = h.create("a", json!({"k": "k1"}));
    let a2 = h.create("a", json!({"k": "k1"}));
    let b1 = h.create("b", json!({"k": "k1"}));
    assert!(
        h.is_completed(a1),
        "the buffered message correlates to the first instance of 'a'"
    );
    assert!(
        !h.is_completed(a2),
        "but not to a second instance of the same process"
    );
    assert!(
        h.is_completed(b1),
        "and once to an instance of another process"
    );
    // Two instances already waiting: one published message reaches both processes' first waiter only.
    let a3 = h.create("a", json!({"k": "k2"}));
    let a4 = h.create("a", json!({"k": "k2"}));
    h.publish("news", "k2", json!({}), 0);
    assert!(h.is_completed(a3));
    assert!(!h.is_completed(a4));
}

#[test]
fn message_start_buffered_message_starts_the_next_instance_when_the_active_one_ends() {
    let mut h = Harness::new();
    let xml = bpmn(
        "m",
        &format!(
            "<bpmn:startEvent id=\"s\"><bpmn:messageEventDefinition messageRef=\"msg\" /></bpmn:startEvent>{}<bpmn:endEvent id=\"e\" />{}{}",
            service("t", "w"),
            flow("f1", "s", "t"),
            flow("f2", "t", "e")
        ),
        "<bpmn:message id=\"msg\" name=\"go\" />",
    );
    h.deploy("m.bpmn", &xml);
    h.publish("go", "k", json!({"v": 1}), 60_000);
    h.publish("go", "k", json!({"v": 2}), 60_000);
    let first = h.complete_one("w", json!({}));
    assert_eq!(first.variables, Json(json!({"v": 1})));
    let second = h.complete_one("w", json!({}));
    assert_eq!(
        second.variables,
        Json(json!({"v": 2})),
        "the buffered message started the next instance"
    );
    assert!(h.activate("w", 10).is_empty());
}

#[test]
fn user_task_assignment_schedule_and_form_become_zeebe_headers() {
    let mut h = Harness::new();
    let xml = bpmn(
        "p",
        &format!(
            r#"<bpmn:startEvent id="s" /><bpmn:userTask id="u"><bpmn:extensionElements>
              <zeebe:formDefinition formKey="camunda-forms:bpmn:review" />
              <zeebe:assignmentDefinition assignee="= owner" candidateGroups="operators, scientists" candidateUsers="= [&quot;ana&quot;, lead]" />
              <zeebe:taskSchedule dueDate="2026-12-01T12:00:00Z" />
            </bpmn:extensionElements></bpmn:userTask><bpmn:endEvent id="e" />{}{}"#,
            flow("f1", "s", "u"),
            flow("f2", "u", "e")
        ),
        "",
    );
    h.deploy("p.bpmn", &xml);
    h.create("p", json!({"owner": "bea", "lead": "carl"}));
    let job = h.activate("io.camunda.zeebe:userTask", 1).remove(0);
    assert_eq!(
        job.custom_headers,
        Json(json!({
            "io.camunda.zeebe:formKey": "camunda-forms:bpmn:review",
            "io.camunda.zeebe:assignee": "bea",
            "io.camunda.zeebe:candidateGroups": "[\"operators\",\"scientists\"]",
            "io.camunda.zeebe:candidateUsers": "[\"ana\",\"carl\"]",
            "io.camunda.zeebe:dueDate": "2026-12-01T12:00:00Z"
        }))
    );
}

/// One stream per job type, as the runtime's registry would answer.
struct OneStream(&'static str);

impl apsis_core::JobStreams for OneStream {
    fn pick(&self, job_type: &str) -> Option<apsis_core::StreamTarget> {
        (job_type == self.0).then(|| apsis_core::StreamTarget {
            stream_id: 7,
            worker: "streamer".into(),
            timeout_ms: 30_000,
            fetch_variables: vec!["a".into()],
        })
    }
}

#[test]
fn job_streams_get_jobs_pushed_and_a_yielded_job_goes_back() {
    let mut h = Harness::new();
    h.streams = Some(Box::new(OneStream("w")));
    h.deploy("p.bpmn", &one_task("w"));
    let pi = h.create("p", json!({"a": 1, "b": 2}));
    let pushed: Vec<_> = h
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::JobPushed { stream_id, job } => Some((*stream_id, job.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        pushed.len(),
        1,
        "the job is pushed the moment it is created"
    );
    let (stream, job) = &pushed[0];
    assert_eq!(*stream, 7);
    assert_eq!(job.worker, "streamer");
    assert_eq!(job.deadline, h.now + 30_000);
    assert_eq!(job.variables, Json(json!({"a": 1})));
    assert!(
        h.activate("w", 1).is_empty(),
        "a pushed job is activated, not in the pool"
    );
    // Undeliverable: the gateway yields it; with the stream gone it returns to the pool for pollers.
    h.streams = None;
    h.effects.clear();
    h.ok(Command::YieldJob { key: job.key });
    assert!(h
        .effects
        .iter()
        .any(|e| matches!(e, Effect::JobsAvailable { job_type } if job_type == "w")));
    h.complete_one("w", json!({}));
    assert!(h.is_completed(pi));
    let r = h.rejected(Command::YieldJob { key: job.key });
    assert_eq!(r.kind, RejectionKind::NotFound);
}

#[test]
fn instance_counts_per_definition_survive_replay() {
    let mut h = Harness::new();
    h.deploy("p.bpmn", &one_task("t"));
    let a = h.create("p", empty());
    let b = h.create("p", empty());
    h.create("p", empty());
    h.complete_one("t", empty());
    h.ok(Command::CancelProcessInstance { key: b });
    assert!(h.is_completed(a));
    let counts: Vec<_> = h.state.instance_counts.values().cloned().collect();
    assert_eq!(counts.len(), 1);
    let c = &counts[0];
    assert_eq!(
        (
            c.bpmn_process_id.as_str(),
            c.version,
            c.started,
            c.completed,
            c.terminated,
            c.active()
        ),
        ("p", 1, 3, 1, 1, 1)
    );
    // Replay and snapshot equality of these counts is checked by the harness after every command.
}
