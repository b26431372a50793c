//! Chapter 1: the loop. One thread, one poll, one slab.
//!
//! Everything the server does happens on one thread, in one loop:
//! [`Server::run`](crate::server::Server::run). It waits for readiness
//! events with `Poll::poll` (on Linux, `epoll_wait`), hands each event to
//! the socket it is for, does the little bookkeeping a turn needs, and
//! waits again. There are no locks, no atomics on the path of a byte, and
//! no thread per client: a client is a socket the loop watches, and a
//! handful of bytes of state.
//!
//! The loop's own functions are methods of `Reactor`, the private state
//! [`Server::run`](crate::server::Server::run) drives, in `src/server.rs`
//! and its submodules (`setup`, `accepting`, `starting`, `closing`,
//! `control`, with `entry` and `features` for what the reactor holds). They
//! are private to the server module, and rustdoc resolves a link as the
//! compiler resolves a path, so the guide cannot link to them: it names
//! them in code font, as `Reactor::close`. Every other name links to its
//! item.
//!
//! # Binding
//!
//! [`Server::bind`](crate::server::Server::bind) does everything that can
//! fail at start-up, so that `run` starts with a server that is ready. For
//! each address it opens a listening socket
//! ([`socket::tcp_listener`](crate::socket::tcp_listener): the backlog,
//! `SO_REUSEADDR`, `IPV6_V6ONLY`, and `TCP_NODELAY`, which accepted sockets
//! inherit on Linux), puts it in the slab and registers it with the poll
//! for `READABLE`. The log says where it listens, and with port 0 which
//! port it got:
//!
//! ```text
//! [INFO  echo_reactor::server::accepting] listening on 127.0.0.1:44967
//! [INFO  echo_reactor::server] serving: up to 19968 connections, 65536 pending bytes each, idle timeout off
//! ```
//!
//! # One slab, keys are tokens
//!
//! Every socket the loop watches (a listener, a connection, a UDP socket,
//! a connection still reading its PROXY header or doing its TLS
//! handshake, a request to the metrics endpoint) is an entry of one
//! `Slab`, and its slab key is its mio `Token`. The slab's element is an
//! enum with one variant per kind of socket. So an event leads to its
//! socket in one array lookup, and closing a socket frees its key for the
//! next client. Only two sources are not sockets of the slab: the waker
//! behind a [`Handle`](crate::Handle) and the signal pipe
//! ([`crate::signals`]). They have fixed tokens at the very top of the
//! token space (`usize::MAX` and `usize::MAX - 1`), where slab keys never
//! reach, so the two can never collide with a connection.
//!
//! The element's size is what an idle connection costs in user space, so
//! it is kept small on purpose:
//! [`slab_entry_size`](crate::slab_entry_size) is 16 bytes in a release
//! build (a 4-byte socket, three bytes of flags, an
//! `Option<Box<_>>` for pending bytes), and a test holds it there. Every
//! kind of socket that needs more than that (a TLS session, a PROXY header
//! in progress, an HTTP request) is boxed, so it costs the slab one
//! pointer and the plain connection nothing.
//!
//! # Dispatch by role
//!
//! Nearly every event is for a connection, so dispatch is written for
//! that: look the key up, and if it is a plain connection, serve it at
//! once, on the hot path, inlined into the loop. Everything else goes
//! through one cold path, kept out of line so that it does not crowd the
//! hot one: the waker and the signals by their fixed tokens, a listener to
//! its accept loop (by the kind of listener it is), and every other entry
//! (a UDP socket, a connection in a stage, a request to the metrics
//! endpoint) through one call of the [`Stage`](crate::serve::Stage) trait,
//! which chapter 13 describes. A key that finds no
//! entry at all is a socket closed earlier in the same batch of events:
//! the event is dropped, which is why spurious events are harmless.
//!
//! # The contract between the loop and a socket
//!
//! A socket's handler knows nothing of the slab or the poll, and the loop
//! nothing of bytes. What they share is [`crate::serve`]: the loop lends a
//! [`Context`](crate::serve::Context) (the shared 64 KiB scratch buffer,
//! the limits, the counters, the memory budget, the key being served) and
//! says what the event reported in a [`Ready`](crate::serve::Ready) (or
//! passes the event itself, on the connection's hot path); the handler
//! answers with a [`Next`](crate::serve::Next): wait for the next event,
//! serve me again after the next poll, or close me, for a
//! [`CloseReason`](crate::serve::CloseReason). Closing is one function of
//! the loop's, `close`, so no path can
//! leak a slot or a descriptor, and every close is counted by its reason.
//!
//! # A turn
//!
#![doc = include_str!("pictures/loop_turn.svg")]
//!
//! 1. **Poll.** The timeout is zero when a socket is queued to be served
//!    again (there is work to do now), else the nearest deadline
//!    ([`Timers::nearest`](crate::timers::Timers::nearest)), else none:
//!    the poll blocks until an event comes
//!    (`poll_timeout`).
//! 2. **Dispatch** each event, as above. A connection's handler is
//!    [`Connection::on_event`](crate::connection::Connection::on_event);
//!    what it does is chapter 2.
//! 3. **Serve the queued.** A connection that read its whole budget
//!    ([`READ_BUDGET_PER_TURN`](crate::serve::READ_BUDGET_PER_TURN)) this
//!    turn answered [`Next::ServeAgain`](crate::serve::Next::ServeAgain):
//!    it still has bytes, and the edge-triggered poll will not report
//!    bytes it has already reported. It is served again here, after every
//!    other ready socket had its turn
//!    (`serve_queued`); chapter 4.
//! 4. **Resume the parked.** Connections that stopped reading because the
//!    memory budget was spent are resumed, oldest first, while memory is
//!    free (`resume_parked`).
//!    Freed memory raises no event, so the loop looks, but only when some
//!    are parked; chapter 5.
//! 5. **Run the timers**, but only when a deadline exists
//!    ([`Timers::armed`](crate::timers::Timers::armed)): idle timeouts, the
//!    PROXY header and TLS handshake deadlines, metrics requests, the end
//!    of an accept pause, the stats line, the drain. Once a drain has
//!    closed every connection, the loop ends and `run` returns the final
//!    [`Stats`](crate::Stats).
//!
//! Each step after the dispatch costs one test when it has nothing to do.
//! The clock is read only when a timer needs it (once per turn, after the
//! poll), and the log's level once per turn, so that the echo path tests a
//! bool before its `trace!` lines
//! ([`Context::read_log_level`](crate::serve::Context::read_log_level)).
//!
//! With `RUST_LOG=trace` every turn begins with the poll's timeout and
//! every event shows what it reported (mio's own trace lines, which say
//! when a socket is registered, are left out here). A client that
//! connects, sends `hello`, and closes its side, on an idle server:
//!
//! ```text
//! [TRACE echo_reactor::server] poll: waiting, timeout None
//! [TRACE echo_reactor::server] event: token 0 readable=true writable=false read_closed=false error=false
//! [DEBUG echo_reactor::server::accepting] token 1 opened: peer 127.0.0.1:42562
//! [TRACE echo_reactor::server] poll: waiting, timeout None
//! [TRACE echo_reactor::server] event: token 1 readable=false writable=true read_closed=false error=false
//! [TRACE echo_reactor::server] poll: waiting, timeout None
//! [TRACE echo_reactor::server] event: token 1 readable=true writable=true read_closed=false error=false
//! [TRACE echo_reactor::connection] token 1: read 6 bytes, wrote them back
//! [TRACE echo_reactor::server] poll: waiting, timeout None
//! [TRACE echo_reactor::server] event: token 1 readable=true writable=true read_closed=true error=false
//! [TRACE echo_reactor::connection] token 1: read end of stream
//! [DEBUG echo_reactor::server::closing] token 1 closed: client closed, every byte echoed
//! [TRACE echo_reactor::server] poll: waiting, timeout None
//! ```
//!
//! Token 0 is the listener, token 1 the connection. The first event of a
//! new connection says only `writable`: its send queue has room, which is
//! an edge too, and the hot path answers it with nothing (no read is
//! tried, nothing is pending). `timeout None`: no deadline exists, so the
//! poll blocks, and between two events the server makes no system call
//! at all. With `--idle-timeout 1` the same poll waits for the nearest
//! idle deadline instead, `timeout Some(999.407526ms)`.
//!
//! A signal arriving while the poll sleeps interrupts `epoll_wait`; the
//! loop polls again (`Interrupted` is retried, never an error) and finds
//! the signal pipe's event:
//!
//! ```text
//! [TRACE echo_reactor::server] poll: waiting, timeout None
//! [TRACE echo_reactor::server] poll: waiting, timeout None
//! [TRACE echo_reactor::server] event: signals readable=true writable=false read_closed=false error=false
//! [INFO  echo_reactor::server::control] SIGTERM received: stopped accepting; draining 0 connections for up to 5s
//! ```
//!
//! # Time
//!
//! The poll timeout is the nearest deadline; with none, the poll blocks.
//! The alternative every first event loop ships, a tick (wake every 10 ms,
//! look for expired timers), costs an idle server a hundred wake-ups a
//! second, each a system call and a cache refill, for nothing. Here an
//! idle server uses no CPU: with 19,000 idle connections and no
//! `--idle-timeout`, it made no system call in 10 s (chapter 12). Every
//! kind of deadline is kept where finding the nearest is O(1)
//! ([`crate::timers`], [`crate::idle`]).
//!
//! # The rules of the loop, and where each lives
//!
//! Each rule below is a bug someone has shipped in an event loop. The
//! chapters tell the why; this table says where each rule is kept, and a
//! test checks that every name in its second column still names something
//! in `src/`.
//!
//! | rule | where |
//! |---|---|
//! | read or write until `WouldBlock` or a short read (edge-triggered); read on to EOF when the FIN came with the edge | [`Connection::read_and_echo`](crate::connection::Connection::read_and_echo), [`Connection::flush`](crate::connection::Connection::flush) |
//! | `Interrupted` is retried; spurious events are harmless (a key closed earlier in the batch finds no entry) | every I/O loop in `connection.rs` and `udp.rs`; the loop's dispatch |
//! | order: new bytes queue behind pending ones | [`Connection::echo`](crate::connection::Connection::echo), [`Pending::push`](crate::pending::Pending::push) |
//! | short write keeps the tail, boxed, freed when drained | [`Connection::keep_unsent`](crate::connection::Connection::keep_unsent), [`Connection::flush`](crate::connection::Connection::flush), `src/pending.rs` |
//! | backpressure at `--max-pending` | [`Connection::room`](crate::connection::Connection::room), [`Connection::stop_reading`](crate::connection::Connection::stop_reading) |
//! | one memory budget for all clients (`--max-memory`): growth refused and parked, resumed oldest first; echo through the kernel when it is spent | [`MemoryBudget::charge`](crate::budget::MemoryBudget::charge), [`Connection::stop_reading`](crate::connection::Connection::stop_reading), `Reactor::resume_parked`, [`Connection::echo_through_kernel`](crate::connection::Connection::echo_through_kernel) |
//! | fairness: at most 256 KiB read per connection per turn, then served again after the next poll (zero timeout) | [`READ_BUDGET_PER_TURN`](crate::serve::READ_BUDGET_PER_TURN), [`Next::ServeAgain`](crate::serve::Next::ServeAgain), `Reactor::serve_queued` |
//! | EOF: flush, then close, whose FIN goes out behind the echoes; errors close at once | [`Connection::on_end_of_stream`](crate::connection::Connection::on_end_of_stream), [`Connection::finish`](crate::connection::Connection::finish), `Reactor::close` |
//! | one close path; on Linux closing the descriptor is all epoll needs | `Reactor::close`, `forget_registration` |
//! | every entry but the plain connection and the listeners is reached through one trait; stages are listed once, and chosen in one place | [`Stage`](crate::serve::Stage), `Entry::stage`, `Reactor::start`, `Reactor::hand_off` |
//! | the metrics endpoint's slots go to probes, not to idle or slow clients | [`Admission::admit`](crate::http::admission::Admission::admit), `Reactor::evict_request` |
//! | accept until `WouldBlock`; pause at the limit; back off on `EMFILE` | `Reactor::accept_from`, [`AcceptFailure::of`](crate::accept::AcceptFailure::of), [`Acceptor::back_off`](crate::accept::Acceptor::back_off) |
//! | raise `RLIMIT_NOFILE`, derive the connection limit | [`fd_limit::raise_nofile_limit`](crate::fd_limit::raise_nofile_limit), [`Config::connection_limit`](crate::config::Config::connection_limit) |
//! | graceful shutdown: SIGINT/SIGTERM or `Handle::stop` | `Reactor::shut_down`, [`SignalSource::requests`](crate::signals::SignalSource::requests), [`Handle::stop`](crate::handle::Handle::stop) |
//! | poll timeout = nearest deadline; none = block | `Reactor::poll_timeout`, [`Timers::nearest`](crate::timers::Timers::nearest) |
//! | idle timeout in O(1) per event | [`IdleList::touch`](crate::idle::IdleList::touch) |
//! | UDP: echo until `WouldBlock`, at most 64 datagrams per turn, no queue, reflection guard | [`UdpEcho::echo_datagrams`](crate::udp::UdpEcho::echo_datagrams), [`DATAGRAMS_PER_TURN`](crate::udp::DATAGRAMS_PER_TURN), [`guarded`](crate::udp::guarded) |
