//! `--stats-interval`: the counters line on a schedule, with rates.

use std::time::{Duration, Instant};

use super::Stats;

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
