//! The headline: capacity at a latency objective. How many echoes a
//! second each server takes while its p99 stays within 1 ms (and within
//! 10 ms), with no error: the figure people size a proxy or a fleet by,
//! where closed-loop throughput on a small machine mostly measures the
//! load generator.
//!
//! Each figure is one `echo-loadgen --objective p99<=1ms --step-repeats 3`
//! search (its module doc says how it steps, and why each rate is judged
//! by the majority of three runs on a busy machine): ping-pong, 64 B, 50
//! and 1,000 connections, plain and over TLS, against every server that
//! serves on one thread (echo-reactor, its baseline, the C server,
//! tokio-current; TLS: echo-reactor and tokio-rustls). Searches are
//! interleaved like the other scenarios (for repeat, for row, for server,
//! each server started fresh) and the table shows medians.
//!
//! **Pinned.** The server runs on one CPU and the load generator on
//! another (`taskset -c`; [`Pinning`] says which), so they do not take
//! each other's core and the server's capacity is one core's. `--no-pin`
//! lets the scheduler place them, as the closed-loop scenarios do.
//!
//! **Share of the core's limit.** A server that spends `c` µs of CPU on
//! an echo can serve at most `1 s / c` echoes a second on one core: its
//! own ceiling. Its capacity divided by that ceiling (capacity x `c`) says
//! how close to it the server runs before its tail breaks: near 100 %, it
//! is out of CPU; far below, something else breaks the tail first
//! (wake-ups, batching, the order connections are served). `c` is the
//! fixed-rate scenario's CPU per echo (50 connections at `--rate`, plain or
//! TLS, see [`crate::repeated`]), so it is measured once, not again here.
//!
//! **Bounded.** A search's steps start at 10,000 msg/s (the 10 ms search
//! at the same server's 1 ms capacity in the same repeat, which it cannot
//! be below; a search whose first rate fails starts again from 2,000 msg/s
//! in the time it has left), bisect to within 10 %, and stop after 40 s
//! (`--quick`: 5 s): at most 24 searches a repeat, 16 minutes, and
//! typically about half that. `--skip-capacity` leaves them out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::binaries::Binaries;
use crate::noise_floor::Floor;
use crate::pinning::Pinning;
use crate::report::{human, median_of, Results};
use crate::scenarios::{self, Unit, FIXED_RATE, TLS_FIXED_RATE};
use crate::servers::{Listener, Running, Server, Wrapper};
use crate::tls::TlsFiles;
use crate::tools::{self, strings};
use crate::{Args, Timing};

/// The metric of a capacity row: the highest offered rate that met the
/// objective (0: not even the first step's).
pub const CAPACITY: &str = "capacity msg/s";

/// The metric of a share row: capacity as a share of the core's limit, %.
pub const SHARE: &str = "% of core limit";

/// Where a search starts when nothing better is known, msg/s: a rate every
/// server here meets on a quiet machine, whose p99 step (10,000 samples)
/// lasts 1 s.
const FIRST_RATE: f64 = 10_000.0;

/// Where a search whose first rate failed starts again, in what is left of
/// its time: its p99 steps last 5 s, so a server that cannot take
/// [`FIRST_RATE`] still gets a figure rather than a zero.
const FALLBACK_RATE: f64 = 2_000.0;

/// Bisecting stops within this many percent: finer is below the noise of
/// a shared machine.
const PRECISION_PERCENT: &str = "10";

/// Runs a rate is judged by, at most (the majority decides).
const STEP_REPEATS: &str = "3";

/// How long a search's steps last, and how long a search may take.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub warmup: f64,
    pub duration: f64,
    pub max_duration: f64,
}

impl Budget {
    pub fn new(quick: bool) -> Budget {
        if quick {
            Budget {
                warmup: 0.2,
                duration: 0.2,
                max_duration: 5.0,
            }
        } else {
            Budget {
                warmup: 0.5,
                duration: 1.0,
                max_duration: 40.0,
            }
        }
    }
}

