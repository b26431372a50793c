//! UDP echo (`--udp`, RFC 862): datagrams of every size up to the largest
//! come back unchanged, on the same port as TCP; datagrams from guarded
//! source ports (service ports, port 0, the server's own port) get no
//! answer and are counted, over IPv6 as over IPv4, so two echo services cannot be made to answer
//! each other forever; a UDP flood neither starves TCP clients nor leaves
//! the server busy once it ends; shutdown closes the UDP sockets with the
//! listeners.
//!
//! Clients are plain blocking `std::net::UdpSocket`s with read timeouts.
//! Forged datagrams (another source address or port 0) go through a raw
//! socket, and clients on service ports bind below 1024:
//! both need root (CAP_NET_RAW, CAP_NET_BIND_SERVICE). Without it those
//! tests say so and skip, or fail in strict mode (see `support::skip`).

use std::io::{self, ErrorKind, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;
use echo_reactor::{Config, Server, Stats};
use socket2::{Domain, Protocol, Socket, Type};

/// An in-process server echoing TCP and UDP on an ephemeral loopback port.
fn start_udp() -> InProcess {
    let mut config = Config::default();
    config.udp = true;
    InProcess::start(config)
}

/// A UDP client bound to `local`, with buffers big enough for the largest
/// datagram and a read timeout, so no wait is unbounded.
fn udp_client_on(local: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(local), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_recv_buffer_size(1 << 20)?;
    socket.set_send_buffer_size(1 << 20)?;
    if local.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&local.into())?;
    let socket = UdpSocket::from(socket);
    socket.set_read_timeout(Some(PATIENCE))?;
    Ok(socket)
}

/// A UDP client on a service port (root only). The port may be taken for
/// a moment by another run of these tests on the same host: wait for it,
/// within [`PATIENCE`].
fn udp_client_on_service_port(local: SocketAddr) -> io::Result<UdpSocket> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match udp_client_on(local) {
            Err(e) if e.kind() == ErrorKind::AddrInUse && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

fn udp_client() -> UdpSocket {
    udp_client_on("127.0.0.1:0".parse().unwrap()).expect("bind a UDP client")
}

/// Sends `data` to `server` and returns the datagram that comes back from
/// it (skipping any from elsewhere, for at most [`PATIENCE`]).
fn udp_echo(client: &UdpSocket, server: SocketAddr, data: &[u8]) -> Vec<u8> {
    client
        .send_to(data, server)
        .unwrap_or_else(|e| panic!("send {} bytes: {e}", data.len()));
    let mut buf = vec![0; 65_536];
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (n, from) = client
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("no echo of {} bytes: {e}", data.len()));
        if from == server {
            buf.truncate(n);
            return buf;
        }
        assert!(
            Instant::now() < deadline,
            "only datagrams from elsewhere for {PATIENCE:?}"
        );
    }
}

/// Whether no datagram arrives for `wait`.
fn nothing_arrives(client: &UdpSocket, wait: Duration) -> bool {
    client.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    let quiet = matches!(
        client.recv_from(&mut buf),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
    );
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    quiet
}

/// Every datagram received was echoed or dropped for a counted reason.
fn assert_accounted(stats: &Stats) {
    assert_eq!(
        stats.datagrams_in,
        stats.datagrams_out + stats.udp_dropped(),
        "{stats:?}"
    );
}

fn v4(addr: SocketAddr) -> SocketAddrV4 {
    match addr {
        SocketAddr::V4(addr) => addr,
        SocketAddr::V6(addr) => panic!("{addr} is not IPv4"),
    }
}

/// Sends a UDP datagram from any local address and any port, port 0
/// included, through a raw socket (root only). The checksum is 0, "none",
/// which IPv4 allows.
fn send_forged(from: SocketAddrV4, to: SocketAddrV4, payload: &[u8]) -> io::Result<()> {
    let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::UDP))?;
    raw.bind(&SocketAddr::from((*from.ip(), 0)).into())?;
    let length = (8 + payload.len()) as u16;
    let mut packet = Vec::with_capacity(8 + payload.len());
    packet.extend_from_slice(&from.port().to_be_bytes());
    packet.extend_from_slice(&to.port().to_be_bytes());
    packet.extend_from_slice(&length.to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(payload);
    raw.send_to(&packet, &SocketAddr::from((*to.ip(), 0)).into())?;
    Ok(())
}

