//! System calls per connection lifecycle, once per server, under
//! `strace -c -f`: what a short-lived connection (connect, one echo,
//! half-close, close) costs the server in calls, and which calls.
//!
//! A churn at a fixed rate runs against the traced server, and so does a
//! short baseline churn; the baseline's counts, call by call, are taken
//! from the full run's, so start-up and shutdown drop out and what is left
//! is divided by the lifecycles between the two. Every call's figure goes
//! to `syscalls-per-lifecycle-SERVER.txt` in the out dir, the total and the
//! top calls to `raw.csv`.

use std::fmt::Write as _;

use crate::noise_free::{FixedCount, Traced};
use crate::parse::{parse_strace, StraceSummary};
use crate::report::{error_note, Results, Sample};
use crate::scenarios::{churn_load, window, Unit, CHURN_CONNECTIONS};
use crate::servers::{Server, Wrapper};

/// The figures' scenario in `raw.csv`.
pub const SCENARIO: &str = "strace-churn";
/// The prefix of the per-call metrics: `per lifecycle: accept4`.
const PER_CALL: &str = "per lifecycle: ";
/// How many calls get a figure of their own in `raw.csv` (the file in the
/// out dir has them all).
const TOP_CALLS: usize = 8;
/// The baseline churn, (lifecycles/s, seconds): a few lifecycles, so that
/// start-up and shutdown are all it counts.
const BASELINE: (u32, f64) = (100, 0.2);
/// Calls made less often than this per lifecycle (start-up calls that
/// the baseline did not quite cancel, say) are left out of `raw.csv` and
/// the summary.
const RARE: f64 = 0.005;

impl Traced<'_> {
    /// System calls per lifecycle under strace: the full churn run minus
    /// the baseline, call by call.
    pub fn lifecycle_strace(&self, server: Server, results: &mut Results) -> Result<(), String> {
        let run = |label: &str, (rate, seconds)| -> Result<(FixedCount, StraceSummary), String> {
            let file = self
                .out
                .join(format!("strace-churn-{}-{label}.txt", server.name()));
            let load = [churn_load(Some(f64::from(rate))), window(0.0, seconds)].concat();
            let (report, text) =
                self.load(server, Wrapper::Strace(&file), &file, &load, seconds)?;
            Ok((
                FixedCount::of(&report, Unit::Lifecycle)?,
                parse_strace(&text)?,
            ))
        };
        let (base, base_calls) = run("baseline", BASELINE)?;
        let (full, full_calls) = run("full", self.timing.churn_strace)?;
        let lifecycles = full.count - base.count;
        if lifecycles < 1.0 {
            return Err(format!(
                "the churn under strace made {} lifecycles, the baseline {}",
                full.count, base.count
            ));
        }
        let calls = full_calls.total - base_calls.total;
        let per_call = calls_per_lifecycle(&full_calls, &base_calls, lifecycles);
        let breakdown = self
            .out
            .join(format!("syscalls-per-lifecycle-{}.txt", server.name()));
        let text = breakdown_text(server, &per_call, calls / lifecycles, lifecycles);
        std::fs::write(&breakdown, text)
            .map_err(|e| format!("cannot write {}: {e}", breakdown.display()))?;

        // Each load thread's lifecycles are due this often: with a median
        // lifecycle longer than that, most started late, so they queued,
        // and a server that finds several connections per wake-up makes
        // fewer calls per lifecycle.
        let (rate, _) = self.timing.churn_strace;
        let due_every_us = f64::from(CHURN_CONNECTIONS) / f64::from(rate) * 1e6;
        let (p50, p99) = (full.p50_us, full.p99_us);
        if p50 > due_every_us {
            results.notes.push(format!(
                "{} fell behind under strace in the churn (lifecycle median {p50:.0} µs, \
                 over the {due_every_us:.0} µs between a load thread's lifecycles): its \
                 syscalls per lifecycle may be too low; run again on a quieter machine",
                server.name()
            ));
        }
        let errors = full.errors + base.errors;
        results.record(
            0,
            SCENARIO,
            server,
            [
                ("syscalls/lifecycle".to_string(), calls / lifecycles),
                ("lifecycles".into(), lifecycles),
                ("syscalls".into(), calls),
                ("p50 µs".into(), p50),
                ("p99 µs".into(), p99),
                ("loadgen errors".into(), errors as f64),
            ]
            .into_iter()
            .chain(
                per_call
                    .iter()
                    .take_while(|(_, n)| *n >= RARE)
                    .take(TOP_CALLS)
                    .map(|(name, n)| (format!("{PER_CALL}{name}"), *n)),
            ),
        );
        eprintln!(
            "compare:   strace     {:<21} {:>7.3} syscalls/lifecycle ({}; {lifecycles} \
             lifecycles, median {p50:.0} µs, p99 {p99:.0} µs{})",
            server.name(),
            calls / lifecycles,
            top_calls(&per_call, 4),
            error_note(errors)
        );
        Ok(())
    }
}

