//! A WebSocket connection on a plain TCP listener (`--ws-listen`), as a
//! stage of the reactor: its socket, driving an [`Endpoint`].
//!
//! Each time the reactor serves it, it flushes what it holds, then reads
//! into the upper half of the shared scratch buffer; the endpoint writes
//! its answers (the handshake's, then the echo frames) into the lower
//! half, which is sent at once. Only what the socket does not take is
//! kept, in a [`Pending`] buffer, freed once out, exactly as a plain
//! connection keeps its echo. Reading stops while that buffer is at
//! `--max-pending` (or at what the memory budget has left, but never
//! below one small read, so a client that reads is still served): a client
//! that does not read stalls itself. An open session that is idle holds no
//! buffer: its `Box` and the frame state in it.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Instant;

use log::trace;
use mio::net::TcpStream;

use super::endpoint::{Endpoint, Then, HALF};
use super::handshake::{self, Answer};
use crate::pending::Pending;
use crate::serve::{CloseReason, Context, Next, Ready, READ_BUDGET_PER_TURN};
use crate::stats::UpgradeRefusal;

/// The smallest read a connection is allowed when the memory budget is
/// short and it holds nothing: one small read's answers are all it may
/// then leave pending.
const MIN_READ: usize = 4 * 1024;

/// A WebSocket connection.
pub struct WsConnection {
    stream: TcpStream,
    endpoint: Endpoint,
    /// When its upgrade request must be whole; also names it in the
    /// timers' queue (a key can be reused).
    upgrade_deadline: Instant,
    /// Answer bytes the socket has not taken yet, in order.
    pending: Option<Box<Pending>>,
    /// In the reactor's serve-again queue.
    pub queued: bool,
    /// Reading stopped with bytes possibly still queued (backpressure, the
    /// read budget): read again when served, whatever the event says.
    read_stopped: bool,
    /// The client's end of stream was read: close once all is out.
    peer_ended: bool,
    /// Our FIN is sent (after our close frame): what the client still
    /// sends is read and dropped until its end of stream.
    fin_sent: bool,
    /// Bytes charged to the memory budget for this connection.
    charged: usize,
}

impl WsConnection {
    /// A connection just accepted (or past its PROXY header), whose
    /// upgrade request must be whole by `deadline`.
    pub fn new(stream: TcpStream, deadline: Instant, max_message: usize) -> WsConnection {
        WsConnection {
            stream,
            endpoint: Endpoint::new(max_message),
            upgrade_deadline: deadline,
            pending: None,
            queued: false,
            read_stopped: false,
            peer_ended: false,
            fin_sent: false,
            charged: 0,
        }
    }

    /// The upgrade request's deadline, while it is arriving.
    pub fn deadline(&self) -> Option<Instant> {
        self.endpoint
            .is_upgrading()
            .then_some(self.upgrade_deadline)
    }

    /// The socket.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Bytes charged to the memory budget.
    pub fn memory(&self) -> usize {
        self.charged
    }

    /// Handles `early` bytes at the start of the scratch buffer (what
    /// followed a PROXY header) as if just read.
    pub fn take_early(&mut self, early: usize, cx: &mut Context) -> Next {
        // Copied out first: the answers are written where they lie. (Rare:
        // only a client that sends its request with its PROXY header.)
        let early = cx.scratch[..early].to_vec();
        cx.stats.bytes_in += early.len() as u64;
        for piece in early.chunks(self.endpoint.read_limit()) {
            cx.scratch[HALF..HALF + piece.len()].copy_from_slice(piece);
            let len = self.endpoint.answer(piece.len(), cx);
            if let Err(next) = self.send(len, cx) {
                self.recharge(cx);
                return next;
            }
        }
        // Bytes past the header's size limit, or a FIN that came with it,
        // raised no edge of their own: read on.
        self.serve(Ready::CONTINUE_READING, cx)
    }

