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
//! Adding a counter is one line in `counters!`. A part of the line or a
//! family not known yet is written in place, and comes after the known
//! ones; the reactor then counts with a plain add. For example:
//!
//! ```text
//! /// Access-log lines dropped because the log could not keep up.
//! access_log_dropped: u64 = Add, line(Part::optional("access log", |s| s.access_log_dropped > 0), "{} dropped"), metric(Family::counter("access_log_dropped_total", "Access-log lines dropped."));
//! /// HTTP connections evicted, by reason (`Eviction` declared with `reasons!`).
//! http_evicted: ByReason<Eviction> = Add, off_line(), by_reason(Family::counter("http_evicted_total", "HTTP connections evicted, by reason."), "reason");
//! /// Faults applied, by kind (`Fault` declared with `reasons!`).
//! faults_applied: ByReason<Fault> = Add, grouped(Part::optional("faults", |s| s.faults_applied.total() > 0), "applied", ""), by_reason(Family::counter("faults_applied_total", "Faults applied, by kind."), "kind");
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};
use std::time::{Duration, Instant};

pub use crate::proxy_protocol::HeaderFailure;
pub use crate::tls::HandshakeFailure;

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
        /// below, so `datagrams_in` is the sum of those four. Their bytes are
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

/// One counter, as data: what `counters!` says of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counter {
    /// How it sums across reactors.
    pub sum: Sum,
    /// Where it shows on the stats line, if it does.
    pub line: Option<Place>,
    /// Where it shows in `/metrics`.
    pub metric: Metric,
    /// For a [`ByReason`] counter, each reason's label and words, in the
    /// order of its values; empty for a single value.
    pub reasons: &'static [Names],
}

/// How a counter of several reactors sums into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sum {
    /// Counts and sizes add up.
    Add,
    /// A figure of one connection: the larger is kept.
    Max,
}

impl Sum {
    fn of(self, a: u64, b: u64) -> u64 {
        match self {
            Sum::Add => a + b,
            Sum::Max => a.max(b),
        }
    }
}

/// A part of the stats line: `title: item, item, group item / item`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Part {
    title: &'static str,
    /// Whether the line has this part now: the optional layers' parts are
    /// left out until the layer is used.
    shown: fn(&Stats) -> bool,
}

impl Part {
    /// A part always on the line.
    pub const fn always(title: &'static str) -> Part {
        Part {
            title,
            shown: |_| true,
        }
    }

    /// A part on the line when `shown` says so.
    pub const fn optional(title: &'static str, shown: fn(&Stats) -> bool) -> Part {
        Part { title, shown }
    }

    fn is(&self, other: &Part) -> bool {
        self.title == other.title
    }
}

/// The stats line's parts, in their order on it.
pub(crate) mod part {
    use super::{Part, Stats};

    pub const CONNECTIONS: Part = Part::always("connections");
    pub const BYTES: Part = Part::always("bytes");
    pub const BACKPRESSURE: Part = Part::always("backpressure pauses");
    pub const ACCEPT_PAUSES: Part = Part::always("accept pauses");
    pub const MEMORY: Part = Part::always("memory");
    pub const TLS_HANDSHAKES: Part = Part::optional("tls handshakes", tls_used);
    pub const TLS_ENDS: Part = Part::optional("tls ends", tls_used);
    pub const PROXY: Part = Part::optional("proxy headers", |s| {
        s.proxy_accepted + s.proxy_failures() > 0
    });
    pub const UDP: Part = Part::optional("udp datagrams", |s| s.datagrams_in > 0);

    /// Every part above, in the line's order.
    pub const ORDER: [Part; 9] = [
        CONNECTIONS,
        BYTES,
        BACKPRESSURE,
        ACCEPT_PAUSES,
        MEMORY,
        TLS_HANDSHAKES,
        TLS_ENDS,
        PROXY,
        UDP,
    ];

