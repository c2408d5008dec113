//! End to end on loopback, every component a separate real process: `apsis engine`, `apsis-worker-faas`, the local
//! OpenFaaS runtime `apsis-faas-local` and `apsis-callback-ack` behind it (see `e2e/chain.rs`). The processes are
//! `tests/fixtures/e2e-hold.bpmn` (hold mode) and `e2e-receive.bpmn` (receive-task mode, the CNES design); the
//! function is the runtime's `echo`, scripted by the rendered argv (`{{verb}} {{arg}}`).

#[path = "e2e/chain.rs"]
mod chain;
#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use chain::{wait, Chain, Delivery};
use serde_json::json;

const WITHIN: Duration = Duration::from_secs(40);
/// A value a shell would act on: it must reach the function as one argument, unchanged.
const HOSTILE: &str = "a b; rm -rf / $(id) `id` \"q\" *";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receive_task_mode_completes_through_the_callback_message() {
    let chain = Chain::start().await;
    let vars = chain
        .run("e2e-receive", json!({"verb": "echo", "arg": HOSTILE}))
        .await;
    let step = &vars["step"];
    assert_eq!(step["status"], 200, "{vars}");
    assert_eq!(step["ok"], true, "{vars}");
    assert!(step["durationSeconds"].as_f64().is_some(), "{vars}");
    assert!(
        step["callId"].as_str().is_some_and(|c| c.len() == 36),
        "{vars}"
    );
    // The function received the rendered argv: two words, the hostile value one argument.
    assert_eq!(step["output"], json!({"argv": ["echo", HOSTILE]}), "{vars}");
    assert_eq!(chain.count("e2e-receive", "completed"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hold_mode_completes_with_the_function_output() {
    let chain = Chain::start().await;
    let vars = chain
        .run("e2e-hold", json!({"verb": "echo", "arg": "x"}))
        .await;
    assert_eq!(vars["result"], json!({"argv": ["echo", "x"]}), "{vars}");
    assert!(chain.engine.incidents().is_empty());
    // callback-ack measured the wait from the worker's invocation (carried in the token) to the callback.
    assert_eq!(
        chain
            .callback_ack_metric(
                "apsis_callback_ack_callback_latency_seconds_count{function=\"echo\"}"
            )
            .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_function_ends_in_an_incident_with_its_error_text_and_the_fix_completes_it() {
    let chain = Chain::start().await;
    let input = chain.dir.path().join("pan.tif");
    let pi = chain
        .engine
        .create(
            "e2e-hold",
            json!({"verb": "require", "arg": input.display().to_string()}),
        )
        .await;
    // retries="2": the first failure leaves one retry, the second raises the incident.
    let incident = chain.engine.incident().await;
    assert_eq!(incident["errorType"], "JOB_NO_RETRIES", "{incident}");
    assert_eq!(incident["processInstanceKey"], pi, "{incident}");
    let message = incident["errorMessage"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "Expected the input {} to exist, but it does not",
            input.display()
        )),
        "the incident carries the function's error text: {message}"
    );
    assert!(
        message.contains("echo"),
        "and names the function: {message}"
    );
    assert_eq!(chain.count("e2e-hold", "completed"), 0);
    // The operator repairs the input, gives the job a retry and resolves the incident.
    std::fs::write(&input, b"repaired").unwrap();
    chain.engine.retry_and_resolve(&incident).await;
    chain.wait_completed("e2e-hold", 1, WITHIN).await;
    assert!(chain.engine.incidents().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicated_callback_completes_nothing_twice() {
    let chain = Chain::start().await;
    chain.proxy.set(Delivery::Twice);
    let held = chain
        .run("e2e-hold", json!({"verb": "echo", "arg": "1"}))
        .await;
    assert_eq!(held["result"]["argv"][1], "1");
    let received = chain
        .run("e2e-receive", json!({"verb": "echo", "arg": "2"}))
        .await;
    assert_eq!(received["step"]["status"], 200);
    // Both deliveries of both callbacks were accepted (202); the second of each changed nothing.
    let proxy = &chain.proxy;
    wait(WITHIN, "4 accepted deliveries", || {
        proxy.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 4
    })
    .await;
    assert_eq!(chain.count("e2e-hold", "completed"), 1);
    assert_eq!(chain.count("e2e-receive", "completed"), 1);
    assert!(chain.engine.incidents().is_empty());
    // callback-ack acts after answering: its count of duplicates catches up.
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        let duplicates = chain
            .callback_ack_metric("apsis_callback_ack_callbacks_total{outcome=\"duplicate\"}")
            .await;
        if duplicates >= 2.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Expected callback-ack to count 2 duplicates, but it counts {duplicates}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_callback_hits_the_deadline() {
    let chain = Chain::start().await;
    chain.proxy.set(Delivery::Drop);
    // Receive-task mode: the BPMN's timer boundary (PT5S) ends the instance at 'timed-out'.
    let vars = chain
        .run("e2e-receive", json!({"verb": "echo", "arg": "lost"}))
        .await;
    assert!(vars["step"]["callId"].is_string(), "{vars}");
    assert!(
        vars["step"].get("status").is_none(),
        "no callback reached the instance: {vars}"
    );
    // Hold mode: the worker fails the job at the task's deadline (PT5S), twice (retries="2"): an incident.
    chain
        .engine
        .create("e2e-hold", json!({"verb": "echo", "arg": "lost"}))
        .await;
    let incident = chain.engine.incident().await;
    assert_eq!(
        incident["errorMessage"],
        "Expected a callback from function 'echo' within PT5S, but none arrived",
        "{incident}"
    );
    assert!(
        chain
            .proxy
            .received
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forged_callback_is_refused_and_changes_nothing() {
    let chain = Chain::start().await;
    chain.proxy.set(Delivery::Drop); // the real callback never arrives: only the forged ones do
    chain
        .engine
        .create("e2e-hold", json!({"verb": "echo", "arg": "x"}))
        .await;
    wait(WITHIN, "the function to call back", || {
        chain
            .proxy
            .received
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 1
    })
    .await;
    let http = reqwest::Client::new();
    let url = format!("{}/function/callback-ack", chain.runtime_url);
    let wrong_key = apsis_worker_faas::token::CallbackKey::new(vec![7u8; 40]).unwrap();
    let forged = apsis_worker_faas::token::sign(
        &apsis_worker_faas::token::Claims {
            call_id: "forged-call".into(),
            job_key: 1,
            mode: apsis_worker_faas::task::Mode::Hold,
            retries: 3,
            result_variable: None,
            expires_at: u64::MAX / 2,
            trace: Default::default(),
        },
        &wrong_key,
    );
    for token in [forged.as_str(), "v1.not.a-token", ""] {
        let answer = http
            .post(format!("{url}?token={token}"))
            .header("X-Call-Id", "forged-call")
            .header("X-Function-Status", "200")
            .header("X-Function-Name", "echo")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "token '{token}'");
    }
    assert_eq!(chain.count("e2e-hold", "completed"), 0);
    assert!(chain.engine.incidents().is_empty());
    assert!(
        chain
            .callback_ack_metric("apsis_callback_ack_callbacks_total{outcome=\"refused_token\"}")
            .await
            >= 3.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_of_the_worker_mid_job_still_completes_every_instance_exactly_once() {
    use std::sync::atomic::Ordering::SeqCst;
    let mut chain = Chain::start().await;
    // Invocations take 1 s to reach the runtime: jobs sit activated-but-not-yet-invoked in the worker.
    chain.invocations.delay_ms.store(1_000, SeqCst);
    let n = 12;
    for i in 0..n {
        chain
            .engine
            .create("e2e-hold", json!({"verb": "echo", "arg": "x", "i": i}))
            .await;
    }
    wait(
        WITHIN,
        "the worker to take 8 jobs (its max in flight)",
        || chain.invocations.received.load(SeqCst) >= 8,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    chain.kill_worker(); // SIGKILL: its 8 invocations in flight die with it
    let cut_off = chain.invocations.received.load(SeqCst);
    chain.invocations.delay_ms.store(0, SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        chain.invocations.forwarded.load(SeqCst),
        0,
        "no invocation got through before the kill"
    );
    chain.start_worker();
    // The killed worker's jobs come back after their activation timeout (3 s) and run on the new worker.
    chain
        .wait_completed("e2e-hold", n, Duration::from_secs(60))
        .await;
    assert_eq!(chain.count("e2e-hold", "started"), n);
    assert_eq!(chain.count("e2e-hold", "completed"), n, "each exactly once");
    assert_eq!(chain.count("e2e-hold", "terminated"), 0);
    assert!(chain.engine.incidents().is_empty());
    eprintln!(
        "worker SIGKILLed with {cut_off} invocations in flight: {n} instances completed once each; {} invocations received, {} reached the runtime, {} callbacks",
        chain.invocations.received.load(SeqCst),
        chain.invocations.forwarded.load(SeqCst),
        chain.proxy.received.load(SeqCst),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_worker_and_callback_ack_ride_out_an_engine_restart() {
    let mut chain = Chain::start().await;
    let before = chain
        .run("e2e-hold", json!({"verb": "echo", "arg": "before"}))
        .await;
    assert_eq!(before["result"]["argv"][1], "before");
    // SIGKILL and restart on the same data directory and addresses: the worker's streams and polls and
    // callback-ack's gateway connection fail (UNAVAILABLE), back off and reconnect.
    chain.engine.restart();
    let after = chain
        .run("e2e-receive", json!({"verb": "echo", "arg": "after"}))
        .await;
    assert_eq!(after["step"]["status"], 200, "{after}");
    let held = chain
        .run("e2e-hold", json!({"verb": "echo", "arg": "again"}))
        .await;
    assert_eq!(held["result"]["argv"][1], "again");
    assert_eq!(
        chain.count("e2e-hold", "completed"),
        2,
        "durable across the restart"
    );
    assert!(chain.engine.incidents().is_empty());
}
