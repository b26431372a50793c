//! A toxic: its type with its typed attributes, read and written by
//! toxiproxy's attribute names in toxiproxy's units; its stream; its
//! toxicity.

use std::time::Duration;

use super::error::FaultError;

/// Which way the bytes a toxic acts on travel, in toxiproxy's words:
/// `upstream` is what the server reads from its client, `downstream` the
/// echo it writes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stream {
    /// Client to server: what the server reads.
    Upstream,
    /// Server to client: the echo. Toxiproxy's default.
    #[default]
    Downstream,
}

impl Stream {
    /// Both streams, in toxiproxy's order.
    pub const ALL: [Stream; 2] = [Stream::Upstream, Stream::Downstream];

    /// Its name in toxiproxy's JSON.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }

    /// The stream named `name`.
    pub fn from_name(name: &str) -> Result<Stream, FaultError> {
        Stream::ALL
            .into_iter()
            .find(|stream| stream.name() == name)
            .ok_or_else(|| FaultError::BadStream(name.to_string()))
    }
}

/// The share of connections a toxic applies to, drawn per connection at
/// accept: 0 to 1, so no other value can be held.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Toxicity(f64);

impl Toxicity {
    /// Every connection: toxiproxy's default.
    pub const ALWAYS: Toxicity = Toxicity(1.0);

    /// `share` as a toxicity, if it is within 0 to 1.
    pub fn new(share: f64) -> Result<Toxicity, FaultError> {
        if (0.0..=1.0).contains(&share) {
            Ok(Toxicity(share))
        } else {
            Err(FaultError::BadToxicity(share.to_string()))
        }
    }

    /// The share, 0 to 1.
    pub fn share(self) -> f64 {
        self.0
    }
}

// NaN is refused by `Toxicity::new`, so equality is total.
impl Eq for Toxicity {}

impl Default for Toxicity {
    fn default() -> Self {
        Toxicity::ALWAYS
    }
}

/// A toxic's type and its attributes, typed. Toxiproxy's types first,
/// with their attribute names and units in each variant's doc, then the
/// types of our own: what a proxy cannot do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToxicKind {
    /// `latency`: every chunk is held `latency` (ms), give or take up to
    /// `jitter` (ms), before it goes on; order is kept.
    Latency {
        /// The delay.
        latency: Duration,
        /// The most the delay varies, either way.
        jitter: Duration,
    },
    /// `bandwidth`: at most `rate` KB/s (1 KB = 1,000 bytes). Upstream
    /// this is a slow reader: the client's window closes.
    Bandwidth {
        /// Bytes per second.
        bytes_per_second: u64,
    },
    /// `slicer`: the data in slices of `average_size` bytes, give or take
    /// `size_variation`, `delay` (µs) apart.
    Slicer {
        /// The slices' average size in bytes.
        average_size: u64,
        /// The most a slice's size varies, either way, in bytes.
        size_variation: u64,
        /// The pause between slices.
        delay: Duration,
    },
    /// `limit_data`: the connection is closed after `bytes` bytes.
    LimitData {
        /// Bytes let through before the close.
        bytes: u64,
    },
    /// `timeout`: no data moves; the connection is closed after `timeout`
    /// (ms), or never if 0 (a black hole).
    Timeout {
        /// When to close; `None` is never.
        timeout: Option<Duration>,
    },
    /// `reset_peer`: the connection is reset (RST, `SO_LINGER` 0) after
    /// `timeout` (ms).
    ResetPeer {
        /// When to reset.
        timeout: Duration,
    },
    /// `slow_close`: the FIN goes `delay` (ms) after it would have.
    SlowClose {
        /// How late the FIN is.
        delay: Duration,
    },
    /// `stop_accepting` (ours): the listener stops accepting, so clients
    /// wait in its backlog and see connect timeouts. It acts on the
    /// listener, not on a connection: its toxicity is not drawn.
    StopAccepting,
    /// `accept_close` (ours): a connection is accepted and closed at
    /// once, with a FIN, before any byte.
    AcceptClose,
    /// `accept_reset` (ours): a connection is accepted and reset at once
    /// (RST).
    AcceptReset,
    /// `udp_loss` (ours, UDP): a datagram is not echoed. For this and the
    /// other `udp_` types the toxicity is the share of datagrams, drawn
    /// for each.
    UdpLoss,
    /// `udp_duplicate` (ours, UDP): a datagram is echoed twice.
    UdpDuplicate,
    /// `udp_delay` (ours, UDP): a datagram is echoed `latency` (ms) late,
    /// give or take `jitter` (ms), so datagrams may overtake each other.
    UdpDelay {
        /// The delay.
        latency: Duration,
        /// The most the delay varies, either way.
        jitter: Duration,
    },
    /// `udp_reorder` (ours, UDP): a datagram is held until the next one
    /// is echoed, so the two swap places, or for `delay` (ms) at most.
    UdpReorder {
        /// The longest a datagram waits for the next.
        delay: Duration,
    },
}

