//! A load run's latencies as an HdrHistogram interval log, and back.
//!
//! One machine may not be enough to load a server: several run
//! `echo-loadgen` at once, each with `--histogram-log`, and
//! `echo-loadgen merge` adds their logs up into one report. Percentiles do
//! not add up (the mean of two p99s is no p99 of anything), histograms do:
//! so each run writes its whole latency histogram, and the merge takes the
//! percentiles of their sum.
//!
//! The log is HdrHistogram's standard interval log (format 1.3: the V2
//! histogram encoding, deflated, in base64), which HdrHistogram's own tools
//! read (`HistogramLogProcessor`, the plotters): latencies in nanoseconds,
//! one interval for the run's measured window, timed from the run's start
//! (`#[StartTime: ]` and `#[BaseTime: ]`, both the run's start in seconds
//! since the epoch). What the merge needs besides latencies (messages,
//! errors, duration, mode...) is the run's [`LoadReport`], as JSON on a
//! comment line of its own, last in the file:
//!
//! ```text
//! #[Histogram log format version 1.3]
//! #[echo-loadgen: latencies in nanoseconds, the max column in microseconds; its report last]
//! #[StartTime: 1767225600.000 (seconds since epoch)]
//! #[BaseTime: 1767225600.000 (seconds since epoch)]
//! #[MaxValueDivisor: 1000.000]
//! 1.000,10.000,812.031,HISTFAAAAEF4nJNpmSzMwMDAxQABzFCaEUzOmNZg...
//! #[echo-loadgen] {"mode":"pingpong","target":"127.0.0.1:65432",...}
//! ```
//!
//! Comment lines are skipped by every reader of the format, so the report
//! costs them nothing. Being last, it also tells a whole log from one cut
//! short: [`read`] refuses a log without it, and one whose histogram does
//! not hold exactly the report's `messages` latencies.

use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, LogIteratorError,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use super::report::LoadReport;

/// How the comment line holding the run's report starts.
pub const REPORT_PREFIX: &str = "#[echo-loadgen] ";

/// The run's latency histogram is in nanoseconds; the interval's max column
/// (for people reading the log) in microseconds, like the report's.
const MAX_VALUE_DIVISOR: f64 = 1e3;

/// One run, as its log holds it.
#[derive(Debug, Clone)]
pub struct RunLog {
    /// The run's report, as `--json` printed it.
    pub report: LoadReport,
    /// Every latency the run measured, in nanoseconds.
    pub histogram: Histogram<u64>,
}

/// Writes the log of a run that started at `started`, measured `histogram`
/// (nanoseconds) and reported `report`: the histogram as one interval for
/// the measured window (from `warmup_s` after the start, for
/// `duration_s`), then the report.
pub fn write(
    out: &mut impl Write,
    report: &LoadReport,
    histogram: &Histogram<u64>,
    started: SystemTime,
) -> io::Result<()> {
    let seconds = |value: Option<f64>| {
        Duration::try_from_secs_f64(value.unwrap_or(0.0)).unwrap_or(Duration::ZERO)
    };
    let json = serde_json::to_string(report).map_err(io::Error::other)?;
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("[Histogram log format version 1.3]")
        .add_comment(
            "[echo-loadgen: latencies in nanoseconds, the max column in microseconds; \
             its report last]",
        )
        .with_start_time(started)
        .with_base_time(started)
        .with_max_value_divisor(MAX_VALUE_DIVISOR)
        .begin_log_with(out, &mut serializer)?;
    log.write_histogram(
        histogram,
        seconds(report.warmup_s),
        seconds(report.duration_s),
        None,
    )
    .map_err(|e| io::Error::other(e.to_string()))?;
    // `write_comment` adds the leading '#'.
    log.write_comment(&format!("{}{json}", &REPORT_PREFIX[1..]))
}

