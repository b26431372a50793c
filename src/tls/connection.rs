//! One TLS connection: its socket and its rustls session, driven from
//! readiness events the way rustls's own non-blocking examples drive one.
//!
//! Each time the reactor serves it (an event, the fairness queue,
//! shutdown), the connection does all the work it can and stops at the
//! first thing that would block:
//!
//! 1. Bytes decrypted earlier go back into the session, in order, to be
//!    encrypted again.
//! 2. More records come from the socket (`read_tls`), are decrypted
//!    (`process_new_packets`) and go round to step 1.
//! 3. Once reading stops (the socket is drained, or the read budget is
//!    spent), the session's records go out to the socket (`write_tls`):
//!    the echoes of several reads leave in one `writev`.
//!
//! **Bounds.** The session's outgoing buffer is limited to `--max-pending`
//! (`set_buffer_limit`): once the client stops reading and the kernel's
//! send queue is full, the session takes no more plaintext. What it would
//! not take (at most one record's worth, [`ECHO_CHUNK`]) is kept in
//! [`TlsConnection`]'s own buffer, and the connection stops reading: the
//! socket's receive queue fills, TCP's window closes, and the client
//! stalls, as on a plain connection. It reads again on the writable edge
//! that comes when the client catches up. Decrypted bytes are always
//! taken out of the session before the next `read_tls`, so rustls's
//! incoming buffers hold at most one read's worth of records too.
//!
//! The memory budget lowers the session's limit to what it has left, but
//! never below one record, so a client that reads still gets its echoes, a
//! record at a time. A plain connection echoes through the kernel when the
//! budget is spent; a TLS connection must decrypt, so this is how a crowd
//! of clients that never read is held within `--max-memory`.
//!
//! **Closing.** A client's `close_notify` is answered with ours once every
//! echo is in the session, and the connection closes when all of it is
//! out. An end of stream without `close_notify` is a truncation: logged at
//! debug and counted, the echoes still flushed, and our `close_notify`
//! sent all the same.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use log::{debug, trace};
use mio::net::TcpStream;
use rustls::{ServerConfig, ServerConnection};

use super::socket::Socket;
use crate::drain;
use crate::serve::{CloseReason, Context, Next, Ready, READ_BUDGET_PER_TURN};
use crate::stats::HandshakeFailure;
use crate::stats::Stats;
use crate::websocket::{Endpoint, Then, HALF};

/// Most decrypted bytes taken from the session at once, and so the most
/// a connection ever keeps in its own buffer: one TLS record's plaintext.
pub const ECHO_CHUNK: usize = 16 * 1024;

/// What rustls keeps on the heap for an open session besides the
/// `TlsConnection` itself, as charged to the memory budget: its keys and
/// state. Measured, not asked (rustls does not say): 1,000 idle TLS
/// connections raise the server's RSS by about 7.8 KB each, this struct
/// and the socket's slot included. A record being received or decrypted
/// briefly needs up to one record's buffer more, which is not charged.
pub const SESSION_BUFFERS: usize = 8 * 1024;

/// A TLS connection: its socket, its session, and the decrypted bytes the
/// session would not take back yet.
pub struct TlsConnection {
    pub(super) stream: TcpStream,
    pub(super) session: ServerConnection,
    /// Decrypted bytes waiting for room in the session (backpressure).
    unsent: Vec<u8>,
    /// While the handshake is in progress, when it must be complete; also
    /// names this connection in the timers' queue (a key can be reused).
    pub handshake_deadline: Option<Instant>,
    /// In the reactor's serve-again queue.
    pub queued: bool,
    /// Reading stopped with records possibly still queued in the socket
    /// (backpressure, or the read budget): read again on the next event,
    /// whatever it says.
    read_stopped: bool,
    /// The client's end came (`close_notify` or end of stream): nothing
    /// more is read, and the connection closes once its echoes are out.
    ending: Option<Ending>,
    /// Our `close_notify` is queued in the session.
    goodbye_sent: bool,
    /// The session's outgoing buffer limit now, set before each read.
    limit: usize,
    /// The largest limit in effect since the session last had nothing to
    /// send: what its waiting records may hold, as charged.
    waiting_limit: usize,
    /// Bytes charged to the memory budget for this connection.
    pub(super) charged: usize,
    /// `--wss-listen`: the decrypted bytes are a WebSocket connection's,
    /// answered by it rather than echoed as they are (see `websocket`).
    pub(super) websocket: Option<Box<WebSocketInside>>,
}