/// A toxic type's name, its attributes' names in toxiproxy's units, and
/// how to build its zero value: toxiproxy starts a toxic from its zero
/// value and sets the attributes given.
struct TypeInfo {
    name: &'static str,
    attributes: &'static [&'static str],
    zero: ToxicKind,
}

const TYPES: [TypeInfo; FAULT_KINDS] = [
    TypeInfo {
        name: "latency",
        attributes: &["latency", "jitter"],
        zero: ToxicKind::Latency {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
        },
    },
    TypeInfo {
        name: "bandwidth",
        attributes: &["rate"],
        zero: ToxicKind::Bandwidth {
            bytes_per_second: 0,
        },
    },
    TypeInfo {
        name: "slicer",
        attributes: &["average_size", "size_variation", "delay"],
        zero: ToxicKind::Slicer {
            average_size: 0,
            size_variation: 0,
            delay: Duration::ZERO,
        },
    },
    TypeInfo {
        name: "limit_data",
        attributes: &["bytes"],
        zero: ToxicKind::LimitData { bytes: 0 },
    },
    TypeInfo {
        name: "timeout",
        attributes: &["timeout"],
        zero: ToxicKind::Timeout { timeout: None },
    },
    TypeInfo {
        name: "reset_peer",
        attributes: &["timeout"],
        zero: ToxicKind::ResetPeer {
            timeout: Duration::ZERO,
        },
    },
    TypeInfo {
        name: "slow_close",
        attributes: &["delay"],
        zero: ToxicKind::SlowClose {
            delay: Duration::ZERO,
        },
    },
    TypeInfo {
        name: "stop_accepting",
        attributes: &[],
        zero: ToxicKind::StopAccepting,
    },
    TypeInfo {
        name: "accept_close",
        attributes: &[],
        zero: ToxicKind::AcceptClose,
    },
    TypeInfo {
        name: "accept_reset",
        attributes: &[],
        zero: ToxicKind::AcceptReset,
    },
    TypeInfo {
        name: "udp_loss",
        attributes: &[],
        zero: ToxicKind::UdpLoss,
    },
    TypeInfo {
        name: "udp_duplicate",
        attributes: &[],
        zero: ToxicKind::UdpDuplicate,
    },
    TypeInfo {
        name: "udp_delay",
        attributes: &["latency", "jitter"],
        zero: ToxicKind::UdpDelay {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
        },
    },
    TypeInfo {
        name: "udp_reorder",
        attributes: &["delay"],
        zero: ToxicKind::UdpReorder {
            delay: Duration::ZERO,
        },
    },
];

/// How many toxic types there are (the counters keep one figure each).
pub const FAULT_KINDS: usize = 14;

impl ToxicKind {
    /// The type named `name`, with every attribute zero (toxiproxy's
    /// starting point before the attributes given are set).
    pub fn zero(name: &str) -> Result<ToxicKind, FaultError> {
        TYPES
            .iter()
            .find(|info| info.name == name)
            .map(|info| info.zero)
            .ok_or_else(|| FaultError::UnknownType(name.to_string()))
    }

    /// Its place among the types, 0 to [`FAULT_KINDS`] - 1.
    pub fn index(&self) -> usize {
        match self {
            ToxicKind::Latency { .. } => 0,
            ToxicKind::Bandwidth { .. } => 1,
            ToxicKind::Slicer { .. } => 2,
            ToxicKind::LimitData { .. } => 3,
            ToxicKind::Timeout { .. } => 4,
            ToxicKind::ResetPeer { .. } => 5,
            ToxicKind::SlowClose { .. } => 6,
            ToxicKind::StopAccepting => 7,
            ToxicKind::AcceptClose => 8,
            ToxicKind::AcceptReset => 9,
            ToxicKind::UdpLoss => 10,
            ToxicKind::UdpDuplicate => 11,
            ToxicKind::UdpDelay { .. } => 12,
            ToxicKind::UdpReorder { .. } => 13,
        }
    }

