//! Closing: the one way a socket other than a listener leaves the slab.
//!
//! Every path that ends a connection, whatever its stage and whatever the
//! reason (its client closed, an error, the idle timeout, a stage's
//! deadline, shutdown), comes here, so none can leak a slot, a descriptor
//! or a charge to the memory budget, and every close is counted once.

use log::debug;
use mio::Registry;

use super::{Entry, Reactor};
use crate::serve::{CloseReason, Role, Stage};

impl Reactor {
    /// The one way a socket other than a listener ends, whatever its
    /// stage: remove it, release what it held, close the socket, count it.
    pub(super) fn close(&mut self, registry: &Registry, key: usize, reason: CloseReason) {
        let (memory, role) = match self.entries.get_mut(key) {
            // The plain connection, by far the most closed, without a `dyn`
            // call: a connection's lifecycle is as cheap as before stages
            // went through the trait.
            Some(Entry::Connection(conn)) => {
                forget_registration(registry, key, conn);
                (conn.memory(), Role::Client)
            }
            Some(entry) => match entry.stage() {
                Some(stage) => {
                    forget_registration(registry, key, stage);
                    (stage.memory(), stage.role())
                }
                None => return,
            },
            None => return,
        };
        // Dropping the entry closes the socket.
        drop(self.entries.remove(key));
        self.cx.budget.release(memory);
        match role {
            Role::Client => self.client_closed(registry, key, reason),
            Role::Request => {
                self.features.request_closed(key);
                self.timers
                    .set_request(self.features.next_request_deadline());
                if let CloseReason::Cut(why) = reason {
                    self.cx.stats.http_cut[why] += 1;
                    debug!("token {key} closed: {why}");
                }
            }
            Role::Socket => {}
        }
    }

    /// A client's connection closed: forget its idle deadline, count it
    /// by reason, and accept again if accepting waited for a free slot.
    fn client_closed(&mut self, registry: &Registry, key: usize, reason: CloseReason) {
        if let Some(idle) = self.timers.idle() {
            idle.remove(key);
        }
        let stats = &mut self.cx.stats;
        stats.active -= 1;
        match &reason {
            CloseReason::PeerClosed => {
                stats.closed_by_peer += 1;
                debug!("token {key} closed: client closed, every byte echoed");
            }
            CloseReason::Error(e) => {
                stats.closed_by_error += 1;
                debug!("token {key} closed: {e}");
            }
            CloseReason::Idle => {
                stats.closed_idle += 1;
                debug!("token {key} closed: idle timeout");
            }
            CloseReason::Shutdown => {
                stats.closed_by_shutdown += 1;
                debug!("token {key} closed: shutdown");
            }
            CloseReason::ProxyHeader(failure) => {
                stats.proxy_refused[*failure] += 1;
                debug!("token {key} closed: {failure}");
            }
            CloseReason::TlsHandshake(failure) => {
                stats.tls_failed[*failure] += 1;
                debug!("token {key} closed: {failure}");
            }
            CloseReason::Fault(kind) => {
                stats.closed_by_fault += 1;
                debug!("token {key} closed: fault {kind}");
            }
            // Reasons of requests, never of clients.
            CloseReason::Answered | CloseReason::Cut(_) => {}
        }
        // A descriptor and a slot are free: if accepting was paused for
        // either, try again now rather than at the next timer.
        if self.acceptor.is_paused() {
            self.resume_accepting(registry);
        }
    }
}

/// Makes sure the poll forgets a socket about to be closed.
///
/// On Linux (and Android) closing the descriptor removes it from every
/// epoll set it is in, as long as no other descriptor refers to the same
/// socket, and none does here (the server never duplicates one): the
/// explicit `EPOLL_CTL_DEL` would be a system call that buys nothing, once
/// per connection. Elsewhere (kqueue, event ports) mio's documentation asks
/// for a `deregister` before the close, so it is kept there.
#[inline]
fn forget_registration(registry: &Registry, key: usize, stage: &mut dyn Stage) {
    if cfg!(any(target_os = "linux", target_os = "android")) {
        return;
    }
    if let Err(e) = registry.deregister(stage.source()) {
        debug!("token {key}: deregister failed: {e}");
    }
}
