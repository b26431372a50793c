//! Chapter 5: UDP echo in the same loop.
//!
//! With [`Config::udp`](crate::Config::udp), each listening address also
//! gets a UDP socket on the same port ([`socket::tcp_and_udp`](crate::socket::tcp_and_udp)),
//! one more slab entry: [`UdpEcho`](crate::udp::UdpEcho). It reads a datagram
//! into the shared scratch buffer and sends the same bytes back with
//! `send_to`, until `WouldBlock` or its budget for the turn. The buffer is
//! larger than any datagram ([`MAX_DATAGRAM`](crate::udp::MAX_DATAGRAM)), so
//! nothing is truncated, and nothing is queued: a datagram the send buffer
//! cannot take is dropped and counted, as UDP itself would.
//!
//! A UDP source address is whatever the sender wrote, so an echo service
//! answers whoever an attacker names. [`guarded`](crate::udp::guarded)
//! refuses datagrams from port 0, from every port below 1024, from a few
//! known reflectors above it and from the server's own ports, so that one
//! forged datagram cannot make two echo services answer each other forever.
//! The [`udp`](crate::udp) module gives the reasons for each.