    /// Does all the work it can: flush, read, answer.
    pub fn serve(&mut self, ready: Ready, cx: &mut Context) -> Next {
        let next = self.serve_until_blocked(ready, cx);
        self.recharge(cx);
        next
    }

    /// Shutdown: a connection still sending its request is closed; an open
    /// session gets a close frame with 1001 (going away), and ends as a
    /// closing handshake does.
    pub fn drain(&mut self, cx: &mut Context) -> Next {
        let next = self.serve(Ready::ALL, cx);
        if let Next::Close(_) = next {
            return next;
        }
        if self.endpoint.is_upgrading() {
            return Next::Close(CloseReason::Shutdown);
        }
        let len = self.endpoint.go_away(cx);
        if len > 0 {
            trace!("token {}: close frame 1001 sent", cx.key);
        }
        let next = match self.send(len, cx).and_then(|()| self.flush(cx)) {
            Ok(true) => Next::Wait,
            Ok(false) => self.all_sent(cx).unwrap_or(Next::Wait),
            Err(next) => next,
        };
        self.recharge(cx);
        next
    }

    /// The upgrade request's time is up: say so, if the socket takes it.
    pub fn time_out(&mut self) -> CloseReason {
        if let Answer::Refused(_, bytes) = handshake::refuse(UpgradeRefusal::Timeout) {
            let _ = self.stream.write(&bytes);
        }
        CloseReason::WsUpgrade(UpgradeRefusal::Timeout)
    }

    fn serve_until_blocked(&mut self, ready: Ready, cx: &mut Context) -> Next {
        // With answers still pending, reading goes on up to the limit, as
        // a plain connection's does; what it answers queues behind them.
        match self.flush(cx) {
            Ok(true) => {}
            Ok(false) => {
                if let Some(next) = self.all_sent(cx) {
                    return next;
                }
            }
            Err(next) => return next,
        }
        if !(ready.readable || ready.read_closed || self.read_stopped) {
            return Next::Wait;
        }
        // A short read means the socket's queue is empty; not when the FIN
        // came with this edge, nor after reading stopped with bytes left
        // queued (their edge is long gone).
        let read_to_end = ready.read_closed || self.read_stopped;
        self.read_stopped = false;
        let mut budget = READ_BUDGET_PER_TURN;
        loop {
            let want = self.read_size(cx);
            if want == 0 {
                trace!(
                    "token {}: answers pending at the limit, reading stops",
                    cx.key
                );
                cx.stats.backpressure_pauses += 1;
                self.read_stopped = true;
                return Next::Wait;
            }
            let n = match self.stream.read(&mut cx.scratch[HALF..HALF + want]) {
                Ok(0) => return self.end_of_stream(cx),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Next::Close(CloseReason::Error(e)),
            };
            cx.stats.bytes_in += n as u64;
            let len = self.endpoint.answer(n, cx);
            if let Err(next) = self.send(len, cx) {
                return next;
            }
            // The next read is sized by what the budget has left, so what
            // this one left pending is charged first: one turn may read
            // many times.
            self.recharge(cx);
            if self.pending.is_none() {
                if let Some(next) = self.all_sent(cx) {
                    return next;
                }
            }
            if n < want && !read_to_end {
                return Next::Wait;
            }
            budget = budget.saturating_sub(n);
            if budget == 0 {
                trace!("token {}: read budget spent, serving others first", cx.key);
                self.read_stopped = true;
                return Next::ServeAgain;
            }
        }
    }

    /// How much the next read may take: its answers must fit what may be
    /// left pending.
    fn read_size(&self, cx: &Context) -> usize {
        let limit = cx
            .max_pending
            .min(cx.budget.available().max(MIN_READ))
            .min(self.endpoint.read_limit());
        let held = self.pending.as_ref().map_or(0, |p| p.unsent().len());
        limit.saturating_sub(held)
    }

