//! One memory budget for every byte the reactor holds for its clients.
//!
//! Each connection may hold up to `--max-pending` unsent echo bytes, so
//! without more, memory is bounded only by connections × `max_pending`:
//! 20,000 clients that write and never read could hold 1.3 GB, and in a
//! container with a memory limit one such crowd gets the whole server
//! killed, well-behaved clients with it. redis answers the same threat with
//! one limit for all clients' buffers (`maxmemory-clients`) and disconnects
//! clients; this server answers it without dropping a byte or a client:
//!
//! - **Accounting.** Every buffer held for a client is charged when it is
//!   allocated or grows and released when it shrinks or is freed: what is
//!   allocated, not what is used (a [`Pending`]
//!   buffer's box and its capacity). The allocator's own overhead is not
//!   counted.
//! - **Growing is refused, not echoing.** A connection whose pending bytes
//!   would need more memory than the budget has left stops reading, exactly
//!   as under per-connection backpressure: it keeps what it has, flushes
//!   when its client reads, and resumes when memory frees. Connections
//!   parked this way wait in one queue and are resumed oldest first when
//!   memory frees, without a scan of every connection.
//! - **Echoing needs no memory.** When the budget cannot cover a whole
//!   read's worth of leftovers, a connection with nothing pending echoes
//!   *through the kernel* instead: it peeks at the received bytes, sends
//!   what the socket takes, and only then consumes that many. Whatever the
//!   socket did not take stays in the kernel's receive queue, not in the
//!   server. A well-behaved client is therefore still served at once (at
//!   one more system call per echo), while a client that never reads fills
//!   its own queues and stalls.
//!
//! The budget's default comes from the memory limit of the server's cgroup
//! ([`default_limit`]), so the server fits the container it runs in.

use std::collections::VecDeque;
use std::fmt;
use std::mem::size_of;
use std::path::Path;

use crate::pending::Pending;

/// Bytes one pending buffer costs before its first byte: the box.
pub const PENDING_OVERHEAD: usize = size_of::<Pending>();

/// Share of a cgroup's memory limit given to client buffers by default: a
/// quarter. The rest is for the server itself and, above all, for the
/// kernel's socket buffers, which cgroup v2 charges to the same limit
/// (several hundred KiB per busy connection on loopback).
pub const CGROUP_SHARE_DIVISOR: u64 = 4;

/// The budget outside a cgroup with a memory limit: 1 GiB.
pub const DEFAULT_OUTSIDE_CGROUP: u64 = 1 << 30;

/// The file that holds the memory limit of the process's cgroup (v2), as
/// seen from inside a container.
pub const CGROUP_MEMORY_MAX: &str = "/sys/fs/cgroup/memory.max";

/// Where a budget came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetSource {
    /// `--max-memory` (or [`Config::max_memory`](crate::Config::max_memory)).
    Given,
    /// A share of the cgroup's `memory.max`, in bytes.
    Cgroup(u64),
    /// No cgroup memory limit: the stated default.
    Default,
}

impl fmt::Display for BudgetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetSource::Given => f.write_str("--max-memory"),
            BudgetSource::Cgroup(limit) => write!(
                f,
                "1/{CGROUP_SHARE_DIVISOR} of the cgroup's memory.max of {limit} B"
            ),
            BudgetSource::Default => {
                write!(f, "default: no cgroup memory limit in {CGROUP_MEMORY_MAX}")
            }
        }
    }
}

/// The default budget: a quarter of the cgroup's memory limit, or
/// [`DEFAULT_OUTSIDE_CGROUP`] without one.
pub fn default_limit() -> (u64, BudgetSource) {
    limit_from_cgroup_file(Path::new(CGROUP_MEMORY_MAX))
}

/// [`default_limit`], reading the limit from `path`.
pub fn limit_from_cgroup_file(path: &Path) -> (u64, BudgetSource) {
    match std::fs::read_to_string(path)
        .ok()
        .and_then(|text| parse_memory_max(&text))
    {
        Some(limit) => (
            (limit / CGROUP_SHARE_DIVISOR).max(1),
            BudgetSource::Cgroup(limit),
        ),
        None => (DEFAULT_OUTSIDE_CGROUP, BudgetSource::Default),
    }
}

/// The limit in a cgroup v2 `memory.max` file: a number of bytes, or `max`
/// for none (`None`, as for anything unreadable).
pub fn parse_memory_max(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => None,
        number => number.parse().ok().filter(|&n| n > 0),
    }
}

