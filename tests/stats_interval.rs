//! `--stats-interval`: the binary logs its counters, with rates, on a
//! schedule, and the numbers in the line are the server's real counters.

use std::io::Write;
use std::process::Command;

use crate::support::*;

#[test]
fn with_a_stats_interval_the_binary_logs_counters_and_rates_on_schedule() {
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--stats-interval", "0.2"]);
    let mut client = connect(server.addr());
    client.write_all(b"counted bytes").unwrap();
    assert_same_bytes(&read_exactly(&mut client, 13), b"counted bytes");

    // Two lines come by themselves, each with rates since the one before;
    // the second (or a later one) already counts this client.
    server.wait_for_log("connections/s");
    let line = loop {
        let line = server.wait_for_log("connections/s");
        if logged_count(&line, "accepted") == 1 {
            break line;
        }
    };
    assert_eq!(logged_count(&line, "active"), 1, "{line}");
    assert!(line.contains("13 in, 13 out"), "{line}");
    assert!(
        line.contains("B/s in") && line.contains("B/s out"),
        "{line}"
    );
}

#[test]
fn a_zero_stats_interval_is_refused_with_one_line() {
    let output = run_within_patience(Command::new(BINARY).args([
        "--listen",
        "127.0.0.1:0",
        "--stats-interval",
        "0",
    ]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--stats-interval"), "{stderr}");
}
