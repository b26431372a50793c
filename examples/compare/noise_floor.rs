//! The machine's own latency floor: how late a sleeping thread is woken on
//! the CPUs the capacity searches run on, with no server and no load.
//!
//! A p99 objective is judged on echoes, and an echo that comes due while
//! the server's CPU or the load generator's is held up by the machine
//! itself (the hypervisor running another guest, an interrupt, a timer
//! that fires late) waits however good the server is. If a CPU is held up
//! for `L`, the echoes that come due in its first `L - bound` wait longer
//! than the bound: so the sum of `max(0, L - bound)` over every stall,
//! divided by the time probed, is the share of echoes the machine alone
//! puts over the bound. A p99 objective allows 1 %. Where the machine
//! alone takes a tenth of that on average, or all of it in some second (a
//! search's steps last about a second), which server passes a step is
//! partly chance, and the row does not rank servers on this run.
//!
//! Each repeat of the capacity searches is preceded by a probe: one thread
//! on each CPU the searches use, each sleeping 100 µs again and again for
//! [`PROBE_SECONDS`] and recording how late it woke. The report gives the
//! shares for each objective's bound and says which rows they make
//! chance.

use std::time::{Duration, Instant};

/// How long each repeat's probe lasts.
pub const PROBE_SECONDS: f64 = 5.0;

/// What the probe sleeps each time: short, so a stall is caught within
/// about this much of its start, long enough not to spin.
const NAP: Duration = Duration::from_micros(100);

/// Machine-alone share of time over a bound, on average, past which a p99
/// row is flagged: a tenth of the 1 % p99 allows.
const MEAN_SHARE_FLAG: f64 = 0.001;

/// Machine-alone share over a bound in one second past which a p99 row is
/// flagged: all of the 1 % p99 allows.
const WORST_SECOND_FLAG: f64 = 0.01;

/// One probe thread's wake-ups: when each came due (since the probe
/// began) and how late it was.
#[derive(Clone, Debug, Default)]
pub struct Wakeups {
    /// (due, late), both in µs.
    late: Vec<(f64, f64)>,
    seconds: f64,
}

impl Wakeups {
    /// Sleeps [`NAP`] again and again for `seconds` on this thread.
    fn probe(seconds: f64) -> Wakeups {
        let began = Instant::now();
        let mut late = Vec::with_capacity((seconds * 10_000.0) as usize);
        loop {
            let asleep = Instant::now();
            if (asleep - began).as_secs_f64() >= seconds {
                break;
            }
            std::thread::sleep(NAP);
            let woke = asleep.elapsed().saturating_sub(NAP);
            let due = (asleep - began).as_secs_f64() * 1e6 + NAP.as_secs_f64() * 1e6;
            late.push((due, woke.as_secs_f64() * 1e6));
        }
        Wakeups {
            late,
            seconds: began.elapsed().as_secs_f64(),
        }
    }

    /// The share of the probed time in which an echo would wait more than
    /// `bound_us` for this CPU: the whole run's, and the worst second's.
    fn share_over(&self, bound_us: f64) -> (f64, f64) {
        let whole_seconds = (self.seconds.floor() as usize).max(1);
        let mut per_second = vec![0.0; whole_seconds];
        for &(due, late) in &self.late {
            let over = (late - bound_us).max(0.0);
            let second = ((due / 1e6) as usize).min(whole_seconds - 1);
            per_second[second] += over;
        }
        let total: f64 = per_second.iter().sum();
        let worst = per_second.iter().copied().fold(0.0, f64::max);
        (total / (self.seconds * 1e6), worst / 1e6)
    }

    /// The largest lateness, µs.
    fn max_late(&self) -> f64 {
        self.late.iter().map(|&(_, late)| late).fold(0.0, f64::max)
    }

    /// The lateness at `quantile` (0.999: p99.9), µs.
    fn quantile(&self, quantile: f64) -> f64 {
        let mut late: Vec<f64> = self.late.iter().map(|&(_, late)| late).collect();
        if late.is_empty() {
            return 0.0;
        }
        late.sort_by(f64::total_cmp);
        late[((late.len() - 1) as f64 * quantile).round() as usize]
    }
}

/// One repeat's probe: a [`Wakeups`] per CPU probed.
pub struct Floor {
    /// The CPU each probe ran on (`None`: wherever the scheduler put it).
    cpus: Vec<(Option<u32>, Wakeups)>,
}

impl Floor {
    /// Probes the given CPUs at once, for [`PROBE_SECONDS`]; with none
    /// given, one thread wherever the scheduler puts it.
    pub fn measure(cpus: &[u32]) -> Floor {
        let targets: Vec<Option<u32>> = if cpus.is_empty() {
            vec![None]
        } else {
            cpus.iter().copied().map(Some).collect()
        };
        let probes: Vec<_> = targets
            .into_iter()
            .map(|cpu| {
                std::thread::spawn(move || {
                    if let Some(cpu) = cpu {
                        pin_this_thread(cpu);
                    }
                    (cpu, Wakeups::probe(PROBE_SECONDS))
                })
            })
            .collect();
        Floor {
            cpus: probes
                .into_iter()
                .filter_map(|probe| probe.join().ok())
                .collect(),
        }
    }

    /// The share over `bound_ms` that an echo meets, on average and in the
    /// worst second: a stall on either CPU delays it, so the CPUs' shares
    /// add up (stalls are rare enough that they seldom overlap).
    fn share_over(&self, bound_ms: u32) -> (f64, f64) {
        let bound_us = f64::from(bound_ms) * 1000.0;
        self.cpus
            .iter()
            .map(|(_, wakeups)| wakeups.share_over(bound_us))
            .fold((0.0, 0.0), |(mean, worst), (m, w)| (mean + m, worst + w))
    }

