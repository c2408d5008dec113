//! The one-machine process tree of `apsis dev` and `apsis demo`: the engine in this process, and as child processes
//! the local function runtime `apsis-faas-local` (running callback-ack, otbcli and normalize-product from a stack
//! file generated into the data directory) and the FaaS worker `apsis-worker-faas`.
//!
//! The engine library must not link the worker or the functions (testkit/tests/architecture.rs), so their binaries
//! are run, found next to this executable (`cargo build --release --bins` puts them all there).
//!
//! No orphans: each child gets a stdin pipe this process holds and never writes, and `APSIS_STDIN_LIFELINE=1`; a
//! child shuts down gracefully when that pipe reaches EOF, which happens when this process closes it on purpose
//! (a clean stop: the worker first, then the runtime, which stops its functions) or when this process dies, however
//! it died (SIGKILL included). A [`Child`] that is dropped without a clean stop is killed (SIGKILL) and reaped.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use serde_json::Value;

use apsis_server::config::Config;

use crate::engine::{self, Failure, Hooks, Running, Signals};

/// The binaries run as children or functions, next to `apsis`.
pub const RUNTIME_BIN: &str = "apsis-faas-local";
pub const WORKER_BIN: &str = "apsis-worker-faas";
pub const CALLBACK_ACK_BIN: &str = "apsis-callback-ack";
pub const OTBCLI_BIN: &str = "otbcli-function";
pub const NORMALIZE_BIN: &str = "normalize-product";
pub const GENERATOR_BIN: &str = "pms-generate";

/// How long the runtime, its functions and the worker may take to become ready.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// How long a child may take to stop once its lifeline is closed, before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(15);
/// The children's own grace for work in progress when they stop (below `STOP_WITHIN`).
const CHILD_GRACE_SECONDS: u64 = 5;
const POLL: Duration = Duration::from_millis(50);

/// Where everything listens and lives.
#[derive(Debug, Clone)]
pub struct TreeOptions {
    /// The engine's data directory; also holds the stack file, the callback key and the children's logs.
    pub data_dir: PathBuf,
    /// The directories the functions may read and write (APSIS_DATA_ROOTS), absolute.
    pub data_roots: Vec<PathBuf>,
    /// The engine's config file, if any (`apsis dev --config`).
    pub config: Option<PathBuf>,
    /// The engine's gateway and monitoring addresses (`None`: the engine's configuration decides).
    pub gateway_address: Option<String>,
    pub monitoring_address: Option<String>,
    /// The local runtime (the OpenFaaS gateway of the functions).
    pub runtime_address: SocketAddr,
    /// The worker's /health, /ready and /metrics.
    pub worker_address: SocketAddr,
    /// The engine logs into `<data_dir>/logs/engine.log` instead of stderr.
    pub engine_log_to_file: bool,
}

/// The running tree.
pub struct Tree {
    pub engine: Running,
    runtime: Child,
    worker: Child,
    /// The engine's gateway as a client URL (`http://127.0.0.1:26500`).
    pub gateway_url: String,
    pub runtime_url: String,
    pub logs: PathBuf,
    pub stack_file: PathBuf,
}

/// The binaries' folder: this executable's.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()
        .context("Expected to know the path of this executable, but could not")?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("Expected {} to be in a folder", exe.display()))
}

/// The path of binary `name` next to this executable, or the sentence saying it is missing and how to build it.
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let dir = bin_dir()?;
    let path = dir.join(name);
    if path.is_file() {
        return Ok(path);
    }
    bail!(
        "Expected the binary {name} next to apsis in {}, but it is not there: build every binary with \
         `cargo build --release --bins` (then run target/release/apsis)",
        dir.display()
    )
}

/// Makes `path` absolute (from the current directory); the functions run elsewhere and need absolute paths.
pub fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| {
        format!(
            "Expected to make {} absolute, but could not",
            path.display()
        )
    })
}

