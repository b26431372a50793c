//! The run's model: what the load generator is asked to do, checked and
//! with every default filled in. A [`Command`] is a run or a merge; a run's
//! [`Plan`] holds the [`Load`], whose shape carries exactly the settings
//! that shape has (bulk has no message size, pingpong no depth), so no
//! field means "not in this mode".
//!
//! Plain data with no dependency on the rest of the program: the command
//! line (`cli`) builds it, and the runners and the report read it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What the command line asks for, checked.
#[derive(Debug)]
pub enum Command {
    /// A load run, where to write its histogram log, if anywhere, and
    /// its TLS settings with `--tls`.
    Run {
        plan: Plan,
        histogram_log: Option<PathBuf>,
        tls: Option<TlsSettings>,
    },
    /// Merging the logs of runs into one report, printed as JSON with
    /// `json`.
    Merge { logs: Vec<PathBuf>, json: bool },
}

/// `--tls`: whom to trust, and the name the server must prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The PEM certificate(s) to trust, and nothing else.
    pub ca: PathBuf,
    pub server_name: String,
}

/// What the command line asks for, checked and with the defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub target: SocketAddr,
    /// Connections, or UDP sockets (bulk: 1).
    pub connections: usize,
    /// Threads, at most one per connection.
    pub threads: usize,
    pub load: Load,
    /// Print the report as JSON instead of the table.
    pub json: bool,
}

/// The shape of the load, each with the settings it has and no others.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// TCP messages, one in flight per connection (or `--rate`).
    PingPong(Messages),
    /// TCP messages, up to a depth in flight per connection (or `--rate`).
    Pipeline(Messages),
    /// One TCP connection streams `bytes` and reads them back; no messages,
    /// no warm-up. Gives up waiting for the echo after `timeout`.
    Bulk { bytes: u64, timeout: Duration },
    /// Datagrams over UDP sockets; one with no echo `timeout` after it was
    /// sent is lost.
    Udp {
        messages: Messages,
        timeout: Duration,
    },
    /// Short-lived TCP connections, one lifecycle after another on each of
    /// the connections' threads.
    Churn(Lifecycles),
    /// TCP messages, one in flight per connection, each connection a
    /// blocking thread of its own (closed loop only).
    Threads(Messages),
}

/// Churn: connect, one message echoed, half-close, end of stream, close. A
/// lifecycle is a message here: `--rate` paces lifecycles, and the latency
/// is the whole lifecycle's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lifecycles {
    pub messages: Messages,
    /// Loopback source addresses to connect from, 127.0.0.1 to 127.0.0.K
    /// (`None`: the kernel picks, for a target that is not IPv4 loopback).
    pub sources: Option<u8>,
    /// How long each wait of a lifecycle may take.
    pub timeout: Duration,
}

/// A load of messages: how big, how paced, for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Messages {
    /// Bytes per message (udp: per datagram, 1 to 65507).
    pub size: u64,
    pub pace: Pace,
    /// Messages sent before this much time has passed are not measured.
    pub warmup: Duration,
    /// How long messages are sent and measured after the warm-up.
    pub duration: Duration,
}

/// When a connection sends its next message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Closed loop: whenever an echo completes, keeping `depth` in flight.
    ClosedLoop { depth: usize },
    /// Open loop: on a fixed schedule of this many messages per second over
    /// all connections, whatever is in flight.
    Rate(f64),
}

impl Load {
    /// The mode's name, as `--mode` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Load::PingPong(_) => "pingpong",
            Load::Pipeline(_) => "pipeline",
            Load::Bulk { .. } => "bulk",
            Load::Udp { .. } => "udp",
            Load::Churn(_) => "churn",
            Load::Threads(_) => "threads",
        }
    }

    /// The messages of every mode but bulk.
    pub fn messages(&self) -> Option<&Messages> {
        match self {
            Load::PingPong(messages) | Load::Pipeline(messages) | Load::Threads(messages) => {
                Some(messages)
            }
            Load::Udp { messages, .. } | Load::Churn(Lifecycles { messages, .. }) => Some(messages),
            Load::Bulk { .. } => None,
        }
    }

    /// udp: when a datagram with no echo counts as lost.
    pub fn udp_timeout(&self) -> Option<Duration> {
        match self {
            Load::Udp { timeout, .. } => Some(*timeout),
            _ => None,
        }
    }

    /// Whether each connection has a thread of its own, blocking on it
    /// (rather than threads each polling many connections).
    pub fn thread_per_connection(&self) -> bool {
        matches!(self, Load::Churn(_) | Load::Threads(_))
    }
}
