//! A WebSocket connection's protocol from its first byte to its last,
//! with no socket: the upgrade request, then the session, then the end.
//! The plain stage ([`WsConnection`](super::WsConnection)) and the TLS
//! stage (`--wss-listen`) feed it what they read and send what it
//! answers, each through its own socket or session.
//!
//! Both read into the upper half of the shared scratch buffer and send
//! the answers it writes into the lower half ([`Endpoint::answer`]), so
//! no answer is ever copied into a buffer of the connection's own unless
//! the socket does not take it.

use log::debug;

use super::handshake::{self, Answer, Parsed};
use super::session::{Out, Session, State, OUT_SLACK};
use crate::http::MAX_REQUEST;
use crate::serve::{Context, SCRATCH_SIZE};
use crate::stats::{Stats, UpgradeRefusal};

/// Where the answers are written in the scratch buffer (its lower half);
/// reads land in the upper half, from here.
pub const HALF: usize = SCRATCH_SIZE / 2;

/// The most one read may take: its answers then never outgrow the lower
/// half (see [`OUT_SLACK`]).
pub const MAX_READ: usize = HALF - OUT_SLACK;

/// A WebSocket connection's protocol state.
pub struct Endpoint {
    phase: Phase,
    /// The largest message accepted (`--ws-max-message`).
    max_message: usize,
}

/// Where the connection is in its life.
enum Phase {
    /// The upgrade request is arriving.
    Upgrade(Vec<u8>),
    /// The handshake is done: frames flow (or the close was sent).
    Open(Session),
    /// An answer that ends the connection was written: a refusal, or the
    /// page (`None`).
    Answered(Option<UpgradeRefusal>),
}

/// What the connection does once its answers so far are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Read on.
    Read,
    /// An HTTP answer that ends the connection was written: a refusal
    /// (why), or the page (`None`). Close once it is out.
    Close(Option<UpgradeRefusal>),
    /// Our close frame was written: once it is out, our FIN, then the
    /// client's last bytes are read and dropped until its end of stream.
    Finish,
}

impl Endpoint {
    /// A connection whose upgrade request has not begun.
    pub fn new(max_message: usize) -> Endpoint {
        Endpoint {
            phase: Phase::Upgrade(Vec::new()),
            max_message,
        }
    }

    /// Its upgrade request is still arriving.
    pub fn is_upgrading(&self) -> bool {
        matches!(self.phase, Phase::Upgrade(_))
    }

    /// What follows once the answers so far are out.
    pub fn then(&self) -> Then {
        match &self.phase {
            Phase::Upgrade(_) => Then::Read,
            Phase::Open(session) if session.state() == State::Open => Then::Read,
            Phase::Open(_) => Then::Finish,
            Phase::Answered(refused) => Then::Close(*refused),
        }
    }

    /// The most the next read may take: all of [`MAX_READ`] but while
    /// the request arrives, one byte more than it may still grow (to see
    /// it overflow).
    pub fn read_limit(&self) -> usize {
        match &self.phase {
            Phase::Upgrade(request) => (MAX_REQUEST - request.len() + 1).min(MAX_READ),
            _ => MAX_READ,
        }
    }

    /// Bytes it holds on the heap: the request, or a control frame, in
    /// progress.
    pub fn memory(&self) -> usize {
        match &self.phase {
            Phase::Upgrade(request) => request.capacity(),
            Phase::Open(session) => session.memory(),
            Phase::Answered(_) => 0,
        }
    }

    /// Answers the `n` bytes read into the scratch buffer at [`HALF`]
    /// (at most [`MAX_READ`]); answers how many answer bytes it wrote at
    /// the start of the scratch buffer.
    pub fn answer(&mut self, n: usize, cx: &mut Context) -> usize {
        let (out, input) = cx.scratch.split_at_mut(HALF);
        let mut out = Out::new(out);
        let input = &mut input[..n];
        match &mut self.phase {
            Phase::Upgrade(request) => {
                request.extend_from_slice(input);
                let mut request = std::mem::take(request);
                self.upgrade(&mut request, &mut out, &mut cx.stats, cx.key);
                if let Phase::Upgrade(kept) = &mut self.phase {
                    *kept = request;
                }
            }
            Phase::Open(session) => session.process(input, &mut out, &mut cx.stats),
            Phase::Answered(_) => {}
        }
        out.len()
    }

    /// Shutdown: an open session writes a close frame with 1001 at the
    /// start of the scratch buffer; answers its length (0 if none).
    pub fn go_away(&mut self, cx: &mut Context) -> usize {
        let Phase::Open(session) = &mut self.phase else {
            return 0;
        };
        let mut out = Out::new(&mut cx.scratch[..HALF]);
        session.go_away(&mut out, &mut cx.stats);
        out.len()
    }

    /// What has arrived of the upgrade request: answered once whole (or
    /// too large), and frames that followed it read by the new session.
    fn upgrade(&mut self, request: &mut [u8], out: &mut Out, stats: &mut Stats, key: usize) {
        let (len, answer) = match handshake::parse(request) {
            Parsed::Partial if request.len() > MAX_REQUEST => {
                (request.len(), handshake::refuse(UpgradeRefusal::TooLarge))
            }
            Parsed::Partial => return,
            Parsed::Complete { len, answer } => (len, answer),
        };
        match answer {
            Answer::Upgrade(bytes) => {
                out.bytes(&bytes);
                stats.ws_upgrades += 1;
                debug!("token {key}: WebSocket upgraded");
                let mut session = Session::new(self.max_message);
                session.process(&mut request[len..], out, stats);
                self.phase = Phase::Open(session);
            }
            Answer::Page(bytes) => {
                out.bytes(&bytes);
                stats.ws_pages += 1;
                self.phase = Phase::Answered(None);
            }
            Answer::Refused(why, bytes) => {
                out.bytes(&bytes);
                debug!("token {key}: WebSocket upgrade refused: {why}");
                self.phase = Phase::Answered(Some(why));
            }
        }
    }
}
