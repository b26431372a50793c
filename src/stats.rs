//! Counters of what the reactor did, kept as plain integers.
//!
//! The reactor is one thread, so counting is an add to a field it already
//! owns: no atomics, no locks on the hot path. Other threads get a copy
//! through [`Handle::stats`](crate::Handle::stats), which asks the reactor
//! for one between two polls.

use std::fmt;
use std::time::{Duration, Instant};

use crate::proxy_protocol::HeaderFailure;
use crate::tls::HandshakeFailure;

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
    /// UDP datagrams received (`--udp`), whatever became of them: each is
    /// echoed (`datagrams_out`) or dropped for one of the three reasons
    /// below, so `datagrams_in` is the sum of those four. Their bytes are
    /// not in `bytes_in`/`bytes_out`, which count TCP.
    pub datagrams_in: u64,
    /// UDP datagrams echoed back to their sender.
    pub datagrams_out: u64,
    /// UDP datagrams not answered because of their source port (0, below
    /// 1024, a known reflector's, or this server's own): the reflection
    /// guard, which keeps two echo services from answering each other
    /// forever.
    pub udp_dropped_guarded: u64,
    /// UDP datagrams dropped because the socket's send buffer was full
    /// (`send_to` said `WouldBlock`); UDP keeps no queue.
    pub udp_dropped_would_block: u64,
    /// UDP datagrams dropped because `send_to` failed otherwise (no route,
    /// a firewall, ...) or the datagram was truncated.
    pub udp_dropped_errors: u64,
    /// Bytes held for clients now (pending echoes), as charged to the
    /// memory budget: what is allocated, not what is used.
    pub memory_in_use: u64,
    /// The most bytes held for clients at once.
    pub memory_peak: u64,
    /// Times a connection stopped reading because the memory budget could
    /// not cover more pending bytes (resumed, oldest first, when memory
    /// frees).
    pub memory_parks: u64,
    /// PROXY protocol headers read and accepted (`--proxy-protocol`).
    pub proxy_accepted: u64,
    /// Connections closed because their first bytes were not a PROXY
    /// protocol header.
    pub proxy_not_proxy: u64,
    /// Connections closed for a malformed PROXY protocol header.
    pub proxy_invalid: u64,
    /// Connections closed for a PROXY protocol header over the size limit.
    pub proxy_too_long: u64,
    /// Connections closed for sending no complete PROXY protocol header
    /// within the header timeout.
    pub proxy_timeout: u64,
    /// Connections whose client closed before its PROXY protocol header
    /// was complete.
    pub proxy_closed: u64,
    /// TLS handshakes completed (`--tls-listen`).
    pub tls_handshakes: u64,
    /// TLS connections closed because their first bytes were not TLS.
    pub tls_failed_not_tls: u64,
    /// TLS connections closed for a malformed or unexpected handshake
    /// message.
    pub tls_failed_invalid: u64,
    /// TLS connections closed because the client had no TLS version,
    /// cipher suite or group in common with the server.
    pub tls_failed_incompatible: u64,
    /// TLS connections whose client aborted the handshake with an alert.
    pub tls_failed_alert: u64,
    /// TLS connections closed for not completing the handshake within the
    /// handshake timeout.
    pub tls_failed_timeout: u64,
    /// TLS connections whose client closed or reset mid-handshake.
    pub tls_failed_closed: u64,
    /// TLS clients that ended with a `close_notify` (answered with ours).
    pub tls_close_notify: u64,
    /// TLS clients that ended with a bare end of stream: a truncation.
    pub tls_truncated: u64,
}

