//! The end of a run: the threads' reports merged into one
//! [`LoadReport`], and a report (a run's or a merge's, or a rate search's
//! [`SearchReport`]) printed as the human table or, with `--json`, the
//! same struct by serde.

use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use echo_reactor::tools::report::{LoadReport, SearchReport};
use hdrhistogram::Histogram;

use crate::counters::{all_latencies, Errors};
use crate::job::ThreadReport;
use crate::model::{Load, Pace, Plan};
use crate::timer::{nanos, now_ns};

/// The merged report, the latencies it came from, when the run started
/// (for its histogram log), and the first I/O error of a socket (printed
/// beside the report).
pub struct Outcome {
    pub report: LoadReport,
    /// Every latency measured, nanoseconds.
    pub histogram: Histogram<u64>,
    pub started: SystemTime,
    pub first_error: Option<io::Error>,
}

/// Merges the threads' reports into one.
pub fn summarize(plan: &Plan, threads: Vec<ThreadReport>) -> Outcome {
    let mut errors = Errors::default();
    let (mut measured, mut received, mut datagrams_sent) = (0, 0, 0);
    let mut first_error = None;
    let mut longest_ns = 0;
    let mut started_ns = u64::MAX;
    let mut recorded = Vec::with_capacity(threads.len());
    for thread in threads {
        let tally = thread.recorder.tally;
        recorded.push(thread.recorder.latencies);
        errors.add(&tally.errors);
        measured += tally.measured;
        received += tally.received;
        datagrams_sent += tally.datagrams_sent;
        first_error = first_error.or(thread.first_error);
        longest_ns = longest_ns.max(thread.finished_at - thread.timeline.start);
        started_ns = started_ns.min(thread.timeline.start);
    }
    // The wall clock when the first thread started: as long ago as the
    // monotonic clock says.
    let since_start = Duration::from_nanos(now_ns().saturating_sub(started_ns));
    let started = SystemTime::now()
        .checked_sub(since_start)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let histogram = all_latencies(recorded);
    let messages = plan.load.messages();
    // Bulk: the time the stream took; else the measured time.
    let (seconds, bytes) = match messages {
        Some(m) => (m.duration.as_secs_f64(), measured * m.size),
        None => (longest_ns as f64 / 1e9, received),
    };
    let latencies = latencies(&histogram);
    let latency = |i: usize| latencies.map(|l| l[i]);
    let udp = plan.load.udp_timeout();
    let tcp_only = |count: u64| udp.is_none().then_some(count);
    let udp_only = |count: u64| udp.map(|_| count);
    let churn = match plan.load {
        Load::Churn(lifecycles) => Some(lifecycles),
        _ => None,
    };
    let report = LoadReport {
        mode: plan.load.name().into(),
        target: plan.target.to_string(),
        connections: plan.connections as u64,
        size: messages.map(|m| m.size),
        // A churned connection carries one message, never a pipeline.
        depth: messages
            .filter(|_| churn.is_none())
            .and_then(|m| match m.pace {
                Pace::ClosedLoop { depth } => Some(depth as u64),
                Pace::Rate(_) => None,
            }),
        threads: plan.threads as u64,
        rate: messages.and_then(|m| match m.pace {
            Pace::Rate(rate) => Some(rate),
            Pace::ClosedLoop { .. } => None,
        }),
        warmup_s: Some(messages.map_or(0.0, |m| m.warmup.as_secs_f64())),
        duration_s: finite(seconds),
        messages: messages.map(|_| measured),
        messages_per_s: messages.and_then(|_| finite(measured as f64 / seconds)),
        bytes,
        bulk_bytes: match plan.load {
            Load::Bulk { bytes, .. } => Some(bytes),
            _ => None,
        },
        mb_per_s: finite(bytes as f64 / seconds / 1e6),
        gb_per_s: finite(bytes as f64 / seconds / 1e9),
        latency_p50_us: latency(0),
        latency_p99_us: latency(1),
        latency_p999_us: latency(2),
        latency_max_us: latency(3),
        latency_mean_us: latency(4),
        errors: errors.total(),
        mismatched_chunks: tcp_only(errors.mismatched_chunks),
        mismatched_bytes: errors.mismatched_bytes,
        io_errors: errors.io_errors,
        eofs: tcp_only(errors.eofs),
        lost_connections: tcp_only(errors.lost_connections),
        lost_bytes: tcp_only(errors.lost_bytes),
        resets: tcp_only(errors.seen.resets),
        refused: tcp_only(errors.seen.refused),
        connect_timeouts: churn.map(|_| errors.seen.connect_timeouts),
        short_echoes: tcp_only(errors.seen.short_echoes),
        overflows: errors.overflows,
        udp_timeout_ms: udp.map(|timeout| nanos(timeout) / 1_000_000),
        datagrams_sent: udp_only(datagrams_sent),
        lost_datagrams: udp_only(errors.lost_datagrams),
        late_datagrams: udp_only(errors.late_datagrams),
        mismatched_datagrams: udp_only(errors.mismatched_datagrams),
        duplicated_datagrams: udp_only(errors.duplicated_datagrams),
        reordered_datagrams: udp_only(errors.reordered_datagrams),
        lifecycles: churn.map(|_| measured),
        lifecycles_per_s: churn.and_then(|_| finite(measured as f64 / seconds)),
        timeouts: (churn.is_some() || plan.response_timeout.is_some()).then_some(errors.timeouts),
        response_timeout_ms: plan
            .response_timeout
            .map(|timeout| nanos(timeout) / 1_000_000),
        lifecycle_timeout_ms: churn.map(|c| nanos(c.timeout) / 1_000_000),
        sources: churn.and_then(|c| c.sources).map(u64::from),
        runs: None,
    };
    Outcome {
        report,
        histogram,
        started,
        first_error,
    }
}

