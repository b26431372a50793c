//! The repeated scenarios: closed-loop throughput (ping-pong, pipelined,
//! 4 KiB, bulk) and the server's CPU per echo at a fixed rate, each run
//! against a freshly started server, interleaved over the servers.

use std::thread;
use std::time::{Duration, Instant};

use echo_reactor::tools::report::LoadReport;

use crate::binaries::Binaries;
use crate::report::{error_note, human, Results};
use crate::servers::{CpuTime, Running, Server, Wrapper};
use crate::tools::{self, strings};
use crate::{Args, Timing};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Closed loop: (mode, connections, size, depth).
    Closed(&'static str, u32, u32, Option<u32>),
    Bulk,
    /// Open loop at `--rate`, with the server's CPU read over the window.
    FixedRate,
}

pub struct Scenario {
    pub key: &'static str,
    pub label: String,
    /// A short name for the chart.
    pub short: String,
    pub kind: Kind,
}

/// The figure a scenario is judged by.
pub struct Headline {
    pub metric: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
}

impl Scenario {
    pub fn headline(&self) -> Headline {
        let (metric, unit, higher_is_better) = match self.kind {
            Kind::Closed(..) => ("msg/s", "msg/s", true),
            Kind::Bulk => ("GB/s", "GB/s", true),
            Kind::FixedRate => ("CPU µs/echo", "server CPU µs/echo", false),
        };
        Headline {
            metric,
            unit,
            higher_is_better,
        }
    }
}

pub fn scenarios(timing: &Timing, rate: f64) -> Vec<Scenario> {
    let closed = |key, label: &str, short: &str, kind| Scenario {
        key,
        label: label.into(),
        short: short.into(),
        kind,
    };
    vec![
        closed(
            "pingpong-c1",
            "ping-pong C=1 64 B",
            "ping-pong C=1",
            Kind::Closed("pingpong", 1, 64, None),
        ),
        closed(
            "pingpong-c50",
            "ping-pong C=50 64 B",
            "ping-pong C=50",
            Kind::Closed("pingpong", 50, 64, None),
        ),
        closed(
            "pipeline-c50-d16",
            "pipeline C=50 D=16 64 B",
            "pipeline D=16",
            Kind::Closed("pipeline", 50, 64, Some(16)),
        ),
        closed(
            "pingpong-c50-4k",
            "ping-pong C=50 4 KiB",
            "ping-pong 4 KiB",
            Kind::Closed("pingpong", 50, 4096, None),
        ),
        Scenario {
            key: "bulk",
            label: format!("bulk {} C=1", timing.bulk_bytes),
            short: format!("bulk {}", timing.bulk_bytes),
            kind: Kind::Bulk,
        },
        Scenario {
            key: "fixed-rate",
            label: format!("fixed {rate}/s C=50 64 B"),
            short: format!("echoes per CPU-s @{}k/s", rate / 1000.0),
            kind: Kind::FixedRate,
        },
    ]
}

