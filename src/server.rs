//! The reactor: one thread, one `Poll`, one slab of sockets.
//!
//! ```text
//!  Poll::poll ──> for each event:
//!                   token of a listener   -> accept until WouldBlock
//!                   token of a connection -> Connection::serve
//!                   token of a UDP socket -> UdpEcho::serve (--udp)
//!                   SIGNALS               -> shut down / log stats
//!                   WAKER                 -> commands from a Handle
//!                 then: connections (and UDP sockets) that used up their
//!                       read budget
//!                 then: timers (idle timeout, accept retry, drain deadline)
//! ```
//!
//! Every socket, listening or connected, lives in one [`Slab`]; its key is
//! its token, so dispatch is one lookup and one `match`. The signal source
//! and the waker have fixed tokens at the top of the token space, which slab
//! keys never reach. The poll timeout is the nearest deadline, and with no
//! deadline the poll blocks: an idle server makes no system calls at all.
//!
//! This module knows the loop and the bookkeeping around it (accepting,
//! closing, shutting down); what happens to the bytes of one connection is
//! in [`crate::connection`], and to a datagram in [`crate::udp`].

use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use log::{debug, info, trace, warn};
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::config::Config;
use crate::connection::{CloseReason, Connection, Context, Next, Ready};
use crate::error::Error;
use crate::handle::{Command, Handle};
use crate::idle::IdleList;
use crate::listener::{self, AcceptFailure, AcceptGate, ACCEPT_BACKOFF_MAX, ACCEPT_BACKOFF_MIN};
use crate::stats::{Stats, StatsLog};
use crate::udp::{self, UdpEcho};

/// Size of the one read buffer all connections share.
pub const SCRATCH_SIZE: usize = 64 * 1024;

/// Events taken from the kernel per `epoll_wait`.
const EVENTS_CAPACITY: usize = 1024;

/// Token of the `mio::Waker` behind [`Handle`].
const WAKER: Token = Token(usize::MAX);
/// Token of the SIGINT/SIGTERM/SIGUSR1 source.
const SIGNALS: Token = Token(usize::MAX - 1);

/// What the slab holds: every socket the reactor polls.
pub(crate) enum Entry {
    Listener(TcpListener),
    Connection(Connection),
    /// A UDP echo socket (`--udp`), one per listening address.
    Udp(UdpEcho),
}

/// Bytes one slab slot takes: the memory an idle connection costs in user
/// space (16 in a release build; debug builds of mio add 16 bytes per
/// socket to check it is registered with one poll only).
pub const fn slab_entry_size() -> usize {
    size_of::<Entry>()
}

/// A bound echo server, ready to [`run`](Server::run).
pub struct Server {
    poll: Poll,
    events: Events,
    reactor: Reactor,
}

/// Everything but the poll and its events buffer, so the loop can iterate
/// the events while the reactor changes itself.
struct Reactor {
    entries: Slab<Entry>,
    /// The shared read buffer (reads land there and are written straight
    /// back), the pending limit and the counters: what serving needs.
    io: Context,
    max_connections: usize,
    drain_timeout: Duration,
    local_addrs: Vec<SocketAddr>,
    listeners: Vec<usize>,
    /// The UDP echo sockets' keys (closed with the listeners), and the
    /// ports they echo on (datagrams from these ports are not answered).
    udp_sockets: Vec<usize>,
    udp_ports: Vec<u16>,
    /// Connections to serve again after the next poll (read budget spent),
    /// and the list being served this turn (kept to reuse its allocation).
    serve_again: Vec<usize>,
    serving: Vec<usize>,
    idle: Option<IdleList>,
    accept_gate: AcceptGate,
    /// A warning about the accept pause is out; say when it ends.
    limit_warned: bool,
    backoff_warned: bool,
    /// The next accept pause after running out of resources: doubles with
    /// every retry that fails again, back to the minimum once one succeeds.
    backoff_delay: Duration,
    /// Set once shutdown began: when everything must be closed.
    drain_deadline: Option<Instant>,
    /// `--stats-interval`: when the next stats line is due, and the counters
    /// at the last one (for rates).
    stats_log: Option<StatsLog>,
    /// The time of this turn, read after each poll when a timer needs it.
    now: Instant,
    /// Some deadline exists (idle timeout on, accept backoff, drain): only
    /// then does a turn read the clock and look at timers.
    timers: bool,
    commands: mpsc::Receiver<Command>,
    handle: Handle,
    signals: Option<Signals>,
}

