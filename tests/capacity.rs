//! The load generator's rate search (`--objective`) and live stream
//! (`--progress-json`), run as the binary cargo built: against an echo
//! server of known capacity (a token bucket serving at most `CAPACITY`
//! messages a second, whose queue grows without bound beyond it), which
//! the search must find; against the same server pausing once, as a busy
//! machine does, where one run a rate fails the search and three outvote
//! the pause (`--step-repeats`); against a server that stalls, where the search
//! must stop early rather than wait for `--max-duration`; the stream
//! against the real server; and the flags it must refuse (exit 2).
//!
//! Every server here listens on 127.0.0.1, every loop is bounded in count
//! and time, and every run of the binary is killed past its limit.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::support::{run_within, Binary, Scratch};
use echo_reactor::tools::report::{ProgressLine, SearchReport};
use serde_json::Value;

/// Messages per second the token-bucket server serves, at most.
const CAPACITY: f64 = 4_000.0;

/// The size of every message here (the servers read whole messages).
const SIZE: usize = 64;

/// Runs the load generator with `args`, killed after `limit`.
fn loadgen(args: &[&str], limit: Duration) -> (Output, Duration) {
    let began = Instant::now();
    let output = run_within(
        Command::new(env!("CARGO_BIN_EXE_echo-loadgen")).args(args),
        limit,
    );
    (output, began.elapsed())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one `--json` line of a search.
fn search_report(output: &Output) -> SearchReport {
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "--json prints one line; stdout {stdout:?}, stderr: {}",
        text(&output.stderr)
    );
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not a SearchReport ({e}): {stdout}"))
}

// ------------------------------------------------------------ test servers

/// What a test server does with each message it reads.
#[derive(Clone)]
enum Service {
    /// Echoes each message at the next free slot of one schedule shared by
    /// every connection, `1 / CAPACITY` apart: at most `CAPACITY` a second,
    /// and beyond that a queue that grows for as long as the load lasts.
    TokenBucket(Arc<Mutex<Instant>>),
    /// The token bucket, which also pauses once: see [`PauseOnce`].
    PausingBucket(Arc<Mutex<Instant>>, Arc<PauseOnce>),
    /// Echoes the first this many messages (over all connections), then
    /// reads on and answers nothing.
    StallAfter(u64, Arc<AtomicU64>),
    /// Echoes whatever one `read` returned, [`SLOW_ECHO`] after it, and
    /// keeps the largest such read (bytes on the wire at once).
    Slow(Arc<AtomicU64>),
}

/// How long [`Service::Slow`] holds each read before echoing it.
const SLOW_ECHO: Duration = Duration::from_millis(20);

/// One stall of the machine, as a busy machine makes them: the first time
/// messages arrive faster than `above` a second (counted over windows of
/// [`PauseOnce::WINDOW`]), every answer waits until [`PauseOnce::PAUSE`]
/// after that; never again after. The step it hits fails its objective
/// while the server's capacity is untouched.
struct PauseOnce {
    above: f64,
    state: Mutex<PauseState>,
}

struct PauseState {
    window_start: Instant,
    arrivals: u64,
    /// When the pause ends, once it began.
    until: Option<Instant>,
}

impl PauseOnce {
    const WINDOW: Duration = Duration::from_millis(250);
    const PAUSE: Duration = Duration::from_millis(400);

    fn new(above: f64) -> Arc<PauseOnce> {
        Arc::new(PauseOnce {
            above,
            state: Mutex::new(PauseState {
                window_start: Instant::now(),
                arrivals: 0,
                until: None,
            }),
        })
    }

    /// Whether the pause has begun.
    fn paused(&self) -> bool {
        self.state.lock().unwrap().until.is_some()
    }

