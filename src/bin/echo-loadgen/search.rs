//! `--objective p99<=1ms`: the highest offered rate at which the server
//! meets a latency objective with no error, found by running the
//! fixed-rate open loop (`--rate`) again and again at rates chosen to
//! close in on the edge. What people sizing a proxy or a fleet ask ("how
//! many echoes a second while p99 stays under 1 ms?"), which wrk2's users
//! find by hand, one run per rate.
//!
//! # How
//!
//! - **Steps.** Each step is one fixed-rate run, exactly as `--rate`
//!   makes it: its own connections, `--warmup`, then a measured time,
//!   latencies counted from each message's scheduled send time, every byte
//!   checked. The first step offers `--rate` (default 1000/s). In
//!   pingpong (the default) each connection has one message on the wire,
//!   so every echo is a round trip of its own and the capacity is the
//!   server's at answering requests; in pipeline a server that falls
//!   behind is handed each connection's overdue messages at once, and
//!   can echo them with one `read` and one `write`: its capacity there is
//!   closer to a bulk stream's.
//! - **Up, then in.** While steps meet the objective, the rate doubles.
//!   Once one fails, the search bisects between the last rate that met it
//!   and the first that failed, until the failed one is within
//!   `--search-precision` (default 5%) of the good one. The capacity is
//!   the highest rate that met the objective (by the majority of its
//!   runs, below); if the first rate fails, none did (exit status 1:
//!   start lower).
//! - **A step meets the objective** when it counted no error of any kind
//!   (no mismatch, no lost echo, no in-flight overflow, no lost datagram,
//!   no timed-out lifecycle), its achieved rate is at least 95% of the
//!   offered one (below that the server fell behind, and the backlog
//!   would grow without bound over a longer step) and its percentile is
//!   within the bound. The achieved rate is the report's: echoes of the
//!   messages sent in the measured time, per second of it, so it falls
//!   short when echoes are still missing at the end of the drain; a server
//!   that only lags shows it first in the percentile, its latencies
//!   counted from the schedule.
//! - **Enough samples.** A percentile `q` measured from `n` samples rests
//!   on the `n (1 - q)` slowest of them; with fewer than about a hundred
//!   there, one unlucky sample moves it. So a step is measured for at
//!   least `100 / (1 - q)` samples at its rate: 200 for p50, 1,000 for
//!   p90, 10,000 for p99 and 100,000 for p99.9. A step whose `--duration`
//!   is too short for that at its rate is lengthened, and stderr says so
//!   (p99 at 1,000/s: 10 s; at 20,000/s, 0.5 s is plenty).
//! - **Sturdier steps: `--step-repeats N`.** On a busy machine one stall
//!   of the machine (another process, a page-cache flush) puts a step's
//!   p99 over a 1 ms bound that the server meets, the rate fails, and the
//!   search never goes back up: five searches of one server on a shared
//!   2-core machine gave 320k, 77.5k, 9.7k, 140k and under 5k. With `N`
//!   (odd, default 1) a rate is judged by the majority of up to `N` runs
//!   of its step, and no more runs than it takes: with 3, two that agree
//!   settle it, and a third runs only when the first two disagree. One
//!   stall then costs one run, not the rate. Every run is in the report,
//!   with which run of its rate it was and, on the run that decided it,
//!   the rate's verdict. A stalled server (below) is not outvoted: it ends
//!   the search at once, whatever the runs before it said.
//! - **Stalls end it.** A step in which the server broke (an I/O error, an
//!   unexpected end of stream, a mismatched byte) or answered under a
//!   tenth of the offered rate found a server that stalled, not one at its
//!   edge: more steps would only wait on it again, so the search stops and
//!   reports the best rate so far. Such a step costs no more than any
//!   other: its echoes are given up after the run's drain (2 s, udp: at
//!   least `--udp-timeout-ms`) and churn's waits after
//!   `--lifecycle-timeout-ms`.
//! - **Bounded time.** A step (each run of one) starts only if its
//!   warm-up and measured time fit in what is left of `--max-duration`
//!   (default 120 s; a stalled step can overrun by its drain); otherwise
//!   the search stops, reports the best rate so far and says it was cut
//!   short.

use std::io::Write;
use std::time::{Duration, Instant};

use echo_reactor::tools::report::{SearchReport, SearchStep};

