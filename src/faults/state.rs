//! What the reactor keeps for its fault listeners: the table (which the
//! admin API changes in place), where each listener's socket is, whether
//! it is holding its accepts, the random numbers the draws come from, and
//! the faults applied on each listener.
//!
//! The counters by listener are a table of at most
//! [`MAX_FAULT_LISTENERS`](super::MAX_FAULT_LISTENERS) rows of one figure
//! per [`FaultApplied`] kind: bounded, so the labels `/metrics` could
//! give them stay few, whatever the API is asked to create. Their sum
//! over the listeners is the `faults_applied` family of [`Stats`].

use crate::stats::{FaultApplied, Reason, Stats};

use super::draw::{draw, Drawn, SplitMix64};
use super::model::FaultTable;

/// One figure per kind of fault applied.
pub(crate) type AppliedCounts = <FaultApplied as Reason>::Counts;

/// The fault listeners' state in the reactor.
pub(crate) struct FaultState {
    /// The listeners and their toxics.
    pub(crate) table: FaultTable,
    /// The slab key of each listener's socket, by its place in the
    /// table; `None` while it is disabled (its socket closed).
    pub(crate) keys: Vec<Option<usize>>,
    /// Each listener holds its accepts (`stop_accepting`).
    pub(crate) holding: Vec<bool>,
    /// Faults applied, per listener.
    pub(crate) applied: Vec<AppliedCounts>,
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
    pub(crate) fn new(table: FaultTable, seed: u64, backlog: u32, reuse_port: bool) -> FaultState {
        let listeners = table.list().len();
        FaultState {
            table,
            keys: vec![None; listeners],
            holding: vec![false; listeners],
            applied: vec![AppliedCounts::default(); listeners],
            synced: u64::MAX,
            backlog,
            reuse_port,
            rng: SplitMix64::new(seed),
        }
    }

    /// Grows the per-listener rows to the table's length (a listener
    /// created at run time).
    pub(crate) fn fit_rows(&mut self) {
        let listeners = self.table.list().len();
        self.keys.resize(listeners, None);
        self.holding.resize(listeners, false);
        self.applied.resize(listeners, AppliedCounts::default());
    }

    /// Draws the toxics of listener `index` for a new connection, and
    /// counts what it drew; also answers a seed for the connection's own
    /// random numbers.
    pub(crate) fn draw(&mut self, index: usize, stats: &mut Stats) -> Option<(Drawn, u64)> {
        let listener = self.table.at(index)?;
        let drawn = draw(listener, &mut self.rng)?;
        for (kind, _) in drawn.applied.iter().enumerate().filter(|(_, &on)| on) {
            self.count(index, FaultApplied::ALL[kind], stats);
        }
        Some((drawn, self.rng.next_u64()))
    }

    /// Counts one fault of `kind` applied on listener `index`.
    pub(crate) fn count(&mut self, index: usize, kind: FaultApplied, stats: &mut Stats) {
        if let Some(row) = self.applied.get_mut(index) {
            row[kind.index()] += 1;
        }
        stats.faults_applied[kind] += 1;
    }
}

/// A seed from the clock, when `--fault-seed` gives none.
pub(crate) fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}
