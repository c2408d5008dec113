//! Running one planned application: no shell, its own process group (killed whole on timeout or when the request
//! is abandoned), bounded memory through the environment, and a bounded log: the last [`TAIL_LINES`] lines of
//! stdout and stderr together, plus the first line matching a [`BAD_PATTERNS`] entry wherever it was.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::validate::Plan;

/// Lines of output kept.
pub const TAIL_LINES: usize = 200;
/// Characters kept of one line (progress bars and dumps can be long).
const LINE_CHARS: usize = 2000;
/// How long the output pipes may stay open once the process group is gone.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Lines that mean the run failed even with exit code 0, each seen with OTB 8.1.1 (`shared/notes/otb.md`):
/// - "could not find a compatible Sensor Transform": BundleToPerfectSensor without a readable sensor model writes an
///   image that is mostly empty and exits 0;
/// - "No information in the metadata": OrthoRectification on an image without a sensor model;
/// - "(FATAL)", "(CRITICAL)": OTB's own log levels for errors (normally with a non-zero exit; matched to name the
///   reason, and in case a version exits 0 after one).
pub const BAD_PATTERNS: &[&str] = &[
    "could not find a compatible Sensor Transform",
    "No information in the metadata",
    "(FATAL)",
    "(CRITICAL)",
];

/// A run that must be reported as failed (500); the sentence names the application and the reason.
#[derive(Debug, Clone)]
pub struct Failure {
    pub sentence: String,
    pub timed_out: bool,
}

/// Resources of a run.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) workdir: PathBuf,
    pub(crate) gdal_cachemax_mb: u64,
    pub(crate) otb_ram_mb: u64,
    pub(crate) timeout: Duration,
}

/// What a run did.
#[derive(Debug)]
pub(crate) struct Ran {
    /// `None` when it was killed after the timeout.
    pub(crate) status: Option<ExitStatus>,
    pub(crate) log_tail: Vec<String>,
    /// The first line matching a bad pattern.
    pub(crate) bad_line: Option<String>,
    pub(crate) took: Duration,
}

impl Ran {
    /// The run's verdict before its outputs are checked.
    pub(crate) fn verdict(&self, app: &str, timeout: Duration) -> Result<(), Failure> {
        let reason = || {
            self.bad_line
                .clone()
                .or_else(|| {
                    self.log_tail
                        .iter()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .cloned()
                })
                .unwrap_or_else(|| "it printed nothing".to_owned())
        };
        match self.status {
            None => Err(Failure {
                sentence: format!(
                    "Expected {app} to finish within {} s, but it was still running and was killed",
                    timeout.as_secs()
                ),
                timed_out: true,
            }),
            Some(status) if !status.success() => Err(Failure {
                sentence: format!("Expected {app} to succeed, but it {}: {}", describe(status), reason()),
                timed_out: false,
            }),
            Some(_) => match &self.bad_line {
                Some(line) => Err(Failure {
                    sentence: format!(
                        "Expected {app} to succeed, but it exited with code 0 after logging a failure: {line}"
                    ),
                    timed_out: false,
                }),
                None => Ok(()),
            },
        }
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => "ended abnormally".to_owned(),
    }
}

#[derive(Debug, Default)]
struct Log {
    tail: VecDeque<String>,
    bad_line: Option<String>,
}

impl Log {
    fn push(&mut self, line: &[u8]) {
        let line: String = String::from_utf8_lossy(line)
            .chars()
            .take(LINE_CHARS)
            .collect();
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            return;
        }
        if self.bad_line.is_none() && BAD_PATTERNS.iter().any(|p| line.contains(p)) {
            self.bad_line = Some(line.clone());
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }
}

/// Reads `stream` into `log` line by line (`\n` or `\r`), never holding more than one bounded line.
async fn collect(mut stream: impl AsyncRead + Unpin, log: Arc<Mutex<Log>>) {
    let mut chunk = [0u8; 8192];
    let mut line = Vec::new();
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        for &byte in &chunk[..n] {
            if byte == b'\n' || byte == b'\r' {
                log.lock().unwrap().push(&line);
                line.clear();
            } else if line.len() < LINE_CHARS * 4 {
                line.push(byte);
            }
        }
    }
    log.lock().unwrap().push(&line);
}

/// The process groups of the runs in progress. Process-wide on purpose: the stdin-lifeline thread, which exits the
/// process, must stop them first ([`kill_all_runs`]), since their own process groups do not die with us.
static RUNNING: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// SIGKILLs the process group of every run in progress. For an exit that does not wait for them.
pub fn kill_all_runs() {
    for pid in RUNNING.lock().unwrap().iter() {
        kill_group(*pid);
    }
}

fn kill_group(pid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// Kills the process group when dropped before [`Group::reaped`]: a request abandoned mid-run stops OTB.
struct Group(Option<i32>);

impl Group {
    fn new(pid: Option<u32>) -> Group {
        let pid = pid.and_then(|id| i32::try_from(id).ok()).filter(|p| *p > 0);
        if let Some(pid) = pid {
            RUNNING.lock().unwrap().insert(pid);
        }
        Group(pid)
    }
    fn kill(&self) {
        if let Some(pid) = self.0 {
            kill_group(pid);
        }
    }
    fn reaped(mut self) {
        if let Some(pid) = self.0.take() {
            RUNNING.lock().unwrap().remove(&pid);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
        if let Some(pid) = self.0 {
            RUNNING.lock().unwrap().remove(&pid);
        }
    }
}

/// Runs `plan`; `Err` only when the program could not be started.
pub(crate) async fn run(plan: &Plan, settings: &Settings) -> Result<Ran, std::io::Error> {
    let started = Instant::now();
    let mut command = tokio::process::Command::new(&plan.program);
    command
        .args(&plan.args)
        .current_dir(&settings.workdir)
        .env("GDAL_CACHEMAX", settings.gdal_cachemax_mb.to_string())
        .env("OTB_MAX_RAM_HINT", settings.otb_ram_mb.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    let group = Group::new(child.id());
    let log = Arc::new(Mutex::new(Log::default()));
    let readers = [
        child
            .stdout
            .take()
            .map(|s| tokio::spawn(collect(s, log.clone()))),
        child
            .stderr
            .take()
            .map(|s| tokio::spawn(collect(s, log.clone()))),
    ];
    let status = match tokio::time::timeout(settings.timeout, child.wait()).await {
        Ok(status) => Some(status?),
        Err(_) => None,
    };
    // Whatever the leader did, nothing it started outlives the run.
    group.kill();
    if status.is_none() {
        let _ = child.wait().await;
    }
    group.reaped();
    for reader in readers.into_iter().flatten() {
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, reader).await;
    }
    let log = std::mem::take(&mut *log.lock().unwrap());
    Ok(Ran {
        status,
        log_tail: log.tail.into(),
        bad_line: log.bad_line,
        took: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_bounded_and_remembers_the_first_bad_line() {
        let mut log = Log::default();
        log.push(
            b"2026 (WARNING) BundleToPerfectSensor: could not find a compatible Sensor Transform",
        );
        for i in 0..500 {
            log.push(format!("line {i}").as_bytes());
        }
        log.push(&[b'x'; 10_000]);
        assert_eq!(log.tail.len(), TAIL_LINES);
        assert_eq!(log.tail.back().unwrap().len(), LINE_CHARS);
        assert!(log.bad_line.unwrap().contains("Sensor Transform"));
    }
}
