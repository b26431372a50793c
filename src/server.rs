//! The reactor: one thread, one `Poll`, one slab of sockets.
//!
//! ```text
//!  Server::run ── Poll::poll(timeout = nearest deadline, or none)
//!    for each event: Reactor::dispatch
//!      token of a connection -> Connection::on_event   (read, echo, flush)
//!      token of a listener   -> Reactor::accept_from   (until WouldBlock)
//!      token of a stage      -> Stage::serve           (UDP, PROXY header,
//!                                                       TLS, metrics request)
//!      SIGNALS               -> shut down / log the counters
//!      WAKER                 -> commands from a Handle
//!    then: Reactor::serve_queued   (sockets that spent their read budget)
//!    then: Reactor::resume_parked  (only when a connection waits for memory)
//!    then: Reactor::run_timers     (only when a deadline exists)
//! ```
//!
//! Every socket, listening or connected, lives in one [`Slab`]; its key is
//! its token, so dispatch is one lookup and one `match`. The signal source
//! and the waker have fixed tokens at the top of the token space, which slab
//! keys never reach. The poll timeout is the nearest deadline, and with no
//! deadline the poll blocks: an idle server makes no system calls at all.
//!
//! This module is the loop and its bookkeeping: dispatch, the serve-again
//! queue, and closing (one function, so no path leaks a slot or a
//! descriptor). Its submodules hold the rest of the reactor's side:
//! `entry` (what the slab holds), `setup` (binding, the state before the
//! first turn), `accepting` (the listeners and the accept loops),
//! `starting` (which stages a new connection passes through, and the
//! hand-off from one to the next), `features` (what the optional features
//! keep), `control` (timers, commands, signals, shutdown).
//! What happens to a connection's bytes is in [`crate::connection`], to a
//! datagram in [`crate::udp`]; what the two sides exchange is in
//! [`crate::serve`]. Opening sockets is [`crate::socket`]'s job, the accept
//! state [`crate::accept`]'s, the deadlines [`crate::timers`]'.

use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use log::{info, trace};
use mio::event::Event;
use mio::{Events, Poll, Registry, Token};
use slab::Slab;

use crate::accept::Acceptor;
use crate::error::Error;
use crate::handle::{Command, Handle};
use crate::serve::{Context, Next, Ready, Role};
use crate::signals::SignalSource;
use crate::stats::Stats;
use crate::timers::Timers;

mod accepting;
mod closing;
mod control;
mod entry;
mod fault_api;
mod faulting;
mod features;
pub(crate) mod recorded;
mod setup;
mod starting;
#[cfg(test)]
mod tests;

use entry::Entry;
use features::Features;

/// Events taken from the kernel per `epoll_wait`.
///
/// The number only matters when more sockets are ready than it: the
/// kernel copies out only the ready ones, and the loop reads only those.
/// With 1,000 blocking clients, one poll returned about 900 events here;
/// with 32 it returned 32 at a time, and the server made 37 times as many
/// `epoll_wait` calls, but never slept in either case, so the clients it
/// woke queued for the CPU the same way (0.27 involuntary context switches
/// per echo with 32, 128, 256 or 1,024). Measured across six loads (1,000
/// and 50 blocking clients, ping-pong on 50 and 1,000 connections,
/// pipelining, churn; 3 interleaved rounds), no size from 32 to 1,024 was
/// better beyond the noise, and the noise is large: at 50 connections,
/// 128, 256 and 1,024 run the very same code, and their medians still
/// spread from 125k to 158k echoes/s. So the size is chosen by what it
/// costs: 1,024 events are 12 KiB, allocated once, and a busy server with
/// thousands of ready sockets drains them in fewer calls.
const EVENTS_CAPACITY: usize = 1024;

/// Token of the `mio::Waker` behind [`Handle`].
const WAKER: Token = Token(usize::MAX);
/// Token of the SIGINT/SIGTERM/SIGUSR1 source.
const SIGNALS: Token = Token(usize::MAX - 1);

/// A bound echo server, ready to [`run`](Server::run).
pub struct Server {
    poll: Poll,
    events: Events,
    reactor: Reactor,
}