    /// The type's name, toxiproxy's (`latency`) or ours (`accept_reset`).
    pub fn type_name(&self) -> &'static str {
        TYPES[self.index()].name
    }

    /// The name of the type at `index` (see [`ToxicKind::index`]).
    pub fn type_name_at(index: usize) -> &'static str {
        TYPES[index].name
    }

    /// Its attributes by toxiproxy's names, in toxiproxy's units (ms, µs
    /// for the slicer's delay, KB/s, bytes), as its JSON shows them.
    pub fn attributes(&self) -> Vec<(&'static str, u64)> {
        let names = TYPES[self.index()].attributes;
        let values: Vec<u64> = match *self {
            ToxicKind::Latency { latency, jitter } => vec![millis(latency), millis(jitter)],
            ToxicKind::Bandwidth { bytes_per_second } => vec![bytes_per_second / 1000],
            ToxicKind::Slicer {
                average_size,
                size_variation,
                delay,
            } => vec![average_size, size_variation, micros(delay)],
            ToxicKind::LimitData { bytes } => vec![bytes],
            ToxicKind::Timeout { timeout } => vec![timeout.map_or(0, millis)],
            ToxicKind::ResetPeer { timeout } => vec![millis(timeout)],
            ToxicKind::SlowClose { delay } => vec![millis(delay)],
            ToxicKind::UdpDelay { latency, jitter } => vec![millis(latency), millis(jitter)],
            ToxicKind::UdpReorder { delay } => vec![millis(delay)],
            ToxicKind::StopAccepting
            | ToxicKind::AcceptClose
            | ToxicKind::AcceptReset
            | ToxicKind::UdpLoss
            | ToxicKind::UdpDuplicate => vec![],
        };
        names.iter().copied().zip(values).collect()
    }

    /// Sets the attribute toxiproxy calls `key` to `value`, in toxiproxy's
    /// unit for it (what its JSON carries).
    pub fn set_attribute(&mut self, key: &str, value: u64) -> Result<(), FaultError> {
        let ms = Duration::from_millis(value);
        match (self, key) {
            (ToxicKind::Latency { latency, .. }, "latency") => *latency = ms,
            (ToxicKind::Latency { jitter, .. }, "jitter") => *jitter = ms,
            (ToxicKind::Bandwidth { bytes_per_second }, "rate") => {
                *bytes_per_second = value.saturating_mul(1000)
            }
            (ToxicKind::Slicer { average_size, .. }, "average_size") => *average_size = value,
            (ToxicKind::Slicer { size_variation, .. }, "size_variation") => *size_variation = value,
            (ToxicKind::Slicer { delay, .. }, "delay") => *delay = Duration::from_micros(value),
            (ToxicKind::LimitData { bytes }, "bytes") => *bytes = value,
            (ToxicKind::Timeout { timeout }, "timeout") => *timeout = (value > 0).then_some(ms),
            (ToxicKind::ResetPeer { timeout }, "timeout") => *timeout = ms,
            (ToxicKind::SlowClose { delay }, "delay") => *delay = ms,
            (ToxicKind::UdpDelay { latency, .. }, "latency") => *latency = ms,
            (ToxicKind::UdpDelay { jitter, .. }, "jitter") => *jitter = ms,
            (ToxicKind::UdpReorder { delay }, "delay") => *delay = ms,
            (kind, _) => {
                return Err(FaultError::UnknownAttribute {
                    kind: kind.type_name(),
                    key: key.to_string(),
                })
            }
        }
        Ok(())
    }

    /// The attribute `key` takes a duration (and in which unit toxiproxy
    /// carries it), rather than a count.
    pub fn duration_unit(&self, key: &str) -> Option<Duration> {
        match (self, key) {
            (ToxicKind::Slicer { .. }, "delay") => Some(Duration::from_micros(1)),
            (ToxicKind::Latency { .. }, _)
            | (ToxicKind::Timeout { .. }, _)
            | (ToxicKind::ResetPeer { .. }, _)
            | (ToxicKind::SlowClose { .. }, _)
            | (ToxicKind::UdpDelay { .. }, _)
            | (ToxicKind::UdpReorder { .. }, _) => Some(Duration::from_millis(1)),
            _ => None,
        }
    }

    /// It acts on the listener, not on each connection: its toxicity is
    /// not drawn.
    pub fn is_listener_wide(&self) -> bool {
        matches!(self, ToxicKind::StopAccepting)
    }

    /// It acts on each UDP datagram (the listener's UDP socket, with
    /// `--udp`), not on TCP connections.
    pub fn is_per_datagram(&self) -> bool {
        matches!(
            self,
            ToxicKind::UdpLoss
                | ToxicKind::UdpDuplicate
                | ToxicKind::UdpDelay { .. }
                | ToxicKind::UdpReorder { .. }
        )
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// One toxic on a listener, as toxiproxy's JSON has it: `name`, `type`
/// (with its `attributes`), `stream`, `toxicity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toxic {
    /// Unique on its listener; toxiproxy's default is `TYPE_STREAM`.
    pub name: String,
    /// The type and its attributes.
    pub kind: ToxicKind,
    /// Which way the bytes it acts on travel.
    pub stream: Stream,
    /// The share of connections it applies to.
    pub toxicity: Toxicity,
}

