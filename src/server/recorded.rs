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
    /// A TLS connection's banner, held until its handshake is done because
    /// it names what the handshake settled (`{sni}`, `{alpn}`).
    pub(crate) greeting: Option<Banner>,
}

impl Recorded {
    /// `inner`, keeping `receipt`.
    pub(crate) fn new(inner: Entry, receipt: Receipt) -> Recorded {
        Recorded {
            inner,
            receipt,
            greeting: None,
        }
    }

    /// Once the handshake of a TLS connection with a held banner is done:
    /// the banner, rendered from what the handshake settled, goes first.
    /// Returns whether it was queued (the connection must then be served
    /// again to send it).
    fn greet_after_handshake(&mut self, max_pending: usize) -> bool {
        let Entry::Tls(conn) = &mut self.inner else {
            return false;
        };
        if conn.is_handshaking() {
            return false;
        }
        let Some(banner) = self.greeting.take() else {
            return false;
        };
        self.receipt.tls = Some(Box::new(conn.seen()));
        conn.greet(&banner.render(None, Some(&self.receipt)), max_pending);
        true
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

impl Stage for Recorded {
    fn serve(&mut self, ready: Ready, cx: &mut Context) -> Next {
        let serve = |ready: Ready| {
            move |inner: &mut Entry, cx: &mut Context| match inner.stage() {
                Some(stage) => stage.serve(ready, cx),
                None => Next::Wait,
            }
        };
        let next = self.counting(cx, serve(ready));
        if self.greeting.is_some()
            && !matches!(next, Next::Close(_))
            && self.greet_after_handshake(cx.max_pending)
        {
            return self.counting(cx, serve(Ready::ALL));
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

    fn time_out(&mut self) -> CloseReason {
        self.stage().time_out()
    }

    fn drain(&mut self, cx: &mut Context) -> Next {
        self.counting(cx, |inner, cx| match inner.stage() {
            Some(stage) => stage.drain(cx),
            None => Next::Close(CloseReason::Shutdown),
        })
    }

    fn describe(&mut self, receipt: &mut Receipt) {
        self.stage().describe(receipt)
    }
}