    fn tls_used(stats: &Stats) -> bool {
        stats.tls_handshakes + stats.tls_handshake_failures() > 0
    }
}

/// Where a counter shows on the stats line: its part, the word its group
/// starts with (`closed 3 by peer / 0 by error`), and its words, `{}`
/// standing for the value. A [`ByReason`] counter's items are the value
/// and each reason's words.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    part: Part,
    group: &'static str,
    words: &'static str,
}

/// On the line in `part`, as `words` (`"{} active"`).
const fn line(part: Part, words: &'static str) -> Option<Place> {
    grouped(part, "", words)
}

/// On the line in `part`, in a run of items after `group`'s word.
const fn grouped(part: Part, group: &'static str, words: &'static str) -> Option<Place> {
    Some(Place { part, group, words })
}

/// Not on the stats line (only in `/metrics`).
const fn off_line() -> Option<Place> {
    None
}

/// A Prometheus metric family: its name without the `echo_reactor_`
/// prefix, its type and its help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// A Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    /// Its name in `# TYPE`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

impl Family {
    /// A counter family (its name ends in `_total`).
    pub const fn counter(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            kind: Kind::Counter,
            help,
        }
    }

    /// A gauge family.
    pub const fn gauge(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            kind: Kind::Gauge,
            help,
        }
    }
}

/// The `/metrics` families of [`Stats`], in their order there.
pub(crate) mod family {
    use super::Family;

    pub const ACCEPTED: Family =
        Family::counter("connections_accepted_total", "TCP connections accepted.");
    pub const ACTIVE: Family = Family::gauge("connections_active", "TCP connections open now.");
    pub const PEAK: Family =
        Family::gauge("connections_peak", "Most TCP connections open at once.");
    pub const CLOSED: Family = Family::counter(
        "connections_closed_total",
        "TCP connections closed, by reason.",
    );
    pub const RECEIVED: Family =
        Family::counter("received_bytes_total", "Bytes read from TCP clients.");
    pub const SENT: Family = Family::counter("sent_bytes_total", "Bytes written to TCP clients.");
    pub const BACKPRESSURE: Family = Family::counter(
        "backpressure_pauses_total",
        "Times a connection stopped being read because its unsent echoes reached --max-pending.",
    );
    pub const PENDING_PEAK: Family = Family::gauge(
        "pending_peak_bytes",
        "Most unsent echo bytes one connection held.",
    );
    pub const ACCEPT_PAUSES: Family =
        Family::counter("accept_pauses_total", "Times accepting paused, by reason.");
    pub const MEMORY_HELD: Family = Family::gauge(
        "memory_held_bytes",
        "Bytes held for clients now (pending echoes, PROXY headers), as charged to --max-memory.",
    );
    pub const MEMORY_PEAK: Family =
        Family::gauge("memory_peak_bytes", "Most bytes held for clients at once.");
    pub const MEMORY_PARKS: Family = Family::counter(
        "memory_parks_total",
        "Times a connection stopped being read because the memory budget was spent.",
    );
    pub const PROXY: Family = Family::counter(
        "proxy_headers_total",
        "PROXY protocol headers, by outcome (--proxy-protocol).",
    );
    pub const TLS_HANDSHAKES: Family = Family::counter(
        "tls_handshakes_total",
        "TLS handshakes, by outcome (--tls-listen).",
    );
    pub const TLS_ENDS: Family = Family::counter(
        "tls_client_ends_total",
        "TLS clients' ends after the handshake: with close_notify, or truncated by a bare end of stream.",
    );
    pub const UDP_RECEIVED: Family = Family::counter(
        "udp_datagrams_received_total",
        "UDP datagrams received (--udp).",
    );
    pub const UDP_ECHOED: Family =
        Family::counter("udp_datagrams_echoed_total", "UDP datagrams echoed.");
    pub const UDP_DROPPED: Family = Family::counter(
        "udp_datagrams_dropped_total",
        "UDP datagrams not echoed, by reason.",
    );
    pub const SLAB_CAPACITY: Family =
        Family::gauge("slab_capacity", "Slots the socket slab has allocated.");

