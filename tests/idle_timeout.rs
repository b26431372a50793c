//! Idle timeouts: with `idle_timeout` set, a silent client is closed (it reads
//! end of stream) once the timeout has passed, and soon after, even when
//! nothing else wakes the server; a client that keeps talking keeps its
//! connection and every echo; without it, silence never closes a
//! connection. `--idle-timeout` sets it on the binary.

use crate::support::*;

use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use echo_reactor::Config;

/// How early the server may close: it keeps the clock in whole
/// milliseconds, so it may round down by one, not by this much.
const EARLY: Duration = Duration::from_millis(50);

/// Reads on `idle` until the server closes it, giving up after ten
/// timeouts (the bound asserted), and returns how long after `since` the
/// end of stream came.
fn time_until_closed(idle: &mut TcpStream, since: Instant, timeout: Duration) -> Duration {
    let bound = timeout * 10;
    idle.set_read_timeout(Some(bound)).unwrap();
    assert_eof(idle);
    let closed_after = since.elapsed();
    assert!(
        closed_after >= timeout - EARLY,
        "closed after {closed_after:?}, before the {timeout:?} timeout"
    );
    assert!(
        closed_after < bound,
        "closed only after {closed_after:?}; the timeout is {timeout:?}"
    );
    closed_after
}

#[test]
fn a_lone_idle_client_is_closed_soon_after_the_timeout() {
    // Nothing else happens on this server: only a poll timeout set for the
    // idle deadline can wake it to close the client.
    let timeout = Duration::from_millis(200);
    let mut config = Config::default();
    config.idle_timeout = Some(timeout);
    let server = InProcess::start(config);
    let connecting = Instant::now();
    let mut idle = connect(server.addr);
    let closed_after = time_until_closed(&mut idle, connecting, timeout);
    // Soon: a server that only looked at its clients on a timer tick (of
    // 1 s, say) would close this one a second after it came, not when its
    // deadline passed.
    assert!(
        closed_after < timeout + Duration::from_millis(500),
        "closed {closed_after:?} after connecting; the timeout is {timeout:?}"
    );

    let stats = server.wait_for_stats("the idle close to be counted", |s| s.closed_idle == 1);
    assert_eq!((stats.accepted, stats.active), (1, 0), "{stats:?}");
    assert_eq!(stats.closed(), 1, "{stats:?}");
}

#[test]
fn an_idle_client_is_closed_after_the_timeout_while_a_busy_one_keeps_its_echoes() {
    let timeout = Duration::from_millis(300);
    let cadence = Duration::from_millis(25);
    // Ten times shorter at least, so a busy client is never mistaken for
    // an idle one, and never wakes the server often enough to hide a
    // missing idle deadline (the lone-client test above checks that too).
    assert!(cadence * 10 <= timeout);
    let mut config = Config::default();
    config.idle_timeout = Some(timeout);
    let server = InProcess::start(config);
    let connecting = Instant::now();
    let mut idle = connect(server.addr);
    let mut busy = connect(server.addr);

    // Talks every 25 ms, a twelfth of the timeout, for five timeouts.
    let talker = thread::spawn(move || {
        let mut sent = 0;
        while connecting.elapsed() < timeout * 5 {
            echo_once(&mut busy, format!("message {sent}").as_bytes());
            sent += 1;
            thread::sleep(cadence);
        }
        (busy, sent)
    });

    time_until_closed(&mut idle, connecting, timeout);
    let stats = server.wait_for_stats("the idle close to be counted", |s| s.closed_idle == 1);
    assert_eq!(stats.closed(), 1, "{stats:?}");

    let (mut busy, sent) = join_within("the busy client's echoes", talker, PATIENCE);
    assert!(sent >= 10, "only {sent} messages in 1.5 s");
    echo_once(&mut busy, b"still open after 1.5 s");
    let stats = server.stats();
    assert_eq!(
        stats.closed_idle, 1,
        "the busy client was closed: {stats:?}"
    );
    assert_eq!(stats.closed(), 1, "{stats:?}");
    assert_eq!(stats.active, 1, "{stats:?}");
}

#[test]
fn without_an_idle_timeout_a_connection_silent_for_a_second_stays_open_and_echoes() {
    let server = InProcess::start_default();
    let mut client = connect(server.addr);
    echo_once(&mut client, b"before the silence");

    // The silent second itself: nothing, and no end of stream, may arrive.
    assert_silent_for(&mut client, Duration::from_secs(1));

    echo_once(&mut client, b"after a second of silence");
    let stats = server.stats();
    assert_eq!((stats.active, stats.closed()), (1, 0), "{stats:?}");
}

#[test]
fn the_binary_with_idle_timeout_closes_a_silent_client_soon_after_it() {
    let timeout = Duration::from_millis(200);
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--idle-timeout", "0.2"]);
    server.wait_until_logged("idle timeout 200ms");
    let connecting = Instant::now();
    let mut idle = connect(server.addr());
    time_until_closed(&mut idle, connecting, timeout);

    let line = server.stats_line();
    assert_eq!(logged_count(&line, "idle"), 1, "{line}");
    assert_eq!(logged_count(&line, "active"), 0, "{line}");
    assert_eq!(logged_count(&line, "accepted"), 1, "{line}");
}
