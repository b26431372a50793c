//! Chapter 10: TLS. The same echo through a rustls session.
//!
//! A TLS listener (`--tls-listen`) is one more kind of slab entry, and so
//! is each of its connections: a [`TlsConnection`](crate::tls::TlsConnection),
//! boxed, holding the socket and a rustls `ServerConnection`. The loop
//! hands it events like any other socket
//! ([`TlsConnection::serve`](crate::tls::TlsConnection::serve)), and it does
//! what rustls's own non-blocking examples do: records in from the socket
//! (`read_tls`), decrypted (`process_new_packets`), the plaintext written
//! back into the session, records out to the socket (`write_tls`), until
//! something would block. The bounds are a plain connection's: the
//! session's outgoing buffer is capped at `--max-pending`, the read budget
//! per turn applies, and what the connection holds is charged to the
//! memory budget ([`TlsConnection::memory`](crate::tls::TlsConnection::memory)).
//!
//! Its certificate comes from PEM files or is made at start-up
//! ([`TlsIdentity`](crate::tls::TlsIdentity)). A handshake has a deadline,
//! one more [`DeadlineQueue`](crate::timers::DeadlineQueue); one that fails
//! is closed and counted by [`HandshakeFailure`](crate::tls::HandshakeFailure).
//! A client's `close_notify` is answered with ours once every echo is out
//! ([`TlsConnection::say_goodbye`](crate::tls::TlsConnection::say_goodbye)).
//! A plain connection never sees any of this.