    /// Every family above, in the order `/metrics` shows them.
    pub const ORDER: [Family; 19] = [
        ACCEPTED,
        ACTIVE,
        PEAK,
        CLOSED,
        RECEIVED,
        SENT,
        BACKPRESSURE,
        PENDING_PEAK,
        ACCEPT_PAUSES,
        MEMORY_HELD,
        MEMORY_PEAK,
        MEMORY_PARKS,
        PROXY,
        TLS_HANDSHAKES,
        TLS_ENDS,
        UDP_RECEIVED,
        UDP_ECHOED,
        UDP_DROPPED,
        SLAB_CAPACITY,
    ];
}

/// Where a counter shows in `/metrics`: its family and label (a
/// [`ByReason`] counter: the label's name, each reason its value), and,
/// for a counter by reason, the family where its total is a sample too.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Metric {
    pub family: Family,
    pub label: Label,
    pub total: Option<(Family, Label)>,
}

/// A sample's label, `name="value"`; no name for none, no value for a
/// [`ByReason`] counter, whose reasons give the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Label {
    pub name: &'static str,
    pub value: &'static str,
}

impl Metric {
    /// The counter's total is also the sample `name="value"` of `family`.
    const fn total_in(self, family: Family, name: &'static str, value: &'static str) -> Metric {
        Metric {
            total: Some((family, Label { name, value })),
            ..self
        }
    }
}

/// The one sample of `family`, with no label.
const fn metric(family: Family) -> Metric {
    labelled(family, "", "")
}

/// The sample `name="value"` of `family`.
const fn labelled(family: Family, name: &'static str, value: &'static str) -> Metric {
    Metric {
        family,
        label: Label { name, value },
        total: None,
    }
}

/// One sample of `family` per reason, labelled `name="reason"`.
const fn by_reason(family: Family, name: &'static str) -> Metric {
    labelled(family, name, "")
}

/// The families of [`COUNTERS`] in the order `/metrics` shows them: those
/// of [`family::ORDER`], then any other in the order declared.
pub(crate) fn families() -> Vec<Family> {
    let used = COUNTERS
        .iter()
        .flat_map(|c| std::iter::once(c.metric.family).chain(c.metric.total.map(|(f, _)| f)));
    in_order(&family::ORDER, used, |a, b| a.name == b.name)
}

/// The parts of the stats line in order: those of [`part::ORDER`], then
/// any other in the order declared.
fn parts() -> Vec<Part> {
    let used = COUNTERS
        .iter()
        .filter_map(|c| c.line.map(|place| place.part));
    in_order(&part::ORDER, used, Part::is)
}

/// `known`, then each of `used` not seen before.
fn in_order<T: Copy>(
    known: &[T],
    used: impl Iterator<Item = T>,
    same: impl Fn(&T, &T) -> bool,
) -> Vec<T> {
    let mut all = known.to_vec();
    for item in used {
        if !all.iter().any(|seen| same(seen, &item)) {
            all.push(item);
        }
    }
    all
}

/// A reason's names: its label value in `/metrics` (`not_tls`) and its
/// words on the stats line (`not tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names {
    /// The label value.
    pub label: &'static str,
    /// The words.
    pub words: &'static str,
}

/// An enum of reasons (why a handshake failed, ...), declared with
/// `reasons!` (in this module), whose counts [`ByReason`] keeps.
pub trait Reason: Copy + fmt::Debug + Eq + 'static {
    /// One count per variant.
    type Counts: Copy + Default + fmt::Debug + Eq + AsRef<[u64]> + AsMut<[u64]>;
    /// Every variant, in declaration order.
    const ALL: &'static [Self];
    /// Each variant's names, in the order of [`ALL`](Reason::ALL).
    const NAMES: &'static [Names];
    /// Its position in [`ALL`](Reason::ALL).
    fn index(self) -> usize;
    /// Its names.
    fn names(self) -> Names {
        Self::NAMES[self.index()]
    }
}

