//! What the reactor keeps for its fault listeners: the table (which the
//! admin API changes in place), where each listener's socket is, whether
//! it is holding its accepts, and the random numbers the draws come from.
//! The faults applied on each listener are counted in the
//! [`Context`], where `/metrics` finds them
//! (`counts`).

use crate::serve::Context;
use crate::stats::{FaultApplied, Reason};

use super::counts::{count, FaultRow};
use super::draw::{draw, Drawn, SplitMix64};
use super::model::FaultTable;

/// The fault listeners' state in the reactor.
pub(crate) struct FaultState {
    /// The listeners and their toxics.
    pub(crate) table: FaultTable,
    /// The slab key of each listener's socket, by its place in the
    /// table; `None` while it is disabled (its socket closed).
    pub(crate) keys: Vec<Option<usize>>,
    /// The slab key of each listener's UDP socket (`--udp`), `None`
    /// without one or while disabled.
    pub(crate) udp_keys: Vec<Option<usize>>,
    /// Each listener gets a UDP socket too (`--udp`).
    pub(crate) udp: bool,
    /// Each listener holds its accepts (`stop_accepting`).
    pub(crate) holding: Vec<bool>,
    /// The table's generation the sockets were last brought in line with.
    pub(crate) synced: u64,
    /// How the listeners' sockets are opened again once re-enabled.
    pub(crate) backlog: u32,
    pub(crate) reuse_port: bool,
    rng: SplitMix64,
}

impl FaultState {
    /// The state for `table`, drawing from `seed`; sockets are opened
    /// with `backlog` and `reuse_port`.
    pub(crate) fn new(
        table: FaultTable,
        seed: u64,
        backlog: u32,
        reuse_port: bool,
        udp: bool,
    ) -> FaultState {
        let listeners = table.list().len();
        FaultState {
            table,
            keys: vec![None; listeners],
            udp_keys: vec![None; listeners],
            udp,
            holding: vec![false; listeners],
            synced: u64::MAX,
            backlog,
            reuse_port,
            rng: SplitMix64::new(seed),
        }
    }

    /// Grows the per-listener rows to the table's length (a listener
    /// created at run time), its counters' rows in `cx` with them.
    pub(crate) fn fit_rows(&mut self, cx: &mut Context) {
        let listeners = self.table.list().len();
        self.keys.resize(listeners, None);
        self.udp_keys.resize(listeners, None);
        self.holding.resize(listeners, false);
        for listener in &self.table.list()[cx.fault_rows.len().min(listeners)..] {
            cx.fault_rows.push(FaultRow {
                listener: listener.name.clone(),
                ..FaultRow::default()
            });
        }
    }

    /// Draws the toxics of listener `index` for a new connection, and
    /// counts what it drew; also answers a seed for the connection's own
    /// random numbers.
    pub(crate) fn draw(&mut self, index: usize, cx: &mut Context) -> Option<(Drawn, u64)> {
        let listener = self.table.at(index)?;
        let drawn = draw(listener, &mut self.rng)?;
        for (kind, _) in drawn.applied.iter().enumerate().filter(|(_, &on)| on) {
            count(cx, index, FaultApplied::ALL[kind]);
        }
        Some((drawn, self.rng.next_u64()))
    }

    /// A seed for a socket's own random numbers.
    pub(crate) fn seed(&mut self) -> u64 {
        self.rng.next_u64()
    }
}

/// A seed from the clock, when `--fault-seed` gives none.
pub(crate) fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}
