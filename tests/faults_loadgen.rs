//! What `echo-loadgen` reports of a faulted server, run against fault
//! listeners (`--fault-listen`, `--toxic`): the latency it was given, and
//! resets, short echoes, refused connects, connect timeouts and, with
//! `--response-timeout-ms`, a server gone silent, each told apart, in the
//! `--json` report and in the table.

use crate::support::*;

use std::net::{SocketAddr, TcpListener};
use std::process::Command;

use echo_reactor::tools::report::LoadReport;

/// The server with one plain listener and one fault listener, `fault`,
/// with `toxic` (`--toxic fault:...`): the fault listener's address, and
/// the server.
fn faulted(toxic: &str) -> (SocketAddr, Binary) {
    let toxic = format!("fault:{toxic}");
    let server = Binary::start(&[
        "--listen",
        "127.0.0.1:0",
        "--fault-listen",
        "fault=127.0.0.1:0",
        "--toxic",
        &toxic,
    ]);
    (server.addrs[1], server)
}

/// One short run against `target` with `args`: its exit status, its
/// `--json` report, and the same run's table.
fn run(target: SocketAddr, args: &[&str]) -> (i32, LoadReport, String) {
    let target = target.to_string();
    let mut all = vec!["--target", &target, "--duration", "1", "--warmup", "0.2"];
    all.extend(args);
    let out = run_within_patience(Command::new(env!("CARGO_BIN_EXE_echo-loadgen")).args(&all));
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    all.push("--json");
    let out = run_within_patience(Command::new(env!("CARGO_BIN_EXE_echo-loadgen")).args(&all));
    let json = String::from_utf8_lossy(&out.stdout);
    let report: LoadReport = serde_json::from_str(json.trim())
        .unwrap_or_else(|e| panic!("{e}: {json} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), report, table)
}

#[test]
fn pingpong_on_a_latency_listener_has_its_p50_near_the_latency_and_no_error() {
    let (target, _server) = faulted("latency,latency=100ms");
    let (status, report, table) = run(target, &["--connections", "2"]);
    assert_eq!((status, report.errors), (0, 0), "{report:?}");
    let p50 = report.latency_p50_us.unwrap();
    assert!(
        (100_000.0..300_000.0).contains(&p50),
        "p50 {p50} µs: {report:?}"
    );
    assert!(
        table.contains("client saw    resets 0, refused connects 0, short echoes 0"),
        "{table}"
    );
}

#[test]
fn every_connection_reset_by_reset_peer_is_counted_as_a_reset() {
    let (target, _server) = faulted("reset_peer,timeout=100ms");
    let (status, report, table) = run(target, &["--connections", "4"]);
    assert_eq!(status, 1, "{report:?}");
    assert_eq!(report.resets, Some(4), "{report:?}");
    assert_eq!(report.io_errors, 4, "{report:?}");
    assert_eq!(report.errors, 4, "{report:?}");
    assert!(table.contains("client saw    resets 4,"), "{table}");
}

#[test]
fn an_echo_cut_by_limit_data_is_a_short_echo() {
    let (target, _server) = faulted("limit_data,bytes=100");
    let (status, report, _) = run(target, &["--connections", "3", "--size", "64"]);
    assert_eq!(status, 1, "{report:?}");
    // 64 bytes echoed, then 36 of the next 64, then the FIN.
    assert_eq!(report.eofs, Some(3), "{report:?}");
    assert_eq!(report.short_echoes, Some(3), "{report:?}");
    assert_eq!(report.resets, Some(0), "{report:?}");
}

#[test]
fn churn_tells_refused_connects_from_accept_resets_and_connect_timeouts() {
    // Nothing listens: every connect is refused.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (_, report, _) = run(closed, &["--mode", "churn", "--connections", "1"]);
    let refused = report.refused.unwrap();
    assert!(refused > 0, "{report:?}");
    assert_eq!(
        (report.io_errors, report.resets),
        (refused, Some(0)),
        "{report:?}"
    );

    // Accepted and reset at once.
    let (target, _server) = faulted("accept_reset");
    let (_, report, _) = run(target, &["--mode", "churn", "--connections", "1"]);
    let resets = report.resets.unwrap();
    assert!(resets > 0, "{report:?}");
    assert_eq!(
        (report.refused, report.lifecycles),
        (Some(0), Some(0)),
        "{report:?}"
    );

    // A listener that stops accepting: its queue fills, connects time out.
    let (target, _server) = faulted("stop_accepting");
    let (_, report, table) = run(
        target,
        &[
            "--mode",
            "churn",
            "--connections",
            "2",
            "--lifecycle-timeout-ms",
            "200",
        ],
    );
    let connect_timeouts = report.connect_timeouts.unwrap();
    assert!(connect_timeouts > 0, "{report:?}");
    assert!(connect_timeouts <= report.timeouts.unwrap(), "{report:?}");
    assert!(table.contains(", connect timeouts "), "{table}");
}

#[test]
fn a_silent_server_is_a_timeout_per_connection_with_a_response_timeout() {
    // The timeout toxic at 0: a black hole, no byte ever comes back.
    let (target, _server) = faulted("timeout,timeout=0");
    let args = ["--connections", "3", "--response-timeout-ms", "300"];
    let (status, report, table) = run(target, &args);
    assert_eq!(status, 1, "{report:?}");
    assert_eq!(report.timeouts, Some(3), "{report:?}");
    assert_eq!(report.response_timeout_ms, Some(300), "{report:?}");
    assert_eq!(
        (report.errors, report.lost_connections),
        (3, Some(0)),
        "{report:?}"
    );
    assert!(
        table.contains("timeout       300 ms for a connection's oldest echo"),
        "{table}"
    );
    // Without it, the same connections wait to the end: lost echoes.
    let (_, report, _) = run(target, &["--connections", "3"]);
    assert_eq!(
        (report.timeouts, report.lost_connections),
        (None, Some(3)),
        "{report:?}"
    );
}

#[test]
fn a_response_timeout_is_refused_where_it_does_not_apply() {
    for mode in ["udp", "churn", "threads", "bulk"] {
        let out = run_within_patience(Command::new(env!("CARGO_BIN_EXE_echo-loadgen")).args([
            "--target",
            "127.0.0.1:9",
            "--mode",
            mode,
            "--response-timeout-ms",
            "100",
        ]));
        assert_eq!(out.status.code(), Some(2), "{mode}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{mode}: {stderr}");
        assert!(stderr.contains("--response-timeout-ms"), "{mode}: {stderr}");
    }
}
