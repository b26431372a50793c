//! One memory budget for every client's buffers (`--max-memory`): clients
//! that write and never read are parked once the budget is spent, so the
//! server's memory stays within it however many of them come, while
//! well-behaved clients keep getting every echo, and every parked client
//! gets all its bytes back, in order, once it reads. TLS clients, which
//! cannot be echoed through the kernel, are held to one record each once
//! the budget is spent.
//!
//! Why the numbers are what they are. Each hostile client may hold up to
//! `--max-pending` = 1 MiB in the server, so 40 of them could hold 40 MiB;
//! the budget is 4 MiB. Far more clients would show the same, but on
//! loopback each one also fills several MiB of kernel socket buffers
//! (autotuned) before the server's send queue is full and its pending
//! bytes grow, and about a thousand of them push a machine into TCP memory
//! pressure (`tcp_mem`), where the kernel stalls and aborts sockets
//! whatever the server does. 40 clients with a small receive buffer each
//! hold about 10 MiB of kernel memory in all: far from that.

use crate::support::*;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use echo_reactor::tls::{ECHO_CHUNK, SESSION_BUFFERS};
use echo_reactor::Config;

const HOSTILE: usize = 40;
const MAX_PENDING: usize = 1 << 20;
const BUDGET: usize = 4 << 20;
/// What the server's RSS may grow beyond the budget: the slab and the
/// parked queue for 40 connections, and the allocator's slack around
/// freed and regrown buffers (measured: 0.14 MiB).
const RSS_SLACK: u64 = 4 << 20;

/// A client with a 16 KiB receive buffer, so what the server sends it
/// fills its queue soon and the server's pending bytes start to grow.
fn small_window_client(addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Every hostile client reads its echo to the end: all of it, in order.
fn read_back(clients: Vec<(TcpStream, Vec<u8>)>) {
    for (mut client, sent) in clients {
        client.shutdown(Shutdown::Write).unwrap();
        assert_same_bytes(&read_exactly(&mut client, sent.len()), &sent);
        assert_eof(&mut client);
    }
}

#[test]
fn hostile_clients_hold_no_more_than_the_budget_and_get_every_byte_back() {
    let mut server = Binary::start(&[
        "--listen",
        "127.0.0.1:0",
        "--max-pending",
        "1MiB",
        "--max-memory",
        "4MiB",
    ]);
    server.wait_until_logged("memory budget for client buffers: 4194304 B (--max-memory)");
    echo_all(server.addr(), b"warm up the scratch buffer");
    let before = server.rss_bytes();

    let hostile = clients_writing_until_blocked(HOSTILE, 1000, {
        let addr = server.addr();
        move || small_window_client(addr)
    });
    // A newcomer is served at once, through the kernel if need be.
    let mut fresh = connect(server.addr());
    echo_once(&mut fresh, b"still served");

    let line = server.stats_line();
    let held = logged_count(&line, "B held");
    let peak = logged_count(&line, "B peak");
    assert!(peak <= BUDGET as u64, "peak {peak} over the budget: {line}");
    assert!(
        held > (BUDGET / 2) as u64,
        "the hostile clients should have spent the budget: {line}"
    );
    assert!(logged_count(&line, "parks") >= 1, "{line}");
    let growth = server.rss_bytes().saturating_sub(before);
    assert!(
        growth <= BUDGET as u64 + RSS_SLACK,
        "RSS grew {growth} B with {HOSTILE} hostile clients, budget {BUDGET} B"
    );

    read_back(hostile);
    echo_once(&mut fresh, b"and after");
}

#[test]
fn well_behaved_clients_lose_nothing_while_hostile_ones_are_parked() {
    let budget = 2 << 20;
    let mut config = Config::default();
    config.max_pending = MAX_PENDING;
    config.max_memory = Some(budget);
    let server = InProcess::start(config);
    let hostile = clients_writing_until_blocked(12, 1000, {
        let addr = server.addr;
        move || small_window_client(addr)
    });
    let parked = server.wait_for_stats("the budget to be spent", |s| s.memory_parks >= 1);
    assert!(parked.memory_peak <= budget as u64, "{parked:?}");

    let polite: Vec<_> = (0..20u64)
        .map(|i| {
            let addr = server.addr;
            thread::spawn(move || {
                let mut client = connect(addr);
                for round in 0..50 {
                    let message = pattern(1000 + round, i * 100 + round as u64);
                    client.write_all(&message).unwrap();
                    assert_same_bytes(&read_exactly(&mut client, message.len()), &message);
                }
                client.shutdown(Shutdown::Write).unwrap();
                assert_eof(&mut client);
            })
        })
        .collect();
    for client in polite {
        join_within("a well-behaved client", client, PATIENCE);
    }
    let during = server.stats();
    assert!(during.memory_peak <= budget as u64, "{during:?}");
    assert_eq!(during.closed_by_error, 0, "{during:?}");

    read_back(hostile);
    let end = server.wait_for_stats("every client to close", |s| s.active == 0);
    assert_eq!(end.memory_in_use, 0, "memory still charged: {end:?}");
    assert_eq!(end.closed_by_peer, 12 + 20, "{end:?}");
}

/// The client sends what its session still holds and its `close_notify`,
/// reads every echo, in order, and the server's `close_notify`.
fn tls_read_back(mut tls: TlsStream, sent: &[u8]) {
    tls.conn.send_close_notify();
    let mut echoed = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(
            Instant::now() < deadline,
            "{} of {} bytes echoed",
            echoed.len(),
            sent.len()
        );
        if tls.conn.wants_write() {
            match tls.conn.write_tls(&mut tls.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("writing TLS records: {e}"),
            }
        }
        match tls.conn.read_tls(&mut tls.sock) {
            Ok(0) => panic!("end of stream without close_notify"),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(1));
                continue;
            }
            Err(e) => panic!("reading TLS records: {e}"),
        }
        tls.conn.process_new_packets().expect("valid records");
        loop {
            match tls.conn.reader().read(&mut buf) {
                Ok(0) => {
                    assert_same_bytes(&echoed, sent);
                    return;
                }
                Ok(n) => echoed.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("reading the echo: {e}"),
            }
        }
    }
}

