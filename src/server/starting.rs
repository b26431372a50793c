//! Which stages a new connection passes through, and the hand-off from
//! one stage to the next.
//!
//! A connection from an echo listener echoes at once, unless a feature puts
//! a stage first: a PROXY protocol header to read (`--proxy-protocol`), a
//! banner to send (`--banner`). One from a TLS listener starts a handshake,
//! after its PROXY header if any. [`Reactor::start`] is the one place that
//! says so: a new listener kind or stage adds its arm there.
//!
//! A stage that ends hands its socket on ([`Next::HandOff`]):
//! [`Reactor::hand_off`] takes its entry out of the slab and starts the next
//! stage in the same slot, so the connection keeps its key, its idle
//! deadline and its place in the counters.

use std::io;
use std::time::Instant;

use mio::net::TcpStream;
use mio::Registry;

use super::entry::Entry;
use super::Reactor;
use crate::banner::Banner;
use crate::connection::Connection;
use crate::proxy_protocol::HeaderStage;
use crate::serve::{CloseReason, Handoff, ListenerKind, Next, Ready};
use crate::timers::StageClock;
use crate::tls::TlsConnection;

impl Reactor {
    /// A connection just accepted through a listener of kind `via`, counted
    /// and registered, its slot still free: its first stage.
    pub(super) fn start(
        &mut self,
        registry: &Registry,
        key: usize,
        stream: TcpStream,
        via: ListenerKind,
    ) {
        if let Some(timeout) = self.features.proxy_header_timeout {
            let deadline = self.now.max(Instant::now()) + timeout;
            let stage = Box::new(HeaderStage::new(stream, deadline, via));
            self.cx.budget.charge(stage.memory());
            self.entries.insert(Entry::Header(stage));
            self.timers
                .push_stage(StageClock::ProxyHeader, deadline, key);
            return;
        }
        self.start_after_header(registry, key, stream, via, 0);
    }

    /// The stage after the PROXY header (or the first, without one), with
    /// `early` bytes at the start of the scratch buffer that arrived before
    /// it.
    fn start_after_header(
        &mut self,
        registry: &Registry,
        key: usize,
        stream: TcpStream,
        via: ListenerKind,
        early: usize,
    ) {
        match via {
            ListenerKind::Echo => {
                self.cx.stats.bytes_in += early as u64;
                self.entries
                    .insert(Entry::Connection(Connection::new(stream)));
                self.send_first(registry, key, early);
            }
            ListenerKind::Tls => self.start_tls(registry, key, stream, early),
            ListenerKind::Faulty(index) => match self.draw_faults(key, index, stream) {
                Ok(conn) => {
                    self.cx.stats.bytes_in += early as u64;
                    // The banner goes first, through the faults as any echo.
                    let first = match banner_for(self.features.banner.as_ref(), conn.stream()) {
                        Ok(banner) => {
                            self.cx.scratch.copy_within(..early, banner.len());
                            self.cx.scratch[..banner.len()].copy_from_slice(&banner);
                            banner.len() + early
                        }
                        Err(_) => early,
                    };
                    self.start_faulted(registry, key, conn, first)
                }
                // It drew nothing: a plain connection.
                Err(stream) => {
                    self.start_after_header(registry, key, stream, ListenerKind::Echo, early)
                }
            },
            // HTTP requests are accepted by their own loop.
            ListenerKind::Metrics | ListenerKind::Admin => {}
        }
    }

    /// A stage ended with `Next::HandOff`: the next one starts in its slot.
    pub(super) fn hand_off(&mut self, registry: &Registry, key: usize) {
        let Some(mut entry) = self.entries.try_remove(key) else {
            return;
        };
        let memory = entry.stage().map_or(0, |stage| stage.memory());
        self.cx.budget.release(memory);
        let Some(Handoff { stream, via, early }) = entry.hand_off() else {
            return;
        };
        self.start_after_header(registry, key, stream, via, early);
        if matches!(via, ListenerKind::Echo | ListenerKind::Faulty(_)) {
            // Bytes past the header's size limit, or a FIN that came with
            // it, raised no edge of their own: read on.
            self.serve(registry, key, Ready::CONTINUE_READING);
        }
    }

    /// A connection's first bytes: the banner, if any, then the `payload`
    /// bytes at the start of the scratch buffer (what followed a PROXY
    /// header), sent as one echo.
    fn send_first(&mut self, registry: &Registry, key: usize, payload: usize) {
        let Some(Entry::Connection(conn)) = self.entries.get_mut(key) else {
            return;
        };
        let banner = match banner_for(self.features.banner.as_ref(), conn.stream()) {
            Ok(banner) => banner,
            Err(e) => {
                self.close(registry, key, CloseReason::Error(e));
                return;
            }
        };
        let total = banner.len() + payload;
        if total == 0 {
            return;
        }
        let scratch = &mut self.cx.scratch;
        scratch.copy_within(..payload, banner.len());
        scratch[..banner.len()].copy_from_slice(&banner);
        self.cx.key = key;
        if let Next::Close(reason) = conn.send_initial(total, &mut self.cx) {
            self.close(registry, key, reason);
        }
    }

    /// A connection from a TLS listener starts its handshake, with a
    /// deadline; `early` bytes at the start of the scratch buffer (what
    /// followed a PROXY header) are its first records.
    fn start_tls(&mut self, registry: &Registry, key: usize, stream: TcpStream, early: usize) {
        let Some(tls) = &self.features.tls else {
            return;
        };
        let deadline = self.now.max(Instant::now()) + tls.handshake_timeout;
        let banner = banner_for(self.features.banner.as_ref(), &stream);
        let mut conn = Box::new(TlsConnection::new(
            stream,
            tls.config.clone(),
            deadline,
            self.cx.max_pending,
        ));
        let banner = match banner {
            Ok(banner) => banner,
            Err(e) => {
                self.entries.insert(Entry::Tls(conn));
                self.close(registry, key, CloseReason::Error(e));
                return;
            }
        };
        if !banner.is_empty() {
            conn.greet(&banner, self.cx.max_pending);
        }
        self.cx.key = key;
        let early_records = conn.take_early_records(early, &mut self.cx);
        self.entries.insert(Entry::Tls(conn));
        self.timers
            .push_stage(StageClock::TlsHandshake, deadline, key);
        match early_records {
            Err(next) => self.after_serving(registry, key, next),
            // Records past the PROXY header's size limit, or a FIN that
            // came with it, raised no edge of their own: read on.
            Ok(()) if early > 0 => self.serve(registry, key, Ready::ALL),
            Ok(()) => {}
        }
    }
}

/// The banner's bytes for the connection on `stream` (none without
/// `--banner`).
fn banner_for(banner: Option<&Banner>, stream: &TcpStream) -> io::Result<Vec<u8>> {
    Ok(match banner {
        Some(banner) if banner.needs_local_addr() => banner.for_local_addr(stream.local_addr()?),
        Some(banner) => banner.text().to_vec(),
        None => Vec::new(),
    })
}