/// `value`, unless it is infinite or not a number (a run of no time).
fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

fn micros(ns: u64) -> f64 {
    ns as f64 / 1e3
}

/// (p50, p99, p99.9, max, mean) in microseconds; `None` without samples.
pub fn latencies(histogram: &Histogram<u64>) -> Option<[f64; 5]> {
    (!histogram.is_empty()).then(|| {
        [
            micros(histogram.value_at_quantile(0.50)),
            micros(histogram.value_at_quantile(0.99)),
            micros(histogram.value_at_quantile(0.999)),
            micros(histogram.max()),
            histogram.mean() / 1e3,
        ]
    })
}

/// `value` with `decimals`, or `-` where there is none.
fn fixed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

/// `value`, or `-` where there is none.
fn count(value: Option<u64>) -> String {
    value.map_or_else(|| "-".into(), |v| v.to_string())
}

/// The report as a table, one `name value` row per line.
pub fn write_table(out: &mut dyn Write, r: &LoadReport) -> io::Result<()> {
    let bulk = r.mode == "bulk";
    let udp = r.mode == "udp";
    let churn = r.mode == "churn";
    let mut rows: Vec<(&str, String)> = vec![
        ("mode", r.mode.clone()),
        ("target", r.target.clone()),
        (
            "connections",
            if udp {
                format!("{} (UDP sockets)", r.connections)
            } else if churn {
                format!("{} (lifecycles at once, a thread each)", r.connections)
            } else if r.mode == "threads" {
                format!("{} (a blocking thread each)", r.connections)
            } else {
                r.connections.to_string()
            },
        ),
        (
            "size",
            r.size.map_or_else(|| "-".into(), |s| format!("{s} B")),
        ),
        ("depth", count(r.depth)),
        ("threads", r.threads.to_string()),
        (
            "rate",
            match r.rate {
                Some(rate) if churn => format!(
                    "{rate} lifecycles/s offered (open loop, latency from scheduled start times)"
                ),
                Some(rate) => {
                    format!("{rate} msg/s offered (open loop, latency from scheduled send times)")
                }
                None if bulk => "-".into(),
                None => "closed loop".into(),
            },
        ),
        (
            "duration",
            if bulk {
                format!(
                    "{} s, until the last byte came back",
                    fixed(r.duration_s, 3)
                )
            } else {
                format!(
                    "{} s measured, after {} s warm-up",
                    fixed(r.duration_s, 3),
                    fixed(r.warmup_s, 3)
                )
            },
        ),
        ("messages", count(r.messages)),
        ("messages/s", fixed(r.messages_per_s, 1)),
        (
            "bytes",
            match r.bulk_bytes {
                Some(of) => format!("{} of {of}", r.bytes),
                None => r.bytes.to_string(),
            },
        ),
        ("MB/s", fixed(r.mb_per_s, 2)),
        ("GB/s", fixed(r.gb_per_s.filter(|_| bulk), 3)),
        (
            "latency (µs)",
            match (
                r.latency_p50_us,
                r.latency_p99_us,
                r.latency_p999_us,
                r.latency_max_us,
                r.latency_mean_us,
            ) {
                (Some(p50), Some(p99), Some(p999), Some(max), Some(mean)) => format!(
                    "p50 {p50:.1}   p99 {p99:.1}   p99.9 {p999:.1}   max {max:.1}   mean {mean:.1}"
                ),
                _ if bulk => "- (a bulk stream has no messages)".into(),
                _ => "- (no message measured)".into(),
            },
        ),
    ];
    if let Some(runs) = r.runs {
        rows.push((
            "runs",
            format!(
                "{runs} merged: counts, rates and errors summed, latencies of all of them \
                 together; the longest duration"
            ),
        ));
    }
    if let Some(lifecycles) = r.lifecycles {
        rows.push((
            "lifecycles",
            format!(
                "{lifecycles} ({}/s): connect, one echo, half-close, end of stream, close{}",
                fixed(r.lifecycles_per_s, 1),
                if churn {
                    "; the latency above is the whole lifecycle's"
                } else {
                    ""
                }
            ),
        ));
    }
    if churn {
        rows.push((
            "sources",
            r.sources.map_or_else(
                || "the kernel's choice".into(),
                |k| format!("127.0.0.1 to 127.0.0.{k}"),
            ),
        ));
        rows.push((
            "timeout",
            format!(
                "{} ms per wait of a lifecycle",
                count(r.lifecycle_timeout_ms)
            ),
        ));
    }
    if let Some(ms) = r.response_timeout_ms {
        rows.push((
            "timeout",
            format!("{ms} ms for a connection's oldest echo, then it is given up"),
        ));
    }
    if udp {
        let [lost, sent, late] =
            [r.lost_datagrams, r.datagrams_sent, r.late_datagrams].map(Option::unwrap_or_default);
        rows.push((
            "lost",
            format!(
                "{lost} of {sent} datagrams sent ({:.3}%), no echo within {} ms; {late} came back later",
                100.0 * lost as f64 / sent.max(1) as f64,
                count(r.udp_timeout_ms),
            ),
        ));
        rows.push((
            "errors",
            format!(
                "{} (mismatched datagrams {} / bytes {}, duplicated {}, reordered {}, \
                 lost {}, I/O errors {}, in-flight overflows {})",
                r.errors,
                count(r.mismatched_datagrams),
                r.mismatched_bytes,
                count(r.duplicated_datagrams),
                count(r.reordered_datagrams),
                lost,
                r.io_errors,
                r.overflows,
            ),
        ));
    } else {
        let connect_timeouts = r
            .connect_timeouts
            .map_or_else(String::new, |t| format!(", connect timeouts {t}"));
        rows.push((
            "client saw",
            format!(
                "resets {}, refused connects {}, short echoes {}{connect_timeouts} \
                 (among the errors below)",
                count(r.resets),
                count(r.refused),
                count(r.short_echoes),
            ),
        ));
        let timeouts = r
            .timeouts
            .map_or_else(String::new, |t| format!(", timeouts {t}"));
        rows.push((
            "errors",
            format!(
                "{} (mismatched chunks {} / bytes {}, I/O errors {}, unexpected EOFs {}, \
                 lost echoes {} connections / {} bytes, in-flight overflows {}{timeouts})",
                r.errors,
                count(r.mismatched_chunks),
                r.mismatched_bytes,
                r.io_errors,
                count(r.eofs),
                count(r.lost_connections),
                count(r.lost_bytes),
                r.overflows,
            ),
        ));
    }
    for (name, value) in rows {
        writeln!(out, "{name:<14}{value}")?;
    }
    Ok(())
}

