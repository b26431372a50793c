//! The faults as toxiproxy names them: listeners ("proxies"), their
//! toxics, each toxic's type, stream, toxicity and attributes.
//!
//! Toxiproxy's vocabulary is what people who test against misbehaving
//! backends already know, and its HTTP API is what their client libraries
//! speak, so the model keeps its names and its units one for one: a
//! toxic's attributes are read and written by toxiproxy's attribute names,
//! in toxiproxy's units ([`ToxicKind::attributes`],
//! [`ToxicKind::set_attribute`]), while the engine reads them typed
//! (durations as [`Duration`], sizes in bytes).
//!
//! A proxy sits between a client and a backend; a listener of this server
//! *is* the backend, so it can also misbehave in ways a proxy cannot.
//! Those are toxic types of our own, beside toxiproxy's
//! ([`ToxicKind::StopAccepting`], [`ToxicKind::AcceptClose`],
//! [`ToxicKind::AcceptReset`]), so the same API and the same clients add
//! and remove them. A disabled listener is toxiproxy's `down`: the
//! listener's `enabled` flag, not a toxic.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

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

/// A listener with faults, toxiproxy's "proxy": its name, the address it
/// listens on, whether it is enabled (toxiproxy's `down` when not), and
/// its toxics in the order they were added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultListener {
    /// Unique among the listeners.
    pub name: String,
    /// Where it listens; with port 0, the port it got once bound.
    pub listen: SocketAddr,
    /// Accepting and serving; when not, connections are refused and
    /// those open are closed.
    pub enabled: bool,
    /// Its toxics.
    pub toxics: Vec<Toxic>,
}

impl FaultListener {
    /// An enabled listener with no toxic: until one is added, a plain
    /// echo listener.
    pub fn new(name: impl Into<String>, listen: SocketAddr) -> FaultListener {
        FaultListener {
            name: name.into(),
            listen,
            enabled: true,
            toxics: Vec::new(),
        }
    }

    /// Its toxic named `name`.
    pub fn toxic(&self, name: &str) -> Result<&Toxic, FaultError> {
        self.toxics
            .iter()
            .find(|toxic| toxic.name == name)
            .ok_or_else(|| self.toxic_not_found(name))
    }

    /// It stops accepting (a `stop_accepting` toxic is on it).
    pub fn stops_accepting(&self) -> bool {
        self.toxics
            .iter()
            .any(|toxic| toxic.kind.is_listener_wide())
    }

    fn toxic_not_found(&self, name: &str) -> FaultError {
        FaultError::ToxicNotFound {
            listener: self.name.clone(),
            toxic: name.to_string(),
        }
    }
}

/// What may change in a toxic once added (toxiproxy's update): some
/// attributes, in toxiproxy's units, and the toxicity. Its type and
/// stream stay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToxicUpdate {
    /// Attributes to set, by toxiproxy's names and in its units.
    pub attributes: Vec<(String, u64)>,
    /// A new toxicity, if any.
    pub toxicity: Option<Toxicity>,
}

/// Most listeners with faults one server keeps: their counters are a
/// table of this many rows, so `/metrics` stays bounded.
pub const MAX_FAULT_LISTENERS: usize = 32;

/// Most toxics on one listener.
pub const MAX_TOXICS: usize = 32;

/// Every listener with faults, and the operations toxiproxy's API makes
/// on them. Lives in the reactor, which serves the API too, so it is
/// changed in place, with no thread and no lock; the reactor then brings
/// its sockets in line ([`FaultTable::generation`] says when to look).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultTable {
    listeners: Vec<FaultListener>,
    /// Counts changes, so that whoever acts on the table sees it changed.
    generation: u64,
}

impl FaultTable {
    /// A table of `listeners`; their names must be unique.
    pub fn new(listeners: Vec<FaultListener>) -> Result<FaultTable, FaultError> {
        let mut table = FaultTable::default();
        for listener in listeners {
            table.insert(listener)?;
        }
        Ok(table)
    }

    /// Every listener, in the order they were created.
    pub fn list(&self) -> &[FaultListener] {
        &self.listeners
    }

    /// The listener named `name`.
    pub fn get(&self, name: &str) -> Result<&FaultListener, FaultError> {
        self.index_of(name).map(|i| &self.listeners[i])
    }

    /// The listener at `index` (its place in [`FaultTable::list`]).
    pub fn at(&self, index: usize) -> Option<&FaultListener> {
        self.listeners.get(index)
    }

    /// Where the listener named `name` is in [`FaultTable::list`].
    pub fn index_of(&self, name: &str) -> Result<usize, FaultError> {
        self.listeners
            .iter()
            .position(|listener| listener.name == name)
            .ok_or_else(|| FaultError::ListenerNotFound(name.to_string()))
    }