#[test]
fn hostile_tls_clients_are_held_within_the_budget_and_get_every_byte_back() {
    // Without the budget each could make the server hold --max-pending
    // (1 MiB) of records: 12 MiB. A TLS connection cannot echo through
    // the kernel, so once the budget is spent each holds one record more
    // than its session's own state, and the rest waits in kernel queues.
    const CLIENTS: usize = 12;
    let budget = 1 << 20;
    let cert = TestCert::new();
    let mut config = tls_config(&cert);
    config.max_pending = MAX_PENDING;
    config.max_memory = Some(budget);
    let (server, addr) = start_tls(config);
    let config = cert.client(&[]);
    let hostile: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let config = config.clone();
            thread::spawn(move || {
                let tcp = small_window_client(addr);
                tls_write_until_blocked(tls_handshake(tcp, &config), 2000 + i as u64)
            })
        })
        .collect();
    let hostile: Vec<_> = hostile
        .into_iter()
        .map(|writer| join_within("a TLS client writing until blocked", writer, PATIENCE))
        .collect();

    let stats = server.stats();
    eprintln!("{CLIENTS} hostile TLS clients: {stats:?}");
    let per_connection = SESSION_BUFFERS + 2 * ECHO_CHUNK + 4096;
    let bound = (budget + CLIENTS * per_connection) as u64;
    assert!(
        stats.memory_peak <= bound,
        "peak {} B, bound {bound} B: {stats:?}",
        stats.memory_peak
    );
    assert!(
        stats.memory_in_use > (budget / 2) as u64,
        "the hostile clients should have spent the budget: {stats:?}"
    );
    // A client that reads is served while the budget is spent, a record
    // at a time.
    let mut fresh = tls_connect(addr, &config);
    tls_echo_once(&mut fresh, &pattern(256 * 1024, 1));

    for (tls, sent) in hostile {
        tls_read_back(tls, &sent);
    }
    drop(fresh);
    let end = server.wait_for_stats("every client to close", |s| s.active == 0);
    assert_eq!(end.memory_in_use, 0, "memory still charged: {end:?}");
}

#[test]
fn each_of_several_reactors_gets_an_equal_share_of_the_budget() {
    let budget = 4 << 20;
    let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
    config.max_pending = MAX_PENDING;
    config.max_memory = Some(budget);
    config.drain_timeout = PATIENCE;
    let cluster = InCluster::start(config, 2);
    let addr = cluster.addr;

    let hostile = clients_writing_until_blocked(HOSTILE, 1000, move || small_window_client(addr));
    let per = cluster.stats_per_reactor();
    let half = (budget / 2) as u64;
    for stats in &per {
        assert!(
            stats.memory_peak <= half,
            "a reactor held more than its half: {per:?}"
        );
    }
    assert!(
        per.iter().any(|s| s.memory_parks > 0),
        "40 hostile clients should spend at least one half: {per:?}"
    );
    // A reactor parks its clients only once its own share is spent, so one
    // that parked must have held nearly its half: all of it but less than
    // one pending buffer's last growth (at most half of --max-pending).
    for stats in per.iter().filter(|s| s.memory_parks > 0) {
        assert!(
            stats.memory_peak > half - MAX_PENDING as u64 / 2,
            "a reactor parked clients holding {} B of its {half} B share: {per:?}",
            stats.memory_peak
        );
    }

    read_back(hostile);
    cluster.stop();
}

#[test]
fn the_default_budget_and_where_it_came_from_are_logged() {
    let server = Binary::start(&["--listen", "127.0.0.1:0"]);
    server.wait_until_logged("memory budget for client buffers: ");
    let log = server.log_text();
    let line = log
        .lines()
        .find(|line| line.contains("memory budget for client buffers: "))
        .unwrap();
    let expected = match std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        // cgroup v2: a number of bytes, or `max` for no limit.
        .and_then(|text| text.trim().parse::<u64>().ok().filter(|&n| n > 0))
    {
        Some(limit) => format!(
            "{} B (1/4 of the cgroup's memory.max of {limit} B)",
            limit / 4
        ),
        None => "1073741824 B (default: no cgroup memory limit in /sys/fs/cgroup/memory.max)"
            .to_string(),
    };
    assert!(
        line.ends_with(&expected),
        "{line:?} should end with {expected:?}"
    );
}