impl Stats {
    /// Adds another reactor's counters to these, for a server with several
    /// reactors. Peaks add up too, so a summed peak is an upper bound (the
    /// reactors need not have peaked at the same moment); `peak_pending`,
    /// a per-connection figure, takes the larger.
    pub fn add(&mut self, other: &Stats) {
        // Destructured in full, so a new counter cannot be forgotten here.
        let Stats {
            accepted,
            active,
            peak_active,
            closed_by_peer,
            closed_by_error,
            closed_idle,
            closed_by_shutdown,
            bytes_in,
            bytes_out,
            backpressure_pauses,
            peak_pending,
            accept_backoffs,
            accept_limit_pauses,
            slab_capacity,
            datagrams_in,
            datagrams_out,
            udp_dropped_guarded,
            udp_dropped_would_block,
            udp_dropped_errors,
            memory_in_use,
            memory_peak,
            memory_parks,
            proxy_accepted,
            proxy_not_proxy,
            proxy_invalid,
            proxy_too_long,
            proxy_timeout,
            proxy_closed,
            tls_handshakes,
            tls_failed_not_tls,
            tls_failed_invalid,
            tls_failed_incompatible,
            tls_failed_alert,
            tls_failed_timeout,
            tls_failed_closed,
            tls_close_notify,
            tls_truncated,
        } = *other;
        self.accepted += accepted;
        self.active += active;
        self.peak_active += peak_active;
        self.closed_by_peer += closed_by_peer;
        self.closed_by_error += closed_by_error;
        self.closed_idle += closed_idle;
        self.closed_by_shutdown += closed_by_shutdown;
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        self.backpressure_pauses += backpressure_pauses;
        self.peak_pending = self.peak_pending.max(peak_pending);
        self.accept_backoffs += accept_backoffs;
        self.accept_limit_pauses += accept_limit_pauses;
        self.slab_capacity += slab_capacity;
        self.datagrams_in += datagrams_in;
        self.datagrams_out += datagrams_out;
        self.udp_dropped_guarded += udp_dropped_guarded;
        self.udp_dropped_would_block += udp_dropped_would_block;
        self.udp_dropped_errors += udp_dropped_errors;
        self.memory_in_use += memory_in_use;
        self.memory_peak += memory_peak;
        self.memory_parks += memory_parks;
        self.proxy_accepted += proxy_accepted;
        self.proxy_not_proxy += proxy_not_proxy;
        self.proxy_invalid += proxy_invalid;
        self.proxy_too_long += proxy_too_long;
        self.proxy_timeout += proxy_timeout;
        self.proxy_closed += proxy_closed;
        self.tls_handshakes += tls_handshakes;
        self.tls_failed_not_tls += tls_failed_not_tls;
        self.tls_failed_invalid += tls_failed_invalid;
        self.tls_failed_incompatible += tls_failed_incompatible;
        self.tls_failed_alert += tls_failed_alert;
        self.tls_failed_timeout += tls_failed_timeout;
        self.tls_failed_closed += tls_failed_closed;
        self.tls_close_notify += tls_close_notify;
        self.tls_truncated += tls_truncated;
    }

    /// Connections closed for any reason.
    pub fn closed(&self) -> u64 {
        self.closed_by_peer
            + self.closed_by_error
            + self.closed_idle
            + self.closed_by_shutdown
            + self.proxy_failures()
            + self.tls_handshake_failures()
    }

    /// The counter of connections closed for `failure`.
    pub fn proxy_failure_count(&mut self, failure: HeaderFailure) -> &mut u64 {
        match failure {
            HeaderFailure::NotProxy => &mut self.proxy_not_proxy,
            HeaderFailure::Invalid => &mut self.proxy_invalid,
            HeaderFailure::TooLong => &mut self.proxy_too_long,
            HeaderFailure::Timeout => &mut self.proxy_timeout,
            HeaderFailure::Closed => &mut self.proxy_closed,
        }
    }

    /// Connections closed before their PROXY protocol header was complete,
    /// for any reason.
    pub fn proxy_failures(&self) -> u64 {
        self.proxy_not_proxy
            + self.proxy_invalid
            + self.proxy_too_long
            + self.proxy_timeout
            + self.proxy_closed
    }

    /// The counter of TLS connections closed for `failure`.
    pub fn tls_failure_count(&mut self, failure: HandshakeFailure) -> &mut u64 {
        match failure {
            HandshakeFailure::NotTls => &mut self.tls_failed_not_tls,
            HandshakeFailure::Invalid => &mut self.tls_failed_invalid,
            HandshakeFailure::Incompatible => &mut self.tls_failed_incompatible,
            HandshakeFailure::Alert => &mut self.tls_failed_alert,
            HandshakeFailure::Timeout => &mut self.tls_failed_timeout,
            HandshakeFailure::Closed => &mut self.tls_failed_closed,
        }
    }

