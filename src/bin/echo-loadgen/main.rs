//! A load generator for any TCP (or UDP) echo server on this machine: it
//! measures how many echoes per second a server gives, how long each one
//! takes, and checks every byte that comes back.
//!
//! ```sh
//! cargo run --release                                    # the server, in one terminal
//! cargo run --release --bin echo-loadgen -- --target 127.0.0.1:65432
//! cargo run --release --bin echo-loadgen -- --mode pipeline --depth 16 --connections 50
//! cargo run --release --bin echo-loadgen -- --mode pingpong --rate 20000 --duration 30
//! cargo run --release --bin echo-loadgen -- --mode bulk --bytes 1GiB
//! cargo run --release -- --udp                           # a server that echoes UDP too
//! cargo run --release --bin echo-loadgen -- --mode udp --size 1472 --connections 50
//! cargo run --release --bin echo-loadgen -- --mode churn --connections 16 --sources 16
//! cargo run --release --bin echo-loadgen -- --mode threads --connections 1000 --size 128
//! cargo run --release -- --tls-listen 127.0.0.1:7443 --tls-self-signed --tls-self-signed-out cert.pem
//! cargo run --release --bin echo-loadgen -- --target 127.0.0.1:7443 --mode churn --tls --tls-ca cert.pem
//! cargo run --release --bin echo-loadgen -- --target 127.0.0.1:7443 --mode bulk --tls --tls-ca cert.pem
//! cargo run --release --bin echo-loadgen -- --json ... | jq .   # one JSON object on stdout
//! cargo run --release --bin echo-loadgen -- --objective 'p99<=1ms'     # the highest rate that meets it
//! cargo run --release --bin echo-loadgen -- --rate 20000 --progress-json live.jsonl
//! cargo run --release --bin echo-loadgen -- --histogram-log a.log ...  # on each machine
//! cargo run --release --bin echo-loadgen -- merge a.log b.log           # all runs as one
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
//! - **churn**: short-lived connections. Each of `--connections` threads
//!   runs one *lifecycle* after another: connect, one `--size`-byte message
//!   echoed and checked, half-close, wait for the server's end of stream,
//!   close. Measures lifecycles per second and the latency of the whole
//!   lifecycle, the cost of accepting and closing that the other modes
//!   leave out (see "Churn" below).
//! - **threads**: pingpong as the most common client does it, one blocking
//!   thread per connection: each of `--connections` threads writes a
//!   `--size`-byte message on its own connection, reads the whole echo back
//!   with blocking `read`s and checks it, then writes the next. Reports what
//!   pingpong reports; shows what a server does with a thousand clients that
//!   each wait on it (`--connections 1000 --size 128`), and what those
//!   clients cost the machine.
//!
//! Pingpong, pipeline, udp, churn and threads are *closed loops*: a
//! connection sends when an echo came back, so a slow server slows the load
//! down. `--rate R` makes all but threads an *open loop* instead (below).
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
//! [wrk2](https://github.com/giltene/wrk2) does. Where a queued message waits
//! depends on the mode. In pingpong a connection has one message on the wire,
//! as a client of a request-response protocol that does not pipeline: one that
//! comes due while the echo before it is still out waits in the client and is
//! written when that echo is back (wrk2's model, and what a capacity search
//! judges: each echo a round trip of its own). In pipeline every message is
//! written when it comes due, so a server that falls behind is handed batches,
//! and can catch up by echoing many messages per `read`. The only cap on
//! messages queued is a safety bound (`IN_FLIGHT_TOTAL` spread over the
//! connections); a message that would pass it is not sent and counts as an
//! error. In udp mode every scheduled message is one datagram, sent at once
//! on its socket whatever is in flight there; it is declared lost
//! `--udp-timeout-ms` after it was actually sent.
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
//! # A thread per connection: churn and threads
//!
//! In these two modes each thread owns one blocking socket at a time
//! (`blocking.rs`) and waits on it in `read` and `write`: the client most
//! servers meet, and for a lifecycle, which is a fixed sequence of waits,
//! the cheapest way to drive it. The threads are many, so they are made
//! small: 64 KiB stacks (their buffers are on the heap), and one latency
//! histogram for all of them, which each adds to in batches of 256 under a
//! lock (a histogram of its own would cost each thread 270 KB). The
//! connections of threads mode are opened before anything is measured, like
//! every other mode's; a socket's send and receive timeouts of 100 ms make
//! each thread look at the clock while it waits, so an echo still missing
//! when the run gives up is lost, as in pingpong.
//!
//! # Churn
//!
//! A lifecycle is a dozen system calls (`socket`, its options, `bind`,
//! `connect`, `write`, `read`, `shutdown`, `read`, `close`), most of them the
//! kernel's work of opening and closing a connection, which the server
//! under test pays for too.
//!
//! - **Source addresses.** The client half-closes first, so each closed
//!   connection waits in `TIME_WAIT` on the client side for a minute,
//!   holding its four-tuple. One source address has about 28,000 ephemeral
//!   ports per server address: at 10,000 lifecycles per second it would run
//!   out in three seconds. The connections are spread over `--sources K`
//!   loopback addresses, 127.0.0.1 to 127.0.0.K (default 16), each bound
//!   with `IP_BIND_ADDRESS_NO_PORT` so the kernel picks the port at
//!   `connect` per (source, destination) pair (`echo_reactor::tools::source`,
//!   which `echo-idle-swarm` uses too). Only an IPv4 loopback target can be
//!   reached from those; for another, the kernel picks the source.
//! - **Verification.** Lifecycle `n` of the run sends the pattern at
//!   connection `n`'s phase, checked like any echo. A byte that arrives after
//!   the echo, before the end of stream, was never sent: a mismatch. An end
//!   of stream before the whole echo counts as an unexpected EOF, a failed
//!   connect or a reset as an I/O error (the first is printed).
//! - **Timeouts.** Every socket has a send and a receive timeout of
//!   `--lifecycle-timeout-ms` (default 5000; `connect` obeys the send
//!   timeout): a lifecycle whose connect, echo or end of stream does not
//!   come within it is abandoned and counted as a timeout, an error. So a
//!   server that never closes, or never answers, costs each thread one
//!   timeout per lifecycle and the run still ends in time.
//! - **Latency and rate.** A lifecycle is timed from its connect to its
//!   close; only those that got the server's end of stream are counted and
//!   timed. With `--rate R` lifecycle `n` is due at
//!   `start + n / R`; a thread sleeps until its next one is due, and times
//!   it from then, so a server that falls behind shows in the latency.
//!
//! # What a client sees of a faulted server
//!
//! Run against a listener that misbehaves on purpose (echo-reactor's
//! `--fault-listen` with `--toxic`), the report tells apart what a client
//! meets, each also counted as the error it is (`client saw` in the
//! table; `resets`, `refused`, `short_echoes`, `connect_timeouts` in the
//! JSON): a **reset** is a connection ended by `ECONNRESET` (or `EPIPE`
//! on a write after one), among the I/O errors; a **refused** connect
//! found nothing listening, among the I/O errors too; a **short echo** is
//! an end of stream that came after part of a message's echo, among the
//! EOFs (an EOF between two messages is an early close and nothing more);
//! a **connect timeout** (churn) is a connect not done within
//! `--lifecycle-timeout-ms`, among the timeouts. A server that goes
//! silent (a `timeout` toxic) leaves its echoes outstanding: timeouts in
//! churn; in pingpong and pipeline, lost echoes once the run ends, or,
//! with `--response-timeout-ms`, a timeout for each connection whose
//! oldest message had no whole echo for that long (the connection is
//! given up; the threads look every quarter of the timeout). Latency is
//! the percentiles, as for any server: a latency toxic shows in the p50.
//!
//! # TLS
//!
//! `--tls --tls-ca PATH` speaks TLS to the target in every mode over TCP
//! (udp refuses it): the client trusts the PEM
//! certificates in PATH and nothing else (for echo-reactor's
//! `--tls-self-signed`, the file its `--tls-self-signed-out` wrote), and
//! checks that the server's certificate names `--tls-server-name`
//! (default `localhost`). With rustls and the `ring` provider, TLS 1.3 or
//! 1.2, no session resumption, so every handshake is a full one (`tls.rs`).
//!
//! - **churn**: a lifecycle is connect, handshake, one echo checked,
//!   `close_notify` and half-close, then reading on to the server's
//!   `close_notify` or end of stream, close; lifecycles per second are
//!   then handshakes per second. A certificate the client does not trust
//!   fails every lifecycle, each an I/O error (exit status 1).
//! - **threads**: each connection's handshake is done when it is opened,
//!   before anything is measured; then blocking ping-pong through the
//!   session (`rustls::StreamOwned`).
//! - **pingpong, pipeline, bulk** (`--threads`, `--rate` as over plain
//!   TCP): each polling thread runs its connections' handshakes, all at
//!   once and non-blocking, before the start line, so none is measured;
//!   then each connection's bytes go through its session, driven from the
//!   same readiness events as a plain connection (`tls_session.rs`). A
//!   certificate the client does not trust fails each connection's
//!   handshake, an I/O error (exit status 1).
//!
//! # WebSocket
//!
//! `--websocket` speaks WebSocket to the target (echo-reactor's
//! `--ws-listen`; with `--tls`, its `--wss-listen`) in pingpong, pipeline,
//! bulk and churn: an HTTP/1.1 upgrade, checked (`101` and the accept
//! key), then each write one masked binary message, and the echo's frames
//! unframed into the bytes that are checked as any echo's are
//! (`ws_session.rs`). The polling modes upgrade before the start line, as
//! they shake hands over TLS, so no upgrade is measured; churn's
//! lifecycle is connect, upgrade, one echo, a close frame and half-close,
//! the server's close frame and end of stream: lifecycles per second are
//! then upgrades and closing handshakes per second.
//!
//! # A rate search: `--objective`
//!
//! `--objective p99<=1ms` (a percentile, p50, p90, p99 or p99.9, and a
//! bound in us, ms or s; no error, always) asks for the highest offered
//! rate at which the server meets it. The load generator runs `--rate`'s
//! open loop in steps, doubling the rate from `--rate` (default 1000)
//! while steps meet the objective, then bisecting between the last rate
//! that met it and the first that did not until they are within
//! `--search-precision` (default 5%). Each step is `--warmup` then
//! `--duration`, lengthened to at least `100 / (1 - q)` samples of
//! percentile `q` (10,000 for p99; stderr says when). With
//! `--step-repeats N` (odd, default 1) each rate is judged by the majority
//! of up to `N` runs of its step, so one stall of a busy machine does not
//! fail a rate. A step in which the server broke or answered under a
//! tenth of the offered rate ends the search (the server stalled), and no
//! step starts that would end after `--max-duration` (default 120 s; the
//! report then says it was cut short). The report lists every step (which
//! run of its rate, offered and achieved rate, p50, p99, p99.9, errors,
//! verdict) and the capacity, as a table or `--json`
//! (`SearchReport`); exit status 0 if a rate met the objective, 1 if none
//! did. Every mode that takes `--rate` can be searched: pingpong,
//! pipeline, udp, churn, over TLS too. `search.rs` says how and why.
//!
//! # A live stream: `--progress-json`
//!
//! `--progress-json PATH` writes one JSON object a second (`ProgressLine`),
//! flushed as written: elapsed time, the offered and achieved rate of that
//! second, its p50, p99 and p99.9, the errors so far, and in a search the
//! step's offered rate. `-` writes them to stdout, which then carries
//! nothing else: the table goes to stderr, and `--json` is refused with it
//! (`live.rs`).
//!
//! # Histogram logs, and merging runs
//!
//! One machine may not be enough to load a server. Several load generators
//! can, each run with `--histogram-log PATH`, which writes the run's
//! latency histogram and its report (the `--json` one) as an HdrHistogram
//! interval log (`echo_reactor::tools::histogram_log`: the format, and why
//! the report rides on a comment line). `echo-loadgen merge LOG...` reads
//! them back and prints one report, a table or `--json`: the percentiles
//! of all the runs' latencies together (their histograms added, never
//! their percentiles averaged), counts, errors and rates summed
//! (`merge.rs` says why rates add up). A log cut short or damaged is
//! refused, with one line naming it, exit status 1. The file is created
//! before the run starts, so a path that cannot be written costs no run
//! (exit status 2); bulk mode, which measures no latencies, has no log.
//!
//! # How it drives the load
//!
//! All connections are opened (blocking, `TCP_NODELAY`) before anything is
//! measured, then spread round robin over `--threads` threads (which, with
//! `--tls`, run their handshakes before the start line). Each thread is
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
//! Churn and threads drive their connections from blocking threads instead
//! (above).
//!
//! Warm-up: messages *sent* (or scheduled) during the first `--warmup`
//! seconds are neither counted nor recorded. The measured messages are the
//! ones sent in the following `--duration` seconds, each recorded when its
//! echo completes.
//!
//! Only loopback targets are accepted unless `--allow-remote` is given; the
//! target is resolved first, so a name that resolves elsewhere is refused too.
//!
//! # The code
//!
//! In layers: each module uses only modules on the rows below its own, so
//! no import goes up and none goes round in a circle. The run's model is
//! the bottom row, what everything else builds on. (Inside `cli`,
//! `translate.rs` sits on `flags.rs`.)
//!
//! ```text
//! main                             a command in; a run, a search or a merge; a report out
//! cli        merge     search      flags into the model; several runs' logs as one; a rate search
//! run                              starting the threads together, progress
//! report     live                  the threads' reports as one, printed; the stream each second
//! worker     churn     threads     a polling thread; a churning, a ping-pong one
//! sockets    blocking              a polling thread's sockets; a blocking connection
//! tls_session udp_sockets connect  TLS on a polled socket; UDP sockets; opening them
//! ws_session                       WebSocket framing, and on a polled socket
//! tcp        udp                   one polled TCP connection; one UDP socket
//! channel    job                   a polling loop's words to a socket; a thread's job
//! counters                         errors, echoes and latencies
//! timer      tls       pattern     the clock; the TLS client; the bytes sent
//! model                            the run asked for: Command, Plan, Load, Pace
//! ```
//!
//! Each module's doc says why it exists. To read the code, start at the
//! bottom: the [`Command`] the flags become and a run's [`Plan`]
//! (`model.rs`); a run ends in one [`LoadReport`] (`report.rs`), which a
//! merge (`merge.rs`) makes of several runs' too.

