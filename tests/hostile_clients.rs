//! Clients that misbehave cannot hurt the server or each other: binary
//! garbage is just bytes, a reset mid-stream frees the connection (its slab
//! slot and its file descriptor) and is counted as an error, a client
//! trickling one byte at a time is answered promptly while a bulk transfer
//! runs beside it, and half-closing (even while the server is
//! holding back under backpressure) still returns every byte before the
//! end of stream.

use crate::support::*;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use echo_reactor::Config;

const MAX_PENDING: usize = 64 * 1024;

fn server() -> InProcess {
    let mut config = Config::default();
    config.max_pending = MAX_PENDING;
    InProcess::start(config)
}

/// One round trip of a short, numbered message.
fn round_trip(client: &mut TcpStream, n: usize) {
    let message = format!("well-behaved message {n}");
    client.write_all(message.as_bytes()).unwrap();
    let echoed = read_exactly(client, message.len());
    assert_eq!(
        String::from_utf8_lossy(&echoed),
        message,
        "round trip {n} came back wrong"
    );
}

/// Makes dropping `stream` send a reset (RST) instead of a FIN.
fn reset_on_close(stream: &TcpStream) {
    socket2::SockRef::from(stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
}

#[test]
fn binary_garbage_from_one_client_does_not_disturb_another_clients_echoes() {
    let server = server();
    let mut polite = connect(server.addr);
    let mut rude = connect(server.addr);

    // Alternate at the server: a chunk of garbage in flight, a polite round
    // trip, then the garbage comes back; 64 times 64 KiB.
    let mut garbage_total = 0u64;
    for round in 0..64 {
        let garbage = pattern(64 * 1024, 1000 + round as u64);
        rude.write_all(&garbage).unwrap();
        round_trip(&mut polite, round);
        let echoed = read_exactly(&mut rude, garbage.len());
        assert_same_bytes(&echoed, &garbage);
        garbage_total += garbage.len() as u64;
    }
    for client in [&mut polite, &mut rude] {
        client.shutdown(Shutdown::Write).unwrap();
        assert_eof(client);
    }

    let stats = server.wait_for_stats("both connections to close", |s| s.active == 0);
    assert_eq!(stats.closed_by_peer, 2);
    assert_eq!(stats.closed_by_error, 0);
    assert!(stats.bytes_out > garbage_total, "{stats:?}");
    assert_eq!(stats.bytes_in, stats.bytes_out);
}

#[test]
fn a_client_that_resets_mid_stream_frees_its_slot_and_leaves_the_others_alone() {
    let server = server();
    let mut bystander = connect(server.addr);
    round_trip(&mut bystander, 0);

    let mut resets = 0u64;
    // Resets with echoes unread in the client's receive queue.
    for n in 1..=10 {
        let mut hostile = connect(server.addr);
        round_trip(&mut hostile, n); // proves the server accepted it
        hostile.write_all(&pattern(16 * 1024, n as u64)).unwrap();
        reset_on_close(&hostile);
        drop(hostile);
        resets += 1;
        server.wait_for_stats("the reset connection to close", |s| {
            s.active == 1 && s.closed() == resets
        });
        round_trip(&mut bystander, n);
    }

    // A reset while the server is stalled with pending bytes for it.
    let mut stalled = connect(server.addr);
    let sent = write_until_blocked(&mut stalled, 77);
    assert!(sent.len() > MAX_PENDING);
    let before = server.wait_for_stats("the server to pause the stalled client", |s| {
        s.backpressure_pauses >= 1
    });
    assert_eq!(before.active, 2);
    reset_on_close(&stalled);
    drop(stalled);
    resets += 1;
    let after = server.wait_for_stats("the stalled connection to close", |s| {
        s.active == 1 && s.closed() == resets
    });

    // The bystander still echoes, the slots were reused rather than leaked,
    // and a newcomer is served too.
    round_trip(&mut bystander, 99);
    echo_all(server.addr, &all_byte_values(100_000, 3));
    assert!(
        after.slab_capacity <= 8,
        "slab grew to {} slots for at most 3 sockets at a time",
        after.slab_capacity
    );
    // A reset is an error, not an end of stream: every one is counted so.
    assert_eq!(
        (after.closed_by_error, after.closed_by_peer),
        (resets, 0),
        "not every reset was seen as one: {after:?}"
    );
    bystander.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut bystander);
    let end = server.wait_for_stats("every connection to close", |s| s.active == 0);
    assert_eq!(end.accepted, 1 + 10 + 1 + 1);
}

