//! How the counters are laid out for readers: the parts of the stats line
//! and where each counter's words go, the Prometheus families and labels,
//! and the order of both. `counters!` (in the parent module) says, for
//! each counter, which of these it uses; the code that prints the line and
//! renders `/metrics` reads them from [`COUNTERS`].

use super::{Names, Stats, COUNTERS};

/// One counter, as data: what `counters!` says of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counter {
    /// How it sums across reactors.
    pub sum: Sum,
    /// Where it shows on the stats line, if it does.
    pub line: Option<Place>,
    /// Where it shows in `/metrics`.
    pub metric: Metric,
    /// For a [`ByReason`](super::ByReason) counter, each reason's label and words, in the
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
    pub(super) fn of(self, a: u64, b: u64) -> u64 {
        match self {
            Sum::Add => a + b,
            Sum::Max => a.max(b),
        }
    }
}

/// A part of the stats line: `title: item, item, group item / item`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Part {
    pub(super) title: &'static str,
    /// Whether the line has this part now: the optional layers' parts are
    /// left out until the layer is used.
    pub(super) shown: fn(&Stats) -> bool,
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

    pub(super) fn is(&self, other: &Part) -> bool {
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
    pub const FAULTS: Part = Part::optional("faults", |s| {
        s.faults_applied.total() + s.closed_by_fault > 0
    });

    /// Every part above, in the line's order.
    pub const ORDER: [Part; 10] = [
        CONNECTIONS,
        BYTES,
        BACKPRESSURE,
        ACCEPT_PAUSES,
        MEMORY,
        TLS_HANDSHAKES,
        TLS_ENDS,
        PROXY,
        UDP,
        FAULTS,
    ];

    pub(super) fn tls_used(stats: &Stats) -> bool {
        stats.tls_handshakes + stats.tls_handshake_failures() > 0
    }
}

/// Where a counter shows on the stats line: its part, the word its group
/// starts with (`closed 3 by peer / 0 by error`), and its words, `{}`
/// standing for the value. A [`ByReason`](super::ByReason) counter's items are the value
/// and each reason's words.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    pub(super) part: Part,
    pub(super) group: &'static str,
    pub(super) words: &'static str,
}

/// On the line in `part`, as `words` (`"{} active"`).
pub(super) const fn line(part: Part, words: &'static str) -> Option<Place> {
    grouped(part, "", words)
}

/// On the line in `part`, in a run of items after `group`'s word.
pub(super) const fn grouped(part: Part, group: &'static str, words: &'static str) -> Option<Place> {
    Some(Place { part, group, words })
}

/// Not on the stats line (only in `/metrics`).
pub(super) const fn off_line() -> Option<Place> {
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
    pub const HTTP_CUT: Family = Family::counter(
        "http_connections_cut_total",
        "Connections to the metrics and health endpoint cut before they were answered, by reason.",
    );
    pub const FAULTS: Family = Family::counter(
        "faults_applied_total",
        "Faults applied on the listeners that misbehave on purpose (--fault-listen), by toxic type.",
    );

    /// Every family above, in the order `/metrics` shows them.
    pub const ORDER: [Family; 21] = [
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
        HTTP_CUT,
        FAULTS,
    ];
}

/// Where a counter shows in `/metrics`: its family and label (a
/// [`ByReason`](super::ByReason) counter: the label's name, each reason its value), and,
/// for a counter by reason, the family where its total is a sample too.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Metric {
    pub family: Family,
    pub label: Label,
    pub total: Option<(Family, Label)>,
}

/// A sample's label, `name="value"`; no name for none, no value for a
/// [`ByReason`](super::ByReason) counter, whose reasons give the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Label {
    pub name: &'static str,
    pub value: &'static str,
}

impl Metric {
    /// The counter's total is also the sample `name="value"` of `family`.
    pub(super) const fn total_in(
        self,
        family: Family,
        name: &'static str,
        value: &'static str,
    ) -> Metric {
        Metric {
            total: Some((family, Label { name, value })),
            ..self
        }
    }
}

/// The one sample of `family`, with no label.
pub(super) const fn metric(family: Family) -> Metric {
    labelled(family, "", "")
}

/// The sample `name="value"` of `family`.
pub(super) const fn labelled(family: Family, name: &'static str, value: &'static str) -> Metric {
    Metric {
        family,
        label: Label { name, value },
        total: None,
    }
}

/// One sample of `family` per reason, labelled `name="reason"`.
pub(super) const fn by_reason(family: Family, name: &'static str) -> Metric {
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
pub(super) fn parts() -> Vec<Part> {
    let used = COUNTERS
        .iter()
        .filter_map(|c| c.line.map(|place| place.part));
    in_order(&part::ORDER, used, Part::is)
}

/// `known`, then each of `used` not seen before.
pub(super) fn in_order<T: Copy>(
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
