//! The flags, as clap parses them: their names, defaults, help texts and
//! the topics `--help` groups them under, and the parsers of their values.
//! What they mean together is `translate.rs`'s to decide.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use echo_reactor::units;

use crate::model::{Objective, Percentile, StepRepeats};

/// Topics of `--help`, in the order it shows them.
const TARGET: &str = "Target";
const LOAD_SHAPE: &str = "Load shape";
const TIME_AND_PACING: &str = "Time and pacing";
const UDP: &str = "UDP (--mode udp)";
const CHURN: &str = "Churn (--mode churn)";
const SEARCH: &str = "Rate search (--objective)";
const TLS: &str = "TLS";
const WEBSOCKET: &str = "WebSocket";
const OUTPUT: &str = "Output";

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
                  Exit status (with --objective: 0 if a rate met it, 1 if none did): \
                  0 if no error was counted, 1 if any was (a mismatched byte, \
                  an I/O error, an unexpected end of stream, a lost echo, the in-flight bound \
                  hit, a lost, duplicated or reordered datagram, a churn lifecycle timed out) \
                  or the target could not be reached, 2 for a bad command line or a \
                  non-loopback target without --allow-remote, a --histogram-log that \
                  cannot be created, or a --tls-ca that cannot be read."
)]
pub struct Cli {
    #[command(subcommand)]
    pub(super) command: Option<Sub>,

