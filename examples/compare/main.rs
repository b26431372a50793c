//! Side-by-side benchmark: echo-reactor against the servers it should be
//! measured by, on this machine, in one run.
//!
//! ```sh
//! cargo run --release --example compare                   # echo-reactor vs tokio
//! cargo run --release --example compare -- --epoll-echo PATH/epoll-echo.c
//! cargo run --release --example compare -- --baseline /tmp/echo-reactor-before
//! cargo run --release --example compare -- --quick --repeats 1   # a smoke test
//! cargo run --release --example compare -- --skip-capacity        # no searches
//! ```
//!
//! It builds what it runs (`cargo build --release --bins` for the server
//! and the load tools `echo-loadgen` and `echo-idle-swarm`, the tokio peer
//! as an example; `cc -O2` of `epoll-echo.c` when given), so it works on a
//! fresh clone. All traffic stays on 127.0.0.1, servers run one at a time,
//! every child process is bounded in time and killed if this program fails
//! or panics.
//!
//! # The servers
//!
//! - **echo-reactor**, the release binary (`RUST_LOG` keeps only warnings,
//!   plus the `listening on` start-up line, so no logging is measured);
//! - **echo-reactor-baseline**, with `--baseline PATH`: an echo-reactor
//!   binary from an earlier build (a copy of `target/release/echo-reactor`
//!   taken before a change), run with the same flags in every scenario,
//!   interleaved with the others. The table then has a column
//!   `ER/echo-reactor-baseline`, this build's figure over the earlier one's
//!   for every metric, so one run shows whether a change made anything
//!   slower;
//! - **echo-reactor-x2**, the same binary with `--reactors 2`: two reactor
//!   threads sharing the port through `SO_REUSEPORT`. On a 2-core machine
//!   the load generator needs a core too, so this shows the cost of the
//!   second thread more than its benefit;
//! - **epoll-echo**, the C level-triggered epoll server, when its source is
//!   given: the floor a hand-written reactor should reach;
//! - **tokio-current**, `examples/tokio_echo.rs` on a `current_thread`
//!   runtime: what most Rust users would write instead, also on one thread;
//! - **tokio-multi**, the same on the multi-thread runtime, as an extra column;
//! - **tokio-tungstenite**, `examples/tokio_ws_echo.rs`, a WebSocket echo
//!   server on tokio's multi-thread runtime: in the WebSocket rows only.
//!
//! # What is measured, and why
//!
//! 1. **Closed-loop throughput** (`echo-loadgen`, repeated): ping-pong with
//!    1 and 50 connections, 16-deep pipelining, 4 KiB messages, one 1 GiB
//!    bulk stream, and the two kinds of client below. Each repeat runs
//!    every scenario against every server, started fresh each time,
//!    *interleaved* (for repeat, for scenario, for server), so a slow
//!    minute on the machine hits all servers alike; the table shows
//!    medians. Beware: on a 2-core machine the load generator and the
//!    server share the cores, and a good server is waiting for the load
//!    generator most of the time, so these figures mostly measure the load
//!    generator and the kernel. They tell a bad server from a good one, not
//!    two good ones apart.
//!    - **Many blocking clients** (`--mode threads`): a blocking thread per
//!      connection doing ping-pong, 1,000 threads with 128-byte messages and
//!      50 with 512 bytes; echoes/s. It is the client most people write
//!      first. With that many runnable threads on two cores, the server
//!      competes with its clients for the CPU, so what this measures is
//!      mostly the server's share of it: how often it is woken, how often
//!      preempted, how much it gets done per wake-up.
//!    - **TLS** (echo-reactor's `--tls-listen` and the tokio peer on
//!      `current_thread` with tokio-rustls, both serving one self-signed
//!      certificate made for the run into the out dir, `cert.pem` and
//!      `key.pem`; no other server has TLS rows): churn over TLS, 4 at a
//!      time, each lifecycle a full handshake, so lifecycles/s are
//!      handshakes/s; ping-pong from 50 blocking threads, 64 B, each
//!      through its session; ping-pong on 50 connections of one polling
//!      thread, 64 B, as the plain C=50 row (the handshakes done before
//!      the measured time); and one 1 GiB bulk stream, as the plain bulk
//!      row, GB/s of encryption and decryption on both sides (echo-loadgen
//!      `--tls --tls-ca cert.pem`).
//!    - **Churn** (`--mode churn`): short-lived connections, 4 at a time,
//!      each a connect, one 64-byte echo, a half-close, the server's end of
//!      stream and a close, with source addresses rotated over 127.0.0.1 to
//!      127.0.0.16 so that TIME_WAIT never runs out of ports;
//!      lifecycles/s. Health checks, load balancers and many stress tests
//!      look like this, and it measures what the long-lived scenarios never
//!      do: accepting, registering and tearing down a connection.
//! 2. **Server CPU per echo and per lifecycle at a fixed rate** (repeated):
//!    an open-loop ping-pong at `--rate` messages/s (50 connections, 64 B;
//!    and the same over TLS against the servers that serve it, which sets
//!    the TLS capacity rows' core limit, see 5), and an open-loop churn at `--churn-rate` lifecycles/s (4 at a time,
//!    64 B), with the server's CPU time (user + system, all threads) read
//!    just inside the measured window: the scheduler's nanosecond run time
//!    from `/proc/PID/task/*/schedstat`, and utime + stime from
//!    `/proc/PID/stat` (10 ms ticks, too coarse for `--quick`; in
//!    `raw.csv`). Every server does the same work in the same time, so the
//!    CPU it spends per echo (per lifecycle) is the fairest speed figure
//!    there is; p99 latency at that rate comes with it. (A server that
//!    falls behind reads several messages per wake-up and so spends less
//!    per echo: check the p99.)
//! 3. **Noise-free figures** (once per server; they do not move with load on
//!    the machine): under `strace -c -f`, *system calls per echo* and
//!    `epoll_wait` calls per echo; under `valgrind --tool=callgrind`,
//!    *user-space instructions per echo* (the instructions of a short
//!    baseline run, start-up and 50 connects, are subtracted). Each runs a
//!    fixed-rate ping-pong, 50 connections, 64 B, with no warm-up, so the
//!    load generator's `messages` is every echo the server made: 100,000 at
//!    5,000/s for 20 s. The rate is low because tracing makes every system
//!    call (strace) or instruction (callgrind) many times slower, and a
//!    server that falls behind batches messages, which changes what is
//!    counted; a strace run with fewer successful writes than echoes is
//!    flagged. And under `strace -c -f` too, *system calls per lifecycle*:
//!    a churn (4 at a time, 64 B) at 2,000 lifecycles/s for 5 s, less a
//!    baseline churn of 20 lifecycles (start-up and shutdown) call by
//!    call, divided by the lifecycles between the two. Each call's figure
//!    (`accept4`, `epoll_ctl`, `recvfrom`, `sendto`, `shutdown`,
//!    `setsockopt`, `close`, `epoll_wait`...) says what a lifecycle buys
//!    with it. A median lifecycle longer than the time between a load
//!    thread's lifecycles (2 ms) is flagged: lifecycles then queue, and a
//!    server that finds several per wake-up makes fewer calls for each.
//! 4. **Idle memory**: `echo-idle-swarm` holds 19,000 idle connections and
//!    reports the server's RSS growth per connection. For the servers that
//!    serve TLS, this program holds 1,000 idle TLS connections itself
//!    (each after a handshake and one echo) and reads the same growth; and
//!    it counts what one idle rustls server session keeps on its own heap,
//!    through the buffered and the unbuffered API (see [`tls_idle`]).
//! 5. **WebSocket** (echo-reactor's `--ws-listen` against a
//!    tokio-tungstenite echo server, `examples/tokio_ws_echo.rs`; skipped
//!    with `--skip-websocket`): ping-pong on 50 connections and the server
//!    CPU per message at `--rate`, as their plain twins, over WebSocket;
//!    and the RSS per idle WebSocket connection, each held after its
//!    upgrade and one echo (see [`websocket`]).
//! 6. **Capacity at a latency objective** (repeated; the table leads with
//!    it): echoes/s each server takes while its p99 stays within 1 ms, and
//!    within 10 ms, with no error (`echo-loadgen --objective p99<=1ms
//!    --step-repeats 3`), ping-pong with 50 and with 1,000 connections,
//!    plain and over TLS, each server pinned to one CPU and the load
//!    generator to another (`taskset -c`; `--no-pin` to let the scheduler
//!    place them); and each capacity as a share of the server's own core
//!    limit, one second over its CPU per echo of measurement 2 (plain, or
//!    its TLS twin). Each repeat starts with a 5-second probe of the
//!    machine's own floor: how late a sleeping thread is woken on the two
//!    CPUs, and so what share of echoes the machine alone puts over 1 ms
//!    and over 10 ms; the report says, above the table, which bounds that
//!    makes chance on this run, and marks those rows (see [`noise_floor`]). Up to 16 minutes a
//!    repeat; `--skip-capacity` leaves it out. See [`capacity`].
//!
//! # Output
//!
//! The table on stdout (progress on stderr); in the out dir (default
//! `target/compare/`): `raw.csv` with every number measured, `summary.txt`
//! with the table, `compare.svg` with each server's throughput normalized to
//! epoll-echo (to tokio-current without it), the strace and callgrind
//! files, and `syscalls-per-lifecycle-SERVER.txt`, every call a lifecycle
//! costs each server (the most frequent are in `raw.csv` and the summary).
//!
//! # The code
//!
//! [`binaries`] builds what runs, [`servers`] starts and stops a server
//! (plain, under strace or valgrind), [`tools`] runs the load tools and
//! [`parse`] reads what they and the tracers write; [`tls`] makes the TLS
//! scenarios' certificate; [`scenarios`] lists
//! the repeated scenarios and their loads, and [`repeated`] runs them
//! (measurements 1 and 2); [`noise_free`] with [`lifecycle_syscalls`], and
//! [`idle`] and [`tls_idle`], are the measurements 3 and 4; [`websocket`]
//! with [`websocket_idle`] is 5; [`capacity`] runs the searches of
//! measurement 6, where [`pinning`] puts them, after [`noise_floor`] has
//! probed the machine; [`report`] and [`chart`] tell
//! the results. [`children`] keeps every
//! child process bounded in time and dying with this one.