impl Server {
    /// Runs the loop on this thread until a shutdown completes, then returns
    /// the final counters.
    pub fn run(self) -> Result<Stats, Error> {
        // Taken apart into locals: the compiler then keeps them where the
        // loop can reach them directly, not behind a pointer to `self`.
        let Server {
            mut poll,
            mut events,
            mut reactor,
        } = self;
        info!(
            "serving: up to {} connections, {} pending bytes each, idle timeout {}",
            reactor.max_connections,
            reactor.cx.max_pending,
            match reactor.timers.idle_timeout() {
                Some(timeout) => format!("{timeout:?}"),
                None => "off".to_string(),
            }
        );
        loop {
            reactor.cx.read_log_level();
            let timeout = reactor.poll_timeout();
            if reactor.cx.tracing {
                trace!("poll: waiting, timeout {timeout:?}");
            }
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Reactor {
                        what: "wait for events",
                        source,
                    })
                }
            }
            let registry = poll.registry();
            let requeued = reactor.begin_turn();
            for event in events.iter() {
                reactor.dispatch(registry, event);
            }
            if requeued {
                reactor.serve_queued(registry);
            }
            if reactor.cx.budget.has_parked() {
                reactor.resume_parked(registry);
            }
            if reactor.timers.armed() {
                reactor.run_timers(registry);
                if reactor.is_finished() {
                    break;
                }
            }
        }
        let stats = reactor.snapshot();
        info!("shut down; {stats}");
        Ok(stats)
    }
}

/// Bytes one slab slot takes: the memory an idle connection costs in user
/// space (16 in a release build; debug builds of mio add 16 bytes per
/// socket to check it is registered with one poll only).
pub const fn slab_entry_size() -> usize {
    size_of::<Entry>()
}

/// Everything but the poll and its events buffer, so the loop can iterate
/// the events while the reactor changes itself.
struct Reactor {
    entries: Slab<Entry>,
    /// What serving a socket needs: the shared read buffer, the pending
    /// limit, the counters.
    cx: Context,
    max_connections: usize,
    drain_timeout: Duration,
    local_addrs: Vec<SocketAddr>,
    /// The echo listeners' keys, which accepting goes through, and the UDP
    /// sockets'; all of them close when shutdown begins.
    listeners: Vec<usize>,
    udp_sockets: Vec<usize>,
    /// Sockets to serve again after the next poll (read budget spent),
    /// and the list being served this turn (kept to reuse its allocation).
    serve_again: Vec<usize>,
    serving: Vec<usize>,
    /// During the drain, the connections not yet said goodbye to, asked
    /// again at every sweep (`drain`).
    lingering: Vec<usize>,
    acceptor: Acceptor,
    timers: Timers,
    /// What the optional features keep (`--proxy-protocol`, `--banner`,
    /// `--tls-listen`, `--metrics`).
    features: Features,
    /// The time of this turn, read after each poll when a timer needs it.
    now: Instant,
    commands: mpsc::Receiver<Command>,
    handle: Handle,
    signals: Option<SignalSource>,
}

impl Reactor {
    /// Hands an event to the socket it is for.
    #[inline(always)]
    fn dispatch(&mut self, registry: &Registry, event: &Event) {
        if self.cx.tracing {
            trace!(
                "event: {} readable={} writable={} read_closed={} error={}",
                TokenName(event.token()),
                event.is_readable(),
                event.is_writable(),
                event.is_read_closed(),
                event.is_error()
            );
        }
        // Connections first: nearly every event is for one.
        let key = event.token().0;
        if let Some(Entry::Connection(conn)) = self.entries.get_mut(key) {
            self.cx.key = key;
            let next = conn.on_event(event, &mut self.cx);
            self.after_serving(registry, key, next);
        } else {
            self.dispatch_other(registry, event);
        }
    }

    /// Events for a listener, a stage, the waker or the signal source.
    #[cold]
    #[inline(never)]
    fn dispatch_other(&mut self, registry: &Registry, event: &Event) {
        match event.token() {
            WAKER => self.on_commands(registry),
            SIGNALS => self.on_signals(registry),
            Token(key) => match self.entries.get(key) {
                Some(Entry::Listener(listener)) => {
                    let kind = listener.kind;
                    self.on_listener(registry, key, kind);
                }
                Some(_) => {
                    // A stage may report the counters (the metrics endpoint).
                    self.cx.slab_capacity = self.entries.capacity();
                    self.serve(registry, key, Ready::from_event(event));
                }
                // A socket closed earlier in this batch of events.
                None => {}
            },
        }
    }

    /// Serves a socket on the reactor's own initiative (the fairness
    /// queue, a hand-off, shutdown), or a stage for its event.
    fn serve(&mut self, registry: &Registry, key: usize, ready: Ready) {
        self.cx.key = key;
        let (next, role) = match self.entries.get_mut(key) {
            Some(Entry::Connection(conn)) => (conn.serve(ready, &mut self.cx), Role::Client),
            // It changes the fault table, which the reactor keeps.
            Some(Entry::Admin(_)) => return self.serve_admin(registry, key),
            Some(entry) => match entry.stage() {
                Some(stage) => (stage.serve(ready, &mut self.cx), stage.role()),
                None => return,
            },
            None => return,
        };
        self.after(registry, key, next, role);
    }

