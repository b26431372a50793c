//! Counters of what the reactor did, kept as plain integers.
//!
//! The reactor is one thread, so counting is an add to a field it already
//! owns: no atomics, no locks on the hot path. Other threads get a copy
//! through [`Handle::stats`](crate::Handle::stats), which asks the reactor
//! for one between two polls.
//!
//! # One declaration per counter
//!
//! Every counter is one entry of the `counters!` block below: its field
//! and doc, how it sums across reactors (`Add`, or `Max` to keep the
//! larger), where it shows on the stats line (a part of the line and its
//! words, `{}` standing for the value), and its Prometheus family and
//! label. That entry alone drives [`Stats::add`], the stats line
//! ([`Stats`]'s `Display`) and `/metrics`
//! (`metrics::render`): nothing else names the
//! counter again. The known parts of the line and families of `/metrics`
//! are listed once each (`part::ORDER`, `family::ORDER`), in the order
//! readers and dashboards have always seen them.
//!
//! A failure enum's counters come from the enum: `reasons!` declares each
//! variant once, with its label in `/metrics`, its words on the stats line
//! and its sentence for the log, and `Stats` keeps a [`ByReason`] array
//! indexed by the enum (`stats.tls_failed[HandshakeFailure::Timeout] += 1`).
//! A new variant is a new sample and a new item on the line, and nothing
//! else changes.
//!
//! Adding a counter is one line in `counters!`; the reactor then counts
//! with a plain add. A counter in a family of its own also names the
//! family once, in `family` with its place in `family::ORDER` (a test
//! holds that list whole, so the order dashboards see is decided, not
//! accidental). For example, the metrics endpoint's cuts:
//!
//! ```text
//! /// Connections to the metrics endpoint cut before they were answered, by why.
//! http_cut: ByReason<RequestCut> = Add, off_line(), by_reason(family::HTTP_CUT, "reason");
//! ```

use std::fmt;

mod by_reason;
mod layout;
mod log;
mod reasons;

pub(crate) use by_reason::reasons;
use by_reason::Tally;
pub use by_reason::{ByReason, Names, Reason};
use layout::{by_reason, grouped, labelled, line, metric, off_line, parts};
pub(crate) use layout::{families, family, part, Counter, Family, Sum};
pub(crate) use log::StatsLog;
pub use reasons::{FaultApplied, HandshakeFailure, HeaderFailure, RequestCut};