/// 1 and 2 of the top doc: every scenario against every server,
/// `--repeats` times, interleaved.
pub fn repeated_runs(
    args: &Args,
    bins: &Binaries,
    servers: &[Server],
    scenarios: &[Scenario],
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
                let what = format!(
                    "[repeat {repeat}/{}] {:<26} {:<21}",
                    args.repeats,
                    scenario.label,
                    server.name()
                );
                let result = run_scenario(scenario, server, bins, timing, args.rate).map(
                    |Measured { numbers, errors }| {
                        let (metric, value) = numbers[0];
                        let extra = match scenario.kind {
                            Kind::FixedRate => format!(
                                ", p99 {:.0} µs, {:.0} msg/s achieved",
                                numbers[1].1, numbers[2].1
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
    /// What loadgen counted as errors (wrong bytes, lost echoes...).
    errors: u64,
}

/// Runs one scenario against a freshly started server.
fn run_scenario(
    scenario: &Scenario,
    server: Server,
    bins: &Binaries,
    timing: &Timing,
    rate: f64,
) -> Result<Measured, String> {
    let running = Running::start(server, bins, Wrapper::Plain)?;
    let closed_timeout =
        Duration::from_secs_f64(timing.warmup + timing.duration) + Duration::from_secs(30);
    let (numbers, report) = match scenario.kind {
        Kind::Closed(mode, connections, size, depth) => {
            let mut args = strings(&["--mode", mode]);
            args.extend(strings(&["--connections", &connections.to_string()]));
            args.extend(strings(&["--size", &size.to_string()]));
            if let Some(depth) = depth {
                args.extend(strings(&["--depth", &depth.to_string()]));
            }
            args.extend(window(timing.warmup, timing.duration));
            let report = tools::loadgen(bins, running.addr, &args, closed_timeout)?;
            let numbers = vec![
                ("msg/s", required(report.messages_per_s, "messages_per_s")?),
                ("p99 µs", report.latency_p99_us.unwrap_or(f64::NAN)),
            ];
            (numbers, report)
        }
        Kind::Bulk => {
            // loadgen's bulk timeout is duration x 10 + 30 s.
            let mut args = strings(&["--mode", "bulk", "--bytes", timing.bulk_bytes]);
            args.extend(strings(&["--duration", "10"]));
            let report = tools::loadgen(bins, running.addr, &args, Duration::from_secs(160))?;
            let numbers = vec![
                ("GB/s", required(report.gb_per_s, "gb_per_s")?),
                ("seconds", required(report.duration_s, "duration_s")?),
            ];
            (numbers, report)
        }
        Kind::FixedRate => {
            let args = fixed_rate_load(rate, timing.warmup, timing.duration);
            let started = Instant::now();
            let tool = tools::loadgen_start(bins, running.addr, &args)?;
            // The CPU window: just inside loadgen's measured time (its
            // connects take milliseconds), so warm-up and drain stay out.
            sleep_until(started + Duration::from_secs_f64(timing.warmup + 0.2));
            let (t0, cpu0) = (Instant::now(), running.cpu_time()?);
            sleep_until(started + Duration::from_secs_f64(timing.warmup + timing.duration - 0.1));
            let (t1, cpu1) = (Instant::now(), running.cpu_time()?);
            let report = tools::loadgen_finish(tool, closed_timeout)?;
            let numbers = cpu_per_echo(&report, (t1 - t0).as_secs_f64(), cpu0, cpu1)?;
            (numbers, report)
        }
    };
    running.stop()?;
    Ok(Measured {
        numbers,
        errors: report.errors,
    })
}

/// The fixed-rate figures: the server's CPU per echo over a window of
/// `window_s` seconds that began at `before` and ended at `after`.
fn cpu_per_echo(
    report: &LoadReport,
    window_s: f64,
    before: CpuTime,
    after: CpuTime,
) -> Result<Vec<(&'static str, f64)>, String> {
    let achieved = required(report.messages_per_s, "messages_per_s")?;
    // The rate is fixed: the echoes in the window are the rate loadgen
    // achieved times the window.
    let echoes = (achieved * window_s).max(1.0);
    // In seconds as f64: a thread that exits in the window takes its run
    // time out of the sum, and a Duration cannot go below zero.
    let spent = |a: Duration, b: Duration| b.as_secs_f64() - a.as_secs_f64();
    let cpu_ticks = spent(before.ticks, after.ticks);
    let cpu = match (before.run_time, after.run_time) {
        (Some(a), Some(b)) => spent(a, b),
        _ => cpu_ticks,
    };
    Ok(vec![
        ("CPU µs/echo", cpu * 1e6 / echoes),
        ("p99 µs", report.latency_p99_us.unwrap_or(f64::NAN)),
        ("achieved msg/s", achieved),
        ("CPU µs/echo (utime+stime ticks)", cpu_ticks * 1e6 / echoes),
        ("CPU s in window", cpu),
        ("window s", window_s),
    ])
}

/// echo-loadgen's arguments for an open-loop ping-pong, 50 connections,
/// 64 B, at `rate` messages/s: `warmup` seconds, then `duration` measured.
pub fn fixed_rate_load(rate: f64, warmup: f64, duration: f64) -> Vec<String> {
    let mut args = strings(&["--mode", "pingpong", "--connections", "50", "--size", "64"]);
    args.extend(strings(&["--rate", &rate.to_string()]));
    args.extend(window(warmup, duration));
    args
}

/// echo-loadgen's arguments for `warmup` seconds, then `duration` measured.
fn window(warmup: f64, duration: f64) -> Vec<String> {
    strings(&[
        "--warmup",
        &warmup.to_string(),
        "--duration",
        &duration.to_string(),
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
