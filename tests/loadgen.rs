//! The load generator (`examples/loadgen.rs`), run in this process through
//! its `run` function, exactly as its `main` runs it: against the real
//! server, against echo servers that corrupt or drop bytes (it must notice
//! and exit 1), and with targets and flags it must refuse (exit 2).
//!
//! The example is compiled into this test as a module, so
//! `cargo test --test loadgen` needs no prior `cargo build --examples`.
//! Every run here is short (about a second, three with the drain of a
//! broken server) and every wait is bounded.

#[allow(dead_code)] // its `main` is the example's, not ours
#[path = "../examples/loadgen.rs"]
mod loadgen;

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use echo_reactor::{Config, Handle, Server};

/// What one run of the load generator gave.
struct Outcome {
    status: u8,
    stdout: String,
    stderr: String,
}

fn loadgen(args: &[&str]) -> Outcome {
    let argv: Vec<OsString> = std::iter::once("loadgen")
        .chain(args.iter().copied())
        .map(OsString::from)
        .collect();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let status = loadgen::run(argv, &mut stdout, &mut stderr);
    Outcome {
        status,
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// Runs the load generator with `--json` and returns its one object.
fn loadgen_json(args: &[&str]) -> (u8, HashMap<String, Json>, String) {
    let mut all = args.to_vec();
    all.push("--json");
    let outcome = loadgen(&all);
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "--json prints exactly one line; stdout: {:?}, stderr: {}",
        outcome.stdout,
        outcome.stderr
    );
    (outcome.status, parse_flat_json(lines[0]), outcome.stderr)
}

// ------------------------------------------------------------ a JSON reader

/// A value of the flat object `--json` prints.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Number(f64),
    Text(String),
    Null,
}

impl Json {
    fn number(&self) -> f64 {
        match self {
            Json::Number(n) => *n,
            other => panic!("expected a number, got {other:?}"),
        }
    }
}

/// Parses one JSON object whose values are numbers, strings or null,
/// panicking at anything else: strict enough to catch a malformed report.
fn parse_flat_json(text: &str) -> HashMap<String, Json> {
    let bytes = text.trim().as_bytes();
    let mut at = 0;
    let mut object = HashMap::new();
    let expect = |at: &mut usize, byte: u8| {
        assert_eq!(
            bytes.get(*at),
            Some(&byte),
            "expected '{}' at {at} in {text}",
            byte as char
        );
        *at += 1;
    };
    let string = |at: &mut usize| -> String {
        expect(at, b'"');
        let start = *at;
        while bytes[*at] != b'"' {
            assert!(bytes[*at] != b'\\', "no escapes expected in {text}");
            *at += 1;
        }
        *at += 1;
        String::from_utf8(bytes[start..*at - 1].to_vec()).unwrap()
    };
    expect(&mut at, b'{');
    loop {
        let key = string(&mut at);
        expect(&mut at, b':');
        let value = match bytes[at] {
            b'"' => Json::Text(string(&mut at)),
            b'n' => {
                assert!(bytes[at..].starts_with(b"null"), "bad literal in {text}");
                at += 4;
                Json::Null
            }
            _ => {
                let start = at;
                while at < bytes.len() && b"+-.eE0123456789".contains(&bytes[at]) {
                    at += 1;
                }
                let number = std::str::from_utf8(&bytes[start..at]).unwrap();
                Json::Number(
                    number
                        .parse()
                        .unwrap_or_else(|_| panic!("bad number {number:?}")),
                )
            }
        };
        assert!(
            object.insert(key.clone(), value).is_none(),
            "duplicate key {key}"
        );
        match bytes.get(at) {
            Some(b',') => at += 1,
            Some(b'}') if at + 1 == bytes.len() => return object,
            _ => panic!("expected ',' or a final '}}' at {at} in {text}"),
        }
    }
}

// ------------------------------------------------------------ servers

/// The real server, on an ephemeral loopback port of this process.
struct RealServer {
    addr: SocketAddr,
    handle: Handle,
    thread: JoinHandle<()>,
}

impl RealServer {
    fn start() -> RealServer {
        let server = Server::bind(Config::listening_on("127.0.0.1:0".parse().unwrap()))
            .expect("bind the server");
        let addr = server.local_addrs()[0];
        let handle = server.handle();
        let thread = thread::spawn(move || {
            server.run().expect("server runs");
        });
        RealServer {
            addr,
            handle,
            thread,
        }
    }

    fn target(&self) -> String {
        self.addr.to_string()
    }

    fn stop(self) {
        self.handle.stop();
        self.thread.join().expect("server thread");
    }
}

/// How a faulty echo server misbehaves.
#[derive(Clone, Copy)]
enum Fault {
    /// Flip every bit of each byte at stream offsets `every - 1, 2*every - 1, ...`.
    FlipEvery(u64),
    /// Echo nothing of the connection's `n`th read (counting from 1).
    DropRead(u64),
    /// Echo every chunk correctly, but this long after reading it.
    DelayEach(Duration),
    /// Echo correctly, but once, `after` the connection was accepted, stop
    /// for `pause` (a garbage-collection pause, say).
    StallOnce { after: Duration, pause: Duration },
}

