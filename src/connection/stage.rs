//! The plain connection as a [`Stage`]: how the loop's cold paths (the
//! serve-again queue, shutdown, closing) reach it, as they reach every
//! other kind of entry.

use std::os::fd::AsRawFd;

use log::trace;

use super::Connection;
use crate::drain;
use crate::serve::{CloseReason, Context, Next, Ready, Stage};

/// The loop's cold paths (the serve-again queue, shutdown, closing) reach
/// a plain connection as they reach every stage; its events do not come
/// this way (`Connection::on_event`).
impl Stage for Connection {
    fn serve(&mut self, ready: Ready, cx: &mut Context) -> Next {
        Connection::serve(self, ready, cx)
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        &mut self.stream
    }

    fn queued(&mut self) -> Option<&mut bool> {
        Some(&mut self.queued)
    }

    fn memory(&self) -> usize {
        Connection::memory(self)
    }

    /// Echo what has arrived; with nothing left in flight and a client
    /// that has fallen silent (`drain`), send our FIN. One that still has
    /// work, or whose client sent a moment ago, goes on being served and
    /// is asked again at the next sweep: a receive queue that is empty for
    /// a moment does not mean the client has finished sending, and bytes
    /// read after our FIN would be dropped.
    fn drain(&mut self, cx: &mut Context) -> Next {
        let next = Connection::serve(self, Ready::ALL, cx);
        if !matches!(next, Next::Wait) || !self.is_quiet() {
            return next;
        }
        if !drain::client_is_silent(self.stream.as_raw_fd()) {
            trace!(
                "token {}: nothing in flight, but the client sent lately",
                cx.key
            );
            return next;
        }
        match self.send_fin() {
            Ok(()) => {
                trace!("token {}: nothing in flight, FIN sent", cx.key);
                Next::Wait
            }
            Err(e) => Next::Close(CloseReason::Error(e)),
        }
    }

    fn said_goodbye(&self) -> bool {
        self.fin_sent()
    }
}