    /// Adds a listener (toxiproxy's create); its toxics are checked as
    /// [`FaultTable::add_toxic`] checks each.
    pub fn insert(&mut self, listener: FaultListener) -> Result<&FaultListener, FaultError> {
        if self.index_of(&listener.name).is_ok() {
            return Err(FaultError::ListenerExists(listener.name));
        }
        if self.listeners.len() >= MAX_FAULT_LISTENERS {
            return Err(FaultError::TooMany {
                what: "listeners",
                max: MAX_FAULT_LISTENERS,
            });
        }
        let toxics = listener.toxics.clone();
        self.listeners.push(FaultListener {
            toxics: Vec::new(),
            ..listener
        });
        let name = self.listeners.last().map(|l| l.name.clone());
        let name = name.unwrap_or_default();
        for toxic in toxics {
            if let Err(e) = self.add_toxic(&name, toxic) {
                self.listeners.pop();
                return Err(e);
            }
        }
        self.changed();
        Ok(self.listeners.last().expect("just pushed"))
    }

    /// Sets where the listener at `index` listens (its port once bound).
    pub fn set_address(&mut self, index: usize, listen: SocketAddr) {
        if let Some(listener) = self.listeners.get_mut(index) {
            listener.listen = listen;
        }
    }

    /// Enables or disables the listener named `name` (toxiproxy's update
    /// of `enabled`).
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> Result<&FaultListener, FaultError> {
        let i = self.index_of(name)?;
        self.listeners[i].enabled = enabled;
        self.changed();
        Ok(&self.listeners[i])
    }

    /// Adds `toxic` to the listener named `listener`.
    pub fn add_toxic(&mut self, listener: &str, toxic: Toxic) -> Result<&Toxic, FaultError> {
        let i = self.index_of(listener)?;
        let toxics = &mut self.listeners[i].toxics;
        if toxics.iter().any(|t| t.name == toxic.name) {
            return Err(FaultError::ToxicExists {
                listener: listener.to_string(),
                toxic: toxic.name,
            });
        }
        if toxics.len() >= MAX_TOXICS {
            return Err(FaultError::TooMany {
                what: "toxics on one listener",
                max: MAX_TOXICS,
            });
        }
        toxics.push(toxic);
        self.changed();
        Ok(self.listeners[i].toxics.last().expect("just pushed"))
    }

    /// Changes the toxic `toxic` of the listener `listener`: all of
    /// `update` or, if any part is bad, nothing.
    pub fn update_toxic(
        &mut self,
        listener: &str,
        toxic: &str,
        update: &ToxicUpdate,
    ) -> Result<&Toxic, FaultError> {
        let i = self.index_of(listener)?;
        let position = self.position_of_toxic(i, toxic)?;
        let mut changed = self.listeners[i].toxics[position].clone();
        for (key, value) in &update.attributes {
            changed.kind.set_attribute(key, *value)?;
        }
        if let Some(toxicity) = update.toxicity {
            changed.toxicity = toxicity;
        }
        self.listeners[i].toxics[position] = changed;
        self.changed();
        Ok(&self.listeners[i].toxics[position])
    }

    /// Removes the toxic `toxic` of the listener `listener`.
    pub fn remove_toxic(&mut self, listener: &str, toxic: &str) -> Result<Toxic, FaultError> {
        let i = self.index_of(listener)?;
        let position = self.position_of_toxic(i, toxic)?;
        self.changed();
        Ok(self.listeners[i].toxics.remove(position))
    }

    /// Removes the listener named `name` (toxiproxy's delete); every
    /// listener after it moves up one place, which the reactor follows
    /// (`server/fault_api.rs`).
    pub fn remove(&mut self, name: &str) -> Result<FaultListener, FaultError> {
        let i = self.index_of(name)?;
        self.changed();
        Ok(self.listeners.remove(i))
    }

    /// Toxiproxy's reset: every listener enabled, every toxic removed.
    pub fn reset(&mut self) {
        for listener in &mut self.listeners {
            listener.enabled = true;
            listener.toxics.clear();
        }
        self.changed();
    }

    /// Grows by one at every change: the reactor compares it with the
    /// generation it last acted on.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn position_of_toxic(&self, i: usize, toxic: &str) -> Result<usize, FaultError> {
        let listener = &self.listeners[i];
        listener
            .toxics
            .iter()
            .position(|t| t.name == toxic)
            .ok_or_else(|| listener.toxic_not_found(toxic))
    }

    fn changed(&mut self) {
        self.generation += 1;
    }
}

/// Why an operation on the faults was refused; each maps to the status
/// code toxiproxy answers with ([`FaultError::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultError {
    /// No listener has this name.
    ListenerNotFound(String),
    /// A listener already has this name.
    ListenerExists(String),
    /// The listener has no toxic of this name.
    ToxicNotFound {
        /// The listener's name.
        listener: String,
        /// The toxic's.
        toxic: String,
    },
    /// The listener already has a toxic of this name.
    ToxicExists {
        /// The listener's name.
        listener: String,
        /// The toxic's.
        toxic: String,
    },
    /// No toxic type has this name.
    UnknownType(String),
    /// The toxic type has no attribute of this name.
    UnknownAttribute {
        /// The type.
        kind: &'static str,
        /// The attribute asked for.
        key: String,
    },
    /// A stream other than `upstream` or `downstream`.
    BadStream(String),
    /// A toxicity outside 0 to 1 (as given).
    BadToxicity(String),
    /// More listeners or toxics than the table keeps.
    TooMany {
        /// Of what.
        what: &'static str,
        /// The most allowed.
        max: usize,
    },
}