/// A WebSocket connection inside the TLS session, and when its upgrade
/// request must be whole: the handshake's deadline, which covers both.
pub(super) struct WebSocketInside {
    pub(super) endpoint: Endpoint,
    pub(super) deadline: Instant,
}

/// How the client ended its side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// With a `close_notify`.
    CloseNotify,
    /// With a bare end of stream: a truncation.
    Truncated,
}

/// What putting decrypted bytes back into the session came to.
enum Echoed {
    /// Everything decrypted is in the session.
    Drained,
    /// The session is full and the socket would block: stop reading.
    Blocked,
    /// Everything decrypted is in the session, and the client has ended.
    Ended,
}

impl TlsConnection {
    /// A connection just accepted (or past its PROXY header), that must
    /// complete its handshake by `deadline`; `config` is one that
    /// [`TlsIdentity::server_config`](super::TlsIdentity::server_config)
    /// made, which has been checked to make sessions.
    pub fn new(
        stream: TcpStream,
        config: Arc<ServerConfig>,
        deadline: Instant,
        max_pending: usize,
    ) -> TlsConnection {
        let mut session =
            ServerConnection::new(config).expect("the configuration was checked at start-up");
        session.set_buffer_limit(Some(max_pending));
        TlsConnection {
            stream,
            session,
            unsent: Vec::new(),
            handshake_deadline: Some(deadline),
            queued: false,
            read_stopped: false,
            ending: None,
            goodbye_sent: false,
            limit: max_pending,
            waiting_limit: 0,
            charged: 0,
            websocket: None,
        }
    }

    /// The decrypted bytes are a WebSocket connection's (`--wss-listen`),
    /// whose upgrade request must be whole by the handshake's deadline.
    pub fn speak_websocket(&mut self, max_message: usize) {
        let deadline = self.handshake_deadline.unwrap_or_else(Instant::now);
        self.websocket = Some(Box::new(WebSocketInside {
            endpoint: Endpoint::new(max_message),
            deadline,
        }));
    }

    /// Queues `greeting` (the banner) as the first plaintext the client
    /// receives, sent once the handshake is done; whatever the pending
    /// limit, like a plain connection's banner.
    pub fn greet(&mut self, greeting: &[u8], max_pending: usize) {
        self.session.set_buffer_limit(None);
        // Writing into a session's buffer cannot fail, and without a limit
        // it takes everything.
        let _ = self.session.writer().write_all(greeting);
        self.session.set_buffer_limit(Some(max_pending));
    }

    /// The handshake is still in progress.
    pub fn is_handshaking(&self) -> bool {
        self.handshake_deadline.is_some()
    }

    /// Hands the session records that arrived before it existed (what
    /// followed a PROXY header, `bytes` at the start of the scratch buffer);
    /// then serve it as usual.
    pub fn take_early_records(&mut self, bytes: usize, cx: &mut Context) -> Result<(), Next> {
        let mut records = &cx.scratch[..bytes];
        while !records.is_empty() {
            match self.session.read_tls(&mut records) {
                Ok(_) => {}
                Err(e) => return Err(Next::Close(CloseReason::Error(e))),
            }
            if let Err(e) = self.session.process_new_packets() {
                return Err(self.session_failed(&e, cx));
            }
        }
        Ok(())
    }

    /// Does all the work it can: echo, flush, read; see the module doc.
    pub fn serve(&mut self, ready: Ready, cx: &mut Context) -> Next {
        let mut next = self.serve_until_blocked(ready, cx);
        if matches!(next, Next::Wait) && self.websocket.is_some() {
            next = self.websocket_ending(cx);
        }
        self.recharge(cx);
        next
    }