/// One capacity row: an objective, a number of connections, plain or TLS.
pub struct Row {
    pub key: &'static str,
    /// The objective is p99 within this many milliseconds.
    pub bound_ms: u32,
    pub connections: u32,
    pub tls: bool,
    /// The row whose capacity (same server, same repeat) this row's search
    /// starts from: a looser objective's capacity is at least a tighter
    /// one's, so the steps below it would only meet it again.
    pub starts_from: Option<&'static str>,
}

impl Row {
    /// The objective, as `echo-loadgen --objective` reads it.
    pub fn objective(&self) -> String {
        format!("p99<={}ms", self.bound_ms)
    }

    /// The table's label of its capacity row.
    pub fn label(&self) -> String {
        format!(
            "{}capacity at {}, C={}, msg/s",
            if self.tls { "TLS " } else { "" },
            self.objective(),
            self.connections
        )
    }

    /// The table's label of its share row.
    pub fn share_label(&self) -> String {
        format!(
            "{}capacity at {}, C={}, % of its core's limit",
            if self.tls { "TLS " } else { "" },
            self.objective(),
            self.connections
        )
    }

    /// The fixed-rate scenario whose CPU per echo sets its core's limit.
    fn cpu_scenario(&self) -> &'static str {
        if self.tls {
            TLS_FIXED_RATE
        } else {
            FIXED_RATE
        }
    }
}

/// The rows, in the order they run and are told: each 1 ms row before the
/// 10 ms row that starts from it.
pub const ROWS: [Row; 8] = [
    row("capacity-1ms-c50", 1, 50, false, None),
    row("capacity-10ms-c50", 10, 50, false, Some("capacity-1ms-c50")),
    row("capacity-1ms-c1000", 1, 1000, false, None),
    row(
        "capacity-10ms-c1000",
        10,
        1000,
        false,
        Some("capacity-1ms-c1000"),
    ),
    row("tls-capacity-1ms-c50", 1, 50, true, None),
    row(
        "tls-capacity-10ms-c50",
        10,
        50,
        true,
        Some("tls-capacity-1ms-c50"),
    ),
    row("tls-capacity-1ms-c1000", 1, 1000, true, None),
    row(
        "tls-capacity-10ms-c1000",
        10,
        1000,
        true,
        Some("tls-capacity-1ms-c1000"),
    ),
];

const fn row(
    key: &'static str,
    bound_ms: u32,
    connections: u32,
    tls: bool,
    starts_from: Option<&'static str>,
) -> Row {
    Row {
        key,
        bound_ms,
        connections,
        tls,
        starts_from,
    }
}

