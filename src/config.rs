//! Everything a user can tune, in one plain struct.
//!
//! The binary fills a [`Config`] from its flags; a library caller starts
//! from [`Config::default`] (or [`Config::listening_on`]) and sets the
//! fields it cares about:
//!
//! ```
//! let mut config = echo_reactor::Config::default();
//! config.max_pending = 1 << 20;
//! config.udp = true;
//! assert_eq!(config.validate(), Ok(()));
//! ```
//!
//! [`Config::default`] is what `cargo run --release` serves with, so the
//! defaults live here and nowhere else. `Config` is `#[non_exhaustive]`: a
//! new setting, with its default, is not a breaking change.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::access_log::AccessLog;
use crate::budget::{self, BudgetSource};
use crate::faults::FaultTable;
use crate::receipt::ConnectionIds;
use crate::tls::{is_alpn_name, ClientAuth, TlsIdentity, ALPN_NAME_LEN, DEFAULT_HANDSHAKE_TIMEOUT};

/// The address served when none is given: the port the classic Python socket
/// tutorial's echo client connects to, on loopback only.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 65432);

/// Default cap on one connection's unsent echo bytes (64 KiB).
pub const DEFAULT_MAX_PENDING: usize = 64 * 1024;

/// Default time that pending echoes get to flush after a shutdown request.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Default length of each listening socket's accept queue.
pub const DEFAULT_BACKLOG: u32 = 4096;