    /// TLS connections closed before their handshake completed, for any
    /// reason.
    pub fn tls_handshake_failures(&self) -> u64 {
        self.tls_failed_not_tls
            + self.tls_failed_invalid
            + self.tls_failed_incompatible
            + self.tls_failed_alert
            + self.tls_failed_timeout
            + self.tls_failed_closed
    }

    /// UDP datagrams received and not echoed, for any reason.
    pub fn udp_dropped(&self) -> u64 {
        self.udp_dropped_guarded + self.udp_dropped_would_block + self.udp_dropped_errors
    }
}

impl fmt::Display for Stats {
    /// One line, for the log. The UDP part is there once a datagram came,
    /// the TLS part once a TLS client did.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connections: {} active, {} peak, {} accepted, closed {} by peer / {} by error / \
             {} idle / {} at shutdown; bytes: {} in, {} out; backpressure pauses: {}, \
             peak pending: {} B; accept pauses: {} at limit, {} out of fds; memory: {} B held, \
             {} B peak, {} parks",
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
            self.memory_in_use,
            self.memory_peak,
            self.memory_parks,
        )?;
        if self.tls_handshakes + self.tls_handshake_failures() > 0 {
            write!(
                f,
                "; tls handshakes: {} completed, failed {} not tls / {} invalid / \
                 {} incompatible / {} alert / {} timeout / {} closed; tls ends: {} close_notify, \
                 {} truncated",
                self.tls_handshakes,
                self.tls_failed_not_tls,
                self.tls_failed_invalid,
                self.tls_failed_incompatible,
                self.tls_failed_alert,
                self.tls_failed_timeout,
                self.tls_failed_closed,
                self.tls_close_notify,
                self.tls_truncated,
            )?;
        }
        if self.proxy_accepted + self.proxy_failures() > 0 {
            write!(
                f,
                "; proxy headers: {} accepted, refused {} not proxy / {} invalid / {} too long / \
                 {} timeout / {} closed",
                self.proxy_accepted,
                self.proxy_not_proxy,
                self.proxy_invalid,
                self.proxy_too_long,
                self.proxy_timeout,
                self.proxy_closed,
            )?;
        }
        if self.datagrams_in > 0 {
            write!(
                f,
                "; udp datagrams: {} in, {} echoed, dropped {} guarded / {} send buffer full / \
                 {} errors",
                self.datagrams_in,
                self.datagrams_out,
                self.udp_dropped_guarded,
                self.udp_dropped_would_block,
                self.udp_dropped_errors,
            )?;
        }
        Ok(())
    }
}

/// `--stats-interval`: when the next counters line is due, and the counters
/// at the last one, for rates.
pub struct StatsLog {
    every: Duration,
    due: Instant,
    last_at: Instant,
    last: Stats,
}

impl StatsLog {
    /// The first line is due `every` after `now`.
    pub fn new(every: Duration, now: Instant) -> StatsLog {
        StatsLog {
            every,
            due: now + every,
            last_at: now,
            last: Stats::default(),
        }
    }

    /// When the next line is due.
    pub fn due(&self) -> Instant {
        self.due
    }

    /// The line to log now: the counters, then rates since the last line.
    pub fn line(&mut self, stats: Stats, now: Instant) -> String {
        let seconds = now
            .saturating_duration_since(self.last_at)
            .as_secs_f64()
            .max(1e-9);
        let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / seconds;
        let line = format!(
            "{stats}; last {seconds:.1} s: {:.1} connections/s, {:.0} B/s in, {:.0} B/s out",
            rate(stats.accepted, self.last.accepted),
            rate(stats.bytes_in, self.last.bytes_in),
            rate(stats.bytes_out, self.last.bytes_out),
        );
        self.last = stats;
        self.last_at = now;
        // The next line is due one interval after this one was, not after
        // this moment, so lines do not drift; a long stall skips missed ones.
        self.due += self.every;
        if self.due <= now {
            self.due = now + self.every;
        }
        line
    }
}
