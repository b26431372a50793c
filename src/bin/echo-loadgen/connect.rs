//! Opening the run's sockets, before anything is measured: the polling
//! modes' non-blocking TCP connections and UDP sockets, each numbered in
//! the run and spread round robin over the threads, and how long any
//! connection may take to connect. (The blocking modes set their sockets
//! up themselves: `threads.rs`, `churn.rs`.)

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use crate::model::Plan;

/// How long one connection may take to connect (and, with `--tls`, to
/// finish its handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the plan's connections with `open`, each numbered, spread round
/// robin over its threads. A failure ends the run before it starts:
/// "cannot `verb` TARGET (`noun` N of M): ERROR".
pub fn open_all<S>(
    plan: &Plan,
    verb: &str,
    noun: &str,
    open: impl Fn(SocketAddr) -> io::Result<S>,
) -> Result<Vec<Vec<(usize, S)>>, String> {
    let mut groups: Vec<Vec<(usize, S)>> = (0..plan.threads).map(|_| Vec::new()).collect();
    for id in 0..plan.connections {
        let socket = open(plan.target).map_err(|e| {
            format!(
                "cannot {verb} {} ({noun} {} of {}): {e}",
                plan.target,
                id + 1,
                plan.connections
            )
        })?;
        groups[id % plan.threads].push((id, socket));
    }
    Ok(groups)
}

/// A non-blocking TCP connection to `target`, with `TCP_NODELAY`.
pub fn open_tcp(target: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    Ok(stream)
}

/// A non-blocking UDP socket on an ephemeral port (port 0: the kernel
/// picks one), `connect`ed to `target` so that it receives only the
/// target's datagrams. Bound to the loopback address of the target's
/// family when the target is loopback, else to any address.
pub fn open_udp(target: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = match target.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => (Ipv4Addr::LOCALHOST, 0).into(),
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(ip) if ip.is_loopback() => (Ipv6Addr::LOCALHOST, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(target)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}
