//! What was measured, and how it is told: every sample, the medians, the
//! table with its ratios, `raw.csv` and the summary with notes and
//! failures.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use crate::capacity;
use crate::lifecycle_syscalls;
use crate::scenarios::{Kind, Scenario};
use crate::servers::Server;
use crate::websocket;
use crate::{Args, Timing};

/// One number measured: `repeat` 0 for the once-per-server runs.
#[derive(Clone, Debug)]
pub struct Sample {
    pub repeat: u32,
    pub scenario: &'static str,
    pub server: Server,
    /// What was measured: mostly a fixed name, a name made at run time
    /// for the calls strace counts.
    pub metric: Cow<'static, str>,
    pub value: f64,
}

/// Everything measured, and what went wrong.
#[derive(Default)]
pub struct Results {
    pub samples: Vec<Sample>,
    /// Runs that failed: one line each.
    pub failures: Vec<String>,
    /// What was skipped, and why.
    pub notes: Vec<String>,
    /// Figures of no one server, one line each (the TLS session heap).
    pub findings: Vec<String>,
    /// How runs were set up, one line each, told above the tables (where
    /// the capacity searches ran).
    pub setup: Vec<String>,
    /// The capacity rows' bounds, ms, at which the machine's own stalls
    /// made a p99 row chance in some repeat (see [`crate::noise_floor`]).
    pub chance_bounds_ms: BTreeSet<u32>,
}

impl Results {
    /// Records what one run of `scenario` against `server` measured.
    pub fn record<M: Into<Cow<'static, str>>>(
        &mut self,
        repeat: u32,
        scenario: &'static str,
        server: Server,
        numbers: impl IntoIterator<Item = (M, f64)>,
    ) {
        self.samples
            .extend(numbers.into_iter().map(|(metric, value)| Sample {
                repeat,
                scenario,
                server,
                metric: metric.into(),
                value,
            }));
    }

    /// Records a failed run (and says so on stderr); a failure does not stop
    /// the others.
    pub fn check(&mut self, what: &str, result: Result<(), String>) {
        if let Err(e) = result {
            eprintln!("compare: {what} FAILED: {e}");
            let what = what.split_whitespace().collect::<Vec<_>>().join(" ");
            let why = e.lines().next().unwrap_or_default();
            self.failures.push(format!("{what}: {why}"));
        }
    }
}

/// `, N LOADGEN ERRORS` when a load run counted errors, for progress lines.
pub fn error_note(errors: u64) -> String {
    if errors > 0 {
        format!(", {errors} LOADGEN ERRORS")
    } else {
        String::new()
    }
}

