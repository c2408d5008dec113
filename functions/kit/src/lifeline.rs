//! The stdin lifeline (`APSIS_STDIN_LIFELINE`): the local runtime starts each function with a stdin pipe it holds
//! open and never writes, so EOF on stdin means the runtime is gone, however it went (SIGKILL included). Under
//! of-watchdog stdin means nothing, which is why a function watches it only when the variable is set.

use std::io::Read;
use std::thread::JoinHandle;

/// Watches the process's stdin on a thread of its own: at EOF (or a read error) runs `before_exit`, then exits the
/// process with status 0. `before_exit` is for what does not die with us, such as child process groups.
pub fn watch_stdin(before_exit: fn()) -> JoinHandle<()> {
    watch(std::io::stdin(), move || {
        before_exit();
        std::process::exit(0)
    })
}

/// Reads `input` to its end on a new thread, discarding what it reads, then runs `at_eof`.
pub fn watch<R, F>(mut input: R, at_eof: F) -> JoinHandle<()>
where
    R: Read + Send + 'static,
    F: FnOnce() + Send + 'static,
{
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut input, &mut std::io::sink());
        at_eof();
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn fires_when_the_writer_closes_and_not_before() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let (fired, at_eof) = mpsc::channel();
        let thread = watch(reader, move || fired.send(()).unwrap());
        // Bytes are not EOF: the parent may write (it does not, but nothing breaks if it does).
        writer.write_all(b"ignored\n").unwrap();
        assert_eq!(
            at_eof.recv_timeout(Duration::from_millis(200)),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        drop(writer);
        at_eof.recv_timeout(Duration::from_secs(10)).unwrap();
        thread.join().unwrap();
    }
}