    /// Counts a message that arrived now; how long its answer must wait.
    fn arrived(&self) -> Duration {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap();
        if state.until.is_none() {
            state.arrivals += 1;
            let window = now - state.window_start;
            if window >= PauseOnce::WINDOW {
                if state.arrivals as f64 / window.as_secs_f64() > self.above {
                    state.until = Some(now + PauseOnce::PAUSE);
                }
                state.window_start = now;
                state.arrivals = 0;
            }
        }
        state
            .until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now))
    }
}

/// A server on 127.0.0.1 with a thread per connection; stops accepting
/// when dropped (its connections end when the client closes them).
struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl TestServer {
    fn start(service: Service) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let acceptor = thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let service = service.clone();
                        thread::spawn(move || serve(stream, &service));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TestServer {
            addr,
            stop,
            acceptor: Some(acceptor),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Serves one connection, a whole message at a time, until the client
/// closes it (or a minute passes: no test runs that long).
fn serve(mut stream: TcpStream, service: &Service) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    if let Service::Slow(largest) = service {
        let mut chunk = [0u8; 64 << 10];
        while let Ok(n @ 1..) = stream.read(&mut chunk) {
            largest.fetch_max(n as u64, Ordering::Relaxed);
            thread::sleep(SLOW_ECHO);
            if stream.write_all(&chunk[..n]).is_err() {
                return;
            }
        }
        return;
    }
    let mut message = [0u8; SIZE];
    while stream.read_exact(&mut message).is_ok() {
        let answer = match service {
            Service::TokenBucket(next_free) => {
                take_a_slot(next_free);
                true
            }
            Service::PausingBucket(next_free, pause) => {
                thread::sleep(pause.arrived());
                take_a_slot(next_free);
                true
            }
            Service::StallAfter(limit, served) => served.fetch_add(1, Ordering::Relaxed) < *limit,
            Service::Slow(_) => unreachable!("served above"),
        };
        if answer && stream.write_all(&message).is_err() {
            return;
        }
    }
}

/// Waits for the next free slot of the bucket whose next free slot is
/// `next_free`, and takes it.
fn take_a_slot(next_free: &Mutex<Instant>) {
    let slot = {
        let mut next = next_free.lock().unwrap();
        let slot = (*next).max(Instant::now());
        *next = slot + Duration::from_secs_f64(1.0 / CAPACITY);
        slot
    };
    thread::sleep(slot.saturating_duration_since(Instant::now()));
}

// ------------------------------------------------- what a fixed rate sends

/// `--rate` against [`Service::Slow`] in `mode`, one connection at 500
/// messages a second (one due every 2 ms, ten per [`SLOW_ECHO`]): the
/// largest read the server saw, and the run's p50 in µs.
fn against_a_slow_server(mode: &str) -> (u64, f64) {
    let largest = Arc::new(AtomicU64::new(0));
    let server = TestServer::start(Service::Slow(largest.clone()));
    let target = server.addr.to_string();
    let args = [
        "--target",
        &target,
        "--mode",
        mode,
        "--rate",
        "500",
        "--connections",
        "1",
        "--warmup",
        "0",
        "--duration",
        "0.5",
        "--size",
        "64",
        "--json",
    ];
    let (output, _) = loadgen(&args, Duration::from_secs(30));
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&output.stderr)));
    let p50 = report["latency_p50_us"].as_f64().expect("a p50");
    (largest.load(Ordering::Relaxed), p50)
}

#[test]
fn pingpong_at_a_rate_keeps_one_message_on_the_wire_and_pipeline_does_not() {
    // Ping-pong writes a message only once the echo before it is back, so
    // the server never holds more than one, however late it answers; the
    // messages due meanwhile wait in the client, and their latency, counted
    // from their schedule, shows the backlog: a queue that grows by 9 of
    // every 10 messages over half a second is far above one slow echo.
    let (largest, p50) = against_a_slow_server("pingpong");
    assert_eq!(
        largest, SIZE as u64,
        "pingpong put {largest} bytes on the wire at once"
    );
    let slow_echo_us = SLOW_ECHO.as_secs_f64() * 1e6;
    assert!(
        p50 > 5.0 * slow_echo_us,
        "p50 {p50} µs: the wait in the client is not counted"
    );
    // Pipeline writes each message when it is due: while the server holds
    // one read for 20 ms, ten more arrive, and its next read takes them all.
    let (largest, _) = against_a_slow_server("pipeline");
    assert!(
        largest >= 5 * SIZE as u64,
        "pipeline's largest read: {largest} bytes"
    );
}

