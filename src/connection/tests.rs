//! Unit tests of one connection over real loopback sockets.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use super::*;
use crate::serve::Context;

/// A connection over loopback whose client wrote `len` bytes and its
/// FIN, all of them queued at the server before it reads any: the
/// client half, reading the echo on a thread, and the server half.
fn queued_with_fin(len: usize) -> (std::thread::JoinHandle<Vec<u8>>, Connection) {
    let listener = crate::socket::tcp_listener("127.0.0.1:0".parse().unwrap(), 4, false).unwrap();
    let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    grow_the_receive_queue(&mut client, &mut stream, deadline);
    client.write_all(&vec![7u8; len]).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    // Wait until every byte is in the server's receive queue.
    let mut peek = vec![0u8; len + 1];
    while stream.peek(&mut peek).unwrap_or(0) < len {
        assert!(Instant::now() < deadline, "the bytes never all arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
    let reader = std::thread::spawn(move || {
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut echoed = Vec::new();
        client.read_to_end(&mut echoed).unwrap();
        echoed
    });
    (reader, Connection::new(stream))
}

/// Streams a warm-up through the connection so the kernel's receive-buffer
/// autotuning makes room for several read budgets. Autotuning may grow the
/// buffer up to `net.ipv4.tcp_rmem`'s maximum (6 MiB on a stock kernel),
/// while a buffer set with `SO_RCVBUF` stays within `net.core.rmem_max`
/// (208 KiB on a stock kernel), less than one budget.
fn grow_the_receive_queue(
    client: &mut std::net::TcpStream,
    server: &mut mio::net::TcpStream,
    deadline: Instant,
) {
    const WARM_UP: usize = 16 << 20;
    let mut writer = client.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&vec![1u8; WARM_UP]));
    let mut buf = vec![0u8; 1 << 20];
    let mut read = 0;
    while read < WARM_UP {
        assert!(Instant::now() < deadline, "the warm-up never all arrived");
        match server.read(&mut buf) {
            Ok(0) => panic!("end of stream during the warm-up"),
            Ok(n) => read += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("reading the warm-up: {e}"),
        }
    }
    // Everything was read, so the sender has returned.
    sender.join().unwrap().expect("send the warm-up");
}

#[test]
fn a_connection_yields_after_its_read_budget_and_reads_on_to_the_fin_across_turns() {
    const SENT: usize = 3 * READ_BUDGET_PER_TURN + 1000;
    let (reader, mut conn) = queued_with_fin(SENT);
    let mut cx = Context::new(1 << 20, 1 << 30);
    // The first event of the connection reports data and FIN together.
    let first = Ready {
        readable: true,
        writable: true,
        read_closed: true,
    };
    let mut next = conn.serve(first, &mut cx);
    let mut turns = vec![cx.stats.bytes_in];
    while let Next::ServeAgain = next {
        assert!(turns.len() < 10, "{turns:?}");
        next = conn.serve(Ready::CONTINUE_READING, &mut cx);
        turns.push(cx.stats.bytes_in);
    }
    let budget = READ_BUDGET_PER_TURN as u64;
    assert_eq!(
        turns,
        [budget, 2 * budget, 3 * budget, SENT as u64],
        "bytes read after each turn"
    );
    // What the client has not read yet is pending: flush it as the
    // writable edges would, until the connection asks to close.
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Next::Wait = next {
        assert!(Instant::now() < deadline, "the pending bytes never drained");
        std::thread::sleep(Duration::from_millis(1));
        next = conn.serve(Ready::ALL, &mut cx);
    }
    assert!(
        matches!(next, Next::Close(CloseReason::PeerClosed)),
        "{next:?}"
    );
    drop(conn);
    assert_eq!(reader.join().unwrap().len(), SENT);
}
