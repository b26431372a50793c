//! Every deadline the loop keeps, and the nearest one as the poll timeout.
//!
//! The loop blocks in `Poll::poll` until an event comes or the nearest
//! deadline passes. There are four kinds: the idle timeout of the least
//! recently active connection (`--idle-timeout`), the next stats line
//! (`--stats-interval`), the end of an accept pause, and the end of the
//! drain at shutdown. With none of them, the poll blocks: an idle server
//! makes no system calls at all, not even to read the clock.
//!
//! More kinds exist only with their features: the end of a stage's
//! allowance, one [`StageClock`] each: each PROXY protocol header's
//! (`--proxy-protocol`) and each TLS handshake's (`--tls-listen`). Every
//! deadline of one kind is the same length after its start, so each kind
//! is a [`DeadlineQueue`]: first in, first due, no heap. A stage with a
//! time limit of its own adds a clock. The metrics endpoint's requests
//! (`--metrics`) have one deadline here, their next: the endpoint keeps
//! theirs in the order of its slots, which is the order they fall due
//! (`http::admission`).
//!
//! [`Timers`] owns them all. Whether any exists is asked on every turn, so
//! it is kept as one flag, and only this type's own setters change what it
//! derives from: no other code can forget to update it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::idle::IdleList;
use crate::stats::StatsLog;
pub use wakes::Wakes;

mod wakes;

/// The loop's deadlines.
pub struct Timers {
    idle: Option<IdleList>,
    stats_log: Option<StatsLog>,
    accept_retry: Option<Instant>,
    drain: Option<Instant>,
    /// During the drain, the next sweep of the connections not yet said
    /// goodbye to (`drain`).
    goodbye_sweep: Option<Instant>,
    /// The metrics endpoint's next request deadline.
    request: Option<Instant>,
    /// The stages in progress that must end by a deadline, one queue per
    /// [`StageClock`].
    stages: [DeadlineQueue; StageClock::COUNT],
    /// Stages that asked to be served again at a time of their own
    /// ([`Next::Sleep`](crate::serve::Next::Sleep)): in no order.
    wakes: Wakes,
    /// Some deadline above exists: only then does a turn read the clock
    /// and look at timers.
    armed: bool,
}

impl Timers {
    /// The timers a configuration asks for from the start (idle timeout,
    /// stats interval); the others come and go with the server's state.
    pub fn new(
        idle_timeout: Option<Duration>,
        stats_interval: Option<Duration>,
        now: Instant,
    ) -> Timers {
        let mut timers = Timers {
            idle: idle_timeout.map(|timeout| IdleList::new(timeout, now)),
            stats_log: stats_interval.map(|every| StatsLog::new(every, now)),
            accept_retry: None,
            drain: None,
            goodbye_sweep: None,
            request: None,
            stages: Default::default(),
            wakes: Wakes::default(),
            armed: false,
        };
        timers.rearm();
        timers
    }

    /// Some deadline exists.
    #[inline(always)]
    pub fn armed(&self) -> bool {
        self.armed
    }

    /// The nearest deadline, if any.
    pub fn nearest(&self) -> Option<Instant> {
        let idle = self.idle.as_ref().and_then(IdleList::next_deadline);
        let stats_line = self.stats_log.as_ref().map(StatsLog::due);
        [
            idle,
            stats_line,
            self.accept_retry,
            self.drain,
            self.goodbye_sweep,
            self.request,
        ]
        .into_iter()
        .chain(self.stages.iter().map(DeadlineQueue::next))
        .chain([self.wakes.next()])
        .flatten()
        .min()
    }

    /// The idle list, when `--idle-timeout` is on.
    #[inline(always)]
    pub fn idle(&mut self) -> Option<&mut IdleList> {
        self.idle.as_mut()
    }

