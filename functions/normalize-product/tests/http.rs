//! `normalize-product serve` as the local runtime runs it: a real process on a real port, a real HTTP client, the
//! stdin lifeline, and the data roots every path of a call must be inside.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
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

/// The function serving on `port` with the data root `root`.
fn start(port: u16, root: &Path) -> Child {
    let child = Command::new(bin())
        .arg("serve")
        .env("APSIS_LISTEN", format!("127.0.0.1:{port}"))
        .env("APSIS_DATA_ROOTS", root)
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

/// POSTs `body` with the call id and returns the status and the answer's text.
async fn post(url: &str, call_id: &str, body: String) -> (u16, String) {
    let res = reqwest::Client::new()
        .post(url)
        .header("X-Call-Id", call_id)
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Closes the child's stdin (the runtime going away), checks that it exits 0, and returns its JSON log lines.
async fn stop(mut child: Child) -> Vec<serde_json::Value> {
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
    BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

/// A valid MS/ortho pair in `dir`.
fn pair(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ms = dir.join("ms.tif");
    let ortho = dir.join("ortho.tif");
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
    (ms, ortho)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_worker_body_and_exits_when_stdin_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (ms, ortho) = pair(dir.path());
    let out = dir.path().join("out.tif");
    let port = free_port();
    let child = start(port, dir.path());
    let url = format!("http://127.0.0.1:{port}/");
    let argv = |ms: &std::path::Path| {
        serde_json::json!({"argv": ["normalize-product", "--in_ms", ms, "--in_ortho", &ortho, "--out", &out]})
            .to_string()
    };

    let (status, text) = post(&url, "call-ok", argv(&ms)).await;
    assert_eq!(status, 200, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["outputs"][0], out.to_str().unwrap());
    assert!(body["durationSeconds"].as_f64().unwrap() > 0.0);
    let mut valid = ms_valid(4, (16, 12));
    assert_eq!(body["bands"][3]["validPixels"], valid.len());
    assert_eq!(body["bands"][3]["max"], percentile(&mut valid, 0.98));
    assert!(out.exists());

    // A file inside the root that is not a raster: the normalization runs and fails.
    let garbage = dir.path().join("garbage.tif");
    std::fs::write(&garbage, b"not a GeoTIFF").unwrap();
    let (status, text) = post(&url, "call-fails", argv(&garbage)).await;
    assert_eq!(status, 500);
    assert!(
        text.starts_with("Expected to open") && text.contains("garbage.tif"),
        "{text}"
    );

    // A missing input is refused before anything runs.
    let (status, text) = post(&url, "", argv(&dir.path().join("missing.tif"))).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("missing.tif' of --in_ms") && text.ends_with("but it does not exist\n"),
        "{text}"
    );

    let (status, text) = post(&url, "", r#"{"argv": ["rm", "-rf", "/"]}"#.to_owned()).await;
    assert_eq!(status, 400, "{text}");

    // Closing stdin (the runtime going away) ends the process; its JSON log lines carry the call id.
    let logs = stop(child).await;
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

/// A path outside the data root, through `..`, a symlink or an absolute path, is a 400 naming the argument and the
/// root, and nothing runs: no output, no partial file, no "normalizing" log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_outside_the_data_roots_is_refused_and_nothing_runs() {
    let root_dir = tempfile::tempdir().unwrap();
    let outside_dir = tempfile::tempdir().unwrap();
    let root = root_dir.path().canonicalize().unwrap();
    let outside = outside_dir.path().canonicalize().unwrap();
    let (ms, ortho) = pair(&root);
    let (outside_ms, outside_ortho) = pair(&outside);
    std::os::unix::fs::symlink(&outside_ortho, root.join("linked.tif")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("linked-dir")).unwrap();
    let listing = |dir: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let (root_before, outside_before) = (listing(&root), listing(&outside));

    let port = free_port();
    let child = start(port, &root);
    let url = format!("http://127.0.0.1:{port}/function/normalize-product");
    let out = root.join("out.tif");
    let (up_out, outside_out) = (root.join("../out.tif"), outside.join("out.tif"));
    let cases: Vec<(&str, [&Path; 3], String, &str)> = vec![
        // (call id, [in_ms, in_ortho, out], the argument named, why)
        (
            "absolute-ms",
            [&outside_ms, &ortho, &out],
            format!("'{}' of --in_ms", outside_ms.display()),
            "it is outside them",
        ),
        (
            "symlink-ortho",
            [&ms, Path::new("linked.tif"), &out],
            "'linked.tif' of --in_ortho".into(),
            "it resolves to",
        ),
        (
            "dotdot-out",
            [&ms, &ortho, &up_out],
            "of --out".into(),
            "'..'",
        ),
        (
            "absolute-out",
            [&ms, &ortho, &outside_out],
            "of --out".into(),
            "it is outside them",
        ),
        (
            "symlink-dir-out",
            [&ms, &ortho, Path::new("linked-dir/out.tif")],
            "'linked-dir/out.tif' of --out".into(),
            "it resolves to",
        ),
    ];
    for (call_id, [in_ms, in_ortho, out], named, why) in &cases {
        let body = serde_json::json!({"argv": ["normalize-product", "--in_ms", in_ms, "--in_ortho", in_ortho, "--out", out]});
        let (status, text) = post(&url, call_id, body.to_string()).await;
        assert_eq!(status, 400, "{call_id}: {text}");
        assert!(text.starts_with("Expected the path "), "{call_id}: {text}");
        assert!(text.contains(named.as_str()), "{call_id}: {text}");
        assert!(
            text.contains(&format!(
                "to be inside the data roots ({}), but ",
                root.display()
            )),
            "{call_id}: {text}"
        );
        assert!(text.contains(why), "{call_id}: {text}");
    }
    assert_eq!(listing(&root), root_before);
    assert_eq!(listing(&outside), outside_before);
    let health = reqwest::get(format!("http://127.0.0.1:{port}/_/health"))
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok\n");

    let logs = stop(child).await;
    for (call_id, ..) in &cases {
        let lines: Vec<_> = logs.iter().filter(|l| l["call_id"] == *call_id).collect();
        assert!(
            lines.iter().any(|l| l["message"] == "refused the call"),
            "{call_id}: {logs:?}"
        );
        assert!(
            lines.iter().all(|l| l["message"] != "normalizing"),
            "{call_id}: {logs:?}"
        );
    }
}

/// Serve mode needs data roots, as otbcli does, and says so with the same sentence (exit 2).
#[test]
fn serve_mode_requires_data_roots() {
    let out = Command::new(bin())
        .arg("serve")
        .env_remove("APSIS_DATA_ROOTS")
        .env("APSIS_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "normalize-product: Expected at least one data root in APSIS_DATA_ROOTS or --data-roots (colon-separated \
         absolute directories), but none is set\n"
    );
    let out = Command::new(bin())
        .args(["serve", "--data-roots", "relative/dir"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Expected the data root relative/dir (from --data-roots)"),
        "{out:?}"
    );
}
