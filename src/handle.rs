//! Talking to a running server from another thread.
//!
//! The reactor owns all its state on one thread. Another thread asks for
//! something by queueing a `Command` and waking the poll through a
//! `mio::Waker` (an eventfd registered under a fixed token); the reactor
//! answers between two polls. Nothing is shared that the hot path touches.

use std::sync::mpsc;
use std::sync::Arc;

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
    /// `None` once the server has stopped.
    pub fn stats(&self) -> Option<Stats> {
        let (reply, answer) = mpsc::channel();
        if !self.send(Command::Stats(reply)) {
            return None;
        }
        answer.recv().ok()
    }
}