/// Declares [`Stats`], one field per counter with how it sums, where it
/// shows on the stats line and in `/metrics`, and [`COUNTERS`], the same
/// as data for the code that sums, prints and exposes them.
macro_rules! counters {
    (
        $(#[$meta:meta])*
        pub struct Stats {
            $(
                $(#[doc = $doc:literal])+
                $field:ident: $tally:ty = $sum:ident, $line:expr, $metric:expr;
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Stats {
            $( $(#[doc = $doc])+ pub $field: $tally, )+
        }

        /// How many counters `Stats` has.
        const COUNT: usize = [$(stringify!($field)),+].len();

        /// Every counter of [`Stats`], in the order declared.
        pub(crate) const COUNTERS: [Counter; COUNT] = [
            $(
                Counter {
                    sum: Sum::$sum,
                    line: $line,
                    metric: $metric,
                    reasons: <$tally as Tally>::REASONS,
                },
            )+
        ];

        impl Stats {
            /// Each counter's values, in the order of [`COUNTERS`]: one,
            /// or one per reason.
            pub(crate) fn values(&self) -> [&[u64]; COUNT] {
                [$(Tally::values(&self.$field)),+]
            }

            fn values_mut(&mut self) -> [&mut [u64]; COUNT] {
                [$(Tally::values_mut(&mut self.$field)),+]
            }
        }
    };
}

counters! {
    /// A snapshot of the server's counters.
    ///
    /// `#[non_exhaustive]`: counters are added as the server grows, so
    /// build one with [`Stats::default`] and read the fields.
    pub struct Stats {
        /// Connections open now.
        active: u64 = Add, line(part::CONNECTIONS, "{} active"), metric(family::ACTIVE);
        /// Most connections open at once.
        peak_active: u64 = Add, line(part::CONNECTIONS, "{} peak"), metric(family::PEAK);
        /// Connections accepted since start.
        accepted: u64 = Add, line(part::CONNECTIONS, "{} accepted"), metric(family::ACCEPTED);
        /// Connections closed after the client closed its side (end of stream).
        closed_by_peer: u64 = Add, grouped(part::CONNECTIONS, "closed", "{} by peer"), labelled(family::CLOSED, "reason", "peer");
        /// Connections closed on an error such as a reset or a broken pipe.
        closed_by_error: u64 = Add, grouped(part::CONNECTIONS, "closed", "{} by error"), labelled(family::CLOSED, "reason", "error");
        /// Connections closed by the idle timeout.
        closed_idle: u64 = Add, grouped(part::CONNECTIONS, "closed", "{} idle"), labelled(family::CLOSED, "reason", "idle");
        /// Connections closed by shutdown (after the drain, or when the drain
        /// timed out).
        closed_by_shutdown: u64 = Add, grouped(part::CONNECTIONS, "closed", "{} at shutdown"), labelled(family::CLOSED, "reason", "shutdown");
        /// Bytes read from clients.
        bytes_in: u64 = Add, line(part::BYTES, "{} in"), metric(family::RECEIVED);
        /// Bytes written back to clients.
        bytes_out: u64 = Add, line(part::BYTES, "{} out"), metric(family::SENT);
        /// Times a connection's pending echoes reached `max_pending` and the
        /// server stopped reading from it until they drained (backpressure).
        backpressure_pauses: u64 = Add, line(part::BACKPRESSURE, "{}"), metric(family::BACKPRESSURE);
        /// Most unsent echo bytes one connection ever held: a per-connection
        /// figure, so reactors' figures are not added but the larger kept.
        peak_pending: u64 = Max, line(part::BACKPRESSURE, "peak pending: {} B"), metric(family::PENDING_PEAK);
        /// Times accepting paused because `max_connections` were open.
        accept_limit_pauses: u64 = Add, line(part::ACCEPT_PAUSES, "{} at limit"), labelled(family::ACCEPT_PAUSES, "reason", "connection_limit");
        /// Times accepting paused because the process ran out of file
        /// descriptors (`EMFILE`/`ENFILE`) or kernel memory.
        accept_backoffs: u64 = Add, line(part::ACCEPT_PAUSES, "{} out of fds"), labelled(family::ACCEPT_PAUSES, "reason", "out_of_resources");
        /// Bytes held for clients now (pending echoes), as charged to the
        /// memory budget: what is allocated, not what is used.
        memory_in_use: u64 = Add, line(part::MEMORY, "{} B held"), metric(family::MEMORY_HELD);
        /// The most bytes held for clients at once.
        memory_peak: u64 = Add, line(part::MEMORY, "{} B peak"), metric(family::MEMORY_PEAK);
        /// Times a connection stopped reading because the memory budget could
        /// not cover more pending bytes (resumed, oldest first, when memory
        /// frees).
        memory_parks: u64 = Add, line(part::MEMORY, "{} parks"), metric(family::MEMORY_PARKS);
        /// PROXY protocol headers read and accepted (`--proxy-protocol`).
        proxy_accepted: u64 = Add, line(part::PROXY, "{} accepted"), labelled(family::PROXY, "result", "accepted");
        /// Connections closed before their PROXY protocol header was
        /// complete, by why.
        proxy_refused: ByReason<HeaderFailure> = Add, grouped(part::PROXY, "refused", ""), by_reason(family::PROXY, "result").total_in(family::CLOSED, "reason", "proxy_header");
        /// TLS handshakes completed (`--tls-listen`).
        tls_handshakes: u64 = Add, line(part::TLS_HANDSHAKES, "{} completed"), labelled(family::TLS_HANDSHAKES, "result", "completed");
        /// TLS connections closed before their handshake completed, by why.
        tls_failed: ByReason<HandshakeFailure> = Add, grouped(part::TLS_HANDSHAKES, "failed", ""), by_reason(family::TLS_HANDSHAKES, "result").total_in(family::CLOSED, "reason", "tls_handshake");
        /// TLS clients that ended with a `close_notify` (answered with ours).
        tls_close_notify: u64 = Add, line(part::TLS_ENDS, "{} close_notify"), labelled(family::TLS_ENDS, "how", "close_notify");
        /// TLS clients that ended with a bare end of stream: a truncation.
        tls_truncated: u64 = Add, line(part::TLS_ENDS, "{} truncated"), labelled(family::TLS_ENDS, "how", "truncated");
        /// UDP datagrams received (`--udp`), whatever became of them: each is
        /// echoed (`datagrams_out`) or dropped for one of the three reasons
        /// below, so `datagrams_in` is the sum of those four.
        /// (On a fault listener, a datagram may also be lost, or echoed
        /// twice, on purpose: `faults_applied`.) Their bytes are
        /// not in `bytes_in`/`bytes_out`, which count TCP.
        datagrams_in: u64 = Add, line(part::UDP, "{} in"), metric(family::UDP_RECEIVED);
        /// UDP datagrams echoed back to their sender.
        datagrams_out: u64 = Add, line(part::UDP, "{} echoed"), metric(family::UDP_ECHOED);
        /// UDP datagrams not answered because of their source port (0, below
        /// 1024, a known reflector's, or this server's own): the reflection
        /// guard, which keeps two echo services from answering each other
        /// forever.
        udp_dropped_guarded: u64 = Add, grouped(part::UDP, "dropped", "{} guarded"), labelled(family::UDP_DROPPED, "reason", "guarded_port");
        /// UDP datagrams dropped because the socket's send buffer was full
        /// (`send_to` said `WouldBlock`); UDP keeps no queue.
        udp_dropped_would_block: u64 = Add, grouped(part::UDP, "dropped", "{} send buffer full"), labelled(family::UDP_DROPPED, "reason", "send_buffer_full");
        /// UDP datagrams dropped because `send_to` failed otherwise (no route,
        /// a firewall, ...) or the datagram was truncated.
        udp_dropped_errors: u64 = Add, grouped(part::UDP, "dropped", "{} errors"), labelled(family::UDP_DROPPED, "reason", "error");
        /// Slots the connection slab has allocated: it grows to the peak of
        /// listeners plus open connections and reuses freed slots after that.
        slab_capacity: u64 = Add, off_line(), metric(family::SLAB_CAPACITY);
        /// Connections to the metrics endpoint cut before they were
        /// answered, by why: evicted for a new connection, refused, timed out.
        http_cut: ByReason<RequestCut> = Add, off_line(), by_reason(family::HTTP_CUT, "reason");
        /// Faults applied on the listeners that misbehave on purpose
        /// (`--fault-listen`), by the toxic's type: to each connection
        /// that drew it at accept.
        faults_applied: ByReason<FaultApplied> = Add, grouped(part::FAULTS, "applied", ""), by_reason(family::FAULTS, "kind");
        /// Connections a fault closed (limit_data, timeout, reset_peer,
        /// accept_close, accept_reset, a listener disabled).
        closed_by_fault: u64 = Add, line(part::FAULTS, "{} connections closed"), labelled(family::CLOSED, "reason", "fault");
    }
}

impl Stats {
    /// Adds another reactor's counters to these, for a server with several
    /// reactors. Peaks add up too, so a summed peak is an upper bound (the
    /// reactors need not have peaked at the same moment); `peak_pending`,
    /// a per-connection figure, takes the larger.
    pub fn add(&mut self, other: &Stats) {
        let theirs = other.values();
        for ((counter, mine), theirs) in COUNTERS.iter().zip(self.values_mut()).zip(theirs) {
            for (mine, theirs) in mine.iter_mut().zip(theirs) {
                *mine = counter.sum.of(*mine, *theirs);
            }
        }
    }

    /// Connections closed for any reason.
    pub fn closed(&self) -> u64 {
        self.closed_by_peer
            + self.closed_by_error
            + self.closed_idle
            + self.closed_by_shutdown
            + self.proxy_failures()
            + self.tls_handshake_failures()
            + self.closed_by_fault
    }

    /// Connections closed before their PROXY protocol header was complete,
    /// for any reason.
    pub fn proxy_failures(&self) -> u64 {
        self.proxy_refused.total()
    }

    /// TLS connections closed before their handshake completed, for any
    /// reason.
    pub fn tls_handshake_failures(&self) -> u64 {
        self.tls_failed.total()
    }

    /// UDP datagrams received and not echoed, for any reason.
    pub fn udp_dropped(&self) -> u64 {
        self.udp_dropped_guarded + self.udp_dropped_would_block + self.udp_dropped_errors
    }
}

impl fmt::Display for Stats {
    /// One line, for the log: its parts in order, `; ` between them, each
    /// `title: ` and its items; the optional layers' parts once used.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.values();
        let mut first_part = true;
        for part in parts().into_iter().filter(|part| (part.shown)(self)) {
            if !first_part {
                f.write_str("; ")?;
            }
            first_part = false;
            write!(f, "{}: ", part.title)?;
            // The group of the item before: an item of the same group follows
            // it after ` / `, any other after `, `.
            let mut previous: Option<&str> = None;
            for (counter, values) in COUNTERS.iter().zip(values) {
                let Some(place) = counter.line.filter(|place| place.part.is(&part)) else {
                    continue;
                };
                for (i, value) in values.iter().enumerate() {
                    let same_group = !place.group.is_empty() && previous == Some(place.group);
                    match previous {
                        None => {}
                        Some(_) if same_group => f.write_str(" / ")?,
                        Some(_) => f.write_str(", ")?,
                    }
                    if !place.group.is_empty() && !same_group {
                        write!(f, "{} ", place.group)?;
                    }
                    previous = Some(place.group);
                    match counter.reasons.get(i) {
                        Some(names) => write!(f, "{value} {}", names.words)?,
                        None => {
                            let (before, after) =
                                place.words.split_once("{}").unwrap_or((place.words, ""));
                            write!(f, "{before}{value}{after}")?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each counter a different value, so a field shown in the wrong place
    /// shows.
    fn distinct() -> Stats {
        let mut stats = Stats::default();
        let mut next = 0;
        for values in stats.values_mut() {
            for value in values {
                next += 1;
                *value = next;
            }
        }
        stats
    }

    #[test]
    fn the_stats_line_reads_as_it_always_has() {
        let line = distinct().to_string();
        assert_eq!(
            line,
            "connections: 1 active, 2 peak, 3 accepted, closed 4 by peer / 5 by error / 6 idle / \
             7 at shutdown; bytes: 8 in, 9 out; backpressure pauses: 10, peak pending: 11 B; \
             accept pauses: 12 at limit, 13 out of fds; memory: 14 B held, 15 B peak, 16 parks; \
             tls handshakes: 23 completed, failed 24 not tls / 25 invalid / 26 incompatible / \
             27 alert / 28 timeout / 29 closed / 30 no common alpn / 31 no client cert / \
             32 bad client cert; tls ends: 33 close_notify, 34 truncated; \
             proxy headers: 17 accepted, refused 18 not proxy / 19 invalid / 20 too long / \
             21 timeout / 22 closed; udp datagrams: 35 in, 36 echoed, dropped 37 guarded / \
             38 send buffer full / 39 errors; faults: applied 45 latency / 46 bandwidth / \
             47 slicer / 48 limit_data / 49 timeout / 50 reset_peer / 51 slow_close / \
             52 stop_accepting / 53 accept_close / 54 accept_reset / 55 udp_loss / \
             56 udp_duplicate / 57 udp_delay / 58 udp_reorder / 59 down, 60 connections closed"
        );
        assert_eq!(
            Stats::default().to_string(),
            "connections: 0 active, 0 peak, 0 accepted, closed 0 by peer / 0 by error / 0 idle / \
             0 at shutdown; bytes: 0 in, 0 out; backpressure pauses: 0, peak pending: 0 B; \
             accept pauses: 0 at limit, 0 out of fds; memory: 0 B held, 0 B peak, 0 parks"
        );
    }

    #[test]
    fn reactors_add_up_but_keep_the_larger_peak_pending() {
        let one = distinct();
        let mut sum = one;
        sum.add(&one);
        assert_eq!(sum.accepted, 2 * one.accepted);
        assert_eq!(sum.tls_failed[HandshakeFailure::Alert], 2 * 27);
        assert_eq!(sum.peak_pending, one.peak_pending);
    }

    #[test]
    fn every_part_and_family_declared_is_listed_in_order() {
        assert_eq!(parts().len(), part::ORDER.len());
        assert_eq!(families(), family::ORDER.to_vec());
    }

    #[test]
    fn a_reason_indexes_its_own_count() {
        for (i, reason) in HeaderFailure::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i);
        }
        let mut stats = Stats::default();
        stats.proxy_refused[HeaderFailure::TooLong] += 2;
        assert_eq!(stats.proxy_failures(), 2);
        assert_eq!(stats.closed(), 2);
        assert_eq!(HeaderFailure::TooLong.names().label, "too_long");
    }
}
