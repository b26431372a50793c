//! Idle timeouts: with `idle_timeout` set, a silent client is closed (it reads
//! end of stream) once the timeout has passed, while a client that keeps
//! talking keeps its connection and every echo; without it, silence never
//! closes a connection.

use crate::support::*;

use std::thread;
use std::time::{Duration, Instant};

use echo_reactor::Config;

#[test]
fn an_idle_client_is_closed_after_the_timeout_while_a_busy_one_keeps_its_echoes() {
    let timeout = Duration::from_millis(300);
    let server = InProcess::start(Config {
        idle_timeout: Some(timeout),
        ..Config::default()
    });
    let connecting = Instant::now();
    let mut idle = connect(server.addr);
    let mut busy = connect(server.addr);

    // Talks every 50 ms, a sixth of the timeout, for five timeouts.
    let talker = thread::spawn(move || {
        let mut sent = 0;
        while connecting.elapsed() < Duration::from_millis(1500) {
            echo_once(&mut busy, format!("message {sent}").as_bytes());
            sent += 1;
            thread::sleep(Duration::from_millis(50));
        }
        (busy, sent)
    });

    assert_eof(&mut idle);
    let idle_for = connecting.elapsed();
    // The server may round its clock down by a millisecond, not more.
    assert!(
        idle_for >= timeout - Duration::from_millis(50),
        "closed after {idle_for:?}, before the {timeout:?} timeout"
    );
    let stats = server.wait_for_stats("the idle close to be counted", |s| s.closed_idle == 1);
    assert_eq!(stats.closed(), 1, "{stats:?}");

    let (mut busy, sent) = talker.join().expect("the busy client lost an echo");
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