use crate::live::LiveStream;
use crate::model::{Messages, Objective, Pace, Plan, Search, StepRepeats};
use crate::report::{summarize, Outcome};
use crate::run;
use crate::tls::TlsClient;

/// A step whose achieved rate is below this share of the offered one fell
/// behind: its backlog grows.
const KEPT_UP: f64 = 0.95;

/// A step whose achieved rate is below this share of the offered one found
/// a server that stalled.
const STALLED: f64 = 0.10;

/// Runs the search `search` over `plan` (whose `--rate` is the first
/// step's), its progress on `err` and `live`; the error of a first step
/// that cannot start at all.
pub fn search(
    plan: &Plan,
    search: &Search,
    tls: Option<&TlsClient>,
    err: &mut dyn Write,
    mut live: Option<&mut LiveStream>,
) -> Result<SearchReport, String> {
    let began = Instant::now();
    let messages = plan
        .load
        .messages()
        .ok_or("a search needs a mode with messages")?;
    let Pace::Rate(first) = messages.pace else {
        return Err("a search needs a first --rate".into());
    };
    let mut report = SearchReport {
        mode: plan.load.name().into(),
        target: plan.target.to_string(),
        objective: search.objective.to_string(),
        precision: search.precision,
        steps: Vec::new(),
        capacity_per_s: None,
        cut_short: false,
        stalled: false,
        step_repeats: Some(search.step_repeats.runs()),
    };
    let mut failed: Option<f64> = None;
    let mut rate = first;
    let steps = Steps {
        plan,
        messages: *messages,
        search,
        tls,
        began,
    };
    // Until a rate's runs decide nothing (a stall, or no time left).
    while let Decided::Rate(rate_met) = steps.judge_rate(rate, &mut report, err, &mut live)? {
        if rate_met {
            report.capacity_per_s = Some(rate);
        } else {
            failed = Some(rate);
        }
        let Some(good) = report.capacity_per_s else {
            break; // the first rate failed: every rate above fails too
        };
        rate = match failed {
            None => good * 2.0,
            Some(bad) if bad <= good * (1.0 + search.precision) => break,
            Some(bad) => (good + bad) / 2.0,
        };
    }
    Ok(report)
}

/// What the runs of one rate decided.
enum Decided {
    /// The majority of its runs met the objective (`true`) or failed it.
    Rate(bool),
    /// Nothing more is to run: a run found the server stalled, or the next
    /// would end after `--max-duration` (the report says which).
    Stop,
}

/// What every step of one search shares.
struct Steps<'a> {
    plan: &'a Plan,
    /// The plan's messages: their warm-up and `--duration`.
    messages: Messages,
    search: &'a Search,
    tls: Option<&'a TlsClient>,
    /// When the search began, for `--max-duration`.
    began: Instant,
}

impl Steps<'_> {
    /// Runs the step at `rate` until the majority of its runs agree (one
    /// run with `--step-repeats 1`), each run added to `report` and told
    /// on `err`; the error of a first step that cannot start at all.
    fn judge_rate(
        &self,
        rate: f64,
        report: &mut SearchReport,
        err: &mut dyn Write,
        live: &mut Option<&mut LiveStream>,
    ) -> Result<Decided, String> {
        let (objective, repeats) = (self.search.objective, self.search.step_repeats);
        let messages = self.messages;
        let duration = step_duration(objective, messages.duration, rate);
        if duration > messages.duration {
            let _ = writeln!(
                err,
                "step at {rate:.0}/s: measured for {:.1} s rather than --duration {:.1} s, \
                 for the {} samples {} needs",
                duration.as_secs_f64(),
                messages.duration.as_secs_f64(),
                objective.percentile.samples_needed(),
                objective.percentile.name(),
            );
        }
        let mut votes = Majority::new(repeats);
        loop {
            if self.began.elapsed() + messages.warmup + duration > self.search.max_duration {
                report.cut_short = true;
                let _ = writeln!(
                    err,
                    "search cut short: a step at {rate:.0}/s would end after --max-duration {:.0} s",
                    self.search.max_duration.as_secs_f64()
                );
                return Ok(Decided::Stop);
            }
            if let Some(live) = live.as_deref_mut() {
                live.set_step(rate);
            }
            let step_plan = self.plan.at_rate(rate, duration);
            let mut step = match run::execute(&step_plan, self.tls, err, live.as_deref_mut()) {
                Ok(threads) => judge(objective, rate, &summarize(&step_plan, threads)),
                Err(message) if report.steps.is_empty() => return Err(message),
                Err(message) => Judged::stalled(rate, duration, message),
            };
            let run = votes.record(step.step.met);
            step.step.run = Some(run);
            step.step.rate_met = votes.decided();
            let _ = writeln!(
                err,
                "step {}: {rate:.0}/s offered{}, {}/s achieved, {} {} µs: {}",
                report.steps.len() + 1,
                match repeats.runs() {
                    1 => String::new(),
                    runs => format!(" (run {run} of up to {runs})"),
                },
                step.step
                    .achieved_per_s
                    .map_or("-".into(), |a| format!("{a:.0}")),
                objective.percentile.name(),
                step.step
                    .judged_us
                    .map_or("-".into(), |us| format!("{us:.1}")),
                step.step.verdict,
            );
            report.steps.push(step.step);
            if step.stalled {
                report.stalled = true;
                return Ok(Decided::Stop);
            }
            if let Some(met) = votes.decided() {
                return Ok(Decided::Rate(met));
            }
        }
    }
}

