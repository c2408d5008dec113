//! The real `apsis engine` binary as a child process on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{http_get, wait_until, ChildGuard, Logs, WAIT};

/// How to start the engine. Only `binary` is required: [`EngineOpts::new`] gives free ports, a fresh temporary
/// data directory, JSON logs, and a clean environment.
#[derive(Debug, Clone)]
pub struct EngineOpts {
    /// The `apsis` binary: `env!("CARGO_BIN_EXE_apsis")` in apsis-server's tests,
    /// `testkit::binary("apsis", "apsis-server")` elsewhere.
    pub binary: PathBuf,
    /// `--data-dir`; None: a temporary directory kept for the life of the [`EngineProcess`] (across restarts).
    pub data_dir: Option<PathBuf>,
    /// `--gateway-address`; None: not passed (a `config` file sets it).
    pub gateway_address: Option<String>,
    /// `--monitoring-address`.
    pub monitoring_address: String,
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// The gateway serves TLS: [`EngineProcess::gateway_url`] is `https://`.
    pub tls: bool,
    /// More arguments after the ones above.
    pub args: Vec<String>,
    /// Environment. The child starts from an empty environment (no `APSIS_*` of the machine running the tests),
    /// with `APSIS_LOG_FORMAT=json` so its log can be read, then these.
    pub env: Vec<(String, String)>,
}

impl EngineOpts {
    pub fn new(binary: impl Into<PathBuf>) -> EngineOpts {
        EngineOpts {
            binary: binary.into(),
            data_dir: None,
            gateway_address: Some("127.0.0.1:0".into()),
            monitoring_address: "127.0.0.1:0".into(),
            config: None,
            tls: false,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// With the gateway's address, TLS and auth from `file` (so no `--gateway-address`).
    pub fn config(mut self, file: impl Into<PathBuf>, tls: bool) -> EngineOpts {
        self.config = Some(file.into());
        self.gateway_address = None;
        self.tls = tls;
        self
    }

    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> EngineOpts {
        self.data_dir = Some(dir.into());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> EngineOpts {
        self.env.push((name.into(), value.into()));
        self
    }
}

/// A running `apsis engine`, killed when dropped. Its stderr (JSON log lines) is captured; its addresses are the
/// ones its "apsis engine ready" line reports, so ports given as `:0` are known once it is ready.
#[derive(Debug)]
pub struct EngineProcess {
    opts: EngineOpts,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    child: ChildGuard,
    logs: Logs,
}

impl EngineProcess {
    /// Starts it and waits until it is ready ([`EngineProcess::wait_ready`]).
    #[track_caller]
    pub fn start(opts: EngineOpts) -> EngineProcess {
        let engine = EngineProcess::spawn(opts);
        engine.wait_ready();
        engine
    }

    /// Starts it without waiting: for a start that is expected to fail, or a test of the start itself.
    pub fn spawn(opts: EngineOpts) -> EngineProcess {
        let (temp, data_dir) = match &opts.data_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let temp = tempfile::tempdir().expect("Expected a temporary directory");
                let dir = temp.path().to_path_buf();
                (Some(temp), dir)
            }
        };
        let (child, logs) = launch(&opts, &data_dir);
        EngineProcess {
            opts,
            data_dir,
            _temp: temp,
            child,
            logs,
        }
    }

    /// Waits (up to [`WAIT`]) for the "apsis engine ready" log line, then for `GET /ready` to answer 200.
    #[track_caller]
    pub fn wait_ready(&self) {
        let monitoring = self.monitoring_addr();
        wait_until("the engine's /ready to answer 200", WAIT, || {
            http_get(monitoring, "/ready").is_some_and(|(status, _)| status == 200)
        });
    }

    /// The gateway's address from the ready line (waiting for it).
    #[track_caller]
    pub fn gateway_addr(&self) -> SocketAddr {
        self.ready_address("gateway_address")
    }

    /// The monitoring address from the ready line (waiting for it).
    #[track_caller]
    pub fn monitoring_addr(&self) -> SocketAddr {
        self.ready_address("monitoring_address")
    }

    /// `http://` (or `https://` with TLS) and the gateway's address: what a client connects to.
    #[track_caller]
    pub fn gateway_url(&self) -> String {
        let scheme = if self.opts.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.gateway_addr())
    }