/// Reads a log [`write()`] wrote: its report, and the sum of its interval
/// histograms. A log cut short, damaged, or not written by `echo-loadgen
/// --histogram-log` is refused with one line saying what is wrong.
pub fn read(log: &[u8]) -> Result<RunLog, String> {
    let text = std::str::from_utf8(log)
        .map_err(|_| "not an interval log: not text (ASCII)".to_string())?;
    let mut reports = text
        .lines()
        .filter_map(|line| line.strip_prefix(REPORT_PREFIX));
    let report = reports.next().ok_or(
        "no report line (#[echo-loadgen] {...}): cut short, or not written by \
         echo-loadgen --histogram-log",
    )?;
    if reports.next().is_some() {
        return Err("more than one report line: several logs in one file?".into());
    }
    let report: LoadReport = serde_json::from_str(report)
        .map_err(|e| format!("the report line is cut short or damaged: {e}"))?;

    let mut histogram: Option<Histogram<u64>> = None;
    let mut deserializer = Deserializer::new();
    for (n, entry) in IntervalLogIterator::new(log).enumerate() {
        let interval = match entry {
            Ok(LogEntry::Interval(interval)) => interval,
            Ok(LogEntry::StartTime(_) | LogEntry::BaseTime(_)) => continue,
            Err(LogIteratorError::ParseError { offset }) => {
                return Err(format!("unreadable from byte {offset} on"));
            }
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| format!("entry {}: its histogram is not base64: {e}", n + 1))?;
        let one: Histogram<u64> = deserializer
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("entry {}: its histogram is damaged: {e}", n + 1))?;
        match &mut histogram {
            None => histogram = Some(one),
            Some(sum) => sum
                .add(&one)
                .map_err(|e| format!("entry {}: its histogram does not fit: {e:?}", n + 1))?,
        }
    }
    let histogram = histogram.ok_or("no interval histogram: cut short?")?;
    if let Some(messages) = report.messages.filter(|&m| m != histogram.len()) {
        return Err(format!(
            "its histogram holds {} latencies but its report counts {messages} messages",
            histogram.len()
        ));
    }
    Ok(RunLog { report, histogram })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(latencies: &[u64]) -> RunLog {
        let mut histogram = Histogram::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for &nanos in latencies {
            histogram.record(nanos).unwrap();
        }
        let report = r#"{"mode":"pingpong","target":"127.0.0.1:7","connections":1,"size":64,
            "depth":1,"threads":1,"rate":null,"warmup_s":1.0,"duration_s":2.0,"messages":3,
            "messages_per_s":1.5,"bytes":192,"mb_per_s":null,"gb_per_s":null,
            "latency_p50_us":null,"latency_p99_us":null,"latency_p999_us":null,
            "latency_max_us":null,"latency_mean_us":null,"errors":0,"mismatched_chunks":0,
            "mismatched_bytes":0,"io_errors":0,"eofs":0,"lost_connections":0,"lost_bytes":0,
            "overflows":0,"udp_timeout_ms":null,"datagrams_sent":null,"lost_datagrams":null,
            "late_datagrams":null,"mismatched_datagrams":null,"duplicated_datagrams":null,
            "reordered_datagrams":null}"#;
        RunLog {
            report: serde_json::from_str(report).unwrap(),
            histogram,
        }
    }

    fn written(run: &RunLog) -> Vec<u8> {
        let mut log = Vec::new();
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        write(&mut log, &run.report, &run.histogram, started).unwrap();
        log
    }

    #[test]
    fn a_log_reads_back_as_written() {
        let original = run(&[1_000, 20_000, 300_000]);
        let log = written(&original);
        let text = String::from_utf8(log.clone()).unwrap();
        assert!(
            text.starts_with("#[Histogram log format version 1.3]\n"),
            "{text}"
        );
        assert!(text.contains("#[StartTime: 1000.000 (seconds since epoch)]\n"));
        // The measured window: after the second of warm-up, two seconds.
        assert!(text.contains("\n1.000,2.000,300.031,HISTF"), "{text}");
        assert!(text.ends_with("}\n") && text.lines().last().unwrap().starts_with(REPORT_PREFIX));
        let back = read(&log).unwrap();
        assert_eq!(back.report, original.report);
        assert_eq!(back.histogram, original.histogram);
    }

    #[test]
    fn a_log_cut_short_or_damaged_is_refused() {
        let log = written(&run(&[1_000, 20_000, 300_000]));
        for cut in [0, 40, log.len() / 2, log.len() - 3] {
            let error = read(&log[..cut]).unwrap_err();
            assert!(!error.contains('\n'), "{error}");
        }
        let interval = log.windows(5).position(|w| w == b"HISTF").unwrap();
        let mut damaged = log.clone();
        damaged[interval + 20..interval + 24].copy_from_slice(b"!!!!");
        assert!(read(&damaged).unwrap_err().contains("base64"));
        let mut damaged = log.clone();
        damaged[interval + 30] = if log[interval + 30] == b'A' {
            b'B'
        } else {
            b'A'
        };
        assert!(read(&damaged).is_err(), "a changed byte of the histogram");
        let miscounted = written(&run(&[1_000, 20_000]));
        assert!(read(&miscounted).unwrap_err().contains("counts 3 messages"));
        assert!(read(b"hello\n").unwrap_err().contains("no report line"));
    }
}