    /// The echo server, HOST:PORT (resolved first; must be loopback unless
    /// --allow-remote)
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:65432",
        help_heading = TARGET
    )]
    pub(super) target: String,

    /// Allow a target that is not a loopback address
    #[arg(long, help_heading = TARGET)]
    pub(super) allow_remote: bool,

    /// What to measure
    #[arg(long, value_enum, default_value_t = Mode::Pingpong, help_heading = LOAD_SHAPE)]
    pub(super) mode: Mode,

    /// Connections [default: 50; bulk uses 1]; churn: lifecycles at once;
    /// churn and threads: a thread each, at most 10000
    #[arg(
        long,
        value_name = "C",
        value_parser = clap::value_parser!(u32).range(1..=200_000),
        help_heading = LOAD_SHAPE
    )]
    pub(super) connections: Option<u32>,

    /// Threads, each with its own poll; connections are spread over them
    /// [default: 1; not for churn and threads, which run a thread per
    /// connection]
    #[arg(
        long,
        value_name = "T",
        value_parser = clap::value_parser!(u32).range(1..=256),
        help_heading = LOAD_SHAPE
    )]
    pub(super) threads: Option<u32>,

    /// Message size in bytes, K/M suffixes allowed [default: 64; not for
    /// bulk; udp: 1 to 65507; churn, threads: at least 1]
    #[arg(long, value_name = "BYTES", value_parser = units::parse_size, help_heading = LOAD_SHAPE)]
    pub(super) size: Option<u64>,

    /// Messages in flight per connection: pipeline [default: 16], udp
    /// [default: 1]
    #[arg(
        long,
        value_name = "D",
        value_parser = clap::value_parser!(u32).range(1..=65_536),
        help_heading = LOAD_SHAPE
    )]
    pub(super) depth: Option<u32>,

    /// Bytes to stream in bulk mode, K/M/G suffixes allowed [default: 1GiB]
    #[arg(long, value_name = "BYTES", value_parser = units::parse_size, help_heading = LOAD_SHAPE)]
    pub(super) bytes: Option<u64>,

    /// Seconds measured, after the warm-up (bulk: sets the timeout,
    /// DURATION x 10 + 30 s)
    #[arg(
        long,
        value_name = "SECS",
        default_value = "10",
        value_parser = parse_duration,
        help_heading = TIME_AND_PACING
    )]
    pub(super) duration: Duration,

    /// Seconds of load before measuring; their counts and latencies are
    /// dropped (not for bulk)
    #[arg(
        long,
        value_name = "SECS",
        default_value = "1",
        value_parser = parse_warmup,
        help_heading = TIME_AND_PACING
    )]
    pub(super) warmup: Duration,

    /// Offered load in messages per second over all connections (open loop:
    /// each message is due at its scheduled time, and its latency counts
    /// from then; pingpong writes it once the echo before it is back,
    /// pipeline at once); churn: lifecycles per second; not for threads
    #[arg(long, value_name = "R", value_parser = parse_rate, help_heading = TIME_AND_PACING)]
    pub(super) rate: Option<f64>,

    /// pingpong, pipeline: give up on a connection whose oldest message has
    /// had no whole echo for this many milliseconds, counted as a timeout
    /// (a server gone silent) [default: off: it counts as lost at the end]
    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..=600_000),
        help_heading = TIME_AND_PACING
    )]
    pub(super) response_timeout_ms: Option<u64>,

    /// udp: a datagram with no echo after this many milliseconds is lost,
    /// and its socket sends the next [default: 200]
    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..=60_000),
        help_heading = UDP
    )]
    pub(super) udp_timeout_ms: Option<u64>,

    /// churn: spread the connections over the source addresses 127.0.0.1
    /// to 127.0.0.K, so that closed ones waiting in TIME_WAIT do not use up
    /// the ports [default: 16; IPv4 loopback targets only]
    #[arg(
        long,
        value_name = "K",
        value_parser = clap::value_parser!(u8).range(1..),
        help_heading = CHURN
    )]
    pub(super) sources: Option<u8>,

    /// churn: how long a lifecycle waits for its connect, for its echo, or
    /// for its end of stream before it gives up, counted as a timeout
    /// [default: 5000]
    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..=600_000),
        help_heading = CHURN
    )]
    pub(super) lifecycle_timeout_ms: Option<u64>,

    /// Search for the highest --rate that meets this objective, e.g.
    /// p99<=1ms: a percentile (p50, p90, p99, p99.9), a bound in us, ms or
    /// s, and no error; --rate is the first step's [default: 1000] (not for
    /// bulk and threads)
    #[arg(long, value_name = "pQ<=BOUND", value_parser = parse_objective, help_heading = SEARCH)]
    pub(super) objective: Option<Objective>,

    /// Stop bisecting when the first failed rate is within this many
    /// percent of the last good one [default: 5]
    #[arg(long, value_name = "PERCENT", value_parser = parse_precision, help_heading = SEARCH)]
    pub(super) search_precision: Option<f64>,

    /// The most the search may take, in seconds; then it reports the best
    /// rate so far, cut short [default: 120]
    #[arg(long, value_name = "SECS", value_parser = parse_duration, help_heading = SEARCH)]
    pub(super) max_duration: Option<Duration>,

    /// Speak WebSocket to the target (echo-reactor's --ws-listen, or
    /// --wss-listen with --tls): an upgrade first, then each message a
    /// binary message (pingpong, pipeline, bulk, churn)
    #[arg(long, help_heading = WEBSOCKET)]
    pub(super) websocket: bool,
    /// Judge each rate by the majority of up to N runs of its step (odd:
    /// 1, 3, 5...), so that one stall of the machine does not fail a rate
    /// the server meets; every run is reported [default: 1]
    #[arg(long, value_name = "N", value_parser = parse_step_repeats, help_heading = SEARCH)]
    pub(super) step_repeats: Option<StepRepeats>,

    /// Speak TLS to the target (not for udp), trusting --tls-ca
    #[arg(long, help_heading = TLS)]
    pub(super) tls: bool,

    /// --tls: the PEM certificate(s) to trust, e.g. the file echo-reactor's
    /// --tls-self-signed-out wrote
    #[arg(long, value_name = "PATH", help_heading = TLS)]
    pub(super) tls_ca: Option<PathBuf>,

    /// --tls: the name the server's certificate must carry [default:
    /// localhost]
    #[arg(long, value_name = "NAME", help_heading = TLS)]
    pub(super) tls_server_name: Option<String>,

    /// Print one JSON object on stdout instead of the table
    #[arg(long, help_heading = OUTPUT)]
    pub(super) json: bool,

    /// Write one JSON object per second to PATH (`-`: stdout, the table
    /// then going to stderr; not with --json): elapsed, offered and
    /// achieved rate, p50/p99/p99.9 of that second, errors so far
    #[arg(long, value_name = "PATH", help_heading = OUTPUT)]
    pub(super) progress_json: Option<PathBuf>,

    /// Write the run's latencies and report to PATH as an HdrHistogram
    /// interval log, which `echo-loadgen merge` adds up with other runs'
    /// (not for bulk)
    #[arg(long, value_name = "PATH", help_heading = OUTPUT)]
    pub(super) histogram_log: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub(super) enum Sub {
    /// Add up the runs of several load generators, each written with
    /// --histogram-log, into one report: counts, rates and errors summed,
    /// latency percentiles of all their latencies together. Exit status 1
    /// if a log cannot be read or the runs counted an error.
    Merge(MergeArgs),
}