/// Declares a fieldless enum of reasons, each variant once with its label
/// in `/metrics`, its words on the stats line and its sentence for the log
/// (its `Display`), and makes it a [`Reason`].
///
/// ```text
/// reasons! {
///     /// Why a connection was closed before its header was complete.
///     pub enum HeaderFailure {
///         /// No complete header within the header timeout.
///         Timeout = ("timeout", "timeout", "no PROXY protocol header within the header timeout"),
///     }
/// }
/// ```
macro_rules! reasons {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = ($label:literal, $words:literal, $log:literal),
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $crate::stats::Reason for $name {
            type Counts = [u64; [$($name::$variant),+].len()];
            const ALL: &'static [Self] = &[$($name::$variant),+];
            const NAMES: &'static [$crate::stats::Names] = &[
                $($crate::stats::Names { label: $label, words: $words }),+
            ];
            fn index(self) -> usize {
                self as usize
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(match self {
                    $($name::$variant => $log,)+
                })
            }
        }
    };
}
pub(crate) use reasons;

/// One count per reason of `R`, indexed by it:
/// `stats.tls_failed[HandshakeFailure::Timeout] += 1`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ByReason<R: Reason> {
    counts: R::Counts,
    reason: PhantomData<R>,
}

impl<R: Reason> Default for ByReason<R> {
    fn default() -> Self {
        ByReason {
            counts: R::Counts::default(),
            reason: PhantomData,
        }
    }
}

impl<R: Reason> ByReason<R> {
    /// The counts added up.
    pub fn total(&self) -> u64 {
        self.counts.as_ref().iter().sum()
    }

    /// Each reason with its count, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (R, u64)> + '_ {
        R::ALL
            .iter()
            .copied()
            .zip(self.counts.as_ref().iter().copied())
    }
}

impl<R: Reason> Index<R> for ByReason<R> {
    type Output = u64;
    fn index(&self, reason: R) -> &u64 {
        &self.counts.as_ref()[reason.index()]
    }
}

impl<R: Reason> IndexMut<R> for ByReason<R> {
    fn index_mut(&mut self, reason: R) -> &mut u64 {
        &mut self.counts.as_mut()[reason.index()]
    }
}

impl<R: Reason> fmt::Debug for ByReason<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// What a counter's field holds: one value, or one per reason.
trait Tally {
    /// Each value's names, for a counter by reason; empty for one value.
    const REASONS: &'static [Names];
    fn values(&self) -> &[u64];
    fn values_mut(&mut self) -> &mut [u64];
}

impl Tally for u64 {
    const REASONS: &'static [Names] = &[];
    fn values(&self) -> &[u64] {
        std::slice::from_ref(self)
    }
    fn values_mut(&mut self) -> &mut [u64] {
        std::slice::from_mut(self)
    }
}

impl<R: Reason> Tally for ByReason<R> {
    const REASONS: &'static [Names] = R::NAMES;
    fn values(&self) -> &[u64] {
        self.counts.as_ref()
    }
    fn values_mut(&mut self) -> &mut [u64] {
        self.counts.as_mut()
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

/// `--stats-interval`: when the next counters line is due, and the counters
/// at the last one, for rates.
pub(crate) struct StatsLog {
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
             27 alert / 28 timeout / 29 closed; tls ends: 30 close_notify, 31 truncated; \
             proxy headers: 17 accepted, refused 18 not proxy / 19 invalid / 20 too long / \
             21 timeout / 22 closed; udp datagrams: 32 in, 33 echoed, dropped 34 guarded / \
             35 send buffer full / 36 errors"
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