/// Every capacity search, `--repeats` times, interleaved over the rows and
/// the servers that serve on one thread (the TLS rows with `tls`'s
/// certificate, against the servers that serve TLS).
pub fn capacity_runs(
    args: &Args,
    bins: &Binaries,
    servers: &[Server],
    tls: Option<&TlsFiles>,
    timing: &Timing,
    results: &mut Results,
) {
    let pinning = Pinning::choose(args.no_pin);
    results.setup.push(pinning.describe());
    let runs = |row: &Row| -> Vec<Server> {
        servers
            .iter()
            .copied()
            .filter(|s| s.single_threaded() && (!row.tls || (tls.is_some() && s.serves_tls())))
            .collect()
    };
    let searches: usize = ROWS.iter().map(|row| runs(row).len()).sum();
    let budget = timing.capacity;
    eprintln!(
        "compare: capacity: {searches} searches x {} repeats, at most {:.0} s each \
         (at most {:.0} min a repeat); {}",
        args.repeats,
        budget.max_duration,
        searches as f64 * budget.max_duration / 60.0,
        pinning.describe()
    );
    let probed: Vec<u32> = pinning
        .server()
        .into_iter()
        .chain(pinning.generator())
        .collect();
    let mut bounds_ms: Vec<u32> = ROWS.iter().map(|row| row.bound_ms).collect();
    bounds_ms.sort_unstable();
    bounds_ms.dedup();
    for repeat in 1..=args.repeats {
        let floor = Floor::measure(&probed);
        let line = floor.describe(repeat, &bounds_ms);
        eprintln!("compare: {line}");
        results.setup.push(line);
        results
            .chance_bounds_ms
            .extend(bounds_ms.iter().filter(|&&ms| floor.makes_chance(ms)));
        // Each server's capacities in this repeat, by row.
        let mut found: HashMap<(&str, Server), f64> = HashMap::new();
        for row in &ROWS {
            for server in runs(row) {
                let what = format!(
                    "[repeat {repeat}/{}] {:<36} {:<21}",
                    args.repeats,
                    row.label(),
                    server.name()
                );
                let first = row
                    .starts_from
                    .and_then(|key| found.get(&(key, server)).copied())
                    .filter(|&capacity| capacity > 0.0)
                    .unwrap_or(FIRST_RATE);
                let search = Search {
                    row,
                    server,
                    first,
                    budget,
                    pinning: &pinning,
                };
                let result = search.run(bins, tls).map(|numbers| {
                    eprintln!("compare: {what} {}", numbers.describe());
                    found.insert((row.key, server), numbers.capacity);
                    results.record(repeat, row.key, server, numbers.samples());
                    if let Some(note) = numbers.note() {
                        results.notes.push(format!(
                            "{} / {}, repeat {repeat}: {note}",
                            row.key,
                            server.name()
                        ));
                    }
                });
                results.check(&what, result);
            }
        }
    }
}

/// One search: a row against a server, from a first rate.
struct Search<'a> {
    row: &'a Row,
    server: Server,
    first: f64,
    budget: Budget,
    pinning: &'a Pinning,
}

/// What one search found.
struct Found {
    /// msg/s; 0 if no rate met the objective.
    capacity: f64,
    /// Runs of steps, over every rate.
    runs: usize,
    first: f64,
    cut_short: bool,
    stalled: bool,
}

impl Search<'_> {
    /// echo-loadgen's arguments (without `--target` and `--json`) for a
    /// search from `first` that may take `max_duration` seconds.
    fn load(&self, first: f64, max_duration: f64, tls: Option<&TlsFiles>) -> Vec<String> {
        let mut args = strings(&["--mode", "pingpong", "--size", "64"]);
        args.extend(strings(&[
            "--connections",
            &self.row.connections.to_string(),
            "--objective",
            &self.row.objective(),
            "--step-repeats",
            STEP_REPEATS,
            "--search-precision",
            PRECISION_PERCENT,
            "--rate",
            &first.round().to_string(),
            "--max-duration",
            &format!("{max_duration:.3}"),
        ]));
        args.extend(scenarios::window(self.budget.warmup, self.budget.duration));
        if let Some(files) = tls.filter(|_| self.row.tls) {
            args.extend(scenarios::trust(files));
        }
        args
    }

    /// Starts the server (pinned, serving TLS in a TLS row), runs the
    /// search against it (again from [`FALLBACK_RATE`] in the time left
    /// if no rate met the objective), stops it.
    fn run(&self, bins: &Binaries, tls: Option<&TlsFiles>) -> Result<Found, String> {
        let files = match (self.row.tls, tls) {
            (true, None) => return Err("no TLS certificate was made".into()),
            (true, files) => files,
            (false, _) => None,
        };
        let wrapper = self
            .pinning
            .server()
            .map_or(Wrapper::Plain, Wrapper::Pinned);
        let listener = files.map_or(Listener::Plain, Listener::Tls);
        let running = Running::start_with(self.server, bins, wrapper, listener)?;
        let began = Instant::now();
        let mut found = Found {
            capacity: 0.0,
            runs: 0,
            first: self.first,
            cut_short: false,
            stalled: false,
        };
        // The fallback only ever starts lower.
        let fallback = (self.first > FALLBACK_RATE).then_some(FALLBACK_RATE);
        for first in std::iter::once(self.first).chain(fallback) {
            let left = self.budget.max_duration - began.elapsed().as_secs_f64();
            if left < 0.001 {
                break;
            }
            let load = self.load(first, left, files);
            // A stalled step may overrun the search by its drain and its
            // connects; a minute more is plenty.
            let timeout = Duration::from_secs_f64(left + 60.0);
            let pin = self.pinning.generator();
            let report = tools::loadgen_search(bins, running.addr, &load, pin, timeout)?;
            found = Found {
                capacity: report.capacity_per_s.unwrap_or(0.0),
                runs: found.runs + report.steps.len(),
                first,
                cut_short: report.cut_short,
                stalled: report.stalled,
            };
            if found.capacity > 0.0 || found.stalled {
                break;
            }
        }
        running.stop()?;
        Ok(found)
    }
}

