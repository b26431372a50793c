//! `echo-loadgen merge LOG...`: the runs of several load generators (one
//! server loaded from several machines, say), each written with
//! `--histogram-log`, as one report, which `main.rs` prints as a run's.
//!
//! How each figure adds up:
//!
//! - **Latency percentiles** are those of every latency of every run: the
//!   runs' histograms are added and the percentiles read from the sum.
//!   Percentiles themselves never add up (the mean of two p99s is the p99 of
//!   nothing).
//! - **Counts** (messages, bytes, lifecycles, every kind of error,
//!   connections, threads) are summed.
//! - **Rates** (messages/s, MB/s, lifecycles/s, and the offered `--rate`)
//!   are summed too: each run measured its own rate over its own window,
//!   and runs that load one server together run at the same time, so the
//!   server served the sum of their rates while they overlapped. Dividing
//!   the total by the longest duration instead would count a run that took
//!   half as long at half its rate.
//! - **Durations**: the longest; a setting the runs share (size, depth,
//!   timeouts) is kept, one they differ in is `None`; the modes and
//!   targets are listed, each once.

use std::fs;
use std::path::{Path, PathBuf};

use echo_reactor::tools::histogram_log::{self, RunLog};
use echo_reactor::tools::report::LoadReport;
use hdrhistogram::Histogram;

use crate::counters::new_histogram;
use crate::report::latencies;

/// Reads every log and merges their runs into one report; one line if a
/// log cannot be read (naming it) or their histograms cannot be added.
pub fn merge(logs: &[PathBuf]) -> Result<LoadReport, String> {
    let mut runs = Vec::with_capacity(logs.len());
    for path in logs {
        let run = read(path).map_err(|message| format!("{}: {message}", path.display()))?;
        runs.push(run);
    }
    let histogram = all_latencies(&runs)?;
    let reports: Vec<&LoadReport> = runs.iter().map(|run| &run.report).collect();
    Ok(merged(&reports, &histogram))
}

/// One log, read and checked.
fn read(path: &Path) -> Result<RunLog, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    histogram_log::read(&bytes)
}

/// The sum of the runs' histograms.
fn all_latencies(runs: &[RunLog]) -> Result<Histogram<u64>, String> {
    let mut all = new_histogram();
    // A log from elsewhere may have other bounds: grow to fit them.
    all.auto(true);
    for (n, run) in runs.iter().enumerate() {
        all.add(&run.histogram)
            .map_err(|e| format!("log {}: its histogram cannot be added: {e:?}", n + 1))?;
    }
    Ok(all)
}

/// The runs' `reports` as one, with the latencies of `histogram`, their
/// sum (see the module doc for how each field adds up).
fn merged(reports: &[&LoadReport], histogram: &Histogram<u64>) -> LoadReport {
    let total = |field: fn(&LoadReport) -> u64| reports.iter().map(|r| field(r)).sum::<u64>();
    let total_of_some = |field: fn(&LoadReport) -> Option<u64>| {
        reports.iter().filter_map(|r| field(r)).reduce(|a, b| a + b)
    };
    let rate = |field: fn(&LoadReport) -> Option<f64>| {
        reports.iter().filter_map(|r| field(r)).reduce(|a, b| a + b)
    };
    let longest = |field: fn(&LoadReport) -> Option<f64>| {
        reports.iter().filter_map(|r| field(r)).reduce(f64::max)
    };
    let shared = |field: fn(&LoadReport) -> Option<u64>| {
        let first = field(reports.first()?);
        reports.iter().all(|r| field(r) == first).then_some(first)?
    };
    let each_once = |field: fn(&LoadReport) -> &str| {
        let mut seen: Vec<&str> = Vec::new();
        for report in reports {
            if !seen.contains(&field(report)) {
                seen.push(field(report));
            }
        }
        seen.join("+")
    };
    let latency = latencies(histogram);
    let latency = |i: usize| latency.map(|l| l[i]);
    LoadReport {
        mode: each_once(|r| &r.mode),
        target: each_once(|r| &r.target),
        connections: total(|r| r.connections),
        size: shared(|r| r.size),
        depth: shared(|r| r.depth),
        threads: total(|r| r.threads),
        rate: rate(|r| r.rate),
        warmup_s: longest(|r| r.warmup_s),
        duration_s: longest(|r| r.duration_s),
        messages: total_of_some(|r| r.messages),
        messages_per_s: rate(|r| r.messages_per_s),
        bytes: total(|r| r.bytes),
        bulk_bytes: total_of_some(|r| r.bulk_bytes),
        mb_per_s: rate(|r| r.mb_per_s),
        gb_per_s: rate(|r| r.gb_per_s),
        latency_p50_us: latency(0),
        latency_p99_us: latency(1),
        latency_p999_us: latency(2),
        latency_max_us: latency(3),
        latency_mean_us: latency(4),
        errors: total(|r| r.errors),
        mismatched_chunks: total_of_some(|r| r.mismatched_chunks),
        mismatched_bytes: total(|r| r.mismatched_bytes),
        io_errors: total(|r| r.io_errors),
        eofs: total_of_some(|r| r.eofs),
        lost_connections: total_of_some(|r| r.lost_connections),
        lost_bytes: total_of_some(|r| r.lost_bytes),
        resets: total_of_some(|r| r.resets),
        refused: total_of_some(|r| r.refused),
        connect_timeouts: total_of_some(|r| r.connect_timeouts),
        short_echoes: total_of_some(|r| r.short_echoes),
        overflows: total(|r| r.overflows),
        udp_timeout_ms: shared(|r| r.udp_timeout_ms),
        datagrams_sent: total_of_some(|r| r.datagrams_sent),
        lost_datagrams: total_of_some(|r| r.lost_datagrams),
        late_datagrams: total_of_some(|r| r.late_datagrams),
        mismatched_datagrams: total_of_some(|r| r.mismatched_datagrams),
        duplicated_datagrams: total_of_some(|r| r.duplicated_datagrams),
        reordered_datagrams: total_of_some(|r| r.reordered_datagrams),
        lifecycles: total_of_some(|r| r.lifecycles),
        lifecycles_per_s: rate(|r| r.lifecycles_per_s),
        timeouts: total_of_some(|r| r.timeouts),
        response_timeout_ms: shared(|r| r.response_timeout_ms),
        lifecycle_timeout_ms: shared(|r| r.lifecycle_timeout_ms),
        sources: shared(|r| r.sources),
        runs: Some(reports.iter().map(|r| r.runs.unwrap_or(1)).sum()),
    }
}
