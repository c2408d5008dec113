//! The worker in-process (its lib's Service) against the real `apsis engine` and a fake OpenFaaS gateway over
//! real HTTP: what it sends, and what the engine sees afterwards.

mod support;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apsis_proto::gateway_protocol as pb;
use apsis_testkit::EngineProcess;
use apsis_worker_faas::config::{self, Flags, Sources, CALLBACK_KEY_ENV};
use apsis_worker_faas::token::{self, CallbackKey, Claims};
use apsis_worker_faas::worker::{Handle, Options, Service};
use serde_json::{json, Value};
use support::{Answer, EngineExt, FakeGateway, Recorded, KEY};

/// Retries quick enough for a test: 3 attempts 20-50 ms apart; a failed job with retries left comes back after
/// 100 ms.
const FAST_RETRY: &str = "[retry]\nattempts = 3\ninitial_backoff_ms = 20\nmax_backoff_ms = 50\n\
                          job_retry_backoff_ms = 100\n";

async fn worker(engine: &EngineProcess, fake: &FakeGateway, env: &[(&str, &str)]) -> Handle {
    let mut all = vec![
        (CALLBACK_KEY_ENV.to_owned(), KEY.to_owned()),
        ("ZEEBE_ADDRESS".to_owned(), engine.gateway_url()),
        ("APSIS_WORKER_OPENFAAS_URL".to_owned(), fake.url.clone()),
        // Short, so that a hold-mode job whose timeout were not extended would visibly come back.
        (
            "APSIS_WORKER_ACTIVATION_TIMEOUT_MS".to_owned(),
            "1000".to_owned(),
        ),
        (
            "APSIS_WORKER_POLL_REQUEST_TIMEOUT_MS".to_owned(),
            "1000".to_owned(),
        ),
    ];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let sources = Sources {
        env: all,
        file: Some(("test.toml".into(), FAST_RETRY.to_owned())),
        key_file: None,
    };
    let config = config::resolve(&Flags::default(), &sources).unwrap();
    let options = Options::from_config(&config).unwrap();
    Service::start(options, Arc::new(AtomicBool::new(false)))
        .await
        .unwrap()
}

