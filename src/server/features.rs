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
use std::time::Duration;

use crate::banner::Banner;
use crate::config::Config;
use crate::http::MAX_HTTP_CONNECTIONS;

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
    /// Its connections open now, at most [`MAX_HTTP_CONNECTIONS`].
    pub(super) open: usize,
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
        }
    }

    /// A new connection passes through a stage before it echoes (a PROXY
    /// header, a banner to send first), even from a plain listener.
    pub(super) fn stage_plain_connections(&self) -> bool {
        self.proxy_header_timeout.is_some() || self.banner.is_some()
    }

    /// The metrics endpoint has room for another connection.
    pub(super) fn request_slot_free(&self) -> bool {
        self.metrics
            .as_ref()
            .is_some_and(|metrics| metrics.open < MAX_HTTP_CONNECTIONS)
    }

    /// A metrics connection opened.
    pub(super) fn request_opened(&mut self) {
        if let Some(metrics) = &mut self.metrics {
            metrics.open += 1;
        }
    }

    /// A metrics connection closed.
    pub(super) fn request_closed(&mut self) {
        if let Some(metrics) = &mut self.metrics {
            metrics.open -= 1;
        }
    }
}
