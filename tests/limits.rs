//! What the server does at its limits: at `max_connections` a new client
//! waits in the kernel's accept queue (not refused, not served) until a slot
//! frees; when `accept` runs out of file descriptors the server warns once,
//! pauses accepting without spinning (retrying after 50 ms, doubling up to
//! a second), keeps serving what it has and recovers when descriptors free
//! up; with no `--max-connections` the limit is derived from the
//! open-files limit and logged; `--backlog` sets the accept queue length.

use crate::support::*;

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use echo_reactor::Config;

/// An extra check, never the proof: nothing arrives on `stream` for 300 ms.
fn assert_nothing_arrives(stream: &mut TcpStream) {
    assert_silent_for(stream, Duration::from_millis(300));
}

#[test]
fn at_the_connection_limit_a_new_client_waits_until_one_closes_then_gets_its_echo() {
    let mut config = Config::default();
    config.max_connections = Some(5);
    let server = InProcess::start(config);
    let mut clients: Vec<TcpStream> = (0..5).map(|_| connect(server.addr)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        echo_once(client, format!("client {i}").as_bytes());
    }

    // The kernel completes the handshake: connect succeeds, the byte is queued.
    let mut sixth = connect(server.addr);
    sixth.write_all(b"6").unwrap();
    echo_once(&mut clients[0], b"the server took a turn");
    assert_nothing_arrives(&mut sixth);
    let stats = server.stats();
    assert_eq!(stats.active, 5, "{stats:?}");
    assert_eq!(
        stats.accepted, 5,
        "the sixth client was accepted: {stats:?}"
    );
    assert!(stats.accept_limit_pauses >= 1, "{stats:?}");

    drop(clients.pop());
    assert_eq!(read_exactly(&mut sixth, 1), b"6");
    let stats = server.stats();
    assert_eq!((stats.accepted, stats.active), (6, 5), "{stats:?}");
    assert_eq!(stats.closed_by_peer, 1, "{stats:?}");
    for client in clients.iter_mut().chain([&mut sixth]) {
        echo_once(client, b"all five still echo");
    }
}

#[test]
fn out_of_descriptors_the_server_warns_once_does_not_spin_and_serves_again_when_they_free() {
    let mut server = Binary::start_in_shell(
        "ulimit -n 64;",
        &["--listen", "127.0.0.1:0", "--max-connections", "1000"],
    );
    server.wait_until_logged("serving: up to 1000 connections");
    let addr = server.addr();
    let baseline = server.fd_count();

    // Every connect completes in the kernel's accept queue; the server
    // accepts until accept(2) fails with EMFILE.
    let mut flood: Vec<TcpStream> = (0..100).map(|_| connect(addr)).collect();
    server.wait_for_log("cannot accept");
    let line = server.stats_line();
    let accepted = logged_count(&line, "active") as usize;
    assert!(
        accepted > 0 && accepted < flood.len(),
        "expected the descriptors to run out before 100 connections: {line}"
    );
    assert_eq!(
        server.fd_count(),
        baseline + accepted,
        "each accepted connection should hold one descriptor"
    );

    // A measured stall while the flood is held: a server that retried
    // accept in a loop would burn a whole core, ~1000 ms of CPU.
    let cpu_before = server.cpu_time();
    thread::sleep(Duration::from_secs(1));
    let cpu_used = server.cpu_time() - cpu_before;
    assert!(
        cpu_used < Duration::from_millis(100),
        "the server used {cpu_used:?} of CPU in a 1 s stall: it spins on accept"
    );
    assert!(
        server.is_running(),
        "the server died:\n{}",
        server.log_text()
    );
    let line = server.stats_line();
    assert!(
        logged_count(&line, "out of fds") >= 2,
        "accept was not retried during the stall: {line}"
    );
    assert_eq!(logged_count(&line, "active") as usize, accepted, "{line}");

    for (i, client) in flood[..accepted].iter_mut().enumerate() {
        echo_once(client, format!("accepted client {i}").as_bytes());
    }

    // Closing the accepted clients frees descriptors: the clients that
    // waited in the queue are taken and served.
    let mut waited = flood.split_off(accepted);
    drop(flood);
    server.wait_for_log("accepting normally again");
    for (i, client) in waited.iter_mut().enumerate() {
        echo_once(client, format!("queued client {i}").as_bytes());
    }
    assert_eq!(
        server.count_log_lines("cannot accept"),
        1,
        "the warning should be logged once:\n{}",
        server.log_text()
    );

    drop(waited);
    wait_until("the server's descriptors back to the baseline", || {
        server.fd_count() == baseline
    });
    echo_all(addr, &all_byte_values(100_000, 64));
    assert!(server.is_running());
}

