//! A TLS connection as a [`Stage`]: what the loop asks of it besides its
//! events (the serve-again queue, its handshake deadline, shutdown,
//! closing).

use std::time::Instant;

use super::connection::TlsConnection;
use crate::receipt::Receipt;
use crate::serve::{CloseReason, Context, Next, Ready, Stage};
use crate::stats::{HandshakeFailure, UpgradeRefusal};

impl Stage for TlsConnection {
    fn serve(&mut self, ready: Ready, cx: &mut Context) -> Next {
        TlsConnection::serve(self, ready, cx)
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        &mut self.stream
    }

    fn queued(&mut self) -> Option<&mut bool> {
        Some(&mut self.queued)
    }

    fn memory(&self) -> usize {
        self.charged
    }

    fn deadline(&self) -> Option<Instant> {
        self.handshake_deadline.or_else(|| {
            let inside = self.websocket.as_ref()?;
            inside.endpoint.is_upgrading().then_some(inside.deadline)
        })
    }

    fn time_out(&mut self) -> CloseReason {
        match self.is_handshaking() {
            true => CloseReason::TlsHandshake(HandshakeFailure::Timeout),
            false => CloseReason::WsUpgrade(UpgradeRefusal::Timeout),
        }
    }

    fn describe(&mut self, receipt: &mut Receipt) {
        if !self.is_handshaking() {
            receipt.tls = Some(Box::new(self.seen()));
        }
    }

    /// Echo what has arrived, then our `close_notify` and a FIN if nothing
    /// is in flight and the client has fallen silent (`drain`);
    /// mid-handshake, close now.
    fn drain(&mut self, cx: &mut Context) -> Next {
        let next = TlsConnection::serve(self, Ready::ALL, cx);
        if let Next::Close(_) = next {
            return next;
        }
        match self.websocket_goes_away(cx) {
            Ok(true) => {}
            Ok(false) => return Next::Close(CloseReason::Shutdown),
            Err(next) => return next,
        }
        if !self.is_handshaking() && !self.may_say_goodbye(cx) {
            return next;
        }
        match self.say_goodbye(cx) {
            Ok(true) => next,
            Ok(false) => Next::Close(CloseReason::Shutdown),
            Err(e) => Next::Close(CloseReason::Error(e)),
        }
    }

    fn said_goodbye(&self) -> bool {
        TlsConnection::said_goodbye(self)
    }
}
