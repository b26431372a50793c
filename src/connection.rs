//! One client connection: read, echo, and keep what the socket would not take.
//!
//! This is where a byte's trip happens. The reactor hands each event for a
//! connection to [`Connection::on_event`] (and calls [`Connection::serve`]
//! when it serves one on its own initiative: the fairness queue, shutdown).
//! The connection reads into the server's shared scratch buffer
//! ([`Context::scratch`]) and writes the same bytes straight back. Only when the
//! kernel's send queue is full (a short write) does it copy the unsent tail
//! into a [`Pending`] buffer of its own, which it flushes on the next
//! writable event and frees once empty. An idle connection is therefore a
//! socket and an empty `Option<Box<_>>`: 16 bytes in a release build.
//!
//! Interest is registered once, as readable + writable, edge-triggered.
//! That replaces the usual "ask for WRITABLE after a short write, drop it
//! when drained, drop READABLE under backpressure" dance: with edge-triggered
//! readiness an interest that is not needed costs nothing (the kernel only
//! reports a writable edge after the send queue was full), while every
//! change of interest costs an `epoll_ctl` system call. Backpressure is then
//! simply not reading: the receive queue fills, TCP's window closes, and the
//! client stalls, not the server.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use log::trace;
use mio::net::TcpStream;

use crate::budget::PENDING_OVERHEAD;
use crate::pending::Pending;
use crate::serve::{CloseReason, Context, Next, Ready, READ_BUDGET_PER_TURN};
use syscalls::{io_result, recv, send};

mod memory;
mod stage;
mod syscalls;
#[cfg(test)]
mod tests;

/// A client connection: its socket, and its unsent echo bytes if any.
pub struct Connection {
    stream: TcpStream,
    /// In the reactor's serve-again queue; keeps the queue free of doubles.
    pub queued: bool,
    /// In the memory budget's queue of connections waiting for memory.
    pub parked: bool,
    /// What sends an event off the short path even with nothing pending
    /// ([`FIN_SENT`], [`WRITE_BLOCKED`]); zero for a connection that is
    /// simply echoing.
    flags: u8,
    /// Boxed so that an idle connection carries 8 bytes for it, not 40.
    pending: Option<Box<Pending>>,
}

/// Shutdown sent our FIN: the rest of the client's bytes are discarded
/// while waiting for its end of stream.
const FIN_SENT: u8 = 1;
/// Echoing through the kernel (the memory budget is short) left bytes in
/// the receive queue that the send queue would not take: read again on the
/// next writable edge, which is the only edge that will come.
const WRITE_BLOCKED: u8 = 2;

/// Outcome of flushing pending bytes.
enum Flushed {
    /// The send queue filled again; wait for the next writable edge.
    Blocked,
    /// Everything is out and the buffer is freed; `resume_reading` says
    /// reading had stopped under backpressure and must start again.
    Empty { resume_reading: bool },
}

impl Connection {
    /// A connection just accepted, with nothing pending.
    pub fn new(stream: TcpStream) -> Self {
        Connection {
            stream,
            queued: false,
            parked: false,
            flags: 0,
            pending: None,
        }
    }

    /// The socket (the banner asks it for its local address).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Has nothing left to echo and has not said goodbye yet: at shutdown,
    /// such a connection gets its FIN once its client has fallen silent
    /// (`drain`).
    pub fn is_quiet(&self) -> bool {
        self.pending.is_none() && self.flags == 0 && !self.queued
    }

    /// Bytes this connection holds for its client, as charged to the
    /// memory budget; released by whoever drops the connection.
    pub fn memory(&self) -> usize {
        self.pending
            .as_ref()
            .map_or(0, |pending| pending.footprint())
    }

    /// Handles a readiness event: flush pending bytes, then read and echo.
    #[inline(always)]
    pub fn on_event(&mut self, event: &mio::event::Event, cx: &mut Context) -> Next {
        // The common case, kept short: nothing pending, not shutting down,
        // so only "can I read?" matters. (`|`, not `||`: these are bit
        // tests on one word, which the compiler merges into one.)
        if self.pending.is_none() & (self.flags == 0) {
            let read_closed = event.is_read_closed();
            return if event.is_readable() | read_closed | event.is_error() {
                self.read_and_echo(read_closed, cx)
            } else {
                Next::Wait
            };
        }
        self.serve_busy(Ready::from_event(event), cx)
    }

    /// Does the work `ready` allows, when the reactor serves a connection on
    /// its own initiative rather than for an event.
    pub fn serve(&mut self, ready: Ready, cx: &mut Context) -> Next {
        if self.pending.is_none() & (self.flags == 0) {
            return if ready.readable | ready.read_closed {
                self.read_and_echo(ready.read_closed, cx)
            } else {
                Next::Wait
            };
        }
        self.serve_busy(ready, cx)
    }

