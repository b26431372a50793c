//! Listeners that misbehave on purpose (`--fault-listen`, `--toxic`),
//! each fault measured from the client's side with a plain blocking
//! client: delays within their bounds, a rate within 10 %, an RST seen as
//! `ECONNRESET`, the FIN after exactly N bytes, a zero window seen as a
//! blocked `send`, a toxicity's share within statistical bounds for a
//! fixed seed; UDP datagrams lost, duplicated, delayed and reordered,
//! and counted; the plain listener beside them echoing at once; memory
//! within its budget with fast writers on a latency listener; and bad
//! specs refused with one line and exit status 2.
//!
//! Where timing is involved the bounds leave a margin of ten times what
//! a quiet machine needs, on the side where a busy machine errs.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

/// The server with one plain listener and the fault listeners of
/// `faults` (`--fault-listen NAME=127.0.0.1:0` for each name) and
/// `extra` flags; its addresses are the plain one, then each fault
/// listener's in order.
fn server(faults: &[&str], extra: &[&str]) -> Binary {
    let mut args = vec!["--listen", "127.0.0.1:0"];
    let listens: Vec<String> = faults
        .iter()
        .map(|name| format!("{name}=127.0.0.1:0"))
        .collect();
    for listen in &listens {
        args.extend(["--fault-listen", listen.as_str()]);
    }
    args.extend(extra);
    Binary::start(&args)
}

/// How long one echo of `message` takes on `stream`.
fn timed_echo(stream: &mut TcpStream, message: &[u8]) -> Duration {
    let started = Instant::now();
    echo_once(stream, message);
    started.elapsed()
}

/// How a read ended: bytes, the end of stream, or an error.
fn read_outcome(stream: &mut TcpStream) -> io::Result<usize> {
    let mut buf = [0u8; 4096];
    stream.read(&mut buf)
}

#[test]
fn latency_delays_each_echo_within_its_bounds_while_the_plain_listener_answers_at_once() {
    let server = server(
        &["slow"],
        &["--toxic", "slow:latency,latency=100ms,jitter=10ms"],
    );
    let mut plain = connect(server.addrs[0]);
    let mut slow = connect(server.addrs[1]);
    for round in 0..5 {
        let delayed = timed_echo(&mut slow, format!("slow {round}").as_bytes());
        assert!(
            delayed >= Duration::from_millis(90) && delayed < Duration::from_secs(1),
            "a 100 ms ± 10 ms latency took {delayed:?}"
        );
        let prompt = timed_echo(&mut plain, format!("plain {round}").as_bytes());
        assert!(
            prompt < Duration::from_millis(50),
            "the plain listener took {prompt:?} beside a faulted one"
        );
    }
}

#[test]
fn fast_writers_on_a_latency_listener_get_every_byte_back_in_order_within_the_budget() {
    let mut server = server(
        &["slow"],
        &[
            "--toxic",
            "slow:latency,latency=20ms,jitter=15ms",
            "--max-pending",
            "64KiB",
            "--max-memory",
            "1MiB",
        ],
    );
    let addr = server.addrs[1];
    let writers: Vec<_> = (0..8)
        .map(|seed| {
            thread::spawn(move || {
                let data = pattern(2 << 20, seed);
                echo_all(addr, &data);
            })
        })
        .collect();
    for writer in writers {
        join_within("a writer and its echo", writer, PATIENCE);
    }
    let line = server.stats_line();
    let peak = logged_count(&line, "B peak");
    assert!(
        peak <= 1 << 20,
        "held {peak} B at most, over the 1 MiB budget: {line}"
    );
    assert!(peak > 0, "nothing was ever held back: {line}");
    assert_eq!(logged_count(&line, "latency"), 8, "{line}");
}

