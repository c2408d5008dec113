//! Child processes that never outlive their test, and bounded waits.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

use crate::WAIT;

/// A child process killed (SIGKILL) and reaped when the guard is dropped, so a failing test leaves nothing running.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    pub fn new(child: Child) -> ChildGuard {
        ChildGuard { child }
    }

    /// Spawns `command` as it is configured; panics if it cannot start.
    pub fn spawn(command: &mut Command) -> ChildGuard {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("Expected to start {command:?}, but: {e}"));
        ChildGuard::new(child)
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child itself, e.g. to take its pipes.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Sends `signal`; panics if it cannot be sent (the process is reaped already).
    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.child.id() as i32).expect("a positive pid");
        kill_process(pid, signal)
            .unwrap_or_else(|e| panic!("Expected to send {signal:?} to {}, but: {e}", self.id()));
    }

    /// SIGTERM, without waiting: the graceful stop under test.
    pub fn terminate(&self) {
        self.signal(Signal::TERM);
    }

    /// SIGKILL, then reaps it: the crash under test. Harmless when it has exited already.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its exit status once it has exited, or None if it is still running after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("Expected to poll the child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Its exit status; panics if it is still running after `within`.
    #[track_caller]
    pub fn exit_status(&mut self, within: Duration) -> ExitStatus {
        self.wait_exit(within)
            .unwrap_or_else(|| panic!("Expected process {} to exit within {within:?}", self.id()))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill();
        }
    }
}

/// A running child whose stdout and stderr are read on their own threads, so a full pipe never blocks it.
#[derive(Debug)]
pub struct Captured {
    what: String,
    guard: ChildGuard,
    stdout: JoinHandle<Vec<u8>>,
    stderr: JoinHandle<Vec<u8>>,
}

impl Captured {
    /// Spawns `command` with stdin closed and stdout/stderr captured.
    pub fn spawn(command: &mut Command) -> Captured {
        Captured::spawn_with_stdin(command, None)
    }

    /// Spawns `command` with stdout/stderr captured and `input` (if any) written to its stdin, then closed.
    pub fn spawn_with_stdin(command: &mut Command, input: Option<&[u8]>) -> Captured {
        let stdin = if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut guard = ChildGuard::spawn(command);
        if let Some(input) = input {
            let mut pipe = guard.child().stdin.take().expect("piped");
            pipe.write_all(input)
                .expect("Expected to write the child's stdin");
        }
        let read = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            })
        };
        let stdout = read(Box::new(guard.child().stdout.take().expect("piped")));
        let stderr = read(Box::new(guard.child().stderr.take().expect("piped")));
        Captured {
            what: format!("{command:?}"),
            guard,
            stdout,
            stderr,
        }
    }

    /// Waits for the end, at most `within` (panics after), and returns what it wrote.
    #[track_caller]
    pub fn finish(mut self, within: Duration) -> Output {
        let status = self
            .guard
            .wait_exit(within)
            .unwrap_or_else(|| panic!("Expected {} to end within {within:?}", self.what));
        Output {
            status,
            stdout: self.stdout.join().expect("the stdout reader"),
            stderr: self.stderr.join().expect("the stderr reader"),
        }
    }
}

/// Runs `command` to its end (stdin closed), bounded by [`WAIT`].
#[track_caller]
pub fn run(command: &mut Command) -> Output {
    Captured::spawn(command).finish(WAIT)
}

/// A loopback port nobody listens on (bound, then released). Prefer `127.0.0.1:0` where the program reports the
/// port it took; this is for a port that must be known before the start, or one that must refuse connections.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("Expected to bind a loopback port")
        .port()
}

/// Polls `ready` every 20 ms until it holds; panics naming `what` if it does not within `within`.
#[track_caller]
pub fn wait_until(what: &str, within: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "Expected {what} within {within:?}, but it did not happen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