mod binaries;
mod capacity;
mod chart;
mod children;
mod idle;
mod lifecycle_syscalls;
mod noise_floor;
mod noise_free;
mod parse;
mod pinning;
mod repeated;
mod report;
mod scenarios;
mod servers;
mod tls;
mod tls_idle;
mod websocket;
mod websocket_idle;

/// Counts the bytes this program holds on the heap, for [`tls_idle`]'s
/// session figure.
#[global_allocator]
static ALLOCATOR: tls_idle::Counting = tls_idle::Counting;
mod tools;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::report::Results;
use crate::servers::Server;

/// Benchmarks echo-reactor side by side with tokio (and epoll-echo.c when
/// given): closed-loop throughput with long-lived, blocking and short-lived
/// connections, CPU per echo and per lifecycle at a fixed rate, syscalls
/// per echo and per lifecycle, instructions per echo, idle memory per
/// connection; WebSocket echo against tokio-tungstenite; and capacity at
/// p99 <= 1 ms and <= 10 ms, pinned.
#[derive(Parser, Debug)]
#[command(name = "compare")]
pub struct Args {
    /// Source of the C epoll-echo reference server, compiled with cc -O2
    /// into the out dir [default: not compared]
    #[arg(long, value_name = "SRC.c")]
    epoll_echo: Option<PathBuf>,

