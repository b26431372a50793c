//! The repeated runs: every scenario against a freshly started server,
//! interleaved over the servers, `--repeats` times; for the fixed-rate
//! scenarios, the server's CPU read over the measured window.

use std::thread;
use std::time::{Duration, Instant};

use echo_reactor::tools::report::LoadReport;

use crate::binaries::Binaries;
use crate::report::{error_note, human, Results};
use crate::scenarios::{Kind, Scenario, Unit};
use crate::servers::{CpuTime, Running, Server, Wrapper};
use crate::tls::TlsFiles;
use crate::tools;
use crate::websocket;
use crate::{Args, Timing};

/// 1 and 2 of the top doc: every scenario against every server (the TLS
/// ones against the servers that serve TLS, with `tls`'s certificate),
/// `--repeats` times, interleaved.
pub fn repeated_runs(
    args: &Args,
    bins: &Binaries,
    servers: &[Server],
    scenarios: &[Scenario],
    tls: Option<&TlsFiles>,
    timing: &Timing,
    results: &mut Results,
) {
    let per_run = timing.warmup + timing.duration + 0.5;
    eprintln!(
        "compare: {} servers x {} scenarios x {} repeats, about {:.0} s per repeat{}",
        servers.len(),
        scenarios.len(),
        args.repeats,
        servers.len() as f64 * (per_run * (scenarios.len() - 1) as f64 + 3.0),
        if args.quick { " (--quick)" } else { "" }
    );
    for repeat in 1..=args.repeats {
        for scenario in scenarios {
            for &server in servers {
                if scenario.tls && !server.serves_tls() {
                    continue;
                }
                let what = format!(
                    "[repeat {repeat}/{}] {:<31} {:<21}",
                    args.repeats,
                    scenario.label,
                    server.name()
                );
                let result = run_scenario(scenario, server, bins, tls, timing).map(
                    |Measured { numbers, errors }| {
                        let (metric, value) = numbers[0];
                        let extra = match scenario.kind {
                            Kind::FixedRate(unit) => format!(
                                ", p99 {:.0} µs, {:.0} {} achieved",
                                numbers[1].1,
                                numbers[2].1,
                                unit.rate()
                            ),
                            _ => String::new(),
                        };
                        eprintln!(
                            "compare: {what} {} {metric}{extra}{}",
                            human(value),
                            error_note(errors)
                        );
                        let errors = ("loadgen errors", errors as f64);
                        results.record(
                            repeat,
                            scenario.key,
                            server,
                            numbers.into_iter().chain([errors]),
                        );
                    },
                );
                results.check(&what, result);
            }
        }
    }
}

