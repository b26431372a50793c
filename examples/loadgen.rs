//! A load generator for any TCP (or UDP) echo server on this machine: it
//! measures how many echoes per second a server gives, how long each one
//! takes, and checks every byte that comes back.
//!
//! ```sh
//! cargo run --release                                    # the server, in one terminal
//! cargo run --release --example loadgen -- --target 127.0.0.1:65432
//! cargo run --release --example loadgen -- --mode pipeline --depth 16 --connections 50
//! cargo run --release --example loadgen -- --mode pingpong --rate 20000 --duration 30
//! cargo run --release --example loadgen -- --mode bulk --bytes 1GiB
//! cargo run --release -- --udp                           # a server that echoes UDP too
//! cargo run --release --example loadgen -- --mode udp --size 1472 --connections 50
//! cargo run --release --example loadgen -- --json ... | jq .   # one JSON object on stdout
//! ```
//!
//! # Modes
//!
//! - **pingpong**: `--connections` connections, each sending one
//!   `--size`-byte message and waiting for its whole echo before it sends the
//!   next. Measures the round trip.
//! - **pipeline**: the same, but up to `--depth` messages in flight on each
//!   connection. Whenever echoes complete, the connection tops up to `--depth`
//!   and writes all the new messages with one `write`. Measures throughput.
//! - **bulk**: one connection writes `--bytes` as fast as the server takes
//!   them while reading the echo back. Measures GB/s. `--duration` only sets
//!   the hard timeout there (`duration x 10 + 30` s); there is no warm-up.
//! - **udp**: ping-pong over datagrams. Each of the `--connections` is a UDP
//!   socket bound to an ephemeral port of loopback (`127.0.0.1:0` or
//!   `[::1]:0`) and `connect`ed to the target, so it receives the target's
//!   datagrams only. Each has one `--size`-byte datagram (1 to 65507 bytes)
//!   in flight, or `--depth` of them, and sends the next when an echo comes
//!   back or the one it waits for is declared lost (see "UDP" below).
//!
//! Pingpong, pipeline and udp are *closed loops*: a connection sends when an
//! echo came back, so a slow server slows the load down. `--rate R` makes
//! them an *open loop* instead (below).
//!
//! # Coordinated omission, and `--rate`
//!
//! A closed-loop client measures the latency of the messages it sent. When
//! the server stalls for a second, the client stalls with it and sends
//! nothing; the one message that waited a second is one sample among
//! hundreds of thousands, and p99 looks fine. The messages that *should* have
//! been sent during the stall, and would each have waited up to a second,
//! were never sent, so never measured: the client coordinated with the server
//! to omit exactly the bad samples (Gil Tene's "coordinated omission").
//!
//! With `--rate R` each thread follows a fixed schedule: message `k` is due at
//! `start + k / rate`, round robin over its connections, so every connection
//! gets `R / connections` messages per second. A message is queued at its due
//! time whether or not earlier echoes are back (a `timerfd` wakes the thread
//! at each due time with nanosecond precision; `epoll_wait`'s timeout counts
//! in milliseconds), and its latency is counted from its *scheduled* time, not
//! from when the `write` happened. If the server stalls, messages queue up
//! behind it and every one of them reports the stall, as
//! [wrk2](https://github.com/giltene/wrk2) does. The only cap on messages in
//! flight is a safety bound (`IN_FLIGHT_TOTAL` spread over the connections);
//! a message that would pass it is not sent and counts as an error. In udp
//! mode every scheduled message is one datagram, sent at once on its socket
//! whatever is in flight there; it is declared lost `--udp-timeout-ms` after
//! it was actually sent.
//!
//! # Verification
//!
//! Every connection sends a stream whose byte at offset `o` is
//! `PATTERN[(phase + o) mod 65521]`: one pseudo-random pattern of prime
//! length, entered at a different phase by each connection (up to 65521
//! connections), so no two connections send the same stream, and a chunk
//! repeated, skipped or delivered to the wrong connection does not match.
//! The pattern is stored twice in a row, so any run of up to 65521 bytes from
//! any offset is one contiguous slice: writes are slices of it (no copying,
//! no allocation) and each chunk read back is compared with the slice it
//! should equal (a `memcmp`). A chunk that differs, or arrives beyond what
//! was sent, counts as a mismatch (with how many bytes differ), and checking
//! goes on. An end of stream or an I/O error ends that connection and counts
//! too. After the measured time no new message is sent, and the echoes still
//! on their way get `DRAIN` to come back; any that do not count as lost.
//! Errors are never reset after the warm-up: a server that corrupts only
//! early must not pass. Exit status 1 means at least one error was counted.
//!
//! # UDP: verification and loss
//!
//! Datagram `k` of a socket starts with `k`, its sequence number, as 8
//! little-endian bytes, followed by pattern bytes that depend on the
//! socket's phase and on `k`. (A datagram under 8 bytes carries only the
//! low bytes of `k`, and the receiver takes the most recent `k` sent with
//! those low bytes; the checks below are then only as good as that.) Every
//! datagram that comes back is compared whole with the one its sequence
//! number names and counted as exactly one of:
//!
//! - an **echo**: the datagram named is in flight. It is settled and its
//!   latency recorded; if a later datagram of the same socket was already
//!   echoed, it also counts as **reordered**;
//! - **mismatched**: a byte or the length differs, or the sequence number
//!   names no datagram sent (then all its bytes count as differing). A
//!   mismatched echo of a datagram in flight still settles that datagram,
//!   so it is not counted lost as well;
//! - **duplicated**: a correct copy of a datagram already echoed;
//! - **late**: a correct copy of a datagram already counted lost, one of
//!   its socket's last `RECENT_LOSSES` (shown, but not an error of its own:
//!   its loss already is);
//!
//! and a datagram with no echo within `--udp-timeout-ms` (default 200) of
//! being sent is **lost** (declared up to a sixteenth of the timeout later:
//! deadlines are rounded up, so that many share one timer wake-up): its
//! socket sends the next one at once, so a loss costs one socket one
//! timeout, not the run. Mismatched, duplicated,
//! reordered and lost datagrams are all errors (exit status 1); each is
//! counted on its own, and the losses get their own line in the report with
//! their share of the datagrams sent.
//!
//! UDP is allowed to lose datagrams, but on loopback nothing but a full
//! receive queue drops one, so a correct server at a moderate load loses
//! none. Under overload the kernel does drop them: a datagram that finds the
//! server's socket receive queue full (or the load generator's own, with
//! large datagrams and a deep `--depth`; see `net.core.rmem_default`) is
//! gone, and that counts as lost too. A loss says that the round trip
//! failed, not whose fault it was.
//!
//! A socket's I/O error ends that socket and counts as an error; the first
//! one is printed. The usual one is "Connection refused": the kernel got an
//! ICMP port unreachable, so nothing receives UDP on the target's port (is
//! the server running, with `--udp`?). The sockets bind port 0, so the
//! kernel picks ephemeral source ports (32768-60999 by default on Linux):
//! echo-reactor, like inetd, never answers source ports below 1024 or a few
//! known reflector ports, and none of those is ephemeral.
//!
//! # How it drives the load
//!
//! All connections are opened (blocking, `TCP_NODELAY`) before anything is
//! measured, then spread round robin over `--threads` threads. Each thread is
//! a small mio reactor like the server's: one `Poll`, every connection
//! registered once for both directions, edge-triggered, so each read and
//! write goes on until `WouldBlock` (or a short read, which means the queue
//! is empty), at most `TURN_BUDGET` bytes per connection per turn. One
//! `timerfd` per thread, set for its next deadline (due message, progress,
//! end, a UDP loss deadline), wakes the poll, which otherwise waits without
//! a timeout. Nothing is allocated per message: a message is a timestamp in
//! a ring buffer and a range of the pattern; each thread reads into one
//! reused buffer. UDP sockets are the same with three differences: a turn
//! is at most `DATAGRAMS_PER_TURN` datagrams each way; a socket is
//! registered for `READABLE` only, and for `WRITABLE` too only while a send
//! waits for room (the kernel signals a UDP socket writable after each
//! datagram it sends, which woke the poll up to once more per datagram:
//! 9,036 `epoll_wait` calls against 6,610 for 5,000 datagrams); and
//! each datagram sent puts its loss deadline at the back of the thread's
//! queue of them, which is thus in deadline order. Threads
//! record latencies into their own `hdrhistogram`, merged at the end, and add
//! their counters to shared atomics every `PUBLISH_EVERY` for the progress
//! line on stderr.
//!
//! Warm-up: messages *sent* (or scheduled) during the first `--warmup`
//! seconds are neither counted nor recorded. The measured messages are the
//! ones sent in the following `--duration` seconds, each recorded when its
//! echo completes.
//!
//! Only loopback targets are accepted unless `--allow-remote` is given; the
//! target is resolved first, so a name that resolves elsewhere is refused too.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream as StdTcpStream, ToSocketAddrs,
    UdpSocket as StdUdpSocket,
};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Parser, ValueEnum};
use echo_reactor::units;
use hdrhistogram::Histogram;
use mio::net::{TcpStream, UdpSocket};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

/// Length of the byte pattern every stream is cut from: the largest prime
/// below 64 Ki, so no power-of-two message size lines up with it.
const PATTERN_LEN: usize = 65_521;

/// How long echoes may take to come back after the measured time ends.
const DRAIN: Duration = Duration::from_secs(2);

