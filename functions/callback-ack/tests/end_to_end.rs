//! callback-ack end to end: the real `apsis engine`, the real `apsis-callback-ack` binary, real HTTP callbacks
//! and real gRPC, asserting each callback's effect in the engine (see `common` for how the processes start).

mod common;

use std::time::Duration;

use apsis_proto as pb;
use apsis_worker_faas::task::Mode;
use apsis_worker_faas::token::{self, CallbackKey, Claims};
use common::*;
use serde_json::json;

/// A service task whose job the test activates itself (as the worker would), then `after`.
const HOLD: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="hold" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:serviceTask id="ortho"><bpmn:extensionElements><zeebe:taskDefinition type="faas" retries="2" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:serviceTask id="next"><bpmn:extensionElements><zeebe:taskDefinition type="after" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:endEvent id="e" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="ortho" />
    <bpmn:sequenceFlow id="f2" sourceRef="ortho" targetRef="next" />
    <bpmn:sequenceFlow id="f3" sourceRef="next" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>"#;

/// The CNES design: the service task completes with the call id, the receive task waits for the callback's message.
const RECEIVE: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:message id="done" name="function-done">
    <bpmn:extensionElements><zeebe:subscription correlationKey="=callId" /></bpmn:extensionElements>
  </bpmn:message>
  <bpmn:process id="receive" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:serviceTask id="ortho"><bpmn:extensionElements><zeebe:taskDefinition type="faas" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:receiveTask id="wait" messageRef="done" />
    <bpmn:serviceTask id="next"><bpmn:extensionElements><zeebe:taskDefinition type="after" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:endEvent id="e" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="ortho" />
    <bpmn:sequenceFlow id="f2" sourceRef="ortho" targetRef="wait" />
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="next" />
    <bpmn:sequenceFlow id="f4" sourceRef="next" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>"#;

const NONE_WAIT: Duration = Duration::from_millis(700);