/// How the server listens, what it allows each connection and how it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Addresses to listen on (IPv4 or IPv6). Port 0 picks a free port;
    /// [`Server::local_addrs`](crate::Server::local_addrs) tells which.
    pub listen: Vec<SocketAddr>,
    /// Most connections open at once. At the limit the server stops accepting
    /// (clients wait in the kernel's accept queue) until one closes. `None`
    /// derives it from the open-files limit: that limit less 32 descriptors
    /// kept for the server's own use.
    pub max_connections: Option<usize>,
    /// Most unsent echo bytes one connection may hold. When a client does not
    /// read its echoes and this fills up, the server stops reading from that
    /// client until it catches up. Server memory is bounded by
    /// `connections x max_pending` plus one shared 64 KiB read buffer.
    pub max_pending: usize,
    /// Close connections that saw no readiness event for this long. `None`
    /// (the default) keeps them forever and costs nothing per connection.
    pub idle_timeout: Option<Duration>,
    /// After a shutdown request, how long pending echoes may take to flush
    /// before every connection is closed regardless.
    pub drain_timeout: Duration,
    /// Length of each listening socket's accept queue (`listen(2)` backlog;
    /// the kernel caps it at `net.core.somaxconn`).
    pub backlog: u32,
    /// Log the counters, with rates since the last line, at this interval.
    /// `None` (the default) logs them only on SIGUSR1 and at shutdown, and
    /// keeps an idle server free of timer wake-ups.
    pub stats_interval: Option<Duration>,
    /// Listen with `SO_REUSEPORT`, so that several servers (the reactors of
    /// a [`Cluster`](crate::Cluster)) can share each address and the kernel
    /// spreads new connections among them. Off by default: a second server
    /// on a taken address should fail, not silently share it.
    pub reuse_port: bool,
    /// Echo UDP datagrams too (RFC 862), on the same addresses and ports as
    /// TCP. Off by default: a UDP echo answers forged source addresses, so
    /// it is something to ask for (see the `udp` module for its guards).
    pub udp: bool,
    /// One budget, in bytes, for every buffer the server holds for its
    /// clients (pending echoes). When it is spent, connections that would
    /// need more stop reading until memory frees, and connections with
    /// nothing pending echo through the kernel: no byte is dropped and no
    /// client closed for it. `None` (the default) takes a quarter of the
    /// cgroup's memory limit, or 1 GiB without one
    /// ([`Config::memory_budget`] says which).
    /// With several reactors, each gets an equal share.
    pub max_memory: Option<usize>,
    /// Expect a PROXY protocol header (v1 or v2) before any payload on
    /// every TCP listener, as load balancers send it; its addresses are
    /// logged and the header is not echoed. Off by default.
    pub proxy_protocol: bool,
    /// How long a client has to send its whole PROXY protocol header.
    pub proxy_header_timeout: Duration,
    /// Serve `/metrics` (Prometheus) and `/healthz` over HTTP on this
    /// address. `None` (the default): no endpoint.
    pub metrics: Option<SocketAddr>,
    /// Serve toxiproxy's HTTP API on this address, to change the faults
    /// while the server runs (toxiproxy's routes: see the README); never the metrics
    /// address. `None` (the default): no API.
    pub admin: Option<SocketAddr>,
    /// Send this text to each new TCP client before any echo, at most
    /// [`MAX_BANNER`] bytes, with `{hostname}`, `{local_addr}`, `{peer}`,
    /// `{proxy_source}`, `{sni}`, `{alpn}`, `{reactor}`, `{connection_id}`
    /// and `{listener}` replaced (`-` for what a connection lacks). `None`
    /// (the default): no banner.
    pub banner: Option<String>,
    /// Addresses to serve TLS echo on (see [`tls`](crate::tls)); empty
    /// (the default): none. `--proxy-protocol` and `--banner` apply to
    /// them too.
    pub tls_listen: Vec<SocketAddr>,
    /// The TLS listeners' certificate and key; required with `tls_listen`.
    pub tls_identity: Option<TlsIdentity>,
    /// How long a TLS client has to complete its handshake.
    pub tls_handshake_timeout: Duration,
    /// Ask TLS clients for a certificate, verified against these CAs.
    /// `None` (the default): no client certificate is asked for.
    pub tls_client_auth: Option<ClientAuth>,
    /// ALPN protocols the TLS listeners offer, in order of preference,
    /// each 1 to 255 bytes ([`ALPN_NAME_LEN`]).
    /// Empty (the default): none, and a client's ALPN is ignored.
    pub tls_alpn: Vec<String>,
    /// Write each connection's receipt here, one JSON line as it closes
    /// (see [`AccessLog`]). `None` (the default): no receipts are kept.
    pub access_log: Option<AccessLog>,
    /// Addresses of whoami listeners: each connection is answered with its
    /// receipt as far as known (one JSON line) and closed. Empty (the
    /// default): none. `--proxy-protocol` applies to them too.
    pub whoami_listen: Vec<SocketAddr>,
    /// Addresses of whoami listeners over TLS: the answer, with what the
    /// handshake settled, comes after it. Empty (the default): none. They
    /// need `tls_identity`, and the TLS settings apply to them.
    pub whoami_tls_listen: Vec<SocketAddr>,
    /// Connection ids, shared by the servers this configuration is cloned
    /// into (the reactors of a [`Cluster`](crate::Cluster)).
    pub(crate) ids: ConnectionIds,
    /// Which reactor of a cluster the server is (0 alone).
    pub(crate) reactor: usize,
    /// Listeners that misbehave on purpose, with their toxics (see
    /// [`faults`](crate::faults)); empty (the default): none.
    pub faults: FaultTable,
    /// Seed of the per-connection draw of each toxic's toxicity, so a run
    /// can be repeated; `None` (the default) seeds from the clock.
    pub fault_seed: Option<u64>,
    /// Addresses to serve WebSocket echo on (see the `websocket` module);
    /// empty (the default): none. `--proxy-protocol` applies to them too.
    pub ws_listen: Vec<SocketAddr>,
    /// Addresses to serve WebSocket echo over TLS on, with the TLS
    /// listeners' identity and settings; empty (the default): none.
    pub wss_listen: Vec<SocketAddr>,
    /// The largest WebSocket message accepted, in bytes: a larger one is
    /// refused with close code 1009. The echo keeps no message whole, so
    /// this bounds what a client may stream back, not memory.
    pub ws_max_message: usize,
}