/// Most bytes read, and most written, on one connection per turn of the
/// loop; then the others get their turn and it is served again after the
/// next (non-blocking) poll. Keeps every loop bounded, even against a server
/// that sends without end.
const TURN_BUDGET: usize = 1 << 20;

/// With `--rate`: most messages in flight over all connections, split evenly
/// (8 bytes of timestamp each). Passing it counts as an error.
const IN_FLIGHT_TOTAL: usize = 1 << 22;

/// With `--rate`: no connection's bound is lower than this.
const MIN_IN_FLIGHT_BOUND: usize = 1024;

/// The largest UDP payload over IPv4 (65,535 bytes less the IP and UDP
/// headers): the largest `--size` in udp mode, over IPv6 too.
const MAX_DATAGRAM: u64 = 65_507;

/// Bytes of a datagram's sequence number (fewer in a smaller datagram).
const SEQ_LEN: usize = 8;

/// The default of `--udp-timeout-ms`.
const DEFAULT_UDP_TIMEOUT_MS: u64 = 200;

/// Most datagrams received, and most sent, on one UDP socket per turn of
/// the loop (the server's budget too).
const DATAGRAMS_PER_TURN: usize = 64;

/// Sequence numbers of a socket's latest losses kept, to tell a late echo
/// from a duplicated one once its datagram has left the socket's window.
const RECENT_LOSSES: usize = 16;

/// How often threads add their counters to the shared ones.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// How long one connection may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Highest latency the histogram tells apart (one hour, in nanoseconds);
/// anything slower is recorded as this.
const HIGHEST_LATENCY_NS: u64 = 3_600 * NANOS_PER_SEC;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The thread timer's token; connection tokens are their index in the thread.
const TIMER: Token = Token(usize::MAX);

// ------------------------------------------------------------ command line

/// A load generator for echo servers: closed-loop pingpong or pipeline over
/// TCP, fixed-rate open loop (--rate), one bulk stream, or ping-pong over UDP
/// datagrams. Checks every echoed byte.
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    after_help = "Progress goes to stderr once a second; the report to stdout.\n\
                  Exit status: 0 if no error was counted, 1 if any was (a mismatched byte, \
                  an I/O error, an unexpected end of stream, a lost echo, the in-flight bound \
                  hit, a lost, duplicated or reordered datagram) or the target could not be \
                  reached, 2 for a bad command line or a non-loopback target without \
                  --allow-remote."
)]
struct Cli {
    /// What to measure
    #[arg(long, value_enum, default_value_t = Mode::Pingpong)]
    mode: Mode,

    /// The echo server, HOST:PORT (resolved first; must be loopback unless
    /// --allow-remote)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:65432")]
    target: String,

    /// Connections [default: 50; bulk uses 1]
    #[arg(long, value_name = "C", value_parser = clap::value_parser!(u32).range(1..=200_000))]
    connections: Option<u32>,

    /// Message size in bytes, K/M suffixes allowed [default: 64; not for
    /// bulk; udp: 1 to 65507]
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
    #[arg(long, value_name = "T", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,

    /// Offered load in messages per second over all connections (open loop:
    /// each message goes out at its scheduled time, and its latency counts
    /// from then)
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    rate: Option<f64>,

    /// Bytes to stream in bulk mode, K/M/G suffixes allowed [default: 1GiB]
    #[arg(long, value_name = "BYTES", value_parser = units::parse_size)]
    bytes: Option<u64>,

    /// udp: a datagram with no echo after this many milliseconds is lost,
    /// and its socket sends the next [default: 200]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    udp_timeout_ms: Option<u64>,

    /// Print one JSON object on stdout instead of the table
    #[arg(long)]
    json: bool,

    /// Allow a target that is not a loopback address
    #[arg(long)]
    allow_remote: bool,
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
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Pingpong => "pingpong",
            Mode::Pipeline => "pipeline",
            Mode::Bulk => "bulk",
            Mode::Udp => "udp",
        }
    }
}

/// Seconds, at most a day (a longer benchmark is surely a typo).
fn parse_seconds(text: &str) -> Result<Duration, String> {
    match units::parse_seconds(text)? {
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
#[derive(Debug, Clone)]
struct Plan {
    mode: Mode,
    target: SocketAddr,
    connections: usize,
    /// Message size (bulk: 0, it has no messages).
    size: u64,
    /// Closed loop: messages in flight per connection. With `--rate` or in
    /// bulk mode: 0, there is no depth.
    depth: usize,
    threads: usize,
    rate: Option<f64>,
    /// Bulk: bytes to stream (else 0).
    bytes: u64,
    /// Zero in bulk mode.
    warmup: Duration,
    duration: Duration,
    /// udp: when a datagram with no echo is lost (else zero).
    udp_timeout: Duration,
    json: bool,
}

/// A refusal to run: one line for stderr and the exit status.
#[derive(Debug)]
struct Refusal {
    message: String,
    status: u8,
}

fn refuse(message: impl Into<String>) -> Refusal {
    Refusal {
        message: message.into(),
        status: 2,
    }
}

impl Plan {
    fn from_cli(cli: Cli) -> Result<Plan, Refusal> {
        let bulk = cli.mode == Mode::Bulk;
        if bulk {
            if cli.connections.is_some_and(|c| c != 1) {
                return Err(refuse(
                    "bulk mode streams on one connection; drop --connections",
                ));
            }
            if cli.size.is_some() || cli.depth.is_some() || cli.rate.is_some() {
                return Err(refuse(
                    "--size, --depth and --rate do not apply to bulk mode (use --bytes)",
                ));
            }
        } else if cli.bytes.is_some() {
            return Err(refuse("--bytes only applies to bulk mode"));
        }
        let udp = cli.mode == Mode::Udp;
        if udp {
            if let Some(size) = cli.size.filter(|&s| !(1..=MAX_DATAGRAM).contains(&s)) {
                return Err(refuse(format!(
                    "--size {size} does not fit a UDP datagram: 1 to {MAX_DATAGRAM} bytes"
                )));
            }
        } else if cli.udp_timeout_ms.is_some() {
            return Err(refuse("--udp-timeout-ms only applies to --mode udp"));
        }
        if cli.mode == Mode::Pingpong && cli.depth.is_some_and(|d| d != 1) {
            return Err(refuse(
                "pingpong has one message in flight; use --mode pipeline for --depth",
            ));
        }
        if cli.rate.is_some() && cli.depth.is_some() {
            return Err(refuse(
                "--depth does not apply with --rate: the schedule decides when messages go out",
            ));
        }

        let target = resolve(&cli.target)?;
        if !is_loopback(target.ip()) && !cli.allow_remote {
            return Err(refuse(format!(
                "refusing non-loopback target {target} (from '{}'); pass --allow-remote to load another host",
                cli.target
            )));
        }

        let connections = if bulk {
            1
        } else {
            cli.connections.unwrap_or(50) as usize
        };
        let depth = match (cli.mode, cli.rate) {
            (Mode::Bulk, _) | (_, Some(_)) => 0,
            (Mode::Pingpong, None) => 1,
            (Mode::Pipeline, None) => cli.depth.unwrap_or(16) as usize,
            (Mode::Udp, None) => cli.depth.unwrap_or(1) as usize,
        };
        Ok(Plan {
            mode: cli.mode,
            target,
            connections,
            size: if bulk { 0 } else { cli.size.unwrap_or(64) },
            depth,
            threads: (cli.threads as usize).min(connections),
            rate: cli.rate,
            bytes: if bulk {
                cli.bytes.unwrap_or(1 << 30)
            } else {
                0
            },
            warmup: if bulk { Duration::ZERO } else { cli.warmup },
            duration: cli.duration,
            udp_timeout: if udp {
                Duration::from_millis(cli.udp_timeout_ms.unwrap_or(DEFAULT_UDP_TIMEOUT_MS))
            } else {
                Duration::ZERO
            },
            json: cli.json,
        })
    }

    /// In bulk mode: when to give up waiting for the echo.
    fn bulk_timeout(&self) -> Duration {
        self.duration * 10 + Duration::from_secs(30)
    }
}

/// The first address `target` resolves to.
fn resolve(target: &str) -> Result<SocketAddr, Refusal> {
    let mut addrs = target
        .to_socket_addrs()
        .map_err(|e| refuse(format!("cannot resolve target '{target}': {e}")))?;
    addrs
        .next()
        .ok_or_else(|| refuse(format!("target '{target}' resolves to no address")))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

// ------------------------------------------------------------ the streams

/// The bytes every connection sends, stored twice in a row so that any run
/// of up to `PATTERN_LEN` bytes, from any offset, is one slice.
struct Pattern {
    doubled: Box<[u8]>,
}

impl Pattern {
    fn new() -> Pattern {
        // splitmix64: deterministic, so a capture of one run can be checked
        // against the next.
        let mut state: u64 = 0x0123_4567_89ab_cdef;
        let mut bytes = Vec::with_capacity(2 * PATTERN_LEN);
        while bytes.len() < PATTERN_LEN {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let take = (PATTERN_LEN - bytes.len()).min(8);
            bytes.extend_from_slice(&z.to_le_bytes()[..take]);
        }
        bytes.extend_from_within(..PATTERN_LEN);
        Pattern {
            doubled: bytes.into_boxed_slice(),
        }
    }

    /// Where connection `id` enters the pattern. 40503 is coprime to the
    /// prime length, so the first 65521 connections all get different phases.
    fn phase(id: usize) -> u64 {
        (id as u64 * 40_503) % PATTERN_LEN as u64
    }

    /// Bytes `offset..` of the stream entered at `phase`: `max_len` of them,
    /// or `PATTERN_LEN` if that is fewer.
    fn slice(&self, phase: u64, offset: u64, max_len: usize) -> &[u8] {
        let start = ((phase + offset) % PATTERN_LEN as u64) as usize;
        &self.doubled[start..start + max_len.min(PATTERN_LEN)]
    }
}

/// Reads of the monotonic clock, in nanoseconds: the clock `Instant` uses
/// and the `timerfd` is set on, so schedule times mean the same to both.
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists on
    // every Linux, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * NANOS_PER_SEC + ts.tv_nsec as u64
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

// ------------------------------------------------------------ counters

/// Everything that went wrong. Never reset at the end of the warm-up.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Errors {
    /// Chunks read that differ from what was sent (or came beyond it).
    mismatched_chunks: u64,
    /// Bytes in those chunks that differ.
    mismatched_bytes: u64,
    /// Connections ended by an I/O error.
    io_errors: u64,
    /// Connections the server closed.
    eofs: u64,
    /// Connections still waiting for echoes when the run ended.
    lost_connections: u64,
    /// Bytes those connections were still waiting for.
    lost_bytes: u64,
    /// `--rate` messages not sent because the in-flight bound was reached.
    overflows: u64,
    /// udp: datagrams that came back with a byte or the length changed, or
    /// naming no datagram sent. (Their differing bytes go to
    /// `mismatched_bytes`.)
    mismatched_datagrams: u64,
    /// udp: correct copies of a datagram already echoed.
    duplicated_datagrams: u64,
    /// udp: echoes that came after the echo of a later datagram of their
    /// socket.
    reordered_datagrams: u64,
    /// udp: datagrams with no echo within `--udp-timeout-ms`.
    lost_datagrams: u64,
    /// udp: correct copies of a datagram already counted lost. Not in the
    /// total: the loss is.
    late_datagrams: u64,
}

impl Errors {
    /// Events that went wrong (mismatched bytes are detail of the chunks
    /// and datagrams, late datagrams of the losses).
    fn total(&self) -> u64 {
        self.mismatched_chunks
            + self.io_errors
            + self.eofs
            + self.lost_connections
            + self.overflows
            + self.mismatched_datagrams
            + self.duplicated_datagrams
            + self.reordered_datagrams
            + self.lost_datagrams
    }

    fn add(&mut self, other: &Errors) {
        self.mismatched_chunks += other.mismatched_chunks;
        self.mismatched_bytes += other.mismatched_bytes;
        self.io_errors += other.io_errors;
        self.eofs += other.eofs;
        self.lost_connections += other.lost_connections;
        self.lost_bytes += other.lost_bytes;
        self.overflows += other.overflows;
        self.mismatched_datagrams += other.mismatched_datagrams;
        self.duplicated_datagrams += other.duplicated_datagrams;
        self.reordered_datagrams += other.reordered_datagrams;
        self.lost_datagrams += other.lost_datagrams;
        self.late_datagrams += other.late_datagrams;
    }
}

/// One thread's counters, plain integers on its hot path.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    /// Echoes completed, warm-up included (for the progress line).
    completed: u64,
    /// Echoes completed of messages sent in the measured time.
    measured: u64,
    /// Bytes echoed and checked, warm-up included.
    received: u64,
    /// udp: datagrams sent, warm-up included.
    datagrams_sent: u64,
    errors: Errors,
}

/// What the threads publish for the progress line, in batches.
#[derive(Default)]
struct Shared {
    completed: AtomicU64,
    received: AtomicU64,
    errors: AtomicU64,
    lost_datagrams: AtomicU64,
}

// ------------------------------------------------------------ one connection

/// What a connection's reading or writing left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing more until the next readiness event.
    Wait,
    /// The turn's budget ran out with more to do: serve it again soon.
    Again,
    /// The connection ended (an error or end of stream, already counted).
    Closed,
}

