//! Taking new clients: the listening sockets and the accept loop.
//!
//! The reactor's side of accepting: open and register the listeners, accept
//! until the queue is empty (the poll is edge-triggered: a client left in
//! the queue gets no second event), and give each new connection its slot,
//! its registration and its counters. When to stop and for how long is
//! [`Acceptor`](crate::accept::Acceptor)'s decision.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::{Entry, Reactor};
use crate::accept::AcceptFailure;
use crate::config::Config;
use crate::connection::Connection;
use crate::socket;
use crate::udp::UdpEcho;

impl Reactor {
    /// Opens the listener (and with `--udp` the UDP socket) of one address
    /// and puts them in the slab.
    pub(super) fn listen(
        &mut self,
        registry: &Registry,
        addr: SocketAddr,
        config: &Config,
    ) -> io::Result<()> {
        let (mut listener, udp) = if config.udp {
            let (listener, udp) = socket::tcp_and_udp(addr, config.backlog, config.reuse_port)?;
            (listener, Some(udp))
        } else {
            (
                socket::tcp_listener(addr, config.backlog, config.reuse_port)?,
                None,
            )
        };
        let local = listener.local_addr()?;
        let key = self.entries.vacant_key();
        registry.register(&mut listener, Token(key), Interest::READABLE)?;
        self.entries.insert(Entry::Listener(listener));
        self.listeners.push(key);
        self.local_addrs.push(local);
        info!("listening on {local}");
        if let Some(mut udp) = udp {
            let key = self.entries.vacant_key();
            registry.register(&mut udp, Token(key), Interest::READABLE)?;
            self.entries.insert(Entry::Udp(UdpEcho::new(udp)));
            self.udp_sockets.push(key);
            self.udp_ports.push(local.port());
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
        let mut listener = socket::tcp_listener(addr, config.backlog, config.reuse_port)?;
        let local = listener.local_addr()?;
        let key = self.entries.vacant_key();
        registry.register(&mut listener, Token(key), Interest::READABLE)?;
        self.entries.insert(Entry::TlsListener(listener));
        self.listeners.push(key);
        self.tls_addrs.push(local);
        info!("listening on {local} (tls)");
        Ok(())
    }

    /// Accepts until the queue is empty, the limit is reached, or accept
    /// fails for want of resources.
    pub(super) fn accept_from(&mut self, registry: &Registry, key: usize) {
        loop {
            let active = self.cx.stats.active;
            if active as usize >= self.max_connections {
                self.acceptor.pause_at_limit(active, &mut self.cx.stats);
                return;
            }
            let (listener, tls) = match self.entries.get(key) {
                Some(Entry::Listener(listener)) => (listener, false),
                Some(Entry::TlsListener(listener)) => (listener, true),
                _ => return,
            };
            match listener.accept() {
                Ok((stream, peer)) => self.add_connection(registry, stream, peer, tls),
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

    /// Gives a new connection its slot, registration and counters; `tls`
    /// says it came from a TLS listener.
    fn add_connection(
        &mut self,
        registry: &Registry,
        mut stream: TcpStream,
        peer: SocketAddr,
        tls: bool,
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
        // (`--proxy-protocol`, `--banner`, TLS) starts it once it is counted.
        let staged = tls || self.proxy_header_timeout.is_some() || self.banner.is_some();
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
            self.start_connection(registry, key, stream, tls);
        }
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
            self.accept_from(registry, key);
            if !self.acceptor.is_open() {
                break;
            }
        }
    }
}