impl Server {
    /// Binds every address in `config.listen` and sets up the poll, so the
    /// caller learns the real addresses (port 0) before running.
    pub fn bind(config: Config) -> Result<Server, Error> {
        config.validate().map_err(Error::Config)?;
        let poll = Poll::new().map_err(Error::reactor("create the poller"))?;
        let waker = Waker::new(poll.registry())?;
        let (sender, commands) = mpsc::channel();

        let max_connections = config.connection_limit()?;

        let mut entries = Slab::new();
        let mut listeners = Vec::new();
        let mut local_addrs = Vec::new();
        let mut udp_sockets = Vec::new();
        let mut udp_ports = Vec::new();
        for &addr in &config.listen {
            let listen_error = |source| Error::Listen { addr, source };
            let (mut socket, udp_socket) = if config.udp {
                let (socket, udp_socket) =
                    udp::bind_with_listener(addr, config.backlog, config.reuse_port)
                        .map_err(listen_error)?;
                (socket, Some(udp_socket))
            } else {
                let socket = listener::bind(addr, config.backlog, config.reuse_port)
                    .map_err(listen_error)?;
                (socket, None)
            };
            let local = socket.local_addr().map_err(listen_error)?;
            let key = entries.vacant_key();
            poll.registry()
                .register(&mut socket, Token(key), Interest::READABLE)
                .map_err(listen_error)?;
            entries.insert(Entry::Listener(socket));
            listeners.push(key);
            local_addrs.push(local);
            info!("listening on {local}");
            if let Some(mut udp_socket) = udp_socket {
                let key = entries.vacant_key();
                poll.registry()
                    .register(&mut udp_socket, Token(key), Interest::READABLE)
                    .map_err(listen_error)?;
                entries.insert(Entry::Udp(UdpEcho::new(udp_socket)));
                udp_sockets.push(key);
                udp_ports.push(local.port());
                info!("listening on {local} (udp)");
            }
        }

        let now = Instant::now();
        Ok(Server {
            poll,
            events: Events::with_capacity(EVENTS_CAPACITY),
            reactor: Reactor {
                entries,
                io: Context::new(SCRATCH_SIZE, config.max_pending),
                max_connections,
                drain_timeout: config.drain_timeout,
                local_addrs,
                listeners,
                udp_sockets,
                udp_ports,
                serve_again: Vec::new(),
                serving: Vec::new(),
                idle: config.idle_timeout.map(|t| IdleList::new(t, now)),
                accept_gate: AcceptGate::Open,
                limit_warned: false,
                backoff_warned: false,
                backoff_delay: ACCEPT_BACKOFF_MIN,
                drain_deadline: None,
                stats_log: config.stats_interval.map(|every| StatsLog::new(every, now)),
                now,
                timers: config.idle_timeout.is_some() || config.stats_interval.is_some(),
                commands,
                handle: Handle {
                    commands: sender,
                    waker: Arc::new(waker.0),
                },
                signals: None,
            },
        })
    }

