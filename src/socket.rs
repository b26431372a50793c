//! Opening the sockets the server listens on: TCP listeners and UDP echo
//! sockets, with the options each needs.
//!
//! The loop only registers what this module opens; how a socket is made
//! (family, options, backlog, non-blocking) is decided here, once for both
//! protocols. Sockets are made with socket2 rather than
//! `TcpListener::bind`, so the server chooses:
//!
//! - the accept **backlog** (a load test opens connections in bursts);
//! - **`IPV6_V6ONLY`**, which lets `[::]:P` and `0.0.0.0:P` be listened on
//!   together;
//! - **`SO_REUSEPORT`** when several reactors share an address
//!   ([`Cluster`](crate::Cluster)): the kernel then spreads new connections
//!   (and datagrams, by source address and port) among them;
//! - **`SO_REUSEADDR`** for TCP only: restarting the server must not wait
//!   for old connections in `TIME_WAIT`, while for UDP it would let a
//!   second server bind the same port and silently share its datagrams.

use std::io;
use std::net::SocketAddr;

use log::debug;
use mio::net::{TcpListener, UdpSocket};
use socket2::{Domain, Protocol, Socket, Type};

/// Binds a non-blocking TCP listener on `addr`.
pub fn tcp_listener(addr: SocketAddr, backlog: u32, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = open(addr, Type::STREAM, Protocol::TCP, reuse_port)?;
    socket.set_reuse_address(true)?;
    // Echoes are small and latency matters more than packet count. On Linux
    // an accepted socket inherits the option from its listener, which saves
    // a `setsockopt` per connection (see `inherits_nodelay`).
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Binds a non-blocking UDP socket on `addr`.
pub fn udp_socket(addr: SocketAddr, reuse_port: bool) -> io::Result<UdpSocket> {
    let socket = open(addr, Type::DGRAM, Protocol::UDP, reuse_port)?;
    socket.bind(&addr.into())?;
    Ok(UdpSocket::from_std(socket.into()))
}

/// Accepted sockets inherit `TCP_NODELAY` from the listening socket (Linux
/// copies the listener's TCP options into each new connection; a test
/// below holds the kernel to it). Elsewhere the accept loop sets it on
/// each connection.
pub const INHERITS_NODELAY: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Times a port-0 address is tried again when the port the TCP listener got
/// turns out to be taken for UDP by someone else.
const PORT_ZERO_ATTEMPTS: usize = 16;

/// Binds the TCP listener and the UDP socket of one listening address, on
/// the same port: with port 0, the UDP socket takes the port the listener
/// got (and if another program holds that port for UDP, both are bound
/// again on a new one).
pub fn tcp_and_udp(
    addr: SocketAddr,
    backlog: u32,
    reuse_port: bool,
) -> io::Result<(TcpListener, UdpSocket)> {
    let mut attempts = if addr.port() == 0 {
        PORT_ZERO_ATTEMPTS
    } else {
        1
    };
    loop {
        let listener = tcp_listener(addr, backlog, reuse_port)?;
        let local = listener.local_addr()?;
        match udp_socket(local, reuse_port) {
            Ok(udp) => return Ok((listener, udp)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempts > 1 => {
                attempts -= 1;
                debug!("{local}: port taken for UDP, trying another");
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("UDP: {e}"))),
        }
    }
}

/// A non-blocking socket of `addr`'s family, with the options both
/// protocols share.
fn open(addr: SocketAddr, ty: Type, protocol: Protocol, reuse_port: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), ty.nonblocking(), Some(protocol))?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

/// The integration suite's one rule for a test that cannot run on this
/// host: skip, or fail in strict mode (`ECHO_REACTOR_TEST_STRICT=1`).
#[cfg(test)]
#[allow(dead_code)] // the tests below need only `skip`
#[path = "../tests/support/skip.rs"]
mod test_skip;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_and_ipv6_wildcards_share_a_port() {
        // Without IPV6_V6ONLY, a socket on [::]:P also takes 0.0.0.0:P.
        let v6 = match tcp_listener("[::]:0".parse().unwrap(), 16, false) {
            Ok(listener) => listener,
            Err(e) => return test_skip::skip(&format!("no IPv6 on this host ({e})")),
        };
        let port = v6.local_addr().unwrap().port();
        let v4 = tcp_listener(SocketAddr::from(([0, 0, 0, 0], port)), 16, false);
        assert!(v4.is_ok(), "{v4:?}");
        let (tcp, udp) = tcp_and_udp("[::]:0".parse().unwrap(), 16, false).unwrap();
        let port = tcp.local_addr().unwrap().port();
        assert_eq!(udp.local_addr().unwrap().port(), port);
        assert!(tcp_and_udp(SocketAddr::from(([0, 0, 0, 0], port)), 16, false).is_ok());
    }

    #[test]
    fn inherits_nodelay() {
        let listener = tcp_listener("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert!(
            !client.nodelay().unwrap(),
            "a new client socket has Nagle on"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let accepted = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no connection to accept"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        assert_eq!(accepted.nodelay().unwrap(), INHERITS_NODELAY);
    }

    #[test]
    fn a_second_udp_socket_cannot_take_a_port_without_reuse_port() {
        let first = udp_socket("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let taken = first.local_addr().unwrap();
        let second = udp_socket(taken, false).unwrap_err();
        assert_eq!(second.kind(), io::ErrorKind::AddrInUse);
    }
}