#[test]
fn downstream_bandwidth_paces_the_echo_to_its_rate_within_ten_percent() {
    let server = server(&["thin"], &["--toxic", "thin:bandwidth,rate=200"]);
    let data = pattern(400_000, 3);
    let mut stream = connect(server.addrs[1]);
    let sender = send_then_half_close(&stream, data.clone());
    let started = Instant::now();
    let echoed = read_exactly(&mut stream, data.len());
    let took = started.elapsed();
    sender.finish();
    assert_same_bytes(&echoed, &data);
    let rate = data.len() as f64 / took.as_secs_f64();
    assert!(
        (180_000.0..=220_000.0).contains(&rate),
        "200 KB/s measured as {rate:.0} B/s ({took:?} for {} bytes)",
        data.len()
    );
}

#[test]
fn upstream_bandwidth_is_a_slow_reader_whose_window_closes() {
    let server = server(&["thin"], &["--toxic", "thin:bandwidth:upstream,rate=1"]);
    let mut stream = connect(server.addrs[1]);
    stream.set_nonblocking(true).unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let mut written = 0usize;
    let blocked = loop {
        match stream.write(&chunk) {
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
            Err(e) => panic!("write: {e}"),
        }
        if written > 64 << 20 {
            break false;
        }
    };
    assert!(
        blocked,
        "{written} bytes went into a 1 KB/s reader without a blocked send"
    );
}

#[test]
fn limit_data_sends_exactly_its_bytes_then_the_fin() {
    let server = server(&["cut"], &["--toxic", "cut:limit_data,bytes=1000"]);
    let mut stream = connect(server.addrs[1]);
    let data = pattern(5000, 1);
    stream.write_all(&data).unwrap();
    let echoed = read_exactly(&mut stream, 1000);
    assert_same_bytes(&echoed, &data[..1000]);
    assert_eof(&mut stream);
}

#[test]
fn reset_peer_resets_after_its_timeout() {
    let server = server(&["rst"], &["--toxic", "rst:reset_peer,timeout=100ms"]);
    let mut stream = connect(server.addrs[1]);
    let started = Instant::now();
    echo_once(&mut stream, b"before the reset");
    let outcome = read_outcome(&mut stream);
    let took = started.elapsed();
    assert_eq!(
        outcome.map_err(|e| e.kind()),
        Err(io::ErrorKind::ConnectionReset),
        "after {took:?}"
    );
    assert!(
        took >= Duration::from_millis(90) && took < Duration::from_secs(1),
        "{took:?}"
    );
}

