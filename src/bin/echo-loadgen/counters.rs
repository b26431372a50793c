//! What a thread counts: its errors, its echoes and their latencies, and
//! the batches of them it publishes for the progress line (and, with
//! `--progress-json`, its latencies of the last moments, for the live
//! stream's percentiles of each second).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::timer::{nanos, NANOS_PER_SEC};

/// Highest latency the histogram tells apart (one hour, in nanoseconds);
/// anything slower is recorded as this.
const HIGHEST_LATENCY_NS: u64 = 3_600 * NANOS_PER_SEC;

/// How often threads add their counters to the shared ones.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// Latencies a thread with a pooled histogram keeps before it adds them to
/// the pool.
const BATCH: usize = 256;

/// Everything that went wrong. Never reset at the end of the warm-up.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Errors {
    /// Chunks read that differ from what was sent (or came beyond it).
    pub mismatched_chunks: u64,
    /// Bytes in those chunks (or datagrams) that differ.
    pub mismatched_bytes: u64,
    /// Connections ended by an I/O error.
    pub io_errors: u64,
    /// Connections the server closed.
    pub eofs: u64,
    /// Connections still waiting for echoes when the run ended.
    pub lost_connections: u64,
    /// Bytes those connections were still waiting for.
    pub lost_bytes: u64,
    /// `--rate` messages not sent because the in-flight bound was reached.
    pub overflows: u64,
    /// udp: datagrams that came back with a byte or the length changed, or
    /// naming no datagram sent. (Their differing bytes go to
    /// `mismatched_bytes`.)
    pub mismatched_datagrams: u64,
    /// udp: correct copies of a datagram already echoed.
    pub duplicated_datagrams: u64,
    /// udp: echoes that came after the echo of a later datagram of their
    /// socket.
    pub reordered_datagrams: u64,
    /// udp: datagrams with no echo within `--udp-timeout-ms`.
    pub lost_datagrams: u64,
    /// udp: correct copies of a datagram already counted lost. Not in the
    /// total: the loss is.
    pub late_datagrams: u64,
    /// churn: lifecycles abandoned after a wait of `--lifecycle-timeout-ms`
    /// (for the connect, the echo or the end of stream).
    pub timeouts: u64,
    /// What a client sees of a misbehaving server, told apart: a
    /// breakdown of the errors above, not in the total.
    pub seen: FaultsSeen,
}

/// The errors a client meets when the server misbehaves (a fault
/// listener's toxics, say), each also counted as the error it is: resets
/// and refusals among the I/O errors, short echoes among the EOFs,
/// connect timeouts among the timeouts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FaultsSeen {
    /// Connections reset by the server (`ECONNRESET`, or `EPIPE` on a
    /// write after the reset).
    pub resets: u64,
    /// Connects refused (`ECONNREFUSED`: nothing listens).
    pub refused: u64,
    /// churn: connects that did not finish within the lifecycle timeout
    /// (the server's accept queue is full, or it drops the SYN).
    pub connect_timeouts: u64,
    /// Ends of stream that cut an echo short: part of a message's echo
    /// came back, then the FIN.
    pub short_echoes: u64,
}

impl FaultsSeen {
    fn add(&mut self, other: &FaultsSeen) {
        self.resets += other.resets;
        self.refused += other.refused;
        self.connect_timeouts += other.connect_timeouts;
        self.short_echoes += other.short_echoes;
    }
}

impl Errors {
    /// Events that went wrong (mismatched bytes are detail of the chunks
    /// and datagrams, late datagrams of the losses).
    pub fn total(&self) -> u64 {
        self.mismatched_chunks
            + self.io_errors
            + self.eofs
            + self.lost_connections
            + self.overflows
            + self.mismatched_datagrams
            + self.duplicated_datagrams
            + self.reordered_datagrams
            + self.lost_datagrams
            + self.timeouts
    }

    pub fn add(&mut self, other: &Errors) {
        self.mismatched_chunks += other.mismatched_chunks;
        self.mismatched_bytes += other.mismatched_bytes;
        self.io_errors += other.io_errors;
        self.eofs += other.eofs;
        self.lost_connections += other.lost_connections;
        self.lost_bytes += other.lost_bytes;
        self.overflows += other.overflows;
        self.mismatched_datagrams += other.mismatched_datagrams;
        self.duplicated_datagrams += other.duplicated_datagrams;
        self.reordered_datagrams += other.reordered_datagrams;
        self.lost_datagrams += other.lost_datagrams;
        self.late_datagrams += other.late_datagrams;
        self.timeouts += other.timeouts;
        self.seen.add(&other.seen);
    }

