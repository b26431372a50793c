//! Counters of what the reactor did, kept as plain integers.
//!
//! The reactor is one thread, so counting is an add to a field it already
//! owns: no atomics, no locks on the hot path. Other threads get a copy
//! through [`Handle::stats`](crate::Handle::stats), which asks the reactor
//! for one between two polls.

use std::fmt;

/// A snapshot of the server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections open now.
    pub active: u64,
    /// Most connections open at once.
    pub peak_active: u64,
    /// Connections closed after the client closed its side (end of stream).
    pub closed_by_peer: u64,
    /// Connections closed on an error such as a reset or a broken pipe.
    pub closed_by_error: u64,
    /// Connections closed by the idle timeout.
    pub closed_idle: u64,
    /// Connections closed by shutdown (after the drain, or when the drain
    /// timed out).
    pub closed_by_shutdown: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written back to clients.
    pub bytes_out: u64,
    /// Times a connection's pending echoes reached `max_pending` and the
    /// server stopped reading from it until they drained (backpressure).
    pub backpressure_pauses: u64,
    /// Most unsent echo bytes one connection ever held.
    pub peak_pending: u64,
    /// Times accepting paused because the process ran out of file
    /// descriptors (`EMFILE`/`ENFILE`) or kernel memory.
    pub accept_backoffs: u64,
    /// Times accepting paused because `max_connections` were open.
    pub accept_limit_pauses: u64,
    /// Slots the connection slab has allocated: it grows to the peak of
    /// listeners plus open connections and reuses freed slots after that.
    pub slab_capacity: u64,
}

impl Stats {
    /// Connections closed for any reason.
    pub fn closed(&self) -> u64 {
        self.closed_by_peer + self.closed_by_error + self.closed_idle + self.closed_by_shutdown
    }
}

impl fmt::Display for Stats {
    /// One line, for the log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connections: {} active, {} peak, {} accepted, closed {} by peer / {} by error / \
             {} idle / {} at shutdown; bytes: {} in, {} out; backpressure pauses: {}, \
             peak pending: {} B; accept pauses: {} at limit, {} out of fds",
            self.active,
            self.peak_active,
            self.accepted,
            self.closed_by_peer,
            self.closed_by_error,
            self.closed_idle,
            self.closed_by_shutdown,
            self.bytes_in,
            self.bytes_out,
            self.backpressure_pauses,
            self.peak_pending,
            self.accept_limit_pauses,
            self.accept_backoffs,
        )
    }
}
