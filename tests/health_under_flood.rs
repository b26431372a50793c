//! The health check answers while a flood holds the metrics endpoint: idle
//! connections, or connections that send one byte of a request a second,
//! a thousand of them, each reopened as soon as the server cuts it.
//!
//! The probe imitates Kubernetes' HTTP prober: a fresh TCP connection for
//! every probe, the request sent at once, and a one-second timeout on the
//! whole exchange (`timeoutSeconds: 1`, its default). Probes come every
//! 100 ms for 10 s; every one must be answered 200 within its second, and
//! echo clients must get every byte back meanwhile. The flood must also be
//! seen to fill the endpoint (the server counts the connections it cut),
//! so the test cannot pass against an endpoint nobody flooded.

use crate::support::*;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Flooding connections held open at once, as many as the accept queue
/// and the kernel let in.
const FLOOD: usize = 1_000;
/// Threads that hold them.
const FLOODERS: usize = 4;
/// The prober's timeout for the whole exchange.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a probe comes, and how many: every 100 ms for 10 s.
const PROBE_EVERY: Duration = Duration::from_millis(100);
const PROBES: u32 = 100;

/// What a flooding connection does with its slot.
#[derive(Clone, Copy)]
enum Flood {
    /// Sends nothing.
    Idle,
    /// Sends one byte of a request every second.
    Trickle,
}

/// Threads that keep up to [`FLOOD`] connections to `addr` open,
/// reopening each as soon as the server closes it, until stopped.
struct Flooders {
    stop: Arc<AtomicBool>,
    reopened: Arc<AtomicU64>,
    threads: Vec<thread::JoinHandle<usize>>,
}

impl Flooders {
    fn start(addr: SocketAddr, flood: Flood) -> Flooders {
        let stop = Arc::new(AtomicBool::new(false));
        let reopened = Arc::new(AtomicU64::new(0));
        let threads = (0..FLOODERS)
            .map(|_| {
                let (stop, reopened) = (Arc::clone(&stop), Arc::clone(&reopened));
                thread::spawn(move || flood_until(addr, flood, &stop, &reopened))
            })
            .collect();
        Flooders {
            stop,
            reopened,
            threads,
        }
    }

    /// Stops the threads; the most connections any held at once, summed.
    fn stop(self) -> (usize, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let held = self
            .threads
            .into_iter()
            .map(|thread| join_within("a flooding thread", thread, PATIENCE))
            .sum();
        (held, self.reopened.load(Ordering::Relaxed))
    }
}

/// One flooding thread's loop: open connections up to its share, reopen
/// those the server closed, trickle a byte a second on each if asked.
/// Returns the most it held at once.
fn flood_until(addr: SocketAddr, flood: Flood, stop: &AtomicBool, reopened: &AtomicU64) -> usize {
    const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: flood\r\n\r\n";
    let share = FLOOD / FLOODERS;
    // Each connection with how much of the request it has sent.
    let mut held: Vec<(TcpStream, usize)> = Vec::with_capacity(share);
    let mut most = 0;
    let mut last_trickle = Instant::now();
    let started = Instant::now();
    // Bounded in time whatever happens to the test: the probes take at most
    // PROBES seconds (a second each), and a flooder never outlives that.
    let limit = PROBE_TIMEOUT * (PROBES + 10);
    while !stop.load(Ordering::Relaxed) && started.elapsed() < limit {
        // Forget the connections the server closed.
        let before = held.len();
        held.retain(|(stream, _)| {
            let mut byte = [0u8; 1];
            match stream.peek(&mut byte) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => true,
                _ => false, // closed, reset, or answered: reopen it
            }
        });
        reopened.fetch_add((before - held.len()) as u64, Ordering::Relaxed);
        // Open more, up to the share, each connect bounded: once the accept
        // queue is full the kernel drops SYNs, and a connect waits.
        while held.len() < share && !stop.load(Ordering::Relaxed) {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(50)) {
                Ok(stream) => {
                    stream.set_nonblocking(true).unwrap();
                    held.push((stream, 0));
                }
                Err(_) => break,
            }
        }
        most = most.max(held.len());
        if let Flood::Trickle = flood {
            if last_trickle.elapsed() >= Duration::from_secs(1) {
                last_trickle = Instant::now();
                for (stream, sent) in &mut held {
                    // Never the request's last byte: it stays incomplete.
                    if *sent + 1 < REQUEST.len() && stream.write(&REQUEST[*sent..=*sent]).is_ok() {
                        *sent += 1;
                    }
                }
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
    most
}

/// One probe as Kubernetes' prober makes it: a new connection, the whole
/// request at once, and one second for all of it. The status, or why not.
fn probe(addr: SocketAddr) -> Result<u16, String> {
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let left = || deadline.saturating_duration_since(Instant::now());
    let mut stream =
        TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_write_timeout(Some(left().max(Duration::from_millis(1))))
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nUser-Agent: kube-probe/1.37\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let left = left();
        if left.is_zero() {
            return Err(format!("no whole answer within {PROBE_TIMEOUT:?}"));
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.get(9..12)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {text:?}"))
}

/// Probes [`PROBES`] times, every [`PROBE_EVERY`], while `flood` holds the
/// endpoint, with an echo client served between probes, and checks it all.
fn probes_are_answered_under(flood: Flood) {
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]);
    let metrics = server.metrics_addr();
    let echo = server.addr();
    let flooders = Flooders::start(metrics, flood);
    // Let the flood fill the endpoint first.
    thread::sleep(Duration::from_secs(1));
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for probe_number in 0..PROBES {
        // On schedule; one that ran late is followed at once.
        let due = started + PROBE_EVERY * probe_number;
        thread::sleep(due.saturating_duration_since(Instant::now()));
        let asked = Instant::now();
        match probe(metrics) {
            Ok(200) => slowest = slowest.max(asked.elapsed()),
            Ok(status) => failures.push(format!("probe {probe_number}: status {status}")),
            Err(why) => failures.push(format!("probe {probe_number}: {why}")),
        }
        echo_all(echo, &pattern(4096, probe_number.into()));
    }
    let (held, reopened) = flooders.stop();
    eprintln!(
        "{PROBES} probes in {:?}, slowest answered in {slowest:?}; the flood held up to \
         {held} connections and reopened {reopened} the server cut",
        started.elapsed()
    );
    assert!(failures.is_empty(), "failed probes: {failures:#?}");
    // The flood did fill the endpoint: the server cut its connections to
    // make room, and the flooders held far more than the endpoint's slots.
    let line = server.stats_line();
    assert!(held > 100, "the flood held only {held} connections");
    assert!(
        reopened > 0,
        "the server never cut a flooding connection: {line}"
    );
}

#[test]
fn probes_are_answered_while_a_thousand_idle_connections_hold_the_metrics_port() {
    probes_are_answered_under(Flood::Idle);
}

#[test]
fn probes_are_answered_while_a_thousand_connections_trickle_a_byte_a_second() {
    probes_are_answered_under(Flood::Trickle);
}