/// An echo server that breaks its promise or is slow about it: plain
/// `std::net`, a thread per connection, bounded in time. Stops accepting
/// when dropped.
struct FaultyServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FaultyServer {
    fn start(fault: Fault) -> FaultyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut clients = Vec::new();
            while !stopping.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        clients.push(thread::spawn(move || serve_faulty(stream, fault)))
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
            for client in clients {
                let _ = client.join();
            }
        });
        FaultyServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn target(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for FaultyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_faulty(mut stream: TcpStream, fault: Fault) {
    stream.set_nonblocking(false).unwrap();
    stream.set_nodelay(true).unwrap();
    // Ends when the client closes, or at the latest after a quiet spell.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let mut offset = 0u64;
    let mut reads = 0u64;
    let accepted = Instant::now();
    let mut stalled = false;
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        reads += 1;
        let chunk = &mut buf[..n];
        match fault {
            Fault::DelayEach(delay) => thread::sleep(delay),
            Fault::StallOnce { after, pause } if !stalled && accepted.elapsed() >= after => {
                stalled = true;
                thread::sleep(pause);
            }
            Fault::StallOnce { .. } => {}
            Fault::FlipEvery(every) => {
                for (i, byte) in chunk.iter_mut().enumerate() {
                    if (offset + i as u64 + 1) % every == 0 {
                        *byte = !*byte;
                    }
                }
            }
            Fault::DropRead(nth) if reads == nth => {
                offset += n as u64;
                continue;
            }
            Fault::DropRead(_) => {}
        }
        offset += n as u64;
        if stream.write_all(chunk).is_err() {
            return;
        }
    }
}

// ------------------------------------------------------------ the tests

const SHORT: [&str; 4] = ["--duration", "1", "--warmup", "0.2"];

fn assert_clean_run(status: u8, report: &HashMap<String, Json>, stderr: &str) {
    assert_eq!(
        report["errors"].number(),
        0.0,
        "errors: {report:?}\n{stderr}"
    );
    assert_eq!(status, 0, "exit status; report {report:?}\n{stderr}");
}

#[test]
fn pingpong_against_the_real_server_has_no_errors() {
    let server = RealServer::start();
    let target = server.target();
    let mut args = vec![
        "--mode",
        "pingpong",
        "--connections",
        "8",
        "--target",
        &target,
    ];
    args.extend(SHORT);
    let (status, report, stderr) = loadgen_json(&args);
    server.stop();
    assert_clean_run(status, &report, &stderr);
    assert_eq!(report["mode"], Json::Text("pingpong".into()));
    assert_eq!(report["depth"].number(), 1.0);
    assert!(report["messages"].number() > 0.0, "{report:?}");
    assert!(report["latency_p50_us"].number() > 0.0, "{report:?}");
    assert!(report["latency_max_us"].number() >= report["latency_p99_us"].number());
}

#[test]
fn pipeline_on_two_threads_against_the_real_server_has_no_errors() {
    let server = RealServer::start();
    let target = server.target();
    let mut args = vec![
        "--mode",
        "pipeline",
        "--connections",
        "10",
        "--depth",
        "8",
        "--size",
        "100",
        "--threads",
        "2",
        "--target",
        &target,
    ];
    args.extend(SHORT);
    let (status, report, stderr) = loadgen_json(&args);
    server.stop();
    assert_clean_run(status, &report, &stderr);
    assert_eq!(report["depth"].number(), 8.0);
    assert_eq!(report["threads"].number(), 2.0);
    let messages = report["messages"].number();
    assert!(messages > 0.0, "{report:?}");
    assert_eq!(report["bytes"].number(), messages * 100.0);
}

#[test]
fn bulk_streams_every_byte_through_the_real_server() {
    let server = RealServer::start();
    let target = server.target();
    let (status, report, stderr) = loadgen_json(&[
        "--mode",
        "bulk",
        "--bytes",
        "8MiB",
        "--duration",
        "1",
        "--target",
        &target,
    ]);
    server.stop();
    assert_clean_run(status, &report, &stderr);
    assert_eq!(report["bytes"].number(), (8 << 20) as f64);
    assert!(report["gb_per_s"].number() > 0.0, "{report:?}");
    assert_eq!(report["messages"], Json::Null);
}

#[test]
fn a_fixed_rate_sends_on_schedule_whatever_the_echoes() {
    let server = RealServer::start();
    let target = server.target();
    let mut args = vec!["--rate", "2000", "--connections", "10", "--target", &target];
    args.extend(SHORT);
    let (status, report, stderr) = loadgen_json(&args);
    server.stop();
    assert_clean_run(status, &report, &stderr);
    assert_eq!(report["rate"].number(), 2000.0);
    assert_eq!(report["depth"], Json::Null);
    // The schedule, not the server, decides how many messages go out in the
    // measured second: 2000, give or take one per boundary.
    let messages = report["messages"].number();
    assert!((1990.0..=2010.0).contains(&messages), "{report:?}");
}

