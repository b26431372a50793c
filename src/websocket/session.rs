//! An open WebSocket: client frames in, echo frames out, with no I/O of
//! its own, so the plain stage and the TLS stage drive the same code.
//!
//! [`Session::process`] takes the bytes that arrived (unmasking them in
//! place) and writes what the server answers into an [`Out`] buffer:
//! each data frame's payload echoed as it comes, as frames of the same
//! message (text as text, binary as binary), a pong for each ping, and a
//! close frame to end. What it keeps between two reads is the state of the
//! frame in progress: a header cut short (at most 14 bytes), how much of
//! a frame's payload has passed, the UTF-8 state of a text message, and a
//! control frame's payload while it arrives (at most 125 bytes, freed as
//! soon as it is answered). No data payload is ever kept.

use super::frame::{
    is_sendable_close_code, unmask, write_header, BadHeader, Header, HeaderReader, Opcode,
    MAX_CONTROL_PAYLOAD, MAX_OUT_HEADER,
};
use super::utf8::Utf8Check;
use crate::stats::{Stats, WsClose};

/// How much more than it reads one call of [`Session::process`] may
/// write: a frame piece's header (10 bytes), a control frame gathered
/// over earlier reads and answered now (2 + 125), and a close frame (4).
/// Every frame that starts within the bytes read writes less than it
/// read: a client's header is 4 bytes longer than the server's (its mask).
pub const OUT_SLACK: usize = 256;

/// Status codes the server sends (RFC 6455, 7.4.1).
pub mod code {
    /// The peer asked to close, and the server agrees.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text message (or a close reason) is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// A message over `--ws-max-message`.
    pub const TOO_BIG: u16 = 1009;
}

