//! A connection that keeps a receipt: its entry, wrapped.
//!
//! Receipts (`--access-log`, whoami listeners) must cost nothing when they
//! are off, and the plain connection's slot is 16 bytes that a receipt
//! cannot fit in. So a connection that keeps one is a [`Recorded`] entry:
//! its own entry (a plain connection, a PROXY header in progress, a TLS
//! session) boxed beside its [`Receipt`], a [`Stage`] that hands every
//! question to the entry inside and counts the bytes each call moved. The
//! reactor's hot path never sees it: a recorded plain connection is served
//! through the stage path, and an unrecorded one is as before.
//!
//! The receipt moves with the connection: when the entry inside hands off
//! (its PROXY header is complete), the reactor takes the receipt out, lets
//! the old stage describe what it learned, and wraps the next stage with
//! it (`Reactor::hand_off`); when the connection closes, the reactor
//! finishes it and writes it out (`Reactor::close`).

use std::time::Instant;

use super::entry::Entry;
use super::Reactor;
use crate::banner::Banner;
use crate::receipt::{Ending, Receipt, TcpInfo};
use crate::serve::{CloseReason, Context, Next, Ready, Role, Stage};

/// What wrapping an entry with a receipt costs, as charged to the memory
/// budget: the box, and the receipt's own boxes (a PROXY header's TLVs, a
/// TLS session's names) at their usual size.
pub(crate) const RECEIPT_MEMORY: usize = std::mem::size_of::<Recorded>() + 512;

/// A connection's entry and its receipt.
pub(crate) struct Recorded {
    /// The connection's own entry (never a listener, never another
    /// `Recorded`).
    pub(crate) inner: Entry,
    /// What it has shown so far.
    pub(crate) receipt: Receipt,
    /// What a TLS connection sends once its handshake is done.
    pub(crate) after_handshake: Option<AfterHandshake>,
    /// A whoami answer over TLS is queued: say goodbye once it is out.
    goodbye: bool,
}

/// What a recorded TLS connection sends once its handshake is done, from
/// what the handshake settled.
pub(crate) enum AfterHandshake {
    /// Its banner, which names `{sni}` or `{alpn}`.
    Greet(Banner),
    /// Its receipt, as a whoami answer (`--whoami-tls-listen`), then its
    /// `close_notify`.
    Answer,
}

impl Recorded {
    /// `inner`, keeping `receipt`.
    pub(crate) fn new(inner: Entry, receipt: Receipt) -> Recorded {
        Recorded {
            inner,
            receipt,
            after_handshake: None,
            goodbye: false,
        }
    }

    /// Once the handshake of a TLS connection is done: what it sends
    /// first (a banner, a whoami answer), rendered from what the handshake
    /// settled. Returns whether something was queued (the connection must
    /// then be served again to send it).
    fn after_handshake(&mut self, max_pending: usize) -> bool {
        let Entry::Tls(conn) = &mut self.inner else {
            return false;
        };
        if conn.is_handshaking() {
            return false;
        }
        let Some(step) = self.after_handshake.take() else {
            return false;
        };
        self.receipt.tls = Some(Box::new(conn.seen()));
        let first = match step {
            AfterHandshake::Greet(banner) => banner.render(None, Some(&self.receipt)),
            AfterHandshake::Answer => {
                self.goodbye = true;
                let mut answer = self.receipt.to_json(Instant::now(), None).to_string();
                answer.push('\n');
                answer.into_bytes()
            }
        };
        conn.greet(&first, max_pending);
        true
    }

    /// A whoami answer over TLS: once it is out, our `close_notify` (the
    /// session sends it when nothing is queued before it).
    fn say_goodbye(&mut self, next: Next, cx: &mut Context) -> Next {
        let Entry::Tls(conn) = &mut self.inner else {
            return next;
        };
        match conn.say_goodbye(cx) {
            Ok(_) => next,
            Err(e) => Next::Close(CloseReason::Error(e)),
        }
    }