    /// Serving a connection with pending bytes, or one we said goodbye to.
    #[cold]
    #[inline(never)]
    fn serve_busy(&mut self, ready: Ready, cx: &mut Context) -> Next {
        if self.flags & FIN_SENT != 0 {
            return self.discard_input(cx);
        }
        let mut read = ready.readable || ready.read_closed;
        let mut read_to_end = ready.read_closed;
        if ready.writable && self.flags & WRITE_BLOCKED != 0 {
            // Bytes wait in the receive queue (and maybe the FIN behind
            // them), reported by an edge long gone: read them now.
            self.flags &= !WRITE_BLOCKED;
            read = true;
            read_to_end = true;
        }
        if self.flags & WRITE_BLOCKED != 0 {
            // The client still has not read: reading now would only peek
            // at the same bytes again.
            return Next::Wait;
        }
        if ready.writable && self.pending.is_some() {
            match self.flush(cx) {
                Ok(Flushed::Blocked) => {}
                // Reads stopped at the limit with bytes left in the queue
                // (and maybe the FIN behind them); no new edge will say so.
                Ok(Flushed::Empty {
                    resume_reading: true,
                }) => {
                    read = true;
                    read_to_end = true;
                }
                Ok(Flushed::Empty { .. }) => {}
                Err(next) => return next,
            }
        }
        if let Some(pending) = &self.pending {
            if pending.paused || pending.peer_closed {
                return Next::Wait;
            }
        }
        if read {
            self.read_and_echo(read_to_end, cx)
        } else {
            Next::Wait
        }
    }

    /// Sends the `n` bytes at the start of the scratch buffer as the
    /// connection's first bytes (a banner, and what followed a PROXY
    /// header), through the echo's own path: a short write keeps the rest
    /// pending, ahead of everything echoed later.
    #[cold]
    #[inline(never)]
    pub fn send_initial(&mut self, n: usize, cx: &mut Context) -> Next {
        match self.echo(n, cx) {
            Ok(()) => Next::Wait,
            Err(next) => next,
        }
    }

    /// Our FIN went out ([`Connection::send_fin`]).
    pub fn fin_sent(&self) -> bool {
        self.flags & FIN_SENT != 0
    }

    /// Shutdown: tell the client we are done (FIN) while still accepting its
    /// last bytes, so closing later does not reset the connection.
    pub fn send_fin(&mut self) -> io::Result<()> {
        self.flags |= FIN_SENT;
        self.stream.shutdown(Shutdown::Write)
    }

    /// Reads until the socket is drained, the budget is spent, or pending
    /// bytes reach the limit; echoes every chunk as it arrives.
    #[inline(always)]
    fn read_and_echo(&mut self, read_to_end: bool, cx: &mut Context) -> Next {
        let mut budget = READ_BUDGET_PER_TURN;
        loop {
            let want = match &self.pending {
                None if cx.budget.is_tight() => return self.echo_through_kernel(read_to_end, cx),
                None => cx.read_size,
                Some(pending) => match self.room(pending, cx) {
                    0 => return self.stop_reading(cx),
                    room => room.min(cx.scratch.len()),
                },
            };
            let n = match recv(&self.stream, &mut cx.scratch[..want]) {
                received if received > 0 => received as usize,
                // End of stream, WouldBlock, or an error: all rare on this
                // path, so all handled out of line.
                other => match self.read_stopped(other, cx) {
                    Some(next) => return next,
                    None => continue,
                },
            };
            cx.stats.bytes_in += n as u64;
            if let Err(next) = self.echo(n, cx) {
                return next;
            }
            // A short read means the receive queue is empty: skip the read
            // that would only say EAGAIN. Not if the FIN came with this
            // edge, though: then read on to the end of stream.
            if n < want && !read_to_end {
                return Next::Wait;
            }
            budget = budget.saturating_sub(n);
            if budget == 0 {
                trace!("token {}: read budget spent, serving others first", cx.key);
                return Next::ServeAgain;
            }
        }
    }