impl Toxic {
    /// A toxic of `kind` on `stream` for every connection, with
    /// toxiproxy's default name (`latency_downstream`).
    pub fn new(kind: ToxicKind, stream: Stream) -> Toxic {
        Toxic {
            name: default_name(&kind, stream),
            kind,
            stream,
            toxicity: Toxicity::ALWAYS,
        }
    }
}

/// Toxiproxy's name for a toxic given none: `TYPE_STREAM`.
pub fn default_name(kind: &ToxicKind, stream: Stream) -> String {
    format!("{}_{}", kind.type_name(), stream.name())
}

/// Every type's name, in the order of [`ToxicKind::index`].
pub(super) fn type_names() -> [&'static str; FAULT_KINDS] {
    TYPES.map(|info| info.name)
}

/// The attributes of the type named `name` (none for an unknown one).
pub(super) fn attribute_names(name: &str) -> &'static [&'static str] {
    TYPES
        .iter()
        .find(|info| info.name == name)
        .map_or(&[], |info| info.attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_its_attributes_in_toxiproxys_units() {
        for info in &TYPES {
            let mut kind = ToxicKind::zero(info.name).unwrap();
            assert_eq!(kind.type_name(), info.name);
            assert_eq!(ToxicKind::type_name_at(kind.index()), info.name);
            for (n, key) in info.attributes.iter().enumerate() {
                kind.set_attribute(key, 7 + n as u64).unwrap();
            }
            let expected: Vec<_> = info
                .attributes
                .iter()
                .enumerate()
                .map(|(n, key)| (*key, 7 + n as u64))
                .collect();
            assert_eq!(kind.attributes(), expected, "{}", info.name);
        }
        let mut bandwidth = ToxicKind::zero("bandwidth").unwrap();
        bandwidth.set_attribute("rate", 100).unwrap();
        assert_eq!(
            bandwidth,
            ToxicKind::Bandwidth {
                bytes_per_second: 100_000
            }
        );
    }

    #[test]
    fn a_timeout_of_zero_is_never() {
        let mut kind = ToxicKind::zero("timeout").unwrap();
        kind.set_attribute("timeout", 0).unwrap();
        assert_eq!(kind, ToxicKind::Timeout { timeout: None });
    }

    #[test]
    fn unknown_names_are_refused_with_what_is_known() {
        let error = ToxicKind::zero("lag").unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(error.to_string().contains("latency, bandwidth"), "{error}");
        let error = ToxicKind::zero("latency")
            .unwrap()
            .set_attribute("rate", 1)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "a latency toxic has no attribute 'rate' (it has latency, jitter)"
        );
        assert!(Toxicity::new(1.5).is_err());
        assert!(Toxicity::new(f64::NAN).is_err());
        assert_eq!(Stream::from_name("sideways").unwrap_err().status(), 400);
    }
}