mod blocking;
mod channel;
mod churn;
mod cli;
// Shared with the package's other binaries, compiled into each: the
// library's API is the server's, not its command lines'.
#[path = "../../cli_support.rs"]
mod cli_support;
mod connect;
mod counters;
mod job;
mod live;
mod merge;
mod model;
mod pattern;
mod report;
mod run;
mod search;
mod sockets;
mod tcp;
mod threads;
mod timer;
mod tls;
mod tls_session;
mod udp;
mod udp_sockets;
mod worker;
mod ws_session;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli_support::parse_or_exit;
use echo_reactor::tools::histogram_log;
use echo_reactor::tools::report::LoadReport;

use crate::cli::Cli;
use crate::live::LiveStream;
use crate::model::{Command, Plan, ProgressSink, Run, Search};
use crate::report::Outcome;
use crate::tls::TlsClient;

/// How this program names itself in its messages.
const PROGRAM: &str = "echo-loadgen";

fn main() -> ExitCode {
    match cli::command(parse_or_exit::<Cli>(PROGRAM)) {
        Ok(Command::Run(run)) => {
            let Run {
                plan,
                histogram_log,
                tls,
                search,
                progress,
            } = *run;
            let tls = match tls.as_ref().map(TlsClient::new).transpose() {
                Ok(tls) => tls,
                Err(refusal) => {
                    eprintln!("{PROGRAM}: {refusal}");
                    return ExitCode::from(2);
                }
            };
            // Created before the run, like the histogram log.
            let mut live = match progress.as_ref().map(LiveStream::open).transpose() {
                Ok(live) => live,
                Err(e) => {
                    let path = match &progress {
                        Some(ProgressSink::File(path)) => path.display().to_string(),
                        _ => "stdout".into(),
                    };
                    eprintln!("{PROGRAM}: cannot create the --progress-json stream {path}: {e}");
                    return ExitCode::from(2);
                }
            };
            // `--progress-json -` keeps stdout for its lines.
            let table_on_stderr = progress == Some(ProgressSink::Stdout);
            match search {
                Some(search) => {
                    find_capacity(&plan, &search, tls.as_ref(), live.as_mut(), table_on_stderr)
                }
                None => load(
                    &plan,
                    tls.as_ref(),
                    histogram_log.as_deref(),
                    live.as_mut(),
                    table_on_stderr,
                ),
            }
        }
        Ok(Command::Merge { logs, json }) => merge(&logs, json),
        Err(refusal) => {
            eprintln!("{PROGRAM}: {refusal}");
            ExitCode::from(2)
        }
    }
}