/// The logs to merge, and how to print the report.
#[derive(Args, Debug)]
pub(super) struct MergeArgs {
    /// Interval logs written by echo-loadgen --histogram-log
    #[arg(value_name = "LOG")]
    pub(super) logs: Vec<PathBuf>,

    /// Print one JSON object on stdout instead of the table
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum Mode {
    /// One message on the wire per connection
    Pingpong,
    /// Up to --depth messages in flight per connection (--rate: all that
    /// are due)
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

/// `pQ<=BOUND`: a percentile of [`Percentile::ALL`], `<=`, and a positive
/// number of us, ms or s.
fn parse_objective(text: &str) -> Result<Objective, String> {
    let malformed = || format!("'{text}' is not an objective like p99<=1ms");
    let (name, bound) = text.trim().split_once("<=").ok_or_else(malformed)?;
    let percentile = Percentile::ALL
        .iter()
        .find(|(_, spelled)| *spelled == name.trim())
        .map(|(percentile, _)| *percentile)
        .ok_or_else(|| format!("'{name}' is not one of the percentiles p50, p90, p99, p99.9"))?;
    let bound = bound.trim();
    let digits = bound.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let seconds_per_unit = match &bound[digits.len()..] {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        unit => {
            return Err(format!(
                "'{unit}' in '{text}' is not a unit of the bound: us, ms or s"
            ))
        }
    };
    let value: f64 = digits.parse().map_err(|_| malformed())?;
    let seconds = value * seconds_per_unit;
    if !(1e-6..=3_600.0).contains(&seconds) {
        return Err(format!(
            "the bound in '{text}' is not between 1us and 3600s"
        ));
    }
    Ok(Objective {
        percentile,
        bound: Duration::from_secs_f64(seconds),
    })
}

/// An odd number of runs, 1 to 99.
fn parse_step_repeats(text: &str) -> Result<StepRepeats, String> {
    let runs: u32 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of runs"))?;
    match StepRepeats::new(runs) {
        Some(repeats) if runs <= 99 => Ok(repeats),
        _ => Err(format!(
            "'{text}' is not an odd number of runs from 1 to 99 (a majority needs an odd count)"
        )),
    }
}

/// A percentage above 0 and at most 100, with or without `%`; as a share.
fn parse_precision(text: &str) -> Result<f64, String> {
    let percent: f64 = text
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{text}' is not a percentage"))?;
    if !(percent > 0.0 && percent <= 100.0) {
        return Err(format!(
            "'{text}' is not a percentage above 0 and at most 100"
        ));
    }
    Ok(percent / 100.0)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn every_flag_of_a_run_is_under_a_topic_of_help() {
        let command = Cli::command();
        let untopical: Vec<_> = command
            .get_arguments()
            .filter(|arg| arg.get_id() != "help" && arg.get_help_heading().is_none())
            .map(|arg| arg.get_id().to_string())
            .collect();
        assert!(untopical.is_empty(), "no topic: {untopical:?}");
    }

    #[test]
    fn objectives_name_a_percentile_and_a_bound_with_its_unit() {
        let objective = parse_objective("p99<=1ms").unwrap();
        assert_eq!(objective.percentile, Percentile::P99);
        assert_eq!(objective.bound, Duration::from_millis(1));
        assert_eq!(objective.to_string(), "p99<=1ms");
        let fine = parse_objective("p99.9<=250us").unwrap();
        assert_eq!(fine.percentile, Percentile::P999);
        assert_eq!(fine.to_string(), "p99.9<=250us");
        assert_eq!(parse_objective("p50<=2s").unwrap().to_string(), "p50<=2s");
        assert!(parse_objective("p98<=1ms").unwrap_err().contains("'p98'"));
        assert!(parse_objective("p99<=1h").unwrap_err().contains("'h'"));
        assert!(parse_objective("p99<1ms").is_err());
        assert!(parse_objective("p99<=0ms").is_err());
        assert_eq!(parse_precision("5").unwrap(), 0.05);
        assert_eq!(parse_precision("10%").unwrap(), 0.10);
        assert!(parse_precision("0").is_err());
        assert_eq!(parse_step_repeats("3").unwrap().runs(), 3);
        assert!(parse_step_repeats("2").unwrap_err().contains("odd"));
        assert!(parse_step_repeats("0").is_err());
        assert!(parse_step_repeats("101").is_err());
    }
}