    /// The idle timeout, when on.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle.as_ref().map(IdleList::timeout)
    }

    /// The stats-line schedule, when `--stats-interval` is on.
    pub fn stats_log(&mut self) -> Option<&mut StatsLog> {
        self.stats_log.as_mut()
    }

    /// When a paused accept loop tries again.
    pub fn accept_retry(&self) -> Option<Instant> {
        self.accept_retry
    }

    /// Sets or clears the accept retry.
    pub fn set_accept_retry(&mut self, at: Option<Instant>) {
        self.accept_retry = at;
        self.rearm();
    }

    /// When the drain ends, once shutdown has begun.
    pub fn drain(&self) -> Option<Instant> {
        self.drain
    }

    /// Shutdown began: everything must be closed by `deadline`.
    pub fn set_drain(&mut self, deadline: Instant) {
        self.drain = Some(deadline);
        self.rearm();
    }

    /// The drain's next sweep of the connections not yet said goodbye to.
    pub fn goodbye_sweep(&self) -> Option<Instant> {
        self.goodbye_sweep
    }

    /// Sets or clears the drain's next sweep.
    pub fn set_goodbye_sweep(&mut self, at: Option<Instant>) {
        self.goodbye_sweep = at;
        self.rearm();
    }

    /// The metrics endpoint's next request deadline, if any.
    pub fn request(&self) -> Option<Instant> {
        self.request
    }

    /// Sets or clears the metrics endpoint's next request deadline.
    pub fn set_request(&mut self, at: Option<Instant>) {
        self.request = at;
        self.rearm();
    }

    /// The stage of the socket `key` must end by `deadline`.
    pub fn push_stage(&mut self, clock: StageClock, deadline: Instant, key: usize) {
        self.stages[clock as usize].push(deadline, key);
        self.rearm();
    }

    /// The earliest stage deadline due at `now`, taken from its queue, with
    /// the key it names. The stage at that key may have ended since (or the
    /// key been reused): the caller compares the deadline with the stage's.
    pub fn pop_due_stage(&mut self, now: Instant) -> Option<(Instant, usize)> {
        let due = self
            .stages
            .iter_mut()
            .filter(|queue| queue.next().is_some_and(|at| at <= now))
            .min_by_key(|queue| queue.next())?
            .pop_due(now);
        self.rearm();
        due
    }

    /// The stage at `key` is to be served again at `at`.
    pub fn wake_at(&mut self, at: Instant, key: usize) {
        self.wakes.push(at, key);
        self.armed = true;
    }

    /// Moves the keys whose wake-up is due at `now` into `due`. The
    /// stage at such a key may have ended since (or the key been reused):
    /// serving it once for nothing is harmless.
    pub fn take_due_wakes(&mut self, now: Instant, due: &mut Vec<usize>) {
        self.wakes.take_due(now, due);
        if self.wakes.is_empty() {
            self.rearm();
        }
    }

    fn rearm(&mut self) {
        self.armed = self.idle.is_some()
            || self.stats_log.is_some()
            || self.accept_retry.is_some()
            || self.drain.is_some()
            || self.goodbye_sweep.is_some()
            || self.request.is_some()
            || self.stages.iter().any(|queue| !queue.is_empty())
            || !self.wakes.is_empty();
    }
}

/// The stages whose time is limited, each by a fixed length from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageClock {
    /// A PROXY protocol header (`--proxy-header-timeout`).
    ProxyHeader,
    /// A TLS handshake (`--tls-handshake-timeout`).
    TlsHandshake,
    /// A whoami answer's wait for its client to leave
    /// ([`WHOAMI_LINGER`](crate::whoami::WHOAMI_LINGER)).
    Whoami,
    /// A WebSocket upgrade request (`--ws-listen`), as long as a metrics
    /// request has.
    WsUpgrade,
}

impl StageClock {
    /// How many clocks there are.
    const COUNT: usize = 4;
}

/// Deadlines of one length, in the order they were set, which is the order
/// they fall due. An entry names a slab key and its deadline; the stage at
/// that key may have ended (or the key been reused) since, which the owner
/// checks by comparing the deadline with the stage's own.
#[derive(Debug, Default)]
pub struct DeadlineQueue(VecDeque<(Instant, usize)>);

impl DeadlineQueue {
    /// Queues `key`'s deadline; it must not be earlier than the last one.
    pub fn push(&mut self, deadline: Instant, key: usize) {
        debug_assert!(self.0.back().is_none_or(|&(last, _)| last <= deadline));
        self.0.push_back((deadline, key));
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.0.front().map(|&(deadline, _)| deadline)
    }

    /// The earliest entry, if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize)> {
        match self.0.front() {
            Some(&(deadline, _)) if deadline <= now => self.0.pop_front(),
            _ => None,
        }
    }

    /// No deadline is queued.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_configured_timer_means_no_deadline_until_one_is_set() {
        let now = Instant::now();
        let mut timers = Timers::new(None, None, now);
        assert!(!timers.armed());
        assert_eq!(timers.nearest(), None);
        let retry = now + Duration::from_millis(50);
        timers.set_accept_retry(Some(retry));
        assert!(timers.armed());
        timers.set_drain(now + Duration::from_secs(5));
        assert_eq!(timers.nearest(), Some(retry));
        timers.set_accept_retry(None);
        assert_eq!(timers.nearest(), Some(now + Duration::from_secs(5)));
    }

    #[test]
    fn the_idle_timeout_and_stats_interval_arm_from_the_start() {
        let now = Instant::now();
        let timers = Timers::new(None, Some(Duration::from_secs(1)), now);
        assert!(timers.armed());
        assert_eq!(timers.nearest(), Some(now + Duration::from_secs(1)));
        let mut timers = Timers::new(Some(Duration::from_secs(2)), None, now);
        assert!(timers.armed());
        assert_eq!(timers.nearest(), None, "no connection, no idle deadline");
        timers.idle().unwrap().insert(3, now);
        assert!(timers.nearest().is_some());
    }
}
