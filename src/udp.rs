//! UDP echo (RFC 862): every datagram goes back to its sender, unchanged.
//!
//! With `--udp` each listening address gets a UDP socket on the same port
//! as its TCP listener. The socket is one more entry in the reactor's slab
//! (a 4-byte socket and a flag), registered for `READABLE` only, and served
//! in the same loop as the TCP connections: read a datagram into the shared
//! scratch buffer, `send_to` the same bytes back, repeat until `WouldBlock`.
//!
//! # Why UDP echo needs more care than TCP echo
//!
//! A TCP peer has proved, with the handshake, that it owns its address. A
//! UDP datagram's source address and port are whatever the sender wrote, so
//! an echo service answers whoever an attacker names. Two consequences:
//!
//! - **Loops.** A datagram forged to come from another service that
//!   answers every datagram (another echo, chargen, daytime, ...) makes the
//!   two answer each other forever, each reply triggering the next: the
//!   "UDP packet storm" of CVE-1999-0103. One forged packet costs both
//!   machines CPU and bandwidth until one of them drops a packet.
//! - **Reflection.** A datagram forged to come from a service delivers
//!   bytes the attacker chose to that service, from this machine's address;
//!   its answer comes back here, and without a guard is echoed to it again.
//!
//! So the echo refuses, and counts in
//! [`Stats::udp_dropped_guarded`](crate::Stats::udp_dropped_guarded), every
//! datagram whose source port is one of these ([`guarded`]):
//!
//! - **0.** Not a port anyone can answer: RFC 768 reads it as "no reply
//!   wanted", and only a forged or broken packet carries it.
//! - **1 to 1023, all of them.** The well-known ports are where the
//!   services that answer any datagram live: echo 7, discard 9, systat 11,
//!   daytime 13, qotd 17, chargen 19, time 37, and the ones that answer
//!   queries or even malformed input with a reply: DNS 53, TFTP 69,
//!   portmap 111, NTP 123 (whose mode 7 error replies once looped between
//!   two servers, CVE-2009-3563), NetBIOS 137/138, SNMP 161/162, LDAP/CLDAP
//!   389, RIP 520, ... A list of them would always miss one, while real
//!   clients almost never send from below 1024: operating systems pick
//!   source ports from 32768-60999 (Linux) or 49152-65535 (BSD, Windows,
//!   macOS). This is the rule of OpenBSD's and BusyBox's inetd
//!   (`dg_badinput`) and of xinetd (`bad_port_check`); NetBSD's and
//!   FreeBSD's inetd refuse only the ports of their own built-in services,
//!   which misses DNS, NTP and chargen-like services on other hosts.
//! - **A few well-known ports above 1023** of services that answer
//!   unauthenticated datagrams and are known reflectors ([`GUARDED_HIGH_PORTS`]):
//!   SSDP 1900, NFS 2049 (also refused by OpenBSD's inetd: NFS trusts a
//!   client by its address and port), Apple Remote Desktop 3283,
//!   WS-Discovery 3702, mDNS 5353, CoAP 5683, Ubiquiti discovery 10001 and
//!   memcached 11211. None is in any system's ephemeral port range, so no
//!   real client is refused for them. (Jenkins' discovery port 33848 is a
//!   known reflector too, but it lies inside Linux's ephemeral range, where
//!   refusing it would refuse one ordinary client in 28,000.)
//! - **The ports this server echoes on.** Another copy of this server, or
//!   any echo service on the same port, is the likeliest loop partner: a
//!   datagram forged from `other-host:65432` to `this-host:65432` would
//!   otherwise bounce between the two for ever. The same check stops a
//!   datagram forged to come from the server's own address from looping
//!   through the server itself. The price: a client whose ephemeral port
//!   happens to equal the server's port gets no echo (a retry from a new
//!   socket gets another port).
//!
//! What no rule on port numbers can stop: a loop with a second echo service
//! on some other ordinary high port, and plain reflection, where a forged
//! datagram makes the server send its echo to a victim (the echo is no
//! larger than the request, so it does not amplify). Keep the server off
//! untrusted networks, or rate-limit UDP in front of it.
//!
//! # No queue
//!
//! UDP keeps no per-peer state and makes no delivery promise, so neither
//! does the echo: when `send_to` says `WouldBlock` (the socket's send
//! buffer is full), that datagram is dropped and counted in
//! [`Stats::udp_dropped_would_block`](crate::Stats::udp_dropped_would_block),
//! and reading goes on. Holding it would need memory per datagram, for a
//! protocol whose senders expect loss anyway. There is therefore nothing to
//! flush and no reason to ask for `WRITABLE`. (On loopback this drop never
//! happens: the kernel hands a sent datagram to the receiver, or drops it
//! there, before `send_to` returns.) Any other failed send (no route, a
//! firewall) drops the datagram too, counted in
//! [`Stats::udp_dropped_errors`](crate::Stats::udp_dropped_errors).
//!
//! # No truncation
//!
//! The largest UDP payload is 65,507 bytes over IPv4 (65,535 minus the IPv4
//! and UDP headers) and 65,527 over IPv6 (whose 16-bit payload length
//! covers only the UDP header and data; jumbograms are not UDP's). The
//! scratch buffer is 65,536 bytes, larger than both (checked at compile
//! time), so every datagram fits whole and `recv_from` never truncates one.
//! A datagram that filled the buffer would be the sign of a truncation;
//! the server drops it, as an error, rather than echo a cut copy. Datagrams
//! whose UDP header lies about their length are dropped by the kernel and
//! never reach the server.
//!
//! # Fairness
//!
//! A UDP socket shares the loop with every TCP connection, so it gets the
//! same kind of budget: at most [`DATAGRAMS_PER_TURN`] datagrams per turn.
//! A socket that uses it up asks to be served again after the next poll
//! (`Next::ServeAgain`, the queue TCP connections use), because
//! edge-triggered epoll would not report the datagrams already queued. A
//! flood therefore takes one budget's worth of the loop per turn, and the
//! TCP connections ready in the same turn get theirs.

