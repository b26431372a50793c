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
use crate::http::REQUEST_TIMEOUT;
use crate::proxy_protocol::HeaderStage;
use crate::receipt::Receipt;
use crate::serve::{CloseReason, Handoff, ListenerKind, Next, Ready, Stage};
use crate::server::recorded::{AfterHandshake, Recorded, RECEIPT_MEMORY};
use crate::timers::StageClock;
use crate::tls::TlsConnection;
use crate::websocket::WsConnection;
use crate::whoami::{WhoamiAnswer, WHOAMI_LINGER};

impl Reactor {
    /// A connection just accepted through a listener of kind `via`, counted
    /// and registered, its slot still free: its first stage, wrapped with
    /// its `receipt` if it keeps one.
    pub(super) fn start(
        &mut self,
        registry: &Registry,
        key: usize,
        stream: TcpStream,
        via: ListenerKind,
        receipt: Option<Receipt>,
    ) {
        if let Some(timeout) = self.features.proxy_header_timeout {
            let deadline = self.now.max(Instant::now()) + timeout;
            let record = receipt.is_some();
            let stage = Box::new(HeaderStage::new(stream, deadline, via, record));
            self.cx.budget.charge(stage.memory());
            self.insert(Entry::Header(stage), receipt);
            self.timers
                .push_stage(StageClock::ProxyHeader, deadline, key);
            return;
        }
        self.start_after_header(registry, key, stream, via, 0, receipt);
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
        mut receipt: Option<Receipt>,
    ) {
        match via {
            ListenerKind::Echo => {
                self.cx.stats.bytes_in += early as u64;
                if let Some(receipt) = &mut receipt {
                    receipt.bytes_received += early as u64;
                }
                self.insert(Entry::Connection(Connection::new(stream)), receipt);
                self.send_first(registry, key, early);
            }
            ListenerKind::Tls | ListenerKind::WhoamiTls => {
                self.start_tls(registry, key, stream, early, receipt, false)
            }
            ListenerKind::Whoami => self.start_whoami(registry, key, stream, receipt),
            ListenerKind::WebSocket => self.start_ws(registry, key, stream, early, receipt),
            // A TLS handshake first; the upgrade request comes inside it.
            ListenerKind::WebSocketTls => {
                self.start_tls(registry, key, stream, early, receipt, true)
            }
            ListenerKind::Faulty(index) => match self.draw_faults(key, index, stream) {
                Ok((conn, drawn)) => {
                    self.cx.stats.bytes_in += early as u64;
                    if let Some(receipt) = &mut receipt {
                        receipt.bytes_received += early as u64;
                        if let Some(faults) = &mut receipt.faults {
                            faults.drawn = drawn;
                        }
                    }
                    // The banner goes first, through the faults as any echo.
                    let banner = self.features.banner.as_ref();
                    let first = match banner_for(banner, conn.stream(), receipt.as_ref()) {
                        Ok(banner) => {
                            self.cx.scratch.copy_within(..early, banner.len());
                            self.cx.scratch[..banner.len()].copy_from_slice(&banner);
                            banner.len() + early
                        }
                        Err(_) => early,
                    };
                    self.start_faulted(registry, key, conn, first, receipt)
                }
                // It drew nothing: a plain connection.
                Err(stream) => self.start_after_header(
                    registry,
                    key,
                    stream,
                    ListenerKind::Echo,
                    early,
                    receipt,
                ),
            },
            // HTTP requests are accepted by their own loop.
            ListenerKind::Metrics | ListenerKind::Admin => {}
        }
    }

    /// Puts a connection's first (or next) stage in the slot the slab
    /// gives next, which is the one the connection was given: wrapped with
    /// its receipt if it keeps one.
    pub(super) fn insert(&mut self, entry: Entry, receipt: Option<Receipt>) {
        match receipt {
            None => self.entries.insert(entry),
            Some(receipt) => {
                self.cx.budget.charge(RECEIPT_MEMORY);
                let recorded = Recorded::new(entry, receipt);
                self.entries.insert(Entry::Recorded(Box::new(recorded)))
            }
        };
    }