    fn ready_address(&self, field: &str) -> SocketAddr {
        let ready = self.wait_for_log("apsis engine ready");
        ready[field]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("Expected {field} to be an address in {ready}"))
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The log lines so far (JSON objects; a line that is not JSON as a string).
    pub fn log_lines(&self) -> Vec<Value> {
        self.logs.lines()
    }

    /// The first log line with this message, waiting for it up to [`WAIT`].
    #[track_caller]
    pub fn wait_for_log(&self, message: &str) -> Value {
        self.logs.wait_for(message)
    }

    /// The open incidents (`GET /incidents` on the monitoring address, which must answer 200).
    #[track_caller]
    pub fn incidents(&self) -> Vec<Value> {
        let (status, body) = http_get(self.monitoring_addr(), "/incidents")
            .expect("Expected the monitoring endpoint to answer");
        assert_eq!(status, 200, "GET /incidents: {body}");
        match serde_json::from_str(&body) {
            Ok(Value::Array(incidents)) => incidents,
            _ => panic!("Expected a JSON array from /incidents, but got {body}"),
        }
    }

    /// A client of its gateway (plain, no token), as a worker connects.
    pub async fn client(&self) -> apsis_client::Gateway {
        let options = apsis_client::ClientOptions {
            address: self.gateway_url(),
            ..apsis_client::ClientOptions::default()
        };
        apsis_client::connect(&options)
            .await
            .expect("Expected to connect to the engine's gateway")
    }

    /// SIGKILL, and reaped: a crash.
    pub fn kill(&mut self) {
        self.child.kill();
    }

    /// SIGTERM, without waiting: a graceful stop.
    pub fn terminate(&self) {
        self.child.terminate();
    }

    /// Its exit status, waiting up to `within`; None if it is still running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        self.child.wait_exit(within)
    }

    /// Waits for the exit (panics after [`WAIT`]): its code (None if signalled) and its whole log as text.
    #[track_caller]
    pub fn exit(mut self) -> (Option<i32>, String) {
        let status = self.child.exit_status(WAIT);
        (
            status.code(),
            self.logs.text_after_close(Duration::from_secs(5)),
        )
    }

    /// Kills it (if it still runs) and starts it again on the same data directory and the same addresses, then
    /// waits until it is ready: clients keep their address across the restart.
    #[track_caller]
    pub fn restart(&mut self) {
        let (gateway, monitoring) = (self.gateway_addr(), self.monitoring_addr());
        self.child.kill();
        if self.opts.gateway_address.is_some() {
            self.opts.gateway_address = Some(gateway.to_string());
        }
        self.opts.monitoring_address = monitoring.to_string();
        let (child, logs) = launch(&self.opts, &self.data_dir);
        self.child = child;
        self.logs = logs;
        self.wait_ready();
    }
}

fn launch(opts: &EngineOpts, data_dir: &std::path::Path) -> (ChildGuard, Logs) {
    let mut command = Command::new(&opts.binary);
    command.arg("engine");
    if let Some(config) = &opts.config {
        command.arg("--config").arg(config);
    }
    command.arg("--data-dir").arg(data_dir);
    if let Some(address) = &opts.gateway_address {
        command.args(["--gateway-address", address]);
    }
    command
        .args(["--monitoring-address", &opts.monitoring_address])
        .args(&opts.args)
        .env_clear()
        .env("APSIS_LOG_FORMAT", "json")
        .envs(opts.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(&mut command);
    let stderr = child.child().stderr.take().expect("piped");
    (child, Logs::capture(stderr))
}
