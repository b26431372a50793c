//! Chapter 9: TLS. The same echo through a rustls session.
//!
//! An echo target for proxies and meshes must speak TLS itself, to test
//! TLS termination and passthrough. So a TLS listener (`--tls-listen`) is
//! one more kind of slab entry, and each connection accepted from it is a
//! [`TlsConnection`](crate::tls::TlsConnection), boxed, for its whole
//! life: the socket, a rustls `ServerConnection`, and the decrypted bytes
//! the session would not take back yet. The loop hands it events like any
//! other socket, through its cold path
//! ([`TlsConnection::serve`](crate::tls::TlsConnection::serve)). A plain
//! connection never sees any of this.
//!
//! # Driven from readiness
//!
//! Each time it is served (an event, the serve-again queue, shutdown), a
//! TLS connection does what rustls's own non-blocking examples do, until
//! something would block:
//!
//! 1. Bytes decrypted earlier go back into the session, in order, to be
//!    encrypted again.
//! 2. More records come from the socket (`read_tls`), are decrypted
//!    (`process_new_packets`), and go round to step 1.
//! 3. Once reading stops (the socket is drained, or the read budget is
//!    spent), the session's records go out to the socket (`write_tls`):
//!    the echoes of several reads leave in one `writev`. Sending after
//!    every read instead cost a 256 MiB bulk echo 360-400 ms of server
//!    CPU; this way it takes 210-250 ms.
//!
//! A short read means the socket's queue is empty, as on a plain
//! connection, so the read that would only say `WouldBlock` is skipped;
//! not when the FIN came with the edge, nor after reading stopped with
//! records left queued (their edge is long gone). A client, with
//! `RUST_LOG=trace` (rustls's own lines left out):
//!
//! ```text
//! [DEBUG echo_reactor::server::accepting] token 2 opened: peer 127.0.0.1:35996
//! [TRACE echo_reactor::server] poll: waiting, timeout Some(9.999940825s)
//! [TRACE echo_reactor::server] event: token 2 readable=true writable=true read_closed=false error=false
//! [TRACE echo_reactor::server] poll: waiting, timeout Some(9.991818042s)
//! [TRACE echo_reactor::server] event: token 2 readable=true writable=true read_closed=false error=false
//! [DEBUG echo_reactor::tls::connection] token 2: TLS handshake done: Some(TLSv1_3), Some(TLS13_AES_256_GCM_SHA384)
//! [TRACE echo_reactor::server] poll: waiting, timeout Some(9.988899844s)
//! [TRACE echo_reactor::server] event: token 2 readable=true writable=true read_closed=false error=false
//! [TRACE echo_reactor::tls::connection] token 2: decrypted 12 bytes, 12 echoed
//! [TRACE echo_reactor::server] poll: waiting, timeout Some(9.98861798s)
//! [TRACE echo_reactor::server] event: token 2 readable=true writable=true read_closed=false error=false
//! [TRACE echo_reactor::tls::connection] token 2: close_notify received
//! [TRACE echo_reactor::tls::connection] token 2: every echo and our close_notify sent
//! [DEBUG echo_reactor::server::closing] token 2 closed: client closed, every byte echoed
//! ```
//!
//! The poll's timeout is the handshake's deadline
//! (`--tls-handshake-timeout`, 10 s): one more
//! [`DeadlineQueue`](crate::timers::DeadlineQueue), whose entry outlives
//! the handshake and is dropped when it comes due (chapter 8).
//!
//! # Bounds
//!
//! The bounds of a plain connection hold. The session's outgoing buffer
//! is limited to `--max-pending` (rustls's `set_buffer_limit`): once the
//! client stops reading and the kernel's send queue is full, the session
//! takes no more plaintext. What it would not take (at most one record's
//! worth, [`ECHO_CHUNK`](crate::tls::ECHO_CHUNK)) is kept in the
//! connection's own buffer, and the connection stops reading: the
//! receive queue fills, TCP's window closes, and the client stalls, as on
//! a plain connection. It reads again on the writable edge that comes
//! when the client catches up. Decrypted bytes are always taken out of the
//! session before the next `read_tls`, so rustls's incoming buffers hold
//! at most one read's worth of records too. The read budget per turn
//! applies, and what the connection holds is charged to the memory budget
//! ([`Stage::memory`](crate::serve::Stage::memory),
//! [`SESSION_BUFFERS`](crate::tls::SESSION_BUFFERS) for the session's own
//! state); chapter 5 says what happens when the budget is spent.
//!
//! # Beginnings and ends
//!
//! Its certificate comes from PEM files or is made at start-up
//! ([`TlsIdentity`](crate::tls::TlsIdentity)), and every problem with it
//! stops the server at start-up with one line, not at the first client.
//! The `--proxy-protocol` header comes before the handshake, as balancers
//! send it, and the `--banner` is the first plaintext after it.
//!
//! A handshake that fails is closed and counted by
//! [`HandshakeFailure`](crate::tls::HandshakeFailure): plaintext to the
//! TLS port, a malformed or truncated ClientHello, a client offering only
//! TLS 1.1 or older, an alert, a client that closes mid-handshake, or the
//! deadline:
//!
//! ```text
//! [DEBUG echo_reactor::tls::connection] token 2: TLS handshake failed: received corrupt message of type InvalidContentType
//! [DEBUG echo_reactor::server::closing] token 2 closed: the first bytes are not TLS (plaintext to the TLS port?)
//! ```
//!
//! A client's `close_notify` is answered with ours once every echo is out
//! ([`TlsConnection::say_goodbye`](crate::tls::TlsConnection::say_goodbye)
//! does the same for every quiet connection at a graceful shutdown). An
//! end of stream without `close_notify` is a truncation: logged at debug
//! and counted, the echoes still flushed, and our `close_notify` sent all
//! the same.
//!
//! # Client certificates and ALPN
//!
//! A mesh or proxy that speaks mutual TLS must be tested against a server
//! that asks for a client certificate and refuses one it cannot verify.
//! With `--tls-client-ca` the server configuration carries rustls's
//! `WebPkiClientVerifier` over the CA certificates of that file
//! ([`ClientAuth`](crate::tls::ClientAuth)): rustls asks for a
//! certificate in the handshake and verifies the chain, its dates and its
//! use for client authentication; the reactor only reads the verdict. The
//! file is read at start-up, like the server's own certificate, so a bad
//! one stops the server rather than refusing every client.
//! `--tls-client-auth optional` (rustls's `allow_unauthenticated`) lets a
//! client without a certificate in; a bad certificate is refused either
//! way, since a client that presents one expects it to count.
//!
//! `--tls-alpn` sets rustls's `alpn_protocols`. rustls picks the server's
//! first protocol that the client offers too, and refuses a client that
//! offers ALPN with none in common (a `no_application_protocol` alert, as
//! RFC 7301 says), while a client that offers none asked for nothing and
//! is served. The protocol is only a name here: the bytes are echoed.
//!
//! Each refusal is a handshake failure with its own reason, so the
//! counters tell a client of the wrong CA from a client that sent none:
//!
//! ```text
//! [DEBUG echo_reactor::tls::connection] token 2: TLS handshake failed: peer sent no certificates
//! [DEBUG echo_reactor::server::closing] token 2 closed: the client presented no certificate, and one is required
//! [DEBUG echo_reactor::tls::connection] token 3: TLS handshake failed: peer doesn't support any known protocol
//! [DEBUG echo_reactor::server::closing] token 3 closed: the client offers no ALPN protocol the server offers
//! ```
//!
//! With TLS 1.3 a client sends its certificate in its last flight and
//! considers the handshake done; the server's verdict reaches it as an
//! alert at its first read, which is where `openssl s_client` or Python's
//! `ssl` report the refusal.
//!
//! # Why rustls's buffered API
//!
//! rustls's buffered `ServerConnection`, or its unbuffered API, where the
//! caller owns the record buffers? The comparison counts what one idle
//! session keeps on the heap (1,000 sessions in memory, each after a
//! handshake and one echo): 7,520 B buffered, 3,314 B unbuffered. Most of
//! the difference is the 4 KiB read buffer the buffered API keeps once it
//! has read (it shrinks it to 4 KiB when empty, not to nothing). echo-reactor
//! uses the buffered API: it is well inside the bound this server sets
//! itself (16 KiB per idle connection, and a quarter of the tokio peer's),
//! its limits give backpressure and `close_notify` as described above, and
//! rustls 0.23's unbuffered API still decrypts each record into a buffer of
//! its own (in-place decryption is still to come in rustls), so it would
//! save no copy on the echo path while handing the server the handshake
//! flights, alerts and buffer sizing. At 100,000 idle TLS connections it
//! would save about 420 MB: the reason to move to it once rustls decrypts
//! in place.
