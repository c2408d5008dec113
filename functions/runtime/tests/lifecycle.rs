//! Processes: crash and restart, a function that never starts, /system endpoints, shutdown.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;

async fn pid_of(base: &str, function: &str) -> Option<u32> {
    let response = client()
        .get(format!("{base}/function/{function}/pid"))
        .send()
        .await
        .ok()?;
    if response.status() != StatusCode::OK {
        return None;
    }
    response.text().await.ok()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_function_answers_503_and_is_restarted() {
    let rt = start(Duration::from_secs(5)).await;
    let first = pid_of(&rt.base, "echo").await.expect("echo runs");
    assert_eq!(rt.handle.pid("echo"), Some(first));
    let crashed = client()
        .post(format!("{}/function/echo/crash", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(crashed.status(), StatusCode::SERVICE_UNAVAILABLE);
    let second = eventually(WITHIN, || async {
        pid_of(&rt.base, "echo").await.filter(|p| *p != first)
    })
    .await
    .expect("Expected echo to be restarted");
    assert_ne!(first, second);
    assert!(process_gone(first));
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_cannot_start_answers_503() {
    let rt = start(Duration::from_secs(5)).await;
    let response = client()
        .post(format!("{}/function/broken", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().await.unwrap().contains("'broken'"));
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_endpoints_list_the_functions() {
    let rt = start(Duration::from_secs(5)).await;
    let c = client();
    pid_of(&rt.base, "echo").await.expect("echo runs");
    let list = get_json(format!("{}/system/functions", rt.base))
        .await
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["broken", "echo", "one", "slow"]);
    let echo = &list[1];
    assert_eq!(echo["image"], "apsis/faas-echo:test");
    assert_eq!(echo["replicas"], 1);
    assert_eq!(echo["availableReplicas"], 1);
    assert_eq!(echo["invocationCount"], 1);
    assert_eq!(echo["namespace"], "openfaas-fn");
    assert_eq!(echo["labels"]["tier"], "test");
    assert_eq!(echo["envVars"]["ECHO_GREETING"], "hello");
    assert_eq!(list[0]["replicas"], 0, "broken never comes up");

    let one = c
        .get(format!("{}/system/function/echo", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    let none = c
        .get(format!("{}/system/function/nope", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    let health = c.get(format!("{}/healthz", rt.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_running_calls_answers_queued_ones_503_and_stops_processes() {
    let rt = start(Duration::from_secs(10)).await;
    let receiver = Receiver::start(0).await;
    let c = client();
    let pid = pid_of(&rt.base, "one").await.expect("one runs");
    for id in ["running", "queued"] {
        let accepted = c
            .post(format!("{}/async-function/one/sleep?ms=1500", rt.base))
            .header("x-callback-url", &receiver.url)
            .header("x-call-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    }
    // `running` holds the only slot once counted (the /pid call above was the first invocation).
    eventually(WITHIN, || async {
        let v = get_json(format!("{}/system/function/one", rt.base)).await?;
        (v["invocationCount"] == 2).then_some(())
    })
    .await
    .expect("the first call runs");
    let address = rt.handle.address();
    rt.handle.shutdown().await.unwrap();

    let mut seen = [receiver.next().await, receiver.next().await];
    seen.sort_by_key(|r| r.header("x-call-id").to_string());
    assert_eq!(seen[0].header("x-call-id"), "queued");
    assert_eq!(seen[0].header("x-function-status"), "503");
    assert_eq!(seen[1].header("x-call-id"), "running");
    assert_eq!(seen[1].header("x-function-status"), "200");
    assert!(process_gone(pid), "the function's process is stopped");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "the gateway no longer accepts"
    );
}