/// Bytes waiting in the receive queue of the UDP socket bound to `server`.
fn queued_datagram_bytes(server: SocketAddr) -> u64 {
    udp_sockets()
        .into_iter()
        .find(|socket| socket.local == server)
        .unwrap_or_else(|| panic!("no UDP socket bound to {server} in /proc/net/udp"))
        .rx_queue
}

/// The numbers of the UDP part of a logged counters line.
fn logged_udp_count(line: &str, label: &str) -> u64 {
    let udp = line
        .split("udp datagrams:")
        .nth(1)
        .unwrap_or_else(|| panic!("no UDP counters in {line:?}"));
    logged_count(udp, label)
}

#[test]
fn datagrams_of_0_1_1472_and_65507_bytes_come_back_unchanged() {
    let server = start_udp();
    let client = udp_client();
    let sizes = [0, 1, 1472, 65_507];
    for (i, &len) in sizes.iter().enumerate() {
        let data = all_byte_values(len, i as u64);
        assert_same_bytes(&udp_echo(&client, server.addr, &data), &data);
    }
    // 65,507 bytes is the most IPv4 carries: the client's own kernel
    // refuses one byte more, so no larger datagram can reach the server.
    let too_big = client.send_to(&vec![0; 65_508], server.addr);
    assert!(too_big.is_err(), "{too_big:?}");

    let stats = server.stats();
    assert_eq!(
        (stats.datagrams_in, stats.datagrams_out),
        (4, 4),
        "{stats:?}"
    );
    assert_eq!(stats.udp_dropped(), 0, "{stats:?}");
    // TCP's counters are TCP's alone.
    assert_eq!((stats.accepted, stats.bytes_in, stats.bytes_out), (0, 0, 0));
}

/// A UDP client on `[::1]` and a UDP echo server on `[::1]`; `None`, after
/// [`skip`], on a host without IPv6 loopback.
fn ipv6_client_and_server() -> Option<(UdpSocket, InProcess)> {
    let client = match udp_client_on("[::1]:0".parse().unwrap()) {
        Ok(client) => client,
        Err(e) => {
            skip(&format!("cannot bind [::1]:0 on this host ({e})"));
            return None;
        }
    };
    let mut config = Config::default();
    config.listen = vec!["[::1]:0".parse().unwrap()];
    config.udp = true;
    let server = InProcess::start(config);
    Some((client, server))
}

#[test]
fn the_largest_ipv6_datagram_65527_bytes_comes_back_whole() {
    let Some((client, server)) = ipv6_client_and_server() else {
        return;
    };
    // The largest UDP payload of all, 20 bytes more than IPv4's: it still
    // fits the 64 KiB buffer, so nothing is ever truncated.
    let data = pattern(65_527, 9);
    assert_same_bytes(&udp_echo(&client, server.addr, &data), &data);
    let stats = server.stats();
    assert_eq!(
        (stats.datagrams_in, stats.datagrams_out),
        (1, 1),
        "{stats:?}"
    );
    assert_eq!(stats.udp_dropped_errors, 0, "{stats:?}");
}

#[test]
fn tcp_and_udp_echo_on_the_same_port_at_once() {
    let server = start_udp();
    let mut tcp = connect(server.addr);
    let udp = udp_client();
    let mut total = 0;
    for round in 0..50 {
        let message = pattern(100 + round * 20, round as u64);
        tcp.write_all(&message).unwrap();
        assert_same_bytes(&udp_echo(&udp, server.addr, &message), &message);
        assert_same_bytes(&read_exactly(&mut tcp, message.len()), &message);
        total += message.len() as u64;
    }
    tcp.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut tcp);

    let stats = server.wait_for_stats("the connection to close", |s| s.active == 0);
    assert_eq!((stats.datagrams_in, stats.datagrams_out), (50, 50));
    assert_eq!((stats.bytes_in, stats.bytes_out), (total, total));
}

