//! Backpressure bounds memory: a client that never reads its echoes makes
//! the server hold at most `--max-pending` bytes for it and then stop
//! reading from it, so server memory stays within connections x max-pending
//! however much such clients try to send, other clients keep being served,
//! and a stalled client that starts reading gets every byte back in order.
//! `--max-pending` sets the limit on the binary.

use crate::support::*;

use std::io::Write;
use std::net::Shutdown;

use echo_reactor::Config;

const MAX_PENDING: usize = 64 * 1024;

#[test]
fn a_client_that_never_reads_makes_the_server_hold_at_most_max_pending_and_pause() {
    let mut config = Config::default();
    config.max_pending = MAX_PENDING;
    let server = InProcess::start(config);
    let mut stalled = connect(server.addr);
    let sent = write_until_blocked(&mut stalled, 1);
    assert!(
        sent.len() > 2 * MAX_PENDING,
        "blocked after only {} bytes",
        sent.len()
    );

    let stats = server.wait_for_stats("the server to pause the stalled client", |s| {
        s.backpressure_pauses >= 1
    });
    // Reading stops exactly when the pending buffer is full.
    assert_eq!(stats.peak_pending, MAX_PENDING as u64, "{stats:?}");
    // The server stopped reading: most of what was sent still waits in
    // kernel queues, not in the server.
    assert!(stats.bytes_in < sent.len() as u64, "{stats:?}");

    // Others are served meanwhile.
    echo_all(server.addr, &all_byte_values(100 * 1024, 2));

    // Once it reads, it gets everything back in order, and the connection
    // works as before.
    let echoed = read_exactly(&mut stalled, sent.len());
    assert_same_bytes(&echoed, &sent);
    stalled.write_all(b"still here").unwrap();
    assert_eq!(read_exactly(&mut stalled, 10), b"still here");
    stalled.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut stalled);

    let end = server.wait_for_stats("both connections to close", |s| s.active == 0);
    assert!(
        end.peak_pending <= MAX_PENDING as u64,
        "peak pending {} over the limit while catching up",
        end.peak_pending
    );
    assert_eq!(end.bytes_in, end.bytes_out);
    assert_eq!(end.bytes_in, (sent.len() + 100 * 1024 + 10) as u64);
    assert_eq!(end.closed_by_peer, 2);
}

#[test]
fn twenty_clients_that_never_read_cost_the_binary_at_most_their_max_pending_in_memory() {
    const STALLED: usize = 20;
    // Not the default, so the flag's wiring is what is tested, and large
    // enough that the held bytes dwarf everything else the server
    // allocates: the bound below is their sum plus a quarter (a buffer
    // that grew to twice the limit would need double).
    const FLAG_MAX_PENDING: usize = 1 << 20;
    let mut binary = Binary::start(&["--listen", "127.0.0.1:0", "--max-pending", "1MiB"]);
    binary.wait_until_logged("1048576 pending bytes each");
    let addr = binary.addr();
    let rss_before = binary.rss_bytes();

    let mut stalled = clients_writing_until_blocked(STALLED, 100, move || connect(addr));

    // Every client filled its pending buffer to the byte, not beyond. A
    // client stops writing once its own queues are full, which can be
    // before a server slowed by a busy machine has read up to the limit:
    // it then still reads on, so wait for the pauses to add up.
    let started = std::time::Instant::now();
    let mut line = binary.stats_line();
    while logged_value(&line, "backpressure pauses:") < STALLED as u64
        && started.elapsed() < PATIENCE
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
        line = binary.stats_line();
    }
    assert_eq!(
        logged_value(&line, "peak pending:"),
        FLAG_MAX_PENDING as u64,
        "peak pending is not --max-pending: {line}"
    );
    assert!(
        logged_value(&line, "backpressure pauses:") >= STALLED as u64,
        "not every client was paused: {line}"
    );

    let rss_stalled = binary.rss_bytes();
    let sent_total: usize = stalled.iter().map(|(_, sent)| sent.len()).sum();
    let growth = rss_stalled.saturating_sub(rss_before);
    let held = (STALLED * FLAG_MAX_PENDING) as u64;
    let bound = held + held / 4;
    eprintln!(
        "RSS {rss_before} -> {rss_stalled} B (+{growth} B, bound {bound} B) \
         with {sent_total} B sent by {STALLED} clients that do not read"
    );
    assert!(
        growth < bound,
        "server RSS grew by {growth} B with {STALLED} stalled clients; bound {bound} B"
    );
    for (i, (_, sent)) in stalled.iter().enumerate() {
        assert!(
            sent.len() > FLAG_MAX_PENDING,
            "stalled client {i} blocked after {} bytes",
            sent.len()
        );
    }

    // While those 20 are stalled, a fresh client is served in full.
    echo_all(addr, &all_byte_values(100 * 1024, 7));

    // Each stalled client, once it reads, gets back everything in order.
    for (client, sent) in &mut stalled {
        let echoed = read_exactly(client, sent.len());
        assert_same_bytes(&echoed, sent);
        client.shutdown(Shutdown::Write).unwrap();
        assert_eof(client);
    }
}