use std::io;
use std::net::SocketAddr;

use log::{debug, trace};
use mio::net::UdpSocket;

use crate::serve::{Context, Next, Ready, Role, Stage, SCRATCH_SIZE};

/// Most datagrams read from one UDP socket per turn of the loop; then the
/// socket is served again after the next poll. Each costs two system calls
/// (`recvfrom`, `sendto`) and a copy of at most 64 KiB, so a turn costs
/// about what a TCP connection's 256 KiB read budget does: well under a
/// millisecond.
pub const DATAGRAMS_PER_TURN: usize = 64;

/// The largest payload a UDP datagram can carry: 65,535 bytes of IPv6
/// payload minus the 8-byte UDP header. (Over IPv4 it is 65,507.)
pub const MAX_DATAGRAM: usize = 65_527;

// Every datagram fits in the scratch buffer with room to spare, so a read
// that fills it can only mean truncation.
const _: () = assert!(SCRATCH_SIZE > MAX_DATAGRAM);

/// Source ports above 1023 whose datagrams are never answered: services
/// that answer unauthenticated datagrams and are known reflectors, none in
/// an ephemeral port range. See the module docs for each.
pub const GUARDED_HIGH_PORTS: [u16; 8] = [1900, 2049, 3283, 3702, 5353, 5683, 10001, 11211];

/// Why a datagram from `port` must not be answered, or `None` if it may be.
/// `own_ports` are the ports this server echoes on.
pub fn guarded(port: u16, own_ports: &[u16]) -> Option<&'static str> {
    if port == 0 {
        Some("source port 0")
    } else if port < 1024 {
        Some("well-known service port")
    } else if GUARDED_HIGH_PORTS.contains(&port) {
        Some("port of a known reflector")
    } else if own_ports.contains(&port) {
        Some("port this server echoes on")
    } else {
        None
    }
}

impl Stage for UdpEcho {
    fn serve(&mut self, _ready: Ready, cx: &mut Context) -> Next {
        self.echo_datagrams(cx)
    }

    fn role(&self) -> Role {
        Role::Socket
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        &mut self.socket
    }

    fn queued(&mut self) -> Option<&mut bool> {
        Some(&mut self.queued)
    }
}

/// A UDP echo socket, as the slab holds it.
pub struct UdpEcho {
    socket: UdpSocket,
    /// In the reactor's serve-again queue; keeps the queue free of doubles.
    pub queued: bool,
}

impl UdpEcho {
    /// Echoes on `socket`, which must be registered for `READABLE`.
    pub fn new(socket: UdpSocket) -> UdpEcho {
        UdpEcho {
            socket,
            queued: false,
        }
    }