#[test]
fn the_binary_releases_every_descriptor_after_many_resets() {
    const BATCHES: usize = 5;
    const PER_BATCH: usize = 20;
    let binary = Binary::start(&["--listen", "127.0.0.1:0"]);
    let addr = binary.addr();
    let baseline = binary.fd_count();

    for batch in 0..BATCHES {
        let mut hostile: Vec<TcpStream> = (0..PER_BATCH).map(|_| connect(addr)).collect();
        for (i, client) in hostile.iter_mut().enumerate() {
            round_trip(client, batch * PER_BATCH + i);
            client.write_all(&pattern(16 * 1024, i as u64)).unwrap();
        }
        // Every client has been echoed to, so each holds a descriptor now.
        wait_until("the server to hold one descriptor per client", || {
            binary.fd_count() == baseline + PER_BATCH
        });
        for client in hostile {
            reset_on_close(&client);
        }
        wait_until("the server to close every reset connection", || {
            binary.fd_count() == baseline
        });
    }
    // Still serving.
    echo_all(addr, &all_byte_values(100_000, 4));
    assert_eq!(binary.fd_count(), baseline);
}

/// A client that streams the same 64 KiB chunk over and over from one
/// thread and reads the echo on another until told to stop, so a bulk
/// transfer runs for exactly as long as a test needs it to.
struct Bulk {
    stop: Arc<AtomicBool>,
    writer: thread::JoinHandle<u64>,
    reader: thread::JoinHandle<u64>,
}

impl Bulk {
    const CHUNK: usize = 64 * 1024;

    fn start(addr: SocketAddr) -> Bulk {
        let mut stream = connect(addr);
        let mut sending = stream.try_clone().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let writer = thread::spawn(move || {
            let chunk = pattern(Bulk::CHUNK, 44);
            let started = Instant::now();
            let mut sent = 0u64;
            while !stopped.load(Ordering::Relaxed) {
                assert!(
                    started.elapsed() < PATIENCE,
                    "the bulk transfer was never stopped"
                );
                sending.write_all(&chunk).expect("bulk send");
                sent += chunk.len() as u64;
            }
            sending.shutdown(Shutdown::Write).expect("bulk half-close");
            sent
        });
        let reader = thread::spawn(move || {
            let chunk = pattern(Bulk::CHUNK, 44);
            let mut buf = vec![0u8; Bulk::CHUNK];
            let mut echoed = 0u64;
            loop {
                let n = stream.read(&mut buf).expect("bulk echo");
                if n == 0 {
                    return echoed;
                }
                for (i, &byte) in buf[..n].iter().enumerate() {
                    let at = echoed as usize + i;
                    assert_eq!(
                        byte,
                        chunk[at % Bulk::CHUNK],
                        "bulk echo differs at byte {at}"
                    );
                }
                echoed += n as u64;
            }
        });
        Bulk {
            stop,
            writer,
            reader,
        }
    }

    /// Stops sending, and returns how many bytes went each way.
    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let sent = join_within("the bulk writer", self.writer, PATIENCE);
        let echoed = join_within("the bulk reader", self.reader, PATIENCE);
        (sent, echoed)
    }
}

#[test]
fn a_client_trickling_one_byte_at_a_time_is_answered_promptly_during_a_bulk_transfer() {
    const TRICKLES: usize = 300;
    // Far beyond a loopback round trip, even on a busy host; a trickler
    // starved while the bulk transfer goes on waits as long as it lasts.
    const PROMPT: Duration = Duration::from_millis(500);
    // The bulk transfer must keep going for the whole trickle.
    const BULK_AT_LEAST: u64 = 8 << 20;
    let server = server();
    let mut trickler = connect(server.addr);
    trickler.set_nodelay(true).unwrap();
    let mut trickled = 0usize;
    let mut trickle = || {
        let byte = [(trickled % 256) as u8];
        let asked = Instant::now();
        trickler.write_all(&byte).unwrap();
        let echoed = read_exactly(&mut trickler, 1);
        assert_eq!(echoed, byte, "trickled byte {trickled} came back wrong");
        trickled += 1;
        asked.elapsed()
    };

    let bulk = Bulk::start(server.addr);
    let bulk_started = server.wait_for_stats("the bulk transfer to start", |s| {
        s.bytes_in >= Bulk::CHUNK as u64
    });
    let mut slowest = Duration::ZERO;
    let mut rounds = 0;
    let deadline = Instant::now() + PATIENCE;
    // Trickle on while the bulk transfer runs, until both have done their
    // share: the bulk transfer's bytes are counted by the server.
    loop {
        slowest = slowest.max(trickle());
        rounds += 1;
        if rounds >= TRICKLES && rounds % 50 == 0 {
            let now = server.stats();
            if now.bytes_in - bulk_started.bytes_in >= BULK_AT_LEAST {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the bulk transfer made no progress"
        );
    }
    let (sent, echoed) = bulk.finish();
    assert_eq!(sent, echoed, "the bulk echo lost bytes");
    eprintln!("{rounds} trickles during {sent} bulk bytes; slowest {slowest:?}");
    assert!(
        slowest < PROMPT,
        "a trickled byte took {slowest:?} to come back during the bulk transfer"
    );

    trickler.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut trickler);
    let stats = server.wait_for_stats("both connections to close", |s| s.active == 0);
    assert_eq!(stats.bytes_out, sent + rounds as u64);
    assert_eq!(stats.closed_by_peer, 2);
}