/// What one scenario run measured.
struct Measured {
    /// (metric, value); the first is the headline.
    numbers: Vec<(&'static str, f64)>,
    /// What loadgen counted as errors (wrong bytes, lost echoes, lifecycles
    /// timed out...).
    errors: u64,
}

/// Runs one scenario against a freshly started server (serving `tls`'s
/// certificate in a TLS scenario, with its WebSocket listener in a
/// WebSocket one).
fn run_scenario(
    scenario: &Scenario,
    server: Server,
    bins: &Binaries,
    tls: Option<&TlsFiles>,
    timing: &Timing,
) -> Result<Measured, String> {
    let running = match (scenario.tls, tls) {
        (true, Some(files)) => Running::start_tls(server, bins, files)?,
        (true, None) => return Err("no TLS certificate was made".into()),
        (false, _) if websocket::over_websocket(scenario) => {
            Running::start_websocket(server, bins)?
        }
        (false, _) => Running::start(server, bins, Wrapper::Plain)?,
    };
    let timeout = match scenario.kind {
        // loadgen's own bulk timeout is 10 x its --duration 10 + 30 s.
        Kind::Bulk => Duration::from_secs(160),
        _ => Duration::from_secs_f64(timing.warmup + timing.duration) + Duration::from_secs(30),
    };
    let p99 = |report: &LoadReport| ("p99 µs", report.latency_p99_us.unwrap_or(f64::NAN));
    let (numbers, report) = match scenario.kind {
        Kind::Closed => {
            let report = tools::loadgen(bins, running.addr, &scenario.load, timeout)?;
            let rate = required(report.messages_per_s, "messages_per_s")?;
            (vec![("msg/s", rate), p99(&report)], report)
        }
        Kind::Churn => {
            let report = tools::loadgen(bins, running.addr, &scenario.load, timeout)?;
            let rate = required(report.lifecycles_per_s, "lifecycles_per_s")?;
            let timeouts = ("timeouts", report.timeouts.unwrap_or(0) as f64);
            (vec![("lifecycles/s", rate), p99(&report), timeouts], report)
        }
        Kind::Bulk => {
            let report = tools::loadgen(bins, running.addr, &scenario.load, timeout)?;
            let numbers = vec![
                ("GB/s", required(report.gb_per_s, "gb_per_s")?),
                ("seconds", required(report.duration_s, "duration_s")?),
            ];
            (numbers, report)
        }
        Kind::FixedRate(unit) => {
            let started = Instant::now();
            let tool = tools::loadgen_start(bins, running.addr, &scenario.load)?;
            // The CPU window: just inside loadgen's measured time (its
            // connects take milliseconds), so warm-up and drain stay out.
            sleep_until(started + Duration::from_secs_f64(timing.warmup + 0.2));
            let (t0, cpu0) = (Instant::now(), running.cpu_time()?);
            sleep_until(started + Duration::from_secs_f64(timing.warmup + timing.duration - 0.1));
            let (t1, cpu1) = (Instant::now(), running.cpu_time()?);
            let report = tools::loadgen_finish(tool, timeout)?;
            let numbers = cpu_per_unit(&report, unit, (t1 - t0).as_secs_f64(), cpu0, cpu1)?;
            (numbers, report)
        }
    };
    running.stop()?;
    Ok(Measured {
        numbers,
        errors: report.errors,
    })
}

/// The fixed-rate figures: the server's CPU per echo or lifecycle (`unit`)
/// over a window of `window_s` seconds that began at `before` and ended at
/// `after`.
fn cpu_per_unit(
    report: &LoadReport,
    unit: Unit,
    window_s: f64,
    before: CpuTime,
    after: CpuTime,
) -> Result<Vec<(&'static str, f64)>, String> {
    let achieved = match unit {
        Unit::Echo => required(report.messages_per_s, "messages_per_s")?,
        Unit::Lifecycle => required(report.lifecycles_per_s, "lifecycles_per_s")?,
    };
    // The rate is fixed: the units in the window are the rate loadgen
    // achieved times the window.
    let units = (achieved * window_s).max(1.0);
    // In seconds as f64: a thread that exits in the window takes its run
    // time out of the sum, and a Duration cannot go below zero.
    let spent = |a: Duration, b: Duration| b.as_secs_f64() - a.as_secs_f64();
    let cpu_ticks = spent(before.ticks, after.ticks);
    let cpu = match (before.run_time, after.run_time) {
        (Some(a), Some(b)) => spent(a, b),
        _ => cpu_ticks,
    };
    let [per_unit, achieved_metric, per_unit_ticks] = unit.cpu_metrics();
    Ok(vec![
        (per_unit, cpu * 1e6 / units),
        ("p99 µs", report.latency_p99_us.unwrap_or(f64::NAN)),
        (achieved_metric, achieved),
        (per_unit_ticks, cpu_ticks * 1e6 / units),
        ("CPU s in window", cpu),
        ("window s", window_s),
    ])
}

/// A report figure the scenario cannot do without.
pub fn required<T>(value: Option<T>, key: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("echo-loadgen's report has no figure '{key}'"))
}

fn sleep_until(when: Instant) {
    let now = Instant::now();
    if when > now {
        thread::sleep(when - now);
    }
}