/// Default time a client has to send its PROXY protocol header.
pub const DEFAULT_PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest banner template accepted (it is sent through the shared
/// scratch buffer, with room to spare for its expansions).
pub const MAX_BANNER: usize = 2048;

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec![DEFAULT_LISTEN],
            max_connections: None,
            max_pending: DEFAULT_MAX_PENDING,
            idle_timeout: None,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            backlog: DEFAULT_BACKLOG,
            stats_interval: None,
            reuse_port: false,
            udp: false,
            max_memory: None,
            proxy_protocol: false,
            proxy_header_timeout: DEFAULT_PROXY_HEADER_TIMEOUT,
            metrics: None,
            admin: None,
            banner: None,
            tls_listen: Vec::new(),
            tls_identity: None,
            tls_handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            tls_client_auth: None,
            tls_alpn: Vec::new(),
            access_log: None,
            whoami_listen: Vec::new(),
            whoami_tls_listen: Vec::new(),
            ids: ConnectionIds::default(),
            reactor: 0,
            faults: FaultTable::default(),
            fault_seed: None,
            ws_listen: Vec::new(),
            wss_listen: Vec::new(),
            ws_max_message: crate::websocket::DEFAULT_MAX_MESSAGE,
        }
    }
}

impl Config {
    /// Whether any listener speaks TLS.
    pub(crate) fn serves_tls(&self) -> bool {
        !self.tls_listen.is_empty()
            || !self.whoami_tls_listen.is_empty()
            || !self.wss_listen.is_empty()
    }

    /// A default configuration that listens on `addr` instead.
    pub fn listening_on(addr: SocketAddr) -> Self {
        Config {
            listen: vec![addr],
            ..Config::default()
        }
    }

    /// The connection limit in force: `max_connections` if given, else what
    /// fits in the current open-files limit.
    pub fn connection_limit(&self) -> Result<usize, crate::Error> {
        match self.max_connections {
            Some(max) => Ok(max),
            None => {
                let (soft, _) = crate::fd_limit::nofile_limit()
                    .map_err(crate::Error::reactor("read the open-files limit"))?;
                Ok(crate::fd_limit::connections_for(soft))
            }
        }
    }

    /// The memory budget in force, and where it came from: `max_memory` if
    /// given, else the cgroup's or the stated default.
    pub fn memory_budget(&self) -> (usize, BudgetSource) {
        match self.max_memory {
            Some(limit) => (limit, BudgetSource::Given),
            None => {
                let (limit, source) = budget::default_limit();
                (usize::try_from(limit).unwrap_or(usize::MAX), source)
            }
        }
    }

    /// Checks the values that have no meaning, so a bad one is reported at
    /// start-up by name rather than misbehaving later.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.is_empty()
            && self.tls_listen.is_empty()
            && self.whoami_listen.is_empty()
            && self.whoami_tls_listen.is_empty()
            && self.ws_listen.is_empty()
            && self.wss_listen.is_empty()
        {
            return Err(ConfigError::NoAddress);
        }
        if self.serves_tls() && self.tls_identity.is_none() {
            return Err(ConfigError::TlsWithoutIdentity);
        }
        if self.tls_handshake_timeout == Duration::ZERO {
            return Err(ConfigError::ZeroTlsHandshakeTimeout);
        }
        if let Some(name) = self.tls_alpn.iter().find(|name| !is_alpn_name(name)) {
            return Err(ConfigError::BadTlsAlpnName { len: name.len() });
        }
        if self.max_pending == 0 {
            return Err(ConfigError::ZeroMaxPending);
        }
        if self.max_connections == Some(0) {
            return Err(ConfigError::ZeroMaxConnections);
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroIdleTimeout);
        }
        if self.proxy_header_timeout == Duration::ZERO {
            return Err(ConfigError::ZeroProxyHeaderTimeout);
        }
        if let Some(banner) = self.banner.as_ref().filter(|b| b.len() > MAX_BANNER) {
            return Err(ConfigError::BannerTooLong {
                len: banner.len(),
                max: MAX_BANNER,
            });
        }
        if self.max_memory == Some(0) {
            return Err(ConfigError::ZeroMaxMemory);
        }
        if self.stats_interval == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroStatsInterval);
        }
        if self.ws_max_message == 0 {
            return Err(ConfigError::ZeroWsMaxMessage);
        }
        if self.admin.is_some() && self.admin == self.metrics {
            return Err(ConfigError::AdminIsMetrics);
        }
        Ok(())
    }
}