    /// Counts the I/O error `e` that ended a connection, and what it says
    /// the server did.
    pub fn io_error(&mut self, e: &std::io::Error) {
        use std::io::ErrorKind;
        self.io_errors += 1;
        match e.kind() {
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => self.seen.resets += 1,
            ErrorKind::ConnectionRefused => self.seen.refused += 1,
            _ => {}
        }
    }
}

/// One thread's counters, plain integers on its hot path.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    /// Echoes completed, warm-up included (for the progress line).
    pub completed: u64,
    /// Echoes completed of messages sent in the measured time.
    pub measured: u64,
    /// Bytes echoed and checked, warm-up included.
    pub received: u64,
    /// udp: datagrams sent, warm-up included.
    pub datagrams_sent: u64,
    pub errors: Errors,
}

/// A thread's tally and latencies.
pub struct Recorder {
    pub tally: Tally,
    pub latencies: Latencies,
    /// Messages sent (or scheduled) from here on are measured.
    pub measure_from: u64,
    /// With a live stream (`Shared::live`): every latency since the last
    /// publish, warm-up included, for the percentiles of each second.
    live: Option<Vec<u64>>,
}

impl Recorder {
    /// A recorder with a histogram of its own.
    pub fn new() -> Recorder {
        Recorder::with(Latencies::Own(new_histogram()))
    }

    /// A recorder that adds its latencies to `pool`, in batches.
    pub fn pooled(pool: &Pool) -> Recorder {
        Recorder::with(Latencies::Pooled {
            batch: Vec::with_capacity(BATCH),
            pool: pool.clone(),
        })
    }

    fn with(latencies: Latencies) -> Recorder {
        Recorder {
            tally: Tally::default(),
            latencies,
            measure_from: 0,
            live: None,
        }
    }

    /// A message sent (or scheduled) at `sent_at` was echoed whole at
    /// `now`: counted, and measured unless it was sent in the warm-up.
    pub fn echoed(&mut self, sent_at: u64, now: u64) {
        self.tally.completed += 1;
        let latency = now.saturating_sub(sent_at).max(1);
        if let Some(live) = &mut self.live {
            live.push(latency);
        }
        if sent_at >= self.measure_from {
            self.tally.measured += 1;
            self.latencies.record(latency);
        }
    }
}

/// A latency histogram shared by many threads.
pub type Pool = Arc<Mutex<Histogram<u64>>>;

/// An empty [`Pool`].
pub fn new_pool() -> Pool {
    Arc::new(Mutex::new(new_histogram()))
}

/// Where a thread's latencies go. A histogram that tells nanoseconds to an
/// hour apart at 3 digits is 270 KB of counters, all written when it is
/// made: nothing for a polling thread, one of a few, but 270 MB for a
/// thousand threads of a blocking connection each, which share one instead.
pub enum Latencies {
    /// The thread's own histogram.
    Own(Histogram<u64>),
    /// The latencies since the last batch, added to `pool` (the run's one
    /// pool, locked once a batch) when there are [`BATCH`] of them, and at
    /// the end.
    Pooled { batch: Vec<u64>, pool: Pool },
}

impl Latencies {
    fn record(&mut self, nanos: u64) {
        match self {
            Latencies::Own(histogram) => histogram.saturating_record(nanos),
            Latencies::Pooled { batch, pool } => {
                batch.push(nanos);
                if batch.len() == BATCH {
                    add_batch(batch, pool);
                }
            }
        }
    }
}

/// Empties `batch` into `pool`.
fn add_batch(batch: &mut Vec<u64>, pool: &Pool) {
    // A thread that panicked holding the lock left whole samples behind.
    let mut histogram = pool.lock().unwrap_or_else(PoisonError::into_inner);
    for nanos in batch.drain(..) {
        histogram.saturating_record(nanos);
    }
}

