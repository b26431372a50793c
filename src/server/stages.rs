//! The stages a socket may pass through besides the echo, each optional:
//! a PROXY protocol header before it (`--proxy-protocol`), a banner at its
//! start (`--banner`), a TLS session around it (`--tls-listen`), and the
//! metrics endpoint's HTTP requests (`--metrics`), which never echo at all.
//!
//! Each stage is a slab entry of its own, boxed, that exists only while the
//! stage lasts; a plain echo connection never meets any of this code.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use log::{debug, info, trace};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::{forget_registration, Entry, Reactor};
use crate::banner::Banner;
use crate::connection::Connection;
use crate::http::{HttpConn, HttpProgress, MAX_HTTP_CONNECTIONS};
use crate::metrics;
use crate::proxy_protocol::{HeaderFailure, HeaderStage, Progress};
use crate::serve::{CloseReason, Next, Ready};
use crate::socket;
use crate::tls::{HandshakeFailure, TlsConnection};

/// The metrics listener's accept backlog: scrapers and health checks come
/// one at a time.
const METRICS_BACKLOG: u32 = 64;

impl Reactor {
    /// A connection just accepted and registered: its first stage; `tls`
    /// says it came from a TLS listener.
    pub(super) fn start_connection(
        &mut self,
        registry: &Registry,
        key: usize,
        stream: TcpStream,
        tls: bool,
    ) {
        if let Some(timeout) = self.proxy_header_timeout {
            let deadline = self.now.max(Instant::now()) + timeout;
            let mut stage = Box::new(HeaderStage::new(stream, deadline));
            stage.then_tls = tls;
            self.cx.budget.charge(stage.memory());
            self.entries.insert(Entry::Header(stage));
            self.timers.push_header(deadline, key);
            return;
        }
        if tls {
            self.start_tls(registry, key, stream, 0);
            return;
        }
        self.entries
            .insert(Entry::Connection(Connection::new(stream)));
        if self.banner.is_some() {
            self.send_first(registry, key, 0);
        }
    }

    /// Reads more of a PROXY header; once it is complete, the connection
    /// echoes what followed it and goes on as a plain connection.
    pub(super) fn serve_header(&mut self, registry: &Registry, key: usize) {
        let Some(Entry::Header(stage)) = self.entries.get_mut(key) else {
            return;
        };
        let before = stage.memory();
        let progress = stage.read(&mut self.cx.scratch[..], key);
        self.cx.budget.charge(stage.memory().saturating_sub(before));
        match progress {
            Progress::Waiting => {}
            Progress::Failed(failure) => {
                self.close(registry, key, CloseReason::ProxyHeader(failure))
            }
            Progress::Done { payload, .. } => {
                let Some(Entry::Header(stage)) = self.entries.try_remove(key) else {
                    return;
                };
                self.cx.budget.release(stage.memory());
                self.cx.stats.proxy_accepted += 1;
                if stage.then_tls {
                    self.start_tls(registry, key, stage.into_stream(), payload);
                    return;
                }
                self.cx.stats.bytes_in += payload as u64;
                self.entries
                    .insert(Entry::Connection(Connection::new(stage.into_stream())));
                self.send_first(registry, key, payload);
                // Bytes past the header's size limit, or a FIN that came
                // with it, raised no edge of their own: read on.
                self.serve(registry, key, Ready::CONTINUE_READING);
            }
        }
    }

    /// Headers whose time is up.
    pub(super) fn expire_headers(&mut self, registry: &Registry) {
        while let Some((deadline, key)) = self.timers.headers.pop_due(self.now) {
            if let Some(Entry::Header(stage)) = self.entries.get(key) {
                if stage.deadline == deadline {
                    self.close(
                        registry,
                        key,
                        CloseReason::ProxyHeader(HeaderFailure::Timeout),
                    );
                }
            }
        }
        self.timers.rearm();
    }

