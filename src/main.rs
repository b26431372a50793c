//! The `echo-reactor` binary: flags in, logging on, server run.
//!
//! Everything else lives in the library, so it can be tested without a
//! process. Exit codes: 0 after a clean shutdown, 1 when the server cannot
//! start or fails, 2 for a bad command line.

// Shared with the package's other binaries, compiled into each: the
// library's API is the server's, not its command lines'.
mod cli_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use log::{info, warn};

use echo_reactor::tls::{
    is_alpn_name, ClientAuth, ClientAuthMode, ClientCa, TlsIdentity, ALPN_NAME_LEN,
};
use echo_reactor::{
    faults, units, AccessLog, AccessLogTarget, Cluster, Config, ConfigError, Error, Server,
    DEFAULT_BACKLOG,
};

/// The `--help` headings, in the order a newcomer reads them: where the
/// server listens, what it allows each client, when it gives up on one,
/// then the optional layers (TLS, load balancers) and how to watch it. A
/// new flag joins the heading it belongs to, so the list stays readable
/// as it grows.
mod heading {
    pub const LISTENING: &str = "Listening";
    pub const LIMITS: &str = "Limits";
    pub const TIMEOUTS: &str = "Timeouts";
    pub const TLS: &str = "TLS";
    pub const LOAD_BALANCERS: &str = "Load balancers";
    pub const OBSERVABILITY: &str = "Observability";
    pub const FAULTS: &str = "Faults";
    pub const WEBSOCKET: &str = "WebSocket";
}

