//! The command line, and the [`Plan`] it becomes once checked: the load
//! shape with exactly the settings that shape has, defaults filled in.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use echo_reactor::units;

use crate::tls::TlsClient;

/// The largest UDP payload over IPv4 (65,535 bytes less the IP and UDP
/// headers): the largest `--size` in udp mode, over IPv6 too.
const MAX_DATAGRAM: u64 = 65_507;

/// The default of `--udp-timeout-ms`.
const DEFAULT_UDP_TIMEOUT_MS: u64 = 200;

/// The default of `--sources`.
const DEFAULT_SOURCES: u8 = 16;

/// The default of `--lifecycle-timeout-ms`: long enough for a connect
/// whose SYN the kernel dropped once (a full accept queue) and resent a
/// second later, short enough that a hung server ends the run soon.
const DEFAULT_LIFECYCLE_TIMEOUT_MS: u64 = 5_000;

/// Most connections in the modes that give each its own thread.
const MAX_THREADED_CONNECTIONS: u32 = 10_000;

/// A load generator for echo servers: closed-loop pingpong or pipeline over
/// TCP, fixed-rate open loop (--rate), one bulk stream, ping-pong over UDP
/// datagrams, short-lived connections (churn), or ping-pong from a blocking
/// thread per connection (threads). Checks every echoed byte. `echo-loadgen
/// merge` adds up the runs of several (see --histogram-log).
#[derive(Parser, Debug)]
#[command(
    name = "echo-loadgen",
    args_conflicts_with_subcommands = true,
    after_help = "Progress goes to stderr once a second; the report to stdout.\n\
                  Exit status: 0 if no error was counted, 1 if any was (a mismatched byte, \
                  an I/O error, an unexpected end of stream, a lost echo, the in-flight bound \
                  hit, a lost, duplicated or reordered datagram, a churn lifecycle timed out) \
                  or the target could not be reached, 2 for a bad command line or a \
                  non-loopback target without --allow-remote, a --histogram-log that \
                  cannot be created, or a --tls-ca that cannot be read."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,

    /// What to measure
    #[arg(long, value_enum, default_value_t = Mode::Pingpong)]
    mode: Mode,

    /// The echo server, HOST:PORT (resolved first; must be loopback unless
    /// --allow-remote)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:65432")]
    target: String,

    /// Connections [default: 50; bulk uses 1]; churn: lifecycles at once;
    /// churn and threads: a thread each, at most 10000
    #[arg(long, value_name = "C", value_parser = clap::value_parser!(u32).range(1..=200_000))]
    connections: Option<u32>,

    /// Message size in bytes, K/M suffixes allowed [default: 64; not for
    /// bulk; udp: 1 to 65507; churn, threads: at least 1]
    #[arg(long, value_name = "BYTES", value_parser = units::parse_size)]
    size: Option<u64>,

    /// Messages in flight per connection: pipeline [default: 16], udp
    /// [default: 1]
    #[arg(long, value_name = "D", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    depth: Option<u32>,

    /// Seconds measured, after the warm-up (bulk: sets the timeout,
    /// DURATION x 10 + 30 s)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_duration)]
    duration: Duration,

    /// Seconds of load before measuring; their counts and latencies are
    /// dropped (not for bulk)
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_warmup)]
    warmup: Duration,

    /// Threads, each with its own poll; connections are spread over them
    /// [default: 1; not for churn and threads, which run a thread per
    /// connection]
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: Option<u32>,

    /// Offered load in messages per second over all connections (open loop:
    /// each message goes out at its scheduled time, and its latency counts
    /// from then); churn: lifecycles per second; not for threads
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    rate: Option<f64>,

    /// Bytes to stream in bulk mode, K/M/G suffixes allowed [default: 1GiB]
    #[arg(long, value_name = "BYTES", value_parser = units::parse_size)]
    bytes: Option<u64>,

    /// udp: a datagram with no echo after this many milliseconds is lost,
    /// and its socket sends the next [default: 200]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    udp_timeout_ms: Option<u64>,

    /// churn: spread the connections over the source addresses 127.0.0.1
    /// to 127.0.0.K, so that closed ones waiting in TIME_WAIT do not use up
    /// the ports [default: 16; IPv4 loopback targets only]
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u8).range(1..))]
    sources: Option<u8>,

    /// churn: how long a lifecycle waits for its connect, for its echo, or
    /// for its end of stream before it gives up, counted as a timeout
    /// [default: 5000]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=600_000))]
    lifecycle_timeout_ms: Option<u64>,

    /// Write the run's latencies and report to PATH as an HdrHistogram
    /// interval log, which `echo-loadgen merge` adds up with other runs'
    /// (not for bulk)
    #[arg(long, value_name = "PATH")]
    histogram_log: Option<PathBuf>,

    /// Speak TLS to the target (not for udp), trusting --tls-ca
    #[arg(long)]
    tls: bool,

    /// --tls: the PEM certificate(s) to trust, e.g. the file echo-reactor's
    /// --tls-self-signed-out wrote
    #[arg(long, value_name = "PATH")]
    tls_ca: Option<PathBuf>,

    /// --tls: the name the server's certificate must carry [default:
    /// localhost]
    #[arg(long, value_name = "NAME")]
    tls_server_name: Option<String>,

    /// Print one JSON object on stdout instead of the table
    #[arg(long)]
    json: bool,

    /// Allow a target that is not a loopback address
    #[arg(long)]
    allow_remote: bool,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Add up the runs of several load generators, each written with
    /// --histogram-log, into one report: counts, rates and errors summed,
    /// latency percentiles of all their latencies together. Exit status 1
    /// if a log cannot be read or the runs counted an error.
    Merge(MergeArgs),
}