#[test]
fn timeout_echoes_nothing_and_ends_the_connection_after_its_time() {
    let server = server(&["hole"], &["--toxic", "hole:timeout,timeout=200ms"]);
    let mut stream = connect(server.addrs[1]);
    let started = Instant::now();
    stream.write_all(b"into the hole").unwrap();
    let outcome = read_outcome(&mut stream);
    let took = started.elapsed();
    assert!(
        matches!(outcome, Ok(0)) || outcome.is_err(),
        "no byte may come back: {outcome:?}"
    );
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[test]
fn slow_close_sends_the_fin_late_but_the_echo_at_once() {
    let server = server(&["lazy"], &["--toxic", "lazy:slow_close,delay=300ms"]);
    let mut stream = connect(server.addrs[1]);
    let started = Instant::now();
    let sender = send_then_half_close(&stream, b"bye".to_vec());
    assert_eq!(read_exactly(&mut stream, 3), b"bye");
    let echoed = started.elapsed();
    sender.finish();
    assert_eof(&mut stream);
    let closed = started.elapsed();
    assert!(echoed < Duration::from_millis(100), "echo took {echoed:?}");
    assert!(
        closed >= Duration::from_millis(290) && closed < Duration::from_secs(3),
        "FIN after {closed:?}"
    );
}

#[test]
fn the_slicer_writes_the_echo_in_small_slices_apart() {
    let server = server(
        &["thin"],
        &[
            "--toxic",
            "thin:slicer,average_size=10,size_variation=2,delay=10ms",
        ],
    );
    let mut stream = connect(server.addrs[1]);
    let data = pattern(100, 9);
    let started = Instant::now();
    stream.write_all(&data).unwrap();
    let mut echoed = Vec::new();
    let mut reads = 0;
    while echoed.len() < data.len() {
        let mut buf = [0u8; 100];
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "end of stream after {} bytes", echoed.len());
        assert!(n <= 12, "a slice of {n} bytes, over 10 ± 2");
        echoed.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    let took = started.elapsed();
    assert_same_bytes(&echoed, &data);
    assert!(
        reads >= 8,
        "{reads} reads for 100 bytes in slices of 10 ± 2"
    );
    assert!(
        took >= Duration::from_millis(70),
        "{took:?} for 8 pauses of 10 ms or more"
    );
}

#[test]
fn accept_close_and_accept_reset_end_a_connection_before_any_byte() {
    let server = server(
        &["shut", "reset"],
        &[
            "--toxic",
            "shut:accept_close",
            "--toxic",
            "reset:accept_reset",
        ],
    );
    let mut closed = connect(server.addrs[1]);
    assert_eof(&mut closed);
    let mut reset = connect(server.addrs[2]);
    let outcome = read_outcome(&mut reset);
    assert_eq!(
        outcome.map_err(|e| e.kind()),
        Err(io::ErrorKind::ConnectionReset)
    );
}

#[test]
fn a_listener_that_stops_accepting_leaves_clients_to_time_out() {
    let server = server(&["deaf"], &["--toxic", "deaf:stop_accepting"]);
    let addr: SocketAddr = server.addrs[1];
    let timed_out = (0..6)
        .filter(|_| {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                // Queued by the kernel, never accepted: kept open so the
                // queue stays full.
                Ok(stream) => {
                    std::mem::forget(stream);
                    false
                }
                Err(e) => {
                    e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock
                }
            }
        })
        .count();
    assert!(timed_out >= 3, "only {timed_out} of 6 connects timed out");
    echo_once(
        &mut connect(server.addrs[0]),
        b"the plain listener still answers",
    );
}

#[test]
fn a_toxicity_applies_to_its_share_of_connections_for_a_fixed_seed() {
    let mut server = server(
        &["some"],
        &[
            "--toxic",
            "some:accept_reset,toxicity=0.5",
            "--fault-seed",
            "7",
            "--metrics",
            "127.0.0.1:0",
        ],
    );
    let resets = (0..200)
        .filter(|_| {
            let mut stream = connect(server.addrs[1]);
            // The reset may come before the byte is sent.
            let sent = stream.write_all(b"x");
            match sent.and_then(|()| read_outcome(&mut stream)) {
                Ok(1) => false,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => true,
                other => panic!("neither an echo nor a reset: {other:?}"),
            }
        })
        .count();
    // A binomial of 200 at 0.5: its standard deviation is about 7.
    assert!((65..=135).contains(&resets), "{resets} of 200 reset");
    let line = server.stats_line();
    assert_eq!(logged_count(&line, "accept_reset"), resets as u64, "{line}");
    server.wait_for_log(&format!("faults by listener: some: {resets} accept_reset"));
    let metrics = get_metrics(server.metrics_addr());
    let sample = format!(
        "\necho_reactor_faults_applied_by_listener_total{{listener=\"some\",kind=\"accept_reset\"}} {resets}\n"
    );
    assert!(metrics.contains(&sample), "no {sample:?} in\n{metrics}");
    assert!(metrics.contains(&format!(
        "\necho_reactor_faults_applied_total{{kind=\"accept_reset\"}} {resets}\n"
    )));
}

/// The body of `GET /metrics`.
fn get_metrics(addr: SocketAddr) -> String {
    let mut stream = connect(addr);
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn a_malformed_fault_is_one_line_and_exit_status_2() {
    for (args, part) in [
        (vec!["--toxic", "slow:lag"], "'lag'"),
        (vec!["--toxic", "slow:latency,latency=100"], "'latency=100'"),
        (vec!["--toxic", "slow:latency,toxicity=3"], "'toxicity=3'"),
        (vec!["--fault-listen", "slow"], "'slow'"),
        (
            vec![
                "--fault-listen",
                "slow=127.0.0.1:0",
                "--toxic",
                "fast:latency",
            ],
            "no listener named 'fast'",
        ),
    ] {
        let output = run_within_patience(Command::new(BINARY).args(&args));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains(part),
            "{args:?} should name {part}: {stderr}"
        );
    }
}