/// A [`Config`] value with no meaning, found by [`Config::validate`]
/// before anything is bound. Its text names the [`Config`] field; the
/// binary words the same problems with its flags' names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `listen` and `tls_listen` are both empty.
    NoAddress,
    /// `tls_listen` or `whoami_tls_listen` has addresses but
    /// `tls_identity` is `None`.
    TlsWithoutIdentity,
    /// `tls_handshake_timeout` is zero.
    ZeroTlsHandshakeTimeout,
    /// A name in `tls_alpn` is empty or longer than 255 bytes.
    BadTlsAlpnName {
        /// The name's length in bytes.
        len: usize,
    },
    /// `max_pending` is zero.
    ZeroMaxPending,
    /// `max_connections` is `Some(0)`.
    ZeroMaxConnections,
    /// `idle_timeout` is `Some(Duration::ZERO)`.
    ZeroIdleTimeout,
    /// `proxy_header_timeout` is zero.
    ZeroProxyHeaderTimeout,
    /// `banner` is longer than [`MAX_BANNER`].
    BannerTooLong {
        /// The banner's length in bytes.
        len: usize,
        /// The most allowed, [`MAX_BANNER`].
        max: usize,
    },
    /// `max_memory` is `Some(0)`.
    ZeroMaxMemory,
    /// `stats_interval` is `Some(Duration::ZERO)`.
    ZeroStatsInterval,
    /// A [`Cluster`](crate::Cluster) was asked for no reactors.
    NoReactors,
    /// `ws_max_message` is zero.
    ZeroWsMaxMessage,
    /// `admin` is the `metrics` address: the fault API needs its own.
    AdminIsMetrics,
    /// `admin` with several reactors, each with its own fault table.
    AdminNeedsOneReactor,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoAddress => f.write_str(
                "no address to listen on: listen, tls_listen and whoami_listen are empty",
            ),
            ConfigError::TlsWithoutIdentity => {
                f.write_str("tls_listen and whoami_tls_listen need a tls_identity")
            }
            ConfigError::ZeroTlsHandshakeTimeout => {
                f.write_str("tls_handshake_timeout must be longer than zero")
            }
            ConfigError::BadTlsAlpnName { len } => write!(
                f,
                "tls_alpn names must be {} to {} bytes long, not {len}",
                ALPN_NAME_LEN.start(),
                ALPN_NAME_LEN.end()
            ),
            ConfigError::ZeroMaxPending => f.write_str("max_pending must be at least 1 byte"),
            ConfigError::ZeroMaxConnections => f.write_str("max_connections must be at least 1"),
            ConfigError::ZeroIdleTimeout => f.write_str("idle_timeout must be longer than zero"),
            ConfigError::ZeroProxyHeaderTimeout => {
                f.write_str("proxy_header_timeout must be longer than zero")
            }
            ConfigError::BannerTooLong { len, max } => {
                write!(f, "banner is {len} bytes, more than the {max} allowed")
            }
            ConfigError::ZeroMaxMemory => f.write_str("max_memory must be at least 1 byte"),
            ConfigError::ZeroStatsInterval => {
                f.write_str("stats_interval must be longer than zero")
            }
            ConfigError::NoReactors => f.write_str("at least one reactor is needed"),
            ConfigError::ZeroWsMaxMessage => f.write_str("ws_max_message must be at least 1 byte"),
            ConfigError::AdminIsMetrics => {
                f.write_str("admin and metrics must be different addresses")
            }
            ConfigError::AdminNeedsOneReactor => {
                f.write_str("admin serves the faults of one reactor: run one")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_overlong_alpn_name_is_refused_by_its_length() {
        let mut config = Config {
            tls_alpn: vec!["h2".into(), "http/1.1".into()],
            ..Config::default()
        };
        assert_eq!(config.validate(), Ok(()));
        for (name, len) in [(String::new(), 0), ("x".repeat(256), 256)] {
            config.tls_alpn = vec!["h2".into(), name];
            assert_eq!(config.validate(), Err(ConfigError::BadTlsAlpnName { len }));
        }
        assert_eq!(
            ConfigError::BadTlsAlpnName { len: 0 }.to_string(),
            "tls_alpn names must be 1 to 255 bytes long, not 0"
        );
    }
}