    /// A WebSocket connection whose last answer is written (a refusal, the
    /// page, our close frame) gets our `close_notify` and a FIN once every
    /// answer is out; after an HTTP answer it closes then, after a close
    /// frame it waits for the client's end.
    fn websocket_ending(&mut self, cx: &mut Context) -> Next {
        let Some(inside) = &self.websocket else {
            return Next::Wait;
        };
        let then = inside.endpoint.then();
        if then == Then::Read || !self.unsent.is_empty() {
            return Next::Wait;
        }
        if let Err(e) = self.say_goodbye(cx) {
            return Next::Close(CloseReason::Error(e));
        }
        match then {
            Then::Close(refused) if self.goodbye_sent && !self.session.wants_write() => {
                Next::Close(match refused {
                    Some(why) => CloseReason::WsUpgrade(why),
                    None => CloseReason::PeerClosed,
                })
            }
            _ => Next::Wait,
        }
    }

    /// Shutdown: an open WebSocket session gets a close frame with 1001
    /// (going away) before our `close_notify`; one still sending its
    /// upgrade request is closed (`false`).
    pub fn websocket_goes_away(&mut self, cx: &mut Context) -> Result<bool, Next> {
        let Some(inside) = &mut self.websocket else {
            return Ok(true);
        };
        if inside.endpoint.is_upgrading() {
            return Ok(false);
        }
        let len = inside.endpoint.go_away(cx);
        if len > 0 {
            let taken = self.put_back(&cx.scratch[..len], &mut cx.stats)?;
            self.unsent.extend_from_slice(&cx.scratch[taken..len]);
            // Out now: no edge may come to send it later.
            self.flush()
                .map_err(|e| Next::Close(CloseReason::Error(e)))?;
        }
        Ok(true)
    }

    /// Its goodbye went out, or never will from the drain's sweeps: a
    /// WebSocket session says its own, once.
    pub fn said_goodbye(&self) -> bool {
        self.goodbye_sent || self.websocket.is_some()
    }

    /// Shutdown: whether the client has stopped sending (`drain`), so that
    /// our goodbye cuts off nothing on its way. A WebSocket session was
    /// just told it is going away, and answers with its close: it needs
    /// no wait.
    pub fn may_say_goodbye(&self, cx: &Context) -> bool {
        if self.websocket.is_some() || drain::client_is_silent(self.stream.as_raw_fd()) {
            return true;
        }
        trace!(
            "token {}: nothing in flight, but the client sent lately",
            cx.key
        );
        false
    }

    /// Shutdown: a connection with nothing in flight gets our
    /// `close_notify` and a FIN, and closes once the client answers; one
    /// still handshaking has nothing to lose and closes now (`false`).
    pub fn say_goodbye(&mut self, cx: &mut Context) -> Result<bool, io::Error> {
        if self.is_handshaking() {
            return Ok(false);
        }
        if self.goodbye_sent || !self.unsent.is_empty() || self.session.wants_write() {
            return Ok(true);
        }
        self.session.send_close_notify();
        self.goodbye_sent = true;
        trace!("token {}: close_notify sent", cx.key);
        if !self.flush()? {
            self.stream.shutdown(Shutdown::Write)?;
        }
        self.recharge(cx);
        Ok(true)
    }

