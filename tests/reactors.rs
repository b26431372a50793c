//! Several reactors sharing one address with `SO_REUSEPORT`: the kernel
//! spreads connections over them, each echoes its own exactly, and a stop
//! drains all of them without losing a byte.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};

use crate::support::*;
use echo_reactor::{Cluster, ClusterHandle, Config, Stats};

/// Two reactors on an ephemeral loopback port, running on a thread. The
/// drain may take as long as the test's patience: these tests are about
/// bytes, not about how long a drain takes on a loaded machine.
fn start_two_reactors() -> (SocketAddr, ClusterHandle, JoinHandle<Stats>) {
    let config = Config {
        drain_timeout: PATIENCE,
        ..Config::listening_on("127.0.0.1:0".parse().unwrap())
    };
    let cluster = Cluster::bind(config, 2).expect("bind two reactors");
    let addr = cluster.local_addrs()[0];
    let handle = cluster.handle();
    let runner = thread::spawn(move || cluster.run().expect("cluster run"));
    (addr, handle, runner)
}

fn accepted_per_reactor(handle: &ClusterHandle) -> Vec<u64> {
    let per = handle.stats_per_reactor().expect("both reactors answer");
    per.iter().map(|s| s.accepted).collect()
}

#[test]
fn two_reactors_share_the_connections_and_each_echoes_exactly() {
    let (addr, handle, runner) = start_two_reactors();
    let mut clients: Vec<TcpStream> = (0..200).map(|_| connect(addr)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        let message = format!("connection {i} says hello through some reactor");
        client.write_all(message.as_bytes()).unwrap();
        assert_same_bytes(&read_exactly(client, message.len()), message.as_bytes());
    }
    let accepted = accepted_per_reactor(&handle);
    assert_eq!(accepted.iter().sum::<u64>(), 200, "{accepted:?}");
    // The kernel hashes each connection's ports: with 200 of them, both
    // reactors get some (all on one would have odds of 2^-199).
    assert!(accepted.iter().all(|&n| n > 0), "{accepted:?}");

    drop(clients);
    handle.stop();
    let total = runner.join().expect("coordinator thread");
    assert_eq!(total.accepted, 200);
    assert_eq!(total.closed(), 200);
}

#[test]
fn stopping_two_reactors_with_pending_echoes_loses_no_byte() {
    let (addr, handle, runner) = start_two_reactors();
    // Enough clients that both reactors hold some.
    let mut clients: Vec<TcpStream> = (0..12).map(|_| connect(addr)).collect();
    wait_until("both reactors to accept", || {
        accepted_per_reactor(&handle).iter().sum::<u64>() == 12
    });
    assert!(
        accepted_per_reactor(&handle).iter().all(|&n| n > 0),
        "all 12 connections went to one reactor"
    );
    let sent: Vec<Vec<u8>> = clients
        .iter_mut()
        .enumerate()
        .map(|(i, client)| write_until_blocked(client, i as u64))
        .collect();
    let per = handle.stats_per_reactor().unwrap();
    assert!(
        per.iter().all(|s| s.backpressure_pauses > 0),
        "each reactor should hold pending echoes: {per:?}"
    );

    handle.stop();
    for (client, sent) in clients.iter_mut().zip(&sent) {
        client.shutdown(Shutdown::Write).unwrap();
        assert_same_bytes(&read_exactly(client, sent.len()), sent);
        assert_eof(client);
    }
    let total = runner.join().expect("coordinator thread");
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
fn zero_reactors_is_refused_with_one_line() {
    let output = std::process::Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--reactors", "0"])
        .output()
        .expect("run the binary");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
