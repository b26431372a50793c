//! Accepting under pressure: when to call `accept`, and what a failure means.
//!
//! The loop accepts until the queue is empty (`WouldBlock`), because the
//! poll is edge-triggered and a client left in the queue would get no
//! second event. Two things can stop it early, and each must neither spin
//! nor go quiet:
//!
//! - **The connection limit.** At `max_connections` the server stops
//!   calling `accept`; new clients wait in the kernel's accept queue and
//!   are taken as soon as a connection closes.
//! - **Running out of resources** (`EMFILE`, `ENFILE`, `ENOBUFS`,
//!   `ENOMEM`). The failed connection stays queued, so retrying at once
//!   would fail again and again at 100 % CPU. The server pauses instead,
//!   50 ms doubling to 1 s, and retries at the end of the pause or as soon
//!   as a connection closes and frees a descriptor.
//!
//! [`Acceptor`] holds that state (open, at the limit, backing off, closed),
//! the pause that doubles, and the warnings: one when a pause begins, one
//! when accepting is back to normal, never one per failed retry. The
//! reactor asks it and tells it; the retry deadline itself is a timer of
//! the loop's ([`crate::timers`]).

use std::io;
use std::time::Duration;

use log::{debug, info, warn};

use crate::stats::Stats;

/// First pause after `accept` runs out of file descriptors or memory.
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(50);
/// The pause doubles on every failed retry, up to this.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// What a failed `accept` means for the accept loop.
#[derive(Debug, PartialEq, Eq)]
pub enum AcceptFailure {
    /// The accept queue is empty (`EAGAIN`): wait for the next edge.
    QueueEmpty,
    /// Only this one connection failed (it was reset while queued, a signal
    /// interrupted the call, a firewall rule refused it): take the next.
    TryNext,
    /// The process or system is out of file descriptors or memory
    /// (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`). Retrying now would fail
    /// again and again: the queued connection stays queued, so an eager
    /// retry loop spins at 100 % CPU. Pause and retry later.
    OutOfResources,
}

impl AcceptFailure {
    /// Classifies an error from `accept`.
    pub fn of(err: &io::Error) -> AcceptFailure {
        match err.kind() {
            io::ErrorKind::WouldBlock => return AcceptFailure::QueueEmpty,
            io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::PermissionDenied => return AcceptFailure::TryNext,
            _ => {}
        }
        match err.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                AcceptFailure::OutOfResources
            }
            // Linux passes pending network errors of the new socket to
            // accept(2); its man page says to treat them like EAGAIN and
            // retry, i.e. take the next one.
            Some(
                libc::EPROTO
                | libc::ENOPROTOOPT
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ENETUNREACH
                | libc::ENETDOWN
                | libc::ETIMEDOUT,
            ) => AcceptFailure::TryNext,
            // Anything else is unexpected; pausing is the safe answer, as
            // retrying an error that repeats would spin.
            _ => AcceptFailure::OutOfResources,
        }
    }
}

/// Whether, and why, the server is not accepting right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptGate {
    /// Accepting: take every queued client.
    Open,
    /// `max_connections` are open; reopens when one closes.
    AtLimit,
    /// `accept` ran out of resources; retry when the pause ends, or sooner
    /// if a connection closes and frees a descriptor.
    BackingOff,
    /// Shutting down: the listeners are gone.
    Closed,
}

/// The accept loop's state between two events: the gate, the next pause,
/// and which warning is out.
#[derive(Debug)]
pub struct Acceptor {
    gate: AcceptGate,
    /// The next pause after running out of resources: doubles with every
    /// retry that fails again, back to the minimum once one succeeds.
    backoff: Duration,
    /// A warning about a pause at the limit, or about a backoff, is out:
    /// say when accepting is normal again, and do not repeat it.
    limit_warned: bool,
    backoff_warned: bool,
}

impl Default for Acceptor {
    fn default() -> Self {
        Acceptor {
            gate: AcceptGate::Open,
            backoff: ACCEPT_BACKOFF_MIN,
            limit_warned: false,
            backoff_warned: false,
        }
    }
}

impl Acceptor {
    /// The gate as it stands.
    #[cfg(test)]
    pub fn gate(&self) -> AcceptGate {
        self.gate
    }

    /// Accepting is open.
    pub fn is_open(&self) -> bool {
        self.gate == AcceptGate::Open
    }