/// Sends `len` bytes, half-closes, and checks exactly those bytes and then
/// the end of stream come back.
fn half_close_after(addr: SocketAddr, len: usize) {
    let data = all_byte_values(len, len as u64);
    let mut client = connect(addr);
    if len <= MAX_PENDING {
        // Fits in the socket buffers: send it all and the FIN before
        // reading anything.
        client.write_all(&data).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
    } else {
        let sender = send_then_half_close(&client, data.clone());
        let echoed = read_exactly(&mut client, len);
        sender.finish();
        assert_same_bytes(&echoed, &data);
        assert_eof(&mut client);
        return;
    }
    let echoed = read_exactly(&mut client, len);
    assert_same_bytes(&echoed, &data);
    assert_eof(&mut client);
}

#[test]
fn after_a_half_close_exactly_the_bytes_sent_come_back_then_end_of_stream() {
    let server = server();
    let sizes = [1, 65_536, 1_000_003];
    for len in sizes {
        half_close_after(server.addr, len);
    }
    let stats = server.wait_for_stats("every connection to close", |s| s.active == 0);
    assert_eq!(stats.closed_by_peer, sizes.len() as u64);
    let total: usize = sizes.iter().sum();
    assert_eq!(stats.bytes_out, total as u64);
}

#[test]
fn a_half_close_while_backpressured_still_returns_every_byte_then_end_of_stream() {
    let server = server();
    let mut client = connect(server.addr);
    let sent = write_until_blocked(&mut client, 5);
    let paused = server.wait_for_stats("the server to pause this client", |s| {
        s.backpressure_pauses >= 1
    });
    assert!(
        sent.len() > MAX_PENDING,
        "only {} bytes went out",
        sent.len()
    );
    assert!(paused.bytes_out < sent.len() as u64, "{paused:?}");

    client.shutdown(Shutdown::Write).unwrap();
    let echoed = read_exactly(&mut client, sent.len());
    assert_same_bytes(&echoed, &sent);
    assert_eof(&mut client);

    let stats = server.wait_for_stats("the connection to close", |s| s.active == 0);
    assert_eq!(stats.closed_by_peer, 1);
    assert_eq!(stats.bytes_in, sent.len() as u64);
    assert_eq!(stats.bytes_out, sent.len() as u64);
}

#[test]
fn a_half_close_that_arrives_while_echoes_wait_in_the_server_still_gets_them_all() {
    const LEN: usize = 8 << 20;
    // Room for the whole transfer (--max-pending 16 MiB): the server reads
    // all of it, and the end of stream behind it, while most echoes still
    // wait in its buffer. Its trace log says when it reads the end of
    // stream, which nothing outside the process can see.
    let mut server = Binary::start_logging(
        "info,echo_reactor=trace",
        &["--listen", "127.0.0.1:0", "--max-pending", "16MiB"],
    );
    let data = all_byte_values(LEN, 8);
    let mut client = connect(server.addr());
    send_then_half_close(&client, data.clone()).finish();
    server.wait_for_log("read end of stream");
    // The client has read nothing yet, so echoes still wait in the server.
    let line = server.stats_line();
    assert_eq!(logged_count(&line, "in,"), LEN as u64, "{line}");
    assert!(
        logged_count(&line, "out;") < LEN as u64,
        "every echo was out before the end of stream was read: {line}"
    );

    let echoed = read_exactly(&mut client, LEN);
    assert_same_bytes(&echoed, &data);
    assert_eof(&mut client);
    server.signal("TERM");
    assert!(server.wait_exit().success(), "{}", server.log_text());
    let last = server.wait_for_log("shut down;");
    assert_eq!(logged_count(&last, "by peer"), 1, "{last}");
    assert_eq!(logged_count(&last, "out;"), LEN as u64, "{last}");
}
