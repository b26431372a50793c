//! What the optional features keep in the reactor, each in one field that
//! is empty (`None`) when the feature is off.
//!
//! A feature with state of its own in the reactor (its configuration, the
//! addresses it listens on, what it counts while it runs) adds one field
//! here, not one field per fact to the reactor: the loop's own state stays
//! what every server needs, and a feature that is off costs nothing but the
//! test that finds its field empty, on paths that are not the echo's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::access_log::AccessLog;
use crate::banner::Banner;
use crate::config::Config;
use crate::faults::state::{clock_seed, FaultState};
use crate::http::admission::{Admission, Admit};
use crate::receipt::ConnectionIds;
use crate::serve::ListenerKind;

/// The optional features' state.
pub(super) struct Features {
    /// `--proxy-protocol`: how long a new connection has for its header.
    pub(super) proxy_header_timeout: Option<Duration>,
    /// `--banner`.
    pub(super) banner: Option<Banner>,
    /// `--tls-listen`.
    pub(super) tls: Option<TlsListeners>,
    /// `--metrics`.
    pub(super) metrics: Option<MetricsEndpoint>,
    /// `--access-log`, `--whoami-listen`: connections that keep a receipt.
    pub(super) receipts: Option<Receipts>,
    /// A connection from a plain echo listener starts with a stage, or
    /// keeps a receipt (`--proxy-protocol`, `--banner`, receipts): decided
    /// once, so an accept tests one flag.
    pub(super) stage_plain: bool,
    /// `--admin`.
    pub(super) admin: Option<AdminEndpoint>,
    /// `--fault-listen`.
    pub(super) faults: Option<FaultState>,
    /// `--ws-listen`, `--wss-listen`.
    pub(super) websocket: Option<WebSocketListeners>,
}

/// The WebSocket listeners' shared state.
pub(super) struct WebSocketListeners {
    /// The largest message accepted (`--ws-max-message`).
    pub(super) max_message: usize,
    /// The addresses listened on: `--ws-listen`'s, then `--wss-listen`'s.
    pub(super) addrs: Vec<SocketAddr>,
}

/// What keeping receipts needs.
pub(super) struct Receipts {
    /// Where finished receipts go (`--access-log`); without it, only
    /// whoami connections keep one, for their answer.
    pub(super) log: Option<AccessLog>,
    /// Connection ids, shared with the other reactors.
    pub(super) ids: ConnectionIds,
    /// This reactor's index.
    pub(super) reactor: usize,
    /// Each client listener's slab key and address.
    pub(super) listeners: Vec<(usize, SocketAddr)>,
    /// The whoami listeners' addresses, in the order of
    /// `Config::whoami_listen`, then of `Config::whoami_tls_listen`.
    pub(super) whoami_addrs: Vec<SocketAddr>,
    /// The banner names what a receipt knows (`{peer}`, `{sni}`, ...).
    pub(super) for_banner: bool,
}

/// Whether `--banner` names what a receipt knows.
fn banner_needs_receipt(config: &Config) -> bool {
    config
        .banner
        .as_deref()
        .is_some_and(|text| Banner::new(text).needs_receipt())
}

impl Receipts {
    /// Whether `config` asks for receipts: an access log, a whoami
    /// listener, or a banner that names what a receipt knows.
    fn wanted(config: &Config) -> bool {
        config.access_log.is_some()
            || !config.whoami_listen.is_empty()
            || !config.whoami_tls_listen.is_empty()
            || banner_needs_receipt(config)
    }

    /// Whether a connection through a listener of kind `via` keeps one.
    pub(super) fn records(&self, via: ListenerKind) -> bool {
        self.log.is_some()
            || matches!(via, ListenerKind::Whoami | ListenerKind::WhoamiTls)
            || self.for_banner
    }

    /// The address of the listener on slab key `key`.
    pub(super) fn listener_addr(&self, key: usize) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|&&(k, _)| k == key)
            .map(|&(_, addr)| addr)
    }
}

/// The TLS listeners' shared state.
pub(super) struct TlsListeners {
    /// The sessions' configuration (certificate, key, versions).
    pub(super) config: Arc<rustls::ServerConfig>,
    /// How long a handshake may take.
    pub(super) handshake_timeout: Duration,
    /// The addresses listened on, in the order of `Config::tls_listen`.
    pub(super) addrs: Vec<SocketAddr>,
}

