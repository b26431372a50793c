//! What the kernel says about loopback sockets, from `/proc/net/{tcp,udp}`
//! (and their IPv6 twins): each socket's addresses, TCP state and queue
//! lengths. The tests use it to see what no system call of a peer shows:
//! how many connections wait in a listening socket's accept queue, a
//! not-yet-accepted connection holding a client's bytes and FIN, a UDP
//! socket with datagrams still unread.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A connection whose peer's FIN has arrived (`TCP_CLOSE_WAIT` in
/// `include/net/tcp_states.h`, the numbers `/proc/net/tcp` shows).
pub const TCP_CLOSE_WAIT: u8 = 0x08;
/// A listening socket (`TCP_LISTEN`).
pub const TCP_LISTEN: u8 = 0x0A;

/// One line of `/proc/net/tcp` or `/proc/net/udp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The TCP state (see the `TCP_*` constants); for UDP, 7 (`TCP_CLOSE`)
    /// unless the socket is connected.
    pub state: u8,
    /// Bytes sent and not yet acknowledged (TCP), or queued to send (UDP).
    pub tx_queue: u64,
    /// Bytes received and not yet read (a FIN, read or not, is not among
    /// them); for a listening socket, the connections waiting to be accepted.
    pub rx_queue: u64,
}

/// Every TCP socket of this network namespace, IPv4 and IPv6.
pub fn tcp_sockets() -> Vec<KernelSocket> {
    read_table("/proc/net/tcp")
        .into_iter()
        .chain(read_table("/proc/net/tcp6"))
        .collect()
}

/// Every UDP socket of this network namespace, IPv4 and IPv6.
pub fn udp_sockets() -> Vec<KernelSocket> {
    read_table("/proc/net/udp")
        .into_iter()
        .chain(read_table("/proc/net/udp6"))
        .collect()
}

/// The TCP socket with these addresses, if there is one.
pub fn tcp_socket(local: SocketAddr, remote: SocketAddr) -> Option<KernelSocket> {
    tcp_sockets()
        .into_iter()
        .find(|socket| socket.local == local && socket.remote == remote)
}

/// The TCP socket listening on `local`; panics if there is none.
pub fn tcp_listener(local: SocketAddr) -> KernelSocket {
    tcp_sockets()
        .into_iter()
        .find(|socket| socket.local == local && socket.state == TCP_LISTEN)
        .unwrap_or_else(|| panic!("no socket listening on {local} in /proc/net/tcp"))
}

fn read_table(path: &str) -> Vec<KernelSocket> {
    // A host without IPv6 has no tcp6 or udp6 table.
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .skip(1) // the header
        .map(|line| parse_line(line).unwrap_or_else(|| panic!("{path}: cannot parse {line:?}")))
        .collect()
}

/// `sl local_address rem_address st tx_queue:rx_queue ...`, addresses as
/// hex `ADDR:PORT`.
fn parse_line(line: &str) -> Option<KernelSocket> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (tx, rx) = fields.get(4)?.split_once(':')?;
    Some(KernelSocket {
        local: parse_address(fields.get(1)?)?,
        remote: parse_address(fields.get(2)?)?,
        state: u8::from_str_radix(fields.get(3)?, 16).ok()?,
        tx_queue: u64::from_str_radix(tx, 16).ok()?,
        rx_queue: u64::from_str_radix(rx, 16).ok()?,
    })
}

/// The kernel prints an address as its 32-bit words, each in this host's
/// byte order, so each word's native bytes are the address's bytes.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for word in address.as_bytes().chunks(8) {
        let word = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}