/// One connection's stream: how far it has been queued, written and
/// echoed, and the messages whose echoes are still out.
struct Conn {
    stream: TcpStream,
    phase: u64,
    /// Stream offset up to which messages were queued (bulk: the whole run).
    queued: u64,
    /// Bytes the kernel accepted.
    sent: u64,
    /// Bytes echoed back and checked.
    received: u64,
    /// Messages whose echo completed.
    completed: u64,
    /// Send (or scheduled) time of each message not fully echoed yet,
    /// oldest first. Message `completed + i` covers stream bytes
    /// `(completed + i) * size ..` of `size`.
    in_flight: VecDeque<u64>,
    alive: bool,
    listed: Listed,
}

/// Which of the thread's lists a connection (or UDP socket) is on already,
/// so that none is listed twice.
#[derive(Debug, Default, Clone, Copy)]
struct Listed {
    /// The serve-again list.
    again: bool,
    /// The to-write list (new messages due with `--rate`, or a datagram
    /// lost in a closed loop).
    dirty: bool,
}

impl Conn {
    /// Counts a failure in `counter` and ends this connection.
    fn fail(&mut self, counter: &mut u64) -> Step {
        *counter += 1;
        self.alive = false;
        Step::Closed
    }

    fn new(stream: TcpStream, id: usize, ring: usize) -> Conn {
        Conn {
            stream,
            phase: Pattern::phase(id),
            queued: 0,
            sent: 0,
            received: 0,
            completed: 0,
            in_flight: VecDeque::with_capacity(ring),
            alive: true,
            listed: Listed::default(),
        }
    }

    fn waiting_for_echoes(&self) -> bool {
        self.alive && self.received < self.queued
    }

    /// Reads and checks until the socket is empty. `to_eof`: the event said
    /// the peer closed, so read on to the end of stream even after a short
    /// read (no further edge would come for it).
    fn read_echoes(
        &mut self,
        buf: &mut [u8],
        pattern: &Pattern,
        to_eof: bool,
        tally: &mut Tally,
    ) -> Step {
        let mut budget = TURN_BUDGET;
        loop {
            match self.stream.read(buf) {
                Ok(0) => {
                    return self.fail(&mut tally.errors.eofs);
                }
                Ok(n) => {
                    self.check(&buf[..n], pattern, tally);
                    if n < buf.len() && !to_eof {
                        return Step::Wait; // a short read: the queue is empty
                    }
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        return Step::Again;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    return self.fail(&mut tally.errors.io_errors);
                }
            }
        }
    }

    /// Compares a chunk that came back with what was sent at its offset.
    fn check(&mut self, chunk: &[u8], pattern: &Pattern, tally: &mut Tally) {
        // The server can only echo what we sent; anything beyond is garbage.
        let owed = usize::try_from(self.sent - self.received).unwrap_or(usize::MAX);
        let (echo, excess) = chunk.split_at(chunk.len().min(owed));
        let mut differing = excess.len() as u64;
        let mut rest = echo;
        while !rest.is_empty() {
            let expected = pattern.slice(self.phase, self.received, rest.len());
            let (got, tail) = rest.split_at(expected.len());
            if got != expected {
                differing += got.iter().zip(expected).filter(|(a, b)| a != b).count() as u64;
            }
            self.received += got.len() as u64;
            rest = tail;
        }
        tally.received += echo.len() as u64;
        if differing > 0 {
            tally.errors.mismatched_chunks += 1;
            tally.errors.mismatched_bytes += differing;
        }
    }

    /// Retires every message whose last byte has come back.
    fn complete(
        &mut self,
        size: u64,
        now: u64,
        measure_from: u64,
        histogram: &mut Histogram<u64>,
        tally: &mut Tally,
    ) {
        while let Some(&sent_at) = self.in_flight.front() {
            if self.received < (self.completed + 1) * size {
                break;
            }
            self.in_flight.pop_front();
            self.completed += 1;
            tally.completed += 1;
            if sent_at >= measure_from {
                tally.measured += 1;
                histogram.saturating_record(now.saturating_sub(sent_at).max(1));
            }
        }
    }

    /// Closed loop: queues messages sent `now` until `depth` are in flight.
    fn top_up(&mut self, depth: usize, size: u64, now: u64) {
        while self.in_flight.len() < depth {
            self.in_flight.push_back(now);
            self.queued += size;
        }
    }

    /// Writes queued bytes until they are all out or the kernel is full.
    fn flush(&mut self, pattern: &Pattern, tally: &mut Tally) -> Step {
        let mut budget = TURN_BUDGET;
        while self.sent < self.queued {
            let want = usize::try_from(self.queued - self.sent).unwrap_or(usize::MAX);
            let bytes = pattern.slice(self.phase, self.sent, want.min(budget));
            match self.stream.write(bytes) {
                Ok(0) => {
                    return self.fail(&mut tally.errors.io_errors);
                }
                Ok(n) => {
                    self.sent += n as u64;
                    budget -= n;
                    if n < bytes.len() {
                        return Step::Wait; // the send queue is full
                    }
                    if budget == 0 && self.sent < self.queued {
                        return Step::Again;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    return self.fail(&mut tally.errors.io_errors);
                }
            }
        }
        Step::Wait
    }
}

// ------------------------------------------------------------ one UDP socket

/// What became of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Queued or sent; no echo yet.
    InFlight,
    /// An echo of it came back (correct or not).
    Echoed,
    /// No echo came within the timeout.
    Lost,
}

/// One datagram in its socket's window.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Send (or scheduled) time: latency counts from here.
    scheduled: u64,
    fate: Fate,
}