#[test]
fn datagrams_from_service_ports_get_no_answer_and_are_counted() {
    let server = start_udp();
    // The server answers an ordinary client, so silence below is refusal.
    let ordinary = udp_client();
    assert_eq!(udp_echo(&ordinary, server.addr, b"ping"), b"ping");

    let mut tried = Vec::new();
    // echo, chargen, DNS, NTP, SSDP, memcached
    for port in [7, 19, 53, 123, 1900, 11211] {
        let client = match udp_client_on_service_port(SocketAddr::from(([127, 0, 0, 1], port))) {
            Ok(client) => client,
            Err(e) => {
                skip(&format!("port {port}: cannot bind 127.0.0.1:{port} ({e})"));
                continue;
            }
        };
        let before = server.stats().udp_dropped_guarded;
        client
            .send_to(b"answer me, and I answer you", server.addr)
            .unwrap();
        // The counter is the proof; silence is only an extra check.
        server.wait_for_stats(
            &format!("the datagram from port {port} to be refused"),
            |s| s.udp_dropped_guarded == before + 1,
        );
        assert!(
            nothing_arrives(&client, Duration::from_millis(200)),
            "the datagram from port {port} was answered"
        );
        tried.push(port);
    }
    if tried.is_empty() {
        return skip("cannot bind any guarded port (not root?)");
    }
    eprintln!("refused datagrams from ports {tried:?}");

    assert_eq!(
        udp_echo(&ordinary, server.addr, b"still here"),
        b"still here"
    );
    let stats = server.stats();
    assert_eq!(stats.udp_dropped_guarded, tried.len() as u64, "{stats:?}");
    assert_eq!(stats.datagrams_out, 2, "{stats:?}");
    assert_accounted(&stats);
}

#[test]
fn over_ipv6_datagrams_from_service_ports_get_no_answer_and_are_counted() {
    let Some((ordinary, server)) = ipv6_client_and_server() else {
        return;
    };
    assert_eq!(udp_echo(&ordinary, server.addr, b"ping"), b"ping");

    // echo, chargen, SSDP
    let ports = [7, 19, 1900];
    for (i, port) in ports.into_iter().enumerate() {
        let client = match udp_client_on_service_port(SocketAddr::from((Ipv6Addr::LOCALHOST, port)))
        {
            Ok(client) => client,
            Err(e) => return skip(&format!("cannot bind [::1]:{port} ({e}); not root?")),
        };
        client.send_to(b"answer me over IPv6", server.addr).unwrap();
        server.wait_for_stats(
            &format!("the datagram from [::1]:{port} to be refused"),
            |s| s.udp_dropped_guarded == i as u64 + 1,
        );
        assert!(
            nothing_arrives(&client, Duration::from_millis(200)),
            "the datagram from [::1]:{port} was answered"
        );
    }
    let stats = server.stats();
    assert_eq!(stats.udp_dropped_guarded, ports.len() as u64, "{stats:?}");
    assert_eq!(stats.datagrams_out, 1, "{stats:?}");
    assert_accounted(&stats);
}

#[test]
fn a_forged_datagram_from_port_0_gets_no_answer() {
    let server = start_udp();
    let from = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
    if let Err(e) = send_forged(from, v4(server.addr), b"from port zero") {
        return skip(&format!(
            "cannot send through a raw socket ({e}); not root?"
        ));
    }
    let stats = server.wait_for_stats("the datagram from port 0 to be refused", |s| {
        s.udp_dropped_guarded == 1
    });
    assert_eq!(
        (stats.datagrams_in, stats.datagrams_out),
        (1, 0),
        "{stats:?}"
    );
}

#[test]
fn two_echo_servers_on_one_port_cannot_be_made_to_answer_each_other() {
    // Two servers on the same port, as two hosts running this server with
    // its default port would be: 127.0.0.1:P and 127.0.0.2:P.
    let first = start_udp();
    let port = first.addr.port();
    let mut config = Config::default();
    config.listen = vec![SocketAddr::from(([127, 0, 0, 2], port))];
    config.udp = true;
    let second = InProcess::start_as_given(config);
    let client = udp_client();
    assert_eq!(udp_echo(&client, second.addr, b"hello"), b"hello");

    // A datagram forged to come from the second server, sent to the first:
    // answered, it would bounce between the two for ever. Then one forged
    // to come from the first server itself, which would loop through it.
    let forged = [(second.addr, first.addr), (first.addr, first.addr)];
    for (i, &(from, to)) in forged.iter().enumerate() {
        if let Err(e) = send_forged(v4(from), v4(to), b"ping-pong for ever?") {
            return skip(&format!(
                "cannot send through a raw socket ({e}); not root?"
            ));
        }
        first.wait_for_stats("the forged datagram to be refused", |s| {
            s.udp_dropped_guarded == i as u64 + 1
        });
    }
    // Give a loop, if there were one, time to show.
    thread::sleep(Duration::from_millis(300));
    let (first, second) = (first.stats(), second.stats());
    assert_eq!(
        (first.datagrams_in, first.datagrams_out),
        (2, 0),
        "{first:?}"
    );
    assert_eq!(
        (second.datagrams_in, second.datagrams_out),
        (1, 1),
        "only the client's datagram: {second:?}"
    );
}

