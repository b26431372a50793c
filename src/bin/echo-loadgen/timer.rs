//! Time on one thread: the monotonic clock in nanoseconds, the run's
//! phases on it, the `timerfd` that wakes the thread's poll at its next
//! deadline, and the `--rate` schedule that sets those deadlines.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Token};

use crate::model::{Lifecycles, Load};

/// How long echoes may take to come back after the measured time ends.
const DRAIN: Duration = Duration::from_secs(2);

pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The thread timer's token; connection tokens are their index in the thread.
pub const TIMER: Token = Token(usize::MAX);

/// Reads of the monotonic clock, in nanoseconds: the clock `Instant` uses
/// and the `timerfd` is set on, so schedule times mean the same to both.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists on
    // every Linux, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * NANOS_PER_SEC + ts.tv_nsec as u64
}

/// `duration` in nanoseconds, saturating.
pub fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A `timerfd` in the thread's poll, set for the thread's next deadline:
/// the next due message (`--rate`), the next publish, the end. It fires to
/// the nanosecond (an `epoll_wait` timeout counts in milliseconds) and is
/// re-armed only when that deadline changes, so the poll itself waits with
/// no timeout. That matters more than it seems: a timeout arms and cancels a
/// kernel timer on every wait, and in a virtual machine each timer change
/// can exit to the hypervisor; at a few thousand waits a second this cost
/// the load generator several times the CPU the server spent.
/// (`mio::unix::SourceFd` needs mio's `os-ext` feature, which the `tools`
/// feature turns on.)
pub struct Timer {
    fd: OwnedFd,
    armed_for: u64,
}

impl Timer {
    /// A disarmed timer, registered in `registry` as [`TIMER`].
    pub fn new(registry: &mio::Registry) -> io::Result<Timer> {
        // SAFETY: plain system call; the result is checked before use.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), TIMER, Interest::READABLE)?;
        Ok(Timer { fd, armed_for: 0 })
    }

    /// Fires once at `at_ns` on the monotonic clock. Re-arming also clears
    /// an expiry not yet read, so the descriptor never needs reading: each
    /// expiry is a fresh edge.
    pub fn arm(&mut self, at_ns: u64) -> io::Result<()> {
        if at_ns == self.armed_for {
            return Ok(());
        }
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (at_ns / NANOS_PER_SEC) as libc::time_t,
                tv_nsec: (at_ns % NANOS_PER_SEC) as libc::c_long,
            },
        };
        // SAFETY: `spec` is a valid itimerspec, the old value is not asked
        // for, and the descriptor is ours.
        let result = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed_for = at_ns;
        Ok(())
    }
}

/// A thread's share of `--rate`: message `k` is due at
/// `first + offset + k * period`, on connection `k mod connections`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    first: u64,
    period_ns: f64,
    offset_ns: f64,
    k: u64,
    /// When the next message is due.
    pub next_due: u64,
    /// The connection it goes out on.
    pub next_conn: usize,
}

impl Schedule {
    /// Thread `index` of `threads`, sending `rate` messages per second over
    /// its `connections` of `all_connections`. Threads take turns within one
    /// period. Starts when [`start`](Schedule::start) is called.
    pub fn new(
        rate: f64,
        connections: usize,
        all_connections: usize,
        index: usize,
        threads: usize,
    ) -> Schedule {
        let thread_rate = rate * connections as f64 / all_connections as f64;
        let period_ns = 1e9 / thread_rate;
        Schedule {
            first: 0,
            period_ns,
            offset_ns: period_ns * index as f64 / threads as f64,
            k: 0,
            next_due: 0,
            next_conn: 0,
        }
    }

    /// Message 0 is due at `now` plus this thread's offset.
    pub fn start(&mut self, now: u64) {
        self.first = now;
        self.next_due = now + self.offset_ns as u64;
    }

    /// On to the next message.
    pub fn advance(&mut self, connections: usize) {
        self.k += 1;
        self.next_conn = (self.next_conn + 1) % connections;
        self.next_due = self.first + (self.offset_ns + self.k as f64 * self.period_ns) as u64;
    }
}

/// The run's phases on one thread, as monotonic-clock nanoseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timeline {
    pub start: u64,
    /// Messages sent from here on are measured.
    pub measure_from: u64,
    /// No message is sent from here on (bulk: everything is queued at once).
    pub stop_sending: u64,
    /// Echoes still missing now are lost.
    pub give_up: u64,
}

impl Timeline {
    /// The phases of `load` on a thread that starts at `start`.
    pub fn new(load: &Load, start: u64) -> Timeline {
        match load {
            Load::Bulk { timeout, .. } => Timeline {
                start,
                measure_from: start,
                stop_sending: start,
                give_up: start + nanos(*timeout),
            },
            Load::PingPong(messages)
            | Load::Pipeline(messages)
            | Load::Udp { messages, .. }
            | Load::Threads(messages)
            | Load::Churn(Lifecycles { messages, .. }) => {
                let measure_from = start + nanos(messages.warmup);
                let stop_sending = measure_from + nanos(messages.duration);
                // A datagram sent before `stop_sending` is settled by its
                // deadline at the latest.
                let drain = DRAIN.max(load.udp_timeout().unwrap_or_default());
                Timeline {
                    start,
                    measure_from,
                    stop_sending,
                    give_up: stop_sending + nanos(drain),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_threads_take_turns_within_one_period() {
        // 1000 messages/s over 4 connections, 2 of them on each thread: a
        // message every 2 ms per thread, the second thread 1 ms later.
        let mut first = Schedule::new(1000.0, 2, 4, 0, 2);
        let mut second = Schedule::new(1000.0, 2, 4, 1, 2);
        first.start(0);
        second.start(0);
        assert_eq!((first.next_due, second.next_due), (0, 1_000_000));
        first.advance(2);
        assert_eq!((first.next_due, first.next_conn), (2_000_000, 1));
        first.advance(2);
        assert_eq!((first.next_due, first.next_conn), (4_000_000, 0));
    }
}
