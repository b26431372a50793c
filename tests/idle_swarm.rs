//! The idle-connection swarm (`examples/idle_swarm.rs`) against the real
//! server: it opens its connections over several source addresses, holds
//! them, and finds every sampled one still echoing.

mod support;

#[path = "../examples/idle_swarm.rs"]
#[allow(dead_code)]
mod idle_swarm;

use clap::Parser;
use support::*;

#[test]
fn the_swarm_opens_holds_and_checks_its_idle_connections() {
    let server = InProcess::start_default();
    let target = server.addr.to_string();
    let pid = std::process::id().to_string();
    let args = idle_swarm::Args::try_parse_from([
        "idle_swarm",
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
    ])
    .expect("valid arguments");
    let all_good = idle_swarm::run(&args).expect("the swarm runs");
    assert!(all_good, "some connections failed to open or to echo");

    // 300 idle connections and the probe, each echoed by the server; the
    // swarm's sockets are closed when it returns.
    let stats = server.wait_for_stats("the swarm's connections to close", |s| {
        s.accepted == 301 && s.active == 0
    });
    assert!(stats.bytes_in > 0 && stats.bytes_in == stats.bytes_out);
}