/// What one datagram that came back turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echo {
    /// The correct echo of a datagram in flight, sent (or scheduled) at
    /// `scheduled`; `reordered` if a later datagram was echoed before it.
    Correct { scheduled: u64, reordered: bool },
    /// Bytes or length differ from the datagram its sequence number names
    /// (`differing` bytes), or it names none sent.
    Mismatched { differing: u64 },
    /// A correct copy of a datagram echoed before.
    Duplicated,
    /// A correct copy of a datagram already counted lost.
    Late,
}

/// A datagram's loss deadline, in the thread's queue of them.
#[derive(Debug, Clone, Copy)]
struct Expiry {
    /// The socket's index in the thread.
    socket: usize,
    seq: u64,
    at: u64,
}

/// One UDP socket, `connect`ed to the target: its datagrams in flight and
/// what became of the recent ones.
struct Dgram {
    socket: UdpSocket,
    phase: u64,
    /// Sequence number of `window[0]`.
    base: u64,
    /// Datagrams queued so far (the next one gets this sequence number).
    queued: u64,
    /// Datagrams handed to the kernel: every sequence number below this.
    sent: u64,
    /// Datagrams `base..queued`, oldest first. The front one is always in
    /// flight: settled ones leave from the front.
    window: VecDeque<Slot>,
    /// Datagrams in the window still in flight.
    in_flight: usize,
    /// The highest sequence number echoed so far.
    highest_echoed: Option<u64>,
    /// The latest sequence numbers lost, oldest first: a datagram lost and
    /// already out of the window may still come back late.
    recent_losses: VecDeque<u64>,
    /// Registered for `WRITABLE` too: a send found the kernel full.
    wants_writable: bool,
    alive: bool,
    listed: Listed,
}

/// Bytes of sequence number at the start of a `size`-byte datagram.
fn seq_len(size: usize) -> usize {
    size.min(SEQ_LEN)
}

impl Dgram {
    fn new(socket: UdpSocket, id: usize, ring: usize) -> Dgram {
        Dgram {
            socket,
            phase: Pattern::phase(id),
            base: 0,
            queued: 0,
            sent: 0,
            window: VecDeque::with_capacity(ring),
            in_flight: 0,
            highest_echoed: None,
            recent_losses: VecDeque::new(),
            wants_writable: false,
            alive: true,
            listed: Listed::default(),
        }
    }

    fn waiting_for_echoes(&self) -> bool {
        self.alive && self.in_flight > 0
    }

    /// Queues one datagram, sent (or scheduled) at `scheduled`.
    fn queue(&mut self, scheduled: u64) {
        self.window.push_back(Slot {
            scheduled,
            fate: Fate::InFlight,
        });
        self.queued += 1;
        self.in_flight += 1;
    }

    /// Closed loop: queues datagrams sent `now` until `depth` are in flight.
    fn top_up(&mut self, depth: usize, now: u64) {
        while self.in_flight < depth {
            self.queue(now);
        }
    }

    /// The pattern bytes of datagram `seq`, after its sequence number: the
    /// socket's stream where datagram `seq` would sit in it, so that no two
    /// datagrams of a socket (or of two sockets) are alike.
    fn body<'p>(&self, pattern: &'p Pattern, seq: u64, size: usize) -> &'p [u8] {
        let header = seq_len(size);
        pattern.slice(self.phase, seq * size as u64 + header as u64, size - header)
    }

    /// Writes datagram `seq` into `out`, which is as long as a datagram.
    fn build(&self, seq: u64, pattern: &Pattern, out: &mut [u8]) {
        let size = out.len();
        let header = seq_len(size);
        out[..header].copy_from_slice(&seq.to_le_bytes()[..header]);
        out[header..].copy_from_slice(self.body(pattern, seq, size));
    }

    /// The sent datagram whose sequence number `datagram` starts with, if
    /// any: with fewer than 8 bytes of it, the most recent one sent with
    /// those low bytes.
    fn claimed_seq(&self, datagram: &[u8], size: usize) -> Option<u64> {
        let header = seq_len(size);
        if datagram.len() < header || self.sent == 0 {
            return None;
        }
        let mut bytes = [0u8; SEQ_LEN];
        bytes[..header].copy_from_slice(&datagram[..header]);
        let tag = u64::from_le_bytes(bytes);
        let seq = if header == SEQ_LEN {
            tag
        } else {
            let mask = (1u64 << (8 * header)) - 1;
            let last = self.sent - 1;
            last.checked_sub(last.wrapping_sub(tag) & mask)?
        };
        (seq < self.sent).then_some(seq)
    }

    /// The window's slot of datagram `seq`, if it is still there.
    fn slot(&mut self, seq: u64) -> Option<&mut Slot> {
        let index = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.window.get_mut(index)
    }

    /// Gives datagram `seq` its `fate` if it is in flight, and returns its
    /// send (or scheduled) time then.
    fn settle(&mut self, seq: u64, fate: Fate) -> Option<u64> {
        let slot = self.slot(seq).filter(|slot| slot.fate == Fate::InFlight)?;
        slot.fate = fate;
        let scheduled = slot.scheduled;
        self.in_flight -= 1;
        while self
            .window
            .front()
            .is_some_and(|slot| slot.fate != Fate::InFlight)
        {
            self.window.pop_front();
            self.base += 1;
        }
        Some(scheduled)
    }

    /// Its deadline passed: datagram `seq`, if still in flight, is lost.
    /// Returns whether it was.
    fn lose(&mut self, seq: u64) -> bool {
        if self.settle(seq, Fate::Lost).is_none() {
            return false;
        }
        if self.recent_losses.len() == RECENT_LOSSES {
            self.recent_losses.pop_front();
        }
        self.recent_losses.push_back(seq);
        true
    }

    /// Checks a datagram that came back against the one it names, and
    /// settles that one if it was in flight.
    fn receive(&mut self, datagram: &[u8], size: usize, pattern: &Pattern) -> Echo {
        let Some(seq) = self.claimed_seq(datagram, size) else {
            return Echo::Mismatched {
                differing: datagram.len().max(1) as u64,
            };
        };
        let got = &datagram[seq_len(size)..];
        let expected = self.body(pattern, seq, size);
        if got != expected {
            let differing = got.len().abs_diff(expected.len())
                + got.iter().zip(expected).filter(|(a, b)| a != b).count();
            // A corrupt echo is still an echo: its datagram is not lost too.
            self.settle(seq, Fate::Echoed);
            return Echo::Mismatched {
                differing: differing as u64,
            };
        }
        match self.slot(seq).map(|slot| slot.fate) {
            Some(Fate::InFlight) => {
                let scheduled = self.settle(seq, Fate::Echoed).unwrap_or_default();
                let reordered = self.highest_echoed.is_some_and(|highest| seq < highest);
                self.highest_echoed = Some(self.highest_echoed.map_or(seq, |h| h.max(seq)));
                Echo::Correct {
                    scheduled,
                    reordered,
                }
            }
            Some(Fate::Echoed) => Echo::Duplicated,
            Some(Fate::Lost) => Echo::Late,
            None if self.recent_losses.contains(&seq) => Echo::Late,
            None => Echo::Duplicated,
        }
    }
}

/// Counts one datagram that came back, received `now`.
fn record(
    echo: Echo,
    now: u64,
    measure_from: u64,
    histogram: &mut Histogram<u64>,
    tally: &mut Tally,
) {
    match echo {
        Echo::Correct {
            scheduled,
            reordered,
        } => {
            tally.completed += 1;
            tally.errors.reordered_datagrams += u64::from(reordered);
            if scheduled >= measure_from {
                tally.measured += 1;
                histogram.saturating_record(now.saturating_sub(scheduled).max(1));
            }
        }
        Echo::Mismatched { differing } => {
            tally.errors.mismatched_datagrams += 1;
            tally.errors.mismatched_bytes += differing;
        }
        Echo::Duplicated => tally.errors.duplicated_datagrams += 1,
        Echo::Late => tally.errors.late_datagrams += 1,
    }
}

/// A thread's UDP sockets, and what they share.
struct Udp {
    sockets: Vec<Dgram>,
    /// The loss deadline of every datagram sent and not yet due, in send
    /// order, which is deadline order (every datagram gets the same
    /// timeout). One whose datagram was echoed meanwhile is dropped when
    /// it comes up.
    expiries: VecDeque<Expiry>,
    timeout_ns: u64,
    /// Deadlines are rounded up to a multiple of this, a sixteenth of the
    /// timeout: then the entries of the datagrams echoed in time, which
    /// stay queued until their deadline, wake the thread at most 16 times
    /// per timeout, not once per datagram.
    deadline_step_ns: u64,
    /// The datagram being sent.
    out: Vec<u8>,
    /// The first I/O error, for the report.
    first_error: Option<io::Error>,
}

// ------------------------------------------------------------ the thread's timer

/// A `timerfd` in the thread's poll, set for the thread's next deadline:
/// the next due message (`--rate`), the next publish, the end. It fires to
/// the nanosecond (an `epoll_wait` timeout counts in milliseconds) and is
/// re-armed only when that deadline changes, so the poll itself waits with
/// no timeout. That matters more than it seems: a timeout arms and cancels a
/// kernel timer on every wait, and in a virtual machine each timer change
/// can exit to the hypervisor; at a few thousand waits a second this cost
/// the load generator several times the CPU the server spent.
/// (`mio::unix::SourceFd` needs mio's `os-ext` feature, which
/// `signal-hook-mio`, a dependency of the server, turns on.)
struct Timer {
    fd: OwnedFd,
    armed_for: u64,
}

