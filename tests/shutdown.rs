//! Stopping the server: SIGTERM or SIGINT (binary) or `Handle::stop`
//! (library) stops accepting at once but lets every pending echo reach its
//! client before the connection closes; idle clients get end of stream
//! right away, and what they send after it is read and dropped until they
//! close; a second stop or signal, or the drain timeout (not before it,
//! and not long after), closes what is left; the process exits 0. SIGUSR1
//! logs the counters without disturbing anything.

use crate::support::*;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use echo_reactor::Config;

#[test]
fn after_sigterm_a_client_still_gets_every_pending_echo_and_the_binary_exits_0() {
    // A drain timeout no test reaches: only the drain itself may end this.
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--drain-timeout", "600"]);
    let mut client = connect(server.addr());
    let sent = write_until_blocked(&mut client, 11);

    server.signal("TERM");
    server.wait_for_log("stopped accepting");
    client.shutdown(Shutdown::Write).unwrap();
    // Everything up to end of stream (the read timeout bounds the wait).
    let mut echoed = Vec::with_capacity(sent.len());
    client
        .read_to_end(&mut echoed)
        .expect("read the echoes to the end");
    assert_eq!(
        echoed.len(),
        sent.len(),
        "the client got {} of the {} bytes it wrote, then end of stream",
        echoed.len(),
        sent.len()
    );
    assert_same_bytes(&echoed, &sent);

    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log_text());
    let last = server.wait_for_log("shut down;");
    assert!(
        logged_count(&last, "B; accept pauses") > 0,
        "the server never held pending bytes, so nothing was tested: {last}"
    );
    assert_eq!(logged_count(&last, "by peer"), 1, "{last}");
}

#[test]
fn at_sigterm_an_idle_client_gets_end_of_stream_at_once_and_new_clients_are_refused() {
    // A drain timeout far beyond PATIENCE: only the FIN sent at once can
    // let the client see end of stream and the process exit in time.
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--drain-timeout", "60"]);
    let addr = server.addr();
    let mut client = connect(addr);
    echo_once(&mut client, b"then silence");

    let signalled = Instant::now();
    server.signal("TERM");
    server.wait_for_log("stopped accepting");
    let refused = TcpStream::connect(addr).map(|_| ()).map_err(|e| e.kind());
    assert_eq!(refused, Err(ErrorKind::ConnectionRefused));

    assert_eof(&mut client);
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_secs(6),
        "end of stream after {took:?}"
    );
    assert!(server.is_running(), "exited before the client closed");
    drop(client);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log_text());
    let refused = TcpStream::connect(addr).map(|_| ()).map_err(|e| e.kind());
    assert_eq!(refused, Err(ErrorKind::ConnectionRefused));
}

#[test]
fn handle_stop_mid_echo_lets_the_echo_finish_and_returns_the_final_stats() {
    // A drain timeout no test reaches: only the drain itself may end this.
    let mut config = Config::default();
    config.drain_timeout = Duration::from_secs(600);
    let server = InProcess::start(config);
    let mut client = connect(server.addr);
    // The client does not read: the server fills its pending buffer and
    // stops reading, so the stop below comes mid-echo.
    let sent = write_until_blocked(&mut client, 3);
    let at_stop = server.wait_for_stats("the server to hold back echoes", |s| {
        s.backpressure_pauses >= 1
    });
    assert!(
        at_stop.bytes_in > at_stop.bytes_out,
        "nothing pending in the server at stop(): {at_stop:?}"
    );
    assert!(
        (at_stop.bytes_out as usize) < sent.len(),
        "every echo was out before stop(): {at_stop:?}"
    );

    // Commands are handled in order, so this answer comes after the stop:
    // the server is draining before the client reads a byte.
    server.handle.stop();
    let draining = server.stats();
    assert_eq!(draining.active, 1, "{draining:?}");
    assert!(
        (draining.bytes_out as usize) < sent.len(),
        "every echo was out before the stop: {draining:?}"
    );
    client.shutdown(Shutdown::Write).unwrap();
    let echoed = read_exactly(&mut client, sent.len());
    assert_same_bytes(&echoed, &sent);
    assert_eof(&mut client);
    drop(client);

    // The run ends once the drain has: join() returns its final counters.
    let stats = server.join();
    assert_eq!((stats.accepted, stats.active), (1, 0), "{stats:?}");
    assert_eq!(stats.bytes_in, sent.len() as u64, "{stats:?}");
    assert_eq!(stats.bytes_out, sent.len() as u64, "{stats:?}");
    // The client's end of stream closed it, once every echo was out.
    assert_eq!(stats.closed_by_peer, 1, "{stats:?}");
}

#[test]
fn a_client_sending_steadily_when_the_stop_comes_loses_no_byte_to_the_goodbye() {
    // A chunk every few milliseconds: between two of them the connection
    // has nothing in flight, which alone does not make it idle. A FIN
    // there would drop every chunk after it.
    let mut config = Config::default();
    config.drain_timeout = Duration::from_secs(600);
    let server = InProcess::start(config);
    let mut client = connect(server.addr);
    let stream = pattern(60 << 10, 31);
    let chunks = stream.chunks(1024).map(<[u8]>::to_vec).collect();
    let (sending, a_quarter_sent) = send_paced(&client, chunks, true);
    a_quarter_sent.recv().unwrap();
    server.handle.stop();

    let mut echoed = Vec::with_capacity(stream.len());
    client
        .read_to_end(&mut echoed)
        .expect("read the echoes to the end");
    sending.finish();
    assert_whole_echo_before("end of stream", &echoed, &stream);
    let stats = server.join();
    assert_eq!(stats.bytes_in, stream.len() as u64, "{stats:?}");
    assert_eq!(stats.closed_by_peer, 1, "{stats:?}");
}

