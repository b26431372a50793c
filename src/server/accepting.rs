//! Taking new clients: the listening sockets and the accept loops.
//!
//! The reactor's side of accepting: open and register the listeners, accept
//! until the queue is empty (the poll is edge-triggered: a client left in
//! the queue gets no second event), and give each new connection its slot,
//! its registration and its counters. When to stop and for how long is
//! [`Acceptor`](crate::accept::Acceptor)'s decision. Echo clients (plain
//! and TLS) go through one loop, bounded by `max_connections`; the metrics
//! endpoint's requests through another, bounded by its own small limit.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Instant, SystemTime};

use log::{debug, info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use super::entry::{Entry, Listener};
use super::features::{AdminEndpoint, MetricsEndpoint};
use super::Reactor;
use crate::accept::AcceptFailure;
use crate::config::Config;
use crate::connection::Connection;
use crate::faults::admin::AdminConn;
use crate::http::admission::{Admit, RequestCut, ACCEPTS_PER_EVENT, BACKLOG};
use crate::http::HttpConn;
use crate::receipt::{FaultsSeen, Receipt};
use crate::serve::{CloseReason, ListenerKind, Next, Ready};
use crate::socket;
use crate::udp::UdpEcho;

impl Reactor {
    /// Opens the echo listener (and with `--udp` the UDP socket) of one
    /// address and puts them in the slab.
    pub(super) fn listen(
        &mut self,
        registry: &Registry,
        addr: SocketAddr,
        config: &Config,
    ) -> io::Result<()> {
        let (listener, udp) = if config.udp {
            let (listener, udp) = socket::tcp_and_udp(addr, config.backlog, config.reuse_port)?;
            (listener, Some(udp))
        } else {
            (
                socket::tcp_listener(addr, config.backlog, config.reuse_port)?,
                None,
            )
        };
        let local = self.add_listener(registry, listener, ListenerKind::Echo)?;
        self.local_addrs.push(local);
        info!("listening on {local}");
        if let Some(mut udp) = udp {
            let key = self.entries.vacant_key();
            registry.register(&mut udp, Token(key), Interest::READABLE)?;
            self.entries.insert(Entry::Udp(Box::new(UdpEcho::new(udp))));
            self.udp_sockets.push(key);
            self.cx.udp_ports.push(local.port());
            info!("listening on {local} (udp)");
        }
        Ok(())
    }

    /// Opens a TLS listener (`--tls-listen`) and puts it in the slab.
    pub(super) fn listen_tls(
        &mut self,
        registry: &Registry,
        addr: SocketAddr,
        config: &Config,
    ) -> io::Result<()> {
        let listener = socket::tcp_listener(addr, config.backlog, config.reuse_port)?;
        let local = self.add_listener(registry, listener, ListenerKind::Tls)?;
        if let Some(tls) = &mut self.features.tls {
            tls.addrs.push(local);
        }
        info!("listening on {local} (tls)");
        Ok(())
    }

    /// Opens a listener of `kind` that another feature keeps the
    /// addresses of (whoami, WebSocket; plain or TLS) and puts it in the
    /// slab.
    pub(super) fn listen_as(
        &mut self,
        registry: &Registry,
        addr: SocketAddr,
        kind: ListenerKind,
        config: &Config,
    ) -> io::Result<()> {
        let listener = socket::tcp_listener(addr, config.backlog, config.reuse_port)?;
        let local = self.add_listener(registry, listener, kind)?;
        let features = &mut self.features;
        let (addrs, label) = match kind {
            ListenerKind::Whoami => (
                features.receipts.as_mut().map(|r| &mut r.whoami_addrs),
                "whoami",
            ),
            ListenerKind::WhoamiTls => (
                features.receipts.as_mut().map(|r| &mut r.whoami_addrs),
                "whoami, tls",
            ),
            ListenerKind::WebSocket => (features.websocket.as_mut().map(|w| &mut w.addrs), "ws"),
            ListenerKind::WebSocketTls => {
                (features.websocket.as_mut().map(|w| &mut w.addrs), "wss")
            }
            _ => (None, "?"),
        };
        if let Some(addrs) = addrs {
            addrs.push(local);
        }
        info!("listening on {local} ({label})");
        Ok(())
    }

    /// Opens the metrics endpoint's listener.
    pub(super) fn listen_metrics(
        &mut self,
        registry: &Registry,
        addr: SocketAddr,
    ) -> io::Result<()> {
        let listener = socket::tcp_listener(addr, BACKLOG, false)?;
        let local = self.add_listener(registry, listener, ListenerKind::Metrics)?;
        self.features.metrics = Some(MetricsEndpoint {
            addr: local,
            admission: Default::default(),
        });
        info!("metrics on http://{local}/metrics, health on http://{local}/healthz");
        Ok(())
    }

    /// Opens the fault API's listener (`--admin`).
    pub(super) fn listen_admin(&mut self, registry: &Registry, addr: SocketAddr) -> io::Result<()> {
        let listener = socket::tcp_listener(addr, BACKLOG, false)?;
        let local = self.add_listener(registry, listener, ListenerKind::Admin)?;
        self.features.admin = Some(AdminEndpoint {
            addr: local,
            admission: Default::default(),
        });
        info!("fault api (toxiproxy's) on http://{local}/proxies");
        if !local.ip().is_loopback() {
            warn!(
                "the fault api on {local} is not on loopback: anyone who reaches it can \
                 slow, cut or refuse this server's listeners with faults"
            );
        }
        Ok(())
    }

    /// Registers a listener and gives it its slot; echo listeners are
    /// also listed for accepting again after a pause and for shutdown.
    pub(super) fn add_listener(
        &mut self,
        registry: &Registry,
        mut socket: TcpListener,
        kind: ListenerKind,
    ) -> io::Result<SocketAddr> {
        let local = socket.local_addr()?;
        let key = self.entries.vacant_key();
        registry.register(&mut socket, Token(key), Interest::READABLE)?;
        self.entries.insert(Entry::Listener(Listener {
            socket,
            kind,
            queued: false,
        }));
        if !matches!(kind, ListenerKind::Metrics | ListenerKind::Admin) {
            self.listeners.push(key);
            if let Some(receipts) = &mut self.features.receipts {
                receipts.listeners.push((key, local));
            }
        }
        Ok(local)
    }

    /// A listener is readable: clients wait in its queue.
    pub(super) fn on_listener(&mut self, registry: &Registry, key: usize, kind: ListenerKind) {
        match kind {
            ListenerKind::Metrics | ListenerKind::Admin => {
                self.accept_requests(registry, key, kind)
            }
            // While accepting is paused, new clients wait in the queue.
            // A fault listener that stops accepting leaves them there.
            ListenerKind::Faulty(index) if self.holds_accepts(index) => {}
            _ if self.acceptor.is_open() => self.accept_from(registry, key),
            _ => {}
        }
    }

    /// Accepts echo clients until the queue is empty, the limit is
    /// reached, or accept fails for want of resources.
    pub(super) fn accept_from(&mut self, registry: &Registry, key: usize) {
        loop {
            let active = self.cx.stats.active;
            if active as usize >= self.max_connections {
                self.acceptor.pause_at_limit(active, &mut self.cx.stats);
                return;
            }
            let Some(Entry::Listener(listener)) = self.entries.get(key) else {
                return;
            };
            let via = listener.kind;
            match listener.socket.accept() {
                Ok((stream, peer)) => self.add_connection(registry, stream, peer, via, key),
                Err(e) => match AcceptFailure::of(&e) {
                    AcceptFailure::QueueEmpty => {
                        self.acceptor.queue_drained(active);
                        return;
                    }
                    AcceptFailure::TryNext => debug!("accept: {e}; taking the next connection"),
                    AcceptFailure::OutOfResources => {
                        let pause = self.acceptor.back_off(&e, active, &mut self.cx.stats);
                        self.timers.set_accept_retry(Some(Instant::now() + pause));
                        return;
                    }
                },
            }
        }
    }

    /// Gives a new connection its slot, registration and counters; `via`
    /// is the kind of listener it came through, `listener` that listener's
    /// key.
    fn add_connection(
        &mut self,
        registry: &Registry,
        mut stream: TcpStream,
        peer: SocketAddr,
        via: ListenerKind,
        listener: usize,
    ) {
        // Echoes are small and latency matters more than packet count;
        // where the listener's TCP_NODELAY is not inherited, set it here.
        if !socket::INHERITS_NODELAY {
            if let Err(e) = stream.set_nodelay(true) {
                debug!("peer {peer}: cannot set TCP_NODELAY: {e}");
            }
        }
        let slot = self.entries.vacant_entry();
        let key = slot.key();
        // Both interests, once: see the connection module for why.
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = registry.register(&mut stream, Token(key), interest) {
            warn!("peer {peer}: cannot register the connection: {e}; closing it");
            return;
        }
        // A plain connection echoes at once; one with a stage first
        // (`--proxy-protocol`, `--banner`, TLS) or a receipt starts it once
        // it is counted.
        let staged = via != ListenerKind::Echo || self.features.stage_plain;
        let staged_stream = if staged {
            Some(stream)
        } else {
            slot.insert(Entry::Connection(Connection::new(stream)));
            None
        };
        self.acceptor.accepted();
        let stats = &mut self.cx.stats;
        stats.accepted += 1;
        stats.active += 1;
        stats.peak_active = stats.peak_active.max(stats.active);
        let now = self.now;
        if let Some(idle) = self.timers.idle() {
            idle.insert(key, now);
        }
        debug!("token {key} opened: peer {peer}");
        if let Some(stream) = staged_stream {
            self.start_staged(registry, key, stream, via, peer, listener);
        }
    }

    /// A new connection with a stage first, or a receipt: its receipt, if
    /// it keeps one, then its first stage. Out of line, so that a plain
    /// connection's accept never carries a receipt around.
    #[cold]
    #[inline(never)]
    fn start_staged(
        &mut self,
        registry: &Registry,
        key: usize,
        stream: TcpStream,
        via: ListenerKind,
        peer: SocketAddr,
        listener: usize,
    ) {
        let receipt = self.receipt_for(&stream, peer, via, listener);
        self.start(registry, key, stream, via, receipt);
    }

    /// A receipt for a new connection, if it keeps one (see
    /// [`crate::receipt`]): its id, where it came from and through what.
    fn receipt_for(
        &self,
        stream: &TcpStream,
        peer: SocketAddr,
        via: ListenerKind,
        listener: usize,
    ) -> Option<Receipt> {
        let receipts = self.features.receipts.as_ref()?;
        if !receipts.records(via) {
            return None;
        }
        let local = stream.local_addr().ok();
        Some(Receipt {
            id: receipts.ids.next(),
            via,
            listener: receipts.listener_addr(listener).or(local).unwrap_or(peer),
            reactor: receipts.reactor,
            started: SystemTime::now(),
            started_at: Instant::now(),
            socket: stream.as_raw_fd(),
            peer,
            local,
            proxy: None,
            tls: None,
            faults: self.fault_listener_name(via).map(|listener| {
                Box::new(FaultsSeen {
                    listener,
                    drawn: Vec::new(),
                })
            }),
            bytes_received: 0,
            bytes_sent: 0,
        })
    }

    /// Accepts HTTP connections (the metrics endpoint's or the fault
    /// API's, by `kind`) until the queue is empty, or
    /// [`ACCEPTS_PER_EVENT`] of them (then the listener is served again
    /// after the next poll). Each is served at once: a probe's request is
    /// usually there already, and is answered before the next is accepted.
    /// One still waiting for its request needs a slot: when every slot is
    /// held, it evicts the connection that has waited longest, or is
    /// refused (see [`crate::http::admission`]).
    pub(super) fn accept_requests(&mut self, registry: &Registry, key: usize, kind: ListenerKind) {
        self.features.requests_arrive(kind);
        for _ in 0..ACCEPTS_PER_EVENT {
            let Some(Entry::Listener(listener)) = self.entries.get(key) else {
                return;
            };
            let (stream, peer) = match listener.socket.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    debug!("metrics accept: {e}");
                    return;
                }
            };
            // Served before it is registered: most connections are answered
            // (or refused) here and never cost the poll anything.
            let now = Instant::now();
            let (mut entry, deadline) = match kind {
                ListenerKind::Admin => {
                    let conn = AdminConn::accepted(stream, now);
                    let deadline = conn.http().deadline;
                    (Entry::Admin(Box::new(conn)), deadline)
                }
                _ => {
                    let http = HttpConn::new(stream, now);
                    let deadline = http.deadline;
                    (Entry::Http(Box::new(http)), deadline)
                }
            };
            self.cx.slab_capacity = self.entries.capacity();
            let next = match &mut entry {
                Entry::Admin(conn) => self.answer_admin(registry, conn),
                other => match other.stage() {
                    Some(conn) => conn.serve(Ready::ALL, &mut self.cx),
                    None => continue,
                },
            };
            if let Next::Close(_) = next {
                continue; // answered at once, or gone
            }
            match self.features.admit_request(kind) {
                Admit::Free => {}
                Admit::Evict(oldest) => self.evict_request(registry, oldest),
                Admit::Refuse => {
                    self.cx.stats.http_cut[RequestCut::Refused] += 1;
                    debug!("metrics: every slot taken in this turn, closing {peer}");
                    continue;
                }
            }
            let http_key = self.entries.vacant_key();
            let interest = Interest::READABLE | Interest::WRITABLE;
            let Some(conn) = entry.stage() else {
                continue;
            };
            if registry
                .register(conn.source(), Token(http_key), interest)
                .is_err()
            {
                continue;
            }
            self.features.request_opened(kind, http_key, deadline);
            self.entries.insert(entry);
            self.timers
                .set_request(self.features.next_request_deadline());
        }
        // The budget is spent and clients may still be queued, whose edge
        // has come already: accept on after the next poll.
        self.queue_again(key);
    }

    /// Frees the slot of the HTTP connection on `key`: served once more
    /// (answered, if its request has come), then cut if still open. Called
    /// only from the accept loop, which has just brought
    /// `cx.slab_capacity` up to date for the request it served.
    fn evict_request(&mut self, registry: &Registry, key: usize) {
        self.serve(registry, key, Ready::ALL);
        let why = match self.entries.get(key) {
            Some(Entry::Http(conn)) => conn.cut_reason(),
            Some(Entry::Admin(conn)) => conn.http().cut_reason(),
            _ => return,
        };
        self.close(registry, key, CloseReason::Cut(why));
    }

    /// Accepting was paused and may go on: look at every listener.
    #[cold]
    pub(super) fn resume_accepting(&mut self, registry: &Registry) {
        self.acceptor.reopen();
        self.timers.set_accept_retry(None);
        // Edge-triggered: clients that queued during the pause raised their
        // edge already, so look at every listener now.
        for i in 0..self.listeners.len() {
            let key = self.listeners[i];
            if let Some(Entry::Listener(Listener {
                kind: ListenerKind::Faulty(index),
                ..
            })) = self.entries.get(key)
            {
                if self.holds_accepts(*index) {
                    continue;
                }
            }
            self.accept_from(registry, key);
            if !self.acceptor.is_open() {
                break;
            }
        }
    }
}