impl Timer {
    fn new(registry: &mio::Registry) -> io::Result<Timer> {
        // SAFETY: plain system call; the result is checked before use.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), TIMER, Interest::READABLE)?;
        Ok(Timer { fd, armed_for: 0 })
    }

    /// Fires once at `at_ns` on the monotonic clock. Re-arming also clears
    /// an expiry not yet read, so the descriptor never needs reading: each
    /// expiry is a fresh edge.
    fn arm(&mut self, at_ns: u64) -> io::Result<()> {
        if at_ns == self.armed_for {
            return Ok(());
        }
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (at_ns / NANOS_PER_SEC) as libc::time_t,
                tv_nsec: (at_ns % NANOS_PER_SEC) as libc::c_long,
            },
        };
        // SAFETY: `spec` is a valid itimerspec, the old value is not asked
        // for, and the descriptor is ours.
        let result = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed_for = at_ns;
        Ok(())
    }
}

/// A thread's share of `--rate`: message `k` is due at
/// `first + k * period`, on connection `k mod connections`.
struct Schedule {
    first: u64,
    period_ns: f64,
    offset_ns: f64,
    k: u64,
    next_due: u64,
    next_conn: usize,
}

impl Schedule {
    fn advance(&mut self, connections: usize) {
        self.k += 1;
        self.next_conn = (self.next_conn + 1) % connections;
        self.next_due = self.first + (self.offset_ns + self.k as f64 * self.period_ns) as u64;
    }
}

// ------------------------------------------------------------ one thread

/// The run's phases on one thread, as monotonic-clock nanoseconds.
#[derive(Debug, Clone, Copy, Default)]
struct Timeline {
    start: u64,
    /// Messages sent from here on are measured.
    measure_from: u64,
    /// No message is sent from here on (bulk: everything is queued at once).
    stop_sending: u64,
    /// Echoes still missing now are lost.
    give_up: u64,
}

/// What a thread hands back when it is done.
struct ThreadReport {
    histogram: Histogram<u64>,
    tally: Tally,
    timeline: Timeline,
    /// When the last echo came back, or the thread gave up.
    finished_at: u64,
    /// udp: the first I/O error of a socket.
    first_error: Option<io::Error>,
}

/// A socket handed to a thread, connected to the target.
enum Opened {
    Tcp(StdTcpStream),
    Udp(StdUdpSocket),
}

/// The list flags of connection or UDP socket `i`.
fn listed<'a>(conns: &'a mut [Conn], udp: &'a mut Option<Udp>, i: usize) -> &'a mut Listed {
    match udp {
        Some(udp) => &mut udp.sockets[i].listed,
        None => &mut conns[i].listed,
    }
}

/// One thread: its own poll, its share of the connections, its histogram.
struct Worker {
    poll: Poll,
    /// The TCP connections (none in udp mode).
    conns: Vec<Conn>,
    /// udp mode: the UDP sockets and their loss deadlines.
    udp: Option<Udp>,
    pattern: Arc<Pattern>,
    buf: Vec<u8>,
    mode: Mode,
    size: u64,
    /// Closed loop: the depth; `--rate`: the safety bound.
    in_flight_limit: usize,
    schedule: Option<Schedule>,
    timer: Timer,
    warmup: Duration,
    duration: Duration,
    bulk_bytes: u64,
    bulk_timeout: Duration,
    timeline: Timeline,
    histogram: Histogram<u64>,
    tally: Tally,
    /// Connections not ended by an error or end of stream.
    alive: usize,
    /// Connections to serve again after the next poll (budget spent).
    again: Vec<usize>,
    /// Connections with newly queued messages to write (`--rate`, or a
    /// UDP loss in a closed loop).
    dirty: Vec<usize>,
    shared: Arc<Shared>,
    published: Tally,
    next_publish: u64,
}

impl Worker {
    fn new(
        index: usize,
        opened: Vec<(usize, Opened)>,
        plan: &Plan,
        pattern: Arc<Pattern>,
        shared: Arc<Shared>,
    ) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let open_loop_bound = (IN_FLIGHT_TOTAL / plan.connections).max(MIN_IN_FLIGHT_BOUND);
        let in_flight_limit = if plan.rate.is_some() {
            open_loop_bound
        } else {
            plan.depth
        };
        // The ring holds every timestamp in flight without growing, in
        // closed loop; with --rate it grows (rarely) only if the server
        // falls behind.
        let ring = if plan.rate.is_some() { 64 } else { plan.depth };
        let mut conns = Vec::new();
        let mut sockets = Vec::new();
        for (token, (id, opened)) in opened.into_iter().enumerate() {
            match opened {
                Opened::Tcp(stream) => {
                    let mut stream = TcpStream::from_std(stream);
                    poll.registry().register(
                        &mut stream,
                        Token(token),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    conns.push(Conn::new(stream, id, ring));
                }
                Opened::Udp(socket) => {
                    // WRITABLE only while a send waits (see `flush_udp`).
                    let mut socket = UdpSocket::from_std(socket);
                    poll.registry()
                        .register(&mut socket, Token(token), Interest::READABLE)?;
                    sockets.push(Dgram::new(socket, id, ring));
                }
            }
        }
        let connections = conns.len() + sockets.len();
        let udp = (plan.mode == Mode::Udp).then(|| Udp {
            sockets,
            expiries: VecDeque::new(),
            timeout_ns: nanos(plan.udp_timeout),
            deadline_step_ns: (nanos(plan.udp_timeout) / 16).max(1),
            out: vec![0; plan.size as usize],
            first_error: None,
        });
        let schedule = match plan.rate {
            Some(rate) => {
                let thread_rate = rate * connections as f64 / plan.connections as f64;
                let period_ns = 1e9 / thread_rate;
                Some(Schedule {
                    first: 0,
                    period_ns,
                    // Threads take turns within one period.
                    offset_ns: period_ns * index as f64 / plan.threads as f64,
                    k: 0,
                    next_due: 0,
                    next_conn: 0,
                })
            }
            None => None,
        };
        let timer = Timer::new(poll.registry())?;
        let buf_size = if plan.mode == Mode::Bulk {
            256 << 10
        } else {
            // Larger than any datagram, so none is ever cut short.
            64 << 10
        };
        Ok(Worker {
            poll,
            conns,
            udp,
            pattern,
            buf: vec![0; buf_size],
            mode: plan.mode,
            size: plan.size,
            in_flight_limit,
            schedule,
            timer,
            warmup: plan.warmup,
            duration: plan.duration,
            bulk_bytes: plan.bytes,
            bulk_timeout: plan.bulk_timeout(),
            timeline: Timeline::default(),
            histogram: new_histogram(),
            tally: Tally::default(),
            alive: connections,
            again: Vec::with_capacity(connections),
            dirty: Vec::with_capacity(connections),
            shared,
            published: Tally::default(),
            next_publish: 0,
        })
    }

    fn closed_loop(&self) -> bool {
        self.mode != Mode::Bulk && self.schedule.is_none()
    }

    /// Connections (or UDP sockets) on this thread.
    fn connections(&self) -> usize {
        match &self.udp {
            Some(udp) => udp.sockets.len(),
            None => self.conns.len(),
        }
    }

    fn waiting_for_echoes(&self) -> bool {
        match &self.udp {
            Some(udp) => udp.sockets.iter().any(Dgram::waiting_for_echoes),
            None => self.conns.iter().any(Conn::waiting_for_echoes),
        }
    }

    /// Waits at `start_line` with the other threads, then runs the load
    /// until every echo is back or it is time to give up.
    fn run(mut self, start_line: &Barrier) -> ThreadReport {
        start_line.wait();
        let start = now_ns();
        self.timeline = if self.mode == Mode::Bulk {
            Timeline {
                start,
                measure_from: start,
                stop_sending: start,
                give_up: start + nanos(self.bulk_timeout),
            }
        } else {
            let measure_from = start + nanos(self.warmup);
            let stop_sending = measure_from + nanos(self.duration);
            // A datagram sent before `stop_sending` is settled by its
            // deadline at the latest.
            let udp_timeout = self.udp.as_ref().map_or(0, |udp| udp.timeout_ns);
            Timeline {
                start,
                measure_from,
                stop_sending,
                give_up: stop_sending + nanos(DRAIN).max(udp_timeout),
            }
        };
        self.next_publish = start + nanos(PUBLISH_EVERY);
        self.kick_off(start);

        let mut events = Events::with_capacity(1024);
        let finished_at = loop {
            let now = now_ns();
            self.expire(now);
            self.publish(now);
            let sending = now < self.timeline.stop_sending;
            if !sending && !self.waiting_for_echoes() {
                break now;
            }
            if now >= self.timeline.give_up || self.alive == 0 {
                break now;
            }
            let timeout = if self.again.is_empty() {
                if self.timer.arm(self.next_deadline(sending)).is_err() {
                    self.tally.errors.io_errors += 1;
                    break now;
                }
                None // the timer wakes us
            } else {
                Some(Duration::ZERO) // connections wait for their turn
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.tally.errors.io_errors += 1;
                break now_ns();
            }
            let connections = self.connections();
            for event in events.iter() {
                let token = event.token().0;
                if event.token() == TIMER || token >= connections {
                    continue; // the timer only wakes us; send_due does the work
                }
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                self.serve(token, readable, event.is_read_closed());
            }
            self.serve_again();
            if self.schedule.is_some() {
                self.send_due(now_ns());
            }
        };
        for conn in &self.conns {
            if conn.waiting_for_echoes() {
                self.tally.errors.lost_connections += 1;
                self.tally.errors.lost_bytes += conn.queued - conn.received;
            }
        }
        let mut first_error = None;
        if let Some(udp) = self.udp.take() {
            // Only datagrams the kernel never took can still be in flight.
            for socket in udp.sockets.iter().filter(|s| s.waiting_for_echoes()) {
                self.tally.errors.lost_datagrams += socket.in_flight as u64;
            }
            first_error = udp.first_error;
        }
        self.next_publish = 0;
        self.publish(finished_at);
        ThreadReport {
            histogram: self.histogram,
            tally: self.tally,
            timeline: self.timeline,
            finished_at,
            first_error,
        }
    }

