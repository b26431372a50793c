//! Chapter 2: one byte, from `accept` to its echo.
//!
//! 1. **Accept.** A client connects; the poll returns an event for the
//!    listener's token, and the loop calls `accept` until it says
//!    `WouldBlock` (edge-triggered: a client left in the queue would get no
//!    second event). Each new connection gets `TCP_NODELAY`, a slab slot and
//!    a registration for `READABLE | WRITABLE`, once, for its whole life: with
//!    edge-triggered readiness an unneeded interest costs nothing, while
//!    every change of interest is an `epoll_ctl`.
//! 2. **Readable.** The byte arrives; the event goes to
//!    [`Connection::on_event`](crate::connection::Connection::on_event). With
//!    nothing pending, the only question is "may I read?".
//! 3. **Read into the shared buffer.** `read_and_echo` reads into
//!    [`Context::scratch`](crate::serve::Context::scratch), one 64 KiB buffer
//!    ([`SCRATCH_SIZE`](crate::SCRATCH_SIZE)) shared by every connection. A
//!    connection owns no buffer of its own.
//! 4. **Write straight back.** `echo` writes the same bytes to the same
//!    socket. Almost always the kernel takes them all and the trip ends: one
//!    `read`, one `write`. A read that returned fewer bytes than asked for
//!    means the receive queue is empty, so the loop goes back to the poll
//!    without the `read` that would only say `EAGAIN`, unless the event also
//!    said the peer closed ([`Ready::read_closed`](crate::serve::Ready::read_closed)):
//!    then no further edge will come, so it reads on to the end of stream.
//! 5. **Short write.** If the client does not read fast enough, its send
//!    queue fills and `write` takes only part of the bytes. `keep_unsent`
//!    moves the rest into a [`Pending`](crate::pending::Pending) buffer, boxed:
//!    the only heap memory a connection ever owns.
//! 6. **Order.** While bytes are pending, newly read ones are appended
//!    behind them ([`Pending::push`](crate::pending::Pending::push)), never
//!    written ahead.
//! 7. **Writable.** When the client reads, the send queue drains and the
//!    poll reports the socket writable. `flush` writes the pending bytes; once
//!    they are all out it frees the buffer and, if reading had paused,
//!    resumes it.
//! 8. **End of stream.** `read` returns 0: pending bytes flush first, then
//!    the connection asks to be closed with
//!    [`CloseReason::PeerClosed`](crate::serve::CloseReason::PeerClosed).
//!    When nothing is pending, the FIN is sent with a `shutdown` of the
//!    write side.
//! 9. **Close.** The loop's one close function deregisters the socket,
//!    removes it from the slab, drops it (closing the descriptor) and counts
//!    the reason in [`Stats`](crate::Stats). The slot is reused by the next
//!    client.
