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

use crate::banner::Banner;
use crate::config::Config;
use crate::faults::state::{clock_seed, FaultState};
use crate::http::admission::{Admission, Admit};
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
    /// `--admin`.
    pub(super) admin: Option<AdminEndpoint>,
    /// `--fault-listen`.
    pub(super) faults: Option<FaultState>,
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
        }
    }

    /// A new connection passes through a stage before it echoes (a PROXY
    /// header, a banner to send first), even from a plain listener.
    pub(super) fn stage_plain_connections(&self) -> bool {
        self.proxy_header_timeout.is_some() || self.banner.is_some()
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
