//! Chapter 2: a byte's trip, from `accept` to its echo.
//!
//! Follow one byte through the server, and then a client that makes it
//! work harder: one that sends 8 MiB before it reads anything. Each step
//! names the function that takes it, why it is done this way, and what
//! went wrong where it was done otherwise.
//!
//! # 1. Accept
//!
//! A client connects. The kernel completes the handshake, queues the new
//! connection on the listener, and the poll returns an event for the
//! listener's token. The loop's cold path hands it to
//! `accept_from`, which calls
//! `accept` until it says `WouldBlock`. The poll is edge-triggered: it
//! reported the queue going from empty to not empty, once. A loop that
//! accepted one client per event would leave the second of two clients
//! that arrived together in the queue, unserved, until some third client
//! raised a new edge. Two things stop the loop early (the connection
//! limit, a shortage of descriptors); they are chapter 4.
//!
//! Each new connection gets a slab slot (its key is its token) and is
//! registered for `READABLE | WRITABLE`, once, for its whole life
//! (`add_connection`). The usual
//! recipe asks for `WRITABLE` only after a short write and drops it when
//! the buffer drains, and drops `READABLE` under backpressure. With
//! edge-triggered readiness an interest that is not needed costs nothing:
//! the kernel reports a writable edge only after the send queue was full.
//! Every change of interest, on the other hand, is an `epoll_ctl` system
//! call. So interest never changes, and backpressure is simply not reading.
//!
//! Nothing else is done to the socket. It needs `TCP_NODELAY` (echoes are
//! small, and Nagle's algorithm would hold one back waiting for the
//! client's acknowledgement), but on Linux an accepted socket inherits it
//! from its listener, which [`socket::tcp_listener`](crate::socket::tcp_listener)
//! set once: a `setsockopt` per connection would buy nothing
//! ([`socket::INHERITS_NODELAY`](crate::socket::INHERITS_NODELAY); on
//! other systems it is set on each). The connection is counted, its idle
//! timer starts if there is one, and the debug log says who it is:
//!
//! ```text
//! [DEBUG echo_reactor::server::accepting] token 1 opened: peer 127.0.0.1:41762
//! ```
//!
//! A plain connection is a [`Connection`](crate::connection::Connection)
//! at once. One that must first pass a stage (a PROXY header, a banner, a
//! TLS handshake) starts there instead; chapters 3, 8 and 9.
//!
//! # 2. Readable
//!
//! The byte arrives, and the poll returns an event for the connection's
//! token. The loop's hot path hands it to
//! [`Connection::on_event`](crate::connection::Connection::on_event), with
//! the serving [`Context`](crate::serve::Context). The common case is kept
//! short: with nothing pending and no flag set, the only question is "may
//! I read?" (is the event readable, read-closed, or an error?), and the
//! answer goes straight to the read. Everything else (pending bytes, a
//! shutdown in progress, a memory shortage) is a cold function of its own,
//! [`serve_busy`](crate::connection::Connection::serve_busy).
//!
//! # 3. Read into the shared buffer
//!
//! [`read_and_echo`](crate::connection::Connection::read_and_echo) reads
//! into [`Context::scratch`](crate::serve::Context::scratch), one 64 KiB
//! buffer ([`SCRATCH_SIZE`](crate::serve::SCRATCH_SIZE)) shared by every
//! connection. A connection owns no buffer of its own: the bytes are
//! written back before the next connection is served, so one buffer is
//! enough for all of them. This is what makes an idle connection cost 16
//! bytes instead of 16 bytes and a buffer. The read is a plain `recv`
//! (the function `recv` in `src/connection/syscalls.rs`), whose answer (a count, 0, or -1)
//! the echo path tests with one comparison.
//!
//! # 4. Write straight back
//!
//! [`echo`](crate::connection::Connection::echo) sends the same bytes to
//! the same socket (`send`, with
//! `MSG_NOSIGNAL`, so a client that has gone raises an error, not a
//! `SIGPIPE` that would kill the server). Almost always the kernel takes
//! them all, and the byte's trip ends here: one `recv`, one `send`.
//!
//! ```text
//! [TRACE echo_reactor::connection] token 1: read 6 bytes, wrote them back
//! ```
//!
//! Then the read loop asks whether to read again. Edge-triggered readiness
//! says: read until `WouldBlock`, or the bytes that arrived before the
//! next edge are never reported. But a read that returned fewer bytes
//! than asked for already says the receive queue is empty, so the loop
//! returns to the poll without the extra `recv` that would only say
//! `EAGAIN`: a third of the system calls of a small echo.
//!
//! There is one exception, and it is a bug that shipped: when the same
//! event also reports that the client closed its side
//! ([`Ready::read_closed`](crate::serve::Ready::read_closed), `EPOLLRDHUP`),
//! the data and the FIN arrived together. The short read proves the data
//! is all read, but the end of stream behind it has not been read yet, and
//! no further edge will come for it. A server that skips the read here
//! holds a half-closed connection open forever. So with `read_closed`, the
//! loop reads on to the end of stream.
//!
//! # 5. A short write
//!
//! If the client does not read as fast as it sends, its socket's send
//! queue fills, and `send` takes only part of the bytes, or none
//! ([`write_fell_short`](crate::connection::Connection::write_fell_short)).
//! Blocking is not an option (the whole server would wait for one
//! client), and neither is dropping the rest.
//! [`keep_unsent`](crate::connection::Connection::keep_unsent) moves the
//! unsent tail into a [`Pending`](crate::pending::Pending) buffer, boxed:
//! the only heap memory a connection ever owns, charged to the memory
//! budget (chapter 5).
//!
//! ```text
//! [TRACE echo_reactor::connection] token 1: read 65536 bytes, wrote 61306 back
//! [TRACE echo_reactor::connection] token 1: 4230 bytes pending (send queue full)
//! ```
//!
//! # 6. Order
//!
//! While bytes are pending, newly read bytes are appended behind them
//! ([`Pending::push`](crate::pending::Pending::push)), never written ahead
//! of them. Writing a fresh read straight to the socket while older bytes
//! wait would look like an optimisation and would scramble the echo: the
//! client would get its bytes out of order the moment its send queue
//! drained between two reads.
//!
//! # 7. Backpressure
//!
//! Reading continues only while there is room: at most
//! [`Config::max_pending`](crate::config::Config::max_pending) bytes may
//! wait for one client ([`room`](crate::connection::Connection::room)).
//! When they do, the connection stops reading
//! ([`stop_reading`](crate::connection::Connection::stop_reading)): its
//! receive queue fills, TCP's window closes, and the client's own writes
//! block. A client that never reads stalls itself, not the server, and
//! holds at most `max_pending` bytes of it. Chapter 4 says more.
//!
//! ```text
//! [TRACE echo_reactor::connection::memory] token 1: 65536 bytes pending, reads paused until the client catches up
//! ```
//!
//! # 8. Writable
//!
//! When the client reads, its window opens, the server's send queue
//! drains, and the poll reports the socket writable (it was registered for
//! that from the start). [`flush`](crate::connection::Connection::flush)
//! writes the pending bytes; when they are all out it frees the buffer
//! and, if reading had paused, resumes it. Resuming reads on to
//! `WouldBlock` (or the end of stream) whatever the reads return: the
//! bytes waiting in the receive queue were reported by an edge long gone,
//! and no new one will come for them.
//!
//! # 9. End of stream
//!
//! The client closes its side: `recv` returns 0
//! ([`on_end_of_stream`](crate::connection::Connection::on_end_of_stream)).
//! Bytes still pending are flushed first (the client half-closed, it still
//! reads). Once nothing is pending,
//! [`finish`](crate::connection::Connection::finish) answers
//! `Next::Close(CloseReason::PeerClosed)`.
//!
//! There is no `shutdown` of the write side before that close, and none
//! is needed. Closing a socket sends the FIN itself, after every byte
//! still in the send queue, as long as nothing is left unread in the
//! receive queue (an unread byte would turn the close into a reset, which
//! can destroy echoes the client has not read yet). Here the end of stream
//! has been read, so nothing is unread, and a `shutdown` would be one more
//! system call per connection that buys nothing. The one place the server
//! does send its FIN with `shutdown` is a graceful shutdown, where the
//! client may still be sending
//! ([`Connection::send_fin`](crate::connection::Connection::send_fin));
//! chapter 6.
//!
//! # 10. Close
//!
//! `Reactor::close` is the only way a
//! connection ends, whatever its stage: it forgets the connection's idle
//! timer, removes it from the slab, releases the memory it held, drops the
//! socket (closing the descriptor), and counts the reason in
//! [`Stats`](crate::Stats).
//!
//! ```text
//! [DEBUG echo_reactor::server::closing] token 1 closed: client closed, every byte echoed
//! ```
//!
//! It does not deregister the socket from the poll first. On Linux,
//! closing a descriptor removes it from every epoll set it is in, as long
//! as no other descriptor refers to the same socket, and the server never
//! duplicates one: an `EPOLL_CTL_DEL` would be one more system call per
//! connection that buys nothing
//! (`forget_registration` in `src/server.rs`, which
//! does deregister on the systems whose poll needs it). The slot is free
//! for the next client; if accepting had paused for want of a slot or a
//! descriptor, it resumes now.
//!
//! Counted in system calls, a connection's whole life is then about
//! seven: chapter 12 lists them, and what the ones left out would cost.
//!
//! # Watch it
//!
//! Start the server with `RUST_LOG=trace` and run a client that sends
//! 8 MiB, starting to read only once the server has paused reading it,
//! then half-closes (excerpt; timestamps cut, `...` marks lines left
//! out). A test replays this against the binary, so every line below is
//! one the server really logs, in this order:
//!
//! ```text
//! [DEBUG echo_reactor::server::accepting] token 1 opened: peer 127.0.0.1:41762
//! [TRACE echo_reactor::server] poll: waiting, timeout None
//! [TRACE echo_reactor::server] event: token 1 readable=true writable=true read_closed=false error=false
//! [TRACE echo_reactor::connection] token 1: read 65536 bytes, wrote them back
//!   ...
//! [TRACE echo_reactor::connection] token 1: read budget spent, serving others first
//! [TRACE echo_reactor::server] poll: waiting, timeout Some(0ns)
//!   ... (the client's socket buffers fill up)
//! [TRACE echo_reactor::connection] token 1: read 65536 bytes, wrote 61306 back
//! [TRACE echo_reactor::connection] token 1: 4230 bytes pending (send queue full)
//!   ...
//! [TRACE echo_reactor::connection::memory] token 1: 65536 bytes pending, reads paused until the client catches up
//! [TRACE echo_reactor::server] poll: waiting, timeout None
//!   ... (the client starts reading)
//! [TRACE echo_reactor::server] event: token 1 readable=true writable=true read_closed=false error=false
//! [TRACE echo_reactor::connection] token 1: flushed 65536 of 65536 pending bytes
//! [TRACE echo_reactor::connection] token 1: pending bytes all sent, buffer freed
//! [TRACE echo_reactor::connection] token 1: resuming reads
//! [TRACE echo_reactor::connection] token 1: read 65536 bytes, wrote them back
//!   ...
//! [TRACE echo_reactor::connection] token 1: read 1229 bytes, wrote them back
//! [TRACE echo_reactor::connection] token 1: read end of stream
//! [DEBUG echo_reactor::server::closing] token 1 closed: client closed, every byte echoed
//! ```
//!
//! Read it against the steps: the first reads echo whole (4); after
//! 256 KiB the read budget is spent and the poll comes back at once,
//! `Some(0ns)`, to serve the connection again after the others (chapter
//! 4); the client's queues fill and a write falls short (5); pending bytes
//! reach the limit and reads pause (7); the client reads, the socket turns
//! writable, the buffer drains and is freed, and reads resume (8); the
//! last short read, the end of stream, the close (9, 10).