/// Every thread's latencies in one histogram: the threads' own added up,
/// plus the pool they shared (once), with their last batches.
pub fn all_latencies(threads: impl IntoIterator<Item = Latencies>) -> Histogram<u64> {
    let mut all = new_histogram();
    let mut shared = None;
    for latencies in threads {
        match latencies {
            // Same bounds everywhere, so adding cannot fail.
            Latencies::Own(histogram) => {
                let _ = all.add(&histogram);
            }
            Latencies::Pooled { mut batch, pool } => {
                add_batch(&mut batch, &pool);
                shared = Some(pool);
            }
        }
    }
    if let Some(pool) = shared {
        let _ = all.add(&*pool.lock().unwrap_or_else(PoisonError::into_inner));
    }
    all
}

/// An empty latency histogram, nanoseconds from 1 to an hour, 3 digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_LATENCY_NS, 3).expect("constant, valid bounds")
}

/// What the threads publish for the progress line, in batches.
#[derive(Default)]
pub struct Shared {
    pub completed: AtomicU64,
    pub received: AtomicU64,
    pub errors: AtomicU64,
    pub lost_datagrams: AtomicU64,
    /// With a live stream: the latencies published since the stream last
    /// took them (once a second), warm-up included.
    pub live: Option<Mutex<Histogram<u64>>>,
}

impl Shared {
    /// Counters that collect latencies for a live stream too.
    pub fn with_live() -> Shared {
        Shared {
            live: Some(Mutex::new(new_histogram())),
            ..Shared::default()
        }
    }

    /// The latencies published since the last call, and an empty
    /// histogram in their place; `None` without a live stream.
    pub fn take_live(&self) -> Option<Histogram<u64>> {
        let live = self.live.as_ref()?;
        let mut histogram = live.lock().unwrap_or_else(PoisonError::into_inner);
        Some(std::mem::replace(&mut *histogram, new_histogram()))
    }
}

/// A thread's side of [`Shared`]: what it published last, and when next.
pub struct Publisher {
    shared: Arc<Shared>,
    published: Tally,
    next: u64,
}

impl Publisher {
    pub fn new(shared: Arc<Shared>) -> Publisher {
        Publisher {
            shared,
            published: Tally::default(),
            next: 0,
        }
    }

    /// When the next batch is due.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Adds what changed in `recorder`'s tally since the last time to the
    /// shared counters, and its latencies since then to the live ones if
    /// there are (the first call has it keep them), at most once per
    /// `PUBLISH_EVERY` unless `force`d.
    pub fn publish(&mut self, recorder: &mut Recorder, now: u64, force: bool) {
        if now < self.next && !force {
            return;
        }
        self.next = now + nanos(PUBLISH_EVERY);
        let shared = &self.shared;
        if let Some(live) = &shared.live {
            match &mut recorder.live {
                None => recorder.live = Some(Vec::with_capacity(BATCH)),
                Some(latencies) => {
                    let mut histogram = live.lock().unwrap_or_else(PoisonError::into_inner);
                    for nanos in latencies.drain(..) {
                        histogram.saturating_record(nanos);
                    }
                }
            }
        }
        let tally = &recorder.tally;
        let (new, old) = (tally, &self.published);
        shared
            .completed
            .fetch_add(new.completed - old.completed, Ordering::Relaxed);
        shared
            .received
            .fetch_add(new.received - old.received, Ordering::Relaxed);
        shared
            .errors
            .fetch_add(new.errors.total() - old.errors.total(), Ordering::Relaxed);
        shared.lost_datagrams.fetch_add(
            new.errors.lost_datagrams - old.errors.lost_datagrams,
            Ordering::Relaxed,
        );
        self.published = *tally;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_latencies_reach_the_one_histogram_once_each() {
        let pool = new_pool();
        let (mut first, mut second) = (Recorder::pooled(&pool), Recorder::pooled(&pool));
        let mut own = Recorder::new();
        // More than a batch: one goes into the pool while the thread runs.
        for i in 0..BATCH as u64 + 44 {
            first.echoed(0, 1_000 + i);
        }
        second.echoed(0, 5_000);
        own.echoed(0, 7_000);
        let all = all_latencies([first.latencies, second.latencies, own.latencies]);
        assert_eq!(all.len(), BATCH as u64 + 46);
        assert_eq!(all.min(), 1_000);
        assert!(all.equivalent(all.max(), 7_000));
    }
}