#[test]
fn a_second_stop_during_the_drain_closes_a_stuck_client_at_once() {
    let mut config = Config::default();
    config.drain_timeout = Duration::from_secs(60);
    let server = InProcess::start(config);
    let mut stuck = connect(server.addr);
    write_until_blocked(&mut stuck, 5);

    server.handle.stop();
    // Commands are handled in order, so this answer comes after the stop.
    let draining = server.stats();
    assert_eq!(
        draining.active, 1,
        "the stuck client was not kept: {draining:?}"
    );
    assert_eq!(draining.closed(), 0, "{draining:?}");

    let stopping = Instant::now();
    let stats = server.stop(); // the second request; waits for run() to return
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_secs(6),
        "run() returned {took:?} after the second stop; the drain timeout is 60 s"
    );
    assert_eq!(
        (stats.active, stats.closed_by_shutdown),
        (0, 1),
        "{stats:?}"
    );
    drop(stuck);
}

#[test]
fn after_the_drain_timeout_the_binary_exits_0_even_if_a_client_never_reads() {
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--drain-timeout", "0.5"]);
    let mut stuck = connect(server.addr());
    write_until_blocked(&mut stuck, 9);

    let signalled = Instant::now();
    server.signal("TERM");
    let status = server.wait_exit();
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log_text());
    assert!(
        took >= Duration::from_millis(500),
        "exited {took:?} after SIGTERM, before the 0.5 s drain timeout"
    );
    assert!(
        took < Duration::from_secs(5),
        "exited {took:?} after SIGTERM, ten times the 0.5 s drain timeout"
    );
    server.wait_for_log("drain timeout: closing 1 connections");
    drop(stuck);
}

#[test]
fn sigint_stops_the_binary_as_sigterm_does() {
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--drain-timeout", "600"]);
    let addr = server.addr();
    let mut client = connect(addr);
    echo_once(&mut client, b"then silence");

    server.signal("INT");
    server.wait_for_log("SIGINT received: stopped accepting");
    let refused = TcpStream::connect(addr).map(|_| ()).map_err(|e| e.kind());
    assert_eq!(refused, Err(ErrorKind::ConnectionRefused));
    assert_eof(&mut client);
    drop(client);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log_text());
}

#[test]
fn a_second_sigterm_closes_a_stuck_client_at_once_and_the_binary_exits_0() {
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--drain-timeout", "600"]);
    let mut stuck = connect(server.addr());
    write_until_blocked(&mut stuck, 13);

    server.signal("TERM");
    server.wait_for_log("SIGTERM received: stopped accepting; draining 1 connections");
    assert!(server.is_running(), "exited with a client still draining");

    let again = Instant::now();
    server.signal("TERM");
    server.wait_for_log("SIGTERM received again: closing 1 connections now");
    let status = server.wait_exit();
    let took = again.elapsed();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log_text());
    assert!(
        took < Duration::from_secs(6),
        "exited {took:?} after the second SIGTERM; the drain timeout is 600 s"
    );
    let last = server.wait_for_log("shut down;");
    assert_eq!(logged_count(&last, "at shutdown"), 1, "{last}");
    drop(stuck);
}

#[test]
fn a_client_that_keeps_sending_after_the_shutdown_fin_is_read_to_its_end_not_reset() {
    const AFTER_FIN: usize = 1 << 20; // several read budgets
    let mut config = Config::default();
    config.drain_timeout = Duration::from_secs(600);
    let server = InProcess::start(config);
    let mut client = connect(server.addr);
    echo_once(&mut client, b"before the stop");

    server.handle.stop();
    assert_eof(&mut client); // the server's FIN: it has said goodbye
                             // The client has more to say; the server reads it and drops it.
    client.write_all(&pattern(AFTER_FIN, 21)).unwrap();
    let read_all = server.wait_for_stats("the server to read what came after its FIN", |s| {
        s.bytes_in == (15 + AFTER_FIN) as u64
    });
    assert_eq!(
        read_all.active, 1,
        "closed before the client was done: {read_all:?}"
    );
    assert_eq!(read_all.bytes_out, 15, "{read_all:?}");

    // The client's end of stream ends the drain: the server reads it, so
    // it closes with nothing unread (a FIN, not a reset), and its run ends.
    client.shutdown(Shutdown::Write).unwrap();
    let stats = server.join();
    // What the client sees of that close: the end of stream again, not
    // ECONNRESET.
    assert_eof(&mut client);
    assert_eq!(stats.closed_by_shutdown, 1, "{stats:?}");
    assert_eq!(stats.closed_by_error, 0, "{stats:?}");
    assert_eq!(stats.bytes_in, (15 + AFTER_FIN) as u64, "{stats:?}");
    assert_eq!(stats.bytes_out, 15, "{stats:?}");
}

#[test]
fn sigusr1_logs_the_counters_and_the_binary_keeps_serving() {
    let mut server = Binary::start(&["--listen", "127.0.0.1:0"]);
    let mut client = connect(server.addr());
    echo_once(&mut client, b"counted");

    let line = server.stats_line();
    assert_eq!(logged_count(&line, "active"), 1, "{line}");
    assert_eq!(logged_count(&line, "accepted"), 1, "{line}");
    assert_eq!(logged_count(&line, "in"), 7, "{line}");
    assert_eq!(logged_count(&line, "out"), 7, "{line}");

    echo_once(&mut client, b"still serving");
    echo_all(server.addr(), &all_byte_values(100_000, 1));
    assert!(server.is_running());
}
