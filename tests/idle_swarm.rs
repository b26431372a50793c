//! The idle-connection swarm (`echo-idle-swarm`), run as the binary cargo
//! built, against the real server: it opens its connections over several
//! source addresses, holds them, finds every sampled one still echoing,
//! and reports it all as the library's `IdleReport` with `--json`.

use std::process::Command;

use crate::support::*;
use echo_reactor::tools::report::IdleReport;

#[test]
fn the_swarm_opens_holds_and_checks_its_idle_connections() {
    let server = InProcess::start_default();
    let target = server.addr.to_string();
    // The server runs in this process.
    let pid = std::process::id().to_string();
    let output = run_within_patience(Command::new(env!("CARGO_BIN_EXE_echo-idle-swarm")).args([
        "--target",
        &target,
        "--connections",
        "300",
        "--sources",
        "4",
        "--hold",
        "0.3",
        "--probe-ms",
        "50",
        "--sample",
        "60",
        "--server-pid",
        &pid,
        "--json",
    ]));
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "some connections failed to open or to echo: {}\n{stdout}\n{stderr}",
        output.status
    );
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
    let report: IdleReport = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not an IdleReport ({e}): {stdout}"));
    assert_eq!(
        (report.requested, report.connected),
        (300, 300),
        "{report:?}"
    );
    assert_eq!(
        (report.sampled, report.sample_failures),
        (60, 0),
        "{report:?}"
    );
    assert!(report.probe_echoes > 0, "{report:?}");
    assert!(report.probe_max_us >= report.probe_p50_us, "{report:?}");
    let cost = report.server.expect("the server's cost, with its pid");
    assert!(cost.rss_held_bytes > 0, "{report:?}");

    // 300 idle connections and the probe, each echoed by the server; the
    // swarm's sockets are closed when it exits.
    let stats = server.wait_for_stats("the swarm's connections to close", |s| {
        s.accepted == 301 && s.active == 0
    });
    assert!(stats.bytes_in > 0 && stats.bytes_in == stats.bytes_out);
    // Held: all 300 were open at once (the probe's own connection may
    // have been open beside them).
    assert!(
        (300..=301).contains(&stats.peak_active),
        "the swarm never held its 300 connections at once: {stats:?}"
    );
}
