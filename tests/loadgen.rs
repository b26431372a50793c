//! The load generator (`examples/loadgen.rs`), run in this process through
//! its `run` function, exactly as its `main` runs it: against the real
//! server (TCP, and UDP with `--mode udp`), against echo servers that
//! corrupt, drop, duplicate, reorder or delay bytes or datagrams (it must
//! notice, count each as what it is, and exit 1), and with targets and
//! flags it must refuse (exit 2).
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
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
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
        RealServer::start_with(Config::listening_on("127.0.0.1:0".parse().unwrap()))
    }

    /// The real server echoing UDP too, on the same port.
    fn start_udp() -> RealServer {
        RealServer::start_with(Config {
            udp: true,
            ..Config::listening_on("127.0.0.1:0".parse().unwrap())
        })
    }

    fn start_with(config: Config) -> RealServer {
        let server = Server::bind(config).expect("bind the server");
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
/// `std::net` on a thread (TCP: a thread per connection too), bounded in
/// time. Stops when dropped.
struct FaultyServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FaultyServer {
    /// Runs `serve` on a thread until the server is dropped.
    fn spawn(addr: SocketAddr, serve: impl FnOnce(&AtomicBool) + Send + 'static) -> FaultyServer {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = thread::spawn(move || serve(&stopping));
        FaultyServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// A TCP echo server with `fault`.
    fn start(fault: Fault) -> FaultyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        FaultyServer::spawn(addr, move |stopping| {
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
        })
    }

    /// A UDP echo server with `fault`, on one thread.
    fn start_udp(fault: UdpFault) -> FaultyServer {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        FaultyServer::spawn(addr, move |stopping| {
            serve_faulty_udp(&socket, fault, stopping)
        })
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

/// How a faulty UDP echo server misbehaves, with every `n`th datagram it
/// receives (counting from 1, over all clients).
#[derive(Clone, Copy)]
enum UdpFault {
    /// Flips every bit of the middle byte.
    Flip(u64),
    /// Echoes nothing.
    Drop(u64),
    /// Echoes it twice.
    Duplicate(u64),
    /// Holds it back until the next datagram from the same client is
    /// echoed (at most 5 ms), so its echo comes second.
    Swap(u64),
    /// Echoes it this long after receiving it.
    Delay(u64, Duration),
}

fn serve_faulty_udp(socket: &UdpSocket, fault: UdpFault, stop: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = vec![0u8; 65_536];
    let mut received = 0u64;
    // Datagrams held back: when they are due, to whom, what.
    let mut held: Vec<(Instant, SocketAddr, Vec<u8>)> = Vec::new();
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let now = Instant::now();
        held.retain(|(due, peer, datagram)| {
            let keep = *due > now;
            if !keep {
                let _ = socket.send_to(datagram, peer);
            }
            keep
        });
        let Ok((n, peer)) = socket.recv_from(&mut buf) else {
            continue; // the read timeout: look at the held ones again
        };
        received += 1;
        let datagram = &mut buf[..n];
        let nth = |every: u64| received % every == 0;
        match fault {
            UdpFault::Flip(every) if nth(every) => datagram[n / 2] = !datagram[n / 2],
            UdpFault::Drop(every) if nth(every) => continue,
            UdpFault::Duplicate(every) if nth(every) => {
                let _ = socket.send_to(datagram, peer);
            }
            UdpFault::Swap(every) if nth(every) => {
                held.push((now + Duration::from_millis(5), peer, datagram.to_vec()));
                continue;
            }
            UdpFault::Delay(every, delay) if nth(every) => {
                held.push((now + delay, peer, datagram.to_vec()));
                continue;
            }
            _ => {}
        }
        let _ = socket.send_to(datagram, peer);
        if let UdpFault::Swap(_) = fault {
            // The one held back from this client follows the one just sent.
            held.retain(|(_, to, datagram)| {
                let keep = *to != peer;
                if !keep {
                    let _ = socket.send_to(datagram, to);
                }
                keep
            });
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
        &["--udp-timeout-ms", "100"],
        &["--mode", "udp", "--size", "0"],
        &["--mode", "udp", "--udp-timeout-ms", "0"],
        &["--mode", "udp", "--rate", "100", "--depth", "2"],
        &["--mode", "udp", "--bytes", "1M"],
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

// ------------------------------------------------------------ udp mode

/// The UDP error counters of a report: (mismatched, duplicated, reordered,
/// lost, late).
fn udp_counts(report: &HashMap<String, Json>) -> [f64; 5] {
    [
        "mismatched_datagrams",
        "duplicated_datagrams",
        "reordered_datagrams",
        "lost_datagrams",
        "late_datagrams",
    ]
    .map(|field| report[field].number())
}

/// Runs `--mode udp` against `target` with `extra` flags, the short timing.
fn loadgen_udp(target: &str, extra: &[&str]) -> (u8, HashMap<String, Json>, String) {
    let mut args = vec!["--mode", "udp", "--target", target];
    args.extend(SHORT);
    args.extend(extra);
    loadgen_json(&args)
}

#[test]
fn udp_pingpong_against_the_real_server_has_no_errors_and_no_losses() {
    let server = RealServer::start_udp();
    let target = server.target();
    let (status, report, stderr) = loadgen_udp(&target, &["--connections", "8"]);
    server.stop();
    assert_clean_run(status, &report, &stderr);
    assert_eq!(report["mode"], Json::Text("udp".into()));
    assert_eq!(report["depth"].number(), 1.0);
    assert_eq!(udp_counts(&report), [0.0; 5], "{report:?}");
    let messages = report["messages"].number();
    assert!(messages > 0.0, "{report:?}");
    assert!(report["datagrams_sent"].number() >= messages, "{report:?}");
    assert_eq!(report["bytes"].number(), messages * 64.0);
    assert!(report["latency_p50_us"].number() > 0.0, "{report:?}");
    assert_eq!(report["udp_timeout_ms"].number(), 200.0);
    // TCP's own counters do not apply.
    assert_eq!(report["lost_connections"], Json::Null);
}

#[test]
fn udp_with_depth_and_threads_against_the_real_server_has_no_errors() {
    let server = RealServer::start_udp();
    let target = server.target();
    let (status, report, stderr) = loadgen_udp(
        &target,
        &[
            "--connections",
            "6",
            "--depth",
            "4",
            "--threads",
            "2",
            "--size",
            "1472",
        ],
    );
    server.stop();
    assert_clean_run(status, &report, &stderr);
    assert_eq!(report["depth"].number(), 4.0);
    assert_eq!(report["threads"].number(), 2.0);
    assert!(report["messages"].number() > 0.0, "{report:?}");
    assert_eq!(udp_counts(&report), [0.0; 5], "{report:?}");
}

#[test]
fn udp_at_a_fixed_rate_sends_on_schedule() {
    let server = RealServer::start_udp();
    let target = server.target();
    let (status, report, stderr) = loadgen_udp(&target, &["--rate", "1000", "--connections", "10"]);
    server.stop();
    assert_clean_run(status, &report, &stderr);
    assert_eq!(report["rate"].number(), 1000.0);
    assert_eq!(report["depth"], Json::Null);
    let messages = report["messages"].number();
    assert!((990.0..=1010.0).contains(&messages), "{report:?}");
    assert_eq!(udp_counts(&report), [0.0; 5], "{report:?}");
}

#[test]
fn a_udp_server_that_flips_bytes_is_caught_and_nothing_counts_as_lost() {
    let server = FaultyServer::start_udp(UdpFault::Flip(10));
    let (status, report, stderr) = loadgen_udp(&server.target(), &["--connections", "4"]);
    drop(server);
    let [mismatched, duplicated, reordered, lost, _] = udp_counts(&report);
    assert!(mismatched > 0.0, "{report:?}\n{stderr}");
    assert!(
        report["mismatched_bytes"].number() >= mismatched,
        "{report:?}"
    );
    // A corrupt echo is still an echo: its datagram is not lost as well.
    assert_eq!([duplicated, reordered, lost], [0.0; 3], "{report:?}");
    assert_eq!(report["errors"].number(), mismatched, "{report:?}");
    assert_eq!(status, 1, "a corrupting server fails the run");
}

#[test]
fn a_udp_server_that_drops_datagrams_is_caught_and_the_run_goes_on() {
    let server = FaultyServer::start_udp(UdpFault::Drop(10));
    let (status, report, stderr) = loadgen_udp(
        &server.target(),
        &["--connections", "4", "--udp-timeout-ms", "50"],
    );
    drop(server);
    let [mismatched, duplicated, reordered, lost, late] = udp_counts(&report);
    assert!(lost > 0.0, "{report:?}\n{stderr}");
    assert_eq!(
        [mismatched, duplicated, reordered, late],
        [0.0; 4],
        "{report:?}"
    );
    assert_eq!(report["errors"].number(), lost, "{report:?}");
    // Each loss stalls its socket for 50 ms only: many more datagrams than
    // the first 10 came back.
    assert!(report["messages"].number() > 100.0, "{report:?}");
    assert_eq!(status, 1, "a server that loses datagrams fails the run");
}

#[test]
fn a_udp_server_that_duplicates_datagrams_is_caught() {
    let server = FaultyServer::start_udp(UdpFault::Duplicate(10));
    let (status, report, stderr) = loadgen_udp(&server.target(), &["--connections", "4"]);
    drop(server);
    let [mismatched, duplicated, reordered, lost, late] = udp_counts(&report);
    assert!(duplicated > 0.0, "{report:?}\n{stderr}");
    assert_eq!([mismatched, reordered, lost, late], [0.0; 4], "{report:?}");
    assert_eq!(status, 1);
}

#[test]
fn a_udp_server_that_reorders_datagrams_is_caught() {
    let server = FaultyServer::start_udp(UdpFault::Swap(10));
    let (status, report, stderr) =
        loadgen_udp(&server.target(), &["--connections", "4", "--depth", "2"]);
    drop(server);
    let [mismatched, duplicated, reordered, lost, late] = udp_counts(&report);
    assert!(reordered > 0.0, "{report:?}\n{stderr}");
    assert_eq!([mismatched, duplicated, lost, late], [0.0; 4], "{report:?}");
    assert_eq!(status, 1);
}

#[test]
fn a_udp_echo_after_the_timeout_is_lost_and_then_late_not_duplicated() {
    let server = FaultyServer::start_udp(UdpFault::Delay(10, Duration::from_millis(80)));
    let (status, report, stderr) = loadgen_udp(
        &server.target(),
        &["--connections", "4", "--udp-timeout-ms", "20"],
    );
    drop(server);
    let [mismatched, duplicated, reordered, lost, late] = udp_counts(&report);
    assert!(lost > 0.0 && late > 0.0, "{report:?}\n{stderr}");
    assert_eq!([mismatched, duplicated, reordered], [0.0; 3], "{report:?}");
    // A late echo is not an error of its own: its loss is.
    assert_eq!(report["errors"].number(), lost, "{report:?}");
    assert_eq!(status, 1);
}

#[test]
fn udp_datagrams_up_to_65507_bytes_pass_and_larger_are_refused() {
    let started = Instant::now();
    let outcome = loadgen(&["--mode", "udp", "--size", "65508", "--duration", "1"]);
    assert_eq!(outcome.status, 2, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "");
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("65507"), "{}", outcome.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused at once"
    );

    let server = RealServer::start_udp();
    let target = server.target();
    let (status, report, stderr) = loadgen_json(&[
        "--mode",
        "udp",
        "--size",
        "65507",
        "--connections",
        "1",
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--target",
        &target,
    ]);
    server.stop();
    assert_clean_run(status, &report, &stderr);
    assert!(report["messages"].number() > 0.0, "{report:?}");
}

#[test]
fn udp_to_a_port_where_nothing_receives_udp_fails_at_once_with_a_hint() {
    // The real server without --udp: its port answers TCP only, so the
    // kernel refuses the datagrams (ICMP port unreachable).
    let server = RealServer::start();
    let target = server.target();
    let started = Instant::now();
    let outcome = loadgen(&[
        "--mode",
        "udp",
        "--connections",
        "3",
        "--duration",
        "5",
        "--target",
        &target,
    ]);
    server.stop();
    assert_eq!(outcome.status, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("--udp"), "{}", outcome.stderr);
    assert!(
        outcome.stdout.contains("I/O errors 3"),
        "{}",
        outcome.stdout
    );
    assert!(started.elapsed() < Duration::from_secs(2), "no waiting");
}