    /// Carries out what a served socket asks for next; only a client's
    /// connection counts as activity for the idle timeout.
    fn after(&mut self, registry: &Registry, key: usize, next: Next, role: Role) {
        if role == Role::Client {
            self.after_serving(registry, key, next);
        } else if !matches!(next, Next::Wait) {
            self.carry_out(registry, key, next);
        }
    }

    /// Carries out what a served connection asks for next.
    #[inline(always)]
    fn after_serving(&mut self, registry: &Registry, key: usize, next: Next) {
        if let Some(idle) = self.timers.idle() {
            idle.touch(key, self.now);
        }
        // Nearly always `Wait`: tested on its own, which is one compare.
        if !matches!(next, Next::Wait) {
            self.carry_out(registry, key, next);
        }
    }

    /// `ServeAgain`, `Close` or `HandOff`: queue the socket, close it, or
    /// start its next stage.
    #[cold]
    #[inline(never)]
    fn carry_out(&mut self, registry: &Registry, key: usize, next: Next) {
        match next {
            Next::Wait => {}
            Next::ServeAgain => self.queue_again(key),
            Next::Close(reason) => self.close(registry, key, reason),
            Next::HandOff => self.hand_off(registry, key),
            Next::Sleep => {
                let entry = self.entries.get_mut(key);
                if let Some(at) = entry
                    .and_then(Entry::stage)
                    .and_then(|stage| stage.wake_at())
                {
                    self.timers.wake_at(at, key);
                }
            }
        }
    }

    #[cold]
    fn queue_again(&mut self, key: usize) {
        let Some(queued) = self.entries.get_mut(key).and_then(Entry::queued) else {
            return;
        };
        if !*queued {
            *queued = true;
            self.serve_again.push(key);
        }
    }

    /// Reads the clock if a timer needs it, and takes the sockets queued
    /// last turn for serving after this turn's events. Returns whether
    /// there are any.
    #[inline]
    fn begin_turn(&mut self) -> bool {
        if self.timers.armed() {
            self.now = Instant::now();
        }
        if self.serve_again.is_empty() {
            return false;
        }
        std::mem::swap(&mut self.serve_again, &mut self.serving);
        true
    }

    /// Sockets whose read budget ran out last turn: their bytes are still
    /// queued and edge-triggered epoll will not report them again. A key
    /// may have been closed, and even reused by a new connection, since it
    /// was queued: a new connection is served once for nothing (its read
    /// says `WouldBlock`), which is harmless.
    fn serve_queued(&mut self, registry: &Registry) {
        let mut serving = std::mem::take(&mut self.serving);
        for &key in &serving {
            let Some(entry) = self.entries.get_mut(key) else {
                continue;
            };
            let Some(queued) = entry.queued() else {
                continue;
            };
            *queued = false;
            match entry {
                Entry::Listener(listener) => {
                    let kind = listener.kind;
                    self.on_listener(registry, key, kind);
                }
                _ => self.serve(registry, key, Ready::CONTINUE_READING),
            }
        }
        serving.clear();
        self.serving = serving;
    }

    /// Connections parked for want of memory, oldest first, while memory is
    /// free: each reads what the budget now allows, or parks again at the
    /// back. Each is looked at once per turn at most.
    #[cold]
    #[inline(never)]
    fn resume_parked(&mut self, registry: &Registry) {
        for _ in 0..self.cx.budget.parked() {
            let Some(key) = self.cx.budget.next_to_resume() else {
                return;
            };
            // The key may have closed, and even been reused, since it parked.
            let next = self.work_on(key, |entry, cx| match entry {
                Entry::Connection(conn) if conn.parked => {
                    trace!("token {key}: memory freed, resuming reads");
                    conn.unpark(cx)
                }
                _ => Next::Wait,
            });
            let Some(next) = next else { continue };
            self.after_serving(registry, key, next);
        }
    }

    /// Block until the nearest deadline; with none, block until an event.
    #[inline(always)]
    fn poll_timeout(&self) -> Option<Duration> {
        if self.serve_again.is_empty() & !self.timers.armed() {
            return None;
        }
        self.poll_timeout_with_work()
    }

    #[cold]
    #[inline(never)]
    fn poll_timeout_with_work(&self) -> Option<Duration> {
        if !self.serve_again.is_empty() {
            return Some(Duration::ZERO);
        }
        self.timers
            .nearest()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }
}

/// Shows a token as the log should: a slab key, or the name of a fixed one.
struct TokenName(Token);

impl std::fmt::Display for TokenName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            WAKER => f.write_str("waker"),
            SIGNALS => f.write_str("signals"),
            Token(key) => write!(f, "token {key}"),
        }
    }
}