#[test]
fn accept_retries_back_off_exponentially_while_descriptors_are_exhausted() {
    let mut server = Binary::start_in_shell(
        "ulimit -n 64;",
        &["--listen", "127.0.0.1:0", "--max-connections", "1000"],
    );
    let addr = server.addr();
    let flooded = Instant::now();
    let _flood: Vec<TcpStream> = (0..100).map(|_| connect(addr)).collect();

    // Every failed retry logs the pause before the next: 50 ms first, then
    // doubling, and never more than a second. No connection closes, so
    // nothing resets the pause.
    let warning = server.wait_for_log("cannot accept");
    assert!(warning.contains("retrying after 50ms"), "{warning}");
    let mut pauses = Vec::new();
    let mut arrivals = Vec::new();
    for _ in 0..6 {
        let (at, line) =
            server.wait_for_log_where("a failed retry", |line| line.contains("next retry in "));
        pauses.push(
            line.rsplit("next retry in ")
                .next()
                .unwrap()
                .trim()
                .to_string(),
        );
        arrivals.push(at - flooded);
    }
    assert_eq!(
        pauses,
        ["100ms", "200ms", "400ms", "800ms", "1s", "1s"],
        "log:\n{}",
        server.log_text()
    );
    // And each retry waited for the pause announced before it. A line is
    // read some time after it was logged, never before, so the k-th retry's
    // line cannot arrive before the first k pauses have passed since the
    // flood; the server rounds each pause to whole milliseconds, down by
    // one at most. (Retrying every 50 ms would put the sixth at 300 ms.)
    let announced = [50, 100, 200, 400, 800, 1000].map(Duration::from_millis);
    let mut due = Duration::ZERO;
    for (k, (pause, arrival)) in announced.iter().zip(&arrivals).enumerate() {
        due += *pause - Duration::from_millis(1);
        assert!(
            *arrival >= due,
            "retry {} came {arrival:?} after the flood, before its pauses add up to {due:?}; all: {arrivals:?}",
            k + 1
        );
    }
    let total: Duration = announced.iter().sum();
    assert!(
        arrivals[5] < total * 2 + Duration::from_secs(1),
        "the sixth retry came {:?} after the flood; its pauses add up to {total:?}",
        arrivals[5]
    );

    // And the pauses are real: at the cap, a second holds one retry (two
    // at its edges, three with the time the counters take to come back);
    // retrying every 50 ms would make 20.
    let before = logged_count(&server.stats_line(), "out of fds");
    thread::sleep(Duration::from_secs(1));
    let after = logged_count(&server.stats_line(), "out of fds");
    assert!(
        after - before <= 3,
        "{} failed accept retries in 1 s at the 1 s cap",
        after - before
    );
}

#[test]
fn with_the_default_limit_under_ulimit_64_the_33rd_client_waits_for_a_free_slot() {
    let mut server = Binary::start_in_shell("ulimit -n 64;", &["--listen", "127.0.0.1:0"]);
    server.wait_until_logged("serving: up to 32 connections");
    let addr = server.addr();
    let mut clients: Vec<TcpStream> = (0..32).map(|_| connect(addr)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        echo_once(client, format!("client {i}").as_bytes());
    }

    let mut last = connect(addr);
    last.write_all(b"33").unwrap();
    server.wait_for_log("connection limit reached");
    echo_once(&mut clients[0], b"the server took a turn");
    assert_nothing_arrives(&mut last);
    let line = server.stats_line();
    assert_eq!(logged_count(&line, "active"), 32, "{line}");
    assert_eq!(logged_count(&line, "accepted"), 32, "{line}");
    assert!(logged_count(&line, "at limit") >= 1, "{line}");
    assert_eq!(logged_count(&line, "out of fds"), 0, "{line}");

    drop(clients.remove(0));
    assert_eq!(read_exactly(&mut last, 2), b"33");
    clients.push(last);
    for client in &mut clients {
        echo_once(client, b"everyone echoes");
    }
    drop(clients);
    server.wait_for_log("accepting normally again");
    echo_all(addr, &pattern(50_000, 33));
}

#[test]
fn the_log_names_the_listening_address_and_the_limit_derived_from_ulimit() {
    let server = Binary::start_in_shell("ulimit -n 64;", &["--listen", "127.0.0.1:0"]);
    let addr = server.addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    server.wait_until_logged(&format!("listening on {addr}"));
    server.wait_until_logged("open-files limit is 64");
    server.wait_until_logged("serving: up to 32 connections");
    echo_all(addr, b"listening where it said");
}

/// The hard open-files limit this process passes on, as the shell reports
/// it (not through the code under test).
fn hard_open_files_limit() -> Option<u64> {
    let out = run_within_patience(Command::new("sh").arg("-c").arg("ulimit -Hn"));
    assert!(out.status.success(), "ulimit -Hn failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[test]
fn without_ulimit_the_limit_is_the_raised_hard_open_files_limit_minus_32() {
    // The binary raises its soft limit to the hard one it inherits from us,
    // and keeps 32 descriptors back for itself.
    let Some(hard) = hard_open_files_limit() else {
        return skip("the hard open-files limit is not a number (unlimited?)");
    };
    let server = Binary::start(&["--listen", "127.0.0.1:0"]);
    let expected = hard - 32;
    server.wait_until_logged(&format!("serving: up to {expected} connections"));
}

#[test]
fn the_backlog_flag_sets_how_many_clients_wait_in_the_accept_queue() {
    const BACKLOG: u64 = 2;
    let server = Binary::start(&[
        "--listen",
        "127.0.0.1:0",
        "--max-connections",
        "1",
        "--backlog",
        "2",
    ]);
    let addr = server.addr();
    let mut served = connect(addr);
    echo_once(&mut served, b"holding the only slot");

    // At the limit the server accepts nothing: Linux completes handshakes
    // for the accept queue until it holds one more than the backlog, then
    // drops further SYNs, so the next connect gets no answer at all.
    let queued: Vec<TcpStream> = (0..=BACKLOG).map(|_| connect(addr)).collect();
    wait_until("the queued clients to be in the accept queue", || {
        tcp_listener(addr).rx_queue == BACKLOG + 1
    });
    let unanswered = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    assert_eq!(
        unanswered.map(|_| ()).map_err(|e| e.kind()),
        Err(ErrorKind::TimedOut),
        "a client beyond the backlog of {BACKLOG} got in"
    );

    // Once the slot frees, the queue is served in order.
    drop(served);
    for (i, mut client) in queued.into_iter().enumerate() {
        echo_once(&mut client, format!("queued client {i}").as_bytes());
    }
}
