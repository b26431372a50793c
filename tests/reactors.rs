//! Several reactors sharing one address with `SO_REUSEPORT`: the kernel
//! spreads connections over them, each echoes its own exactly, and a stop
//! drains all of them without losing a byte.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::time::Duration;

use crate::support::*;
use echo_reactor::Config;

/// Two reactors on an ephemeral loopback port, running on a thread. The
/// drain timeout is far beyond any test's length, so a stop never closes
/// a connection that still has echoes to deliver, however slow the host.
fn start_two_reactors() -> InCluster {
    let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
    config.drain_timeout = Duration::from_secs(600);
    InCluster::start(config, 2)
}

#[test]
fn two_reactors_share_the_connections_and_each_echoes_exactly() {
    let cluster = start_two_reactors();
    let addr = cluster.addr;
    let mut clients: Vec<TcpStream> = (0..200).map(|_| connect(addr)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        let message = format!("connection {i} says hello through some reactor");
        client.write_all(message.as_bytes()).unwrap();
        assert_same_bytes(&read_exactly(client, message.len()), message.as_bytes());
    }
    let accepted = cluster.accepted_per_reactor();
    assert_eq!(accepted.iter().sum::<u64>(), 200, "{accepted:?}");
    // The kernel hashes each connection's ports: with 200 of them, both
    // reactors get some (all on one would have odds of 2^-199).
    assert!(accepted.iter().all(|&n| n > 0), "{accepted:?}");

    drop(clients);
    let total = cluster.stop();
    assert_eq!(total.accepted, 200);
    assert_eq!(total.closed(), 200);
}

#[test]
fn stopping_two_reactors_with_pending_echoes_loses_no_byte() {
    let cluster = start_two_reactors();
    // Enough clients that both reactors hold some.
    let mut clients: Vec<TcpStream> = (0..12).map(|_| connect(cluster.addr)).collect();
    wait_until("both reactors to accept", || {
        cluster.accepted_per_reactor().iter().sum::<u64>() == 12
    });
    assert!(
        cluster.accepted_per_reactor().iter().all(|&n| n > 0),
        "all 12 connections went to one reactor"
    );
    let sent: Vec<Vec<u8>> = clients
        .iter_mut()
        .enumerate()
        .map(|(i, client)| write_until_blocked(client, i as u64))
        .collect();
    let per = cluster.stats_per_reactor();
    assert!(
        per.iter().all(|s| s.backpressure_pauses > 0),
        "each reactor should hold pending echoes: {per:?}"
    );

    cluster.handle.stop();
    for (client, sent) in clients.iter_mut().zip(&sent) {
        client.shutdown(Shutdown::Write).unwrap();
        assert_same_bytes(&read_exactly(client, sent.len()), sent);
        assert_eof(client);
    }
    let total = cluster.join();
    let sent_total: u64 = sent.iter().map(|s| s.len() as u64).sum();
    assert_eq!(total.bytes_in, sent_total);
    assert_eq!(total.bytes_out, sent_total);
}

#[test]
fn the_binary_with_two_reactors_echoes_and_exits_0_on_sigterm() {
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--reactors", "2"]);
    server.wait_until_logged("2 reactors share each address");
    echo_all(server.addr(), &all_byte_values(200_000, 7));
    server.signal("TERM");
    assert!(server.wait_exit().success(), "{}", server.log_text());
    assert!(server.log_text().contains("all 2 reactors shut down"));
}

#[test]
fn reactors_auto_runs_one_reactor_per_available_core() {
    // The binary inherits this process's CPU affinity and limits.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--reactors", "auto"]);
    server.wait_until_logged("serving:");
    if cores > 1 {
        server.wait_until_logged(&format!("{cores} reactors share each address"));
    } else {
        // One reactor is the plain server, with no cluster around it.
        assert!(
            !server.log_text().contains("reactors share"),
            "{}",
            server.log_text()
        );
    }
    echo_all(server.addr(), &all_byte_values(100_000, 12));

    server.signal("TERM");
    assert!(server.wait_exit().success(), "{}", server.log_text());
    let log = server.log_text();
    if cores > 1 {
        assert!(
            log.contains(&format!("all {cores} reactors shut down")),
            "{log}"
        );
    }
    assert_eq!(server.count_log_lines("] shut down;"), cores, "{log}");
}

#[test]
fn zero_reactors_is_refused_with_one_line() {
    let output = run_within_patience(Command::new(BINARY).args([
        "--listen",
        "127.0.0.1:0",
        "--reactors",
        "0",
    ]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("echo-reactor: ") && stderr.contains("--reactors"),
        "the line should name --reactors: {stderr}"
    );
}
