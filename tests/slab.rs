//! The slab that holds every socket stays small: one slot is 16 bytes in a
//! release build (at most 32 with debug checks), and closed connections give
//! their slot (their token) back, so thousands of short connections one
//! after another never grow the slab past the peak of open sockets.

use crate::support::*;

use std::io::Write;
use std::net::Shutdown;

use echo_reactor::{slab_entry_size, Config};

#[test]
fn a_slab_slot_takes_16_bytes_in_release_builds_and_never_more_than_32() {
    let size = slab_entry_size();
    eprintln!(
        "slab entry: {size} bytes ({} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    assert!(size <= 32, "a slab slot takes {size} bytes");
    if !cfg!(debug_assertions) {
        assert_eq!(
            size, 16,
            "a slab slot takes {size} bytes in a release build"
        );
    }
}

#[test]
fn three_thousand_short_connections_in_a_row_reuse_the_same_few_slab_slots() {
    const CYCLES: u64 = 3000;
    let mut config = Config::default();
    config.max_pending = 65536;
    let server = InProcess::start(config);

    for cycle in 0..CYCLES {
        let mut client = connect(server.addr);
        let message = format!("short-lived connection {cycle}");
        client.write_all(message.as_bytes()).unwrap();
        let echoed = read_exactly(&mut client, message.len());
        assert_eq!(echoed, message.as_bytes(), "cycle {cycle}");
        if cycle % 2 == 0 {
            // Wait for the server's goodbye...
            client.shutdown(Shutdown::Write).unwrap();
            assert_eof(&mut client);
        }
        // ...or just close and move on.
    }

    let stats = server.wait_for_stats("every connection to close", |s| s.active == 0);
    eprintln!("after {CYCLES} connections: {stats:?}");
    assert_eq!(stats.accepted, CYCLES);
    assert_eq!(stats.closed_by_peer, CYCLES);
    assert!(
        stats.slab_capacity <= 16,
        "slab grew to {} slots; freed tokens are not being reused",
        stats.slab_capacity
    );
    assert!(
        stats.peak_active <= 8,
        "{} connections were open at once; closes are not being handled promptly",
        stats.peak_active
    );
}