impl Tree {
    /// Checks the binaries, prepares the data directory, starts the engine (`config`, see [`Tree::engine_config`])
    /// with `hooks`, then the runtime and the worker, and waits until all are ready. `None`: a signal came while the
    /// engine recovered.
    pub async fn start(
        options: &TreeOptions,
        config: Config,
        signals: &mut Signals,
        hooks: Hooks,
    ) -> Result<Option<Tree>, Failure> {
        let startup = Failure::Startup;
        let runtime_bin = sibling(RUNTIME_BIN).map_err(startup)?;
        let worker_bin = sibling(WORKER_BIN).map_err(startup)?;
        let functions = Functions {
            callback_ack: sibling(CALLBACK_ACK_BIN).map_err(startup)?,
            otbcli: sibling(OTBCLI_BIN).map_err(startup)?,
            normalize: sibling(NORMALIZE_BIN).map_err(startup)?,
        };
        let logs = options.data_dir.join("logs");
        for dir in options.data_roots.iter().chain([&options.data_dir, &logs]) {
            std::fs::create_dir_all(dir)
                .with_context(|| {
                    format!(
                        "Expected to create the folder {}, but could not",
                        dir.display()
                    )
                })
                .map_err(startup)?;
        }
        let key_file = callback_key(&options.data_dir).map_err(startup)?;

        let Some(engine) = engine::start(config, signals, hooks).await? else {
            return Ok(None);
        };
        let gateway_url = format!("http://{}", engine.gateway_address);
        let runtime_url = format!("http://{}", options.runtime_address);

        let stack_file = options.data_dir.join("stack.yml");
        let stack = stack_yml(&functions, &options.data_roots, &gateway_url, &key_file);
        std::fs::write(&stack_file, stack)
            .with_context(|| format!("Expected to write {}, but could not", stack_file.display()))
            .map_err(startup)?;

        let mut runtime_cmd = Command::new(&runtime_bin);
        runtime_cmd
            .arg("--functions")
            .arg(&stack_file)
            .arg("--address")
            .arg(options.runtime_address.to_string())
            .arg("--shutdown-grace")
            .arg(format!("{CHILD_GRACE_SECONDS}s"));
        let runtime = Child::spawn(RUNTIME_BIN, &mut runtime_cmd, &logs.join("faas-local.log"))
            .map_err(startup)?;

        let mut worker_cmd = Command::new(&worker_bin);
        worker_cmd
            .arg("--address")
            .arg(&gateway_url)
            .arg("--openfaas-url")
            .arg(&runtime_url)
            .arg("--local-url")
            .arg(&runtime_url)
            .arg("--callback-url")
            .arg(format!("{runtime_url}/function/callback-ack"))
            .arg("--listen-address")
            .arg(options.worker_address.to_string())
            .env("APSIS_CALLBACK_KEY_FILE", &key_file)
            .env(
                "APSIS_WORKER_SHUTDOWN_GRACE_MS",
                (CHILD_GRACE_SECONDS * 1000).to_string(),
            );
        let worker =
            Child::spawn(WORKER_BIN, &mut worker_cmd, &logs.join("worker.log")).map_err(startup)?;

        let mut tree = Tree {
            engine,
            runtime,
            worker,
            gateway_url,
            runtime_url,
            logs,
            stack_file,
        };
        if let Err(e) = tree.wait_ready(options).await {
            let _ = tree.stop(signals, Some(15)).await;
            return Err(Failure::Startup(e));
        }
        Ok(Some(tree))
    }

    /// The engine's configuration for `options` (its data in `<data_dir>/engine`), and the file its log goes to
    /// when `options` says so; a refused configuration has been reported.
    pub fn engine_config(
        options: &TreeOptions,
    ) -> Result<(Config, Option<std::fs::File>), std::process::ExitCode> {
        let resolved = engine::resolve(
            options.config.clone(),
            Some(options.data_dir.join("engine")),
            options.gateway_address.clone(),
            options.monitoring_address.clone(),
        )?;
        let log = if options.engine_log_to_file {
            let logs = options.data_dir.join("logs");
            let path = logs.join("engine.log");
            let file = std::fs::create_dir_all(&logs)
                .and_then(|()| std::fs::File::create(&path))
                .with_context(|| format!("Expected to create {}, but could not", path.display()))
                .map_err(|e| engine::report(&e, 2))?;
            Some(file)
        } else {
            None
        };
        Ok((resolved.config, log))
    }