/// The reactor's budget for client buffers: what it allows, what is in
/// use, and the connections waiting for memory.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    in_use: usize,
    peak: usize,
    /// The largest charge a connection with nothing pending may make in one
    /// go (a read's worth of leftovers and a box): while the budget cannot
    /// cover it, such connections echo through the kernel.
    largest_charge: usize,
    /// `limit - in_use < largest_charge`, kept up to date by every charge
    /// and release, so the echo path tests one flag.
    tight: bool,
    /// Connections parked until memory frees, oldest first.
    parked: VecDeque<usize>,
}

impl MemoryBudget {
    /// A budget of `limit` bytes, for connections that read at most
    /// `read_size` bytes at a time.
    pub fn new(limit: usize, read_size: usize) -> MemoryBudget {
        let mut budget = MemoryBudget {
            limit,
            in_use: 0,
            peak: 0,
            largest_charge: read_size + PENDING_OVERHEAD,
            tight: false,
            parked: VecDeque::new(),
        };
        budget.update();
        budget
    }

    /// Bytes charged now.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// The most bytes ever charged at once.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Bytes that may still be charged.
    #[inline]
    pub fn available(&self) -> usize {
        self.limit.saturating_sub(self.in_use)
    }

    /// Too little is left for a connection with nothing pending to keep a
    /// read's leftovers: it must echo through the kernel.
    #[inline(always)]
    pub fn is_tight(&self) -> bool {
        self.tight
    }

    /// `bytes` were allocated for a client.
    pub fn charge(&mut self, bytes: usize) {
        self.in_use += bytes;
        self.peak = self.peak.max(self.in_use);
        self.update();
    }

    /// `bytes` charged earlier were freed.
    pub fn release(&mut self, bytes: usize) {
        debug_assert!(bytes <= self.in_use, "released more than was charged");
        self.in_use = self.in_use.saturating_sub(bytes);
        self.update();
    }

    /// Queues the connection `key` until memory frees.
    pub fn park(&mut self, key: usize) {
        self.parked.push_back(key);
    }

    /// Connections wait for memory.
    #[inline(always)]
    pub fn has_parked(&self) -> bool {
        !self.parked.is_empty()
    }

    /// The connection parked longest, if memory is free to resume one.
    pub fn next_to_resume(&mut self) -> Option<usize> {
        if self.available() == 0 {
            return None;
        }
        self.parked.pop_front()
    }

    /// Connections parked now.
    pub fn parked(&self) -> usize {
        self.parked.len()
    }

    fn update(&mut self) {
        self.tight = self.available() < self.largest_charge;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_max_is_a_number_or_max() {
        assert_eq!(parse_memory_max("268435456\n"), Some(268_435_456));
        assert_eq!(parse_memory_max("max\n"), None);
        assert_eq!(parse_memory_max(""), None);
        assert_eq!(parse_memory_max("lots"), None);
        assert_eq!(parse_memory_max("0"), None);
    }

    #[test]
    fn the_default_is_a_quarter_of_the_cgroup_limit_or_one_gibibyte() {
        let dir = std::env::temp_dir().join(format!("echo-reactor-budget-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("memory.max");
        std::fs::write(&file, "268435456\n").unwrap();
        assert_eq!(
            limit_from_cgroup_file(&file),
            (64 << 20, BudgetSource::Cgroup(256 << 20))
        );
        std::fs::write(&file, "max\n").unwrap();
        assert_eq!(
            limit_from_cgroup_file(&file),
            (DEFAULT_OUTSIDE_CGROUP, BudgetSource::Default)
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            limit_from_cgroup_file(&file),
            (DEFAULT_OUTSIDE_CGROUP, BudgetSource::Default),
            "a missing file means no limit"
        );
    }

    #[test]
    fn the_budget_turns_tight_when_a_read_would_not_fit_and_resumes_oldest_first() {
        let mut budget = MemoryBudget::new(10_000, 4096);
        assert!(!budget.is_tight());
        budget.charge(10_000 - 4096 - PENDING_OVERHEAD);
        assert!(!budget.is_tight(), "exactly one more read fits");
        budget.charge(1);
        assert!(budget.is_tight());
        budget.park(7);
        budget.park(3);
        budget.charge(budget.available());
        assert_eq!(
            budget.next_to_resume(),
            None,
            "nothing free, nobody resumes"
        );
        budget.release(100);
        assert_eq!(budget.next_to_resume(), Some(7));
        assert_eq!(budget.next_to_resume(), Some(3));
        assert_eq!(budget.peak(), 10_000);
    }
}