/// One row of the table: a metric of a scenario, the median over repeats.
pub struct Row {
    pub label: String,
    pub scenario: &'static str,
    pub metric: &'static str,
    pub higher_is_better: bool,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// The median of `metric` in `scenario` for `server`, over every repeat.
pub fn median_of(samples: &[Sample], scenario: &str, metric: &str, server: Server) -> Option<f64> {
    median(
        samples
            .iter()
            .filter(|s| s.scenario == scenario && s.metric == metric && s.server == server)
            .map(|s| s.value)
            .collect(),
    )
}

/// A figure with about 4 significant digits, thousands as `k`, millions as `M`.
pub fn human(value: f64) -> String {
    let magnitude = value.abs();
    if !value.is_finite() {
        "-".into()
    } else if magnitude >= 1e6 {
        format!("{:.3}M", value / 1e6)
    } else if magnitude >= 1e4 {
        format!("{:.1}k", value / 1e3)
    } else if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// A ratio with two significant digits at least.
fn ratio(r: f64) -> String {
    if r >= 0.1 {
        format!("{r:.2}")
    } else if r >= 0.001 {
        format!("{r:.4}")
    } else {
        format!("{r:.1e}")
    }
}

/// One line per row with a figure: the label, each server's median, then
/// echo-reactor's median divided by each other server's. Empty if no row
/// has a figure.
pub fn render_table(rows: &[Row], servers: &[Server], samples: &[Sample]) -> String {
    let peers: Vec<Server> = servers
        .iter()
        .copied()
        .filter(|s| *s != Server::EchoReactor)
        .collect();
    let mut header = vec!["scenario".to_string()];
    header.extend(servers.iter().map(|s| s.name().to_string()));
    header.extend(peers.iter().map(|p| format!("ER/{}", p.name())));
    let mut lines = vec![header];
    for row in rows {
        let medians: Vec<Option<f64>> = servers
            .iter()
            .map(|s| median_of(samples, row.scenario, row.metric, *s))
            .collect();
        if medians.iter().all(Option::is_none) {
            continue;
        }
        let ours = median_of(samples, row.scenario, row.metric, Server::EchoReactor);
        let mut line = vec![format!(
            "{}{}",
            row.label,
            if row.higher_is_better { "" } else { " ↓" }
        )];
        line.extend(medians.iter().map(|m| m.map_or("n/a".into(), human)));
        line.extend(peers.iter().map(|p| {
            match (ours, median_of(samples, row.scenario, row.metric, *p)) {
                (Some(a), Some(b)) if b != 0.0 => ratio(a / b),
                _ => "n/a".into(),
            }
        }));
        lines.push(line);
    }
    if lines.len() == 1 {
        return String::new();
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for (n, line) in lines.iter().enumerate() {
        for (i, cell) in line.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i == 0 {
                let _ = write!(text, "{cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(text, "  {}{cell}", " ".repeat(pad));
            }
        }
        text.push('\n');
        if n == 0 {
            text.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            text.push('\n');
        }
    }
    text
}

/// Every sample, one a line; repeat 0 marks the once-per-server runs
/// (strace, callgrind, idle). Failed runs are listed in summary.txt.
pub fn write_csv(path: &Path, samples: &[Sample]) -> Result<(), String> {
    let quote = |field: &str| {
        if field.contains([',', '"']) {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field.to_string()
        }
    };
    let mut text = String::from("repeat,scenario,server,metric,value\n");
    for s in samples {
        let _ = writeln!(
            text,
            "{},{},{},{},{}",
            s.repeat,
            s.scenario,
            s.server.name(),
            quote(&s.metric),
            s.value
        );
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The headline's rows: capacity at each objective, then the same as a
/// share of each server's core limit; a row at a bound in `chance_ms` says
/// so in its label.
fn capacity_rows(chance_ms: &BTreeSet<u32>) -> Vec<Row> {
    let flagged = |row: &capacity::Row, label: String| {
        if chance_ms.contains(&row.bound_ms) {
            format!("{label} (chance: machine floor)")
        } else {
            label
        }
    };
    let capacity = capacity::ROWS.iter().map(|row| Row {
        label: flagged(row, row.label()),
        scenario: row.key,
        metric: capacity::CAPACITY,
        higher_is_better: true,
    });
    let share = capacity::ROWS.iter().map(|row| Row {
        label: flagged(row, row.share_label()),
        scenario: row.key,
        metric: capacity::SHARE,
        higher_is_better: true,
    });
    capacity.chain(share).collect()
}

/// The rows of `scenarios`: each one's headline, then the p99 latency of
/// each fixed-rate one.
pub fn scenario_rows(scenarios: &[Scenario]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    rows.extend(scenarios.iter().map(|s| {
        let headline = s.headline();
        Row {
            label: format!("{}, {}", s.label, headline.unit),
            scenario: s.key,
            metric: headline.metric,
            higher_is_better: headline.higher_is_better,
        }
    }));
    // The latency that comes with each fixed-rate CPU figure.
    rows.extend(
        scenarios
            .iter()
            .filter(|s| matches!(s.kind, Kind::FixedRate(_)))
            .map(|s| Row {
                label: format!("{}, p99 µs", s.label),
                scenario: s.key,
                metric: "p99 µs",
                higher_is_better: false,
            }),
    );
    rows
}

/// The tables (the WebSocket one last), then notes and failures.
pub fn render_report(
    args: &Args,
    timing: &Timing,
    servers: &[Server],
    scenarios: &[Scenario],
    results: &mut Results,
) -> String {
    // The headline leads: capacity, then the scenarios.
    let mut rows = capacity_rows(&results.chance_bounds_ms);
    rows.extend(scenario_rows(scenarios));
    let once = [
        ("strace", "syscalls/echo", "syscalls per echo (strace)"),
        (
            "strace",
            "epoll_wait/echo",
            "epoll_wait calls per echo (strace)",
        ),
        (
            lifecycle_syscalls::SCENARIO,
            "syscalls/lifecycle",
            "syscalls per lifecycle (strace, churn)",
        ),
        (
            "callgrind",
            "instructions/echo",
            "user-space instructions per echo (callgrind)",
        ),
        ("idle", "idle RSS B/conn", "RSS bytes per idle connection"),
        (
            "tls-idle",
            "idle TLS RSS B/conn",
            "RSS bytes per idle TLS connection",
        ),
    ];
    let once_rows: Vec<Row> = once
        .iter()
        .map(|&(scenario, metric, label)| Row {
            label: label.into(),
            scenario,
            metric,
            higher_is_better: false,
        })
        .collect();

    let mut report = format!(
        "Medians of {} interleaved repeat(s){}.\n\
         ER/x = echo-reactor's figure / x's; ↓ = lower is better.\n",
        args.repeats,
        if args.quick {
            " (--quick: 0.3 s warm-up + 1 s measured, 64 MiB bulk)"
        } else {
            " (1 s warm-up + 5 s measured)"
        }
    );
    if servers.contains(&Server::EchoReactorBaseline) {
        report.push_str(
            "ER/echo-reactor-baseline: this build against the earlier one; \
             above 1 is faster in a plain row, slower in a ↓ row.\n",
        );
    }
    for line in &results.setup {
        let _ = writeln!(report, "{line}");
    }
    report.push('\n');
    report.push_str(&render_table(&rows, servers, &results.samples));
    let once_table = render_table(&once_rows, servers, &results.samples);
    if !once_table.is_empty() {
        let _ = writeln!(
            report,
            "\nOnce per server, noise-free (strace: {} msg/s x {} s, churn {} lifecycles/s x {} s; \
             callgrind: {} msg/s x {} s; idle: {} connections)\n",
            timing.strace.0,
            timing.strace.1,
            timing.churn_strace.0,
            timing.churn_strace.1,
            timing.callgrind.0,
            timing.callgrind.1,
            timing.idle.0
        );
        report.push_str(&once_table);
    }
    for finding in &results.findings {
        let _ = writeln!(report, "\n{finding}");
    }
    report.push_str(&lifecycle_syscalls::render_top_calls(
        servers,
        &results.samples,
    ));
    report.push_str(&websocket::render(args, timing, &results.samples));

    // Every run's error count is a sample; list the ones that were not zero.
    for s in results
        .samples
        .iter()
        .filter(|s| s.metric.ends_with("errors") && s.value > 0.0)
    {
        let run = match s.repeat {
            0 => String::new(),
            r => format!(", repeat {r}"),
        };
        results.notes.push(format!(
            "{} = {} in {} / {}{run}: its figures are suspect",
            s.metric,
            s.value,
            s.scenario,
            s.server.name(),
        ));
    }
    if !(results.notes.is_empty() && results.failures.is_empty()) {
        report.push('\n');
    }
    for note in &results.notes {
        let _ = writeln!(report, "note: {note}");
    }
    for failure in &results.failures {
        let _ = writeln!(report, "failed: {failure}");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, f64::NAN, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn the_table_divides_echo_reactor_by_every_other_server() {
        let servers = [Server::EchoReactor, Server::EchoReactorBaseline];
        let mut results = Results::default();
        for (server, value) in [(servers[0], 110.0), (servers[1], 100.0)] {
            results.record(1, "pingpong-c1", server, [("msg/s", value)]);
        }
        let rows = [Row {
            label: "ping-pong".into(),
            scenario: "pingpong-c1",
            metric: "msg/s",
            higher_is_better: true,
        }];
        let table = render_table(&rows, &servers, &results.samples);
        let lines: Vec<Vec<&str>> = table
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            lines[0],
            [
                "scenario",
                "echo-reactor",
                "echo-reactor-baseline",
                "ER/echo-reactor-baseline"
            ]
        );
        assert_eq!(lines[2], ["ping-pong", "110", "100", "1.10"]);
    }

    #[test]
    fn only_the_rows_at_a_bound_the_floor_made_chance_say_so() {
        let chance: BTreeSet<u32> = [1].into();
        let rows = capacity_rows(&chance);
        assert_eq!(rows.len(), 2 * capacity::ROWS.len());
        for (row, capacity_row) in rows.iter().zip(capacity::ROWS.iter().cycle()) {
            let flagged = row.label.ends_with("(chance: machine floor)");
            assert_eq!(flagged, capacity_row.bound_ms == 1, "{}", row.label);
        }
        let calm = capacity_rows(&BTreeSet::new());
        assert!(calm.iter().all(|row| !row.label.contains("chance")));
    }
}
