//! Talking to a running server from another thread.
//!
//! The reactor owns all its state on one thread. Another thread asks for
//! something by queueing a `Command` and waking the poll through a
//! `mio::Waker` (an eventfd registered under a fixed token); the reactor
//! answers between two polls. Nothing is shared that the hot path touches.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use crate::stats::Stats;

/// A request for the reactor.
pub(crate) enum Command {
    /// Begin a graceful shutdown, as SIGTERM does.
    Stop,
    /// Send a snapshot of the counters back.
    Stats(mpsc::Sender<Stats>),
}

/// Stops a running [`Server`](crate::Server) or reads its counters from any
/// thread. Cheap to clone.
#[derive(Clone)]
pub struct Handle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) waker: Arc<mio::Waker>,
}

impl Handle {
    fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok() && self.waker.wake().is_ok()
    }

    /// Asks the server to shut down gracefully: stop accepting, flush pending
    /// echoes for up to the drain timeout, close everything, and return from
    /// [`Server::run`](crate::Server::run). Returns at once; calling it again
    /// while draining closes everything without waiting.
    pub fn stop(&self) {
        self.send(Command::Stop);
    }

    /// A snapshot of the server's counters. Waits for the reactor to answer
    /// (it does so between two polls, so within one turn of the loop);
    /// `None` once the server has stopped. A reactor that never finishes
    /// its turn makes this wait for ever: a caller that must not hang
    /// (a test, a watchdog) uses [`stats_timeout`](Handle::stats_timeout).
    pub fn stats(&self) -> Option<Stats> {
        self.ask_for_stats()?.recv().ok()
    }

    /// Like [`stats`](Handle::stats), but waits at most `limit` for the
    /// answer: `None` once the server has stopped, or if it did not answer
    /// in time (a turn of its loop took longer than `limit`, or
    /// [`Server::run`](crate::Server::run) has not been called yet). A
    /// request that timed out stays queued; the reactor answers it later
    /// into a channel nobody reads, which costs nothing.
    pub fn stats_timeout(&self, limit: Duration) -> Option<Stats> {
        self.ask_for_stats()?.recv_timeout(limit).ok()
    }

    /// Queues a stats request and returns where its answer will arrive;
    /// `None` if the server has stopped.
    fn ask_for_stats(&self) -> Option<mpsc::Receiver<Stats>> {
        let (reply, answer) = mpsc::channel();
        self.send(Command::Stats(reply)).then_some(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::thread;
    use std::time::{Duration, Instant};

    use crate::{Config, Server};

    #[test]
    fn stats_timeout_gives_up_on_a_server_that_does_not_answer_and_not_on_one_that_does() {
        let server =
            Server::bind(Config::listening_on("127.0.0.1:0".parse().unwrap())).expect("bind");
        let handle = server.handle();

        // Bound but not running: nobody answers, like a stuck reactor.
        let asked = Instant::now();
        assert_eq!(handle.stats_timeout(Duration::from_millis(100)), None);
        let waited = asked.elapsed();
        assert!(
            waited >= Duration::from_millis(100) && waited < Duration::from_secs(5),
            "waited {waited:?} for a 100 ms limit"
        );

        let runner = thread::spawn(move || server.run().expect("run"));
        let stats = handle.stats_timeout(Duration::from_secs(20));
        assert_eq!(stats.map(|s| s.accepted), Some(0));

        handle.stop();
        // A server that ignored the stop must fail this test, not hang it.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !runner.is_finished() {
            assert!(
                Instant::now() < deadline,
                "the server did not stop within 20 s"
            );
            thread::sleep(Duration::from_millis(5));
        }
        let last = runner.join().expect("the server thread");
        assert_eq!(last.accepted, 0);
        // Stopped: no answer, at once rather than after the limit.
        let asked = Instant::now();
        assert_eq!(handle.stats_timeout(Duration::from_secs(20)), None);
        assert!(asked.elapsed() < Duration::from_secs(5));
    }
}
