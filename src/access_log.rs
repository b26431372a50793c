//! `--access-log PATH`: where receipts go, written by a thread of their own.
//!
//! A receipt ([`crate::receipt`]) is made on the reactor's thread when a
//! connection closes, and that thread must never wait for a disk: a file
//! system that stalls, or a pipe whose reader stopped reading, would stop
//! every echo with it. So the reactor only formats the line and hands it
//! to a bounded queue with `try_send`, which never blocks; a thread of the
//! log's own takes lines from the queue and writes them. When the queue is
//! full (the writer is stuck), the line is dropped and counted
//! (`echo_reactor_access_log_lines_total{outcome="dropped"}`), rather than
//! held without bound: memory stays what [`QUEUED_LINES`] allows, and the
//! counter says what the log is missing.
//!
//! One [`AccessLog`] is shared by every reactor of a server: each holds a
//! clone of the queue's sending end, and the lines of all reactors land
//! in one file, whole (one `write` per batch of whole lines).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use log::warn;

/// Lines that may wait for the writer: about a few MiB of receipts, and
/// at a thousand connections closing per second, seconds of a stalled disk
/// before the first line is dropped.
pub const QUEUED_LINES: usize = 8192;

/// Where receipts are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    /// The process's standard output (`--access-log -`).
    Stdout,
    /// A file, created if missing and appended to.
    File(PathBuf),
}

impl AccessLogTarget {
    /// `-` for standard output, anything else a file's path.
    pub fn parse(text: &str) -> AccessLogTarget {
        if text == "-" {
            AccessLogTarget::Stdout
        } else {
            AccessLogTarget::File(PathBuf::from(text))
        }
    }
}

impl fmt::Display for AccessLogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessLogTarget::Stdout => f.write_str("standard output"),
            AccessLogTarget::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The access log: the queue to its writer thread. Clones share it.
#[derive(Clone)]
pub struct AccessLog {
    lines: SyncSender<String>,
    shared: Arc<Shared>,
}

/// What every clone shares.
struct Shared {
    target: AccessLogTarget,
    /// The writer thread, taken by [`AccessLog::finish`].
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// What handing a line to the writer came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queued {
    /// The writer will write it.
    Yes,
    /// The queue was full (the writer is stuck): the line is lost.
    Dropped,
}

impl AccessLog {
    /// Opens `target` (a file is created if missing, and appended to) and
    /// starts its writer thread. Fails if the file cannot be opened for
    /// writing, so a bad path stops the server at start-up, not at the
    /// first receipt.
    pub fn open(target: &AccessLogTarget) -> io::Result<AccessLog> {
        let output: Box<dyn Write + Send> = match target {
            AccessLogTarget::Stdout => Box::new(io::stdout()),
            AccessLogTarget::File(path) => Box::new(open_file(path)?),
        };
        Ok(AccessLog::with_output(target.clone(), output))
    }

    /// An access log writing to `output`, whatever it is.
    fn with_output(target: AccessLogTarget, output: Box<dyn Write + Send>) -> AccessLog {
        let (lines, queue) = mpsc::sync_channel(QUEUED_LINES);
        let name = target.to_string();
        let writer = thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(queue, output, &name))
            .ok();
        if writer.is_none() {
            warn!("access log: cannot start its writer thread; receipts will be dropped");
        }
        AccessLog {
            lines,
            shared: Arc::new(Shared {
                target,
                writer: Mutex::new(writer),
            }),
        }
    }

    /// Where the lines go.
    pub fn target(&self) -> &AccessLogTarget {
        &self.shared.target
    }

    /// Hands one line (without its newline) to the writer; never blocks.
    pub(crate) fn queue(&self, line: String) -> Queued {
        match self.lines.try_send(line) {
            Ok(()) => Queued::Yes,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Queued::Dropped,
        }
    }

    /// Waits, at most `patience`, for the writer to write every line
    /// queued so far and stop. Call it once the servers have ended (each
    /// holds a clone of the queue's sending end: the writer stops when the
    /// last is gone); lines still queued after `patience` are lost with
    /// the process.
    pub fn finish(self, patience: Duration) {
        let writer = self.shared.writer.lock().ok().and_then(|mut w| w.take());
        drop(self);
        let Some(writer) = writer else { return };
        let (done, finished) = mpsc::channel();
        thread::spawn(move || {
            let _ = writer.join();
            let _ = done.send(());
        });
        if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(patience) {
            warn!("access log: the writer did not finish within {patience:?}; lines may be lost");
        }
    }
}

impl fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessLog")
            .field("target", &self.shared.target)
            .finish_non_exhaustive()
    }
}

/// Two handles are equal when they are clones of one log.
impl PartialEq for AccessLog {
    fn eq(&self, other: &AccessLog) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Eq for AccessLog {}

/// Opens `path` for appending, created if missing.
fn open_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The writer thread: takes lines as they come and writes them, a batch
/// of whole lines at a time, until every sender is gone.
fn write_lines(queue: Receiver<String>, mut output: Box<dyn Write + Send>, name: &str) {
    let mut batch = Vec::with_capacity(64 * 1024);
    let mut failed = false;
    while let Ok(line) = queue.recv() {
        batch.clear();
        push_line(&mut batch, &line);
        // Whatever else is queued goes in the same write.
        while batch.len() < 64 * 1024 {
            match queue.try_recv() {
                Ok(line) => push_line(&mut batch, &line),
                Err(_) => break,
            }
        }
        let written = output.write_all(&batch).and_then(|()| output.flush());
        match written {
            Ok(()) => failed = false,
            // Said once per run of failures, not once per line.
            Err(e) if !failed => {
                failed = true;
                warn!("access log: writing to {name} failed: {e}; lines are lost until it works again");
            }
            Err(_) => {}
        }
    }
}

fn push_line(batch: &mut Vec<u8>, line: &str) {
    batch.extend_from_slice(line.as_bytes());
    batch.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Condvar;

    /// An output whose writes wait until the gate opens; it says when the
    /// first write has started waiting.
    #[derive(Clone, Default)]
    struct Gate {
        state: Arc<(Mutex<(bool, bool)>, Condvar)>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Gate {
        fn wait_until_blocked(&self) {
            let (state, changed) = &*self.state;
            let mut state = state.lock().unwrap();
            while !state.0 {
                state = changed.wait(state).unwrap();
            }
        }

        fn open(&self) {
            let (state, changed) = &*self.state;
            state.lock().unwrap().1 = true;
            changed.notify_all();
        }
    }

    impl Write for Gate {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let (state, changed) = &*self.state;
            let mut state = state.lock().unwrap();
            state.0 = true;
            changed.notify_all();
            while !state.1 {
                state = changed.wait(state).unwrap();
            }
            self.written.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_writer_costs_dropped_lines_not_a_blocked_caller() {
        let gate = Gate::default();
        let log = AccessLog::with_output(AccessLogTarget::Stdout, Box::new(gate.clone()));
        // The writer takes the first line and blocks writing it; the queue
        // then fills, and every line past it is dropped at once.
        assert_eq!(log.queue("line first".into()), Queued::Yes);
        gate.wait_until_blocked();
        let more = QUEUED_LINES + 100;
        let dropped = (0..more)
            .filter(|i| log.queue(format!("line {i}")) == Queued::Dropped)
            .count();
        assert_eq!(dropped, 100);
        gate.open();
        log.finish(Duration::from_secs(10));
        let text = String::from_utf8(gate.written.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1 + QUEUED_LINES);
        assert!(text.lines().all(|line| line.starts_with("line ")));
    }
}