/// The verdict of one rate, from the runs of its step so far: the rate is
/// decided as soon as a majority of the most runs it may take agree, so
/// with three runs two that agree settle it and the third is not run.
#[derive(Debug, Clone, Copy)]
struct Majority {
    repeats: StepRepeats,
    met: u32,
    failed: u32,
}

impl Majority {
    fn new(repeats: StepRepeats) -> Majority {
        Majority {
            repeats,
            met: 0,
            failed: 0,
        }
    }

    /// Counts one run's verdict; which run it was, from 1.
    fn record(&mut self, met: bool) -> u32 {
        debug_assert!(self.decided().is_none(), "a decided rate runs no more");
        if met {
            self.met += 1;
        } else {
            self.failed += 1;
        }
        self.met + self.failed
    }

    /// Whether the rate met the objective, once a majority says so either
    /// way; `None` while it is still open.
    fn decided(&self) -> Option<bool> {
        let majority = self.repeats.majority();
        if self.met >= majority {
            Some(true)
        } else if self.failed >= majority {
            Some(false)
        } else {
            None
        }
    }
}

/// How long a step at `rate` is measured: `duration`, or longer if that
/// would give `objective`'s percentile too few samples.
fn step_duration(objective: Objective, duration: Duration, rate: f64) -> Duration {
    let needed = objective.percentile.samples_needed() as f64 / rate;
    duration.max(Duration::from_secs_f64(needed.min(86_400.0)))
}

/// A step's verdict, and whether it found the server stalled.
struct Judged {
    step: SearchStep,
    stalled: bool,
}

impl Judged {
    /// A step that could not run at all (its connections failed).
    fn stalled(rate: f64, duration: Duration, why: String) -> Judged {
        Judged {
            step: SearchStep {
                offered_per_s: rate,
                run: None,
                rate_met: None,
                achieved_per_s: None,
                duration_s: duration.as_secs_f64(),
                messages: 0,
                p50_us: None,
                p99_us: None,
                p999_us: None,
                judged_us: None,
                errors: 0,
                met: false,
                verdict: format!("stalled: {why}"),
            },
            stalled: true,
        }
    }
}

