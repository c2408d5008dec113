//! A child's log, read line by line from a pipe on a thread of its own: JSON lines parsed, other lines kept as
//! strings, all of them kept for the test to search and to print when it fails.

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::WAIT;

#[derive(Debug, Default)]
struct Seen {
    lines: Vec<Value>,
    /// The pipe reached its end: the process closed it (exited).
    closed: bool,
}

/// The lines a process writes to one pipe, as they arrive.
#[derive(Debug, Clone, Default)]
pub struct Logs {
    shared: Arc<(Mutex<Seen>, Condvar)>,
}

impl Logs {
    /// Starts reading `pipe` until its end.
    pub fn capture(pipe: impl Read + Send + 'static) -> Logs {
        let logs = Logs::default();
        let shared = logs.shared.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line).unwrap_or(Value::String(line));
                shared
                    .0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .lines
                    .push(v);
                shared.1.notify_all();
            }
            shared.0.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
            shared.1.notify_all();
        });
        logs
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<Value> {
        self.seen().lines.clone()
    }

    /// The first line whose `message` is `message`, waiting for it up to [`WAIT`]; panics with every line seen.
    #[track_caller]
    pub fn wait_for(&self, message: &str) -> Value {
        self.wait_until(&format!("a log line '{message}'"), |v| {
            v["message"] == message
        })
    }

    /// The first line for which `matches` holds, waiting for it up to [`WAIT`]; panics naming `what`, with every
    /// line seen.
    #[track_caller]
    pub fn wait_until(&self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        let mut seen = self.seen();
        loop {
            if let Some(v) = seen.lines.iter().find(|v| matches(v)) {
                return v.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || seen.closed {
                panic!(
                    "Expected {what} within {WAIT:?}, but saw (closed: {}) {:#?}",
                    seen.closed, seen.lines
                );
            }
            seen = self
                .shared
                .1
                .wait_timeout(seen, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The last `n` lines so far, one per line of text (a JSON line as JSON): what a failing test prints.
    pub fn tail(&self, n: usize) -> String {
        let seen = self.seen();
        let from = seen.lines.len().saturating_sub(n);
        let text: Vec<String> = seen.lines[from..].iter().map(line_text).collect();
        text.join("\n")
    }

    /// Every line, once the pipe has closed (waiting up to `within` for that), each as its text: a JSON line as
    /// JSON, any other as written.
    pub fn text_after_close(&self, within: Duration) -> String {
        let deadline = Instant::now() + within;
        let mut seen = self.seen();
        while !seen.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            seen = self
                .shared
                .1
                .wait_timeout(seen, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let text: Vec<String> = seen.lines.iter().map(line_text).collect();
        text.join("\n")
    }
}

/// A line as its text: a JSON line as JSON, any other as written.
fn line_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}
