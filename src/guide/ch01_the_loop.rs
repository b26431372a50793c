//! Chapter 1: the loop. One thread, one poll, one slab.
//!
//! A [`Server`](crate::Server) is bound by [`Server::bind`](crate::Server::bind),
//! which opens every listening socket ([`socket::tcp_listener`](crate::socket::tcp_listener),
//! with the backlog and `IPV6_V6ONLY` chosen), puts it in the slab and
//! registers it with the poll for `READABLE`. [`Server::run`](crate::Server::run)
//! is then the whole program: wait for readiness events, hand each to the
//! socket it is for, repeat.
//!
//! **One slab, keys are tokens.** Every socket the loop watches, listening
//! or connected or UDP, is an entry of one `Slab`, and its slab key is its
//! mio `Token`. An event leads to its socket in one array lookup and one
//! `match`; closing a socket frees its key for the next client. Only the
//! waker (behind [`Handle`](crate::Handle)) and the signal pipe
//! ([`signals`](crate::signals)) have fixed tokens, at the top of the token
//! space where slab keys never reach. An idle connection is a slab entry
//! and a socket and nothing more: [`slab_entry_size`](crate::slab_entry_size)
//! is 16 bytes in a release build.
//!
//! **A turn.** After `Poll::poll` returns:
//!
//! 1. each event is dispatched: a connection's to
//!    [`Connection::on_event`](crate::connection::Connection::on_event), a
//!    listener's to the accept loop ([`crate::accept`]), a UDP socket's to
//!    [`UdpEcho::serve`](crate::udp::UdpEcho::serve), the waker's and the
//!    signal pipe's to the control code;
//! 2. sockets that used up their read budget last turn are served again
//!    ([`Next::ServeAgain`](crate::serve::Next::ServeAgain)): edge-triggered
//!    epoll will not report bytes it has already reported;
//! 3. if any deadline exists ([`Timers`](crate::timers::Timers)), the due
//!    ones fire.
//!
//! **The contract.** A socket's handler knows nothing of the slab or the
//! poll, and the loop nothing of bytes. What they share is in
//! [`serve`](crate::serve): the loop lends a [`Context`](crate::serve::Context)
//! (the shared 64 KiB scratch buffer, the limits, the counters, the key being
//! served) and a [`Ready`](crate::serve::Ready); the handler answers with a
//! [`Next`](crate::serve::Next): wait, serve me again, or close me for a
//! [`CloseReason`](crate::serve::CloseReason). Closing is one function of the
//! loop's, so no path can leak a slot or a descriptor.
//!
//! **Time.** The poll timeout is the nearest deadline
//! ([`Timers::nearest`](crate::timers::Timers::nearest)); with none, the poll
//! blocks. An idle server makes no system calls, not even to read the clock.
