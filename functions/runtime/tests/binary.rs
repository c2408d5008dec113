//! The real `apsis-faas-local` binary: configuration, JSON logs, metrics, signals, and children that die with it.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use apsis_testkit::{free_port, ChildGuard};
use common::*;
use http::StatusCode;
use rustix::process::Signal;

const RUNTIME: &str = env!("CARGO_BIN_EXE_apsis-faas-local");

struct Running {
    child: ChildGuard,
    base: String,
    _dir: tempfile::TempDir,
}

async fn spawn_runtime() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let functions = write(dir.path(), "stack.yml", &stack());
    let address = format!("127.0.0.1:{}", free_port());
    let child = ChildGuard::spawn(
        Command::new(RUNTIME)
            .arg("--functions")
            .arg(&functions)
            .env("APSIS_FAAS_ADDRESS", &address)
            .env("APSIS_FAAS_SHUTDOWN_GRACE", "5s")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let base = format!("http://{address}");
    let up = eventually(WITHIN, || async {
        let r = client().get(format!("{base}/healthz")).send().await.ok()?;
        (r.status() == StatusCode::OK).then_some(())
    })
    .await;
    assert!(up.is_some(), "Expected the runtime to answer /healthz");
    Running {
        child,
        base,
        _dir: dir,
    }
}

async fn echo_pid(base: &str) -> u32 {
    let response = client()
        .get(format!("{base}/function/echo/pid"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap().parse().unwrap()
}

async fn exit_of(mut child: ChildGuard) -> (std::process::ExitStatus, String) {
    let status = eventually(WITHIN, || {
        let status = child.child().try_wait().unwrap();
        async move { status }
    })
    .await
    .expect("Expected the runtime to exit");
    let mut stderr = String::new();
    child
        .child()
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_logs_json_lines_exports_metrics_and_stops_on_sigterm() {
    let running = spawn_runtime().await;
    let pid = echo_pid(&running.base).await;
    let receiver = Receiver::start(0).await;
    let accepted = client()
        .post(format!("{}/async-function/echo", running.base))
        .header("x-callback-url", &receiver.url)
        .header("x-call-id", "bin-call-1")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    assert_eq!(receiver.next().await.header("x-function-status"), "200");

    let metrics = client()
        .get(format!("{}/metrics", running.base))
        .send()
        .await
        .unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains(
            r#"apsis_faas_local_invocations_total{function="echo",mode="async",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("apsis_faas_local_invocation_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"apsis_faas_local_function_up{function="echo"} 1"#),
        "{metrics}"
    );

    running.child.signal(Signal::TERM);
    let (status, stderr) = exit_of(running.child).await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        eventually(WITHIN, || async { process_gone(pid).then_some(()) })
            .await
            .is_some()
    );

    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(lines.len() > 3, "{stderr}");
    for line in &lines {
        assert!(
            line.get("function").is_some() && line.get("call_id").is_some(),
            "{line}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l["call_id"] == "bin-call-1" && l["message"] == "callback delivered"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_processes_die_when_the_runtime_is_sigkilled() {
    let running = spawn_runtime().await;
    let pid = echo_pid(&running.base).await;
    let one = client()
        .get(format!("{}/function/one/pid", running.base))
        .send()
        .await
        .unwrap();
    let one: u32 = one.text().await.unwrap().parse().unwrap();
    running.child.signal(Signal::KILL);
    let _ = exit_of(running.child).await;
    let gone = eventually(WITHIN, || async {
        (process_gone(pid) && process_gone(one)).then_some(())
    })
    .await;
    assert!(
        gone.is_some(),
        "Expected the function processes to exit once the runtime was SIGKILLed"
    );
}

#[test]
fn print_config_shows_the_resolved_settings_and_bad_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let functions = write(dir.path(), "stack.yml", &stack());
    let out = Command::new(RUNTIME)
        .args([
            "--functions",
            functions.to_str().unwrap(),
            "--address",
            "127.0.0.1:18080",
            "--print-config",
        ])
        .env("APSIS_FAAS_MAX_ASYNC_BODY", "1000")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("address = \"127.0.0.1:18080\""), "{text}");
    assert!(
        text.contains("max_async_body = 1000"),
        "the environment is read: {text}"
    );
    assert!(
        text.contains("function slow = ") && text.contains("exec_timeout = \"300ms\""),
        "{text}"
    );

    let bad = write(
        dir.path(),
        "bad.yml",
        "functions:\n  a:\n    x-apsis-local: {fprocess: [x], max_inflight: lots}\n",
    );
    let out = Command::new(RUNTIME)
        .args(["--functions", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.yml") && err.contains("'a'") && err.contains("max_inflight"),
        "{err}"
    );
}
