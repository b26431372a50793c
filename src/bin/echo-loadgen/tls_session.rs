//! TLS for the polling modes (`--tls` with pingpong, pipeline and bulk):
//! a rustls client session over a non-blocking socket, as the
//! [`Transport`] a connection's bytes go through. A type of its own, so
//! that the plain connection keeps the socket's own calls (`tcp.rs`).
//!
//! Driven from edge-triggered readiness, it never stops before the socket
//! says `WouldBlock`:
//!
//! - **Reading** hands out what the session decrypted earlier first; when
//!   it has nothing, reads records from the socket (`read_tls`) and
//!   decrypts them (`process_new_packets`), until there is plaintext or
//!   the socket is empty. A read shorter than the buffer says nothing
//!   about the socket (a record holds at most 16 KiB), so the connection
//!   reads on to `WouldBlock` ([`Transport::SHORT_READ_DRAINS`]).
//! - **Writing** encrypts plaintext into the session (`writer`) and pushes
//!   the records out (`write_tls`) until they are all out or the socket
//!   is full. Records the socket had no room for stay in the session, and
//!   `flush` sends them on the next writable edge, even when the
//!   connection has no new plaintext to write: the connection flushes on
//!   every event (it is registered for both directions).
//! - **Bounds.** The session's outgoing buffers hold at most
//!   [`BUFFER_LIMIT`] bytes (`set_buffer_limit`): once full, `write` takes
//!   no more plaintext until the socket takes records. Decrypted bytes are
//!   always taken out before the next `read_tls`, so what rustls keeps of
//!   the incoming side stays within one read too.
//!
//! **The handshake.** The connections are opened before the threads
//! start, and nothing is measured until every thread is at the start
//! line; each thread runs the handshakes of its connections, all at once
//! from its own poll, before it goes to the start line (`worker.rs`). So a
//! handshake counts in no message's latency and no rate, as a plain
//! connection's connect does not. A handshake that fails (a certificate
//! not trusted, say) ends its connection, an I/O error whose reason is
//! printed beside the report (exit status 1); one that ends in the
//! server's end of stream is an unexpected EOF.
//!
//! **The end of stream.** The server's `close_notify`, and an end of stream
//! without one, are both an end of stream to the connection, which
//! expects neither: it counts an unexpected EOF either way.

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use rustls::ClientConnection;

use crate::tcp::Transport;
use crate::tls::TlsClient;

/// Most bytes the session holds to send (records not yet written, or
/// plaintext written during the handshake), as rustls's own default:
/// beyond the socket's send queue, more would only add to the memory.
const BUFFER_LIMIT: usize = 64 << 10;

/// A TLS client session over a non-blocking socket.
pub struct TlsSession {
    socket: TcpStream,
    session: ClientConnection,
}

impl TlsSession {
    /// A session of `client`'s over `socket`, its handshake not started:
    /// [`Transport::handshake`] sends its first flight.
    pub fn new(client: &TlsClient, socket: TcpStream) -> io::Result<TlsSession> {
        let mut session = client.session()?;
        session.set_buffer_limit(Some(BUFFER_LIMIT));
        Ok(TlsSession { socket, session })
    }

    /// Writes the session's records until they are all out (true) or the
    /// socket is full (false).
    fn send_records(&mut self) -> io::Result<bool> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.socket) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Decrypts the records read; an error (a certificate not trusted, a
    /// record that does not decrypt) is `InvalidData`, naming the step,
    /// after the alert rustls queued for the server was sent if the socket
    /// took it.
    fn decrypt(&mut self) -> io::Result<()> {
        let handshaking = self.session.is_handshaking();
        if let Err(e) = self.session.process_new_packets() {
            let _ = self.send_records();
            let step = if handshaking {
                "the TLS handshake"
            } else {
                "TLS"
            };
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{step}: {e}"),
            ));
        }
        Ok(())
    }
}

impl Read for TlsSession {
    /// Plaintext, or 0 at the server's `close_notify` or end of stream.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.session.reader().read(buf) {
                Ok(n) => return Ok(n),
                // An end of stream without `close_notify`: an end all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {} // none decrypted yet
                Err(e) => return Err(e),
            }
            // 0: the end of stream, which the reader reports next time round.
            self.session.read_tls(&mut self.socket)?;
            self.decrypt()?;
        }
    }
}

impl Write for TlsSession {
    /// Takes as much of `bytes` as the session has room for, and sends
    /// records as it goes: fewer than all only once the socket is full
    /// (or, during the handshake, the session's buffer), `WouldBlock` if
    /// none.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut taken = 0;
        loop {
            let more = self.session.writer().write(&bytes[taken..])?;
            taken += more;
            let all_out = self.send_records()?;
            // Nothing taken with every record out: the handshake holds the
            // plaintext back, and its buffer is full.
            if !all_out || more == 0 || taken == bytes.len() {
                break;
            }
        }
        match taken {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            taken => Ok(taken),
        }
    }

    /// Sends the records earlier writes left in the session.
    fn flush(&mut self) -> io::Result<()> {
        match self.send_records()? {
            true => Ok(()),
            false => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Transport for TlsSession {
    /// Decrypted records come a record (at most 16 KiB) at a time.
    const SHORT_READ_DRAINS: bool = false;

    fn socket(&mut self) -> &mut TcpStream {
        &mut self.socket
    }

    /// Sends what the session has to say, reads and decrypts what the
    /// server said, and again, until the handshake is done or the socket
    /// has nothing more to read. The server's end of stream before the
    /// end is `UnexpectedEof`.
    fn handshake(&mut self) -> io::Result<bool> {
        loop {
            // Records the socket has no room for go out with the first
            // flush of the run.
            self.send_records()?;
            if !self.session.is_handshaking() {
                return Ok(true);
            }
            match self.session.read_tls(&mut self.socket) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection during the TLS handshake",
                    ))
                }
                Ok(_) => self.decrypt()?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn handshaking(&self) -> bool {
        self.session.is_handshaking()
    }
}