    /// When the loop must wake up next even if no socket is ready.
    fn next_deadline(&self, sending: bool) -> u64 {
        let mut deadline = self.next_publish.min(self.timeline.give_up);
        if sending {
            deadline = deadline.min(self.timeline.stop_sending);
            if let Some(schedule) = &self.schedule {
                deadline = deadline.min(schedule.next_due);
            }
        }
        if let Some(expiry) = self.udp.as_ref().and_then(|udp| udp.expiries.front()) {
            deadline = deadline.min(expiry.at);
        }
        deadline
    }

    /// The first writes of the run.
    fn kick_off(&mut self, now: u64) {
        match self.mode {
            Mode::Bulk => {
                for conn in &mut self.conns {
                    conn.queued = self.bulk_bytes;
                }
            }
            _ if self.closed_loop() => {
                for conn in &mut self.conns {
                    conn.top_up(self.in_flight_limit, self.size, now);
                }
                for socket in self.udp.iter_mut().flat_map(|udp| &mut udp.sockets) {
                    socket.top_up(self.in_flight_limit, now);
                }
            }
            _ => {
                if let Some(schedule) = &mut self.schedule {
                    schedule.first = now;
                    schedule.next_due = now + schedule.offset_ns as u64;
                }
                self.send_due(now);
                return;
            }
        }
        for i in 0..self.connections() {
            self.write(i);
        }
    }

    /// Handles readiness of connection `i`: read and check the echoes,
    /// retire completed messages, queue new ones (closed loop), write.
    fn serve(&mut self, i: usize, readable: bool, to_eof: bool) {
        if self.udp.is_some() {
            return self.serve_udp(i, readable);
        }
        let conn = &mut self.conns[i];
        if !conn.alive {
            return;
        }
        let mut again = false;
        if readable {
            match conn.read_echoes(&mut self.buf, &self.pattern, to_eof, &mut self.tally) {
                Step::Closed => {
                    self.alive -= 1;
                    return;
                }
                Step::Again => again = true,
                Step::Wait => {}
            }
            let now = now_ns();
            conn.complete(
                self.size,
                now,
                self.timeline.measure_from,
                &mut self.histogram,
                &mut self.tally,
            );
            if self.mode != Mode::Bulk
                && self.schedule.is_none()
                && now < self.timeline.stop_sending
            {
                conn.top_up(self.in_flight_limit, self.size, now);
            }
        }
        match conn.flush(&self.pattern, &mut self.tally) {
            Step::Closed => {
                self.alive -= 1;
                return;
            }
            Step::Again => again = true,
            Step::Wait => {}
        }
        if again {
            self.list_again(i);
        }
    }

    /// udp: handles readiness of socket `i`: receive and check datagrams
    /// until there are none (or the turn's budget is spent), queue new ones
    /// (closed loop), send.
    fn serve_udp(&mut self, i: usize, readable: bool) {
        let closed_loop = self.closed_loop();
        let Some(udp) = &mut self.udp else { return };
        let socket = &mut udp.sockets[i];
        if !socket.alive {
            return;
        }
        let mut again = false;
        if readable {
            let size = self.size as usize;
            let mut budget = DATAGRAMS_PER_TURN;
            loop {
                if budget == 0 {
                    again = true;
                    break;
                }
                match socket.socket.recv(&mut self.buf) {
                    Ok(n) => {
                        budget -= 1;
                        self.tally.received += n as u64;
                        let echo = socket.receive(&self.buf[..n], size, &self.pattern);
                        let measure_from = self.timeline.measure_from;
                        record(
                            echo,
                            now_ns(),
                            measure_from,
                            &mut self.histogram,
                            &mut self.tally,
                        );
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        socket.alive = false;
                        udp.first_error.get_or_insert(e);
                        self.tally.errors.io_errors += 1;
                        self.alive -= 1;
                        return;
                    }
                }
            }
            let now = now_ns();
            if closed_loop && now < self.timeline.stop_sending {
                socket.top_up(self.in_flight_limit, now);
            }
        }
        match self.flush_udp(i) {
            Step::Closed => {
                self.alive -= 1;
                return;
            }
            Step::Again => again = true,
            Step::Wait => {}
        }
        if again {
            self.list_again(i);
        }
    }

