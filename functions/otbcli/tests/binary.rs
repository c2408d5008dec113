//! The real `otbcli-function` binary: `--print-config`, a start that cannot work (exit 2), health and metrics, and
//! the stdin lifeline the local runtime relies on.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_otbcli-function");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn print_config_and_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("--print-config")
        .env("APSIS_DATA_ROOTS", dir.path())
        .env("APSIS_OTB_RAM_MB", "256")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("otb_ram_mb = 256") && text.contains("gdal_cachemax_mb = 64"),
        "{text}"
    );
    let out = Command::new(BIN)
        .arg("--print-config")
        .env_remove("APSIS_DATA_ROOTS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Expected at least one data root"));
}

#[tokio::test]
async fn serves_health_and_metrics_and_exits_on_stdin_eof() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(BIN)
        .env("APSIS_DATA_ROOTS", dir.path())
        .env("APSIS_LISTEN", &address)
        .env("APSIS_STDIN_LIFELINE", "1")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(r) = client
            .get(format!("http://{address}/_/health"))
            .send()
            .await
        {
            assert_eq!(r.status().as_u16(), 200);
            break;
        }
        assert!(Instant::now() < deadline, "the function did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = client
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = client
        .post(format!("http://{address}/"))
        .header("X-Call-Id", "call-42")
        .body(r#"{"argv": ["rm", "-rf", "/"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let metrics = client
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"apsis_otbcli_runs_total{app="invalid",outcome="refused"} 1"#),
        "{metrics}"
    );
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the function did not exit on stdin EOF"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success());
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let refused = logs
        .lines()
        .find(|l| l.contains("\"refused\""))
        .unwrap_or_else(|| panic!("{logs}"));
    let line: serde_json::Value = serde_json::from_str(refused).unwrap();
    assert_eq!(line["span"]["call_id"], "call-42", "{refused}");
}