/// The bytes the server answers with, written into a buffer lent for the
/// call. The caller sizes it to the bytes it reads plus [`OUT_SLACK`].
pub struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Out<'a> {
    /// Answers written into `buf`, from its start.
    pub fn new(buf: &'a mut [u8]) -> Out<'a> {
        Out { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends raw bytes (the handshake's answer).
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Appends one unmasked frame.
    fn frame(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) {
        let head = &mut self.buf[self.len..self.len + MAX_OUT_HEADER];
        self.len += write_header(head, fin, opcode, payload.len());
        self.bytes(payload);
    }
}

/// Whether frames still flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Frames are read and echoed.
    Open,
    /// Our close frame is written: nothing more is read as frames, and the
    /// connection ends once it is out.
    Closed,
}

/// A data frame whose payload is passing through.
#[derive(Debug, Clone, Copy)]
struct Frame {
    header: Header,
    /// Payload bytes read so far.
    done: u64,
}

/// A data message in progress, possibly over several frames.
#[derive(Debug, Clone, Copy)]
struct Message {
    /// Text: its payload must be UTF-8, checked as it passes.
    utf8: Option<Utf8Check>,
    /// Payload bytes so far, against the size limit.
    size: u64,
    /// Its first echo frame is out: the next are continuations.
    echo_started: bool,
}

/// One open WebSocket connection's protocol state.
#[derive(Debug)]
pub struct Session {
    header: HeaderReader,
    frame: Option<Frame>,
    message: Option<Message>,
    /// A control frame's payload as it arrives (empty, unallocated, while
    /// none does).
    control: Vec<u8>,
    state: State,
    max_message: u64,
}

impl Session {
    /// A session just opened, refusing messages over `max_message` bytes.
    pub fn new(max_message: usize) -> Session {
        Session {
            header: HeaderReader::default(),
            frame: None,
            message: None,
            control: Vec::new(),
            state: State::Open,
            max_message: max_message as u64,
        }
    }

    /// Frames still flow.
    pub fn state(&self) -> State {
        self.state
    }

    /// Bytes it holds on the heap: a control frame's payload in progress.
    pub fn memory(&self) -> usize {
        self.control.capacity()
    }

    /// Reads `input` (unmasked in place) and writes the answers to `out`.
    pub fn process(&mut self, input: &mut [u8], out: &mut Out, stats: &mut Stats) {
        let mut at = 0;
        while self.state == State::Open && at < input.len() {
            let step = match self.frame {
                None => {
                    let (taken, header) = self.header.feed(&input[at..]);
                    at += taken;
                    match header {
                        None => Ok(()),
                        Some(Ok(header)) => self.begin(header, out, stats),
                        Some(Err(bad)) => Err(protocol_error(bad)),
                    }
                }
                Some(mut frame) => {
                    let left = frame.header.len - frame.done;
                    let n = left.min((input.len() - at) as u64) as usize;
                    let piece = &mut input[at..at + n];
                    at += n;
                    unmask(piece, frame.header.mask, frame.done);
                    frame.done += n as u64;
                    let last = frame.done == frame.header.len;
                    self.frame = (!last).then_some(frame);
                    if frame.header.opcode.is_control() {
                        self.control.extend_from_slice(piece);
                        match last {
                            true => self.control(frame.header.opcode, out, stats),
                            false => Ok(()),
                        }
                    } else {
                        self.echo_piece(piece, last && frame.header.fin, out, stats)
                    }
                }
            };
            if let Err(failure) = step {
                self.close_with(failure, out, stats);
            }
        }
    }

    /// Shutdown: a close frame with 1001 (going away), if none was sent.
    pub fn go_away(&mut self, out: &mut Out, stats: &mut Stats) {
        if self.state == State::Open {
            self.close_with(code::GOING_AWAY, out, stats);
        }
    }

    /// A frame's header is whole: check it against the message in progress
    /// and the size limit, and start its payload.
    fn begin(&mut self, header: Header, out: &mut Out, stats: &mut Stats) -> Result<(), u16> {
        let frame = Frame { header, done: 0 };
        if header.opcode.is_control() {
            if header.len == 0 {
                return self.control(header.opcode, out, stats);
            }
            self.control.reserve_exact(header.len as usize);
            self.frame = Some(frame);
            return Ok(());
        }
        let message = match (header.opcode, &mut self.message) {
            (Opcode::Continuation, Some(message)) => message,
            (Opcode::Text | Opcode::Binary, None) => self.message.insert(Message {
                utf8: (header.opcode == Opcode::Text).then(Utf8Check::default),
                size: 0,
                echo_started: false,
            }),
            // A continuation with no message begun, or a new message
            // before the last one's final frame.
            _ => return Err(code::PROTOCOL_ERROR),
        };
        message.size = message.size.saturating_add(header.len);
        if message.size > self.max_message {
            return Err(code::TOO_BIG);
        }
        if header.len == 0 {
            return self.echo_piece(&[], header.fin, out, stats);
        }
        self.frame = Some(frame);
        Ok(())
    }

    /// Echoes the next `piece` of the message's payload as a frame of its
    /// own; `ends_message` when it is the final frame's last byte.
    fn echo_piece(
        &mut self,
        piece: &[u8],
        ends_message: bool,
        out: &mut Out,
        stats: &mut Stats,
    ) -> Result<(), u16> {
        let message = self.message.as_mut().expect("begin() started one");
        if let Some(utf8) = &mut message.utf8 {
            utf8.feed(piece).map_err(|_| code::INVALID_DATA)?;
            if ends_message {
                utf8.finish().map_err(|_| code::INVALID_DATA)?;
            }
        }
        let opcode = match (message.echo_started, message.utf8.is_some()) {
            (true, _) => Opcode::Continuation,
            (false, true) => Opcode::Text,
            (false, false) => Opcode::Binary,
        };
        out.frame(ends_message, opcode, piece);
        message.echo_started = true;
        stats.ws_payload_in += piece.len() as u64;
        stats.ws_payload_out += piece.len() as u64;
        if ends_message {
            self.message = None;
            stats.ws_messages_in += 1;
            stats.ws_messages_out += 1;
        }
        Ok(())
    }

    /// A control frame is whole (its payload in `self.control`): answer it.
    fn control(&mut self, opcode: Opcode, out: &mut Out, stats: &mut Stats) -> Result<(), u16> {
        let payload = std::mem::take(&mut self.control);
        debug_assert!(payload.len() <= MAX_CONTROL_PAYLOAD);
        match opcode {
            Opcode::Ping => {
                out.frame(true, Opcode::Pong, &payload);
                stats.ws_pings += 1;
                Ok(())
            }
            Opcode::Pong => Ok(()),
            Opcode::Close => self.peer_closed(&payload, out, stats),
            _ => unreachable!("only control opcodes come here"),
        }
    }

    /// The peer's close frame: echo its status code (none for none), or
    /// fail if the frame is malformed.
    fn peer_closed(&mut self, payload: &[u8], out: &mut Out, stats: &mut Stats) -> Result<(), u16> {
        match payload {
            [] => {
                out.frame(true, Opcode::Close, &[]);
                stats.ws_closes[WsClose::NoCode] += 1;
                self.state = State::Closed;
                Ok(())
            }
            [_] => Err(code::PROTOCOL_ERROR),
            [high, low, reason @ ..] => {
                let status = u16::from_be_bytes([*high, *low]);
                if !is_sendable_close_code(status) {
                    return Err(code::PROTOCOL_ERROR);
                }
                if std::str::from_utf8(reason).is_err() {
                    return Err(code::INVALID_DATA);
                }
                self.close_with(status, out, stats);
                Ok(())
            }
        }
    }

    /// Writes our close frame with `status`, and reads no more frames. Every
    /// frame written before it is whole: a piece is written only once its
    /// payload has passed every check.
    fn close_with(&mut self, status: u16, out: &mut Out, stats: &mut Stats) {
        out.frame(true, Opcode::Close, &status.to_be_bytes());
        stats.ws_closes[WsClose::of(status)] += 1;
        self.state = State::Closed;
        self.frame = None;
        self.message = None;
        self.control = Vec::new();
    }
}

/// The close code a refused header fails the connection with.
fn protocol_error(_bad: BadHeader) -> u16 {
    code::PROTOCOL_ERROR
}

impl WsClose {
    /// The counter a close frame with `status` is counted under.
    pub(crate) fn of(status: u16) -> WsClose {
        match status {
            code::NORMAL => WsClose::Normal,
            code::GOING_AWAY => WsClose::GoingAway,
            code::PROTOCOL_ERROR => WsClose::ProtocolError,
            code::INVALID_DATA => WsClose::InvalidData,
            code::TOO_BIG => WsClose::TooBig,
            _ => WsClose::Other,
        }
    }
}