fn ok(call_id: &str) -> Callback<'_> {
    Callback {
        call_id,
        status: 200,
        body: r#"{"tile": "T31TCJ"}"#,
        content_type: Some("application/json"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_task_mode_publishes_once_and_the_instance_moves_on() {
    let engine = engine();
    let mut c = engine.client().await;
    deploy(&mut c, "receive.bpmn", RECEIVE).await;
    let pi = create_instance(&mut c, "receive", "{}").await;
    let job = one_job(&mut c, "faas").await;
    let call_id = "call-rt-1";
    // What the worker does in receive-task mode: complete the job with the call id at once.
    c.complete_job(pb::CompleteJobRequest {
        job_key: job.key,
        variables: json!({"callId": call_id}).to_string(),
        result: None,
    })
    .await
    .unwrap();
    let ack = CallbackAck::start(&engine.gateway_url(), &[]);
    let token = token::sign(
        &Claims {
            call_id: call_id.to_owned(),
            job_key: job.key,
            mode: Mode::ReceiveTask {
                message_name: "function-done".to_owned(),
            },
            retries: 3,
            result_variable: None,
            expires_at: unix_now() + 3600,
            trace: Default::default(),
        },
        &key(),
    );
    assert_eq!(post(&ack.url(&token), &ok(call_id)).await.0, 202);
    let next = one_job(&mut c, "after").await;
    assert_eq!(next.process_instance_key, pi);
    let vars = variables(&next);
    assert_eq!(vars["status"], 200);
    assert_eq!(vars["ok"], true);
    assert_eq!(vars["durationSeconds"], 12.5);
    assert_eq!(vars["output"], json!({"tile": "T31TCJ"}));
    assert_eq!(vars["callId"], call_id);

    // The same callback again, here (caught in memory) and at a fresh replica (ALREADY_EXISTS from the engine,
    // the message id being the call id): both answered 202, nothing published twice.
    assert_eq!(post(&ack.url(&token), &ok(call_id)).await.0, 202);
    let replica = CallbackAck::start(&engine.gateway_url(), &[]);
    assert_eq!(post(&replica.url(&token), &ok(call_id)).await.0, 202);
    wait_for(|| replica.callbacks("duplicate") == 1).await;
    assert_eq!(ack.callbacks("published"), 1);
    assert_eq!(ack.callbacks("duplicate"), 1);
    assert_eq!(replica.callbacks("published"), 0);
    assert!(activate(&mut c, "after", 5, NONE_WAIT).await.is_empty());
    // Every log line about the callback carries its call id and job key.
    let log = ack.log_text();
    assert!(
        log.contains("A duplicate of a callback already acted on here"),
        "{log}"
    );
    assert!(!replica.log_text().contains("already acted on here"));
    let published = log
        .lines()
        .find(|l| l.contains("Callback acted on"))
        .unwrap_or_else(|| panic!("{log}"));
    let line: serde_json::Value = serde_json::from_str(published).unwrap();
    assert_eq!(line["span"]["call_id"], call_id, "{published}");
    assert_eq!(line["span"]["job_key"], job.key, "{published}");
    assert_eq!(line["span"]["function"], "otbcli", "{published}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_mode_completes_on_2xx_and_fails_with_the_error_text_otherwise() {
    let engine = engine();
    let mut c = engine.client().await;
    deploy(&mut c, "hold.bpmn", HOLD).await;
    let ack = CallbackAck::start(&engine.gateway_url(), &[]);

    // 2xx: completed with {resultVariable: output}, once.
    create_instance(&mut c, "hold", "{}").await;
    let job = one_job(&mut c, "faas").await;
    let token = hold_token("call-ok", job.key, job.retries, Some("ortho"));
    assert_eq!(post(&ack.url(&token), &ok("call-ok")).await.0, 202);
    let next = one_job(&mut c, "after").await;
    assert_eq!(variables(&next)["ortho"], json!({"tile": "T31TCJ"}));
    // A duplicate at a fresh replica: NOT_FOUND from the engine, counted as a duplicate, 202.
    let replica = CallbackAck::start(&engine.gateway_url(), &[]);
    assert_eq!(post(&replica.url(&token), &ok("call-ok")).await.0, 202);
    wait_for(|| replica.callbacks("duplicate") == 1).await;
    assert_eq!(ack.callbacks("completed"), 1);
    assert!(activate(&mut c, "after", 5, NONE_WAIT).await.is_empty());

    // 500: failed with the function's error text and retries - 1; at 0, an incident carrying that text.
    let pi = create_instance(&mut c, "hold", "{}").await;
    let job = one_job(&mut c, "faas").await;
    assert_eq!(job.retries, 2);
    let failing = Callback {
        call_id: "call-fail-1",
        status: 500,
        body: "Traceback...\nERROR: cannot open PAN.TIF",
        content_type: None,
    };
    let token = hold_token("call-fail-1", job.key, job.retries, Some("ortho"));
    assert_eq!(post(&ack.url(&token), &failing).await.0, 202);
    let again = one_job(&mut c, "faas").await;
    assert_eq!((again.key, again.retries), (job.key, 1));
    assert_eq!(engine.incidents(), Vec::<serde_json::Value>::new());
    let failing = Callback {
        call_id: "call-fail-2",
        ..failing
    };
    let token = hold_token("call-fail-2", again.key, again.retries, Some("ortho"));
    assert_eq!(post(&ack.url(&token), &failing).await.0, 202);
    wait_for(|| !engine.incidents().is_empty()).await;
    let incidents = engine.incidents();
    let incident = &incidents[0];
    assert_eq!(incident["processInstanceKey"], pi);
    assert_eq!(incident["errorType"], "JOB_NO_RETRIES");
    assert_eq!(
        incident["errorMessage"],
        "Expected function 'otbcli' to succeed, but it answered HTTP 500 after 12.5 s: \
         Traceback...\nERROR: cannot open PAN.TIF"
    );
    // Counted once the gateway has answered, which can be after the engine shows the incident.
    wait_for(|| ack.callbacks("failed") == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_callbacks_change_nothing() {
    let engine = engine();
    let mut c = engine.client().await;
    deploy(&mut c, "hold.bpmn", HOLD).await;
    create_instance(&mut c, "hold", "{}").await;
    let job = one_job(&mut c, "faas").await;
    let ack = CallbackAck::start(&engine.gateway_url(), &[]);
    let claims = |call_id: &str, expires_at| Claims {
        call_id: call_id.to_owned(),
        job_key: job.key,
        mode: Mode::Hold,
        retries: job.retries,
        result_variable: None,
        expires_at,
        trace: Default::default(),
    };
    let other_key = CallbackKey::new(b"another-key-0123456789-0123456789".to_vec()).unwrap();
    let forged = token::sign(&claims("c-1", unix_now() + 3600), &other_key);
    let expired = token::sign(&claims("c-1", unix_now() - 1), &key());
    let valid = token::sign(&claims("c-1", unix_now() + 3600), &key());
    let tampered = {
        let (head, mac) = valid.rsplit_once('.').unwrap();
        let flipped = if mac.starts_with('A') { "B" } else { "A" };
        format!("{head}.{flipped}{}", &mac[1..])
    };
    for (token, expected) in [
        (forged.as_str(), "signed with key"),
        (expired.as_str(), "expired"),
        (tampered.as_str(), "signature"),
        ("garbage", "three parts"),
    ] {
        let (status, body) = post(&ack.url(token), &ok("c-1")).await;
        assert_eq!(status, 401, "{body}");
        assert!(
            body.contains(expected) && body.ends_with('\n') && body.lines().count() == 1,
            "{body}"
        );
    }
    let no_token = format!("http://127.0.0.1:{}/", ack.port);
    assert_eq!(post(&no_token, &ok("c-1")).await.0, 401);
    // A valid token, but the callback is for another call, or garbled.
    let (status, body) = post(&ack.url(&valid), &ok("c-2")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("'c-1'") && body.contains("'c-2'"), "{body}");
    let garbled = reqwest::Client::new()
        .post(ack.url(&valid))
        .header("X-Call-Id", "c-1")
        .header("X-Function-Status", "fine")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status().as_u16(), 400);

    assert_eq!(ack.callbacks("refused_token"), 5);
    assert_eq!(ack.callbacks("refused_request"), 2);
    assert!(!ack
        .metrics()
        .contains("apsis_callback_ack_gateway_call_seconds"));
    // The job was neither completed nor failed: the test can still complete it, and nothing else happened.
    assert!(activate(&mut c, "after", 1, NONE_WAIT).await.is_empty());
    assert_eq!(engine.incidents(), Vec::<serde_json::Value>::new());
    c.complete_job(pb::CompleteJobRequest {
        job_key: job.key,
        variables: String::new(),
        result: None,
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_is_down_is_waited_for_within_the_retry_time() {
    let mut engine = engine();
    let mut c = engine.client().await;
    deploy(&mut c, "hold.bpmn", HOLD).await;
    create_instance(&mut c, "hold", "{}").await;
    let job = one_job(&mut c, "faas").await;
    drop(c);
    engine.kill();
    let ack = CallbackAck::start(&engine.gateway_url(), &[]);
    let strict = CallbackAck::start(
        &engine.gateway_url(),
        &[
            ("APSIS_ACT_BEFORE_ANSWER", "true"),
            ("APSIS_GATEWAY_RETRY_SECONDS", "1"),
        ],
    );
    let token = hold_token("call-late", job.key, job.retries, Some("ortho"));
    // Answered at once although nothing can be done yet...
    let started = std::time::Instant::now();
    assert_eq!(post(&ack.url(&token), &ok("call-late")).await.0, 202);
    assert!(started.elapsed() < Duration::from_secs(2));
    // ...while act-before-answer tells the caller that it could not act (503).
    let (status, body) = post(&strict.url(&token), &ok("call-late")).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with("Expected to act on the callback, but it still failed after retrying"),
        "{body}"
    );
    assert_eq!(strict.callbacks("gateway_error"), 1);

    wait_for(|| ack.metrics().contains("code=\"connect\"")).await;
    engine.restart();
    let mut c = engine.client().await;
    let next = one_job(&mut c, "after").await;
    assert_eq!(variables(&next)["ortho"], json!({"tile": "T31TCJ"}));
    // Counted once the gateway has answered, which can be after the engine shows the next job.
    wait_for(|| ack.callbacks("completed") == 1).await;
}

#[test]
fn startup_errors_exit_2_with_a_sentence_and_print_config_masks_the_key() {
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_apsis-callback-ack"))
            .env_clear()
            .envs(env.iter().copied())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = run(&[("APSIS_CALLBACK_KEY_FILE", "/nonexistent/key")], &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("Expected to read the callback key file /nonexistent/key"),
        "{err}"
    );
    let (code, _, err) = run(&[("APSIS_CALLBACK_KEY", "short")], &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("at least 32 bytes"), "{err}");
    let (code, _, err) = run(&[("APSIS_CALLBACK_KEY", KEY)], &["--listen", "nowhere"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("Expected the listen address (from --listen)"),
        "{err}"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let (code, _, err) = run(&[("APSIS_CALLBACK_KEY", KEY), ("APSIS_LISTEN", &busy)], &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!("Expected to listen on {busy}")),
        "{err}"
    );
    let (code, out, _) = run(
        &[
            ("APSIS_CALLBACK_KEY", KEY),
            ("ZEEBE_ADDRESS", "gw.example:26500"),
        ],
        &["--print-config"],
    );
    assert_eq!(code, Some(0));
    assert!(!out.contains(KEY) && out.contains(key().id()), "{out}");
    assert!(out.contains("address = \"gw.example:26500\""), "{out}");
}

/// Polls `done` for up to 20 s.
async fn wait_for(mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
