//! Opens many idle connections to an echo server and measures what they cost.
//!
//! ```sh
//! cargo run --release &                       # the server under test
//! cargo run --release --bin echo-idle-swarm -- --connections 19000 \
//!     --hold 10 --server-pid "$(pgrep -n echo-reactor)"
//! ```
//!
//! Phases, each bounded in time:
//!
//! 1. **Connect** N connections as fast as the machine allows: non-blocking
//!    `connect`s, up to `--in-flight` at once, completed through a mio poll.
//!    Each socket binds to a source address 127.0.0.1 ... 127.0.0.K first,
//!    with `IP_BIND_ADDRESS_NO_PORT` so the kernel picks the port at
//!    `connect` time per (source, destination) pair: one source address has
//!    only ~28k ephemeral ports, and `bind` without that option would
//!    reserve a port per socket and slow every bind down. (`connect.rs`)
//! 2. **Settle**: one more connection, the probe, echoes a message. The
//!    listen queue is first in, first out and the server accepts until it is
//!    empty, so once the probe's echo is back every idle connection has been
//!    accepted. With `--server-pid`, the server's RSS before and after gives
//!    the memory each idle connection costs.
//! 3. **Hold** for `--hold` seconds: the idle connections do nothing while
//!    the probe measures echo latency every `--probe-ms` (100 ms); with `--server-pid`, the
//!    server's CPU time over the hold is reported (an idle server should use
//!    next to none: the probe's 10 echoes a second are all it has to do).
//!    (`hold.rs`)
//! 4. **Check** a random sample of the idle connections: each must still
//!    echo a message of its own, byte for byte. (`hold.rs`)
//!
//! The report goes to stdout at the end: a few lines, or with `--json` one
//! [`IdleReport`] as a JSON object on one line. The exit status is 0 when
//! every connection opened and every sampled echo came back intact, 1
//! otherwise, 2 for a bad command line.

// Shared with the package's other binaries, compiled into each: the
// library's API is the server's, not its command lines'.
#[path = "../../cli_support.rs"]
mod cli_support;
mod connect;
mod hold;

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::cli_support::parse_or_exit;
use clap::Parser;
use echo_reactor::tools::process;
use echo_reactor::tools::report::{IdleReport, ServerCost};

use crate::connect::{connect_all, Connects};
use crate::hold::{check_sample, echo_once, probe_through, ECHO_TIMEOUT};

/// How this program names itself in its messages.
const PROGRAM: &str = "echo-idle-swarm";

