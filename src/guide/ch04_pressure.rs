//! Chapter 4: pressure. Slow readers, busy writers, too many clients,
//! idle ones.
//!
//! A server that only meets polite clients needs none of this chapter. A
//! load test, a proxy under test, or the open internet sends the others:
//! clients that write and never read, clients that send gigabytes as fast
//! as loopback allows, ten thousand clients at once, clients that connect
//! and say nothing. Each has taken a real server down, through memory,
//! through one client starving the rest, through a busy loop, or through
//! descriptors held forever. Here is what this one does with each.
//!
//! # Backpressure: the client that never reads
//!
//! When [`Config::max_pending`](crate::config::Config::max_pending) bytes
//! wait for one client, its connection stops reading
//! ([`Connection::stop_reading`](crate::connection::Connection::stop_reading)).
//! The kernel's receive queue fills, TCP's window closes, and the client's
//! writes block: a client that never reads stalls itself, not the server.
//! Without the limit, the server reads on and keeps every echo the client
//! does not take, and one client that writes without reading grows the
//! server's memory until it is killed, every other client with it.
//!
//! Reads are sized so that the limit holds exactly: with bytes pending, a
//! read asks for no more than the room left
//! ([`Connection::room`](crate::connection::Connection::room)), and with
//! none, for no more than `max_pending`
//! ([`Context::read_size`](crate::serve::Context::read_size)). The
//! [`Pending`](crate::pending::Pending) buffer never grows past the limit.
//!
//! Interest is never changed to pause: the connection stays registered for
//! reading, and simply does not read. The price is that data still
//! arriving on a paused connection wakes the loop, until TCP's window
//! closes: a bounded handful of events per pause, against two
//! `epoll_ctl` calls per pause saved (chapter 2 gives the rule). When the
//! client catches up, the writable edge flushes the buffer and reading
//! resumes:
//!
//! ```text
//! [TRACE echo_reactor::connection::memory] token 1: 65536 bytes pending, reads paused until the client catches up
//! [TRACE echo_reactor::connection] token 1: flushed 65536 of 65536 pending bytes
//! [TRACE echo_reactor::connection] token 1: pending bytes all sent, buffer freed
//! [TRACE echo_reactor::connection] token 1: resuming reads
//! ```
//!
//! Every pause is counted (`backpressure_pauses` in
//! [`Stats`](crate::Stats), and in `/metrics`).
//!
//! # Fairness: the client that never stops sending
//!
//! Edge-triggered readiness asks for reading until `WouldBlock`. A client
//! on loopback can keep a socket readable for as long as it likes, so a
//! loop that obeys that rule literally serves one busy client and no one
//! else. So a connection reads at most
//! [`READ_BUDGET_PER_TURN`](crate::serve::READ_BUDGET_PER_TURN) (256 KiB)
//! per turn, and one that could read more answers
//! [`Next::ServeAgain`](crate::serve::Next::ServeAgain): the loop queues it
//! (`Reactor::queue_again`), polls
//! with a zero timeout so that every other ready socket gets its events,
//! and serves it again after them
//! (`Reactor::serve_queued`).
//! Without the queue, the bytes it left behind would never be read: the
//! edge that announced them has been consumed. redis states the same idea
//! as a named constant (`NET_MAX_WRITES_PER_EVENT`).
//!
//! ```text
//! [TRACE echo_reactor::connection] token 1: read budget spent, serving others first
//! [TRACE echo_reactor::server] poll: waiting, timeout Some(0ns)
//! ```
//!
//! A key in the queue may have closed, and even been reused by a new
//! client, by the time its turn comes: the new connection is then served
//! once for nothing (its read says `WouldBlock`), which is harmless. A
//! flag on the connection keeps it from being queued twice. UDP sockets
//! have the same kind of budget, counted in datagrams
//! ([`DATAGRAMS_PER_TURN`](crate::udp::DATAGRAMS_PER_TURN), chapter 7).
//!
//! # Too many clients
//!
//! At start-up the binary raises its soft open-files limit to the hard
//! one ([`fd_limit::raise_nofile_limit`](crate::fd_limit::raise_nofile_limit))
//! and says what it got; the default connection limit is that limit less
//! a few descriptors for the server's own use
//! ([`Config::connection_limit`](crate::config::Config::connection_limit),
//! [`fd_limit::connections_for`](crate::fd_limit::connections_for)):
//!
//! ```text
//! [INFO  echo_reactor] open-files limit is 20000
//! ```
//!
//! At the connection limit the loop stops calling `accept`: new clients
//! wait in the kernel's accept queue (`--backlog`), and are taken as soon
//! as a connection closes, because closing one reopens the gate and looks
//! at every listener at once
//! (`Reactor::resume_accepting`).
//! The other answer, accept and close at once, turns a crowd into a storm
//! of reconnects. Both moments are logged once:
//!
//! ```text
//! [WARN  echo_reactor::accept] connection limit reached (3 open): new clients wait in the accept queue until one closes
//! [INFO  echo_reactor::accept] accepting normally again (2 connections open)
//! ```
//!
//! When `accept` fails for want of descriptors or memory (`EMFILE`,
//! `ENFILE`, `ENOBUFS`, `ENOMEM`:
//! [`AcceptFailure::OutOfResources`](crate::accept::AcceptFailure::OutOfResources)),
//! the failed connection stays queued, so the listener stays readable and
//! retrying at once fails again, at 100 % CPU: a classic busy loop. Instead
//! [`Acceptor::back_off`](crate::accept::Acceptor::back_off) pauses
//! accepting for 50 ms, doubling to 1 s, and the loop retries when the
//! pause ends or as soon as a connection closes and frees a descriptor.
//! Each pause is logged once, and its end once, never one line per failed
//! retry (here with `ulimit -n 40`):
//!
//! ```text
//! [WARN  echo_reactor::accept] cannot accept: Too many open files (os error 24) (31 connections open); pausing accepts, retrying after 50ms and whenever a connection closes
//! [INFO  echo_reactor::accept] accepting normally again (30 connections open)
//! ```
//!
//! Other failures of `accept` (the client gave up while it waited, a
//! firewall said no) concern one client only:
//! [`AcceptFailure::TryNext`](crate::accept::AcceptFailure::TryNext) takes
//! the next one.
//!
//! # Idle clients
//!
//! With [`Config::idle_timeout`](crate::config::Config::idle_timeout), a
//! connection with no activity for that long is closed. Every connection
//! has the same timeout, so the one idle longest is always the one touched
//! least recently: an [`IdleList`](crate::idle::IdleList), ordered by last
//! activity, gives the next deadline (its head) and O(1) updates
//! ([`IdleList::touch`](crate::idle::IdleList::touch) moves a connection
//! to the tail). No timer per connection, no heap, no scan; libev calls
//! this its fourth way of handling timeouts. The links live in a side
//! table indexed by key, which exists only when the option is set: without
//! it, connections pay nothing, not even a field.
//!
//! The timeout counts readiness events, not bytes: a client that keeps a
//! connection busy at the TCP level keeps it open.
