//! A spinner on stderr while a command waits (an awaited instance), only when stderr is a terminal: scripts and
//! pipes see nothing of it, and the line is erased before the result is printed.

use std::future::Future;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_EVERY: Duration = Duration::from_millis(100);

/// Awaits `work`, showing `label` with a spinner and the seconds waited so far.
pub async fn while_waiting<T>(label: &str, work: impl Future<Output = T>) -> T {
    if !std::io::stderr().is_terminal() {
        return work.await;
    }
    let started = Instant::now();
    let mut frames = tokio::time::interval(FRAME_EVERY);
    let mut n = 0;
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => {
                // Carriage return, then erase the line.
                eprint!("\r\x1b[2K");
                let _ = std::io::stderr().flush();
                return out;
            }
            _ = frames.tick() => {
                eprint!("\r{} {label} ({}s)", FRAMES[n % FRAMES.len()], started.elapsed().as_secs());
                let _ = std::io::stderr().flush();
                n += 1;
            }
        }
    }
}