#[test]
fn a_server_that_flips_bytes_is_caught() {
    let server = FaultyServer::start(Fault::FlipEvery(1000));
    let target = server.target();
    let mut args = vec![
        "--mode",
        "pipeline",
        "--connections",
        "4",
        "--depth",
        "4",
        "--target",
        &target,
    ];
    args.extend(SHORT);
    let (status, report, stderr) = loadgen_json(&args);
    drop(server);
    assert!(
        report["mismatched_chunks"].number() > 0.0,
        "{report:?}\n{stderr}"
    );
    assert!(report["mismatched_bytes"].number() > 0.0, "{report:?}");
    assert!(report["errors"].number() > 0.0, "{report:?}");
    assert_eq!(status, 1, "a corrupting server fails the run");
}

#[test]
fn a_server_that_drops_a_chunk_is_caught() {
    let server = FaultyServer::start(Fault::DropRead(5));
    let target = server.target();
    let mut args = vec![
        "--mode",
        "pingpong",
        "--connections",
        "4",
        "--target",
        &target,
    ];
    args.extend(SHORT);
    let (status, report, stderr) = loadgen_json(&args);
    drop(server);
    // Each connection's fifth message vanishes: its echo never completes.
    assert!(
        report["lost_connections"].number() > 0.0,
        "{report:?}\n{stderr}"
    );
    assert!(report["errors"].number() > 0.0, "{report:?}");
    assert_eq!(status, 1, "a server that loses bytes fails the run");
}

#[test]
fn latency_is_measured_from_send_to_the_last_echoed_byte() {
    let server = FaultyServer::start(Fault::DelayEach(Duration::from_millis(20)));
    let target = server.target();
    let mut args = vec!["--connections", "4", "--target", &target];
    args.extend(SHORT);
    let (status, report, stderr) = loadgen_json(&args);
    drop(server);
    assert_clean_run(status, &report, &stderr);
    assert!(report["latency_p50_us"].number() >= 20_000.0, "{report:?}");
    // 4 connections, one message each per 20 ms at best.
    assert!(
        report["messages_per_s"].number() <= 4.0 * 50.0 * 1.05,
        "{report:?}"
    );
}

/// Coordinated omission: a server that stops for 300 ms in the middle of
/// the measured second. A closed loop sends nothing while it waits, so only
/// the few messages in flight see the pause and p99 hides it; at a fixed
/// rate every message scheduled during the pause waits for it.
#[test]
fn a_fixed_rate_sees_a_stall_that_a_closed_loop_hides() {
    let stall = Fault::StallOnce {
        after: Duration::from_millis(500),
        pause: Duration::from_millis(300),
    };
    let p99 = |rate: Option<&str>| {
        let server = FaultyServer::start(stall);
        let target = server.target();
        let mut args = vec!["--connections", "4", "--target", &target];
        args.extend(SHORT);
        if let Some(rate) = rate {
            args.extend(["--rate", rate]);
        }
        let (status, report, stderr) = loadgen_json(&args);
        drop(server);
        assert_clean_run(status, &report, &stderr);
        assert!(report["latency_max_us"].number() >= 250_000.0, "{report:?}");
        report["latency_p99_us"].number()
    };
    let closed_loop = p99(None);
    let fixed_rate = p99(Some("1000"));
    // Messages due in the pause's first 100 ms (a tenth of the measured
    // ones) waited at least 200 ms.
    assert!(
        fixed_rate >= 200_000.0,
        "p99 at a fixed rate: {fixed_rate} us"
    );
    assert!(
        closed_loop < 200_000.0,
        "p99 in a closed loop: {closed_loop} us"
    );
}

#[test]
fn a_remote_target_is_refused_without_allow_remote() {
    let started = Instant::now();
    // TEST-NET-1 (RFC 5737): never routed, and never contacted here.
    let outcome = loadgen(&["--target", "192.0.2.1:7", "--duration", "1"]);
    assert_eq!(outcome.status, 2);
    assert_eq!(outcome.stdout, "");
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("--allow-remote"),
        "{}",
        outcome.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused before any connect"
    );
}

#[test]
fn bad_flags_get_one_line_and_status_2() {
    for args in [
        &["--connections", "0"][..],
        &["--mode", "sideways"],
        &["--size", "12 parsecs"],
        &["--mode", "bulk", "--rate", "100"],
        &["--mode", "pingpong", "--depth", "4"],
        &["--rate", "-5"],
    ] {
        let outcome = loadgen(args);
        assert_eq!(outcome.status, 2, "{args:?}: {}", outcome.stderr);
        assert_eq!(outcome.stdout, "", "{args:?}");
        assert_eq!(
            outcome.stderr.lines().count(),
            1,
            "{args:?}: {}",
            outcome.stderr
        );
        assert!(
            outcome.stderr.starts_with("loadgen: "),
            "{}",
            outcome.stderr
        );
    }
}
