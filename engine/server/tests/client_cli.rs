//! The client commands of the real `apsis` binary (`deploy`, `run`, `publish`, `cancel`, `resolve`, `status`)
//! against a real `apsis engine` on free loopback ports: their text and `--json` output, their exit codes (0 done,
//! 1 refused, 2 bad input, 3 no gateway) and their error sentences. The incident for `resolve` is made with the
//! generated gRPC client, as a worker would. Every wait is bounded and every child is killed when its test ends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use apsis_proto as pb;
use apsis_testkit::{free_port, Captured, EngineOpts, EngineProcess, Ran, WAIT};
use pb::gateway_client::GatewayClient;

const GREET: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="greet" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#;

const ORDER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:receiveTask id="wait-paid" messageRef="paid" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait-paid" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait-paid" targetRef="end" />
  </bpmn:process>
  <bpmn:message id="paid" name="paid">
    <bpmn:extensionElements><zeebe:subscription correlationKey="=orderId" /></bpmn:extensionElements>
  </bpmn:message>
</bpmn:definitions>"#;

const WORK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="work" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="task">
      <bpmn:extensionElements><zeebe:taskDefinition type="cli-fail" /></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#;

/// A service task without a job type: the gateway must refuse it with a located problem.
const BROKEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="broken" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="no-type" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="no-type" />
  </bpmn:process>
</bpmn:definitions>"#;

/// `apsis` with a clean environment (no `APSIS_*` or `ZEEBE_*` of the machine running the tests) plus `env`.
fn apsis(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_apsis"));
    c.args(args).env_clear().envs(env.iter().copied());
    c
}

/// What a command started by [`spawn`] did, waiting for its end (bounded).
fn finish(running: Captured) -> Ran {
    Ran::from(running.finish(WAIT))
}

/// Starts `apsis ARGS` with a clean environment plus `env`, its output captured.
fn spawn(args: &[&str], env: &[(&str, &str)]) -> Captured {
    Captured::spawn(&mut apsis(args, env))
}

/// Runs a client command to its end with no address in the environment.
fn cli(args: &[&str]) -> Ran {
    finish(spawn(args, &[]))
}

/// A real `apsis engine` on a temporary data directory, with both addresses taken from its "ready" log line.
struct Engine {
    _process: EngineProcess,
    gateway: SocketAddr,
    monitoring: SocketAddr,
    url: String,
}

impl Engine {
    fn start() -> Engine {
        let process = EngineProcess::start(EngineOpts::new(env!("CARGO_BIN_EXE_apsis")));
        Engine {
            gateway: process.gateway_addr(),
            monitoring: process.monitoring_addr(),
            url: process.gateway_url(),
            _process: process,
        }
    }

    /// Runs `apsis ARGS --address URL`.
    fn cli(&self, args: &[&str]) -> Ran {
        finish(self.spawn(args))
    }

    fn spawn(&self, args: &[&str]) -> Captured {
        let mut all = args.to_vec();
        all.extend(["--address", &self.url]);
        spawn(&all, &[])
    }

    async fn grpc(&self) -> GatewayClient<tonic::transport::Channel> {
        GatewayClient::connect(self.url.clone()).await.unwrap()
    }
}