/// Whether the step at `rate` that gave `outcome` met `objective`, and if
/// not, the first reason why.
fn judge(objective: Objective, rate: f64, outcome: &Outcome) -> Judged {
    let report = &outcome.report;
    let histogram = &outcome.histogram;
    let judged_us = (!histogram.is_empty())
        .then(|| histogram.value_at_quantile(objective.percentile.quantile()) as f64 / 1e3);
    let achieved = report.messages_per_s.unwrap_or(0.0);
    let broken = report.io_errors + report.eofs.unwrap_or(0) + report.mismatched_bytes;
    let bound_us = objective.bound.as_secs_f64() * 1e6;
    // The first failure, and whether it is a stall; none: met.
    let failure = if broken > 0 {
        let why = format!(
            "stalled or broken: {} I/O errors, {} unexpected ends of stream, {} mismatched bytes",
            report.io_errors,
            report.eofs.unwrap_or(0),
            report.mismatched_bytes
        );
        Some((why, true))
    } else if achieved < STALLED * rate {
        let why = format!("stalled: {achieved:.0}/s echoed of {rate:.0}/s offered");
        Some((why, true))
    } else if report.errors > 0 {
        let why = format!(
            "{} errors (lost echoes, in-flight overflows, lost datagrams or timeouts)",
            report.errors
        );
        Some((why, false))
    } else if achieved < KEPT_UP * rate {
        let why = format!(
            "fell behind: {achieved:.0}/s echoed of {rate:.0}/s offered (under {:.0}%)",
            KEPT_UP * 100.0
        );
        Some((why, false))
    } else {
        let name = objective.percentile.name();
        match judged_us {
            Some(us) if us <= bound_us => None,
            Some(us) => Some((format!("{name} {us:.1} µs over {bound_us:.1} µs"), false)),
            None => Some(("no echo measured".into(), false)),
        }
    };
    let met = failure.is_none();
    let (verdict, stalled) = failure.unwrap_or_else(|| ("met".into(), false));
    Judged {
        step: SearchStep {
            offered_per_s: rate,
            run: None,
            rate_met: None,
            achieved_per_s: report.messages_per_s,
            duration_s: report.duration_s.unwrap_or_default(),
            messages: report.messages.unwrap_or(0),
            p50_us: report.latency_p50_us,
            p99_us: report.latency_p99_us,
            p999_us: report.latency_p999_us,
            judged_us,
            errors: report.errors,
            met,
            verdict,
        },
        stalled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Percentile;

    #[test]
    fn a_step_is_long_enough_for_a_hundred_samples_beyond_its_percentile() {
        let p99 = Objective {
            percentile: Percentile::P99,
            bound: Duration::from_millis(1),
        };
        let one = Duration::from_secs(1);
        assert_eq!(step_duration(p99, one, 1_000.0), Duration::from_secs(10));
        assert_eq!(step_duration(p99, one, 20_000.0), one);
        let p50 = Objective {
            percentile: Percentile::P50,
            ..p99
        };
        assert_eq!(step_duration(p50, one, 100.0), Duration::from_secs(2));
    }

    /// The verdicts `runs` recorded one by one until the rate is decided:
    /// the runs it took, and the verdict.
    fn judged_by(repeats: u32, runs: &[bool]) -> (usize, Option<bool>) {
        let mut votes = Majority::new(StepRepeats::new(repeats).unwrap());
        for (n, &met) in runs.iter().enumerate() {
            assert_eq!(votes.record(met), n as u32 + 1);
            if let Some(verdict) = votes.decided() {
                return (n + 1, Some(verdict));
            }
        }
        (runs.len(), votes.decided())
    }

    #[test]
    fn one_run_decides_a_rate_by_itself() {
        assert_eq!(judged_by(1, &[true]), (1, Some(true)));
        assert_eq!(judged_by(1, &[false]), (1, Some(false)));
    }

    #[test]
    fn a_majority_decides_a_rate_as_soon_as_it_is_reached() {
        // Two that agree settle three: the third is never run.
        assert_eq!(judged_by(3, &[true, true, false]), (2, Some(true)));
        assert_eq!(judged_by(3, &[false, false, true]), (2, Some(false)));
        // One stall of the machine is outvoted, whichever run it hits.
        assert_eq!(judged_by(3, &[false, true, true]), (3, Some(true)));
        assert_eq!(judged_by(3, &[true, false, true]), (3, Some(true)));
        assert_eq!(judged_by(3, &[true, false, false]), (3, Some(false)));
        // Five: three of one kind, however they come.
        assert_eq!(
            judged_by(5, &[true, false, true, false, true]),
            (5, Some(true))
        );
        assert_eq!(judged_by(5, &[false, false, false]), (3, Some(false)));
        assert_eq!(judged_by(5, &[true, true, false]), (3, None));
    }

    #[test]
    fn step_repeats_are_odd() {
        assert_eq!(StepRepeats::new(1), Some(StepRepeats::ONE));
        assert_eq!(StepRepeats::new(3).map(StepRepeats::majority), Some(2));
        assert_eq!(StepRepeats::new(5).map(StepRepeats::majority), Some(3));
        assert_eq!(StepRepeats::new(2), None);
        assert_eq!(StepRepeats::new(0), None);
    }
}