// ------------------------------------------------------------ the search

#[test]
fn the_search_finds_the_capacity_of_a_token_bucket_server() {
    let server = TestServer::start(Service::TokenBucket(Arc::new(Mutex::new(Instant::now()))));
    let scratch = Scratch::new("capacity-search");
    let live = scratch.path("live.jsonl");
    let target = server.addr.to_string();
    // Its normal p99 is a slot or two (under 1 ms): 20 ms is far above it,
    // and far below what a second beyond capacity queues up.
    let args = [
        "--target",
        &target,
        "--objective",
        "p99<=20ms",
        "--rate",
        "3000",
        "--search-precision",
        "10",
        "--duration",
        "0.5",
        "--warmup",
        "0.3",
        "--connections",
        "8",
        "--size",
        "64",
        "--max-duration",
        "50",
        "--progress-json",
        &live,
        "--json",
    ];
    let (output, _) = loadgen(&args, Duration::from_secs(75));
    let report = search_report(&output);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{report:?}\n{stderr}");
    let capacity = report.capacity_per_s.expect("a capacity");
    assert!(
        (0.75 * CAPACITY..=1.3 * CAPACITY).contains(&capacity),
        "capacity {capacity} for a server of {CAPACITY}/s: {report:?}\n{stderr}"
    );
    assert_eq!(report.objective, "p99<=20ms");
    assert!(!report.cut_short && !report.stalled, "{report:?}");
    // Every step is there: the first at --rate, doubling while they met
    // the objective, and the capacity one that met it.
    assert_eq!(report.steps[0].offered_per_s, 3000.0);
    assert!(report.steps.len() >= 3, "{report:?}");
    assert!(report.steps.iter().any(|step| !step.met), "{report:?}");
    let best = report
        .steps
        .iter()
        .filter(|step| step.met)
        .map(|step| step.offered_per_s)
        .fold(0.0, f64::max);
    assert_eq!(best, capacity, "{report:?}");
    for step in &report.steps {
        assert_eq!(step.met, step.verdict == "met", "{step:?}");
    }
    assert!(stderr.contains("rather than --duration"), "{stderr}");

    // The stream said which step each second belonged to.
    let lines = fs::read_to_string(&live).unwrap();
    let seconds: Vec<ProgressLine> = lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(seconds.len() >= report.steps.len(), "{lines}");
    for step in &report.steps {
        let of_step =
            |second: &&ProgressLine| second.step_offered_per_s == Some(step.offered_per_s);
        assert!(seconds.iter().any(|s| of_step(&s)), "{step:?}: {lines}");
    }
}

/// The rate above which [`PauseOnce`] pauses, once: between the first
/// step's rate (1,000/s) and the second's.
const PAUSE_ABOVE: f64 = 1_500.0;

