//! One TCP connection of the load: the bytes it queued, wrote and had
//! echoed, its messages in flight, and the checking of every echoed chunk.
//!
//! Its bytes go through a [`Transport`]: the socket itself, or, with
//! `--tls`, a TLS session over it (`tls_session.rs`). [`Conn`] is generic
//! over it rather than holding an enum, so that the plain connection's
//! reads and writes stay direct calls on the socket, with not even a
//! branch added; a thread holds connections of one kind only.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use mio::net::TcpStream;

use crate::channel::{Channel, Listed, Step, Turn};
use crate::counters::{Recorder, Tally};
use crate::pattern::Pattern;
use crate::timer::now_ns;

/// Most bytes read, and most written, on one connection per turn of the
/// loop; then the others get their turn and it is served again after the
/// next (non-blocking) poll. Keeps every loop bounded, even against a server
/// that sends without end.
const TURN_BUDGET: usize = 1 << 20;

/// What a connection's bytes go through: the socket, or a TLS session
/// over it. Reads and writes never block: `WouldBlock` when the socket
/// has nothing to give or no room; `write` takes fewer bytes than offered
/// only when it has no room for more (the writable edge will come);
/// `flush` sends what earlier writes left held in the transport (TLS
/// records), `WouldBlock` if the socket has no room for all of it. A read
/// of 0 is the end of the stream.
pub trait Transport: Read + Write {
    /// A read shorter than the buffer means the socket's queue is empty,
    /// so reading may stop there, before `WouldBlock`.
    const SHORT_READ_DRAINS: bool;

    /// The socket, to register it with the poll.
    fn socket(&mut self) -> &mut TcpStream;

    /// Drives the handshake, if the transport has one, as far as it goes
    /// without blocking; true once it is done.
    fn handshake(&mut self) -> io::Result<bool> {
        Ok(true)
    }

    /// A handshake is under way.
    fn handshaking(&self) -> bool {
        false
    }
}

/// The plain connection: the socket's own calls (`flush` does nothing).
impl Transport for TcpStream {
    /// A short read on a stream socket took all that was queued.
    const SHORT_READ_DRAINS: bool = true;

    fn socket(&mut self) -> &mut TcpStream {
        self
    }
}

/// Where a connection's handshake stands after it was driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    Done,
    Underway,
    /// It ended the connection (counted).
    Failed,
}

/// One connection's stream: how far it has been queued, written and
/// echoed, and the messages whose echoes are still out.
pub struct Conn<S> {
    stream: S,
    phase: u64,
    /// Bytes per message (bulk: 0, there are none: the stream is queued
    /// whole and not timed).
    size: u64,
    /// Stream offset up to which bytes were queued.
    queued: u64,
    /// Bytes the kernel accepted.
    sent: u64,
    /// Most messages written whose echo is not back ([`Load::wire_window`]);
    /// `None`: as many as are queued.
    ///
    /// [`Load::wire_window`]: crate::model::Load::wire_window
    window: Option<u64>,
    /// Bytes echoed back and checked.
    received: u64,
    /// Messages whose echo completed.
    completed: u64,
    /// Send (or scheduled) time of each message not fully echoed yet,
    /// oldest first. Message `completed + i` covers stream bytes
    /// `(completed + i) * size ..` of `size`.
    in_flight: VecDeque<u64>,
    alive: bool,
    /// The I/O error that ended the connection, if one did.
    failure: Option<io::Error>,
    listed: Listed,
}

impl<S: Transport> Channel for Conn<S> {
    fn alive(&self) -> bool {
        self.alive
    }

    fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn queue(&mut self, at: u64) {
        self.in_flight.push_back(at);
        self.queued += self.size;
    }

    fn listed(&mut self) -> &mut Listed {
        &mut self.listed
    }

    fn waiting_for_echoes(&self) -> bool {
        self.alive && self.received < self.queued
    }
}

impl<S: Transport> Conn<S> {
    /// Connection `id` of the run, sending `size`-byte messages (bulk: 0),
    /// at most `window` of them written and not echoed, with room for
    /// `ring` timestamps before its queue of them grows.
    pub fn new(stream: S, id: usize, size: u64, window: Option<u64>, ring: usize) -> Conn<S> {
        Conn {
            stream,
            phase: Pattern::phase(id),
            size,
            queued: 0,
            sent: 0,
            window,
            received: 0,
            completed: 0,
            in_flight: VecDeque::with_capacity(ring),
            alive: true,
            failure: None,
            listed: Listed::default(),
        }
    }

    /// The socket, to register it.
    pub fn socket(&mut self) -> &mut TcpStream {
        self.stream.socket()
    }

    /// Bulk: queues the whole stream at once, no messages.
    pub fn queue_stream(&mut self, bytes: u64) {
        self.queued = bytes;
    }

    /// Bytes sent and never echoed, if the connection is still waiting.
    pub fn missing_echo(&self) -> Option<u64> {
        self.waiting_for_echoes()
            .then(|| self.queued - self.received)
    }

    /// The I/O error that ended the connection, if one did.
    pub fn take_failure(&mut self) -> Option<io::Error> {
        self.failure.take()
    }

    /// Alive, its handshake under way.
    pub fn handshaking(&self) -> bool {
        self.alive && self.stream.handshaking()
    }

