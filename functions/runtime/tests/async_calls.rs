//! Asynchronous calls: 202 at once, then a callback with the OpenFaaS queue-worker's headers.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;

async fn post_async(
    base: &str,
    path: &str,
    callback: &str,
    call_id: Option<&str>,
) -> reqwest::Response {
    let mut request = client()
        .post(format!("{base}/async-function/{path}"))
        .header("x-callback-url", callback)
        .header("content-type", "text/plain")
        .body("input /data/in/PAN.TIF");
    if let Some(id) = call_id {
        request = request.header("x-call-id", id);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_with_202_then_called_back_with_the_queue_workers_headers() {
    let rt = start(Duration::from_secs(5)).await;
    let receiver = Receiver::start(0).await;
    let accepted = post_async(&rt.base, "echo/step?n=1", &receiver.url, None).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let call_id = header(accepted.headers(), "x-call-id").to_string();
    assert_eq!(call_id.len(), 36, "generated when the client sent none");
    assert!(header(accepted.headers(), "x-start-time")
        .parse::<u128>()
        .is_ok());
    assert_eq!(accepted.text().await.unwrap(), "");

    let callback = receiver.next().await;
    assert_eq!(
        callback.body, "input /data/in/PAN.TIF",
        "the function's raw body"
    );
    assert_eq!(callback.header("x-call-id"), call_id);
    assert_eq!(callback.header("x-function-status"), "200");
    assert_eq!(callback.header("x-function-name"), "echo");
    let seconds: f64 = callback.header("x-duration-seconds").parse().unwrap();
    assert!((0.0..20.0).contains(&seconds));
    // The function's own response headers come along.
    assert_eq!(callback.header("x-echo-path"), "/step?n=1");
    assert_eq!(callback.header("x-echo-call-id"), call_id);
    assert_eq!(callback.header("content-type"), "text/plain");
    assert!(
        receiver.quiet_for(Duration::from_millis(300)).await,
        "one callback per call"
    );
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_own_call_id_is_kept_and_not_echoed() {
    let rt = start(Duration::from_secs(5)).await;
    let receiver = Receiver::start(0).await;
    let accepted = post_async(&rt.base, "echo", &receiver.url, Some("2251799813685249-1")).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    assert!(accepted.headers().get("x-call-id").is_none());
    let callback = receiver.next().await;
    assert_eq!(callback.header("x-call-id"), "2251799813685249-1");
    assert_eq!(callback.header("x-echo-call-id"), "2251799813685249-1");
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_timeouts_and_unreachable_functions_are_reported_in_the_callback() {
    let rt = start(Duration::from_secs(5)).await;
    let receiver = Receiver::start(0).await;

    post_async(&rt.base, "echo/status/500", &receiver.url, Some("failed")).await;
    let failed = receiver.next().await;
    assert_eq!(failed.header("x-function-status"), "500");
    assert_eq!(failed.body, "failed with 500");

    post_async(&rt.base, "slow/sleep?ms=10000", &receiver.url, Some("late")).await;
    let late = receiver.next().await;
    assert_eq!(late.header("x-call-id"), "late");
    assert_eq!(late.header("x-function-status"), "504");

    post_async(&rt.base, "broken", &receiver.url, Some("down")).await;
    let down = receiver.next().await;
    assert_eq!(down.header("x-call-id"), "down");
    assert_eq!(down.header("x-function-status"), "503");
    assert_eq!(down.header("x-function-name"), "broken");
    assert!(
        down.body.is_empty(),
        "an unreachable function calls back with an empty body"
    );
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_callback_urls_unknown_functions_and_large_bodies_are_refused() {
    let rt = start(Duration::from_secs(5)).await;
    let c = client();
    let bad = post_async(&rt.base, "echo", "not a url", None).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("'not a url'"));

    let receiver = Receiver::start(0).await;
    let unknown = post_async(&rt.base, "nope", &receiver.url, None).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let url = format!("{}/async-function/echo", rt.base);
    let over = c.post(&url).body(vec![b'x'; 256_001]).send().await.unwrap();
    assert_eq!(
        over.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "OpenFaaS CE answers 500 over its limit"
    );
    let at_limit = c
        .post(&url)
        .header("x-callback-url", &receiver.url)
        .body(vec![b'x'; 256_000])
        .send()
        .await
        .unwrap();
    assert_eq!(at_limit.status(), StatusCode::ACCEPTED);
    assert_eq!(receiver.next().await.body.len(), 256_000);

    let get = c.get(&url).send().await.unwrap();
    assert_eq!(
        get.status(),
        StatusCode::METHOD_NOT_ALLOWED,
        "asynchronous calls are POST only"
    );
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_waits_for_a_slot_instead_of_answering_429() {
    let rt = start(Duration::from_secs(5)).await;
    let receiver = Receiver::start(0).await;
    for id in ["q1", "q2", "q3"] {
        let accepted = post_async(&rt.base, "one/sleep?ms=200", &receiver.url, Some(id)).await;
        assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    }
    let mut ids = Vec::new();
    for _ in 0..3 {
        let callback = receiver.next().await;
        assert_eq!(
            callback.header("x-function-status"),
            "200",
            "max_inflight 1 queues, never 429"
        );
        ids.push(callback.header("x-call-id").to_string());
    }
    assert_eq!(ids, ["q1", "q2", "q3"], "one at a time, in order");
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_callback_is_retried() {
    let rt = start(Duration::from_secs(5)).await;
    let receiver = Receiver::start(1).await;
    post_async(&rt.base, "echo", &receiver.url, Some("retried")).await;
    let first = receiver.next().await;
    let second = receiver.next().await;
    assert_eq!(first.header("x-call-id"), "retried");
    assert_eq!(second.header("x-call-id"), "retried");
    assert_eq!(second.body, first.body);
    assert!(
        receiver.quiet_for(Duration::from_millis(1500)).await,
        "no retry after a 200"
    );
    rt.handle.shutdown().await.unwrap();
}
