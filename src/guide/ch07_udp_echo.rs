//! Chapter 7: UDP echo in the same loop, and why it needs a guard.
//!
//! # Datagrams beside connections
//!
//! With [`Config::udp`](crate::config::Config::udp) (`--udp`), each
//! listening address also gets a UDP socket on the same port
//! ([`socket::tcp_and_udp`](crate::socket::tcp_and_udp); with port 0, the
//! port TCP got), one more entry in the same slab, served by the same
//! loop: [`UdpEcho`](crate::udp::UdpEcho). There are no connections, so
//! there is nothing per client at all: one socket answers everyone.
//!
//! [`UdpEcho::echo_datagrams`](crate::udp::UdpEcho::echo_datagrams) reads a datagram into
//! the shared scratch buffer and sends the same bytes back with
//! `send_to`, until `WouldBlock` or its budget for the turn. The buffer
//! (64 KiB) is larger than any UDP payload (65,507 bytes over IPv4, 65,527
//! over IPv6: [`MAX_DATAGRAM`](crate::udp::MAX_DATAGRAM)), so nothing is
//! truncated.
//!
//! There is no queue: a datagram the send buffer cannot take is dropped
//! and counted, as UDP itself would. Queuing it would give every client
//! of a protocol that tolerates loss a way to make the server hold memory.
//! Fairness is TCP's: at most
//! [`DATAGRAMS_PER_TURN`](crate::udp::DATAGRAMS_PER_TURN) (64) datagrams
//! per socket per turn, then the serve-again queue (chapter 4), so a UDP
//! flood gets the same share of the loop as one busy connection and TCP
//! clients keep getting their echoes.
//!
//! ```text
//! [INFO  echo_reactor::server::accepting] listening on 127.0.0.1:43881
//! [INFO  echo_reactor::server::accepting] listening on 127.0.0.1:43881 (udp)
//! [TRACE echo_reactor::server] event: token 1 readable=true writable=false read_closed=false error=false
//! [TRACE echo_reactor::udp] token 1: echoed 4 bytes to 127.0.0.1:47226
//! ```
//!
//! # The guard
//!
//! A UDP source address is whatever the sender wrote. An echo service
//! therefore answers whoever an attacker names, and the classic attack on
//! it (CVE-1999-0103, the "UDP packet storm") is one forged datagram
//! "from" another echo service: the two answer each other forever, at the speed of the
//! network, and so does every copy of the datagram the attacker sends.
//! [`guarded`](crate::udp::guarded) refuses to answer a datagram whose
//! source port is 0; below 1024 (where echo, chargen, daytime, DNS, NTP,
//! SNMP and the other services that answer datagrams live; the rule of
//! OpenBSD's inetd and of xinetd); one of a few known reflectors above it
//! (SSDP 1900, NFS 2049, 3283, WS-Discovery 3702, mDNS 5353, CoAP 5683,
//! 10001, memcached 11211:
//! [`GUARDED_HIGH_PORTS`](crate::udp::GUARDED_HIGH_PORTS)); or one of the
//! server's own ports (another copy of this server is the likeliest loop
//! partner). The [`udp`](crate::udp) module gives the reasons for each;
//! the counters say what was dropped and why:
//!
//! ```text
//! [TRACE echo_reactor::udp] token 1: no echo for 4 bytes from 127.0.0.1:7: well-known service port
//! ```
//!
//! The guard looks at port numbers only: it cannot stop a loop with an
//! echo service on some other ordinary high port, nor a forged datagram
//! that turns the echo on a victim (no amplification, though: the echo is
//! no larger than the request). That is why `--udp` is off by default.
//!
//! # Measured
//!
//! Measured here (`echo-loadgen --mode udp`, 5 s after 1 s of warm-up, two
//! rounds, no datagram lost; TCP ping-pong in the same rounds for
//! reference): 50 sockets with 64-byte datagrams, 246-267k echoes/s, p99
//! 423-483 µs; 50 sockets with 1,472 bytes, 214-226k/s; TCP ping-pong with
//! 50 connections, 223-242k/s. There is no UDP peer to compare with yet.
