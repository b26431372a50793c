//! `--stats-interval`: the binary logs its counters, with rates, on a
//! schedule; the numbers in each line are the server's real counters and
//! the rates are the change since the line before divided by the time
//! since it; with several reactors, the lines (and SIGUSR1's) add up all
//! of them.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

/// What one `--stats-interval` line says.
#[derive(Debug, Clone, Copy, PartialEq)]
struct IntervalLine {
    accepted: u64,
    active: u64,
    bytes_in: u64,
    bytes_out: u64,
    /// "last S s": the time since the line before, to a tenth of a second.
    seconds: f64,
    connections_per_second: f64,
    in_per_second: f64,
    out_per_second: f64,
}

impl IntervalLine {
    fn parse(line: &str) -> IntervalLine {
        let (_, rates) = line
            .split_once("; last ")
            .unwrap_or_else(|| panic!("no rates in {line:?}"));
        // "0.2 s: 5.0 connections/s, 65 B/s in, 65 B/s out"
        let number = |before: &str| -> f64 {
            let end = rates
                .find(before)
                .unwrap_or_else(|| panic!("no {before:?} in {line:?}"));
            let start = rates[..end].trim_end().rfind(' ').map_or(0, |i| i + 1);
            rates[start..end]
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("no number before {before:?} in {line:?}"))
        };
        IntervalLine {
            accepted: logged_count(line, "accepted"),
            active: logged_count(line, "active"),
            bytes_in: logged_count(line, "in"),
            bytes_out: logged_count(line, "out"),
            seconds: number(" s:"),
            connections_per_second: number(" connections/s"),
            in_per_second: number(" B/s in"),
            out_per_second: number(" B/s out"),
        }
    }

    /// Checks this line's rates against the counters of the line before
    /// (`previous`, or all zeros for the first line): each rate is the
    /// change divided by the interval, allowing only for the rounding of
    /// the printed figures (a tenth of a second for the interval, a tenth
    /// of a connection and one byte per second for the rates).
    fn assert_rates_since(&self, previous: &IntervalLine, line: &str) {
        let check = |rate: f64, delta: u64, rounding: f64, name: &str| {
            let delta = delta as f64;
            let lowest = delta / (self.seconds + 0.05) - rounding;
            // A printed 0.0 s means under 0.05 s: no upper bound.
            let highest = if self.seconds > 0.05 {
                delta / (self.seconds - 0.05) + rounding
            } else {
                f64::INFINITY
            };
            assert!(
                (lowest..=highest).contains(&rate),
                "{name} rate {rate} is not {delta} in about {} s: {line}",
                self.seconds
            );
        };
        check(
            self.connections_per_second,
            self.accepted - previous.accepted,
            0.05,
            "connection",
        );
        check(
            self.in_per_second,
            self.bytes_in - previous.bytes_in,
            0.5,
            "bytes in",
        );
        check(
            self.out_per_second,
            self.bytes_out - previous.bytes_out,
            0.5,
            "bytes out",
        );
    }
}

const NOTHING_YET: IntervalLine = IntervalLine {
    accepted: 0,
    active: 0,
    bytes_in: 0,
    bytes_out: 0,
    seconds: 0.0,
    connections_per_second: 0.0,
    in_per_second: 0.0,
    out_per_second: 0.0,
};

/// The next `--stats-interval` line, with when it was read.
fn next_interval_line(server: &mut Binary) -> (Instant, String) {
    server.wait_for_log_where("a --stats-interval line", |line| {
        line.contains("connections/s")
    })
}

#[test]
fn with_a_stats_interval_the_binary_logs_counters_and_rates_on_schedule() {
    const LINES_AFTER_THE_FIRST: u32 = 10;
    let interval = Duration::from_millis(200);
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--stats-interval", "0.2"]);

    let (first_at, first) = next_interval_line(&mut server);
    let mut previous = IntervalLine::parse(&first);
    assert_eq!(
        previous,
        IntervalLine {
            seconds: previous.seconds,
            ..NOTHING_YET
        },
        "{first}"
    );
    previous.assert_rates_since(&NOTHING_YET, &first);

    // Traffic between two lines: one of the next ones counts it.
    let mut client = connect(server.addr());
    echo_once(&mut client, b"counted bytes");

    let mut last_at = first_at;
    for _ in 0..LINES_AFTER_THE_FIRST {
        let (at, line) = next_interval_line(&mut server);
        let current = IntervalLine::parse(&line);
        current.assert_rates_since(&previous, &line);
        previous = current;
        last_at = at;
    }
    let (accepted, active, bytes) = (previous.accepted, previous.active, previous.bytes_in);
    assert_eq!((accepted, active, bytes), (1, 1, 13), "{previous:?}");
    assert_eq!(previous.bytes_out, 13, "{previous:?}");

    // Lines are due one interval after the one before was due, so ten
    // intervals span two seconds, give or take how late the first and the
    // last were written and read: lines twice as frequent, or half as,
    // fall outside.
    let span = last_at - first_at;
    let nominal = interval * LINES_AFTER_THE_FIRST;
    assert!(
        span >= nominal * 3 / 4 && span <= nominal * 2,
        "{LINES_AFTER_THE_FIRST} intervals of {interval:?} took {span:?}"
    );
}

#[test]
fn with_two_reactors_the_interval_lines_and_sigusr1_add_up_both() {
    const CLIENTS: usize = 40;
    let mut server = Binary::start(&[
        "--listen",
        "127.0.0.1:0",
        "--reactors",
        "2",
        "--stats-interval",
        "0.2",
    ]);
    server.wait_until_logged("2 reactors share each address");
    // Each connection is hashed to a reactor by its ports: all 40 on one
    // reactor would have odds of 2^-39, so a line that counted only one
    // reactor would fall short.
    let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| connect(server.addr())).collect();
    let mut total = 0u64;
    for (i, client) in clients.iter_mut().enumerate() {
        let message = format!("client {i:02}");
        echo_once(client, message.as_bytes());
        total += message.len() as u64;
    }

    let (_, line) = server.wait_for_log_where("an interval line counting every client", |line| {
        line.contains("connections/s") && logged_count(line, "accepted") == CLIENTS as u64
    });
    let summed = IntervalLine::parse(&line);
    assert_eq!(summed.active, CLIENTS as u64, "{line}");
    assert_eq!(
        (summed.bytes_in, summed.bytes_out),
        (total, total),
        "{line}"
    );

    let line = server.stats_line();
    assert_eq!(logged_count(&line, "accepted"), CLIENTS as u64, "{line}");
    assert_eq!(logged_count(&line, "active"), CLIENTS as u64, "{line}");
    assert_eq!(logged_count(&line, "in"), total, "{line}");
    assert_eq!(logged_count(&line, "out"), total, "{line}");

    drop(clients);
    server.signal("TERM");
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log_text());
    server.wait_until_logged("all 2 reactors shut down");
}

#[test]
fn a_zero_stats_interval_is_refused_with_one_line() {
    let output = run_within_patience(Command::new(BINARY).args([
        "--listen",
        "127.0.0.1:0",
        "--stats-interval",
        "0",
    ]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--stats-interval"), "{stderr}");
}
