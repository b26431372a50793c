//! WebSocket for the load (`--websocket`): RFC 6455 framing over another
//! transport (the socket, or a TLS session with `--tls`), as a transport
//! itself: [`WsSession`] for the polling modes (pingpong, pipeline, bulk);
//! churn's blocking connections (`blocking.rs`) frame and unframe through
//! the same [`Framing`].
//!
//! - **The handshake** is the opening handshake: an HTTP/1.1 upgrade
//!   request, and the server's `101` with the right
//!   `Sec-WebSocket-Accept`, after the TLS handshake if any. In the
//!   polling modes it runs before the start line (`worker.rs`), so it
//!   counts in no message's latency, as TLS's does not; churn counts it in
//!   every lifecycle, as it counts the connect.
//! - **Writing** sends each write as one binary message of one frame,
//!   masked as a client's must be (at most [`MAX_FRAME`] bytes a frame;
//!   the load's messages are smaller). A frame the socket had no room
//!   for is kept whole and goes out first with the next write or flush.
//! - **Reading** strips the server's frame headers and hands out their
//!   payloads, in order: the echo's bytes, checked as any echo's are. The
//!   server may cut a message into other frames than ours; the bytes are
//!   the same. A close frame from the server is the end of the stream.
//!
//! The mask is fixed per connection rather than drawn for each frame: the
//! load must not measure a random number generator, and no proxy between
//! a load tool and its echo server caches anything (the reason RFC 6455
//! asks for unpredictable masks).

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU32, Ordering};

use mio::net::TcpStream;

use crate::tcp::Transport;

/// The largest frame written; a longer write is taken in part.
pub const MAX_FRAME: usize = 64 << 10;

/// A client's key: 16 bytes in base64, RFC 6455's sample (the server's
/// answer is checked against its known accept key).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The longest answer to the upgrade accepted.
const MAX_ANSWER: usize = 4096;

/// One connection's framing: its mask, the server frame being read, and
/// the upgrade's answer until it is whole.
pub struct Framing {
    pub mask: [u8; 4],
    /// The answer to the upgrade so far, until it is whole.
    answer: Vec<u8>,
    /// The upgrade was answered with `101`.
    upgraded: bool,
    /// Frame bytes that came with the answer, read before the socket.
    early: Vec<u8>,
    /// The server frame's header so far.
    header: [u8; 10],
    have: usize,
    /// Payload bytes of the server's current frame still to come.
    left: u64,
    /// The current frame is a control frame: its payload is skipped.
    control: bool,
    /// The server's close frame came: every read from now on is the end.
    closed: bool,
}

impl Framing {
    /// A connection's framing, with a mask of its own.
    pub fn new() -> Framing {
        static CONNECTIONS: AtomicU32 = AtomicU32::new(1);
        let number = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        Framing {
            mask: (0x9e37_79b9u32.wrapping_mul(number) | 1).to_be_bytes(),
            answer: Vec::new(),
            upgraded: false,
            early: Vec::new(),
            header: [0; 10],
            have: 0,
            left: 0,
            control: false,
            closed: false,
        }
    }

