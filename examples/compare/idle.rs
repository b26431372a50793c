//! Idle memory, once per server: echo-idle-swarm holds thousands of idle
//! connections and reports the server's RSS growth per connection.

use crate::binaries::Binaries;
use crate::report::Results;
use crate::servers::{Running, Server, Wrapper};
use crate::tools;
use crate::Timing;

/// 4 of the top doc: RSS per idle connection, for every server.
pub fn idle_runs(bins: &Binaries, servers: &[Server], timing: &Timing, results: &mut Results) {
    for &server in servers {
        let result = idle_run(server, bins, timing, results);
        results.check(&format!("idle {}", server.name()), result);
    }
}

/// Server RSS growth per idle connection, from echo-idle-swarm.
fn idle_run(
    server: Server,
    bins: &Binaries,
    timing: &Timing,
    results: &mut Results,
) -> Result<(), String> {
    let running = Running::start(server, bins, Wrapper::Plain)?;
    let (connections, hold) = timing.idle;
    let report = tools::idle_swarm(bins, running.addr, running.pid, connections, hold)?;
    running.stop()?;
    let per_connection = report
        .server
        .map(|cost| cost.rss_per_connection_bytes)
        .ok_or("echo-idle-swarm's report has no server cost")?;
    // Connections that failed to open or to echo at the end: the tool
    // exits 1 then.
    let failures = report.requested.saturating_sub(report.connected) + report.sample_failures;
    results.record(
        0,
        "idle",
        server,
        [
            ("idle RSS B/conn", per_connection),
            ("idle connections", report.connected as f64),
            ("idle_swarm errors", failures as f64),
        ],
    );
    eprintln!(
        "compare:   idle       {:<21} {per_connection:>7.1} B RSS per idle connection ({} held{})",
        server.name(),
        report.connected,
        match failures {
            0 => String::new(),
            n => format!(", {n} connections failed to open or echo"),
        }
    );
    Ok(())
}