/// Searches for `p90<=50ms` with `--step-repeats repeats` against a fresh
/// token bucket that pauses once, at its first step above
/// [`PAUSE_ABOVE`]/s (or earlier, if a busy machine makes the load
/// generator catch up in a burst); the report, and stderr.
fn search_through_one_pause(repeats: &str) -> (SearchReport, String) {
    let pause = PauseOnce::new(PAUSE_ABOVE);
    let service = Service::PausingBucket(Arc::new(Mutex::new(Instant::now())), pause.clone());
    let server = TestServer::start(service);
    let target = server.addr.to_string();
    // p90 needs 1,000 samples: 1 s at 1,000/s, 0.5 s from 2,000/s. The
    // pause, 400 ms from about 250 ms into the second step, holds most of
    // its measured half-second. 50 ms is far above the bucket's p90 below
    // its capacity, and below its queue's within 10% above it.
    let args = [
        "--target",
        &target,
        "--objective",
        "p90<=50ms",
        "--rate",
        "1000",
        "--search-precision",
        "10",
        "--duration",
        "0.5",
        "--warmup",
        "0.2",
        "--connections",
        "8",
        "--max-duration",
        "60",
        "--step-repeats",
        repeats,
        "--json",
    ];
    let (output, _) = loadgen(&args, Duration::from_secs(80));
    let report = search_report(&output);
    let stderr = text(&output.stderr);
    assert!(!report.cut_short && !report.stalled, "{report:?}\n{stderr}");
    assert_eq!(report.step_repeats, Some(repeats.parse().unwrap()));
    assert!(
        pause.paused(),
        "the server never paused: {report:?}\n{stderr}"
    );
    (report, stderr)
}

#[test]
fn three_runs_a_rate_outvote_one_stall_of_the_machine_and_one_does_not() {
    // One run a rate: the pause fails its rate, 2,000/s at the latest, and
    // the search never goes back up, bisecting below it.
    let (once, stderr) = search_through_one_pause("1");
    let capacity = once.capacity_per_s.unwrap_or(0.0);
    assert!(capacity < PAUSE_ABOVE * 1.5, "{once:?}\n{stderr}");
    assert!(
        once.steps.iter().all(|step| step.run == Some(1)),
        "{once:?}"
    );
    assert!(
        once.steps.iter().all(|s| s.rate_met == Some(s.met)),
        "one run decides its rate: {once:?}"
    );

    // Three: the paused run is outvoted by the two after it, and the
    // search goes on up to the bucket's capacity.
    let (majority, stderr) = search_through_one_pause("3");
    let capacity = majority.capacity_per_s.expect("a capacity");
    assert!(
        (0.75 * CAPACITY..=1.3 * CAPACITY).contains(&capacity),
        "capacity {capacity} for a server of {CAPACITY}/s: {majority:?}\n{stderr}"
    );
    // Every rate is decided by its last run, by two runs that agree, or
    // by three when the first two did not; and one rate below the
    // capacity met the objective over a failed run: the pause, outvoted.
    let mut runs_of_a_rate = Vec::new();
    let mut outvoted = Vec::new();
    for step in &majority.steps {
        if step.run == Some(1) {
            runs_of_a_rate.clear();
        }
        runs_of_a_rate.push(step.met);
        let agreeing = runs_of_a_rate
            .iter()
            .filter(|&&met| met == step.met)
            .count();
        match step.rate_met {
            Some(verdict) => assert!(verdict == step.met && agreeing == 2, "{majority:?}"),
            None => assert!(agreeing < 2, "{majority:?}"),
        }
        if step.rate_met == Some(true) && runs_of_a_rate.contains(&false) {
            outvoted.push(step.offered_per_s);
        }
    }
    assert!(
        outvoted.iter().any(|&rate| rate < CAPACITY),
        "no failed run outvoted below the capacity: {majority:?}\n{stderr}"
    );
    assert!(stderr.contains("(run 3 of up to 3)"), "{stderr}");
}