/// A TCP echo server: every byte a client sends comes back to it, in order,
/// until the client closes. One thread, one mio poll loop.
#[derive(Parser, Debug)]
#[command(
    version,
    about,
    after_help = "Logging: RUST_LOG=info (default), debug (each connection), trace (every event, \
                  read and write).\nSignals: SIGINT/SIGTERM shut down gracefully (a second one \
                  closes at once); SIGUSR1 logs the counters."
)]
struct Cli {
    /// Address to listen on, IPv4 or IPv6 (port 0 picks a free port).
    /// Repeat the flag to listen on several.
    #[arg(
        short,
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:65432",
        help_heading = heading::LISTENING
    )]
    listen: Vec<SocketAddr>,

    /// Echo UDP datagrams too (RFC 862), on every --listen address and port.
    /// Datagrams from service ports (below 1024, a few known reflectors, our
    /// own ports) get no answer, so two echo services cannot loop
    #[arg(long, help_heading = heading::LISTENING)]
    udp: bool,

    /// Reactors (threads) sharing the listening addresses with SO_REUSEPORT:
    /// a number, or `auto` for one per available core
    #[arg(
        long,
        value_name = "N|auto",
        default_value = "1",
        value_parser = parse_reactors,
        help_heading = heading::LISTENING
    )]
    reactors: usize,

    /// Length of each listening socket's accept queue
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_BACKLOG,
        help_heading = heading::LISTENING
    )]
    backlog: u32,

    /// Most connections open at once [default: open-files limit minus 32]
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..),
        help_heading = heading::LIMITS
    )]
    max_connections: Option<u64>,

    /// Most unsent echo bytes per connection before the server stops reading
    /// from it (backpressure). Accepts K/KiB/M/MiB suffixes.
    #[arg(
        long,
        value_name = "BYTES",
        default_value = "64KiB",
        value_parser = parse_byte_count,
        help_heading = heading::LIMITS
    )]
    max_pending: usize,

    /// One budget for every byte held for clients (pending echoes), K/M/G
    /// suffixes. When spent, connections that would need more stop reading
    /// until memory frees; none is closed and no byte dropped [default: a
    /// quarter of the cgroup's memory.max, or 1GiB outside a cgroup]
    #[arg(
        long,
        value_name = "BYTES",
        value_parser = parse_byte_count,
        help_heading = heading::LIMITS
    )]
    max_memory: Option<usize>,

    /// Close connections idle this many seconds (fractions allowed) [default: off]
    #[arg(
        long,
        value_name = "SECS",
        value_parser = parse_positive_seconds,
        help_heading = heading::TIMEOUTS
    )]
    idle_timeout: Option<Duration>,

    /// On shutdown, seconds to let pending echoes flush before closing everything
    #[arg(
        long,
        value_name = "SECS",
        default_value = "5",
        value_parser = units::parse_seconds,
        help_heading = heading::TIMEOUTS
    )]
    drain_timeout: Duration,

    /// Address to serve TLS echo on, IPv4 or IPv6 (port 0 picks a free
    /// port); repeat for several. Needs --tls-cert and --tls-key, or
    /// --tls-self-signed [default: none]
    #[arg(long, value_name = "ADDR", help_heading = heading::TLS)]
    tls_listen: Vec<SocketAddr>,

    /// PEM file with the TLS certificate chain, leaf first
    #[arg(
        long,
        value_name = "PATH",
        requires = "tls_key",
        conflicts_with = "tls_self_signed",
        help_heading = heading::TLS
    )]
    tls_cert: Option<PathBuf>,

    /// PEM file with the TLS private key (PKCS#8, PKCS#1 or SEC1)
    #[arg(
        long,
        value_name = "PATH",
        requires = "tls_cert",
        help_heading = heading::TLS
    )]
    tls_key: Option<PathBuf>,

    /// Make a certificate for localhost, 127.0.0.1 and ::1 at start-up
    /// (its SHA-256 fingerprint is logged), for trying TLS out
    #[arg(long, help_heading = heading::TLS)]
    tls_self_signed: bool,

    /// Write the self-signed certificate (not its key) to PATH as PEM, for
    /// clients to trust
    #[arg(
        long,
        value_name = "PATH",
        requires = "tls_self_signed",
        help_heading = heading::TLS
    )]
    tls_self_signed_out: Option<PathBuf>,

    /// Seconds a TLS client has to complete its handshake
    #[arg(
        long,
        value_name = "SECS",
        default_value = "10",
        value_parser = parse_positive_seconds,
        help_heading = heading::TLS
    )]
    tls_handshake_timeout: Duration,

    /// PEM file of one or more CA certificates: TLS clients must then
    /// present a certificate issued by one of them
    #[arg(long, value_name = "PATH", help_heading = heading::TLS)]
    tls_client_ca: Option<PathBuf>,

    /// Whether a TLS client must present a certificate; with `optional` a
    /// client without one is served, one with a certificate that does not
    /// verify is still refused [default: required]
    #[arg(
        long,
        value_name = "required|optional",
        value_parser = parse_client_auth,
        requires = "tls_client_ca",
        help_heading = heading::TLS
    )]
    tls_client_auth: Option<ClientAuthMode>,

    /// ALPN protocols to offer, comma-separated, in order of preference
    /// (e.g. `h2,http/1.1`); a client offering ALPN with none of them in
    /// common is refused, one offering none is served [default: none]
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        value_parser = parse_alpn_name,
        help_heading = heading::TLS
    )]
    tls_alpn: Vec<String>,

    /// Address to serve WebSocket echo on (ws://ADDR/; a plain GET / there
    /// serves a page to try it in a browser); repeat for several
    /// [default: none]
    #[arg(long, value_name = "ADDR", help_heading = heading::WEBSOCKET)]
    ws_listen: Vec<SocketAddr>,

    /// Address to serve WebSocket echo over TLS on (wss://ADDR/), with the
    /// TLS flags' certificate; repeat for several [default: none]
    #[arg(long, value_name = "ADDR", help_heading = heading::WEBSOCKET)]
    wss_listen: Vec<SocketAddr>,

    /// Largest WebSocket message accepted; a larger one is refused with
    /// close code 1009. Accepts K/KiB/M/MiB suffixes
    #[arg(
        long,
        value_name = "BYTES",
        default_value = "16MiB",
        value_parser = parse_byte_count,
        help_heading = heading::WEBSOCKET
    )]
    ws_max_message: usize,

    /// Expect a PROXY protocol header (v1 or v2) before any payload on every
    /// TCP listener, as load balancers send it; its addresses are logged at
    /// debug, and it is never echoed
    #[arg(long, help_heading = heading::LOAD_BALANCERS)]
    proxy_protocol: bool,

    /// Seconds a client has to send its whole PROXY protocol header
    #[arg(
        long,
        value_name = "SECS",
        default_value = "5",
        value_parser = parse_positive_seconds,
        help_heading = heading::LOAD_BALANCERS
    )]
    proxy_header_timeout: Duration,

    /// Send TEXT to each new TCP client before any echo; {hostname},
    /// {local_addr}, {peer}, {proxy_source}, {sni}, {alpn}, {reactor},
    /// {connection_id} and {listener} are replaced [default: off]
    #[arg(long, value_name = "TEXT", help_heading = heading::LOAD_BALANCERS)]
    banner: Option<String>,

    /// Serve Prometheus metrics on http://ADDR/metrics and a health check on
    /// http://ADDR/healthz (503 once a shutdown begins) [default: off]
    #[arg(long, value_name = "ADDR", help_heading = heading::OBSERVABILITY)]
    metrics: Option<SocketAddr>,

    /// Write one JSON line per connection as it closes (its receipt: who,
    /// from where, through what, how many bytes, how it ended) to PATH, or
    /// `-` for standard output [default: off]
    #[arg(long, value_name = "PATH", help_heading = heading::OBSERVABILITY)]
    access_log: Option<String>,

    /// Answer each connection on ADDR with what the server saw of it (one
    /// JSON line, as the access log writes it), then close; repeat the flag
    /// to listen on several [default: none]
    #[arg(long, value_name = "ADDR", help_heading = heading::OBSERVABILITY)]
    whoami_listen: Vec<SocketAddr>,

    /// The same over TLS: the answer, with what the handshake settled
    /// (version, cipher, SNI, ALPN, client certificate), follows it; the
    /// TLS flags apply; repeatable [default: none]
    #[arg(long, value_name = "ADDR", help_heading = heading::OBSERVABILITY)]
    whoami_tls_listen: Vec<SocketAddr>,
    /// Serve toxiproxy's HTTP API on ADDR (its clients work unchanged) to
    /// list, add, change and remove faults while the server runs; never the
    /// --metrics address, and best on loopback [default: off]
    #[arg(long, value_name = "ADDR", help_heading = heading::FAULTS)]
    admin: Option<SocketAddr>,

    /// Log the counters and rates every SECS seconds [default: off]
    #[arg(
        long,
        value_name = "SECS",
        value_parser = parse_positive_seconds,
        help_heading = heading::OBSERVABILITY
    )]
    stats_interval: Option<Duration>,

    /// A listener that misbehaves on purpose, NAME=ADDR (port 0 picks a
    /// free port); repeat for several. With no --toxic it echoes as the
    /// plain listener does
    #[arg(
        long,
        value_name = "NAME=ADDR",
        value_parser = parse_fault_listener,
        help_heading = heading::FAULTS
    )]
    fault_listen: Vec<faults::spec::ListenerSpec>,

    /// A toxic on a --fault-listen listener, in toxiproxy's words:
    /// LISTENER:TYPE[:STREAM][,KEY=VALUE...], e.g.
    /// `slow:latency,latency=100ms,jitter=10ms`. TYPE: latency, bandwidth,
    /// slicer, limit_data, timeout, reset_peer, slow_close, stop_accepting,
    /// accept_close, accept_reset, and with --udp udp_loss, udp_duplicate,
    /// udp_delay, udp_reorder (drawn per datagram); STREAM: upstream or
    /// downstream (default); keys: the type's attributes (durations with us, ms or s),
    /// name, toxicity (0 to 1, the share of connections it applies to)
    #[arg(
        long,
        value_name = "SPEC",
        value_parser = parse_toxic,
        help_heading = heading::FAULTS
    )]
    toxic: Vec<faults::spec::ToxicSpec>,

    /// Seed of the per-connection draw of each toxic's toxicity, so a run
    /// can be repeated [default: from the clock]
    #[arg(long, value_name = "N", help_heading = heading::FAULTS)]
    fault_seed: Option<u64>,
}