    /// Whether the machine alone makes a p99 objective with this bound
    /// chance (see the module doc).
    pub fn makes_chance(&self, bound_ms: u32) -> bool {
        let (mean, worst) = self.share_over(bound_ms);
        mean >= MEAN_SHARE_FLAG || worst >= WORST_SECOND_FLAG
    }

    /// One line for the report, with the shares over each of `bounds_ms`.
    pub fn describe(&self, repeat: u32, bounds_ms: &[u32]) -> String {
        let on: Vec<String> = self
            .cpus
            .iter()
            .map(|(cpu, wakeups)| {
                format!(
                    "{}: p99.9 {:.0} µs, max {:.0} µs",
                    cpu.map_or("unpinned".to_string(), |cpu| format!("CPU {cpu}")),
                    wakeups.quantile(0.999),
                    wakeups.max_late()
                )
            })
            .collect();
        let shares: Vec<String> = bounds_ms
            .iter()
            .map(|&bound_ms| {
                let (mean, worst) = self.share_over(bound_ms);
                format!(
                    "over {bound_ms} ms {:.3} % of the time (worst second {:.3} %){}",
                    mean * 100.0,
                    worst * 100.0,
                    if self.makes_chance(bound_ms) {
                        ": p99 rows at this bound are chance on this run"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        format!(
            "Machine noise floor before capacity repeat {repeat} ({PROBE_SECONDS} s of \
             100 µs sleeps, no load): wake-ups late {}; {}.",
            shares.join(", "),
            on.join("; ")
        )
    }
}

/// Pins the calling thread to `cpu`; a failure leaves it where it is (the
/// report says which CPU was asked for, and an unpinned probe still
/// measures the machine).
fn pin_this_thread(cpu: u32) {
    // SAFETY: cpu_set_t is plain data, zeroed is the empty set; CPU_SET
    // writes inside it for any cpu below CPU_SETSIZE, which the check
    // ensures; sched_setaffinity(0, ..) reads the set for this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if (cpu as usize) < libc::CPU_SETSIZE as usize {
            libc::CPU_SET(cpu as usize, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wakeups(late: &[(f64, f64)], seconds: f64) -> Wakeups {
        Wakeups {
            late: late.to_vec(),
            seconds,
        }
    }

    #[test]
    fn a_stall_puts_what_it_lasts_beyond_the_bound_over_it() {
        // 2 s probed; one 4 ms stall in the first second, one 1.5 ms in
        // the second, the rest on time.
        let probe = wakeups(
            &[(100.0, 5.0), (500_000.0, 4_000.0), (1_200_000.0, 1_500.0)],
            2.0,
        );
        let (mean, worst) = probe.share_over(1_000.0);
        // (3 ms + 0.5 ms) over 2 s; the worst second holds 3 ms.
        assert!((mean - 0.00175).abs() < 1e-12, "{mean}");
        assert!((worst - 0.003).abs() < 1e-12, "{worst}");
        assert_eq!(probe.share_over(10_000.0), (0.0, 0.0));
        assert_eq!(probe.max_late(), 4_000.0);
    }

    #[test]
    fn the_cpus_shares_add_up_and_decide_the_flag() {
        let quiet = wakeups(&[(10.0, 50.0), (20.0, 80.0)], 5.0);
        let one_stall = wakeups(&[(3_000_000.0, 1_000.0 + 6_000.0)], 5.0);
        let floor = Floor {
            cpus: vec![(Some(1), quiet.clone()), (Some(0), one_stall)],
        };
        // 6 ms over 1 ms in 5 s: 0.12 % on average, 0.6 % in its second.
        let (mean, worst) = floor.share_over(1);
        assert!((mean - 0.0012).abs() < 1e-12, "{mean}");
        assert!((worst - 0.006).abs() < 1e-12, "{worst}");
        assert!(floor.makes_chance(1));
        assert!(!floor.makes_chance(10));
        let calm = Floor {
            cpus: vec![(Some(1), quiet)],
        };
        assert!(!calm.makes_chance(1));
    }

    #[test]
    fn the_report_line_names_each_bound_and_the_ones_made_chance() {
        let stalled = wakeups(&[(500_000.0, 3_000.0)], 1.0);
        let floor = Floor {
            cpus: vec![(Some(1), stalled)],
        };
        let line = floor.describe(2, &[1, 10]);
        assert!(line.contains("repeat 2"), "{line}");
        // 2 ms over 1 ms in 1 s: 0.2 %, all in one second.
        assert!(
            line.contains("over 1 ms 0.200 % of the time (worst second 0.200 %): p99 rows"),
            "{line}"
        );
        assert!(
            line.contains("over 10 ms 0.000 % of the time (worst second 0.000 %);"),
            "{line}"
        );
        assert!(line.contains("CPU 1: p99.9 3000 µs, max 3000 µs"), "{line}");
    }

    #[test]
    fn a_real_probe_records_every_nap() {
        let probe = Wakeups::probe(0.05);
        // Each nap lasts at least 100 µs: at most 500 in 50 ms, and a
        // machine that wakes a sleeper within 50 ms records at least one.
        assert!(
            (1..=500).contains(&probe.late.len()),
            "{}",
            probe.late.len()
        );
        assert!(probe.late.iter().all(|&(_, late)| late >= 0.0));
        assert!(probe.seconds >= 0.05);
    }
}
