//! Faults applied, by listener and kind: a small bounded table.
//!
//! The totals by kind are a family of [`Stats`](crate::Stats) like any
//! other counter (`faults_applied`), declared once in `counters!`. The
//! breakdown by listener cannot be: listeners are named at run time, and
//! a static family knows its labels when it is compiled. So it is a table
//! of its own, one row per fault listener, at most
//! [`MAX_FAULT_LISTENERS`](super::MAX_FAULT_LISTENERS) rows of one figure
//! per [`FaultApplied`] kind: bounded, whatever the admin API is asked to
//! create, so `/metrics` stays a few hundred lines at most. The table
//! lives in the [`Context`], where a metrics request finds it, and is
//! rendered after the families of [`Stats`](crate::Stats); the log shows it beside the
//! counters line.

use std::fmt::Write as _;

use crate::serve::Context;
use crate::stats::{FaultApplied, Reason};

/// One figure per kind of fault applied.
pub(crate) type AppliedCounts = <FaultApplied as Reason>::Counts;

/// One fault listener's row: its name, and the faults applied on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FaultRow {
    pub(crate) listener: String,
    pub(crate) applied: AppliedCounts,
}

/// Counts one fault of `kind` applied on listener `index`, in its row and
/// in the totals.
pub(crate) fn count(cx: &mut Context, index: usize, kind: FaultApplied) {
    if let Some(row) = cx.fault_rows.get_mut(index) {
        row.applied[kind.index()] += 1;
    }
    cx.stats.faults_applied[kind] += 1;
}

/// The Prometheus family of the rows, after the others in `/metrics`.
pub(crate) fn render(rows: &[FaultRow], out: &mut String) {
    if rows.is_empty() {
        return;
    }
    const NAME: &str = "echo_reactor_faults_applied_by_listener_total";
    let _ = writeln!(
        out,
        "# HELP {NAME} Faults applied on each listener that misbehaves on purpose, by toxic type."
    );
    let _ = writeln!(out, "# TYPE {NAME} counter");
    for row in rows {
        for (names, count) in FaultApplied::NAMES.iter().zip(row.applied) {
            let _ = writeln!(
                out,
                "{NAME}{{listener=\"{}\",kind=\"{}\"}} {count}",
                row.listener, names.label
            );
        }
    }
}

/// The rows for the log: `slow: 3 latency; cut: 1 limit_data`, the kinds
/// never applied left out.
pub(crate) fn line(rows: &[FaultRow]) -> String {
    let mut line = String::new();
    for row in rows {
        if !line.is_empty() {
            line.push_str("; ");
        }
        let _ = write!(line, "{}:", row.listener);
        let applied = FaultApplied::NAMES.iter().zip(row.applied);
        let mut any = false;
        for (names, count) in applied.filter(|(_, count)| *count > 0) {
            let _ = write!(
                line,
                "{} {count} {}",
                if any { "," } else { "" },
                names.words
            );
            any = true;
        }
        if !any {
            line.push_str(" none");
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<FaultRow> {
        let mut slow = FaultRow {
            listener: "slow".into(),
            ..FaultRow::default()
        };
        slow.applied[FaultApplied::Latency.index()] = 3;
        slow.applied[FaultApplied::Down.index()] = 1;
        let quiet = FaultRow {
            listener: "quiet".into(),
            ..FaultRow::default()
        };
        vec![slow, quiet]
    }

    #[test]
    fn each_listener_has_a_sample_per_kind() {
        let mut text = String::new();
        render(&rows(), &mut text);
        assert_eq!(text.lines().count(), 2 + 2 * FaultApplied::ALL.len());
        assert!(text.contains(
            "\necho_reactor_faults_applied_by_listener_total{listener=\"slow\",kind=\"latency\"} 3\n"
        ));
        let mut none = String::new();
        render(&[], &mut none);
        assert!(none.is_empty(), "no fault listener, no family");
    }

    #[test]
    fn the_log_line_names_what_was_applied() {
        assert_eq!(line(&rows()), "slow: 3 latency, 1 down; quiet: none");
    }
}
