//! One blocking TCP connection of the load, for the modes that give each
//! connection a thread of its own (churn, threads): it sends a message,
//! reads its echo back and checks every byte, the way the most common
//! client does, with plain `read` and `write` calls that wait, on the
//! socket itself or through a TLS session (`--tls`, [`Stream`], its
//! handshake run here too), and as WebSocket messages over either
//! (`--websocket`, [`WsStream`], its upgrade run here too). And the [`Ledger`] such a thread keeps its
//! counts in.
//!
//! A blocking call could wait forever on a server that never answers, so
//! every socket here has a receive and a send timeout (`SO_RCVTIMEO`,
//! `SO_SNDTIMEO`, set by whoever opens it): a wait that runs out returns
//! `WouldBlock`, and the connection gives up once its deadline has passed
//! ([`Failure::TimedOut`]), or waits again.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Barrier};

use rustls::{ClientConnection, StreamOwned};

use crate::counters::{Pool, Publisher, Recorder, Shared, Tally};
use crate::job::ThreadReport;
use crate::model::Load;
use crate::pattern::Pattern;
use crate::timer::{now_ns, Timeline};
use crate::tls::TlsClient;
use crate::ws_session::{Framing, MAX_FRAME};

/// Largest read of an echo.
const MAX_READ: u64 = 64 << 10;

/// A buffer to read the echoes of `size`-byte messages into: one message,
/// or 64 KiB if that is less.
pub fn read_buffer(size: u64) -> Vec<u8> {
    vec![0; size.clamp(1, MAX_READ) as usize]
}

/// Why a connection stopped before its echo (or its end of stream) was
/// done. Mismatched bytes are no failure: they are counted and checking
/// goes on, as on every connection.
#[derive(Debug)]
pub enum Failure {
    /// The server closed the connection before the whole echo came back.
    Eof,
    /// A wait ran out with the deadline passed.
    TimedOut,
    /// A read, write, connect or shutdown failed.
    Io(io::Error),
}

/// A blocking TLS client stream over a blocking socket.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// What a blocking connection reads and writes: the socket, or a TLS
/// session over it (its handshake done), or a WebSocket over either
/// (`--websocket`, upgraded).
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
    Ws(Box<WsStream>),
}

impl Stream {
    /// A session of `tls` over `tcp` (blocking, with timeouts), its
    /// handshake run, giving up after a wait that ends past `deadline`
    /// (monotonic nanoseconds). A certificate the client does not trust is
    /// an I/O error (`InvalidData`, naming the reason).
    pub fn over_tls(tls: &TlsClient, tcp: TcpStream, deadline: u64) -> Result<Stream, Failure> {
        let session = tls.session().map_err(Failure::Io)?;
        let mut stream = StreamOwned::new(session, tcp);
        while stream.conn.is_handshaking() {
            match stream.conn.complete_io(&mut stream.sock) {
                Ok((0, 0)) if stream.conn.is_handshaking() => return Err(Failure::Eof),
                Ok(_) => {}
                // The server closed before the handshake was done.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(Failure::Eof),
                Err(e) => wait_again(e, deadline)?,
            }
        }
        Ok(Stream::Tls(Box::new(stream)))
    }

    /// Ends the sending direction: for TLS, a `close_notify` first (sent
    /// whole, waiting up to `deadline`), then the socket's half-close.
    pub fn close_write(&mut self, deadline: u64) -> Result<(), Failure> {
        let socket = match self {
            Stream::Plain(socket) => socket,
            Stream::Ws(ws) => return ws.close_write(deadline),
            Stream::Tls(tls) => {
                tls.conn.send_close_notify();
                while tls.conn.wants_write() {
                    if let Err(e) = tls.conn.write_tls(&mut tls.sock) {
                        wait_again(e, deadline)?;
                    }
                }
                &mut tls.sock
            }
        };
        socket.shutdown(Shutdown::Write).map_err(Failure::Io)
    }
}

impl Read for Stream {
    /// For TLS, 0 at the server's `close_notify`, and at an end of stream
    /// without one too: a truncation ends the echo all the same (an echo
    /// cut short is counted by its missing bytes).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.read(buf),
            Stream::Tls(tls) => match tls.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
            Stream::Ws(ws) => ws.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.write(buf),
            Stream::Tls(tls) => tls.write(buf),
            Stream::Ws(ws) => ws.write(buf),
        }
    }

    /// For TLS, sends every record the session holds.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(socket) => socket.flush(),
            Stream::Tls(tls) => tls.flush(),
            Stream::Ws(ws) => ws.flush(),
        }
    }
}