    /// The upgrade request.
    pub fn request() -> Vec<u8> {
        format!(
            "GET / HTTP/1.1\r\nHost: echo\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .into_bytes()
    }

    /// Takes `bytes` of the upgrade's answer; true once it is whole and is
    /// `101` with our accept key (what follows it is kept as frames).
    pub fn take_answer(&mut self, bytes: &[u8]) -> io::Result<bool> {
        self.answer.extend_from_slice(bytes);
        let Some(end) = self.answer.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.answer.len() > MAX_ANSWER {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the answer to the WebSocket upgrade is over 4 KiB",
                ));
            }
            return Ok(false);
        };
        let head = String::from_utf8_lossy(&self.answer[..end]).into_owned();
        let accepted = head.starts_with("HTTP/1.1 101 ")
            && head.lines().any(|line| {
                line.split_once(':').is_some_and(|(name, value)| {
                    name.eq_ignore_ascii_case("sec-websocket-accept") && value.trim() == ACCEPT
                })
            });
        if !accepted {
            let first = head.lines().next().unwrap_or("").to_string();
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the WebSocket upgrade was refused: {first}"),
            ));
        }
        self.early = self.answer.split_off(end + 4);
        self.answer = Vec::new();
        self.upgraded = true;
        Ok(true)
    }

    /// Appends `bytes` to `out` as one masked binary frame.
    pub fn frame(&self, out: &mut Vec<u8>, bytes: &[u8]) {
        out.push(0x82);
        match bytes.len() {
            len @ 0..=125 => out.push(0x80 | len as u8),
            len @ 126..=0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&self.mask);
        let mask = self.mask;
        out.extend(bytes.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    }

    /// Moves frame bytes that came with the answer into `buf`; answers how
    /// many (0: none left).
    pub fn take_early(&mut self, buf: &mut [u8]) -> usize {
        let n = self.early.len().min(buf.len());
        buf[..n].copy_from_slice(&self.early[..n]);
        self.early.drain(..n);
        n
    }

    /// Reads the next payload bytes of the server's frames from `inner`
    /// into `buf` (frame bytes that came with the answer first); 0 at the
    /// server's close frame or end of stream.
    pub fn read_payload(&mut self, inner: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.ended() {
                return Ok(0);
            }
            let n = match self.take_early(buf) {
                0 => match inner.read(buf)? {
                    0 => return Ok(0),
                    n => n,
                },
                n => n,
            };
            match self.unframe(buf, n) {
                0 => continue,
                kept => return Ok(kept),
            }
        }
    }

    /// Strips frame headers from `buf[..n]` in place; answers how many
    /// payload bytes are left at its start.
    pub fn unframe(&mut self, buf: &mut [u8], n: usize) -> usize {
        let (mut at, mut kept) = (0, 0);
        while at < n {
            if self.left == 0 && self.closed {
                // Nothing follows a close frame.
                break;
            }
            if self.left == 0 {
                // A header: 2 bytes, then its length's.
                self.header[self.have] = buf[at];
                self.have += 1;
                at += 1;
                let need = match self.header[1] & 0x7F {
                    _ if self.have < 2 => 2,
                    126 => 4,
                    127 => 10,
                    _ => 2,
                };
                if self.have < need {
                    continue;
                }
                let h = &self.header;
                self.left = match need {
                    4 => u16::from_be_bytes([h[2], h[3]]) as u64,
                    10 => u64::from_be_bytes(h[2..10].try_into().expect("8 bytes")),
                    _ => (h[1] & 0x7F) as u64,
                };
                let opcode = h[0] & 0x0F;
                self.control = opcode >= 0x8;
                self.closed |= opcode == 0x8;
                self.have = 0;
                continue;
            }
            let take = (n - at).min(usize::try_from(self.left).unwrap_or(usize::MAX));
            if !self.control {
                buf.copy_within(at..at + take, kept);
                kept += take;
            }
            at += take;
            self.left -= take as u64;
        }
        kept
    }

    /// The server's close frame has been read whole: the end.
    pub fn ended(&self) -> bool {
        self.closed && self.left == 0
    }
}

/// A WebSocket client over a polled transport `T`.
pub struct WsSession<T> {
    inner: T,
    framing: Framing,
    /// Bytes to send (the request, then frames), `out[sent..]` still out.
    out: Vec<u8>,
    sent: usize,
}

impl<T: Transport> WsSession<T> {
    /// A session over `inner`, its upgrade not started (its request waits
    /// to be sent).
    pub fn new(inner: T) -> WsSession<T> {
        WsSession {
            inner,
            framing: Framing::new(),
            out: Framing::request(),
            sent: 0,
        }
    }

