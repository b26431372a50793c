//! The noise-free figures, once per server: system calls per echo under
//! `strace -c -f` and user-space instructions per echo under callgrind
//! (system calls per lifecycle are in [`crate::lifecycle_syscalls`]). They
//! count work, not time, so they do not move with load on the machine.

use std::path::Path;
use std::time::Duration;

use echo_reactor::tools::report::LoadReport;

use crate::binaries::{self, Binaries};
use crate::parse::{parse_callgrind, parse_strace, StraceSummary};
use crate::repeated::required;
use crate::report::{error_note, Results};
use crate::scenarios::{fixed_rate_load, Unit};
use crate::servers::{Running, Server, Wrapper};
use crate::tools;
use crate::Timing;

/// 3 of the top doc: syscalls and instructions per echo, and syscalls per
/// lifecycle ([`crate::lifecycle_syscalls`]), once per server.
pub fn noise_free_runs(
    bins: &Binaries,
    servers: &[Server],
    timing: &Timing,
    out: &Path,
    results: &mut Results,
) {
    let have_strace = binaries::installed("strace");
    let have_valgrind = binaries::installed("valgrind");
    if !have_strace {
        results
            .notes
            .push("strace is not installed: no syscalls per echo or per lifecycle".into());
    }
    if !have_valgrind {
        results
            .notes
            .push("valgrind is not installed: no instructions per echo".into());
    }
    let traced = Traced { bins, timing, out };
    for &server in servers {
        if have_strace {
            let result = traced.strace(server, results);
            results.check(&format!("strace {}", server.name()), result);
            let result = traced.lifecycle_strace(server, results);
            results.check(&format!("strace churn {}", server.name()), result);
        }
        if have_valgrind {
            let result = traced.callgrind(server, results);
            results.check(&format!("callgrind {}", server.name()), result);
        }
    }
}

/// What every traced run needs: the programs, how long it lasts and where
/// strace and valgrind write.
pub struct Traced<'a> {
    bins: &'a Binaries,
    pub timing: &'a Timing,
    pub out: &'a Path,
}

/// What a load with no warm-up counted: every echo (or lifecycle) the
/// server went through.
pub struct FixedCount {
    /// Echoes, or lifecycles.
    pub count: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub errors: u64,
}

impl FixedCount {
    /// What `report` counted in `unit`.
    pub fn of(report: &LoadReport, unit: Unit) -> Result<FixedCount, String> {
        let count = match unit {
            Unit::Echo => required(report.messages, "messages")?,
            Unit::Lifecycle => required(report.lifecycles, "lifecycles")?,
        };
        Ok(FixedCount {
            count: count as f64,
            p50_us: report.latency_p50_us.unwrap_or(f64::NAN),
            p99_us: report.latency_p99_us.unwrap_or(f64::NAN),
            errors: report.errors,
        })
    }
}

/// echo-loadgen's arguments for ping-pong C=50 64 B at `rate` for
/// `seconds`, no warm-up: loadgen's `messages` is then every echo.
fn fixed_count_load(rate: u32, seconds: f64) -> Vec<String> {
    fixed_rate_load(f64::from(rate), 0.0, seconds)
}

