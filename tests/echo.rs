//! Echo correctness: every byte a client sends comes back to it, exactly and
//! in order, whatever the message size (nothing, one message, more than the
//! 64 KiB read buffer, 32 MiB that forces short writes), however many
//! connections share the reactor, when the bytes and the end of stream are
//! all there at the first event, and over IPv6 as over IPv4.

use crate::support::*;

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::thread;

use echo_reactor::{Config, SCRATCH_SIZE};

const MAX_PENDING: usize = 64 * 1024;

fn server() -> InProcess {
    let mut config = Config::default();
    config.max_pending = MAX_PENDING;
    InProcess::start(config)
}

#[test]
fn hello_world_comes_back_exactly() {
    let server = server();
    let mut client = connect(server.addr);
    client.write_all(b"Hello, world").unwrap();
    let echoed = read_exactly(&mut client, b"Hello, world".len());
    assert_eq!(echoed, b"Hello, world");
    client.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut client);

    let stats = server.wait_for_stats("the connection to close", |s| s.active == 0);
    assert_eq!(stats.accepted, 1);
    assert_eq!(stats.closed_by_peer, 1);
    assert_eq!((stats.bytes_in, stats.bytes_out), (12, 12));
}

#[test]
fn one_mebibyte_of_every_byte_value_comes_back_byte_for_byte() {
    let server = server();
    let data = all_byte_values(1 << 20, 1);
    for value in 0..=255u8 {
        assert!(data.contains(&value), "test data lacks byte {value:#04x}");
    }
    echo_all(server.addr, &data);

    let stats = server.wait_for_stats("the connection to close", |s| s.active == 0);
    assert_eq!(stats.bytes_in, 1 << 20);
    assert_eq!(stats.bytes_out, 1 << 20);
    assert_eq!(stats.closed_by_peer, 1);
}

/// The message connection `index` sends in `round`: names both, then a
/// size that differs between connections and rounds (from a few bytes to
/// about 6 KiB), filled with pattern bytes of its own.
fn message(index: usize, round: usize) -> Vec<u8> {
    let mut bytes = format!("connection {index:03}, round {round}: ").into_bytes();
    let len = (index * 7919 + round * 104_729) % 6000;
    bytes.extend(pattern(len, (index * 100 + round) as u64));
    bytes
}

#[test]
fn two_hundred_concurrent_connections_with_interleaved_traffic_each_get_their_own_bytes() {
    const CONNECTIONS: usize = 200;
    const ROUNDS: usize = 4;
    let server = server();

    let mut clients: Vec<TcpStream> = (0..CONNECTIONS).map(|_| connect(server.addr)).collect();
    server.wait_for_stats("all 200 connections to be accepted", |s| {
        s.active == CONNECTIONS as u64
    });

    let mut total = 0u64;
    for round in 0..ROUNDS {
        let messages: Vec<Vec<u8>> = (0..CONNECTIONS).map(|i| message(i, round)).collect();
        // Round-robin: the first half of every message, then every second
        // half, so the reactor sees all connections' bytes interleaved.
        for (client, message) in clients.iter_mut().zip(&messages) {
            client.write_all(&message[..message.len() / 2]).unwrap();
        }
        for (client, message) in clients.iter_mut().zip(&messages).rev() {
            client.write_all(&message[message.len() / 2..]).unwrap();
        }
        for (index, (client, message)) in clients.iter_mut().zip(&messages).enumerate() {
            let echoed = read_exactly(client, message.len());
            assert!(
                echoed == *message,
                "connection {index} got someone else's bytes (or garbled ones) in round {round}"
            );
            total += message.len() as u64;
        }
    }

    for client in &clients {
        client.shutdown(Shutdown::Write).unwrap();
    }
    for client in &mut clients {
        assert_eof(client);
    }
    let stats = server.wait_for_stats("every connection to close", |s| s.active == 0);
    assert_eq!(stats.accepted, CONNECTIONS as u64);
    assert_eq!(stats.peak_active, CONNECTIONS as u64);
    assert_eq!(stats.closed_by_peer, CONNECTIONS as u64);
    assert_eq!(stats.bytes_in, total);
    assert_eq!(stats.bytes_out, total);
}

#[test]
fn thirty_two_mebibytes_sent_before_reading_come_back_in_order_through_short_writes() {
    const TOTAL: usize = 32 << 20;
    let server = server();
    let data = all_byte_values(TOTAL, 32);

    let mut client = connect(server.addr);
    let sender = send_then_half_close(&client, data.clone());

    // Nothing is read until the server has filled this client's pending
    // buffer and stopped reading: its writes were short by then.
    let paused = server.wait_for_stats("the server to pause this client", |s| {
        s.backpressure_pauses >= 1
    });
    assert!(paused.peak_pending > 0, "{paused:?}");
    assert!(
        paused.bytes_out < paused.bytes_in,
        "paused without holding unsent bytes: {paused:?}"
    );

    let echoed = read_exactly(&mut client, TOTAL);
    sender.finish();
    assert_same_bytes(&echoed, &data);
    assert_eof(&mut client);

    let stats = server.wait_for_stats("the connection to close", |s| s.active == 0);
    assert!(
        stats.peak_pending > 0 && stats.peak_pending <= MAX_PENDING as u64,
        "peak pending {} outside 1..={MAX_PENDING}",
        stats.peak_pending
    );
    assert_eq!(stats.bytes_in, TOTAL as u64);
    assert_eq!(stats.bytes_out, TOTAL as u64);
    assert_eq!(stats.closed_by_peer, 1);
}