    /// Sends the `len` answer bytes at the start of the scratch buffer, or
    /// queues them behind bytes already waiting.
    fn send(&mut self, len: usize, cx: &mut Context) -> Result<(), Next> {
        if len == 0 {
            return Ok(());
        }
        let bytes = &cx.scratch[..len];
        if let Some(pending) = &mut self.pending {
            // Order is sacred: never write ahead of bytes already waiting.
            // The buffer grows no further than the budget allows (and no
            // less than these bytes need).
            let limit = cx
                .max_pending
                .min(pending.footprint() + cx.budget.available());
            pending.push(bytes, limit);
            note_pending(pending, cx);
            return Ok(());
        }
        let mut written = 0;
        while written < len {
            match self.stream.write(&bytes[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Next::Close(CloseReason::Error(e))),
            }
        }
        cx.stats.bytes_out += written as u64;
        if written < len {
            let pending = Box::new(Pending::holding(&bytes[written..], cx.max_pending));
            note_pending(&pending, cx);
            self.pending = Some(pending);
        }
        Ok(())
    }

    /// Writes what is pending; answers whether the socket would block
    /// before all of it is out.
    fn flush(&mut self, cx: &mut Context) -> Result<bool, Next> {
        let Some(pending) = &mut self.pending else {
            return Ok(false);
        };
        while !pending.unsent().is_empty() {
            match self.stream.write(pending.unsent()) {
                Ok(n) => {
                    cx.stats.bytes_out += n as u64;
                    pending.consume(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Next::Close(CloseReason::Error(e))),
            }
        }
        self.pending = None;
        trace!("token {}: pending answers all sent, buffer freed", cx.key);
        Ok(false)
    }

    /// Everything is sent: what follows, if anything (the close after a
    /// refusal or the page; our FIN after our close frame).
    fn all_sent(&mut self, cx: &mut Context) -> Option<Next> {
        if self.peer_ended {
            return Some(Next::Close(CloseReason::PeerClosed));
        }
        match self.endpoint.then() {
            Then::Read => None,
            Then::Close(refused) => {
                // Our FIN after the answer; the close follows.
                let _ = self.stream.shutdown(Shutdown::Write);
                Some(Next::Close(match refused {
                    Some(why) => CloseReason::WsUpgrade(why),
                    None => CloseReason::PeerClosed,
                }))
            }
            Then::Finish if self.fin_sent => None,
            Then::Finish => {
                // The server ends the TCP connection first (RFC 6455,
                // 7.1.1); the client's last bytes are read and dropped.
                self.fin_sent = true;
                trace!("token {}: close frame out, FIN sent", cx.key);
                match self.stream.shutdown(Shutdown::Write) {
                    Ok(()) => None,
                    Err(e) => Some(Next::Close(CloseReason::Error(e))),
                }
            }
        }
    }

    /// The client's end of stream.
    fn end_of_stream(&mut self, cx: &mut Context) -> Next {
        trace!("token {}: read end of stream", cx.key);
        if self.endpoint.is_upgrading() {
            return Next::Close(CloseReason::WsUpgrade(UpgradeRefusal::Closed));
        }
        if self.pending.is_some() {
            self.peer_ended = true;
            return Next::Wait;
        }
        Next::Close(CloseReason::PeerClosed)
    }

    /// Brings the memory budget in step with what this connection holds:
    /// itself, its request or control frame in progress, its pending bytes.
    fn recharge(&mut self, cx: &mut Context) {
        let now = std::mem::size_of::<WsConnection>()
            + self.endpoint.memory()
            + self.pending.as_ref().map_or(0, |p| p.footprint());
        if now > self.charged {
            cx.budget.charge(now - self.charged);
        } else {
            cx.budget.release(self.charged - now);
        }
        self.charged = now;
    }
}

fn note_pending(pending: &Pending, cx: &mut Context) {
    let len = pending.unsent().len() as u64;
    trace!(
        "token {}: {len} answer bytes pending (send queue full)",
        cx.key
    );
    if len > cx.stats.peak_pending {
        cx.stats.peak_pending = len;
    }
}
