//! `--whoami-listen ADDR`: a listener that tells each client what reached
//! the server, and closes.
//!
//! Behind a proxy, a load balancer or a mesh, "what did you see of me?"
//! is one `nc` away: the answer is the connection's receipt as far as it
//! is known when the connection is ready (the kernel's addresses, the
//! PROXY header's, its TLVs; see [`crate::receipt`]), one JSON line. With
//! `--proxy-protocol` the header is read first, as on any listener.
//!
//! The answer is written, then the server's side is shut down (a FIN), and
//! the connection stays open until the client closes its side or
//! [`WHOAMI_LINGER`] passes, whatever it sends in between read and
//! dropped. Closing at once instead would reset the connection if the
//! client had sent anything the server had not read, and a reset can
//! destroy the answer before the client reads it.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use log::debug;
use mio::net::TcpStream;

use crate::serve::{CloseReason, Context, Next, Ready, Stage};

/// How long an answered connection waits for its client to close.
pub const WHOAMI_LINGER: Duration = Duration::from_secs(5);

/// A whoami connection: its answer, and how much of it is out.
pub struct WhoamiAnswer {
    stream: TcpStream,
    /// The JSON line, newline included.
    answer: Vec<u8>,
    /// Bytes of it written.
    written: usize,
    /// When it is closed whatever its client does; also names it in the
    /// timers' queue.
    deadline: Instant,
}

impl WhoamiAnswer {
    /// A connection to answer with `answer` (one line) by `deadline`.
    pub fn new(stream: TcpStream, answer: Vec<u8>, deadline: Instant) -> WhoamiAnswer {
        WhoamiAnswer {
            stream,
            answer,
            written: 0,
            deadline,
        }
    }

    /// Writes what the socket takes (counted as bytes sent); `Ok(true)`
    /// once all of it is out and the FIN sent.
    fn write_answer(&mut self, cx: &mut Context) -> io::Result<bool> {
        while self.written < self.answer.len() {
            match self.stream.write(&self.answer[self.written..]) {
                Ok(n) => {
                    self.written += n;
                    cx.stats.bytes_out += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.stream.shutdown(Shutdown::Write)?;
        Ok(true)
    }

    /// Reads and drops what the client sends; `Ok(true)` at its end of
    /// stream.
    fn discard_input(&mut self, scratch: &mut [u8]) -> io::Result<bool> {
        loop {
            match self.stream.read(scratch) {
                Ok(0) => return Ok(true),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Stage for WhoamiAnswer {
    fn serve(&mut self, _ready: Ready, cx: &mut Context) -> Next {
        let finished = self.written == self.answer.len();
        if !finished {
            match self.write_answer(cx) {
                Ok(true) => debug!("token {}: whoami answered", cx.key),
                Ok(false) => {}
                Err(e) => return Next::Close(CloseReason::Error(e)),
            }
        }
        match self.discard_input(&mut cx.scratch[..]) {
            Ok(true) if self.written == self.answer.len() => Next::Close(CloseReason::PeerClosed),
            // The client closed before the answer was out: it is still
            // sent, and the connection closes once it is (or at the
            // deadline).
            Ok(_) => Next::Wait,
            Err(e) => Next::Close(CloseReason::Error(e)),
        }
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        &mut self.stream
    }

    fn memory(&self) -> usize {
        std::mem::size_of::<WhoamiAnswer>() + self.answer.capacity()
    }

    fn deadline(&self) -> Option<Instant> {
        Some(self.deadline)
    }

    fn time_out(&mut self) -> CloseReason {
        CloseReason::Idle
    }
}
