//! Chapter 3: a connection's life. Every state it can be in, and what
//! moves it from one to the next.
//!
//! Chapter 2 followed the bytes; this chapter follows the connection.
//! Most connections only ever know two states, echoing and closed. The
//! others exist for clients that are slow, hostile, or behind a load
//! balancer, and for a server that is stopping, and each is paid for only
//! by the connections in it.
//!
#![doc = include_str!("pictures/connection_states.svg")]
//!
//! # Where each state lives
//!
//! A state is not a field that says which state it is; it is the shape of
//! what the slab holds, so that a connection cannot claim a state it has
//! no data for:
//!
//! - **A stage** is a slab entry of its own kind, boxed: a connection
//!   reading its PROXY header is a
//!   [`HeaderStage`](crate::proxy_protocol::HeaderStage) (chapter 8), one
//!   from a TLS listener is a [`TlsConnection`](crate::tls::TlsConnection)
//!   for its whole life (chapter 9). When the header is complete, the
//!   entry is replaced, under the same key, by the connection's next
//!   stage.
//! - **Echoing** is a [`Connection`](crate::connection::Connection) with
//!   no pending buffer and no flag: the 16-byte state an idle connection
//!   stays in.
//! - **Pending bytes** is the same connection with its
//!   `Option<Box<Pending>>` filled: the buffer exists exactly while bytes
//!   wait, and only then does the connection own heap memory.
//! - **Paused** and **half-closed** are decisions about those pending
//!   bytes, so they live with them:
//!   [`Pending::paused`](crate::pending::Pending::paused) (stop reading
//!   until they are out) and
//!   [`Pending::peer_closed`](crate::pending::Pending::peer_closed) (the
//!   end of stream was read: close once they are out). Neither can be set
//!   on a connection with nothing pending, because there is nowhere to set
//!   it.
//! - **Parked for memory** is
//!   [`Connection::parked`](crate::connection::Connection::parked) plus the
//!   connection's key in the memory budget's queue (chapter 5).
//! - **Our FIN sent** is a flag, `FIN_SENT`, set by
//!   [`Connection::send_fin`](crate::connection::Connection::send_fin) at
//!   a graceful shutdown (chapter 6).
//!
//! # What moves it
//!
//! **Accepted.** The accept loop gives the socket a slot, registers it
//! once for both directions and counts it (chapter 2). Where it goes next
//! depends only on the server's configuration: with `--proxy-protocol` to
//! the header stage; from a TLS listener to the handshake; otherwise
//! straight to echoing, with the `--banner` sent first if there is one
//! (`Reactor::start`, in `server/starting.rs`).
//!
//! **Stages to echoing.** A complete PROXY header makes the connection a
//! plain one (or starts its TLS handshake, on a TLS port), and whatever
//! followed the header in the same read is echoed at once, behind the
//! banner
//! ([`Connection::send_initial`](crate::connection::Connection::send_initial)).
//! A bad header, a failed handshake, or a stage's deadline
//! (`--proxy-header-timeout`, `--tls-handshake-timeout`) closes it,
//! counted by reason. A completed handshake leaves the connection a
//! [`TlsConnection`](crate::tls::TlsConnection), which echoes through its
//! session with the same bounds and the same kinds of state as a plain
//! connection.
//!
//! **Echoing to pending bytes.** A short write: the client does not read
//! as fast as it sends, and the kernel's send queue is full. Back to
//! echoing when a writable edge lets
//! [`flush`](crate::connection::Connection::flush) send them all, which
//! frees the buffer.
//!
//! **Pending to paused.** The pending bytes reach `--max-pending`
//! (backpressure, chapter 4). Reading stops; the writable edge that comes
//! when the client catches up flushes the bytes and reads again.
//!
//! **Pending to parked.** The pending bytes would need more memory than
//! the budget has left (`--max-memory`, chapter 5). Reading stops as under
//! backpressure; the loop resumes parked connections, oldest first, once
//! memory is free. A connection with *nothing* pending is never parked:
//! when memory is short it echoes through the kernel instead
//! ([`Connection::echo_through_kernel`](crate::connection::Connection::echo_through_kernel)),
//! and if even the kernel's send queue is full it waits, with a flag
//! (`WRITE_BLOCKED`), for the writable edge that says the client read.
//!
//! **To half-closed.** The client's end of stream is read while bytes are
//! pending. Nothing more will come, so nothing is read; the pending bytes
//! go out as the client reads them, and then the connection closes. With
//! nothing pending, the end of stream closes the connection at once:
//!
//! ```text
//! [TRACE echo_reactor::connection] token 1: read end of stream
//! [DEBUG echo_reactor::server::closing] token 1 closed: client closed, every byte echoed
//! ```
//!
//! **To our FIN sent.** A graceful shutdown began, and this connection had
//! nothing in flight: it gets our FIN, and reads (and drops) whatever the
//! client still sends until its end of stream, so that the final close
//! does not reset the connection (chapter 6).
//!
//! **To closed.** Besides the paths above, from any state: a reset or
//! another error (closed at once, logged at debug, never a panic), the
//! idle timeout, or the end of the drain. Every one of them goes through
//! `Reactor::close`, and every one is
//! counted by its [`CloseReason`](crate::serve::CloseReason):
//!
//! ```text
//! [DEBUG echo_reactor::server::closing] token 1 closed: Connection reset by peer (os error 104)
//! [DEBUG echo_reactor::server::closing] token 1 closed: idle timeout
//! [DEBUG echo_reactor::server::closing] token 1 closed: shutdown
//! ```
//!
//! # Why so many states are cheap
//!
//! The plain path tests for all of them at once: with no pending buffer
//! and no flag, [`Connection::on_event`](crate::connection::Connection::on_event)
//! goes straight to the read (two tests on one word, merged by the
//! compiler), and everything else is behind one cold call. A state that
//! is rare costs the common case nothing; that is the rule every new state
//! must keep (chapter 13).