    fn serve_until_blocked(&mut self, ready: Ready, cx: &mut Context) -> Next {
        let mut read = ready.readable || ready.read_closed || self.read_stopped;
        // A short read means the socket's queue is empty, so the read after
        // it would only say `WouldBlock`; the next edge says when more
        // comes. Not when the FIN came with this edge (read on to the end
        // of stream), nor after reading stopped with records left queued
        // (their edge is long gone).
        let read_to_end = ready.read_closed || self.read_stopped;
        self.read_stopped = false;
        let mut budget = READ_BUDGET_PER_TURN;
        loop {
            match self.echo_decrypted(cx) {
                Err(next) => return next,
                Ok(Echoed::Blocked) => {
                    self.read_stopped = true;
                    return Next::Wait;
                }
                Ok(Echoed::Ended) => return self.finish(cx),
                Ok(Echoed::Drained) => {}
            }
            if !read {
                return self.flush_then(Next::Wait);
            }
            if budget == 0 {
                trace!("token {}: read budget spent, serving others first", cx.key);
                self.read_stopped = true;
                return self.flush_then(Next::ServeAgain);
            }
            self.limit_to_budget(cx);
            let mut socket = Socket::new(&mut self.stream);
            match self.session.read_tls(&mut socket) {
                Ok(0) => {
                    read = false;
                    if self.is_handshaking() {
                        return Next::Close(CloseReason::TlsHandshake(HandshakeFailure::Closed));
                    }
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    read = !socket.drained || read_to_end;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.flush_then(Next::Wait)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if self.is_handshaking() => {
                    debug!("token {}: TLS handshake: {e}", cx.key);
                    return Next::Close(CloseReason::TlsHandshake(HandshakeFailure::Closed));
                }
                Err(e) => return Next::Close(CloseReason::Error(e)),
            }
            if let Err(e) = self.session.process_new_packets() {
                return self.session_failed(&e, cx);
            }
            if self.is_handshaking() && !self.session.is_handshaking() {
                self.handshake_done(cx);
            }
        }
    }

    /// Puts decrypted bytes back into the session, until it has none left
    /// or is full. Its records go out to the socket only when it is full:
    /// otherwise once reading stops, so that the records of several reads
    /// leave in one `writev` (a bulk stream's records come 16 KiB at a
    /// time, its reads 4 KiB or so).
    fn echo_decrypted(&mut self, cx: &mut Context) -> Result<Echoed, Next> {
        let mut chunk = ECHO_CHUNK.min(cx.read_size);
        // A WebSocket connection reads where its answers are not written.
        let at = match &self.websocket {
            Some(inside) => {
                chunk = chunk.min(inside.endpoint.read_limit());
                HALF
            }
            None => 0,
        };
        loop {
            if !self.unsent.is_empty() {
                let mut unsent = std::mem::take(&mut self.unsent);
                let taken = self.put_back(&unsent, &mut cx.stats)?;
                if taken < unsent.len() {
                    unsent.drain(..taken);
                    self.unsent = unsent;
                    return Ok(Echoed::Blocked);
                }
            }
            match self.session.reader().read(&mut cx.scratch[at..at + chunk]) {
                Ok(0) => {
                    self.note_ending(Ending::CloseNotify, cx);
                    return Ok(Echoed::Ended);
                }
                Ok(n) => {
                    cx.stats.bytes_in += n as u64;
                    let n = match &mut self.websocket {
                        Some(inside) => inside.endpoint.answer(n, cx),
                        None => n,
                    };
                    let taken = self.put_back(&cx.scratch[..n], &mut cx.stats)?;
                    if taken < n {
                        // The session is full and the socket would block:
                        // the client is not reading. Reading stops until
                        // it catches up.
                        self.unsent.extend_from_slice(&cx.scratch[taken..n]);
                        cx.stats.backpressure_pauses += 1;
                    }
                    trace!("token {}: decrypted {n} bytes, {taken} echoed", cx.key);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Echoed::Drained),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.note_ending(Ending::Truncated, cx);
                    return Ok(Echoed::Ended);
                }
                Err(e) => return Err(Next::Close(CloseReason::Error(e))),
            }
        }
    }

    /// Writes plaintext into the session; when it is full, sends its
    /// records to make room and writes the rest. Returns how many bytes it
    /// took: fewer than all only when the socket would block.
    fn put_back(&mut self, bytes: &[u8], stats: &mut Stats) -> Result<usize, Next> {
        // Writing into a session's buffer cannot fail; at its limit it
        // takes fewer bytes, maybe none.
        let mut taken = self.session.writer().write(bytes).unwrap_or(0);
        while taken < bytes.len() {
            let blocked = self
                .flush()
                .map_err(|e| Next::Close(CloseReason::Error(e)))?;
            let more = match blocked {
                true => 0,
                false => self.session.writer().write(&bytes[taken..]).unwrap_or(0),
            };
            if more == 0 {
                break;
            }
            taken += more;
        }
        stats.bytes_out += taken as u64;
        Ok(taken)
    }