/// A UDP client of `server`, with a read timeout of `wait`.
fn udp_client(wait: Duration) -> UdpSocket {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(wait)).unwrap();
    client
}

/// Every datagram that comes back within `wait` of the last, as text.
fn udp_echoes(client: &UdpSocket) -> Vec<String> {
    let mut echoes = Vec::new();
    let mut buf = [0u8; 64];
    while let Ok(n) = client.recv(&mut buf) {
        echoes.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    echoes
}

#[test]
fn udp_datagrams_are_lost_and_duplicated_by_their_share_and_counted() {
    let mut server = server(
        &["lossy", "twice"],
        &[
            "--udp",
            "--toxic",
            "lossy:udp_loss,toxicity=0.3",
            "--toxic",
            "twice:udp_duplicate",
            "--fault-seed",
            "11",
        ],
    );
    let client = udp_client(Duration::from_millis(500));
    for i in 0..200 {
        client
            .send_to(format!("{i}").as_bytes(), server.addrs[1])
            .unwrap();
        // One at a time, so no datagram is lost to a full buffer.
        thread::sleep(Duration::from_micros(200));
    }
    let lost = 200 - udp_echoes(&client).len();
    // A binomial of 200 at 0.3: its standard deviation is about 6.5.
    assert!((30..=90).contains(&lost), "{lost} of 200 lost");
    let client = udp_client(Duration::from_millis(300));
    for i in 0..3 {
        client
            .send_to(format!("{i}").as_bytes(), server.addrs[2])
            .unwrap();
    }
    assert_eq!(udp_echoes(&client), ["0", "0", "1", "1", "2", "2"]);
    let line = server.stats_line();
    assert_eq!(logged_count(&line, "udp_loss"), lost as u64, "{line}");
    assert_eq!(logged_count(&line, "udp_duplicate"), 3, "{line}");
}

#[test]
fn udp_datagrams_are_delayed_and_reordered() {
    let server = server(
        &["late", "swapped"],
        &[
            "--udp",
            "--toxic",
            "late:udp_delay,latency=100ms",
            "--toxic",
            "swapped:udp_reorder,delay=5s",
        ],
    );
    let client = udp_client(Duration::from_secs(2));
    let started = Instant::now();
    client.send_to(b"late", server.addrs[1]).unwrap();
    let mut buf = [0u8; 16];
    let n = client.recv(&mut buf).unwrap();
    let took = started.elapsed();
    assert_eq!(&buf[..n], b"late");
    assert!(
        took >= Duration::from_millis(90) && took < Duration::from_secs(1),
        "{took:?}"
    );
    let client = udp_client(Duration::from_millis(500));
    for i in 0..6 {
        client
            .send_to(format!("{i}").as_bytes(), server.addrs[2])
            .unwrap();
    }
    assert_eq!(udp_echoes(&client), ["1", "0", "3", "2", "5", "4"]);
}

#[test]
fn the_banner_goes_first_through_the_faults_as_any_echo() {
    let server = server(
        &["slow"],
        &[
            "--banner",
            "hello from {local_addr}\n",
            "--toxic",
            "slow:latency,latency=100ms",
        ],
    );
    let started = Instant::now();
    let mut stream = connect(server.addrs[1]);
    let banner = format!("hello from {}\n", server.addrs[1]);
    assert_eq!(read_exactly(&mut stream, banner.len()), banner.as_bytes());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(90) && took < Duration::from_secs(1),
        "{took:?}"
    );
    echo_once(&mut stream, b"and then the echo");
}