    /// The addresses actually listened on, in the order of `config.listen`.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.reactor.local_addrs
    }

    /// The connection limit in force (given, or derived from the fd limit).
    pub fn max_connections(&self) -> usize {
        self.reactor.max_connections
    }

    /// A handle to stop the server or read its counters from another thread.
    pub fn handle(&self) -> Handle {
        self.reactor.handle.clone()
    }

    /// Handles SIGINT and SIGTERM (graceful shutdown; a second one closes
    /// everything at once) and SIGUSR1 (logs the counters). Signals arrive
    /// through a pipe registered with the poll, so they are ordinary events.
    /// Call it once, before [`run`](Server::run); a library that embeds the
    /// server may prefer [`Handle::stop`].
    pub fn handle_signals(&mut self) -> Result<(), Error> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGUSR1])
            .map_err(Error::reactor("install signal handlers"))?;
        self.poll
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(Error::reactor("register signals with the poller"))?;
        self.reactor.signals = Some(signals);
        Ok(())
    }

    /// Runs the loop on this thread until a shutdown completes, then returns
    /// the final counters.
    pub fn run(mut self) -> Result<Stats, Error> {
        info!(
            "serving: up to {} connections, {} pending bytes each, idle timeout {}",
            self.reactor.max_connections,
            self.reactor.io.max_pending,
            match self.reactor.idle.as_ref() {
                Some(idle) => format!("{:?}", idle.timeout()),
                None => "off".to_string(),
            }
        );
        loop {
            let timeout = self.reactor.poll_timeout();
            trace!("poll: waiting, timeout {timeout:?}");
            match self.poll.poll(&mut self.events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Reactor {
                        what: "wait for events",
                        source,
                    })
                }
            }
            let registry = self.poll.registry();
            let requeued = self.reactor.begin_turn();
            for event in self.events.iter() {
                self.reactor.dispatch(registry, event);
            }
            if requeued {
                self.reactor.serve_queued(registry);
            }
            if self.reactor.timers {
                self.reactor.run_timers(registry);
                if self.reactor.is_finished() {
                    break;
                }
            }
        }
        let stats = self.reactor.snapshot();
        info!("shut down; {stats}");
        Ok(stats)
    }
}

/// The waker, wrapped so `bind` can use `?` with context.
struct Waker(mio::Waker);

impl Waker {
    fn new(registry: &Registry) -> Result<Waker, Error> {
        mio::Waker::new(registry, WAKER)
            .map(Waker)
            .map_err(Error::reactor("create the waker"))
    }
}

impl Reactor {
    fn is_finished(&self) -> bool {
        self.drain_deadline.is_some() && self.io.stats.active == 0
    }

