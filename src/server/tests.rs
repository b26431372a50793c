//! Unit tests of the reactor's bookkeeping, driven by hand.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::*;
use crate::config::Config;
use crate::serve::CloseReason;

/// Accepts one queued client on the listener, as a listener event would.
fn accept_one(server: &mut Server) -> usize {
    let registry = server.poll.registry();
    let listener = server.reactor.listeners[0];
    let before = server.reactor.cx.stats.accepted;
    for _ in 0..1000 {
        server.reactor.accept_from(registry, listener);
        if server.reactor.cx.stats.accepted > before {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        server.reactor.cx.stats.accepted,
        before + 1,
        "no client to accept"
    );
    let (key, _) = server
        .reactor
        .entries
        .iter()
        .filter(|(_, entry)| matches!(entry, Entry::Connection(_)))
        .last()
        .expect("the accepted connection");
    key
}

#[test]
fn a_key_closed_and_reused_while_queued_to_be_served_again_serves_the_new_connection() {
    let mut server = Server::bind(Config::listening_on("127.0.0.1:0".parse().unwrap())).unwrap();
    let addr = server.local_addrs()[0];
    let _first = TcpStream::connect(addr).unwrap();
    let key = accept_one(&mut server);
    // The connection spent its read budget: it waits in the queue...
    server.reactor.queue_again(key);
    // ... and closes in the same turn, and a new client takes its key.
    let registry = server.poll.registry();
    server.reactor.close(registry, key, CloseReason::Shutdown);
    let mut second = TcpStream::connect(addr).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(
        accept_one(&mut server),
        key,
        "the slab reuses the freed key"
    );
    second.write_all(b"hello").unwrap();
    std::thread::sleep(Duration::from_millis(20));

    // Next turn: the queue names the key, which is the new connection
    // now. Serving it is harmless: it reads what its client sent.
    assert!(server.reactor.begin_turn());
    let registry = server.poll.registry();
    server.reactor.serve_queued(registry);
    let mut echo = [0u8; 5];
    second.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"hello");
    let stats = server.reactor.snapshot();
    assert_eq!((stats.accepted, stats.active), (2, 1), "{stats:?}");
    assert_eq!(stats.closed_by_shutdown, 1, "{stats:?}");
    let Some(Entry::Connection(conn)) = server.reactor.entries.get(key) else {
        panic!("the new connection is gone");
    };
    assert!(!conn.queued, "served, so no longer queued");
    assert!(server.reactor.serve_again.is_empty());
}