#[test]
fn a_udp_flood_does_not_starve_tcp_clients() {
    const FLOOD_AT_LEAST: u64 = 20_000;
    let server = start_udp();
    let target = server.addr;

    // Two flooders, from sockets that never read their echoes, so together
    // they send faster than one reactor thread can echo: without a budget
    // per turn the UDP socket would never run dry and TCP would starve.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flooders: Vec<_> = (0..2)
        .map(|i| {
            let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
            thread::spawn(move || {
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                let data = pattern(1024, i);
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) && started.elapsed() < PATIENCE {
                    if socket.send_to(&data, target).is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    server.wait_for_stats("the flood to arrive", |s| s.datagrams_in >= 1000);

    let before = server.stats().datagrams_in;
    let mut tcp = connect(target);
    let mut slowest = Duration::ZERO;
    // Whether datagrams waited unread in the server's UDP socket as a round
    // began or while its echo was on the way: the flood was still on, with
    // more of it queued than the server had read, and TCP was served in
    // between.
    let mut rounds_with_a_queue = 0;
    for round in 0..300 {
        let message = pattern(1 + (round * 37) % 4096, round as u64);
        let mut queued = queued_datagram_bytes(target) > 0;
        let asked = Instant::now();
        tcp.write_all(&message).unwrap();
        queued |= queued_datagram_bytes(target) > 0;
        assert_same_bytes(&read_exactly(&mut tcp, message.len()), &message);
        slowest = slowest.max(asked.elapsed());
        rounds_with_a_queue += usize::from(queued);
    }
    let during = server.stats().datagrams_in - before;
    wait_until("the flooders to send 20,000 datagrams", || {
        sent.load(Ordering::Relaxed) >= FLOOD_AT_LEAST
    });
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        join_within("a flooder", flooder, PATIENCE);
    }
    tcp.shutdown(Shutdown::Write).unwrap();
    assert_eof(&mut tcp);

    // Every datagram sent is now in the server's receive queue or was
    // dropped by the kernel: once the queue is empty, the server has read
    // them all, and the next stats answer comes after the turn that did.
    wait_until("the server to read every queued datagram", || {
        queued_datagram_bytes(target) == 0
    });
    let stats = server.stats();
    eprintln!(
        "{} datagrams sent, {} read by the server ({during} during the 300 TCP echoes, \
         a queue during {} of them), slowest TCP echo {slowest:?}; {stats:?}",
        sent.load(Ordering::Relaxed),
        stats.datagrams_in,
        rounds_with_a_queue
    );
    assert!(during > 0, "the flood had stopped before the TCP echoes");
    // (Measured: 33 to 60 of the 300.)
    assert!(
        rounds_with_a_queue >= 10,
        "datagrams waited in the server's socket during only {rounds_with_a_queue} of the 300 TCP rounds"
    );
    // A loopback echo takes well under a millisecond; a flood without a
    // per-turn budget would hold a TCP client up for as long as it lasts.
    assert!(
        slowest < Duration::from_secs(1),
        "a TCP echo took {slowest:?} during the flood"
    );
    assert!(stats.datagrams_out > 0, "{stats:?}");
    assert_eq!(stats.udp_dropped_guarded, 0, "{stats:?}");
    assert_accounted(&stats);
    assert_eq!((stats.closed_by_peer, stats.closed_by_error), (1, 0));
}

#[test]
fn the_binary_with_udp_logs_both_listening_lines_echoes_both_and_rests_after_a_flood() {
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--udp"]);
    let addr = server.addr();
    server.wait_until_logged(&format!("listening on {addr} (udp)"));
    assert_eq!(
        server.count_log_lines(&format!("listening on {addr}")),
        2,
        "log:\n{}",
        server.log_text()
    );
    echo_all(addr, &all_byte_values(10_000, 1));
    let client = udp_client();
    assert_eq!(udp_echo(&client, addr, b"over udp"), b"over udp");

    // 20,000 datagrams from a socket that never reads its echoes.
    let flooder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let data = pattern(512, 2);
    for _ in 0..20_000 {
        let _ = flooder.send_to(&data, addr);
    }
    echo_all(addr, &all_byte_values(10_000, 3));

    // Once the flood is handled (every datagram read from the queue), the
    // server rests: no CPU, no spinning.
    wait_until("the server to read the flood", || {
        queued_datagram_bytes(addr) == 0
    });
    let cpu_before = server.cpu_time();
    thread::sleep(Duration::from_secs(1));
    let cpu = server.cpu_time() - cpu_before;
    assert!(cpu < Duration::from_millis(100), "{cpu:?} of CPU in 1 s");

    let line = server.stats_line();
    let received = logged_udp_count(&line, "in");
    let echoed = logged_udp_count(&line, "echoed");
    let dropped = logged_udp_count(&line, "guarded")
        + logged_udp_count(&line, "send buffer full")
        + logged_udp_count(&line, "errors");
    assert!(received > 1 && received <= 20_001, "{line}");
    assert_eq!(received, echoed + dropped, "{line}");
    assert_eq!(logged_count(&line, "by peer"), 2, "{line}");

    server.signal("TERM");
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log_text());
}

#[test]
fn without_udp_no_datagram_is_received() {
    let server = InProcess::start_default();
    let client = udp_client();
    client.connect(server.addr).unwrap();
    client.send(b"anyone there?").unwrap();
    // Nothing listens: the kernel answers with "port unreachable".
    let mut buf = [0u8; 64];
    let answer = client.recv(&mut buf).map_err(|e| e.kind());
    assert_eq!(answer, Err(ErrorKind::ConnectionRefused));
    assert_eq!(server.stats().datagrams_in, 0);
}

#[test]
fn shutdown_closes_the_udp_sockets_with_the_listeners() {
    let mut config = Config::default();
    config.udp = true;
    config.drain_timeout = Duration::from_secs(60);
    let server = InProcess::start(config);
    // A client that stays connected keeps the server draining, and running.
    let mut held = connect(server.addr);
    held.write_all(b"hold on").unwrap();
    read_exactly(&mut held, 7);
    let client = udp_client();
    client.connect(server.addr).unwrap();
    client.send(b"before").unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(client.recv(&mut buf).ok(), Some(6));

    server.handle.stop();
    assert_eof(&mut held); // the stop has been handled
    client.send(b"after").unwrap();
    let answer = client.recv(&mut buf).map_err(|e| e.kind());
    assert_eq!(answer, Err(ErrorKind::ConnectionRefused));
    assert_eq!(server.stats().datagrams_in, 1);
    drop(held);
    let stats = server.stop();
    assert_eq!(stats.closed_by_shutdown, 1, "{stats:?}");
}

#[test]
fn two_reactors_share_the_udp_port_and_every_datagram_is_echoed() {
    let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
    config.udp = true;
    let cluster = InCluster::start(config, 2);

    // A new client socket, so a new source port, for every datagram: the
    // kernel hashes each to a reactor.
    for i in 0..40 {
        let client = udp_client();
        let message = format!("datagram {i} through some reactor");
        assert_eq!(
            udp_echo(&client, cluster.addr, message.as_bytes()),
            message.as_bytes()
        );
    }
    let per = cluster.stats_per_reactor();
    let received: Vec<u64> = per.iter().map(|s| s.datagrams_in).collect();
    eprintln!("datagrams per reactor: {received:?}");
    assert_eq!(received.iter().sum::<u64>(), 40, "{received:?}");
    // Each source port is hashed to one reactor: all 40 on the same one
    // would have odds of 2^-39.
    assert!(received.iter().all(|&n| n > 0), "{received:?}");

    let total = cluster.stop();
    assert_eq!(total.datagrams_out, 40, "{total:?}");
}

#[test]
fn a_burst_queued_before_the_server_runs_is_echoed_whole_over_several_turns() {
    // More datagrams than one turn's budget wait in the socket before the
    // first poll: the first turn echoes a budget's worth, and only the
    // serve-again queue (no new datagram, so no new edge) gets the rest.
    const BURST: usize = 150;
    let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
    config.udp = true;
    let server = Server::bind(config).expect("bind the server");
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let client = udp_client();
    for i in 0..BURST {
        client.send_to(format!("{i:04}").as_bytes(), addr).unwrap();
    }
    let runner = thread::spawn(move || server.run().expect("server run"));

    let mut buf = [0u8; 64];
    for i in 0..BURST {
        let (n, _) = client
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("echo {i} of {BURST} missing: {e}"));
        assert_eq!(&buf[..n], format!("{i:04}").as_bytes());
    }
    let stats = handle.stats_timeout(PATIENCE).expect("the server answers");
    assert_eq!((stats.datagrams_in, stats.datagrams_out), (150, 150));
    handle.stop();
    join_within("the server thread", runner, PATIENCE);
}