/// The TLS identity the flags name, if any.
fn tls_identity(cli: &Cli) -> Option<TlsIdentity> {
    match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => Some(TlsIdentity::Files {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ if cli.tls_self_signed => Some(TlsIdentity::SelfSigned {
            write_cert_to: cli.tls_self_signed_out.clone(),
        }),
        _ => None,
    }
}

/// The client certificates the flags ask for, if any.
fn tls_client_auth(cli: &Cli) -> Option<ClientAuth> {
    let ca = cli.tls_client_ca.clone()?;
    Some(ClientAuth {
        ca: ClientCa::File(ca),
        mode: cli.tls_client_auth.unwrap_or_default(),
    })
}

/// The server's configuration from the flags, or the one line that says
/// which fault spec is wrong (a toxic on a listener that does not exist).
fn config(cli: Cli) -> Result<Config, String> {
    let mut config = Config::default();
    config.faults = faults::spec::table(&cli.fault_listen, &cli.toxic)
        .map_err(|e| format!("invalid fault: {e}"))?;
    config.fault_seed = cli.fault_seed;
    config.tls_identity = tls_identity(&cli);
    config.tls_client_auth = tls_client_auth(&cli);
    config.listen = cli.listen;
    config.max_connections = cli
        .max_connections
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    config.max_pending = cli.max_pending;
    config.idle_timeout = cli.idle_timeout;
    config.drain_timeout = cli.drain_timeout;
    config.backlog = cli.backlog;
    config.stats_interval = cli.stats_interval;
    config.udp = cli.udp;
    config.max_memory = cli.max_memory;
    config.proxy_protocol = cli.proxy_protocol;
    config.proxy_header_timeout = cli.proxy_header_timeout;
    config.metrics = cli.metrics;
    config.admin = cli.admin;
    config.banner = cli.banner;
    config.tls_listen = cli.tls_listen;
    config.tls_handshake_timeout = cli.tls_handshake_timeout;
    config.tls_alpn = cli.tls_alpn;
    config.whoami_listen = cli.whoami_listen;
    config.whoami_tls_listen = cli.whoami_tls_listen;
    config.ws_listen = cli.ws_listen;
    config.wss_listen = cli.wss_listen;
    config.ws_max_message = cli.ws_max_message;
    Ok(config)
}

/// The line printed after `echo-reactor: ` when the server cannot start
/// or fails: a configuration problem in the words of the flags that set
/// it, anything else as the library words it.
fn message(error: &Error) -> String {
    match error {
        Error::Config(problem) => format!("invalid configuration: {}", in_flags(problem)),
        other => other.to_string(),
    }
}

/// A configuration problem, naming the flags rather than `Config`'s fields.
fn in_flags(problem: &ConfigError) -> String {
    match problem {
        ConfigError::NoAddress => "no address to listen on".into(),
        ConfigError::TlsWithoutIdentity => {
            "tls-listen and whoami-tls-listen need a certificate: tls-cert and tls-key, or tls-self-signed".into()
        }
        ConfigError::ZeroWsMaxMessage => "ws-max-message must be at least 1 byte".into(),
        ConfigError::ZeroTlsHandshakeTimeout => {
            "tls-handshake-timeout must be longer than zero".into()
        }
        ConfigError::BadTlsAlpnName { len } => format!(
            "tls-alpn names must be {} to {} bytes long, not {len}",
            ALPN_NAME_LEN.start(),
            ALPN_NAME_LEN.end()
        ),
        ConfigError::ZeroMaxPending => "max-pending must be at least 1 byte".into(),
        ConfigError::ZeroMaxConnections => "max-connections must be at least 1".into(),
        ConfigError::ZeroIdleTimeout => "idle-timeout must be longer than zero".into(),
        ConfigError::ZeroProxyHeaderTimeout => {
            "proxy-header-timeout must be longer than zero".into()
        }
        ConfigError::BannerTooLong { max, .. } => format!("banner must be at most {max} bytes"),
        ConfigError::ZeroMaxMemory => "max-memory must be at least 1 byte".into(),
        ConfigError::ZeroStatsInterval => "stats-interval must be longer than zero".into(),
        ConfigError::AdminIsMetrics => "admin and metrics must be different addresses".into(),
        ConfigError::AdminNeedsOneReactor => "admin needs --reactors 1".into(),
        // The rest name no field a flag sets (a cluster of no reactors).
        other => other.to_string(),
    }
}

/// `--max-pending`, `--max-memory`: a size, as a `usize`.
fn parse_byte_count(text: &str) -> Result<usize, String> {
    let bytes = units::parse_size(text).map_err(|e| e.to_string())?;
    usize::try_from(bytes).map_err(|_| format!("'{text}' is too large"))
}

/// `--tls-client-auth`: `required` or `optional`.
fn parse_client_auth(text: &str) -> Result<ClientAuthMode, String> {
    match text.trim() {
        "required" => Ok(ClientAuthMode::Required),
        "optional" => Ok(ClientAuthMode::Optional),
        _ => Err(format!("'{text}' is neither 'required' nor 'optional'")),
    }
}

/// One name of `--tls-alpn`'s list: 1 to 255 bytes, so an empty list, or
/// an empty name between commas, is refused.
fn parse_alpn_name(text: &str) -> Result<String, String> {
    if is_alpn_name(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "an ALPN protocol name is {} to {} bytes, not {}",
            ALPN_NAME_LEN.start(),
            ALPN_NAME_LEN.end(),
            text.len()
        ))
    }
}

