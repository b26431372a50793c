//! How long a test may wait for anything, and the bounded waits built on
//! that: polling a condition, running code that has no timeout of its own,
//! and joining a thread.
//!
//! A broken server must fail its test with a message saying what it was
//! waited for, never hang the run; so every wait in the suite ends here or
//! uses [`PATIENCE`] as its timeout.

use std::panic;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Longest any single wait in a test may take before it counts as a failure.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Polls `done` until it holds; panics after [`PATIENCE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `work` on another thread and returns its result; panics if it takes
/// longer than [`PATIENCE`] (for code with no timeouts of its own).
pub fn within_patience<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (sender, result) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(work());
    });
    match result.recv_timeout(PATIENCE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} took longer than {PATIENCE:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// Joins `thread` once it has finished and returns its result; panics if
/// it runs longer than `limit`, and panics again with the thread's own
/// panic if it had one, so a failure on that thread fails the test.
pub fn join_within<T>(what: &str, thread: JoinHandle<T>, limit: Duration) -> T {
    let deadline = Instant::now() + limit;
    while !thread.is_finished() {
        assert!(
            Instant::now() < deadline,
            "{what} did not finish within {limit:?}"
        );
        thread::sleep(Duration::from_millis(5));
    }
    thread
        .join()
        .unwrap_or_else(|panic| panic::resume_unwind(panic))
}
