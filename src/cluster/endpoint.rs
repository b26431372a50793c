//! The metrics endpoint of several reactors, served by their coordinator.
//!
//! With one reactor, `--metrics` is served by the reactor itself, as slab
//! entries of its own loop. With several, no reactor knows the others'
//! counters, so the coordinator thread serves it instead: it owns the
//! listener and a few [`HttpConn`]s in its own poll, and answers each
//! request with the reactors' counters summed ([`ClusterHandle::stats`]),
//! asked for at that moment. The reactors' hot paths never see it. Its
//! slots are given out by the same rule as a reactor's
//! ([`crate::http::admission`]), and what it cuts is counted here and
//! added to the reactors' counters it reports.

use std::io;
use std::time::{Duration, Instant};

use log::debug;
use mio::net::TcpListener;
use mio::{Interest, Registry, Token};
use slab::Slab;

use super::ClusterHandle;
use crate::http::admission::{Admission, Admit, RequestCut, ACCEPTS_PER_EVENT};
use crate::http::{HttpConn, HttpProgress, MAX_REQUEST};
use crate::metrics;
use crate::stats::Stats;

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
    admission: Admission,
    /// The last listener event spent its budget with clients maybe still
    /// queued.
    more_queued: bool,
    /// What the endpoint itself counts (connections it cut), added to the
    /// reactors' counters in every answer.
    own: Stats,
    scratch: Vec<u8>,
}

impl Endpoint {
    /// Registers `listener` with the coordinator's poll.
    pub(super) fn register(registry: &Registry, mut listener: TcpListener) -> io::Result<Endpoint> {
        registry.register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Endpoint {
            listener,
            connections: Slab::new(),
            admission: Admission::default(),
            more_queued: false,
            own: Stats::default(),
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
            self.accept(registry, handle, draining);
            return;
        }
        self.serve(token.0 - FIRST_CONNECTION, handle, draining);
    }

    /// Reads the request on `key` and answers it; closes it once done.
    fn serve(&mut self, key: usize, handle: &ClusterHandle, draining: bool) {
        let Some(conn) = self.connections.get_mut(key) else {
            return;
        };
        let progress = answer(conn, &mut self.scratch, &self.own, handle, draining);
        if progress == HttpProgress::Finished {
            self.connections.remove(key);
            self.admission.closed(key);
        }
    }

    /// The earliest request deadline: the oldest slot's.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.admission.next_deadline()
    }

    /// Closes the requests whose time is up.
    pub(super) fn expire(&mut self, now: Instant) {
        let (admission, own) = (&mut self.admission, &mut self.own);
        self.connections.retain(|key, conn| {
            let expired = conn.deadline <= now;
            if expired {
                conn.answer_timeout();
                admission.closed(key);
                own.http_cut[RequestCut::Timeout] += 1;
            }
            !expired
        });
    }

    /// Clients wait in the accept queue beyond the last event's budget:
    /// accept them now (the coordinator then polls without waiting).
    pub(super) fn accept_queued(
        &mut self,
        registry: &Registry,
        handle: &ClusterHandle,
        draining: bool,
    ) {
        if self.more_queued {
            self.accept(registry, handle, draining);
        }
    }

    /// More clients may wait in the accept queue than the last event took.
    pub(super) fn more_queued(&self) -> bool {
        self.more_queued
    }

    /// Accepts as a reactor does: at most [`ACCEPTS_PER_EVENT`], each
    /// served at once, and only one still waiting for its request given a
    /// slot by the endpoint's rule.
    fn accept(&mut self, registry: &Registry, handle: &ClusterHandle, draining: bool) {
        self.admission.next_event();
        self.more_queued = true;
        for _ in 0..ACCEPTS_PER_EVENT {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) => {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        debug!("metrics accept: {e}");
                    }
                    self.more_queued = false;
                    return;
                }
            };
            // Served before it is registered: most connections are answered
            // (or refused) here and never cost the poll anything.
            let mut conn = HttpConn::new(stream, Instant::now());
            let progress = answer(&mut conn, &mut self.scratch, &self.own, handle, draining);
            if progress == HttpProgress::Finished {
                continue; // answered at once, or gone
            }
            match self.admission.admit() {
                Admit::Free => {}
                Admit::Evict(oldest) => {
                    // Answered if its request has come; cut if still open.
                    self.serve(oldest, handle, draining);
                    if let Some(conn) = self.connections.try_remove(oldest) {
                        self.own.http_cut[conn.cut_reason()] += 1;
                        self.admission.closed(oldest);
                    }
                }
                Admit::Refuse => {
                    self.own.http_cut[RequestCut::Refused] += 1;
                    debug!("metrics: every slot taken in this turn, closing {peer}");
                    continue;
                }
            }
            let slot = self.connections.vacant_entry();
            let key = slot.key();
            let token = Token(FIRST_CONNECTION + key);
            let interest = Interest::READABLE | Interest::WRITABLE;
            if registry
                .register(conn.stream_mut(), token, interest)
                .is_ok()
            {
                self.admission.opened(key, conn.deadline);
                slot.insert(conn);
            }
        }
    }
}

/// Reads a request and answers it with the reactors' counters, summed,
/// and the endpoint's own.
fn answer(
    conn: &mut HttpConn,
    scratch: &mut [u8],
    own: &Stats,
    handle: &ClusterHandle,
    draining: bool,
) -> HttpProgress {
    conn.serve(scratch, |request| {
        // A reactor answers within one turn of its loop; one that does not
        // within the limit must not hold the coordinator.
        let mut stats = handle.stats_timeout(STATS_WAIT).unwrap_or_default();
        stats.add(own);
        metrics::route(request.method, request.path, &stats, draining)
    })
}