    /// A connection's first bytes: the banner, if any, then the `payload`
    /// bytes at the start of the scratch buffer (what followed a PROXY
    /// header), sent as one echo.
    fn send_first(&mut self, registry: &Registry, key: usize, payload: usize) {
        let Some(Entry::Connection(conn)) = self.entries.get_mut(key) else {
            return;
        };
        let banner = match banner_for(self.banner.as_ref(), conn.stream_mut()) {
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
        let Some(config) = self.tls_config.clone() else {
            return;
        };
        let deadline = self.now.max(Instant::now()) + self.tls_handshake_timeout;
        let banner = banner_for(self.banner.as_ref(), &stream);
        let mut conn = Box::new(TlsConnection::new(
            stream,
            config,
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
        self.timers.push_handshake(deadline, key);
        match early_records {
            Err(next) => self.after_serving(registry, key, next),
            // Records past the PROXY header's size limit, or a FIN that
            // came with it, raised no edge of their own: read on.
            Ok(()) if early > 0 => self.serve_tls(registry, key, Ready::ALL),
            Ok(()) => {}
        }
    }

    /// Serves a TLS connection: handshake, echo, close.
    pub(super) fn serve_tls(&mut self, registry: &Registry, key: usize, ready: Ready) {
        let Some(Entry::Tls(conn)) = self.entries.get_mut(key) else {
            return;
        };
        self.cx.key = key;
        let next = conn.serve(ready, &mut self.cx);
        self.after_serving(registry, key, next);
    }

    /// TLS handshakes whose time is up.
    pub(super) fn expire_handshakes(&mut self, registry: &Registry) {
        while let Some((deadline, key)) = self.timers.handshakes.pop_due(self.now) {
            if let Some(Entry::Tls(conn)) = self.entries.get(key) {
                if conn.handshake_deadline == Some(deadline) {
                    self.close(
                        registry,
                        key,
                        CloseReason::TlsHandshake(HandshakeFailure::Timeout),
                    );
                }
            }
        }
        self.timers.rearm();
    }

    /// Shutdown, for a TLS connection: our `close_notify` and a FIN if it
    /// has nothing in flight, or closed at once mid-handshake.
    pub(super) fn say_goodbye_tls(&mut self, registry: &Registry, key: usize) {
        self.serve_tls(registry, key, Ready::ALL);
        let Some(Entry::Tls(conn)) = self.entries.get_mut(key) else {
            return; // closed while being served
        };
        match conn.say_goodbye(&mut self.cx) {
            Ok(true) => trace!("token {key}: close_notify sent"),
            Ok(false) => self.close(registry, key, CloseReason::Shutdown),
            Err(e) => self.close(registry, key, CloseReason::Error(e)),
        }
    }

    /// Opens the metrics endpoint's listener.
    pub(super) fn listen_metrics(
        &mut self,
        registry: &Registry,
        addr: SocketAddr,
    ) -> io::Result<()> {
        let mut listener = socket::tcp_listener(addr, METRICS_BACKLOG, false)?;
        let local = listener.local_addr()?;
        let key = self.entries.vacant_key();
        registry.register(&mut listener, Token(key), Interest::READABLE)?;
        self.entries.insert(Entry::MetricsListener(listener));
        self.metrics_addr = Some(local);
        info!("metrics on http://{local}/metrics, health on http://{local}/healthz");
        Ok(())
    }

    /// Accepts metrics connections until the queue is empty; past
    /// [`MAX_HTTP_CONNECTIONS`] open, new ones are closed at once.
    pub(super) fn accept_metrics(&mut self, registry: &Registry, key: usize) {
        loop {
            let Some(Entry::MetricsListener(listener)) = self.entries.get(key) else {
                return;
            };
            let (mut stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    debug!("metrics accept: {e}");
                    return;
                }
            };
            if self.http_open >= MAX_HTTP_CONNECTIONS {
                debug!("metrics: {MAX_HTTP_CONNECTIONS} requests open, closing {peer}");
                continue;
            }
            let slot = self.entries.vacant_entry();
            let http_key = slot.key();
            let interest = Interest::READABLE | Interest::WRITABLE;
            if registry
                .register(&mut stream, Token(http_key), interest)
                .is_err()
            {
                continue;
            }
            let conn = HttpConn::new(stream, Instant::now());
            self.timers.push_request(conn.deadline, http_key);
            slot.insert(Entry::Http(Box::new(conn)));
            self.http_open += 1;
        }
    }

    /// Reads a metrics request and answers it.
    pub(super) fn serve_http(&mut self, registry: &Registry, key: usize) {
        let stats = self.snapshot();
        let draining = self.timers.drain().is_some();
        let Some(Entry::Http(conn)) = self.entries.get_mut(key) else {
            return;
        };
        let progress = conn.serve(&mut self.cx.scratch[..], |method, path| {
            metrics::route(method, path, &stats, draining)
        });
        if progress == HttpProgress::Finished {
            self.close_http(registry, key);
        }
    }

    /// Metrics requests whose time is up.
    pub(super) fn expire_requests(&mut self, registry: &Registry) {
        while let Some((deadline, key)) = self.timers.requests.pop_due(self.now) {
            if let Some(Entry::Http(conn)) = self.entries.get_mut(key) {
                if conn.deadline == deadline {
                    conn.time_out();
                    self.close_http(registry, key);
                }
            }
        }
        self.timers.rearm();
    }

    fn close_http(&mut self, registry: &Registry, key: usize) {
        if let Some(Entry::Http(mut conn)) = self.entries.try_remove(key) {
            forget_registration(registry, key, conn.stream_mut());
            self.http_open -= 1;
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