    /// Echoes datagrams until the socket has none left (`Next::Wait`) or
    /// the turn's budget is spent (`Next::ServeAgain`). Datagrams from the
    /// ports this server echoes on ([`Context::udp_ports`]) get no answer.
    pub fn echo_datagrams(&mut self, cx: &mut Context) -> Next {
        let mut failed_before = false;
        for _ in 0..DATAGRAMS_PER_TURN {
            let (n, peer) = match self.socket.recv_from(&mut cx.scratch[..]) {
                Ok(received) => received,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A pending error (reported once, then cleared) or a
                // shortage of memory: try once more, but never spin on an
                // error that repeats; the next datagram brings a new event.
                Err(e) => {
                    debug!("token {}: udp receive failed: {e}", cx.key);
                    if failed_before {
                        return Next::Wait;
                    }
                    failed_before = true;
                    continue;
                }
            };
            failed_before = false;
            cx.stats.datagrams_in += 1;
            if n >= cx.scratch.len() {
                // Cannot happen (see "No truncation"), but a cut copy is
                // not an echo.
                cx.stats.udp_dropped_errors += 1;
                debug!("token {}: dropped a truncated datagram from {peer}", cx.key);
                continue;
            }
            if let Some(why) = guarded(peer.port(), &cx.udp_ports) {
                cx.stats.udp_dropped_guarded += 1;
                trace!("token {}: no echo for {n} bytes from {peer}: {why}", cx.key);
                continue;
            }
            self.echo(n, peer, cx);
        }
        trace!(
            "token {}: datagram budget spent, serving others first",
            cx.key
        );
        Next::ServeAgain
    }

    /// Sends `scratch[..n]` back to `peer`, or drops it: nothing is kept.
    fn echo(&mut self, n: usize, peer: SocketAddr, cx: &mut Context) {
        loop {
            match self.socket.send_to(&cx.scratch[..n], peer) {
                // A datagram goes whole or not at all.
                Ok(_) => {
                    trace!("token {}: echoed {n} bytes to {peer}", cx.key);
                    cx.stats.datagrams_out += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    trace!(
                        "token {}: send buffer full, dropped {n} bytes for {peer}",
                        cx.key
                    );
                    cx.stats.udp_dropped_would_block += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    trace!("token {}: cannot echo {n} bytes to {peer}: {e}", cx.key);
                    cx.stats.udp_dropped_errors += 1;
                }
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_0_service_ports_known_reflectors_and_our_own_port_are_refused() {
        let own = [65432];
        for port in [0, 7, 9, 13, 17, 19, 37, 53, 123, 161, 1023] {
            assert!(guarded(port, &own).is_some(), "port {port}");
        }
        for port in GUARDED_HIGH_PORTS {
            assert!(guarded(port, &own).is_some(), "port {port}");
        }
        assert!(guarded(65432, &own).is_some());
        for port in [1024, 32768, 40000, 49152, 60999, 65431, 65535] {
            assert_eq!(guarded(port, &own), None, "port {port}");
        }
    }

    #[test]
    fn no_guarded_port_lies_in_an_ephemeral_range() {
        // Linux 32768-60999; IANA (BSD, Windows, macOS) 49152-65535.
        assert!(GUARDED_HIGH_PORTS.iter().all(|&port| port < 32768));
    }

    #[test]
    fn a_socket_echoes_at_most_a_budget_of_datagrams_per_turn_then_asks_to_be_served_again() {
        const SENT: usize = 150;
        let socket = crate::socket::udp_socket("127.0.0.1:0".parse().unwrap(), false).unwrap();
        socket2::SockRef::from(&socket)
            .set_recv_buffer_size(1 << 20)
            .unwrap();
        let server = socket.local_addr().unwrap();
        let mut echo = UdpEcho::new(socket);
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket2::SockRef::from(&client)
            .set_recv_buffer_size(1 << 20)
            .unwrap();
        for i in 0..SENT {
            client.send_to(format!("{i}").as_bytes(), server).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20)); // all queued

        let mut cx = Context::new(64 * 1024, 1 << 20);
        let mut turns = Vec::new();
        loop {
            let next = echo.echo_datagrams(&mut cx);
            turns.push(cx.stats.datagrams_in);
            if let Next::Wait = next {
                break;
            }
            assert!(turns.len() < 10, "{turns:?}");
        }
        // A budget, another, then the rest, and the socket is dry.
        let budget = DATAGRAMS_PER_TURN as u64;
        assert_eq!(
            turns,
            [budget, 2 * budget, SENT as u64],
            "datagrams read after each turn"
        );
        assert_eq!(cx.stats.datagrams_out, SENT as u64);

        client
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 16];
        for i in 0..SENT {
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (format!("{i}").as_bytes(), server));
        }
    }
}