impl FaultError {
    /// The HTTP status toxiproxy answers this with: 404 for what does not
    /// exist, 409 for what exists already, 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            FaultError::ListenerNotFound(_) | FaultError::ToxicNotFound { .. } => 404,
            FaultError::ListenerExists(_) | FaultError::ToxicExists { .. } => 409,
            FaultError::UnknownType(_)
            | FaultError::UnknownAttribute { .. }
            | FaultError::BadStream(_)
            | FaultError::BadToxicity(_)
            | FaultError::TooMany { .. } => 400,
        }
    }
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultError::ListenerNotFound(name) => write!(f, "no listener named '{name}'"),
            FaultError::ListenerExists(name) => write!(f, "a listener named '{name}' exists"),
            FaultError::ToxicNotFound { listener, toxic } => {
                write!(f, "listener '{listener}' has no toxic named '{toxic}'")
            }
            FaultError::ToxicExists { listener, toxic } => {
                write!(
                    f,
                    "listener '{listener}' has a toxic named '{toxic}' already"
                )
            }
            FaultError::UnknownType(name) => write!(
                f,
                "unknown toxic type '{name}' (known: {})",
                TYPES.map(|info| info.name).join(", ")
            ),
            FaultError::UnknownAttribute { kind, key } => {
                let known = TYPES[ToxicKind::zero(kind).map_or(0, |k| k.index())].attributes;
                if known.is_empty() {
                    write!(f, "a {kind} toxic has no attribute '{key}' (it has none)")
                } else {
                    write!(
                        f,
                        "a {kind} toxic has no attribute '{key}' (it has {})",
                        known.join(", ")
                    )
                }
            }
            FaultError::BadStream(name) => {
                write!(f, "stream '{name}' is neither upstream nor downstream")
            }
            FaultError::BadToxicity(text) => {
                write!(f, "toxicity '{text}' is not a number from 0 to 1")
            }
            FaultError::TooMany { what, max } => write!(f, "at most {max} {what}"),
        }
    }
}

impl std::error::Error for FaultError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(ms: u64) -> Toxic {
        let mut kind = ToxicKind::zero("latency").unwrap();
        kind.set_attribute("latency", ms).unwrap();
        Toxic::new(kind, Stream::Downstream)
    }

    fn table() -> FaultTable {
        FaultTable::new(vec![FaultListener::new(
            "slow",
            "127.0.0.1:0".parse().unwrap(),
        )])
        .unwrap()
    }

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

    #[test]
    fn the_table_answers_as_toxiproxy_does() {
        let mut table = table();
        let before = table.generation();
        assert_eq!(
            table.add_toxic("slow", latency(100)).unwrap().name,
            "latency_downstream"
        );
        assert!(table.generation() > before);
        assert_eq!(
            table.add_toxic("slow", latency(5)).unwrap_err().status(),
            409
        );
        assert_eq!(
            table.add_toxic("fast", latency(5)).unwrap_err().status(),
            404
        );
        let update = ToxicUpdate {
            attributes: vec![("jitter".into(), 10)],
            toxicity: Some(Toxicity::new(0.5).unwrap()),
        };
        let updated = table
            .update_toxic("slow", "latency_downstream", &update)
            .unwrap();
        assert_eq!(
            updated.kind.attributes(),
            [("latency", 100), ("jitter", 10)]
        );
        assert_eq!(updated.toxicity.share(), 0.5);
        let bad = ToxicUpdate {
            attributes: vec![("latency".into(), 1), ("rate".into(), 1)],
            toxicity: None,
        };
        assert_eq!(
            table
                .update_toxic("slow", "latency_downstream", &bad)
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            table
                .get("slow")
                .unwrap()
                .toxic("latency_downstream")
                .unwrap()
                .kind
                .attributes()[0],
            ("latency", 100),
            "a bad update changes nothing"
        );
        assert_eq!(
            table
                .update_toxic("slow", "x", &update)
                .unwrap_err()
                .status(),
            404
        );
        table.set_enabled("slow", false).unwrap();
        assert_eq!(
            table
                .insert(FaultListener::new("slow", "127.0.0.1:0".parse().unwrap()))
                .unwrap_err()
                .status(),
            409
        );
        table.reset();
        let slow = table.get("slow").unwrap();
        assert!(slow.enabled && slow.toxics.is_empty());
        assert_eq!(
            table
                .remove_toxic("slow", "latency_downstream")
                .unwrap_err()
                .status(),
            404
        );
    }
}
