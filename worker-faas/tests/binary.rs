//! The real `apsis-worker-faas` binary: its config errors and `--print-config`, and one job end to end against the
//! real engine and the fake gateway, with `/health`, `/ready`, `/metrics` and a SIGTERM shutdown.

mod support;

use std::process::{Command, Stdio};

use apsis_testkit::{ChildGuard, Logs, WAIT};
use serde_json::json;
use support::{EngineExt, FakeGateway, KEY};

fn worker() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_apsis-worker-faas"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

#[test]
fn print_config_masks_secrets_and_a_bad_setting_exits_2_with_a_sentence() {
    let out = worker()
        .env("APSIS_CALLBACK_KEY", KEY)
        .env("ZEEBE_CLIENT_ID", "me")
        .env("ZEEBE_CLIENT_SECRET", "hunter2-very-secret")
        .env("ZEEBE_ADDRESS", "grpcs://gw.example:443")
        .args(["--print-config", "--max-jobs-in-flight", "7"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains(KEY) && !text.contains("hunter2"), "{text}");
    assert!(text.contains("max_jobs_in_flight = 7"), "{text}");
    assert!(
        text.contains("address = \"grpcs://gw.example:443\""),
        "{text}"
    );

    let out = worker()
        .env("APSIS_CALLBACK_KEY", KEY)
        .env("APSIS_WORKER_OPENFAAS_URL", "gateway:8080")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("apsis-worker-faas: Expected openfaas_url (APSIS_WORKER_OPENFAAS_URL) to be an http:// or https:// URL, but found 'gateway:8080'"),
        "{err}"
    );

    let out = worker().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("Expected a callback signing key"), "{err}");
}

fn get(url: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match reqwest::get(url).await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    })
}

#[test]
fn the_binary_runs_a_job_serves_metrics_and_stops_on_sigterm() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let engine = support::engine();
    let fake = rt.block_on(FakeGateway::start());
    rt.block_on(engine.deploy("slow.bpmn"));

    let mut child = ChildGuard::spawn(
        worker()
            .env("APSIS_CALLBACK_KEY", KEY)
            .env("ZEEBE_ADDRESS", engine.gateway_url())
            .env("APSIS_WORKER_LISTEN_ADDRESS", "127.0.0.1:0")
            .args([
                "--openfaas-url",
                &fake.url,
                "--listen-address",
                "127.0.0.1:0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let logs = Logs::capture(child.child().stderr.take().unwrap());
    let starting = logs.wait_for("apsis-worker-faas starting");
    let listen = starting["listen_address"].as_str().unwrap().to_owned();

    rt.block_on(engine.create("slow", json!({"i": 1})));
    let held = logs.wait_until("the job held", |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("function called; job held"))
    });
    // The job's fields are on the line (in its span).
    let span = &held["span"];
    assert_eq!(span["bpmn_process_id"], "slow", "{held}");
    assert_eq!(span["element_id"], "call", "{held}");
    assert_eq!(span["function"], "slow", "{held}");
    assert_eq!(span["job_type"], "faas", "{held}");
    assert!(span["job_key"].as_i64().is_some() && span["process_instance_key"].as_i64().is_some());
    let recorded = fake.recorded();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        span["call_id"],
        recorded[0].headers["x-call-id"].as_str(),
        "{held}"
    );

    assert_eq!(get(&format!("http://{listen}/health")).0, 200);
    assert_eq!(get(&format!("http://{listen}/ready")).0, 200);
    let (status, metrics) = get(&format!("http://{listen}/metrics"));
    assert_eq!(status, 200);
    for needle in [
        "apsis_worker_jobs_activated_total{job_type=\"faas\"} 1",
        "apsis_worker_jobs_held_total{function=\"slow\"} 1",
        "apsis_worker_jobs_awaiting_callback 1",
        "apsis_worker_invocation_seconds_count{function=\"slow\",outcome=\"accepted\"} 1",
    ] {
        assert!(metrics.contains(needle), "{needle} in\n{metrics}");
    }

    child.terminate();
    let status = child.wait_exit(WAIT).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
    logs.wait_for("apsis-worker-faas stopped");
}
