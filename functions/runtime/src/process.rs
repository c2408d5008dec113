//! One function's process, of-watchdog `http` mode style: started once, told where to listen, watched, restarted.
//!
//! The process is started without a shell (`argv[0]` with `argv[1..]`), in a process group of its own, with
//! `APSIS_LISTEN=127.0.0.1:<port>` on top of the runtime's environment and the function's `environment`. It counts
//! as up once the port accepts a TCP connection (within `start_timeout`). When it exits, its whole group is killed,
//! it is down for a backoff (100 ms doubling to 5 s, reset after 10 s up), then started again on a fresh port.
//!
//! Its stdin is a pipe the runtime never writes and holds open: it reaches EOF when the runtime is gone, however it
//! went (SIGKILL included). Functions exit on that EOF (the workspace forbids the unsafe `pre_exec` that
//! `PR_SET_PDEATHSIG` would need); a program that ignores stdin outlives a SIGKILLed runtime (see README).

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::definitions::FunctionSpec;
use crate::metrics;

/// The variable telling a function's process the address to listen on (`127.0.0.1:<port>`).
pub const LISTEN_ENV: &str = "APSIS_LISTEN";
/// Set to `1` for every function process: its stdin is the runtime's lifeline (EOF: the runtime is gone). Functions
/// that also run under of-watchdog, whose stdin means nothing, watch stdin only when this is set.
pub const LIFELINE_ENV: &str = "APSIS_STDIN_LIFELINE";

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Up this long, a process that stops is restarted after the first backoff again.
const STABLE_AFTER: Duration = Duration::from_secs(10);
/// SIGTERM to SIGKILL when the runtime stops.
const STOP_GRACE: Duration = Duration::from_secs(5);
const READY_POLL: Duration = Duration::from_millis(20);

/// Where a function's process stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upstream {
    /// Started, not yet accepting connections: requests wait for it (at most `start_timeout`).
    Starting,
    /// Accepting connections at this address, as process `pid`.
    Up { address: SocketAddr, pid: u32 },
    /// Stopped, waiting to be started again (or for good at shutdown): requests get 503.
    Down,
}

/// Starts the supervisor of one function; it runs until `stop` turns true, then stops the process.
pub(crate) fn supervise(
    spec: Arc<FunctionSpec>,
    stop: watch::Receiver<bool>,
) -> (watch::Receiver<Upstream>, JoinHandle<()>) {
    let (state, receiver) = watch::channel(Upstream::Starting);
    let task = tokio::spawn(run(spec, state, stop));
    (receiver, task)
}

async fn run(
    spec: Arc<FunctionSpec>,
    state: watch::Sender<Upstream>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        state.send_replace(Upstream::Starting);
        let started = Instant::now();
        let ended = run_once(&spec, &state, &mut stop).await;
        state.send_replace(Upstream::Down);
        metrics::up(&spec.name, false);
        let Ended::Stopped(reason) = ended else { break };
        if started.elapsed() >= STABLE_AFTER {
            backoff = FIRST_BACKOFF;
        }
        warn!(function = %spec.name, call_id = "", backoff_ms = backoff.as_millis() as u64,
            "Expected function '{}' to keep running, but it {reason}; restarting it", spec.name);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped(&mut stop) => break,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
        metrics::restarted(&spec.name);
    }
}

enum Ended {
    Stopped(String),
    Shutdown,
}

async fn run_once(
    spec: &FunctionSpec,
    state: &watch::Sender<Upstream>,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    if *stop.borrow() {
        return Ended::Shutdown;
    }
    let address = match free_port() {
        Ok(address) => address,
        Err(e) => return Ended::Stopped(format!("could not get a free port: {e}")),
    };
    let mut child = match command(spec, address).spawn() {
        Ok(child) => child,
        Err(e) => {
            return Ended::Stopped(format!("could not be started as {:?}: {e}", spec.argv[0]))
        }
    };
    let pid = child.id().unwrap_or_default();
    // Held, never written: the process sees EOF on stdin once the runtime is gone.
    let _stdin = child.stdin.take();
    relay_output(&spec.name, child.stdout.take(), "stdout");
    relay_output(&spec.name, child.stderr.take(), "stderr");

    tokio::select! {
        ready = accepting(address, spec.start_timeout) => if !ready {
            stop_process(&mut child, pid).await;
            return Ended::Stopped(format!(
                "did not accept connections on {address} within {:?}", spec.start_timeout));
        },
        status = child.wait() => {
            kill_group(pid, rustix::process::Signal::KILL);
            return Ended::Stopped(format!("exited ({}) before accepting connections on {address}", describe(status)));
        }
        _ = stopped(stop) => {
            stop_process(&mut child, pid).await;
            return Ended::Shutdown;
        }
    }
    state.send_replace(Upstream::Up { address, pid });
    metrics::up(&spec.name, true);
    info!(function = %spec.name, call_id = "", pid, %address, "function process started");
    tokio::select! {
        status = child.wait() => {
            kill_group(pid, rustix::process::Signal::KILL);
            Ended::Stopped(format!("exited ({})", describe(status)))
        }
        _ = stopped(stop) => {
            state.send_replace(Upstream::Down);
            stop_process(&mut child, pid).await;
            info!(function = %spec.name, call_id = "", pid, "function process stopped");
            Ended::Shutdown
        }
    }
}

fn command(spec: &FunctionSpec, address: SocketAddr) -> Command {
    let mut command = Command::new(&spec.argv[0]);
    command
        .args(&spec.argv[1..])
        .envs(&spec.environment)
        .env(LISTEN_ENV, address.to_string())
        .env(LIFELINE_ENV, "1")
        .current_dir(&spec.workdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    command
}

/// A loopback port nobody listens on now. Another program may take it before the function binds it: the function
/// then fails to start and is started again on another port.
fn free_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()
}

async fn accepting(address: SocketAddr, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if TcpStream::connect(address).await.is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// SIGTERM to the group, SIGKILL after [`STOP_GRACE`].
async fn stop_process(child: &mut Child, pid: u32) {
    kill_group(pid, rustix::process::Signal::TERM);
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        kill_group(pid, rustix::process::Signal::KILL);
        let _ = child.wait().await;
    }
    kill_group(pid, rustix::process::Signal::KILL);
}

/// Signals the process group led by `pid` (the function and anything it started); a gone group is not an error.
fn kill_group(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

fn relay_output(
    function: &str,
    stream: Option<impl AsyncRead + Unpin + Send + 'static>,
    name: &'static str,
) {
    let Some(stream) = stream else { return };
    let function = function.to_string();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            info!(function = %function, call_id = "", stream = name, "{line}");
        }
    });
}

fn describe(status: std::io::Result<std::process::ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(e) => format!("status unknown: {e}"),
    }
}

/// Resolves once `stop` is true or its sender is gone.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