    /// Writes `out[sent..]` until it is out (true) or the socket is full.
    fn send_out(&mut self) -> io::Result<bool> {
        while self.sent < self.out.len() {
            match self.inner.write(&self.out[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.sent = 0;
        Ok(true)
    }

    /// Reads what has come of the upgrade's answer; true once it is whole
    /// and accepted.
    fn read_answer(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; 1024];
        loop {
            let n = match self.inner.read(&mut buf) {
                Ok(0) => return Err(upgrade_cut()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if self.framing.take_answer(&buf[..n])? {
                return Ok(true);
            }
        }
    }
}

/// The server's end of stream before its answer to the upgrade.
fn upgrade_cut() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the server closed the connection during the WebSocket upgrade",
    )
}

impl<T: Transport> Read for WsSession<T> {
    /// The echo's payload bytes, or 0 at the server's close frame or end
    /// of stream.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.framing.read_payload(&mut self.inner, buf)
    }
}

impl<T: Transport> Write for WsSession<T> {
    /// Frames `bytes` (up to [`MAX_FRAME`] of them) as one binary message
    /// and sends it; `WouldBlock` while an earlier frame is not out.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if !self.send_out()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let take = bytes.len().min(MAX_FRAME);
        self.framing.frame(&mut self.out, &bytes[..take]);
        self.send_out()?;
        Ok(take)
    }

    /// Sends the frame an earlier write left, then what the transport
    /// holds.
    fn flush(&mut self) -> io::Result<()> {
        match self.send_out()? {
            true => self.inner.flush(),
            false => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl<T: Transport> Transport for WsSession<T> {
    /// Frames' headers are taken out of what is read.
    const SHORT_READ_DRAINS: bool = false;

    fn socket(&mut self) -> &mut TcpStream {
        self.inner.socket()
    }

    /// The transport's own handshake (TLS), then the upgrade: the request
    /// sent, the answer read and checked.
    fn handshake(&mut self) -> io::Result<bool> {
        if self.framing.upgraded {
            return Ok(true);
        }
        if !self.inner.handshake()? || !self.send_out()? {
            return Ok(false);
        }
        self.read_answer()
    }

    fn handshaking(&self) -> bool {
        !self.framing.upgraded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_frames_are_stripped_wherever_the_reads_cut_them() {
        let mut frames = vec![0x82, 5];
        frames.extend_from_slice(b"hello");
        frames.extend_from_slice(&[0x00, 126, 0, 200]);
        frames.extend(std::iter::repeat_n(b'x', 200));
        frames.extend_from_slice(&[0x8A, 2, b'p', b'!']); // a pong, skipped
        frames.extend_from_slice(&[0x80, 0]);
        frames.extend_from_slice(&[0x88, 2, 0x03, 0xE8, 0x82, 1, b'?']); // close, then nothing
        let mut expected = b"hello".to_vec();
        expected.extend(std::iter::repeat_n(b'x', 200));
        for cut in 1..frames.len() {
            let mut framing = Framing::new();
            let mut got = Vec::new();
            for piece in frames.chunks(cut) {
                let mut buf = piece.to_vec();
                let kept = framing.unframe(&mut buf, piece.len());
                got.extend_from_slice(&buf[..kept]);
            }
            assert_eq!(got, expected, "cut every {cut}");
            assert!(framing.ended());
        }
    }

    #[test]
    fn a_refused_upgrade_says_its_status() {
        let mut framing = Framing::new();
        let refused = framing
            .take_answer(b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n")
            .unwrap_err();
        assert!(
            refused.to_string().contains("426 Upgrade Required"),
            "{refused}"
        );
        let mut framing = Framing::new();
        assert!(!framing.take_answer(b"HTTP/1.1 101 Switching").unwrap());
        let mut rest = format!(" Protocols\r\nSec-WebSocket-Accept: {ACCEPT}\r\n\r\n").into_bytes();
        rest.extend_from_slice(b"\x82\x01!");
        assert!(framing.take_answer(&rest).unwrap());
        assert_eq!(framing.early, b"\x82\x01!");
    }
}
