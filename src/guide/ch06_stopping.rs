//! Chapter 6: stopping. Signals, handles and the graceful drain.
//!
//! # How a request to stop reaches the loop
//!
//! The loop owns all its state on one thread and spends its idle time
//! asleep in `epoll_wait`, so whatever asks it to stop must arrive as an
//! event of the poll.
//!
//! **Signals.** A signal handler can do almost nothing safely: it may run
//! between any two instructions of the loop, in the middle of a slab
//! update. So the handler does not stop the server; signal-hook-mio's
//! handler writes to a pipe registered with the poll under a fixed token,
//! and the signal becomes one more event, handled between two others
//! ([`SignalSource`](crate::signals::SignalSource),
//! [`SignalSource::requests`](crate::signals::SignalSource::requests)).
//! SIGINT and SIGTERM ask for a graceful shutdown, SIGUSR1 for the
//! counters in the log.
//!
//! **Handles.** Another thread stops the server, or reads its counters,
//! through a [`Handle`](crate::Handle): it queues a command on a channel
//! and wakes the poll with a `mio::Waker` (an eventfd under the other
//! fixed token); the loop answers between two polls
//! ([`Handle::stop`](crate::handle::Handle::stop),
//! [`Handle::stats`](crate::handle::Handle::stats)). Nothing the hot path
//! touches is shared with the other thread: the counters are plain
//! integers, copied out on request.
//!
//! # The graceful drain
//!
//! `Reactor::shut_down` runs once:
//!
//! 1. The listeners close first (and the UDP sockets, which have no
//!    connections to drain), so new clients are refused, not left waiting
//!    in a queue nobody reads. `/healthz` answers 503 from this moment, so
//!    a load balancer stops sending clients (chapter 8).
//! 2. Every connection is served once more, to echo what has already
//!    arrived.
//! 3. One with nothing in flight (no pending echoes, nothing left to read,
//!    not queued: [`Connection::is_quiet`](crate::connection::Connection::is_quiet))
//!    whose client has fallen silent then gets our FIN
//!    ([`Connection::send_fin`](crate::connection::Connection::send_fin)).
//!    A TLS connection gets its `close_notify` first (chapter 9).
//! 4. The others are served in full, and asked again every 50 ms (a
//!    *sweep*), until they too have nothing in flight and a silent
//!    client, or their client closes, or
//!    [`Config::drain_timeout`](crate::config::Config::drain_timeout)
//!    passes. A receive queue that is empty for a moment does not mean
//!    the client has finished sending: a client our closed window held
//!    back has its next bytes waiting in its own kernel, and they arrive a
//!    round trip after the read that opened the window. A FIN then would
//!    cut them off. *Silent* is what the server can know: the kernel keeps
//!    how long ago each socket's last data arrived (`TCP_INFO`), and a
//!    client that has sent nothing for 100 ms (or four of its round trips,
//!    if longer) has nothing on its way
//!    ([`drain`](crate::drain)). A client that sends just as the FIN
//!    leaves is the race every server has with an idle connection; it
//!    reads the end of the stream where the echo would have been, so it
//!    knows exactly what came back.
//! 5. At the drain deadline every connection still open is closed, and
//!    once none is left, [`Server::run`](crate::server::Server::run)
//!    returns the final [`Stats`](crate::Stats).
//!
//! After our FIN the server still reads, and drops, whatever the client
//! sends until its end of stream. That is the one reason this FIN is sent
//! with `shutdown` rather than by closing: closing a socket with unread
//! data in its receive queue makes the kernel answer with a reset, and a
//! reset can destroy echoes the client has not read yet. (When the client
//! closes first, chapter 2, the end of stream has been read, nothing is
//! unread, and the close itself sends the FIN.)
//!
//! A second request skips the wait: everything still open is closed at
//! once, counted as closed at shutdown.
//!
//! # Watch it
//!
//! One client that sent `hi` and is still connected, and SIGTERM
//! (`RUST_LOG=trace`, `--drain-timeout 1`; mio's lines left out):
//!
//! ```text
//! [TRACE echo_reactor::server] event: signals readable=true writable=false read_closed=false error=false
//! [INFO  echo_reactor::server::control] SIGTERM received: stopped accepting; draining 1 connections for up to 1s
//! [TRACE echo_reactor::connection] token 1: read would block
//! [TRACE echo_reactor::connection::stage] token 1: nothing in flight, FIN sent
//! [INFO  echo_reactor::server::control] drain timeout: closing 1 connections that still had work
//! [DEBUG echo_reactor::server::closing] token 1 closed: shutdown
//! [INFO  echo_reactor::server] shut down; connections: 0 active, 1 peak, 1 accepted, closed 0 by peer / 0 by error / 0 idle / 1 at shutdown; bytes: 2 in, 2 out; backpressure pauses: 0, peak pending: 0 B; accept pauses: 0 at limit, 0 out of fds; memory: 0 B held, 0 B peak, 0 parks
//! ```
//!
//! The client got our FIN but never closed its side, so the drain
//! deadline closed it. A client that answers the FIN with its own is
//! closed at once, and the server exits as soon as the last one has.
//! Under Docker or Kubernetes, SIGTERM is how a container is stopped: the
//! drain is what lets a rolling update finish its clients' echoes.