/// The claims of the token in a recorded request's `X-Callback-Url`, checked against the configured base.
fn claims(r: &Recorded, base: &str) -> Claims {
    let url = &r.headers["x-callback-url"];
    let token = url
        .strip_prefix(&format!("{base}?token="))
        .unwrap_or_else(|| panic!("callback URL {url} starts with {base}?token="));
    let key = CallbackKey::new(KEY).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    token::verify(token, &key, now).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_task_mode_posts_the_argv_and_completes_the_job_with_the_call_id() {
    let engine = support::engine();
    let fake = FakeGateway::start().await;
    engine.deploy("receive-task.bpmn").await;
    let handle = worker(&engine, &fake, &[]).await;

    let mut client = engine.client().await;
    let run = tokio::spawn(async move {
        client
            .create_process_instance_with_result(pb::CreateProcessInstanceWithResultRequest {
                request: Some(pb::CreateProcessInstanceRequest {
                    bpmn_process_id: "rt".into(),
                    version: -1,
                    variables: json!({"pan": "/in/PAN.TIF", "out_dir": "/out/run 1; rm -rf /"})
                        .to_string(),
                    ..Default::default()
                }),
                request_timeout: 30_000,
                fetch_variables: vec![],
            })
            .await
    });
    let r = fake.wait_for(1).await.remove(0);
    assert_eq!(r.path, "/async-function/otbcli");
    assert_eq!(r.headers["content-type"], "application/json");
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"argv": ["otbcli_OrthoRectification", "-io.in", "/in/PAN.TIF", "-io.out",
                        "/out/run 1; rm -rf //ortho.tif"]})
    );
    let call_id = r.headers["x-call-id"].clone();
    assert_eq!(
        uuid::Uuid::parse_str(&call_id).unwrap().get_version_num(),
        4
    );
    let c = claims(&r, &format!("{}/function/callback-ack", fake.url));
    assert_eq!(c.call_id, call_id);
    assert!(c.job_key > 0);
    assert_eq!(c.retries, 3);
    assert_eq!(c.result_variable.as_deref(), Some("ortho"));
    assert_eq!(c.mode.as_str(), "receive-task");

    // The job completed with the call id: the instance waits in its receive task, correlated on ortho.callId.
    engine
        .client()
        .await
        .publish_message(pb::PublishMessageRequest {
            name: "function-done".into(),
            correlation_key: call_id.clone(),
            time_to_live: 60_000,
            message_id: call_id.clone(),
            variables: json!({"ortho": {"callId": call_id, "ok": true}}).to_string(),
            tenant_id: String::new(),
        })
        .await
        .unwrap();
    let done = run
        .await
        .unwrap()
        .expect("the instance completes")
        .into_inner();
    let vars: Value = serde_json::from_str(&done.variables).unwrap();
    assert_eq!(vars["ortho"]["callId"], json!(call_id));
    assert!(engine.incidents().is_empty());
    assert_eq!(handle.shutdown(Duration::from_secs(5)).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_mode_keeps_the_job_past_its_activation_timeout_then_fails_it_at_the_deadline() {
    let engine = support::engine();
    let fake = FakeGateway::start().await;
    engine.deploy("hold.bpmn").await;
    let handle = worker(&engine, &fake, &[]).await;
    let started = Instant::now();
    let instance = engine.create("hold", json!({"x": 1})).await;

    let incident = engine.incident().await;
    let took = started.elapsed();
    assert_eq!(
        incident["errorMessage"],
        "Expected a callback from function 'sleepy' within PT2S, but none arrived"
    );
    assert_eq!(incident["processInstanceKey"], instance);
    assert!(
        took >= Duration::from_secs(2),
        "failed at the 2 s deadline, not before: {took:?}"
    );
    // Activation timeout 1 s, deadline 2 s: had UpdateJobTimeout not worked, the job would have come back and
    // been called again. One call, and its token names the job.
    let recorded = fake.recorded();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].path, "/async-function/sleepy");
    let c = claims(&recorded[0], &format!("{}/function/callback-ack", fake.url));
    assert_eq!(incident["jobKey"], c.job_key);
    assert_eq!(c.mode.as_str(), "hold");
    // Neither cmdline nor body: the job's variables.
    assert_eq!(
        serde_json::from_str::<Value>(&recorded[0].body).unwrap(),
        json!({"x": 1})
    );
    assert_eq!(handle.awaiting_callback(), 0);
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_is_retried_then_the_job_fails_with_retries_minus_one() {
    let engine = support::engine();
    let fake = FakeGateway::start().await;
    fake.script("flaky", vec![Answer(500, "queue full", Duration::ZERO)]);
    engine.deploy("flaky.bpmn").await;
    let handle = worker(&engine, &fake, &[]).await;
    engine.create("flaky", json!({"n": 7})).await;

    let incident = engine.incident().await;
    let message = incident["errorMessage"].as_str().unwrap();
    assert_eq!(
        message,
        "Expected the gateway to accept a call of function 'flaky', but it gave HTTP 500: queue full, after 3 attempts"
    );
    // retries 2: three attempts, FailJob retries 1, back after 100 ms, three attempts, FailJob retries 0.
    let recorded = fake.recorded();
    assert_eq!(recorded.len(), 6, "{recorded:?}");
    assert_eq!(recorded[0].body, r#"{"n": 7}"#);
    assert_eq!(recorded[0].headers["content-type"], "application/json");
    let calls: std::collections::BTreeSet<_> =
        recorded.iter().map(|r| &r.headers["x-call-id"]).collect();
    assert_eq!(
        calls.len(),
        2,
        "one call id per job attempt, kept across its retries"
    );
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_fails_the_job_at_once_with_the_gateways_answer() {
    let engine = support::engine();
    let fake = FakeGateway::start().await;
    fake.script(
        "missing",
        vec![Answer(404, "function not found", Duration::ZERO)],
    );
    engine.deploy("missing.bpmn").await;
    let handle = worker(&engine, &fake, &[]).await;
    engine.create("missing", json!({})).await;

    let incident = engine.incident().await;
    assert_eq!(
        incident["errorMessage"],
        "Expected the gateway to accept a call of function 'missing', but it gave HTTP 404: function not found"
    );
    assert_eq!(fake.recorded().len(), 1);
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_variable_is_an_incident_naming_it_and_nothing_is_called() {
    let engine = support::engine();
    let fake = FakeGateway::start().await;
    engine.deploy("template.bpmn").await;
    let handle = worker(&engine, &fake, &[]).await;
    engine.create("template", json!({"pan": "a.tif"})).await;

    let incident = engine.incident().await;
    assert_eq!(incident["errorType"], "JOB_NO_RETRIES");
    assert_eq!(
        incident["errorMessage"],
        "element 'call': Expected variable 'nope' for word 3 `{{nope}}` of header 'cmdline', but the job has no such variable"
    );
    assert!(fake.recorded().is_empty());
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_max_jobs_in_flight_are_worked_on_at_once() {
    let engine = support::engine();
    let fake = FakeGateway::start().await;
    fake.script("slow", vec![Answer(202, "", Duration::from_millis(300))]);
    engine.deploy("slow.bpmn").await;
    for i in 0..6 {
        engine.create("slow", json!({"i": i})).await;
    }
    let handle = worker(&engine, &fake, &[("APSIS_WORKER_MAX_JOBS_IN_FLIGHT", "2")]).await;
    let recorded = fake.wait_for(6).await;
    let jobs: std::collections::BTreeSet<_> = recorded.iter().map(|r| &r.body).collect();
    assert_eq!(jobs.len(), 6, "every job called once: {recorded:?}");
    assert_eq!(fake.peak(), 2, "two calls at once, never more");
    // Held jobs do not count in flight.
    let deadline = Instant::now() + support::WAIT;
    while handle.awaiting_callback() < 6 {
        assert!(Instant::now() < deadline, "all six held");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(handle.in_flight(), 0);
    handle.shutdown(Duration::from_secs(5)).await;
}
