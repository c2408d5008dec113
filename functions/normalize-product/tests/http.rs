//! `normalize-product serve` as the local runtime runs it: a real process on a real port, a real HTTP client, and the
//! stdin lifeline.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(port: u16) -> Child {
    let child = Command::new(bin())
        .arg("serve")
        .env("APSIS_LISTEN", format!("127.0.0.1:{port}"))
        .env("APSIS_STDIN_LIFELINE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the function did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_worker_body_and_exits_when_stdin_closes() {
    let dir = tempfile::tempdir().unwrap();
    let ms = dir.path().join("ms.tif");
    let ortho = dir.path().join("ortho.tif");
    write_u16(
        &ms,
        &Spec {
            size: (16, 12),
            bands: 4,
            nodata: Some(0.0),
            georef: false,
            value: &ms_value,
        },
    );
    write_u16(
        &ortho,
        &Spec {
            size: (40, 30),
            bands: 4,
            nodata: Some(0.0),
            georef: true,
            value: &ortho_value,
        },
    );
    let out = dir.path().join("out.tif");
    let port = free_port();
    let mut child = start(port);
    let url = format!("http://127.0.0.1:{port}/");
    let client = reqwest::Client::new();
    let argv = |ms: &std::path::Path| {
        serde_json::json!({"argv": ["normalize-product", "--in_ms", ms, "--in_ortho", &ortho, "--out", &out]})
            .to_string()
    };

    let res = client
        .post(&url)
        .header("X-Call-Id", "call-ok")
        .body(argv(&ms))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(body["outputs"][0], out.to_str().unwrap());
    assert!(body["durationSeconds"].as_f64().unwrap() > 0.0);
    let mut valid = ms_valid(4, (16, 12));
    assert_eq!(body["bands"][3]["validPixels"], valid.len());
    assert_eq!(body["bands"][3]["max"], percentile(&mut valid, 0.98));
    assert!(out.exists());

    let res = client
        .post(&url)
        .header("X-Call-Id", "call-fails")
        .body(argv(&dir.path().join("missing.tif")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let text = res.text().await.unwrap();
    assert!(
        text.starts_with("Expected to read") && text.contains("missing.tif"),
        "{text}"
    );

    let res = client
        .post(&url)
        .body(r#"{"argv": ["rm", "-rf", "/"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // Closing stdin (the runtime going away) ends the process.
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the function outlived its stdin");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success());
    // JSON log lines carry the call id.
    let logs: Vec<serde_json::Value> = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    assert!(
        logs.iter()
            .any(|l| l["call_id"] == "call-ok" && l["message"] == "normalized"),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|l| l["call_id"] == "call-fails" && l["level"] == "ERROR"),
        "{logs:?}"
    );
}