#[test]
fn the_search_stops_early_when_the_server_stalls() {
    let server = TestServer::start(Service::StallAfter(3_000, Arc::new(AtomicU64::new(0))));
    let target = server.addr.to_string();
    // p50 needs only 200 samples, so the first step (1,400 messages) is
    // served whole and the second runs into the stall.
    let args = [
        "--target",
        &target,
        "--objective",
        "p50<=20ms",
        "--rate",
        "2000",
        "--duration",
        "0.5",
        "--warmup",
        "0.2",
        "--connections",
        "4",
        "--max-duration",
        "100",
        "--json",
    ];
    let (output, took) = loadgen(&args, Duration::from_secs(40));
    let report = search_report(&output);
    let stderr = text(&output.stderr);
    assert!(report.stalled, "{report:?}\n{stderr}");
    assert!(!report.cut_short, "{report:?}");
    assert!(took < Duration::from_secs(25), "took {took:?}: {stderr}");
    let last = report.steps.last().unwrap();
    assert!(!last.met && last.verdict.contains("stalled"), "{report:?}");
    assert!(report.steps.len() <= 4, "{report:?}");
    match report.capacity_per_s {
        Some(capacity) => {
            assert_eq!(output.status.code(), Some(0), "{stderr}");
            assert_eq!(capacity, 2000.0, "{report:?}");
        }
        None => {
            assert_eq!(output.status.code(), Some(1), "{stderr}");
            assert!(stderr.contains("no rate met the objective"), "{stderr}");
        }
    }
}

// ------------------------------------------------------------ the stream

#[test]
fn progress_json_streams_a_line_a_second_against_the_real_server() {
    let server = Binary::start(&["--listen", "127.0.0.1:0"]);
    let target = server.addr().to_string();
    let args = [
        "--target",
        &target,
        "--rate",
        "2000",
        "--connections",
        "4",
        "--duration",
        "3",
        "--warmup",
        "0.2",
        "--progress-json",
        "-",
    ];
    let (output, _) = loadgen(&args, Duration::from_secs(20));
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() >= 3, "stdout: {stdout}\nstderr: {stderr}");
    for line in &lines {
        let Ok(Value::Object(fields)) = serde_json::from_str(line) else {
            panic!("not one JSON object: {line}")
        };
        for name in [
            "elapsed_s",
            "offered_per_s",
            "achieved_per_s",
            "p50_us",
            "p99_us",
            "p999_us",
            "errors",
            "step_offered_per_s",
        ] {
            assert!(fields.contains_key(name), "{name} missing: {line}");
        }
        let second: ProgressLine = serde_json::from_str(line).unwrap();
        assert_eq!(second.errors, 0, "{line}");
        assert_eq!(second.step_offered_per_s, None, "not a search: {line}");
    }
    // A whole second of load: offered at the rate, echoed, measured.
    let second: ProgressLine = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second.offered_per_s, Some(2000.0), "{}", lines[1]);
    assert!(second.achieved_per_s > 1000.0, "{}", lines[1]);
    assert!(second.p99_us.is_some(), "{}", lines[1]);
    // stdout carries only the lines: the table went to stderr.
    assert!(stderr.contains("messages/s"), "{stderr}");
}

// ------------------------------------------------------------ refused

#[test]
fn bad_search_and_stream_flags_get_one_line_and_status_2() {
    for (args, reason) in [
        (
            &["--mode", "bulk", "--objective", "p99<=1ms"][..],
            "--objective does not apply to bulk mode",
        ),
        (
            &["--mode", "threads", "--objective", "p99<=1ms"],
            "--objective does not apply to threads",
        ),
        (
            &["--objective", "p98<=1ms"],
            "'p98' is not one of the percentiles",
        ),
        (
            &["--objective", "p99<=1parsec"],
            "'parsec' in 'p99<=1parsec' is not a unit",
        ),
        (
            &["--objective", "p99 under 1ms"],
            "is not an objective like p99<=1ms",
        ),
        (&["--max-duration", "10"], "only apply with --objective"),
        (&["--step-repeats", "3"], "only apply with --objective"),
        (
            &["--objective", "p99<=1ms", "--step-repeats", "2"],
            "not an odd number of runs",
        ),
        (
            &["--progress-json", "-", "--json"],
            "--progress-json - takes stdout",
        ),
        (
            &["--mode", "bulk", "--progress-json", "live.jsonl"],
            "--progress-json does not apply to bulk mode",
        ),
    ] {
        let (output, _) = loadgen(args, Duration::from_secs(10));
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}