/// The logs to merge, and how to print the report.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Interval logs written by echo-loadgen --histogram-log
    #[arg(value_name = "LOG")]
    pub logs: Vec<PathBuf>,

    /// Print one JSON object on stdout instead of the table
    #[arg(long)]
    pub json: bool,
}

/// What the command line asks for, checked.
#[derive(Debug)]
pub enum Command {
    /// A load run, where to write its histogram log, if anywhere, and
    /// its TLS settings with `--tls`.
    Run {
        plan: Plan,
        histogram_log: Option<PathBuf>,
        tls: Option<TlsArgs>,
    },
    /// Merging the logs of runs into one report.
    Merge(MergeArgs),
}

impl Command {
    /// Checks the command line (see [`Plan::from_cli`]).
    pub fn from_cli(mut cli: Cli) -> Result<Command, String> {
        if let Some(Sub::Merge(merge)) = cli.command.take() {
            if merge.logs.is_empty() {
                return Err("merge: name the logs to merge (written with --histogram-log)".into());
            }
            return Ok(Command::Merge(merge));
        }
        let histogram_log = cli.histogram_log.take();
        if histogram_log.is_some() && cli.mode == Mode::Bulk {
            return Err(
                "--histogram-log does not apply to bulk mode: a bulk stream has no latencies"
                    .into(),
            );
        }
        let tls = TlsArgs::from_cli(&mut cli)?;
        Ok(Command::Run {
            plan: Plan::from_cli(cli)?,
            histogram_log,
            tls,
        })
    }
}

/// `--tls`: whom to trust, and the name the server must prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsArgs {
    pub ca: PathBuf,
    pub server_name: String,
}

impl TlsArgs {
    /// Takes the TLS flags out of `cli`: none without `--tls`, which
    /// needs `--tls-ca` and a mode over TCP.
    fn from_cli(cli: &mut Cli) -> Result<Option<TlsArgs>, String> {
        let (ca, server_name) = (cli.tls_ca.take(), cli.tls_server_name.take());
        if !cli.tls {
            if ca.is_some() || server_name.is_some() {
                return Err("--tls-ca and --tls-server-name only apply with --tls".into());
            }
            return Ok(None);
        }
        if cli.mode == Mode::Udp {
            return Err("--tls does not apply to --mode udp: TLS runs over TCP".into());
        }
        let ca = ca.ok_or("--tls needs --tls-ca PATH, the PEM certificate to trust")?;
        Ok(Some(TlsArgs {
            ca,
            server_name: server_name.unwrap_or_else(|| "localhost".into()),
        }))
    }