    /// Drives the handshake as far as it goes without blocking. An end of
    /// stream or an error (a certificate not trusted, say) ends the
    /// connection, counted as an unexpected EOF or an I/O error.
    pub fn handshake(&mut self, tally: &mut Tally) -> Handshake {
        if !self.alive {
            return Handshake::Failed;
        }
        match self.stream.handshake() {
            Ok(true) => Handshake::Done,
            Ok(false) => Handshake::Underway,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.fail(&mut tally.errors.eofs);
                Handshake::Failed
            }
            Err(e) => {
                self.fail_with(e, tally);
                Handshake::Failed
            }
        }
    }

    /// Gives up on the connection if its oldest message has waited
    /// `timeout` (ns) or more at `now` for its whole echo: a timeout.
    pub fn time_out_if_silent(&mut self, now: u64, timeout: u64, tally: &mut Tally) -> bool {
        let oldest = self.in_flight.front().copied();
        let silent =
            self.alive && oldest.is_some_and(|sent_at| now.saturating_sub(sent_at) >= timeout);
        if silent {
            self.fail(&mut tally.errors.timeouts);
        }
        silent
    }

    /// Gives up on the connection: `why`, counted as an I/O error.
    pub fn abandon(&mut self, why: io::Error, tally: &mut Tally) {
        if self.alive {
            self.fail_with(why, tally);
        }
    }

    /// Handles readiness: reads and checks the echoes, retires completed
    /// messages, queues new ones (closed loop), writes. `to_eof`: the event
    /// said the peer closed, so read on to the end of stream even after a
    /// short read (no further edge would come for it).
    pub fn serve(&mut self, turn: &mut Turn, readable: bool, to_eof: bool) -> Step {
        if !self.alive {
            return Step::Wait;
        }
        let mut step = Step::Wait;
        if readable {
            step = self.read_echoes(turn.buf, turn.pattern, to_eof, &mut turn.recorder.tally);
            if step == Step::Closed {
                return step;
            }
            let now = now_ns();
            self.complete(now, turn.recorder);
            if let Some(depth) = turn.refill_depth(now) {
                self.top_up(depth, now);
            }
        }
        step.and(self.flush(turn.pattern, &mut turn.recorder.tally))
    }

    /// Counts a failure in `counter` and ends this connection.
    fn fail(&mut self, counter: &mut u64) -> Step {
        *counter += 1;
        self.alive = false;
        Step::Closed
    }

    /// Counts the I/O error `e`, keeps it, and ends this connection.
    fn fail_with(&mut self, e: io::Error, tally: &mut Tally) -> Step {
        tally.errors.io_error(&e);
        self.failure = Some(e);
        self.alive = false;
        Step::Closed
    }

    /// The server's end of stream ends this connection; it cut an echo
    /// short if part of the oldest message's echo had come back.
    fn fail_at_eof(&mut self, tally: &mut Tally) -> Step {
        if self.received > self.completed * self.size {
            tally.errors.seen.short_echoes += 1;
        }
        self.fail(&mut tally.errors.eofs)
    }

    /// Reads and checks until the socket is empty (or the turn's budget is
    /// spent).
    fn read_echoes(
        &mut self,
        buf: &mut [u8],
        pattern: &Pattern,
        to_eof: bool,
        tally: &mut Tally,
    ) -> Step {
        let mut budget = TURN_BUDGET;
        loop {
            match self.stream.read(buf) {
                Ok(0) => return self.fail_at_eof(tally),
                Ok(n) => {
                    self.check(&buf[..n], pattern, tally);
                    if S::SHORT_READ_DRAINS && n < buf.len() && !to_eof {
                        return Step::Wait; // a short read: the queue is empty
                    }
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        return Step::Again;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail_with(e, tally),
            }
        }
    }

    /// Compares a chunk that came back with what was sent at its offset.
    fn check(&mut self, chunk: &[u8], pattern: &Pattern, tally: &mut Tally) {
        // The server can only echo what we sent; anything beyond is garbage.
        let owed = usize::try_from(self.sent - self.received).unwrap_or(usize::MAX);
        let (echo, excess) = chunk.split_at(chunk.len().min(owed));
        let differing = excess.len() as u64 + pattern.differing_at(self.phase, self.received, echo);
        self.received += echo.len() as u64;
        tally.received += echo.len() as u64;
        if differing > 0 {
            tally.errors.mismatched_chunks += 1;
            tally.errors.mismatched_bytes += differing;
        }
    }

    /// Retires every message whose last byte has come back.
    fn complete(&mut self, now: u64, recorder: &mut Recorder) {
        while let Some(&sent_at) = self.in_flight.front() {
            if self.received < (self.completed + 1) * self.size {
                break;
            }
            self.in_flight.pop_front();
            self.completed += 1;
            recorder.echoed(sent_at, now);
        }
    }

    /// Where writing stops for now: the end of what is queued or, with a
    /// window, of the messages it lets onto the wire; the rest waits for
    /// echoes to come back.
    fn writable_up_to(&self) -> u64 {
        match self.window {
            None => self.queued,
            Some(window) => {
                let open = (self.completed.saturating_add(window)).saturating_mul(self.size);
                self.queued.min(open)
            }
        }
    }

    /// Writes queued bytes until they are all out, the window is full or
    /// the kernel is (first what the transport still holds from earlier
    /// writes).
    pub fn flush(&mut self, pattern: &Pattern, tally: &mut Tally) -> Step {
        if !self.alive {
            return Step::Wait;
        }
        match self.stream.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
            Err(e) => return self.fail_with(e, tally),
        }
        let mut budget = TURN_BUDGET;
        let limit = self.writable_up_to();
        while self.sent < limit {
            let want = usize::try_from(limit - self.sent).unwrap_or(usize::MAX);
            let bytes = pattern.slice(self.phase, self.sent, want.min(budget));
            match self.stream.write(bytes) {
                Ok(0) => return self.fail(&mut tally.errors.io_errors),
                Ok(n) => {
                    self.sent += n as u64;
                    budget -= n;
                    if n < bytes.len() {
                        return Step::Wait; // the send queue is full
                    }
                    if budget == 0 && self.sent < limit {
                        return Step::Again;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail_with(e, tally),
            }
        }
        Step::Wait
    }
}