    /// Waits for the runtime's /healthz, each function's process, and the worker's /ready; fails at once when a
    /// child exits meanwhile.
    async fn wait_ready(&mut self, options: &TreeOptions) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .context("Expected to build an HTTP client, but could not")?;
        let deadline = Instant::now() + READY_WITHIN;
        let functions = format!("{}/system/functions", self.runtime_url);
        let worker_ready = format!("http://{}/ready", options.worker_address);
        let mut waiting_for = "the local runtime";
        loop {
            for child in [&mut self.runtime, &mut self.worker] {
                if let Some(status) = child.exited()? {
                    bail!(
                        "Expected {} to start, but it exited ({status}); its log {} ends with:\n{}",
                        child.name,
                        child.log.display(),
                        tail(&child.log, 15)
                    );
                }
            }
            let runtime_up = match http.get(&functions).send().await {
                Ok(answer) if answer.status().is_success() => {
                    let list: Value = answer.json().await.unwrap_or(Value::Null);
                    let down: Vec<String> = list
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|f| f["availableReplicas"].as_i64().unwrap_or(0) < 1)
                        .filter_map(|f| f["name"].as_str().map(str::to_owned))
                        .collect();
                    if down.is_empty() {
                        true
                    } else {
                        waiting_for = "the functions";
                        false
                    }
                }
                _ => false,
            };
            if runtime_up {
                waiting_for = "the worker";
                if http
                    .get(&worker_ready)
                    .send()
                    .await
                    .is_ok_and(|a| a.status().is_success())
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "Expected {waiting_for} to be ready within {} s, but it was not; see the logs in {}",
                    READY_WITHIN.as_secs(),
                    self.logs.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The first child that exited on its own, with its status (the tree cannot work without it).
    pub async fn child_exited(&mut self) -> (String, ExitStatus, PathBuf) {
        loop {
            for child in [&mut self.runtime, &mut self.worker] {
                if let Ok(Some(status)) = child.exited() {
                    return (child.name.to_owned(), status, child.log.clone());
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops the worker (no new jobs), then the runtime (which stops its functions), each by closing its lifeline
    /// and killing it if it takes longer than [`STOP_WITHIN`], then the engine.
    pub async fn stop(self, signals: &mut Signals, signal: Option<i32>) -> Result<(), Failure> {
        let Tree {
            engine,
            runtime,
            worker,
            ..
        } = self;
        worker.stop().await;
        runtime.stop().await;
        engine.stop(signals, signal).await
    }
}

/// The function binaries of the stack file.
struct Functions {
    callback_ack: PathBuf,
    otbcli: PathBuf,
    normalize: PathBuf,
}

/// A YAML double-quoted string (JSON's escaping, which YAML reads the same way).
fn quoted(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// The runtime's stack file (schema: functions/README.md), pointing at the binaries next to `apsis`.
fn stack_yml(f: &Functions, data_roots: &[PathBuf], gateway_url: &str, key_file: &Path) -> String {
    let roots = data_roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let path = |p: &Path| quoted(&p.display().to_string());
    format!(
        r#"# Generated by `apsis dev` / `apsis demo` at each start: the functions of the local runtime apsis-faas-local
# (schema: functions/README.md in the Apsis repository). Edits are overwritten.
version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  callback-ack:
    image: apsis/callback-ack:0.1.0
    x-apsis-local:
      fprocess: [{ack}]
      max_inflight: 64
      exec_timeout: 30s
      environment:
        ZEEBE_ADDRESS: {gateway}
        APSIS_CALLBACK_KEY_FILE: {key}
  otbcli:
    image: apsis/otbcli:0.1.0
    x-apsis-local:
      fprocess: [{otbcli}]
      max_inflight: 1
      exec_timeout: 2h
      environment:
        APSIS_DATA_ROOTS: {roots}
  normalize-product:
    image: apsis/normalize-product:0.1.0
    x-apsis-local:
      fprocess: [{normalize}, serve]
      max_inflight: 1
      exec_timeout: 1h
      environment:
        APSIS_DATA_ROOTS: {roots}
"#,
        ack = path(&f.callback_ack),
        gateway = quoted(gateway_url),
        key = path(key_file),
        otbcli = path(&f.otbcli),
        normalize = path(&f.normalize),
        roots = quoted(&roots),
    )
}

/// The callback key shared by the worker and callback-ack: `<data_dir>/callback.key`, 32 random bytes written as
/// 64 hex digits, readable by this user only; made once, kept across runs of the same data directory.
fn callback_key(data_dir: &Path) -> anyhow::Result<PathBuf> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = data_dir.join("callback.key");
    if path.is_file() {
        return Ok(path);
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("Expected to read 32 random bytes from /dev/urandom, but could not")?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(hex.as_bytes()))
        .with_context(|| {
            format!(
                "Expected to write the callback key {}, but could not",
                path.display()
            )
        })?;
    Ok(path)
}

/// The last `n` lines of a log file (for a failure message).
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A child process of the tree: its stdin is its lifeline; killed and reaped if dropped while running.
pub struct Child {
    name: &'static str,
    child: std::process::Child,
    lifeline: Option<ChildStdin>,
    log: PathBuf,
}

impl Child {
    /// Spawns `command` with the lifeline, stdout and stderr appended to `log`, and an environment without the
    /// user's Zeebe, Camunda and Apsis settings (the tree wires its parts itself; a `ZEEBE_ADDRESS` meant for a
    /// cluster must not send the worker there).
    pub fn spawn(name: &'static str, command: &mut Command, log: &Path) -> anyhow::Result<Child> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| {
                format!("Expected to open the log {}, but could not", log.display())
            })?;
        let err = file.try_clone().with_context(|| {
            format!("Expected to open the log {}, but could not", log.display())
        })?;
        for (name, _) in std::env::vars_os() {
            let text = name.to_string_lossy();
            if ["ZEEBE_", "CAMUNDA_", "APSIS_"]
                .iter()
                .any(|p| text.starts_with(p))
            {
                command.env_remove(&name);
            }
        }
        let mut child = command
            .env("APSIS_STDIN_LIFELINE", "1")
            .stdin(Stdio::piped())
            .stdout(file)
            .stderr(err)
            .spawn()
            .with_context(|| format!("Expected to start {name}, but could not"))?;
        let lifeline = child.stdin.take();
        Ok(Child {
            name,
            child,
            lifeline,
            log: log.to_path_buf(),
        })
    }

    fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("Expected to check on {}, but could not", self.name))
    }

    /// Closes the lifeline and waits for the child to exit, killing it after [`STOP_WITHIN`].
    pub async fn stop(mut self) {
        drop(self.lifeline.take());
        let deadline = Instant::now() + STOP_WITHIN;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        tracing::warn!(
            child = self.name,
            "did not stop within {} s of its lifeline closing: killing it",
            STOP_WITHIN.as_secs()
        );
        // Drop kills it.
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