    /// The client these settings make; one line if the file or the name
    /// will not do.
    pub fn client(self) -> Result<TlsClient, String> {
        TlsClient::new(&self.ca, &self.server_name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// One message in flight per connection
    Pingpong,
    /// Up to --depth messages in flight per connection
    Pipeline,
    /// One connection streams --bytes and reads them back
    Bulk,
    /// One datagram (or --depth) in flight per UDP socket
    Udp,
    /// Short-lived connections: connect, echo one message, half-close, wait
    /// for the end of stream, close; again and again on every thread
    Churn,
    /// One message in flight per connection, each a blocking thread
    Threads,
}

/// Seconds, at most a day (a longer benchmark is surely a typo).
fn parse_seconds(text: &str) -> Result<Duration, String> {
    match units::parse_seconds(text).map_err(|e| e.to_string())? {
        d if d > Duration::from_secs(86_400) => {
            Err(format!("'{text}' is not between 0 and 86400 seconds"))
        }
        d => Ok(d),
    }
}

fn parse_warmup(text: &str) -> Result<Duration, String> {
    parse_seconds(text)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    match parse_seconds(text)? {
        d if d < Duration::from_millis(1) => Err("must be at least 0.001 seconds".into()),
        d => Ok(d),
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of messages per second"))?;
    if !(rate.is_finite() && rate > 0.0 && rate <= 1e9) {
        return Err(format!(
            "'{text}' is not between 0 and 1e9 messages per second"
        ));
    }
    Ok(rate)
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

impl Plan {
    /// Checks the command line: combinations that make no sense and
    /// non-loopback targets (without `--allow-remote`) are refused, with
    /// one line for stderr (exit status 2).
    pub fn from_cli(cli: Cli) -> Result<Plan, String> {
        if cli.mode == Mode::Bulk {
            if cli.connections.is_some_and(|c| c != 1) {
                return Err("bulk mode streams on one connection; drop --connections".into());
            }
            if cli.size.is_some() || cli.depth.is_some() || cli.rate.is_some() {
                return Err(
                    "--size, --depth and --rate do not apply to bulk mode (use --bytes)".into(),
                );
            }
        } else if cli.bytes.is_some() {
            return Err("--bytes only applies to bulk mode".into());
        }
        if cli.mode == Mode::Udp {
            if let Some(size) = cli.size.filter(|&s| !(1..=MAX_DATAGRAM).contains(&s)) {
                return Err(format!(
                    "--size {size} does not fit a UDP datagram: 1 to {MAX_DATAGRAM} bytes"
                ));
            }
        } else if cli.udp_timeout_ms.is_some() {
            return Err("--udp-timeout-ms only applies to --mode udp".into());
        }
        if cli.mode == Mode::Pingpong && cli.depth.is_some_and(|d| d != 1) {
            return Err(
                "pingpong has one message in flight; use --mode pipeline for --depth".into(),
            );
        }
        let thread_per_connection = match cli.mode {
            Mode::Churn => Some("churn"),
            Mode::Threads => Some("threads"),
            _ => None,
        };
        if let Some(mode) = thread_per_connection {
            if cli.depth.is_some() {
                return Err(format!(
                    "--depth does not apply to {mode}: each connection has one message in flight"
                ));
            }
            if cli.threads.is_some() {
                return Err(format!(
                    "--threads does not apply to {mode}: each of its --connections has a thread"
                ));
            }
            if cli
                .connections
                .is_some_and(|c| c > MAX_THREADED_CONNECTIONS)
            {
                return Err(format!(
                    "{mode} runs a thread per connection: at most {MAX_THREADED_CONNECTIONS} --connections"
                ));
            }
            if cli.size == Some(0) {
                return Err(format!("{mode} echoes messages: --size must be at least 1"));
            }
        }
        if cli.mode == Mode::Threads && cli.rate.is_some() {
            return Err(
                "--rate does not apply to threads: each thread sends when its echo is back \
                 (--mode pingpong --rate keeps a schedule)"
                    .into(),
            );
        }
        if cli.mode != Mode::Churn && (cli.sources.is_some() || cli.lifecycle_timeout_ms.is_some())
        {
            return Err("--sources and --lifecycle-timeout-ms only apply to --mode churn".into());
        }
        if cli.rate.is_some() && cli.depth.is_some() {
            return Err(
                "--depth does not apply with --rate: the schedule decides when messages go out"
                    .into(),
            );
        }

        let target = resolve(&cli.target)?;
        if !is_loopback(target.ip()) && !cli.allow_remote {
            return Err(format!(
                "refusing non-loopback target {target} (from '{}'); pass --allow-remote to load another host",
                cli.target
            ));
        }
        // Sources on 127/8 reach IPv4 loopback targets only.
        let ipv4_loopback = matches!(target.ip(), IpAddr::V4(v4) if v4.is_loopback());
        if cli.sources.is_some() && !ipv4_loopback {
            return Err(format!(
                "--sources spreads connections over 127.0.0.1 to 127.0.0.K, which reach IPv4 \
                 loopback targets only, not {target}"
            ));
        }

        let messages = |default_depth: usize| Messages {
            size: cli.size.unwrap_or(64),
            pace: match cli.rate {
                Some(rate) => Pace::Rate(rate),
                None => Pace::ClosedLoop {
                    depth: cli.depth.map_or(default_depth, |d| d as usize),
                },
            },
            warmup: cli.warmup,
            duration: cli.duration,
        };
        let load = match cli.mode {
            Mode::Pingpong => Load::PingPong(messages(1)),
            Mode::Pipeline => Load::Pipeline(messages(16)),
            Mode::Bulk => Load::Bulk {
                bytes: cli.bytes.unwrap_or(1 << 30),
                timeout: cli.duration * 10 + Duration::from_secs(30),
            },
            Mode::Udp => Load::Udp {
                messages: messages(1),
                timeout: Duration::from_millis(
                    cli.udp_timeout_ms.unwrap_or(DEFAULT_UDP_TIMEOUT_MS),
                ),
            },
            Mode::Threads => Load::Threads(messages(1)),
            Mode::Churn => Load::Churn(Lifecycles {
                messages: messages(1),
                sources: ipv4_loopback.then(|| cli.sources.unwrap_or(DEFAULT_SOURCES)),
                timeout: Duration::from_millis(
                    cli.lifecycle_timeout_ms
                        .unwrap_or(DEFAULT_LIFECYCLE_TIMEOUT_MS),
                ),
            }),
        };
        let connections = match load {
            Load::Bulk { .. } => 1,
            _ => cli.connections.unwrap_or(50) as usize,
        };
        let threads = if load.thread_per_connection() {
            connections
        } else {
            (cli.threads.unwrap_or(1) as usize).min(connections)
        };
        Ok(Plan {
            target,
            connections,
            threads,
            load,
            json: cli.json,
        })
    }
}

/// The first address `target` resolves to.
fn resolve(target: &str) -> Result<SocketAddr, String> {
    let mut addrs = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve target '{target}': {e}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("target '{target}' resolves to no address"))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Result<Plan, String> {
        let argv = std::iter::once("echo-loadgen").chain(args.iter().copied());
        Plan::from_cli(Cli::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    #[test]
    fn each_mode_gets_its_defaults_and_nothing_else() {
        let pingpong = plan(&[]).unwrap();
        assert_eq!(pingpong.connections, 50);
        let Load::PingPong(messages) = pingpong.load else {
            panic!("{pingpong:?}")
        };
        assert_eq!(messages.size, 64);
        assert_eq!(messages.pace, Pace::ClosedLoop { depth: 1 });

        let pipeline = plan(&["--mode", "pipeline"]).unwrap().load;
        let depth = pipeline.messages().map(|m| m.pace);
        assert_eq!(depth, Some(Pace::ClosedLoop { depth: 16 }));

        let bulk = plan(&["--mode", "bulk", "--duration", "2"]).unwrap();
        assert_eq!(bulk.connections, 1);
        let expected = Load::Bulk {
            bytes: 1 << 30,
            timeout: Duration::from_secs(50),
        };
        assert_eq!(bulk.load, expected);

        let udp = plan(&["--mode", "udp", "--rate", "100"]).unwrap().load;
        assert_eq!(udp.udp_timeout(), Some(Duration::from_millis(200)));
        assert_eq!(udp.messages().map(|m| m.pace), Some(Pace::Rate(100.0)));

        let churn = plan(&["--mode", "churn", "--connections", "8"]).unwrap();
        assert_eq!((churn.connections, churn.threads), (8, 8));
        let Load::Churn(lifecycles) = churn.load else {
            panic!("{churn:?}")
        };
        assert_eq!(lifecycles.sources, Some(16));
        assert_eq!(lifecycles.timeout, Duration::from_secs(5));
        assert_eq!(lifecycles.messages.size, 64);
        assert_eq!(lifecycles.messages.pace, Pace::ClosedLoop { depth: 1 });
    }

    #[test]
    fn threads_mode_is_a_closed_loop_with_a_thread_per_connection() {
        let threads = plan(&[
            "--mode",
            "threads",
            "--connections",
            "1000",
            "--size",
            "128",
        ]);
        let threads = threads.unwrap();
        assert_eq!((threads.connections, threads.threads), (1000, 1000));
        let Load::Threads(messages) = threads.load else {
            panic!("{threads:?}")
        };
        assert_eq!(messages.size, 128);
        assert_eq!(messages.pace, Pace::ClosedLoop { depth: 1 });
    }

    #[test]
    fn merge_is_a_subcommand_and_a_run_needs_none() {
        let command = |args: &[&str]| {
            let argv = std::iter::once("echo-loadgen").chain(args.iter().copied());
            Command::from_cli(Cli::try_parse_from(argv).map_err(|e| e.to_string())?)
        };
        let Ok(Command::Merge(merge)) = command(&["merge", "a.log", "b.log", "--json"]) else {
            panic!("a merge")
        };
        assert_eq!(merge.logs, [PathBuf::from("a.log"), PathBuf::from("b.log")]);
        assert!(merge.json);
        let Ok(Command::Run {
            plan,
            histogram_log,
            tls: None,
        }) = command(&["--mode", "pipeline", "--histogram-log", "run.log"])
        else {
            panic!("a run")
        };
        assert_eq!(plan.load.name(), "pipeline");
        assert_eq!(histogram_log, Some(PathBuf::from("run.log")));
        assert!(command(&["merge"]).is_err());
        assert!(command(&["--mode", "bulk", "--histogram-log", "run.log"]).is_err());
        assert!(command(&["--connections", "4", "merge", "a.log"]).is_err());
    }

    #[test]
    fn tls_applies_to_every_mode_over_tcp_and_not_to_udp() {
        let tls = |mode: &str| {
            let argv = [
                "echo-loadgen",
                "--mode",
                mode,
                "--tls",
                "--tls-ca",
                "ca.pem",
            ];
            Command::from_cli(Cli::try_parse_from(argv).map_err(|e| e.to_string())?)
        };
        for mode in ["pingpong", "pipeline", "bulk", "churn", "threads"] {
            let Ok(Command::Run { tls: Some(tls), .. }) = tls(mode) else {
                panic!("{mode} over TLS")
            };
            assert_eq!(tls.ca, PathBuf::from("ca.pem"));
            assert_eq!(tls.server_name, "localhost");
        }
        let refused = tls("udp").unwrap_err();
        assert!(refused.contains("udp"), "{refused}");
    }

    #[test]
    fn churn_spreads_sources_over_ipv4_loopback_only() {
        let Load::Churn(v6) = plan(&["--mode", "churn", "--target", "[::1]:7"])
            .unwrap()
            .load
        else {
            panic!("churn")
        };
        assert_eq!(v6.sources, None, "the kernel picks the source");
        let args = [
            "--mode",
            "churn",
            "--target",
            "127.0.0.1:7",
            "--sources",
            "3",
        ];
        let Load::Churn(v4) = plan(&args).unwrap().load else {
            panic!("churn")
        };
        assert_eq!(v4.sources, Some(3));
    }

    #[test]
    fn loopback_targets_pass_and_others_need_allow_remote() {
        assert!(is_loopback("127.1.2.3".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("192.0.2.1".parse().unwrap()));
        let refused = plan(&["--target", "192.0.2.1:7"]).unwrap_err();
        assert!(refused.contains("--allow-remote"), "{refused}");
        assert!(plan(&["--target", "192.0.2.1:7", "--allow-remote"]).is_ok());
    }
}