impl Traced<'_> {
    /// Runs `server` under `wrapper`, which writes `file`, through
    /// echo-loadgen with `load` (which lasts about `seconds`), and returns
    /// loadgen's report and the file.
    pub fn load(
        &self,
        server: Server,
        wrapper: Wrapper,
        file: &Path,
        load: &[String],
        seconds: f64,
    ) -> Result<(LoadReport, String), String> {
        let running = Running::start(server, self.bins, wrapper)?;
        let timeout = Duration::from_secs_f64(seconds) + Duration::from_secs(60);
        let report = tools::loadgen(self.bins, running.addr, load, timeout)?;
        running.stop()?;
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        Ok((report, text))
    }

    /// System calls and `epoll_wait` calls per echo under strace. Meaningful
    /// only while the traced server keeps up with the load: one that falls
    /// behind finds several messages per read and per wake-up, and so makes
    /// fewer calls per echo. Each echo takes one successful write unless that
    /// happens, so fewer writes than echoes is flagged.
    fn strace(&self, server: Server, results: &mut Results) -> Result<(), String> {
        let file = self.out.join(format!("strace-{}.txt", server.name()));
        let (rate, seconds) = self.timing.strace;
        let load = fixed_count_load(rate, seconds);
        let (report, text) = self.load(server, Wrapper::Strace(&file), &file, &load, seconds)?;
        let FixedCount {
            count: messages,
            p99_us: p99,
            errors,
            ..
        } = FixedCount::of(&report, Unit::Echo)?;
        let StraceSummary {
            total,
            epoll_waits,
            writes,
            each,
        } = parse_strace(&text)?;
        let per_echo = |count: f64| count / messages.max(1.0);
        let writes_per_echo = per_echo(writes);
        if writes_per_echo < 0.95 {
            results.notes.push(format!(
            "{} fell behind under strace ({writes_per_echo:.2} writes per echo, p99 {p99:.0} µs): \
             its syscalls per echo are too low; run again on a quieter machine",
            server.name()
        ));
        }
        let futex = each
            .iter()
            .filter(|(name, _)| name == "futex")
            .map(|(_, n)| n)
            .sum::<f64>();
        results.record(
            0,
            "strace",
            server,
            [
                ("writes/echo", writes_per_echo),
                ("syscalls/echo", per_echo(total)),
                ("epoll_wait/echo", per_echo(epoll_waits)),
                ("messages", messages),
                ("syscalls", total),
                ("epoll_wait calls", epoll_waits),
                ("p99 µs", p99),
                ("loadgen errors", errors as f64),
                ("futex/echo", per_echo(futex)),
            ],
        );
        eprintln!(
        "compare:   strace     {:<21} {:>7.3} syscalls/echo, {:.3} epoll_wait/echo, {writes_per_echo:.3} writes/echo ({messages} echoes, p99 {p99:.0} µs{})",
        server.name(),
        per_echo(total),
        per_echo(epoll_waits),
        error_note(errors)
    );
        Ok(())
    }

    /// User-space instructions per echo under callgrind: a full run minus a
    /// baseline run (start-up, 50 connects, 100 echoes, shutdown).
    fn callgrind(&self, server: Server, results: &mut Results) -> Result<(), String> {
        let run = |label: &str, (rate, seconds)| -> Result<(f64, FixedCount), String> {
            let file = self
                .out
                .join(format!("callgrind-{}-{label}.out", server.name()));
            let load = fixed_count_load(rate, seconds);
            let (report, text) =
                self.load(server, Wrapper::Callgrind(&file), &file, &load, seconds)?;
            Ok((
                parse_callgrind(&text)?,
                FixedCount::of(&report, Unit::Echo)?,
            ))
        };
        let (base_ir, base) = run("baseline", (100, 1.0))?;
        let (ir, full) = run("full", self.timing.callgrind)?;
        let per_echo = (ir - base_ir) / (full.count - base.count).max(1.0);
        let errors = full.errors + base.errors;
        results.record(
            0,
            "callgrind",
            server,
            [
                ("instructions/echo", per_echo),
                (
                    "instructions/echo (no baseline subtracted)",
                    ir / full.count.max(1.0),
                ),
                ("Ir", ir),
                ("messages", full.count),
                ("baseline Ir", base_ir),
                ("baseline messages", base.count),
                ("p99 µs", full.p99_us),
                ("loadgen errors", errors as f64),
            ],
        );
        eprintln!(
        "compare:   callgrind  {:<21} {per_echo:>7.0} instructions/echo ({} echoes, p99 {:.0} µs{})",
        server.name(),
        full.count,
        full.p99_us,
        error_note(errors)
    );
        Ok(())
    }
}