/// Writes the files into a fresh directory.
fn files(list: &[(&str, &str)]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let paths = list
        .iter()
        .map(|(name, text)| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        })
        .collect();
    (dir, paths)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn deploy_run_and_status_in_text_and_json() {
    let engine = Engine::start();
    let (_dir, paths) = files(&[("greet.bpmn", GREET), ("order.bpmn", ORDER)]);

    let r = engine.cli(&["deploy", s(&paths[0]), s(&paths[1])]);
    let out = &r.ok().stdout;
    assert!(out.starts_with("Deployed (deployment key "), "{out}");
    assert!(out.contains("\n  process 'greet' version 1, key "), "{out}");
    assert!(
        out.contains("(greet.bpmn)\n  process 'order' version 1, key "),
        "{out}"
    );

    // The same file again is the same version (Zeebe's duplicate detection), shown as JSON.
    let v = engine.cli(&["deploy", s(&paths[0]), "--json"]).ok().json();
    let p = &v["deployments"][0]["process"];
    assert_eq!(p["bpmnProcessId"], "greet", "{v}");
    assert_eq!(p["version"], 1, "{v}");
    assert_eq!(p["resourceName"], "greet.bpmn", "{v}");
    assert!(p["processDefinitionKey"].as_i64().unwrap() > 0, "{v}");
    assert!(v["key"].as_i64().unwrap() > 0, "{v}");
    let definition_key = p["processDefinitionKey"].as_i64().unwrap();

    let r = engine.cli(&["run", "greet", "--vars", r#"{"name": "Ada"}"#]);
    let out = &r.ok().stdout;
    let prefix = format!("Started process 'greet' version 1 (definition key {definition_key}): process instance key ");
    assert!(out.starts_with(&prefix), "{out}");
    assert!(out.trim()[prefix.len()..].parse::<i64>().is_ok(), "{out}");

    let v = engine
        .cli(&["run", "greet", "--version", "1", "--json"])
        .ok()
        .json();
    assert_eq!(v["bpmnProcessId"], "greet", "{v}");
    assert_eq!(v["version"], 1, "{v}");
    assert_eq!(v["processDefinitionKey"], definition_key, "{v}");
    assert!(v["processInstanceKey"].as_i64().unwrap() > 0, "{v}");

    // --await returns the variables; --fetch keeps only the named ones.
    let v = engine
        .cli(&[
            "run",
            "greet",
            "--vars",
            r#"{"name": "Ada", "n": 3}"#,
            "--await",
            "--timeout",
            "20s",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(
        v["variables"],
        serde_json::json!({"name": "Ada", "n": 3}),
        "{v}"
    );
    let v = engine
        .cli(&[
            "run",
            "greet",
            "--vars",
            r#"{"name": "Ada", "n": 3}"#,
            "--await",
            "--fetch",
            "n",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(v["variables"], serde_json::json!({"n": 3}), "{v}");
    // Variables from standard input (`@-`).
    let mut all = vec![
        "run",
        "greet",
        "--vars",
        "@-",
        "--await",
        "--json",
        "--address",
    ];
    all.push(&engine.url);
    let stdin = Captured::spawn_with_stdin(&mut apsis(&all, &[]), Some(br#"{"from": "stdin"}"#));
    let v = finish(stdin).ok().json();
    assert_eq!(v["variables"], serde_json::json!({"from": "stdin"}), "{v}");
    let r = engine.cli(&["run", "greet", "--vars", r#"{"name": "Ada"}"#, "--await"]);
    let out = &r.ok().stdout;
    assert!(
        out.starts_with("Process 'greet' version 1 (definition key "),
        "{out}"
    );
    assert!(out.contains("completed: process instance key "), "{out}");
    assert!(
        out.contains("Variables:\n{\n  \"name\": \"Ada\"\n}"),
        "{out}"
    );

    // Unknown process and unknown version: exit 1 with a sentence, then the gateway's reason.
    let r = engine.cli(&["run", "nope"]);
    let err = &r.failed(1).stderr;
    assert!(
        err.starts_with(
            "apsis: Could not start process 'nope': process 'nope' is not deployed.\n  "
        ),
        "{err}"
    );
    assert!(err.contains("nope"), "{err}");
    assert!(
        !err.contains("Status {") && !err.contains("rejected with code"),
        "{err}"
    );
    let r = engine.cli(&["run", "greet", "--version", "7"]);
    assert!(
        r.failed(1)
            .stderr
            .starts_with("apsis: Could not start process 'greet' version 7: process 'greet' version 7 is not deployed."),
        "{r:#?}"
    );
    let e = engine
        .cli(&["run", "nope", "--json"])
        .failed(1)
        .error_json();
    assert_eq!(e["error"]["code"], "NOT_FOUND", "{e}");
    assert_eq!(e["error"]["exitCode"], 1, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Could not start process 'nope'"),
        "{e}"
    );
    assert!(
        !e["error"]["gatewayMessage"].as_str().unwrap().is_empty(),
        "{e}"
    );

    // Topology, as text and as Zeebe's JSON.
    let r = engine.cli(&["status"]);
    let out = &r.ok().stdout;
    assert!(
        out.starts_with(&format!("Gateway {}, version ", engine.url)),
        "{out}"
    );
    assert!(
        out.contains("\nCluster size: 1, partitions: 1, replication factor: 1\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("\nBroker 0 at {} (version ", engine.gateway)),
        "{out}"
    );
    assert!(out.contains("\n  partition 1: leader, healthy"), "{out}");
    let v = engine.cli(&["status", "--json"]).ok().json();
    assert_eq!(v["clusterSize"], 1, "{v}");
    assert_eq!(v["partitionsCount"], 1, "{v}");
    assert_eq!(v["brokers"][0]["port"], engine.gateway.port(), "{v}");
    assert_eq!(v["brokers"][0]["partitions"][0]["role"], "LEADER", "{v}");
    assert_eq!(v["brokers"][0]["partitions"][0]["health"], "HEALTHY", "{v}");
    assert!(!v["gatewayVersion"].as_str().unwrap().is_empty(), "{v}");

    // The address from the environment: APSIS_ADDRESS, or zbctl's ZEEBE_ADDRESS in its host:port form.
    let host_port = engine.gateway.to_string();
    finish(spawn(
        &["status", "--json"],
        &[("APSIS_ADDRESS", &engine.url)],
    ))
    .ok();
    finish(spawn(
        &["status", "--json"],
        &[("ZEEBE_ADDRESS", &host_port)],
    ))
    .ok();
    // A web server that is not a gateway (the engine's monitoring endpoint) is not mistaken for one.
    let url = format!("http://{}", engine.monitoring);
    let r = cli(&["status", "--address", &url]);
    assert!(
        r.failed(3).stderr.starts_with(&format!(
            "apsis: Expected a Zeebe gateway at {url}, but a server that does not speak gRPC answered"
        )),
        "{r:#?}"
    );
    // The flag wins over the environment.
    let dead = format!("127.0.0.1:{}", free_port());
    finish(spawn(
        &["status", "--address", &engine.url],
        &[("APSIS_ADDRESS", &dead)],
    ))
    .ok();
}

#[test]
fn deploy_refusals_are_located_and_atomic() {
    let engine = Engine::start();
    let (_dir, paths) = files(&[("greet.bpmn", GREET), ("broken.bpmn", BROKEN)]);

    let r = engine.cli(&["deploy", s(&paths[1])]);
    let err = &r.failed(1).stderr;
    let mut lines = err.lines();
    assert_eq!(
        lines.next(),
        Some("apsis: Could not deploy broken.bpmn: the gateway found it invalid."),
        "{err}"
    );
    // The gateway's problems, each on its own line, with file, line and column.
    assert!(
        err.lines()
            .any(|l| l.starts_with("  - broken.bpmn:5:") && l.contains("element 'no-type'")),
        "{err}"
    );

    // All or none: the valid file next to the broken one is not deployed either.
    let r = engine.cli(&["deploy", s(&paths[0]), s(&paths[1])]);
    assert!(
        r.failed(1)
            .stderr
            .starts_with("apsis: Could not deploy greet.bpmn, broken.bpmn: the gateway found them invalid (nothing was deployed)."),
        "{r:#?}"
    );
    engine.cli(&["run", "greet"]).failed(1);

    let e = engine
        .cli(&["deploy", s(&paths[1]), "--json"])
        .failed(1)
        .error_json();
    assert_eq!(e["error"]["code"], "INVALID_ARGUMENT", "{e}");
    assert!(
        e["error"]["gatewayMessage"]
            .as_str()
            .unwrap()
            .contains("element 'no-type'"),
        "{e}"
    );
}

#[test]
fn publish_correlates_and_cancel_terminates() {
    let engine = Engine::start();
    let (_dir, paths) = files(&[("order.bpmn", ORDER), ("paid.json", r#"{"amount": 42}"#)]);
    engine.cli(&["deploy", s(&paths[0])]).ok();
    let vars_file = format!("@{}", s(&paths[1]));

    // An awaited instance completes once its message is published (buffered with the default TTL if it comes
    // before the subscription opens).
    let waiting = engine.spawn(&[
        "run",
        "order",
        "--vars",
        r#"{"orderId": "o-1"}"#,
        "--await",
        "--timeout",
        "20s",
        "--json",
    ]);
    let r = engine.cli(&["publish", "paid", "--key", "o-1", "--vars", &vars_file]);
    let out = &r.ok().stdout;
    assert!(
        out.starts_with(
            "Published message 'paid' with correlation key 'o-1' (time to live 1h): message key "
        ),
        "{out}"
    );
    let v = finish(waiting).ok().json();
    assert_eq!(
        v["variables"],
        serde_json::json!({"orderId": "o-1", "amount": 42}),
        "{v}"
    );

    // A message id buffered twice: ALREADY_EXISTS as a sentence.
    let args = [
        "publish", "paid", "--key", "nobody", "--id", "m-1", "--ttl", "1m", "--json",
    ];
    let v = engine.cli(&args).ok().json();
    assert!(v["key"].as_i64().unwrap() > 0, "{v}");
    let r = engine.cli(&args[..args.len() - 1]);
    assert!(
        r.failed(1).stderr.starts_with(
            "apsis: Could not publish message 'paid' with correlation key 'nobody': a message with the same \
             name, correlation key and id 'm-1' is still buffered."
        ),
        "{r:#?}"
    );

    // Cancel a waiting instance; cancelling it again finds nothing.
    let v = engine
        .cli(&["run", "order", "--vars", r#"{"orderId": "o-2"}"#, "--json"])
        .ok()
        .json();
    let key = v["processInstanceKey"].as_i64().unwrap().to_string();
    let r = engine.cli(&["cancel", &key]);
    assert_eq!(r.ok().stdout, format!("Cancelled process instance {key}\n"));
    let r = engine.cli(&["cancel", &key]);
    assert!(
        r.failed(1).stderr.starts_with(&format!(
            "apsis: Could not cancel process instance {key}: no such process instance is active"
        )),
        "{r:#?}"
    );
    let v = engine
        .cli(&["cancel", &key, "--json"])
        .failed(1)
        .error_json();
    assert_eq!(v["error"]["code"], "NOT_FOUND", "{v}");

    // An instance that does not complete in time: DEADLINE_EXCEEDED as a sentence naming the wait.
    let r = engine.cli(&[
        "run",
        "order",
        "--vars",
        r#"{"orderId": "o-3"}"#,
        "--await",
        "--timeout",
        "1s",
    ]);
    assert!(
        r.failed(1).stderr.starts_with(
            "apsis: Could not run process 'order' to completion: it did not complete within 1s"
        ),
        "{r:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_needs_retries_first() {
    let engine = Engine::start();
    let (_dir, paths) = files(&[("work.bpmn", WORK)]);
    engine.cli(&["deploy", s(&paths[0])]).ok();
    engine.cli(&["run", "work"]).ok();

    // A worker fails the job with no retries left: an incident.
    let mut grpc = engine.grpc().await;
    let activate = pb::ActivateJobsRequest {
        r#type: "cli-fail".into(),
        worker: "client-cli-test".into(),
        timeout: 60_000,
        max_jobs_to_activate: 1,
        request_timeout: 10_000,
        ..Default::default()
    };
    let job = activate_one(&mut grpc, activate.clone()).await;
    grpc.fail_job(pb::FailJobRequest {
        job_key: job,
        retries: 0,
        error_message: "boom".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    // The gateway offers no incident search; the incident's key is one of the next keys after the job's, and the
    // only one ResolveIncident knows (it answers FAILED_PRECONDITION while the job has no retries).
    let mut incident = None;
    for candidate in job + 1..=job + 32 {
        let answer = grpc
            .resolve_incident(pb::ResolveIncidentRequest {
                incident_key: candidate,
                operation_reference: None,
            })
            .await;
        match answer {
            Err(s) if s.code() == tonic::Code::NotFound => {}
            Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                incident = Some(candidate);
                break;
            }
            other => panic!("ResolveIncident({candidate}): {other:?}"),
        }
    }
    let incident = incident
        .expect("an incident key after the job's")
        .to_string();

    let r = engine.cli(&["resolve", &incident]);
    let err = &r.failed(1).stderr;
    assert!(
        err.starts_with(&format!(
            "apsis: Could not resolve incident {incident}: the incident cannot be resolved yet (for a failed job, \
             give the job retries first, then resolve again).\n  "
        )),
        "{err}"
    );
    assert!(err.contains("no retries left"), "{err}");
    let e = engine
        .cli(&["resolve", &incident, "--json"])
        .failed(1)
        .error_json();
    assert_eq!(e["error"]["code"], "FAILED_PRECONDITION", "{e}");

    grpc.update_job_retries(pb::UpdateJobRetriesRequest {
        job_key: job,
        retries: 1,
        operation_reference: None,
    })
    .await
    .unwrap();
    let v = engine.cli(&["resolve", &incident, "--json"]).ok().json();
    assert_eq!(
        v,
        serde_json::json!({"incidentKey": incident.parse::<i64>().unwrap()})
    );
    // The job is activatable again, and the incident is gone.
    assert_eq!(activate_one(&mut grpc, activate).await, job);
    let r = engine.cli(&["resolve", &incident]);
    assert!(
        r.failed(1).stderr.starts_with(&format!(
            "apsis: Could not resolve incident {incident}: no such incident is open"
        )),
        "{r:#?}"
    );
}

async fn activate_one(
    grpc: &mut GatewayClient<tonic::transport::Channel>,
    request: pb::ActivateJobsRequest,
) -> i64 {
    let mut stream = grpc.activate_jobs(request).await.unwrap().into_inner();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.message())
            .await
            .expect("a job within the wait")
            .unwrap()
            .expect("the stream answers before it ends");
        if let Some(job) = next.jobs.first() {
            return job.key;
        }
    }
}

#[test]
fn no_gateway_is_exit_3_with_a_sentence() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let r = cli(&["status", "--address", &url]);
    let err = &r.failed(3).stderr;
    assert!(
        err.starts_with(&format!(
            "apsis: Expected a Zeebe gateway at {url}, but could not connect: is `apsis engine` running?\n"
        )),
        "{err}"
    );
    let e = cli(&["cancel", "1", "--address", &url, "--json"])
        .failed(3)
        .error_json();
    assert_eq!(e["error"]["exitCode"], 3, "{e}");
}

#[test]
fn bad_input_is_exit_2_before_connecting() {
    // No gateway listens here: an input error must be found first (exit 2, not 3).
    let url = format!("http://127.0.0.1:{}", free_port());
    let r = cli(&["run", "p", "--vars", r#"{"a" 1}"#, "--address", &url]);
    assert_eq!(
        r.failed(2).stderr,
        "apsis: Expected --vars to be a JSON object, but it is not valid JSON: expected `:` at line 1, column 6\n"
    );
    let r = cli(&[
        "publish",
        "m",
        "--key",
        "k",
        "--vars",
        "[1, 2]",
        "--address",
        &url,
    ]);
    assert!(
        r.failed(2).stderr.contains("--vars") && r.stderr.contains("an array"),
        "{r:#?}"
    );
    let r = cli(&[
        "run",
        "p",
        "--vars",
        "@/nonexistent/vars.json",
        "--address",
        &url,
    ]);
    assert_eq!(
        r.failed(2).stderr,
        "apsis: Expected to read --vars from the file '/nonexistent/vars.json', but it does not exist\n"
    );
    let r = cli(&["deploy", "/nonexistent/order.bpmn", "--address", &url]);
    assert_eq!(
        r.failed(2).stderr,
        "apsis: Expected to read the resource from the file '/nonexistent/order.bpmn', but it does not exist\n"
    );
    let e = cli(&[
        "deploy",
        "/nonexistent/order.bpmn",
        "--address",
        &url,
        "--json",
    ])
    .failed(2)
    .error_json();
    assert_eq!(e["error"]["exitCode"], 2, "{e}");
    let r = cli(&[
        "publish",
        "m",
        "--key",
        "k",
        "--ttl",
        "5x",
        "--address",
        &url,
    ]);
    assert!(
        r.failed(2).stderr.contains("expected a duration like 30s"),
        "{r:#?}"
    );
    let r = cli(&["cancel", "not-a-key", "--address", &url]);
    r.failed(2);
    let r = cli(&["status", "--address", "ftp://127.0.0.1:1"]);
    assert!(
        r.failed(2)
            .stderr
            .contains("(from --address) to be http(s)://HOST:PORT"),
        "{r:#?}"
    );
    let r = cli(&[
        "status",
        "--ca-cert",
        "/nonexistent/ca.pem",
        "--address",
        &url,
    ]);
    assert!(
        r.failed(2)
            .stderr
            .starts_with("apsis: Expected to read the CA certificate file /nonexistent/ca.pem"),
        "{r:#?}"
    );
    let r = finish(spawn(&["status"], &[("ZEEBE_ADDRESS", "h:port")]));
    assert!(
        r.failed(2).stderr.contains("(from ZEEBE_ADDRESS)"),
        "{r:#?}"
    );
}