    /// A read returned no bytes: end of stream, `WouldBlock`, or an error
    /// (`received` is what [`recv`] returned). `None` means "interrupted by
    /// a signal: read again".
    #[cold]
    #[inline(never)]
    fn read_stopped(&mut self, received: isize, cx: &mut Context) -> Option<Next> {
        match io_result(received) {
            Ok(_) => Some(self.on_end_of_stream(cx)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                trace!("token {}: read would block", cx.key);
                Some(Next::Wait)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => None,
            Err(e) => Some(Next::Close(CloseReason::Error(e))),
        }
    }

    /// Sends `scratch[..n]` back, or queues it behind bytes already waiting.
    #[inline(always)]
    fn echo(&mut self, n: usize, cx: &mut Context) -> Result<(), Next> {
        if let Some(pending) = &mut self.pending {
            // Order is sacred: never write ahead of bytes already waiting.
            let before = pending.footprint();
            let limit = cx
                .max_pending
                .min(before + cx.budget.available() - PENDING_OVERHEAD);
            pending.push(&cx.scratch[..n], limit);
            cx.budget.charge(pending.footprint() - before);
            note_pending(pending, cx);
            return Ok(());
        }
        let sent = send(&self.stream, &cx.scratch[..n]);
        if sent == n as isize {
            if cx.tracing {
                trace!("token {}: read {n} bytes, wrote them back", cx.key);
            }
            cx.stats.bytes_out += n as u64;
            return Ok(());
        }
        self.write_fell_short(io_result(sent), n, cx)
    }

    /// The socket did not take all of `scratch[..n]`: keep the rest for the
    /// next writable edge, or close on an error.
    #[cold]
    #[inline(never)]
    fn write_fell_short(
        &mut self,
        mut result: io::Result<usize>,
        n: usize,
        cx: &mut Context,
    ) -> Result<(), Next> {
        let written = loop {
            match result {
                Ok(written) => break written,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break 0,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    result = self.stream.write(&cx.scratch[..n]);
                }
                Err(e) => return Err(Next::Close(CloseReason::Error(e))),
            }
        };
        trace!("token {}: read {n} bytes, wrote {written} back", cx.key);
        cx.stats.bytes_out += written as u64;
        if written < n {
            self.keep_unsent(written, n, cx);
        }
        Ok(())
    }

    /// A short write: the send queue is full. Keep the tail for the next
    /// writable edge.
    #[cold]
    #[inline(never)]
    fn keep_unsent(&mut self, written: usize, n: usize, cx: &mut Context) {
        let pending = Box::new(Pending::holding(&cx.scratch[written..n], cx.max_pending));
        cx.budget.charge(pending.footprint());
        note_pending(&pending, cx);
        self.pending = Some(pending);
    }

    /// Writes pending bytes until they are all out or the socket is full.
    #[cold]
    #[inline(never)]
    fn flush(&mut self, cx: &mut Context) -> Result<Flushed, Next> {
        let Some(pending) = self.pending.as_mut() else {
            return Ok(Flushed::Empty {
                resume_reading: false,
            });
        };
        while !pending.unsent().is_empty() {
            let unsent = pending.unsent().len();
            match self.stream.write(pending.unsent()) {
                Ok(written) => {
                    trace!(
                        "token {}: flushed {written} of {unsent} pending bytes",
                        cx.key
                    );
                    cx.stats.bytes_out += written as u64;
                    pending.consume(written);
                    if written < unsent {
                        return Ok(Flushed::Blocked);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Next::Close(CloseReason::Error(e))),
            }
        }
        let drained = self.pending.take().expect("pending checked above");
        cx.budget.release(drained.footprint());
        let Pending {
            paused,
            peer_closed,
            ..
        } = *drained;
        trace!("token {}: pending bytes all sent, buffer freed", cx.key);
        if peer_closed {
            return Err(self.finish());
        }
        if paused {
            trace!("token {}: resuming reads", cx.key);
        }
        Ok(Flushed::Empty {
            resume_reading: paused,
        })
    }

    /// The client closed its side: echo what is still pending, then close.
    #[cold]
    #[inline(never)]
    fn on_end_of_stream(&mut self, cx: &mut Context) -> Next {
        trace!("token {}: read end of stream", cx.key);
        match &mut self.pending {
            Some(pending) => {
                pending.peer_closed = true;
                Next::Wait
            }
            None => self.finish(),
        }
    }

    /// Every echo is out and the client is done: close. No `shutdown`
    /// first, which would cost a system call and buy nothing: the end of
    /// stream was read, so nothing is left unread, and closing a socket with
    /// nothing unread sends the FIN itself, after any bytes still in the
    /// send queue. (An unread byte would turn the close into a reset; that
    /// is why shutdown, which closes connections whose client may still be
    /// sending, does send its FIN with `shutdown`, see [`Connection::send_fin`].)
    fn finish(&mut self) -> Next {
        Next::Close(CloseReason::PeerClosed)
    }

    /// After our shutdown FIN: read and drop whatever the client still sends
    /// until its end of stream, so the final close does not reset.
    #[cold]
    #[inline(never)]
    fn discard_input(&mut self, cx: &mut Context) -> Next {
        let mut budget = READ_BUDGET_PER_TURN;
        loop {
            match self.stream.read(&mut cx.scratch[..]) {
                Ok(0) => return Next::Close(CloseReason::Shutdown),
                Ok(n) => {
                    trace!("token {}: discarded {n} bytes after shutdown", cx.key);
                    cx.stats.bytes_in += n as u64;
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        return Next::ServeAgain;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Next::Close(CloseReason::Error(e)),
            }
        }
    }
}

fn note_pending(pending: &Pending, cx: &mut Context) {
    let len = pending.unsent().len() as u64;
    trace!("token {}: {len} bytes pending (send queue full)", cx.key);
    if len > cx.stats.peak_pending {
        cx.stats.peak_pending = len;
    }
}
