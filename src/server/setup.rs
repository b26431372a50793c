//! Building a server: binding every address it listens on, and the
//! reactor's state before its first turn.
//!
//! Everything that can fail at start-up fails here, with the address or
//! the step that failed ([`Error`]), so that [`Server::run`] starts with a
//! server that is ready.

use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use log::info;
use mio::{Events, Poll};
use slab::Slab;

use super::{Features, Reactor, Server, EVENTS_CAPACITY, SIGNALS, WAKER};
use crate::accept::Acceptor;
use crate::config::Config;
use crate::error::Error;
use crate::handle::Handle;
use crate::serve::{Context, ListenerKind};
use crate::signals::SignalSource;
use crate::timers::Timers;

impl Server {
    /// Binds every address in `config.listen` and sets up the poll, so the
    /// caller learns the real addresses (port 0) before running.
    pub fn bind(config: Config) -> Result<Server, Error> {
        config.validate().map_err(Error::Config)?;
        let poll = Poll::new().map_err(Error::reactor("create the poller"))?;
        let waker =
            mio::Waker::new(poll.registry(), WAKER).map_err(Error::reactor("create the waker"))?;
        let (sender, commands) = mpsc::channel();
        let max_connections = config.connection_limit()?;
        let (memory_limit, memory_source) = config.memory_budget();
        let tls_config = match &config.tls_identity {
            Some(identity) if config.serves_tls() => {
                let client_auth = config.tls_client_auth.as_ref();
                let config = identity.server_config(client_auth, &config.tls_alpn);
                Some(config.map_err(Error::Tls)?)
            }
            _ => None,
        };
        let mut reactor = Reactor {
            entries: Slab::new(),
            cx: Context::new(config.max_pending, memory_limit),
            max_connections,
            drain_timeout: config.drain_timeout,
            local_addrs: Vec::new(),
            listeners: Vec::new(),
            udp_sockets: Vec::new(),
            serve_again: Vec::new(),
            serving: Vec::new(),
            lingering: Vec::new(),
            acceptor: Acceptor::default(),
            timers: Timers::new(config.idle_timeout, config.stats_interval, Instant::now()),
            features: Features::new(&config, tls_config),
            now: Instant::now(),
            commands,
            handle: Handle {
                commands: sender,
                waker: Arc::new(waker),
            },
            signals: None,
        };
        info!("memory budget for client buffers: {memory_limit} B ({memory_source})");
        for &addr in &config.listen {
            reactor
                .listen(poll.registry(), addr, &config)
                .map_err(|source| Error::Listen { addr, source })?;
        }
        for &addr in &config.tls_listen {
            reactor
                .listen_tls(poll.registry(), addr, &config)
                .map_err(|source| Error::Listen { addr, source })?;
        }
        for (addrs, kind) in [
            (&config.whoami_listen, ListenerKind::Whoami),
            (&config.whoami_tls_listen, ListenerKind::WhoamiTls),
            (&config.ws_listen, ListenerKind::WebSocket),
            (&config.wss_listen, ListenerKind::WebSocketTls),
        ] {
            for &addr in addrs {
                reactor
                    .listen_as(poll.registry(), addr, kind, &config)
                    .map_err(|source| Error::Listen { addr, source })?;
            }
        }
        reactor
            .listen_faults(poll.registry())
            .map_err(|(addr, source)| Error::Listen { addr, source })?;
        if let Some(addr) = config.metrics {
            reactor
                .listen_metrics(poll.registry(), addr)
                .map_err(|source| Error::Listen { addr, source })?;
        }
        if let Some(addr) = config.admin {
            reactor
                .listen_admin(poll.registry(), addr)
                .map_err(|source| Error::Listen { addr, source })?;
        }
        Ok(Server {
            poll,
            events: Events::with_capacity(EVENTS_CAPACITY),
            reactor,
        })
    }

    /// The addresses actually listened on, in the order of `config.listen`.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.reactor.local_addrs
    }

    /// The TLS addresses actually listened on, in the order of
    /// `config.tls_listen`.
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        match &self.reactor.features.tls {
            Some(tls) => &tls.addrs,
            None => &[],
        }
    }

    /// The WebSocket addresses actually listened on: those of
    /// `config.ws_listen`, then those of `config.wss_listen`, in order.
    pub fn ws_addrs(&self) -> &[SocketAddr] {
        match &self.reactor.features.websocket {
            Some(websocket) => &websocket.addrs,
            None => &[],
        }
    }

    /// The whoami addresses actually listened on, in the order of
    /// `config.whoami_listen`.
    pub fn whoami_addrs(&self) -> &[SocketAddr] {
        match &self.reactor.features.receipts {
            Some(receipts) => &receipts.whoami_addrs,
            None => &[],
        }
    }

    /// Where the metrics endpoint listens (`--metrics`), if it does.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.reactor
            .features
            .metrics
            .as_ref()
            .map(|metrics| metrics.addr)
    }

    /// Where the fault API listens (`--admin`), if it does.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.reactor.features.admin.as_ref().map(|admin| admin.addr)
    }

    /// The fault listeners as bound (port 0 resolved), for the other
    /// reactors of a cluster to bind the same ports.
    pub(crate) fn fault_table(&self) -> Option<&crate::faults::FaultTable> {
        self.reactor
            .features
            .faults
            .as_ref()
            .map(|state| &state.table)
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
    /// everything at once) and SIGUSR1 (logs the counters), as events of
    /// the poll. Call it once, before
    /// [`run`](Server::run); a library that embeds the server may prefer
    /// [`Handle::stop`].
    pub fn handle_signals(&mut self) -> Result<(), Error> {
        self.reactor.signals = Some(SignalSource::register(self.poll.registry(), SIGNALS)?);
        Ok(())
    }
}
