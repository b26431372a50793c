//! The contract between the loop and the sockets it serves.
//!
//! The reactor ([`crate::server`]) finds the socket an event is for and
//! hands it to that socket's handler: a TCP connection
//! ([`crate::connection`]) or a UDP socket ([`crate::udp`]). This module is
//! what the two sides share, and nothing else:
//!
//! - what the loop lends the handler: the [`Context`] (the shared scratch
//!   buffer, the limits, the counters, the key of the socket being served);
//! - what an event says the socket is ready for: [`Ready`];
//! - what the handler answers: [`Next`] (wait, serve me again, close me,
//!   and why: [`CloseReason`]).
//!
//! Keeping it apart lets each side be read without the other: a handler
//! knows nothing of the slab or the poll, and the loop nothing of bytes.

use std::io;

use crate::budget::MemoryBudget;
use crate::proxy_protocol::HeaderFailure;
use crate::stats::Stats;
use crate::tls::HandshakeFailure;

/// Size of the one read buffer all sockets share (64 KiB): larger than
/// any UDP datagram, so none is ever truncated.
pub const SCRATCH_SIZE: usize = 64 * 1024;

/// Most bytes read from one connection per turn of the loop, so one busy
/// client cannot starve the rest (redis calls the same idea
/// `NET_MAX_WRITES_PER_EVENT`). A connection that uses it up is served
/// again after the next poll ([`Next::ServeAgain`]).
pub const READ_BUDGET_PER_TURN: usize = 256 * 1024;

/// What serving a socket needs from the server. Owned by the reactor and
/// lent whole, so serving costs one pointer, not a struct to assemble.
pub struct Context {
    /// The slab key (which is the token) of the socket being served, for
    /// the log.
    pub key: usize,
    /// The buffer every read lands in, shared by all sockets. An array, not
    /// a slice: slicing it on the echo path then compares with a constant
    /// instead of loading a length.
    pub scratch: Box<[u8; SCRATCH_SIZE]>,
    /// Most unsent echo bytes one connection may hold.
    pub max_pending: usize,
    /// What one read asks for when nothing is pending: the scratch buffer,
    /// or less if `max_pending` is smaller (a short write then never leaves
    /// more than `max_pending` behind).
    pub read_size: usize,
    /// The counters, updated as bytes move.
    pub stats: Stats,
    /// The memory budget every connection's buffers are charged to.
    pub budget: MemoryBudget,
    /// Trace lines may be logged this turn. The echo path tests this bool
    /// before its `trace!` lines rather than the logger's level at each
    /// one: the level is read once per turn ([`Context::read_log_level`]),
    /// and `trace!` itself still applies every filter.
    pub tracing: bool,
}

impl Context {
    /// A context with a scratch buffer of [`SCRATCH_SIZE`], zeroed
    /// counters and a memory budget of `memory_limit` bytes.
    pub fn new(max_pending: usize, memory_limit: usize) -> Context {
        let read_size = SCRATCH_SIZE.min(max_pending);
        Context {
            key: 0,
            scratch: vec![0; SCRATCH_SIZE]
                .into_boxed_slice()
                .try_into()
                .expect("a vector of SCRATCH_SIZE bytes"),
            max_pending,
            read_size,
            stats: Stats::default(),
            budget: MemoryBudget::new(memory_limit, read_size),
            tracing: false,
        }
    }

    /// Reads the log's level into [`Context::tracing`], once per turn of
    /// the loop: the same global test `trace!` starts with, so a level
    /// changed at run time takes effect at the next turn.
    #[inline(always)]
    pub fn read_log_level(&mut self) {
        self.tracing =
            log::Level::Trace <= log::STATIC_MAX_LEVEL && log::Level::Trace <= log::max_level();
    }
}

/// What an event said a socket is ready for.
#[derive(Debug, Clone, Copy)]
pub struct Ready {
    /// Bytes (or a FIN, or an error) may be waiting to be read.
    pub readable: bool,
    /// The send queue has room again.
    pub writable: bool,
    /// The peer's FIN arrived (`EPOLLRDHUP`): read on to the end of stream,
    /// because no further edge will come for the bytes before it.
    pub read_closed: bool,
}

impl Ready {
    /// Try everything: used when the reactor serves a connection on its own
    /// initiative (at shutdown) rather than for an event. With no edge to
    /// go by, a short read proves nothing: read until `WouldBlock`.
    pub const ALL: Ready = Ready {
        readable: true,
        writable: true,
        read_closed: true,
    };

    /// Go on reading a connection whose read budget ran out last turn. Its
    /// FIN may have come with the edge that started the burst, so read until
    /// `WouldBlock` or the end of stream.
    pub const CONTINUE_READING: Ready = Ready {
        readable: true,
        writable: false,
        read_closed: true,
    };

    /// What `event` reports.
    pub fn from_event(event: &mio::event::Event) -> Ready {
        // An error or hang-up is reported to whichever operation runs next,
        // so treat it as a reason to try both. (`|`, not `||`: each test is
        // a bit test on the same word, and the compiler merges them.)
        let failed = event.is_error() | event.is_write_closed();
        Ready {
            readable: event.is_readable() | failed,
            writable: event.is_writable() | failed,
            read_closed: event.is_read_closed(),
        }
    }
}

/// What the reactor must do with a socket after serving it.
#[derive(Debug)]
pub enum Next {
    /// Nothing until the next readiness event.
    Wait,
    /// The read budget ran out with bytes possibly still queued: serve it
    /// again after the next poll, as edge-triggered epoll will not say so.
    ServeAgain,
    /// Close it.
    Close(CloseReason),
}

/// Why a connection closed; each reason has its own counter.
#[derive(Debug)]
pub enum CloseReason {
    /// The client closed its side and every echo was sent.
    PeerClosed,
    /// Reading or writing failed (reset, broken pipe, ...).
    Error(io::Error),
    /// No activity for the idle timeout.
    Idle,
    /// The server is shutting down.
    Shutdown,
    /// No acceptable PROXY protocol header came first (`--proxy-protocol`).
    ProxyHeader(HeaderFailure),
    /// The TLS handshake did not complete (`--tls-listen`).
    TlsHandshake(HandshakeFailure),
}
