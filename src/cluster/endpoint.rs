//! The metrics endpoint of several reactors, served by their coordinator.
//!
//! With one reactor, `--metrics` is served by the reactor itself, as slab
//! entries of its own loop. With several, no reactor knows the others'
//! counters, so the coordinator thread serves it instead: it owns the
//! listener and a few [`HttpConn`]s in its own poll, and answers each
//! request with the reactors' counters summed ([`ClusterHandle::stats`]),
//! asked for at that moment. The reactors' hot paths never see it.

use std::io;
use std::time::{Duration, Instant};

use log::debug;
use mio::net::TcpListener;
use mio::{Interest, Registry, Token};
use slab::Slab;

use super::ClusterHandle;
use crate::http::{HttpConn, HttpProgress, MAX_HTTP_CONNECTIONS, MAX_REQUEST};
use crate::metrics;

/// The listener's token in the coordinator's poll.
pub(super) const LISTENER: Token = Token(2);
/// How long the coordinator waits for each reactor's counters.
const STATS_WAIT: Duration = Duration::from_secs(1);
/// Tokens of metrics connections start here.
const FIRST_CONNECTION: usize = 16;

/// The coordinator's metrics endpoint.
pub(super) struct Endpoint {
    listener: TcpListener,
    connections: Slab<HttpConn>,
    scratch: Vec<u8>,
}

impl Endpoint {
    /// Registers `listener` with the coordinator's poll.
    pub(super) fn register(registry: &Registry, mut listener: TcpListener) -> io::Result<Endpoint> {
        registry.register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Endpoint {
            listener,
            connections: Slab::new(),
            scratch: vec![0; MAX_REQUEST],
        })
    }

    /// Whether `token` is one of the endpoint's.
    pub(super) fn owns(token: Token) -> bool {
        token == LISTENER || token.0 >= FIRST_CONNECTION
    }

    /// Handles an event for one of the endpoint's tokens.
    pub(super) fn on_event(
        &mut self,
        registry: &Registry,
        token: Token,
        handle: &ClusterHandle,
        draining: bool,
    ) {
        if token == LISTENER {
            self.accept(registry);
            return;
        }
        let key = token.0 - FIRST_CONNECTION;
        let Some(conn) = self.connections.get_mut(key) else {
            return;
        };
        let progress = conn.serve(&mut self.scratch, |method, path| {
            // A reactor answers within one turn of its loop; one that does
            // not within the limit must not hold the coordinator.
            let stats = handle.stats_timeout(STATS_WAIT).unwrap_or_default();
            metrics::route(method, path, &stats, draining)
        });
        if progress == HttpProgress::Finished {
            self.connections.remove(key);
        }
    }

    /// The earliest request deadline.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.connections.iter().map(|(_, conn)| conn.deadline).min()
    }

    /// Closes the requests whose time is up.
    pub(super) fn expire(&mut self, now: Instant) {
        self.connections.retain(|_, conn| {
            let expired = conn.deadline <= now;
            if expired {
                conn.answer_timeout();
            }
            !expired
        });
    }

    fn accept(&mut self, registry: &Registry) {
        loop {
            let (mut stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    debug!("metrics accept: {e}");
                    return;
                }
            };
            if self.connections.len() >= MAX_HTTP_CONNECTIONS {
                debug!("metrics: {MAX_HTTP_CONNECTIONS} requests open, closing {peer}");
                continue;
            }
            let slot = self.connections.vacant_entry();
            let token = Token(FIRST_CONNECTION + slot.key());
            let interest = Interest::READABLE | Interest::WRITABLE;
            if registry.register(&mut stream, token, interest).is_ok() {
                slot.insert(HttpConn::new(stream, Instant::now()));
            }
        }
    }
}