/// The metrics endpoint's state.
pub(super) struct MetricsEndpoint {
    /// Where it listens.
    pub(super) addr: SocketAddr,
    /// Its connections open now, and who gets a slot when all are held.
    pub(super) admission: Admission,
}

/// The fault API's state (`--admin`).
pub(super) struct AdminEndpoint {
    /// Where it listens.
    pub(super) addr: SocketAddr,
    /// Its connections open now, and who gets a slot when all are held:
    /// the metrics endpoint's rule, slots of its own.
    pub(super) admission: Admission,
}

impl Features {
    /// The features `config` turns on; `tls_config` is the TLS listeners'
    /// configuration, made from `config.tls_identity` when there are any.
    pub(super) fn new(config: &Config, tls_config: Option<Arc<rustls::ServerConfig>>) -> Features {
        Features {
            proxy_header_timeout: config.proxy_protocol.then_some(config.proxy_header_timeout),
            banner: config.banner.as_deref().map(Banner::new),
            tls: tls_config.map(|config_| TlsListeners {
                config: config_,
                handshake_timeout: config.tls_handshake_timeout,
                addrs: Vec::new(),
            }),
            metrics: None,
            receipts: Receipts::wanted(config).then(|| Receipts {
                log: config.access_log.clone(),
                ids: config.ids.clone(),
                reactor: config.reactor,
                listeners: Vec::new(),
                whoami_addrs: Vec::new(),
                for_banner: banner_needs_receipt(config),
            }),
            // (A whoami listener's receipts are its own: they stage no
            // plain connection.)
            stage_plain: config.proxy_protocol
                || config.banner.is_some()
                || config.access_log.is_some(),
            admin: None,
            // The fault API may create listeners where none was given.
            faults: (!config.faults.list().is_empty() || config.admin.is_some()).then(|| {
                let seed = config.fault_seed.unwrap_or_else(clock_seed);
                FaultState::new(
                    config.faults.clone(),
                    seed,
                    config.backlog,
                    config.reuse_port,
                    config.udp,
                )
            }),
            websocket: (!config.ws_listen.is_empty() || !config.wss_listen.is_empty()).then(|| {
                WebSocketListeners {
                    max_message: config.ws_max_message,
                    addrs: Vec::new(),
                }
            }),
        }
    }

    /// The admission of the HTTP endpoint behind listeners of `kind`.
    fn admission(&mut self, kind: ListenerKind) -> Option<&mut Admission> {
        match kind {
            ListenerKind::Metrics => self.metrics.as_mut().map(|m| &mut m.admission),
            ListenerKind::Admin => self.admin.as_mut().map(|a| &mut a.admission),
            _ => None,
        }
    }

    /// Both HTTP endpoints' admissions, those that are on.
    fn admissions(&self) -> impl Iterator<Item = &Admission> {
        let metrics = self.metrics.as_ref().map(|m| &m.admission);
        metrics
            .into_iter()
            .chain(self.admin.as_ref().map(|a| &a.admission))
    }

    /// The listener of the HTTP endpoint `kind` has an event: what is
    /// accepted now is one batch (see [`Admission`]).
    pub(super) fn requests_arrive(&mut self, kind: ListenerKind) {
        if let Some(admission) = self.admission(kind) {
            admission.next_event();
        }
    }

    /// What to do with a connection just accepted by the endpoint `kind`.
    pub(super) fn admit_request(&mut self, kind: ListenerKind) -> Admit {
        self.admission(kind)
            .map_or(Admit::Refuse, |admission| admission.admit())
    }

    /// A connection of the endpoint `kind` took a slot, with its
    /// request's deadline.
    pub(super) fn request_opened(&mut self, kind: ListenerKind, key: usize, deadline: Instant) {
        if let Some(admission) = self.admission(kind) {
            admission.opened(key, deadline);
        }
    }

    /// The HTTP endpoints' next request deadline.
    pub(super) fn next_request_deadline(&self) -> Option<Instant> {
        self.admissions().filter_map(Admission::next_deadline).min()
    }

    /// An HTTP connection that has waited longest, if its time is up.
    pub(super) fn request_timed_out(&self, now: Instant) -> Option<usize> {
        self.admissions()
            .find_map(|admission| admission.timed_out(now))
    }

    /// An HTTP connection closed (a key is in one admission at most).
    pub(super) fn request_closed(&mut self, key: usize) {
        if let Some(metrics) = &mut self.metrics {
            metrics.admission.closed(key);
        }
        if let Some(admin) = &mut self.admin {
            admin.admission.closed(key);
        }
    }
}