    /// Block until the nearest deadline; with none, block until an event.
    #[inline(always)]
    fn poll_timeout(&self) -> Option<Duration> {
        if self.serve_again.is_empty() & !self.timers {
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
        self.nearest_deadline()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    fn nearest_deadline(&self) -> Option<Instant> {
        let backoff = match self.accept_gate {
            AcceptGate::BackingOff { until, .. } => Some(until),
            _ => None,
        };
        let idle = self.idle.as_ref().and_then(IdleList::next_deadline);
        let stats_line = self.stats_log.as_ref().map(|log| log.due);
        [idle, backoff, self.drain_deadline, stats_line]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether a timer may be due: the idle timeout is on, accepting backs
    /// off, or shutdown is draining. Called whenever one of those changes.
    fn update_timers(&mut self) {
        self.timers = self.idle.is_some()
            || self.stats_log.is_some()
            || self.drain_deadline.is_some()
            || matches!(self.accept_gate, AcceptGate::BackingOff { .. });
    }

    /// Reads the clock if a timer needs it, and takes the connections
    /// queued last turn for serving after this turn's events. Returns
    /// whether there are any.
    #[inline]
    fn begin_turn(&mut self) -> bool {
        if self.timers {
            self.now = Instant::now();
        }
        if self.serve_again.is_empty() {
            return false;
        }
        std::mem::swap(&mut self.serve_again, &mut self.serving);
        true
    }

    #[inline(always)]
    fn dispatch(&mut self, registry: &Registry, event: &Event) {
        trace!(
            "event: {} readable={} writable={} read_closed={} error={}",
            TokenName(event.token()),
            event.is_readable(),
            event.is_writable(),
            event.is_read_closed(),
            event.is_error()
        );
        // Connections first: nearly every event is for one.
        let key = event.token().0;
        if let Some(Entry::Connection(conn)) = self.entries.get_mut(key) {
            self.io.token = key;
            let next = conn.on_event(event, &mut self.io);
            self.after_serving(registry, key, next);
        } else {
            self.dispatch_other(registry, event);
        }
    }

    /// Events for a listener, a UDP socket, the waker or the signal source.
    #[cold]
    #[inline(never)]
    fn dispatch_other(&mut self, registry: &Registry, event: &Event) {
        match event.token() {
            WAKER => self.on_commands(registry),
            SIGNALS => self.on_signals(registry),
            Token(key) => match self.entries.get(key) {
                Some(Entry::Connection(_)) => {}
                // While accepting is paused, new clients wait in the queue.
                Some(Entry::Listener(_)) if self.accept_gate == AcceptGate::Open => {
                    self.accept_from(registry, key);
                }
                Some(Entry::Listener(_)) => {}
                Some(Entry::Udp(_)) => self.serve_udp(key),
                // A connection closed earlier in this batch of events.
                None => {}
            },
        }
    }

    /// Echoes what a UDP socket has received, up to its budget for the
    /// turn; a socket that used it up is served again after the next poll.
    fn serve_udp(&mut self, key: usize) {
        let Some(Entry::Udp(socket)) = self.entries.get_mut(key) else {
            return;
        };
        self.io.token = key;
        if let Next::ServeAgain = socket.serve(&self.udp_ports, &mut self.io) {
            self.queue_again(key);
        }
    }

    /// Serves a connection on the reactor's own initiative (not for an
    /// event): the fairness queue, and shutdown.
    fn serve(&mut self, registry: &Registry, key: usize, ready: Ready) {
        let Some(Entry::Connection(conn)) = self.entries.get_mut(key) else {
            return;
        };
        self.io.token = key;
        let next = conn.serve(ready, &mut self.io);
        self.after_serving(registry, key, next);
    }

    /// Carries out what a served connection asks for next.
    #[inline(always)]
    fn after_serving(&mut self, registry: &Registry, key: usize, next: Next) {
        if let Some(idle) = &mut self.idle {
            idle.touch(key, self.now);
        }
        match next {
            Next::Wait => {}
            Next::ServeAgain => self.queue_again(key),
            Next::Close(reason) => self.close(registry, key, reason),
        }
    }

    #[cold]
    fn queue_again(&mut self, key: usize) {
        let queued = match self.entries.get_mut(key) {
            Some(Entry::Connection(conn)) => &mut conn.queued,
            Some(Entry::Udp(socket)) => &mut socket.queued,
            _ => return,
        };
        if !*queued {
            *queued = true;
            self.serve_again.push(key);
        }
    }

    /// Connections (and UDP sockets) whose read budget ran out last turn:
    /// their bytes are still queued and edge-triggered epoll will not report
    /// them again.
    fn serve_queued(&mut self, registry: &Registry) {
        if self.serving.is_empty() {
            return;
        }
        let mut serving = std::mem::take(&mut self.serving);
        for &key in &serving {
            match self.entries.get_mut(key) {
                Some(Entry::Connection(conn)) => {
                    conn.queued = false;
                    self.serve(registry, key, Ready::CONTINUE_READING);
                }
                Some(Entry::Udp(socket)) => {
                    socket.queued = false;
                    self.serve_udp(key);
                }
                _ => {}
            }
        }
        serving.clear();
        self.serving = serving;
    }

    /// Accepts until the queue is empty, the limit is reached, or accept
    /// fails for want of resources.
    fn accept_from(&mut self, registry: &Registry, key: usize) {
        loop {
            if self.io.stats.active as usize >= self.max_connections {
                self.pause_at_limit();
                return;
            }
            let Some(Entry::Listener(listener)) = self.entries.get(key) else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.add_connection(registry, stream, peer),
                Err(e) => match AcceptFailure::of(&e) {
                    AcceptFailure::QueueEmpty => {
                        self.accept_queue_drained();
                        return;
                    }
                    AcceptFailure::TryNext => debug!("accept: {e}; taking the next connection"),
                    AcceptFailure::OutOfResources => {
                        self.back_off(&e);
                        return;
                    }
                },
            }
        }
    }

    fn add_connection(&mut self, registry: &Registry, mut stream: TcpStream, peer: SocketAddr) {
        // Echoes are small and latency matters more than packet count.
        if let Err(e) = stream.set_nodelay(true) {
            debug!("peer {peer}: cannot set TCP_NODELAY: {e}");
        }
        let slot = self.entries.vacant_entry();
        let key = slot.key();
        // Both interests, once: see the connection module for why.
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = registry.register(&mut stream, Token(key), interest) {
            warn!("peer {peer}: cannot register the connection: {e}; closing it");
            return;
        }
        slot.insert(Entry::Connection(Connection::new(stream)));
        self.backoff_delay = ACCEPT_BACKOFF_MIN;
        self.io.stats.accepted += 1;
        self.io.stats.active += 1;
        self.io.stats.peak_active = self.io.stats.peak_active.max(self.io.stats.active);
        if let Some(idle) = &mut self.idle {
            idle.insert(key, self.now);
        }
        debug!("token {key} opened: peer {peer}");
    }

    /// The one way a connection ends: deregister, forget, drop the socket.
    fn close(&mut self, registry: &Registry, key: usize, reason: CloseReason) {
        if let Some(idle) = &mut self.idle {
            idle.remove(key);
        }
        let Some(Entry::Connection(mut conn)) = self.entries.try_remove(key) else {
            return;
        };
        if let Err(e) = registry.deregister(conn.stream_mut()) {
            debug!("token {key}: deregister failed: {e}");
        }
        drop(conn);
        self.io.stats.active -= 1;
        match &reason {
            CloseReason::PeerClosed => {
                self.io.stats.closed_by_peer += 1;
                debug!("token {key} closed: client closed, every byte echoed");
            }
            CloseReason::Error(e) => {
                self.io.stats.closed_by_error += 1;
                debug!("token {key} closed: {e}");
            }
            CloseReason::Idle => {
                self.io.stats.closed_idle += 1;
                debug!("token {key} closed: idle timeout");
            }
            CloseReason::Shutdown => {
                self.io.stats.closed_by_shutdown += 1;
                debug!("token {key} closed: shutdown");
            }
        }
        // A descriptor and a slot are free: if accepting was paused for
        // either, try again now rather than at the next timer.
        if matches!(
            self.accept_gate,
            AcceptGate::AtLimit | AcceptGate::BackingOff { .. }
        ) {
            self.resume_accepting(registry);
        }
    }

    #[cold]
    fn pause_at_limit(&mut self) {
        if self.accept_gate != AcceptGate::AtLimit {
            self.accept_gate = AcceptGate::AtLimit;
            self.io.stats.accept_limit_pauses += 1;
        }
        if !self.limit_warned {
            self.limit_warned = true;
            warn!(
                "connection limit reached ({} open): new clients wait in the accept queue \
                 until one closes",
                self.io.stats.active
            );
        }
    }

    #[cold]
    fn back_off(&mut self, err: &io::Error) {
        let delay = self.backoff_delay;
        self.backoff_delay = (delay * 2).min(ACCEPT_BACKOFF_MAX);
        self.accept_gate = AcceptGate::BackingOff {
            until: Instant::now() + delay,
        };
        self.update_timers();
        self.io.stats.accept_backoffs += 1;
        if !self.backoff_warned {
            self.backoff_warned = true;
            warn!(
                "cannot accept: {err} ({} connections open); pausing accepts, \
                 retrying after {delay:?} and whenever a connection closes",
                self.io.stats.active
            );
        } else {
            debug!("accept still failing: {err}; next retry in {delay:?}");
        }
    }

    /// Every queued client was taken: a pause, if there was one, is over.
    fn accept_queue_drained(&mut self) {
        if self.limit_warned || self.backoff_warned {
            info!(
                "accepting normally again ({} connections open)",
                self.io.stats.active
            );
            self.limit_warned = false;
            self.backoff_warned = false;
        }
    }

    #[cold]
    fn resume_accepting(&mut self, registry: &Registry) {
        self.accept_gate = AcceptGate::Open;
        self.update_timers();
        // Edge-triggered: clients that queued during the pause raised their
        // edge already, so look at every listener now.
        for i in 0..self.listeners.len() {
            let key = self.listeners[i];
            self.accept_from(registry, key);
            if self.accept_gate != AcceptGate::Open {
                break;
            }
        }
    }

    fn run_timers(&mut self, registry: &Registry) {
        let now = self.now;
        if self.stats_log.as_ref().is_some_and(|log| now >= log.due) {
            self.log_stats_line(now);
        }
        while let Some(key) = self.idle.as_ref().and_then(|idle| idle.expired(now)) {
            self.close(registry, key, CloseReason::Idle);
        }
        if let AcceptGate::BackingOff { until, .. } = self.accept_gate {
            if now >= until {
                self.resume_accepting(registry);
            }
        }
        if let Some(deadline) = self.drain_deadline {
            if now >= deadline && self.io.stats.active > 0 {
                info!(
                    "drain timeout: closing {} connections that still had work",
                    self.io.stats.active
                );
                self.close_all(registry);
            }
        }
    }

    /// `--stats-interval`: the counters, and the rates since the last line.
    #[cold]
    fn log_stats_line(&mut self, now: Instant) {
        let stats = self.snapshot();
        if let Some(log) = &mut self.stats_log {
            info!("{}", log.line(stats, now));
        }
    }

    fn on_commands(&mut self, registry: &Registry) {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Stop => self.shut_down(registry, "stop requested"),
                Command::Stats(reply) => {
                    let _ = reply.send(self.snapshot());
                }
            }
        }
    }

