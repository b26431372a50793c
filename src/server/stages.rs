//! The stages a socket may pass through besides the echo, each optional:
//! a PROXY protocol header before it (`--proxy-protocol`), a banner at its
//! start (`--banner`), and the metrics endpoint's HTTP requests
//! (`--metrics`), which never echo at all.
//!
//! Each stage is a slab entry of its own, boxed, that exists only while the
//! stage lasts; a plain echo connection never meets any of this code.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use log::{debug, info};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::{forget_registration, Entry, Reactor};
use crate::connection::Connection;
use crate::http::{HttpConn, HttpProgress, MAX_HTTP_CONNECTIONS};
use crate::metrics;
use crate::proxy_protocol::{HeaderFailure, HeaderStage, Progress};
use crate::serve::{CloseReason, Next, Ready};
use crate::socket;

/// The metrics listener's accept backlog: scrapers and health checks come
/// one at a time.
const METRICS_BACKLOG: u32 = 64;

impl Reactor {
    /// A connection just accepted and registered: its first stage.
    pub(super) fn start_connection(&mut self, registry: &Registry, key: usize, stream: TcpStream) {
        if let Some(timeout) = self.proxy_header_timeout {
            let deadline = self.now.max(Instant::now()) + timeout;
            let stage = Box::new(HeaderStage::new(stream, deadline));
            self.cx.budget.charge(stage.memory());
            self.entries.insert(Entry::Header(stage));
            self.timers.push_header(deadline, key);
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
        let progress = stage.read(&mut self.cx.scratch, key);
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
        let banner = match &self.banner {
            Some(banner) if banner.needs_local_addr() => match conn.stream_mut().local_addr() {
                Ok(local) => banner.for_local_addr(local),
                Err(e) => {
                    self.close(registry, key, CloseReason::Error(e));
                    return;
                }
            },
            Some(banner) => banner.text().to_vec(),
            None => Vec::new(),
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
        let progress = conn.serve(&mut self.cx.scratch, |method, path| {
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
