//! Client sockets spread over many loopback source addresses, so that a
//! load tool can open (or churn through) more connections to one server
//! than one source address has ports for.
//!
//! A TCP connection is named by its four-tuple; to one server address, one
//! source address has only the ephemeral port range (about 28,000 ports on
//! Linux), and every connection the client closes first keeps its port in
//! `TIME_WAIT` for a minute. All of 127.0.0.0/8 is this machine, so a tool
//! binds each socket to one of 127.0.0.1 ... 127.0.0.K first
//! ([`loopback_source`]) and has K times the ports.
//!
//! A plain `bind` to port 0 would pick the port at bind time, unique for
//! the source address alone, and slow each bind down as ports run out.
//! With `IP_BIND_ADDRESS_NO_PORT` ([`socket_from`]) the kernel leaves the
//! port to `connect`, which picks it per (source, destination) pair. Both
//! `echo-idle-swarm` (many idle connections) and `echo-loadgen --mode
//! churn` (many short ones) open their sockets here.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Source address `n` of `count`, round robin: 127.0.0.1 for `n = 0`, up
/// to 127.0.0.`count` (`count` 0 counts as 1).
pub fn loopback_source(n: usize, count: u8) -> Ipv4Addr {
    let index = n % usize::from(count.max(1));
    // `index` < `count` <= 255, so `1 + index` <= 255.
    Ipv4Addr::new(127, 0, 0, 1 + index as u8)
}

/// A new IPv4 TCP socket bound to `source`, its port left for `connect`
/// to pick (`IP_BIND_ADDRESS_NO_PORT`); non-blocking if asked.
pub fn socket_from(source: Ipv4Addr, nonblocking: bool) -> io::Result<Socket> {
    let kind = if nonblocking {
        Type::STREAM.nonblocking()
    } else {
        Type::STREAM
    };
    let socket = Socket::new(Domain::IPV4, kind, Some(Protocol::TCP))?;
    let enable: libc::c_int = 1;
    // SAFETY: the fd is a valid socket for the whole call, and the option
    // value points to a c_int that outlives it, with its size passed along.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&enable as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    socket.bind(&SockAddr::from(SocketAddr::new(IpAddr::V4(source), 0)))?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn sources_go_round_robin_from_127_0_0_1() {
        let sources: Vec<Ipv4Addr> = (0..5).map(|n| loopback_source(n, 3)).collect();
        let expected = [
            "127.0.0.1",
            "127.0.0.2",
            "127.0.0.3",
            "127.0.0.1",
            "127.0.0.2",
        ];
        assert_eq!(sources, expected.map(|a| a.parse::<Ipv4Addr>().unwrap()));
        assert_eq!(loopback_source(7, 0), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(loopback_source(254, 255), Ipv4Addr::new(127, 0, 0, 255));
    }

    #[test]
    fn a_socket_from_a_source_connects_from_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = socket_from(Ipv4Addr::new(127, 0, 0, 3), false).unwrap();
        socket
            .connect(&SockAddr::from(listener.local_addr().unwrap()))
            .unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
    }
}