/// A zero-byte `write` on a TCP socket is a no-op in the client's kernel:
/// no segment goes out, so the server never sees it. What this checks is
/// what a server does see from such a client: a connection whose first and
/// only event is the end of stream (answered with end of stream, no byte
/// before it), and a stream the empty writes leave exactly as it was.
#[test]
fn a_client_that_sends_only_its_end_of_stream_gets_end_of_stream_and_empty_writes_change_nothing() {
    let server = server();

    let mut silent = connect(server.addr);
    assert_eq!(silent.write(&[]).unwrap(), 0);
    silent.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut silent);
    let stats = server.wait_for_stats("the silent connection to close", |s| s.active == 0);
    assert_eq!((stats.closed_by_peer, stats.bytes_in), (1, 0), "{stats:?}");

    let mut client = connect(server.addr);
    assert_eq!(client.write(&[]).unwrap(), 0);
    client.write_all(b"after an empty write").unwrap();
    assert_eq!(read_exactly(&mut client, 20), b"after an empty write");
    assert_eq!(client.write(&[]).unwrap(), 0);
    client.write_all(b"and another").unwrap();
    assert_eq!(read_exactly(&mut client, 11), b"and another");
    client.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut client);

    let stats = server.wait_for_stats("both connections to close", |s| s.active == 0);
    assert_eq!(stats.closed_by_peer, 2);
    assert_eq!((stats.bytes_in, stats.bytes_out), (31, 31));
}

#[test]
fn data_and_end_of_stream_queued_before_the_accept_come_back_whole() {
    // All of it must fit in the receive queue of a connection nobody has
    // accepted yet (the kernel gives such a socket about 128 KiB).
    const LEN: usize = 96 * 1024;
    let mut config = Config::default();
    config.max_connections = Some(1);
    let server = InProcess::start(config);
    let mut holder = connect(server.addr);
    echo_once(&mut holder, b"holding the only slot");

    // The second client waits in the accept queue; its bytes and its FIN
    // go into the kernel's queue for it, not to the server.
    let mut client = connect(server.addr);
    let data = all_byte_values(LEN, 96);
    client.write_all(&data).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let (local, peer) = (client.peer_addr().unwrap(), client.local_addr().unwrap());
    wait_until("the kernel to hold every byte and the FIN", || {
        tcp_socket(local, peer)
            .is_some_and(|queued| queued.state == TCP_CLOSE_WAIT && queued.rx_queue >= LEN as u64)
    });
    assert_eq!(server.stats().accepted, 1);

    // Freeing the slot lets the server accept it: its first event carries
    // the data and the end of stream at once.
    drop(holder);
    let echoed = read_exactly(&mut client, LEN);
    assert_same_bytes(&echoed, &data);
    assert_eof(&mut client);
    let stats = server.wait_for_stats("both connections to close", |s| s.active == 0);
    assert_eq!((stats.accepted, stats.closed_by_peer), (2, 2), "{stats:?}");
    assert_eq!(stats.bytes_out, (21 + LEN) as u64, "{stats:?}");
}

#[test]
fn a_single_300_kib_write_larger_than_the_read_buffer_comes_back_whole() {
    const LEN: usize = 300 * 1024;
    const { assert!(LEN > SCRATCH_SIZE) };
    let server = server();
    let data = all_byte_values(LEN, 300);

    let mut client = connect(server.addr);
    let mut writer = client.try_clone().unwrap();
    let outgoing = data.clone();
    // One write call with the whole buffer; a thread, so the echo can flow
    // back while the kernel takes it.
    let sender = thread::spawn(move || {
        writer.write_all(&outgoing).expect("send");
    });
    let echoed = read_exactly(&mut client, LEN);
    join_within("the sending thread", sender, PATIENCE);
    assert_same_bytes(&echoed, &data);
    client.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut client);

    let stats = server.wait_for_stats("the connection to close", |s| s.active == 0);
    assert_eq!((stats.bytes_in, stats.bytes_out), (LEN as u64, LEN as u64));
}

#[test]
fn echo_works_over_ipv6_loopback() {
    if let Some(why) = ipv6_loopback_missing() {
        return skip(&why);
    }
    let mut config = Config::listening_on("[::1]:0".parse().unwrap());
    config.max_pending = MAX_PENDING;
    let server = InProcess::start(config);
    assert!(server.addr.is_ipv6(), "listening on {}", server.addr);

    let mut client = connect(server.addr);
    assert!(client.local_addr().unwrap().is_ipv6());
    client.write_all(b"Hello, world").unwrap();
    assert_eq!(read_exactly(&mut client, 12), b"Hello, world");
    client.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut client);

    echo_all(server.addr, &all_byte_values(200_000, 6));

    let stats = server.wait_for_stats("both connections to close", |s| s.active == 0);
    assert_eq!(stats.accepted, 2);
    assert_eq!(stats.bytes_out, 12 + 200_000);
}