    fn on_signals(&mut self, registry: &Registry) {
        let Some(signals) = &mut self.signals else {
            return;
        };
        let received: Vec<i32> = signals.pending().collect();
        for signal in received {
            match signal {
                SIGUSR1 => info!("{}", self.snapshot()),
                SIGINT => self.shut_down(registry, "SIGINT received"),
                _ => self.shut_down(registry, "SIGTERM received"),
            }
        }
    }

    /// Graceful shutdown: close the listeners, say goodbye (FIN) to every
    /// connection with nothing left to echo, and give the rest until the
    /// drain deadline. A second request skips the wait.
    fn shut_down(&mut self, registry: &Registry, why: &str) {
        if self.drain_deadline.is_some() {
            info!(
                "{why} again: closing {} connections now",
                self.io.stats.active
            );
            self.close_all(registry);
            return;
        }
        self.now = Instant::now();
        self.drain_deadline = Some(self.now + self.drain_timeout);
        self.accept_gate = AcceptGate::Closed;
        self.update_timers();
        for key in std::mem::take(&mut self.listeners) {
            if let Some(Entry::Listener(mut socket)) = self.entries.try_remove(key) {
                let _ = registry.deregister(&mut socket);
            }
        }
        // UDP has no connections to drain: its sockets close with the
        // listeners, and datagrams sent after this are refused.
        for key in std::mem::take(&mut self.udp_sockets) {
            if let Some(Entry::Udp(mut socket)) = self.entries.try_remove(key) {
                let _ = registry.deregister(socket.socket_mut());
            }
        }
        info!(
            "{why}: stopped accepting; draining {} connections for up to {:?}",
            self.io.stats.active, self.drain_timeout
        );
        // Serve every connection once, to echo what has arrived. One with
        // nothing in flight then gets our FIN. The others go on being served
        // in full until their client closes or the drain deadline passes:
        // a queue that is empty for a moment does not mean the client has
        // finished sending, and bytes read after our FIN would be dropped.
        for key in self.connection_keys() {
            self.serve(registry, key, Ready::ALL);
            let Some(Entry::Connection(conn)) = self.entries.get_mut(key) else {
                continue; // closed while being served
            };
            if conn.is_quiet() {
                match conn.send_fin() {
                    Ok(()) => trace!("token {key}: nothing in flight, FIN sent"),
                    Err(e) => self.close(registry, key, CloseReason::Error(e)),
                }
            }
        }
    }

    fn close_all(&mut self, registry: &Registry) {
        for key in self.connection_keys() {
            self.close(registry, key, CloseReason::Shutdown);
        }
    }

    fn connection_keys(&self) -> Vec<usize> {
        self.entries
            .iter()
            .filter(|(_, entry)| matches!(entry, Entry::Connection(_)))
            .map(|(key, _)| key)
            .collect()
    }

    fn snapshot(&self) -> Stats {
        Stats {
            slab_capacity: self.entries.capacity() as u64,
            ..self.io.stats
        }
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