/// `--reactors`: a positive number, or `auto` for one per available core.
fn parse_reactors(text: &str) -> Result<usize, String> {
    if text.trim() == "auto" {
        return Ok(std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    match text.trim().parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("'{text}' is not a positive number or 'auto'")),
        Ok(n) => Ok(n),
    }
}

/// `--fault-listen`: `NAME=ADDR`.
fn parse_fault_listener(text: &str) -> Result<faults::spec::ListenerSpec, String> {
    faults::spec::parse_listener(text).map_err(|e| e.to_string())
}

/// `--toxic`: `LISTENER:TYPE[:STREAM][,KEY=VALUE...]`.
fn parse_toxic(text: &str) -> Result<faults::spec::ToxicSpec, String> {
    faults::spec::parse_toxic(text).map_err(|e| e.to_string())
}

fn parse_positive_seconds(text: &str) -> Result<Duration, String> {
    match units::parse_seconds(text).map_err(|e| e.to_string())? {
        Duration::ZERO => Err("must be longer than zero".into()),
        duration => Ok(duration),
    }
}

fn main() -> ExitCode {
    let cli: Cli = cli_support::parse_or_exit("echo-reactor");
    let reactors = cli.reactors;
    let access_log_target = cli.access_log.as_deref().map(AccessLogTarget::parse);
    let mut config = match config(cli) {
        Ok(config) => config,
        Err(line) => {
            eprintln!("echo-reactor: {line} (see --help)");
            return ExitCode::from(2);
        }
    };

    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    match echo_reactor::raise_nofile_limit() {
        Ok((old, new)) if new > old => info!("open-files limit raised from {old} to {new}"),
        Ok((_, limit)) => info!("open-files limit is {limit}"),
        Err(e) => warn!("cannot raise the open-files limit: {e}"),
    }

    let access_log = match access_log_target {
        None => None,
        Some(target) => match AccessLog::open(&target) {
            Ok(log) => Some(log),
            Err(e) => {
                eprintln!("echo-reactor: cannot open the access log {target}: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    config.access_log = access_log.clone();
    let drain_timeout = config.drain_timeout;
    // One reactor is the plain, single-threaded server; more are the same
    // server N times over, with a coordinator for signals.
    let result = if reactors == 1 {
        Server::bind(config).and_then(|mut server| {
            server.handle_signals()?;
            server.run()
        })
    } else {
        Cluster::bind(config, reactors).and_then(|mut cluster| {
            cluster.handle_signals();
            cluster.run()
        })
    };
    // Every server has ended, and with them their ends of the log's queue:
    // what is queued is written now.
    if let Some(log) = access_log {
        log.finish(drain_timeout);
    }
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-reactor: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_timeout_must_be_positive() {
        assert_eq!(
            parse_positive_seconds("0.5"),
            Ok(Duration::from_millis(500))
        );
        assert!(parse_positive_seconds("0").is_err());
    }

    #[test]
    fn configuration_problems_are_worded_with_the_flags_names() {
        let cases = [
            (ConfigError::NoAddress, "no address to listen on"),
            (
                ConfigError::TlsWithoutIdentity,
                "tls-listen and whoami-tls-listen need a certificate: tls-cert and tls-key, or tls-self-signed",
            ),
            (
                ConfigError::ZeroTlsHandshakeTimeout,
                "tls-handshake-timeout must be longer than zero",
            ),
            (
                ConfigError::BadTlsAlpnName { len: 0 },
                "tls-alpn names must be 1 to 255 bytes long, not 0",
            ),
            (
                ConfigError::ZeroMaxPending,
                "max-pending must be at least 1 byte",
            ),
            (
                ConfigError::ZeroMaxConnections,
                "max-connections must be at least 1",
            ),
            (
                ConfigError::ZeroIdleTimeout,
                "idle-timeout must be longer than zero",
            ),
            (
                ConfigError::ZeroProxyHeaderTimeout,
                "proxy-header-timeout must be longer than zero",
            ),
            (
                ConfigError::BannerTooLong {
                    len: 3000,
                    max: 2048,
                },
                "banner must be at most 2048 bytes",
            ),
            (
                ConfigError::ZeroMaxMemory,
                "max-memory must be at least 1 byte",
            ),
            (
                ConfigError::ZeroStatsInterval,
                "stats-interval must be longer than zero",
            ),
            (ConfigError::NoReactors, "at least one reactor is needed"),
        ];
        for (problem, words) in cases {
            assert_eq!(
                message(&Error::Config(problem)),
                format!("invalid configuration: {words}")
            );
        }
    }

    #[test]
    fn reactors_are_a_positive_number_or_auto() {
        assert_eq!(parse_reactors("2"), Ok(2));
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(parse_reactors("auto"), Ok(cores));
        assert!(parse_reactors("0").is_err());
        assert!(parse_reactors("many").is_err());
    }
}