/// Merges the runs in `logs` and prints their report (`json`: as JSON).
fn merge(logs: &[PathBuf], json: bool) -> ExitCode {
    let report = match merge::merge(logs) {
        Ok(report) => report,
        Err(message) => {
            eprintln!("{PROGRAM}: {message}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = report::print(&report, json) {
        eprintln!("{PROGRAM}: cannot print the report: {e}");
    }
    ExitCode::from(u8::from(report.errors > 0))
}

/// Searches for the highest rate that meets the objective and prints the
/// search's report (the table to stderr with `table_on_stderr`). Exit
/// status 0 if a rate met the objective, 1 if none did.
fn find_capacity(
    plan: &Plan,
    search: &Search,
    tls: Option<&TlsClient>,
    live: Option<&mut LiveStream>,
    table_on_stderr: bool,
) -> ExitCode {
    let report = match search::search(plan, search, tls, &mut io::stderr(), live) {
        Ok(report) => report,
        Err(message) => {
            eprintln!("{PROGRAM}: {message}");
            return ExitCode::FAILURE;
        }
    };
    let printed = if plan.json {
        report::write_json(&mut io::stdout().lock(), &report)
    } else if table_on_stderr {
        report::write_search_table(&mut io::stderr(), &report)
    } else {
        report::write_search_table(&mut io::stdout().lock(), &report)
    };
    if let Err(e) = printed {
        eprintln!("{PROGRAM}: cannot print the report: {e}");
    }
    if report.capacity_per_s.is_none() {
        let why = match report.steps.first() {
            Some(step) => format!("step 1 at {:.0}/s: {}", step.offered_per_s, step.verdict),
            None => "no step fit in --max-duration".into(),
        };
        eprintln!(
            "{PROGRAM}: no rate met the objective {} ({why}); a lower --rate may",
            report.objective
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Runs the load (over TLS with `tls`), prints its report (to stderr with
/// `table_on_stderr`), and writes its histogram log to `histogram_log` if
/// given.
fn load(
    plan: &Plan,
    tls: Option<&TlsClient>,
    histogram_log: Option<&Path>,
    live: Option<&mut LiveStream>,
    table_on_stderr: bool,
) -> ExitCode {
    // A log that cannot be created is refused before the run, not after.
    let log = match histogram_log.map(|path| (path, File::create(path))) {
        None => None,
        Some((path, Ok(file))) => Some((path, file)),
        Some((path, Err(e))) => {
            let path = path.display();
            eprintln!("{PROGRAM}: cannot create the histogram log {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let threads = match run::execute(plan, tls, &mut io::stderr(), live) {
        Ok(threads) => threads,
        Err(message) => {
            eprintln!("{PROGRAM}: {message}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = report::summarize(plan, threads);
    let printed = if table_on_stderr {
        report::write_table(&mut io::stderr(), &outcome.report)
    } else {
        report::print(&outcome.report, plan.json)
    };
    if let Err(e) = printed {
        eprintln!("{PROGRAM}: cannot print the report: {e}");
    }
    if let Some(e) = &outcome.first_error {
        eprintln!("{PROGRAM}: {}", first_error(&outcome.report, e));
    }
    let mut failed = outcome.report.errors > 0;
    if let Some((path, file)) = log {
        if let Err(e) = write_log(file, &outcome) {
            eprintln!(
                "{PROGRAM}: cannot write the histogram log {}: {e}",
                path.display()
            );
            failed = true;
        }
    }
    ExitCode::from(u8::from(failed))
}

/// Writes the run's histogram log to `file`.
fn write_log(file: File, outcome: &Outcome) -> io::Result<()> {
    let mut out = BufWriter::new(file);
    histogram_log::write(
        &mut out,
        &outcome.report,
        &outcome.histogram,
        outcome.started,
    )?;
    out.flush()
}

/// What the first I/O error of the run says, beside how many there were.
fn first_error(report: &LoadReport, e: &io::Error) -> String {
    if report.mode != "udp" {
        return format!("{} I/O errors; the first: {e}", report.io_errors);
    }
    let hint = if e.kind() == io::ErrorKind::ConnectionRefused {
        " (nothing receives UDP there: is the server running, and with --udp?)"
    } else {
        ""
    };
    format!(
        "{} of {} UDP sockets failed; the first: {e}{hint}",
        report.io_errors, report.connections
    )
}
