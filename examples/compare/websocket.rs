//! The WebSocket rows: echo-reactor's `--ws-listen` against the echo
//! server most Rust users would write instead, tokio-tungstenite
//! (`examples/tokio_ws_echo.rs`, tokio's multi-thread runtime, a worker
//! per core), and an earlier build (`--baseline`) when it has
//! `--ws-listen`.
//!
//! Three figures, each as its plain twin measures it, over WebSocket
//! (`echo-loadgen --websocket`: every message one masked binary frame,
//! every echo checked; the upgrades done before the measured time):
//!
//! - closed-loop ping-pong on 50 connections, 64 B, messages/s;
//! - the server's CPU time per message at the fixed rate of the plain
//!   fixed-rate row (`--rate`), and the p99 latency that comes with it;
//! - the server's RSS per idle WebSocket connection ([`websocket_idle`]).
//!
//! The repeated scenarios run through [`repeated`] like the others,
//! interleaved among themselves; the servers differ (the tokio-tungstenite
//! peer serves nothing else, the others' plain peers no WebSocket), so the
//! rows have a table of their own.
//!
//! [`websocket_idle`]: crate::websocket_idle
//! [`repeated`]: crate::repeated

use std::process::{Command, Stdio};

use crate::binaries::Binaries;
use crate::repeated;
use crate::report::{render_table, scenario_rows, Results, Row, Sample};
use crate::scenarios::{fixed_rate_load, window, Kind, Scenario, Unit};
use crate::servers::Server;
use crate::tools::strings;
use crate::websocket_idle;
use crate::{Args, Timing};

/// The argument that makes echo-loadgen speak WebSocket.
const WEBSOCKET: &str = "--websocket";

/// The idle run's scenario key and metric.
pub const IDLE_SCENARIO: &str = "ws-idle";
pub const IDLE_METRIC: &str = "idle WS RSS B/conn";

/// Every WebSocket row: the repeated scenarios against every server with
/// a WebSocket listener, then (unless `--skip-idle`) the idle memory.
pub fn websocket_runs(
    args: &Args,
    bins: &Binaries,
    servers: &[Server],
    timing: &Timing,
    results: &mut Results,
) {
    let servers = websocket_servers(bins, servers, results);
    repeated::repeated_runs(
        args,
        bins,
        &servers,
        &scenarios(args, timing),
        None,
        timing,
        results,
    );
    if args.skip_idle {
        results
            .notes
            .push("idle WebSocket memory run skipped (--skip-idle)".into());
    } else {
        websocket_idle::idle_runs(bins, &servers, idle_connections(args.quick), results);
    }
}

/// Idle WebSocket connections held per server: fewer than the plain idle
/// run's, since the peer's each keep a read buffer of their own (128 KiB
/// by tungstenite's default); enough for a figure to a byte.
pub fn idle_connections(quick: bool) -> usize {
    if quick {
        1_000
    } else {
        5_000
    }
}

/// The servers of the WebSocket rows, of those compared: echo-reactor,
/// the `--baseline` build if it has `--ws-listen` (a note says so if
/// not), and the tokio-tungstenite peer.
fn websocket_servers(bins: &Binaries, servers: &[Server], results: &mut Results) -> Vec<Server> {
    let mut list = vec![Server::EchoReactor];
    if servers.contains(&Server::EchoReactorBaseline) {
        match &bins.baseline {
            Some(baseline) if has_ws_listen(baseline) => list.push(Server::EchoReactorBaseline),
            _ => results
                .notes
                .push("the baseline has no --ws-listen: it is not in the WebSocket rows".into()),
        }
    }
    list.push(Server::TokioTungstenite);
    list
}

/// Whether an echo-reactor binary's `--help` lists `--ws-listen`.
fn has_ws_listen(program: &std::path::Path) -> bool {
    Command::new(program)
        .arg("--help")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("--ws-listen"))
}

/// The repeated WebSocket scenarios: ping-pong as the plain
/// `pingpong-c50`, and the fixed rate as the plain `fixed-rate`, over
/// WebSocket.
pub fn scenarios(args: &Args, timing: &Timing) -> Vec<Scenario> {
    let over_websocket = |load: Vec<String>| [load, strings(&[WEBSOCKET])].concat();
    vec![
        Scenario {
            key: "ws-pingpong-c50",
            label: "WS ping-pong C=50 64 B".into(),
            short: "WS ping-pong C=50".into(),
            kind: Kind::Closed,
            load: over_websocket(
                [
                    strings(&["--mode", "pingpong", "--connections", "50", "--size", "64"]),
                    window(timing.warmup, timing.duration),
                ]
                .concat(),
            ),
            tls: false,
        },
        Scenario {
            key: "ws-fixed-rate",
            label: format!("WS fixed {}/s C=50 64 B", args.rate),
            short: format!("WS echoes/CPU-s @{}k/s", args.rate / 1000.0),
            kind: Kind::FixedRate(Unit::Echo),
            load: over_websocket(fixed_rate_load(args.rate, timing.warmup, timing.duration)),
            tls: false,
        },
    ]
}

/// Whether a scenario's load speaks WebSocket, so its servers are started
/// with their WebSocket listener.
pub fn over_websocket(scenario: &Scenario) -> bool {
    scenario.load.iter().any(|arg| arg == WEBSOCKET)
}

/// The WebSocket table, with the line that introduces it; empty if
/// nothing was measured.
pub fn render(args: &Args, timing: &Timing, samples: &[Sample]) -> String {
    let scenarios = scenarios(args, timing);
    let mut rows = scenario_rows(&scenarios);
    rows.push(Row {
        label: "RSS bytes per idle WebSocket connection".into(),
        scenario: IDLE_SCENARIO,
        metric: IDLE_METRIC,
        higher_is_better: false,
    });
    let measured = |server: &Server| {
        samples.iter().any(|s| {
            s.server == *server
                && (s.scenario == IDLE_SCENARIO || scenarios.iter().any(|w| w.key == s.scenario))
        })
    };
    let servers: Vec<Server> = [
        Server::EchoReactor,
        Server::EchoReactorBaseline,
        Server::TokioTungstenite,
    ]
    .into_iter()
    .filter(measured)
    .collect();
    let table = render_table(&rows, &servers, samples);
    if table.is_empty() {
        return table;
    }
    format!(
        "\nWebSocket: echo-reactor --ws-listen against tokio-tungstenite (multi-thread \
         runtime), 64 B binary messages (idle: {} connections, each after its upgrade \
         and one echo)\n\n{table}",
        idle_connections(args.quick)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_websocket_rows_load_as_their_plain_twins_over_websocket() {
        let args = Args::parse_from(["compare", "--quick"]);
        let timing = Timing::new(true);
        let plain = crate::scenarios::scenarios(&args, &timing, None);
        for (twin, scenario) in [("pingpong-c50", 0), ("fixed-rate", 1)] {
            let ws = &scenarios(&args, &timing)[scenario];
            assert!(over_websocket(ws), "{}", ws.key);
            let twin = plain.iter().find(|s| s.key == twin).unwrap();
            assert!(!over_websocket(twin), "{}", twin.key);
            assert_eq!(ws.kind, twin.kind, "{}", ws.key);
            let mut load = ws.load.clone();
            load.retain(|arg| arg != WEBSOCKET);
            assert_eq!(load, twin.load, "{}", ws.key);
        }
    }
}
