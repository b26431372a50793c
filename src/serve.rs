//! The contract between the loop and the sockets it serves.
//!
//! The reactor ([`crate::server`]) finds the socket an event is for and
//! hands it to that socket's handler: a plain TCP connection
//! ([`crate::connection`]), or a [`Stage`]: a connection still reading its
//! PROXY header ([`crate::proxy_protocol`]), a TLS connection
//! ([`crate::tls`]), a request to the metrics endpoint ([`crate::http`]),
//! a UDP socket ([`crate::udp`]), a whoami answer ([`crate::whoami`]), or
//! a connection that keeps a receipt, around any of those
//! ([`crate::server::recorded`]). This module is what the two sides share,
//! and nothing else:
//!
//! - what the loop lends the handler: the [`Context`] (the shared scratch
//!   buffer, the limits, the counters, the key of the socket being served);
//! - what an event says the socket is ready for: [`Ready`];
//! - what the handler answers: [`Next`] (wait, serve me again, close me,
//!   and why: [`CloseReason`]; or "my stage is over, start the next one":
//!   a [`Handoff`]);
//! - what every handler but the plain connection's hot path is to the loop:
//!   a [`Stage`], whose methods are all the loop ever asks of it (serve,
//!   queue, deadline, drain, close), so adding a kind of connection is one
//!   module that implements it and one line where the slab's entries are
//!   listed (`entries!` in `server/entry.rs`).
//!
//! Keeping it apart lets each side be read without the other: a handler
//! knows nothing of the slab or the poll, and the loop nothing of bytes.

use std::io;
use std::time::Instant;

use mio::net::TcpStream;

use crate::budget::MemoryBudget;
use crate::faults::counts::FaultRow;
use crate::receipt::Receipt;
use crate::stats::{
    FaultApplied, HandshakeFailure, HeaderFailure, RequestCut, Stats, UpgradeRefusal,
};

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
    /// Shutdown has begun (the metrics endpoint's `/healthz` says 503).
    pub draining: bool,
    /// Slots the slab has allocated, brought up to date before a stage is
    /// served for its event or a metrics request as it is accepted, so that
    /// a stage can take a snapshot of the counters (`/metrics`).
    pub slab_capacity: usize,
    /// The ports UDP echoes on: datagrams from them are not answered.
    pub udp_ports: Vec<u16>,
    /// Faults applied on each fault listener (`--fault-listen`), for
    /// `/metrics`; empty without fault listeners.
    pub(crate) fault_rows: Vec<FaultRow>,
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
            draining: false,
            slab_capacity: 0,
            udp_ports: Vec::new(),
            fault_rows: Vec::new(),
        }
    }

    /// The counters as they stand, with the figures kept outside them.
    pub fn snapshot(&self) -> Stats {
        Stats {
            slab_capacity: self.slab_capacity as u64,
            memory_in_use: self.budget.in_use() as u64,
            memory_peak: self.budget.peak() as u64,
            ..self.stats
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
    /// This stage is over (a PROXY header was read to its end): take the
    /// entry out and start the connection's next stage from the
    /// [`Handoff`] that [`Stage::hand_off`] gives.
    HandOff,
    /// Nothing until the next readiness event or the time the stage gives
    /// ([`Stage::wake_at`]), whichever comes first: a stage that holds
    /// bytes back on purpose (a fault's latency, a paced write) asks to be
    /// served again when they are due. (The time is not carried here: it
    /// would make every `Next` 24 bytes instead of 16, and the plain echo
    /// path returns one in registers.)
    Sleep,
}

// The plain echo path returns a `Next` for every event: at 16 bytes it
// comes back in two registers, at 24 through memory.
const _: () = assert!(std::mem::size_of::<Next>() == 16, "Next must stay 16 bytes");

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
    /// A request was answered (the metrics endpoint), or its client left.
    Answered,
    /// A request's connection was cut before it was answered (the metrics
    /// endpoint): timed out, or evicted for a new connection.
    Cut(RequestCut),
    /// A fault closed it on purpose (`--toxic`): which.
    Fault(FaultApplied),
    /// A WebSocket listener's connection was answered with something other
    /// than an upgrade, or closed before its request was whole.
    WsUpgrade(UpgradeRefusal),
}