/// Opens many idle connections to an echo server, holds them, and reports
/// what they cost the server.
#[derive(Parser, Debug)]
#[command(name = "echo-idle-swarm")]
struct Args {
    /// The echo server (loopback only).
    #[arg(long, default_value = "127.0.0.1:65432")]
    target: SocketAddr,
    /// Idle connections to open.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Source addresses to spread them over: 127.0.0.1 ... 127.0.0.K.
    #[arg(long, default_value_t = 16)]
    sources: u8,
    /// Connects in progress at once.
    #[arg(long, default_value_t = 1024)]
    in_flight: usize,
    /// Seconds to hold the connections idle.
    #[arg(long, default_value_t = 10.0)]
    hold: f64,
    /// Idle connections to check for an intact echo at the end.
    #[arg(long, default_value_t = 200)]
    sample: usize,
    /// The server's process id, to report its memory and CPU use.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Milliseconds between the probe's echoes during the hold; 0 turns the
    /// probe off, so the server has nothing at all to do (for counting its
    /// system calls while idle: `strace -c -p PID`).
    #[arg(long, default_value_t = 100)]
    probe_ms: u64,
    /// Seconds the connect phase may take before it gives up.
    #[arg(long, default_value_t = 120.0)]
    connect_timeout: f64,
    /// Print one JSON object on stdout instead of the lines
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args: Args = parse_or_exit(PROGRAM);
    if !args.target.ip().is_loopback() || !args.target.is_ipv4() {
        eprintln!("{PROGRAM}: the target must be an IPv4 loopback address (127.0.0.0/8)");
        return ExitCode::from(2);
    }
    let report = match run(&args) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("{PROGRAM}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        match serde_json::to_string(&report) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("{PROGRAM}: cannot print the report: {e}"),
        }
    } else {
        print!("{}", human(&report));
    }
    let all_good = report.connected == report.requested && report.sample_failures == 0;
    if all_good {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs every phase and reports what they measured.
fn run(args: &Args) -> io::Result<IdleReport> {
    match echo_reactor::raise_nofile_limit() {
        Ok((_, limit)) if (limit as usize) < args.connections + 64 => eprintln!(
            "{PROGRAM}: the open-files limit is {limit}; expect to stop short of {} connections",
            args.connections
        ),
        Ok(_) => {}
        Err(e) => eprintln!("{PROGRAM}: cannot raise the open-files limit: {e}"),
    }
    let server_usage = || args.server_pid.map(process::usage).transpose();
    let before = server_usage()?;

    let started = Instant::now();
    let idle = connect_all(&Connects {
        target: args.target,
        count: args.connections,
        sources: args.sources,
        in_flight: args.in_flight,
        timeout: Duration::from_secs_f64(args.connect_timeout),
    })?;
    let connect_time = started.elapsed();

    let probe = TcpStream::connect(args.target)?;
    probe.set_nodelay(true)?;
    probe.set_read_timeout(Some(ECHO_TIMEOUT))?;
    echo_once(&probe, b"settle")?;
    // Let freed pages and lazily touched ones settle before reading RSS.
    std::thread::sleep(Duration::from_millis(500));
    let settled = server_usage()?;

    let hold = Duration::from_secs_f64(args.hold.max(0.0));
    let latencies = probe_through(&probe, hold, Duration::from_millis(args.probe_ms))?;
    let held = server_usage()?;

    let (sampled, failed) = check_sample(&idle, args.sample);

    let server = match (before, settled, held) {
        (Some(before), Some(settled), Some(held)) => Some(ServerCost {
            rss_before_bytes: before.rss_bytes,
            rss_held_bytes: settled.rss_bytes,
            rss_per_connection_bytes: settled.rss_bytes.saturating_sub(before.rss_bytes) as f64
                / idle.len().max(1) as f64,
            hold_cpu_ms: held.cpu.saturating_sub(settled.cpu).as_millis() as u64,
        }),
        _ => None,
    };
    // Whole microseconds; the latencies are sorted.
    let pick = |q: f64| {
        let index = ((latencies.len().max(1) - 1) as f64 * q) as usize;
        latencies.get(index).map(|d| d.as_micros() as f64)
    };
    Ok(IdleReport {
        target: args.target.to_string(),
        requested: args.connections as u64,
        connected: idle.len() as u64,
        connect_s: connect_time.as_secs_f64(),
        hold_s: hold.as_secs_f64(),
        server,
        probe_p50_us: pick(0.5),
        probe_p99_us: pick(0.99),
        probe_max_us: pick(1.0),
        probe_echoes: latencies.len() as u64,
        sampled: sampled as u64,
        sample_failures: failed as u64,
    })
}

/// The report as lines of text: the connect phase, the server's cost (with
/// its pid), the probe's latency (if it echoed), the sample.
fn human(r: &IdleReport) -> String {
    let mut text = format!(
        "connected {} of {} in {:.2} s ({:.0} connections/s)\n",
        r.connected,
        r.requested,
        r.connect_s,
        r.connected as f64 / r.connect_s.max(1e-9)
    );
    const MIB: f64 = 1048576.0;
    if let Some(server) = &r.server {
        text += &format!(
            "server RSS: {:.1} MiB before, {:.1} MiB with {} idle connections: {:.1} bytes per connection\n",
            server.rss_before_bytes as f64 / MIB,
            server.rss_held_bytes as f64 / MIB,
            r.connected,
            server.rss_per_connection_bytes
        );
        text += &format!(
            "server CPU over the {:.1} s hold: {} ms (the probe's {} echoes included)\n",
            r.hold_s, server.hold_cpu_ms, r.probe_echoes
        );
    }
    if let (Some(p50), Some(p99), Some(max)) = (r.probe_p50_us, r.probe_p99_us, r.probe_max_us) {
        text += &format!(
            "probe echo latency over the hold: p50 {p50} µs, p99 {p99} µs, max {max} µs ({} echoes)\n",
            r.probe_echoes
        );
    }
    text += &format!(
        "sampled idle connections: {} checked, {} failed\n",
        r.sampled, r.sample_failures
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_others_read_keep_their_words() {
        let report = IdleReport {
            target: "127.0.0.1:65432".into(),
            requested: 300,
            connected: 300,
            connect_s: 0.25,
            hold_s: 0.3,
            server: Some(ServerCost {
                rss_before_bytes: 1 << 20,
                rss_held_bytes: 2 << 20,
                rss_per_connection_bytes: 3495.25,
                hold_cpu_ms: 10,
            }),
            probe_p50_us: Some(41.0),
            probe_p99_us: Some(90.0),
            probe_max_us: Some(95.0),
            probe_echoes: 6,
            sampled: 60,
            sample_failures: 0,
        };
        let text = human(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "connected 300 of 300 in 0.25 s (1200 connections/s)"
        );
        assert!(lines[1].ends_with("with 300 idle connections: 3495.2 bytes per connection"));
        assert_eq!(
            lines[3],
            "probe echo latency over the hold: p50 41 µs, p99 90 µs, max 95 µs (6 echoes)"
        );
        assert_eq!(lines[4], "sampled idle connections: 60 checked, 0 failed");
    }
}