    /// udp: sends socket `i`'s queued datagrams until they are all out, the
    /// kernel is full (then the socket asks for `WRITABLE` until they are
    /// out), or the turn's budget is spent. A datagram goes whole or not at
    /// all.
    fn flush_udp(&mut self, i: usize) -> Step {
        let Some(udp) = &mut self.udp else {
            return Step::Wait;
        };
        let Udp {
            sockets,
            expiries,
            timeout_ns,
            deadline_step_ns: step_ns,
            out,
            first_error,
        } = udp;
        let socket = &mut sockets[i];
        if !socket.alive {
            return Step::Wait;
        }
        let deadline = (now_ns() + *timeout_ns).div_ceil(*step_ns) * *step_ns;
        let mut budget = DATAGRAMS_PER_TURN;
        let step = loop {
            if socket.sent == socket.queued {
                break Step::Wait;
            }
            if budget == 0 {
                break Step::Again;
            }
            let seq = socket.sent;
            socket.build(seq, &self.pattern, out);
            match socket.socket.send(out) {
                Ok(_) => {
                    budget -= 1;
                    socket.sent += 1;
                    self.tally.datagrams_sent += 1;
                    expiries.push_back(Expiry {
                        socket: i,
                        seq,
                        at: deadline,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !socket.wants_writable {
                        socket.wants_writable = true;
                        if let Err(e) = self.poll.registry().reregister(
                            &mut socket.socket,
                            Token(i),
                            Interest::READABLE | Interest::WRITABLE,
                        ) {
                            first_error.get_or_insert(e);
                            break Step::Closed;
                        }
                    }
                    return Step::Wait;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                    break Step::Closed;
                }
            }
        };
        if step == Step::Closed {
            socket.alive = false;
            self.tally.errors.io_errors += 1;
        } else if socket.wants_writable && socket.sent == socket.queued {
            socket.wants_writable = false;
            if let Err(e) =
                self.poll
                    .registry()
                    .reregister(&mut socket.socket, Token(i), Interest::READABLE)
            {
                first_error.get_or_insert(e);
                socket.alive = false;
                self.tally.errors.io_errors += 1;
                return Step::Closed;
            }
        }
        step
    }

    /// udp: every datagram whose deadline has passed without an echo is
    /// lost; in a closed loop its socket sends the next one at once.
    fn expire(&mut self, now: u64) {
        let refill = self.closed_loop() && now < self.timeline.stop_sending;
        let Some(udp) = &mut self.udp else { return };
        while let Some(&Expiry { socket: i, seq, at }) = udp.expiries.front() {
            if at > now {
                break;
            }
            udp.expiries.pop_front();
            let socket = &mut udp.sockets[i];
            if !(socket.alive && socket.lose(seq)) {
                continue; // echoed in time
            }
            self.tally.errors.lost_datagrams += 1;
            if refill {
                socket.top_up(self.in_flight_limit, now);
                if !socket.listed.dirty {
                    socket.listed.dirty = true;
                    self.dirty.push(i);
                }
            }
        }
        self.write_dirty();
    }

    /// Writes connection `i`'s queued bytes (or datagrams).
    fn write(&mut self, i: usize) {
        let step = if self.udp.is_some() {
            self.flush_udp(i)
        } else {
            let conn = &mut self.conns[i];
            if !conn.alive {
                return;
            }
            conn.flush(&self.pattern, &mut self.tally)
        };
        match step {
            Step::Closed => self.alive -= 1,
            Step::Again => self.list_again(i),
            Step::Wait => {}
        }
    }

    fn list_again(&mut self, i: usize) {
        let listed = listed(&mut self.conns, &mut self.udp, i);
        if !listed.again {
            listed.again = true;
            self.again.push(i);
        }
    }

    /// Serves the connections whose budget ran out last turn.
    fn serve_again(&mut self) {
        let listed_now = self.again.len();
        for n in 0..listed_now {
            let i = self.again[n];
            listed(&mut self.conns, &mut self.udp, i).again = false;
            self.serve(i, true, false);
        }
        self.again.drain(..listed_now);
    }

    /// `--rate`: queues every message due by `now` and writes them (one
    /// write per connection however many came due).
    fn send_due(&mut self, now: u64) {
        let Some(mut schedule) = self.schedule.take() else {
            return;
        };
        let connections = self.connections();
        let horizon = now.min(self.timeline.stop_sending.saturating_sub(1));
        while schedule.next_due <= horizon {
            self.queue_due(schedule.next_conn, schedule.next_due);
            schedule.advance(connections);
        }
        self.schedule = Some(schedule);
        self.write_dirty();
    }

    /// `--rate`: queues one message due at `due` on connection `i`, unless
    /// that would pass the in-flight bound.
    fn queue_due(&mut self, i: usize, due: u64) {
        let limit = self.in_flight_limit;
        let listed = match &mut self.udp {
            Some(udp) => {
                let socket = &mut udp.sockets[i];
                if !socket.alive {
                    return;
                }
                if socket.in_flight >= limit {
                    self.tally.errors.overflows += 1;
                    return;
                }
                socket.queue(due);
                &mut socket.listed
            }
            None => {
                let conn = &mut self.conns[i];
                if !conn.alive {
                    return;
                }
                if conn.in_flight.len() >= limit {
                    self.tally.errors.overflows += 1;
                    return;
                }
                conn.in_flight.push_back(due);
                conn.queued += self.size;
                &mut conn.listed
            }
        };
        if !listed.dirty {
            listed.dirty = true;
            self.dirty.push(i);
        }
    }

    /// Writes every connection on the to-write list.
    fn write_dirty(&mut self) {
        for n in 0..self.dirty.len() {
            let i = self.dirty[n];
            listed(&mut self.conns, &mut self.udp, i).dirty = false;
            self.write(i);
        }
        self.dirty.clear();
    }

    /// Adds what changed since the last time to the shared counters, at
    /// most once per `PUBLISH_EVERY` (`next_publish = 0` forces it).
    fn publish(&mut self, now: u64) {
        if now < self.next_publish {
            return;
        }
        self.next_publish = now + nanos(PUBLISH_EVERY);
        let (new, old) = (&self.tally, &self.published);
        let shared = &self.shared;
        shared
            .completed
            .fetch_add(new.completed - old.completed, Ordering::Relaxed);
        shared
            .received
            .fetch_add(new.received - old.received, Ordering::Relaxed);
        shared
            .errors
            .fetch_add(new.errors.total() - old.errors.total(), Ordering::Relaxed);
        shared.lost_datagrams.fetch_add(
            new.errors.lost_datagrams - old.errors.lost_datagrams,
            Ordering::Relaxed,
        );
        self.published = self.tally;
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_LATENCY_NS, 3).expect("constant, valid bounds")
}

// ------------------------------------------------------------ the run

/// The merged result.
struct Summary {
    /// Seconds measured: `--duration`, or in bulk mode until the last echo.
    seconds: f64,
    /// Measured echoes (bulk: none).
    messages: u64,
    /// Payload bytes echoed in the measured time, one direction.
    bytes: u64,
    histogram: Histogram<u64>,
    errors: Errors,
    /// udp: datagrams sent, warm-up included.
    datagrams_sent: u64,
    /// udp: the first I/O error of a socket.
    first_error: Option<io::Error>,
}

/// Runs the load generator with `args` (the first is the program name),
/// writing the report to `out` and progress and errors to `err`; returns
/// the exit status. `main` is this with the process's arguments and
/// streams; the integration tests call it directly.
pub fn run(args: Vec<OsString>, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = write!(out, "{e}");
            return 0;
        }
        Err(e) => {
            // One line, not clap's multi-line report: scripts read stderr.
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            let message = first.strip_prefix("error: ").unwrap_or(first);
            let _ = writeln!(err, "loadgen: {message} (see --help)");
            return 2;
        }
    };
    let plan = match Plan::from_cli(cli) {
        Ok(plan) => plan,
        Err(refusal) => {
            let _ = writeln!(err, "loadgen: {}", refusal.message);
            return refusal.status;
        }
    };
    match execute(&plan, err) {
        Ok(summary) => {
            let _ = if plan.json {
                write_json(out, &plan, &summary)
            } else {
                write_table(out, &plan, &summary)
            };
            if let Some(e) = &summary.first_error {
                let hint = if e.kind() == io::ErrorKind::ConnectionRefused {
                    " (nothing receives UDP there: is the server running, and with --udp?)"
                } else {
                    ""
                };
                let _ = writeln!(
                    err,
                    "loadgen: {} of {} UDP sockets failed; the first: {e}{hint}",
                    summary.errors.io_errors, plan.connections
                );
            }
            u8::from(summary.errors.total() > 0)
        }
        Err(message) => {
            let _ = writeln!(err, "loadgen: {message}");
            1
        }
    }
}