impl Failure {
    /// The failure as an I/O error, for a connection opened before the
    /// run: `what` (e.g. "the TLS handshake") names the step that failed.
    pub fn into_io(self, what: &str) -> io::Error {
        match self {
            Failure::Eof => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the server closed the connection during {what}"),
            ),
            Failure::TimedOut => {
                io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
            }
            Failure::Io(e) => io::Error::new(e.kind(), format!("{what}: {e}")),
        }
    }
}

/// A blocking connection's stream: how much of it was sent and echoed.
pub struct BlockingConn {
    stream: Stream,
    phase: u64,
    /// Bytes written.
    sent: u64,
    /// Bytes echoed back and checked.
    received: u64,
}

impl BlockingConn {
    /// Connection `id` of the run, on `stream` (blocking, with timeouts).
    pub fn new(stream: Stream, id: usize) -> BlockingConn {
        BlockingConn {
            stream,
            phase: Pattern::phase(id),
            sent: 0,
            received: 0,
        }
    }

    /// Sends the next `size` bytes of the stream and reads their echo back,
    /// checking each chunk (`buf` holds the reads; a mismatch is counted in
    /// `tally`, and the echo goes on). Gives up after a wait that ends past
    /// `deadline` (monotonic nanoseconds).
    pub fn echo(
        &mut self,
        size: u64,
        pattern: &Pattern,
        buf: &mut [u8],
        tally: &mut Tally,
        deadline: u64,
    ) -> Result<(), Failure> {
        self.send(size, pattern, deadline)?;
        while self.received < self.sent {
            let owed = usize::try_from(self.sent - self.received).unwrap_or(usize::MAX);
            let want = owed.min(buf.len());
            let n = self.read(&mut buf[..want], deadline)?;
            if n == 0 {
                if self.received > self.sent - size {
                    tally.errors.seen.short_echoes += 1;
                }
                return Err(Failure::Eof);
            }
            let differing = pattern.differing_at(self.phase, self.received, &buf[..n]);
            self.received += n as u64;
            tally.received += n as u64;
            if differing > 0 {
                tally.errors.mismatched_chunks += 1;
                tally.errors.mismatched_bytes += differing;
            }
        }
        Ok(())
    }

    /// Bytes sent and not (yet) echoed.
    pub fn missing_echo(&self) -> u64 {
        self.sent - self.received
    }

    /// Half-closes the connection (the server reads its end of stream;
    /// over TLS, a `close_notify` first) and reads on to the server's end
    /// of stream (or `close_notify`): every byte that still comes is one that
    /// was never sent, a mismatch. Gives up, as [`echo`](Self::echo) does,
    /// past `deadline`, also against a server that sends without end.
    pub fn finish(
        &mut self,
        buf: &mut [u8],
        tally: &mut Tally,
        deadline: u64,
    ) -> Result<(), Failure> {
        self.stream.close_write(deadline)?;
        loop {
            let n = self.read(buf, deadline)?;
            if n == 0 {
                return Ok(());
            }
            tally.errors.mismatched_chunks += 1;
            tally.errors.mismatched_bytes += n as u64;
            if now_ns() >= deadline {
                return Err(Failure::TimedOut);
            }
        }
    }

    /// Writes the next `size` bytes of the stream.
    fn send(&mut self, size: u64, pattern: &Pattern, deadline: u64) -> Result<(), Failure> {
        let end = self.sent + size;
        while self.sent < end {
            let want = usize::try_from(end - self.sent).unwrap_or(usize::MAX);
            match self
                .stream
                .write(pattern.slice(self.phase, self.sent, want))
            {
                Ok(0) => return Err(Failure::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.sent += n as u64,
                Err(e) => wait_again(e, deadline)?,
            }
        }
        // A TLS session may still hold records the socket did not take.
        while let Err(e) = self.stream.flush() {
            wait_again(e, deadline)?;
        }
        Ok(())
    }

    /// One read into `buf`: the bytes read, 0 at the end of stream.
    fn read(&mut self, buf: &mut [u8], deadline: u64) -> Result<usize, Failure> {
        loop {
            match self.stream.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) => wait_again(e, deadline)?,
            }
        }
    }
}

/// What a failed call means: a wait that ran out (`WouldBlock`, from the
/// socket's timeout) or was interrupted is tried again unless `deadline` has
/// passed; anything else ends the connection.
fn wait_again(e: io::Error, deadline: u64) -> Result<(), Failure> {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut if now_ns() >= deadline => {
            Err(Failure::TimedOut)
        }
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => Ok(()),
        _ => Err(Failure::Io(e)),
    }
}

/// What a blocking thread counts, publishes for the progress line and
/// reports, from the start line to its end.
pub struct Ledger {
    pub recorder: Recorder,
    publisher: Publisher,
    /// The first I/O error, printed beside the report.
    first_error: Option<io::Error>,
}