    /// An echo-reactor binary from an earlier build, measured in every
    /// scenario like this build's as `echo-reactor-baseline` [default: not
    /// compared]
    #[arg(long, value_name = "PATH")]
    baseline: Option<PathBuf>,

    /// How many times the whole set of scenarios runs (interleaved); the
    /// table shows medians
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeats: u32,

    /// Smoke test: 0.3 s warm-up + 1 s measured, 64 MiB bulk, shorter
    /// noise-free and idle runs
    #[arg(long)]
    quick: bool,

    /// Where the results, the chart and the epoll-echo binary go
    /// [default: target/compare]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Offered load of the fixed-rate scenario, messages/s over 50
    /// connections
    #[arg(long, value_name = "R", default_value_t = 50_000.0)]
    rate: f64,

    /// Offered load of the fixed-rate churn scenario, connection
    /// lifecycles/s over 4 at once
    #[arg(long, value_name = "R", default_value_t = 5_000.0)]
    churn_rate: f64,

    /// Skip the strace and callgrind runs
    #[arg(long)]
    skip_tools: bool,

    /// Skip the idle-connections memory run
    #[arg(long)]
    skip_idle: bool,

    /// Skip the WebSocket rows (echo-reactor --ws-listen against
    /// tokio-tungstenite)
    #[arg(long)]
    skip_websocket: bool,
    /// Skip the capacity searches (echoes/s at p99 <= 1 ms and <= 10 ms):
    /// up to 16 minutes a repeat
    #[arg(long)]
    skip_capacity: bool,

    /// Let the scheduler place the servers and the load generator in the
    /// capacity searches, rather than each on a CPU of its own
    #[arg(long)]
    no_pin: bool,
}

/// How long each kind of run lasts; `--quick` shrinks them all.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    warmup: f64,
    duration: f64,
    bulk_bytes: &'static str,
    /// (rate, seconds) of the strace run.
    strace: (u32, f64),
    /// (rate, seconds) of the callgrind run.
    callgrind: (u32, f64),
    /// (lifecycles/s, seconds) of the churn run under strace.
    churn_strace: (u32, f64),
    /// (connections, hold seconds) of the idle run.
    idle: (u32, f64),
    /// The capacity searches' steps and bound.
    capacity: capacity::Budget,
}