/// Connects, runs the threads, prints progress, merges their reports.
fn execute(plan: &Plan, err: &mut dyn Write) -> Result<Summary, String> {
    // Many connections need many descriptors; the soft limit is often 1024.
    let _ = echo_reactor::fd_limit::raise_nofile_limit();

    let mut groups: Vec<Vec<(usize, Opened)>> = (0..plan.threads).map(|_| Vec::new()).collect();
    for id in 0..plan.connections {
        let opened = if plan.mode == Mode::Udp {
            open_udp(plan.target).map(Opened::Udp).map_err(|e| {
                format!(
                    "cannot open a UDP socket to {} (socket {} of {}): {e}",
                    plan.target,
                    id + 1,
                    plan.connections
                )
            })?
        } else {
            StdTcpStream::connect_timeout(&plan.target, CONNECT_TIMEOUT)
                .and_then(|s| s.set_nodelay(true).and(s.set_nonblocking(true)).map(|()| s))
                .map(Opened::Tcp)
                .map_err(|e| {
                    format!(
                        "cannot connect to {} (connection {} of {}): {e}",
                        plan.target,
                        id + 1,
                        plan.connections
                    )
                })?
        };
        groups[id % plan.threads].push((id, opened));
    }

    let pattern = Arc::new(Pattern::new());
    let shared = Arc::new(Shared::default());
    let workers = groups
        .into_iter()
        .enumerate()
        .map(|(index, streams)| Worker::new(index, streams, plan, pattern.clone(), shared.clone()))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("cannot set up the poll: {e}"))?;

    let threads = workers.len();
    let start_line = Arc::new(Barrier::new(threads + 1));
    let (reports_tx, reports) = mpsc::channel();
    let handles: Vec<_> = workers
        .into_iter()
        .enumerate()
        .map(|(index, worker)| {
            let start_line = start_line.clone();
            let reports_tx = reports_tx.clone();
            thread::Builder::new()
                .name(format!("loadgen-{index}"))
                .spawn(move || {
                    let _ = reports_tx.send(worker.run(&start_line));
                })
                .expect("spawn a load thread")
        })
        .collect();
    drop(reports_tx);
    start_line.wait();

    // Progress once a second until every thread has reported. Each wait is
    // bounded; the threads end by themselves at their deadlines.
    let start = now_ns();
    let mut collected = Vec::with_capacity(threads);
    let mut last = (start, 0u64, 0u64);
    let mut next_tick = start + NANOS_PER_SEC;
    while collected.len() < threads {
        let wait = Duration::from_nanos(next_tick.saturating_sub(now_ns()));
        match reports.recv_timeout(wait) {
            Ok(report) => collected.push(report),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                last = progress(err, plan, &shared, start, last);
                next_tick += NANOS_PER_SEC;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let mut panicked = false;
    for handle in handles {
        panicked |= handle.join().is_err();
    }
    if panicked || collected.len() < threads {
        return Err("a load thread failed".into());
    }
    Ok(summarize(plan, collected))
}

/// A non-blocking UDP socket on an ephemeral port (port 0: the kernel
/// picks one), `connect`ed to `target` so that it receives only the
/// target's datagrams. Bound to the loopback address of the target's
/// family when the target is loopback, else to any address.
fn open_udp(target: SocketAddr) -> io::Result<StdUdpSocket> {
    let local: SocketAddr = match target.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => (Ipv4Addr::LOCALHOST, 0).into(),
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(ip) if ip.is_loopback() => (Ipv6Addr::LOCALHOST, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = StdUdpSocket::bind(local)?;
    socket.connect(target)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Prints one progress line; returns the new (time, completed, received).
fn progress(
    err: &mut dyn Write,
    plan: &Plan,
    shared: &Shared,
    start: u64,
    (last_time, last_completed, last_received): (u64, u64, u64),
) -> (u64, u64, u64) {
    let now = now_ns();
    let completed = shared.completed.load(Ordering::Relaxed);
    let received = shared.received.load(Ordering::Relaxed);
    let errors = shared.errors.load(Ordering::Relaxed);
    let seconds = (now - last_time) as f64 / 1e9;
    let elapsed = (now - start) as f64 / 1e9;
    let rate = (received - last_received) as f64 / seconds;
    let _ = if plan.mode == Mode::Bulk {
        writeln!(
            err,
            "[{elapsed:6.1}s] {:8.3} GB/s   {:.1} of {:.1} MiB echoed   errors {errors}",
            rate / 1e9,
            received as f64 / (1 << 20) as f64,
            plan.bytes as f64 / (1 << 20) as f64,
        )
    } else {
        let phase = if elapsed < plan.warmup.as_secs_f64() {
            "  (warm-up)"
        } else {
            ""
        };
        let lost = if plan.mode == Mode::Udp {
            let lost = shared.lost_datagrams.load(Ordering::Relaxed);
            format!(" (lost datagrams {lost})")
        } else {
            String::new()
        };
        writeln!(
            err,
            "[{elapsed:6.1}s] {:10.0} msg/s {:9.2} MB/s   errors {errors}{lost}{phase}",
            (completed - last_completed) as f64 / seconds,
            rate / 1e6,
        )
    };
    (now, completed, received)
}

fn summarize(plan: &Plan, reports: Vec<ThreadReport>) -> Summary {
    let mut histogram = new_histogram();
    let mut errors = Errors::default();
    let mut messages = 0;
    let mut received = 0;
    let mut datagrams_sent = 0;
    let mut first_error = None;
    let mut bulk_seconds: f64 = 0.0;
    for report in reports {
        // Same bounds everywhere, so adding cannot fail.
        let _ = histogram.add(&report.histogram);
        errors.add(&report.tally.errors);
        messages += report.tally.measured;
        received += report.tally.received;
        datagrams_sent += report.tally.datagrams_sent;
        first_error = first_error.or(report.first_error);
        let elapsed = report.finished_at - report.timeline.start;
        bulk_seconds = bulk_seconds.max(elapsed as f64 / 1e9);
    }
    if plan.mode == Mode::Bulk {
        Summary {
            seconds: bulk_seconds,
            messages: 0,
            bytes: received,
            histogram,
            errors,
            datagrams_sent,
            first_error,
        }
    } else {
        Summary {
            seconds: plan.duration.as_secs_f64(),
            messages,
            bytes: messages * plan.size,
            histogram,
            errors,
            datagrams_sent,
            first_error,
        }
    }
}

// ------------------------------------------------------------ the report

fn micros(ns: u64) -> f64 {
    ns as f64 / 1e3
}

/// (p50, p99, p99.9, max, mean) in microseconds; `None` without samples.
fn latencies(histogram: &Histogram<u64>) -> Option<[f64; 5]> {
    (!histogram.is_empty()).then(|| {
        [
            micros(histogram.value_at_quantile(0.50)),
            micros(histogram.value_at_quantile(0.99)),
            micros(histogram.value_at_quantile(0.999)),
            micros(histogram.max()),
            histogram.mean() / 1e3,
        ]
    })
}

fn write_table(out: &mut dyn Write, plan: &Plan, s: &Summary) -> io::Result<()> {
    let bulk = plan.mode == Mode::Bulk;
    let udp = plan.mode == Mode::Udp;
    let dash = || "-".to_string();
    let mut rows: Vec<(&str, String)> = vec![
        ("mode", plan.mode.name().into()),
        ("target", plan.target.to_string()),
        (
            "connections",
            if udp {
                format!("{} (UDP sockets)", plan.connections)
            } else {
                plan.connections.to_string()
            },
        ),
        (
            "size",
            if bulk {
                dash()
            } else {
                format!("{} B", plan.size)
            },
        ),
        (
            "depth",
            if plan.depth == 0 {
                dash()
            } else {
                plan.depth.to_string()
            },
        ),
        ("threads", plan.threads.to_string()),
        (
            "rate",
            match plan.rate {
                Some(rate) => {
                    format!("{rate} msg/s offered (open loop, latency from scheduled send times)")
                }
                None if bulk => dash(),
                None => "closed loop".into(),
            },
        ),
        (
            "duration",
            if bulk {
                format!("{:.3} s, until the last byte came back", s.seconds)
            } else {
                format!(
                    "{:.3} s measured, after {:.3} s warm-up",
                    s.seconds,
                    plan.warmup.as_secs_f64()
                )
            },
        ),
        (
            "messages",
            if bulk { dash() } else { s.messages.to_string() },
        ),
        (
            "messages/s",
            if bulk {
                dash()
            } else {
                format!("{:.1}", s.messages as f64 / s.seconds)
            },
        ),
        (
            "bytes",
            if bulk {
                format!("{} of {}", s.bytes, plan.bytes)
            } else {
                s.bytes.to_string()
            },
        ),
        ("MB/s", format!("{:.2}", s.bytes as f64 / s.seconds / 1e6)),
        (
            "GB/s",
            if bulk {
                format!("{:.3}", s.bytes as f64 / s.seconds / 1e9)
            } else {
                dash()
            },
        ),
        (
            "latency (µs)",
            match latencies(&s.histogram) {
                Some([p50, p99, p999, max, mean]) => format!(
                    "p50 {p50:.1}   p99 {p99:.1}   p99.9 {p999:.1}   max {max:.1}   mean {mean:.1}"
                ),
                None if bulk => "- (a bulk stream has no messages)".into(),
                None => "- (no message measured)".into(),
            },
        ),
    ];
    if udp {
        let e = &s.errors;
        rows.push((
            "lost",
            format!(
                "{} of {} datagrams sent ({:.3}%), no echo within {} ms; {} came back later",
                e.lost_datagrams,
                s.datagrams_sent,
                100.0 * e.lost_datagrams as f64 / s.datagrams_sent.max(1) as f64,
                plan.udp_timeout.as_millis(),
                e.late_datagrams,
            ),
        ));
        rows.push((
            "errors",
            format!(
                "{} (mismatched datagrams {} / bytes {}, duplicated {}, reordered {}, \
                 lost {}, I/O errors {}, in-flight overflows {})",
                e.total(),
                e.mismatched_datagrams,
                e.mismatched_bytes,
                e.duplicated_datagrams,
                e.reordered_datagrams,
                e.lost_datagrams,
                e.io_errors,
                e.overflows,
            ),
        ));
    } else {
        rows.push((
            "errors",
            format!(
                "{} (mismatched chunks {} / bytes {}, I/O errors {}, unexpected EOFs {}, \
                 lost echoes {} connections / {} bytes, in-flight overflows {})",
                s.errors.total(),
                s.errors.mismatched_chunks,
                s.errors.mismatched_bytes,
                s.errors.io_errors,
                s.errors.eofs,
                s.errors.lost_connections,
                s.errors.lost_bytes,
                s.errors.overflows,
            ),
        ));
    }
    for (name, value) in rows {
        writeln!(out, "{name:<14}{value}")?;
    }
    Ok(())
}

/// A JSON number, or `null` where there is none.
fn json_number(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.3}"),
        _ => "null".into(),
    }
}

fn json_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if (c as u32) < 0x20 => quoted.push_str(&format!("\\u{:04x}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// One flat JSON object on one line; `null` for what does not apply.
fn write_json(out: &mut dyn Write, plan: &Plan, s: &Summary) -> io::Result<()> {
    let bulk = plan.mode == Mode::Bulk;
    let udp = plan.mode == Mode::Udp;
    let lat = latencies(&s.histogram);
    let lat_field = |i: usize| json_number(lat.map(|l| l[i]));
    let whole = |v: u64, applies: bool| {
        if applies {
            v.to_string()
        } else {
            "null".into()
        }
    };
    let fields: Vec<(&str, String)> = vec![
        ("mode", json_string(plan.mode.name())),
        ("target", json_string(&plan.target.to_string())),
        ("connections", plan.connections.to_string()),
        ("size", whole(plan.size, !bulk)),
        ("depth", whole(plan.depth as u64, plan.depth > 0)),
        ("threads", plan.threads.to_string()),
        ("rate", json_number(plan.rate)),
        ("warmup_s", json_number(Some(plan.warmup.as_secs_f64()))),
        ("duration_s", json_number(Some(s.seconds))),
        ("messages", whole(s.messages, !bulk)),
        (
            "messages_per_s",
            json_number((!bulk).then(|| s.messages as f64 / s.seconds)),
        ),
        ("bytes", s.bytes.to_string()),
        (
            "mb_per_s",
            json_number(Some(s.bytes as f64 / s.seconds / 1e6)),
        ),
        (
            "gb_per_s",
            json_number(Some(s.bytes as f64 / s.seconds / 1e9)),
        ),
        ("latency_p50_us", lat_field(0)),
        ("latency_p99_us", lat_field(1)),
        ("latency_p999_us", lat_field(2)),
        ("latency_max_us", lat_field(3)),
        ("latency_mean_us", lat_field(4)),
        ("errors", s.errors.total().to_string()),
        ("mismatched_chunks", whole(s.errors.mismatched_chunks, !udp)),
        ("mismatched_bytes", s.errors.mismatched_bytes.to_string()),
        ("io_errors", s.errors.io_errors.to_string()),
        ("eofs", whole(s.errors.eofs, !udp)),
        ("lost_connections", whole(s.errors.lost_connections, !udp)),
        ("lost_bytes", whole(s.errors.lost_bytes, !udp)),
        ("overflows", s.errors.overflows.to_string()),
        (
            "udp_timeout_ms",
            whole(nanos(plan.udp_timeout) / 1_000_000, udp),
        ),
        ("datagrams_sent", whole(s.datagrams_sent, udp)),
        ("lost_datagrams", whole(s.errors.lost_datagrams, udp)),
        ("late_datagrams", whole(s.errors.late_datagrams, udp)),
        (
            "mismatched_datagrams",
            whole(s.errors.mismatched_datagrams, udp),
        ),
        (
            "duplicated_datagrams",
            whole(s.errors.duplicated_datagrams, udp),
        ),
        (
            "reordered_datagrams",
            whole(s.errors.reordered_datagrams, udp),
        ),
    ];
    let body: Vec<String> = fields
        .into_iter()
        .map(|(name, value)| format!("{}:{value}", json_string(name)))
        .collect();
    writeln!(out, "{{{}}}", body.join(","))
}

fn main() -> ExitCode {
    let status = run(
        std::env::args_os().collect(),
        &mut io::stdout().lock(),
        &mut io::stderr(),
    );
    ExitCode::from(status)
}
