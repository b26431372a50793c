//! WebSocket echo (`--ws-listen`, `--wss-listen`): RFC 6455 in the same
//! reactor, every message echoed as it came.
//!
//! A WebSocket listener's connections are a stage of their own, boxed in
//! the slab like TLS ones, so the plain connection's 16-byte slot and its
//! path are untouched. A connection passes through three phases:
//!
//! 1. **The upgrade request** ([`handshake`]): an HTTP/1.1 request,
//!    bounded as the metrics endpoint's are (8 KiB, 5 s), answered with
//!    `101` and the session opens, or with the right refusal (400, 404,
//!    405, 426, 431, 408) and the connection ends. A plain `GET /` gets a
//!    small page that tries the echo from a browser (`page.html`).
//! 2. **The session** ([`session`]): frames in, echo frames out.
//! 3. **The end**: our close frame, then our FIN (the server closes the
//!    TCP connection first, RFC 6455 7.1.1), then the client's last bytes
//!    read and dropped until its end of stream.
//!
//! # Frame by frame, not reassembled
//!
//! Each data frame's payload is echoed as it arrives: the bytes of one
//! read, unmasked in place, go out as one frame of the same message (text
//! as text, binary as binary; the first frame with the message's opcode,
//! the rest as continuations, the last with FIN). A message is thus never
//! whole in memory, whatever its size, and an open connection keeps no
//! buffer of its own: only the frame state (a header cut short, how much
//! payload has passed, a text message's UTF-8 state, a control frame's
//! payload while it arrives, at most 125 bytes). The echo may cut a
//! message into other frames than the client's, which RFC 6455 allows any
//! intermediary to do (5.4): the messages, their types and their bytes
//! are the same. Reassembling would cost a buffer of up to
//! `--ws-max-message` per connection for nothing the client can see.
//!
//! Text is checked as it passes (`utf8`), across reads and fragments: a
//! piece goes out only once it has passed, so a message found invalid
//! midway is failed with 1007 after whole frames only, never inside one.
//!
//! # Errors and limits
//!
//! Unmasked client frames, reserved bits (no extension is negotiated),
//! reserved opcodes, control frames fragmented or over 125 bytes, a
//! continuation with no message begun or a new message inside one, a
//! malformed close frame: 1002. Invalid UTF-8 in a text message or a close
//! reason: 1007. A message over `--ws-max-message`: 1009, as soon as a
//! frame header announces it, before its payload is read. A 64-bit length
//! with its top bit set (2^63 bytes or more) is refused as soon as its
//! first byte arrives. A ping is answered with a pong of the same payload;
//! a pong is ignored. A close frame is answered with a close frame with
//! the same status code (or none, if it had none). At shutdown an open
//! session gets a close frame with 1001.
//!
//! # permessage-deflate: declined
//!
//! The handshake accepts no extension, so clients that offer
//! permessage-deflate (browsers, Python's `websockets`) speak plain
//! frames. Compressing would cost each connection zlib's windows (tens of
//! KiB each way, for its whole life unless context takeover is refused),
//! which is most of an idle connection's memory many times over, and an
//! echo would decompress only to compress the same bytes again.
//!
//! # Over TLS
//!
//! `--wss-listen` runs the same session inside the TLS stage: the
//! decrypted bytes are what the session reads, and its answers are what
//! is encrypted back.

pub(crate) mod connection;
pub(crate) mod endpoint;
pub(crate) mod frame;
pub(crate) mod handshake;
pub(crate) mod session;
pub(crate) mod utf8;

use std::time::Instant;

pub(crate) use connection::WsConnection;
pub(crate) use endpoint::{Endpoint, Then, HALF};

use crate::serve::{CloseReason, Context, Next, Ready, Stage};

/// The default size limit of one message (`--ws-max-message`): 16 MiB.
/// The echo keeps no message whole, so the limit bounds what a client
/// may make the server stream back, not memory.
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// A WebSocket connection as the loop sees it: a client's connection,
/// with a deadline while its upgrade request is arriving.
impl Stage for WsConnection {
    fn serve(&mut self, ready: Ready, cx: &mut Context) -> Next {
        WsConnection::serve(self, ready, cx)
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        self.stream_mut()
    }

    fn queued(&mut self) -> Option<&mut bool> {
        Some(&mut self.queued)
    }

    fn memory(&self) -> usize {
        WsConnection::memory(self)
    }

    fn deadline(&self) -> Option<Instant> {
        WsConnection::deadline(self)
    }

    fn time_out(&mut self) -> CloseReason {
        WsConnection::time_out(self)
    }

    fn drain(&mut self, cx: &mut Context) -> Next {
        WsConnection::drain(self, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_session_costs_its_box_and_nothing_else() {
        let size = std::mem::size_of::<WsConnection>();
        eprintln!("size_of::<WsConnection>() = {size}");
        // The socket, the frame state, an empty pending `Option<Box<_>>`
        // and an unallocated control buffer: no buffer of its own.
        assert!(size <= 192, "{size}");
    }
}
