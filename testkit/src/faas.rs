//! The FaaS side of a chain as real processes on loopback, each with its log captured for the test to search and
//! to print when it fails: the local OpenFaaS runtime `apsis-faas-local` (whose log also carries its functions'
//! stdout and stderr lines) and the worker `apsis-worker-faas`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{binary, http_get, wait_until, ChildGuard, Logs, WAIT};

/// A running `apsis-faas-local`, killed when dropped (its functions exit when their stdin closes).
#[derive(Debug)]
pub struct FaasLocal {
    addr: SocketAddr,
    child: ChildGuard,
    logs: Logs,
}

impl FaasLocal {
    /// Starts the runtime on `127.0.0.1:0` with the functions of `stack` (a stack.yml), its environment plus
    /// `env`, and waits for the address it reports, its `/healthz`, and every function's process to accept
    /// connections (`availableReplicas` 1 in `/system/functions`): a call made before that waits for the process
    /// only up to its `start_timeout`, then gets 503, which a loaded test machine can turn into a flaky test.
    #[track_caller]
    pub fn start(stack: &Path, env: &[(&str, &str)]) -> FaasLocal {
        let mut command = Command::new(binary("apsis-faas-local", "apsis-faas-local"));
        command
            .arg("--functions")
            .arg(stack)
            .args(["--address", "127.0.0.1:0"])
            .envs(env.iter().copied());
        let (child, logs) = spawn_logged(&mut command);
        let listening = logs.wait_for("local function runtime listening");
        let addr = field(&listening, "address")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("Expected an address in {listening}"));
        wait_until("the local runtime's /healthz to answer 200", WAIT, || {
            http_get(addr, "/healthz").is_some_and(|(status, _)| status == 200)
        });
        wait_until("every function of the local runtime to be up", WAIT, || {
            let Some((200, body)) = http_get(addr, "/system/functions") else {
                return false;
            };
            let functions: Vec<Value> = serde_json::from_str(&body).unwrap_or_default();
            !functions.is_empty()
                && functions
                    .iter()
                    .all(|f| f["availableReplicas"].as_u64() >= Some(1))
        });
        FaasLocal { addr, child, logs }
    }

    /// `http://127.0.0.1:<port>`: the OpenFaaS gateway URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn logs(&self) -> &Logs {
        &self.logs
    }

    /// SIGKILL, and reaped.
    pub fn kill(&mut self) {
        self.child.kill();
    }
}

/// A running `apsis-worker-faas`, killed when dropped.
#[derive(Debug)]
pub struct WorkerProcess {
    child: ChildGuard,
    logs: Logs,
}

impl WorkerProcess {
    /// Starts `binary --config config` with its environment plus `env` (the callback key, typically), stdout
    /// discarded and its log (stderr) captured. Does not wait: the worker connects and reconnects on its own.
    pub fn start(binary: impl Into<PathBuf>, config: &Path, env: &[(&str, &str)]) -> WorkerProcess {
        let mut command = Command::new(binary.into());
        command
            .arg("--config")
            .arg(config)
            .envs(env.iter().copied());
        let (child, logs) = spawn_logged(&mut command);
        WorkerProcess { child, logs }
    }

    pub fn logs(&self) -> &Logs {
        &self.logs
    }

    /// SIGKILL, and reaped: the crash under test.
    pub fn kill(&mut self) {
        self.child.kill();
    }
}

/// A log line's field, at the top level or under `fields` (tracing-subscriber's two JSON layouts).
fn field<'a>(line: &'a Value, name: &str) -> Option<&'a str> {
    line.get(name)
        .or_else(|| line.get("fields").and_then(|f| f.get(name)))
        .and_then(Value::as_str)
}

/// Spawns `command` with no stdin, stdout discarded and its log (stderr) captured.
#[track_caller]
fn spawn_logged(command: &mut Command) -> (ChildGuard, Logs) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(command);
    let logs = Logs::capture(child.child().stderr.take().expect("piped"));
    (child, logs)
}

/// The end of a test worker's configuration file: `[gateway]` on the engine under test (`engine.gateway_url()`)
/// and `[retry]` with short backoffs, so a test waits milliseconds, not the production seconds, between attempts.
pub fn worker_test_sections(engine_gateway_url: &str) -> String {
    format!(
        r#"
[gateway]
address = "{engine_gateway_url}"

[retry]
attempts = 3
initial_backoff_ms = 100
max_backoff_ms = 500
job_retry_backoff_ms = 100
"#
    )
}