    /// Runs `work` on the entry inside, adding the bytes it moved (as the
    /// counters saw them) to the receipt.
    pub(crate) fn counting<R>(
        &mut self,
        cx: &mut Context,
        work: impl FnOnce(&mut Entry, &mut Context) -> R,
    ) -> R {
        let (received, sent) = (cx.stats.bytes_in, cx.stats.bytes_out);
        let result = work(&mut self.inner, cx);
        self.receipt.bytes_received += cx.stats.bytes_in - received;
        self.receipt.bytes_sent += cx.stats.bytes_out - sent;
        result
    }

    /// The entry inside as a stage. Every entry but a listener is one, and
    /// a listener is never recorded.
    fn stage(&mut self) -> &mut dyn Stage {
        self.inner
            .stage()
            .expect("a recorded entry is a connection, not a listener")
    }

    /// The receipt, finished: what the stage inside knows, why it closed,
    /// and `TCP_INFO` read now, before the socket closes.
    pub(crate) fn finish(&mut self, reason: &CloseReason) -> String {
        let Recorded { inner, receipt, .. } = self;
        if let Some(stage) = inner.stage() {
            stage.describe(receipt);
        }
        let ending = Ending {
            reason,
            tcp_info: TcpInfo::read(receipt.socket),
        };
        receipt.to_json(Instant::now(), Some(ending)).to_string()
    }
}

impl Reactor {
    /// Runs `work` on the connection at `key` (the entry inside, if it
    /// keeps a receipt, which then counts the bytes `work` moved); `None`
    /// if the slot is empty. For the reactor's own calls into a
    /// connection outside `Stage` (its first bytes, resuming a parked one).
    pub(super) fn work_on<R>(
        &mut self,
        key: usize,
        work: impl FnOnce(&mut Entry, &mut Context) -> R,
    ) -> Option<R> {
        self.cx.key = key;
        match self.entries.get_mut(key)? {
            Entry::Recorded(recorded) => Some(recorded.counting(&mut self.cx, work)),
            entry => Some(work(entry, &mut self.cx)),
        }
    }
}

impl Stage for Recorded {
    fn serve(&mut self, ready: Ready, cx: &mut Context) -> Next {
        let serve = |ready: Ready| {
            move |inner: &mut Entry, cx: &mut Context| match inner.stage() {
                Some(stage) => stage.serve(ready, cx),
                None => Next::Wait,
            }
        };
        let mut next = self.counting(cx, serve(ready));
        if self.after_handshake.is_some()
            && !matches!(next, Next::Close(_))
            && self.after_handshake(cx.max_pending)
        {
            next = self.counting(cx, serve(Ready::ALL));
        }
        if self.goodbye && !matches!(next, Next::Close(_)) {
            next = self.say_goodbye(next, cx);
        }
        next
    }

    fn role(&self) -> Role {
        self.inner.role().unwrap_or(Role::Client)
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        self.stage().source()
    }

    fn queued(&mut self) -> Option<&mut bool> {
        self.inner.stage().and_then(|stage| stage.queued())
    }

    /// The entry's, and the receipt's own (charged when it was wrapped).
    fn memory(&self) -> usize {
        RECEIPT_MEMORY + self.inner.stage_ref().map_or(0, |stage| stage.memory())
    }

    fn deadline(&self) -> Option<Instant> {
        self.inner.stage_ref().and_then(|stage| stage.deadline())
    }

    fn wake_at(&self) -> Option<Instant> {
        self.inner.stage_ref().and_then(|stage| stage.wake_at())
    }

    fn time_out(&mut self) -> CloseReason {
        self.stage().time_out()
    }

    fn drain(&mut self, cx: &mut Context) -> Next {
        self.counting(cx, |inner, cx| match inner.stage() {
            Some(stage) => stage.drain(cx),
            None => Next::Close(CloseReason::Shutdown),
        })
    }

    fn said_goodbye(&self) -> bool {
        self.inner
            .stage_ref()
            .is_none_or(|stage| stage.said_goodbye())
    }

    fn describe(&mut self, receipt: &mut Receipt) {
        self.stage().describe(receipt)
    }
}