/// Each call's count in `full` less its count in `baseline`, per
/// lifecycle, most frequent first.
fn calls_per_lifecycle(
    full: &StraceSummary,
    baseline: &StraceSummary,
    lifecycles: f64,
) -> Vec<(String, f64)> {
    let mut per_call: Vec<(String, f64)> = full
        .each
        .iter()
        .map(|(name, calls)| {
            let before: f64 = baseline
                .each
                .iter()
                .filter(|(other, _)| other == name)
                .map(|(_, n)| n)
                .sum();
            (name.clone(), (calls - before) / lifecycles)
        })
        .collect();
    per_call.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    per_call
}

/// Each server's most frequent system calls per lifecycle, as recorded
/// in `samples`, one line per server; empty without them.
pub fn render_top_calls(servers: &[Server], samples: &[Sample]) -> String {
    let lines: Vec<(&str, String)> = servers
        .iter()
        .filter_map(|&server| {
            let per_call: Vec<(String, f64)> = samples
                .iter()
                .filter(|s| s.server == server && s.scenario == SCENARIO)
                .filter_map(|s| Some((s.metric.strip_prefix(PER_CALL)?.to_string(), s.value)))
                .collect();
            (!per_call.is_empty()).then(|| (server.name(), top_calls(&per_call, TOP_CALLS)))
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    let width = lines.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut text =
        String::from("\nSystem calls per lifecycle, the most frequent (strace, churn):\n");
    for (name, calls) in lines {
        let _ = writeln!(text, "  {name:<width$}  {calls}");
    }
    text
}

/// `accept4 1.50, epoll_ctl 2.00, ...`: the first `n` calls.
fn top_calls(per_call: &[(String, f64)], n: usize) -> String {
    per_call
        .iter()
        .take(n)
        .map(|(name, calls)| format!("{name} {calls:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The breakdown file: one call a line, most frequent first, then the total.
fn breakdown_text(
    server: Server,
    per_call: &[(String, f64)],
    total: f64,
    lifecycles: f64,
) -> String {
    let mut text = format!(
        "# {}: system calls per connection lifecycle under strace -c -f\n\
         # ({lifecycles} lifecycles: a churn run less a baseline run, call by call)\n\
         # calls/lifecycle  syscall\n",
        server.name()
    );
    for (name, calls) in per_call.iter().filter(|(_, calls)| calls.abs() >= 0.0005) {
        let _ = writeln!(text, "{calls:>17.3}  {name}");
    }
    let _ = writeln!(text, "{total:>17.3}  total");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(each: &[(&str, f64)]) -> StraceSummary {
        StraceSummary {
            total: each.iter().map(|(_, n)| n).sum(),
            epoll_waits: 0.0,
            writes: 0.0,
            each: each
                .iter()
                .map(|(name, n)| (name.to_string(), *n))
                .collect(),
        }
    }

    #[test]
    fn the_baseline_is_taken_away_call_by_call() {
        let full = summary(&[("close", 1010.0), ("accept4", 1510.0), ("mmap", 40.0)]);
        let baseline = summary(&[("close", 10.0), ("accept4", 10.0), ("mmap", 40.0)]);
        let per_call = calls_per_lifecycle(&full, &baseline, 1000.0);
        assert_eq!(
            per_call,
            [
                ("accept4".to_string(), 1.5),
                ("close".to_string(), 1.0),
                ("mmap".to_string(), 0.0)
            ]
        );
        assert_eq!(top_calls(&per_call, 2), "accept4 1.50, close 1.00");
        let text = breakdown_text(Server::EchoReactor, &per_call, 2.5, 1000.0);
        assert!(text.contains("            1.500  accept4\n"), "{text}");
        assert!(!text.contains("mmap"), "{text}");
        assert!(text.ends_with("            2.500  total\n"), "{text}");
    }
}