    /// Sends what the session holds, then goes on to `next`.
    fn flush_then(&mut self, next: Next) -> Next {
        match self.flush() {
            Ok(_) => next,
            Err(e) => Next::Close(CloseReason::Error(e)),
        }
    }

    /// Writes the session's records to the socket until it has none or the
    /// socket would block; returns whether it would block.
    fn flush(&mut self) -> io::Result<bool> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.stream) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// The client's end, logged and counted once.
    fn note_ending(&mut self, ending: Ending, cx: &mut Context) {
        if self.ending.is_some() {
            return;
        }
        self.ending = Some(ending);
        match ending {
            Ending::CloseNotify => {
                cx.stats.tls_close_notify += 1;
                trace!("token {}: close_notify received", cx.key);
            }
            Ending::Truncated => {
                cx.stats.tls_truncated += 1;
                debug!(
                    "token {}: truncated: end of stream without close_notify",
                    cx.key
                );
            }
        }
    }

    /// The client has ended and every echo is in the session: send our
    /// `close_notify` behind them, and close once all is out.
    fn finish(&mut self, cx: &mut Context) -> Next {
        if !self.goodbye_sent {
            self.session.send_close_notify();
            self.goodbye_sent = true;
        }
        match self.flush() {
            Ok(true) => Next::Wait,
            Ok(false) => {
                trace!("token {}: every echo and our close_notify sent", cx.key);
                Next::Close(CloseReason::PeerClosed)
            }
            Err(e) => Next::Close(CloseReason::Error(e)),
        }
    }

    /// The handshake completed.
    fn handshake_done(&mut self, cx: &mut Context) {
        self.handshake_deadline = None;
        cx.stats.tls_handshakes += 1;
        debug!(
            "token {}: TLS handshake done: {:?}, {:?}",
            cx.key,
            self.session.protocol_version(),
            self.session.negotiated_cipher_suite().map(|s| s.suite())
        );
    }

    /// rustls refused what the client sent: send the alert it queued, if
    /// the socket takes it, and close.
    #[cold]
    fn session_failed(&mut self, error: &rustls::Error, cx: &mut Context) -> Next {
        let _ = self.flush();
        if self.is_handshaking() {
            let failure = HandshakeFailure::of(error);
            debug!("token {}: TLS handshake failed: {error}", cx.key);
            return Next::Close(CloseReason::TlsHandshake(failure));
        }
        Next::Close(CloseReason::Error(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("TLS: {error}"),
        )))
    }

    /// Sets the session's outgoing limit before a read: `--max-pending`,
    /// or less when the memory budget has less left, but at least one
    /// record's plaintext (see the module doc).
    fn limit_to_budget(&mut self, cx: &Context) {
        let limit = cx.max_pending.min(cx.budget.available()).max(ECHO_CHUNK);
        if limit != self.limit {
            self.limit = limit;
            self.session.set_buffer_limit(Some(limit));
        }
    }

    /// Brings the memory budget in step with what this connection holds:
    /// itself, rustls's buffers ([`SESSION_BUFFERS`]), its unsent bytes,
    /// and while records wait for the socket, as many as the session's
    /// limit allowed since it last had none (rustls does not say how many
    /// it holds).
    fn recharge(&mut self, cx: &mut Context) {
        self.waiting_limit = if self.session.wants_write() {
            self.waiting_limit.max(self.limit)
        } else {
            0
        };
        let waiting = self.waiting_limit;
        let now = std::mem::size_of::<TlsConnection>()
            + SESSION_BUFFERS
            + self.unsent.capacity()
            + waiting
            + self.websocket.as_ref().map_or(0, |inside| {
                std::mem::size_of::<WebSocketInside>() + inside.endpoint.memory()
            });
        if now > self.charged {
            cx.budget.charge(now - self.charged);
        } else {
            cx.budget.release(self.charged - now);
        }
        self.charged = now;
    }
}