impl Timing {
    fn new(quick: bool) -> Timing {
        // Traced runs go at a rate a traced server keeps up with (see the
        // top doc); --quick only shortens them.
        const TRACED_RATE: u32 = 5_000;
        const TRACED_CHURN_RATE: u32 = 2_000;
        let (warmup, duration, bulk_bytes, traced_seconds, churn_seconds, idle) = if quick {
            (0.3, 1.0, "64MiB", 2.0, 2.0, (2_000, 0.5))
        } else {
            (1.0, 5.0, "1GiB", 20.0, 5.0, (19_000, 2.0))
        };
        Timing {
            warmup,
            duration,
            bulk_bytes,
            strace: (TRACED_RATE, traced_seconds),
            callgrind: (TRACED_RATE, traced_seconds),
            churn_strace: (TRACED_CHURN_RATE, churn_seconds),
            idle,
            capacity: capacity::Budget::new(quick),
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == children::EXEC_SHIM) {
        return children::exec_shim(&argv[2..]);
    }
    let args = Args::parse_from(argv);
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    for (flag, rate) in [("--rate", args.rate), ("--churn-rate", args.churn_rate)] {
        if !(rate.is_finite() && rate > 0.0 && rate <= 1e7) {
            return Err(format!("{flag} {rate} is not between 0 and 1e7"));
        }
    }
    let timing = Timing::new(args.quick);
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => binaries::target_dir()?.join("compare"),
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let out = out.canonicalize().unwrap_or(out);
    // echo-idle-swarm's 19,000 connections need descriptors in the server
    // too; children inherit the raised limit.
    let _ = echo_reactor::raise_nofile_limit();

    let bins = binaries::build(&args, &out)?;
    let mut servers = vec![Server::EchoReactor];
    if bins.baseline.is_some() {
        servers.push(Server::EchoReactorBaseline);
    }
    if bins.epoll_echo.is_some() {
        servers.push(Server::EpollEcho);
    }
    servers.extend([
        Server::EchoReactorTwo,
        Server::TokioCurrent,
        Server::TokioMulti,
    ]);
    let mut results = Results::default();
    let tls = match tls::make_certificate(&out) {
        Ok(files) => Some(files),
        Err(e) => {
            results.notes.push(format!("TLS scenarios skipped: {e}"));
            None
        }
    };
    let scenarios = scenarios::scenarios(&args, &timing, tls.as_ref());
    repeated::repeated_runs(
        &args,
        &bins,
        &servers,
        &scenarios,
        tls.as_ref(),
        &timing,
        &mut results,
    );
    if args.skip_capacity {
        results
            .notes
            .push("capacity searches skipped (--skip-capacity)".into());
    } else {
        capacity::capacity_runs(&args, &bins, &servers, tls.as_ref(), &timing, &mut results);
        capacity::record_shares(&servers, &mut results);
    }
    if args.skip_tools {
        results
            .notes
            .push("strace and callgrind runs skipped (--skip-tools)".into());
    } else {
        noise_free::noise_free_runs(&bins, &servers, &timing, &out, &mut results);
    }
    if args.skip_idle {
        results
            .notes
            .push("idle memory run skipped (--skip-idle)".into());
    } else {
        idle::idle_runs(&bins, &servers, &timing, &mut results);
        if let Some(files) = &tls {
            tls_idle::tls_idle_runs(&bins, &servers, files, &mut results);
        }
    }
    if args.skip_websocket {
        results
            .notes
            .push("WebSocket rows skipped (--skip-websocket)".into());
    } else {
        websocket::websocket_runs(&args, &bins, &servers, &timing, &mut results);
    }

    let svg = out.join("compare.svg");
    let result = chart::draw_chart(&svg, &args, &servers, &scenarios, &results.samples);
    results.check("chart", result.map_err(|e| e.to_string()));
    let report = report::render_report(&args, &timing, &servers, &scenarios, &mut results);
    let csv = out.join("raw.csv");
    report::write_csv(&csv, &results.samples)?;
    let summary = out.join("summary.txt");
    std::fs::write(&summary, &report)
        .map_err(|e| format!("cannot write {}: {e}", summary.display()))?;

    println!("{report}");
    println!("raw numbers: {}", csv.display());
    println!("this table:  {}", summary.display());
    if svg.exists() {
        println!("chart:       {}", svg.display());
    }
    if !args.skip_tools {
        println!("strace and callgrind outputs: {}", out.display());
    }
    match results.failures.len() {
        0 => Ok(()),
        n => Err(format!("{n} run(s) failed (listed above)")),
    }
}