    /// Accepting is paused (limit or backoff), so a connection that closes
    /// is a reason to try again at once.
    pub fn is_paused(&self) -> bool {
        matches!(self.gate, AcceptGate::AtLimit | AcceptGate::BackingOff)
    }

    /// `active` connections are open, which is the limit: stop accepting.
    #[cold]
    pub fn pause_at_limit(&mut self, active: u64, stats: &mut Stats) {
        if self.gate != AcceptGate::AtLimit {
            self.gate = AcceptGate::AtLimit;
            stats.accept_limit_pauses += 1;
        }
        if !self.limit_warned {
            self.limit_warned = true;
            warn!(
                "connection limit reached ({active} open): new clients wait in the accept queue \
                 until one closes"
            );
        }
    }

    /// `accept` failed for want of resources: pause, and return for how
    /// long. Each pause doubles the next, up to [`ACCEPT_BACKOFF_MAX`].
    #[cold]
    pub fn back_off(&mut self, err: &io::Error, active: u64, stats: &mut Stats) -> Duration {
        let delay = self.backoff;
        self.backoff = (delay * 2).min(ACCEPT_BACKOFF_MAX);
        self.gate = AcceptGate::BackingOff;
        stats.accept_backoffs += 1;
        if !self.backoff_warned {
            self.backoff_warned = true;
            warn!(
                "cannot accept: {err} ({active} connections open); pausing accepts, \
                 retrying after {delay:?} and whenever a connection closes"
            );
        } else {
            debug!("accept still failing: {err}; next retry in {delay:?}");
        }
        delay
    }

    /// A connection was accepted: the next pause, if any, starts short.
    #[inline]
    pub fn accepted(&mut self) {
        self.backoff = ACCEPT_BACKOFF_MIN;
    }

    /// Every queued client was taken: a pause, if there was one, is over.
    pub fn queue_drained(&mut self, active: u64) {
        if self.limit_warned || self.backoff_warned {
            self.limit_warned = false;
            self.backoff_warned = false;
            info!("accepting normally again ({active} connections open)");
        }
    }

    /// Try accepting again (a connection closed, or the pause ended).
    pub fn reopen(&mut self) {
        self.gate = AcceptGate::Open;
    }

    /// Shutdown: the listeners are closed for good.
    pub fn close(&mut self) {
        self.gate = AcceptGate::Closed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_exhaustion_pauses_but_a_dead_queued_connection_does_not() {
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        let enfile = io::Error::from_raw_os_error(libc::ENFILE);
        let aborted = io::Error::from_raw_os_error(libc::ECONNABORTED);
        let again = io::Error::from_raw_os_error(libc::EAGAIN);
        assert_eq!(AcceptFailure::of(&emfile), AcceptFailure::OutOfResources);
        assert_eq!(AcceptFailure::of(&enfile), AcceptFailure::OutOfResources);
        assert_eq!(AcceptFailure::of(&aborted), AcceptFailure::TryNext);
        assert_eq!(AcceptFailure::of(&again), AcceptFailure::QueueEmpty);
    }

    #[test]
    fn the_pause_doubles_up_to_one_second_and_starts_short_again_after_an_accept() {
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        let mut acceptor = Acceptor::default();
        let mut stats = Stats::default();
        let pauses: Vec<u64> = (0..7)
            .map(|_| {
                let delay = acceptor.back_off(&emfile, 10, &mut stats);
                acceptor.reopen();
                delay.as_millis() as u64
            })
            .collect();
        assert_eq!(pauses, [50, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(stats.accept_backoffs, 7);
        acceptor.accepted();
        assert_eq!(
            acceptor.back_off(&emfile, 10, &mut stats),
            ACCEPT_BACKOFF_MIN
        );
        assert_eq!(acceptor.gate(), AcceptGate::BackingOff);
        assert!(acceptor.is_paused());
    }

    #[test]
    fn the_limit_pause_is_counted_once_per_pause() {
        let mut acceptor = Acceptor::default();
        let mut stats = Stats::default();
        acceptor.pause_at_limit(5, &mut stats);
        acceptor.pause_at_limit(5, &mut stats);
        assert_eq!(stats.accept_limit_pauses, 1);
        acceptor.reopen();
        acceptor.pause_at_limit(5, &mut stats);
        assert_eq!(stats.accept_limit_pauses, 2);
        acceptor.close();
        assert!(!acceptor.is_open() && !acceptor.is_paused());
    }
}