/// The kind of listener a connection came through, which decides the
/// stages it passes through (`Reactor::start` in `server/starting.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Plain TCP echo (`--listen`).
    Echo,
    /// TLS echo (`--tls-listen`).
    Tls,
    /// The metrics and health endpoint (`--metrics`).
    Metrics,
    /// Answers each connection with its receipt (`--whoami-listen`).
    Whoami,
    /// The same after a TLS handshake (`--whoami-tls-listen`).
    WhoamiTls,
    /// The fault API (`--admin`).
    Admin,
    /// A listener that misbehaves on purpose (`--fault-listen`): its place
    /// in the fault table.
    Faulty(u8),
    /// WebSocket echo (`--ws-listen`).
    WebSocket,
    /// WebSocket echo over TLS (`--wss-listen`).
    WebSocketTls,
}

/// What a stage that has ended leaves to the next: the socket, the kind
/// of listener it came through, and `early` bytes at the start of the
/// scratch buffer that arrived with the end of the stage (what followed a
/// PROXY header), to be handled first.
pub struct Handoff {
    /// The connection's socket.
    pub stream: TcpStream,
    /// The listener it came through.
    pub via: ListenerKind,
    /// Bytes at the start of the scratch buffer for the next stage.
    pub early: usize,
}

/// What the loop does with a stage's socket: counts it among the clients
/// and drains it at shutdown, counts it among the endpoint's requests, or
/// closes it with the listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An echo client's connection: counted in `active`, tracked by the
    /// idle timeout, served once more and said goodbye to at shutdown.
    Client,
    /// A request to the metrics endpoint: counted apart, never drained.
    Request,
    /// A socket of the server's own (UDP echo): closed with the listeners.
    Socket,
}

/// Everything the loop asks of a slab entry other than a listener. The
/// plain connection implements it too, for the loop's cold paths (the
/// serve-again queue, closing, shutdown); its events take a path of their
/// own (`Connection::on_event`), which never goes through a `dyn` call.
///
/// Adding a stage (a kind of connection with its own state, such as a
/// fault that delays echoes, or a protocol in front of the echo) is a
/// module with a type that implements this trait, one line in `entries!`
/// (`server/entry.rs`), and one arm where a listener's connections choose
/// their stages (`Reactor::start`, `server/starting.rs`).
///
/// A method added here with a default must be delegated by
/// [`Recorded`](crate::server::recorded::Recorded) too, which wraps any
/// stage of a connection that keeps a receipt: its default would
/// otherwise hide the wrapped stage's answer.
pub trait Stage {
    /// Does the work `ready` allows, and says what the loop must do next.
    fn serve(&mut self, ready: Ready, cx: &mut Context) -> Next;

    /// What the loop does with it: see [`Role`]. Most stages are a
    /// client's connection on its way to (or through) the echo.
    fn role(&self) -> Role {
        Role::Client
    }

    /// Its socket, for the poll to forget before it is closed (where the
    /// close does not do it by itself).
    fn source(&mut self) -> &mut dyn mio::event::Source;

    /// Its flag in the serve-again queue, if it ever asks to be served
    /// again ([`Next::ServeAgain`]); the flag keeps the queue free of
    /// doubles.
    fn queued(&mut self) -> Option<&mut bool> {
        None
    }

    /// Bytes it holds, as charged to the memory budget; released when it
    /// closes.
    fn memory(&self) -> usize {
        0
    }

    /// The deadline of the stage in progress, if it has one. A deadline
    /// queue's entry for this key fires only while it still matches: the
    /// key may have moved on to another stage or another connection.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// When it asked to be served again, having answered [`Next::Sleep`].
    fn wake_at(&self) -> Option<Instant> {
        None
    }

    /// Its deadline passed: the reason it is closed for.
    fn time_out(&mut self) -> CloseReason {
        CloseReason::Idle
    }

    /// Shutdown began: serve what has arrived and start saying goodbye as
    /// its protocol does (a FIN, a `close_notify`), or ask to be closed now.
    fn drain(&mut self, cx: &mut Context) -> Next {
        let _ = cx;
        Next::Close(CloseReason::Shutdown)
    }

    /// Its drain has said goodbye, or never will. One that has not (it
    /// waits for its client to fall silent, see `drain`) is drained again
    /// at every sweep until it says it, closes, or the drain ends.
    fn said_goodbye(&self) -> bool {
        true
    }

    /// Adds what it knows of its connection to the connection's receipt
    /// (what a PROXY header said, the TLS session's names). Asked only of
    /// connections that keep a receipt, before the stage hands off or
    /// closes, and for a whoami answer.
    fn describe(&mut self, receipt: &mut Receipt) {
        let _ = receipt;
    }

    /// The stage ended with [`Next::HandOff`]: what the next stage starts
    /// from. Only stages that hand off are asked.
    fn hand_off(self: Box<Self>) -> Option<Handoff> {
        None
    }
}