impl Ledger {
    /// A ledger that publishes to `shared`, its latencies in `pool`.
    pub fn new(shared: &Arc<Shared>, pool: &Pool) -> Ledger {
        Ledger {
            recorder: Recorder::pooled(pool),
            publisher: Publisher::new(shared.clone()),
            first_error: None,
        }
    }

    /// Waits at `start_line` with the other threads; returns the phases of
    /// `load` from then.
    pub fn start(&mut self, load: &Load, start_line: &Barrier) -> Timeline {
        start_line.wait();
        let start = now_ns();
        let timeline = Timeline::new(load, start);
        self.recorder.measure_from = timeline.measure_from;
        self.publisher.publish(&mut self.recorder, start, true);
        timeline
    }

    /// Publishes the counts if it is time to.
    pub fn publish(&mut self) {
        self.publisher.publish(&mut self.recorder, now_ns(), false);
    }

    /// Counts an I/O error; keeps the first.
    pub fn io_error(&mut self, e: io::Error) {
        self.recorder.tally.errors.io_error(&e);
        self.first_error.get_or_insert(e);
    }

    /// The thread's report, its last counts published.
    pub fn finish(mut self, timeline: Timeline) -> ThreadReport {
        let finished_at = now_ns();
        self.publisher
            .publish(&mut self.recorder, finished_at, true);
        ThreadReport {
            recorder: self.recorder,
            timeline,
            finished_at,
            first_error: self.first_error,
        }
    }
}

/// A WebSocket client over a blocking stream (churn), upgraded.
pub struct WsStream {
    inner: Stream,
    framing: Framing,
    /// A frame a wait cut short, `out[sent..]` still to send.
    out: Vec<u8>,
    sent: usize,
}

impl WsStream {
    /// Upgrades `inner`, waiting up to `deadline` (monotonic nanoseconds).
    pub fn upgrade(mut inner: Stream, deadline: u64) -> Result<WsStream, Failure> {
        let request = Framing::request();
        let mut sent = 0;
        while sent < request.len() {
            match inner.write(&request[sent..]) {
                Ok(n) => sent += n,
                Err(e) => wait_again(e, deadline)?,
            }
        }
        inner.flush().map_err(Failure::Io)?;
        let mut framing = Framing::new();
        let mut buf = [0u8; 1024];
        loop {
            match inner.read(&mut buf) {
                Ok(0) => return Err(Failure::Eof),
                Ok(n) if framing.take_answer(&buf[..n]).map_err(Failure::Io)? => break,
                Ok(_) => {}
                Err(e) => wait_again(e, deadline)?,
            }
        }
        Ok(WsStream {
            inner,
            framing,
            out: Vec::new(),
            sent: 0,
        })
    }

    /// Our close frame (1000), sent whole, waiting up to `deadline`, then
    /// the inner stream's own end (TLS's `close_notify`, the half-close).
    pub fn close_write(&mut self, deadline: u64) -> Result<(), Failure> {
        self.finish_out(deadline)?;
        self.out = vec![0x88, 0x82];
        self.out.extend_from_slice(&self.framing.mask);
        let mask = self.framing.mask;
        self.out.extend([0x03 ^ mask[0], 0xE8 ^ mask[1]]);
        self.sent = 0;
        self.finish_out(deadline)?;
        self.inner.close_write(deadline)
    }

    /// Sends what is left of `out`, waiting up to `deadline`.
    fn finish_out(&mut self, deadline: u64) -> Result<(), Failure> {
        while let Err(e) = self.send_out() {
            wait_again(e, deadline)?;
        }
        Ok(())
    }

    /// Writes `out[sent..]`; an error (a wait that ran out) leaves the rest.
    fn send_out(&mut self) -> io::Result<()> {
        while self.sent < self.out.len() {
            match self.inner.write(&self.out[self.sent..])? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => self.sent += n,
            }
        }
        self.out.clear();
        self.sent = 0;
        Ok(())
    }
}

impl Read for WsStream {
    /// The echo's payload bytes (a frame a wait cut short is sent first),
    /// or 0 at the server's close frame or end of stream.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.send_out()?;
        self.framing.read_payload(&mut self.inner, buf)
    }
}

impl Write for WsStream {
    /// Frames `bytes` (up to [`MAX_FRAME`]) as one binary message; a frame
    /// a wait cut short goes out first.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.send_out()?;
        let take = bytes.len().min(MAX_FRAME);
        self.framing.frame(&mut self.out, &bytes[..take]);
        // Taken: what a wait leaves unsent goes out with the next call.
        let _ = self.send_out();
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_out()?;
        self.inner.flush()
    }
}