/// The report on stdout: one JSON object on one line, or the table.
pub fn print(report: &LoadReport, json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        write_json(&mut out, report)
    } else {
        write_table(&mut out, report)
    }
}

/// `report` as one JSON object on one line.
pub fn write_json(out: &mut dyn Write, report: &impl serde::Serialize) -> io::Result<()> {
    let line = serde_json::to_string(report).map_err(io::Error::other)?;
    writeln!(out, "{line}")
}

/// A rate search as a table: a row per step, then the capacity.
pub fn write_search_table(out: &mut dyn Write, r: &SearchReport) -> io::Result<()> {
    let unit = if r.mode == "churn" {
        "lifecycles/s"
    } else {
        "msg/s"
    };
    writeln!(out, "mode          {}", r.mode)?;
    writeln!(out, "target        {}", r.target)?;
    writeln!(
        out,
        "objective     {} and no error; bisected to within {:.1}%",
        r.objective,
        r.precision * 100.0
    )?;
    // With --step-repeats, which run of its rate each step was, and the
    // rate's verdict on the run that decided it.
    let repeats = r.step_repeats.filter(|&runs| runs > 1);
    if let Some(runs) = repeats {
        writeln!(
            out,
            "step repeats  each rate judged by the majority of up to {runs} runs"
        )?;
    }
    writeln!(
        out,
        "{:>4} {:>12} {:>5} {:>12} {:>7} {:>11} {:>11} {:>11} {:>7}  verdict",
        "step", "offered", "run", "achieved", "secs", "p50 µs", "p99 µs", "p99.9 µs", "errors"
    )?;
    for (n, step) in r.steps.iter().enumerate() {
        let run = match (step.run, repeats) {
            (Some(run), Some(runs)) => format!("{run}/{runs}"),
            (Some(run), None) => run.to_string(),
            (None, _) => "-".into(),
        };
        let rate_verdict = match (repeats, step.rate_met) {
            (Some(_), Some(true)) => "; the rate met it",
            (Some(_), Some(false)) => "; the rate failed",
            _ => "",
        };
        writeln!(
            out,
            "{:>4} {:>12.0} {:>5} {:>12} {:>7.1} {:>11} {:>11} {:>11} {:>7}  {}{}",
            n + 1,
            step.offered_per_s,
            run,
            fixed(step.achieved_per_s, 0),
            step.duration_s,
            fixed(step.p50_us, 1),
            fixed(step.p99_us, 1),
            fixed(step.p999_us, 1),
            step.errors,
            step.verdict,
            rate_verdict
        )?;
    }
    let ending = match (r.cut_short, r.stalled) {
        (true, _) => " (cut short by --max-duration: the best so far)",
        (_, true) => " (the server stalled: the best before it did)",
        _ => "",
    };
    match r.capacity_per_s {
        Some(capacity) => writeln!(out, "capacity      {capacity:.0} {unit}{ending}"),
        None => writeln!(out, "capacity      - (no rate met the objective){ending}"),
    }
}