    /// A stage ended with `Next::HandOff`: the next one starts in its slot,
    /// with the connection's receipt if it keeps one, to which the ended
    /// stage adds what it learned.
    pub(super) fn hand_off(&mut self, registry: &Registry, key: usize) {
        let Some(mut entry) = self.entries.try_remove(key) else {
            return;
        };
        let memory = entry.stage().map_or(0, |stage| stage.memory());
        self.cx.budget.release(memory);
        let receipt = match entry {
            Entry::Recorded(recorded) => {
                let Recorded {
                    mut inner,
                    mut receipt,
                    ..
                } = *recorded;
                if let Some(stage) = inner.stage() {
                    stage.describe(&mut receipt);
                }
                entry = inner;
                Some(receipt)
            }
            _ => None,
        };
        let Some(Handoff { stream, via, early }) = entry.hand_off() else {
            return;
        };
        self.start_after_header(registry, key, stream, via, early, receipt);
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
        let banner = self.features.banner.as_ref();
        let banner = match self.entries.get_mut(key) {
            Some(Entry::Connection(conn)) => banner_for(banner, conn.stream(), None),
            Some(Entry::Recorded(recorded)) => match &recorded.inner {
                Entry::Connection(conn) => {
                    banner_for(banner, conn.stream(), Some(&recorded.receipt))
                }
                _ => return,
            },
            _ => return,
        };
        let banner = match banner {
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
        let next = self.work_on(key, |entry, cx| match entry {
            Entry::Connection(conn) => conn.send_initial(total, cx),
            _ => Next::Wait,
        });
        if let Some(Next::Close(reason)) = next {
            self.close(registry, key, reason);
        }
    }

    /// A connection from a TLS listener starts its handshake, with a
    /// deadline; `early` bytes at the start of the scratch buffer (what
    /// followed a PROXY header) are its first records. Inside it, a
    /// `websocket` connection (`--wss-listen`) gets no banner: its first
    /// bytes are its upgrade request's answer.
    fn start_tls(
        &mut self,
        registry: &Registry,
        key: usize,
        stream: TcpStream,
        early: usize,
        receipt: Option<Receipt>,
        websocket: bool,
    ) {
        let Some(tls) = &self.features.tls else {
            return;
        };
        let deadline = self.now.max(Instant::now()) + tls.handshake_timeout;
        // A whoami answer comes after the handshake, and no banner; a
        // banner that names the handshake's outcome waits for it (but for
        // a WebSocket, which gets none).
        let whoami = receipt
            .as_ref()
            .is_some_and(|r| r.via == ListenerKind::WhoamiTls);
        let wait_for = match &self.features.banner {
            // A WebSocket's first bytes are its upgrade's answer.
            _ if websocket => None,
            _ if whoami => Some(AfterHandshake::Answer),
            Some(banner) if banner.needs_handshake() && receipt.is_some() => {
                Some(AfterHandshake::Greet(banner.clone()))
            }
            _ => None,
        };
        let banner = match wait_for {
            Some(_) => Ok(Vec::new()),
            None => banner_for(self.features.banner.as_ref(), &stream, receipt.as_ref()),
        };
        let mut conn = Box::new(TlsConnection::new(
            stream,
            tls.config.clone(),
            deadline,
            self.cx.max_pending,
        ));
        let banner = match banner {
            Ok(banner) => banner,
            Err(e) => {
                self.insert(Entry::Tls(conn), receipt);
                self.close(registry, key, CloseReason::Error(e));
                return;
            }
        };
        match &self.features.websocket {
            Some(listeners) if websocket => conn.speak_websocket(listeners.max_message),
            _ if !banner.is_empty() => conn.greet(&banner, self.cx.max_pending),
            _ => {}
        }
        self.cx.key = key;
        let early_records = conn.take_early_records(early, &mut self.cx);
        self.insert(Entry::Tls(conn), receipt);
        if let (Some(step), Some(Entry::Recorded(recorded))) = (wait_for, self.entries.get_mut(key))
        {
            recorded.after_handshake = Some(step);
        }
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

    /// A connection to a whoami listener: answered with its receipt as far
    /// as known, then kept until its client leaves or the linger passes.
    /// The receipt goes on to the access log, if there is one.
    fn start_whoami(
        &mut self,
        registry: &Registry,
        key: usize,
        stream: TcpStream,
        receipt: Option<Receipt>,
    ) {
        let Some(receipt) = receipt else {
            return; // every whoami connection keeps one
        };
        let mut answer = receipt.to_json(Instant::now(), None).to_string();
        answer.push('\n');
        let deadline = self.now.max(Instant::now()) + WHOAMI_LINGER;
        let conn = Box::new(WhoamiAnswer::new(stream, answer.into_bytes(), deadline));
        self.cx.budget.charge(Stage::memory(&*conn));
        let logged = self
            .features
            .receipts
            .as_ref()
            .is_some_and(|receipts| receipts.log.is_some());
        self.insert(Entry::Whoami(conn), logged.then_some(receipt));
        self.timers.push_stage(StageClock::Whoami, deadline, key);
        self.serve(registry, key, Ready::ALL);
    }

    /// A connection from a WebSocket listener waits for its upgrade
    /// request, with a deadline; `early` bytes at the start of the scratch
    /// buffer (what followed a PROXY header) are its first. It gets no
    /// banner: its first bytes are its upgrade request's answer.
    fn start_ws(
        &mut self,
        registry: &Registry,
        key: usize,
        stream: TcpStream,
        early: usize,
        receipt: Option<Receipt>,
    ) {
        let Some(websocket) = &self.features.websocket else {
            return;
        };
        let deadline = self.now.max(Instant::now()) + REQUEST_TIMEOUT;
        let conn = Box::new(WsConnection::new(stream, deadline, websocket.max_message));
        self.insert(Entry::Ws(conn), receipt);
        self.timers.push_stage(StageClock::WsUpgrade, deadline, key);
        // After a PROXY header, bytes past the header stage's reads, or a
        // FIN that came with them, raised no edge of their own: read on.
        if early > 0 || self.features.proxy_header_timeout.is_some() {
            let next = self.work_on(key, |entry, cx| match entry {
                Entry::Ws(conn) => conn.take_early(early, cx),
                _ => Next::Wait,
            });
            if let Some(next) = next {
                self.after_serving(registry, key, next);
            }
        }
    }
}

/// The banner's bytes for the connection on `stream`, keeping `receipt`
/// (none without `--banner`).
fn banner_for(
    banner: Option<&Banner>,
    stream: &TcpStream,
    receipt: Option<&Receipt>,
) -> io::Result<Vec<u8>> {
    Ok(match banner {
        Some(banner) => {
            let local = match banner.needs_local_addr() {
                true => Some(stream.local_addr()?),
                false => None,
            };
            banner.render(local, receipt)
        }
        None => Vec::new(),
    })
}