impl Found {
    fn samples(&self) -> [(&'static str, f64); 4] {
        let flag = |set: bool| if set { 1.0 } else { 0.0 };
        [
            (CAPACITY, self.capacity),
            ("search runs", self.runs as f64),
            ("search cut short", flag(self.cut_short)),
            ("search stalled", flag(self.stalled)),
        ]
    }

    fn describe(&self) -> String {
        let mut text = format!(
            "{} msg/s ({} runs from {}/s)",
            human(self.capacity),
            self.runs,
            human(self.first)
        );
        if let Some(note) = self.note() {
            text.push_str(", ");
            text.push_str(&note);
        }
        text
    }

    /// What makes the figure suspect, if anything.
    fn note(&self) -> Option<String> {
        if self.capacity == 0.0 && !(self.stalled || self.cut_short) {
            Some(format!(
                "no rate from {}/s met the objective",
                human(self.first)
            ))
        } else if self.stalled {
            Some("the server stalled: the best rate before it did".into())
        } else if self.cut_short {
            Some("cut short by --max-duration: the best rate so far".into())
        } else {
            None
        }
    }
}

/// Each capacity's share of its server's core limit, from the medians:
/// capacity x CPU per echo at the fixed rate, in %; recorded as repeat 0,
/// figures of the whole run.
pub fn record_shares(servers: &[Server], results: &mut Results) {
    let [cpu_per_echo, ..] = Unit::Echo.cpu_metrics();
    for row in &ROWS {
        for &server in servers {
            let samples = &results.samples;
            let capacity = median_of(samples, row.key, CAPACITY, server);
            let cpu_us = median_of(samples, row.cpu_scenario(), cpu_per_echo, server);
            if let (Some(capacity), Some(cpu_us)) = (capacity, cpu_us) {
                let share = capacity * cpu_us / 1e6 * 100.0;
                results.record(0, row.key, server, [(SHARE, share)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_looser_row_starts_from_a_tighter_row_run_before_it() {
        let mut keys: Vec<&str> = ROWS.iter().map(|row| row.key).collect();
        for (n, row) in ROWS.iter().enumerate() {
            if let Some(from) = row.starts_from {
                let twin = ROWS[..n].iter().find(|r| r.key == from).expect(from);
                assert_eq!((twin.connections, twin.tls), (row.connections, row.tls));
                assert_eq!(twin.bound_ms, 1);
                assert!(twin.bound_ms < row.bound_ms);
            }
        }
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), ROWS.len());
    }

    #[test]
    fn the_share_is_capacity_times_cpu_per_echo() {
        let mut results = Results::default();
        let server = Server::EchoReactor;
        for (repeat, capacity) in [(1, 90_000.0), (2, 100_000.0), (3, 110_000.0)] {
            results.record(repeat, "capacity-1ms-c50", server, [(CAPACITY, capacity)]);
            results.record(repeat, FIXED_RATE, server, [("CPU µs/echo", 5.0)]);
        }
        record_shares(&[server], &mut results);
        let share = median_of(&results.samples, "capacity-1ms-c50", SHARE, server);
        assert_eq!(share, Some(50.0));
        // No TLS figures, no TLS share.
        let tls = median_of(&results.samples, "tls-capacity-1ms-c50", SHARE, server);
        assert_eq!(tls, None);
    }
}
