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
    /// A load run (or a rate search: many), boxed: it is large beside a
    /// merge.
    Run(Box<Run>),
    /// Merging the logs of runs into one report, printed as JSON with
    /// `json`.
    Merge { logs: Vec<PathBuf>, json: bool },
}

/// A load run, where to write its histogram log, if anywhere, its TLS
/// settings with `--tls`, and what else the command line asks of it.
#[derive(Debug)]
pub struct Run {
    pub plan: Plan,
    pub histogram_log: Option<PathBuf>,
    pub tls: Option<TlsSettings>,
    /// `--objective`: search for the highest rate that meets it, rather
    /// than one run.
    pub search: Option<Search>,
    /// `--progress-json`: where the per-second JSON lines go.
    pub progress: Option<ProgressSink>,
}

/// `--progress-json PATH`: a file, or stdout (`-`), which then carries
/// only JSON lines (the table goes to stderr, and `--json` is refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressSink {
    Stdout,
    File(PathBuf),
}

/// `--objective`: a search for the highest `--rate` that meets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Search {
    pub objective: Objective,
    /// Bisecting stops when the first failed rate is within this share
    /// of the last good one (0.05: 5%).
    pub precision: f64,
    /// No step starts that would end after this much time.
    pub max_duration: Duration,
    /// `--step-repeats`: how many runs of a rate may judge it, by majority.
    pub step_repeats: StepRepeats,
}

/// `--step-repeats N`: each rate of a search is judged by the majority of
/// up to `N` runs of its step. Odd, so a majority always exists: built
/// only through [`StepRepeats::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepRepeats(u32);

impl StepRepeats {
    /// One run per rate: a step's verdict is its rate's.
    pub const ONE: StepRepeats = StepRepeats(1);

    /// `runs` if it is odd (1, 3, 5...); `None` otherwise.
    pub fn new(runs: u32) -> Option<StepRepeats> {
        (runs % 2 == 1).then_some(StepRepeats(runs))
    }

    /// The most runs a rate may take.
    pub fn runs(self) -> u32 {
        self.0
    }

    /// The runs that decide a rate, one way or the other: `N / 2 + 1`.
    pub fn majority(self) -> u32 {
        self.0 / 2 + 1
    }
}

/// What a step must meet: its `percentile` latency at most `bound`, and
/// no error (always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Objective {
    pub percentile: Percentile,
    pub bound: Duration,
}

/// The latency percentiles an objective can judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Percentile {
    P50,
    P90,
    P99,
    P999,
}

impl Percentile {
    /// Every percentile, as `--objective` spells it.
    pub const ALL: [(Percentile, &'static str); 4] = [
        (Percentile::P50, "p50"),
        (Percentile::P90, "p90"),
        (Percentile::P99, "p99"),
        (Percentile::P999, "p99.9"),
    ];

    /// The quantile, between 0 and 1.
    pub fn quantile(self) -> f64 {
        match self {
            Percentile::P50 => 0.50,
            Percentile::P90 => 0.90,
            Percentile::P99 => 0.99,
            Percentile::P999 => 0.999,
        }
    }

    pub fn name(self) -> &'static str {
        Percentile::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("p?", |(_, name)| name)
    }

    /// The fewest samples a step needs for this percentile to rest on
    /// about a hundred of them above it: 100 / (1 - q), so 10,000 for p99.
    pub fn samples_needed(self) -> u64 {
        (100.0 / (1.0 - self.quantile())).round() as u64
    }
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = self.bound.as_micros();
        let name = self.percentile.name();
        if us.is_multiple_of(1_000_000) {
            write!(f, "{name}<={}s", us / 1_000_000)
        } else if us.is_multiple_of(1_000) {
            write!(f, "{name}<={}ms", us / 1_000)
        } else {
            write!(f, "{name}<={us}us")
        }
    }
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
    /// pingpong and pipeline (`--response-timeout-ms`): how long a
    /// connection's oldest message may wait for its whole echo before the
    /// connection is given up, as a timeout; `None` (and in the other
    /// modes, which refuse it): it waits to the end of the run.
    pub response_timeout: Option<Duration>,
    /// Print the report as JSON instead of the table.
    pub json: bool,
    /// `--websocket`: each message a WebSocket message, after an upgrade.
    pub websocket: bool,
}

/// The shape of the load, each with the settings it has and no others.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// TCP messages, one on the wire per connection (with `--rate`, those
    /// due meanwhile wait in the client).
    PingPong(Messages),
    /// TCP messages, up to a depth in flight per connection (or, with
    /// `--rate`, all that are due).
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

impl Plan {
    /// The same plan at `rate` messages (churn: lifecycles) per second
    /// for `duration` after the warm-up; bulk, which has no messages, is
    /// left as it is.
    pub fn at_rate(&self, rate: f64, duration: Duration) -> Plan {
        let mut plan = *self;
        let paced = |messages: &mut Messages| {
            messages.pace = Pace::Rate(rate);
            messages.duration = duration;
        };
        match &mut plan.load {
            Load::PingPong(messages)
            | Load::Pipeline(messages)
            | Load::Threads(messages)
            | Load::Udp { messages, .. }
            | Load::Churn(Lifecycles { messages, .. }) => paced(messages),
            Load::Bulk { .. } => {}
        }
        plan
    }
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

    /// TCP: most messages a connection has written whose echo is not back,
    /// `None` for no bound but what is queued. Ping-pong means one: with
    /// `--rate`, a message that comes due while the one before it is still
    /// out waits in the client, its latency counted from its schedule all
    /// the same (wrk2's model: a client of a request-response protocol
    /// that does not pipeline). Pipeline sends whatever is due at once, so
    /// a server that falls behind sees them batched; bulk has no messages.
    pub fn wire_window(&self) -> Option<u64> {
        match self {
            Load::PingPong(_) => Some(1),
            _ => None,
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
