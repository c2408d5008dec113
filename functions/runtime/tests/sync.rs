//! Synchronous calls through the in-process runtime to real function processes.

mod common;

use std::time::{Duration, Instant};

use common::*;
use http::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_method_path_query_headers_and_body_and_returns_the_answer() {
    let rt = start(Duration::from_secs(5)).await;
    let response = client()
        .put(format!("{}/function/echo/a/b?x=1&y=2", rt.base))
        .header("content-type", "application/json")
        .header("x-custom", "kept")
        .body(r#"{"pan": "/data/PAN.TIF"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers().clone();
    assert_eq!(header(&h, "x-echo-path"), "/a/b?x=1&y=2");
    assert_eq!(header(&h, "x-echo-method"), "PUT");
    assert_eq!(
        header(&h, "x-echo-env"),
        "hello",
        "the function's environment reaches its process"
    );
    assert_eq!(header(&h, "content-type"), "application/json");
    assert!(header(&h, "x-echo-header-names").contains("x-custom"));
    let generated = header(&h, "x-call-id");
    assert_eq!(
        generated.len(),
        36,
        "a generated call id is returned: {h:?}"
    );
    assert_eq!(
        header(&h, "x-echo-call-id"),
        generated,
        "and passed to the function"
    );
    assert!(header(&h, "x-start-time").parse::<u128>().is_ok());
    assert!(header(&h, "x-duration-seconds").parse::<f64>().is_ok());
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"pan": "/data/PAN.TIF"}"#
    );

    let root = client()
        .get(format!("{}/function/echo", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(header(root.headers(), "x-echo-path"), "/");
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_own_call_id_is_used_and_not_echoed() {
    let rt = start(Duration::from_secs(5)).await;
    let response = client()
        .post(format!("{}/function/echo", rt.base))
        .header("x-call-id", "job-2251799813685249")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("x-call-id").is_none());
    assert_eq!(
        header(response.headers(), "x-echo-call-id"),
        "job-2251799813685249"
    );
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functions_status_unknown_functions_and_namespaces() {
    let rt = start(Duration::from_secs(5)).await;
    let c = client();
    let failed = c
        .post(format!("{}/function/echo/status/418", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status().as_u16(), 418);
    assert_eq!(failed.text().await.unwrap(), "failed with 418");

    let unknown = c
        .post(format!("{}/function/nope", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.text().await.unwrap().contains("'nope'"));

    let namespaced = c
        .get(format!("{}/function/echo.openfaas-fn/pid", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(namespaced.status(), StatusCode::OK);
    let other = c
        .get(format!("{}/function/echo.elsewhere/pid", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_timeout_answers_504_without_waiting_for_the_function() {
    let rt = start(Duration::from_secs(5)).await;
    let started = Instant::now();
    let response = client()
        .get(format!("{}/function/slow/sleep?ms=10000", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answered at the 300ms exec_timeout, not after the sleep"
    );
    assert!(response.text().await.unwrap().contains("exec_timeout"));
    let quick = client()
        .get(format!("{}/function/slow/sleep?ms=1", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(quick.status(), StatusCode::OK);
    rt.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_inflight_answers_429() {
    let rt = start(Duration::from_secs(5)).await;
    let c = client();
    let busy = tokio::spawn({
        let url = format!("{}/function/one/sleep?ms=3000", rt.base);
        let c = c.clone();
        async move { c.get(url).send().await.unwrap().status() }
    });
    // In flight once the runtime counted it.
    let counted = eventually(WITHIN, || {
        let url = format!("{}/system/function/one", rt.base);
        async move {
            let v = get_json(url).await?;
            (v["invocationCount"] == 1).then_some(())
        }
    })
    .await;
    assert!(counted.is_some());
    let refused = c
        .get(format!("{}/function/one/pid", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(busy.await.unwrap(), StatusCode::OK);
    let after = c
        .get(format!("{}/function/one/pid", rt.base))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::OK, "the slot is free again");
    rt.handle.shutdown().await.unwrap();
}
